/*
 * SIP message access for signing and verification, on libosip2: the
 * originating and destination identities and the Identity header fields
 * (RFC 8224).
 */
#ifndef STI_SIP_H
#define STI_SIP_H

#include "common.h"
#include "passport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One parsed SIP request or response. */
struct sti_sip;

/* Parses a whole SIP message (headers and body). */
STI_API int sti_sip_parse(const char *text, size_t len, struct sti_sip **out,
                          struct sti_error *err);
STI_API void sti_sip_free(struct sti_sip *msg);
/* Serialises the message, with any Identity header change applied. */
STI_API int sti_sip_to_string(const struct sti_sip *msg, char **text,
                              size_t *len, struct sti_error *err);
/* The request method ("INVITE"), or NULL for a response. */
STI_API const char *sti_sip_method(const struct sti_sip *msg);

/* Where an identity comes from. */
enum sti_sip_field {
    STI_SIP_FROM = 1,
    STI_SIP_PAI, /* P-Asserted-Identity (RFC 3325) */
    STI_SIP_TO,
    STI_SIP_RURI /* the Request-URI */
};

/*
 * The URI in FIELD as text (allocated; free with sti_free()), or
 * STI_ERR_NOTFOUND when the message has no such field.  With several
 * P-Asserted-Identity values the first is returned.
 */
STI_API int sti_sip_get_uri(const struct sti_sip *msg, int field, char **uri,
                            struct sti_error *err);
/* The INDEX-th URI of FIELD, counted from 0: only P-Asserted-Identity
 * can have more than one.  STI_ERR_NOTFOUND past the last one. */
STI_API int sti_sip_get_uri_at(const struct sti_sip *msg, int field,
                               size_t index, char **uri, struct sti_error *err);

/*
 * Returns 1 when URIs A and B name the same identity, comparing scheme,
 * user and host as RFC 3261 section 19.1.4 does (user exactly, scheme and
 * host in any case) and ignoring the port, parameters and headers.  For
 * other schemes the text before the first ';' must be equal, and tel
 * numbers ignore the separators "-.()".  Returns 0 when they differ or
 * either does not parse.
 */
STI_API int sti_sip_uri_equal(const char *a, const char *b);

/* Returns 1 when URI parses as an absolute URI such as sip:alice@example.org
 * or tel:+12025550100 and contains no space or control character, else 0. */
STI_API int sti_sip_uri_valid(const char *uri);

/*
 * The telephone number in FIELD, canonicalised under PROFILE ("us" or
 * "fr"; see sti_tn_canonicalize()): the number of a tel: URI, or the user
 * part of a sip: or sips: URI that has user=phone or looks like a number.
 * For P-Asserted-Identity the first value carrying a number is used.
 * STI_ERR_NOTFOUND when FIELD is absent or carries no number.
 */
STI_API int sti_sip_get_tn(const struct sti_sip *msg, int field,
                           const char *profile, char tn[STI_TN_MAX + 1],
                           struct sti_error *err);

/* The Date header as seconds since the epoch, or STI_ERR_NOTFOUND. */
STI_API int sti_sip_get_date(const struct sti_sip *msg, time_t *out,
                             struct sti_error *err);
/* Replaces any Date header with WHEN in the RFC 1123 form that RFC 3261
 * section 20.17 requires ("Sat, 13 Nov 2010 23:29:00 GMT"). */
STI_API int sti_sip_set_date(struct sti_sip *msg, time_t when,
                             struct sti_error *err);

/*
 * Identity header values in order, including the compact header name "y"
 * and values that a sender joined with commas into one field.
 */
STI_API size_t sti_sip_identity_count(const struct sti_sip *msg);
STI_API const char *sti_sip_identity_get0(const struct sti_sip *msg,
                                          size_t index);

/*
 * Adds an Identity header with VALUE.  With REPLACE set, every existing
 * Identity header is removed first; otherwise they are kept and the new
 * one is added after them.
 */
STI_API int sti_sip_add_identity(struct sti_sip *msg, const char *value,
                                 int replace, struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
