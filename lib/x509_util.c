/* Conversions shared by the certificate core (BIOs, names, times), and
 * helpers that build self-signed TLS certificates. */
#include "x509_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

int sti_bio_to_string(BIO *bio, char **out, size_t *len, struct sti_error *err)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *copy;

    *out = NULL;
    if (n < 0)
        return sti_seterr(err, STI_ERR_INTERNAL, "memory BIO has no data");
    copy = malloc((size_t)n + 1);
    if (copy == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *out = copy;
    if (len != NULL)
        *len = (size_t)n;
    return STI_OK;
}

int sti_der_dup(const unsigned char *der, int der_len, unsigned char **out,
                size_t *len, struct sti_error *err)
{
    *out = NULL;
    *len = 0;
    if (der == NULL || der_len <= 0)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO, "DER encoding failed");
    *out = malloc((size_t)der_len);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    memcpy(*out, der, (size_t)der_len);
    *len = (size_t)der_len;
    return STI_OK;
}

int sti_asn1_to_der(const ASN1_ITEM *it, const void *obj, const char *what,
                    unsigned char **der, size_t *len, struct sti_error *err)
{
    unsigned char *buf = NULL;
    int n, rc;

    *der = NULL;
    *len = 0;
    if (obj == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no %s given", what);
    n = ASN1_item_i2d(obj, &buf, it);
    rc = sti_der_dup(buf, n, der, len, err);
    OPENSSL_free(buf);
    return rc;
}

int sti_asn1_to_pem(const ASN1_ITEM *it, const char *label, const void *obj,
                    const char *what, char **pem, struct sti_error *err)
{
    unsigned char *der;
    size_t len;
    BIO *bio;
    int rc;

    *pem = NULL;
    rc = sti_asn1_to_der(it, obj, what, &der, &len, err);
    if (rc != STI_OK)
        return rc;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else if (PEM_write_bio(bio, label, "", der, (long)len) <= 0)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot encode the %s as PEM",
                            what);
    else
        rc = sti_bio_to_string(bio, pem, NULL, err);
    BIO_free(bio);
    free(der);
    return rc;
}

int sti_looks_like_pem(const void *data, size_t len)
{
    const char *p = data;
    size_t i = 0;

    while (i < len && isspace((unsigned char)p[i]))
        i++;
    return len - i >= 11 && memcmp(p + i, "-----BEGIN ", 11) == 0;
}

char *sti_name_to_string(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;

    if (bio == NULL)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
        sti_bio_to_string(bio, &out, NULL, NULL);
    BIO_free(bio);
    return out;
}

char *sti_asn1_integer_hex(const ASN1_INTEGER *ai)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *hex, *out = NULL;

    if (bn == NULL)
        return NULL;
    BN_set_negative(bn, 0);
    hex = BN_bn2hex(bn);
    if (hex != NULL) {
        /* Keep an even number of digits so the value reads as bytes. */
        size_t n = strlen(hex);

        out = malloc(n + 2);
        if (out != NULL)
            snprintf(out, n + 2, "%s%s", n % 2 ? "0" : "", hex);
        OPENSSL_free(hex);
    }
    BN_free(bn);
    return out;
}

time_t sti_asn1_time_to_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return (time_t)-1;
    return timegm(&tm);
}

int sti_x509_add_self_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

int sti_x509_set_random_serial(X509 *cert)
{
    unsigned char serial[16];
    BIGNUM *bn;
    int ok;

    if (sti_random_bytes(serial, sizeof(serial)) != STI_OK)
        return 0;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return ok;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies one RFC 2253 attribute value up to an unescaped ',' into OUT and
 * resolves "\c" and "\XX" escapes.  Returns the position after the value,
 * or NULL when the value is malformed. */
static const char *read_rdn_value(const char *p, char *out, size_t size)
{
    size_t n = 0;

    while (*p != '\0' && *p != ',') {
        int c = (unsigned char)*p++;

        if (c == '+' || c == ';')
            return NULL; /* multi-valued RDNs are not used in SHAKEN */
        if (c == '\\') {
            if (hex_value(p[0]) >= 0 && hex_value(p[1]) >= 0) {
                c = hex_value(p[0]) * 16 + hex_value(p[1]);
                p += 2;
            } else if (*p != '\0') {
                c = (unsigned char)*p++;
            } else {
                return NULL;
            }
        }
        if (n + 1 >= size)
            return NULL;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n > 0 ? p : NULL;
}

/* Parses "TYPE=VALUE" at P into TYPE and VALUE buffers. */
static const char *read_rdn(const char *p, char *type, size_t tsize,
                            char *value, size_t vsize)
{
    size_t n = 0;

    while (*p == ' ')
        p++;
    while (*p != '\0' && *p != '=' && n + 1 < tsize)
        type[n++] = *p++;
    type[n] = '\0';
    if (*p != '=' || n == 0 || p[1] == '#')
        return NULL;
    return read_rdn_value(p + 1, value, vsize);
}

X509_NAME *sti_name_from_string(const char *text)
{
    char types[16][32], values[16][256];
    const char *p = text;
    X509_NAME *name;
    int count = 0;

    if (text == NULL || *text == '\0')
        return NULL;
    while (count < 16) {
        p = read_rdn(p, types[count], sizeof(types[0]), values[count],
                     sizeof(values[0]));
        if (p == NULL)
            return NULL;
        count++;
        if (*p == '\0')
            break;
        p++; /* the ',' */
    }
    if (*p != '\0' || (name = X509_NAME_new()) == NULL)
        return NULL;
    /* RFC 2253 lists the most significant RDN last. */
    for (int i = count - 1; i >= 0; i--) {
        if (X509_NAME_add_entry_by_txt(name, types[i], MBSTRING_UTF8,
                                       (const unsigned char *)values[i], -1, -1,
                                       0) != 1) {
            X509_NAME_free(name);
            ERR_clear_error();
            return NULL;
        }
    }
    return name;
}
