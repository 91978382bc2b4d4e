/* API users: scrypt password hashes, access tokens and login throttling. */
#include "pa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* scrypt cost N = 2^14, r = 8, p = 1 needs 16 MiB (128 * r * N bytes)
 * and took under 80 ms per hash with `openssl kdf ... SCRYPT` on a
 * 2-core Xeon virtual machine. */
#define PW_LOG_N 14
#define PW_R 8
#define PW_P 1
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
#define PW_MIN_LEN 8
#define ACCESS_TOKEN_BYTES 32

static int scrypt_raw(const char *password, const unsigned char *salt,
                      size_t salt_len, int log_n, unsigned long r,
                      unsigned long p, unsigned char out[PW_HASH_LEN])
{
    uint64_t n = (uint64_t)1 << log_n;

    /* maxmem 64 MiB leaves room above the 16 MiB that the cost needs. */
    return EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r, p,
                          64 * 1024 * 1024, out, PW_HASH_LEN) == 1
               ? STI_OK
               : STI_ERR_CRYPTO;
}

int pa_password_hash(const char *password, char **out, struct sti_error *err)
{
    unsigned char salt[PW_SALT_LEN], hash[PW_HASH_LEN];
    char *salt64 = NULL, *hash64 = NULL;
    size_t n;

    *out = NULL;
    if (sti_random_bytes(salt, sizeof(salt)) != STI_OK ||
        scrypt_raw(password, salt, sizeof(salt), PW_LOG_N, PW_R, PW_P, hash) !=
            STI_OK)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot hash a password");
    salt64 = sti_b64_encode(salt, sizeof(salt));
    hash64 = sti_b64_encode(hash, sizeof(hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    if (salt64 != NULL && hash64 != NULL) {
        n = strlen(salt64) + strlen(hash64) + 48;
        *out = malloc(n);
        if (*out != NULL)
            snprintf(*out, n, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", PW_LOG_N, PW_R,
                     PW_P, salt64, hash64);
    }
    free(salt64);
    free(hash64);
    return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

int pa_password_verify(const char *password, const char *stored)
{
    int log_n, r, p, consumed = 0, same;
    char salt64[64], hash64[64];
    unsigned char *salt = NULL, *want = NULL, got[PW_HASH_LEN];
    size_t salt_len = 0, want_len = 0;

    if (stored == NULL ||
        sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%63[^$]$%63s%n", &log_n, &r, &p,
               salt64, hash64, &consumed) != 5 ||
        stored[consumed] != '\0' || log_n < 10 || log_n > 20 || r < 1 ||
        r > 32 || p < 1 || p > 4)
        return 0;
    if (sti_b64_decode(salt64, strlen(salt64), &salt, &salt_len) != STI_OK ||
        sti_b64_decode(hash64, strlen(hash64), &want, &want_len) != STI_OK ||
        want_len != PW_HASH_LEN ||
        scrypt_raw(password, salt, salt_len, log_n, (unsigned long)r,
                   (unsigned long)p, got) != STI_OK) {
        free(salt);
        free(want);
        return 0;
    }
    same = CRYPTO_memcmp(got, want, PW_HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    free(salt);
    free(want);
    return same;
}

static int check_user_input(const char *name, const char *spc, int admin,
                            const char *password, struct sti_error *err)
{
    int rc = pa_name_check("user", name, err);

    if (rc != STI_OK)
        return rc;
    if (strpbrk(name, " \t\r\n:") != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid user name '%s'; spaces and ':' are not "
                          "allowed",
                          name);
    if (admin && spc != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "an administrator belongs to no provider");
    if (!admin && spc == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "user %s needs the SPC of its provider", name);
    if (password == NULL || strlen(password) < PW_MIN_LEN)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the password of user %s is shorter than %d "
                          "characters",
                          name, PW_MIN_LEN);
    return STI_OK;
}

static int insert_user(struct sti_pa *pa, const char *name, int64_t provider,
                       int admin, const char *hash, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, step;

    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO users(name, provider_id, admin, "
                           "pwhash, created) VALUES(?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot add a user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (admin)
        sqlite3_bind_null(st, 2);
    else
        sqlite3_bind_int64(st, 2, provider);
    sqlite3_bind_int(st, 3, admin != 0);
    sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    step = sqlite3_step(st);
    if (step == SQLITE_CONSTRAINT)
        rc = sti_seterr(err, STI_ERR_EXISTS, "user %s already exists", name);
    else if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot add a user");
    sqlite3_finalize(st);
    return rc;
}

int sti_pa_user_add(struct sti_pa *pa, const char *name, const char *spc,
                    int admin, const char *password, struct sti_error *err)
{
    int64_t provider = 0;
    int enabled, delegation;
    char *hash = NULL;
    int rc = check_user_input(name, spc, admin, password, err);

    if (rc != STI_OK)
        return rc;
    rc = pa_password_hash(password, &hash, err);
    if (rc != STI_OK)
        return rc;
    pthread_mutex_lock(&pa->lock);
    if (!admin)
        rc = pa_provider_find(pa, spc, &provider, &enabled, &delegation, err);
    if (rc == STI_OK)
        rc = insert_user(pa, name, provider, admin, hash, err);
    pthread_mutex_unlock(&pa->lock);
    free(hash);
    return rc;
}

/* Fills USER from a row of (id, name, admin, spc). */
static void user_row(sqlite3_stmt *st, struct pa_user *user)
{
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *spc = (const char *)sqlite3_column_text(st, 3);

    memset(user, 0, sizeof(*user));
    user->id = sqlite3_column_int64(st, 0);
    snprintf(user->name, sizeof(user->name), "%s", name ? name : "");
    user->admin = sqlite3_column_int(st, 2);
    snprintf(user->spc, sizeof(user->spc), "%s", spc ? spc : "");
}

static char *dummy;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    unsigned char pw[16];
    char *text;

    if (sti_random_bytes(pw, sizeof(pw)) != STI_OK)
        return;
    text = sti_b64url_encode(pw, sizeof(pw));
    if (text != NULL && pa_password_hash(text, &dummy, NULL) != STI_OK)
        dummy = NULL;
    free(text);
}

/* A valid hash of a random password, verified for unknown users so that
 * they cost the same time as known ones. */
static const char *dummy_hash(void)
{
    pthread_once(&dummy_once, make_dummy);
    return dummy;
}

int pa_user_login(struct sti_pa *pa, const char *name, const char *password,
                  struct pa_user *user, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    char *hash = NULL;
    int found = 0, ok;

    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db,
                           "SELECT u.id, u.name, u.admin, p.spc, u.pwhash "
                           "FROM users u LEFT JOIN providers p "
                           "ON p.id = u.provider_id WHERE u.name = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&pa->lock);
        return sti_sqlite_err(err, pa->db, "cannot look up a user");
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        user_row(st, user);
        hash = sti_strdup((const char *)sqlite3_column_text(st, 4));
        found = 1;
    } else {
        hash = sti_strdup(dummy_hash());
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    /* The slow hash runs outside the lock so that logins do not queue. */
    ok = pa_password_verify(password, hash) && found;
    free(hash);
    if (!ok)
        return sti_seterr(err, STI_ERR_AUTH, "invalid user name or password");
    return STI_OK;
}

int pa_access_token_create(struct sti_pa *pa, const struct pa_user *user,
                           char **token, time_t *expires, struct sti_error *err)
{
    unsigned char raw[ACCESS_TOKEN_BYTES];
    char digest[65];
    sqlite3_stmt *st = NULL;
    time_t now = time(NULL);
    int rc = STI_OK;

    *token = NULL;
    if (sti_random_bytes(raw, sizeof(raw)) != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO, "no random bytes");
    *token = sti_b64url_encode(raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    if (*token == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    /* Only a digest is stored, so a copy of the database grants no
     * access. */
    pa_sha256_hex(*token, strlen(*token), digest);
    *expires = now + pa->access_lifetime;
    pthread_mutex_lock(&pa->lock);
    sqlite3_exec(pa->db,
                 "DELETE FROM access_tokens WHERE expires < "
                 "strftime('%s','now') - 86400",
                 NULL, NULL, NULL);
    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO access_tokens(hash, user_id, expires) "
                           "VALUES(?, ?, ?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, user->id);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)*expires);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sti_sqlite_err(err, pa->db, "cannot store an access token");
    } else {
        rc = sti_sqlite_err(err, pa->db, "cannot store an access token");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    if (rc != STI_OK) {
        sti_clear_free(*token, strlen(*token));
        *token = NULL;
    }
    return rc;
}

int pa_access_token_check(struct sti_pa *pa, const char *token,
                          struct pa_user *user, struct sti_error *err)
{
    char digest[65];
    sqlite3_stmt *st = NULL;
    int rc, step;
    time_t expires = 0;

    pa_sha256_hex(token, strlen(token), digest);
    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db,
                           "SELECT u.id, u.name, u.admin, p.spc, a.expires "
                           "FROM access_tokens a JOIN users u "
                           "ON u.id = a.user_id LEFT JOIN providers p "
                           "ON p.id = u.provider_id WHERE a.hash = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&pa->lock);
        return sti_sqlite_err(err, pa->db, "cannot look up a token");
    }
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        user_row(st, user);
        expires = (time_t)sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    if (step == SQLITE_ROW && expires > time(NULL))
        rc = STI_OK;
    else if (step == SQLITE_ROW)
        rc = sti_seterr(err, STI_ERR_AUTH,
                        "the access token has expired; log in again");
    else if (step == SQLITE_DONE)
        rc = sti_seterr(err, STI_ERR_AUTH,
                        "unknown access token; log in at /api/v1/auth/login");
    else
        rc = sti_sqlite_err(err, pa->db, "cannot look up a token");
    return rc;
}

/* Throttling */

static struct pa_throttle *throttle_slot(struct sti_pa *pa, const char *key,
                                         int create)
{
    struct pa_throttle *oldest = &pa->throttle[0];

    for (size_t i = 0; i < PA_THROTTLE_SLOTS; i++) {
        struct pa_throttle *t = &pa->throttle[i];

        if (strcmp(t->key, key) == 0)
            return t;
        if (t->last < oldest->last)
            oldest = t;
    }
    if (!create)
        return NULL;
    /* The table is bounded, so the least recently failed key gives way. */
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->key, sizeof(oldest->key), "%s", key);
    return oldest;
}

long pa_throttle_check(struct sti_pa *pa, const char *key, long limit)
{
    struct pa_throttle *t;
    long left = 0;
    time_t now = time(NULL);

    pthread_mutex_lock(&pa->lock);
    t = throttle_slot(pa, key, 0);
    if (t != NULL && t->failures >= limit) {
        left = (long)(t->last + pa->login_lockout - now);
        if (left <= 0) {
            /* The lockout is over, so one more try is allowed before the
             * next lockout. */
            t->failures = (int)limit - 1;
            left = 0;
        }
    }
    pthread_mutex_unlock(&pa->lock);
    return left;
}

void pa_throttle_fail(struct sti_pa *pa, const char *key)
{
    struct pa_throttle *t;

    pthread_mutex_lock(&pa->lock);
    t = throttle_slot(pa, key, 1);
    t->failures++;
    t->last = time(NULL);
    pthread_mutex_unlock(&pa->lock);
}

void pa_throttle_reset(struct sti_pa *pa, const char *key)
{
    struct pa_throttle *t;

    pthread_mutex_lock(&pa->lock);
    t = throttle_slot(pa, key, 0);
    if (t != NULL)
        memset(t, 0, sizeof(*t));
    pthread_mutex_unlock(&pa->lock);
}
