/* sti sign: sign a PASSporT and print the Identity header, or add it to a
 * SIP INVITE. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEST 16

struct sign_opts {
    const char *key, *pass, *x5u, *orig, *orig_uri, *attest, *origid;
    const char *ppt, *div, *claims, *invite, *profile;
    const char *dest[MAX_DEST];
    size_t dest_count;
    const char *dest_uri[MAX_DEST];
    size_t dest_uri_count;
    long iat;
    int compact, replace, json, identity_set;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s --key FILE --x5u URL [OPTIONS]\n"
            "Signs a PASSporT with ES256 and prints the Identity header "
            "value.\n\n"
            "  --key FILE         P-256 private key (PEM, PKCS#8 or SEC1)\n"
            "  --pass SOURCE      key passphrase: file:PATH, env:VAR or fd:N\n"
            "  --x5u URL          URL of the signer's certificate chain\n"
            "  --orig TN          calling number (or --orig-uri URI)\n"
            "  --dest TN          called number; repeat for several\n"
            "  --dest-uri URI     called party as a URI; repeat for several\n"
            "  --attest A|B|C     SHAKEN attestation level\n"
            "  --origid UUID      origination id (default: a random UUID)\n"
            "  --iat SECONDS      issued-at time (default: now, or the Date\n"
            "                     of the --invite message)\n"
            "  --ppt shaken|div|none  PASSporT type (default: shaken)\n"
            "  --div TN           div PASSporT: the original called number\n"
            "  --claims JSON      extra claims object, such as rcd\n"
            "  --profile us|fr    how TNs are canonicalised (default: us)\n"
            "  --compact          print the compact form (\"..signature\");\n"
            "                     only with --ppt none, because shaken and\n"
            "                     div claims cannot be rebuilt from SIP\n"
            "  --invite FILE      add the header to this SIP message ('-' is\n"
            "                     stdin); orig and dest default to its\n"
            "                     P-Asserted-Identity or From, and To\n"
            "  --identity keep|replace  existing Identity headers in FILE\n"
            "                     (default: replace)\n"
            "  --json             print the header and decoded PASSporT as "
            "JSON\n"
            "  --help             show this help\n\n"
            "Exit status: 0 signed, 1 failure, 2 usage error.\n",
            cli_prog);
}

/* 1 when TEXT has the 8-4-4-4-12 hex digit form of a UUID (RFC 4122). */
/* Checks the option values that the library would take without error
 * but that cannot be what the user meant. */
static int check_values(const struct sign_opts *o)
{
    struct sti_error err;

    if (o->key == NULL || o->x5u == NULL)
        return cli_usage_error("--key and --x5u are required");
    if (sti_passport_check_x5u(o->x5u, &err) != STI_OK)
        return cli_usage_error("%s", err.message);
    if (strcmp(o->ppt, "shaken") != 0 && strcmp(o->ppt, "div") != 0 &&
        strcmp(o->ppt, "none") != 0)
        return cli_usage_error("invalid --ppt '%s'; use shaken, div or none",
                               o->ppt);
    if (o->profile != NULL && strcmp(o->profile, "us") != 0 &&
        strcmp(o->profile, "fr") != 0)
        return cli_usage_error("invalid --profile '%s'; use us or fr",
                               o->profile);
    if (o->pass != NULL && strncmp(o->pass, "file:", 5) != 0 &&
        strncmp(o->pass, "env:", 4) != 0 && strncmp(o->pass, "fd:", 3) != 0)
        return cli_usage_error("invalid --pass: use file:PATH, env:VAR or "
                               "fd:N, so that the passphrase stays off the "
                               "command line");
    if (o->attest != NULL &&
        (strlen(o->attest) != 1 || strchr("ABC", o->attest[0]) == NULL))
        return cli_usage_error("invalid --attest '%s'; use A, B or C",
                               o->attest);
    if (o->origid != NULL && !sti_uuid_valid(o->origid))
        return cli_usage_error("invalid --origid '%s'; use a UUID such as "
                               "123e4567-e89b-42d3-a456-426614174000",
                               o->origid);
    if (o->orig_uri != NULL && !sti_sip_uri_valid(o->orig_uri))
        return cli_usage_error("invalid --orig-uri '%s'; use a URI without "
                               "spaces such as sip:alice@example.org",
                               o->orig_uri);
    for (size_t i = 0; i < o->dest_uri_count; i++)
        if (!sti_sip_uri_valid(o->dest_uri[i]))
            return cli_usage_error("invalid --dest-uri '%s'; use a URI "
                                   "without spaces such as "
                                   "sip:bob@example.org",
                                   o->dest_uri[i]);
    return CLI_EXIT_OK;
}

/* Rejects options that the chosen ppt or output would silently drop. */
static int check_combinations(const struct sign_opts *o)
{
    int shaken = strcmp(o->ppt, "shaken") == 0;

    if (strcmp(o->ppt, "div") == 0 && o->div == NULL)
        return cli_usage_error("--ppt div needs --div TN, the called number "
                               "before the diversion");
    if (strcmp(o->ppt, "div") != 0 && o->div != NULL)
        return cli_usage_error("--div needs --ppt div");
    if (shaken && o->attest == NULL)
        return cli_usage_error("--ppt shaken needs --attest A, B or C");
    if (!shaken && (o->attest != NULL || o->origid != NULL))
        return cli_usage_error("--attest and --origid need --ppt shaken, "
                               "because a %s PASSporT has no attest or "
                               "origid claim",
                               strcmp(o->ppt, "div") == 0 ? "div" : "plain");
    if (o->identity_set && o->invite == NULL)
        return cli_usage_error("--identity needs --invite FILE");
    if (o->json && o->invite != NULL)
        return cli_usage_error("--json cannot be used with --invite, which "
                               "prints the signed SIP message");
    return CLI_EXIT_OK;
}

static int check_options(struct sign_opts *o)
{
    int rc = check_values(o);

    if (rc == CLI_EXIT_OK)
        rc = check_combinations(o);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* A verifier rebuilds a compact PASSporT from the SIP message
     * (RFC 8224), which gives orig, dest and iat only.  SHAKEN's attest
     * and origid (RFC 8588) and the div claim (RFC 8946) would be lost,
     * so those types need the full form. */
    if (o->compact && strcmp(o->ppt, "none") != 0)
        return cli_usage_error(
            "--compact cannot be used with --ppt %s: verifiers rebuild a "
            "compact PASSporT from SIP, which has no %s claims, so they "
            "reject it; drop --compact, or use --ppt none",
            o->ppt,
            strcmp(o->ppt, "shaken") == 0 ? "attest or origid"
            : strcmp(o->ppt, "div") == 0  ? "div"
                                          : "ppt-specific");
    if (o->compact && o->claims != NULL)
        return cli_usage_error("--compact cannot be used with --claims: the "
                               "compact form carries no claims beyond "
                               "orig, dest and iat");
    if (strcmp(o->ppt, "none") == 0)
        o->ppt = NULL;
    return CLI_EXIT_OK;
}

static int parse_args(int argc, char **argv, struct sign_opts *o)
{
    static const struct option longopts[] = {
        {"key", 1, NULL, 'k'},      {"pass", 1, NULL, 'p'},
        {"x5u", 1, NULL, 'x'},      {"orig", 1, NULL, 'o'},
        {"orig-uri", 1, NULL, 'O'}, {"dest", 1, NULL, 'd'},
        {"dest-uri", 1, NULL, 'U'}, {"attest", 1, NULL, 'a'},
        {"origid", 1, NULL, 'I'},   {"iat", 1, NULL, 't'},
        {"ppt", 1, NULL, 'P'},      {"div", 1, NULL, 'D'},
        {"claims", 1, NULL, 'c'},   {"profile", 1, NULL, 'r'},
        {"compact", 0, NULL, 'C'},  {"invite", 1, NULL, 'i'},
        {"identity", 1, NULL, 'y'}, {"json", 0, NULL, 'j'},
        {"help", 0, NULL, 'h'},     {NULL, 0, NULL, 0}};
    int c;

    o->replace = 1;
    o->ppt = "shaken";
    opterr = 0; /* cli_usage_error() reports bad options with our prefix */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->key = optarg;
            break;
        case 'p':
            o->pass = optarg;
            break;
        case 'x':
            o->x5u = optarg;
            break;
        case 'o':
            o->orig = optarg;
            break;
        case 'O':
            o->orig_uri = optarg;
            break;
        case 'a':
            o->attest = optarg;
            break;
        case 'I':
            o->origid = optarg;
            break;
        case 'P':
            o->ppt = optarg;
            break;
        case 'D':
            o->div = optarg;
            break;
        case 'c':
            o->claims = optarg;
            break;
        case 'r':
            o->profile = optarg;
            break;
        case 'C':
            o->compact = 1;
            break;
        case 'i':
            o->invite = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'd':
            if (o->dest_count == MAX_DEST)
                return cli_usage_error("at most %d --dest options", MAX_DEST);
            o->dest[o->dest_count++] = optarg;
            break;
        case 'U':
            if (o->dest_uri_count == MAX_DEST)
                return cli_usage_error("at most %d --dest-uri options",
                                       MAX_DEST);
            o->dest_uri[o->dest_uri_count++] = optarg;
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 253402300799L, &o->iat) != 0)
                return cli_usage_error("invalid --iat '%s'; use seconds "
                                       "since 1970",
                                       optarg);
            break;
        case 'y':
            if (strcmp(optarg, "keep") != 0 && strcmp(optarg, "replace") != 0)
                return cli_usage_error("invalid --identity '%s'; use keep "
                                       "or replace",
                                       optarg);
            o->replace = strcmp(optarg, "replace") == 0;
            o->identity_set = 1;
            break;
        default:
            return cmd_other_option(c, argv, usage);
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return check_options(o);
}

static int load_key(const struct sign_opts *o, struct sti_key **key)
{
    struct sti_error err;
    char *pass = NULL;
    int rc;

    if (o->pass != NULL && sti_secret_read(o->pass, &pass, &err) != STI_OK)
        return cli_fail("cannot read the passphrase", &err);
    rc = sti_key_load(o->key, pass, key, &err);
    sti_secret_free(pass);
    if (rc != STI_OK)
        return cli_fail("cannot load the key", &err);
    return CLI_EXIT_OK;
}

/* Canonical copies of the TN options live in these buffers. */
struct tn_bufs {
    char orig[STI_TN_MAX + 1];
    char div[STI_TN_MAX + 1];
    char dest[MAX_DEST][STI_TN_MAX + 1];
    const char *dest_ptrs[MAX_DEST];
};

static int canon_tn(const struct sign_opts *o, const char *in, char *out)
{
    struct sti_error err;

    if (sti_tn_canonicalize(o->profile, in, out, &err) != STI_OK)
        return cli_fail("invalid telephone number", &err);
    return CLI_EXIT_OK;
}

/* Fills the claims from the options, canonicalising every TN. */
static int build_claims(const struct sign_opts *o, struct tn_bufs *b,
                        struct sti_passport_claims *c)
{
    int rc = CLI_EXIT_OK;

    memset(c, 0, sizeof(*c));
    c->ppt = o->ppt;
    c->x5u = o->x5u;
    c->attest = o->attest;
    c->origid = o->origid;
    c->iat = o->iat;
    c->extra_json = o->claims;
    c->orig_uri = o->orig_uri;
    if (o->orig != NULL && (rc = canon_tn(o, o->orig, b->orig)) == 0)
        c->orig_tn = b->orig;
    if (rc == 0 && o->div != NULL && (rc = canon_tn(o, o->div, b->div)) == 0)
        c->div_tn = b->div;
    for (size_t i = 0; rc == 0 && i < o->dest_count; i++) {
        rc = canon_tn(o, o->dest[i], b->dest[i]);
        b->dest_ptrs[i] = b->dest[i];
    }
    c->dest_tn = b->dest_ptrs;
    c->dest_tn_count = o->dest_count;
    c->dest_uri = o->dest_uri;
    c->dest_uri_count = o->dest_uri_count;
    return rc;
}

/* Takes orig and dest from the INVITE where the options give none. */
static int claims_from_sip(const struct sign_opts *o, const struct sti_sip *s,
                           struct tn_bufs *b, struct sti_passport_claims *c)
{
    struct sti_error err;

    if (c->orig_tn == NULL && c->orig_uri == NULL) {
        if (sti_sip_get_tn(s, STI_SIP_PAI, o->profile, b->orig, NULL) &&
            sti_sip_get_tn(s, STI_SIP_FROM, o->profile, b->orig, &err))
            return cli_fail("cannot take orig from the INVITE; give --orig "
                            "or --orig-uri",
                            &err);
        c->orig_tn = b->orig;
    }
    if (c->dest_tn_count == 0 && c->dest_uri_count == 0) {
        if (sti_sip_get_tn(s, STI_SIP_TO, o->profile, b->dest[0], NULL) &&
            sti_sip_get_tn(s, STI_SIP_RURI, o->profile, b->dest[0], &err))
            return cli_fail("cannot take dest from the INVITE; give --dest "
                            "or --dest-uri",
                            &err);
        b->dest_ptrs[0] = b->dest[0];
        c->dest_tn_count = 1;
    }
    return CLI_EXIT_OK;
}

static int sign_identity(const struct sign_opts *o, const struct sti_key *key,
                         const struct sti_passport_claims *c, char **value)
{
    struct sti_signer *signer;
    struct sti_error err;
    int rc;

    rc = sti_signer_new(key, o->x5u, o->ppt, &signer, &err);
    if (rc == STI_OK)
        rc = sti_signer_sign_identity(signer, c, o->compact, value, &err);
    sti_signer_free(signer);
    return rc == STI_OK ? CLI_EXIT_OK : cli_fail("cannot sign", &err);
}

static int print_identity(const struct sign_opts *o, const char *value)
{
    struct sti_error err;
    char *json;

    if (!o->json) {
        printf("%s\n", value);
        return CLI_EXIT_OK;
    }
    if (sti_identity_to_json(value, &json, &err) != STI_OK)
        return cli_fail("cannot describe the header", &err);
    printf("%s\n", json);
    sti_free(json);
    return CLI_EXIT_OK;
}

/* The freshness window for the INVITE's Date, as RFC 8224 section 4.1
 * recommends. */
#define DATE_FRESHNESS_S 60

/* RFC 8224 section 4.1 forbids signing a request whose Date lies outside
 * the freshness window, since verifiers would reject it as stale. */
static int iat_from_date(struct sti_passport_claims *c, time_t date)
{
    int64_t skew = (int64_t)date - (int64_t)time(NULL);

    if (skew > DATE_FRESHNESS_S || -skew > DATE_FRESHNESS_S) {
        cli_errorf("the INVITE's Date is %lld s %s the clock, outside the "
                   "%d s freshness window; update the Date, or give --iat "
                   "to sign anyway",
                   (long long)(skew < 0 ? -skew : skew),
                   skew < 0 ? "behind" : "ahead of", DATE_FRESHNESS_S);
        return CLI_EXIT_FAIL;
    }
    c->iat = (int64_t)date;
    return CLI_EXIT_OK;
}

/*
 * Takes iat from the INVITE's Date, which RFC 8224 section 4.1 prefers to
 * the signer's clock, or adds a Date made from iat when there is none.
 * A verifier rebuilds a compact PASSporT's iat from that Date, so the two
 * must be equal there.
 */
static int date_and_iat(const struct sign_opts *o, struct sti_sip *sip,
                        struct sti_passport_claims *c)
{
    struct sti_error err;
    time_t date;
    int rc = sti_sip_get_date(sip, &date, &err);

    if (rc == STI_ERR_NOTFOUND) {
        if (c->iat == 0)
            c->iat = (int64_t)time(NULL);
        if (sti_sip_set_date(sip, (time_t)c->iat, &err) != STI_OK)
            return cli_fail("cannot add a Date header to the INVITE", &err);
        return CLI_EXIT_OK;
    }
    if (rc != STI_OK)
        return cli_fail("cannot read the INVITE's Date", &err);
    if (c->iat == 0)
        return iat_from_date(c, date);
    if (o->compact && c->iat != (int64_t)date)
        return cli_usage_error("--iat %lld differs from the INVITE's Date "
                               "(%lld); a compact PASSporT takes iat from "
                               "Date, so drop --iat or change the Date",
                               (long long)c->iat, (long long)date);
    return CLI_EXIT_OK;
}

static int sign_invite(const struct sign_opts *o, const struct sti_key *key,
                       struct tn_bufs *b, struct sti_passport_claims *c)
{
    struct sti_sip *sip = NULL;
    struct sti_error err;
    unsigned char *data;
    char *value = NULL, *text = NULL;
    size_t len;
    int rc;

    rc = cmd_read_input(o->invite, "cannot read the INVITE", &data, &len);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = sti_sip_parse((char *)data, len, &sip, &err);
    free(data);
    if (rc != STI_OK)
        return cli_fail("cannot parse the INVITE", &err);
    rc = claims_from_sip(o, sip, b, c);
    if (rc == CLI_EXIT_OK)
        rc = date_and_iat(o, sip, c);
    if (rc == CLI_EXIT_OK)
        rc = sign_identity(o, key, c, &value);
    if (rc == CLI_EXIT_OK &&
        (sti_sip_add_identity(sip, value, o->replace, &err) != STI_OK ||
         sti_sip_to_string(sip, &text, &len, &err) != STI_OK))
        rc = cli_fail("cannot add the Identity header", &err);
    if (rc == CLI_EXIT_OK)
        fwrite(text, 1, len, stdout);
    sti_free(text);
    sti_free(value);
    sti_sip_free(sip);
    return rc;
}

int cmd_sign(int argc, char **argv)
{
    struct sign_opts o = {0};
    struct sti_passport_claims claims;
    struct tn_bufs bufs;
    struct sti_key *key = NULL;
    char *value = NULL;
    int rc = parse_args(argc, argv, &o);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = build_claims(&o, &bufs, &claims);
    if (rc == CLI_EXIT_OK)
        rc = load_key(&o, &key);
    if (rc == CLI_EXIT_OK && o.invite != NULL)
        rc = sign_invite(&o, key, &bufs, &claims);
    else if (rc == CLI_EXIT_OK) {
        rc = sign_identity(&o, key, &claims, &value);
        if (rc == CLI_EXIT_OK)
            rc = print_identity(&o, value);
    }
    sti_free(value);
    sti_key_free(key);
    return rc;
}
