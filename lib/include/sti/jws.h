/*
 * Canonical JSON and ES256 JSON Web Signatures (RFC 7515): the compact
 * form used by PASSporTs and SPC tokens, and the flattened JSON form used
 * by ACME (RFC 8555 section 6.2).
 */
#ifndef STI_JWS_H
#define STI_JWS_H

#include "common.h"
#include "key.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Re-serialises a JSON text with no whitespace and object keys sorted by
 * code point, recursively (RFC 8225 section 9).  Fails with
 * STI_ERR_INVALID on malformed JSON or duplicate keys.
 */
STI_API int sti_json_canonicalize(const char *json, size_t len, char **out,
                                  struct sti_error *err);

/*
 * Signs a compact JWS with ES256 (raw 64-byte R||S signature).  HEADER and
 * PAYLOAD are JSON objects; both are canonicalised before encoding.
 */
STI_API int sti_jws_sign(const char *header_json, const char *payload_json,
                         const struct sti_key *key, char **compact,
                         struct sti_error *err);

/* A parsed JWS; the signing input is kept as received. */
struct sti_jws;

/*
 * Parses a compact JWS: three strict base64url parts, header and payload
 * JSON objects, a 64-byte signature for ES256.  Nothing is verified yet.
 */
STI_API int sti_jws_parse(const char *compact, size_t len, struct sti_jws **out,
                          struct sti_error *err);
/* Checks the ES256 signature over the received signing input. */
STI_API int sti_jws_verify(const struct sti_jws *jws, const struct sti_key *key,
                           struct sti_error *err);
STI_API void sti_jws_free(struct sti_jws *jws);

/* Decoded header and payload JSON texts (NUL-terminated, owned by JWS). */
STI_API const char *sti_jws_header_json(const struct sti_jws *jws);
STI_API const char *sti_jws_payload_json(const struct sti_jws *jws);
/* A string member of the header, or NULL when absent or not a string. */
STI_API const char *sti_jws_header_string(const struct sti_jws *jws,
                                          const char *name);

/*
 * Flattened JSON serialisation for ACME: {"protected","payload",
 * "signature"}.  PAYLOAD_JSON may be "" for POST-as-GET.
 */
STI_API int sti_jws_sign_flattened(const char *protected_json,
                                   const char *payload_json,
                                   const struct sti_key *key, char **json,
                                   struct sti_error *err);
STI_API int sti_jws_parse_flattened(const char *json, size_t len,
                                    struct sti_jws **out,
                                    struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
