/*
 * TNAuthList (RFC 8226 section 9): validation, DER through OpenSSL ASN.1
 * templates, the "spc:..,tn:..,range:START+COUNT" text form, and the
 * coverage checks used for delegate certificates (RFC 9060).
 */
#include "x509_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#define TN_MAX_DIGITS 15
#define TNAUTH_OID "1.3.6.1.5.5.7.1.26"

/*
 * TelephoneNumberRange ::= SEQUENCE {
 *     start TelephoneNumber, count INTEGER (2..MAX), ... }
 */
typedef struct TN_RANGE_st {
    ASN1_IA5STRING *start;
    ASN1_INTEGER *count;
} TN_RANGE;

/*
 * TNEntry ::= CHOICE { spc [0] ServiceProviderCode,
 *     range [1] TelephoneNumberRange, one [2] TelephoneNumber }
 * The module uses EXPLICIT tagging, so each alternative is wrapped.
 */
typedef struct TN_ENTRY_st {
    int type;
    union {
        ASN1_IA5STRING *spc;
        TN_RANGE *range;
        ASN1_IA5STRING *one;
    } d;
} TN_ENTRY;

/* The stack and template macros expand to tables and functions that
 * neither clang-format nor cppcheck (which reads no system headers) can
 * parse, so cppcheck gets a plain typedef in their place. */
#ifdef __CPPCHECK__
typedef struct stack_st_TN_ENTRY TN_AUTH_LIST;
#else
// clang-format off
// cppcheck-suppress unknownMacro
DEFINE_STACK_OF(TN_ENTRY)
typedef STACK_OF(TN_ENTRY) TN_AUTH_LIST;

ASN1_SEQUENCE(TN_RANGE) = {
    ASN1_SIMPLE(TN_RANGE, start, ASN1_IA5STRING),
    ASN1_SIMPLE(TN_RANGE, count, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(TN_RANGE)

ASN1_CHOICE(TN_ENTRY) = {
    ASN1_EXP(TN_ENTRY, d.spc, ASN1_IA5STRING, 0),
    ASN1_EXP(TN_ENTRY, d.range, TN_RANGE, 1),
    ASN1_EXP(TN_ENTRY, d.one, ASN1_IA5STRING, 2),
} static_ASN1_CHOICE_END(TN_ENTRY)

/* TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry */
ASN1_ITEM_TEMPLATE(TN_AUTH_LIST) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, TNAuthorizationList,
                          TN_ENTRY)
static_ASN1_ITEM_TEMPLATE_END(TN_AUTH_LIST)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(TN_ENTRY)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(TN_AUTH_LIST)

static TN_RANGE *TN_RANGE_new(void)
{
    return (TN_RANGE *)ASN1_item_new(ASN1_ITEM_rptr(TN_RANGE));
}
// clang-format on
#endif

static const char *const entry_kind[] = {"SPC", "TN range", "TN"};

ASN1_OBJECT *sti_tnauth_obj(void)
{
    /* OpenSSL 3.0 has no NID for id-pe-TNAuthList.  A fresh object per
     * call avoids OBJ_create(), which changes a process-wide table. */
    return OBJ_txt2obj(TNAUTH_OID, 1);
}

/* Lists */

struct sti_tnauth *sti_tnauth_new(void)
{
    return calloc(1, sizeof(struct sti_tnauth));
}

void sti_tnauth_free(struct sti_tnauth *list)
{
    if (list == NULL)
        return;
    free(list->entries);
    free(list);
}

struct sti_tnauth *sti_tnauth_dup(const struct sti_tnauth *list)
{
    struct sti_tnauth *copy;

    if (list == NULL)
        return NULL;
    copy = sti_tnauth_new();
    if (copy == NULL || list->count == 0)
        return copy;
    copy->entries = calloc(list->count, sizeof(*copy->entries));
    if (copy->entries == NULL) {
        free(copy);
        return NULL;
    }
    memcpy(copy->entries, list->entries, list->count * sizeof(*list->entries));
    copy->count = list->count;
    return copy;
}

static int all_chars_in(const char *s, const char *allowed)
{
    for (; *s != '\0'; s++)
        if (strchr(allowed, *s) == NULL)
            return 0;
    return 1;
}

/* Checks one entry against RFC 8226 section 9 and the SHAKEN SPC rule
 * (ATIS-1000080: uppercase letters and digits). */
static int check_entry(int type, const char *value, uint64_t count,
                       struct sti_error *err)
{
    size_t n = value ? strlen(value) : 0;

    if (type < STI_TN_SPC || type > STI_TN_ONE)
        return sti_seterr(err, STI_ERR_INVALID,
                          "unknown TNAuthList entry type %d", type);
    if (value == NULL || n == 0)
        return sti_seterr(err, STI_ERR_INVALID, "%s entry is empty",
                          entry_kind[type]);
    if (type == STI_TN_SPC) {
        if (n > STI_TN_VALUE_MAX ||
            !all_chars_in(value, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            return sti_seterr(err, STI_ERR_INVALID,
                              "invalid SPC '%.64s': use 1 to %d characters "
                              "from 0-9 and A-Z",
                              value, STI_TN_VALUE_MAX);
        return STI_OK;
    }
    if (n > TN_MAX_DIGITS || !all_chars_in(value, "0123456789#*"))
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid %s '%.64s': use 1 to 15 characters from "
                          "0-9, # and *",
                          entry_kind[type], value);
    if (type == STI_TN_RANGE && count < 2)
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid TN range '%s' count %llu: the count must "
                          "be at least 2",
                          value, (unsigned long long)count);
    return STI_OK;
}

int sti_tnauth_add(struct sti_tnauth *list, int type, const char *value,
                   uint64_t count, struct sti_error *err)
{
    struct sti_tn_entry *grown, *e;
    int rc;

    if (list == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no TNAuthList given");
    rc = check_entry(type, value, count, err);
    if (rc != STI_OK)
        return rc;
    grown = realloc(list->entries, (list->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    list->entries = grown;
    e = &grown[list->count++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    snprintf(e->value, sizeof(e->value), "%s", value);
    e->count = type == STI_TN_RANGE ? count : 0;
    return STI_OK;
}

/* Text form */

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int parse_count(const char *text, uint64_t *count)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)*text))
        return 0;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *count = v;
    return 1;
}

static int parse_spec_item(struct sti_tnauth *list, char *item,
                           struct sti_error *err)
{
    char *plus;
    uint64_t count;

    if (strncmp(item, "spc:", 4) == 0)
        return sti_tnauth_add(list, STI_TN_SPC, item + 4, 0, err);
    if (strncmp(item, "tn:", 3) == 0)
        return sti_tnauth_add(list, STI_TN_ONE, item + 3, 0, err);
    if (strncmp(item, "range:", 6) == 0) {
        plus = strchr(item + 6, '+');
        if (plus == NULL || !parse_count(plus + 1, &count))
            return sti_seterr(err, STI_ERR_INVALID,
                              "invalid TNAuthList entry '%.64s': write a "
                              "range as range:START+COUNT",
                              item);
        *plus = '\0';
        return sti_tnauth_add(list, STI_TN_RANGE, item + 6, count, err);
    }
    return sti_seterr(err, STI_ERR_INVALID,
                      "invalid TNAuthList entry '%.64s': use spc:CODE, tn:TN "
                      "or range:START+COUNT",
                      item);
}

int sti_tnauth_parse_spec(const char *spec, struct sti_tnauth **out,
                          struct sti_error *err)
{
    struct sti_tnauth *list;
    char *copy, *item, *save = NULL;
    int rc = STI_OK;

    *out = NULL;
    if (spec == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no TNAuthList given");
    copy = strdup(spec);
    list = sti_tnauth_new();
    if (copy == NULL || list == NULL) {
        free(copy);
        free(list);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    for (item = strtok_r(copy, ",", &save); item != NULL && rc == STI_OK;
         item = strtok_r(NULL, ",", &save))
        rc = parse_spec_item(list, trim(item), err);
    free(copy);
    if (rc == STI_OK && list->count == 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "TNAuthList '%.64s' has no entry; give e.g. spc:1234",
                        spec);
    if (rc != STI_OK) {
        sti_tnauth_free(list);
        return rc;
    }
    *out = list;
    return STI_OK;
}

char *sti_tnauth_to_spec(const struct sti_tnauth *list)
{
    size_t cap, pos = 0;
    char *out;

    if (list == NULL)
        return NULL;
    /* Maximum item length: "range:" + value + "+" + 20 digits + ",". */
    cap = list->count * (STI_TN_VALUE_MAX + 32) + 1;
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < list->count; i++) {
        const struct sti_tn_entry *e = &list->entries[i];
        const char *sep = i ? "," : "";

        if (e->type == STI_TN_RANGE)
            pos +=
                (size_t)snprintf(out + pos, cap - pos, "%srange:%s+%llu", sep,
                                 e->value, (unsigned long long)e->count);
        else
            pos += (size_t)snprintf(out + pos, cap - pos, "%s%s:%s", sep,
                                    e->type == STI_TN_SPC ? "spc" : "tn",
                                    e->value);
    }
    return out;
}

/* DER */

static ASN1_IA5STRING *ia5_new(const char *value)
{
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (s != NULL && !ASN1_STRING_set(s, value, (int)strlen(value))) {
        ASN1_IA5STRING_free(s);
        s = NULL;
    }
    return s;
}

static TN_ENTRY *entry_to_asn1(const struct sti_tn_entry *e)
{
    TN_ENTRY *a = TN_ENTRY_new();
    int ok = 0;

    if (a == NULL)
        return NULL;
    a->type = e->type;
    if (e->type == STI_TN_SPC) {
        ok = (a->d.spc = ia5_new(e->value)) != NULL;
    } else if (e->type == STI_TN_ONE) {
        ok = (a->d.one = ia5_new(e->value)) != NULL;
    } else if ((a->d.range = TN_RANGE_new()) != NULL) {
        ASN1_IA5STRING_free(a->d.range->start);
        a->d.range->start = ia5_new(e->value);
        ok = a->d.range->start != NULL &&
             ASN1_INTEGER_set_uint64(a->d.range->count, e->count) == 1;
    }
    if (!ok) {
        TN_ENTRY_free(a);
        return NULL;
    }
    return a;
}

static int list_to_asn1(const struct sti_tnauth *list, TN_AUTH_LIST **out,
                        struct sti_error *err)
{
    TN_AUTH_LIST *seq;
    struct sti_error sub;

    *out = NULL;
    if (list == NULL || list->count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "TNAuthList is empty; it needs at least one entry");
    seq = sk_TN_ENTRY_new_null();
    if (seq == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->count; i++) {
        const struct sti_tn_entry *e = &list->entries[i];
        TN_ENTRY *a;

        if (check_entry(e->type, e->value, e->count, &sub) != STI_OK) {
            sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
            return sti_seterr(err, STI_ERR_INVALID, "TNAuthList entry %zu: %s",
                              i + 1, sub.message);
        }
        a = entry_to_asn1(e);
        if (a == NULL || !sk_TN_ENTRY_push(seq, a)) {
            TN_ENTRY_free(a);
            sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
            return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
        }
    }
    *out = seq;
    return STI_OK;
}

int sti_tnauth_encode(const struct sti_tnauth *list, unsigned char **der,
                      size_t *len, struct sti_error *err)
{
    TN_AUTH_LIST *seq;
    unsigned char *buf = NULL;
    int n, rc;

    *der = NULL;
    *len = 0;
    rc = list_to_asn1(list, &seq, err);
    if (rc != STI_OK)
        return rc;
    n = i2d_TN_AUTH_LIST(seq, &buf);
    rc = sti_der_dup(buf, n, der, len, err);
    OPENSSL_free(buf);
    sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
    return rc;
}

static int ext_value(const struct sti_tnauth *list, ASN1_OCTET_STRING **out,
                     struct sti_error *err)
{
    unsigned char *der;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_tnauth_encode(list, &der, &len, err);
    if (rc != STI_OK)
        return rc;
    *out = ASN1_OCTET_STRING_new();
    if (*out == NULL || !ASN1_OCTET_STRING_set(*out, der, (int)len)) {
        ASN1_OCTET_STRING_free(*out);
        *out = NULL;
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    free(der);
    return rc;
}

int sti_tnauth_ext_new(const struct sti_tnauth *list, int critical,
                       X509_EXTENSION **out, struct sti_error *err)
{
    ASN1_OCTET_STRING *value;
    ASN1_OBJECT *obj;
    int rc;

    *out = NULL;
    rc = ext_value(list, &value, err);
    if (rc != STI_OK)
        return rc;
    obj = sti_tnauth_obj();
    if (obj != NULL)
        *out = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, value);
    if (*out == NULL)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot build the TNAuthList extension");
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(value);
    return rc;
}

static int ia5_to_value(const ASN1_IA5STRING *s, char *out, size_t size)
{
    int n = s ? ASN1_STRING_length(s) : 0;
    const unsigned char *p = s ? ASN1_STRING_get0_data(s) : NULL;

    if (n <= 0 || (size_t)n >= size || memchr(p, '\0', (size_t)n) != NULL)
        return 0;
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return 1;
}

/* Converts one decoded entry; *count stays 0 for SPC and TN entries. */
static int entry_from_asn1(const TN_ENTRY *a, size_t index, int *type,
                           char value[STI_TN_VALUE_MAX + 1], uint64_t *count,
                           struct sti_error *err)
{
    const ASN1_IA5STRING *s = NULL;

    *type = a->type;
    *count = 0;
    if (a->type == STI_TN_SPC)
        s = a->d.spc;
    else if (a->type == STI_TN_ONE)
        s = a->d.one;
    else if (a->type == STI_TN_RANGE) {
        s = a->d.range->start;
        if (ASN1_INTEGER_get_uint64(count, a->d.range->count) != 1) {
            ERR_clear_error();
            return sti_seterr(err, STI_ERR_INVALID,
                              "TNAuthList entry %zu: range count is negative "
                              "or too large",
                              index + 1);
        }
    }
    if (!ia5_to_value(s, value, STI_TN_VALUE_MAX + 1))
        return sti_seterr(err, STI_ERR_INVALID,
                          "TNAuthList entry %zu: value is empty, too long or "
                          "holds a NUL byte",
                          index + 1);
    return STI_OK;
}

static int list_from_asn1(const TN_AUTH_LIST *seq, struct sti_tnauth *list,
                          struct sti_error *err)
{
    for (int i = 0; i < sk_TN_ENTRY_num(seq); i++) {
        char value[STI_TN_VALUE_MAX + 1];
        struct sti_error sub;
        uint64_t count;
        int type, rc;

        rc = entry_from_asn1(sk_TN_ENTRY_value(seq, i), (size_t)i, &type, value,
                             &count, err);
        if (rc != STI_OK)
            return rc;
        if (sti_tnauth_add(list, type, value, count, &sub) != STI_OK)
            return sti_seterr(err, sub.code, "TNAuthList entry %d: %s", i + 1,
                              sub.message);
    }
    return STI_OK;
}

/* Parses DER strictly: one complete value, no trailing bytes, and the
 * encoding must match what DER re-encoding produces (X.690 section 10). */
static int decode_asn1(const unsigned char *der, size_t len, TN_AUTH_LIST **out,
                       struct sti_error *err)
{
    const unsigned char *p = der;
    unsigned char *again = NULL;
    TN_AUTH_LIST *seq;
    int n;

    *out = NULL;
    if (der == NULL || len == 0 || len > INT_MAX)
        return sti_seterr(err, STI_ERR_INVALID, "TNAuthList DER is empty");
    seq = d2i_TN_AUTH_LIST(NULL, &p, (long)len);
    ERR_clear_error();
    if (seq == NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "TNAuthList DER is malformed or truncated");
    if (p != der + len) {
        sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
        return sti_seterr(err, STI_ERR_INVALID,
                          "TNAuthList DER has %zu trailing bytes",
                          len - (size_t)(p - der));
    }
    n = i2d_TN_AUTH_LIST(seq, &again);
    if (n != (int)len || memcmp(again, der, len) != 0) {
        OPENSSL_free(again);
        sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
        return sti_seterr(err, STI_ERR_INVALID, "TNAuthList is BER, not DER");
    }
    OPENSSL_free(again);
    *out = seq;
    return STI_OK;
}

int sti_tnauth_decode(const unsigned char *der, size_t len,
                      struct sti_tnauth **out, struct sti_error *err)
{
    TN_AUTH_LIST *seq;
    struct sti_tnauth *list;
    int rc;

    *out = NULL;
    rc = decode_asn1(der, len, &seq, err);
    if (rc != STI_OK)
        return rc;
    list = sti_tnauth_new();
    if (list == NULL)
        rc = sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    else if (sk_TN_ENTRY_num(seq) == 0)
        rc = sti_seterr(err, STI_ERR_INVALID,
                        "TNAuthList is an empty SEQUENCE; RFC 8226 requires "
                        "at least one entry");
    else
        rc = list_from_asn1(seq, list, err);
    sk_TN_ENTRY_pop_free(seq, TN_ENTRY_free);
    if (rc != STI_OK) {
        sti_tnauth_free(list);
        return rc;
    }
    *out = list;
    return STI_OK;
}

/* Queries */

const char *sti_tnauth_get0_spc(const struct sti_tnauth *list)
{
    if (list == NULL || list->count != 1 || list->entries[0].type != STI_TN_SPC)
        return NULL;
    return list->entries[0].value;
}

int sti_tnauth_equal(const struct sti_tnauth *a, const struct sti_tnauth *b)
{
    if (a == NULL || b == NULL || a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        const struct sti_tn_entry *x = &a->entries[i], *y = &b->entries[i];

        if (x->type != y->type || x->count != y->count ||
            strcmp(x->value, y->value) != 0)
            return 0;
    }
    return 1;
}

/*
 * A TN range covers the numbers START .. START+COUNT-1 written with as many
 * digits as START (RFC 8226 leaves the arithmetic implicit; this matches
 * how ranges of national numbers are allocated).  A range that would need
 * more digits has no interval, so only an identical entry encompasses it.
 */
struct tn_interval {
    size_t digits;
    uint64_t first;
    uint64_t last;
};

static uint64_t max_of_digits(size_t digits)
{
    uint64_t v = 0;

    for (size_t i = 0; i < digits; i++)
        v = v * 10 + 9;
    return v;
}

/* Fills IV from a digit string and a count; 0 for values with # or *. */
static int interval_of(const char *value, uint64_t count,
                       struct tn_interval *iv)
{
    uint64_t top;

    iv->digits = strlen(value);
    if (iv->digits == 0 || iv->digits > TN_MAX_DIGITS ||
        !all_chars_in(value, "0123456789") || count == 0)
        return 0;
    iv->first = strtoull(value, NULL, 10);
    top = max_of_digits(iv->digits);
    if (count - 1 > top - iv->first)
        return 0;
    iv->last = iv->first + (count - 1);
    return 1;
}

static int entry_interval(const struct sti_tn_entry *e, struct tn_interval *iv)
{
    if (e->type == STI_TN_ONE)
        return interval_of(e->value, 1, iv);
    if (e->type == STI_TN_RANGE)
        return interval_of(e->value, e->count, iv);
    return 0;
}

/* Returns 1 when the union of OUTER's TN and range entries contains every
 * number of WANT. */
static int intervals_cover(const struct sti_tnauth *outer,
                           const struct tn_interval *want)
{
    uint64_t next = want->first;

    for (;;) {
        uint64_t reach = 0;
        int found = 0;

        for (size_t i = 0; i < outer->count; i++) {
            struct tn_interval iv;

            if (entry_interval(&outer->entries[i], &iv) &&
                iv.digits == want->digits && iv.first <= next &&
                iv.last >= next && (!found || iv.last > reach)) {
                reach = iv.last;
                found = 1;
            }
        }
        if (!found)
            return 0;
        if (reach >= want->last)
            return 1;
        next = reach + 1;
    }
}

int sti_tnauth_covers_tn(const struct sti_tnauth *list, const char *tn)
{
    struct tn_interval want;

    if (list == NULL || tn == NULL || !interval_of(tn, 1, &want))
        return 0;
    return intervals_cover(list, &want);
}

static int has_spc(const struct sti_tnauth *list, const char *spc)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->entries[i].type == STI_TN_SPC &&
            strcmp(list->entries[i].value, spc) == 0)
            return 1;
    return 0;
}

static int has_exact_entry(const struct sti_tnauth *list,
                           const struct sti_tn_entry *e)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct sti_tn_entry *o = &list->entries[i];

        if (o->type == e->type && o->count == e->count &&
            strcmp(o->value, e->value) == 0)
            return 1;
    }
    return 0;
}

int sti_tnauth_encompasses(const struct sti_tnauth *outer,
                           const struct sti_tnauth *inner)
{
    if (outer == NULL || inner == NULL || inner->count == 0)
        return 0;
    for (size_t i = 0; i < inner->count; i++) {
        const struct sti_tn_entry *e = &inner->entries[i];
        struct tn_interval want;

        if (e->type == STI_TN_SPC) {
            if (!has_spc(outer, e->value))
                return 0;
        } else if (entry_interval(e, &want)) {
            if (!intervals_cover(outer, &want))
                return 0;
        } else if (!has_exact_entry(outer, e)) {
            /* Numbers with # or * have no numeric order, and overlong
             * ranges no interval, so only an identical entry counts. */
            return 0;
        }
    }
    return 1;
}
