/* HTTP client used for x5u fetches and API calls. */
#ifndef STI_HTTP_H
#define STI_HTTP_H

#include "common.h"

#endif
