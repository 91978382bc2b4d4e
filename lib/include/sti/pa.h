/* The STI-PA store, SPC tokens and the signed CA list. */
#ifndef STI_PA_H
#define STI_PA_H

#include "common.h"

#endif
