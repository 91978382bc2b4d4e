/* Unit tests for lib/http.c against a small HTTP server on 127.0.0.1 that
 * runs in a thread of this test and sends canned responses. */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server {
    int fd;
    int port;
    volatile int stop;
    pthread_t thread;
    char last_request[4096];
};

static struct server srv;

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        data += w;
        len -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *headers,
                  const char *body, size_t body_len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, headers, body_len);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, body_len);
}

/* Reads one request (headers and a Content-Length body) into BUF. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    const char *end = NULL;

    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        const char *cl;

        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        cl = strcasestr(buf, "content-length:");
        if (cl == NULL || (size_t)(end + 4 - buf) + (size_t)atol(cl + 15) <= n)
            break;
    }
    buf[n] = '\0';
    return n;
}

static void serve_one(int fd)
{
    char req[4096], big[3000];

    read_request(fd, req, sizeof(req));
    memcpy(srv.last_request, req, sizeof(req));
    if (strncmp(req, "GET /ok ", 8) == 0) {
        reply(fd, "200 OK",
              "Content-Type: text/plain\r\nX-Test: one\r\n"
              "x-test: two\r\n",
              "hello", 5);
    } else if (strncmp(req, "GET /redirect ", 14) == 0) {
        reply(fd, "302 Found", "Location: /ok\r\n", "", 0);
    } else if (strncmp(req, "GET /big ", 9) == 0) {
        memset(big, 'x', sizeof(big));
        reply(fd, "200 OK", "", big, sizeof(big));
    } else if (strncmp(req, "GET /slow ", 10) == 0) {
        usleep(800 * 1000);
        reply(fd, "200 OK", "", "late", 4);
    } else if (strncmp(req, "POST /echo ", 11) == 0) {
        const char *body = strstr(req, "\r\n\r\n") + 4;

        reply(fd, "201 Created", "Content-Type: application/json\r\n", body,
              strlen(body));
    } else {
        reply(fd, "404 Not Found", "", "none", 4);
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        struct pollfd p = {.fd = srv.fd, .events = POLLIN};
        int c;

        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(c);
        close(c);
    }
    return NULL;
}

static int server_start(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);

    (void)state;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(srv.fd, 8) != 0 ||
        getsockname(srv.fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.thread, NULL, server_main, NULL);
}

static int server_stop(void **state)
{
    (void)state;
    srv.stop = 1;
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    return 0;
}

static char *url(const char *path)
{
    static char buf[128];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", srv.port, path);
    return buf;
}

static void get_returns_body_and_headers(void **state)
{
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", url("/ok"), NULL, 0, NULL, &r, &err), STI_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 5);
    assert_string_equal((char *)r->body, "hello");
    assert_string_equal(r->content_type, "text/plain");
    /* The last of two same-named headers, looked up in any case. */
    assert_string_equal(sti_http_response_header(r, "X-TEST"), "two");
    assert_null(sti_http_response_header(r, "x-missing"));
    sti_http_response_free(r);
}

static void non_2xx_is_a_response(void **state)
{
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", url("/nothing"), NULL, 0, NULL, &r, &err),
        STI_OK);
    assert_int_equal(r->status, 404);
    sti_http_response_free(r);
}

static void redirects_off_by_default(void **state)
{
    struct sti_http_options o = {0};
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", url("/redirect"), NULL, 0, &o, &r, &err),
        STI_OK);
    assert_int_equal(r->status, 302);
    assert_string_equal(sti_http_response_header(r, "location"), "/ok");
    sti_http_response_free(r);
    o.follow_redirects = 1;
    assert_int_equal(
        sti_http_request("GET", url("/redirect"), NULL, 0, &o, &r, &err),
        STI_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal((char *)r->body, "hello");
    /* Only the final response's headers are kept. */
    assert_null(sti_http_response_header(r, "location"));
    sti_http_response_free(r);
}

static void body_cap_is_enforced(void **state)
{
    struct sti_http_options o = {.max_body = 1000};
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", url("/big"), NULL, 0, &o, &r, &err),
        STI_ERR_POLICY);
    assert_null(r);
    assert_non_null(strstr(err.message, "1000 bytes"));
    o.max_body = 3000;
    assert_int_equal(
        sti_http_request("GET", url("/big"), NULL, 0, &o, &r, &err), STI_OK);
    assert_int_equal(r->body_len, 3000);
    sti_http_response_free(r);
}

static void timeout_is_enforced(void **state)
{
    struct sti_http_options o = {.timeout_ms = 300};
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", url("/slow"), NULL, 0, &o, &r, &err),
        STI_ERR_NET);
    assert_non_null(strstr(err.message, "timed out"));
}

static void post_sends_body_and_headers(void **state)
{
    const char *const headers[] = {"Content-Type: application/jose+json",
                                   "X-Req: 7", NULL};
    struct sti_http_options o = {.headers = headers};
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("POST", url("/echo"), "{\"a\":1}", 7, &o, &r, &err),
        STI_OK);
    assert_int_equal(r->status, 201);
    assert_string_equal((char *)r->body, "{\"a\":1}");
    assert_non_null(strstr(srv.last_request, "X-Req: 7"));
    assert_non_null(strstr(srv.last_request, "application/jose+json"));
    sti_http_response_free(r);
}

static void refused_connection_fails(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    struct sti_http_response *r;
    struct sti_error err;
    char u[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port that was free a moment ago and has no listener. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    assert_int_equal(sti_http_request("GET", u, NULL, 0, NULL, &r, &err),
                     STI_ERR_NET);
    assert_non_null(strstr(err.message, u));
}

static void bad_urls_rejected(void **state)
{
    struct sti_http_response *r;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_http_request("GET", "ftp://127.0.0.1/x", NULL, 0, NULL, &r, &err),
        STI_ERR_INVALID);
    assert_int_equal(sti_http_request("GET", "", NULL, 0, NULL, &r, &err),
                     STI_ERR_INVALID);
    assert_int_equal(
        sti_http_request(NULL, url("/ok"), NULL, 0, NULL, &r, &err),
        STI_ERR_INVALID);
    sti_http_response_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_returns_body_and_headers),
        cmocka_unit_test(non_2xx_is_a_response),
        cmocka_unit_test(redirects_off_by_default),
        cmocka_unit_test(body_cap_is_enforced),
        cmocka_unit_test(timeout_is_enforced),
        cmocka_unit_test(post_sends_body_and_headers),
        cmocka_unit_test(refused_connection_fails),
        cmocka_unit_test(bad_urls_rejected),
    };

    return cmocka_run_group_tests(tests, server_start, server_stop);
}
