/* Profile checks of SHAKEN certificates and chains. */
#ifndef STI_LINT_H
#define STI_LINT_H

#include "common.h"

#endif
