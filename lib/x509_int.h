/*
 * Helpers shared by the certificate core (key, tnauth, cert, csr, crl,
 * trust).  Private to libsti.
 */
#ifndef STI_X509_INT_H
#define STI_X509_INT_H

#include "internal.h"

#include <openssl/bio.h>
#include <openssl/x509v3.h>

/* Returns a new ASN1_OBJECT for id-pe-TNAuthList 1.3.6.1.5.5.7.1.26
 * (RFC 8226 section 9); the caller frees it with ASN1_OBJECT_free(). */
ASN1_OBJECT *sti_tnauth_obj(void);

/* Copies the contents of a memory BIO into a NUL-terminated malloc()
 * buffer; *len (when non-NULL) gets the length without the NUL. */
int sti_bio_to_string(BIO *bio, char **out, size_t *len, struct sti_error *err);

/* Copies an i2d result into a malloc() buffer, so that callers free it
 * with sti_free() rather than OPENSSL_free(). */
int sti_der_dup(const unsigned char *der, int der_len, unsigned char **out,
                size_t *len, struct sti_error *err);

/* Encodes OBJ, an OpenSSL value of the ASN.1 template IT (for example
 * ASN1_ITEM_rptr(X509)), as DER in a malloc() buffer.  WHAT names the
 * object in the error message when OBJ is NULL ("no WHAT given"). */
int sti_asn1_to_der(const ASN1_ITEM *it, const void *obj, const char *what,
                    unsigned char **der, size_t *len, struct sti_error *err);

/* Encodes OBJ like sti_asn1_to_der(), then as a NUL-terminated PEM block
 * under LABEL (a PEM_STRING_* name such as "CERTIFICATE").  The output
 * matches the PEM_write_bio_TYPE() function of that type. */
int sti_asn1_to_pem(const ASN1_ITEM *it, const char *label, const void *obj,
                    const char *what, char **pem, struct sti_error *err);

/* Returns 1 when DATA starts (after whitespace) with "-----BEGIN ". */
int sti_looks_like_pem(const void *data, size_t len);

/* Formats NAME as an RFC 2253 string in a malloc() buffer; NULL on
 * failure. */
char *sti_name_to_string(const X509_NAME *name);

/* Parses an RFC 2253 string ("CN=x,O=y,C=US") into a new X509_NAME;
 * NULL when it is malformed.  Multi-valued RDNs and "#hex" values are not
 * supported. */
X509_NAME *sti_name_from_string(const char *text);

/* Formats an ASN1_INTEGER as uppercase hex without a sign ("0A1B.."). */
char *sti_asn1_integer_hex(const ASN1_INTEGER *ai);

/* Converts ASN1_TIME to time_t; (time_t)-1 when absent or invalid. */
time_t sti_asn1_time_to_time(const ASN1_TIME *t);

/* Builds the TNAuthList extension (RFC 8226 section 9) of LIST into
 * *OUT, marked critical when CRITICAL is set.  The caller frees *OUT. */
int sti_tnauth_ext_new(const struct sti_tnauth *list, int critical,
                       X509_EXTENSION **out, struct sti_error *err);

/* Adds extension NID, given as an OpenSSL configuration VALUE such as
 * "critical,CA:FALSE", to the self-signed CERT.  Returns 1 on success. */
int sti_x509_add_self_ext(X509 *cert, int nid, const char *value);

/* Sets a random 16-byte serial number with the top bit clear, so that it
 * is positive as RFC 5280 section 4.1.2.2 requires.  Returns 1 on
 * success. */
int sti_x509_set_random_serial(X509 *cert);

/* Access to the X509_CRL behind a struct sti_crl. */
X509_CRL *sti_crl_get0_x509_crl(const struct sti_crl *crl);

#endif
