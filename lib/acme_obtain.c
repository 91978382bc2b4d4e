/*
 * The client's order flow (RFC 8555 section 7.4, RFC 9447): newOrder, the
 * tkauth-01 challenge, polling, finalize and the chain download.
 */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Polls that get no Retry-After wait this long; longer hints are cut. */
#define POLL_DEFAULT_S 1
#define POLL_MAX_S 10

struct flow {
    struct sti_acme_client *client;
    const struct sti_acme_obtain_request *req;
    time_t deadline;
    int timeout_s;
    char *order_url;
    json_t *order;
};

void sti_acme_result_free(struct sti_acme_result *result)
{
    if (result == NULL)
        return;
    free(result->account_url);
    free(result->order_url);
    free(result->certificate_url);
    free(result->chain_pem);
    free(result->x5u);
    free(result);
}

char *sti_acme_result_to_json(const struct sti_acme_result *result)
{
    json_t *obj = json_object();
    char *text;

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "account", json_string(result->account_url));
    json_object_set_new(obj, "order", json_string(result->order_url));
    json_object_set_new(obj, "certificate",
                        json_string(result->certificate_url));
    json_object_set_new(obj, "x5u",
                        result->x5u ? json_string(result->x5u) : json_null());
    text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(obj);
    return text;
}

/* POSTs and parses a JSON reply; fails on any error status. */
static int post_json(struct flow *f, const char *url, const char *payload,
                     const char *what, json_t **obj, struct sti_acme_reply **r,
                     struct sti_error *err)
{
    int rc = sti_acme_client_post(f->client, url, payload, r, err);

    *obj = NULL;
    if (rc != STI_OK)
        return rc;
    if ((*r)->status < 200 || (*r)->status > 299)
        return acme_reply_error(*r, what, err);
    *obj = json_loads((*r)->body, 0, NULL);
    if (!json_is_object(*obj))
        return sti_seterr(err, STI_ERR_INVALID,
                          "%s: the CA returned no JSON object", what);
    return STI_OK;
}

/* Sleeps for the reply's Retry-After, within the deadline. */
static int poll_wait(struct flow *f, const struct sti_acme_reply *reply,
                     const char *what, const char *status,
                     struct sti_error *err)
{
    long wait = reply->retry_after >= 0 ? reply->retry_after : POLL_DEFAULT_S;

    if (wait > POLL_MAX_S)
        wait = POLL_MAX_S;
    if (wait < 1)
        wait = 1;
    if (time(NULL) + wait > f->deadline)
        return sti_seterr(err, STI_ERR_NET,
                          "timed out after %d s waiting for %s (still "
                          "\"%s\"); raise --timeout or check the CA's log",
                          f->timeout_s, what, status);
    sleep((unsigned int)wait);
    return STI_OK;
}

static char *identifier_value(const struct sti_tnauth *tnauth,
                              struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64;

    if (sti_tnauth_encode(tnauth, &der, &len, err) != STI_OK)
        return NULL;
    /* Standard base64, as the SPC token's tkvalue carries it. */
    b64 = sti_b64_encode(der, len);
    free(der);
    return b64;
}

static int new_order(struct flow *f, struct sti_error *err)
{
    struct sti_acme_reply *reply = NULL;
    char *value = identifier_value(f->req->tnauth, err);
    json_t *payload;
    char *text = NULL;
    int rc;

    if (value == NULL)
        return err ? err->code : STI_ERR_INVALID;
    payload = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "TNAuthList",
                        "value", value);
    free(value);
    if (payload != NULL)
        text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    if (text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = post_json(f, sti_acme_client_resource(f->client, "newOrder"), text,
                   "newOrder failed", &f->order, &reply, err);
    free(text);
    if (rc == STI_OK && reply->location == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "newOrder reply has no Location header");
    if (rc == STI_OK)
        f->order_url = strdup(reply->location);
    sti_acme_reply_free(reply);
    return rc;
}

static json_t *find_challenge(json_t *authz)
{
    size_t i;
    json_t *ch;

    json_array_foreach(json_object_get(authz, "challenges"), i, ch)
    {
        const char *type = json_string_value(json_object_get(ch, "type"));

        if (type != NULL && strcmp(type, "tkauth-01") == 0)
            return ch;
    }
    return NULL;
}

static int answer_challenge(struct flow *f, json_t *ch, struct sti_error *err)
{
    const char *url = json_string_value(json_object_get(ch, "url"));
    json_t *payload = json_pack("{s:s}", "tkauth", f->req->token);
    struct sti_acme_reply *reply = NULL;
    json_t *obj = NULL;
    char *text;
    int rc;

    text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (url == NULL || text == NULL) {
        free(text);
        return sti_seterr(err, STI_ERR_INVALID,
                          "tkauth-01 challenge has no url");
    }
    rc = post_json(f, url, text, "tkauth-01 challenge rejected", &obj, &reply,
                   err);
    free(text);
    json_decref(obj);
    sti_acme_reply_free(reply);
    return rc;
}

static int authz_error(json_t *authz, struct sti_error *err)
{
    json_t *ch = find_challenge(authz);
    json_t *e = json_object_get(ch, "error");

    return sti_seterr(err, STI_ERR_POLICY, "authorization failed: %s: %s",
                      json_string_value(json_object_get(e, "type"))
                          ? json_string_value(json_object_get(e, "type"))
                          : "no error given",
                      json_string_value(json_object_get(e, "detail"))
                          ? json_string_value(json_object_get(e, "detail"))
                          : "");
}

/* Responds to the challenge unless done, then waits for "valid". */
static int authorize(struct flow *f, const char *authz_url,
                     struct sti_error *err)
{
    int answered = 0;

    for (;;) {
        struct sti_acme_reply *reply = NULL;
        json_t *authz = NULL, *ch;
        const char *status;
        int rc = post_json(f, authz_url, "", "fetching authorization failed",
                           &authz, &reply, err);

        status = json_string_value(json_object_get(authz, "status"));
        ch = find_challenge(authz);
        if (rc == STI_OK && (status == NULL || ch == NULL))
            rc = sti_seterr(err, STI_ERR_INVALID,
                            "authorization %s offers no tkauth-01 challenge",
                            authz_url);
        else if (rc == STI_OK && strcmp(status, "valid") == 0)
            rc = -1;
        else if (rc == STI_OK && strcmp(status, "pending") != 0)
            rc = authz_error(authz, err);
        else if (rc == STI_OK && !answered) {
            rc = answer_challenge(f, ch, err);
            answered = 1;
        } else if (rc == STI_OK)
            rc = poll_wait(f, reply, "the authorization", status, err);
        json_decref(authz);
        sti_acme_reply_free(reply);
        if (rc != STI_OK)
            return rc == -1 ? STI_OK : rc;
    }
}

static const char *order_status(const struct flow *f)
{
    const char *status = json_string_value(json_object_get(f->order, "status"));

    return status ? status : "";
}

/* Re-reads the order until its status is WANT or a final one. */
static int order_wait(struct flow *f, const char *want, struct sti_error *err)
{
    struct sti_acme_reply *reply = NULL;
    int rc = STI_OK;

    while (rc == STI_OK && strcmp(order_status(f), want) != 0) {
        if (strcmp(order_status(f), "invalid") == 0 ||
            order_status(f)[0] == '\0') {
            rc = sti_seterr(err, STI_ERR_POLICY, "order %s is invalid",
                            f->order_url);
            break;
        }
        if (reply != NULL)
            rc = poll_wait(f, reply, "the order", order_status(f), err);
        sti_acme_reply_free(reply);
        reply = NULL;
        json_decref(f->order);
        f->order = NULL;
        if (rc == STI_OK)
            rc = post_json(f, f->order_url, "", "fetching order failed",
                           &f->order, &reply, err);
    }
    sti_acme_reply_free(reply);
    return rc;
}

static char *csr_payload(const struct sti_acme_obtain_request *req,
                         struct sti_error *err)
{
    struct sti_csr_request creq;
    struct sti_csr *csr = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char *b64 = NULL, *text = NULL;
    json_t *obj;

    memset(&creq, 0, sizeof(creq));
    creq.common_name = req->common_name;
    creq.organization = req->organization;
    creq.country = req->country;
    creq.tnauth = req->tnauth;
    creq.is_ca = req->is_ca;
    if (sti_csr_create(&creq, req->cert_key, &csr, err) == STI_OK &&
        sti_csr_to_der(csr, &der, &len, err) == STI_OK)
        b64 = sti_b64url_encode(der, len);
    sti_csr_free(csr);
    free(der);
    obj = b64 ? json_pack("{s:s}", "csr", b64) : NULL;
    free(b64);
    if (obj != NULL)
        text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

static int finalize(struct flow *f, struct sti_error *err)
{
    char *url =
        sti_strdup(json_string_value(json_object_get(f->order, "finalize")));
    struct sti_acme_reply *reply = NULL;
    char *payload;
    int rc;

    if (url == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "order has no finalize URL");
    payload = csr_payload(f->req, err);
    if (payload == NULL) {
        free(url);
        return err && err->code ? err->code : STI_ERR_NOMEM;
    }
    json_decref(f->order);
    rc = post_json(f, url, payload, "finalize failed", &f->order, &reply, err);
    free(url);
    free(payload);
    sti_acme_reply_free(reply);
    if (rc == STI_OK)
        rc = order_wait(f, "valid", err);
    return rc;
}

static int download(struct flow *f, struct sti_acme_result *res,
                    struct sti_error *err)
{
    const char *url =
        json_string_value(json_object_get(f->order, "certificate"));
    const char *x5u = json_string_value(json_object_get(f->order, "x5u"));
    struct sti_acme_reply *reply = NULL;
    int rc;

    if (url == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "valid order has no certificate URL");
    rc = sti_acme_client_post(f->client, url, "", &reply, err);
    if (rc != STI_OK)
        return rc;
    if (reply->status != 200 || reply->content_type == NULL ||
        strncmp(reply->content_type, "application/pem-certificate-chain", 33) !=
            0)
        rc = acme_reply_error(reply, "certificate download failed", err);
    else {
        res->chain_pem = strdup(reply->body);
        res->certificate_url = strdup(url);
        res->x5u = sti_strdup(x5u);
    }
    sti_acme_reply_free(reply);
    return rc;
}

static int obtain_steps(struct flow *f, struct sti_acme_result *res,
                        struct sti_error *err)
{
    const char *authz;
    int rc = new_order(f, err);

    if (rc != STI_OK)
        return rc;
    res->order_url = strdup(f->order_url);
    authz = json_string_value(
        json_array_get(json_object_get(f->order, "authorizations"), 0));
    if (authz == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "order %s lists no authorization", f->order_url);
    rc = authorize(f, authz, err);
    if (rc == STI_OK)
        rc = order_wait(f, "ready", err);
    if (rc == STI_OK)
        rc = finalize(f, err);
    if (rc == STI_OK)
        rc = download(f, res, err);
    return rc;
}

int sti_acme_obtain(struct sti_acme_client *client,
                    const struct sti_acme_obtain_request *req,
                    struct sti_acme_result **out, struct sti_error *err)
{
    struct sti_acme_result *res;
    struct flow f;
    int rc;

    *out = NULL;
    if (client->kid == NULL || req->tnauth == NULL || req->token == NULL ||
        req->cert_key == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "ACME order needs an account, a TNAuthList, an "
                          "SPC token and a certificate key");
    res = calloc(1, sizeof(*res));
    if (res == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    memset(&f, 0, sizeof(f));
    f.client = client;
    f.req = req;
    f.timeout_s = req->timeout_s > 0 ? req->timeout_s : 60;
    f.deadline = time(NULL) + f.timeout_s;
    res->account_url = strdup(client->kid);
    rc = obtain_steps(&f, res, err);
    free(f.order_url);
    json_decref(f.order);
    if (rc != STI_OK) {
        sti_acme_result_free(res);
        return rc;
    }
    *out = res;
    return STI_OK;
}
