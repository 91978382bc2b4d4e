/*
 * Trust anchors and path validation (RFC 5280 section 6) with OpenSSL's
 * X509_STORE, including the policy administrator's indirect CRL.
 */
#include "x509_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

struct sti_trust {
    X509_STORE *store;
    STACK_OF(X509) * anchors;
    STACK_OF(X509) * crl_signers;
    X509_CRL *crl;
    uint64_t list_version; /* of the PA's CA list loaded, 0 when none */
    time_t list_expires;   /* when that list expires, 0 when none */
};

void sti_trust_set_list(struct sti_trust *trust, uint64_t version,
                        time_t expires)
{
    if (trust == NULL)
        return;
    if (version > trust->list_version)
        trust->list_version = version;
    if (trust->list_expires == 0 || expires < trust->list_expires)
        trust->list_expires = expires;
}

time_t sti_trust_list_expires(const struct sti_trust *trust)
{
    return trust != NULL ? trust->list_expires : 0;
}

uint64_t sti_trust_list_version(const struct sti_trust *trust)
{
    return trust != NULL ? trust->list_version : 0;
}

struct sti_trust *sti_trust_new(void)
{
    struct sti_trust *trust = calloc(1, sizeof(*trust));

    if (trust == NULL)
        return NULL;
    trust->store = X509_STORE_new();
    trust->anchors = sk_X509_new_null();
    trust->crl_signers = sk_X509_new_null();
    if (trust->store == NULL || trust->anchors == NULL ||
        trust->crl_signers == NULL) {
        sti_trust_free(trust);
        return NULL;
    }
    return trust;
}

void sti_trust_free(struct sti_trust *trust)
{
    if (trust == NULL)
        return;
    X509_STORE_free(trust->store);
    sk_X509_pop_free(trust->anchors, X509_free);
    sk_X509_pop_free(trust->crl_signers, X509_free);
    X509_CRL_free(trust->crl);
    free(trust);
}

static int contains_cert(STACK_OF(X509) * certs, X509 *x)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), x) == 0)
            return 1;
    return 0;
}

int sti_trust_add_anchor(struct sti_trust *trust, const struct sti_cert *cert,
                         struct sti_error *err)
{
    X509 *x = sti_cert_get0_x509(cert);

    if (trust == NULL || x == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no trust store or anchor");
    if (!sti_cert_is_ca(cert)) {
        char *subject = sti_cert_subject(cert);
        int rc = sti_seterr(err, STI_ERR_INVALID,
                            "trust anchor '%.200s' is not a CA certificate",
                            subject ? subject : "?");

        free(subject);
        return rc;
    }
    if (contains_cert(trust->anchors, x))
        return STI_OK;
    if (X509_STORE_add_cert(trust->store, x) != 1 ||
        !sk_X509_push(trust->anchors, x))
        return sti_seterr_ssl(err, STI_ERR_NOMEM, "cannot add trust anchor");
    X509_up_ref(x);
    return STI_OK;
}

static int add_anchor_file(struct sti_trust *trust, const char *path,
                           struct sti_error *err)
{
    struct sti_chain *chain;
    int rc = sti_chain_load(path, &chain, err);

    for (size_t i = 0; rc == STI_OK && i < sti_chain_count(chain); i++) {
        rc = sti_trust_add_anchor(trust, sti_chain_get0(chain, i), err);
        sti_error_prefix(err, rc, path);
    }
    sti_chain_free(chain);
    return rc;
}

static int has_cert_suffix(const char *name)
{
    static const char *const suffixes[] = {".pem", ".crt", ".cer", ".der"};
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (n > 4 && strcmp(name + n - 4, suffixes[i]) == 0)
            return 1;
    return 0;
}

/* Adds every *.pem, *.crt, *.cer and *.der file of DIR; counts the files
 * read in FILES. */
static int add_anchor_dir(struct sti_trust *trust, const char *dir,
                          size_t *files, struct sti_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = STI_OK;

    if (d == NULL)
        return sti_seterr(err, STI_ERR_IO, "cannot open directory %s: %s", dir,
                          strerror(errno));
    while (rc == STI_OK && (de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (de->d_name[0] == '.' || !has_cert_suffix(de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = add_anchor_file(trust, path, err);
            (*files)++;
        }
    }
    closedir(d);
    return rc;
}

int sti_trust_load_anchors(struct sti_trust *trust, const char *path,
                           struct sti_error *err)
{
    struct stat st;
    size_t files = 0;
    int rc;

    if (trust == NULL || path == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no trust store or path");
    if (stat(path, &st) != 0)
        return sti_seterr(err, errno == ENOENT ? STI_ERR_NOTFOUND : STI_ERR_IO,
                          "cannot read trust anchors %s: %s", path,
                          strerror(errno));
    /* Files count, not new anchors, so that a root given twice, such as
     * in the CA file and the directory, is no error. */
    rc = S_ISDIR(st.st_mode) ? add_anchor_dir(trust, path, &files, err)
                             : add_anchor_file(trust, path, err);
    if (rc == STI_OK && files == 0 && S_ISDIR(st.st_mode))
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "no certificate files (*.pem, *.crt, *.cer, *.der) "
                        "in %s",
                        path);
    return rc;
}

size_t sti_trust_anchor_count(const struct sti_trust *trust)
{
    return trust ? (size_t)sk_X509_num(trust->anchors) : 0;
}

int sti_trust_set_crl(struct sti_trust *trust, const struct sti_crl *crl,
                      struct sti_error *err)
{
    X509_CRL *x = sti_crl_get0_x509_crl(crl);

    if (trust == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no trust store given");
    if (x != NULL && X509_CRL_up_ref(x) != 1)
        return sti_seterr_ssl(err, STI_ERR_INTERNAL, "cannot keep the CRL");
    X509_CRL_free(trust->crl);
    trust->crl = x; /* NULL turns CRL checking off */
    return STI_OK;
}

int sti_trust_add_crl_signer(struct sti_trust *trust,
                             const struct sti_cert *cert, struct sti_error *err)
{
    X509 *x = sti_cert_get0_x509(cert);

    if (trust == NULL || x == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no trust store or CRL signer given");
    if (contains_cert(trust->crl_signers, x))
        return STI_OK;
    if (!sk_X509_push(trust->crl_signers, x))
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    X509_up_ref(x);
    return STI_OK;
}

/* Verification */

/* Returns 1 when X is within its validity period at time AT. */
static int valid_at(X509 *x, time_t at)
{
    return X509_cmp_time(X509_get0_notBefore(x), &at) < 0 &&
           X509_cmp_time(X509_get0_notAfter(x), &at) > 0;
}

/* Returns 1 when a configured CRL signer, valid at time AT, signed CRL. */
static int crl_from_configured_signer(const struct sti_trust *trust,
                                      X509_CRL *crl, time_t at)
{
    for (int i = 0; crl != NULL && i < sk_X509_num(trust->crl_signers); i++) {
        X509 *signer = sk_X509_value(trust->crl_signers, i);
        EVP_PKEY *pkey = X509_get0_pubkey(signer);

        if (pkey != NULL && valid_at(signer, at) &&
            X509_CRL_verify(crl, pkey) == 1)
            return 1;
    }
    ERR_clear_error();
    return 0;
}

/*
 * OpenSSL 3.0 accepts a CRL signed by a certificate outside the validated
 * path only when that signer chains to the same trust anchor.  The PA's
 * certificate has its own root, so the resulting CRL path error is
 * accepted when the key of a configured CRL signer, itself within its
 * validity period, verifies the CRL.  Every other check (signature,
 * times, scope, revocation) still applies.
 */
static int verify_callback(int ok, X509_STORE_CTX *ctx)
{
    const struct sti_trust *trust = X509_STORE_CTX_get_app_data(ctx);

    if (ok || trust == NULL ||
        X509_STORE_CTX_get_error(ctx) != X509_V_ERR_CRL_PATH_VALIDATION_ERROR)
        return ok;
    if (!crl_from_configured_signer(
            trust, X509_STORE_CTX_get0_current_crl(ctx),
            X509_VERIFY_PARAM_get_time(X509_STORE_CTX_get0_param(ctx))))
        return 0;
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
}

/* Collects the chain's certificates after the leaf, plus the CRL signers
 * that OpenSSL looks up among untrusted certificates. */
static STACK_OF(X509) * untrusted_certs(const struct sti_trust *trust,
                                        const struct sti_chain *chain)
{
    STACK_OF(X509) *certs = sk_X509_new_null();

    if (certs == NULL)
        return NULL;
    for (size_t i = 1; i < sti_chain_count(chain); i++)
        if (!sk_X509_push(certs, sti_cert_get0_x509(sti_chain_get0(chain, i))))
            goto fail;
    for (int i = 0; trust->crl != NULL && i < sk_X509_num(trust->crl_signers);
         i++)
        if (!sk_X509_push(certs, sk_X509_value(trust->crl_signers, i)))
            goto fail;
    return certs;
fail:
    sk_X509_free(certs);
    return NULL;
}

/* Returns advice for the CRL errors that a configuration mistake causes. */
static const char *crl_hint(int code)
{
    if (code == X509_V_ERR_UNABLE_TO_GET_CRL)
        return "; check that the CRL's issuer is the certificate's cRLIssuer "
               "and that its certificate is a configured CRL signer";
    if (code == X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER)
        return "; add the CRL signer's certificate as a CRL signer";
    return "";
}

static int verify_error(X509_STORE_CTX *ctx, int *revoked,
                        struct sti_error *err)
{
    int code = X509_STORE_CTX_get_error(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    char *subject = bad ? sti_name_to_string(X509_get_subject_name(bad)) : NULL;
    int rc;

    if (revoked != NULL)
        *revoked = code == X509_V_ERR_CERT_REVOKED;
    rc = sti_seterr(err, STI_ERR_POLICY,
                    "certificate chain is not valid: %s (at depth %d, "
                    "'%.200s')%s",
                    X509_verify_cert_error_string(code),
                    X509_STORE_CTX_get_error_depth(ctx),
                    subject ? subject : "?", crl_hint(code));
    free(subject);
    ERR_clear_error();
    return rc;
}

static int setup_ctx(X509_STORE_CTX *ctx, const struct sti_trust *trust,
                     X509 *leaf, STACK_OF(X509) * untrusted,
                     STACK_OF(X509_CRL) * crls, time_t at)
{
    if (X509_STORE_CTX_init(ctx, trust->store, leaf, untrusted) != 1)
        return 0;
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
                               at ? at : time(NULL));
    if (crls != NULL) {
        /* CRL_CHECK checks the leaf only.  CRL_CHECK_ALL would demand a
         * CRL in scope for every certificate of the path, roots included,
         * and the PA publishes one CRL. */
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK |
                                          X509_V_FLAG_EXTENDED_CRL_SUPPORT);
        X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
        X509_STORE_CTX_set_app_data(ctx, (void *)trust);
    }
    return 1;
}

int sti_chain_verify(const struct sti_trust *trust,
                     const struct sti_chain *chain, time_t at, int *revoked,
                     struct sti_error *err)
{
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    int rc;

    if (revoked != NULL)
        *revoked = 0;
    if (trust == NULL || sti_chain_count(chain) == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no trust anchors or an empty chain");
    if (sk_X509_num(trust->anchors) == 0)
        return sti_seterr(err, STI_ERR_POLICY,
                          "no trust anchors configured; load the CA list");
    ctx = X509_STORE_CTX_new();
    untrusted = untrusted_certs(trust, chain);
    if (trust->crl != NULL && ((crls = sk_X509_CRL_new_null()) == NULL ||
                               !sk_X509_CRL_push(crls, trust->crl))) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ctx == NULL || untrusted == NULL ||
        !setup_ctx(ctx, trust, sti_cert_get0_x509(sti_chain_get0(chain, 0)),
                   untrusted, crls, at)) {
        rc =
            sti_seterr_ssl(err, STI_ERR_NOMEM, "cannot set up path validation");
        goto out;
    }
    rc = X509_verify_cert(ctx) == 1 ? STI_OK : verify_error(ctx, revoked, err);
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_CRL_free(crls);
    return rc;
}
