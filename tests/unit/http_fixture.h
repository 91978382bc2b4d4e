/*
 * A plain-HTTP server on 127.0.0.1 in a thread of the test, answering
 * GET requests from a table of canned routes and counting requests.
 */
#ifndef STI_TEST_HTTP_FIXTURE_H
#define STI_TEST_HTTP_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct route {
    char path[128];
    char status[32];
    char headers[256];
    char *body;      /* borrowed */
    size_t body_len; /* 0: strlen(body) */
};

/* The media type an x5u must be served with (RFC 8555 section 9.1). */
#define PEM_TYPE "Content-Type: application/pem-certificate-chain\r\n"

static struct {
    int fd, port;
    volatile int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    struct route routes[16];
    int count;
    int hits;
} fx = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Serves BODY[0..LEN) at PATH; a LEN of 0 serves strlen(BODY) bytes. */
static void fx_route_bytes(const char *path, const char *status,
                           const char *headers, char *body, size_t len)
{
    pthread_mutex_lock(&fx.lock);
    for (int i = 0; i <= fx.count && i < 16; i++) {
        if (i == fx.count || strcmp(fx.routes[i].path, path) == 0) {
            snprintf(fx.routes[i].path, 128, "%s", path);
            snprintf(fx.routes[i].status, 32, "%s", status);
            snprintf(fx.routes[i].headers, 256, "%s", headers);
            fx.routes[i].body = body;
            fx.routes[i].body_len = len;
            if (i == fx.count)
                fx.count++;
            break;
        }
    }
    pthread_mutex_unlock(&fx.lock);
}

static void fx_route(const char *path, const char *status, const char *headers,
                     char *body)
{
    fx_route_bytes(path, status, headers, body, 0);
}

static inline int fx_hits(void)
{
    int n;

    pthread_mutex_lock(&fx.lock);
    n = fx.hits;
    pthread_mutex_unlock(&fx.lock);
    return n;
}

static void fx_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        data += w;
        len -= (size_t)w;
    }
}

static void fx_serve(int fd)
{
    char req[4096] = "", head[1024], path[128] = "";
    size_t n = 0;
    const struct route *r = NULL;
    int len;

    while (n + 1 < sizeof(req) && strstr(req, "\r\n\r\n") == NULL) {
        ssize_t got = recv(fd, req + n, sizeof(req) - n - 1, 0);

        if (got <= 0)
            break;
        n += (size_t)got;
        req[n] = '\0';
    }
    req[n] = '\0';
    sscanf(req, "GET %127s ", path);
    pthread_mutex_lock(&fx.lock);
    fx.hits++;
    for (int i = 0; i < fx.count; i++)
        if (strcmp(fx.routes[i].path, path) == 0)
            r = &fx.routes[i];
    if (r == NULL) {
        len = snprintf(head, sizeof(head),
                       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n");
        fx_send(fd, head, (size_t)len);
    } else {
        size_t blen = r->body_len;

        if (blen == 0 && r->body != NULL)
            blen = strlen(r->body);

        len = snprintf(head, sizeof(head),
                       "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n",
                       r->status, r->headers, blen);
        fx_send(fd, head, (size_t)len);
        fx_send(fd, r->body, blen);
    }
    pthread_mutex_unlock(&fx.lock);
}

static void *fx_main(void *arg)
{
    (void)arg;
    while (!fx.stop) {
        struct pollfd p = {.fd = fx.fd, .events = POLLIN};
        int c;

        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(fx.fd, NULL, NULL);
        if (c < 0)
            continue;
        fx_serve(c);
        close(c);
    }
    return NULL;
}

static int fx_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fx.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fx.fd < 0 || bind(fx.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fx.fd, 16) != 0 ||
        getsockname(fx.fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    fx.port = ntohs(a.sin_port);
    return pthread_create(&fx.thread, NULL, fx_main, NULL);
}

static void fx_stop(void)
{
    fx.stop = 1;
    pthread_join(fx.thread, NULL);
    close(fx.fd);
}

static const char *fx_url(const char *path)
{
    static char buf[8][160];
    static int next;
    char *out = buf[next++ % 8];

    snprintf(out, 160, "http://127.0.0.1:%d%s", fx.port, path);
    return out;
}

#endif
