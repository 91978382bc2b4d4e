/* Unit tests for lib/identity.c: Identity header formatting, parsing the
 * forms real traffic sends, and splitting comma-joined fields. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#define JWS "eyJh.eyJk.c2ln"

static struct sti_identity *parse_ok(const char *value)
{
    struct sti_identity *id;
    struct sti_error err;

    assert_int_equal(sti_identity_parse(value, strlen(value), &id, &err),
                     STI_OK);
    return id;
}

static void format_full_and_compact(void **state)
{
    struct sti_error err;
    char *v;

    (void)state;
    assert_int_equal(
        sti_identity_format(JWS, "https://a/b.pem", "shaken", 0, &v, &err),
        STI_OK);
    assert_string_equal(v, JWS ";info=<https://a/b.pem>;alg=ES256;ppt=shaken");
    free(v);
    assert_int_equal(
        sti_identity_format(JWS, "https://a/b.pem", NULL, 1, &v, &err), STI_OK);
    assert_string_equal(v, "..c2ln;info=<https://a/b.pem>;alg=ES256");
    free(v);
    assert_int_equal(
        sti_identity_format("nodots", "https://a", NULL, 0, &v, &err),
        STI_ERR_INVALID);
    assert_int_equal(sti_identity_format(JWS, NULL, NULL, 0, &v, &err),
                     STI_ERR_INVALID);
}

static void parse_canonical_form(void **state)
{
    struct sti_identity *id =
        parse_ok(JWS ";info=<https://a/b.pem>;alg=ES256;ppt=shaken");

    (void)state;
    assert_string_equal(sti_identity_jws(id), JWS);
    assert_string_equal(sti_identity_info(id), "https://a/b.pem");
    assert_string_equal(sti_identity_alg(id), "ES256");
    assert_string_equal(sti_identity_ppt(id), "shaken");
    assert_false(sti_identity_is_compact(id));
    sti_identity_free(id);
}

static void parse_real_traffic_forms(void **state)
{
    static const char *forms[] = {
        JWS ";info=<https://a/b.pem>;alg=ES256;ppt=\"shaken\"",
        JWS " ; PPT = shaken ; Info = < https://a/b.pem > ; ALG=ES256",
        JWS ";ppt=shaken;foo=bar;info=\"https://a/b.pem\"",
        "  " JWS ";info=<https://a/b.pem>\r\n  ;ppt=shaken",
        JWS ";info=<https://a/b.pem;x=1>;ppt=shaken",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct sti_identity *id = parse_ok(forms[i]);

        assert_string_equal(sti_identity_jws(id), JWS);
        assert_string_equal(sti_identity_ppt(id), "shaken");
        /* A missing alg means ES256 (RFC 8224 section 4.1). */
        assert_string_equal(sti_identity_alg(id), "ES256");
        assert_int_equal(strncmp(sti_identity_info(id), "https://a/b.pem", 15),
                         0);
        sti_identity_free(id);
    }
}

static void parse_compact_and_missing_info(void **state)
{
    struct sti_identity *id = parse_ok("..c2ln;alg=ES256");

    (void)state;
    assert_true(sti_identity_is_compact(id));
    assert_null(sti_identity_info(id));
    assert_null(sti_identity_ppt(id));
    sti_identity_free(id);
}

static void parse_rejects_bad_values(void **state)
{
    static const char *bad[] = {
        "",
        ";info=<https://a>",
        "eyJh.eyJk;info=<https://a>",
        "eyJh.eyJk.c2ln.x;info=<https://a>",
        "eyJh.ey Jk.c2ln;info=<https://a>",
        "eyJh.eyJk.c2l=;info=<https://a>",
        JWS ";info=<https://a>;info=<https://b>",
        JWS ";info",
    };
    struct sti_identity *id;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sti_identity_parse(bad[i], strlen(bad[i]), &id, &err),
                         STI_ERR_INVALID);
        assert_null(id);
    }
    assert_int_equal(sti_identity_parse(NULL, 0, &id, &err), STI_ERR_INVALID);
    sti_identity_free(NULL);
}

static void split_comma_joined(void **state)
{
    const char field[] = JWS ";info=<https://a/x,y.pem>;ppt=shaken ,\r\n "
                             "..c2ln;info=\"https://b,c\" , ,";
    struct sti_error err;
    char **values;
    size_t n;

    (void)state;
    assert_int_equal(
        sti_identity_split(field, strlen(field), &values, &n, &err), STI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(values[0], JWS ";info=<https://a/x,y.pem>;ppt=shaken");
    assert_string_equal(values[1], "..c2ln;info=\"https://b,c\"");
    assert_null(values[2]);
    sti_identity_split_free(values);
    assert_int_equal(sti_identity_split("", 0, &values, &n, &err), STI_OK);
    assert_int_equal(n, 0);
    sti_identity_split_free(values);
    assert_int_equal(sti_identity_split(NULL, 0, &values, &n, &err),
                     STI_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_full_and_compact),
        cmocka_unit_test(parse_canonical_form),
        cmocka_unit_test(parse_real_traffic_forms),
        cmocka_unit_test(parse_compact_and_missing_info),
        cmocka_unit_test(parse_rejects_bad_values),
        cmocka_unit_test(split_comma_joined),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
