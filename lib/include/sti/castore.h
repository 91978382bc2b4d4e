/* The STI-CA database of issued certificates. */
#ifndef STI_CASTORE_H
#define STI_CASTORE_H

#include "common.h"

#endif
