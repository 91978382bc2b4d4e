/* sti: sign, verify, inspect and lint from the command line. */
#include "cli.h"
#include "cmd.h"

static const struct cli_command commands[] = {
    {"inspect", cmd_inspect, "describe certificates, CSRs, CRLs, TNAuthLists"},
    {"lint", cmd_lint, "check certificates against the SHAKEN profile"},
    {"sign", cmd_sign, "sign a PASSporT and print an Identity header"},
    {"verify", cmd_verify, "verify an Identity header or a SIP message"},
    {"serve", cmd_serve, "run the HTTP signing and verification service"},
    {"acme", cmd_acme, "obtain a certificate over ACME with tkauth-01"},
    {"lab", cmd_lab, "build, run, test and stop a complete lab"},
};

int main(int argc, char **argv)
{
    static const struct cli_program program = {
        "sti", "COMMAND [OPTIONS] [ARGS]", commands,
        sizeof(commands) / sizeof(commands[0])};

    return cli_run_command(&program, argc, argv);
}
