/* Unit tests for lib/repo*.c: chain checks, the SQLite store, its memory
 * table, tokens, export and the TLS certificate. */
#include "support.h"

#include "repo_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

struct store {
    char *dir;
    char *db;
    struct sti_repo *repo;
};

static void store_open(struct store *s)
{
    struct sti_error err;

    s->dir = test_tmpdir();
    s->db = test_path(s->dir, "repo.db");
    assert_int_equal(sti_repo_open(s->db, &s->repo, &err), STI_OK);
}

static void store_close(struct store *s)
{
    sti_repo_close(s->repo);
    free(s->db);
    test_rmtree(s->dir);
}

static void publish_file(struct sti_repo *repo, const char *name,
                         const char *file, int *replaced)
{
    struct sti_error err;
    size_t len;
    unsigned char *data = test_read_data(file, &len);
    int rc = sti_repo_publish(repo, name, data, len, replaced, &err);

    if (rc != STI_OK)
        fprintf(stderr, "publish %s: %s\n", file, err.message);
    assert_int_equal(rc, STI_OK);
    free(data);
}

static void names_valid_and_invalid(void **state)
{
    static const char *good[] = {"sp1", "SP-1234_a.b", "0", "a..b"};
    static const char *bad[] = {"",     ".hidden", "-x",   "_x", "a/b",
                                "../x", "a b",     "a%2f", "é"};
    char longest[STI_REPO_NAME_MAX + 2];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(sti_repo_name_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sti_repo_name_valid(bad[i]));
    assert_false(sti_repo_name_valid(NULL));
    memset(longest, 'a', sizeof(longest));
    longest[STI_REPO_NAME_MAX] = '\0';
    assert_true(sti_repo_name_valid(longest));
    longest[STI_REPO_NAME_MAX] = 'a';
    longest[STI_REPO_NAME_MAX + 1] = '\0';
    assert_false(sti_repo_name_valid(longest));
}

static void chain_checks_by_case(void **state)
{
    static const struct {
        const char *file;
        int code;
        const char *reason;
    } cases[] = {
        {"repo/good.pem", STI_OK, NULL},
        {"repo/good2.pem", STI_OK, NULL},
        {"repo/leading-text.pem", STI_OK, NULL},
        {"repo/reversed.pem", STI_ERR_POLICY, "put the leaf first"},
        {"repo/no-tnauth.pem", STI_ERR_POLICY, "no TNAuthList"},
        {"repo/ca-leaf.pem", STI_ERR_POLICY, "is a CA"},
        {"repo/wrong-issuer.pem", STI_ERR_POLICY, "not signed by"},
        {"repo/expired.pem", STI_ERR_POLICY, "expired on"},
        {"repo/with-key.pem", STI_ERR_INVALID, "PRIVATE KEY"},
        {"repo/garbage.pem", STI_ERR_INVALID, "no PEM certificate"},
        {"repo/leaf.der", STI_ERR_INVALID, "binary"},
        {"repo/truncated.pem", STI_ERR_INVALID, NULL},
    };
    struct sti_error err;
    struct sti_chain *chain;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        unsigned char *data = test_read_data(cases[i].file, &len);
        int rc = sti_repo_check_chain(data, len, &chain, &err);

        if (rc != cases[i].code)
            fprintf(stderr, "%s: %d %s\n", cases[i].file, rc, err.message);
        assert_int_equal(rc, cases[i].code);
        if (cases[i].reason != NULL)
            assert_non_null(strstr(err.message, cases[i].reason));
        if (rc == STI_OK) {
            assert_int_equal(sti_chain_count(chain), 2);
            sti_chain_free(chain);
        } else {
            assert_null(chain);
        }
        free(data);
    }
    assert_int_equal(sti_repo_check_chain("", 0, NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_check_chain(NULL, 3, NULL, &err),
                     STI_ERR_INVALID);
}

static void chain_too_long_rejected(void **state)
{
    size_t len, i;
    unsigned char *one = test_read_data("repo/good.pem", &len);
    char *many = malloc(len * (STI_REPO_CHAIN_MAX + 1));
    struct sti_error err;

    (void)state;
    for (i = 0; i < (STI_REPO_CHAIN_MAX + 2) / 2; i++)
        memcpy(many + i * len, one, len);
    assert_int_equal(sti_repo_check_chain(many, i * len, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "more than the limit"));
    free(many);
    free(one);
}

static void publish_get_list_remove(void **state)
{
    struct store s;
    struct sti_error err;
    struct sti_repo_info *list;
    size_t n, len, glen;
    char *pem;
    unsigned char *good = test_read_data("repo/good.pem", &glen);
    int replaced = -1;

    (void)state;
    store_open(&s);
    assert_int_equal(sti_repo_count(s.repo), 0);
    publish_file(s.repo, "sp1", "repo/good.pem", &replaced);
    assert_int_equal(replaced, 0);
    publish_file(s.repo, "sp2", "repo/good2.pem", &replaced);
    assert_int_equal(sti_repo_count(s.repo), 2);
    assert_int_equal(sti_repo_get(s.repo, "sp1", &pem, &len, &err), STI_OK);
    assert_int_equal(len, glen);
    assert_memory_equal(pem, good, len);
    sti_free(pem);
    assert_int_equal(sti_repo_get(s.repo, "nope", &pem, &len, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_repo_list(s.repo, &list, &n, &err), STI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "sp1");
    assert_int_equal(list[0].certs, 2);
    assert_int_equal(list[0].size, glen);
    assert_non_null(strstr(list[0].subject, "SHAKEN 1234"));
    assert_int_equal(list[0].etag[0], '"');
    sti_free(list);
    assert_int_equal(sti_repo_publish(s.repo, "../x", good, glen, NULL, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_repo_remove(s.repo, "sp2", &err), STI_OK);
    assert_int_equal(sti_repo_remove(s.repo, "sp2", &err), STI_ERR_NOTFOUND);
    assert_int_equal(sti_repo_remove(s.repo, "a/b", &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_count(s.repo), 1);
    free(good);
    store_close(&s);
}

static void republish_keeps_modified(void **state)
{
    struct store s;
    struct repo_entry *a, *b;
    int replaced = 0;

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    a = repo_lookup(s.repo, "sp1", 3);
    sleep(1);
    publish_file(s.repo, "sp1", "repo/good.pem", &replaced);
    assert_int_equal(replaced, 1);
    b = repo_lookup(s.repo, "sp1", 3);
    assert_string_equal(a->etag, b->etag);
    assert_int_equal(a->modified, b->modified);
    repo_entry_unref(b);
    publish_file(s.repo, "sp1", "repo/good2.pem", &replaced);
    b = repo_lookup(s.repo, "sp1", 3);
    assert_string_not_equal(a->etag, b->etag);
    assert_true(b->modified > a->modified);
    repo_entry_unref(a);
    repo_entry_unref(b);
    store_close(&s);
}

static void intermediates_shared(void **state)
{
    struct store s;
    struct repo_entry *a, *b;

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    publish_file(s.repo, "sp2", "repo/good2.pem", NULL);
    a = repo_lookup(s.repo, "sp1", 3);
    b = repo_lookup(s.repo, "sp2", 3);
    assert_ptr_not_equal(a->certs[0], b->certs[0]);
    assert_ptr_equal(a->certs[1], b->certs[1]);
    assert_int_equal(a->certs[1]->refs, 2);
    repo_entry_unref(a);
    repo_entry_unref(b);
    assert_int_equal(sti_repo_remove(s.repo, "sp2", NULL), STI_OK);
    a = repo_lookup(s.repo, "sp1", 3);
    assert_int_equal(a->certs[1]->refs, 1);
    repo_entry_unref(a);
    store_close(&s);
}

static void second_handle_syncs(void **state)
{
    struct store s;
    struct sti_repo *other;
    struct sti_error err;
    size_t changed = 99;

    (void)state;
    store_open(&s);
    assert_int_equal(sti_repo_open(s.db, &other, &err), STI_OK);
    assert_int_equal(sti_repo_sync(other, &changed, &err), STI_OK);
    assert_int_equal(changed, 0);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    publish_file(s.repo, "sp2", "repo/good2.pem", NULL);
    assert_int_equal(sti_repo_sync(other, &changed, &err), STI_OK);
    assert_int_equal(changed, 2);
    assert_int_equal(sti_repo_count(other), 2);
    /* Nothing new: data_version is unchanged. */
    assert_int_equal(sti_repo_sync(other, &changed, &err), STI_OK);
    assert_int_equal(changed, 0);
    publish_file(s.repo, "sp1", "repo/good2.pem", NULL);
    assert_int_equal(sti_repo_remove(s.repo, "sp2", &err), STI_OK);
    assert_int_equal(sti_repo_sync(other, &changed, &err), STI_OK);
    assert_int_equal(changed, 2);
    assert_int_equal(sti_repo_count(other), 1);
    sti_repo_close(other);
    /* A restart loads everything from the database. */
    assert_int_equal(sti_repo_open(s.db, &other, &err), STI_OK);
    assert_int_equal(sti_repo_count(other), 1);
    sti_repo_close(other);
    store_close(&s);
}

struct reader_args {
    struct sti_repo *repo;
    const char *a, *b;
    size_t alen, blen;
    int mixed;
    int reads;
};

static void *reader(void *arg)
{
    struct reader_args *r = arg;

    for (int i = 0; i < 3000; i++) {
        struct repo_entry *e = repo_lookup(r->repo, "sp", 2);
        char body[4096];
        size_t off = 0;

        if (e == NULL) {
            r->mixed++; /* a reader must never find nothing */
            continue;
        }
        repo_entry_write_pem(e, body);
        off = e->size;
        if (!(off == r->alen && memcmp(body, r->a, off) == 0) &&
            !(off == r->blen && memcmp(body, r->b, off) == 0))
            r->mixed++;
        r->reads++;
        repo_entry_unref(e);
    }
    return NULL;
}

static void replace_is_atomic(void **state)
{
    struct store s;
    struct reader_args args;
    pthread_t threads[2];
    size_t alen, blen;
    unsigned char *a = test_read_data("repo/good.pem", &alen);
    unsigned char *b = test_read_data("repo/good2.pem", &blen);

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp", "repo/good.pem", NULL);
    args = (struct reader_args){s.repo, (char *)a, (char *)b, alen, blen, 0, 0};
    /* Each thread gets its own counters. */
    struct reader_args per[2] = {args, args};

    for (int t = 0; t < 2; t++)
        pthread_create(&threads[t], NULL, reader, &per[t]);
    for (int i = 0; i < 40; i++)
        publish_file(s.repo, "sp", i % 2 ? "repo/good.pem" : "repo/good2.pem",
                     NULL);
    for (int t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(per[t].mixed, 0);
        assert_int_equal(per[t].reads, 3000);
    }
    free(a);
    free(b);
    store_close(&s);
}

static void tokens_hashed_and_checked(void **state)
{
    struct store s;
    struct sti_error err;
    char *token, *json, name[STI_REPO_NAME_MAX + 1];
    unsigned char *db;
    size_t len;

    (void)state;
    store_open(&s);
    assert_int_equal(sti_repo_token_add(s.repo, "ci", &token, &err), STI_OK);
    assert_int_equal(strlen(token), 43);
    assert_int_equal(sti_repo_token_check(s.repo, token, name, &err), STI_OK);
    assert_string_equal(name, "ci");
    assert_int_equal(sti_repo_token_check(s.repo, "wrong", name, &err),
                     STI_ERR_AUTH);
    assert_int_equal(sti_repo_token_check(s.repo, "", NULL, &err),
                     STI_ERR_AUTH);
    assert_int_equal(sti_repo_token_check(s.repo, NULL, NULL, &err),
                     STI_ERR_AUTH);
    /* Only the hash reaches the database file. */
    sti_sqlite_exec(s.repo->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
    assert_int_equal(sti_file_read(s.db, &db, &len, &err), STI_OK);
    assert_null(memmem(db, len, token, strlen(token)));
    free(db);
    assert_int_equal(sti_repo_token_add(s.repo, "ci", &json, &err),
                     STI_ERR_EXISTS);
    assert_null(json);
    assert_int_equal(sti_repo_token_add(s.repo, "a b", &json, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_repo_token_list_json(s.repo, &json, &err), STI_OK);
    assert_non_null(strstr(json, "\"ci\""));
    assert_null(strstr(json, token));
    sti_free(json);
    assert_int_equal(sti_repo_token_list_text(s.repo, &json, &err), STI_OK);
    assert_int_equal(strncmp(json, "NAME", 4), 0);
    /* Every column but the last is padded to its width. */
    assert_int_equal(strncmp(json, "NAME                      CREATED\n", 34),
                     0);
    assert_non_null(strstr(json, "\nci                        20"));
    assert_null(strstr(json, token));
    sti_free(json);
    assert_int_equal(sti_repo_token_remove(s.repo, "ci", &err), STI_OK);
    assert_int_equal(sti_repo_token_check(s.repo, token, NULL, &err),
                     STI_ERR_AUTH);
    assert_int_equal(sti_repo_token_remove(s.repo, "ci", &err),
                     STI_ERR_NOTFOUND);
    sti_secret_free(token);
    store_close(&s);
}

static void list_json_has_urls(void **state)
{
    struct store s;
    struct sti_error err;
    char *json;

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    assert_int_equal(
        sti_repo_list_json(s.repo, "https://cr.test:8443", &json, &err),
        STI_OK);
    assert_non_null(
        strstr(json, "\"url\": \"https://cr.test:8443/certs/sp1.pem\""));
    assert_non_null(strstr(json, "\"certificates\": 2"));
    sti_free(json);
    assert_int_equal(sti_repo_list_json(s.repo, NULL, &json, &err), STI_OK);
    assert_null(strstr(json, "\"url\""));
    sti_free(json);
    store_close(&s);
}

static void export_tree_and_snippet(void **state)
{
    struct store s;
    struct sti_error err;
    char *out, *file, *conf;
    unsigned char *data;
    size_t len;
    struct stat st;
    struct repo_entry *e;

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    out = test_path(s.dir, "out");
    assert_int_equal(sti_repo_export(s.repo, out, 3600, NULL, NULL, &err),
                     STI_OK);
    file = test_path(out, "certs/sp1.pem");
    assert_int_equal(stat(file, &st), 0);
    e = repo_lookup(s.repo, "sp1", 3);
    assert_int_equal(st.st_mtime, e->modified);
    repo_entry_unref(e);
    conf = test_path(out, "nginx-sti-cr.conf");
    assert_int_equal(sti_file_read(conf, &data, &len, &err), STI_OK);
    assert_non_null(strstr((char *)data, "max-age=3600"));
    assert_non_null(strstr((char *)data, "application/pem-certificate-chain"));
    free(data);
    free(conf);
    free(file);
    free(out);
    store_close(&s);
}

/* Records the paths that sti_repo_export() reports as removed. */
static void note_removed(void *arg, const char *path)
{
    char *seen = arg;

    snprintf(seen + strlen(seen), 512 - strlen(seen), "%s;", path);
}

static void export_removes_stale_files(void **state)
{
    struct store s;
    struct sti_error err;
    char *out, *certs, *sp2, *notes, *hidden, *link, seen[512] = "";
    char expected[600];
    struct stat st;

    (void)state;
    store_open(&s);
    publish_file(s.repo, "sp1", "repo/good.pem", NULL);
    publish_file(s.repo, "sp2", "repo/good2.pem", NULL);
    out = test_path(s.dir, "out");
    certs = test_path(out, "certs");
    sp2 = test_path(certs, "sp2.pem");
    notes = test_path(certs, "notes.txt");
    hidden = test_path(certs, ".hidden.pem");
    link = test_path(certs, "link.pem");
    assert_int_equal(sti_repo_export(s.repo, out, 0, note_removed, seen, &err),
                     STI_OK);
    assert_string_equal(seen, "");
    assert_int_equal(stat(sp2, &st), 0);
    /* Files that export did not write stay. */
    assert_int_equal(sti_file_write(notes, "x", 1, 0644, 0, &err), STI_OK);
    assert_int_equal(sti_file_write(hidden, "x", 1, 0644, 0, &err), STI_OK);
    assert_int_equal(symlink(sp2, link), 0);
    assert_int_equal(sti_repo_remove(s.repo, "sp2", &err), STI_OK);
    assert_int_equal(sti_repo_export(s.repo, out, 0, note_removed, seen, &err),
                     STI_OK);
    snprintf(expected, sizeof(expected), "%s;", sp2);
    assert_string_equal(seen, expected);
    assert_int_equal(stat(sp2, &st), -1);
    assert_int_equal(stat(notes, &st), 0);
    assert_int_equal(stat(hidden, &st), 0);
    assert_int_equal(lstat(link, &st), 0);
    free(link);
    free(hidden);
    free(notes);
    free(sp2);
    free(certs);
    free(out);
    store_close(&s);
}

static void tls_cert_for_hosts(void **state)
{
    char *dir = test_tmpdir();
    char *cert = test_path(dir, "c.pem"), *key = test_path(dir, "k.pem");
    struct sti_error err;
    struct sti_cert *c;
    struct stat st;
    X509 *x;

    (void)state;
    assert_int_equal(
        sti_repo_make_tls_cert(cert, key, "127.0.0.1,localhost", 30, &err),
        STI_OK);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sti_cert_load(cert, &c, &err), STI_OK);
    x = sti_cert_get0_x509(c);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "example.com", 0, 0, NULL), 0);
    assert_false(sti_cert_is_ca(c));
    /* A negative serial would be V_ASN1_NEG_INTEGER. */
    assert_int_equal(ASN1_STRING_type(X509_get0_serialNumber(x)),
                     V_ASN1_INTEGER);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    sti_cert_free(c);
    assert_int_equal(sti_repo_make_tls_cert(cert, key, "localhost", 30, &err),
                     STI_ERR_EXISTS);
    assert_int_equal(sti_repo_make_tls_cert(cert, key, "", 30, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_repo_make_tls_cert(cert, key, "x", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_repo_tls_files_check(cert, key, &err), STI_OK);
    assert_int_equal(sti_repo_tls_files_check(cert, "/nonexist", &err),
                     STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "/nonexist"));
    assert_int_equal(sti_repo_tls_files_check(key, key, &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_tls_files_check(NULL, key, &err),
                     STI_ERR_INVALID);
    free(cert);
    free(key);
    test_rmtree(dir);
}

static void hosts_checked(void **state)
{
    static const char *const good[] = {"127.0.0.1,localhost", "::1",
                                       "a-b.example", "x1.y2"};
    static const char *const bad[] = {"",   "a b",  "a,,b",  "$$$", "-a.b",
                                      "a-", "a..b", "1.2.3", "a,",  ",a"};
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_int_equal(sti_repo_hosts_check(good[i], &err), STI_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(sti_repo_hosts_check(bad[i], &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_hosts_check(NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_repo_hosts_check("ok,a b", &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'a b'"));
}

static void pem_compact_round_trip(void **state)
{
    size_t len, der_len, first;
    unsigned char *pem = test_read_data("repo/good.pem", &len);
    unsigned char *der, *end;
    char *out, *crlf;

    (void)state;
    end = memmem(pem, len, "-----END CERTIFICATE-----\n", 26);
    assert_non_null(end);
    first = (size_t)(end - pem) + 26;
    der = repo_pem_to_der((char *)pem, first, &der_len);
    assert_non_null(der);
    assert_int_equal(repo_pem_len(der_len), first);
    out = malloc(first);
    repo_pem_write(der, der_len, out);
    assert_memory_equal(out, pem, first);
    free(out);
    free(der);
    /* Text that OpenSSL would not write stays text. */
    crlf = malloc(first + 1);
    memcpy(crlf, pem, first);
    crlf[27] = '\r';
    assert_null(repo_pem_to_der(crlf, first, &der_len));
    assert_null(repo_pem_to_der((char *)pem, first - 1, &der_len));
    assert_null(repo_pem_to_der("x", 1, &der_len));
    free(crlf);
    free(pem);
}

static void http_dates_round_trip(void **state)
{
    char text[32];

    (void)state;
    repo_http_date(784111777, text);
    assert_string_equal(text, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(repo_parse_http_date(text), 784111777);
    assert_int_equal(repo_parse_http_date("yesterday"), -1);
    assert_int_equal(repo_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT x"),
                     -1);
    /* The obsolete forms of RFC 9110 section 5.6.7. */
    assert_int_equal(repo_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
                     784111777);
    assert_int_equal(repo_parse_http_date("Sun Nov  6 08:49:37 1994"),
                     784111777);
    assert_int_equal(repo_parse_http_date("Sunday, 06-Nov-94 08:49:37"), -1);
}

/* A two-digit year more than 50 years ahead is in the past century. */
static void rfc850_years_placed(void **state)
{
    struct tm now;
    time_t t = time(NULL), parsed;
    char text[64], far[64];
    int year;

    (void)state;
    gmtime_r(&t, &now);
    year = now.tm_year + 1900;
    snprintf(text, sizeof(text), "Monday, 01-Jan-%02d 00:00:00 GMT",
             (year + 1) % 100);
    parsed = repo_parse_http_date(text);
    gmtime_r(&parsed, &now);
    assert_int_equal(now.tm_year + 1900, year + 1);
    snprintf(far, sizeof(far), "Monday, 01-Jan-%02d 00:00:00 GMT",
             (year + 60) % 100);
    parsed = repo_parse_http_date(far);
    gmtime_r(&parsed, &now);
    assert_int_equal(now.tm_year + 1900, year + 60 - 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_valid_and_invalid),
        cmocka_unit_test(chain_checks_by_case),
        cmocka_unit_test(chain_too_long_rejected),
        cmocka_unit_test(publish_get_list_remove),
        cmocka_unit_test(republish_keeps_modified),
        cmocka_unit_test(intermediates_shared),
        cmocka_unit_test(second_handle_syncs),
        cmocka_unit_test(replace_is_atomic),
        cmocka_unit_test(tokens_hashed_and_checked),
        cmocka_unit_test(list_json_has_urls),
        cmocka_unit_test(export_tree_and_snippet),
        cmocka_unit_test(export_removes_stale_files),
        cmocka_unit_test(tls_cert_for_hosts),
        cmocka_unit_test(hosts_checked),
        cmocka_unit_test(pem_compact_round_trip),
        cmocka_unit_test(http_dates_round_trip),
        cmocka_unit_test(rfc850_years_placed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
