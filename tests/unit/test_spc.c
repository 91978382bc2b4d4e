/* Unit tests for lib/spc.c: SPC token creation, parsing, verification. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define X5U "https://pa.example/pa.crt"

struct fixture {
    struct sti_key *pa_key;
    struct sti_cert *pa_cert;
    struct sti_key *account;
    char fingerprint[STI_FINGERPRINT_LEN];
    struct sti_tnauth *tn;
};

static struct sti_cert *self_signed(struct sti_key *key)
{
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_error err;

    memset(&req, 0, sizeof(req));
    req.kind = STI_CERT_PA_ROOT;
    req.common_name = "SHAKEN PA ROOT";
    req.organization = "Test PA";
    req.subject_key = key;
    assert_int_equal(sti_cert_issue(&req, NULL, NULL, &cert, &err), STI_OK);
    return cert;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sti_error err;

    assert_int_equal(sti_key_generate(&f->pa_key, &err), STI_OK);
    f->pa_cert = self_signed(f->pa_key);
    assert_int_equal(sti_key_generate(&f->account, &err), STI_OK);
    assert_int_equal(sti_key_spki_fingerprint(f->account, f->fingerprint, &err),
                     STI_OK);
    assert_int_equal(sti_tnauth_parse_spec("spc:818H", &f->tn, &err), STI_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sti_key_free(f->pa_key);
    sti_cert_free(f->pa_cert);
    sti_key_free(f->account);
    sti_tnauth_free(f->tn);
    free(f);
    return 0;
}

static char *make_token(const struct fixture *f, const char *fingerprint,
                        int ca, time_t exp)
{
    struct sti_spc_token_request req;
    struct sti_error err;
    char *token = NULL;

    memset(&req, 0, sizeof(req));
    req.x5u = X5U;
    req.tnauth = f->tn;
    req.fingerprint = fingerprint;
    req.ca = ca;
    req.exp = exp;
    assert_int_equal(sti_spc_token_create(&req, f->pa_key, &token, &err),
                     STI_OK);
    return token;
}

static void default_options(const struct fixture *f,
                            struct sti_spc_verify_options *o,
                            const struct sti_cert **certs)
{
    memset(o, 0, sizeof(*o));
    certs[0] = f->pa_cert;
    o->pa_certs = certs;
    o->pa_cert_count = 1;
    o->x5u = X5U;
    o->account_key = f->account;
    o->tkvalue = "MAigBhYEODE4SA==";
    o->ca = 0;
}

static void token_round_trip(void **state)
{
    struct fixture *f = *state;
    time_t exp = time(NULL) + 600;
    char *token = make_token(f, f->fingerprint, 0, exp);
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_spc_token *t = NULL;
    struct sti_error err;

    default_options(f, &o, certs);
    assert_int_equal(sti_spc_token_verify(token, &o, &t, &err), STI_OK);
    assert_string_equal(t->x5u, X5U);
    assert_string_equal(t->tktype, "TNAuthList");
    assert_string_equal(t->tkvalue, "MAigBhYEODE4SA==");
    assert_string_equal(sti_tnauth_get0_spc(t->tnauth), "818H");
    assert_string_equal(t->fingerprint, f->fingerprint);
    assert_int_equal(t->exp, exp);
    assert_int_equal(t->ca, 0);
    assert_int_equal(strlen(t->jti), 36);
    sti_spc_token_free(t);
    free(token);
}

/* The header and payload are canonical JSON, exactly as specified. */
static void token_canonical_json(void **state)
{
    struct fixture *f = *state;
    char *token = make_token(f, f->fingerprint, 1, 2000000000);
    struct sti_jws *jws = NULL;
    struct sti_error err;
    char want[512];

    assert_int_equal(sti_jws_parse(token, strlen(token), &jws, &err), STI_OK);
    assert_string_equal(sti_jws_header_json(jws),
                        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"" X5U
                        "\"}");
    snprintf(want, sizeof(want),
             "{\"atc\":{\"ca\":true,\"fingerprint\":\"%s\",\"tktype\":"
             "\"TNAuthList\",\"tkvalue\":\"MAigBhYEODE4SA==\"},\"exp\":"
             "2000000000,\"jti\":\"",
             f->fingerprint);
    assert_memory_equal(sti_jws_payload_json(jws), want, strlen(want));
    sti_jws_free(jws);
    free(token);
}

static void verify_rejects_mismatches(void **state)
{
    struct fixture *f = *state;
    char *token = make_token(f, f->fingerprint, 0, time(NULL) + 600);
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_key *other = NULL;
    struct sti_error err;

    default_options(f, &o, certs);
    o.x5u = "https://other.example/pa.crt";
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "x5u"));

    default_options(f, &o, certs);
    o.ca = 1;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);

    default_options(f, &o, certs);
    o.tkvalue = "MAigBhYEMTIzNA=="; /* SPC 1234 */
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);

    assert_int_equal(sti_key_generate(&other, &err), STI_OK);
    default_options(f, &o, certs);
    o.account_key = other;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "fingerprint"));
    sti_key_free(other);
    free(token);
}

static void verify_rejects_wrong_signer(void **state)
{
    struct fixture *f = *state;
    char *token = make_token(f, f->fingerprint, 0, time(NULL) + 600);
    struct sti_key *key = NULL;
    struct sti_cert *cert;
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_error err;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    cert = self_signed(key);
    default_options(f, &o, certs);
    certs[0] = cert;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_CRYPTO);
    o.pa_cert_count = 0;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_INVALID);
    sti_cert_free(cert);
    sti_key_free(key);
    free(token);
}

static void verify_rejects_expired(void **state)
{
    struct fixture *f = *state;
    time_t now = time(NULL);
    char *token = make_token(f, f->fingerprint, 0, now - 10);
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_error err;

    default_options(f, &o, certs);
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "expired"));
    o.skew = 60; /* within the allowed skew */
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err), STI_OK);
    free(token);
}

static void verify_rejects_future_nbf(void **state)
{
    struct fixture *f = *state;
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_error err;
    char payload[512], *token = NULL;
    time_t now = time(NULL);

    snprintf(payload, sizeof(payload),
             "{\"atc\":{\"ca\":false,\"fingerprint\":\"%s\",\"tktype\":"
             "\"TNAuthList\",\"tkvalue\":\"MAigBhYEODE4SA==\"},\"exp\":%lld,"
             "\"jti\":\"a\",\"nbf\":%lld}",
             f->fingerprint, (long long)now + 600, (long long)now + 300);
    assert_int_equal(sti_jws_sign("{\"alg\":\"ES256\",\"typ\":\"JWT\","
                                  "\"x5u\":\"" X5U "\"}",
                                  payload, f->pa_key, &token, &err),
                     STI_OK);
    default_options(f, &o, certs);
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "nbf"));
    o.now = now + 400;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err), STI_OK);
    free(token);
}

static void verify_rejects_expired_pa_cert(void **state)
{
    struct fixture *f = *state;
    time_t later = time(NULL) + 200L * 365 * 86400;
    char *token = make_token(f, f->fingerprint, 0, later + 600);
    const struct sti_cert *certs[1];
    struct sti_spc_verify_options o;
    struct sti_error err;

    default_options(f, &o, certs);
    o.now = later;
    assert_int_equal(sti_spc_token_verify(token, &o, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "PA certificate"));
    free(token);
}

/* Writes "SHA256 " and the hex of BYTES with colons into OUT. */
static void hex_fingerprint(const unsigned char *bytes, size_t n, char *out)
{
    out += sprintf(out, "SHA256 ");
    for (size_t i = 0; i < n; i++)
        out += sprintf(out, i ? ":%02X" : "%02X", bytes[i]);
}

static void fingerprint_forms(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;
    char *thumb = NULL, lower[STI_FINGERPRINT_LEN], text[128];
    unsigned char *raw = NULL;
    size_t len = 0;

    assert_int_equal(
        sti_spc_fingerprint_check(f->fingerprint, f->account, &err), STI_OK);
    for (size_t i = 0; i < sizeof(lower); i++)
        lower[i] = (char)(i >= 7 && f->fingerprint[i] >= 'A' &&
                                  f->fingerprint[i] <= 'F'
                              ? f->fingerprint[i] + 32
                              : f->fingerprint[i]);
    assert_int_equal(sti_spc_fingerprint_check(lower, f->account, &err),
                     STI_OK);
    assert_int_equal(sti_key_jwk_thumbprint(f->account, &thumb, &err), STI_OK);
    assert_int_equal(sti_spc_fingerprint_check(thumb, f->account, &err),
                     STI_OK);
    assert_int_equal(sti_b64url_decode(thumb, strlen(thumb), &raw, &len),
                     STI_OK);
    hex_fingerprint(raw, len, text);
    assert_int_equal(sti_spc_fingerprint_check(text, f->account, &err), STI_OK);
    free(raw);
    free(thumb);
}

static void fingerprint_normalize_forms(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;
    char out[STI_FINGERPRINT_LEN], mixed[STI_FINGERPRINT_LEN];
    char *thumb = NULL;
    size_t k = 0;

    /* Mixed case without colons in the hex part. */
    snprintf(mixed, sizeof(mixed), "sHa256 ");
    k = strlen(mixed);
    for (const char *p = f->fingerprint + 7; *p != '\0'; p++) {
        if (*p == ':')
            continue;
        mixed[k] = k % 2 == 0 && *p >= 'A' && *p <= 'F' ? *p + 32 : *p;
        k++;
    }
    mixed[k] = '\0';
    assert_int_equal(sti_spc_fingerprint_normalize(mixed, out, &err), STI_OK);
    assert_string_equal(out, f->fingerprint);
    assert_int_equal(sti_spc_fingerprint_check(out, f->account, &err), STI_OK);
    assert_int_equal(sti_spc_fingerprint_normalize(f->fingerprint, out, &err),
                     STI_OK);
    assert_string_equal(out, f->fingerprint);
    assert_int_equal(sti_key_jwk_thumbprint(f->account, &thumb, &err), STI_OK);
    assert_int_equal(sti_spc_fingerprint_normalize(thumb, out, &err), STI_OK);
    assert_string_equal(out, thumb);
    free(thumb);
    assert_int_equal(sti_spc_fingerprint_normalize("SHA256 AB", out, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "SHA256 AB"));
    assert_int_equal(sti_spc_fingerprint_normalize(NULL, out, &err),
                     STI_ERR_INVALID);
}

static void fingerprint_bad_forms(void **state)
{
    static const char *bad[] = {
        "",
        "SHA256 ",
        "SHA256 AB:CD",
        "SHA1 AB:CD:EF",
        "not a fingerprint",
        "SHA256 ZZ:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
        "00:00:00:00:00:00:00:00:00:00:00:00",
        "SHA256 00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
        "00:00:00:00:00:00:00:00:00:00:00:00:00"};
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sti_spc_fingerprint_valid(bad[i], &err),
                         STI_ERR_INVALID);
    assert_int_equal(sti_spc_fingerprint_valid(NULL, &err), STI_ERR_INVALID);
}

/* Signs HEADER and PAYLOAD as-is and expects parsing to fail naming
 * WHAT. */
static void expect_bad_token(const struct fixture *f, const char *header,
                             const char *payload, const char *what)
{
    struct sti_spc_token *t = (void *)1;
    struct sti_error err;
    char *token = NULL;

    assert_int_equal(sti_jws_sign(header, payload, f->pa_key, &token, &err),
                     STI_OK);
    assert_int_equal(sti_spc_token_parse(token, &t, &err), STI_ERR_INVALID);
    assert_null(t);
    if (strstr(err.message, what) == NULL)
        fail_msg("message '%s' does not name '%s'", err.message, what);
    free(token);
}

static void parse_rejects_bad_shapes(void **state)
{
    struct fixture *f = *state;
    const char *h = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"" X5U "\"}";
    char payload[512];

    expect_bad_token(f, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
                     "{\"exp\":1,\"jti\":\"a\"}", "x5u");
    expect_bad_token(f,
                     "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"u\"}",
                     "{}", "typ");
    expect_bad_token(f, h, "{\"jti\":\"a\"}", "exp");
    expect_bad_token(f, h, "{\"exp\":\"1\",\"jti\":\"a\"}", "exp");
    expect_bad_token(f, h, "{\"exp\":1}", "jti");
    expect_bad_token(f, h, "{\"exp\":1,\"jti\":\"a\"}", "atc");
    snprintf(payload, sizeof(payload),
             "{\"atc\":{\"ca\":\"no\",\"fingerprint\":\"%s\",\"tktype\":"
             "\"TNAuthList\",\"tkvalue\":\"MAigBhYEODE4SA==\"},\"exp\":1,"
             "\"jti\":\"a\"}",
             f->fingerprint);
    expect_bad_token(f, h, payload, "atc.ca");
    snprintf(payload, sizeof(payload),
             "{\"atc\":{\"ca\":false,\"fingerprint\":\"%s\",\"tktype\":"
             "\"Other\",\"tkvalue\":\"MAigBhYEODE4SA==\"},\"exp\":1,"
             "\"jti\":\"a\"}",
             f->fingerprint);
    expect_bad_token(f, h, payload, "tktype");
    snprintf(payload, sizeof(payload),
             "{\"atc\":{\"ca\":false,\"fingerprint\":\"%s\",\"tktype\":"
             "\"TNAuthList\",\"tkvalue\":\"!!!\"},\"exp\":1,\"jti\":\"a\"}",
             f->fingerprint);
    expect_bad_token(f, h, payload, "tkvalue");
    expect_bad_token(f, h,
                     "{\"atc\":{\"ca\":false,\"fingerprint\":\"x\","
                     "\"tktype\":\"TNAuthList\",\"tkvalue\":"
                     "\"MAigBhYEODE4SA==\"},\"exp\":1,\"jti\":\"a\"}",
                     "fingerprint");
}

static void parse_rejects_garbage(void **state)
{
    struct sti_spc_token *t = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_spc_token_parse("abc", &t, &err), STI_ERR_INVALID);
    assert_int_equal(sti_spc_token_parse("a.b.c", &t, &err), STI_ERR_INVALID);
    assert_int_equal(sti_spc_token_parse(NULL, &t, &err), STI_ERR_INVALID);
    assert_null(t);
}

static void create_rejects_bad_requests(void **state)
{
    struct fixture *f = *state;
    struct sti_spc_token_request req;
    struct sti_error err;
    char *token = NULL;

    memset(&req, 0, sizeof(req));
    req.tnauth = f->tn;
    req.fingerprint = f->fingerprint;
    assert_int_equal(sti_spc_token_create(&req, f->pa_key, &token, &err),
                     STI_ERR_INVALID);
    req.x5u = X5U;
    req.fingerprint = "SHA256 12";
    assert_int_equal(sti_spc_token_create(&req, f->pa_key, &token, &err),
                     STI_ERR_INVALID);
    assert_null(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_round_trip),
        cmocka_unit_test(token_canonical_json),
        cmocka_unit_test(verify_rejects_mismatches),
        cmocka_unit_test(verify_rejects_wrong_signer),
        cmocka_unit_test(verify_rejects_expired),
        cmocka_unit_test(verify_rejects_future_nbf),
        cmocka_unit_test(verify_rejects_expired_pa_cert),
        cmocka_unit_test(fingerprint_forms),
        cmocka_unit_test(fingerprint_normalize_forms),
        cmocka_unit_test(fingerprint_bad_forms),
        cmocka_unit_test(parse_rejects_bad_shapes),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(create_rejects_bad_requests),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
