/* Unit tests for lib/httpd_client.c: loading the client CA file and
 * verifying client certificate chains given as DER, without TLS. */
#include "support.h"

#include "httpd_int.h"

#include <stdlib.h>
#include <string.h>

static X509_STORE *store;
static char *store_pem;

static int load_store(void **state)
{
    char *path = test_data_path("httpd/client-ca.pem");
    struct sti_error err;

    (void)state;
    assert_int_equal(httpd_client_ca_load(path, &store, &store_pem, &err),
                     STI_OK);
    free(path);
    return 0;
}

static int free_store(void **state)
{
    (void)state;
    X509_STORE_free(store);
    free(store_pem);
    return 0;
}

/* The DER of the test certificate NAME.pem; free with free(). */
static unsigned char *der_of(const char *name, size_t *len)
{
    char file[64], *path;
    struct sti_cert *cert;
    unsigned char *der;

    snprintf(file, sizeof(file), "httpd/%s.pem", name);
    path = test_data_path(file);
    assert_int_equal(sti_cert_load(path, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_to_der(cert, &der, len, NULL), STI_OK);
    sti_cert_free(cert);
    free(path);
    return der;
}

/* Verifies the chain of the test certificates NAMES; returns the result. */
static int verify(const char *const *names, unsigned int count, char sha256[65],
                  char reason[HTTPD_REASON_MAX])
{
    const unsigned char *der[4];
    unsigned char *owned[4];
    size_t len[4];
    int ok;

    for (unsigned int i = 0; i < count; i++)
        der[i] = owned[i] = der_of(names[i], &len[i]);
    ok = httpd_client_verify(store, der, len, count, sha256, reason);
    for (unsigned int i = 0; i < count; i++)
        free(owned[i]);
    return ok;
}

static void client_ca_loaded(void **state)
{
    (void)state;
    assert_non_null(store);
    assert_non_null(strstr(store_pem, "BEGIN CERTIFICATE"));
}

static void valid_client_accepted(void **state)
{
    static const char *const leaf[] = {"client"};
    /* A client may send the CA too; it must not change the result. */
    static const char *const with_ca[] = {"client", "client-ca"};
    char sha[65], reason[HTTPD_REASON_MAX], expect[65];
    char *path = test_data_path("httpd/client.pem");
    struct sti_cert *cert;

    (void)state;
    assert_int_equal(sti_cert_load(path, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_fingerprint(cert, expect), STI_OK);
    sti_cert_free(cert);
    free(path);
    assert_int_equal(verify(leaf, 1, sha, reason), 1);
    assert_string_equal(sha, expect);
    assert_string_equal(reason, "");
    assert_int_equal(verify(with_ca, 2, sha, reason), 1);
    assert_string_equal(sha, expect);
}

static void invalid_clients_rejected(void **state)
{
    static const struct {
        const char *name;
        const char *reason;
    } cases[] = {
        {"other", "unable to get local issuer certificate"},
        {"expired", "certificate has expired"},
        {"server", "unsuitable certificate purpose"},
        /* The CA is a trust anchor, not a client certificate. */
        {"client-ca", "unsuitable certificate purpose"},
    };
    char sha[65], reason[HTTPD_REASON_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *names[] = {cases[i].name};

        assert_int_equal(verify(names, 1, sha, reason), 0);
        assert_string_equal(sha, "");
        assert_string_equal(reason, cases[i].reason);
    }
}

static void malformed_chains_rejected(void **state)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    const unsigned char *der[2] = {junk, junk};
    size_t len[2] = {sizeof(junk), sizeof(junk)};
    char sha[65], reason[HTTPD_REASON_MAX];
    size_t good_len;
    unsigned char *good = der_of("client", &good_len);

    (void)state;
    assert_int_equal(httpd_client_verify(store, der, len, 1, sha, reason), 0);
    assert_string_equal(reason, "malformed certificate");
    assert_int_equal(httpd_client_verify(store, der, len, 0, sha, reason), 0);
    assert_string_equal(reason, "no certificate");
    /* A good leaf with a malformed intermediate. */
    der[0] = good;
    len[0] = good_len;
    assert_int_equal(httpd_client_verify(store, der, len, 2, sha, reason), 0);
    assert_string_equal(reason, "malformed certificate");
    assert_string_equal(sha, "");
    free(good);
}

static void bad_ca_files_rejected(void **state)
{
    char *key = test_data_path("httpd/client.key");
    X509_STORE *s;
    char *pem;
    struct sti_error err;

    (void)state;
    assert_int_equal(httpd_client_ca_load(key, &s, &pem, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "contains no PEM certificate"));
    assert_null(s);
    assert_null(pem);
    assert_int_equal(
        httpd_client_ca_load("/nonexistent/ca.pem", &s, &pem, &err),
        STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "/nonexistent/ca.pem"));
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_ca_loaded),
        cmocka_unit_test(valid_client_accepted),
        cmocka_unit_test(invalid_clients_rejected),
        cmocka_unit_test(malformed_chains_rejected),
        cmocka_unit_test(bad_ca_files_rejected),
    };

    return cmocka_run_group_tests(tests, load_store, free_store);
}
