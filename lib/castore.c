/* The STI-CA database: issued certificates and their revocation state. */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct sti_castore {
    sqlite3 *db;
};

/* Serials are unique per issuer (RFC 5280 section 4.1.2.2), which the
 * UNIQUE constraint enforces even when two processes issue at once. */
static const char castore_schema[] = "CREATE TABLE IF NOT EXISTS certificates ("
                                     " id INTEGER PRIMARY KEY,"
                                     " serial TEXT NOT NULL,"
                                     " issuer TEXT NOT NULL,"
                                     " subject TEXT NOT NULL,"
                                     " kind TEXT NOT NULL,"
                                     " tnauth TEXT,"
                                     " not_before INTEGER NOT NULL,"
                                     " not_after INTEGER NOT NULL,"
                                     " pem TEXT NOT NULL,"
                                     " revoked_at INTEGER,"
                                     " reason INTEGER,"
                                     " UNIQUE (issuer, serial));";

#define ISSUE_ATTEMPTS 8

int sti_castore_open(const char *path, struct sti_castore **out,
                     struct sti_error *err)
{
    struct sti_castore *store;
    int rc;

    *out = NULL;
    store = calloc(1, sizeof(*store));
    if (store == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_sqlite_open(path, castore_schema, &store->db, err);
    if (rc != STI_OK) {
        free(store);
        return rc;
    }
    *out = store;
    return STI_OK;
}

void sti_castore_close(struct sti_castore *store)
{
    if (store == NULL)
        return;
    sqlite3_close(store->db);
    free(store);
}

/*
 * Canonical serial text: uppercase hex without leading zero digits, so
 * that "00ab12" and "AB12" name the same certificate.  NULL when TEXT is
 * not hex.
 */
static char *serial_key(const char *text)
{
    char *key;
    size_t n;

    if (text == NULL)
        return NULL;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text += 2;
    while (*text == '0' && text[1] != '\0')
        text++;
    n = strlen(text);
    if (n == 0 || n > 128)
        return NULL;
    key = malloc(n + 1);
    if (key == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)text[i])) {
            free(key);
            return NULL;
        }
        key[i] = (char)toupper((unsigned char)text[i]);
    }
    key[n] = '\0';
    return key;
}

/* Even-length form of a canonical serial, as openssl x509 -serial prints. */
static char *serial_display(const char *key)
{
    size_t n = strlen(key);
    char *out = malloc(n + 2);

    if (out == NULL)
        return NULL;
    snprintf(out, n + 2, "%s%s", n % 2 ? "0" : "", key);
    return out;
}

struct cert_fields {
    char *serial;
    char *issuer;
    char *subject;
    char *tnauth;
    char *pem;
};

static void cert_fields_free(struct cert_fields *f)
{
    sti_free(f->serial);
    sti_free(f->issuer);
    sti_free(f->subject);
    sti_free(f->tnauth);
    sti_free(f->pem);
}

static int cert_fields_get(const struct sti_cert *cert, struct cert_fields *f,
                           struct sti_error *err)
{
    struct sti_tnauth *tn = NULL;
    char *raw;
    int rc;

    memset(f, 0, sizeof(*f));
    raw = sti_cert_serial_hex(cert);
    f->serial = raw ? serial_key(raw) : NULL;
    sti_free(raw);
    f->issuer = sti_cert_issuer(cert);
    f->subject = sti_cert_subject(cert);
    if (f->serial == NULL || f->issuer == NULL || f->subject == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "cannot read the serial, issuer or subject of the "
                          "certificate to record");
    rc = sti_cert_get_tnauth(cert, &tn, NULL);
    if (rc == STI_OK) {
        f->tnauth = sti_tnauth_to_spec(tn);
        sti_tnauth_free(tn);
    }
    return sti_cert_to_pem(cert, &f->pem, err);
}

int sti_castore_add(struct sti_castore *store, const struct sti_cert *cert,
                    int kind, struct sti_error *err)
{
    static const char sql[] =
        "INSERT INTO certificates (serial, issuer, subject, kind, tnauth,"
        " not_before, not_after, pem) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    struct cert_fields f;
    sqlite3_stmt *st = NULL;
    const char *kind_name = sti_cert_kind_name(kind);
    int rc;

    if (sti_cert_kind_from_name(kind_name) != kind)
        return sti_seterr(err, STI_ERR_INVALID, "unknown certificate kind %d",
                          kind);
    rc = cert_fields_get(cert, &f, err);
    if (rc != STI_OK)
        goto out;
    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, store->db, "cannot prepare insert");
        goto out;
    }
    sqlite3_bind_text(st, 1, f.serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f.issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f.subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, kind_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f.tnauth, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)sti_cert_not_before(cert));
    sqlite3_bind_int64(st, 7, (sqlite3_int64)sti_cert_not_after(cert));
    sqlite3_bind_text(st, 8, f.pem, -1, SQLITE_STATIC);
    switch (sqlite3_step(st)) {
    case SQLITE_DONE:
        rc = STI_OK;
        break;
    case SQLITE_CONSTRAINT:
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "issuer %s already has a certificate with serial %s",
                        f.issuer, f.serial);
        break;
    default:
        rc = sti_sqlite_err(err, store->db, "cannot record the certificate");
    }
out:
    sqlite3_finalize(st);
    cert_fields_free(&f);
    return rc;
}

int sti_castore_issue(struct sti_castore *store,
                      const struct sti_cert_request *req,
                      const struct sti_cert *issuer,
                      const struct sti_key *issuer_key, struct sti_cert **out,
                      struct sti_error *err)
{
    int rc = STI_ERR_INTERNAL;

    *out = NULL;
    for (int attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
        struct sti_cert *cert = NULL;

        rc = sti_cert_issue(req, issuer, issuer_key, &cert, err);
        if (rc != STI_OK)
            return rc;
        rc = sti_castore_add(store, cert, req->kind, err);
        if (rc == STI_OK) {
            *out = cert;
            return STI_OK;
        }
        sti_cert_free(cert);
        /* A repeated serial draws a new one; anything else is final. */
        if (rc != STI_ERR_EXISTS)
            return rc;
    }
    return rc;
}

int sti_castore_revoke(struct sti_castore *store, const char *serial_hex,
                       int reason, time_t at, struct sti_error *err)
{
    struct sti_castore_record *rec = NULL;
    sqlite3_stmt *st = NULL;
    char *key;
    int rc;

    if (sti_crl_reason_from_name(sti_crl_reason_name(reason)) != reason)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown revocation reason code %d", reason);
    rc = sti_castore_find(store, serial_hex, &rec, err);
    if (rc != STI_OK)
        return rc;
    /* Path validation takes a trust anchor as given and checks no CRL for
     * it (RFC 5280 section 6.1), so a CRL entry cannot revoke a root. */
    if (sti_cert_kind_from_name(rec->kind) == STI_CERT_CA_ROOT ||
        sti_cert_kind_from_name(rec->kind) == STI_CERT_PA_ROOT) {
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "certificate %s is the root, a trust anchor that no "
                        "CRL can revoke; remove it from the verifiers' trust "
                        "anchors and the PA's CA list instead",
                        rec->serial_hex);
        goto out;
    }
    if (rec->revoked) {
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "certificate %s is already revoked", rec->serial_hex);
        goto out;
    }
    key = serial_key(rec->serial_hex);
    if (key == NULL) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(store->db,
                           "UPDATE certificates SET revoked_at = ?, reason = ?"
                           " WHERE serial = ? AND issuer = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        free(key);
        rc = sti_sqlite_err(err, store->db, "cannot prepare update");
        goto out;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(at ? at : time(NULL)));
    sqlite3_bind_int(st, 2, reason);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, rec->issuer, -1, SQLITE_STATIC);
    free(key);
    rc = sqlite3_step(st) == SQLITE_DONE
             ? STI_OK
             : sti_sqlite_err(err, store->db, "cannot record the revocation");
out:
    sqlite3_finalize(st);
    sti_castore_records_free(rec, 1);
    return rc;
}

/* Reading */

#define RECORD_COLUMNS                                                         \
    "serial, issuer, subject, kind, tnauth, not_before, not_after, pem,"       \
    " revoked_at, reason"

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);

    return text ? strdup((const char *)text) : NULL;
}

static int record_read(sqlite3_stmt *st, struct sti_castore_record *rec)
{
    char *key = column_dup(st, 0);

    memset(rec, 0, sizeof(*rec));
    rec->serial_hex = key ? serial_display(key) : NULL;
    free(key);
    rec->issuer = column_dup(st, 1);
    rec->subject = column_dup(st, 2);
    rec->kind = column_dup(st, 3);
    rec->tnauth = column_dup(st, 4);
    rec->not_before = (time_t)sqlite3_column_int64(st, 5);
    rec->not_after = (time_t)sqlite3_column_int64(st, 6);
    rec->pem = column_dup(st, 7);
    rec->revoked = sqlite3_column_type(st, 8) != SQLITE_NULL;
    rec->revoked_at = rec->revoked ? (time_t)sqlite3_column_int64(st, 8) : 0;
    rec->reason = rec->revoked ? sqlite3_column_int(st, 9) : -1;
    if (rec->serial_hex == NULL || rec->issuer == NULL ||
        rec->subject == NULL || rec->kind == NULL || rec->pem == NULL)
        return STI_ERR_NOMEM;
    return STI_OK;
}

/* Runs ST and collects every row it returns. */
static int records_collect(sqlite3 *db, sqlite3_stmt *st,
                           struct sti_castore_record **records, size_t *count,
                           struct sti_error *err)
{
    struct sti_castore_record *list = NULL;
    size_t n = 0;
    int step;

    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sti_castore_record *bigger =
            realloc(list, (n + 1) * sizeof(*list));

        if (bigger == NULL)
            goto nomem;
        list = bigger;
        n++;
        if (record_read(st, &list[n - 1]) != STI_OK)
            goto nomem;
    }
    if (step != SQLITE_DONE) {
        sti_castore_records_free(list, n);
        return sti_sqlite_err(err, db, "cannot read certificates");
    }
    *records = list;
    *count = n;
    return STI_OK;
nomem:
    sti_castore_records_free(list, n);
    return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

int sti_castore_list(struct sti_castore *store,
                     struct sti_castore_record **records, size_t *count,
                     struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *records = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(store->db,
                           "SELECT " RECORD_COLUMNS
                           " FROM certificates ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, store->db, "cannot prepare query");
    rc = records_collect(store->db, st, records, count, err);
    sqlite3_finalize(st);
    return rc;
}

int sti_castore_find(struct sti_castore *store, const char *serial_hex,
                     struct sti_castore_record **record, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    struct sti_castore_record *list = NULL;
    size_t n = 0;
    char *key = serial_key(serial_hex);
    int rc;

    *record = NULL;
    if (key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid serial '%s'; give the serial in hex, as "
                          "'sti-ca list' prints it",
                          serial_hex ? serial_hex : "(null)");
    if (sqlite3_prepare_v2(store->db,
                           "SELECT " RECORD_COLUMNS
                           " FROM certificates WHERE serial = ? ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        free(key);
        return sti_sqlite_err(err, store->db, "cannot prepare query");
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    rc = records_collect(store->db, st, &list, &n, err);
    sqlite3_finalize(st);
    if (rc == STI_OK && n == 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "no certificate with serial %s; 'sti-ca list' shows "
                        "the serials",
                        serial_hex);
    else if (rc == STI_OK && n > 1)
        /* NOTE: only possible when two issuers drew the same serial. */
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "serial %s belongs to %zu certificates of different "
                        "issuers",
                        key, n);
    free(key);
    if (rc != STI_OK) {
        sti_castore_records_free(list, n);
        return rc;
    }
    *record = list;
    return STI_OK;
}

void sti_castore_records_free(struct sti_castore_record *records, size_t count)
{
    if (records == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(records[i].serial_hex);
        free(records[i].issuer);
        free(records[i].subject);
        free(records[i].kind);
        free(records[i].tnauth);
        free(records[i].pem);
    }
    free(records);
}

/* JSON */

static json_t *json_time(time_t t)
{
    char buf[32];
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return json_null();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *record_to_json(const struct sti_castore_record *rec,
                              int with_pem)
{
    json_t *obj = json_object();
    const char *reason = rec->revoked ? sti_crl_reason_name(rec->reason) : NULL;

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "serial", json_string(rec->serial_hex));
    json_object_set_new(obj, "issuer", json_string(rec->issuer));
    json_object_set_new(obj, "subject", json_string(rec->subject));
    json_object_set_new(obj, "kind", json_string(rec->kind));
    json_object_set_new(obj, "tnauth", json_str_or_null(rec->tnauth));
    json_object_set_new(obj, "not_before", json_time(rec->not_before));
    json_object_set_new(obj, "not_after", json_time(rec->not_after));
    json_object_set_new(obj, "revoked", json_boolean(rec->revoked));
    json_object_set_new(obj, "revoked_at",
                        rec->revoked ? json_time(rec->revoked_at)
                                     : json_null());
    json_object_set_new(obj, "reason", json_str_or_null(reason));
    if (with_pem)
        json_object_set_new(obj, "pem", json_string(rec->pem));
    return obj;
}

int sti_castore_records_to_json(const struct sti_castore_record *records,
                                size_t count, int with_pem, char **json,
                                struct sti_error *err)
{
    json_t *array = json_array();

    *json = NULL;
    if (array == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *obj = record_to_json(&records[i], with_pem);

        if (obj == NULL || json_array_append_new(array, obj) != 0) {
            json_decref(array);
            return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        }
    }
    *json = json_dumps(array, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(array);
    return *json ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}
