/* sti-ca revoke: mark an issued certificate revoked. */
#include "ca.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sti-ca revoke [--dir DIR] SERIAL [--reason NAME]\n\n"
            "Marks the certificate with SERIAL (hex, as 'sti-ca list' "
            "prints it) revoked.\n\n"
            "  --dir DIR      CA directory (default .)\n"
            "  --reason NAME  RFC 5280 reason: unspecified (default), "
            "keyCompromise,\n"
            "                 cACompromise, affiliationChanged, superseded,\n"
            "                 cessationOfOperation, certificateHold,\n"
            "                 privilegeWithdrawn\n"
            "  --help         print this help\n\n"
            "Exit status: 0 revoked, 1 failed (unknown or already revoked "
            "serial),\n2 usage error.\n");
}

/* RFC 5280 section 4.1.2.2 limits serials to 20 octets, 40 hex digits. */
static int check_serial(const char *serial)
{
    size_t n = strlen(serial), digits;

    if (n == 0 || serial[strspn(serial, "0123456789abcdefABCDEF")] != '\0')
        return cli_usage_error("invalid serial '%s'; give it in hex, as "
                               "'sti-ca list' prints it",
                               serial);
    digits = n - strspn(serial, "0");
    if (digits > 40)
        return cli_usage_error("invalid serial '%.48s...': it has %zu hex "
                               "digits, but serials have at most 40 (20 "
                               "octets); copy it from 'sti-ca list'",
                               serial, digits);
    return CLI_EXIT_OK;
}

int ca_cmd_revoke(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir = ".", *reason_name = "unspecified";
    struct ca *ca = NULL;
    struct sti_error err;
    int ch, reason, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'r')
            reason_name = optarg;
        else if (ch == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        } else
            return cli_usage_error("invalid option");
    }
    if (optind != argc - 1)
        return cli_usage_error("give exactly one SERIAL");
    rc = ca_check_dir("--dir", dir);
    if (rc == 0)
        rc = check_serial(argv[optind]);
    if (rc != 0)
        return rc;
    reason = sti_crl_reason_from_name(reason_name);
    if (reason < 0)
        return cli_usage_error("unknown --reason '%s'; use an RFC 5280 name "
                               "such as keyCompromise or superseded",
                               reason_name);
    rc = ca_open(dir, CA_NO_KEYS, NULL, &ca);
    if (rc != 0)
        return rc;
    if (sti_castore_revoke(ca->store, argv[optind], reason, 0, &err) != STI_OK)
        rc = cli_fail("cannot revoke", &err);
    else
        printf("revoked %s (%s)\n", argv[optind], sti_crl_reason_name(reason));
    ca_close(ca);
    return rc;
}
