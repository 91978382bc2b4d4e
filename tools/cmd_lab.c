/*
 * sti lab: builds, runs, tests and stops a complete STIR/SHAKEN lab.
 * This file parses the options; lab_*.c do the work.
 */
#include "cli.h"
#include "cmd.h"
#include "lab.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: sti lab up [--dir DIR] [--providers N]\n"
    "       sti lab status [--dir DIR] [--json]\n"
    "       sti lab test [--dir DIR] [--json]\n"
    "       sti lab down [--dir DIR]\n"
    "\n"
    "Build and run a complete STIR/SHAKEN lab on 127.0.0.1: an STI-PA, an\n"
    "STI-CA (root and intermediate) with its ACME server, an STI-CR and\n"
    "sti serve, with service providers whose certificates come over ACME.\n"
    "\n"
    "  up        create what is missing, start what is stopped, obtain\n"
    "            and publish the certificates, write lab.env and\n"
    "            summary.txt and print the summary\n"
    "  status    the certificate chain as a tree and each service's state\n"
    "  test      sign and verify a call per provider, then check that each\n"
    "            failure scenario gets the expected SIP status\n"
    "  down      stop the services by their process ids\n"
    "\n"
    "  --dir DIR        the lab directory (default ./lab)\n"
    "  --providers N    service providers to create, 1 to 26 (default 2);\n"
    "                   an existing lab keeps its providers and adds more\n"
    "  --json           status and test: print JSON\n"
    "  --verbose        print each command the lab runs\n"
    "  --help           show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (for test: any step that did not\n"
    "give the expected result), 2 usage error.\n";

/* Finds the directory of this binary, where the other programs live. */
static int find_bindir(struct lab *lab)
{
    char exe[LAB_PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0) {
        cli_errorf("cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(lab->bindir, sizeof(lab->bindir), "%s", exe);
    return 0;
}

/* Makes the lab directory absolute, creating it for `up`. */
static int resolve_dir(struct lab *lab, const char *dir, int create)
{
    char *real;

    if (create && lab_mkdir(dir, 0755) != 0)
        return -1;
    real = realpath(dir, NULL);
    if (real == NULL) {
        cli_errorf("lab directory %s: %s; run 'sti lab up --dir %s' first", dir,
                   strerror(errno), dir);
        return -1;
    }
    if (strlen(real) >= sizeof(lab->dir) - 256) {
        cli_errorf("lab directory path %s is too long", real);
        free(real);
        return -1;
    }
    snprintf(lab->dir, sizeof(lab->dir), "%s", real);
    free(real);
    return 0;
}

enum { O_DIR = 1, O_PROVIDERS, O_JSON, O_VERBOSE, O_HELP };

static const struct option longs[] = {
    {"dir", required_argument, NULL, O_DIR},
    {"providers", required_argument, NULL, O_PROVIDERS},
    {"json", no_argument, NULL, O_JSON},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses the options after the subcommand; returns -1 to go on. */
static int parse(int argc, char **argv, struct lab *lab, const char **dir,
                 int *providers_set)
{
    long n;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case O_DIR:
            *dir = optarg;
            break;
        case O_PROVIDERS:
            if (cli_parse_long(optarg, 1, LAB_MAX_PROVIDERS, &n) != 0)
                return cli_usage_error("invalid --providers '%s'; give a "
                                       "number from 1 to %d",
                                       optarg, LAB_MAX_PROVIDERS);
            lab->providers = (int)n;
            *providers_set = 1;
            break;
        case O_JSON:
            lab->json = 1;
            break;
        case O_VERBOSE:
            lab->verbose = 1;
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("invalid option");
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

int cmd_lab(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(struct lab *lab);
    } subs[] = {{"up", lab_up},
                {"status", lab_status},
                {"test", lab_test},
                {"down", lab_down}};
    struct lab lab = {.providers = 2};
    const char *dir = "lab";
    int rc, providers_set = 0;

    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("missing subcommand: up, status, test or "
                               "down");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        rc = parse(argc - 1, argv + 1, &lab, &dir, &providers_set);
        if (rc >= 0)
            return rc;
        if (providers_set && subs[i].run != lab_up)
            return cli_usage_error("--providers applies to 'up' only");
        if (lab.json && subs[i].run != lab_status && subs[i].run != lab_test)
            return cli_usage_error("--json applies to 'status' and 'test'");
        if (find_bindir(&lab) != 0 ||
            resolve_dir(&lab, dir, subs[i].run == lab_up) != 0)
            return CLI_EXIT_FAIL;
        return subs[i].run(&lab);
    }
    return cli_usage_error("unknown subcommand '%s'; use up, status, test or "
                           "down",
                           argv[1]);
}
