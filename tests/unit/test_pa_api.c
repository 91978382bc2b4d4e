/* Unit tests for lib/pa_api.c: the PA handler behind a real plain-HTTP
 * server on 127.0.0.1, driven with libsti's HTTP client. */
#include "support.h"

#include "pa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP                                                                     \
    "SHA256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:"   \
    "55:66:77:88:99:AA:BB:CC:DD:EE:FF"
#define ATC_1234                                                               \
    "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"MAigBhYEMTIzNA==\","    \
    "\"ca\":false,\"fingerprint\":\"" FP "\"}}"

struct fixture {
    char *dir;
    struct sti_pa *pa;
    struct sti_httpd *httpd;
    char base[64];
};

static struct fixture *fx;

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sti_pa_init_options o;
    struct sti_pa_config c;
    struct sti_httpd_config hc;
    struct sti_error err;

    f->dir = test_tmpdir();
    memset(&o, 0, sizeof(o));
    o.dir = f->dir;
    assert_int_equal(sti_pa_init(&o, &err), STI_OK);
    memset(&c, 0, sizeof(c));
    c.dir = f->dir;
    c.login_max_failures = 3;
    assert_int_equal(sti_pa_open(&c, &f->pa, &err), STI_OK);
    memset(&hc, 0, sizeof(hc));
    hc.max_body = 4096;
    assert_int_equal(
        sti_httpd_start(&hc, sti_pa_http_handler, f->pa, &f->httpd, &err),
        STI_OK);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d",
             sti_httpd_port(f->httpd));
    assert_int_equal(sti_pa_set_default_base_url(f->pa, f->base, &err), STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "A", 0, &err), STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "818H", "B", 1, &err), STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "alice", "1234", 0, "alice password", &err),
        STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "bert", "818H", 0, "bert password", &err),
        STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "carl", "818H", 0, "carl password", &err),
        STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "root", NULL, 1, "admin password", &err),
        STI_OK);
    fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sti_httpd_stop(f->httpd);
    sti_pa_close(f->pa);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* Sends one request with an optional bearer token; the caller frees. */
static struct sti_http_response *call(const char *method, const char *path,
                                      const char *body, const char *bearer)
{
    char url[256], auth[256];
    /* "Expect:" stops libcurl from waiting for 100-continue on larger
     * bodies. */
    const char *headers[3] = {"Expect:", NULL, NULL};
    struct sti_http_options o;
    struct sti_http_response *resp = NULL;
    struct sti_error err;

    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        headers[1] = auth;
    }
    memset(&o, 0, sizeof(o));
    o.headers = headers;
    o.timeout_ms = 20000;
    if (sti_http_request(method, url, body, body ? strlen(body) : 0, &o, &resp,
                         &err) != STI_OK)
        fail_msg("%s %s: %s", method, path, err.message);
    return resp;
}

/* Expects STATUS and, for errors, a JSON error body containing NEEDLE. */
static void expect(const char *method, const char *path, const char *body,
                   const char *bearer, long status, const char *needle)
{
    struct sti_http_response *r = call(method, path, body, bearer);

    if (r->status != status)
        fail_msg("%s %s: status %ld, expected %ld; body %s", method, path,
                 r->status, status, (const char *)r->body);
    if (status >= 400 &&
        strstr((const char *)r->body, "\"status\":\"error\"") == NULL)
        fail_msg("%s %s: no JSON error body: %s", method, path,
                 (const char *)r->body);
    if (needle != NULL && strstr((const char *)r->body, needle) == NULL)
        fail_msg("%s %s: body lacks '%s': %s", method, path, needle,
                 (const char *)r->body);
    sti_http_response_free(r);
}

/* Logs in and returns the access token (caller frees). */
static char *login(const char *user, const char *password)
{
    char body[256];
    struct sti_http_response *r;
    const char *start, *end;
    char *token;

    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}",
             user, password);
    r = call("POST", "/api/v1/auth/login", body, NULL);
    assert_int_equal(r->status, 200);
    start = strstr((const char *)r->body, "\"accessToken\":\"");
    assert_non_null(start);
    start += strlen("\"accessToken\":\"");
    end = strchr(start, '"');
    token = strndup(start, (size_t)(end - start));
    sti_http_response_free(r);
    return token;
}

static void routes_and_methods(void **state)
{
    struct sti_http_response *r;

    (void)state;
    expect("GET", "/nothing", NULL, NULL, 404, "no such resource");
    expect("GET", "/api/v1/account/1234/other", NULL, NULL, 404, NULL);
    expect("GET", "/api/v1/account//token", NULL, NULL, 404, NULL);
    expect("PUT", "/api/v1/crl", "x", NULL, 405, "use GET");
    expect("GET", "/api/v1/revocations", NULL, NULL, 405, "use POST");
    r = call("DELETE", "/api/v1/auth/login", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(sti_http_response_header(r, "allow"), "POST");
    sti_http_response_free(r);
    r = call("GET", "/pa.crt", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "application/pem-certificate-chain");
    assert_string_equal((const char *)r->body, fx->pa->cert_pem);
    sti_http_response_free(r);
}

static void login_answers(void **state)
{
    struct sti_http_response *r, *r2;
    char *token;

    (void)state;
    r = call("POST", "/api/v1/auth/login",
             "{\"username\":\"alice\",\"password\":\"alice password\"}", NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr((const char *)r->body, "\"expiresAt\":\""));
    assert_non_null(strstr((const char *)r->body, "\"expires_in\":3600"));
    sti_http_response_free(r);
    r = call("POST", "/api/v1/auth/login",
             "{\"username\":\"alice\",\"password\":\"nope nope\"}", NULL);
    r2 = call("POST", "/api/v1/auth/login",
              "{\"username\":\"ghost\",\"password\":\"nope nope\"}", NULL);
    assert_int_equal(r->status, 401);
    assert_int_equal(r2->status, 401);
    assert_string_equal((const char *)r->body, (const char *)r2->body);
    sti_http_response_free(r);
    sti_http_response_free(r2);
    expect("POST", "/api/v1/auth/login", "{\"username\":", NULL, 400,
           "malformed JSON");
    expect("POST", "/api/v1/auth/login", "[1, 2]", NULL, 400, "JSON object");
    expect("POST", "/api/v1/auth/login",
           "{\"username\":\"a\",\"username\":\"b\",\"password\":\"x\"}", NULL,
           400, "malformed JSON");
    expect("POST", "/api/v1/auth/login", "{\"username\":\"alice\"}", NULL, 400,
           "password is missing");
    expect("POST", "/api/v1/auth/login",
           "{\"username\":\"alice\",\"password\":[]}", NULL, 400, "wrong type");
    expect("POST", "/api/v1/auth/login", NULL, NULL, 400, "no body");
    token = login("root", "admin password");
    assert_true(strlen(token) >= 43);
    free(token);
}

static void login_throttled(void **state)
{
    const char *bad = "{\"username\":\"carl\",\"password\":\"wrong one\"}";

    (void)state;
    for (int i = 0; i < 3; i++)
        expect("POST", "/api/v1/auth/login", bad, NULL, 401, NULL);
    /* Locked out now, even with the right password. */
    expect("POST", "/api/v1/auth/login",
           "{\"username\":\"carl\",\"password\":\"carl password\"}", NULL, 429,
           "too many failed logins");
    /* Another user from the same address is not locked yet. */
    free(login("alice", "alice password"));
}

static void token_requests(void **state)
{
    char *alice = login("alice", "alice password");
    char *root = login("root", "admin password");
    char *bert = login("bert", "bert password");

    (void)state;
    expect("POST", "/api/v1/account/1234/token", ATC_1234, alice, 200,
           "\"token\":\"");
    expect("POST", "/api/v1/account/1234/token", ATC_1234, NULL, 401,
           "missing access token");
    expect("POST", "/api/v1/account/1234/token", ATC_1234, "bogus", 401,
           "unknown access token");
    expect("POST", "/api/v1/account/1234/token", ATC_1234, root, 403,
           "may not request");
    expect("POST", "/api/v1/account/818H/token", ATC_1234, alice, 403,
           "may not request");
    expect("POST", "/api/v1/account/XXXX/token", ATC_1234, alice, 404,
           "unknown account");
    expect("POST", "/api/v1/account/1234/token", "{\"atc\":5}", alice, 400,
           "atc is missing or not an object");
    expect("POST", "/api/v1/account/1234/token",
           "{\"atc\":{\"tktype\":\"Other\",\"tkvalue\":\"MAigBhYEMTIzNA==\","
           "\"fingerprint\":\"" FP "\"}}",
           alice, 400, "tktype");
    expect("POST", "/api/v1/account/1234/token",
           "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"AAAA\","
           "\"fingerprint\":\"" FP "\"}}",
           alice, 400, "not a DER TNAuthList");
    expect("POST", "/api/v1/account/818H/token",
           "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":"
           "\"MAigBhYEODE4SA==\",\"ca\":true,\"fingerprint\":\"" FP "\"}}",
           bert, 200, "SPC token issued for 818H");
    free(alice);
    free(root);
    free(bert);
}

static void expired_access_token(void **state)
{
    char *token;

    (void)state;
    fx->pa->access_lifetime = 0; /* tokens expire as they are issued */
    token = login("alice", "alice password");
    expect("POST", "/api/v1/account/1234/token", ATC_1234, token, 401,
           "expired");
    free(token);
    fx->pa->access_lifetime = 3600;
}

static void revocation_requests(void **state)
{
    char *root = login("root", "admin password");
    char *alice = login("alice", "alice password");
    struct sti_crl *crl = NULL;
    struct sti_error err;

    (void)state;
    expect("POST", "/api/v1/revocations",
           "{\"issuer\":\"CN=SHAKEN CA\",\"serial\":\"0A\"}", alice, 403,
           "administrators");
    expect("POST", "/api/v1/revocations",
           "{\"issuer\":\"CN=SHAKEN CA\",\"serial\":\"0A\",\"reason\":1}", root,
           201, "\"crlNumber\":2");
    expect("POST", "/api/v1/revocations",
           "{\"issuer\":\"CN=SHAKEN CA\",\"serial\":\"0a\"}", root, 409,
           "already revoked");
    expect("POST", "/api/v1/revocations",
           "{\"issuer\":\"CN=SHAKEN CA\",\"serial\":\"0B\",\"reason\":7}", root,
           400, "reason");
    expect("POST", "/api/v1/revocations",
           "{\"issuer\":\"CN=SHAKEN CA\",\"serial\":\"0B\",\"reason\":true}",
           root, 400, "reason");
    expect("POST", "/api/v1/revocations", "{\"certificate\":5}", root, 400,
           "PEM string");
    expect("POST", "/api/v1/revocations", "{\"certificate\":\"garbage\"}", root,
           400, NULL);
    expect("POST", "/api/v1/revocations", "{\"serial\":\"01\"}", root, 400,
           "issuer is missing");
    assert_int_equal(sti_pa_crl_get(fx->pa, &crl, &err), STI_OK);
    assert_int_equal(sti_crl_entry_count(crl), 1);
    sti_crl_free(crl);
    free(root);
    free(alice);
}

static void crl_and_calist(void **state)
{
    struct sti_http_response *r;
    struct sti_pa_calist *list = NULL;
    struct sti_error err;

    (void)state;
    r = call("GET", "/api/v1/crl", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "application/pkix-crl");
    assert_int_equal(r->body[0], 0x30); /* a DER SEQUENCE */
    sti_http_response_free(r);
    r = call("GET", "/api/v1/crl?format=pem", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr((const char *)r->body, "-----BEGIN X509 CRL"));
    sti_http_response_free(r);
    expect("GET", "/api/v1/crl?format=txt", NULL, NULL, 400, "format");
    r = call("GET", "/api/v1/ca-list", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(sti_pa_calist_verify((const char *)r->body, r->body_len,
                                          sti_pa_get0_cert(fx->pa), 0, &list,
                                          &err),
                     STI_OK);
    assert_int_equal(list->version, 0);
    assert_int_equal(sti_chain_count(list->roots), 0);
    sti_pa_calist_free(list);
    sti_http_response_free(r);
}

static void oversized_body(void **state)
{
    char *big = malloc(10000);

    (void)state;
    memset(big, 'a', 9999);
    big[9999] = '\0';
    expect("POST", "/api/v1/auth/login", big, NULL, 413, NULL);
    free(big);
}

/* One server for the group: the tests run in this order and each leaves
 * the state the next expects (one revocation, carl locked out). */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_and_methods),
        cmocka_unit_test(login_answers),
        cmocka_unit_test(login_throttled),
        cmocka_unit_test(token_requests),
        cmocka_unit_test(revocation_requests),
        cmocka_unit_test(crl_and_calist),
        cmocka_unit_test(oversized_body),
        cmocka_unit_test(expired_access_token),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
