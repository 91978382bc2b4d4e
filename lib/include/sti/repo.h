/*
 * The STI-CR store of published certificate chains.  SQLite keeps the
 * chains, the hashed API tokens and the registered client certificates.
 * An open store also keeps every chain in memory, in a hash table of
 * refcounted, immutable entries, so that sti_repo_handle() serves x5u
 * requests without touching the database or the filesystem.
 *
 * URL layout of the server:
 *   GET|HEAD /certs/NAME.pem       a chain, leaf first
 *   GET|POST /api/v1/chains        list, or publish {"name":..,"chain":..}
 *   GET|PUT|DELETE /api/v1/chains/NAME
 *                                  one chain's metadata, publish or
 *                                  replace, remove
 * The API needs "Authorization: Bearer TOKEN" or, when the server
 * verifies client certificates, a registered client certificate.
 */
#ifndef STI_REPO_H
#define STI_REPO_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sti_repo;
struct sti_chain;
struct sti_httpd_request;
struct sti_httpd_response;

/* Maximum length of a name; names match [A-Za-z0-9][A-Za-z0-9._-]*. */
#define STI_REPO_NAME_MAX 128
/* Maximum number of certificates in one chain. */
#define STI_REPO_CHAIN_MAX 8
/* Default budget of contiguous chain copies (sti_repo_serve_options). */
#define STI_REPO_FLAT_BUDGET (1024u * 1024)
/* Default Cache-Control max-age in seconds (24 hours). */
#define STI_REPO_MAX_AGE 86400

/* Returns 1 when NAME is a valid chain or token name, 0 otherwise. */
STI_API int sti_repo_name_valid(const char *name);

/*
 * Checks that DATA is a chain the repository may serve: PEM certificates
 * only (no keys or other blocks), at most STI_REPO_CHAIN_MAX of them, leaf
 * first, each one signed by the next, and a leaf that is an unexpired end
 * entity (not a CA) with a non-critical TNAuthList.  STI_ERR_INVALID or
 * STI_ERR_POLICY
 * name the reason.  On success *out (when non-NULL) receives the parsed
 * chain.
 */
STI_API int sti_repo_check_chain(const void *data, size_t len,
                                 struct sti_chain **out, struct sti_error *err);

/*
 * Opens or creates the database at PATH (WAL) and loads every chain into
 * memory.  One store may serve requests on many threads while another
 * thread publishes.
 */
STI_API int sti_repo_open(const char *path, struct sti_repo **out,
                          struct sti_error *err);
STI_API void sti_repo_close(struct sti_repo *repo);

/*
 * Checks and stores a chain under NAME, replacing any chain of that name.
 * Readers see the old chain or the new one, never a mix.  *replaced (when
 * non-NULL) is set to 1 when NAME existed.  The stored PEM is the canonical
 * form: the certificates re-encoded, without text between blocks.
 */
STI_API int sti_repo_publish(struct sti_repo *repo, const char *name,
                             const void *pem, size_t len, int *replaced,
                             struct sti_error *err);
/* Removes the chain NAME; STI_ERR_NOTFOUND when there is none. */
STI_API int sti_repo_remove(struct sti_repo *repo, const char *name,
                            struct sti_error *err);
/* The number of chains in memory. */
STI_API size_t sti_repo_count(const struct sti_repo *repo);

/*
 * Copies the PEM of the chain NAME; STI_ERR_NOTFOUND when there is none.
 * Free *pem with sti_free().
 */
STI_API int sti_repo_get(struct sti_repo *repo, const char *name, char **pem,
                         size_t *len, struct sti_error *err);

/*
 * Picks up changes that other processes (the sti-cr CLI) committed to the
 * database since the last load: SQLite's data_version changes, and only
 * the chains whose ETag differs are read again.  *changed (when non-NULL)
 * counts the chains added, replaced or removed.
 */
STI_API int sti_repo_sync(struct sti_repo *repo, size_t *changed,
                          struct sti_error *err);

/* One published chain, as listed. */
struct sti_repo_info {
    char name[STI_REPO_NAME_MAX + 1];
    char etag[40];     /* quoted strong ETag, such as "\"3f9a...\"" */
    time_t modified;   /* when it was published */
    time_t not_after;  /* the leaf's notAfter */
    size_t certs;      /* certificates in the chain */
    size_t size;       /* PEM bytes */
    char subject[256]; /* the leaf's subject, RFC 2253 */
};

/* Lists the chains sorted by name; free *list with sti_free(). */
STI_API int sti_repo_list(struct sti_repo *repo, struct sti_repo_info **list,
                          size_t *count, struct sti_error *err);
/*
 * Lists the chains as JSON: {"chains":[{"name":..,"url":..,"etag":..,
 * "modified":"2026-01-01T00:00:00Z","not_after":..,"certificates":N,
 * "size":N,"subject":..}]}.  BASE_URL (such as "https://cr.example:8443")
 * prefixes the "url" members; NULL leaves them out.
 */
STI_API int sti_repo_list_json(struct sti_repo *repo, const char *base_url,
                               char **json, struct sti_error *err);

/*
 * API tokens.  sti_repo_token_add() creates a random 256-bit token under
 * NAME and returns it in *token (free with sti_secret_free()); only its
 * SHA-256 is stored, so it cannot be shown again.
 */
STI_API int sti_repo_token_add(struct sti_repo *repo, const char *name,
                               char **token, struct sti_error *err);
STI_API int sti_repo_token_remove(struct sti_repo *repo, const char *name,
                                  struct sti_error *err);
/* Lists token names and creation times as JSON {"tokens":[..]}. */
STI_API int sti_repo_token_list_json(struct sti_repo *repo, char **json,
                                     struct sti_error *err);
/* The same list as a table: a "NAME  CREATED" header line, then one line
 * per token.  Free with sti_free(). */
STI_API int sti_repo_token_list_text(struct sti_repo *repo, char **text,
                                     struct sti_error *err);
/* Checks TOKEN; on success NAME_OUT (when non-NULL) receives its name. */
STI_API int sti_repo_token_check(struct sti_repo *repo, const char *token,
                                 char name_out[STI_REPO_NAME_MAX + 1],
                                 struct sti_error *err);

/*
 * Client certificates that may use the API instead of a token, when the
 * server verifies them (sti_httpd_config.tls_client_ca_file).  Each is
 * stored as the SHA-256 of its DER under a name.  sti_repo_client_add()
 * registers the PEM or DER certificate CERT under NAME, or under
 * "cert-" and the first 16 hex digits of its SHA-256 when NAME is NULL,
 * and copies the name used to NAME_OUT (when non-NULL).  It fails with
 * STI_ERR_POLICY for an expired certificate and STI_ERR_EXISTS when the
 * name or the certificate is registered already.
 */
STI_API int sti_repo_client_add(struct sti_repo *repo, const char *name,
                                const void *cert, size_t len,
                                char name_out[STI_REPO_NAME_MAX + 1],
                                struct sti_error *err);
/* Removes the client with the name or the SHA-256 (hex) NAME. */
STI_API int sti_repo_client_remove(struct sti_repo *repo, const char *name,
                                   struct sti_error *err);
/* Lists the clients as JSON {"clients":[{"name":..,"sha256":..,
 * "subject":..,"not_after":..,"created":..}]}, sorted by name. */
STI_API int sti_repo_client_list_json(struct sti_repo *repo, char **json,
                                      struct sti_error *err);
/* The same list as a table with a header line.  Free with sti_free(). */
STI_API int sti_repo_client_list_text(struct sti_repo *repo, char **text,
                                      struct sti_error *err);
/* Checks that the certificate with SHA256 (64 hex digits) is registered
 * (STI_ERR_AUTH when not); NAME_OUT (when non-NULL) receives its name. */
STI_API int sti_repo_client_check(struct sti_repo *repo, const char *sha256,
                                  char name_out[STI_REPO_NAME_MAX + 1],
                                  struct sti_error *err);

/*
 * Writes DIR/certs/NAME.pem for every chain (file times set to the
 * publication times, so Last-Modified matches) and DIR/nginx-sti-cr.conf,
 * an nginx location block that serves them with the same Content-Type and
 * Cache-Control as sti-cr.  Then deletes each regular file
 * DIR/certs/NAME.pem whose NAME is a valid chain name but no longer
 * published, so that nginx stops serving a removed chain, and calls
 * ON_REMOVED(ARG, PATH) for it when ON_REMOVED is non-NULL.
 */
STI_API int sti_repo_export(struct sti_repo *repo, const char *dir,
                            unsigned long max_age,
                            void (*on_removed)(void *arg, const char *path),
                            void *arg, struct sti_error *err);

/* Server behaviour; sti_repo_set_serve() may be called before serving. */
struct sti_repo_serve_options {
    unsigned long max_age; /* Cache-Control max-age; 0 means 86400 */
    int disable_api;       /* non-zero: /api returns 404 */
    /* Bytes of ready PEM copies kept for the chains requested first; 0
     * means STI_REPO_FLAT_BUDGET.  Other chains are stored with their
     * leaf as DER and encoded into a new buffer for each response. */
    size_t flat_budget;
};
STI_API void sti_repo_set_serve(struct sti_repo *repo,
                                const struct sti_repo_serve_options *opts);

/* The sti_httpd_handler of sti-cr serve; ARG is the struct sti_repo. */
STI_API void sti_repo_handle(void *arg, const struct sti_httpd_request *req,
                             struct sti_httpd_response *resp);
/*
 * The expect_handler of sti_httpd_config for sti-cr: sends 401 or 403 to
 * an API request with "Expect: 100-continue" that has no valid
 * credentials, before the client uploads its body.  ARG is the same
 * struct sti_repo.
 */
STI_API void sti_repo_handle_expect(void *arg,
                                    const struct sti_httpd_request *req,
                                    struct sti_httpd_response *resp);

/*
 * Checks HOSTS, a comma-separated list of DNS host names (LDH labels) and
 * IP addresses.  STI_ERR_INVALID, naming the bad entry, for an empty
 * list, an empty entry or an entry that is neither.
 */
STI_API int sti_repo_hosts_check(const char *hosts, struct sti_error *err);

/*
 * Checks that CERT_PATH contains a PEM certificate and KEY_PATH an
 * unencrypted PEM private key that matches it, naming the file that is
 * missing, unreadable or wrong.
 */
STI_API int sti_repo_tls_files_check(const char *cert_path,
                                     const char *key_path,
                                     struct sti_error *err);

/*
 * Writes a self-signed P-256 TLS server certificate and its key (mode
 * 0600) for the names in HOSTS, a comma-separated list of DNS names and IP
 * addresses such as "127.0.0.1,localhost", valid for DAYS days.  Fails
 * with STI_ERR_EXISTS when either file exists.
 */
STI_API int sti_repo_make_tls_cert(const char *cert_path, const char *key_path,
                                   const char *hosts, int days,
                                   struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
