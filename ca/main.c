/* sti-ca: create a SHAKEN CA, issue, revoke and list certificates. */
#include "ca.h"

static const struct cli_command commands[] = {
    {"init", ca_cmd_init, "create a CA directory: root, intermediate, db"},
    {"issue", ca_cmd_issue, "issue an SP, SCA or delegate certificate"},
    {"revoke", ca_cmd_revoke, "mark a certificate revoked"},
    {"list", ca_cmd_list, "list the issued certificates"},
    {"serve", ca_cmd_serve, "run the ACME server (RFC 8555, tkauth-01)"},
};

int main(int argc, char **argv)
{
    static const struct cli_program program = {
        "sti-ca", "COMMAND [OPTIONS]", commands,
        sizeof(commands) / sizeof(commands[0])};

    return cli_run_command(&program, argc, argv);
}
