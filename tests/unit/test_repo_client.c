/* Unit tests for lib/repo_client.c: registering, checking, listing and
 * removing the client certificates of the STI-CR API. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sti_repo *repo;
static char *dir;

static int store_open(void **state)
{
    char *db;
    struct sti_error err;

    (void)state;
    dir = test_tmpdir();
    db = test_path(dir, "repo.db");
    assert_int_equal(sti_repo_open(db, &repo, &err), STI_OK);
    free(db);
    return 0;
}

static int store_close(void **state)
{
    (void)state;
    sti_repo_close(repo);
    test_rmtree(dir);
    return 0;
}

/* The SHA-256 of a test certificate, computed by the certificate module. */
static void sha256_of(const char *name, char out[65])
{
    char *path = test_data_path(name);
    struct sti_cert *cert;

    assert_int_equal(sti_cert_load(path, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_fingerprint(cert, out), STI_OK);
    sti_cert_free(cert);
    free(path);
}

static int add_file(const char *name, const char *file, char *name_out,
                    struct sti_error *err)
{
    size_t len;
    unsigned char *data = test_read_data(file, &len);
    int rc = sti_repo_client_add(repo, name, data, len, name_out, err);

    free(data);
    return rc;
}

static void client_add_and_check(void **state)
{
    char sha[65], name[STI_REPO_NAME_MAX + 1];
    struct sti_error err;

    (void)state;
    sha256_of("httpd/client.pem", sha);
    assert_int_equal(add_file("pub1", "httpd/client.pem", name, &err), STI_OK);
    assert_string_equal(name, "pub1");
    assert_int_equal(sti_repo_client_check(repo, sha, name, &err), STI_OK);
    assert_string_equal(name, "pub1");
    /* The same certificate under another name, and the name again. */
    assert_int_equal(add_file("pub2", "httpd/client.pem", NULL, &err),
                     STI_ERR_EXISTS);
    assert_non_null(strstr(err.message, sha));
    assert_int_equal(add_file("pub1", "httpd/client2.pem", NULL, &err),
                     STI_ERR_EXISTS);
    assert_non_null(strstr(err.message, "'pub1'"));
    assert_int_equal(sti_repo_client_remove(repo, "pub1", &err), STI_OK);
    assert_int_equal(sti_repo_client_check(repo, sha, NULL, &err),
                     STI_ERR_AUTH);
    assert_non_null(strstr(err.message, "not registered"));
}

static void client_default_name(void **state)
{
    char sha[65], name[STI_REPO_NAME_MAX + 1], expect[32];
    struct sti_error err;

    (void)state;
    sha256_of("httpd/client2.pem", sha);
    assert_int_equal(add_file(NULL, "httpd/client2.pem", name, &err), STI_OK);
    snprintf(expect, sizeof(expect), "cert-%.16s", sha);
    assert_string_equal(name, expect);
    /* Removal by SHA-256, in either case. */
    for (char *p = sha; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(sti_repo_client_remove(repo, sha, &err), STI_OK);
    assert_int_equal(sti_repo_client_remove(repo, sha, &err), STI_ERR_NOTFOUND);
}

static void client_bad_input_rejected(void **state)
{
    struct sti_error err;

    (void)state;
    assert_int_equal(add_file(NULL, "httpd/expired.pem", NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "expired on 2021-01-01"));
    assert_int_equal(add_file(NULL, "httpd/client.key", NULL, &err),
                     STI_ERR_INVALID);
    assert_int_equal(add_file("a b", "httpd/client.pem", NULL, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'a b'"));
    assert_int_equal(sti_repo_client_check(repo, "abc", NULL, &err),
                     STI_ERR_AUTH);
    assert_int_equal(sti_repo_client_check(repo, NULL, NULL, &err),
                     STI_ERR_AUTH);
    assert_int_equal(sti_repo_client_remove(repo, "", &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_client_remove(repo, NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_client_remove(repo, "nobody", &err),
                     STI_ERR_NOTFOUND);
}

static void client_lists(void **state)
{
    char sha[65];
    char *text;
    struct sti_error err;

    (void)state;
    sha256_of("httpd/client.pem", sha);
    assert_int_equal(add_file("zed", "httpd/client.pem", NULL, &err), STI_OK);
    assert_int_equal(add_file("abe", "httpd/client2.pem", NULL, &err), STI_OK);
    assert_int_equal(sti_repo_client_list_json(repo, &text, &err), STI_OK);
    assert_non_null(strstr(text, "\"name\": \"zed\""));
    assert_non_null(strstr(text, sha));
    assert_non_null(strstr(text, "CN=publisher one"));
    /* Sorted by name. */
    assert_true(strstr(text, "\"abe\"") < strstr(text, "\"zed\""));
    sti_free(text);
    assert_int_equal(sti_repo_client_list_text(repo, &text, &err), STI_OK);
    assert_int_equal(strncmp(text, "NAME ", 5), 0);
    assert_int_equal(strncmp(text,
                             "NAME                      NOT AFTER             "
                             "SHA-256 ",
                             56),
                     0);
    assert_non_null(strstr(text, "\nabe "));
    assert_non_null(strstr(text, sha));
    sti_free(text);
    assert_int_equal(sti_repo_client_remove(repo, "zed", &err), STI_OK);
    assert_int_equal(sti_repo_client_remove(repo, "abe", &err), STI_OK);
    assert_int_equal(sti_repo_client_list_json(repo, &text, &err), STI_OK);
    assert_non_null(strstr(text, "\"clients\": []"));
    sti_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_add_and_check),
        cmocka_unit_test(client_default_name),
        cmocka_unit_test(client_bad_input_rejected),
        cmocka_unit_test(client_lists),
    };

    return cmocka_run_group_tests(tests, store_open, store_close);
}
