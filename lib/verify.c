/*
 * The verification service: RFC 8224 section 6.2 and RFC 8588 checks of
 * Identity headers against the x5u chain, the trust anchors, the PA's CRL
 * and the SIP message, with results in the SIP response code terms of
 * RFC 8224 section 6.2.2.
 */
#include "jws_int.h"
#include "passport_int.h"
#include "x5u_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PASSPORTS 16

struct sti_verifier {
    char profile[8];
    int freshness_s;
    int future_skew_s;
    struct sti_x5u_policy policy;
    struct sti_x5u_cache *cache;
    pthread_rwlock_t trust_lock; /* guards trust, crl, signers, gen */
    struct sti_trust *trust;
    struct sti_crl *crl;
    struct sti_cert *crl_signers[16];
    size_t crl_signer_count;
    unsigned long gen; /* bumped when anchors or the CRL change */
};

/* One Identity header with its PASSporT. */
struct item {
    struct sti_identity *id;
    struct sti_passport *pp;
    const struct sti_passport_claims *c;
};

struct job {
    struct sti_verifier *v;
    const struct sti_verify_request *req;
    struct sti_verify_result *res;
    time_t now;
    time_t date;      /* the call's Date, or 0 when unknown */
    int date_invalid; /* 1 when the SIP Date header is invalid */
    struct sti_error date_err;
    struct item items[MAX_PASSPORTS];
    size_t count;
};

/* Verdicts */

/* Copies SRC (NULL as "") into a fixed field, truncating. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= size)
        n = size - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static const char *code_reason(int code)
{
    switch (code) {
    case 403:
        return "Stale Date";
    case 428:
        return "Use Identity Header";
    case 436:
        return "Bad Identity Info";
    case 437:
        return "Unsupported Credential";
    case 438:
        return "Invalid Identity Header";
    default:
        return "";
    }
}

/* Records a failed verdict; returns OUTCOME so callers can stop. */
static int verdict(struct sti_verify_result *res, int outcome, int code,
                   const char *fmt, ...) STI_PRINTF(4, 5);

static int verdict(struct sti_verify_result *res, int outcome, int code,
                   const char *fmt, ...)
{
    va_list ap;

    res->outcome = outcome;
    res->sip_code = code;
    snprintf(res->sip_reason, sizeof(res->sip_reason), "%s", code_reason(code));
    snprintf(res->verstat, sizeof(res->verstat), "%s",
             outcome == STI_VERIFY_FAIL ? "TN-Validation-Failed"
                                        : "No-TN-Validation");
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return outcome;
}

const char *sti_verify_outcome_name(int outcome)
{
    switch (outcome) {
    case STI_VERIFY_PASS:
        return "pass";
    case STI_VERIFY_FAIL:
        return "fail";
    case STI_VERIFY_NOCHECK:
        return "nocheck";
    default:
        return "unknown";
    }
}

/* Trust anchors and CRL */

/* Fetches URL, whose response must have status 200 and at most MAX bytes.
 * WHAT names it in errors ("CRL URL"), and the caller frees the body. */
static int http_get(const char *what, const char *url, const char *ca_file,
                    size_t max, char **data, size_t *len, struct sti_error *err)
{
    struct sti_http_options opts = {.ca_file = ca_file, .max_body = max};
    struct sti_http_response *resp = NULL;
    int rc = sti_http_request("GET", url, NULL, 0, &opts, &resp, err);

    *data = NULL;
    if (rc == STI_OK && resp->status != 200)
        rc = sti_seterr(err, STI_ERR_NET,
                        "%s %s returned HTTP status %ld; check the URL", what,
                        url, resp->status);
    if (rc == STI_OK) {
        *data = (char *)resp->body;
        *len = resp->body_len;
        resp->body = NULL;
    }
    sti_http_response_free(resp);
    return rc;
}

int sti_crl_fetch(const char *file, const char *url, const char *ca_file,
                  struct sti_crl **out, struct sti_error *err)
{
    char *body;
    size_t len = 0;
    int rc;

    if (file != NULL)
        return sti_crl_load(file, out, err);
    rc = http_get("CRL URL", url, ca_file, 16 * 1024 * 1024, &body, &len, err);
    if (rc == STI_OK)
        rc = sti_crl_parse(body, len, out, err);
    free(body);
    return rc;
}

static int is_url(const char *source)
{
    return strncasecmp(source, "http://", 7) == 0 ||
           strncasecmp(source, "https://", 8) == 0;
}

/* Reads SOURCE, a file or an http(s) URL whose response must be 200. */
static int read_source(const char *source, const char *ca_file, size_t max,
                       char **data, size_t *len, struct sti_error *err)
{
    *data = NULL;
    if (!is_url(source))
        return sti_file_read_max(source, max, (unsigned char **)data, len, err);
    return http_get("URL", source, ca_file, max, data, len, err);
}

int sti_trust_load_ca_list(struct sti_trust *trust, const char *source,
                           const char *pa_cert_file, const char *ca_file,
                           struct sti_error *err)
{
    struct sti_cert *pa_cert = NULL;
    struct sti_pa_calist *list = NULL;
    char *doc = NULL;
    size_t len = 0;
    int rc;

    if (trust == NULL || source == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no trust or CA list given");
    if (pa_cert_file == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the CA list %s needs the PA certificate that "
                          "signed it; give the PA certificate file",
                          source);
    rc = sti_error_prefix(err, sti_cert_load(pa_cert_file, &pa_cert, err),
                          "the PA certificate");
    if (rc == STI_OK) {
        char prefix[STI_ERROR_MAX];

        snprintf(prefix, sizeof(prefix), "CA list %.200s", source);
        rc = read_source(source, ca_file, 4 * 1024 * 1024, &doc, &len, err);
        if (rc == STI_OK)
            rc = sti_pa_calist_verify(doc, len, pa_cert, 0, &list, err);
        rc = sti_error_prefix(err, rc, prefix);
    }
    for (size_t i = 0; rc == STI_OK && i < sti_chain_count(list->roots); i++)
        rc = sti_trust_add_anchor(trust, sti_chain_get0(list->roots, i), err);
    if (rc == STI_OK)
        sti_trust_set_list(trust, list->version, list->expires);
    sti_pa_calist_free(list);
    free(doc);
    sti_cert_free(pa_cert);
    return rc;
}

int sti_verifier_load_anchors(struct sti_trust *trust,
                              const struct sti_verifier_config *cfg,
                              struct sti_error *err)
{
    int rc = STI_OK;

    if (cfg->ca_file != NULL)
        rc = sti_trust_load_anchors(trust, cfg->ca_file, err);
    if (rc == STI_OK && cfg->ca_dir != NULL)
        rc = sti_trust_load_anchors(trust, cfg->ca_dir, err);
    if (rc == STI_OK && cfg->ca_list != NULL)
        rc = sti_trust_load_ca_list(trust, cfg->ca_list,
                                    cfg->ca_list_signer_file, cfg->crl_ca_file,
                                    err);
    return rc;
}

const char *sti_verifier_crl_signer_path(const struct sti_verifier_config *cfg)
{
    /* The PA that signed the CA list usually signs the CRL too. */
    if (cfg->crl_signer_file != NULL)
        return cfg->crl_signer_file;
    return cfg->ca_list_signer_file != NULL ? cfg->ca_list_signer_file
                                            : cfg->ca_file;
}

static int load_crl_signers(struct sti_verifier *v,
                            const struct sti_verifier_config *cfg,
                            struct sti_error *err)
{
    struct sti_chain *chain = NULL;
    const char *path = sti_verifier_crl_signer_path(cfg);
    int rc;

    if (path == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a CRL needs its signer's certificate; give the "
                          "CRL signer file or a CA file that contains it");
    rc = sti_chain_load(path, &chain, err);
    for (size_t i = 0;
         rc == STI_OK && i < sti_chain_count(chain) && v->crl_signer_count < 16;
         i++) {
        struct sti_cert *cert = sti_chain_get0(chain, i);

        if (sti_crl_signed_by(v->crl, cert))
            v->crl_signers[v->crl_signer_count++] = sti_cert_up_ref(cert);
    }
    sti_chain_free(chain);
    if (rc == STI_OK && v->crl_signer_count == 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "no certificate in %s signed the CRL; give the CRL "
                        "signer's certificate",
                        path);
    return rc;
}

/* Applies the verifier's CRL and signers to TRUST. */
static int apply_crl(struct sti_verifier *v, struct sti_trust *trust,
                     struct sti_error *err)
{
    int rc = STI_OK;

    if (v->crl == NULL)
        return STI_OK;
    rc = sti_trust_set_crl(trust, v->crl, err);
    for (size_t i = 0; rc == STI_OK && i < v->crl_signer_count; i++)
        rc = sti_trust_add_crl_signer(trust, v->crl_signers[i], err);
    return rc;
}

static int load_trust(struct sti_verifier *v,
                      const struct sti_verifier_config *cfg,
                      struct sti_error *err)
{
    int rc = STI_OK;

    v->trust = sti_trust_new();
    if (v->trust == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_verifier_load_anchors(v->trust, cfg, err);
    if (rc == STI_OK && (cfg->crl_file != NULL || cfg->crl_url != NULL)) {
        /* NOTE: a CRL from a URL is fetched once here and not refreshed
         * when its nextUpdate passes; long-running callers replace it
         * with sti_verifier_set_crl(). */
        rc = sti_crl_fetch(cfg->crl_file, cfg->crl_url, cfg->crl_ca_file,
                           &v->crl, err);
        if (rc == STI_OK)
            rc = load_crl_signers(v, cfg, err);
        if (rc == STI_OK)
            rc = apply_crl(v, v->trust, err);
    }
    return rc;
}

static void set_policy(struct sti_x5u_policy *p,
                       const struct sti_verifier_config *cfg)
{
    p->allow_http = cfg->allow_http;
    p->allow_any_port = cfg->allow_any_port;
    p->ca_file = cfg->fetch_ca_file;
    p->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 4000;
    p->max_bytes = cfg->max_chain_bytes > 0 ? cfg->max_chain_bytes : 64 * 1024;
    p->min_cache_s = cfg->min_cache_s > 0 ? cfg->min_cache_s : 86400;
    p->failure_cache_s = cfg->failure_cache_s > 0 ? cfg->failure_cache_s : 30;
}

int sti_verifier_new(const struct sti_verifier_config *cfg,
                     struct sti_verifier **out, struct sti_error *err)
{
    static const struct sti_verifier_config defaults;
    struct sti_verifier *v;
    int rc;

    *out = NULL;
    if (cfg == NULL)
        cfg = &defaults;
    if (cfg->profile != NULL && strcmp(cfg->profile, "us") != 0 &&
        strcmp(cfg->profile, "fr") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown TN profile '%s'; use us or fr",
                          cfg->profile);
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&v->trust_lock, NULL);
    snprintf(v->profile, sizeof(v->profile), "%s",
             cfg->profile ? cfg->profile : "us");
    v->freshness_s = cfg->freshness_s > 0 ? cfg->freshness_s : 60;
    v->future_skew_s = cfg->future_skew_s > 0 ? cfg->future_skew_s : 5;
    v->gen = 1;
    set_policy(&v->policy, cfg);
    rc = load_trust(v, cfg, err);
    if (rc == STI_OK)
        rc = sti_x5u_cache_new(&v->policy, cfg->cache_db, &v->cache, err);
    if (rc != STI_OK) {
        sti_verifier_free(v);
        return rc;
    }
    *out = v;
    return STI_OK;
}

void sti_verifier_free(struct sti_verifier *v)
{
    if (v == NULL)
        return;
    sti_x5u_cache_free(v->cache);
    sti_trust_free(v->trust);
    sti_crl_free(v->crl);
    for (size_t i = 0; i < v->crl_signer_count; i++)
        sti_cert_free(v->crl_signers[i]);
    pthread_rwlock_destroy(&v->trust_lock);
    free(v);
}

int sti_verifier_set_trust(struct sti_verifier *v, struct sti_trust *trust,
                           struct sti_error *err)
{
    int rc;

    if (v == NULL || trust == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no verifier or trust given");
    pthread_rwlock_wrlock(&v->trust_lock);
    /* An older list could bring back a root that the PA has removed. */
    if (sti_trust_list_version(trust) > 0 &&
        sti_trust_list_version(trust) < sti_trust_list_version(v->trust))
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the CA list has version %llu, older than version "
                        "%llu in use; check the CA list source",
                        (unsigned long long)sti_trust_list_version(trust),
                        (unsigned long long)sti_trust_list_version(v->trust));
    else
        rc = apply_crl(v, trust, err);
    if (rc == STI_OK) {
        sti_trust_free(v->trust);
        v->trust = trust;
        v->gen++;
    }
    pthread_rwlock_unlock(&v->trust_lock);
    if (rc != STI_OK)
        sti_trust_free(trust);
    return rc;
}

/* Copies CRL through its DER, since struct sti_crl has no reference
 * count. */
static int crl_copy(const struct sti_crl *crl, struct sti_crl **out,
                    struct sti_error *err)
{
    unsigned char *der;
    size_t len;
    int rc = sti_crl_to_der(crl, &der, &len, err);

    if (rc != STI_OK)
        return rc;
    rc = sti_crl_parse(der, len, out, err);
    sti_free(der);
    return rc;
}

int sti_verifier_set_crl(struct sti_verifier *v, const struct sti_crl *crl,
                         const struct sti_cert *signer, struct sti_error *err)
{
    struct sti_crl *copy;
    int rc;

    if (v == NULL || crl == NULL || signer == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no verifier, CRL or CRL signer given");
    rc = crl_copy(crl, &copy, err);
    if (rc != STI_OK)
        return rc;
    pthread_rwlock_wrlock(&v->trust_lock);
    sti_crl_free(v->crl);
    v->crl = copy;
    for (size_t i = 0; i < v->crl_signer_count; i++)
        sti_cert_free(v->crl_signers[i]);
    v->crl_signers[0] = sti_cert_up_ref((struct sti_cert *)signer);
    v->crl_signer_count = 1;
    rc = apply_crl(v, v->trust, err);
    v->gen++;
    pthread_rwlock_unlock(&v->trust_lock);
    return rc;
}

/* Collecting and parsing the Identity headers */

static void free_items(struct job *j)
{
    for (size_t i = 0; i < j->count; i++) {
        sti_identity_free(j->items[i].id);
        sti_passport_free(j->items[i].pp);
    }
    j->count = 0;
}

/* Splits one header field.  A field without commas or line breaks is
 * one value as it is, which spares the common case a copy and a scan. */
static int split_field(const char *field, char ***parts, size_t *count,
                       struct sti_error *err)
{
    if (field[0] == '\0' || field[0] == ' ' || field[0] == '\t' ||
        strpbrk(field, ",\r\n") != NULL)
        return sti_identity_split(field, strlen(field), parts, count, err);
    *parts = calloc(2, sizeof(char *));
    if (*parts != NULL && ((*parts)[0] = strdup(field)) != NULL) {
        *count = 1;
        return STI_OK;
    }
    free(*parts);
    *parts = NULL;
    return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

/* Splits every header value of the request (or of its SIP message). */
static int collect_values(const struct sti_verify_request *req, char ***all,
                          size_t *count, struct sti_error *err)
{
    size_t n = req->identity_count;
    int from_sip = n == 0 && req->sip != NULL;

    *all = calloc(1, sizeof(char *));
    *count = 0;
    if (*all == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (from_sip)
        n = sti_sip_identity_count(req->sip);
    for (size_t i = 0; i < n; i++) {
        const char *field =
            from_sip ? sti_sip_identity_get0(req->sip, i) : req->identities[i];
        char **parts, **bigger;
        size_t k;
        int rc = split_field(field, &parts, &k, err);

        if (rc != STI_OK)
            return rc;
        bigger = realloc(*all, (*count + k + 1) * sizeof(char *));
        if (bigger == NULL) {
            sti_identity_split_free(parts);
            return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        }
        *all = bigger;
        memcpy(*all + *count, parts, k * sizeof(char *));
        *count += k;
        (*all)[*count] = NULL;
        free(parts);
    }
    return STI_OK;
}

/* The canonical TN of the call's calling or called party, or "". */
static void party_tn(const struct job *j, int orig, char tn[STI_TN_MAX + 1])
{
    const struct sti_verify_request *r = j->req;
    const char *given = orig ? r->orig_tn : r->dest_tn;

    tn[0] = '\0';
    if (given != NULL) {
        sti_tn_canonicalize(j->v->profile, given, tn, NULL);
        return;
    }
    if (r->sip == NULL)
        return;
    if (orig &&
        sti_sip_get_tn(r->sip, STI_SIP_PAI, j->v->profile, tn, NULL) == STI_OK)
        return;
    sti_sip_get_tn(r->sip, orig ? STI_SIP_FROM : STI_SIP_TO, j->v->profile, tn,
                   NULL);
}

/* RFC 8224 section 7: rebuilds a compact form's header and claims from
 * the SIP message, which is possible for a plain PASSporT only. */
static int rebuild_compact(struct job *j, struct item *it, char **jws)
{
    struct sti_passport_claims c = {0};
    char orig[STI_TN_MAX + 1], dest[STI_TN_MAX + 1];
    const char *dests[1] = {dest}, *ppt = sti_identity_ppt(it->id);
    char *h = NULL, *p = NULL, *hb = NULL, *pb = NULL;
    time_t date = j->date;
    struct sti_error e;
    size_t n;

    if (ppt != NULL)
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "a compact Identity header with ppt=%s cannot be "
                       "rebuilt from SIP; %s needs the full form",
                       ppt, ppt);
    party_tn(j, 1, orig);
    party_tn(j, 0, dest);
    if (!orig[0] || !dest[0] || date == 0 || !sti_identity_info(it->id))
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "a compact Identity header needs the calling and "
                       "called numbers, the Date and the info parameter");
    c.orig_tn = orig;
    c.dest_tn = dests;
    c.dest_tn_count = 1;
    c.iat = date;
    if (sti_passport_header(sti_identity_info(it->id), NULL, &h, &e) ||
        sti_passport_payload(&c, NULL, &p, &e) ||
        !(hb = sti_b64url_encode((unsigned char *)h, strlen(h))) ||
        !(pb = sti_b64url_encode((unsigned char *)p, strlen(p))))
        n = 0;
    else
        n = strlen(hb) + strlen(pb) + strlen(sti_identity_jws(it->id)) + 1;
    *jws = n ? malloc(n) : NULL;
    if (*jws != NULL)
        snprintf(*jws, n, "%s.%s%s", hb, pb, sti_identity_jws(it->id) + 1);
    free(h);
    free(p);
    free(hb);
    free(pb);
    return *jws ? STI_VERIFY_PASS
                : verdict(j->res, STI_VERIFY_FAIL, 438,
                          "the compact Identity header cannot be rebuilt");
}

static int parse_item(struct job *j, const char *value, struct item *it)
{
    struct sti_error e;
    char *full = NULL;
    const char *jws;
    int rc;

    if (sti_identity_parse(value, strlen(value), &it->id, &e) != STI_OK)
        return verdict(j->res, STI_VERIFY_FAIL, 438, "%s", e.message);
    jws = sti_identity_jws(it->id);
    if (sti_identity_is_compact(it->id)) {
        rc = rebuild_compact(j, it, &full);
        if (rc != STI_VERIFY_PASS)
            return rc;
        jws = full;
    }
    rc = sti_passport_parse(jws, strlen(jws), &it->pp, &e);
    free(full);
    if (rc == STI_ERR_POLICY)
        return verdict(j->res, STI_VERIFY_FAIL, 437, "%s", e.message);
    if (rc != STI_OK)
        return verdict(j->res, STI_VERIFY_FAIL, 438, "%s", e.message);
    it->c = sti_passport_claims(it->pp);
    return STI_VERIFY_PASS;
}

static int parse_all(struct job *j, char **values, size_t n)
{
    if (n == 0)
        return verdict(j->res, STI_VERIFY_NOCHECK, 428,
                       "no Identity header to verify");
    if (n > MAX_PASSPORTS)
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "%zu Identity headers; at most %d are verified", n,
                       MAX_PASSPORTS);
    for (size_t i = 0; i < n; i++) {
        int rc = parse_item(j, values[i], &j->items[j->count]);

        if (j->items[j->count].id != NULL)
            j->count++;
        if (rc != STI_VERIFY_PASS)
            return rc;
    }
    return STI_VERIFY_PASS;
}

/* Checks of one PASSporT */

/* TEXT with bytes outside printable ASCII shown as \xNN. */
static const char *escape(const char *text, char shown[256])
{
    return sti_escape(text, strlen(text), shown, 256);
}

static int check_params(struct job *j, const struct item *it)
{
    const char *alg = sti_identity_alg(it->id), *ppt = sti_identity_ppt(it->id);
    const char *info = sti_identity_info(it->id);

    char a[256], b[256];

    if (strcmp(alg, "ES256") != 0)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "Identity header alg '%s' is not supported; only "
                       "ES256 is",
                       escape(alg, a));
    if (info == NULL)
        return verdict(j->res, STI_VERIFY_FAIL, 436,
                       "the Identity header has no info parameter");
    if (strcmp(info, it->c->x5u) != 0)
        return verdict(j->res, STI_VERIFY_FAIL, 436,
                       "the info parameter <%s> differs from the PASSporT "
                       "x5u %s",
                       escape(info, a), escape(it->c->x5u, b));
    if (ppt != NULL && (it->c->ppt == NULL || strcmp(ppt, it->c->ppt) != 0))
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "the ppt parameter '%s' differs from the PASSporT "
                       "ppt '%s'",
                       escape(ppt, a),
                       escape(it->c->ppt ? it->c->ppt : "(none)", b));
    return STI_VERIFY_PASS;
}

/*
 * RFC 8224 section 6.2.1 compares iat with the call's Date: iat must lie
 * within the freshness window around it, as around the current time.  A
 * Date header that does not parse cannot pass that check, so it is a 403
 * too.
 */
static int check_call_date(struct job *j, const struct item *it)
{
    const char *label = j->req->date ? "the call's time" : "the Date header";
    int64_t age = (int64_t)j->date - it->c->iat;

    if (j->date_invalid)
        return verdict(j->res, STI_VERIFY_FAIL, 403, "%s", j->date_err.message);
    if (j->date == 0 ||
        (age <= j->v->freshness_s && -age <= j->v->future_skew_s))
        return STI_VERIFY_PASS;
    return verdict(j->res, STI_VERIFY_FAIL, 403,
                   "iat %lld is %lld s %s %s %lld; at most %d s is allowed",
                   (long long)it->c->iat, (long long)(age < 0 ? -age : age),
                   age < 0 ? "ahead of" : "older than", label,
                   (long long)j->date,
                   age < 0 ? j->v->future_skew_s : j->v->freshness_s);
}

static int check_freshness(struct job *j, const struct item *it)
{
    int64_t age = (int64_t)j->now - it->c->iat;

    if (age > j->v->freshness_s)
        return verdict(j->res, STI_VERIFY_FAIL, 403,
                       "iat %lld is %lld s old; the freshness limit is %d s",
                       (long long)it->c->iat, (long long)age,
                       j->v->freshness_s);
    if (-age > j->v->future_skew_s)
        return verdict(j->res, STI_VERIFY_FAIL, 403,
                       "iat %lld is %lld s in the future; at most %d s is "
                       "allowed",
                       (long long)it->c->iat, (long long)-age,
                       j->v->future_skew_s);
    return check_call_date(j, it);
}

/* Validates CHAIN at iat, and again at now when only the CRL's
 * thisUpdate lies after iat.  Called under the trust lock. */
static int validate_chain(struct job *j, const struct sti_chain *chain,
                          time_t iat, int *revoked, struct sti_error *err)
{
    int rc = sti_chain_verify(j->v->trust, chain, iat, revoked, err);

    /* A CRL issued in the seconds between iat and now is "not yet valid"
     * at iat, yet it is the freshest revocation data there is, so the
     * chain is checked again at now.  iat is within the freshness window
     * here, and only this CRL failure is retried. */
    if (rc != STI_OK && iat < j->now &&
        strstr(err->message, "CRL is not yet valid") != NULL)
        rc = sti_chain_verify(j->v->trust, chain, j->now, revoked, err);
    return rc;
}

/* Validates the chain at iat, or trusts the memo of an earlier success
 * under the same anchors and CRL.  The entry keeps its certificates as
 * DER, so after the first validation they are parsed again only when the
 * memo does not apply. */
static int check_chain(struct job *j, const struct item *it,
                       struct sti_x5u_entry *e)
{
    struct sti_verifier *v = j->v;
    time_t iat = (time_t)it->c->iat;
    struct sti_chain *chain = NULL;
    struct sti_error err;
    int revoked = 0, rc = STI_OK;
    unsigned long gen;
    time_t expires;

    pthread_rwlock_rdlock(&v->trust_lock);
    gen = v->gen;
    expires = sti_trust_list_expires(v->trust);
    if (expires != 0 && j->now >= expires) {
        pthread_rwlock_unlock(&v->trust_lock);
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the trust anchors come from a CA list that expired "
                       "at %lld; the verifier must load a newer one",
                       (long long)expires);
    }
    if (iat < e->valid_from || iat > e->valid_until ||
        !sti_x5u_memo_valid(v->cache, e, gen)) {
        rc = sti_x5u_entry_chain(v->cache, e, &chain, &err);
        if (rc == STI_OK)
            rc = validate_chain(j, chain, iat, &revoked, &err);
    }
    pthread_rwlock_unlock(&v->trust_lock);
    sti_chain_free(chain);
    if (rc != STI_OK)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate chain from %s is %s at iat %lld: %s",
                       e->url, revoked ? "revoked" : "not trusted",
                       (long long)iat, err.message);
    sti_x5u_memo_set(v->cache, e, gen);
    return STI_VERIFY_PASS;
}

/* RFC 8226 section 9 and RFC 9060: an SPC, or TNs that cover orig. */
static int check_tnauth(struct job *j, const struct item *it,
                        const struct sti_x5u_entry *e)
{
    char orig[STI_TN_MAX + 1];

    if (e->tnauth_status == STI_ERR_NOTFOUND)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate from %s has no TNAuthList", e->url);
    if (e->tnauth_status != STI_OK)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate from %s has a malformed TNAuthList",
                       e->url);
    if (e->spc[0] != '\0')
        return STI_VERIFY_PASS;
    if (it->c->orig_tn == NULL ||
        sti_tn_canonicalize(j->v->profile, it->c->orig_tn, orig, NULL) ||
        !sti_tnauth_covers_tn(e->tnauth, orig))
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "orig %s is not among the TNs of the delegate "
                       "certificate from %s",
                       it->c->orig_tn ? it->c->orig_tn : it->c->orig_uri,
                       e->url);
    return STI_VERIFY_PASS;
}

static int verify_signature(struct job *j, const struct item *it,
                            struct sti_x5u_entry *e, struct sti_error *err)
{
    EVP_PKEY_CTX *ctx = sti_x5u_take_ctx(j->v->cache, e);
    int rc;

    if (ctx == NULL)
        return sti_seterr(err, STI_ERR_CRYPTO, "cannot set up ES256");
    rc = sti_passport_verify_ctx(it->pp, ctx, err);
    sti_x5u_give_ctx(j->v->cache, e, ctx);
    return rc;
}

static int check_entry(struct job *j, const struct item *it,
                       struct sti_x5u_entry *e)
{
    struct sti_error err;
    int rc;

    /* Content or a URL that breaks the x5u policy makes the header
     * invalid.  A failed transfer (network, TLS, timeout, HTTP error
     * status) only leaves it unchecked, because a retry may succeed. */
    if (e->failed)
        return verdict(j->res,
                       e->error_code == STI_ERR_INVALID ||
                               e->error_code == STI_ERR_POLICY
                           ? STI_VERIFY_FAIL
                           : STI_VERIFY_NOCHECK,
                       436, "x5u %s is unusable: %s", e->url, e->error);
    if (!e->key_p256)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate from %s has a %s key, not EC P-256",
                       e->url, e->key_type);
    /* A key without digitalSignature, such as a delegation SCA's, may
     * sign only certificates and CRLs (RFC 5280 section 4.2.1.3). */
    if (!e->key_signs)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate from %s cannot sign PASSporTs "
                       "because its keyUsage lacks digitalSignature",
                       e->url);
    /* SHAKEN signs with end-entity certificates, CA:FALSE (ATIS-1000080);
     * a delegation SCA issues delegate certificates instead. */
    if (e->leaf_is_ca)
        return verdict(j->res, STI_VERIFY_FAIL, 437,
                       "the certificate from %s is a CA certificate "
                       "(basicConstraints CA:TRUE); PASSporTs must be "
                       "signed with an end-entity certificate",
                       e->url);
    rc = check_chain(j, it, e);
    if (rc == STI_VERIFY_PASS)
        rc = check_tnauth(j, it, e);
    if (rc == STI_VERIFY_PASS && verify_signature(j, it, e, &err) != STI_OK)
        rc = verdict(j->res, STI_VERIFY_FAIL, 438,
                     "the PASSporT signature does not verify with the "
                     "certificate from %s",
                     e->url);
    return rc;
}

/* Finds the chain for the x5u: from memory, where only URLs that passed
 * the policy are kept, or after the policy check from SQLite or a fetch. */
static int find_chain(struct job *j, const char *url, struct sti_x5u_entry **e,
                      int *hit)
{
    struct sti_error err;

    *hit = 1;
    if (sti_x5u_get_cached(j->v->cache, url, j->now, e))
        return STI_VERIFY_PASS;
    if (sti_x5u_check_url(&j->v->policy, url, &err) != STI_OK)
        return verdict(j->res, STI_VERIFY_FAIL, 436, "%s", err.message);
    if (sti_x5u_get(j->v->cache, url, j->now, e, hit, &err) != STI_OK)
        return verdict(j->res, STI_VERIFY_NOCHECK, 436, "%s", err.message);
    return STI_VERIFY_PASS;
}

static int check_item(struct job *j, const struct item *it, int is_main)
{
    struct sti_x5u_entry *e = NULL;
    int rc, hit = 0;

    rc = check_params(j, it);
    if (rc == STI_VERIFY_PASS)
        rc = check_freshness(j, it);
    if (rc == STI_VERIFY_PASS)
        rc = find_chain(j, it->c->x5u, &e, &hit);
    if (rc != STI_VERIFY_PASS)
        return rc;
    if (is_main) {
        copy_field(j->res->spc, sizeof(j->res->spc), e->spc);
        copy_field(j->res->cert_serial, sizeof(j->res->cert_serial), e->serial);
        j->res->cache_hit = hit;
    }
    rc = check_entry(j, it, e);
    sti_x5u_entry_release(j->v->cache, e);
    return rc;
}

/* Claims against the call */

/* The canonical form of a claim TN, or "" when it is not a number. */
static const char *canon(const struct job *j, const char *tn,
                         char out[STI_TN_MAX + 1])
{
    out[0] = '\0';
    if (tn != NULL)
        sti_tn_canonicalize(j->v->profile, tn, out, NULL);
    return out;
}

static int dest_has(const struct job *j, const struct sti_passport_claims *c,
                    const char *tn)
{
    char d[STI_TN_MAX + 1];

    for (size_t i = 0; tn[0] != '\0' && i < c->dest_tn_count; i++)
        if (strcmp(canon(j, c->dest_tn[i], d), tn) == 0)
            return 1;
    return 0;
}

static int dest_has_uri(const struct sti_passport_claims *c, const char *uri)
{
    for (size_t i = 0; uri != NULL && i < c->dest_uri_count; i++)
        if (sti_sip_uri_equal(c->dest_uri[i], uri))
            return 1;
    return 0;
}

/* orig against the calling party that the caller gave instead of SIP. */
static int orig_against_request(struct job *j,
                                const struct sti_passport_claims *c)
{
    const struct sti_verify_request *r = j->req;
    char want[STI_TN_MAX + 1], given[STI_TN_MAX + 1], a[256], b[256];

    if (c->orig_tn != NULL && r->orig_tn != NULL) {
        if (canon(j, c->orig_tn, want)[0] != '\0' &&
            strcmp(canon(j, r->orig_tn, given), want) == 0)
            return STI_VERIFY_PASS;
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "orig %s differs from the calling number %s", c->orig_tn,
                       r->orig_tn);
    }
    if (c->orig_uri != NULL && r->orig_uri != NULL) {
        if (sti_sip_uri_equal(c->orig_uri, r->orig_uri))
            return STI_VERIFY_PASS;
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "orig uri %s differs from the calling URI %s",
                       escape(c->orig_uri, a), escape(r->orig_uri, b));
    }
    return verdict(j->res, STI_VERIFY_FAIL, 438,
                   "orig %s %s cannot match the calling %s %s",
                   c->orig_tn ? "tn" : "uri",
                   escape(c->orig_tn ? c->orig_tn : c->orig_uri, a),
                   r->orig_tn ? "number" : "URI",
                   escape(r->orig_tn ? r->orig_tn : r->orig_uri, b));
}

/* RFC 3325 section 9.1: a P-Asserted-Identity with a TN is the identity
 * the network asserts, so it alone decides; From counts only when no
 * P-Asserted-Identity carries a number. */
static int orig_tn_against_sip(struct job *j, const char *orig)
{
    char want[STI_TN_MAX + 1], pai[STI_TN_MAX + 1], from[STI_TN_MAX + 1];
    char *from_uri = NULL, shown[256];
    const struct sti_sip *sip = j->req->sip;
    int rc;

    canon(j, orig, want);
    sti_sip_get_tn(sip, STI_SIP_PAI, j->v->profile, pai, NULL);
    if (pai[0] != '\0') {
        if (strcmp(want, pai) == 0)
            return STI_VERIFY_PASS;
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "orig %s differs from P-Asserted-Identity %s, which "
                       "takes precedence over From",
                       orig, pai);
    }
    sti_sip_get_tn(sip, STI_SIP_FROM, j->v->profile, from, NULL);
    if (want[0] != '\0' && strcmp(want, from) == 0)
        return STI_VERIFY_PASS;
    if (from[0] != '\0')
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "orig %s differs from From (%s) and there is no "
                       "P-Asserted-Identity with a number",
                       orig, from);
    sti_sip_get_uri(sip, STI_SIP_FROM, &from_uri, NULL);
    rc = verdict(j->res, STI_VERIFY_FAIL, 438,
                 "orig %s differs from From %s, which carries no number, "
                 "and there is no P-Asserted-Identity with a number",
                 orig, from_uri ? escape(from_uri, shown) : "(none)");
    sti_free(from_uri);
    return rc;
}

/*
 * As for TNs, a P-Asserted-Identity decides when it has a value that can
 * carry a URI identity: any value but a tel URI, which only carries a
 * number.  *ASSERTED gets the first such value, or NULL.  Returns 1 when
 * one of them has the addr-spec of ORIG.
 */
static int pai_has_uri(const struct sti_sip *sip, const char *orig,
                       char **asserted)
{
    char *uri = NULL;
    int match = 0;

    *asserted = NULL;
    for (size_t i = 0; !match && sti_sip_get_uri_at(sip, STI_SIP_PAI, i, &uri,
                                                    NULL) == STI_OK;
         i++) {
        if (strncasecmp(uri, "tel:", 4) != 0) {
            match = sti_sip_uri_equal(orig, uri);
            if (*asserted == NULL) {
                *asserted = uri;
                uri = NULL;
            }
        }
        sti_free(uri);
        uri = NULL;
    }
    return match;
}

/* RFC 8224 section 6.2 step 1 for an orig uri: its addr-spec against
 * P-Asserted-Identity, or against From when no P-Asserted-Identity has a
 * value other than a tel URI. */
static int orig_uri_against_sip(struct job *j, const char *orig)
{
    const struct sti_sip *sip = j->req->sip;
    char *asserted, *from = NULL, a[256], b[256];
    int rc = STI_VERIFY_PASS;

    if (pai_has_uri(sip, orig, &asserted)) {
        sti_free(asserted);
        return STI_VERIFY_PASS;
    }
    if (asserted != NULL) {
        rc = verdict(j->res, STI_VERIFY_FAIL, 438,
                     "orig uri %s differs from P-Asserted-Identity %s, which "
                     "takes precedence over From",
                     escape(orig, a), escape(asserted, b));
        sti_free(asserted);
        return rc;
    }
    sti_sip_get_uri(sip, STI_SIP_FROM, &from, NULL);
    if (!sti_sip_uri_equal(orig, from))
        rc = verdict(j->res, STI_VERIFY_FAIL, 438,
                     "orig uri %s differs from From %s and there is no "
                     "P-Asserted-Identity with a URI",
                     escape(orig, a), from ? escape(from, b) : "(none)");
    sti_free(from);
    return rc;
}

/* RFC 8224 section 6.2 step 1: orig against P-Asserted-Identity or From,
 * or against the calling party given in the request. */
static int check_orig(struct job *j, const struct sti_passport_claims *c)
{
    const struct sti_verify_request *r = j->req;

    if (c->orig_tn == NULL && c->orig_uri == NULL)
        return STI_VERIFY_PASS;
    if (r->orig_tn != NULL || r->orig_uri != NULL)
        return orig_against_request(j, c);
    if (r->sip == NULL)
        return STI_VERIFY_PASS;
    if (c->orig_tn != NULL)
        return orig_tn_against_sip(j, c->orig_tn);
    return orig_uri_against_sip(j, c->orig_uri);
}

static const char *first_dest(const struct sti_passport_claims *c)
{
    return c->dest_tn_count > 0 ? c->dest_tn[0] : c->dest_uri[0];
}

/* dest against the called party that the caller gave instead of SIP. */
static int dest_against_request(struct job *j,
                                const struct sti_passport_claims *c)
{
    const struct sti_verify_request *r = j->req;
    char tn[STI_TN_MAX + 1], a[256], b[256];

    if (r->dest_tn != NULL && dest_has(j, c, canon(j, r->dest_tn, tn)))
        return STI_VERIFY_PASS;
    if (dest_has_uri(c, r->dest_uri))
        return STI_VERIFY_PASS;
    if (r->dest_uri == NULL)
        return verdict(j->res, STI_VERIFY_FAIL, 438,
                       "dest %s does not contain the called number %s",
                       escape(first_dest(c), a), r->dest_tn);
    return verdict(j->res, STI_VERIFY_FAIL, 438,
                   "dest %s does not contain the called %s %s",
                   escape(first_dest(c), a), r->dest_tn ? "number" : "URI",
                   escape(r->dest_tn ? r->dest_tn : r->dest_uri, b));
}

/* Shows a field for a message: its number, else its URI, else "none". */
static const char *shown_party(const char *tn, const char *uri, char shown[256])
{
    if (tn[0] != '\0')
        return tn;
    return uri != NULL ? escape(uri, shown) : "none";
}

/* dest (of the last diversion) against To or the Request-URI: a dest tn
 * against their numbers, a dest uri against their addr-specs. */
static int dest_against_sip(struct job *j, const struct sti_passport_claims *c)
{
    char to[STI_TN_MAX + 1], ruri[STI_TN_MAX + 1], a[256], b[256], d[256];
    const struct sti_sip *sip = j->req->sip;
    char *to_uri = NULL, *ruri_uri = NULL;
    int rc = STI_VERIFY_PASS;

    sti_sip_get_tn(sip, STI_SIP_TO, j->v->profile, to, NULL);
    sti_sip_get_tn(sip, STI_SIP_RURI, j->v->profile, ruri, NULL);
    if (dest_has(j, c, to) || dest_has(j, c, ruri))
        return STI_VERIFY_PASS;
    sti_sip_get_uri(sip, STI_SIP_TO, &to_uri, NULL);
    sti_sip_get_uri(sip, STI_SIP_RURI, &ruri_uri, NULL);
    if (!dest_has_uri(c, to_uri) && !dest_has_uri(c, ruri_uri))
        rc = verdict(j->res, STI_VERIFY_FAIL, 438,
                     "dest %s matches neither To (%s) nor the Request-URI "
                     "(%s)",
                     escape(first_dest(c), d), shown_party(to, to_uri, a),
                     shown_party(ruri, ruri_uri, b));
    sti_free(to_uri);
    sti_free(ruri_uri);
    return rc;
}

static int check_dest(struct job *j, const struct sti_passport_claims *c)
{
    const struct sti_verify_request *r = j->req;

    if (c->dest_tn_count + c->dest_uri_count == 0)
        return STI_VERIFY_PASS;
    if (r->dest_tn != NULL || r->dest_uri != NULL)
        return dest_against_request(j, c);
    if (r->sip == NULL)
        return STI_VERIFY_PASS;
    return dest_against_sip(j, c);
}

static int is_div(const struct item *it)
{
    return it->c->ppt != NULL && strcmp(it->c->ppt, "div") == 0;
}

/* RFC 8946 section 6: each div PASSporT keeps orig and names in "div" a
 * destination of the PASSporT before it.  Sets *LAST to the end of the
 * chain. */
static int link_divs(struct job *j, size_t main,
                     const struct sti_passport_claims **last)
{
    int used[MAX_PASSPORTS] = {0};
    char a[STI_TN_MAX + 1], b[STI_TN_MAX + 1];
    const struct sti_passport_claims *m = j->items[main].c;
    int linked = 1;

    *last = m;
    used[main] = 1;
    while (linked) {
        linked = 0;
        for (size_t i = 0; i < j->count; i++) {
            const struct sti_passport_claims *c = j->items[i].c;

            if (used[i] || !is_div(&j->items[i]) || c->div_tn == NULL ||
                !dest_has(j, *last, canon(j, c->div_tn, a)) ||
                strcmp(canon(j, c->orig_tn, a), canon(j, m->orig_tn, b)))
                continue;
            used[i] = linked = 1;
            *last = c;
        }
    }
    for (size_t i = 0; i < j->count; i++)
        if (!used[i] && is_div(&j->items[i]))
            return verdict(j->res, STI_VERIFY_FAIL, 438,
                           "the div PASSporT for %s does not link to the "
                           "call's PASSporT chain (orig or dest differ)",
                           j->items[i].c->div_tn ? j->items[i].c->div_tn
                                                 : "a URI");
    return STI_VERIFY_PASS;
}

static int is_shaken(const struct item *it)
{
    return it->c->ppt != NULL && strcmp(it->c->ppt, "shaken") == 0;
}

/* The PASSporT that describes the call: SHAKEN first, else a non-div. */
static size_t main_item(const struct job *j)
{
    for (size_t i = 0; i < j->count; i++)
        if (is_shaken(&j->items[i]))
            return i;
    for (size_t i = 0; i < j->count; i++)
        if (!is_div(&j->items[i]))
            return i;
    return 0;
}

/* RFC 8946 section 6: a div PASSporT records a retargeting of a call
 * that a SHAKEN PASSporT signed, so without one it vouches for nothing. */
static int check_div_has_shaken(struct job *j)
{
    size_t divs = 0;

    for (size_t i = 0; i < j->count; i++) {
        if (is_shaken(&j->items[i]))
            return STI_VERIFY_PASS;
        divs += is_div(&j->items[i]);
    }
    if (divs == 0)
        return STI_VERIFY_PASS;
    return verdict(j->res, STI_VERIFY_FAIL, 438,
                   "%zu div PASSporT%s but no SHAKEN PASSporT to link to; a "
                   "div PASSporT only extends a SHAKEN one",
                   divs, divs == 1 ? "" : "s");
}

static void fill_summary(struct sti_verify_result *res,
                         const struct sti_passport_claims *c, size_t count)
{
    copy_field(res->ppt, sizeof(res->ppt), c->ppt);
    copy_field(res->attest, sizeof(res->attest), c->attest);
    copy_field(res->orig, sizeof(res->orig),
               c->orig_tn ? c->orig_tn : c->orig_uri);
    copy_field(res->origid, sizeof(res->origid), c->origid);
    copy_field(res->x5u, sizeof(res->x5u), c->x5u);
    res->iat = c->iat;
    res->passport_count = count;
}

static int run(struct job *j)
{
    const struct sti_passport_claims *last;
    size_t m = main_item(j);
    int rc;

    fill_summary(j->res, j->items[m].c, j->count);
    rc = check_div_has_shaken(j);
    if (rc == STI_VERIFY_PASS)
        rc = check_item(j, &j->items[m], 1);
    for (size_t i = 0; rc == STI_VERIFY_PASS && i < j->count; i++)
        if (i != m)
            rc = check_item(j, &j->items[i], 0);
    if (rc == STI_VERIFY_PASS)
        rc = link_divs(j, m, &last);
    if (rc == STI_VERIFY_PASS)
        rc = check_orig(j, j->items[m].c);
    if (rc == STI_VERIFY_PASS)
        rc = check_dest(j, last);
    return rc;
}

int sti_verify(struct sti_verifier *v, const struct sti_verify_request *req,
               struct sti_verify_result *res, struct sti_error *err)
{
    struct job j = {.v = v, .req = req, .res = res};
    char **values = NULL;
    size_t n;
    int rc;

    if (res != NULL)
        memset(res, 0, sizeof(*res));
    if (v == NULL || req == NULL || res == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no verifier, request or result given");
    j.now = req->now ? req->now : time(NULL);
    j.date = req->date;
    if (j.date == 0 && req->sip != NULL)
        j.date_invalid =
            sti_sip_get_date(req->sip, &j.date, &j.date_err) == STI_ERR_INVALID;
    rc = collect_values(req, &values, &n, err);
    if (rc != STI_OK) {
        sti_identity_split_free(values);
        return rc;
    }
    if (parse_all(&j, values, n) == STI_VERIFY_PASS &&
        run(&j) == STI_VERIFY_PASS) {
        res->outcome = STI_VERIFY_PASS;
        copy_field(res->verstat, sizeof(res->verstat), "TN-Validation-Passed");
        copy_field(res->reason, sizeof(res->reason), "verified");
    }
    free_items(&j);
    sti_identity_split_free(values);
    return STI_OK;
}

int sti_verify_result_to_json(const struct sti_verify_result *r, char **json,
                              struct sti_error *err)
{
    json_t *o;

    *json = NULL;
    if (r == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no result given");
    o = json_pack("{s:b,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,"
                  "s:s,s:i,s:b}",
                  "pass", r->outcome == STI_VERIFY_PASS, "outcome",
                  sti_verify_outcome_name(r->outcome), "sip_code", r->sip_code,
                  "sip_reason", r->sip_reason, "verstat", r->verstat, "reason",
                  r->reason, "ppt", r->ppt, "attest", r->attest, "orig",
                  r->orig, "origid", r->origid, "iat", (json_int_t)r->iat,
                  "x5u", r->x5u, "spc", r->spc, "cert_serial", r->cert_serial,
                  "passport_count", (int)r->passport_count, "cache_hit",
                  r->cache_hit);
    if (o == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the result holds text that is not UTF-8");
    *json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return *json ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}
