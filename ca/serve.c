/*
 * sti-ca serve: placeholder until the ACME server lands here.
 * TODO: the ACME (RFC 8555, tkauth-01) server replaces this file.
 */
#include "ca.h"

#include <string.h>

int ca_cmd_serve(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: sti-ca serve [OPTIONS]\n\n"
               "Runs the ACME server; not available in this build.\n");
        return CLI_EXIT_OK;
    }
    cli_errorf("the ACME server is not available in this build");
    return CLI_EXIT_FAIL;
}
