/* sti serve: the HTTP signing and verification service. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "Usage: sti serve [OPTION]...\n"
    "Sign and verify PASSporTs over HTTP: POST /stir/v1/signing and\n"
    "POST /stir/v1/verification (ATIS-1000082 JSON), /v1/sign-csv and\n"
    "/v1/check (as the secsipidx HTTP server).\n"
    "\n"
    "Signing (needs both):\n"
    "  --key FILE            P-256 private key in PEM\n"
    "  --pass SOURCE         passphrase of an encrypted key: file:PATH,\n"
    "                        env:VAR or fd:N\n"
    "  --x5u URL             URL of the key's certificate chain\n"
    "Verification (needs --ca-file, --ca-dir or --ca-list):\n"
    "  --ca-file FILE        trust anchors in PEM\n"
    "  --ca-dir DIR          a directory of PEM trust anchors\n"
    "  --ca-list FILE|URL    the PA's signed CA list, whose roots are\n"
    "                        trust anchors (sti-pa's /api/v1/ca-list)\n"
    "  --pa-cert FILE        the PA certificate that signed --ca-list\n"
    "  --crl FILE|URL        the PA's CRL, a file or an http(s) URL\n"
    "  --crl-signer FILE     the CRL signer's certificate (default: tried\n"
    "                        among the --ca-file certificates)\n"
    "  --crl-ca-file FILE    trust for https --crl and --ca-list URLs\n"
    "                        (default: the system store)\n"
    "  --crl-refresh SECONDS fetch --crl and --ca-list URLs again this\n"
    "                        often (default 300; 0 never); SIGHUP\n"
    "                        reloads the anchors, the CA list and the\n"
    "                        CRL at once\n"
    "  --cache DB            SQLite x5u cache shared by processes\n"
    "                        (default: in memory only)\n"
    "  --x5u-ca-file FILE    trust for HTTPS x5u servers (default: the\n"
    "                        system store)\n"
    "  --allow-http          lab only: accept http:// x5u URLs\n"
    "  --allow-any-port      lab only: accept x5u ports other than 443\n"
    "                        and 8443\n"
    "  --freshness SECONDS   maximum age of iat (default 60)\n"
    "  --profile us|fr       telephone number profile (default us)\n"
    "Server:\n"
    "  --listen HOST:PORT    listen address (default 127.0.0.1:8090; port 0\n"
    "                        picks a free port)\n"
    "  --port-file FILE      write the bound port to FILE once listening\n"
    "  --tls-cert FILE       serve HTTPS with this PEM certificate chain\n"
    "  --tls-key FILE        and this PEM private key\n"
    "  --threads N           worker threads, 1 to 64 (default: the number\n"
    "                        of online CPUs)\n"
    "  --max-body BYTES      request body limit (default 65536)\n"
    "  --max-connections N   concurrent connections (default 1024)\n"
    "  --per-ip N            connections per client address (default 0,\n"
    "                        no limit)\n"
    "  --timeout SECONDS     idle connection timeout (default 10)\n"
    "  --no-access-log       do not log one line per request\n"
    "  --no-batch            send each response as soon as it is ready,\n"
    "                        instead of with the others of the worker's\n"
    "                        round (see the man page)\n"
    "  --config FILE         read options from FILE: one 'name = value'\n"
    "                        line per long option; flags take 'yes'\n"
    "  --help                show this help\n"
    "\n"
    "Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 failure,\n"
    "2 usage error.\n";

/* Every option that can also come from --config, by long name. */
enum opt_id {
    O_KEY,
    O_PASS,
    O_X5U,
    O_CA_FILE,
    O_CA_DIR,
    O_CA_LIST,
    O_PA_CERT,
    O_CRL,
    O_CRL_SIGNER,
    O_CRL_CA_FILE,
    O_CRL_REFRESH,
    O_CACHE,
    O_X5U_CA_FILE,
    O_ALLOW_HTTP,
    O_ALLOW_ANY_PORT,
    O_FRESHNESS,
    O_PROFILE,
    O_LISTEN,
    O_PORT_FILE,
    O_TLS_CERT,
    O_TLS_KEY,
    O_THREADS,
    O_MAX_BODY,
    O_MAX_CONNECTIONS,
    O_PER_IP,
    O_TIMEOUT,
    O_NO_ACCESS_LOG,
    O_NO_BATCH,
    O_COUNT
};

/* getopt values: the option id plus this base; --config and --help sit
 * after the table. */
#define OPT_BASE 256
#define OPT_CONFIG (OPT_BASE + O_COUNT)
#define OPT_HELP (OPT_BASE + O_COUNT + 1)

static const struct option longs[] = {
    {"key", required_argument, NULL, OPT_BASE + O_KEY},
    {"pass", required_argument, NULL, OPT_BASE + O_PASS},
    {"x5u", required_argument, NULL, OPT_BASE + O_X5U},
    {"ca-file", required_argument, NULL, OPT_BASE + O_CA_FILE},
    {"ca-dir", required_argument, NULL, OPT_BASE + O_CA_DIR},
    {"ca-list", required_argument, NULL, OPT_BASE + O_CA_LIST},
    {"pa-cert", required_argument, NULL, OPT_BASE + O_PA_CERT},
    {"crl", required_argument, NULL, OPT_BASE + O_CRL},
    {"crl-signer", required_argument, NULL, OPT_BASE + O_CRL_SIGNER},
    {"crl-ca-file", required_argument, NULL, OPT_BASE + O_CRL_CA_FILE},
    {"crl-refresh", required_argument, NULL, OPT_BASE + O_CRL_REFRESH},
    {"cache", required_argument, NULL, OPT_BASE + O_CACHE},
    {"x5u-ca-file", required_argument, NULL, OPT_BASE + O_X5U_CA_FILE},
    {"allow-http", no_argument, NULL, OPT_BASE + O_ALLOW_HTTP},
    {"allow-any-port", no_argument, NULL, OPT_BASE + O_ALLOW_ANY_PORT},
    {"freshness", required_argument, NULL, OPT_BASE + O_FRESHNESS},
    {"profile", required_argument, NULL, OPT_BASE + O_PROFILE},
    {"listen", required_argument, NULL, OPT_BASE + O_LISTEN},
    {"port-file", required_argument, NULL, OPT_BASE + O_PORT_FILE},
    {"tls-cert", required_argument, NULL, OPT_BASE + O_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_BASE + O_TLS_KEY},
    {"threads", required_argument, NULL, OPT_BASE + O_THREADS},
    {"max-body", required_argument, NULL, OPT_BASE + O_MAX_BODY},
    {"max-connections", required_argument, NULL, OPT_BASE + O_MAX_CONNECTIONS},
    {"per-ip", required_argument, NULL, OPT_BASE + O_PER_IP},
    {"timeout", required_argument, NULL, OPT_BASE + O_TIMEOUT},
    {"no-access-log", no_argument, NULL, OPT_BASE + O_NO_ACCESS_LOG},
    {"no-batch", no_argument, NULL, OPT_BASE + O_NO_BATCH},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    /* The first name of --x5u-ca-file, which sti lab passes. */
    {"fetch-ca", required_argument, NULL, OPT_BASE + O_X5U_CA_FILE},
    {NULL, 0, NULL, 0},
};

struct serve_opts {
    const char *val[O_COUNT]; /* NULL when unset; "yes" for a set flag */
    const char *config;
    struct cli_config *cfg;
    long freshness, threads, max_body, crl_refresh;
    long max_connections, per_ip, timeout;
};

/* Returns 0, -1 after --help, or CLI_EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct serve_opts *o)
{
    int c;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c >= OPT_BASE && c < OPT_BASE + O_COUNT)
            o->val[c - OPT_BASE] = longs[c - OPT_BASE].has_arg ? optarg : "yes";
        else if (c == OPT_CONFIG)
            o->config = optarg;
        else if (c == OPT_HELP) {
            fputs(usage, stdout);
            return -1;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Fills the options that the command line left unset from --config. */
static int apply_config(struct serve_opts *o)
{
    const char *names[O_COUNT];
    struct sti_error err;

    if (o->config == NULL)
        return 0;
    if (cli_config_load(o->config, &o->cfg, &err) != STI_OK)
        return cli_fail("cannot read the configuration file", &err);
    for (int i = 0; i < O_COUNT; i++)
        names[i] = longs[i].name;
    if (cli_config_check_keys(o->cfg, names, O_COUNT, &err) != 0)
        return cli_usage_error("%s", err.message);
    for (int i = 0; i < O_COUNT; i++) {
        const char *v = cli_config_get(o->cfg, longs[i].name);

        if (o->val[i] != NULL || v == NULL)
            continue;
        if (!longs[i].has_arg && strcmp(v, "yes") != 0 &&
            strcmp(v, "no") != 0) {
            return cli_usage_error("%s: invalid %s '%s'; use yes or no",
                                   o->config, longs[i].name, v);
        }
        if (longs[i].has_arg || strcmp(v, "yes") == 0)
            o->val[i] = v;
    }
    return 0;
}

static int number(const struct serve_opts *o, int id, long def, long min,
                  long max, long *out)
{
    *out = def;
    if (o->val[id] == NULL || cli_parse_long(o->val[id], min, max, out) == 0)
        return 0;
    return cli_usage_error("invalid --%s '%s'; use a number from %ld to %ld",
                           longs[id].name, o->val[id], min, max);
}

/* One worker per online CPU, within the 1 to 64 that --threads accepts. */
static long default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > 64 ? 64 : n;
}

/* Verification is on when some source of trust anchors is given. */
static int verifying(const struct serve_opts *o)
{
    return o->val[O_CA_FILE] != NULL || o->val[O_CA_DIR] != NULL ||
           o->val[O_CA_LIST] != NULL;
}

static int check_opts(struct serve_opts *o)
{
    const char *const *v = o->val;

    if (number(o, O_FRESHNESS, 60, 1, 86400, &o->freshness) != 0 ||
        number(o, O_THREADS, default_threads(), 1, 64, &o->threads) != 0 ||
        number(o, O_CRL_REFRESH, 300, 0, 7L * 86400, &o->crl_refresh) != 0 ||
        number(o, O_MAX_BODY, 65536, 1024, 16L * 1024 * 1024, &o->max_body) !=
            0 ||
        number(o, O_MAX_CONNECTIONS, 1024, 1, 100000, &o->max_connections) !=
            0 ||
        number(o, O_PER_IP, 0, 0, 100000, &o->per_ip) != 0 ||
        number(o, O_TIMEOUT, 10, 1, 3600, &o->timeout) != 0)
        return CLI_EXIT_USAGE;
    if (v[O_KEY] == NULL && !verifying(o))
        return cli_usage_error("nothing to serve; give --key and --x5u to "
                               "sign, --ca-file, --ca-dir or --ca-list to "
                               "verify");
    if ((v[O_KEY] == NULL) != (v[O_X5U] == NULL))
        return cli_usage_error("signing needs both --key and --x5u");
    if (v[O_CRL_CA_FILE] != NULL && v[O_CRL] == NULL && v[O_CA_LIST] == NULL)
        return cli_usage_error("--crl-ca-file needs a --crl or --ca-list URL");
    if ((v[O_CA_LIST] != NULL && v[O_CA_LIST][0] == '\0') ||
        (v[O_PA_CERT] != NULL && v[O_PA_CERT][0] == '\0'))
        return cli_usage_error("empty --ca-list or --pa-cert; give a file, "
                               "or an http(s) URL for --ca-list");
    if ((v[O_CA_LIST] == NULL) != (v[O_PA_CERT] == NULL))
        return cli_usage_error("the PA's CA list needs both --ca-list and "
                               "--pa-cert, the PA certificate that signed "
                               "it");
    if (v[O_PASS] != NULL && v[O_KEY] == NULL)
        return cli_usage_error("--pass needs --key");
    if ((v[O_TLS_CERT] == NULL) != (v[O_TLS_KEY] == NULL))
        return cli_usage_error("HTTPS needs both --tls-cert and --tls-key");
    if (v[O_PROFILE] != NULL && strcmp(v[O_PROFILE], "us") != 0 &&
        strcmp(v[O_PROFILE], "fr") != 0)
        return cli_usage_error("invalid --profile '%s'; use us or fr",
                               v[O_PROFILE]);
    return 0;
}

static int load_key(const struct serve_opts *o, struct sti_key **key)
{
    char *pass = NULL;
    struct sti_error err;
    int rc;

    *key = NULL;
    if (o->val[O_KEY] == NULL)
        return 0;
    if (o->val[O_PASS] != NULL &&
        sti_secret_read(o->val[O_PASS], &pass, &err) != STI_OK)
        return cli_fail("cannot read the key passphrase", &err);
    rc = sti_key_load(o->val[O_KEY], pass, key, &err);
    sti_secret_free(pass);
    if (rc != STI_OK)
        return cli_fail("cannot load the signing key", &err);
    return 0;
}

static int is_url(const char *source)
{
    return source != NULL && (strncasecmp(source, "http://", 7) == 0 ||
                              strncasecmp(source, "https://", 8) == 0);
}

/* Maps the verification options; --crl takes a file or a URL. */
static void verifier_config(const struct serve_opts *o,
                            struct sti_verifier_config *vc)
{
    const char *crl = o->val[O_CRL];

    memset(vc, 0, sizeof(*vc));
    vc->profile = o->val[O_PROFILE];
    vc->ca_file = o->val[O_CA_FILE];
    vc->ca_dir = o->val[O_CA_DIR];
    vc->ca_list = o->val[O_CA_LIST];
    vc->ca_list_signer_file = o->val[O_PA_CERT];
    vc->crl_file = is_url(crl) ? NULL : crl;
    vc->crl_url = is_url(crl) ? crl : NULL;
    vc->crl_signer_file = o->val[O_CRL_SIGNER];
    vc->cache_db = o->val[O_CACHE];
    vc->fetch_ca_file = o->val[O_X5U_CA_FILE];
    vc->allow_http = o->val[O_ALLOW_HTTP] != NULL;
    vc->allow_any_port = o->val[O_ALLOW_ANY_PORT] != NULL;
    vc->freshness_s = (int)o->freshness;
}

static int new_service(const struct serve_opts *o, struct sti_service **svc)
{
    struct sti_service_config sc;
    struct sti_verifier_config vc;
    struct sti_key *key;
    struct sti_error err;
    int rc = load_key(o, &key);

    if (rc != 0)
        return rc;
    verifier_config(o, &vc);
    memset(&sc, 0, sizeof(sc));
    sc.key = key;
    sc.x5u = o->val[O_X5U];
    sc.profile = o->val[O_PROFILE];
    sc.crl_ca_file = o->val[O_CRL_CA_FILE];
    if (verifying(o))
        sc.verifier = &vc;
    rc = sti_service_new(&sc, svc, &err);
    sti_key_free(key);
    return rc == STI_OK ? 0 : cli_fail("cannot start the service", &err);
}

static int start_server(const struct serve_opts *o, struct sti_service *svc,
                        struct sti_httpd **httpd)
{
    struct sti_httpd_config hc;
    struct sti_error err;

    memset(&hc, 0, sizeof(hc));
    hc.listen = o->val[O_LISTEN] ? o->val[O_LISTEN] : "127.0.0.1:8090";
    hc.tls_cert_file = o->val[O_TLS_CERT];
    hc.tls_key_file = o->val[O_TLS_KEY];
    hc.threads = (unsigned int)o->threads;
    hc.max_body = (size_t)o->max_body;
    hc.max_connections = (unsigned int)o->max_connections;
    hc.per_ip_connections = (unsigned int)o->per_ip;
    hc.timeout_s = (unsigned int)o->timeout;
    hc.access_log = o->val[O_NO_ACCESS_LOG] == NULL;
    hc.batch_responses = o->val[O_NO_BATCH] == NULL;
    if (sti_httpd_start(&hc, sti_service_handle, svc, httpd, &err) != STI_OK)
        return err.code == STI_ERR_INVALID
                   ? cli_usage_error("cannot start the server: %s", err.message)
                   : cli_fail("cannot start the server", &err);
    if (o->val[O_PORT_FILE] != NULL) {
        char text[16];
        int n = snprintf(text, sizeof(text), "%d\n", sti_httpd_port(*httpd));

        if (sti_file_write(o->val[O_PORT_FILE], text, (size_t)n, 0644, 0,
                           &err) != STI_OK)
            return cli_fail("cannot write the port file", &err);
    }
    /* The host part of --listen with the bound port, not port 0. */
    sti_log(STI_LOG_INFO,
            "listening on %s://%.*s:%d; signing %s, verification %s, "
            "worker threads %u, batching %s",
            hc.tls_cert_file ? "https" : "http",
            (int)(strrchr(hc.listen, ':') ? strrchr(hc.listen, ':') - hc.listen
                                          : (long)strlen(hc.listen)),
            hc.listen, sti_httpd_port(*httpd), o->val[O_KEY] ? "on" : "off",
            verifying(o) ? "on" : "off", hc.threads,
            hc.batch_responses ? "on" : "off");
    return 0;
}

static volatile sig_atomic_t reload_requested;
/* Whether --crl is given, for the reload log lines. */
static int serve_has_crl;

static void on_sighup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

/* Reloads on SIGHUP (anchors and CRL) or when the CRL URL is due. */
static void reload(struct sti_service *svc, int full)
{
    struct sti_error err;
    int rc = full ? sti_service_reload(svc, &err)
                  : sti_service_reload_crl(svc, &err);
    const char *sources = !full           ? "CRL"
                          : serve_has_crl ? "trust anchors and CRL"
                                          : "trust anchors";

    if (rc == STI_OK)
        sti_log(STI_LOG_INFO, "reloaded the %s", sources);
    else
        sti_log(STI_LOG_ERR, "reload failed, keeping the old %s: %s", sources,
                err.message);
}

/* Waits for SIGTERM or SIGINT; reloads on SIGHUP and refreshes what
 * comes from URLs every REFRESH seconds (0: never): the CRL, or
 * everything when FULL (the CA list is a URL). */
static void wait_for_stop(struct sti_service *svc, long refresh, int full)
{
    static volatile sig_atomic_t stop;
    struct timespec nap = {0, 200 * 1000 * 1000};
    struct sigaction sa;
    time_t due = time(NULL) + refresh;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    cli_handle_stop_signals(&stop);
    while (!stop) {
        nanosleep(&nap, NULL);
        if (reload_requested) {
            reload_requested = 0;
            reload(svc, 1);
        } else if (refresh > 0 && time(NULL) >= due) {
            reload(svc, full);
            due = time(NULL) + refresh;
        }
    }
}

int cmd_serve(int argc, char **argv)
{
    struct serve_opts o;
    struct sti_service *svc = NULL;
    struct sti_httpd *httpd = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = apply_config(&o);
    if (rc == 0)
        rc = check_opts(&o);
    if (rc != 0)
        goto out;
    sti_log_init("sti serve", STI_LOG_INFO);
    rc = new_service(&o, &svc);
    if (rc == 0)
        rc = start_server(&o, svc, &httpd);
    if (rc != 0)
        goto out;
    serve_has_crl = o.val[O_CRL] != NULL;
    /* Only URLs change by themselves; files change on SIGHUP. */
    wait_for_stop(
        svc,
        is_url(o.val[O_CRL]) || is_url(o.val[O_CA_LIST]) ? o.crl_refresh : 0,
        is_url(o.val[O_CA_LIST]));
    sti_log(STI_LOG_INFO, "stopping");
out:
    sti_httpd_stop(httpd);
    sti_service_free(svc);
    cli_config_free(o.cfg);
    if (rc == 0)
        sti_log(STI_LOG_INFO, "stopped");
    return rc;
}
