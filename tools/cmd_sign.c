/* sti sign: not built yet. */
#include "cli.h"
#include "cmd.h"

int cmd_sign(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
