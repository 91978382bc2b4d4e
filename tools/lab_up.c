/*
 * sti lab up: creates what is missing and starts what is stopped.  Each
 * step checks for its result first, so a second run reuses the lab.
 */
#include "cli.h"
#include "lab.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Organization names in the lab's certificates. */
#define PA_ORG "stilab PA"
#define CA_ORG "stilab CA"

static int ensure_dirs(const struct lab *lab)
{
    static const char *const subdirs[] = {"sp", "trust", "run", "test"};
    char path[LAB_PATH_MAX];

    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        lab_path(lab, path, "%s", subdirs[i]);
        if (lab_mkdir(path, 0755) != 0)
            return -1;
    }
    lab_path(lab, path, "secrets");
    return lab_mkdir(path, 0700);
}

int lab_fetch(const struct lab *lab, const char *url, const char *path)
{
    char ca_file[LAB_PATH_MAX];
    struct sti_http_options opts = {0};
    struct sti_http_response *resp = NULL;
    struct sti_error err;
    int rc = -1;

    lab_path(lab, ca_file, "trust/tls.pem");
    opts.ca_file = ca_file;
    if (sti_http_request("GET", url, NULL, 0, &opts, &resp, &err) != STI_OK) {
        cli_fail(url, &err);
        goto out;
    }
    if (resp->status != 200) {
        cli_errorf("%s returned HTTP status %ld", url, resp->status);
        goto out;
    }
    if (sti_file_write(path, resp->body, resp->body_len, 0644, 0, &err) !=
        STI_OK) {
        cli_fail("cannot write file", &err);
        goto out;
    }
    rc = 0;
out:
    sti_http_response_free(resp);
    return rc;
}

/* The PA: init once, then serve. */
static int up_pa(const struct lab *lab)
{
    char dir[LAB_PATH_MAX];

    lab_path(lab, dir, "pa");
    if (!lab_exists(dir)) {
        /* The CA caps a certificate's notAfter at its SPC token's exp,
         * so tokens live as long as the lab's certificates (a year). */
        const char *init[] = {
            "sti-pa",           "init",     "--dir", dir, "--org", PA_ORG,
            "--token-lifetime", "31536000", NULL};

        if (lab_run(lab, init, NULL, 0) != 0)
            return -1;
    }
    if (lab_service_pid(lab, LAB_PA) == 0) {
        const char *serve[] = {"sti-pa", "serve", "--dir", dir, NULL};

        return lab_service_start(lab, LAB_PA, serve);
    }
    return 0;
}

/* The repository and the API token the CA publishes with. */
static int up_cr(const struct lab *lab)
{
    char dir[LAB_PATH_MAX], token[LAB_PATH_MAX];
    char *out = NULL;

    lab_path(lab, dir, "cr");
    lab_path(lab, token, "secrets/cr.token");
    if (!lab_exists(dir)) {
        const char *init[] = {"sti-cr", "init", "--dir", dir, NULL};

        if (lab_run(lab, init, NULL, 0) != 0)
            return -1;
    }
    if (!lab_exists(token)) {
        const char *add[] = {"sti-cr", "token",  "add", "--dir",
                             dir,      "--name", "lab", NULL};
        int rc = lab_run(lab, add, &out, 0);

        if (rc == 0)
            rc = lab_write_text(token, out, 0600);
        if (out != NULL)
            sti_secret_free(out);
        if (rc != 0)
            return -1;
    }
    if (lab_service_pid(lab, LAB_CR) == 0) {
        const char *serve[] = {"sti-cr", "serve", "--dir", dir, NULL};

        return lab_service_start(lab, LAB_CR, serve);
    }
    return 0;
}

/* The CA: root and intermediate, naming the PA's CRL, approved by the
 * PA. */
static int up_ca(const struct lab *lab)
{
    char dir[LAB_PATH_MAX], pa_cert[LAB_PATH_MAX], root[LAB_PATH_MAX];
    char approved[LAB_PATH_MAX], pa_dir[LAB_PATH_MAX], url[256];
    char crl_url[300];

    lab_path(lab, dir, "ca");
    lab_path(lab, pa_dir, "pa");
    lab_path(lab, pa_cert, "pa/pa.crt");
    lab_path(lab, root, "ca/root.pem");
    lab_path(lab, approved, "run/ca-approved");
    lab_service_url(lab, LAB_PA, url);
    snprintf(crl_url, sizeof(crl_url), "%s/api/v1/crl", url);
    if (!lab_exists(dir)) {
        const char *init[] = {"sti-ca",    "init",  "--dir",
                              dir,         "--org", CA_ORG,
                              "--crl-url", crl_url, "--crl-issuer-cert",
                              pa_cert,     NULL};

        if (lab_run(lab, init, NULL, 0) != 0)
            return -1;
    }
    if (!lab_exists(approved)) {
        const char *add[] = {"sti-pa", "ca",   "add", root,
                             "--dir",  pa_dir, NULL};

        if (lab_run(lab, add, NULL, 0) != 0 ||
            lab_write_text(approved, "yes\n", 0644) != 0)
            return -1;
    }
    return 0;
}

/* Appends the file at PATH (when it exists) to BUF. */
static int append_file(char **buf, size_t *len, const char *path)
{
    unsigned char *data;
    size_t n;
    struct sti_error err;
    char *grown;

    if (!lab_exists(path))
        return 0;
    if (sti_file_read(path, &data, &n, &err) != STI_OK) {
        cli_fail("cannot read file", &err);
        return -1;
    }
    grown = realloc(*buf, *len + n + 1);
    if (grown != NULL) {
        memcpy(grown + *len, data, n);
        *len += n;
        grown[*len] = '\0';
        *buf = grown;
    }
    free(data);
    return grown != NULL ? 0 : -1;
}

/* trust/tls.pem: the self-signed TLS certificates of the lab's HTTPS
 * services, for its clients. */
static int write_tls_trust(const struct lab *lab)
{
    static const char *const files[] = {"pa/tls.crt", "cr/tls-cert.pem",
                                        "ca/tls.crt"};
    char path[LAB_PATH_MAX], *buf = calloc(1, 1);
    size_t len = 0;
    int rc = buf != NULL ? 0 : -1;

    for (size_t i = 0; rc == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
        lab_path(lab, path, "%s", files[i]);
        rc = append_file(&buf, &len, path);
    }
    lab_path(lab, path, "trust/tls.pem");
    if (rc == 0)
        rc = lab_write_text(path, buf, 0644);
    free(buf);
    return rc;
}

/* trust/ca-roots.pem from the PA's signed CA list, checked against the PA
 * certificate, as a verifier would get its anchors. */
static int fetch_ca_list(const struct lab *lab)
{
    char url[256], full[300], list[LAB_PATH_MAX], roots[LAB_PATH_MAX];
    char pa_cert[LAB_PATH_MAX];

    lab_service_url(lab, LAB_PA, url);
    snprintf(full, sizeof(full), "%s/api/v1/ca-list", url);
    lab_path(lab, list, "trust/ca-list.json");
    lab_path(lab, roots, "trust/ca-roots.pem");
    lab_path(lab, pa_cert, "pa/pa.crt");
    if (lab_fetch(lab, full, list) != 0)
        return -1;
    {
        const char *verify[] = {"sti-pa", "calist",    "--verify",
                                list,     "--pa-cert", pa_cert,
                                "--out",  roots,       NULL};

        return lab_run(lab, verify, NULL, 0) == 0 ? 0 : -1;
    }
}

int lab_refresh_crl(const struct lab *lab)
{
    char url[256], full[300], path[LAB_PATH_MAX];

    lab_service_url(lab, LAB_PA, url);
    snprintf(full, sizeof(full), "%s/api/v1/crl?format=pem", url);
    lab_path(lab, path, "trust/crl.pem");
    return lab_fetch(lab, full, path);
}

/* Registers provider INDEX with the PA: the SP and its API user, whose
 * generated password is kept in secrets/SPC.password. */
static int register_provider(const struct lab *lab, int index)
{
    char spc[16], pa_dir[LAB_PATH_MAX], pw[LAB_PATH_MAX], mark[LAB_PATH_MAX];
    char name[64], user[32], source[LAB_PATH_MAX + 8], *text;
    unsigned char random[18];

    lab_spc(index, spc);
    lab_path(lab, pa_dir, "pa");
    lab_path(lab, pw, "secrets/%s.password", spc);
    lab_path(lab, mark, "sp/%s/registered", spc);
    if (lab_exists(mark))
        return 0;
    if (!lab_exists(pw)) {
        if (sti_random_bytes(random, sizeof(random)) != STI_OK ||
            (text = sti_b64url_encode(random, sizeof(random))) == NULL) {
            cli_errorf("cannot generate a password");
            return -1;
        }
        if (lab_write_text(pw, text, 0600) != 0) {
            sti_secret_free(text);
            return -1;
        }
        sti_secret_free(text);
    }
    snprintf(name, sizeof(name), "Provider %s", spc);
    snprintf(user, sizeof(user), "sp%s", spc);
    snprintf(source, sizeof(source), "file:%s", pw);
    {
        const char *sp[] = {"sti-pa", "sp", "add",   "--spc", spc,
                            "--name", name, "--dir", pa_dir,  NULL};
        const char *ua[] = {"sti-pa", "user",   "add",  "--spc",
                            spc,      "--name", user,   "--password",
                            source,   "--dir",  pa_dir, NULL};

        /* The provider may exist from a run that stopped half-way, so a
         * failed sp add is ignored and the user add decides. */
        lab_run(lab, sp, NULL, 1);
        if (lab_run(lab, ua, NULL, 0) != 0)
            return -1;
    }
    return lab_write_text(mark, "yes\n", 0644);
}

/* Returns 1 when the chain at PATH has a leaf that is valid for another
 * day and not listed in the lab's CRL. */
static int chain_current(const struct lab *lab, const char *path)
{
    char crl_path[LAB_PATH_MAX];
    struct sti_chain *chain = NULL;
    struct sti_crl *crl = NULL;
    const struct sti_cert *leaf;
    int ok;

    if (sti_chain_load(path, &chain, NULL) != STI_OK)
        return 0;
    lab_path(lab, crl_path, "trust/crl.pem");
    (void)sti_crl_load(crl_path, &crl, NULL);
    leaf = sti_chain_count(chain) > 0 ? sti_chain_get0(chain, 0) : NULL;
    ok = leaf != NULL && sti_cert_not_after(leaf) > time(NULL) + 86400 &&
         (crl == NULL || !sti_crl_lists(crl, leaf));
    sti_crl_free(crl);
    sti_chain_free(chain);
    return ok;
}

/* Obtains provider INDEX's certificate over ACME with an SPC token from
 * the PA. */
static int obtain_acme(const struct lab *lab, int index)
{
    char spc[16], acct[LAB_PATH_MAX], key[LAB_PATH_MAX], chain[LAB_PATH_MAX];
    char summary[LAB_PATH_MAX], pw[LAB_PATH_MAX + 8], tls[LAB_PATH_MAX];
    char pw_file[LAB_PATH_MAX];
    char ca_url[256], pa_url[256], dir_url[300], user[32], org[64];

    lab_spc(index, spc);
    lab_path(lab, acct, "sp/%s/account.key", spc);
    lab_path(lab, key, "sp/%s/cert.key.new", spc);
    lab_path(lab, chain, "sp/%s/chain.pem.new", spc);
    lab_path(lab, summary, "sp/%s/acme.json", spc);
    lab_path(lab, tls, "trust/tls.pem");
    lab_path(lab, pw_file, "secrets/%s.password", spc);
    snprintf(pw, sizeof(pw), "file:%s", pw_file);
    lab_service_url(lab, LAB_CA, ca_url);
    lab_service_url(lab, LAB_PA, pa_url);
    snprintf(dir_url, sizeof(dir_url), "%s/acme/directory", ca_url);
    snprintf(user, sizeof(user), "sp%s", spc);
    snprintf(org, sizeof(org), "Provider %s", spc);
    unlink(key);
    {
        const char *acme[] = {"sti",        "acme",  "--directory",    dir_url,
                              "--spc",      spc,     "--account-key",  acct,
                              "--key",      key,     "--chain",        chain,
                              "--summary",  summary, "--organization", org,
                              "--pa",       pa_url,  "--user",         user,
                              "--password", pw,      "--ca-file",      tls,
                              NULL};

        return lab_run(lab, acme, NULL, 0) == 0 ? 0 : -1;
    }
}

/* Moves NAME.new over NAME for the key and the chain. */
static int commit_files(const struct lab *lab, const char *spc)
{
    static const char *const names[] = {"cert.key", "chain.pem"};
    char from[LAB_PATH_MAX], to[LAB_PATH_MAX];

    for (size_t i = 0; i < 2; i++) {
        lab_path(lab, from, "sp/%s/%s.new", spc, names[i]);
        lab_path(lab, to, "sp/%s/%s", spc, names[i]);
        if (rename(from, to) != 0) {
            cli_errorf("cannot rename %s to %s", from, to);
            return -1;
        }
    }
    return 0;
}

/* Returns the x5u that the CA published the provider's chain at, moved to
 * the repository's current address, or NULL. */
static char *acme_x5u(const struct lab *lab, const char *spc)
{
    char path[LAB_PATH_MAX], url[256], *json, *x5u = NULL, *moved = NULL;
    const char *name;
    size_t n;

    lab_path(lab, path, "sp/%s/acme.json", spc);
    json = lab_read_text(path);
    if (json == NULL ||
        sti_json_get_text(json, strlen(json), "x5u", &x5u, NULL) != STI_OK ||
        (name = strstr(x5u, "/certs/")) == NULL)
        goto out;
    lab_service_url(lab, LAB_CR, url);
    n = strlen(url) + strlen(name) + 1;
    moved = malloc(n);
    if (moved != NULL)
        snprintf(moved, n, "%s%s", url, name);
out:
    sti_free(x5u);
    free(json);
    return moved;
}

/* Records the provider's x5u URL: where the CA published the chain, or,
 * when it did not, where the lab publishes it under the SPC. */
static int publish(const struct lab *lab, const char *spc)
{
    char cr[LAB_PATH_MAX], chain[LAB_PATH_MAX], x5u_file[LAB_PATH_MAX];
    char url[256], x5u[320], *published = acme_x5u(lab, spc);
    const char *pub[] = {"sti-cr", "publish", "--dir", cr,
                         chain,    "--name",  spc,     NULL};
    int rc;

    lab_path(lab, cr, "cr");
    lab_path(lab, chain, "sp/%s/chain.pem", spc);
    lab_path(lab, x5u_file, "sp/%s/x5u", spc);
    lab_service_url(lab, LAB_CR, url);
    if (published != NULL) {
        snprintf(x5u, sizeof(x5u), "%s", published);
        free(published);
    } else {
        snprintf(x5u, sizeof(x5u), "%s/certs/%s.pem", url, spc);
        if (lab_run(lab, pub, NULL, 0) != 0)
            return -1;
    }
    rc = lab_write_text(x5u_file, x5u, 0644);
    if (rc == 0 && lab_wait_served(lab, x5u) != 0) {
        cli_errorf("%s is not served; see %s/run/cr.log", x5u, lab->dir);
        rc = -1;
    }
    return rc;
}

int lab_wait_served(const struct lab *lab, const char *url)
{
    char tls[LAB_PATH_MAX];
    struct sti_http_options opts = {0};

    lab_path(lab, tls, "trust/tls.pem");
    opts.ca_file = tls;
    /* sti-cr serve picks up chains published from the command line on a
     * timer (500 ms by default), so give it 5 s. */
    for (int i = 0; i < 100; i++) {
        struct sti_http_response *resp = NULL;
        long status = 0;

        if (sti_http_request("GET", url, NULL, 0, &opts, &resp, NULL) == STI_OK)
            status = resp->status;
        sti_http_response_free(resp);
        if (status == 200)
            return 0;
        usleep(50000);
    }
    return -1;
}

static int up_provider(const struct lab *lab, int index)
{
    char spc[16], dir[LAB_PATH_MAX], chain[LAB_PATH_MAX];

    lab_spc(index, spc);
    lab_path(lab, dir, "sp/%s", spc);
    lab_path(lab, chain, "sp/%s/chain.pem", spc);
    if (lab_mkdir(dir, 0755) != 0 || register_provider(lab, index) != 0)
        return -1;
    if (!chain_current(lab, chain)) {
        printf("%s: obtaining the certificate of provider %s over ACME\n",
               cli_prog, spc);
        if (obtain_acme(lab, index) != 0 || commit_files(lab, spc) != 0)
            return -1;
    }
    return publish(lab, spc);
}

/* Counts the providers that exist, so `up` never drops any. */
int lab_provider_count(const struct lab *lab)
{
    char path[LAB_PATH_MAX], spc[16];
    int n = 0;

    for (int i = 0; i < LAB_MAX_PROVIDERS; i++) {
        lab_spc(i, spc);
        lab_path(lab, path, "sp/%s/registered", spc);
        if (lab_exists(path))
            n = i + 1;
    }
    return n;
}

int lab_start_serve(const struct lab *lab)
{
    char key[LAB_PATH_MAX], calist[300], crl[300], pa_url[256];
    char signer[LAB_PATH_MAX], tls[LAB_PATH_MAX], x5u_file[LAB_PATH_MAX];
    char spc[16], *x5u;
    int rc;

    lab_spc(0, spc);
    lab_path(lab, key, "sp/%s/cert.key", spc);
    lab_path(lab, x5u_file, "sp/%s/x5u", spc);
    /* sti serve fetches the signed CA list and the CRL from the PA over
     * HTTPS, trusting the lab's TLS certificates, and fetches them again
     * on SIGHUP and every 300 s. */
    lab_service_url(lab, LAB_PA, pa_url);
    snprintf(calist, sizeof(calist), "%s/api/v1/ca-list", pa_url);
    snprintf(crl, sizeof(crl), "%s/api/v1/crl", pa_url);
    lab_path(lab, signer, "pa/pa.crt");
    lab_path(lab, tls, "trust/tls.pem");
    x5u = lab_read_text(x5u_file);
    if (x5u == NULL) {
        cli_errorf("%s is missing; run 'sti lab up'", x5u_file);
        return -1;
    }
    {
        /* The lab's repository serves HTTPS on a free port, hence
         * --allow-any-port; http x5u URLs stay rejected. */
        const char *serve[] = {"sti",
                               "serve",
                               "--key",
                               key,
                               "--x5u",
                               x5u,
                               "--ca-list",
                               calist,
                               "--pa-cert",
                               signer,
                               "--crl",
                               crl,
                               "--crl-signer",
                               signer,
                               "--crl-ca-file",
                               tls,
                               "--x5u-ca-file",
                               tls,
                               "--allow-any-port",
                               NULL};

        rc = lab_service_start(lab, LAB_SERVE, serve);
    }
    free(x5u);
    return rc;
}

/* Starts the ACME server, which trusts SPC tokens signed by the PA and
 * publishes each chain it issues to the repository.  On its first start
 * it creates its TLS certificate, ca/tls.crt. */
static int up_acme(const struct lab *lab)
{
    char dir[LAB_PATH_MAX], pa_cert[LAB_PATH_MAX], tls[LAB_PATH_MAX];
    char token_file[LAB_PATH_MAX], token[LAB_PATH_MAX + 8];
    char pa_url[256], cr_url[256];
    const char *serve[] = {"sti-ca",
                           "serve",
                           "--dir",
                           dir,
                           "--token-authority",
                           pa_cert,
                           "--token-authority-url",
                           pa_url,
                           "--cr",
                           cr_url,
                           "--cr-token",
                           token,
                           "--cr-ca-file",
                           tls,
                           NULL};

    if (lab_service_pid(lab, LAB_CA) != 0)
        return 0;
    lab_path(lab, dir, "ca");
    lab_path(lab, pa_cert, "pa/pa.crt");
    lab_path(lab, tls, "trust/tls.pem");
    lab_path(lab, token_file, "secrets/cr.token");
    snprintf(token, sizeof(token), "file:%s", token_file);
    lab_service_url(lab, LAB_PA, pa_url);
    lab_service_url(lab, LAB_CR, cr_url);
    return lab_service_start(lab, LAB_CA, serve);
}

int lab_up(struct lab *lab)
{
    int have;

    if (ensure_dirs(lab) != 0 || up_pa(lab) != 0 || up_cr(lab) != 0 ||
        up_ca(lab) != 0 || write_tls_trust(lab) != 0 || up_acme(lab) != 0 ||
        write_tls_trust(lab) != 0 || fetch_ca_list(lab) != 0 ||
        lab_refresh_crl(lab) != 0)
        return CLI_EXIT_FAIL;
    have = lab_provider_count(lab);
    if (have > lab->providers)
        lab->providers = have;
    for (int i = 0; i < lab->providers; i++)
        if (up_provider(lab, i) != 0)
            return CLI_EXIT_FAIL;
    if (lab_service_pid(lab, LAB_SERVE) == 0 && lab_start_serve(lab) != 0)
        return CLI_EXIT_FAIL;
    return lab_write_summary(lab, 1) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
