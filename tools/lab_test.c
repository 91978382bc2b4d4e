/*
 * sti lab test: signs a call per provider and verifies it three ways: sti
 * verify, sti serve over HTTP, and secsipidx when installed.  Then it runs
 * each failure scenario and compares the SIP status that the verifiers
 * return (RFC 8224 section 6.2.2) with the expected one.
 */
#include "cli.h"
#include "lab.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 96
#define SECSIPIDX "/usr/bin/secsipidx"

/* A row of the result table. */
struct step {
    char name[80];
    char via[16];
    char expected[16];
    char actual[16];
    char detail[STI_ERROR_MAX];
    int passed;
};

struct test {
    struct lab *lab;
    struct step steps[MAX_STEPS];
    size_t count;
    char roots[LAB_PATH_MAX], crl[LAB_PATH_MAX], signer[LAB_PATH_MAX];
    char tls[LAB_PATH_MAX];
    char serve_url[256], cr_url[256];
    int secsipidx;
};

/* What a verifier returned: "pass", a SIP status such as "437", or
 * "error" when it could not be run. */
struct verdict {
    char actual[16];
    char detail[STI_ERROR_MAX];
};

static void record(struct test *t, const char *name, const char *via,
                   const char *expected, const struct verdict *v)
{
    struct step *s;

    if (t->count >= MAX_STEPS)
        return;
    s = &t->steps[t->count++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->via, sizeof(s->via), "%s", via);
    snprintf(s->expected, sizeof(s->expected), "%s", expected);
    snprintf(s->actual, sizeof(s->actual), "%s", v->actual);
    snprintf(s->detail, sizeof(s->detail), "%s", v->detail);
    s->passed = strcmp(expected, v->actual) == 0;
}

/* Records a setup step that failed, so that the table shows it. */
static void record_setup(struct test *t, const char *name, const char *what)
{
    struct verdict v = {"error", ""};

    snprintf(v.detail, sizeof(v.detail), "%s", what);
    record(t, name, "setup", "done", &v);
}

static char *json_text(const char *json, const char *path)
{
    char *out = NULL;

    if (json == NULL ||
        sti_json_get_text(json, strlen(json), path, &out, NULL) != STI_OK)
        return NULL;
    return out;
}

/* Reads the verdict of `sti verify --json`. */
static void verdict_from_cli(const char *json, const char *errtext,
                             struct verdict *v)
{
    char *pass = json_text(json, "pass"), *code = json_text(json, "sip_code");
    char *reason = json_text(json, "reason");

    if (pass != NULL && strcmp(pass, "true") == 0)
        snprintf(v->actual, sizeof(v->actual), "pass");
    else if (code != NULL)
        snprintf(v->actual, sizeof(v->actual), "%s", code);
    else
        snprintf(v->actual, sizeof(v->actual), "error");
    snprintf(v->detail, sizeof(v->detail), "%s",
             reason != NULL    ? reason
             : errtext != NULL ? errtext
                               : "");
    sti_free(pass);
    sti_free(code);
    sti_free(reason);
}

enum policy { LAB_POLICY, STRICT_POLICY };

/*
 * Runs `sti verify` on a SIP message FILE or an Identity VALUE.  The lab
 * policy accepts the repository's port; the strict one is the ATIS x5u
 * policy (https on 443 or 8443 only).
 */
static void verify_cli(struct test *t, const char *file, const char *value,
                       enum policy policy, struct verdict *v)
{
    const char *argv[24];
    char *out = NULL, *errtext = NULL, path[LAB_PATH_MAX];
    size_t n = 0;

    argv[n++] = "sti";
    argv[n++] = "verify";
    argv[n++] = "--json";
    argv[n++] = "--ca-file";
    argv[n++] = t->roots;
    argv[n++] = "--crl";
    argv[n++] = t->crl;
    argv[n++] = "--crl-signer";
    argv[n++] = t->signer;
    argv[n++] = "--x5u-ca-file";
    argv[n++] = t->tls;
    if (policy == LAB_POLICY)
        argv[n++] = "--allow-any-port";
    if (file != NULL) {
        argv[n++] = "--file";
        argv[n++] = file;
    } else {
        argv[n++] = value;
    }
    argv[n] = NULL;
    lab_bin_path(t->lab, "sti", path);
    if (lab_run_path(t->lab, path, argv, &out, &errtext) < 0)
        snprintf(v->actual, sizeof(v->actual), "error");
    else
        verdict_from_cli(out, errtext, v);
    free(out);
    free(errtext);
}

/* Reads sti serve's verification response: the reasoncode of a failure,
 * "pass" for TN-Validation-Passed. */
static void verdict_from_serve(const struct sti_http_response *resp,
                               struct verdict *v)
{
    const char *body = (const char *)resp->body;
    char *verstat = json_text(body, "verificationResponse.verstat");
    char *code = json_text(body, "verificationResponse.reasoncode");
    char *detail = json_text(body, "verificationResponse.detail");

    if (resp->status == 200 && code != NULL)
        snprintf(v->actual, sizeof(v->actual), "%s", code);
    else if (resp->status == 200 && verstat != NULL &&
             strcmp(verstat, "TN-Validation-Passed") == 0)
        snprintf(v->actual, sizeof(v->actual), "pass");
    if (detail != NULL)
        snprintf(v->detail, sizeof(v->detail), "%s", detail);
    else if (resp->status != 200)
        snprintf(v->detail, sizeof(v->detail), "HTTP %ld: %s", resp->status,
                 body);
    sti_free(verstat);
    sti_free(code);
    sti_free(detail);
}

/* Verifies VALUE through sti serve's ATIS-1000082 endpoint. */
static void verify_serve(struct test *t, const char *value, const char *orig,
                         struct verdict *v)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct sti_http_options opts = {.headers = headers};
    struct sti_http_response *resp = NULL;
    struct sti_error err;
    char url[300], *body = NULL;

    snprintf(v->actual, sizeof(v->actual), "error");
    v->detail[0] = '\0';
    snprintf(url, sizeof(url), "%s/stir/v1/verification", t->serve_url);
    if (sti_lab_verification_request(value, orig, LAB_DEST_TN, &body, &err) !=
            STI_OK ||
        sti_http_request("POST", url, body, strlen(body), &opts, &resp, &err) !=
            STI_OK)
        snprintf(v->detail, sizeof(v->detail), "%s", err.message);
    else
        verdict_from_serve(resp, v);
    sti_free(body);
    sti_http_response_free(resp);
}

/* Checks the signature of the Identity value in FILE with secsipidx
 * against the leaf of CHAIN; secsipidx reads no TNAuthList and no CRL. */
static void verify_secsipidx(struct test *t, const char *file,
                             const char *chain, struct verdict *v)
{
    const char *argv[] = {"secsipidx", "-check",   "-fidentity",
                          file,        "-fpubkey", chain,
                          "-expire",   "300",      NULL};
    char *out = NULL, *errtext = NULL;
    int rc = lab_run_path(t->lab, SECSIPIDX, argv, &out, &errtext);

    snprintf(v->actual, sizeof(v->actual), "%s", rc == 0 ? "pass" : "fail");
    snprintf(v->detail, sizeof(v->detail), "%s%s", out != NULL ? out : "",
             errtext != NULL ? errtext : "");
    for (char *p = v->detail; *p != '\0'; p++)
        if (*p == '\n')
            *p = ' ';
    /* secsipidx ends its output with a newline. */
    for (size_t n = strlen(v->detail); n > 0 && v->detail[n - 1] == ' '; n--)
        v->detail[n - 1] = '\0';
    free(out);
    free(errtext);
}

/* Verifies VALUE with sti verify and sti serve; both must give EXPECTED. */
static void check_both(struct test *t, const char *name, const char *value,
                       const char *orig, const char *expected)
{
    struct verdict v = {"", ""};

    verify_cli(t, NULL, value, LAB_POLICY, &v);
    record(t, name, "sti verify", expected, &v);
    verify_serve(t, value, orig, &v);
    record(t, name, "sti serve", expected, &v);
}

/* Signing */

/*
 * Signs a PASSporT with `sti sign` and returns the Identity header value.
 * IAT_OFFSET moves iat from now (0: now).
 */
static char *sign_value(struct test *t, const char *key, const char *x5u,
                        const char *orig, long iat_offset)
{
    char iat[32], *out = NULL;
    const char *argv[16];
    size_t n = 0;

    argv[n++] = "sti";
    argv[n++] = "sign";
    argv[n++] = "--key";
    argv[n++] = key;
    argv[n++] = "--x5u";
    argv[n++] = x5u;
    argv[n++] = "--orig";
    argv[n++] = orig;
    argv[n++] = "--dest";
    argv[n++] = LAB_DEST_TN;
    argv[n++] = "--attest";
    argv[n++] = "A";
    if (iat_offset != 0) {
        snprintf(iat, sizeof(iat), "%lld",
                 (long long)time(NULL) + (long long)iat_offset);
        argv[n++] = "--iat";
        argv[n++] = iat;
    }
    argv[n] = NULL;
    if (lab_run(t->lab, argv, &out, 0) != 0) {
        free(out);
        return NULL;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return out;
}

/* Writes the unsigned INVITE of provider INDEX to PATH. */
static int write_invite(const char *path, int index)
{
    char orig[16], spc[16], date[64], text[1024];
    time_t now = time(NULL);
    struct tm tm;

    lab_orig_tn(index, orig);
    lab_spc(index, spc);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(text, sizeof(text),
             "INVITE sip:%s@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-lab-%s\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:%s@127.0.0.1>;tag=lab%s\r\n"
             "To: <sip:%s@127.0.0.1>\r\n"
             "Call-ID: lab-%s-%lld@127.0.0.1\r\n"
             "CSeq: 1 INVITE\r\n"
             "Date: %s\r\n"
             "Content-Length: 0\r\n\r\n",
             LAB_DEST_TN, spc, orig, spc, LAB_DEST_TN, spc, (long long)now,
             date);
    return lab_write_text(path, text, 0644);
}

/* Returns the Identity header value of the SIP message in TEXT. */
static char *identity_of(const char *text)
{
    struct sti_sip *sip = NULL;
    char *value = NULL;

    if (sti_sip_parse(text, strlen(text), &sip, NULL) == STI_OK &&
        sti_sip_identity_count(sip) > 0) {
        const char *v = sti_sip_identity_get0(sip, 0);

        value = v != NULL ? strdup(v) : NULL;
    }
    sti_sip_free(sip);
    return value;
}

/* Signs provider INDEX's INVITE (sti sign --invite) and verifies it. */
static void test_provider(struct test *t, int index)
{
    char spc[16], orig[16], invite[LAB_PATH_MAX], signed_path[LAB_PATH_MAX];
    char key[LAB_PATH_MAX], x5u_file[LAB_PATH_MAX], chain[LAB_PATH_MAX];
    char id_file[LAB_PATH_MAX], name[64], *x5u, *out = NULL, *value = NULL;
    struct verdict v = {"", ""};

    lab_spc(index, spc);
    lab_orig_tn(index, orig);
    snprintf(name, sizeof(name), "provider %s signed INVITE", spc);
    lab_path(t->lab, invite, "test/invite-%s.sip", spc);
    lab_path(t->lab, signed_path, "test/signed-%s.sip", spc);
    lab_path(t->lab, id_file, "test/identity-%s.txt", spc);
    lab_path(t->lab, key, "sp/%s/cert.key", spc);
    lab_path(t->lab, chain, "sp/%s/chain.pem", spc);
    lab_path(t->lab, x5u_file, "sp/%s/x5u", spc);
    x5u = lab_read_text(x5u_file);
    if (x5u == NULL || write_invite(invite, index) != 0) {
        record_setup(t, name, "the provider's x5u or INVITE is missing");
        goto out;
    }
    {
        const char *argv[] = {"sti",      "sign", "--key",    key,
                              "--x5u",    x5u,    "--attest", "A",
                              "--invite", invite, NULL};

        if (lab_run(t->lab, argv, &out, 0) != 0 ||
            lab_write_text(signed_path, out, 0644) != 0 ||
            (value = identity_of(out)) == NULL ||
            lab_write_text(id_file, value, 0644) != 0) {
            record_setup(t, name, "sti sign --invite failed");
            goto out;
        }
    }
    verify_cli(t, signed_path, NULL, LAB_POLICY, &v);
    record(t, name, "sti verify", "pass", &v);
    verify_serve(t, value, orig, &v);
    record(t, name, "sti serve", "pass", &v);
    if (t->secsipidx) {
        verify_secsipidx(t, id_file, chain, &v);
        record(t, name, "secsipidx", "pass", &v);
    }
out:
    free(x5u);
    free(out);
    free(value);
}

/* Tampering */

/* Replaces the payload of the JWS in VALUE with one whose orig TN is
 * changed, keeping header, signature and parameters. */
static char *tamper_claims(const char *value, const char *orig)
{
    const char *dot1 = strchr(value, '.'), *dot2;
    unsigned char *decoded = NULL;
    size_t len;
    char *payload, *pos = NULL, *encoded = NULL, *out = NULL;

    if (dot1 == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL ||
        sti_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &decoded,
                          &len) != STI_OK)
        return NULL;
    payload = malloc(len + 1);
    if (payload != NULL) {
        memcpy(payload, decoded, len);
        payload[len] = '\0';
        pos = strstr(payload, orig);
    }
    if (pos != NULL) {
        /* The same length, so only the claim's value differs. */
        memcpy(pos + strlen(orig) - 4, "9999", 4);
        encoded = sti_b64url_encode((unsigned char *)payload, len);
    }
    if (encoded != NULL) {
        size_t n =
            (size_t)(dot1 - value) + 1 + strlen(encoded) + strlen(dot2) + 1;

        out = malloc(n);
        if (out != NULL)
            snprintf(out, n, "%.*s.%s%s", (int)(dot1 - value), value, encoded,
                     dot2);
    }
    sti_free(encoded);
    free(payload);
    sti_free(decoded);
    return out;
}

/*
 * Changes one character in the middle of the JWS signature, the third
 * part of the compact JWS before the first ';' (RFC 8224 section 4.1).
 */
static char *tamper_signature(const char *value)
{
    char *out = strdup(value), *end, *sig;

    if (out == NULL)
        return NULL;
    end = out + strcspn(out, ";");
    sig = memchr(out, '.', (size_t)(end - out));
    sig = sig != NULL ? memchr(sig + 1, '.', (size_t)(end - sig - 1)) : NULL;
    if (sig == NULL || end - sig < 40) {
        free(out);
        return NULL;
    }
    sig += 20;
    *sig = *sig == 'A' ? 'B' : 'A';
    return out;
}

/* Provider 1001's signing material, which the failure scenarios use. */
struct signer {
    char key[LAB_PATH_MAX];
    char chain[LAB_PATH_MAX];
    char orig[16];
    char *x5u;
};

static int load_signer(struct test *t, struct signer *s)
{
    char spc[16], x5u_file[LAB_PATH_MAX];

    lab_spc(0, spc);
    lab_orig_tn(0, s->orig);
    lab_path(t->lab, s->key, "sp/%s/cert.key", spc);
    lab_path(t->lab, s->chain, "sp/%s/chain.pem", spc);
    lab_path(t->lab, x5u_file, "sp/%s/x5u", spc);
    s->x5u = lab_read_text(x5u_file);
    if (s->x5u == NULL || strstr(s->x5u, "://") == NULL) {
        record_setup(t, "failure scenarios", "the provider's x5u is missing");
        return -1;
    }
    return 0;
}

static void test_freshness(struct test *t, const struct signer *s)
{
    char *value = sign_value(t, s->key, s->x5u, s->orig, -3600);

    if (value != NULL)
        check_both(t, "stale iat (1 h old)", value, s->orig, "403");
    free(value);
    value = sign_value(t, s->key, s->x5u, s->orig, 3600);
    if (value != NULL)
        check_both(t, "future iat (1 h ahead)", value, s->orig, "403");
    free(value);
}

static void test_tampering(struct test *t, const struct signer *s)
{
    char id_file[LAB_PATH_MAX];
    char *value = sign_value(t, s->key, s->x5u, s->orig, 0);
    char *tampered = value != NULL ? tamper_claims(value, s->orig) : NULL;
    struct verdict v = {"", ""};

    if (tampered != NULL)
        check_both(t, "tampered claims (orig changed)", tampered, s->orig,
                   "438");
    else
        record_setup(t, "tampered claims", "could not tamper the PASSporT");
    free(tampered);
    tampered = value != NULL ? tamper_signature(value) : NULL;
    if (tampered != NULL) {
        check_both(t, "tampered signature", tampered, s->orig, "438");
        lab_path(t->lab, id_file, "test/identity-tampered.txt");
        if (t->secsipidx && lab_write_text(id_file, tampered, 0644) != 0) {
            record_setup(t, "tampered signature", "could not write it");
        } else if (t->secsipidx) {
            verify_secsipidx(t, id_file, s->chain, &v);
            record(t, "tampered signature", "secsipidx", "fail", &v);
        }
    } else {
        record_setup(t, "tampered signature", "could not tamper the JWS");
    }
    free(tampered);
    free(value);
}

static void test_x5u(struct test *t, const struct signer *s)
{
    char http_x5u[320], *value;
    struct verdict v = {"", ""};

    /* Nothing listens on port 1 of the loopback interface. */
    value = sign_value(t, s->key, "https://127.0.0.1:1/certs/unreachable.pem",
                       s->orig, 0);
    if (value != NULL)
        check_both(t, "unreachable x5u", value, s->orig, "436");
    free(value);
    snprintf(http_x5u, sizeof(http_x5u), "http://%s",
             strstr(s->x5u, "://") + 3);
    value = sign_value(t, s->key, http_x5u, s->orig, 0);
    if (value != NULL) {
        verify_cli(t, NULL, value, STRICT_POLICY, &v);
        record(t, "non-https x5u (strict policy)", "sti verify", "436", &v);
        verify_serve(t, value, s->orig, &v);
        record(t, "non-https x5u (lab policy)", "sti serve", "436", &v);
    }
    free(value);
}

/* The scenarios on provider 1001's key: iat, tampering and the x5u. */
static void test_claims(struct test *t)
{
    struct signer s;

    if (load_signer(t, &s) == 0) {
        test_freshness(t, &s);
        test_tampering(t, &s);
        test_x5u(t, &s);
    }
    free(s.x5u);
}

/* Certificates made for the tests */

/* Publishes CHAIN under NAME and sets X5U to its URL; 0 or -1. */
static int publish(struct test *t, const char *chain, const char *name,
                   char x5u[320])
{
    char cr[LAB_PATH_MAX];
    const char *argv[] = {"sti-cr", "publish", "--dir", cr,
                          chain,    "--name",  name,    NULL};

    lab_path(t->lab, cr, "cr");
    if (lab_run(t->lab, argv, NULL, 0) != 0)
        return -1;
    snprintf(x5u, 320, "%s/certs/%s.pem", t->cr_url, name);
    return lab_wait_served(t->lab, x5u);
}

static void unpublish(struct test *t, const char *name)
{
    char cr[LAB_PATH_MAX];
    const char *argv[] = {"sti-cr", "remove", "--dir", cr, name, NULL};

    lab_path(t->lab, cr, "cr");
    (void)lab_run(t->lab, argv, NULL, 1);
}

/* Runs `sti-ca issue` with EXTRA options on the CA in CA_DIR, writing a new
 * key and chain; 0 or -1. */
static int issue(struct test *t, const char *ca_dir, const char *key,
                 const char *chain, const char *const extra[])
{
    const char *argv[32];
    size_t n = 0;

    argv[n++] = "sti-ca";
    argv[n++] = "issue";
    argv[n++] = "--dir";
    argv[n++] = ca_dir;
    argv[n++] = "--new-key";
    argv[n++] = "--key-out";
    argv[n++] = key;
    argv[n++] = "--out";
    argv[n++] = chain;
    for (size_t i = 0; extra[i] != NULL && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    /* sti-ca issue never replaces a key or a chain, and each run of the
     * tests issues new ones. */
    unlink(key);
    unlink(chain);
    return lab_run(t->lab, argv, NULL, 0) == 0 ? 0 : -1;
}

/* A CA that the PA never approved, with one SP certificate; made once. */
static int untrusted_chain(struct test *t, char key[LAB_PATH_MAX],
                           char chain[LAB_PATH_MAX])
{
    char dir[LAB_PATH_MAX], pa_cert[LAB_PATH_MAX];
    const char *extra[] = {"--spc", "1999", "--org", "Unapproved SP", NULL};

    lab_path(t->lab, dir, "test/untrusted-ca");
    lab_path(t->lab, pa_cert, "pa/pa.crt");
    lab_path(t->lab, key, "test/untrusted.key");
    lab_path(t->lab, chain, "test/untrusted.pem");
    if (lab_exists(chain))
        return 0;
    if (!lab_exists(dir)) {
        const char *init[] = {"sti-ca",
                              "init",
                              "--dir",
                              dir,
                              "--org",
                              "Unapproved CA",
                              "--crl-issuer-cert",
                              pa_cert,
                              NULL};

        if (lab_run(t->lab, init, NULL, 0) != 0)
            return -1;
    }
    return issue(t, dir, key, chain, extra);
}

static void test_untrusted(struct test *t)
{
    char key[LAB_PATH_MAX], chain[LAB_PATH_MAX], x5u[320], orig[16];
    char *value;

    lab_orig_tn(0, orig);
    if (untrusted_chain(t, key, chain) != 0 ||
        publish(t, chain, "untrusted-1999", x5u) != 0) {
        record_setup(t, "untrusted CA", "could not make its certificate");
        return;
    }
    value = sign_value(t, key, x5u, orig, 0);
    if (value != NULL)
        check_both(t, "certificate from an unapproved CA", value, orig, "437");
    free(value);
}

/* An SCA for a block of 100 numbers and a delegate certificate for one of
 * them (RFC 9060), made once. */
static int delegate_chain(struct test *t, char key[LAB_PATH_MAX],
                          char chain[LAB_PATH_MAX])
{
    char ca[LAB_PATH_MAX], sca_key[LAB_PATH_MAX], sca[LAB_PATH_MAX];
    const char *sca_extra[] = {"--sca", "--range",       "12025550300+100",
                               "--org", "Provider 1001", NULL};
    const char *del_extra[] = {
        "--issuer-cert", sca,     "--issuer-key",      sca_key, "--tn",
        "12025550300",   "--org", "Delegate customer", NULL};

    lab_path(t->lab, ca, "ca");
    lab_path(t->lab, sca_key, "test/sca.key");
    lab_path(t->lab, sca, "test/sca.pem");
    lab_path(t->lab, key, "test/delegate.key");
    lab_path(t->lab, chain, "test/delegate.pem");
    if (lab_exists(chain))
        return 0;
    if (issue(t, ca, sca_key, sca, sca_extra) != 0)
        return -1;
    return issue(t, ca, key, chain, del_extra);
}

static void test_delegate(struct test *t)
{
    char key[LAB_PATH_MAX], chain[LAB_PATH_MAX], x5u[320];
    char *value;

    if (delegate_chain(t, key, chain) != 0 ||
        publish(t, chain, "delegate-12025550300", x5u) != 0) {
        record_setup(t, "delegate certificate", "could not make it");
        return;
    }
    value = sign_value(t, key, x5u, "12025550300", 0);
    if (value != NULL)
        check_both(t, "delegate, orig in its TNs", value, "12025550300",
                   "pass");
    free(value);
    value = sign_value(t, key, x5u, "12025550450", 0);
    if (value != NULL)
        check_both(t, "delegate, orig not in its TNs", value, "12025550450",
                   "437");
    free(value);
}

/* Revocation, on a certificate made for it so the providers stay valid. */

#define RELOAD_LINE "reloaded the trust anchors and CRL"

/* Counts the reloads that run/serve.log reports. */
static int serve_reloads(const struct test *t)
{
    char log[LAB_PATH_MAX];
    char *text, *p;
    int n = 0;

    lab_path(t->lab, log, "run/serve.log");
    text = lab_read_text(log);
    for (p = text; p != NULL && (p = strstr(p, RELOAD_LINE)) != NULL; p++)
        n++;
    free(text);
    return n;
}

/* Sends SIGHUP to sti serve so that it fetches the PA's CRL again, and
 * waits up to 5 s for its log to confirm; 0 once it did. */
static int reload_serve(struct test *t)
{
    pid_t pid = lab_service_pid(t->lab, LAB_SERVE);
    struct timespec nap = {0, 100 * 1000 * 1000};
    int before = serve_reloads(t);

    if (pid <= 0 || kill(pid, SIGHUP) != 0)
        return -1;
    for (int i = 0; i < 50; i++) {
        nanosleep(&nap, NULL);
        if (serve_reloads(t) > before)
            return 0;
    }
    return -1;
}

/* Revokes CHAIN's leaf at the PA and brings the CRL to both verifiers:
 * sti verify reads trust/crl.pem, and sti serve fetches the PA's CRL
 * again on SIGHUP (or is restarted when its log does not confirm). */
static int revoke_at_pa(struct test *t, const char *chain)
{
    char pa[LAB_PATH_MAX];
    const char *argv[] = {"sti-pa", "revoke",   "--cert",
                          chain,    "--reason", "keyCompromise",
                          "--dir",  pa,         NULL};

    lab_path(t->lab, pa, "pa");
    if (lab_run(t->lab, argv, NULL, 0) != 0 || lab_refresh_crl(t->lab) != 0)
        return -1;
    if (reload_serve(t) == 0)
        return 0;
    if (lab_service_stop(t->lab, LAB_SERVE) != 0 ||
        lab_start_serve(t->lab) != 0)
        return -1;
    lab_service_url(t->lab, LAB_SERVE, t->serve_url);
    return 0;
}

static void test_revoked(struct test *t)
{
    char key[LAB_PATH_MAX], chain[LAB_PATH_MAX], ca[LAB_PATH_MAX], x5u[320];
    char name[64], spc[16], orig[16], own_key[LAB_PATH_MAX], uuid[37];
    char x5u_file[LAB_PATH_MAX];
    const char *extra[] = {"--spc", spc, "--org", "Provider 1001", NULL};
    char *value = NULL, *own, *own_x5u;

    lab_spc(0, spc);
    lab_orig_tn(0, orig);
    lab_path(t->lab, ca, "ca");
    lab_path(t->lab, key, "test/revoked.key");
    lab_path(t->lab, chain, "test/revoked.pem");
    /* Each run publishes under a new name, because sti serve caches
     * chains by x5u URL.  A name from the time in seconds was reused by a
     * second run within the same second, which then got the revoked chain
     * from the cache. */
    if (sti_uuid4(uuid) != STI_OK) {
        record_setup(t, "revoked certificate", "no random bytes for a name");
        goto out;
    }
    snprintf(name, sizeof(name), "revoked-%s", uuid);
    if (issue(t, ca, key, chain, extra) != 0 ||
        publish(t, chain, name, x5u) != 0 ||
        (value = sign_value(t, key, x5u, orig, 0)) == NULL) {
        record_setup(t, "revoked certificate", "could not make it");
        goto out;
    }
    check_both(t, "extra certificate before revocation", value, orig, "pass");
    if (revoke_at_pa(t, chain) != 0) {
        record_setup(t, "revoked certificate", "revocation at the PA failed");
        goto out;
    }
    check_both(t, "certificate revoked at the PA", value, orig, "437");
    /* The providers' own certificates are untouched.  The call is signed
     * after the new CRL was issued, because the verifier checks the CRL
     * at iat and a CRL issued after iat is not yet valid then. */
    lab_path(t->lab, own_key, "sp/%s/cert.key", spc);
    lab_path(t->lab, x5u_file, "sp/%s/x5u", spc);
    own_x5u = lab_read_text(x5u_file);
    own = own_x5u != NULL ? sign_value(t, own_key, own_x5u, orig, 0) : NULL;
    if (own != NULL)
        check_both(t, "provider 1001 after the revocation", own, orig, "pass");
    free(own);
    free(own_x5u);
out:
    unpublish(t, name);
    free(value);
}

/* Output */

/* Prints a verifier's reason under its row, shortened to one line. */
static void print_detail(const char *detail)
{
    const int width = 100;

    if ((int)strlen(detail) > width)
        printf("    %.*s...\n", width - 3, detail);
    else
        printf("    %s\n", detail);
}

static void print_table(const struct test *t)
{
    size_t failed = 0;

    printf("%-38s %-10s %-8s %-8s %s\n", "step", "via", "expected", "actual",
           "result");
    for (size_t i = 0; i < t->count; i++) {
        const struct step *s = &t->steps[i];

        printf("%-38s %-10s %-8s %-8s %s\n", s->name, s->via, s->expected,
               s->actual, s->passed ? "ok" : "MISMATCH");
        if (s->detail[0] != '\0' &&
            (!s->passed || strcmp(s->actual, "pass") != 0))
            print_detail(s->detail);
        failed += s->passed ? 0 : 1;
    }
    printf("%zu steps: %zu as expected, %zu mismatched\n", t->count,
           t->count - failed, failed);
}

static int print_json(const struct test *t)
{
    struct sti_lab_step rows[MAX_STEPS];
    struct sti_error err;
    char *json;

    for (size_t i = 0; i < t->count; i++) {
        const struct step *s = &t->steps[i];

        rows[i] = (struct sti_lab_step){s->name,   s->via,    s->expected,
                                        s->actual, s->passed, s->detail};
    }
    if (sti_lab_steps_to_json(rows, t->count, &json, &err) != STI_OK)
        return cli_fail("cannot build the result", &err);
    printf("%s\n", json);
    sti_free(json);
    return CLI_EXIT_OK;
}

/* Checks that the services the tests need are up. */
static int services_up(const struct lab *lab)
{
    static const int needed[] = {LAB_PA, LAB_CR, LAB_SERVE};

    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (lab_service_pid(lab, needed[i]) == 0) {
            cli_errorf("service %s is not running; run 'sti lab up --dir %s'",
                       lab_service_name(needed[i]), lab->dir);
            return 0;
        }
    }
    return 1;
}

int lab_test(struct lab *lab)
{
    struct test *t = calloc(1, sizeof(*t));
    int rc = CLI_EXIT_OK;

    if (t == NULL)
        return CLI_EXIT_FAIL;
    if (!services_up(lab)) {
        free(t);
        return CLI_EXIT_FAIL;
    }
    t->lab = lab;
    lab_path(lab, t->roots, "trust/ca-roots.pem");
    lab_path(lab, t->crl, "trust/crl.pem");
    lab_path(lab, t->signer, "pa/pa.crt");
    lab_path(lab, t->tls, "trust/tls.pem");
    lab_service_url(lab, LAB_SERVE, t->serve_url);
    lab_service_url(lab, LAB_CR, t->cr_url);
    t->secsipidx = access(SECSIPIDX, X_OK) == 0;
    (void)lab_refresh_crl(lab);
    for (int i = 0; i < lab_provider_count(lab); i++)
        test_provider(t, i);
    test_claims(t);
    test_untrusted(t);
    test_delegate(t);
    test_revoked(t);
    if (lab->json)
        rc = print_json(t);
    else
        print_table(t);
    for (size_t i = 0; i < t->count; i++)
        if (!t->steps[i].passed)
            rc = CLI_EXIT_FAIL;
    if (t->count == 0)
        rc = CLI_EXIT_FAIL;
    free(t);
    return rc;
}
