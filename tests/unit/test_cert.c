/* Unit tests for lib/cert.c: parsing, output, accessors and chains. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CRL_URL "http://127.0.0.1:8080/crl"

/* One SHAKEN hierarchy shared by the tests (built once, read only). */
struct pki {
    struct sti_key *pa_key, *root_key, *inter_key, *leaf_key, *sca_key;
    struct sti_cert *pa, *root, *inter, *leaf, *sca;
};
static struct pki pki;

static struct sti_key *new_key(void)
{
    struct sti_key *key;
    struct sti_error err;

    if (sti_key_generate(&key, &err) != STI_OK)
        return NULL;
    return key;
}

static struct sti_cert_request base_request(int kind, struct sti_key *key)
{
    struct sti_cert_request req;

    memset(&req, 0, sizeof(req));
    req.kind = kind;
    req.organization = "Example Telecom";
    req.subject_key = key;
    if (kind != STI_CERT_PA_ROOT && kind != STI_CERT_CA_ROOT) {
        req.crl_url = CRL_URL;
        req.crl_issuer = pki.pa;
    }
    return req;
}

static int issue(const struct sti_cert_request *req, struct sti_cert *issuer,
                 struct sti_key *issuer_key, struct sti_cert **out)
{
    struct sti_error err;
    int rc = sti_cert_issue(req, issuer, issuer_key, out, &err);

    if (rc != STI_OK)
        print_message("issue: %s\n", err.message);
    return rc;
}

static int setup_pki(void **state)
{
    struct sti_cert_request req;
    struct sti_tnauth *spc = NULL, *range = NULL;
    int rc;

    (void)state;
    pki.pa_key = new_key();
    pki.root_key = new_key();
    pki.inter_key = new_key();
    pki.leaf_key = new_key();
    pki.sca_key = new_key();
    req = base_request(STI_CERT_PA_ROOT, pki.pa_key);
    req.organization = "Test PA";
    rc = issue(&req, NULL, NULL, &pki.pa);
    req = base_request(STI_CERT_CA_ROOT, pki.root_key);
    rc |= issue(&req, NULL, NULL, &pki.root);
    req = base_request(STI_CERT_CA_INTERMEDIATE, pki.inter_key);
    rc |= issue(&req, pki.root, pki.root_key, &pki.inter);
    sti_tnauth_parse_spec("spc:1234", &spc, NULL);
    req = base_request(STI_CERT_SP, pki.leaf_key);
    req.tnauth = spc;
    rc |= issue(&req, pki.inter, pki.inter_key, &pki.leaf);
    sti_tnauth_parse_spec("range:12025550100+100,tn:12025550999", &range, NULL);
    req = base_request(STI_CERT_SCA, pki.sca_key);
    req.tnauth = range;
    rc |= issue(&req, pki.inter, pki.inter_key, &pki.sca);
    sti_tnauth_free(spc);
    sti_tnauth_free(range);
    return rc == STI_OK ? 0 : -1;
}

static int teardown_pki(void **state)
{
    (void)state;
    sti_cert_free(pki.pa);
    sti_cert_free(pki.root);
    sti_cert_free(pki.inter);
    sti_cert_free(pki.leaf);
    sti_cert_free(pki.sca);
    sti_key_free(pki.pa_key);
    sti_key_free(pki.root_key);
    sti_key_free(pki.inter_key);
    sti_key_free(pki.leaf_key);
    sti_key_free(pki.sca_key);
    return 0;
}

/* PEM and DER output match OpenSSL's own X509 writers byte for byte. */
static void output_matches_openssl(void **state)
{
    X509 *x = sti_cert_get0_x509(pki.leaf);
    BIO *pem_bio = BIO_new(BIO_s_mem()), *der_bio = BIO_new(BIO_s_mem());
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(PEM_write_bio_X509(pem_bio, x), 1);
    assert_int_equal(i2d_X509_bio(der_bio, x), 1);
    assert_int_equal(sti_cert_to_pem(pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_cert_to_der(pki.leaf, &der, &len, &err), STI_OK);
    test_assert_pem_der(pem_bio, pem, der_bio, der, len);
}

static void parse_pem_and_der(void **state)
{
    struct sti_cert *back;
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem, fa[65], fb[65];

    (void)state;
    assert_int_equal(sti_cert_to_pem(pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_cert_parse(pem, strlen(pem), &back, &err), STI_OK);
    assert_int_equal(sti_cert_fingerprint(pki.leaf, fa), STI_OK);
    assert_int_equal(sti_cert_fingerprint(back, fb), STI_OK);
    assert_string_equal(fa, fb);
    assert_int_equal(strlen(fa), 64);
    sti_cert_free(back);
    free(pem);
    assert_int_equal(sti_cert_to_der(pki.leaf, &der, &len, &err), STI_OK);
    assert_int_equal(sti_cert_parse(der, len, &back, &err), STI_OK);
    assert_int_equal(sti_cert_fingerprint(back, fb), STI_OK);
    assert_string_equal(fa, fb);
    sti_cert_free(back);
    assert_int_equal(sti_cert_parse(der, len - 1, &back, &err),
                     STI_ERR_INVALID);
    assert_null(back);
    free(der);
}

static void parse_rejects_garbage(void **state)
{
    static const char bad_pem[] =
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    struct sti_cert *cert;
    struct sti_error err;
    unsigned char *der, *longer;
    size_t len;

    (void)state;
    assert_int_equal(sti_cert_parse("junk", 4, &cert, &err), STI_ERR_INVALID);
    assert_int_equal(sti_cert_parse(bad_pem, strlen(bad_pem), &cert, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_cert_parse(NULL, 0, &cert, &err), STI_ERR_INVALID);
    assert_int_equal(sti_cert_to_der(pki.leaf, &der, &len, &err), STI_OK);
    longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(sti_cert_parse(longer, len + 1, &cert, &err),
                     STI_ERR_INVALID);
    free(longer);
    free(der);
    assert_int_equal(sti_cert_to_pem(NULL, (char **)&der, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_cert_to_der(NULL, &der, &len, &err), STI_ERR_INVALID);
}

static void load_from_files(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "leaf.pem");
    char *junk = test_path(dir, "junk.pem"), *pem;
    struct sti_cert *cert;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_cert_to_pem(pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_cert_load(path, &cert, &err), STI_OK);
    assert_true(sti_cert_signed_by(cert, pki.inter));
    sti_cert_free(cert);
    assert_int_equal(sti_file_write(junk, "junk", 4, 0644, 1, &err), STI_OK);
    assert_int_equal(sti_cert_load(junk, &cert, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "junk.pem"));
    free(junk);
    junk = test_path(dir, "missing.pem");
    assert_int_equal(sti_cert_load(junk, &cert, &err), STI_ERR_NOTFOUND);
    free(junk);
    free(pem);
    free(path);
    test_rmtree(dir);
}

static void accessors(void **state)
{
    struct sti_key *key = sti_cert_get1_key(pki.leaf);
    char *issuer = sti_cert_issuer(pki.leaf);
    char *inter_subject = sti_cert_subject(pki.inter);
    char fp[65];

    (void)state;
    assert_true(sti_key_public_equal(key, pki.leaf_key));
    assert_false(sti_key_has_private(key));
    assert_string_equal(issuer, inter_subject);
    assert_true(sti_cert_signed_by(pki.leaf, pki.inter));
    assert_false(sti_cert_signed_by(pki.leaf, pki.root));
    assert_false(sti_cert_signed_by(NULL, pki.root));
    assert_false(sti_cert_is_ca(pki.leaf));
    assert_false(sti_cert_is_self_signed(pki.leaf));
    assert_true(sti_cert_not_after(pki.leaf) > sti_cert_not_before(pki.leaf));
    assert_null(sti_cert_serial_hex(NULL));
    assert_null(sti_cert_subject(NULL));
    assert_null(sti_cert_issuer(NULL));
    assert_null(sti_cert_subject_cn(NULL));
    assert_int_equal(sti_cert_not_after(NULL), -1);
    assert_int_equal(sti_cert_not_before(NULL), -1);
    assert_false(sti_cert_is_ca(NULL));
    assert_false(sti_cert_is_self_signed(NULL));
    assert_null(sti_cert_get1_key(NULL));
    assert_int_equal(sti_cert_fingerprint(NULL, fp), STI_ERR_CRYPTO);
    assert_ptr_equal(sti_cert_up_ref(pki.leaf), pki.leaf);
    sti_cert_free(pki.leaf);
    sti_cert_free(NULL);
    free(issuer);
    free(inter_subject);
    sti_key_free(key);
}

/* Re-signs a copy of the leaf with its TNAuthList value replaced. */
static struct sti_cert *leaf_with_tnauth(const unsigned char *der, int len,
                                         int copies)
{
    X509 *x = X509_dup(sti_cert_get0_x509(pki.leaf));
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.26", 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    int i = X509_get_ext_by_OBJ(x, obj, -1);

    X509_EXTENSION_free(X509_delete_ext(x, i));
    ASN1_OCTET_STRING_set(value, der, len);
    for (int c = 0; c < copies; c++) {
        X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, value);

        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(x, sti_key_get0_pkey(pki.inter_key), EVP_sha256());
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(value);
    return sti_cert_from_x509(x);
}

static void malformed_tnauth_extension(void **state)
{
    static const unsigned char truncated[] = {0x30, 0x08, 0xA0, 0x06, 0x16};
    static const unsigned char good[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                         0x04, 0x31, 0x32, 0x33, 0x34};
    struct sti_cert *bad = leaf_with_tnauth(truncated, sizeof(truncated), 1);
    struct sti_cert *twice = leaf_with_tnauth(good, sizeof(good), 2);
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_cert_get_tnauth(bad, &list, &err), STI_ERR_INVALID);
    assert_null(list);
    assert_non_null(strstr(err.message, "TNAuthList"));
    assert_int_equal(sti_cert_get_tnauth(twice, &list, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "more than one"));
    sti_cert_free(bad);
    sti_cert_free(twice);
}

static void chain_round_trip(void **state)
{
    struct sti_chain *chain = sti_chain_new(), *back;
    struct sti_error err;
    char *pem, fa[65], fb[65];

    (void)state;
    assert_int_equal(sti_chain_push(chain, pki.leaf), STI_OK);
    assert_int_equal(sti_chain_push(chain, pki.inter), STI_OK);
    assert_int_equal(sti_chain_push(chain, NULL), STI_ERR_INVALID);
    assert_int_equal(sti_chain_push(NULL, pki.leaf), STI_ERR_INVALID);
    assert_int_equal(sti_chain_count(chain), 2);
    assert_int_equal(sti_chain_to_pem(chain, &pem, &err), STI_OK);
    assert_int_equal(sti_chain_parse(pem, strlen(pem), &back, &err), STI_OK);
    assert_int_equal(sti_chain_count(back), 2);
    for (size_t i = 0; i < 2; i++) {
        sti_cert_fingerprint(sti_chain_get0(chain, i), fa);
        sti_cert_fingerprint(sti_chain_get0(back, i), fb);
        assert_string_equal(fa, fb);
    }
    assert_null(sti_chain_get0(back, 2));
    assert_null(sti_chain_get0(NULL, 0));
    assert_int_equal(sti_chain_count(NULL), 0);
    free(pem);
    sti_chain_free(back);
    sti_chain_free(chain);
    sti_chain_free(NULL);
}

static void chain_parse_bad_input(void **state)
{
    struct sti_chain *chain = sti_chain_new(), *back;
    struct sti_error err;
    char *pem, *broken;
    unsigned char *der;
    size_t len;

    (void)state;
    assert_int_equal(sti_chain_to_pem(chain, &pem, &err), STI_ERR_INVALID);
    sti_chain_push(chain, pki.leaf);
    sti_chain_push(chain, pki.inter);
    assert_int_equal(sti_chain_to_pem(chain, &pem, &err), STI_OK);
    /* Corrupt the second certificate's base64 body. */
    broken = strdup(pem);
    broken[strlen(broken) - 60] = '!';
    assert_int_equal(sti_chain_parse(broken, strlen(broken), &back, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "certificate 2"));
    assert_int_equal(sti_chain_parse("junk", 4, &back, &err), STI_ERR_INVALID);
    assert_int_equal(sti_chain_parse("-----BEGIN X-----\n-----END X-----\n", 34,
                                     &back, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_chain_parse(NULL, 0, &back, &err), STI_ERR_INVALID);
    assert_int_equal(sti_cert_to_der(pki.leaf, &der, &len, &err), STI_OK);
    assert_int_equal(sti_chain_parse(der, len, &back, &err), STI_OK);
    assert_int_equal(sti_chain_count(back), 1);
    sti_chain_free(back);
    free(der);
    free(broken);
    free(pem);
    sti_chain_free(chain);
}

static void chain_load_file(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "chain.pem");
    struct sti_chain *chain;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_chain_load(path, &chain, &err), STI_ERR_NOTFOUND);
    assert_int_equal(sti_file_write(path, "x", 1, 0644, 1, &err), STI_OK);
    assert_int_equal(sti_chain_load(path, &chain, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "chain.pem"));
    free(path);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_pem_and_der),
        cmocka_unit_test(output_matches_openssl),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(load_from_files),
        cmocka_unit_test(accessors),
        cmocka_unit_test(malformed_tnauth_extension),
        cmocka_unit_test(chain_round_trip),
        cmocka_unit_test(chain_parse_bad_input),
        cmocka_unit_test(chain_load_file),
    };

    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
