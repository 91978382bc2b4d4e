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

/*
 * One cached URL: the facts of a chain that verification needs, or a failed
 * fetch.  An entry keeps no parsed certificate after its first validation,
 * so that 10,000 entries fit in a few megabytes.  The leaf's public key is
 * kept as its encoded EC point.  Each certificate is kept as DER, shared by
 * fingerprint with every entry that carries it (the intermediate of one
 * CA, or one chain under many URLs).  The chain is parsed again only when
 * its path must be validated again: new trust anchors or CRL, or an iat
 * outside the memo's range.
 */
struct sti_x5u_entry {
    char *url;
    int refs; /* guarded by the cache mutex */
    time_t expires;
    int failed;                 /* the fetch or the chain was unusable */
    int error_code;             /* enum sti_status of the failure */
    char *error;                /* failed entries only */
    struct sti_x5u_der **certs; /* leaf first, shared with other entries */
    struct sti_chain *parsed;   /* until the first validation, under the
                                   cache mutex */
    size_t cert_count;
    unsigned char point[65]; /* the leaf's public key, SEC 1 encoding */
    unsigned char point_len;
    int key_p256;              /* the leaf key is EC P-256 */
    const char *key_type;      /* sti_key_type_name() of the leaf key */
    int key_signs;             /* the leaf's keyUsage, when present,
                                  includes digitalSignature */
    int leaf_is_ca;            /* the leaf has basicConstraints CA:TRUE */
    struct sti_tnauth *tnauth; /* TNAuthList without an SPC, or NULL */
    int tnauth_status;         /* STI_OK, STI_ERR_NOTFOUND, STI_ERR_INVALID */
    char spc[40];              /* the single SPC, or "" */
    char serial[72];
    time_t valid_from;  /* latest notBefore in the chain */
    time_t valid_until; /* earliest notAfter in the chain */
    /* Memo of the last successful path validation, under the cache
     * mutex: valid for this trust generation at any time in the range. */
    unsigned long validated_gen;
    /* The ready key and its verification contexts while the entry is
     * among the recently used ones; guarded by the cache's hot_lock. */
    struct sti_x5u_hot *hot;
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
 * Concurrent calls for one URL make one fetch: the others wait for its
 * result, at most the fetch timeout plus a second, and then fail with
 * STI_ERR_NET.  *HIT is 1 when the entry came from memory or SQLite
 * without waiting.  A failed entry is returned too (entry->failed), so
 * that callers report its error.  Release the entry with
 * sti_x5u_entry_release().
 */
int sti_x5u_get(struct sti_x5u_cache *cache, const char *url, time_t now,
                struct sti_x5u_entry **out, int *hit, struct sti_error *err);
/* Returns 1 and the entry when URL is in memory and fresh, without
 * fetching; URLs get there only after passing the policy. */
int sti_x5u_get_cached(struct sti_x5u_cache *cache, const char *url, time_t now,
                       struct sti_x5u_entry **out);
void sti_x5u_entry_release(struct sti_x5u_cache *cache,
                           struct sti_x5u_entry *entry);

/*
 * Takes a verification context for the leaf key (NULL on failure) and
 * gives it back when done.  Keys and contexts are kept for the
 * STI_X5U_HOT_MAX most recently used entries; for the others the key is
 * rebuilt from the stored point.
 */
EVP_PKEY_CTX *sti_x5u_take_ctx(struct sti_x5u_cache *cache,
                               struct sti_x5u_entry *entry);
void sti_x5u_give_ctx(struct sti_x5u_cache *cache, struct sti_x5u_entry *entry,
                      EVP_PKEY_CTX *ctx);
#define STI_X5U_HOT_MAX 256

/* Returns the entry's chain, leaf first, for path validation: the chain
 * parsed at load time the first time, then parsed again from the DER.
 * The caller frees it. */
int sti_x5u_entry_chain(struct sti_x5u_cache *cache,
                        struct sti_x5u_entry *entry, struct sti_chain **out,
                        struct sti_error *err);

/* The number of distinct certificates that the cache keeps as DER, and
 * the number of entries whose key is ready, for tests. */
size_t sti_x5u_cache_der_count(struct sti_x5u_cache *cache);
size_t sti_x5u_cache_hot_count(struct sti_x5u_cache *cache);

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
