/* x5u URL policy, fetching and the certificate chain cache. */
#include "x5u_int.h"
#include "jws_int.h"
#include "x509_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#define BUCKETS 4096
#define DER_BUCKETS 256
#define MAX_ENTRIES 200000
#define HOT_CTX_MAX 4

/* One certificate's DER, shared by every entry whose chain contains it. */
struct sti_x5u_der {
    char fingerprint[65]; /* SHA-256, lowercase hex */
    unsigned char *der;
    size_t len;
    int users; /* entries that point here, under the DER mutex */
    struct sti_x5u_der *next;
};

/* The ready key of a recently used entry, in a list of at most
 * STI_X5U_HOT_MAX, most recently used first. */
struct sti_x5u_hot {
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *pool[HOT_CTX_MAX];
    int pooled;
    struct sti_x5u_entry *owner;
    struct sti_x5u_hot *prev, *next;
};

/* A fetch in progress.  Requests for the same URL wait for its result
 * instead of fetching it again.  All fields are under the cache mutex. */
struct x5u_flight {
    char *url;
    struct sti_x5u_entry *entry; /* the result, with a reference, once done */
    int done;
    int waiters;
    struct x5u_flight *next;
};

/* Lock order: lock, then der_lock or hot_lock; never both of those. */
struct sti_x5u_cache {
    struct sti_x5u_policy policy;
    char *ca_file;
    pthread_mutex_t lock;
    struct sti_x5u_entry *buckets[BUCKETS];
    size_t count;
    struct x5u_flight *flights; /* fetches in progress */
    pthread_cond_t flight_done; /* broadcast when any of them finishes */
    sqlite3 *db;                /* NULL without a database */
    pthread_mutex_t der_lock;
    struct sti_x5u_der *der_buckets[DER_BUCKETS];
    size_t der_count;
    pthread_mutex_t hot_lock;
    struct sti_x5u_hot *hot_first, *hot_last;
    size_t hot_count;
    EVP_PKEY *p256_template; /* copied by key_from_point(), under hot_lock */
};

static char out_of_memory[] = "out of memory";

static const char schema[] = "CREATE TABLE IF NOT EXISTS x5u_cache("
                             " url TEXT PRIMARY KEY,"
                             " body BLOB,"
                             " error TEXT,"
                             " error_code INTEGER NOT NULL DEFAULT 0,"
                             " fetched_at INTEGER NOT NULL,"
                             " expires_at INTEGER NOT NULL);";

/* URL policy */

static int url_part(CURLU *u, CURLUPart part, char **out)
{
    *out = NULL;
    return curl_url_get(u, part, out, 0) == CURLUE_OK && *out != NULL;
}

/* Checks the scheme and port of a parsed URL. */
static int check_scheme_port(const struct sti_x5u_policy *p, CURLU *u,
                             const char *url, struct sti_error *err)
{
    char *scheme = NULL, *port = NULL;
    int rc = STI_OK;
    long n;

    url_part(u, CURLUPART_SCHEME, &scheme);
    if (scheme == NULL || (strcmp(scheme, "https") != 0 &&
                           !(p->allow_http && strcmp(scheme, "http") == 0)))
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "x5u URL '%s' is not https; only https is allowed "
                        "(the lab may allow http)",
                        url);
    if (rc == STI_OK && !p->allow_any_port &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
            CURLUE_OK) {
        n = strtol(port, NULL, 10);
        if (n != 443 && n != 8443)
            rc = sti_seterr(err, STI_ERR_POLICY,
                            "x5u URL '%s' uses port %ld; only 443 and 8443 "
                            "are allowed (the lab may allow any port)",
                            url, n);
    }
    curl_free(scheme);
    curl_free(port);
    return rc;
}

int sti_x5u_check_url(const struct sti_x5u_policy *p, const char *url,
                      struct sti_error *err)
{
    static const struct {
        CURLUPart part;
        const char *name;
    } banned[] = {{CURLUPART_USER, "userinfo"},
                  {CURLUPART_PASSWORD, "userinfo"},
                  {CURLUPART_QUERY, "a query"},
                  {CURLUPART_FRAGMENT, "a fragment"}};
    CURLU *u = curl_url();
    char *part, *host = NULL;
    int rc;

    if (u == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (url == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        !url_part(u, CURLUPART_HOST, &host)) {
        curl_url_cleanup(u);
        return sti_seterr(err, STI_ERR_POLICY, "x5u '%s' is not a valid URL",
                          url ? url : "(none)");
    }
    curl_free(host);
    rc = check_scheme_port(p, u, url, err);
    /* libcurl reports no fragment for a bare '#', which is still one. */
    if (rc == STI_OK && strchr(url, '#') != NULL)
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "x5u URL '%s' has a fragment; ATIS-1000074 forbids it",
                        url);
    for (size_t i = 0; rc == STI_OK && i < sizeof(banned) / sizeof(*banned);
         i++) {
        if (url_part(u, banned[i].part, &part))
            rc = sti_seterr(err, STI_ERR_POLICY,
                            "x5u URL '%s' has %s; ATIS-1000074 forbids it", url,
                            banned[i].name);
        curl_free(part);
    }
    curl_url_cleanup(u);
    return rc;
}

/* Cache lifetime (RFC 9111 section 4.2.1) */

/* Reads the value of DIRECTIVE ("max-age") in a Cache-Control list. */
static long directive(const char *cc, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = cc; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncasecmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1 + (p[n + 1] == '"');

            return isdigit((unsigned char)*v) ? strtol(v, NULL, 10) : -1;
        }
        p = strchr(p, ',');
    }
    return -1;
}

static int has_token(const char *cc, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = cc; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncasecmp(p, token, n) == 0 &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '='))
            return 1;
        p = strchr(p, ',');
    }
    return 0;
}

long sti_x5u_lifetime(const char *cc, const char *expires, time_t now)
{
    long v;

    if (cc != NULL) {
        if (has_token(cc, "no-store") || has_token(cc, "no-cache"))
            return 0;
        /* s-maxage applies to shared caches, which this one is. */
        v = directive(cc, "s-maxage");
        if (v < 0)
            v = directive(cc, "max-age");
        if (v >= 0)
            return v;
    }
    if (expires != NULL) {
        time_t t = curl_getdate(expires, NULL);

        if (t == -1)
            return 0; /* an invalid Expires means already expired */
        return t > now ? (long)(t - now) : 0;
    }
    return -1;
}

/* Shared certificate DER */

static size_t der_bucket_of(const char *fingerprint)
{
    return (size_t)strtoul((char[]){fingerprint[0], fingerprint[1], '\0'}, NULL,
                           16) %
           DER_BUCKETS;
}

/* Returns the shared node for CERT, adding it when no entry has it yet. */
static struct sti_x5u_der *der_get(struct sti_x5u_cache *c,
                                   const struct sti_cert *cert,
                                   struct sti_error *err)
{
    struct sti_x5u_der *d, *fresh;
    char fp[65];
    size_t b;

    if (sti_cert_fingerprint(cert, fp) != STI_OK) {
        sti_seterr(err, STI_ERR_CRYPTO, "cannot hash an x5u certificate");
        return NULL;
    }
    fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL) {
        sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (sti_cert_to_der(cert, &fresh->der, &fresh->len, err) != STI_OK) {
        free(fresh);
        return NULL;
    }
    memcpy(fresh->fingerprint, fp, sizeof(fp));
    b = der_bucket_of(fp);
    pthread_mutex_lock(&c->der_lock);
    for (d = c->der_buckets[b]; d != NULL; d = d->next)
        if (strcmp(d->fingerprint, fp) == 0)
            break;
    if (d == NULL) {
        d = fresh;
        fresh = NULL;
        d->next = c->der_buckets[b];
        c->der_buckets[b] = d;
        c->der_count++;
    }
    d->users++;
    pthread_mutex_unlock(&c->der_lock);
    if (fresh != NULL)
        sti_free(fresh->der);
    free(fresh);
    return d;
}

static void der_put(struct sti_x5u_cache *c, struct sti_x5u_der *d)
{
    struct sti_x5u_der **pp = &c->der_buckets[der_bucket_of(d->fingerprint)];
    int last;

    pthread_mutex_lock(&c->der_lock);
    last = --d->users == 0;
    if (last) {
        while (*pp != d)
            pp = &(*pp)->next;
        *pp = d->next;
        c->der_count--;
    }
    pthread_mutex_unlock(&c->der_lock);
    if (last) {
        sti_free(d->der);
        free(d);
    }
}

/* Ready keys of recently used entries, always used under c->hot_lock */

static void hot_unlink_locked(struct sti_x5u_cache *c, struct sti_x5u_hot *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        c->hot_first = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        c->hot_last = h->prev;
    h->prev = h->next = NULL;
    c->hot_count--;
}

static void hot_push_locked(struct sti_x5u_cache *c, struct sti_x5u_hot *h)
{
    h->prev = NULL;
    h->next = c->hot_first;
    if (c->hot_first != NULL)
        c->hot_first->prev = h;
    c->hot_first = h;
    if (c->hot_last == NULL)
        c->hot_last = h;
    c->hot_count++;
}

static void hot_free(struct sti_x5u_hot *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->pooled; i++)
        EVP_PKEY_CTX_free(h->pool[i]);
    EVP_PKEY_free(h->pkey);
    free(h);
}

/* Detaches the entry's ready key; the caller frees it. */
static struct sti_x5u_hot *hot_detach(struct sti_x5u_cache *c,
                                      struct sti_x5u_entry *e)
{
    struct sti_x5u_hot *h;

    pthread_mutex_lock(&c->hot_lock);
    h = e->hot;
    if (h != NULL)
        hot_unlink_locked(c, h);
    e->hot = NULL;
    pthread_mutex_unlock(&c->hot_lock);
    return h;
}

/* Makes PKEY the entry's ready key unless another thread was first, and
 * drops the least recently used key beyond STI_X5U_HOT_MAX. */
static void hot_install(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                        EVP_PKEY *pkey)
{
    struct sti_x5u_hot *h = calloc(1, sizeof(*h)), *victim = NULL;

    if (h == NULL || EVP_PKEY_up_ref(pkey) != 1) {
        free(h);
        return;
    }
    h->pkey = pkey;
    h->owner = e;
    pthread_mutex_lock(&c->hot_lock);
    if (e->hot == NULL) {
        e->hot = h;
        hot_push_locked(c, h);
        h = NULL;
    }
    if (c->hot_count > STI_X5U_HOT_MAX) {
        victim = c->hot_last;
        hot_unlink_locked(c, victim);
        victim->owner->hot = NULL;
    }
    pthread_mutex_unlock(&c->hot_lock);
    hot_free(h);
    hot_free(victim);
}

/* Builds an EC P-256 key from the point with EVP_PKEY_fromdata(), which
 * looks up the key management each time (about 20 us with OpenSSL 3.0). */
static EVP_PKEY *key_from_params(const struct sti_x5u_entry *e)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                          (void *)e->point, e->point_len),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/*
 * Builds the leaf's public key from the stored point.  Copying a P-256
 * template key and setting its point costs about a quarter of
 * EVP_PKEY_fromdata(): 5.5 against 22.7 us with OpenSSL 3.0.19 on one
 * Xeon vCPU.  The first key built becomes the template, which is only
 * read after that.
 */
static EVP_PKEY *key_from_point(struct sti_x5u_cache *c,
                                const struct sti_x5u_entry *e)
{
    EVP_PKEY *pkey, *template;

    pthread_mutex_lock(&c->hot_lock);
    template = c->p256_template;
    pthread_mutex_unlock(&c->hot_lock);
    if (template == NULL) {
        pkey = key_from_params(e);
        template = pkey ? EVP_PKEY_dup(pkey) : NULL;
        pthread_mutex_lock(&c->hot_lock);
        if (c->p256_template == NULL) {
            c->p256_template = template;
            template = NULL;
        }
        pthread_mutex_unlock(&c->hot_lock);
        EVP_PKEY_free(template); /* another thread was first */
        return pkey;
    }
    pkey = EVP_PKEY_dup(template);
    if (pkey != NULL &&
        EVP_PKEY_set1_encoded_public_key(pkey, e->point, e->point_len) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/* Entries */

static void entry_free(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    if (e == NULL)
        return;
    hot_free(hot_detach(c, e));
    for (size_t i = 0; i < e->cert_count; i++)
        der_put(c, e->certs[i]);
    free(e->certs);
    sti_chain_free(e->parsed);
    free(e->url);
    if (e->error != out_of_memory)
        free(e->error);
    sti_tnauth_free(e->tnauth);
    free(e);
}

static struct sti_x5u_entry *entry_new(struct sti_x5u_cache *c, const char *url)
{
    struct sti_x5u_entry *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->url = strdup(url);
    if (e->url == NULL) {
        entry_free(c, e);
        e = NULL;
    }
    return e;
}

static void entry_set_error(struct sti_x5u_entry *e, int code,
                            const char *message)
{
    e->failed = 1;
    e->error_code = code;
    if (e->error != out_of_memory)
        free(e->error);
    e->error = strdup(message ? message : "");
    if (e->error == NULL)
        e->error = out_of_memory;
}

static void entry_fail(struct sti_x5u_entry *e, const struct sti_error *err)
{
    entry_set_error(e, err->code, err->message);
}

/* Parses a PEM chain.  A DER certificate is rejected like any other
 * body that is not PEM, because the x5u must serve
 * application/pem-certificate-chain (RFC 8555 section 9.1). */
static int parse_chain(const unsigned char *body, size_t len,
                       struct sti_chain **out, struct sti_error *err)
{
    *out = NULL;
    if (sti_looks_like_pem(body, len) &&
        sti_chain_parse(body, len, out, NULL) == STI_OK &&
        sti_chain_count(*out) > 0)
        return STI_OK;
    sti_chain_free(*out);
    *out = NULL;
    return sti_seterr(err, STI_ERR_INVALID,
                      "the x5u content is not a PEM certificate chain "
                      "(application/pem-certificate-chain, leaf first)");
}

/* Keeps the leaf key as its point, which is all ES256 verification needs. */
static int entry_load_key(struct sti_x5u_entry *e, const struct sti_cert *leaf,
                          struct sti_error *err)
{
    struct sti_key *key = sti_cert_get1_key(leaf);
    size_t n = 0;

    if (key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the x5u leaf certificate's key cannot be read");
    e->key_type = sti_key_type_name(key);
    e->key_p256 = sti_key_is_p256(key);
    /* X509_get_key_usage() returns every bit when the extension is absent,
     * which RFC 5280 section 4.2.1.3 reads as no restriction. */
    e->key_signs = (X509_get_key_usage(sti_cert_get0_x509(leaf)) &
                    KU_DIGITAL_SIGNATURE) != 0;
    e->leaf_is_ca = sti_cert_is_ca(leaf);
    if (e->key_p256 &&
        EVP_PKEY_get_octet_string_param(sti_key_get0_pkey(key),
                                        OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        e->point, sizeof(e->point), &n) != 1)
        n = 0;
    sti_key_free(key);
    if (e->key_p256 && n == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the x5u leaf certificate's EC point cannot be "
                          "read");
    e->point_len = (unsigned char)n;
    return STI_OK;
}

/* Fills the facts of the leaf that verification checks. */
static int entry_load_leaf(struct sti_x5u_entry *e, const struct sti_cert *leaf,
                           struct sti_error *err)
{
    char *serial;
    int rc = entry_load_key(e, leaf, err);

    if (rc != STI_OK)
        return rc;
    e->tnauth_status = sti_cert_get_tnauth(leaf, &e->tnauth, NULL);
    /* With an SPC the TNAuthList is not consulted again. */
    if (e->tnauth_status == STI_OK && sti_tnauth_get0_spc(e->tnauth)) {
        snprintf(e->spc, sizeof(e->spc), "%s", sti_tnauth_get0_spc(e->tnauth));
        sti_tnauth_free(e->tnauth);
        e->tnauth = NULL;
    }
    serial = sti_cert_serial_hex(leaf);
    snprintf(e->serial, sizeof(e->serial), "%s", serial ? serial : "");
    sti_free(serial);
    return STI_OK;
}

/* Keeps every certificate of CHAIN as shared DER, and the validity
 * period common to all of them. */
static int entry_share_certs(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                             const struct sti_chain *chain,
                             struct sti_error *err)
{
    size_t n = sti_chain_count(chain);

    e->certs = calloc(n, sizeof(*e->certs));
    if (e->certs == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    e->valid_from = 0;
    e->valid_until = (time_t)INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        struct sti_cert *cert = sti_chain_get0(chain, i);

        e->certs[i] = der_get(c, cert, err);
        if (e->certs[i] == NULL)
            return err->code;
        e->cert_count++;
        if (sti_cert_not_before(cert) > e->valid_from)
            e->valid_from = sti_cert_not_before(cert);
        if (sti_cert_not_after(cert) < e->valid_until)
            e->valid_until = sti_cert_not_after(cert);
    }
    return STI_OK;
}

static int entry_load_chain(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                            const unsigned char *body, size_t len,
                            struct sti_error *err)
{
    struct sti_chain *chain = NULL;
    int rc = parse_chain(body, len, &chain, err);

    if (rc == STI_OK)
        rc = entry_load_leaf(e, sti_chain_get0(chain, 0), err);
    if (rc == STI_OK)
        rc = entry_share_certs(c, e, chain, err);
    /* The first verification of a P-256 leaf validates this chain, so it
     * is kept until then instead of being parsed again. */
    if (rc == STI_OK && e->key_p256) {
        e->parsed = chain;
        chain = NULL;
    }
    sti_chain_free(chain);
    return rc;
}

int sti_x5u_entry_chain(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                        struct sti_chain **out, struct sti_error *err)
{
    struct sti_chain *chain;
    struct sti_cert *cert;
    int rc;

    pthread_mutex_lock(&c->lock);
    chain = e->parsed;
    e->parsed = NULL;
    pthread_mutex_unlock(&c->lock);
    *out = chain;
    if (chain != NULL)
        return STI_OK;
    chain = sti_chain_new();
    rc = chain ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");

    for (size_t i = 0; rc == STI_OK && i < e->cert_count; i++) {
        rc = sti_cert_parse(e->certs[i]->der, e->certs[i]->len, &cert, err);
        if (rc != STI_OK)
            break;
        if (sti_chain_push(chain, cert) != STI_OK)
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        sti_cert_free(cert);
    }
    if (rc == STI_OK && e->cert_count == 0)
        rc = sti_seterr(err, STI_ERR_INVALID, "x5u %s has no chain", e->url);
    if (rc != STI_OK) {
        sti_chain_free(chain);
        chain = NULL;
    }
    *out = chain;
    return rc;
}

/* Sets the expiry: the HTTP lifetime, at least min_cache_s, never past
 * the chain's earliest notAfter unless that has already passed. */
static void entry_set_expiry(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                             long lifetime, time_t now)
{
    long min = c->policy.min_cache_s;

    if (e->failed) {
        e->expires = now + c->policy.failure_cache_s;
        return;
    }
    e->expires = now + (lifetime > min ? lifetime : min);
    if (e->expires > e->valid_until)
        e->expires = e->valid_until;
    if (e->expires <= now)
        e->expires = now + c->policy.failure_cache_s;
}

/* SQLite */

static int db_load(struct sti_x5u_cache *c, const char *url, time_t now,
                   struct sti_x5u_entry **out)
{
    sqlite3_stmt *st = NULL;
    struct sti_x5u_entry *e = NULL;
    struct sti_error err;

    *out = NULL;
    if (c->db == NULL ||
        sqlite3_prepare_v2(c->db,
                           "SELECT body, error, error_code, expires_at FROM "
                           "x5u_cache WHERE url = ?1 AND expires_at > ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite3_step(st) != SQLITE_ROW || (e = entry_new(c, url)) == NULL)
        goto out;
    e->expires = sqlite3_column_int64(st, 3);
    if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        if (entry_load_chain(c, e, sqlite3_column_blob(st, 0),
                             (size_t)sqlite3_column_bytes(st, 0),
                             &err) != STI_OK)
            entry_fail(e, &err);
    } else {
        entry_set_error(e, sqlite3_column_int(st, 2),
                        (const char *)sqlite3_column_text(st, 1));
    }
    *out = e;
out:
    sqlite3_finalize(st);
    return *out != NULL;
}

/* Stores a fetch result; failures to write only lose the sharing. */
static void db_store(struct sti_x5u_cache *c, const struct sti_x5u_entry *e,
                     const unsigned char *body, size_t len, time_t now)
{
    sqlite3_stmt *st = NULL;

    if (c->db == NULL ||
        sqlite3_prepare_v2(c->db,
                           "INSERT OR REPLACE INTO x5u_cache(url, body, "
                           "error, error_code, fetched_at, expires_at) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, e->url, -1, SQLITE_STATIC);
    if (body != NULL && !e->failed)
        sqlite3_bind_blob(st, 2, body, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, 3, e->error, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, e->error_code);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, e->expires);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

/* Fetching */

/* Checks that the media type, without parameters and in any case, is
 * application/pem-certificate-chain (RFC 8555 section 9.1), the type the
 * SHAKEN certificate repository must serve. */
static int check_content_type(const char *url, const char *type,
                              struct sti_error *err)
{
    static const char want[] = "application/pem-certificate-chain";
    size_t n = sizeof(want) - 1;
    char shown[128];

    if (type == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "x5u %s sent no Content-Type; it must be %s", url,
                          want);
    if (strncasecmp(type, want, n) == 0 && (type[n] == '\0' || type[n] == ';' ||
                                            type[n] == ' ' || type[n] == '\t'))
        return STI_OK;
    return sti_seterr(
        err, STI_ERR_INVALID, "x5u %s sent Content-Type '%s'; it must be %s",
        url, sti_escape(type, strlen(type), shown, sizeof(shown)), want);
}

static int fetch(struct sti_x5u_cache *c, struct sti_x5u_entry *e, time_t now,
                 struct sti_http_response **resp, long *lifetime,
                 struct sti_error *err)
{
    struct sti_http_options o = {
        .connect_timeout_ms = c->policy.connect_timeout_ms,
        .timeout_ms = c->policy.timeout_ms,
        .max_body = c->policy.max_bytes,
        .follow_redirects = 0, /* ATIS-1000074: x5u must not redirect */
        .ca_file = c->ca_file,
    };
    int rc = sti_http_request("GET", e->url, NULL, 0, &o, resp, err);

    if (rc == STI_ERR_POLICY)
        return sti_seterr(err, STI_ERR_INVALID,
                          "x5u %s is larger than %zu bytes", e->url,
                          c->policy.max_bytes);
    if (rc != STI_OK)
        return rc;
    if ((*resp)->status >= 300 && (*resp)->status < 400)
        return sti_seterr(err, STI_ERR_INVALID,
                          "x5u %s returned HTTP status %ld, a redirect; "
                          "an x5u must not redirect",
                          e->url, (*resp)->status);
    if ((*resp)->status != 200)
        return sti_seterr(err, STI_ERR_NET,
                          "x5u %s returned HTTP status %ld, not 200", e->url,
                          (*resp)->status);
    rc = check_content_type(e->url, (*resp)->content_type, err);
    if (rc != STI_OK)
        return rc;
    *lifetime =
        sti_x5u_lifetime(sti_http_response_header(*resp, "cache-control"),
                         sti_http_response_header(*resp, "expires"), now);
    return STI_OK;
}

static struct sti_x5u_entry *fetch_entry(struct sti_x5u_cache *c,
                                         const char *url, time_t now)
{
    struct sti_x5u_entry *e = entry_new(c, url);
    struct sti_http_response *resp = NULL;
    struct sti_error err;
    long lifetime = -1;
    int rc;

    if (e == NULL)
        return NULL;
    rc = fetch(c, e, now, &resp, &lifetime, &err);
    if (rc == STI_OK)
        rc = entry_load_chain(c, e, resp->body, resp->body_len, &err);
    if (rc != STI_OK)
        entry_fail(e, &err);
    entry_set_expiry(c, e, lifetime, now);
    db_store(c, e, resp ? resp->body : NULL, resp ? resp->body_len : 0, now);
    sti_http_response_free(resp);
    return e;
}

/* Memory table, always used under c->lock */

static size_t bucket_of(const char *url)
{
    size_t h = 5381;

    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        h = h * 33 + *p;
    return h % BUCKETS;
}

static void unref_locked(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    if (--e->refs == 0)
        entry_free(c, e);
}

static struct sti_x5u_entry *find_locked(struct sti_x5u_cache *c,
                                         const char *url)
{
    for (struct sti_x5u_entry *e = c->buckets[bucket_of(url)]; e != NULL;
         e = e->next)
        if (strcmp(e->url, url) == 0)
            return e;
    return NULL;
}

static void remove_locked(struct sti_x5u_cache *c, struct sti_x5u_entry *old)
{
    struct sti_x5u_entry **pp = &c->buckets[bucket_of(old->url)];

    while (*pp != old)
        pp = &(*pp)->next;
    *pp = old->next;
    c->count--;
    unref_locked(c, old);
}

/* Drops expired entries when the table is full; then any entries. */
static void evict_locked(struct sti_x5u_cache *c, time_t now)
{
    for (int pass = 0; pass < 2 && c->count >= MAX_ENTRIES; pass++)
        for (size_t b = 0; b < BUCKETS && c->count >= MAX_ENTRIES / 2; b++)
            while (c->buckets[b] != NULL &&
                   (pass == 1 || c->buckets[b]->expires <= now))
                remove_locked(c, c->buckets[b]);
}

static void insert_locked(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                          time_t now)
{
    struct sti_x5u_entry *old = find_locked(c, e->url);
    size_t b = bucket_of(e->url);

    if (old != NULL)
        remove_locked(c, old);
    evict_locked(c, now);
    e->refs = 1; /* the table's reference */
    e->next = c->buckets[b];
    c->buckets[b] = e;
    c->count++;
}

/* Fetches in progress, always used under c->lock */

static struct x5u_flight *flight_find_locked(struct sti_x5u_cache *c,
                                             const char *url)
{
    for (struct x5u_flight *f = c->flights; f != NULL; f = f->next)
        if (strcmp(f->url, url) == 0)
            return f;
    return NULL;
}

/* Registers a fetch of URL.  Returns NULL when out of memory, and then
 * the caller fetches without letting others wait for it. */
static struct x5u_flight *flight_start_locked(struct sti_x5u_cache *c,
                                              const char *url)
{
    struct x5u_flight *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->url = strdup(url)) == NULL) {
        free(f);
        return NULL;
    }
    f->next = c->flights;
    c->flights = f;
    return f;
}

/* Frees F once its fetch has finished and no request waits for it. */
static void flight_put_locked(struct sti_x5u_cache *c, struct x5u_flight *f)
{
    if (!f->done || f->waiters > 0)
        return;
    if (f->entry != NULL)
        unref_locked(c, f->entry);
    free(f->url);
    free(f);
}

/* Publishes the result E (NULL when out of memory) to the waiters. */
static void flight_finish_locked(struct sti_x5u_cache *c, struct x5u_flight *f,
                                 struct sti_x5u_entry *e)
{
    struct x5u_flight **pp = &c->flights;

    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    f->entry = e;
    if (e != NULL)
        e->refs++;
    f->done = 1;
    pthread_cond_broadcast(&c->flight_done);
    flight_put_locked(c, f);
}

/*
 * Waits for another request's fetch F and returns its entry with a
 * reference for the caller.  The wait is bounded by the fetch timeout,
 * plus a second for parsing and storing the chain, since that fetch
 * started before this request.
 */
static int flight_wait_locked(struct sti_x5u_cache *c, struct x5u_flight *f,
                              struct sti_x5u_entry **out, struct sti_error *err)
{
    long wait_ms = c->policy.timeout_ms + 1000;
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    f->waiters++;
    while (!f->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->flight_done, &c->lock, &deadline);
    *out = f->done ? f->entry : NULL;
    if (*out != NULL)
        (*out)->refs++;
    else if (f->done)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else
        rc = sti_seterr(err, STI_ERR_NET,
                        "x5u %s: the fetch that another request started did "
                        "not finish within %ld ms",
                        f->url, wait_ms);
    f->waiters--;
    flight_put_locked(c, f);
    return *out != NULL ? STI_OK : rc;
}

/* Returns the entry for URL with a reference when it is fresh. */
static struct sti_x5u_entry *find_fresh_locked(struct sti_x5u_cache *c,
                                               const char *url, time_t now)
{
    struct sti_x5u_entry *e = find_locked(c, url);

    if (e == NULL || e->expires <= now)
        return NULL;
    e->refs++;
    return e;
}

/* Loads URL from SQLite or fetches it, then caches it and ends flight F
 * (which may be NULL).  Called without the lock. */
static struct sti_x5u_entry *load_entry(struct sti_x5u_cache *c,
                                        const char *url, time_t now,
                                        struct x5u_flight *f, int *hit)
{
    struct sti_x5u_entry *e;

    if (!db_load(c, url, now, &e)) {
        *hit = 0;
        e = fetch_entry(c, url, now);
    }
    pthread_mutex_lock(&c->lock);
    if (e != NULL) {
        insert_locked(c, e, now);
        e->refs++; /* the caller's reference */
    }
    if (f != NULL)
        flight_finish_locked(c, f, e);
    pthread_mutex_unlock(&c->lock);
    return e;
}

/* Public to the library */

int sti_x5u_get_cached(struct sti_x5u_cache *c, const char *url, time_t now,
                       struct sti_x5u_entry **out)
{
    pthread_mutex_lock(&c->lock);
    *out = find_fresh_locked(c, url, now);
    pthread_mutex_unlock(&c->lock);
    return *out != NULL;
}

/* A request that finds URL neither fresh in memory nor being fetched
 * starts the fetch.  The others wait for it, so that concurrent requests
 * for one uncached x5u cause one fetch. */
int sti_x5u_get(struct sti_x5u_cache *c, const char *url, time_t now,
                struct sti_x5u_entry **out, int *hit, struct sti_error *err)
{
    struct x5u_flight *f;
    int rc;

    *hit = 1;
    pthread_mutex_lock(&c->lock);
    *out = find_fresh_locked(c, url, now);
    if (*out != NULL) {
        pthread_mutex_unlock(&c->lock);
        return STI_OK;
    }
    f = flight_find_locked(c, url);
    if (f != NULL) {
        *hit = 0;
        rc = flight_wait_locked(c, f, out, err);
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    f = flight_start_locked(c, url);
    pthread_mutex_unlock(&c->lock);
    *out = load_entry(c, url, now, f, hit);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}

void sti_x5u_entry_release(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    unref_locked(c, e);
    pthread_mutex_unlock(&c->lock);
}

EVP_PKEY_CTX *sti_x5u_take_ctx(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    pthread_mutex_lock(&c->hot_lock);
    if (e->hot != NULL) {
        /* Move the key to the front: it was used last. */
        hot_unlink_locked(c, e->hot);
        hot_push_locked(c, e->hot);
        if (e->hot->pooled > 0)
            ctx = e->hot->pool[--e->hot->pooled];
        else if (EVP_PKEY_up_ref(e->hot->pkey) == 1)
            pkey = e->hot->pkey;
    }
    pthread_mutex_unlock(&c->hot_lock);
    if (ctx != NULL)
        return ctx;
    if (pkey == NULL && e->key_p256) {
        pkey = key_from_point(c, e);
        if (pkey != NULL)
            hot_install(c, e, pkey);
    }
    ctx = pkey ? sti_es256_verify_ctx_new(pkey) : NULL;
    EVP_PKEY_free(pkey);
    return ctx;
}

void sti_x5u_give_ctx(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                      EVP_PKEY_CTX *ctx)
{
    struct sti_x5u_hot *h;

    pthread_mutex_lock(&c->hot_lock);
    h = e->hot;
    /* A context of a key that was dropped meanwhile is freed. */
    if (h != NULL && h->pkey == EVP_PKEY_CTX_get0_pkey(ctx) &&
        h->pooled < HOT_CTX_MAX) {
        h->pool[h->pooled++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&c->hot_lock);
    EVP_PKEY_CTX_free(ctx);
}

size_t sti_x5u_cache_der_count(struct sti_x5u_cache *c)
{
    size_t n;

    pthread_mutex_lock(&c->der_lock);
    n = c->der_count;
    pthread_mutex_unlock(&c->der_lock);
    return n;
}

size_t sti_x5u_cache_hot_count(struct sti_x5u_cache *c)
{
    size_t n;

    pthread_mutex_lock(&c->hot_lock);
    n = c->hot_count;
    pthread_mutex_unlock(&c->hot_lock);
    return n;
}

int sti_x5u_memo_valid(struct sti_x5u_cache *c, const struct sti_x5u_entry *e,
                       unsigned long gen)
{
    int valid;

    pthread_mutex_lock(&c->lock);
    valid = e->validated_gen == gen;
    pthread_mutex_unlock(&c->lock);
    return valid;
}

void sti_x5u_memo_set(struct sti_x5u_cache *c, struct sti_x5u_entry *e,
                      unsigned long gen)
{
    pthread_mutex_lock(&c->lock);
    e->validated_gen = gen;
    pthread_mutex_unlock(&c->lock);
}

/* Waiting for a fetch uses the monotonic clock, which steps of the wall
 * clock do not move. */
static void init_flight_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

int sti_x5u_cache_new(const struct sti_x5u_policy *policy, const char *db_path,
                      struct sti_x5u_cache **out, struct sti_error *err)
{
    struct sti_x5u_cache *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (c == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    c->policy = *policy;
    c->ca_file = sti_strdup(policy->ca_file);
    c->policy.ca_file = NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->der_lock, NULL);
    pthread_mutex_init(&c->hot_lock, NULL);
    init_flight_cond(&c->flight_done);
    if (db_path != NULL) {
        rc = sti_sqlite_open(db_path, schema, &c->db, err);
        if (rc != STI_OK) {
            sti_x5u_cache_free(c);
            return rc;
        }
    }
    *out = c;
    return STI_OK;
}

void sti_x5u_cache_free(struct sti_x5u_cache *c)
{
    if (c == NULL)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        while (c->buckets[b] != NULL)
            remove_locked(c, c->buckets[b]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->der_lock);
    pthread_mutex_destroy(&c->hot_lock);
    pthread_cond_destroy(&c->flight_done);
    EVP_PKEY_free(c->p256_template);
    sqlite3_close(c->db);
    free(c->ca_file);
    free(c);
}
