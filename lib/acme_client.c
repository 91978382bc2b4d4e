/*
 * The ACME client (RFC 8555 sections 6 and 7.3): JWS requests, nonces,
 * replies and accounts.  The order flow is in acme_obtain.c.
 */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

/* badNonce replies retried before giving up (RFC 8555 section 6.5). */
#define BAD_NONCE_RETRIES 3

void sti_acme_reply_free(struct sti_acme_reply *reply)
{
    if (reply == NULL)
        return;
    free(reply->content_type);
    free(reply->body);
    free(reply->location);
    free(reply->replay_nonce);
    free(reply->problem_type);
    free(reply->problem_detail);
    free(reply);
}

int sti_acme_jws_build(const struct sti_key *key, const char *kid,
                       const char *nonce, const char *url, const char *payload,
                       char **json, struct sti_error *err)
{
    json_t *hdr;
    char *jwk = NULL, *text;
    int rc;

    *json = NULL;
    if (key == NULL || nonce == NULL || url == NULL || payload == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "ACME request needs a key, nonce, url and payload");
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url",
                    url);
    if (hdr == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (kid != NULL) {
        json_object_set_new(hdr, "kid", json_string(kid));
    } else {
        rc = sti_key_to_jwk(key, &jwk, err);
        if (rc != STI_OK) {
            json_decref(hdr);
            return rc;
        }
        json_object_set_new(hdr, "jwk", json_loads(jwk, 0, NULL));
        free(jwk);
    }
    text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    if (text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = sti_jws_sign_flattened(text, payload, key, json, err);
    free(text);
    return rc;
}

/* Client object */

void sti_acme_client_free(struct sti_acme_client *client)
{
    if (client == NULL)
        return;
    free(client->directory_url);
    json_decref(client->directory);
    sti_key_free(client->key);
    free(client->nonce);
    free(client->kid);
    free(client);
}

const char *sti_acme_client_resource(const struct sti_acme_client *client,
                                     const char *name)
{
    return json_string_value(json_object_get(client->directory, name));
}

const char *sti_acme_client_kid(const struct sti_acme_client *client)
{
    return client->kid;
}

static char *dup_header(const struct sti_http_response *resp, const char *name)
{
    const char *v = sti_http_response_header(resp, name);

    return v ? strdup(v) : NULL;
}

static void reply_parse_problem(struct sti_acme_reply *reply)
{
    json_t *doc;

    if (reply->content_type == NULL ||
        strncmp(reply->content_type, "application/problem+json", 24) != 0)
        return;
    doc = json_loads(reply->body, 0, NULL);
    reply->problem_type =
        sti_strdup(json_string_value(json_object_get(doc, "type")));
    reply->problem_detail =
        sti_strdup(json_string_value(json_object_get(doc, "detail")));
    json_decref(doc);
}

static int reply_from_http(const struct sti_http_response *resp,
                           struct sti_acme_reply **out, struct sti_error *err)
{
    struct sti_acme_reply *reply = calloc(1, sizeof(*reply));
    const char *retry;

    if (reply == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    reply->status = resp->status;
    reply->content_type = sti_strdup(resp->content_type);
    reply->body =
        strndup(resp->body ? (const char *)resp->body : "", resp->body_len);
    reply->body_len = resp->body_len;
    reply->location = dup_header(resp, "Location");
    reply->replay_nonce = dup_header(resp, "Replay-Nonce");
    retry = sti_http_response_header(resp, "Retry-After");
    reply->retry_after = retry ? strtol(retry, NULL, 10) : -1;
    if (reply->body == NULL) {
        sti_acme_reply_free(reply);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    reply_parse_problem(reply);
    *out = reply;
    return STI_OK;
}

int acme_client_request(struct sti_acme_client *client, const char *method,
                        const char *url, const char *body,
                        struct sti_acme_reply **out, struct sti_error *err)
{
    static const char *const jose[] = {"Content-Type: application/jose+json",
                                       NULL};
    struct sti_http_options opts = client->http;
    struct sti_http_response *resp = NULL;
    int rc;

    *out = NULL;
    if (body != NULL)
        opts.headers = jose;
    rc = sti_http_request(method, url, body, body ? strlen(body) : 0, &opts,
                          &resp, err);
    if (rc != STI_OK)
        return rc;
    rc = reply_from_http(resp, out, err);
    sti_http_response_free(resp);
    if (rc == STI_OK && (*out)->replay_nonce != NULL) {
        free(client->nonce);
        client->nonce = strdup((*out)->replay_nonce);
    }
    return rc;
}

static int directory_load(struct sti_acme_client *client, struct sti_error *err)
{
    struct sti_acme_reply *reply = NULL;
    int rc;

    rc = acme_client_request(client, "GET", client->directory_url, NULL, &reply,
                             err);
    if (rc != STI_OK)
        return rc;
    client->directory = json_loads(reply->body, 0, NULL);
    if (reply->status != 200 || !json_is_object(client->directory) ||
        sti_acme_client_resource(client, "newNonce") == NULL ||
        sti_acme_client_resource(client, "newAccount") == NULL ||
        sti_acme_client_resource(client, "newOrder") == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "%s is not an ACME directory (HTTP %ld); check the "
                        "URL, it usually ends in /acme/directory",
                        client->directory_url, reply->status);
    sti_acme_reply_free(reply);
    return rc;
}

int sti_acme_client_new(const char *directory_url, const struct sti_key *key,
                        const struct sti_http_options *http,
                        struct sti_acme_client **out, struct sti_error *err)
{
    struct sti_acme_client *client;
    int rc;

    *out = NULL;
    if (directory_url == NULL || key == NULL || !sti_key_has_private(key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "ACME client needs a directory URL and a private "
                          "account key");
    client = calloc(1, sizeof(*client));
    if (client == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    client->directory_url = strdup(directory_url);
    client->key = sti_key_up_ref((struct sti_key *)key);
    if (http != NULL)
        client->http = *http;
    client->http.headers = NULL;
    rc = directory_load(client, err);
    if (rc != STI_OK) {
        sti_acme_client_free(client);
        return rc;
    }
    *out = client;
    return STI_OK;
}

int sti_acme_client_new_nonce(struct sti_acme_client *client, char **nonce,
                              struct sti_error *err)
{
    const char *url = sti_acme_client_resource(client, "newNonce");
    struct sti_acme_reply *reply = NULL;
    int rc;

    *nonce = NULL;
    rc = acme_client_request(client, "HEAD", url, NULL, &reply, err);
    if (rc != STI_OK)
        return rc;
    if (reply->replay_nonce == NULL)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "newNonce at %s returned HTTP %ld without a "
                        "Replay-Nonce header",
                        url, reply->status);
    else
        *nonce = strdup(reply->replay_nonce);
    sti_acme_reply_free(reply);
    return rc;
}

int sti_acme_client_send(struct sti_acme_client *client, const char *url,
                         const char *jws_json, struct sti_acme_reply **out,
                         struct sti_error *err)
{
    return acme_client_request(client, "POST", url, jws_json, out, err);
}

/* Takes the nonce from the last reply, or fetches one from newNonce. */
static int take_nonce(struct sti_acme_client *client, char **nonce,
                      struct sti_error *err)
{
    if (client->nonce != NULL) {
        *nonce = client->nonce;
        client->nonce = NULL;
        return STI_OK;
    }
    return sti_acme_client_new_nonce(client, nonce, err);
}

int acme_client_post_as(struct sti_acme_client *client, const char *url,
                        const char *payload, int use_jwk,
                        struct sti_acme_reply **out, struct sti_error *err)
{
    int rc = STI_OK;

    *out = NULL;
    for (int attempt = 0; attempt <= BAD_NONCE_RETRIES; attempt++) {
        char *nonce = NULL, *body = NULL;

        sti_acme_reply_free(*out);
        *out = NULL;
        rc = take_nonce(client, &nonce, err);
        if (rc == STI_OK)
            rc = sti_acme_jws_build(client->key, use_jwk ? NULL : client->kid,
                                    nonce, url, payload, &body, err);
        if (rc == STI_OK)
            rc = sti_acme_client_send(client, url, body, out, err);
        free(nonce);
        free(body);
        if (rc != STI_OK)
            return rc;
        if ((*out)->problem_type == NULL ||
            strcmp((*out)->problem_type, STI_ACME_ERR_BAD_NONCE) != 0)
            break;
    }
    return rc;
}

int sti_acme_client_post(struct sti_acme_client *client, const char *url,
                         const char *payload, struct sti_acme_reply **out,
                         struct sti_error *err)
{
    return acme_client_post_as(client, url, payload, client->kid == NULL, out,
                               err);
}

int acme_reply_error(const struct sti_acme_reply *reply, const char *what,
                     struct sti_error *err)
{
    if (reply->problem_type != NULL)
        return sti_seterr(err, STI_ERR_POLICY, "%s: %s: %s", what,
                          reply->problem_type,
                          reply->problem_detail ? reply->problem_detail : "");
    return sti_seterr(err, STI_ERR_POLICY, "%s: HTTP %ld", what, reply->status);
}

int sti_acme_client_account(struct sti_acme_client *client,
                            const char *const *contact, int only_existing,
                            struct sti_error *err)
{
    const char *url = sti_acme_client_resource(client, "newAccount");
    json_t *payload = json_pack("{s:b}", "termsOfServiceAgreed", 1);
    struct sti_acme_reply *reply = NULL;
    char *text;
    int rc;

    if (payload == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (contact != NULL && contact[0] != NULL) {
        json_t *list = json_array();

        for (size_t i = 0; contact[i] != NULL; i++)
            json_array_append_new(list, json_string(contact[i]));
        json_object_set_new(payload, "contact", list);
    }
    if (only_existing)
        json_object_set_new(payload, "onlyReturnExisting", json_true());
    text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    rc = text ? acme_client_post_as(client, url, text, 1, &reply, err)
              : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    free(text);
    if (rc != STI_OK)
        return rc;
    if ((reply->status == 200 || reply->status == 201) &&
        reply->location != NULL) {
        free(client->kid);
        client->kid = strdup(reply->location);
    } else {
        rc = acme_reply_error(reply, "newAccount failed", err);
    }
    sti_acme_reply_free(reply);
    return rc;
}

/* The inner JWS of a key change: signed by NEW_KEY, naming the old one. */
static int key_change_inner(const struct sti_acme_client *client,
                            const struct sti_key *new_key, const char *url,
                            char **inner, struct sti_error *err)
{
    char *new_jwk = NULL, *old_jwk = NULL, *prot = NULL, *payload = NULL;
    json_t *obj;
    int rc = sti_key_to_jwk(new_key, &new_jwk, err);

    if (rc == STI_OK)
        rc = sti_key_to_jwk(client->key, &old_jwk, err);
    if (rc == STI_OK) {
        obj = json_pack("{s:s, s:o, s:s}", "alg", "ES256", "jwk",
                        json_loads(new_jwk, 0, NULL), "url", url);
        prot = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(obj);
        obj = json_pack("{s:s, s:o}", "account", client->kid, "oldKey",
                        json_loads(old_jwk, 0, NULL));
        payload = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(obj);
        rc = prot && payload
                 ? sti_jws_sign_flattened(prot, payload, new_key, inner, err)
                 : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    free(new_jwk);
    free(old_jwk);
    free(prot);
    free(payload);
    return rc;
}

int sti_acme_client_key_change(struct sti_acme_client *client,
                               const struct sti_key *new_key,
                               struct sti_error *err)
{
    const char *url = sti_acme_client_resource(client, "keyChange");
    struct sti_acme_reply *reply = NULL;
    char *inner = NULL;
    int rc;

    if (url == NULL || client->kid == NULL || new_key == NULL ||
        !sti_key_has_private(new_key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "key change needs an account, a CA that offers "
                          "keyChange and a new private key");
    rc = key_change_inner(client, new_key, url, &inner, err);
    if (rc == STI_OK)
        rc = sti_acme_client_post(client, url, inner, &reply, err);
    free(inner);
    if (rc == STI_OK && reply->status != 200)
        rc = acme_reply_error(reply, "keyChange failed", err);
    if (rc == STI_OK) {
        sti_key_free(client->key);
        client->key = sti_key_up_ref((struct sti_key *)new_key);
    }
    sti_acme_reply_free(reply);
    return rc;
}
