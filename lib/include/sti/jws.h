/* Canonical JSON and ES256 compact JWS. */
#ifndef STI_JWS_H
#define STI_JWS_H

#include "common.h"

#endif
