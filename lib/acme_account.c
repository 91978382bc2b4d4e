/* ACME accounts (RFC 8555 section 7.3): creation with optional External
 * Account Binding, updates, the orders list and key rollover. */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

void acme_handle_new_account(struct acme_ctx *ctx)
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
void acme_handle_account(struct acme_ctx *ctx, const char *id)
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
void acme_handle_orders(struct acme_ctx *ctx, const char *id)
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

/* Key rollover (RFC 8555 section 7.3.5) */

/* Checks the inner JWS's header: ES256, a new "jwk", the outer url and
 * no nonce.  Returns the new key or NULL after sending the problem. */
static struct sti_key *key_change_new_key(struct acme_ctx *ctx,
                                          const struct sti_jws *inner)
{
    json_t *hdr = json_loads(sti_jws_header_json(inner), 0, NULL);
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *url = json_string_value(json_object_get(hdr, "url"));
    json_t *jwk = json_object_get(hdr, "jwk");
    struct sti_key *key = NULL;
    char *text = NULL;

    if (alg == NULL || strcmp(alg, "ES256") != 0 || !json_is_object(jwk) ||
        url == NULL || strcmp(url, ctx->url) != 0 ||
        json_object_get(hdr, "nonce") != NULL ||
        json_object_get(hdr, "kid") != NULL)
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "keyChange inner JWS needs alg ES256, the new key as "
                     "\"jwk\", the outer \"url\" and no nonce or kid");
    else if ((text = json_dumps(jwk, JSON_COMPACT)) == NULL ||
             sti_key_from_jwk(text, &key, NULL) != STI_OK ||
             !sti_key_is_p256(key)) {
        sti_key_free(key);
        key = NULL;
        acme_problem(ctx, 400, STI_ACME_ERR_BAD_PUBLIC_KEY,
                     "keyChange new key is not an EC P-256 public key");
    }
    free(text);
    json_decref(hdr);
    return key;
}

/* Checks the inner payload {"account": kid, "oldKey": current jwk}. */
static int key_change_payload(struct acme_ctx *ctx, const struct sti_jws *inner)
{
    json_t *p = json_loads(sti_jws_payload_json(inner), 0, NULL);
    const char *account = json_string_value(json_object_get(p, "account"));
    json_t *old = json_object_get(p, "oldKey");
    char kid[ACME_URL_MAX], *text = NULL;
    struct sti_key *old_key = NULL;
    int rc = -1;

    acme_url(ctx, kid, "acct", ctx->account.id);
    if (old != NULL)
        text = json_dumps(old, JSON_COMPACT);
    if (account == NULL || strcmp(account, kid) != 0)
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "keyChange \"account\" is not the signing account");
    else if (text == NULL || sti_key_from_jwk(text, &old_key, NULL) ||
             !sti_key_public_equal(old_key, ctx->key))
        acme_problem(ctx, 403, STI_ACME_ERR_UNAUTHORIZED,
                     "keyChange \"oldKey\" is not the account's key");
    else
        rc = 0;
    sti_key_free(old_key);
    free(text);
    json_decref(p);
    return rc;
}

static void key_change_store(struct acme_ctx *ctx, struct sti_key *key)
{
    char *jwk = NULL, *thumbprint = NULL, url[ACME_URL_MAX];
    struct acme_account other;
    struct sti_error e;

    if (sti_key_to_jwk(key, &jwk, &e) != STI_OK ||
        sti_key_jwk_thumbprint(key, &thumbprint, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
    } else if (acme_account_find_by_thumbprint(ctx->srv->db, thumbprint, &other,
                                               NULL) == STI_OK) {
        /* RFC 8555 section 7.3.5: 409 with the holder's URL. */
        acme_url(ctx, url, "acct", other.id);
        ctx->resp->location = strdup(url);
        acme_problem(ctx, 409, STI_ACME_ERR_MALFORMED,
                     "the new key already belongs to an account");
        acme_account_clear(&other);
    } else if (acme_account_set_key(ctx->srv->db, ctx->account.id, jwk,
                                    thumbprint, &e) != STI_OK) {
        acme_problem(ctx, 500, STI_ACME_ERR_SERVER_INTERNAL, "%s", e.message);
    } else {
        sti_log(STI_LOG_INFO, "acme: account %s changed its key",
                ctx->account.id);
        reply_account(ctx, 200, &ctx->account);
    }
    free(jwk);
    free(thumbprint);
}

void acme_handle_key_change(struct acme_ctx *ctx)
{
    char *text = ctx->payload ? json_dumps(ctx->payload, JSON_COMPACT) : NULL;
    struct sti_jws *inner = NULL;
    struct sti_key *key = NULL;
    struct sti_error e;

    if (text == NULL ||
        sti_jws_parse_flattened(text, strlen(text), &inner, &e) != STI_OK) {
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "keyChange payload must be a flattened JWS signed by "
                     "the new key");
        goto out;
    }
    key = key_change_new_key(ctx, inner);
    if (key == NULL)
        goto out;
    if (sti_jws_verify(inner, key, &e) != STI_OK)
        acme_problem(ctx, 400, STI_ACME_ERR_MALFORMED,
                     "keyChange inner JWS is not signed by the new key");
    else if (key_change_payload(ctx, inner) == 0)
        key_change_store(ctx, key);
out:
    sti_key_free(key);
    sti_jws_free(inner);
    free(text);
}
