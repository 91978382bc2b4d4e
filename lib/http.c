/* HTTP(S) client on libcurl: one easy handle per request, thread-safe. */
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DEFAULT_CONNECT_MS 2000
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_MAX_BODY (1024 * 1024)
#define MAX_HEADERS 100

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

/* curl_global_init() is not thread-safe in every libcurl build, so it runs
 * exactly once; it is never undone because other threads may still use
 * libcurl. */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct transfer {
    struct sti_http_response *resp;
    size_t max_body;
    size_t cap;
    int too_big;
    int no_memory;
};

void sti_http_response_free(struct sti_http_response *resp)
{
    if (resp == NULL)
        return;
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->header_count; i++) {
        free(resp->header_names[i]);
        free(resp->header_values[i]);
    }
    free(resp->header_names);
    free(resp->header_values);
    free(resp);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    struct sti_http_response *r = t->resp;
    size_t len = size * n;

    if (r->body_len + len > t->max_body) {
        t->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->body_len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        unsigned char *b;

        while (cap < r->body_len + len + 1)
            cap *= 2;
        b = realloc(r->body, cap);
        if (b == NULL) {
            t->no_memory = 1;
            return 0;
        }
        r->body = b;
        t->cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static void clear_headers(struct sti_http_response *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    r->header_count = 0;
}

static char *dup_trimmed(const char *s, size_t len)
{
    char *out;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    out = malloc(len + 1);
    if (out != NULL) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* Stores one "Name: value" line; a status line starts a new response, so
 * only the final response's headers remain after 1xx or redirects. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    struct sti_http_response *r = t->resp;
    size_t len = size * n;
    char *colon = memchr(line, ':', len);
    size_t i = r->header_count;

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        clear_headers(r);
        return len;
    }
    if (colon == NULL || i >= MAX_HEADERS)
        return len;
    r->header_names[i] = dup_trimmed(line, (size_t)(colon - line));
    r->header_values[i] =
        dup_trimmed(colon + 1, len - (size_t)(colon - line) - 1);
    if (r->header_names[i] == NULL || r->header_values[i] == NULL) {
        free(r->header_names[i]);
        free(r->header_values[i]);
        t->no_memory = 1;
        return 0;
    }
    for (char *p = r->header_names[i]; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    r->header_count++;
    return len;
}

const char *sti_http_response_header(const struct sti_http_response *resp,
                                     const char *name)
{
    if (resp == NULL || name == NULL)
        return NULL;
    for (size_t i = resp->header_count; i > 0; i--)
        if (strcasecmp(resp->header_names[i - 1], name) == 0)
            return resp->header_values[i - 1];
    return NULL;
}

static struct sti_http_response *response_new(void)
{
    struct sti_http_response *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->header_names = calloc(MAX_HEADERS, sizeof(char *));
    r->header_values = calloc(MAX_HEADERS, sizeof(char *));
    r->body = calloc(1, 1);
    if (r->header_names == NULL || r->header_values == NULL ||
        r->body == NULL) {
        sti_http_response_free(r);
        return NULL;
    }
    return r;
}

static int set_method(CURL *c, const char *method, const void *body,
                      size_t body_len)
{
    int ok = 1;

    if (strcmp(method, "HEAD") == 0)
        ok &= curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
    else if (strcmp(method, "GET") != 0)
        ok &= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    if (body != NULL) {
        ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t)body_len) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) == CURLE_OK;
    }
    return ok;
}

static int set_options(CURL *c, const char *url,
                       const struct sti_http_options *o, struct transfer *t,
                       struct curl_slist *headers)
{
    int ok = 1;

#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: safe in threaded callers */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_MS);
    SET(CURLOPT_TIMEOUT_MS,
        o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
    SET(CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, 5L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_USERAGENT, "libsti/" STI_VERSION);
    if (o->ca_file != NULL)
        SET(CURLOPT_CAINFO, o->ca_file);
    if (o->insecure_tls) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (headers != NULL)
        SET(CURLOPT_HTTPHEADER, headers);
#undef SET
    return ok;
}

static int build_headers(const char *const *lines, struct curl_slist **out)
{
    *out = NULL;
    for (size_t i = 0; lines != NULL && lines[i] != NULL; i++) {
        struct curl_slist *next = curl_slist_append(*out, lines[i]);

        if (next == NULL) {
            curl_slist_free_all(*out);
            *out = NULL;
            return 0;
        }
        *out = next;
    }
    return 1;
}

/* Maps a failed transfer to a status and message naming the URL. */
static int transfer_error(CURLcode cc, const struct transfer *t,
                          const char *url, const char *detail,
                          struct sti_error *err)
{
    if (t->too_big || cc == CURLE_FILESIZE_EXCEEDED)
        return sti_seterr(err, STI_ERR_POLICY,
                          "response from %s is larger than %zu bytes", url,
                          t->max_body);
    if (t->no_memory)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid URL '%s': %s; use an http or https URL", url,
                          detail[0] ? detail : curl_easy_strerror(cc));
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return sti_seterr(err, STI_ERR_NET, "request to %s timed out: %s", url,
                          detail[0] ? detail : curl_easy_strerror(cc));
    return sti_seterr(err, STI_ERR_NET, "request to %s failed: %s", url,
                      detail[0] ? detail : curl_easy_strerror(cc));
}

static void fill_response_info(CURL *c, struct sti_http_response *r)
{
    char *ct = NULL;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
        ct != NULL)
        r->content_type = strdup(ct);
}

int sti_http_request(const char *method, const char *url, const void *body,
                     size_t body_len, const struct sti_http_options *options,
                     struct sti_http_response **out, struct sti_error *err)
{
    static const struct sti_http_options defaults;
    const struct sti_http_options *o = options ? options : &defaults;
    struct transfer t = {0};
    struct curl_slist *headers = NULL;
    char detail[CURL_ERROR_SIZE] = "";
    CURL *c = NULL;
    CURLcode cc;
    int rc = STI_OK;

    *out = NULL;
    if (method == NULL || url == NULL || url[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID, "no HTTP method or URL given");
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return sti_seterr(err, STI_ERR_INTERNAL, "libcurl failed to start: %s",
                          curl_easy_strerror(curl_init_rc));
    t.max_body = o->max_body > 0 ? o->max_body : DEFAULT_MAX_BODY;
    t.resp = response_new();
    c = curl_easy_init();
    if (t.resp == NULL || c == NULL || !build_headers(o->headers, &headers)) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!set_options(c, url, o, &t, headers) ||
        !set_method(c, method, body, body_len) ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail) != CURLE_OK) {
        rc = sti_seterr(err, STI_ERR_INTERNAL,
                        "libcurl rejected the options for %s", url);
        goto out;
    }
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = transfer_error(cc, &t, url, detail, err);
        goto out;
    }
    fill_response_info(c, t.resp);
    *out = t.resp;
    t.resp = NULL;
out:
    curl_slist_free_all(headers);
    if (c != NULL)
        curl_easy_cleanup(c);
    sti_http_response_free(t.resp);
    return rc;
}
