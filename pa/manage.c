/* sti-pa commands on an existing PA: providers, users, tokens, CA roots,
 * revocation and the published documents. */
#include "pa.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Options of the management commands; each command allows a subset. */
enum {
    OPT_DIR = 1 << 0,
    OPT_BASE_URL = 1 << 1,
    OPT_SPC = 1 << 2,
    OPT_NAME = 1 << 3,
    OPT_PASSWORD = 1 << 4,
    OPT_FINGERPRINT = 1 << 5,
    OPT_CA = 1 << 6,
    OPT_DELEGATION = 1 << 7,
    OPT_JSON = 1 << 8,
    OPT_CERT = 1 << 9,
    OPT_ISSUER = 1 << 10,
    OPT_SERIAL = 1 << 11,
    OPT_REASON = 1 << 12,
    OPT_OUT = 1 << 13,
    OPT_PEM = 1 << 14,
    OPT_VERIFY = 1 << 15,
    OPT_PA_CERT = 1 << 16,
    OPT_ACCOUNT_KEY = 1 << 17,
    OPT_X5U = 1 << 18
};

struct args {
    struct pa_settings s;
    const char *spc, *name, *password, *fingerprint;
    const char *cert, *issuer, *serial, *reason, *out, *verify, *pa_cert;
    const char *account_key, *x5u;
    int ca, delegation, json, pem;
    int nargs;
    char **rest;
};

static const struct option all_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"spc", required_argument, NULL, OPT_SPC},
    {"name", required_argument, NULL, OPT_NAME},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"fingerprint", required_argument, NULL, OPT_FINGERPRINT},
    {"ca", no_argument, NULL, OPT_CA},
    {"delegation", no_argument, NULL, OPT_DELEGATION},
    {"json", no_argument, NULL, OPT_JSON},
    {"cert", required_argument, NULL, OPT_CERT},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"reason", required_argument, NULL, OPT_REASON},
    {"out", required_argument, NULL, OPT_OUT},
    {"pem", no_argument, NULL, OPT_PEM},
    {"verify", required_argument, NULL, OPT_VERIFY},
    {"pa-cert", required_argument, NULL, OPT_PA_CERT},
    {"account-key", required_argument, NULL, OPT_ACCOUNT_KEY},
    {"x5u", required_argument, NULL, OPT_X5U},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static void set_option(struct args *a, int opt, const char *value)
{
    switch (opt) {
    case OPT_DIR:
        a->s.dir = value;
        break;
    case OPT_BASE_URL:
        a->s.base_url = value;
        break;
    case OPT_SPC:
        a->spc = value;
        break;
    case OPT_NAME:
        a->name = value;
        break;
    case OPT_PASSWORD:
        a->password = value;
        break;
    case OPT_FINGERPRINT:
        a->fingerprint = value;
        break;
    case OPT_CA:
        a->ca = 1;
        break;
    case OPT_DELEGATION:
        a->delegation = 1;
        break;
    case OPT_JSON:
        a->json = 1;
        break;
    case OPT_CERT:
        a->cert = value;
        break;
    case OPT_ISSUER:
        a->issuer = value;
        break;
    case OPT_SERIAL:
        a->serial = value;
        break;
    case OPT_REASON:
        a->reason = value;
        break;
    case OPT_OUT:
        a->out = value;
        break;
    case OPT_PEM:
        a->pem = 1;
        break;
    case OPT_VERIFY:
        a->verify = value;
        break;
    case OPT_PA_CERT:
        a->pa_cert = value;
        break;
    case OPT_ACCOUNT_KEY:
        a->account_key = value;
        break;
    case OPT_X5U:
        a->x5u = value;
        break;
    default:
        break;
    }
}

/* Parses ARGV (ARGV[0] is the command) allowing the options in ALLOWED;
 * prints USAGE for --help.  Returns CLI_EXIT_OK, CLI_EXIT_USAGE, or -1
 * after --help. */
static int parse_args(int argc, char **argv, int allowed, const char *usage,
                      struct args *a)
{
    int c;

    memset(a, 0, sizeof(*a));
    a->s.dir = pa_default_dir();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", all_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == '?')
            return cli_usage_error("invalid option '%s' for '%s'",
                                   argv[optind - 1], argv[0]);
        if ((c & allowed) == 0)
            return cli_usage_error("option --%s does not apply to '%s'",
                                   all_opts[__builtin_ctz((unsigned)c)].name,
                                   argv[0]);
        set_option(a, c, optarg);
    }
    a->nargs = argc - optind;
    a->rest = argv + optind;
    if (a->s.base_url != NULL)
        return pa_check_base_url(a->s.base_url);
    return CLI_EXIT_OK;
}

/* Parses like parse_args() for a command that takes no operands. */
static int parse_options(int argc, char **argv, int allowed, const char *usage,
                         struct args *a)
{
    int rc = parse_args(argc, argv, allowed, usage, a);

    if (rc == CLI_EXIT_OK && a->nargs != 0)
        return cli_usage_error("unexpected argument '%s'", a->rest[0]);
    return rc;
}

/* Parses like parse_args() for a command whose ARGV[1] names a subcommand,
 * unless ARGV[1] is an option such as --help. */
static int parse_subcommand(int argc, char **argv, int allowed,
                            const char *usage, struct args *a)
{
    int skip = argv[1][0] != '-';

    return parse_args(argc - skip, argv + skip, allowed, usage, a);
}

static int require(const char *value, const char *option)
{
    if (value == NULL || value[0] == '\0') {
        cli_usage_error("missing %s", option);
        return -1;
    }
    return 0;
}

/* Writes TEXT to --out (mode 0644) or stdout. */
static int emit(const struct args *a, const void *data, size_t len)
{
    struct sti_error err;

    if (a->out == NULL || strcmp(a->out, "-") == 0) {
        fwrite(data, 1, len, stdout);
        return CLI_EXIT_OK;
    }
    if (sti_file_write(a->out, data, len, 0644, 0, &err) != STI_OK)
        return cli_fail("cannot write the output", &err);
    return CLI_EXIT_OK;
}

/* Writes TEXT to --out, or to stdout followed by a newline. */
static int emit_line(const struct args *a, const char *text)
{
    int rc = emit(a, text, strlen(text));

    if (rc == CLI_EXIT_OK && (a->out == NULL || strcmp(a->out, "-") == 0))
        putchar('\n');
    return rc;
}

/* Prints JSON, the output of a *_json() call that returned RC, or reports
 * the failure with ERR as WHAT.  Frees JSON. */
static int print_json(int rc, char *json, const struct sti_error *err,
                      const char *what)
{
    if (rc != STI_OK)
        return cli_fail(what, err);
    printf("%s\n", json);
    sti_free(json);
    return CLI_EXIT_OK;
}

/* Loads the certificate that --pa-cert names into *PA_CERT. */
static int load_pa_cert(const struct args *a, struct sti_cert **pa_cert)
{
    struct sti_error err;

    if (require(a->pa_cert, "--pa-cert"))
        return CLI_EXIT_USAGE;
    if (sti_cert_load(a->pa_cert, pa_cert, &err) != STI_OK)
        return cli_fail("cannot read the PA certificate", &err);
    return CLI_EXIT_OK;
}

/* Opens the PA, runs FN, closes the PA. */
static int with_pa(const struct args *a,
                   int (*fn)(const struct args *, struct sti_pa *))
{
    struct sti_pa *pa = NULL;
    struct cli_config *cfg = NULL;
    int rc = pa_open_dir(&a->s, &pa, &cfg);

    if (rc == CLI_EXIT_OK)
        rc = fn(a, pa);
    sti_pa_close(pa);
    cli_config_free(cfg);
    return rc;
}

/* sti-pa sp */

static const char sp_usage[] =
    "Usage: sti-pa sp add --spc SPC --name NAME [--delegation] [--dir DIR]\n"
    "       sti-pa sp list [--json] [--dir DIR]\n"
    "       sti-pa sp disable SPC [--dir DIR]\n"
    "       sti-pa sp enable SPC [--dir DIR]\n"
    "\n"
    "Manages service providers.  --delegation lets the provider obtain\n"
    "SPC tokens with ca:true (for a subordinate CA).  A disabled provider\n"
    "gets no tokens.\n";

static int sp_add(const struct args *a, struct sti_pa *pa)
{
    struct sti_error err;
    int rc = sti_pa_sp_add(pa, a->spc, a->name, a->delegation, &err);

    if (rc != STI_OK)
        return pa_fail("cannot add the provider", rc, &err);
    printf("added service provider %s (%s)\n", a->spc, a->name);
    return CLI_EXIT_OK;
}

static void print_providers(const struct sti_pa_provider *list, size_t n)
{
    printf("%-8s %-8s %-10s %6s %6s  %s\n", "SPC", "STATE", "DELEGATION",
           "USERS", "TOKENS", "NAME");
    for (size_t i = 0; i < n; i++)
        printf("%-8s %-8s %-10s %6ld %6ld  %s\n", list[i].spc,
               list[i].enabled ? "enabled" : "disabled",
               list[i].delegation ? "yes" : "no", list[i].users, list[i].tokens,
               list[i].name);
}

static int sp_list(const struct args *a, struct sti_pa *pa)
{
    struct sti_pa_provider *list;
    struct sti_error err;
    char *json = NULL;
    size_t n;
    int rc;

    if (a->json) {
        rc = sti_pa_sp_list_json(pa, &json, &err);
        return print_json(rc, json, &err, "cannot list providers");
    }
    if (sti_pa_sp_list(pa, &list, &n, &err) != STI_OK)
        return cli_fail("cannot list providers", &err);
    print_providers(list, n);
    sti_pa_sp_list_free(list, n);
    return CLI_EXIT_OK;
}

static int sp_set_state(const struct args *a, struct sti_pa *pa)
{
    struct sti_error err;
    int enable = strcmp(a->name, "enable") == 0;

    if (sti_pa_sp_set_enabled(pa, a->spc, enable, &err) != STI_OK)
        return cli_fail("cannot change the provider", &err);
    printf("%s service provider %s\n", enable ? "enabled" : "disabled", a->spc);
    return CLI_EXIT_OK;
}

int pa_cmd_sp(int argc, char **argv)
{
    struct args a;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int rc;

    if (sub == NULL)
        return cli_usage_error("sp needs a subcommand: add, list, disable "
                               "or enable");
    rc = parse_subcommand(
        argc, argv, OPT_DIR | OPT_SPC | OPT_NAME | OPT_DELEGATION | OPT_JSON,
        sp_usage, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (strcmp(sub, "add") == 0 && a.nargs == 0) {
        if (require(a.spc, "--spc") || require(a.name, "--name"))
            return CLI_EXIT_USAGE;
        return with_pa(&a, sp_add);
    }
    if (strcmp(sub, "list") == 0 && a.nargs == 0)
        return with_pa(&a, sp_list);
    if ((strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) &&
        a.nargs == 1) {
        a.spc = a.rest[0];
        a.name = sub;
        return with_pa(&a, sp_set_state);
    }
    return cli_usage_error("invalid 'sp %s' command line; see 'sti-pa sp "
                           "--help'",
                           sub);
}

/* sti-pa user, sti-pa admin */

static const char user_usage[] =
    "Usage: sti-pa user add --spc SPC --name USER --password SRC [--dir DIR]\n"
    "       sti-pa admin add --name USER --password SRC [--dir DIR]\n"
    "\n"
    "Adds an API user of a service provider, or an administrator who may\n"
    "revoke certificates over the API.  SRC is file:PATH, env:VAR or fd:N;\n"
    "passwords have at least 8 characters and are stored only as salted\n"
    "scrypt hashes.\n";

static int user_add(const struct args *a, struct sti_pa *pa)
{
    struct sti_error err;
    char *password = NULL;
    int admin = a->spc == NULL, rc;

    rc = sti_secret_read(a->password, &password, &err);
    if (rc != STI_OK)
        return pa_fail("cannot read the password", rc, &err);
    rc = sti_pa_user_add(pa, a->name, a->spc, admin, password, &err);
    sti_secret_free(password);
    if (rc != STI_OK)
        return pa_fail("cannot add the user", rc, &err);
    if (admin)
        printf("added administrator %s\n", a->name);
    else
        printf("added user %s of service provider %s\n", a->name, a->spc);
    return CLI_EXIT_OK;
}

static int cmd_user_common(int argc, char **argv, int admin)
{
    struct args a;
    int allowed = OPT_DIR | OPT_NAME | OPT_PASSWORD | (admin ? 0 : OPT_SPC);
    int rc;

    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(user_usage, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error("%s needs the subcommand 'add'", argv[0]);
    }
    rc = parse_options(argc - 1, argv + 1, allowed, user_usage, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((!admin && require(a.spc, "--spc")) || require(a.name, "--name") ||
        require(a.password, "--password (file:PATH, env:VAR or fd:N)"))
        return CLI_EXIT_USAGE;
    return with_pa(&a, user_add);
}

int pa_cmd_user(int argc, char **argv)
{
    return cmd_user_common(argc, argv, 0);
}

int pa_cmd_admin(int argc, char **argv)
{
    return cmd_user_common(argc, argv, 1);
}

/* sti-pa token */

static const char token_usage[] =
    "Usage: sti-pa token --spc SPC --fingerprint FP [--ca] [--out FILE]\n"
    "                    [--base-url URL] [--dir DIR]\n"
    "       sti-pa token --verify FILE --pa-cert CERT [--spc SPC]\n"
    "                    [--account-key KEY] [--x5u URL]\n"
    "\n"
    "Issues an SPC token for provider SPC to the ACME account whose key\n"
    "has fingerprint FP (\"SHA256 AB:CD:...\").  --ca requests ca:true,\n"
    "allowed only for providers added with --delegation.  The token's x5u\n"
    "is BASE_URL/pa.crt, from --base-url or base_url in pa.conf.\n"
    "\n"
    "With --verify, checks the token in FILE (\"-\" for standard input):\n"
    "its shape, the signature by the PA certificate CERT and its expiry,\n"
    "and when given, that it names SPC, that its fingerprint matches the\n"
    "account key KEY (PEM) and that its x5u is URL.  Prints the claims.\n";

static int token_issue(const struct args *a, struct sti_pa *pa)
{
    struct sti_error err;
    char *token = NULL;
    int rc = sti_pa_token_issue(pa, a->spc, a->fingerprint, a->ca, "cli",
                                &token, &err);

    if (rc != STI_OK)
        return pa_fail("cannot issue the token", rc, &err);
    rc = emit_line(a, token);
    sti_free(token);
    return rc;
}

static void print_claims(const struct sti_spc_token *t)
{
    const char *spc = sti_tnauth_get0_spc(t->tnauth);
    char stamp[32];
    struct tm tm;

    gmtime_r(&t->exp, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("jti %s\nspc %s\nca %s\nfingerprint %s\nexpires %s\nx5u %s\n",
           t->jti, spc ? spc : "(not a single SPC)", t->ca ? "true" : "false",
           t->fingerprint, stamp, t->x5u);
}

/* Checks the token in --verify with the keys and values the options name;
 * PA_CERT and ACCOUNT (may be NULL) are loaded by the caller. */
static int token_check(const struct args *a, const struct sti_cert *pa_cert,
                       const struct sti_key *account)
{
    const struct sti_cert *certs[1] = {pa_cert};
    struct sti_spc_verify_options o;
    struct sti_spc_token *t = NULL;
    struct sti_error err;
    unsigned char *text = NULL;
    const char *spc;
    size_t len = 0;
    int rc = sti_file_read(a->verify, &text, &len, &err);

    if (rc != STI_OK)
        return cli_fail("cannot read the token", &err);
    text[strcspn((char *)text, "\r\n")] = '\0';
    memset(&o, 0, sizeof(o));
    o.pa_certs = certs;
    o.pa_cert_count = 1;
    o.x5u = a->x5u;
    o.account_key = account;
    o.ca = -1;
    rc = sti_spc_token_verify((char *)text, &o, &t, &err);
    free(text);
    if (rc != STI_OK)
        return cli_fail("the SPC token does not verify", &err);
    spc = sti_tnauth_get0_spc(t->tnauth);
    if (a->spc != NULL && (spc == NULL || strcmp(spc, a->spc) != 0)) {
        cli_errorf("the SPC token names %s, not %s",
                   spc ? spc : "no single SPC", a->spc);
        rc = CLI_EXIT_FAIL;
    } else {
        print_claims(t);
    }
    sti_spc_token_free(t);
    return rc == STI_OK ? CLI_EXIT_OK : rc;
}

static int token_verify(const struct args *a)
{
    struct sti_cert *pa_cert = NULL;
    struct sti_key *account = NULL;
    struct sti_error err;
    int rc = load_pa_cert(a, &pa_cert);

    if (rc != CLI_EXIT_OK)
        return rc;
    if (a->account_key != NULL &&
        sti_key_load(a->account_key, NULL, &account, &err) != STI_OK)
        rc = cli_fail("cannot read the account key", &err);
    else
        rc = token_check(a, pa_cert, account);
    sti_key_free(account);
    sti_cert_free(pa_cert);
    return rc;
}

int pa_cmd_token(int argc, char **argv)
{
    struct args a;
    int rc = parse_options(argc, argv,
                           OPT_DIR | OPT_BASE_URL | OPT_SPC | OPT_FINGERPRINT |
                               OPT_CA | OPT_OUT | OPT_VERIFY | OPT_PA_CERT |
                               OPT_ACCOUNT_KEY | OPT_X5U,
                           token_usage, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.verify != NULL)
        return token_verify(&a);
    if (require(a.spc, "--spc") || require(a.fingerprint, "--fingerprint"))
        return CLI_EXIT_USAGE;
    return with_pa(&a, token_issue);
}

/* sti-pa ca */

static const char ca_usage[] =
    "Usage: sti-pa ca add ROOT.pem [--dir DIR]\n"
    "       sti-pa ca remove FINGERPRINT|ROOT.pem [--dir DIR]\n"
    "       sti-pa ca list [--json] [--dir DIR]\n"
    "\n"
    "Manages the approved CA roots that the signed CA list publishes.\n"
    "FINGERPRINT is the SHA-256 of the root (at least 8 hex digits), as\n"
    "'ca list' prints it.\n";

static int ca_add(const struct args *a, struct sti_pa *pa)
{
    struct sti_cert *root = NULL;
    struct sti_error err;
    char fp[65];
    int rc = sti_cert_load(a->rest[0], &root, &err);

    if (rc == STI_OK)
        rc = sti_pa_ca_add(pa, root, &err);
    if (rc == STI_OK) {
        sti_cert_fingerprint(root, fp);
        printf("added CA root %s\n", fp);
    }
    sti_cert_free(root);
    return rc == STI_OK ? CLI_EXIT_OK
                        : pa_fail("cannot add the root", rc, &err);
}

static int ca_remove(const struct args *a, struct sti_pa *pa)
{
    struct sti_cert *root = NULL;
    struct sti_error err;
    char fp[65];
    const char *which = a->rest[0];
    int rc;

    /* The root may be named by its PEM file as well as its fingerprint. */
    if (strchr(which, '/') != NULL || strchr(which, '.') != NULL) {
        if (sti_cert_load(which, &root, &err) != STI_OK)
            return cli_fail("cannot read the root", &err);
        sti_cert_fingerprint(root, fp);
        sti_cert_free(root);
        which = fp;
    }
    rc = sti_pa_ca_remove(pa, which, &err);
    if (rc != STI_OK)
        return pa_fail("cannot remove the root", rc, &err);
    printf("removed CA root %s\n", which);
    return CLI_EXIT_OK;
}

static int ca_list(const struct args *a, struct sti_pa *pa)
{
    struct sti_pa_ca *list;
    struct sti_error err;
    char *json = NULL;
    size_t n;
    int rc;

    if (a->json) {
        rc = sti_pa_ca_list_json(pa, &json, &err);
        return print_json(rc, json, &err, "cannot list CA roots");
    }
    if (sti_pa_ca_list(pa, &list, &n, &err) != STI_OK)
        return cli_fail("cannot list CA roots", &err);
    for (size_t i = 0; i < n; i++)
        printf("%s  %s\n", list[i].fingerprint, list[i].subject);
    sti_pa_ca_list_free(list, n);
    return CLI_EXIT_OK;
}

int pa_cmd_ca(int argc, char **argv)
{
    struct args a;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int rc;

    if (sub == NULL)
        return cli_usage_error("ca needs a subcommand: add, remove or list");
    rc = parse_subcommand(argc, argv, OPT_DIR | OPT_JSON, ca_usage, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (strcmp(sub, "add") == 0 && a.nargs == 1)
        return with_pa(&a, ca_add);
    if (strcmp(sub, "remove") == 0 && a.nargs == 1)
        return with_pa(&a, ca_remove);
    if (strcmp(sub, "list") == 0 && a.nargs == 0)
        return with_pa(&a, ca_list);
    return cli_usage_error("invalid 'ca %s' command line; see 'sti-pa ca "
                           "--help'",
                           sub);
}

/* sti-pa calist */

static const char calist_usage[] =
    "Usage: sti-pa calist [--out FILE] [--base-url URL] [--dir DIR]\n"
    "       sti-pa calist --verify FILE --pa-cert CERT [--out ROOTS.pem]\n"
    "\n"
    "Prints the CA list document: a JWS signed by the PA certificate whose\n"
    "payload holds the version, issued and expires times and the roots.\n"
    "With --verify, checks such a document (or the JSON body of GET\n"
    "/api/v1/ca-list) against the PA certificate CERT, prints its version,\n"
    "root count and expiry, and writes the roots as PEM to --out.\n";

static int calist_print(const struct args *a, struct sti_pa *pa)
{
    struct sti_error err;
    char *jws = NULL;
    int rc;

    if (sti_pa_calist_document(pa, &jws, &err) != STI_OK)
        return cli_fail("cannot build the CA list", &err);
    rc = emit_line(a, jws);
    sti_free(jws);
    return rc;
}

static int calist_check(const struct args *a, struct sti_cert *pa_cert)
{
    struct sti_pa_calist *list = NULL;
    struct sti_error err;
    unsigned char *doc = NULL;
    char *pem = NULL, stamp[32];
    struct tm tm;
    size_t len = 0;
    int rc = sti_file_read(a->verify, &doc, &len, &err);

    if (rc == STI_OK)
        rc = sti_pa_calist_verify((const char *)doc, len, pa_cert, 0, &list,
                                  &err);
    free(doc);
    if (rc != STI_OK)
        return cli_fail("the CA list does not verify", &err);
    gmtime_r(&list->expires, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("version %llu, %zu roots, expires %s\n",
           (unsigned long long)list->version, sti_chain_count(list->roots),
           stamp);
    rc = CLI_EXIT_OK;
    if (a->out != NULL && sti_chain_count(list->roots) > 0) {
        if (sti_chain_to_pem(list->roots, &pem, &err) != STI_OK)
            rc = cli_fail("cannot write the roots", &err);
        else
            rc = emit(a, pem, strlen(pem));
    }
    sti_free(pem);
    sti_pa_calist_free(list);
    return rc;
}

static int calist_verify(const struct args *a)
{
    struct sti_cert *pa_cert = NULL;
    int rc = load_pa_cert(a, &pa_cert);

    if (rc != CLI_EXIT_OK)
        return rc;
    rc = calist_check(a, pa_cert);
    sti_cert_free(pa_cert);
    return rc;
}

int pa_cmd_calist(int argc, char **argv)
{
    struct args a;
    int rc = parse_options(
        argc, argv, OPT_DIR | OPT_BASE_URL | OPT_OUT | OPT_VERIFY | OPT_PA_CERT,
        calist_usage, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.verify != NULL)
        return calist_verify(&a);
    return with_pa(&a, calist_print);
}

/* sti-pa revoke */

static const char revoke_usage[] =
    "Usage: sti-pa revoke --cert FILE [--reason NAME] [--dir DIR]\n"
    "       sti-pa revoke --issuer DN --serial HEX [--reason NAME] "
    "[--dir DIR]\n"
    "\n"
    "Adds a certificate to the PA's indirect CRL and regenerates the CRL\n"
    "with the next CRL number.  DN is in RFC 2253 form (e.g.\n"
    "\"CN=SHAKEN CA,O=Example,C=US\"); NAME is an RFC 5280 reason such as\n"
    "keyCompromise (default unspecified).\n";

static int revoke_run(const struct args *a, struct sti_pa *pa)
{
    struct sti_cert *cert = NULL;
    struct sti_error err;
    int reason = 0, rc = STI_OK;

    if (a->reason != NULL) {
        reason = sti_crl_reason_from_name(a->reason);
        if (reason < 0)
            return cli_usage_error("unknown --reason '%s'; use an RFC 5280 "
                                   "name such as keyCompromise",
                                   a->reason);
    }
    if (a->cert != NULL) {
        rc = sti_cert_load(a->cert, &cert, &err);
        if (rc == STI_OK)
            rc = sti_pa_revoke_cert(pa, cert, reason, &err);
        sti_cert_free(cert);
    } else {
        rc = sti_pa_revoke(pa, a->issuer, a->serial, reason, &err);
    }
    if (rc != STI_OK)
        return pa_fail("cannot revoke", rc, &err);
    printf("revoked; the CRL is regenerated\n");
    return CLI_EXIT_OK;
}

int pa_cmd_revoke(int argc, char **argv)
{
    struct args a;
    int rc = parse_options(
        argc, argv, OPT_DIR | OPT_CERT | OPT_ISSUER | OPT_SERIAL | OPT_REASON,
        revoke_usage, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((a.cert != NULL) == (a.issuer != NULL || a.serial != NULL))
        return cli_usage_error("give either --cert FILE or --issuer DN "
                               "with --serial HEX");
    if (a.cert == NULL &&
        (require(a.issuer, "--issuer") || require(a.serial, "--serial")))
        return CLI_EXIT_USAGE;
    return with_pa(&a, revoke_run);
}

/* sti-pa crl */

static const char crl_usage[] =
    "Usage: sti-pa crl [--pem] [--out FILE] [--dir DIR]\n"
    "\n"
    "Writes the current CRL, DER by default or PEM with --pem; the CRL is\n"
    "regenerated first when it is close to its nextUpdate.\n";

static int crl_print(const struct args *a, struct sti_pa *pa)
{
    struct sti_crl *crl = NULL;
    struct sti_error err;
    unsigned char *der = NULL;
    char *pem = NULL;
    size_t len = 0;
    int rc = sti_pa_crl_get(pa, &crl, &err);

    if (rc == STI_OK && a->pem)
        rc = sti_crl_to_pem(crl, &pem, &err);
    else if (rc == STI_OK)
        rc = sti_crl_to_der(crl, &der, &len, &err);
    sti_crl_free(crl);
    if (rc != STI_OK)
        return cli_fail("cannot produce the CRL", &err);
    rc = a->pem ? emit(a, pem, strlen(pem)) : emit(a, der, len);
    sti_free(pem);
    sti_free(der);
    return rc;
}

int pa_cmd_crl(int argc, char **argv)
{
    struct args a;
    int rc =
        parse_options(argc, argv, OPT_DIR | OPT_PEM | OPT_OUT, crl_usage, &a);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    return with_pa(&a, crl_print);
}
