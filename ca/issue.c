/* sti-ca issue: issue an SP, SCA or delegate certificate. */
#include "ca.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct issue_opts {
    const char *dir;
    const char *pass;
    const char *csr;
    const char *key_out;
    const char *key_pass;
    const char *spc;
    const char *profile;
    const char *out;
    const char *org;
    const char *country;
    const char *cn;
    const char *issuer_cert;
    const char *issuer_key;
    const char *issuer_pass;
    char *tn_spec; /* "tn:..,range:.." built from --tn and --range */
    int new_key;
    int sca;
    long days;
};

/* Everything one issuance gathers before signing. */
struct issue_state {
    struct issue_opts *o;
    struct ca *ca;
    struct sti_key *subject_key; /* the CSR's or a new one */
    struct sti_tnauth *tnauth;
    struct sti_chain *issuer_chain; /* delegates: the SCA and its chain */
    struct sti_key *issuer_key;     /* delegates: the SCA's key */
    char *csr_org;
    int kind;
    int key_created; /* --key-out was written, to remove on failure */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sti-ca issue [--dir DIR] (--csr FILE | --new-key "
            "--key-out FILE)\n"
            "                    (--spc SPC | --tn LIST | --range "
            "START+COUNT)... [OPTIONS]\n\n"
            "Issues a certificate and writes the chain, leaf first, as "
            "PEM.\n\n"
            "  --dir DIR           CA directory (default .)\n"
            "  --pass SOURCE       passphrase of the CA keys (file:PATH, "
            "env:VAR, fd:N)\n"
            "  --csr FILE          take the key, subject O and TNAuthList "
            "from a CSR\n"
            "  --new-key           generate the key here instead\n"
            "  --key-out FILE      where --new-key writes the key (mode "
            "0600)\n"
            "  --key-pass SOURCE   encrypt that key with this passphrase\n"
            "  --spc SPC           service provider code (A-Z, 0-9)\n"
            "  --tn LIST           telephone numbers, comma-separated "
            "(delegates, SCAs)\n"
            "  --range START+COUNT a block of COUNT numbers from START; "
            "repeatable\n"
            "  --sca               issue a subordinate CA for delegation "
            "(RFC 9060)\n"
            "  --issuer-cert FILE  the SCA (chain) that issues a delegate "
            "certificate\n"
            "  --issuer-key FILE   that SCA's key\n"
            "  --issuer-pass SOURCE passphrase of --issuer-key\n"
            "  --profile us|fr     policy profile (default: the CA's)\n"
            "  --days N            validity in days (default: the "
            "profile's)\n"
            "  --org NAME          subject O (default: the CSR's, else the "
            "CA's)\n"
            "  --country CC        subject C (default: the CA's)\n"
            "  --cn NAME           subject CN (default \"SHAKEN <SPC>\")\n"
            "  --out FILE          output file, never overwritten; - for "
            "stdout (default -)\n"
            "  --help              print this help\n\n"
            "With --out FILE, the new serial is printed on stdout.\n"
            "Exit status: 0 issued, 1 failed, 2 usage error.\n");
}

/*
 * Checks a --range entry START+COUNT.  A range covers numbers with as many
 * digits as START (how sti_tnauth_encompasses compares them), so COUNT
 * cannot reach past the largest number of that length.
 */
static int check_range_item(const char *item)
{
    const char *plus = strchr(item, '+');
    size_t digits = plus ? (size_t)(plus - item) : 0;
    unsigned long long count, room = 0;
    char *end;

    if (plus == NULL || digits == 0 || plus[1] < '0' || plus[1] > '9')
        return cli_usage_error("invalid --range entry '%s'; write "
                               "START+COUNT, such as 12025550100+100",
                               item);
    errno = 0;
    count = strtoull(plus + 1, &end, 10);
    if (*end != '\0')
        return cli_usage_error("invalid --range entry '%s': COUNT '%s' is "
                               "not a number",
                               item, plus + 1);
    if (digits > 15 || strspn(item, "0123456789") != digits)
        return CLI_EXIT_OK; /* the TNAuthList parser names the bad START */
    for (size_t i = 0; i < digits; i++)
        room = room * 10 + 9;
    /* The numbers from START to the largest one with its digit count. */
    room = room - strtoull(item, NULL, 10) + 1;
    if (errno == ERANGE || count > room)
        return cli_usage_error("invalid --range entry '%s': COUNT %s is too "
                               "large; a range of %zu-digit numbers from %.*s "
                               "holds at most %llu",
                               item, plus + 1, digits, (int)digits, item, room);
    return CLI_EXIT_OK;
}

/*
 * Appends "PREFIX:ITEM" to the TNAuthList spec for each comma-separated
 * ITEM of the value of OPTION, rejecting empty items.
 */
static int add_tn_items(struct issue_opts *o, const char *option,
                        const char *prefix, const char *list)
{
    const char *item = list;

    for (size_t position = 1;; position++) {
        size_t skip = strspn(item, " \t");
        size_t len = strcspn(item + skip, ",");
        char *entry, *next = NULL;

        while (len > 0 && strchr(" \t", item[skip + len - 1]) != NULL)
            len--;
        if (len == 0)
            return cli_usage_error("invalid %s '%s': entry %zu is empty; "
                                   "remove the extra comma",
                                   option, list, position);
        entry = strndup(item + skip, len);
        if (entry == NULL)
            return CLI_EXIT_FAIL;
        if (strcmp(prefix, "range") == 0 && check_range_item(entry) != 0) {
            free(entry);
            return CLI_EXIT_USAGE;
        }
        if (asprintf(&next, "%s%s%s:%s", o->tn_spec ? o->tn_spec : "",
                     o->tn_spec ? "," : "", prefix, entry) < 0)
            next = NULL;
        free(entry);
        if (next == NULL)
            return CLI_EXIT_FAIL;
        free(o->tn_spec);
        o->tn_spec = next;
        item = strchr(item, ',');
        if (item == NULL)
            return 0;
        item++;
    }
}

static int parse_opt(struct issue_opts *o, int ch)
{
    switch (ch) {
    case 'd':
        o->dir = optarg;
        break;
    case 'P':
        o->pass = optarg;
        break;
    case 'c':
        o->csr = optarg;
        break;
    case 'n':
        o->new_key = 1;
        break;
    case 'k':
        o->key_out = optarg;
        break;
    case 'K':
        o->key_pass = optarg;
        break;
    case 's':
        o->spc = optarg;
        break;
    case 't':
        return add_tn_items(o, "--tn", "tn", optarg);
    case 'r':
        return add_tn_items(o, "--range", "range", optarg);
    case 'S':
        o->sca = 1;
        break;
    case 'i':
        o->issuer_cert = optarg;
        break;
    case 'I':
        o->issuer_key = optarg;
        break;
    case 'Q':
        o->issuer_pass = optarg;
        break;
    case 'p':
        o->profile = optarg;
        break;
    case 'o':
        o->out = optarg;
        break;
    case 'O':
        o->org = optarg;
        break;
    case 'C':
        o->country = optarg;
        break;
    case 'N':
        o->cn = optarg;
        break;
    case 'D':
        if (cli_parse_long(optarg, 1, 36500, &o->days) != 0)
            return cli_usage_error("invalid --days '%s'; give 1 to 36500",
                                   optarg);
        break;
    default:
        return cli_usage_error("invalid option");
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct issue_opts *o)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"pass", required_argument, NULL, 'P'},
        {"csr", required_argument, NULL, 'c'},
        {"new-key", no_argument, NULL, 'n'},
        {"key-out", required_argument, NULL, 'k'},
        {"key-pass", required_argument, NULL, 'K'},
        {"spc", required_argument, NULL, 's'},
        {"tn", required_argument, NULL, 't'},
        {"range", required_argument, NULL, 'r'},
        {"sca", no_argument, NULL, 'S'},
        {"issuer-cert", required_argument, NULL, 'i'},
        {"issuer-key", required_argument, NULL, 'I'},
        {"issuer-pass", required_argument, NULL, 'Q'},
        {"profile", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"org", required_argument, NULL, 'O'},
        {"country", required_argument, NULL, 'C'},
        {"cn", required_argument, NULL, 'N'},
        {"days", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return -1;
        }
        rc = parse_opt(o, ch);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

/* The option values that can be checked before the CA is opened. */
static int check_values(const struct issue_opts *o)
{
    int rc = ca_check_dir("--dir", o->dir);

    if (rc == 0 && o->org != NULL)
        rc = ca_check_name("--org", o->org, CA_NAME_MAX);
    if (rc == 0 && o->cn != NULL)
        rc = ca_check_name("--cn", o->cn, CA_NAME_MAX);
    if (rc == 0 && o->country != NULL)
        rc = ca_check_country("--country", o->country);
    if (rc == 0 && o->pass != NULL)
        rc = ca_check_secret_source("--pass", o->pass);
    if (rc == 0 && o->key_pass != NULL)
        rc = ca_check_secret_source("--key-pass", o->key_pass);
    if (rc == 0 && o->issuer_pass != NULL)
        rc = ca_check_secret_source("--issuer-pass", o->issuer_pass);
    if (rc == 0 && o->out[0] == '\0')
        rc = cli_usage_error("--out is empty; give a file name, or - for "
                             "standard output");
    if (rc == 0 && o->key_out != NULL && strcmp(o->key_out, o->out) == 0)
        rc = cli_usage_error("--key-out and --out both name %s; give two "
                             "files",
                             o->out);
    return rc;
}

static int check_args(const struct issue_opts *o)
{
    int rc = check_values(o);

    if (rc != 0)
        return rc;
    if ((o->csr != NULL) == (o->new_key != 0))
        return cli_usage_error("give exactly one of --csr FILE and "
                               "--new-key");
    if (o->new_key && o->key_out == NULL)
        return cli_usage_error("--new-key needs --key-out FILE for the new "
                               "private key");
    if (!o->new_key && (o->key_out || o->key_pass))
        return cli_usage_error("--key-out and --key-pass go with --new-key");
    if (o->spc != NULL && o->tn_spec != NULL && !o->sca)
        return cli_usage_error("--spc and --tn/--range together are only "
                               "for an SCA (--sca); an SP certificate "
                               "carries one SPC");
    if (!o->sca && o->tn_spec != NULL &&
        (o->issuer_cert == NULL || o->issuer_key == NULL))
        return cli_usage_error("delegate certificates (--tn, --range) are "
                               "issued by an SCA; give --issuer-cert and "
                               "--issuer-key");
    if ((o->issuer_cert || o->issuer_key) && (o->sca || o->tn_spec == NULL))
        return cli_usage_error("--issuer-cert and --issuer-key are only for "
                               "delegate certificates (--tn or --range "
                               "without --sca)");
    if (o->profile != NULL && sti_profile_get(o->profile) == NULL)
        return cli_usage_error("unknown profile '%s'; use us or fr",
                               o->profile);
    return 0;
}

/* Steps of one issuance */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

/*
 * Copies one attribute value of an RFC 4514 string from *P into OUT,
 * undoing "\c" and "\XX" escapes, and leaves *P at the ',' or '+' that
 * ends it.  Returns 0 for a truncated escape.
 */
static int unescape_value(const char **p, char *out)
{
    const char *s = *p;

    while (*s != '\0' && *s != ',' && *s != '+') {
        if (*s != '\\') {
            *out++ = *s++;
        } else if (hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
            *out++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
            s += 3;
        } else if (s[1] != '\0') {
            *out++ = s[1];
            s += 2;
        } else {
            return 0;
        }
    }
    *out = '\0';
    *p = s;
    return 1;
}

/* The O attribute of an RFC 4514 subject string, unescaped; NULL when
 * there is none. */
static char *subject_org(const char *subject)
{
    const char *p = subject;
    char *value = malloc(strlen(subject) + 1);

    while (value != NULL && *p != '\0') {
        int is_org = strncmp(p, "O=", 2) == 0;

        p = strchr(p, '=');
        if (p == NULL)
            break;
        p++;
        if (!unescape_value(&p, value))
            break;
        if (is_org)
            return value;
        if (*p != '\0')
            p++;
    }
    free(value);
    return NULL;
}

/* Reads the subject O of the CSR, which becomes the certificate's. */
static int csr_org(struct issue_state *s, const struct sti_csr *csr)
{
    char *subject = sti_csr_subject(csr);
    char why[256];

    s->csr_org = subject ? subject_org(subject) : NULL;
    sti_free(subject);
    if (s->csr_org == NULL || s->o->org != NULL)
        return 0;
    if (ca_name_problem(s->csr_org, CA_NAME_MAX, why, sizeof(why))) {
        cli_errorf("CSR %s: invalid subject O: %s; or give --org NAME",
                   s->o->csr, why);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int merge_tnauth(struct issue_state *s, struct sti_tnauth *from_csr)
{
    const struct issue_opts *o = s->o;
    struct sti_error err;
    char *spec = NULL;
    int rc;

    if (o->spc == NULL && o->tn_spec == NULL) {
        if (from_csr == NULL)
            return cli_usage_error("no TNAuthList: give --spc SPC, --tn or "
                                   "--range, or a CSR that requests one");
        s->tnauth = sti_tnauth_dup(from_csr);
        return s->tnauth ? 0 : CLI_EXIT_FAIL;
    }
    if (asprintf(&spec, "%s%s%s%s", o->spc ? "spc:" : "", o->spc ? o->spc : "",
                 o->spc && o->tn_spec ? "," : "",
                 o->tn_spec ? o->tn_spec : "") < 0)
        return CLI_EXIT_FAIL;
    rc = sti_tnauth_parse_spec(spec, &s->tnauth, &err);
    free(spec);
    if (rc != STI_OK)
        return cli_usage_error("invalid TNAuthList: %s", err.message);
    if (from_csr != NULL && !sti_tnauth_equal(from_csr, s->tnauth)) {
        cli_errorf("the CSR requests a different TNAuthList than the "
                   "options give; drop --spc/--tn/--range or fix the CSR");
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int load_csr(struct issue_state *s)
{
    struct sti_csr *csr = NULL;
    struct sti_tnauth *requested = NULL;
    struct sti_error err;
    int rc;

    if (sti_csr_load(s->o->csr, &csr, &err) != STI_OK) {
        cli_errorf("cannot load CSR %s: %s", s->o->csr, err.message);
        return CLI_EXIT_FAIL;
    }
    if (sti_csr_is_ca(csr) && !s->o->sca) {
        cli_errorf("CSR %s requests a CA certificate; add --sca to issue an "
                   "SCA",
                   s->o->csr);
        sti_csr_free(csr);
        return CLI_EXIT_FAIL;
    }
    s->subject_key = sti_csr_get1_key(csr);
    if (csr_org(s, csr) != 0) {
        sti_csr_free(csr);
        return CLI_EXIT_FAIL;
    }
    rc = sti_csr_get_tnauth(csr, &requested, &err);
    if (rc != STI_OK && rc != STI_ERR_NOTFOUND) {
        cli_errorf("CSR %s: %s", s->o->csr, err.message);
        sti_csr_free(csr);
        return CLI_EXIT_FAIL;
    }
    rc = merge_tnauth(s, requested);
    sti_tnauth_free(requested);
    sti_csr_free(csr);
    return rc;
}

static int make_new_key(struct issue_state *s)
{
    struct sti_error err;
    char *pass = NULL;
    int rc;

    /* Check the TNAuthList first, so a bad one leaves no key file. */
    rc = merge_tnauth(s, NULL);
    if (rc != 0)
        return rc;
    if (s->o->key_pass != NULL &&
        ca_read_secret(s->o->key_pass, "passphrase for --key-out", &pass))
        return CLI_EXIT_FAIL;
    rc = sti_key_generate(&s->subject_key, &err);
    if (rc == STI_OK)
        rc = sti_key_save(s->subject_key, s->o->key_out, pass, &err);
    sti_secret_free(pass);
    if (rc != STI_OK)
        return cli_fail("cannot create the key", &err);
    s->key_created = 1;
    return 0;
}

static int load_delegate_issuer(struct issue_state *s)
{
    const struct issue_opts *o = s->o;
    struct sti_error err;
    char *pass = NULL;
    int rc;

    if (sti_chain_load(o->issuer_cert, &s->issuer_chain, &err) != STI_OK ||
        sti_chain_count(s->issuer_chain) == 0) {
        cli_errorf("cannot load --issuer-cert %s: %s", o->issuer_cert,
                   err.message);
        return CLI_EXIT_FAIL;
    }
    if (o->issuer_pass != NULL &&
        ca_read_secret(o->issuer_pass, "passphrase for --issuer-key", &pass))
        return CLI_EXIT_FAIL;
    rc = sti_key_load(o->issuer_key, pass, &s->issuer_key, &err);
    sti_secret_free(pass);
    if (rc != STI_OK) {
        cli_errorf("cannot load --issuer-key %s: %s", o->issuer_key,
                   err.message);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int check_delegate_key(struct issue_state *s)
{
    struct sti_cert *sca = sti_chain_get0(s->issuer_chain, 0);
    struct sti_key *pub = sti_cert_get1_key(sca);
    int same = pub != NULL && sti_key_public_equal(pub, s->issuer_key);

    sti_key_free(pub);
    if (!sti_cert_is_ca(sca)) {
        cli_errorf("--issuer-cert %s is not a CA certificate; give the SCA "
                   "that issues the delegate",
                   s->o->issuer_cert);
        return CLI_EXIT_FAIL;
    }
    if (!same) {
        cli_errorf("--issuer-key %s does not match --issuer-cert %s",
                   s->o->issuer_key, s->o->issuer_cert);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

/*
 * The validity when --days is absent: the profile's default for the kind,
 * shortened so that the certificate ends before its issuer does.
 */
static int default_days(const struct issue_state *s,
                        const struct sti_cert *issuer)
{
    const struct sti_profile *p =
        sti_profile_get(s->o->profile ? s->o->profile : s->ca->profile->name);
    int days =
        s->kind == STI_CERT_SCA ? p->ca_default_days : p->ee_default_days;
    double left = difftime(sti_cert_not_after(issuer), time(NULL)) / 86400;

    if (left < days)
        days = left < 1 ? 1 : (int)left;
    return days;
}

static void fill_request(const struct issue_state *s,
                         const struct sti_cert *issuer,
                         struct sti_cert_request *req)
{
    const struct issue_opts *o = s->o;

    memset(req, 0, sizeof(*req));
    req->kind = s->kind;
    req->profile = o->profile ? o->profile : s->ca->profile->name;
    req->common_name = o->cn;
    req->organization = o->org       ? o->org
                        : s->csr_org ? s->csr_org
                                     : ca_config_get(s->ca, "organization");
    req->country = o->country ? o->country : ca_config_get(s->ca, "country");
    req->subject_key = s->subject_key;
    req->tnauth = s->tnauth;
    req->crl_url = ca_config_get(s->ca, "crl_url");
    req->crl_issuer = s->ca->crl_issuer;
    req->validity_days = o->days ? (int)o->days : default_days(s, issuer);
}

/* The chain to hand out: the leaf, then its issuer's chain up to (not
 * including) the root, which verifiers hold as a trust anchor. */
static int build_chain(struct issue_state *s, struct sti_cert *leaf, char **pem)
{
    struct sti_chain *chain = sti_chain_new();
    struct sti_error err;
    int rc = STI_OK;

    if (chain == NULL)
        return CLI_EXIT_FAIL;
    sti_chain_push(chain, leaf); /* takes its own reference */
    if (s->kind == STI_CERT_DELEGATE) {
        for (size_t i = 0; i < sti_chain_count(s->issuer_chain); i++)
            sti_chain_push(chain, sti_chain_get0(s->issuer_chain, i));
    } else {
        sti_chain_push(chain, s->ca->intermediate);
    }
    rc = sti_chain_to_pem(chain, pem, &err);
    sti_chain_free(chain);
    return rc == STI_OK ? 0 : cli_fail("cannot encode the chain", &err);
}

static int issue_and_write(struct issue_state *s)
{
    struct sti_cert_request req;
    struct sti_cert *leaf = NULL;
    const struct sti_cert *issuer = s->ca->intermediate;
    const struct sti_key *issuer_key = s->ca->intermediate_key;
    struct sti_error err;
    char *pem = NULL, *serial;
    int rc;

    if (s->kind == STI_CERT_DELEGATE) {
        issuer = sti_chain_get0(s->issuer_chain, 0);
        issuer_key = s->issuer_key;
    }
    fill_request(s, issuer, &req);
    if (sti_castore_issue(s->ca->store, &req, issuer, issuer_key, &leaf,
                          &err) != STI_OK)
        return cli_fail("cannot issue the certificate", &err);
    rc = build_chain(s, leaf, &pem);
    if (rc == 0)
        rc = ca_write_output(s->o->out, pem, 0644);
    serial = sti_cert_serial_hex(leaf);
    if (rc == 0 && strcmp(s->o->out, "-") != 0)
        printf("%s\n", serial ? serial : "");
    sti_free(serial);
    sti_free(pem);
    sti_cert_free(leaf);
    return rc;
}

/*
 * Checks that --out can be created before a key is written or a
 * certificate recorded: like --key-out, it never replaces a file, since
 * the chain there belongs to a key that would no longer match it.
 */
static int check_output(const char *out)
{
    char *dir;
    char *slash;
    int ok;

    if (strcmp(out, "-") == 0)
        return 0;
    if (access(out, F_OK) == 0) {
        cli_errorf("--out %s already exists; sti-ca never overwrites a "
                   "chain, so remove it or choose another file",
                   out);
        return CLI_EXIT_FAIL;
    }
    dir = strdup(out);
    if (dir == NULL)
        return CLI_EXIT_FAIL;
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    ok = access(slash ? dir : ".", W_OK) == 0;
    if (!ok)
        cli_errorf("cannot write --out %s: directory %s is not writable", out,
                   slash ? dir : ".");
    free(dir);
    return ok ? 0 : CLI_EXIT_FAIL;
}

static int issue_run(struct issue_state *s)
{
    int rc = check_output(s->o->out);

    if (rc != 0)
        return rc;

    if (s->o->sca)
        s->kind = STI_CERT_SCA;
    else if (s->o->tn_spec != NULL)
        s->kind = STI_CERT_DELEGATE;
    else
        s->kind = STI_CERT_SP;
    if (s->kind == STI_CERT_DELEGATE) {
        rc = load_delegate_issuer(s);
        if (rc == 0)
            rc = check_delegate_key(s);
        if (rc != 0)
            return rc;
    }
    rc = s->o->csr ? load_csr(s) : make_new_key(s);
    if (rc == 0)
        rc = issue_and_write(s);
    if (rc != 0 && s->key_created)
        unlink(s->o->key_out);
    return rc;
}

int ca_cmd_issue(int argc, char **argv)
{
    struct issue_opts o;
    struct issue_state s;
    int rc;

    memset(&o, 0, sizeof(o));
    o.dir = ".";
    o.out = "-";
    rc = parse_args(argc, argv, &o);
    if (rc == 0)
        rc = check_args(&o);
    if (rc != 0) {
        free(o.tn_spec);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    memset(&s, 0, sizeof(s));
    s.o = &o;
    rc = ca_open(o.dir, CA_WITH_KEYS, o.pass, &s.ca);
    if (rc == 0)
        rc = issue_run(&s);
    ca_close(s.ca);
    sti_key_free(s.subject_key);
    sti_tnauth_free(s.tnauth);
    sti_chain_free(s.issuer_chain);
    sti_key_free(s.issuer_key);
    free(s.csr_org);
    free(o.tn_spec);
    return rc;
}
