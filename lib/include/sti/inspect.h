/* Human and JSON descriptions of certificates, CSRs, CRLs and TNAuthLists. */
#ifndef STI_INSPECT_H
#define STI_INSPECT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sti_inspect_format {
    STI_INSPECT_TEXT = 0, /* indented "name: value" lines */
    STI_INSPECT_JSON = 1  /* one JSON object */
};

/*
 * Describes DATA, which holds PEM or DER bytes of one of: certificates (a
 * chain), a PKCS#10 CSR, an X.509 CRL, or a TNAuthList (raw DER or its
 * base64 text).  Malformed extensions are reported inside the description
 * rather than failing it.  *out is freed with sti_free().  STI_ERR_INVALID
 * when DATA is none of those.
 *
 * The JSON object has "type" ("certificates", "csr", "crl" or
 * "tnauthlist") and the members for that type.
 */
STI_API int sti_inspect(const void *data, size_t len, int format, char **out,
                        struct sti_error *err);

#ifdef __cplusplus
}
#endif
#endif
