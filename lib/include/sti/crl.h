/* X.509 CRLs, including the policy administrator's indirect CRL. */
#ifndef STI_CRL_H
#define STI_CRL_H

#include "cert.h"
#include "common.h"
#include "key.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_crl;

/* RFC 5280 section 5.3.1 reason codes. */
enum sti_crl_reason {
    STI_REASON_UNSPECIFIED = 0,
    STI_REASON_KEY_COMPROMISE = 1,
    STI_REASON_CA_COMPROMISE = 2,
    STI_REASON_AFFILIATION_CHANGED = 3,
    STI_REASON_SUPERSEDED = 4,
    STI_REASON_CESSATION_OF_OPERATION = 5,
    STI_REASON_CERTIFICATE_HOLD = 6,
    STI_REASON_PRIVILEGE_WITHDRAWN = 9
};
/* "keyCompromise" and the other RFC 5280 names; -1 when unknown. */
STI_API int sti_crl_reason_from_name(const char *name);
STI_API const char *sti_crl_reason_name(int reason);

/*
 * One revoked certificate.  When read back, issuer_dn is the issuer named
 * by the entry's certificateIssuer or inherited from an earlier entry
 * (RFC 5280 section 5.3.3), and NULL for certificates of the CRL signer.
 */
struct sti_crl_entry {
    const char *serial_hex; /* serial of the revoked certificate, hex */
    const char *issuer_dn;  /* RFC 2253 issuer DN; NULL for the signer */
    time_t revoked_at;      /* 0 takes the CRL's thisUpdate */
    int reason;             /* enum sti_crl_reason; unspecified is left
                               out of the encoding (RFC 5280 5.3.1) */
};

struct sti_crl_request {
    const struct sti_crl_entry *entries;
    size_t count;
    uint64_t crl_number;
    time_t this_update; /* 0 means now */
    time_t next_update; /* required */
    int indirect;       /* certificateIssuer entries + IDP indirectCRL;
                           without it, entries may only name the
                           signer as issuer */
};

/* Builds and signs a v2 CRL (ecdsa-with-SHA256) with AKI and CRL number.
 * SIGNER_KEY must be the P-256 private key of SIGNER. */
STI_API int sti_crl_build(const struct sti_crl_request *req,
                          const struct sti_cert *signer,
                          const struct sti_key *signer_key,
                          struct sti_crl **out, struct sti_error *err);
STI_API int sti_crl_parse(const void *data, size_t len, struct sti_crl **out,
                          struct sti_error *err);
STI_API int sti_crl_load(const char *path, struct sti_crl **out,
                         struct sti_error *err);
STI_API int sti_crl_to_pem(const struct sti_crl *crl, char **pem,
                           struct sti_error *err);
STI_API int sti_crl_to_der(const struct sti_crl *crl, unsigned char **der,
                           size_t *len, struct sti_error *err);
STI_API void sti_crl_free(struct sti_crl *crl);

STI_API char *sti_crl_issuer(const struct sti_crl *crl);
STI_API time_t sti_crl_this_update(const struct sti_crl *crl);
STI_API time_t sti_crl_next_update(const struct sti_crl *crl);
STI_API uint64_t sti_crl_number(const struct sti_crl *crl);
STI_API int sti_crl_is_indirect(const struct sti_crl *crl);
STI_API size_t sti_crl_entry_count(const struct sti_crl *crl);
/* Fills ENTRY (strings owned by CRL) for index I. */
STI_API int sti_crl_get_entry(const struct sti_crl *crl, size_t i,
                              struct sti_crl_entry *entry);
/* 1 when CERT is listed (matching serial and issuer), 0 otherwise. */
STI_API int sti_crl_lists(const struct sti_crl *crl,
                          const struct sti_cert *cert);
/* 1 when SIGNER's key signed the CRL. */
STI_API int sti_crl_signed_by(const struct sti_crl *crl,
                              const struct sti_cert *signer);

#ifdef __cplusplus
}
#endif
#endif
