/*
 * The tkauth-01 checks on an SPC token (RFC 9447, RFC 9448): who signed
 * it, when it is valid, what it authorizes and for which ACME account key.
 */
#include "acme_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int acme_tnauth_value_decode(const char *value, unsigned char **der,
                             size_t *len)
{
    size_t n = strlen(value);

    if (sti_b64_decode(value, n, der, len) == STI_OK)
        return STI_OK;
    return sti_b64url_decode(value, n, der, len);
}

/* Tries every configured authority; STI_OK when one key verifies. */
static int token_check_signer(const struct sti_jws *jws,
                              const struct acme_token_check *check,
                              struct sti_error *err)
{
    for (size_t i = 0; i < check->authority_count; i++) {
        const struct sti_cert *ta = check->authorities[i];
        struct sti_key *key = sti_cert_get1_key(ta);
        int rc;

        if (key == NULL)
            continue;
        rc = sti_jws_verify(jws, key, NULL);
        sti_key_free(key);
        if (rc != STI_OK)
            continue;
        if (check->now < sti_cert_not_before(ta) ||
            check->now > sti_cert_not_after(ta))
            return sti_seterr(err, STI_ERR_POLICY,
                              "the token authority certificate that signed "
                              "the SPC token is not valid now");
        return STI_OK;
    }
    return sti_seterr(err, STI_ERR_AUTH,
                      "SPC token is not signed by a trusted token "
                      "authority (the configured STI-PA certificates)");
}

/* exp is required and nbf optional, each with the skew allowance. */
static int token_check_times(json_t *claims,
                             const struct acme_token_check *check,
                             struct acme_token_claims *out,
                             struct sti_error *err)
{
    json_t *exp = json_object_get(claims, "exp");
    json_t *nbf = json_object_get(claims, "nbf");

    if (!json_is_integer(exp))
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token has no integer \"exp\" claim");
    out->exp = (long)json_integer_value(exp);
    if (out->exp + check->skew_s < (long)check->now)
        return sti_seterr(err, STI_ERR_POLICY,
                          "SPC token expired at %ld (now %ld); request a "
                          "new token from the STI-PA",
                          out->exp, (long)check->now);
    if (nbf != NULL && !json_is_integer(nbf))
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token \"nbf\" is not an integer");
    if (nbf != NULL &&
        (long)json_integer_value(nbf) - check->skew_s > (long)check->now)
        return sti_seterr(err, STI_ERR_POLICY,
                          "SPC token is not valid before %ld (now %ld)",
                          (long)json_integer_value(nbf), (long)check->now);
    return STI_OK;
}

static int token_check_value(const char *tkvalue,
                             const struct acme_token_check *check,
                             struct sti_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int same;

    if (acme_tnauth_value_decode(tkvalue, &der, &len) != STI_OK)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token tkvalue '%.64s' is not base64", tkvalue);
    same = len == check->tnauth_len && memcmp(der, check->tnauth_der, len) == 0;
    free(der);
    if (!same)
        return sti_seterr(err, STI_ERR_POLICY,
                          "SPC token tkvalue '%.64s' is not the TNAuthList "
                          "of this order",
                          tkvalue);
    return STI_OK;
}

/* Compares "SHA256 AB:CD:.." ignoring case, as hex digits may be either. */
static int fingerprint_equal(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/*
 * The account key's fingerprint: deployed PAs hash the SPKI DER, and the
 * RFC 7638 thumbprint is accepted too, bare or after "SHA256 ".
 */
static int token_check_fingerprint(const char *fp,
                                   const struct acme_token_check *check,
                                   struct sti_error *err)
{
    char spki[STI_FINGERPRINT_LEN];
    char *thumb = NULL;
    int ok = 0;

    if (sti_key_spki_fingerprint(check->account_key, spki, err) != STI_OK)
        return err ? err->code : STI_ERR_CRYPTO;
    if (fingerprint_equal(fp, spki))
        return STI_OK;
    if (sti_key_jwk_thumbprint(check->account_key, &thumb, err) != STI_OK)
        return err ? err->code : STI_ERR_CRYPTO;
    if (strcmp(fp, thumb) == 0 ||
        (strncmp(fp, "SHA256 ", 7) == 0 && strcmp(fp + 7, thumb) == 0))
        ok = 1;
    free(thumb);
    if (ok)
        return STI_OK;
    return sti_seterr(err, STI_ERR_POLICY,
                      "SPC token fingerprint '%.110s' is not the ACME "
                      "account key's (%s)",
                      fp, spki);
}

static int token_check_atc(json_t *claims, const struct acme_token_check *check,
                           struct acme_token_claims *out, struct sti_error *err)
{
    json_t *atc = json_object_get(claims, "atc");
    const char *tktype, *tkvalue, *fp;
    json_t *ca;
    int rc;

    if (!json_is_object(atc))
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token has no \"atc\" object");
    tktype = json_string_value(json_object_get(atc, "tktype"));
    tkvalue = json_string_value(json_object_get(atc, "tkvalue"));
    fp = json_string_value(json_object_get(atc, "fingerprint"));
    ca = json_object_get(atc, "ca");
    if (tktype == NULL || strcasecmp(tktype, "TNAuthList") != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc.tktype is '%.32s', expected "
                          "\"TNAuthList\"",
                          tktype ? tktype : "(missing)");
    if (tkvalue == NULL || fp == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc lacks \"tkvalue\" or "
                          "\"fingerprint\"");
    if (ca != NULL && !json_is_boolean(ca))
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token atc.ca is not a boolean");
    out->ca = ca != NULL && json_is_true(ca);
    rc = token_check_value(tkvalue, check, err);
    if (rc == STI_OK)
        rc = token_check_fingerprint(fp, check, err);
    return rc;
}

static int token_check_claims(const char *payload,
                              const struct acme_token_check *check,
                              struct acme_token_claims *out,
                              struct sti_error *err)
{
    json_t *claims = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    const char *jti;
    int rc;

    if (!json_is_object(claims)) {
        json_decref(claims);
        return sti_seterr(err, STI_ERR_INVALID,
                          "SPC token payload is not a JSON object");
    }
    jti = json_string_value(json_object_get(claims, "jti"));
    if (jti == NULL || jti[0] == '\0' || strlen(jti) >= sizeof(out->jti)) {
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token has no usable \"jti\" claim");
        goto out;
    }
    snprintf(out->jti, sizeof(out->jti), "%s", jti);
    rc = token_check_times(claims, check, out, err);
    if (rc == STI_OK)
        rc = token_check_atc(claims, check, out, err);
out:
    json_decref(claims);
    return rc;
}

int acme_token_verify(const char *token, const struct acme_token_check *check,
                      struct acme_token_claims *claims, struct sti_error *err)
{
    struct sti_jws *jws = NULL;
    const char *alg;
    int rc;

    memset(claims, 0, sizeof(*claims));
    rc = sti_jws_parse(token, strlen(token), &jws, err);
    if (rc != STI_OK)
        return rc;
    alg = sti_jws_header_string(jws, "alg");
    if (alg == NULL || strcmp(alg, "ES256") != 0) {
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "SPC token alg is '%.16s'; only ES256 is accepted",
                        alg ? alg : "(missing)");
        goto out;
    }
    rc = token_check_signer(jws, check, err);
    if (rc == STI_OK)
        rc = token_check_claims(sti_jws_payload_json(jws), check, claims, err);
out:
    sti_jws_free(jws);
    return rc;
}
