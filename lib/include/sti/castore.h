/* The STI-CA database of issued certificates (SQLite, WAL). */
#ifndef STI_CASTORE_H
#define STI_CASTORE_H

#include "cert.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_castore;

/* Opens or creates the database at PATH. */
STI_API int sti_castore_open(const char *path, struct sti_castore **out,
                             struct sti_error *err);
STI_API void sti_castore_close(struct sti_castore *store);

/*
 * Records CERT with its KIND (enum sti_cert_kind).  Serials are unique per
 * issuer: STI_ERR_EXISTS when the issuer already has this serial.
 */
STI_API int sti_castore_add(struct sti_castore *store,
                            const struct sti_cert *cert, int kind,
                            struct sti_error *err);

/*
 * Issues a certificate with sti_cert_issue() and records it.  A serial
 * that collides with one already recorded for the issuer is drawn again,
 * up to 8 times.
 */
STI_API int sti_castore_issue(struct sti_castore *store,
                              const struct sti_cert_request *req,
                              const struct sti_cert *issuer,
                              const struct sti_key *issuer_key,
                              struct sti_cert **out, struct sti_error *err);

/*
 * Marks the certificate with SERIAL_HEX (case-insensitive hex, leading
 * zeros ignored) revoked at AT (0 means now) for REASON (enum
 * sti_crl_reason).  STI_ERR_NOTFOUND when no certificate has it,
 * STI_ERR_EXISTS when it is already revoked, STI_ERR_POLICY when it is a
 * root (a trust anchor, which no CRL revokes).
 */
STI_API int sti_castore_revoke(struct sti_castore *store,
                               const char *serial_hex, int reason, time_t at,
                               struct sti_error *err);

/* One row of the database.  Strings belong to the record list. */
struct sti_castore_record {
    char *serial_hex; /* uppercase hex, no leading zero octets */
    char *issuer;     /* RFC 2253 */
    char *subject;
    char *kind;   /* sti_cert_kind_name() */
    char *tnauth; /* sti_tnauth_to_spec() form; NULL without one */
    time_t not_before;
    time_t not_after;
    char *pem;
    int revoked;
    time_t revoked_at; /* 0 when not revoked */
    int reason;        /* enum sti_crl_reason; -1 when not revoked */
};

/* Every record in issuance order; free with sti_castore_records_free(). */
STI_API int sti_castore_list(struct sti_castore *store,
                             struct sti_castore_record **records, size_t *count,
                             struct sti_error *err);
/* The record with SERIAL_HEX; STI_ERR_NOTFOUND when absent. */
STI_API int sti_castore_find(struct sti_castore *store, const char *serial_hex,
                             struct sti_castore_record **record,
                             struct sti_error *err);
STI_API void sti_castore_records_free(struct sti_castore_record *records,
                                      size_t count);

/*
 * A JSON array of objects {"serial","issuer","subject","kind","tnauth",
 * "not_before","not_after","revoked","revoked_at","reason"}, with times as
 * RFC 3339 UTC strings and "reason" as an RFC 5280 name or null.
 */
STI_API int
sti_castore_records_to_json(const struct sti_castore_record *records,
                            size_t count, int with_pem, char **json,
                            struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
