/*
 * x5u certificate chains: the URL policy, the fetch and a cache kept in
 * memory and optionally in SQLite.  Private to libsti and its tests.
 */
#ifndef STI_X5U_INT_H
#define STI_X5U_INT_H

#include "internal.h"

#include <pthread.h>

struct sti_x5u_policy {
    int allow_http;
    int allow_any_port;
    const char *ca_file;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_bytes;
    long min_cache_s;
    long failure_cache_s;
};

/* One cached URL: a chain with its leaf's facts, or a failed fetch. */
struct sti_x5u_entry {
    char *url;
    int refs; /* guarded by the cache mutex */
    time_t expires;
    int failed;     /* the fetch or the chain was unusable */
    int error_code; /* enum sti_status of the failure */
    char error[STI_ERROR_MAX];
    struct sti_chain *chain;
    struct sti_key *leaf_key;
    int key_p256;              /* the leaf key is EC P-256 */
    struct sti_tnauth *tnauth; /* NULL when the leaf has none */
    int tnauth_status;         /* STI_OK, STI_ERR_NOTFOUND, STI_ERR_INVALID */
    char spc[40];              /* the single SPC, or "" */
    char serial[72];
    time_t valid_from;  /* latest notBefore in the chain */
    time_t valid_until; /* earliest notAfter in the chain */
    /* Memo of the last successful path validation, under the cache
     * mutex: valid for this trust generation at any time in the range. */
    unsigned long validated_gen;
    /* Verification contexts for the leaf key, one thread each. */
    pthread_mutex_t ctx_lock;
    EVP_PKEY_CTX *ctx_pool[4];
    int ctx_pooled;
    struct sti_x5u_entry *next;
};

struct sti_x5u_cache;

/* Checks URL against the policy: https (http only when allowed), port
 * 443 or 8443 unless any port is allowed, no userinfo, query or
 * fragment.  STI_ERR_POLICY names the rule broken. */
int sti_x5u_check_url(const struct sti_x5u_policy *policy, const char *url,
                      struct sti_error *err);

/* DB_PATH may be NULL for a cache in memory only. */
int sti_x5u_cache_new(const struct sti_x5u_policy *policy, const char *db_path,
                      struct sti_x5u_cache **out, struct sti_error *err);
void sti_x5u_cache_free(struct sti_x5u_cache *cache);

/*
 * Returns the entry for URL, fetching it when it is absent or expired.
 * *HIT is 1 when it came from memory or SQLite.  A failed entry is
 * returned too (entry->failed), so that callers report its error.
 * Release the entry with sti_x5u_entry_release().
 */
int sti_x5u_get(struct sti_x5u_cache *cache, const char *url, time_t now,
                struct sti_x5u_entry **out, int *hit, struct sti_error *err);
/* Returns 1 and the entry when URL is in memory and fresh, without
 * fetching; URLs get there only after passing the policy. */
int sti_x5u_get_cached(struct sti_x5u_cache *cache, const char *url, time_t now,
                       struct sti_x5u_entry **out);
void sti_x5u_entry_release(struct sti_x5u_cache *cache,
                           struct sti_x5u_entry *entry);

/* Takes a verification context for the leaf key (NULL on failure) and
 * gives it back when done. */
EVP_PKEY_CTX *sti_x5u_take_ctx(struct sti_x5u_entry *entry);
void sti_x5u_give_ctx(struct sti_x5u_entry *entry, EVP_PKEY_CTX *ctx);

/* Reads and writes the validation memo under the cache mutex. */
int sti_x5u_memo_valid(struct sti_x5u_cache *cache,
                       const struct sti_x5u_entry *entry, unsigned long gen);
void sti_x5u_memo_set(struct sti_x5u_cache *cache, struct sti_x5u_entry *entry,
                      unsigned long gen);

/*
 * Computes the cache lifetime in seconds from Cache-Control (s-maxage,
 * then max-age) or Expires (RFC 9111 section 4.2.1).  Returns -1 when the
 * response states none.
 */
long sti_x5u_lifetime(const char *cache_control, const char *expires,
                      time_t now);

#endif
