/* Unit tests for lib/inspect.c. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

static json_t *inspect_json(const void *data, size_t len)
{
    struct sti_error err;
    char *out = NULL;
    json_t *model;

    if (sti_inspect(data, len, STI_INSPECT_JSON, &out, &err) != STI_OK)
        fail_msg("inspect: %s", err.message);
    model = json_loads(out, 0, NULL);
    assert_non_null(model);
    free(out);
    return model;
}

/* The TNAuthList value of certificate INDEX's extension named TNAuthList. */
static json_t *tnauth_of(json_t *model, size_t index)
{
    json_t *cert =
        json_array_get(json_object_get(model, "certificates"), index);
    json_t *exts = json_object_get(cert, "extensions"), *ext;
    size_t i;

    json_array_foreach(exts, i, ext)
    {
        if (strcmp(json_string_value(json_object_get(ext, "name")),
                   "TNAuthList") == 0)
            return json_object_get(ext, "value");
    }
    return NULL;
}

static void pem_chain_json(void **state)
{
    size_t len;
    unsigned char *data = test_read_data("lint/clean/cert.pem", &len);
    json_t *model = inspect_json(data, len), *cert, *tn;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(model, "type")),
                        "certificates");
    assert_int_equal(json_integer_value(json_object_get(model, "count")), 3);
    cert = json_array_get(json_object_get(model, "certificates"), 0);
    assert_string_equal(json_string_value(json_object_get(cert, "subject")),
                        "CN=SHAKEN 1234,O=stilab lint,C=US");
    assert_string_equal(json_string_value(json_object_get(cert, "public_key")),
                        "EC P-256");
    assert_false(json_is_true(json_object_get(cert, "ca")));
    tn = tnauth_of(model, 0);
    assert_non_null(tn);
    assert_string_equal(json_string_value(json_object_get(tn, "spec")),
                        "spc:1234");
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(model, "certificates"), 2),
        "self_signed")));
    json_decref(model);
    free(data);
}

static void der_certificate(void **state)
{
    size_t len, dlen;
    unsigned char *data = test_read_data("lint/key_rsa/cert.pem", &len), *der;
    struct sti_cert *cert = NULL;
    json_t *model, *c;

    (void)state;
    assert_int_equal(sti_cert_parse(data, len, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_to_der(cert, &der, &dlen, NULL), STI_OK);
    model = inspect_json(der, dlen);
    assert_int_equal(json_integer_value(json_object_get(model, "count")), 1);
    c = json_array_get(json_object_get(model, "certificates"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "public_key")),
                        "RSA 2048 bits");
    json_decref(model);
    free(der);
    sti_cert_free(cert);
    free(data);
}

static void truncated_tnauth_is_reported(void **state)
{
    size_t len;
    unsigned char *data =
        test_read_data("lint/tnauth_truncated/cert.pem", &len);
    json_t *model = inspect_json(data, len), *tn;

    (void)state;
    tn = tnauth_of(model, 0);
    assert_non_null(tn);
    assert_non_null(json_object_get(tn, "error"));
    assert_string_equal(json_string_value(json_object_get(tn, "der")),
                        "30:08:A0:06:16:04:31:32:33");
    json_decref(model);
    free(data);
}

static void raw_and_base64_tnauth(void **state)
{
    static const unsigned char der[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                        0x04, 0x31, 0x32, 0x33, 0x34};
    static const char b64[] = "MAigBhYEODE4SA==\n";
    json_t *model;

    (void)state;
    model = inspect_json(der, sizeof(der));
    assert_string_equal(json_string_value(json_object_get(model, "type")),
                        "tnauthlist");
    assert_string_equal(json_string_value(json_object_get(model, "spec")),
                        "spc:1234");
    json_decref(model);
    model = inspect_json(b64, strlen(b64));
    assert_string_equal(json_string_value(json_object_get(model, "spec")),
                        "spc:818H");
    json_decref(model);
}

static void csr_pem_and_der(void **state)
{
    struct sti_key *key = NULL;
    struct sti_tnauth *tn = NULL;
    struct sti_csr *csr = NULL;
    struct sti_csr_request req = {NULL, "stilab test", "US", NULL, 0};
    unsigned char *der;
    size_t dlen;
    char *pem;
    json_t *model;

    (void)state;
    assert_int_equal(sti_key_generate(&key, NULL), STI_OK);
    assert_int_equal(sti_tnauth_parse_spec("spc:818H", &tn, NULL), STI_OK);
    req.tnauth = tn;
    assert_int_equal(sti_csr_create(&req, key, &csr, NULL), STI_OK);
    assert_int_equal(sti_csr_to_pem(csr, &pem, NULL), STI_OK);
    model = inspect_json(pem, strlen(pem));
    assert_string_equal(json_string_value(json_object_get(model, "type")),
                        "csr");
    assert_true(json_is_true(json_object_get(model, "signature_valid")));
    assert_non_null(strstr(json_string_value(json_object_get(model, "subject")),
                           "SHAKEN 818H"));
    json_decref(model);
    assert_int_equal(sti_csr_to_der(csr, &der, &dlen, NULL), STI_OK);
    model = inspect_json(der, dlen);
    assert_string_equal(json_string_value(json_object_get(model, "type")),
                        "csr");
    json_decref(model);
    free(der);
    free(pem);
    sti_csr_free(csr);
    sti_tnauth_free(tn);
    sti_key_free(key);
}

static void crl_with_entry(void **state)
{
    struct sti_key *key = NULL;
    struct sti_cert *pa = NULL;
    struct sti_crl *crl = NULL;
    struct sti_cert_request req;
    struct sti_crl_entry entry = {"0A1B2C", "CN=Other CA,O=x,C=US", 1700000000,
                                  STI_REASON_KEY_COMPROMISE};
    struct sti_crl_request creq;
    struct sti_error err;
    char *pem;
    json_t *model, *rev;

    (void)state;
    assert_int_equal(sti_key_generate(&key, NULL), STI_OK);
    memset(&req, 0, sizeof(req));
    req.kind = STI_CERT_PA_ROOT;
    req.organization = "stilab test";
    req.subject_key = key;
    assert_int_equal(sti_cert_issue(&req, NULL, NULL, &pa, NULL), STI_OK);
    memset(&creq, 0, sizeof(creq));
    creq.entries = &entry;
    creq.count = 1;
    creq.crl_number = 7;
    creq.next_update = time(NULL) + 86400;
    creq.indirect = 1;
    if (sti_crl_build(&creq, pa, key, &crl, &err) != STI_OK)
        fail_msg("crl: %s", err.message);
    assert_int_equal(sti_crl_to_pem(crl, &pem, NULL), STI_OK);
    model = inspect_json(pem, strlen(pem));
    assert_string_equal(json_string_value(json_object_get(model, "type")),
                        "crl");
    assert_true(json_is_true(json_object_get(model, "indirect")));
    assert_string_equal(json_string_value(json_object_get(model, "crl_number")),
                        "07");
    rev = json_array_get(json_object_get(model, "revoked"), 0);
    assert_string_equal(json_string_value(json_object_get(rev, "serial")),
                        "0A1B2C");
    assert_string_equal(json_string_value(json_object_get(rev, "reason")),
                        "keyCompromise");
    assert_string_equal(
        json_string_value(json_object_get(rev, "certificate_issuer")),
        "CN=Other CA,O=x,C=US");
    json_decref(model);
    free(pem);
    sti_crl_free(crl);
    sti_cert_free(pa);
    sti_key_free(key);
}

static void text_form(void **state)
{
    size_t len;
    unsigned char *data = test_read_data("lint/clean/cert.pem", &len);
    char *text = NULL;

    (void)state;
    assert_int_equal(sti_inspect(data, len, STI_INSPECT_TEXT, &text, NULL),
                     STI_OK);
    assert_non_null(strstr(text, "type: certificates\n"));
    assert_non_null(strstr(text, "    subject: CN=SHAKEN 1234,"));
    assert_non_null(strstr(text, "spec: spc:1234\n"));
    assert_non_null(strstr(text, "urls: http://127.0.0.1/crl.pem\n"));
    free(text);
    free(data);
}

static void rejects_bad_input(void **state)
{
    static const char *bad[] = {
        "hello world", "\x30\x03\x02\x01",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"};
    struct sti_error err;
    char *out = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            sti_inspect(bad[i], strlen(bad[i]), STI_INSPECT_TEXT, &out, &err),
            STI_ERR_INVALID);
        assert_null(out);
    }
    assert_int_equal(
        sti_inspect(bad[2], strlen(bad[2]), STI_INSPECT_JSON, &out, &err),
        STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "PRIVATE KEY"));
    assert_int_equal(sti_inspect("", 0, STI_INSPECT_TEXT, &out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_inspect(bad[0], 5, 9, &out, &err), STI_ERR_INVALID);
}

/* OpenSSL prints one line per policy; joining them with "; " makes the
 * text longer than OpenSSL's, which once overflowed the buffer. */
static void two_policies_on_one_line(void **state)
{
    static const char *const want = "Policy: 2.16.840.1.114569.1.1.4; "
                                    "Policy: 2.16.840.1.114569.1.1.3";
    size_t len, i;
    unsigned char *data = test_read_data("lint/two_policies/cert.pem", &len);
    json_t *model = inspect_json(data, len), *exts, *ext;
    const char *value = NULL;
    char *text = NULL;

    (void)state;
    exts = json_object_get(
        json_array_get(json_object_get(model, "certificates"), 0),
        "extensions");
    json_array_foreach(exts, i, ext)
    {
        if (strcmp(json_string_value(json_object_get(ext, "name")),
                   "certificatePolicies") == 0)
            value = json_string_value(json_object_get(ext, "value"));
    }
    assert_non_null(value);
    assert_string_equal(value, want);
    assert_int_equal(sti_inspect(data, len, STI_INSPECT_TEXT, &text, NULL),
                     STI_OK);
    assert_non_null(strstr(text, want));
    free(text);
    json_decref(model);
    free(data);
}

/* A self-signed certificate whose issuerAltName and CRL point carry URI.
 * Returns its DER, which the caller frees with OPENSSL_free. */
static unsigned char *cert_with_uri(const char *uri, int *len)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext;
    unsigned char *der = NULL;
    char value[128];

    assert_non_null(key);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (unsigned char *)"uri", -1, -1, 0),
        1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    snprintf(value, sizeof(value), "URI:%s", uri);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_issuer_alt_name, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_crl_distribution_points, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    *len = i2d_X509(x, &der);
    assert_true(*len > 0);
    X509_free(x);
    EVP_PKEY_free(key);
    return der;
}

/* Bytes that are not UTF-8 or are control characters become "\xNN", so the
 * JSON can always be written. */
static void unprintable_bytes_escaped(void **state)
{
    int len = 0;
    unsigned char *der = cert_with_uri("http://x/\xFF\x1B", &len);
    json_t *model = inspect_json(der, (size_t)len), *exts, *ext, *value;
    size_t i;
    int seen = 0;

    (void)state;
    exts = json_object_get(
        json_array_get(json_object_get(model, "certificates"), 0),
        "extensions");
    json_array_foreach(exts, i, ext)
    {
        const char *name = json_string_value(json_object_get(ext, "name"));

        value = json_object_get(ext, "value");
        if (strcmp(name, "issuerAltName") == 0) {
            assert_string_equal(json_string_value(value),
                                "URI:http://x/\\xFF\\x1B");
            seen++;
        } else if (strcmp(name, "crlDistributionPoints") == 0) {
            value = json_array_get(
                json_object_get(json_array_get(value, 0), "urls"), 0);
            assert_string_equal(json_string_value(value),
                                "http://x/\\xFF\\x1B");
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_decref(model);
    OPENSSL_free(der);
}

/* Truncations and bit flips of a certificate and of a TNAuthList give a
 * description or STI_ERR_INVALID, never a crash. */
static void damaged_input_never_crashes(void **state)
{
    static const unsigned char tn[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                       0x04, 0x31, 0x32, 0x33, 0x34};
    size_t len, dlen;
    unsigned char *pem = test_read_data("lint/two_spcs/cert.pem", &len), *der;
    struct sti_cert *cert = NULL;
    char *out;
    int rc;

    (void)state;
    assert_int_equal(sti_cert_parse(pem, len, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_to_der(cert, &der, &dlen, NULL), STI_OK);
    for (size_t i = 0; i < dlen; i++) {
        der[i] ^= 0x10;
        out = NULL;
        rc = sti_inspect(der, dlen, STI_INSPECT_JSON, &out, NULL);
        assert_true(rc == STI_OK || rc == STI_ERR_INVALID);
        free(out);
        der[i] ^= 0x10;
    }
    for (size_t n = 1; n < sizeof(tn); n++) {
        out = NULL;
        assert_int_equal(sti_inspect(tn, n, STI_INSPECT_TEXT, &out, NULL),
                         STI_ERR_INVALID);
    }
    free(der);
    free(pem);
    sti_cert_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pem_chain_json),
        cmocka_unit_test(der_certificate),
        cmocka_unit_test(truncated_tnauth_is_reported),
        cmocka_unit_test(raw_and_base64_tnauth),
        cmocka_unit_test(csr_pem_and_der),
        cmocka_unit_test(crl_with_entry),
        cmocka_unit_test(text_form),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(damaged_input_never_crashes),
        cmocka_unit_test(two_policies_on_one_line),
        cmocka_unit_test(unprintable_bytes_escaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
