/* sti inspect: describe certificates, CSRs, CRLs and TNAuthLists. */
#include "cli.h"
#include "cmd.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sti inspect [--json] FILE|-\n\n"
                 "Describes a certificate chain, a CSR, a CRL or a TNAuthList "
                 "(PEM, DER, or\nbase64 of the DER).\n\n"
                 "  --json  print one JSON object\n"
                 "  --help  print this help\n\n"
                 "Exit status: 0 described, 1 unreadable or unrecognised "
                 "input, 2 usage error.\n");
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sti_error err;
    unsigned char *data = NULL;
    size_t len = 0;
    char *text = NULL;
    int ch, format = STI_INSPECT_TEXT, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'j') {
            format = STI_INSPECT_JSON;
        } else if (ch == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error("invalid option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("give one FILE, or - for standard input");
    if (sti_file_read(argv[optind], &data, &len, &err) != STI_OK)
        return cli_fail("cannot read the input", &err);
    rc = sti_inspect(data, len, format, &text, &err);
    sti_free(data);
    if (rc != STI_OK)
        return cli_fail(argv[optind], &err);
    fputs(text, stdout);
    if (format == STI_INSPECT_JSON)
        fputc('\n', stdout);
    sti_free(text);
    return CLI_EXIT_OK;
}
