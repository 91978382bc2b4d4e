/* JSON documents of `sti lab`: status, test steps and member lookup. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A string member, or null for NULL. */
static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *time_or_null(time_t t)
{
    char buf[32];
    struct tm tm;

    if (t == 0 || gmtime_r(&t, &tm) == NULL)
        return json_null();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *cert_to_json(const struct sti_lab_cert *c)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "role", string_or_null(c->role));
    json_object_set_new(o, "name", string_or_null(c->name));
    json_object_set_new(o, "issuer", string_or_null(c->issuer));
    json_object_set_new(o, "file", string_or_null(c->file));
    json_object_set_new(o, "subject", string_or_null(c->subject));
    json_object_set_new(o, "spc", string_or_null(c->spc));
    json_object_set_new(o, "serial", string_or_null(c->serial));
    json_object_set_new(o, "not_after", time_or_null(c->not_after));
    json_object_set_new(
        o, "revoked", c->revoked < 0 ? json_null() : json_boolean(c->revoked));
    json_object_set_new(o, "x5u", string_or_null(c->x5u));
    return o;
}

static json_t *service_to_json(const struct sti_lab_service *s)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", string_or_null(s->name));
    json_object_set_new(o, "url", string_or_null(s->url));
    json_object_set_new(o, "pid",
                        s->pid > 0 ? json_integer(s->pid) : json_null());
    json_object_set_new(o, "port",
                        s->port > 0 ? json_integer(s->port) : json_null());
    json_object_set_new(o, "state", json_string(s->up ? "up" : "down"));
    return o;
}

/* Serialises ROOT (taking the reference) into *json. */
static int dump(json_t *root, char **json, struct sti_error *err)
{
    char *text;

    if (root == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    *json = text;
    return STI_OK;
}

int sti_lab_status_to_json(const char *dir, const struct sti_lab_cert *certs,
                           size_t cert_count,
                           const struct sti_lab_service *services,
                           size_t service_count, char **json,
                           struct sti_error *err)
{
    json_t *root, *ca = json_array(), *sa = json_array();

    if (json == NULL || (cert_count > 0 && certs == NULL) ||
        (service_count > 0 && services == NULL)) {
        json_decref(ca);
        json_decref(sa);
        return sti_seterr(err, STI_ERR_INVALID, "missing argument");
    }
    for (size_t i = 0; i < cert_count; i++)
        json_array_append_new(ca, cert_to_json(&certs[i]));
    for (size_t i = 0; i < service_count; i++)
        json_array_append_new(sa, service_to_json(&services[i]));
    root = json_object();
    if (root != NULL) {
        json_object_set_new(root, "dir", string_or_null(dir));
        json_object_set_new(root, "certificates", ca);
        json_object_set_new(root, "services", sa);
    } else {
        json_decref(ca);
        json_decref(sa);
    }
    return dump(root, json, err);
}

static json_t *step_to_json(const struct sti_lab_step *s)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", string_or_null(s->name));
    json_object_set_new(o, "via", string_or_null(s->via));
    json_object_set_new(o, "expected", string_or_null(s->expected));
    json_object_set_new(o, "actual", string_or_null(s->actual));
    json_object_set_new(o, "passed", json_boolean(s->passed));
    json_object_set_new(o, "detail", string_or_null(s->detail));
    return o;
}

int sti_lab_steps_to_json(const struct sti_lab_step *steps, size_t count,
                          char **json, struct sti_error *err)
{
    json_t *root, *arr;
    size_t passed = 0;

    if (json == NULL || (count > 0 && steps == NULL))
        return sti_seterr(err, STI_ERR_INVALID, "missing argument");
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < count; i++) {
        passed += steps[i].passed ? 1 : 0;
        json_array_append_new(arr, step_to_json(&steps[i]));
    }
    root = json_pack("{s:I,s:I,s:o}", "passed", (json_int_t)passed, "failed",
                     (json_int_t)(count - passed), "steps", arr);
    return dump(root, json, err);
}

int sti_lab_verification_request(const char *identity, const char *orig,
                                 const char *dest, char **json,
                                 struct sti_error *err)
{
    json_t *root;
    char *text;

    if (identity == NULL || orig == NULL || dest == NULL || json == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "missing argument");
    root =
        json_pack("{s:{s:s,s:{s:s},s:{s:[s]}}}", "verificationRequest",
                  "identity", identity, "from", "tn", orig, "to", "tn", dest);
    if (root == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "identity or numbers are not valid UTF-8");
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    *json = text;
    return STI_OK;
}

/* Walks PATH from ROOT; returns the member or NULL. */
static json_t *lookup(json_t *root, const char *path)
{
    const char *p = path;
    json_t *node = root;

    while (node != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);

        if (!json_is_object(node))
            return NULL;
        node = json_object_getn(node, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    return node;
}

int sti_json_get_text(const char *text, size_t len, const char *path,
                      char **out, struct sti_error *err)
{
    json_error_t jerr;
    json_t *root, *node;
    char *value;

    if (text == NULL || path == NULL || out == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "missing argument");
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid JSON at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    node = lookup(root, path);
    if (node == NULL) {
        json_decref(root);
        return sti_seterr(err, STI_ERR_NOTFOUND, "no member '%s' in the JSON",
                          path);
    }
    if (json_is_string(node))
        value = sti_strdup(json_string_value(node));
    else
        value = json_dumps(node, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    if (value == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    *out = value;
    return STI_OK;
}
