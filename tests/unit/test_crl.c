/* Unit tests for lib/crl.c. */
#include "support.h"
#include "x509_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Builds the PA's indirect CRL revoking the leaf (keyCompromise) and the
 * intermediate (unspecified). */
static struct sti_crl *pa_crl(time_t now)
{
    char *leaf_serial = sti_cert_serial_hex(test_pki.leaf);
    char *leaf_issuer = sti_cert_issuer(test_pki.leaf);
    char *inter_serial = sti_cert_serial_hex(test_pki.inter);
    char *inter_issuer = sti_cert_issuer(test_pki.inter);
    struct sti_crl_entry entries[2] = {
        {leaf_serial, leaf_issuer, now - 60, STI_REASON_KEY_COMPROMISE},
        {inter_serial, inter_issuer, 0, STI_REASON_UNSPECIFIED},
    };
    struct sti_crl_request req = {entries, 2, 42, now, now + 86400, 1};
    struct sti_crl *crl;
    struct sti_error err;

    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err), STI_OK);
    free(leaf_serial);
    free(leaf_issuer);
    free(inter_serial);
    free(inter_issuer);
    return crl;
}

static void reason_names(void **state)
{
    (void)state;
    assert_int_equal(sti_crl_reason_from_name("keyCompromise"),
                     STI_REASON_KEY_COMPROMISE);
    assert_int_equal(sti_crl_reason_from_name("SUPERSEDED"),
                     STI_REASON_SUPERSEDED);
    assert_int_equal(sti_crl_reason_from_name("privilegeWithdrawn"),
                     STI_REASON_PRIVILEGE_WITHDRAWN);
    assert_int_equal(sti_crl_reason_from_name("stolen"), -1);
    assert_int_equal(sti_crl_reason_from_name(NULL), -1);
    for (int r = 0; r <= 10; r++)
        if (r != 7)
            assert_int_equal(sti_crl_reason_from_name(sti_crl_reason_name(r)),
                             r);
    assert_string_equal(sti_crl_reason_name(7), "unknown");
    assert_string_equal(sti_crl_reason_name(-1), "unknown");
}

static void indirect_crl_fields(void **state)
{
    time_t now = time(NULL);
    struct sti_crl *crl = pa_crl(now);
    char *issuer = sti_crl_issuer(crl),
         *pa_subject = sti_cert_subject(test_pki.pa);
    char *inter_subject = sti_cert_subject(test_pki.inter);
    char *leaf_serial = sti_cert_serial_hex(test_pki.leaf);
    struct sti_crl_entry e;

    (void)state;
    assert_string_equal(issuer, pa_subject);
    assert_true(sti_crl_is_indirect(crl));
    assert_int_equal(sti_crl_number(crl), 42);
    assert_int_equal(sti_crl_this_update(crl), now);
    assert_int_equal(sti_crl_next_update(crl), now + 86400);
    assert_int_equal(sti_crl_entry_count(crl), 2);
    assert_int_equal(sti_crl_get_entry(crl, 0, &e), STI_OK);
    assert_string_equal(e.serial_hex, leaf_serial);
    assert_string_equal(e.issuer_dn, inter_subject);
    assert_int_equal(e.revoked_at, now - 60);
    assert_int_equal(e.reason, STI_REASON_KEY_COMPROMISE);
    assert_int_equal(sti_crl_get_entry(crl, 1, &e), STI_OK);
    assert_int_equal(e.revoked_at, now);
    assert_int_equal(e.reason, STI_REASON_UNSPECIFIED);
    assert_non_null(strstr(e.issuer_dn, "SHAKEN ROOT"));
    assert_int_equal(sti_crl_get_entry(crl, 2, &e), STI_ERR_NOTFOUND);
    free(issuer);
    free(pa_subject);
    free(inter_subject);
    free(leaf_serial);
    sti_crl_free(crl);
}

static void indirect_crl_extensions(void **state)
{
    struct sti_crl *crl = pa_crl(time(NULL));
    X509_CRL *x = sti_crl_get0_x509_crl(crl);
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(x);
    const ASN1_OCTET_STRING *pa_ski =
        X509_get0_subject_key_id(sti_cert_get0_x509(test_pki.pa));
    AUTHORITY_KEYID *akid;
    int i;

    (void)state;
    assert_int_equal(X509_CRL_get_version(x), X509_CRL_VERSION_2);
    assert_int_equal(X509_CRL_get_signature_nid(x), NID_ecdsa_with_SHA256);
    i = X509_CRL_get_ext_by_NID(x, NID_issuing_distribution_point, -1);
    assert_true(i >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_CRL_get_ext(x, i)), 1);
    i = X509_CRL_get_ext_by_NID(x, NID_crl_number, -1);
    assert_int_equal(X509_EXTENSION_get_critical(X509_CRL_get_ext(x, i)), 0);
    akid = X509_CRL_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
    assert_non_null(akid);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, pa_ski), 0);
    AUTHORITY_KEYID_free(akid);
    for (int r = 0; r < sk_X509_REVOKED_num(revs); r++) {
        X509_REVOKED *rev = sk_X509_REVOKED_value(revs, r);

        i = X509_REVOKED_get_ext_by_NID(rev, NID_certificate_issuer, -1);
        assert_true(i >= 0);
        assert_int_equal(
            X509_EXTENSION_get_critical(X509_REVOKED_get_ext(rev, i)), 1);
    }
    sti_crl_free(crl);
}

static void unspecified_reason_is_omitted(void **state)
{
    struct sti_crl *crl = pa_crl(time(NULL));
    STACK_OF(X509_REVOKED) *revs =
        X509_CRL_get_REVOKED(sti_crl_get0_x509_crl(crl));
    int with_reason = 0;

    (void)state;
    for (int r = 0; r < sk_X509_REVOKED_num(revs); r++)
        with_reason +=
            X509_REVOKED_get_ext_by_NID(sk_X509_REVOKED_value(revs, r),
                                        NID_crl_reason, -1) >= 0;
    assert_int_equal(with_reason, 1);
    sti_crl_free(crl);
}

static void lists_and_signature(void **state)
{
    struct sti_crl *crl = pa_crl(time(NULL));

    (void)state;
    assert_true(sti_crl_lists(crl, test_pki.leaf));
    assert_true(sti_crl_lists(crl, test_pki.inter));
    assert_false(sti_crl_lists(crl, test_pki.other));
    assert_false(sti_crl_lists(crl, test_pki.root));
    assert_false(sti_crl_lists(NULL, test_pki.leaf));
    assert_false(sti_crl_lists(crl, NULL));
    assert_true(sti_crl_signed_by(crl, test_pki.pa));
    assert_false(sti_crl_signed_by(crl, test_pki.root));
    assert_false(sti_crl_signed_by(crl, NULL));
    sti_crl_free(crl);
}

static void same_serial_other_issuer(void **state)
{
    char *serial = sti_cert_serial_hex(test_pki.leaf);
    struct sti_crl_entry entry = {serial, "CN=Someone Else,O=X,C=US", 0, 1};
    struct sti_crl_request req = {&entry, 1, 1, 0, time(NULL) + 3600, 1};
    struct sti_crl *crl;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err), STI_OK);
    /* Same serial, but another issuer: not a match (RFC 5280 5.3.3). */
    assert_false(sti_crl_lists(crl, test_pki.leaf));
    sti_crl_free(crl);
    free(serial);
}

static void direct_crl(void **state)
{
    char *serial = sti_cert_serial_hex(test_pki.leaf);
    char *issuer = sti_cert_issuer(test_pki.leaf);
    struct sti_crl_entry entry = {serial, NULL, 0, STI_REASON_SUPERSEDED};
    struct sti_crl_request req = {&entry, 1, 5, 0, time(NULL) + 3600, 0};
    struct sti_crl *crl;
    struct sti_crl_entry e;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_crl_build(&req, test_pki.inter, test_pki.inter_key, &crl, &err),
        STI_OK);
    assert_false(sti_crl_is_indirect(crl));
    assert_true(sti_crl_lists(crl, test_pki.leaf));
    assert_int_equal(sti_crl_get_entry(crl, 0, &e), STI_OK);
    assert_null(e.issuer_dn);
    assert_int_equal(e.reason, STI_REASON_SUPERSEDED);
    sti_crl_free(crl);
    /* Naming the signer itself is fine in a direct CRL. */
    entry.issuer_dn = issuer;
    assert_int_equal(
        sti_crl_build(&req, test_pki.inter, test_pki.inter_key, &crl, &err),
        STI_OK);
    sti_crl_free(crl);
    entry.issuer_dn = "CN=Other,O=X,C=US";
    assert_int_equal(
        sti_crl_build(&req, test_pki.inter, test_pki.inter_key, &crl, &err),
        STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "indirect"));
    free(serial);
    free(issuer);
}

static void empty_crl(void **state)
{
    struct sti_crl_request req = {NULL, 0, 0, 0, time(NULL) + 3600, 1};
    struct sti_crl *crl;
    struct sti_crl_entry e;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err), STI_OK);
    assert_int_equal(sti_crl_entry_count(crl), 0);
    assert_int_equal(sti_crl_get_entry(crl, 0, &e), STI_ERR_NOTFOUND);
    assert_int_equal(sti_crl_number(crl), 0);
    assert_false(sti_crl_lists(crl, test_pki.leaf));
    sti_crl_free(crl);
}

static void build_rejects_bad_entries(void **state)
{
    static const struct {
        const char *serial;
        const char *issuer;
        int reason;
        const char *word;
    } bad[] = {
        {"xyz", NULL, 0, "'xyz'"},
        {"", NULL, 0, "serial"},
        {"0", NULL, 0, "'0'"},
        {"0123456789012345678901234567890123456789A", NULL, 0, "serial"},
        {"0A", NULL, 7, "reason code 7"},
        {"0A", NULL, 8, "reason code 8"},
        {"0A", NULL, 42, "reason code 42"},
        {"0A", NULL, -1, "reason code -1"},
        {"0A", "garbage", 0, "'garbage'"},
        {"0A", "CN=a+OU=b,C=US", 0, "issuer DN"},
        {"0A", "CN=#0403,C=US", 0, "issuer DN"},
        {"0A", "CN=a\\", 0, "issuer DN"},
    };
    struct sti_crl *crl;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sti_crl_entry entry = {bad[i].serial, bad[i].issuer, 0,
                                      bad[i].reason};
        struct sti_crl_request req = {&entry, 1, 1, 0, time(NULL) + 3600, 1};

        assert_int_equal(
            sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err),
            STI_ERR_INVALID);
        assert_null(crl);
        if (strstr(err.message, bad[i].word) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.message, bad[i].word);
    }
}

static void build_rejects_bad_requests(void **state)
{
    time_t now = time(NULL);
    struct sti_crl_request req = {NULL, 0, 1, now, now, 1};
    struct sti_crl *crl;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err),
        STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "nextUpdate"));
    req.next_update = now + 60;
    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.root_key, &crl, &err),
        STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "does not match"));
    assert_int_equal(sti_crl_build(&req, NULL, test_pki.pa_key, &crl, &err),
                     STI_ERR_INVALID);
    assert_int_equal(
        sti_crl_build(NULL, test_pki.pa, test_pki.pa_key, &crl, &err),
        STI_ERR_INVALID);
    req.count = 1;
    assert_int_equal(
        sti_crl_build(&req, test_pki.pa, test_pki.pa_key, &crl, &err),
        STI_ERR_INVALID);
}

static void pem_der_round_trip(void **state)
{
    struct sti_crl *crl = pa_crl(time(NULL)), *back;
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(sti_crl_to_pem(crl, &pem, &err), STI_OK);
    assert_non_null(strstr(pem, "BEGIN X509 CRL"));
    assert_int_equal(sti_crl_parse(pem, strlen(pem), &back, &err), STI_OK);
    assert_int_equal(sti_crl_entry_count(back), 2);
    assert_true(sti_crl_lists(back, test_pki.leaf));
    assert_true(sti_crl_is_indirect(back));
    sti_crl_free(back);
    assert_int_equal(sti_crl_to_der(crl, &der, &len, &err), STI_OK);
    assert_int_equal(sti_crl_parse(der, len, &back, &err), STI_OK);
    assert_int_equal(sti_crl_number(back), 42);
    sti_crl_free(back);
    assert_int_equal(sti_crl_parse(der, len - 1, &back, &err), STI_ERR_INVALID);
    assert_null(back);
    free(der);
    free(pem);
    sti_crl_free(crl);
}

/* PEM and DER output match OpenSSL's own X509_CRL writers byte for byte. */
static void output_matches_openssl(void **state)
{
    struct sti_crl *crl = pa_crl(time(NULL));
    X509_CRL *x = sti_crl_get0_x509_crl(crl);
    BIO *pem_bio = BIO_new(BIO_s_mem()), *der_bio = BIO_new(BIO_s_mem());
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *pem;

    (void)state;
    assert_int_equal(PEM_write_bio_X509_CRL(pem_bio, x), 1);
    assert_int_equal(i2d_X509_CRL_bio(der_bio, x), 1);
    assert_int_equal(sti_crl_to_pem(crl, &pem, &err), STI_OK);
    assert_int_equal(sti_crl_to_der(crl, &der, &len, &err), STI_OK);
    test_assert_pem_der(pem_bio, pem, der_bio, der, len);
    sti_crl_free(crl);
}

static void parse_rejects_garbage(void **state)
{
    struct sti_crl *crl;
    struct sti_error err;
    unsigned char *der;
    char *pem;
    size_t len;

    (void)state;
    assert_int_equal(sti_crl_parse("junk", 4, &crl, &err), STI_ERR_INVALID);
    assert_int_equal(sti_crl_parse(NULL, 0, &crl, &err), STI_ERR_INVALID);
    assert_int_equal(sti_crl_to_pem(NULL, &pem, &err), STI_ERR_INVALID);
    assert_int_equal(sti_crl_to_der(NULL, &der, &len, &err), STI_ERR_INVALID);
    assert_null(sti_crl_issuer(NULL));
    assert_int_equal(sti_crl_this_update(NULL), -1);
    assert_int_equal(sti_crl_next_update(NULL), -1);
    assert_int_equal(sti_crl_number(NULL), 0);
    assert_false(sti_crl_is_indirect(NULL));
    assert_int_equal(sti_crl_entry_count(NULL), 0);
    sti_crl_free(NULL);
}

static void load_from_files(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "crl.pem");
    struct sti_crl *crl = pa_crl(time(NULL)), *back;
    struct sti_error err;
    char *pem, cmd[4400];

    (void)state;
    assert_int_equal(sti_crl_to_pem(crl, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_crl_load(path, &back, &err), STI_OK);
    sti_crl_free(back);
    /* The openssl tool reads both indirect CRL extensions. */
    snprintf(cmd, sizeof(cmd),
             "openssl crl -in '%s' -noout -text | grep -q 'Indirect CRL' && "
             "openssl crl -in '%s' -noout -text | "
             "grep -q 'Certificate Issuer: critical'",
             path, path);
    assert_int_equal(system(cmd), 0);
    free(path);
    path = test_path(dir, "junk.crl");
    assert_int_equal(sti_file_write(path, "junk", 4, 0644, 1, &err), STI_OK);
    assert_int_equal(sti_crl_load(path, &back, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "junk.crl"));
    free(path);
    path = test_path(dir, "missing.crl");
    assert_int_equal(sti_crl_load(path, &back, &err), STI_ERR_NOTFOUND);
    free(path);
    free(pem);
    sti_crl_free(crl);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reason_names),
        cmocka_unit_test(indirect_crl_fields),
        cmocka_unit_test(indirect_crl_extensions),
        cmocka_unit_test(unspecified_reason_is_omitted),
        cmocka_unit_test(lists_and_signature),
        cmocka_unit_test(same_serial_other_issuer),
        cmocka_unit_test(direct_crl),
        cmocka_unit_test(empty_crl),
        cmocka_unit_test(build_rejects_bad_entries),
        cmocka_unit_test(build_rejects_bad_requests),
        cmocka_unit_test(pem_der_round_trip),
        cmocka_unit_test(output_matches_openssl),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(load_from_files),
    };

    return cmocka_run_group_tests(tests, test_pki_setup, test_pki_teardown);
}
