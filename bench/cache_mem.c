/*
 * Measures the memory of the verifier's x5u cache: fills one verifier with
 * COUNT distinct x5u URLs, each serving its own SP leaf certificate (all
 * issued by one intermediate), and prints VmRSS before and after the fill.
 * Then it measures the verify rate with a warm cache on one thread, for
 * one URL again and again and for all COUNT URLs in turn.
 *
 * No server is involved: the chains go into the verifier's SQLite cache
 * file beforehand, as another process's fetches would have put them, so
 * each first verify loads its chain from SQLite.
 * Usage: cache_mem DIR COUNT SECONDS  (DIR: an empty scratch directory)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sti.h"

struct pki {
    struct sti_key *root_key, *ca_key, *sp_key;
    struct sti_cert *root, *ca;
    char *ca_pem;
};

static void die(const char *what, const struct sti_error *err)
{
    fprintf(stderr, "cache_mem: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* User CPU time of this thread, as bench/passport_bench.c counts it. */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static long vm_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static struct sti_cert *issue(int kind, const char *spec,
                              const struct sti_key *subject,
                              const struct sti_cert *issuer,
                              const struct sti_key *issuer_key, int days)
{
    struct sti_tnauth *tn = NULL;
    struct sti_cert_request req = {.kind = kind,
                                   .organization = "Bench SP",
                                   .subject_key = subject,
                                   .crl_url = "http://127.0.0.1/crl",
                                   .not_before = time(NULL) - 3600,
                                   .validity_days = days};
    struct sti_cert *cert;
    struct sti_error err;

    if (spec != NULL && sti_tnauth_parse_spec(spec, &tn, &err) != STI_OK)
        die("TNAuthList", &err);
    req.tnauth = tn;
    if (sti_cert_issue(&req, issuer, issuer_key, &cert, &err) != STI_OK)
        die("issue", &err);
    sti_tnauth_free(tn);
    return cert;
}

static void pki_make(struct pki *p, const char *root_file)
{
    struct sti_error err;
    char *pem;
    FILE *f;

    if (sti_key_generate(&p->root_key, &err) ||
        sti_key_generate(&p->ca_key, &err) ||
        sti_key_generate(&p->sp_key, &err))
        die("key", &err);
    p->root = issue(STI_CERT_CA_ROOT, NULL, p->root_key, NULL, NULL, 365);
    p->ca = issue(STI_CERT_CA_INTERMEDIATE, NULL, p->ca_key, p->root,
                  p->root_key, 180);
    if (sti_cert_to_pem(p->ca, &p->ca_pem, &err) ||
        sti_cert_to_pem(p->root, &pem, &err))
        die("PEM", &err);
    f = fopen(root_file, "w");
    if (f == NULL || fputs(pem, f) < 0 || fclose(f) != 0)
        die(root_file, NULL);
    sti_free(pem);
}

static void url_of(char *out, size_t size, int i)
{
    snprintf(out, size, "http://127.0.0.1:9/sp%d.pem", i);
}

/* Issues COUNT SP leaves (one key, distinct serials) and stores each
 * chain in the SQLite x5u cache DB under its own URL. */
static void fill_db(const struct pki *p, const char *db, int count)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    struct sti_error err;
    char url[64], *leaf_pem, *chain;
    time_t now = time(NULL);

    if (sqlite3_open(db, &h) != SQLITE_OK ||
        sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO x5u_cache(url, body, error_code, "
                           "fetched_at, expires_at) VALUES(?1, ?2, 0, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        die(sqlite3_errmsg(h), NULL);
    for (int i = 0; i < count; i++) {
        struct sti_cert *leaf =
            issue(STI_CERT_SP, "spc:1234", p->sp_key, p->ca, p->ca_key, 30);

        if (sti_cert_to_pem(leaf, &leaf_pem, &err) != STI_OK)
            die("PEM", &err);
        chain = malloc(strlen(leaf_pem) + strlen(p->ca_pem) + 1);
        strcat(strcpy(chain, leaf_pem), p->ca_pem);
        url_of(url, sizeof(url), i);
        sqlite3_bind_text(st, 1, url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, chain, (int)strlen(chain), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, now + 86400);
        if (sqlite3_step(st) != SQLITE_DONE)
            die(sqlite3_errmsg(h), NULL);
        sqlite3_reset(st);
        free(chain);
        sti_free(leaf_pem);
        sti_cert_free(leaf);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        die(sqlite3_errmsg(h), NULL);
    sqlite3_close(h);
}

/* Signs one Identity header per URL. */
static char **sign_all(const struct pki *p, int count)
{
    static const char *const dest[] = {"12025550101"};
    char **values = calloc((size_t)count, sizeof(*values));
    struct sti_error err;
    char url[64];

    for (int i = 0; i < count; i++) {
        struct sti_passport_claims c = {.attest = "A",
                                        .orig_tn = "12025550100",
                                        .dest_tn = dest,
                                        .dest_tn_count = 1};
        struct sti_signer *s;

        url_of(url, sizeof(url), i);
        if (sti_signer_new(p->sp_key, url, "shaken", &s, &err) ||
            sti_signer_sign_identity(s, &c, 0, &values[i], &err))
            die("sign", &err);
        sti_signer_free(s);
    }
    return values;
}

static void verify_one(struct sti_verifier *v, const char *value)
{
    const char *values[1] = {value};
    struct sti_verify_request req = {.identities = values, .identity_count = 1};
    struct sti_verify_result res;
    struct sti_error err;

    if (sti_verify(v, &req, &res, &err) != STI_OK)
        die("verify", &err);
    if (res.outcome != STI_VERIFY_PASS) {
        fprintf(stderr, "cache_mem: verify: %s\n", res.reason);
        exit(1);
    }
}

/* Verifies VALUES[0..SPAN) in turn for SECONDS of CPU time. */
static double verify_rate(struct sti_verifier *v, char **values, int span,
                          double seconds)
{
    double start = cpu_s(), t = start;
    long n = 0;

    while (t < start + seconds) {
        for (int i = 0; i < 100; i++, n++)
            verify_one(v, values[n % span]);
        t = cpu_s();
    }
    return (double)n / (t - start);
}

int main(int argc, char **argv)
{
    struct sti_verifier_config cfg = {
        .allow_http = 1, .allow_any_port = 1, .freshness_s = 3600};
    struct sti_verifier *v;
    struct sti_error err;
    struct pki p = {0};
    char root_file[512], db[512];
    char **values;
    int count;
    long before, after;
    double seconds, t0, fill_s;

    if (argc != 4 || (count = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: cache_mem DIR COUNT SECONDS\n");
        return 2;
    }
    seconds = atof(argv[3]);
    snprintf(root_file, sizeof(root_file), "%s/root.pem", argv[1]);
    snprintf(db, sizeof(db), "%s/x5u.db", argv[1]);
    pki_make(&p, root_file);
    cfg.ca_file = root_file;
    cfg.cache_db = db;
    if (sti_verifier_new(&cfg, &v, &err) != STI_OK)
        die("verifier", &err);
    fill_db(&p, db, count);
    values = sign_all(&p, count);
    verify_one(v, values[0]); /* opens SQLite and loads OpenSSL's tables */
    before = vm_rss_kb();
    t0 = cpu_s();
    for (int i = 1; i < count; i++)
        verify_one(v, values[i]);
    fill_s = cpu_s() - t0;
    after = vm_rss_kb();
    printf("entries %d\nrss_before_kb %ld\nrss_after_kb %ld\n"
           "bytes_per_entry %.0f\nfill_us_per_entry %.1f\n",
           count, before, after, (after - before) * 1024.0 / (count - 1),
           fill_s * 1e6 / (count - 1));
    printf("verify_one_url %.0f/s\n", verify_rate(v, values, 1, seconds));
    printf("verify_all_urls %.0f/s\n", verify_rate(v, values, count, seconds));
    for (int i = 0; i < count; i++)
        free(values[i]);
    free(values);
    sti_verifier_free(v);
    return 0;
}
