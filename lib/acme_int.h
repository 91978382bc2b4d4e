/* Declarations shared by the lib/acme*.c files and their unit tests. */
#ifndef STI_ACME_INT_H
#define STI_ACME_INT_H

#include "internal.h"

#include <jansson.h>
#include <pthread.h>

/* Lengths of the random identifiers in URLs and of nonces. */
#define ACME_ID_LEN 23 /* 16 random bytes in base64url, plus NUL */
#define ACME_URL_MAX 1024

/* A request as the server core receives it, independent of libmicrohttpd. */
struct acme_req {
    const char *method;
    const char *path;
    const char *base_url; /* "https://host:port", no trailing slash */
    const char *content_type;
    const unsigned char *body;
    size_t body_len;
};

/* The response the core builds; the HTTP glue sends it. */
struct acme_resp {
    int status;
    const char *content_type; /* static string or NULL */
    char *body;
    size_t body_len;
    char *location;
    char *nonce;
    char *link;       /* one Link header value, or NULL */
    long retry_after; /* -1: none */
    char *allow;      /* Allow header for 405, or NULL */
};

struct sti_acme_server {
    struct sti_acme_server_config cfg;
    sqlite3 *db;
    pthread_mutex_t lock; /* one request at a time touches the database */
    char prefix[128];
};

/* Runs one request through the server core; fills RESP. */
void acme_server_process(struct sti_acme_server *srv,
                         const struct acme_req *req, struct acme_resp *resp);
void acme_resp_clear(struct acme_resp *resp);

/* Store: the SQLite schema and its rows (lib/acme_store.c). */
extern const char acme_schema[];
int acme_random_id(char out[ACME_ID_LEN]);
/* Issues a nonce and deletes those older than LIFETIME seconds. */
int acme_nonce_new(sqlite3 *db, long lifetime, char out[ACME_ID_LEN],
                   struct sti_error *err);
/* STI_OK when NONCE was issued, unused and younger than LIFETIME; it is
 * spent either way.  STI_ERR_NOTFOUND otherwise. */
int acme_nonce_consume(sqlite3 *db, const char *nonce, long lifetime,
                       struct sti_error *err);
/* Records a token's jti; STI_ERR_EXISTS when it was seen before. */
int acme_jti_record(sqlite3 *db, const char *jti, long exp,
                    struct sti_error *err);

struct acme_account {
    char id[ACME_ID_LEN];
    char *jwk;     /* canonical public JWK */
    char *contact; /* JSON array text or NULL */
    char status[16];
};
void acme_account_clear(struct acme_account *acct);
int acme_account_find_by_thumbprint(sqlite3 *db, const char *thumbprint,
                                    struct acme_account *out,
                                    struct sti_error *err);
int acme_account_find(sqlite3 *db, const char *id, struct acme_account *out,
                      struct sti_error *err);
int acme_account_insert(sqlite3 *db, const struct acme_account *acct,
                        const char *thumbprint, const char *eab_kid,
                        struct sti_error *err);
int acme_account_set_contact(sqlite3 *db, const char *id, const char *contact,
                             struct sti_error *err);
int acme_account_set_key(sqlite3 *db, const char *id, const char *jwk,
                         const char *thumbprint, struct sti_error *err);
int acme_account_set_status(sqlite3 *db, const char *id, const char *status,
                            struct sti_error *err);

/* One request in flight: what the JWS check found out about it. */
struct acme_ctx {
    struct sti_acme_server *srv;
    const struct acme_req *req;
    struct acme_resp *resp;
    char base[ACME_URL_MAX / 2]; /* base URL and prefix, e.g. ".../acme" */
    char url[ACME_URL_MAX];      /* the URL of this request */
    const char *rest;            /* the path after the prefix */
    struct sti_key *key;         /* the key that signed the request */
    char *jwk;                   /* its public JWK, canonical */
    struct acme_account account; /* the account, for "kid" requests */
    json_t *payload;             /* NULL for POST-as-GET */
};

/* Sends an RFC 7807 problem document with an ACME error TYPE. */
void acme_problem(struct acme_ctx *ctx, int status, const char *type,
                  const char *fmt, ...) STI_PRINTF(4, 5);
/* Sends OBJ as JSON with STATUS and takes the reference. */
void acme_reply_json(struct acme_ctx *ctx, int status, json_t *obj);
/* Writes "BASE/KIND/ID" (ID may be NULL) into OUT. */
void acme_url(const struct acme_ctx *ctx, char out[ACME_URL_MAX],
              const char *kind, const char *id);
/* Adds a Link header value; REL is "up", "index" or "alternate". */
void acme_add_link(struct acme_ctx *ctx, const char *url, const char *rel);

/* Account handlers (lib/acme_account.c). */
void acme_handle_new_account(struct acme_ctx *ctx);
void acme_handle_account(struct acme_ctx *ctx, const char *id);
void acme_handle_orders(struct acme_ctx *ctx, const char *id);
void acme_handle_key_change(struct acme_ctx *ctx);

/* Resource handlers for "kid" requests (lib/acme_order.c). */
void acme_handle_new_order(struct acme_ctx *ctx);
void acme_handle_order(struct acme_ctx *ctx, const char *id);
void acme_handle_finalize(struct acme_ctx *ctx, const char *id);
void acme_handle_authz(struct acme_ctx *ctx, const char *id);
void acme_handle_challenge(struct acme_ctx *ctx, const char *id);
void acme_handle_cert(struct acme_ctx *ctx, const char *id);
void acme_handle_revoke(struct acme_ctx *ctx);

struct acme_order {
    char id[ACME_ID_LEN];
    char account_id[ACME_ID_LEN];
    char authz_id[ACME_ID_LEN];
    char chall_id[ACME_ID_LEN];
    char chall_token[ACME_ID_LEN];
    char status[16];       /* pending, ready, processing, valid, invalid */
    char authz_status[16]; /* pending, valid, invalid */
    char chall_status[16]; /* pending, valid, invalid */
    char *identifier;      /* the identifier value as received */
    unsigned char *tnauth_der;
    size_t tnauth_len;
    long expires;
    long validated; /* when the challenge passed, 0 before */
    int token_ca;   /* the SPC token's "ca" */
    long token_exp; /* the SPC token's "exp" */
    char cert_id[ACME_ID_LEN];
    char *x5u;
    char *error; /* problem document JSON, or NULL */
};
void acme_order_clear(struct acme_order *order);
int acme_order_insert(sqlite3 *db, const struct acme_order *order,
                      struct sti_error *err);
/* Finds an order by its own id, its authorization id or its challenge id;
 * BY is "id", "authz_id" or "chall_id". */
int acme_order_find(sqlite3 *db, const char *by, const char *value,
                    struct acme_order *out, struct sti_error *err);
/* Writes back the status columns, token data, cert_id, x5u and error. */
int acme_order_update(sqlite3 *db, const struct acme_order *order,
                      struct sti_error *err);

/* Appends the ids of ACCOUNT_ID's orders to the JSON array IDS. */
int acme_order_list(sqlite3 *db, const char *account_id, json_t *ids,
                    struct sti_error *err);

int acme_cert_insert(sqlite3 *db, const char *id, const char *order_id,
                     const char *account_id, const char *serial,
                     const char *chain_pem, struct sti_error *err);
/* Finds a certificate by id (ID non-NULL) or by serial. */
int acme_cert_find(sqlite3 *db, const char *id, const char *serial,
                   char **account_id, char **chain_pem, int *revoked,
                   struct sti_error *err);
int acme_cert_set_revoked(sqlite3 *db, const char *serial, int reason,
                          struct sti_error *err);

int acme_eab_find(sqlite3 *db, const char *key_id, unsigned char **key,
                  size_t *key_len, char **used_by, struct sti_error *err);
int acme_eab_bind(sqlite3 *db, const char *key_id, const char *account_id,
                  struct sti_error *err);

/* The SPC token checks of tkauth-01 (lib/acme_tkauth.c). */
struct acme_token_check {
    const struct sti_cert *const *authorities;
    size_t authority_count;
    long skew_s;
    time_t now;
    const unsigned char *tnauth_der; /* the order identifier's DER */
    size_t tnauth_len;
    const struct sti_key *account_key;
};
struct acme_token_claims {
    char jti[128];
    long exp;
    int ca;
};
/* Checks TOKEN against CHECK; on failure ERR's message is the detail of
 * an "unauthorized" problem.  The jti is not recorded here. */
int acme_token_verify(const char *token, const struct acme_token_check *check,
                      struct acme_token_claims *claims, struct sti_error *err);
/* Decodes a TNAuthList identifier value: base64 (RFC 4648 section 4) as
 * SPC tokens carry it, or base64url. */
int acme_tnauth_value_decode(const char *value, unsigned char **der,
                             size_t *len);

/* Formats T as RFC 3339 UTC ("2026-01-02T03:04:05Z"). */
void acme_time_format(time_t t, char out[32]);

/* Client (lib/acme_client.c and lib/acme_obtain.c). */
struct sti_acme_client {
    char *directory_url;
    json_t *directory;
    struct sti_key *key;
    struct sti_http_options http;
    char *nonce; /* from the last reply, used once */
    char *kid;   /* the account URL */
};
int acme_client_request(struct sti_acme_client *client, const char *method,
                        const char *url, const char *body,
                        struct sti_acme_reply **out, struct sti_error *err);
int acme_client_post_as(struct sti_acme_client *client, const char *url,
                        const char *payload, int use_jwk,
                        struct sti_acme_reply **out, struct sti_error *err);
/* Fills ERR from a failed reply: its problem type and detail. */
int acme_reply_error(const struct sti_acme_reply *reply, const char *what,
                     struct sti_error *err);

#endif
