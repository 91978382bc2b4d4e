/*
 * HTTP(S) server on libmicrohttpd for the stilab services.  TLS is
 * GnuTLS inside libmicrohttpd, configured from PEM files.  The server
 * writes one access-log line per request through sti_log().
 */
#ifndef STI_HTTPD_H
#define STI_HTTPD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_httpd;
struct sti_httpd_request;
struct sti_httpd_response;

/*
 * Called once per complete request, on a worker thread.  The handler fills
 * RESP; a handler that sets nothing sends 500.  Requests whose body
 * exceeds max_body get 413 without reaching the handler, except that a
 * chunked body more than 1 MiB past the limit closes the connection,
 * because libmicrohttpd 0.9.75 takes no response while a body arrives.
 */
typedef void (*sti_httpd_handler)(void *arg,
                                  const struct sti_httpd_request *req,
                                  struct sti_httpd_response *resp);

struct sti_httpd_config {
    const char *listen;        /* "HOST:PORT"; NULL means 127.0.0.1:0 */
    const char *tls_cert_file; /* PEM chain; NULL with tls_key_file NULL
                                  serves plain HTTP */
    const char *tls_key_file;  /* PEM private key */
    /* PEM CA certificates of client certificates, or NULL.  When set (TLS
     * only), the server requests but does not require a client
     * certificate and verifies it against these CAs. */
    const char *tls_client_ca_file;
    unsigned int max_connections;    /* 0 means 1024 */
    unsigned int per_ip_connections; /* 0 means no per-address limit */
    unsigned int timeout_s;          /* idle connection timeout; 0 means 10 */
    size_t max_body;                 /* request body cap; 0 means 64 KiB */
    unsigned int threads;            /* worker threads; 0 means 2 */
    int access_log;                  /* non-zero: one log line per request */
    size_t max_header;               /* per-connection memory for the request
                                        line and headers; 0 means 16 KiB */
    /* Seconds in which a request's head and body must arrive, counted from
     * the connection opening or from the end of the previous response.
     * The server closes connections past it.  0 means 30. */
    unsigned int request_timeout_s;
    /* Called with the head of a request that carries "Expect:
     * 100-continue", before the server sends 100 Continue, with the ARG
     * of sti_httpd_start().  A status or body that it sets is sent at
     * once, and the body is never read (RFC 9110 section 10.1.1).  The
     * body accessors return nothing yet.  NULL skips the call. */
    sti_httpd_handler expect_handler;
    /* Non-zero: each worker runs the handlers of all the requests it has
     * read in one round before it sends their responses, together.  Under
     * load that saves a wakeup of the client per response; it suits
     * handlers that take tens of microseconds, such as signing. */
    int batch_responses;
    /* Maximum time that a batched round stays open while requests keep
     * arriving, in microseconds; 0 means 5000. */
    unsigned int batch_window_us;
};

STI_API int sti_httpd_start(const struct sti_httpd_config *config,
                            sti_httpd_handler handler, void *arg,
                            struct sti_httpd **out, struct sti_error *err);
/* The bound port, useful after listening on port 0. */
STI_API int sti_httpd_port(const struct sti_httpd *httpd);
/* Stops accepting, finishes or closes connections, frees the server. */
STI_API void sti_httpd_stop(struct sti_httpd *httpd);

STI_API const char *sti_httpd_method(const struct sti_httpd_request *req);
/* The path without the query string, as received (not decoded). */
STI_API const char *sti_httpd_path(const struct sti_httpd_request *req);
/* A query argument, or NULL. */
STI_API const char *sti_httpd_query(const struct sti_httpd_request *req,
                                    const char *name);
/* A request header (case-insensitive name), or NULL. */
STI_API const char *sti_httpd_header(const struct sti_httpd_request *req,
                                     const char *name);
/* Calls FN(ARG, VALUE) for each field line NAME (case-insensitive) of the
 * request, in order, until FN returns non-zero.  Returns that value, or 0.
 * List fields such as If-None-Match may come in several lines (RFC 9110
 * section 5.3). */
STI_API int sti_httpd_header_each(const struct sti_httpd_request *req,
                                  const char *name,
                                  int (*fn)(void *arg, const char *value),
                                  void *arg);
STI_API const unsigned char *sti_httpd_body(const struct sti_httpd_request *req,
                                            size_t *len);
/* The peer's address as text, such as "127.0.0.1". */
STI_API const char *sti_httpd_peer(const struct sti_httpd_request *req);
/* The scheme and authority the client used, e.g. "https://127.0.0.1:8443",
 * built from the Host header and the server's TLS mode. */
STI_API const char *sti_httpd_base_url(const struct sti_httpd_request *req);

/*
 * The SHA-256 (64 lowercase hex digits) of the client certificate, when
 * the server has tls_client_ca_file and the certificate the client sent in
 * the TLS handshake chains to one of those CAs, is within its validity
 * period and allows client authentication.  NULL otherwise.  Valid while
 * the handler runs.
 */
STI_API const char *
sti_httpd_client_cert_sha256(const struct sti_httpd_request *req);
/* Why the client certificate failed verification, such as "certificate
 * has expired"; NULL when the client sent none or it passed. */
STI_API const char *
sti_httpd_client_cert_error(const struct sti_httpd_request *req);

STI_API void sti_httpd_set_status(struct sti_httpd_response *resp, int status);
/* Copies BODY.  CONTENT_TYPE may be NULL for an empty body. */
STI_API int sti_httpd_set_body(struct sti_httpd_response *resp,
                               const char *content_type, const void *body,
                               size_t len);
/*
 * Sends BODY without copying it.  BODY must stay valid and unchanged until
 * the server calls RELEASE(RELEASE_ARG), which it does exactly once, after
 * the last byte is sent, when the request ends early, or when this call
 * fails.  RELEASE may be NULL for static data.  This suits refcounted,
 * immutable bodies on a hot path.
 */
STI_API int sti_httpd_set_body_ref(struct sti_httpd_response *resp,
                                   const char *content_type, const void *body,
                                   size_t len, void (*release)(void *),
                                   void *release_arg);
/* One piece of a scattered body. */
struct sti_httpd_iovec {
    const void *base;
    size_t len;
};
/*
 * Like sti_httpd_set_body_ref() for a body in COUNT pieces, sent in order
 * without copying them; the array itself is copied.  RELEASE(RELEASE_ARG)
 * is called once for the whole body.
 */
STI_API int sti_httpd_set_body_iov(struct sti_httpd_response *resp,
                                   const char *content_type,
                                   const struct sti_httpd_iovec *iov,
                                   unsigned int count, void (*release)(void *),
                                   void *release_arg);
/* Appends NOTE (copied; control bytes become '?', cut at 95 bytes) to the
 * request's access-log line, such as the credential that authorized it. */
STI_API int sti_httpd_set_log_note(struct sti_httpd_response *resp,
                                   const char *note);
/* Adds a response header (copied). */
STI_API int sti_httpd_add_header(struct sti_httpd_response *resp,
                                 const char *name, const char *value);
/* Sends a JSON error body {"status":"error","message":MESSAGE} with
 * STATUS; PROBLEM_TYPE non-NULL sends an RFC 7807 problem document
 * (application/problem+json) with that "type" instead. */
STI_API int sti_httpd_send_error(struct sti_httpd_response *resp, int status,
                                 const char *problem_type, const char *message);

#ifdef __cplusplus
}
#endif
#endif
