/*
 * JSON for `sti lab`: the status report (certificate tree and services),
 * the table of test steps, and member lookup in the JSON replies of the
 * other programs, so that the lab tool itself handles no JSON.
 */
#ifndef STI_LAB_H
#define STI_LAB_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One certificate of the lab's chain, as `sti lab status` shows it. */
struct sti_lab_cert {
    const char *role;    /* "pa", "ca-root", "ca-intermediate", "sp", ... */
    const char *name;    /* a label, such as the provider's SPC */
    const char *issuer;  /* NAME of the issuing node; NULL for roots */
    const char *file;    /* PEM file the certificate was read from */
    const char *subject; /* RFC 2253 */
    const char *spc;     /* the TNAuthList SPC, or NULL */
    const char *serial;  /* hex */
    time_t not_after;    /* 0 when unknown */
    int revoked;         /* 1 listed in the CRL, 0 not, -1 unknown */
    const char *x5u;     /* URL the chain is published at, or NULL */
};

/* One background service of the lab. */
struct sti_lab_service {
    const char *name; /* "pa", "ca", "cr", "serve" */
    const char *url;  /* base URL, or NULL when never started */
    long pid;         /* 0 when there is no pid file */
    int port;         /* 0 when unknown */
    int up;           /* 1 when the recorded process is alive */
};

/*
 * Builds {"dir":..,"certificates":[..],"services":[..]}; certificates carry
 * the fields of struct sti_lab_cert ("revoked" true, false or null,
 * "not_after" in ISO 8601 UTC).  *json is freed with sti_free().
 */
STI_API int sti_lab_status_to_json(const char *dir,
                                   const struct sti_lab_cert *certs,
                                   size_t cert_count,
                                   const struct sti_lab_service *services,
                                   size_t service_count, char **json,
                                   struct sti_error *err);

/* One row of `sti lab test`. */
struct sti_lab_step {
    const char *name;     /* the scenario, such as "stale iat" */
    const char *via;      /* "sti verify", "sti serve", "secsipidx", ... */
    const char *expected; /* such as "pass" or "403" */
    const char *actual;
    int passed;         /* 1 when ACTUAL matched EXPECTED */
    const char *detail; /* the verifier's reason, or NULL */
};

/* Builds {"passed":N,"failed":N,"steps":[..]}; freed with sti_free(). */
STI_API int sti_lab_steps_to_json(const struct sti_lab_step *steps,
                                  size_t count, char **json,
                                  struct sti_error *err);

/*
 * Builds the ATIS-1000082 verification request for sti serve:
 * {"verificationRequest":{"identity":..,"from":{"tn":ORIG},
 * "to":{"tn":[DEST]}}}.  *json is freed with sti_free().
 */
STI_API int sti_lab_verification_request(const char *identity, const char *orig,
                                         const char *dest, char **json,
                                         struct sti_error *err);

/*
 * Looks up PATH, member names joined by dots ("a.b.c"), in the JSON object
 * in TEXT.  A string member is returned as is, a number, boolean or null
 * in its JSON form, an object or array as compact JSON.  STI_ERR_INVALID
 * when TEXT is not JSON, STI_ERR_NOTFOUND when a member is absent.  *out
 * is freed with sti_free().
 */
STI_API int sti_json_get_text(const char *text, size_t len, const char *path,
                              char **out, struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
