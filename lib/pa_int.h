/* Private to the PA modules (lib/pa*.c): the PA handle and shared helpers. */
#ifndef STI_PA_INT_H
#define STI_PA_INT_H

#include "internal.h"

#include <pthread.h>

#define PA_THROTTLE_SLOTS 256

/* One failed-login counter, keyed by "u:NAME" or "ip:ADDRESS". */
struct pa_throttle {
    char key[96];
    int failures;
    time_t last;
};

struct sti_pa {
    /* Serialises every store operation: the server calls in from several
     * worker threads and some operations span several statements. */
    pthread_mutex_t lock;
    sqlite3 *db;
    char *dir;
    struct sti_key *key;
    struct sti_cert *cert;
    char *cert_pem;
    char *base_url;
    char *cert_url;
    char *crl_url;
    int crl_url_fixed;
    long token_lifetime;
    long access_lifetime;
    long crl_lifetime;
    long calist_lifetime;
    long login_max_failures;
    long login_lockout;
    struct pa_throttle throttle[PA_THROTTLE_SLOTS];
};

/* Store helpers (lib/pa_store.c); the caller holds pa->lock. */
int pa_meta_get_int(struct sti_pa *pa, const char *name, int64_t *value,
                    struct sti_error *err);
int pa_meta_set_int(struct sti_pa *pa, const char *name, int64_t value,
                    struct sti_error *err);
/* Looks up a provider: its row id, enabled and delegation flags. */
int pa_provider_find(struct sti_pa *pa, const char *spc, int64_t *id,
                     int *enabled, int *delegation, struct sti_error *err);

/* Users and access tokens (lib/pa_users.c). */
struct pa_user {
    int64_t id;
    int admin;
    char name[128];
    char spc[STI_TN_VALUE_MAX + 1]; /* empty for administrators */
};

/* Checks NAME and PASSWORD; STI_ERR_AUTH for an unknown user or a wrong
 * password alike, after the same hashing work. */
int pa_user_login(struct sti_pa *pa, const char *name, const char *password,
                  struct pa_user *user, struct sti_error *err);
/* Creates an access token for USER; *TOKEN is freed with sti_free(). */
int pa_access_token_create(struct sti_pa *pa, const struct pa_user *user,
                           char **token, time_t *expires,
                           struct sti_error *err);
/* Resolves a bearer token: STI_ERR_AUTH when unknown or expired. */
int pa_access_token_check(struct sti_pa *pa, const char *token,
                          struct pa_user *user, struct sti_error *err);

/* Failed-login throttling (lib/pa_users.c).  pa_throttle_check() returns
 * the seconds left in a lockout of KEY, 0 when none. */
long pa_throttle_check(struct sti_pa *pa, const char *key, long limit);
void pa_throttle_fail(struct sti_pa *pa, const char *key);
void pa_throttle_reset(struct sti_pa *pa, const char *key);

/* Password hashes: "$scrypt$ln=14,r=8,p=1$SALT$HASH" in base64. */
int pa_password_hash(const char *password, char **out, struct sti_error *err);
/* Returns 1 when PASSWORD matches HASH, 0 when not (compared in constant
 * time). */
int pa_password_verify(const char *password, const char *hash);

/* Longest provider or user name, in bytes (UTF-8). */
#define PA_NAME_MAX 127

/* Checks a provider or user NAME: 1 to PA_NAME_MAX bytes of valid UTF-8
 * with no control characters.  KIND ("provider", "user") names it in the
 * error. */
int pa_name_check(const char *kind, const char *name, struct sti_error *err);
/* Copies NAME with each invalid UTF-8 byte and control character replaced
 * by '?', so rows stored before names were checked still print and
 * encode as JSON.  Returns NULL when out of memory. */
char *pa_name_sanitize(const char *name);

/* Normalises a serial: hex digits only (colons dropped), uppercase, no
 * leading zeros.  Returns NULL when TEXT is not hex. */
char *pa_serial_normalize(const char *text);

/* SHA-256 of DATA as lowercase hex. */
void pa_sha256_hex(const void *data, size_t len, char out[65]);

#endif
