/*
 * The request processing of lib/service.c without the HTTP server, for
 * the unit tests.  Private to libsti.
 */
#ifndef STI_SERVICE_INT_H
#define STI_SERVICE_INT_H

#include "internal.h"

/* One response: status, headers and a body the caller frees. */
struct sti_service_reply {
    int status;
    const char *content_type; /* a static string */
    const char *allow;        /* the Allow header of a 405, or NULL */
    int nosniff;              /* send X-Content-Type-Options: nosniff */
    char *body;               /* malloc'd; NULL only when out of memory */
    size_t len;
};

/* Processes one request.  METHOD and PATH are as received. */
void sti_service_process(struct sti_service *svc, const char *method,
                         const char *path, const unsigned char *body,
                         size_t len, struct sti_service_reply *reply);

#endif
