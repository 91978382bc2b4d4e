/*
 * The STI-PA: its directory (key, certificate, database), service
 * providers and API users, SPC tokens, the signed list of approved CA
 * roots, revocations with the indirect CRL, and the HTTP API handler.
 */
#ifndef STI_PA_H
#define STI_PA_H

#include "cert.h"
#include "common.h"
#include "crl.h"
#include "httpd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* File names inside a PA directory. */
#define STI_PA_KEY_FILE "pa.key"
#define STI_PA_CERT_FILE "pa.crt"
#define STI_PA_DB_FILE "pa.db"
#define STI_PA_TLS_CERT_FILE "tls.crt"
#define STI_PA_TLS_KEY_FILE "tls.key"

struct sti_pa_init_options {
    const char *dir;          /* created when missing; must not contain a PA */
    const char *organization; /* NULL: "stilab PA" */
    const char *common_name;  /* NULL: "SHAKEN PA ROOT" */
    const char *country;      /* NULL: the profile's */
    /* With both set, the PA certificate is issued by that root, so that
     * OpenSSL can validate the CRL signer against the same anchor.
     * Otherwise it is self-signed. */
    const char *root_cert_file;
    const char *root_key_file;
    const char *root_key_passphrase;
    int validity_days; /* 0: the profile's root default */
};

/*
 * Creates a PA directory: pa.key (0600), pa.crt (kind pa-root), pa.db and
 * a TLS certificate and key for 127.0.0.1 and localhost (tls.crt,
 * tls.key).  The PA certificate also signs the CRL and the CA list.
 * Fails with STI_ERR_EXISTS when DIR already contains a PA.
 */
STI_API int sti_pa_init(const struct sti_pa_init_options *options,
                        struct sti_error *err);

/* Default SPC token lifetime: 30 days.  sti-ca caps a certificate's
 * notAfter at the exp of the SPC token it was issued with, so this is
 * also the longest validity an ACME certificate can get by default. */
#define STI_PA_TOKEN_LIFETIME (30L * 86400)

/* Settings read from the PA's configuration file; 0 or NULL takes the
 * default named in the comment. */
struct sti_pa_config {
    const char *dir;
    const char *base_url;    /* names the certificate and CRL URLs */
    const char *crl_url;     /* NULL: BASE_URL/api/v1/crl */
    long token_lifetime;     /* SPC token seconds; 0: STI_PA_TOKEN_LIFETIME */
    long access_lifetime;    /* API access token seconds; 0: 3600 */
    long crl_lifetime;       /* CRL nextUpdate - thisUpdate; 0: 7 days */
    long calist_lifetime;    /* CA list validity; 0: 7 days */
    long login_max_failures; /* per user before lockout; 0: 5 */
    long login_lockout;      /* lockout seconds; 0: 60 */
};

struct sti_pa;

STI_API int sti_pa_open(const struct sti_pa_config *config, struct sti_pa **out,
                        struct sti_error *err);
STI_API void sti_pa_close(struct sti_pa *pa);

/*
 * Checks a base URL: http or https, a host with an optional port and an
 * optional path, and no user name, query or fragment.  STI_ERR_INVALID
 * names the URL and the accepted form.
 */
STI_API int sti_pa_base_url_check(const char *url, struct sti_error *err);

/* Sets the base URL when the configuration has none (a server learns its
 * port only once it listens).  An URL from the configuration stays. */
STI_API int sti_pa_set_default_base_url(struct sti_pa *pa, const char *url,
                                        struct sti_error *err);
/* The URLs of the PA certificate (the x5u of its tokens) and of the CRL;
 * NULL while no base URL is known. */
STI_API const char *sti_pa_cert_url(const struct sti_pa *pa);
STI_API const char *sti_pa_crl_url(const struct sti_pa *pa);
STI_API const struct sti_cert *sti_pa_get0_cert(const struct sti_pa *pa);

/* Service providers. */
struct sti_pa_provider {
    char spc[STI_TN_VALUE_MAX + 1];
    char *name;
    int delegation; /* may receive tokens with ca:true */
    int enabled;
    time_t created;
    long tokens; /* SPC tokens issued */
    long users;
};

STI_API int sti_pa_sp_add(struct sti_pa *pa, const char *spc, const char *name,
                          int delegation, struct sti_error *err);
STI_API int sti_pa_sp_set_enabled(struct sti_pa *pa, const char *spc,
                                  int enabled, struct sti_error *err);
STI_API int sti_pa_sp_list(struct sti_pa *pa, struct sti_pa_provider **list,
                           size_t *count, struct sti_error *err);
STI_API void sti_pa_sp_list_free(struct sti_pa_provider *list, size_t count);
STI_API int sti_pa_sp_list_json(struct sti_pa *pa, char **json,
                                struct sti_error *err);

/*
 * API users.  A provider user (SPC non-NULL) may request tokens for that
 * provider; an administrator (SPC NULL, ADMIN set) may revoke.  Passwords
 * are stored only as salted scrypt hashes; at least 8 characters.
 */
STI_API int sti_pa_user_add(struct sti_pa *pa, const char *name,
                            const char *spc, int admin, const char *password,
                            struct sti_error *err);

/*
 * Issues an SPC token for the enabled provider SPC to the account whose
 * key has FINGERPRINT, and records its jti.  CA requires a provider with
 * delegation.  VIA ("cli" or a user name) is recorded with the jti.
 */
STI_API int sti_pa_token_issue(struct sti_pa *pa, const char *spc,
                               const char *fingerprint, int ca, const char *via,
                               char **token, struct sti_error *err);
/* Number of SPC tokens recorded (all providers). */
STI_API int sti_pa_token_count(struct sti_pa *pa, long *count,
                               struct sti_error *err);

/* Approved CA roots. */
struct sti_pa_ca {
    char fingerprint[65]; /* SHA-256 of the DER, lowercase hex */
    char *subject;
    time_t added;
};

STI_API int sti_pa_ca_add(struct sti_pa *pa, const struct sti_cert *root,
                          struct sti_error *err);
/* Removes the root whose fingerprint is FINGERPRINT (full, or a unique
 * prefix of at least 8 hex digits). */
STI_API int sti_pa_ca_remove(struct sti_pa *pa, const char *fingerprint,
                             struct sti_error *err);
STI_API int sti_pa_ca_list(struct sti_pa *pa, struct sti_pa_ca **list,
                           size_t *count, struct sti_error *err);
STI_API void sti_pa_ca_list_free(struct sti_pa_ca *list, size_t count);
STI_API int sti_pa_ca_list_json(struct sti_pa *pa, char **json,
                                struct sti_error *err);

/*
 * The published CA list: a compact JWS signed by the PA, header
 * {"alg":"ES256","typ":"JWT","x5u":..}, payload {"expires","issued",
 * "roots":[PEM...],"version"}.  The version increases with every change.
 */
STI_API int sti_pa_calist_document(struct sti_pa *pa, char **jws,
                                   struct sti_error *err);

struct sti_pa_calist {
    uint64_t version;
    time_t issued;
    time_t expires;
    struct sti_chain *roots; /* the approved roots, ready for sti_trust */
};

/*
 * Verifies a CA list document signed by PA_CERT at time NOW (0: now):
 * signature, shape and expiry.  DOC is the compact JWS, or the JSON body
 * of GET /api/v1/ca-list whose "caList" member contains it.
 */
STI_API int sti_pa_calist_verify(const char *doc, size_t len,
                                 const struct sti_cert *pa_cert, time_t now,
                                 struct sti_pa_calist **out,
                                 struct sti_error *err);
STI_API void sti_pa_calist_free(struct sti_pa_calist *list);

/*
 * Revocation.  Each new entry regenerates the indirect CRL with a higher
 * CRL number.  ISSUER_DN is in RFC 2253 form; SERIAL_HEX may have colons.
 * Revoking the same certificate twice fails with STI_ERR_EXISTS.
 */
STI_API int sti_pa_revoke(struct sti_pa *pa, const char *issuer_dn,
                          const char *serial_hex, int reason,
                          struct sti_error *err);
STI_API int sti_pa_revoke_cert(struct sti_pa *pa, const struct sti_cert *cert,
                               int reason, struct sti_error *err);
/* The current CRL, regenerated first when it expires within a quarter of
 * its lifetime. */
STI_API int sti_pa_crl_get(struct sti_pa *pa, struct sti_crl **out,
                           struct sti_error *err);
/* Rebuilds the CRL with the next CRL number. */
STI_API int sti_pa_crl_regenerate(struct sti_pa *pa, struct sti_error *err);

/*
 * The HTTP API, for sti_httpd_start() with the PA as ARG:
 * POST /api/v1/auth/login, POST /api/v1/account/{SPC}/token,
 * GET /api/v1/ca-list, GET /api/v1/crl, POST /api/v1/revocations,
 * GET /pa.crt.  Errors are {"status":"error","message":...}.
 */
STI_API void sti_pa_http_handler(void *pa, const struct sti_httpd_request *req,
                                 struct sti_httpd_response *resp);

/*
 * Writes a self-signed P-256 TLS server certificate for 127.0.0.1 and
 * localhost (subjectAltName) and its key (0600) for a lab service.
 */
STI_API int sti_tls_selfsigned_create(const char *cert_path,
                                      const char *key_path, int days,
                                      struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
