/* Unit tests for lib/cert.c: parsing, output, accessors and chains. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* PEM and DER output match OpenSSL's own X509 writers byte for byte. */
static void output_matches_openssl(void **state)
{
    X509 *x = sti_cert_get0_x509(test_pki.leaf);
    BIO *pem_bio = BIO_new(BIO_s_mem()), *der_bio = BIO_new(BIO_s_mem());
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(PEM_write_bio_X509(pem_bio, x), 1);
    assert_int_equal(i2d_X509_bio(der_bio, x), 1);
    assert_int_equal(sti_cert_to_pem(test_pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_cert_to_der(test_pki.leaf, &der, &len, &err), STI_OK);
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
    assert_int_equal(sti_cert_to_pem(test_pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_cert_parse(pem, strlen(pem), &back, &err), STI_OK);
    assert_int_equal(sti_cert_fingerprint(test_pki.leaf, fa), STI_OK);
    assert_int_equal(sti_cert_fingerprint(back, fb), STI_OK);
    assert_string_equal(fa, fb);
    assert_int_equal(strlen(fa), 64);
    sti_cert_free(back);
    free(pem);
    assert_int_equal(sti_cert_to_der(test_pki.leaf, &der, &len, &err), STI_OK);
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
    assert_int_equal(sti_cert_to_der(test_pki.leaf, &der, &len, &err), STI_OK);
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
    assert_int_equal(sti_cert_to_pem(test_pki.leaf, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_cert_load(path, &cert, &err), STI_OK);
    assert_true(sti_cert_signed_by(cert, test_pki.inter));
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
    struct sti_key *key = sti_cert_get1_key(test_pki.leaf);
    char *issuer = sti_cert_issuer(test_pki.leaf);
    char *inter_subject = sti_cert_subject(test_pki.inter);
    char fp[65];

    (void)state;
    assert_true(sti_key_public_equal(key, test_pki.leaf_key));
    assert_false(sti_key_has_private(key));
    assert_string_equal(issuer, inter_subject);
    assert_true(sti_cert_signed_by(test_pki.leaf, test_pki.inter));
    assert_false(sti_cert_signed_by(test_pki.leaf, test_pki.root));
    assert_false(sti_cert_signed_by(NULL, test_pki.root));
    assert_false(sti_cert_is_ca(test_pki.leaf));
    assert_false(sti_cert_is_self_signed(test_pki.leaf));
    assert_true(sti_cert_not_after(test_pki.leaf) >
                sti_cert_not_before(test_pki.leaf));
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
    assert_ptr_equal(sti_cert_up_ref(test_pki.leaf), test_pki.leaf);
    sti_cert_free(test_pki.leaf);
    sti_cert_free(NULL);
    free(issuer);
    free(inter_subject);
    sti_key_free(key);
}

/* Re-signs a copy of the leaf with its TNAuthList value replaced. */
static struct sti_cert *leaf_with_tnauth(const unsigned char *der, int len,
                                         int copies)
{
    X509 *x = X509_dup(sti_cert_get0_x509(test_pki.leaf));
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
    X509_sign(x, sti_key_get0_pkey(test_pki.inter_key), EVP_sha256());
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
    assert_int_equal(sti_chain_push(chain, test_pki.leaf), STI_OK);
    assert_int_equal(sti_chain_push(chain, test_pki.inter), STI_OK);
    assert_int_equal(sti_chain_push(chain, NULL), STI_ERR_INVALID);
    assert_int_equal(sti_chain_push(NULL, test_pki.leaf), STI_ERR_INVALID);
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
    sti_chain_push(chain, test_pki.leaf);
    sti_chain_push(chain, test_pki.inter);
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
    assert_int_equal(sti_cert_to_der(test_pki.leaf, &der, &len, &err), STI_OK);
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

    return cmocka_run_group_tests(tests, test_pki_setup, test_pki_teardown);
}
