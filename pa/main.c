/* sti-pa: not built yet. */
#include "cli.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_prog = "sti-pa";
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
