/* Unit tests for lib/x5u.c: URL policy, cache lifetimes, and fetching
 * into the memory and SQLite caches from a local HTTP server. */
#include "support.h"

#include "jws_int.h"
#include "x5u_int.h"

#include "http_fixture.h"
#include "pki_fixture.h"

static struct pki pki;
static unsigned char *leaf_der;

static int setup(void **state)
{
    size_t der_len;

    (void)state;
    pki_init(&pki, 0, 0);
    if (sti_cert_to_der(pki.sp, &leaf_der, &der_len, NULL) != STI_OK)
        return -1;
    fx_route("/sp.pem", "200 OK", PEM_TYPE, pki.chain_pem);
    fx_route("/short.pem", "200 OK", PEM_TYPE "Cache-Control: max-age=10\r\n",
             pki.chain_pem);
    fx_route("/junk.pem", "200 OK", PEM_TYPE, "not a certificate");
    fx_route("/moved.pem", "301 Moved", "Location: /sp.pem\r\n", "");
    fx_route("/html.pem", "200 OK", "Content-Type: text/html\r\n",
             pki.chain_pem);
    fx_route("/untyped.pem", "200 OK", "", pki.chain_pem);
    fx_route("/param.pem", "200 OK",
             "Content-Type: Application/PEM-Certificate-Chain; x=1\r\n",
             pki.chain_pem);
    fx_route("/longer.pem", "200 OK",
             "Content-Type: application/pem-certificate-chainx\r\n",
             pki.chain_pem);
    fx_route("/binary.pem", "200 OK", "Content-Type: text/\xff\x01\r\n",
             pki.chain_pem);
    fx_route_bytes("/leaf.der", "200 OK", PEM_TYPE, (char *)leaf_der, der_len);
    return fx_start();
}

static int teardown(void **state)
{
    (void)state;
    fx_stop();
    sti_free(leaf_der);
    pki_free(&pki);
    return 0;
}

static struct sti_x5u_policy lab_policy(void)
{
    struct sti_x5u_policy p = {
        .allow_http = 1,
        .allow_any_port = 1,
        .connect_timeout_ms = 1000,
        .timeout_ms = 2000,
        .max_bytes = 65536,
        .min_cache_s = 86400,
        .failure_cache_s = 30,
    };

    return p;
}

static void url_policy_rules(void **state)
{
    static const struct {
        const char *url;
        int ok;
        const char *why;
    } cases[] = {
        {"https://cr.example.org/sp.pem", 1, NULL},
        {"https://cr.example.org:8443/sp.pem", 1, NULL},
        {"https://cr.example.org:443/a/b.pem", 1, NULL},
        {"http://cr.example.org/sp.pem", 0, "not https"},
        {"https://cr.example.org:8080/sp.pem", 0, "port 8080"},
        {"https://user@cr.example.org/sp.pem", 0, "userinfo"},
        {"https://u:p@cr.example.org/sp.pem", 0, "userinfo"},
        {"https://cr.example.org/sp.pem?x=1", 0, "query"},
        {"https://cr.example.org/sp.pem#frag", 0, "fragment"},
        {"https://cr.example.org/sp.pem#", 0, "fragment"},
        {"https://cr.example.org/sp.pem?", 0, "query"},
        {"ftp://cr.example.org/sp.pem", 0, "not https"},
        {"not a url", 0, "not a valid URL"},
    };
    struct sti_x5u_policy p = {0};
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = sti_x5u_check_url(&p, cases[i].url, &err);

        if (cases[i].ok) {
            assert_int_equal(rc, STI_OK);
            continue;
        }
        assert_int_equal(rc, STI_ERR_POLICY);
        assert_non_null(strstr(err.message, cases[i].why));
    }
    p.allow_http = p.allow_any_port = 1;
    assert_int_equal(sti_x5u_check_url(&p, "http://127.0.0.1:8080/a", &err),
                     STI_OK);
    assert_int_equal(sti_x5u_check_url(&p, "http://127.0.0.1/a?q", &err),
                     STI_ERR_POLICY);
}

static void lifetime_from_headers(void **state)
{
    time_t now = 1700000000;

    (void)state;
    assert_int_equal(sti_x5u_lifetime("max-age=300", NULL, now), 300);
    assert_int_equal(
        sti_x5u_lifetime("public, max-age=300, s-maxage=600", NULL, now), 600);
    assert_int_equal(sti_x5u_lifetime("no-store", NULL, now), 0);
    assert_int_equal(sti_x5u_lifetime("no-cache, max-age=5", NULL, now), 0);
    assert_int_equal(sti_x5u_lifetime(NULL, NULL, now), -1);
    assert_int_equal(sti_x5u_lifetime("public", NULL, now), -1);
    /* Expires counts only without max-age (RFC 9111 section 5.3). */
    assert_int_equal(
        sti_x5u_lifetime(NULL, "Tue, 14 Nov 2023 22:30:00 GMT", now), 1000);
    assert_int_equal(
        sti_x5u_lifetime("max-age=7", "Tue, 14 Nov 2023 22:30:00 GMT", now), 7);
    assert_int_equal(sti_x5u_lifetime(NULL, "garbage", now), 0);
}

static void fetch_then_memory_hit(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_error err;
    time_t now = time(NULL);
    int hit, before;

    (void)state;
    assert_int_equal(sti_x5u_cache_new(&p, NULL, &c, &err), STI_OK);
    before = fx_hits();
    assert_int_equal(sti_x5u_get(c, fx_url("/sp.pem"), now, &e, &hit, &err),
                     STI_OK);
    assert_false(hit);
    assert_false(e->failed);
    assert_int_equal(e->cert_count, 2);
    assert_non_null(e->parsed);
    assert_string_equal(e->spc, "1234");
    assert_true(e->key_p256);
    assert_int_equal(e->point_len, 65);
    /* At least 24 h, never past the leaf's notAfter. */
    assert_true(e->expires >= now + 86400);
    assert_true(e->expires <= sti_cert_not_after(pki.sp));
    sti_x5u_entry_release(c, e);
    assert_int_equal(
        sti_x5u_get(c, fx_url("/sp.pem"), now + 60, &e, &hit, &err), STI_OK);
    assert_true(hit);
    assert_int_equal(fx_hits(), before + 1);
    sti_x5u_entry_release(c, e);
    /* Past the expiry the chain is fetched again. */
    assert_int_equal(
        sti_x5u_get(c, fx_url("/sp.pem"), now + 90000, &e, &hit, &err), STI_OK);
    assert_false(hit);
    assert_int_equal(fx_hits(), before + 2);
    sti_x5u_entry_release(c, e);
    sti_x5u_cache_free(c);
}

static void expiry_capped_by_not_after(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_error err;
    int hit;

    (void)state;
    p.min_cache_s = 10L * 365 * 86400;
    assert_int_equal(sti_x5u_cache_new(&p, NULL, &c, &err), STI_OK);
    assert_int_equal(
        sti_x5u_get(c, fx_url("/short.pem"), time(NULL), &e, &hit, &err),
        STI_OK);
    assert_int_equal(e->expires, sti_cert_not_after(pki.sp));
    sti_x5u_entry_release(c, e);
    sti_x5u_cache_free(c);
}

static void failures_cached_briefly(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_error err;
    time_t now = time(NULL);
    int hit, before;

    (void)state;
    assert_int_equal(sti_x5u_cache_new(&p, NULL, &c, &err), STI_OK);
    before = fx_hits();
    assert_int_equal(
        sti_x5u_get(c, fx_url("/missing.pem"), now, &e, &hit, &err), STI_OK);
    assert_true(e->failed);
    assert_int_equal(e->error_code, STI_ERR_NET);
    assert_non_null(strstr(e->error, "404"));
    assert_int_equal(e->expires, now + 30);
    sti_x5u_entry_release(c, e);
    assert_int_equal(
        sti_x5u_get(c, fx_url("/missing.pem"), now + 10, &e, &hit, &err),
        STI_OK);
    assert_true(hit);
    assert_int_equal(fx_hits(), before + 1);
    sti_x5u_entry_release(c, e);
    assert_int_equal(sti_x5u_get(c, fx_url("/junk.pem"), now, &e, &hit, &err),
                     STI_OK);
    assert_int_equal(e->error_code, STI_ERR_INVALID);
    assert_non_null(strstr(e->error, "PEM"));
    sti_x5u_entry_release(c, e);
    /* Redirects are not followed. */
    assert_int_equal(sti_x5u_get(c, fx_url("/moved.pem"), now, &e, &hit, &err),
                     STI_OK);
    assert_true(e->failed);
    assert_non_null(strstr(e->error, "301"));
    /* A redirect breaks the policy: the content is invalid, not missing. */
    assert_int_equal(e->error_code, STI_ERR_INVALID);
    sti_x5u_entry_release(c, e);
    sti_x5u_cache_free(c);
}

/* Fetches PATH into a new cache and checks the failure or success. */
static void expect_fetch(const char *path, int code, const char *why)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_error err;
    int hit;

    assert_int_equal(sti_x5u_cache_new(&p, NULL, &c, &err), STI_OK);
    assert_int_equal(sti_x5u_get(c, fx_url(path), time(NULL), &e, &hit, &err),
                     STI_OK);
    if (code == STI_OK) {
        assert_false(e->failed);
    } else {
        assert_true(e->failed);
        assert_int_equal(e->error_code, code);
        assert_non_null(strstr(e->error, why));
    }
    sti_x5u_entry_release(c, e);
    sti_x5u_cache_free(c);
}

static void content_type_required(void **state)
{
    (void)state;
    expect_fetch("/html.pem", STI_ERR_INVALID, "Content-Type 'text/html'");
    expect_fetch("/untyped.pem", STI_ERR_INVALID, "no Content-Type");
    expect_fetch("/longer.pem", STI_ERR_INVALID, "chainx");
    expect_fetch("/binary.pem", STI_ERR_INVALID, "'text/\\xff\\x01'");
    /* Media types ignore case, and parameters may follow. */
    expect_fetch("/param.pem", STI_OK, NULL);
}

static void der_body_rejected(void **state)
{
    (void)state;
    expect_fetch("/leaf.der", STI_ERR_INVALID, "not a PEM certificate chain");
}

static void size_cap_enforced(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_error err;
    int hit;

    (void)state;
    p.max_bytes = 100;
    assert_int_equal(sti_x5u_cache_new(&p, NULL, &c, &err), STI_OK);
    assert_int_equal(
        sti_x5u_get(c, fx_url("/sp.pem"), time(NULL), &e, &hit, &err), STI_OK);
    assert_true(e->failed);
    assert_non_null(strstr(e->error, "larger than 100 bytes"));
    sti_x5u_entry_release(c, e);
    sti_x5u_cache_free(c);
}

static void sqlite_shared_between_caches(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *a, *b;
    struct sti_x5u_entry *e;
    struct sti_error err;
    char *dir = test_tmpdir(), *db = test_path(dir, "x5u.db");
    time_t now = time(NULL);
    int hit, before;

    (void)state;
    assert_int_equal(sti_x5u_cache_new(&p, db, &a, &err), STI_OK);
    assert_int_equal(sti_x5u_get(a, fx_url("/sp.pem"), now, &e, &hit, &err),
                     STI_OK);
    assert_false(hit);
    sti_x5u_entry_release(a, e);
    sti_x5u_cache_free(a);
    /* A new cache on the same file, as after a restart. */
    before = fx_hits();
    assert_int_equal(sti_x5u_cache_new(&p, db, &b, &err), STI_OK);
    assert_int_equal(sti_x5u_get(b, fx_url("/sp.pem"), now + 5, &e, &hit, &err),
                     STI_OK);
    assert_true(hit);
    assert_false(e->failed);
    assert_string_equal(e->spc, "1234");
    assert_int_equal(fx_hits(), before);
    sti_x5u_entry_release(b, e);
    sti_x5u_cache_free(b);
    assert_int_equal(sti_x5u_cache_new(&p, "/nonexistent/dir/x.db", &b, &err),
                     STI_ERR_DB);
    free(db);
    test_rmtree(dir);
}

/* Stores COUNT URLs http://127.0.0.1:9/cN.pem with the test chain in the
 * SQLite cache DB, as another process's fetches would. */
static void db_fill(const char *db, int count, time_t now)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    char url[64];

    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(h,
                           "INSERT INTO x5u_cache(url, body, error_code, "
                           "fetched_at, expires_at) VALUES(?1, ?2, 0, ?3, ?4)",
                           -1, &st, NULL),
        SQLITE_OK);
    for (int i = 0; i < count; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:9/c%d.pem", i);
        sqlite3_bind_text(st, 1, url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, pki.chain_pem, (int)strlen(pki.chain_pem),
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, now + 86400);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static const char *filled_url(int i)
{
    static char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:9/c%d.pem", i);
    return url;
}

/* Takes a context for E's key and checks that it verifies a signature
 * made with the SP key. */
static void check_ctx_verifies(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    static const char data[] = "header.payload";
    unsigned char sig[STI_ES256_SIG_LEN];
    struct sti_error err;
    EVP_PKEY_CTX *ctx = sti_x5u_take_ctx(c, e);

    assert_non_null(ctx);
    assert_int_equal(sti_es256_sign(sti_key_get0_pkey(pki.sp_key), data,
                                    strlen(data), sig, &err),
                     STI_OK);
    assert_int_equal(sti_es256_verify_ctx(ctx, data, strlen(data), sig, &err),
                     STI_OK);
    sig[10] ^= 1;
    assert_int_equal(sti_es256_verify_ctx(ctx, data, strlen(data), sig, &err),
                     STI_ERR_CRYPTO);
    sti_x5u_give_ctx(c, e, ctx);
}

static void hot_keys_evicted_and_rebuilt(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e, *first;
    struct sti_error err;
    char *dir = test_tmpdir(), *db = test_path(dir, "x5u.db");
    time_t now = time(NULL);
    int hit, count = STI_X5U_HOT_MAX + 44;

    (void)state;
    assert_int_equal(sti_x5u_cache_new(&p, db, &c, &err), STI_OK);
    db_fill(db, count, now);
    for (int i = 0; i < count; i++) {
        assert_int_equal(sti_x5u_get(c, filled_url(i), now, &e, &hit, &err),
                         STI_OK);
        assert_true(hit);
        assert_false(e->failed);
        check_ctx_verifies(c, e);
        sti_x5u_entry_release(c, e);
    }
    /* Every entry shares the leaf's and the intermediate's DER. */
    assert_int_equal(sti_x5u_cache_der_count(c), 2);
    assert_int_equal(sti_x5u_cache_hot_count(c), STI_X5U_HOT_MAX);
    /* The first entries were used least recently, so their keys went. */
    assert_true(sti_x5u_get_cached(c, filled_url(0), now, &first));
    assert_null(first->hot);
    check_ctx_verifies(c, first);
    assert_non_null(first->hot);
    assert_int_equal(sti_x5u_cache_hot_count(c), STI_X5U_HOT_MAX);
    /* Entry 1 was the least recently used one, so it gave way. */
    assert_true(sti_x5u_get_cached(c, filled_url(1), now, &e));
    assert_null(e->hot);
    sti_x5u_entry_release(c, e);
    sti_x5u_entry_release(c, first);
    sti_x5u_cache_free(c);
    free(db);
    test_rmtree(dir);
}

/* Each entry costs about 0.7 ms of parsing, and about three times that
 * under ASan, so the sanitized build, which CI runs as well, fills fewer
 * (still well past STI_X5U_HOT_MAX). */
#ifdef __SANITIZE_ADDRESS__
#define FILL_COUNT 2000
#else
#define FILL_COUNT 10000
#endif

static void ten_thousand_entries(void **state)
{
    struct sti_x5u_policy p = lab_policy();
    struct sti_x5u_cache *c;
    struct sti_x5u_entry *e;
    struct sti_chain *chain;
    struct sti_error err;
    char *dir = test_tmpdir(), *db = test_path(dir, "x5u.db");
    char want[65], got[65];
    time_t now = time(NULL);
    int hit, count = FILL_COUNT;

    (void)state;
    assert_int_equal(sti_x5u_cache_new(&p, db, &c, &err), STI_OK);
    db_fill(db, count, now);
    for (int i = 0; i < count; i++) {
        assert_int_equal(sti_x5u_get(c, filled_url(i), now, &e, &hit, &err),
                         STI_OK);
        assert_false(e->failed);
        /* As the first verification does, take the chain parsed at load
         * time, so that the entry keeps only its compact facts. */
        assert_int_equal(sti_x5u_entry_chain(c, e, &chain, &err), STI_OK);
        assert_int_equal(sti_chain_count(chain), 2);
        sti_chain_free(chain);
        sti_x5u_entry_release(c, e);
    }
    assert_int_equal(sti_x5u_cache_der_count(c), 2);
    assert_int_equal(sti_x5u_cache_hot_count(c), 0);
    /* All are still in memory, and each rebuilds its chain from DER. */
    for (int i = 0; i < count; i += 997) {
        assert_true(sti_x5u_get_cached(c, filled_url(i), now, &e));
        assert_string_equal(e->spc, "1234");
        assert_null(e->parsed);
        assert_int_equal(sti_x5u_entry_chain(c, e, &chain, &err), STI_OK);
        assert_int_equal(sti_chain_count(chain), 2);
        assert_int_equal(sti_cert_fingerprint(pki.sp, want), STI_OK);
        assert_int_equal(sti_cert_fingerprint(sti_chain_get0(chain, 0), got),
                         STI_OK);
        assert_string_equal(got, want);
        sti_chain_free(chain);
        sti_x5u_entry_release(c, e);
    }
    sti_x5u_cache_free(c);
    free(db);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_policy_rules),
        cmocka_unit_test(lifetime_from_headers),
        cmocka_unit_test(fetch_then_memory_hit),
        cmocka_unit_test(expiry_capped_by_not_after),
        cmocka_unit_test(failures_cached_briefly),
        cmocka_unit_test(size_cap_enforced),
        cmocka_unit_test(content_type_required),
        cmocka_unit_test(der_body_rejected),
        cmocka_unit_test(sqlite_shared_between_caches),
        cmocka_unit_test(hot_keys_evicted_and_rebuilt),
        cmocka_unit_test(ten_thousand_entries),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
