/*
 * JWS and JSON helpers shared by jws.c, passport.c and verify.c.  Private
 * to libsti and its unit tests.
 */
#ifndef STI_JWS_INT_H
#define STI_JWS_INT_H

#include "internal.h"

#include <jansson.h>

#define STI_ES256_SIG_LEN 64

/* Serialises ROOT in canonical form: no whitespace, keys sorted by byte
 * value, which is code point order for UTF-8 (RFC 8225 section 9). */
int sti_json_dump_canonical(const json_t *root, char **out,
                            struct sti_error *err);

/* Parses a JSON object strictly: no duplicate keys, nothing after it.
 * WHAT names the text in the error message. */
int sti_json_parse_object(const char *text, size_t len, const char *what,
                          json_t **out, struct sti_error *err);

/* ES256 over DATA with a raw 64-byte R||S signature (RFC 7518 3.4). */
int sti_es256_sign(EVP_PKEY *pkey, const void *data, size_t len,
                   unsigned char sig[STI_ES256_SIG_LEN], struct sti_error *err);
/* A context ready for sti_es256_sign_ctx(); one thread at a time may use
 * it.  Keeping one saves the set-up cost of every signature. */
EVP_PKEY_CTX *sti_es256_sign_ctx_new(EVP_PKEY *pkey);
int sti_es256_sign_ctx(EVP_PKEY_CTX *ctx, const void *data, size_t len,
                       unsigned char sig[STI_ES256_SIG_LEN],
                       struct sti_error *err);
EVP_PKEY_CTX *sti_es256_verify_ctx_new(EVP_PKEY *pkey);
int sti_es256_verify_ctx(EVP_PKEY_CTX *ctx, const void *data, size_t len,
                         const unsigned char sig[STI_ES256_SIG_LEN],
                         struct sti_error *err);
/* STI_OK when SIG verifies, STI_ERR_CRYPTO when it does not. */
int sti_es256_verify(EVP_PKEY *pkey, const void *data, size_t len,
                     const unsigned char sig[STI_ES256_SIG_LEN],
                     struct sti_error *err);

/* Signs base64url(HEADER).base64url(PAYLOAD) given canonical JSON texts
 * and returns the compact serialisation. */
int sti_jws_sign_canonical(const char *header, const char *payload,
                           EVP_PKEY *pkey, char **compact,
                           struct sti_error *err);

/* The parsed header and payload objects (borrowed; payload is NULL for an
 * empty payload) and the signing input exactly as received. */
json_t *sti_jws_get0_header(const struct sti_jws *jws);
json_t *sti_jws_get0_payload(const struct sti_jws *jws);
const char *sti_jws_signing_input(const struct sti_jws *jws, size_t *len);
const char *sti_jws_alg(const struct sti_jws *jws);
/* The decoded signature; 64 bytes when the alg is ES256. */
const unsigned char *sti_jws_signature(const struct sti_jws *jws);

#endif
