/*
 * Declarations shared inside libsti only.  Never installed; the tools must
 * not include it.  Unit tests may.
 */
#ifndef STI_INTERNAL_H
#define STI_INTERNAL_H

#include "sti.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdarg.h>

/* Fills ERR (when non-NULL) and returns CODE, so callers can write
 * `return sti_seterr(err, STI_ERR_INVALID, "...", ...);`. */
int sti_seterr(struct sti_error *err, int code, const char *fmt, ...)
    STI_PRINTF(3, 4);

/* Like sti_seterr(), appending the first OpenSSL error queue entry (and
 * clearing the queue). */
int sti_seterr_ssl(struct sti_error *err, int code, const char *fmt, ...)
    STI_PRINTF(3, 4);

/* Prefixes ERR's message with PREFIX and ": " when RC is a failure and ERR
 * is non-NULL, as in "PATH: message"; returns RC. */
int sti_error_prefix(struct sti_error *err, int rc, const char *prefix);

/* Formats one log line as sti_log() writes it, newline included, into
 * LINE of SIZE bytes (at least 64).  Returns its length, or 0 when LEVEL
 * is above the level set with sti_log_init(). */
size_t sti_log_vformat(char *line, size_t size, int level, const char *fmt,
                       va_list ap);

/* Writes LEN bytes of formatted log lines to standard error, with one
 * write() unless the kernel takes fewer bytes. */
void sti_log_write(const char *buf, size_t len);

/* Duplicates a string; NULL in, NULL out. */
char *sti_strdup(const char *s);

/* Copies TEXT[0..LEN) into BUF (of SIZE bytes, at least 1) for an error
 * message, writing each byte outside printable ASCII and each backslash as
 * \xNN, so messages never carry raw control or non-UTF-8 bytes.  Cuts
 * the copy short when BUF is full.  Returns BUF. */
const char *sti_escape(const char *text, size_t len, char *buf, size_t size);

/* Wipes and frees a buffer. */
void sti_clear_free(void *ptr, size_t len);

/* Loads the CRL from FILE, or when FILE is NULL fetches it from URL,
 * trusting the TLS certificates of CA_FILE (NULL: the system store). */
struct sti_crl;
int sti_crl_fetch(const char *file, const char *url, const char *ca_file,
                  struct sti_crl **out, struct sti_error *err);

/* Fills BUF with LEN random bytes for a public identifier (an origid),
 * from a per-thread pool; never for keys, nonces or tokens. */
int sti_random_id_bytes(unsigned char *buf, size_t len);

/*
 * SQLite helpers.  sti_sqlite_open() opens or creates PATH with WAL
 * journaling, foreign keys and a 5 s busy timeout, then runs SCHEMA (a
 * string of CREATE ... IF NOT EXISTS statements; may be NULL).
 */
int sti_sqlite_open(const char *path, const char *schema, sqlite3 **out,
                    struct sti_error *err);
int sti_sqlite_exec(sqlite3 *db, const char *sql, struct sti_error *err);
int sti_sqlite_err(struct sti_error *err, sqlite3 *db, const char *what);

/* Access to the OpenSSL objects behind the public opaque types. */
EVP_PKEY *sti_key_get0_pkey(const struct sti_key *key);
struct sti_key *sti_key_from_pkey(EVP_PKEY *pkey); /* takes ownership */
X509 *sti_cert_get0_x509(const struct sti_cert *cert);

/* Loads the anchors that CFG names into TRUST: ca_file, ca_dir and the
 * PA's CA list. */
int sti_verifier_load_anchors(struct sti_trust *trust,
                              const struct sti_verifier_config *cfg,
                              struct sti_error *err);
/* Returns the file that contains the CRL signer for CFG: crl_signer_file,
 * else the PA certificate of the CA list, else ca_file (or NULL). */
const char *sti_verifier_crl_signer_path(const struct sti_verifier_config *cfg);

/* The version and expiry of the PA's CA list that TRUST's anchors came
 * from (0 when none).  sti_verifier_set_trust() rejects a lower version,
 * and verification fails once the list has expired. */
void sti_trust_set_list(struct sti_trust *trust, uint64_t version,
                        time_t expires);
uint64_t sti_trust_list_version(const struct sti_trust *trust);
time_t sti_trust_list_expires(const struct sti_trust *trust);
struct sti_cert *sti_cert_from_x509(X509 *x509); /* takes ownership */

#endif
