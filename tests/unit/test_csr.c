/* Unit tests for lib/csr.c. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static struct sti_key *key;

static int setup_key(void **state)
{
    (void)state;
    return sti_key_generate(&key, NULL) == STI_OK ? 0 : -1;
}

static int teardown_key(void **state)
{
    (void)state;
    sti_key_free(key);
    return 0;
}

static struct sti_csr *make_csr(const char *tn_spec, int is_ca)
{
    struct sti_tnauth *list;
    struct sti_csr_request req = {0};
    struct sti_csr *csr;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(tn_spec, &list, &err), STI_OK);
    req.organization = "Example Telecom";
    req.tnauth = list;
    req.is_ca = is_ca;
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_OK);
    sti_tnauth_free(list);
    return csr;
}

static void create_sp_request(void **state)
{
    struct sti_csr *csr = make_csr("spc:1234", 0);
    struct sti_tnauth *list;
    struct sti_error err;
    struct sti_key *pub = sti_csr_get1_key(csr);
    char *subject = sti_csr_subject(csr);

    (void)state;
    assert_string_equal(subject, "CN=SHAKEN 1234,O=Example Telecom,C=US");
    assert_true(sti_key_public_equal(pub, key));
    assert_false(sti_key_has_private(pub));
    assert_false(sti_csr_is_ca(csr));
    assert_int_equal(sti_csr_get_tnauth(csr, &list, &err), STI_OK);
    assert_string_equal(sti_tnauth_get0_spc(list), "1234");
    sti_tnauth_free(list);
    free(subject);
    sti_key_free(pub);
    sti_csr_free(csr);
}

static void create_sca_request(void **state)
{
    struct sti_csr *csr = make_csr("range:12025550100+100", 1);
    struct sti_tnauth *list;
    struct sti_error err;
    char *subject = sti_csr_subject(csr);

    (void)state;
    assert_true(sti_csr_is_ca(csr));
    assert_int_equal(sti_csr_get_tnauth(csr, &list, &err), STI_OK);
    assert_int_equal(list->entries[0].type, STI_TN_RANGE);
    assert_int_equal(list->entries[0].count, 100);
    assert_non_null(strstr(subject, "CN=SHAKEN 12025550100"));
    sti_tnauth_free(list);
    free(subject);
    sti_csr_free(csr);
}

static void pem_der_round_trip(void **state)
{
    struct sti_csr *csr = make_csr("spc:818H", 0), *back;
    struct sti_tnauth *list;
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(sti_csr_to_pem(csr, &pem, &err), STI_OK);
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE REQUEST"));
    assert_int_equal(sti_csr_parse(pem, strlen(pem), &back, &err), STI_OK);
    assert_int_equal(sti_csr_get_tnauth(back, &list, &err), STI_OK);
    assert_string_equal(sti_tnauth_get0_spc(list), "818H");
    sti_tnauth_free(list);
    sti_csr_free(back);
    assert_int_equal(sti_csr_to_der(csr, &der, &len, &err), STI_OK);
    assert_int_equal(sti_csr_parse(der, len, &back, &err), STI_OK);
    sti_csr_free(back);
    assert_int_equal(sti_csr_parse(der, len - 3, &back, &err), STI_ERR_INVALID);
    assert_null(back);
    free(der);
    free(pem);
    sti_csr_free(csr);
}

/* PEM and DER output match OpenSSL's own X509_REQ writers byte for byte.
 * The tests cannot reach the X509_REQ inside struct sti_csr, so they
 * compare with a copy parsed back from the DER output. */
static void output_matches_openssl(void **state)
{
    struct sti_csr *csr = make_csr("spc:1234", 0);
    BIO *pem_bio = BIO_new(BIO_s_mem()), *der_bio = BIO_new(BIO_s_mem());
    const unsigned char *p;
    struct sti_error err;
    unsigned char *der;
    X509_REQ *x;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(sti_csr_to_der(csr, &der, &len, &err), STI_OK);
    p = der;
    x = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(x);
    assert_int_equal(PEM_write_bio_X509_REQ(pem_bio, x), 1);
    assert_int_equal(i2d_X509_REQ_bio(der_bio, x), 1);
    assert_int_equal(sti_csr_to_pem(csr, &pem, &err), STI_OK);
    test_assert_pem_der(pem_bio, pem, der_bio, der, len);
    X509_REQ_free(x);
    sti_csr_free(csr);
}

static void parse_rejects_bad_signature(void **state)
{
    struct sti_csr *csr = make_csr("spc:1234", 0), *back;
    struct sti_error err;
    unsigned char *der;
    size_t len;

    (void)state;
    assert_int_equal(sti_csr_to_der(csr, &der, &len, &err), STI_OK);
    /* The last byte belongs to the signature's S value. */
    der[len - 1] ^= 0x01;
    assert_int_equal(sti_csr_parse(der, len, &back, &err), STI_ERR_CRYPTO);
    assert_null(back);
    assert_non_null(strstr(err.message, "signature"));
    free(der);
    sti_csr_free(csr);
}

static void parse_rejects_garbage(void **state)
{
    struct sti_csr *csr;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_csr_parse("junk", 4, &csr, &err), STI_ERR_INVALID);
    assert_int_equal(sti_csr_parse(NULL, 0, &csr, &err), STI_ERR_INVALID);
    assert_int_equal(sti_csr_parse("-----BEGIN CERTIFICATE REQUEST-----\nAA==\n"
                                   "-----END CERTIFICATE REQUEST-----\n",
                                   74, &csr, &err),
                     STI_ERR_INVALID);
}

static void create_rejects_bad_requests(void **state)
{
    struct sti_tnauth *list;
    struct sti_csr_request req = {0};
    struct sti_csr *csr;
    struct sti_error err;
    struct sti_key *pub = NULL;
    char *pem;

    (void)state;
    assert_int_equal(sti_tnauth_parse_spec("spc:1234", &list, &err), STI_OK);
    req.organization = "Example";
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "TNAuthList"));
    req.tnauth = list;
    req.organization = NULL;
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "organization"));
    req.organization = "Example";
    req.country = "U";
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'U'"));
    req.country = NULL;
    req.common_name = "";
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_ERR_INVALID);
    req.common_name = NULL;
    assert_int_equal(sti_key_public_pem(key, &pem, &err), STI_OK);
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &pub, &err), STI_OK);
    assert_int_equal(sti_csr_create(&req, pub, &csr, &err), STI_ERR_INVALID);
    assert_null(csr);
    assert_int_equal(sti_csr_create(NULL, key, &csr, &err), STI_ERR_INVALID);
    free(pem);
    sti_key_free(pub);
    sti_tnauth_free(list);
}

static void request_without_tnauth(void **state)
{
    EVP_PKEY *pkey = sti_key_get0_pkey(key);
    X509_REQ *x = X509_REQ_new();
    struct sti_csr *csr;
    struct sti_tnauth *list;
    struct sti_error err;
    unsigned char *der = NULL;
    int n;

    (void)state;
    X509_REQ_set_pubkey(x, pkey);
    X509_REQ_sign(x, pkey, EVP_sha256());
    n = i2d_X509_REQ(x, &der);
    assert_int_equal(sti_csr_parse(der, (size_t)n, &csr, &err), STI_OK);
    assert_int_equal(sti_csr_get_tnauth(csr, &list, &err), STI_ERR_NOTFOUND);
    assert_false(sti_csr_is_ca(csr));
    sti_csr_free(csr);
    OPENSSL_free(der);
    X509_REQ_free(x);
}

static void load_and_null_inputs(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "req.pem"), *pem;
    struct sti_csr *csr = make_csr("spc:1234", 0), *back;
    struct sti_tnauth *list;
    struct sti_error err;
    unsigned char *der;
    size_t len;

    (void)state;
    assert_int_equal(sti_csr_to_pem(csr, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_csr_load(path, &back, &err), STI_OK);
    sti_csr_free(back);
    free(pem);
    free(path);
    path = test_path(dir, "missing.pem");
    assert_int_equal(sti_csr_load(path, &back, &err), STI_ERR_NOTFOUND);
    free(path);
    path = test_path(dir, "junk.pem");
    assert_int_equal(sti_file_write(path, "junk", 4, 0644, 1, &err), STI_OK);
    assert_int_equal(sti_csr_load(path, &back, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "junk.pem"));
    free(path);
    assert_int_equal(sti_csr_to_pem(NULL, &pem, &err), STI_ERR_INVALID);
    assert_int_equal(sti_csr_to_der(NULL, &der, &len, &err), STI_ERR_INVALID);
    assert_int_equal(sti_csr_get_tnauth(NULL, &list, &err), STI_ERR_INVALID);
    assert_null(sti_csr_get1_key(NULL));
    assert_null(sti_csr_subject(NULL));
    assert_false(sti_csr_is_ca(NULL));
    sti_csr_free(NULL);
    sti_csr_free(csr);
    test_rmtree(dir);
}

static void openssl_req_verifies(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "req.pem");
    struct sti_csr *csr = make_csr("spc:1234", 1);
    struct sti_error err;
    char cmd[4400], *pem;

    (void)state;
    assert_int_equal(sti_csr_to_pem(csr, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    snprintf(cmd, sizeof(cmd),
             "openssl req -in '%s' -noout -verify -text 2>&1 | "
             "grep -q 'CA:TRUE' && openssl req -in '%s' -noout -text | "
             "grep -q 1.3.6.1.5.5.7.1.26",
             path, path);
    assert_int_equal(system(cmd), 0);
    free(pem);
    free(path);
    sti_csr_free(csr);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_sp_request),
        cmocka_unit_test(create_sca_request),
        cmocka_unit_test(pem_der_round_trip),
        cmocka_unit_test(output_matches_openssl),
        cmocka_unit_test(parse_rejects_bad_signature),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(create_rejects_bad_requests),
        cmocka_unit_test(request_without_tnauth),
        cmocka_unit_test(load_and_null_inputs),
        cmocka_unit_test(openssl_req_verifies),
    };

    return cmocka_run_group_tests(tests, setup_key, teardown_key);
}
