/* sti-ca list: print the issued certificates. */
#include "ca.h"

#include <getopt.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sti-ca list [--dir DIR] [--json] [--pem]\n\n"
                 "Lists every certificate the CA recorded, oldest first.\n\n"
                 "  --dir DIR  CA directory (default .)\n"
                 "  --json     print a JSON array instead of a table\n"
                 "  --pem      include each certificate's PEM in the JSON\n"
                 "  --help     print this help\n\n"
                 "Exit status: 0 ok, 1 failed, 2 usage error.\n");
}

static void print_table(const struct sti_castore_record *recs, size_t n)
{
    printf("%-34s %-15s %-8s %-10s %s\n", "SERIAL", "KIND", "STATE",
           "NOT_AFTER", "SUBJECT / TNAUTHLIST");
    for (size_t i = 0; i < n; i++) {
        char date[16];
        struct tm tm;

        gmtime_r(&recs[i].not_after, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        printf("%-34s %-15s %-8s %-10s %s%s%s\n", recs[i].serial_hex,
               recs[i].kind, recs[i].revoked ? "revoked" : "valid", date,
               recs[i].subject, recs[i].tnauth ? " / " : "",
               recs[i].tnauth ? recs[i].tnauth : "");
    }
}

int ca_cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"pem", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir = ".";
    int ch, json = 0, pem = 0, rc;
    struct ca *ca = NULL;
    struct sti_castore_record *recs = NULL;
    size_t n = 0;
    struct sti_error err;
    char *text = NULL;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'j')
            json = 1;
        else if (ch == 'p')
            pem = 1;
        else if (ch == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        } else
            return cli_usage_error("invalid option");
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    rc = ca_check_dir("--dir", dir);
    if (rc != 0)
        return rc;
    rc = ca_open(dir, CA_NO_KEYS, NULL, &ca);
    if (rc != 0)
        return rc;
    if (sti_castore_list(ca->store, &recs, &n, &err) != STI_OK)
        rc = cli_fail("cannot list certificates", &err);
    else if (!json)
        print_table(recs, n);
    else if (sti_castore_records_to_json(recs, n, pem, &text, &err) != STI_OK)
        rc = cli_fail("cannot format the list", &err);
    else
        printf("%s\n", text);
    sti_free(text);
    sti_castore_records_free(recs, n);
    ca_close(ca);
    return rc;
}
