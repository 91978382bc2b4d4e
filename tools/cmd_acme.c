/*
 * sti acme: obtains a SHAKEN certificate from an STI-CA over ACME with the
 * tkauth-01 challenge, fetching the SPC token from the STI-PA first.
 */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct acme_opts {
    const char *directory;
    const char *pa_url;
    const char *account_id;
    const char *user;
    const char *password_source;
    const char *token_source;
    const char *spc;
    const char *account_key;
    const char *key_out;
    const char *chain_out;
    const char *summary_out;
    const char *organization;
    const char *common_name;
    const char *country;
    const char *contact;
    const char *ca_file;
    int insecure;
    int is_ca;
    long timeout_s;
};

static const char usage_text[] =
    "Usage: sti acme --directory URL --spc SPC --account-key FILE\n"
    "                --key FILE --chain FILE --organization NAME\n"
    "                (--pa URL --user NAME --password SOURCE | --token "
    "SOURCE)\n"
    "                [OPTIONS]\n"
    "\n"
    "Obtain a SHAKEN certificate over ACME (RFC 8555) with the tkauth-01\n"
    "challenge: log in to the STI-PA, get an SPC token bound to the account\n"
    "key, order, answer the challenge, finalize with a new P-256 key and\n"
    "download the chain.\n"
    "\n"
    "  --directory URL      the CA's ACME directory URL\n"
    "  --spc SPC            the service provider code to certify\n"
    "  --account-key FILE   ACME account key; created (mode 0600) if absent\n"
    "  --key FILE           where to write the new certificate key (0600)\n"
    "  --chain FILE         where to write the PEM chain, leaf first\n"
    "  --summary FILE       where to write the JSON summary (default: stdout)\n"
    "  --organization NAME  subject O of the certificate request\n"
    "  --common-name NAME   subject CN (default: \"SHAKEN <SPC>\")\n"
    "  --country CC         subject C (default: US)\n"
    "  --pa URL             the STI-PA API base URL\n"
    "  --account-id ID      the STI-PA account (default: the SPC)\n"
    "  --user NAME          the STI-PA user name\n"
    "  --password SOURCE    its password: file:PATH, env:VAR or fd:N\n"
    "  --token SOURCE       use this SPC token instead of asking the STI-PA\n"
    "  --ca                 request a subordinate CA (SCA) certificate\n"
    "  --contact URL        account contact, such as mailto:noc@example.net\n"
    "  --ca-file FILE       extra CA certificates to trust for HTTPS\n"
    "  --insecure           lab only: skip HTTPS server verification\n"
    "  --timeout SECONDS    how long to wait for the CA (default 60)\n"
    "  --help               show this help\n"
    "\n"
    "Exit status: 0 certificate written, 1 failure, 2 usage error.\n";

/* Options that take a string, stored at OFFSET in struct acme_opts. */
static const struct cli_string_option string_options[] = {
    {"directory", offsetof(struct acme_opts, directory)},
    {"pa", offsetof(struct acme_opts, pa_url)},
    {"account-id", offsetof(struct acme_opts, account_id)},
    {"user", offsetof(struct acme_opts, user)},
    {"password", offsetof(struct acme_opts, password_source)},
    {"token", offsetof(struct acme_opts, token_source)},
    {"spc", offsetof(struct acme_opts, spc)},
    {"account-key", offsetof(struct acme_opts, account_key)},
    {"key", offsetof(struct acme_opts, key_out)},
    {"chain", offsetof(struct acme_opts, chain_out)},
    {"summary", offsetof(struct acme_opts, summary_out)},
    {"organization", offsetof(struct acme_opts, organization)},
    {"common-name", offsetof(struct acme_opts, common_name)},
    {"country", offsetof(struct acme_opts, country)},
    {"contact", offsetof(struct acme_opts, contact)},
    {"ca-file", offsetof(struct acme_opts, ca_file)},
};
#define STRING_OPTIONS (sizeof(string_options) / sizeof(string_options[0]))

enum { O_STRING = 256, O_INSECURE, O_CA, O_TIMEOUT, O_HELP };

static const struct option flag_options[] = {
    {"insecure", no_argument, NULL, O_INSECURE},
    {"ca", no_argument, NULL, O_CA},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};
#define FLAG_OPTIONS (sizeof(flag_options) / sizeof(flag_options[0]))

/* Returns CLI_EXIT_OK, CLI_EXIT_USAGE, or -1 after printing --help. */
static int parse_options(int argc, char **argv, struct acme_opts *o)
{
    struct option longopts[STRING_OPTIONS + FLAG_OPTIONS];
    int c, index = 0;

    cli_longopts(longopts, string_options, STRING_OPTIONS, O_STRING,
                 flag_options);
    memset(o, 0, sizeof(*o));
    o->timeout_s = 60;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, &index)) != -1) {
        if (c == O_STRING)
            cli_set_string_option(o, &string_options[index], optarg);
        else if (c == O_INSECURE)
            o->insecure = 1;
        else if (c == O_CA)
            o->is_ca = 1;
        else if (c == O_TIMEOUT &&
                 cli_parse_long(optarg, 1, 3600, &o->timeout_s) != 0)
            return cli_usage_error("invalid --timeout '%s'; use 1 to 3600 "
                                   "seconds",
                                   optarg);
        else if (c == O_HELP) {
            fputs(usage_text, stdout);
            return -1;
        } else if (c != O_TIMEOUT)
            return CLI_EXIT_USAGE;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

static int check_options(const struct acme_opts *o)
{
    if (o->directory == NULL || o->spc == NULL || o->account_key == NULL ||
        o->key_out == NULL || o->chain_out == NULL || o->organization == NULL)
        return cli_usage_error("--directory, --spc, --account-key, --key, "
                               "--chain and --organization are required");
    if (o->token_source == NULL &&
        (o->pa_url == NULL || o->user == NULL || o->password_source == NULL))
        return cli_usage_error("give --pa, --user and --password to get the "
                               "SPC token from the STI-PA, or --token");
    if (access(o->key_out, F_OK) == 0)
        return cli_usage_error("%s exists; the certificate key is always "
                               "new, so choose another --key path",
                               o->key_out);
    return CLI_EXIT_OK;
}

/* Loads the account key, or creates it with mode 0600 when absent. */
static int account_key(const char *path, struct sti_key **key)
{
    struct sti_error err;

    if (access(path, F_OK) == 0) {
        if (sti_key_load(path, NULL, key, &err) != STI_OK)
            return cli_fail("cannot load the account key", &err);
        if (!sti_key_has_private(*key) || !sti_key_is_p256(*key)) {
            cli_errorf("%s is not a P-256 private key", path);
            return CLI_EXIT_FAIL;
        }
        return CLI_EXIT_OK;
    }
    if (sti_key_generate(key, &err) != STI_OK ||
        sti_key_save(*key, path, NULL, &err) != STI_OK)
        return cli_fail("cannot create the account key", &err);
    return CLI_EXIT_OK;
}

static int spc_token(const struct acme_opts *o, const struct sti_key *key,
                     const struct sti_tnauth *tnauth,
                     const struct sti_http_options *http, char **token)
{
    char fp[STI_FINGERPRINT_LEN], *password = NULL;
    struct sti_error err;
    int rc;

    if (o->token_source != NULL) {
        if (sti_secret_read(o->token_source, token, &err) != STI_OK)
            return cli_fail("cannot read the SPC token", &err);
        return CLI_EXIT_OK;
    }
    if (sti_secret_read(o->password_source, &password, &err) != STI_OK)
        return cli_fail("cannot read the STI-PA password", &err);
    rc = sti_key_spki_fingerprint(key, fp, &err);
    if (rc == STI_OK)
        rc = sti_acme_pa_token(
            o->pa_url, o->account_id ? o->account_id : o->spc, o->user,
            password, tnauth, o->is_ca, fp, http, token, &err);
    sti_secret_free(password);
    return rc == STI_OK ? CLI_EXIT_OK
                        : cli_fail("cannot get an SPC token", &err);
}

static int write_outputs(const struct acme_opts *o, const struct sti_key *key,
                         const struct sti_acme_result *res)
{
    char *summary = sti_acme_result_to_json(res);
    struct sti_error err;
    int rc = CLI_EXIT_OK;

    if (sti_key_save(key, o->key_out, NULL, &err) != STI_OK)
        rc = cli_fail("cannot write the certificate key", &err);
    else if (sti_file_write(o->chain_out, res->chain_pem,
                            strlen(res->chain_pem), 0644, 0, &err) != STI_OK)
        rc = cli_fail("cannot write the chain", &err);
    else if (summary == NULL)
        rc = cli_fail("cannot format the summary", NULL);
    else if (o->summary_out != NULL && strcmp(o->summary_out, "-") != 0) {
        if (sti_file_write(o->summary_out, summary, strlen(summary), 0644, 0,
                           &err) != STI_OK)
            rc = cli_fail("cannot write the summary", &err);
    } else {
        printf("%s\n", summary);
    }
    sti_free(summary);
    if (rc == CLI_EXIT_OK && res->x5u == NULL)
        cli_errorf("warning: the CA returned no x5u URL; publish %s to an "
                   "STI-CR yourself",
                   o->chain_out);
    return rc;
}

static int run_order(const struct acme_opts *o, struct sti_key *acct,
                     const struct sti_tnauth *tnauth, const char *token,
                     const struct sti_http_options *http)
{
    const char *contact[] = {o->contact, NULL};
    struct sti_acme_obtain_request req;
    struct sti_acme_client *client = NULL;
    struct sti_acme_result *res = NULL;
    struct sti_key *cert_key = NULL;
    struct sti_error err;
    int rc;

    if (sti_acme_client_new(o->directory, acct, http, &client, &err) !=
            STI_OK ||
        sti_acme_client_account(client, o->contact ? contact : NULL, 0, &err) !=
            STI_OK) {
        sti_acme_client_free(client);
        return cli_fail("cannot use the ACME account", &err);
    }
    memset(&req, 0, sizeof(req));
    req.tnauth = tnauth;
    req.token = token;
    req.is_ca = o->is_ca;
    req.organization = o->organization;
    req.common_name = o->common_name;
    req.country = o->country;
    req.timeout_s = (int)o->timeout_s;
    rc = sti_key_generate(&cert_key, &err);
    req.cert_key = cert_key;
    if (rc == STI_OK)
        rc = sti_acme_obtain(client, &req, &res, &err);
    rc = rc == STI_OK ? write_outputs(o, cert_key, res)
                      : cli_fail("cannot obtain the certificate", &err);
    sti_acme_result_free(res);
    sti_key_free(cert_key);
    sti_acme_client_free(client);
    return rc;
}

int cmd_acme(int argc, char **argv)
{
    struct acme_opts o;
    struct sti_http_options http;
    struct sti_tnauth *tnauth = NULL;
    struct sti_key *acct = NULL;
    char spec[64], *token = NULL;
    struct sti_error err;
    int rc = parse_options(argc, argv, &o);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = check_options(&o);
    if (rc != CLI_EXIT_OK)
        return rc;
    snprintf(spec, sizeof(spec), "spc:%s", o.spc);
    if (sti_tnauth_parse_spec(spec, &tnauth, &err) != STI_OK)
        return cli_usage_error("invalid --spc '%s': %s", o.spc, err.message);
    memset(&http, 0, sizeof(http));
    http.ca_file = o.ca_file;
    http.insecure_tls = o.insecure;
    http.timeout_ms = 15000;
    rc = account_key(o.account_key, &acct);
    if (rc == CLI_EXIT_OK)
        rc = spc_token(&o, acct, tnauth, &http, &token);
    if (rc == CLI_EXIT_OK)
        rc = run_order(&o, acct, tnauth, token, &http);
    if (token != NULL)
        sti_secret_free(token);
    sti_key_free(acct);
    sti_tnauth_free(tnauth);
    return rc;
}
