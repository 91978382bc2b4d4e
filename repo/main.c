/* sti-cr: the STI certificate repository that serves x5u chains. */
#include "cr.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: sti-cr COMMAND --dir DIR [OPTION]...\n"
    "Serve STIR/SHAKEN certificate chains at x5u URLs.\n"
    "\n"
    "Commands:\n"
    "  init       create DIR with a database, sti-cr.conf and a TLS\n"
    "             certificate\n"
    "  serve      serve GET /certs/NAME.pem and the publishing API\n"
    "  publish    check and publish chains: publish FILE --name NAME, or\n"
    "             publish FILE... (each named after its file)\n"
    "  list       list the published chains (--json for JSON)\n"
    "  remove     remove a chain: remove NAME\n"
    "  export     write the chains and an nginx snippet: export OUTDIR\n"
    "  token      API tokens: token add --name NAME | token list |\n"
    "             token remove NAME\n"
    "  client     client certificates for the API: client add --cert FILE\n"
    "             [--name NAME] | client list | client remove NAME\n"
    "\n"
    "Run 'sti-cr COMMAND --help' for the options of a command.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

/* The keys of sti-cr.conf, as sti-cr(1) lists them. */
static const char *const config_keys[] = {
    "listen",     "tls_cert",        "tls_key",
    "client_ca",  "plain_http",      "max_age",
    "threads",    "max_connections", "per_ip_connections",
    "timeout",    "request_timeout", "max_body",
    "max_header", "flat_budget",     "database",
    "base_url",
};

int cr_dir_load(struct cr_dir *dir, const char *path, int required)
{
    char *conf;
    struct sti_error err;
    int rc;

    dir->path = path;
    dir->config = NULL;
    if (path == NULL)
        return cli_usage_error("missing --dir DIR");
    conf = cli_path_join(path, CR_CONFIG);
    if (conf == NULL)
        return cli_fail("out of memory", NULL);
    if (!required && access(conf, F_OK) != 0) {
        free(conf);
        return CLI_EXIT_OK;
    }
    rc = cli_config_load(conf, &dir->config, &err);
    free(conf);
    if (rc != STI_OK)
        return cli_fail("cannot read the configuration; run 'sti-cr init' "
                        "first",
                        &err);
    if (cli_config_check_keys(dir->config, config_keys,
                              sizeof(config_keys) / sizeof(config_keys[0]),
                              &err) != 0) {
        cli_errorf("%s", err.message);
        cr_dir_free(dir);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cr_dir_free(struct cr_dir *dir)
{
    cli_config_free(dir->config);
    dir->config = NULL;
}

const char *cr_conf(const struct cr_dir *dir, const char *key, const char *def)
{
    const char *v = dir->config ? cli_config_get(dir->config, key) : NULL;

    return v != NULL ? v : def;
}

char *cr_conf_path(const struct cr_dir *dir, const char *key)
{
    const char *v = cr_conf(dir, key, NULL);

    if (v == NULL)
        return NULL;
    return v[0] == '/' ? strdup(v) : cli_path_join(dir->path, v);
}

int cr_open(const struct cr_dir *dir, struct sti_repo **repo)
{
    char *db = cr_conf_path(dir, "database");
    struct sti_error err;
    int rc;

    if (db == NULL)
        db = cli_path_join(dir->path, CR_DB);
    if (db == NULL)
        return cli_fail("out of memory", NULL);
    if (access(db, F_OK) != 0) {
        cli_errorf("no database at %s; run 'sti-cr init --dir %s' first", db,
                   dir->path);
        free(db);
        return CLI_EXIT_FAIL;
    }
    rc = sti_repo_open(db, repo, &err);
    free(db);
    return rc == STI_OK ? CLI_EXIT_OK : cli_fail("cannot open the store", &err);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"init", cr_init},   {"serve", cr_serve},   {"publish", cr_publish},
        {"list", cr_list},   {"remove", cr_remove}, {"export", cr_export},
        {"token", cr_token}, {"client", cr_client},
    };

    cli_prog = "sti-cr";
    if (argc < 2)
        return cli_usage_error("missing command");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sti-cr %s\n", sti_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", argv[1]);
}
