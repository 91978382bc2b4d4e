/* PASSporT claims and Identity headers (RFC 8224, 8225, 8588, 8946). */
#ifndef STI_PASSPORT_H
#define STI_PASSPORT_H

#include "common.h"

#endif
