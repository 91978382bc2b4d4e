/* Unit tests for the PA store: lib/pa.c, pa_store.c, pa_users.c,
 * pa_calist.c, pa_crl.c and pa_tls.c. */
#include "support.h"

#include "pa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#define BASE "https://127.0.0.1:8443"
#define FP                                                                     \
    "SHA256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:"   \
    "55:66:77:88:99:AA:BB:CC:DD:EE:FF"

struct fixture {
    char *dir;
    struct sti_pa *pa;
};

static struct sti_pa *open_pa(const char *dir, const char *base)
{
    struct sti_pa_config c;
    struct sti_pa *pa = NULL;
    struct sti_error err;

    memset(&c, 0, sizeof(c));
    c.dir = dir;
    c.base_url = base;
    if (sti_pa_open(&c, &pa, &err) != STI_OK)
        fail_msg("sti_pa_open: %s", err.message);
    return pa;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sti_pa_init_options o;
    struct sti_error err;

    f->dir = test_tmpdir();
    memset(&o, 0, sizeof(o));
    o.dir = f->dir;
    if (sti_pa_init(&o, &err) != STI_OK)
        fail_msg("sti_pa_init: %s", err.message);
    f->pa = open_pa(f->dir, BASE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sti_pa_close(f->pa);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static struct sti_cert *make_root(struct sti_key **key_out, const char *cn)
{
    struct sti_cert_request req;
    struct sti_cert *cert = NULL;
    struct sti_key *key = NULL;
    struct sti_error err;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    memset(&req, 0, sizeof(req));
    req.kind = STI_CERT_CA_ROOT;
    req.common_name = cn;
    req.organization = "Test CA";
    req.subject_key = key;
    assert_int_equal(sti_cert_issue(&req, NULL, NULL, &cert, &err), STI_OK);
    if (key_out != NULL)
        *key_out = key;
    else
        sti_key_free(key);
    return cert;
}

/* Directory */

static void init_creates_files(void **state)
{
    struct fixture *f = *state;
    char *key = test_path(f->dir, STI_PA_KEY_FILE);
    char *tls_key = test_path(f->dir, STI_PA_TLS_KEY_FILE);
    char *tls_cert = test_path(f->dir, STI_PA_TLS_CERT_FILE);
    const struct sti_cert *cert = sti_pa_get0_cert(f->pa);
    struct stat st;

    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(tls_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(tls_cert, &st), 0);
    assert_true(sti_cert_is_self_signed(cert));
    assert_string_equal(sti_pa_cert_url(f->pa), BASE "/pa.crt");
    assert_string_equal(sti_pa_crl_url(f->pa), BASE "/api/v1/crl");
    free(key);
    free(tls_key);
    free(tls_cert);
}

static void init_rejects_existing(void **state)
{
    struct fixture *f = *state;
    struct sti_pa_init_options o;
    struct sti_error err;

    memset(&o, 0, sizeof(o));
    o.dir = f->dir;
    assert_int_equal(sti_pa_init(&o, &err), STI_ERR_EXISTS);
    o.dir = NULL;
    assert_int_equal(sti_pa_init(&o, &err), STI_ERR_INVALID);
}

static void init_under_root(void **state)
{
    char *dir = test_tmpdir(), *sub = test_path(dir, "pa");
    char *cert_path = test_path(dir, "root.crt");
    char *key_path = test_path(dir, "root.key");
    struct sti_key *root_key = NULL;
    struct sti_cert *root = make_root(&root_key, "SHAKEN ROOT");
    struct sti_pa_init_options o;
    struct sti_error err;
    struct sti_pa *pa;
    char *pem = NULL;

    (void)state;
    assert_int_equal(sti_cert_to_pem(root, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(cert_path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_key_save(root_key, key_path, NULL, &err), STI_OK);
    memset(&o, 0, sizeof(o));
    o.dir = sub;
    o.root_cert_file = cert_path;
    assert_int_equal(sti_pa_init(&o, &err), STI_ERR_INVALID);
    o.root_key_file = key_path;
    if (sti_pa_init(&o, &err) != STI_OK)
        fail_msg("sti_pa_init: %s", err.message);
    pa = open_pa(sub, NULL);
    assert_false(sti_cert_is_self_signed(sti_pa_get0_cert(pa)));
    assert_true(sti_cert_signed_by(sti_pa_get0_cert(pa), root));
    assert_null(sti_pa_cert_url(pa));
    sti_pa_close(pa);
    free(pem);
    sti_cert_free(root);
    sti_key_free(root_key);
    free(sub);
    free(cert_path);
    free(key_path);
    test_rmtree(dir);
}

static void open_rejects_missing_dir(void **state)
{
    struct sti_pa_config c;
    struct sti_pa *pa = (void *)1;
    struct sti_error err;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.dir = "/nonexistent/pa";
    assert_int_equal(sti_pa_open(&c, &pa, &err), STI_ERR_NOTFOUND);
    assert_null(pa);
    assert_non_null(strstr(err.message, "sti-pa init"));
}

static void base_url_rules(void **state)
{
    struct fixture *f = *state;
    struct sti_pa *pa = open_pa(f->dir, NULL);
    struct sti_error err;

    (void)state;
    assert_null(sti_pa_crl_url(pa));
    assert_int_equal(sti_pa_set_default_base_url(pa, "ftp://x", &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_set_default_base_url(pa, "http://h:1/", &err),
                     STI_OK);
    assert_string_equal(sti_pa_cert_url(pa), "http://h:1/pa.crt");
    /* A configured URL stays. */
    assert_int_equal(sti_pa_set_default_base_url(pa, "http://other", &err),
                     STI_OK);
    assert_string_equal(sti_pa_cert_url(pa), "http://h:1/pa.crt");
    sti_pa_close(pa);
}

static void base_url_check_cases(void **state)
{
    static const char *const good[] = {
        "http://h", "https://127.0.0.1:8443", "https://pa.example/sub/",
        "http://[::1]:80", "https://a-b.example:65535/x"};
    static const char *const bad[] = {"ftp://x",
                                      "https://u:p@x/",
                                      "https://x/?q",
                                      "https://x/#f",
                                      "https://",
                                      "https://:80",
                                      "https://x:0",
                                      "https://x:65536",
                                      "https://x:8a",
                                      "https://x y/",
                                      "https://x/a\tb",
                                      "https://x_y",
                                      "http://[::1",
                                      "//x",
                                      "",
                                      NULL};
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (sti_pa_base_url_check(good[i], &err) != STI_OK)
            fail_msg("%s rejected: %s", good[i], err.message);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sti_pa_base_url_check(bad[i], &err) != STI_ERR_INVALID)
            fail_msg("%s accepted", bad[i] ? bad[i] : "NULL");
    assert_non_null(strstr(err.message, "(none)"));
}

static void base_url_no_userinfo(void **state)
{
    struct fixture *f = *state;
    struct sti_pa *pa = open_pa(f->dir, NULL);
    struct sti_pa_config c;
    struct sti_pa *other = NULL;
    struct sti_error err;

    assert_int_equal(
        sti_pa_set_default_base_url(pa, "https://u:p@x/?q#f", &err),
        STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "https://u:p@x/?q#f"));
    assert_null(sti_pa_cert_url(pa));
    sti_pa_close(pa);
    memset(&c, 0, sizeof(c));
    c.dir = f->dir;
    c.base_url = "https://x/?q";
    assert_int_equal(sti_pa_open(&c, &other, &err), STI_ERR_INVALID);
    assert_null(other);
}

/* Providers and users */

static void providers_add_list_disable(void **state)
{
    struct fixture *f = *state;
    struct sti_pa_provider *list;
    struct sti_error err;
    size_t n;
    char *json;

    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "Carrier A", 0, &err),
                     STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "818H", "Carrier B", 1, &err),
                     STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "Again", 0, &err),
                     STI_ERR_EXISTS);
    assert_int_equal(sti_pa_sp_add(f->pa, "12-4", "Bad", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_sp_add(f->pa, "5678", "", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_sp_set_enabled(f->pa, "1234", 0, &err), STI_OK);
    assert_int_equal(sti_pa_sp_set_enabled(f->pa, "9999", 0, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_pa_sp_list(f->pa, &list, &n, &err), STI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].spc, "1234");
    assert_string_equal(list[0].name, "Carrier A");
    assert_false(list[0].enabled);
    assert_true(list[1].delegation);
    assert_true(list[1].enabled);
    sti_pa_sp_list_free(list, n);
    assert_int_equal(sti_pa_sp_list_json(f->pa, &json, &err), STI_OK);
    assert_non_null(strstr(json, "\"spc\": \"818H\""));
    assert_non_null(strstr(json, "\"delegation\": true"));
    free(json);
}

static const char *const bad_names[] = {
    "\xff\xfe",     /* not UTF-8 */
    "a\x1b[31mb",   /* ESC */
    "line\nbreak",  /* newline */
    "del\x7f",      /* DEL */
    "\xc0\xae",     /* overlong '.' */
    "\xc2\x85",     /* U+0085, a C1 control */
    "\xed\xa0\x80", /* a UTF-16 surrogate */
    "\xe2\x82",     /* truncated */
    "",
};

static void provider_name_rules(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;
    char longest[PA_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        if (sti_pa_sp_add(f->pa, "1234", bad_names[i], 0, &err) !=
            STI_ERR_INVALID)
            fail_msg("provider name %zu accepted", i);
        assert_non_null(strstr(err.message, "provider name"));
    }
    assert_int_equal(sti_pa_sp_add(f->pa, "1234", NULL, 0, &err),
                     STI_ERR_INVALID);
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    assert_int_equal(sti_pa_sp_add(f->pa, "1234", longest, 0, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "128 bytes"));
    longest[PA_NAME_MAX] = '\0';
    assert_int_equal(sti_pa_sp_add(f->pa, "1234", longest, 0, &err), STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "5678",
                                   "T\xc3\xa9l\xc3\xa9"
                                   "com \xe2\x82\xac",
                                   0, &err),
                     STI_OK);
}

static void user_name_rules(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;

    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "A", 0, &err), STI_OK);
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        if (sti_pa_user_add(f->pa, bad_names[i], "1234", 0, "password1",
                            &err) != STI_ERR_INVALID)
            fail_msg("user name %zu accepted", i);
        assert_non_null(strstr(err.message, "user name"));
    }
    assert_int_equal(
        sti_pa_user_add(f->pa, "\xc3\xa9milie", "1234", 0, "password1", &err),
        STI_OK);
}

/* Rows stored before names were checked must still list. */
static void stored_bad_name_lists(void **state)
{
    struct fixture *f = *state;
    struct sti_pa_provider *list = NULL;
    struct sti_error err;
    char *json = NULL;
    size_t n = 0;

    assert_int_equal(
        sqlite3_exec(f->pa->db,
                     "INSERT INTO providers(spc, name, delegation, created)"
                     " VALUES('778', X'FFFE1B41', 0, 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(sti_pa_sp_list_json(f->pa, &json, &err), STI_OK);
    assert_non_null(strstr(json, "\"???A\""));
    sti_free(json);
    assert_int_equal(sti_pa_sp_list(f->pa, &list, &n, &err), STI_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "???A");
    sti_pa_sp_list_free(list, n);
}

static void users_and_passwords(void **state)
{
    struct fixture *f = *state;
    struct pa_user user;
    struct sti_error err, err2;

    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "Carrier A", 0, &err),
                     STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "alice", "1234", 0, "correct horse", &err),
        STI_OK);
    assert_int_equal(
        sti_pa_user_add(f->pa, "alice", "1234", 0, "correct horse", &err),
        STI_ERR_EXISTS);
    assert_int_equal(sti_pa_user_add(f->pa, "bob", "1234", 0, "short", &err),
                     STI_ERR_INVALID);
    assert_int_equal(
        sti_pa_user_add(f->pa, "bob", "9999", 0, "long enough", &err),
        STI_ERR_NOTFOUND);
    assert_int_equal(
        sti_pa_user_add(f->pa, "bob", NULL, 0, "long enough", &err),
        STI_ERR_INVALID);
    assert_int_equal(
        sti_pa_user_add(f->pa, "root", NULL, 1, "admin pass", &err), STI_OK);
    assert_int_equal(
        pa_user_login(f->pa, "alice", "correct horse", &user, &err), STI_OK);
    assert_string_equal(user.spc, "1234");
    assert_false(user.admin);
    assert_int_equal(pa_user_login(f->pa, "root", "admin pass", &user, &err),
                     STI_OK);
    assert_true(user.admin);
    /* Wrong passwords and unknown users get the same answer. */
    assert_int_equal(pa_user_login(f->pa, "alice", "wrong", &user, &err),
                     STI_ERR_AUTH);
    assert_int_equal(pa_user_login(f->pa, "nobody", "wrong", &user, &err2),
                     STI_ERR_AUTH);
    assert_string_equal(err.message, err2.message);
}

static void password_hash_format(void **state)
{
    struct sti_error err;
    char *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(pa_password_hash("secret password", &a, &err), STI_OK);
    assert_int_equal(pa_password_hash("secret password", &b, &err), STI_OK);
    assert_memory_equal(a, "$scrypt$ln=14,r=8,p=1$", 22);
    assert_string_not_equal(a, b); /* salted */
    assert_true(pa_password_verify("secret password", a));
    assert_false(pa_password_verify("secret passworD", a));
    assert_false(pa_password_verify("secret password", "$scrypt$garbage"));
    assert_false(pa_password_verify("secret password", NULL));
    assert_null(strstr(a, "secret"));
    free(a);
    free(b);
}

static void access_tokens(void **state)
{
    struct fixture *f = *state;
    struct pa_user user, back;
    struct sti_error err;
    char *token = NULL;
    time_t expires = 0;

    assert_int_equal(
        sti_pa_user_add(f->pa, "root", NULL, 1, "admin pass", &err), STI_OK);
    assert_int_equal(pa_user_login(f->pa, "root", "admin pass", &user, &err),
                     STI_OK);
    assert_int_equal(
        pa_access_token_create(f->pa, &user, &token, &expires, &err), STI_OK);
    assert_true(expires > time(NULL));
    assert_int_equal(pa_access_token_check(f->pa, token, &back, &err), STI_OK);
    assert_string_equal(back.name, "root");
    assert_int_equal(pa_access_token_check(f->pa, "bogus", &back, &err),
                     STI_ERR_AUTH);
    free(token);
    /* A lifetime of zero makes a token that is already expired. */
    f->pa->access_lifetime = 0;
    assert_int_equal(
        pa_access_token_create(f->pa, &user, &token, &expires, &err), STI_OK);
    assert_int_equal(pa_access_token_check(f->pa, token, &back, &err),
                     STI_ERR_AUTH);
    assert_non_null(strstr(err.message, "expired"));
    free(token);
}

static void throttle_locks_and_resets(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 4; i++)
        pa_throttle_fail(f->pa, "u:alice");
    assert_int_equal(pa_throttle_check(f->pa, "u:alice", 5), 0);
    pa_throttle_fail(f->pa, "u:alice");
    assert_true(pa_throttle_check(f->pa, "u:alice", 5) > 0);
    assert_int_equal(pa_throttle_check(f->pa, "u:bob", 5), 0);
    pa_throttle_reset(f->pa, "u:alice");
    assert_int_equal(pa_throttle_check(f->pa, "u:alice", 5), 0);
    /* The table stays bounded under many keys. */
    for (int i = 0; i < 3 * PA_THROTTLE_SLOTS; i++) {
        char key[32];

        snprintf(key, sizeof(key), "ip:10.0.0.%d", i);
        pa_throttle_fail(f->pa, key);
    }
}

/* SPC tokens */

static void token_issue_rules(void **state)
{
    struct fixture *f = *state;
    struct sti_spc_verify_options o;
    const struct sti_cert *certs[1];
    struct sti_spc_token *t = NULL;
    struct sti_error err;
    char *token = NULL;
    long count = -1;

    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "A", 0, &err), STI_OK);
    assert_int_equal(sti_pa_sp_add(f->pa, "818H", "B", 1, &err), STI_OK);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "1234", FP, 0, "cli", &token, &err), STI_OK);
    memset(&o, 0, sizeof(o));
    certs[0] = sti_pa_get0_cert(f->pa);
    o.pa_certs = certs;
    o.pa_cert_count = 1;
    o.x5u = BASE "/pa.crt";
    o.ca = 0;
    o.tkvalue = "MAigBhYEMTIzNA==";
    assert_int_equal(sti_spc_token_verify(token, &o, &t, &err), STI_OK);
    assert_true(t->exp > time(NULL) + 86000);
    sti_spc_token_free(t);
    free(token);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "1234", FP, 1, "cli", &token, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "delegate"));
    assert_int_equal(
        sti_pa_token_issue(f->pa, "818H", FP, 1, "cli", &token, &err), STI_OK);
    free(token);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "9999", FP, 0, "cli", &token, &err),
        STI_ERR_NOTFOUND);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "1234", "SHA256 1", 0, "cli", &token, &err),
        STI_ERR_INVALID);
    assert_int_equal(sti_pa_sp_set_enabled(f->pa, "1234", 0, &err), STI_OK);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "1234", FP, 0, "cli", &token, &err),
        STI_ERR_POLICY);
    assert_null(token);
    assert_int_equal(sti_pa_token_count(f->pa, &count, &err), STI_OK);
    assert_int_equal(count, 2);
}

static void token_fingerprint_normalized(void **state)
{
    struct fixture *f = *state;
    struct sti_spc_token *t = NULL;
    struct sti_error err;
    char *token = NULL;

    assert_int_equal(sti_pa_sp_add(f->pa, "1234", "A", 0, &err), STI_OK);
    assert_int_equal(
        sti_pa_token_issue(f->pa, "1234",
                           "SHa256 00:11:22:33:44:55:66:77:88:99:aa:bB:cc:dd:"
                           "ee:ff:00112233445566778899aabbccddeeff",
                           0, "cli", &token, &err),
        STI_OK);
    assert_int_equal(sti_spc_token_parse(token, &t, &err), STI_OK);
    assert_string_equal(t->fingerprint, FP);
    /* The default lifetime is 30 days, which bounds ACME certificates. */
    assert_true(t->exp >= time(NULL) + STI_PA_TOKEN_LIFETIME - 60);
    assert_true(t->exp <= time(NULL) + STI_PA_TOKEN_LIFETIME);
    sti_spc_token_free(t);
    free(token);
}

static void token_needs_base_url(void **state)
{
    struct fixture *f = *state;
    struct sti_pa *pa = open_pa(f->dir, NULL);
    struct sti_error err;
    char *token = NULL;

    assert_int_equal(sti_pa_sp_add(pa, "1234", "A", 0, &err), STI_OK);
    assert_int_equal(sti_pa_token_issue(pa, "1234", FP, 0, "cli", &token, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "base_url"));
    assert_non_null(strstr(err.message, "--base-url"));
    sti_pa_close(pa);
}

/* CA list */

static void calist_add_remove_verify(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *root = make_root(NULL, "SHAKEN ROOT A");
    struct sti_pa_calist *list = NULL;
    struct sti_pa_ca *cas;
    struct sti_error err;
    char *doc = NULL, *doc2 = NULL, prefix[9], other[9];
    size_t n;

    assert_int_equal(sti_pa_ca_add(f->pa, root, &err), STI_OK);
    assert_int_equal(sti_pa_ca_add(f->pa, root, &err), STI_ERR_EXISTS);
    assert_int_equal(sti_pa_ca_list(f->pa, &cas, &n, &err), STI_OK);
    assert_int_equal(n, 1);
    memcpy(prefix, cas[0].fingerprint, 8);
    prefix[8] = '\0';
    sti_pa_ca_list_free(cas, n);
    assert_int_equal(sti_pa_calist_document(f->pa, &doc, &err), STI_OK);
    assert_int_equal(sti_pa_calist_verify(doc, strlen(doc),
                                          sti_pa_get0_cert(f->pa), 0, &list,
                                          &err),
                     STI_OK);
    assert_int_equal(list->version, 1);
    assert_int_equal(sti_chain_count(list->roots), 1);
    assert_true(sti_cert_signed_by(sti_chain_get0(list->roots, 0), root));
    assert_true(list->expires > time(NULL));
    sti_pa_calist_free(list);
    /* Expired when checked a year later. */
    assert_int_equal(
        sti_pa_calist_verify(doc, strlen(doc), sti_pa_get0_cert(f->pa),
                             time(NULL) + 365 * 86400, &list, &err),
        STI_ERR_POLICY);
    assert_int_equal(sti_pa_ca_remove(f->pa, "0000", &err), STI_ERR_INVALID);
    memcpy(other, prefix, sizeof(other));
    other[0] = other[0] == '0' ? '1' : '0';
    assert_int_equal(sti_pa_ca_remove(f->pa, other, &err), STI_ERR_NOTFOUND);
    assert_int_equal(sti_pa_ca_remove(f->pa, prefix, &err), STI_OK);
    assert_int_equal(sti_pa_calist_document(f->pa, &doc2, &err), STI_OK);
    assert_int_equal(sti_pa_calist_verify(doc2, strlen(doc2),
                                          sti_pa_get0_cert(f->pa), 0, &list,
                                          &err),
                     STI_OK);
    assert_int_equal(list->version, 2);
    assert_int_equal(sti_chain_count(list->roots), 0);
    sti_pa_calist_free(list);
    free(doc);
    free(doc2);
    sti_cert_free(root);
}

static void calist_rejects_bad_documents(void **state)
{
    struct fixture *f = *state;
    struct sti_key *key = NULL;
    struct sti_cert *other = make_root(&key, "SHAKEN ROOT B");
    struct sti_pa_calist *list = NULL;
    struct sti_error err;
    char *doc = NULL, wrapped[4096];

    assert_int_equal(sti_pa_calist_document(f->pa, &doc, &err), STI_OK);
    assert_int_equal(
        sti_pa_calist_verify(doc, strlen(doc), other, 0, &list, &err),
        STI_ERR_CRYPTO);
    snprintf(wrapped, sizeof(wrapped),
             "{\"status\":\"success\",\"caList\":\"%s\"}", doc);
    assert_int_equal(sti_pa_calist_verify(wrapped, strlen(wrapped),
                                          sti_pa_get0_cert(f->pa), 0, &list,
                                          &err),
                     STI_OK);
    sti_pa_calist_free(list);
    assert_int_equal(sti_pa_calist_verify("{\"x\":1}", 7,
                                          sti_pa_get0_cert(f->pa), 0, &list,
                                          &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_calist_verify("a.b.c", 5, sti_pa_get0_cert(f->pa),
                                          0, &list, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_ca_add(f->pa, NULL, &err), STI_ERR_INVALID);
    assert_null(list);
    free(doc);
    sti_cert_free(other);
    sti_key_free(key);
}

/* Writes TEXT to DIR/NAME and returns the path, which the caller frees. */
static char *write_in(const char *dir, const char *name, const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    struct sti_error err;

    sprintf(path, "%s/%s", dir, name);
    if (sti_file_write(path, text, strlen(text), 0644, 0, &err) != STI_OK)
        fail_msg("sti_file_write: %s", err.message);
    return path;
}

/* Writes the PA's current CA list document to DIR/NAME; returns the path. */
static char *write_calist(struct fixture *f, const char *name)
{
    struct sti_error err;
    char *doc = NULL, *path;

    assert_int_equal(sti_pa_calist_document(f->pa, &doc, &err), STI_OK);
    path = write_in(f->dir, name, doc);
    free(doc);
    return path;
}

/* Writes the PA certificate to DIR/pa-cert.pem; returns the path. */
static char *write_pa_cert(struct fixture *f)
{
    struct sti_error err;
    char *pem = NULL, *path;

    assert_int_equal(sti_cert_to_pem(sti_pa_get0_cert(f->pa), &pem, &err),
                     STI_OK);
    path = write_in(f->dir, "pa-cert.pem", pem);
    free(pem);
    return path;
}

/* sti_trust_load_ca_list() adds the roots of a signed CA list as anchors. */
static void trust_from_calist(void **state)
{
    struct fixture *f = *state;
    struct sti_key *key = NULL;
    struct sti_cert *root = make_root(NULL, "SHAKEN ROOT A");
    struct sti_cert *other = make_root(&key, "SHAKEN ROOT B");
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;
    char *other_pem = NULL;
    char *list_path, *empty_path, *pa_path, *other_path, missing[512];

    empty_path = write_calist(f, "empty-list.jws");
    assert_int_equal(sti_pa_ca_add(f->pa, root, &err), STI_OK);
    list_path = write_calist(f, "list.jws");
    pa_path = write_pa_cert(f);
    assert_int_equal(sti_cert_to_pem(other, &other_pem, &err), STI_OK);
    other_path = write_in(f->dir, "other.pem", other_pem);
    snprintf(missing, sizeof(missing), "%s/missing.jws", f->dir);

    assert_int_equal(
        sti_trust_load_ca_list(trust, list_path, pa_path, NULL, &err), STI_OK);
    assert_int_equal(sti_trust_anchor_count(trust), 1);
    /* Each failure names the list and adds no anchor. */
    assert_int_equal(
        sti_trust_load_ca_list(trust, list_path, other_path, NULL, &err),
        STI_ERR_CRYPTO);
    assert_non_null(strstr(err.message, list_path));
    /* A list without roots loads and adds nothing. */
    assert_int_equal(
        sti_trust_load_ca_list(trust, empty_path, pa_path, NULL, &err), STI_OK);
    assert_int_not_equal(
        sti_trust_load_ca_list(trust, missing, pa_path, NULL, &err), STI_OK);
    assert_non_null(strstr(err.message, missing));
    assert_int_equal(sti_trust_load_ca_list(trust, list_path, NULL, NULL, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "PA certificate"));
    assert_int_equal(
        sti_trust_load_ca_list(NULL, list_path, pa_path, NULL, &err),
        STI_ERR_INVALID);
    assert_int_equal(sti_trust_anchor_count(trust), 1);

    sti_trust_free(trust);
    free(other_pem);
    free(list_path);
    free(empty_path);
    free(pa_path);
    free(other_path);
    sti_cert_free(root);
    sti_cert_free(other);
    sti_key_free(key);
}

/* Loads the CA list in PATH, signed by the PA certificate in PA_PATH. */
static struct sti_trust *list_trust(const char *path, const char *pa_path)
{
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    if (sti_trust_load_ca_list(trust, path, pa_path, NULL, &err) != STI_OK)
        fail_msg("sti_trust_load_ca_list: %s", err.message);
    return trust;
}

/* A verifier takes no anchors from a CA list older than the one in use. */
static void verifier_rejects_older_list(void **state)
{
    struct fixture *f = *state;
    struct sti_cert *a = make_root(NULL, "SHAKEN ROOT A");
    struct sti_cert *b = make_root(NULL, "SHAKEN ROOT B");
    struct sti_verifier_config cfg = {0};
    struct sti_verifier *v = NULL;
    struct sti_error err;
    char *v1, *v2, *pa_path;

    assert_int_equal(sti_pa_ca_add(f->pa, a, &err), STI_OK);
    v1 = write_calist(f, "v1.jws");
    assert_int_equal(sti_pa_ca_add(f->pa, b, &err), STI_OK);
    v2 = write_calist(f, "v2.jws");
    pa_path = write_pa_cert(f);

    cfg.ca_list = v2;
    cfg.ca_list_signer_file = pa_path;
    assert_int_equal(sti_verifier_new(&cfg, &v, &err), STI_OK);
    assert_int_equal(sti_verifier_set_trust(v, list_trust(v1, pa_path), &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "older than version 2 in use"));
    /* The same version, and anchors from no list, are taken. */
    assert_int_equal(sti_verifier_set_trust(v, list_trust(v2, pa_path), &err),
                     STI_OK);
    assert_int_equal(sti_verifier_set_trust(v, sti_trust_new(), &err), STI_OK);

    sti_verifier_free(v);
    free(v1);
    free(v2);
    free(pa_path);
    sti_cert_free(a);
    sti_cert_free(b);
}

/* Revocation */

static void revoke_regenerates_crl(void **state)
{
    struct fixture *f = *state;
    struct sti_crl *crl = NULL;
    struct sti_crl_entry e;
    struct sti_error err;
    uint64_t first;

    assert_int_equal(sti_pa_crl_get(f->pa, &crl, &err), STI_OK);
    first = sti_crl_number(crl);
    assert_true(sti_crl_is_indirect(crl));
    assert_int_equal(sti_crl_entry_count(crl), 0);
    assert_true(sti_crl_signed_by(crl, sti_pa_get0_cert(f->pa)));
    sti_crl_free(crl);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=SHAKEN CA,O=Test,C=US",
                                   "00:0A:1b", STI_REASON_KEY_COMPROMISE, &err),
                     STI_OK);
    assert_int_equal(
        sti_pa_revoke(f->pa, "CN=SHAKEN CA,O=Test,C=US", "A1B", 0, &err),
        STI_ERR_EXISTS);
    assert_int_equal(sti_pa_revoke(f->pa, "no dn", "01", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=X", "xyz", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=X", "01", 7, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_crl_get(f->pa, &crl, &err), STI_OK);
    assert_int_equal(sti_crl_number(crl), first + 1);
    assert_int_equal(sti_crl_entry_count(crl), 1);
    assert_int_equal(sti_crl_get_entry(crl, 0, &e), STI_OK);
    assert_int_equal(e.reason, STI_REASON_KEY_COMPROMISE);
    assert_true(sti_crl_next_update(crl) > time(NULL) + 6 * 86400);
    sti_crl_free(crl);
}

static void revoke_names_bad_values(void **state)
{
    struct fixture *f = *state;
    struct sti_error err;

    assert_int_equal(sti_pa_revoke(f->pa, "CN=x", "00", 0, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "'00'"));
    assert_null(strstr(err.message, "CRL entry"));
    assert_int_equal(sti_pa_revoke(f->pa, "CN=x", "0:0", 0, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=x", "01", 8, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "removeFromCRL"));
    assert_non_null(strstr(err.message, "keyCompromise"));
    assert_int_equal(sti_pa_revoke(f->pa, "CN=x", "01", 7, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=x", "01", 1, &err), STI_OK);
}

static void init_bad_subject_creates_nothing(void **state)
{
    char *parent = test_tmpdir(), *dir = test_path(parent, "pa");
    struct sti_pa_init_options o;
    struct sti_error err;
    struct stat sb;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.country = "usa";
    assert_int_not_equal(sti_pa_init(&o, &err), STI_OK);
    assert_non_null(strstr(err.message, "usa"));
    assert_int_not_equal(stat(dir, &sb), 0);
    free(dir);
    test_rmtree(parent);
}

static void revocations_persist(void **state)
{
    struct fixture *f = *state;
    struct sti_crl *crl = NULL;
    struct sti_error err;
    uint64_t number;

    assert_int_equal(sti_pa_revoke(f->pa, "CN=A", "01", 0, &err), STI_OK);
    assert_int_equal(sti_pa_revoke(f->pa, "CN=B", "02", 0, &err), STI_OK);
    assert_int_equal(sti_pa_crl_get(f->pa, &crl, &err), STI_OK);
    number = sti_crl_number(crl);
    sti_crl_free(crl);
    sti_pa_close(f->pa);
    f->pa = open_pa(f->dir, BASE);
    assert_int_equal(sti_pa_crl_get(f->pa, &crl, &err), STI_OK);
    assert_int_equal(sti_crl_number(crl), number);
    assert_int_equal(sti_crl_entry_count(crl), 2);
    sti_crl_free(crl);
    assert_int_equal(sti_pa_crl_regenerate(f->pa, &err), STI_OK);
    assert_int_equal(sti_pa_crl_get(f->pa, &crl, &err), STI_OK);
    assert_int_equal(sti_crl_number(crl), number + 1);
    sti_crl_free(crl);
}

static void serial_normalize(void **state)
{
    static const char *cases[][2] = {
        {"00:0a:1B", "A1B"}, {"0", "0"},  {"00", "0"},    {"FF", "FF"},
        {"", NULL},          {":", NULL}, {"0x12", NULL}, {"12 34", NULL}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = pa_serial_normalize(cases[i][0]);

        if (cases[i][1] == NULL)
            assert_null(got);
        else
            assert_string_equal(got, cases[i][1]);
        free(got);
    }
}

static void tls_cert_created(void **state)
{
    char *dir = test_tmpdir(), *cert = test_path(dir, "t.crt");
    char *key = test_path(dir, "t.key");
    struct sti_cert *c = NULL;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tls_selfsigned_create(cert, key, 30, &err), STI_OK);
    assert_int_equal(sti_cert_load(cert, &c, &err), STI_OK);
    assert_true(sti_cert_is_self_signed(c));
    assert_true(sti_cert_is_ca(c));
    /* A negative serial would be V_ASN1_NEG_INTEGER. */
    assert_int_equal(
        ASN1_STRING_type(X509_get0_serialNumber(sti_cert_get0_x509(c))),
        V_ASN1_INTEGER);
    assert_int_equal(sti_tls_selfsigned_create(cert, NULL, 30, &err),
                     STI_ERR_INVALID);
    sti_cert_free(c);
    free(cert);
    free(key);
    test_rmtree(dir);
}

#define PA_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        PA_TEST(init_creates_files),
        PA_TEST(init_rejects_existing),
        cmocka_unit_test(init_under_root),
        cmocka_unit_test(open_rejects_missing_dir),
        PA_TEST(base_url_rules),
        cmocka_unit_test(base_url_check_cases),
        PA_TEST(base_url_no_userinfo),
        PA_TEST(provider_name_rules),
        PA_TEST(user_name_rules),
        PA_TEST(stored_bad_name_lists),
        PA_TEST(providers_add_list_disable),
        PA_TEST(users_and_passwords),
        cmocka_unit_test(password_hash_format),
        PA_TEST(access_tokens),
        PA_TEST(throttle_locks_and_resets),
        PA_TEST(token_issue_rules),
        PA_TEST(token_fingerprint_normalized),
        PA_TEST(token_needs_base_url),
        PA_TEST(calist_add_remove_verify),
        PA_TEST(calist_rejects_bad_documents),
        PA_TEST(trust_from_calist),
        PA_TEST(verifier_rejects_older_list),
        PA_TEST(revoke_regenerates_crl),
        PA_TEST(revoke_names_bad_values),
        cmocka_unit_test(init_bad_subject_creates_nothing),
        PA_TEST(revocations_persist),
        cmocka_unit_test(serial_normalize),
        cmocka_unit_test(tls_cert_created),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
