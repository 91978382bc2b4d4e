/* SPC tokens (RFC 9448 section 3, ATIS-1000080): create, parse, verify. */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define FP_BYTES 32

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = toupper(c);
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes "SHA256 AB:CD:.." (colons optional) or a base64url thumbprint
 * into 32 bytes. */
static int fingerprint_bytes(const char *fp, unsigned char out[FP_BYTES])
{
    size_t n = 0;
    unsigned char *raw = NULL;
    size_t raw_len = 0;

    if (fp == NULL)
        return STI_ERR_INVALID;
    if (strncasecmp(fp, "SHA256 ", 7) != 0) {
        if (sti_b64url_decode(fp, strlen(fp), &raw, &raw_len) != STI_OK)
            return STI_ERR_INVALID;
        if (raw_len == FP_BYTES)
            memcpy(out, raw, FP_BYTES);
        free(raw);
        return raw_len == FP_BYTES ? STI_OK : STI_ERR_INVALID;
    }
    for (const char *p = fp + 7; *p != '\0';) {
        int hi = hex_value((unsigned char)p[0]);
        int lo = hi < 0 ? -1 : hex_value((unsigned char)p[1]);

        if (lo < 0 || n == FP_BYTES)
            return STI_ERR_INVALID;
        out[n++] = (unsigned char)(hi << 4 | lo);
        p += 2;
        if (*p == ':' && p[1] != '\0')
            p++;
    }
    return n == FP_BYTES ? STI_OK : STI_ERR_INVALID;
}

int sti_spc_fingerprint_valid(const char *fingerprint, struct sti_error *err)
{
    unsigned char b[FP_BYTES];

    if (fingerprint_bytes(fingerprint, b) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid fingerprint '%.120s'; use \"SHA256 \" and "
                          "32 hex bytes with colons",
                          fingerprint ? fingerprint : "");
    return STI_OK;
}

int sti_spc_fingerprint_normalize(const char *fingerprint,
                                  char out[STI_FINGERPRINT_LEN],
                                  struct sti_error *err)
{
    unsigned char b[FP_BYTES];
    int rc = sti_spc_fingerprint_valid(fingerprint, err);

    if (rc != STI_OK)
        return rc;
    /* A base64url thumbprint is case-sensitive, so it stays as given. */
    if (strncasecmp(fingerprint, "SHA256 ", 7) != 0) {
        snprintf(out, STI_FINGERPRINT_LEN, "%s", fingerprint);
        return STI_OK;
    }
    fingerprint_bytes(fingerprint, b);
    memcpy(out, "SHA256 ", 7);
    for (size_t i = 0; i < FP_BYTES; i++)
        snprintf(out + 7 + 3 * i, 4, i + 1 < FP_BYTES ? "%02X:" : "%02X", b[i]);
    return STI_OK;
}

static int key_digests(const struct sti_key *key, unsigned char spki[FP_BYTES],
                       unsigned char jwk[FP_BYTES], struct sti_error *err)
{
    char fp[STI_FINGERPRINT_LEN];
    char *thumb = NULL;
    int rc = sti_key_spki_fingerprint(key, fp, err);

    if (rc == STI_OK)
        rc = sti_key_jwk_thumbprint(key, &thumb, err);
    if (rc != STI_OK)
        return rc;
    if (fingerprint_bytes(fp, spki) != STI_OK ||
        fingerprint_bytes(thumb, jwk) != STI_OK)
        rc = sti_seterr(err, STI_ERR_INTERNAL,
                        "unexpected key fingerprint format");
    free(thumb);
    return rc;
}

int sti_spc_fingerprint_check(const char *fingerprint,
                              const struct sti_key *account_key,
                              struct sti_error *err)
{
    unsigned char got[FP_BYTES], spki[FP_BYTES], jwk[FP_BYTES];
    int rc = sti_spc_fingerprint_valid(fingerprint, err);

    if (rc != STI_OK)
        return rc;
    if (account_key == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no account key given");
    fingerprint_bytes(fingerprint, got);
    rc = key_digests(account_key, spki, jwk, err);
    if (rc != STI_OK)
        return rc;
    if (memcmp(got, spki, FP_BYTES) != 0 && memcmp(got, jwk, FP_BYTES) != 0)
        return sti_seterr(err, STI_ERR_POLICY,
                          "fingerprint '%.120s' matches neither the account "
                          "key's SPKI SHA-256 nor its RFC 7638 thumbprint",
                          fingerprint);
    return STI_OK;
}

/* Creation */

static int encode_tnauth(const struct sti_tnauth *tn, char **b64,
                         struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int rc = sti_tnauth_encode(tn, &der, &len, err);

    *b64 = NULL;
    if (rc != STI_OK)
        return rc;
    *b64 = sti_b64_encode(der, len);
    free(der);
    return *b64 ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static char *dump_compact(json_t *value)
{
    char *text =
        value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    json_decref(value);
    return text;
}

int sti_spc_token_create(const struct sti_spc_token_request *req,
                         const struct sti_key *key, char **token,
                         struct sti_error *err)
{
    char jti[37], *tkvalue = NULL, *header = NULL, *payload = NULL;
    int rc;

    *token = NULL;
    if (req == NULL || req->x5u == NULL || req->tnauth == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "an SPC token needs an x5u URL and a TNAuthList");
    rc = sti_spc_fingerprint_valid(req->fingerprint, err);
    if (rc != STI_OK)
        return rc;
    if (req->jti != NULL)
        snprintf(jti, sizeof(jti), "%s", req->jti);
    else if (sti_uuid4(jti) != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO, "cannot generate a jti");
    rc = encode_tnauth(req->tnauth, &tkvalue, err);
    if (rc != STI_OK)
        return rc;
    header = dump_compact(json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ",
                                    "JWT", "x5u", req->x5u));
    payload = dump_compact(
        json_pack("{s:{s:b, s:s, s:s, s:s}, s:I, s:s}", "atc", "ca",
                  req->ca != 0, "fingerprint", req->fingerprint, "tktype",
                  "TNAuthList", "tkvalue", tkvalue, "exp", (json_int_t)req->exp,
                  "jti", req->jti ? req->jti : jti));
    if (header == NULL || payload == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else
        rc = sti_jws_sign(header, payload, key, token, err);
    free(tkvalue);
    free(header);
    free(payload);
    return rc;
}

/* Parsing */

void sti_spc_token_free(struct sti_spc_token *t)
{
    if (t == NULL)
        return;
    free(t->x5u);
    free(t->jti);
    free(t->tktype);
    free(t->tkvalue);
    free(t->fingerprint);
    sti_tnauth_free(t->tnauth);
    free(t);
}

static int parse_header(const struct sti_jws *jws, struct sti_spc_token *t,
                        struct sti_error *err)
{
    const char *alg = sti_jws_header_string(jws, "alg");
    const char *typ = sti_jws_header_string(jws, "typ");
    const char *x5u = sti_jws_header_string(jws, "x5u");

    if (alg == NULL || strcmp(alg, "ES256") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token header alg is '%s'; expected ES256",
                          alg ? alg : "(missing)");
    if (typ != NULL && strcmp(typ, "JWT") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token header typ is '%s'; expected JWT", typ);
    if (x5u == NULL || x5u[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token header has no x5u string");
    t->x5u = strdup(x5u);
    return t->x5u ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static int atc_string(json_t *atc, const char *name, char **out,
                      struct sti_error *err)
{
    json_t *v = json_object_get(atc, name);

    if (!json_is_string(v) || json_string_length(v) == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc.%s is missing or not a non-empty "
                          "string",
                          name);
    *out = strdup(json_string_value(v));
    return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static int parse_tkvalue(struct sti_spc_token *t, struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int rc;

    if (strcmp(t->tktype, "TNAuthList") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc.tktype is '%s'; expected TNAuthList",
                          t->tktype);
    if (sti_b64_decode(t->tkvalue, strlen(t->tkvalue), &der, &len) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc.tkvalue '%.60s' is not base64",
                          t->tkvalue);
    rc = sti_tnauth_decode(der, len, &t->tnauth, err);
    free(der);
    return rc;
}

static int parse_atc(json_t *atc, struct sti_spc_token *t,
                     struct sti_error *err)
{
    json_t *ca = json_object_get(atc, "ca");
    int rc;

    if (!json_is_object(atc))
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token payload has no atc object");
    rc = atc_string(atc, "tktype", &t->tktype, err);
    if (rc == STI_OK)
        rc = atc_string(atc, "tkvalue", &t->tkvalue, err);
    if (rc == STI_OK)
        rc = atc_string(atc, "fingerprint", &t->fingerprint, err);
    if (rc == STI_OK && !json_is_boolean(ca))
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token atc.ca is missing or not a boolean");
    if (rc == STI_OK)
        rc = sti_spc_fingerprint_valid(t->fingerprint, err);
    if (rc == STI_OK)
        rc = parse_tkvalue(t, err);
    t->ca = json_is_true(ca);
    return rc;
}

static int parse_payload(const char *text, struct sti_spc_token *t,
                         struct sti_error *err)
{
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *exp = json_object_get(root, "exp");
    json_t *jti = json_object_get(root, "jti");
    json_t *nbf = json_object_get(root, "nbf");
    int rc;

    if (!json_is_object(root))
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token payload is not a JSON object");
    else if (!json_is_integer(exp) || json_integer_value(exp) <= 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token exp is missing or not a positive "
                        "integer");
    else if (!json_is_string(jti) || json_string_length(jti) == 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token jti is missing or not a string");
    else if (nbf != NULL && !json_is_integer(nbf))
        rc =
            sti_seterr(err, STI_ERR_INVALID, "SPC token nbf is not an integer");
    else {
        t->exp = (time_t)json_integer_value(exp);
        t->nbf = nbf ? (time_t)json_integer_value(nbf) : 0;
        t->jti = strdup(json_string_value(jti));
        rc = t->jti ? parse_atc(json_object_get(root, "atc"), t, err)
                    : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    json_decref(root);
    return rc;
}

static int parse_jws(const char *token, struct sti_jws **jws,
                     struct sti_spc_token **out, struct sti_error *err)
{
    struct sti_spc_token *t;
    int rc;

    *out = NULL;
    *jws = NULL;
    if (token == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SPC token given");
    rc = sti_jws_parse(token, strlen(token), jws, err);
    if (rc != STI_OK)
        return rc;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (rc == STI_OK)
        rc = parse_header(*jws, t, err);
    if (rc == STI_OK)
        rc = parse_payload(sti_jws_payload_json(*jws), t, err);
    if (rc != STI_OK) {
        sti_spc_token_free(t);
        sti_jws_free(*jws);
        *jws = NULL;
        return rc;
    }
    *out = t;
    return STI_OK;
}

int sti_spc_token_parse(const char *token, struct sti_spc_token **out,
                        struct sti_error *err)
{
    struct sti_jws *jws = NULL;
    int rc = parse_jws(token, &jws, out, err);

    sti_jws_free(jws);
    return rc;
}

/* Verification */

static int check_signer(const struct sti_jws *jws,
                        const struct sti_spc_verify_options *o, time_t now,
                        struct sti_error *err)
{
    if (o->pa_certs == NULL || o->pa_cert_count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no trusted PA certificate given");
    for (size_t i = 0; i < o->pa_cert_count; i++) {
        const struct sti_cert *cert = o->pa_certs[i];
        struct sti_key *key = sti_cert_get1_key(cert);
        int rc = key ? sti_jws_verify(jws, key, NULL) : STI_ERR_CRYPTO;

        sti_key_free(key);
        if (rc != STI_OK)
            continue;
        if (now < sti_cert_not_before(cert) || now > sti_cert_not_after(cert))
            return sti_seterr(err, STI_ERR_POLICY,
                              "the PA certificate that signed the SPC token "
                              "is not valid now");
        return STI_OK;
    }
    return sti_seterr(err, STI_ERR_CRYPTO,
                      "the SPC token is not signed by a trusted PA "
                      "certificate");
}

static int same_tnauth(const char *b64, const struct sti_tnauth *tn,
                       struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct sti_tnauth *want = NULL;
    int same;

    if (sti_b64_decode(b64, strlen(b64), &der, &len) != STI_OK ||
        sti_tnauth_decode(der, len, &want, NULL) != STI_OK) {
        free(der);
        return sti_seterr(err, STI_ERR_INVALID,
                          "expected tkvalue '%.60s' is not a base64 "
                          "TNAuthList",
                          b64);
    }
    same = sti_tnauth_equal(want, tn);
    free(der);
    sti_tnauth_free(want);
    if (!same)
        return sti_seterr(err, STI_ERR_POLICY,
                          "the SPC token's TNAuthList differs from the "
                          "expected one");
    return STI_OK;
}

static int check_claims(const struct sti_spc_token *t,
                        const struct sti_spc_verify_options *o,
                        struct sti_error *err)
{
    time_t now = o->now ? o->now : time(NULL);
    long skew = o->skew > 0 ? o->skew : 0;

    if (t->exp + skew <= now)
        return sti_seterr(err, STI_ERR_POLICY,
                          "the SPC token expired %lld s ago",
                          (long long)(now - t->exp));
    if (t->nbf > now + skew)
        return sti_seterr(
            err, STI_ERR_POLICY,
            "the SPC token is not valid before %lld (nbf; now %lld)",
            (long long)t->nbf, (long long)now);
    if (o->x5u != NULL && strcmp(o->x5u, t->x5u) != 0)
        return sti_seterr(err, STI_ERR_POLICY,
                          "the SPC token's x5u '%.200s' is not the PA "
                          "certificate URL '%.200s'",
                          t->x5u, o->x5u);
    if (o->ca >= 0 && (o->ca != 0) != (t->ca != 0))
        return sti_seterr(err, STI_ERR_POLICY,
                          "the SPC token has ca:%s but ca:%s was expected",
                          t->ca ? "true" : "false", o->ca ? "true" : "false");
    if (o->tkvalue != NULL) {
        int rc = same_tnauth(o->tkvalue, t->tnauth, err);

        if (rc != STI_OK)
            return rc;
    }
    if (o->account_key != NULL)
        return sti_spc_fingerprint_check(t->fingerprint, o->account_key, err);
    return STI_OK;
}

int sti_spc_token_verify(const char *token,
                         const struct sti_spc_verify_options *options,
                         struct sti_spc_token **out, struct sti_error *err)
{
    struct sti_jws *jws = NULL;
    struct sti_spc_token *t = NULL;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (options == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no verification options");
    rc = parse_jws(token, &jws, &t, err);
    if (rc == STI_OK)
        rc = check_signer(jws, options,
                          options->now ? options->now : time(NULL), err);
    if (rc == STI_OK)
        rc = check_claims(t, options, err);
    sti_jws_free(jws);
    if (rc != STI_OK || out == NULL)
        sti_spc_token_free(t);
    else
        *out = t;
    return rc;
}
