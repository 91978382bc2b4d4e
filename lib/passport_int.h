/* PASSporT helpers shared by passport.c, identity.c and verify.c. */
#ifndef STI_PASSPORT_INT_H
#define STI_PASSPORT_INT_H

#include "internal.h"

/* 1 when TN is 1 to STI_TN_MAX characters of digits, '#' and '*'. */
int sti_tn_is_canonical(const char *tn);

/* Canonical JSON of the header {"alg","ppt","typ","x5u"} and of the
 * payload built from C under PPT. */
int sti_passport_header(const char *x5u, const char *ppt, char **out,
                        struct sti_error *err);
int sti_passport_payload(const struct sti_passport_claims *c, const char *ppt,
                         char **out, struct sti_error *err);

/* Verifies the signature with an OpenSSL key, skipping the key checks
 * that the caller has already made once per certificate. */
int sti_passport_verify_pkey(const struct sti_passport *p, EVP_PKEY *pkey,
                             struct sti_error *err);
/* The same with a context from sti_es256_verify_ctx_new(). */
int sti_passport_verify_ctx(const struct sti_passport *p, EVP_PKEY_CTX *ctx,
                            struct sti_error *err);

#endif
