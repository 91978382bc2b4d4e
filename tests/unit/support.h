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

#endif
