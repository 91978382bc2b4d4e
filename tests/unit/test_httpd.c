/* Unit tests for lib/httpd.c: a real server on 127.0.0.1, port 0, driven
 * with libcurl and raw sockets. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static atomic_int handler_calls;
static atomic_int releases;
/* Every test runs twice: without and with batch_responses. */
static int batch_mode;
/* Holds the handler of /gate until the test posts it. */
static sem_t gate;

struct reply {
    long status;
    char body[8192];
    size_t len;
    char headers[8192];
    size_t hlen;
};

static size_t collect_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;

    if (len > sizeof(r->body) - 1 - r->len)
        len = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t collect_header(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;

    if (len > sizeof(r->headers) - 1 - r->hlen)
        len = sizeof(r->headers) - 1 - r->hlen;
    memcpy(r->headers + r->hlen, data, len);
    r->hlen += len;
    r->headers[r->hlen] = '\0';
    return size * n;
}

/* Performs one request on CURL (reused for keep-alive); BODY may be NULL. */
static CURLcode request_on(CURL *c, const char *method, const char *url,
                           const char *body, struct curl_slist *hdrs,
                           struct reply *r)
{
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    /* CURLOPT_POSTFIELDS set to NULL would make libcurl read a body from
     * stdin, so a request without a body switches the handle to GET. */
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
                     strcmp(method, "HEAD") == 0 ? NULL : method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return rc;
}

static CURLcode request(const char *method, const char *url, const char *body,
                        struct curl_slist *hdrs, struct reply *r)
{
    CURL *c = curl_easy_init();
    CURLcode rc = request_on(c, method, url, body, hdrs, r);

    curl_easy_cleanup(c);
    return rc;
}

static void release_counter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&releases, 1);
}

/* Appends VALUE and '|' to the string TEXT (2048 bytes); stops at "stop". */
static int append_value(void *text, const char *value)
{
    size_t n = strlen(text);

    snprintf((char *)text + n, 2048 - n, "%s|", value);
    return strcmp(value, "stop") == 0 ? 7 : 0;
}

/* Routes by path so that one handler covers every behaviour under test. */
static void handler(void *arg, const struct sti_httpd_request *req,
                    struct sti_httpd_response *resp)
{
    const char *path = sti_httpd_path(req);
    char text[2048];
    size_t len;
    const unsigned char *body = sti_httpd_body(req, &len);

    (void)arg;
    atomic_fetch_add(&handler_calls, 1);
    if (strcmp(path, "/nothing") == 0)
        return;
    if (strcmp(path, "/each") == 0) {
        text[0] = '\0';
        sti_httpd_header_each(req, "x-test", append_value, text);
        sti_httpd_set_body(resp, "text/plain", text, strlen(text));
        return;
    }
    if (strcmp(path, "/sleep") == 0) {
        struct timespec second = {1, 0};

        nanosleep(&second, NULL);
        sti_httpd_set_body(resp, "text/plain", "slept", 5);
        return;
    }
    if (strcmp(path, "/gate") == 0) {
        struct timespec until;
        int opened;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        opened = sem_timedwait(&gate, &until) == 0;
        sti_httpd_set_body(resp, "text/plain", opened ? "opened" : "timed out",
                           opened ? 6 : 9);
        return;
    }
    if (strcmp(path, "/error") == 0) {
        sti_httpd_send_error(resp, 404, NULL, "no such \"thing\"");
        return;
    }
    if (strcmp(path, "/problem") == 0) {
        sti_httpd_send_error(resp, 400, "urn:ietf:params:acme:error:malformed",
                             "bad JWS");
        return;
    }
    if (strcmp(path, "/whoami") == 0) {
        const char *sha = sti_httpd_client_cert_sha256(req);
        const char *reason = sti_httpd_client_cert_error(req);

        snprintf(text, sizeof(text), "cert=%s error=%s", sha ? sha : "-",
                 reason ? reason : "-");
        sti_httpd_set_body(resp, "text/plain", text, strlen(text));
        return;
    }
    if (strcmp(path, "/thread") == 0) {
        snprintf(text, sizeof(text), "thread %lu",
                 (unsigned long)pthread_self());
        sti_httpd_set_body(resp, "text/plain", text, strlen(text));
        return;
    }
    if (strcmp(path, "/note") == 0) {
        sti_httpd_set_log_note(resp, "auth=token:ci\nforged");
        sti_httpd_set_body(resp, "text/plain", "noted", 5);
        return;
    }
    if (strcmp(path, "/iov") == 0) {
        static const struct sti_httpd_iovec parts[] = {
            {"one ", 4}, {"two ", 4}, {"three", 5}};

        sti_httpd_set_body_iov(resp, "text/plain", parts, 3, release_counter,
                               NULL);
        return;
    }
    if (strcmp(path, "/ref") == 0) {
        static const char chain[] = "-----BEGIN CERTIFICATE-----\n";

        sti_httpd_add_header(resp, "ETag", "\"abc\"");
        sti_httpd_set_body_ref(resp, "application/pem-certificate-chain", chain,
                               sizeof(chain) - 1, release_counter, NULL);
        return;
    }
    snprintf(
        text, sizeof(text),
        "method=%s path=%s q=%s hdr=%s peer=%s base=%s len=%zu body=%s",
        sti_httpd_method(req), path,
        sti_httpd_query(req, "q") ? sti_httpd_query(req, "q") : "-",
        sti_httpd_header(req, "x-test") ? sti_httpd_header(req, "x-test") : "-",
        sti_httpd_peer(req), sti_httpd_base_url(req), len, (const char *)body);
    sti_httpd_set_status(resp, 201);
    sti_httpd_add_header(resp, "X-Reply", "yes");
    sti_httpd_set_body(resp, "text/plain", text, strlen(text));
}

static struct sti_httpd *start(struct sti_httpd_config *cfg, char *url,
                               size_t size)
{
    struct sti_httpd *h = NULL;
    struct sti_error err;
    int rc;

    cfg->batch_responses = batch_mode;
    rc = sti_httpd_start(cfg, handler, NULL, &h, &err);

    if (rc != STI_OK)
        fprintf(stderr, "start: %s\n", err.message);
    assert_int_equal(rc, STI_OK);
    assert_true(sti_httpd_port(h) > 0);
    snprintf(url, size, "%s://127.0.0.1:%d",
             cfg->tls_cert_file ? "https" : "http", sti_httpd_port(h));
    return h;
}

static void serves_request_fields(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct curl_slist *hdrs = curl_slist_append(NULL, "X-Test: hello");
    struct reply r;
    char base[64], url[160], expect[512];

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/a%%2Fb/../c?q=x%%20y", base);
    assert_int_equal(request("POST", url, "payload", hdrs, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    snprintf(expect, sizeof(expect),
             "method=POST path=/a%%2Fb/../c q=x y hdr=hello peer=127.0.0.1 "
             "base=%s len=7 body=payload",
             base);
    assert_string_equal(r.body, expect);
    assert_non_null(strstr(r.headers, "X-Reply: yes"));
    assert_non_null(strstr(r.headers, "Content-Type: text/plain"));
    curl_slist_free_all(hdrs);
    sti_httpd_stop(h);
}

static void head_and_ref_body(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160];

    (void)state;
    atomic_store(&releases, 0);
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/ref", base);
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "-----BEGIN CERTIFICATE-----\n");
    assert_non_null(strstr(r.headers, "ETag: \"abc\""));
    assert_int_equal(request("HEAD", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_non_null(strstr(r.headers, "Content-Length: 28"));
    snprintf(url, sizeof(url), "%s/iov", base);
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "one two three");
    sti_httpd_stop(h);
    assert_int_equal(atomic_load(&releases), 3);
}

static void errors_and_empty_handler(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160];

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/nothing", base);
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 500);
    snprintf(url, sizeof(url), "%s/error", base);
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_string_equal(
        r.body, "{\"status\":\"error\",\"message\":\"no such \\\"thing\\\"\"}");
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    snprintf(url, sizeof(url), "%s/problem", base);
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.headers, "application/problem+json"));
    assert_non_null(
        strstr(r.body, "\"type\":\"urn:ietf:params:acme:error:malformed\""));
    assert_non_null(strstr(r.body, "\"detail\":\"bad JWS\""));
    sti_httpd_stop(h);
}

static void oversized_body_gets_413(void **state)
{
    struct sti_httpd_config cfg = {.max_body = 16};
    struct sti_httpd *h;
    struct curl_slist *chunked =
        curl_slist_append(NULL, "Transfer-Encoding: chunked");
    struct curl_slist *expect;
    struct reply r;
    char base[64], url[160];
    int before;

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/echo", base);
    assert_int_equal(request("PUT", url, "0123456789abcdef", NULL, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 201);
    before = atomic_load(&handler_calls);
    assert_int_equal(request("PUT", url, "0123456789abcdefg", NULL, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "16 bytes"));
    request("POST", url, "0123456789abcdef0123456789", chunked, &r);
    assert_int_equal(r.status, 413);
    /* With Expect: 100-continue the client waits, and 413 comes first. */
    expect = curl_slist_append(NULL, "Expect: 100-continue");
    assert_int_equal(request("PUT", url, "0123456789abcdefg", expect, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 413);
    curl_slist_free_all(expect);
    assert_int_equal(atomic_load(&handler_calls), before);
    curl_slist_free_all(chunked);
    sti_httpd_stop(h);
}

static void keep_alive_reuses_connection(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160];
    CURL *c = curl_easy_init();
    long connects = -1;

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/one", base);
    assert_int_equal(request_on(c, "GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_int_equal(request_on(c, "GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0);
    curl_easy_cleanup(c);
    sti_httpd_stop(h);
}

static void tls_from_pem_files(void **state)
{
    char *cert = test_data_path("repo/tls-cert.pem");
    char *key = test_data_path("repo/tls-key.pem");
    struct sti_httpd_config cfg = {.tls_cert_file = cert, .tls_key_file = key};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160];
    CURL *c = curl_easy_init();

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/tls", base);
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    assert_int_equal(request_on(c, "GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "base=https://127.0.0.1:"));
    curl_easy_cleanup(c);
    /* A client that does not trust the certificate fails the handshake. */
    assert_int_not_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    sti_httpd_stop(h);
    free(cert);
    free(key);
}

/* Requests /whoami with the client certificate NAME from tests/data/httpd
 * (NULL for none) and returns the body. */
static void whoami(const char *base, const char *name, struct reply *r)
{
    char *ca = test_data_path("repo/tls-cert.pem");
    char url[160], file[64];
    char *cert = NULL, *key = NULL;
    CURL *c = curl_easy_init();

    snprintf(url, sizeof(url), "%s/whoami", base);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (name != NULL) {
        snprintf(file, sizeof(file), "httpd/%s.pem", name);
        cert = test_data_path(file);
        snprintf(file, sizeof(file), "httpd/%s.key", name);
        key = test_data_path(file);
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
    assert_int_equal(request_on(c, "GET", url, NULL, NULL, r), CURLE_OK);
    assert_int_equal(r->status, 200);
    curl_easy_cleanup(c);
    free(cert);
    free(key);
    free(ca);
}

static void client_certs_verified(void **state)
{
    char *cert = test_data_path("repo/tls-cert.pem");
    char *key = test_data_path("repo/tls-key.pem");
    char *client_ca = test_data_path("httpd/client-ca.pem");
    char *client = test_data_path("httpd/client.pem");
    struct sti_httpd_config cfg = {.tls_cert_file = cert,
                                   .tls_key_file = key,
                                   .tls_client_ca_file = client_ca};
    struct sti_httpd *h;
    struct sti_cert *leaf;
    struct reply r;
    char base[64], sha[65], expect[128];

    (void)state;
    assert_int_equal(sti_cert_load(client, &leaf, NULL), STI_OK);
    assert_int_equal(sti_cert_fingerprint(leaf, sha), STI_OK);
    sti_cert_free(leaf);
    h = start(&cfg, base, sizeof(base));
    whoami(base, "client", &r);
    snprintf(expect, sizeof(expect), "cert=%s error=-", sha);
    assert_string_equal(r.body, expect);
    /* The certificate is optional: no certificate is no error. */
    whoami(base, NULL, &r);
    assert_string_equal(r.body, "cert=- error=-");
    /* GnuTLS accepts these handshakes; OpenSSL rejects the chains. */
    whoami(base, "other", &r);
    assert_string_equal(r.body,
                        "cert=- error=unable to get local issuer certificate");
    whoami(base, "expired", &r);
    assert_string_equal(r.body, "cert=- error=certificate has expired");
    sti_httpd_stop(h);
    /* Without a client CA the server requests no certificate. */
    cfg.tls_client_ca_file = NULL;
    h = start(&cfg, base, sizeof(base));
    whoami(base, "client", &r);
    assert_string_equal(r.body, "cert=- error=-");
    sti_httpd_stop(h);
    free(client);
    free(client_ca);
    free(cert);
    free(key);
}

static void client_ca_configs_rejected(void **state)
{
    char *cert = test_data_path("repo/tls-cert.pem");
    char *key = test_data_path("repo/tls-key.pem");
    char *client_ca = test_data_path("httpd/client-ca.pem");
    struct sti_httpd_config cfg = {.tls_client_ca_file = client_ca};
    struct sti_httpd *h;
    struct sti_error err;

    (void)state;
    /* Plain HTTP has no handshake to carry a certificate. */
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "need TLS"));
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    cfg.tls_client_ca_file = "/nonexistent/ca.pem";
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                     STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "/nonexistent/ca.pem"));
    /* A key is not a CA certificate. */
    cfg.tls_client_ca_file = key;
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "no PEM certificate"));
    assert_null(h);
    assert_null(sti_httpd_client_cert_sha256(NULL));
    assert_null(sti_httpd_client_cert_error(NULL));
    assert_int_equal(sti_httpd_set_log_note(NULL, "x"), STI_ERR_INVALID);
    free(client_ca);
    free(cert);
    free(key);
}

static void bad_configs_rejected(void **state)
{
    static const char *bad_listen[] = {
        "127.0.0.1",       "127.0.0.1:",   ":80",
        "127.0.0.1:99999", "127.0.0.1:8x", "[::1]:"};
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h, *h2;
    struct sti_error err;
    char listen[64];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
        cfg.listen = bad_listen[i];
        assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                         STI_ERR_INVALID);
        assert_null(h);
        assert_non_null(strstr(err.message, bad_listen[i]));
    }
    cfg.listen = NULL;
    cfg.tls_cert_file = "/nonexistent/cert.pem";
    assert_int_not_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                         STI_OK);
    assert_non_null(strstr(err.message, "key"));
    cfg.tls_key_file = "/nonexistent/key.pem";
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_httpd_start(NULL, NULL, NULL, &h, &err),
                     STI_ERR_INVALID);
    /* A port that is already bound. */
    assert_int_equal(sti_httpd_start(NULL, handler, NULL, &h, &err), STI_OK);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", sti_httpd_port(h));
    cfg = (struct sti_httpd_config){.listen = listen};
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &h2, &err),
                     STI_ERR_IO);
    assert_non_null(strstr(err.message, listen));
    sti_httpd_stop(h);
    sti_httpd_stop(NULL);
}

static void response_setters_validate(void **state)
{
    struct sti_httpd_response *none = NULL;

    (void)state;
    assert_int_equal(sti_httpd_add_header(none, "A", "b"), STI_ERR_INVALID);
    atomic_store(&releases, 0);
    assert_int_equal(
        sti_httpd_set_body_ref(none, NULL, "x", 1, release_counter, NULL),
        STI_ERR_INVALID);
    /* A failed call still releases the body, so callers never leak it. */
    assert_int_equal(atomic_load(&releases), 1);
    assert_int_equal(sti_httpd_set_body(none, NULL, NULL, 3), STI_ERR_INVALID);
    assert_int_equal(sti_httpd_send_error(none, 404, NULL, "x"),
                     STI_ERR_INVALID);
}

/* Handler that tries to inject headers; every bad one must be rejected. */
static void inject_handler(void *arg, const struct sti_httpd_request *req,
                           struct sti_httpd_response *resp)
{
    int *results = arg;

    (void)req;
    results[0] = sti_httpd_add_header(resp, "X-A", "v\r\nSet-Cookie: x");
    results[1] = sti_httpd_add_header(resp, "Bad Name", "v");
    results[2] = sti_httpd_add_header(resp, "", "v");
    results[3] = sti_httpd_set_body(resp, "text/plain\r\nX: y", "a", 1);
    results[4] = sti_httpd_send_error(resp, 200, NULL, "not an error");
    results[5] = sti_httpd_add_header(resp, "X-Good", "fine");
    sti_httpd_set_status(resp, 42); /* ignored: not an HTTP status */
    sti_httpd_set_body(resp, NULL, "", 0);
}

static void header_injection_rejected(void **state)
{
    int results[6] = {-1, -1, -1, -1, -1, -1};
    struct sti_httpd *h;
    struct sti_error err;
    struct reply r;
    char url[160];

    (void)state;
    assert_int_equal(sti_httpd_start(NULL, inject_handler, results, &h, &err),
                     STI_OK);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sti_httpd_port(h));
    assert_int_equal(request("GET", url, NULL, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    for (int i = 0; i < 5; i++)
        assert_int_equal(results[i], STI_ERR_INVALID);
    assert_int_equal(results[5], STI_OK);
    assert_null(strstr(r.headers, "Set-Cookie"));
    assert_non_null(strstr(r.headers, "X-Good: fine"));
    sti_httpd_stop(h);
}

static int connect_port(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads until EOF or 5 s pass; returns the bytes read, -1 on timeout. */
static ssize_t read_until_close(int fd, char *buf, size_t size)
{
    size_t n = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&p, 1, 5000) <= 0)
            return -1;
        r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n + 1 >= size)
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static void slow_client_times_out(void **state)
{
    struct sti_httpd_config cfg = {.timeout_s = 1};
    struct sti_httpd *h;
    char base[64], buf[256];
    int fd, before = atomic_load(&handler_calls);
    const char partial[] = "GET /slow HTTP/1.1\r\nHost: x\r\n";

    (void)state;
    h = start(&cfg, base, sizeof(base));
    fd = connect_port(sti_httpd_port(h));
    assert_int_equal(write(fd, partial, sizeof(partial) - 1),
                     (ssize_t)sizeof(partial) - 1);
    assert_true(read_until_close(fd, buf, sizeof(buf)) >= 0);
    assert_int_equal(atomic_load(&handler_calls), before);
    close(fd);
    sti_httpd_stop(h);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) +
           (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Sends TEXT one byte every 200 ms and returns the seconds until the
 * server closed the connection, or -1 when it was still open after the
 * text or 5 s.
 */
static double trickle_until_closed(int fd, const char *text)
{
    struct timespec t0;
    char buf[512];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; text[i] != '\0' && seconds_since(&t0) < 5; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (send(fd, text + i, 1, MSG_NOSIGNAL) != 1)
            return seconds_since(&t0);
        if (poll(&p, 1, 200) > 0 && read(fd, buf, sizeof(buf)) <= 0)
            return seconds_since(&t0);
    }
    return -1;
}

static void trickled_head_cut_at_deadline(void **state)
{
    struct sti_httpd_config cfg = {.timeout_s = 10, .request_timeout_s = 1};
    struct sti_httpd *h;
    char base[64], *dir = test_tmpdir();
    char *path = test_path(dir, "log");
    unsigned char *log;
    size_t len;
    int saved = dup(2), logfd = open(path, O_WRONLY | O_CREAT, 0600);
    int fd, before = atomic_load(&handler_calls);
    double t;

    (void)state;
    dup2(logfd, 2);
    h = start(&cfg, base, sizeof(base));
    fd = connect_port(sti_httpd_port(h));
    /* These 160 bytes at 5 per second take 32 s.  Each byte resets the
     * idle timeout, so only the request deadline can end the connection. */
    t = trickle_until_closed(fd, "GET /slow HTTP/1.1\r\nX-Pad: "
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "\r\n\r\n");
    close(fd);
    sti_httpd_stop(h);
    dup2(saved, 2);
    close(saved);
    close(logfd);
    assert_true(t >= 0.8);
    assert_true(t < 2.0);
    assert_int_equal(atomic_load(&handler_calls), before);
    assert_int_equal(sti_file_read(path, &log, &len, NULL), STI_OK);
    assert_non_null(strstr((char *)log,
                           "request timed out: closed the connection from "
                           "127.0.0.1, which did not send a complete request "
                           "within 1 s"));
    free(log);
    free(path);
    test_rmtree(dir);
}

static void trickled_body_cut_at_deadline(void **state)
{
    struct sti_httpd_config cfg = {.timeout_s = 10, .request_timeout_s = 1};
    struct sti_httpd *h;
    char base[64];
    const char head[] = "PUT /echo HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 40\r\n\r\n";
    int fd, before = atomic_load(&handler_calls);
    double t;

    (void)state;
    h = start(&cfg, base, sizeof(base));
    fd = connect_port(sti_httpd_port(h));
    assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(head) - 1);
    t = trickle_until_closed(fd, "0123456789012345678901234567890123456789");
    close(fd);
    sti_httpd_stop(h);
    assert_true(t >= 0.8);
    assert_true(t < 2.0);
    assert_int_equal(atomic_load(&handler_calls), before);
}

static void keep_alive_requests_not_cut(void **state)
{
    struct sti_httpd_config cfg = {.timeout_s = 10, .request_timeout_s = 1};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160];
    CURL *c = curl_easy_init();
    long connects = -1;
    struct timespec pause = {0, 300 * 1000000L};

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/again", base);
    assert_int_equal(request_on(c, "GET", url, NULL, NULL, &r), CURLE_OK);
    /* 8 requests 300 ms apart span 2.4 s, more than twice the deadline,
     * but each response starts the deadline again. */
    for (int i = 0; i < 8; i++) {
        nanosleep(&pause, NULL);
        assert_int_equal(request_on(c, "GET", url, NULL, NULL, &r), CURLE_OK);
        assert_int_equal(r.status, 201);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(connects, 0);
    }
    curl_easy_cleanup(c);
    sti_httpd_stop(h);
}

struct slow_call {
    char url[160];
    struct reply reply;
    CURLcode rc;
};

static void *slow_call_main(void *arg)
{
    struct slow_call *call = arg;

    call->rc = request("GET", call->url, NULL, NULL, &call->reply);
    return NULL;
}

struct probe {
    int port;
    int connect_errno; /* 0 when the connection was accepted */
};

/* Connects 300 ms after it starts, while the server drains. */
static void *probe_main(void *arg)
{
    struct probe *p = arg;
    struct timespec wait = {0, 300 * 1000 * 1000};
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)p->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    nanosleep(&wait, NULL);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    p->connect_errno =
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
    close(fd);
    return NULL;
}

/* Eight keep-alive connections opened at once, as a SIP server opens its
 * pool, are spread evenly over the two workers.  All stay open until every
 * response is in, so that no close moves the balance. */
static void connections_spread_over_workers(void **state)
{
    static const char req[] = "GET /thread HTTP/1.1\r\nHost: x\r\n\r\n";
    struct sti_httpd_config cfg = {.threads = 2};
    struct sti_httpd *h;
    char base[64], buf[4096], first[64] = "", *id;
    int fds[8], same = 0;

    (void)state;
    h = start(&cfg, base, sizeof(base));
    for (int i = 0; i < 8; i++)
        fds[i] = connect_port(sti_httpd_port(h));
    for (int i = 0; i < 8; i++)
        assert_int_equal(write(fds[i], req, sizeof(req) - 1),
                         (ssize_t)(sizeof(req) - 1));
    for (int i = 0; i < 8; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        ssize_t n;

        assert_int_equal(poll(&p, 1, 5000), 1);
        n = read(fds[i], buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        id = strstr(buf, "thread ");
        assert_non_null(id);
        if (first[0] == '\0')
            snprintf(first, sizeof(first), "%s", id);
        same += strcmp(first, id) == 0;
    }
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    assert_int_equal(same, 4);
    sti_httpd_stop(h);
}

static void stop_finishes_requests(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct slow_call call;
    struct probe probe = {0};
    char base[64];
    pthread_t thread, prober;
    struct timespec t0, pause = {0, 5 * 1000 * 1000};
    int before = atomic_load(&handler_calls);
    double stop_s;

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(call.url, sizeof(call.url), "%s/sleep", base);
    assert_int_equal(pthread_create(&thread, NULL, slow_call_main, &call), 0);
    while (atomic_load(&handler_calls) == before)
        nanosleep(&pause, NULL);
    /* The handler sleeps 1 s; stopping now must still send its reply,
     * while new connections are refused. */
    probe.port = sti_httpd_port(h);
    assert_int_equal(pthread_create(&prober, NULL, probe_main, &probe), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sti_httpd_stop(h);
    stop_s = seconds_since(&t0);
    pthread_join(thread, NULL);
    pthread_join(prober, NULL);
    assert_int_equal(probe.connect_errno, ECONNREFUSED);
    assert_int_equal(call.rc, CURLE_OK);
    assert_int_equal(call.reply.status, 200);
    assert_string_equal(call.reply.body, "slept");
    assert_non_null(strstr(call.reply.headers, "Connection: close"));
    assert_true(stop_s > 0.5);
    assert_true(stop_s < 4.0);
}

static void per_ip_rejection_logged(void **state)
{
    struct sti_httpd_config cfg = {.per_ip_connections = 1};
    struct sti_httpd *h;
    char base[64], buf[64], *dir = test_tmpdir();
    char *path = test_path(dir, "log");
    unsigned char *log;
    size_t len;
    int saved = dup(2), logfd = open(path, O_WRONLY | O_CREAT, 0600);
    int first, second;
    const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    struct pollfd ready = {.events = POLLIN};

    (void)state;
    dup2(logfd, 2);
    h = start(&cfg, base, sizeof(base));
    first = connect_port(sti_httpd_port(h));
    ready.fd = first;
    /* A response on the first connection shows that the server took it
     * before the second one arrives. */
    assert_int_equal(send(first, hello, sizeof(hello) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(hello) - 1);
    assert_int_equal(poll(&ready, 1, 5000), 1);
    assert_true(read(first, buf, sizeof(buf)) > 0);
    second = connect_port(sti_httpd_port(h));
    /* The server closes the second connection without a response. */
    assert_int_equal(read_until_close(second, buf, sizeof(buf)), 0);
    close(second);
    close(first);
    sti_httpd_stop(h);
    dup2(saved, 2);
    close(saved);
    close(logfd);
    assert_int_equal(sti_file_read(path, &log, &len, NULL), STI_OK);
    assert_non_null(strstr((char *)log,
                           "connection limit reached: closed 1 new "
                           "connection without a response"));
    assert_non_null(strstr((char *)log, "limits 1024 in total and 1 per "
                                        "client address"));
    free(log);
    free(path);
    test_rmtree(dir);
}

/* Rejects requests for /locked before their body arrives. */
static void expect_handler(void *arg, const struct sti_httpd_request *req,
                           struct sti_httpd_response *resp)
{
    size_t len = 1;

    (void)arg;
    assert_non_null(sti_httpd_body(req, &len));
    assert_int_equal(len, 0);
    if (strcmp(sti_httpd_path(req), "/locked") == 0)
        sti_httpd_send_error(resp, 401, NULL, "locked");
}

static void expect_rejected_before_body(void **state)
{
    struct sti_httpd_config cfg = {.expect_handler = expect_handler};
    struct sti_httpd *h;
    char base[64], buf[1024];
    const char head[] = "PUT /locked HTTP/1.1\r\nHost: x\r\n"
                        "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n";
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect: 100-continue");
    struct reply r;
    char url[160];
    int fd, before = atomic_load(&handler_calls);

    (void)state;
    h = start(&cfg, base, sizeof(base));
    fd = connect_port(sti_httpd_port(h));
    assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(head) - 1);
    assert_true(read_until_close(fd, buf, sizeof(buf)) > 0);
    close(fd);
    /* The final status comes first: no 100 Continue invites the body. */
    assert_memory_equal(buf, "HTTP/1.1 401", 12);
    assert_non_null(strstr(buf, "\"locked\""));
    assert_int_equal(atomic_load(&handler_calls), before);
    /* Other paths get 100 Continue and reach the handler. */
    snprintf(url, sizeof(url), "%s/open", base);
    assert_int_equal(request("PUT", url, "0123456789", hdrs, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "body=0123456789"));
    assert_int_equal(atomic_load(&handler_calls), before + 1);
    curl_slist_free_all(hdrs);
    sti_httpd_stop(h);
}

/* Sends TEXT on a new connection and returns the status of the reply. */
static int raw_status(int port, const char *text)
{
    char buf[2048];
    int fd = connect_port(port), status = -1;

    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL),
                     (ssize_t)strlen(text));
    if (read_until_close(fd, buf, sizeof(buf)) > 12)
        sscanf(buf, "HTTP/1.%*d %d", &status);
    close(fd);
    return status;
}

static void malformed_requests_get_400(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    char base[64];
    int port, before = atomic_load(&handler_calls);

    (void)state;
    h = start(&cfg, base, sizeof(base));
    port = sti_httpd_port(h);
    /* RFC 9112 section 3.2: HTTP/1.1 needs Host; HTTP/1.0 does not. */
    assert_int_equal(raw_status(port, "GET /a HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(atomic_load(&handler_calls), before);
    assert_int_equal(raw_status(port, "GET /a HTTP/1.0\r\n\r\n"), 201);
    /* libmicrohttpd closes the connection on a space in the target. */
    assert_int_equal(raw_status(port, "GET /a b HTTP/1.1\r\nHost: x\r\n"
                                      "Connection: close\r\n\r\n"),
                     -1);
    assert_int_equal(atomic_load(&handler_calls), before + 1);
    /* RFC 9112 section 6.3: different lengths are an error, equal ones
     * are not. */
    assert_int_equal(raw_status(port, "PUT /a HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: 3\r\n"
                                      "Content-Length: 4\r\n\r\nabcd"),
                     400);
    assert_int_equal(atomic_load(&handler_calls), before + 1);
    assert_int_equal(raw_status(port, "PUT /a HTTP/1.1\r\nHost: x\r\n"
                                      "Connection: close\r\n"
                                      "Content-Length: 3\r\n"
                                      "Content-Length: 3\r\n\r\nabc"),
                     201);
    sti_httpd_stop(h);
}

static void header_lines_walked(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *h;
    struct curl_slist *hdrs = curl_slist_append(NULL, "X-Test: one");
    struct reply r;
    char base[64], url[160];

    (void)state;
    hdrs = curl_slist_append(hdrs, "X-Test: two, three");
    hdrs = curl_slist_append(hdrs, "X-Test: stop");
    hdrs = curl_slist_append(hdrs, "X-Test: after");
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/each", base);
    assert_int_equal(request("GET", url, NULL, hdrs, &r), CURLE_OK);
    /* The walk keeps the order and stops when the callback returns non-zero. */
    assert_string_equal(r.body, "one|two, three|stop|");
    assert_int_equal(sti_httpd_header_each(NULL, "x", append_value, url), 0);
    curl_slist_free_all(hdrs);
    sti_httpd_stop(h);
}

static void huge_headers_rejected(void **state)
{
    struct sti_httpd_config cfg = {.max_header = 4096};
    struct sti_httpd *h;
    char base[64], url[160], *big = malloc(8200);
    struct curl_slist *hdrs;
    struct reply r;
    int before = atomic_load(&handler_calls);

    (void)state;
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/big", base);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 8000);
    big[8007] = '\0';
    hdrs = curl_slist_append(NULL, big);
    request("GET", url, NULL, hdrs, &r);
    assert_true(r.status == 431 || r.status == 413 || r.status == 400);
    assert_int_equal(atomic_load(&handler_calls), before);
    curl_slist_free_all(hdrs);
    free(big);
    sti_httpd_stop(h);
}

static void access_log_line(void **state)
{
    struct sti_httpd_config cfg = {.access_log = 1};
    struct sti_httpd *h;
    struct reply r;
    char base[64], url[160], *dir = test_tmpdir();
    char *path = test_path(dir, "log");
    unsigned char *log;
    size_t len;
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT, 0600), raw;
    const char forged[] = "GET /a\xff\xfe HTTP/1.1\r\n"
                          "Host: x\r\nConnection: close\r\n\r\n";
    char reply[1024];

    (void)state;
    sti_log_init("test_httpd", STI_LOG_INFO);
    dup2(fd, 2);
    h = start(&cfg, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/error?token=secret", base);
    request("GET", url, NULL, NULL, &r);
    snprintf(url, sizeof(url), "%s/note", base);
    request("GET", url, NULL, NULL, &r);
    /* Bytes above 0x7e in the target reach the log as %XX. */
    raw = connect_port(sti_httpd_port(h));
    assert_int_equal(send(raw, forged, sizeof(forged) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(forged) - 1);
    assert_true(read_until_close(raw, reply, sizeof(reply)) > 0);
    close(raw);
    sti_httpd_stop(h);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_int_equal(sti_file_read(path, &log, &len, NULL), STI_OK);
    assert_non_null(strstr((char *)log, "access: 127.0.0.1 GET /error 404 "));
    assert_non_null(strstr((char *)log, " ms"));
    /* A note cannot start a line of its own. */
    assert_non_null(strstr((char *)log, "GET /note 200 5 bytes "));
    assert_non_null(strstr((char *)log, " ms auth=token:ci?forged\n"));
    assert_non_null(strstr((char *)log, "GET /a%FF%FE 201 "));
    /* Query strings can carry secrets, so the log leaves them out. */
    assert_null(strstr((char *)log, "secret"));
    free(log);
    free(path);
    test_rmtree(dir);
}

/* Waits up to MS milliseconds for data to read on FD. */
static int reply_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, ms) == 1;
}

static void send_all(int fd, const char *req)
{
    size_t n = strlen(req);

    assert_int_equal(send(fd, req, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void wait_calls_above(int count)
{
    for (int i = 0; i < 500 && atomic_load(&handler_calls) <= count; i++)
        usleep(10000);
    assert_true(atomic_load(&handler_calls) > count);
}

static void read_reply(int fd, const char *expect)
{
    char buf[512];
    ssize_t n;

    assert_true(reply_within(fd, 5000));
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, expect));
}

/* Sends one request on FD and reads its response, so that FD's worker
 * has taken the connection before the test goes on. */
static void warm_up(int fd)
{
    send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    read_reply(fd, "HTTP/1.1 201");
}

/* Sends /gate on A and, once A's handler waits at the gate, a GET of
 * TARGET on B, then opens the gate.  Returns the handler count from
 * before A's request. */
static int queue_behind_gate(int a, int b, const char *target)
{
    int before = atomic_load(&handler_calls);
    char req[128];

    send_all(a, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_calls_above(before);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    send_all(b, req);
    usleep(50000);
    sem_post(&gate);
    return before;
}

/*
 * With batch_responses a worker keeps the round open while requests
 * arrive: A's response waits for B, which arrived while A's handler ran,
 * and leaves with it.  Without batching A's response leaves at once.
 */
static void batched_responses_leave_together(void **state)
{
    /* A window of a minute keeps a preempted worker from closing the
     * round early. */
    struct sti_httpd_config cfg = {.threads = 1,
                                   .batch_window_us = 60 * 1000 * 1000};
    struct sti_httpd *h;
    char base[64];
    int a, b;

    (void)state;
    sem_init(&gate, 0, 0);
    h = start(&cfg, base, sizeof(base));
    a = connect_port(sti_httpd_port(h));
    b = connect_port(sti_httpd_port(h));
    warm_up(a);
    warm_up(b);
    queue_behind_gate(a, b, "/sleep");
    /* B's handler sleeps for a second. */
    if (batch_mode)
        assert_false(reply_within(a, 500));
    else
        assert_true(reply_within(a, 500));
    read_reply(a, "opened");
    read_reply(b, "slept");
    close(a);
    close(b);
    sti_httpd_stop(h);
    sem_destroy(&gate);
}

static void *post_gate_later(void *arg)
{
    struct timespec wait = {5, 500 * 1000 * 1000};

    (void)arg;
    nanosleep(&wait, NULL);
    sem_post(&gate);
    return NULL;
}

/*
 * A stop that finds a held response sends it.  A's response is held while
 * B's handler blocks past the 5 s drain, so the worker gets its stop
 * signal in the middle of a round (libmicrohttpd aborts when it is
 * stopped with a suspended connection).
 */
static void stop_sends_held_responses(void **state)
{
    struct sti_httpd_config cfg = {.threads = 1,
                                   .batch_window_us = 60 * 1000 * 1000};
    struct sti_httpd *h;
    char base[64];
    pthread_t poster;
    int a, b, before;

    (void)state;
    if (!batch_mode)
        skip();
    sem_init(&gate, 0, 0);
    h = start(&cfg, base, sizeof(base));
    a = connect_port(sti_httpd_port(h));
    b = connect_port(sti_httpd_port(h));
    warm_up(a);
    warm_up(b);
    before = queue_behind_gate(a, b, "/gate");
    wait_calls_above(before + 1);
    assert_int_equal(pthread_create(&poster, NULL, post_gate_later, NULL), 0);
    sti_httpd_stop(h);
    pthread_join(poster, NULL);
    read_reply(a, "opened");
    read_reply(b, "opened");
    close(a);
    close(b);
    sem_destroy(&gate);
}

/*
 * The default window of 5 ms ends a round after a slow pass: A's response
 * leaves with B's after B's second of sleep, not after C's as well, which
 * arrived during B's sleep.
 */
static void batch_window_ends_round(void **state)
{
    struct sti_httpd_config cfg = {.threads = 1};
    struct sti_httpd *h;
    char base[64];
    int a, b, c, before;

    (void)state;
    if (!batch_mode)
        skip();
    sem_init(&gate, 0, 0);
    h = start(&cfg, base, sizeof(base));
    a = connect_port(sti_httpd_port(h));
    b = connect_port(sti_httpd_port(h));
    c = connect_port(sti_httpd_port(h));
    warm_up(a);
    warm_up(b);
    warm_up(c);
    before = queue_behind_gate(a, b, "/sleep");
    wait_calls_above(before + 1);
    send_all(c, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
    /* B's sleep ends about 1 s after the gate, C's about 2 s after. */
    assert_true(reply_within(a, 1500));
    read_reply(a, "opened");
    read_reply(b, "slept");
    read_reply(c, "slept");
    close(a);
    close(b);
    close(c);
    sti_httpd_stop(h);
    sem_destroy(&gate);
}

/* The connection limits count the connections of every worker. */
static void limits_span_workers(void **state)
{
    struct sti_httpd_config total = {.threads = 2, .max_connections = 2};
    struct sti_httpd_config per_ip = {.threads = 2, .per_ip_connections = 2};
    struct sti_httpd_config *cfgs[] = {&total, &per_ip};
    char base[64], buf[512];

    (void)state;
    for (int i = 0; i < 2; i++) {
        struct sti_httpd *h = start(cfgs[i], base, sizeof(base));
        int fds[3];

        /* Each of the first two gets a response, so both are open on the
         * server (one per worker) before the third arrives. */
        for (int j = 0; j < 2; j++) {
            fds[j] = connect_port(sti_httpd_port(h));
            warm_up(fds[j]);
        }
        fds[2] = connect_port(sti_httpd_port(h));
        assert_int_equal(read_until_close(fds[2], buf, sizeof(buf)), 0);
        close(fds[2]);
        /* A closed connection frees its place. */
        close(fds[0]);
        usleep(200000);
        fds[0] = connect_port(sti_httpd_port(h));
        warm_up(fds[0]);
        close(fds[0]);
        close(fds[1]);
        sti_httpd_stop(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_request_fields),
        cmocka_unit_test(head_and_ref_body),
        cmocka_unit_test(errors_and_empty_handler),
        cmocka_unit_test(oversized_body_gets_413),
        cmocka_unit_test(keep_alive_reuses_connection),
        cmocka_unit_test(tls_from_pem_files),
        cmocka_unit_test(client_certs_verified),
        cmocka_unit_test(client_ca_configs_rejected),
        cmocka_unit_test(bad_configs_rejected),
        cmocka_unit_test(response_setters_validate),
        cmocka_unit_test(header_injection_rejected),
        cmocka_unit_test(slow_client_times_out),
        cmocka_unit_test(trickled_head_cut_at_deadline),
        cmocka_unit_test(trickled_body_cut_at_deadline),
        cmocka_unit_test(keep_alive_requests_not_cut),
        cmocka_unit_test(connections_spread_over_workers),
        cmocka_unit_test(stop_finishes_requests),
        cmocka_unit_test(per_ip_rejection_logged),
        cmocka_unit_test(expect_rejected_before_body),
        cmocka_unit_test(malformed_requests_get_400),
        cmocka_unit_test(header_lines_walked),
        cmocka_unit_test(huge_headers_rejected),
        cmocka_unit_test(access_log_line),
        cmocka_unit_test(batched_responses_leave_together),
        cmocka_unit_test(limits_span_workers),
        cmocka_unit_test(stop_sends_held_responses),
        cmocka_unit_test(batch_window_ends_round),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    sti_log_init("test_httpd", STI_LOG_WARNING);
    rc = cmocka_run_group_tests_name("unbatched", tests, NULL, NULL);
    batch_mode = 1;
    rc |= cmocka_run_group_tests_name("batched", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
