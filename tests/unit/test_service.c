/* Unit tests for lib/service.c: every endpoint with good and bad bodies,
 * against a real PKI whose chain a local HTTP server hands out. */
#include "support.h"

#include "service_int.h"

#include <stdio.h>

#include <jansson.h>

#include "http_fixture.h"
#include "pki_fixture.h"

static struct pki pki;
static char *dir, *root_file;
static struct sti_service *svc;

static struct sti_verifier_config lab_verifier(void)
{
    struct sti_verifier_config vc = {
        .ca_file = root_file,
        .allow_http = 1,
        .allow_any_port = 1,
    };

    return vc;
}

static int setup(void **state)
{
    struct sti_verifier_config vc;
    struct sti_service_config sc = {0};
    struct sti_error err;
    FILE *f;

    (void)state;
    pki_init(&pki, 0, 0);
    fx_route("/sp.pem", "200 OK", PEM_TYPE, pki.chain_pem);
    if (fx_start() != 0)
        return -1;
    dir = test_tmpdir();
    root_file = test_path(dir, "root.pem");
    f = fopen(root_file, "w");
    fputs(pki.root_pem, f);
    fclose(f);
    vc = lab_verifier();
    sc.key = pki.sp_key;
    sc.x5u = fx_url("/sp.pem");
    sc.verifier = &vc;
    if (sti_service_new(&sc, &svc, &err) != STI_OK) {
        fprintf(stderr, "sti_service_new: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sti_service_free(svc);
    fx_stop();
    pki_free(&pki);
    free(root_file);
    test_rmtree(dir);
    return 0;
}

/* Sends BODY to PATH with METHOD on S and returns the reply. */
static struct sti_service_reply call_on(struct sti_service *s,
                                        const char *method, const char *path,
                                        const char *body)
{
    struct sti_service_reply r;

    sti_service_process(s, method, path, (const unsigned char *)body,
                        strlen(body), &r);
    assert_non_null(r.body);
    assert_int_equal(strlen(r.body), r.len);
    return r;
}

static struct sti_service_reply call(const char *method, const char *path,
                                     const char *body)
{
    return call_on(svc, method, path, body);
}

static void assert_error(struct sti_service_reply r, int status,
                         const char *needle)
{
    json_t *doc = json_loads(r.body, 0, NULL);
    const char *msg = json_string_value(json_object_get(doc, "message"));

    if (r.status != status || msg == NULL || strstr(msg, needle) == NULL)
        fail_msg("expected %d with '%s', got %d: %s", status, needle, r.status,
                 r.body);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(json_string_value(json_object_get(doc, "status")),
                        "error");
    json_decref(doc);
    free(r.body);
}

/* Signs through the JSON endpoint and returns the Identity value. */
static char *sign_json(const char *orig, const char *dest, long long iat)
{
    char body[512];
    struct sti_service_reply r;
    json_t *doc;
    char *identity;

    snprintf(body, sizeof(body),
             "{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"%s\"},"
             "\"dest\":{\"tn\":[\"%s\"]},\"iat\":%lld,\"origid\":"
             "\"de305d54-75b4-431b-adb2-eb6b9e546014\"}}",
             orig, dest, iat);
    r = call("POST", "/stir/v1/signing", body);
    if (r.status != 200)
        fail_msg("signing returned %d: %s", r.status, r.body);
    assert_string_equal(r.content_type, "application/json");
    doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    identity = strdup(json_string_value(
        json_object_get(json_object_get(doc, "signingResponse"), "identity")));
    json_decref(doc);
    free(r.body);
    return identity;
}

/* Verifies IDENTITY for a call from ORIG to DEST; returns the body. */
static char *verify_json(const char *identity, const char *orig,
                         const char *dest)
{
    char body[2048];
    struct sti_service_reply r;

    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":{\"tn\":\"%s\"},\"to\":"
             "{\"tn\":[\"%s\"]},\"time\":%lld,\"identity\":\"%s\"}}",
             orig, dest, (long long)time(NULL), identity);
    r = call("POST", "/stir/v1/verification", body);
    if (r.status != 200)
        fail_msg("verification returned %d: %s", r.status, r.body);
    return r.body;
}

static void sign_then_verify_passes(void **state)
{
    char *identity = sign_json("12025550100", "12025550199", time(NULL));
    char *body;

    (void)state;
    assert_non_null(strstr(identity, ";info=<http://127.0.0.1:"));
    assert_non_null(strstr(identity, ";ppt=shaken"));
    body = verify_json(identity, "+1 202-555-0100", "12025550199");
    assert_string_equal(body, "{\"verificationResponse\":{\"verstat\":"
                              "\"TN-Validation-Passed\",\"attest\":\"A\","
                              "\"origid\":\"de305d54-75b4-431b-adb2-"
                              "eb6b9e546014\"}}");
    free(body);
    free(identity);
}

static void tampered_header_fails_438(void **state)
{
    char *identity = sign_json("12025550100", "12025550199", time(NULL));
    char *sig = strchr(strchr(identity, '.') + 1, '.') + 1;
    char *body;

    (void)state;
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    body = verify_json(identity, "12025550100", "12025550199");
    assert_non_null(strstr(body, "\"verstat\":\"TN-Validation-Failed\""));
    assert_non_null(strstr(body, "\"reasoncode\":438"));
    assert_non_null(strstr(body, "\"reasontext\":\"Invalid Identity Header\""));
    free(body);
    free(identity);
}

static void stale_iat_fails_403(void **state)
{
    char *identity = sign_json("12025550100", "12025550199", time(NULL) - 600);
    char *body = verify_json(identity, "12025550100", "12025550199");

    (void)state;
    assert_non_null(strstr(body, "\"reasoncode\":403"));
    assert_non_null(strstr(body, "\"reasontext\":\"Stale Date\""));
    assert_non_null(strstr(body, "freshness"));
    free(body);
    free(identity);
}

/* Verifies IDENTITY on S with the request's "time" set to DATE. */
static char *verify_at(struct sti_service *s, const char *identity,
                       long long date)
{
    char body[2048];
    struct sti_service_reply r;

    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":{\"tn\":\"12025550100\"},"
             "\"to\":{\"tn\":[\"12025550199\"]},\"time\":%lld,"
             "\"identity\":\"%s\"}}",
             date, identity);
    r = call_on(s, "POST", "/stir/v1/verification", body);
    if (r.status != 200)
        fail_msg("verification returned %d: %s", r.status, r.body);
    return r.body;
}

static void call_time_checks_iat(void **state)
{
    long long now = (long long)time(NULL);
    char *identity = sign_json("12025550100", "12025550199", now);
    char *body;

    (void)state;
    body = verify_at(svc, identity, 1000);
    assert_non_null(strstr(body, "\"reasoncode\":403"));
    assert_non_null(strstr(body, "\"reasontext\":\"Stale Date\""));
    assert_non_null(strstr(body, "ahead of the call's time 1000"));
    free(body);
    body = verify_at(svc, identity, now + 120);
    assert_non_null(strstr(body, "\"reasoncode\":403"));
    assert_non_null(strstr(body, "older than the call's time"));
    free(body);
    body = verify_at(svc, identity, now - 60);
    assert_non_null(strstr(body, "ahead of the call's time"));
    free(body);
    body = verify_at(svc, identity, now + 30);
    assert_non_null(strstr(body, "TN-Validation-Passed"));
    free(body);
    free(identity);
}

/* Writes a PEM CRL signed by the PA, listing the SP leaf when REVOKE. */
static char *crl_pem(int revoke, uint64_t number)
{
    char *serial = sti_cert_serial_hex(pki.sp);
    char *issuer = sti_cert_subject(pki.ca);
    struct sti_crl_entry entry = {.serial_hex = serial,
                                  .issuer_dn = issuer,
                                  .revoked_at = time(NULL) - 3600,
                                  .reason = STI_REASON_KEY_COMPROMISE};
    struct sti_crl_request req = {.entries = &entry,
                                  .count = revoke ? 1 : 0,
                                  .crl_number = number,
                                  .this_update = time(NULL) - 7200,
                                  .next_update = time(NULL) + 86400,
                                  .indirect = 1};
    struct sti_crl *crl;
    struct sti_error err;
    char *pem;

    assert_int_equal(sti_crl_build(&req, pki.pa, pki.pa_key, &crl, &err),
                     STI_OK);
    assert_int_equal(sti_crl_to_pem(crl, &pem, &err), STI_OK);
    sti_crl_free(crl);
    free(serial);
    free(issuer);
    return pem;
}

static char *write_pem(const char *name, const char *pem)
{
    char *path = test_path(dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(pem, f);
    fclose(f);
    return path;
}

/* A service whose CRL comes from the fixture's /crl.pem. */
static struct sti_service *crl_service(const char *signer_file,
                                       struct sti_error *err)
{
    struct sti_verifier_config vc = lab_verifier();
    struct sti_service_config sc = {.verifier = &vc};
    struct sti_service *s = NULL;

    vc.crl_url = fx_url("/crl.pem");
    vc.crl_signer_file = signer_file;
    (void)sti_service_new(&sc, &s, err);
    return s;
}

static void reload_crl_from_url(void **state)
{
    char *good = crl_pem(0, 1), *revoked = crl_pem(1, 2), *pa_pem, *pa_file;
    char *identity = sign_json("12025550100", "12025550199", time(NULL));
    struct sti_service *s;
    struct sti_error err;
    char *body;

    (void)state;
    assert_int_equal(sti_cert_to_pem(pki.pa, &pa_pem, &err), STI_OK);
    pa_file = write_pem("pa.pem", pa_pem);
    fx_route("/crl.pem", "200 OK", "", good);
    s = crl_service(pa_file, &err);
    assert_non_null(s);
    body = verify_at(s, identity, time(NULL));
    assert_non_null(strstr(body, "TN-Validation-Passed"));
    free(body);
    /* The PA revokes the leaf; the reload brings the new CRL in. */
    fx_route("/crl.pem", "200 OK", "", revoked);
    assert_int_equal(sti_service_reload_crl(s, &err), STI_OK);
    body = verify_at(s, identity, time(NULL));
    assert_non_null(strstr(body, "\"reasoncode\":437"));
    assert_non_null(strstr(body, "revoked"));
    free(body);
    /* A failed fetch keeps the CRL in use. */
    fx_route("/crl.pem", "404 Not Found", "", "gone");
    assert_int_not_equal(sti_service_reload(s, &err), STI_OK);
    assert_non_null(strstr(err.message, "HTTP status 404"));
    body = verify_at(s, identity, time(NULL));
    assert_non_null(strstr(body, "\"reasoncode\":437"));
    free(body);
    fx_route("/crl.pem", "200 OK", "", good);
    assert_int_equal(sti_service_reload(s, &err), STI_OK);
    body = verify_at(s, identity, time(NULL));
    assert_non_null(strstr(body, "TN-Validation-Passed"));
    free(body);
    sti_service_free(s);
    /* The root did not sign the CRL, so it cannot be the signer. */
    assert_null(crl_service(root_file, &err));
    assert_non_null(strstr(err.message, "signed the CRL"));
    assert_int_equal(sti_service_reload(NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_service_reload_crl(NULL, &err), STI_ERR_INVALID);
    free(identity);
    sti_free(pa_pem);
    free(pa_file);
    sti_free(good);
    sti_free(revoked);
}

static void wrong_orig_fails_438(void **state)
{
    char *identity = sign_json("12025550100", "12025550199", time(NULL));
    char *body = verify_json(identity, "12025550101", "12025550199");

    (void)state;
    assert_non_null(strstr(body, "\"verstat\":\"TN-Validation-Failed\""));
    assert_non_null(strstr(body, "\"reasoncode\":438"));
    free(body);
    free(identity);
}

/* Signs orig and dest as URIs, then verifies with from.uri and to.uri
 * given as BODY_FROM and BODY_TO (JSON values); returns the body. */
static char *uri_round_trip(const char *body_from, const char *body_to)
{
    char body[2048];
    struct sti_service_reply r;
    json_t *doc;
    const char *identity;

    r = call("POST", "/stir/v1/signing",
             "{\"signingRequest\":{\"attest\":\"C\",\"orig\":{\"uri\":"
             "\"sip:alice@example.org\"},\"dest\":{\"uri\":["
             "\"sip:bob@example.net\"]}}}");
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, NULL);
    identity = json_string_value(
        json_object_get(json_object_get(doc, "signingResponse"), "identity"));
    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":%s,\"to\":%s,"
             "\"identity\":\"%s\"}}",
             body_from, body_to, identity);
    json_decref(doc);
    free(r.body);
    r = call("POST", "/stir/v1/verification", body);
    if (r.status != 200)
        fail_msg("verification returned %d: %s", r.status, r.body);
    return r.body;
}

static void verification_takes_uris(void **state)
{
    char *pass = uri_round_trip("{\"uri\":\"sip:alice@EXAMPLE.org\"}",
                                "{\"uri\":[\"sip:bob@example.net\"]}");
    char *wrong_from = uri_round_trip("{\"uri\":\"sip:mallory@example.org\"}",
                                      "{\"uri\":\"sip:bob@example.net\"}");
    char *wrong_to = uri_round_trip("{\"uri\":\"sip:alice@example.org\"}",
                                    "{\"uri\":\"sip:carol@example.net\"}");
    char *tn_from = uri_round_trip("{\"tn\":\"12025550100\"}",
                                   "{\"uri\":\"sip:bob@example.net\"}");

    (void)state;
    assert_non_null(strstr(pass, "\"verstat\":\"TN-Validation-Passed\""));
    assert_non_null(strstr(wrong_from, "\"reasoncode\":438"));
    assert_non_null(strstr(wrong_from, "sip:mallory@example.org"));
    assert_non_null(strstr(wrong_to, "\"reasoncode\":438"));
    assert_non_null(strstr(tn_from, "\"reasoncode\":438"));
    free(pass);
    free(wrong_from);
    free(wrong_to);
    free(tn_from);
}

static void verification_fetches_x5u_once(void **state)
{
    int before = fx_hits();
    char *identity = sign_json("12025550100", "12025550199", time(NULL));

    (void)state;
    for (int i = 0; i < 3; i++) {
        char *body = verify_json(identity, "12025550100", "12025550199");

        assert_non_null(strstr(body, "TN-Validation-Passed"));
        free(body);
    }
    /* The earlier tests fetched the chain already. */
    assert_int_equal(fx_hits(), before);
    assert_true(before >= 1);
    free(identity);
}

static void verification_takes_tn_variants(void **state)
{
    char *identity = sign_json("12025550100", "12025550199", time(NULL));
    char body[2048];
    struct sti_service_reply r;

    (void)state;
    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":{\"tn\":[\"12025550100\"]},"
             "\"to\":{\"tn\":\"+1 (202) 555-0199\"},\"identity\":\"%s\"}}",
             identity);
    r = call("POST", "/stir/v1/verification", body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "TN-Validation-Passed"));
    assert_null(strstr(r.body, "reasoncode"));
    free(r.body);
    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":{\"tn\":\"12025550100\"},"
             "\"to\":{\"tn\":[\"12025550111\"]},\"identity\":\"%s\"}}",
             identity);
    r = call("POST", "/stir/v1/verification", body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"reasoncode\":438"));
    assert_non_null(strstr(r.body, "\"detail\":\""));
    free(r.body);
    free(identity);
}

static void verification_without_identity(void **state)
{
    struct sti_service_reply r =
        call("POST", "/stir/v1/verification",
             "{\"verificationRequest\":{\"from\":{\"tn\":\"12025550100\"},"
             "\"to\":{\"tn\":[\"12025550199\"]},\"time\":1700000000}}");

    (void)state;
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"verstat\":\"No-TN-Validation\""));
    assert_non_null(strstr(r.body, "\"reasoncode\":428"));
    free(r.body);
}

static void signing_rejects_bad_bodies(void **state)
{
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"", "body is empty"},
        {"{", "invalid JSON at line 1"},
        {"[]", "no \"signingRequest\" object"},
        {"{\"signingRequest\":3}", "no \"signingRequest\" object"},
        {"{\"signingRequest\":{\"orig\":{\"tn\":\"12025550100\"},\"dest\":"
         "{\"tn\":[\"12025550199\"]}}}",
         "signingRequest.attest is missing"},
        {"{\"signingRequest\":{\"attest\":\"D\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]}}}",
         "invalid signingRequest.attest 'D'"},
        {"{\"signingRequest\":{\"attest\":1}}",
         "signingRequest.attest must be a non-empty string"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"2\"]}}}",
         "signingRequest.orig is missing"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":\"1\",\"dest\":"
         "{\"tn\":[\"2\"]}}}",
         "signingRequest.orig must be an object"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{},\"dest\":"
         "{\"tn\":[\"2\"]}}}",
         "exactly one of \"tn\" and \"uri\""},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":5},\"dest\":"
         "{\"tn\":[\"2\"]}}}",
         "signingRequest.orig.tn must be a string"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"x1\"},"
         "\"dest\":{\"tn\":[\"2\"]}}}",
         "signingRequest.orig.tn: invalid telephone number 'x1'"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"}}}",
         "signingRequest.dest is missing"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":\"2\"}}}",
         "signingRequest.dest.tn must be an array of 1 to 32 strings"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[]}}}",
         "signingRequest.dest.tn must be an array of 1 to 32 strings"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[7]}}}",
         "signingRequest.dest.tn[0] must be a string"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{}}}",
         "signingRequest.dest needs a \"tn\" or \"uri\" array"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"iat\":\"1700000000\"}}",
         "signingRequest.iat must be a positive integer"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"iat\":-5}}",
         "signingRequest.iat must be a positive integer"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"iat\":253402300800}}",
         "signingRequest.iat must be a positive integer of seconds since the "
         "epoch, at most 253402300799"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"ppt\":\"div\"}}",
         "signingRequest.ppt 'div' is not supported"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"rcd\":\"Alice\"}}",
         "signingRequest.rcd must be an object"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"crn\":5}}",
         "signingRequest.crn must be a string"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"origid\":\"e2e-1\"}}",
         "signingRequest.origid 'e2e-1' is not a UUID"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"tn\":[\"2\"]},\"origid\":7}}",
         "signingRequest.origid must be a non-empty string"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"uri\":"
         "\"sip:alice@example.org\\u0001\"},\"dest\":{\"tn\":[\"2\"]}}}",
         "orig URI 'sip:alice@example.org\\x01' is invalid"},
        {"{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"},"
         "\"dest\":{\"uri\":[\"not a uri\"]}}}",
         "dest URI 'not a uri' is invalid"},
        {"{\"signingRequest\":{},\"signingRequest\":{}}", "duplicate"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_error(call("POST", "/stir/v1/signing", cases[i].body), 400,
                     cases[i].needle);
}

static void signing_passes_rcd_and_uris(void **state)
{
    struct sti_service_reply r =
        call("POST", "/stir/v1/signing",
             "{\"signingRequest\":{\"attest\":\"B\",\"orig\":{\"uri\":"
             "\"sip:alice@example.org\"},\"dest\":{\"uri\":[\"sip:bob@"
             "example.org\"]},\"rcd\":{\"nam\":\"Alice\"}}}");
    struct sti_identity *id;
    struct sti_passport *pp;
    struct sti_error err;
    json_t *doc = json_loads(r.body, 0, NULL);
    const char *value = json_string_value(
        json_object_get(json_object_get(doc, "signingResponse"), "identity"));

    (void)state;
    assert_int_equal(r.status, 200);
    assert_int_equal(sti_identity_parse(value, strlen(value), &id, &err),
                     STI_OK);
    assert_int_equal(sti_passport_parse(sti_identity_jws(id),
                                        strlen(sti_identity_jws(id)), &pp,
                                        &err),
                     STI_OK);
    assert_non_null(
        strstr(sti_passport_payload_json(pp), "\"rcd\":{\"nam\":\"Alice\"}"));
    assert_non_null(strstr(sti_passport_payload_json(pp),
                           "\"orig\":{\"uri\":\"sip:alice@example.org\"}"));
    sti_passport_free(pp);
    sti_identity_free(id);
    json_decref(doc);
    free(r.body);
}

static void verification_rejects_bad_bodies(void **state)
{
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"", "body is empty"},
        {"{\"verificationRequest\":[]}", "no \"verificationRequest\" object"},
        {"{\"verificationRequest\":{\"to\":{\"tn\":[\"2\"]}}}",
         "verificationRequest.from is missing"},
        {"{\"verificationRequest\":{\"from\":{},\"to\":{\"tn\":[\"2\"]}}}",
         "verificationRequest.from needs exactly one of \"tn\" and \"uri\""},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\",\"uri\":"
         "\"sip:a@b\"},\"to\":{\"tn\":[\"2\"]}}}",
         "verificationRequest.from needs exactly one of"},
        {"{\"verificationRequest\":{\"from\":{\"uri\":7},\"to\":{\"tn\":"
         "[\"2\"]}}}",
         "verificationRequest.from.uri must be a string or an array"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"uri\":"
         "[]}}}",
         "verificationRequest.to.uri must be a string or an array of 1 to"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"uri\":"
         "[\"sip:b@c\",5]}}}",
         "verificationRequest.to.uri[1] must be a URI such as"},
        {"{\"verificationRequest\":{\"from\":{\"uri\":\"\"},\"to\":{\"tn\":"
         "[\"2\"]}}}",
         "verificationRequest.from.uri must be a URI such as"},
        {"{\"verificationRequest\":{\"from\":{\"uri\":\"\\\"A\\\" "
         "<sip:alice@example.org>;tag=1\"},\"to\":{\"tn\":[\"2\"]}}}",
         "without spaces, a display name or angle brackets"},
        {"{\"verificationRequest\":{\"from\":{\"uri\":\"not a uri\"},\"to\":"
         "{\"tn\":[\"2\"]}}}",
         "verificationRequest.from.uri must be a URI such as"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":[\"1\",\"3\"]},\"to\":"
         "{\"tn\":[\"2\"]}}}",
         "verificationRequest.from.tn must be a string or an array of one "
         "string"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"}}}",
         "verificationRequest.to is missing"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":"
         "[false]}}}",
         "verificationRequest.to.tn[0] must be a string"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":"
         "[\"2\"]},\"identity\":7}}",
         "verificationRequest.identity must be a non-empty string"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":"
         "[\"2\"]},\"time\":1.5}}",
         "verificationRequest.time must be a positive integer"},
        {"{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":"
         "[\"2\"]},\"time\":9223372036854775807}}",
         "verificationRequest.time must be a positive integer of seconds "
         "since the epoch, at most 253402300799"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_error(call("POST", "/stir/v1/verification", cases[i].body), 400,
                     cases[i].needle);
}

static void routes_return_404_and_405(void **state)
{
    struct sti_service_reply r = call("GET", "/stir/v1/signing", "");

    (void)state;
    assert_non_null(r.allow);
    assert_string_equal(r.allow, "POST");
    assert_error(r, 405, "/stir/v1/signing takes POST, not GET");
    r = call("PUT", "/stir/v1/verification", "{}");
    assert_error(r, 405, "takes POST, not PUT");
    assert_error(call("POST", "/stir/v2/signing", "{}"), 404,
                 "no endpoint at /stir/v2/signing");
    assert_error(call("GET", "/", ""), 404, "no endpoint at /");
    assert_error(call("GET", "/\xff\x01x", ""), 404, "no endpoint at /??x");
}

static void sign_csv_matches_secsipidx(void **state)
{
    struct sti_service_reply r;
    struct sti_identity *id;
    struct sti_passport *pp;
    struct sti_error err;

    (void)state;
    r = call("POST", "/v1/sign-csv", "12025550100,12025550199,A,,\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; charset=utf-8");
    assert_int_equal(r.nosniff, 0);
    assert_non_null(strstr(r.body, ";alg=ES256;ppt=shaken"));
    assert_int_equal(r.body[r.len - 1], '\n');
    assert_ptr_equal(strchr(r.body, '\n'), r.body + r.len - 1);
    assert_int_equal(sti_identity_parse(r.body, r.len - 1, &id, &err), STI_OK);
    assert_string_equal(sti_identity_info(id), fx_url("/sp.pem"));
    sti_identity_free(id);
    free(r.body);

    r = call("GET", "/v1/sign-csv",
             "12025550100,12025550199,C,abc,https://other.example/x.pem");
    assert_int_equal(r.status, 200);
    assert_int_equal(sti_identity_parse(r.body, r.len - 1, &id, &err), STI_OK);
    assert_string_equal(sti_identity_info(id), "https://other.example/x.pem");
    assert_int_equal(sti_passport_parse(sti_identity_jws(id),
                                        strlen(sti_identity_jws(id)), &pp,
                                        &err),
                     STI_OK);
    assert_string_equal(sti_passport_claims(pp)->origid, "abc");
    assert_string_equal(sti_passport_claims(pp)->attest, "C");
    sti_passport_free(pp);
    sti_identity_free(id);
    free(r.body);
}

static void sign_csv_rejects_bad_rows(void **state)
{
    static const struct {
        const char *body;
        int status;
        const char *text;
    } cases[] = {
        {"", 400, "too few tokens\n"},
        {"1,2,A,x", 400, "too few tokens\n"},
        {"1,2,a,,", 400, "invalid attest 'a'; use A, B or C\n"},
        {"1,x2,A,,", 400, "dest: invalid telephone number 'x2'"},
        {"12025550100,12025550199,A,,https://a/b>;info=<https://evil/x", 400,
         "invalid x5u 'https://a/b>;info=<https://evil/x'"},
        {"12025550100,12025550199,A,,https://a/\tb", 400, "invalid x5u"},
        {"12025550100,12025550199,A,,not a url", 400,
         "invalid x5u 'not a url'"},
        {"12025550100,12025550199,A,\xff\xfe,", 400,
         "origid '\\xff\\xfe' is not valid UTF-8"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sti_service_reply r =
            call("POST", "/v1/sign-csv", cases[i].body);

        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(r.content_type, "text/plain; charset=utf-8");
        assert_int_equal(r.nosniff, 1);
        assert_non_null(strstr(r.body, cases[i].text));
        free(r.body);
    }
}

static void check_returns_ok_and_failed(void **state)
{
    struct sti_service_reply r = call("POST", "/v1/sign-csv", "1,2,A,,");
    char *good = strdup(r.body);

    (void)state;
    free(r.body);
    r = call("POST", "/v1/check", good);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK\n");
    assert_int_equal(r.nosniff, 0);
    free(r.body);
    good[10] = good[10] == 'x' ? 'y' : 'x';
    r = call("POST", "/v1/check", good);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "FAILED\n\n");
    assert_int_equal(r.nosniff, 1);
    free(r.body);
    r = call("GET", "/v1/check", "");
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "FAILED\n\n");
    free(r.body);
    free(good);
}

/* The identity of a signingResponse body, or NULL. */
static char *identity_of(const char *body)
{
    json_t *doc = json_loads(body, 0, NULL);
    const char *value = json_string_value(
        json_object_get(json_object_get(doc, "signingResponse"), "identity"));
    char *out = value ? strdup(value) : NULL;

    json_decref(doc);
    return out;
}

static void fr_profile_completes_numbers(void **state)
{
    struct sti_verifier_config vc = lab_verifier();
    struct sti_service_config sc = {.key = pki.sp_key,
                                    .x5u = fx_url("/sp.pem"),
                                    .verifier = &vc,
                                    .profile = "fr"};
    struct sti_service *fr;
    struct sti_service_reply r;
    struct sti_error err;
    struct sti_identity *id;
    struct sti_passport *pp;
    char body[2048], *identity;
    const char *payload;

    (void)state;
    assert_int_equal(sti_service_new(&sc, &fr, &err), STI_OK);
    r = call_on(fr, "POST", "/stir/v1/signing",
                "{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":"
                "\"01 23 45 67 89\"},\"dest\":{\"tn\":[\"0198765432\"]}}}");
    assert_int_equal(r.status, 200);
    identity = identity_of(r.body);
    free(r.body);
    assert_non_null(identity);
    assert_int_equal(sti_identity_parse(identity, strlen(identity), &id, &err),
                     STI_OK);
    assert_int_equal(sti_passport_parse(sti_identity_jws(id),
                                        strlen(sti_identity_jws(id)), &pp,
                                        &err),
                     STI_OK);
    payload = sti_passport_payload_json(pp);
    assert_non_null(strstr(payload, "\"orig\":{\"tn\":\"33123456789\"}"));
    assert_non_null(strstr(payload, "\"dest\":{\"tn\":[\"33198765432\"]}"));
    snprintf(body, sizeof(body),
             "{\"verificationRequest\":{\"from\":{\"tn\":\"0123456789\"},"
             "\"to\":{\"tn\":[\"+33198765432\"]},\"identity\":\"%s\"}}",
             identity);
    r = call_on(fr, "POST", "/stir/v1/verification", body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "TN-Validation-Passed"));
    free(r.body);
    /* The us profile reads 0123456789 as the national number 10123456789. */
    r = call("POST", "/stir/v1/verification", body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"reasoncode\":438"));
    free(r.body);
    sti_passport_free(pp);
    sti_identity_free(id);
    free(identity);
    sti_service_free(fr);
}

static void disabled_parts_return_503(void **state)
{
    struct sti_service_config sc = {0};
    struct sti_service *off;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_service_new(&sc, &off, &err), STI_OK);
    assert_error(call_on(off, "POST", "/stir/v1/signing", "{}"), 503,
                 "signing is not configured");
    assert_error(call_on(off, "POST", "/stir/v1/verification", "{}"), 503,
                 "verification is not configured");
    assert_error(call_on(off, "POST", "/v1/sign-csv", "1,2,A,,"), 503,
                 "--key and --x5u");
    assert_error(call_on(off, "POST", "/v1/check", "x"), 503,
                 "--ca-file or --ca-dir");
    sti_service_free(off);
}

static void new_rejects_bad_settings(void **state)
{
    struct sti_service_config sc = {0};
    struct sti_verifier_config vc = {.ca_file = "/nonexistent/root.pem"};
    struct sti_service *s = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_service_new(NULL, &s, &err), STI_ERR_INVALID);
    sc.profile = "de";
    assert_int_equal(sti_service_new(&sc, &s, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown TN profile 'de'"));
    sc.profile = "fr";
    sc.key = pki.sp_key;
    assert_int_equal(sti_service_new(&sc, &s, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "x5u"));
    sc.key = pki.root_key;
    sc.x5u = "https://cr.example/sp.pem";
    sc.verifier = &vc;
    assert_int_not_equal(sti_service_new(&sc, &s, &err), STI_OK);
    assert_non_null(strstr(err.message, "/nonexistent/root.pem"));
    assert_null(s);
    sti_service_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_then_verify_passes),
        cmocka_unit_test(tampered_header_fails_438),
        cmocka_unit_test(stale_iat_fails_403),
        cmocka_unit_test(wrong_orig_fails_438),
        cmocka_unit_test(call_time_checks_iat),
        cmocka_unit_test(reload_crl_from_url),
        cmocka_unit_test(verification_takes_uris),
        cmocka_unit_test(verification_fetches_x5u_once),
        cmocka_unit_test(verification_takes_tn_variants),
        cmocka_unit_test(verification_without_identity),
        cmocka_unit_test(signing_rejects_bad_bodies),
        cmocka_unit_test(signing_passes_rcd_and_uris),
        cmocka_unit_test(verification_rejects_bad_bodies),
        cmocka_unit_test(routes_return_404_and_405),
        cmocka_unit_test(sign_csv_matches_secsipidx),
        cmocka_unit_test(sign_csv_rejects_bad_rows),
        cmocka_unit_test(check_returns_ok_and_failed),
        cmocka_unit_test(fr_profile_completes_numbers),
        cmocka_unit_test(disabled_parts_return_503),
        cmocka_unit_test(new_rejects_bad_settings),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
