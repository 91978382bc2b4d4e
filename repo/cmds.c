/* sti-cr init, publish, list, remove, export and token. */
#include "cr.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int cr_parse_opts(int argc, char **argv, const char *help, int with_cert,
                  struct cr_opts *o)
{
    /* --cert comes first, so that skipping the first entry leaves it out. */
    static const struct option longs[] = {
        {"cert", required_argument, NULL, 'c'},
        {"dir", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    while ((c = getopt_long(argc, argv, "", longs + (with_cert ? 0 : 1),
                            NULL)) != -1) {
        switch (c) {
        case 'c':
            o->cert = optarg;
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* Opens the store for a command; returns 0 or an exit code. */
static int open_store(const char *dir_path, struct cr_dir *dir,
                      struct sti_repo **repo)
{
    int rc = cr_dir_load(dir, dir_path, 0);

    if (rc != 0)
        return rc;
    rc = cr_open(dir, repo);
    if (rc != 0)
        cr_dir_free(dir);
    return rc;
}

static void close_store(struct cr_dir *dir, struct sti_repo *repo)
{
    sti_repo_close(repo);
    cr_dir_free(dir);
}

/* init */

static const char init_help[] =
    "Usage: sti-cr init --dir DIR [OPTION]...\n"
    "Create DIR with the database repo.db and sti-cr.conf.  Without\n"
    "--tls-cert and --tls-key, also create a self-signed P-256 TLS\n"
    "certificate (tls-cert.pem, tls-key.pem) for --hosts.\n"
    "\n"
    "  --dir DIR           the directory to create or fill\n"
    "  --listen HOST:PORT  the address sti-cr serve uses (default\n"
    "                      127.0.0.1:8443)\n"
    "  --tls-cert FILE     an existing PEM certificate chain for HTTPS\n"
    "  --tls-key FILE      its unencrypted PEM private key\n"
    "  --hosts LIST        names for the generated certificate (default\n"
    "                      127.0.0.1,localhost)\n"
    "  --help              show this help\n";

struct init_opts {
    const char *dir, *listen, *cert, *key, *hosts;
    char cert_abs[PATH_MAX], key_abs[PATH_MAX];
};

/*
 * Checks the TLS files given to init and keeps their absolute paths:
 * serve resolves relative paths against DIR, not the working directory.
 */
static int check_tls_files(struct init_opts *o)
{
    struct sti_error err;

    if (realpath(o->cert, o->cert_abs) == NULL)
        return cli_usage_error("invalid --tls-cert '%s': %s; give an "
                               "existing PEM certificate",
                               o->cert, strerror(errno));
    if (realpath(o->key, o->key_abs) == NULL)
        return cli_usage_error("invalid --tls-key '%s': %s; give an "
                               "existing PEM private key",
                               o->key, strerror(errno));
    if (sti_repo_tls_files_check(o->cert_abs, o->key_abs, &err) != STI_OK)
        return cli_usage_error("%s", err.message);
    o->cert = o->cert_abs;
    o->key = o->key_abs;
    return 0;
}

static int parse_init(int argc, char **argv, struct init_opts *o)
{
    static const struct option longs[] = {
        {"dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"hosts", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sti_error err;
    int c;

    o->listen = "127.0.0.1:8443";
    o->hosts = "127.0.0.1,localhost";
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'H':
            o->hosts = optarg;
            break;
        case 'h':
            fputs(init_help, stdout);
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (o->dir == NULL)
        return cli_usage_error("missing --dir DIR");
    if ((o->cert == NULL) != (o->key == NULL))
        return cli_usage_error("--tls-cert and --tls-key go together");
    if (o->cert != NULL)
        return check_tls_files(o);
    if (sti_repo_hosts_check(o->hosts, &err) != STI_OK)
        return cli_usage_error("invalid --hosts: %s", err.message);
    return 0;
}

static int write_config(const struct init_opts *o)
{
    char *path = cli_path_join(o->dir, CR_CONFIG);
    char text[8192];
    struct sti_error err;
    int n, rc;

    n = snprintf(text, sizeof(text),
                 "# sti-cr configuration; options of 'sti-cr serve' "
                 "override it.\n"
                 "listen = %s\n"
                 "tls_cert = %s\n"
                 "tls_key = %s\n"
                 "# Cache-Control max-age of the chains, in seconds.\n"
                 "max_age = 86400\n"
                 "threads = 2\n"
                 "max_connections = 1024\n"
                 "timeout = 10\n"
                 "# Seconds in which a request's head and body must arrive.\n"
                 "request_timeout = 30\n"
                 "max_body = 65536\n"
                 "# Memory for the request line and headers, per connection.\n"
                 "max_header = 8192\n"
                 "# CA certificates (PEM) that issue the API's client\n"
                 "# certificates; 'sti-cr client add' registers each one.\n"
                 "# client_ca = client-ca.pem\n",
                 o->listen, o->cert ? o->cert : "tls-cert.pem",
                 o->key ? o->key : "tls-key.pem");
    if (path == NULL || n < 0 || (size_t)n >= sizeof(text)) {
        free(path);
        return cli_fail("a path is too long", NULL);
    }
    rc = sti_file_write(path, text, (size_t)n, 0644, 1, &err);
    free(path);
    return rc == STI_OK ? 0 : cli_fail("cannot write the configuration", &err);
}

static int make_tls(const struct init_opts *o)
{
    char *cert = cli_path_join(o->dir, "tls-cert.pem");
    char *key = cli_path_join(o->dir, "tls-key.pem");
    struct sti_error err;
    int rc = sti_repo_make_tls_cert(cert, key, o->hosts, 825, &err);

    free(cert);
    free(key);
    return rc == STI_OK ? 0
                        : cli_fail("cannot create the TLS certificate", &err);
}

int cr_init(int argc, char **argv)
{
    struct init_opts o = {0};
    struct sti_repo *repo;
    char *db;
    struct sti_error err;
    int rc;

    cli_prog = "sti-cr init";
    rc = parse_init(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (mkdir(o.dir, 0700) != 0 && errno != EEXIST) {
        cli_errorf("cannot create %s: %s", o.dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    rc = write_config(&o);
    if (rc == 0 && o.cert == NULL)
        rc = make_tls(&o);
    if (rc != 0)
        return rc;
    db = cli_path_join(o.dir, CR_DB);
    rc = sti_repo_open(db, &repo, &err);
    free(db);
    if (rc != STI_OK)
        return cli_fail("cannot create the database", &err);
    sti_repo_close(repo);
    printf("created %s; start the server with: sti-cr serve --dir %s\n", o.dir,
           o.dir);
    return CLI_EXIT_OK;
}

/* publish */

static const char publish_help[] =
    "Usage: sti-cr publish --dir DIR FILE --name NAME\n"
    "       sti-cr publish --dir DIR FILE...\n"
    "Check each PEM chain (leaf first, each certificate signed by the next,\n"
    "the leaf a SHAKEN end entity) and publish it under NAME, replacing any\n"
    "chain of that name.  Without --name, each FILE is published under its\n"
    "base name without the extension.  A running sti-cr serve picks the\n"
    "change up within its --sync-ms interval.\n";

/* Derives a chain name from a file name: "dir/sp1.pem" gives "sp1". */
static void name_from_file(const char *file, char *out, size_t size)
{
    char *copy = strdup(file), *base, *dot;

    out[0] = '\0';
    if (copy == NULL)
        return;
    base = basename(copy);
    dot = strrchr(base, '.');
    if (dot != NULL && dot != base)
        *dot = '\0';
    snprintf(out, size, "%s", base);
    free(copy);
}

static int publish_file(struct sti_repo *repo, const char *file,
                        const char *name)
{
    unsigned char *data;
    size_t len;
    struct sti_error err;
    char derived[STI_REPO_NAME_MAX + 2], what[STI_REPO_NAME_MAX + 4200];
    int replaced, rc;

    if (name == NULL) {
        name_from_file(file, derived, sizeof(derived));
        name = derived;
    }
    if (sti_file_read(file, &data, &len, &err) != STI_OK)
        return cli_fail("cannot read the chain", &err);
    rc = sti_repo_publish(repo, name, data, len, &replaced, &err);
    free(data);
    snprintf(what, sizeof(what), "%s rejected", file);
    if (rc != STI_OK)
        return cli_fail(what, &err);
    printf("%s %s\n", replaced ? "replaced" : "published", name);
    return 0;
}

int cr_publish(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo;
    int rc, failed = 0;

    cli_prog = "sti-cr publish";
    rc = cr_parse_opts(argc, argv, publish_help, 0, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind >= argc)
        return cli_usage_error("missing FILE");
    if (o.name != NULL && argc - optind != 1)
        return cli_usage_error("--name takes exactly one FILE");
    if (o.name != NULL && !sti_repo_name_valid(o.name))
        return cli_usage_error("invalid chain name '%.200s'; use 1 to %d "
                               "letters, digits, '.', '_' or '-', starting "
                               "with a letter or digit",
                               o.name, STI_REPO_NAME_MAX);
    rc = open_store(o.dir, &dir, &repo);
    if (rc != 0)
        return rc;
    for (int i = optind; i < argc; i++)
        if (publish_file(repo, argv[i], o.name) != 0)
            failed = 1;
    close_store(&dir, repo);
    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* list */

static const char list_help[] =
    "Usage: sti-cr list --dir DIR [--json]\n"
    "List the published chains: name, leaf notAfter, certificates, size\n"
    "and the leaf's subject; --json prints the API's JSON instead.\n";

static void print_list(const struct sti_repo_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char when[32];
        struct tm tm;

        gmtime_r(&list[i].not_after, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d", &tm);
        printf("%-24s until %s  %zu cert%s  %5zu bytes  %s\n", list[i].name,
               when, list[i].certs, list[i].certs == 1 ? " " : "s",
               list[i].size, list[i].subject);
    }
}

int cr_list(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo;
    struct sti_repo_info *list;
    struct sti_error err;
    size_t n;
    char *json;
    int rc;

    cli_prog = "sti-cr list";
    rc = cr_parse_opts(argc, argv, list_help, 0, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind != argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    rc = open_store(o.dir, &dir, &repo);
    if (rc != 0)
        return rc;
    if (o.json) {
        rc = sti_repo_list_json(repo, cr_conf(&dir, "base_url", NULL), &json,
                                &err);
        if (rc == STI_OK)
            printf("%s\n", json);
        sti_free(json);
    } else {
        rc = sti_repo_list(repo, &list, &n, &err);
        if (rc == STI_OK)
            print_list(list, n);
        sti_free(list);
    }
    close_store(&dir, repo);
    return rc == STI_OK ? CLI_EXIT_OK : cli_fail("cannot list", &err);
}

/* remove */

static const char remove_help[] = "Usage: sti-cr remove --dir DIR NAME\n"
                                  "Remove the chain NAME.\n";

int cr_remove(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo;
    struct sti_error err;
    int rc;

    cli_prog = "sti-cr remove";
    rc = cr_parse_opts(argc, argv, remove_help, 0, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("expected one NAME");
    if (!sti_repo_name_valid(argv[optind]))
        return cli_usage_error("invalid chain name '%.200s'; use 1 to %d "
                               "letters, digits, '.', '_' or '-', starting "
                               "with a letter or digit",
                               argv[optind], STI_REPO_NAME_MAX);
    rc = open_store(o.dir, &dir, &repo);
    if (rc != 0)
        return rc;
    rc = sti_repo_remove(repo, argv[optind], &err);
    close_store(&dir, repo);
    if (rc != STI_OK)
        return cli_fail("cannot remove", &err);
    printf("removed %s\n", argv[optind]);
    return CLI_EXIT_OK;
}

/* export */

static const char export_help[] =
    "Usage: sti-cr export --dir DIR OUTDIR\n"
    "Write OUTDIR/certs/NAME.pem for every chain and "
    "OUTDIR/nginx-sti-cr.conf,\n"
    "a location block that serves them with sti-cr's headers.  Delete the\n"
    "OUTDIR/certs/NAME.pem files of chains that are no longer published.\n";

static void print_removed(void *arg, const char *path)
{
    (void)arg;
    printf("removed %s, which is no longer published\n", path);
}

int cr_export(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo;
    struct sti_error err;
    long max_age = STI_REPO_MAX_AGE;
    int rc;

    cli_prog = "sti-cr export";
    rc = cr_parse_opts(argc, argv, export_help, 0, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("expected one OUTDIR");
    rc = open_store(o.dir, &dir, &repo);
    if (rc != 0)
        return rc;
    if (cli_parse_long(cr_conf(&dir, "max_age", "86400"), 1, 31536000,
                       &max_age) != 0)
        max_age = STI_REPO_MAX_AGE;
    rc = sti_repo_export(repo, argv[optind], (unsigned long)max_age,
                         print_removed, NULL, &err);
    close_store(&dir, repo);
    if (rc != STI_OK)
        return cli_fail("cannot export", &err);
    printf("exported to %s\n", argv[optind]);
    return CLI_EXIT_OK;
}

/* token */

static const char token_help[] =
    "Usage: sti-cr token add --dir DIR --name NAME\n"
    "       sti-cr token list --dir DIR [--json]\n"
    "       sti-cr token remove --dir DIR NAME\n"
    "'add' prints a new API token once; only its SHA-256 is stored.\n"
    "Clients send it as 'Authorization: Bearer TOKEN'.\n";

static int token_run(struct sti_repo *repo, const char *verb, const char *name,
                     int json)
{
    struct sti_error err;
    char *out = NULL;
    int rc;

    if (strcmp(verb, "add") == 0) {
        rc = sti_repo_token_add(repo, name, &out, &err);
        if (rc == STI_OK)
            printf("%s\n", out);
        sti_secret_free(out);
    } else if (strcmp(verb, "list") == 0) {
        rc = json ? sti_repo_token_list_json(repo, &out, &err)
                  : sti_repo_token_list_text(repo, &out, &err);
        if (rc == STI_OK)
            printf("%s%s", out, json ? "\n" : "");
        sti_free(out);
    } else {
        rc = sti_repo_token_remove(repo, name, &err);
        if (rc == STI_OK)
            printf("removed token %s\n", name);
    }
    return rc == STI_OK ? CLI_EXIT_OK : cli_fail(verb, &err);
}

int cr_token(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo;
    const char *verb, *name;
    int rc;

    cli_prog = "sti-cr token";
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(token_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("missing add, list or remove");
    verb = argv[1];
    rc = cr_parse_opts(argc - 1, argv + 1, token_help, 0, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    name = o.name ? o.name : (optind + 1 < argc ? argv[optind + 1] : NULL);
    if (strcmp(verb, "list") != 0 && strcmp(verb, "add") != 0 &&
        strcmp(verb, "remove") != 0)
        return cli_usage_error("unknown token command '%s'", verb);
    if (strcmp(verb, "list") != 0 && name == NULL)
        return cli_usage_error("missing the token name");
    rc = open_store(o.dir, &dir, &repo);
    if (rc != 0)
        return rc;
    rc = token_run(repo, verb, name, o.json);
    close_store(&dir, repo);
    return rc;
}
