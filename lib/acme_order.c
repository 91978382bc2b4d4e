/*
 * ACME orders with a TNAuthList identifier (RFC 9448), their
 * tkauth-01 challenge (RFC 9447), finalize, certificate download and
 * revocation (RFC 8555 sections 7.4 to 7.6).
 */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

#define TKAUTH_TYPE "tkauth-01"

static void set_status(char *field, const char *value)
{
    snprintf(field, 16, "%s", value);
}

/* Expired orders that never reached a certificate become invalid. */
static void order_refresh(struct acme_ctx *ctx, struct acme_order *o)
{
    if (strcmp(o->status, "valid") == 0 || strcmp(o->status, "invalid") == 0)
        return;
    if (time(NULL) <= o->expires)
        return;
    set_status(o->status, "invalid");
    if (strcmp(o->authz_status, "pending") == 0)
        set_status(o->authz_status, "expired");
    acme_order_update(ctx->srv->db, o, NULL);
}

/* Loads the order that BY=ID names and checks that the signer owns it. */
static int order_load(struct acme_ctx *ctx, const char *by, const char *id,
                      struct acme_order *o)
{
    if (acme_order_find(ctx->srv->db, by, id, o, NULL) != STI_OK) {
        acme_problem(ctx, 404, STI_ACME_ERR_MALFORMED,
                     "no such resource: %.200s", ctx->url);
        return -1;
    }
    if (strcmp(o->account_id, ctx->account.id) != 0) {
        acme_order_clear(o);
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "%.200s belongs to another account", ctx->url);
        return -1;
    }
    order_refresh(ctx, o);
    return 0;
}

static json_t *identifier_json(const struct acme_order *o)
{
    return json_pack("{s:s, s:s}", "type", "TNAuthList", "value",
                     o->identifier);
}

static json_t *order_json(struct acme_ctx *ctx, const struct acme_order *o)
{
    char authz[ACME_URL_MAX], finalize[ACME_URL_MAX], cert[ACME_URL_MAX];
    char expires[32];
    json_t *obj;

    acme_url(ctx, authz, "authz", o->authz_id);
    acme_url(ctx, finalize, "order", o->id);
    strncat(finalize, "/finalize", sizeof(finalize) - strlen(finalize) - 1);
    acme_time_format((time_t)o->expires, expires);
    obj = json_pack("{s:s, s:s, s:[o], s:[s], s:s}", "status", o->status,
                    "expires", expires, "identifiers", identifier_json(o),
                    "authorizations", authz, "finalize", finalize);
    if (obj == NULL)
        return NULL;
    if (o->cert_id[0] != '\0') {
        acme_url(ctx, cert, "cert", o->cert_id);
        json_object_set_new(obj, "certificate", json_string(cert));
    }
    /* Deployed STI-CAs hand the repository URL back as "x5u". */
    if (o->x5u != NULL)
        json_object_set_new(obj, "x5u", json_string(o->x5u));
    if (o->error != NULL)
        json_object_set_new(obj, "error", json_loads(o->error, 0, NULL));
    return obj;
}

static void reply_order(struct acme_ctx *ctx, int status,
                        const struct acme_order *o)
{
    char url[ACME_URL_MAX];

    acme_url(ctx, url, "order", o->id);
    ctx->resp->location = strdup(url);
    /* RFC 8555 section 7.4: poll a processing order after a while. */
    if (strcmp(o->status, "processing") == 0)
        ctx->resp->retry_after = 1;
    acme_reply_json(ctx, status, order_json(ctx, o));
}

/* newOrder */

static int identifier_parse(struct acme_ctx *ctx, json_t *ids,
                            struct acme_order *o)
{
    json_t *id = json_array_get(ids, 0);
    const char *type = json_string_value(json_object_get(id, "type"));
    const char *value = json_string_value(json_object_get(id, "value"));
    struct sti_tnauth *list = NULL;
    struct sti_error e;

    if (!json_is_array(ids) || json_array_size(ids) != 1 || type == NULL ||
        value == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "\"identifiers\" must hold exactly one {\"type\", "
                     "\"value\"} object");
        return -1;
    }
    if (strcmp(type, "TNAuthList") != 0) {
        acme_problem(ctx, 400, STI_ACME_ERR_PREFIX "unsupportedIdentifier",
                     "identifier type '%.32s' is not supported; use "
                     "\"TNAuthList\"",
                     type);
        return -1;
    }
    if (acme_tnauth_value_decode(value, &o->tnauth_der, &o->tnauth_len) ||
        sti_tnauth_decode(o->tnauth_der, o->tnauth_len, &list, &e)) {
        acme_problem(ctx, 400, STI_ACME_ERR_REJECTED_IDENTIFIER,
                     "identifier value '%.64s' is not the base64 of a DER "
                     "TNAuthList",
                     value);
        return -1;
    }
    sti_tnauth_free(list);
    o->identifier = strdup(value);
    return o->identifier ? 0 : -1;
}

void acme_handle_new_order(struct acme_ctx *ctx)
{
    struct acme_order o;
    json_t *p = ctx->payload;

    memset(&o, 0, sizeof(o));
    if (p == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "newOrder needs a JSON object payload");
        return;
    }
    if (json_object_get(p, "notBefore") || json_object_get(p, "notAfter")) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "notBefore and notAfter are not supported; the SPC "
                     "token's exp bounds the validity");
        return;
    }
    if (identifier_parse(ctx, json_object_get(p, "identifiers"), &o) != 0)
        goto out;
    snprintf(o.account_id, sizeof(o.account_id), "%s", ctx->account.id);
    set_status(o.status, "pending");
    set_status(o.authz_status, "pending");
    set_status(o.chall_status, "pending");
    o.expires = (long)time(NULL) + ctx->srv->cfg.order_lifetime_s;
    if (acme_random_id(o.id) || acme_random_id(o.authz_id) ||
        acme_random_id(o.chall_id) || acme_random_id(o.chall_token) ||
        acme_order_insert(ctx->srv->db, &o, NULL) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL,
                     "cannot store the order");
        goto out;
    }
    sti_log(STI_LOG_INFO, "acme: order %s created by account %s for %s", o.id,
            o.account_id, o.identifier);
    reply_order(ctx, 201, &o);
out:
    acme_order_clear(&o);
}

void acme_handle_order(struct acme_ctx *ctx, const char *id)
{
    struct acme_order o;

    if (order_load(ctx, "id", id, &o) != 0)
        return;
    reply_order(ctx, 200, &o);
    acme_order_clear(&o);
}

/* Authorizations and the tkauth-01 challenge */

static json_t *challenge_json(struct acme_ctx *ctx, const struct acme_order *o)
{
    char url[ACME_URL_MAX], when[32];
    const char *authority = ctx->srv->cfg.token_authority_url;
    json_t *obj;

    acme_url(ctx, url, "chall", o->chall_id);
    obj = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", TKAUTH_TYPE, "url",
                    url, "status", o->chall_status, "token", o->chall_token,
                    "tkauth-type", "atc");
    if (obj == NULL)
        return NULL;
    if (authority != NULL)
        json_object_set_new(obj, "token-authority", json_string(authority));
    if (o->validated > 0) {
        acme_time_format((time_t)o->validated, when);
        json_object_set_new(obj, "validated", json_string(when));
    }
    if (o->error != NULL && strcmp(o->chall_status, "invalid") == 0)
        json_object_set_new(obj, "error", json_loads(o->error, 0, NULL));
    return obj;
}

void acme_handle_authz(struct acme_ctx *ctx, const char *id)
{
    struct acme_order o;
    char expires[32];
    json_t *obj;

    if (order_load(ctx, "authz_id", id, &o) != 0)
        return;
    acme_time_format((time_t)o.expires, expires);
    obj = json_pack("{s:s, s:s, s:o, s:[o]}", "status", o.authz_status,
                    "expires", expires, "identifier", identifier_json(&o),
                    "challenges", challenge_json(ctx, &o));
    acme_reply_json(ctx, 200, obj);
    acme_order_clear(&o);
}

/* Marks challenge, authorization and order invalid, keeping the error. */
static void challenge_fail(struct acme_ctx *ctx, struct acme_order *o,
                           const char *detail)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:i}", "type", STI_ACME_ERR_UNAUTHORIZED,
                  "detail", detail, "status", 403);

    free(o->error);
    o->error = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    set_status(o->chall_status, "invalid");
    set_status(o->authz_status, "invalid");
    set_status(o->status, "invalid");
    acme_order_update(ctx->srv->db, o, NULL);
    sti_log(STI_LOG_WARNING, "acme: challenge %s of order %s failed: %s",
            o->chall_id, o->id, detail);
    acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED, "%s", detail);
}

static void challenge_validate(struct acme_ctx *ctx, struct acme_order *o,
                               const char *token)
{
    struct acme_token_check check;
    struct acme_token_claims claims;
    struct sti_error e;
    char url[ACME_URL_MAX];

    memset(&check, 0, sizeof(check));
    check.authorities = ctx->srv->cfg.token_authorities;
    check.authority_count = ctx->srv->cfg.token_authority_count;
    check.skew_s = ctx->srv->cfg.token_skew_s;
    check.now = time(NULL);
    check.tnauth_der = o->tnauth_der;
    check.tnauth_len = o->tnauth_len;
    check.account_key = ctx->key;
    sti_error_clear(&e);
    if (acme_token_verify(token, &check, &claims, &e) != STI_OK ||
        acme_jti_record(ctx->srv->db, claims.jti, claims.exp, &e) != STI_OK) {
        challenge_fail(ctx, o, e.message);
        return;
    }
    o->token_ca = claims.ca;
    o->token_exp = claims.exp;
    o->validated = (long)check.now;
    set_status(o->chall_status, "valid");
    set_status(o->authz_status, "valid");
    set_status(o->status, "ready");
    if (acme_order_update(ctx->srv->db, o, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
        return;
    }
    sti_log(STI_LOG_INFO, "acme: challenge %s valid, order %s ready (jti %s)",
            o->chall_id, o->id, claims.jti);
    acme_url(ctx, url, "authz", o->authz_id);
    acme_add_link(ctx, url, "up");
    acme_reply_json(ctx, 200, challenge_json(ctx, o));
}

void acme_handle_challenge(struct acme_ctx *ctx, const char *id)
{
    struct acme_order o;
    const char *token;
    char url[ACME_URL_MAX];

    if (order_load(ctx, "chall_id", id, &o) != 0)
        return;
    /* RFC 9447 names the member "tkauth"; deployed clients
     * send "atc". */
    token = json_string_value(json_object_get(ctx->payload, "tkauth"));
    if (token == NULL)
        token = json_string_value(json_object_get(ctx->payload, "atc"));
    if (ctx->payload == NULL || strcmp(o.chall_status, "pending") != 0) {
        acme_url(ctx, url, "authz", o.authz_id);
        acme_add_link(ctx, url, "up");
        acme_reply_json(ctx, 200, challenge_json(ctx, &o));
    } else if (token == NULL) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "tkauth-01 response needs the SPC token as \"tkauth\" "
                     "(or \"atc\") in the payload");
    } else {
        challenge_validate(ctx, &o, token);
    }
    acme_order_clear(&o);
}

/* finalize (RFC 8555 section 7.4) */

static struct sti_csr *csr_from_payload(struct acme_ctx *ctx)
{
    const char *b64 = json_string_value(json_object_get(ctx->payload, "csr"));
    unsigned char *der = NULL;
    size_t len = 0;
    struct sti_csr *csr = NULL;
    struct sti_error e;

    if (b64 == NULL || sti_b64url_decode(b64, strlen(b64), &der, &len)) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "finalize needs \"csr\": the base64url of a DER CSR");
        return NULL;
    }
    if (sti_csr_parse(der, len, &csr, &e) != STI_OK)
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR, "CSR is invalid: %s",
                     e.message);
    free(der);
    return csr;
}

static int csr_check_key(struct acme_ctx *ctx, const struct sti_key *key)
{
    if (key == NULL || !sti_key_is_p256(key)) {
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR,
                     "CSR key is %s; SHAKEN certificates need an EC P-256 "
                     "key",
                     key ? sti_key_type_name(key) : "unreadable");
        return -1;
    }
    if (sti_key_public_equal(key, ctx->key)) {
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR,
                     "CSR key is the ACME account key; use a separate key "
                     "for the certificate");
        return -1;
    }
    return 0;
}

static int csr_check_tnauth(struct acme_ctx *ctx, const struct sti_csr *csr,
                            const struct acme_order *o)
{
    struct sti_tnauth *want = NULL, *got = NULL;
    struct sti_error e;
    int rc = -1;

    if (sti_csr_get_tnauth(csr, &got, &e) != STI_OK)
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR,
                     "CSR requests no usable TNAuthList: %s", e.message);
    else if (sti_tnauth_decode(o->tnauth_der, o->tnauth_len, &want, &e))
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
    else if (!sti_tnauth_equal(want, got))
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR,
                     "CSR TNAuthList is not the order's identifier");
    else if (sti_csr_is_ca(csr) != o->token_ca)
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_CSR,
                     "CSR basicConstraints CA:%s does not match the SPC "
                     "token's \"ca\":%s",
                     sti_csr_is_ca(csr) ? "TRUE" : "FALSE",
                     o->token_ca ? "true" : "false");
    else
        rc = 0;
    sti_tnauth_free(want);
    sti_tnauth_free(got);
    return rc;
}

/*
 * The certificate must not outlive the SPC token that authorized it: whole
 * days up to exp, or one day that ends at exp when less than a day is
 * left.  Returns the days and sets *not_before (0 means now).
 */
static int validity_days(struct acme_ctx *ctx, const struct acme_order *o,
                         time_t *not_before)
{
    time_t now = time(NULL);
    long left = o->token_exp - (long)now;
    int days = ctx->srv->cfg.validity_days;

    *not_before = 0;
    if (left <= 0) {
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "the SPC token expired before finalize; answer a new "
                     "order's challenge with a fresh token");
        return 0;
    }
    if (left / 86400 < days)
        days = (int)(left / 86400);
    if (days < 1) {
        days = 1;
        *not_before = (time_t)o->token_exp - 86400;
    }
    return days;
}

/* Stores the issued chain, publishes it and completes the order. */
static int order_complete(struct acme_ctx *ctx, struct acme_order *o,
                          const struct sti_chain *chain)
{
    const struct sti_acme_server_config *cfg = &ctx->srv->cfg;
    struct sti_cert *leaf = sti_chain_get0(chain, 0);
    char *pem = NULL, *serial = NULL, *x5u = NULL;
    struct sti_error e;
    int rc;

    rc = sti_chain_to_pem(chain, &pem, &e);
    serial = leaf ? sti_cert_serial_hex(leaf) : NULL;
    if (rc != STI_OK || serial == NULL || acme_random_id(o->cert_id) ||
        acme_cert_insert(ctx->srv->db, o->cert_id, o->id, o->account_id, serial,
                         pem, &e) != STI_OK) {
        rc = STI_ERR_INTERNAL;
        goto out;
    }
    if (cfg->publish != NULL &&
        cfg->publish(cfg->callback_arg, leaf, pem, &x5u, &e) != STI_OK)
        sti_log(STI_LOG_ERR, "acme: publishing certificate %s failed: %s",
                serial, e.message);
    free(o->x5u);
    o->x5u = x5u;
    set_status(o->status, "valid");
    rc = acme_order_update(ctx->srv->db, o, &e);
    sti_log(STI_LOG_INFO, "acme: order %s valid, certificate %s issued%s%s",
            o->id, serial, x5u ? ", x5u " : "", x5u ? x5u : "");
out:
    free(pem);
    free(serial);
    return rc;
}

static void issue(struct acme_ctx *ctx, struct acme_order *o,
                  const struct sti_csr *csr, const struct sti_key *key,
                  int days, time_t not_before)
{
    const struct sti_acme_server_config *cfg = &ctx->srv->cfg;
    struct sti_acme_issue_request req;
    struct sti_tnauth *list = NULL;
    struct sti_chain *chain = NULL;
    char account_url[ACME_URL_MAX];
    struct sti_error e;

    sti_error_clear(&e);
    acme_url(ctx, account_url, "acct", o->account_id);
    memset(&req, 0, sizeof(req));
    req.csr = csr;
    req.subject_key = key;
    req.is_ca = o->token_ca;
    req.validity_days = days;
    req.not_before = not_before;
    req.account_url = account_url;
    if (sti_tnauth_decode(o->tnauth_der, o->tnauth_len, &list, &e) == STI_OK) {
        req.tnauth = list;
        cfg->issue(cfg->callback_arg, &req, &chain, &e);
    }
    if (chain == NULL || sti_chain_count(chain) == 0 ||
        order_complete(ctx, o, chain) != STI_OK) {
        sti_log(STI_LOG_ERR, "acme: issuing for order %s failed: %s", o->id,
                e.message);
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL,
                     "certificate issuance failed: %s", e.message);
    } else {
        reply_order(ctx, 200, o);
    }
    sti_chain_free(chain);
    sti_tnauth_free(list);
}

void acme_handle_finalize(struct acme_ctx *ctx, const char *id)
{
    struct acme_order o;
    struct sti_csr *csr = NULL;
    struct sti_key *key = NULL;
    time_t not_before;
    int days;

    if (order_load(ctx, "id", id, &o) != 0)
        return;
    if (strcmp(o.status, "ready") != 0) {
        acme_problem(ctx, 403, STI_ACME_ERR_ORDER_NOT_READY,
                     "order %s is %s, not ready; answer its tkauth-01 "
                     "challenge first",
                     o.id, o.status);
        goto out;
    }
    csr = csr_from_payload(ctx);
    if (csr == NULL)
        goto out;
    key = sti_csr_get1_key(csr);
    if (csr_check_key(ctx, key) != 0 || csr_check_tnauth(ctx, csr, &o) != 0)
        goto out;
    days = validity_days(ctx, &o, &not_before);
    if (days >= 1)
        issue(ctx, &o, csr, key, days, not_before);
out:
    sti_key_free(key);
    sti_csr_free(csr);
    acme_order_clear(&o);
}

/* Certificates and revocation */

void acme_handle_cert(struct acme_ctx *ctx, const char *id)
{
    char *owner = NULL, *pem = NULL;
    int revoked = 0;

    if (acme_cert_find(ctx->srv->db, id, NULL, &owner, &pem, &revoked, NULL) !=
        STI_OK) {
        acme_problem(ctx, 404, STI_ACME_ERR_MALFORMED,
                     "no certificate at %.200s", ctx->url);
    } else if (strcmp(owner, ctx->account.id) != 0) {
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "certificate belongs to another account");
    } else {
        ctx->resp->status = 200;
        ctx->resp->content_type = "application/pem-certificate-chain";
        ctx->resp->body = pem;
        ctx->resp->body_len = strlen(pem);
        pem = NULL;
    }
    free(owner);
    free(pem);
}

static struct sti_cert *revoke_cert_parse(struct acme_ctx *ctx, int *reason)
{
    const char *b64 =
        json_string_value(json_object_get(ctx->payload, "certificate"));
    json_t *r = json_object_get(ctx->payload, "reason");
    unsigned char *der = NULL;
    size_t len = 0;
    struct sti_cert *cert = NULL;

    *reason = r ? (int)json_integer_value(r) : 0;
    if (r != NULL &&
        (!json_is_integer(r) || *reason < 0 || *reason > 10 || *reason == 7)) {
        acme_problem(ctx, 400, STI_ACME_ERR_PREFIX "badRevocationReason",
                     "reason must be an RFC 5280 CRLReason code (0-10, "
                     "not 7)");
        return NULL;
    }
    if (b64 == NULL || sti_b64url_decode(b64, strlen(b64), &der, &len) ||
        sti_cert_parse(der, len, &cert, NULL) != STI_OK)
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "revokeCert needs \"certificate\": the base64url of "
                     "a DER certificate");
    free(der);
    return cert;
}

static void revoke(struct acme_ctx *ctx, struct sti_cert *cert,
                   const char *serial, int reason)
{
    const struct sti_acme_server_config *cfg = &ctx->srv->cfg;
    struct sti_error e;

    sti_error_clear(&e);
    if ((cfg->revoke != NULL &&
         cfg->revoke(cfg->callback_arg, cert, reason, &e) != STI_OK) ||
        acme_cert_set_revoked(ctx->srv->db, serial, reason, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL,
                     "revocation failed: %s", e.message);
        return;
    }
    sti_log(STI_LOG_INFO, "acme: certificate %s revoked by %s%s, reason %d",
            serial, ctx->account.id[0] ? "account " : "its own key",
            ctx->account.id, reason);
    ctx->resp->status = 200;
}

/*
 * The issuing account may revoke, signing with "kid", and so may whoever
 * holds the certificate's key, signing with it as "jwk" (RFC 8555
 * section 7.6).
 */
static int revoke_allowed(struct acme_ctx *ctx, const struct sti_cert *cert,
                          const char *owner, const char *serial)
{
    struct sti_key *cert_key;
    int same;

    if (ctx->account.id[0] != '\0') {
        if (strcmp(owner, ctx->account.id) == 0)
            return 1;
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "certificate %s belongs to another account", serial);
        return 0;
    }
    cert_key = sti_cert_get1_key(cert);
    same = cert_key != NULL && sti_key_public_equal(cert_key, ctx->key);
    sti_key_free(cert_key);
    if (!same)
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "the \"jwk\" that signed this revocation is not the "
                     "key of certificate %s",
                     serial);
    return same;
}

void acme_handle_revoke(struct acme_ctx *ctx)
{
    char *owner = NULL, *pem = NULL, *serial = NULL;
    struct sti_cert *cert;
    int reason, revoked = 0;

    cert = revoke_cert_parse(ctx, &reason);
    if (cert == NULL)
        return;
    serial = sti_cert_serial_hex(cert);
    if (serial == NULL || acme_cert_find(ctx->srv->db, NULL, serial, &owner,
                                         &pem, &revoked, NULL) != STI_OK) {
        acme_problem(ctx, 404, STI_ACME_ERR_MALFORMED,
                     "certificate %s was not issued over ACME here",
                     serial ? serial : "?");
        goto out;
    }
    if (!revoke_allowed(ctx, cert, owner, serial))
        goto out;
    if (revoked)
        acme_problem(ctx, 400, STI_ACME_ERR_ALREADY_REVOKED,
                     "certificate %s is already revoked", serial);
    else
        revoke(ctx, cert, serial, reason);
out:
    free(owner);
    free(pem);
    free(serial);
    sti_cert_free(cert);
}
