/* Listing, API tokens and the static export of the STI-CR store. */
#include "repo_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* Listing */

static void row_to_info(sqlite3_stmt *st, struct sti_repo_info *info)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s",
             (const char *)sqlite3_column_text(st, 0));
    snprintf(info->etag, sizeof(info->etag), "\"%s\"",
             (const char *)sqlite3_column_text(st, 1));
    info->modified = (time_t)sqlite3_column_int64(st, 2);
    info->not_after = (time_t)sqlite3_column_int64(st, 3);
    info->certs = (size_t)sqlite3_column_int64(st, 4);
    info->size = (size_t)sqlite3_column_int64(st, 5);
    snprintf(info->subject, sizeof(info->subject), "%s",
             (const char *)sqlite3_column_text(st, 6));
}

int sti_repo_list(struct sti_repo *repo, struct sti_repo_info **list,
                  size_t *count, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    struct sti_repo_info *out = NULL;
    size_t n = 0, cap = 0;
    int rc = STI_OK, step;

    *list = NULL;
    *count = 0;
    pthread_mutex_lock(&repo->db_lock);
    if (sqlite3_prepare_v2(repo->db,
                           "SELECT name, etag, modified, not_after, certs, "
                           "length(pem), subject FROM chains ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sti_sqlite_err(err, repo->db, "cannot list the chains");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct sti_repo_info *bigger = realloc(out, ncap * sizeof(*out));

            if (bigger == NULL) {
                rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
                goto out;
            }
            out = bigger;
            cap = ncap;
        }
        row_to_info(st, &out[n++]);
    }
    if (step != SQLITE_DONE)
        rc = sti_sqlite_err(err, repo->db, "cannot list the chains");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&repo->db_lock);
    if (rc != STI_OK) {
        free(out);
        return rc;
    }
    *list = out;
    *count = n;
    return STI_OK;
}

/* Builds the JSON object of one chain; BASE_URL may be NULL. */
static json_t *info_to_json(const struct sti_repo_info *info,
                            const char *base_url)
{
    char modified[32], not_after[32];
    json_t *o;

    repo_iso_time(info->modified, modified);
    repo_iso_time(info->not_after, not_after);
    o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "name", info->name, "etag",
                  info->etag, "modified", modified, "not_after", not_after,
                  "certificates", (json_int_t)info->certs, "size",
                  (json_int_t)info->size, "subject", info->subject);
    if (o != NULL && base_url != NULL) {
        size_t n = strlen(base_url) + strlen(info->name) + 16;
        char *url = malloc(n);

        if (url != NULL) {
            snprintf(url, n, "%s/certs/%s.pem", base_url, info->name);
            json_object_set_new(o, "url", json_string(url));
            free(url);
        }
    }
    return o;
}

int sti_repo_list_json(struct sti_repo *repo, const char *base_url, char **json,
                       struct sti_error *err)
{
    struct sti_repo_info *list;
    size_t n;
    json_t *arr, *doc;
    int rc;

    *json = NULL;
    rc = sti_repo_list(repo, &list, &n, err);
    if (rc != STI_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, info_to_json(&list[i], base_url));
    free(list);
    doc = json_pack("{s:o}", "chains", arr);
    *json = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    return *json ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

/* Tokens */

static int bad_token_name(const char *name, struct sti_error *err)
{
    return sti_seterr(
        err, STI_ERR_INVALID,
        "invalid token name '%.200s'; use 1 to %d letters, "
        "digits, '.', '_' or '-', starting with a letter or digit",
        name ? name : "", STI_REPO_NAME_MAX);
}

int sti_repo_token_add(struct sti_repo *repo, const char *name, char **token,
                       struct sti_error *err)
{
    unsigned char raw[32];
    char hash[65];
    sqlite3_stmt *st = NULL;
    int rc;

    *token = NULL;
    if (!sti_repo_name_valid(name))
        return bad_token_name(name, err);
    if (sti_random_bytes(raw, sizeof(raw)) != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO, "cannot get random bytes");
    *token = sti_b64url_encode(raw, sizeof(raw));
    if (*token == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    repo_sha256_hex(*token, strlen(*token), hash);
    pthread_mutex_lock(&repo->db_lock);
    rc = sqlite3_prepare_v2(repo->db,
                            "INSERT INTO tokens(name, sha256, created) "
                            "VALUES(?, ?, ?)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE)
        rc = STI_OK;
    else if (sqlite3_extended_errcode(repo->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "a token named '%s' exists; remove it first or pick "
                        "another name",
                        name);
    else
        rc = sti_sqlite_err(err, repo->db, "cannot store the token");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&repo->db_lock);
    memset(raw, 0, sizeof(raw));
    if (rc != STI_OK) {
        sti_secret_free(*token);
        *token = NULL;
    }
    return rc;
}

int sti_repo_token_remove(struct sti_repo *repo, const char *name,
                          struct sti_error *err)
{
    int deleted, rc;

    if (!sti_repo_name_valid(name))
        return bad_token_name(name, err);
    rc = repo_delete(repo, "DELETE FROM tokens WHERE name = ?", name,
                     "cannot remove the token", &deleted, err);
    if (rc == STI_OK && deleted == 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND, "no token named '%s'", name);
    return rc;
}

static json_t *token_row_json(sqlite3_stmt *st)
{
    char created[32];

    repo_iso_time((time_t)sqlite3_column_int64(st, 1), created);
    return json_pack("{s:s,s:s}", "name",
                     (const char *)sqlite3_column_text(st, 0), "created",
                     created);
}

int sti_repo_token_list_json(struct sti_repo *repo, char **json,
                             struct sti_error *err)
{
    return repo_query_list(
        repo, "SELECT name, created FROM tokens ORDER BY name", token_row_json,
        "tokens", "cannot list the tokens", json, err);
}

int sti_repo_token_list_text(struct sti_repo *repo, char **text,
                             struct sti_error *err)
{
    static const struct repo_column columns[] = {
        {"NAME", "name", 24},
        {"CREATED", "created", 0},
    };
    char *json = NULL;
    int rc = sti_repo_token_list_json(repo, &json, err);

    return repo_text_table(rc, json, "tokens", columns,
                           sizeof(columns) / sizeof(columns[0]), text, err);
}

int sti_repo_token_check(struct sti_repo *repo, const char *token,
                         char name_out[STI_REPO_NAME_MAX + 1],
                         struct sti_error *err)
{
    char hash[65];

    if (token == NULL || *token == '\0' || strlen(token) > 512)
        return sti_seterr(err, STI_ERR_AUTH, "missing or malformed token");
    /* The tokens are 256 random bits, so a plain SHA-256 lookup is enough:
     * no one can invert it or guess a token offline. */
    if (repo_sha256_hex(token, strlen(token), hash) != STI_OK)
        return sti_seterr(err, STI_ERR_CRYPTO, "cannot hash the token");
    if (!repo_find_name(repo, "SELECT name FROM tokens WHERE sha256 = ?", hash,
                        name_out))
        return sti_seterr(err, STI_ERR_AUTH, "unknown token");
    return STI_OK;
}

/* Export */

static int make_dir(const char *path, struct sti_error *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return sti_seterr(err, STI_ERR_IO, "cannot create directory %s: %s",
                          path, strerror(errno));
    return STI_OK;
}

static int export_one(struct sti_repo *repo, const char *certs_dir,
                      const struct sti_repo_info *info, struct sti_error *err)
{
    char path[PATH_MAX];
    char *pem;
    size_t len;
    struct timespec times[2];
    int rc;

    if (snprintf(path, sizeof(path), "%s/%s.pem", certs_dir, info->name) >=
        (int)sizeof(path))
        return sti_seterr(err, STI_ERR_INVALID, "export path %s is too long",
                          certs_dir);
    rc = sti_repo_get(repo, info->name, &pem, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_file_write(path, pem, len, 0644, 0, err);
    free(pem);
    if (rc != STI_OK)
        return rc;
    /* nginx derives Last-Modified from the file time. */
    times[0].tv_sec = times[1].tv_sec = info->modified;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    if (utimensat(AT_FDCWD, path, times, 0) != 0)
        return sti_seterr(err, STI_ERR_IO, "cannot set the time of %s: %s",
                          path, strerror(errno));
    return STI_OK;
}

static int write_nginx_conf(const char *dir, unsigned long max_age,
                            struct sti_error *err)
{
    char path[PATH_MAX], root[PATH_MAX], text[2048];
    int n;

    if (realpath(dir, root) == NULL)
        return sti_seterr(err, STI_ERR_IO, "cannot resolve %s: %s", dir,
                          strerror(errno));
    snprintf(path, sizeof(path), "%s/nginx-sti-cr.conf", dir);
    n = snprintf(
        text, sizeof(text),
        "# Serves the chains exported by sti-cr with the headers\n"
        "# that sti-cr sends.  Include it in a server block.\n"
        "# nginx computes its own ETag values (from the file time\n"
        "# and size) and answers conditional requests with 304.\n"
        "# Other names under /certs/, such as the directory, get 404.\n"
        "location /certs/ {\n"
        "    root %s;\n"
        "    types { }\n"
        "    default_type application/pem-certificate-chain;\n"
        "    add_header Cache-Control \"public, max-age=%lu\";\n"
        "    etag on;\n"
        "    autoindex off;\n"
        "    location ~ \"^/certs/[A-Za-z0-9][A-Za-z0-9._-]*\\.pem$\" "
        "{ }\n"
        "    location /certs/ { return 404; }\n"
        "}\n",
        root, max_age ? max_age : STI_REPO_MAX_AGE);
    if (n < 0 || (size_t)n >= sizeof(text))
        return sti_seterr(err, STI_ERR_INVALID, "export path %s is too long",
                          root);
    return sti_file_write(path, text, (size_t)n, 0644, 0, err);
}

static int chain_listed(const struct sti_repo_info *list, size_t n,
                        const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return 1;
    return 0;
}

/*
 * Deletes the files in CERTS that an earlier export wrote for chains no
 * longer in LIST, which are the regular files named after a valid chain
 * name plus ".pem".  Other files and symbolic links stay.
 */
static int remove_stale(const char *certs, const struct sti_repo_info *list,
                        size_t n, void (*on_removed)(void *, const char *),
                        void *arg, struct sti_error *err)
{
    DIR *d = opendir(certs);
    struct dirent *e;
    int rc = STI_OK;

    if (d == NULL)
        return sti_seterr(err, STI_ERR_IO, "cannot read directory %s: %s",
                          certs, strerror(errno));
    while (rc == STI_OK && (e = readdir(d)) != NULL) {
        char name[STI_REPO_NAME_MAX + 1], path[PATH_MAX];
        size_t len = strlen(e->d_name);
        struct stat st;

        if (len <= 4 || len - 4 > STI_REPO_NAME_MAX ||
            strcmp(e->d_name + len - 4, ".pem") != 0)
            continue;
        memcpy(name, e->d_name, len - 4);
        name[len - 4] = '\0';
        if (!sti_repo_name_valid(name) || chain_listed(list, n, name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        /* sti_repo_export() keeps CERTS 200 bytes under PATH_MAX. */
        if (snprintf(path, sizeof(path), "%s/%s", certs, e->d_name) >=
            (int)sizeof(path))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            rc = sti_seterr(err, STI_ERR_IO, "cannot remove %s: %s", path,
                            strerror(errno));
        else if (on_removed != NULL)
            on_removed(arg, path);
    }
    closedir(d);
    return rc;
}

int sti_repo_export(struct sti_repo *repo, const char *dir,
                    unsigned long max_age,
                    void (*on_removed)(void *arg, const char *path), void *arg,
                    struct sti_error *err)
{
    struct sti_repo_info *list;
    size_t n;
    char certs[PATH_MAX];
    int rc;

    if (dir == NULL || strlen(dir) > PATH_MAX - 200)
        return sti_seterr(err, STI_ERR_INVALID, "invalid export directory");
    snprintf(certs, sizeof(certs), "%s/certs", dir);
    rc = make_dir(dir, err);
    if (rc == STI_OK)
        rc = make_dir(certs, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_repo_list(repo, &list, &n, err);
    for (size_t i = 0; rc == STI_OK && i < n; i++)
        rc = export_one(repo, certs, &list[i], err);
    if (rc == STI_OK)
        rc = write_nginx_conf(dir, max_age, err);
    if (rc == STI_OK)
        rc = remove_stale(certs, list, n, on_removed, arg, err);
    free(list);
    return rc;
}
