/* Private declarations shared by lib/httpd*.c. */
#ifndef STI_HTTPD_INT_H
#define STI_HTTPD_INT_H

#include "internal.h"

/* Size of the reason text that httpd_client_verify() fills. */
#define HTTPD_REASON_MAX 160

/*
 * Loads the PEM CA certificates in PATH into a new store for verifying
 * client certificates, and returns its PEM text in *PEM (free with free())
 * for libmicrohttpd's CertificateRequest.
 */
int httpd_client_ca_load(const char *path, X509_STORE **store, char **pem,
                         struct sti_error *err);

/*
 * Verifies a client certificate chain of COUNT DER certificates, leaf
 * first, against STORE for TLS client authentication (RFC 5280 path
 * validation at the current time, with the clientAuth purpose).  Returns
 * 1 and fills SHA256 (lowercase hex of the leaf's DER) when it passes,
 * else 0 with the reason in REASON.
 */
int httpd_client_verify(X509_STORE *store, const unsigned char *const *der,
                        const size_t *len, unsigned int count, char sha256[65],
                        char reason[HTTPD_REASON_MAX]);

#endif
