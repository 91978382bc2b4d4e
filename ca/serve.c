/*
 * sti-ca serve: the ACME server (RFC 8555) with the tkauth-01 challenge.
 * Certificates are issued by the CA's intermediate, recorded in its
 * database and, when an STI-CR is configured, published there.
 */
#include "ca.h"

#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_AUTHORITIES 8
#define ACME_DATABASE "acme.db"
#define CA_TLS_CERT "tls.crt"
#define CA_TLS_KEY "tls.key"
#define CA_TLS_DAYS 825 /* the same lifetime sti-pa init gives its own */

struct serve_opts {
    const char *dir;
    const char *listen;
    const char *port_file;
    const char *tls_cert;
    const char *tls_key;
    int plain_http;
    const char *base_url;
    const char *pass_source;
    const char *authority_files[MAX_AUTHORITIES];
    size_t authority_count;
    const char *authority_url;
    const char *cr_url;
    const char *cr_token_source;
    const char *cr_ca_file;
    int cr_insecure;
    long validity_days;
    long skew_s;
    int eab_required;
    const char *eab_id; /* --add-eab: store this key id and exit */
    const char *hmac_source;
};

/* State shared by the issue, publish and revoke callbacks. */
struct serve_state {
    const struct serve_opts *o;
    struct ca *ca;
    char *cr_token;
};

static const char usage_text[] =
    "Usage: sti-ca serve --dir DIR --token-authority PA.pem [OPTIONS]\n"
    "\n"
    "Run the ACME server (RFC 8555) with the tkauth-01 challenge (RFC 9447)\n"
    "for TNAuthList identifiers (RFC 9448).  The directory is at\n"
    "BASE/acme/directory.\n"
    "\n"
    "  --dir DIR               the CA directory (sti-ca init)\n"
    "  --pass SOURCE           passphrase of the intermediate key:\n"
    "                          file:PATH, env:VAR or fd:N\n"
    "  --listen HOST:PORT      address to listen on (default 127.0.0.1:0;\n"
    "                          port 0 picks a free port)\n"
    "  --port-file FILE        write the bound port here once listening\n"
    "  --tls-cert FILE         HTTPS certificate chain (PEM); default\n"
    "                          DIR/tls.crt, self-signed for 127.0.0.1 and\n"
    "                          localhost and created on first start\n"
    "  --tls-key FILE          HTTPS private key (PEM); default DIR/tls.key\n"
    "  --http                  serve plain HTTP (lab only)\n"
    "  --base-url URL          URL clients use, when not the Host header's\n"
    "  --token-authority FILE  STI-PA certificate whose SPC tokens are\n"
    "                          trusted; repeat for more (at most 8)\n"
    "  --token-authority-url URL\n"
    "                          the STI-PA URL named in challenges\n"
    "  --cr URL                STI-CR API base URL to publish chains to\n"
    "  --cr-token SOURCE       its API bearer token: file:, env: or fd:\n"
    "  --cr-ca-file FILE       CA certificates to trust for the STI-CR\n"
    "  --cr-insecure           lab only: skip the STI-CR's HTTPS checks\n"
    "  --validity DAYS         certificate validity (default 365), capped\n"
    "                          by the SPC token's exp\n"
    "  --token-skew SECONDS    clock skew allowed on token exp and nbf\n"
    "                          (default 60)\n"
    "  --eab-required          accounts need External Account Binding;\n"
    "                          add keys with 'sti-ca serve --add-eab'\n"
    "  --help                  show this help\n"
    "\n"
    "       sti-ca serve --dir DIR --add-eab KEY_ID --hmac-key SOURCE\n"
    "\n"
    "adds an External Account Binding key (base64url, at least 16 bytes)\n"
    "and exits.  Exit status: 0 stopped by SIGTERM or key added, 1 failure,\n"
    "2 usage error.\n";

/* Options that take a string, stored at OFFSET in struct serve_opts. */
static const struct cli_string_option string_options[] = {
    {"dir", offsetof(struct serve_opts, dir)},
    {"pass", offsetof(struct serve_opts, pass_source)},
    {"listen", offsetof(struct serve_opts, listen)},
    {"port-file", offsetof(struct serve_opts, port_file)},
    {"tls-cert", offsetof(struct serve_opts, tls_cert)},
    {"tls-key", offsetof(struct serve_opts, tls_key)},
    {"base-url", offsetof(struct serve_opts, base_url)},
    {"token-authority-url", offsetof(struct serve_opts, authority_url)},
    {"cr", offsetof(struct serve_opts, cr_url)},
    {"cr-token", offsetof(struct serve_opts, cr_token_source)},
    {"cr-ca-file", offsetof(struct serve_opts, cr_ca_file)},
    {"add-eab", offsetof(struct serve_opts, eab_id)},
    {"hmac-key", offsetof(struct serve_opts, hmac_source)},
};
#define STRING_OPTIONS (sizeof(string_options) / sizeof(string_options[0]))

enum {
    O_STRING = 256,
    O_AUTHORITY,
    O_HTTP,
    O_CR_INSECURE,
    O_EAB_REQUIRED,
    O_VALIDITY,
    O_SKEW,
    O_HELP
};

static const struct option other_options[] = {
    {"token-authority", required_argument, NULL, O_AUTHORITY},
    {"http", no_argument, NULL, O_HTTP},
    {"cr-insecure", no_argument, NULL, O_CR_INSECURE},
    {"eab-required", no_argument, NULL, O_EAB_REQUIRED},
    {"validity", required_argument, NULL, O_VALIDITY},
    {"token-skew", required_argument, NULL, O_SKEW},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};
#define OTHER_OPTIONS (sizeof(other_options) / sizeof(other_options[0]))

/* Handles one option other than the string ones; 0 or a usage error. */
static int parse_other(int c, const char *arg, struct serve_opts *o)
{
    if (c == O_HTTP)
        o->plain_http = 1;
    else if (c == O_CR_INSECURE)
        o->cr_insecure = 1;
    else if (c == O_EAB_REQUIRED)
        o->eab_required = 1;
    else if (c == O_AUTHORITY && o->authority_count == MAX_AUTHORITIES)
        return cli_usage_error("at most %d --token-authority files",
                               MAX_AUTHORITIES);
    else if (c == O_AUTHORITY)
        o->authority_files[o->authority_count++] = arg;
    else if (c == O_VALIDITY &&
             cli_parse_long(arg, 1, 3650, &o->validity_days) != 0)
        return cli_usage_error("invalid --validity '%s'; use 1 to 3650 days",
                               arg);
    else if (c == O_SKEW && cli_parse_long(arg, 1, 3600, &o->skew_s) != 0)
        return cli_usage_error("invalid --token-skew '%s'; use 1 to 3600 "
                               "seconds",
                               arg);
    else if (c != O_VALIDITY && c != O_SKEW)
        return CLI_EXIT_USAGE;
    return 0;
}

/* Returns 0, a usage error, or -1 after printing --help. */
static int parse_options(int argc, char **argv, struct serve_opts *o)
{
    struct option longopts[STRING_OPTIONS + OTHER_OPTIONS];
    int c, index = 0, rc;

    cli_longopts(longopts, string_options, STRING_OPTIONS, O_STRING,
                 other_options);
    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, &index)) != -1) {
        if (c == O_HELP) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (c == O_STRING)
            cli_set_string_option(o, &string_options[index], optarg);
        else if ((rc = parse_other(c, optarg, o)) != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

static int check_options(const struct serve_opts *o)
{
    if (o->dir == NULL)
        return cli_usage_error("--dir is required");
    if (o->authority_count == 0)
        return cli_usage_error("--token-authority is required: the STI-PA "
                               "certificate that signs SPC tokens");
    if (o->plain_http && (o->tls_cert || o->tls_key))
        return cli_usage_error("--http and --tls-cert/--tls-key exclude each "
                               "other");
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return cli_usage_error("--tls-cert and --tls-key go together");
    if ((o->cr_url == NULL) != (o->cr_token_source == NULL))
        return cli_usage_error("--cr and --cr-token go together");
    return 0;
}

/*
 * Without --tls-cert and --tls-key, HTTPS uses DIR/tls.crt and DIR/tls.key,
 * a self-signed certificate for 127.0.0.1 and localhost made on first use.
 */
static int default_tls(struct serve_opts *o, char **cert, char **key)
{
    struct sti_error err;
    int have_cert, have_key;

    *cert = cli_path_join(o->dir, CA_TLS_CERT);
    *key = cli_path_join(o->dir, CA_TLS_KEY);
    if (*cert == NULL || *key == NULL)
        return cli_fail("out of memory", NULL);
    have_cert = access(*cert, F_OK) == 0;
    have_key = access(*key, F_OK) == 0;
    if (have_cert != have_key) {
        cli_errorf("only one of %s and %s exists; remove it or give "
                   "--tls-cert and --tls-key",
                   *cert, *key);
        return CLI_EXIT_FAIL;
    }
    if (!have_cert &&
        sti_tls_selfsigned_create(*cert, *key, CA_TLS_DAYS, &err) != STI_OK)
        return cli_fail("cannot create the TLS certificate", &err);
    o->tls_cert = *cert;
    o->tls_key = *key;
    return 0;
}

/* Callbacks */

/* The O= value of an RFC 2253 subject, or NULL. */
static char *subject_organization(const char *subject)
{
    const char *p = subject;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, "O=", 2) == 0) {
            const char *end = p + 2;

            while (*end != '\0' && !(*end == ',' && end[-1] != '\\'))
                end++;
            return strndup(p + 2, (size_t)(end - p - 2));
        }
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return NULL;
}

static int issue_cert(void *arg, const struct sti_acme_issue_request *r,
                      struct sti_chain **chain, struct sti_error *err)
{
    struct serve_state *s = arg;
    struct sti_cert_request req;
    struct sti_cert *leaf = NULL;
    char *subject = sti_csr_subject(r->csr);
    char *org = subject ? subject_organization(subject) : NULL;
    int rc;

    memset(&req, 0, sizeof(req));
    req.kind = r->is_ca ? STI_CERT_SCA : STI_CERT_SP;
    req.profile = s->ca->profile->name;
    req.organization = org ? org : ca_config_get(s->ca, "organization");
    req.country = ca_config_get(s->ca, "country");
    req.subject_key = r->subject_key;
    req.tnauth = r->tnauth;
    req.crl_url = ca_config_get(s->ca, "crl_url");
    req.crl_issuer = s->ca->crl_issuer;
    req.not_before = r->not_before;
    req.validity_days = r->validity_days;
    rc = sti_castore_issue(s->ca->store, &req, s->ca->intermediate,
                           s->ca->intermediate_key, &leaf, err);
    if (rc == STI_OK) {
        *chain = sti_chain_new();
        if (*chain == NULL || sti_chain_push(*chain, leaf) != STI_OK ||
            sti_chain_push(*chain, s->ca->intermediate) != STI_OK)
            rc = STI_ERR_NOMEM;
    }
    sti_cert_free(leaf);
    sti_free(subject);
    free(org);
    return rc;
}

/* Publishes under "<SPC>-<serial>" (or "cert-<serial>" without an SPC). */
static int publish_chain(void *arg, const struct sti_cert *leaf,
                         const char *pem, char **x5u, struct sti_error *err)
{
    struct serve_state *s = arg;
    struct sti_http_options http;
    struct sti_tnauth *list = NULL;
    const char *spc = NULL;
    char *serial = sti_cert_serial_hex(leaf), name[160];
    int rc;

    if (sti_cert_get_tnauth(leaf, &list, NULL) == STI_OK)
        spc = sti_tnauth_get0_spc(list);
    snprintf(name, sizeof(name), "%s-%s", spc ? spc : "cert",
             serial ? serial : "0");
    memset(&http, 0, sizeof(http));
    http.ca_file = s->o->cr_ca_file;
    http.insecure_tls = s->o->cr_insecure;
    rc = sti_acme_cr_publish(s->o->cr_url, s->cr_token, name, pem, &http, x5u,
                             err);
    sti_tnauth_free(list);
    sti_free(serial);
    return rc;
}

static int revoke_cert(void *arg, const struct sti_cert *cert, int reason,
                       struct sti_error *err)
{
    struct serve_state *s = arg;
    char *serial = sti_cert_serial_hex(cert);
    int rc = sti_castore_revoke(s->ca->store, serial, reason, 0, err);

    sti_free(serial);
    return rc;
}

/* Running */

static int load_authorities(const struct serve_opts *o, struct sti_cert **certs)
{
    struct sti_error err;

    for (size_t i = 0; i < o->authority_count; i++) {
        if (sti_cert_load(o->authority_files[i], &certs[i], &err) != STI_OK) {
            cli_errorf("cannot load --token-authority %s: %s",
                       o->authority_files[i], err.message);
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

static int write_port(const char *path, int port)
{
    char text[16];
    struct sti_error err;

    snprintf(text, sizeof(text), "%d\n", port);
    if (path != NULL &&
        sti_file_write(path, text, strlen(text), 0644, 0, &err) != STI_OK)
        return cli_fail("cannot write the port file", &err);
    return 0;
}

static int run_server(const struct serve_opts *o, struct sti_acme_server *srv)
{
    static volatile sig_atomic_t stop;
    struct sti_httpd_config hcfg;
    struct sti_httpd *httpd = NULL;
    struct timespec tick = {0, 200 * 1000 * 1000};
    struct sti_error err;

    memset(&hcfg, 0, sizeof(hcfg));
    hcfg.listen = o->listen;
    hcfg.tls_cert_file = o->tls_cert;
    hcfg.tls_key_file = o->tls_key;
    hcfg.access_log = 1;
    cli_handle_stop_signals(&stop);
    if (sti_httpd_start(&hcfg, sti_acme_server_handle, srv, &httpd, &err))
        return cli_fail("cannot start the server", &err);
    if (write_port(o->port_file, sti_httpd_port(httpd)) != 0) {
        sti_httpd_stop(httpd);
        return CLI_EXIT_FAIL;
    }
    sti_log(STI_LOG_INFO, "ACME server listening on port %d (%s)",
            sti_httpd_port(httpd), o->plain_http ? "http" : "https");
    while (!stop)
        nanosleep(&tick, NULL);
    sti_log(STI_LOG_INFO, "stopping");
    sti_httpd_stop(httpd);
    return CLI_EXIT_OK;
}

static int serve(const struct serve_opts *o, struct serve_state *s)
{
    struct sti_cert *authorities[MAX_AUTHORITIES] = {NULL};
    struct sti_acme_server_config cfg;
    struct sti_acme_server *srv = NULL;
    char *db_path = cli_path_join(o->dir, ACME_DATABASE);
    struct sti_error err;
    int rc = load_authorities(o, authorities);

    memset(&cfg, 0, sizeof(cfg));
    cfg.db_path = db_path;
    cfg.base_url = o->base_url;
    cfg.token_authorities = (const struct sti_cert *const *)authorities;
    cfg.token_authority_count = o->authority_count;
    cfg.token_authority_url = o->authority_url;
    cfg.token_skew_s = o->skew_s;
    cfg.validity_days = (int)o->validity_days;
    cfg.eab_required = o->eab_required;
    cfg.issue = issue_cert;
    cfg.publish = o->cr_url ? publish_chain : NULL;
    cfg.revoke = revoke_cert;
    cfg.callback_arg = s;
    if (rc == 0 && sti_acme_server_new(&cfg, &srv, &err) != STI_OK)
        rc = cli_fail("cannot open the ACME database", &err);
    if (rc == 0)
        rc = run_server(o, srv);
    sti_acme_server_free(srv);
    for (size_t i = 0; i < o->authority_count; i++)
        sti_cert_free(authorities[i]);
    free(db_path);
    return rc;
}

static int add_eab(const char *dir, const char *key_id, const char *source)
{
    char *db_path = cli_path_join(dir, ACME_DATABASE), *text = NULL;
    unsigned char *key = NULL;
    size_t len = 0;
    struct sti_error err;
    int rc = CLI_EXIT_OK;

    if (source == NULL) {
        free(db_path);
        return cli_usage_error("--add-eab needs --hmac-key SOURCE");
    }
    if (sti_secret_read(source, &text, &err) != STI_OK)
        rc = cli_fail("cannot read the HMAC key", &err);
    else if (sti_b64url_decode(text, strlen(text), &key, &len) != STI_OK)
        rc = cli_usage_error("the HMAC key is not base64url");
    else if (sti_acme_eab_add(db_path, key_id, key, len, &err) != STI_OK)
        rc = cli_fail("cannot add the EAB key", &err);
    else
        printf("EAB key id %s added\n", key_id);
    sti_secret_free(text);
    if (key != NULL)
        memset(key, 0, len);
    free(key);
    free(db_path);
    return rc;
}

int ca_cmd_serve(int argc, char **argv)
{
    struct serve_opts o;
    struct serve_state s;
    char *tls_cert = NULL, *tls_key = NULL;
    int rc = parse_options(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (o.eab_id != NULL)
        return o.dir ? add_eab(o.dir, o.eab_id, o.hmac_source)
                     : cli_usage_error("--dir is required");
    if ((rc = check_options(&o)) != 0)
        return rc;
    sti_log_init("sti-ca", STI_LOG_INFO);
    memset(&s, 0, sizeof(s));
    s.o = &o;
    rc = ca_open(o.dir, CA_WITH_KEYS, o.pass_source, &s.ca);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (o.cr_token_source != NULL &&
        ca_read_secret(o.cr_token_source, "STI-CR API token", &s.cr_token))
        rc = CLI_EXIT_FAIL;
    if (rc == CLI_EXIT_OK && !o.plain_http && o.tls_cert == NULL)
        rc = default_tls(&o, &tls_cert, &tls_key);
    if (rc == CLI_EXIT_OK)
        rc = serve(&o, &s);
    sti_secret_free(s.cr_token);
    ca_close(s.ca);
    free(tls_cert);
    free(tls_key);
    return rc;
}
