/*
 * Canonical JSON and ES256 JSON Web Signatures: the compact serialisation
 * (RFC 7515 section 7.1) and the flattened JSON one (section 7.2.2).
 */
#include "jws_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

struct sti_jws {
    char *signing_input; /* BASE64URL(header) "." BASE64URL(payload) */
    size_t signing_input_len;
    char *header_json;  /* decoded header text */
    char *payload_json; /* decoded payload text, "" when empty */
    json_t *header;
    json_t *payload; /* NULL when the payload is empty */
    unsigned char *sig;
    size_t sig_len;
};

/* Canonical JSON */

int sti_json_dump_canonical(const json_t *root, char **out,
                            struct sti_error *err)
{
    /* JSON_COMPACT drops the blanks after ',' and ':'; JSON_SORT_KEYS
     * sorts with memcmp over the UTF-8 bytes (jansson 2.14 dump.c). */
    *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "cannot serialise JSON");
    return STI_OK;
}

static int json_parse_any(const char *text, size_t len, const char *what,
                          json_t **out, struct sti_error *err)
{
    json_error_t jerr;

    /* jansson rejects "\u0000" in strings and trailing data by default. */
    *out =
        json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s is not valid JSON: %s at line %d column %d", what,
                          jerr.text, jerr.line, jerr.column);
    return STI_OK;
}

int sti_json_parse_object(const char *text, size_t len, const char *what,
                          json_t **out, struct sti_error *err)
{
    int rc = json_parse_any(text, len, what, out, err);

    if (rc != STI_OK)
        return rc;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return sti_seterr(err, STI_ERR_INVALID, "%s is not a JSON object",
                          what);
    }
    return STI_OK;
}

int sti_json_canonicalize(const char *json, size_t len, char **out,
                          struct sti_error *err)
{
    json_t *root;
    int rc;

    *out = NULL;
    if (json == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no JSON text given");
    rc = json_parse_any(json, len, "the JSON text", &root, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_json_dump_canonical(root, out, err);
    json_decref(root);
    return rc;
}

/* ES256 */

static int check_es256_key(EVP_PKEY *pkey, int need_private,
                           struct sti_error *err)
{
    if (pkey == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no key given");
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
        EVP_PKEY_get_bits(pkey) != 256)
        return sti_seterr(err, STI_ERR_INVALID,
                          "ES256 needs an EC P-256 key, not a %d-bit %s key",
                          EVP_PKEY_get_bits(pkey),
                          OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
    if (need_private) {
        BIGNUM *d = NULL;

        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d))
            return sti_seterr(err, STI_ERR_INVALID,
                              "signing needs a private key; the key given "
                              "is public only");
        BN_clear_free(d);
    }
    return STI_OK;
}

/* Converts a DER ECDSA-Sig-Value to raw R||S, 32 bytes each. */
static int der_to_raw(const unsigned char *der, size_t der_len,
                      unsigned char raw[STI_ES256_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    int ok;

    if (sig == NULL)
        return 0;
    ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok;
}

/* SHA-256 fetched once: an implicit fetch on every digest costs as much
 * as the hashing of a PASSporT in OpenSSL 3.0. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256(const void *data, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md != NULL &&
           EVP_Digest(data, len, out, NULL, sha256_md, NULL) == 1;
}

EVP_PKEY_CTX *sti_es256_sign_ctx_new(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

    if (ctx != NULL && EVP_PKEY_sign_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

int sti_es256_sign_ctx(EVP_PKEY_CTX *ctx, const void *data, size_t len,
                       unsigned char sig[STI_ES256_SIG_LEN],
                       struct sti_error *err)
{
    unsigned char digest[32], der[80];
    size_t der_len = sizeof(der);

    if (!sha256(data, len, digest) ||
        EVP_PKEY_sign(ctx, der, &der_len, digest, sizeof(digest)) != 1)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO, "ES256 signing failed");
    if (!der_to_raw(der, der_len, sig))
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot convert the ECDSA signature to R||S");
    return STI_OK;
}

int sti_es256_sign(EVP_PKEY *pkey, const void *data, size_t len,
                   unsigned char sig[STI_ES256_SIG_LEN], struct sti_error *err)
{
    EVP_PKEY_CTX *ctx = sti_es256_sign_ctx_new(pkey);
    int rc;

    if (ctx == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot set up ES256 signing");
    rc = sti_es256_sign_ctx(ctx, data, len, sig, err);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Converts raw R||S to DER; returns the DER length or 0. */
static int raw_to_der(const unsigned char raw[STI_ES256_SIG_LEN],
                      unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    int len = 0;

    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return 0;
    }
    *der = NULL;
    len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return len > 0 ? len : 0;
}

EVP_PKEY_CTX *sti_es256_verify_ctx_new(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

    if (ctx != NULL && EVP_PKEY_verify_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

int sti_es256_verify_ctx(EVP_PKEY_CTX *ctx, const void *data, size_t len,
                         const unsigned char sig[STI_ES256_SIG_LEN],
                         struct sti_error *err)
{
    unsigned char *der = NULL, digest[32];
    int der_len = raw_to_der(sig, &der), rc = STI_OK;

    if (der_len == 0)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (!sha256(data, len, digest))
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "SHA-256 failed");
    else if (EVP_PKEY_verify(ctx, der, (size_t)der_len, digest,
                             sizeof(digest)) != 1) {
        ERR_clear_error();
        rc = sti_seterr(err, STI_ERR_CRYPTO,
                        "the ES256 signature does not verify with the "
                        "certificate's public key");
    }
    OPENSSL_free(der);
    return rc;
}

int sti_es256_verify(EVP_PKEY *pkey, const void *data, size_t len,
                     const unsigned char sig[STI_ES256_SIG_LEN],
                     struct sti_error *err)
{
    EVP_PKEY_CTX *ctx = sti_es256_verify_ctx_new(pkey);
    int rc;

    if (ctx == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot set up ES256 verification");
    rc = sti_es256_verify_ctx(ctx, data, len, sig, err);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Signing */

static char *b64url_str(const char *text)
{
    return sti_b64url_encode((const unsigned char *)text, strlen(text));
}

/* Builds "b64(header).b64(payload)"; PAYLOAD "" gives an empty part. */
static char *make_signing_input(const char *header, const char *payload)
{
    char *h = b64url_str(header), *p = b64url_str(payload), *out = NULL;

    if (h != NULL && p != NULL) {
        size_t n = strlen(h) + strlen(p) + 2;

        out = malloc(n);
        if (out != NULL)
            snprintf(out, n, "%s.%s", h, p);
    }
    free(h);
    free(p);
    return out;
}

/* Signs INPUT and returns the base64url signature in *SIG_B64. */
static int sign_input(const char *input, EVP_PKEY *pkey, char **sig_b64,
                      struct sti_error *err)
{
    unsigned char sig[STI_ES256_SIG_LEN];
    int rc = sti_es256_sign(pkey, input, strlen(input), sig, err);

    if (rc != STI_OK)
        return rc;
    *sig_b64 = sti_b64url_encode(sig, sizeof(sig));
    return *sig_b64 ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

int sti_jws_sign_canonical(const char *header, const char *payload,
                           EVP_PKEY *pkey, char **compact,
                           struct sti_error *err)
{
    char *input = NULL, *sig = NULL;
    int rc;

    *compact = NULL;
    rc = check_es256_key(pkey, 1, err);
    if (rc != STI_OK)
        return rc;
    input = make_signing_input(header, payload);
    if (input == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sign_input(input, pkey, &sig, err);
    if (rc == STI_OK) {
        size_t n = strlen(input) + strlen(sig) + 2;

        *compact = malloc(n);
        if (*compact == NULL)
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        else
            snprintf(*compact, n, "%s.%s", input, sig);
    }
    free(input);
    free(sig);
    return rc;
}

/* Canonicalises a JSON object text; WHAT names it in errors. */
static int canonical_object(const char *text, const char *what, char **out,
                            struct sti_error *err)
{
    json_t *obj;
    int rc;

    *out = NULL;
    if (text == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no %s given", what);
    rc = sti_json_parse_object(text, strlen(text), what, &obj, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_json_dump_canonical(obj, out, err);
    json_decref(obj);
    return rc;
}

int sti_jws_sign(const char *header_json, const char *payload_json,
                 const struct sti_key *key, char **compact,
                 struct sti_error *err)
{
    char *header = NULL, *payload = NULL;
    int rc;

    *compact = NULL;
    rc = canonical_object(header_json, "JWS header", &header, err);
    if (rc == STI_OK)
        rc = canonical_object(payload_json, "JWS payload", &payload, err);
    if (rc == STI_OK)
        rc = sti_jws_sign_canonical(
            header, payload, key ? sti_key_get0_pkey(key) : NULL, compact, err);
    free(header);
    free(payload);
    return rc;
}

/* Parsing */

void sti_jws_free(struct sti_jws *jws)
{
    if (jws == NULL)
        return;
    free(jws->signing_input);
    free(jws->header_json);
    free(jws->payload_json);
    json_decref(jws->header);
    json_decref(jws->payload);
    free(jws->sig);
    free(jws);
}

/* Decodes one base64url part into a NUL-terminated text. */
static int decode_text(const char *b64, size_t len, const char *what,
                       char **out, struct sti_error *err)
{
    unsigned char *raw;
    size_t raw_len;
    char *text;

    if (sti_b64url_decode(b64, len, &raw, &raw_len) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JWS %s is not valid base64url (RFC 4648 "
                          "section 5, no padding)",
                          what);
    text = malloc(raw_len + 1);
    if (text == NULL) {
        free(raw);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    memcpy(text, raw, raw_len);
    text[raw_len] = '\0';
    free(raw);
    if (strlen(text) != raw_len) {
        free(text);
        return sti_seterr(err, STI_ERR_INVALID, "the JWS %s contains a NUL",
                          what);
    }
    *out = text;
    return STI_OK;
}

/* RFC 7515 section 4.1.11: a "crit" listing anything must be rejected,
 * since this implementation understands no header extension. */
static int check_header(const struct sti_jws *jws, struct sti_error *err)
{
    const char *alg = sti_jws_alg(jws);

    if (alg == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JWS header has no \"alg\" string");
    if (json_object_get(jws->header, "crit") != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JWS header has a \"crit\" parameter, and no "
                          "critical extension is supported");
    if (strcmp(alg, "ES256") == 0 && jws->sig_len != STI_ES256_SIG_LEN)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the ES256 signature is %zu bytes; it must be the "
                          "64-byte R||S form (RFC 7518 section 3.4), not DER",
                          jws->sig_len);
    return STI_OK;
}

/* Decodes the three parts; PAYLOAD may be empty only when ALLOW_EMPTY. */
static int jws_from_parts(const char *h, size_t hlen, const char *p,
                          size_t plen, const char *s, size_t slen,
                          int allow_empty, struct sti_jws **out,
                          struct sti_error *err)
{
    struct sti_jws *jws = calloc(1, sizeof(*jws));
    int rc;

    *out = NULL;
    if (jws == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    jws->signing_input_len = hlen + 1 + plen;
    jws->signing_input = malloc(jws->signing_input_len + 1);
    if (jws->signing_input == NULL) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(jws->signing_input, h, hlen);
    jws->signing_input[hlen] = '.';
    memcpy(jws->signing_input + hlen + 1, p, plen);
    jws->signing_input[jws->signing_input_len] = '\0';
    rc = decode_text(h, hlen, "header", &jws->header_json, err);
    if (rc == STI_OK)
        rc = decode_text(p, plen, "payload", &jws->payload_json, err);
    if (rc == STI_OK &&
        sti_b64url_decode(s, slen, &jws->sig, &jws->sig_len) != STI_OK)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "the JWS signature is not valid base64url (RFC 4648 "
                        "section 5, no padding)");
    if (rc == STI_OK)
        rc = sti_json_parse_object(jws->header_json, strlen(jws->header_json),
                                   "the JWS header", &jws->header, err);
    if (rc == STI_OK && (plen > 0 || !allow_empty))
        rc = sti_json_parse_object(jws->payload_json, strlen(jws->payload_json),
                                   "the JWS payload", &jws->payload, err);
    if (rc == STI_OK)
        rc = check_header(jws, err);
    if (rc != STI_OK)
        goto fail;
    *out = jws;
    return STI_OK;
fail:
    sti_jws_free(jws);
    return rc;
}

int sti_jws_parse(const char *compact, size_t len, struct sti_jws **out,
                  struct sti_error *err)
{
    const char *dot1, *dot2, *end;

    *out = NULL;
    if (compact == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no JWS given");
    end = compact + len;
    dot1 = memchr(compact, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
        return sti_seterr(err, STI_ERR_INVALID,
                          "a compact JWS has exactly three base64url parts "
                          "separated by '.'");
    return jws_from_parts(compact, (size_t)(dot1 - compact), dot1 + 1,
                          (size_t)(dot2 - dot1 - 1), dot2 + 1,
                          (size_t)(end - dot2 - 1), 0, out, err);
}

int sti_jws_verify(const struct sti_jws *jws, const struct sti_key *key,
                   struct sti_error *err)
{
    EVP_PKEY *pkey = key ? sti_key_get0_pkey(key) : NULL;
    const char *alg;
    int rc;

    if (jws == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no JWS given");
    alg = sti_jws_alg(jws);
    if (strcmp(alg, "ES256") != 0)
        return sti_seterr(err, STI_ERR_POLICY,
                          "JWS algorithm \"%s\" is not supported; only "
                          "ES256 is",
                          alg);
    rc = check_es256_key(pkey, 0, err);
    if (rc != STI_OK)
        return rc;
    return sti_es256_verify(pkey, jws->signing_input, jws->signing_input_len,
                            jws->sig, err);
}

/* Accessors */

const char *sti_jws_header_json(const struct sti_jws *jws)
{
    return jws ? jws->header_json : NULL;
}

const char *sti_jws_payload_json(const struct sti_jws *jws)
{
    return jws ? jws->payload_json : NULL;
}

const char *sti_jws_header_string(const struct sti_jws *jws, const char *name)
{
    if (jws == NULL || name == NULL)
        return NULL;
    return json_string_value(json_object_get(jws->header, name));
}

const char *sti_jws_alg(const struct sti_jws *jws)
{
    return sti_jws_header_string(jws, "alg");
}

const unsigned char *sti_jws_signature(const struct sti_jws *jws)
{
    return jws ? jws->sig : NULL;
}

json_t *sti_jws_get0_header(const struct sti_jws *jws)
{
    return jws ? jws->header : NULL;
}

json_t *sti_jws_get0_payload(const struct sti_jws *jws)
{
    return jws ? jws->payload : NULL;
}

const char *sti_jws_signing_input(const struct sti_jws *jws, size_t *len)
{
    if (len != NULL)
        *len = jws ? jws->signing_input_len : 0;
    return jws ? jws->signing_input : NULL;
}

/* Flattened JSON serialisation (RFC 7515 section 7.2.2) */

int sti_jws_sign_flattened(const char *protected_json, const char *payload_json,
                           const struct sti_key *key, char **json,
                           struct sti_error *err)
{
    char *header = NULL, *payload = NULL, *compact = NULL;
    json_t *obj = NULL;
    int rc;

    *json = NULL;
    rc = canonical_object(protected_json, "JWS protected header", &header, err);
    /* An empty payload is ACME's POST-as-GET (RFC 8555 section 6.3). */
    if (rc == STI_OK && payload_json != NULL && payload_json[0] == '\0')
        payload = strdup("");
    else if (rc == STI_OK)
        rc = canonical_object(payload_json, "JWS payload", &payload, err);
    if (rc == STI_OK && payload == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (rc == STI_OK)
        rc = sti_jws_sign_canonical(header, payload,
                                    key ? sti_key_get0_pkey(key) : NULL,
                                    &compact, err);
    if (rc == STI_OK) {
        char *d1 = strchr(compact, '.'), *d2 = strchr(d1 + 1, '.');

        *d1 = *d2 = '\0';
        obj = json_pack("{s:s,s:s,s:s}", "protected", compact, "payload",
                        d1 + 1, "signature", d2 + 1);
        rc = obj ? sti_json_dump_canonical(obj, json, err)
                 : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    json_decref(obj);
    free(header);
    free(payload);
    free(compact);
    return rc;
}

/* Returns the string member NAME of OBJ or sets an error. */
static const char *flattened_member(json_t *obj, const char *name,
                                    struct sti_error *err)
{
    const char *v = json_string_value(json_object_get(obj, name));

    if (v == NULL)
        sti_seterr(err, STI_ERR_INVALID,
                   "the flattened JWS has no \"%s\" string member", name);
    return v;
}

int sti_jws_parse_flattened(const char *json, size_t len, struct sti_jws **out,
                            struct sti_error *err)
{
    json_t *obj;
    const char *h, *p = NULL, *s = NULL;
    int rc;

    *out = NULL;
    if (json == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no JWS given");
    rc = sti_json_parse_object(json, len, "the flattened JWS", &obj, err);
    if (rc != STI_OK)
        return rc;
    /* RFC 8555 section 6.2 forbids unprotected headers and several
     * signatures, so only the three members are accepted. */
    if (json_object_size(obj) != 3) {
        json_decref(obj);
        return sti_seterr(err, STI_ERR_INVALID,
                          "the flattened JWS must have exactly the members "
                          "\"protected\", \"payload\" and \"signature\"");
    }
    h = flattened_member(obj, "protected", err);
    if (h != NULL)
        p = flattened_member(obj, "payload", err);
    if (p != NULL)
        s = flattened_member(obj, "signature", err);
    rc = s == NULL ? STI_ERR_INVALID
                   : jws_from_parts(h, strlen(h), p, strlen(p), s, strlen(s), 1,
                                    out, err);
    json_decref(obj);
    return rc;
}
