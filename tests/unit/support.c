/* Temporary directories, test data paths, a test PKI and output checks for
 * the unit tests. */
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

unsigned char *test_read_data(const char *name, size_t *len)
{
    char *path = test_data_path(name);
    unsigned char *data = NULL;

    assert_int_equal(sti_file_read(path, &data, len, NULL), STI_OK);
    free(path);
    return data;
}

struct test_pki test_pki;

struct sti_key *test_new_key(void)
{
    struct sti_key *key;
    struct sti_error err;

    if (sti_key_generate(&key, &err) != STI_OK)
        return NULL;
    return key;
}

struct sti_cert_request test_cert_request(int kind, const struct sti_key *key)
{
    struct sti_cert_request req;

    memset(&req, 0, sizeof(req));
    req.kind = kind;
    req.organization = kind == STI_CERT_PA_ROOT ? "Test PA" : "Example Telecom";
    req.subject_key = key;
    if (kind != STI_CERT_PA_ROOT && kind != STI_CERT_CA_ROOT) {
        req.crl_url = TEST_CRL_URL;
        req.crl_issuer = test_pki.pa;
    }
    return req;
}

int test_pki_issue(const struct sti_cert_request *req,
                   const struct sti_cert *issuer,
                   const struct sti_key *issuer_key, struct sti_cert **out)
{
    struct sti_error err;
    int rc = sti_cert_issue(req, issuer, issuer_key, out, &err);

    if (rc != STI_OK)
        print_message("issue: %s\n", err.message);
    return rc;
}

/* Issues a certificate of KIND for KEY with the TNAuthList SPEC (or none). */
static int issue_spec(int kind, const char *spec, const struct sti_key *key,
                      const struct sti_cert *issuer,
                      const struct sti_key *issuer_key, struct sti_cert **out)
{
    struct sti_cert_request req = test_cert_request(kind, key);
    struct sti_tnauth *list = NULL;
    struct sti_error err;
    int rc;

    if (spec != NULL && sti_tnauth_parse_spec(spec, &list, &err) != STI_OK) {
        print_message("tnauth spec %s: %s\n", spec, err.message);
        return err.code;
    }
    req.tnauth = list;
    rc = test_pki_issue(&req, issuer, issuer_key, out);
    sti_tnauth_free(list);
    return rc;
}

int test_pki_setup(void **state)
{
    struct test_pki *p = &test_pki;
    int rc;

    (void)state;
    p->pa_key = test_new_key();
    p->root_key = test_new_key();
    p->inter_key = test_new_key();
    p->leaf_key = test_new_key();
    p->sca_key = test_new_key();
    rc = issue_spec(STI_CERT_PA_ROOT, NULL, p->pa_key, NULL, NULL, &p->pa);
    rc |= issue_spec(STI_CERT_CA_ROOT, NULL, p->root_key, NULL, NULL, &p->root);
    rc |= issue_spec(STI_CERT_CA_INTERMEDIATE, NULL, p->inter_key, p->root,
                     p->root_key, &p->inter);
    rc |= issue_spec(STI_CERT_SP, "spc:1234", p->leaf_key, p->inter,
                     p->inter_key, &p->leaf);
    rc |= issue_spec(STI_CERT_SP, "spc:5678", p->leaf_key, p->inter,
                     p->inter_key, &p->other);
    rc |= issue_spec(STI_CERT_SCA, "range:12025550100+100,tn:12025550999",
                     p->sca_key, p->inter, p->inter_key, &p->sca);
    rc |= issue_spec(STI_CERT_DELEGATE, "tn:12025550142", p->leaf_key, p->sca,
                     p->sca_key, &p->delegate);
    return rc == STI_OK ? 0 : -1;
}

int test_pki_teardown(void **state)
{
    struct test_pki *p = &test_pki;
    struct sti_cert *certs[] = {p->pa,    p->root, p->inter,   p->leaf,
                                p->other, p->sca,  p->delegate};
    struct sti_key *keys[] = {p->pa_key, p->root_key, p->inter_key, p->leaf_key,
                              p->sca_key};

    (void)state;
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        sti_cert_free(certs[i]);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        sti_key_free(keys[i]);
    memset(p, 0, sizeof(*p));
    return 0;
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
