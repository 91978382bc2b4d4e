/* Unit tests for lib/lab.c: the JSON documents of `sti lab`. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

/* Checks that member PATH of JSON, as text, equals EXPECTED. */
static void assert_member(const char *json, const char *path,
                          const char *expected)
{
    struct sti_error err;
    char *out = NULL;

    if (sti_json_get_text(json, strlen(json), path, &out, &err) != STI_OK)
        fail_msg("%s: %s", path, err.message);
    assert_string_equal(out, expected);
    free(out);
}

static void json_get_scalars(void **state)
{
    const char *doc = "{\"a\":{\"b\":{\"c\":\"x y\"},\"n\":437,\"t\":true,"
                      "\"z\":null,\"arr\":[1,2]}}";

    (void)state;
    assert_member(doc, "a.b.c", "x y");
    assert_member(doc, "a.n", "437");
    assert_member(doc, "a.t", "true");
    assert_member(doc, "a.z", "null");
    assert_member(doc, "a.arr", "[1,2]");
    assert_member(doc, "a.b", "{\"c\":\"x y\"}");
}

static void json_get_errors(void **state)
{
    const char *doc = "{\"a\":{\"b\":1}}";
    struct sti_error err;
    char *out = NULL;

    (void)state;
    assert_int_equal(sti_json_get_text(doc, strlen(doc), "a.c", &out, &err),
                     STI_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "a.c"));
    assert_int_equal(sti_json_get_text(doc, strlen(doc), "a.b.c", &out, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_json_get_text("{\"a\":", 5, "a", &out, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "invalid JSON"));
    assert_int_equal(
        sti_json_get_text("{\"a\":1,\"a\":2}", 13, "a", &out, &err),
        STI_ERR_INVALID);
    assert_int_equal(sti_json_get_text(NULL, 0, "a", &out, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_json_get_text(doc, strlen(doc), "a", NULL, &err),
                     STI_ERR_INVALID);
    assert_null(out);
}

static void status_json_fields(void **state)
{
    struct sti_lab_cert certs[] = {
        {.role = "ca-root",
         .name = "root",
         .subject = "CN=SHAKEN ROOT",
         .serial = "0A",
         .not_after = 86400,
         .revoked = -1},
        {.role = "sp",
         .name = "1001",
         .issuer = "intermediate",
         .spc = "1001",
         .serial = "0B",
         .not_after = 0,
         .revoked = 1,
         .x5u = "https://127.0.0.1:1/certs/1001.pem"},
    };
    struct sti_lab_service svcs[] = {
        {.name = "pa",
         .url = "https://127.0.0.1:9",
         .pid = 42,
         .port = 9,
         .up = 1},
        {.name = "cr"},
    };
    struct sti_error err;
    char *json;

    (void)state;
    assert_int_equal(
        sti_lab_status_to_json("/tmp/lab", certs, 2, svcs, 2, &json, &err),
        STI_OK);
    assert_member(json, "dir", "/tmp/lab");
    assert_non_null(strstr(json, "\"not_after\": \"1970-01-02T00:00:00Z\""));
    assert_non_null(strstr(json, "\"revoked\": null"));
    assert_non_null(strstr(json, "\"revoked\": true"));
    assert_non_null(strstr(json, "\"x5u\": \"https://127.0.0.1:1/certs"));
    assert_non_null(strstr(json, "\"pid\": 42"));
    assert_non_null(strstr(json, "\"state\": \"up\""));
    assert_non_null(strstr(json, "\"state\": \"down\""));
    assert_non_null(strstr(json, "\"pid\": null"));
    free(json);
    assert_int_equal(sti_lab_status_to_json("d", NULL, 1, NULL, 0, &json, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_lab_status_to_json("d", NULL, 0, NULL, 0, NULL, &err),
                     STI_ERR_INVALID);
}

static void steps_json_counts(void **state)
{
    struct sti_lab_step steps[] = {
        {.name = "stale iat",
         .via = "sti verify",
         .expected = "403",
         .actual = "403",
         .passed = 1,
         .detail = "iat is 3600 s old"},
        {.name = "tampered claims",
         .via = "sti serve",
         .expected = "438",
         .actual = "pass",
         .passed = 0},
    };
    struct sti_error err;
    char *json;

    (void)state;
    assert_int_equal(sti_lab_steps_to_json(steps, 2, &json, &err), STI_OK);
    assert_member(json, "passed", "1");
    assert_member(json, "failed", "1");
    assert_non_null(strstr(json, "\"detail\": null"));
    assert_non_null(strstr(json, "\"passed\": false"));
    free(json);
    assert_int_equal(sti_lab_steps_to_json(NULL, 0, &json, &err), STI_OK);
    assert_member(json, "steps", "[]");
    free(json);
    assert_int_equal(sti_lab_steps_to_json(NULL, 2, &json, &err),
                     STI_ERR_INVALID);
}

static void verification_request_json(void **state)
{
    struct sti_error err;
    char *json;

    (void)state;
    assert_int_equal(sti_lab_verification_request("a.b.c;info=<x\"y>", "1202",
                                                  "1203", &json, &err),
                     STI_OK);
    assert_member(json, "verificationRequest.identity", "a.b.c;info=<x\"y>");
    assert_member(json, "verificationRequest.from.tn", "1202");
    assert_member(json, "verificationRequest.to.tn", "[\"1203\"]");
    free(json);
    assert_int_equal(sti_lab_verification_request(NULL, "1", "2", &json, &err),
                     STI_ERR_INVALID);
    assert_int_equal(
        sti_lab_verification_request("\xff", "1", "2", &json, &err),
        STI_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_get_scalars),
        cmocka_unit_test(json_get_errors),
        cmocka_unit_test(status_json_fields),
        cmocka_unit_test(steps_json_counts),
        cmocka_unit_test(verification_request_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
