/*
 * The STI-PA calls an ACME client makes before its order: log in, then
 * ask for an SPC token bound to the ACME account key.
 */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

/* POSTs a JSON object and returns the parsed reply object on 200. */
static int pa_post(const char *url, json_t *body, const char *bearer,
                   const struct sti_http_options *http, json_t **out,
                   struct sti_error *err)
{
    struct sti_http_options opts;
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    char *auth = NULL, *text = json_dumps(body, JSON_COMPACT);
    struct sti_http_response *resp = NULL;
    const char *msg;
    int rc;

    *out = NULL;
    if (text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (bearer != NULL &&
        asprintf(&auth, "Authorization: Bearer %s", bearer) > 0)
        headers[1] = auth;
    memset(&opts, 0, sizeof(opts));
    if (http != NULL)
        opts = *http;
    opts.headers = headers;
    rc = sti_http_request("POST", url, text, strlen(text), &opts, &resp, err);
    sti_clear_free(text, strlen(text));
    if (auth != NULL)
        sti_clear_free(auth, strlen(auth));
    if (rc != STI_OK)
        return rc;
    *out = json_loads((const char *)resp->body, 0, NULL);
    msg = json_string_value(json_object_get(*out, "message"));
    if (resp->status != 200 || !json_is_object(*out)) {
        rc = sti_seterr(err,
                        resp->status == 401 || resp->status == 403
                            ? STI_ERR_AUTH
                            : STI_ERR_POLICY,
                        "%s returned HTTP %ld: %s", url, resp->status,
                        msg ? msg : "no message");
        json_decref(*out);
        *out = NULL;
    }
    sti_http_response_free(resp);
    return rc;
}

static int pa_login(const char *pa_url, const char *user, const char *password,
                    const struct sti_http_options *http, char **access,
                    struct sti_error *err)
{
    char url[ACME_URL_MAX];
    json_t *body =
        json_pack("{s:s, s:s}", "username", user, "password", password);
    json_t *reply = NULL;
    const char *token;
    int rc;

    *access = NULL;
    snprintf(url, sizeof(url), "%s/api/v1/auth/login", pa_url);
    rc = body ? pa_post(url, body, NULL, http, &reply, err)
              : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    json_decref(body);
    if (rc != STI_OK)
        return rc;
    token = json_string_value(json_object_get(reply, "accessToken"));
    if (token == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "login reply from %s has no accessToken", url);
    else
        *access = strdup(token);
    json_decref(reply);
    return rc;
}

static json_t *atc_body(const struct sti_tnauth *tnauth, int is_ca,
                        const char *fingerprint, struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64 = NULL;
    json_t *body = NULL;

    if (sti_tnauth_encode(tnauth, &der, &len, err) != STI_OK)
        return NULL;
    b64 = sti_b64_encode(der, len);
    if (b64 != NULL)
        body =
            json_pack("{s:{s:s, s:s, s:b, s:s}}", "atc", "tktype", "TNAuthList",
                      "tkvalue", b64, "ca", is_ca, "fingerprint", fingerprint);
    free(der);
    free(b64);
    if (body == NULL)
        sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    return body;
}

int sti_acme_pa_token(const char *pa_url, const char *account_id,
                      const char *user, const char *password,
                      const struct sti_tnauth *tnauth, int is_ca,
                      const char *fingerprint,
                      const struct sti_http_options *http, char **token,
                      struct sti_error *err)
{
    char url[ACME_URL_MAX], *access = NULL;
    json_t *body, *reply = NULL;
    const char *value;
    int rc;

    *token = NULL;
    if (pa_url == NULL || account_id == NULL || user == NULL ||
        password == NULL || tnauth == NULL || fingerprint == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token request needs the PA URL, account, "
                          "user, password, TNAuthList and fingerprint");
    body = atc_body(tnauth, is_ca, fingerprint, err);
    if (body == NULL)
        return err ? err->code : STI_ERR_NOMEM;
    rc = pa_login(pa_url, user, password, http, &access, err);
    snprintf(url, sizeof(url), "%s/api/v1/account/%s/token", pa_url,
             account_id);
    if (rc == STI_OK)
        rc = pa_post(url, body, access, http, &reply, err);
    json_decref(body);
    if (access != NULL)
        sti_clear_free(access, strlen(access));
    if (rc != STI_OK)
        return rc;
    value = json_string_value(json_object_get(reply, "token"));
    if (value == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "token reply from %s has no \"token\"", url);
    else
        *token = strdup(value);
    json_decref(reply);
    return rc;
}
