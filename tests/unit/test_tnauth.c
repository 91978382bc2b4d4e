/* Unit tests for lib/tnauth.c. */
#include "support.h"

#include "x509_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DER vectors checked with OpenSSL 3.0 (RFC 8226 module, explicit tags). */
static const unsigned char spc_1234[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                         0x04, 0x31, 0x32, 0x33, 0x34};
static const unsigned char range_vec[] = {
    0x30, 0x14, 0xA1, 0x12, 0x30, 0x10, 0x16, 0x0B, 0x31, 0x32, 0x30,
    0x32, 0x35, 0x35, 0x35, 0x30, 0x31, 0x30, 0x30, 0x02, 0x01, 0x64};

static struct sti_tnauth *spec(const char *text)
{
    struct sti_tnauth *list;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(text, &list, &err), STI_OK);
    return list;
}

static void encode_and_compare(const char *text, const unsigned char *want,
                               size_t want_len)
{
    struct sti_tnauth *list = spec(text);
    struct sti_error err;
    unsigned char *der;
    size_t len;

    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(der, want, want_len);
    free(der);
    sti_tnauth_free(list);
}

static void encode_spc_vector(void **state)
{
    (void)state;
    encode_and_compare("spc:1234", spc_1234, sizeof(spc_1234));
}

static void encode_range_vector(void **state)
{
    (void)state;
    encode_and_compare("range:12025550100+100", range_vec, sizeof(range_vec));
}

static void encode_base64_vector(void **state)
{
    struct sti_tnauth *list = spec("spc:818H");
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *b64;

    (void)state;
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    b64 = sti_b64_encode(der, len);
    assert_string_equal(b64, "MAigBhYEODE4SA==");
    free(b64);
    free(der);
    sti_tnauth_free(list);
}

static void encode_one_tn(void **state)
{
    static const unsigned char want[] = {0x30, 0x0F, 0xA2, 0x0D, 0x16, 0x0B,
                                         0x31, 0x32, 0x30, 0x32, 0x35, 0x35,
                                         0x35, 0x30, 0x31, 0x30, 0x30};

    (void)state;
    encode_and_compare("tn:12025550100", want, sizeof(want));
}

static void decode_vectors(void **state)
{
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tnauth_decode(spc_1234, sizeof(spc_1234), &list, &err),
                     STI_OK);
    assert_int_equal(list->count, 1);
    assert_int_equal(list->entries[0].type, STI_TN_SPC);
    assert_string_equal(sti_tnauth_get0_spc(list), "1234");
    sti_tnauth_free(list);

    assert_int_equal(
        sti_tnauth_decode(range_vec, sizeof(range_vec), &list, &err), STI_OK);
    assert_int_equal(list->count, 1);
    assert_int_equal(list->entries[0].type, STI_TN_RANGE);
    assert_string_equal(list->entries[0].value, "12025550100");
    assert_int_equal(list->entries[0].count, 100);
    assert_null(sti_tnauth_get0_spc(list));
    sti_tnauth_free(list);
}

static void mixed_round_trip(void **state)
{
    struct sti_tnauth *list = spec("spc:1234, tn:#12*, range:3315550000+20");
    struct sti_tnauth *back;
    struct sti_error err;
    unsigned char *der;
    size_t len;
    char *text;

    (void)state;
    assert_int_equal(list->count, 3);
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    assert_int_equal(sti_tnauth_decode(der, len, &back, &err), STI_OK);
    assert_true(sti_tnauth_equal(list, back));
    text = sti_tnauth_to_spec(back);
    assert_string_equal(text, "spc:1234,tn:#12*,range:3315550000+20");
    free(text);
    free(der);
    sti_tnauth_free(back);
    sti_tnauth_free(list);
}

static void add_validates_entries(void **state)
{
    static const struct {
        int type;
        const char *value;
        uint64_t count;
    } bad[] = {
        {STI_TN_SPC, "ab12", 0},
        {STI_TN_SPC, "12-4", 0},
        {STI_TN_SPC, "", 0},
        {STI_TN_SPC, "123456789012345678901234567890123", 0},
        {STI_TN_ONE, "1202555010a", 0},
        {STI_TN_ONE, "+12025550100", 0},
        {STI_TN_ONE, "1234567890123456", 0},
        {STI_TN_RANGE, "12025550100", 1},
        {STI_TN_RANGE, "12025550100", 0},
        {STI_TN_RANGE, "12-5", 10},
    };
    struct sti_tnauth *list = sti_tnauth_new();
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            sti_tnauth_add(list, bad[i].type, bad[i].value, bad[i].count, &err),
            STI_ERR_INVALID);
        if (bad[i].value[0] != '\0')
            assert_non_null(strstr(err.message, bad[i].value));
    }
    assert_int_equal(list->count, 0);
    assert_int_equal(sti_tnauth_add(list, 7, "1", 0, &err), STI_ERR_INVALID);
    assert_int_equal(sti_tnauth_add(list, STI_TN_ONE, NULL, 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_tnauth_add(NULL, STI_TN_SPC, "1234", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(
        sti_tnauth_add(list, STI_TN_ONE, "123456789012345", 0, &err), STI_OK);
    assert_int_equal(sti_tnauth_add(list, STI_TN_SPC, "818H", 0, &err), STI_OK);
    assert_int_equal(list->count, 2);
    sti_tnauth_free(list);
}

static void spec_rejects_bad_input(void **state)
{
    static const char *bad[] = {
        "foo:1", "range:123", "range:123+x", "range:123+-5", "range:12+1",
        "",      " , ",       "tn:",         "spc:abc",      "spc:1234,tn:1a"};
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sti_tnauth_parse_spec(bad[i], &list, &err),
                         STI_ERR_INVALID);
        assert_null(list);
        assert_true(strlen(err.message) > 0);
    }
    assert_int_equal(sti_tnauth_parse_spec(NULL, &list, &err), STI_ERR_INVALID);
    assert_null(sti_tnauth_to_spec(NULL));
}

static void spec_error_names_entry(void **state)
{
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tnauth_parse_spec("spc:1234,spc:ab", &list, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'ab'"));
    assert_int_equal(sti_tnauth_parse_spec("bogus:9", &list, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "bogus:9"));
}

static void encode_rejects_bad_lists(void **state)
{
    struct sti_tnauth *list = sti_tnauth_new();
    struct sti_error err;
    unsigned char *der;
    size_t len;

    (void)state;
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err),
                     STI_ERR_INVALID);
    assert_null(der);
    assert_int_equal(sti_tnauth_encode(NULL, &der, &len, &err),
                     STI_ERR_INVALID);
    /* An entry written directly, bypassing sti_tnauth_add(). */
    sti_tnauth_free(list);
    list = spec("spc:1234");
    list->entries[0].value[0] = 'x';
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "x234"));
    sti_tnauth_free(list);
}

static void expect_decode_fails(const unsigned char *der, size_t len,
                                const char *word)
{
    struct sti_tnauth *list = (struct sti_tnauth *)1;
    struct sti_error err;

    assert_int_equal(sti_tnauth_decode(der, len, &list, &err), STI_ERR_INVALID);
    assert_null(list);
    if (word != NULL)
        assert_non_null(strstr(err.message, word));
}

static void decode_rejects_malformed(void **state)
{
    static const unsigned char empty_seq[] = {0x30, 0x00};
    static const unsigned char lower_spc[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                              0x04, 0x61, 0x62, 0x63, 0x64};
    static const unsigned char implicit[] = {0x30, 0x06, 0x80, 0x04,
                                             0x31, 0x32, 0x33, 0x34};
    static const unsigned char long_len[] = {0x30, 0x81, 0x08, 0xA0, 0x06, 0x16,
                                             0x04, 0x31, 0x32, 0x33, 0x34};
    static const unsigned char trailing[] = {0x30, 0x08, 0xA0, 0x06, 0x16, 0x04,
                                             0x31, 0x32, 0x33, 0x34, 0x00};
    static const unsigned char utf8_spc[] = {0x30, 0x08, 0xA0, 0x06, 0x0C,
                                             0x04, 0x31, 0x32, 0x33, 0x34};
    unsigned char neg[sizeof(range_vec)], one[sizeof(range_vec)];

    (void)state;
    expect_decode_fails(empty_seq, sizeof(empty_seq), "empty");
    expect_decode_fails(lower_spc, sizeof(lower_spc), "'abcd'");
    expect_decode_fails(implicit, sizeof(implicit), "malformed");
    expect_decode_fails(long_len, sizeof(long_len), "DER");
    expect_decode_fails(trailing, sizeof(trailing), "trailing");
    expect_decode_fails(utf8_spc, sizeof(utf8_spc), NULL);
    memcpy(neg, range_vec, sizeof(neg));
    neg[sizeof(neg) - 1] = 0x9C; /* -100 */
    expect_decode_fails(neg, sizeof(neg), "negative");
    memcpy(one, range_vec, sizeof(one));
    one[sizeof(one) - 1] = 0x01;
    expect_decode_fails(one, sizeof(one), "at least 2");
    expect_decode_fails(NULL, 0, "empty");
}

static void decode_rejects_truncation(void **state)
{
    (void)state;
    for (size_t n = 1; n < sizeof(range_vec); n++)
        expect_decode_fails(range_vec, n, NULL);
    for (size_t n = 1; n < sizeof(spc_1234); n++)
        expect_decode_fails(spc_1234, n, NULL);
}

/* Flips every bit of the vectors and feeds random bytes; the decoder must
 * return cleanly (ASan catches overreads in the sanitized build). */
static void decode_survives_mutation(void **state)
{
    unsigned char buf[64];
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(range_vec) * 8; i++) {
        memcpy(buf, range_vec, sizeof(range_vec));
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        if (sti_tnauth_decode(buf, sizeof(range_vec), &list, &err) == STI_OK)
            sti_tnauth_free(list);
    }
    for (int round = 0; round < 2000; round++) {
        size_t len = 1 + (size_t)round % sizeof(buf);

        assert_int_equal(sti_random_bytes(buf, len), STI_OK);
        buf[0] = 0x30;
        if (sti_tnauth_decode(buf, len, &list, &err) == STI_OK)
            sti_tnauth_free(list);
    }
}

static void asn1parse_accepts_der(void **state)
{
    struct sti_tnauth *list = spec("spc:1234,range:12025550100+100");
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "tnauth.der");
    char cmd[4400], line[512];
    unsigned char *der;
    size_t len;
    int ia5 = 0;
    FILE *p;

    (void)state;
    assert_int_equal(sti_tnauth_encode(list, &der, &len, &err), STI_OK);
    assert_int_equal(sti_file_write(path, der, len, 0644, 1, &err), STI_OK);
    snprintf(cmd, sizeof(cmd), "openssl asn1parse -inform DER -in '%s' 2>&1",
             path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p) != NULL) {
        assert_null(strstr(line, "Error"));
        if (strstr(line, "IA5STRING") != NULL)
            ia5++;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(ia5, 2);
    free(der);
    free(path);
    test_rmtree(dir);
    sti_tnauth_free(list);
}

static void get0_spc_cases(void **state)
{
    struct sti_tnauth *two = spec("spc:1234,spc:5678");
    struct sti_tnauth *tn = spec("tn:12025550100");
    struct sti_tnauth *one = spec("spc:818H");

    (void)state;
    assert_string_equal(sti_tnauth_get0_spc(one), "818H");
    assert_null(sti_tnauth_get0_spc(two));
    assert_null(sti_tnauth_get0_spc(tn));
    assert_null(sti_tnauth_get0_spc(NULL));
    sti_tnauth_free(two);
    sti_tnauth_free(tn);
    sti_tnauth_free(one);
}

static void covers_tn_cases(void **state)
{
    struct sti_tnauth *list = spec("range:12025550100+100,tn:33123456789");

    (void)state;
    assert_true(sti_tnauth_covers_tn(list, "12025550100"));
    assert_true(sti_tnauth_covers_tn(list, "12025550199"));
    assert_false(sti_tnauth_covers_tn(list, "12025550200"));
    assert_false(sti_tnauth_covers_tn(list, "12025550099"));
    assert_false(sti_tnauth_covers_tn(list, "1202555015"));
    assert_false(sti_tnauth_covers_tn(list, "012025550150"));
    assert_true(sti_tnauth_covers_tn(list, "33123456789"));
    assert_false(sti_tnauth_covers_tn(list, "33123456788"));
    assert_false(sti_tnauth_covers_tn(list, "+12025550150"));
    assert_false(sti_tnauth_covers_tn(list, ""));
    assert_false(sti_tnauth_covers_tn(list, NULL));
    assert_false(sti_tnauth_covers_tn(NULL, "12025550150"));
    sti_tnauth_free(list);
}

static void encompasses_cases(void **state)
{
    static const struct {
        const char *inner;
        int expected;
    } cases[] = {
        {"range:12025550110+10", 1},
        {"tn:12025550199", 1},
        {"range:12025550100+100", 1},
        {"range:12025550190+20", 1}, /* continues into the second range */
        {"range:12025550190+61", 0}, /* one past the second range */
        {"tn:12025550300", 0},
        {"spc:1234", 1},
        {"spc:5678", 0},
        {"tn:#99", 1},
        {"tn:#98", 0},
        {"range:99+5", 0}, /* runs past two digits */
    };
    struct sti_tnauth *outer =
        spec("spc:1234,range:12025550100+100,range:12025550200+50,tn:#99");

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sti_tnauth *inner = spec(cases[i].inner);

        if (sti_tnauth_encompasses(outer, inner) != cases[i].expected)
            fail_msg("encompasses(%s) != %d", cases[i].inner,
                     cases[i].expected);
        sti_tnauth_free(inner);
    }
    assert_false(sti_tnauth_encompasses(NULL, outer));
    assert_false(sti_tnauth_encompasses(outer, NULL));
    sti_tnauth_free(outer);
}

static void spc_does_not_cover_tns(void **state)
{
    struct sti_tnauth *outer = spec("spc:1234");
    struct sti_tnauth *inner = spec("tn:12025550100");

    (void)state;
    assert_false(sti_tnauth_encompasses(outer, inner));
    sti_tnauth_free(inner);
    sti_tnauth_free(outer);
}

static void equal_and_dup(void **state)
{
    struct sti_tnauth *a = spec("spc:1234,range:12025550100+100");
    struct sti_tnauth *b = spec("range:12025550100+100,spc:1234");
    struct sti_tnauth *c = spec("spc:1234,range:12025550100+101");
    struct sti_tnauth *copy = sti_tnauth_dup(a);
    struct sti_tnauth *empty = sti_tnauth_new();
    struct sti_tnauth *empty_copy = sti_tnauth_dup(empty);

    (void)state;
    assert_non_null(copy);
    assert_true(sti_tnauth_equal(a, copy));
    assert_ptr_not_equal(a->entries, copy->entries);
    assert_false(sti_tnauth_equal(a, b));
    assert_false(sti_tnauth_equal(a, c));
    assert_false(sti_tnauth_equal(a, NULL));
    assert_non_null(empty_copy);
    assert_int_equal(empty_copy->count, 0);
    assert_null(sti_tnauth_dup(NULL));
    sti_tnauth_free(a);
    sti_tnauth_free(b);
    sti_tnauth_free(c);
    sti_tnauth_free(copy);
    sti_tnauth_free(empty);
    sti_tnauth_free(empty_copy);
    sti_tnauth_free(NULL);
}

/* Data-driven cases: tests/data/certcore/tnauth/{good,bad}/NAME.hex with
 * NAME.expect (see the README there). */
static char *read_line_file(const char *path)
{
    struct sti_error err;
    unsigned char *data;
    size_t len;

    if (sti_file_read(path, &data, &len, &err) != STI_OK)
        fail_msg("%s", err.message);
    data[strcspn((char *)data, "\r\n")] = '\0';
    return (char *)data;
}

static unsigned char *hex_to_bytes(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *out = malloc(n + 1);

    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    *len = n;
    return out;
}

static void check_good_case(const unsigned char *der, size_t len,
                            const char *expect, const char *name)
{
    struct sti_tnauth *list;
    struct sti_error err;
    unsigned char *again;
    size_t again_len;
    char *text;

    if (sti_tnauth_decode(der, len, &list, &err) != STI_OK)
        fail_msg("good/%s: %s", name, err.message);
    text = sti_tnauth_to_spec(list);
    if (strcmp(text, expect) != 0)
        fail_msg("good/%s: decoded '%s', expected '%s'", name, text, expect);
    assert_int_equal(sti_tnauth_encode(list, &again, &again_len, &err), STI_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, der, len);
    free(again);
    free(text);
    sti_tnauth_free(list);
}

static void check_bad_case(const unsigned char *der, size_t len,
                           const char *expect, const char *name)
{
    struct sti_tnauth *list;
    struct sti_error err;

    if (sti_tnauth_decode(der, len, &list, &err) != STI_ERR_INVALID)
        fail_msg("bad/%s: decoded without error", name);
    if (strstr(err.message, expect) == NULL)
        fail_msg("bad/%s: message '%s' lacks '%s'", name, err.message, expect);
}

static int run_case_dir(const char *kind)
{
    char rel[64], path[4200];
    char *dir_path;
    struct dirent *de;
    DIR *dir;
    int cases = 0;

    snprintf(rel, sizeof(rel), "certcore/tnauth/%s", kind);
    dir_path = test_data_path(rel);
    dir = opendir(dir_path);
    if (dir == NULL)
        fail_msg("cannot open %s", dir_path);
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name), len;
        char *hex, *expect;
        unsigned char *der;

        if (n < 5 || strcmp(de->d_name + n - 4, ".hex") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
        hex = read_line_file(path);
        snprintf(path + strlen(path) - 4, 8, ".expect");
        expect = read_line_file(path);
        der = hex_to_bytes(hex, &len);
        if (strcmp(kind, "good") == 0)
            check_good_case(der, len, expect, de->d_name);
        else
            check_bad_case(der, len, expect, de->d_name);
        free(der);
        free(hex);
        free(expect);
        cases++;
    }
    closedir(dir);
    free(dir_path);
    return cases;
}

static void data_cases_good(void **state)
{
    (void)state;
    assert_true(run_case_dir("good") >= 7);
}

static void data_cases_bad(void **state)
{
    (void)state;
    assert_true(run_case_dir("bad") >= 15);
}

static void ext_new_sets_oid_and_flag(void **state)
{
    struct sti_tnauth *list = sti_tnauth_new(), *empty = sti_tnauth_new();
    X509_EXTENSION *ext = NULL;
    ASN1_OBJECT *oid = sti_tnauth_obj();
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tnauth_add(list, STI_TN_SPC, "1234", 0, &err), STI_OK);
    for (int critical = 0; critical <= 1; critical++) {
        assert_int_equal(sti_tnauth_ext_new(list, critical, &ext, &err),
                         STI_OK);
        assert_int_equal(OBJ_cmp(X509_EXTENSION_get_object(ext), oid), 0);
        assert_int_equal(X509_EXTENSION_get_critical(ext), critical);
        X509_EXTENSION_free(ext);
    }
    /* A list without entries cannot be encoded. */
    assert_int_not_equal(sti_tnauth_ext_new(empty, 0, &ext, &err), STI_OK);
    assert_null(ext);
    ASN1_OBJECT_free(oid);
    sti_tnauth_free(empty);
    sti_tnauth_free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_spc_vector),
        cmocka_unit_test(encode_range_vector),
        cmocka_unit_test(encode_base64_vector),
        cmocka_unit_test(encode_one_tn),
        cmocka_unit_test(decode_vectors),
        cmocka_unit_test(mixed_round_trip),
        cmocka_unit_test(add_validates_entries),
        cmocka_unit_test(spec_rejects_bad_input),
        cmocka_unit_test(spec_error_names_entry),
        cmocka_unit_test(encode_rejects_bad_lists),
        cmocka_unit_test(decode_rejects_malformed),
        cmocka_unit_test(decode_rejects_truncation),
        cmocka_unit_test(decode_survives_mutation),
        cmocka_unit_test(asn1parse_accepts_der),
        cmocka_unit_test(get0_spc_cases),
        cmocka_unit_test(covers_tn_cases),
        cmocka_unit_test(encompasses_cases),
        cmocka_unit_test(spc_does_not_cover_tns),
        cmocka_unit_test(equal_and_dup),
        cmocka_unit_test(data_cases_good),
        cmocka_unit_test(data_cases_bad),
        cmocka_unit_test(ext_new_sets_oid_and_flag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
