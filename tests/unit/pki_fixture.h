/*
 * A small SHAKEN PKI for the x5u and verification tests: a CA root, an
 * intermediate and SP end entities, built with libsti's own issuance.
 */
#ifndef STI_TEST_PKI_FIXTURE_H
#define STI_TEST_PKI_FIXTURE_H

#include <stdlib.h>
#include <string.h>

struct pki {
    struct sti_key *pa_key, *root_key, *ca_key, *sp_key;
    struct sti_cert *pa, *root, *ca, *sp; /* pa signs the indirect CRL */
    char *chain_pem;                      /* SP leaf then intermediate */
    char *root_pem;
};

/* The CRL issuer (the PA) named in cRLDistributionPoints. */
static const struct sti_cert *pki_crl_issuer;
/* One notBefore for every certificate, an hour back, so that issuers
 * never end before their subjects and a PASSporT signed just before the
 * issuance still falls inside the validity period. */
static time_t pki_epoch;

static struct sti_cert *pki_issue(int kind, const char *spec,
                                  const struct sti_key *subject,
                                  const struct sti_cert *issuer,
                                  const struct sti_key *issuer_key,
                                  time_t not_before, int days)
{
    struct sti_tnauth *tn = NULL;
    struct sti_cert_request req = {
        .kind = kind,
        .organization = "Test SP",
        .subject_key = subject,
        .crl_url = "http://127.0.0.1/crl",
        .crl_issuer = pki_crl_issuer,
        .not_before = not_before ? not_before : pki_epoch,
        .validity_days = days,
    };
    struct sti_cert *cert = NULL;
    struct sti_error err;

    if (spec != NULL) {
        assert_int_equal(sti_tnauth_parse_spec(spec, &tn, &err), STI_OK);
        req.tnauth = tn;
    }
    if (sti_cert_issue(&req, issuer, issuer_key, &cert, &err) != STI_OK)
        fail_msg("cannot issue test certificate: %s", err.message);
    sti_tnauth_free(tn);
    return cert;
}

static char *pki_pem2(const struct sti_cert *a, const struct sti_cert *b)
{
    struct sti_error err;
    char *pa, *pb = NULL, *out;

    assert_int_equal(sti_cert_to_pem(a, &pa, &err), STI_OK);
    if (b != NULL)
        assert_int_equal(sti_cert_to_pem(b, &pb, &err), STI_OK);
    out = malloc(strlen(pa) + (pb ? strlen(pb) : 0) + 1);
    strcpy(out, pa);
    if (pb != NULL)
        strcat(out, pb);
    free(pa);
    free(pb);
    return out;
}

/* Builds root, intermediate and an SP leaf for SPC "1234" valid from
 * NOT_BEFORE (0: now) for DAYS days. */
static void pki_init(struct pki *p, time_t not_before, int days)
{
    struct sti_error err;

    memset(p, 0, sizeof(*p));
    pki_epoch = time(NULL) - 3600;
    assert_int_equal(sti_key_generate(&p->pa_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&p->root_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&p->ca_key, &err), STI_OK);
    assert_int_equal(sti_key_generate(&p->sp_key, &err), STI_OK);
    p->pa =
        pki_issue(STI_CERT_PA_ROOT, NULL, p->pa_key, NULL, NULL, not_before, 0);
    p->root = pki_issue(STI_CERT_CA_ROOT, NULL, p->root_key, NULL, NULL,
                        not_before, 0);
    pki_crl_issuer = p->pa;
    p->ca = pki_issue(STI_CERT_CA_INTERMEDIATE, NULL, p->ca_key, p->root,
                      p->root_key, not_before, 0);
    p->sp = pki_issue(STI_CERT_SP, "spc:1234", p->sp_key, p->ca, p->ca_key,
                      not_before, days);
    p->chain_pem = pki_pem2(p->sp, p->ca);
    p->root_pem = pki_pem2(p->root, NULL);
}

static void pki_free(struct pki *p)
{
    pki_crl_issuer = NULL;
    sti_key_free(p->pa_key);
    sti_cert_free(p->pa);
    sti_key_free(p->root_key);
    sti_key_free(p->ca_key);
    sti_key_free(p->sp_key);
    sti_cert_free(p->root);
    sti_cert_free(p->ca);
    sti_cert_free(p->sp);
    free(p->chain_pem);
    free(p->root_pem);
}

#endif
