/*
 * Profile-driven issuance of SHAKEN certificates: the ATIS-1000080
 * certificate profile, RFC 8226 TNAuthList and RFC 9060 delegation.
 */
#include "x509_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#define DAY_SECONDS 86400
#define US_POLICY_OID "2.16.840.1.114569.1.1.4" /* SHAKEN CP version 1.4 */
/*
 * APNF publishes the MAN certificate policy OIDs as 1.2.250.1.695.1.1.X.Y
 * for policy version X.Y (github.com/APNF/man-certificate-policies); this
 * is version 1.0.
 */
#define FR_POLICY_OID "1.2.250.1.695.1.1.1.0"

/*
 * Validity in days: end-entity maximum, end-entity, CA and root defaults.
 * NOTE: the us end-entity maximum of 1096 days (3 years) is the upper end
 * of lifetimes seen in deployed SHAKEN certificates, not a number from
 * ATIS-1000080.
 */
static const struct sti_profile profiles[] = {
    {"us", US_POLICY_OID, "US", 1096, 365, 1826, 3652},
    {"fr", FR_POLICY_OID, "FR", 365, 365, 1826, 3652},
};

static const char *const kind_names[] = {
    NULL, "pa-root", "ca-root", "ca-intermediate", "sp", "sca", "delegate"};

const char *sti_cert_kind_name(int kind)
{
    if (kind < STI_CERT_PA_ROOT || kind > STI_CERT_DELEGATE)
        return "unknown";
    return kind_names[kind];
}

int sti_cert_kind_from_name(const char *name)
{
    for (int k = STI_CERT_PA_ROOT; name != NULL && k <= STI_CERT_DELEGATE; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

const struct sti_profile *sti_profile_get(const char *name)
{
    if (name == NULL)
        name = "us";
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(name, profiles[i].name) == 0)
            return &profiles[i];
    return NULL;
}

static int is_root_kind(int kind)
{
    return kind == STI_CERT_PA_ROOT || kind == STI_CERT_CA_ROOT;
}

static int is_ca_kind(int kind)
{
    return kind != STI_CERT_SP && kind != STI_CERT_DELEGATE;
}

/* Request checks */

static int check_country(const char *c, struct sti_error *err)
{
    if (c == NULL || strlen(c) != 2 || !isupper((unsigned char)c[0]) ||
        !isupper((unsigned char)c[1]))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid country '%s': use an ISO 3166 alpha-2 "
                          "code such as US or FR",
                          c ? c : "");
    return STI_OK;
}

static int check_policy_oid(const char *oid, struct sti_error *err)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);

    ERR_clear_error();
    if (obj == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid policy OID '%s': use dotted decimal such "
                          "as " US_POLICY_OID,
                          oid);
    ASN1_OBJECT_free(obj);
    return STI_OK;
}

/* Checks the pairing of request kind, issuer and keys. */
static int check_parties(const struct sti_cert_request *req,
                         const struct sti_cert *issuer,
                         const struct sti_key *issuer_key,
                         struct sti_error *err)
{
    const struct sti_key *signer = issuer ? issuer_key : req->subject_key;

    if (req->subject_key == NULL || !sti_key_is_p256(req->subject_key))
        return sti_seterr(err, STI_ERR_POLICY,
                          "subject key is %s; SHAKEN certificates need an EC "
                          "P-256 key",
                          sti_key_type_name(req->subject_key));
    if (is_root_kind(req->kind) != (issuer == NULL) ||
        (issuer == NULL) != (issuer_key == NULL))
        return sti_seterr(err, STI_ERR_INVALID,
                          "a %s certificate %s; give issuer and issuer key %s",
                          sti_cert_kind_name(req->kind),
                          is_root_kind(req->kind) ? "is self-signed"
                                                  : "needs an issuer",
                          is_root_kind(req->kind) ? "as NULL" : "both");
    if (!sti_key_has_private(signer) || !sti_key_is_p256(signer))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signing key must be a P-256 private key");
    if (issuer == NULL)
        return STI_OK;
    if (!sti_cert_is_ca(issuer))
        return sti_seterr(err, STI_ERR_POLICY,
                          "issuer is not a CA (basicConstraints CA:FALSE)");
    if (X509_check_private_key(sti_cert_get0_x509(issuer),
                               sti_key_get0_pkey(issuer_key)) != 1) {
        ERR_clear_error();
        return sti_seterr(err, STI_ERR_INVALID,
                          "issuer key does not match the issuer "
                          "certificate's public key");
    }
    return STI_OK;
}

/* Checks that the issuer's TNAuthList, when it has one, encompasses the
 * request's (RFC 9060).  Delegates need an issuer with a TNAuthList. */
static int check_encompassed(const struct sti_cert_request *req,
                             const struct sti_cert *issuer,
                             struct sti_error *err)
{
    struct sti_tnauth *outer = NULL;
    int rc = sti_cert_get_tnauth(issuer, &outer, NULL);

    if (rc == STI_ERR_NOTFOUND && req->kind != STI_CERT_DELEGATE)
        return STI_OK; /* issued by a plain CA intermediate */
    if (rc != STI_OK)
        return sti_seterr(err, STI_ERR_POLICY,
                          "the issuer of a %s certificate must carry a valid "
                          "TNAuthList (an SCA certificate)",
                          sti_cert_kind_name(req->kind));
    if (!sti_tnauth_encompasses(outer, req->tnauth)) {
        char *inner = sti_tnauth_to_spec(req->tnauth);
        char *have = sti_tnauth_to_spec(outer);

        rc = sti_seterr(err, STI_ERR_POLICY,
                        "TNAuthList '%.120s' is not encompassed by the "
                        "issuer's '%.120s' (RFC 9060)",
                        inner ? inner : "?", have ? have : "?");
        free(inner);
        free(have);
    }
    sti_tnauth_free(outer);
    return rc;
}

/* Checks the TNAuthList rules of each certificate kind. */
static int check_tnauth(const struct sti_cert_request *req,
                        const struct sti_cert *issuer, struct sti_error *err)
{
    if (req->kind == STI_CERT_SP && sti_tnauth_get0_spc(req->tnauth) == NULL)
        return sti_seterr(err, STI_ERR_POLICY,
                          "an SP certificate needs a TNAuthList of exactly "
                          "one SPC");
    if (req->kind != STI_CERT_SP && req->kind != STI_CERT_SCA &&
        req->kind != STI_CERT_DELEGATE) {
        if (req->tnauth != NULL)
            return sti_seterr(err, STI_ERR_POLICY,
                              "a %s certificate carries no TNAuthList",
                              sti_cert_kind_name(req->kind));
        return STI_OK;
    }
    if (req->tnauth == NULL || req->tnauth->count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a %s certificate needs a TNAuthList",
                          sti_cert_kind_name(req->kind));
    return check_encompassed(req, issuer, err);
}

/*
 * How many bytes of the organization a derived CA name takes: at most 40,
 * so that the common name stays within 64 (ub-common-name, RFC 5280
 * Appendix A.1), and never a part of a UTF-8 sequence.
 */
static int org_prefix(const char *org)
{
    size_t n = strlen(org);

    if (n <= 40)
        return (int)n;
    n = 40;
    while (n > 0 && ((unsigned char)org[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* The default subject common name of each kind. */
static void default_cn(const struct sti_cert_request *req, char *out,
                       size_t size)
{
    const char *org = req->organization;
    int n = org_prefix(org);

    switch (req->kind) {
    case STI_CERT_PA_ROOT:
        snprintf(out, size, "%.*s STI-PA SHAKEN ROOT", n, org);
        break;
    case STI_CERT_CA_ROOT:
        snprintf(out, size, "%.*s SHAKEN ROOT", n, org);
        break;
    case STI_CERT_CA_INTERMEDIATE:
        snprintf(out, size, "%.*s SHAKEN Intermediate", n, org);
        break;
    case STI_CERT_SCA:
        snprintf(out, size, "%.*s SHAKEN SCA", n, org);
        break;
    case STI_CERT_SP:
        snprintf(out, size, "SHAKEN %s", sti_tnauth_get0_spc(req->tnauth));
        break;
    default:
        snprintf(out, size, "SHAKEN %s", req->tnauth->entries[0].value);
        break;
    }
}

/* Checks a common name against the SHAKEN naming rules. */
static int check_cn(const struct sti_cert_request *req, const char *cn,
                    struct sti_error *err)
{
    char want[64];

    if (cn[0] == '\0' || strlen(cn) > 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "common name '%.80s' must have 1 to 64 characters",
                          cn);
    if (req->kind == STI_CERT_SP) {
        snprintf(want, sizeof(want), "SHAKEN %s",
                 sti_tnauth_get0_spc(req->tnauth));
        if (strcmp(cn, want) != 0)
            return sti_seterr(err, STI_ERR_POLICY,
                              "common name '%s' of an SP certificate must be "
                              "'%s'",
                              cn, want);
    } else if (strstr(cn, "SHAKEN") == NULL) {
        return sti_seterr(err, STI_ERR_POLICY,
                          "common name '%s' must contain SHAKEN", cn);
    }
    if (is_root_kind(req->kind) && strstr(cn, "ROOT") == NULL)
        return sti_seterr(err, STI_ERR_POLICY,
                          "common name '%s' of a root must contain ROOT", cn);
    return STI_OK;
}

static int check_crl_url(const char *url, struct sti_error *err)
{
    if (url == NULL || url[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "non-root certificates need a CRL distribution "
                          "point URL such as http://pa.example/crl");
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strpbrk(url, " \t\r\n") != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid CRL URL '%.200s': use one http:// or "
                          "https:// URL",
                          url);
    return STI_OK;
}

/* Resolves validity: 0 days takes the profile's default, cut to end with
 * the issuer.  End entities may not exceed the profile's maximum, and an
 * explicit validity may not outlive the issuer. */
static int resolve_validity(const struct sti_cert_request *req,
                            const struct sti_profile *prof,
                            const struct sti_cert *issuer, time_t *nb,
                            time_t *na, struct sti_error *err)
{
    int days = req->validity_days;

    if (days < 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "validity of %d days is negative", days);
    if (days == 0)
        days = is_root_kind(req->kind) ? prof->root_default_days
               : is_ca_kind(req->kind) ? prof->ca_default_days
                                       : prof->ee_default_days;
    if (!is_ca_kind(req->kind) && days > prof->ee_max_days)
        return sti_seterr(err, STI_ERR_POLICY,
                          "validity of %d days exceeds the %s profile's "
                          "end-entity maximum of %d days",
                          days, prof->name, prof->ee_max_days);
    if (days > 36500)
        return sti_seterr(err, STI_ERR_INVALID,
                          "validity of %d days exceeds 100 years", days);
    *nb = req->not_before ? req->not_before : time(NULL);
    *na = *nb + (time_t)days * DAY_SECONDS;
    if (issuer == NULL || *na <= sti_cert_not_after(issuer))
        return STI_OK;
    if (req->validity_days == 0 && sti_cert_not_after(issuer) > *nb) {
        *na = sti_cert_not_after(issuer);
        return STI_OK;
    }
    return sti_seterr(err, STI_ERR_POLICY,
                      "certificate would end after its issuer's notAfter; "
                      "use fewer than %d days or renew the issuer",
                      days);
}

/* Request fields after defaults, checked. */
struct issue_plan {
    const struct sti_profile *profile;
    const char *country;
    const char *policy_oid;
    char cn[128];
    time_t not_before;
    time_t not_after;
};

static int plan_names(const struct sti_cert_request *req,
                      struct issue_plan *plan, struct sti_error *err)
{
    int rc;

    if (req->organization == NULL || req->organization[0] == '\0' ||
        strlen(req->organization) > 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "organization (subject O) is required, 1 to 64 "
                          "characters");
    plan->country = req->country ? req->country : plan->profile->country;
    rc = check_country(plan->country, err);
    if (rc != STI_OK)
        return rc;
    plan->policy_oid =
        req->policy_oid ? req->policy_oid : plan->profile->policy_oid;
    rc = check_policy_oid(plan->policy_oid, err);
    if (rc != STI_OK)
        return rc;
    if (req->common_name != NULL)
        snprintf(plan->cn, sizeof(plan->cn), "%s", req->common_name);
    else
        default_cn(req, plan->cn, sizeof(plan->cn));
    return check_cn(req, plan->cn, err);
}

static int plan_issue(const struct sti_cert_request *req,
                      const struct sti_cert *issuer,
                      const struct sti_key *issuer_key, struct issue_plan *plan,
                      struct sti_error *err)
{
    int rc;

    memset(plan, 0, sizeof(*plan));
    if (req == NULL || req->kind < STI_CERT_PA_ROOT ||
        req->kind > STI_CERT_DELEGATE)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown certificate kind; use pa-root, ca-root, "
                          "ca-intermediate, sp, sca or delegate");
    plan->profile = sti_profile_get(req->profile);
    if (plan->profile == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown profile '%s'; use us or fr", req->profile);
    rc = check_parties(req, issuer, issuer_key, err);
    if (rc == STI_OK)
        rc = check_tnauth(req, issuer, err);
    if (rc == STI_OK)
        rc = plan_names(req, plan, err);
    if (rc == STI_OK && !is_root_kind(req->kind))
        rc = check_crl_url(req->crl_url, err);
    if (rc == STI_OK)
        rc = resolve_validity(req, plan->profile, issuer, &plan->not_before,
                              &plan->not_after, err);
    return rc;
}

/* Building */

static int set_serial(X509 *x)
{
    unsigned char raw[16];
    BIGNUM *bn;
    int ok;

    if (sti_random_bytes(raw, sizeof(raw)) != STI_OK)
        return 0;
    /* Positive, and always 16 bytes long: 126 random bits. */
    raw[0] = (unsigned char)((raw[0] & 0x3f) | 0x40);
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int set_subject(X509 *x, const struct issue_plan *plan,
                       const char *organization)
{
    X509_NAME *name = X509_get_subject_name(x);

    return X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
                                      (const unsigned char *)plan->country, -1,
                                      -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                      (const unsigned char *)organization, -1,
                                      -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)plan->cn, -1, -1,
                                      0) == 1;
}

static int set_validity(X509 *x, const struct issue_plan *plan)
{
    return ASN1_TIME_set(X509_getm_notBefore(x), plan->not_before) != NULL &&
           ASN1_TIME_set(X509_getm_notAfter(x), plan->not_after) != NULL;
}

/* Adds an extension from an OpenSSL configuration value string. */
static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok;
}

static GENERAL_NAMES *one_general_name(GENERAL_NAME *gn)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();

    if (names == NULL || gn == NULL || !sk_GENERAL_NAME_push(names, gn)) {
        GENERAL_NAME_free(gn);
        GENERAL_NAMES_free(names);
        return NULL;
    }
    return names;
}

static GENERAL_NAME *uri_name(const char *url)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (gn == NULL || s == NULL || !ASN1_STRING_set(s, url, -1)) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, s);
    return gn;
}

static GENERAL_NAME *dir_name(const X509_NAME *name)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    X509_NAME *copy = X509_NAME_dup(name);

    if (gn == NULL || copy == NULL) {
        GENERAL_NAME_free(gn);
        X509_NAME_free(copy);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_DIRNAME, copy);
    return gn;
}

/* RFC 5280 section 4.2.1.13: one distribution point with a fullName URI
 * and, for an indirect CRL, the cRLIssuer DN. */
static int add_crl_dp(X509 *x, const char *url,
                      const struct sti_cert *crl_issuer)
{
    CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    int ok = 0;

    if (dps == NULL || dp == NULL || !sk_DIST_POINT_push(dps, dp)) {
        DIST_POINT_free(dp);
        goto out;
    }
    dp->distpoint = DIST_POINT_NAME_new();
    if (dp->distpoint == NULL)
        goto out;
    dp->distpoint->type = 0; /* fullName */
    dp->distpoint->name.fullname = one_general_name(uri_name(url));
    if (dp->distpoint->name.fullname == NULL)
        goto out;
    if (crl_issuer != NULL) {
        dp->CRLissuer = one_general_name(
            dir_name(X509_get_subject_name(sti_cert_get0_x509(crl_issuer))));
        if (dp->CRLissuer == NULL)
            goto out;
    }
    ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, dps, 0,
                           X509V3_ADD_DEFAULT) == 1;
out:
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return ok;
}

/* RFC 5280 section 4.2.1.4: one PolicyInformation without qualifiers. */
static int add_policy(X509 *x, const char *oid)
{
    CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
    POLICYINFO *info = POLICYINFO_new();
    int ok = 0;

    if (pols == NULL || info == NULL || !sk_POLICYINFO_push(pols, info)) {
        POLICYINFO_free(info);
        goto out;
    }
    ASN1_OBJECT_free(info->policyid);
    info->policyid = OBJ_txt2obj(oid, 1);
    if (info->policyid == NULL)
        goto out;
    ok = X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0,
                           X509V3_ADD_DEFAULT) == 1;
out:
    sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
    return ok;
}

static int add_tnauth_ext(X509 *x, const struct sti_tnauth *list, int critical,
                          struct sti_error *err)
{
    X509_EXTENSION *ext;
    int rc = sti_tnauth_ext_new(list, critical, &ext, err);

    if (rc == STI_OK && X509_add_ext(x, ext, -1) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot add the TNAuthList extension");
    X509_EXTENSION_free(ext);
    return rc;
}

static const char *key_usage_for(int kind)
{
    if (kind == STI_CERT_PA_ROOT) /* it also signs SPC tokens */
        return "critical,digitalSignature,keyCertSign,cRLSign";
    if (is_ca_kind(kind))
        return "critical,keyCertSign,cRLSign";
    return "critical,digitalSignature";
}

static const char *basic_constraints_for(int kind)
{
    if (kind == STI_CERT_SCA) /* issues end entities only */
        return "critical,CA:TRUE,pathlen:0";
    return is_ca_kind(kind) ? "critical,CA:TRUE" : "critical,CA:FALSE";
}

/* Adds basicConstraints, keyUsage and SKI to every certificate.  Non-roots
 * also get AKI, one policy, the CRL point and the TNAuthList when given. */
static int add_extensions(X509 *x, X509 *issuer_x,
                          const struct sti_cert_request *req,
                          const struct issue_plan *plan, struct sti_error *err)
{
    X509V3_CTX ctx;
    int root = is_root_kind(req->kind);

    X509V3_set_ctx(&ctx, issuer_x ? issuer_x : x, x, NULL, NULL, 0);
    if (!add_conf_ext(x, &ctx, NID_basic_constraints,
                      basic_constraints_for(req->kind)) ||
        !add_conf_ext(x, &ctx, NID_key_usage, key_usage_for(req->kind)) ||
        !add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        (!root &&
         !add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")))
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot add the basic extensions");
    if (root)
        return STI_OK;
    if (!add_policy(x, plan->policy_oid))
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot add certificatePolicies %s",
                              plan->policy_oid);
    if (!add_crl_dp(x, req->crl_url, req->crl_issuer))
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot add cRLDistributionPoints");
    if (req->tnauth != NULL)
        return add_tnauth_ext(x, req->tnauth, req->tnauth_critical, err);
    return STI_OK;
}

static int build_cert(X509 *x, const struct sti_cert_request *req,
                      const struct sti_cert *issuer,
                      const struct issue_plan *plan, struct sti_error *err)
{
    X509 *issuer_x = issuer ? sti_cert_get0_x509(issuer) : NULL;

    if (X509_set_version(x, X509_VERSION_3) != 1 || !set_serial(x) ||
        !set_subject(x, plan, req->organization) ||
        X509_set_issuer_name(x, issuer_x ? X509_get_subject_name(issuer_x)
                                         : X509_get_subject_name(x)) != 1 ||
        !set_validity(x, plan) ||
        X509_set_pubkey(x, sti_key_get0_pkey(req->subject_key)) != 1)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot fill the certificate fields");
    return add_extensions(x, issuer_x, req, plan, err);
}

/* Replaces *X by a copy decoded from its DER, so that the result holds no
 * reference to the subject's key object and matches what parsers see. */
static int reparse(X509 **x, struct sti_error *err)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    X509 *copy = NULL;
    int n = i2d_X509(*x, &der);

    p = der;
    if (n > 0)
        copy = d2i_X509(NULL, &p, n);
    OPENSSL_free(der);
    if (copy == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot re-read the issued certificate");
    X509_free(*x);
    *x = copy;
    return STI_OK;
}

int sti_cert_issue(const struct sti_cert_request *req,
                   const struct sti_cert *issuer,
                   const struct sti_key *issuer_key, struct sti_cert **out,
                   struct sti_error *err)
{
    struct issue_plan plan;
    const struct sti_key *signer;
    X509 *x;
    int rc;

    *out = NULL;
    rc = plan_issue(req, issuer, issuer_key, &plan, err);
    if (rc != STI_OK)
        return rc;
    x = X509_new();
    if (x == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = build_cert(x, req, issuer, &plan, err);
    signer = issuer ? issuer_key : req->subject_key;
    /* ECDSA with SHA-256 gives ecdsa-with-SHA256 (RFC 5758 section 3.2). */
    if (rc == STI_OK &&
        X509_sign(x, sti_key_get0_pkey(signer), EVP_sha256()) <= 0)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot sign certificate");
    if (rc == STI_OK)
        rc = reparse(&x, err);
    if (rc != STI_OK) {
        X509_free(x);
        return rc;
    }
    *out = sti_cert_from_x509(x);
    return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}
