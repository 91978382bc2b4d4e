/* x5u URL policy, fetching and the certificate chain cache. */
#include "x5u_int.h"
#include "jws_int.h"
#include "x509_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define BUCKETS 4096
#define MAX_ENTRIES 200000

struct sti_x5u_cache {
    struct sti_x5u_policy policy;
    char *ca_file;
    pthread_mutex_t lock;
    struct sti_x5u_entry *buckets[BUCKETS];
    size_t count;
    sqlite3 *db; /* NULL without a database */
};

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

/* Entries */

static void entry_free(struct sti_x5u_entry *e)
{
    if (e == NULL)
        return;
    for (int i = 0; i < e->ctx_pooled; i++)
        EVP_PKEY_CTX_free(e->ctx_pool[i]);
    pthread_mutex_destroy(&e->ctx_lock);
    free(e->url);
    sti_chain_free(e->chain);
    sti_key_free(e->leaf_key);
    sti_tnauth_free(e->tnauth);
    free(e);
}

static struct sti_x5u_entry *entry_new(const char *url)
{
    struct sti_x5u_entry *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    pthread_mutex_init(&e->ctx_lock, NULL);
    e->url = strdup(url);
    if (e->url == NULL) {
        entry_free(e);
        e = NULL;
    }
    return e;
}

static void entry_fail(struct sti_x5u_entry *e, const struct sti_error *err)
{
    e->failed = 1;
    e->error_code = err->code;
    snprintf(e->error, sizeof(e->error), "%s", err->message);
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

/* Fills the leaf facts and the chain's common validity period. */
static int entry_load_chain(struct sti_x5u_entry *e, const unsigned char *body,
                            size_t len, struct sti_error *err)
{
    struct sti_cert *leaf;
    char *serial;
    int rc = parse_chain(body, len, &e->chain, err);

    if (rc != STI_OK)
        return rc;
    leaf = sti_chain_get0(e->chain, 0);
    e->leaf_key = sti_cert_get1_key(leaf);
    if (e->leaf_key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the x5u leaf certificate's key cannot be read");
    e->key_p256 = sti_key_is_p256(e->leaf_key);
    e->tnauth_status = sti_cert_get_tnauth(leaf, &e->tnauth, NULL);
    if (e->tnauth_status == STI_OK && sti_tnauth_get0_spc(e->tnauth))
        snprintf(e->spc, sizeof(e->spc), "%s", sti_tnauth_get0_spc(e->tnauth));
    serial = sti_cert_serial_hex(leaf);
    snprintf(e->serial, sizeof(e->serial), "%s", serial ? serial : "");
    sti_free(serial);
    e->valid_from = 0;
    e->valid_until = (time_t)INT64_MAX;
    for (size_t i = 0; i < sti_chain_count(e->chain); i++) {
        struct sti_cert *c = sti_chain_get0(e->chain, i);

        if (sti_cert_not_before(c) > e->valid_from)
            e->valid_from = sti_cert_not_before(c);
        if (sti_cert_not_after(c) < e->valid_until)
            e->valid_until = sti_cert_not_after(c);
    }
    return STI_OK;
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
    if (sqlite3_step(st) != SQLITE_ROW || (e = entry_new(url)) == NULL)
        goto out;
    e->expires = sqlite3_column_int64(st, 3);
    if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        if (entry_load_chain(e, sqlite3_column_blob(st, 0),
                             (size_t)sqlite3_column_bytes(st, 0),
                             &err) != STI_OK)
            entry_fail(e, &err);
    } else {
        e->failed = 1;
        e->error_code = sqlite3_column_int(st, 2);
        snprintf(e->error, sizeof(e->error), "%s",
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
    struct sti_x5u_entry *e = entry_new(url);
    struct sti_http_response *resp = NULL;
    struct sti_error err;
    long lifetime = -1;
    int rc;

    if (e == NULL)
        return NULL;
    rc = fetch(c, e, now, &resp, &lifetime, &err);
    if (rc == STI_OK)
        rc = entry_load_chain(e, resp->body, resp->body_len, &err);
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

static void unref_locked(struct sti_x5u_entry *e)
{
    if (--e->refs == 0)
        entry_free(e);
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
    unref_locked(old);
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

/* Public to the library */

int sti_x5u_get_cached(struct sti_x5u_cache *c, const char *url, time_t now,
                       struct sti_x5u_entry **out)
{
    struct sti_x5u_entry *e;

    pthread_mutex_lock(&c->lock);
    e = find_locked(c, url);
    if (e != NULL && e->expires > now)
        e->refs++;
    else
        e = NULL;
    pthread_mutex_unlock(&c->lock);
    *out = e;
    return e != NULL;
}

int sti_x5u_get(struct sti_x5u_cache *c, const char *url, time_t now,
                struct sti_x5u_entry **out, int *hit, struct sti_error *err)
{
    struct sti_x5u_entry *e;

    *out = NULL;
    *hit = 1;
    if (sti_x5u_get_cached(c, url, now, out))
        return STI_OK;
    if (!db_load(c, url, now, &e)) {
        *hit = 0;
        e = fetch_entry(c, url, now);
    }
    if (e == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&c->lock);
    insert_locked(c, e, now);
    e->refs++; /* the caller's reference */
    pthread_mutex_unlock(&c->lock);
    *out = e;
    return STI_OK;
}

void sti_x5u_entry_release(struct sti_x5u_cache *c, struct sti_x5u_entry *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    unref_locked(e);
    pthread_mutex_unlock(&c->lock);
}

EVP_PKEY_CTX *sti_x5u_take_ctx(struct sti_x5u_entry *e)
{
    EVP_PKEY_CTX *ctx = NULL;

    pthread_mutex_lock(&e->ctx_lock);
    if (e->ctx_pooled > 0)
        ctx = e->ctx_pool[--e->ctx_pooled];
    pthread_mutex_unlock(&e->ctx_lock);
    return ctx ? ctx : sti_es256_verify_ctx_new(sti_key_get0_pkey(e->leaf_key));
}

void sti_x5u_give_ctx(struct sti_x5u_entry *e, EVP_PKEY_CTX *ctx)
{
    pthread_mutex_lock(&e->ctx_lock);
    if (e->ctx_pooled < 4) {
        e->ctx_pool[e->ctx_pooled++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&e->ctx_lock);
    EVP_PKEY_CTX_free(ctx);
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
    sqlite3_close(c->db);
    free(c->ca_file);
    free(c);
}
