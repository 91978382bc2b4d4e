/* Unit tests for lib/jws.c: canonical JSON, ES256, compact and flattened
 * JWS. */
#include "support.h"

#include "jws_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

/* RFC 7515 appendix A.3: the ES256 example and its key. */
static const char a3_jws[] =
    "eyJhbGciOiJFUzI1NiJ9"
    "."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNv"
    "bS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKT"
    "UJqPP3-Kg6NU1Q";
static const char a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

/* RFC 8225 appendix A: header, claims and their signing input. */
static const char rfc8225_header[] =
    "{ \"x5u\" : \"https://cert.example.org/passport.cer\",\n"
    "  \"typ\":\"passport\", \"alg\":\"ES256\" }";
static const char rfc8225_claims[] =
    "{\"orig\":{\"tn\":\"12155551212\"},\"iat\":1471375418,\n"
    " \"dest\":{\"uri\":[\"sip:alice@example.com\"]}}";
static const char rfc8225_input[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4"
    "YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9"
    "."
    "eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3"
    "NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19";

static const char hdr[] = "{\"alg\":\"ES256\",\"typ\":\"passport\"}";
static const char claims[] = "{\"iat\":1,\"orig\":{\"tn\":\"1\"}}";

static struct sti_key *key_from_jwk_xy(const char *x64, const char *y64)
{
    unsigned char *x, *y, pub[65];
    size_t xl, yl;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    assert_int_equal(sti_b64url_decode(x64, strlen(x64), &x, &xl), STI_OK);
    assert_int_equal(sti_b64url_decode(y64, strlen(y64), &y, &yl), STI_OK);
    pub[0] = 0x04;
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                    "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params),
                     1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    free(x);
    free(y);
    return sti_key_from_pkey(pkey);
}

static struct sti_key *gen_key(const char *curve)
{
    EVP_PKEY *pkey = EVP_EC_gen(curve);

    assert_non_null(pkey);
    return sti_key_from_pkey(pkey);
}

static char *canon(const char *json, int expect)
{
    struct sti_error err;
    char *out = NULL;

    assert_int_equal(sti_json_canonicalize(json, strlen(json), &out, &err),
                     expect);
    return out;
}

static void canonical_sorts_and_compacts(void **state)
{
    char *out;

    (void)state;
    out = canon("{ \"b\" : [ 1, {\"z\":null, \"a\":true} ],\n\t\"a\": \"x\" }",
                STI_OK);
    assert_string_equal(out, "{\"a\":\"x\",\"b\":[1,{\"a\":true,\"z\":null}]}");
    free(out);
}

static void canonical_code_point_order(void **state)
{
    /* U+FF61 sorts before U+10000 by code point, after it in UTF-16. */
    char *out;

    (void)state;
    out = canon("{\"\xf0\x90\x80\x80\":1,\"\xef\xbd\xa1\":2,\"\xc3\xa9\":3,"
                "\"z\":4,\"Z\":5}",
                STI_OK);
    assert_string_equal(out, "{\"Z\":5,\"z\":4,\"\xc3\xa9\":3,"
                             "\"\xef\xbd\xa1\":2,\"\xf0\x90\x80\x80\":1}");
    free(out);
}

static void canonical_keeps_slash_and_utf8(void **state)
{
    char *out;

    (void)state;
    out = canon("{\"u\":\"https://a/b\",\"n\":\"caf\\u00e9\"}", STI_OK);
    assert_string_equal(out, "{\"n\":\"caf\xc3\xa9\",\"u\":\"https://a/b\"}");
    free(out);
}

static void canonical_rejects_bad_json(void **state)
{
    static const char *bad[] = {
        "{\"a\":1,\"a\":2}",   "{\"a\":1} x", "{a:1}", "",
        "{\"a\":\"\\u0000\"}", "[1,]"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(canon(bad[i], STI_ERR_INVALID));
}

static void rfc8225_signing_input(void **state)
{
    struct sti_error err;
    struct sti_key *key = gen_key("P-256");
    struct sti_jws *jws;
    char *compact;
    size_t len;

    (void)state;
    assert_int_equal(
        sti_jws_sign(rfc8225_header, rfc8225_claims, key, &compact, &err),
        STI_OK);
    assert_int_equal(strncmp(compact, rfc8225_input, strlen(rfc8225_input)), 0);
    assert_int_equal(compact[strlen(rfc8225_input)], '.');
    /* 64 bytes of R||S are 86 base64url characters. */
    assert_int_equal(strlen(compact + strlen(rfc8225_input) + 1), 86);
    assert_int_equal(sti_jws_parse(compact, strlen(compact), &jws, &err),
                     STI_OK);
    assert_string_equal(sti_jws_signing_input(jws, &len), rfc8225_input);
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_OK);
    sti_jws_free(jws);
    free(compact);
    sti_key_free(key);
}

static void rfc7515_a3_verifies(void **state)
{
    struct sti_error err;
    struct sti_key *key = key_from_jwk_xy(a3_x, a3_y);
    struct sti_jws *jws;

    (void)state;
    assert_int_equal(sti_jws_parse(a3_jws, strlen(a3_jws), &jws, &err), STI_OK);
    assert_string_equal(sti_jws_header_string(jws, "alg"), "ES256");
    assert_non_null(strstr(sti_jws_payload_json(jws), "\"iss\":\"joe\""));
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_OK);
    sti_jws_free(jws);
    sti_key_free(key);
}

static void tampered_jws_fails(void **state)
{
    struct sti_error err;
    struct sti_key *key = key_from_jwk_xy(a3_x, a3_y);
    struct sti_key *other = gen_key("P-256");
    struct sti_jws *jws;
    char *copy = strdup(a3_jws);

    (void)state;
    /* Flip one signature character; the JWS still parses. */
    copy[strlen(copy) - 40] = copy[strlen(copy) - 40] == 'A' ? 'B' : 'A';
    assert_int_equal(sti_jws_parse(copy, strlen(copy), &jws, &err), STI_OK);
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_ERR_CRYPTO);
    sti_jws_free(jws);
    assert_int_equal(sti_jws_parse(a3_jws, strlen(a3_jws), &jws, &err), STI_OK);
    assert_int_equal(sti_jws_verify(jws, other, &err), STI_ERR_CRYPTO);
    assert_non_null(strstr(err.message, "does not verify"));
    sti_jws_free(jws);
    free(copy);
    sti_key_free(key);
    sti_key_free(other);
}

/* Builds a compact JWS from JSON texts and a raw signature. */
static char *make_jws(const char *h, const char *p, const unsigned char *sig,
                      size_t sig_len)
{
    char *hb = sti_b64url_encode((const unsigned char *)h, strlen(h));
    char *pb = sti_b64url_encode((const unsigned char *)p, strlen(p));
    char *sb = sti_b64url_encode(sig, sig_len);
    size_t n = strlen(hb) + strlen(pb) + strlen(sb) + 3;
    char *out = malloc(n);

    snprintf(out, n, "%s.%s.%s", hb, pb, sb);
    free(hb);
    free(pb);
    free(sb);
    return out;
}

static void parse_rejects_bad_jws(void **state)
{
    unsigned char sig[64] = {1}, der[72] = {0x30, 70};
    char *cases[9];
    struct sti_error err;
    struct sti_jws *jws;
    size_t n = 0;

    (void)state;
    cases[n++] = strdup("abc.def");
    cases[n++] = strdup("a.b.c.d");
    cases[n++] = make_jws(hdr, claims, der, sizeof(der));
    cases[n++] = make_jws(hdr, "[1]", sig, sizeof(sig));
    cases[n++] = make_jws(hdr, "{\"a\":1,\"a\":1}", sig, sizeof(sig));
    cases[n++] = make_jws("{\"typ\":\"passport\"}", claims, sig, sizeof(sig));
    cases[n++] = make_jws("{\"alg\":\"ES256\",\"crit\":[\"x\"],\"x\":1}",
                          claims, sig, sizeof(sig));
    cases[n++] = make_jws(hdr, "", sig, sizeof(sig));
    {
        /* Padding on an otherwise valid part. */
        char *ok = make_jws(hdr, claims, sig, sizeof(sig));
        size_t len = strlen(ok);

        cases[n] = malloc(len + 3);
        snprintf(cases[n], len + 3, "%s==", ok);
        n++;
        free(ok);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sti_jws_parse(cases[i], strlen(cases[i]), &jws, &err),
                         STI_ERR_INVALID);
        assert_null(jws);
        free(cases[i]);
    }
}

static void parse_reports_der_signature(void **state)
{
    unsigned char der[71] = {0x30, 69};
    struct sti_error err;
    struct sti_jws *jws;
    char *text = make_jws(hdr, claims, der, sizeof(der));

    (void)state;
    assert_int_equal(sti_jws_parse(text, strlen(text), &jws, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "71 bytes"));
    free(text);
}

static void verify_rejects_other_alg(void **state)
{
    unsigned char sig[256] = {0};
    struct sti_key *key = gen_key("P-256");
    struct sti_error err;
    struct sti_jws *jws;
    char *text = make_jws("{\"alg\":\"RS256\"}", claims, sig, sizeof(sig));

    (void)state;
    assert_int_equal(sti_jws_parse(text, strlen(text), &jws, &err), STI_OK);
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "RS256"));
    sti_jws_free(jws);
    free(text);
    sti_key_free(key);
}

static void sign_rejects_bad_keys(void **state)
{
    struct sti_key *p384 = gen_key("P-384");
    struct sti_key *pub = key_from_jwk_xy(a3_x, a3_y);
    struct sti_error err;
    char *out;

    (void)state;
    assert_int_equal(sti_jws_sign(hdr, claims, p384, &out, &err),
                     STI_ERR_INVALID);
    assert_null(out);
    assert_non_null(strstr(err.message, "P-256"));
    assert_int_equal(sti_jws_sign(hdr, claims, pub, &out, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "private"));
    assert_int_equal(sti_jws_sign(hdr, "[]", pub, &out, &err), STI_ERR_INVALID);
    assert_int_equal(sti_jws_sign(NULL, claims, pub, &out, &err),
                     STI_ERR_INVALID);
    sti_key_free(p384);
    sti_key_free(pub);
}

static void flattened_round_trip(void **state)
{
    struct sti_key *key = gen_key("P-256");
    struct sti_error err;
    struct sti_jws *jws;
    char *json;

    (void)state;
    assert_int_equal(
        sti_jws_sign_flattened("{\"nonce\":\"n\",\"alg\":\"ES256\"}",
                               "{\"b\":2, \"a\":1}", key, &json, &err),
        STI_OK);
    assert_int_equal(strncmp(json, "{\"payload\":\"", 12), 0);
    assert_int_equal(sti_jws_parse_flattened(json, strlen(json), &jws, &err),
                     STI_OK);
    assert_string_equal(sti_jws_payload_json(jws), "{\"a\":1,\"b\":2}");
    assert_string_equal(sti_jws_header_string(jws, "nonce"), "n");
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_OK);
    sti_jws_free(jws);
    free(json);
    sti_key_free(key);
}

static void flattened_post_as_get(void **state)
{
    struct sti_key *key = gen_key("P-256");
    struct sti_error err;
    struct sti_jws *jws;
    char *json;

    (void)state;
    assert_int_equal(
        sti_jws_sign_flattened("{\"alg\":\"ES256\"}", "", key, &json, &err),
        STI_OK);
    assert_non_null(strstr(json, "\"payload\":\"\""));
    assert_int_equal(sti_jws_parse_flattened(json, strlen(json), &jws, &err),
                     STI_OK);
    assert_string_equal(sti_jws_payload_json(jws), "");
    assert_null(sti_jws_get0_payload(jws));
    assert_int_equal(sti_jws_verify(jws, key, &err), STI_OK);
    sti_jws_free(jws);
    free(json);
    sti_key_free(key);
}

static void flattened_rejects_extras(void **state)
{
    static const char *bad[] = {
        "{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\",\"payload\":\"\","
        "\"signature\":\"AA\",\"header\":{}}",
        "{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\",\"payload\":\"\"}",
        "{\"protected\":1,\"payload\":\"\",\"signature\":\"AA\"}", "[]"};
    struct sti_error err;
    struct sti_jws *jws;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            sti_jws_parse_flattened(bad[i], strlen(bad[i]), &jws, &err),
            STI_ERR_INVALID);
}

static void null_arguments(void **state)
{
    struct sti_error err;
    struct sti_jws *jws;
    char *out;

    (void)state;
    assert_int_equal(sti_json_canonicalize(NULL, 0, &out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_jws_parse(NULL, 0, &jws, &err), STI_ERR_INVALID);
    assert_int_equal(sti_jws_verify(NULL, NULL, &err), STI_ERR_INVALID);
    assert_null(sti_jws_header_json(NULL));
    assert_null(sti_jws_header_string(NULL, "alg"));
    sti_jws_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canonical_sorts_and_compacts),
        cmocka_unit_test(canonical_code_point_order),
        cmocka_unit_test(canonical_keeps_slash_and_utf8),
        cmocka_unit_test(canonical_rejects_bad_json),
        cmocka_unit_test(rfc8225_signing_input),
        cmocka_unit_test(rfc7515_a3_verifies),
        cmocka_unit_test(tampered_jws_fails),
        cmocka_unit_test(parse_rejects_bad_jws),
        cmocka_unit_test(parse_reports_der_signature),
        cmocka_unit_test(verify_rejects_other_alg),
        cmocka_unit_test(sign_rejects_bad_keys),
        cmocka_unit_test(flattened_round_trip),
        cmocka_unit_test(flattened_post_as_get),
        cmocka_unit_test(flattened_rejects_extras),
        cmocka_unit_test(null_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
