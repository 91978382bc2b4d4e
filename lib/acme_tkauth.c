/*
 * The tkauth-01 checks on an SPC token (RFC 9447, RFC 9448): libsti's SPC
 * token verification (signer, exp, TNAuthList, account key fingerprint)
 * plus the optional nbf claim.
 */
#include "acme_int.h"

#include <stdlib.h>
#include <string.h>

int acme_tnauth_value_decode(const char *value, unsigned char **der,
                             size_t *len)
{
    size_t n = strlen(value);

    if (sti_b64_decode(value, n, der, len) == STI_OK)
        return STI_OK;
    return sti_b64url_decode(value, n, der, len);
}

/* nbf is optional in SPC tokens; when present it gets the same skew. */
static int token_check_nbf(const char *token,
                           const struct acme_token_check *check,
                           struct sti_error *err)
{
    struct sti_jws *jws = NULL;
    json_t *claims = NULL, *nbf;
    int rc = sti_jws_parse(token, strlen(token), &jws, err);

    if (rc == STI_OK)
        claims = json_loads(sti_jws_payload_json(jws), 0, NULL);
    nbf = json_object_get(claims, "nbf");
    if (rc == STI_OK && nbf != NULL && !json_is_integer(nbf))
        rc =
            sti_seterr(err, STI_ERR_INVALID, "SPC token nbf is not an integer");
    else if (rc == STI_OK && nbf != NULL &&
             (long)json_integer_value(nbf) - check->skew_s > (long)check->now)
        rc = sti_seterr(err, STI_ERR_POLICY,
                        "SPC token is not valid before %lld (now %lld)",
                        (long long)json_integer_value(nbf),
                        (long long)check->now);
    json_decref(claims);
    sti_jws_free(jws);
    return rc;
}

int acme_token_verify(const char *token, const struct acme_token_check *check,
                      struct acme_token_claims *claims, struct sti_error *err)
{
    struct sti_spc_verify_options opts;
    struct sti_spc_token *t = NULL;
    char *tkvalue = sti_b64_encode(check->tnauth_der, check->tnauth_len);
    int rc;

    memset(claims, 0, sizeof(*claims));
    if (tkvalue == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    memset(&opts, 0, sizeof(opts));
    opts.pa_certs = check->authorities;
    opts.pa_cert_count = check->authority_count;
    opts.account_key = check->account_key;
    opts.tkvalue = tkvalue;
    opts.ca = -1; /* checked against the CSR at finalize */
    opts.now = check->now;
    opts.skew = check->skew_s;
    rc = sti_spc_token_verify(token, &opts, &t, err);
    if (rc == STI_OK)
        rc = token_check_nbf(token, check, err);
    if (rc == STI_OK && strlen(t->jti) >= sizeof(claims->jti))
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token jti is longer than %zu bytes",
                        sizeof(claims->jti) - 1);
    if (rc == STI_OK) {
        snprintf(claims->jti, sizeof(claims->jti), "%s", t->jti);
        claims->exp = (long)t->exp;
        claims->ca = t->ca != 0;
    }
    sti_spc_token_free(t);
    free(tkvalue);
    return rc;
}
