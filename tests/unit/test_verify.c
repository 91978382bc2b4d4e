/* Unit tests for lib/verify.c: each verdict of the verifier against a
 * local PKI whose chain is served over HTTP from this test. */
#include "support.h"

#include <pthread.h>

#include <openssl/x509v3.h>

#include "http_fixture.h"
#include "pki_fixture.h"

static struct pki pki;
static char *dir, *root_file, *sp_url;
static const char *const dest1[] = {"12025550101"};

static int setup(void **state)
{
    struct sti_error err;

    (void)state;
    pki_init(&pki, 0, 0);
    dir = test_tmpdir();
    root_file = test_path(dir, "root.pem");
    assert_int_equal(sti_file_write(root_file, pki.root_pem,
                                    strlen(pki.root_pem), 0644, 0, &err),
                     STI_OK);
    fx_route("/sp.pem", "200 OK", PEM_TYPE, pki.chain_pem);
    if (fx_start() != 0)
        return -1;
    sp_url = strdup(fx_url("/sp.pem"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_stop();
    pki_free(&pki);
    free(root_file);
    free(sp_url);
    test_rmtree(dir);
    return 0;
}

static struct sti_verifier *lab_verifier(const char *ca_file)
{
    struct sti_verifier_config cfg = {
        .ca_file = ca_file,
        .allow_http = 1,
        .allow_any_port = 1,
    };
    struct sti_verifier *v;
    struct sti_error err;

    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    return v;
}

static struct sti_passport_claims claims(const char *ppt)
{
    struct sti_passport_claims c = {
        .ppt = ppt,
        .x5u = sp_url,
        .attest = "A",
        .orig_tn = "12025550100",
        .dest_tn = dest1,
        .dest_tn_count = 1,
        .iat = time(NULL),
    };

    return c;
}

static char *sign(const struct sti_passport_claims *c,
                  const struct sti_key *key, int compact)
{
    struct sti_signer *s;
    struct sti_error err;
    char *value;

    assert_int_equal(sti_signer_new(key, c->x5u, c->ppt, &s, &err), STI_OK);
    assert_int_equal(sti_signer_sign_identity(s, c, compact, &value, &err),
                     STI_OK);
    sti_signer_free(s);
    return value;
}

/* Verifies VALUE (and SIP when given) and checks the verdict. */
static void expect(struct sti_verifier *v, const char *value,
                   const struct sti_sip *sip, int outcome, int code,
                   const char *needle, struct sti_verify_result *res)
{
    const char *values[1] = {value};
    struct sti_verify_request req = {
        .identities = values, .identity_count = value ? 1 : 0, .sip = sip};
    struct sti_error err;

    assert_int_equal(sti_verify(v, &req, res, &err), STI_OK);
    if (res->outcome != outcome || res->sip_code != code)
        fail_msg("expected %d/%d, got %d/%d: %s", outcome, code, res->outcome,
                 res->sip_code, res->reason);
    if (needle != NULL && strstr(res->reason, needle) == NULL)
        fail_msg("reason '%s' lacks '%s'", res->reason, needle);
}

static void valid_shaken_passes(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0), *json, *serial;
    struct sti_error err;

    (void)state;
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_string_equal(res.verstat, "TN-Validation-Passed");
    assert_string_equal(res.attest, "A");
    assert_string_equal(res.orig, "12025550100");
    assert_string_equal(res.spc, "1234");
    serial = sti_cert_serial_hex(pki.sp);
    assert_string_equal(res.cert_serial, serial);
    assert_int_equal(res.passport_count, 1);
    assert_false(res.cache_hit);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_true(res.cache_hit);
    assert_int_equal(sti_verify_result_to_json(&res, &json, &err), STI_OK);
    assert_non_null(strstr(json, "\"pass\":true"));
    assert_non_null(strstr(json, "\"spc\":\"1234\""));
    free(json);
    free(serial);
    free(value);
    sti_verifier_free(v);
}

static void stale_and_future_iat(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value;

    (void)state;
    c.iat = time(NULL) - 61;
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 403, "s old", &res);
    assert_string_equal(res.sip_reason, "Stale Date");
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    free(value);
    c.iat = time(NULL) + 30;
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 403, "in the future", &res);
    free(value);
    sti_verifier_free(v);
}

static void wrong_key_is_438(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.ca_key, 0);

    (void)state;
    expect(v, value, NULL, STI_VERIFY_FAIL, 438, "does not verify", &res);
    assert_string_equal(res.sip_reason, "Invalid Identity Header");
    free(value);
    sti_verifier_free(v);
}

static void untrusted_root_is_437(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(NULL);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0);
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    (void)state;
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "not trusted", &res);
    assert_string_equal(res.sip_reason, "Unsupported Credential");
    /* Anchors can be replaced while the verifier runs. */
    assert_int_equal(sti_trust_add_anchor(trust, pki.root, &err), STI_OK);
    assert_int_equal(sti_verifier_set_trust(v, trust, &err), STI_OK);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    free(value);
    sti_verifier_free(v);
}

/* The cache keeps certificates as DER after the first validation, so new
 * anchors make the verifier parse and validate the chain again. */
static void new_trust_revalidates_chain(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0);
    struct sti_trust *trust;
    struct sti_error err;

    (void)state;
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_true(res.cache_hit);
    /* Anchors without the root: the memo no longer applies. */
    assert_int_equal(sti_verifier_set_trust(v, sti_trust_new(), &err), STI_OK);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "not trusted", &res);
    assert_true(res.cache_hit);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "not trusted", &res);
    /* The root again: the chain rebuilt from DER validates. */
    trust = sti_trust_new();
    assert_int_equal(sti_trust_add_anchor(trust, pki.root, &err), STI_OK);
    assert_int_equal(sti_verifier_set_trust(v, trust, &err), STI_OK);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_true(res.cache_hit);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    free(value);
    sti_verifier_free(v);
}

static void revoked_leaf_is_437(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value;
    char *serial = sti_cert_serial_hex(pki.sp),
         *issuer = sti_cert_subject(pki.ca);
    struct sti_crl_entry entry = {.serial_hex = serial,
                                  .issuer_dn = issuer,
                                  .revoked_at = time(NULL) - 3600,
                                  .reason = STI_REASON_KEY_COMPROMISE};
    struct sti_crl_request req = {.entries = &entry,
                                  .count = 1,
                                  .crl_number = 1,
                                  .next_update = time(NULL) + 86400,
                                  .indirect = 1};
    struct sti_crl *crl;
    struct sti_error err;

    (void)state;
    /* Signed 30 s before the CRL's thisUpdate, which is "not yet valid"
     * at iat: the verifier retries at now and still sees the revocation. */
    c.iat = time(NULL) - 30;
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_int_equal(sti_crl_build(&req, pki.pa, pki.pa_key, &crl, &err),
                     STI_OK);
    assert_int_equal(sti_verifier_set_crl(v, crl, pki.pa, &err), STI_OK);
    /* The validation memo must not hide the new CRL. */
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "revoked", &res);
    sti_crl_free(crl);
    free(serial);
    free(issuer);
    free(value);
    sti_verifier_free(v);
}

static void x5u_policy_and_fetch(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier_config strict = {.ca_file = root_file};
    struct sti_verifier *v;
    struct sti_verify_result res;
    struct sti_error err;
    char *value = sign(&c, pki.sp_key, 0);

    (void)state;
    assert_int_equal(sti_verifier_new(&strict, &v, &err), STI_OK);
    expect(v, value, NULL, STI_VERIFY_FAIL, 436, "not https", &res);
    assert_string_equal(res.sip_reason, "Bad Identity Info");
    sti_verifier_free(v);
    free(value);
    c.x5u = fx_url("/missing.pem");
    value = sign(&c, pki.sp_key, 0);
    v = lab_verifier(root_file);
    expect(v, value, NULL, STI_VERIFY_NOCHECK, 436, "404", &res);
    assert_string_equal(res.verstat, "No-TN-Validation");
    free(value);
    /* Content that breaks the x5u policy is invalid, not unchecked. */
    fx_route("/moved.pem", "302 Found", "Location: /sp.pem\r\n", "");
    fx_route("/html.pem", "200 OK", "Content-Type: text/html\r\n",
             pki.chain_pem);
    c.x5u = fx_url("/moved.pem");
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 436, "redirect", &res);
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    free(value);
    c.x5u = fx_url("/html.pem");
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 436, "'text/html'", &res);
    sti_verifier_free(v);
    free(value);
}

static void header_parameter_faults(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0), buf[2048];
    char *semi = strchr(value, ';');

    (void)state;
    expect(v, NULL, NULL, STI_VERIFY_NOCHECK, 428, "no Identity", &res);
    assert_string_equal(res.sip_reason, "Use Identity Header");
    snprintf(buf, sizeof(buf), "%.*s;info=<%s>;alg=RS256", (int)(semi - value),
             value, sp_url);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 437, "RS256", &res);
    snprintf(buf, sizeof(buf), "%.*s;info=<https://other/x.pem>",
             (int)(semi - value), value);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 436, "differs", &res);
    snprintf(buf, sizeof(buf), "%.*s;alg=ES256", (int)(semi - value), value);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 436, "no info", &res);
    snprintf(buf, sizeof(buf), "%.*s;info=<%s>;ppt=div", (int)(semi - value),
             value, sp_url);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 438, "ppt", &res);
    /* A quoted info is outside RFC 8224's grammar, yet unambiguous. */
    snprintf(buf, sizeof(buf), "%.*s;info=\"<%s>\"", (int)(semi - value), value,
             sp_url);
    expect(v, buf, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    snprintf(buf, sizeof(buf), "%.*s;info=\"<https://other/x.pem>\"",
             (int)(semi - value), value);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 436, "<https://other/x.pem> differs",
           &res);
    snprintf(buf, sizeof(buf), "%.*s;info=<%s>;alg=E\xffS", (int)(semi - value),
             value, sp_url);
    expect(v, buf, NULL, STI_VERIFY_FAIL, 437, "'E\\xffS'", &res);
    expect(v, "abc\x80.def.ghi", NULL, STI_VERIFY_FAIL, 438, "'\\x80'", &res);
    expect(v, "garbage", NULL, STI_VERIFY_FAIL, 438, NULL, &res);
    free(value);
    sti_verifier_free(v);
}

static struct sti_sip *invite(const char *from, const char *to,
                              const char *extra)
{
    char text[4096];
    struct sti_sip *s;
    struct sti_error err;
    char date[64];
    time_t now = time(NULL);

    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&now));
    snprintf(text, sizeof(text),
             "INVITE sip:%s@example.org SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
             "From: <sip:%s@example.org;user=phone>;tag=1\r\n"
             "To: <sip:%s@example.org>\r\n"
             "Call-ID: 1@127.0.0.1\r\nCSeq: 1 INVITE\r\nDate: %s\r\n%s"
             "Content-Length: 0\r\n\r\n",
             to, from, to, date, extra);
    assert_int_equal(sti_sip_parse(text, strlen(text), &s, &err), STI_OK);
    return s;
}

/* An INVITE from 12025550100 to 12025550101 with DATE as its Date. */
static struct sti_sip *invite_dated(const char *date)
{
    char text[2048];
    struct sti_sip *s;
    struct sti_error err;

    snprintf(text, sizeof(text),
             "INVITE sip:12025550101@example.org SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
             "From: <sip:12025550100@example.org;user=phone>;tag=1\r\n"
             "To: <sip:12025550101@example.org>\r\n"
             "Call-ID: 1@127.0.0.1\r\nCSeq: 1 INVITE\r\nDate: %s\r\n"
             "Content-Length: 0\r\n\r\n",
             date);
    assert_int_equal(sti_sip_parse(text, strlen(text), &s, &err), STI_OK);
    return s;
}

static void sip_date_against_iat(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value, date[64];
    struct sti_sip *s;
    time_t when;

    (void)state;
    value = sign(&c, pki.sp_key, 0);
    when = (time_t)c.iat - 120;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&when));
    s = invite_dated(date);
    expect(v, value, s, STI_VERIFY_FAIL, 403, "ahead of the Date header", &res);
    assert_string_equal(res.sip_reason, "Stale Date");
    sti_sip_free(s);
    when = (time_t)c.iat + 120;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&when));
    s = invite_dated(date);
    expect(v, value, s, STI_VERIFY_FAIL, 403, "older than the Date header",
           &res);
    sti_sip_free(s);
    s = invite_dated("garbage");
    expect(v, value, s, STI_VERIFY_FAIL, 403, "'garbage'", &res);
    sti_sip_free(s);
    when = (time_t)c.iat + 30;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&when));
    s = invite_dated(date);
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    free(value);
    sti_verifier_free(v);
}

static void orig_dest_against_sip(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0), extra[2048];
    struct sti_sip *s;

    (void)state;
    s = invite("+1-202-555-0100", "2025550101", "");
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    s = invite("12025550199", "12025550101", "");
    expect(v, value, s, STI_VERIFY_FAIL, 438, "From (12025550199)", &res);
    sti_sip_free(s);
    s = invite("12025550199", "12025550101",
               "P-Asserted-Identity: <tel:+12025550100>\r\n");
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    /* A P-Asserted-Identity with a TN decides, even when From matches. */
    s = invite("12025550100", "12025550101",
               "P-Asserted-Identity: <sip:12025550777@x>\r\n");
    expect(v, value, s, STI_VERIFY_FAIL, 438, "P-Asserted-Identity 12025550777",
           &res);
    sti_sip_free(s);
    s = invite("12025550100", "12025550111", "");
    expect(v, value, s, STI_VERIFY_FAIL, 438, "To (12025550111)", &res);
    sti_sip_free(s);
    /* Headers taken from the SIP message itself. */
    snprintf(extra, sizeof(extra), "Identity: %s\r\n", value);
    s = invite("12025550100", "12025550101", extra);
    expect(v, NULL, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    free(value);
    sti_verifier_free(v);
}

static const char *const bob_uri[] = {"sip:bob@example.org"};

/* SHAKEN claims with an orig uri and a dest uri, no TNs. */
static struct sti_passport_claims uri_claims(void)
{
    struct sti_passport_claims c = claims("shaken");

    c.orig_tn = NULL;
    c.orig_uri = "sip:alice@example.org";
    c.dest_tn = NULL;
    c.dest_tn_count = 0;
    c.dest_uri = bob_uri;
    c.dest_uri_count = 1;
    return c;
}

static void uri_orig_against_sip(void **state)
{
    struct sti_passport_claims c = uri_claims();
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0);
    struct sti_sip *s;

    (void)state;
    s = invite("alice", "bob", "");
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    assert_string_equal(res.orig, "sip:alice@example.org");
    sti_sip_free(s);
    /* The user part compares exactly (RFC 3261 section 19.1.4). */
    s = invite("Alice", "bob", "");
    expect(v, value, s, STI_VERIFY_FAIL, 438,
           "orig uri sip:alice@example.org differs from From "
           "sip:Alice@example.org;user=phone",
           &res);
    sti_sip_free(s);
    s = invite("anonymous", "bob",
               "P-Asserted-Identity: <sip:alice@EXAMPLE.org>\r\n");
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    /* A P-Asserted-Identity with a URI decides, even when From matches. */
    s = invite("alice", "bob",
               "P-Asserted-Identity: <sip:mallory@example.org>\r\n");
    expect(v, value, s, STI_VERIFY_FAIL, 438,
           "differs from P-Asserted-Identity sip:mallory@example.org", &res);
    sti_sip_free(s);
    /* A tel P-Asserted-Identity carries only a number, so From decides. */
    s = invite("alice", "bob", "P-Asserted-Identity: <tel:+12025550100>\r\n");
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    sti_sip_free(s);
    free(value);
    sti_verifier_free(v);
}

static void uri_dest_against_sip(void **state)
{
    struct sti_passport_claims c = uri_claims();
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value = sign(&c, pki.sp_key, 0);
    struct sti_sip *s;

    (void)state;
    s = invite("alice", "carol", "");
    expect(v, value, s, STI_VERIFY_FAIL, 438,
           "dest sip:bob@example.org matches neither To "
           "(sip:carol@example.org) nor the Request-URI "
           "(sip:carol@example.org)",
           &res);
    sti_sip_free(s);
    free(value);
    /* An orig tn against a From URI without a number names that URI. */
    c = claims("shaken");
    value = sign(&c, pki.sp_key, 0);
    s = invite("alice", "12025550101", "");
    expect(v, value, s, STI_VERIFY_FAIL, 438,
           "orig 12025550100 differs from From "
           "sip:alice@example.org;user=phone, which carries no number",
           &res);
    sti_sip_free(s);
    free(value);
    sti_verifier_free(v);
}

/* Verifies VALUE against the calling and called parties of a request. */
static void expect_parties(struct sti_verifier *v, const char *value,
                           const struct sti_verify_request *parties,
                           int outcome, int code, const char *needle)
{
    struct sti_verify_request req = *parties;
    const char *values[1] = {value};
    struct sti_verify_result res;
    struct sti_error err;

    req.identities = values;
    req.identity_count = 1;
    assert_int_equal(sti_verify(v, &req, &res, &err), STI_OK);
    if (res.outcome != outcome || res.sip_code != code)
        fail_msg("expected %d/%d, got %d/%d: %s", outcome, code, res.outcome,
                 res.sip_code, res.reason);
    if (needle != NULL && strstr(res.reason, needle) == NULL)
        fail_msg("reason '%s' lacks '%s'", res.reason, needle);
}

static void request_uri_fields(void **state)
{
    struct sti_passport_claims c = uri_claims();
    struct sti_verifier *v = lab_verifier(root_file);
    char *value = sign(&c, pki.sp_key, 0);

    (void)state;
    expect_parties(v, value,
                   &(struct sti_verify_request){
                       .orig_uri = "sip:alice@example.org;transport=tls",
                       .dest_uri = "SIP:bob@Example.org"},
                   STI_VERIFY_PASS, 0, NULL);
    expect_parties(
        v, value,
        &(struct sti_verify_request){.orig_uri = "sip:eve@example.org"},
        STI_VERIFY_FAIL, 438,
        "orig uri sip:alice@example.org differs from the calling URI "
        "sip:eve@example.org");
    expect_parties(v, value,
                   &(struct sti_verify_request){.orig_tn = "12025550100"},
                   STI_VERIFY_FAIL, 438,
                   "orig uri sip:alice@example.org cannot match the calling "
                   "number 12025550100");
    expect_parties(v, value,
                   &(struct sti_verify_request){.dest_uri = "sip:carol@x.org"},
                   STI_VERIFY_FAIL, 438,
                   "dest sip:bob@example.org does not contain the called URI "
                   "sip:carol@x.org");
    free(value);
    /* TN claims: dest passes on either kind of called party. */
    c = claims("shaken");
    value = sign(&c, pki.sp_key, 0);
    expect_parties(v, value,
                   &(struct sti_verify_request){.dest_tn = "12025550101",
                                                .dest_uri = "sip:carol@x.org"},
                   STI_VERIFY_PASS, 0, NULL);
    expect_parties(v, value,
                   &(struct sti_verify_request){.dest_uri = "sip:carol@x.org"},
                   STI_VERIFY_FAIL, 438,
                   "does not contain the called URI sip:carol@x.org");
    expect_parties(
        v, value, &(struct sti_verify_request){.orig_uri = "sip:alice@x.org"},
        STI_VERIFY_FAIL, 438,
        "orig tn 12025550100 cannot match the calling URI sip:alice@x.org");
    free(value);
    sti_verifier_free(v);
}

static void div_chain_links(void **state)
{
    static const char *const new_dest[] = {"12025550177"};
    struct sti_passport_claims c = claims("shaken"), d = claims("div");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *shaken = sign(&c, pki.sp_key, 0), *div, field[8192];
    struct sti_sip *s;

    (void)state;
    d.div_tn = "12025550101";
    d.dest_tn = new_dest;
    div = sign(&d, pki.sp_key, 0);
    snprintf(field, sizeof(field), "%s, %s", div, shaken);
    s = invite("12025550100", "12025550177", "");
    expect(v, field, s, STI_VERIFY_PASS, 0, NULL, &res);
    assert_int_equal(res.passport_count, 2);
    assert_string_equal(res.ppt, "shaken");
    sti_sip_free(s);
    free(div);
    d.div_tn = "12025550999";
    div = sign(&d, pki.sp_key, 0);
    snprintf(field, sizeof(field), "%s, %s", shaken, div);
    expect(v, field, NULL, STI_VERIFY_FAIL, 438, "does not link", &res);
    free(div);
    free(shaken);
    sti_verifier_free(v);
}

static void div_without_shaken_is_438(void **state)
{
    static const char *const new_dest[] = {"12025550177"};
    struct sti_passport_claims p = claims(NULL), d = claims("div");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *plain = sign(&p, pki.sp_key, 0), *div, field[8192];

    (void)state;
    d.div_tn = "12025550101";
    d.dest_tn = new_dest;
    div = sign(&d, pki.sp_key, 0);
    expect(v, div, NULL, STI_VERIFY_FAIL, 438, "no SHAKEN PASSporT", &res);
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    snprintf(field, sizeof(field), "%s, %s", plain, div);
    expect(v, field, NULL, STI_VERIFY_FAIL, 438, "no SHAKEN PASSporT", &res);
    /* A plain PASSporT alone passes (RFC 8224), with no attest. */
    expect(v, plain, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_string_equal(res.attest, "");
    free(div);
    free(plain);
    sti_verifier_free(v);
}

static void compact_form(void **state)
{
    struct sti_passport_claims c = claims(NULL);
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *value, *shaken;
    struct sti_sip *s = invite("12025550100", "12025550101", "");
    struct sti_error err;
    time_t date;

    (void)state;
    assert_int_equal(sti_sip_get_date(s, &date, &err), STI_OK);
    c.iat = date;
    value = sign(&c, pki.sp_key, 1);
    assert_int_equal(strncmp(value, "..", 2), 0);
    expect(v, value, s, STI_VERIFY_PASS, 0, NULL, &res);
    expect(v, value, NULL, STI_VERIFY_FAIL, 438, "needs the calling", &res);
    c = claims("shaken");
    shaken = sign(&c, pki.sp_key, 1);
    expect(v, shaken, s, STI_VERIFY_FAIL, 438, "full form", &res);
    free(shaken);
    free(value);
    sti_sip_free(s);
    sti_verifier_free(v);
}

/* Returns the anchors of root_file, marked as coming from CA list
 * version 1, which expires at EXPIRES. */
static struct sti_trust *list_anchors(time_t expires)
{
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    assert_int_equal(sti_trust_load_anchors(trust, root_file, &err), STI_OK);
    sti_trust_set_list(trust, 1, expires);
    return trust;
}

/* Anchors from an expired CA list verify nothing until a newer list. */
static void expired_list_anchors_fail(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    struct sti_error err;
    char *value = sign(&c, pki.sp_key, 0);

    (void)state;
    assert_int_equal(
        sti_verifier_set_trust(v, list_anchors(time(NULL) - 1), &err), STI_OK);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437,
           "come from a CA list that expired", &res);
    assert_int_equal(
        sti_verifier_set_trust(v, list_anchors(time(NULL) + 3600), &err),
        STI_OK);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    free(value);
    sti_verifier_free(v);
}

/* Issues a CA certificate (CA:TRUE, keyUsage keyCertSign and
 * digitalSignature, TNAuthList SPC 1234) for the SP's key from the
 * intermediate, with OpenSSL directly, since libsti has no such profile. */
static struct sti_cert *ca_signer_cert(void)
{
    static const unsigned char tnauth[] = {0x30, 0x08, 0xa0, 0x06, 0x16,
                                           0x04, '1',  '2',  '3',  '4'};
    X509 *x = X509_new(), *issuer = sti_cert_get0_x509(pki.ca);
    X509V3_CTX ctx;
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.26", 1);
    X509_EXTENSION *ext;
    X509_NAME *name = X509_NAME_new();

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"SHAKEN 1234 CA", -1, -1,
                               0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, sti_key_get0_pkey(pki.sp_key));
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                              "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
                              "critical,keyCertSign,digitalSignature");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_set(value, tnauth, sizeof(tnauth));
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, sti_key_get0_pkey(pki.ca_key), EVP_sha256()) > 0);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    X509_NAME_free(name);
    return sti_cert_from_x509(x);
}

/* A leaf with CA:TRUE cannot sign, even with digitalSignature and a
 * TNAuthList that covers orig. */
static void ca_leaf_cannot_sign(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_cert *leaf = ca_signer_cert();
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    char *chain = pki_pem2(leaf, pki.ca), *value;

    (void)state;
    assert_true(sti_cert_is_ca(leaf));
    fx_route("/ca-leaf.pem", "200 OK", PEM_TYPE, chain);
    c.x5u = fx_url("/ca-leaf.pem");
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "is a CA certificate", &res);
    free(value);
    sti_verifier_free(v);
    sti_cert_free(leaf);
    fx_route("/ca-leaf.pem", "404 Not Found", "", NULL);
    free(chain);
}

static void delegate_tn_coverage(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_key *sca_key, *del_key;
    struct sti_cert *sca, *del;
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    struct sti_error err;
    char *chain, *sca_chain, *value;

    (void)state;
    assert_int_equal(sti_key_generate(&sca_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&del_key, &err), STI_OK);
    sca = pki_issue(STI_CERT_SCA, "range:12025550100+10", sca_key, pki.ca,
                    pki.ca_key, 0, 400);
    del = pki_issue(STI_CERT_DELEGATE, "tn:12025550100", del_key, sca, sca_key,
                    0, 0);
    chain = malloc(16384);
    {
        char *a = pki_pem2(del, sca), *b = pki_pem2(pki.ca, NULL);

        snprintf(chain, 16384, "%s%s", a, b);
        free(a);
        free(b);
    }
    fx_route("/delegate.pem", "200 OK", PEM_TYPE, chain);
    c.x5u = fx_url("/delegate.pem");
    value = sign(&c, del_key, 0);
    expect(v, value, NULL, STI_VERIFY_PASS, 0, NULL, &res);
    assert_string_equal(res.spc, "");
    free(value);
    c.orig_tn = "12025550105";
    value = sign(&c, del_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "not among the TNs", &res);
    free(value);
    /* The SCA covers orig, but its key may sign certificates only. */
    sca_chain = pki_pem2(sca, pki.ca);
    fx_route("/sca.pem", "200 OK", PEM_TYPE, sca_chain);
    c.orig_tn = "12025550100";
    c.x5u = fx_url("/sca.pem");
    value = sign(&c, sca_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "lacks digitalSignature",
           &res);
    free(value);
    sti_verifier_free(v);
    sti_cert_free(sca);
    sti_cert_free(del);
    sti_key_free(sca_key);
    sti_key_free(del_key);
    /* The route keeps pointing at CHAIN until the server stops. */
    fx_route("/delegate.pem", "404 Not Found", "", NULL);
    fx_route("/sca.pem", "404 Not Found", "", NULL);
    free(chain);
    free(sca_chain);
}

/* Issues a leaf under pki.ca with OpenSSL directly, for shapes that
 * sti_cert_issue() refuses: no TNAuthList, or a key other than P-256. */
static char *odd_chain(EVP_PKEY *subject)
{
    X509 *x = X509_new(), *ca = sti_cert_get0_x509(pki.ca);
    X509_NAME *name = X509_NAME_new();
    struct sti_cert *leaf;
    char *pem;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"SHAKEN odd", -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, NULL);
    X509_set_pubkey(x, subject);
    assert_true(X509_sign(x, sti_key_get0_pkey(pki.ca_key), EVP_sha256()) > 0);
    X509_NAME_free(name);
    leaf = sti_cert_from_x509(x);
    pem = pki_pem2(leaf, pki.ca);
    sti_cert_free(leaf);
    return pem;
}

static void odd_leaves_are_437(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    struct sti_verify_result res;
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *no_tnauth = odd_chain(sti_key_get0_pkey(pki.sp_key));
    char *big_key = odd_chain(p384), *value;

    (void)state;
    fx_route("/no-tnauth.pem", "200 OK", PEM_TYPE, no_tnauth);
    fx_route("/p384.pem", "200 OK", PEM_TYPE, big_key);
    c.x5u = fx_url("/no-tnauth.pem");
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "has no TNAuthList", &res);
    free(value);
    c.x5u = fx_url("/p384.pem");
    value = sign(&c, pki.sp_key, 0);
    expect(v, value, NULL, STI_VERIFY_FAIL, 437, "not EC P-256", &res);
    free(value);
    sti_verifier_free(v);
    fx_route("/no-tnauth.pem", "404 Not Found", "", NULL);
    fx_route("/p384.pem", "404 Not Found", "", NULL);
    free(no_tnauth);
    free(big_key);
    EVP_PKEY_free(p384);
}

struct worker {
    struct sti_verifier *v;
    const char *value;
    int passes;
};

static void *verify_loop(void *arg)
{
    struct worker *w = arg;
    const char *values[1] = {w->value};
    struct sti_verify_request req = {.identities = values, .identity_count = 1};
    struct sti_verify_result res;

    for (int i = 0; i < 50; i++)
        if (sti_verify(w->v, &req, &res, NULL) == STI_OK &&
            res.outcome == STI_VERIFY_PASS)
            w->passes++;
    return NULL;
}

static void threads_share_verifier(void **state)
{
    struct sti_passport_claims c = claims("shaken");
    struct sti_verifier *v = lab_verifier(root_file);
    char *value = sign(&c, pki.sp_key, 0);
    struct worker w[4];
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.v = v, .value = value};
        assert_int_equal(pthread_create(&t[i], NULL, verify_loop, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].passes, 50);
    }
    free(value);
    sti_verifier_free(v);
}

static void config_errors(void **state)
{
    struct sti_verifier_config cfg = {.ca_file = "/nonexistent/root.pem"};
    struct sti_verifier *v;
    struct sti_error err;

    (void)state;
    assert_int_not_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    assert_non_null(strstr(err.message, "/nonexistent/root.pem"));
    cfg.ca_file = NULL;
    cfg.profile = "de";
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_ERR_INVALID);
    assert_int_equal(sti_verify(NULL, NULL, NULL, &err), STI_ERR_INVALID);
    assert_string_equal(sti_verify_outcome_name(STI_VERIFY_NOCHECK), "nocheck");
    sti_verifier_free(NULL);
}

/* Writes an empty indirect CRL signed by the PA to PATH. */
static void write_pa_crl(const char *path)
{
    struct sti_crl_request req = {
        .crl_number = 1, .next_update = time(NULL) + 86400, .indirect = 1};
    struct sti_crl *crl;
    struct sti_error err;
    char *pem;

    assert_int_equal(sti_crl_build(&req, pki.pa, pki.pa_key, &crl, &err),
                     STI_OK);
    assert_int_equal(sti_crl_to_pem(crl, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 0, &err),
                     STI_OK);
    sti_free(pem);
    sti_crl_free(crl);
}

static void crl_without_signer_fails_setup(void **state)
{
    char *crl_file = test_path(dir, "pa.crl"), *pa_file, *pa_pem;
    struct sti_verifier_config cfg = {
        .ca_file = root_file, .allow_http = 1, .allow_any_port = 1};
    struct sti_verifier *v = NULL;
    struct sti_error err;

    (void)state;
    write_pa_crl(crl_file);
    pa_file = test_path(dir, "pa.pem");
    assert_int_equal(sti_cert_to_pem(pki.pa, &pa_pem, &err), STI_OK);
    assert_int_equal(
        sti_file_write(pa_file, pa_pem, strlen(pa_pem), 0644, 0, &err), STI_OK);
    cfg.crl_file = crl_file;
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_ERR_INVALID);
    assert_null(v);
    assert_non_null(strstr(err.message, "signed the CRL"));
    assert_non_null(strstr(err.message, root_file));
    /* A signer file with the wrong certificate fails the same way. */
    cfg.crl_signer_file = root_file;
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_ERR_INVALID);
    cfg.crl_signer_file = pa_file;
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    sti_verifier_free(v);
    sti_free(pa_pem);
    free(pa_file);
    free(crl_file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_shaken_passes),
        cmocka_unit_test(stale_and_future_iat),
        cmocka_unit_test(wrong_key_is_438),
        cmocka_unit_test(untrusted_root_is_437),
        cmocka_unit_test(new_trust_revalidates_chain),
        cmocka_unit_test(revoked_leaf_is_437),
        cmocka_unit_test(x5u_policy_and_fetch),
        cmocka_unit_test(header_parameter_faults),
        cmocka_unit_test(sip_date_against_iat),
        cmocka_unit_test(orig_dest_against_sip),
        cmocka_unit_test(uri_orig_against_sip),
        cmocka_unit_test(uri_dest_against_sip),
        cmocka_unit_test(request_uri_fields),
        cmocka_unit_test(div_chain_links),
        cmocka_unit_test(div_without_shaken_is_438),
        cmocka_unit_test(compact_form),
        cmocka_unit_test(delegate_tn_coverage),
        cmocka_unit_test(ca_leaf_cannot_sign),
        cmocka_unit_test(expired_list_anchors_fail),
        cmocka_unit_test(odd_leaves_are_437),
        cmocka_unit_test(threads_share_verifier),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(crl_without_signer_fails_setup),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
