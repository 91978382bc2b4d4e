/*
 * The PA's HTTP API, in the shape deployed policy administrators use:
 * JSON bodies, bearer access tokens from /api/v1/auth/login, and every
 * error as {"status":"error","message":...} with a matching status code.
 */
#include "pa_int.h"
#include "httpd_json_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define API_PREFIX "/api/v1"
#define ACCOUNT_PREFIX API_PREFIX "/account/"

/* Maps a library status to the HTTP status of the API's error body. */
static int http_status(int rc)
{
    switch (rc) {
    case STI_ERR_INVALID:
        return 400;
    case STI_ERR_AUTH:
        return 401;
    case STI_ERR_POLICY:
        return 403;
    case STI_ERR_NOTFOUND:
        return 404;
    case STI_ERR_EXISTS:
        return 409;
    default:
        return 500;
    }
}

static void send_failure(struct sti_httpd_response *resp, int rc,
                         const struct sti_error *err)
{
    int status = http_status(rc);

    if (status == 500) {
        /* The detail may name files or SQL; it goes to the log only. */
        sti_log(STI_LOG_ERR, "request failed: %s", err->message);
        sti_httpd_send_error(resp, 500, NULL, "internal error; see the log");
        return;
    }
    sti_httpd_send_error(resp, status, NULL, err->message);
}

/* Parses the request body as a JSON object; on failure sends 400 and
 * returns NULL. */
static json_t *read_object(const struct sti_httpd_request *req,
                           struct sti_httpd_response *resp)
{
    size_t len = 0;
    const unsigned char *body = sti_httpd_body(req, &len);
    json_error_t jerr;
    json_t *root;
    char msg[256];

    if (body == NULL || len == 0) {
        sti_httpd_send_error(resp, 400, NULL,
                             "the request has no body; send a JSON object");
        return NULL;
    }
    root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(msg, sizeof(msg), "malformed JSON at line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        sti_httpd_send_error(resp, 400, NULL, msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        sti_httpd_send_error(resp, 400, NULL,
                             "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* Returns the string member NAME, or sends 400 naming it and returns
 * NULL. */
static const char *member_string(json_t *obj, const char *name,
                                 const char *where,
                                 struct sti_httpd_response *resp)
{
    json_t *v = json_object_get(obj, name);
    char msg[160];

    if (json_is_string(v) && json_string_length(v) > 0 &&
        strlen(json_string_value(v)) == json_string_length(v))
        return json_string_value(v);
    snprintf(msg, sizeof(msg), "%s%s is %s; expected a non-empty string", where,
             name, v == NULL ? "missing" : "of the wrong type");
    sti_httpd_send_error(resp, 400, NULL, msg);
    return NULL;
}

/* Authentication */

static int bearer_user(struct sti_pa *pa, const struct sti_httpd_request *req,
                       struct sti_httpd_response *resp, struct pa_user *user)
{
    const char *auth = sti_httpd_header(req, "Authorization");
    struct sti_error err;

    sti_error_clear(&err);
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
        auth[7] == '\0') {
        sti_httpd_add_header(resp, "WWW-Authenticate", "Bearer");
        sti_httpd_send_error(resp, 401, NULL,
                             "missing access token; send 'Authorization: "
                             "Bearer TOKEN' from /api/v1/auth/login");
        return -1;
    }
    if (pa_access_token_check(pa, auth + 7, user, &err) != STI_OK) {
        sti_httpd_add_header(resp, "WWW-Authenticate",
                             "Bearer error=\"invalid_token\"");
        send_failure(resp, err.code, &err);
        return -1;
    }
    return 0;
}

static int throttled(struct sti_pa *pa, const char *user_key,
                     const char *ip_key, struct sti_httpd_response *resp)
{
    long left = pa_throttle_check(pa, user_key, pa->login_max_failures);
    long ip_left = pa_throttle_check(pa, ip_key, 4 * pa->login_max_failures);
    char value[32], msg[160];

    if (ip_left > left)
        left = ip_left;
    if (left <= 0)
        return 0;
    snprintf(value, sizeof(value), "%ld", left);
    snprintf(msg, sizeof(msg), "too many failed logins; retry in %ld seconds",
             left);
    sti_httpd_add_header(resp, "Retry-After", value);
    sti_httpd_send_error(resp, 429, NULL, msg);
    return 1;
}

static void login_success(struct sti_pa *pa, const struct pa_user *user,
                          struct sti_httpd_response *resp)
{
    char *token = NULL, stamp[32];
    time_t expires = 0;
    struct tm tm;
    struct sti_error err;
    int rc = pa_access_token_create(pa, user, &token, &expires, &err);

    if (rc != STI_OK) {
        send_failure(resp, rc, &err);
        return;
    }
    gmtime_r(&expires, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    httpd_send_json(resp, 200,
                    json_pack("{s:s, s:s, s:s, s:I, s:s}", "status", "success",
                              "accessToken", token, "expiresAt", stamp,
                              "expires_in", (json_int_t)pa->access_lifetime,
                              "tokenType", "Bearer"));
    sti_clear_free(token, strlen(token));
}

static void api_login(struct sti_pa *pa, const struct sti_httpd_request *req,
                      struct sti_httpd_response *resp)
{
    json_t *body = read_object(req, resp);
    const char *name, *password;
    char user_key[96], ip_key[96];
    struct pa_user user;
    struct sti_error err;

    if (body == NULL)
        return;
    name = member_string(body, "username", "", resp);
    password = name ? member_string(body, "password", "", resp) : NULL;
    if (password == NULL)
        goto out;
    snprintf(user_key, sizeof(user_key), "u:%s", name);
    snprintf(ip_key, sizeof(ip_key), "ip:%s", sti_httpd_peer(req));
    if (throttled(pa, user_key, ip_key, resp))
        goto out;
    if (pa_user_login(pa, name, password, &user, &err) != STI_OK) {
        pa_throttle_fail(pa, user_key);
        pa_throttle_fail(pa, ip_key);
        sti_log(STI_LOG_WARNING, "failed login for user '%.64s' from %s", name,
                sti_httpd_peer(req));
        send_failure(resp, err.code, &err);
        goto out;
    }
    pa_throttle_reset(pa, user_key);
    pa_throttle_reset(pa, ip_key);
    sti_log(STI_LOG_INFO, "user %s logged in from %s", user.name,
            sti_httpd_peer(req));
    login_success(pa, &user, resp);
out:
    json_decref(body);
}

/* SPC tokens */

/* Checks that TKVALUE is a base64 TNAuthList holding exactly SPC. */
static int check_tkvalue(const char *tkvalue, const char *spc,
                         struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct sti_tnauth *tn = NULL;
    struct sti_error detail;
    const char *got;
    int rc;

    if (sti_b64_decode(tkvalue, strlen(tkvalue), &der, &len) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "atc.tkvalue '%.60s' is not base64", tkvalue);
    rc = sti_tnauth_decode(der, len, &tn, &detail);
    free(der);
    if (rc != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "atc.tkvalue is not a DER TNAuthList: %s",
                          detail.message);
    got = sti_tnauth_get0_spc(tn);
    if (got == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "atc.tkvalue must hold exactly one SPC entry");
    else if (strcmp(got, spc) != 0)
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "atc.tkvalue names SPC %s but the account is %s", got,
                        spc);
    sti_tnauth_free(tn);
    return rc;
}

/* Reads {"atc":{...}}; on failure sends the error and returns -1. */
static int read_atc(json_t *body, const char *spc, const char **fingerprint,
                    int *ca, struct sti_httpd_response *resp)
{
    json_t *atc = json_object_get(body, "atc"), *cav;
    const char *tktype, *tkvalue;
    struct sti_error err;

    if (!json_is_object(atc)) {
        sti_httpd_send_error(resp, 400, NULL,
                             "atc is missing or not an object");
        return -1;
    }
    tktype = member_string(atc, "tktype", "atc.", resp);
    tkvalue = tktype ? member_string(atc, "tkvalue", "atc.", resp) : NULL;
    *fingerprint =
        tkvalue ? member_string(atc, "fingerprint", "atc.", resp) : NULL;
    if (*fingerprint == NULL)
        return -1;
    cav = json_object_get(atc, "ca");
    if (cav != NULL && !json_is_boolean(cav)) {
        sti_httpd_send_error(resp, 400, NULL, "atc.ca must be a boolean");
        return -1;
    }
    *ca = json_is_true(cav);
    if (strcmp(tktype, "TNAuthList") != 0) {
        sti_httpd_send_error(resp, 400, NULL,
                             "atc.tktype must be \"TNAuthList\"");
        return -1;
    }
    if (check_tkvalue(tkvalue, spc, &err) != STI_OK) {
        send_failure(resp, err.code, &err);
        return -1;
    }
    return 0;
}

/* Checks that the account in the path exists and belongs to USER. */
static int check_account(struct sti_pa *pa, const char *spc,
                         const struct pa_user *user,
                         struct sti_httpd_response *resp)
{
    int64_t id;
    int enabled, delegation, rc;
    struct sti_error err;
    char msg[160];

    pthread_mutex_lock(&pa->lock);
    rc = pa_provider_find(pa, spc, &id, &enabled, &delegation, &err);
    pthread_mutex_unlock(&pa->lock);
    if (rc == STI_ERR_NOTFOUND) {
        snprintf(msg, sizeof(msg), "unknown account '%.40s'", spc);
        sti_httpd_send_error(resp, 404, NULL, msg);
        return -1;
    }
    if (rc != STI_OK) {
        send_failure(resp, rc, &err);
        return -1;
    }
    if (user->admin || strcmp(user->spc, spc) != 0) {
        snprintf(msg, sizeof(msg),
                 "user %.64s may not request tokens for account %.40s",
                 user->name, spc);
        sti_httpd_send_error(resp, 403, NULL, msg);
        return -1;
    }
    return 0;
}

static void token_success(struct sti_pa *pa, const char *spc, const char *token,
                          struct sti_httpd_response *resp)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "SPC token issued for %s", spc);
    httpd_send_json(resp, 200,
                    json_pack("{s:s, s:s, s:s, s:s}", "status", "success",
                              "message", msg, "token", token, "crl",
                              pa->crl_url ? pa->crl_url : ""));
}

static void api_token(struct sti_pa *pa, const char *spc,
                      const struct sti_httpd_request *req,
                      struct sti_httpd_response *resp)
{
    struct pa_user user;
    json_t *body = NULL;
    const char *fingerprint = NULL;
    char *token = NULL;
    struct sti_error err;
    int ca = 0, rc;

    if (bearer_user(pa, req, resp, &user) != 0 ||
        check_account(pa, spc, &user, resp) != 0)
        return;
    body = read_object(req, resp);
    if (body == NULL || read_atc(body, spc, &fingerprint, &ca, resp) != 0)
        goto out;
    rc = sti_pa_token_issue(pa, spc, fingerprint, ca, user.name, &token, &err);
    if (rc != STI_OK) {
        send_failure(resp, rc, &err);
        goto out;
    }
    sti_log(STI_LOG_INFO, "issued an SPC token for %s to user %s (ca:%s)", spc,
            user.name, ca ? "true" : "false");
    token_success(pa, spc, token, resp);
out:
    free(token);
    json_decref(body);
}

/* Revocation */

static int parse_reason(json_t *body, int *reason,
                        struct sti_httpd_response *resp)
{
    json_t *v = json_object_get(body, "reason");

    *reason = STI_REASON_UNSPECIFIED;
    if (v == NULL)
        return 0;
    if (json_is_integer(v))
        *reason = (int)json_integer_value(v);
    else if (json_is_string(v))
        *reason = sti_crl_reason_from_name(json_string_value(v));
    else
        *reason = -1;
    if (*reason < 0 || *reason > 10) {
        sti_httpd_send_error(resp, 400, NULL,
                             "reason must be an RFC 5280 reason name such as "
                             "\"keyCompromise\", or its code");
        return -1;
    }
    return 0;
}

static int revoke_from_body(struct sti_pa *pa, json_t *body, int reason,
                            struct sti_httpd_response *resp,
                            struct sti_error *err)
{
    json_t *pem = json_object_get(body, "certificate");
    const char *issuer, *serial;
    struct sti_cert *cert = NULL;
    int rc;

    if (pem != NULL) {
        if (!json_is_string(pem))
            return sti_seterr(err, STI_ERR_INVALID,
                              "certificate must be a PEM string");
        rc = sti_cert_parse(json_string_value(pem), json_string_length(pem),
                            &cert, err);
        if (rc == STI_OK)
            rc = sti_pa_revoke_cert(pa, cert, reason, err);
        sti_cert_free(cert);
        return rc;
    }
    issuer = member_string(body, "issuer", "", resp);
    serial = issuer ? member_string(body, "serial", "", resp) : NULL;
    if (serial == NULL)
        return -1; /* the response is already set */
    return sti_pa_revoke(pa, issuer, serial, reason, err);
}

static void revoke_success(struct sti_pa *pa, const char *admin,
                           struct sti_httpd_response *resp)
{
    struct sti_crl *crl = NULL;
    struct sti_error err;
    json_int_t number = 0;

    if (sti_pa_crl_get(pa, &crl, &err) == STI_OK)
        number = (json_int_t)sti_crl_number(crl);
    sti_crl_free(crl);
    sti_log(STI_LOG_INFO, "administrator %s revoked a certificate; CRL %lld",
            admin, (long long)number);
    httpd_send_json(
        resp, 201,
        json_pack("{s:s, s:s, s:s, s:I}", "status", "success", "message",
                  "certificate revoked; the CRL is updated", "crl",
                  pa->crl_url ? pa->crl_url : "", "crlNumber", number));
}

static void api_revoke(struct sti_pa *pa, const struct sti_httpd_request *req,
                       struct sti_httpd_response *resp)
{
    struct pa_user user;
    json_t *body;
    struct sti_error err;
    int reason, rc;

    if (bearer_user(pa, req, resp, &user) != 0)
        return;
    if (!user.admin) {
        sti_httpd_send_error(resp, 403, NULL,
                             "only administrators may revoke certificates");
        return;
    }
    body = read_object(req, resp);
    if (body == NULL)
        return;
    if (parse_reason(body, &reason, resp) == 0) {
        sti_error_clear(&err);
        rc = revoke_from_body(pa, body, reason, resp, &err);
        if (rc == STI_OK)
            revoke_success(pa, user.name, resp);
        else if (rc > 0)
            send_failure(resp, rc, &err);
    }
    json_decref(body);
}

/* Published documents */

static void api_calist(struct sti_pa *pa, struct sti_httpd_response *resp)
{
    char *jws = NULL;
    struct sti_error err;
    int rc = sti_pa_calist_document(pa, &jws, &err);

    if (rc != STI_OK) {
        send_failure(resp, rc, &err);
        return;
    }
    httpd_send_json(
        resp, 200, json_pack("{s:s, s:s}", "status", "success", "caList", jws));
    free(jws);
}

static int wants_pem(const struct sti_httpd_request *req,
                     struct sti_httpd_response *resp)
{
    const char *format = sti_httpd_query(req, "format");
    const char *accept = sti_httpd_header(req, "Accept");

    if (format != NULL) {
        if (strcmp(format, "pem") == 0)
            return 1;
        if (strcmp(format, "der") == 0)
            return 0;
        sti_httpd_send_error(resp, 400, NULL,
                             "format must be \"der\" or \"pem\"");
        return -1;
    }
    return accept != NULL && strstr(accept, "application/x-pem-file") != NULL;
}

static void api_crl(struct sti_pa *pa, const struct sti_httpd_request *req,
                    struct sti_httpd_response *resp)
{
    struct sti_crl *crl = NULL;
    struct sti_error err;
    unsigned char *der = NULL;
    char *pem = NULL;
    size_t len = 0;
    int pem_wanted = wants_pem(req, resp);
    int rc;

    if (pem_wanted < 0)
        return;
    rc = sti_pa_crl_get(pa, &crl, &err);
    if (rc == STI_OK && pem_wanted)
        rc = sti_crl_to_pem(crl, &pem, &err);
    else if (rc == STI_OK)
        rc = sti_crl_to_der(crl, &der, &len, &err);
    if (rc != STI_OK)
        send_failure(resp, rc, &err);
    else if (pem_wanted)
        sti_httpd_set_body(resp, "application/x-pem-file", pem, strlen(pem));
    else
        sti_httpd_set_body(resp, "application/pkix-crl", der, len);
    if (rc == STI_OK)
        sti_httpd_set_status(resp, 200);
    free(pem);
    free(der);
    sti_crl_free(crl);
}

static void api_cert(struct sti_pa *pa, struct sti_httpd_response *resp)
{
    sti_httpd_set_status(resp, 200);
    sti_httpd_set_body(resp, "application/pem-certificate-chain", pa->cert_pem,
                       strlen(pa->cert_pem));
}

/* Routing */

enum route {
    ROUTE_NONE,
    ROUTE_LOGIN,
    ROUTE_TOKEN,
    ROUTE_CALIST,
    ROUTE_CRL,
    ROUTE_CERT,
    ROUTE_REVOKE
};

/* Matches /api/v1/account/{id}/token and copies {id} into ID. */
static int match_account(const char *path, char *id, size_t size)
{
    const char *start, *slash;
    size_t n;

    if (strncmp(path, ACCOUNT_PREFIX, strlen(ACCOUNT_PREFIX)) != 0)
        return 0;
    start = path + strlen(ACCOUNT_PREFIX);
    slash = strchr(start, '/');
    if (slash == NULL || strcmp(slash, "/token") != 0)
        return 0;
    n = (size_t)(slash - start);
    if (n == 0 || n >= size)
        return 0;
    memcpy(id, start, n);
    id[n] = '\0';
    return 1;
}

static enum route find_route(const char *path, char *id, size_t size,
                             const char **allowed)
{
    *allowed = "POST";
    if (strcmp(path, API_PREFIX "/auth/login") == 0)
        return ROUTE_LOGIN;
    if (strcmp(path, API_PREFIX "/revocations") == 0)
        return ROUTE_REVOKE;
    if (match_account(path, id, size))
        return ROUTE_TOKEN;
    *allowed = "GET, HEAD";
    if (strcmp(path, API_PREFIX "/ca-list") == 0)
        return ROUTE_CALIST;
    if (strcmp(path, API_PREFIX "/crl") == 0)
        return ROUTE_CRL;
    if (strcmp(path, "/" STI_PA_CERT_FILE) == 0)
        return ROUTE_CERT;
    return ROUTE_NONE;
}

static void not_allowed(const char *method, const char *allowed,
                        struct sti_httpd_response *resp)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "method %.16s is not allowed here; use %s",
             method, allowed);
    sti_httpd_add_header(resp, "Allow", allowed);
    sti_httpd_send_error(resp, 405, NULL, msg);
}

void sti_pa_http_handler(void *arg, const struct sti_httpd_request *req,
                         struct sti_httpd_response *resp)
{
    struct sti_pa *pa = arg;
    const char *method = sti_httpd_method(req);
    const char *allowed;
    char id[64];
    enum route route =
        find_route(sti_httpd_path(req), id, sizeof(id), &allowed);

    if (route == ROUTE_NONE) {
        sti_httpd_send_error(resp, 404, NULL, "no such resource");
        return;
    }
    /* RFC 9110 section 9.3.2: HEAD is allowed wherever GET is, and is
     * handled like GET because libmicrohttpd leaves the body out. */
    if (strcmp(method, allowed) != 0 &&
        !(strcmp(allowed, "GET, HEAD") == 0 &&
          (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))) {
        not_allowed(method, allowed, resp);
        return;
    }
    switch (route) {
    case ROUTE_LOGIN:
        api_login(pa, req, resp);
        break;
    case ROUTE_TOKEN:
        api_token(pa, id, req, resp);
        break;
    case ROUTE_REVOKE:
        api_revoke(pa, req, resp);
        break;
    case ROUTE_CALIST:
        api_calist(pa, resp);
        break;
    case ROUTE_CRL:
        api_crl(pa, req, resp);
        break;
    case ROUTE_CERT:
        api_cert(pa, resp);
        break;
    default:
        sti_httpd_send_error(resp, 404, NULL, "no such resource");
    }
}
