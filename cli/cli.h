/*
 * Helpers shared by the four programs (sti, sti-ca, sti-pa, sti-cr).
 * Only the C library and libsti's public header are used here.
 */
#ifndef STI_CLI_H
#define STI_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "sti.h"

/* Exit codes common to every program; each man page lists them. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,  /* the operation failed, or lint found errors */
    CLI_EXIT_USAGE = 2, /* bad options or arguments */
    CLI_EXIT_CHECK = 3  /* verify: could not check (no certificate, etc.) */
};

/* The name used in messages, such as "sti lint"; set once in main(). */
extern const char *cli_prog;

/* Prints "PROG: MESSAGE" on stderr. */
void cli_errorf(const char *fmt, ...) STI_PRINTF(1, 2);
/* Prints "PROG: WHAT: ERR->message" on stderr and returns CLI_EXIT_FAIL. */
int cli_fail(const char *what, const struct sti_error *err);
/* Prints "PROG: MESSAGE" and "Try 'PROG --help'." and returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) STI_PRINTF(1, 2);

/* Parses a decimal integer in [min, max]; returns 0 on success. */
int cli_parse_long(const char *text, long min, long max, long *out);

/*
 * A configuration file of "key = value" lines; '#' starts a comment.
 * cli_config_get() returns NULL for an absent key.
 */
struct cli_config;
int cli_config_load(const char *path, struct cli_config **out,
                    struct sti_error *err);
const char *cli_config_get(const struct cli_config *cfg, const char *key);
/* Returns 0 when every key of CFG is one of the COUNT names in KNOWN, else
 * -1 with ERR naming the file, the line and the first unknown key. */
int cli_config_check_keys(const struct cli_config *cfg,
                          const char *const *known, size_t count,
                          struct sti_error *err);
void cli_config_free(struct cli_config *cfg);

/*
 * Installs SIGTERM and SIGINT handlers that set *flag, and ignores SIGPIPE,
 * for services that poll the flag.
 */
void cli_handle_stop_signals(volatile sig_atomic_t *flag);

/* Joins DIR and NAME into a new string ("DIR/NAME"). */
char *cli_path_join(const char *dir, const char *name);

/* An option that takes a string, stored at OFFSET in the caller's options
 * struct, as in {"dir", offsetof(struct serve_opts, dir)}. */
struct cli_string_option {
    const char *name;
    size_t offset;
};

/* Fills OPTS for getopt_long with the COUNT options of STRINGS, each
 * returning VAL, then with FLAGS up to and including its all-zero last
 * entry.  OPTS has room for COUNT entries plus those of FLAGS. */
void cli_longopts(struct option *opts, const struct cli_string_option *strings,
                  size_t count, int val, const struct option *flags);

/* Stores VALUE in the options struct OPTS at the offset of OPTION. */
void cli_set_string_option(void *opts, const struct cli_string_option *option,
                           const char *value);

/* A subcommand of a program, such as "issue" of sti-ca. */
struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* ARGV[0] is "sti-ca issue" */
    const char *summary;               /* one line for the usage text */
};

/* A program made of subcommands. */
struct cli_program {
    const char *name;     /* "sti-ca"; also the man page's name */
    const char *synopsis; /* what follows the name: "COMMAND [OPTIONS]" */
    const struct cli_command *commands;
    size_t count;
};

/*
 * Runs the command of PROG that ARGV[1] names and returns its exit code.
 * Sets cli_prog and ARGV[1] to "NAME COMMAND" first, so that messages,
 * getopt_long's included, name the command.  Handles --help, -h and
 * --version itself, and prints the usage text on stderr with exit code 2
 * when no command is given.
 */
int cli_run_command(const struct cli_program *prog, int argc, char **argv);

#endif
