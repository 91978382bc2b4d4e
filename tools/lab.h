/*
 * sti lab: builds a whole STIR/SHAKEN PKI in one directory, runs its
 * services in the background and tests the signing chain.  The lab runs
 * the other programs (sti-pa, sti-ca, sti-cr, sti) as child processes,
 * found next to its own binary.
 *
 * Layout of the lab directory:
 *   pa/ ca/ cr/          sti-pa, sti-ca and sti-cr directories
 *   sp/SPC/              a provider: ACME account key, certificate key,
 *                        chain, x5u and the ACME summary
 *   secrets/             API passwords and the sti-cr token (0600)
 *   trust/               trust anchors, CRL and TLS trust for clients
 *   run/                 NAME.pid, NAME.port and NAME.log per service
 *   test/                scratch files of `sti lab test`
 *   lab.env, summary.txt
 */
#ifndef STI_TOOLS_LAB_H
#define STI_TOOLS_LAB_H

#include <stddef.h>
#include <sys/types.h>

#define LAB_PATH_MAX 4096
#define LAB_MAX_PROVIDERS 26

/* The services, in start order. */
enum lab_service_id { LAB_PA, LAB_CR, LAB_CA, LAB_SERVE, LAB_SERVICE_COUNT };

struct lab {
    char dir[LAB_PATH_MAX];    /* absolute */
    char bindir[LAB_PATH_MAX]; /* where sti and the other programs are */
    int providers;
    int json;
    int verbose;
};

/* Formats a path under the lab directory into OUT; exits on overflow. */
void lab_path(const struct lab *lab, char out[LAB_PATH_MAX], const char *fmt,
              ...) __attribute__((format(printf, 3, 4)));
/* Formats the path of program NAME next to this binary; exits on
 * overflow. */
void lab_bin_path(const struct lab *lab, const char *name,
                  char out[LAB_PATH_MAX]);
/* Returns 1 when PATH exists. */
int lab_exists(const char *path);
/* Creates DIR with MODE unless it exists; 0 or -1 with a message. */
int lab_mkdir(const char *dir, unsigned int mode);
/* Reads a small text file with the trailing newline removed; NULL when
 * missing.  The caller frees it. */
char *lab_read_text(const char *path);
/* Writes TEXT to PATH with MODE; 0 or -1 with a message. */
int lab_write_text(const char *path, const char *text, unsigned int mode);

/* The number of providers registered so far. */
int lab_provider_count(const struct lab *lab);
/* The provider's SPC: 1001, 1002, ... */
void lab_spc(int index, char out[16]);
/* A provider's calling number and the called number of the tests. */
void lab_orig_tn(int index, char out[16]);
#define LAB_DEST_TN "12025550200"

/*
 * Runs PROGRAM (a name such as "sti-pa", looked up in lab->bindir) with
 * ARGV (argv[0] included, NULL-terminated) and waits for it.  Standard
 * output goes to *OUT when OUT is non-NULL (freed by the caller);
 * standard error is printed when the program fails and QUIET is 0.
 * Returns the exit status, or -1 when it could not run.
 */
int lab_run(const struct lab *lab, const char *const argv[], char **out,
            int quiet);
/* The same with any executable path, for peers such as secsipidx. */
int lab_run_path(const struct lab *lab, const char *path,
                 const char *const argv[], char **out, char **errout);

/* Service names ("pa", ...) and their state. */
const char *lab_service_name(int id);
/* The recorded pid when that process is alive and belongs to this lab,
 * else 0. */
pid_t lab_service_pid(const struct lab *lab, int id);
/* The recorded port, or 0. */
int lab_service_port(const struct lab *lab, int id);
/* The service's base URL ("https://127.0.0.1:PORT"); empty when unknown. */
void lab_service_url(const struct lab *lab, int id, char out[256]);
/*
 * Starts a service in the background: ARGV is its command line without
 * the --listen and --port-file options, which are added here.  The
 * recorded port is tried first so that URLs stay the same; port 0 when
 * it is taken.  Waits until the port file appears; 0 or -1.
 */
int lab_service_start(const struct lab *lab, int id, const char *const argv[]);
/* Stops a service: SIGTERM, then SIGKILL after a bounded wait. */
int lab_service_stop(const struct lab *lab, int id);

/* Commands. */
int lab_up(struct lab *lab);
int lab_status(struct lab *lab);
int lab_test(struct lab *lab);
int lab_down(struct lab *lab);

/* Writes lab.env and summary.txt; prints the summary when PRINT is set. */
int lab_write_summary(const struct lab *lab, int print);

/* Fetches URL over HTTPS trusting lab/trust/tls.pem and writes the body to
 * PATH; 0 or -1 with a message. */
int lab_fetch(const struct lab *lab, const char *url, const char *path);
/* Waits (5 s at most) until URL serves with status 200; 0 or -1. */
int lab_wait_served(const struct lab *lab, const char *url);
/* Refreshes trust/crl.pem from the PA; 0 or -1. */
int lab_refresh_crl(const struct lab *lab);
/* Starts sti serve with the lab's signing key and trust; 0 or -1. */
int lab_start_serve(const struct lab *lab);

#endif
