/*
 * Weak stand-ins for the three key functions the JWS tests use, so that
 * they link before lib/key.c exists.  The library's strong definitions
 * win once it does.
 * TODO: delete this header when lib/key.c is on main.
 */
#ifndef STI_TEST_KEY_FALLBACK_H
#define STI_TEST_KEY_FALLBACK_H

#include <stdlib.h>

struct sti_key {
    EVP_PKEY *pkey;
};

__attribute__((weak)) EVP_PKEY *sti_key_get0_pkey(const struct sti_key *key)
{
    return key->pkey;
}

__attribute__((weak)) struct sti_key *sti_key_from_pkey(EVP_PKEY *pkey)
{
    struct sti_key *key = calloc(1, sizeof(*key));

    key->pkey = pkey;
    return key;
}

__attribute__((weak)) void sti_key_free(struct sti_key *key)
{
    if (key != NULL)
        EVP_PKEY_free(key->pkey);
    free(key);
}

#endif
