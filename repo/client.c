/* sti-cr client: the client certificates that may use the API. */
#include "cr.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char client_help[] =
    "Usage: sti-cr client add --dir DIR --cert FILE [--name NAME]\n"
    "       sti-cr client list --dir DIR [--json]\n"
    "       sti-cr client remove --dir DIR NAME|SHA256\n"
    "'add' registers a client certificate (PEM or DER) by its SHA-256, under\n"
    "NAME or, without --name, under 'cert-' and the first 16 hex digits of\n"
    "the SHA-256.  A server started with --client-ca then accepts API\n"
    "requests from clients that present it in the TLS handshake, when it\n"
    "chains to one of those CAs and has not expired.  'remove' takes the\n"
    "name or the SHA-256; a running server honours it at the next request.\n";

static int client_add(struct sti_repo *repo, const struct cr_opts *o)
{
    char name[STI_REPO_NAME_MAX + 1];
    unsigned char *data;
    size_t len;
    struct sti_error err;
    int rc;

    if (sti_file_read(o->cert, &data, &len, &err) != STI_OK)
        return cli_fail("cannot read the certificate", &err);
    rc = sti_repo_client_add(repo, o->name, data, len, name, &err);
    free(data);
    if (rc != STI_OK)
        return cli_fail("cannot register the certificate", &err);
    printf("registered client %s\n", name);
    return CLI_EXIT_OK;
}

static int client_run(struct sti_repo *repo, const char *verb,
                      const struct cr_opts *o, const char *target)
{
    struct sti_error err;
    char *out = NULL;
    int rc;

    if (strcmp(verb, "add") == 0)
        return client_add(repo, o);
    if (strcmp(verb, "list") == 0) {
        rc = o->json ? sti_repo_client_list_json(repo, &out, &err)
                     : sti_repo_client_list_text(repo, &out, &err);
        if (rc == STI_OK)
            printf("%s%s", out, o->json ? "\n" : "");
        sti_free(out);
        return rc == STI_OK ? CLI_EXIT_OK : cli_fail("cannot list", &err);
    }
    rc = sti_repo_client_remove(repo, target, &err);
    if (rc != STI_OK)
        return cli_fail("cannot remove", &err);
    printf("removed client %s\n", target);
    return CLI_EXIT_OK;
}

/* Checks the arguments of VERB; returns 0 or an exit code. */
static int check_args(const char *verb, const struct cr_opts *o, int extra,
                      const char *target)
{
    if (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 &&
        strcmp(verb, "remove") != 0)
        return cli_usage_error("unknown client command '%s'; use add, list "
                               "or remove",
                               verb);
    if (strcmp(verb, "add") == 0 && o->cert == NULL)
        return cli_usage_error("missing --cert FILE");
    if (strcmp(verb, "add") == 0 && o->name != NULL &&
        !sti_repo_name_valid(o->name))
        return cli_usage_error("invalid client name '%.200s'; use 1 to %d "
                               "letters, digits, '.', '_' or '-', starting "
                               "with a letter or digit",
                               o->name, STI_REPO_NAME_MAX);
    if (strcmp(verb, "remove") == 0 && target == NULL)
        return cli_usage_error("missing the client's name or SHA-256");
    if (extra > (strcmp(verb, "remove") == 0 ? 1 : 0))
        return cli_usage_error("unexpected arguments after '%s'", verb);
    return 0;
}

int cr_client(int argc, char **argv)
{
    struct cr_opts o;
    struct cr_dir dir;
    struct sti_repo *repo = NULL;
    const char *verb, *target;
    int rc;

    cli_prog = "sti-cr client";
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(client_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("missing add, list or remove");
    verb = argv[1];
    rc = cr_parse_opts(argc - 1, argv + 1, client_help, 1, &o);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    target = optind + 1 < argc ? argv[optind + 1] : NULL;
    rc = check_args(verb, &o, argc - optind - 1, target);
    if (rc != 0)
        return rc;
    rc = cr_dir_load(&dir, o.dir, 0);
    if (rc != 0)
        return rc;
    rc = cr_open(&dir, &repo);
    if (rc == 0)
        rc = client_run(repo, verb, &o, target);
    sti_repo_close(repo);
    cr_dir_free(&dir);
    return rc;
}
