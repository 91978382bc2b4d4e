/* sti lab status, down, and the summary and environment files. */
#include "cli.h"
#include "lab.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CERTS (4 + LAB_MAX_PROVIDERS)

/* A certificate of the tree with the strings its entry points to. */
struct cert_row {
    struct sti_lab_cert info;
    char file[LAB_PATH_MAX];
    char name[32];
    char *subject, *serial, *x5u;
    char spc[40];
};

static void row_free(struct cert_row *row)
{
    sti_free(row->subject);
    sti_free(row->serial);
    free(row->x5u);
}

/* Fills ROW from the first certificate of FILE; 0 when it exists. */
static int row_load(struct cert_row *row, const struct sti_crl *crl)
{
    struct sti_chain *chain = NULL;
    struct sti_tnauth *tn = NULL;
    struct sti_error err;
    const struct sti_cert *cert;

    if (sti_chain_load(row->file, &chain, &err) != STI_OK ||
        sti_chain_count(chain) == 0) {
        sti_chain_free(chain);
        return -1;
    }
    cert = sti_chain_get0(chain, 0);
    row->subject = sti_cert_subject(cert);
    row->serial = sti_cert_serial_hex(cert);
    row->info.not_after = sti_cert_not_after(cert);
    row->info.revoked = crl != NULL ? sti_crl_lists(crl, cert) : -1;
    if (sti_cert_get_tnauth(cert, &tn, NULL) == STI_OK &&
        sti_tnauth_get0_spc(tn) != NULL) {
        snprintf(row->spc, sizeof(row->spc), "%s", sti_tnauth_get0_spc(tn));
        row->info.spc = row->spc;
    }
    sti_tnauth_free(tn);
    sti_chain_free(chain);
    row->info.name = row->name;
    row->info.file = row->file;
    row->info.subject = row->subject;
    row->info.serial = row->serial;
    return 0;
}

/* Collects the PA, the CA root, the intermediate and the providers. */
static size_t collect_certs(const struct lab *lab, struct cert_row *rows,
                            const struct sti_crl *crl)
{
    static const struct {
        const char *role, *name, *issuer, *file;
    } fixed[] = {
        {"pa", "pa", NULL, "pa/pa.crt"},
        {"ca-root", "root", NULL, "ca/root.pem"},
        {"ca-intermediate", "intermediate", "root", "ca/intermediate.pem"},
    };
    size_t n = 0;
    char spc[16], path[LAB_PATH_MAX];

    for (size_t i = 0; i < 3; i++) {
        struct cert_row *r = &rows[n];

        memset(r, 0, sizeof(*r));
        lab_path(lab, r->file, "%s", fixed[i].file);
        snprintf(r->name, sizeof(r->name), "%s", fixed[i].name);
        r->info.role = fixed[i].role;
        r->info.issuer = fixed[i].issuer;
        if (row_load(r, crl) == 0)
            n++;
    }
    for (int i = 0; i < lab_provider_count(lab) && n < MAX_CERTS; i++) {
        struct cert_row *r = &rows[n];

        memset(r, 0, sizeof(*r));
        lab_spc(i, spc);
        lab_path(lab, r->file, "sp/%s/chain.pem", spc);
        lab_path(lab, path, "sp/%s/x5u", spc);
        snprintf(r->name, sizeof(r->name), "%s", spc);
        r->info.role = "sp";
        r->info.issuer = "intermediate";
        r->x5u = lab_read_text(path);
        r->info.x5u = r->x5u;
        if (row_load(r, crl) == 0)
            n++;
        else
            row_free(r);
    }
    return n;
}

static void format_date(time_t t, char out[32])
{
    struct tm tm;

    if (t == 0 || gmtime_r(&t, &tm) == NULL)
        snprintf(out, 32, "?");
    else
        strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

static const char *revocation_text(int revoked)
{
    return revoked < 0 ? "revocation unknown"
           : revoked   ? "REVOKED"
                       : "not revoked";
}

/* Prints one certificate: HEAD before the first line, CONT before the
 * others. */
static void print_cert(const struct sti_lab_cert *c, const char *head,
                       const char *cont)
{
    char date[32];

    format_date(c->not_after, date);
    printf("%s%s %s: %s\n", head, c->role, c->name, c->subject);
    printf("%s  serial %s, expires %s, %s\n", cont, c->serial, date,
           revocation_text(c->revoked));
    if (c->spc != NULL)
        printf("%s  SPC %s\n", cont, c->spc);
    if (c->x5u != NULL)
        printf("%s  x5u %s\n", cont, c->x5u);
}

/* The tree: the PA is printed beside the CA hierarchy because it signs the
 * CRL and the CA list, not certificates of the chain. */
static void print_tree(const struct sti_lab_cert *certs, size_t n)
{
    printf("Certificates\n");
    for (size_t i = 0; i < n; i++) {
        int last = i + 1 == n || strcmp(certs[i + 1].role, "sp") != 0;

        if (strcmp(certs[i].role, "ca-intermediate") == 0)
            print_cert(&certs[i], "  `-- ", "      ");
        else if (strcmp(certs[i].role, "sp") == 0)
            print_cert(&certs[i], last ? "      `-- " : "      |-- ",
                       last ? "          " : "      |   ");
        else
            print_cert(&certs[i], "  ", "  ");
    }
}

static void fill_services(const struct lab *lab, struct sti_lab_service *svc,
                          char urls[LAB_SERVICE_COUNT][256])
{
    for (int i = 0; i < LAB_SERVICE_COUNT; i++) {
        svc[i].name = lab_service_name(i);
        lab_service_url(lab, i, urls[i]);
        svc[i].url = urls[i][0] != '\0' ? urls[i] : NULL;
        svc[i].pid = (long)lab_service_pid(lab, i);
        svc[i].port = lab_service_port(lab, i);
        svc[i].up = svc[i].pid > 0;
    }
}

static void print_services(const struct sti_lab_service *svc)
{
    printf("Services\n");
    for (int i = 0; i < LAB_SERVICE_COUNT; i++) {
        if (svc[i].up)
            printf("  %-6s up    pid %-7ld %s\n", svc[i].name, svc[i].pid,
                   svc[i].url != NULL ? svc[i].url : "");
        else
            printf("  %-6s down\n", svc[i].name);
    }
}

/* Loads trust/crl.pem, refreshed from the PA when it runs. */
static struct sti_crl *load_crl(const struct lab *lab)
{
    char path[LAB_PATH_MAX];
    struct sti_crl *crl = NULL;

    if (lab_service_pid(lab, LAB_PA) != 0)
        (void)lab_refresh_crl(lab);
    lab_path(lab, path, "trust/crl.pem");
    (void)sti_crl_load(path, &crl, NULL);
    return crl;
}

int lab_status(struct lab *lab)
{
    struct cert_row rows[MAX_CERTS];
    struct sti_lab_cert certs[MAX_CERTS];
    struct sti_lab_service svc[LAB_SERVICE_COUNT];
    char urls[LAB_SERVICE_COUNT][256], *json;
    struct sti_crl *crl = load_crl(lab);
    struct sti_error err;
    size_t n = collect_certs(lab, rows, crl);
    int rc = CLI_EXIT_OK;

    for (size_t i = 0; i < n; i++)
        certs[i] = rows[i].info;
    fill_services(lab, svc, urls);
    if (lab->json) {
        if (sti_lab_status_to_json(lab->dir, certs, n, svc, LAB_SERVICE_COUNT,
                                   &json, &err) != STI_OK) {
            rc = cli_fail("cannot build the status", &err);
        } else {
            printf("%s\n", json);
            sti_free(json);
        }
    } else {
        printf("Lab %s\n", lab->dir);
        print_tree(certs, n);
        print_services(svc);
    }
    /* A service that is down makes the lab unusable, so scripts see it
     * in the exit status. */
    for (int i = 0; i < LAB_SERVICE_COUNT && rc == CLI_EXIT_OK; i++)
        if (!svc[i].up)
            rc = CLI_EXIT_FAIL;
    for (size_t i = 0; i < n; i++)
        row_free(&rows[i]);
    sti_crl_free(crl);
    return rc;
}

int lab_down(struct lab *lab)
{
    int rc = CLI_EXIT_OK;

    for (int i = LAB_SERVICE_COUNT - 1; i >= 0; i--) {
        pid_t pid = lab_service_pid(lab, i);

        if (lab_service_stop(lab, i) != 0) {
            rc = CLI_EXIT_FAIL;
        } else if (pid > 0) {
            printf("%s: stopped %s (pid %ld)\n", cli_prog, lab_service_name(i),
                   (long)pid);
        }
    }
    return rc;
}

static void write_env(const struct lab *lab, FILE *f)
{
    char urls[LAB_SERVICE_COUNT][256], spc[16], path[LAB_PATH_MAX], *x5u;
    static const char *const vars[LAB_SERVICE_COUNT] = {
        "STI_LAB_PA_URL", "STI_LAB_CR_URL", "STI_LAB_ACME_URL",
        "STI_LAB_SERVE_URL"};

    fprintf(f, "# Generated by 'sti lab up'; source it: . %s/lab.env\n",
            lab->dir);
    fprintf(f, "export STI_LAB_DIR='%s'\n", lab->dir);
    for (int i = 0; i < LAB_SERVICE_COUNT; i++) {
        lab_service_url(lab, i, urls[i]);
        fprintf(f, "export %s='%s'\n", vars[i], urls[i]);
    }
    fprintf(f, "export STI_LAB_ACME_DIRECTORY='%s/acme/directory'\n",
            urls[LAB_CA]);
    fprintf(f, "export STI_LAB_CA_FILE='%s/trust/ca-roots.pem'\n", lab->dir);
    fprintf(f, "export STI_LAB_CRL='%s/trust/crl.pem'\n", lab->dir);
    fprintf(f, "export STI_LAB_CRL_URL='%s/api/v1/crl'\n", urls[LAB_PA]);
    fprintf(f, "export STI_LAB_CRL_SIGNER='%s/pa/pa.crt'\n", lab->dir);
    fprintf(f, "export STI_LAB_TLS_CA_FILE='%s/trust/tls.pem'\n", lab->dir);
    fprintf(f, "export STI_LAB_PROVIDERS=%d\n", lab_provider_count(lab));
    for (int i = 0; i < lab_provider_count(lab); i++) {
        lab_spc(i, spc);
        lab_path(lab, path, "sp/%s/x5u", spc);
        x5u = lab_read_text(path);
        fprintf(f, "export STI_LAB_SP%d_SPC=%s\n", i + 1, spc);
        fprintf(f, "export STI_LAB_SP%d_KEY='%s/sp/%s/cert.key'\n", i + 1,
                lab->dir, spc);
        fprintf(f, "export STI_LAB_SP%d_CHAIN='%s/sp/%s/chain.pem'\n", i + 1,
                lab->dir, spc);
        fprintf(f, "export STI_LAB_SP%d_X5U='%s'\n", i + 1, x5u ? x5u : "");
        free(x5u);
    }
}

static void write_commands(const struct lab *lab, FILE *f)
{
    char serve[256], orig[16];

    lab_service_url(lab, LAB_SERVE, serve);
    lab_orig_tn(0, orig);
    fprintf(
        f,
        "Try it (after '. %s/lab.env'):\n"
        "  %s/sti sign --key \"$STI_LAB_SP1_KEY\" --x5u \"$STI_LAB_SP1_X5U\" "
        "\\\n      --orig %s --dest %s --attest A > identity.txt\n"
        "  %s/sti verify --ca-file \"$STI_LAB_CA_FILE\" --crl "
        "\"$STI_LAB_CRL\" \\\n      --crl-signer \"$STI_LAB_CRL_SIGNER\" "
        "--x5u-ca-file \"$STI_LAB_TLS_CA_FILE\" \\\n"
        "      --allow-any-port --file identity.txt\n"
        "  curl -s %s/stir/v1/signing -H 'Content-Type: application/json' "
        "\\\n      -d '{\"signingRequest\":{\"attest\":\"A\",\"orig\":"
        "{\"tn\":\"%s\"},\"dest\":{\"tn\":[\"%s\"]}}}'\n"
        "  curl -s %s/stir/v1/verification -H 'Content-Type: "
        "application/json' \\\n      -d '{\"verificationRequest\":"
        "{\"identity\":\"'\"$(cat identity.txt)\"'\",\"from\":{\"tn\":"
        "\"%s\"},\"to\":{\"tn\":[\"%s\"]}}}'\n",
        lab->dir, lab->bindir, orig, LAB_DEST_TN, lab->bindir, serve, orig,
        LAB_DEST_TN, serve, orig, LAB_DEST_TN);
}

static void write_summary(const struct lab *lab, FILE *f)
{
    char url[256];
    static const char *const what[LAB_SERVICE_COUNT] = {
        "STI-PA API (login, SPC tokens, CA list, CRL)",
        "STI-CR (x5u URLs under /certs/)",
        "STI-CA ACME server (directory at /acme/directory)",
        "sti serve (POST /stir/v1/signing and /stir/v1/verification)"};

    fprintf(f, "Lab %s\n\nServices\n", lab->dir);
    for (int i = 0; i < LAB_SERVICE_COUNT; i++) {
        lab_service_url(lab, i, url);
        fprintf(f, "  %-6s %-28s %s\n", lab_service_name(i),
                url[0] ? url : "(not running)", what[i]);
    }
    fprintf(f,
            "\nFiles\n"
            "  trust anchors (approved CA roots)  %s/trust/ca-roots.pem\n"
            "  PA CRL and its signer              %s/trust/crl.pem, "
            "%s/pa/pa.crt\n"
            "  TLS trust of the lab's services    %s/trust/tls.pem\n"
            "  providers' keys, chains and x5u    %s/sp/SPC/\n"
            "  environment                        %s/lab.env\n"
            "  service logs                       %s/run/*.log\n\n",
            lab->dir, lab->dir, lab->dir, lab->dir, lab->dir, lab->dir,
            lab->dir);
    write_commands(lab, f);
    fprintf(f, "\nStop it: sti lab down --dir %s (or make lab-down)\n",
            lab->dir);
}

int lab_write_summary(const struct lab *lab, int print)
{
    char env_path[LAB_PATH_MAX], sum_path[LAB_PATH_MAX];
    FILE *env, *sum;

    lab_path(lab, env_path, "lab.env");
    lab_path(lab, sum_path, "summary.txt");
    env = fopen(env_path, "w");
    sum = fopen(sum_path, "w");
    if (env == NULL || sum == NULL) {
        cli_errorf("cannot write %s", env == NULL ? env_path : sum_path);
        if (env != NULL)
            fclose(env);
        if (sum != NULL)
            fclose(sum);
        return -1;
    }
    write_env(lab, env);
    write_summary(lab, sum);
    fclose(env);
    fclose(sum);
    if (print)
        write_summary(lab, stdout);
    return 0;
}
