/*
 * Profile checks of SHAKEN certificates and chains (ATIS-1000080 as quoted
 * by the public SHAKEN lint suites, RFC 8226, RFC 9060 and RFC 5280).
 *
 * Each finding names a stable rule ("e_tnauth_critical"), whose prefix
 * gives the severity: e_ error, w_ warning, n_ notice.
 */
#ifndef STI_LINT_H
#define STI_LINT_H

#include "cert.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sti_lint_severity {
    STI_LINT_NOTICE = 1,
    STI_LINT_WARNING = 2,
    STI_LINT_ERROR = 3
};

/* Returns "notice", "warning" or "error" ("unknown" otherwise). */
STI_API const char *sti_lint_severity_name(int severity);

struct sti_lint_options {
    const char *profile; /* "us" or "fr"; NULL means "us" */
    time_t at;           /* time for validity checks; 0 means now */
};

struct sti_lint_finding {
    const char *rule;  /* static, stable rule name */
    int severity;      /* enum sti_lint_severity */
    int cert_index;    /* 0 is the leaf; -1 for the chain as a whole */
    char message[256]; /* names the offending value and the fix */
};

/* The findings of one lint run, in certificate order. */
struct sti_lint_report;

/*
 * Lints every certificate of CHAIN (leaf first).  Findings are not
 * failures: the return is STI_OK whenever the chain could be examined.
 */
STI_API int sti_lint_chain(const struct sti_chain *chain,
                           const struct sti_lint_options *options,
                           struct sti_lint_report **out, struct sti_error *err);
/*
 * Parses DATA (one or more PEM certificates, or DER certificates one after
 * the other) and lints them as a chain.  STI_ERR_INVALID when DATA holds
 * no certificate.
 */
STI_API int sti_lint_data(const void *data, size_t len,
                          const struct sti_lint_options *options,
                          struct sti_lint_report **out, struct sti_error *err);
STI_API void sti_lint_report_free(struct sti_lint_report *report);

STI_API size_t sti_lint_report_count(const struct sti_lint_report *report);
STI_API const struct sti_lint_finding *
sti_lint_report_get0(const struct sti_lint_report *report, size_t index);
/* Number of certificates examined. */
STI_API size_t sti_lint_report_cert_count(const struct sti_lint_report *report);
/* Number of findings of SEVERITY. */
STI_API size_t sti_lint_report_severity_count(
    const struct sti_lint_report *report, int severity);
/* Returns 1 when some finding carries RULE, 0 otherwise. */
STI_API int sti_lint_report_has(const struct sti_lint_report *report,
                                const char *rule);

/*
 * Text: one line per finding, "cert N: severity rule: message", or
 * "clean: N certificates, no findings".  JSON: {"certificates":N,
 * "errors":N,"warnings":N,"notices":N,"findings":[{"rule","severity",
 * "certificate","message"}]}.  Both are freed with sti_free().
 */
STI_API int sti_lint_report_to_text(const struct sti_lint_report *report,
                                    char **text, struct sti_error *err);
STI_API int sti_lint_report_to_json(const struct sti_lint_report *report,
                                    char **json, struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
