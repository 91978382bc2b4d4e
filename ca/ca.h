/*
 * sti-ca: a SHAKEN certificate authority.  main.c dispatches to one file
 * per subcommand; ca.c holds what they share (the CA directory).
 */
#ifndef STI_CA_H
#define STI_CA_H

#include "cli.h"

/* File names inside a CA directory. */
#define CA_CONFIG "ca.conf"
#define CA_ROOT_CERT "root.pem"
#define CA_ROOT_KEY "root.key"
#define CA_INTER_CERT "intermediate.pem"
#define CA_INTER_KEY "intermediate.key"
#define CA_DATABASE "ca.db"

/* An opened CA directory. */
struct ca {
    char *dir;
    struct cli_config *config;
    const struct sti_profile *profile;
    struct sti_cert *root;
    struct sti_cert *intermediate;
    struct sti_cert *crl_issuer; /* names the CRL in cRLDistributionPoints */
    struct sti_key *intermediate_key; /* NULL unless ca_open loaded keys */
    struct sti_castore *store;
};

enum { CA_NO_KEYS = 0, CA_WITH_KEYS = 1 };

/*
 * Opens the CA in DIR: configuration, certificates and database; with
 * CA_WITH_KEYS also the intermediate key, decrypted with the passphrase
 * from PASS_SOURCE (NULL when the keys are not encrypted).  Prints the
 * error and returns a CLI exit code.
 */
int ca_open(const char *dir, int with_keys, const char *pass_source,
            struct ca **out);
void ca_close(struct ca *ca);

/* The value of KEY in the configuration, or NULL. */
const char *ca_config_get(const struct ca *ca, const char *key);
/* A path from the configuration, relative ones taken from the CA directory. */
char *ca_config_path(const struct ca *ca, const char *key);

/* Maximum bytes of UTF-8 in a subject O or CN.  RFC 5280 Appendix A.1
 * bounds both at 64 characters (ub-organization-name, ub-common-name), and
 * a character takes at least one byte. */
#define CA_NAME_MAX 64

/*
 * Checks of option values; each prints a usage error naming OPTION and
 * returns CLI_EXIT_USAGE, or returns CLI_EXIT_OK.  ca_check_secret_source
 * never prints VALUE, which may be a passphrase typed by mistake.
 */
int ca_check_dir(const char *option, const char *value);
int ca_check_name(const char *option, const char *value, size_t max);
int ca_check_country(const char *option, const char *value);
int ca_check_crl_url(const char *option, const char *value);
int ca_check_secret_source(const char *option, const char *value);
/* Writes why VALUE cannot be a subject attribute of at most MAX bytes into
 * WHY and returns 1, or returns 0 when it can. */
int ca_name_problem(const char *value, size_t max, char *why, size_t size);

/* Reads a secret from SOURCE (file:, env:, fd:); prints errors. */
int ca_read_secret(const char *source, const char *what, char **out);

/* Writes TEXT to PATH, which must not exist yet, or to stdout when PATH is
 * "-"; prints errors. */
int ca_write_output(const char *path, const char *text, unsigned int mode);

int ca_cmd_init(int argc, char **argv);
int ca_cmd_issue(int argc, char **argv);
int ca_cmd_revoke(int argc, char **argv);
int ca_cmd_list(int argc, char **argv);
/* The ACME server; ca/serve.c. */
int ca_cmd_serve(int argc, char **argv);

#endif
