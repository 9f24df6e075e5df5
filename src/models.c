/* models.c - GET /v1/models and /v1/models/{id}.
 * The model table arrives with the providers; until one is configured the
 * list is honestly empty and every id is unknown. */
#include <string.h>

#include "errors.h"
#include "fcgi_io.h"
#include "handlers.h"

int models_list(struct axon_req *r)
{
    static const char body[] = "{\"object\":\"list\",\"data\":[]}";
    return io_send_json(r, 200, body, sizeof body - 1, NULL);
}

int models_get(struct axon_req *r)
{
    return errors_send(r, 404, ERR_INVALID_REQUEST, "model", "model_not_found", NULL,
                       "The model `%s` does not exist or you do not have access to it.",
                       r->route_arg);
}
