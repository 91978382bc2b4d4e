/*
 * A minimal program built against an installed libsti, the way a SIP
 * server module would use it:
 *
 *   cc -o sti-example sti-example.c $(pkg-config --cflags --libs libsti)
 *
 *   sti-example sign KEY X5U ORIG DEST      print an Identity header value
 *   sti-example check CERT IDENTITY         check its signature with CERT
 *   sti-example verify CAFILE IDENTITY ORIG DEST
 *                                           full verification (fetches x5u)
 */
#include <stdio.h>
#include <string.h>

#include <sti.h>

static int fail(const char *action, const struct sti_error *err)
{
    fprintf(stderr, "sti-example: %s: %s\n", action, err->message);
    return 1;
}

static int sign(const char *key_path, const char *x5u, const char *orig,
                const char *dest)
{
    struct sti_error err;
    struct sti_key *key = NULL;
    struct sti_signer *signer = NULL;
    struct sti_passport_claims claims;
    const char *dests[1] = {dest};
    char *identity = NULL;
    int rc = 1;

    if (sti_key_load(key_path, NULL, &key, &err) != STI_OK)
        return fail("cannot load the key", &err);
    if (sti_signer_new(key, x5u, "shaken", &signer, &err) != STI_OK) {
        fail("cannot create the signer", &err);
        goto out;
    }
    memset(&claims, 0, sizeof(claims));
    claims.attest = "A";
    claims.orig_tn = orig;
    claims.dest_tn = dests;
    claims.dest_tn_count = 1;
    if (sti_signer_sign_identity(signer, &claims, 0, &identity, &err) !=
        STI_OK) {
        fail("cannot sign", &err);
        goto out;
    }
    printf("%s\n", identity);
    rc = 0;
out:
    sti_free(identity);
    sti_signer_free(signer);
    sti_key_free(key);
    return rc;
}

static int check(const char *cert_path, const char *value)
{
    struct sti_error err;
    struct sti_cert *cert = NULL;
    struct sti_key *key = NULL;
    struct sti_identity *id = NULL;
    struct sti_passport *passport = NULL;
    const char *jws;
    int rc = 1;

    if (sti_cert_load(cert_path, &cert, &err) != STI_OK)
        return fail("cannot load the certificate", &err);
    key = sti_cert_get1_key(cert);
    if (sti_identity_parse(value, strlen(value), &id, &err) != STI_OK) {
        fail("invalid Identity header", &err);
        goto out;
    }
    jws = sti_identity_jws(id);
    if (sti_passport_parse(jws, strlen(jws), &passport, &err) != STI_OK ||
        sti_passport_verify(passport, key, &err) != STI_OK) {
        fail("invalid PASSporT", &err);
        goto out;
    }
    printf("signature valid, orig %s\n",
           sti_passport_claims(passport)->orig_tn);
    rc = 0;
out:
    sti_passport_free(passport);
    sti_identity_free(id);
    sti_key_free(key);
    sti_cert_free(cert);
    return rc;
}

static int verify(const char *ca_file, const char *value, const char *orig,
                  const char *dest)
{
    struct sti_error err;
    struct sti_verifier_config config;
    struct sti_verifier *verifier;
    struct sti_verify_request req;
    struct sti_verify_result res;
    const char *identities[1] = {value};

    memset(&config, 0, sizeof(config));
    config.ca_file = ca_file;
    config.allow_http = 1; /* lab repositories use http; drop in production */
    config.allow_any_port = 1;
    if (sti_verifier_new(&config, &verifier, &err) != STI_OK)
        return fail("cannot create the verifier", &err);
    memset(&req, 0, sizeof(req));
    req.identities = identities;
    req.identity_count = 1;
    req.orig_tn = orig;
    req.dest_tn = dest;
    if (sti_verify(verifier, &req, &res, &err) != STI_OK) {
        sti_verifier_free(verifier);
        return fail("cannot verify", &err);
    }
    printf("%s %d %s: %s\n", sti_verify_outcome_name(res.outcome), res.sip_code,
           res.verstat, res.reason);
    sti_verifier_free(verifier);
    return res.outcome;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "sign") == 0)
        return sign(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        return check(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "verify") == 0)
        return verify(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: sti-example sign KEY X5U ORIG DEST\n"
                    "       sti-example check CERT IDENTITY\n"
                    "       sti-example verify CAFILE IDENTITY ORIG DEST\n");
    return 2;
}
