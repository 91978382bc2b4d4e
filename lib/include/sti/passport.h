/*
 * PASSporT claims (RFC 8225), SHAKEN (RFC 8588), div (RFC 8946) and rcd
 * (RFC 9795) extensions, telephone number canonicalisation, and the SIP
 * Identity header (RFC 8224 section 4).
 */
#ifndef STI_PASSPORT_H
#define STI_PASSPORT_H

#include "common.h"
#include "key.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest canonical telephone number: E.164 allows 15 digits, and French
 * destinations can carry a 16-digit portability-prefixed number. */
#define STI_TN_MAX 32

/*
 * Canonicalises a telephone number (RFC 8224 section 8.3): drops a
 * leading '+' and the visual separators " -.()", keeps digits, '#' and
 * '*'.  PROFILE "us" (NULL means "us") prefixes a 10-digit NANP number
 * with 1 and allows at most 15 characters; "fr" turns a national number
 * "0XXXXXXXXX" into "33XXXXXXXXX" and allows 16.  OUT gets the result.
 */
STI_API int sti_tn_canonicalize(const char *profile, const char *tn,
                                char out[STI_TN_MAX + 1],
                                struct sti_error *err);

/*
 * The claims and header fields of one PASSporT.  As signing input the
 * caller owns every pointer; from sti_passport_claims() they are borrowed
 * from the parsed PASSporT.
 */
struct sti_passport_claims {
    const char *ppt;     /* "shaken", "div", or NULL for a plain one */
    const char *x5u;     /* header x5u, the certificate chain URL */
    const char *attest;  /* "A", "B" or "C"; SHAKEN only */
    const char *orig_tn; /* exactly one of orig_tn and orig_uri */
    const char *orig_uri;
    const char *const *dest_tn; /* dest.tn array */
    size_t dest_tn_count;
    const char *const *dest_uri; /* dest.uri array */
    size_t dest_uri_count;
    int64_t iat;        /* seconds since the epoch; 0 signs with now */
    const char *origid; /* SHAKEN; NULL signs with a random UUID */
    const char *div_tn; /* div PASSporT: the pre-diversion destination */
    const char *div_uri;
    /* Further claims as a JSON object text, such as {"rcd":{"nam":"Bob"}}
     * or "crn" and "rcdi"; passed through unchanged.  NULL when none. */
    const char *extra_json;
};

/*
 * Builds and signs a PASSporT with ES256 and returns its compact JWS.
 * The claims are checked first (SHAKEN needs attest, orig, dest; div
 * needs div; TN claims must already be canonical) and serialised as
 * canonical JSON.
 */
STI_API int sti_passport_sign(const struct sti_passport_claims *claims,
                              const struct sti_key *key, char **jws,
                              struct sti_error *err);

/*
 * Checks that X5U is an absolute http or https URL without spaces,
 * control characters, non-ASCII bytes, '<', '>' or '"', so that it fits
 * the Identity header's info parameter.  Signing applies the same check.
 */
STI_API int sti_passport_check_x5u(const char *x5u, struct sti_error *err);

/*
 * A signer for many PASSporTs under one key, x5u and ppt: the header is
 * encoded once.  Thread-safe: several threads may sign with one signer.
 */
struct sti_signer;
STI_API int sti_signer_new(const struct sti_key *key, const char *x5u,
                           const char *ppt, struct sti_signer **out,
                           struct sti_error *err);
STI_API void sti_signer_free(struct sti_signer *signer);
/* Signs CLAIMS (whose x5u and ppt are ignored) into a compact JWS. */
STI_API int sti_signer_sign(const struct sti_signer *signer,
                            const struct sti_passport_claims *claims,
                            char **jws, struct sti_error *err);
/* Signs and formats a whole Identity header value in one step. */
STI_API int sti_signer_sign_identity(const struct sti_signer *signer,
                                     const struct sti_passport_claims *claims,
                                     int compact, char **identity,
                                     struct sti_error *err);

/*
 * A parsed PASSporT.  sti_passport_parse() accepts a full compact JWS and
 * checks the PASSporT rules: ES256 only, typ "passport", x5u present,
 * integer iat, orig with one of tn or uri, dest.tn and dest.uri arrays of
 * strings, and for SHAKEN an attest of A, B or C and an origid.  The
 * signature is not verified here (see sti_passport_verify()).
 */
struct sti_passport;
STI_API int sti_passport_parse(const char *jws, size_t len,
                               struct sti_passport **out,
                               struct sti_error *err);
STI_API void sti_passport_free(struct sti_passport *passport);
STI_API const struct sti_passport_claims *
sti_passport_claims(const struct sti_passport *passport);
/* Checks the ES256 signature over the signing input as received. */
STI_API int sti_passport_verify(const struct sti_passport *passport,
                                const struct sti_key *key,
                                struct sti_error *err);
/* Decoded header and payload JSON texts (owned by PASSPORT). */
STI_API const char *sti_passport_header_json(const struct sti_passport *p);
STI_API const char *sti_passport_payload_json(const struct sti_passport *p);

/*
 * Identity header values (RFC 8224 section 4.1):
 * "<jws>;info=<x5u>;alg=ES256;ppt=shaken".  The compact form replaces
 * header and payload by empty strings ("..sig"), so that the verifier
 * rebuilds them from the SIP message (RFC 8224 section 7).
 */
STI_API int sti_identity_format(const char *jws, const char *info,
                                const char *ppt, int compact, char **value,
                                struct sti_error *err);

/*
 * One parsed Identity header value, read the way real traffic sends it:
 * parameter names in any case and order, blanks around ';' and '=',
 * quoted values ("shaken"), folded lines.  A missing alg means ES256.
 * Unknown parameters are ignored.
 */
struct sti_identity;
STI_API int sti_identity_parse(const char *value, size_t len,
                               struct sti_identity **out,
                               struct sti_error *err);
STI_API void sti_identity_free(struct sti_identity *id);
/* The JWS as received, "..sig" for the compact form. */
STI_API const char *sti_identity_jws(const struct sti_identity *id);
STI_API int sti_identity_is_compact(const struct sti_identity *id);
/* The info URL without its angle brackets, or NULL when absent. */
STI_API const char *sti_identity_info(const struct sti_identity *id);
/* The alg parameter ("ES256" when absent) and ppt (NULL when absent). */
STI_API const char *sti_identity_alg(const struct sti_identity *id);
STI_API const char *sti_identity_ppt(const struct sti_identity *id);

/*
 * Describes an Identity header value as JSON: {"identity", "jws", "info",
 * "alg", "ppt", "compact"} and, for the full form, the decoded "header"
 * and "payload" objects.  Nothing is verified.
 */
STI_API int sti_identity_to_json(const char *value, char **json,
                                 struct sti_error *err);

/*
 * Splits a header field value that carries several Identity values joined
 * by commas (RFC 3261 section 7.3.1) and unfolds continuation lines.
 * Commas inside <...> or quotes do not split.  *VALUES is a NULL-ended
 * array freed with sti_identity_split_free().
 */
STI_API int sti_identity_split(const char *field, size_t len, char ***values,
                               size_t *count, struct sti_error *err);
STI_API void sti_identity_split_free(char **values);

#ifdef __cplusplus
}
#endif
#endif
