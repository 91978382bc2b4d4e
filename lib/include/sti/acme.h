/* ACME (RFC 8555) with tkauth-01 (RFC 9447, 9448). */
#ifndef STI_ACME_H
#define STI_ACME_H

#include "common.h"

#endif
