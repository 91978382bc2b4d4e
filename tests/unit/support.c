/* Temporary directories, test data paths and output checks for the unit
 * tests. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = malloc(4096);

    if (dir == NULL)
        return NULL;
    snprintf(dir, 4096, "%s/sti-unit.XXXXXX", base ? base : "/tmp");
    if (mkdtemp(dir) == NULL) {
        free(dir);
        return NULL;
    }
    return dir;
}

void test_rmtree(char *dir)
{
    char cmd[4200];

    if (dir == NULL)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    free(dir);
}

char *test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *test_data_path(const char *name)
{
    const char *base = getenv("STI_TEST_DATA");

    return test_path(base ? base : "tests/data", name);
}

static void assert_bio_equal(BIO *bio, const void *data, size_t len)
{
    char *expected;
    long n = BIO_get_mem_data(bio, &expected);

    assert_true(n >= 0);
    assert_int_equal((size_t)n, len);
    assert_memory_equal(data, expected, len);
}

void test_assert_pem_der(BIO *pem_bio, char *pem, BIO *der_bio,
                         unsigned char *der, size_t len)
{
    assert_bio_equal(pem_bio, pem, strlen(pem));
    assert_bio_equal(der_bio, der, len);
    free(pem);
    free(der);
    BIO_free(pem_bio);
    BIO_free(der_bio);
}
