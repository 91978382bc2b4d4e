/* Unit tests for lib/passport.c: TN canonicalisation, PASSporT signing
 * and strict parsing. */
#include "support.h"

#include "jws_int.h"
#include "passport_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const one_dest[] = {"12025550101"};

static struct sti_passport_claims shaken_claims(void)
{
    struct sti_passport_claims c = {
        .ppt = "shaken",
        .x5u = "https://cr.example.org/sp.pem",
        .attest = "A",
        .orig_tn = "12025550100",
        .dest_tn = one_dest,
        .dest_tn_count = 1,
        .iat = 1700000000,
        .origid = "123e4567-e89b-42d3-a456-426614174000",
    };

    return c;
}

static struct sti_key *new_key(void)
{
    struct sti_key *key;
    struct sti_error err;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    return key;
}

static void tn_canonical_forms(void **state)
{
    static const struct {
        const char *profile, *in, *out;
    } cases[] = {
        {"us", "+1 (202) 555-0100", "12025550100"},
        {"us", "202.555.0100", "12025550100"},
        {NULL, "12025550100", "12025550100"},
        {"fr", "+33 1 23 45 67 89", "33123456789"},
        {"fr", "01 23 45 67 89", "33123456789"},
        {"fr", "3312345678901234", "3312345678901234"},
        {"us", "*67#", "*67#"},
    };
    char out[STI_TN_MAX + 1];
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            sti_tn_canonicalize(cases[i].profile, cases[i].in, out, &err),
            STI_OK);
        assert_string_equal(out, cases[i].out);
    }
}

static void tn_rejects_bad_numbers(void **state)
{
    char out[STI_TN_MAX + 1];
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tn_canonicalize("us", "12a4", out, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "12a4"));
    assert_int_equal(sti_tn_canonicalize("us", "+", out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_tn_canonicalize("us", "3312345678901234", out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_tn_canonicalize("de", "49301234", out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_tn_canonicalize("us", NULL, out, &err),
                     STI_ERR_INVALID);
}

static void sign_and_parse_shaken(void **state)
{
    struct sti_passport_claims c = shaken_claims();
    const struct sti_passport_claims *got;
    struct sti_key *key = new_key();
    struct sti_passport *p;
    struct sti_error err;
    char *jws;

    (void)state;
    c.extra_json = "{\"rcd\":{\"nam\":\"Alice\"},\"crn\":\"Hi\"}";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_OK);
    assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err), STI_OK);
    assert_string_equal(sti_passport_header_json(p),
                        "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":"
                        "\"passport\",\"x5u\":\"https://cr.example.org/"
                        "sp.pem\"}");
    assert_string_equal(
        sti_passport_payload_json(p),
        "{\"attest\":\"A\",\"crn\":\"Hi\",\"dest\":{\"tn\":["
        "\"12025550101\"]},\"iat\":1700000000,\"orig\":{"
        "\"tn\":\"12025550100\"},\"origid\":\"123e4567-e89b-"
        "42d3-a456-426614174000\",\"rcd\":{\"nam\":\"Alice\"}}");
    got = sti_passport_claims(p);
    assert_string_equal(got->ppt, "shaken");
    assert_string_equal(got->attest, "A");
    assert_string_equal(got->orig_tn, "12025550100");
    assert_null(got->orig_uri);
    assert_int_equal(got->dest_tn_count, 1);
    assert_string_equal(got->dest_tn[0], "12025550101");
    assert_int_equal(got->iat, 1700000000);
    assert_string_equal(got->extra_json,
                        "{\"crn\":\"Hi\",\"rcd\":{\"nam\":\"Alice\"}}");
    assert_int_equal(sti_passport_verify(p, key, &err), STI_OK);
    sti_passport_free(p);
    free(jws);
    sti_key_free(key);
}

static void sign_fills_origid_and_iat(void **state)
{
    struct sti_passport_claims c = shaken_claims();
    struct sti_key *key = new_key();
    struct sti_passport *p;
    struct sti_error err;
    time_t before = time(NULL);
    char *jws;

    (void)state;
    c.origid = NULL;
    c.iat = 0;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_OK);
    assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err), STI_OK);
    assert_int_equal(strlen(sti_passport_claims(p)->origid), 36);
    assert_true(sti_passport_claims(p)->iat >= before);
    assert_true(sti_passport_claims(p)->iat <= time(NULL));
    sti_passport_free(p);
    free(jws);
    sti_key_free(key);
}

static void sign_div_passport(void **state)
{
    struct sti_passport_claims c = shaken_claims();
    struct sti_key *key = new_key();
    struct sti_passport *p;
    struct sti_error err;
    char *jws;

    (void)state;
    c.ppt = "div";
    c.div_tn = "12025550199";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_OK);
    assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err), STI_OK);
    assert_null(strstr(sti_passport_payload_json(p), "attest"));
    assert_string_equal(sti_passport_claims(p)->div_tn, "12025550199");
    sti_passport_free(p);
    free(jws);
    c.div_tn = NULL;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    sti_key_free(key);
}

/* The direct writer and the jansson path (forced by empty extra claims)
 * give the same canonical payload. */
static void payload_paths_agree(void **state)
{
    static const char *const uris[] = {"sip:b@example.org", "tel:+1-202"};
    struct sti_passport_claims c = shaken_claims();
    struct sti_error err;
    char *fast, *slow;
    const char *ppts[] = {"shaken", "div", NULL};

    (void)state;
    c.dest_uri = uris;
    c.dest_uri_count = 2;
    c.div_uri = "sip:old@example.org";
    for (size_t i = 0; i < 3; i++) {
        c.extra_json = NULL;
        assert_int_equal(sti_passport_payload(&c, ppts[i], &fast, &err),
                         STI_OK);
        c.extra_json = "{}";
        assert_int_equal(sti_passport_payload(&c, ppts[i], &slow, &err),
                         STI_OK);
        assert_string_equal(fast, slow);
        free(fast);
        free(slow);
    }
    /* RFC 3261 allows a quote in a URI only escaped as %22, so neither
     * path has a URI that JSON must escape. */
    c.extra_json = NULL;
    c.orig_tn = NULL;
    c.orig_uri = "sip:\"x\"@example.org";
    assert_int_equal(sti_passport_payload(&c, NULL, &fast, &err),
                     STI_ERR_INVALID);
    c.orig_uri = "sip:%22x%22@example.org";
    assert_int_equal(sti_passport_payload(&c, NULL, &fast, &err), STI_OK);
    assert_non_null(strstr(fast, "\"orig\":{\"uri\":\"sip:%22x%22@"));
    free(fast);
}

static void sign_rejects_bad_claims(void **state)
{
    static const char *const plus_dest[] = {"+12025550101"};
    struct sti_passport_claims c;
    struct sti_key *key = new_key();
    struct sti_error err;
    char *jws;

    (void)state;
    c = shaken_claims();
    c.attest = "D";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'D'"));
    c = shaken_claims();
    c.orig_uri = "sip:a@b";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    c = shaken_claims();
    c.dest_tn_count = 0;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    c = shaken_claims();
    c.dest_tn = plus_dest;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "+12025550101"));
    c = shaken_claims();
    c.x5u = NULL;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    c = shaken_claims();
    c.extra_json = "{\"iat\":5}";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    assert_null(jws);
    sti_key_free(key);
}

static void sign_rejects_bad_uris(void **state)
{
    static const char *const bad_dest[] = {"sip:bob@example.org", "not a uri"};
    struct sti_passport_claims c;
    struct sti_key *key = new_key();
    struct sti_error err;
    char *jws = NULL;

    (void)state;
    c = shaken_claims();
    c.orig_tn = NULL;
    c.orig_uri = "sip:alice@example.org\x01";
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    assert_non_null(
        strstr(err.message, "orig URI 'sip:alice@example.org\\x01'"));
    c = shaken_claims();
    c.dest_tn_count = 0;
    c.dest_uri = bad_dest;
    c.dest_uri_count = 2;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "dest URI 'not a uri' is invalid"));
    assert_null(jws);
    c.dest_uri_count = 1;
    assert_int_equal(sti_passport_sign(&c, key, &jws, &err), STI_OK);
    free(jws);
    sti_key_free(key);
}

/* Signs HEADER and PAYLOAD texts as they are, for parser tests. */
static char *raw_jws(struct sti_key *key, const char *header,
                     const char *payload)
{
    struct sti_error err;
    char *jws = NULL;

    assert_int_equal(sti_jws_sign_canonical(header, payload,
                                            sti_key_get0_pkey(key), &jws, &err),
                     STI_OK);
    return jws;
}

static void parse_rejects_bad_passports(void **state)
{
    static const char hdr[] = "{\"alg\":\"ES256\",\"ppt\":\"shaken\","
                              "\"typ\":\"passport\",\"x5u\":\"https://a/b\"}";
    static const struct {
        const char *header, *payload;
    } cases[] = {
        /* string iat */
        {hdr, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":\"1\","
              "\"orig\":{\"tn\":\"1\"},\"origid\":\"x\"}"},
        /* real iat */
        {hdr, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1.5,"
              "\"orig\":{\"tn\":\"1\"},\"origid\":\"x\"}"},
        /* dest.tn not an array */
        {hdr, "{\"attest\":\"A\",\"dest\":{\"tn\":\"1\"},\"iat\":1,"
              "\"orig\":{\"tn\":\"1\"},\"origid\":\"x\"}"},
        /* orig with tn and uri */
        {hdr, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
              "\"orig\":{\"tn\":\"1\",\"uri\":\"sip:a@b\"},\"origid\":\"x\"}"},
        /* bad attest */
        {hdr, "{\"attest\":\"a\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
              "\"orig\":{\"tn\":\"1\"},\"origid\":\"x\"}"},
        /* no origid */
        {hdr, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
              "\"orig\":{\"tn\":\"1\"}}"},
        /* no x5u */
        {"{\"alg\":\"ES256\",\"typ\":\"passport\"}",
         "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"}}"},
        /* wrong typ */
        {"{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"https://a/b\"}",
         "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"}}"},
        /* div without div claim */
        {"{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":"
         "\"https://a/b\"}",
         "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"}}"},
    };
    struct sti_key *key = new_key();
    struct sti_passport *p;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *jws = raw_jws(key, cases[i].header, cases[i].payload);

        assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err),
                         STI_ERR_INVALID);
        assert_null(p);
        assert_non_null(strstr(err.message, "invalid PASSporT"));
        free(jws);
    }
    sti_key_free(key);
}

static void parse_plain_passport(void **state)
{
    struct sti_key *key = new_key();
    struct sti_passport *p;
    struct sti_error err;
    char *jws = raw_jws(key,
                        "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":"
                        "\"https://a/b\"}",
                        "{\"dest\":{\"uri\":[\"sip:b@c\"]},\"iat\":7,"
                        "\"orig\":{\"uri\":\"sip:a@c\"}}");

    (void)state;
    assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err), STI_OK);
    assert_null(sti_passport_claims(p)->ppt);
    assert_string_equal(sti_passport_claims(p)->orig_uri, "sip:a@c");
    assert_string_equal(sti_passport_claims(p)->dest_uri[0], "sip:b@c");
    assert_null(sti_passport_claims(p)->extra_json);
    sti_passport_free(p);
    free(jws);
    sti_key_free(key);
}

static void parse_rejects_other_alg(void **state)
{
    unsigned char sig[64] = {0};
    const char h[] = "{\"alg\":\"ES384\",\"typ\":\"passport\",\"x5u\":\"u\"}";
    const char pl[] = "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":"
                      "\"1\"}}";
    char *hb = sti_b64url_encode((const unsigned char *)h, strlen(h));
    char *pb = sti_b64url_encode((const unsigned char *)pl, strlen(pl));
    char *sb = sti_b64url_encode(sig, sizeof(sig));
    char jws[1024];
    struct sti_passport *p;
    struct sti_error err;

    (void)state;
    snprintf(jws, sizeof(jws), "%s.%s.%s", hb, pb, sb);
    assert_int_equal(sti_passport_parse(jws, strlen(jws), &p, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "ES384"));
    free(hb);
    free(pb);
    free(sb);
}

static void signer_reuses_header(void **state)
{
    struct sti_passport_claims c = shaken_claims();
    struct sti_key *key = new_key();
    struct sti_signer *s;
    struct sti_passport *p;
    struct sti_error err;
    char *a, *b, *identity;

    (void)state;
    assert_int_equal(sti_signer_new(key, c.x5u, "shaken", &s, &err), STI_OK);
    assert_int_equal(sti_signer_sign(s, &c, &a, &err), STI_OK);
    assert_int_equal(sti_signer_sign(s, &c, &b, &err), STI_OK);
    /* Same claims, same signing input; ECDSA nonces differ. */
    assert_int_equal(strncmp(a, b, strrchr(a, '.') - a), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(sti_passport_parse(b, strlen(b), &p, &err), STI_OK);
    assert_int_equal(sti_passport_verify(p, key, &err), STI_OK);
    assert_int_equal(sti_signer_sign_identity(s, &c, 0, &identity, &err),
                     STI_OK);
    assert_non_null(strstr(identity, ";info=<https://cr.example.org/sp.pem>"
                                     ";alg=ES256;ppt=shaken"));
    sti_passport_free(p);
    free(a);
    free(b);
    free(identity);
    sti_signer_free(s);
    sti_signer_free(NULL);
    sti_key_free(key);
}

struct sign_worker {
    const struct sti_signer *signer;
    const struct sti_key *key;
    int verified;
};

/* Signs 25 PASSporTs with the shared signer and verifies each one. */
static void *sign_loop(void *arg)
{
    struct sign_worker *w = arg;
    struct sti_passport_claims c = shaken_claims();
    struct sti_passport *p;
    struct sti_error err;
    char *jws;

    for (int i = 0; i < 25; i++) {
        if (sti_signer_sign(w->signer, &c, &jws, &err) != STI_OK)
            continue;
        if (sti_passport_parse(jws, strlen(jws), &p, &err) == STI_OK) {
            if (sti_passport_verify(p, w->key, &err) == STI_OK)
                w->verified++;
            sti_passport_free(p);
        }
        free(jws);
    }
    return NULL;
}

static void threads_share_signer(void **state)
{
    struct sti_passport_claims c = shaken_claims();
    struct sti_key *key = new_key();
    struct sti_signer *s;
    struct sti_error err;
    struct sign_worker w[4];
    pthread_t t[4];

    (void)state;
    assert_int_equal(sti_signer_new(key, c.x5u, "shaken", &s, &err), STI_OK);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct sign_worker){.signer = s, .key = key};
        assert_int_equal(pthread_create(&t[i], NULL, sign_loop, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].verified, 25);
    }
    sti_signer_free(s);
    sti_key_free(key);
}

static void signer_rejects_public_key(void **state)
{
    struct sti_key *key = new_key(), *pub;
    struct sti_signer *s;
    struct sti_error err;
    char *pem;

    (void)state;
    assert_int_equal(sti_key_public_pem(key, &pem, &err), STI_OK);
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &pub, &err), STI_OK);
    assert_int_equal(sti_signer_new(pub, "https://a/b", "shaken", &s, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_signer_new(key, NULL, "shaken", &s, &err),
                     STI_ERR_INVALID);
    free(pem);
    sti_key_free(pub);
    sti_key_free(key);
}

static void check_x5u_accepts_and_rejects(void **state)
{
    static const char *const good[] = {
        "https://cr.example.net/sp.pem", "HTTPS://cr.example.net/a;b=c",
        "http://127.0.0.1:8080/sp.pem", "https://a/%3Cx%3E"};
    static const char *const bad[] = {"",
                                      "not a url",
                                      "ftp://a/b",
                                      "file:///etc/passwd",
                                      "https://",
                                      "https:///b",
                                      "https://a/b>;info=<https://evil/x",
                                      "https://a/b\r\nX: 1",
                                      "https://a/\tb",
                                      "https://a/\x01",
                                      "https://a/b c",
                                      "https://a/\"b",
                                      "https://a/\xc3\xa9",
                                      "//a/b"};
    struct sti_key *key = new_key();
    struct sti_signer *s;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (sti_passport_check_x5u(good[i], &err) != STI_OK)
            fail_msg("'%s' rejected: %s", good[i], err.message);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sti_passport_check_x5u(bad[i], &err) != STI_ERR_INVALID)
            fail_msg("x5u %zu accepted", i);
    assert_int_equal(sti_passport_check_x5u(NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_passport_check_x5u("https://a/b c", &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'https://a/b c'"));
    assert_non_null(strstr(err.message, "byte 12"));
    /* The signer applies the same check, so every signing path does. */
    assert_int_equal(sti_signer_new(key, "https://a/b>;x", "shaken", &s, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "invalid x5u"));
    sti_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tn_canonical_forms),
        cmocka_unit_test(tn_rejects_bad_numbers),
        cmocka_unit_test(sign_and_parse_shaken),
        cmocka_unit_test(sign_fills_origid_and_iat),
        cmocka_unit_test(sign_div_passport),
        cmocka_unit_test(payload_paths_agree),
        cmocka_unit_test(sign_rejects_bad_claims),
        cmocka_unit_test(sign_rejects_bad_uris),
        cmocka_unit_test(parse_rejects_bad_passports),
        cmocka_unit_test(parse_plain_passport),
        cmocka_unit_test(parse_rejects_other_alg),
        cmocka_unit_test(signer_reuses_header),
        cmocka_unit_test(threads_share_signer),
        cmocka_unit_test(signer_rejects_public_key),
        cmocka_unit_test(check_x5u_accepts_and_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
