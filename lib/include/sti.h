/*
 * libsti: STIR/SHAKEN keys, certificates, TNAuthList, CRLs, SPC tokens,
 * PASSporTs, Identity headers and their verification.
 *
 * Build against it with `pkg-config --cflags --libs libsti`.
 */
#ifndef STI_H
#define STI_H

#include "sti/common.h"
#include "sti/key.h"
#include "sti/tnauth.h"
#include "sti/cert.h"
#include "sti/csr.h"
#include "sti/crl.h"
#include "sti/lint.h"
#include "sti/inspect.h"
#include "sti/castore.h"
#include "sti/jws.h"
#include "sti/passport.h"
#include "sti/sip.h"
#include "sti/http.h"
#include "sti/verify.h"
#include "sti/httpd.h"
#include "sti/service.h"
#include "sti/repo.h"
#include "sti/spc.h"
#include "sti/pa.h"
#include "sti/acme.h"
#include "sti/lab.h"

#endif
