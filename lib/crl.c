/*
 * X.509 v2 CRLs (RFC 5280 section 5), including the indirect CRL that a
 * policy administrator signs for certificates of other issuers.  Each entry
 * of an indirect CRL names its certificate's issuer in a critical
 * certificateIssuer extension (section 5.3.3), and the CRL carries a
 * critical issuingDistributionPoint with indirectCRL TRUE (section 5.2.5).
 */
#include "x509_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>

/* One revoked entry as read from the CRL, in encoding order. */
struct crl_entry_cache {
    char *serial_hex;
    char *issuer_dn; /* NULL when the CRL issuer issued the certificate */
    time_t revoked_at;
    int reason;
};

struct sti_crl {
    X509_CRL *crl;
    size_t count;
    struct crl_entry_cache *entries;
};

static const char *const reason_names[] = {
    "unspecified",        "keyCompromise",        "cACompromise",
    "affiliationChanged", "superseded",           "cessationOfOperation",
    "certificateHold",    NULL /* 7 is unused */, "removeFromCRL",
    "privilegeWithdrawn", "aACompromise"};
#define REASON_COUNT (int)(sizeof(reason_names) / sizeof(reason_names[0]))

int sti_crl_reason_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < REASON_COUNT; i++)
        if (reason_names[i] != NULL && strcasecmp(name, reason_names[i]) == 0)
            return i;
    return -1;
}

const char *sti_crl_reason_name(int reason)
{
    if (reason < 0 || reason >= REASON_COUNT || reason_names[reason] == NULL)
        return "unknown";
    return reason_names[reason];
}

X509_CRL *sti_crl_get0_x509_crl(const struct sti_crl *crl)
{
    return crl == NULL ? NULL : crl->crl;
}

void sti_crl_free(struct sti_crl *crl)
{
    if (crl == NULL)
        return;
    for (size_t i = 0; i < crl->count; i++) {
        free(crl->entries[i].serial_hex);
        free(crl->entries[i].issuer_dn);
    }
    free(crl->entries);
    X509_CRL_free(crl->crl);
    free(crl);
}

/* Reading entries */

static int entry_reason(X509_REVOKED *rev)
{
    ASN1_ENUMERATED *e =
        X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    long v = e ? ASN1_ENUMERATED_get(e) : STI_REASON_UNSPECIFIED;

    ASN1_ENUMERATED_free(e);
    return v < 0 || v >= REASON_COUNT ? -1 : (int)v;
}

/* Returns the DN of the first directoryName in a certificateIssuer. */
static char *general_names_dn(const GENERAL_NAMES *gens)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

        if (gn->type == GEN_DIRNAME)
            return sti_name_to_string(gn->d.directoryName);
    }
    return NULL;
}

/*
 * Fills the entry cache.  A certificateIssuer applies to its entry and to
 * the following entries until the next one (RFC 5280 section 5.3.3).
 */
static int cache_entries(struct sti_crl *crl, struct sti_error *err)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl->crl);
    int n = sk_X509_REVOKED_num(revs);
    const char *current = NULL;

    if (n <= 0)
        return STI_OK;
    crl->entries = calloc((size_t)n, sizeof(*crl->entries));
    if (crl->entries == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        X509_REVOKED *rev = sk_X509_REVOKED_value(revs, i);
        struct crl_entry_cache *e = &crl->entries[i];
        int crit = -1;
        GENERAL_NAMES *gens =
            X509_REVOKED_get_ext_d2i(rev, NID_certificate_issuer, &crit, NULL);

        crl->count++;
        if (gens == NULL && crit != -1)
            return sti_seterr(err, STI_ERR_INVALID,
                              "CRL entry %d has a malformed certificateIssuer",
                              i + 1);
        e->issuer_dn = gens ? general_names_dn(gens) : sti_strdup(current);
        GENERAL_NAMES_free(gens);
        current = e->issuer_dn;
        e->serial_hex =
            sti_asn1_integer_hex(X509_REVOKED_get0_serialNumber(rev));
        e->revoked_at =
            sti_asn1_time_to_time(X509_REVOKED_get0_revocationDate(rev));
        e->reason = entry_reason(rev);
        if (e->serial_hex == NULL)
            return sti_seterr(err, STI_ERR_INVALID,
                              "CRL entry %d has an unreadable serial", i + 1);
    }
    ERR_clear_error();
    return STI_OK;
}

static int wrap_crl(X509_CRL *x, struct sti_crl **out, struct sti_error *err)
{
    struct sti_crl *crl = calloc(1, sizeof(*crl));
    int rc;

    *out = NULL;
    if (crl == NULL) {
        X509_CRL_free(x);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    crl->crl = x;
    rc = cache_entries(crl, err);
    if (rc != STI_OK) {
        sti_crl_free(crl);
        return rc;
    }
    *out = crl;
    return STI_OK;
}

/* Building */

static int check_build_request(const struct sti_crl_request *req,
                               const struct sti_cert *signer,
                               const struct sti_key *key, struct sti_error *err)
{
    time_t this_update;

    if (req == NULL || signer == NULL || key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a CRL needs a request, a signer and its key");
    if (req->count > 0 && req->entries == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "CRL entries are missing");
    if (!sti_key_has_private(key) || !sti_key_is_p256(key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL signing key must be a P-256 private key");
    if (X509_check_private_key(sti_cert_get0_x509(signer),
                               sti_key_get0_pkey(key)) != 1) {
        ERR_clear_error();
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL signing key does not match the signer "
                          "certificate");
    }
    this_update = req->this_update ? req->this_update : time(NULL);
    if (req->next_update <= this_update)
        return sti_seterr(err, STI_ERR_INVALID,
                          "nextUpdate must be later than thisUpdate");
    return STI_OK;
}

static int add_reason(X509_REVOKED *rev, int reason)
{
    ASN1_ENUMERATED *e;
    int ok;

    /* RFC 5280 section 5.3.1: leave out the code for unspecified. */
    if (reason == STI_REASON_UNSPECIFIED)
        return 1;
    e = ASN1_ENUMERATED_new();
    ok = e != NULL && ASN1_ENUMERATED_set(e, reason) == 1 &&
         X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0) == 1;
    ASN1_ENUMERATED_free(e);
    return ok;
}

static int add_cert_issuer(X509_REVOKED *rev, const X509_NAME *issuer)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    X509_NAME *copy = X509_NAME_dup(issuer);
    int ok = 0;

    if (gens != NULL && gn != NULL && copy != NULL) {
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME, copy);
        copy = NULL;
        if (sk_GENERAL_NAME_push(gens, gn)) {
            gn = NULL;
            ok = X509_REVOKED_add1_ext_i2d(rev, NID_certificate_issuer, gens, 1,
                                           0) == 1;
        }
    }
    X509_NAME_free(copy);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return ok;
}

static int check_entry_fields(const struct sti_crl_entry *e, size_t i,
                              ASN1_INTEGER **serial, struct sti_error *err)
{
    BIGNUM *bn = NULL;
    size_t n = e->serial_hex ? strlen(e->serial_hex) : 0;

    *serial = NULL;
    if (n == 0 || n > 40 ||
        strspn(e->serial_hex, "0123456789abcdefABCDEF") != n ||
        BN_hex2bn(&bn, e->serial_hex) != (int)n || BN_is_zero(bn)) {
        BN_free(bn);
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL entry %zu: invalid serial '%.48s'; use 1 to 40 "
                          "hex digits, not zero",
                          i + 1, e->serial_hex ? e->serial_hex : "");
    }
    *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (e->reason < 0 || e->reason >= REASON_COUNT ||
        reason_names[e->reason] == NULL ||
        e->reason == 8 /* removeFromCRL is for delta CRLs only */)
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL entry %zu: invalid reason code %d", i + 1,
                          e->reason);
    return *serial ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

/* Resolves the issuer an entry names: the signer unless issuer_dn is set,
 * which only an indirect CRL allows. */
static int entry_issuer(const struct sti_crl_entry *e, size_t i, int indirect,
                        const X509_NAME *signer_dn, X509_NAME **out,
                        struct sti_error *err)
{
    *out = e->issuer_dn ? sti_name_from_string(e->issuer_dn)
                        : X509_NAME_dup(signer_dn);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL entry %zu: invalid issuer DN '%.200s'; write "
                          "it as RFC 2253, e.g. CN=X,O=Y,C=US",
                          i + 1, e->issuer_dn ? e->issuer_dn : "");
    if (!indirect && X509_NAME_cmp(*out, signer_dn) != 0) {
        X509_NAME_free(*out);
        *out = NULL;
        return sti_seterr(err, STI_ERR_INVALID,
                          "CRL entry %zu names issuer '%.200s', which only "
                          "an indirect CRL may list",
                          i + 1, e->issuer_dn);
    }
    return STI_OK;
}

static int add_entry(X509_CRL *x, const struct sti_crl_entry *e, size_t i,
                     const struct sti_crl_request *req,
                     const X509_NAME *signer_dn, time_t default_time,
                     struct sti_error *err)
{
    X509_REVOKED *rev = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = NULL;
    X509_NAME *issuer = NULL;
    int rc = check_entry_fields(e, i, &serial, err);

    if (rc == STI_OK)
        rc = entry_issuer(e, i, req->indirect, signer_dn, &issuer, err);
    if (rc != STI_OK)
        goto out;
    rev = X509_REVOKED_new();
    when = ASN1_TIME_set(NULL, e->revoked_at ? e->revoked_at : default_time);
    if (rev == NULL || when == NULL ||
        X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
        X509_REVOKED_set_revocationDate(rev, when) != 1 ||
        !add_reason(rev, e->reason) ||
        (req->indirect && !add_cert_issuer(rev, issuer)) ||
        X509_CRL_add0_revoked(x, rev) != 1) {
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot add CRL entry %zu",
                            i + 1);
        goto out;
    }
    rev = NULL;
out:
    X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    X509_NAME_free(issuer);
    return rc;
}

static int add_crl_extensions(X509_CRL *x, const struct sti_crl_request *req,
                              X509 *signer)
{
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509_EXTENSION *aki;
    X509V3_CTX ctx;
    int ok;

    X509V3_set_ctx(&ctx, signer, NULL, NULL, x, 0);
    aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                              "keyid:always");
    ok = num != NULL && aki != NULL &&
         ASN1_INTEGER_set_uint64(num, req->crl_number) == 1 &&
         X509_CRL_add_ext(x, aki, -1) == 1 &&
         X509_CRL_add1_ext_i2d(x, NID_crl_number, num, 0, 0) == 1;
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    if (ok && req->indirect) {
        ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();

        ok = idp != NULL;
        if (ok) {
            idp->indirectCRL = 0xFF;
            ok = X509_CRL_add1_ext_i2d(x, NID_issuing_distribution_point, idp,
                                       1, 0) == 1;
        }
        ISSUING_DIST_POINT_free(idp);
    }
    return ok;
}

static int set_crl_header(X509_CRL *x, const struct sti_crl_request *req,
                          X509 *signer, time_t this_update)
{
    ASN1_TIME *last = ASN1_TIME_set(NULL, this_update);
    ASN1_TIME *next = ASN1_TIME_set(NULL, req->next_update);
    int ok = last != NULL && next != NULL &&
             X509_CRL_set_version(x, X509_CRL_VERSION_2) == 1 &&
             X509_CRL_set_issuer_name(x, X509_get_subject_name(signer)) == 1 &&
             X509_CRL_set1_lastUpdate(x, last) == 1 &&
             X509_CRL_set1_nextUpdate(x, next) == 1;

    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    return ok;
}

/* Signs X and decodes it again, so that OpenSSL's cached entry data (such
 * as the issuer of each entry) is what a relying party will see. */
static int sign_and_wrap(X509_CRL *x, const struct sti_key *key,
                         struct sti_crl **out, struct sti_error *err)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    X509_CRL *copy = NULL;
    int n;

    if (X509_CRL_sign(x, sti_key_get0_pkey(key), EVP_sha256()) <= 0)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot sign the CRL");
    n = i2d_X509_CRL(x, &der);
    p = der;
    if (n > 0)
        copy = d2i_X509_CRL(NULL, &p, n);
    OPENSSL_free(der);
    if (copy == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot re-read the signed CRL");
    return wrap_crl(copy, out, err);
}

int sti_crl_build(const struct sti_crl_request *req,
                  const struct sti_cert *signer,
                  const struct sti_key *signer_key, struct sti_crl **out,
                  struct sti_error *err)
{
    X509 *sx = sti_cert_get0_x509(signer);
    X509_CRL *x;
    time_t this_update;
    int rc;

    *out = NULL;
    rc = check_build_request(req, signer, signer_key, err);
    if (rc != STI_OK)
        return rc;
    this_update = req->this_update ? req->this_update : time(NULL);
    x = X509_CRL_new();
    if (x == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (!set_crl_header(x, req, sx, this_update))
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot fill the CRL");
    for (size_t i = 0; rc == STI_OK && i < req->count; i++)
        rc = add_entry(x, &req->entries[i], i, req, X509_get_subject_name(sx),
                       this_update, err);
    if (rc == STI_OK && !add_crl_extensions(x, req, sx))
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot add the CRL extensions");
    if (rc == STI_OK)
        rc = sign_and_wrap(x, signer_key, out, err);
    X509_CRL_free(x);
    return rc;
}

/* Parsing and output */

static X509_CRL *crl_from_bytes(const void *data, size_t len)
{
    X509_CRL *x = NULL;

    if (sti_looks_like_pem(data, len)) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);

        if (bio != NULL)
            x = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else {
        const unsigned char *p = data;

        x = d2i_X509_CRL(NULL, &p, (long)len);
        if (x != NULL && p != (const unsigned char *)data + len) {
            X509_CRL_free(x);
            x = NULL;
        }
    }
    return x;
}

int sti_crl_parse(const void *data, size_t len, struct sti_crl **out,
                  struct sti_error *err)
{
    X509_CRL *x;

    *out = NULL;
    if (data == NULL || len == 0 || len > INT_MAX)
        return sti_seterr(err, STI_ERR_INVALID, "CRL data is empty");
    x = crl_from_bytes(data, len);
    if (x == NULL)
        return sti_seterr_ssl(err, STI_ERR_INVALID, "not a PEM or DER CRL");
    return wrap_crl(x, out, err);
}

int sti_crl_load(const char *path, struct sti_crl **out, struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_crl_parse(data, len, out, err);
    free(data);
    sti_error_prefix(err, rc, path);
    return rc;
}

int sti_crl_to_pem(const struct sti_crl *crl, char **pem, struct sti_error *err)
{
    return sti_asn1_to_pem(ASN1_ITEM_rptr(X509_CRL), PEM_STRING_X509_CRL,
                           crl ? crl->crl : NULL, "CRL", pem, err);
}

int sti_crl_to_der(const struct sti_crl *crl, unsigned char **der, size_t *len,
                   struct sti_error *err)
{
    return sti_asn1_to_der(ASN1_ITEM_rptr(X509_CRL), crl ? crl->crl : NULL,
                           "CRL", der, len, err);
}

/* Accessors */

char *sti_crl_issuer(const struct sti_crl *crl)
{
    return crl ? sti_name_to_string(X509_CRL_get_issuer(crl->crl)) : NULL;
}

time_t sti_crl_this_update(const struct sti_crl *crl)
{
    return crl ? sti_asn1_time_to_time(X509_CRL_get0_lastUpdate(crl->crl))
               : (time_t)-1;
}

time_t sti_crl_next_update(const struct sti_crl *crl)
{
    return crl ? sti_asn1_time_to_time(X509_CRL_get0_nextUpdate(crl->crl))
               : (time_t)-1;
}

uint64_t sti_crl_number(const struct sti_crl *crl)
{
    ASN1_INTEGER *num;
    uint64_t v = 0;

    if (crl == NULL)
        return 0;
    num = X509_CRL_get_ext_d2i(crl->crl, NID_crl_number, NULL, NULL);
    if (num == NULL || ASN1_INTEGER_get_uint64(&v, num) != 1)
        v = 0;
    ASN1_INTEGER_free(num);
    ERR_clear_error();
    return v;
}

int sti_crl_is_indirect(const struct sti_crl *crl)
{
    ISSUING_DIST_POINT *idp;
    int indirect;

    if (crl == NULL)
        return 0;
    idp = X509_CRL_get_ext_d2i(crl->crl, NID_issuing_distribution_point, NULL,
                               NULL);
    indirect = idp != NULL && idp->indirectCRL;
    ISSUING_DIST_POINT_free(idp);
    ERR_clear_error();
    return indirect;
}

size_t sti_crl_entry_count(const struct sti_crl *crl)
{
    return crl ? crl->count : 0;
}

int sti_crl_get_entry(const struct sti_crl *crl, size_t i,
                      struct sti_crl_entry *entry)
{
    const struct crl_entry_cache *e;

    if (crl == NULL || entry == NULL || i >= crl->count)
        return STI_ERR_NOTFOUND;
    e = &crl->entries[i];
    entry->serial_hex = e->serial_hex;
    entry->issuer_dn = e->issuer_dn;
    entry->revoked_at = e->revoked_at;
    entry->reason = e->reason;
    return STI_OK;
}

int sti_crl_lists(const struct sti_crl *crl, const struct sti_cert *cert)
{
    X509_REVOKED *rev = NULL;
    int r;

    if (crl == NULL || cert == NULL)
        return 0;
    /* OpenSSL matches the serial and, through certificateIssuer, the
     * certificate's issuer name. */
    r = X509_CRL_get0_by_cert(crl->crl, &rev, sti_cert_get0_x509(cert));
    ERR_clear_error();
    return r == 1;
}

int sti_crl_signed_by(const struct sti_crl *crl, const struct sti_cert *signer)
{
    EVP_PKEY *pkey;
    int ok;

    if (crl == NULL || signer == NULL)
        return 0;
    pkey = X509_get0_pubkey(sti_cert_get0_x509(signer));
    ok = pkey != NULL && X509_CRL_verify(crl->crl, pkey) == 1;
    ERR_clear_error();
    return ok;
}
