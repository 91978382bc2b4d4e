/*
 * Unit tests for the single fetch per x5u URL in lib/x5u.c.  A server of
 * this test serves the x5u over HTTPS on 127.0.0.1 and counts requests.
 * Concurrent verifications of one uncached x5u must cause one fetch and
 * share its result, success or failure.
 */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pki_fixture.h"

#define THREADS 8

static struct pki pki;
static char *dir, *root_file, *tls_cert, *tls_key;
static struct sti_httpd *server;
static char base[64];

/* Requests per path.  The server delays each response so that every
 * thread sends its request while the first fetch is still running. */
static struct {
    pthread_mutex_t lock;
    int sp, missing, stall;
} served = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

static void serve(void *arg, const struct sti_httpd_request *req,
                  struct sti_httpd_response *resp)
{
    const char *path = sti_httpd_path(req);

    (void)arg;
    pthread_mutex_lock(&served.lock);
    served.sp += strcmp(path, "/sp.pem") == 0;
    served.missing += strcmp(path, "/missing.pem") == 0;
    served.stall += strcmp(path, "/stall.pem") == 0;
    pthread_mutex_unlock(&served.lock);
    sleep_ms(strcmp(path, "/stall.pem") == 0 ? 1500 : 300);
    if (strcmp(path, "/missing.pem") == 0) {
        sti_httpd_set_status(resp, 404);
        return;
    }
    sti_httpd_set_status(resp, 200);
    sti_httpd_set_body(resp, "application/pem-certificate-chain", pki.chain_pem,
                       strlen(pki.chain_pem));
}

static int served_count(const int *counter)
{
    int n;

    pthread_mutex_lock(&served.lock);
    n = *counter;
    pthread_mutex_unlock(&served.lock);
    return n;
}

static int setup(void **state)
{
    struct sti_httpd_config cfg = {.threads = THREADS};
    struct sti_error err;

    (void)state;
    pki_init(&pki, 0, 0);
    dir = test_tmpdir();
    root_file = test_path(dir, "root.pem");
    assert_int_equal(sti_file_write(root_file, pki.root_pem,
                                    strlen(pki.root_pem), 0644, 0, &err),
                     STI_OK);
    tls_cert = test_data_path("repo/tls-cert.pem");
    tls_key = test_data_path("repo/tls-key.pem");
    cfg.tls_cert_file = tls_cert;
    cfg.tls_key_file = tls_key;
    if (sti_httpd_start(&cfg, serve, NULL, &server, &err) != STI_OK)
        return -1;
    snprintf(base, sizeof(base), "https://127.0.0.1:%d",
             sti_httpd_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sti_httpd_stop(server);
    pki_free(&pki);
    free(root_file);
    free(tls_cert);
    free(tls_key);
    test_rmtree(dir);
    return 0;
}

static struct sti_verifier *https_verifier(long timeout_ms)
{
    struct sti_verifier_config cfg = {
        .ca_file = root_file,
        .fetch_ca_file = tls_cert,
        .allow_any_port = 1,
        .connect_timeout_ms = timeout_ms,
        .timeout_ms = timeout_ms,
    };
    struct sti_verifier *v;
    struct sti_error err;

    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    return v;
}

/* An Identity header value whose x5u is URL. */
static char *sign_for_url(const char *url)
{
    static const char *const dest[] = {"12025550101"};
    struct sti_passport_claims c = {
        .ppt = "shaken",
        .x5u = url,
        .attest = "A",
        .orig_tn = "12025550100",
        .dest_tn = dest,
        .dest_tn_count = 1,
        .iat = time(NULL),
    };
    struct sti_signer *s;
    struct sti_error err;
    char *value;

    assert_int_equal(sti_signer_new(pki.sp_key, url, "shaken", &s, &err),
                     STI_OK);
    assert_int_equal(sti_signer_sign_identity(s, &c, 0, &value, &err), STI_OK);
    sti_signer_free(s);
    return value;
}

/* An Identity header value whose x5u is PATH on the test server. */
static char *sign_for(const char *path)
{
    char x5u[128];

    snprintf(x5u, sizeof(x5u), "%s%s", base, path);
    return sign_for_url(x5u);
}

struct worker {
    struct sti_verifier *v;
    const char *value;
    pthread_barrier_t *start;
    struct sti_verify_result res;
    int status;
    long elapsed_ms;
};

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *verify_once(void *arg)
{
    struct worker *w = arg;
    const char *values[1] = {w->value};
    struct sti_verify_request req = {.identities = values, .identity_count = 1};
    long started;

    pthread_barrier_wait(w->start);
    started = now_ms();
    w->status = sti_verify(w->v, &req, &w->res, NULL);
    w->elapsed_ms = now_ms() - started;
    return NULL;
}

/* Verifies VALUE on THREADS threads released at once. */
static void run_threads(struct sti_verifier *v, const char *value,
                        struct worker w[THREADS])
{
    pthread_barrier_t start;
    pthread_t t[THREADS];

    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.v = v, .value = value, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, verify_once, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

static void concurrent_misses_fetch_once(void **state)
{
    struct sti_verifier *v = https_verifier(0);
    char *value = sign_for("/sp.pem");
    struct worker w[THREADS];

    (void)state;
    run_threads(v, value, w);
    assert_int_equal(served_count(&served.sp), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].status, STI_OK);
        if (w[i].res.outcome != STI_VERIFY_PASS)
            fail_msg("thread %d: %s", i, w[i].res.reason);
        assert_false(w[i].res.cache_hit);
    }
    /* The warm cache returns the entry without another fetch. */
    run_threads(v, value, w);
    assert_int_equal(served_count(&served.sp), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].res.outcome, STI_VERIFY_PASS);
        assert_true(w[i].res.cache_hit);
    }
    free(value);
    sti_verifier_free(v);
}

static void failed_fetch_shared_and_cached(void **state)
{
    struct sti_verifier *v = https_verifier(0);
    char *value = sign_for("/missing.pem");
    struct worker w[THREADS];

    (void)state;
    run_threads(v, value, w);
    assert_int_equal(served_count(&served.missing), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].res.outcome, STI_VERIFY_NOCHECK);
        assert_int_equal(w[i].res.sip_code, 436);
        if (strstr(w[i].res.reason, "404") == NULL)
            fail_msg("thread %d: reason '%s' lacks 404", i, w[i].res.reason);
    }
    run_threads(v, value, w);
    assert_int_equal(served_count(&served.missing), 1);
    free(value);
    sti_verifier_free(v);
}

/* A server slower than the fetch timeout: the first request times out and
 * the others get its failure instead of waiting or fetching. */
static void stalled_fetch_bounds_waiters(void **state)
{
    struct sti_verifier *v = https_verifier(400);
    char *value = sign_for("/stall.pem");
    struct worker w[THREADS];

    (void)state;
    run_threads(v, value, w);
    assert_int_equal(served_count(&served.stall), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].res.outcome, STI_VERIFY_NOCHECK);
        assert_int_equal(w[i].res.sip_code, 436);
        /* 400 ms of fetch timeout; the rest is slack for a loaded machine
         * and the sanitizers, well below the 1500 ms stall. */
        if (w[i].elapsed_ms > 1200)
            fail_msg("thread %d waited %ld ms", i, w[i].elapsed_ms);
    }
    free(value);
    sti_verifier_free(v);
}

/* Opens a listener whose accept queue is full, so that Linux drops further
 * SYNs and a connect to PORT hangs.  FILLER takes the queue's one place. */
static int full_listener(int *port, int *filler)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 0), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    *filler = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*filler, (struct sockaddr *)&addr, sizeof(addr)),
                     0);
    return fd;
}

/* The connect timeout ends a fetch whose connect hangs, long before the
 * whole-fetch timeout. */
static void connect_timeout_ends_fetch(void **state)
{
    struct sti_verifier_config cfg = {
        .ca_file = root_file,
        .fetch_ca_file = tls_cert,
        .allow_any_port = 1,
        .connect_timeout_ms = 300,
        .timeout_ms = 8000,
    };
    const char *values[1];
    struct sti_verify_request req = {.identities = values, .identity_count = 1};
    struct sti_verify_result res;
    struct sti_verifier *v;
    struct sti_error err;
    char path[64], *value;
    int port, filler, fd = full_listener(&port, &filler);
    long started, elapsed;

    (void)state;
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    snprintf(path, sizeof(path), "https://127.0.0.1:%d/sp.pem", port);
    value = sign_for_url(path);
    values[0] = value;
    started = now_ms();
    assert_int_equal(sti_verify(v, &req, &res, &err), STI_OK);
    elapsed = now_ms() - started;
    assert_int_equal(res.outcome, STI_VERIFY_NOCHECK);
    assert_int_equal(res.sip_code, 436);
    /* 300 ms to connect; the rest is slack for a loaded machine and the
     * sanitizers, well below the 8 s fetch timeout. */
    if (elapsed > 3000)
        fail_msg("the fetch took %ld ms: %s", elapsed, res.reason);
    free(value);
    sti_verifier_free(v);
    close(filler);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_misses_fetch_once),
        cmocka_unit_test(failed_fetch_shared_and_cached),
        cmocka_unit_test(stalled_fetch_bounds_waiters),
        cmocka_unit_test(connect_timeout_ends_fetch),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
