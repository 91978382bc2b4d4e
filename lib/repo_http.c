/*
 * The HTTP side of sti-cr: GET and HEAD of /certs/NAME.pem from memory,
 * and the token-protected publishing API under /api/v1/chains.
 */
#include "repo_int.h"
#include "httpd_json_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define CERTS_PREFIX "/certs/"
#define API_PREFIX "/api/v1/chains"
#define PEM_TYPE "application/pem-certificate-chain"

/* Conditional requests (RFC 9110 section 13) */

/* Returns 1 when the If-None-Match list contains ETAG (weak comparison, as
 * RFC 9110 section 13.1.2 prescribes for GET and HEAD) or is "*". */
static int etag_listed(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;

    while (*p != '\0') {
        size_t n;

        p += strspn(p, " \t,");
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == elen && memcmp(p, etag, n) == 0)
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

static int etag_line_listed(void *etag, const char *list)
{
    return etag_listed(list, etag);
}

static int not_modified(const struct sti_httpd_request *req,
                        const struct repo_entry *e)
{
    const char *inm = sti_httpd_header(req, "If-None-Match");
    const char *ims;
    time_t since;

    /* If-None-Match wins; If-Modified-Since counts only without it.  Its
     * field lines form one list (RFC 9110 section 5.3). */
    if (inm != NULL)
        return sti_httpd_header_each(req, "If-None-Match", etag_line_listed,
                                     (void *)e->etag);
    ims = sti_httpd_header(req, "If-Modified-Since");
    if (ims == NULL)
        return 0;
    since = repo_parse_http_date(ims);
    return since != (time_t)-1 && e->modified <= since;
}

/* Chains */

static void method_not_allowed(struct sti_httpd_response *resp,
                               const char *allow)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "method not allowed here; use %s", allow);
    sti_httpd_add_header(resp, "Allow", allow);
    sti_httpd_send_error(resp, 405, NULL, msg);
}

static void not_found(struct sti_httpd_response *resp)
{
    sti_httpd_send_error(resp, 404, NULL, "not found");
}

/*
 * Sends the chain of E as one buffer, so that headers and body leave in
 * one system call: the entry's flat copy while the flat budget lasts (the
 * entry stays referenced until the body is sent), else a copy made for
 * this response.  Takes over the caller's reference.
 */
static void send_entry(struct sti_httpd_response *resp, struct repo_entry *e,
                       const char *type)
{
    const char *flat = repo_entry_flat(e);
    char *copy;

    if (flat != NULL) {
        sti_httpd_set_body_ref(resp, type, flat, e->size, repo_entry_release,
                               e);
        return;
    }
    copy = malloc(e->size ? e->size : 1);
    if (copy == NULL) {
        repo_entry_unref(e);
        sti_httpd_send_error(resp, 500, NULL, "out of memory");
        return;
    }
    repo_entry_write_pem(e, copy);
    sti_httpd_set_body_ref(resp, type, copy, e->size, free, copy);
    repo_entry_unref(e);
}

static void serve_chain(struct sti_repo *repo,
                        const struct sti_httpd_request *req,
                        struct sti_httpd_response *resp, const char *file)
{
    const char *method = sti_httpd_method(req);
    size_t len = strlen(file);
    struct repo_entry *e = NULL;
    int fresh;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        method_not_allowed(resp, "GET, HEAD");
        return;
    }
    /* Names are checked when published and the lookup is in memory only,
     * so "..", "%2e" and the like find nothing. */
    if (len > 4 && len - 4 <= STI_REPO_NAME_MAX &&
        strcmp(file + len - 4, ".pem") == 0)
        e = repo_lookup(repo, file, len - 4);
    if (e == NULL) {
        not_found(resp);
        return;
    }
    sti_httpd_add_header(resp, "ETag", e->etag);
    sti_httpd_add_header(resp, "Last-Modified", e->last_modified);
    sti_httpd_add_header(resp, "Cache-Control", repo->cache_control);
    fresh = not_modified(req, e);
    sti_httpd_set_status(resp, fresh ? 304 : 200);
    send_entry(resp, e, fresh ? NULL : PEM_TYPE);
}

/* API */

static int status_of(int code)
{
    switch (code) {
    case STI_ERR_INVALID:
        return 400;
    case STI_ERR_POLICY:
        return 422;
    case STI_ERR_NOTFOUND:
        return 404;
    case STI_ERR_AUTH:
        return 401;
    case STI_ERR_EXISTS:
        return 409;
    default:
        return 500;
    }
}

/* Size of the description of who made an API request, such as
 * "client certificate NAME". */
#define WHO_MAX (STI_REPO_NAME_MAX + 32)

/* Accepts a bearer token (RFC 6750) that sti-cr issued.  Fills WHO and the
 * access-log note; never logs the token itself. */
static int token_valid(struct sti_repo *repo, const char *auth,
                       struct sti_httpd_response *resp, char *who)
{
    char name[STI_REPO_NAME_MAX + 1], note[STI_REPO_NAME_MAX + 16];
    struct sti_error err;

    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
        sti_repo_token_check(repo, auth + 7 + strspn(auth + 7, " "), name,
                             &err) != STI_OK)
        return 0;
    snprintf(who, WHO_MAX, "token %s", name);
    snprintf(note, sizeof(note), "auth=token:%s", name);
    sti_httpd_set_log_note(resp, note);
    return 1;
}

/* Accepts a client certificate that the server verified and that is
 * registered with 'sti-cr client add'. */
static int client_cert_valid(struct sti_repo *repo,
                             const struct sti_httpd_request *req,
                             struct sti_httpd_response *resp, char *who)
{
    const char *sha = sti_httpd_client_cert_sha256(req);
    char name[STI_REPO_NAME_MAX + 1], note[STI_REPO_NAME_MAX + 16];
    struct sti_error err;

    if (sha == NULL || sti_repo_client_check(repo, sha, name, &err) != STI_OK)
        return 0;
    snprintf(who, WHO_MAX, "client certificate %s", name);
    snprintf(note, sizeof(note), "auth=cert:%s", name);
    sti_httpd_set_log_note(resp, note);
    return 1;
}

/* Sends 401, or 403 for a verified but unregistered certificate, naming
 * the reason.  A certificate problem is reported only without a token,
 * because a client that sends a token means to use it. */
static void reject(const struct sti_httpd_request *req,
                   struct sti_httpd_response *resp, const char *header)
{
    const char *sha = sti_httpd_client_cert_sha256(req);
    const char *reason = sti_httpd_client_cert_error(req);
    /* RFC 6750 section 3.1: a request with another scheme, such as Basic,
     * lacks bearer credentials and gets no error code. */
    const char *auth = header != NULL && strncasecmp(header, "Bearer ", 7) == 0
                           ? header
                           : NULL;
    char msg[400];

    if (auth == NULL && sha != NULL) {
        snprintf(msg, sizeof(msg),
                 "the client certificate with SHA-256 %s is not registered; "
                 "register it with 'sti-cr client add --cert FILE'",
                 sha);
        sti_log(STI_LOG_WARNING, "api: rejected %s: %s", sti_httpd_peer(req),
                msg);
        sti_httpd_set_log_note(resp, "auth=cert-unregistered");
        sti_httpd_send_error(resp, 403, NULL, msg);
        return;
    }
    sti_httpd_add_header(resp, "WWW-Authenticate",
                         auth ? "Bearer realm=\"sti-cr\", "
                                "error=\"invalid_token\""
                              : "Bearer realm=\"sti-cr\"");
    if (auth == NULL && reason != NULL) {
        snprintf(msg, sizeof(msg),
                 "the client certificate is not valid: %s; use a current "
                 "certificate issued by the server's client CA",
                 reason);
        sti_log(STI_LOG_WARNING, "api: rejected %s: %s", sti_httpd_peer(req),
                msg);
        sti_httpd_set_log_note(resp, "auth=cert-invalid");
    } else {
        snprintf(msg, sizeof(msg), "%s",
                 auth ? "the bearer token is not valid"
                      : "missing 'Authorization: Bearer TOKEN'; create a "
                        "token with 'sti-cr token add'");
        if (auth != NULL)
            sti_log(STI_LOG_WARNING, "api: rejected a token from %s",
                    sti_httpd_peer(req));
    }
    sti_httpd_send_error(resp, 401, NULL, msg);
}

/* Returns 1 when the request carries a valid bearer token or a verified,
 * registered client certificate.  Otherwise sends the error and returns 0. */
static int authorized(struct sti_repo *repo,
                      const struct sti_httpd_request *req,
                      struct sti_httpd_response *resp, char *who)
{
    const char *auth = sti_httpd_header(req, "Authorization");

    if (token_valid(repo, auth, resp, who) ||
        client_cert_valid(repo, req, resp, who))
        return 1;
    reject(req, resp, auth);
    return 0;
}

/* Extracts the chain text: a JSON body's "chain" member (and "name" when
 * NAME is NULL), or the raw body as PEM. */
static int request_chain(const struct sti_httpd_request *req, const char **name,
                         json_t **doc, const char **pem, size_t *len,
                         struct sti_error *err)
{
    const char *ct = sti_httpd_header(req, "Content-Type");
    const unsigned char *body = sti_httpd_body(req, len);
    json_error_t jerr;
    json_t *chain, *jname;

    *doc = NULL;
    *pem = (const char *)body;
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return *name ? STI_OK
                     : sti_seterr(err, STI_ERR_INVALID,
                                  "POST needs a JSON body "
                                  "{\"name\":..,\"chain\":..}");
    *doc = json_loadb((const char *)body, *len, JSON_REJECT_DUPLICATES, &jerr);
    if (*doc == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid JSON body at line %d: %s", jerr.line,
                          jerr.text);
    chain = json_object_get(*doc, "chain");
    jname = json_object_get(*doc, "name");
    if (!json_is_string(chain))
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JSON body needs a string member \"chain\" "
                          "with the PEM chain");
    if (*name == NULL && !json_is_string(jname))
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JSON body needs a string member \"name\"");
    /* A PUT names the chain in its URL; a different "name" in the body
     * is a client error, not a second name to ignore. */
    if (*name != NULL && jname != NULL &&
        (!json_is_string(jname) || strcmp(json_string_value(jname), *name)))
        return sti_seterr(err, STI_ERR_INVALID,
                          "the JSON body's \"name\" differs from the name "
                          "'%s' in the URL; drop it or make them equal",
                          *name);
    if (*name == NULL)
        *name = json_string_value(jname);
    *pem = json_string_value(chain);
    *len = json_string_length(chain);
    return STI_OK;
}

static void api_publish(struct sti_repo *repo,
                        const struct sti_httpd_request *req,
                        struct sti_httpd_response *resp, const char *name,
                        const char *who)
{
    struct sti_error err;
    json_t *doc = NULL;
    const char *pem;
    size_t len;
    int replaced = 0, rc;
    char url[STI_REPO_NAME_MAX + 600];

    rc = request_chain(req, &name, &doc, &pem, &len, &err);
    if (rc == STI_OK)
        rc = sti_repo_publish(repo, name, pem, len, &replaced, &err);
    if (rc != STI_OK) {
        char name_text[STI_REPO_NAME_MAX * 4 + 1];

        /* A rejected name may hold any bytes; keep them out of the log. */
        sti_escape(name ? name : "-", name ? strlen(name) : 1, name_text,
                   sizeof(name_text));
        sti_log(STI_LOG_WARNING,
                "api: rejected the chain for '%.128s' from "
                "%s: %s",
                name_text, who, err.message);
        sti_httpd_send_error(resp, status_of(rc), NULL, err.message);
        json_decref(doc);
        return;
    }
    sti_log(STI_LOG_INFO, "api: %s %s chain '%s'", who,
            replaced ? "replaced" : "published", name);
    snprintf(url, sizeof(url), "%s/certs/%s.pem", sti_httpd_base_url(req),
             name);
    if (!replaced)
        sti_httpd_add_header(resp, "Location", url);
    httpd_send_json(resp, replaced ? 200 : 201,
                    json_pack("{s:s,s:s,s:s,s:b}", "status", "success", "name",
                              name, "url", url, "replaced", replaced));
    json_decref(doc);
}

static void api_info(struct sti_repo *repo, const struct sti_httpd_request *req,
                     struct sti_httpd_response *resp, const char *name)
{
    struct repo_entry *e = repo_lookup(repo, name, strlen(name));
    char url[STI_REPO_NAME_MAX + 600], modified[32], not_after[32];
    struct tm tm;

    if (e == NULL) {
        sti_httpd_send_error(resp, 404, NULL, "no chain with that name");
        return;
    }
    snprintf(url, sizeof(url), "%s/certs/%s.pem", sti_httpd_base_url(req),
             name);
    /* The same member names and time format as the list. */
    gmtime_r(&e->modified, &tm);
    strftime(modified, sizeof(modified), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&e->not_after, &tm);
    strftime(not_after, sizeof(not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
    httpd_send_json(resp, 200,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "name", e->name,
                              "url", url, "etag", e->etag, "modified", modified,
                              "not_after", not_after, "certificates",
                              (json_int_t)e->count, "size",
                              (json_int_t)e->size));
    repo_entry_unref(e);
}

static void api_remove(struct sti_repo *repo, struct sti_httpd_response *resp,
                       const char *name, const char *who)
{
    struct sti_error err;
    int rc = sti_repo_remove(repo, name, &err);

    if (rc != STI_OK) {
        sti_httpd_send_error(resp, status_of(rc), NULL, err.message);
        return;
    }
    sti_log(STI_LOG_INFO, "api: %s removed chain '%s'", who, name);
    httpd_send_json(resp, 200,
                    json_pack("{s:s,s:s}", "status", "success", "name", name));
}

static void api_list(struct sti_repo *repo, const struct sti_httpd_request *req,
                     struct sti_httpd_response *resp)
{
    struct sti_error err;
    char *json;

    if (sti_repo_list_json(repo, sti_httpd_base_url(req), &json, &err) !=
        STI_OK) {
        sti_httpd_send_error(resp, 500, NULL, err.message);
        return;
    }
    sti_httpd_set_body(resp, "application/json", json, strlen(json));
    free(json);
}

/*
 * Returns 1 when REST names no chain that could exist, which gets 404
 * before the credentials are checked.  A PUT with such a name goes on to
 * sti_repo_publish(), whose 400 states the naming rule.
 */
static int invalid_name_not_found(const char *method, const char *rest)
{
    return rest[0] == '/' && !sti_repo_name_valid(rest + 1) &&
           strcmp(method, "PUT") != 0;
}

static void serve_api(struct sti_repo *repo,
                      const struct sti_httpd_request *req,
                      struct sti_httpd_response *resp, const char *rest)
{
    const char *m = sti_httpd_method(req);
    char who[WHO_MAX];

    if (invalid_name_not_found(m, rest)) {
        not_found(resp);
        return;
    }
    if (!authorized(repo, req, resp, who))
        return;
    if (rest[0] == '\0') {
        if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
            api_list(repo, req, resp);
        else if (strcmp(m, "POST") == 0)
            api_publish(repo, req, resp, NULL, who);
        else
            method_not_allowed(resp, "GET, HEAD, POST");
        return;
    }
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        api_info(repo, req, resp, rest + 1);
    else if (strcmp(m, "PUT") == 0)
        api_publish(repo, req, resp, rest + 1, who);
    else if (strcmp(m, "DELETE") == 0)
        api_remove(repo, resp, rest + 1, who);
    else
        method_not_allowed(resp, "GET, HEAD, PUT, DELETE");
}

void sti_repo_handle(void *arg, const struct sti_httpd_request *req,
                     struct sti_httpd_response *resp)
{
    struct sti_repo *repo = arg;
    const char *path = sti_httpd_path(req);

    if (strncmp(path, CERTS_PREFIX, sizeof(CERTS_PREFIX) - 1) == 0) {
        serve_chain(repo, req, resp, path + sizeof(CERTS_PREFIX) - 1);
        return;
    }
    if (!repo->disable_api &&
        strncmp(path, API_PREFIX, sizeof(API_PREFIX) - 1) == 0 &&
        (path[sizeof(API_PREFIX) - 1] == '\0' ||
         path[sizeof(API_PREFIX) - 1] == '/')) {
        serve_api(repo, req, resp, path + sizeof(API_PREFIX) - 1);
        return;
    }
    not_found(resp);
}

void sti_repo_handle_expect(void *arg, const struct sti_httpd_request *req,
                            struct sti_httpd_response *resp)
{
    struct sti_repo *repo = arg;
    const char *path = sti_httpd_path(req);
    const char *rest = path + sizeof(API_PREFIX) - 1;
    char who[WHO_MAX];

    /* serve_api() sends 404 for these whatever the credentials. */
    if (repo->disable_api ||
        strncmp(path, API_PREFIX, sizeof(API_PREFIX) - 1) != 0 ||
        (rest[0] != '\0' && rest[0] != '/') ||
        invalid_name_not_found(sti_httpd_method(req), rest))
        return;
    /* A valid credential leaves RESP without a status, so the body is
     * read and sti_repo_handle() checks the credential again. */
    (void)authorized(repo, req, resp, who);
}
