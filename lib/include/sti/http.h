/*
 * HTTP(S) client on libcurl, for x5u fetches, CRL downloads and the API
 * clients (sti acme, sti lab).
 */
#ifndef STI_HTTP_H
#define STI_HTTP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_http_options {
    long connect_timeout_ms; /* 0 means 2000 */
    long timeout_ms;         /* whole transfer; 0 means 5000 */
    size_t max_body;         /* 0 means 1 MiB; larger bodies fail */
    int follow_redirects;    /* 0: a 3xx is returned as is */
    const char *ca_file;     /* extra trust for HTTPS servers; NULL: system */
    int insecure_tls;        /* lab only: skip HTTPS server verification */
    const char *const *headers; /* NULL-terminated "Name: value" lines */
};

struct sti_http_response {
    long status;
    char *content_type;  /* NULL when absent */
    unsigned char *body; /* NUL-terminated */
    size_t body_len;
    char **header_names; /* lowercased */
    char **header_values;
    size_t header_count;
};

/*
 * Performs one request.  BODY may be NULL.  Returns STI_OK when a response
 * arrived (whatever its status), STI_ERR_NET on connection failures and
 * timeouts, STI_ERR_INVALID on a bad URL, STI_ERR_POLICY when the body
 * exceeds max_body.
 */
STI_API int sti_http_request(const char *method, const char *url,
                             const void *body, size_t body_len,
                             const struct sti_http_options *options,
                             struct sti_http_response **out,
                             struct sti_error *err);
/* The last value of header NAME (case-insensitive), or NULL. */
STI_API const char *
sti_http_response_header(const struct sti_http_response *resp,
                         const char *name);
STI_API void sti_http_response_free(struct sti_http_response *resp);

#ifdef __cplusplus
}
#endif
#endif
