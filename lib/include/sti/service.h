/*
 * The HTTP signing and verification service behind `sti serve`: the
 * ATIS-1000082 JSON endpoints POST /stir/v1/signing and
 * POST /stir/v1/verification, and the secsipidx endpoints /v1/sign-csv
 * and /v1/check with the bodies and status codes of secsipidx 1.2.0.
 *
 * A service is a request handler for sti_httpd_start(); it keeps a
 * signer and a verifier and is safe to call from every worker thread.
 */
#ifndef STI_SERVICE_H
#define STI_SERVICE_H

#include "common.h"
#include "httpd.h"
#include "key.h"
#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_service_config {
    /* Signing: a P-256 private key and the x5u URL of its certificate
     * chain.  With a NULL key the signing endpoints return 503. */
    const struct sti_key *key;
    const char *x5u;
    /* TN profile for canonicalising numbers in requests: "us" (NULL) or
     * "fr" (see sti_tn_canonicalize()). */
    const char *profile;
    /* Verification settings; NULL makes the verification endpoints
     * return 503. */
    const struct sti_verifier_config *verifier;
    /* Trust for the HTTPS servers of verifier->crl_url and
     * verifier->ca_list; NULL uses verifier->crl_ca_file, or the system
     * store. */
    const char *crl_ca_file;
};

struct sti_service;

/* Creates the signer and the verifier (loading anchors, CRL and cache);
 * a file that cannot be read fails here, naming it. */
STI_API int sti_service_new(const struct sti_service_config *config,
                            struct sti_service **out, struct sti_error *err);
STI_API void sti_service_free(struct sti_service *service);

/*
 * Reads the CRL again from the verifier's crl_file or crl_url and hands
 * it to the verifier.  Without a CRL configured it does nothing.  On
 * failure the old CRL stays in use.
 */
STI_API int sti_service_reload_crl(struct sti_service *service,
                                   struct sti_error *err);
/* Reads the trust anchors (ca_file, ca_dir) and then the CRL again, as
 * sti serve does on SIGHUP.  On failure the old ones stay in use. */
STI_API int sti_service_reload(struct sti_service *service,
                               struct sti_error *err);

/* The sti_httpd_handler of the service; ARG is a struct sti_service. */
STI_API void sti_service_handle(void *arg, const struct sti_httpd_request *req,
                                struct sti_httpd_response *resp);

#ifdef __cplusplus
}
#endif
#endif
