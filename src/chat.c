/* chat.c - POST /v1/chat/completions, the chat-completions ingress: the
 * read, route and validate stages of the pipeline (pipeline.h) for this API
 * shape. Its request is already the canonical one; its answer is written
 * by the chat-completions writer (oai_out.h), which it hands the pipeline. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"
#include "oai_out.h"
#include "oai_validate.h"
#include "pipeline.h"

int chat_read_json_object(struct axon_req *r, json_object **out)
{
    *out = NULL;
    struct buf body;
    const struct axon_config *cfg = r->cfg;
    /* The smaller of the two caps is the one a body meets. */
    size_t limit = cfg->max_inflight_bytes < cfg->max_body_bytes ? cfg->max_inflight_bytes
                                                                 : cfg->max_body_bytes;
    int rc = io_reserve_body(r, cfg->max_body_bytes);
    if (!rc)
        rc = io_read_body(r, cfg->max_body_bytes, &body);
    if (rc == AXON_ETOOBIG) {
        (void)errors_send(r, 413, ERR_INVALID_REQUEST, NULL, "request_too_large", NULL,
                          "Request body too large: the limit is %zu bytes.", limit);
        return rc;
    }
    if (rc == AXON_EBUSY) {
        /* Retryable: the room comes back as the requests in flight finish.
         * Refused before the body is read, so the client's retry costs
         * nothing here. */
        struct api_error e = {0};
        api_error_set(&e, 503, ERR_SERVER, "server_is_overloaded", NULL,
                      "This Axon process is holding as many request bytes as it takes at once "
                      "(AXON_MAX_INFLIGHT_BYTES=%zu). Please retry shortly.",
                      cfg->max_inflight_bytes);
        snprintf(e.retry_after, sizeof e.retry_after, "1");
        (void)errors_send_api(r, &e);
        return rc;
    }
    if (rc)
        return rc; /* the client's read failed: nobody to answer */
    rc = jsonv_parse(body.p, body.len, JSONV_MAX_DEPTH, out);
    buf_free(&body);
    if (rc) {
        (void)errors_send(r, 400, ERR_INVALID_REQUEST, NULL, NULL, NULL, "%s", ERR_MSG_BAD_JSON);
        return rc;
    }
    if (!json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        (void)errors_send(r, 400, ERR_INVALID_REQUEST, NULL, "invalid_type", NULL,
                          "Invalid type for the request body: expected an object.");
        return AXON_EINVAL;
    }
    return AXON_OK;
}

/* validate: OpenAI's rules for a chat request, then what Axon adds (a
 * model it serves, n within AXON_MAX_N). The route decides how strict the
 * rules are: OpenAI-compatible servers take extensions (top_k, min_p,
 * guided_json ...) that OpenAI refuses. */
static int chat_validate(struct txn *t)
{
    json_object *req = t->req;
    int rc = oai_validate_chat(req, t->routed && t->rt.ep->provider == PROVIDER_OPENAI, &t->e);
    if (rc)
        return rc;
    json_object *nv = NULL;
    if (!t->routed) {
        json_object *mv = NULL;
        json_object_object_get_ex(req, "model", &mv);
        /* OpenAI's chat 404 has param null (the model is in the message). */
        api_error_set(&t->e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL,
                      "The model `%s` does not exist or you do not have access to it.",
                      json_object_get_string(mv));
        return AXON_ENOTFOUND;
    }
    if (json_object_object_get_ex(req, "n", &nv) && json_object_is_type(nv, json_type_int) &&
        json_object_get_int64(nv) > t->r->cfg->max_n) {
        api_error_set(&t->e, 400, ERR_INVALID_REQUEST, "integer_above_max_value", "n",
                      "Invalid 'n': integer above maximum value. Expected a value <= %d, but got "
                      "%lld instead.", t->r->cfg->max_n, (long long)json_object_get_int64(nv));
        return AXON_EINVAL;
    }
    return AXON_OK;
}

int chat_completions(struct axon_req *r)
{
    struct txn t;
    struct oai_out w; /* the writer's state: opened when the run starts */
    txn_init(&t, r);
    t.writer = &oai_out_writer;
    t.writer_state = &w;
    int rc = chat_read_json_object(r, &t.req); /* read: answers its own 400 or 413 */
    if (!rc)
        rc = txn_route(&t);
    if (!rc)
        rc = chat_validate(&t);
    return txn_serve(&t, rc); /* the rest, and the one cleanup */
}
