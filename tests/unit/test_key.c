/* Unit tests for lib/key.c. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

/* RFC 7517 Appendix A.1, the public part of the example EC key. */
static const char rfc7517_jwk[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\","
    "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}";
/* SHA-256 of that canonical JSON, base64url, computed with
 * `openssl dgst -sha256 -binary | base64`. */
static const char rfc7517_thumbprint[] =
    "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

static struct sti_key *new_key(void)
{
    struct sti_key *key;
    struct sti_error err;

    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    return key;
}

static struct sti_key *other_type_key(const char *alg, const char *curve)
{
    EVP_PKEY *pkey = curve ? EVP_PKEY_Q_keygen(NULL, NULL, alg, curve)
                           : EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)2048);

    assert_non_null(pkey);
    return sti_key_from_pkey(pkey);
}

/* Runs CMD and returns its first output line (caller frees). */
static char *run_line(const char *cmd)
{
    char line[1024];
    FILE *p = popen(cmd, "r");
    char *out = NULL;

    assert_non_null(p);
    if (fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        out = strdup(line);
    }
    pclose(p);
    return out;
}

static void generate_p256(void **state)
{
    struct sti_key *key = new_key();

    (void)state;
    assert_true(sti_key_is_p256(key));
    assert_true(sti_key_has_private(key));
    assert_string_equal(sti_key_type_name(key), "EC P-256");
    sti_key_free(key);
}

static void pem_round_trip(void **state)
{
    struct sti_key *key = new_key(), *back;
    struct sti_error err;
    char *pem;

    (void)state;
    assert_int_equal(sti_key_to_pem(key, NULL, &pem, &err), STI_OK);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &back, &err),
                     STI_OK);
    assert_true(sti_key_has_private(back));
    assert_true(sti_key_public_equal(key, back));
    sti_clear_free(pem, strlen(pem));
    sti_key_free(back);
    sti_key_free(key);
}

static void encrypted_pem(void **state)
{
    struct sti_key *key = new_key(), *back;
    struct sti_error err;
    char *pem;

    (void)state;
    assert_int_equal(sti_key_to_pem(key, "s3cret pass", &pem, &err), STI_OK);
    assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert_int_equal(
        sti_key_parse(pem, strlen(pem), "s3cret pass", &back, &err), STI_OK);
    assert_true(sti_key_public_equal(key, back));
    sti_key_free(back);
    assert_int_equal(sti_key_parse(pem, strlen(pem), "wrong", &back, &err),
                     STI_ERR_AUTH);
    assert_null(back);
    assert_non_null(strstr(err.message, "wrong passphrase"));
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &back, &err),
                     STI_ERR_AUTH);
    assert_non_null(strstr(err.message, "encrypted"));
    free(pem);
    assert_int_equal(sti_key_to_pem(key, "", &pem, &err), STI_ERR_INVALID);
    assert_null(pem);
    sti_key_free(key);
}

static void encrypted_pem_uses_aes256_pbkdf2(void **state)
{
    struct sti_key *key = new_key();
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "k.pem"), cmd[4400];
    char *line;

    (void)state;
    assert_int_equal(sti_key_save(key, path, "pw", &err), STI_OK);
    snprintf(cmd, sizeof(cmd),
             "openssl asn1parse -in '%s' | grep -c -e PBKDF2 -e aes-256-cbc",
             path);
    line = run_line(cmd);
    assert_non_null(line);
    assert_string_equal(line, "2");
    free(line);
    /* The openssl CLI decrypts it with the same passphrase. */
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in '%s' -passin pass:pw -noout && echo ok", path);
    line = run_line(cmd);
    assert_non_null(line);
    assert_string_equal(line, "ok");
    free(line);
    free(path);
    test_rmtree(dir);
    sti_key_free(key);
}

static void encrypted_der_loads(void **state)
{
    struct sti_key *key = new_key(), *back;
    struct sti_error err;
    char *dir = test_tmpdir(), *pem = test_path(dir, "k.pem");
    char *der = test_path(dir, "k.der"), cmd[8400];

    (void)state;
    assert_int_equal(sti_key_save(key, pem, NULL, &err), STI_OK);
    snprintf(cmd, sizeof(cmd),
             "openssl pkcs8 -topk8 -in '%s' -outform DER -v2 aes-256-cbc "
             "-passout pass:pw -out '%s'",
             pem, der);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sti_key_load(der, "pw", &back, &err), STI_OK);
    assert_true(sti_key_public_equal(key, back));
    sti_key_free(back);
    assert_int_equal(sti_key_load(der, "wrong", &back, &err), STI_ERR_AUTH);
    assert_non_null(strstr(err.message, "k.der"));
    assert_int_equal(sti_key_load(der, NULL, &back, &err), STI_ERR_AUTH);
    free(pem);
    free(der);
    test_rmtree(dir);
    sti_key_free(key);
}

static void save_and_load(void **state)
{
    struct sti_key *key = new_key(), *back;
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "key.pem");
    struct stat st;

    (void)state;
    assert_int_equal(sti_key_save(key, path, NULL, &err), STI_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sti_key_save(key, path, NULL, &err), STI_ERR_EXISTS);
    assert_int_equal(sti_key_load(path, NULL, &back, &err), STI_OK);
    assert_true(sti_key_public_equal(key, back));
    sti_key_free(back);
    free(path);
    path = test_path(dir, "missing.pem");
    assert_int_equal(sti_key_load(path, NULL, &back, &err), STI_ERR_NOTFOUND);
    assert_null(back);
    assert_non_null(strstr(err.message, "missing.pem"));
    free(path);
    test_rmtree(dir);
    sti_key_free(key);
}

static void load_names_file_on_bad_data(void **state)
{
    struct sti_key *key;
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "junk.pem");

    (void)state;
    assert_int_equal(sti_file_write(path, "junk", 4, 0600, 1, &err), STI_OK);
    assert_int_equal(sti_key_load(path, NULL, &key, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "junk.pem"));
    free(path);
    test_rmtree(dir);
}

/* The block that `openssl ecparam -name prime256v1` writes: the OID of
 * P-256. */
static const char ec_parameters[] = "-----BEGIN EC PARAMETERS-----\n"
                                    "BggqhkjOPQMBBw==\n"
                                    "-----END EC PARAMETERS-----\n";

static void ec_parameters_block_skipped(void **state)
{
    struct sti_key *key = NULL, *loaded = NULL;
    struct sti_error err;
    char *pem, *both;
    size_t n;

    (void)state;
    assert_int_equal(sti_key_generate(&key, &err), STI_OK);
    assert_int_equal(sti_key_to_pem(key, NULL, &pem, &err), STI_OK);
    n = strlen(ec_parameters) + strlen(pem) + 1;
    both = malloc(n);
    assert_non_null(both);
    snprintf(both, n, "%s%s", ec_parameters, pem);
    assert_int_equal(sti_key_parse(both, strlen(both), NULL, &loaded, &err),
                     STI_OK);
    assert_true(sti_key_has_private(loaded));
    assert_true(sti_key_public_equal(key, loaded));
    sti_key_free(loaded);
    assert_int_equal(sti_key_parse(ec_parameters, strlen(ec_parameters), NULL,
                                   &loaded, &err),
                     STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "EC PARAMETERS"));
    free(both);
    sti_secret_free(pem);
    sti_key_free(key);
}

static void public_pem_and_der(void **state)
{
    struct sti_key *key = new_key(), *pub;
    struct sti_error err;
    unsigned char *der = NULL;
    char *pem;
    int n;

    (void)state;
    assert_int_equal(sti_key_public_pem(key, &pem, &err), STI_OK);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &pub, &err), STI_OK);
    assert_false(sti_key_has_private(pub));
    assert_true(sti_key_public_equal(key, pub));
    free(pem);
    /* A public key alone has no private part to write. */
    assert_int_equal(sti_key_to_pem(pub, NULL, &pem, &err), STI_ERR_INVALID);
    assert_null(pem);
    sti_key_free(pub);

    n = i2d_PUBKEY(sti_key_get0_pkey(key), &der);
    assert_true(n > 0);
    assert_int_equal(sti_key_parse(der, (size_t)n, NULL, &pub, &err), STI_OK);
    assert_true(sti_key_public_equal(key, pub));
    OPENSSL_free(der);
    sti_key_free(pub);
    assert_int_equal(sti_key_public_pem(NULL, &pem, &err), STI_ERR_INVALID);
    sti_key_free(key);
}

static void parse_rejects_garbage(void **state)
{
    static const char *bad[] = {
        "not a key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "\x30\x03\x02\x01\x01"};
    struct sti_key *key;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            sti_key_parse(bad[i], strlen(bad[i]), NULL, &key, &err),
            STI_ERR_INVALID);
        assert_null(key);
    }
    assert_int_equal(sti_key_parse("", 0, NULL, &key, &err), STI_ERR_INVALID);
    assert_int_equal(sti_key_parse(NULL, 0, NULL, &key, &err), STI_ERR_INVALID);
}

static void other_key_types(void **state)
{
    struct sti_key *p384 = other_type_key("EC", "P-384");
    struct sti_key *rsa = other_type_key("RSA", NULL);
    struct sti_error err;
    char *json, *pem;
    struct sti_key *back;

    (void)state;
    assert_false(sti_key_is_p256(p384));
    assert_string_equal(sti_key_type_name(p384), "EC P-384");
    assert_false(sti_key_is_p256(rsa));
    assert_string_equal(sti_key_type_name(rsa), "RSA");
    assert_true(sti_key_has_private(rsa));
    assert_int_equal(sti_key_to_jwk(p384, &json, &err), STI_ERR_INVALID);
    assert_non_null(strstr(err.message, "EC P-384"));
    /* Non-P-256 keys still load so that callers can report them. */
    assert_int_equal(sti_key_to_pem(rsa, NULL, &pem, &err), STI_OK);
    assert_int_equal(sti_key_parse(pem, strlen(pem), NULL, &back, &err),
                     STI_OK);
    assert_string_equal(sti_key_type_name(back), "RSA");
    sti_key_free(back);
    free(pem);
    assert_false(sti_key_public_equal(p384, rsa));
    assert_false(sti_key_public_equal(NULL, rsa));
    assert_string_equal(sti_key_type_name(NULL), "none");
    sti_key_free(p384);
    sti_key_free(rsa);
}

static void spki_fingerprint_matches_openssl(void **state)
{
    struct sti_key *key = new_key();
    struct sti_error err;
    char fp[STI_FINGERPRINT_LEN], expected[STI_FINGERPRINT_LEN];
    char *dir = test_tmpdir(), *path = test_path(dir, "pub.pem"), cmd[4400];
    char *pem, *hex;
    size_t pos;

    (void)state;
    assert_int_equal(sti_key_spki_fingerprint(key, fp, &err), STI_OK);
    assert_int_equal(strlen(fp), 102);
    assert_int_equal(sti_key_public_pem(key, &pem, &err), STI_OK);
    assert_int_equal(sti_file_write(path, pem, strlen(pem), 0644, 1, &err),
                     STI_OK);
    free(pem);
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -pubin -in '%s' -outform DER | "
             "openssl dgst -sha256 -r | cut -d' ' -f1 | tr a-f A-F",
             path);
    hex = run_line(cmd);
    assert_non_null(hex);
    assert_int_equal(strlen(hex), 64);
    pos = (size_t)snprintf(expected, sizeof(expected), "SHA256 ");
    for (size_t i = 0; i < 64; i += 2)
        pos += (size_t)snprintf(expected + pos, sizeof(expected) - pos,
                                "%s%.2s", i ? ":" : "", hex + i);
    assert_string_equal(fp, expected);
    free(hex);
    free(path);
    test_rmtree(dir);
    assert_int_equal(sti_key_spki_fingerprint(NULL, fp, &err), STI_ERR_INVALID);
    sti_key_free(key);
}

static void jwk_known_vector(void **state)
{
    struct sti_key *key;
    struct sti_error err;
    char *json, *thumb;

    (void)state;
    assert_int_equal(sti_key_from_jwk(rfc7517_jwk, &key, &err), STI_OK);
    assert_false(sti_key_has_private(key));
    assert_true(sti_key_is_p256(key));
    assert_int_equal(sti_key_to_jwk(key, &json, &err), STI_OK);
    assert_string_equal(json, rfc7517_jwk);
    assert_int_equal(sti_key_jwk_thumbprint(key, &thumb, &err), STI_OK);
    assert_string_equal(thumb, rfc7517_thumbprint);
    free(json);
    free(thumb);
    sti_key_free(key);
}

static void jwk_round_trip(void **state)
{
    struct sti_key *key = new_key(), *back;
    struct sti_error err;
    char *json;

    (void)state;
    assert_int_equal(sti_key_to_jwk(key, &json, &err), STI_OK);
    assert_int_equal(sti_key_from_jwk(json, &back, &err), STI_OK);
    assert_true(sti_key_public_equal(key, back));
    free(json);
    sti_key_free(back);
    sti_key_free(key);
}

static void jwk_rejects_bad_input(void **state)
{
    static const struct {
        const char *json;
        const char *word;
    } bad[] = {
        {"not json", "JSON"},
        {"[1]", "JSON object"},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "RSA"},
        {"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}",
         "P-384"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"AA\"}", "\"x\""},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}",
         "32"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"A+A\",\"y\":\"AA\"}",
         "base64url"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\","
         "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
         "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
         "not a point"},
    };
    struct sti_key *key;
    struct sti_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sti_key_from_jwk(bad[i].json, &key, &err),
                         STI_ERR_INVALID);
        assert_null(key);
        assert_non_null(strstr(err.message, bad[i].word));
    }
    assert_int_equal(sti_key_from_jwk(NULL, &key, &err), STI_ERR_INVALID);
}

static void thumbprint_rejects_non_p256(void **state)
{
    struct sti_key *rsa = other_type_key("RSA", NULL);
    struct sti_error err;
    char *thumb;

    (void)state;
    assert_int_equal(sti_key_jwk_thumbprint(rsa, &thumb, &err),
                     STI_ERR_INVALID);
    assert_null(thumb);
    sti_key_free(rsa);
}

static void up_ref_counts(void **state)
{
    struct sti_key *key = new_key();

    (void)state;
    assert_ptr_equal(sti_key_up_ref(key), key);
    sti_key_free(key);
    assert_true(sti_key_is_p256(key)); /* one reference remains */
    sti_key_free(key);
    sti_key_free(NULL);
    assert_null(sti_key_up_ref(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_p256),
        cmocka_unit_test(pem_round_trip),
        cmocka_unit_test(encrypted_pem),
        cmocka_unit_test(encrypted_pem_uses_aes256_pbkdf2),
        cmocka_unit_test(encrypted_der_loads),
        cmocka_unit_test(save_and_load),
        cmocka_unit_test(load_names_file_on_bad_data),
        cmocka_unit_test(public_pem_and_der),
        cmocka_unit_test(ec_parameters_block_skipped),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(other_key_types),
        cmocka_unit_test(spki_fingerprint_matches_openssl),
        cmocka_unit_test(jwk_known_vector),
        cmocka_unit_test(jwk_round_trip),
        cmocka_unit_test(jwk_rejects_bad_input),
        cmocka_unit_test(thumbprint_rejects_non_p256),
        cmocka_unit_test(up_ref_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
