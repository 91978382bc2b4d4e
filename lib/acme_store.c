/* SQLite state of the ACME server: nonces, accounts, orders, jti. */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * One order has one identifier (a TNAuthList), so one authorization with
 * one tkauth-01 challenge; their ids and states live in the order row.
 * Spent nonces are deleted, and jti rows stay until the token expires,
 * so a restart reopens neither.
 */
const char acme_schema[] =
    "CREATE TABLE IF NOT EXISTS acme_nonce("
    " value TEXT PRIMARY KEY, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS acme_nonce_created ON acme_nonce(created);"
    "CREATE TABLE IF NOT EXISTS acme_jti("
    " jti TEXT PRIMARY KEY, exp INTEGER NOT NULL, seen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_account("
    " id TEXT PRIMARY KEY, thumbprint TEXT NOT NULL UNIQUE,"
    " jwk TEXT NOT NULL, contact TEXT, status TEXT NOT NULL,"
    " eab_kid TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_order("
    " id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL REFERENCES acme_account(id),"
    " authz_id TEXT NOT NULL UNIQUE, chall_id TEXT NOT NULL UNIQUE,"
    " chall_token TEXT NOT NULL, status TEXT NOT NULL,"
    " authz_status TEXT NOT NULL, chall_status TEXT NOT NULL,"
    " identifier TEXT NOT NULL, tnauth BLOB NOT NULL,"
    " expires INTEGER NOT NULL, validated INTEGER NOT NULL DEFAULT 0,"
    " token_ca INTEGER NOT NULL DEFAULT 0,"
    " token_exp INTEGER NOT NULL DEFAULT 0,"
    " cert_id TEXT, x5u TEXT, error TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_cert("
    " id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES acme_order(id),"
    " account_id TEXT NOT NULL, serial TEXT NOT NULL UNIQUE,"
    " chain TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " reason INTEGER);"
    "CREATE TABLE IF NOT EXISTS acme_eab("
    " kid TEXT PRIMARY KEY, hmac_key BLOB NOT NULL, account_id TEXT);";

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);

    return text ? strdup((const char *)text) : NULL;
}

static void column_copy(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);

    snprintf(out, size, "%s", text ? (const char *)text : "");
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                   struct sti_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, db, "cannot prepare ACME query");
    return STI_OK;
}

/* Steps a statement that returns no rows and finalizes it. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what,
                     struct sti_error *err)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return sti_seterr(err, STI_ERR_EXISTS, "%s: already recorded", what);
    if (rc != SQLITE_DONE)
        return sti_sqlite_err(err, db, what);
    return STI_OK;
}

int acme_random_id(char out[ACME_ID_LEN])
{
    unsigned char raw[16];
    char *text;

    if (sti_random_bytes(raw, sizeof(raw)) != STI_OK)
        return STI_ERR_CRYPTO;
    text = sti_b64url_encode(raw, sizeof(raw));
    if (text == NULL)
        return STI_ERR_NOMEM;
    snprintf(out, ACME_ID_LEN, "%s", text);
    free(text);
    return STI_OK;
}

void acme_time_format(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Nonces (RFC 8555 section 6.5) */

/* Deletes nonces older than LIFETIME seconds. */
static int nonce_expire(sqlite3 *db, long lifetime, struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(db, "DELETE FROM acme_nonce WHERE created < ?", &st, err);

    if (rc != STI_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(time(NULL) - lifetime));
    return step_done(db, st, "cannot expire nonces", err);
}

int acme_nonce_new(sqlite3 *db, long lifetime, char out[ACME_ID_LEN],
                   struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (acme_random_id(out) != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO, "cannot draw a random nonce");
    /* Expiring here too keeps the table at issue rate times lifetime. */
    rc = nonce_expire(db, lifetime, err);
    if (rc == STI_OK)
        rc = prepare(db, "INSERT INTO acme_nonce(value, created) VALUES(?, ?)",
                     &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, out, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
    return step_done(db, st, "cannot store nonce", err);
}

int acme_nonce_consume(sqlite3 *db, const char *nonce, long lifetime,
                       struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc = nonce_expire(db, lifetime, err);

    if (rc != STI_OK)
        return rc;
    rc = prepare(db, "DELETE FROM acme_nonce WHERE value = ?", &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, nonce, -1, SQLITE_TRANSIENT);
    rc = step_done(db, st, "cannot spend nonce", err);
    if (rc != STI_OK)
        return rc;
    if (sqlite3_changes(db) != 1)
        return sti_seterr(err, STI_ERR_NOTFOUND,
                          "nonce '%.40s' is unknown, used or expired; take "
                          "the fresh one from the Replay-Nonce header",
                          nonce);
    return STI_OK;
}

/* Replay protection for SPC tokens: each jti is accepted once */

int acme_jti_record(sqlite3 *db, const char *jti, long exp,
                    struct sti_error *err)
{
    sqlite3_stmt *st;
    time_t now = time(NULL);
    int rc;

    rc = prepare(db, "DELETE FROM acme_jti WHERE exp < ?", &st, err);
    if (rc != STI_OK)
        return rc;
    /* A day of margin covers the skew allowance on exp. */
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - 86400));
    rc = step_done(db, st, "cannot expire jti records", err);
    if (rc != STI_OK)
        return rc;
    rc = prepare(db, "INSERT INTO acme_jti(jti, exp, seen) VALUES(?, ?, ?)",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, jti, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)exp);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    rc = step_done(db, st, "cannot record jti", err);
    if (rc == STI_ERR_EXISTS)
        return sti_seterr(err, STI_ERR_EXISTS,
                          "SPC token jti '%.80s' was already used; request a "
                          "new token from the STI-PA",
                          jti);
    return rc;
}

/* Accounts */

void acme_account_clear(struct acme_account *acct)
{
    free(acct->jwk);
    free(acct->contact);
    memset(acct, 0, sizeof(*acct));
}

static int account_find(sqlite3 *db, const char *sql, const char *value,
                        struct acme_account *out, struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = prepare(db, sql, &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        column_copy(st, 0, out->id, sizeof(out->id));
        out->jwk = column_dup(st, 1);
        out->contact = column_dup(st, 2);
        column_copy(st, 3, out->status, sizeof(out->status));
        rc = out->jwk ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "no account matches");
    } else {
        rc = sti_sqlite_err(err, db, "cannot read account");
    }
    sqlite3_finalize(st);
    return rc;
}

int acme_account_find_by_thumbprint(sqlite3 *db, const char *thumbprint,
                                    struct acme_account *out,
                                    struct sti_error *err)
{
    return account_find(db,
                        "SELECT id, jwk, contact, status FROM acme_account"
                        " WHERE thumbprint = ?",
                        thumbprint, out, err);
}

int acme_account_find(sqlite3 *db, const char *id, struct acme_account *out,
                      struct sti_error *err)
{
    return account_find(db,
                        "SELECT id, jwk, contact, status FROM acme_account"
                        " WHERE id = ?",
                        id, out, err);
}

int acme_account_insert(sqlite3 *db, const struct acme_account *acct,
                        const char *thumbprint, const char *eab_kid,
                        struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "INSERT INTO acme_account(id, thumbprint, jwk, contact,"
                 " status, eab_kid, created) VALUES(?, ?, ?, ?, ?, ?, ?)",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, acct->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, thumbprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, acct->jwk, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, acct->contact, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, acct->status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, eab_kid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
    return step_done(db, st, "cannot store account", err);
}

int acme_account_set_contact(sqlite3 *db, const char *id, const char *contact,
                             struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db, "UPDATE acme_account SET contact = ? WHERE id = ?", &st,
                 err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, contact, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot update account contact", err);
}

int acme_account_set_key(sqlite3 *db, const char *id, const char *jwk,
                         const char *thumbprint, struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "UPDATE acme_account SET jwk = ?, thumbprint = ?"
                 " WHERE id = ?",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, jwk, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, thumbprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot change account key", err);
}

int acme_account_set_status(sqlite3 *db, const char *id, const char *status,
                            struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db, "UPDATE acme_account SET status = ? WHERE id = ?", &st,
                 err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot update account", err);
}

/* Orders, with their authorization and challenge */

void acme_order_clear(struct acme_order *order)
{
    free(order->identifier);
    free(order->tnauth_der);
    free(order->x5u);
    free(order->error);
    memset(order, 0, sizeof(*order));
}

int acme_order_insert(sqlite3 *db, const struct acme_order *o,
                      struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "INSERT INTO acme_order(id, account_id, authz_id, chall_id,"
                 " chall_token, status, authz_status, chall_status,"
                 " identifier, tnauth, expires, created)"
                 " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, o->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, o->account_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, o->authz_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, o->chall_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, o->chall_token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, o->status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, o->authz_status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, o->chall_status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, o->identifier, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 10, o->tnauth_der, (int)o->tnauth_len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)o->expires);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)time(NULL));
    return step_done(db, st, "cannot store order", err);
}

static int order_read_row(sqlite3_stmt *st, struct acme_order *o,
                          struct sti_error *err)
{
    const void *blob = sqlite3_column_blob(st, 9);
    int blob_len = sqlite3_column_bytes(st, 9);

    column_copy(st, 0, o->id, sizeof(o->id));
    column_copy(st, 1, o->account_id, sizeof(o->account_id));
    column_copy(st, 2, o->authz_id, sizeof(o->authz_id));
    column_copy(st, 3, o->chall_id, sizeof(o->chall_id));
    column_copy(st, 4, o->chall_token, sizeof(o->chall_token));
    column_copy(st, 5, o->status, sizeof(o->status));
    column_copy(st, 6, o->authz_status, sizeof(o->authz_status));
    column_copy(st, 7, o->chall_status, sizeof(o->chall_status));
    o->identifier = column_dup(st, 8);
    o->tnauth_der = malloc(blob_len > 0 ? (size_t)blob_len : 1);
    if (o->identifier == NULL || o->tnauth_der == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (blob_len > 0)
        memcpy(o->tnauth_der, blob, (size_t)blob_len);
    o->tnauth_len = (size_t)blob_len;
    o->expires = (long)sqlite3_column_int64(st, 10);
    o->validated = (long)sqlite3_column_int64(st, 11);
    o->token_ca = sqlite3_column_int(st, 12);
    o->token_exp = (long)sqlite3_column_int64(st, 13);
    column_copy(st, 14, o->cert_id, sizeof(o->cert_id));
    o->x5u = column_dup(st, 15);
    o->error = column_dup(st, 16);
    return STI_OK;
}

int acme_order_find(sqlite3 *db, const char *by, const char *value,
                    struct acme_order *out, struct sti_error *err)
{
    char sql[512];
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    if (strcmp(by, "id") != 0 && strcmp(by, "authz_id") != 0 &&
        strcmp(by, "chall_id") != 0)
        return sti_seterr(err, STI_ERR_INTERNAL, "bad order column %s", by);
    snprintf(sql, sizeof(sql),
             "SELECT id, account_id, authz_id, chall_id, chall_token,"
             " status, authz_status, chall_status, identifier, tnauth,"
             " expires, validated, token_ca, token_exp, cert_id, x5u, error"
             " FROM acme_order WHERE %s = ?",
             by);
    rc = prepare(db, sql, &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = order_read_row(st, out, err);
    else if (rc == SQLITE_DONE)
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "no such order");
    else
        rc = sti_sqlite_err(err, db, "cannot read order");
    sqlite3_finalize(st);
    if (rc != STI_OK)
        acme_order_clear(out);
    return rc;
}

int acme_order_update(sqlite3 *db, const struct acme_order *o,
                      struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "UPDATE acme_order SET status = ?, authz_status = ?,"
                 " chall_status = ?, validated = ?, token_ca = ?,"
                 " token_exp = ?, cert_id = ?, x5u = ?, error = ?"
                 " WHERE id = ?",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, o->status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, o->authz_status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, o->chall_status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)o->validated);
    sqlite3_bind_int(st, 5, o->token_ca);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)o->token_exp);
    if (o->cert_id[0] != '\0')
        sqlite3_bind_text(st, 7, o->cert_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, o->x5u, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, o->error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 10, o->id, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot update order", err);
}

int acme_order_list(sqlite3 *db, const char *account_id, json_t *ids,
                    struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "SELECT id FROM acme_order WHERE account_id = ?"
                 " ORDER BY created, id",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(
            ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sti_sqlite_err(err, db, "cannot list orders");
    return STI_OK;
}

/* Certificates */

int acme_cert_insert(sqlite3 *db, const char *id, const char *order_id,
                     const char *account_id, const char *serial,
                     const char *chain_pem, struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "INSERT INTO acme_cert(id, order_id, account_id, serial,"
                 " chain) VALUES(?, ?, ?, ?, ?)",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, order_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, account_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, serial, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, chain_pem, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot store certificate", err);
}

int acme_cert_find(sqlite3 *db, const char *id, const char *serial,
                   char **account_id, char **chain_pem, int *revoked,
                   struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *account_id = NULL;
    *chain_pem = NULL;
    rc = prepare(db,
                 id ? "SELECT account_id, chain, revoked FROM acme_cert"
                      " WHERE id = ?"
                    : "SELECT account_id, chain, revoked FROM acme_cert"
                      " WHERE serial = ?",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, id ? id : serial, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *account_id = column_dup(st, 0);
        *chain_pem = column_dup(st, 1);
        *revoked = sqlite3_column_int(st, 2);
        rc = STI_OK;
    } else if (rc == SQLITE_DONE) {
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "no such certificate");
    } else {
        rc = sti_sqlite_err(err, db, "cannot read certificate");
    }
    sqlite3_finalize(st);
    return rc;
}

int acme_cert_set_revoked(sqlite3 *db, const char *serial, int reason,
                          struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db,
                 "UPDATE acme_cert SET revoked = 1, reason = ?"
                 " WHERE serial = ?",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_int(st, 1, reason);
    sqlite3_bind_text(st, 2, serial, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot revoke certificate", err);
}

/* External Account Binding keys */

int acme_eab_find(sqlite3 *db, const char *key_id, unsigned char **key,
                  size_t *key_len, char **used_by, struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *key = NULL;
    *used_by = NULL;
    rc = prepare(db, "SELECT hmac_key, account_id FROM acme_eab WHERE kid = ?",
                 &st, err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);

        *key = malloc(n > 0 ? (size_t)n : 1);
        if (*key != NULL && n > 0)
            memcpy(*key, sqlite3_column_blob(st, 0), (size_t)n);
        *key_len = (size_t)n;
        *used_by = column_dup(st, 1);
        rc = *key ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "external account key id '%.64s' is unknown", key_id);
    } else {
        rc = sti_sqlite_err(err, db, "cannot read EAB key");
    }
    sqlite3_finalize(st);
    return rc;
}

int acme_eab_bind(sqlite3 *db, const char *key_id, const char *account_id,
                  struct sti_error *err)
{
    sqlite3_stmt *st;
    int rc;

    rc = prepare(db, "UPDATE acme_eab SET account_id = ? WHERE kid = ?", &st,
                 err);
    if (rc != STI_OK)
        return rc;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key_id, -1, SQLITE_TRANSIENT);
    return step_done(db, st, "cannot bind EAB key", err);
}

int sti_acme_eab_add(const char *db_path, const char *key_id,
                     const unsigned char *hmac_key, size_t key_len,
                     struct sti_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int rc;

    if (key_id == NULL || key_id[0] == '\0' || strlen(key_id) > 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "EAB key id must be 1 to 64 characters");
    if (key_len < 16)
        return sti_seterr(err, STI_ERR_INVALID,
                          "EAB HMAC key has %zu bytes; use at least 16",
                          key_len);
    rc = sti_sqlite_open(db_path, acme_schema, &db, err);
    if (rc != STI_OK)
        return rc;
    rc = prepare(db, "INSERT INTO acme_eab(kid, hmac_key) VALUES(?, ?)", &st,
                 err);
    if (rc == STI_OK) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, hmac_key, (int)key_len, SQLITE_TRANSIENT);
        rc = step_done(db, st, "cannot store EAB key", err);
        if (rc == STI_ERR_EXISTS)
            sti_seterr(err, rc, "EAB key id '%s' exists; pick another", key_id);
    }
    sqlite3_close(db);
    return rc;
}
