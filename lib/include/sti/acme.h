/*
 * ACME (RFC 8555) with the tkauth-01 challenge (RFC 9447) and the
 * TNAuthList identifier (RFC 9448): the server behind `sti-ca serve` and
 * the client behind `sti acme`.
 */
#ifndef STI_ACME_H
#define STI_ACME_H

#include "common.h"
#include "cert.h"
#include "csr.h"
#include "http.h"
#include "httpd.h"
#include "key.h"
#include "tnauth.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ACME error types (RFC 8555 section 6.7), for callers and tests. */
/* clang-format off */
#define STI_ACME_ERR_PREFIX "urn:ietf:params:acme:error:"
#define STI_ACME_ERR_BAD_NONCE STI_ACME_ERR_PREFIX "badNonce"
#define STI_ACME_ERR_MALFORMED STI_ACME_ERR_PREFIX "malformed"
#define STI_ACME_ERR_UNAUTHORIZED STI_ACME_ERR_PREFIX "unauthorized"
#define STI_ACME_ERR_BAD_CSR STI_ACME_ERR_PREFIX "badCSR"
#define STI_ACME_ERR_REJECTED_IDENTIFIER \
    STI_ACME_ERR_PREFIX "rejectedIdentifier"
#define STI_ACME_ERR_BAD_SIGNATURE_ALGORITHM \
    STI_ACME_ERR_PREFIX "badSignatureAlgorithm"
#define STI_ACME_ERR_ACCOUNT_DOES_NOT_EXIST \
    STI_ACME_ERR_PREFIX "accountDoesNotExist"
#define STI_ACME_ERR_ORDER_NOT_READY STI_ACME_ERR_PREFIX "orderNotReady"
#define STI_ACME_ERR_BAD_PUBLIC_KEY STI_ACME_ERR_PREFIX "badPublicKey"
#define STI_ACME_ERR_EAB_REQUIRED \
    STI_ACME_ERR_PREFIX "externalAccountRequired"
#define STI_ACME_ERR_ALREADY_REVOKED STI_ACME_ERR_PREFIX "alreadyRevoked"
#define STI_ACME_ERR_SERVER_INTERNAL STI_ACME_ERR_PREFIX "serverInternal"
/* clang-format on */

/*
 * Server side.
 *
 * The server keeps accounts, orders, authorizations, challenges, nonces
 * and the jti of every accepted SPC token in one SQLite database, so a
 * restart neither loses state nor reopens a used nonce or token.
 * Certificate issuance, publication and revocation are left to callbacks
 * so that the CA's own store records what the server issues.
 */

/* The input of the issue callback, once finalize has checked the CSR. */
struct sti_acme_issue_request {
    const struct sti_csr *csr;
    const struct sti_key *subject_key; /* the CSR's P-256 key */
    const struct sti_tnauth *tnauth;   /* the order's TNAuthList */
    int is_ca;                         /* 1: SCA profile, 0: SP */
    /* The certificate must not outlive the SPC token, so the server
     * caps the validity at the token's exp; a token with less than a
     * day left gets one day that ends at exp and starts before now. */
    time_t not_before; /* pass to sti_cert_issue() */
    int validity_days;
    const char *account_url;
};

/* Issues a certificate and returns its chain, leaf first. */
typedef int (*sti_acme_issue_fn)(void *arg,
                                 const struct sti_acme_issue_request *req,
                                 struct sti_chain **chain,
                                 struct sti_error *err);
/* Publishes a PEM chain; returns the x5u URL it is served at. */
typedef int (*sti_acme_publish_fn)(void *arg, const struct sti_cert *leaf,
                                   const char *chain_pem, char **x5u,
                                   struct sti_error *err);
/* Records a revocation (RFC 5280 reason code) in the CA's store. */
typedef int (*sti_acme_revoke_fn)(void *arg, const struct sti_cert *cert,
                                  int reason, struct sti_error *err);

struct sti_acme_server_config {
    const char *db_path;     /* SQLite file for the ACME state */
    const char *base_url;    /* NULL: the scheme and Host of each
                                request, e.g. "https://127.0.0.1:8443" */
    const char *path_prefix; /* NULL means "/acme" */
    /* SPC token authorities: tokens must be signed by one of these keys. */
    const struct sti_cert *const *token_authorities;
    size_t token_authority_count;
    const char *token_authority_url; /* "token-authority" in challenges */
    long token_skew_s;               /* exp/nbf allowance; 0 means 60 */
    int validity_days;               /* 0 means 365; capped by token exp */
    long nonce_lifetime_s;           /* 0 means 3600 */
    long order_lifetime_s;           /* 0 means 86400 */
    int eab_required;                /* newAccount needs an EAB binding */
    sti_acme_issue_fn issue;         /* required */
    sti_acme_publish_fn publish;     /* NULL: orders carry no x5u */
    sti_acme_revoke_fn revoke;       /* NULL: revocation stays in ACME db */
    void *callback_arg;
};

struct sti_acme_server;

/* Opens (or creates) the database and checks the configuration.  The
 * configuration's strings and certificates must outlive the server. */
STI_API int sti_acme_server_new(const struct sti_acme_server_config *config,
                                struct sti_acme_server **out,
                                struct sti_error *err);
STI_API void sti_acme_server_free(struct sti_acme_server *srv);

/* An sti_httpd_handler: pass the server as ARG to sti_httpd_start(). */
STI_API void sti_acme_server_handle(void *arg,
                                    const struct sti_httpd_request *req,
                                    struct sti_httpd_response *resp);

/*
 * External Account Binding keys (RFC 8555 section 7.3.4), stored in the
 * server's database: KEY_ID names the binding, HMAC_KEY is the raw key.
 * Works on the database alone, so `sti-ca` can call it while offline.
 */
STI_API int sti_acme_eab_add(const char *db_path, const char *key_id,
                             const unsigned char *hmac_key, size_t key_len,
                             struct sti_error *err);

/*
 * Client side.
 */

/* One ACME response. */
struct sti_acme_reply {
    long status;        /* HTTP status */
    char *content_type; /* NULL when absent */
    char *body;         /* NUL-terminated, may be empty */
    size_t body_len;
    char *location;       /* Location header or NULL */
    char *replay_nonce;   /* Replay-Nonce header or NULL */
    long retry_after;     /* Retry-After seconds, -1 when absent */
    char *problem_type;   /* RFC 7807 "type" of an error, or NULL */
    char *problem_detail; /* its "detail", or NULL */
};
STI_API void sti_acme_reply_free(struct sti_acme_reply *reply);

/*
 * Builds a flattened JWS request body (RFC 8555 section 6.2) signed with
 * KEY (ES256).  KID is the account URL; NULL puts KEY's public "jwk" in the
 * protected header instead.  PAYLOAD is JSON, or "" for POST-as-GET.
 * Tests use this to craft requests with any nonce and url.
 */
STI_API int sti_acme_jws_build(const struct sti_key *key, const char *kid,
                               const char *nonce, const char *url,
                               const char *payload, char **json,
                               struct sti_error *err);

struct sti_acme_client;

/* Fetches the directory at DIRECTORY_URL.  KEY is the account key; HTTP
 * (may be NULL) sets timeouts and TLS trust. */
STI_API int sti_acme_client_new(const char *directory_url,
                                const struct sti_key *key,
                                const struct sti_http_options *http,
                                struct sti_acme_client **out,
                                struct sti_error *err);
STI_API void sti_acme_client_free(struct sti_acme_client *client);

/* A directory URL by name ("newNonce", "newAccount", "newOrder",
 * "revokeCert"), or NULL. */
STI_API const char *
sti_acme_client_resource(const struct sti_acme_client *client,
                         const char *name);
/* The account URL once known, or NULL. */
STI_API const char *sti_acme_client_kid(const struct sti_acme_client *client);

/* Gets a fresh nonce with HEAD newNonce. */
STI_API int sti_acme_client_new_nonce(struct sti_acme_client *client,
                                      char **nonce, struct sti_error *err);

/* POSTs a ready JWS body to URL and keeps the reply's Replay-Nonce for
 * the next request.  A reply is returned whatever its HTTP status. */
STI_API int sti_acme_client_send(struct sti_acme_client *client,
                                 const char *url, const char *jws_json,
                                 struct sti_acme_reply **out,
                                 struct sti_error *err);

/*
 * Signs PAYLOAD ("" for POST-as-GET) for URL with the account key, by
 * "kid" once the account is known and by "jwk" before, and POSTs it.  A
 * badNonce reply is retried up to three times with the fresh nonce.
 */
STI_API int sti_acme_client_post(struct sti_acme_client *client,
                                 const char *url, const char *payload,
                                 struct sti_acme_reply **out,
                                 struct sti_error *err);

/*
 * Creates the account for the client's key, or finds it when
 * ONLY_EXISTING is set (RFC 8555 section 7.3.1).  CONTACT is a
 * NULL-terminated list of URLs ("mailto:...") or NULL.
 */
STI_API int sti_acme_client_account(struct sti_acme_client *client,
                                    const char *const *contact,
                                    int only_existing, struct sti_error *err);

/*
 * Rolls the account over to NEW_KEY (RFC 8555 section 7.3.5); on success
 * the client signs with NEW_KEY from then on.
 */
STI_API int sti_acme_client_key_change(struct sti_acme_client *client,
                                       const struct sti_key *new_key,
                                       struct sti_error *err);

/* The parameters of sti_acme_obtain() beyond the client. */
struct sti_acme_obtain_request {
    const struct sti_tnauth *tnauth; /* the order identifier */
    const char *token;               /* SPC token for the challenge */
    int is_ca;                       /* ask for an SCA certificate */
    const struct sti_key *cert_key;  /* P-256, not the account key */
    const char *common_name;         /* NULL derives "SHAKEN <SPC>" */
    const char *organization;
    const char *country; /* NULL means "US" */
    int timeout_s;       /* polling limit; 0 means 60 */
};

struct sti_acme_result {
    char *account_url;
    char *order_url;
    char *certificate_url;
    char *chain_pem; /* leaf first */
    char *x5u;       /* NULL when the CA published nothing */
};
STI_API void sti_acme_result_free(struct sti_acme_result *result);
/* A JSON summary of a result, freed with sti_free(). */
STI_API char *sti_acme_result_to_json(const struct sti_acme_result *result);

/*
 * Runs an order to the end with an account that exists: newOrder, the
 * tkauth-01 challenge with REQ->token, polling with Retry-After,
 * finalize with a CSR for REQ->cert_key, and the chain download.
 */
STI_API int sti_acme_obtain(struct sti_acme_client *client,
                            const struct sti_acme_obtain_request *req,
                            struct sti_acme_result **out,
                            struct sti_error *err);

/*
 * The STI-PA API as deployed PAs offer it: logs in with USER and PASSWORD
 * (POST /api/v1/auth/login), then requests an SPC token for ACCOUNT_ID
 * (POST /api/v1/account/{id}/token) bound to FINGERPRINT ("SHA256 AB:..")
 * for TNAUTH.  *token is freed with sti_free().
 */
STI_API int sti_acme_pa_token(const char *pa_url, const char *account_id,
                              const char *user, const char *password,
                              const struct sti_tnauth *tnauth, int is_ca,
                              const char *fingerprint,
                              const struct sti_http_options *http, char **token,
                              struct sti_error *err);

/*
 * Publishes CHAIN_PEM to an STI-CR under NAME with its API (PUT
 * CR_URL/api/v1/chains/NAME, "Authorization: Bearer TOKEN") and returns
 * the x5u URL the repository serves it at.  *x5u is freed with sti_free().
 */
STI_API int sti_acme_cr_publish(const char *cr_url, const char *token,
                                const char *name, const char *chain_pem,
                                const struct sti_http_options *http, char **x5u,
                                struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
