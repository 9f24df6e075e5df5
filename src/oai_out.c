/* oai_out.c - the chat-completions writer: canonical answer events to
 * OpenAI chunks or one completion (oai_out.h). */
#include "oai_out.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors_http.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "sha256.h"
#include "text.h"

#define SSE_TYPE "text/event-stream; charset=utf-8"
#define SSE_HEADERS "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
#define CHUNK_MAX (8u << 20)   /* one chunk: an upstream event is capped lower */
#define ANSWER_JSON_MAX (256u << 20)

static void make_id(char *out, size_t cap)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[29];
    text_random(rnd, sizeof rnd);
    memcpy(out, "chatcmpl-", 9);
    for (size_t i = 0; i < sizeof rnd && 9 + i + 1 < cap; i++)
        out[9 + i] = alnum[rnd[i] % 62];
    out[9 + sizeof rnd] = '\0';
}

/* Stable per build, as OpenAI's is per backend configuration: hashed once. */
static char g_fingerprint[16];
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fingerprint_make(void)
{
    unsigned char d[SHA256_LEN];
    sha256("axon " AXON_VERSION, strlen("axon " AXON_VERSION), d);
    memcpy(g_fingerprint, "fp_", 3);
    text_hex(d, 5, g_fingerprint + 3);
}

static void open_of(void *ws, const struct answer *a)
{
    (void)a;
    struct oai_out *w = ws;
    memset(w, 0, sizeof *w);
    make_id(w->id, sizeof w->id);
    w->created = (long)time(NULL);
    (void)pthread_once(&fp_once, fingerprint_make);
    memcpy(w->fingerprint, g_fingerprint, sizeof w->fingerprint);
    buf_init(&w->chunk, CHUNK_MAX);
    buf_init(&w->head, CHUNK_MAX);
    buf_init(&w->delta, CHUNK_MAX);
}

static void close_of(void *ws)
{
    struct oai_out *w = ws;
    buf_free(&w->chunk);
    buf_free(&w->head);
    buf_free(&w->delta);
    free(w->head_model);
}

int oai_usage_json(struct buf *b, const struct usage *u)
{
    long prompt = u->input + u->cache_read + u->cache_write;
    /* Pieces and integers rather than one vsnprintf: a third of the cost. */
    int rc = buf_puts(b, "{\"prompt_tokens\":");
    if (!rc)
        rc = buf_i64(b, prompt);
    if (!rc)
        rc = buf_puts(b, ",\"completion_tokens\":");
    if (!rc)
        rc = buf_i64(b, u->output);
    if (!rc)
        rc = buf_puts(b, ",\"total_tokens\":");
    if (!rc)
        rc = buf_i64(b, prompt + u->output);
    if (!rc)
        rc = buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    if (!rc)
        rc = buf_i64(b, u->cache_read);
    if (!rc)
        rc = buf_puts(b, ",\"cache_write_tokens\":");
    if (!rc)
        rc = buf_i64(b, u->cache_write);
    if (!rc)
        rc = buf_puts(b, ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":");
    if (!rc)
        rc = buf_i64(b, u->reasoning);
    if (!rc)
        rc = buf_puts(b, ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
                         "\"rejected_prediction_tokens\":0}}");
    return rc;
}

/* ---- streaming ------------------------------------------------------------ */

/* Everything up to the choices. What does not change from one chunk to the
 * next (id, created, model, fingerprint) is written once per answer into
 * w->head and copied: printing it again cost about a third of a chunk. It
 * is made again if the model changes (each choice's call says its own). */
static int chunk_head(struct oai_out *w, const struct answer *a)
{
    int rc = AXON_OK;
    buf_reset(&w->chunk);
    if (!w->head_model || strcmp(w->head_model, a->model)) {
        buf_reset(&w->head);
        free(w->head_model);
        w->head_model = xstrdup(a->model);
        rc = buf_puts(&w->head, "{\"id\":\"");
        if (!rc)
            rc = buf_puts(&w->head, w->id);
        if (!rc)
            rc = buf_puts(&w->head, "\",\"object\":\"chat.completion.chunk\",\"created\":");
        if (!rc)
            rc = buf_i64(&w->head, w->created);
        if (!rc)
            rc = buf_puts(&w->head, ",\"model\":");
        if (!rc)
            rc = buf_json_str(&w->head, a->model, strlen(a->model));
        if (!rc)
            rc = buf_puts(&w->head, ",\"service_tier\":\"default\",\"system_fingerprint\":\"");
        if (!rc)
            rc = buf_puts(&w->head, w->fingerprint);
        if (!rc)
            rc = buf_puts(&w->head, "\",");
        if (rc) {
            free(w->head_model); /* not a head to reuse */
            w->head_model = NULL;
            return rc;
        }
    }
    rc = buf_append(&w->chunk, w->head.p, w->head.len);
    /* Axon's extension rides on the stream's first chunk only. */
    if (!rc && a->conversation_id && !w->conversation_sent) {
        w->conversation_sent = true;
        rc = buf_printf(&w->chunk, "\"conversation_id\":\"%s\",", a->conversation_id);
    }
    return rc;
}

static int send_chunk(struct oai_out *w, const struct answer *a)
{
    int rc = AXON_OK;
    if (!answer_started(a))
        rc = io_begin(a->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_sse_data(a->r, w->chunk.p, w->chunk.len);
    return rc;
}

/* A chunk for choice i whose delta is the JSON text delta (or "{}"), with
 * the upstream's logprobs object if any. */
static int send_delta_lp(struct oai_out *w, const struct answer *a, int i, const char *delta,
                         size_t dn, const char *finish, json_object *logprobs)
{
    int rc = chunk_head(w, a);
    if (!rc)
        rc = buf_puts(&w->chunk, "\"choices\":[{\"index\":");
    if (!rc)
        rc = buf_i64(&w->chunk, i);
    if (!rc)
        rc = buf_puts(&w->chunk, ",\"delta\":");
    if (!rc)
        rc = buf_append(&w->chunk, delta, dn);
    if (!rc)
        rc = buf_puts(&w->chunk, ",\"logprobs\":");
    if (!rc)
        rc = buf_puts(&w->chunk, logprobs ? json_object_to_json_string_ext(logprobs, JSONV_OUT)
                                          : "null");
    if (!rc)
        rc = buf_puts(&w->chunk, ",\"finish_reason\":");
    if (!rc)
        rc = buf_json_str_or_null(&w->chunk, finish);
    if (!rc)
        rc = buf_puts(&w->chunk, "}]}");
    if (!rc)
        rc = send_chunk(w, a);
    return rc;
}

static int send_delta(struct oai_out *w, const struct answer *a, int i, const char *delta,
                      size_t dn, const char *finish)
{
    return send_delta_lp(w, a, i, delta, dn, finish, NULL);
}

/* OpenAI's first chunk of a choice carries the role and an empty content:
 * before the choice's first event (answer.h: not delivered yet). */
static int ensure_role(struct oai_out *w, const struct answer *a, int i)
{
    if (a->c[i].delivered)
        return AXON_OK;
    static const char d[] = "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}";
    return send_delta(w, a, i, d, sizeof d - 1, NULL);
}

/* A delta with one string field: {"content":"..."}, {"reasoning_content":"..."}
 * or {"refusal":"..."}. */
static int send_text(struct oai_out *w, const struct answer *a, int i, const char *field,
                     const char *s, size_t n, json_object *logprobs)
{
    struct buf *d = &w->delta; /* kept for the answer: one allocation, not one a chunk */
    buf_reset(d);
    int rc = buf_puts(d, "{\"");
    if (!rc)
        rc = buf_puts(d, field);
    if (!rc)
        rc = buf_puts(d, "\":");
    if (!rc)
        rc = buf_json_str(d, s, n);
    if (!rc)
        rc = buf_puts(d, "}");
    if (!rc)
        rc = send_delta_lp(w, a, i, d->p, d->len, NULL, logprobs);
    return rc;
}

/* The legacy shape names the function first, as OpenAI's did:
 * {"function_call":{"name":"f","arguments":""}}, then the arguments. */
static int send_tool_start(struct oai_out *w, const struct answer *a, int i, const struct cev *ev)
{
    bool legacy = a->legacy_functions;
    struct buf d = BUF_INIT(CHUNK_MAX);
    int rc = legacy ? buf_puts(&d, "{\"function_call\":{\"name\":")
                    : buf_printf(&d, "{\"tool_calls\":[{\"index\":%d,\"id\":", ev->tool);
    if (!rc && !legacy)
        rc = buf_json_str(&d, ev->s, ev->n);
    if (!rc && !legacy)
        rc = buf_puts(&d, ",\"type\":\"function\",\"function\":{\"name\":");
    if (!rc)
        rc = buf_json_str(&d, ev->name, ev->name_n);
    if (!rc)
        rc = buf_puts(&d, legacy ? ",\"arguments\":\"\"}}" : ",\"arguments\":\"\"}}]}");
    if (!rc)
        rc = send_delta(w, a, i, d.p, d.len, NULL);
    buf_free(&d);
    return rc;
}

static int send_tool_args(struct oai_out *w, const struct answer *a, int i, const struct cev *ev)
{
    bool legacy = a->legacy_functions;
    struct buf d = BUF_INIT(CHUNK_MAX);
    int rc = legacy ? buf_puts(&d, "{\"function_call\":{\"arguments\":")
                    : buf_printf(&d, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":",
                                 ev->tool);
    if (!rc)
        rc = buf_json_str(&d, ev->s, ev->n);
    if (!rc)
        rc = buf_puts(&d, legacy ? "}}" : "}}]}");
    if (!rc)
        rc = send_delta(w, a, i, d.p, d.len, NULL);
    buf_free(&d);
    return rc;
}

/* One streamed event (answer.h says which come, and how settled). */
static int event_of(void *ws, const struct answer *a, int i, const struct cev *ev)
{
    struct oai_out *w = ws;
    int rc = AXON_OK;
    switch (ev->kind) {
    case CEV_TEXT:
    case CEV_REASONING:
    case CEV_REFUSAL:
        rc = ensure_role(w, a, i);
        if (!rc)
            rc = send_text(w, a, i, ev->kind == CEV_TEXT        ? "content"
                                    : ev->kind == CEV_REASONING ? "reasoning_content"
                                                                : "refusal",
                           ev->s, ev->n, ev->logprobs);
        return rc;
    case CEV_TOOL_START:
        rc = ensure_role(w, a, i);
        if (!rc)
            rc = send_tool_start(w, a, i, ev);
        return rc;
    case CEV_TOOL_ARGS:
        return send_tool_args(w, a, i, ev);
    case CEV_FINISH:
        rc = ensure_role(w, a, i);
        if (!rc)
            rc = send_delta(w, a, i, "{}", 2, ev->finish);
        return rc;
    default:
        return AXON_OK; /* the rest is kept by the answer, never shown as it comes */
    }
}

/* A stream's heartbeat comment, starting the stream if it has not (lighttpd
 * notices a gone client only when we write). Nothing for a JSON answer. */
static int ping_of(void *ws, const struct answer *a)
{
    (void)ws;
    if (!a->stream)
        return AXON_OK; /* a JSON answer has no room for a heartbeat */
    int rc = AXON_OK;
    if (!answer_started(a))
        rc = io_begin(a->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_sse_comment(a->r, "ping");
    return rc;
}

/* ---- the end ------------------------------------------------------------------- */

/* {"name":…,"arguments":…} of one call; arguments "{}" when none came. */
static int function_json(struct buf *b, const struct answer_tool_call *tc)
{
    int rc = buf_puts(b, "{\"name\":");
    if (!rc)
        rc = buf_json_str(b, tc->name, tc->name_len);
    if (!rc)
        rc = buf_puts(b, ",\"arguments\":");
    if (!rc)
        rc = tc->args.len ? buf_json_str(b, tc->args.p, tc->args.len) : buf_puts(b, "\"{}\"");
    if (!rc)
        rc = buf_puts(b, "}");
    return rc;
}

static int message_json(struct buf *b, const struct answer *a, int i, struct api_error *e)
{
    const struct answer_choice *c = &a->c[i];
    const char *text;
    size_t tn;
    int rc = answer_content(a, i, &text, &tn, e);
    if (rc)
        return rc;
    rc = buf_puts(b, "{\"role\":\"assistant\",\"content\":");
    if (!rc)
        rc = (tn == 0 && (c->ntools || c->refusal.len)) ? buf_puts(b, "null") : buf_json_str(b, text, tn);
    if (!rc)
        rc = buf_puts(b, ",\"refusal\":");
    if (!rc)
        rc = c->refusal.len ? buf_json_str(b, c->refusal.p, c->refusal.len) : buf_puts(b, "null");
    if (!rc)
        rc = buf_puts(b, ",\"annotations\":[]");
    if (!rc && c->reasoning.len) {
        rc = buf_puts(b, ",\"reasoning_content\":");
        if (!rc)
            rc = buf_json_str(b, c->reasoning.p, c->reasoning.len);
    }
    if (!rc && c->ntools && a->legacy_functions) {
        /* ChatCompletionResponseMessage.function_call: no id, no type. */
        rc = buf_puts(b, ",\"function_call\":");
        if (!rc)
            rc = function_json(b, &c->tools[0]);
    } else if (!rc && c->ntools) {
        rc = buf_puts(b, ",\"tool_calls\":[");
        for (int t = 0; !rc && t < c->ntools; t++) {
            const struct answer_tool_call *tc = &c->tools[t];
            rc = buf_puts(b, t ? ",{\"id\":" : "{\"id\":");
            if (!rc)
                rc = buf_json_str(b, tc->id, tc->id_len);
            if (!rc)
                rc = buf_puts(b, ",\"type\":\"function\",\"function\":");
            if (!rc)
                rc = function_json(b, tc);
            if (!rc)
                rc = buf_puts(b, "}");
        }
        if (!rc)
            rc = buf_puts(b, "]");
    }
    if (!rc)
        rc = buf_puts(b, "}");
    return rc;
}

/* ,"logprobs":{"content":[...],"refusal":[...]} or ,"logprobs":null */
static int logprobs_json(struct buf *b, const struct answer_choice *c)
{
    if (!c->lp_content && !c->lp_refusal)
        return buf_puts(b, ",\"logprobs\":null");
    int rc = buf_printf(b, ",\"logprobs\":{\"content\":%s",
                        c->lp_content ? json_object_to_json_string_ext(c->lp_content, JSONV_OUT)
                                      : "null");
    if (!rc)
        rc = buf_printf(b, ",\"refusal\":%s}",
                        c->lp_refusal ? json_object_to_json_string_ext(c->lp_refusal, JSONV_OUT)
                                      : "null");
    return rc;
}

/* All choices finished: the usage chunk (when asked) and [DONE], or the
 * whole chat.completion. */
static int finish_of(void *ws, const struct answer *a, struct api_error *e)
{
    struct oai_out *w = ws;
    struct usage u;
    answer_usage(a, &u);
    int rc = AXON_OK;
    if (a->stream) {
        if (a->include_usage) {
            rc = chunk_head(w, a);
            if (!rc)
                rc = buf_puts(&w->chunk, "\"choices\":[],\"usage\":");
            if (!rc)
                rc = oai_usage_json(&w->chunk, &u);
            if (!rc)
                rc = buf_puts(&w->chunk, "}");
            if (!rc)
                rc = send_chunk(w, a);
        }
        if (!rc)
            rc = io_sse_data(a->r, "[DONE]", 6);
        return rc;
    }
    struct buf b = BUF_INIT(ANSWER_JSON_MAX);
    rc = buf_puts(&b, "{\"id\":\"");
    if (!rc)
        rc = buf_puts(&b, w->id);
    if (!rc)
        rc = buf_puts(&b, "\",\"object\":\"chat.completion\",\"created\":");
    if (!rc)
        rc = buf_i64(&b, w->created);
    if (!rc)
        rc = buf_puts(&b, ",\"model\":");
    if (!rc)
        rc = buf_json_str(&b, a->model, strlen(a->model));
    if (!rc)
        rc = buf_puts(&b, ",\"choices\":[");
    for (int i = 0; !rc && i < a->n; i++) {
        rc = buf_puts(&b, i ? ",{\"index\":" : "{\"index\":");
        if (!rc)
            rc = buf_i64(&b, i);
        if (!rc)
            rc = buf_puts(&b, ",\"message\":");
        if (!rc)
            rc = message_json(&b, a, i, e);
        if (!rc)
            rc = logprobs_json(&b, &a->c[i]);
        if (!rc)
            rc = buf_puts(&b, ",\"finish_reason\":\"");
        if (!rc)
            rc = buf_puts(&b, a->c[i].finish ? a->c[i].finish : "stop"); /* set by every CEV_FINISH */
        if (!rc)
            rc = buf_puts(&b, "\"}");
    }
    if (!rc)
        rc = buf_puts(&b, "],\"usage\":");
    if (!rc)
        rc = oai_usage_json(&b, &u);
    if (!rc)
        rc = buf_puts(&b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"");
    if (!rc)
        rc = buf_puts(&b, w->fingerprint);
    if (!rc)
        rc = buf_puts(&b, "\"");
    if (!rc && a->conversation_id) {
        rc = buf_puts(&b, ",\"conversation_id\":\"");
        if (!rc)
            rc = buf_puts(&b, a->conversation_id);
        if (!rc)
            rc = buf_puts(&b, "\"");
    }
    if (!rc)
        rc = buf_puts(&b, "}");
    if (!rc)
        rc = io_send_json(a->r, 200, b.p, b.len, NULL);
    else if (rc == AXON_ETOOBIG)
        api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The answer is larger than Axon's cap.");
    buf_free(&b);
    return rc;
}

/* The request failed: a real HTTP error before the stream started, else
 * data: {"error":...} and data: [DONE] - never a fake finish_reason. */
static int error_of(void *ws, const struct answer *a, const struct api_error *e)
{
    (void)ws;
    if (!answer_started(a))
        return errors_send_api(a->r, e);
    struct buf b = BUF_INIT(16384);
    int rc = errors_envelope_api(&b, e);
    if (!rc)
        rc = io_sse_data(a->r, b.p, b.len);
    if (!rc)
        rc = io_sse_data(a->r, "[DONE]", 6);
    buf_free(&b);
    return rc;
}

const struct answer_writer oai_out_writer = {
    .name = "chat.completion",
    .open = open_of,
    .close = close_of,
    .event = event_of,
    .ping = ping_of,
    .finish = finish_of,
    .error = error_of,
};
