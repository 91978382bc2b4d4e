/* Subcommands of the sti program, each in tools/cmd_NAME.c, and the
 * helpers they share (tools/cmd_common.c). */
#ifndef STI_TOOLS_CMD_H
#define STI_TOOLS_CMD_H

#include <stddef.h>
#include <stdio.h>

/* Maximum size in bytes of the input that sign and verify read.  A SIP
 * message or a few Identity header values take a few kB. */
#define CMD_INPUT_MAX (1024 * 1024)

/*
 * Handles a getopt_long() result C that the command's own options do not
 * claim.  'h' prints USAGE on stdout and returns -1.  Any other value is
 * an unknown option or a missing value, so it prints a usage error naming
 * ARGV[optind - 1] and returns CLI_EXIT_USAGE.  Callers set opterr to 0,
 * so that getopt_long() prints nothing itself.
 */
int cmd_other_option(int c, char **argv, void (*usage)(FILE *out));

/*
 * Reads PATH ("-" is stdin), at most CMD_INPUT_MAX bytes, into *DATA, a
 * NUL-terminated buffer that the caller frees.  On failure prints "WHAT:"
 * and the reason, and returns CLI_EXIT_FAIL.
 */
int cmd_read_input(const char *path, const char *what, unsigned char **data,
                   size_t *len);

int cmd_inspect(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_acme(int argc, char **argv);
int cmd_lab(int argc, char **argv);

#endif
