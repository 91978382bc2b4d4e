/* sti-cr serve: the HTTPS server for x5u chains and the publishing API. */
#include "cr.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "Usage: sti-cr serve --dir DIR [OPTION]...\n"
    "Serve GET /certs/NAME.pem and the API under /api/v1/chains.\n"
    "Values from DIR/sti-cr.conf apply unless an option overrides them.\n"
    "\n"
    "  --dir DIR             the directory made by 'sti-cr init'\n"
    "  --listen HOST:PORT    listen address (default 127.0.0.1:8443;\n"
    "                        port 0 picks a free port)\n"
    "  --port-file FILE      write the bound port to FILE once listening\n"
    "  --plain-http          serve plain HTTP instead of HTTPS\n"
    "  --client-ca FILE      PEM CA certificates of client certificates; the\n"
    "                        API then also accepts a registered client\n"
    "                        certificate (see 'sti-cr client')\n"
    "  --max-age SECONDS     Cache-Control max-age (default 86400)\n"
    "  --threads N           worker threads, 1 to 64 (default 2)\n"
    "  --max-connections N   concurrent connections (default 1024)\n"
    "  --per-ip N            connections per client address (default 0,\n"
    "                        no limit)\n"
    "  --timeout SECONDS     idle connection timeout (default 10)\n"
    "  --request-timeout SECONDS\n"
    "                        time in which a request's head and body must\n"
    "                        arrive, from the connection opening or the\n"
    "                        previous response (default 30)\n"
    "  --max-body BYTES      request body limit (default 65536)\n"
    "  --max-header BYTES    request line and header limit (default 8192)\n"
    "  --flat-budget BYTES   memory for ready PEM copies of the chains\n"
    "                        requested first (default 1048576)\n"
    "  --sync-ms MS          how often to pick up CLI changes (default 500)\n"
    "  --no-api              answer 404 under /api\n"
    "  --no-access-log       do not log one line per request\n"
    "  --help                show this help\n";

enum {
    N_MAX_AGE,
    N_THREADS,
    N_MAXCONN,
    N_PERIP,
    N_TIMEOUT,
    N_BODY,
    N_HDR,
    N_FLAT,
    N_REQUEST_TIMEOUT,
    N_COUNT
};

struct serve_opts {
    const char *listen;
    const char *port_file;
    const char *client_ca;
    int plain;
    int no_api;
    int no_access_log;
    long sync_ms;
    /* Numeric settings in the order of num_keys. */
    long num[N_COUNT];
    int num_set[N_COUNT];
};

/* Option name, configuration key, minimum and maximum, for each number. */
static const struct {
    const char *key;
    long min, max;
} num_keys[] = {
    {"max_age", 1, 31536000},
    {"threads", 1, 64},
    {"max_connections", 1, 100000},
    {"per_ip_connections", 0, 100000},
    {"timeout", 1, 3600},
    {"max_body", 1024, 64L * 1024 * 1024},
    {"max_header", 4096, 1024L * 1024},
    {"flat_budget", 1, 1024L * 1024 * 1024},
    {"request_timeout", 1, 3600},
};
/* getopt values of the numeric options, above every character. */
#define NUM_OPT 256

static int set_num(struct serve_opts *o, int i, const char *text,
                   const char *what)
{
    if (cli_parse_long(text, num_keys[i].min, num_keys[i].max, &o->num[i]) != 0)
        return cli_usage_error(
            "invalid --%s '%s'; use a number from %ld to %ld", what, text,
            num_keys[i].min, num_keys[i].max);
    o->num_set[i] = 1;
    return 0;
}

/* Checks the shape of HOST:PORT; the server reports a host it cannot
 * bind, naming it. */
static int listen_valid(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    long port;

    return colon != NULL && colon != listen &&
           cli_parse_long(colon + 1, 0, 65535, &port) == 0;
}

static int parse_opts(int argc, char **argv, struct serve_opts *o,
                      const char **dir)
{
    static const struct option longs[] = {
        {"dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'p'},
        {"plain-http", no_argument, NULL, 'P'},
        {"max-age", required_argument, NULL, NUM_OPT + N_MAX_AGE},
        {"threads", required_argument, NULL, NUM_OPT + N_THREADS},
        {"max-connections", required_argument, NULL, NUM_OPT + N_MAXCONN},
        {"per-ip", required_argument, NULL, NUM_OPT + N_PERIP},
        {"timeout", required_argument, NULL, NUM_OPT + N_TIMEOUT},
        {"max-body", required_argument, NULL, NUM_OPT + N_BODY},
        {"max-header", required_argument, NULL, NUM_OPT + N_HDR},
        {"flat-budget", required_argument, NULL, NUM_OPT + N_FLAT},
        {"request-timeout", required_argument, NULL,
         NUM_OPT + N_REQUEST_TIMEOUT},
        {"sync-ms", required_argument, NULL, 's'},
        {"no-api", no_argument, NULL, 'A'},
        {"no-access-log", no_argument, NULL, 'L'},
        {"client-ca", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->sync_ms = 500;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c >= NUM_OPT && c < NUM_OPT + N_COUNT) {
            if (set_num(o, c - NUM_OPT, optarg, longs[c - NUM_OPT + 4].name) !=
                0)
                return CLI_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'd':
            *dir = optarg;
            break;
        case 'p':
            o->port_file = optarg;
            break;
        case 'P':
            o->plain = 1;
            break;
        case 'C':
            o->client_ca = optarg;
            break;
        case 'A':
            o->no_api = 1;
            break;
        case 'L':
            o->no_access_log = 1;
            break;
        case 'l':
            if (!listen_valid(optarg))
                return cli_usage_error("invalid --listen '%s'; use HOST:PORT "
                                       "with a port of 0 to 65535 (0 picks "
                                       "a free port)",
                                       optarg);
            o->listen = optarg;
            break;
        case 's':
            if (cli_parse_long(optarg, 10, 60000, &o->sync_ms) != 0)
                return cli_usage_error("invalid --sync-ms '%s'; use 10 to "
                                       "60000",
                                       optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (o->plain && o->client_ca != NULL)
        return cli_usage_error("--client-ca needs HTTPS; drop --plain-http");
    return 0;
}

/* Fills numbers that no option set from the configuration file. */
static int apply_config(const struct cr_dir *dir, struct serve_opts *o)
{
    const char *plain = cr_conf(dir, "plain_http", "no");

    for (int i = 0; i < N_COUNT; i++) {
        const char *v = cr_conf(dir, num_keys[i].key, NULL);

        if (o->num_set[i] || v == NULL)
            continue;
        if (cli_parse_long(v, num_keys[i].min, num_keys[i].max, &o->num[i]) !=
            0) {
            cli_errorf("%s/%s: invalid %s '%s'; use %ld to %ld", dir->path,
                       CR_CONFIG, num_keys[i].key, v, num_keys[i].min,
                       num_keys[i].max);
            return CLI_EXIT_FAIL;
        }
    }
    if (!o->listen)
        o->listen = cr_conf(dir, "listen", "127.0.0.1:8443");
    /* x5u requests are a request line and a few short headers; a small
     * per-connection pool costs less to reset between requests. */
    if (o->num[N_HDR] == 0)
        o->num[N_HDR] = 8192;
    if (strcmp(plain, "yes") == 0)
        o->plain = 1;
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char text[16];
    struct sti_error err;
    int n = snprintf(text, sizeof(text), "%d\n", port);

    if (sti_file_write(path, text, (size_t)n, 0644, 0, &err) != STI_OK)
        return cli_fail("cannot write the port file", &err);
    return 0;
}

static int start_server(const struct cr_dir *dir, const struct serve_opts *o,
                        struct sti_repo *repo, struct sti_httpd **httpd)
{
    struct sti_httpd_config cfg = {
        .listen = o->listen,
        .max_connections = (unsigned int)o->num[N_MAXCONN],
        .per_ip_connections = (unsigned int)o->num[N_PERIP],
        .timeout_s = (unsigned int)o->num[N_TIMEOUT],
        .request_timeout_s = (unsigned int)o->num[N_REQUEST_TIMEOUT],
        .max_body = (size_t)o->num[N_BODY],
        .max_header = (size_t)o->num[N_HDR],
        .threads = (unsigned int)o->num[N_THREADS],
        .access_log = !o->no_access_log,
        .expect_handler = sti_repo_handle_expect,
    };
    char *cert = o->plain ? NULL : cr_conf_path(dir, "tls_cert");
    char *key = o->plain ? NULL : cr_conf_path(dir, "tls_key");
    char *client_ca = o->plain       ? NULL
                      : o->client_ca ? strdup(o->client_ca)
                                     : cr_conf_path(dir, "client_ca");
    struct sti_error err;
    int rc;

    if (!o->plain && (cert == NULL || key == NULL)) {
        free(cert);
        free(key);
        free(client_ca);
        cli_errorf("%s/%s sets no tls_cert and tls_key; add them or use "
                   "--plain-http",
                   dir->path, CR_CONFIG);
        return CLI_EXIT_FAIL;
    }
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    cfg.tls_client_ca_file = client_ca;
    rc = sti_httpd_start(&cfg, sti_repo_handle, repo, httpd, &err);
    if (rc == STI_OK && client_ca != NULL)
        sti_log(STI_LOG_INFO,
                "the API accepts registered client certificates "
                "issued by the CAs in %s",
                client_ca);
    free(cert);
    free(key);
    free(client_ca);
    return rc == STI_OK ? 0 : cli_fail("cannot start the server", &err);
}

/* Sleeps MS milliseconds unless a signal arrives first. */
static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void run_until_stopped(struct sti_repo *repo, long sync_ms)
{
    static volatile sig_atomic_t stop;
    struct sti_error err;
    size_t changed;
    int failing = 0;

    cli_handle_stop_signals(&stop);
    while (!stop) {
        nap(sync_ms);
        if (sti_repo_sync(repo, &changed, &err) != STI_OK) {
            /* Log the first failure of a run, not every poll. */
            if (!failing)
                sti_log(STI_LOG_ERR, "cannot reload the chains: %s",
                        err.message);
            failing = 1;
            continue;
        }
        if (failing)
            sti_log(STI_LOG_INFO, "reloading the chains works again");
        failing = 0;
        if (changed > 0)
            sti_log(STI_LOG_INFO, "picked up %zu changed chains; %zu served",
                    changed, sti_repo_count(repo));
    }
}

int cr_serve(int argc, char **argv)
{
    struct serve_opts o = {0};
    struct cr_dir dir;
    const char *dir_path = NULL;
    struct sti_repo *repo = NULL;
    struct sti_httpd *httpd = NULL;
    struct sti_repo_serve_options so = {0};
    int rc;

    cli_prog = "sti-cr serve";
    rc = parse_opts(argc, argv, &o, &dir_path);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = cr_dir_load(&dir, dir_path, 1);
    if (rc != 0)
        return rc;
    sti_log_init("sti-cr", STI_LOG_INFO);
    rc = apply_config(&dir, &o);
    if (rc == 0)
        rc = cr_open(&dir, &repo);
    if (rc != 0)
        goto out;
    so.max_age = (unsigned long)o.num[N_MAX_AGE];
    so.disable_api = o.no_api;
    so.flat_budget = (size_t)o.num[N_FLAT];
    sti_repo_set_serve(repo, &so);
    rc = start_server(&dir, &o, repo, &httpd);
    if (rc == 0 && o.port_file != NULL)
        rc = write_port_file(o.port_file, sti_httpd_port(httpd));
    if (rc != 0)
        goto out;
    /* The bound address, not the configured port 0. */
    sti_log(STI_LOG_INFO, "serving %zu chain%s on %s://%.*s:%d",
            sti_repo_count(repo), sti_repo_count(repo) == 1 ? "" : "s",
            o.plain ? "http" : "https",
            (int)(strrchr(o.listen, ':') ? strrchr(o.listen, ':') - o.listen
                                         : (long)strlen(o.listen)),
            o.listen, sti_httpd_port(httpd));
    run_until_stopped(repo, o.sync_ms);
    sti_log(STI_LOG_INFO, "stopping");
out:
    sti_httpd_stop(httpd);
    sti_repo_close(repo);
    cr_dir_free(&dir);
    if (rc == 0)
        sti_log(STI_LOG_INFO, "stopped");
    return rc == 0 ? CLI_EXIT_OK : rc;
}
