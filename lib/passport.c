/* PASSporT construction, signing and parsing (RFC 8225, 8588, 8946). */
#include "jws_int.h"
#include "passport_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Telephone numbers */

static int tn_char_ok(char c)
{
    return isdigit((unsigned char)c) || c == '#' || c == '*';
}

int sti_tn_is_canonical(const char *tn)
{
    size_t n = tn ? strlen(tn) : 0;

    if (n == 0 || n > STI_TN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!tn_char_ok(tn[i]))
            return 0;
    return 1;
}

/* Copies the digits of TN, dropping '+' and visual separators. */
static int tn_strip(const char *tn, char *out, size_t cap, int *had_plus)
{
    size_t n = 0;

    *had_plus = 0;
    while (*tn == ' ')
        tn++;
    if (*tn == '+') {
        *had_plus = 1;
        tn++;
    }
    for (; *tn != '\0'; tn++) {
        if (strchr(" -.()", *tn) != NULL)
            continue;
        if (!tn_char_ok(*tn) || n + 1 >= cap)
            return 0;
        out[n++] = *tn;
    }
    out[n] = '\0';
    return n > 0;
}

int sti_tn_canonicalize(const char *profile, const char *tn,
                        char out[STI_TN_MAX + 1], struct sti_error *err)
{
    char digits[STI_TN_MAX];
    int plus, fr;
    size_t n, max;

    out[0] = '\0';
    if (profile == NULL)
        profile = "us";
    fr = strcmp(profile, "fr") == 0;
    if (!fr && strcmp(profile, "us") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown TN profile '%s'; use us or fr", profile);
    if (tn == NULL || !tn_strip(tn, digits, sizeof(digits), &plus))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid telephone number '%s'; use digits, '#' "
                          "or '*' with an optional leading '+'",
                          tn ? tn : "(none)");
    n = strlen(digits);
    max = fr ? 16 : 15;
    if (!plus && !fr && n == 10 && digits[0] != '1')
        snprintf(out, STI_TN_MAX + 1, "1%s", digits); /* NANP national */
    else if (!plus && fr && n == 10 && digits[0] == '0')
        snprintf(out, STI_TN_MAX + 1, "33%s", digits + 1); /* French 0X */
    else
        memcpy(out, digits, n + 1);
    if (strlen(out) > max) {
        out[0] = '\0';
        return sti_seterr(err, STI_ERR_INVALID,
                          "telephone number '%s' has more than %zu digits "
                          "under the %s profile",
                          tn, max, profile);
    }
    return STI_OK;
}

/* Claims to JSON */

static int is_core_claim(const char *name)
{
    static const char *const core[] = {"attest", "dest",   "iat",
                                       "orig",   "origid", "div"};

    for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
        if (strcmp(name, core[i]) == 0)
            return 1;
    return 0;
}

/* Builds {"tn":TN} or {"uri":URI}; exactly one must be given. */
static json_t *tn_or_uri(const char *tn, const char *uri, const char *what,
                         struct sti_error *err)
{
    json_t *obj;

    if ((tn == NULL) == (uri == NULL)) {
        sti_seterr(err, STI_ERR_INVALID,
                   "the %s claim needs exactly one of a TN and a URI", what);
        return NULL;
    }
    if (tn != NULL && !sti_tn_is_canonical(tn)) {
        sti_seterr(err, STI_ERR_INVALID,
                   "%s TN '%s' is not canonical; use digits only, without "
                   "'+' or separators",
                   what, tn);
        return NULL;
    }
    if (uri != NULL && !sti_sip_uri_valid(uri)) {
        char shown[128];

        sti_seterr(err, STI_ERR_INVALID,
                   "%s URI '%s' is invalid; use a URI without spaces such as "
                   "sip:alice@example.org",
                   what, sti_escape(uri, strlen(uri), shown, sizeof(shown)));
        return NULL;
    }
    obj = tn ? json_pack("{s:s}", "tn", tn) : json_pack("{s:s}", "uri", uri);
    if (obj == NULL)
        sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return obj;
}

static json_t *string_array(const char *const *items, size_t count, int is_tn,
                            struct sti_error *err)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < count; i++) {
        if (items[i] == NULL || items[i][0] == '\0' ||
            (is_tn ? !sti_tn_is_canonical(items[i])
                   : !sti_sip_uri_valid(items[i]))) {
            char shown[128];
            const char *item = items[i] ? items[i] : "";

            sti_seterr(err, STI_ERR_INVALID,
                       "dest %s '%s' is invalid; use canonical digits for "
                       "a TN, and a URI without spaces such as "
                       "sip:bob@example.org",
                       is_tn ? "TN" : "URI",
                       sti_escape(item, strlen(item), shown, sizeof(shown)));
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            sti_seterr(err, STI_ERR_NOMEM, "out of memory");
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *dest_object(const struct sti_passport_claims *c,
                           struct sti_error *err)
{
    json_t *d, *tn = NULL, *uri = NULL;

    if (c->dest_tn_count + c->dest_uri_count == 0) {
        sti_seterr(err, STI_ERR_INVALID,
                   "the dest claim needs at least one TN or URI");
        return NULL;
    }
    d = json_object();
    if (c->dest_tn_count > 0) {
        tn = string_array(c->dest_tn, c->dest_tn_count, 1, err);
        if (tn == NULL || json_object_set_new(d, "tn", tn) != 0)
            goto fail;
    }
    if (c->dest_uri_count > 0) {
        uri = string_array(c->dest_uri, c->dest_uri_count, 0, err);
        if (uri == NULL || json_object_set_new(d, "uri", uri) != 0)
            goto fail;
    }
    return d;
fail:
    json_decref(d);
    return NULL;
}

static int merge_extra(json_t *payload, const char *extra,
                       struct sti_error *err)
{
    json_t *obj;
    const char *name;
    json_t *value;
    int rc;

    if (extra == NULL)
        return STI_OK;
    rc = sti_json_parse_object(extra, strlen(extra), "the extra claims", &obj,
                               err);
    if (rc != STI_OK)
        return rc;
    json_object_foreach(obj, name, value)
    {
        if (is_core_claim(name)) {
            rc = sti_seterr(err, STI_ERR_INVALID,
                            "extra claim \"%s\" would replace a core claim; "
                            "set it through its own field",
                            name);
            break;
        }
        json_object_set(payload, name, value);
    }
    json_decref(obj);
    return rc;
}

/* A random RFC 4122 version 4 UUID, the form origid takes in practice;
 * formatted by hand because it is on the signing fast path. */
static int make_origid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t n = 0;

    if (sti_random_id_bytes(b, sizeof(b)) != STI_OK)
        return STI_ERR_CRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 15];
    }
    out[n] = '\0';
    return STI_OK;
}

static int check_shaken(const struct sti_passport_claims *c,
                        struct sti_error *err)
{
    if (c->attest == NULL || strlen(c->attest) != 1 ||
        strchr("ABC", c->attest[0]) == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "attestation '%s' is invalid; use A, B or C",
                          c->attest ? c->attest : "(none)");
    return STI_OK;
}

/* Returns 1 when TEXT is valid UTF-8, which JSON strings must be. */
static int json_utf8(const char *text)
{
    json_t *s = json_string(text);
    int ok = s != NULL;

    json_decref(s);
    return ok;
}

/* Adds the ppt-specific claims: attest and origid, or div. */
static int add_ppt_claims(json_t *p, const struct sti_passport_claims *c,
                          const char *ppt, struct sti_error *err)
{
    if (ppt != NULL && strcmp(ppt, "shaken") == 0) {
        char uuid[37];
        int rc = check_shaken(c, err);

        if (rc != STI_OK)
            return rc;
        if (c->origid == NULL && make_origid(uuid) != STI_OK)
            return sti_seterr(err, STI_ERR_CRYPTO, "cannot make an origid");
        if (c->origid != NULL && !json_utf8(c->origid)) {
            char shown[128];

            return sti_seterr(
                err, STI_ERR_INVALID,
                "origid '%s' is not valid UTF-8; use a UUID",
                sti_escape(c->origid, strlen(c->origid), shown, sizeof(shown)));
        }
        if (json_object_set_new(p, "attest", json_string(c->attest)) != 0 ||
            json_object_set_new(p, "origid",
                                json_string(c->origid ? c->origid : uuid)) != 0)
            return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    if (ppt != NULL && strcmp(ppt, "div") == 0) {
        json_t *div = tn_or_uri(c->div_tn, c->div_uri, "div", err);

        if (div == NULL)
            return err ? err->code : STI_ERR_INVALID;
        json_object_set_new(p, "div", div);
    }
    return STI_OK;
}

/* Fast path for the common claims: canonical JSON written directly in
 * sorted key order, without building a jansson tree.  It applies only when
 * there are no extra claims and every string is printable ASCII without
 * '"' or '\\', so that JSON needs no escaping.  Everything else, and every
 * invalid input, goes to the jansson path below, which produces the output
 * or the error. */
struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *text)
{
    size_t n = strlen(text);

    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 512;
        char *bigger;

        while (cap < b->len + n + 1)
            cap *= 2;
        bigger = realloc(b->p, cap);
        if (bigger == NULL) {
            b->failed = 1;
            return;
        }
        b->p = bigger;
        b->cap = cap;
    }
    memcpy(b->p + b->len, text, n + 1);
    b->len += n;
}

static int plain(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return 0;
    return 1;
}

/* Writes {"tn":"..."} or {"uri":"..."}; 0 when not fast-path material. */
static int put_tn_or_uri(struct buf *b, const char *tn, const char *uri)
{
    if ((tn == NULL) == (uri == NULL) ||
        (tn != NULL && !sti_tn_is_canonical(tn)) ||
        (uri != NULL && (!plain(uri) || !sti_sip_uri_valid(uri))))
        return 0;
    put(b, tn ? "{\"tn\":\"" : "{\"uri\":\"");
    put(b, tn ? tn : uri);
    put(b, "\"}");
    return 1;
}

static int put_array(struct buf *b, const char *name, const char *const *items,
                     size_t count, int is_tn)
{
    put(b, name);
    for (size_t i = 0; i < count; i++) {
        if (is_tn ? !sti_tn_is_canonical(items[i])
                  : !plain(items[i]) || !sti_sip_uri_valid(items[i]))
            return 0;
        put(b, i ? ",\"" : "\"");
        put(b, items[i]);
        put(b, "\"");
    }
    put(b, "]");
    return 1;
}

static int put_dest(struct buf *b, const struct sti_passport_claims *c)
{
    if (c->dest_tn_count + c->dest_uri_count == 0)
        return 0;
    put(b, "\"dest\":{");
    if (c->dest_tn_count > 0 &&
        !put_array(b, "\"tn\":[", c->dest_tn, c->dest_tn_count, 1))
        return 0;
    if (c->dest_uri_count > 0 &&
        !put_array(b, c->dest_tn_count ? ",\"uri\":[" : "\"uri\":[",
                   c->dest_uri, c->dest_uri_count, 0))
        return 0;
    put(b, "},");
    return 1;
}

static int fast_payload(const struct sti_passport_claims *c, const char *ppt,
                        char **out)
{
    int shaken = ppt && strcmp(ppt, "shaken") == 0;
    int div = ppt && strcmp(ppt, "div") == 0;
    struct buf b = {0};
    char num[64], uuid[37];
    int ok;

    if (c->extra_json != NULL ||
        (shaken && (check_shaken(c, NULL) || (c->origid && !plain(c->origid)))))
        return 0;
    if (shaken && c->origid == NULL && make_origid(uuid) != STI_OK)
        return 0;
    put(&b, "{");
    if (shaken) {
        put(&b, "\"attest\":\"");
        put(&b, c->attest);
        put(&b, "\",");
    }
    ok = put_dest(&b, c);
    if (ok && div) {
        put(&b, "\"div\":");
        ok = put_tn_or_uri(&b, c->div_tn, c->div_uri);
        put(&b, ",");
    }
    snprintf(num, sizeof(num), "\"iat\":%lld,\"orig\":",
             (long long)(c->iat > 0 ? c->iat : time(NULL)));
    put(&b, num);
    ok = ok && put_tn_or_uri(&b, c->orig_tn, c->orig_uri);
    if (shaken) {
        put(&b, ",\"origid\":\"");
        put(&b, c->origid ? c->origid : uuid);
        put(&b, "\"");
    }
    put(&b, "}");
    if (!ok || b.failed) {
        free(b.p);
        return 0;
    }
    *out = b.p;
    return 1;
}

int sti_passport_payload(const struct sti_passport_claims *c, const char *ppt,
                         char **out, struct sti_error *err)
{
    json_t *p, *orig, *dest;
    int rc;

    *out = NULL;
    if (fast_payload(c, ppt, out))
        return STI_OK;
    p = json_object();
    if (p == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    orig = tn_or_uri(c->orig_tn, c->orig_uri, "orig", err);
    dest = orig ? dest_object(c, err) : NULL;
    if (orig == NULL || dest == NULL) {
        json_decref(orig);
        json_decref(p);
        return err ? err->code : STI_ERR_INVALID;
    }
    json_object_set_new(p, "orig", orig);
    json_object_set_new(p, "dest", dest);
    json_object_set_new(p, "iat",
                        json_integer(c->iat > 0 ? c->iat : time(NULL)));
    rc = add_ppt_claims(p, c, ppt, err);
    if (rc == STI_OK)
        rc = merge_extra(p, c->extra_json, err);
    if (rc == STI_OK)
        rc = sti_json_dump_canonical(p, out, err);
    json_decref(p);
    return rc;
}

/* The info parameter puts x5u between angle brackets (RFC 8224 section
 * 4.1), so any of the rejected bytes could end the parameter or the
 * header early. */
int sti_passport_check_x5u(const char *x5u, struct sti_error *err)
{
    size_t start;
    char shown[256];

    if (x5u == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no x5u given");
    start = strncasecmp(x5u, "https://", 8) == 0  ? 8
            : strncasecmp(x5u, "http://", 7) == 0 ? 7
                                                  : 0;
    if (start == 0 || x5u[start] == '\0' || x5u[start] == '/')
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid x5u '%s': not an absolute http or https "
                          "URL; give the URL of the certificate chain, such "
                          "as https://cr.example.net/sp.pem",
                          sti_escape(x5u, strlen(x5u), shown, sizeof(shown)));
    for (const unsigned char *p = (const unsigned char *)x5u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>\"", *p) != NULL)
            return sti_seterr(
                err, STI_ERR_INVALID,
                "invalid x5u '%s': byte %zu is a space, control character, "
                "non-ASCII byte, '<', '>' or '\"'; percent-encode it",
                sti_escape(x5u, strlen(x5u), shown, sizeof(shown)),
                (size_t)(p - (const unsigned char *)x5u) + 1);
    return STI_OK;
}

int sti_passport_header(const char *x5u, const char *ppt, char **out,
                        struct sti_error *err)
{
    json_t *h;
    int rc;

    *out = NULL;
    if (x5u == NULL || x5u[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "no x5u given; a PASSporT names the URL of its "
                          "certificate chain");
    rc = sti_passport_check_x5u(x5u, err);
    if (rc != STI_OK)
        return rc;
    h = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "passport", "x5u",
                  x5u);
    if (h != NULL && ppt != NULL)
        json_object_set_new(h, "ppt", json_string(ppt));
    if (h == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_json_dump_canonical(h, out, err);
    json_decref(h);
    return rc;
}

/* Signer */

#define CTX_POOL 8

struct sti_signer {
    struct sti_key *key;
    char *x5u;
    char *ppt;
    char *header_b64;
    char *params; /* ";info=<x5u>;alg=ES256;ppt=..." */
    /* Signing contexts ready for use; an OpenSSL context serves one
     * thread at a time, so threads take one from the pool and return it. */
    pthread_mutex_t lock;
    EVP_PKEY_CTX *pool[CTX_POOL];
    int pooled;
};

static EVP_PKEY_CTX *take_ctx(const struct sti_signer *cs)
{
    struct sti_signer *s = (struct sti_signer *)cs;
    EVP_PKEY_CTX *ctx = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->pooled > 0)
        ctx = s->pool[--s->pooled];
    pthread_mutex_unlock(&s->lock);
    return ctx ? ctx : sti_es256_sign_ctx_new(sti_key_get0_pkey(s->key));
}

static void give_ctx(const struct sti_signer *cs, EVP_PKEY_CTX *ctx)
{
    struct sti_signer *s = (struct sti_signer *)cs;

    pthread_mutex_lock(&s->lock);
    if (s->pooled < CTX_POOL) {
        s->pool[s->pooled++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    EVP_PKEY_CTX_free(ctx);
}

void sti_signer_free(struct sti_signer *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->pooled; i++)
        EVP_PKEY_CTX_free(s->pool[i]);
    pthread_mutex_destroy(&s->lock);
    sti_key_free(s->key);
    free(s->x5u);
    free(s->ppt);
    free(s->header_b64);
    free(s->params);
    free(s);
}

/* The Identity parameters after the JWS (RFC 8224 section 4.1). */
static char *make_params(const char *x5u, const char *ppt)
{
    size_t n = strlen(x5u) + (ppt ? strlen(ppt) : 0) + 32;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, ";info=<%s>;alg=ES256%s%s", x5u, ppt ? ";ppt=" : "",
                 ppt ? ppt : "");
    return p;
}

int sti_signer_new(const struct sti_key *key, const char *x5u, const char *ppt,
                   struct sti_signer **out, struct sti_error *err)
{
    struct sti_signer *s;
    char *header = NULL;
    int rc;

    *out = NULL;
    if (key == NULL || !sti_key_has_private(key) || !sti_key_is_p256(key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signing needs a P-256 private key");
    rc = sti_passport_header(x5u, ppt, &header, err);
    if (rc != STI_OK)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s != NULL) {
        pthread_mutex_init(&s->lock, NULL);
        s->key = sti_key_up_ref((struct sti_key *)key);
        s->x5u = strdup(x5u);
        s->ppt = sti_strdup(ppt);
        s->header_b64 =
            sti_b64url_encode((unsigned char *)header, strlen(header));
        s->params = make_params(x5u, ppt);
    }
    free(header);
    if (s == NULL || s->x5u == NULL || (ppt && s->ppt == NULL) ||
        s->header_b64 == NULL || s->params == NULL) {
        sti_signer_free(s);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return STI_OK;
}

/* Signs CLAIMS into "header.payload.signature" followed by TAIL (may be
 * ""), in one allocation. */
static int sign_with_tail(const struct sti_signer *s,
                          const struct sti_passport_claims *claims,
                          const char *tail, char **out, struct sti_error *err)
{
    unsigned char sig[STI_ES256_SIG_LEN];
    EVP_PKEY_CTX *ctx;
    char *payload = NULL, *pb = NULL, *sb = NULL, *p;
    size_t hl = strlen(s->header_b64), pl, tl = strlen(tail);
    int rc;

    *out = NULL;
    if (claims == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no claims given");
    rc = sti_passport_payload(claims, s->ppt, &payload, err);
    if (rc != STI_OK)
        return rc;
    pb = sti_b64url_encode((unsigned char *)payload, strlen(payload));
    pl = pb ? strlen(pb) : 0;
    /* 64 signature bytes are 86 base64url characters. */
    p = pb ? malloc(hl + 1 + pl + 1 + 86 + tl + 1) : NULL;
    if (p == NULL) {
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(p, s->header_b64, hl);
    p[hl] = '.';
    memcpy(p + hl + 1, pb, pl);
    ctx = take_ctx(s);
    rc = ctx ? sti_es256_sign_ctx(ctx, p, hl + 1 + pl, sig, err)
             : sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot set up ES256 signing");
    if (ctx != NULL)
        give_ctx(s, ctx);
    if (rc == STI_OK && (sb = sti_b64url_encode(sig, sizeof(sig))) == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (rc == STI_OK) {
        p[hl + 1 + pl] = '.';
        memcpy(p + hl + 2 + pl, sb, 86);
        memcpy(p + hl + 2 + pl + 86, tail, tl + 1);
        *out = p;
        p = NULL;
    }
out:
    free(p);
    free(payload);
    free(pb);
    free(sb);
    return rc;
}

int sti_signer_sign(const struct sti_signer *s,
                    const struct sti_passport_claims *claims, char **jws,
                    struct sti_error *err)
{
    *jws = NULL;
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no signer given");
    return sign_with_tail(s, claims, "", jws, err);
}

int sti_signer_sign_identity(const struct sti_signer *s,
                             const struct sti_passport_claims *claims,
                             int compact, char **identity,
                             struct sti_error *err)
{
    char *jws;
    int rc;

    *identity = NULL;
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no signer given");
    if (!compact)
        return sign_with_tail(s, claims, s->params, identity, err);
    rc = sti_signer_sign(s, claims, &jws, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_identity_format(jws, s->x5u, s->ppt, compact, identity, err);
    free(jws);
    return rc;
}

int sti_passport_sign(const struct sti_passport_claims *claims,
                      const struct sti_key *key, char **jws,
                      struct sti_error *err)
{
    struct sti_signer *s;
    int rc;

    *jws = NULL;
    if (claims == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no claims given");
    rc = sti_signer_new(key, claims->x5u, claims->ppt, &s, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_signer_sign(s, claims, jws, err);
    sti_signer_free(s);
    return rc;
}

/* Parsing */

struct sti_passport {
    struct sti_jws *jws;
    struct sti_passport_claims claims;
    const char **dest_tn;
    const char **dest_uri;
    char *extra_json;
};

void sti_passport_free(struct sti_passport *p)
{
    if (p == NULL)
        return;
    sti_jws_free(p->jws);
    free(p->dest_tn);
    free(p->dest_uri);
    free(p->extra_json);
    free(p);
}

static int bad_claim(struct sti_error *err, const char *what)
{
    return sti_seterr(err, STI_ERR_INVALID, "invalid PASSporT: %s", what);
}

/* Reads an optional string member; a present non-string is invalid. */
static int opt_string(json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL)
        return 1;
    *out = json_string_value(v);
    return *out != NULL && (*out)[0] != '\0';
}

static int parse_header(struct sti_passport *p, struct sti_error *err)
{
    json_t *h = sti_jws_get0_header(p->jws);
    const char *typ, *alg = sti_jws_alg(p->jws);

    if (strcmp(alg, "ES256") != 0)
        return sti_seterr(err, STI_ERR_POLICY,
                          "PASSporT algorithm \"%s\" is not supported; "
                          "only ES256 is (RFC 8588 section 4)",
                          alg);
    if (!opt_string(h, "typ", &typ) || typ == NULL ||
        strcmp(typ, "passport") != 0)
        return bad_claim(err, "the header \"typ\" must be \"passport\"");
    if (!opt_string(h, "x5u", &p->claims.x5u) || p->claims.x5u == NULL)
        return bad_claim(err, "the header has no \"x5u\" URL string");
    if (!opt_string(h, "ppt", &p->claims.ppt))
        return bad_claim(err, "the header \"ppt\" is not a string");
    return STI_OK;
}

/* Parses {"tn":..} or {"uri":..} with exactly one member.  ALLOW names
 * one further member that may appear (div's "hi"), or is NULL. */
static int parse_tn_or_uri(json_t *obj, const char *what, const char *allow,
                           const char **tn, const char **uri,
                           struct sti_error *err)
{
    size_t extra = allow && json_object_get(obj, allow) ? 1 : 0;

    if (!json_is_object(obj) || json_object_size(obj) != 1 + extra ||
        !opt_string(obj, "tn", tn) || !opt_string(obj, "uri", uri) ||
        (*tn == NULL && *uri == NULL))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid PASSporT: the \"%s\" claim must be an "
                          "object with one \"tn\" or \"uri\" string",
                          what);
    return STI_OK;
}

static int parse_string_array(json_t *a, const char ***out, size_t *count)
{
    size_t n = json_array_size(a);

    if (!json_is_array(a) || n == 0)
        return 0;
    *out = calloc(n, sizeof(char *));
    if (*out == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        (*out)[i] = json_string_value(json_array_get(a, i));
        if ((*out)[i] == NULL || (*out)[i][0] == '\0')
            return 0;
    }
    *count = n;
    return 1;
}

static int parse_dest(struct sti_passport *p, json_t *d, struct sti_error *err)
{
    json_t *tn = json_object_get(d, "tn"), *uri = json_object_get(d, "uri");
    size_t members = (tn != NULL) + (uri != NULL);

    if (!json_is_object(d) || members == 0 || json_object_size(d) != members)
        return bad_claim(err, "the \"dest\" claim must be an object with "
                              "\"tn\" and/or \"uri\" arrays");
    if (tn != NULL &&
        !parse_string_array(tn, &p->dest_tn, &p->claims.dest_tn_count))
        return bad_claim(err, "\"dest\".\"tn\" must be a non-empty array of "
                              "strings");
    if (uri != NULL &&
        !parse_string_array(uri, &p->dest_uri, &p->claims.dest_uri_count))
        return bad_claim(err, "\"dest\".\"uri\" must be a non-empty array "
                              "of strings");
    p->claims.dest_tn = p->dest_tn;
    p->claims.dest_uri = p->dest_uri;
    return STI_OK;
}

static int parse_shaken(struct sti_passport *p, json_t *pl,
                        struct sti_error *err)
{
    const char *a;

    if (!opt_string(pl, "attest", &a) || a == NULL || strlen(a) != 1 ||
        strchr("ABC", a[0]) == NULL)
        return bad_claim(err, "\"attest\" must be \"A\", \"B\" or \"C\"");
    if (!opt_string(pl, "origid", &p->claims.origid) ||
        p->claims.origid == NULL)
        return bad_claim(err, "\"origid\" must be a non-empty string");
    p->claims.attest = a;
    return STI_OK;
}

/* Collects the claims this module does not interpret (rcd, crn, ...). */
static int collect_extra(struct sti_passport *p, json_t *pl,
                         struct sti_error *err)
{
    json_t *extra = NULL, *v;
    const char *name;
    int rc = STI_OK;

    json_object_foreach(pl, name, v)
    {
        if (is_core_claim(name))
            continue;
        if (extra == NULL && (extra = json_object()) == NULL)
            return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        json_object_set(extra, name, v);
    }
    if (extra != NULL)
        rc = sti_json_dump_canonical(extra, &p->extra_json, err);
    p->claims.extra_json = p->extra_json;
    json_decref(extra);
    return rc;
}

static int parse_payload(struct sti_passport *p, struct sti_error *err)
{
    json_t *pl = sti_jws_get0_payload(p->jws), *iat, *div;
    const char *ppt = p->claims.ppt;
    int rc;

    iat = json_object_get(pl, "iat");
    if (!json_is_integer(iat) || json_integer_value(iat) <= 0)
        return bad_claim(err, "\"iat\" must be a positive integer");
    p->claims.iat = json_integer_value(iat);
    rc = parse_tn_or_uri(json_object_get(pl, "orig"), "orig", NULL,
                         &p->claims.orig_tn, &p->claims.orig_uri, err);
    if (rc == STI_OK)
        rc = parse_dest(p, json_object_get(pl, "dest"), err);
    if (rc == STI_OK && ppt != NULL && strcmp(ppt, "shaken") == 0)
        rc = parse_shaken(p, pl, err);
    div = json_object_get(pl, "div");
    if (rc == STI_OK && ppt != NULL && strcmp(ppt, "div") == 0 && div == NULL)
        rc = bad_claim(err, "a div PASSporT needs a \"div\" claim");
    if (rc == STI_OK && div != NULL)
        rc = parse_tn_or_uri(div, "div", "hi", &p->claims.div_tn,
                             &p->claims.div_uri, err);
    if (rc == STI_OK)
        rc = collect_extra(p, pl, err);
    return rc;
}

int sti_passport_parse(const char *jws, size_t len, struct sti_passport **out,
                       struct sti_error *err)
{
    struct sti_passport *p;
    int rc;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_jws_parse(jws, len, &p->jws, err);
    if (rc == STI_OK)
        rc = parse_header(p, err);
    if (rc == STI_OK)
        rc = parse_payload(p, err);
    if (rc != STI_OK) {
        sti_passport_free(p);
        return rc;
    }
    *out = p;
    return STI_OK;
}

const struct sti_passport_claims *
sti_passport_claims(const struct sti_passport *p)
{
    return p ? &p->claims : NULL;
}

int sti_passport_verify(const struct sti_passport *p, const struct sti_key *key,
                        struct sti_error *err)
{
    if (p == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no PASSporT given");
    return sti_jws_verify(p->jws, key, err);
}

int sti_passport_verify_pkey(const struct sti_passport *p, EVP_PKEY *pkey,
                             struct sti_error *err)
{
    size_t len;
    const char *input = sti_jws_signing_input(p->jws, &len);

    return sti_es256_verify(pkey, input, len, sti_jws_signature(p->jws), err);
}

int sti_passport_verify_ctx(const struct sti_passport *p, EVP_PKEY_CTX *ctx,
                            struct sti_error *err)
{
    size_t len;
    const char *input = sti_jws_signing_input(p->jws, &len);

    return sti_es256_verify_ctx(ctx, input, len, sti_jws_signature(p->jws),
                                err);
}

const char *sti_passport_header_json(const struct sti_passport *p)
{
    return p ? sti_jws_header_json(p->jws) : NULL;
}

const char *sti_passport_payload_json(const struct sti_passport *p)
{
    return p ? sti_jws_payload_json(p->jws) : NULL;
}
