/*
 * SHAKEN certificate profile checks.  The rules follow ATIS-1000080 v005
 * as quoted by the public SHAKEN lint suites, with RFC 5280 (X.509),
 * RFC 8226 (TNAuthList) and RFC 9060 (delegate certificates).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define TNAUTH_OID "1.3.6.1.5.5.7.1.26"
#define POLICY_OBSOLETE "2.16.840.1.114569.1.1.1"
#define POLICY_CP13 "2.16.840.1.114569.1.1.3"
#define POLICY_CP14 "2.16.840.1.114569.1.1.4"
#define MAX_CHAIN 16

struct sti_lint_report {
    struct sti_lint_finding *items;
    size_t count;
    size_t cap;
    size_t certs;
    int nomem;
};

enum role { ROLE_ROOT, ROLE_CA, ROLE_SCA, ROLE_SP, ROLE_DELEGATE };

/* The facts about one certificate and its issuer that its checks use. */
struct lint_ctx {
    struct sti_lint_report *report;
    const struct sti_profile *profile;
    time_t at;
    X509 **certs;
    size_t n;
    int index;
    X509 *x;
    X509 *issuer; /* the next certificate in the chain, or NULL */
    enum role role;
    struct sti_tnauth *tnauth; /* decoded TNAuthList, or NULL */
};

const char *sti_lint_severity_name(int severity)
{
    switch (severity) {
    case STI_LINT_NOTICE:
        return "notice";
    case STI_LINT_WARNING:
        return "warning";
    case STI_LINT_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

/* The rule prefix fixes the severity, so names and levels never drift. */
static int rule_severity(const char *rule)
{
    if (rule[0] == 'e')
        return STI_LINT_ERROR;
    if (rule[0] == 'w')
        return STI_LINT_WARNING;
    return STI_LINT_NOTICE;
}

static void report_add(struct sti_lint_report *r, const char *rule, int index,
                       const char *fmt, va_list ap)
{
    struct sti_lint_finding *f;

    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct sti_lint_finding *items = realloc(r->items, cap * sizeof(*f));

        if (items == NULL) {
            r->nomem = 1;
            return;
        }
        r->items = items;
        r->cap = cap;
    }
    f = &r->items[r->count++];
    f->rule = rule;
    f->severity = rule_severity(rule);
    f->cert_index = index;
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
}

static void finding(struct lint_ctx *c, const char *rule, const char *fmt, ...)
    STI_PRINTF(3, 4);

static void finding(struct lint_ctx *c, const char *rule, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_add(c->report, rule, c->index, fmt, ap);
    va_end(ap);
}

/* Extension access */

static ASN1_OBJECT *tnauth_obj(void)
{
    return OBJ_txt2obj(TNAUTH_OID, 1);
}

/* Returns the extension with OID in X, or NULL. */
static X509_EXTENSION *find_ext_oid(const X509 *x, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int pos = obj ? X509_get_ext_by_OBJ(x, obj, -1) : -1;

    ASN1_OBJECT_free(obj);
    return pos < 0 ? NULL : X509_get_ext(x, pos);
}

static X509_EXTENSION *find_ext_nid(const X509 *x, int nid)
{
    int pos = X509_get_ext_by_NID(x, nid, -1);

    return pos < 0 ? NULL : X509_get_ext(x, pos);
}

static int is_ca_cert(const X509 *x)
{
    BASIC_CONSTRAINTS *bc =
        X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    int ca = bc != NULL && bc->ca;

    BASIC_CONSTRAINTS_free(bc);
    return ca;
}

static int is_self_issued(const X509 *x)
{
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) ==
           0;
}

static enum role cert_role(X509 *x, X509 *issuer)
{
    if (is_ca_cert(x)) {
        if (is_self_issued(x))
            return ROLE_ROOT;
        return find_ext_oid(x, TNAUTH_OID) ? ROLE_SCA : ROLE_CA;
    }
    /* RFC 9060: delegate certificates are issued by a CA that itself
     * carries a TNAuthList. */
    if (issuer != NULL && is_ca_cert(issuer) && !is_self_issued(issuer) &&
        find_ext_oid(issuer, TNAUTH_OID) != NULL)
        return ROLE_DELEGATE;
    return ROLE_SP;
}

static const char *role_name(enum role role)
{
    static const char *names[] = {"root", "intermediate CA", "SCA",
                                  "SP end entity", "delegate end entity"};

    return names[role];
}

/* Basic fields */

static void check_version_and_alg(struct lint_ctx *c)
{
    int nid = X509_get_signature_nid(c->x);

    if (X509_get_version(c->x) != X509_VERSION_3)
        finding(c, "e_version_not_v3",
                "version is v%ld; SHAKEN certificates are X.509 v3",
                X509_get_version(c->x) + 1);
    if (nid != NID_ecdsa_with_SHA256)
        finding(c, "e_signature_algorithm",
                "signature algorithm is %s; sign with ecdsa-with-SHA256",
                nid == NID_undef ? "unknown" : OBJ_nid2sn(nid));
}

static void check_key(struct lint_ctx *c)
{
    EVP_PKEY *pk = X509_get0_pubkey(c->x);
    char group[64] = "";
    size_t glen = 0;

    if (pk == NULL) {
        finding(c, "e_key_not_p256",
                "public key cannot be parsed; use an EC P-256 key");
        return;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) {
        finding(c, "e_key_not_p256", "public key is %s; use an EC P-256 key",
                EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk)
                                            : "unknown");
        return;
    }
    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen);
    if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
        finding(c, "e_key_not_p256",
                "public key is EC on curve %s; use P-256 (prime256v1)",
                group[0] ? group : "unknown");
}

static void check_serial(struct lint_ctx *c)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x), NULL);

    if (bn == NULL)
        return;
    if (BN_is_negative(bn) || BN_is_zero(bn))
        finding(c, "e_serial_not_positive",
                "serial number is zero or negative; RFC 5280 section "
                "4.1.2.2 requires a positive serial");
    /* 64 random bits give fewer than 57 significant bits once in 2^8. */
    else if (BN_num_bits(bn) < 57)
        finding(c, "e_serial_too_short",
                "serial number has %d bits; draw at least 64 random bits",
                BN_num_bits(bn));
    BN_free(bn);
}

static int time_of(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = timegm(&tm);
    return 0;
}

static void check_validity(struct lint_ctx *c)
{
    time_t nb, na;
    double days;

    if (time_of(X509_get0_notBefore(c->x), &nb) != 0 ||
        time_of(X509_get0_notAfter(c->x), &na) != 0) {
        finding(c, "e_validity_invalid", "validity dates cannot be parsed");
        return;
    }
    if (na <= nb) {
        finding(c, "e_validity_order", "notAfter is not after notBefore");
        return;
    }
    days = difftime(na, nb) / 86400.0;
    if ((c->role == ROLE_SP || c->role == ROLE_DELEGATE) &&
        days > c->profile->ee_max_days + 1)
        finding(c, "e_validity_too_long",
                "end-entity lifetime is %.0f days; profile %s allows at "
                "most %d",
                days, c->profile->name, c->profile->ee_max_days);
    if (c->at > na)
        finding(c, "w_expired", "certificate expired %.0f days ago",
                difftime(c->at, na) / 86400.0);
    else if (c->at < nb)
        finding(c, "w_not_yet_valid",
                "certificate is valid only from %.0f "
                "seconds after the checked time",
                difftime(nb, c->at));
}

/* Subject */

static char *name_entry(const X509_NAME *name, int nid)
{
    int pos = X509_NAME_get_index_by_NID(name, nid, -1);
    unsigned char *utf8 = NULL;
    char *out;
    int len;

    if (pos < 0)
        return NULL;
    len = ASN1_STRING_to_UTF8(
        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos)));
    if (len < 0)
        return NULL;
    out = strndup((const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    return out;
}

static void check_country(struct lint_ctx *c, const char *country)
{
    if (country == NULL) {
        finding(c, "e_subject_c_missing",
                "subject has no C; add an ISO 3166 alpha-2 country");
        return;
    }
    if (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' ||
        country[1] < 'A' || country[1] > 'Z')
        finding(c, "e_subject_c_invalid",
                "subject C '%s' is not an ISO 3166 alpha-2 code such as US",
                country);
}

static void check_common_name(struct lint_ctx *c, const char *cn)
{
    const char *spc = c->tnauth ? sti_tnauth_get0_spc(c->tnauth) : NULL;
    char want[64];

    if (cn == NULL) {
        finding(c, "e_subject_cn_missing", "subject has no CN");
        return;
    }
    if (strstr(cn, "SHAKEN") == NULL) {
        finding(c, "e_subject_cn_shaken",
                "subject CN '%s' does not contain 'SHAKEN'", cn);
        return;
    }
    if (c->role == ROLE_ROOT && strstr(cn, "ROOT") == NULL)
        finding(c, "w_subject_cn_root", "root CN '%s' does not contain 'ROOT'",
                cn);
    if (c->role == ROLE_SP && spc != NULL) {
        snprintf(want, sizeof(want), "SHAKEN %s", spc);
        if (strcmp(cn, want) != 0)
            finding(c, "w_subject_cn_spc",
                    "end-entity CN is '%s'; expected '%s'", cn, want);
    }
}

static void check_subject(struct lint_ctx *c)
{
    const X509_NAME *name = X509_get_subject_name(c->x);
    char *cn = name_entry(name, NID_commonName);
    char *org = name_entry(name, NID_organizationName);
    char *country = name_entry(name, NID_countryName);

    check_common_name(c, cn);
    if (org == NULL || org[0] == '\0')
        finding(c, "e_subject_o_missing", "subject has no O");
    check_country(c, country);
    free(cn);
    free(org);
    free(country);
}

/* basicConstraints and keyUsage (RFC 5280 sections 4.2.1.9, 4.2.1.3) */

static void check_basic_constraints(struct lint_ctx *c)
{
    X509_EXTENSION *ext = find_ext_nid(c->x, NID_basic_constraints);

    if (ext == NULL) {
        finding(c, "e_basic_constraints_missing",
                "basicConstraints is missing; add it as critical");
        return;
    }
    if (!X509_EXTENSION_get_critical(ext))
        finding(c, "e_basic_constraints_not_critical",
                "basicConstraints is not critical");
}

static void check_key_usage(struct lint_ctx *c)
{
    X509_EXTENSION *ext = find_ext_nid(c->x, NID_key_usage);
    uint32_t ku = X509_get_key_usage(c->x);
    const uint32_t ca_allowed =
        KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE;

    if (ext == NULL) {
        finding(c, "e_key_usage_missing",
                "keyUsage is missing; add it as critical");
        return;
    }
    if (!X509_EXTENSION_get_critical(ext))
        finding(c, "e_key_usage_not_critical", "keyUsage is not critical");
    if (c->role == ROLE_SP || c->role == ROLE_DELEGATE) {
        if (ku != KU_DIGITAL_SIGNATURE)
            finding(c, "e_key_usage_ee",
                    "end-entity keyUsage is 0x%x; use digitalSignature only",
                    (unsigned)ku);
    } else if (!(ku & KU_KEY_CERT_SIGN) || (ku & ~ca_allowed) != 0) {
        finding(c, "e_key_usage_ca",
                "CA keyUsage is 0x%x; use keyCertSign, optionally with "
                "cRLSign and digitalSignature",
                (unsigned)ku);
    }
}

/* Key identifiers (RFC 5280 sections 4.2.1.1 and 4.2.1.2) */

static int same_octets(const ASN1_OCTET_STRING *a, const unsigned char *b,
                       int blen)
{
    return a != NULL && ASN1_STRING_length(a) == blen &&
           memcmp(ASN1_STRING_get0_data(a), b, (size_t)blen) == 0;
}

static void check_ski(struct lint_ctx *c)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(c->x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (ski == NULL) {
        finding(c, "e_ski_missing", "subjectKeyIdentifier is missing");
        return;
    }
    if (X509_pubkey_digest(c->x, EVP_sha1(), md, &mdlen) == 1 &&
        !same_octets(ski, md, (int)mdlen))
        finding(c, "w_ski_not_key_hash",
                "subjectKeyIdentifier is not the SHA-1 of the public key "
                "(RFC 5280 section 4.2.1.2 method 1)");
}

static void check_aki(struct lint_ctx *c)
{
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(c->x);
    const ASN1_OCTET_STRING *issuer_ski;

    if (c->role == ROLE_ROOT)
        return;
    if (aki == NULL) {
        finding(c, "e_aki_missing",
                "authorityKeyIdentifier with a keyIdentifier is missing");
        return;
    }
    if (c->issuer == NULL)
        return;
    issuer_ski = X509_get0_subject_key_id(c->issuer);
    if (issuer_ski != NULL && ASN1_OCTET_STRING_cmp(aki, issuer_ski) != 0)
        finding(c, "e_aki_mismatch",
                "authorityKeyIdentifier does not match the issuer's "
                "subjectKeyIdentifier");
}

/* certificatePolicies */

static int policy_known(const struct lint_ctx *c, const char *oid)
{
    const struct sti_profile *fr = sti_profile_get("fr");
    const struct sti_profile *us = sti_profile_get("us");

    return strcmp(oid, POLICY_CP13) == 0 || strcmp(oid, POLICY_CP14) == 0 ||
           strcmp(oid, c->profile->policy_oid) == 0 ||
           (fr != NULL && strcmp(oid, fr->policy_oid) == 0) ||
           (us != NULL && strcmp(oid, us->policy_oid) == 0);
}

static void check_policy_oid(struct lint_ctx *c, const ASN1_OBJECT *obj)
{
    char oid[96];

    OBJ_obj2txt(oid, sizeof(oid), obj, 1);
    if (strcmp(oid, POLICY_OBSOLETE) == 0)
        finding(c, "e_policy_obsolete",
                "certificate policy %s is obsolete; use %s (CP 1.4)", oid,
                POLICY_CP14);
    else if (!policy_known(c, oid))
        finding(c, "w_policy_unknown",
                "certificate policy %s is not a SHAKEN policy such as %s", oid,
                POLICY_CP14);
}

static void check_policies(struct lint_ctx *c)
{
    X509_EXTENSION *ext = find_ext_nid(c->x, NID_certificate_policies);
    CERTIFICATEPOLICIES *cp;

    if (c->role == ROLE_ROOT) {
        if (ext != NULL)
            finding(c, "e_policy_on_root",
                    "root carries certificatePolicies; roots carry none");
        return;
    }
    if (ext == NULL) {
        finding(c, "e_policy_missing",
                "certificatePolicies is missing; add exactly one SHAKEN "
                "policy OID such as %s",
                POLICY_CP14);
        return;
    }
    if (X509_EXTENSION_get_critical(ext))
        finding(c, "e_policy_critical", "certificatePolicies is critical");
    cp = X509V3_EXT_d2i(ext);
    if (cp == NULL) {
        finding(c, "e_policy_malformed",
                "certificatePolicies cannot be "
                "decoded");
        return;
    }
    if (sk_POLICYINFO_num(cp) != 1)
        finding(c, "e_policy_count",
                "certificatePolicies holds %d policies; use exactly one",
                sk_POLICYINFO_num(cp));
    for (int i = 0; i < sk_POLICYINFO_num(cp); i++)
        check_policy_oid(c, sk_POLICYINFO_value(cp, i)->policyid);
    CERTIFICATEPOLICIES_free(cp);
}

/* cRLDistributionPoints (RFC 5280 section 4.2.1.13) */

static void check_dist_point(struct lint_ctx *c, const DIST_POINT *dp)
{
    const GENERAL_NAMES *names;
    const GENERAL_NAME *gn;
    const char *url;

    if (dp->CRLissuer == NULL)
        finding(c, "e_crldp_crl_issuer_missing",
                "the distribution point has no cRLIssuer; name the CRL "
                "issuer (the policy administrator)");
    if (dp->distpoint == NULL || dp->distpoint->type != 0 ||
        sk_GENERAL_NAME_num(dp->distpoint->name.fullname) != 1) {
        finding(c, "e_crldp_url",
                "the distribution point must hold exactly one URL");
        return;
    }
    names = dp->distpoint->name.fullname;
    gn = sk_GENERAL_NAME_value(names, 0);
    if (gn->type != GEN_URI) {
        finding(c, "e_crldp_url", "the distribution point is not a URL");
        return;
    }
    url = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        finding(c, "e_crldp_url", "CRL URL '%.100s' is not an HTTP URL", url);
}

static void check_crldp(struct lint_ctx *c)
{
    X509_EXTENSION *ext = find_ext_nid(c->x, NID_crl_distribution_points);
    CRL_DIST_POINTS *dps;

    if (c->role == ROLE_ROOT) {
        if (ext != NULL)
            finding(c, "e_crldp_on_root",
                    "root carries cRLDistributionPoints; roots carry none");
        return;
    }
    if (ext == NULL) {
        finding(c, "e_crldp_missing",
                "cRLDistributionPoints is missing; add the policy "
                "administrator's CRL URL and cRLIssuer");
        return;
    }
    if (X509_EXTENSION_get_critical(ext))
        finding(c, "e_crldp_critical", "cRLDistributionPoints is critical");
    dps = X509V3_EXT_d2i(ext);
    if (dps == NULL) {
        finding(c, "e_crldp_malformed",
                "cRLDistributionPoints cannot be decoded");
        return;
    }
    if (sk_DIST_POINT_num(dps) != 1)
        finding(c, "e_crldp_count",
                "cRLDistributionPoints holds %d points; use exactly one",
                sk_DIST_POINT_num(dps));
    if (sk_DIST_POINT_num(dps) > 0)
        check_dist_point(c, sk_DIST_POINT_value(dps, 0));
    CRL_DIST_POINTS_free(dps);
}

/* TNAuthList (RFC 8226 section 9) */

/*
 * Looks for an SPC that breaks [0-9A-Z] in DER that the strict decoder
 * rejected, walking TNAuthorizationList ::= SEQUENCE OF TNEntry with
 * ASN1_get_object.  Copies the first such SPC to BAD and returns 1.
 */
static int find_bad_spc(const unsigned char *der, long len, char *bad,
                        size_t badlen)
{
    const unsigned char *p = der, *end;
    long inner;
    int tag, cls;

    if (ASN1_get_object(&p, &inner, &tag, &cls, len) & 0x80 ||
        tag != V_ASN1_SEQUENCE)
        return 0;
    end = p + inner;
    while (p < end) {
        const unsigned char *q;
        long elen, slen;
        int etag, ecls, stag, scls;

        if (ASN1_get_object(&p, &elen, &etag, &ecls, end - p) & 0x80)
            return 0;
        q = p;
        p += elen;
        if (ecls != V_ASN1_CONTEXT_SPECIFIC || etag != 0)
            continue;
        if (ASN1_get_object(&q, &slen, &stag, &scls, elen) & 0x80 ||
            stag != V_ASN1_IA5STRING)
            return 0;
        for (long i = 0; i < slen; i++) {
            if ((q[i] >= '0' && q[i] <= '9') || (q[i] >= 'A' && q[i] <= 'Z'))
                continue;
            snprintf(bad, badlen, "%.*s", (int)(slen < 32 ? slen : 32),
                     (const char *)q);
            return 1;
        }
    }
    return 0;
}

static void decode_tnauth(struct lint_ctx *c, X509_EXTENSION *ext)
{
    const ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
    const unsigned char *der = ASN1_STRING_get0_data(value);
    int len = ASN1_STRING_length(value);
    struct sti_error err;
    char bad[40];

    if (sti_tnauth_decode(der, (size_t)len, &c->tnauth, &err) == STI_OK)
        return;
    c->tnauth = NULL;
    if (find_bad_spc(der, len, bad, sizeof(bad)))
        finding(c, "e_tnauth_spc_invalid",
                "TNAuthList SPC '%s' is not made of 0-9 and A-Z "
                "(uppercase)",
                bad);
    else
        /* The decoder's messages already name the TNAuthList. */
        finding(c, "e_tnauth_malformed", "%s", err.message);
}

static void check_tnauth_entries(struct lint_ctx *c)
{
    size_t spcs = 0, tns = 0;

    for (size_t i = 0; i < c->tnauth->count; i++) {
        if (c->tnauth->entries[i].type == STI_TN_SPC)
            spcs++;
        else
            tns++;
    }
    if (c->role == ROLE_SP) {
        if (tns > 0)
            finding(c, "e_tnauth_ee_tn_entry",
                    "TNAuthList holds %zu TN or range entries; an SP end "
                    "entity carries one SPC (TNs belong in delegate "
                    "certificates issued by an SCA)",
                    tns);
        if (spcs != 1)
            finding(c, "e_tnauth_spc_count",
                    "TNAuthList holds %zu SPCs; an SP end entity carries "
                    "exactly one",
                    spcs);
    }
}

static void check_delegate_scope(struct lint_ctx *c)
{
    X509_EXTENSION *ext;
    struct sti_tnauth *outer = NULL;
    const ASN1_OCTET_STRING *v;

    if (c->role != ROLE_DELEGATE || c->tnauth == NULL || c->issuer == NULL)
        return;
    ext = find_ext_oid(c->issuer, TNAUTH_OID);
    v = X509_EXTENSION_get_data(ext);
    if (sti_tnauth_decode(ASN1_STRING_get0_data(v),
                          (size_t)ASN1_STRING_length(v), &outer,
                          NULL) != STI_OK)
        return; /* the issuer's own lint reports it */
    if (!sti_tnauth_encompasses(outer, c->tnauth))
        finding(c, "e_tnauth_not_encompassed",
                "TNAuthList is not encompassed by the issuing SCA's "
                "TNAuthList (RFC 9060 section 4)");
    sti_tnauth_free(outer);
}

static void check_tnauth(struct lint_ctx *c)
{
    X509_EXTENSION *ext = find_ext_oid(c->x, TNAUTH_OID);

    if (ext == NULL) {
        if (c->role == ROLE_SP || c->role == ROLE_DELEGATE)
            finding(c, "e_tnauth_missing",
                    "%s has no TNAuthList; add one SPC (or, for a "
                    "delegate, its TNs)",
                    role_name(c->role));
        return;
    }
    if (X509_EXTENSION_get_critical(ext))
        finding(c, "e_tnauth_critical",
                "TNAuthList is critical; only basicConstraints and keyUsage "
                "may be, and verifiers reject it");
    if (c->role == ROLE_ROOT)
        finding(c, "e_tnauth_on_root", "root carries a TNAuthList");
    decode_tnauth(c, ext);
    if (c->tnauth != NULL) {
        check_tnauth_entries(c);
        check_delegate_scope(c);
    }
}

/* Other extensions */

static int ext_allowed(int nid)
{
    return nid == NID_basic_constraints || nid == NID_key_usage ||
           nid == NID_subject_key_identifier ||
           nid == NID_authority_key_identifier ||
           nid == NID_certificate_policies ||
           nid == NID_crl_distribution_points;
}

static void check_one_ext(struct lint_ctx *c, X509_EXTENSION *ext,
                          const ASN1_OBJECT *tnauth)
{
    const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
    int nid = OBJ_obj2nid(obj);
    char oid[96];

    OBJ_obj2txt(oid, sizeof(oid), obj, 0);
    if (OBJ_cmp(obj, tnauth) == 0)
        return;
    if (nid == NID_info_access)
        finding(c, "e_ext_aia",
                "authorityInfoAccess is present; SHAKEN certificates carry "
                "none");
    else if (nid == NID_issuer_alt_name)
        finding(c, "e_ext_issuer_alt_name",
                "issuerAltName is present; SHAKEN certificates carry none");
    else if (!ext_allowed(nid))
        finding(c, "e_ext_not_allowed",
                "extension %s is not part of the SHAKEN profile", oid);
    else if (X509_EXTENSION_get_critical(ext) && nid != NID_basic_constraints &&
             nid != NID_key_usage)
        finding(c, "e_ext_critical", "extension %s must not be critical", oid);
}

static void check_extensions(struct lint_ctx *c)
{
    ASN1_OBJECT *tnauth = tnauth_obj();
    int n = X509_get_ext_count(c->x);

    for (int i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(c->x, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
        char oid[96];

        check_one_ext(c, ext, tnauth);
        if (X509_get_ext_by_OBJ(c->x, obj, i) >= 0) {
            OBJ_obj2txt(oid, sizeof(oid), obj, 0);
            finding(c, "e_ext_duplicate", "extension %s appears more than once",
                    oid);
        }
    }
    ASN1_OBJECT_free(tnauth);
}

/* Chain order and signatures */

static char *name_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    if (bio == NULL)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        out = strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return out;
}

static void check_link(struct lint_ctx *c)
{
    char *sub, *iss;

    if (c->issuer == NULL)
        return;
    if (X509_NAME_cmp(X509_get_issuer_name(c->x),
                      X509_get_subject_name(c->issuer)) != 0) {
        sub = name_text(X509_get_subject_name(c->issuer));
        iss = name_text(X509_get_issuer_name(c->x));
        finding(c, "e_chain_order",
                "issuer '%.80s' is not the subject '%.80s' of the next "
                "certificate; order the chain leaf first",
                iss ? iss : "?", sub ? sub : "?");
        free(sub);
        free(iss);
        return;
    }
    if (X509_verify(c->x, X509_get0_pubkey(c->issuer)) != 1)
        finding(c, "e_chain_signature",
                "signature does not verify with the next certificate's key");
    if (!is_ca_cert(c->issuer))
        finding(c, "e_chain_issuer_not_ca",
                "the next certificate, which issued this one, is not a CA");
    ERR_clear_error();
}

static void check_chain_end(struct lint_ctx *c)
{
    if ((size_t)c->index != c->n - 1)
        return;
    if (!is_self_issued(c->x)) {
        finding(c, "n_chain_no_root",
                "the chain ends below its root; verifiers supply the root "
                "as a trust anchor");
        return;
    }
    if (X509_verify(c->x, X509_get0_pubkey(c->x)) != 1)
        finding(c, "e_chain_root_signature",
                "the self-signed certificate's signature does not verify");
    ERR_clear_error();
}

static void lint_one(struct lint_ctx *c, size_t i)
{
    c->index = (int)i;
    c->x = c->certs[i];
    c->issuer = i + 1 < c->n ? c->certs[i + 1] : NULL;
    c->role = cert_role(c->x, c->issuer);
    c->tnauth = NULL;
    check_version_and_alg(c);
    check_key(c);
    check_serial(c);
    check_tnauth(c); /* first: the CN check compares with the SPC */
    check_subject(c);
    check_validity(c);
    check_basic_constraints(c);
    check_key_usage(c);
    check_ski(c);
    check_aki(c);
    check_policies(c);
    check_crldp(c);
    check_extensions(c);
    check_link(c);
    check_chain_end(c);
    sti_tnauth_free(c->tnauth);
    c->tnauth = NULL;
}

static int lint_x509s(X509 **certs, size_t n,
                      const struct sti_lint_options *options,
                      struct sti_lint_report **out, struct sti_error *err)
{
    const char *pname = options && options->profile ? options->profile : "us";
    struct lint_ctx c;

    memset(&c, 0, sizeof(c));
    *out = NULL;
    c.profile = sti_profile_get(pname);
    if (c.profile == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown profile '%s'; use us or fr", pname);
    if (n == 0)
        return sti_seterr(err, STI_ERR_INVALID, "no certificate to lint");
    c.report = calloc(1, sizeof(*c.report));
    if (c.report == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    c.at = options && options->at ? options->at : time(NULL);
    c.certs = certs;
    c.n = n;
    c.report->certs = n;
    for (size_t i = 0; i < n; i++)
        lint_one(&c, i);
    if (c.report->nomem) {
        sti_lint_report_free(c.report);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    *out = c.report;
    return STI_OK;
}

int sti_lint_chain(const struct sti_chain *chain,
                   const struct sti_lint_options *options,
                   struct sti_lint_report **out, struct sti_error *err)
{
    X509 *certs[MAX_CHAIN];
    size_t n = chain ? sti_chain_count(chain) : 0;

    *out = NULL;
    if (n > MAX_CHAIN)
        return sti_seterr(err, STI_ERR_INVALID,
                          "chain holds %zu certificates; at most %d are "
                          "linted",
                          n, MAX_CHAIN);
    for (size_t i = 0; i < n; i++)
        certs[i] = sti_cert_get0_x509(sti_chain_get0(chain, i));
    return lint_x509s(certs, n, options, out, err);
}

/* Input parsing */

static int parse_pem(const void *data, size_t len, X509 **certs, size_t *n,
                     struct sti_error *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *x;

    if (bio == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (*n == MAX_CHAIN) {
            X509_free(x);
            BIO_free(bio);
            return sti_seterr(err, STI_ERR_INVALID,
                              "more than %d certificates; lint a shorter "
                              "chain",
                              MAX_CHAIN);
        }
        certs[(*n)++] = x;
    }
    BIO_free(bio);
    if (*n == 0) {
        ERR_clear_error();
        return sti_seterr(err, STI_ERR_INVALID,
                          "no PEM certificate found; give PEM or DER "
                          "certificates");
    }
    /* The loop ends at end of input or at a block it cannot read. */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
        return sti_seterr_ssl(err, STI_ERR_INVALID,
                              "certificate %zu of the PEM input cannot be "
                              "parsed",
                              *n + 1);
    ERR_clear_error();
    return STI_OK;
}

static int parse_der(const unsigned char *p, size_t len, X509 **certs,
                     size_t *n, struct sti_error *err)
{
    const unsigned char *end = p + len;

    while (p < end) {
        X509 *x;

        if (*n == MAX_CHAIN)
            return sti_seterr(err, STI_ERR_INVALID, "more than %d certificates",
                              MAX_CHAIN);
        x = d2i_X509(NULL, &p, end - p);
        if (x == NULL)
            return sti_seterr_ssl(err, STI_ERR_INVALID,
                                  "DER certificate %zu cannot be parsed; give "
                                  "PEM or DER certificates",
                                  *n + 1);
        certs[(*n)++] = x;
    }
    return STI_OK;
}

static int looks_like_pem(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (i < len &&
           (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return len - i >= 11 && memcmp(p + i, "-----BEGIN ", 11) == 0;
}

int sti_lint_data(const void *data, size_t len,
                  const struct sti_lint_options *options,
                  struct sti_lint_report **out, struct sti_error *err)
{
    X509 *certs[MAX_CHAIN];
    size_t n = 0;
    int rc;

    *out = NULL;
    if (data == NULL || len == 0 || len > INT32_MAX)
        return sti_seterr(err, STI_ERR_INVALID,
                          "empty input; give PEM or DER certificates");
    if (looks_like_pem(data, len))
        rc = parse_pem(data, len, certs, &n, err);
    else
        rc = parse_der(data, len, certs, &n, err);
    if (rc == STI_OK)
        rc = lint_x509s(certs, n, options, out, err);
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    return rc;
}

/* Report access and output */

void sti_lint_report_free(struct sti_lint_report *report)
{
    if (report == NULL)
        return;
    free(report->items);
    free(report);
}

size_t sti_lint_report_count(const struct sti_lint_report *report)
{
    return report ? report->count : 0;
}

const struct sti_lint_finding *
sti_lint_report_get0(const struct sti_lint_report *report, size_t index)
{
    return report && index < report->count ? &report->items[index] : NULL;
}

size_t sti_lint_report_cert_count(const struct sti_lint_report *report)
{
    return report ? report->certs : 0;
}

size_t sti_lint_report_severity_count(const struct sti_lint_report *report,
                                      int severity)
{
    size_t n = 0;

    for (size_t i = 0; report && i < report->count; i++)
        n += report->items[i].severity == severity;
    return n;
}

int sti_lint_report_has(const struct sti_lint_report *report, const char *rule)
{
    for (size_t i = 0; report && rule && i < report->count; i++)
        if (strcmp(report->items[i].rule, rule) == 0)
            return 1;
    return 0;
}

int sti_lint_report_to_text(const struct sti_lint_report *report, char **text,
                            struct sti_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    *text = NULL;
    if (f == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (report->count == 0)
        fprintf(f, "clean: %zu certificate%s, no findings\n", report->certs,
                report->certs == 1 ? "" : "s");
    for (size_t i = 0; i < report->count; i++) {
        const struct sti_lint_finding *fd = &report->items[i];

        if (fd->cert_index < 0)
            fprintf(f, "chain: ");
        else
            fprintf(f, "cert %d: ", fd->cert_index);
        fprintf(f, "%s %s: %s\n", sti_lint_severity_name(fd->severity),
                fd->rule, fd->message);
    }
    if (fclose(f) != 0) {
        free(buf);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    *text = buf;
    return STI_OK;
}

static json_t *finding_to_json(const struct sti_lint_finding *fd)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "rule", json_string(fd->rule));
    json_object_set_new(obj, "severity",
                        json_string(sti_lint_severity_name(fd->severity)));
    json_object_set_new(obj, "certificate", json_integer(fd->cert_index));
    json_object_set_new(obj, "message", json_string(fd->message));
    return obj;
}

int sti_lint_report_to_json(const struct sti_lint_report *report, char **json,
                            struct sti_error *err)
{
    json_t *root = json_object(), *list = json_array();

    *json = NULL;
    if (root == NULL || list == NULL)
        goto nomem;
    json_object_set_new(root, "certificates",
                        json_integer((json_int_t)report->certs));
    json_object_set_new(root, "errors",
                        json_integer((json_int_t)sti_lint_report_severity_count(
                            report, STI_LINT_ERROR)));
    json_object_set_new(root, "warnings",
                        json_integer((json_int_t)sti_lint_report_severity_count(
                            report, STI_LINT_WARNING)));
    json_object_set_new(root, "notices",
                        json_integer((json_int_t)sti_lint_report_severity_count(
                            report, STI_LINT_NOTICE)));
    for (size_t i = 0; i < report->count; i++)
        if (json_array_append_new(list, finding_to_json(&report->items[i])))
            goto nomem;
    json_object_set(root, "findings", list);
    *json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (*json == NULL)
        goto nomem;
    json_decref(list);
    json_decref(root);
    return STI_OK;
nomem:
    json_decref(list);
    json_decref(root);
    return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}
