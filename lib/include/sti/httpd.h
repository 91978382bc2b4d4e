/* HTTP(S) server wrapper for the stilab services. */
#ifndef STI_HTTPD_H
#define STI_HTTPD_H

#include "common.h"

#endif
