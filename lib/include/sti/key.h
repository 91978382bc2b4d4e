/* P-256 keys: generation, PEM files (optionally encrypted), fingerprints. */
#ifndef STI_KEY_H
#define STI_KEY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A P-256 key pair, or a public key alone. */
struct sti_key;

STI_API int sti_key_generate(struct sti_key **out, struct sti_error *err);

/*
 * Loads a private or public key from PEM or DER bytes.  PASSPHRASE decrypts
 * an encrypted PKCS#8 key; NULL when the key is not encrypted.  Keys that
 * are not P-256 load (so that callers can report them) and are flagged by
 * sti_key_is_p256().
 */
STI_API int sti_key_parse(const void *data, size_t len, const char *passphrase,
                          struct sti_key **out, struct sti_error *err);
STI_API int sti_key_load(const char *path, const char *passphrase,
                         struct sti_key **out, struct sti_error *err);

/*
 * Writes the private key as PKCS#8 PEM.  With a non-NULL PASSPHRASE the key
 * is encrypted with AES-256-CBC under PBKDF2.  sti_key_save() creates PATH
 * with mode 0600 and fails with STI_ERR_EXISTS if PATH exists.
 */
STI_API int sti_key_to_pem(const struct sti_key *key, const char *passphrase,
                           char **pem, struct sti_error *err);
STI_API int sti_key_save(const struct sti_key *key, const char *path,
                         const char *passphrase, struct sti_error *err);
/* Writes the SubjectPublicKeyInfo as PEM. */
STI_API int sti_key_public_pem(const struct sti_key *key, char **pem,
                               struct sti_error *err);

STI_API int sti_key_has_private(const struct sti_key *key);
STI_API int sti_key_is_p256(const struct sti_key *key);
/* Returns a static description such as "EC P-256", "EC P-384", "RSA". */
STI_API const char *sti_key_type_name(const struct sti_key *key);
/* Returns 1 when both keys hold the same public key, 0 otherwise. */
STI_API int sti_key_public_equal(const struct sti_key *a,
                                 const struct sti_key *b);

/*
 * Fingerprints of the public key.  sti_key_spki_fingerprint() writes
 * "SHA256 AB:CD:..." (SHA-256 of the SPKI DER, uppercase hex with colons,
 * 103 bytes with the NUL).  sti_key_jwk_thumbprint() returns the RFC 7638
 * thumbprint in base64url.
 */
#define STI_FINGERPRINT_LEN 104
STI_API int sti_key_spki_fingerprint(const struct sti_key *key,
                                     char out[STI_FINGERPRINT_LEN],
                                     struct sti_error *err);
STI_API int sti_key_jwk_thumbprint(const struct sti_key *key, char **out,
                                   struct sti_error *err);

/* Public JWK of an EC P-256 key: {"crv":"P-256","kty":"EC","x":..,"y":..}
 * in canonical member order; and the reverse. */
STI_API int sti_key_to_jwk(const struct sti_key *key, char **json,
                           struct sti_error *err);
STI_API int sti_key_from_jwk(const char *json, struct sti_key **out,
                             struct sti_error *err);

STI_API struct sti_key *sti_key_up_ref(struct sti_key *key);
STI_API void sti_key_free(struct sti_key *key);

#ifdef __cplusplus
}
#endif
#endif
