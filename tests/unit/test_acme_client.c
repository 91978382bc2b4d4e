/*
 * Unit tests for the ACME client's peers (lib/acme_pa.c, acme_publish.c)
 * and helpers, against a stand-in STI-PA and STI-CR on 127.0.0.1.
 */
#include "support.h"

#include "acme_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sti_httpd *httpd;
static char base[64];
static char last_tkvalue[128];
static char last_fingerprint[128];

static void send_json(struct sti_httpd_response *resp, int status,
                      const char *json)
{
    sti_httpd_set_status(resp, status);
    sti_httpd_set_body(resp, "application/json", json, strlen(json));
}

static json_t *body_json(const struct sti_httpd_request *req)
{
    size_t len = 0;
    const unsigned char *body = sti_httpd_body(req, &len);

    return body ? json_loadb((const char *)body, len, 0, NULL) : NULL;
}

static void fake_login(const struct sti_httpd_request *req,
                       struct sti_httpd_response *resp)
{
    json_t *doc = body_json(req);
    const char *user = json_string_value(json_object_get(doc, "username"));
    const char *pw = json_string_value(json_object_get(doc, "password"));

    if (user && pw && strcmp(user, "alice") == 0 && strcmp(pw, "s3cret") == 0)
        send_json(resp, 200, "{\"status\":\"success\",\"accessToken\":\"AT\"}");
    else
        send_json(resp, 401,
                  "{\"status\":\"error\",\"message\":\"invalid "
                  "user name or password\"}");
    json_decref(doc);
}

static void fake_token(const struct sti_httpd_request *req,
                       struct sti_httpd_response *resp)
{
    const char *auth = sti_httpd_header(req, "Authorization");
    json_t *doc = body_json(req), *atc = json_object_get(doc, "atc");

    if (auth == NULL || strcmp(auth, "Bearer AT") != 0) {
        send_json(resp, 401, "{\"status\":\"error\",\"message\":\"no\"}");
    } else {
        snprintf(last_tkvalue, sizeof(last_tkvalue), "%s",
                 json_string_value(json_object_get(atc, "tkvalue")));
        snprintf(last_fingerprint, sizeof(last_fingerprint), "%s",
                 json_string_value(json_object_get(atc, "fingerprint")));
        send_json(resp, 200, "{\"status\":\"success\",\"token\":\"a.b.c\"}");
    }
    json_decref(doc);
}

static void fake_publish(const struct sti_httpd_request *req,
                         struct sti_httpd_response *resp, const char *name)
{
    const char *auth = sti_httpd_header(req, "Authorization");
    json_t *doc = body_json(req);
    char reply[256];

    if (auth == NULL || strcmp(auth, "Bearer CRT") != 0)
        send_json(resp, 401,
                  "{\"status\":\"error\",\"message\":\"bad "
                  "token\"}");
    else if (strcmp(name, "nourl") == 0)
        send_json(resp, 201, "{\"status\":\"ok\"}");
    else if (!json_is_string(json_object_get(doc, "chain")))
        send_json(resp, 400, "{\"status\":\"error\",\"message\":\"chain\"}");
    else {
        snprintf(reply, sizeof(reply),
                 "{\"status\":\"ok\",\"url\":\"https://cr.test/certs/%s.pem\"}",
                 name);
        send_json(resp, 201, reply);
    }
    json_decref(doc);
}

/*
 * A stand-in ACME server whose order never leaves "processing" after
 * finalize, to exercise Retry-After polling and the client's deadline.
 */
static int fake_answered;
static int fake_order_polls;

/* Sends BODY with every '@' replaced by the server's base URL. */
static void fake_acme_reply(const struct sti_httpd_request *req,
                            struct sti_httpd_response *resp, int status,
                            const char *body)
{
    const char *b = sti_httpd_base_url(req);
    char out[1024];
    size_t n = 0;

    for (const char *p = body; *p != '\0' && n + 64 < sizeof(out); p++) {
        if (*p == '@')
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", b);
        else
            out[n++] = *p;
    }
    out[n] = '\0';
    sti_httpd_add_header(resp, "Replay-Nonce", "bm9uY2U");
    send_json(resp, status, out);
}

static void fake_location(const struct sti_httpd_request *req,
                          struct sti_httpd_response *resp, const char *path)
{
    char url[256];

    snprintf(url, sizeof(url), "%s%s", sti_httpd_base_url(req), path);
    sti_httpd_add_header(resp, "Location", url);
}

static void fake_acme(const struct sti_httpd_request *req,
                      struct sti_httpd_response *resp, const char *path)
{
    static const char pending[] =
        "{\"status\":\"pending\",\"authorizations\":[\"@/acme/authz/1\"],"
        "\"finalize\":\"@/acme/order/1/finalize\"}";
    static const char ready[] =
        "{\"status\":\"ready\",\"authorizations\":[\"@/acme/authz/1\"],"
        "\"finalize\":\"@/acme/order/1/finalize\"}";
    static const char processing[] =
        "{\"status\":\"processing\",\"authorizations\":[\"@/acme/authz/"
        "1\"],\"finalize\":\"@/acme/order/1/finalize\"}";

    if (strcmp(path, "/acme/directory") == 0) {
        fake_acme_reply(req, resp, 200,
                        "{\"newNonce\":\"@/acme/new-nonce\","
                        "\"newAccount\":\"@/acme/new-account\","
                        "\"newOrder\":\"@/acme/new-order\"}");
    } else if (strcmp(path, "/acme/new-account") == 0) {
        fake_location(req, resp, "/acme/acct/1");
        fake_acme_reply(req, resp, 201, "{\"status\":\"valid\"}");
    } else if (strcmp(path, "/acme/new-order") == 0) {
        fake_location(req, resp, "/acme/order/1");
        fake_acme_reply(req, resp, 201, pending);
    } else if (strcmp(path, "/acme/authz/1") == 0) {
        fake_acme_reply(req, resp, 200,
                        fake_answered
                            ? "{\"status\":\"valid\",\"challenges\":[{"
                              "\"type\":\"tkauth-01\",\"url\":\"@/acme/"
                              "chall/1\"}]}"
                            : "{\"status\":\"pending\",\"challenges\":[{"
                              "\"type\":\"tkauth-01\",\"url\":\"@/acme/"
                              "chall/1\"}]}");
    } else if (strcmp(path, "/acme/chall/1") == 0) {
        fake_answered = 1;
        fake_acme_reply(req, resp, 200, "{\"status\":\"valid\"}");
    } else {
        /* The order and finalize: ready until finalize, then stuck. */
        int stuck = strstr(path, "finalize") != NULL || fake_order_polls > 0;

        if (stuck)
            fake_order_polls++;
        sti_httpd_add_header(resp, "Retry-After", "1");
        fake_acme_reply(req, resp, 200, stuck ? processing : ready);
    }
}

static void fake_handler(void *arg, const struct sti_httpd_request *req,
                         struct sti_httpd_response *resp)
{
    const char *path = sti_httpd_path(req);

    (void)arg;
    if (strncmp(path, "/acme/", 6) == 0)
        fake_acme(req, resp, path);
    else if (strcmp(path, "/api/v1/auth/login") == 0)
        fake_login(req, resp);
    else if (strcmp(path, "/api/v1/account/1234/token") == 0)
        fake_token(req, resp);
    else if (strncmp(path, "/api/v1/chains/", 15) == 0)
        fake_publish(req, resp, path + 15);
    else
        send_json(resp, 404, "{\"status\":\"error\",\"message\":\"none\"}");
}

static int group_setup(void **state)
{
    struct sti_httpd_config cfg;
    struct sti_error err;

    (void)state;
    sti_log_init("test_acme_client", STI_LOG_ERR);
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1:0";
    if (sti_httpd_start(&cfg, fake_handler, NULL, &httpd, &err) != STI_OK)
        fail_msg("httpd: %s", err.message);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", sti_httpd_port(httpd));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sti_httpd_stop(httpd);
    return 0;
}

static struct sti_tnauth *spc_list(const char *spec)
{
    struct sti_tnauth *list = NULL;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(spec, &list, &err), STI_OK);
    return list;
}

static void pa_token_success(void **state)
{
    struct sti_tnauth *list = spc_list("spc:1234");
    char *token = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_pa_token(base, "1234", "alice", "s3cret", list, 0,
                                       "SHA256 AA:BB", NULL, &token, &err),
                     STI_OK);
    assert_string_equal(token, "a.b.c");
    /* The tkvalue is the standard base64 of DER 30 08 A0 06 16 04 "1234". */
    assert_string_equal(last_tkvalue, "MAigBhYEMTIzNA==");
    assert_string_equal(last_fingerprint, "SHA256 AA:BB");
    free(token);
    sti_tnauth_free(list);
}

static void pa_token_wrong_password(void **state)
{
    struct sti_tnauth *list = spc_list("spc:1234");
    char *token = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_pa_token(base, "1234", "alice", "wrong", list, 0,
                                       "SHA256 AA:BB", NULL, &token, &err),
                     STI_ERR_AUTH);
    assert_null(token);
    assert_non_null(strstr(err.message, "invalid user name or password"));
    sti_tnauth_free(list);
}

static void pa_token_unknown_account(void **state)
{
    struct sti_tnauth *list = spc_list("spc:1234");
    char *token = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_pa_token(base, "9999", "alice", "s3cret", list, 0,
                                       "SHA256 AA:BB", NULL, &token, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "404"));
    sti_tnauth_free(list);
}

static void pa_token_missing_arguments(void **state)
{
    struct sti_tnauth *list = spc_list("spc:1234");
    char *token = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_acme_pa_token(base, "1234", "alice", NULL, list, 0,
                                       "SHA256 AA:BB", NULL, &token, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_acme_pa_token(base, "1234", "alice", "s3cret", NULL, 0,
                                       "SHA256 AA:BB", NULL, &token, &err),
                     STI_ERR_INVALID);
    sti_tnauth_free(list);
}

static void pa_token_connection_refused(void **state)
{
    struct sti_tnauth *list = spc_list("spc:1234");
    char *token = NULL;
    struct sti_error err;

    (void)state;
    /* Port 1 on loopback has no listener in the test environment. */
    assert_int_equal(sti_acme_pa_token("http://127.0.0.1:1", "1234", "alice",
                                       "s3cret", list, 0, "SHA256 AA:BB", NULL,
                                       &token, &err),
                     STI_ERR_NET);
    sti_tnauth_free(list);
}

static void cr_publish_success(void **state)
{
    char *x5u = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_acme_cr_publish(base, "CRT", "1234-0A", "PEM", NULL, &x5u, &err),
        STI_OK);
    assert_string_equal(x5u, "https://cr.test/certs/1234-0A.pem");
    free(x5u);
}

static void cr_publish_bad_token(void **state)
{
    char *x5u = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_acme_cr_publish(base, "nope", "1234-0A", "PEM", NULL, &x5u, &err),
        STI_ERR_AUTH);
    assert_null(x5u);
    assert_non_null(strstr(err.message, "bad token"));
}

static void cr_publish_reply_without_url(void **state)
{
    char *x5u = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(
        sti_acme_cr_publish(base, "CRT", "nourl", "PEM", NULL, &x5u, &err),
        STI_ERR_INVALID);
    assert_null(x5u);
}

static void cr_publish_rejects_bad_names(void **state)
{
    static const char *bad[] = {"", "../x", "-lead", "a b", "a/b", NULL};
    char *x5u = NULL;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            sti_acme_cr_publish(base, "CRT", bad[i], "PEM", NULL, &x5u, &err),
            STI_ERR_INVALID);
    assert_null(x5u);
}

static void jws_build_uses_jwk_or_kid(void **state)
{
    struct sti_key *key = NULL;
    struct sti_jws *jws = NULL;
    char *json = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(
        sti_acme_jws_build(key, NULL, "n1", "https://ca/x", "{}", &json, &err),
        STI_OK);
    assert_int_equal(sti_jws_parse_flattened(json, strlen(json), &jws, &err),
                     STI_OK);
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_OK);
    assert_non_null(strstr(sti_jws_header_json(jws), "\"jwk\""));
    assert_null(sti_jws_header_string(jws, "kid"));
    assert_string_equal(sti_jws_header_string(jws, "nonce"), "n1");
    assert_string_equal(sti_jws_header_string(jws, "url"), "https://ca/x");
    assert_string_equal(sti_jws_header_string(jws, "alg"), "ES256");
    sti_jws_free(jws);
    free(json);
    assert_int_equal(sti_acme_jws_build(key, "https://ca/acct/1", "n2",
                                        "https://ca/x", "", &json, &err),
                     STI_OK);
    assert_int_equal(sti_jws_parse_flattened(json, strlen(json), &jws, &err),
                     STI_OK);
    assert_string_equal(sti_jws_header_string(jws, "kid"), "https://ca/acct/1");
    assert_string_equal(sti_jws_payload_json(jws), "");
    sti_jws_free(jws);
    free(json);
    sti_key_free(key);
}

static void result_json_has_every_field(void **state)
{
    struct sti_acme_result *res = calloc(1, sizeof(*res));
    char *json;

    (void)state;
    res->account_url = strdup("https://ca/acct/1");
    res->order_url = strdup("https://ca/order/1");
    res->certificate_url = strdup("https://ca/cert/1");
    res->chain_pem = strdup("PEM");
    json = sti_acme_result_to_json(res);
    assert_non_null(strstr(json, "\"x5u\": null"));
    assert_non_null(strstr(json, "\"account\": \"https://ca/acct/1\""));
    free(json);
    res->x5u = strdup("https://cr/certs/a.pem");
    json = sti_acme_result_to_json(res);
    assert_non_null(strstr(json, "\"x5u\": \"https://cr/certs/a.pem\""));
    free(json);
    sti_acme_result_free(res);
    sti_acme_result_free(NULL);
    sti_acme_reply_free(NULL);
    sti_acme_client_free(NULL);
    sti_acme_server_free(NULL);
}

static void obtain_times_out_on_stuck_order(void **state)
{
    struct sti_acme_obtain_request req;
    struct sti_acme_client *c = NULL;
    struct sti_acme_result *res = NULL;
    struct sti_tnauth *list = spc_list("spc:1234");
    struct sti_key *acct = NULL, *key = NULL;
    char url[128];
    time_t start;
    struct sti_error err;

    (void)state;
    fake_answered = 0;
    fake_order_polls = 0;
    snprintf(url, sizeof(url), "%s/acme/directory", base);
    assert_int_equal(sti_key_generate(&acct, &err), STI_OK);
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_acme_client_new(url, acct, NULL, &c, &err), STI_OK);
    assert_int_equal(sti_acme_client_account(c, NULL, 0, &err), STI_OK);
    memset(&req, 0, sizeof(req));
    req.tnauth = list;
    req.token = "a.b.c";
    req.cert_key = key;
    req.organization = "Test Provider";
    req.timeout_s = 2;
    start = time(NULL);
    assert_int_equal(sti_acme_obtain(c, &req, &res, &err), STI_ERR_NET);
    assert_null(res);
    assert_non_null(strstr(err.message, "timed out after 2 s"));
    assert_non_null(strstr(err.message, "processing"));
    /* Retry-After: 1 spaces the polls, so a few happen, not hundreds. */
    assert_true(fake_order_polls >= 2);
    assert_true(fake_order_polls <= 5);
    assert_true(time(NULL) - start <= 3);
    sti_acme_client_free(c);
    sti_key_free(acct);
    sti_key_free(key);
    sti_tnauth_free(list);
}

static void tnauth_value_accepts_both_alphabets(void **state)
{
    unsigned char *der = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(acme_tnauth_value_decode("MAigBhYEODE4SA==", &der, &len),
                     STI_OK);
    assert_int_equal(len, 10);
    free(der);
    assert_int_equal(acme_tnauth_value_decode("MAigBhYEODE4SA", &der, &len),
                     STI_OK);
    assert_int_equal(len, 10);
    free(der);
    assert_int_not_equal(acme_tnauth_value_decode("%%%", &der, &len), STI_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pa_token_success),
        cmocka_unit_test(pa_token_wrong_password),
        cmocka_unit_test(pa_token_unknown_account),
        cmocka_unit_test(pa_token_missing_arguments),
        cmocka_unit_test(pa_token_connection_refused),
        cmocka_unit_test(cr_publish_success),
        cmocka_unit_test(cr_publish_bad_token),
        cmocka_unit_test(cr_publish_reply_without_url),
        cmocka_unit_test(cr_publish_rejects_bad_names),
        cmocka_unit_test(jws_build_uses_jwk_or_kid),
        cmocka_unit_test(result_json_has_every_field),
        cmocka_unit_test(tnauth_value_accepts_both_alphabets),
        cmocka_unit_test(obtain_times_out_on_stuck_order),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
