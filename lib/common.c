/* Errors, logging, secrets, file I/O, base64 and randomness. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

const char *sti_status_str(int code)
{
    switch (code) {
    case STI_OK:
        return "success";
    case STI_ERR_INVALID:
        return "invalid input";
    case STI_ERR_POLICY:
        return "rejected by policy";
    case STI_ERR_NOTFOUND:
        return "not found";
    case STI_ERR_EXISTS:
        return "already exists";
    case STI_ERR_IO:
        return "I/O error";
    case STI_ERR_CRYPTO:
        return "cryptographic failure";
    case STI_ERR_DB:
        return "database error";
    case STI_ERR_NET:
        return "network error";
    case STI_ERR_NOMEM:
        return "out of memory";
    case STI_ERR_AUTH:
        return "authentication failed";
    case STI_ERR_INTERNAL:
        return "internal error";
    default:
        return "unknown status";
    }
}

const char *sti_version(void)
{
    return STI_VERSION;
}

void sti_error_clear(struct sti_error *err)
{
    if (err == NULL)
        return;
    err->code = STI_OK;
    err->message[0] = '\0';
}

static int vseterr(struct sti_error *err, int code, const char *fmt, va_list ap)
{
    if (err != NULL) {
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    }
    return code;
}

int sti_seterr(struct sti_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vseterr(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int sti_seterr_ssl(struct sti_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    unsigned long e = ERR_peek_last_error();

    va_start(ap, fmt);
    vseterr(err, code, fmt, ap);
    va_end(ap);
    if (err != NULL && e != 0) {
        size_t n = strlen(err->message);
        char buf[256];

        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err->message + n, sizeof(err->message) - n, " (%s)", buf);
    }
    ERR_clear_error();
    return code;
}

int sti_error_prefix(struct sti_error *err, int rc, const char *prefix)
{
    char msg[STI_ERROR_MAX];

    if (rc == STI_OK || err == NULL)
        return rc;
    snprintf(msg, sizeof(msg), "%.200s: %.300s", prefix, err->message);
    return sti_seterr(err, rc, "%s", msg);
}

char *sti_strdup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

const char *sti_escape(const char *text, size_t len, char *buf, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; text != NULL && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\';

        if (n + (plain ? 1 : 4) >= size)
            break;
        if (plain)
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    return buf;
}

void sti_clear_free(void *ptr, size_t len)
{
    if (ptr == NULL)
        return;
    OPENSSL_cleanse(ptr, len);
    free(ptr);
}

void sti_free(void *ptr)
{
    free(ptr);
}

/* Logging */

static const char *log_program = "libsti";
static int log_max_level = STI_LOG_INFO;

void sti_log_init(const char *program, int max_level)
{
    if (program != NULL)
        log_program = program;
    log_max_level = max_level;
}

/* Formats the UTC timestamp once per second per thread: services log one
 * line per request, and gmtime_r() takes a global lock in glibc. */
static const char *log_stamp(void)
{
    static _Thread_local time_t stamp_time = (time_t)-1;
    static _Thread_local char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    if (now != stamp_time) {
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        stamp_time = now;
    }
    return stamp;
}

size_t sti_log_vformat(char *line, size_t size, int level, const char *fmt,
                       va_list ap)
{
    size_t n;

    if (level > log_max_level)
        return 0;
    n = (size_t)snprintf(line, size - 1, "<%d>%s %s: ", level, log_stamp(),
                         log_program);
    if (n < size - 1)
        vsnprintf(line + n, size - 1 - n, fmt, ap);
    /* Keep one event on one line, and keep a client's bytes from sending
     * terminal escapes: every control character becomes '?'. */
    for (n = 0; line[n] != '\0'; n++)
        if ((unsigned char)line[n] < 0x20 || line[n] == 0x7f)
            line[n] = '?';
    line[n++] = '\n';
    return n;
}

void sti_log_write(const char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = write(STDERR_FILENO, buf + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

void sti_log(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = sti_log_vformat(line, sizeof(line), level, fmt, ap);
    va_end(ap);
    /* One write() per line, so lines from several threads never mix. */
    sti_log_write(line, n);
}

/* Secrets */

static int read_fd_line(int fd, char **out, struct sti_error *err,
                        const char *source)
{
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sti_clear_free(buf, cap);
            return sti_seterr(err, STI_ERR_IO, "cannot read secret from %s: %s",
                              source, strerror(errno));
        }
        if (r == 0 || c == '\n')
            break;
        if (len + 1 >= cap) {
            char *bigger;

            if (cap >= 64 * 1024) {
                sti_clear_free(buf, cap);
                return sti_seterr(err, STI_ERR_INVALID,
                                  "secret from %s is longer than 64 KiB",
                                  source);
            }
            bigger = malloc(cap * 2);
            if (bigger == NULL) {
                sti_clear_free(buf, cap);
                return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
            }
            memcpy(bigger, buf, len);
            sti_clear_free(buf, cap);
            buf = bigger;
            cap *= 2;
        }
        buf[len++] = c;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    *out = buf;
    return STI_OK;
}

int sti_secret_read(const char *source, char **out, struct sti_error *err)
{
    *out = NULL;
    if (source == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no secret source given");
    if (strncmp(source, "env:", 4) == 0) {
        const char *v = getenv(source + 4);

        if (source[4] == '\0')
            return sti_seterr(err, STI_ERR_INVALID,
                              "secret source 'env:' names no variable");
        if (v == NULL)
            return sti_seterr(err, STI_ERR_NOTFOUND,
                              "environment variable %s is not set", source + 4);
        *out = strdup(v);
        return *out ? STI_OK : sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    if (strncmp(source, "file:", 5) == 0) {
        int fd = open(source + 5, O_RDONLY | O_CLOEXEC);
        int rc;

        if (fd < 0)
            return sti_seterr(err, STI_ERR_IO, "cannot open secret file %s: %s",
                              source + 5, strerror(errno));
        rc = read_fd_line(fd, out, err, source);
        close(fd);
        return rc;
    }
    if (strncmp(source, "fd:", 3) == 0) {
        char *end;
        long fd;

        errno = 0;
        fd = strtol(source + 3, &end, 10);
        if (source[3] == '\0' || *end != '\0' || errno != 0 || fd < 0 ||
            fd > INT_MAX)
            return sti_seterr(err, STI_ERR_INVALID,
                              "invalid descriptor in secret source '%s'; "
                              "use fd:N with N a number",
                              source);
        return read_fd_line((int)fd, out, err, source);
    }
    return sti_seterr(err, STI_ERR_INVALID,
                      "invalid secret source '%s'; use file:PATH, env:VAR or "
                      "fd:N",
                      source);
}

void sti_secret_free(char *secret)
{
    if (secret != NULL)
        sti_clear_free(secret, strlen(secret));
}

/* Files */

int sti_file_read(const char *path, unsigned char **data, size_t *len,
                  struct sti_error *err)
{
    return sti_file_read_max(path, 0, data, len, err);
}

int sti_file_read_max(const char *path, size_t max, unsigned char **data,
                      size_t *len, struct sti_error *err)
{
    FILE *f;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    int is_stdin = strcmp(path, "-") == 0;

    *data = NULL;
    *len = 0;
    f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return sti_seterr(err, errno == ENOENT ? STI_ERR_NOTFOUND : STI_ERR_IO,
                          "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        size_t r;

        if (n + 4097 > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            unsigned char *nb = realloc(buf, ncap);

            if (nb == NULL) {
                free(buf);
                if (!is_stdin)
                    fclose(f);
                return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
            }
            buf = nb;
            cap = ncap;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (max > 0 && n > max) {
            free(buf);
            if (!is_stdin)
                fclose(f);
            return sti_seterr(err, STI_ERR_INVALID,
                              "%s is larger than %zu bytes, the limit for "
                              "this input",
                              is_stdin ? "standard input" : path, max);
        }
    }
    if (ferror(f)) {
        int e = errno; /* such as EISDIR for a directory */

        free(buf);
        if (!is_stdin)
            fclose(f);
        return sti_seterr(err, STI_ERR_IO, "cannot read %s: %s", path,
                          strerror(e));
    }
    if (!is_stdin)
        fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return STI_OK;
}

int sti_file_write(const char *path, const void *data, size_t len,
                   unsigned int mode, int exclusive, struct sti_error *err)
{
    char *tmp;
    size_t plen = strlen(path);
    int fd, rc = STI_OK;
    const unsigned char *p = data;
    size_t left = len;

    if (exclusive && access(path, F_OK) == 0)
        return sti_seterr(err, STI_ERR_EXISTS,
                          "%s already exists; remove it or choose another path",
                          path);
    tmp = malloc(plen + 16);
    if (tmp == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sti_seterr(err, STI_ERR_IO, "cannot create a file beside %s: %s",
                        path, strerror(errno));
        free(tmp);
        return rc;
    }
    if (fchmod(fd, (mode_t)mode) != 0) {
        rc = sti_seterr(err, STI_ERR_IO, "cannot set mode of %s: %s", tmp,
                        strerror(errno));
        goto fail;
    }
    while (left > 0) {
        ssize_t w = write(fd, p, left);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = sti_seterr(err, STI_ERR_IO, "cannot write %s: %s", path,
                            strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = sti_seterr(err, STI_ERR_IO, "cannot write %s: %s", path,
                        strerror(errno));
        goto fail;
    }
    fd = -1;
    if (exclusive) {
        /* link() fails when PATH appeared meanwhile, unlike rename(). */
        if (link(tmp, path) != 0) {
            rc = sti_seterr(err, errno == EEXIST ? STI_ERR_EXISTS : STI_ERR_IO,
                            "cannot create %s: %s", path, strerror(errno));
            goto fail;
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        rc = sti_seterr(err, STI_ERR_IO, "cannot replace %s: %s", path,
                        strerror(errno));
        goto fail;
    }
    free(tmp);
    return STI_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* Base64 */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *in, size_t len,
                        const char *alphabet, int pad)
{
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *out = malloc(cap), *o = out;
    size_t i = 0;

    if (out == NULL)
        return NULL;
    for (; i + 2 < len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            *o++ = alphabet[v >> 6 & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c, const char *alphabet)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(alphabet, c);
    return p == NULL ? -1 : (int)(p - alphabet);
}

/* Decodes LEN characters without padding; rejects leftover non-zero bits. */
static int b64_decode(const char *in, size_t len, const char *alphabet,
                      unsigned char **out, size_t *out_len)
{
    unsigned char *buf;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    *out = NULL;
    *out_len = 0;
    if (len % 4 == 1)
        return STI_ERR_INVALID;
    buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL)
        return STI_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i], alphabet);

        if (v < 0) {
            free(buf);
            return STI_ERR_INVALID;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        free(buf);
        return STI_ERR_INVALID;
    }
    *out = buf;
    *out_len = n;
    return STI_OK;
}

char *sti_b64url_encode(const unsigned char *data, size_t len)
{
    return b64_encode(data, len, b64_url, 0);
}

int sti_b64url_decode(const char *text, size_t text_len, unsigned char **out,
                      size_t *out_len)
{
    return b64_decode(text, text_len, b64_url, out, out_len);
}

char *sti_b64_encode(const unsigned char *data, size_t len)
{
    return b64_encode(data, len, b64_std, 1);
}

int sti_b64_decode(const char *text, size_t text_len, unsigned char **out,
                   size_t *out_len)
{
    size_t pad = 0;

    if (text_len % 4 != 0) {
        *out = NULL;
        *out_len = 0;
        return STI_ERR_INVALID;
    }
    while (pad < 2 && text_len > pad && text[text_len - 1 - pad] == '=')
        pad++;
    return b64_decode(text, text_len - pad, b64_std, out, out_len);
}

/* Randomness */

int sti_random_bytes(unsigned char *buf, size_t len)
{
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
        return STI_ERR_CRYPTO;
    return STI_OK;
}

/*
 * Public identifiers such as origid come from a per-thread pool that one
 * RAND_bytes() call fills.  A call costs about 2 us here in OpenSSL 3.0,
 * as much as the rest of building a PASSporT (perf, December 2026).  A
 * fork() empties the pools, so a child never repeats its parent's bytes.
 */
#define ID_POOL_SIZE 512

static unsigned int id_pool_generation;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;

static void id_pool_after_fork(void)
{
    id_pool_generation++;
}

static void id_pool_register(void)
{
    pthread_atfork(NULL, NULL, id_pool_after_fork);
}

int sti_random_id_bytes(unsigned char *buf, size_t len)
{
    static _Thread_local unsigned char pool[ID_POOL_SIZE];
    static _Thread_local size_t left;
    static _Thread_local unsigned int generation;

    pthread_once(&id_pool_once, id_pool_register);
    if (len > ID_POOL_SIZE / 4)
        return sti_random_bytes(buf, len);
    if (generation != id_pool_generation || left < len) {
        if (sti_random_bytes(pool, sizeof(pool)) != STI_OK)
            return STI_ERR_CRYPTO;
        left = sizeof(pool);
        generation = id_pool_generation;
    }
    memcpy(buf, pool + sizeof(pool) - left, len);
    OPENSSL_cleanse(pool + sizeof(pool) - left, len);
    left -= len;
    return STI_OK;
}

int sti_uuid_valid(const char *text)
{
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return 0;
    }
    return text[36] == '\0';
}

int sti_uuid4(char out[37])
{
    unsigned char b[16];

    if (sti_random_bytes(b, sizeof(b)) != STI_OK)
        return STI_ERR_CRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return STI_OK;
}
