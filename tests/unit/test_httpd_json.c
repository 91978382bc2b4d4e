/* Unit tests for lib/httpd_json.c: JSON responses from a real server on
 * 127.0.0.1, port 0, fetched with libsti's HTTP client. */
#include "support.h"

#include "httpd_json_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends {"ok": true} with 201 on /ok, and a NULL document elsewhere. */
static void handler(void *arg, const struct sti_httpd_request *req,
                    struct sti_httpd_response *resp)
{
    (void)arg;
    if (strcmp(sti_httpd_path(req), "/ok") == 0)
        httpd_send_json(resp, 201, json_pack("{s:b}", "ok", 1));
    else
        httpd_send_json(resp, 200, NULL);
}

static struct sti_http_response *get(struct sti_httpd *httpd, const char *path)
{
    struct sti_http_response *resp = NULL;
    struct sti_error err;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sti_httpd_port(httpd),
             path);
    assert_int_equal(sti_http_request("GET", url, NULL, 0, NULL, &resp, &err),
                     STI_OK);
    return resp;
}

static void json_body_and_status(void **state)
{
    struct sti_httpd_config cfg = {0};
    struct sti_httpd *httpd = NULL;
    struct sti_http_response *resp;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_httpd_start(&cfg, handler, NULL, &httpd, &err),
                     STI_OK);
    resp = get(httpd, "/ok");
    assert_int_equal(resp->status, 201);
    assert_string_equal(resp->content_type, "application/json");
    assert_string_equal((const char *)resp->body, "{\"ok\":true}");
    sti_http_response_free(resp);
    /* A document that could not be built is a server error. */
    resp = get(httpd, "/null");
    assert_int_equal(resp->status, 500);
    assert_non_null(strstr((const char *)resp->body, "out of memory"));
    sti_http_response_free(resp);
    sti_httpd_stop(httpd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_body_and_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
