/* sti-pa: a test STI policy administrator. */
#include "pa.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: sti-pa COMMAND [OPTIONS]\n"
    "\n"
    "A test STI policy administrator (STI-PA).\n"
    "\n"
    "Commands:\n"
    "  init      create a PA directory: key, certificate, database, "
    "config\n"
    "  serve     run the HTTPS API\n"
    "  sp        add, list, disable or enable service providers\n"
    "  user      add an API user of a service provider\n"
    "  admin     add an administrator (may revoke over the API)\n"
    "  token     issue an SPC token\n"
    "  ca        add, remove or list approved CA roots\n"
    "  calist    print the signed CA list\n"
    "  revoke    revoke a certificate and regenerate the CRL\n"
    "  crl       print the current CRL\n"
    "\n"
    "Every command takes --dir DIR (default: $STI_PA_DIR) and --help.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"init", pa_cmd_init}, {"serve", pa_cmd_serve},   {"sp", pa_cmd_sp},
    {"user", pa_cmd_user}, {"admin", pa_cmd_admin},   {"token", pa_cmd_token},
    {"ca", pa_cmd_ca},     {"calist", pa_cmd_calist}, {"revoke", pa_cmd_revoke},
    {"crl", pa_cmd_crl},
};

int main(int argc, char **argv)
{
    static char prog[32];

    cli_prog = "sti-pa";
    if (argc < 2)
        return cli_usage_error("no command given");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sti-pa %s\n", sti_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* Messages and "Try 'sti-pa sp --help'" name the command. */
            snprintf(prog, sizeof(prog), "sti-pa %s", commands[i].name);
            cli_prog = prog;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return cli_usage_error("unknown command '%s'", argv[1]);
}

int pa_fail(const char *what, int status, const struct sti_error *err)
{
    cli_fail(what, err);
    return status == STI_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int pa_check_base_url(const char *url)
{
    struct sti_error err;
    int rc = sti_pa_base_url_check(url, &err);

    if (rc == STI_OK)
        return CLI_EXIT_OK;
    cli_errorf("%s", err.message);
    return CLI_EXIT_USAGE;
}

int pa_listen_valid(const char *listen)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    long port;

    if (colon == NULL || colon == listen)
        return 0;
    if (listen[0] == '[' && colon[-1] != ']')
        return 0;
    return cli_parse_long(colon + 1, 0, 65535, &port) == 0;
}

const char *pa_default_dir(void)
{
    const char *dir = getenv("STI_PA_DIR");

    return dir != NULL && dir[0] != '\0' ? dir : NULL;
}

static long config_long(const struct cli_config *cfg, const char *key)
{
    const char *text = cfg ? cli_config_get(cfg, key) : NULL;
    long value = 0;

    if (text != NULL && text[0] != '\0' &&
        cli_parse_long(text, 1, 100L * 365 * 86400, &value) != 0) {
        cli_errorf("%s: invalid %s '%s'; expected a positive number, "
                   "ignored",
                   PA_CONFIG_FILE, key, text);
        value = 0;
    }
    return value;
}

static const char *config_string(const struct cli_config *cfg, const char *key)
{
    const char *text = cfg ? cli_config_get(cfg, key) : NULL;

    return text != NULL && text[0] != '\0' ? text : NULL;
}

/* The keys of the PA configuration file, as sti-pa init writes them. */
static const char *const config_keys[] = {
    "base_url",
    "crl_url",
    "listen",
    "token_lifetime",
    "access_token_lifetime",
    "crl_lifetime",
    "calist_lifetime",
    "login_max_failures",
    "login_lockout",
};

int pa_open_dir(const struct pa_settings *s, struct sti_pa **pa,
                struct cli_config **cfg)
{
    struct sti_pa_config c;
    struct sti_error err;
    char *path;
    int rc;

    *pa = NULL;
    *cfg = NULL;
    if (s->dir == NULL)
        return cli_usage_error("no PA directory; use --dir DIR or set "
                               "STI_PA_DIR");
    path = cli_path_join(s->dir, PA_CONFIG_FILE);
    if (path == NULL || cli_config_load(path, cfg, &err) != STI_OK) {
        free(path);
        return cli_fail("cannot read the configuration", &err);
    }
    free(path);
    if (cli_config_check_keys(*cfg, config_keys,
                              sizeof(config_keys) / sizeof(config_keys[0]),
                              &err) != 0) {
        cli_errorf("%s", err.message);
        cli_config_free(*cfg);
        *cfg = NULL;
        return CLI_EXIT_USAGE;
    }
    memset(&c, 0, sizeof(c));
    c.dir = s->dir;
    c.base_url = s->base_url ? s->base_url : config_string(*cfg, "base_url");
    c.crl_url = config_string(*cfg, "crl_url");
    c.token_lifetime = config_long(*cfg, "token_lifetime");
    c.access_lifetime = config_long(*cfg, "access_token_lifetime");
    c.crl_lifetime = config_long(*cfg, "crl_lifetime");
    c.calist_lifetime = config_long(*cfg, "calist_lifetime");
    c.login_max_failures = config_long(*cfg, "login_max_failures");
    c.login_lockout = config_long(*cfg, "login_lockout");
    rc = sti_pa_open(&c, pa, &err);
    if (rc != STI_OK) {
        cli_config_free(*cfg);
        *cfg = NULL;
        return cli_fail("cannot open the PA", &err);
    }
    return CLI_EXIT_OK;
}
