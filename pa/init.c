/* sti-pa init: creates a PA directory and its configuration file. */
#include "pa.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char init_usage[] =
    "Usage: sti-pa init --dir DIR [OPTIONS]\n"
    "\n"
    "Creates DIR with the PA key (pa.key, mode 0600), its certificate\n"
    "(pa.crt, which also signs the CRL and the CA list), the database\n"
    "(pa.db), a TLS certificate for 127.0.0.1 (tls.crt, tls.key) and the\n"
    "configuration file pa.conf.\n"
    "\n"
    "  --dir DIR            the PA directory (default: $STI_PA_DIR)\n"
    "  --base-url URL       URL prefix of the certificate and CRL URLs,\n"
    "                       e.g. https://127.0.0.1:8443 (default: the\n"
    "                       address 'serve' listens on)\n"
    "  --listen HOST:PORT   address for 'serve' (default 127.0.0.1:8443)\n"
    "  --org NAME           subject O (default \"stilab PA\")\n"
    "  --cn NAME            subject CN (default \"SHAKEN PA ROOT\")\n"
    "  --country CC         subject C (default US)\n"
    "  --days N             certificate validity in days\n"
    "  --root-cert FILE     issue the PA certificate from this root ...\n"
    "  --root-key FILE      ... with this key (default: self-signed)\n"
    "  --root-key-pass SRC  passphrase of the root key: file:, env: or "
    "fd:\n"
    "  --token-lifetime S   SPC token lifetime in seconds (default 2592000,\n"
    "                       30 days); sti-ca caps the notAfter of an ACME\n"
    "                       certificate at the token's expiry\n"
    "  --access-lifetime S  API access token lifetime (default 3600)\n"
    "  --help               print this help\n";

struct init_args {
    struct sti_pa_init_options o;
    const char *base_url;
    const char *listen;
    const char *pass_source;
    long token_lifetime;
    long access_lifetime;
};

static int parse_init(int argc, char **argv, struct init_args *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"base-url", required_argument, NULL, 'b'},
        {"listen", required_argument, NULL, 'l'},
        {"org", required_argument, NULL, 'o'},
        {"cn", required_argument, NULL, 'n'},
        {"country", required_argument, NULL, 'c'},
        {"days", required_argument, NULL, 'D'},
        {"root-cert", required_argument, NULL, 'r'},
        {"root-key", required_argument, NULL, 'k'},
        {"root-key-pass", required_argument, NULL, 'p'},
        {"token-lifetime", required_argument, NULL, 't'},
        {"access-lifetime", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long days = 0;
    int c;

    memset(a, 0, sizeof(*a));
    a->o.dir = pa_default_dir();
    a->listen = "127.0.0.1:8443";
    a->token_lifetime = STI_PA_TOKEN_LIFETIME;
    a->access_lifetime = 3600;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->o.dir = optarg;
            break;
        case 'b':
            a->base_url = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'o':
            a->o.organization = optarg;
            break;
        case 'n':
            a->o.common_name = optarg;
            break;
        case 'c':
            a->o.country = optarg;
            break;
        case 'D':
            if (cli_parse_long(optarg, 1, 36500, &days) != 0)
                return cli_usage_error("invalid --days '%s'; use 1 to 36500",
                                       optarg);
            a->o.validity_days = (int)days;
            break;
        case 'r':
            a->o.root_cert_file = optarg;
            break;
        case 'k':
            a->o.root_key_file = optarg;
            break;
        case 'p':
            a->pass_source = optarg;
            break;
        case 't':
        case 'a':
            if (cli_parse_long(optarg, 1, 10L * 365 * 86400,
                               c == 't' ? &a->token_lifetime
                                        : &a->access_lifetime) != 0)
                return cli_usage_error("invalid lifetime '%s'; use a "
                                       "positive number of seconds",
                                       optarg);
            break;
        case 'h':
            fputs(init_usage, stdout);
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (a->o.dir == NULL)
        return cli_usage_error("no PA directory; use --dir DIR");
    if (a->base_url != NULL && pa_check_base_url(a->base_url) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (!pa_listen_valid(a->listen))
        return cli_usage_error("invalid --listen '%s'; use HOST:PORT with a "
                               "port of 0 to 65535, e.g. 127.0.0.1:8443",
                               a->listen);
    return CLI_EXIT_OK;
}

static int write_config(const struct init_args *a, struct sti_error *err)
{
    char text[2048];
    char *path = cli_path_join(a->o.dir, PA_CONFIG_FILE);
    int rc, n;

    if (path == NULL)
        return STI_ERR_NOMEM;
    n = snprintf(text, sizeof(text),
                 "# sti-pa configuration; see sti-pa(1).\n"
                 "# Prefix of the certificate URL (the x5u of SPC tokens)\n"
                 "# and of the CRL URL; empty: the address serve listens on.\n"
                 "base_url = %s\n"
                 "# crl_url = http://pa.example/api/v1/crl\n"
                 "listen = %s\n"
                 "token_lifetime = %ld\n"
                 "access_token_lifetime = %ld\n"
                 "crl_lifetime = 604800\n"
                 "calist_lifetime = 604800\n"
                 "login_max_failures = 5\n"
                 "login_lockout = 60\n",
                 a->base_url ? a->base_url : "", a->listen, a->token_lifetime,
                 a->access_lifetime);
    rc = sti_file_write(path, text, (size_t)n, 0644, 1, err);
    free(path);
    return rc;
}

int pa_cmd_init(int argc, char **argv)
{
    struct init_args a;
    struct sti_error err;
    char *pass = NULL;
    int rc = parse_init(argc, argv, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.pass_source != NULL &&
        sti_secret_read(a.pass_source, &pass, &err) != STI_OK)
        return cli_fail("cannot read the root key passphrase", &err);
    a.o.root_key_passphrase = pass;
    rc = sti_pa_init(&a.o, &err);
    sti_secret_free(pass);
    /* The subject options are checked only here, by the certificate
     * profile, which rejects them with STI_ERR_POLICY. */
    if (rc != STI_OK)
        return pa_fail("cannot create the PA",
                       rc == STI_ERR_POLICY ? STI_ERR_INVALID : rc, &err);
    if (write_config(&a, &err) != STI_OK)
        return cli_fail("cannot write the configuration", &err);
    printf("created PA in %s\n", a.o.dir);
    return CLI_EXIT_OK;
}
