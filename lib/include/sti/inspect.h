/* Human and JSON descriptions of certificates, CSRs, CRLs and TNAuthLists. */
#ifndef STI_INSPECT_H
#define STI_INSPECT_H

#include "common.h"

#endif
