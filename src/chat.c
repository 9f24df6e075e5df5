/* chat.c - POST /v1/chat/completions. */
#include <json-c/json.h>

#include "errors.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"

int chat_read_json_object(struct axon_req *r, json_object **out)
{
    *out = NULL;
    struct buf body;
    int rc = io_read_body(r, r->cfg->max_body_bytes, &body);
    if (rc == AXON_ETOOBIG) {
        (void)errors_send(r, 413, ERR_INVALID_REQUEST, NULL, "request_too_large", NULL,
                          "Request body too large: the limit is %zu bytes.",
                          r->cfg->max_body_bytes);
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

int chat_completions(struct axon_req *r)
{
    json_object *req = NULL;
    int rc = chat_read_json_object(r, &req);
    if (rc)
        return rc;
    json_object_put(req);
    /* No provider is wired in yet. x-should-retry stops the SDKs' automatic
     * retries: asking again cannot help until the operator configures one. */
    return errors_send(r, 503, ERR_SERVER, NULL, "no_upstream", "x-should-retry: false\r\n",
                       "No upstream is configured. Set ANTHROPIC_API_KEY (Claude) or "
                       "AXON_VLLM_BASE_URL (an OpenAI-compatible server such as vLLM) and "
                       "restart Axon.");
}
