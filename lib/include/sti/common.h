/*
 * libsti conventions shared by every module.
 *
 * Functions that can fail return an int status: STI_OK (0) on success or
 * one of enum sti_status.  When the caller passes a non-NULL struct
 * sti_error, the library fills it with the status and a message that names
 * the offending value.  The library never prints.
 *
 * Ownership follows OpenSSL: get0 returns a borrowed pointer, get1 and
 * _new return one the caller frees, set0 takes ownership, set1 copies.
 * Every _free function accepts NULL.
 */
#ifndef STI_COMMON_H
#define STI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(__GNUC__)
#define STI_API __attribute__((visibility("default")))
#define STI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define STI_API
#define STI_PRINTF(f, a)
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum sti_status {
    STI_OK = 0,
    STI_ERR_INVALID,  /* malformed or out-of-range input */
    STI_ERR_POLICY,   /* well-formed input that a profile or policy rejects */
    STI_ERR_NOTFOUND, /* a named object does not exist */
    STI_ERR_EXISTS,   /* the object already exists */
    STI_ERR_IO,       /* file or socket I/O failed */
    STI_ERR_CRYPTO,   /* OpenSSL failed or a signature does not verify */
    STI_ERR_DB,       /* SQLite failed */
    STI_ERR_NET,      /* a network fetch failed or timed out */
    STI_ERR_NOMEM,    /* allocation failed */
    STI_ERR_AUTH,     /* credentials missing or wrong */
    STI_ERR_INTERNAL  /* a bug in libsti */
};

#define STI_ERROR_MAX 512

struct sti_error {
    int code; /* enum sti_status */
    char message[STI_ERROR_MAX];
};

/* Returns a static English name for a status, such as "invalid input". */
STI_API const char *sti_status_str(int code);

/* Returns the libsti version string, such as "0.1.0". */
STI_API const char *sti_version(void);

/* Clears an error struct to STI_OK and an empty message. */
STI_API void sti_error_clear(struct sti_error *err);

/*
 * Logging for daemons: one line per event on stderr, prefixed with the
 * syslog priority ("<3>" error, "<4>" warning, "<6>" info, "<7>" debug),
 * a UTC timestamp and the program name.  Library functions never call it;
 * services do.
 */
enum sti_log_level {
    STI_LOG_ERR = 3,
    STI_LOG_WARNING = 4,
    STI_LOG_INFO = 6,
    STI_LOG_DEBUG = 7
};
STI_API void sti_log_init(const char *program, int max_level);
STI_API void sti_log(int level, const char *fmt, ...) STI_PRINTF(2, 3);

/*
 * Reads a secret named by SOURCE: "file:PATH" (first line), "env:VAR" or
 * "fd:N" (up to end of line or EOF).  The value never comes from argv.
 * On success *out is a NUL-terminated string the caller frees with
 * sti_secret_free(), which wipes it.
 */
STI_API int sti_secret_read(const char *source, char **out,
                            struct sti_error *err);
STI_API void sti_secret_free(char *secret);

/* Reads a whole file ("-" is stdin) into a NUL-terminated buffer. */
STI_API int sti_file_read(const char *path, unsigned char **data, size_t *len,
                          struct sti_error *err);
/* As sti_file_read(), but fails with STI_ERR_INVALID once more than MAX
 * bytes arrive (0 means no limit), so /dev/zero cannot exhaust memory. */
STI_API int sti_file_read_max(const char *path, size_t max,
                              unsigned char **data, size_t *len,
                              struct sti_error *err);

/*
 * Writes DATA to PATH through a temporary file in the same directory and
 * rename(), so readers see the old or the new content.  MODE is applied
 * before any byte is written (use 0600 for keys).  With EXCLUSIVE set,
 * fails with STI_ERR_EXISTS when PATH exists.
 */
STI_API int sti_file_write(const char *path, const void *data, size_t len,
                           unsigned int mode, int exclusive,
                           struct sti_error *err);

/* Base64url without padding (RFC 4648 section 5); NULL on allocation
 * failure.  The result is freed with sti_free(). */
STI_API char *sti_b64url_encode(const unsigned char *data, size_t len);
/* Strict decoding: rejects padding, whitespace and non-alphabet bytes, and
 * non-zero trailing bits.  Returns STI_OK or STI_ERR_INVALID. */
STI_API int sti_b64url_decode(const char *text, size_t text_len,
                              unsigned char **out, size_t *out_len);
/* Standard base64 with padding, no line breaks. */
STI_API char *sti_b64_encode(const unsigned char *data, size_t len);
STI_API int sti_b64_decode(const char *text, size_t text_len,
                           unsigned char **out, size_t *out_len);

/* Fills BUF with cryptographically random bytes; STI_OK or STI_ERR_CRYPTO. */
STI_API int sti_random_bytes(unsigned char *buf, size_t len);
/* Writes a random RFC 4122 version 4 UUID (36 chars + NUL) into OUT. */
STI_API int sti_uuid4(char out[37]);
/* Returns 1 when TEXT is a UUID in the 8-4-4-4-12 hexadecimal form of
 * RFC 4122 section 3 (any version, either case), else 0. */
STI_API int sti_uuid_valid(const char *text);

/* Frees memory that libsti allocated and handed to the caller. */
STI_API void sti_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
