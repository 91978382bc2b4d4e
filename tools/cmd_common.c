/* Helpers shared by the sti subcommands. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>

int cmd_other_option(int c, char **argv, void (*usage)(FILE *out))
{
    if (c == 'h') {
        usage(stdout);
        return -1;
    }
    return cli_usage_error("invalid option or missing value: '%s'",
                           argv[optind - 1]);
}

int cmd_read_input(const char *path, const char *what, unsigned char **data,
                   size_t *len)
{
    struct sti_error err;

    if (sti_file_read_max(path, CMD_INPUT_MAX, data, len, &err) != STI_OK)
        return cli_fail(what, &err);
    return CLI_EXIT_OK;
}
