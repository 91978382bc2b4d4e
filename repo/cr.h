/* Shared declarations of the sti-cr program. */
#ifndef STI_CR_H
#define STI_CR_H

#include "cli.h"

#define CR_CONFIG "sti-cr.conf"
#define CR_DB "repo.db"

/* The state directory and its configuration file (may be absent). */
struct cr_dir {
    const char *path;
    struct cli_config *config;
};

/* Loads DIR/sti-cr.conf; a missing file is an error only when REQUIRED. */
int cr_dir_load(struct cr_dir *dir, const char *path, int required);
void cr_dir_free(struct cr_dir *dir);
/* A configuration value, or DEF. */
const char *cr_conf(const struct cr_dir *dir, const char *key, const char *def);
/* A path from the configuration, relative to the directory; NULL when
 * the key is absent.  The caller frees it. */
char *cr_conf_path(const struct cr_dir *dir, const char *key);
/* Opens the store of DIR, printing the error. */
int cr_open(const struct cr_dir *dir, struct sti_repo **repo);

/* Options that cr_parse_opts() fills.  An absent option is NULL or 0. */
struct cr_opts {
    const char *dir;
    const char *name;
    const char *cert;
    int json;
};

/*
 * Parses --dir, --name, --json and --help, and also --cert when WITH_CERT
 * is set.  --help prints HELP.  Returns 0, -1 after --help, or an exit
 * code.
 */
int cr_parse_opts(int argc, char **argv, const char *help, int with_cert,
                  struct cr_opts *o);

int cr_init(int argc, char **argv);
int cr_serve(int argc, char **argv);
int cr_publish(int argc, char **argv);
int cr_list(int argc, char **argv);
int cr_remove(int argc, char **argv);
int cr_export(int argc, char **argv);
int cr_token(int argc, char **argv);
int cr_client(int argc, char **argv);

#endif
