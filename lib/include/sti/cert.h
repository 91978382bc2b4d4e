/*
 * SHAKEN certificates: profile-driven issuance, accessors, chains and
 * path validation.
 */
#ifndef STI_CERT_H
#define STI_CERT_H

#include "common.h"
#include "key.h"
#include "tnauth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_cert;  /* one X.509 certificate */
struct sti_chain; /* an ordered list of certificates, leaf first */
struct sti_crl;

enum sti_cert_kind {
    STI_CERT_PA_ROOT = 1,     /* the policy administrator's own cert */
    STI_CERT_CA_ROOT,         /* STI-CA trust anchor */
    STI_CERT_CA_INTERMEDIATE, /* STI-CA issuing CA */
    STI_CERT_SP,              /* end entity with exactly one SPC */
    STI_CERT_SCA,             /* subordinate CA for delegation */
    STI_CERT_DELEGATE         /* end entity with TNs or ranges */
};

/* Returns "pa-root", "ca-root", "ca-intermediate", "sp", "sca", "delegate". */
STI_API const char *sti_cert_kind_name(int kind);
STI_API int sti_cert_kind_from_name(const char *name);

/*
 * A certificate policy profile: "us" (ATIS-1000080, CP 1.4 OID by default)
 * or "fr" (the French MAN policy, end entities at most one year).
 */
struct sti_profile {
    const char *name;
    const char *policy_oid; /* default certificatePolicies OID */
    const char *country;    /* default subject C */
    int ee_max_days;        /* longest end-entity validity */
    int ee_default_days;
    int ca_default_days;
    int root_default_days;
};
/* Returns the named profile, or NULL when NAME is unknown. */
STI_API const struct sti_profile *sti_profile_get(const char *name);

struct sti_cert_request {
    int kind;                 /* enum sti_cert_kind */
    const char *profile;      /* NULL means "us" */
    const char *common_name;  /* NULL derives one, e.g. "SHAKEN 1234" */
    const char *organization; /* required */
    const char *country;      /* NULL takes the profile's */
    const char *policy_oid;   /* NULL takes the profile's */
    const struct sti_key *subject_key; /* public key is enough */
    const struct sti_tnauth *tnauth;   /* SP, SCA and delegate only */
    const char *crl_url; /* cRLDistributionPoints URL (not roots) */
    /* cRLIssuer DN, usually the PA; NULL omits cRLIssuer, which means the
     * certificate's issuer signs its CRL (RFC 5280 section 4.2.1.13). */
    const struct sti_cert *crl_issuer;
    time_t not_before;   /* 0 means now */
    int validity_days;   /* 0 takes the profile's default, cut to end
                            with the issuer */
    int tnauth_critical; /* non-zero only to build bad test certs */
};

/*
 * Issues a certificate.  ISSUER and ISSUER_KEY are NULL for roots (self
 * signed).  The serial is 16 random bytes, positive (126 random bits).
 * Non-roots need crl_url.  These requests fail with STI_ERR_POLICY: an SP
 * end entity without exactly one SPC; a delegate whose TNAuthList its
 * issuer's does not encompass; an SP or SCA whose issuer carries a
 * TNAuthList that does not encompass its own; an end entity beyond the
 * profile's maximum validity; an explicit validity_days that would
 * outlive the issuer.
 * The certificate carries basicConstraints and keyUsage (critical), SKI,
 * and on non-roots AKI, certificatePolicies with one OID,
 * cRLDistributionPoints and the TNAuthList when one is given.
 */
STI_API int sti_cert_issue(const struct sti_cert_request *req,
                           const struct sti_cert *issuer,
                           const struct sti_key *issuer_key,
                           struct sti_cert **out, struct sti_error *err);

/* Parsing and output: PEM or DER, one certificate. */
STI_API int sti_cert_parse(const void *data, size_t len, struct sti_cert **out,
                           struct sti_error *err);
STI_API int sti_cert_load(const char *path, struct sti_cert **out,
                          struct sti_error *err);
STI_API int sti_cert_to_pem(const struct sti_cert *cert, char **pem,
                            struct sti_error *err);
STI_API int sti_cert_to_der(const struct sti_cert *cert, unsigned char **der,
                            size_t *len, struct sti_error *err);
STI_API struct sti_cert *sti_cert_up_ref(struct sti_cert *cert);
STI_API void sti_cert_free(struct sti_cert *cert);

/* Accessors.  Strings are allocated; free with sti_free(). */
STI_API char *sti_cert_serial_hex(const struct sti_cert *cert); /* "0A1B.." */
STI_API char *sti_cert_subject(const struct sti_cert *cert);    /* RFC 2253 */
STI_API char *sti_cert_issuer(const struct sti_cert *cert);
STI_API char *sti_cert_subject_cn(const struct sti_cert *cert);
STI_API time_t sti_cert_not_before(const struct sti_cert *cert);
STI_API time_t sti_cert_not_after(const struct sti_cert *cert);
STI_API int sti_cert_is_ca(const struct sti_cert *cert);
STI_API int sti_cert_is_self_signed(const struct sti_cert *cert);
/* SHA-256 of the DER, lowercase hex (65 bytes with NUL). */
STI_API int sti_cert_fingerprint(const struct sti_cert *cert, char out[65]);
/* Public key (a new reference). */
STI_API struct sti_key *sti_cert_get1_key(const struct sti_cert *cert);
/* TNAuthList extension: STI_ERR_NOTFOUND when absent, STI_ERR_INVALID when
 * its DER is malformed. */
STI_API int sti_cert_get_tnauth(const struct sti_cert *cert,
                                struct sti_tnauth **out, struct sti_error *err);
/* Returns 1 when CERT is signed by ISSUER's key, 0 when not. */
STI_API int sti_cert_signed_by(const struct sti_cert *cert,
                               const struct sti_cert *issuer);

/* Chains: every PEM certificate in a buffer or file, in order. */
STI_API struct sti_chain *sti_chain_new(void);
STI_API void sti_chain_free(struct sti_chain *chain);
STI_API int sti_chain_parse(const void *data, size_t len,
                            struct sti_chain **out, struct sti_error *err);
STI_API int sti_chain_load(const char *path, struct sti_chain **out,
                           struct sti_error *err);
/* Appends CERT with a new reference (the caller keeps its own);
 * STI_ERR_INVALID for NULL arguments, STI_ERR_NOMEM. */
STI_API int sti_chain_push(struct sti_chain *chain, struct sti_cert *cert);
STI_API size_t sti_chain_count(const struct sti_chain *chain);
STI_API struct sti_cert *sti_chain_get0(const struct sti_chain *chain,
                                        size_t index);
STI_API int sti_chain_to_pem(const struct sti_chain *chain, char **pem,
                             struct sti_error *err);

/*
 * Trust anchors for path validation.  Anchors come from a PEM file or a
 * directory of PEM files, or one by one.  An optional indirect CRL is
 * checked with extended CRL support; its signer (the PA certificate) is
 * supplied with sti_trust_add_crl_signer().
 */
struct sti_trust;
STI_API struct sti_trust *sti_trust_new(void);
STI_API void sti_trust_free(struct sti_trust *trust);
STI_API int sti_trust_add_anchor(struct sti_trust *trust,
                                 const struct sti_cert *cert,
                                 struct sti_error *err);
STI_API int sti_trust_load_anchors(struct sti_trust *trust, const char *path,
                                   struct sti_error *err);
STI_API size_t sti_trust_anchor_count(const struct sti_trust *trust);
STI_API int sti_trust_set_crl(struct sti_trust *trust,
                              const struct sti_crl *crl, struct sti_error *err);
STI_API int sti_trust_add_crl_signer(struct sti_trust *trust,
                                     const struct sti_cert *cert,
                                     struct sti_error *err);

/*
 * Validates CHAIN (leaf first, intermediates after it) against TRUST at
 * time AT (0 means now).  Returns STI_OK; STI_ERR_POLICY when the path is
 * untrusted, expired or revoked, with the OpenSSL reason in the message.
 * *revoked (when non-NULL) is set to 1 when the failure is a revocation.
 */
STI_API int sti_chain_verify(const struct sti_trust *trust,
                             const struct sti_chain *chain, time_t at,
                             int *revoked, struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
