/*
 * The ACME server core (RFC 8555): routing, the JWS checks every POST
 * goes through, problem documents, the directory and nonces.  Accounts
 * are in acme_account.c; orders, challenges and certificates in
 * acme_order.c.
 */
#include "acme_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Response helpers */

void acme_resp_clear(struct acme_resp *resp)
{
    free(resp->body);
    free(resp->location);
    free(resp->nonce);
    free(resp->link);
    free(resp->allow);
    memset(resp, 0, sizeof(*resp));
    resp->retry_after = -1;
}

static void resp_set_body(struct acme_resp *resp, int status,
                          const char *content_type, char *body)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
}

void acme_reply_json(struct acme_ctx *ctx, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

    json_decref(obj);
    if (text == NULL) {
        resp_set_body(ctx->resp, 500, NULL, NULL);
        return;
    }
    resp_set_body(ctx->resp, status, "application/json", text);
}

static void problem_send(struct acme_ctx *ctx, int status, const char *type,
                         const char *detail)
{
    json_t *doc = json_pack("{s:s, s:s, s:i}", "type", type, "detail", detail,
                            "status", status);
    char *text;

    /* RFC 8555 section 6.2: tell the client which algorithm to use. */
    if (doc != NULL && strcmp(type, STI_ACME_ERR_BAD_SIGNATURE_ALGORITHM) == 0)
        json_object_set_new(doc, "algorithms", json_pack("[s]", "ES256"));
    text = doc ? json_dumps(doc, JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    resp_set_body(ctx->resp, status, "application/problem+json", text);
}

void acme_problem(struct acme_ctx *ctx, int status, const char *type,
                  const char *fmt, ...)
{
    char detail[STI_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    problem_send(ctx, status, type, detail);
}

void acme_url(const struct acme_ctx *ctx, char out[ACME_URL_MAX],
              const char *kind, const char *id)
{
    snprintf(out, ACME_URL_MAX, "%s/%s%s%s", ctx->base, kind, id ? "/" : "",
             id ? id : "");
}

void acme_add_link(struct acme_ctx *ctx, const char *url, const char *rel)
{
    char *old = ctx->resp->link;
    size_t n = strlen(url) + strlen(rel) + (old ? strlen(old) : 0) + 16;
    char *link = malloc(n);

    if (link == NULL)
        return;
    snprintf(link, n, "%s%s<%s>;rel=\"%s\"", old ? old : "", old ? ", " : "",
             url, rel);
    free(old);
    ctx->resp->link = link;
}

/* The JWS checks of RFC 8555 section 6.2 to 6.4 */

static int content_type_is(const char *value, const char *want)
{
    size_t n = strlen(want);

    return value != NULL && strncasecmp(value, want, n) == 0 &&
           (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

static json_t *protected_header(struct acme_ctx *ctx, json_t *jws)
{
    const char *b64 = json_string_value(json_object_get(jws, "protected"));
    unsigned char *raw = NULL;
    size_t len = 0;
    json_t *hdr;

    if (b64 == NULL || sti_b64url_decode(b64, strlen(b64), &raw, &len) != 0) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "JWS \"protected\" is missing or not base64url");
        return NULL;
    }
    hdr = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(hdr)) {
        json_decref(hdr);
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "JWS protected header is not a JSON object");
        return NULL;
    }
    return hdr;
}

static int check_nonce_and_url(struct acme_ctx *ctx, json_t *hdr)
{
    const char *nonce = json_string_value(json_object_get(hdr, "nonce"));
    const char *url = json_string_value(json_object_get(hdr, "url"));
    struct sti_error e;

    if (nonce == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_NONCE,
                     "JWS protected header has no \"nonce\"; get one "
                     "from newNonce");
        return -1;
    }
    if (acme_nonce_consume(ctx->srv->db, nonce, ctx->srv->cfg.nonce_lifetime_s,
                           &e) != STI_OK) {
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_NONCE, "%s", e.message);
        return -1;
    }
    if (url == NULL || strcmp(url, ctx->url) != 0) {
        acme_problem(ctx, 401, STI_ACME_ERR_UNAUTHORIZED,
                     "JWS \"url\" '%.200s' is not the request URL '%.200s'",
                     url ? url : "(missing)", ctx->url);
        return -1;
    }
    return 0;
}

static int load_jwk_key(struct acme_ctx *ctx, json_t *jwk)
{
    char *text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    struct sti_error e;

    if (text == NULL || sti_key_from_jwk(text, &ctx->key, &e) != STI_OK ||
        !sti_key_is_p256(ctx->key)) {
        free(text);
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_PUBLIC_KEY,
                     "JWS \"jwk\" is not an EC P-256 public key");
        return -1;
    }
    free(text);
    if (sti_key_to_jwk(ctx->key, &ctx->jwk, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
        return -1;
    }
    return 0;
}

static int load_kid_account(struct acme_ctx *ctx, const char *kid)
{
    char prefix[ACME_URL_MAX];
    size_t n;
    struct sti_error e;

    acme_url(ctx, prefix, "acct/", NULL);
    n = strlen(prefix);
    if (strncmp(kid, prefix, n) != 0 ||
        acme_account_find(ctx->srv->db, kid + n, &ctx->account, &e) != STI_OK) {
        acme_problem(ctx, 400, STI_ACME_ERR_ACCOUNT_DOES_NOT_EXIST,
                     "no account at kid '%.200s'; create one with "
                     "newAccount",
                     kid);
        return -1;
    }
    if (strcmp(ctx->account.status, "valid") != 0) {
        acme_problem(ctx, 401, STI_ACME_ERR_UNAUTHORIZED, "account %s is %s",
                     ctx->account.id, ctx->account.status);
        return -1;
    }
    if (sti_key_from_jwk(ctx->account.jwk, &ctx->key, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
        return -1;
    }
    ctx->jwk = strdup(ctx->account.jwk);
    return 0;
}

/* The kind of signer a resource accepts in the protected header. */
enum signer { SIGNER_KID, SIGNER_JWK, SIGNER_EITHER };

/* Exactly one of "jwk" (newAccount) and "kid" (everything else); revokeCert
 * takes either (RFC 8555 section 7.6). */
static int check_signer(struct acme_ctx *ctx, json_t *hdr, enum signer want)
{
    int want_jwk = want == SIGNER_JWK ||
                   (want == SIGNER_EITHER && json_object_get(hdr, "jwk"));

    json_t *jwk = json_object_get(hdr, "jwk");
    const char *kid = json_string_value(json_object_get(hdr, "kid"));

    if (jwk != NULL && json_object_get(hdr, "kid") != NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "JWS protected header has both \"jwk\" and \"kid\"");
        return -1;
    }
    if (want_jwk && !json_is_object(jwk)) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "this resource needs a \"jwk\" in the protected "
                     "header, not a \"kid\"");
        return -1;
    }
    if (!want_jwk && kid == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "this resource needs the account URL as \"kid\" in "
                     "the protected header");
        return -1;
    }
    return want_jwk ? load_jwk_key(ctx, jwk) : load_kid_account(ctx, kid);
}

static int check_signature(struct acme_ctx *ctx)
{
    const struct acme_req *req = ctx->req;
    struct sti_jws *jws = NULL;
    const char *payload;
    struct sti_error e;

    if (sti_jws_parse_flattened((const char *)req->body, req->body_len, &jws,
                                &e) != STI_OK ||
        sti_jws_verify(jws, ctx->key, &e) != STI_OK) {
        sti_jws_free(jws);
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "JWS signature does not verify with the %s key: %s",
                     ctx->account.id[0] ? "account" : "jwk", e.message);
        return -1;
    }
    payload = sti_jws_payload_json(jws);
    if (payload != NULL && payload[0] != '\0') {
        ctx->payload = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(ctx->payload)) {
            sti_jws_free(jws);
            acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                         "JWS payload is not a JSON object");
            return -1;
        }
    }
    sti_jws_free(jws);
    return 0;
}

/* Runs every check on a POST body; 0 when the request may proceed. */
static int check_jws(struct acme_ctx *ctx, enum signer want)
{
    json_t *body, *hdr;
    const char *alg;
    int rc = -1;

    if (!content_type_is(ctx->req->content_type, "application/jose+json")) {
        acme_problem(ctx, 415, STI_ACME_ERR_MALFORMED,
                     "Content-Type must be application/jose+json");
        return -1;
    }
    body = json_loadb((const char *)ctx->req->body, ctx->req->body_len,
                      JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "request body is not a flattened JWS JSON object");
        return -1;
    }
    hdr = protected_header(ctx, body);
    json_decref(body);
    if (hdr == NULL)
        return -1;
    alg = json_string_value(json_object_get(hdr, "alg"));
    if (alg == NULL || strcmp(alg, "ES256") != 0)
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_SIGNATURE_ALGORITHM,
                     "JWS alg '%.16s' is not supported; sign with ES256",
                     alg ? alg : "(missing)");
    else if (check_nonce_and_url(ctx, hdr) == 0 &&
             check_signer(ctx, hdr, want) == 0)
        rc = check_signature(ctx);
    json_decref(hdr);
    return rc;
}

/* Directory and nonces (RFC 8555 sections 7.1.1 and 7.2) */

static void handle_directory(struct acme_ctx *ctx)
{
    char nonce[ACME_URL_MAX], acct[ACME_URL_MAX], order[ACME_URL_MAX],
        revoke[ACME_URL_MAX], key_change[ACME_URL_MAX];
    json_t *dir;

    acme_url(ctx, nonce, "new-nonce", NULL);
    acme_url(ctx, acct, "new-account", NULL);
    acme_url(ctx, order, "new-order", NULL);
    acme_url(ctx, revoke, "revoke-cert", NULL);
    acme_url(ctx, key_change, "key-change", NULL);
    dir = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:b}}", "newNonce", nonce,
                    "newAccount", acct, "newOrder", order, "revokeCert", revoke,
                    "keyChange", key_change, "meta", "externalAccountRequired",
                    ctx->srv->cfg.eab_required);
    acme_reply_json(ctx, 200, dir);
}

static void handle_new_nonce(struct acme_ctx *ctx)
{
    const char *m = ctx->req->method;

    /* The nonce itself is added to every response by the caller. */
    if (strcmp(m, "HEAD") == 0)
        resp_set_body(ctx->resp, 200, NULL, NULL);
    else
        resp_set_body(ctx->resp, 204, NULL, NULL);
}

/* Routing */

/* Splits "KIND/ID[/SUFFIX]" from the path after the prefix. */
static int route_match(const char *rest, const char *kind, const char *suffix,
                       char id[ACME_ID_LEN])
{
    size_t k = strlen(kind);
    const char *p, *slash;
    size_t n;

    if (rest[0] != '/' || strncmp(rest + 1, kind, k) != 0 || rest[1 + k] != '/')
        return 0;
    p = rest + 2 + k;
    slash = strchr(p, '/');
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= ACME_ID_LEN)
        return 0;
    if (suffix == NULL ? slash != NULL
                       : (slash == NULL || strcmp(slash + 1, suffix) != 0))
        return 0;
    memcpy(id, p, n);
    id[n] = '\0';
    return 1;
}

static void route_post(struct acme_ctx *ctx)
{
    const char *rest = ctx->rest;
    char id[ACME_ID_LEN];
    int new_account = strcmp(rest, "/new-account") == 0;
    enum signer want = new_account ? SIGNER_JWK : SIGNER_KID;

    if (strcmp(rest, "/revoke-cert") == 0)
        want = SIGNER_EITHER;
    if (check_jws(ctx, want) != 0)
        return;
    if (new_account)
        acme_handle_new_account(ctx);
    else if (strcmp(rest, "/new-order") == 0)
        acme_handle_new_order(ctx);
    else if (strcmp(rest, "/revoke-cert") == 0)
        acme_handle_revoke(ctx);
    else if (strcmp(rest, "/key-change") == 0)
        acme_handle_key_change(ctx);
    else if (route_match(rest, "acct", NULL, id))
        acme_handle_account(ctx, id);
    else if (route_match(rest, "acct", "orders", id))
        acme_handle_orders(ctx, id);
    else if (route_match(rest, "order", "finalize", id))
        acme_handle_finalize(ctx, id);
    else if (route_match(rest, "order", NULL, id))
        acme_handle_order(ctx, id);
    else if (route_match(rest, "authz", NULL, id))
        acme_handle_authz(ctx, id);
    else if (route_match(rest, "chall", NULL, id))
        acme_handle_challenge(ctx, id);
    else if (route_match(rest, "cert", NULL, id))
        acme_handle_cert(ctx, id);
    else
        acme_problem(ctx, 404, STI_ACME_ERR_MALFORMED,
                     "no ACME resource at %.200s", ctx->url);
}

static void method_not_allowed(struct acme_ctx *ctx, const char *allow)
{
    ctx->resp->allow = strdup(allow);
    acme_problem(ctx, 405, STI_ACME_ERR_MALFORMED,
                 "method %s is not allowed here; use %s", ctx->req->method,
                 allow);
}

static void route(struct acme_ctx *ctx)
{
    const char *m = ctx->req->method;
    int get = strcmp(m, "GET") == 0, head = strcmp(m, "HEAD") == 0;

    if (strcmp(ctx->rest, "/directory") == 0) {
        if (get || head)
            handle_directory(ctx);
        else
            method_not_allowed(ctx, "GET");
    } else if (strcmp(ctx->rest, "/new-nonce") == 0) {
        if (get || head)
            handle_new_nonce(ctx);
        else
            method_not_allowed(ctx, "GET, HEAD");
    } else if (strcmp(m, "POST") != 0) {
        /* RFC 8555 section 6.3: resources are read with POST-as-GET. */
        method_not_allowed(ctx, "POST");
    } else {
        route_post(ctx);
    }
}

static void add_nonce(struct acme_ctx *ctx)
{
    char nonce[ACME_ID_LEN];

    if (acme_nonce_new(ctx->srv->db, ctx->srv->cfg.nonce_lifetime_s, nonce,
                       NULL) == STI_OK)
        ctx->resp->nonce = strdup(nonce);
}

void acme_server_process(struct sti_acme_server *srv,
                         const struct acme_req *req, struct acme_resp *resp)
{
    struct acme_ctx ctx;
    size_t plen = strlen(srv->prefix);
    char dir[ACME_URL_MAX];

    memset(&ctx, 0, sizeof(ctx));
    acme_resp_clear(resp);
    ctx.srv = srv;
    ctx.req = req;
    ctx.resp = resp;
    snprintf(ctx.base, sizeof(ctx.base), "%s%s",
             srv->cfg.base_url ? srv->cfg.base_url : req->base_url,
             srv->prefix);
    snprintf(ctx.url, sizeof(ctx.url), "%s%s",
             srv->cfg.base_url ? srv->cfg.base_url : req->base_url, req->path);
    pthread_mutex_lock(&srv->lock);
    if (strncmp(req->path, srv->prefix, plen) != 0) {
        acme_problem(&ctx, 404, STI_ACME_ERR_MALFORMED,
                     "no ACME resource at %.200s; the directory is at "
                     "%s/directory",
                     req->path, srv->prefix);
    } else {
        ctx.rest = req->path + plen;
        route(&ctx);
    }
    add_nonce(&ctx);
    pthread_mutex_unlock(&srv->lock);
    acme_url(&ctx, dir, "directory", NULL);
    acme_add_link(&ctx, dir, "index");
    sti_key_free(ctx.key);
    free(ctx.jwk);
    acme_account_clear(&ctx.account);
    json_decref(ctx.payload);
}

/* Server object and HTTP glue */

int sti_acme_server_new(const struct sti_acme_server_config *config,
                        struct sti_acme_server **out, struct sti_error *err)
{
    struct sti_acme_server *srv;
    int rc;

    *out = NULL;
    if (config == NULL || config->db_path == NULL || config->issue == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "ACME server needs a database path and an issue "
                          "callback");
    if (config->token_authority_count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "ACME server needs at least one token authority "
                          "(STI-PA) certificate");
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    srv->cfg = *config;
    if (srv->cfg.token_skew_s <= 0)
        srv->cfg.token_skew_s = 60;
    if (srv->cfg.validity_days <= 0)
        srv->cfg.validity_days = 365;
    if (srv->cfg.nonce_lifetime_s <= 0)
        srv->cfg.nonce_lifetime_s = 3600;
    if (srv->cfg.order_lifetime_s <= 0)
        srv->cfg.order_lifetime_s = 86400;
    snprintf(srv->prefix, sizeof(srv->prefix), "%s",
             config->path_prefix ? config->path_prefix : "/acme");
    rc = sti_sqlite_open(config->db_path, acme_schema, &srv->db, err);
    if (rc != STI_OK) {
        free(srv);
        return rc;
    }
    pthread_mutex_init(&srv->lock, NULL);
    *out = srv;
    return STI_OK;
}

void sti_acme_server_free(struct sti_acme_server *srv)
{
    if (srv == NULL)
        return;
    sqlite3_close(srv->db);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

static void send_response(const struct acme_resp *r,
                          struct sti_httpd_response *resp)
{
    char retry[32];

    sti_httpd_set_status(resp, r->status ? r->status : 500);
    if (r->body != NULL)
        sti_httpd_set_body(resp, r->content_type, r->body, r->body_len);
    if (r->nonce != NULL)
        sti_httpd_add_header(resp, "Replay-Nonce", r->nonce);
    sti_httpd_add_header(resp, "Cache-Control", "no-store");
    if (r->location != NULL)
        sti_httpd_add_header(resp, "Location", r->location);
    if (r->link != NULL)
        sti_httpd_add_header(resp, "Link", r->link);
    if (r->allow != NULL)
        sti_httpd_add_header(resp, "Allow", r->allow);
    if (r->retry_after >= 0) {
        snprintf(retry, sizeof(retry), "%ld", r->retry_after);
        sti_httpd_add_header(resp, "Retry-After", retry);
    }
}

void sti_acme_server_handle(void *arg, const struct sti_httpd_request *req,
                            struct sti_httpd_response *resp)
{
    struct sti_acme_server *srv = arg;
    struct acme_req r;
    struct acme_resp out;

    memset(&r, 0, sizeof(r));
    memset(&out, 0, sizeof(out));
    out.retry_after = -1;
    r.method = sti_httpd_method(req);
    r.path = sti_httpd_path(req);
    r.base_url = sti_httpd_base_url(req);
    r.content_type = sti_httpd_header(req, "Content-Type");
    r.body = sti_httpd_body(req, &r.body_len);
    if (r.body == NULL) {
        r.body = (const unsigned char *)"";
        r.body_len = 0;
    }
    acme_server_process(srv, &r, &out);
    send_response(&out, resp);
    acme_resp_clear(&out);
}
