/*
 * Unit tests for the ACME server and client (lib/acme_*.c): a real server
 * on 127.0.0.1 over plain HTTP, driven through libsti's client functions
 * with good and deliberately bad requests.
 */
#include "support.h"

#include "acme_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SPC "1234"
#define OTHER_SPC "9999"

/* Everything the tests share: a PA, a CA, a server and one account. */
struct fixture {
    char *dir;
    char *db_path;
    struct sti_key *pa_key, *rogue_key, *ca_key, *int_key, *acct_key;
    struct sti_cert *pa_cert, *rogue_cert, *ca_cert, *int_cert;
    const struct sti_cert *authorities[1];
    struct sti_acme_server *srv;
    struct sti_httpd *httpd;
    char directory[256];
    struct sti_acme_client *client;
    int published;
    int revoked;
};

static struct fixture fx;

/* PKI set-up */

static struct sti_cert *make_cert(int kind, const char *org,
                                  const struct sti_key *key,
                                  const struct sti_cert *issuer,
                                  const struct sti_key *issuer_key)
{
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_error err;

    memset(&req, 0, sizeof(req));
    req.kind = kind;
    req.organization = org;
    req.subject_key = key;
    req.crl_url = issuer ? "http://127.0.0.1/crl" : NULL;
    req.validity_days = kind == STI_CERT_CA_INTERMEDIATE ? 3650 : 7300;
    if (sti_cert_issue(&req, issuer, issuer_key, &cert, &err) != STI_OK)
        fail_msg("cannot issue test certificate: %s", err.message);
    return cert;
}

static int test_issue(void *arg, const struct sti_acme_issue_request *r,
                      struct sti_chain **chain, struct sti_error *err)
{
    struct sti_cert_request req;
    struct sti_cert *leaf = NULL;
    int rc;

    (void)arg;
    memset(&req, 0, sizeof(req));
    req.kind = r->is_ca ? STI_CERT_SCA : STI_CERT_SP;
    req.organization = "Test Provider";
    req.subject_key = r->subject_key;
    req.tnauth = r->tnauth;
    req.crl_url = "http://127.0.0.1/crl";
    req.not_before = r->not_before;
    req.validity_days = r->validity_days;
    rc = sti_cert_issue(&req, fx.int_cert, fx.int_key, &leaf, err);
    if (rc != STI_OK)
        return rc;
    *chain = sti_chain_new();
    sti_chain_push(*chain, leaf);
    sti_chain_push(*chain, fx.int_cert);
    sti_cert_free(leaf);
    return STI_OK;
}

static int test_publish(void *arg, const struct sti_cert *leaf, const char *pem,
                        char **x5u, struct sti_error *err)
{
    char *serial = sti_cert_serial_hex(leaf);

    (void)arg;
    (void)err;
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
    fx.published++;
    if (asprintf(x5u, "https://127.0.0.1/certs/%s.pem", serial) < 0)
        *x5u = NULL;
    free(serial);
    return STI_OK;
}

static int test_revoke(void *arg, const struct sti_cert *cert, int reason,
                       struct sti_error *err)
{
    (void)arg;
    (void)cert;
    (void)reason;
    (void)err;
    fx.revoked++;
    return STI_OK;
}

static void start_server(void)
{
    struct sti_acme_server_config cfg;
    struct sti_httpd_config hcfg;
    struct sti_error err;

    memset(&cfg, 0, sizeof(cfg));
    cfg.db_path = fx.db_path;
    cfg.token_authorities = fx.authorities;
    cfg.token_authority_count = 1;
    cfg.token_authority_url = "https://127.0.0.1:8443/pa";
    cfg.issue = test_issue;
    cfg.publish = test_publish;
    cfg.revoke = test_revoke;
    if (sti_acme_server_new(&cfg, &fx.srv, &err) != STI_OK)
        fail_msg("server: %s", err.message);
    memset(&hcfg, 0, sizeof(hcfg));
    hcfg.listen = "127.0.0.1:0";
    if (sti_httpd_start(&hcfg, sti_acme_server_handle, fx.srv, &fx.httpd,
                        &err) != STI_OK)
        fail_msg("httpd: %s", err.message);
    snprintf(fx.directory, sizeof(fx.directory),
             "http://127.0.0.1:%d/acme/directory", sti_httpd_port(fx.httpd));
}

static void stop_server(void)
{
    sti_httpd_stop(fx.httpd);
    sti_acme_server_free(fx.srv);
    fx.httpd = NULL;
    fx.srv = NULL;
}

static int group_setup(void **state)
{
    struct sti_error err;

    (void)state;
    sti_log_init("test_acme", STI_LOG_ERR);
    fx.dir = test_tmpdir();
    fx.db_path = test_path(fx.dir, "acme.db");
    assert_int_equal(sti_key_generate(&fx.pa_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&fx.rogue_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&fx.ca_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&fx.int_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&fx.acct_key, &err), STI_OK);
    fx.pa_cert = make_cert(STI_CERT_PA_ROOT, "Test PA", fx.pa_key, NULL, NULL);
    fx.rogue_cert =
        make_cert(STI_CERT_PA_ROOT, "Rogue PA", fx.rogue_key, NULL, NULL);
    fx.ca_cert = make_cert(STI_CERT_CA_ROOT, "Test CA", fx.ca_key, NULL, NULL);
    fx.int_cert = make_cert(STI_CERT_CA_INTERMEDIATE, "Test CA", fx.int_key,
                            fx.ca_cert, fx.ca_key);
    fx.authorities[0] = fx.pa_cert;
    start_server();
    if (sti_acme_client_new(fx.directory, fx.acct_key, NULL, &fx.client,
                            &err) != STI_OK)
        fail_msg("client: %s", err.message);
    if (sti_acme_client_account(fx.client, NULL, 0, &err) != STI_OK)
        fail_msg("account: %s", err.message);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sti_acme_client_free(fx.client);
    stop_server();
    sti_key_free(fx.pa_key);
    sti_key_free(fx.rogue_key);
    sti_key_free(fx.ca_key);
    sti_key_free(fx.int_key);
    sti_key_free(fx.acct_key);
    sti_cert_free(fx.pa_cert);
    sti_cert_free(fx.rogue_cert);
    sti_cert_free(fx.ca_cert);
    sti_cert_free(fx.int_cert);
    free(fx.db_path);
    test_rmtree(fx.dir);
    return 0;
}

/* SPC tokens */

struct token_spec {
    const char *spc;
    long exp_offset; /* seconds from now */
    const char *jti; /* NULL: random */
    int ca;
    const struct sti_key *signer;         /* NULL: the trusted PA */
    const struct sti_key *fingerprint_of; /* NULL: the account key */
    long nbf_offset;                      /* 0: no nbf claim */
};

static char *make_token(const struct token_spec *spec)
{
    struct sti_tnauth *list = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char fp[STI_FINGERPRINT_LEN], jti[37], nbf[40] = "";
    char *b64, *payload, *token = NULL;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(spec->spc, &list, &err), STI_OK);
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    b64 = sti_b64_encode(der, len);
    assert_int_equal(sti_key_spki_fingerprint(spec->fingerprint_of
                                                  ? spec->fingerprint_of
                                                  : fx.acct_key,
                                              fp, &err),
                     STI_OK);
    sti_uuid4(jti);
    if (spec->nbf_offset != 0)
        snprintf(nbf, sizeof(nbf), "\"nbf\":%ld,",
                 (long)time(NULL) + spec->nbf_offset);
    assert_true(asprintf(&payload,
                         "{%s\"exp\":%ld,\"jti\":\"%s\",\"atc\":{\"tktype\":"
                         "\"TNAuthList\",\"tkvalue\":\"%s\",\"ca\":%s,"
                         "\"fingerprint\":\"%s\"}}",
                         nbf, (long)time(NULL) + spec->exp_offset,
                         spec->jti ? spec->jti : jti, b64,
                         spec->ca ? "true" : "false", fp) > 0);
    assert_int_equal(sti_jws_sign("{\"alg\":\"ES256\",\"typ\":\"JWT\","
                                  "\"x5u\":\"https://127.0.0.1/pa.crt\"}",
                                  payload,
                                  spec->signer ? spec->signer : fx.pa_key,
                                  &token, &err),
                     STI_OK);
    free(payload);
    free(b64);
    free(der);
    sti_tnauth_free(list);
    return token;
}

static char *good_token(void)
{
    struct token_spec spec = {"spc:" SPC, 86400 * 30, NULL, 0, NULL, NULL, 0};

    return make_token(&spec);
}

/* Requests */

static struct sti_acme_reply *post(const char *url, const char *payload)
{
    struct sti_acme_reply *reply = NULL;
    struct sti_error err;

    if (sti_acme_client_post(fx.client, url, payload, &reply, &err) != STI_OK)
        fail_msg("POST %s: %s", url, err.message);
    return reply;
}

static json_t *reply_json(const struct sti_acme_reply *reply)
{
    json_t *obj = json_loads(reply->body, 0, NULL);

    assert_non_null(obj);
    return obj;
}

static void assert_problem(const struct sti_acme_reply *reply, const char *type)
{
    if (reply->problem_type == NULL || strcmp(reply->problem_type, type) != 0)
        fail_msg("expected %s, got HTTP %ld %s: %s", type, reply->status,
                 reply->problem_type ? reply->problem_type : "(no problem)",
                 reply->body);
    assert_non_null(reply->content_type);
    assert_string_equal(reply->content_type, "application/problem+json");
    assert_non_null(reply->replay_nonce);
}

/* Checks that REPLY carries the problem TYPE and, when DETAIL is non-NULL,
 * that its detail contains DETAIL.  Frees REPLY. */
static void expect_problem(struct sti_acme_reply *reply, const char *type,
                           const char *detail)
{
    assert_problem(reply, type);
    if (detail != NULL) {
        assert_non_null(reply->problem_detail);
        if (strstr(reply->problem_detail, detail) == NULL)
            fail_msg("detail '%s' lacks '%s'", reply->problem_detail, detail);
    }
    sti_acme_reply_free(reply);
}

/* Fetches a fresh nonce from the server's newNonce resource. */
static char *new_nonce(void)
{
    char *nonce = NULL;
    struct sti_error err;

    assert_int_equal(sti_acme_client_new_nonce(fx.client, &nonce, &err),
                     STI_OK);
    return nonce;
}

/* An order for SPEC ("spc:1234") and the URLs the tests need. */
struct order_urls {
    char order[256], authz[256], chall[256], finalize[256];
};

static void new_order(const char *spc, struct order_urls *u)
{
    struct sti_tnauth *list = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64, *payload;
    struct sti_acme_reply *reply;
    json_t *order, *authz;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(spc, &list, &err), STI_OK);
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    b64 = sti_b64_encode(der, len);
    assert_true(asprintf(&payload,
                         "{\"identifiers\":[{\"type\":\"TNAuthList\","
                         "\"value\":\"%s\"}]}",
                         b64) > 0);
    reply = post(sti_acme_client_resource(fx.client, "newOrder"), payload);
    assert_int_equal(reply->status, 201);
    assert_non_null(reply->location);
    snprintf(u->order, sizeof(u->order), "%s", reply->location);
    order = reply_json(reply);
    assert_string_equal(json_string_value(json_object_get(order, "status")),
                        "pending");
    snprintf(u->authz, sizeof(u->authz), "%s",
             json_string_value(
                 json_array_get(json_object_get(order, "authorizations"), 0)));
    snprintf(u->finalize, sizeof(u->finalize), "%s",
             json_string_value(json_object_get(order, "finalize")));
    json_decref(order);
    sti_acme_reply_free(reply);
    reply = post(u->authz, "");
    assert_int_equal(reply->status, 200);
    authz = reply_json(reply);
    snprintf(
        u->chall, sizeof(u->chall), "%s",
        json_string_value(json_object_get(
            json_array_get(json_object_get(authz, "challenges"), 0), "url")));
    json_decref(authz);
    sti_acme_reply_free(reply);
    free(payload);
    free(b64);
    free(der);
    sti_tnauth_free(list);
}

static struct sti_acme_reply *answer(const struct order_urls *u,
                                     const char *member, const char *token)
{
    char *payload;
    struct sti_acme_reply *reply;

    assert_true(asprintf(&payload, "{\"%s\":\"%s\"}", member, token) > 0);
    reply = post(u->chall, payload);
    free(payload);
    return reply;
}

static char *csr_b64(const struct sti_key *key, const char *spc, int is_ca)
{
    struct sti_csr_request req;
    struct sti_tnauth *list = NULL;
    struct sti_csr *csr = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(spc, &list, &err), STI_OK);
    memset(&req, 0, sizeof(req));
    req.organization = "Test Provider";
    req.tnauth = list;
    req.is_ca = is_ca;
    assert_int_equal(sti_csr_create(&req, key, &csr, &err), STI_OK);
    assert_int_equal(sti_csr_to_der(csr, &der, &len, &err), STI_OK);
    b64 = sti_b64url_encode(der, len);
    free(der);
    sti_csr_free(csr);
    sti_tnauth_free(list);
    return b64;
}

static struct sti_acme_reply *finalize_b64(const struct order_urls *u,
                                           const char *b64)
{
    char *payload;
    struct sti_acme_reply *reply;

    assert_true(asprintf(&payload, "{\"csr\":\"%s\"}", b64) > 0);
    reply = post(u->finalize, payload);
    free(payload);
    return reply;
}

/* Returns a base64url CSR for SPC and "ca":IS_CA signed by a new key. */
static char *new_key_csr_b64(const char *spc, int is_ca)
{
    struct sti_key *key = NULL;
    struct sti_error err;
    char *b64;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    b64 = csr_b64(key, spc, is_ca);
    sti_key_free(key);
    return b64;
}

/* An order whose challenge passed with a token for "ca":IS_CA. */
static void ready_order(struct order_urls *u, int is_ca)
{
    struct token_spec spec = {"spc:" SPC, 86400 * 30, NULL, is_ca,
                              NULL,       NULL,       0};
    char *token = make_token(&spec);
    struct sti_acme_reply *reply;

    new_order("spc:" SPC, u);
    reply = answer(u, "tkauth", token);
    assert_int_equal(reply->status, 200);
    sti_acme_reply_free(reply);
    free(token);
}

/* Finalizes an order whose token had "ca":TOKEN_CA with the base64url CSR
 * B64 and expects badCSR with DETAIL (when non-NULL) in the detail. */
static void expect_bad_csr(int token_ca, const char *b64, const char *detail)
{
    struct order_urls u;

    ready_order(&u, token_ca);
    expect_problem(finalize_b64(&u, b64), STI_ACME_ERR_BAD_CSR, detail);
}

/* Crafts a request with any nonce and url, signed by the account key. */
static struct sti_acme_reply *send_crafted(const char *nonce, const char *url,
                                           const char *target)
{
    struct sti_acme_reply *reply = NULL;
    char *body = NULL;
    struct sti_error err;

    assert_int_equal(sti_acme_jws_build(fx.acct_key,
                                        sti_acme_client_kid(fx.client), nonce,
                                        url, "", &body, &err),
                     STI_OK);
    assert_int_equal(
        sti_acme_client_send(fx.client, target, body, &reply, &err), STI_OK);
    free(body);
    return reply;
}

/* Sends PAYLOAD to URL in a JWS that KEY signs with a fresh nonce and KID
 * (NULL: KEY's "jwk") in the protected header. */
static struct sti_acme_reply *send_jws(const struct sti_key *key,
                                       const char *kid, const char *url,
                                       const char *payload)
{
    struct sti_acme_reply *reply = NULL;
    char *nonce = new_nonce(), *body = NULL;
    struct sti_error err;

    assert_int_equal(
        sti_acme_jws_build(key, kid, nonce, url, payload, &body, &err), STI_OK);
    assert_int_equal(sti_acme_client_send(fx.client, url, body, &reply, &err),
                     STI_OK);
    free(body);
    free(nonce);
    return reply;
}

/* Directory, nonces and accounts */

static void directory_lists_resources(void **state)
{
    (void)state;
    assert_non_null(sti_acme_client_resource(fx.client, "newNonce"));
    assert_non_null(sti_acme_client_resource(fx.client, "newAccount"));
    assert_non_null(sti_acme_client_resource(fx.client, "newOrder"));
    assert_non_null(sti_acme_client_resource(fx.client, "revokeCert"));
    assert_non_null(sti_acme_client_resource(fx.client, "keyChange"));
    assert_null(sti_acme_client_resource(fx.client, "noSuchThing"));
}

static void new_nonce_head_and_get(void **state)
{
    const char *url = sti_acme_client_resource(fx.client, "newNonce");
    struct sti_acme_reply *reply = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        acme_client_request(fx.client, "HEAD", url, NULL, &reply, &err),
        STI_OK);
    assert_int_equal(reply->status, 200);
    assert_non_null(reply->replay_nonce);
    sti_acme_reply_free(reply);
    assert_int_equal(
        acme_client_request(fx.client, "GET", url, NULL, &reply, &err), STI_OK);
    assert_int_equal(reply->status, 204);
    assert_non_null(reply->replay_nonce);
    sti_acme_reply_free(reply);
}

static void account_lookup_and_create(void **state)
{
    struct sti_acme_client *other = NULL;
    struct sti_key *key = NULL;
    struct sti_error err;
    const char *contact[] = {"mailto:noc@example.net", NULL};
    char *kid;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(fx.directory, key, NULL, &other, &err),
                     STI_OK);
    assert_int_equal(sti_acme_client_account(other, NULL, 1, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "accountDoesNotExist"));
    assert_int_equal(sti_acme_client_account(other, contact, 0, &err), STI_OK);
    kid = strdup(sti_acme_client_kid(other));
    assert_int_equal(sti_acme_client_account(other, NULL, 1, &err), STI_OK);
    assert_string_equal(kid, sti_acme_client_kid(other));
    assert_string_not_equal(kid, sti_acme_client_kid(fx.client));
    free(kid);
    sti_acme_client_free(other);
    sti_key_free(key);
}

static void account_lists_its_orders(void **state)
{
    struct sti_acme_reply *reply = post(sti_acme_client_kid(fx.client), "");
    json_t *acct = reply_json(reply), *list;
    const char *orders = json_string_value(json_object_get(acct, "orders"));
    struct order_urls u;
    char *url;
    size_t before;

    (void)state;
    assert_non_null(orders);
    url = strdup(orders);
    json_decref(acct);
    sti_acme_reply_free(reply);
    reply = post(url, "");
    acct = reply_json(reply);
    before = json_array_size(json_object_get(acct, "orders"));
    json_decref(acct);
    sti_acme_reply_free(reply);
    new_order("spc:" SPC, &u);
    reply = post(url, "");
    acct = reply_json(reply);
    list = json_object_get(acct, "orders");
    assert_int_equal(json_array_size(list), before + 1);
    assert_string_equal(
        json_string_value(json_array_get(list, json_array_size(list) - 1)),
        u.order);
    json_decref(acct);
    sti_acme_reply_free(reply);
    free(url);
}

static void account_update_and_deactivate(void **state)
{
    struct sti_acme_client *c = NULL;
    struct sti_acme_reply *reply = NULL;
    struct sti_key *key = NULL;
    struct sti_error err;
    const char *kid;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(fx.directory, key, NULL, &c, &err),
                     STI_OK);
    assert_int_equal(sti_acme_client_account(c, NULL, 0, &err), STI_OK);
    kid = sti_acme_client_kid(c);
    assert_int_equal(
        sti_acme_client_post(
            c, kid, "{\"contact\":[\"mailto:noc@example.net\"]}", &reply, &err),
        STI_OK);
    assert_int_equal(reply->status, 200);
    assert_non_null(strstr(reply->body, "mailto:noc@example.net"));
    sti_acme_reply_free(reply);
    assert_int_equal(
        sti_acme_client_post(c, kid, "{\"contact\":[\"tel:+15555550100\"]}",
                             &reply, &err),
        STI_OK);
    assert_problem(reply, STI_ACME_ERR_PREFIX "invalidContact");
    sti_acme_reply_free(reply);
    assert_int_equal(
        sti_acme_client_post(c, kid, "{\"status\":\"valid\"}", &reply, &err),
        STI_OK);
    assert_problem(reply, STI_ACME_ERR_MALFORMED);
    sti_acme_reply_free(reply);
    assert_int_equal(sti_acme_client_post(
                         c, kid, "{\"status\":\"deactivated\"}", &reply, &err),
                     STI_OK);
    assert_int_equal(reply->status, 200);
    assert_non_null(strstr(reply->body, "deactivated"));
    sti_acme_reply_free(reply);
    assert_int_equal(sti_acme_client_post(c, kid, "", &reply, &err), STI_OK);
    assert_problem(reply, STI_ACME_ERR_UNAUTHORIZED);
    sti_acme_reply_free(reply);
    sti_acme_client_free(c);
    sti_key_free(key);
}

static void key_change_rolls_account_key(void **state)
{
    struct sti_acme_client *c = NULL, *again = NULL;
    struct sti_key *old_key = NULL, *new_key = NULL;
    struct sti_error err;
    char *kid;

    (void)state;
    assert_int_equal(sti_key_generate(&old_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&new_key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(fx.directory, old_key, NULL, &c, &err),
                     STI_OK);
    assert_int_equal(sti_acme_client_account(c, NULL, 0, &err), STI_OK);
    kid = strdup(sti_acme_client_kid(c));
    /* The fixture account's key is taken, so the server refuses it. */
    assert_int_equal(sti_acme_client_key_change(c, fx.acct_key, &err),
                     STI_ERR_POLICY);
    assert_int_equal(sti_acme_client_key_change(c, new_key, &err), STI_OK);
    assert_int_equal(
        sti_acme_client_new(fx.directory, new_key, NULL, &again, &err), STI_OK);
    assert_int_equal(sti_acme_client_account(again, NULL, 1, &err), STI_OK);
    assert_string_equal(sti_acme_client_kid(again), kid);
    sti_acme_client_free(again);
    again = NULL;
    assert_int_equal(
        sti_acme_client_new(fx.directory, old_key, NULL, &again, &err), STI_OK);
    assert_int_equal(sti_acme_client_account(again, NULL, 1, &err),
                     STI_ERR_POLICY);
    assert_int_equal(sti_acme_client_key_change(again, new_key, &err),
                     STI_ERR_INVALID);
    sti_acme_client_free(again);
    sti_acme_client_free(c);
    sti_key_free(old_key);
    sti_key_free(new_key);
    free(kid);
}

static void get_on_resource_not_allowed(void **state)
{
    struct sti_acme_reply *reply = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        acme_client_request(fx.client, "GET",
                            sti_acme_client_resource(fx.client, "newOrder"),
                            NULL, &reply, &err),
        STI_OK);
    assert_int_equal(reply->status, 405);
    assert_problem(reply, STI_ACME_ERR_MALFORMED);
    sti_acme_reply_free(reply);
}

/* The JWS checks */

static void reused_nonce_is_bad_nonce(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);
    char *nonce = new_nonce();
    struct sti_acme_reply *reply;

    (void)state;
    reply = send_crafted(nonce, url, url);
    assert_int_equal(reply->status, 200);
    sti_acme_reply_free(reply);
    reply = send_crafted(nonce, url, url);
    assert_int_equal(reply->status, 400);
    expect_problem(reply, STI_ACME_ERR_BAD_NONCE, NULL);
    free(nonce);
}

static void client_retries_bad_nonce(void **state)
{
    struct sti_acme_reply *reply = NULL;
    struct sti_error err;

    (void)state;
    /* A stale nonce makes the first attempt fail with badNonce; the
     * client must retry with the nonce that reply carried. */
    free(fx.client->nonce);
    fx.client->nonce = strdup("c3RhbGUtbm9uY2U");
    assert_int_equal(sti_acme_client_post(fx.client,
                                          sti_acme_client_kid(fx.client), "",
                                          &reply, &err),
                     STI_OK);
    assert_int_equal(reply->status, 200);
    assert_null(reply->problem_type);
    sti_acme_reply_free(reply);
}

static void unknown_nonce_is_bad_nonce(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);

    (void)state;
    expect_problem(send_crafted("bm90LWEtbm9uY2U", url, url),
                   STI_ACME_ERR_BAD_NONCE, NULL);
}

static void wrong_url_is_unauthorized(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);
    const char *other = sti_acme_client_resource(fx.client, "newOrder");
    char *nonce = new_nonce();

    (void)state;
    expect_problem(send_crafted(nonce, other, url), STI_ACME_ERR_UNAUTHORIZED,
                   "url");
    free(nonce);
}

static void non_es256_alg_rejected(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);
    struct sti_acme_reply *reply = NULL;
    char *nonce = new_nonce(), *hdr = NULL, *body = NULL;
    struct sti_error err;

    (void)state;
    assert_true(asprintf(&hdr,
                         "{\"alg\":\"RS256\",\"kid\":\"%s\",\"nonce\":\"%s\","
                         "\"url\":\"%s\"}",
                         url, nonce, url) > 0);
    assert_int_equal(sti_jws_sign_flattened(hdr, "", fx.acct_key, &body, &err),
                     STI_OK);
    assert_int_equal(sti_acme_client_send(fx.client, url, body, &reply, &err),
                     STI_OK);
    assert_non_null(strstr(reply->body, "\"algorithms\""));
    expect_problem(reply, STI_ACME_ERR_BAD_SIGNATURE_ALGORITHM, NULL);
    free(body);
    free(hdr);
    free(nonce);
}

static void unknown_kid_is_account_does_not_exist(void **state)
{
    const char *url = sti_acme_client_resource(fx.client, "newOrder");
    char kid[512];

    (void)state;
    snprintf(kid, sizeof(kid), "%s", sti_acme_client_kid(fx.client));
    strcpy(strrchr(kid, '/') + 1, "AAAAAAAAAAAAAAAAAAAAAA");
    expect_problem(send_jws(fx.acct_key, kid, url, "{}"),
                   STI_ACME_ERR_ACCOUNT_DOES_NOT_EXIST, NULL);
}

static void signature_by_other_key_rejected(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);

    (void)state;
    expect_problem(send_jws(fx.rogue_key, url, url, ""), STI_ACME_ERR_MALFORMED,
                   "signature");
}

static void wrong_content_type_rejected(void **state)
{
    const char *url = sti_acme_client_kid(fx.client);
    struct sti_acme_reply *reply = NULL;
    struct sti_error err;

    (void)state;
    /* No body means no application/jose+json Content-Type is sent. */
    assert_int_equal(
        acme_client_request(fx.client, "POST", url, NULL, &reply, &err),
        STI_OK);
    assert_int_equal(reply->status, 415);
    assert_problem(reply, STI_ACME_ERR_MALFORMED);
    sti_acme_reply_free(reply);
}

/* Orders */

static void order_rejects_bad_identifiers(void **state)
{
    const char *url = sti_acme_client_resource(fx.client, "newOrder");
    struct sti_acme_reply *reply;

    (void)state;
    reply = post(url, "{\"identifiers\":[{\"type\":\"dns\","
                      "\"value\":\"example.com\"}]}");
    assert_problem(reply, STI_ACME_ERR_PREFIX "unsupportedIdentifier");
    sti_acme_reply_free(reply);
    reply = post(url, "{\"identifiers\":[{\"type\":\"TNAuthList\","
                      "\"value\":\"bm90IGRlcg==\"}]}");
    assert_problem(reply, STI_ACME_ERR_REJECTED_IDENTIFIER);
    sti_acme_reply_free(reply);
    reply = post(url, "{\"identifiers\":[]}");
    assert_problem(reply, STI_ACME_ERR_MALFORMED);
    sti_acme_reply_free(reply);
}

static void finalize_before_challenge_not_ready(void **state)
{
    char *b64 = new_key_csr_b64("spc:" SPC, 0);
    struct order_urls u;

    (void)state;
    new_order("spc:" SPC, &u);
    expect_problem(finalize_b64(&u, b64), STI_ACME_ERR_ORDER_NOT_READY, NULL);
    free(b64);
}

static void challenge_without_token_malformed(void **state)
{
    struct order_urls u;
    struct sti_acme_reply *reply;

    (void)state;
    new_order("spc:" SPC, &u);
    reply = post(u.chall, "{}");
    assert_problem(reply, STI_ACME_ERR_MALFORMED);
    sti_acme_reply_free(reply);
}

/* The tkauth-01 token checks */

static void expect_token_rejected(const struct token_spec *spec,
                                  const char *detail)
{
    struct order_urls u;
    struct sti_acme_reply *reply;
    char *token = make_token(spec);
    json_t *authz;

    new_order("spc:" SPC, &u);
    reply = answer(&u, "tkauth", token);
    assert_int_equal(reply->status, 403);
    expect_problem(reply, STI_ACME_ERR_UNAUTHORIZED, detail);
    reply = post(u.authz, "");
    authz = reply_json(reply);
    assert_string_equal(json_string_value(json_object_get(authz, "status")),
                        "invalid");
    json_decref(authz);
    sti_acme_reply_free(reply);
    free(token);
}

static void token_for_other_spc_rejected(void **state)
{
    struct token_spec spec = {"spc:" OTHER_SPC, 86400, NULL, 0, NULL, NULL, 0};

    (void)state;
    expect_token_rejected(&spec, "TNAuthList");
}

static void expired_token_rejected(void **state)
{
    struct token_spec spec = {"spc:" SPC, -3600, NULL, 0, NULL, NULL, 0};

    (void)state;
    expect_token_rejected(&spec, "expired");
}

static void untrusted_authority_rejected(void **state)
{
    struct token_spec spec = {"spc:" SPC,   86400, NULL, 0,
                              fx.rogue_key, NULL,  0};

    (void)state;
    expect_token_rejected(&spec, "trusted PA");
}

static void other_key_fingerprint_rejected(void **state)
{
    struct token_spec spec = {"spc:" SPC, 86400,        NULL, 0,
                              NULL,       fx.rogue_key, 0};

    (void)state;
    expect_token_rejected(&spec, "fingerprint");
}

static void future_nbf_rejected(void **state)
{
    struct token_spec spec = {"spc:" SPC, 86400, NULL, 0, NULL, NULL, 3600};

    (void)state;
    expect_token_rejected(&spec, "not valid before");
}

static void replayed_jti_rejected(void **state)
{
    struct token_spec spec = {
        "spc:" SPC, 86400 * 30, "0b7c7d5e-2f4e-4a53-9d57-replayed0001", 0, NULL,
        NULL,       0};
    struct order_urls u;
    struct sti_acme_reply *reply;
    char *token = make_token(&spec);

    (void)state;
    new_order("spc:" SPC, &u);
    reply = answer(&u, "atc", token);
    assert_int_equal(reply->status, 200);
    sti_acme_reply_free(reply);
    free(token);
    expect_token_rejected(&spec, "already used");
}

/* finalize checks */

static void ca_mismatch_is_bad_csr(void **state)
{
    char *b64 = new_key_csr_b64("spc:" SPC, 0);

    (void)state;
    expect_bad_csr(1, b64, "basicConstraints");
    free(b64);
}

static void account_key_csr_is_bad_csr(void **state)
{
    char *b64 = csr_b64(fx.acct_key, "spc:" SPC, 0);

    (void)state;
    expect_bad_csr(0, b64, "account key");
    free(b64);
}

static void other_tnauth_csr_is_bad_csr(void **state)
{
    char *b64 = new_key_csr_b64("spc:" OTHER_SPC, 0);

    (void)state;
    expect_bad_csr(0, b64, "TNAuthList");
    free(b64);
}

static void rsa_csr_is_bad_csr(void **state)
{
    char *path = test_data_path("acme/rsa-csr.der");
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_file_read(path, &der, &len, &err), STI_OK);
    b64 = sti_b64url_encode(der, len);
    expect_bad_csr(0, b64, "RSA");
    free(b64);
    free(der);
    free(path);
}

static void garbage_csr_is_bad_csr(void **state)
{
    (void)state;
    expect_bad_csr(0, "bm90LWEtY3Ny", NULL);
}

/* The whole flow */

/* Runs sti_acme_obtain() for "spc:" SPC with TOKEN, KEY and IS_CA, and
 * returns the issued chain.  *RES gets the result when RES is non-NULL. */
static struct sti_chain *obtain_chain(const char *token,
                                      const struct sti_key *key, int is_ca,
                                      struct sti_acme_result **res)
{
    struct sti_acme_obtain_request req;
    struct sti_acme_result *result = NULL;
    struct sti_tnauth *list = NULL;
    struct sti_chain *chain = NULL;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec("spc:" SPC, &list, &err), STI_OK);
    memset(&req, 0, sizeof(req));
    req.tnauth = list;
    req.token = token;
    req.is_ca = is_ca;
    req.cert_key = key;
    req.organization = "Test Provider";
    req.timeout_s = 20;
    if (sti_acme_obtain(fx.client, &req, &result, &err) != STI_OK)
        fail_msg("obtain: %s", err.message);
    assert_int_equal(sti_chain_parse(result->chain_pem,
                                     strlen(result->chain_pem), &chain, &err),
                     STI_OK);
    sti_tnauth_free(list);
    if (res != NULL)
        *res = result;
    else
        sti_acme_result_free(result);
    return chain;
}

static void obtain_issues_and_revokes(void **state)
{
    struct sti_acme_result *res = NULL;
    struct sti_tnauth *list = NULL, *got = NULL;
    struct sti_key *key = NULL, *leaf_key;
    struct sti_chain *chain;
    struct sti_cert *leaf;
    struct sti_acme_reply *reply;
    unsigned char *der = NULL;
    size_t len = 0;
    char *token = good_token(), *b64, *payload, *json;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tnauth_parse_spec("spc:" SPC, &list, &err), STI_OK);
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    chain = obtain_chain(token, key, 0, &res);
    assert_non_null(res->x5u);
    assert_non_null(strstr(res->x5u, "https://127.0.0.1/certs/"));
    assert_int_equal(sti_chain_count(chain), 2);
    leaf = sti_chain_get0(chain, 0);
    leaf_key = sti_cert_get1_key(leaf);
    assert_true(sti_key_public_equal(leaf_key, key));
    assert_int_equal(sti_cert_get_tnauth(leaf, &got, &err), STI_OK);
    assert_true(sti_tnauth_equal(got, list));
    assert_true(sti_cert_signed_by(leaf, fx.int_cert));
    json = sti_acme_result_to_json(res);
    assert_non_null(strstr(json, "\"x5u\""));
    free(json);

    /* revokeCert, then again */
    assert_int_equal(sti_cert_to_der(leaf, &der, &len, &err), STI_OK);
    b64 = sti_b64url_encode(der, len);
    assert_true(
        asprintf(&payload, "{\"certificate\":\"%s\",\"reason\":1}", b64) > 0);
    reply = post(sti_acme_client_resource(fx.client, "revokeCert"), payload);
    assert_int_equal(reply->status, 200);
    assert_int_equal(fx.revoked, 1);
    sti_acme_reply_free(reply);
    reply = post(sti_acme_client_resource(fx.client, "revokeCert"), payload);
    assert_problem(reply, STI_ACME_ERR_ALREADY_REVOKED);
    sti_acme_reply_free(reply);

    free(payload);
    free(b64);
    free(der);
    sti_key_free(leaf_key);
    sti_chain_free(chain);
    sti_tnauth_free(got);
    sti_acme_result_free(res);
    sti_tnauth_free(list);
    sti_key_free(key);
    free(token);
}

static void obtain_sca_with_ca_token(void **state)
{
    struct token_spec spec = {"spc:" SPC, 86400 * 30, NULL, 1, NULL, NULL, 0};
    struct sti_key *key = NULL;
    struct sti_chain *chain;
    char *token = make_token(&spec);
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    chain = obtain_chain(token, key, 1, NULL);
    assert_true(sti_cert_is_ca(sti_chain_get0(chain, 0)));
    sti_chain_free(chain);
    sti_key_free(key);
    free(token);
}

/* Obtains a certificate for KEY and returns its DER in base64url. */
static char *obtain_cert_b64(const struct sti_key *key)
{
    char *token = good_token(), *b64;
    struct sti_chain *chain = obtain_chain(token, key, 0, NULL);
    unsigned char *der = NULL;
    size_t len = 0;
    struct sti_error err;

    assert_int_equal(
        sti_cert_to_der(sti_chain_get0(chain, 0), &der, &len, &err), STI_OK);
    b64 = sti_b64url_encode(der, len);
    free(der);
    sti_chain_free(chain);
    free(token);
    return b64;
}

/* Sends revokeCert for CERT_B64 signed by KEY as "jwk". */
static struct sti_acme_reply *revoke_by_jwk(const struct sti_key *key,
                                            const char *cert_b64)
{
    const char *url = sti_acme_client_resource(fx.client, "revokeCert");
    struct sti_acme_reply *reply;
    char *payload;

    assert_true(asprintf(&payload, "{\"certificate\":\"%s\"}", cert_b64) > 0);
    reply = send_jws(key, NULL, url, payload);
    free(payload);
    return reply;
}

static void revoke_with_certificate_key(void **state)
{
    struct sti_key *key = NULL;
    struct sti_acme_reply *reply;
    struct sti_error err;
    char *b64;
    int before = fx.revoked;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    b64 = obtain_cert_b64(key);
    reply = revoke_by_jwk(fx.rogue_key, b64);
    assert_problem(reply, STI_ACME_ERR_UNAUTHORIZED);
    sti_acme_reply_free(reply);
    assert_int_equal(fx.revoked, before);
    reply = revoke_by_jwk(key, b64);
    assert_int_equal(reply->status, 200);
    assert_null(reply->problem_type);
    sti_acme_reply_free(reply);
    assert_int_equal(fx.revoked, before + 1);
    free(b64);
    sti_key_free(key);
}

static void short_token_caps_not_after(void **state)
{
    struct token_spec spec = {"spc:" SPC, 7200, NULL, 0, NULL, NULL, 0};
    struct sti_key *key = NULL;
    struct sti_chain *chain;
    char *token = make_token(&spec);
    time_t exp = time(NULL) + 7200;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    chain = obtain_chain(token, key, 0, NULL);
    assert_true(sti_cert_not_after(sti_chain_get0(chain, 0)) <= exp + 5);
    sti_chain_free(chain);
    sti_key_free(key);
    free(token);
}

static void nonce_survives_restart_once(void **state)
{
    struct sti_acme_reply *reply;
    char *nonce = NULL, *url;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_client_new_nonce(fx.client, &nonce, &err),
                     STI_OK);
    stop_server();
    start_server();
    sti_acme_client_free(fx.client);
    assert_int_equal(
        sti_acme_client_new(fx.directory, fx.acct_key, NULL, &fx.client, &err),
        STI_OK);
    assert_int_equal(sti_acme_client_account(fx.client, NULL, 1, &err), STI_OK);
    url = strdup(sti_acme_client_kid(fx.client));
    reply = send_crafted(nonce, url, url);
    assert_int_equal(reply->status, 200);
    sti_acme_reply_free(reply);
    stop_server();
    start_server();
    reply = NULL;
    {
        /* The port changed, so the kid and url move with it. */
        struct sti_acme_client *c = NULL;

        assert_int_equal(
            sti_acme_client_new(fx.directory, fx.acct_key, NULL, &c, &err),
            STI_OK);
        assert_int_equal(sti_acme_client_account(c, NULL, 1, &err), STI_OK);
        sti_acme_client_free(fx.client);
        fx.client = c;
    }
    free(url);
    url = strdup(sti_acme_client_kid(fx.client));
    reply = send_crafted(nonce, url, url);
    assert_problem(reply, STI_ACME_ERR_BAD_NONCE);
    sti_acme_reply_free(reply);
    free(url);
    free(nonce);
}

/* Library helpers without a server */

static void store_nonce_expires_and_spends(void **state)
{
    char *path = test_path(fx.dir, "store.db");
    char nonce[ACME_ID_LEN], old[ACME_ID_LEN];
    sqlite3 *db = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_sqlite_open(path, acme_schema, &db, &err), STI_OK);
    assert_int_equal(acme_nonce_new(db, 60, old, &err), STI_OK);
    assert_int_equal(
        sti_sqlite_exec(db, "UPDATE acme_nonce SET created = created - 120",
                        &err),
        STI_OK);
    assert_int_equal(acme_nonce_new(db, 60, nonce, &err), STI_OK);
    assert_int_equal(acme_nonce_consume(db, old, 60, &err), STI_ERR_NOTFOUND);
    assert_int_equal(acme_nonce_consume(db, nonce, 60, &err), STI_OK);
    assert_int_equal(acme_nonce_consume(db, nonce, 60, &err), STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "Replay-Nonce"));
    assert_int_equal(acme_jti_record(db, "jti-1", time(NULL) + 60, &err),
                     STI_OK);
    assert_int_equal(acme_jti_record(db, "jti-1", time(NULL) + 60, &err),
                     STI_ERR_EXISTS);
    assert_non_null(strstr(err.message, "already used"));
    sqlite3_close(db);
    free(path);
}

static void jws_build_rejects_missing_parts(void **state)
{
    char *json = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_jws_build(fx.acct_key, NULL, NULL, "http://x", "",
                                        &json, &err),
                     STI_ERR_INVALID);
    assert_null(json);
    assert_int_equal(
        sti_acme_jws_build(NULL, NULL, "n", "http://x", "", &json, &err),
        STI_ERR_INVALID);
}

static void client_rejects_non_directory(void **state)
{
    struct sti_acme_client *c = NULL;
    char url[300];
    struct sti_error err;

    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/acme/nothing",
             sti_httpd_port(fx.httpd));
    assert_int_equal(sti_acme_client_new(url, fx.acct_key, NULL, &c, &err),
                     STI_ERR_INVALID);
    assert_null(c);
    assert_non_null(strstr(err.message, "not an ACME directory"));
}

static void eab_add_validates_input(void **state)
{
    unsigned char key[32] = {1, 2, 3};
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_eab_add(fx.db_path, "kid-1", key, 4, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_acme_eab_add(fx.db_path, "", key, 32, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_acme_eab_add(fx.db_path, "kid-1", key, 32, &err),
                     STI_OK);
    assert_int_equal(sti_acme_eab_add(fx.db_path, "kid-1", key, 32, &err),
                     STI_ERR_EXISTS);
}

static void server_new_rejects_bad_config(void **state)
{
    struct sti_acme_server_config cfg;
    struct sti_acme_server *srv = NULL;
    struct sti_error err;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(sti_acme_server_new(&cfg, &srv, &err), STI_ERR_INVALID);
    cfg.db_path = fx.db_path;
    cfg.issue = test_issue;
    assert_int_equal(sti_acme_server_new(&cfg, &srv, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "token authority"));
    assert_null(srv);
}

/* External Account Binding (RFC 8555 section 7.3.4) */

static char *b64url_text(const char *text)
{
    return sti_b64url_encode((const unsigned char *)text, strlen(text));
}

/* A newAccount payload binding KEY's JWK with an HS256 MAC under MAC_KEY. */
static char *eab_payload(struct sti_acme_client *c, const struct sti_key *key,
                         const char *kid, const unsigned char *mac_key,
                         size_t mac_len)
{
    char *jwk = NULL, *hdr = NULL, *prot, *pay, *input, *sig, *out = NULL;
    unsigned char mac[32];
    unsigned int n = 0;
    struct sti_error err;

    assert_int_equal(sti_key_to_jwk(key, &jwk, &err), STI_OK);
    assert_true(asprintf(&hdr,
                         "{\"alg\":\"HS256\",\"kid\":\"%s\",\"url\":\"%s\"}",
                         kid, sti_acme_client_resource(c, "newAccount")) > 0);
    prot = b64url_text(hdr);
    pay = b64url_text(jwk);
    assert_true(asprintf(&input, "%s.%s", prot, pay) > 0);
    assert_non_null(HMAC(EVP_sha256(), mac_key, (int)mac_len,
                         (const unsigned char *)input, strlen(input), mac, &n));
    sig = sti_b64url_encode(mac, n);
    assert_true(asprintf(&out,
                         "{\"termsOfServiceAgreed\":true,"
                         "\"externalAccountBinding\":{\"protected\":\"%s\","
                         "\"payload\":\"%s\",\"signature\":\"%s\"}}",
                         prot, pay, sig) > 0);
    free(sig);
    free(input);
    free(pay);
    free(prot);
    free(hdr);
    free(jwk);
    return out;
}

static struct sti_acme_reply *eab_new_account(const unsigned char *mac_key,
                                              const char *kid)
{
    struct sti_acme_client *c = NULL;
    struct sti_acme_reply *reply = NULL;
    struct sti_key *key = NULL;
    struct sti_error err;
    char *payload;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(fx.directory, key, NULL, &c, &err),
                     STI_OK);
    payload = eab_payload(c, key, kid, mac_key, 32);
    assert_int_equal(
        sti_acme_client_post(c, sti_acme_client_resource(c, "newAccount"),
                             payload, &reply, &err),
        STI_OK);
    free(payload);
    sti_acme_client_free(c);
    sti_key_free(key);
    return reply;
}

static void eab_binds_once(void **state)
{
    unsigned char mac_key[32], wrong[32];
    struct sti_acme_reply *reply;
    struct sti_error err;

    (void)state;
    memset(mac_key, 0x42, sizeof(mac_key));
    memset(wrong, 0x43, sizeof(wrong));
    assert_int_equal(sti_acme_eab_add(fx.db_path, "lab-eab-1", mac_key,
                                      sizeof(mac_key), &err),
                     STI_OK);
    reply = eab_new_account(wrong, "lab-eab-1");
    assert_problem(reply, STI_ACME_ERR_UNAUTHORIZED);
    sti_acme_reply_free(reply);
    reply = eab_new_account(mac_key, "no-such-kid");
    assert_problem(reply, STI_ACME_ERR_UNAUTHORIZED);
    sti_acme_reply_free(reply);
    reply = eab_new_account(mac_key, "lab-eab-1");
    assert_int_equal(reply->status, 201);
    sti_acme_reply_free(reply);
    reply = eab_new_account(mac_key, "lab-eab-1");
    assert_problem(reply, STI_ACME_ERR_UNAUTHORIZED);
    assert_non_null(strstr(reply->problem_detail, "already bound"));
    sti_acme_reply_free(reply);
}

static void eab_required_without_binding(void **state)
{
    struct sti_acme_server_config cfg;
    struct sti_httpd_config hcfg;
    struct sti_acme_server *srv = NULL;
    struct sti_httpd *h = NULL;
    struct sti_acme_client *c = NULL;
    struct sti_key *key = NULL;
    char *db = test_path(fx.dir, "eab.db"), url[256];
    struct sti_error err;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db_path = db;
    cfg.token_authorities = fx.authorities;
    cfg.token_authority_count = 1;
    cfg.issue = test_issue;
    cfg.eab_required = 1;
    assert_int_equal(sti_acme_server_new(&cfg, &srv, &err), STI_OK);
    memset(&hcfg, 0, sizeof(hcfg));
    hcfg.listen = "127.0.0.1:0";
    assert_int_equal(
        sti_httpd_start(&hcfg, sti_acme_server_handle, srv, &h, &err), STI_OK);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/acme/directory",
             sti_httpd_port(h));
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(url, key, NULL, &c, &err), STI_OK);
    assert_int_equal(sti_acme_client_account(c, NULL, 0, &err), STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "externalAccountRequired"));
    sti_acme_client_free(c);
    sti_key_free(key);
    sti_httpd_stop(h);
    sti_acme_server_free(srv);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(directory_lists_resources),
        cmocka_unit_test(new_nonce_head_and_get),
        cmocka_unit_test(account_lookup_and_create),
        cmocka_unit_test(get_on_resource_not_allowed),
        cmocka_unit_test(account_lists_its_orders),
        cmocka_unit_test(account_update_and_deactivate),
        cmocka_unit_test(key_change_rolls_account_key),
        cmocka_unit_test(reused_nonce_is_bad_nonce),
        cmocka_unit_test(unknown_nonce_is_bad_nonce),
        cmocka_unit_test(client_retries_bad_nonce),
        cmocka_unit_test(wrong_url_is_unauthorized),
        cmocka_unit_test(non_es256_alg_rejected),
        cmocka_unit_test(unknown_kid_is_account_does_not_exist),
        cmocka_unit_test(signature_by_other_key_rejected),
        cmocka_unit_test(wrong_content_type_rejected),
        cmocka_unit_test(order_rejects_bad_identifiers),
        cmocka_unit_test(finalize_before_challenge_not_ready),
        cmocka_unit_test(challenge_without_token_malformed),
        cmocka_unit_test(token_for_other_spc_rejected),
        cmocka_unit_test(expired_token_rejected),
        cmocka_unit_test(untrusted_authority_rejected),
        cmocka_unit_test(other_key_fingerprint_rejected),
        cmocka_unit_test(future_nbf_rejected),
        cmocka_unit_test(replayed_jti_rejected),
        cmocka_unit_test(ca_mismatch_is_bad_csr),
        cmocka_unit_test(account_key_csr_is_bad_csr),
        cmocka_unit_test(other_tnauth_csr_is_bad_csr),
        cmocka_unit_test(rsa_csr_is_bad_csr),
        cmocka_unit_test(garbage_csr_is_bad_csr),
        cmocka_unit_test(obtain_issues_and_revokes),
        cmocka_unit_test(obtain_sca_with_ca_token),
        cmocka_unit_test(revoke_with_certificate_key),
        cmocka_unit_test(short_token_caps_not_after),
        cmocka_unit_test(store_nonce_expires_and_spends),
        cmocka_unit_test(jws_build_rejects_missing_parts),
        cmocka_unit_test(client_rejects_non_directory),
        cmocka_unit_test(eab_add_validates_input),
        cmocka_unit_test(server_new_rejects_bad_config),
        cmocka_unit_test(eab_binds_once),
        cmocka_unit_test(eab_required_without_binding),
        cmocka_unit_test(nonce_survives_restart_once),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
