/* TNAuthList (RFC 8226 section 9): SPCs, telephone number ranges and TNs. */
#ifndef STI_TNAUTH_H
#define STI_TNAUTH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sti_tn_entry_type {
    STI_TN_SPC = 0,   /* [0] ServiceProviderCode */
    STI_TN_RANGE = 1, /* [1] TelephoneNumberRange */
    STI_TN_ONE = 2    /* [2] TelephoneNumber */
};

#define STI_TN_VALUE_MAX 32

struct sti_tn_entry {
    int type;                         /* enum sti_tn_entry_type */
    char value[STI_TN_VALUE_MAX + 1]; /* SPC, TN, or range start */
    uint64_t count;                   /* range only, at least 2 */
};

struct sti_tnauth {
    size_t count;
    struct sti_tn_entry *entries;
};

STI_API struct sti_tnauth *sti_tnauth_new(void);
STI_API void sti_tnauth_free(struct sti_tnauth *list);
STI_API struct sti_tnauth *sti_tnauth_dup(const struct sti_tnauth *list);

/*
 * Appends one validated entry: an SPC of [0-9A-Z]; a TN or range start of
 * 1 to 15 characters from "0123456789#*"; a range count of at least 2.
 * The error names the bad entry.
 */
STI_API int sti_tnauth_add(struct sti_tnauth *list, int type, const char *value,
                           uint64_t count, struct sti_error *err);

/*
 * Parses a comma-separated specification such as
 * "spc:1234", "tn:12025550100,range:12025550100+100" into a list.
 */
STI_API int sti_tnauth_parse_spec(const char *spec, struct sti_tnauth **out,
                                  struct sti_error *err);
/* Formats a list back into that specification form. */
STI_API char *sti_tnauth_to_spec(const struct sti_tnauth *list);

/* DER encoding with OpenSSL ASN.1 templates and explicit tags. */
STI_API int sti_tnauth_encode(const struct sti_tnauth *list,
                              unsigned char **der, size_t *len,
                              struct sti_error *err);
/* Strict DER decoding; every entry is validated as in sti_tnauth_add(). */
STI_API int sti_tnauth_decode(const unsigned char *der, size_t len,
                              struct sti_tnauth **out, struct sti_error *err);

/* Returns the single SPC when the list is exactly one SPC entry, else NULL. */
STI_API const char *sti_tnauth_get0_spc(const struct sti_tnauth *list);

/* Returns 1 when TN (canonical digits) lies in a TN or range entry.  A
 * range covers START .. START+COUNT-1 with as many digits as START. */
STI_API int sti_tnauth_covers_tn(const struct sti_tnauth *list, const char *tn);
/* Returns 1 when every entry of INNER is encompassed by OUTER: the same
 * SPC, or TNs and ranges inside OUTER's TNs and ranges. */
STI_API int sti_tnauth_encompasses(const struct sti_tnauth *outer,
                                   const struct sti_tnauth *inner);

/* Returns true when the two lists hold the same entries in the same order. */
STI_API int sti_tnauth_equal(const struct sti_tnauth *a,
                             const struct sti_tnauth *b);

#ifdef __cplusplus
}
#endif
#endif
