/*
 * Measures libsti's full PASSporT signing (claims to Identity header) and
 * full verification (header to result, x5u cache warm) on one thread.
 * Usage: passport_bench KEY X5U CA_FILE X5U_CA_FILE SECONDS
 * Prints "sign N/s" and "verify N/s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sti.h"

/* User CPU time of this thread, the clock openssl speed uses by default
 * (apps/speed.c without -elapsed), so that the two rates compare. */
static double now_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static int die(const char *what, const struct sti_error *err)
{
    fprintf(stderr, "passport_bench: %s: %s\n", what, err->message);
    return 1;
}

/* Signs for SECONDS; returns the rate and leaves one header in *LAST. */
static double bench_sign(const struct sti_signer *s, double seconds,
                         char **last)
{
    static const char *const dest[] = {"12025550101"};
    struct sti_passport_claims c = {.attest = "A",
                                    .orig_tn = "12025550100",
                                    .dest_tn = dest,
                                    .dest_tn_count = 1};
    struct sti_error err;
    double start = now_s(), end = start + seconds, t = start;
    long n = 0;

    while (t < end) {
        for (int i = 0; i < 100; i++, n++) {
            char *value;

            if (sti_signer_sign_identity(s, &c, 0, &value, &err) != STI_OK)
                exit(die("sign", &err));
            free(*last);
            *last = value;
        }
        t = now_s();
    }
    return (double)n / (t - start);
}

static double bench_verify(struct sti_verifier *v, const char *value,
                           double seconds)
{
    const char *values[1] = {value};
    struct sti_verify_request req = {.identities = values, .identity_count = 1};
    struct sti_verify_result res;
    struct sti_error err;
    double start = now_s(), end = start + seconds, t = start;
    long n = 0;

    while (t < end) {
        for (int i = 0; i < 100; i++, n++) {
            if (sti_verify(v, &req, &res, &err) != STI_OK)
                exit(die("verify", &err));
            if (res.outcome != STI_VERIFY_PASS) {
                fprintf(stderr, "passport_bench: verify: %s\n", res.reason);
                exit(1);
            }
        }
        t = now_s();
    }
    return (double)n / (t - start);
}

int main(int argc, char **argv)
{
    struct sti_verifier_config cfg = {.allow_any_port = 1, .freshness_s = 3600};
    struct sti_verifier *v;
    struct sti_signer *s;
    struct sti_key *key;
    struct sti_error err;
    char *value = NULL;
    double seconds, sign_rate, verify_rate;

    if (argc != 6) {
        fprintf(stderr, "usage: passport_bench KEY X5U CA_FILE X5U_CA_FILE "
                        "SECONDS\n");
        return 2;
    }
    seconds = atof(argv[5]);
    cfg.ca_file = argv[3];
    cfg.fetch_ca_file = argv[4];
    if (sti_key_load(argv[1], NULL, &key, &err) != STI_OK)
        return die("cannot load the key", &err);
    if (sti_signer_new(key, argv[2], "shaken", &s, &err) != STI_OK)
        return die("cannot make a signer", &err);
    if (sti_verifier_new(&cfg, &v, &err) != STI_OK)
        return die("cannot make a verifier", &err);
    sign_rate = bench_sign(s, seconds, &value);
    bench_verify(v, value, 0.2); /* fills the x5u cache */
    verify_rate = bench_verify(v, value, seconds);
    printf("sign %.0f/s\nverify %.0f/s\n", sign_rate, verify_rate);
    free(value);
    sti_verifier_free(v);
    sti_signer_free(s);
    sti_key_free(key);
    return 0;
}
