/* sti lab: not built yet. */
#include "cli.h"
#include "cmd.h"

int cmd_lab(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
