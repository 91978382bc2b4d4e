/* sti-pa: shared declarations of the command modules. */
#ifndef PA_PA_H
#define PA_PA_H

#include "cli.h"

#define PA_CONFIG_FILE "pa.conf"

/* Settings common to the commands that open an existing PA directory. */
struct pa_settings {
    const char *dir;
    const char *base_url; /* --base-url, overrides the configuration */
};

/* Opens the PA in S->dir with its configuration file; prints the error
 * and returns CLI_EXIT_FAIL when it cannot. */
int pa_open_dir(const struct pa_settings *s, struct sti_pa **pa,
                struct cli_config **cfg);
/* Prints "PROG: WHAT: ERR->message" and returns CLI_EXIT_USAGE when STATUS
 * is STI_ERR_INVALID (a value given on the command line is invalid), else
 * CLI_EXIT_FAIL. */
int pa_fail(const char *what, int status, const struct sti_error *err);
/* Checks a --base-url value; prints the error and returns CLI_EXIT_USAGE
 * when it is invalid, else CLI_EXIT_OK. */
int pa_check_base_url(const char *url);
/* Returns 1 when LISTEN is HOST:PORT with a port of 0 to 65535. */
int pa_listen_valid(const char *listen);
/* Returns the --dir value, or $STI_PA_DIR, or NULL. */
const char *pa_default_dir(void);

int pa_cmd_init(int argc, char **argv);
int pa_cmd_serve(int argc, char **argv);
int pa_cmd_sp(int argc, char **argv);
int pa_cmd_user(int argc, char **argv);
int pa_cmd_admin(int argc, char **argv);
int pa_cmd_token(int argc, char **argv);
int pa_cmd_ca(int argc, char **argv);
int pa_cmd_revoke(int argc, char **argv);
int pa_cmd_crl(int argc, char **argv);
int pa_cmd_calist(int argc, char **argv);

#endif
