/* sti-ca: create a SHAKEN CA, issue, revoke and list certificates. */
#include "ca.h"

#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"init", ca_cmd_init, "create a CA directory: root, intermediate, db"},
    {"issue", ca_cmd_issue, "issue an SP, SCA or delegate certificate"},
    {"revoke", ca_cmd_revoke, "mark a certificate revoked"},
    {"list", ca_cmd_list, "list the issued certificates"},
    {"serve", ca_cmd_serve, "run the ACME server (RFC 8555, tkauth-01)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: sti-ca COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'sti-ca COMMAND --help' for a command's options; "
                 "see sti-ca(1).\n");
}

int main(int argc, char **argv)
{
    static char prog[64];

    cli_prog = "sti-ca";
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sti-ca %s\n", sti_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            snprintf(prog, sizeof(prog), "sti-ca %s", commands[i].name);
            cli_prog = prog;
            /* getopt_long prefixes its messages with argv[0]. */
            argv[1] = prog;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return cli_usage_error("unknown command '%s'", argv[1]);
}
