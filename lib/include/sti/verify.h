/* Verification service: context, x5u cache and results. */
#ifndef STI_VERIFY_H
#define STI_VERIFY_H

#include "common.h"

#endif
