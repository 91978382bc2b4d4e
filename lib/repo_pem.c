/*
 * Compact storage of the certificates that sti-cr serves.  A certificate
 * is kept as DER, a quarter smaller than its PEM, when re-encoding the DER
 * gives back exactly the PEM that was published, and it is written out as
 * PEM when a response needs it.
 */
#include "repo_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----\n";
static const char pem_end_line[] = "-----END CERTIFICATE-----\n";

/* OpenSSL's PEM writer puts 48 bytes (64 base64 characters) on a line. */
#define PEM_LINE_BYTES 48

size_t repo_pem_len(size_t der_len)
{
    size_t lines = (der_len + PEM_LINE_BYTES - 1) / PEM_LINE_BYTES;

    return sizeof(pem_begin) - 1 + 4 * ((der_len + 2) / 3) + lines +
           sizeof(pem_end_line) - 1;
}

void repo_pem_write(const unsigned char *der, size_t len, char *out)
{
    memcpy(out, pem_begin, sizeof(pem_begin) - 1);
    out += sizeof(pem_begin) - 1;
    for (size_t i = 0; i < len; i += PEM_LINE_BYTES) {
        int n = len - i < PEM_LINE_BYTES ? (int)(len - i) : PEM_LINE_BYTES;

        /* EVP_EncodeBlock() adds a NUL, which the newline overwrites. */
        out += EVP_EncodeBlock((unsigned char *)out, der + i, n);
        *out++ = '\n';
    }
    memcpy(out, pem_end_line, sizeof(pem_end_line) - 1);
}

/*
 * Decodes one PEM certificate block into DER.  Returns NULL when PEM is
 * not exactly what repo_pem_write() would produce for that DER, so that
 * the caller keeps the text instead.
 */
unsigned char *repo_pem_to_der(const char *pem, size_t len, size_t *der_len)
{
    size_t head = sizeof(pem_begin) - 1, tail = sizeof(pem_end_line) - 1;
    unsigned char *der;
    char *check;
    EVP_ENCODE_CTX *ctx;
    int n = 0, m = 0, ok;

    if (len <= head + tail || len > 65536 ||
        memcmp(pem, pem_begin, head) != 0 ||
        memcmp(pem + len - tail, pem_end_line, tail) != 0)
        return NULL;
    der = malloc(len);
    ctx = EVP_ENCODE_CTX_new();
    ok = der != NULL && ctx != NULL;
    if (ok) {
        EVP_DecodeInit(ctx);
        ok = EVP_DecodeUpdate(ctx, der, &n, (const unsigned char *)pem + head,
                              (int)(len - head - tail)) >= 0 &&
             EVP_DecodeFinal(ctx, der + n, &m) == 1;
    }
    EVP_ENCODE_CTX_free(ctx);
    *der_len = (size_t)(n + m);
    ok = ok && repo_pem_len(*der_len) == len;
    check = ok ? malloc(len + 1) : NULL;
    if (check != NULL) {
        repo_pem_write(der, *der_len, check);
        ok = memcmp(check, pem, len) == 0;
    }
    free(check);
    if (!ok || check == NULL) {
        free(der);
        return NULL;
    }
    return der;
}
