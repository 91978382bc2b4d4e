/* Chain checks before publishing, and the TLS certificate for sti-cr. */
#include "repo_int.h"
#include "x509_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

static const char begin_cert[] = "-----BEGIN CERTIFICATE-----";

/*
 * Scans the PEM armour: every block must be a certificate.  Returns the
 * number of blocks, or sets ERR and returns -1.
 */
static int count_pem_blocks(const char *data, size_t len, struct sti_error *err)
{
    const char *p = data, *end = data + len;
    int n = 0;

    if (memchr(data, '\0', len) != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the chain is binary, not PEM; convert DER with "
                          "'openssl x509 -inform DER' and send the PEM "
                          "certificates, leaf first"),
               -1;
    while ((p = memmem(p, (size_t)(end - p), "-----BEGIN ", 11)) != NULL) {
        if ((size_t)(end - p) < sizeof(begin_cert) - 1 ||
            memcmp(p, begin_cert, sizeof(begin_cert) - 1) != 0) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t line_len = (size_t)((eol ? eol : end) - p);
            char label[256];

            /* The label may hold any bytes; the message goes into JSON
             * replies and logs, so it carries them escaped. */
            sti_escape(p, line_len > 60 ? 60 : line_len, label, sizeof(label));
            sti_seterr(err, STI_ERR_INVALID,
                       "the chain contains '%s'; send only certificates%s",
                       label,
                       memmem(p, line_len, "PRIVATE KEY", 11)
                           ? " and keep the private key secret"
                           : "");
            return -1;
        }
        n++;
        p += sizeof(begin_cert) - 1;
    }
    if (n == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no PEM certificate found (no '%s' line); send the "
                          "chain as PEM, leaf first",
                          begin_cert),
               -1;
    if (n > STI_REPO_CHAIN_MAX)
        return sti_seterr(err, STI_ERR_POLICY,
                          "the chain has %d certificates, more than the "
                          "limit of %d",
                          n, STI_REPO_CHAIN_MAX),
               -1;
    return n;
}

static int check_leaf(const struct sti_cert *leaf, struct sti_error *err)
{
    struct sti_tnauth *tn = NULL;
    struct sti_error tn_err;
    char *subject = sti_cert_subject(leaf);
    int rc = STI_OK;

    if (sti_cert_is_ca(leaf)) {
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the first certificate (%s) is a CA; the chain must "
                        "start with the end-entity (leaf) certificate",
                        subject ? subject : "?");
        goto out;
    }
    switch (sti_cert_get_tnauth(leaf, &tn, &tn_err)) {
    case STI_OK:
        break;
    case STI_ERR_NOTFOUND:
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the leaf certificate (%s) has no TNAuthList "
                        "extension, so it is not a SHAKEN certificate",
                        subject ? subject : "?");
        goto out;
    default:
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the leaf certificate's TNAuthList is invalid: %s",
                        tn_err.message);
        goto out;
    }
    if (sti_cert_not_after(leaf) < time(NULL)) {
        char when[32];

        repo_http_date(sti_cert_not_after(leaf), when);
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the leaf certificate (%s) expired on %s",
                        subject ? subject : "?", when);
    }
out:
    sti_tnauth_free(tn);
    sti_free(subject);
    return rc;
}

/* Checks that certificate I is signed by I + 1, naming both otherwise. */
static int check_link(const struct sti_chain *chain, size_t i,
                      struct sti_error *err)
{
    const struct sti_cert *cert = sti_chain_get0(chain, i);
    const struct sti_cert *next = sti_chain_get0(chain, i + 1);
    char *a, *b;
    int rc;

    if (sti_cert_signed_by(cert, next) == 1)
        return STI_OK;
    a = sti_cert_subject(cert);
    b = sti_cert_subject(next);
    rc = sti_seterr(err, STI_ERR_POLICY,
                    "certificate %zu (%s) is not signed by certificate %zu "
                    "(%s); put each certificate before its issuer, leaf "
                    "first",
                    i + 1, a ? a : "?", i + 2, b ? b : "?");
    sti_free(a);
    sti_free(b);
    return rc;
}

/*
 * Lint rules whose findings make the chain unusable: verifiers reject a
 * leaf whose TNAuthList is marked critical (RFC 8226 section 9 leaves it
 * non-critical), so sti-cr refuses to publish it.
 */
static const char *const fatal_rules[] = {"e_tnauth_critical"};

static int check_lint(const struct sti_chain *chain, struct sti_error *err)
{
    struct sti_lint_report *report = NULL;
    int rc = sti_lint_chain(chain, NULL, &report, err);

    for (size_t i = 0; rc == STI_OK && i < sti_lint_report_count(report); i++) {
        const struct sti_lint_finding *f = sti_lint_report_get0(report, i);

        for (size_t j = 0; j < sizeof(fatal_rules) / sizeof(*fatal_rules); j++)
            if (strcmp(f->rule, fatal_rules[j]) == 0) {
                rc = sti_seterr(err, STI_ERR_POLICY,
                                "certificate %d: %s (%s); verifiers reject "
                                "this chain, so issue it again",
                                f->cert_index + 1, f->message, f->rule);
                break;
            }
    }
    sti_lint_report_free(report);
    return rc;
}

/* Names the misplaced leaf when the chain starts with a CA certificate. */
static int check_order(const struct sti_chain *chain, struct sti_error *err)
{
    size_t n = sti_chain_count(chain);
    char *subject;
    int rc;

    if (!sti_cert_is_ca(sti_chain_get0(chain, 0)))
        return STI_OK;
    for (size_t i = 1; i < n; i++) {
        if (sti_cert_is_ca(sti_chain_get0(chain, i)))
            continue;
        subject = sti_cert_subject(sti_chain_get0(chain, i));
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "certificate %zu (%s) is the end entity but the "
                        "chain starts with a CA; put the leaf first, then "
                        "its issuers",
                        i + 1, subject ? subject : "?");
        sti_free(subject);
        return rc;
    }
    return STI_OK; /* check_leaf() reports a chain of CAs only */
}

int sti_repo_check_chain(const void *data, size_t len, struct sti_chain **out,
                         struct sti_error *err)
{
    struct sti_chain *chain = NULL;
    const char *first;
    int blocks, rc;

    if (out != NULL)
        *out = NULL;
    if (data == NULL || len == 0)
        return sti_seterr(err, STI_ERR_INVALID, "the chain is empty");
    blocks = count_pem_blocks(data, len, err);
    if (blocks < 0)
        return err ? err->code : STI_ERR_INVALID;
    /* Text before the first certificate, such as the lines that 'openssl
     * x509 -subject' prints, is dropped like the text between them.
     * count_pem_blocks() found that certificate. */
    first = memmem(data, len, begin_cert, sizeof(begin_cert) - 1);
    rc = sti_chain_parse(first, len - (size_t)(first - (const char *)data),
                         &chain, err);
    if (rc != STI_OK)
        return rc;
    if (sti_chain_count(chain) != (size_t)blocks) {
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "only %zu of the %d PEM blocks parse as "
                        "certificates; check the base64 text",
                        sti_chain_count(chain), blocks);
        goto out;
    }
    rc = check_order(chain, err);
    if (rc == STI_OK)
        rc = check_leaf(sti_chain_get0(chain, 0), err);
    for (size_t i = 0; rc == STI_OK && i + 1 < sti_chain_count(chain); i++)
        rc = check_link(chain, i, err);
    if (rc == STI_OK)
        rc = check_lint(chain, err);
out:
    if (rc == STI_OK && out != NULL)
        *out = chain;
    else
        sti_chain_free(chain);
    return rc;
}

/* TLS certificate */

static int is_ip(const char *h)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, h, addr) == 1 ||
           inet_pton(AF_INET6, h, addr) == 1;
}

/* A host name of LDH labels (RFC 1123 section 2.1), not all digits. */
static int is_dns_name(const char *h, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253 || strspn(h, "0123456789.") >= len)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)h[i]) || (h[i] == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

int sti_repo_hosts_check(const char *hosts, struct sti_error *err)
{
    const char *p = hosts;
    char host[256], bad_host[128];

    if (hosts == NULL || *hosts == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "the host list is empty; give host names or IP "
                          "addresses separated by commas");
    for (;;) {
        size_t n = strcspn(p, ",");

        snprintf(host, sizeof(host), "%.*s", (int)(n < 255 ? n : 255), p);
        if (n >= sizeof(host) || !(is_ip(host) || is_dns_name(host, n))) {
            sti_escape(p, n > 60 ? 60 : n, bad_host, sizeof(bad_host));
            return sti_seterr(err, STI_ERR_INVALID,
                              "invalid host '%s' in '%.200s'; use host names "
                              "(letters, digits, '-' and '.') or IP "
                              "addresses separated by commas, without empty "
                              "entries",
                              bad_host, hosts);
        }
        if (p[n] == '\0')
            return STI_OK;
        p += n + 1;
    }
}

/* Turns "127.0.0.1,localhost" into "IP:127.0.0.1,DNS:localhost". */
static int san_value(const char *hosts, char *out, size_t size)
{
    char *copy = strdup(hosts), *save = NULL;
    size_t used = 0;

    if (copy == NULL)
        return 0;
    out[0] = '\0';
    for (char *h = strtok_r(copy, ",", &save); h != NULL;
         h = strtok_r(NULL, ",", &save)) {
        int n = snprintf(out + used, size - used, "%s%s:%s", used ? "," : "",
                         is_ip(h) ? "IP" : "DNS", h);

        if (n < 0 || (size_t)n >= size - used || *h == '\0') {
            free(copy);
            return 0;
        }
        used += (size_t)n;
    }
    free(copy);
    return used > 0;
}

static int fill_tls_cert(X509 *x, EVP_PKEY *pkey, const char *hosts, int days)
{
    char san[1024], cn[64];
    X509_NAME *name = X509_get_subject_name(x);
    int ok;

    if (!san_value(hosts, san, sizeof(san)) || !sti_x509_set_random_serial(x))
        return 0;
    snprintf(cn, sizeof(cn), "%.*s", (int)strcspn(hosts, ","), hosts);
    ok = X509_set_version(x, 2) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_issuer_name(x, name) &&
         X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
         X509_set_pubkey(x, pkey) &&
         sti_x509_add_self_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
         sti_x509_add_self_ext(x, NID_key_usage, "critical,digitalSignature") &&
         sti_x509_add_self_ext(x, NID_ext_key_usage, "serverAuth") &&
         sti_x509_add_self_ext(x, NID_subject_key_identifier, "hash") &&
         sti_x509_add_self_ext(x, NID_subject_alt_name, san) &&
         X509_sign(x, pkey, EVP_sha256()) > 0;
    return ok;
}

static int write_pem(const char *path, int is_key, X509 *x, EVP_PKEY *pkey,
                     struct sti_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc;

    if (bio == NULL || !(is_key ? PEM_write_bio_PrivateKey(bio, pkey, NULL,
                                                           NULL, 0, NULL, NULL)
                                : PEM_write_bio_X509(bio, x))) {
        BIO_free(bio);
        return sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot encode %s", path);
    }
    len = BIO_get_mem_data(bio, &data);
    rc = sti_file_write(path, data, (size_t)len, is_key ? 0600 : 0644, 1, err);
    BIO_free_all(bio);
    return rc;
}

int sti_repo_make_tls_cert(const char *cert_path, const char *key_path,
                           const char *hosts, int days, struct sti_error *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    int rc;

    if (cert_path == NULL || key_path == NULL || days <= 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a TLS certificate needs two paths and a positive "
                          "number of days");
    rc = sti_repo_hosts_check(hosts, err);
    if (rc != STI_OK)
        return rc;
    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (pkey == NULL || x == NULL || !fill_tls_cert(x, pkey, hosts, days)) {
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot create a TLS certificate for '%.200s'",
                            hosts);
        goto out;
    }
    rc = write_pem(key_path, 1, x, pkey, err);
    if (rc == STI_OK)
        rc = write_pem(cert_path, 0, x, pkey, err);
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

static int read_pem(const char *path, int is_key, X509 **x, EVP_PKEY **pkey,
                    struct sti_error *err)
{
    BIO *bio = BIO_new_file(path, "r");

    if (bio == NULL)
        return sti_seterr_ssl(err, STI_ERR_NOTFOUND,
                              "cannot read %s; check the path", path);
    if (is_key)
        *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    else
        *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (is_key ? *pkey == NULL : *x == NULL)
        return sti_seterr_ssl(err, STI_ERR_INVALID, "%s holds no %s", path,
                              is_key ? "unencrypted PEM private key"
                                     : "PEM certificate");
    return STI_OK;
}

int sti_repo_tls_files_check(const char *cert_path, const char *key_path,
                             struct sti_error *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    int rc;

    if (cert_path == NULL || key_path == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "give both the TLS certificate and its key");
    rc = read_pem(cert_path, 0, &x, NULL, err);
    if (rc == STI_OK)
        rc = read_pem(key_path, 1, NULL, &pkey, err);
    if (rc == STI_OK && X509_check_private_key(x, pkey) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_INVALID,
                            "the key in %s does not match the certificate "
                            "in %s; give the key of that certificate",
                            key_path, cert_path);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}
