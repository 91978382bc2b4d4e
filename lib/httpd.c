/*
 * HTTP(S) server for the stilab services on libmicrohttpd.  Each request
 * gets a context from the URI log callback (which sees the raw URI), its
 * body is collected up to max_body, the handler runs once on a worker
 * thread, and the completion callback writes the access-log line.  A
 * sweeper thread closes connections whose request is not complete by its
 * deadline (request_timeout_s).
 */
#include "httpd_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_TIMEOUT_S 10
#define DEFAULT_MAX_BODY (64 * 1024)
#define DEFAULT_THREADS 2
#define DEFAULT_MAX_HEADER (16 * 1024)
#define DEFAULT_REQUEST_TIMEOUT_S 30
/* Interval between the sweeper's checks, so a connection closes at most
 * this long after its deadline. */
#define SWEEP_INTERVAL_MS 200
#define HOST_MAX 256
/* How long sti_httpd_stop() waits for requests in progress.  It covers
 * the slowest handler step in libsti, an x5u fetch (4 s timeout). */
#define DRAIN_MS 5000
#define DISCARD_MAX (1024 * 1024)
/* Bodies up to this size are corked into one TLS record (below). */
#define CORK_MAX (12 * 1024)
/* Maximum number of responses that a worker holds back in one round, and
 * the default age after which a round ends even while requests keep
 * arriving.  The age is checked between passes of MHD_run(), so a
 * response can also wait for the handlers that run after it in the same
 * pass. */
#define BATCH_MAX 32
#define DEFAULT_BATCH_WINDOW_US 5000
/* Size of a worker's buffer of access-log lines: a write() of up to
 * PIPE_BUF bytes to a pipe does not interleave with other writers. */
#define LOG_BUFFER PIPE_BUF
#define LOG_LINE_MAX 2048

/* At most one log line per interval for connections over the limits. */
#define REJECT_LOG_INTERVAL_MS 1000

/* TLS 1.2 and 1.3 only: GnuTLS priority string syntax. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/*
 * An open connection, tracked from libmicrohttpd's STARTED notification to
 * its CLOSED one.  deadline_ms is in CLOCK_MONOTONIC_COARSE milliseconds.
 * 0 means no deadline because a handler runs or a response is being sent,
 * and -1 means that the sweeper has shut the socket down.
 */
struct httpd_conn {
    struct httpd_conn *prev, *next; /* guarded by sti_httpd.conns_lock */
    struct httpd_conn *handoff;     /* the worker's queue of new sockets */
    struct httpd_worker *worker;
    int fd;
    int started;     /* libmicrohttpd has sent STARTED */
    int send_failed; /* uncork() failed and logged it */
    atomic_llong deadline_ms;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char peer[INET6_ADDRSTRLEN];
};

/*
 * A worker thread and the libmicrohttpd daemon it runs.  The accepting
 * thread queues new sockets on handoff and writes to wake_fd.  The worker
 * adds them to its daemon, so that only its own thread uses the daemon.
 * ready lists the requests whose response waits for the end of the
 * current round (see flush_ready()).
 */
struct httpd_worker {
    struct sti_httpd *httpd;
    struct MHD_Daemon *daemon;
    pthread_t thread;
    int running;
    atomic_int stop;
    int wake_fd;
    pthread_mutex_t lock;        /* guards handoff */
    struct httpd_conn *handoff;  /* new sockets, newest first */
    struct httpd_conn *starting; /* the socket being added */
    struct sti_httpd_request *ready, **ready_tail;
    int resumed;              /* flush_ready() resumed connections */
    unsigned int ready_count; /* the length of ready */
    unsigned int added; /* requests added to ready by the last MHD_run() */
    struct timespec round_start; /* when the first response was held */
    unsigned int load; /* open connections, under sti_httpd.conns_lock */
    /* Access-log lines not written yet: the worker writes them with one
     * write() before it waits for network events, or when full. */
    char log[LOG_BUFFER];
    size_t log_len;
};

struct sti_httpd {
    struct httpd_worker *worker; /* the array of workers */
    unsigned int workers;
    int batch; /* hold responses to the end of a round */
    long long batch_window_us;
    sti_httpd_handler handler;
    sti_httpd_handler expect_handler;
    void *arg;
    size_t max_body;
    int access_log;
    int tls;
    int port;
    int starting; /* MHD messages go to start_msg while set */
    char start_msg[256];
    char host[HOST_MAX]; /* the listen host, for base URLs */
    char *cert_pem;
    char *key_pem;
    size_t key_len;
    X509_STORE *client_store; /* CAs of client certificates, or NULL */
    char *client_ca_pem;      /* the same, for libmicrohttpd */

    long long request_timeout_ms;
    pthread_mutex_t conns_lock;
    struct httpd_conn *conns; /* open connections, under conns_lock */
    unsigned int conn_count;  /* the length of conns */
    pthread_cond_t sweeper_wake;
    int sweeper_stop; /* under conns_lock */
    int sweeper_running;
    pthread_t sweeper;

    /* Connections closed at the limits and not logged yet, the time of
     * the last such log line, and the limits for its text. */
    atomic_uint rejected;
    long long rejected_log_ms; /* written by the sweeper thread only */
    unsigned int max_connections;
    unsigned int per_ip_connections;

    /* Requests from the request line to the end of their response. */
    atomic_int in_flight;
    atomic_int stopping; /* set by sti_httpd_stop() */

    /* The listening socket and the thread that accepts on it; see
     * acceptor_main(). */
    int listen_fd;
    int wake_fds[2];
    int acceptor_running;
    pthread_t acceptor;
    /* accept() failures for lack of descriptors not logged yet, and the
     * time of the last such line; the accepting thread's own. */
    unsigned int accept_failures;
    long long accept_log_ms;
};

struct httpd_header {
    struct httpd_header *next;
    char *value; /* points into the same allocation */
    char name[];
};

struct sti_httpd_response {
    int status;
    int has_body;
    char *content_type;
    const void *body;
    size_t len;
    void *owned;           /* a copied body, freed with free() */
    struct MHD_IoVec *iov; /* a scattered body, or NULL */
    unsigned int iov_count;
    void (*release)(void *); /* a borrowed body's release callback */
    void *release_arg;
    struct httpd_header *headers;
    struct httpd_header **tail;
    char log_note[96]; /* appended to the access-log line, or "" */
};

struct sti_httpd_request {
    struct sti_httpd *httpd;
    struct httpd_worker *worker;
    struct sti_httpd_request *ready_next; /* in worker->ready */
    int ready;                            /* resp is the final response */
    struct MHD_Connection *conn;
    struct httpd_conn *tracked; /* the connection's deadline, or NULL */
    const char *method;         /* MHD's copy, valid while the handler runs */
    char log_method[16];        /* a copy for the access log */
    char *path;                 /* raw path, without the query string */
    unsigned char *body;
    size_t body_len;
    size_t body_cap;
    int started;
    int too_large;
    size_t discarded; /* body bytes dropped after too_large */
    int status;       /* the status queued, for the access log */
    size_t bytes;     /* body bytes queued */
    struct timespec start;
    char peer[INET6_ADDRSTRLEN];
    char *base_url;
    gnutls_session_t corked; /* the TLS session held back, or NULL */
    int client_checked;      /* the client certificate fields are set */
    char client_sha256[65];  /* of a verified client certificate, or "" */
    char client_error[HTTPD_REASON_MAX]; /* why it failed, or "" */
    struct sti_httpd_response resp;
};

/* Response building */

static void response_release_body(struct sti_httpd_response *resp)
{
    free(resp->owned);
    resp->owned = NULL;
    if (resp->release != NULL)
        resp->release(resp->release_arg);
    resp->release = NULL;
    resp->release_arg = NULL;
    free(resp->iov);
    resp->iov = NULL;
    resp->iov_count = 0;
    resp->body = NULL;
    resp->len = 0;
    resp->has_body = 0;
}

static void response_clear(struct sti_httpd_response *resp)
{
    struct httpd_header *h = resp->headers;

    response_release_body(resp);
    while (h != NULL) {
        struct httpd_header *next = h->next;

        free(h);
        h = next;
    }
    resp->headers = NULL;
    resp->tail = &resp->headers;
    free(resp->content_type);
    resp->content_type = NULL;
}

/* Header names are RFC 9110 tokens; values may not hold CR, LF or NUL. */
static int header_name_ok(const char *name)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (name == NULL || *name == '\0')
        return 0;
    for (const char *p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || (*p != '\0' && strchr(extra, *p))))
            return 0;
    return 1;
}

static int header_value_ok(const char *value)
{
    return value != NULL && strpbrk(value, "\r\n") == NULL;
}

void sti_httpd_set_status(struct sti_httpd_response *resp, int status)
{
    if (resp != NULL && status >= 100 && status <= 599)
        resp->status = status;
}

static int set_content_type(struct sti_httpd_response *resp,
                            const char *content_type)
{
    char *copy = NULL;

    if (content_type != NULL) {
        if (!header_value_ok(content_type))
            return STI_ERR_INVALID;
        copy = strdup(content_type);
        if (copy == NULL)
            return STI_ERR_NOMEM;
    }
    free(resp->content_type);
    resp->content_type = copy;
    return STI_OK;
}

int sti_httpd_set_body(struct sti_httpd_response *resp,
                       const char *content_type, const void *body, size_t len)
{
    void *copy;
    int rc;

    if (resp == NULL || (body == NULL && len > 0))
        return STI_ERR_INVALID;
    rc = set_content_type(resp, content_type);
    if (rc != STI_OK)
        return rc;
    copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return STI_ERR_NOMEM;
    if (len > 0)
        memcpy(copy, body, len);
    response_release_body(resp);
    resp->owned = copy;
    resp->body = copy;
    resp->len = len;
    resp->has_body = 1;
    return STI_OK;
}

int sti_httpd_set_body_ref(struct sti_httpd_response *resp,
                           const char *content_type, const void *body,
                           size_t len, void (*release)(void *),
                           void *release_arg)
{
    int rc = STI_ERR_INVALID;

    if (resp != NULL && (body != NULL || len == 0))
        rc = set_content_type(resp, content_type);
    if (rc != STI_OK) {
        if (release != NULL)
            release(release_arg);
        return rc;
    }
    response_release_body(resp);
    resp->body = body;
    resp->len = len;
    resp->release = release;
    resp->release_arg = release_arg;
    resp->has_body = 1;
    return STI_OK;
}

int sti_httpd_set_body_iov(struct sti_httpd_response *resp,
                           const char *content_type,
                           const struct sti_httpd_iovec *iov,
                           unsigned int count, void (*release)(void *),
                           void *release_arg)
{
    struct MHD_IoVec *copy = NULL;
    size_t total = 0;
    int rc = STI_ERR_INVALID;

    if (resp != NULL && (iov != NULL || count == 0))
        rc = set_content_type(resp, content_type);
    if (rc == STI_OK && count > 0) {
        copy = malloc(count * sizeof(*copy));
        rc = copy != NULL ? STI_OK : STI_ERR_NOMEM;
    }
    if (rc != STI_OK) {
        if (release != NULL)
            release(release_arg);
        return rc;
    }
    for (unsigned int i = 0; i < count; i++) {
        copy[i].iov_base = iov[i].base;
        copy[i].iov_len = iov[i].len;
        total += iov[i].len;
    }
    response_release_body(resp);
    resp->iov = copy;
    resp->iov_count = count;
    resp->len = total;
    resp->release = release;
    resp->release_arg = release_arg;
    resp->has_body = 1;
    return STI_OK;
}

int sti_httpd_add_header(struct sti_httpd_response *resp, const char *name,
                         const char *value)
{
    struct httpd_header *h;
    size_t nlen, vlen;

    if (resp == NULL || !header_name_ok(name) || !header_value_ok(value))
        return STI_ERR_INVALID;
    nlen = strlen(name);
    vlen = strlen(value);
    h = malloc(sizeof(*h) + nlen + vlen + 2);
    if (h == NULL)
        return STI_ERR_NOMEM;
    memcpy(h->name, name, nlen + 1);
    h->value = h->name + nlen + 1;
    memcpy(h->value, value, vlen + 1);
    h->next = NULL;
    *resp->tail = h;
    resp->tail = &h->next;
    return STI_OK;
}

int sti_httpd_set_log_note(struct sti_httpd_response *resp, const char *note)
{
    size_t i = 0;

    if (resp == NULL || note == NULL)
        return STI_ERR_INVALID;
    /* Control bytes would let a note forge log lines. */
    for (; note[i] != '\0' && i + 1 < sizeof(resp->log_note); i++)
        resp->log_note[i] =
            (unsigned char)note[i] < 0x20 || note[i] == 0x7f ? '?' : note[i];
    resp->log_note[i] = '\0';
    return STI_OK;
}

static json_t *error_doc(int status, const char *problem_type,
                         const char *message)
{
    if (problem_type != NULL)
        return json_pack("{s:s,s:s,s:i}", "type", problem_type, "detail",
                         message, "status", status);
    return json_pack("{s:s,s:s}", "status", "error", "message", message);
}

int sti_httpd_send_error(struct sti_httpd_response *resp, int status,
                         const char *problem_type, const char *message)
{
    char safe[1024];
    json_t *doc;
    char *text;
    int rc;

    if (resp == NULL || status < 400 || status > 599)
        return STI_ERR_INVALID;
    if (message == NULL)
        message = "";
    doc = error_doc(status, problem_type, message);
    if (doc == NULL) {
        /* jansson refuses strings that are not UTF-8: send the message
         * escaped rather than no reply at all. */
        sti_escape(message, strlen(message), safe, sizeof(safe));
        doc = error_doc(status, problem_type, safe);
    }
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return STI_ERR_NOMEM;
    resp->status = status;
    rc = sti_httpd_set_body(
        resp, problem_type ? "application/problem+json" : "application/json",
        text, strlen(text));
    free(text);
    return rc;
}

/* Request accessors */

const char *sti_httpd_method(const struct sti_httpd_request *req)
{
    return req->method;
}

const char *sti_httpd_path(const struct sti_httpd_request *req)
{
    return req->path;
}

const char *sti_httpd_query(const struct sti_httpd_request *req,
                            const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sti_httpd_header(const struct sti_httpd_request *req,
                             const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct header_walk {
    int (*fn)(void *arg, const char *value);
    void *arg;
    const char *name;
    int result;
};

static enum MHD_Result walk_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    struct header_walk *w = cls;

    (void)kind;
    if (strcasecmp(key, w->name) != 0 || value == NULL)
        return MHD_YES;
    w->result = w->fn(w->arg, value);
    return w->result != 0 ? MHD_NO : MHD_YES;
}

int sti_httpd_header_each(const struct sti_httpd_request *req, const char *name,
                          int (*fn)(void *arg, const char *value), void *arg)
{
    struct header_walk w = {fn, arg, name, 0};

    if (req == NULL || name == NULL || fn == NULL)
        return 0;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, walk_header, &w);
    return w.result;
}

const unsigned char *sti_httpd_body(const struct sti_httpd_request *req,
                                    size_t *len)
{
    if (len != NULL)
        *len = req->body_len;
    return req->body != NULL ? req->body : (const unsigned char *)"";
}

const char *sti_httpd_peer(const struct sti_httpd_request *req)
{
    return req->peer;
}

/* Verifies the certificates the client sent in the TLS handshake, once per
 * request.  Only the DER comes from GnuTLS; OpenSSL does the verification
 * in httpd_client_verify(). */
static void client_cert_check(struct sti_httpd_request *req)
{
    const union MHD_ConnectionInfo *ci;
    const gnutls_datum_t *peers;
    const unsigned char *der[8];
    size_t len[8];
    unsigned int count = 0;

    req->client_checked = 1;
    if (req->httpd->client_store == NULL)
        return;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    peers = ci && ci->tls_session
                ? gnutls_certificate_get_peers(ci->tls_session, &count)
                : NULL;
    if (peers == NULL || count == 0)
        return;
    if (count > sizeof(der) / sizeof(der[0])) {
        snprintf(req->client_error, sizeof(req->client_error),
                 "the client sent %u certificates, more than the limit of %zu",
                 count, sizeof(der) / sizeof(der[0]));
        return;
    }
    for (unsigned int i = 0; i < count; i++) {
        der[i] = peers[i].data;
        len[i] = peers[i].size;
    }
    httpd_client_verify(req->httpd->client_store, der, len, count,
                        req->client_sha256, req->client_error);
}

/* The request is const for handlers; the certificate fields are a cache
 * that the handler's thread alone fills. */
const char *sti_httpd_client_cert_sha256(const struct sti_httpd_request *req)
{
    struct sti_httpd_request *r = (struct sti_httpd_request *)req;

    if (r == NULL)
        return NULL;
    if (!r->client_checked)
        client_cert_check(r);
    return r->client_sha256[0] != '\0' ? r->client_sha256 : NULL;
}

const char *sti_httpd_client_cert_error(const struct sti_httpd_request *req)
{
    struct sti_httpd_request *r = (struct sti_httpd_request *)req;

    if (r == NULL)
        return NULL;
    if (!r->client_checked)
        client_cert_check(r);
    return r->client_error[0] != '\0' ? r->client_error : NULL;
}

/* A Host header is used only when it looks like host[:port]. */
static int host_ok(const char *host)
{
    size_t n;

    if (host == NULL)
        return 0;
    n = strlen(host);
    return n > 0 && n < HOST_MAX &&
           strspn(host, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

const char *sti_httpd_base_url(const struct sti_httpd_request *req)
{
    struct sti_httpd_request *r = (struct sti_httpd_request *)req;
    const char *host;
    char fallback[HOST_MAX + 16];
    size_t n;

    if (r->base_url != NULL)
        return r->base_url;
    host = sti_httpd_header(req, "Host");
    if (!host_ok(host)) {
        const char *h = req->httpd->host;
        int v6 = strchr(h, ':') != NULL;

        snprintf(fallback, sizeof(fallback), "%s%s%s:%d", v6 ? "[" : "", h,
                 v6 ? "]" : "", req->httpd->port);
        host = fallback;
    }
    n = strlen(host) + sizeof("https://");
    r->base_url = malloc(n);
    if (r->base_url == NULL)
        return "";
    snprintf(r->base_url, n, "%s://%s", req->httpd->tls ? "https" : "http",
             host);
    return r->base_url;
}

/* Request lifecycle */

static void addr_text(const struct sockaddr *sa, char *out, size_t size)
{
    snprintf(out, size, "-");
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                  (socklen_t)size);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)size);
}

static void peer_text(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    addr_text(ci ? ci->client_addr : NULL, out, size);
}

/* Connections and request deadlines */

/* On Linux, CLOCK_MONOTONIC_COARSE is read from the vDSO without a system
 * call, and its few milliseconds of resolution suit deadlines in seconds. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Clears the deadline while the server works on a complete request,
 * unless the sweeper has closed the connection already. */
static void deadline_clear(struct httpd_conn *c)
{
    long long d;

    if (c == NULL)
        return;
    d = atomic_load(&c->deadline_ms);
    while (d > 0 && !atomic_compare_exchange_weak(&c->deadline_ms, &d, 0))
        ;
}

/* Starts the deadline of the next request on the connection. */
static void deadline_start(struct sti_httpd *httpd, struct httpd_conn *c)
{
    long long d, next = now_ms() + httpd->request_timeout_ms;

    if (c == NULL)
        return;
    d = atomic_load(&c->deadline_ms);
    while (d != -1 && !atomic_compare_exchange_weak(&c->deadline_ms, &d, next))
        ;
}

static struct httpd_conn *conn_track(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* Whether A and B hold the same IP address, ports aside. */
static int same_host(const struct sockaddr_storage *a,
                     const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return 0;
}

/* Whether one more connection from ADDR stays within the limits.  Called
 * with conns_lock held. */
static int within_limits(const struct sti_httpd *httpd,
                         const struct sockaddr_storage *addr)
{
    unsigned int same = 0;

    if (httpd->conn_count >= httpd->max_connections)
        return 0;
    if (httpd->per_ip_connections == 0)
        return 1;
    for (const struct httpd_conn *c = httpd->conns; c != NULL; c = c->next)
        if (same_host(&c->addr, addr) && ++same >= httpd->per_ip_connections)
            return 0;
    return 1;
}

/*
 * Records a new connection and gives it to the least loaded worker.  The
 * record counts against the limits from here, so that a burst of
 * connections is checked in full before any worker has seen them.
 * Returns NULL (with the socket still open) when the connection is over a
 * limit or memory runs out.
 */
static struct httpd_conn *conn_register(struct sti_httpd *httpd, int fd,
                                        const struct sockaddr_storage *addr,
                                        socklen_t len)
{
    struct httpd_conn *c = calloc(1, sizeof(*c));
    struct httpd_worker *best = &httpd->worker[0];

    if (c == NULL)
        return NULL;
    c->fd = fd;
    memcpy(&c->addr, addr, len);
    c->addr_len = len;
    atomic_init(&c->deadline_ms, now_ms() + httpd->request_timeout_ms);
    addr_text((const struct sockaddr *)addr, c->peer, sizeof(c->peer));
    pthread_mutex_lock(&httpd->conns_lock);
    if (!within_limits(httpd, addr)) {
        pthread_mutex_unlock(&httpd->conns_lock);
        free(c);
        return NULL;
    }
    for (unsigned int w = 1; w < httpd->workers; w++)
        if (httpd->worker[w].load < best->load)
            best = &httpd->worker[w];
    best->load++;
    c->worker = best;
    c->next = httpd->conns;
    if (c->next != NULL)
        c->next->prev = c;
    httpd->conns = c;
    httpd->conn_count++;
    pthread_mutex_unlock(&httpd->conns_lock);
    return c;
}

static void conn_unregister(struct sti_httpd *httpd, struct httpd_conn *c)
{
    pthread_mutex_lock(&httpd->conns_lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        httpd->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    httpd->conn_count--;
    c->worker->load--;
    pthread_mutex_unlock(&httpd->conns_lock);
    free(c);
}

/*
 * MHD_OPTION_NOTIFY_CONNECTION.  libmicrohttpd 0.9.75 sends STARTED from
 * inside MHD_add_connection(), where worker->starting is the record, and
 * CLOSED before it closes the socket (MHD_cleanup_connections() in
 * daemon.c).  The sweeper calls shutdown() only under conns_lock, so it
 * never touches a descriptor that was closed and reused for another file.
 */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct httpd_worker *w = cls;
    struct httpd_conn *c = *socket_context;

    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (w->starting != NULL) {
            w->starting->started = 1;
            *socket_context = w->starting;
        }
        return;
    }
    if (c != NULL)
        conn_unregister(w->httpd, c);
    *socket_context = NULL;
}

/* Shuts down the sockets of overdue requests, so that libmicrohttpd's next
 * read fails and it closes the connection.  Returns how many it shut. */
static unsigned int sweep(struct sti_httpd *httpd, char *first, size_t size)
{
    long long now = now_ms();
    unsigned int n = 0;

    for (struct httpd_conn *c = httpd->conns; c != NULL; c = c->next) {
        long long d = atomic_load(&c->deadline_ms);

        /* The exchange loses to a handler that starts at the same time. */
        if (d <= 0 || d > now ||
            !atomic_compare_exchange_strong(&c->deadline_ms, &d, -1))
            continue;
        shutdown(c->fd, SHUT_RDWR);
        if (n++ == 0)
            snprintf(first, size, "%s", c->peer);
    }
    return n;
}

static void log_timeouts(const struct sti_httpd *httpd, unsigned int n,
                         const char *first)
{
    long long seconds = httpd->request_timeout_ms / 1000;

    if (n == 1)
        sti_log(STI_LOG_WARNING,
                "request timed out: closed the connection from %s, which "
                "did not send a complete request within %lld s",
                first, seconds);
    else
        sti_log(STI_LOG_WARNING,
                "request timed out: closed %u connections (the first from "
                "%s) that did not send a complete request within %lld s",
                n, first, seconds);
}

/*
 * Logs the connections that libmicrohttpd closed at the connection limits
 * since the last line, at most once per REJECT_LOG_INTERVAL_MS unless
 * FORCE is set.  libmicrohttpd does not pass the client's address.
 */
static void log_rejections(struct sti_httpd *httpd, int force)
{
    long long now = now_ms();
    unsigned int n, open;

    if (atomic_load(&httpd->rejected) == 0 ||
        (!force && now < httpd->rejected_log_ms + REJECT_LOG_INTERVAL_MS))
        return;
    n = atomic_exchange(&httpd->rejected, 0);
    httpd->rejected_log_ms = now;
    pthread_mutex_lock(&httpd->conns_lock);
    open = httpd->conn_count;
    pthread_mutex_unlock(&httpd->conns_lock);
    if (httpd->per_ip_connections > 0)
        sti_log(STI_LOG_WARNING,
                "connection limit reached: closed %u new connection%s "
                "without a response (%u open now; limits %u in total and %u "
                "per client address)",
                n, n == 1 ? "" : "s", open, httpd->max_connections,
                httpd->per_ip_connections);
    else
        sti_log(STI_LOG_WARNING,
                "connection limit reached: closed %u new connection%s "
                "without a response (%u open now; limit %u)",
                n, n == 1 ? "" : "s", open, httpd->max_connections);
}

static void *sweeper_main(void *arg)
{
    struct sti_httpd *httpd = arg;
    char first[INET6_ADDRSTRLEN];
    struct timespec until;
    unsigned int n;

    pthread_mutex_lock(&httpd->conns_lock);
    while (!httpd->sweeper_stop) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&httpd->sweeper_wake, &httpd->conns_lock,
                               &until);
        n = httpd->sweeper_stop ? 0 : sweep(httpd, first, sizeof(first));
        /* Logging without the lock keeps a slow stderr from stalling the
         * workers.  One line per sweep bounds the log under a flood. */
        pthread_mutex_unlock(&httpd->conns_lock);
        if (n > 0)
            log_timeouts(httpd, n, first);
        log_rejections(httpd, 0);
        pthread_mutex_lock(&httpd->conns_lock);
    }
    pthread_mutex_unlock(&httpd->conns_lock);
    return NULL;
}

static int sweeper_start(struct sti_httpd *httpd)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&httpd->sweeper_wake, &attr);
    pthread_condattr_destroy(&attr);
    rc = pthread_create(&httpd->sweeper, NULL, sweeper_main, httpd);
    if (rc != 0)
        pthread_cond_destroy(&httpd->sweeper_wake);
    httpd->sweeper_running = rc == 0;
    return rc;
}

static void sweeper_stop(struct sti_httpd *httpd)
{
    if (!httpd->sweeper_running)
        return;
    pthread_mutex_lock(&httpd->conns_lock);
    httpd->sweeper_stop = 1;
    pthread_cond_signal(&httpd->sweeper_wake);
    pthread_mutex_unlock(&httpd->conns_lock);
    pthread_join(httpd->sweeper, NULL);
    pthread_cond_destroy(&httpd->sweeper_wake);
    httpd->sweeper_running = 0;
    log_rejections(httpd, 1);
}

/* MHD_OPTION_URI_LOG_CALLBACK: runs once per request with the raw URI,
 * before MHD decodes it; the return value becomes the request context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct httpd_worker *w = cls;
    struct sti_httpd_request *req = calloc(1, sizeof(*req));
    size_t n;

    if (req == NULL)
        return NULL;
    atomic_fetch_add(&w->httpd->in_flight, 1);
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    req->httpd = w->httpd;
    req->worker = w;
    req->conn = conn;
    req->tracked = conn_track(conn);
    req->resp.tail = &req->resp.headers;
    n = strcspn(uri, "?");
    req->path = malloc(n + 1);
    if (req->path != NULL) {
        memcpy(req->path, uri, n);
        req->path[n] = '\0';
    }
    peer_text(conn, req->peer, sizeof(req->peer));
    return req;
}

static void request_free(struct sti_httpd_request *req)
{
    response_clear(&req->resp);
    free(req->path);
    free(req->body);
    free(req->base_url);
    free(req);
}

/*
 * Copies IN for the access log with each control byte, space and byte
 * above 0x7e written as %XX, so that a request cannot add fields or lines
 * to the log and the log stays ASCII.  Cuts the copy when OUT is full.
 */
static void log_safe(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; in != NULL && *in != '\0'; in++) {
        unsigned char c = (unsigned char)*in;

        if (c > 0x20 && c < 0x7f) {
            if (o + 1 >= size)
                break;
            out[o++] = (char)c;
            continue;
        }
        if (o + 3 >= size)
            break;
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 0x0f];
    }
    out[o] = '\0';
}

/* Returns, in words for the log, the reason libmicrohttpd gives for
 * ending a request early. */
static const char *termination_text(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "a network or protocol error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "the connection timed out";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "the server stopped";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "reading the request failed";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "the client closed the connection";
    default:
        return "an unknown reason";
    }
}

static void log_flush(struct httpd_worker *w)
{
    sti_log_write(w->log, w->log_len);
    w->log_len = 0;
}

/* Formats a log line into W's buffer.  Only W's thread calls it, or the
 * thread that stops W after W's thread has ended. */
static void worker_log(struct httpd_worker *w, int level, const char *fmt, ...)
    STI_PRINTF(3, 4);

static void worker_log(struct httpd_worker *w, int level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = sti_log_vformat(line, sizeof(line), level, fmt, ap);
    va_end(ap);
    if (n > sizeof(w->log) - w->log_len)
        log_flush(w);
    if (n > sizeof(w->log)) {
        sti_log_write(line, n);
        return;
    }
    memcpy(w->log + w->log_len, line, n);
    w->log_len += n;
}

static void log_access(const struct sti_httpd_request *req,
                       enum MHD_RequestTerminationCode toe)
{
    struct timespec now;
    long long us;
    char path[201], method[3 * sizeof(req->log_method)];
    const char *note = req->resp.log_note;
    const char *sep = note[0] != '\0' ? " " : "";

    /* Whole microseconds printed as integers: a %f costs more than the
     * rest of the line. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    us = (long long)(now.tv_sec - req->start.tv_sec) * 1000000 +
         (now.tv_nsec - req->start.tv_nsec) / 1000;
    log_safe(req->path ? req->path : "-", path, sizeof(path));
    log_safe(req->log_method[0] ? req->log_method : "-", method,
             sizeof(method));
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        worker_log(req->worker, STI_LOG_INFO,
                   "access: %s %s %s %d %zu bytes %lld.%03lld ms%s%s",
                   req->peer, method, path, req->status, req->bytes, us / 1000,
                   us % 1000, sep, note);
    else
        worker_log(
            req->worker, STI_LOG_INFO,
            "access: %s %s %s %d %zu bytes %lld.%03lld ms%s%s (connection "
            "closed before the response was sent: %s)",
            req->peer, method, path, req->status, req->bytes, us / 1000,
            us % 1000, sep, note, termination_text(toe));
}

/*
 * Over TLS, libmicrohttpd 0.9.75 sends the headers and the body of a
 * response as two records with two sendmsg() calls.  For a body up to
 * CORK_MAX bytes the server corks the GnuTLS session before queueing the
 * response, so that both writes land in GnuTLS's buffer, and uncorks it
 * when libmicrohttpd reports the response sent: one record, one
 * sendmsg().
 */
static void cork(struct sti_httpd_request *req, size_t len)
{
    const union MHD_ConnectionInfo *ci;

    if (!req->httpd->tls || len > CORK_MAX)
        return;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return;
    req->corked = (gnutls_session_t)ci->tls_session;
    gnutls_record_cork(req->corked);
}

/*
 * Sends the record that the cork held back, then clears TCP_CORK.
 * libmicrohttpd sets TCP_CORK before a response under 1400 bytes and
 * pushes it with TCP_NODELAY, leaving the cork on, so without the clear a
 * record written after its push would wait for the kernel's 200 ms cork
 * timer.  The socket is non-blocking, so a full send buffer (a client
 * that leaves its responses unread) makes the write fail, and the
 * connection is then shut down: nothing else would send the rest.
 */
static int uncork(struct sti_httpd_request *req, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int rc = gnutls_record_uncork(req->corked, 0), off = 0;

    req->corked = NULL;
    if (ci == NULL)
        return rc >= 0 ? 0 : -1;
    if (rc >= 0) {
        setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
        return 0;
    }
    /* Pipelined requests on the connection fail the same way, so only
     * the first failure is logged. */
    if (req->tracked == NULL || !req->tracked->send_failed)
        sti_log(STI_LOG_WARNING,
                "%s %s: sending the response failed (%s); closing the "
                "connection",
                req->peer, req->path ? req->path : "-", gnutls_strerror(rc));
    if (req->tracked != NULL)
        req->tracked->send_failed = 1;
    shutdown(ci->connect_fd, SHUT_RDWR);
    return -1;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sti_httpd *httpd = ((struct httpd_worker *)cls)->httpd;
    struct sti_httpd_request *req = *req_cls;

    deadline_start(httpd, req != NULL ? req->tracked : conn_track(conn));
    if (req == NULL)
        return;
    /* The access line must not report a response that never left. */
    if (req->corked != NULL && uncork(req, conn) != 0)
        toe = MHD_REQUEST_TERMINATED_WITH_ERROR;
    if (httpd->access_log)
        log_access(req, toe);
    request_free(req);
    *req_cls = NULL;
    atomic_fetch_sub(&httpd->in_flight, 1);
}

static struct MHD_Response *build_mhd_response(const struct sti_httpd *httpd,
                                               struct sti_httpd_response *r)
{
    struct MHD_Response *m;

    if (r->iov != NULL) {
        /* libmicrohttpd copies the array and calls RELEASE when done. */
        m = MHD_create_response_from_iovec(r->iov, r->iov_count, r->release,
                                           r->release_arg);
        if (m != NULL)
            r->release = NULL;
    } else if (r->release != NULL) {
        m = MHD_create_response_from_buffer_with_free_callback_cls(
            r->len, (void *)r->body, r->release, r->release_arg);
        if (m != NULL)
            r->release = NULL; /* MHD calls it when done with the body */
    } else if (r->owned != NULL) {
        m = MHD_create_response_from_buffer_with_free_callback(r->len, r->owned,
                                                               free);
        if (m != NULL)
            r->owned = NULL;
    } else {
        m = MHD_create_response_from_buffer(r->len, (void *)r->body,
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (m == NULL)
        return NULL;
    if (r->content_type != NULL &&
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type) != MHD_YES)
        goto fail;
    for (struct httpd_header *h = r->headers; h != NULL; h = h->next)
        if (MHD_add_response_header(m, h->name, h->value) != MHD_YES)
            goto fail;
    /* A server that is stopping takes no further request on the
     * connection (RFC 9112 section 9.6). */
    if (atomic_load(&httpd->stopping) &&
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close") !=
            MHD_YES)
        goto fail;
    return m;
fail:
    MHD_destroy_response(m);
    return NULL;
}

static enum MHD_Result queue(struct sti_httpd_request *req)
{
    struct sti_httpd_response *r = &req->resp;
    struct MHD_Response *m;
    enum MHD_Result ret;

    if (r->status == 0 && !r->has_body)
        sti_httpd_send_error(r, 500, NULL, "the handler sent no response");
    if (r->status == 0)
        r->status = 200;
    m = build_mhd_response(req->httpd, r);
    if (m == NULL)
        return MHD_NO;
    deadline_clear(req->tracked);
    req->status = r->status;
    /* HEAD, 204 and 304 responses carry no body (RFC 9110 section 6.4.1). */
    req->bytes =
        strcmp(req->method, "HEAD") == 0 || r->status == 204 || r->status == 304
            ? 0
            : r->len;
    if (r->iov == NULL)
        cork(req, r->len);
    ret = MHD_queue_response(req->conn, (unsigned int)r->status, m);
    MHD_destroy_response(m);
    return ret;
}

static enum MHD_Result queue_too_large(struct sti_httpd_request *req)
{
    char msg[128];

    response_clear(&req->resp);
    snprintf(msg, sizeof(msg),
             "the request body is larger than the limit of %zu bytes",
             req->httpd->max_body);
    sti_httpd_send_error(&req->resp, 413, NULL, msg);
    return queue(req);
}

/*
 * Checks a declared Content-Length against the limit before any body
 * byte is read.  Returns 0 when it fits (or none is declared), 1 when the
 * server should answer 413 at once, and 2 when it should read and drop
 * the body first.  Answering at once means closing with unread data,
 * which makes the kernel send a reset that can destroy the 413 before the
 * client reads it, so bodies up to DISCARD_MAX are drained instead.  A
 * client that sent "Expect: 100-continue" waits for the answer and sends
 * nothing, so it gets 413 at once.
 */
static int declared_too_large(const struct sti_httpd_request *req)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 "Content-Length");
    const char *expect =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Expect");
    unsigned long long n;
    char *end;

    if (cl == NULL)
        return 0;
    errno = 0;
    n = strtoull(cl, &end, 10);
    if (errno == 0 && *end == '\0' && n <= req->httpd->max_body)
        return 0;
    if (expect != NULL || errno != 0 || *end != '\0' || n > DISCARD_MAX)
        return 1;
    return 2;
}

/* Returns non-zero for a Content-Length that differs from the first. */
static int other_length(void *arg, const char *value)
{
    const char **first = arg;

    if (*first == NULL) {
        *first = value;
        return 0;
    }
    return strcmp(*first, value) != 0;
}

/* RFC 9112 section 6.3: Content-Length field lines with different values
 * make the message length unknown, so the server sends 400 and closes the
 * connection. */
static int conflicting_lengths(const struct sti_httpd_request *req)
{
    const char *first = NULL;

    return sti_httpd_header_each(req, "Content-Length", other_length, &first);
}

static int append_body(struct sti_httpd_request *req, const char *data,
                       size_t size)
{
    if (size > req->httpd->max_body - req->body_len)
        return -1;
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 256;
        unsigned char *nb;

        while (cap < req->body_len + size + 1)
            cap *= 2;
        nb = realloc(req->body, cap);
        if (nb == NULL)
            return -1;
        req->body = nb;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct sti_httpd *httpd = ((struct httpd_worker *)cls)->httpd;
    struct sti_httpd_request *req = *req_cls;

    (void)url;
    (void)version;
    if (req == NULL || req->path == NULL)
        return MHD_NO; /* out of memory in on_uri */
    if (!req->started) {
        req->started = 1;
        req->method = method;
        snprintf(req->log_method, sizeof(req->log_method), "%s", method);
        if (conflicting_lengths(req)) {
            sti_httpd_send_error(&req->resp, 400, NULL,
                                 "the request has Content-Length fields with "
                                 "different values; send one");
            return queue(req);
        }
        if (httpd->expect_handler != NULL &&
            sti_httpd_header(req, "Expect") != NULL) {
            httpd->expect_handler(httpd->arg, req, &req->resp);
            if (req->resp.status != 0 || req->resp.has_body)
                return queue(req);
        }
        switch (declared_too_large(req)) {
        case 1:
            return queue_too_large(req);
        case 2:
            req->too_large = 1;
            break;
        default:
            break;
        }
        return MHD_YES;
    }
    if (req->ready)
        return queue(req); /* resumed by flush_ready() */
    if (*upload_size > 0) {
        /* A chunked body can outgrow the limit after the headers, when
         * libmicrohttpd no longer accepts a response.  The rest is read
         * and dropped, up to DISCARD_MAX, so that the client still gets
         * 413; a longer body closes the connection. */
        if (!req->too_large && append_body(req, upload, *upload_size) != 0)
            req->too_large = 1;
        if (req->too_large)
            req->discarded += *upload_size;
        *upload_size = 0;
        return req->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    if (req->too_large)
        return queue_too_large(req);
    deadline_clear(req->tracked);
    httpd->handler(httpd->arg, req, &req->resp);
    if (!httpd->batch || atomic_load(&req->worker->stop))
        return queue(req);
    /* The response leaves with the others of this round. */
    req->ready = 1;
    if (req->worker->ready == NULL)
        clock_gettime(CLOCK_MONOTONIC, &req->worker->round_start);
    *req->worker->ready_tail = req;
    req->worker->ready_tail = &req->ready_next;
    req->worker->ready_count++;
    req->worker->added++;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

/* Daemon */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct sti_httpd *httpd = cls;
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (httpd->starting)
        snprintf(httpd->start_msg, sizeof(httpd->start_msg), "%s", msg);
    sti_log(STI_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

/* Splits "HOST:PORT" or "[V6]:PORT" and resolves it to one address. */
static int parse_listen(const char *listen, struct sti_httpd *httpd,
                        struct sockaddr_storage *ss, struct sti_error *err)
{
    char host[HOST_MAX];
    const char *colon = strrchr(listen, ':'), *h = listen, *port;
    size_t hlen;
    struct addrinfo hints, *ai = NULL;
    int rc;

    if (colon == NULL || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
        goto bad;
    port = colon + 1;
    hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "cannot resolve listen host '%s': %s", host,
                          gai_strerror(rc));
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    snprintf(httpd->host, sizeof(httpd->host), "%s", host);
    return STI_OK;
bad:
    return sti_seterr(err, STI_ERR_INVALID,
                      "invalid listen address '%s'; use HOST:PORT, such as "
                      "127.0.0.1:8443 or [::1]:0 (port 0 picks a free port)",
                      listen);
}

static int load_tls(const struct sti_httpd_config *config,
                    struct sti_httpd *httpd, struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    if (config->tls_cert_file == NULL && config->tls_key_file == NULL &&
        config->tls_client_ca_file != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "client certificates (%s) need TLS; give a "
                          "certificate file and a key file too",
                          config->tls_client_ca_file);
    if (config->tls_cert_file == NULL && config->tls_key_file == NULL)
        return STI_OK;
    if (config->tls_cert_file == NULL || config->tls_key_file == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "TLS needs both a certificate file and a key file; "
                          "%s is missing",
                          config->tls_cert_file ? "the key"
                                                : "the certificate");
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return sti_seterr(err, STI_ERR_INTERNAL,
                          "this libmicrohttpd was built without TLS support");
    rc = sti_file_read(config->tls_cert_file, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    httpd->cert_pem = (char *)data;
    rc = sti_file_read(config->tls_key_file, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    httpd->key_pem = (char *)data;
    httpd->key_len = len;
    httpd->tls = 1;
    if (config->tls_client_ca_file == NULL)
        return STI_OK;
    return httpd_client_ca_load(config->tls_client_ca_file,
                                &httpd->client_store, &httpd->client_ca_pem,
                                err);
}

/* Connection placement */

/*
 * Workers.  Each worker thread runs a libmicrohttpd daemon of its own in
 * external polling mode: it waits on the daemon's epoll descriptor and on
 * its wake_fd, lets MHD_run() read requests and send responses, and
 * then calls flush_ready().  The accepting thread gives each connection to
 * the least loaded worker.  libmicrohttpd 0.9.75's thread pool lets its
 * threads race to accept instead, so a burst of keep-alive connections (a
 * SIP server opening its pool) could land on one worker and leave the
 * other cores idle.
 *
 * Batching (config batch_responses): a handler's response is held until
 * MHD_run() has run every request of the round, and then all of them are
 * sent together.  On loopback each send to a client that sleeps in
 * epoll_wait() costs the sender a wakeup of the client's CPU.  That was
 * about a fifth of the CPU time of a signing request in bench/serve.sh,
 * and a batch pays it about once.
 */
static void flush_ready(struct httpd_worker *w)
{
    struct sti_httpd_request *req = w->ready, *next;

    w->resumed = req != NULL;
    w->ready_count = 0;
    w->ready = NULL;
    w->ready_tail = &w->ready;
    for (; req != NULL; req = next) {
        next = req->ready_next;
        MHD_resume_connection(req->conn);
    }
}

/* Adds the sockets that the accepting thread queued for worker W. */
static void take_handoff(struct httpd_worker *w)
{
    struct httpd_conn *c, *list = NULL, *next;

    pthread_mutex_lock(&w->lock);
    c = w->handoff;
    w->handoff = NULL;
    pthread_mutex_unlock(&w->lock);
    for (; c != NULL; c = next) { /* oldest first */
        next = c->handoff;
        c->handoff = list;
        list = c;
    }
    for (c = list; c != NULL; c = next) {
        next = c->handoff;
        w->starting = c;
        /* libmicrohttpd closes the socket itself when it refuses it. */
        if (MHD_add_connection(w->daemon, c->fd, (struct sockaddr *)&c->addr,
                               c->addr_len) != MHD_YES &&
            !c->started) {
            conn_unregister(w->httpd, c);
            atomic_fetch_add(&w->httpd->rejected, 1);
        }
        w->starting = NULL;
    }
}

/* Whether the current round may take more requests. */
static int round_open(const struct httpd_worker *w)
{
    struct timespec now;
    long long us;

    if (w->added == 0 || w->ready_count >= BATCH_MAX)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    us = (long long)(now.tv_sec - w->round_start.tv_sec) * 1000000 +
         (now.tv_nsec - w->round_start.tv_nsec) / 1000;
    return us < w->httpd->batch_window_us;
}

static int wait_ms(struct httpd_worker *w)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (MHD_get_timeout(w->daemon, &t) == MHD_YES && t < 1000)
        return (int)t;
    return 1000;
}

/* Waits for network events or a wake-up, and adds the sockets handed
 * over.  Returns -1 when poll() fails. */
static int worker_wait(struct httpd_worker *w, int epoll_fd)
{
    struct pollfd p[2] = {{epoll_fd, POLLIN, 0}, {w->wake_fd, POLLIN, 0}};
    uint64_t count;

    /* The access log is written when the worker has nothing else to do,
     * because a write() to a file can block on the file system. */
    if (w->log_len > 0)
        log_flush(w);
    if (poll(p, 2, wait_ms(w)) < 0 && errno != EINTR) {
        sti_log(STI_LOG_ERR, "HTTP worker stopped: poll() failed: %s",
                strerror(errno));
        return -1;
    }
    if (p[1].revents & POLLIN) {
        /* The counter only wakes the worker, so its value is not needed. */
        if (read(w->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            sti_log(STI_LOG_WARNING,
                    "HTTP worker: reading its wake-up "
                    "counter failed: %s",
                    strerror(errno));
        take_handoff(w);
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct httpd_worker *w = arg;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);

    while (!atomic_load(&w->stop)) {
        /* In a round, and right after a resume, MHD_run() comes at once:
         * a resume does not wake the epoll descriptor of a daemon in
         * external polling mode. */
        if (w->ready == NULL && !w->resumed &&
            worker_wait(w, di->epoll_fd) != 0)
            break;
        w->added = 0;
        MHD_run(w->daemon);
        /* The round stays open while requests keep arriving. */
        if (round_open(w))
            continue;
        flush_ready(w);
    }
    /* MHD_stop_daemon() must find no suspended connection (libmicrohttpd
     * calls MHD_PANIC() for one), and a resumed connection leaves the
     * suspended list in MHD_run().  on_request() suspends no connection
     * once stop is set. */
    flush_ready(w);
    MHD_run(w->daemon);
    return NULL;
}

static void worker_wake(struct httpd_worker *w)
{
    uint64_t one = 1;

    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        sti_log(STI_LOG_WARNING, "cannot wake an HTTP worker: %s",
                strerror(errno));
}

static void accept_one(struct sti_httpd *httpd)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    struct httpd_conn *c;
    int fd = accept4(httpd->listen_fd, (struct sockaddr *)&peer, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        /* Out of descriptors: back off instead of spinning on poll(). */
        if (errno == EMFILE || errno == ENFILE) {
            struct timespec pause = {0, 50 * 1000 * 1000};
            long long now = now_ms();

            /* poll() reports the same pending connection again, so the
             * line is written at most once a second. */
            httpd->accept_failures++;
            if (now >= httpd->accept_log_ms + REJECT_LOG_INTERVAL_MS) {
                sti_log(STI_LOG_WARNING,
                        "cannot accept a connection: %s (%u tries since "
                        "the last line); raise the descriptor limit "
                        "(ulimit -n) or lower --max-connections",
                        strerror(errno), httpd->accept_failures);
                httpd->accept_failures = 0;
                httpd->accept_log_ms = now;
            }
            nanosleep(&pause, NULL);
        }
        return;
    }
    if (atomic_load(&httpd->stopping)) {
        close(fd);
        return;
    }
    c = conn_register(httpd, fd, &peer, len);
    if (c == NULL) {
        close(fd);
        atomic_fetch_add(&httpd->rejected, 1);
        return;
    }
    pthread_mutex_lock(&c->worker->lock);
    c->handoff = c->worker->handoff;
    c->worker->handoff = c;
    pthread_mutex_unlock(&c->worker->lock);
    worker_wake(c->worker);
}

static void *acceptor_main(void *arg)
{
    struct sti_httpd *httpd = arg;

    for (;;) {
        struct pollfd p[2] = {{httpd->listen_fd, POLLIN, 0},
                              {httpd->wake_fds[0], POLLIN, 0}};

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if (p[0].revents & POLLIN)
            accept_one(httpd);
    }
    return NULL;
}

/* Binds and listens on SS; sets listen_fd and port. */
static int open_listener(struct sti_httpd *httpd,
                         const struct sockaddr_storage *ss, const char *where,
                         struct sti_error *err)
{
    int enable = 1, fd;
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    struct sockaddr_storage bound;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sti_seterr(err, STI_ERR_IO,
                          "cannot start the HTTP server on %s: %s", where,
                          strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enable, sizeof(enable));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &enable, sizeof(enable));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 ||
        listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
        int e = errno;

        close(fd);
        return sti_seterr(err, STI_ERR_IO,
                          "cannot start the HTTP server on %s: %s", where,
                          strerror(e));
    }
    httpd->listen_fd = fd;
    httpd->port = ntohs(bound.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&bound)->sin6_port
                            : ((struct sockaddr_in *)&bound)->sin_port);
    return STI_OK;
}

static int acceptor_start(struct sti_httpd *httpd)
{
    int rc;

    if (pipe2(httpd->wake_fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return errno;
    rc = pthread_create(&httpd->acceptor, NULL, acceptor_main, httpd);
    if (rc == 0)
        httpd->acceptor_running = 1;
    return rc;
}

/* Stops accepting and closes the listening socket, so new connections
 * are refused. */
static void acceptor_stop(struct sti_httpd *httpd)
{
    if (httpd->acceptor_running) {
        if (write(httpd->wake_fds[1], "x", 1) < 0)
            sti_log(STI_LOG_WARNING, "cannot wake the accepting thread: %s",
                    strerror(errno));
        pthread_join(httpd->acceptor, NULL);
        httpd->acceptor_running = 0;
    }
    for (int i = 0; i < 2; i++)
        if (httpd->wake_fds[i] >= 0)
            close(httpd->wake_fds[i]);
    httpd->wake_fds[0] = httpd->wake_fds[1] = -1;
    if (httpd->listen_fd >= 0)
        close(httpd->listen_fd);
    httpd->listen_fd = -1;
}

/*
 * Stops the worker threads, then their daemons, which close the
 * connections left, and closes the sockets still queued for a worker.
 */
static void workers_stop(struct sti_httpd *httpd)
{
    for (unsigned int i = 0; i < httpd->workers; i++) {
        struct httpd_worker *w = &httpd->worker[i];

        if (!w->running)
            continue;
        atomic_store(&w->stop, 1);
        worker_wake(w);
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
    for (unsigned int i = 0; i < httpd->workers; i++) {
        struct httpd_worker *w = &httpd->worker[i];
        struct httpd_conn *c, *next;

        if (w->daemon != NULL)
            MHD_stop_daemon(w->daemon);
        w->daemon = NULL;
        log_flush(w);
        for (c = w->handoff; c != NULL; c = next) {
            next = c->handoff;
            close(c->fd);
            conn_unregister(httpd, c);
        }
        w->handoff = NULL;
    }
}

static void httpd_free(struct sti_httpd *httpd)
{
    if (httpd == NULL)
        return;
    acceptor_stop(httpd);
    if (httpd->worker != NULL) {
        workers_stop(httpd);
        for (unsigned int i = 0; i < httpd->workers; i++) {
            if (httpd->worker[i].wake_fd >= 0)
                close(httpd->worker[i].wake_fd);
            pthread_mutex_destroy(&httpd->worker[i].lock);
        }
        free(httpd->worker);
    }
    pthread_mutex_destroy(&httpd->conns_lock);
    free(httpd->cert_pem);
    X509_STORE_free(httpd->client_store);
    free(httpd->client_ca_pem);
    if (httpd->key_pem != NULL)
        sti_clear_free(httpd->key_pem, httpd->key_len);
    free(httpd);
}

static unsigned int or_default(unsigned int v, unsigned int def)
{
    return v != 0 ? v : def;
}

static struct MHD_Daemon *start_daemon(const struct sti_httpd_config *c,
                                       struct httpd_worker *w,
                                       const struct sockaddr_storage *ss)
{
    struct sti_httpd *httpd = w->httpd;
    /* flush_ready() holds and releases connections with suspend and
     * resume. */
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
    unsigned int max_conn =
        or_default(c->max_connections, DEFAULT_MAX_CONNECTIONS);
    size_t mem = c->max_header ? c->max_header : DEFAULT_MAX_HEADER;
    struct MHD_OptionItem opts[10];
    size_t n = 0;

    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (httpd->tls) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                            httpd->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                            httpd->key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)TLS_PRIORITIES};
    }
    /* With trusted CAs, libmicrohttpd 0.9.75 makes GnuTLS request a client
     * certificate without requiring one, as client_certs_verified in
     * tests/unit/test_httpd.c checks. */
    if (httpd->client_ca_pem != NULL) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                            httpd->client_ca_pem};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The limits bound what one slow or hostile client can hold: idle
     * connections close after the timeout, and the request line plus
     * headers must fit the per-connection memory pool.  The connection
     * limits are checked in conn_register().  Strict mode 1
     * makes libmicrohttpd 0.9.75 send 400 for an HTTP/1.1 request without
     * Host (RFC 9112 section 3.2) and close the connection on a space in
     * the request target. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, w, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, w, MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, httpd,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
        or_default(c->timeout_s, DEFAULT_TIMEOUT_S),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_STRICT_FOR_CLIENT,
        1, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

/* libmicrohttpd 0.9.75 names the port argument of MHD_start_daemon() in
 * its bind message, which is 0 beside MHD_OPTION_SOCK_ADDR, so only the
 * reason after the colon is kept. */
static const char *start_reason(const struct sti_httpd *httpd)
{
    static const char bind_prefix[] = "Failed to bind to port ";
    const char *msg = httpd->start_msg, *colon;

    if (msg[0] == '\0')
        return "libmicrohttpd failed";
    colon = strstr(msg, ": ");
    if (strncmp(msg, bind_prefix, sizeof(bind_prefix) - 1) == 0 &&
        colon != NULL)
        return colon + 2;
    return msg;
}

/* Starts the daemons and threads of the workers. */
static int workers_start(const struct sti_httpd_config *config,
                         struct sti_httpd *httpd,
                         const struct sockaddr_storage *ss,
                         struct sti_error *err)
{
    const char *where = config->listen ? config->listen : "127.0.0.1:0";
    int rc;

    for (unsigned int i = 0; i < httpd->workers; i++) {
        struct httpd_worker *w = &httpd->worker[i];

        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->wake_fd < 0)
            return sti_seterr(err, STI_ERR_INTERNAL,
                              "cannot start the HTTP server on %s: %s", where,
                              strerror(errno));
        httpd->starting = 1;
        w->daemon = start_daemon(config, w, ss);
        httpd->starting = 0;
        if (w->daemon == NULL)
            return sti_seterr(err, STI_ERR_IO,
                              "cannot start the HTTP server on %s: %s", where,
                              start_reason(httpd));
        rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0)
            return sti_seterr(err, STI_ERR_INTERNAL,
                              "cannot start an HTTP worker thread: %s",
                              strerror(rc));
        w->running = 1;
    }
    return STI_OK;
}

int sti_httpd_start(const struct sti_httpd_config *config,
                    sti_httpd_handler handler, void *arg,
                    struct sti_httpd **out, struct sti_error *err)
{
    static const struct sti_httpd_config defaults;
    struct sti_httpd *httpd;
    struct sockaddr_storage ss;
    int rc;

    *out = NULL;
    if (config == NULL)
        config = &defaults;
    if (handler == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no request handler given");
    httpd = calloc(1, sizeof(*httpd));
    if (httpd == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&httpd->conns_lock, NULL);
    httpd->listen_fd = httpd->wake_fds[0] = httpd->wake_fds[1] = -1;
    httpd->workers = or_default(config->threads, DEFAULT_THREADS);
    httpd->worker = calloc(httpd->workers, sizeof(*httpd->worker));
    if (httpd->worker == NULL) {
        httpd->workers = 0;
        httpd_free(httpd);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    for (unsigned int i = 0; i < httpd->workers; i++) {
        struct httpd_worker *w = &httpd->worker[i];

        w->httpd = httpd;
        w->wake_fd = -1;
        w->ready_tail = &w->ready;
        atomic_init(&w->stop, 0);
        pthread_mutex_init(&w->lock, NULL);
    }
    httpd->handler = handler;
    httpd->expect_handler = config->expect_handler;
    httpd->arg = arg;
    httpd->batch = config->batch_responses;
    httpd->batch_window_us =
        or_default(config->batch_window_us, DEFAULT_BATCH_WINDOW_US);
    httpd->request_timeout_ms = 1000LL * or_default(config->request_timeout_s,
                                                    DEFAULT_REQUEST_TIMEOUT_S);
    httpd->max_body = config->max_body ? config->max_body : DEFAULT_MAX_BODY;
    httpd->max_connections =
        or_default(config->max_connections, DEFAULT_MAX_CONNECTIONS);
    httpd->per_ip_connections = config->per_ip_connections;
    httpd->access_log = config->access_log;
    rc = parse_listen(config->listen ? config->listen : "127.0.0.1:0", httpd,
                      &ss, err);
    if (rc == STI_OK)
        rc = load_tls(config, httpd, err);
    if (rc == STI_OK)
        rc = open_listener(
            httpd, &ss, config->listen ? config->listen : "127.0.0.1:0", err);
    if (rc == STI_OK)
        rc = workers_start(config, httpd, &ss, err);
    if (rc != STI_OK)
        goto fail;
    rc = sweeper_start(httpd);
    if (rc != 0) {
        rc = sti_seterr(err, STI_ERR_INTERNAL,
                        "cannot start the request deadline thread: %s",
                        strerror(rc));
        goto fail;
    }
    rc = acceptor_start(httpd);
    if (rc != 0) {
        sti_httpd_stop(httpd);
        return sti_seterr(err, STI_ERR_INTERNAL,
                          "cannot start the accepting thread: %s",
                          strerror(rc));
    }
    *out = httpd;
    return STI_OK;
fail:
    httpd_free(httpd);
    return rc;
}

int sti_httpd_port(const struct sti_httpd *httpd)
{
    return httpd ? httpd->port : 0;
}

/*
 * Closes the listening socket, so new connections are refused, and waits
 * up to DRAIN_MS for the requests in progress to finish and their
 * responses to be sent.  The sweeper keeps cutting overdue requests
 * meanwhile.
 */
static void drain(struct sti_httpd *httpd)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    long long until = now_ms() + DRAIN_MS;
    int left;

    atomic_store(&httpd->stopping, 1);
    acceptor_stop(httpd);
    while ((left = atomic_load(&httpd->in_flight)) > 0 && now_ms() < until)
        nanosleep(&pause, NULL);
    if (left > 0)
        sti_log(STI_LOG_WARNING,
                "closing %d connection%s whose request was still in "
                "progress after %d s",
                left, left == 1 ? "" : "s", DRAIN_MS / 1000);
}

void sti_httpd_stop(struct sti_httpd *httpd)
{
    if (httpd == NULL)
        return;
    drain(httpd);
    sweeper_stop(httpd);
    workers_stop(httpd);
    httpd_free(httpd);
}
