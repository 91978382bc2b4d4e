/* The CA directory shared by the sti-ca subcommands. */
#include "ca.h"

#include <stdlib.h>
#include <string.h>

const char *ca_config_get(const struct ca *ca, const char *key)
{
    return cli_config_get(ca->config, key);
}

char *ca_config_path(const struct ca *ca, const char *key)
{
    const char *value = ca_config_get(ca, key);

    if (value == NULL || value[0] == '\0')
        return NULL;
    if (value[0] == '/')
        return strdup(value);
    return cli_path_join(ca->dir, value);
}

int ca_check_dir(const char *option, const char *value)
{
    if (value[0] == '\0')
        return cli_usage_error("%s is empty; give the path of the CA "
                               "directory",
                               option);
    return CLI_EXIT_OK;
}

/* Length of the UTF-8 sequence at P (RFC 3629), or 0 when it is invalid. */
static size_t utf8_length(const unsigned char *p)
{
    size_t len = p[0] < 0x80                    ? 1
                 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
                 : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
                 : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                                : 0;

    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong forms, UTF-16 surrogates and code points above U+10FFFF. */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

int ca_name_problem(const char *value, size_t max, char *why, size_t size)
{
    const unsigned char *p = (const unsigned char *)value;
    size_t n = strlen(value);

    for (size_t i = 0; i < n;) {
        size_t len = utf8_length(p + i);

        if (len == 0) {
            snprintf(why, size,
                     "byte %zu (0x%02X) is not UTF-8; give the name in UTF-8",
                     i + 1, p[i]);
            return 1;
        }
        if (p[i] < 0x20 || p[i] == 0x7F) {
            snprintf(why, size,
                     "byte %zu is the control character 0x%02X; remove it",
                     i + 1, p[i]);
            return 1;
        }
        i += len;
    }
    if (n == 0 || n > max) {
        snprintf(why, size, "'%s' has %zu bytes; give 1 to %zu bytes of UTF-8",
                 value, n, max);
        return 1;
    }
    return 0;
}

int ca_check_name(const char *option, const char *value, size_t max)
{
    char why[256];

    if (ca_name_problem(value, max, why, sizeof(why)))
        return cli_usage_error("invalid %s: %s", option, why);
    return CLI_EXIT_OK;
}

int ca_check_country(const char *option, const char *value)
{
    if (strlen(value) == 2 && value[0] >= 'A' && value[0] <= 'Z' &&
        value[1] >= 'A' && value[1] <= 'Z')
        return CLI_EXIT_OK;
    return cli_usage_error("invalid %s '%s'; give an ISO 3166 code of two "
                           "capital letters such as US",
                           option, value);
}

/* Checks for an http or https URL with a host and no byte that RFC 3986
 * leaves out of URLs (spaces, controls, non-ASCII). */
int ca_check_crl_url(const char *option, const char *value)
{
    size_t skip = strncmp(value, "http://", 7) == 0    ? 7
                  : strncmp(value, "https://", 8) == 0 ? 8
                                                       : 0;

    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F)
            return cli_usage_error("invalid %s: byte %zu (0x%02X) cannot "
                                   "appear in a URL; percent-encode it",
                                   option, (size_t)(p - value) + 1,
                                   (unsigned char)*p);
    if (skip == 0 || strcspn(value + skip, "/") == 0)
        return cli_usage_error("invalid %s '%s'; give an http:// URL with "
                               "a host, such as http://127.0.0.1/crl.pem",
                               option, value);
    return CLI_EXIT_OK;
}

int ca_check_secret_source(const char *option, const char *value)
{
    if (strncmp(value, "file:", 5) == 0 || strncmp(value, "env:", 4) == 0 ||
        strncmp(value, "fd:", 3) == 0)
        return CLI_EXIT_OK;
    return cli_usage_error("invalid %s value: give file:PATH, env:VAR or "
                           "fd:N, never the passphrase itself, which other "
                           "users can read on the command line",
                           option);
}

int ca_read_secret(const char *source, const char *what, char **out)
{
    struct sti_error err;

    if (sti_secret_read(source, out, &err) != STI_OK) {
        cli_errorf("cannot read the %s: %s", what, err.message);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int ca_write_output(const char *path, const char *text, unsigned int mode)
{
    struct sti_error err;

    if (strcmp(path, "-") == 0) {
        if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
            cli_errorf("cannot write to standard output");
            return CLI_EXIT_FAIL;
        }
        return CLI_EXIT_OK;
    }
    if (sti_file_write(path, text, strlen(text), mode, 1, &err) != STI_OK)
        return cli_fail("cannot write the output", &err);
    return CLI_EXIT_OK;
}

static int load_cert(const struct ca *ca, const char *key,
                     struct sti_cert **out)
{
    char *path = ca_config_path(ca, key);
    struct sti_error err;
    int rc;

    if (path == NULL) {
        cli_errorf("%s/%s has no '%s' entry; recreate the CA with "
                   "'sti-ca init'",
                   ca->dir, CA_CONFIG, key);
        return CLI_EXIT_FAIL;
    }
    rc = sti_cert_load(path, out, &err);
    if (rc != STI_OK)
        cli_errorf("cannot load %s: %s", path, err.message);
    free(path);
    return rc == STI_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int load_intermediate_key(struct ca *ca, const char *pass_source)
{
    const char *encrypted = ca_config_get(ca, "encrypted_keys");
    char *path = ca_config_path(ca, "intermediate_key");
    char *pass = NULL;
    struct sti_error err;
    int rc;

    if (encrypted != NULL && strcmp(encrypted, "yes") == 0 &&
        pass_source == NULL) {
        free(path);
        return cli_usage_error("the keys of the CA in %s are encrypted; give "
                               "--pass file:PATH, env:VAR or fd:N",
                               ca->dir);
    }
    if (pass_source != NULL &&
        ca_read_secret(pass_source, "CA key passphrase", &pass) != 0) {
        free(path);
        return CLI_EXIT_FAIL;
    }
    rc = path ? sti_key_load(path, pass, &ca->intermediate_key, &err)
              : STI_ERR_NOTFOUND;
    if (rc != STI_OK)
        cli_errorf("cannot load the intermediate key %s: %s",
                   path ? path : "(not configured)",
                   path ? err.message : "no intermediate_key entry");
    sti_secret_free(pass);
    free(path);
    return rc == STI_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int open_store(struct ca *ca)
{
    char *path = ca_config_path(ca, "database");
    struct sti_error err;
    int rc;

    if (path == NULL) {
        cli_errorf("%s/%s has no 'database' entry", ca->dir, CA_CONFIG);
        return CLI_EXIT_FAIL;
    }
    rc = sti_castore_open(path, &ca->store, &err);
    free(path);
    if (rc != STI_OK)
        return cli_fail("cannot open the CA database", &err);
    return CLI_EXIT_OK;
}

/* The keys of the CA configuration file, as sti-ca init writes them. */
static const char *const config_keys[] = {
    "profile",          "organization", "country",        "crl_url",
    "crl_issuer_cert",  "root_cert",    "root_key",       "intermediate_cert",
    "intermediate_key", "database",     "encrypted_keys",
};

static int load_config(struct ca *ca)
{
    char *path = cli_path_join(ca->dir, CA_CONFIG);
    struct sti_error err;
    const char *profile;
    int rc;

    if (path == NULL)
        return CLI_EXIT_FAIL;
    rc = cli_config_load(path, &ca->config, &err);
    if (rc == STI_ERR_NOTFOUND)
        cli_errorf("%s is not a CA directory (no %s); create one with "
                   "'sti-ca init --dir %s'",
                   ca->dir, CA_CONFIG, ca->dir);
    else if (rc != STI_OK)
        cli_errorf("cannot read %s: %s", path, err.message);
    free(path);
    if (rc != STI_OK)
        return CLI_EXIT_FAIL;
    if (cli_config_check_keys(ca->config, config_keys,
                              sizeof(config_keys) / sizeof(config_keys[0]),
                              &err) != 0) {
        cli_errorf("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    profile = ca_config_get(ca, "profile");
    ca->profile = sti_profile_get(profile ? profile : "us");
    if (ca->profile == NULL) {
        cli_errorf("%s/%s names unknown profile '%s'; use us or fr", ca->dir,
                   CA_CONFIG, profile);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int ca_open(const char *dir, int with_keys, const char *pass_source,
            struct ca **out)
{
    struct ca *ca = calloc(1, sizeof(*ca));
    int rc;

    *out = NULL;
    if (ca == NULL || (ca->dir = strdup(dir)) == NULL) {
        free(ca);
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    rc = load_config(ca);
    if (rc == 0)
        rc = load_cert(ca, "root_cert", &ca->root);
    if (rc == 0)
        rc = load_cert(ca, "intermediate_cert", &ca->intermediate);
    if (rc == 0)
        rc = load_cert(ca, "crl_issuer_cert", &ca->crl_issuer);
    if (rc == 0 && with_keys)
        rc = load_intermediate_key(ca, pass_source);
    if (rc == 0)
        rc = open_store(ca);
    if (rc != 0) {
        ca_close(ca);
        return rc;
    }
    *out = ca;
    return CLI_EXIT_OK;
}

void ca_close(struct ca *ca)
{
    if (ca == NULL)
        return;
    sti_castore_close(ca->store);
    sti_key_free(ca->intermediate_key);
    sti_cert_free(ca->crl_issuer);
    sti_cert_free(ca->intermediate);
    sti_cert_free(ca->root);
    cli_config_free(ca->config);
    free(ca->dir);
    free(ca);
}
