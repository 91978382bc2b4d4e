/* The PA database: counters and the service provider registry. */
#include "pa_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int pa_meta_get_int(struct sti_pa *pa, const char *name, int64_t *value,
                    struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, step;

    *value = 0;
    if (sqlite3_prepare_v2(pa->db, "SELECT value FROM meta WHERE name = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot read a counter");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    else if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot read a counter");
    sqlite3_finalize(st);
    return rc;
}

int pa_meta_set_int(struct sti_pa *pa, const char *name, int64_t value,
                    struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO meta(name, value) VALUES(?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET value = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot write a counter");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = sqlite3_step(st) == SQLITE_DONE
             ? STI_OK
             : sti_sqlite_err(err, pa->db, "cannot write a counter");
    sqlite3_finalize(st);
    return rc;
}

char *pa_serial_normalize(const char *text)
{
    size_t n = text ? strlen(text) : 0, k = 0, digits = 0;
    char *out = malloc(n + 2);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ':')
            continue;
        if (!isxdigit((unsigned char)text[i]))
            goto fail;
        digits++;
        if (k == 0 && text[i] == '0')
            continue; /* leading zero */
        out[k++] = (char)toupper((unsigned char)text[i]);
    }
    /* RFC 5280 section 4.1.2.2: serials are at most 20 octets. */
    if (digits == 0 || k > 40)
        goto fail;
    if (k == 0)
        out[k++] = '0';
    out[k] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

/*
 * Returns the length of the UTF-8 sequence at P (1 to 4) when it encodes a
 * printable character (RFC 3629).  Returns 0 for an invalid, overlong or
 * surrogate sequence, and for the C0 and C1 control characters and DEL.
 */
static size_t utf8_printable_len(const unsigned char *p)
{
    unsigned long cp;
    size_t len, i;

    if (p[0] < 0x80)
        return p[0] >= 0x20 && p[0] != 0x7f ? 1 : 0;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, cp = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, cp = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

int pa_name_check(const char *kind, const char *name, struct sti_error *err)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t n = name ? strlen(name) : 0, step;

    if (n == 0 || n > PA_NAME_MAX)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid %s name of %zu bytes; use 1 to %d bytes "
                          "of UTF-8 text",
                          kind, n, PA_NAME_MAX);
    for (size_t i = 0; i < n; i += step) {
        step = utf8_printable_len(p + i);
        if (step == 0)
            return sti_seterr(err, STI_ERR_INVALID,
                              "invalid %s name: byte %zu (0x%02x) is not "
                              "printable UTF-8; use UTF-8 text without "
                              "control characters",
                              kind, i + 1, p[i]);
    }
    return STI_OK;
}

char *pa_name_sanitize(const char *name)
{
    const unsigned char *p = (const unsigned char *)(name ? name : "");
    size_t n = strlen((const char *)p), k = 0, step;
    char *out = malloc(n + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += step) {
        step = utf8_printable_len(p + i);
        if (step == 0) {
            out[k++] = '?';
            step = 1;
            continue;
        }
        memcpy(out + k, p + i, step);
        k += step;
    }
    out[k] = '\0';
    return out;
}

static int check_spc(const char *spc, struct sti_error *err)
{
    struct sti_tnauth *tn = sti_tnauth_new();
    int rc;

    if (tn == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (spc == NULL || spc[0] == '\0')
        rc = sti_seterr(err, STI_ERR_INVALID, "no SPC given");
    else
        rc = sti_tnauth_add(tn, STI_TN_SPC, spc, 0, err);
    sti_tnauth_free(tn);
    return rc;
}

int pa_provider_find(struct sti_pa *pa, const char *spc, int64_t *id,
                     int *enabled, int *delegation, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, step;

    if (sqlite3_prepare_v2(pa->db,
                           "SELECT id, enabled, delegation FROM providers "
                           "WHERE spc = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot look up a provider");
    sqlite3_bind_text(st, 1, spc ? spc : "", -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *enabled = sqlite3_column_int(st, 1);
        *delegation = sqlite3_column_int(st, 2);
        rc = STI_OK;
    } else if (step == SQLITE_DONE) {
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "unknown service provider '%s'; add it with "
                        "'sti-pa sp add'",
                        spc ? spc : "");
    } else {
        rc = sti_sqlite_err(err, pa->db, "cannot look up a provider");
    }
    sqlite3_finalize(st);
    return rc;
}

int sti_pa_sp_add(struct sti_pa *pa, const char *spc, const char *name,
                  int delegation, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = check_spc(spc, err), step;

    if (rc != STI_OK)
        return rc;
    rc = pa_name_check("provider", name, err);
    if (rc != STI_OK)
        return rc;
    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db,
                           "INSERT INTO providers(spc, name, delegation, "
                           "created) VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, pa->db, "cannot add a provider");
        goto out;
    }
    sqlite3_bind_text(st, 1, spc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, delegation != 0);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    step = sqlite3_step(st);
    if (step == SQLITE_CONSTRAINT)
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "service provider %s already exists", spc);
    else if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot add a provider");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    return rc;
}

int sti_pa_sp_set_enabled(struct sti_pa *pa, const char *spc, int enabled,
                          struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK;

    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db,
                           "UPDATE providers SET enabled = ? WHERE spc = ?", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, pa->db, "cannot update a provider");
        goto out;
    }
    sqlite3_bind_int(st, 1, enabled != 0);
    sqlite3_bind_text(st, 2, spc ? spc : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot update a provider");
    else if (sqlite3_changes(pa->db) == 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "unknown service provider '%s'",
                        spc ? spc : "");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    return rc;
}

static int provider_row(sqlite3_stmt *st, struct sti_pa_provider *p)
{
    const char *spc = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);

    memset(p, 0, sizeof(*p));
    snprintf(p->spc, sizeof(p->spc), "%s", spc ? spc : "");
    p->name = pa_name_sanitize(name);
    p->delegation = sqlite3_column_int(st, 2);
    p->enabled = sqlite3_column_int(st, 3);
    p->created = (time_t)sqlite3_column_int64(st, 4);
    p->tokens = (long)sqlite3_column_int64(st, 5);
    p->users = (long)sqlite3_column_int64(st, 6);
    return p->name ? STI_OK : STI_ERR_NOMEM;
}

static int grow(void **list, size_t *cap, size_t count, size_t size)
{
    void *bigger;

    if (count < *cap)
        return STI_OK;
    *cap = *cap ? *cap * 2 : 8;
    bigger = realloc(*list, *cap * size);
    if (bigger == NULL)
        return STI_ERR_NOMEM;
    *list = bigger;
    return STI_OK;
}

int sti_pa_sp_list(struct sti_pa *pa, struct sti_pa_provider **list,
                   size_t *count, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    struct sti_pa_provider *items = NULL;
    size_t n = 0, cap = 0;
    int rc = STI_OK, step;

    *list = NULL;
    *count = 0;
    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(
            pa->db,
            "SELECT spc, name, delegation, enabled, created,"
            " (SELECT count(*) FROM spc_tokens t WHERE t.provider_id = p.id),"
            " (SELECT count(*) FROM users u WHERE u.provider_id = p.id)"
            " FROM providers p ORDER BY spc",
            -1, &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, pa->db, "cannot list providers");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = grow((void **)&items, &cap, n, sizeof(*items));
        if (rc == STI_OK)
            rc = provider_row(st, &items[n]);
        if (rc != STI_OK) {
            sti_seterr(err, rc, "out of memory");
            goto out;
        }
        n++;
    }
    if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot list providers");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    if (rc != STI_OK) {
        sti_pa_sp_list_free(items, n);
        return rc;
    }
    *list = items;
    *count = n;
    return STI_OK;
}

void sti_pa_sp_list_free(struct sti_pa_provider *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].name);
    free(list);
}

static json_t *provider_json(const struct sti_pa_provider *p)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I}", "spc", p->spc,
                     "name", p->name, "delegation", p->delegation, "enabled",
                     p->enabled, "created", (json_int_t)p->created, "tokens",
                     (json_int_t)p->tokens, "users", (json_int_t)p->users);
}

int sti_pa_sp_list_json(struct sti_pa *pa, char **json, struct sti_error *err)
{
    struct sti_pa_provider *list;
    size_t n;
    json_t *arr;
    int rc = sti_pa_sp_list(pa, &list, &n, err);

    *json = NULL;
    if (rc != STI_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, provider_json(&list[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    sti_pa_sp_list_free(list, n);
    if (arr != NULL)
        *json = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(arr);
    if (*json == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return STI_OK;
}
