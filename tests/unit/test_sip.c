/* Unit tests for lib/sip.c: identities and Identity headers of SIP
 * messages parsed with libosip2. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#define INVITE_HEAD                                                            \
    "INVITE sip:+1-202-555-0101@example.org;user=phone SIP/2.0\r\n"            \
    "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"              \
    "Max-Forwards: 70\r\n"                                                     \
    "To: <sip:12025550102@example.org>\r\n"                                    \
    "From: \"Alice\" <sip:alice@example.org>;tag=1928301774\r\n"               \
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"                                    \
    "CSeq: 314159 INVITE\r\n"                                                  \
    "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"                                  \
    "Contact: <sip:alice@127.0.0.1>\r\n"

static const char invite[] = INVITE_HEAD
    "P-Asserted-Identity: \"Alice\" <sip:alice@example.org>, "
    "<tel:+1-202-555-0100>\r\n"
    "Identity: aaa.bbb.ccc;info=<https://a/x.pem>;ppt=shaken\r\n"
    "y: ..ddd;info=<https://b/y.pem>, eee.fff.ggg;info=<https://c/z.pem>\r\n"
    "Content-Length: 0\r\n\r\n";

static struct sti_sip *parse(const char *text)
{
    struct sti_sip *s;
    struct sti_error err;

    assert_int_equal(sti_sip_parse(text, strlen(text), &s, &err), STI_OK);
    return s;
}

static void identities_and_tns(void **state)
{
    struct sti_sip *s = parse(invite);
    char tn[STI_TN_MAX + 1];
    struct sti_error err;
    char *uri;

    (void)state;
    assert_string_equal(sti_sip_method(s), "INVITE");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_PAI, "us", tn, &err), STI_OK);
    assert_string_equal(tn, "12025550100");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_FROM, "us", tn, &err),
                     STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "From"));
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_TO, "us", tn, &err), STI_OK);
    assert_string_equal(tn, "12025550102");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_RURI, "us", tn, &err), STI_OK);
    assert_string_equal(tn, "12025550101");
    assert_int_equal(sti_sip_get_uri(s, STI_SIP_FROM, &uri, &err), STI_OK);
    assert_string_equal(uri, "sip:alice@example.org");
    free(uri);
    sti_sip_free(s);
}

static void identity_headers_collected(void **state)
{
    struct sti_sip *s = parse(invite);

    (void)state;
    assert_int_equal(sti_sip_identity_count(s), 3);
    assert_string_equal(sti_sip_identity_get0(s, 0),
                        "aaa.bbb.ccc;info=<https://a/x.pem>;ppt=shaken");
    assert_string_equal(sti_sip_identity_get0(s, 1),
                        "..ddd;info=<https://b/y.pem>");
    assert_string_equal(sti_sip_identity_get0(s, 2),
                        "eee.fff.ggg;info=<https://c/z.pem>");
    assert_null(sti_sip_identity_get0(s, 3));
    sti_sip_free(s);
}

static void add_identity_keep_and_replace(void **state)
{
    struct sti_sip *s = parse(invite), *again;
    struct sti_error err;
    char *text;
    size_t len;

    (void)state;
    assert_int_equal(
        sti_sip_add_identity(s, "new.jws.sig;info=<https://n>", 0, &err),
        STI_OK);
    assert_int_equal(sti_sip_identity_count(s), 4);
    assert_int_equal(
        sti_sip_add_identity(s, "rep.jws.sig;info=<https://r>", 1, &err),
        STI_OK);
    assert_int_equal(sti_sip_identity_count(s), 1);
    assert_int_equal(sti_sip_to_string(s, &text, &len, &err), STI_OK);
    assert_int_equal(strlen(text), len);
    assert_null(strstr(text, "aaa.bbb.ccc"));
    assert_non_null(strstr(text, "rep.jws.sig;info=<https://r>"));
    again = parse(text);
    assert_int_equal(sti_sip_identity_count(again), 1);
    assert_non_null(strstr(text, "Call-ID: a84b4c76e66710@127.0.0.1"));
    free(text);
    sti_sip_free(again);
    assert_int_equal(sti_sip_add_identity(s, "a\r\nInjected: 1", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_sip_add_identity(s, "", 0, &err), STI_ERR_INVALID);
    sti_sip_free(s);
}

static void from_tel_and_user_phone(void **state)
{
    static const char msg[] =
        "INVITE tel:+33123456789 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        "To: <tel:01-23-45-67-89>\r\n"
        "From: <sip:0611223344@example.fr;user=phone>;tag=1\r\n"
        "Call-ID: 1@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n";
    struct sti_sip *s = parse(msg);
    char tn[STI_TN_MAX + 1];
    struct sti_error err;
    time_t date;

    (void)state;
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_FROM, "fr", tn, &err), STI_OK);
    assert_string_equal(tn, "33611223344");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_TO, "fr", tn, &err), STI_OK);
    assert_string_equal(tn, "33123456789");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_RURI, "fr", tn, &err), STI_OK);
    assert_string_equal(tn, "33123456789");
    assert_int_equal(sti_sip_get_tn(s, STI_SIP_PAI, "fr", tn, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_sip_identity_count(s), 0);
    assert_int_equal(sti_sip_get_date(s, &date, &err), STI_ERR_NOTFOUND);
    sti_sip_free(s);
}

static void date_header(void **state)
{
    struct sti_sip *s = parse(invite);
    struct sti_error err;
    time_t date;

    (void)state;
    assert_int_equal(sti_sip_get_date(s, &date, &err), STI_OK);
    assert_int_equal(date, 1289690940);
    sti_sip_free(s);
}

/* Builds an INVITE whose Date header lines are DATES, then reads its Date. */
static int date_of(const char *dates, time_t *date, struct sti_error *err)
{
    char msg[1024];
    struct sti_sip *s;
    int rc;

    snprintf(msg, sizeof(msg),
             "INVITE sip:+12025550101@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
             "From: <sip:+12025550100@example.com>;tag=1\r\n"
             "To: <sip:+12025550101@example.com>\r\n"
             "%s"
             "Call-ID: 1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
             dates);
    s = parse(msg);
    rc = sti_sip_get_date(s, date, err);
    sti_sip_free(s);
    return rc;
}

static void date_header_strict(void **state)
{
    static const char *const bad[] = {
        "Date: Fri, 04 Dec 26 19:44:58 GMT\r\n",   /* two-digit year */
        "Date: Thu, 31 Feb 2026 19:00:00 GMT\r\n", /* past the month's end */
        "Date: Fri, 4 Dec 2026 19:44:58 GMT\r\n",  /* one-digit day */
        "Date: Fri, 04 Dec 2026 24:00:00 GMT\r\n", /* hour 24 */
        "Date: Fri, 04 Dec 2026 19:44:58 UTC\r\n", /* not GMT */
        "Date: Fri, 04 Dec 2026 19:44:58 GMT\r\n"
        "Date: Fri, 04 Dec 2026 20:44:58 GMT\r\n", /* two Date headers */
    };
    struct sti_error err;
    time_t date = 1;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(date_of(bad[i], &date, &err), STI_ERR_INVALID);
        assert_int_equal(date, 0);
    }
    assert_non_null(strstr(err.message, "two Date headers"));
    /* The weekday is not compared, and case does not matter. */
    assert_int_equal(
        date_of("Date: Mon, 04 DEC 2026 19:44:58 GMT\r\n", &date, &err),
        STI_OK);
    assert_int_equal(date, 1796413498);
}

static void set_date_replaces_header(void **state)
{
    struct sti_sip *s = parse(invite);
    struct sti_error err;
    time_t date;
    char *text;

    (void)state;
    assert_int_equal(sti_sip_set_date(s, 1700000000, &err), STI_OK);
    assert_int_equal(sti_sip_get_date(s, &date, &err), STI_OK);
    assert_int_equal(date, 1700000000);
    assert_int_equal(sti_sip_to_string(s, &text, NULL, &err), STI_OK);
    assert_non_null(strstr(text, "Tue, 14 Nov 2023 22:13:20 GMT"));
    /* The old Date header is removed. */
    assert_null(strstr(text, "2010"));
    sti_free(text);
    assert_int_equal(sti_sip_set_date(s, -100000000000LL, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_sip_set_date(NULL, 0, &err), STI_ERR_INVALID);
    sti_sip_free(s);
}

static void uri_at_walks_pai_values(void **state)
{
    struct sti_sip *s = parse(invite);
    struct sti_error err;
    char *uri;

    (void)state;
    assert_int_equal(sti_sip_get_uri_at(s, STI_SIP_PAI, 0, &uri, &err), STI_OK);
    assert_string_equal(uri, "sip:alice@example.org");
    free(uri);
    assert_int_equal(sti_sip_get_uri_at(s, STI_SIP_PAI, 1, &uri, &err), STI_OK);
    assert_string_equal(uri, "tel:+1-202-555-0100");
    free(uri);
    assert_int_equal(sti_sip_get_uri_at(s, STI_SIP_PAI, 2, &uri, &err),
                     STI_ERR_NOTFOUND);
    assert_null(uri);
    assert_non_null(strstr(err.message, "P-Asserted-Identity"));
    assert_int_equal(sti_sip_get_uri_at(s, STI_SIP_FROM, 1, &uri, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_sip_get_uri_at(NULL, STI_SIP_FROM, 0, &uri, &err),
                     STI_ERR_INVALID);
    sti_sip_free(s);
}

/* Pairs of URIs and whether they name the same identity. */
static const struct {
    const char *a, *b;
    int equal;
} uri_pairs[] = {
    {"sip:alice@example.com", "sip:alice@example.com", 1},
    /* Scheme and host compare in any case, the user exactly. */
    {"sip:alice@example.com", "SIP:alice@EXAMPLE.com", 1},
    {"sip:alice@example.com", "sip:Alice@example.com", 0},
    /* %XX escapes in the user are decoded. */
    {"sip:alice@example.com", "sip:%61lice@example.com", 1},
    /* Port, parameters and headers are not part of the identity. */
    {"sip:alice@example.com", "sip:alice@example.com:5061;transport=tcp", 1},
    {"sip:alice@example.com", "sip:alice@example.com?subject=x", 1},
    {"sip:+12025550100@example.com;user=phone", "sip:+12025550100@example.com",
     1},
    /* SIP and SIPS URIs never name the same resource. */
    {"sip:alice@example.com", "sips:alice@example.com", 0},
    {"sip:alice@example.com", "sip:alice@example.org", 0},
    {"sip:alice@example.com", "sip:example.com", 0},
    {"sip:example.com", "sip:example.com", 1},
    {"tel:+1-202-555-0100", "tel:+12025550100;phone-context=x", 1},
    {"tel:+12025550100", "tel:+12025550101", 0},
    {"tel:+12025550100", "tel:+120255501000", 0},
    {"tel:+12025550100", "sip:+12025550100@example.com", 0},
    {"urn:service:sos", "urn:service:sos", 1},
    {"urn:service:sos", "urn:service:police", 0},
    {"sip:alice@example.com", "not a uri", 0},
    {"sip:alice@example.com", NULL, 0},
    {NULL, NULL, 0},
};

static void uri_equal_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(uri_pairs) / sizeof(*uri_pairs); i++) {
        const char *a = uri_pairs[i].a, *b = uri_pairs[i].b;

        if (sti_sip_uri_equal(a, b) != uri_pairs[i].equal)
            fail_msg("%s vs %s: expected %s", a ? a : "NULL", b ? b : "NULL",
                     uri_pairs[i].equal ? "equal" : "different");
        if (sti_sip_uri_equal(b, a) != uri_pairs[i].equal)
            fail_msg("%s vs %s (swapped): expected %s", b ? b : "NULL",
                     a ? a : "NULL",
                     uri_pairs[i].equal ? "equal" : "different");
    }
}

static void uri_valid_cases(void **state)
{
    static const char *const good[] = {
        "sip:alice@example.org",
        "sips:bob@example.org;user=phone",
        "tel:+12025550100",
        "urn:service:sos",
        "sip:alice@[2001:db8::1]:5060",
        "sip:%61lice@example.org",
        "sip:alice@example.org:5060;transport=tcp"};
    static const char *const bad[] = {"",
                                      "not a uri",
                                      "alice@example.org",
                                      "sip:",
                                      "sip:a b@example.org",
                                      "sip:alice@example.org\x01",
                                      "sip:alice@example.org\x7f",
                                      ":abc",
                                      "sip:a@b:abc",
                                      "sip:a@b:99999",
                                      "sip:a@[::1",
                                      "sip:%zz@example.org",
                                      "sip:@example.org",
                                      "sip:a\"b@c",
                                      "sip:a<b@c",
                                      "sip:a@b>",
                                      "sip:\xc3\xa4@example.org",
                                      "sip:\xc3\x28@example.org"};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        if (!sti_sip_uri_valid(good[i]))
            fail_msg("'%s' should be a valid URI", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (sti_sip_uri_valid(bad[i]))
            fail_msg("'%s' should be rejected", bad[i]);
    assert_false(sti_sip_uri_valid(NULL));
}

static void parse_rejects_garbage(void **state)
{
    struct sti_sip *s;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_sip_parse("hello", 5, &s, &err), STI_ERR_INVALID);
    assert_null(s);
    assert_int_equal(sti_sip_parse(NULL, 0, &s, &err), STI_ERR_INVALID);
    assert_null(sti_sip_method(NULL));
    assert_int_equal(sti_sip_identity_count(NULL), 0);
    sti_sip_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identities_and_tns),
        cmocka_unit_test(uri_valid_cases),
        cmocka_unit_test(identity_headers_collected),
        cmocka_unit_test(add_identity_keep_and_replace),
        cmocka_unit_test(from_tel_and_user_phone),
        cmocka_unit_test(date_header),
        cmocka_unit_test(date_header_strict),
        cmocka_unit_test(set_date_replaces_header),
        cmocka_unit_test(uri_at_walks_pai_values),
        cmocka_unit_test(uri_equal_table),
        cmocka_unit_test(parse_rejects_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
