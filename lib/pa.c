/* The PA directory: creation, opening, URLs and SPC token issuance. */
#include "pa_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

static const char pa_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    " name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS providers("
    " id INTEGER PRIMARY KEY, spc TEXT UNIQUE NOT NULL, name TEXT NOT NULL,"
    " delegation INTEGER NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users("
    " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " provider_id INTEGER REFERENCES providers(id),"
    " admin INTEGER NOT NULL, pwhash TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS access_tokens("
    " hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    " expires INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS spc_tokens("
    " jti TEXT PRIMARY KEY,"
    " provider_id INTEGER NOT NULL REFERENCES providers(id),"
    " fingerprint TEXT NOT NULL, ca INTEGER NOT NULL,"
    " issued INTEGER NOT NULL, expires INTEGER NOT NULL, via TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ca_roots("
    " fingerprint TEXT PRIMARY KEY, subject TEXT NOT NULL,"
    " der BLOB NOT NULL, added INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS revocations("
    " id INTEGER PRIMARY KEY, issuer TEXT NOT NULL, serial TEXT NOT NULL,"
    " reason INTEGER NOT NULL, revoked_at INTEGER NOT NULL,"
    " UNIQUE(issuer, serial));"
    "CREATE TABLE IF NOT EXISTS crls("
    " number INTEGER PRIMARY KEY, der BLOB NOT NULL,"
    " this_update INTEGER NOT NULL, next_update INTEGER NOT NULL);";

static char *dir_file(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int load_root(const struct sti_pa_init_options *o,
                     struct sti_cert **cert, struct sti_key **key,
                     struct sti_error *err)
{
    int rc;

    *cert = NULL;
    *key = NULL;
    if (o->root_cert_file == NULL && o->root_key_file == NULL)
        return STI_OK;
    if (o->root_cert_file == NULL || o->root_key_file == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "an issuing root needs both its certificate and "
                          "its key");
    rc = sti_cert_load(o->root_cert_file, cert, err);
    if (rc == STI_OK)
        rc = sti_key_load(o->root_key_file, o->root_key_passphrase, key, err);
    return rc;
}

static int root_matches(const struct sti_cert *cert, const struct sti_key *key,
                        struct sti_error *err)
{
    struct sti_key *pub = sti_cert_get1_key(cert);
    int same = pub != NULL && sti_key_public_equal(pub, key);

    sti_key_free(pub);
    if (!same)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the root key does not match the root "
                          "certificate's public key");
    return STI_OK;
}

/*
 * Turns the self-signed PA certificate *CERT into one issued by ROOT: the
 * issuer name becomes the root's subject, an authorityKeyIdentifier names
 * the root's key, notAfter is capped at the root's, and the root key signs
 * it.  OpenSSL 3.0 validates the signer of an indirect CRL against the
 * trust anchor of the certificate it checks: with a self-signed PA,
 * "openssl verify -crl_check -extended_crl" fails with "CRL path
 * validation error" even for a certificate that is not revoked.
 */
static int resign_under_root(struct sti_cert **cert,
                             const struct sti_cert *root,
                             const struct sti_key *root_key,
                             struct sti_error *err)
{
    X509 *rx = sti_cert_get0_x509(root);
    X509 *x = X509_dup(sti_cert_get0_x509(*cert));
    X509V3_CTX ctx;
    X509_EXTENSION *aki = NULL;
    int ok;

    if (x == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    X509V3_set_ctx(&ctx, rx, x, NULL, NULL, 0);
    aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                              "keyid:always");
    ok = aki != NULL && X509_set_issuer_name(x, X509_get_subject_name(rx));
    ok = ok && X509_add_ext(x, aki, -1);
    if (ok &&
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(rx)) > 0)
        ok = X509_set1_notAfter(x, X509_get0_notAfter(rx));
    ok = ok && X509_sign(x, sti_key_get0_pkey(root_key), EVP_sha256()) > 0;
    X509_EXTENSION_free(aki);
    if (!ok) {
        X509_free(x);
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot issue the PA certificate from the root");
    }
    sti_cert_free(*cert);
    *cert = sti_cert_from_x509(x);
    return *cert ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static int issue_pa_cert(const struct sti_pa_init_options *o,
                         const struct sti_key *key, struct sti_cert **out,
                         struct sti_error *err)
{
    struct sti_cert_request req;
    struct sti_cert *root = NULL;
    struct sti_key *root_key = NULL;
    int rc;

    rc = load_root(o, &root, &root_key, err);
    if (rc == STI_OK && root != NULL)
        rc = root_matches(root, root_key, err);
    if (rc == STI_OK && root != NULL && !sti_cert_is_ca(root))
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "%s is not a CA certificate, so it cannot issue the "
                        "PA certificate",
                        o->root_cert_file);
    if (rc != STI_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.kind = STI_CERT_PA_ROOT;
    req.common_name = o->common_name ? o->common_name : "SHAKEN PA ROOT";
    req.organization = o->organization ? o->organization : "stilab PA";
    req.country = o->country;
    req.subject_key = key;
    req.validity_days = o->validity_days;
    rc = sti_cert_issue(&req, NULL, NULL, out, err);
    if (rc == STI_OK && root != NULL)
        rc = resign_under_root(out, root, root_key, err);
out:
    sti_cert_free(root);
    sti_key_free(root_key);
    return rc;
}

static int make_dir(const char *dir, struct sti_error *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sti_seterr(err, STI_ERR_IO, "cannot create directory %s: %s",
                          dir, strerror(errno));
    return STI_OK;
}

static int write_cert(const struct sti_cert *cert, const char *path,
                      struct sti_error *err)
{
    char *pem = NULL;
    int rc = sti_cert_to_pem(cert, &pem, err);

    if (rc == STI_OK)
        rc = sti_file_write(path, pem, strlen(pem), 0644, 1, err);
    free(pem);
    return rc;
}

int sti_pa_init(const struct sti_pa_init_options *o, struct sti_error *err)
{
    char *key_path = NULL, *cert_path = NULL, *db_path = NULL;
    char *tls_cert = NULL, *tls_key = NULL;
    struct sti_key *key = NULL;
    struct sti_cert *cert = NULL;
    struct sti_pa_config cfg;
    struct sti_pa *pa = NULL;
    int rc;

    if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID, "no PA directory given");
    key_path = dir_file(o->dir, STI_PA_KEY_FILE);
    cert_path = dir_file(o->dir, STI_PA_CERT_FILE);
    db_path = dir_file(o->dir, STI_PA_DB_FILE);
    tls_cert = dir_file(o->dir, STI_PA_TLS_CERT_FILE);
    tls_key = dir_file(o->dir, STI_PA_TLS_KEY_FILE);
    if (!key_path || !cert_path || !db_path || !tls_cert || !tls_key) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (access(key_path, F_OK) == 0 || access(db_path, F_OK) == 0) {
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "%s already holds a PA; choose an empty directory",
                        o->dir);
        goto out;
    }
    /* The certificate is issued before the directory is created, so that
     * invalid subject options leave nothing behind. */
    rc = sti_key_generate(&key, err);
    if (rc == STI_OK)
        rc = issue_pa_cert(o, key, &cert, err);
    if (rc == STI_OK)
        rc = make_dir(o->dir, err);
    if (rc == STI_OK)
        rc = sti_key_save(key, key_path, NULL, err);
    if (rc == STI_OK)
        rc = write_cert(cert, cert_path, err);
    if (rc == STI_OK)
        rc = sti_tls_selfsigned_create(tls_cert, tls_key, 825, err);
    if (rc != STI_OK)
        goto out;
    memset(&cfg, 0, sizeof(cfg));
    cfg.dir = o->dir;
    rc = sti_pa_open(&cfg, &pa, err);
    if (rc == STI_OK)
        rc = sti_pa_crl_regenerate(pa, err);
out:
    sti_pa_close(pa);
    sti_key_free(key);
    sti_cert_free(cert);
    free(key_path);
    free(cert_path);
    free(db_path);
    free(tls_cert);
    free(tls_key);
    return rc;
}

static long or_default(long value, long fallback)
{
    return value > 0 ? value : fallback;
}

static int load_identity(struct sti_pa *pa, struct sti_error *err)
{
    char *key_path = dir_file(pa->dir, STI_PA_KEY_FILE);
    char *cert_path = dir_file(pa->dir, STI_PA_CERT_FILE);
    int rc = STI_ERR_NOMEM;

    if (key_path == NULL || cert_path == NULL) {
        sti_seterr(err, rc, "out of memory");
        goto out;
    }
    rc = sti_key_load(key_path, NULL, &pa->key, err);
    if (rc == STI_OK)
        rc = sti_cert_load(cert_path, &pa->cert, err);
    if (rc == STI_OK)
        rc = root_matches(pa->cert, pa->key, err);
    if (rc == STI_OK)
        rc = sti_cert_to_pem(pa->cert, &pa->cert_pem, err);
out:
    free(key_path);
    free(cert_path);
    return rc;
}

static int open_db(struct sti_pa *pa, struct sti_error *err)
{
    char *db_path = dir_file(pa->dir, STI_PA_DB_FILE);
    int rc;

    if (db_path == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_sqlite_open(db_path, pa_schema, &pa->db, err);
    free(db_path);
    return rc;
}

int sti_pa_open(const struct sti_pa_config *c, struct sti_pa **out,
                struct sti_error *err)
{
    struct sti_pa *pa;
    pthread_mutexattr_t attr;
    int rc;

    *out = NULL;
    if (c == NULL || c->dir == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no PA directory given");
    pa = calloc(1, sizeof(*pa));
    if (pa == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    /* Recursive, so that a public function may call another one. */
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&pa->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pa->dir = strdup(c->dir);
    pa->token_lifetime = or_default(c->token_lifetime, STI_PA_TOKEN_LIFETIME);
    pa->access_lifetime = or_default(c->access_lifetime, 3600);
    pa->crl_lifetime = or_default(c->crl_lifetime, 7 * 86400);
    pa->calist_lifetime = or_default(c->calist_lifetime, 7 * 86400);
    pa->login_max_failures = or_default(c->login_max_failures, 5);
    pa->login_lockout = or_default(c->login_lockout, 60);
    if (c->crl_url != NULL && c->crl_url[0] != '\0') {
        pa->crl_url = strdup(c->crl_url);
        pa->crl_url_fixed = 1;
    }
    rc = pa->dir ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (rc == STI_OK && access(pa->dir, F_OK) != 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "PA directory %s does not exist; create it with "
                        "'sti-pa init --dir %s'",
                        pa->dir, pa->dir);
    if (rc == STI_OK)
        rc = load_identity(pa, err);
    if (rc == STI_OK)
        rc = open_db(pa, err);
    if (rc == STI_OK && c->base_url != NULL && c->base_url[0] != '\0')
        rc = sti_pa_set_default_base_url(pa, c->base_url, err);
    if (rc != STI_OK) {
        sti_pa_close(pa);
        return rc;
    }
    *out = pa;
    return STI_OK;
}

void sti_pa_close(struct sti_pa *pa)
{
    if (pa == NULL)
        return;
    sqlite3_close(pa->db);
    sti_key_free(pa->key);
    sti_cert_free(pa->cert);
    free(pa->cert_pem);
    free(pa->dir);
    free(pa->base_url);
    free(pa->cert_url);
    free(pa->crl_url);
    pthread_mutex_destroy(&pa->lock);
    free(pa);
}

static char *url_join(const char *base, const char *path)
{
    size_t n = strlen(base);
    char *url;

    while (n > 0 && base[n - 1] == '/')
        n--;
    url = malloc(n + strlen(path) + 1);
    if (url != NULL) {
        memcpy(url, base, n);
        strcpy(url + n, path);
    }
    return url;
}

/* Checks the HOST[:PORT] of a base URL: a DNS name, an IPv4 address or a
 * bracketed IPv6 address, and a port of 1 to 65535. */
static int authority_valid(const char *host, size_t len)
{
    const char *colon = NULL;
    size_t host_len = len;
    long port = 0;

    if (len > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', len);

        if (close == NULL)
            return 0;
        host_len = (size_t)(close - host) + 1;
        if (host_len < len && host[host_len] != ':')
            return 0;
        colon = host_len < len ? host + host_len : NULL;
    } else {
        colon = memchr(host, ':', len);
        host_len = colon ? (size_t)(colon - host) : len;
        for (size_t i = 0; i < host_len; i++)
            if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
                host[i] != '-')
                return 0;
    }
    if (host_len == 0)
        return 0;
    if (colon == NULL)
        return 1;
    for (const char *p = colon + 1; p < host + len; p++) {
        if (!isdigit((unsigned char)*p) || port > 65535)
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

int sti_pa_base_url_check(const char *url, struct sti_error *err)
{
    const char *rest = NULL, *path;
    size_t n = url ? strlen(url) : 0;

    if (url != NULL && strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (url != NULL && strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    for (size_t i = 0; rest != NULL && i < n; i++)
        if (!isgraph((unsigned char)url[i]))
            rest = NULL;
    /* The x5u is BASE_URL/pa.crt, so a query or fragment would end up in
     * front of the path.  Userinfo would publish a user name and password
     * in every token. */
    if (rest != NULL && strpbrk(rest, "?#@") != NULL)
        rest = NULL;
    path = rest ? rest + strcspn(rest, "/") : NULL;
    if (rest == NULL || !authority_valid(rest, (size_t)(path - rest)))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid base URL '%.200s'; use "
                          "http://HOST[:PORT][/PATH] or "
                          "https://HOST[:PORT][/PATH] without user name, "
                          "query or fragment",
                          url ? url : "(none)");
    return STI_OK;
}

int sti_pa_set_default_base_url(struct sti_pa *pa, const char *url,
                                struct sti_error *err)
{
    char *base, *cert_url, *crl_url = NULL;
    int rc = sti_pa_base_url_check(url, err);

    if (rc != STI_OK)
        return rc;
    if (pa->base_url != NULL)
        return STI_OK;
    base = strdup(url);
    cert_url = url_join(url, "/" STI_PA_CERT_FILE);
    if (!pa->crl_url_fixed)
        crl_url = url_join(url, "/api/v1/crl");
    if (base == NULL || cert_url == NULL ||
        (!pa->crl_url_fixed && crl_url == NULL)) {
        free(base);
        free(cert_url);
        free(crl_url);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    pa->base_url = base;
    pa->cert_url = cert_url;
    if (!pa->crl_url_fixed)
        pa->crl_url = crl_url;
    return STI_OK;
}

const char *sti_pa_cert_url(const struct sti_pa *pa)
{
    return pa->cert_url;
}

const char *sti_pa_crl_url(const struct sti_pa *pa)
{
    return pa->crl_url;
}

const struct sti_cert *sti_pa_get0_cert(const struct sti_pa *pa)
{
    return pa->cert;
}

void pa_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

/* SPC tokens */

static int check_token_request(struct sti_pa *pa, const char *spc,
                               const char *fingerprint, int ca,
                               int64_t *provider, struct sti_error *err)
{
    int enabled, delegation;
    int rc = sti_spc_fingerprint_valid(fingerprint, err);

    if (rc != STI_OK)
        return rc;
    if (pa->cert_url == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no base URL for the PA certificate, which is the "
                          "x5u of SPC tokens; give --base-url URL or set "
                          "base_url in pa.conf");
    rc = pa_provider_find(pa, spc, provider, &enabled, &delegation, err);
    if (rc != STI_OK)
        return rc;
    if (!enabled)
        return sti_seterr(err, STI_ERR_POLICY,
                          "service provider %s is disabled", spc);
    if (ca && !delegation)
        return sti_seterr(err, STI_ERR_POLICY,
                          "service provider %s may not delegate, so it "
                          "cannot get a token with ca:true",
                          spc);
    return STI_OK;
}

static int record_jti(struct sti_pa *pa, const char *jti, int64_t provider,
                      const char *fingerprint, int ca, time_t now, time_t exp,
                      const char *via, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO spc_tokens(jti, provider_id, "
                           "fingerprint, ca, issued, expires, via) "
                           "VALUES(?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot record the token");
    sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, provider);
    sqlite3_bind_text(st, 3, fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, ca != 0);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)exp);
    sqlite3_bind_text(st, 7, via ? via : "cli", -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE
             ? STI_OK
             : sti_sqlite_err(err, pa->db, "cannot record the token");
    sqlite3_finalize(st);
    return rc;
}

static int sign_token(struct sti_pa *pa, const char *spc,
                      const char *fingerprint, int ca, const char *jti,
                      time_t exp, char **token, struct sti_error *err)
{
    struct sti_spc_token_request req;
    struct sti_tnauth *tn = sti_tnauth_new();
    int rc;

    if (tn == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_tnauth_add(tn, STI_TN_SPC, spc, 0, err);
    if (rc == STI_OK) {
        memset(&req, 0, sizeof(req));
        req.x5u = pa->cert_url;
        req.tnauth = tn;
        req.fingerprint = fingerprint;
        req.ca = ca;
        req.exp = exp;
        req.jti = jti;
        rc = sti_spc_token_create(&req, pa->key, token, err);
    }
    sti_tnauth_free(tn);
    return rc;
}

int sti_pa_token_issue(struct sti_pa *pa, const char *spc,
                       const char *fingerprint, int ca, const char *via,
                       char **token, struct sti_error *err)
{
    char jti[37], fp[STI_FINGERPRINT_LEN];
    int64_t provider = 0;
    time_t now = time(NULL);
    time_t exp = now + pa->token_lifetime;
    int rc;

    *token = NULL;
    pthread_mutex_lock(&pa->lock);
    rc = sti_spc_fingerprint_normalize(fingerprint, fp, err);
    fingerprint = fp;
    if (rc == STI_OK)
        rc = check_token_request(pa, spc, fingerprint, ca, &provider, err);
    if (rc == STI_OK && sti_uuid4(jti) != STI_OK)
        rc = sti_seterr(err, STI_ERR_CRYPTO, "cannot generate a jti");
    if (rc == STI_OK)
        rc = sign_token(pa, spc, fingerprint, ca, jti, exp, token, err);
    if (rc == STI_OK)
        rc = record_jti(pa, jti, provider, fingerprint, ca, now, exp, via, err);
    pthread_mutex_unlock(&pa->lock);
    if (rc != STI_OK) {
        free(*token);
        *token = NULL;
    }
    return rc;
}

int sti_pa_token_count(struct sti_pa *pa, long *count, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK;

    *count = 0;
    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db, "SELECT count(*) FROM spc_tokens", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = sti_sqlite_err(err, pa->db, "cannot count tokens");
    else
        *count = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    return rc;
}
