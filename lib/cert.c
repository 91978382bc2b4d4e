/* X.509 certificates: parsing, output, accessors and chains. */
#include "x509_int.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct sti_cert {
    X509 *x509;
    atomic_int refs;
};

/* Objects */

struct sti_cert *sti_cert_from_x509(X509 *x509)
{
    struct sti_cert *cert;

    if (x509 == NULL)
        return NULL;
    cert = calloc(1, sizeof(*cert));
    if (cert == NULL) {
        X509_free(x509);
        return NULL;
    }
    cert->x509 = x509;
    atomic_init(&cert->refs, 1);
    return cert;
}

X509 *sti_cert_get0_x509(const struct sti_cert *cert)
{
    return cert == NULL ? NULL : cert->x509;
}

struct sti_cert *sti_cert_up_ref(struct sti_cert *cert)
{
    if (cert != NULL)
        atomic_fetch_add(&cert->refs, 1);
    return cert;
}

void sti_cert_free(struct sti_cert *cert)
{
    if (cert == NULL || atomic_fetch_sub(&cert->refs, 1) != 1)
        return;
    X509_free(cert->x509);
    free(cert);
}

/* Parsing and output */

static X509 *x509_from_pem(const void *data, size_t len)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *x = NULL;

    if (bio != NULL)
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

static X509 *x509_from_der(const void *data, size_t len)
{
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);

    if (x != NULL && p != (const unsigned char *)data + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int sti_cert_parse(const void *data, size_t len, struct sti_cert **out,
                   struct sti_error *err)
{
    X509 *x;

    *out = NULL;
    if (data == NULL || len == 0 || len > INT_MAX)
        return sti_seterr(err, STI_ERR_INVALID, "certificate data is empty");
    x = sti_looks_like_pem(data, len) ? x509_from_pem(data, len)
                                      : x509_from_der(data, len);
    if (x == NULL)
        return sti_seterr_ssl(err, STI_ERR_INVALID,
                              "not a PEM or DER X.509 certificate");
    *out = sti_cert_from_x509(x);
    return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

int sti_cert_load(const char *path, struct sti_cert **out,
                  struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_cert_parse(data, len, out, err);
    free(data);
    sti_error_prefix(err, rc, path);
    return rc;
}

int sti_cert_to_pem(const struct sti_cert *cert, char **pem,
                    struct sti_error *err)
{
    return sti_asn1_to_pem(ASN1_ITEM_rptr(X509), PEM_STRING_X509,
                           cert ? cert->x509 : NULL, "certificate", pem, err);
}

int sti_cert_to_der(const struct sti_cert *cert, unsigned char **der,
                    size_t *len, struct sti_error *err)
{
    return sti_asn1_to_der(ASN1_ITEM_rptr(X509), cert ? cert->x509 : NULL,
                           "certificate", der, len, err);
}

/* Accessors */

char *sti_cert_serial_hex(const struct sti_cert *cert)
{
    return cert ? sti_asn1_integer_hex(X509_get0_serialNumber(cert->x509))
                : NULL;
}

char *sti_cert_subject(const struct sti_cert *cert)
{
    return cert ? sti_name_to_string(X509_get_subject_name(cert->x509)) : NULL;
}

char *sti_cert_issuer(const struct sti_cert *cert)
{
    return cert ? sti_name_to_string(X509_get_issuer_name(cert->x509)) : NULL;
}

char *sti_cert_subject_cn(const struct sti_cert *cert)
{
    X509_NAME *name;
    X509_NAME_ENTRY *entry;
    unsigned char *utf8 = NULL;
    char *out;
    int i, n;

    if (cert == NULL)
        return NULL;
    name = X509_get_subject_name(cert->x509);
    i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    entry = i >= 0 ? X509_NAME_get_entry(name, i) : NULL;
    if (entry == NULL)
        return NULL;
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (n < 0)
        return NULL;
    out = malloc((size_t)n + 1);
    if (out != NULL) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    return out;
}

time_t sti_cert_not_before(const struct sti_cert *cert)
{
    return cert ? sti_asn1_time_to_time(X509_get0_notBefore(cert->x509))
                : (time_t)-1;
}

time_t sti_cert_not_after(const struct sti_cert *cert)
{
    return cert ? sti_asn1_time_to_time(X509_get0_notAfter(cert->x509))
                : (time_t)-1;
}

int sti_cert_is_ca(const struct sti_cert *cert)
{
    return cert != NULL && (X509_get_extension_flags(cert->x509) & EXFLAG_CA);
}

int sti_cert_is_self_signed(const struct sti_cert *cert)
{
    int r;

    if (cert == NULL)
        return 0;
    r = X509_self_signed(cert->x509, 1);
    ERR_clear_error();
    return r == 1;
}

int sti_cert_fingerprint(const struct sti_cert *cert, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    out[0] = '\0';
    if (cert == NULL || X509_digest(cert->x509, EVP_sha256(), md, &n) != 1)
        return STI_ERR_CRYPTO;
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return STI_OK;
}

struct sti_key *sti_cert_get1_key(const struct sti_cert *cert)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *pkey = NULL;
    int n;

    if (cert == NULL)
        return NULL;
    /* Decode the SPKI afresh: a freshly issued X509 can share the
     * subject's EVP_PKEY, private part included. */
    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert->x509), &der);
    p = der;
    if (n > 0)
        pkey = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    ERR_clear_error();
    return sti_key_from_pkey(pkey);
}

/* Finds the one TNAuthList extension; -1 when absent, -2 when repeated. */
static int tnauth_ext_index(X509 *x)
{
    ASN1_OBJECT *obj = sti_tnauth_obj();
    int first, again;

    if (obj == NULL)
        return -1;
    first = X509_get_ext_by_OBJ(x, obj, -1);
    again = first >= 0 ? X509_get_ext_by_OBJ(x, obj, first) : -1;
    ASN1_OBJECT_free(obj);
    return again >= 0 ? -2 : first;
}

int sti_cert_get_tnauth(const struct sti_cert *cert, struct sti_tnauth **out,
                        struct sti_error *err)
{
    X509_EXTENSION *ext;
    const ASN1_OCTET_STRING *value;
    int i, rc;

    *out = NULL;
    if (cert == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no certificate given");
    i = tnauth_ext_index(cert->x509);
    if (i == -2)
        return sti_seterr(err, STI_ERR_INVALID,
                          "certificate has more than one TNAuthList "
                          "extension (RFC 5280 section 4.2)");
    if (i < 0)
        return sti_seterr(err, STI_ERR_NOTFOUND,
                          "certificate has no TNAuthList extension");
    ext = X509_get_ext(cert->x509, i);
    value = X509_EXTENSION_get_data(ext);
    rc = sti_tnauth_decode(ASN1_STRING_get0_data(value),
                           (size_t)ASN1_STRING_length(value), out, err);
    if (rc != STI_OK && err != NULL) {
        char msg[STI_ERROR_MAX];

        snprintf(msg, sizeof(msg), "TNAuthList extension: %.400s",
                 err->message);
        sti_seterr(err, rc, "%s", msg);
    }
    return rc;
}

int sti_cert_signed_by(const struct sti_cert *cert,
                       const struct sti_cert *issuer)
{
    EVP_PKEY *pkey;
    int ok;

    if (cert == NULL || issuer == NULL)
        return 0;
    pkey = X509_get0_pubkey(issuer->x509);
    ok = pkey != NULL && X509_verify(cert->x509, pkey) == 1;
    ERR_clear_error();
    return ok;
}

/* Chains */

struct sti_chain {
    struct sti_cert **certs;
    size_t count;
};

struct sti_chain *sti_chain_new(void)
{
    return calloc(1, sizeof(struct sti_chain));
}

void sti_chain_free(struct sti_chain *chain)
{
    if (chain == NULL)
        return;
    for (size_t i = 0; i < chain->count; i++)
        sti_cert_free(chain->certs[i]);
    free(chain->certs);
    free(chain);
}

int sti_chain_push(struct sti_chain *chain, struct sti_cert *cert)
{
    struct sti_cert **grown;

    if (chain == NULL || cert == NULL)
        return STI_ERR_INVALID;
    grown = realloc(chain->certs, (chain->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return STI_ERR_NOMEM;
    chain->certs = grown;
    chain->certs[chain->count++] = sti_cert_up_ref(cert);
    return STI_OK;
}

size_t sti_chain_count(const struct sti_chain *chain)
{
    return chain ? chain->count : 0;
}

struct sti_cert *sti_chain_get0(const struct sti_chain *chain, size_t index)
{
    if (chain == NULL || index >= chain->count)
        return NULL;
    return chain->certs[index];
}

static int chain_push_x509(struct sti_chain *chain, X509 *x)
{
    struct sti_cert *cert = sti_cert_from_x509(x);
    int rc;

    if (cert == NULL)
        return STI_ERR_NOMEM;
    rc = sti_chain_push(chain, cert);
    sti_cert_free(cert);
    return rc;
}

/* Reads every certificate of a PEM buffer, stopping at the first block
 * that is not one. */
static int chain_read_pem(struct sti_chain *chain, const void *data, size_t len,
                          struct sti_error *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *x;
    int rc = STI_OK;

    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    while (rc == STI_OK && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
        rc = chain_push_x509(chain, x);
    /* PEM_R_NO_START_LINE marks the clean end of the input. */
    if (rc == STI_OK &&
        ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
        rc = sti_seterr_ssl(err, STI_ERR_INVALID,
                            "certificate %zu of the chain is malformed",
                            chain->count + 1);
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

int sti_chain_parse(const void *data, size_t len, struct sti_chain **out,
                    struct sti_error *err)
{
    struct sti_chain *chain;
    int rc;

    *out = NULL;
    if (data == NULL || len == 0 || len > INT_MAX)
        return sti_seterr(err, STI_ERR_INVALID, "certificate chain is empty");
    chain = sti_chain_new();
    if (chain == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (sti_looks_like_pem(data, len)) {
        rc = chain_read_pem(chain, data, len, err);
    } else {
        X509 *x = x509_from_der(data, len);

        rc = x ? chain_push_x509(chain, x)
               : sti_seterr(err, STI_ERR_INVALID,
                            "not a PEM chain or a DER certificate");
    }
    if (rc == STI_OK && chain->count == 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "no certificate found in the chain");
    if (rc != STI_OK) {
        sti_chain_free(chain);
        return rc;
    }
    *out = chain;
    return STI_OK;
}

int sti_chain_load(const char *path, struct sti_chain **out,
                   struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_chain_parse(data, len, out, err);
    free(data);
    sti_error_prefix(err, rc, path);
    return rc;
}

int sti_chain_to_pem(const struct sti_chain *chain, char **pem,
                     struct sti_error *err)
{
    BIO *bio;
    int rc = STI_OK;

    *pem = NULL;
    if (chain == NULL || chain->count == 0)
        return sti_seterr(err, STI_ERR_INVALID, "certificate chain is empty");
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < chain->count && rc == STI_OK; i++)
        if (PEM_write_bio_X509(bio, chain->certs[i]->x509) != 1)
            rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                                "cannot encode certificate %zu", i + 1);
    if (rc == STI_OK)
        rc = sti_bio_to_string(bio, pem, NULL, err);
    BIO_free(bio);
    return rc;
}
