/* The STI-CR store of published certificate chains. */
#ifndef STI_REPO_H
#define STI_REPO_H

#include "common.h"

#endif
