/* Self-signed TLS server certificates for lab services on loopback. */
#include "x509_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

static int fill_cert(X509 *cert, EVP_PKEY *pkey, int days)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int ok = sti_x509_set_random_serial(cert) && X509_set_version(cert, 2) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -60) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        (const unsigned char *)"127.0.0.1", -1,
                                        -1, 0) &&
             X509_set_issuer_name(cert, name) && X509_set_pubkey(cert, pkey);
    /* Clients that check names (curl, libcurl) look at subjectAltName. */
    ok = ok &&
         sti_x509_add_self_ext(cert, NID_subject_alt_name,
                               "IP:127.0.0.1,DNS:localhost") &&
         sti_x509_add_self_ext(cert, NID_basic_constraints,
                               "critical,CA:TRUE") &&
         sti_x509_add_self_ext(cert, NID_key_usage,
                               "critical,digitalSignature,keyCertSign") &&
         sti_x509_add_self_ext(cert, NID_ext_key_usage, "serverAuth") &&
         sti_x509_add_self_ext(cert, NID_subject_key_identifier, "hash");
    return ok && X509_sign(cert, pkey, EVP_sha256()) > 0;
}

static int write_pem(const char *path, X509 *cert, struct sti_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    int rc;

    if (bio == NULL || !PEM_write_bio_X509(bio, cert)) {
        BIO_free(bio);
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot encode the TLS certificate");
    }
    len = BIO_get_mem_data(bio, &data);
    rc = sti_file_write(path, data, (size_t)len, 0644, 0, err);
    BIO_free(bio);
    return rc;
}

int sti_tls_selfsigned_create(const char *cert_path, const char *key_path,
                              int days, struct sti_error *err)
{
    struct sti_key *key = NULL;
    X509 *cert = NULL;
    char *pem = NULL;
    int rc;

    if (cert_path == NULL || key_path == NULL || days <= 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a TLS certificate needs two paths and a positive "
                          "validity");
    rc = sti_key_generate(&key, err);
    if (rc != STI_OK)
        return rc;
    cert = X509_new();
    if (cert == NULL || !fill_cert(cert, sti_key_get0_pkey(key), days))
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot build the TLS certificate");
    if (rc == STI_OK)
        rc = sti_key_to_pem(key, NULL, &pem, err);
    if (rc == STI_OK)
        rc = sti_file_write(key_path, pem, strlen(pem), 0600, 0, err);
    if (rc == STI_OK)
        rc = write_pem(cert_path, cert, err);
    if (pem != NULL)
        sti_clear_free(pem, strlen(pem));
    X509_free(cert);
    sti_key_free(key);
    return rc;
}
