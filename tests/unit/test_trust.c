/* Unit tests for lib/trust.c: anchors, path validation and the PA's
 * indirect CRL. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400

static struct sti_chain *chain_of(struct sti_cert *a, struct sti_cert *b,
                                  struct sti_cert *c)
{
    struct sti_chain *chain = sti_chain_new();

    assert_int_equal(sti_chain_push(chain, a), STI_OK);
    if (b != NULL)
        assert_int_equal(sti_chain_push(chain, b), STI_OK);
    if (c != NULL)
        assert_int_equal(sti_chain_push(chain, c), STI_OK);
    return chain;
}

static struct sti_trust *root_trust(void)
{
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    assert_non_null(trust);
    assert_int_equal(sti_trust_add_anchor(trust, test_pki.root, &err), STI_OK);
    return trust;
}

/* Builds an indirect CRL signed by SIGNER that revokes CERT (or nothing). */
static struct sti_crl *make_crl(struct sti_cert *signer, struct sti_key *key,
                                struct sti_cert *revoke, time_t this_update,
                                time_t next_update)
{
    char *serial = revoke ? sti_cert_serial_hex(revoke) : NULL;
    char *issuer = revoke ? sti_cert_issuer(revoke) : NULL;
    struct sti_crl_entry entry = {serial, issuer, 0, STI_REASON_KEY_COMPROMISE};
    struct sti_crl_request req = {&entry,      revoke ? 1 : 0, 1,
                                  this_update, next_update,    1};
    struct sti_crl *crl;
    struct sti_error err;

    assert_int_equal(sti_crl_build(&req, signer, key, &crl, &err), STI_OK);
    free(serial);
    free(issuer);
    return crl;
}

static int verify(struct sti_trust *trust, struct sti_cert *leaf,
                  struct sti_cert *inter, time_t at, int *revoked,
                  struct sti_error *err)
{
    struct sti_chain *chain = chain_of(leaf, inter, NULL);
    int rc = sti_chain_verify(trust, chain, at, revoked, err);

    sti_chain_free(chain);
    return rc;
}

static void valid_chain_passes(void **state)
{
    struct sti_trust *trust = root_trust();
    struct sti_error err;
    int revoked = -1;

    (void)state;
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, &revoked, &err),
        STI_OK);
    assert_int_equal(revoked, 0);
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, NULL, &err), STI_OK);
    sti_trust_free(trust);
}

static void delegate_chain_passes(void **state)
{
    struct sti_trust *trust = root_trust();
    struct sti_chain *chain =
        chain_of(test_pki.delegate, test_pki.sca, test_pki.inter);
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_chain_verify(trust, chain, 0, NULL, &err), STI_OK);
    sti_chain_free(chain);
    sti_trust_free(trust);
}

static void missing_intermediate_fails(void **state)
{
    struct sti_trust *trust = root_trust();
    struct sti_error err;
    int revoked = -1;

    (void)state;
    assert_int_equal(verify(trust, test_pki.leaf, NULL, 0, &revoked, &err),
                     STI_ERR_POLICY);
    assert_int_equal(revoked, 0);
    assert_non_null(strstr(err.message, "local issuer"));
    sti_trust_free(trust);
}

static void untrusted_root_fails(void **state)
{
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    (void)state;
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, NULL, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "no trust anchors"));
    assert_int_equal(sti_trust_add_anchor(trust, test_pki.pa, &err), STI_OK);
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, NULL, &err),
        STI_ERR_POLICY);
    sti_trust_free(trust);
}

static void time_outside_validity_fails(void **state)
{
    struct sti_trust *trust = root_trust();
    time_t nb = sti_cert_not_before(test_pki.leaf);
    time_t na = sti_cert_not_after(test_pki.leaf);
    struct sti_error err;

    (void)state;
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, na + DAY, NULL, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "expired"));
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, nb - DAY, NULL, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "not yet valid"));
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, nb + 60, NULL, &err),
        STI_OK);
    sti_trust_free(trust);
}

static void critical_tnauth_fails(void **state)
{
    struct sti_trust *trust = root_trust();
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_tnauth *spc;
    struct sti_cert *bad;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_tnauth_parse_spec("spc:1234", &spc, &err), STI_OK);
    req.tnauth = spc;
    req.tnauth_critical = 1;
    assert_int_equal(
        test_pki_issue(&req, test_pki.inter, test_pki.inter_key, &bad), STI_OK);
    sti_tnauth_free(spc);
    assert_int_equal(verify(trust, bad, test_pki.inter, 0, NULL, &err),
                     STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "critical"));
    sti_cert_free(bad);
    sti_trust_free(trust);
}

static void revoked_leaf_fails(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_crl *crl = make_crl(test_pki.pa, test_pki.pa_key, test_pki.leaf,
                                   now - 60, now + DAY);
    struct sti_error err;
    int revoked = -1;

    (void)state;
    assert_int_equal(sti_trust_set_crl(trust, crl, &err), STI_OK);
    assert_int_equal(sti_trust_add_crl_signer(trust, test_pki.pa, &err),
                     STI_OK);
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, &revoked, &err),
        STI_ERR_POLICY);
    assert_int_equal(revoked, 1);
    assert_non_null(strstr(err.message, "revoked"));
    /* Another certificate of the same CA is not on the CRL. */
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, &revoked, &err),
        STI_OK);
    assert_int_equal(revoked, 0);
    /* Without the CRL, the revoked leaf verifies again. */
    assert_int_equal(sti_trust_set_crl(trust, NULL, &err), STI_OK);
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, &revoked, &err),
        STI_OK);
    sti_crl_free(crl);
    sti_trust_free(trust);
}

static void revoked_delegate_fails(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_crl *crl = make_crl(test_pki.pa, test_pki.pa_key,
                                   test_pki.delegate, now - 60, now + DAY);
    struct sti_chain *chain =
        chain_of(test_pki.delegate, test_pki.sca, test_pki.inter);
    struct sti_error err;
    int revoked = -1;

    (void)state;
    sti_trust_set_crl(trust, crl, &err);
    sti_trust_add_crl_signer(trust, test_pki.pa, &err);
    assert_int_equal(sti_chain_verify(trust, chain, 0, &revoked, &err),
                     STI_ERR_POLICY);
    assert_int_equal(revoked, 1);
    sti_chain_free(chain);
    sti_crl_free(crl);
    sti_trust_free(trust);
}

static void crl_for_intermediate_only(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_crl *crl = make_crl(test_pki.pa, test_pki.pa_key, test_pki.inter,
                                   now - 60, now + DAY);
    struct sti_error err;
    int revoked = -1;

    (void)state;
    sti_trust_set_crl(trust, crl, &err);
    sti_trust_add_crl_signer(trust, test_pki.pa, &err);
    /* Only the end entity is checked against the CRL
     * (X509_V_FLAG_CRL_CHECK without CRL_CHECK_ALL). */
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, &revoked, &err),
        STI_OK);
    assert_int_equal(revoked, 0);
    sti_crl_free(crl);
    sti_trust_free(trust);
}

static void expired_crl_fails(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_crl *crl =
        make_crl(test_pki.pa, test_pki.pa_key, NULL, now, now + 60);
    struct sti_error err;
    int revoked = -1;

    (void)state;
    sti_trust_set_crl(trust, crl, &err);
    sti_trust_add_crl_signer(trust, test_pki.pa, &err);
    assert_int_equal(verify(trust, test_pki.other, test_pki.inter, now + 120,
                            &revoked, &err),
                     STI_ERR_POLICY);
    assert_int_equal(revoked, 0);
    assert_non_null(strstr(err.message, "CRL has expired"));
    /* At a time inside the CRL's validity the same chain passes. */
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, now + 30, &revoked, &err),
        STI_OK);
    sti_crl_free(crl);
    sti_trust_free(trust);
}

static void crl_from_wrong_signer_fails(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_cert_request req;
    struct sti_key *key;
    struct sti_cert *impostor;
    struct sti_crl *crl;
    struct sti_error err;
    int revoked = -1;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    /* Same subject DN as the PA (same organization and kind), other key. */
    req = test_cert_request(STI_CERT_PA_ROOT, key);
    assert_int_equal(test_pki_issue(&req, NULL, NULL, &impostor), STI_OK);
    crl = make_crl(impostor, key, NULL, now - 60, now + DAY);
    sti_trust_set_crl(trust, crl, &err);
    sti_trust_add_crl_signer(trust, test_pki.pa, &err);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, &revoked, &err),
        STI_ERR_POLICY);
    assert_int_equal(revoked, 0);
    /* Once the caller configures the impostor as a signer, its CRL is
     * used, which shows that the signer check caused the failure. */
    assert_int_equal(sti_trust_add_crl_signer(trust, impostor, &err), STI_OK);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, &revoked, &err),
        STI_OK);
    sti_crl_free(crl);
    /* A CRL from a signer with another DN is out of the leaf's scope. */
    crl = make_crl(test_pki.root, test_pki.root_key, NULL, now - 60, now + DAY);
    sti_trust_set_crl(trust, crl, &err);
    assert_int_equal(sti_trust_add_crl_signer(trust, test_pki.root, &err),
                     STI_OK);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, &revoked, &err),
        STI_ERR_POLICY);
    assert_int_equal(revoked, 0);
    sti_crl_free(crl);
    sti_cert_free(impostor);
    sti_key_free(key);
    sti_trust_free(trust);
}

static void expired_crl_signer_fails(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_cert_request req =
        test_cert_request(STI_CERT_PA_ROOT, test_pki.pa_key);
    struct sti_cert *old_pa;
    struct sti_crl *crl;
    struct sti_error err;

    (void)state;
    /* The PA's key in a certificate that ended yesterday. */
    req.not_before = now - 10 * DAY;
    req.validity_days = 9;
    assert_int_equal(sti_cert_issue(&req, NULL, NULL, &old_pa, &err), STI_OK);
    crl = make_crl(test_pki.pa, test_pki.pa_key, NULL, now - 60, now + DAY);
    sti_trust_set_crl(trust, crl, &err);
    sti_trust_add_crl_signer(trust, old_pa, &err);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, NULL, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "CRL path validation"));
    /* The current certificate for the same key is accepted. */
    sti_trust_add_crl_signer(trust, test_pki.pa, &err);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, NULL, &err), STI_OK);
    sti_crl_free(crl);
    sti_cert_free(old_pa);
    sti_trust_free(trust);
}

static void crl_signer_required(void **state)
{
    time_t now = time(NULL);
    struct sti_trust *trust = root_trust();
    struct sti_crl *crl =
        make_crl(test_pki.pa, test_pki.pa_key, NULL, now - 60, now + DAY);
    struct sti_error err;

    (void)state;
    sti_trust_set_crl(trust, crl, &err);
    assert_int_equal(
        verify(trust, test_pki.other, test_pki.inter, 0, NULL, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "CRL"));
    assert_non_null(strstr(err.message, "CRL signer"));
    sti_crl_free(crl);
    sti_trust_free(trust);
}

static void anchors_add_and_count(void **state)
{
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_trust_anchor_count(trust), 0);
    assert_int_equal(sti_trust_add_anchor(trust, test_pki.root, &err), STI_OK);
    assert_int_equal(sti_trust_add_anchor(trust, test_pki.root, &err), STI_OK);
    assert_int_equal(sti_trust_anchor_count(trust), 1);
    assert_int_equal(sti_trust_add_anchor(trust, test_pki.leaf, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "SHAKEN 1234"));
    assert_int_equal(sti_trust_add_anchor(trust, NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_trust_add_anchor(NULL, test_pki.root, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_trust_add_crl_signer(trust, NULL, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_trust_set_crl(NULL, NULL, &err), STI_ERR_INVALID);
    assert_int_equal(sti_trust_anchor_count(NULL), 0);
    sti_trust_free(trust);
    sti_trust_free(NULL);
}

static void write_cert(const char *path, struct sti_cert *cert)
{
    struct sti_error err;
    char *pem;

    assert_int_equal(sti_cert_to_pem(cert, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 0, &err),
                     STI_OK);
    free(pem);
}

static void load_anchors_file_and_dir(void **state)
{
    char *dir = test_tmpdir(), *sub = test_path(dir, "anchors");
    char *root = test_path(sub, "root.pem"), *pa = test_path(sub, "pa.crt");
    char *note = test_path(sub, "README"), *empty = test_path(dir, "empty");
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    (void)state;
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(empty, 0700), 0);
    write_cert(root, test_pki.root);
    write_cert(pa, test_pki.pa);
    assert_int_equal(sti_file_write(note, "not a cert", 10, 0644, 1, &err),
                     STI_OK);
    assert_int_equal(sti_trust_load_anchors(trust, sub, &err), STI_OK);
    assert_int_equal(sti_trust_anchor_count(trust), 2);
    assert_int_equal(
        verify(trust, test_pki.leaf, test_pki.inter, 0, NULL, &err), STI_OK);
    sti_trust_free(trust);
    trust = sti_trust_new();
    assert_int_equal(sti_trust_load_anchors(trust, root, &err), STI_OK);
    assert_int_equal(sti_trust_anchor_count(trust), 1);
    assert_int_equal(sti_trust_load_anchors(trust, empty, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_trust_load_anchors(trust, note, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "README"));
    free(note);
    note = test_path(dir, "missing.pem");
    assert_int_equal(sti_trust_load_anchors(trust, note, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_trust_load_anchors(trust, NULL, &err),
                     STI_ERR_INVALID);
    sti_trust_free(trust);
    free(note);
    free(root);
    free(pa);
    free(sub);
    free(empty);
    test_rmtree(dir);
}

static void load_anchors_rejects_bad_files(void **state)
{
    char *dir = test_tmpdir(), *bad = test_path(dir, "bad.pem");
    char *leaf = test_path(dir, "leaf.pem");
    struct sti_trust *trust = sti_trust_new();
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_file_write(bad, "junk", 4, 0644, 1, &err), STI_OK);
    assert_int_equal(sti_trust_load_anchors(trust, dir, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "bad.pem"));
    unlink(bad);
    write_cert(leaf, test_pki.leaf);
    assert_int_equal(sti_trust_load_anchors(trust, dir, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a CA"));
    sti_trust_free(trust);
    free(bad);
    free(leaf);
    test_rmtree(dir);
}

static void verify_rejects_bad_arguments(void **state)
{
    struct sti_trust *trust = root_trust();
    struct sti_chain *empty = sti_chain_new();
    struct sti_error err;
    int revoked = -1;

    (void)state;
    assert_int_equal(sti_chain_verify(trust, empty, 0, &revoked, &err),
                     STI_ERR_INVALID);
    assert_int_equal(revoked, 0);
    assert_int_equal(sti_chain_verify(trust, NULL, 0, NULL, &err),
                     STI_ERR_INVALID);
    assert_int_equal(sti_chain_verify(NULL, empty, 0, NULL, &err),
                     STI_ERR_INVALID);
    sti_chain_free(empty);
    sti_trust_free(trust);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_chain_passes),
        cmocka_unit_test(delegate_chain_passes),
        cmocka_unit_test(missing_intermediate_fails),
        cmocka_unit_test(untrusted_root_fails),
        cmocka_unit_test(time_outside_validity_fails),
        cmocka_unit_test(critical_tnauth_fails),
        cmocka_unit_test(revoked_leaf_fails),
        cmocka_unit_test(revoked_delegate_fails),
        cmocka_unit_test(crl_for_intermediate_only),
        cmocka_unit_test(expired_crl_fails),
        cmocka_unit_test(crl_from_wrong_signer_fails),
        cmocka_unit_test(expired_crl_signer_fails),
        cmocka_unit_test(crl_signer_required),
        cmocka_unit_test(anchors_add_and_count),
        cmocka_unit_test(load_anchors_file_and_dir),
        cmocka_unit_test(load_anchors_rejects_bad_files),
        cmocka_unit_test(verify_rejects_bad_arguments),
    };

    return cmocka_run_group_tests(tests, test_pki_setup, test_pki_teardown);
}
