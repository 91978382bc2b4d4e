/*
 * The STI-CR store: chains in SQLite, mirrored in an in-memory hash table
 * of refcounted, immutable entries.  A replace builds the new entry first
 * and swaps it into its bucket under the write lock, so a reader finds the
 * old chain or the new one.  Readers keep their reference until the
 * response is sent.
 */
#include "repo_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define INITIAL_BUCKETS 1024
#define BLOB_BUCKETS 4096

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS chains("
    " name TEXT PRIMARY KEY,"
    " pem TEXT NOT NULL,"
    " etag TEXT NOT NULL," /* 32 hex digits, unquoted */
    " modified INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " certs INTEGER NOT NULL,"
    " subject TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens("
    " name TEXT PRIMARY KEY,"
    " sha256 TEXT NOT NULL UNIQUE,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS clients("
    " name TEXT PRIMARY KEY,"
    " sha256 TEXT NOT NULL UNIQUE," /* of the certificate's DER, hex */
    " subject TEXT NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " created INTEGER NOT NULL);";

static const char pem_end[] = "-----END CERTIFICATE-----";

/* FNV-1a, 32 bits: names and certificates are short. */
uint32_t repo_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int repo_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return STI_ERR_CRYPTO;
    for (unsigned int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return STI_OK;
}

void repo_http_date(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void repo_iso_time(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int repo_json_list(int rc, const char *key, json_t *arr, char **json,
                   struct sti_error *err)
{
    json_t *doc = rc == STI_OK ? json_pack("{s:O}", key, arr) : NULL;

    if (rc == STI_OK) {
        *json = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        if (*json == NULL)
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    json_decref(doc);
    json_decref(arr);
    return rc;
}

int repo_query_list(struct sti_repo *repo, const char *sql,
                    json_t *(*row_json)(sqlite3_stmt *st), const char *key,
                    const char *error, char **json, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();
    int rc = STI_OK;

    *json = NULL;
    pthread_mutex_lock(&repo->db_lock);
    if (sqlite3_prepare_v2(repo->db, sql, -1, &st, NULL) != SQLITE_OK)
        rc = sti_sqlite_err(err, repo->db, error);
    while (rc == STI_OK && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, row_json(st));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&repo->db_lock);
    return repo_json_list(rc, key, arr, json, err);
}

int repo_delete(struct sti_repo *repo, const char *sql, const char *value,
                const char *error, int *deleted, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *deleted = 0;
    pthread_mutex_lock(&repo->db_lock);
    rc = sqlite3_prepare_v2(repo->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rc = sti_sqlite_err(err, repo->db, error);
    } else {
        *deleted = sqlite3_changes(repo->db);
        rc = STI_OK;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&repo->db_lock);
    return rc;
}

int repo_find_name(struct sti_repo *repo, const char *sql, const char *value,
                   char name_out[STI_REPO_NAME_MAX + 1])
{
    sqlite3_stmt *st = NULL;
    int found = 0;

    pthread_mutex_lock(&repo->db_lock);
    if (sqlite3_prepare_v2(repo->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (name_out != NULL)
                snprintf(name_out, STI_REPO_NAME_MAX + 1, "%s",
                         (const char *)sqlite3_column_text(st, 0));
            found = 1;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&repo->db_lock);
    return found;
}

/* Writes one row of a text table, or the headings when ROW is NULL. */
static void write_table_row(FILE *f, const struct repo_column *columns,
                            size_t count, const json_t *row)
{
    for (size_t i = 0; i < count; i++) {
        const char *value =
            row ? json_string_value(json_object_get(row, columns[i].member))
                : columns[i].heading;

        if (value == NULL)
            value = "";
        if (i + 1 < count)
            fprintf(f, "%-*s  ", columns[i].width, value);
        else
            fprintf(f, "%s\n", value);
    }
}

int repo_text_table(int rc, char *json, const char *key,
                    const struct repo_column *columns, size_t count,
                    char **text, struct sti_error *err)
{
    json_t *doc = rc == STI_OK ? json_loads(json, 0, NULL) : NULL, *row;
    char *buf = NULL;
    size_t size = 0, i;
    FILE *f = doc ? open_memstream(&buf, &size) : NULL;

    *text = NULL;
    if (rc != STI_OK)
        goto out;
    if (f == NULL) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    write_table_row(f, columns, count, NULL);
    json_array_foreach(json_object_get(doc, key), i, row)
        write_table_row(f, columns, count, row);
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    *text = buf;
out:
    json_decref(doc);
    sti_free(json);
    return rc;
}

/* Parses TEXT in strptime() FORMAT to the end; returns 0 on success. */
static int parse_date_form(const char *text, const char *format, struct tm *tm)
{
    const char *end;

    memset(tm, 0, sizeof(*tm));
    end = strptime(text, format, tm);
    return end != NULL && *end == '\0' ? 0 : -1;
}

/*
 * Places the two-digit year of an rfc850-date: RFC 9110 section 5.6.7
 * takes a year more than 50 years in the future as the most recent past
 * year with the same last two digits.
 */
static void place_two_digit_year(struct tm *tm)
{
    time_t now = time(NULL);
    struct tm today;
    int year;

    gmtime_r(&now, &today);
    year = today.tm_year + 1900 - (today.tm_year + 1900) % 100 +
           (tm->tm_year + 1900) % 100;
    if (year > today.tm_year + 1900 + 50)
        year -= 100;
    tm->tm_year = year - 1900;
}

/* RFC 9110 section 5.6.7: recipients accept the IMF-fixdate and the two
 * obsolete forms, rfc850-date and asctime-date. */
time_t repo_parse_http_date(const char *text)
{
    struct tm tm;

    if (parse_date_form(text, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 ||
        parse_date_form(text, "%a %b %d %H:%M:%S %Y", &tm) == 0)
        return timegm(&tm);
    if (parse_date_form(text, "%A, %d-%b-%y %H:%M:%S GMT", &tm) == 0) {
        place_two_digit_year(&tm);
        return timegm(&tm);
    }
    return (time_t)-1;
}

int sti_repo_name_valid(const char *name)
{
    size_t n;

    if (name == NULL)
        return 0;
    n = strlen(name);
    if (n == 0 || n > STI_REPO_NAME_MAX)
        return 0;
    if (strchr(".-_", name[0]) != NULL)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") == n;
}

/* Interned certificates */

/* Interns the certificate PEM[0..LEN), as DER when that round-trips. */
static struct repo_blob *blob_intern(struct sti_repo *repo, const char *pem,
                                     size_t len)
{
    size_t der_len = 0;
    unsigned char *der = repo_pem_to_der(pem, len, &der_len);
    const void *data = der ? (const void *)der : pem;
    size_t dlen = der ? der_len : len;
    uint32_t h = repo_hash(data, dlen) ^ (der ? 1u : 0u);
    struct repo_blob **slot, *b;

    pthread_mutex_lock(&repo->blob_lock);
    slot = &repo->blobs[h & (repo->nblobs - 1)];
    for (b = *slot; b != NULL; b = b->next)
        if (b->hash == h && b->len == dlen && b->is_der == (der != NULL) &&
            memcmp(b->data, data, dlen) == 0)
            break;
    if (b != NULL) {
        b->refs++;
    } else if ((b = malloc(sizeof(*b) + dlen)) != NULL) {
        b->refs = 1;
        b->hash = h;
        b->len = (uint32_t)dlen;
        b->pem_len = (uint32_t)len;
        b->is_der = der != NULL;
        memcpy(b->data, data, dlen);
        b->next = *slot;
        *slot = b;
    }
    pthread_mutex_unlock(&repo->blob_lock);
    free(der);
    return b;
}

static void blob_unref_locked(struct sti_repo *repo, struct repo_blob *b)
{
    struct repo_blob **p;

    if (--b->refs > 0)
        return;
    for (p = &repo->blobs[b->hash & (repo->nblobs - 1)]; *p != NULL;
         p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    free(b);
}

/* Entries */

void repo_entry_write_pem(const struct repo_entry *e, char *out)
{
    for (unsigned int i = 0; i < e->count; i++) {
        const struct repo_blob *b = e->certs[i];

        if (b->is_der)
            repo_pem_write(b->data, b->len, out);
        else
            memcpy(out, b->data, b->len);
        out += b->pem_len;
    }
}

const char *repo_entry_flat(struct repo_entry *e)
{
    struct sti_repo *repo = e->repo;
    char *flat = atomic_load(&e->flat), *expected = NULL;

    if (flat != NULL)
        return flat;
    if (atomic_fetch_add(&repo->flat_bytes, e->size) + e->size >
            repo->flat_budget ||
        (flat = malloc(e->size)) == NULL) {
        atomic_fetch_sub(&repo->flat_bytes, e->size);
        return NULL;
    }
    repo_entry_write_pem(e, flat);
    /* Another thread may have made the copy meanwhile; keep one. */
    if (!atomic_compare_exchange_strong(&e->flat, &expected, flat)) {
        free(flat);
        atomic_fetch_sub(&repo->flat_bytes, e->size);
        return expected;
    }
    return flat;
}

void repo_entry_unref(struct repo_entry *e)
{
    char *flat;

    if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    flat = atomic_load(&e->flat);
    if (flat != NULL) {
        free(flat);
        atomic_fetch_sub(&e->repo->flat_bytes, e->size);
    }
    pthread_mutex_lock(&e->repo->blob_lock);
    for (unsigned int i = 0; i < e->count; i++)
        blob_unref_locked(e->repo, e->certs[i]);
    pthread_mutex_unlock(&e->repo->blob_lock);
    free(e);
}

void repo_entry_release(void *entry)
{
    repo_entry_unref(entry);
}

/*
 * Builds an entry from canonical PEM (certificates back to back, each
 * ending in the END line and a newline).  ETAG is 32 hex digits.
 */
static struct repo_entry *entry_new(struct sti_repo *repo, const char *name,
                                    const char *pem, size_t len,
                                    const char *etag, time_t modified,
                                    time_t not_after)
{
    size_t nlen = strlen(name), off = 0;
    struct repo_entry *e = calloc(1, sizeof(*e) + nlen + 1);

    if (e == NULL)
        return NULL;
    atomic_init(&e->refs, 1);
    atomic_init(&e->flat, NULL);
    e->repo = repo;
    memcpy(e->name, name, nlen + 1);
    e->hash = repo_hash(name, nlen);
    e->modified = modified;
    e->not_after = not_after;
    e->size = len;
    snprintf(e->etag, sizeof(e->etag), "\"%.32s\"", etag);
    repo_http_date(modified, e->last_modified);
    while (off < len) {
        const char *end = strstr(pem + off, pem_end);
        size_t piece;

        if (end == NULL || e->count == STI_REPO_CHAIN_MAX)
            goto fail;
        piece = (size_t)(end - (pem + off)) + sizeof(pem_end) - 1;
        if (off + piece < len && pem[off + piece] == '\n')
            piece++;
        e->certs[e->count] = blob_intern(repo, pem + off, piece);
        if (e->certs[e->count] == NULL)
            goto fail;
        e->count++;
        off += piece;
    }
    if (e->count == 0)
        goto fail;
    return e;
fail:
    repo_entry_unref(e);
    return NULL;
}

/* Hash table */

static struct repo_entry **bucket_of(struct sti_repo *repo, uint32_t hash)
{
    return &repo->buckets[hash & (repo->nbuckets - 1)];
}

struct repo_entry *repo_lookup(struct sti_repo *repo, const char *name,
                               size_t len)
{
    uint32_t h = repo_hash(name, len);
    struct repo_entry *e;

    pthread_rwlock_rdlock(&repo->table_lock);
    for (e = *bucket_of(repo, h); e != NULL; e = e->next)
        if (e->hash == h && strncmp(e->name, name, len) == 0 &&
            e->name[len] == '\0')
            break;
    if (e != NULL)
        atomic_fetch_add(&e->refs, 1);
    pthread_rwlock_unlock(&repo->table_lock);
    return e;
}

/* Doubles the bucket array; called with the write lock held. */
static void table_grow(struct sti_repo *repo)
{
    size_t n = repo->nbuckets * 2;
    struct repo_entry **nb = calloc(n, sizeof(*nb));

    if (nb == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < repo->nbuckets; i++) {
        struct repo_entry *e = repo->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(repo->buckets);
    repo->buckets = nb;
    repo->nbuckets = n;
}

/*
 * Puts E in the table (taking over the caller's reference) in place of the
 * entry with the same name, or removes that entry when E is NULL and NAME
 * is given.  Returns the entry taken out, which the caller unrefs after
 * the lock is released.
 */
static struct repo_entry *table_swap(struct sti_repo *repo, const char *name,
                                     struct repo_entry *e)
{
    size_t len = strlen(name);
    uint32_t h = repo_hash(name, len);
    struct repo_entry **p, *old = NULL;

    pthread_rwlock_wrlock(&repo->table_lock);
    for (p = bucket_of(repo, h); *p != NULL; p = &(*p)->next)
        if ((*p)->hash == h && strcmp((*p)->name, name) == 0)
            break;
    if (*p != NULL) {
        old = *p;
        *p = old->next;
        repo->count--;
    }
    if (e != NULL) {
        /* Linking at the slot of the old entry keeps its bucket intact. */
        e->next = *p;
        *p = e;
        repo->count++;
        if (repo->count > repo->nbuckets)
            table_grow(repo);
    }
    pthread_rwlock_unlock(&repo->table_lock);
    return old;
}

size_t sti_repo_count(const struct sti_repo *repo)
{
    size_t n;

    pthread_rwlock_rdlock((pthread_rwlock_t *)&repo->table_lock);
    n = repo->count;
    pthread_rwlock_unlock((pthread_rwlock_t *)&repo->table_lock);
    return n;
}

/* Open and close */

static int repo_alloc(struct sti_repo **out)
{
    struct sti_repo *repo = calloc(1, sizeof(*repo));

    *out = NULL;
    if (repo == NULL)
        return STI_ERR_NOMEM;
    repo->nbuckets = INITIAL_BUCKETS;
    repo->nblobs = BLOB_BUCKETS;
    repo->buckets = calloc(repo->nbuckets, sizeof(*repo->buckets));
    repo->blobs = calloc(repo->nblobs, sizeof(*repo->blobs));
    if (repo->buckets == NULL || repo->blobs == NULL) {
        free(repo->buckets);
        free(repo->blobs);
        free(repo);
        return STI_ERR_NOMEM;
    }
    pthread_mutex_init(&repo->db_lock, NULL);
    pthread_mutex_init(&repo->blob_lock, NULL);
    pthread_rwlock_init(&repo->table_lock, NULL);
    repo->data_version = -1;
    atomic_init(&repo->flat_bytes, 0);
    sti_repo_set_serve(repo, NULL);
    *out = repo;
    return STI_OK;
}

int sti_repo_open(const char *path, struct sti_repo **out,
                  struct sti_error *err)
{
    struct sti_repo *repo;
    int rc;

    *out = NULL;
    if (path == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no database path given");
    if (repo_alloc(&repo) != STI_OK)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_sqlite_open(path, schema, &repo->db, err);
    /* Every chain lives in memory already, so the page cache only slows
     * the reloads down a little when it is small. */
    if (rc == STI_OK)
        rc = sti_sqlite_exec(repo->db, "PRAGMA cache_size = -256", err);
    if (rc == STI_OK)
        rc = sti_repo_sync(repo, NULL, err);
    if (rc != STI_OK) {
        sti_repo_close(repo);
        return rc;
    }
    *out = repo;
    return STI_OK;
}

void sti_repo_close(struct sti_repo *repo)
{
    if (repo == NULL)
        return;
    for (size_t i = 0; i < repo->nbuckets; i++) {
        struct repo_entry *e = repo->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            repo_entry_unref(e);
        }
    }
    free(repo->buckets);
    free(repo->blobs);
    sqlite3_close(repo->db);
    pthread_mutex_destroy(&repo->db_lock);
    pthread_mutex_destroy(&repo->blob_lock);
    pthread_rwlock_destroy(&repo->table_lock);
    free(repo);
}

/* Synchronisation with the database */

static long long data_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    long long v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Loads row NAME into the table when memory lacks it or has an older
 * ETag.  Returns 1 when the table changed, 0 when not, or -1. */
static int sync_one(struct sti_repo *repo, sqlite3_stmt *get, const char *name,
                    const char *etag)
{
    struct repo_entry *cur = repo_lookup(repo, name, strlen(name)), *e;
    int same = cur != NULL && strncmp(cur->etag + 1, etag, 32) == 0;

    repo_entry_unref(cur);
    if (same)
        return 0;
    sqlite3_reset(get);
    sqlite3_bind_text(get, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(get) != SQLITE_ROW)
        return -1;
    e = entry_new(repo, name, (const char *)sqlite3_column_text(get, 0),
                  (size_t)sqlite3_column_bytes(get, 0), etag,
                  (time_t)sqlite3_column_int64(get, 1),
                  (time_t)sqlite3_column_int64(get, 2));
    if (e == NULL)
        return -1;
    repo_entry_unref(table_swap(repo, name, e));
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the entries whose names are not in the sorted array NAMES. */
static size_t drop_missing(struct sti_repo *repo, char **names, size_t n)
{
    char **gone = NULL;
    size_t ngone = 0, cap = 0;

    pthread_rwlock_rdlock(&repo->table_lock);
    for (size_t i = 0; i < repo->nbuckets; i++)
        for (struct repo_entry *e = repo->buckets[i]; e != NULL; e = e->next) {
            char *key = e->name;

            if (n > 0 &&
                bsearch(&key, names, n, sizeof(*names), name_cmp) != NULL)
                continue;
            if (ngone == cap) {
                char **g = realloc(gone, (cap ? cap * 2 : 16) * sizeof(*g));

                if (g == NULL)
                    break;
                gone = g;
                cap = cap ? cap * 2 : 16;
            }
            gone[ngone] = strdup(e->name);
            if (gone[ngone] != NULL)
                ngone++;
        }
    pthread_rwlock_unlock(&repo->table_lock);
    for (size_t i = 0; i < ngone; i++) {
        repo_entry_unref(table_swap(repo, gone[i], NULL));
        free(gone[i]);
    }
    free(gone);
    return ngone;
}

struct name_list {
    char **names;
    size_t count;
    size_t cap;
};

static int name_list_add(struct name_list *l, const char *name)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **n = realloc(l->names, cap * sizeof(*n));

        if (n == NULL)
            return -1;
        l->names = n;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name);
    return l->names[l->count++] != NULL ? 0 : -1;
}

static void name_list_free(struct name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
}

/* Walks every row, reloading changed ones; called with db_lock held. */
static int sync_rows(struct sti_repo *repo, size_t *changed,
                     struct sti_error *err)
{
    sqlite3_stmt *all = NULL, *get = NULL;
    struct name_list seen = {0};
    int rc = STI_OK, step;

    if (sqlite3_prepare_v2(repo->db, "SELECT name, etag FROM chains", -1, &all,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(repo->db,
                           "SELECT pem, modified, not_after FROM chains "
                           "WHERE name = ?",
                           -1, &get, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, repo->db, "cannot read the chains");
        goto out;
    }
    while ((step = sqlite3_step(all)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(all, 0);
        const char *etag = (const char *)sqlite3_column_text(all, 1);
        int r = sync_one(repo, get, name, etag);

        if (r < 0 || name_list_add(&seen, name) != 0) {
            rc = sti_seterr(err, STI_ERR_NOMEM,
                            "cannot load chain '%s' into memory", name);
            goto out;
        }
        *changed += (size_t)r;
    }
    if (step != SQLITE_DONE) {
        rc = sti_sqlite_err(err, repo->db, "cannot read the chains");
        goto out;
    }
    if (seen.count > 0)
        qsort(seen.names, seen.count, sizeof(*seen.names), name_cmp);
    *changed += drop_missing(repo, seen.names, seen.count);
out:
    sqlite3_finalize(all);
    sqlite3_finalize(get);
    name_list_free(&seen);
    return rc;
}

int sti_repo_sync(struct sti_repo *repo, size_t *changed, struct sti_error *err)
{
    size_t n = 0;
    long long v;
    int rc = STI_OK;

    if (changed != NULL)
        *changed = 0;
    pthread_mutex_lock(&repo->db_lock);
    v = data_version(repo->db);
    /* data_version moves only when another connection commits; this
     * connection's own writes update memory directly. */
    if (v < 0 || v != repo->data_version) {
        /* One read transaction, so the rows form a consistent snapshot. */
        sti_sqlite_exec(repo->db, "BEGIN", NULL);
        rc = sync_rows(repo, &n, err);
        sti_sqlite_exec(repo->db, "COMMIT", NULL);
        if (rc == STI_OK)
            repo->data_version = v;
        /* A reload reads every row once; give the pages and the
         * temporary allocations back to the system. */
        sqlite3_db_release_memory(repo->db);
        malloc_trim(0);
    }
    pthread_mutex_unlock(&repo->db_lock);
    if (changed != NULL)
        *changed = n;
    return rc;
}

/* Publishing */

struct chain_facts {
    char *pem;
    size_t len;
    char etag[65];
    time_t not_after;
    size_t certs;
    char *subject;
};

static int chain_facts(const void *data, size_t len, struct chain_facts *f,
                       struct sti_error *err)
{
    struct sti_chain *chain = NULL;
    const struct sti_cert *leaf;
    int rc;

    memset(f, 0, sizeof(*f));
    rc = sti_repo_check_chain(data, len, &chain, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_chain_to_pem(chain, &f->pem, err);
    if (rc != STI_OK)
        goto out;
    f->len = strlen(f->pem);
    leaf = sti_chain_get0(chain, 0);
    f->not_after = sti_cert_not_after(leaf);
    f->certs = sti_chain_count(chain);
    f->subject = sti_cert_subject(leaf);
    if (f->subject == NULL || repo_sha256_hex(f->pem, f->len, f->etag) != 0)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    /* 128 bits of the digest are plenty to tell versions apart. */
    f->etag[32] = '\0';
out:
    sti_chain_free(chain);
    return rc;
}

static void chain_facts_free(struct chain_facts *f)
{
    sti_free(f->pem);
    sti_free(f->subject);
}

/* Returns the stored modification time when NAME has ETAG, else 0; sets
 * *exists. */
static time_t stored_modified(struct sti_repo *repo, const char *name,
                              const char *etag, int *exists)
{
    sqlite3_stmt *st;
    time_t t = 0;

    *exists = 0;
    if (sqlite3_prepare_v2(repo->db,
                           "SELECT etag, modified FROM chains WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *exists = 1;
        if (strcmp((const char *)sqlite3_column_text(st, 0), etag) == 0)
            t = (time_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return t;
}

static int store_row(struct sti_repo *repo, const char *name,
                     const struct chain_facts *f, time_t modified,
                     struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(repo->db,
                           "INSERT OR REPLACE INTO chains(name, pem, etag, "
                           "modified, not_after, certs, subject) "
                           "VALUES(?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, repo->db, "cannot store the chain");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, f->pem, (int)f->len, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, f->etag, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)modified);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->not_after);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)f->certs);
    sqlite3_bind_text(st, 7, f->subject, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE
             ? STI_OK
             : sti_sqlite_err(err, repo->db, "cannot store the chain");
    sqlite3_finalize(st);
    return rc;
}

int sti_repo_publish(struct sti_repo *repo, const char *name, const void *pem,
                     size_t len, int *replaced, struct sti_error *err)
{
    struct chain_facts f;
    struct repo_entry *e;
    time_t modified;
    int exists, rc;

    if (!sti_repo_name_valid(name))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid chain name '%.200s'; use 1 to %d letters, "
                          "digits, '.', '_' or '-', starting with a letter "
                          "or digit",
                          name ? name : "", STI_REPO_NAME_MAX);
    rc = chain_facts(pem, len, &f, err);
    if (rc != STI_OK)
        goto out;
    pthread_mutex_lock(&repo->db_lock);
    /* Publishing the same chain again keeps its Last-Modified time, so
     * caches keep their copies. */
    modified = stored_modified(repo, name, f.etag, &exists);
    if (modified == 0)
        modified = time(NULL);
    rc = store_row(repo, name, &f, modified, err);
    if (rc == STI_OK) {
        e = entry_new(repo, name, f.pem, f.len, f.etag, modified, f.not_after);
        if (e != NULL)
            repo_entry_unref(table_swap(repo, name, e));
        else
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&repo->db_lock);
    if (replaced != NULL)
        *replaced = exists;
out:
    chain_facts_free(&f);
    return rc;
}

int sti_repo_remove(struct sti_repo *repo, const char *name,
                    struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!sti_repo_name_valid(name))
        return sti_seterr(err, STI_ERR_INVALID, "invalid chain name '%.200s'",
                          name ? name : "");
    pthread_mutex_lock(&repo->db_lock);
    rc = sqlite3_prepare_v2(repo->db, "DELETE FROM chains WHERE name = ?", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_DONE)
        rc = sti_sqlite_err(err, repo->db, "cannot remove the chain");
    else if (sqlite3_changes(repo->db) == 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "no chain named '%s'; 'sti-cr list' shows the names",
                        name);
    else
        rc = STI_OK;
    repo_entry_unref(table_swap(repo, name, NULL));
    pthread_mutex_unlock(&repo->db_lock);
    return rc;
}

int sti_repo_get(struct sti_repo *repo, const char *name, char **pem,
                 size_t *len, struct sti_error *err)
{
    struct repo_entry *e;

    *pem = NULL;
    *len = 0;
    e = name ? repo_lookup(repo, name, strlen(name)) : NULL;
    if (e == NULL)
        return sti_seterr(err, STI_ERR_NOTFOUND, "no chain named '%.200s'",
                          name ? name : "");
    *pem = malloc(e->size + 1);
    if (*pem == NULL) {
        repo_entry_unref(e);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    repo_entry_write_pem(e, *pem);
    (*pem)[e->size] = '\0';
    *len = e->size;
    repo_entry_unref(e);
    return STI_OK;
}

void sti_repo_set_serve(struct sti_repo *repo,
                        const struct sti_repo_serve_options *opts)
{
    repo->max_age = opts && opts->max_age ? opts->max_age : STI_REPO_MAX_AGE;
    repo->disable_api = opts ? opts->disable_api : 0;
    repo->flat_budget =
        opts && opts->flat_budget ? opts->flat_budget : STI_REPO_FLAT_BUDGET;
    snprintf(repo->cache_control, sizeof(repo->cache_control),
             "public, max-age=%lu", repo->max_age);
}
