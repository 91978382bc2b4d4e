/* Unit tests for lib/castore.c. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct fixture {
    char *dir;
    char *db_path;
    struct sti_key *root_key;
    struct sti_key *leaf_key;
    struct sti_cert *root;
    struct sti_castore *store;
};

static void request_init(struct sti_cert_request *req, int kind,
                         const struct sti_key *key, const struct sti_tnauth *tn)
{
    memset(req, 0, sizeof(*req));
    req->kind = kind;
    req->organization = "stilab test";
    req->subject_key = key;
    req->tnauth = tn;
    req->crl_url = kind == STI_CERT_CA_ROOT ? NULL : "http://127.0.0.1/crl";
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sti_cert_request req;
    struct sti_error err;

    assert_non_null(f);
    f->dir = test_tmpdir();
    f->db_path = test_path(f->dir, "ca.db");
    assert_int_equal(sti_key_generate(&f->root_key, NULL), STI_OK);
    assert_int_equal(sti_key_generate(&f->leaf_key, NULL), STI_OK);
    request_init(&req, STI_CERT_CA_ROOT, f->root_key, NULL);
    if (sti_cert_issue(&req, NULL, NULL, &f->root, &err) != STI_OK)
        fail_msg("root: %s", err.message);
    assert_int_equal(sti_castore_open(f->db_path, &f->store, NULL), STI_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sti_castore_close(f->store);
    sti_cert_free(f->root);
    sti_key_free(f->root_key);
    sti_key_free(f->leaf_key);
    free(f->db_path);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static struct sti_cert *issue_sp(struct fixture *f, const char *spc_spec)
{
    struct sti_tnauth *tn = NULL;
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(spc_spec, &tn, NULL), STI_OK);
    request_init(&req, STI_CERT_SP, f->leaf_key, tn);
    if (sti_castore_issue(f->store, &req, f->root, f->root_key, &cert, &err) !=
        STI_OK)
        fail_msg("issue: %s", err.message);
    sti_tnauth_free(tn);
    return cert;
}

static void add_rejects_duplicate_serial(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;

    assert_int_equal(sti_castore_add(f->store, f->root, STI_CERT_CA_ROOT, &err),
                     STI_OK);
    assert_int_equal(sti_castore_add(f->store, f->root, STI_CERT_CA_ROOT, &err),
                     STI_ERR_EXISTS);
    assert_non_null(strstr(err.message, "serial"));
    assert_int_equal(sti_castore_add(f->store, f->root, 99, &err),
                     STI_ERR_INVALID);
}

static void issue_records_fields(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *cert = issue_sp(f, "spc:1234");
    struct sti_castore_record *rec = NULL;
    char *serial = sti_cert_serial_hex(cert);
    struct sti_error err;

    assert_int_equal(sti_castore_find(f->store, serial, &rec, &err), STI_OK);
    assert_string_equal(rec->kind, "sp");
    assert_string_equal(rec->tnauth, "spc:1234");
    assert_int_equal(rec->revoked, 0);
    assert_int_equal(rec->reason, -1);
    assert_int_equal(rec->not_after, sti_cert_not_after(cert));
    assert_non_null(strstr(rec->subject, "SHAKEN 1234"));
    assert_non_null(strstr(rec->pem, "BEGIN CERTIFICATE"));
    sti_castore_records_free(rec, 1);
    sti_free(serial);
    sti_cert_free(cert);
}

static void find_normalises_serial(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *cert = issue_sp(f, "spc:818H");
    char *serial = sti_cert_serial_hex(cert);
    char variant[80];
    struct sti_castore_record *rec = NULL;
    struct sti_error err;

    /* Lowercase with extra leading zeros names the same certificate. */
    snprintf(variant, sizeof(variant), "000%s", serial);
    for (char *p = variant; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    assert_int_equal(sti_castore_find(f->store, variant, &rec, &err), STI_OK);
    assert_string_equal(rec->tnauth, "spc:818H");
    sti_castore_records_free(rec, 1);
    assert_int_equal(sti_castore_find(f->store, "zz", &rec, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'zz'"));
    assert_int_equal(sti_castore_find(f->store, "ABCDEF", &rec, &err),
                     STI_ERR_NOTFOUND);
    assert_null(rec);
    sti_free(serial);
    sti_cert_free(cert);
}

static void revoke_marks_once(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *cert = issue_sp(f, "spc:1234");
    char *serial = sti_cert_serial_hex(cert);
    struct sti_castore_record *rec = NULL;
    struct sti_error err;

    assert_int_equal(sti_castore_revoke(f->store, serial,
                                        STI_REASON_KEY_COMPROMISE, 1700000000,
                                        &err),
                     STI_OK);
    assert_int_equal(sti_castore_find(f->store, serial, &rec, &err), STI_OK);
    assert_int_equal(rec->revoked, 1);
    assert_int_equal(rec->revoked_at, 1700000000);
    assert_int_equal(rec->reason, STI_REASON_KEY_COMPROMISE);
    sti_castore_records_free(rec, 1);
    assert_int_equal(
        sti_castore_revoke(f->store, serial, STI_REASON_SUPERSEDED, 0, &err),
        STI_ERR_EXISTS);
    assert_int_equal(
        sti_castore_revoke(f->store, "01", STI_REASON_SUPERSEDED, 0, &err),
        STI_ERR_NOTFOUND);
    assert_int_equal(sti_castore_revoke(f->store, serial, 77, 0, &err),
                     STI_ERR_INVALID);
    sti_free(serial);
    sti_cert_free(cert);
}

/* Verifiers take a root as a trust anchor and never check a CRL for it. */
static void revoke_rejects_root(void **state)
{
    struct fixture *f = *state;
    char *serial = sti_cert_serial_hex(f->root);
    struct sti_castore_record *rec = NULL;
    struct sti_error err;

    assert_int_equal(sti_castore_add(f->store, f->root, STI_CERT_CA_ROOT, &err),
                     STI_OK);
    assert_int_equal(
        sti_castore_revoke(f->store, serial, STI_REASON_UNSPECIFIED, 0, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "trust anchor"));
    assert_int_equal(sti_castore_find(f->store, serial, &rec, &err), STI_OK);
    assert_int_equal(rec->revoked, 0);
    sti_castore_records_free(rec, 1);
    sti_free(serial);
}

static void list_and_json(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *a = issue_sp(f, "spc:1111");
    struct sti_cert *b = issue_sp(f, "spc:2222");
    struct sti_castore_record *recs = NULL;
    size_t n = 0;
    char *json = NULL, *serial = sti_cert_serial_hex(b);
    json_t *arr;

    assert_int_equal(
        sti_castore_revoke(f->store, serial, STI_REASON_SUPERSEDED, 0, NULL),
        STI_OK);
    assert_int_equal(sti_castore_list(f->store, &recs, &n, NULL), STI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(recs[0].tnauth, "spc:1111");
    assert_string_equal(recs[1].tnauth, "spc:2222");
    assert_int_equal(sti_castore_records_to_json(recs, n, 0, &json, NULL),
                     STI_OK);
    arr = json_loads(json, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 2);
    assert_false(
        json_is_true(json_object_get(json_array_get(arr, 0), "revoked")));
    assert_true(
        json_is_true(json_object_get(json_array_get(arr, 1), "revoked")));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(arr, 1), "reason")),
        "superseded");
    assert_null(json_object_get(json_array_get(arr, 0), "pem"));
    json_decref(arr);
    free(json);
    assert_int_equal(sti_castore_records_to_json(recs, n, 1, &json, NULL),
                     STI_OK);
    assert_non_null(strstr(json, "BEGIN CERTIFICATE"));
    free(json);
    sti_castore_records_free(recs, n);
    sti_free(serial);
    sti_cert_free(a);
    sti_cert_free(b);
}

static void records_persist_across_open(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *cert = issue_sp(f, "spc:1234");
    struct sti_castore_record *recs = NULL;
    size_t n = 0;

    sti_castore_close(f->store);
    assert_int_equal(sti_castore_open(f->db_path, &f->store, NULL), STI_OK);
    assert_int_equal(sti_castore_list(f->store, &recs, &n, NULL), STI_OK);
    assert_int_equal(n, 1);
    sti_castore_records_free(recs, n);
    sti_cert_free(cert);
}

static void open_fails_on_bad_path(void **state)
{
    struct sti_castore *store = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_castore_open("/nonexistent/dir/ca.db", &store, &err),
                     STI_ERR_DB);
    assert_null(store);
    assert_non_null(strstr(err.message, "/nonexistent/dir/ca.db"));
    sti_castore_close(NULL);
    sti_castore_records_free(NULL, 0);
}

static void issue_fails_without_retry_on_policy(void **state)
{
    struct fixture *f = *state;
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_castore_record *recs = NULL;
    size_t n = 0;
    struct sti_error err;

    /* An SP end entity without a TNAuthList is rejected, and nothing is
     * recorded. */
    request_init(&req, STI_CERT_SP, f->leaf_key, NULL);
    assert_int_not_equal(
        sti_castore_issue(f->store, &req, f->root, f->root_key, &cert, &err),
        STI_OK);
    assert_null(cert);
    assert_int_equal(sti_castore_list(f->store, &recs, &n, NULL), STI_OK);
    assert_int_equal(n, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(add_rejects_duplicate_serial),
        T(issue_records_fields),
        T(find_normalises_serial),
        T(revoke_marks_once),
        T(revoke_rejects_root),
        T(list_and_json),
        T(records_persist_across_open),
        cmocka_unit_test(open_fails_on_bad_path),
        T(issue_fails_without_retry_on_policy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
