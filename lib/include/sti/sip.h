/* SIP message access for signing and verification. */
#ifndef STI_SIP_H
#define STI_SIP_H

#include "common.h"

#endif
