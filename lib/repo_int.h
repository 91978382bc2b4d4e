/* Private declarations shared by lib/repo*.c. */
#ifndef STI_REPO_INT_H
#define STI_REPO_INT_H

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

/*
 * One certificate, interned so that chains sharing an intermediate keep
 * one copy of it.  data is the DER when is_der is set, else the PEM text.
 * refs, next and the intern table are guarded by sti_repo.blob_lock; the
 * data never changes.
 */
struct repo_blob {
    struct repo_blob *next;
    unsigned int refs;
    uint32_t hash;
    uint32_t len;     /* bytes in data */
    uint32_t pem_len; /* bytes of the PEM form */
    int is_der;
    unsigned char data[];
};

/*
 * One published chain.  Everything but next is immutable after creation,
 * so a reader holding a reference needs no lock.  next links the hash
 * bucket and changes only under the table's write lock.
 */
struct repo_entry {
    struct repo_entry *next;
    atomic_uint refs;
    uint32_t hash;
    time_t modified;
    time_t not_after;
    size_t size;
    unsigned int count;
    struct repo_blob *certs[STI_REPO_CHAIN_MAX];
    _Atomic(char *) flat;   /* the certificates back to back, or NULL */
    char etag[40];          /* quoted, as sent */
    char last_modified[32]; /* IMF-fixdate (RFC 9110 section 5.6.7) */
    struct sti_repo *repo;  /* for the blob lock on release */
    char name[];
};

struct sti_repo {
    sqlite3 *db;
    pthread_mutex_t db_lock; /* one SQLite transaction at a time */
    long long data_version;

    pthread_rwlock_t table_lock;
    struct repo_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;

    pthread_mutex_t blob_lock;
    struct repo_blob **blobs;
    size_t nblobs; /* buckets of the intern table */

    atomic_size_t flat_bytes; /* memory in entries' flat copies */
    size_t flat_budget;

    unsigned long max_age;
    int disable_api;
    char cache_control[48];
};

uint32_t repo_hash(const void *data, size_t len);

/* Finds NAME and returns a new reference, or NULL. */
struct repo_entry *repo_lookup(struct sti_repo *repo, const char *name,
                               size_t len);
void repo_entry_unref(struct repo_entry *entry);
/*
 * Returns the chain as ready PEM, made on first use while the flat
 * budget lasts, or NULL.  The copy saves encoding the DER again for each
 * response; the budget bounds the memory spent on copies.
 */
const char *repo_entry_flat(struct repo_entry *entry);
/* repo_entry_unref() with a void pointer, as a release callback. */
void repo_entry_release(void *entry);

/* Writes the chain's PEM, entry->size bytes, into OUT. */
void repo_entry_write_pem(const struct repo_entry *entry, char *out);

/* PEM encoding of certificates (lib/repo_pem.c). */
size_t repo_pem_len(size_t der_len);
void repo_pem_write(const unsigned char *der, size_t len, char *out);
unsigned char *repo_pem_to_der(const char *pem, size_t len, size_t *der_len);

/* SHA-256 of DATA in lowercase hex (65 bytes with the NUL). */
int repo_sha256_hex(const void *data, size_t len, char out[65]);

/* Formats T as an IMF-fixdate, or parses an HTTP-date in any of its three
 * forms (RFC 9110 section 5.6.7); -1 when invalid. */
void repo_http_date(time_t t, char out[32]);
time_t repo_parse_http_date(const char *text);

/* Formats T as an ISO 8601 UTC time, such as 2026-12-04T20:00:00Z. */
void repo_iso_time(time_t t, char out[32]);

/* Serializes {"KEY": ARR} into *JSON when RC is STI_OK; takes ARR over
 * and returns RC, or STI_ERR_NOMEM when serializing fails. */
int repo_json_list(int rc, const char *key, json_t *arr, char **json,
                   struct sti_error *err);

/*
 * Runs the query SQL under the store's lock and serializes its rows, each
 * made into an object by ROW_JSON, as {"KEY": [...]} into *JSON.  When the
 * query cannot be prepared, the error message starts with ERROR.
 */
int repo_query_list(struct sti_repo *repo, const char *sql,
                    json_t *(*row_json)(sqlite3_stmt *st), const char *key,
                    const char *error, char **json, struct sti_error *err);

/*
 * Runs the statement SQL with VALUE bound to its one parameter, under the
 * store's lock, and sets *DELETED to the number of rows it deleted.  When
 * the statement fails, the error message starts with ERROR.
 */
int repo_delete(struct sti_repo *repo, const char *sql, const char *value,
                const char *error, int *deleted, struct sti_error *err);

/*
 * Runs the query SQL, which selects a name, with VALUE bound to its one
 * parameter, under the store's lock.  Returns 1 and copies the name of
 * the first row into NAME_OUT (when not NULL), or returns 0 when no row
 * matches or the query fails.
 */
int repo_find_name(struct sti_repo *repo, const char *sql, const char *value,
                   char name_out[STI_REPO_NAME_MAX + 1]);

/* A column of a text table: its heading, the JSON member it shows and its
 * width.  The last column is not padded, so its width is not used. */
struct repo_column {
    const char *heading;
    const char *member;
    int width;
};

/*
 * When RC is STI_OK, formats the array KEY of JSON (a list that
 * repo_json_list() made) as a text table in *TEXT.  The table has a row of
 * headings, then one row per object, with two spaces between columns.
 * Taking the rows from the JSON keeps the text and JSON forms the same.
 * Frees JSON and returns RC, or STI_ERR_NOMEM when formatting fails.  The
 * caller frees *TEXT.
 */
int repo_text_table(int rc, char *json, const char *key,
                    const struct repo_column *columns, size_t count,
                    char **text, struct sti_error *err);

#endif
