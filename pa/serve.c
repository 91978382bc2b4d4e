/* sti-pa serve: runs the HTTP(S) API until SIGTERM or SIGINT. */
#include "pa.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_usage[] =
    "Usage: sti-pa serve --dir DIR [OPTIONS]\n"
    "\n"
    "Serves the PA API over HTTPS with DIR/tls.crt and DIR/tls.key.\n"
    "\n"
    "  --dir DIR           the PA directory (default: $STI_PA_DIR)\n"
    "  --listen HOST:PORT  address (default: 'listen' in pa.conf, else\n"
    "                      127.0.0.1:8443); port 0 picks a free port\n"
    "  --port-file FILE    write the bound port to FILE once listening\n"
    "  --http              serve plain HTTP instead of HTTPS\n"
    "  --base-url URL      prefix of the certificate and CRL URLs\n"
    "                      (default: base_url in pa.conf, else the bound\n"
    "                      address)\n"
    "  --help              print this help\n";

struct serve_args {
    struct pa_settings s;
    const char *listen;
    const char *port_file;
    int http;
};

static int parse_serve(int argc, char **argv, struct serve_args *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'p'},
        {"http", no_argument, NULL, 'H'},
        {"base-url", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    memset(a, 0, sizeof(*a));
    a->s.dir = pa_default_dir();
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->s.dir = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'p':
            a->port_file = optarg;
            break;
        case 'H':
            a->http = 1;
            break;
        case 'b':
            a->s.base_url = optarg;
            break;
        case 'h':
            fputs(serve_usage, stdout);
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (a->listen != NULL && !pa_listen_valid(a->listen))
        return cli_usage_error("invalid --listen '%s'; use HOST:PORT with a "
                               "port of 0 to 65535, e.g. 127.0.0.1:0",
                               a->listen);
    if (a->s.base_url != NULL)
        return pa_check_base_url(a->s.base_url);
    return CLI_EXIT_OK;
}

/* Builds "SCHEME://HOST:PORT" from the listen address and bound port. */
static char *bound_url(const char *listen, int port, int http)
{
    char host[256], *url = malloc(320);
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);

    if (url == NULL)
        return NULL;
    if (n >= sizeof(host))
        n = sizeof(host) - 1;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (n == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    snprintf(url, 320, "%s://%s:%d", http ? "http" : "https", host, port);
    return url;
}

static int write_port(const char *path, int port)
{
    char text[16];
    struct sti_error err;
    int n = snprintf(text, sizeof(text), "%d\n", port);

    if (sti_file_write(path, text, (size_t)n, 0644, 0, &err) != STI_OK)
        return cli_fail("cannot write the port file", &err);
    return CLI_EXIT_OK;
}

static int start(const struct serve_args *a, struct sti_pa *pa,
                 struct sti_httpd **httpd)
{
    struct sti_httpd_config hc;
    struct sti_error err;
    char *cert = NULL, *key = NULL;
    int rc;

    memset(&hc, 0, sizeof(hc));
    hc.listen = a->listen;
    hc.max_body = 64 * 1024;
    hc.access_log = 1;
    if (!a->http) {
        cert = cli_path_join(a->s.dir, STI_PA_TLS_CERT_FILE);
        key = cli_path_join(a->s.dir, STI_PA_TLS_KEY_FILE);
        hc.tls_cert_file = cert;
        hc.tls_key_file = key;
    }
    rc = sti_httpd_start(&hc, sti_pa_http_handler, pa, httpd, &err);
    free(cert);
    free(key);
    if (rc != STI_OK)
        return cli_fail("cannot start the server", &err);
    return CLI_EXIT_OK;
}

static int announce(const struct serve_args *a, struct sti_pa *pa,
                    struct sti_httpd *httpd)
{
    int port = sti_httpd_port(httpd);
    char *url = bound_url(a->listen, port, a->http);
    struct sti_error err;
    int rc = CLI_EXIT_OK;

    if (url == NULL || sti_pa_set_default_base_url(pa, url, &err) != STI_OK)
        rc = cli_fail("cannot set the base URL", &err);
    free(url);
    if (rc == CLI_EXIT_OK && a->port_file != NULL)
        rc = write_port(a->port_file, port);
    if (rc == CLI_EXIT_OK)
        sti_log(STI_LOG_INFO, "listening on port %d; certificate at %s", port,
                sti_pa_cert_url(pa));
    return rc;
}

int pa_cmd_serve(int argc, char **argv)
{
    static volatile sig_atomic_t stop;
    struct serve_args a;
    struct sti_pa *pa = NULL;
    struct cli_config *cfg = NULL;
    struct sti_httpd *httpd = NULL;
    int rc = parse_serve(argc, argv, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = pa_open_dir(&a.s, &pa, &cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (a.listen == NULL)
        a.listen = cli_config_get(cfg, "listen");
    if (a.listen == NULL || a.listen[0] == '\0')
        a.listen = "127.0.0.1:8443";
    if (!pa_listen_valid(a.listen)) {
        cli_errorf("invalid listen '%s' in %s/%s; use HOST:PORT with a port "
                   "of 0 to 65535, or give --listen",
                   a.listen, a.s.dir, PA_CONFIG_FILE);
        sti_pa_close(pa);
        cli_config_free(cfg);
        return CLI_EXIT_FAIL;
    }
    sti_log_init("sti-pa", STI_LOG_INFO);
    cli_handle_stop_signals(&stop);
    rc = start(&a, pa, &httpd);
    if (rc == CLI_EXIT_OK)
        rc = announce(&a, pa, httpd);
    while (rc == CLI_EXIT_OK && !stop)
        usleep(100 * 1000);
    sti_httpd_stop(httpd);
    if (rc == CLI_EXIT_OK)
        sti_log(STI_LOG_INFO, "stopped");
    sti_pa_close(pa);
    cli_config_free(cfg);
    return rc;
}
