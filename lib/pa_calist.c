/* Approved CA roots and the signed, versioned CA list document. */
#include "pa_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Bumps the list version; the caller holds the lock. */
static int bump_version(struct sti_pa *pa, struct sti_error *err)
{
    int64_t version = 0;
    int rc = pa_meta_get_int(pa, "calist_version", &version, err);

    if (rc == STI_OK)
        rc = pa_meta_set_int(pa, "calist_version", version + 1, err);
    if (rc == STI_OK)
        rc = pa_meta_set_int(pa, "calist_updated", (int64_t)time(NULL), err);
    return rc;
}

/* Starts a change of the CA root list: takes the PA lock and opens a write
 * transaction.  Every call is paired with finish_change(). */
static int begin_change(struct sti_pa *pa, struct sti_error *err)
{
    pthread_mutex_lock(&pa->lock);
    return sti_sqlite_exec(pa->db, "BEGIN IMMEDIATE", err);
}

/* Ends a change whose steps returned RC: on success bumps the CA list
 * version and commits, otherwise rolls back.  Releases the PA lock. */
static int finish_change(struct sti_pa *pa, int rc, struct sti_error *err)
{
    if (rc == STI_OK)
        rc = bump_version(pa, err);
    if (rc == STI_OK)
        rc = sti_sqlite_exec(pa->db, "COMMIT", err);
    else
        sqlite3_exec(pa->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&pa->lock);
    return rc;
}

static int check_root(const struct sti_cert *root, struct sti_error *err)
{
    char *subject;
    int rc = STI_OK;

    if (root == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no certificate given");
    if (sti_cert_is_ca(root) && sti_cert_is_self_signed(root))
        return STI_OK;
    subject = sti_cert_subject(root);
    rc = sti_seterr(err, STI_ERR_POLICY,
                    "'%s' is not a self-signed CA certificate; the list "
                    "holds trust anchors only",
                    subject ? subject : "?");
    free(subject);
    return rc;
}

static int insert_root(struct sti_pa *pa, const struct sti_cert *root,
                       struct sti_error *err)
{
    char fp[65], *subject = sti_cert_subject(root);
    unsigned char *der = NULL;
    size_t len = 0;
    sqlite3_stmt *st = NULL;
    int rc = sti_cert_to_der(root, &der, &len, err), step;

    sti_cert_fingerprint(root, fp);
    if (rc == STI_OK &&
        sqlite3_prepare_v2(pa->db,
                           "INSERT INTO ca_roots(fingerprint, subject, der, "
                           "added) VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        rc = sti_sqlite_err(err, pa->db, "cannot add a CA root");
    if (rc == STI_OK) {
        sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, subject ? subject : "", -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
        step = sqlite3_step(st);
        if (step == SQLITE_CONSTRAINT)
            rc = sti_seterr(err, STI_ERR_EXISTS,
                            "CA root %s is already on the list", fp);
        else if (step != SQLITE_DONE)
            rc = sti_sqlite_err(err, pa->db, "cannot add a CA root");
    }
    sqlite3_finalize(st);
    free(der);
    free(subject);
    return rc;
}

int sti_pa_ca_add(struct sti_pa *pa, const struct sti_cert *root,
                  struct sti_error *err)
{
    int rc = check_root(root, err);

    if (rc != STI_OK)
        return rc;
    rc = begin_change(pa, err);
    if (rc == STI_OK)
        rc = insert_root(pa, root, err);
    return finish_change(pa, rc, err);
}

static int delete_root(struct sti_pa *pa, const char *prefix,
                       struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, matches = 0;

    if (sqlite3_prepare_v2(pa->db,
                           "SELECT count(*) FROM ca_roots WHERE "
                           "substr(fingerprint, 1, length(?1)) = lower(?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot look up a CA root");
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        matches = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (matches == 0)
        return sti_seterr(err, STI_ERR_NOTFOUND,
                          "no CA root with fingerprint %s; see 'sti-pa ca "
                          "list'",
                          prefix);
    if (matches > 1)
        return sti_seterr(err, STI_ERR_INVALID,
                          "fingerprint prefix %s matches %d roots; give more "
                          "digits",
                          prefix, matches);
    if (sqlite3_prepare_v2(pa->db,
                           "DELETE FROM ca_roots WHERE "
                           "substr(fingerprint, 1, length(?1)) = lower(?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot remove a CA root");
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot remove a CA root");
    sqlite3_finalize(st);
    return rc;
}

int sti_pa_ca_remove(struct sti_pa *pa, const char *fingerprint,
                     struct sti_error *err)
{
    size_t n = fingerprint ? strlen(fingerprint) : 0;
    int rc;

    if (n < 8 || n > 64 || strspn(fingerprint, "0123456789abcdefABCDEF") != n)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid fingerprint '%s'; give 8 to 64 hex digits "
                          "of the root's SHA-256 fingerprint",
                          fingerprint ? fingerprint : "");
    rc = begin_change(pa, err);
    if (rc == STI_OK)
        rc = delete_root(pa, fingerprint, err);
    return finish_change(pa, rc, err);
}

int sti_pa_ca_list(struct sti_pa *pa, struct sti_pa_ca **list, size_t *count,
                   struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    struct sti_pa_ca *items = NULL, *bigger;
    size_t n = 0;
    int rc = STI_OK, step;

    *list = NULL;
    *count = 0;
    pthread_mutex_lock(&pa->lock);
    if (sqlite3_prepare_v2(pa->db,
                           "SELECT fingerprint, subject, added FROM ca_roots "
                           "ORDER BY added, fingerprint",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, pa->db, "cannot list CA roots");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bigger = realloc(items, (n + 1) * sizeof(*items));
        if (bigger == NULL) {
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
            goto out;
        }
        items = bigger;
        snprintf(items[n].fingerprint, sizeof(items[n].fingerprint), "%s",
                 (const char *)sqlite3_column_text(st, 0));
        items[n].subject = sti_strdup((const char *)sqlite3_column_text(st, 1));
        items[n].added = (time_t)sqlite3_column_int64(st, 2);
        n++;
    }
    if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot list CA roots");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&pa->lock);
    if (rc != STI_OK) {
        sti_pa_ca_list_free(items, n);
        return rc;
    }
    *list = items;
    *count = n;
    return STI_OK;
}

void sti_pa_ca_list_free(struct sti_pa_ca *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].subject);
    free(list);
}

int sti_pa_ca_list_json(struct sti_pa *pa, char **json, struct sti_error *err)
{
    struct sti_pa_ca *list;
    size_t n;
    json_t *arr;
    int rc = sti_pa_ca_list(pa, &list, &n, err);

    *json = NULL;
    if (rc != STI_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:I}", "fingerprint",
                                        list[i].fingerprint, "subject",
                                        list[i].subject ? list[i].subject : "",
                                        "added", (json_int_t)list[i].added));
    sti_pa_ca_list_free(list, n);
    if (arr != NULL)
        *json = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(arr);
    return *json ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

/* The document */

static int roots_json(struct sti_pa *pa, json_t *roots, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = STI_OK, step;

    if (sqlite3_prepare_v2(pa->db,
                           "SELECT der FROM ca_roots "
                           "ORDER BY added, fingerprint",
                           -1, &st, NULL) != SQLITE_OK)
        return sti_sqlite_err(err, pa->db, "cannot read CA roots");
    while (rc == STI_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sti_cert *cert = NULL;
        char *pem = NULL;

        rc = sti_cert_parse(sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), &cert, err);
        if (rc == STI_OK)
            rc = sti_cert_to_pem(cert, &pem, err);
        if (rc == STI_OK)
            json_array_append_new(roots, json_string(pem));
        free(pem);
        sti_cert_free(cert);
    }
    if (rc == STI_OK && step != SQLITE_DONE)
        rc = sti_sqlite_err(err, pa->db, "cannot read CA roots");
    sqlite3_finalize(st);
    return rc;
}

static int calist_payload(struct sti_pa *pa, char **payload,
                          struct sti_error *err)
{
    int64_t version = 0;
    time_t now = time(NULL);
    json_t *roots = json_array(), *doc;
    int rc;

    *payload = NULL;
    pthread_mutex_lock(&pa->lock);
    rc = pa_meta_get_int(pa, "calist_version", &version, err);
    if (rc == STI_OK)
        rc = roots_json(pa, roots, err);
    pthread_mutex_unlock(&pa->lock);
    if (rc != STI_OK) {
        json_decref(roots);
        return rc;
    }
    doc = json_pack("{s:I, s:I, s:o, s:I}", "expires",
                    (json_int_t)(now + pa->calist_lifetime), "issued",
                    (json_int_t)now, "roots", roots, "version",
                    (json_int_t)version);
    if (doc != NULL)
        *payload = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    return *payload ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

int sti_pa_calist_document(struct sti_pa *pa, char **jws, struct sti_error *err)
{
    char *payload = NULL, *header = NULL;
    json_t *h;
    int rc;

    *jws = NULL;
    if (pa->cert_url == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no base URL for the PA certificate; set base_url "
                          "in the configuration");
    rc = calist_payload(pa, &payload, err);
    if (rc != STI_OK)
        return rc;
    h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "x5u",
                  pa->cert_url);
    header = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(h);
    if (header == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else
        rc = sti_jws_sign(header, payload, pa->key, jws, err);
    free(header);
    free(payload);
    return rc;
}

/* Verification */

void sti_pa_calist_free(struct sti_pa_calist *list)
{
    if (list == NULL)
        return;
    sti_chain_free(list->roots);
    free(list);
}

/* Extracts the compact JWS from DOC, which may be the API's JSON body. */
static int calist_jws(const char *doc, size_t len, char **out,
                      struct sti_error *err)
{
    json_t *root, *member;

    *out = NULL;
    while (len > 0 &&
           (*doc == ' ' || *doc == '\n' || *doc == '\r' || *doc == '\t')) {
        doc++;
        len--;
    }
    while (len > 0 && (doc[len - 1] == '\n' || doc[len - 1] == '\r' ||
                       doc[len - 1] == ' '))
        len--;
    if (len == 0 || doc[0] != '{') {
        *out = strndup(doc, len);
        return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    root = json_loadb(doc, len, 0, NULL);
    member = json_object_get(root, "caList");
    if (json_is_string(member))
        *out = strdup(json_string_value(member));
    json_decref(root);
    if (*out == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the CA list body is JSON without a caList string");
    return STI_OK;
}

static int add_root(struct sti_chain *chain, json_t *pem, size_t index,
                    struct sti_error *err)
{
    struct sti_cert *cert = NULL;
    int rc;

    if (!json_is_string(pem))
        return sti_seterr(err, STI_ERR_INVALID,
                          "CA list root %zu is not a PEM string", index);
    rc = sti_cert_parse(json_string_value(pem), json_string_length(pem), &cert,
                        err);
    /* The chain takes its own reference. */
    if (rc == STI_OK && sti_chain_push(chain, cert) != STI_OK)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    sti_cert_free(cert);
    return rc;
}

static int parse_calist(const char *payload, time_t now,
                        struct sti_pa_calist *list, struct sti_error *err)
{
    json_t *root = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    json_int_t version = -1, issued = 0, expires = 0;
    json_t *roots = NULL, *pem;
    size_t i;
    int rc = STI_OK;

    if (root == NULL ||
        json_unpack(root, "{s:I, s:I, s:I, s:o}", "version", &version, "issued",
                    &issued, "expires", &expires, "roots", &roots) != 0 ||
        !json_is_array(roots) || version < 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "the CA list payload lacks an integer version, "
                        "issued or expires, or a roots array");
    else if (expires <= now)
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the CA list version %lld expired %lld s ago; "
                        "fetch a new one from the PA",
                        (long long)version, (long long)(now - expires));
    if (rc == STI_OK) {
        list->version = (uint64_t)version;
        list->issued = (time_t)issued;
        list->expires = (time_t)expires;
        json_array_foreach(roots, i, pem)
        {
            rc = add_root(list->roots, pem, i, err);
            if (rc != STI_OK)
                break;
        }
    }
    json_decref(root);
    return rc;
}

static int verify_signature(const struct sti_jws *jws,
                            const struct sti_cert *pa_cert,
                            struct sti_error *err)
{
    const char *alg = sti_jws_header_string(jws, "alg");
    struct sti_key *key;
    int rc;

    if (alg == NULL || strcmp(alg, "ES256") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the CA list alg is '%s'; expected ES256",
                          alg ? alg : "(missing)");
    key = sti_cert_get1_key(pa_cert);
    if (key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "no PA certificate to check the CA list with");
    rc = sti_jws_verify(jws, key, err);
    sti_key_free(key);
    if (rc != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO,
                          "the CA list is not signed by the PA certificate");
    return STI_OK;
}

int sti_pa_calist_verify(const char *doc, size_t len,
                         const struct sti_cert *pa_cert, time_t now,
                         struct sti_pa_calist **out, struct sti_error *err)
{
    char *compact = NULL;
    struct sti_jws *jws = NULL;
    struct sti_pa_calist *list = NULL;
    int rc;

    *out = NULL;
    if (doc == NULL || pa_cert == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a CA list and the PA certificate are required");
    rc = calist_jws(doc, len, &compact, err);
    if (rc == STI_OK)
        rc = sti_jws_parse(compact, strlen(compact), &jws, err);
    if (rc == STI_OK)
        rc = verify_signature(jws, pa_cert, err);
    if (rc == STI_OK) {
        list = calloc(1, sizeof(*list));
        if (list == NULL || (list->roots = sti_chain_new()) == NULL)
            rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    if (rc == STI_OK)
        rc = parse_calist(sti_jws_payload_json(jws), now ? now : time(NULL),
                          list, err);
    sti_jws_free(jws);
    free(compact);
    if (rc != STI_OK) {
        sti_pa_calist_free(list);
        return rc;
    }
    *out = list;
    return STI_OK;
}
