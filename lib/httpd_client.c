/*
 * Client certificates for the HTTP(S) server.  GnuTLS (inside
 * libmicrohttpd) requests the certificate in the handshake and checks the
 * client's signature with its private key.  lib/httpd.c then hands the
 * raw DER here, and OpenSSL alone decides whether the chain is valid.
 */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Counts the certificates in STORE, so that a file with only CRLs is an
 * error too. */
static int store_count(X509_STORE *store)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    int n = 0;

    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
        if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509)
            n++;
    return n;
}

int httpd_client_ca_load(const char *path, X509_STORE **store, char **pem,
                         struct sti_error *err)
{
    unsigned char *data = NULL;
    size_t len;
    int rc;

    *store = NULL;
    *pem = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return sti_error_prefix(err, rc, "client CA file");
    *store = X509_STORE_new();
    if (*store == NULL) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (X509_STORE_load_file(*store, path) != 1) {
        rc = sti_seterr_ssl(err, STI_ERR_INVALID,
                            "client CA file %s contains no PEM certificate "
                            "that OpenSSL can load; give the CA "
                            "certificates that issue client certificates",
                            path);
        goto fail;
    }
    if (store_count(*store) == 0) {
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "client CA file %s contains no PEM certificate; give "
                        "the CA certificates that issue client certificates",
                        path);
        goto fail;
    }
    *pem = (char *)data;
    return STI_OK;
fail:
    X509_STORE_free(*store);
    *store = NULL;
    free(data);
    return rc;
}

/* Parses the DER certificates after the leaf as untrusted intermediates. */
static STACK_OF(X509) * parse_intermediates(const unsigned char *const *der,
                                            const size_t *len,
                                            unsigned int count)
{
    STACK_OF(X509) *chain = sk_X509_new_null();

    for (unsigned int i = 1; chain != NULL && i < count; i++) {
        const unsigned char *p = der[i];
        X509 *x = d2i_X509(NULL, &p, (long)len[i]);

        if (x == NULL || !sk_X509_push(chain, x)) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return NULL;
        }
    }
    return chain;
}

static int verify_leaf(X509_STORE *store, X509 *leaf, STACK_OF(X509) * chain,
                       char reason[HTTPD_REASON_MAX])
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        snprintf(reason, HTTPD_REASON_MAX, "cannot set up the verification");
        goto out;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(ctx) == 1;
    if (!ok)
        snprintf(reason, HTTPD_REASON_MAX, "%s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    /* A CA key signs certificates; it is not a client's identity. */
    if (ok && X509_check_ca(leaf) != 0) {
        snprintf(reason, HTTPD_REASON_MAX,
                 "a CA certificate cannot be a client certificate");
        ok = 0;
    }
out:
    X509_STORE_CTX_free(ctx);
    return ok;
}

int httpd_client_verify(X509_STORE *store, const unsigned char *const *der,
                        const size_t *len, unsigned int count, char sha256[65],
                        char reason[HTTPD_REASON_MAX])
{
    const unsigned char *p;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    STACK_OF(X509) *chain = NULL;
    X509 *leaf = NULL;
    int ok = 0;

    sha256[0] = '\0';
    reason[0] = '\0';
    if (count == 0) {
        snprintf(reason, HTTPD_REASON_MAX, "no certificate");
        return 0;
    }
    p = der[0];
    leaf = d2i_X509(NULL, &p, (long)len[0]);
    chain = leaf ? parse_intermediates(der, len, count) : NULL;
    if (chain == NULL) {
        snprintf(reason, HTTPD_REASON_MAX, "malformed certificate");
        goto out;
    }
    ok = verify_leaf(store, leaf, chain, reason);
    if (ok && X509_digest(leaf, EVP_sha256(), md, &n) != 1) {
        snprintf(reason, HTTPD_REASON_MAX, "cannot hash the certificate");
        ok = 0;
    }
    for (unsigned int i = 0; ok && i < n && i < 32; i++)
        snprintf(sha256 + 2 * i, 3, "%02x", md[i]);
out:
    ERR_clear_error();
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    return ok;
}
