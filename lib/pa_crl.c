/* Revocations and the PA's indirect CRL (RFC 5280 sections 5.2.5, 5.3.3). */
#include "pa_int.h"

#include <stdlib.h>
#include <string.h>

/* Revocation rows loaded for one CRL build; strings owned here. */
struct revoked_set {
    struct sti_crl_entry *entries;
    size_t count;
};

static void revoked_free(struct revoked_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free((char *)set->entries[i].serial_hex);
        free((char *)set->entries[i].issuer_dn);
    }
    free(set->entries);
    set->entries = NULL;
    set->count = 0;
}

static int revoked_push(struct revoked_set *set, sqlite3_stmt *st)
{
    struct sti_crl_entry *e;
    struct sti_crl_entry *bigger =
        realloc(set->entries, (set->count + 1) * sizeof(*bigger));

    if (bigger == NULL)
        return STI_ERR_NOMEM;
    set->entries = bigger;
    e = &set->entries[set->count];
    memset(e, 0, sizeof(*e));
    e->issuer_dn = sti_strdup((const char *)sqlite3_column_text(st, 0));
    e->serial_hex = sti_strdup((const char *)sqlite3_column_text(st, 1));
    e->reason = sqlite3_column_int(st, 2);
    e->revoked_at = (time_t)sqlite3_column_int64(st, 3);
    set->count++;
    return e->issuer_dn && e->serial_hex ? STI_OK : STI_ERR_NOMEM;
}

static int revoked_load(struct sti_pa *pa, struct revoked_set *set,
                        struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, step;

    if (sqlite3_prepare_v2(pa->db,
                           "SELECT issuer, serial, reason, revoked_at "
                           "FROM revocations ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot read revocations");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = revoked_push(set, st);
        if (rc != STI_OK) {
            sti_seterr(err, rc, "out of memory");
            break;
        }
    }
    if (rc == STI_OK && step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot read revocations");
    sqlite3_finalize(st);
    return rc;
}

static int store_crl(struct sti_pa *pa, const struct sti_crl *crl,
                     uint64_t number, struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    sqlite3_stmt *st = NULL;
    int rc = sti_crl_to_der(crl, &der, &len, err);

    if (rc != STI_OK)
        return rc;
    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO crls(number, der, this_update, "
                           "next_update) VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        free(der);
        return sti_sqlite_err(err, pa->db, "cannot store the CRL");
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)number);
    sqlite3_bind_blob(st, 2, der, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)sti_crl_this_update(crl));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)sti_crl_next_update(crl));
    rc = sqlite3_step(st) == SQLITE_DONE
             ? STI_OK
             : sti_sqlite_err(err, pa->db, "cannot store the CRL");
    sqlite3_finalize(st);
    free(der);
    /* Older CRLs serve no one; keep a few for inspection. */
    if (rc == STI_OK)
        sqlite3_exec(pa->db,
                     "DELETE FROM crls WHERE number < "
                     "(SELECT max(number) - 16 FROM crls)",
                     NULL, NULL, NULL);
    return rc;
}

/* Builds and stores the next CRL; the caller holds the lock and runs
 * inside a transaction. */
static int regenerate_locked(struct sti_pa *pa, struct sti_error *err)
{
    struct revoked_set set = {NULL, 0};
    struct sti_crl_request req;
    struct sti_crl *crl = NULL;
    int64_t number = 0;
    time_t now = time(NULL);
    int rc = pa_meta_get_int(pa, "crl_number", &number, err);

    if (rc == STI_OK)
        rc = revoked_load(pa, &set, err);
    if (rc != STI_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.entries = set.entries;
    req.count = set.count;
    req.crl_number = (uint64_t)number + 1;
    req.this_update = now;
    req.next_update = now + pa->crl_lifetime;
    req.indirect = 1;
    rc = sti_crl_build(&req, pa->cert, pa->key, &crl, err);
    if (rc == STI_OK)
        rc = store_crl(pa, crl, req.crl_number, err);
    if (rc == STI_OK)
        rc = pa_meta_set_int(pa, "crl_number", number + 1, err);
out:
    sti_crl_free(crl);
    revoked_free(&set);
    return rc;
}

static int in_transaction(struct sti_pa *pa,
                          int (*body)(struct sti_pa *, void *,
                                      struct sti_error *),
                          void *arg, struct sti_error *err)
{
    int rc;

    pthread_mutex_lock(&pa->lock);
    /* IMMEDIATE takes the write lock at once, so two processes (a
     * server and the CLI) cannot both pick the same CRL number. */
    rc = sti_sqlite_exec(pa->db, "BEGIN IMMEDIATE", err);
    if (rc == STI_OK) {
        rc = body(pa, arg, err);
        if (rc == STI_OK)
            rc = sti_sqlite_exec(pa->db, "COMMIT", err);
        if (rc != STI_OK)
            sqlite3_exec(pa->db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&pa->lock);
    return rc;
}

static int regenerate_body(struct sti_pa *pa, void *arg, struct sti_error *err)
{
    (void)arg;
    return regenerate_locked(pa, err);
}

int sti_pa_crl_regenerate(struct sti_pa *pa, struct sti_error *err)
{
    return in_transaction(pa, regenerate_body, NULL, err);
}

struct revocation {
    const char *issuer;
    const char *serial;
    int reason;
};

static int revoke_body(struct sti_pa *pa, void *arg, struct sti_error *err)
{
    const struct revocation *r = arg;
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, step;

    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO revocations(issuer, serial, reason, "
                           "revoked_at) VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot record a revocation");
    sqlite3_bind_text(st, 1, r->issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->serial, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->reason);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_CONSTRAINT)
        return sti_seterr(err, STI_ERR_EXISTS,
                          "serial %s of issuer '%s' is already revoked",
                          r->serial, r->issuer);
    if (step != SQLITE_DONE)
        return sti_sqlite_err(err, pa->db, "cannot record a revocation");
    if (rc == STI_OK)
        rc = regenerate_locked(pa, err);
    return rc;
}

int sti_pa_revoke(struct sti_pa *pa, const char *issuer_dn,
                  const char *serial_hex, int reason, struct sti_error *err)
{
    struct revocation r;
    char *serial;
    int rc;

    if (issuer_dn == NULL || strchr(issuer_dn, '=') == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid issuer DN '%s'; use the RFC 2253 form, "
                          "e.g. CN=SHAKEN CA,O=Example,C=US",
                          issuer_dn ? issuer_dn : "");
    /* RFC 5280 section 5.3.1: 7 is unused and removeFromCRL (8) belongs
     * to delta CRLs only. */
    if (reason < 0 || reason == 7 || reason == 8 || reason > 10)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid revocation reason %d (%s); use "
                          "unspecified, keyCompromise, cACompromise, "
                          "affiliationChanged, superseded, "
                          "cessationOfOperation, certificateHold, "
                          "privilegeWithdrawn or aACompromise",
                          reason,
                          reason == 8 ? "removeFromCRL, which only delta "
                                        "CRLs use"
                                      : "unassigned");
    serial = pa_serial_normalize(serial_hex);
    /* RFC 5280 section 4.1.2.2: a serial number is a positive integer. */
    if (serial == NULL || strcmp(serial, "0") == 0) {
        free(serial);
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid serial '%.80s'; use the certificate's "
                          "serial number in hexadecimal (optionally with "
                          "colons), which is never zero",
                          serial_hex ? serial_hex : "");
    }
    r.issuer = issuer_dn;
    r.serial = serial;
    r.reason = reason;
    rc = in_transaction(pa, revoke_body, &r, err);
    free(serial);
    return rc;
}

int sti_pa_revoke_cert(struct sti_pa *pa, const struct sti_cert *cert,
                       int reason, struct sti_error *err)
{
    char *issuer = sti_cert_issuer(cert);
    char *serial = sti_cert_serial_hex(cert);
    int rc;

    if (issuer == NULL || serial == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else
        rc = sti_pa_revoke(pa, issuer, serial, reason, err);
    free(issuer);
    free(serial);
    return rc;
}

/* Loads the newest stored CRL; STI_ERR_NOTFOUND when there is none. */
static int load_latest(struct sti_pa *pa, struct sti_crl **out,
                       struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, step;

    if (sqlite3_prepare_v2(pa->db,
                           "SELECT der FROM crls ORDER BY number DESC "
                           "LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot read the CRL");
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = sti_crl_parse(sqlite3_column_blob(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0), out, err);
    else if (step == SQLITE_DONE)
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "no CRL has been built yet");
    else
        rc = sti_sqlite_err(err, pa->db, "cannot read the CRL");
    sqlite3_finalize(st);
    return rc;
}

static int stale(const struct sti_crl *crl, long lifetime)
{
    /* Refresh once three quarters of the lifetime have passed, so that a
     * downloaded CRL stays valid for at least a quarter of it. */
    return sti_crl_next_update(crl) - time(NULL) < lifetime / 4;
}

int sti_pa_crl_get(struct sti_pa *pa, struct sti_crl **out,
                   struct sti_error *err)
{
    int rc;

    *out = NULL;
    pthread_mutex_lock(&pa->lock);
    rc = load_latest(pa, out, err);
    if (rc == STI_ERR_NOTFOUND ||
        (rc == STI_OK && stale(*out, pa->crl_lifetime))) {
        sti_crl_free(*out);
        *out = NULL;
        rc = sti_pa_crl_regenerate(pa, err);
        if (rc == STI_OK)
            rc = load_latest(pa, out, err);
    }
    pthread_mutex_unlock(&pa->lock);
    return rc;
}
