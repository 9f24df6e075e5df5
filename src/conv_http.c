/* conv_http.c - GET and DELETE /v1/conversations/{id}, GET /v1/conversations.
 *
 * Only an id that passed conv_id_check is ever echoed into a message; the
 * tenant is the authenticated caller's, so another tenant's conversation is
 * answered exactly like a missing one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conv.h"
#include "errors.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "text.h"

#define CONV_HTTP_ENTRY_MAX (CONV_ID_MAX + 6 * CONV_MODEL_MAX + 256) /* one listed item, escaped */
#define CONV_HTTP_ID_FORM "'conv-' followed by 32 lowercase hexadecimal digits"

int conv_api_error(struct api_error *e, int rc, const char *id, const char *param)
{
    if (rc == AXON_EINVAL)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_conversation_id", param,
                      "Invalid conversation id: expected " CONV_HTTP_ID_FORM
                      "%s.", param ? ", or \"new\" to start one" : "");
    else if (rc == AXON_ENOTFOUND && conv_id_check(id) == CONV_ID_UNSTORED)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "conversation_not_found", param,
                      "Conversation %s was never stored (the conversation store was "
                      "unavailable, or the conversation was too large, when it was "
                      "answered).", id);
    else if (rc == AXON_ENOTFOUND)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "conversation_not_found", param,
                      "Conversation %s not found.", id);
    else if (rc == AXON_EIO) {
        api_error_set(e, 503, ERR_SERVER, "valkey_unavailable", NULL,
                      "The conversation store is unavailable. Please retry shortly; requests "
                      "without a conversation_id still work.");
        snprintf(e->retry_after, sizeof e->retry_after, "1"); /* the breaker's first cool-down */
    } else if (rc == AXON_EBUSY) {
        /* 409, as OpenAI answers a conflict; its SDKs retry a 409 by
         * themselves (openai-node shouldRetry), honouring Retry-After, so
         * concurrent turns of an SDK client end up one after the other. */
        api_error_set(e, 409, ERR_INVALID_REQUEST, "conversation_busy", param,
                      "Conversation %s is answering another turn. Send this turn again once "
                      "that one has finished.", id);
        snprintf(e->retry_after, sizeof e->retry_after, "1");
    } else /* AXON_EPROTO, AXON_EREPLY: what Valkey holds is not a record of ours */
        api_error_set(e, 500, ERR_SERVER, "conversation_corrupt", NULL,
                      "Conversation %s could not be read back.", id);
    return rc;
}

/* True when id may be in the store; otherwise the 400 or 404 was sent. */
static bool id_usable(struct axon_req *r, const char *id, int *rc)
{
    enum conv_id_kind k = conv_id_check(id);
    if (k == CONV_ID_STORED)
        return true;
    struct api_error e;
    (void)conv_api_error(&e, k == CONV_ID_BAD ? AXON_EINVAL : AXON_ENOTFOUND, id, NULL);
    *rc = errors_send_api(r, &e);
    return false;
}

static int send_store_error(struct axon_req *r, int rc, const char *id)
{
    struct api_error e;
    (void)conv_api_error(&e, rc, id, NULL);
    return errors_send_api(r, &e);
}

/* The fields shared by a conversation and a list item, without the closing brace. */
static int meta_json(struct buf *b, const struct conv_meta *m)
{
    int rc = buf_printf(b,
                        "{\"id\":\"%s\",\"object\":\"conversation\",\"created\":%lld,"
                        "\"updated\":%lld,\"model\":",
                        m->id, m->created, m->updated);
    if (!rc)
        rc = buf_json_str(b, m->model, strlen(m->model));
    if (!rc)
        rc = buf_printf(b, ",\"message_count\":%lld", m->message_count);
    return rc;
}

int conv_http_get(struct axon_req *r)
{
    const char *id = r->route_arg;
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    json_object *msgs = NULL;
    struct conv_meta m;
    rc = conv_load(r->cfg, id, r->tenant, &msgs, &m);
    if (rc)
        return send_store_error(r, rc, id);
    /* The messages go out as stored: the cap is their own size. */
    size_t n = json_object_array_length(msgs), cap = CONV_HTTP_ENTRY_MAX + 64;
    for (size_t i = 0; i < n; i++)
        cap += conv_message_bytes(json_object_array_get_idx(msgs, i)) + 1;
    struct buf b = BUF_INIT(cap);
    rc = meta_json(&b, &m);
    if (!rc)
        rc = buf_puts(&b, ",\"messages\":[");
    for (size_t i = 0; !rc && i < n; i++) {
        size_t len = 0;
        const char *s = conv_message_text(json_object_array_get_idx(msgs, i), &len);
        rc = i ? buf_append(&b, ",", 1) : AXON_OK;
        if (!rc)
            rc = buf_append(&b, s, len);
    }
    if (!rc)
        rc = buf_puts(&b, "]}");
    json_object_put(msgs);
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

int conv_http_delete(struct axon_req *r)
{
    const char *id = r->route_arg;
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    rc = conv_delete(id, r->tenant);
    if (rc)
        return send_store_error(r, rc, id);
    char body[128];
    int n = snprintf(body, sizeof body,
                     "{\"id\":\"%s\",\"object\":\"conversation.deleted\",\"deleted\":true}", id);
    return io_send_json(r, 200, body, (size_t)n, NULL);
}

int conv_http_list(struct axon_req *r)
{
    int64_t limit = CONV_LIST_DEFAULT;
    size_t len;
    const char *v = text_query_get(r->query, "limit", &len);
    if (v && text_parse_i64_n(v, len, 1, CONV_LIST_MAX, &limit))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "limit", "invalid_value", NULL,
                           "limit must be a whole number from 1 to %d.", CONV_LIST_MAX);
    char after[CONV_ID_MAX + 1] = "";
    v = text_query_get(r->query, "after", &len);
    if (v) {
        enum conv_id_kind k = CONV_ID_BAD;
        if (len <= CONV_ID_MAX) {
            memcpy(after, v, len);
            after[len] = '\0';
            k = conv_id_check(after);
        }
        if (k == CONV_ID_BAD)
            return errors_send(r, 400, ERR_INVALID_REQUEST, "after", "invalid_conversation_id",
                               NULL, "Invalid 'after': expected a conversation id, "
                               CONV_HTTP_ID_FORM ".");
    }
    struct conv_meta *list = xcalloc((size_t)limit, sizeof *list);
    int n = 0;
    bool more = false;
    int rc = conv_id_check(after) == CONV_ID_UNSTORED
                 ? AXON_ENOTFOUND /* never stored, so never listed */
                 : conv_list(r->tenant, (int)limit, v ? after : NULL, list, &n, &more);
    if (rc == AXON_ENOTFOUND) {
        free(list);
        return errors_send(r, 400, ERR_INVALID_REQUEST, "after", "invalid_value", NULL,
                           "Conversation %s is not in your list of conversations (it may have "
                           "expired or been deleted).",
                           after);
    }
    if (rc) {
        free(list);
        return send_store_error(r, rc, "");
    }
    struct buf b = BUF_INIT((size_t)limit * CONV_HTTP_ENTRY_MAX + 256);
    rc = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; !rc && i < n; i++) {
        rc = i ? buf_puts(&b, ",") : AXON_OK;
        if (!rc)
            rc = meta_json(&b, &list[i]);
        if (!rc)
            rc = buf_puts(&b, "}");
    }
    if (!rc && n)
        rc = buf_printf(&b, "],\"first_id\":\"%s\",\"last_id\":\"%s\"", list[0].id,
                        list[n - 1].id);
    else if (!rc)
        rc = buf_puts(&b, "],\"first_id\":null,\"last_id\":null");
    if (!rc)
        rc = buf_printf(&b, ",\"has_more\":%s}", more ? "true" : "false");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    free(list);
    return rc;
}
