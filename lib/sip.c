/* SIP messages through libosip2: identities and Identity headers. */
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

struct sti_sip {
    osip_message_t *msg;
    char **ids; /* Identity values, NULL-terminated */
    size_t id_count;
};

static pthread_once_t osip_once = PTHREAD_ONCE_INIT;
static int osip_init_rc;

/* Discards libosip2's trace output, because the library never prints. */
static void osip_quiet(const char *file, int line, osip_trace_level_t level,
                       const char *fmt, va_list ap)
{
    (void)file;
    (void)line;
    (void)level;
    (void)fmt;
    (void)ap;
}

/* parser_init() fills global tables and is not thread-safe. */
static void osip_init_once(void)
{
    osip_trace_initialize_func(TRACE_LEVEL0, osip_quiet);
    for (int level = TRACE_LEVEL0; level < END_TRACE_LEVEL; level++)
        osip_trace_disable_level((osip_trace_level_t)level);
    osip_init_rc = parser_init();
}

static void free_ids(struct sti_sip *s)
{
    for (size_t i = 0; i < s->id_count; i++)
        free(s->ids[i]);
    free(s->ids);
    s->ids = NULL;
    s->id_count = 0;
}

void sti_sip_free(struct sti_sip *s)
{
    if (s == NULL)
        return;
    free_ids(s);
    if (s->msg != NULL)
        osip_message_free(s->msg);
    free(s);
}

static int is_identity_name(const char *name)
{
    /* "y" is the compact form (RFC 8224 section 4). */
    return name != NULL &&
           (strcasecmp(name, "identity") == 0 || strcasecmp(name, "y") == 0);
}

static int append_split(struct sti_sip *s, const char *field,
                        struct sti_error *err)
{
    char **values;
    size_t n;
    int rc = sti_identity_split(field, strlen(field), &values, &n, err);
    char **bigger;

    if (rc != STI_OK)
        return rc;
    bigger = realloc(s->ids, (s->id_count + n + 1) * sizeof(char *));
    if (bigger == NULL) {
        sti_identity_split_free(values);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    s->ids = bigger;
    for (size_t i = 0; i < n; i++)
        s->ids[s->id_count++] = values[i];
    s->ids[s->id_count] = NULL;
    free(values); /* the strings now belong to s->ids */
    return STI_OK;
}

static int collect_ids(struct sti_sip *s, struct sti_error *err)
{
    int rc = STI_OK;

    free_ids(s);
    for (int i = 0; rc == STI_OK && i < osip_list_size(&s->msg->headers); i++) {
        osip_header_t *h = osip_list_get(&s->msg->headers, i);

        if (is_identity_name(h->hname) && h->hvalue != NULL)
            rc = append_split(s, h->hvalue, err);
    }
    return rc;
}

int sti_sip_parse(const char *text, size_t len, struct sti_sip **out,
                  struct sti_error *err)
{
    struct sti_sip *s;
    int rc;

    *out = NULL;
    if (text == NULL || len == 0)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    pthread_once(&osip_once, osip_init_once);
    if (osip_init_rc != 0)
        return sti_seterr(err, STI_ERR_INTERNAL, "libosip2 parser_init failed");
    s = calloc(1, sizeof(*s));
    if (s == NULL || osip_message_init(&s->msg) != 0) {
        free(s);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    if (osip_message_parse(s->msg, text, len) != 0) {
        sti_sip_free(s);
        return sti_seterr(err, STI_ERR_INVALID,
                          "the SIP message cannot be parsed; check the start "
                          "line, the CRLF line ends and the header syntax");
    }
    rc = collect_ids(s, err);
    if (rc != STI_OK) {
        sti_sip_free(s);
        return rc;
    }
    *out = s;
    return STI_OK;
}

int sti_sip_to_string(const struct sti_sip *s, char **text, size_t *len,
                      struct sti_error *err)
{
    char *buf = NULL;
    size_t n = 0;

    *text = NULL;
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    if (osip_message_to_str(s->msg, &buf, &n) != 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the SIP message cannot be serialised");
    *text = malloc(n + 1);
    if (*text != NULL) {
        memcpy(*text, buf, n);
        (*text)[n] = '\0';
    }
    osip_free(buf);
    if (*text == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (len != NULL)
        *len = n;
    return STI_OK;
}

const char *sti_sip_method(const struct sti_sip *s)
{
    return s ? s->msg->sip_method : NULL;
}

/* Identities */

static const char *field_name(int field)
{
    switch (field) {
    case STI_SIP_FROM:
        return "From";
    case STI_SIP_PAI:
        return "P-Asserted-Identity";
    case STI_SIP_TO:
        return "To";
    case STI_SIP_RURI:
        return "Request-URI";
    default:
        return "unknown field";
    }
}

/* Parses the I-th P-Asserted-Identity value into a new osip_from_t. */
static osip_from_t *pai_value(const struct sti_sip *s, size_t index)
{
    osip_header_t *h = NULL;
    size_t seen = 0;

    /* osip_message_header_get_byname() searches from POS and returns the
     * position found, and libosip2 splits comma-joined values of this
     * header into separate headers, so the next search starts after it. */
    for (int pos = 0; (pos = osip_message_header_get_byname(
                           s->msg, "p-asserted-identity", pos, &h)) >= 0;
         pos++) {
        char **values;
        size_t n;
        osip_from_t *from = NULL;

        if (h->hvalue == NULL ||
            sti_identity_split(h->hvalue, strlen(h->hvalue), &values, &n,
                               NULL) != STI_OK)
            continue;
        if (index < seen + n && osip_from_init(&from) == 0 &&
            osip_from_parse(from, values[index - seen]) != 0) {
            osip_from_free(from);
            from = NULL;
        }
        sti_identity_split_free(values);
        if (index < seen + n)
            return from;
        seen += n;
    }
    return NULL;
}

/* Returns the URI of FIELD (borrowed), using *OWNED for a parsed PAI. */
static osip_uri_t *field_uri(const struct sti_sip *s, int field, size_t index,
                             osip_from_t **owned)
{
    *owned = NULL;
    switch (field) {
    case STI_SIP_FROM:
        return index == 0 && s->msg->from ? s->msg->from->url : NULL;
    case STI_SIP_TO:
        return index == 0 && s->msg->to ? s->msg->to->url : NULL;
    case STI_SIP_RURI:
        return index == 0 ? s->msg->req_uri : NULL;
    case STI_SIP_PAI:
        *owned = pai_value(s, index);
        return *owned ? (*owned)->url : NULL;
    default:
        return NULL;
    }
}

int sti_sip_get_uri(const struct sti_sip *s, int field, char **uri,
                    struct sti_error *err)
{
    return sti_sip_get_uri_at(s, field, 0, uri, err);
}

int sti_sip_get_uri_at(const struct sti_sip *s, int field, size_t index,
                       char **uri, struct sti_error *err)
{
    osip_from_t *owned;
    osip_uri_t *u;
    char *text = NULL;

    *uri = NULL;
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    u = field_uri(s, field, index, &owned);
    if (u == NULL || osip_uri_to_str(u, &text) != 0) {
        osip_from_free(owned);
        return sti_seterr(err, STI_ERR_NOTFOUND,
                          "the SIP message has no %s URI at position %zu",
                          field_name(field), index);
    }
    *uri = strdup(text);
    osip_free(text);
    osip_from_free(owned);
    return *uri ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
}

static int has_user_phone(osip_uri_t *u)
{
    osip_uri_param_t *p = NULL;

    return osip_uri_uparam_get_byname(u, "user", &p) == 0 && p != NULL &&
           p->gvalue != NULL && strcasecmp(p->gvalue, "phone") == 0;
}

/* Copies the number part of URI U (before any ';' parameter) into BUF. */
static int uri_number(osip_uri_t *u, char *buf, size_t cap)
{
    const char *src = NULL;
    size_t n;

    if (u->scheme != NULL && strcasecmp(u->scheme, "tel") == 0)
        src = u->string ? u->string : u->username;
    else if (u->username != NULL)
        src = u->username;
    if (src == NULL)
        return 0;
    if (strncasecmp(src, "tel:", 4) == 0)
        src += 4;
    n = strcspn(src, ";");
    if (n == 0 || n >= cap)
        return 0;
    memcpy(buf, src, n);
    buf[n] = '\0';
    return 1;
}

/* 1 when TEXT reads as a telephone number: '+', digits and separators. */
static int looks_like_tn(const char *text)
{
    int digits = 0;

    for (const char *p = text + (*text == '+'); *p != '\0'; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (strchr("-.()", *p) == NULL)
            return 0;
    }
    return digits > 0;
}

static int uri_tn(osip_uri_t *u, const char *profile, char *tn)
{
    char number[128];
    int is_tel = u->scheme && strcasecmp(u->scheme, "tel") == 0;

    if (!uri_number(u, number, sizeof(number)))
        return 0;
    if (!is_tel && !has_user_phone(u) && !looks_like_tn(number))
        return 0;
    return sti_tn_canonicalize(profile, number, tn, NULL) == STI_OK;
}

int sti_sip_get_tn(const struct sti_sip *s, int field, const char *profile,
                   char tn[STI_TN_MAX + 1], struct sti_error *err)
{
    tn[0] = '\0';
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    for (size_t i = 0; i < 8; i++) {
        osip_from_t *owned;
        osip_uri_t *u = field_uri(s, field, i, &owned);
        int found = u != NULL && uri_tn(u, profile, tn);

        osip_from_free(owned);
        if (found)
            return STI_OK;
        if (u == NULL)
            break;
    }
    tn[0] = '\0';
    return sti_seterr(err, STI_ERR_NOTFOUND,
                      "the SIP message's %s carries no telephone number",
                      field_name(field));
}

/* URI comparison */

static int is_tel_separator(char c)
{
    return c == '-' || c == '.' || c == '(' || c == ')';
}

static const char *skip_tel_separators(const char *p)
{
    while (is_tel_separator(*p))
        p++;
    return p;
}

/* Compares two tel numbers up to their first parameter, ignoring the
 * visual separators "-", ".", "(" and ")" and the case of hex digits. */
static int tel_equal(const char *a, const char *b)
{
    a = skip_tel_separators(a);
    b = skip_tel_separators(b);
    while (*a != '\0' && *a != ';' &&
           tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
        a = skip_tel_separators(a + 1);
        b = skip_tel_separators(b + 1);
    }
    return (*a == '\0' || *a == ';') && (*b == '\0' || *b == ';');
}

static int text_equal(const char *a, const char *b, int ignore_case)
{
    if (a == NULL || b == NULL)
        return a == b;
    return ignore_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/*
 * Compares the addr-specs of two parsed URIs.  RFC 3261 section 19.1.4
 * compares the userinfo of SIP and SIPS URIs exactly and the scheme and
 * host in any case.  libosip2 has already decoded %XX escapes in the user.
 * The port, URI parameters and headers are left out because an identity
 * is a user at a host.  Other schemes compare their text before the first
 * ';', and tel numbers also ignore visual separators.
 */
static int addr_spec_equal(const osip_uri_t *a, const osip_uri_t *b)
{
    size_t n;

    if (a->scheme == NULL || !text_equal(a->scheme, b->scheme, 1))
        return 0;
    if (strcasecmp(a->scheme, "sip") == 0 || strcasecmp(a->scheme, "sips") == 0)
        return text_equal(a->username, b->username, 0) &&
               text_equal(a->host, b->host, 1);
    if (a->string == NULL || b->string == NULL)
        return 0;
    if (strcasecmp(a->scheme, "tel") == 0)
        return tel_equal(a->string, b->string);
    n = strcspn(a->string, ";");
    return n == strcspn(b->string, ";") && memcmp(a->string, b->string, n) == 0;
}

static osip_uri_t *parse_uri(const char *text)
{
    osip_uri_t *u = NULL;

    if (text == NULL || osip_uri_init(&u) != 0)
        return NULL;
    if (osip_uri_parse(u, text) != 0) {
        osip_uri_free(u);
        return NULL;
    }
    return u;
}

/* Checks the characters of URI: ASCII (RFC 3986 section 2) without those
 * never allowed, and each '%' followed by two hex digits. */
static int uri_chars_valid(const char *uri)
{
    for (const unsigned char *p = (const unsigned char *)uri; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f || strchr("\"<>\\^`{|}", *p) != NULL)
            return 0;
        if (*p == '%' && (!isxdigit(p[1]) || !isxdigit(p[2])))
            return 0;
    }
    return 1;
}

/* Checks what libosip2 accepts but RFC 3261 section 25.1 does not: an
 * empty user before '@', an empty host, an unclosed IPv6 reference and a
 * port that is not a number up to 65535. */
static int uri_parts_valid(const char *uri, const osip_uri_t *u)
{
    char *end;
    long port;

    if (strchr(uri, '@') != NULL &&
        (u->username == NULL || u->username[0] == '\0'))
        return 0;
    if (u->host == NULL || u->host[0] == '\0' ||
        (strchr(uri, '[') != NULL) != (strchr(uri, ']') != NULL))
        return 0;
    if (u->port != NULL) {
        port = strtol(u->port, &end, 10);
        if (u->port[0] == '\0' || *end != '\0' || port < 0 || port > 65535)
            return 0;
    }
    return 1;
}

int sti_sip_uri_valid(const char *uri)
{
    osip_uri_t *parsed;
    int valid;

    if (uri == NULL || uri[0] == '\0' || !uri_chars_valid(uri))
        return 0;
    pthread_once(&osip_once, osip_init_once);
    parsed = parse_uri(uri);
    valid = parsed != NULL;
    if (valid && parsed->scheme != NULL &&
        (strcasecmp(parsed->scheme, "sip") == 0 ||
         strcasecmp(parsed->scheme, "sips") == 0))
        valid = uri_parts_valid(uri, parsed);
    osip_uri_free(parsed);
    return valid;
}

int sti_sip_uri_equal(const char *a, const char *b)
{
    osip_uri_t *x, *y;
    int equal;

    pthread_once(&osip_once, osip_init_once);
    x = parse_uri(a);
    y = parse_uri(b);
    equal = x != NULL && y != NULL && addr_spec_equal(x, y);
    osip_uri_free(x);
    osip_uri_free(y);
    return equal;
}

/* Formats WHEN as an rfc1123-date in English whatever the locale;
 * returns 0 outside the years 1970 to 9999. */
static int format_date(time_t when, char out[40])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&when, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 1970)
        return 0;
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    return 1;
}

/* Parses an rfc1123-date (RFC 3261 section 20.17, always GMT) strictly:
 * the date must read back the same once formatted, which rejects a
 * two-digit year, a one-digit day and a day past the month's end such as
 * 31 Feb.  The weekday is not compared. */
static int parse_date(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *comma = strchr(text, ',');
    char again[40];

    if (end == NULL || *end != '\0' || comma == NULL)
        return 0;
    *out = timegm(&tm);
    return format_date(*out, again) &&
           strcasecmp(strchr(again, ',') + 1, comma + 1) == 0;
}

int sti_sip_get_date(const struct sti_sip *s, time_t *out,
                     struct sti_error *err)
{
    osip_header_t *h = NULL, *second = NULL;
    int pos;

    *out = 0;
    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    pos = osip_message_header_get_byname(s->msg, "date", 0, &h);
    if (pos < 0 || h->hvalue == NULL)
        return sti_seterr(err, STI_ERR_NOTFOUND,
                          "the SIP message has no Date header");
    /* RFC 3261 section 7.3: Date is not a list, so one field at most. */
    if (osip_message_header_get_byname(s->msg, "date", pos + 1, &second) >= 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "the SIP message has two Date headers ('%s' and "
                          "'%s'); send one",
                          h->hvalue, second->hvalue ? second->hvalue : "");
    if (!parse_date(h->hvalue, out)) {
        *out = 0;
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid Date header '%s'; expected a form like "
                          "'Sat, 13 Nov 2010 23:29:00 GMT'",
                          h->hvalue);
    }
    return STI_OK;
}

/* Removes every header named NAME, compared without case. */
static void remove_headers(osip_message_t *msg, const char *name)
{
    for (int i = osip_list_size(&msg->headers) - 1; i >= 0; i--) {
        osip_header_t *h = osip_list_get(&msg->headers, i);

        if (h->hname != NULL && strcasecmp(h->hname, name) == 0) {
            osip_list_remove(&msg->headers, i);
            osip_header_free(h);
        }
    }
}

int sti_sip_set_date(struct sti_sip *s, time_t when, struct sti_error *err)
{
    char value[40];

    if (s == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no SIP message given");
    if (!format_date(when, value))
        return sti_seterr(err, STI_ERR_INVALID,
                          "time %lld is outside the years 1970 to 9999",
                          (long long)when);
    remove_headers(s->msg, "date");
    if (osip_message_set_header(s->msg, "Date", value) != 0)
        return sti_seterr(err, STI_ERR_NOMEM, "cannot add the Date header");
    osip_message_force_update(s->msg);
    return STI_OK;
}

/* Identity headers */

size_t sti_sip_identity_count(const struct sti_sip *s)
{
    return s ? s->id_count : 0;
}

const char *sti_sip_identity_get0(const struct sti_sip *s, size_t index)
{
    return s && index < s->id_count ? s->ids[index] : NULL;
}

static void remove_identity_headers(osip_message_t *msg)
{
    for (int i = osip_list_size(&msg->headers) - 1; i >= 0; i--) {
        osip_header_t *h = osip_list_get(&msg->headers, i);

        if (is_identity_name(h->hname)) {
            osip_list_remove(&msg->headers, i);
            osip_header_free(h);
        }
    }
}

int sti_sip_add_identity(struct sti_sip *s, const char *value, int replace,
                         struct sti_error *err)
{
    if (s == NULL || value == NULL || value[0] == '\0')
        return sti_seterr(err, STI_ERR_INVALID,
                          "no SIP message or Identity value given");
    if (strpbrk(value, "\r\n") != NULL)
        return sti_seterr(err, STI_ERR_INVALID,
                          "an Identity value must be one line");
    if (replace)
        remove_identity_headers(s->msg);
    if (osip_message_set_header(s->msg, "Identity", value) != 0)
        return sti_seterr(err, STI_ERR_NOMEM, "cannot add the Identity header");
    osip_message_force_update(s->msg);
    return collect_ids(s, err);
}
