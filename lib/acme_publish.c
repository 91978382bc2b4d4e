/* Publishing an issued chain to an STI-CR through its HTTP API. */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

static int publish_reply(const struct sti_http_response *resp, const char *url,
                         char **x5u, struct sti_error *err)
{
    json_t *doc = json_loads((const char *)resp->body, 0, NULL);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    const char *served = json_string_value(json_object_get(doc, "url"));
    int rc = STI_OK;

    if (resp->status != 200 && resp->status != 201)
        rc = sti_seterr(err,
                        resp->status == 401 || resp->status == 403
                            ? STI_ERR_AUTH
                            : STI_ERR_POLICY,
                        "STI-CR at %s rejected the chain (HTTP %ld): %s", url,
                        resp->status, msg ? msg : "no message");
    else if (served == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "STI-CR reply from %s has no \"url\"", url);
    else if ((*x5u = strdup(served)) == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    json_decref(doc);
    return rc;
}

int sti_acme_cr_publish(const char *cr_url, const char *token, const char *name,
                        const char *chain_pem,
                        const struct sti_http_options *http, char **x5u,
                        struct sti_error *err)
{
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    struct sti_http_options opts;
    struct sti_http_response *resp = NULL;
    char url[ACME_URL_MAX], *auth = NULL, *body = NULL;
    json_t *doc;
    int rc;

    *x5u = NULL;
    if (cr_url == NULL || token == NULL || chain_pem == NULL ||
        !sti_repo_name_valid(name))
        return sti_seterr(err, STI_ERR_INVALID,
                          "publishing needs the STI-CR URL, an API token, a "
                          "chain and a valid name (got '%.64s')",
                          name ? name : "");
    snprintf(url, sizeof(url), "%s/api/v1/chains/%s", cr_url, name);
    doc = json_pack("{s:s}", "chain", chain_pem);
    body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (body == NULL ||
        asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
        free(body);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    headers[1] = auth;
    memset(&opts, 0, sizeof(opts));
    if (http != NULL)
        opts = *http;
    opts.headers = headers;
    rc = sti_http_request("PUT", url, body, strlen(body), &opts, &resp, err);
    sti_clear_free(auth, strlen(auth));
    free(body);
    if (rc == STI_OK)
        rc = publish_reply(resp, url, x5u, err);
    sti_http_response_free(resp);
    return rc;
}
