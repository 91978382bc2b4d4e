/*
 * SPC tokens (ATIS-1000080, RFC 9447 and RFC 9448): ES256 JWTs that a
 * policy administrator signs to tell a CA which service provider code an
 * ACME account may obtain a certificate for.
 */
#ifndef STI_SPC_H
#define STI_SPC_H

#include "cert.h"
#include "common.h"
#include "key.h"
#include "tnauth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_spc_token_request {
    const char *x5u;                 /* URL of the PA certificate */
    const struct sti_tnauth *tnauth; /* usually one SPC entry */
    const char *fingerprint;         /* "SHA256 AB:CD:..." of the account */
    int ca;                          /* 1: the holder may run an SCA */
    time_t exp;                      /* expiry, seconds since the epoch */
    const char *jti;                 /* NULL: a random UUID */
};

/*
 * Signs an SPC token: header {"alg":"ES256","typ":"JWT","x5u":..} and
 * payload {"atc":{"ca","fingerprint","tktype":"TNAuthList","tkvalue"},
 * "exp","jti"} in canonical JSON.  KEY is the PA's private key.
 */
STI_API int sti_spc_token_create(const struct sti_spc_token_request *req,
                                 const struct sti_key *key, char **token,
                                 struct sti_error *err);

/* The claims of a parsed SPC token; strings are owned by the struct. */
struct sti_spc_token {
    char *x5u;
    char *jti;
    time_t exp;
    time_t nbf;                /* 0 when the token has no nbf */
    char *tktype;              /* "TNAuthList" */
    char *tkvalue;             /* base64 DER TNAuthList, as received */
    struct sti_tnauth *tnauth; /* tkvalue decoded */
    int ca;
    char *fingerprint;
};

/*
 * Parses a token without checking its signature or expiry: the shape of
 * the header, exp, jti and atc.  STI_ERR_INVALID names the bad member.
 */
STI_API int sti_spc_token_parse(const char *token, struct sti_spc_token **out,
                                struct sti_error *err);
STI_API void sti_spc_token_free(struct sti_spc_token *token);

struct sti_spc_verify_options {
    const struct sti_cert *const *pa_certs; /* trusted PA certificates */
    size_t pa_cert_count;                   /* at least one */
    const char *x5u; /* non-NULL: the header x5u must equal it */
    const struct sti_key *account_key; /* non-NULL: fingerprint must match */
    const char *tkvalue; /* non-NULL: must hold the same TNAuthList */
    int ca;              /* -1: any; 0 or 1: atc.ca must equal it */
    time_t now;          /* 0 means the current time */
    long skew;           /* seconds of clock skew allowed on exp */
};

/*
 * Verifies a token: the shape (as sti_spc_token_parse()), the ES256
 * signature by one of the trusted PA certificates (valid at NOW), exp and
 * nbf, and the expected values that OPTIONS names.  Returns STI_OK and the
 * claims in *OUT (when OUT is non-NULL); STI_ERR_INVALID for a malformed token,
 * STI_ERR_CRYPTO when no trusted PA key signed it, STI_ERR_POLICY for an
 * expired token or a value other than the one expected.
 */
STI_API int sti_spc_token_verify(const char *token,
                                 const struct sti_spc_verify_options *options,
                                 struct sti_spc_token **out,
                                 struct sti_error *err);

/*
 * Checks a fingerprint against an account key.  Accepted forms: "SHA256 "
 * and the SHA-256 of the key's SPKI DER as hex bytes with colons (the form
 * deployed clients send), "SHA256 " and the RFC 7638 thumbprint bytes in
 * the same form, or the base64url RFC 7638 thumbprint alone.  Hex case is
 * ignored.  Returns STI_OK, STI_ERR_POLICY on a mismatch, STI_ERR_INVALID
 * when FINGERPRINT has none of those forms.
 */
STI_API int sti_spc_fingerprint_check(const char *fingerprint,
                                      const struct sti_key *account_key,
                                      struct sti_error *err);

/* Checks only the form of a fingerprint ("SHA256 " and 32 hex bytes with
 * colons, or a base64url thumbprint of 32 bytes). */
STI_API int sti_spc_fingerprint_valid(const char *fingerprint,
                                      struct sti_error *err);
/* Writes FINGERPRINT in its canonical form to OUT: "SHA256 " and 32
 * uppercase hex bytes with colons, the form ATIS-1000080 uses, from any
 * case and with or without colons.  A
 * base64url thumbprint is copied unchanged.  STI_ERR_INVALID as
 * sti_spc_fingerprint_valid(). */
STI_API int sti_spc_fingerprint_normalize(const char *fingerprint,
                                          char out[STI_FINGERPRINT_LEN],
                                          struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
