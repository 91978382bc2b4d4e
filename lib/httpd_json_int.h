/* JSON responses of the HTTP APIs served with lib/httpd.c.  Private to
 * libsti. */
#ifndef STI_HTTPD_JSON_INT_H
#define STI_HTTPD_JSON_INT_H

#include "internal.h"

#include <jansson.h>

/* Sends DOC, compact, as the application/json body with STATUS, and
 * releases DOC.  Sends 500 when DOC is NULL or cannot be serialized. */
void httpd_send_json(struct sti_httpd_response *resp, int status, json_t *doc);

#endif
