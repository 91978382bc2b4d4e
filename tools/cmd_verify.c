/* sti verify: verify Identity header values or a whole SIP message. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_VALUES 16

struct verify_opts {
    struct sti_verifier_config cfg;
    const char *file, *value, *orig, *dest, *orig_uri, *dest_uri;
    long now;
    int json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [OPTIONS] [IDENTITY-VALUE]\n"
            "Verifies an Identity header value given as the argument, or "
            "the\nvalues or SIP message in --file or on stdin.\n\n"
            "  --file FILE        header values (one per line) or a SIP "
            "message,\n"
            "                     at most 1 MiB\n"
            "  --ca-file FILE     trust anchors (PEM)\n"
            "  --ca-dir DIR       directory of PEM trust anchors\n"
            "  --ca-list FILE|URL the PA's signed CA list, whose roots are "
            "trust\n"
            "                     anchors (sti-pa's /api/v1/ca-list)\n"
            "  --pa-cert FILE     the PA certificate that signed --ca-list\n"
            "  --crl FILE|URL     the PA's indirect CRL\n"
            "  --crl-signer FILE  the CRL signer's certificate (default: "
            "look in --ca-file)\n"
            "  --crl-ca-file FILE trust for https --crl and --ca-list URLs\n"
            "                     (default: system)\n"
            "  --cache DB         SQLite x5u cache shared between runs\n"
            "  --freshness S      max iat age in seconds (default: 60)\n"
            "  --allow-http       lab only: accept http x5u URLs\n"
            "  --allow-any-port   lab only: accept x5u ports other than "
            "443, 8443\n"
            "  --x5u-ca-file FILE trust for HTTPS x5u servers (default: "
            "system)\n"
            "  --profile us|fr    TN canonicalisation (default: us)\n"
            "  --orig TN          calling number to compare with orig\n"
            "  --dest TN          called number to compare with dest\n"
            "  --orig-uri URI     calling party URI to compare with an orig "
            "uri\n"
            "  --dest-uri URI     called party URI to compare with a dest "
            "uri\n"
            "  --now SECONDS      verify as of this time (default: now)\n"
            "  --json             print the result as JSON\n"
            "  --help             show this help\n\n"
            "Exit status: 0 valid, 1 invalid, 2 usage error, 3 could not "
            "check.\n",
            cli_prog);
}

static int parse_number(const char *opt, const char *text, long max, long *out)
{
    if (cli_parse_long(text, 1, max, out) != 0)
        return cli_usage_error("invalid %s '%s'; use a number from 1 to %ld",
                               opt, text, max);
    return CLI_EXIT_OK;
}

/* Checks the values that would otherwise fail later as a verdict or a
 * setup error, although the command line is at fault. */
static int check_values(const struct verify_opts *o)
{
    const char *profile = o->cfg.profile;
    const char *tns[2] = {o->orig, o->dest};
    char tn[STI_TN_MAX + 1];
    struct sti_error err;

    if (profile != NULL && strcmp(profile, "us") != 0 &&
        strcmp(profile, "fr") != 0)
        return cli_usage_error("invalid --profile '%s'; use us or fr", profile);
    for (size_t i = 0; i < 2; i++)
        if (tns[i] != NULL &&
            sti_tn_canonicalize(profile, tns[i], tn, &err) != STI_OK)
            return cli_usage_error("invalid --%s: %s", i ? "dest" : "orig",
                                   err.message);
    /* Without anchors every chain would be untrusted (437), which would
     * blame the header for a setup mistake. */
    if (o->cfg.ca_file == NULL && o->cfg.ca_dir == NULL &&
        o->cfg.ca_list == NULL)
        return cli_usage_error("no trust anchors: give --ca-file FILE or "
                               "--ca-dir DIR with the STI-PA's approved "
                               "CA roots, or --ca-list with --pa-cert");
    return CLI_EXIT_OK;
}

static int parse_args(int argc, char **argv, struct verify_opts *o)
{
    static const struct option longopts[] = {
        {"file", 1, NULL, 'f'},        {"ca-file", 1, NULL, 'c'},
        {"ca-dir", 1, NULL, 'C'},      {"crl", 1, NULL, 'r'},
        {"ca-list", 1, NULL, 'L'},     {"pa-cert", 1, NULL, 'P'},
        {"crl-signer", 1, NULL, 'R'},  {"crl-ca-file", 1, NULL, 'T'},
        {"cache", 1, NULL, 'd'},       {"freshness", 1, NULL, 'F'},
        {"allow-http", 0, NULL, 'H'},  {"allow-any-port", 0, NULL, 'A'},
        {"x5u-ca-file", 1, NULL, 'X'}, {"profile", 1, NULL, 'p'},
        {"orig", 1, NULL, 'o'},        {"dest", 1, NULL, 'D'},
        {"orig-uri", 1, NULL, 'u'},    {"dest-uri", 1, NULL, 'U'},
        {"now", 1, NULL, 'n'},         {"json", 0, NULL, 'j'},
        {"help", 0, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct sti_verifier_config *cfg = &o->cfg;
    long n;
    int c, rc = CLI_EXIT_OK;

    opterr = 0; /* cli_usage_error() reports bad options with our prefix */
    while (rc == CLI_EXIT_OK &&
           (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->file = optarg;
            break;
        case 'c':
            cfg->ca_file = optarg;
            break;
        case 'C':
            cfg->ca_dir = optarg;
            break;
        case 'L':
            cfg->ca_list = optarg;
            break;
        case 'P':
            cfg->ca_list_signer_file = optarg;
            break;
        case 'R':
            cfg->crl_signer_file = optarg;
            break;
        case 'T':
            cfg->crl_ca_file = optarg;
            break;
        case 'd':
            cfg->cache_db = optarg;
            break;
        case 'H':
            cfg->allow_http = 1;
            break;
        case 'A':
            cfg->allow_any_port = 1;
            break;
        case 'X':
            cfg->fetch_ca_file = optarg;
            break;
        case 'p':
            cfg->profile = optarg;
            break;
        case 'o':
            o->orig = optarg;
            break;
        case 'D':
            o->dest = optarg;
            break;
        case 'u':
            o->orig_uri = optarg;
            break;
        case 'U':
            o->dest_uri = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'r':
            if (strncasecmp(optarg, "http://", 7) == 0 ||
                strncasecmp(optarg, "https://", 8) == 0)
                cfg->crl_url = optarg;
            else
                cfg->crl_file = optarg;
            break;
        case 'F':
            rc = parse_number("--freshness", optarg, 86400 * 366, &n);
            cfg->freshness_s = (int)n;
            break;
        case 'n':
            rc = parse_number("--now", optarg, 253402300799L, &o->now);
            break;
        default:
            return cmd_other_option(c, argv, usage);
        }
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (optind + 1 < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
    if (optind < argc)
        o->value = argv[optind];
    if (o->value != NULL && o->file != NULL)
        return cli_usage_error("give a header value or --file, not both");
    if (cfg->crl_ca_file != NULL && cfg->crl_url == NULL &&
        cfg->ca_list == NULL)
        return cli_usage_error("--crl-ca-file needs a --crl or --ca-list URL");
    if ((cfg->ca_list != NULL && cfg->ca_list[0] == '\0') ||
        (cfg->ca_list_signer_file != NULL &&
         cfg->ca_list_signer_file[0] == '\0'))
        return cli_usage_error("empty --ca-list or --pa-cert; give a file, "
                               "or an http(s) URL for --ca-list");
    if ((cfg->ca_list == NULL) != (cfg->ca_list_signer_file == NULL))
        return cli_usage_error("the PA's CA list needs both --ca-list and "
                               "--pa-cert, the PA certificate that signed "
                               "it");
    return check_values(o);
}

/* A SIP message starts with "METHOD URI SIP/2.0" or "SIP/2.0 CODE". */
static int looks_like_sip(const char *text)
{
    const char *eol = strchr(text, '\n');
    size_t n = eol ? (size_t)(eol - text) : strlen(text);

    if (strncmp(text, "SIP/2.0 ", 8) == 0)
        return 1;
    return n > 8 && (memcmp(text + n - 7, "SIP/2.0", 7) == 0 ||
                     memcmp(text + n - 8, "SIP/2.0\r", 8) == 0);
}

/* Splits header values, one per line, dropping an "Identity:" prefix. */
/* Unfolds TEXT in place: a line break followed by a space or tab
 * continues the line before it (RFC 3261 section 7.3.1). */
static void unfold(char *text)
{
    for (char *p = text; *p != '\0'; p++) {
        if (*p != '\n' || (p[1] != ' ' && p[1] != '\t'))
            continue;
        *p = ' ';
        if (p > text && p[-1] == '\r')
            p[-1] = ' ';
    }
}

static size_t split_lines(char *text, const char **values)
{
    size_t n = 0;

    unfold(text);
    for (char *line = strtok(text, "\r\n"); line != NULL && n < MAX_VALUES;
         line = strtok(NULL, "\r\n")) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (strncasecmp(line, "Identity:", 9) == 0)
            line += 9;
        if (*line != '\0')
            values[n++] = line;
    }
    return n;
}

static int print_result(const struct verify_opts *o,
                        const struct sti_verify_result *r)
{
    struct sti_error err;
    char *json;

    if (o->json) {
        if (sti_verify_result_to_json(r, &json, &err) != STI_OK)
            return cli_fail("cannot format the result", &err);
        printf("%s\n", json);
        sti_free(json);
    } else if (r->outcome == STI_VERIFY_PASS) {
        printf("pass: %s attest=%s orig=%s spc=%s serial=%s\n", r->verstat,
               r->attest[0] ? r->attest : "-", r->orig,
               r->spc[0] ? r->spc : "-", r->cert_serial);
    } else {
        printf("%s: %d %s: %s (%s)\n", sti_verify_outcome_name(r->outcome),
               r->sip_code, r->sip_reason, r->reason, r->verstat);
    }
    return r->outcome;
}

static int run_verify(const struct verify_opts *o, char *input)
{
    struct sti_verify_request req = {.orig_tn = o->orig,
                                     .dest_tn = o->dest,
                                     .orig_uri = o->orig_uri,
                                     .dest_uri = o->dest_uri,
                                     .now = (time_t)o->now};
    struct sti_verify_result res;
    struct sti_verifier *v = NULL;
    struct sti_sip *sip = NULL;
    const char *values[MAX_VALUES];
    struct sti_error err;
    int rc;

    if (o->value != NULL) {
        values[0] = o->value;
        req.identity_count = 1;
    } else if (looks_like_sip(input)) {
        if (sti_sip_parse(input, strlen(input), &sip, &err) != STI_OK)
            return cli_fail("cannot parse the SIP message", &err);
        req.sip = sip;
    } else {
        req.identity_count = split_lines(input, values);
    }
    req.identities = values;
    rc = sti_verifier_new(&o->cfg, &v, &err);
    if (rc != STI_OK) {
        cli_fail("cannot set up verification", &err);
        rc = CLI_EXIT_CHECK;
    } else if (sti_verify(v, &req, &res, &err) != STI_OK) {
        cli_fail("cannot verify", &err);
        rc = CLI_EXIT_CHECK;
    } else {
        rc = print_result(o, &res);
    }
    sti_verifier_free(v);
    sti_sip_free(sip);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_opts o = {0};
    unsigned char *input = NULL;
    size_t len;
    int rc = parse_args(argc, argv, &o);

    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    /* sti-verify(1) lists an unreadable input file as a usage error. */
    if (o.value == NULL &&
        cmd_read_input(o.file ? o.file : "-", "cannot read the input", &input,
                       &len) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    rc = run_verify(&o, (char *)input);
    free(input);
    return rc;
}
