/*
 * The verification service (RFC 8224 section 6.2, RFC 8588): a context
 * with trust anchors, the PA's CRL, the x5u fetch policy and certificate
 * cache, and a verify call that returns a structured result.
 *
 * A verifier is thread-safe: any number of threads may call sti_verify()
 * on one verifier at once, and sti_verifier_set_trust() may replace the
 * trust anchors meanwhile.  Nothing is printed.
 */
#ifndef STI_VERIFY_H
#define STI_VERIFY_H

#include "cert.h"
#include "common.h"
#include "crl.h"
#include "passport.h"
#include "sip.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_verifier_config {
    const char *profile;         /* TN profile: "us" (NULL) or "fr" */
    const char *ca_file;         /* PEM trust anchors */
    const char *ca_dir;          /* or a directory of PEM files */
    const char *crl_file;        /* the PA's indirect CRL, PEM or DER */
    const char *crl_url;         /* or the URL to fetch it from */
    const char *crl_signer_file; /* the CRL signer's certificate; NULL
                                    tries ca_list_signer_file, or else
                                    every certificate of ca_file */
    const char *cache_db;        /* SQLite x5u cache shared by processes;
                                    NULL keeps the cache in memory only */
    int freshness_s;             /* max iat age; 0 means 60 (RFC 8224) */
    int future_skew_s;           /* max iat ahead of now; 0 means 5 */
    int allow_http;              /* lab only: accept http x5u URLs */
    int allow_any_port;          /* lab only: ports other than 443, 8443 */
    const char *fetch_ca_file;   /* trust for HTTPS x5u servers; NULL uses
                                    the system store */
    long connect_timeout_ms;     /* x5u connect timeout; 0 means 2000 */
    long timeout_ms;             /* whole x5u fetch; 0 means 4000 */
    size_t max_chain_bytes;      /* x5u body cap; 0 means 64 KiB */
    long min_cache_s;            /* shortest x5u cache life; 0: 86400 */
    long failure_cache_s;        /* failed fetch cache life; 0 means 30 */
    const char *crl_ca_file;     /* trust for https crl_url and ca_list
                                    URLs; NULL uses the system store */
    /* The PA's signed CA list, a file or an http(s) URL such as sti-pa's
     * GET /api/v1/ca-list, and the PA certificate that signed it.  Its
     * roots are trust anchors besides those of ca_file and ca_dir. */
    const char *ca_list;
    const char *ca_list_signer_file;
};

struct sti_verifier;

/* Loads anchors and the CRL and opens the cache.  A missing or unreadable
 * file fails here, naming it. */
STI_API int sti_verifier_new(const struct sti_verifier_config *config,
                             struct sti_verifier **out, struct sti_error *err);
STI_API void sti_verifier_free(struct sti_verifier *v);

/*
 * Adds the roots of the PA's signed CA list in SOURCE to TRUST.  SOURCE is
 * a file, or an http(s) URL fetched with CA_FILE as its trust (NULL: the
 * system's).  The list must be signed by the PA certificate in
 * PA_CERT_FILE and must not have expired.  SOURCE holds the compact JWS
 * or the JSON body of sti-pa's GET /api/v1/ca-list (see
 * sti_pa_calist_verify()).
 */
STI_API int sti_trust_load_ca_list(struct sti_trust *trust, const char *source,
                                   const char *pa_cert_file,
                                   const char *ca_file, struct sti_error *err);

/*
 * Replaces the trust anchors, for example with the CA list that the PA
 * publishes; takes ownership of TRUST.  A verification that is running
 * checks its chain with the anchors in place at that step: the new ones
 * when it is still fetching its x5u.  Anchors from a CA list with a lower
 * version than the list in use are rejected (STI_ERR_POLICY), because an
 * older list can bring back a root that the PA has removed.
 */
STI_API int sti_verifier_set_trust(struct sti_verifier *v,
                                   struct sti_trust *trust,
                                   struct sti_error *err);
/* Replaces the CRL; SIGNER is the certificate that signed it. */
STI_API int sti_verifier_set_crl(struct sti_verifier *v,
                                 const struct sti_crl *crl,
                                 const struct sti_cert *signer,
                                 struct sti_error *err);

struct sti_verify_request {
    /* Identity header values; each may hold several comma-joined ones.
     * When none are given they are taken from SIP. */
    const char *const *identities;
    size_t identity_count;
    /* The SIP message: its From or P-Asserted-Identity must match orig
     * and its To or Request-URI dest.  May be NULL. */
    const struct sti_sip *sip;
    /* Without a SIP message: the calling and called numbers to compare
     * with orig and dest (NULL skips that check).  These take precedence
     * over the SIP message. */
    const char *orig_tn;
    const char *dest_tn;
    time_t date; /* the call's Date for compact forms; 0 takes SIP's */
    time_t now;  /* 0 means the current time */
    /* Or the calling and called parties as URIs, compared by addr-spec
     * (see sti_sip_uri_equal()).  An orig tn is compared with orig_tn and
     * an orig uri with orig_uri, and fails when only the other kind is
     * given.  dest passes when it contains dest_tn or dest_uri. */
    const char *orig_uri;
    const char *dest_uri;
};

/* Outcomes; the values are also the exit codes of `sti verify`. */
enum sti_verify_outcome {
    STI_VERIFY_PASS = 0,
    STI_VERIFY_FAIL = 1,   /* the Identity header is invalid */
    STI_VERIFY_NOCHECK = 3 /* could not check: no header, fetch failed */
};

struct sti_verify_result {
    int outcome;                /* enum sti_verify_outcome */
    int sip_code;               /* 0 on pass; 403, 428, 436, 437 or 438 */
    char sip_reason[32];        /* "Stale Date", "Bad Identity Info", ... */
    char verstat[24];           /* TN-Validation-Passed, TN-Validation-Failed
                                   or No-TN-Validation */
    char reason[STI_ERROR_MAX]; /* what failed, naming the value */
    /* From the SHAKEN PASSporT (or the first one), when it parsed. */
    char ppt[16];
    char attest[2];
    char orig[128]; /* orig tn, or uri (truncated) */
    char origid[64];
    int64_t iat;
    char x5u[256];
    /* From the end-entity certificate, once it was fetched. */
    char spc[40];
    char cert_serial[72];
    size_t passport_count; /* PASSporTs checked: 1 + div ones */
    int cache_hit;         /* 1 when the x5u came from the cache */
};

/*
 * Verifies the Identity headers of REQ.  Returns STI_OK whenever RES
 * holds a verdict, pass or fail; another status means RES could not be
 * filled (bad arguments, out of memory).
 */
STI_API int sti_verify(struct sti_verifier *v,
                       const struct sti_verify_request *req,
                       struct sti_verify_result *res, struct sti_error *err);

/* The result as a JSON object (keys as the struct's fields, "pass" a
 * boolean); free with sti_free(). */
STI_API int sti_verify_result_to_json(const struct sti_verify_result *res,
                                      char **json, struct sti_error *err);

/* "pass", "fail" or "nocheck". */
STI_API const char *sti_verify_outcome_name(int outcome);

#ifdef __cplusplus
}
#endif
#endif
