/* sti: sign, verify, inspect and lint from the command line. */
#include "cli.h"
#include "cmd.h"

#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"inspect", cmd_inspect, "describe certificates, CSRs, CRLs, TNAuthLists"},
    {"lint", cmd_lint, "check certificates against the SHAKEN profile"},
    {"sign", cmd_sign, "sign a PASSporT and print an Identity header"},
    {"verify", cmd_verify, "verify an Identity header or a SIP message"},
    {"serve", cmd_serve, "run the HTTP signing and verification service"},
    {"acme", cmd_acme, "obtain a certificate over ACME with tkauth-01"},
    {"lab", cmd_lab, "build, run, test and stop a complete lab"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: sti COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'sti COMMAND --help' for a command's options; "
                 "see sti(1).\n");
}

int main(int argc, char **argv)
{
    static char prog[64];

    cli_prog = "sti";
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sti %s\n", sti_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            snprintf(prog, sizeof(prog), "sti %s", commands[i].name);
            cli_prog = prog;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return cli_usage_error("unknown command '%s'", argv[1]);
}
