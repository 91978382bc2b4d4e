/*
 * The ACME server core (RFC 8555): routing, the JWS checks every POST
 * goes through, problem documents, the directory, nonces and accounts.
 * Orders, challenges and certificates are in acme_order.c.
 */
#include "acme_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

/* Exactly one of "jwk" (newAccount) and "kid" (everything else). */
static int check_signer(struct acme_ctx *ctx, json_t *hdr, int want_jwk)
{
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
static int check_jws(struct acme_ctx *ctx, int want_jwk)
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
             check_signer(ctx, hdr, want_jwk) == 0)
        rc = check_signature(ctx);
    json_decref(hdr);
    return rc;
}

/* Directory and nonces (RFC 8555 sections 7.1.1 and 7.2) */

static void handle_directory(struct acme_ctx *ctx)
{
    char nonce[ACME_URL_MAX], acct[ACME_URL_MAX], order[ACME_URL_MAX],
        revoke[ACME_URL_MAX];
    json_t *dir;

    acme_url(ctx, nonce, "new-nonce", NULL);
    acme_url(ctx, acct, "new-account", NULL);
    acme_url(ctx, order, "new-order", NULL);
    acme_url(ctx, revoke, "revoke-cert", NULL);
    /* TODO: keyChange (RFC 8555 section 7.3.5) is not offered. */
    dir = json_pack("{s:s, s:s, s:s, s:s, s:{s:b}}", "newNonce", nonce,
                    "newAccount", acct, "newOrder", order, "revokeCert", revoke,
                    "meta", "externalAccountRequired",
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

/* Accounts (RFC 8555 section 7.3) */

static json_t *account_json(struct acme_ctx *ctx,
                            const struct acme_account *acct)
{
    char orders[ACME_URL_MAX];
    json_t *obj, *contact = NULL;

    acme_url(ctx, orders, "acct", acct->id);
    strncat(orders, "/orders", sizeof(orders) - strlen(orders) - 1);
    obj = json_pack("{s:s, s:s}", "status", acct->status, "orders", orders);
    if (acct->contact != NULL)
        contact = json_loads(acct->contact, 0, NULL);

    if (obj != NULL && contact != NULL)
        json_object_set_new(obj, "contact", contact);
    else
        json_decref(contact);
    return obj;
}

static int contact_check(struct acme_ctx *ctx, json_t *contact)
{
    size_t i;
    json_t *v;

    if (contact == NULL)
        return 0;
    if (!json_is_array(contact) || json_array_size(contact) > 8)
        goto bad;
    json_array_foreach(contact, i, v)
    {
        const char *s = json_string_value(v);

        if (s == NULL || strncmp(s, "mailto:", 7) != 0 || strlen(s) > 256)
            goto bad;
    }
    return 0;
bad:
    acme_problem(ctx, 400, STI_ACME_ERR_PREFIX "invalidContact",
                 "\"contact\" must be an array of at most 8 mailto: URLs");
    return -1;
}

static void reply_account(struct acme_ctx *ctx, int status,
                          const struct acme_account *acct)
{
    char url[ACME_URL_MAX];

    acme_url(ctx, url, "acct", acct->id);
    ctx->resp->location = strdup(url);
    acme_reply_json(ctx, status, account_json(ctx, acct));
}

/* RFC 8555 section 7.3.4: an HS256 JWS over the account JWK. */
static int eab_verify_mac(json_t *eab, const unsigned char *key, size_t key_len)
{
    const char *prot = json_string_value(json_object_get(eab, "protected"));
    const char *payload = json_string_value(json_object_get(eab, "payload"));
    const char *sig = json_string_value(json_object_get(eab, "signature"));
    unsigned char mac[EVP_MAX_MD_SIZE], *received = NULL;
    unsigned int mac_len = 0;
    size_t received_len = 0, input_len;
    char *input;
    int ok = 0;

    if (prot == NULL || payload == NULL || sig == NULL)
        return 0;
    input_len = strlen(prot) + 1 + strlen(payload);
    input = malloc(input_len + 1);
    if (input == NULL)
        return 0;
    snprintf(input, input_len + 1, "%s.%s", prot, payload);
    if (HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)input, input_len,
             mac, &mac_len) != NULL &&
        sti_b64url_decode(sig, strlen(sig), &received, &received_len) ==
            STI_OK &&
        received_len == mac_len && CRYPTO_memcmp(mac, received, mac_len) == 0)
        ok = 1;
    free(input);
    free(received);
    return ok;
}

static int eab_check_header(struct acme_ctx *ctx, json_t *eab, char *kid_out,
                            size_t kid_size)
{
    const char *prot = json_string_value(json_object_get(eab, "protected"));
    const char *payload = json_string_value(json_object_get(eab, "payload"));
    unsigned char *raw = NULL;
    size_t len = 0;
    json_t *hdr = NULL;
    const char *alg, *kid, *url;
    struct sti_key *inner = NULL;
    int rc = -1;

    if (prot && sti_b64url_decode(prot, strlen(prot), &raw, &len) == STI_OK)
        hdr = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    raw = NULL;
    alg = json_string_value(json_object_get(hdr, "alg"));
    kid = json_string_value(json_object_get(hdr, "kid"));
    url = json_string_value(json_object_get(hdr, "url"));
    if (payload &&
        sti_b64url_decode(payload, strlen(payload), &raw, &len) == STI_OK) {
        char *jwk = strndup((const char *)raw, len);

        if (jwk == NULL || sti_key_from_jwk(jwk, &inner, NULL) != STI_OK)
            inner = NULL;
        free(jwk);
    }
    free(raw);
    if (alg && strcmp(alg, "HS256") == 0 && kid && url &&
        strcmp(url, ctx->url) == 0 && inner != NULL &&
        sti_key_public_equal(inner, ctx->key)) {
        snprintf(kid_out, kid_size, "%s", kid);
        rc = 0;
    }
    sti_key_free(inner);
    json_decref(hdr);
    return rc;
}

static int eab_check(struct acme_ctx *ctx, char *kid, size_t kid_size)
{
    json_t *eab = json_object_get(ctx->payload, "externalAccountBinding");
    unsigned char *key = NULL;
    size_t key_len = 0;
    char *used_by = NULL;
    int ok;

    kid[0] = '\0';
    if (eab == NULL && !ctx->srv->cfg.eab_required)
        return 0;
    if (eab == NULL) {
        acme_problem(ctx, 403, STI_ACME_ERR_EAB_REQUIRED,
                     "this CA requires an externalAccountBinding; ask its "
                     "operator for a key id and HMAC key");
        return -1;
    }
    if (!json_is_object(eab) || eab_check_header(ctx, eab, kid, kid_size) ||
        acme_eab_find(ctx->srv->db, kid, &key, &key_len, &used_by, NULL)) {
        acme_problem(ctx, 401, STI_ACME_ERR_UNAUTHORIZED,
                     "externalAccountBinding is malformed or names an "
                     "unknown key id");
        return -1;
    }
    ok = used_by == NULL && eab_verify_mac(eab, key, key_len);
    sti_clear_free(key, key_len);
    free(used_by);
    if (!ok) {
        acme_problem(ctx, 401, STI_ACME_ERR_UNAUTHORIZED,
                     "externalAccountBinding for key id '%.64s' has a bad "
                     "MAC or the key id is already bound",
                     kid);
        return -1;
    }
    return 0;
}

static void create_account(struct acme_ctx *ctx, const char *thumbprint)
{
    json_t *contact = json_object_get(ctx->payload, "contact");
    struct acme_account acct;
    char eab_kid[80];
    struct sti_error e;

    if (contact_check(ctx, contact) || eab_check(ctx, eab_kid, sizeof(eab_kid)))
        return;
    memset(&acct, 0, sizeof(acct));
    acct.jwk = ctx->jwk;
    acct.contact = contact ? json_dumps(contact, JSON_COMPACT) : NULL;
    snprintf(acct.status, sizeof(acct.status), "valid");
    if (acme_random_id(acct.id) != STI_OK ||
        acme_account_insert(ctx->srv->db, &acct, thumbprint,
                            eab_kid[0] ? eab_kid : NULL, &e) != STI_OK ||
        (eab_kid[0] && acme_eab_bind(ctx->srv->db, eab_kid, acct.id, &e))) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL,
                     "cannot store the account");
    } else {
        sti_log(STI_LOG_INFO, "acme: account %s created%s%s", acct.id,
                eab_kid[0] ? " with EAB key id " : "", eab_kid);
        reply_account(ctx, 201, &acct);
    }
    free(acct.contact);
}

static void handle_new_account(struct acme_ctx *ctx)
{
    json_t *only = json_object_get(ctx->payload, "onlyReturnExisting");
    struct acme_account acct;
    char *thumbprint = NULL;
    struct sti_error e;

    if (ctx->payload == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "newAccount needs a JSON object payload");
        return;
    }
    if (sti_key_jwk_thumbprint(ctx->key, &thumbprint, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
        return;
    }
    if (acme_account_find_by_thumbprint(ctx->srv->db, thumbprint, &acct, &e) ==
        STI_OK) {
        reply_account(ctx, 200, &acct);
        acme_account_clear(&acct);
    } else if (json_is_true(only)) {
        acme_problem(ctx, 400, STI_ACME_ERR_ACCOUNT_DOES_NOT_EXIST,
                     "no account exists for this key");
    } else {
        create_account(ctx, thumbprint);
    }
    free(thumbprint);
}

static int account_deactivate(struct acme_ctx *ctx, json_t *status)
{
    struct sti_error e;

    if (!json_is_string(status) ||
        strcmp(json_string_value(status), "deactivated") != 0) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "an account's status can only be set to "
                     "\"deactivated\"");
        return -1;
    }
    if (acme_account_set_status(ctx->srv->db, ctx->account.id, "deactivated",
                                &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
        return -1;
    }
    snprintf(ctx->account.status, sizeof(ctx->account.status), "deactivated");
    sti_log(STI_LOG_INFO, "acme: account %s deactivated", ctx->account.id);
    return 0;
}

/* RFC 8555 section 7.3.2: a new contact list replaces the old one. */
static int account_update_contact(struct acme_ctx *ctx, json_t *contact)
{
    char *text;
    struct sti_error e;

    if (contact_check(ctx, contact) != 0)
        return -1;
    text = json_dumps(contact, JSON_COMPACT);
    if (text == NULL || acme_account_set_contact(ctx->srv->db, ctx->account.id,
                                                 text, &e) != STI_OK) {
        free(text);
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL,
                     "cannot store the contact list");
        return -1;
    }
    free(ctx->account.contact);
    ctx->account.contact = text;
    return 0;
}

/* POST to the account URL: read it, update contact, or deactivate. */
static void handle_account(struct acme_ctx *ctx, const char *id)
{
    json_t *status = json_object_get(ctx->payload, "status");
    json_t *contact = json_object_get(ctx->payload, "contact");

    if (strcmp(id, ctx->account.id) != 0) {
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "account URL does not belong to the signing account");
        return;
    }
    if (contact != NULL && account_update_contact(ctx, contact) != 0)
        return;
    if (status != NULL && account_deactivate(ctx, status) != 0)
        return;
    reply_account(ctx, 200, &ctx->account);
}

/* The orders list of an account (RFC 8555 section 7.1.2.1). */
static void handle_orders(struct acme_ctx *ctx, const char *id)
{
    json_t *ids = json_array(), *urls = json_array(), *v;
    char url[ACME_URL_MAX];
    struct sti_error e;
    size_t i;

    if (strcmp(id, ctx->account.id) != 0) {
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "orders list does not belong to the signing account");
    } else if (acme_order_list(ctx->srv->db, id, ids, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
    } else {
        json_array_foreach(ids, i, v)
        {
            acme_url(ctx, url, "order", json_string_value(v));
            json_array_append_new(urls, json_string(url));
        }
        acme_reply_json(ctx, 200, json_pack("{s:O}", "orders", urls));
    }
    json_decref(ids);
    json_decref(urls);
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

    if (check_jws(ctx, new_account) != 0)
        return;
    if (new_account)
        handle_new_account(ctx);
    else if (strcmp(rest, "/new-order") == 0)
        acme_handle_new_order(ctx);
    else if (strcmp(rest, "/revoke-cert") == 0)
        acme_handle_revoke(ctx);
    else if (route_match(rest, "acct", NULL, id))
        handle_account(ctx, id);
    else if (route_match(rest, "acct", "orders", id))
        handle_orders(ctx, id);
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

    if (acme_nonce_new(ctx->srv->db, nonce, NULL) == STI_OK)
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
