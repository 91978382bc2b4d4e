/*
 * The signing and verification service behind `sti serve`.
 *
 * Two families of endpoints share one signer and one verifier:
 *   - ATIS-1000082 JSON: POST /stir/v1/signing takes
 *     {"signingRequest":{...}} and returns {"signingResponse":
 *     {"identity":...}}; POST /stir/v1/verification takes
 *     {"verificationRequest":{...}} and returns {"verificationResponse":
 *     {"verstat":...}}.
 *   - secsipidx 1.2.0: /v1/sign-csv takes "orig,dest,attest,origid,x5u"
 *     and returns the Identity header value and a newline as text;
 *     /v1/check takes an Identity header value and returns "OK\n" (200)
 *     or "FAILED\n\n" (500).  Bodies, content types and status codes
 *     match what the secsipidx HTTP server sends, so that its clients can
 *     switch.
 */
#include "internal.h"
#include "service_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Most dest.tn or dest.uri entries a signing request may carry. */
#define MAX_DEST 32

#define TYPE_JSON "application/json"
/* Go's net/http sets this type on the text responses of secsipidx. */
#define TYPE_TEXT "text/plain; charset=utf-8"

struct sti_service {
    struct sti_key *key;
    struct sti_signer *signer; /* NULL when signing is off */
    char *x5u;
    const char *profile;           /* "us" or "fr", static */
    struct sti_verifier *verifier; /* NULL when verification is off */
    /* Copies of the verifier's sources, for the reloads. */
    char *ca_file, *ca_dir, *crl_file, *crl_url, *crl_signer_file;
    char *crl_ca_file, *ca_list, *ca_list_signer_file;
    int freshness_s, future_skew_s;
};

/* Replies */

static void reply_set(struct sti_service_reply *r, int status, const char *type,
                      char *body, size_t len)
{
    r->status = body != NULL ? status : 500;
    r->content_type = type;
    r->body = body;
    r->len = body != NULL ? len : 0;
}

static void reply_json(struct sti_service_reply *r, int status, json_t *doc)
{
    char *text =
        doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(doc);
    reply_set(r, status, TYPE_JSON, text, text ? strlen(text) : 0);
}

/* Sends {"status":"error","message":...}, the shape sti_httpd uses. */
static void reply_error(struct sti_service_reply *r, int status,
                        const char *fmt, ...) STI_PRINTF(3, 4);
static void reply_error(struct sti_service_reply *r, int status,
                        const char *fmt, ...)
{
    char msg[STI_ERROR_MAX + 128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A path or value from the request may hold bytes that are not UTF-8,
     * which JSON strings cannot carry. */
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    reply_json(r, status,
               json_pack("{s:s,s:s}", "status", "error", "message", msg));
}

/* Sends a text error in the form of Go's http.Error(): the message, a
 * newline, and the nosniff header. */
static void reply_text_error(struct sti_service_reply *r, int status,
                             const char *msg)
{
    size_t n = strlen(msg);
    char *body = malloc(n + 2);

    if (body != NULL) {
        memcpy(body, msg, n);
        body[n] = '\n';
        body[n + 1] = '\0';
    }
    reply_set(r, status, TYPE_TEXT, body, n + 1);
    r->nosniff = 1;
}

/* Sends TEXT and a newline with 200, as secsipidx sends a signature. */
static void reply_line(struct sti_service_reply *r, const char *text)
{
    size_t n = strlen(text);
    char *body = malloc(n + 2);

    if (body != NULL) {
        memcpy(body, text, n);
        body[n] = '\n';
        body[n + 1] = '\0';
    }
    reply_set(r, 200, TYPE_TEXT, body, n + 1);
}

static void reply_text(struct sti_service_reply *r, int status,
                       const char *text)
{
    char *body = strdup(text);

    reply_set(r, status, TYPE_TEXT, body, strlen(text));
}

/* JSON request fields */

/*
 * Parses BODY and returns its member NAME, an object; on failure the
 * reply is set and NULL returned.  *ROOT receives the document.
 */
static json_t *load_request(const unsigned char *body, size_t len,
                            const char *name, json_t **root,
                            struct sti_service_reply *r)
{
    json_error_t jerr;
    json_t *member;

    *root = NULL;
    if (len == 0) {
        reply_error(r, 400,
                    "the request body is empty; send a JSON object "
                    "{\"%s\":{...}}",
                    name);
        return NULL;
    }
    *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        reply_error(r, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
        return NULL;
    }
    member = json_is_object(*root) ? json_object_get(*root, name) : NULL;
    if (!json_is_object(member)) {
        reply_error(r, 400,
                    "the request has no \"%s\" object; send "
                    "{\"%s\":{...}}",
                    name, name);
        return NULL;
    }
    return member;
}

/* Reads an optional string member; a non-string value is invalid. */
static int opt_string(json_t *obj, const char *name, const char *path,
                      const char **out, struct sti_error *err)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL)
        return STI_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s.%s must be a non-empty string", path, name);
    *out = json_string_value(v);
    return STI_OK;
}

static int req_object(json_t *obj, const char *name, const char *path,
                      json_t **out, struct sti_error *err)
{
    *out = json_object_get(obj, name);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "%s.%s is missing", path, name);
    if (!json_is_object(*out))
        return sti_seterr(err, STI_ERR_INVALID, "%s.%s must be an object", path,
                          name);
    return STI_OK;
}

/* The last second of the year 9999, the upper bound of sti sign --iat,
 * because a later time has no four-digit year for a SIP Date. */
#define MAX_SECONDS 253402300799LL

/* Reads an optional positive integer of seconds since the epoch. */
static int opt_seconds(json_t *obj, const char *name, const char *path,
                       int64_t *out, struct sti_error *err)
{
    json_t *v = json_object_get(obj, name);

    *out = 0;
    if (v == NULL)
        return STI_OK;
    if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
        json_integer_value(v) > MAX_SECONDS)
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s.%s must be a positive integer of seconds since "
                          "the epoch, at most %lld (9999-12-31T23:59:59Z)",
                          path, name, MAX_SECONDS);
    *out = (int64_t)json_integer_value(v);
    return STI_OK;
}

/* Canonicalises a telephone number, naming the field on failure. */
static int canonical_tn(const struct sti_service *svc, const char *tn,
                        const char *field, char out[STI_TN_MAX + 1],
                        struct sti_error *err)
{
    struct sti_error e;

    if (sti_tn_canonicalize(svc->profile, tn, out, &e) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID, "%s: %s", field, e.message);
    return STI_OK;
}

/*
 * Reads a TN member that is a string, or an array of strings when MAX is
 * above 1.  A string counts as a one-element array.  Returns the number
 * of entries in *COUNT (0 when the member is absent).
 */
static int tn_list(const struct sti_service *svc, json_t *obj,
                   const char *field, size_t max, char (*out)[STI_TN_MAX + 1],
                   size_t *count, struct sti_error *err)
{
    json_t *v = json_object_get(obj, "tn");
    size_t i, n;

    *count = 0;
    if (v == NULL)
        return STI_OK;
    if (json_is_string(v)) {
        *count = 1;
        return canonical_tn(svc, json_string_value(v), field, out[0], err);
    }
    n = json_is_array(v) ? json_array_size(v) : 0;
    if ((n == 0 || n > max) && max == 1)
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s must be a string or an array of one string",
                          field);
    if (n == 0 || n > max)
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s must be a string or an array of 1 to %zu "
                          "strings",
                          field, max);
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);

        if (!json_is_string(e))
            return sti_seterr(err, STI_ERR_INVALID, "%s[%zu] must be a string",
                              field, i);
        if (canonical_tn(svc, json_string_value(e), field, out[i], err) !=
            STI_OK)
            return STI_ERR_INVALID;
    }
    *count = n;
    return STI_OK;
}

/* Signing */

struct sign_input {
    struct sti_passport_claims claims;
    char orig[STI_TN_MAX + 1];
    char dest[MAX_DEST][STI_TN_MAX + 1];
    const char *dest_ptr[MAX_DEST];
    const char *uri_ptr[MAX_DEST];
    char *extra; /* passed-through claims as JSON text */
};

static int sign_orig(const struct sti_service *svc, json_t *req,
                     struct sign_input *in, struct sti_error *err)
{
    json_t *orig, *tn;
    const char *uri;

    if (req_object(req, "orig", "signingRequest", &orig, err) != STI_OK ||
        opt_string(orig, "uri", "signingRequest.orig", &uri, err) != STI_OK)
        return STI_ERR_INVALID;
    tn = json_object_get(orig, "tn");
    if ((tn == NULL) == (uri == NULL))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.orig needs exactly one of \"tn\" "
                          "and \"uri\"");
    in->claims.orig_uri = uri;
    if (tn == NULL)
        return STI_OK;
    if (!json_is_string(tn))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.orig.tn must be a string");
    in->claims.orig_tn = in->orig;
    return canonical_tn(svc, json_string_value(tn), "signingRequest.orig.tn",
                        in->orig, err);
}

static int uri_list(json_t *dest, struct sign_input *in, struct sti_error *err)
{
    json_t *v = json_object_get(dest, "uri");
    size_t n = json_is_array(v) ? json_array_size(v) : 0;

    if (v == NULL)
        return STI_OK;
    if (n == 0 || n > MAX_DEST)
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.dest.uri must be an array of 1 to "
                          "%d strings",
                          MAX_DEST);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);

        if (!json_is_string(e) || json_string_length(e) == 0)
            return sti_seterr(err, STI_ERR_INVALID,
                              "signingRequest.dest.uri[%zu] must be a "
                              "non-empty string",
                              i);
        in->uri_ptr[i] = json_string_value(e);
    }
    in->claims.dest_uri = in->uri_ptr;
    in->claims.dest_uri_count = n;
    return STI_OK;
}

static int sign_dest(const struct sti_service *svc, json_t *req,
                     struct sign_input *in, struct sti_error *err)
{
    json_t *dest, *tn;
    size_t n;

    if (req_object(req, "dest", "signingRequest", &dest, err) != STI_OK)
        return STI_ERR_INVALID;
    tn = json_object_get(dest, "tn");
    if (tn != NULL && (!json_is_array(tn) || json_array_size(tn) == 0 ||
                       json_array_size(tn) > MAX_DEST))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.dest.tn must be an array of 1 to "
                          "%d strings",
                          MAX_DEST);
    if (tn_list(svc, dest, "signingRequest.dest.tn", MAX_DEST, in->dest, &n,
                err) != STI_OK ||
        uri_list(dest, in, err) != STI_OK)
        return STI_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        in->dest_ptr[i] = in->dest[i];
    in->claims.dest_tn = in->dest_ptr;
    in->claims.dest_tn_count = n;
    if (n == 0 && in->claims.dest_uri_count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.dest needs a \"tn\" or \"uri\" "
                          "array");
    return STI_OK;
}

/* Copies the rich call data claims (RFC 9795) into the PASSporT: rcd
 * and rcdi are JSON objects and crn a string. */
static int sign_extra(json_t *req, struct sign_input *in, struct sti_error *err)
{
    static const struct {
        const char *name;
        json_type type;
        const char *type_name;
    } claims[] = {{"rcd", JSON_OBJECT, "an object"},
                  {"rcdi", JSON_OBJECT, "an object"},
                  {"crn", JSON_STRING, "a string"}};
    json_t *extra = json_object();
    int rc = STI_OK;

    if (extra == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == STI_OK && i < sizeof(claims) / sizeof(*claims);
         i++) {
        json_t *v = json_object_get(req, claims[i].name);

        if (v != NULL && json_typeof(v) != claims[i].type)
            rc = sti_seterr(err, STI_ERR_INVALID,
                            "signingRequest.%s must be %s (RFC 9795)",
                            claims[i].name, claims[i].type_name);
        else if (v != NULL)
            json_object_set(extra, claims[i].name, v);
    }
    if (rc == STI_OK && json_object_size(extra) > 0) {
        in->extra = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
        if (in->extra == NULL)
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        in->claims.extra_json = in->extra;
    }
    json_decref(extra);
    return rc;
}

static int sign_claims(const struct sti_service *svc, json_t *req,
                       struct sign_input *in, struct sti_error *err)
{
    const char *ppt;

    if (opt_string(req, "ppt", "signingRequest", &ppt, err) != STI_OK ||
        opt_string(req, "attest", "signingRequest", &in->claims.attest, err) !=
            STI_OK ||
        opt_string(req, "origid", "signingRequest", &in->claims.origid, err) !=
            STI_OK ||
        opt_seconds(req, "iat", "signingRequest", &in->claims.iat, err) !=
            STI_OK)
        return STI_ERR_INVALID;
    if (in->claims.origid != NULL && !sti_uuid_valid(in->claims.origid))
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.origid '%.64s' is not a UUID; use "
                          "the form 123e4567-e89b-42d3-a456-426614174000, "
                          "or leave it out for a random one",
                          in->claims.origid);
    if (ppt != NULL && strcmp(ppt, "shaken") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.ppt '%s' is not supported; this "
                          "service signs \"shaken\" PASSporTs",
                          ppt);
    if (in->claims.attest == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "signingRequest.attest is missing; use \"A\", "
                          "\"B\" or \"C\"");
    if (strcmp(in->claims.attest, "A") != 0 &&
        strcmp(in->claims.attest, "B") != 0 &&
        strcmp(in->claims.attest, "C") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid signingRequest.attest '%s'; use \"A\", "
                          "\"B\" or \"C\"",
                          in->claims.attest);
    if (sign_orig(svc, req, in, err) != STI_OK ||
        sign_dest(svc, req, in, err) != STI_OK)
        return STI_ERR_INVALID;
    return sign_extra(req, in, err);
}

/* Replies to a signing failure with 400 for bad claims, 500 otherwise. */
static void reply_sign_failed(struct sti_service_reply *r, int rc,
                              const struct sti_error *err)
{
    if (rc == STI_ERR_INVALID || rc == STI_ERR_POLICY) {
        reply_error(r, 400, "%s", err->message);
        return;
    }
    sti_log(STI_LOG_ERR, "signing failed: %s", err->message);
    reply_error(r, 500, "signing failed: %s", err->message);
}

static int signing_off(const struct sti_service *svc,
                       struct sti_service_reply *r)
{
    if (svc->signer != NULL)
        return 0;
    reply_error(r, 503,
                "signing is not configured; start sti serve with "
                "--key and --x5u");
    return 1;
}

static void handle_signing(struct sti_service *svc, const unsigned char *body,
                           size_t len, struct sti_service_reply *r)
{
    struct sign_input in;
    struct sti_error err;
    json_t *root, *req;
    char *identity = NULL;
    int rc;

    if (signing_off(svc, r))
        return;
    req = load_request(body, len, "signingRequest", &root, r);
    if (req == NULL)
        goto out;
    memset(&in, 0, sizeof(in));
    in.claims.ppt = "shaken";
    rc = sign_claims(svc, req, &in, &err);
    if (rc == STI_OK)
        rc = sti_signer_sign_identity(svc->signer, &in.claims, 0, &identity,
                                      &err);
    free(in.extra);
    if (rc != STI_OK)
        reply_sign_failed(r, rc, &err);
    else
        reply_json(
            r, 200,
            json_pack("{s:{s:s}}", "signingResponse", "identity", identity));
    free(identity);
out:
    json_decref(root);
}

/* Verification */

static int verifying_off(const struct sti_service *svc,
                         struct sti_service_reply *r)
{
    if (svc->verifier != NULL)
        return 0;
    reply_error(r, 503,
                "verification is not configured; start sti serve "
                "with --ca-file or --ca-dir");
    return 1;
}

struct verify_input {
    const char *identity;
    char from[1][STI_TN_MAX + 1];
    char to[MAX_DEST][STI_TN_MAX + 1];
    const char *from_uri; /* from.uri, or NULL */
    const char *to_uri;   /* the first of to.uri, or NULL */
    size_t from_count, to_count;
    int64_t time;
};

/* Checks that TEXT reads as a bare URI (an addr-spec such as
 * sip:alice@example.org), not a From value with a display name. */
static int uri_text_ok(const char *text)
{
    const char *colon = strchr(text, ':');

    return text[0] != '\0' && colon != NULL && colon != text &&
           strpbrk(text, " \t\r\n<>\"") == NULL;
}

/* Reads the "uri" member of OBJ (the object at PATH): a string, or an
 * array of strings whose first is compared.  *OUT stays NULL without it. */
static int party_uri(json_t *obj, const char *path, const char **out,
                     struct sti_error *err)
{
    json_t *v = json_object_get(obj, "uri");
    size_t n = json_is_array(v) ? json_array_size(v) : 0;

    *out = NULL;
    if (v == NULL)
        return STI_OK;
    if (!json_is_string(v) && (n == 0 || n > MAX_DEST))
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s.uri must be a string or an array of 1 to %d "
                          "strings",
                          path, MAX_DEST);
    for (size_t i = 0; i < (json_is_string(v) ? 1 : n); i++) {
        json_t *e = json_is_string(v) ? v : json_array_get(v, i);
        const char *text = json_is_string(e) ? json_string_value(e) : NULL;
        char index[24] = "";

        if (text != NULL && uri_text_ok(text)) {
            if (i == 0)
                *out = text;
            continue;
        }
        if (!json_is_string(v))
            snprintf(index, sizeof(index), "[%zu]", i);
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s.uri%s must be a URI such as "
                          "sip:alice@example.org, without spaces, a display "
                          "name or angle brackets",
                          path, index);
    }
    return STI_OK;
}

/* Reads one party, PATH being "verificationRequest.from" or ".to": its
 * "tn" (a string or an array) or its "uri", exactly one of them. */
static int verify_party(const struct sti_service *svc, json_t *obj,
                        const char *path, size_t max,
                        char (*tn)[STI_TN_MAX + 1], size_t *count,
                        const char **uri, struct sti_error *err)
{
    char field[64];

    snprintf(field, sizeof(field), "%s.tn", path);
    if (tn_list(svc, obj, field, max, tn, count, err) != STI_OK ||
        party_uri(obj, path, uri, err) != STI_OK)
        return STI_ERR_INVALID;
    if ((*count == 0) == (*uri == NULL))
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s needs exactly one of \"tn\" and \"uri\"", path);
    return STI_OK;
}

/* Reads from and to, both required (ATIS-1000082), each with a "tn" or,
 * for a caller or callee that is not a number, a "uri" (RFC 8225 section
 * 5.2.1). */
static int verify_numbers(const struct sti_service *svc, json_t *req,
                          struct verify_input *in, struct sti_error *err)
{
    json_t *from, *to;

    if (req_object(req, "from", "verificationRequest", &from, err) != STI_OK ||
        verify_party(svc, from, "verificationRequest.from", 1, in->from,
                     &in->from_count, &in->from_uri, err) != STI_OK)
        return STI_ERR_INVALID;
    if (req_object(req, "to", "verificationRequest", &to, err) != STI_OK ||
        verify_party(svc, to, "verificationRequest.to", MAX_DEST, in->to,
                     &in->to_count, &in->to_uri, err) != STI_OK)
        return STI_ERR_INVALID;
    return STI_OK;
}

static json_t *verify_response(const struct sti_verify_result *res)
{
    json_t *v = json_pack("{s:s}", "verstat", res->verstat);

    if (v == NULL)
        return NULL;
    if (res->outcome != STI_VERIFY_PASS) {
        json_object_set_new(v, "reasoncode", json_integer(res->sip_code));
        json_object_set_new(v, "reasontext", json_string(res->sip_reason));
        json_object_set_new(v, "detail", json_string(res->reason));
    }
    if (res->attest[0] != '\0')
        json_object_set_new(v, "attest", json_string(res->attest));
    if (res->origid[0] != '\0')
        json_object_set_new(v, "origid", json_string(res->origid));
    return json_pack("{s:o}", "verificationResponse", v);
}

/* Runs the verifier on IDENTITY (may be NULL); *RES contains the verdict
 * when STI_OK is returned. */
static int run_verify(struct sti_service *svc, const char *identity,
                      const struct verify_input *in,
                      struct sti_verify_result *res, struct sti_error *err)
{
    struct sti_verify_request vr;

    memset(&vr, 0, sizeof(vr));
    vr.identities = &identity;
    vr.identity_count = identity != NULL ? 1 : 0;
    if (in != NULL) {
        vr.orig_tn = in->from_count > 0 ? in->from[0] : NULL;
        vr.dest_tn = in->to_count > 0 ? in->to[0] : NULL;
        vr.orig_uri = in->from_uri;
        vr.dest_uri = in->to_uri;
        vr.date = (time_t)in->time;
    }
    memset(res, 0, sizeof(*res));
    return sti_verify(svc->verifier, &vr, res, err);
}

/*
 * RFC 8224 section 6.2.1 compares iat with the call's Date.  When the
 * request gives a "time", an iat outside the freshness window around it
 * is a 403 Stale Date, even when the verifier found a later failure.
 */
static void check_call_time(const struct sti_service *svc, int64_t date,
                            struct sti_verify_result *res)
{
    int64_t age = date - res->iat;

    if (date == 0 || res->iat == 0 || res->sip_code == 403 ||
        (age <= svc->freshness_s && -age <= svc->future_skew_s))
        return;
    res->outcome = STI_VERIFY_FAIL;
    res->sip_code = 403;
    snprintf(res->sip_reason, sizeof(res->sip_reason), "Stale Date");
    snprintf(res->verstat, sizeof(res->verstat), "TN-Validation-Failed");
    snprintf(res->reason, sizeof(res->reason),
             "iat %lld is %lld s %s the call's time %lld; at most %d s is "
             "allowed",
             (long long)res->iat, (long long)(age < 0 ? -age : age),
             age < 0 ? "ahead of" : "older than", (long long)date,
             age < 0 ? svc->future_skew_s : svc->freshness_s);
}

static void handle_verification(struct sti_service *svc,
                                const unsigned char *body, size_t len,
                                struct sti_service_reply *r)
{
    struct verify_input in;
    struct sti_verify_result res;
    struct sti_error err;
    json_t *root, *req;

    if (verifying_off(svc, r))
        return;
    req = load_request(body, len, "verificationRequest", &root, r);
    if (req == NULL)
        goto out;
    memset(&in, 0, sizeof(in));
    if (opt_string(req, "identity", "verificationRequest", &in.identity,
                   &err) != STI_OK ||
        opt_seconds(req, "time", "verificationRequest", &in.time, &err) !=
            STI_OK ||
        verify_numbers(svc, req, &in, &err) != STI_OK) {
        reply_error(r, 400, "%s", err.message);
        goto out;
    }
    if (run_verify(svc, in.identity, &in, &res, &err) != STI_OK) {
        sti_log(STI_LOG_ERR, "verification failed: %s", err.message);
        reply_error(r, 500, "verification failed: %s", err.message);
        goto out;
    }
    check_call_time(svc, in.time, &res);
    reply_json(r, 200, verify_response(&res));
out:
    json_decref(root);
}

/* secsipidx endpoints */

/* Trims ASCII white space at both ends, as Go's strings.TrimSpace. */
static char *trim_copy(const unsigned char *body, size_t len)
{
    const char *s = (const char *)body, *e = s + len;
    char *out;

    while (s < e && strchr(" \t\r\n\v\f", *s) != NULL && *s != '\0')
        s++;
    while (e > s && strchr(" \t\r\n\v\f", e[-1]) != NULL && e[-1] != '\0')
        e--;
    out = malloc((size_t)(e - s) + 1);
    if (out != NULL) {
        memcpy(out, s, (size_t)(e - s));
        out[e - s] = '\0';
    }
    return out;
}

/* Splits TEXT in place at commas into at most MAX fields; returns the
 * number of fields found, which may exceed MAX. */
static size_t split_csv(char *text, char **fields, size_t max)
{
    size_t n = 0;

    for (char *p = text;; p++) {
        char *comma = strchr(p, ',');

        if (n < max)
            fields[n] = p;
        n++;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma;
    }
    return n;
}

/* Signs under a different x5u than the configured one. */
static int sign_other_x5u(const struct sti_service *svc,
                          struct sti_passport_claims *claims, char **identity,
                          struct sti_error *err)
{
    char *jws;
    int rc = sti_passport_sign(claims, svc->key, &jws, err);

    if (rc != STI_OK)
        return rc;
    rc = sti_identity_format(jws, claims->x5u, claims->ppt, 0, identity, err);
    free(jws);
    return rc;
}

/* Fields: orig, dest, attest, origid, x5u.  Empty origid means a random
 * UUID and empty x5u the configured one, as in secsipidx. */
static int csv_sign(const struct sti_service *svc, char **f, char **identity,
                    struct sti_error *err)
{
    struct sti_passport_claims c;
    char orig[STI_TN_MAX + 1], dest[STI_TN_MAX + 1];
    const char *dest_ptr = dest;

    memset(&c, 0, sizeof(c));
    if (canonical_tn(svc, f[0], "orig", orig, err) != STI_OK ||
        canonical_tn(svc, f[1], "dest", dest, err) != STI_OK)
        return STI_ERR_INVALID;
    if (strcmp(f[2], "A") != 0 && strcmp(f[2], "B") != 0 &&
        strcmp(f[2], "C") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid attest '%s'; use A, B or C", f[2]);
    c.ppt = "shaken";
    c.attest = f[2];
    c.orig_tn = orig;
    c.dest_tn = &dest_ptr;
    c.dest_tn_count = 1;
    c.origid = f[3][0] != '\0' ? f[3] : NULL;
    c.x5u = f[4][0] != '\0' ? f[4] : svc->x5u;
    if (strcmp(c.x5u, svc->x5u) == 0)
        return sti_signer_sign_identity(svc->signer, &c, 0, identity, err);
    return sign_other_x5u(svc, &c, identity, err);
}

static void handle_sign_csv(struct sti_service *svc, const unsigned char *body,
                            size_t len, struct sti_service_reply *r)
{
    char *text = trim_copy(body, len), *f[5], *identity = NULL;
    struct sti_error err;
    int rc;

    if (signing_off(svc, r) || text == NULL)
        goto out;
    if (split_csv(text, f, 5) < 5) {
        reply_text_error(r, 400, "too few tokens");
        goto out;
    }
    rc = csv_sign(svc, f, &identity, &err);
    if (rc == STI_OK)
        reply_line(r, identity);
    else if (rc == STI_ERR_INVALID || rc == STI_ERR_POLICY) {
        reply_text_error(r, 400, err.message);
    } else {
        sti_log(STI_LOG_ERR, "signing failed: %s", err.message);
        reply_text_error(r, 500, err.message);
    }
out:
    free(identity);
    free(text);
}

static void handle_check(struct sti_service *svc, const unsigned char *body,
                         size_t len, struct sti_service_reply *r)
{
    char *identity = trim_copy(body, len);
    struct sti_verify_result res;
    struct sti_error err;
    int pass = 0;

    if (verifying_off(svc, r) || identity == NULL)
        goto out;
    if (identity[0] != '\0') {
        if (run_verify(svc, identity, NULL, &res, &err) == STI_OK)
            pass = res.outcome == STI_VERIFY_PASS;
        else
            sti_log(STI_LOG_ERR, "verification failed: %s", err.message);
    }
    /* secsipidx sends the same bytes for every failure. */
    if (pass)
        reply_text(r, 200, "OK\n");
    else
        reply_text_error(r, 500, "FAILED\n");
out:
    free(identity);
}

/* Routing */

typedef void (*endpoint_fn)(struct sti_service *svc, const unsigned char *body,
                            size_t len, struct sti_service_reply *r);

static const struct endpoint {
    const char *path;
    const char *method; /* NULL: any method, as secsipidx */
    endpoint_fn run;
} endpoints[] = {
    {"/stir/v1/signing", "POST", handle_signing},
    {"/stir/v1/verification", "POST", handle_verification},
    {"/v1/sign-csv", NULL, handle_sign_csv},
    {"/v1/check", NULL, handle_check},
};

void sti_service_process(struct sti_service *svc, const char *method,
                         const char *path, const unsigned char *body,
                         size_t len, struct sti_service_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const struct endpoint *e = &endpoints[i];

        if (strcmp(path, e->path) != 0)
            continue;
        if (e->method != NULL && strcmp(method, e->method) != 0) {
            reply_error(reply, 405, "%s takes %s, not %s", path, e->method,
                        method);
            reply->allow = e->method;
            return;
        }
        e->run(svc, body, len, reply);
        return;
    }
    reply_error(reply, 404,
                "no endpoint at %s; use POST /stir/v1/signing, POST "
                "/stir/v1/verification, /v1/sign-csv or /v1/check",
                path);
}

void sti_service_handle(void *arg, const struct sti_httpd_request *req,
                        struct sti_httpd_response *resp)
{
    struct sti_service_reply r;
    const unsigned char *body;
    size_t len;

    body = sti_httpd_body(req, &len);
    sti_service_process(arg, sti_httpd_method(req), sti_httpd_path(req), body,
                        len, &r);
    if (r.body == NULL) {
        sti_httpd_send_error(resp, 500, NULL, "out of memory");
        return;
    }
    sti_httpd_set_status(resp, r.status);
    if (r.allow != NULL)
        sti_httpd_add_header(resp, "Allow", r.allow);
    if (r.nosniff)
        sti_httpd_add_header(resp, "X-Content-Type-Options", "nosniff");
    /* The server frees the body after sending it, also on failure. */
    sti_httpd_set_body_ref(resp, r.content_type, r.body, r.len, free, r.body);
}

/* Setup */

static int service_signer(struct sti_service *svc,
                          const struct sti_service_config *c,
                          struct sti_error *err)
{
    if (c->key == NULL)
        return STI_OK;
    if (c->x5u == NULL || c->x5u[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "signing needs the x5u URL of the key's "
                          "certificate chain");
    svc->key = sti_key_up_ref((struct sti_key *)c->key);
    svc->x5u = strdup(c->x5u);
    if (svc->x5u == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return sti_signer_new(c->key, c->x5u, "shaken", &svc->signer, err);
}

/* Finds CRL's signer: the CRL signer file, or the certificate of the CA
 * file whose key signed it. */
/* Fills SOURCES with the service's copies of the verifier's sources and
 * returns it. */
static const struct sti_verifier_config *
service_sources(const struct sti_service *svc,
                struct sti_verifier_config *sources)
{
    memset(sources, 0, sizeof(*sources));
    sources->ca_file = svc->ca_file;
    sources->ca_dir = svc->ca_dir;
    sources->ca_list = svc->ca_list;
    sources->ca_list_signer_file = svc->ca_list_signer_file;
    sources->crl_signer_file = svc->crl_signer_file;
    sources->crl_ca_file = svc->crl_ca_file;
    return sources;
}

static int find_crl_signer(const struct sti_service *svc,
                           const struct sti_crl *crl, struct sti_cert **out,
                           struct sti_error *err)
{
    struct sti_verifier_config sources;
    const char *path =
        sti_verifier_crl_signer_path(service_sources(svc, &sources));
    struct sti_chain *chain = NULL;
    int rc;

    *out = NULL;
    if (path == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a CRL needs its signer's certificate; give the "
                          "CRL signer file or a CA file that contains it");
    rc = sti_chain_load(path, &chain, err);
    for (size_t i = 0; rc == STI_OK && i < sti_chain_count(chain); i++) {
        struct sti_cert *c = sti_chain_get0(chain, i);

        if (sti_crl_signed_by(crl, c)) {
            *out = sti_cert_up_ref(c);
            break;
        }
    }
    sti_chain_free(chain);
    if (rc == STI_OK && *out == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "no certificate in %s signed the CRL; give the "
                        "CRL signer's certificate",
                        path);
    return rc;
}

int sti_service_reload_crl(struct sti_service *svc, struct sti_error *err)
{
    struct sti_crl *crl = NULL;
    struct sti_cert *signer = NULL;
    int rc;

    if (svc == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no service given");
    if (svc->verifier == NULL ||
        (svc->crl_file == NULL && svc->crl_url == NULL))
        return STI_OK;
    rc =
        sti_crl_fetch(svc->crl_file, svc->crl_url, svc->crl_ca_file, &crl, err);
    if (rc == STI_OK)
        rc = find_crl_signer(svc, crl, &signer, err);
    if (rc == STI_OK)
        rc = sti_verifier_set_crl(svc->verifier, crl, signer, err);
    sti_cert_free(signer);
    sti_crl_free(crl);
    return rc;
}

int sti_service_reload(struct sti_service *svc, struct sti_error *err)
{
    struct sti_verifier_config sources;
    struct sti_trust *trust;
    int rc;

    if (svc == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no service given");
    if (svc->verifier == NULL)
        return STI_OK;
    trust = sti_trust_new();
    if (trust == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_verifier_load_anchors(trust, service_sources(svc, &sources), err);
    if (rc != STI_OK) {
        sti_trust_free(trust);
        return rc;
    }
    /* set_trust takes TRUST even when it fails. */
    rc = sti_verifier_set_trust(svc->verifier, trust, err);
    return rc == STI_OK ? sti_service_reload_crl(svc, err) : rc;
}

static int dup_opt(char **dst, const char *src)
{
    *dst = src != NULL ? strdup(src) : NULL;
    return src == NULL || *dst != NULL ? 0 : -1;
}

/*
 * Creates the verifier without its CRL, which the service reads itself
 * so that an HTTPS CRL URL can use the CRL CA file and be reloaded.
 */
static int service_verifier(struct sti_service *svc,
                            const struct sti_service_config *c,
                            struct sti_error *err)
{
    struct sti_verifier_config vc = *c->verifier;
    int rc;

    if (dup_opt(&svc->ca_file, vc.ca_file) != 0 ||
        dup_opt(&svc->ca_dir, vc.ca_dir) != 0 ||
        dup_opt(&svc->crl_file, vc.crl_file) != 0 ||
        dup_opt(&svc->crl_url, vc.crl_file ? NULL : vc.crl_url) != 0 ||
        dup_opt(&svc->crl_signer_file, vc.crl_signer_file) != 0 ||
        dup_opt(&svc->crl_ca_file,
                c->crl_ca_file ? c->crl_ca_file : vc.crl_ca_file) != 0 ||
        dup_opt(&svc->ca_list, vc.ca_list) != 0 ||
        dup_opt(&svc->ca_list_signer_file, vc.ca_list_signer_file) != 0)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    vc.crl_ca_file = svc->crl_ca_file;
    svc->freshness_s = vc.freshness_s > 0 ? vc.freshness_s : 60;
    svc->future_skew_s = vc.future_skew_s > 0 ? vc.future_skew_s : 5;
    vc.crl_file = NULL;
    vc.crl_url = NULL;
    rc = sti_verifier_new(&vc, &svc->verifier, err);
    return rc == STI_OK ? sti_service_reload_crl(svc, err) : rc;
}

int sti_service_new(const struct sti_service_config *config,
                    struct sti_service **out, struct sti_error *err)
{
    struct sti_service *svc;
    const char *profile = config ? config->profile : NULL;
    int rc;

    *out = NULL;
    if (config == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no service settings given");
    if (profile != NULL && strcmp(profile, "us") != 0 &&
        strcmp(profile, "fr") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown TN profile '%s'; use us or fr", profile);
    svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    svc->profile = profile != NULL && strcmp(profile, "fr") == 0 ? "fr" : "us";
    rc = service_signer(svc, config, err);
    if (rc == STI_OK && config->verifier != NULL)
        rc = service_verifier(svc, config, err);
    if (rc != STI_OK) {
        sti_service_free(svc);
        return rc;
    }
    *out = svc;
    return STI_OK;
}

void sti_service_free(struct sti_service *svc)
{
    if (svc == NULL)
        return;
    sti_signer_free(svc->signer);
    sti_key_free(svc->key);
    free(svc->x5u);
    sti_verifier_free(svc->verifier);
    free(svc->ca_file);
    free(svc->ca_dir);
    free(svc->crl_file);
    free(svc->crl_url);
    free(svc->crl_signer_file);
    free(svc->crl_ca_file);
    free(svc->ca_list);
    free(svc->ca_list_signer_file);
    free(svc);
}
