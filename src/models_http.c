/* models_http.c - GET /v1/models and /v1/models/{id}: the model table
 * (models.h) and what the OpenAI-compatible upstreams list (catalog.h), as
 * OpenAI Model objects. */
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "models.h"

static const char *owner(const struct model *m)
{
    switch (m->provider) {
    case PROVIDER_ANTHROPIC: return "anthropic";
    case PROVIDER_OPENAI: return m->server; /* a server name: [a-z0-9_-] */
    }
    return "axon";
}

/* One OpenAI Model object. An alias also names its model in "root", as vLLM
 * does for its served names. */
static int model_json(struct buf *b, const struct model *m)
{
    int rc = buf_puts(b, "{\"id\":");
    if (!rc)
        rc = buf_json_str(b, m->id, strlen(m->id));
    if (!rc)
        rc = buf_printf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"%s\"", m->created,
                        owner(m));
    if (!rc && m->alias) {
        rc = buf_puts(b, ",\"root\":");
        if (!rc)
            rc = buf_json_str(b, m->target->id, strlen(m->target->id));
    }
    if (!rc)
        rc = buf_puts(b, "}");
    return rc;
}

int models_list(struct axon_req *r)
{
    const struct model_table *t = &r->cfg->models;
    struct buf b = BUF_INIT(1 << 20);
    int rc = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; !rc && i < t->n; i++) {
        if (i)
            rc = buf_puts(&b, ",");
        if (!rc)
            rc = model_json(&b, &t->v[i]);
    }
    /* Then what the OpenAI-compatible upstreams list (each starts with a
     * comma: drop the first when models.conf named none). */
    size_t mark = b.len;
    if (!rc)
        rc = catalog_list_json(r->cfg, &b);
    if (!rc && t->n == 0 && b.len > mark)
        memmove(b.p + mark, b.p + mark + 1, --b.len - mark);
    if (!rc)
        rc = buf_puts(&b, "]}");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

int models_get(struct axon_req *r)
{
    const struct model *m = models_find(&r->cfg->models, r->route_arg);
    struct buf b = BUF_INIT(4096);
    if (!m && catalog_model_json(r->cfg, r->route_arg, &b) == AXON_OK) {
        int rc = io_send_json(r, 200, b.p, b.len, NULL);
        buf_free(&b);
        return rc;
    }
    if (!m)
        return errors_send(r, 404, ERR_INVALID_REQUEST, "model", "model_not_found", NULL,
                           "The model `%s` does not exist or you do not have access to it.",
                           r->route_arg);
    int rc = model_json(&b, m);
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}
