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

/* Checks that PEM equals the contents of the memory BIO PEM_BIO and that
 * DER[0..LEN) equals those of DER_BIO, then frees all four. */
void test_assert_pem_der(BIO *pem_bio, char *pem, BIO *der_bio,
                         unsigned char *der, size_t len);

#endif
