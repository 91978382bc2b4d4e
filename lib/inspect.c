/*
 * Descriptions of certificates, CSRs, CRLs and TNAuthLists.  Each input is
 * first turned into a JSON model; the text form is rendered from that
 * model, so both outputs always carry the same facts.
 */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define TNAUTH_OID "1.3.6.1.5.5.7.1.26"
#define MAX_CERTS 16

/* Small converters */

static json_t *jtime(const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return json_null();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* Length of the valid UTF-8 sequence at P (at most N bytes), or 0. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80                    ? 1
                 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
                 : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
                 : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                                : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong forms, UTF-16 surrogates and code points above U+10FFFF
     * (RFC 3629 section 4). */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

/*
 * A JSON string of LEN bytes of DATA, which certificates may fill with
 * any bytes: control characters other than newline and bytes that are
 * not UTF-8 become "\xNN", so that the JSON and the text output stay
 * printable.
 */
static json_t *jtext(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    char *buf = malloc(4 * len + 1), *o = buf;
    json_t *s;

    if (buf == NULL)
        return json_null();
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i);

        if (n == 0 ||
            (n == 1 && p[i] != '\n' && (p[i] < 0x20 || p[i] == 0x7F))) {
            o += sprintf(o, "\\x%02X", p[i]);
            i++;
            continue;
        }
        memcpy(o, p + i, n);
        o += n;
        i += n;
    }
    *o = '\0';
    s = json_string(buf);
    free(buf);
    return s ? s : json_null();
}

/* Takes the contents of a memory BIO as a JSON string and frees it. */
static json_t *jbio(BIO *bio)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    json_t *s = jtext(data, len > 0 ? (size_t)len : 0);

    BIO_free(bio);
    return s;
}

static json_t *jname(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL)
        return json_null();
    /* UTF-8 stays as it is; jtext escapes what is not printable. */
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return jbio(bio);
}

static json_t *jinteger_hex(const ASN1_INTEGER *ai)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    json_t *s = hex ? json_string(hex) : json_null();

    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

static json_t *jhex(const unsigned char *p, size_t len)
{
    char *buf = malloc(len * 3 + 1);
    json_t *s;

    if (buf == NULL)
        return json_null();
    buf[0] = '\0';
    for (size_t i = 0; i < len; i++)
        snprintf(buf + (i ? i * 3 - 1 : 0), 4, "%s%02X", i ? ":" : "", p[i]);
    s = json_string(buf);
    free(buf);
    return s;
}

static json_t *jkey(EVP_PKEY *pk)
{
    char group[64] = "";
    char buf[96];
    size_t glen = 0;

    if (pk == NULL)
        return json_string("unreadable");
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen);
        snprintf(buf, sizeof(buf), "EC %s",
                 strcmp(group, "prime256v1") == 0 ? "P-256" : group);
    } else {
        snprintf(buf, sizeof(buf), "%s %d bits",
                 EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk)
                                             : "unknown",
                 EVP_PKEY_get_bits(pk));
    }
    return json_string(buf);
}

/* TNAuthList */

static const char *tn_type_name(int type)
{
    if (type == STI_TN_SPC)
        return "spc";
    if (type == STI_TN_RANGE)
        return "range";
    return "tn";
}

static json_t *tnauth_model(const struct sti_tnauth *list)
{
    json_t *obj = json_object(), *entries = json_array();
    char *spec = sti_tnauth_to_spec(list);

    for (size_t i = 0; i < list->count; i++) {
        const struct sti_tn_entry *e = &list->entries[i];
        json_t *je = json_object();

        json_object_set_new(je, "type", json_string(tn_type_name(e->type)));
        json_object_set_new(je, "value", json_string(e->value));
        if (e->type == STI_TN_RANGE)
            json_object_set_new(je, "count",
                                json_integer((json_int_t)e->count));
        json_array_append_new(entries, je);
    }
    json_object_set_new(obj, "spec", spec ? json_string(spec) : json_null());
    json_object_set_new(obj, "entries", entries);
    sti_free(spec);
    return obj;
}

/* Decodes a TNAuthList; a malformed one becomes {"error": ...}. */
static json_t *tnauth_der_model(const unsigned char *der, size_t len)
{
    struct sti_tnauth *list = NULL;
    struct sti_error err;
    json_t *obj;

    if (sti_tnauth_decode(der, len, &list, &err) != STI_OK) {
        obj = json_object();
        json_object_set_new(obj, "error", json_string(err.message));
        json_object_set_new(obj, "der", jhex(der, len));
        return obj;
    }
    obj = tnauth_model(list);
    sti_tnauth_free(list);
    return obj;
}

/* Extensions */

/*
 * Joins OpenSSL's indented lines with "; ".  Each newline becomes two
 * characters, so the result needs its own buffer of up to twice the input.
 */
static char *join_lines(const char *text)
{
    char *joined = malloc(2 * strlen(text) + 1);
    char *o = joined;

    if (joined == NULL)
        return NULL;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p != '\n') {
            *o++ = *p;
            continue;
        }
        while (isspace((unsigned char)p[1]))
            p++;
        if (p[1] != '\0' && o > joined) {
            *o++ = ';';
            *o++ = ' ';
        }
    }
    *o = '\0';
    return joined;
}

/* OpenSSL's own rendering of a known extension, on one line. */
static json_t *ext_value_text(X509_EXTENSION *ext)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    json_t *s;
    char *text;

    if (bio == NULL)
        return json_null();
    if (X509V3_EXT_print(bio, ext, 0, 0) != 1) {
        BIO_free(bio);
        ERR_clear_error();
        return jhex(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
    }
    s = jbio(bio);
    text = json_is_string(s) ? join_lines(json_string_value(s)) : NULL;
    json_decref(s);
    if (text == NULL)
        return json_null();
    s = json_string(text);
    free(text);
    return s ? s : json_null();
}

/* Each distribution point as {"urls": [...], "crl_issuer": DN}. */
static json_t *crldp_model(X509_EXTENSION *ext)
{
    CRL_DIST_POINTS *dps = X509V3_EXT_d2i(ext);
    json_t *list;

    if (dps == NULL) {
        ERR_clear_error();
        return ext_value_text(ext);
    }
    list = json_array();
    for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        json_t *obj = json_object(), *urls = json_array();
        GENERAL_NAMES *names = dp->distpoint && dp->distpoint->type == 0
                                   ? dp->distpoint->name.fullname
                                   : NULL;

        for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
            const ASN1_IA5STRING *uri;

            if (gn->type != GEN_URI)
                continue;
            uri = gn->d.uniformResourceIdentifier;
            json_array_append_new(
                urls, jtext((const char *)ASN1_STRING_get0_data(uri),
                            (size_t)ASN1_STRING_length(uri)));
        }
        json_object_set_new(obj, "urls", urls);
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->CRLissuer); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->CRLissuer, j);

            if (gn->type == GEN_DIRNAME)
                json_object_set_new(obj, "crl_issuer",
                                    jname(gn->d.directoryName));
        }
        json_array_append_new(list, obj);
    }
    CRL_DIST_POINTS_free(dps);
    return list;
}

static json_t *ext_model(X509_EXTENSION *ext)
{
    const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    json_t *je = json_object();
    char oid[96];
    int nid = OBJ_obj2nid(obj);

    OBJ_obj2txt(oid, sizeof(oid), obj, 1);
    if (strcmp(oid, TNAUTH_OID) == 0)
        json_object_set_new(je, "name", json_string("TNAuthList"));
    else
        json_object_set_new(
            je, "name", json_string(nid != NID_undef ? OBJ_nid2sn(nid) : oid));
    json_object_set_new(je, "oid", json_string(oid));
    json_object_set_new(je, "critical",
                        json_boolean(X509_EXTENSION_get_critical(ext)));
    if (strcmp(oid, TNAUTH_OID) == 0)
        json_object_set_new(je, "value",
                            tnauth_der_model(ASN1_STRING_get0_data(v),
                                             (size_t)ASN1_STRING_length(v)));
    else if (nid == NID_crl_distribution_points)
        json_object_set_new(je, "value", crldp_model(ext));
    else
        json_object_set_new(je, "value", ext_value_text(ext));
    return je;
}

static json_t *exts_model(const STACK_OF(X509_EXTENSION) * exts)
{
    json_t *list = json_array();

    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
        json_array_append_new(list,
                              ext_model(sk_X509_EXTENSION_value(exts, i)));
    return list;
}

/* Certificates */

static json_t *fingerprint(const X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (X509_digest(x, EVP_sha256(), md, &len) != 1)
        return json_null();
    return jhex(md, len);
}

static json_t *cert_model(X509 *x)
{
    json_t *obj = json_object();
    int sig = X509_get_signature_nid(x);
    int self =
        X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;

    json_object_set_new(obj, "subject", jname(X509_get_subject_name(x)));
    json_object_set_new(obj, "issuer", jname(X509_get_issuer_name(x)));
    json_object_set_new(obj, "serial", jinteger_hex(X509_get0_serialNumber(x)));
    json_object_set_new(obj, "version", json_integer(X509_get_version(x) + 1));
    json_object_set_new(obj, "signature_algorithm",
                        json_string(sig ? OBJ_nid2ln(sig) : "unknown"));
    json_object_set_new(obj, "not_before", jtime(X509_get0_notBefore(x)));
    json_object_set_new(obj, "not_after", jtime(X509_get0_notAfter(x)));
    json_object_set_new(obj, "public_key", jkey(X509_get0_pubkey(x)));
    json_object_set_new(obj, "ca", json_boolean(X509_check_ca(x) > 0));
    json_object_set_new(obj, "self_signed", json_boolean(self));
    json_object_set_new(obj, "sha256_fingerprint", fingerprint(x));
    json_object_set_new(obj, "extensions", exts_model(X509_get0_extensions(x)));
    ERR_clear_error();
    return obj;
}

static json_t *certs_model(X509 **certs, size_t n)
{
    json_t *obj = json_object(), *list = json_array();

    json_object_set_new(obj, "type", json_string("certificates"));
    json_object_set_new(obj, "count", json_integer((json_int_t)n));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, cert_model(certs[i]));
    json_object_set_new(obj, "certificates", list);
    return obj;
}

/* CSRs */

static json_t *csr_model(X509_REQ *req)
{
    json_t *obj = json_object();
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    int sig = X509_REQ_get_signature_nid(req);

    json_object_set_new(obj, "type", json_string("csr"));
    json_object_set_new(obj, "subject", jname(X509_REQ_get_subject_name(req)));
    json_object_set_new(obj, "signature_algorithm",
                        json_string(sig ? OBJ_nid2ln(sig) : "unknown"));
    json_object_set_new(obj, "public_key", jkey(pk));
    json_object_set_new(obj, "signature_valid",
                        json_boolean(pk && X509_REQ_verify(req, pk) == 1));
    json_object_set_new(obj, "extensions", exts_model(exts));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return obj;
}

/* CRLs */

static json_t *crl_entry_model(X509_REVOKED *rev)
{
    json_t *obj = json_object();
    ASN1_ENUMERATED *reason =
        X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    GENERAL_NAMES *ci =
        X509_REVOKED_get_ext_d2i(rev, NID_certificate_issuer, NULL, NULL);
    long code = reason ? ASN1_ENUMERATED_get(reason) : -1;
    const char *name = code >= 0 ? sti_crl_reason_name((int)code) : NULL;

    json_object_set_new(obj, "serial",
                        jinteger_hex(X509_REVOKED_get0_serialNumber(rev)));
    json_object_set_new(obj, "revoked_at",
                        jtime(X509_REVOKED_get0_revocationDate(rev)));
    json_object_set_new(obj, "reason", name ? json_string(name) : json_null());
    for (int i = 0; ci && i < sk_GENERAL_NAME_num(ci); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(ci, i);

        if (gn->type == GEN_DIRNAME)
            json_object_set_new(obj, "certificate_issuer",
                                jname(gn->d.directoryName));
    }
    ASN1_ENUMERATED_free(reason);
    GENERAL_NAMES_free(ci);
    return obj;
}

static json_t *crl_model(X509_CRL *crl)
{
    json_t *obj = json_object(), *list = json_array();
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    ISSUING_DIST_POINT *idp =
        X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);

    json_object_set_new(obj, "type", json_string("crl"));
    json_object_set_new(obj, "issuer", jname(X509_CRL_get_issuer(crl)));
    json_object_set_new(obj, "this_update",
                        jtime(X509_CRL_get0_lastUpdate(crl)));
    json_object_set_new(obj, "next_update",
                        jtime(X509_CRL_get0_nextUpdate(crl)));
    json_object_set_new(obj, "crl_number",
                        num ? jinteger_hex(num) : json_null());
    json_object_set_new(obj, "indirect",
                        json_boolean(idp != NULL && idp->indirectCRL));
    for (int i = 0; i < sk_X509_REVOKED_num(revs); i++)
        json_array_append_new(list,
                              crl_entry_model(sk_X509_REVOKED_value(revs, i)));
    json_object_set_new(obj, "revoked", list);
    json_object_set_new(obj, "extensions",
                        exts_model(X509_CRL_get0_extensions(crl)));
    ASN1_INTEGER_free(num);
    ISSUING_DIST_POINT_free(idp);
    return obj;
}

/* Input detection */

static int pem_label(const char *data, size_t len, char *label, size_t size)
{
    const char *begin = memmem(data, len, "-----BEGIN ", 11);
    const char *end;
    size_t n;

    if (begin == NULL)
        return 0;
    begin += 11;
    end = memmem(begin, len - (size_t)(begin - data), "-----", 5);
    if (end == NULL)
        return 0;
    n = (size_t)(end - begin);
    snprintf(label, size, "%.*s", (int)(n < size ? n : size - 1), begin);
    return 1;
}

static int read_pem_certs(BIO *bio, json_t **model, struct sti_error *err)
{
    X509 *certs[MAX_CERTS];
    size_t n = 0;
    X509 *x;

    while (n < MAX_CERTS &&
           (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        certs[n++] = x;
    if (n == 0)
        return sti_seterr_ssl(err, STI_ERR_INVALID,
                              "the PEM certificate cannot be parsed");
    ERR_clear_error();
    *model = certs_model(certs, n);
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    return STI_OK;
}

static int inspect_pem(const void *data, size_t len, json_t **model,
                       struct sti_error *err)
{
    char label[64];
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509_REQ *req = NULL;
    X509_CRL *crl = NULL;
    int rc = STI_OK;

    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    pem_label(data, len, label, sizeof(label));
    if (strcmp(label, "CERTIFICATE") == 0) {
        rc = read_pem_certs(bio, model, err);
    } else if (strcmp(label, "CERTIFICATE REQUEST") == 0 ||
               strcmp(label, "NEW CERTIFICATE REQUEST") == 0) {
        req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
        rc = req ? STI_OK
                 : sti_seterr_ssl(err, STI_ERR_INVALID,
                                  "the PEM CSR cannot be parsed");
        if (req)
            *model = csr_model(req);
    } else if (strcmp(label, "X509 CRL") == 0) {
        crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        rc = crl ? STI_OK
                 : sti_seterr_ssl(err, STI_ERR_INVALID,
                                  "the PEM CRL cannot be parsed");
        if (crl)
            *model = crl_model(crl);
    } else {
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "PEM block '%s' is not a certificate, CSR or CRL",
                        label);
    }
    X509_REQ_free(req);
    X509_CRL_free(crl);
    BIO_free(bio);
    return rc;
}

static int inspect_der_certs(const unsigned char *p, size_t len, json_t **model)
{
    const unsigned char *end = p + len;
    X509 *certs[MAX_CERTS];
    size_t n = 0;
    int ok = 1;

    while (p < end && n < MAX_CERTS) {
        X509 *x = d2i_X509(NULL, &p, end - p);

        if (x == NULL) {
            ok = 0;
            break;
        }
        certs[n++] = x;
    }
    if (ok && n > 0 && p == end)
        *model = certs_model(certs, n);
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    ERR_clear_error();
    return *model != NULL;
}

/* Tries each DER type in turn; the first complete parse wins. */
static int inspect_der(const unsigned char *data, size_t len, json_t **model)
{
    const unsigned char *p = data;
    X509_REQ *req;
    X509_CRL *crl;
    struct sti_tnauth *list = NULL;

    if (inspect_der_certs(data, len, model))
        return 1;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req != NULL && p == data + len)
        *model = csr_model(req);
    X509_REQ_free(req);
    p = data;
    crl = *model ? NULL : d2i_X509_CRL(NULL, &p, (long)len);
    if (crl != NULL && p == data + len)
        *model = crl_model(crl);
    X509_CRL_free(crl);
    ERR_clear_error();
    if (*model == NULL && sti_tnauth_decode(data, len, &list, NULL) == STI_OK) {
        json_t *body = tnauth_model(list);

        *model = json_object();
        json_object_set_new(*model, "type", json_string("tnauthlist"));
        json_object_update(*model, body);
        json_decref(body);
        sti_tnauth_free(list);
    }
    return *model != NULL;
}

/* Base64 text, such as an SPC token's tkvalue, decoded to DER. */
static int inspect_base64(const char *data, size_t len, json_t **model)
{
    char *text = malloc(len + 1);
    unsigned char *der = NULL;
    size_t n = 0, derlen = 0;
    int found = 0;

    if (text == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)data[i]))
            text[n++] = data[i];
    if (n > 0 && (sti_b64_decode(text, n, &der, &derlen) == STI_OK ||
                  sti_b64url_decode(text, n, &der, &derlen) == STI_OK))
        found = inspect_der(der, derlen, model);
    free(der);
    free(text);
    return found;
}

static int build_model(const void *data, size_t len, json_t **model,
                       struct sti_error *err)
{
    char label[64];

    *model = NULL;
    if (data == NULL || len == 0 || len > INT32_MAX)
        return sti_seterr(err, STI_ERR_INVALID,
                          "empty input; give a "
                          "certificate, CSR, CRL or "
                          "TNAuthList");
    if (pem_label(data, len, label, sizeof(label)))
        return inspect_pem(data, len, model, err);
    if (inspect_der(data, len, model) || inspect_base64(data, len, model))
        return STI_OK;
    return sti_seterr(err, STI_ERR_INVALID,
                      "input is not a certificate, CSR, CRL or TNAuthList in "
                      "PEM, DER or base64");
}

/* Text rendering */

static void render(FILE *f, const json_t *v, int indent);

static void render_scalar(FILE *f, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), f);
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_TRUE:
        fputs("yes", f);
        break;
    case JSON_FALSE:
        fputs("no", f);
        break;
    default:
        fputs("-", f);
    }
}

/* Objects, and arrays holding objects or arrays, get their own lines. */
static int is_block(const json_t *v)
{
    size_t i;
    json_t *item;

    if (json_is_object(v))
        return 1;
    json_array_foreach(v, i, item)
    {
        if (json_is_object(item) || json_is_array(item))
            return 1;
    }
    return 0;
}

/* Scalars and arrays of scalars on one line, comma-separated. */
static void render_inline(FILE *f, const json_t *v)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v)) {
        render_scalar(f, v);
        return;
    }
    if (json_array_size(v) == 0)
        fputs("none", f);
    json_array_foreach(v, i, item)
    {
        if (i > 0)
            fputs(", ", f);
        render_scalar(f, item);
    }
}

static void render_object(FILE *f, const json_t *obj, int indent)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        fprintf(f, "%*s%s:", indent, "", key);
        if (is_block(v)) {
            fputc('\n', f);
            render(f, v, indent + 2);
        } else {
            fputc(' ', f);
            render_inline(f, v);
            fputc('\n', f);
        }
    }
}

static void render(FILE *f, const json_t *v, int indent)
{
    size_t i;
    json_t *item;

    if (json_is_object(v)) {
        render_object(f, v, indent);
        return;
    }
    if (!json_is_array(v)) {
        fprintf(f, "%*s", indent, "");
        render_scalar(f, v);
        fputc('\n', f);
        return;
    }
    json_array_foreach(v, i, item)
    {
        fprintf(f, "%*s[%zu]\n", indent, "", i);
        render(f, item, indent + 2);
    }
}

static int render_text(const json_t *model, char **out, struct sti_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    if (f == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    render(f, model, 0);
    if (fclose(f) != 0) {
        free(buf);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    *out = buf;
    return STI_OK;
}

int sti_inspect(const void *data, size_t len, int format, char **out,
                struct sti_error *err)
{
    json_t *model = NULL;
    int rc;

    *out = NULL;
    if (format != STI_INSPECT_TEXT && format != STI_INSPECT_JSON)
        return sti_seterr(err, STI_ERR_INVALID, "unknown inspect format %d",
                          format);
    rc = build_model(data, len, &model, err);
    if (rc != STI_OK)
        return rc;
    if (format == STI_INSPECT_JSON) {
        *out = json_dumps(model, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        rc = *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    } else {
        rc = render_text(model, out, err);
    }
    json_decref(model);
    return rc;
}
