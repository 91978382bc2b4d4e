/* Client certificates registered for the STI-CR publishing API. */
#include "repo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Facts about a certificate to register. */
struct client_facts {
    char sha256[65];
    char *subject;
    time_t not_after;
};

static int client_facts(const void *pem, size_t len, struct client_facts *f,
                        struct sti_error *err)
{
    struct sti_cert *cert = NULL;
    char when[32];
    int rc;

    memset(f, 0, sizeof(*f));
    rc = sti_cert_parse(pem, len, &cert, err);
    if (rc != STI_OK)
        return rc;
    f->not_after = sti_cert_not_after(cert);
    f->subject = sti_cert_subject(cert);
    if (f->subject == NULL || sti_cert_fingerprint(cert, f->sha256) != STI_OK)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else if (sti_cert_is_ca(cert))
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the certificate is a CA certificate; register the "
                        "end-entity certificate the client presents");
    else if (f->not_after < time(NULL)) {
        repo_iso_time(f->not_after, when);
        /* The server would reject it at every request. */
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "the client certificate expired on %s; register a "
                        "current one",
                        when);
    }
    sti_cert_free(cert);
    return rc;
}

static int insert_client(struct sti_repo *repo, const char *name,
                         const struct client_facts *f, struct sti_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(repo->db,
                            "INSERT INTO clients(name, sha256, subject, "
                            "not_after, created) VALUES(?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, f->sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, f->subject, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)f->not_after);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE)
        rc = STI_OK;
    else if (sqlite3_extended_errcode(repo->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "a client named '%s' exists; remove it first or pick "
                        "another name",
                        name);
    else if (sqlite3_extended_errcode(repo->db) == SQLITE_CONSTRAINT_UNIQUE)
        rc = sti_seterr(err, STI_ERR_EXISTS,
                        "the certificate with SHA-256 %s is registered "
                        "already; 'sti-cr client list' shows its name",
                        f->sha256);
    else
        rc = sti_sqlite_err(err, repo->db, "cannot store the client");
    sqlite3_finalize(st);
    return rc;
}

int sti_repo_client_add(struct sti_repo *repo, const char *name,
                        const void *pem, size_t len,
                        char name_out[STI_REPO_NAME_MAX + 1],
                        struct sti_error *err)
{
    struct client_facts f;
    char derived[STI_REPO_NAME_MAX + 1];
    int rc;

    if (name != NULL && !sti_repo_name_valid(name))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid client name '%.200s'; use 1 to %d letters, "
                          "digits, '.', '_' or '-', starting with a letter "
                          "or digit",
                          name, STI_REPO_NAME_MAX);
    /* 'client remove' takes a name or a SHA-256, so a name must never
     * read as one. */
    if (name != NULL && strlen(name) == 64 &&
        strspn(name, "0123456789abcdefABCDEF") == 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid client name '%s': 64 hex digits read as "
                          "a SHA-256; pick another name",
                          name);
    rc = client_facts(pem, len, &f, err);
    if (rc != STI_OK)
        goto out;
    if (name == NULL) {
        snprintf(derived, sizeof(derived), "cert-%.16s", f.sha256);
        name = derived;
    }
    pthread_mutex_lock(&repo->db_lock);
    rc = insert_client(repo, name, &f, err);
    pthread_mutex_unlock(&repo->db_lock);
    if (rc == STI_OK && name_out != NULL)
        snprintf(name_out, STI_REPO_NAME_MAX + 1, "%s", name);
out:
    sti_free(f.subject);
    return rc;
}

int sti_repo_client_remove(struct sti_repo *repo, const char *name,
                           struct sti_error *err)
{
    int deleted, rc;

    if (name == NULL || *name == '\0' || strlen(name) > 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid client '%.200s'; give its name or its "
                          "SHA-256",
                          name ? name : "");
    rc = repo_delete(repo,
                     "DELETE FROM clients WHERE name = ?1 OR "
                     "sha256 = lower(?1)",
                     name, "cannot remove the client", &deleted, err);
    if (rc == STI_OK && deleted == 0)
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "no client named '%s' or with that SHA-256; 'sti-cr "
                        "client list' shows them",
                        name);
    return rc;
}

static json_t *client_row_json(sqlite3_stmt *st)
{
    char not_after[32], created[32];

    repo_iso_time((time_t)sqlite3_column_int64(st, 3), not_after);
    repo_iso_time((time_t)sqlite3_column_int64(st, 4), created);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "name",
                     (const char *)sqlite3_column_text(st, 0), "sha256",
                     (const char *)sqlite3_column_text(st, 1), "subject",
                     (const char *)sqlite3_column_text(st, 2), "not_after",
                     not_after, "created", created);
}

int sti_repo_client_list_json(struct sti_repo *repo, char **json,
                              struct sti_error *err)
{
    return repo_query_list(repo,
                           "SELECT name, sha256, subject, not_after, created "
                           "FROM clients ORDER BY name",
                           client_row_json, "clients",
                           "cannot list the clients", json, err);
}

int sti_repo_client_list_text(struct sti_repo *repo, char **text,
                              struct sti_error *err)
{
    static const struct repo_column columns[] = {
        {"NAME", "name", 24},
        {"NOT AFTER", "not_after", 20},
        {"SHA-256", "sha256", 64},
        {"SUBJECT", "subject", 0},
    };
    char *json = NULL;
    int rc = sti_repo_client_list_json(repo, &json, err);

    return repo_text_table(rc, json, "clients", columns,
                           sizeof(columns) / sizeof(columns[0]), text, err);
}

int sti_repo_client_check(struct sti_repo *repo, const char *sha256,
                          char name_out[STI_REPO_NAME_MAX + 1],
                          struct sti_error *err)
{
    if (sha256 == NULL || strlen(sha256) != 64)
        return sti_seterr(err, STI_ERR_AUTH, "missing or malformed SHA-256");
    if (!repo_find_name(repo,
                        "SELECT name FROM clients WHERE sha256 = lower(?)",
                        sha256, name_out))
        return sti_seterr(err, STI_ERR_AUTH,
                          "the client certificate with SHA-256 %s is not "
                          "registered",
                          sha256);
    return STI_OK;
}
