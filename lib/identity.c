/* The SIP Identity header field (RFC 8224 section 4.1), as sent and as
 * real traffic carries it. */
#include "jws_int.h"
#include "passport_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sti_identity {
    char *jws;
    char *info;
    char *alg;
    char *ppt;
    int compact;
};

int sti_identity_format(const char *jws, const char *info, const char *ppt,
                        int compact, char **value, struct sti_error *err)
{
    const char *sig;
    size_t n;

    *value = NULL;
    if (jws == NULL || info == NULL || info[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "an Identity header needs a JWS and an info URL");
    sig = strrchr(jws, '.');
    if (sig == NULL || strchr(jws, '.') == sig)
        return sti_seterr(err, STI_ERR_INVALID, "'%.40s' is not a compact JWS",
                          jws);
    n = strlen(jws) + strlen(info) + (ppt ? strlen(ppt) : 0) + 40;
    *value = malloc(n);
    if (*value == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (compact) /* RFC 8224 section 7: ".." and the signature */
        snprintf(*value, n, "..%s;info=<%s>;alg=ES256", sig + 1, info);
    else
        snprintf(*value, n, "%s;info=<%s>;alg=ES256", jws, info);
    if (ppt != NULL) {
        size_t used = strlen(*value);

        snprintf(*value + used, n - used, ";ppt=%s", ppt);
    }
    return STI_OK;
}

void sti_identity_free(struct sti_identity *id)
{
    if (id == NULL)
        return;
    free(id->jws);
    free(id->info);
    free(id->alg);
    free(id->ppt);
    free(id);
}

/* Copies TEXT[0..LEN) with line folds (CRLF or LF followed by blanks)
 * turned into one space (RFC 3261 section 7.3.1). */
static char *unfold(const char *text, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;

    if (out == NULL)
        return NULL;
    if (memchr(text, '\r', len) == NULL && memchr(text, '\n', len) == NULL) {
        memcpy(out, text, len);
        out[len] = '\0';
        return out;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' || text[i] == '\n') {
            while (i + 1 < len && (text[i + 1] == '\r' || text[i + 1] == '\n' ||
                                   text[i + 1] == ' ' || text[i + 1] == '\t'))
                i++;
            out[n++] = ' ';
            continue;
        }
        out[n++] = text[i];
    }
    out[n] = '\0';
    return out;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

/* Strips <...> or "..." around a parameter value, in place. */
static char *unquote(char *v)
{
    size_t n = strlen(v);

    if (n >= 2 && ((v[0] == '<' && v[n - 1] == '>') ||
                   (v[0] == '"' && v[n - 1] == '"'))) {
        v[n - 1] = '\0';
        return trim(v + 1);
    }
    return v;
}

/* Finds the next ';' outside <...> and quotes, or the end. */
static char *next_separator(char *s, char sep)
{
    const char stops[] = {'"', '<', '>', sep, '\0'};
    int angle = 0, quote = 0;

    /* strcspn skips the long base64url runs in one vectorised step. */
    for (s += strcspn(s, stops); *s != '\0'; s += 1 + strcspn(s + 1, stops)) {
        if (*s == '"' && !angle)
            quote = !quote;
        else if (*s == '<' && !quote)
            angle = 1;
        else if (*s == '>' && !quote)
            angle = 0;
        else if (*s == sep && !angle && !quote)
            return s;
    }
    return s;
}

static int set_param(struct sti_identity *id, char *name, char *value,
                     struct sti_error *err)
{
    char **slot = NULL;

    if (strcasecmp(name, "info") == 0)
        slot = &id->info;
    else if (strcasecmp(name, "alg") == 0)
        slot = &id->alg;
    else if (strcasecmp(name, "ppt") == 0)
        slot = &id->ppt;
    if (slot == NULL)
        return STI_OK; /* RFC 8224 section 4.1 allows extensions */
    if (*slot != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the Identity header has two \"%s\" parameters",
                          name);
    value = unquote(trim(value));
    /* RFC 8224 section 4.1 defines info as <absoluteURI>, so a quoted
     * info="<URL>" is not in the grammar; deployed signers send it, and
     * the URL inside is the same, so the brackets are stripped too. */
    if (slot == &id->info)
        value = unquote(value);
    *slot = strdup(value);
    return *slot ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static const char *escape_param(const char *text, char shown[200])
{
    return sti_escape(text, strlen(text), shown, 200);
}

static int parse_params(struct sti_identity *id, char *s, struct sti_error *err)
{
    char shown[200];

    while (*s == ';') {
        char *end = next_separator(s + 1, ';'), *eq;
        char saved = *end;
        int rc;

        *end = '\0';
        eq = strchr(s + 1, '=');
        if (eq == NULL || eq == s + 1)
            return sti_seterr(err, STI_ERR_INVALID,
                              "Identity header parameter '%s' is not "
                              "name=value",
                              escape_param(trim(s + 1), shown));
        *eq = '\0';
        rc = set_param(id, trim(s + 1), eq + 1, err);
        if (rc != STI_OK)
            return rc;
        *end = saved;
        s = end;
    }
    return STI_OK;
}

static int check_token(struct sti_identity *id, struct sti_error *err)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                 "opqrstuvwxyz0123456789-_";
    const char *p = id->jws;
    char shown[8];
    size_t dots = 0;

    for (p += strspn(p, b64url); *p != '\0'; p += 1 + strspn(p + 1, b64url)) {
        if (*p != '.')
            return sti_seterr(err, STI_ERR_INVALID,
                              "the Identity header's JWS contains '%s'; "
                              "only base64url characters and '.' belong "
                              "there",
                              sti_escape(p, 1, shown, sizeof(shown)));
        dots++;
    }
    if (dots != 2)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the Identity header's JWS has %zu dots, not 2",
                          dots);
    id->compact = strncmp(id->jws, "..", 2) == 0;
    return STI_OK;
}

static int parse_value(struct sti_identity *id, char *text,
                       struct sti_error *err)
{
    char *s = trim(text), *end = next_separator(s, ';');
    char saved = *end;
    int rc;

    *end = '\0';
    id->jws = strdup(unquote(trim(s)));
    *end = saved;
    if (id->jws == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (id->jws[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "the Identity header value is empty");
    rc = check_token(id, err);
    if (rc == STI_OK)
        rc = parse_params(id, end, err);
    if (rc == STI_OK && id->alg == NULL)
        id->alg = strdup("ES256"); /* RFC 8224 section 4.1 default */
    if (rc == STI_OK && id->alg == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return rc;
}

int sti_identity_parse(const char *value, size_t len, struct sti_identity **out,
                       struct sti_error *err)
{
    struct sti_identity *id;
    char *text;
    int rc;

    *out = NULL;
    if (value == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no Identity header given");
    id = calloc(1, sizeof(*id));
    text = unfold(value, len);
    if (id == NULL || text == NULL) {
        free(id);
        free(text);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    rc = parse_value(id, text, err);
    free(text);
    if (rc != STI_OK) {
        sti_identity_free(id);
        return rc;
    }
    *out = id;
    return STI_OK;
}

const char *sti_identity_jws(const struct sti_identity *id)
{
    return id ? id->jws : NULL;
}

int sti_identity_is_compact(const struct sti_identity *id)
{
    return id ? id->compact : 0;
}

const char *sti_identity_info(const struct sti_identity *id)
{
    return id ? id->info : NULL;
}

const char *sti_identity_alg(const struct sti_identity *id)
{
    return id ? id->alg : NULL;
}

const char *sti_identity_ppt(const struct sti_identity *id)
{
    return id ? id->ppt : NULL;
}

/* Splitting comma-joined header fields */

void sti_identity_split_free(char **values)
{
    if (values == NULL)
        return;
    for (size_t i = 0; values[i] != NULL; i++)
        free(values[i]);
    free(values);
}

static int push_value(char ***values, size_t *count, const char *s)
{
    char **bigger = realloc(*values, (*count + 2) * sizeof(char *));

    if (bigger == NULL)
        return 0;
    *values = bigger;
    bigger[*count] = strdup(s);
    if (bigger[*count] == NULL)
        return 0;
    bigger[++*count] = NULL;
    return 1;
}

int sti_identity_split(const char *field, size_t len, char ***values,
                       size_t *count, struct sti_error *err)
{
    char *text, *s;
    int ok = 1;

    *values = NULL;
    *count = 0;
    if (field == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no Identity header given");
    text = unfold(field, len);
    *values = calloc(1, sizeof(char *));
    if (text == NULL || *values == NULL) {
        free(text);
        free(*values);
        *values = NULL;
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    for (s = text; ok && *s != '\0';) {
        char *end = next_separator(s, ','), saved = *end;
        char *item;

        *end = '\0';
        item = trim(s);
        if (item[0] != '\0')
            ok = push_value(values, count, item);
        *end = saved;
        s = saved ? end + 1 : end;
    }
    free(text);
    if (!ok) {
        sti_identity_split_free(*values);
        *values = NULL;
        *count = 0;
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    return STI_OK;
}

/* JSON description */

/* Adds the decoded header and payload of a full-form JWS to OBJ. */
static int add_decoded(json_t *obj, const char *jws, struct sti_error *err)
{
    struct sti_jws *parsed;
    json_t *h, *p;
    int rc = sti_jws_parse(jws, strlen(jws), &parsed, err);

    if (rc != STI_OK)
        return rc;
    h = sti_jws_get0_header(parsed);
    p = sti_jws_get0_payload(parsed);
    json_object_set(obj, "header", h);
    json_object_set(obj, "payload", p);
    sti_jws_free(parsed);
    return STI_OK;
}

int sti_identity_to_json(const char *value, char **json, struct sti_error *err)
{
    struct sti_identity *id;
    json_t *o;
    int rc;

    *json = NULL;
    rc = sti_identity_parse(value, value ? strlen(value) : 0, &id, err);
    if (rc != STI_OK)
        return rc;
    o = json_pack("{s:s,s:s,s:s*,s:s,s:s*,s:b}", "identity", value, "jws",
                  id->jws, "info", id->info, "alg", id->alg, "ppt", id->ppt,
                  "compact", id->compact);
    if (o == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "the Identity header is not valid UTF-8");
    if (rc == STI_OK && !id->compact)
        rc = add_decoded(o, id->jws, err);
    if (rc == STI_OK)
        rc = sti_json_dump_canonical(o, json, err);
    json_decref(o);
    sti_identity_free(id);
    return rc;
}
