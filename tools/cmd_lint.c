/* sti lint: check certificates against the SHAKEN profile. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sti lint [--json] [--profile us|fr] [--at EPOCH] "
                 "FILE|-\n\n"
                 "Checks each certificate of a chain (PEM or DER, leaf first) "
                 "against the\nSHAKEN certificate profile and prints one line "
                 "per finding.\n\n"
                 "  --json           print the findings as JSON\n"
                 "  --profile us|fr  profile for policy and lifetime rules "
                 "(default us)\n"
                 "  --at EPOCH       check validity at this time, in seconds "
                 "since 1970\n"
                 "                   (default: now)\n"
                 "  --help           print this help\n\n"
                 "Exit status: 0 no error finding, 1 error findings or "
                 "unreadable input,\n2 usage error.\n");
}

static int print_report(const struct sti_lint_report *report, int json)
{
    struct sti_error err;
    char *text = NULL;
    int rc = json ? sti_lint_report_to_json(report, &text, &err)
                  : sti_lint_report_to_text(report, &text, &err);

    if (rc != STI_OK)
        return cli_fail("cannot format the findings", &err);
    fputs(text, stdout);
    if (json)
        fputc('\n', stdout);
    sti_free(text);
    return CLI_EXIT_OK;
}

int cmd_lint(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"profile", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct sti_lint_options options = {NULL, 0};
    struct sti_lint_report *report = NULL;
    struct sti_error err;
    unsigned char *data = NULL;
    size_t len = 0;
    int ch, json = 0, rc;
    long at;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'j') {
            json = 1;
        } else if (ch == 'p') {
            options.profile = optarg;
        } else if (ch == 'a') {
            if (cli_parse_long(optarg, 1, 253402300799L, &at) != 0)
                return cli_usage_error("invalid --at '%s'; give seconds "
                                       "since 1970",
                                       optarg);
            options.at = (time_t)at;
        } else if (ch == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error("invalid option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("give one FILE, or - for standard input");
    if (options.profile != NULL && sti_profile_get(options.profile) == NULL)
        return cli_usage_error("unknown profile '%s'; use us or fr",
                               options.profile);
    if (sti_file_read(argv[optind], &data, &len, &err) != STI_OK)
        return cli_fail("cannot read the input", &err);
    rc = sti_lint_data(data, len, &options, &report, &err);
    sti_free(data);
    if (rc != STI_OK)
        return cli_fail(argv[optind], &err);
    rc = print_report(report, json);
    if (rc == CLI_EXIT_OK &&
        sti_lint_report_severity_count(report, STI_LINT_ERROR) > 0)
        rc = CLI_EXIT_FAIL;
    sti_lint_report_free(report);
    return rc;
}
