/*
 * PKCS#10 certificate requests (RFC 2986) carrying the TNAuthList, and for
 * SCA requests basicConstraints CA:TRUE, in an extensionRequest attribute
 * (RFC 2985 section 5.4.2).
 */
#include "x509_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct sti_csr {
    X509_REQ *req;
};

void sti_csr_free(struct sti_csr *csr)
{
    if (csr == NULL)
        return;
    X509_REQ_free(csr->req);
    free(csr);
}

static int wrap_req(X509_REQ *req, struct sti_csr **out, struct sti_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        X509_REQ_free(req);
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    }
    (*out)->req = req;
    return STI_OK;
}

static int check_request(const struct sti_csr_request *req,
                         const struct sti_key *key, struct sti_error *err)
{
    const char *c;

    if (req == NULL || req->tnauth == NULL || req->tnauth->count == 0)
        return sti_seterr(err, STI_ERR_INVALID,
                          "a SHAKEN CSR needs a TNAuthList");
    if (req->organization == NULL || req->organization[0] == '\0' ||
        strlen(req->organization) > 64)
        return sti_seterr(err, STI_ERR_INVALID,
                          "organization (subject O) is required, 1 to 64 "
                          "characters");
    c = req->country ? req->country : "US";
    if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
        return sti_seterr(err, STI_ERR_INVALID,
                          "invalid country '%s': use an ISO 3166 alpha-2 "
                          "code such as US or FR",
                          c);
    if (req->common_name != NULL &&
        (req->common_name[0] == '\0' || strlen(req->common_name) > 64))
        return sti_seterr(err, STI_ERR_INVALID,
                          "common name must have 1 to 64 characters");
    if (!sti_key_is_p256(key) || !sti_key_has_private(key))
        return sti_seterr(err, STI_ERR_INVALID,
                          "a CSR is signed with a P-256 private key, not %s",
                          sti_key_type_name(key));
    return STI_OK;
}

static int set_req_subject(X509_REQ *x, const struct sti_csr_request *req)
{
    X509_NAME *name = X509_NAME_new();
    const char *spc = sti_tnauth_get0_spc(req->tnauth);
    char cn[80];
    int ok;

    if (req->common_name != NULL)
        snprintf(cn, sizeof(cn), "%s", req->common_name);
    else
        snprintf(cn, sizeof(cn), "SHAKEN %s",
                 spc ? spc : req->tnauth->entries[0].value);
    ok =
        name != NULL &&
        X509_NAME_add_entry_by_txt(
            name, "C", MBSTRING_ASC,
            (const unsigned char *)(req->country ? req->country : "US"), -1, -1,
            0) == 1 &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   (const unsigned char *)req->organization, -1,
                                   -1, 0) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) == 1 &&
        X509_REQ_set_subject_name(x, name) == 1;
    X509_NAME_free(name);
    return ok;
}

static int push_ca_constraint(STACK_OF(X509_EXTENSION) * exts)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    X509_EXTENSION *ext = NULL;
    int ok;

    if (bc == NULL)
        return 0;
    bc->ca = 0xFF;
    ext = X509V3_EXT_i2d(NID_basic_constraints, 1, bc);
    ok = ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0;
    if (!ok)
        X509_EXTENSION_free(ext);
    BASIC_CONSTRAINTS_free(bc);
    return ok;
}

static int push_tnauth(STACK_OF(X509_EXTENSION) * exts,
                       const struct sti_tnauth *list, struct sti_error *err)
{
    X509_EXTENSION *ext;
    int rc = sti_tnauth_ext_new(list, 0, &ext, err);

    if (rc == STI_OK && sk_X509_EXTENSION_push(exts, ext) <= 0) {
        X509_EXTENSION_free(ext);
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot build the TNAuthList extension");
    }
    return rc;
}

static int add_request_extensions(X509_REQ *x,
                                  const struct sti_csr_request *req,
                                  struct sti_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    int rc;

    if (exts == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    rc = push_tnauth(exts, req->tnauth, err);
    if (rc == STI_OK && req->is_ca && !push_ca_constraint(exts))
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot build basicConstraints");
    if (rc == STI_OK && X509_REQ_add_extensions(x, exts) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO,
                            "cannot add the extension request");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* Decodes DER into a new X509_REQ, rejecting trailing bytes. */
static X509_REQ *req_from_der(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509_REQ *x = d2i_X509_REQ(NULL, &p, (long)len);

    if (x != NULL && p != der + len) {
        X509_REQ_free(x);
        return NULL;
    }
    return x;
}

/* Replaces *X by a copy decoded from its DER, dropping the reference to
 * the signing key that X509_REQ_set_pubkey() keeps. */
static int reparse_req(X509_REQ **x, struct sti_error *err)
{
    unsigned char *der = NULL;
    X509_REQ *copy = NULL;
    int n = i2d_X509_REQ(*x, &der);

    if (n > 0)
        copy = req_from_der(der, (size_t)n);
    OPENSSL_free(der);
    if (copy == NULL)
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "cannot re-read the new CSR");
    X509_REQ_free(*x);
    *x = copy;
    return STI_OK;
}

int sti_csr_create(const struct sti_csr_request *req, const struct sti_key *key,
                   struct sti_csr **out, struct sti_error *err)
{
    X509_REQ *x;
    int rc;

    *out = NULL;
    rc = check_request(req, key, err);
    if (rc != STI_OK)
        return rc;
    x = X509_REQ_new();
    if (x == NULL)
        return sti_seterr(err, STI_ERR_NOMEM, "out of memory");
    if (X509_REQ_set_version(x, X509_REQ_VERSION_1) != 1 ||
        !set_req_subject(x, req) ||
        X509_REQ_set_pubkey(x, sti_key_get0_pkey(key)) != 1)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot fill the CSR");
    if (rc == STI_OK)
        rc = add_request_extensions(x, req, err);
    if (rc == STI_OK &&
        X509_REQ_sign(x, sti_key_get0_pkey(key), EVP_sha256()) <= 0)
        rc = sti_seterr_ssl(err, STI_ERR_CRYPTO, "cannot sign the CSR");
    if (rc == STI_OK)
        rc = reparse_req(&x, err);
    if (rc != STI_OK) {
        X509_REQ_free(x);
        return rc;
    }
    return wrap_req(x, out, err);
}

static X509_REQ *req_from_pem(const void *data, size_t len)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509_REQ *x = NULL;

    if (bio != NULL)
        x = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

int sti_csr_parse(const void *data, size_t len, struct sti_csr **out,
                  struct sti_error *err)
{
    X509_REQ *x;
    EVP_PKEY *pkey;

    *out = NULL;
    if (data == NULL || len == 0 || len > INT_MAX)
        return sti_seterr(err, STI_ERR_INVALID, "CSR data is empty");
    x = sti_looks_like_pem(data, len) ? req_from_pem(data, len)
                                      : req_from_der(data, len);
    if (x == NULL)
        return sti_seterr_ssl(err, STI_ERR_INVALID,
                              "not a PEM or DER PKCS#10 certificate request");
    pkey = X509_REQ_get0_pubkey(x);
    if (pkey == NULL || X509_REQ_verify(x, pkey) != 1) {
        X509_REQ_free(x);
        return sti_seterr_ssl(err, STI_ERR_CRYPTO,
                              "CSR signature does not verify with its own "
                              "public key");
    }
    return wrap_req(x, out, err);
}

int sti_csr_load(const char *path, struct sti_csr **out, struct sti_error *err)
{
    unsigned char *data;
    size_t len;
    int rc;

    *out = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    rc = sti_csr_parse(data, len, out, err);
    free(data);
    sti_error_prefix(err, rc, path);
    return rc;
}

int sti_csr_to_pem(const struct sti_csr *csr, char **pem, struct sti_error *err)
{
    return sti_asn1_to_pem(ASN1_ITEM_rptr(X509_REQ), PEM_STRING_X509_REQ,
                           csr ? csr->req : NULL, "CSR", pem, err);
}

int sti_csr_to_der(const struct sti_csr *csr, unsigned char **der, size_t *len,
                   struct sti_error *err)
{
    return sti_asn1_to_der(ASN1_ITEM_rptr(X509_REQ), csr ? csr->req : NULL,
                           "CSR", der, len, err);
}

struct sti_key *sti_csr_get1_key(const struct sti_csr *csr)
{
    EVP_PKEY *pkey = csr ? X509_REQ_get_pubkey(csr->req) : NULL;

    ERR_clear_error();
    return sti_key_from_pkey(pkey);
}

char *sti_csr_subject(const struct sti_csr *csr)
{
    return csr ? sti_name_to_string(X509_REQ_get_subject_name(csr->req)) : NULL;
}

/* Returns the requested extension with OBJ, or NULL; *count gets how many
 * times it appears. */
static X509_EXTENSION *find_requested(const STACK_OF(X509_EXTENSION) * exts,
                                      const ASN1_OBJECT *obj, int *count)
{
    X509_EXTENSION *found = NULL;

    *count = 0;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);

        if (OBJ_cmp(X509_EXTENSION_get_object(ext), obj) == 0) {
            found = found ? found : ext;
            (*count)++;
        }
    }
    return found;
}

int sti_csr_get_tnauth(const struct sti_csr *csr, struct sti_tnauth **out,
                       struct sti_error *err)
{
    STACK_OF(X509_EXTENSION) * exts;
    ASN1_OBJECT *obj;
    X509_EXTENSION *ext;
    int count, rc;

    *out = NULL;
    if (csr == NULL)
        return sti_seterr(err, STI_ERR_INVALID, "no CSR given");
    exts = X509_REQ_get_extensions(csr->req);
    ERR_clear_error();
    obj = sti_tnauth_obj();
    ext = obj ? find_requested(exts, obj, &count) : NULL;
    if (ext == NULL)
        rc = sti_seterr(err, STI_ERR_NOTFOUND,
                        "CSR requests no TNAuthList extension");
    else if (count > 1)
        rc =
            sti_seterr(err, STI_ERR_INVALID,
                       "CSR requests the TNAuthList extension %d times", count);
    else
        rc = sti_tnauth_decode(
            ASN1_STRING_get0_data(X509_EXTENSION_get_data(ext)),
            (size_t)ASN1_STRING_length(X509_EXTENSION_get_data(ext)), out, err);
    ASN1_OBJECT_free(obj);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

int sti_csr_is_ca(const struct sti_csr *csr)
{
    STACK_OF(X509_EXTENSION) * exts;
    BASIC_CONSTRAINTS *bc;
    int ca;

    if (csr == NULL)
        return 0;
    exts = X509_REQ_get_extensions(csr->req);
    bc = X509V3_get_d2i(exts, NID_basic_constraints, NULL, NULL);
    ca = bc != NULL && bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return ca;
}
