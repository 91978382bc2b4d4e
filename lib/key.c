/* P-256 keys: generation, PEM and DER files, fingerprints and JWKs. */
#include "x509_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

struct sti_key {
    EVP_PKEY *pkey;
    int has_private;
    atomic_int refs;
};

#define P256_COORD_LEN 32

static int pkey_has_private(const EVP_PKEY *pkey)
{
    BIGNUM *bn = NULL;
    unsigned char buf[128];
    size_t n = 0;
    int found;

    /* EC keys expose "priv", RSA keys "d"; raw-key types use an octet
     * string under "priv". */
    found = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 ||
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &bn) == 1 ||
            EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, buf,
                                            sizeof(buf), &n) == 1;
    BN_clear_free(bn);
    OPENSSL_cleanse(buf, sizeof(buf));
    ERR_clear_error();
    return found;
}

struct sti_key *sti_key_from_pkey(EVP_PKEY *pkey)
{
    struct sti_key *key;

    if (pkey == NULL)
        return NULL;
    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key->pkey = pkey;
    key->has_private = pkey_has_private(pkey);
    atomic_init(&key->refs, 1);
    return key;
}

EVP_PKEY *sti_key_get0_pkey(const struct sti_key *key)
{
    return key == NULL ? NULL : key->pkey;
}

struct sti_key *sti_key_up_ref(struct sti_key *key)
{
    if (key != NULL)
        atomic_fetch_add(&key->refs, 1);
    return key;
}

void sti_key_free(struct sti_key *key)
{
    if (key == NULL || atomic_fetch_sub(&key->refs, 1) != 1)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

int sti_key_generate(struct sti_key **out, struct sti_error *err)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");

    *out = NULL;
    if (pkey == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot generate a P-256 key");
    *out = sti_key_from_pkey(pkey);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

/* Runs one decoder pass over DATA for the given key selection. */
static EVP_PKEY *decode_pkey(const void *data, size_t len,
                             const char *passphrase, int selection)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx;
    const unsigned char *p = data;
    size_t left = len;

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, selection,
                                         NULL, NULL);
    if (dctx == NULL)
        return NULL;
    /* An empty passphrase keeps the decoder from prompting on a terminal
     * when the caller gave none. */
    OSSL_DECODER_CTX_set_passphrase(
        dctx, (const unsigned char *)(passphrase ? passphrase : ""),
        passphrase ? strlen(passphrase) : 0);
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

/* Returns 1 for an encrypted PKCS#8 key in PEM or DER, or a legacy
 * encrypted PEM key. */
static int is_encrypted_key(const void *data, size_t len)
{
    const unsigned char *p = data;
    X509_SIG *sig;
    int found;

    if (sti_looks_like_pem(data, len))
        return memmem(data, len, "ENCRYPTED PRIVATE KEY", 21) != NULL ||
               memmem(data, len, "Proc-Type: 4,ENCRYPTED", 22) != NULL;
    sig = d2i_X509_SIG(NULL, &p, (long)len);
    found = sig != NULL && p == (const unsigned char *)data + len;
    ERR_clear_error();
    X509_SIG_free(sig);
    return found;
}

/*
 * `openssl ecparam -genkey` without -noout writes an EC PARAMETERS block
 * before the key, and the decoder reads only the first PEM block, so the
 * key starts after that block.  Returns DATA unchanged otherwise.
 */
static const char *skip_ec_parameters(const char *data, size_t *len)
{
    static const char begin[] = "-----BEGIN EC PARAMETERS-----";
    static const char end[] = "-----END EC PARAMETERS-----";
    const char *p = data, *stop = data + *len;
    const char *e;

    while (p < stop && isspace((unsigned char)*p))
        p++;
    if ((size_t)(stop - p) < sizeof(begin) - 1 ||
        memcmp(p, begin, sizeof(begin) - 1) != 0)
        return data;
    e = memmem(p, (size_t)(stop - p), end, sizeof(end) - 1);
    if (e == NULL)
        return data;
    e += sizeof(end) - 1;
    *len = (size_t)(stop - e);
    return e;
}

int sti_key_parse(const void *data, size_t len, const char *passphrase,
                  struct sti_key **out, struct sti_error *err)
{
    const void *start = data;
    EVP_PKEY *pkey;

    *out = NULL;
    if (data == NULL || len == 0)
        return sti_seterr(err, STI_ERR_INVALID, "key data is empty");
    data = skip_ec_parameters(data, &len);
    pkey =
        len > 0 ? decode_pkey(data, len, passphrase, EVP_PKEY_KEYPAIR) : NULL;
    if (pkey == NULL && len > 0)
        pkey = decode_pkey(data, len, NULL, EVP_PKEY_PUBLIC_KEY);
    ERR_clear_error();
    if (pkey == NULL) {
        if (is_encrypted_key(data, len))
            return sti_seterr(err, STI_ERR_AUTH,
                              passphrase == NULL
                                  ? "key is encrypted; give its passphrase"
                                  : "cannot decrypt key: wrong passphrase");
        if (data != start)
            return sti_seterr(err, STI_ERR_INVALID,
                              "the EC PARAMETERS block is followed by no key; "
                              "the file needs the key block after it");
        return sti_seterr(err, STI_ERR_INVALID,
                          "not a PEM or DER private or public key");
    }
    *out = sti_key_from_pkey(pkey);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

/* A PEM key file is a few hundred bytes; the limit only stops a device
 * such as /dev/zero from filling memory. */
#define KEY_FILE_MAX (1024 * 1024)

int sti_key_load(const char *path, const char *passphrase, struct sti_key **out,
                 struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_file_read_max(path, KEY_FILE_MAX, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_key_parse(data, len, passphrase, out, err);
    sti_clear_free(data, len);
    sti_error_prefix(err, rc, path);
    return rc;
}

int sti_key_to_pem(const struct sti_key *key, const char *passphrase,
                   char **pem, struct sti_error *err)
{
    BIO *bio;
    const EVP_CIPHER *cipher = passphrase ? EVP_aes_256_cbc() : NULL;
    int rc, ok;

    *pem = NULL;
    if (key == NULL || !key->has_private)
        return sti_seterr(err, STI_ERR_INVALID,
                          "key has no private part to write");
    if (passphrase != NULL && passphrase[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "passphrase is empty; give a non-empty one or none");
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    /* OpenSSL 3 encrypts PKCS#8 as PBES2 with PBKDF2 (hmacWithSHA256). */
    ok = PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, cipher, NULL, 0, NULL,
                                       (void *)passphrase);
    if (ok != 1)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot encode private key");
    else
        rc = sti_bio_to_string(bio, pem, NULL, err);
    BIO_free_all(bio);
    return rc;
}

int sti_key_save(const struct sti_key *key, const char *path,
                 const char *passphrase, struct sti_error *err)
{
    char *pem;
    int rc = sti_key_to_pem(key, passphrase, &pem, err);

    if (rc != STI_OK)
        return rc;
    rc = sti_file_write(path, pem, strlen(pem), 0600, 1, err);
    sti_clear_free(pem, strlen(pem));
    return rc;
}

int sti_key_public_pem(const struct sti_key *key, char **pem,
                       struct sti_error *err)
{
    BIO *bio;
    int rc;

    *pem = NULL;
    if (key == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no key given");
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (PEM_write_bio_PUBKEY(bio, key->pkey) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot encode public key");
    else
        rc = sti_bio_to_string(bio, pem, NULL, err);
    BIO_free(bio);
    return rc;
}

int sti_key_has_private(const struct sti_key *key)
{
    return key != NULL && key->has_private;
}

static int ec_group_name(const struct sti_key *key, char *name, size_t size)
{
    size_t n;

    if (key == NULL || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_EC)
        return 0;
    return EVP_PKEY_get_group_name(key->pkey, name, size, &n) == 1;
}

int sti_key_is_p256(const struct sti_key *key)
{
    char name[64];

    return ec_group_name(key, name, sizeof(name)) &&
           strcmp(name, SN_X9_62_prime256v1) == 0;
}

const char *sti_key_type_name(const struct sti_key *key)
{
    char name[64];

    if (key == NULL)
        return "none";
    switch (EVP_PKEY_get_base_id(key->pkey)) {
    case EVP_PKEY_EC:
        if (!ec_group_name(key, name, sizeof(name)))
            return "EC";
        if (strcmp(name, SN_X9_62_prime256v1) == 0)
            return "EC P-256";
        if (strcmp(name, SN_secp384r1) == 0)
            return "EC P-384";
        if (strcmp(name, SN_secp521r1) == 0)
            return "EC P-521";
        return "EC (other curve)";
    case EVP_PKEY_RSA:
        return "RSA";
    case EVP_PKEY_RSA_PSS:
        return "RSA-PSS";
    case EVP_PKEY_ED25519:
        return "Ed25519";
    case EVP_PKEY_ED448:
        return "Ed448";
    case EVP_PKEY_DSA:
        return "DSA";
    default:
        return "unknown";
    }
}

int sti_key_public_equal(const struct sti_key *a, const struct sti_key *b)
{
    int eq;

    if (a == NULL || b == NULL)
        return 0;
    eq = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
    ERR_clear_error();
    return eq;
}

int sti_key_spki_fingerprint(const struct sti_key *key,
                             char out[STI_FINGERPRINT_LEN],
                             struct sti_error *err)
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    int len;
    size_t pos;

    out[0] = '\0';
    if (key == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no key given");
    len = i2d_PUBKEY(key->pkey, &der);
    if (len <= 0)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot encode the public key");
    SHA256(der, (size_t)len, md);
    OPENSSL_free(der);
    pos = (size_t)snprintf(out, STI_FINGERPRINT_LEN, "SHA256 ");
    for (size_t i = 0; i < sizeof(md); i++)
        pos += (size_t)snprintf(out + pos, STI_FINGERPRINT_LEN - pos,
                                i ? ":%02X" : "%02X", md[i]);
    return STI_OK;
}

/* Fills X and Y with the affine coordinates of a P-256 public key. */
static int p256_coordinates(const struct sti_key *key,
                            unsigned char x[P256_COORD_LEN],
                            unsigned char y[P256_COORD_LEN],
                            struct sti_error *err)
{
    BIGNUM *bx = NULL, *by = NULL;
    int rc = STI_OK;

    if (!sti_key_is_p256(key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "a JWK needs an EC P-256 key, not %s",
                          sti_key_type_name(key));
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
        BN_bn2binpad(bx, x, P256_COORD_LEN) != P256_COORD_LEN ||
        BN_bn2binpad(by, y, P256_COORD_LEN) != P256_COORD_LEN)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot read the public key coordinates");
    BN_free(bx);
    BN_free(by);
    return rc;
}

/* Builds the JWK members of RFC 7518 section 6.2.1 for a P-256 key. */
static int jwk_object(const struct sti_key *key, json_t **out,
                      struct sti_error *err)
{
    unsigned char x[P256_COORD_LEN], y[P256_COORD_LEN];
    char *x64, *y64;
    int rc;

    *out = NULL;
    rc = p256_coordinates(key, x, y, err);
    if (rc != STI_OK)
        return rc;
    x64 = sti_b64url_encode(x, sizeof(x));
    y64 = sti_b64url_encode(y, sizeof(y));
    if (x64 != NULL && y64 != NULL)
        *out = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC",
                         "x", x64, "y", y64);
    free(x64);
    free(y64);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

int sti_key_to_jwk(const struct sti_key *key, char **json,
                   struct sti_error *err)
{
    json_t *obj;
    int rc;

    *json = NULL;
    rc = jwk_object(key, &obj, err);
    if (rc != STI_OK)
        return rc;
    /* Sorted keys without whitespace are also the RFC 7638 section 3
     * canonical form. */
    *json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (*json == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

int sti_key_jwk_thumbprint(const struct sti_key *key, char **out,
                           struct sti_error *err)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char *json;
    int rc;

    *out = NULL;
    rc = sti_key_to_jwk(key, &json, err);
    if (rc != STI_OK)
        return rc;
    SHA256((const unsigned char *)json, strlen(json), md);
    free(json);
    *out = sti_b64url_encode(md, sizeof(md));
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

/* Decodes one base64url coordinate member that must be 32 bytes long. */
static int jwk_coordinate(json_t *obj, const char *name,
                          unsigned char out[P256_COORD_LEN],
                          struct sti_error *err)
{
    const char *text = json_string_value(json_object_get(obj, name));
    unsigned char *raw;
    size_t len;

    if (text == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "JWK member \"%s\" is missing or not a string", name);
    if (sti_b64url_decode(text, strlen(text), &raw, &len) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "JWK member \"%s\" is not base64url", name);
    if (len != P256_COORD_LEN) {
        free(raw);
        return sti_seterr(err, STI_ERR_INVALID,
                          "JWK member \"%s\" has %zu bytes; P-256 needs 32",
                          name, len);
    }
    memcpy(out, raw, P256_COORD_LEN);
    free(raw);
    return STI_OK;
}

/* Imports an uncompressed P-256 point; OpenSSL rejects points that are
 * not on the curve. */
static int p256_from_point(const unsigned char *point, size_t len,
                           struct sti_key **out, struct sti_error *err)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    int rc = STI_OK;

    if (bld == NULL || ctx == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         SN_X9_62_prime256v1, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                          len) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        rc = sti_seterr_ssl(err, STI_ERR_NOMEM, "cannot build key parameters");
    else if (EVP_PKEY_fromdata_init(ctx) != 1 ||
             EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_INVALID,
                            "JWK x and y are not a point on P-256");
    if (rc == STI_OK && (*out = sti_key_from_pkey(pkey)) == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int jwk_check_type(json_t *obj, struct sti_error *err)
{
    const char *kty = json_string_value(json_object_get(obj, "kty"));
    const char *crv = json_string_value(json_object_get(obj, "crv"));

    if (kty == NULL || strcmp(kty, "EC") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "JWK kty is \"%s\"; only \"EC\" is supported",
                          kty ? kty : "(missing)");
    if (crv == NULL || strcmp(crv, "P-256") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "JWK crv is \"%s\"; only \"P-256\" is supported",
                          crv ? crv : "(missing)");
    return STI_OK;
}

int sti_key_from_jwk(const char *json, struct sti_key **out,
                     struct sti_error *err)
{
    unsigned char point[1 + 2 * P256_COORD_LEN];
    json_error_t jerr;
    json_t *obj;
    int rc;

    *out = NULL;
    obj = json != NULL ? json_loads(json, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return sti_seterr(err, STI_ERR_INVALID, "JWK is not a JSON object%s%s",
                          json ? ": " : "", json ? jerr.text : "");
    }
    point[0] = 0x04; /* uncompressed point, SEC 1 section 2.3.3 */
    rc = jwk_check_type(obj, err);
    if (rc == STI_OK)
        rc = jwk_coordinate(obj, "x", point + 1, err);
    if (rc == STI_OK)
        rc = jwk_coordinate(obj, "y", point + 1 + P256_COORD_LEN, err);
    json_decref(obj);
    if (rc != STI_OK)
        return rc;
    return p256_from_point(point, sizeof(point), out, err);
}
