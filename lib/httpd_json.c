/* JSON responses of the HTTP APIs (sti-pa and sti-cr). */
#include "httpd_json_int.h"

#include <stdlib.h>
#include <string.h>

void httpd_send_json(struct sti_httpd_response *resp, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (text == NULL) {
        sti_httpd_send_error(resp, 500, NULL, "out of memory");
        return;
    }
    sti_httpd_set_status(resp, status);
    sti_httpd_set_body(resp, "application/json", text, strlen(text));
    free(text);
}
