/* resp_out.c - the Responses writer: canonical answer events to the
 * Responses API's stream events or one Response object (resp_out.h).
 *
 * The objects are built with json-c and printed with jsonv_write: every
 * event is small but for the closing one, which carries the whole Response
 * (the same object the non-stream answer is). */
#include "resp_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors_http.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "log.h"
#include "seal.h"
#include "text.h"

#define SSE_TYPE "text/event-stream; charset=utf-8"
#define SSE_HEADERS "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
#define EVENT_MAX (8u << 20)           /* one delta event: an upstream event is capped lower */
#define RESPONSE_JSON_MAX (256u << 20) /* the whole Response, as chat's answer cap */

enum { IT_REASONING, IT_MESSAGE, IT_CALL };

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

/* A buffer's text as a JSON string (a \u0000 inside is kept). Its length
 * is capped far below INT_MAX (OAI_MAX_ANSWER). */
static json_object *jbuf(const char *p, size_t n)
{
    return json_object_new_string_len(p ? p : "", (int)n);
}

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

void resp_out_prepare(struct resp_out *w, const struct resp_meta *meta)
{
    memset(w, 0, sizeof *w);
    w->meta = meta;
    w->pos = -1;
    w->open = -1;
}

void resp_out_stored(struct resp_out *w, const char *conv, long pos)
{
    if (!conv || strlen(conv) != RESP_CONV_ID_LEN || pos < 0) {
        w->conv[0] = '\0';
        w->pos = -1;
        return;
    }
    snprintf(w->conv, sizeof w->conv, "%s", conv);
    w->pos = pos;
}

static void open_of(void *ws, const struct answer *a)
{
    (void)a;
    struct resp_out *w = ws;
    w->created = (long)time(NULL);
    w->seq = 0;
    w->open = -1;
    w->nitems = 0;
    /* The response id names the conversation's tip right after the answer:
     * the position after the output message. */
    if (w->pos < 0 || resp_id_make(w->conv, w->pos + 1, w->id) != AXON_OK) {
        w->pos = -1;
        w->conv[0] = '\0';
        resp_id_random(w->id);
    }
    if (w->pos >= 0) {
        memcpy(w->ids_conv, w->conv, sizeof w->ids_conv);
        w->ids_pos = w->pos;
    } else {
        /* Unstored: ids of the same shape that name no conversation. */
        unsigned char rnd[RESP_ID_HEX / 2];
        text_random(rnd, sizeof rnd);
        memcpy(w->ids_conv, "conv-", 5);
        text_hex(rnd, sizeof rnd, w->ids_conv + 5);
        w->ids_pos = 0;
    }
}

static void close_of(void *ws)
{
    struct resp_out *w = ws;
    json_object_put(w->final);
    w->final = NULL;
    buf_free(&w->final_json);
}

/* The id of an output item: part 0 reasoning, 1 the message, 2 + k the
 * k-th call (resp_ids.h). */
static void item_id(const struct resp_out *w, int kind, int tool, char *out)
{
    enum resp_item_kind k = kind == IT_REASONING ? RESP_ITEM_REASONING
                            : kind == IT_MESSAGE ? RESP_ITEM_MESSAGE
                                                 : RESP_ITEM_CALL;
    int part = kind == IT_REASONING ? 0 : kind == IT_MESSAGE ? 1 : 2 + tool;
    if (resp_item_id_make(k, w->ids_conv, w->ids_pos, part, out) != AXON_OK)
        snprintf(out, RESP_ITEM_ID_MAX + 1, "item_invalid");
}

/* ---- the items --------------------------------------------------------------- */

static bool wants_summary(const struct resp_out *w)
{
    return w->meta && w->meta->summary != RESP_SUMMARY_NONE;
}

/* encrypted_content when the client asked for it (include), or cannot
 * have it kept (store: false): Claude's signed thinking, sealed for this
 * key. null when there is nothing signed (an OpenAI-compatible model's
 * reasoning has no signature to keep). */
static json_object *encrypted(const struct resp_out *w, const struct answer *a, int i)
{
    const struct answer_choice *c = &a->c[i];
    if (!w->meta || !((w->meta->include & RESP_INC_ENCRYPTED) || !w->meta->store) ||
        !c->thinking || json_object_array_length(c->thinking) == 0)
        return NULL;
    char *sealed = NULL;
    int rc = seal_json(a->r->tenant, c->thinking, &sealed);
    if (rc) {
        log_msg(AXON_LOG_WARN, "request %s: the reasoning could not be sealed (%d): "
                "encrypted_content is null", a->r->id, rc);
        return NULL;
    }
    json_object *s = jstr(sealed);
    free(sealed);
    return s;
}

static json_object *summary_part(const char *p, size_t n)
{
    json_object *part = json_object_new_object();
    add(part, "type", jstr("summary_text"));
    add(part, "text", jbuf(p, n));
    return part;
}

static json_object *reasoning_item(const struct resp_out *w, const struct answer *a, int i,
                                   bool done)
{
    const struct answer_choice *c = &a->c[i];
    char id[RESP_ITEM_ID_MAX + 1];
    item_id(w, IT_REASONING, 0, id);
    json_object *it = json_object_new_object();
    add(it, "id", jstr(id));
    add(it, "type", jstr("reasoning"));
    json_object *sum = json_object_new_array();
    if (done && wants_summary(w) && c->reasoning.len)
        json_object_array_add(sum, summary_part(c->reasoning.p, c->reasoning.len));
    add(it, "summary", sum);
    if (done)
        add(it, "encrypted_content", encrypted(w, a, i));
    return it;
}

static json_object *text_part(const char *p, size_t n)
{
    json_object *part = json_object_new_object();
    add(part, "type", jstr("output_text"));
    add(part, "text", jbuf(p, n));
    add(part, "annotations", json_object_new_array());
    add(part, "logprobs", json_object_new_array());
    return part;
}

static json_object *refusal_part(const char *p, size_t n)
{
    json_object *part = json_object_new_object();
    add(part, "type", jstr("refusal"));
    add(part, "refusal", jbuf(p, n));
    return part;
}

/* The message item; text (n bytes) is its output_text when done. */
static json_object *message_item(const struct resp_out *w, const struct answer *a, int i,
                                 bool done, const char *text, size_t n, const char *status)
{
    const struct answer_choice *c = &a->c[i];
    char id[RESP_ITEM_ID_MAX + 1];
    item_id(w, IT_MESSAGE, 0, id);
    json_object *it = json_object_new_object();
    add(it, "id", jstr(id));
    add(it, "type", jstr("message"));
    add(it, "status", jstr(done ? status : "in_progress"));
    add(it, "role", jstr("assistant"));
    json_object *content = json_object_new_array();
    if (done && (n || !c->refusal.len))
        json_object_array_add(content, text_part(text, n));
    if (done && c->refusal.len)
        json_object_array_add(content, refusal_part(c->refusal.p, c->refusal.len));
    add(it, "content", content);
    return it;
}

static json_object *call_item(const struct resp_out *w, const struct answer *a, int i, int k,
                              bool done)
{
    const struct answer_tool_call *tc = &a->c[i].tools[k];
    char id[RESP_ITEM_ID_MAX + 1];
    item_id(w, IT_CALL, k, id);
    json_object *it = json_object_new_object();
    add(it, "id", jstr(id));
    add(it, "type", jstr("function_call"));
    add(it, "status", jstr(done ? "completed" : "in_progress"));
    add(it, "arguments", done ? (tc->args.len ? jbuf(tc->args.p, tc->args.len) : jstr("{}"))
                              : jstr(""));
    add(it, "call_id", jbuf(tc->id, tc->id_len));
    add(it, "name", jbuf(tc->name, tc->name_len));
    return it;
}

/* ---- the Response --------------------------------------------------------------- */

static const char *status_of(const struct answer *a, const char **reason)
{
    const char *f = a->n > 0 ? a->c[0].finish : NULL;
    *reason = NULL;
    if (f && !strcmp(f, "length"))
        *reason = "max_output_tokens";
    else if (f && !strcmp(f, "content_filter"))
        *reason = "content_filter";
    return *reason ? "incomplete" : "completed";
}

static json_object *usage_json(const struct answer *a)
{
    struct usage u;
    answer_usage(a, &u);
    long in = u.input + u.cache_read + u.cache_write;
    json_object *o = json_object_new_object();
    add(o, "input_tokens", json_object_new_int64(in));
    json_object *d = json_object_new_object();
    add(d, "cached_tokens", json_object_new_int64(u.cache_read));
    add(d, "cache_write_tokens", json_object_new_int64(u.cache_write));
    add(o, "input_tokens_details", d);
    add(o, "output_tokens", json_object_new_int64(u.output));
    d = json_object_new_object();
    add(d, "reasoning_tokens", json_object_new_int64(u.reasoning));
    add(o, "output_tokens_details", d);
    add(o, "total_tokens", json_object_new_int64(in + u.output));
    return o;
}

/* The request's tools as the Response shows them: a FunctionTool always
 * has strict and parameters (the spec requires both; null when the client
 * gave none, as Axon then asks for no strictness). Returns new. */
static json_object *tools_echo(json_object *tools)
{
    if (!json_object_is_type(tools, json_type_array))
        return json_object_get(tools);
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i), *copy = NULL;
        if (json_object_deep_copy(t, &copy, NULL) != 0 || !copy) {
            json_object_array_add(out, json_object_get(t));
            continue;
        }
        if (json_object_is_type(copy, json_type_object)) {
            if (!json_object_object_get_ex(copy, "strict", NULL))
                add(copy, "strict", NULL);
            if (!json_object_object_get_ex(copy, "parameters", NULL))
                add(copy, "parameters", NULL);
        }
        json_object_array_add(out, copy);
    }
    return out;
}

/* The Response with status and output (taken), without usage while it
 * runs. */
static json_object *response_obj(const struct resp_out *w, const struct answer *a,
                                 const char *status, const char *reason, json_object *output,
                                 json_object *error, bool final)
{
    json_object *o = json_object_new_object();
    add(o, "id", jstr(w->id));
    add(o, "object", jstr("response"));
    add(o, "created_at", json_object_new_int64(w->created));
    add(o, "status", jstr(status));
    add(o, "background", json_object_new_boolean(0));
    add(o, "completed_at", final && !strcmp(status, "completed")
                               ? json_object_new_int64((int64_t)time(NULL))
                               : NULL);
    add(o, "error", error);
    json_object *inc = NULL;
    if (reason) {
        inc = json_object_new_object();
        add(inc, "reason", jstr(reason));
    }
    add(o, "incomplete_details", inc);
    /* The request's parameters as OpenAI echoes them (resp_in.c); the
     * model is the one that answered. */
    if (w->meta && w->meta->echo) {
        json_object_object_foreach(w->meta->echo, k, v) {
            if (!strcmp(k, "tools"))
                add(o, k, tools_echo(v));
            else if (strcmp(k, "model") && strcmp(k, "background"))
                add(o, k, json_object_get(v));
        }
    }
    add(o, "model", jstr(a->model));
    add(o, "output", output);
    if (final) /* ResponseUsage is an object: absent while the answer runs */
        add(o, "usage", usage_json(a));
    return o;
}

/* The final output items of choice 0: in the order the stream opened
 * them, then what it did not (a non-streamed answer: reasoning, message,
 * the calls). */
static json_object *output_items(const struct resp_out *w, const struct answer *a,
                                 const char *text, size_t n, const char *msg_status)
{
    const struct answer_choice *c = &a->c[0];
    json_object *out = json_object_new_array();
    bool rs = false, msg = false;
    bool call[OAI_MAX_TOOLS] = {false};
    for (int k = 0; k < w->nitems; k++) {
        int kind = w->items[k].kind, t = w->items[k].tool;
        if (kind == IT_REASONING && !rs) {
            rs = true;
            json_object_array_add(out, reasoning_item(w, a, 0, true));
        } else if (kind == IT_MESSAGE && !msg) {
            msg = true;
            json_object_array_add(out, message_item(w, a, 0, true, text, n, msg_status));
        } else if (kind == IT_CALL && t >= 0 && t < c->ntools && t < OAI_MAX_TOOLS && !call[t]) {
            call[t] = true;
            json_object_array_add(out, call_item(w, a, 0, t, true));
        }
    }
    if (!rs && (c->reasoning.len || c->thinking))
        json_object_array_add(out, reasoning_item(w, a, 0, true));
    if (!msg && (n || c->refusal.len || c->ntools == 0))
        json_object_array_add(out, message_item(w, a, 0, true, text, n, msg_status));
    for (int t = 0; t < c->ntools && t < OAI_MAX_TOOLS; t++)
        if (!call[t])
            json_object_array_add(out, call_item(w, a, 0, t, true));
    return out;
}

json_object *resp_out_response(struct resp_out *w, const struct answer *a)
{
    /* Asked twice for a stored answer (its record in the settle, then the
     * answer itself), of the same finished answer: made once (its dozens of
     * members cost as much as the rest of the request, callgrind). */
    if (w->final)
        return json_object_get(w->final);
    const char *reason;
    const char *status = status_of(a, &reason);
    const char *text = a->c[0].content.p;
    size_t n = a->c[0].content.len;
    struct api_error e = {0};
    /* json_object mode: the JSON value without a Markdown fence around it. */
    if (!a->stream && answer_content(a, 0, &text, &n, &e) != AXON_OK) {
        text = a->c[0].content.p;
        n = a->c[0].content.len;
    }
    json_object *out = output_items(w, a, text, n, reason ? "incomplete" : "completed");
    w->final = response_obj(w, a, status, reason, out, NULL, true);
    return json_object_get(w->final);
}

int resp_out_response_json(struct resp_out *w, const struct answer *a, const char **p,
                           size_t *n)
{
    if (!w->final_json.p) {
        buf_init(&w->final_json, RESPONSE_JSON_MAX);
        json_object *resp = resp_out_response(w, a);
        int rc = jsonv_write(&w->final_json, resp);
        json_object_put(resp);
        if (rc) {
            buf_free(&w->final_json);
            return rc;
        }
    }
    *p = w->final_json.p;
    *n = w->final_json.len;
    return AXON_OK;
}

/* ---- streaming ---------------------------------------------------------------- */

/* Sends ev (taken): "event: TYPE\ndata: JSON\n\n", with the next
 * sequence_number; the stream's headers first. */
static int send_event(struct resp_out *w, const struct answer *a, json_object *ev)
{
    add(ev, "sequence_number", json_object_new_int64(w->seq++));
    struct buf b = BUF_INIT(RESPONSE_JSON_MAX);
    int rc = buf_puts(&b, "event: ");
    if (!rc)
        rc = buf_puts(&b, json_object_get_string(json_object_object_get(ev, "type")));
    if (!rc)
        rc = buf_puts(&b, "\ndata: ");
    if (!rc)
        rc = jsonv_write(&b, ev);
    if (!rc)
        rc = buf_puts(&b, "\n\n");
    json_object_put(ev);
    if (!rc && !answer_started(a))
        rc = io_begin(a->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_write(a->r, b.p, b.len);
    if (!rc)
        rc = io_flush(a->r);
    buf_free(&b);
    return rc;
}

static json_object *event(const char *type)
{
    json_object *ev = json_object_new_object();
    add(ev, "type", jstr(type));
    return ev;
}

/* response.created and response.in_progress, once, before anything else. */
static int ensure_head(struct resp_out *w, const struct answer *a)
{
    if (w->head_sent)
        return AXON_OK;
    w->head_sent = true;
    json_object *ev = event("response.created");
    add(ev, "response", response_obj(w, a, "in_progress", NULL, json_object_new_array(), NULL,
                                     false));
    int rc = send_event(w, a, ev);
    if (!rc) {
        ev = event("response.in_progress");
        add(ev, "response", response_obj(w, a, "in_progress", NULL, json_object_new_array(),
                                         NULL, false));
        rc = send_event(w, a, ev);
    }
    return rc;
}

/* An event about the item at output_index k (item_id, output_index). */
static json_object *item_event(const struct resp_out *w, const char *type, int k)
{
    char id[RESP_ITEM_ID_MAX + 1];
    item_id(w, w->items[k].kind, w->items[k].tool, id);
    json_object *ev = event(type);
    add(ev, "item_id", jstr(id));
    add(ev, "output_index", json_object_new_int(k));
    return ev;
}

static int item_added(struct resp_out *w, const struct answer *a, int kind, int tool)
{
    if (w->nitems >= RESP_OUT_ITEMS)
        return AXON_ETOOBIG;
    int k = w->nitems++;
    w->items[k].kind = kind;
    w->items[k].tool = tool;
    w->open = k;
    json_object *it = kind == IT_REASONING ? reasoning_item(w, a, 0, false)
                      : kind == IT_MESSAGE ? message_item(w, a, 0, false, NULL, 0, NULL)
                                           : call_item(w, a, 0, tool, false);
    json_object *ev = event("response.output_item.added");
    add(ev, "output_index", json_object_new_int(k));
    add(ev, "item", it);
    int rc = send_event(w, a, ev);
    if (!rc && kind == IT_REASONING && wants_summary(w)) {
        ev = item_event(w, "response.reasoning_summary_part.added", k);
        add(ev, "summary_index", json_object_new_int(0));
        add(ev, "part", summary_part("", 0));
        rc = send_event(w, a, ev);
    }
    return rc;
}

/* A content part of the message opens: output_text at 0, a refusal after it. */
static int part_added(struct resp_out *w, const struct answer *a, bool refusal)
{
    json_object *ev = item_event(w, "response.content_part.added", w->open);
    add(ev, "content_index", json_object_new_int(refusal && w->text_part ? 1 : 0));
    add(ev, "part", refusal ? refusal_part("", 0) : text_part("", 0));
    if (refusal)
        w->refusal_part = true;
    else
        w->text_part = true;
    return send_event(w, a, ev);
}

/* The open item's closing events (its text so far is the whole of it). */
static int item_done(struct resp_out *w, const struct answer *a)
{
    if (w->open < 0)
        return AXON_OK;
    int k = w->open, rc = AXON_OK;
    w->open = -1;
    const struct answer_choice *c = &a->c[0];
    json_object *ev, *it;
    switch (w->items[k].kind) {
    case IT_REASONING:
        if (wants_summary(w)) {
            ev = item_event(w, "response.reasoning_summary_text.done", k);
            add(ev, "summary_index", json_object_new_int(0));
            add(ev, "text", jbuf(c->reasoning.p, c->reasoning.len));
            rc = send_event(w, a, ev);
            if (!rc) {
                ev = item_event(w, "response.reasoning_summary_part.done", k);
                add(ev, "summary_index", json_object_new_int(0));
                add(ev, "part", summary_part(c->reasoning.p, c->reasoning.len));
                rc = send_event(w, a, ev);
            }
        }
        it = reasoning_item(w, a, 0, true);
        break;
    case IT_MESSAGE:
        if (w->text_part) {
            ev = item_event(w, "response.output_text.done", k);
            add(ev, "content_index", json_object_new_int(0));
            add(ev, "text", jbuf(c->content.p, c->content.len));
            add(ev, "logprobs", json_object_new_array());
            rc = send_event(w, a, ev);
            if (!rc) {
                ev = item_event(w, "response.content_part.done", k);
                add(ev, "content_index", json_object_new_int(0));
                add(ev, "part", text_part(c->content.p, c->content.len));
                rc = send_event(w, a, ev);
            }
        }
        if (!rc && w->refusal_part) {
            int ci = w->text_part ? 1 : 0;
            ev = item_event(w, "response.refusal.done", k);
            add(ev, "content_index", json_object_new_int(ci));
            add(ev, "refusal", jbuf(c->refusal.p, c->refusal.len));
            rc = send_event(w, a, ev);
            if (!rc) {
                ev = item_event(w, "response.content_part.done", k);
                add(ev, "content_index", json_object_new_int(ci));
                add(ev, "part", refusal_part(c->refusal.p, c->refusal.len));
                rc = send_event(w, a, ev);
            }
        }
        it = message_item(w, a, 0, true, c->content.p, c->content.len,
                          c->finish && !strcmp(c->finish, "length") ? "incomplete" : "completed");
        break;
    default: {
        int t = w->items[k].tool;
        const struct answer_tool_call *tc = &c->tools[t];
        ev = item_event(w, "response.function_call_arguments.done", k);
        add(ev, "name", jbuf(tc->name, tc->name_len));
        add(ev, "arguments", tc->args.len ? jbuf(tc->args.p, tc->args.len) : jstr("{}"));
        rc = send_event(w, a, ev);
        it = call_item(w, a, 0, t, true);
        break;
    }
    }
    if (rc) {
        json_object_put(it);
        return rc;
    }
    ev = event("response.output_item.done");
    add(ev, "output_index", json_object_new_int(k));
    add(ev, "item", it);
    return send_event(w, a, ev);
}

/* The output index of call t, or -1. */
static int call_slot(const struct resp_out *w, int t)
{
    for (int k = 0; k < w->nitems; k++)
        if (w->items[k].kind == IT_CALL && w->items[k].tool == t)
            return k;
    return -1;
}

static int on_reasoning(struct resp_out *w, const struct answer *a, const struct cev *ev)
{
    int rc = AXON_OK;
    if (w->open < 0 || w->items[w->open].kind != IT_REASONING) {
        /* One reasoning item per answer: a later stretch of thinking
         * (between tool calls) is in its signed blocks and the final
         * item, not streamed again as a second summary. */
        if (w->rs_seen)
            return AXON_OK;
        rc = item_done(w, a);
        w->rs_seen = true;
        if (!rc)
            rc = item_added(w, a, IT_REASONING, 0);
    }
    if (rc || !wants_summary(w))
        return rc;
    json_object *e = item_event(w, "response.reasoning_summary_text.delta", w->open);
    add(e, "summary_index", json_object_new_int(0));
    add(e, "delta", jbuf(ev->s, ev->n));
    return send_event(w, a, e);
}

/* A text or refusal delta of the open item, written directly: the json-c
 * object it was built as, then printed, cost most of a token's work
 * (callgrind), and a stream sends one per token. The bytes are the ones
 * send_event writes for that object: its members in the order they were
 * added (json-c keeps it), jsonv_write's escaping. */
static int send_delta(struct resp_out *w, const struct answer *a, const char *type,
                      int content_index, const char *s, size_t n, bool logprobs)
{
    char id[RESP_ITEM_ID_MAX + 1];
    item_id(w, w->items[w->open].kind, w->items[w->open].tool, id);
    struct buf b = BUF_INIT(RESPONSE_JSON_MAX);
    int rc = buf_puts(&b, "event: ");
    if (!rc)
        rc = buf_puts(&b, type);
    if (!rc)
        rc = buf_puts(&b, "\ndata: {\"type\":");
    if (!rc)
        rc = buf_json_str(&b, type, strlen(type));
    if (!rc)
        rc = buf_puts(&b, ",\"item_id\":");
    if (!rc)
        rc = buf_json_str(&b, id, strlen(id));
    if (!rc)
        rc = buf_puts(&b, ",\"output_index\":");
    if (!rc)
        rc = buf_i64(&b, w->open);
    if (!rc)
        rc = buf_puts(&b, ",\"content_index\":");
    if (!rc)
        rc = buf_i64(&b, content_index);
    if (!rc)
        rc = buf_puts(&b, ",\"delta\":");
    if (!rc)
        rc = buf_json_str(&b, s ? s : "", n);
    if (!rc && logprobs)
        rc = buf_puts(&b, ",\"logprobs\":[]");
    if (!rc)
        rc = buf_puts(&b, ",\"sequence_number\":");
    if (!rc)
        rc = buf_i64(&b, w->seq++);
    if (!rc)
        rc = buf_puts(&b, "}\n\n");
    if (!rc && !answer_started(a))
        rc = io_begin(a->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_write(a->r, b.p, b.len);
    if (!rc)
        rc = io_flush(a->r);
    buf_free(&b);
    return rc;
}

static int on_text(struct resp_out *w, const struct answer *a, const struct cev *ev, bool refusal)
{
    int rc = AXON_OK;
    if (w->open < 0 || w->items[w->open].kind != IT_MESSAGE) {
        /* One message item per answer: text after a tool call (rare) is
         * in the final Response's message, not streamed a second time. */
        if (w->msg_seen)
            return AXON_OK;
        rc = item_done(w, a);
        w->msg_seen = true;
        if (!rc)
            rc = item_added(w, a, IT_MESSAGE, 0);
    }
    if (!rc && (refusal ? !w->refusal_part : !w->text_part))
        rc = part_added(w, a, refusal);
    if (rc)
        return rc;
    return send_delta(w, a, refusal ? "response.refusal.delta" : "response.output_text.delta",
                      refusal && w->text_part ? 1 : 0, ev->s, ev->n, !refusal);
}

static int event_of(void *ws, const struct answer *a, int i, const struct cev *ev)
{
    struct resp_out *w = ws;
    if (i != 0)
        return AXON_OK; /* the Responses API has one answer (n is never asked) */
    int rc = ensure_head(w, a);
    if (rc)
        return rc;
    switch (ev->kind) {
    case CEV_REASONING:
        return on_reasoning(w, a, ev);
    case CEV_TEXT:
        return on_text(w, a, ev, false);
    case CEV_REFUSAL:
        return on_text(w, a, ev, true);
    case CEV_TOOL_START:
        if (ev->tool < 0 || ev->tool >= a->c[0].ntools || call_slot(w, ev->tool) >= 0)
            return AXON_OK;
        rc = item_done(w, a);
        if (!rc)
            rc = item_added(w, a, IT_CALL, ev->tool);
        return rc;
    case CEV_TOOL_ARGS: {
        int k = call_slot(w, ev->tool);
        if (k < 0 || ev->n == 0)
            return AXON_OK;
        json_object *e = item_event(w, "response.function_call_arguments.delta", k);
        add(e, "delta", jbuf(ev->s, ev->n));
        return send_event(w, a, e);
    }
    default:
        return AXON_OK; /* the finish is the closing event's (finish_of) */
    }
}

/* A heartbeat: the stream's head if it has not gone, then a comment. */
static int ping_of(void *ws, const struct answer *a)
{
    struct resp_out *w = ws;
    if (!a->stream)
        return AXON_OK;
    int rc = ensure_head(w, a);
    if (!rc)
        rc = io_sse_comment(a->r, "ping");
    return rc;
}

static int finish_of(void *ws, const struct answer *a, struct api_error *e)
{
    struct resp_out *w = ws;
    int rc = AXON_OK;
    if (a->stream) {
        rc = ensure_head(w, a);
        while (!rc && w->open >= 0)
            rc = item_done(w, a);
        if (rc)
            return rc;
        json_object *resp = resp_out_response(w, a);
        const char *status = json_object_get_string(json_object_object_get(resp, "status"));
        json_object *ev = event(!strcmp(status, "incomplete") ? "response.incomplete"
                                                              : "response.completed");
        add(ev, "response", resp);
        return send_event(w, a, ev);
    }
    const char *text;
    size_t n;
    rc = answer_content(a, 0, &text, &n, e); /* a check refuses the answer: nothing goes */
    if (rc)
        return rc;
    const char *body;
    size_t len;
    rc = resp_out_response_json(w, a, &body, &len); /* the stored record's text too */
    if (!rc)
        rc = io_send_json(a->r, 200, body, len, NULL);
    else if (rc == AXON_ETOOBIG)
        api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The answer is larger than Axon's cap.");
    return rc;
}

/* ResponseError.code takes OpenAI's list; what is not on it is a
 * server_error. */
static const char *error_code(const struct api_error *e)
{
    static const char *const known[] = {"server_error", "rate_limit_exceeded", "invalid_prompt",
                                        NULL};
    for (int i = 0; e->code && known[i]; i++)
        if (!strcmp(e->code, known[i]))
            return known[i];
    return e->status == 429 ? "rate_limit_exceeded" : "server_error";
}

/* Before the first byte: a real HTTP error in OpenAI's envelope. After it:
 * an `error` event, then response.failed with the Response as it stood. */
static int error_of(void *ws, const struct answer *a, const struct api_error *e)
{
    struct resp_out *w = ws;
    if (!answer_started(a))
        return errors_send_api(a->r, e);
    if (w->failed)
        return AXON_OK;
    w->failed = true;
    json_object *ev = event("error");
    add(ev, "code", e->code ? jstr(e->code) : NULL);
    add(ev, "message", jstr(e->message));
    add(ev, "param", e->param[0] ? jstr(e->param) : NULL);
    int rc = send_event(w, a, ev);
    if (rc)
        return rc;
    json_object *err = json_object_new_object();
    add(err, "code", jstr(error_code(e)));
    add(err, "message", jstr(e->message));
    json_object *out = json_object_new_array();
    for (int k = 0; k < w->nitems; k++) {
        /* The items that closed stay; an open one is cut. */
        if (k == w->open)
            break;
        int kind = w->items[k].kind;
        json_object_array_add(out, kind == IT_REASONING ? reasoning_item(w, a, 0, true)
                                   : kind == IT_MESSAGE
                                       ? message_item(w, a, 0, true, a->c[0].content.p,
                                                      a->c[0].content.len, "completed")
                                       : call_item(w, a, 0, w->items[k].tool, true));
    }
    ev = event("response.failed");
    add(ev, "response", response_obj(w, a, "failed", NULL, out, err, true));
    return send_event(w, a, ev);
}

const struct answer_writer resp_out_writer = {
    .name = "response",
    .open = open_of,
    .close = close_of,
    .event = event_of,
    .ping = ping_of,
    .finish = finish_of,
    .error = error_of,
};
