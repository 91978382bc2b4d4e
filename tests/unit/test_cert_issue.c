/* Unit tests for lib/cert_issue.c: issuance per profile and kind, and
 * acceptance by the openssl command line tool. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

static struct sti_tnauth *spec(const char *text)
{
    struct sti_tnauth *list;
    struct sti_error err;

    assert_int_equal(sti_tnauth_parse_spec(text, &list, &err), STI_OK);
    return list;
}

/* Issues REQ under the intermediate, as test_pki_issue() does. */
static int issue_by_inter(const struct sti_cert_request *req,
                          struct sti_cert **out)
{
    return test_pki_issue(req, test_pki.inter, test_pki.inter_key, out);
}

/* Helpers reading extensions through OpenSSL directly, independent of the
 * code under test. */
static int ext_critical(const struct sti_cert *cert, int nid)
{
    X509 *x = sti_cert_get0_x509(cert);
    int i = X509_get_ext_by_NID(x, nid, -1);

    return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static int tnauth_critical(const struct sti_cert *cert)
{
    X509 *x = sti_cert_get0_x509(cert);
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.26", 1);
    int i = X509_get_ext_by_OBJ(x, obj, -1);

    ASN1_OBJECT_free(obj);
    return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static char *policy_oid(const struct sti_cert *cert, int *count)
{
    CERTIFICATEPOLICIES *pols = X509_get_ext_d2i(
        sti_cert_get0_x509(cert), NID_certificate_policies, NULL, NULL);
    char buf[128] = "";

    *count = pols ? sk_POLICYINFO_num(pols) : 0;
    if (*count > 0)
        OBJ_obj2txt(buf, sizeof(buf), sk_POLICYINFO_value(pols, 0)->policyid,
                    1);
    CERTIFICATEPOLICIES_free(pols);
    return strdup(buf);
}

static void profile_lookup(void **state)
{
    const struct sti_profile *us = sti_profile_get("us");
    const struct sti_profile *fr = sti_profile_get("fr");

    (void)state;
    assert_non_null(us);
    assert_ptr_equal(sti_profile_get(NULL), us);
    assert_string_equal(us->policy_oid, "2.16.840.1.114569.1.1.4");
    assert_string_equal(us->country, "US");
    assert_non_null(fr);
    assert_string_equal(fr->country, "FR");
    assert_int_equal(fr->ee_max_days, 365);
    assert_null(sti_profile_get("de"));
}

static void kind_names(void **state)
{
    (void)state;
    for (int k = STI_CERT_PA_ROOT; k <= STI_CERT_DELEGATE; k++)
        assert_int_equal(sti_cert_kind_from_name(sti_cert_kind_name(k)), k);
    assert_string_equal(sti_cert_kind_name(STI_CERT_SP), "sp");
    assert_string_equal(sti_cert_kind_name(99), "unknown");
    assert_int_equal(sti_cert_kind_from_name("leaf"), -1);
    assert_int_equal(sti_cert_kind_from_name(NULL), -1);
}

static void sp_leaf_basic_fields(void **state)
{
    X509 *x = sti_cert_get0_x509(test_pki.leaf);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    char *cn = sti_cert_subject_cn(test_pki.leaf), *subject;

    (void)state;
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER); /* positive */
    assert_int_equal(ASN1_STRING_length(serial), 16);
    assert_string_equal(cn, "SHAKEN 1234");
    subject = sti_cert_subject(test_pki.leaf);
    assert_string_equal(subject, "CN=SHAKEN 1234,O=Example Telecom,C=US");
    free(cn);
    free(subject);
}

static void sp_leaf_extensions(void **state)
{
    X509 *x = sti_cert_get0_x509(test_pki.leaf);
    unsigned char md[20];
    unsigned int n;
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    const ASN1_OCTET_STRING *inter_ski =
        X509_get0_subject_key_id(sti_cert_get0_x509(test_pki.inter));
    int count;
    char *oid = policy_oid(test_pki.leaf, &count);

    (void)state;
    assert_int_equal(ext_critical(test_pki.leaf, NID_basic_constraints), 1);
    assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_int_equal(ext_critical(test_pki.leaf, NID_key_usage), 1);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_non_null(ski);
    assert_int_equal(X509_pubkey_digest(x, EVP_sha1(), md, &n), 1);
    assert_int_equal(ASN1_STRING_length(ski), 20);
    assert_memory_equal(ASN1_STRING_get0_data(ski), md, 20);
    assert_non_null(aki);
    assert_int_equal(ASN1_OCTET_STRING_cmp(aki, inter_ski), 0);
    assert_int_equal(count, 1);
    assert_string_equal(oid, "2.16.840.1.114569.1.1.4");
    assert_int_equal(ext_critical(test_pki.leaf, NID_certificate_policies), 0);
    assert_int_equal(tnauth_critical(test_pki.leaf), 0);
    assert_int_equal(ext_critical(test_pki.leaf, NID_info_access), -1);
    assert_int_equal(ext_critical(test_pki.leaf, NID_issuer_alt_name), -1);
    assert_int_equal(X509_get_ext_count(x), 7);
    free(oid);
}

static void sp_leaf_crl_point(void **state)
{
    CRL_DIST_POINTS *dps =
        X509_get_ext_d2i(sti_cert_get0_x509(test_pki.leaf),
                         NID_crl_distribution_points, NULL, NULL);
    DIST_POINT *dp;
    GENERAL_NAME *gn;

    (void)state;
    assert_non_null(dps);
    assert_int_equal(sk_DIST_POINT_num(dps), 1);
    dp = sk_DIST_POINT_value(dps, 0);
    assert_int_equal(dp->distpoint->type, 0);
    assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
    gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
    assert_int_equal(gn->type, GEN_URI);
    assert_string_equal(
        (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
        TEST_CRL_URL);
    assert_int_equal(sk_GENERAL_NAME_num(dp->CRLissuer), 1);
    gn = sk_GENERAL_NAME_value(dp->CRLissuer, 0);
    assert_int_equal(gn->type, GEN_DIRNAME);
    assert_int_equal(
        X509_NAME_cmp(gn->d.directoryName,
                      X509_get_subject_name(sti_cert_get0_x509(test_pki.pa))),
        0);
    CRL_DIST_POINTS_free(dps);
}

static void sp_leaf_tnauth(void **state)
{
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    assert_int_equal(sti_cert_get_tnauth(test_pki.leaf, &list, &err), STI_OK);
    assert_string_equal(sti_tnauth_get0_spc(list), "1234");
    sti_tnauth_free(list);
    assert_int_equal(sti_cert_get_tnauth(test_pki.inter, &list, &err),
                     STI_ERR_NOTFOUND);
    assert_null(list);
    assert_int_equal(sti_cert_get_tnauth(NULL, &list, &err), STI_ERR_INVALID);
}

/* Derived CA names take at most 40 bytes of the organization, cut before a
 * UTF-8 sequence rather than inside it. */
static void long_utf8_org_in_cn(void **state)
{
    struct sti_cert_request req;
    struct sti_key *key = NULL;
    struct sti_cert *root = NULL;
    struct sti_error err;
    char org[64] = "a", *cn;

    (void)state;
    for (int i = 0; i < 21; i++)
        strcat(org, "\xC3\xA9"); /* U+00E9, 43 bytes in all */
    assert_int_equal(sti_key_generate(&key, NULL), STI_OK);
    memset(&req, 0, sizeof(req));
    req.kind = STI_CERT_CA_ROOT;
    req.organization = org;
    req.subject_key = key;
    if (sti_cert_issue(&req, NULL, NULL, &root, &err) != STI_OK)
        fail_msg("root: %s", err.message);
    cn = sti_cert_subject_cn(root);
    assert_non_null(cn);
    assert_int_equal(strlen(cn), 39 + strlen(" SHAKEN ROOT"));
    assert_memory_equal(cn, org, 39);
    free(cn);
    sti_cert_free(root);
    sti_key_free(key);
}

static void roots_profile(void **state)
{
    struct sti_cert *roots[] = {test_pki.pa, test_pki.root};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        X509 *x = sti_cert_get0_x509(roots[i]);
        char *cn = sti_cert_subject_cn(roots[i]);

        assert_non_null(strstr(cn, "ROOT"));
        assert_non_null(strstr(cn, "SHAKEN"));
        assert_true(sti_cert_is_self_signed(roots[i]));
        assert_true(sti_cert_is_ca(roots[i]));
        assert_int_equal(ext_critical(roots[i], NID_basic_constraints), 1);
        assert_int_equal(ext_critical(roots[i], NID_authority_key_identifier),
                         -1);
        assert_int_equal(ext_critical(roots[i], NID_certificate_policies), -1);
        assert_int_equal(ext_critical(roots[i], NID_crl_distribution_points),
                         -1);
        assert_non_null(X509_get0_subject_key_id(x));
        assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
        assert_true(X509_get_key_usage(x) & KU_CRL_SIGN);
        free(cn);
    }
    /* The PA also signs SPC tokens with its key. */
    assert_true(X509_get_key_usage(sti_cert_get0_x509(test_pki.pa)) &
                KU_DIGITAL_SIGNATURE);
    assert_false(X509_get_key_usage(sti_cert_get0_x509(test_pki.root)) &
                 KU_DIGITAL_SIGNATURE);
}

static void intermediate_profile(void **state)
{
    X509 *x = sti_cert_get0_x509(test_pki.inter);
    char *cn = sti_cert_subject_cn(test_pki.inter);
    int count;
    char *oid = policy_oid(test_pki.inter, &count);

    (void)state;
    assert_non_null(strstr(cn, "SHAKEN"));
    assert_true(sti_cert_is_ca(test_pki.inter));
    assert_false(sti_cert_is_self_signed(test_pki.inter));
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(count, 1);
    assert_non_null(X509_get0_authority_key_id(x));
    assert_int_equal(ext_critical(test_pki.inter, NID_crl_distribution_points),
                     0);
    assert_int_equal(tnauth_critical(test_pki.inter), -1);
    free(cn);
    free(oid);
}

static void fr_profile(void **state)
{
    struct sti_tnauth *list = spec("spc:818H");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert *cert;
    struct sti_error err;
    char *subject, *oid;
    int count;

    (void)state;
    req.tnauth = list;
    req.profile = "fr";
    req.validity_days = 366;
    assert_int_equal(
        sti_cert_issue(&req, test_pki.inter, test_pki.inter_key, &cert, &err),
        STI_ERR_POLICY);
    assert_non_null(strstr(err.message, "365"));
    req.validity_days = 0;
    assert_int_equal(issue_by_inter(&req, &cert), STI_OK);
    assert_int_equal(sti_cert_not_after(cert) - sti_cert_not_before(cert),
                     365 * 86400);
    subject = sti_cert_subject(cert);
    assert_non_null(strstr(subject, "C=FR"));
    oid = policy_oid(cert, &count);
    assert_string_equal(oid, "1.2.250.1.695.1.1.1.0");
    free(oid);
    free(subject);
    sti_cert_free(cert);
    sti_tnauth_free(list);
}

static void us_validity_and_times(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert *cert;
    time_t nb = time(NULL) - 3600;

    (void)state;
    req.tnauth = list;
    req.not_before = nb;
    req.validity_days = 730;
    req.policy_oid = "2.16.840.1.114569.1.1.3";
    assert_int_equal(issue_by_inter(&req, &cert), STI_OK);
    assert_int_equal(sti_cert_not_before(cert), nb);
    assert_int_equal(sti_cert_not_after(cert), nb + 730 * 86400);
    sti_cert_free(cert);
    sti_tnauth_free(list);
}

static void default_validity_ends_with_issuer(void **state)
{
    struct sti_key *key = test_new_key();
    struct sti_tnauth *range = spec("range:12025550100+10");
    struct sti_cert_request req = test_cert_request(STI_CERT_SCA, key);
    struct sti_cert *sca;

    (void)state;
    req.tnauth = range;
    /* Starting a day after the intermediate, the default CA validity
     * would outlive it, so the certificate ends with it. */
    req.not_before = sti_cert_not_before(test_pki.inter) + 86400;
    assert_int_equal(issue_by_inter(&req, &sca), STI_OK);
    assert_int_equal(sti_cert_not_after(sca),
                     sti_cert_not_after(test_pki.inter));
    sti_cert_free(sca);
    sti_tnauth_free(range);
    sti_key_free(key);
}

static void expect_issue_fails(struct sti_cert_request *req,
                               struct sti_cert *issuer, struct sti_key *key,
                               int code, const char *word)
{
    struct sti_cert *cert = (struct sti_cert *)1;
    struct sti_error err;

    assert_int_equal(sti_cert_issue(req, issuer, key, &cert, &err), code);
    assert_null(cert);
    if (word != NULL && strstr(err.message, word) == NULL)
        fail_msg("message '%s' lacks '%s'", err.message, word);
}

/* Expects issuing REQ under the intermediate to fail with CODE and a
 * message containing WORD (unless NULL). */
static void expect_inter_fails(struct sti_cert_request *req, int code,
                               const char *word)
{
    expect_issue_fails(req, test_pki.inter, test_pki.inter_key, code, word);
}

static void sp_rejects_bad_tnauth(void **state)
{
    struct sti_tnauth *two = spec("spc:1234,spc:5678");
    struct sti_tnauth *tn = spec("tn:12025550100");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);

    (void)state;
    expect_inter_fails(&req, STI_ERR_POLICY, "SPC");
    req.tnauth = two;
    expect_inter_fails(&req, STI_ERR_POLICY, "SPC");
    req.tnauth = tn;
    expect_inter_fails(&req, STI_ERR_POLICY, "SPC");
    req = test_cert_request(STI_CERT_CA_INTERMEDIATE, test_pki.inter_key);
    req.tnauth = tn;
    expect_issue_fails(&req, test_pki.root, test_pki.root_key, STI_ERR_POLICY,
                       "no TNAuthList");
    sti_tnauth_free(two);
    sti_tnauth_free(tn);
}

static void rejects_wrong_key_types(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req = test_cert_request(STI_CERT_SP, NULL);
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    struct sti_key *key = sti_key_from_pkey(p384);

    (void)state;
    req.tnauth = list;
    req.subject_key = key;
    expect_inter_fails(&req, STI_ERR_POLICY, "EC P-384");
    req.subject_key = NULL;
    expect_inter_fails(&req, STI_ERR_POLICY, "P-256");
    /* The issuer key must be a private key. */
    req.subject_key = test_pki.leaf_key;
    expect_issue_fails(&req, test_pki.inter, key, STI_ERR_INVALID, "P-256");
    sti_key_free(key);
    sti_tnauth_free(list);
}

static void rejects_wrong_issuer(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert_request root =
        test_cert_request(STI_CERT_CA_ROOT, test_pki.root_key);

    (void)state;
    req.tnauth = list;
    expect_issue_fails(&req, NULL, NULL, STI_ERR_INVALID, "needs an issuer");
    expect_issue_fails(&req, test_pki.inter, NULL, STI_ERR_INVALID, NULL);
    expect_issue_fails(&req, test_pki.inter, test_pki.root_key, STI_ERR_INVALID,
                       "does not match");
    expect_issue_fails(&req, test_pki.leaf, test_pki.leaf_key, STI_ERR_POLICY,
                       "not a CA");
    expect_issue_fails(&root, test_pki.root, test_pki.root_key, STI_ERR_INVALID,
                       "self-signed");
    sti_tnauth_free(list);
}

static void rejects_bad_names(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert_request inter =
        test_cert_request(STI_CERT_CA_INTERMEDIATE, test_pki.inter_key);
    struct sti_cert_request root =
        test_cert_request(STI_CERT_CA_ROOT, test_pki.root_key);

    (void)state;
    req.tnauth = list;
    req.organization = NULL;
    expect_inter_fails(&req, STI_ERR_INVALID, "organization");
    req.organization = "Example";
    req.country = "usa";
    expect_inter_fails(&req, STI_ERR_INVALID, "'usa'");
    req.country = NULL;
    req.common_name = "SHAKEN 9999";
    expect_inter_fails(&req, STI_ERR_POLICY, "SHAKEN 1234");
    req.common_name = NULL;
    req.policy_oid = "not-an-oid";
    expect_inter_fails(&req, STI_ERR_INVALID, "not-an-oid");
    inter.common_name = "Example Issuing CA";
    expect_issue_fails(&inter, test_pki.root, test_pki.root_key, STI_ERR_POLICY,
                       "SHAKEN");
    root.common_name = "Example SHAKEN CA";
    expect_issue_fails(&root, NULL, NULL, STI_ERR_POLICY, "ROOT");
    sti_tnauth_free(list);
}

static void rejects_bad_crl_and_validity(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);

    (void)state;
    req.tnauth = list;
    req.crl_url = NULL;
    expect_inter_fails(&req, STI_ERR_INVALID, "CRL");
    req.crl_url = "ftp://pa.example/crl";
    expect_inter_fails(&req, STI_ERR_INVALID, "ftp://");
    req.crl_url = TEST_CRL_URL;
    req.validity_days = -1;
    expect_inter_fails(&req, STI_ERR_INVALID, "negative");
    req.validity_days = 1097;
    expect_inter_fails(&req, STI_ERR_POLICY, "1096");
    req.validity_days = 365;
    req.not_before = sti_cert_not_after(test_pki.inter) - 86400;
    expect_inter_fails(&req, STI_ERR_POLICY, "issuer");
    req.not_before = 0;
    req.profile = "xx";
    expect_inter_fails(&req, STI_ERR_INVALID, "'xx'");
    req.profile = NULL;
    req.kind = 42;
    expect_inter_fails(&req, STI_ERR_INVALID, "kind");
    expect_issue_fails(NULL, test_pki.inter, test_pki.inter_key,
                       STI_ERR_INVALID, NULL);
    sti_tnauth_free(list);
}

static void sca_profile(void **state)
{
    X509 *x = sti_cert_get0_x509(test_pki.sca);
    BASIC_CONSTRAINTS *bc =
        X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    struct sti_tnauth *list;
    struct sti_error err;

    (void)state;
    assert_true(sti_cert_is_ca(test_pki.sca));
    assert_non_null(bc);
    assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(sti_cert_get_tnauth(test_pki.sca, &list, &err), STI_OK);
    assert_int_equal(list->count, 2);
    sti_tnauth_free(list);
    assert_int_equal(tnauth_critical(test_pki.sca), 0);
}

static void delegate_encompassed(void **state)
{
    struct sti_key *key = test_new_key();
    struct sti_tnauth *inside = spec("range:12025550150+10,tn:12025550999");
    struct sti_cert_request req = test_cert_request(STI_CERT_DELEGATE, key);
    struct sti_cert *cert;
    char *cn;

    (void)state;
    req.tnauth = inside;
    assert_int_equal(
        test_pki_issue(&req, test_pki.sca, test_pki.sca_key, &cert), STI_OK);
    cn = sti_cert_subject_cn(cert);
    assert_string_equal(cn, "SHAKEN 12025550150");
    assert_false(sti_cert_is_ca(cert));
    assert_int_equal(X509_get_key_usage(sti_cert_get0_x509(cert)),
                     KU_DIGITAL_SIGNATURE);
    assert_true(sti_cert_signed_by(cert, test_pki.sca));
    free(cn);
    sti_cert_free(cert);
    sti_tnauth_free(inside);
    sti_key_free(key);
}

static void delegate_outside_rejected(void **state)
{
    struct sti_tnauth *outside = spec("range:12025550190+20");
    struct sti_tnauth *spc = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_DELEGATE, test_pki.leaf_key);

    (void)state;
    req.tnauth = outside;
    expect_issue_fails(&req, test_pki.sca, test_pki.sca_key, STI_ERR_POLICY,
                       "not encompassed");
    /* A plain intermediate has no TNAuthList to delegate from. */
    expect_inter_fails(&req, STI_ERR_POLICY, "SCA");
    req.tnauth = NULL;
    expect_issue_fails(&req, test_pki.sca, test_pki.sca_key, STI_ERR_INVALID,
                       "TNAuthList");
    req.tnauth = spc;
    expect_issue_fails(&req, test_pki.sca, test_pki.sca_key, STI_ERR_POLICY,
                       "not encompassed");
    sti_tnauth_free(outside);
    sti_tnauth_free(spc);
}

static void sp_under_sca_needs_its_spc(void **state)
{
    struct sti_key *key = test_new_key(), *sp_key = test_new_key();
    struct sti_tnauth *spc_sca = spec("spc:1234,range:12025550100+100");
    struct sti_tnauth *same = spec("spc:1234"), *other = spec("spc:5678");
    struct sti_cert_request req = test_cert_request(STI_CERT_SCA, key);
    struct sti_cert *sca, *cert;

    (void)state;
    req.tnauth = spc_sca;
    assert_int_equal(issue_by_inter(&req, &sca), STI_OK);
    req = test_cert_request(STI_CERT_SP, sp_key);
    req.tnauth = same;
    assert_int_equal(test_pki_issue(&req, sca, key, &cert), STI_OK);
    sti_cert_free(cert);
    req.tnauth = other;
    expect_issue_fails(&req, sca, key, STI_ERR_POLICY, "not encompassed");
    sti_cert_free(sca);
    sti_tnauth_free(spc_sca);
    sti_tnauth_free(same);
    sti_tnauth_free(other);
    sti_key_free(key);
    sti_key_free(sp_key);
}

static void critical_tnauth_flag(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert *cert;

    (void)state;
    req.tnauth = list;
    req.tnauth_critical = 1;
    assert_int_equal(issue_by_inter(&req, &cert), STI_OK);
    assert_int_equal(tnauth_critical(cert), 1);
    sti_cert_free(cert);
    sti_tnauth_free(list);
}

static void serials_are_unique(void **state)
{
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert *a, *b;
    char *sa, *sb;

    (void)state;
    req.tnauth = list;
    assert_int_equal(issue_by_inter(&req, &a), STI_OK);
    assert_int_equal(issue_by_inter(&req, &b), STI_OK);
    sa = sti_cert_serial_hex(a);
    sb = sti_cert_serial_hex(b);
    assert_int_equal(strlen(sa), 32);
    assert_string_not_equal(sa, sb);
    free(sa);
    free(sb);
    sti_cert_free(a);
    sti_cert_free(b);
    sti_tnauth_free(list);
}

/* Writes CERTS as one PEM file. */
static void write_pem(const char *path, struct sti_cert **certs, size_t n)
{
    struct sti_chain *chain = sti_chain_new();
    struct sti_error err;
    char *pem;

    for (size_t i = 0; i < n; i++)
        assert_int_equal(sti_chain_push(chain, certs[i]), STI_OK);
    assert_int_equal(sti_chain_to_pem(chain, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 0, &err),
                     STI_OK);
    free(pem);
    sti_chain_free(chain);
}

static int run_openssl_verify(const char *dir, struct sti_cert *leaf,
                              struct sti_cert **untrusted, size_t n)
{
    char cmd[4400];
    char *root = test_path(dir, "root.pem"), *inter = test_path(dir, "u.pem");
    char *leaf_path = test_path(dir, "leaf.pem");
    int rc;

    write_pem(root, &test_pki.root, 1);
    write_pem(inter, untrusted, n);
    write_pem(leaf_path, &leaf, 1);
    snprintf(cmd, sizeof(cmd),
             "openssl verify -CAfile '%s' -untrusted '%s' '%s' >/dev/null 2>&1",
             root, inter, leaf_path);
    rc = system(cmd);
    free(root);
    free(inter);
    free(leaf_path);
    return rc;
}

static void openssl_verify_accepts(void **state)
{
    char *dir = test_tmpdir();
    struct sti_key *key = test_new_key();
    struct sti_tnauth *tn = spec("tn:12025550120");
    struct sti_cert_request req = test_cert_request(STI_CERT_DELEGATE, key);
    struct sti_cert *delegate, *both[2] = {test_pki.inter, test_pki.sca};

    (void)state;
    assert_int_equal(run_openssl_verify(dir, test_pki.leaf, &test_pki.inter, 1),
                     0);
    req.tnauth = tn;
    assert_int_equal(
        test_pki_issue(&req, test_pki.sca, test_pki.sca_key, &delegate),
        STI_OK);
    assert_int_equal(run_openssl_verify(dir, delegate, both, 2), 0);
    /* The chain must not verify without its intermediate. */
    assert_int_not_equal(
        run_openssl_verify(dir, test_pki.leaf, &test_pki.pa, 1), 0);
    sti_cert_free(delegate);
    sti_tnauth_free(tn);
    sti_key_free(key);
    test_rmtree(dir);
}

static void openssl_rejects_critical_tnauth(void **state)
{
    char *dir = test_tmpdir();
    struct sti_tnauth *list = spec("spc:1234");
    struct sti_cert_request req =
        test_cert_request(STI_CERT_SP, test_pki.leaf_key);
    struct sti_cert *cert;

    (void)state;
    req.tnauth = list;
    req.tnauth_critical = 1;
    assert_int_equal(issue_by_inter(&req, &cert), STI_OK);
    assert_int_not_equal(run_openssl_verify(dir, cert, &test_pki.inter, 1), 0);
    sti_cert_free(cert);
    sti_tnauth_free(list);
    test_rmtree(dir);
}

static void openssl_text_shows_fields(void **state)
{
    char *dir = test_tmpdir(), *path = test_path(dir, "leaf.pem");
    char cmd[4400], line[512];
    int policy = 0, crl = 0, tnauth = 0;
    FILE *p;

    (void)state;
    write_pem(path, &test_pki.leaf, 1);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -noout -text", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p) != NULL) {
        policy += strstr(line, "Policy: 2.16.840.1.114569.1.1.4") != NULL;
        crl += strstr(line, "URI:" TEST_CRL_URL) != NULL;
        tnauth += strstr(line, "1.3.6.1.5.5.7.1.26") != NULL;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(policy, 1);
    assert_int_equal(crl, 1);
    assert_int_equal(tnauth, 1);
    free(path);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profile_lookup),
        cmocka_unit_test(kind_names),
        cmocka_unit_test(sp_leaf_basic_fields),
        cmocka_unit_test(sp_leaf_extensions),
        cmocka_unit_test(sp_leaf_crl_point),
        cmocka_unit_test(sp_leaf_tnauth),
        cmocka_unit_test(roots_profile),
        cmocka_unit_test(intermediate_profile),
        cmocka_unit_test(fr_profile),
        cmocka_unit_test(us_validity_and_times),
        cmocka_unit_test(default_validity_ends_with_issuer),
        cmocka_unit_test(sp_rejects_bad_tnauth),
        cmocka_unit_test(rejects_wrong_key_types),
        cmocka_unit_test(rejects_wrong_issuer),
        cmocka_unit_test(rejects_bad_names),
        cmocka_unit_test(rejects_bad_crl_and_validity),
        cmocka_unit_test(sca_profile),
        cmocka_unit_test(delegate_encompassed),
        cmocka_unit_test(delegate_outside_rejected),
        cmocka_unit_test(sp_under_sca_needs_its_spc),
        cmocka_unit_test(critical_tnauth_flag),
        cmocka_unit_test(serials_are_unique),
        cmocka_unit_test(long_utf8_org_in_cn),
        cmocka_unit_test(openssl_verify_accepts),
        cmocka_unit_test(openssl_rejects_critical_tnauth),
        cmocka_unit_test(openssl_text_shows_fields),
    };

    return cmocka_run_group_tests(tests, test_pki_setup, test_pki_teardown);
}
