/* PKCS#10 certificate requests carrying a TNAuthList extension request. */
#ifndef STI_CSR_H
#define STI_CSR_H

#include "common.h"
#include "key.h"
#include "tnauth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_csr;

struct sti_csr_request {
    const char *common_name; /* NULL derives "SHAKEN <SPC>" */
    const char *organization;
    const char *country;             /* NULL means "US" */
    const struct sti_tnauth *tnauth; /* required */
    int is_ca; /* basicConstraints CA:TRUE (SCA requests) */
};

/* Builds and signs a CSR with KEY (ES256). */
STI_API int sti_csr_create(const struct sti_csr_request *req,
                           const struct sti_key *key, struct sti_csr **out,
                           struct sti_error *err);
/* Parses PEM or DER and checks the self-signature. */
STI_API int sti_csr_parse(const void *data, size_t len, struct sti_csr **out,
                          struct sti_error *err);
STI_API int sti_csr_load(const char *path, struct sti_csr **out,
                         struct sti_error *err);
STI_API int sti_csr_to_pem(const struct sti_csr *csr, char **pem,
                           struct sti_error *err);
STI_API int sti_csr_to_der(const struct sti_csr *csr, unsigned char **der,
                           size_t *len, struct sti_error *err);
STI_API void sti_csr_free(struct sti_csr *csr);

STI_API struct sti_key *sti_csr_get1_key(const struct sti_csr *csr);
STI_API char *sti_csr_subject(const struct sti_csr *csr);
/* STI_ERR_NOTFOUND when the CSR requests no TNAuthList. */
STI_API int sti_csr_get_tnauth(const struct sti_csr *csr,
                               struct sti_tnauth **out, struct sti_error *err);
/* 1 when the CSR requests basicConstraints CA:TRUE, 0 otherwise. */
STI_API int sti_csr_is_ca(const struct sti_csr *csr);

#ifdef __cplusplus
}
#endif
#endif
