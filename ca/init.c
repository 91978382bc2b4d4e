/* sti-ca init: create a CA directory with a root and an intermediate. */
#include "ca.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CRL_URL "http://127.0.0.1/crl.pem"

struct init_opts {
    const char *dir;
    const char *org;
    const char *country;
    const char *profile;
    const char *crl_url;
    const char *crl_issuer;
    const char *pass;
    long days;
    long root_days;
};

/* Files created so far, removed again when init fails half-way. */
struct created {
    char *paths[8];
    size_t count;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sti-ca init --dir DIR [OPTIONS]\n\n"
            "Creates a CA directory: a root and an intermediate CA (P-256 "
            "keys, mode 0600),\nan SQLite database and %s.  "
            "Never overwrites an existing CA.\n\n"
            "  --dir DIR              CA directory (created when missing)\n"
            "  --org NAME             subject O of both CAs, 1 to 64 bytes "
            "of UTF-8\n"
            "                         (default stilab)\n"
            "  --country CC           subject C (default: the profile's)\n"
            "  --profile us|fr        certificate policy profile (default "
            "us)\n"
            "  --crl-url URL          CRL URL put in issued certificates\n"
            "                         (default %s)\n"
            "  --crl-issuer-cert FILE certificate of the CRL signer, "
            "usually the\n"
            "                         policy administrator's (default: the "
            "root)\n"
            "  --pass SOURCE          encrypt the keys with the passphrase "
            "from\n"
            "                         file:PATH, env:VAR or fd:N\n"
            "  --days N               intermediate validity in days, at "
            "most the root's\n"
            "  --root-days N          root validity in days\n"
            "  --help                 print this help\n\n"
            "Exit status: 0 created, 1 failed, 2 usage error.\n",
            CA_CONFIG, DEFAULT_CRL_URL);
}

static int parse_args(int argc, char **argv, struct init_opts *o)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"org", required_argument, NULL, 'o'},
        {"country", required_argument, NULL, 'c'},
        {"profile", required_argument, NULL, 'p'},
        {"crl-url", required_argument, NULL, 'u'},
        {"crl-issuer-cert", required_argument, NULL, 'i'},
        {"pass", required_argument, NULL, 'P'},
        {"days", required_argument, NULL, 'D'},
        {"root-days", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    o->org = "stilab";
    o->profile = "us";
    o->crl_url = DEFAULT_CRL_URL;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->dir = optarg;
            break;
        case 'o':
            o->org = optarg;
            break;
        case 'c':
            o->country = optarg;
            break;
        case 'p':
            o->profile = optarg;
            break;
        case 'u':
            o->crl_url = optarg;
            break;
        case 'i':
            o->crl_issuer = optarg;
            break;
        case 'P':
            o->pass = optarg;
            break;
        case 'D':
            if (cli_parse_long(optarg, 1, 36500, &o->days) != 0)
                return cli_usage_error("invalid --days '%s'; give 1 to "
                                       "36500",
                                       optarg);
            break;
        case 'R':
            if (cli_parse_long(optarg, 1, 36500, &o->root_days) != 0)
                return cli_usage_error("invalid --root-days '%s'; give 1 "
                                       "to 36500",
                                       optarg);
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return cli_usage_error("invalid option");
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

/*
 * Checks that the intermediate ends no later than the root, since path
 * validation checks every certificate's validity (RFC 5280 section
 * 6.1.3).  Without --days, the default is cut to the root's days.
 */
static int check_days(struct init_opts *o, const struct sti_profile *profile)
{
    long root_days = o->root_days ? o->root_days : profile->root_default_days;

    if (o->days == 0 && profile->ca_default_days > root_days)
        o->days = root_days;
    if (o->days <= root_days)
        return CLI_EXIT_OK;
    return cli_usage_error("--days %ld would outlive the root's %ld days%s; "
                           "give --days %ld or fewer, or --root-days %ld or "
                           "more",
                           o->days, root_days,
                           o->root_days ? "" : " (the default)", root_days,
                           o->days);
}

static int check_args(struct init_opts *o)
{
    const struct sti_profile *profile = sti_profile_get(o->profile);
    int rc;

    if (o->dir == NULL)
        return cli_usage_error("--dir DIR is required");
    rc = ca_check_dir("--dir", o->dir);
    if (rc == 0)
        rc = ca_check_name("--org", o->org, CA_NAME_MAX);
    if (rc == 0 && o->pass != NULL)
        rc = ca_check_secret_source("--pass", o->pass);
    if (rc != 0)
        return rc;
    if (profile == NULL)
        return cli_usage_error("unknown profile '%s'; use us or fr",
                               o->profile);
    if (o->country == NULL)
        o->country = profile->country;
    rc = ca_check_country("--country", o->country);
    if (rc == 0)
        rc = ca_check_crl_url("--crl-url", o->crl_url);
    if (rc != 0)
        return rc;
    return check_days(o, profile);
}

/*
 * Creates DIR (0700) unless it exists, setting *CREATED; fails when it
 * already contains a CA.
 */
static int prepare_dir(const char *dir, int *created)
{
    static const char *const owned[] = {CA_CONFIG, CA_ROOT_KEY, CA_INTER_KEY,
                                        CA_DATABASE};

    *created = mkdir(dir, 0700) == 0;
    if (!*created && errno != EEXIST) {
        cli_errorf("cannot create directory %s: %s", dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        char *path = cli_path_join(dir, owned[i]);
        int exists = path != NULL && access(path, F_OK) == 0;

        free(path);
        if (exists) {
            cli_errorf("%s already holds a CA (%s exists); sti-ca never "
                       "overwrites one, so choose another --dir",
                       dir, owned[i]);
            return CLI_EXIT_FAIL;
        }
    }
    return CLI_EXIT_OK;
}

static char *track(struct created *c, const char *dir, const char *name)
{
    char *path = cli_path_join(dir, name);

    if (path != NULL && c->count < sizeof(c->paths) / sizeof(c->paths[0]))
        c->paths[c->count++] = path;
    return path;
}

static void created_cleanup(struct created *c, int remove_files)
{
    for (size_t i = 0; i < c->count; i++) {
        if (remove_files)
            unlink(c->paths[i]);
        free(c->paths[i]);
    }
    c->count = 0;
}

struct init_state {
    const struct init_opts *o;
    struct created created;
    char *pass;
    struct sti_key *root_key;
    struct sti_key *inter_key;
    struct sti_cert *root;
    struct sti_cert *inter;
    struct sti_cert *crl_issuer;
    char *crl_issuer_path; /* absolute */
};

static int make_key(struct init_state *s, const char *name,
                    struct sti_key **key)
{
    struct sti_error err;
    char *path = track(&s->created, s->o->dir, name);

    if (path == NULL)
        return CLI_EXIT_FAIL;
    if (sti_key_generate(key, &err) != STI_OK)
        return cli_fail("cannot generate a key", &err);
    if (sti_key_save(*key, path, s->pass, &err) != STI_OK)
        return cli_fail("cannot save the key", &err);
    return CLI_EXIT_OK;
}

static int save_cert(struct init_state *s, const char *name,
                     const struct sti_cert *cert)
{
    struct sti_error err;
    char *pem = NULL, *path = track(&s->created, s->o->dir, name);
    int rc;

    if (path == NULL)
        return CLI_EXIT_FAIL;
    if (sti_cert_to_pem(cert, &pem, &err) != STI_OK)
        return cli_fail("cannot encode the certificate", &err);
    rc = sti_file_write(path, pem, strlen(pem), 0644, 1, &err);
    sti_free(pem);
    return rc == STI_OK ? CLI_EXIT_OK : cli_fail("cannot save", &err);
}

static int issue_cas(struct init_state *s)
{
    struct sti_cert_request req;
    struct sti_error err;

    memset(&req, 0, sizeof(req));
    /* One start time for both, so that equal days end together. */
    req.not_before = time(NULL);
    req.kind = STI_CERT_CA_ROOT;
    req.profile = s->o->profile;
    req.organization = s->o->org;
    req.country = s->o->country;
    req.subject_key = s->root_key;
    req.validity_days = (int)s->o->root_days;
    if (sti_cert_issue(&req, NULL, NULL, &s->root, &err) != STI_OK)
        return cli_fail("cannot issue the root certificate", &err);
    req.kind = STI_CERT_CA_INTERMEDIATE;
    req.subject_key = s->inter_key;
    req.crl_url = s->o->crl_url;
    req.crl_issuer = s->crl_issuer ? s->crl_issuer : s->root;
    req.validity_days = (int)s->o->days;
    if (sti_cert_issue(&req, s->root, s->root_key, &s->inter, &err) != STI_OK)
        return cli_fail("cannot issue the intermediate certificate", &err);
    return CLI_EXIT_OK;
}

static int load_crl_issuer(struct init_state *s)
{
    struct sti_error err;
    char resolved[PATH_MAX];

    if (s->o->crl_issuer == NULL)
        return CLI_EXIT_OK;
    if (sti_cert_load(s->o->crl_issuer, &s->crl_issuer, &err) != STI_OK) {
        cli_errorf("cannot load --crl-issuer-cert %s: %s", s->o->crl_issuer,
                   err.message);
        return CLI_EXIT_FAIL;
    }
    /* The configuration outlives the caller's working directory. */
    if (realpath(s->o->crl_issuer, resolved) == NULL ||
        (s->crl_issuer_path = strdup(resolved)) == NULL) {
        cli_errorf("cannot resolve %s: %s", s->o->crl_issuer, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int record_cas(struct init_state *s)
{
    struct sti_castore *store = NULL;
    struct sti_error err;
    char *path = track(&s->created, s->o->dir, CA_DATABASE);
    int rc;

    if (path == NULL)
        return CLI_EXIT_FAIL;
    /* SQLite's WAL files live beside the database. */
    track(&s->created, s->o->dir, CA_DATABASE "-wal");
    track(&s->created, s->o->dir, CA_DATABASE "-shm");
    rc = sti_castore_open(path, &store, &err);
    if (rc == STI_OK)
        rc = sti_castore_add(store, s->root, STI_CERT_CA_ROOT, &err);
    if (rc == STI_OK)
        rc = sti_castore_add(store, s->inter, STI_CERT_CA_INTERMEDIATE, &err);
    sti_castore_close(store);
    return rc == STI_OK ? CLI_EXIT_OK
                        : cli_fail("cannot record the CA certificates", &err);
}

static int write_config(struct init_state *s)
{
    const struct init_opts *o = s->o;
    struct sti_error err;
    char *path = track(&s->created, o->dir, CA_CONFIG);
    char *text = NULL;
    int rc;

    if (path == NULL ||
        asprintf(&text,
                 "# sti-ca configuration, written by sti-ca init.\n"
                 "# Relative paths are taken from this directory.\n"
                 "profile = %s\norganization = %s\ncountry = %s\n"
                 "crl_url = %s\ncrl_issuer_cert = %s\n"
                 "root_cert = %s\nroot_key = %s\n"
                 "intermediate_cert = %s\nintermediate_key = %s\n"
                 "database = %s\nencrypted_keys = %s\n",
                 o->profile, o->org, o->country, o->crl_url,
                 s->crl_issuer_path ? s->crl_issuer_path : CA_ROOT_CERT,
                 CA_ROOT_CERT, CA_ROOT_KEY, CA_INTER_CERT, CA_INTER_KEY,
                 CA_DATABASE, s->pass ? "yes" : "no") < 0)
        return CLI_EXIT_FAIL;
    rc = sti_file_write(path, text, strlen(text), 0644, 1, &err);
    free(text);
    return rc == STI_OK ? CLI_EXIT_OK
                        : cli_fail("cannot write the configuration", &err);
}

static int run_init(struct init_state *s)
{
    int rc = CLI_EXIT_OK;

    if (s->o->pass != NULL)
        rc = ca_read_secret(s->o->pass, "key passphrase", &s->pass);
    if (rc == 0)
        rc = load_crl_issuer(s);
    if (rc == 0)
        rc = make_key(s, CA_ROOT_KEY, &s->root_key);
    if (rc == 0)
        rc = make_key(s, CA_INTER_KEY, &s->inter_key);
    if (rc == 0)
        rc = issue_cas(s);
    if (rc == 0)
        rc = save_cert(s, CA_ROOT_CERT, s->root);
    if (rc == 0)
        rc = save_cert(s, CA_INTER_CERT, s->inter);
    if (rc == 0)
        rc = record_cas(s);
    if (rc == 0)
        rc = write_config(s); /* last: its presence marks a complete CA */
    return rc;
}

int ca_cmd_init(int argc, char **argv)
{
    struct init_opts o;
    struct init_state s;
    int dir_created = 0;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = check_args(&o);
    if (rc == 0)
        rc = prepare_dir(o.dir, &dir_created);
    if (rc != 0)
        return rc;
    memset(&s, 0, sizeof(s));
    s.o = &o;
    rc = run_init(&s);
    created_cleanup(&s.created, rc != 0);
    /* A failed init leaves no trace: the directory goes too when this run
     * created it, and rmdir removes it only while it is empty. */
    if (rc != 0 && dir_created && rmdir(o.dir) != 0)
        cli_errorf("cannot remove directory %s: %s", o.dir, strerror(errno));
    if (rc == 0)
        printf("created CA in %s\n", o.dir);
    sti_secret_free(s.pass);
    sti_key_free(s.root_key);
    sti_key_free(s.inter_key);
    sti_cert_free(s.root);
    sti_cert_free(s.inter);
    sti_cert_free(s.crl_issuer);
    free(s.crl_issuer_path);
    return rc;
}
