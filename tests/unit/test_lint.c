/* Unit tests for lib/lint.c. */
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A small hierarchy built with sti_cert_issue, as sti-ca builds it. */
struct pki {
    struct sti_key *pa_key, *root_key, *inter_key, *sca_key, *leaf_key;
    struct sti_cert *pa, *root, *inter, *sp, *sca, *delegate;
};

static struct sti_cert *issue(int kind, const struct sti_key *subject,
                              const struct sti_tnauth *tn,
                              const struct sti_cert *crl_issuer,
                              const struct sti_cert *issuer,
                              const struct sti_key *issuer_key, const char *cn)
{
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_error err;

    memset(&req, 0, sizeof(req));
    req.kind = kind;
    req.common_name = cn;
    req.organization = "stilab test";
    req.subject_key = subject;
    req.tnauth = tn;
    req.crl_url = issuer ? "http://127.0.0.1/crl.pem" : NULL;
    req.crl_issuer = crl_issuer;
    if (sti_cert_issue(&req, issuer, issuer_key, &cert, &err) != STI_OK)
        fail_msg("issue kind %d: %s", kind, err.message);
    return cert;
}

static struct sti_tnauth *spec(const char *text)
{
    struct sti_tnauth *list = NULL;

    assert_int_equal(sti_tnauth_parse_spec(text, &list, NULL), STI_OK);
    return list;
}

static void pki_build(struct pki *p)
{
    struct sti_tnauth *spc = spec("spc:1234");
    struct sti_tnauth *sca_tn = spec("spc:1234,range:12025550100+100");
    struct sti_tnauth *del_tn = spec("tn:12025550142");

    memset(p, 0, sizeof(*p));
    assert_int_equal(sti_key_generate(&p->pa_key, NULL), STI_OK);
    assert_int_equal(sti_key_generate(&p->root_key, NULL), STI_OK);
    assert_int_equal(sti_key_generate(&p->inter_key, NULL), STI_OK);
    assert_int_equal(sti_key_generate(&p->sca_key, NULL), STI_OK);
    assert_int_equal(sti_key_generate(&p->leaf_key, NULL), STI_OK);
    p->pa = issue(STI_CERT_PA_ROOT, p->pa_key, NULL, NULL, NULL, NULL, NULL);
    p->root =
        issue(STI_CERT_CA_ROOT, p->root_key, NULL, NULL, NULL, NULL, NULL);
    p->inter = issue(STI_CERT_CA_INTERMEDIATE, p->inter_key, NULL, p->pa,
                     p->root, p->root_key, NULL);
    p->sp = issue(STI_CERT_SP, p->leaf_key, spc, p->pa, p->inter, p->inter_key,
                  NULL);
    p->sca = issue(STI_CERT_SCA, p->sca_key, sca_tn, p->pa, p->inter,
                   p->inter_key, "SHAKEN SCA 1234");
    p->delegate = issue(STI_CERT_DELEGATE, p->leaf_key, del_tn, p->pa, p->sca,
                        p->sca_key, "SHAKEN 12025550142");
    sti_tnauth_free(spc);
    sti_tnauth_free(sca_tn);
    sti_tnauth_free(del_tn);
}

static void pki_free(struct pki *p)
{
    sti_cert_free(p->pa);
    sti_cert_free(p->root);
    sti_cert_free(p->inter);
    sti_cert_free(p->sp);
    sti_cert_free(p->sca);
    sti_cert_free(p->delegate);
    sti_key_free(p->pa_key);
    sti_key_free(p->root_key);
    sti_key_free(p->inter_key);
    sti_key_free(p->sca_key);
    sti_key_free(p->leaf_key);
}

static struct sti_chain *chain_of(struct sti_cert *a, struct sti_cert *b,
                                  struct sti_cert *c, struct sti_cert *d)
{
    struct sti_cert *certs[] = {a, b, c, d};
    struct sti_chain *chain = sti_chain_new();

    assert_non_null(chain);
    for (size_t i = 0; i < 4 && certs[i] != NULL; i++)
        assert_int_equal(sti_chain_push(chain, certs[i]), STI_OK);
    return chain;
}

/* Fails, listing the findings, unless CHAIN has no error or warning. */
static void assert_lints_clean(const struct sti_chain *chain, const char *what)
{
    struct sti_lint_report *report = NULL;
    struct sti_error err;
    char *text = NULL;

    assert_int_equal(sti_lint_chain(chain, NULL, &report, &err), STI_OK);
    if (sti_lint_report_severity_count(report, STI_LINT_ERROR) +
            sti_lint_report_severity_count(report, STI_LINT_WARNING) !=
        0) {
        sti_lint_report_to_text(report, &text, NULL);
        fail_msg("%s is not clean:\n%s", what, text);
    }
    sti_lint_report_free(report);
}

static void issued_chains_lint_clean(void **state)
{
    struct pki p;
    struct sti_chain *chain;

    (void)state;
    pki_build(&p);
    chain = chain_of(p.sp, p.inter, p.root, NULL);
    assert_lints_clean(chain, "SP chain");
    sti_chain_free(chain);
    chain = chain_of(p.sca, p.inter, p.root, NULL);
    assert_lints_clean(chain, "SCA chain");
    sti_chain_free(chain);
    chain = chain_of(p.delegate, p.sca, p.inter, p.root);
    assert_lints_clean(chain, "delegate chain");
    sti_chain_free(chain);
    chain = chain_of(p.pa, NULL, NULL, NULL);
    assert_lints_clean(chain, "PA root");
    sti_chain_free(chain);
    pki_free(&p);
}

static void chain_without_root_gets_notice(void **state)
{
    struct pki p;
    struct sti_chain *chain;
    struct sti_lint_report *report = NULL;

    (void)state;
    pki_build(&p);
    chain = chain_of(p.sp, p.inter, NULL, NULL);
    assert_int_equal(sti_lint_chain(chain, NULL, &report, NULL), STI_OK);
    assert_true(sti_lint_report_has(report, "n_chain_no_root"));
    assert_int_equal(sti_lint_report_severity_count(report, STI_LINT_ERROR), 0);
    assert_int_equal(sti_lint_report_cert_count(report), 2);
    sti_lint_report_free(report);
    sti_chain_free(chain);
    pki_free(&p);
}

static void chain_out_of_order(void **state)
{
    struct pki p;
    struct sti_chain *chain;
    struct sti_lint_report *report = NULL;

    (void)state;
    pki_build(&p);
    chain = chain_of(p.sp, p.root, p.inter, NULL);
    assert_int_equal(sti_lint_chain(chain, NULL, &report, NULL), STI_OK);
    assert_true(sti_lint_report_has(report, "e_chain_order"));
    sti_lint_report_free(report);
    sti_chain_free(chain);
    pki_free(&p);
}

static void chain_wrong_signer(void **state)
{
    struct pki p, q;
    struct sti_chain *chain;
    struct sti_lint_report *report = NULL;

    (void)state;
    pki_build(&p);
    pki_build(&q);
    /* Same DNs, different keys: names link but signatures do not. */
    chain = chain_of(p.sp, q.inter, q.root, NULL);
    assert_int_equal(sti_lint_chain(chain, NULL, &report, NULL), STI_OK);
    assert_true(sti_lint_report_has(report, "e_chain_signature"));
    assert_true(sti_lint_report_has(report, "e_aki_mismatch"));
    assert_false(sti_lint_report_has(report, "e_chain_order"));
    sti_lint_report_free(report);
    sti_chain_free(chain);
    pki_free(&p);
    pki_free(&q);
}

static void delegate_outside_sca_scope(void **state)
{
    struct pki p;
    struct sti_tnauth *wide = spec("range:12025550100+1000");
    struct sti_tnauth *narrow = spec("range:12025550100+10");
    struct sti_tnauth *spc = spec("spc:1234");
    struct sti_cert *wide_sca, *spc_sca, *del;
    struct sti_chain *chain;
    struct sti_lint_report *report = NULL;

    (void)state;
    pki_build(&p);
    /* The delegate comes from an SCA holding its range but is chained to
     * an SCA of the same name and key that holds only an SPC. */
    wide_sca = issue(STI_CERT_SCA, p.sca_key, wide, p.pa, p.inter, p.inter_key,
                     "SHAKEN SCA 1234");
    del = issue(STI_CERT_DELEGATE, p.leaf_key, narrow, p.pa, wide_sca,
                p.sca_key, "SHAKEN 12025550100");
    spc_sca = issue(STI_CERT_SCA, p.sca_key, spc, p.pa, p.inter, p.inter_key,
                    "SHAKEN SCA 1234");
    chain = chain_of(del, spc_sca, p.inter, p.root);
    assert_int_equal(sti_lint_chain(chain, NULL, &report, NULL), STI_OK);
    assert_true(sti_lint_report_has(report, "e_tnauth_not_encompassed"));
    sti_lint_report_free(report);
    sti_chain_free(chain);
    chain = chain_of(del, wide_sca, p.inter, p.root);
    assert_lints_clean(chain, "delegate chain with its own SCA");
    sti_chain_free(chain);
    sti_cert_free(wide_sca);
    sti_cert_free(spc_sca);
    sti_cert_free(del);
    sti_tnauth_free(wide);
    sti_tnauth_free(narrow);
    sti_tnauth_free(spc);
    pki_free(&p);
}

/* Data-driven cases: tests/data/lint/NAME/{cert.pem,expected} */

static time_t case_time(void)
{
    char *path = test_data_path("lint/at");
    unsigned char *data;
    size_t len;
    time_t at;

    assert_int_equal(sti_file_read(path, &data, &len, NULL), STI_OK);
    at = (time_t)strtoll((const char *)data, NULL, 10) + 60;
    assert_true(at > 0);
    free(data);
    free(path);
    return at;
}

/* Returns the error and warning rules of REPORT, sorted, one per line. */
static char *rules_of(const struct sti_lint_report *report)
{
    char *lines[64], *out = calloc(1, 4096);
    size_t n = 0;

    for (size_t i = 0; i < sti_lint_report_count(report) && n < 64; i++) {
        const struct sti_lint_finding *f = sti_lint_report_get0(report, i);

        if (f->severity != STI_LINT_NOTICE)
            lines[n++] = (char *)f->rule;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    return out;
}

static void run_case(const char *dir, const char *name, time_t at)
{
    char path[4096];
    unsigned char *data, *expected;
    size_t len, elen;
    struct sti_lint_options options = {"us", at};
    struct sti_lint_report *report = NULL;
    struct sti_error err;
    char *got;

    snprintf(path, sizeof(path), "%s/%s/cert.pem", dir, name);
    assert_int_equal(sti_file_read(path, &data, &len, NULL), STI_OK);
    snprintf(path, sizeof(path), "%s/%s/expected", dir, name);
    assert_int_equal(sti_file_read(path, &expected, &elen, NULL), STI_OK);
    if (sti_lint_data(data, len, &options, &report, &err) != STI_OK)
        fail_msg("case %s: %s", name, err.message);
    got = rules_of(report);
    if (strcmp(got, (const char *)expected) != 0) {
        char *text = NULL;

        sti_lint_report_to_text(report, &text, NULL);
        fail_msg("case %s: expected rules:\n%sgot:\n%s", name, expected, text);
    }
    free(got);
    free(data);
    free(expected);
    sti_lint_report_free(report);
}

static void crafted_cases_give_expected_rules(void **state)
{
    char *dir = test_data_path("lint");
    DIR *d = opendir(dir);
    struct dirent *e;
    time_t at = case_time();
    int cases = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s/expected", dir, e->d_name);
        if (e->d_name[0] == '.' || (f = fopen(path, "r")) == NULL)
            continue;
        fclose(f);
        run_case(dir, e->d_name, at);
        cases++;
    }
    closedir(d);
    free(dir);
    /* The eleven required bad cases, the clean one and a few more. */
    assert_true(cases >= 12);
}

static void lint_data_rejects_bad_input(void **state)
{
    static const char *bad[] = {
        "garbage",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
        "-----END CERTIFICATE REQUEST-----\n"};
    struct sti_lint_report *report = NULL;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            sti_lint_data(bad[i], strlen(bad[i]), NULL, &report, &err),
            STI_ERR_INVALID);
        assert_null(report);
    }
    assert_int_equal(sti_lint_data("", 0, NULL, &report, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "empty"));
}

static void lint_rejects_overlong_chain(void **state)
{
    char *path = test_data_path("lint/clean/cert.pem");
    struct sti_lint_report *report = NULL;
    struct sti_error err;
    unsigned char *data;
    char *many;
    size_t len;

    (void)state;
    assert_int_equal(sti_file_read(path, &data, &len, NULL), STI_OK);
    /* Six copies of a three-certificate chain: 18 certificates. */
    many = malloc(len * 6 + 1);
    assert_non_null(many);
    for (int i = 0; i < 6; i++)
        memcpy(many + len * (size_t)i, data, len);
    assert_int_equal(sti_lint_data(many, len * 6, NULL, &report, &err),
                     STI_ERR_INVALID);
    assert_null(report);
    assert_non_null(strstr(err.message, "16"));
    free(many);
    free(data);
    free(path);
}

static void lint_rejects_unknown_profile(void **state)
{
    char *path = test_data_path("lint/clean/cert.pem");
    struct sti_lint_options options = {"xx", 0};
    struct sti_lint_report *report = NULL;
    struct sti_error err;
    unsigned char *data;
    size_t len;

    (void)state;
    assert_int_equal(sti_file_read(path, &data, &len, NULL), STI_OK);
    assert_int_equal(sti_lint_data(data, len, &options, &report, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'xx'"));
    assert_int_equal(sti_lint_chain(NULL, NULL, &report, &err),
                     STI_ERR_INVALID);
    free(data);
    free(path);
}

static struct sti_lint_report *lint_file(const char *name, time_t at)
{
    char *path = test_data_path(name);
    struct sti_lint_options options = {NULL, at};
    struct sti_lint_report *report = NULL;
    unsigned char *data;
    size_t len;

    assert_int_equal(sti_file_read(path, &data, &len, NULL), STI_OK);
    assert_int_equal(sti_lint_data(data, len, &options, &report, NULL), STI_OK);
    free(data);
    free(path);
    return report;
}

static void expired_case_warns(void **state)
{
    struct sti_lint_report *report =
        lint_file("lint/clean/cert.pem", case_time() + 400 * 86400);

    (void)state;
    assert_true(sti_lint_report_has(report, "w_expired"));
    assert_false(sti_lint_report_has(report, "w_not_yet_valid"));
    sti_lint_report_free(report);
    report = lint_file("lint/clean/cert.pem", 1000000000);
    assert_true(sti_lint_report_has(report, "w_not_yet_valid"));
    sti_lint_report_free(report);
}

static void report_text_and_json(void **state)
{
    struct sti_lint_report *report =
        lint_file("lint/tnauth_critical/cert.pem", case_time());
    const struct sti_lint_finding *f;
    char *text = NULL, *json = NULL;
    json_t *root;

    (void)state;
    assert_int_equal(sti_lint_report_count(report), 1);
    f = sti_lint_report_get0(report, 0);
    assert_string_equal(f->rule, "e_tnauth_critical");
    assert_int_equal(f->severity, STI_LINT_ERROR);
    assert_int_equal(f->cert_index, 0);
    assert_null(sti_lint_report_get0(report, 1));
    assert_int_equal(sti_lint_report_to_text(report, &text, NULL), STI_OK);
    assert_non_null(strstr(text, "cert 0: error e_tnauth_critical: "));
    assert_int_equal(sti_lint_report_to_json(report, &json, NULL), STI_OK);
    root = json_loads(json, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "certificates")),
                     3);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(root, "findings"), 0), "rule")),
        "e_tnauth_critical");
    json_decref(root);
    free(text);
    free(json);
    sti_lint_report_free(report);
}

static void clean_report_text(void **state)
{
    struct sti_lint_report *report =
        lint_file("lint/clean/cert.pem", case_time());
    char *text = NULL;

    (void)state;
    assert_int_equal(sti_lint_report_count(report), 0);
    assert_int_equal(sti_lint_report_to_text(report, &text, NULL), STI_OK);
    assert_string_equal(text, "clean: 3 certificates, no findings\n");
    free(text);
    sti_lint_report_free(report);
}

/* Every truncation and every single-bit flip of a leaf's DER lints or is
 * rejected without a crash; the sanitizer build checks the memory use. */
static void damaged_der_never_crashes(void **state)
{
    char *path = test_data_path("lint/tn_in_end_entity/cert.pem");
    struct sti_cert *cert = NULL;
    struct sti_lint_report *report;
    unsigned char *pem, *der;
    size_t len, dlen;
    int parsed = 0;

    (void)state;
    assert_int_equal(sti_file_read(path, &pem, &len, NULL), STI_OK);
    assert_int_equal(sti_cert_parse(pem, len, &cert, NULL), STI_OK);
    assert_int_equal(sti_cert_to_der(cert, &der, &dlen, NULL), STI_OK);
    for (size_t n = 1; n < dlen; n++) {
        report = NULL;
        assert_int_equal(sti_lint_data(der, n, NULL, &report, NULL),
                         STI_ERR_INVALID);
    }
    for (size_t i = 0; i < dlen; i++) {
        der[i] ^= 0x04;
        report = NULL;
        if (sti_lint_data(der, dlen, NULL, &report, NULL) == STI_OK) {
            parsed++;
            sti_lint_report_free(report);
        }
        der[i] ^= 0x04;
    }
    /* Flips inside values (key, signature, names) still parse. */
    assert_true(parsed > 0);
    free(der);
    free(pem);
    free(path);
    sti_cert_free(cert);
}

static void severity_names(void **state)
{
    (void)state;
    assert_string_equal(sti_lint_severity_name(STI_LINT_ERROR), "error");
    assert_string_equal(sti_lint_severity_name(STI_LINT_WARNING), "warning");
    assert_string_equal(sti_lint_severity_name(STI_LINT_NOTICE), "notice");
    assert_string_equal(sti_lint_severity_name(42), "unknown");
    assert_int_equal(sti_lint_report_count(NULL), 0);
    sti_lint_report_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(issued_chains_lint_clean),
        cmocka_unit_test(chain_without_root_gets_notice),
        cmocka_unit_test(chain_out_of_order),
        cmocka_unit_test(chain_wrong_signer),
        cmocka_unit_test(delegate_outside_sca_scope),
        cmocka_unit_test(crafted_cases_give_expected_rules),
        cmocka_unit_test(lint_data_rejects_bad_input),
        cmocka_unit_test(lint_rejects_overlong_chain),
        cmocka_unit_test(lint_rejects_unknown_profile),
        cmocka_unit_test(expired_case_warns),
        cmocka_unit_test(report_text_and_json),
        cmocka_unit_test(clean_report_text),
        cmocka_unit_test(damaged_der_never_crashes),
        cmocka_unit_test(severity_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
