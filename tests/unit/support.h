/* Helpers for the cmocka unit tests. */
#ifndef STI_TEST_SUPPORT_H
#define STI_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

/* Creates a fresh temporary directory; the caller frees the path. */
char *test_tmpdir(void);
/* Removes DIR and everything under it, then frees the path. */
void test_rmtree(char *dir);
/* Returns a path under DIR, freed by the caller. */
char *test_path(const char *dir, const char *name);
/* Returns the path of a file under tests/data (STI_TEST_DATA). */
char *test_data_path(const char *name);
/* Reads the file NAME under tests/data and fails the test when it cannot.
 * The caller frees the NUL-terminated data. */
unsigned char *test_read_data(const char *name, size_t *len);

/* The CRL distribution point URL in the test PKI's non-root certificates. */
#define TEST_CRL_URL "http://127.0.0.1:8080/crl"

/*
 * A SHAKEN hierarchy shared by the certificate tests, built once per test
 * program by test_pki_setup() and read only afterwards.  The PA root pa
 * signs the indirect CRL that the other certificates name.  The CA root
 * root issued the intermediate inter, which issued the SP certificates
 * leaf (SPC 1234) and other (SPC 5678, same key) and the SCA sca
 * (range:12025550100+100,tn:12025550999).  The SCA issued the delegate
 * certificate delegate (tn:12025550142).
 */
struct test_pki {
    struct sti_key *pa_key, *root_key, *inter_key, *leaf_key, *sca_key;
    struct sti_cert *pa, *root, *inter, *leaf, *other, *sca, *delegate;
};
extern struct test_pki test_pki;

/* Generates a P-256 key, or returns NULL on failure. */
struct sti_key *test_new_key(void);
/* Returns a certificate request of KIND for KEY with the organization
 * "Test PA" for a PA root and "Example Telecom" otherwise.  Non-root kinds
 * name TEST_CRL_URL with test_pki.pa as the CRL issuer. */
struct sti_cert_request test_cert_request(int kind, const struct sti_key *key);
/* Issues REQ like sti_cert_issue() and prints the error message when
 * issuance fails. */
int test_pki_issue(const struct sti_cert_request *req,
                   const struct sti_cert *issuer,
                   const struct sti_key *issuer_key, struct sti_cert **out);
/* Builds and frees test_pki, as cmocka group setup and teardown. */
int test_pki_setup(void **state);
int test_pki_teardown(void **state);

/* Checks that PEM equals the contents of the memory BIO PEM_BIO and that
 * DER[0..LEN) equals those of DER_BIO, then frees all four. */
void test_assert_pem_der(BIO *pem_bio, char *pem, BIO *der_bio,
                         unsigned char *der, size_t len);

#endif
