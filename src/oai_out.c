/* oai_out.c - canonical answer events to OpenAI chunks or one completion. */
#include "oai_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claude_schema.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "log.h"
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

static void choice_init(struct oai_choice *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->content, OAI_MAX_ANSWER);
    buf_init(&c->reasoning, OAI_MAX_ANSWER);
    buf_init(&c->refusal, OAI_MAX_ANSWER);
}

void oai_out_init(struct oai_out *o, struct axon_req *r, int n, bool stream, bool include_usage,
                  const char *model)
{
    memset(o, 0, sizeof *o);
    o->r = r;
    o->n = n;
    o->stream = stream;
    o->include_usage = include_usage;
    make_id(o->id, sizeof o->id);
    o->created = (long)time(NULL);
    snprintf(o->model, sizeof o->model, "%s", model);
    /* Stable per build, as OpenAI's is per backend configuration. */
    unsigned char d[SHA256_LEN];
    sha256("axon " AXON_VERSION, strlen("axon " AXON_VERSION), d);
    memcpy(o->fingerprint, "fp_", 3);
    text_hex(d, 5, o->fingerprint + 3);
    o->c = xcalloc((size_t)n, sizeof *o->c);
    for (int i = 0; i < n; i++)
        choice_init(&o->c[i]);
    buf_init(&o->chunk, CHUNK_MAX);
}

static void choice_free(struct oai_choice *c)
{
    json_object_put(c->thinking);
    c->thinking = NULL;
    json_object_put(c->lp_content);
    json_object_put(c->lp_refusal);
    c->lp_content = c->lp_refusal = NULL;
    buf_free(&c->content);
    buf_free(&c->reasoning);
    buf_free(&c->refusal);
    for (int t = 0; t < c->ntools; t++) {
        free(c->tools[t].id);
        free(c->tools[t].name);
        buf_free(&c->tools[t].args);
    }
    free(c->tools);
    c->tools = NULL;
    c->ntools = 0;
}

void oai_out_free(struct oai_out *o)
{
    for (int i = 0; o->c && i < o->n; i++)
        choice_free(&o->c[i]);
    free(o->c);
    o->c = NULL;
    buf_free(&o->chunk);
}

bool oai_out_started(const struct oai_out *o)
{
    return o->r->status != 0;
}

bool oai_out_delivered(const struct oai_out *o, int i)
{
    return o->c[i].role_sent;
}

void oai_out_reset_choice(struct oai_out *o, int i)
{
    choice_free(&o->c[i]);
    choice_init(&o->c[i]);
}

int oai_usage_json(struct buf *b, const struct usage *u)
{
    long prompt = u->input + u->cache_read + u->cache_write;
    return buf_printf(b,
                      "{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld,"
                      "\"prompt_tokens_details\":{\"cached_tokens\":%ld,\"cache_write_tokens\":%ld,"
                      "\"audio_tokens\":0},"
                      "\"completion_tokens_details\":{\"reasoning_tokens\":%ld,\"audio_tokens\":0,"
                      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
                      prompt, u->output, prompt + u->output, u->cache_read, u->cache_write,
                      u->reasoning);
}

/* ---- streaming ------------------------------------------------------------ */

/* Everything up to and including the choice's "delta": */
static int chunk_head(struct oai_out *o)
{
    buf_reset(&o->chunk);
    int rc = buf_printf(&o->chunk, "{\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
                                   "\"model\":",
                        o->id, o->created);
    if (!rc)
        rc = buf_json_str(&o->chunk, o->model, strlen(o->model));
    if (!rc)
        rc = buf_printf(&o->chunk, ",\"service_tier\":\"default\",\"system_fingerprint\":\"%s\",",
                        o->fingerprint);
    /* Axon's extension rides on the stream's first chunk only. */
    if (!rc && o->conversation_id && !o->conversation_sent) {
        o->conversation_sent = true;
        rc = buf_printf(&o->chunk, "\"conversation_id\":\"%s\",", o->conversation_id);
    }
    return rc;
}

static int send_chunk(struct oai_out *o)
{
    int rc = AXON_OK;
    if (!oai_out_started(o))
        rc = io_begin(o->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_sse_data(o->r, o->chunk.p, o->chunk.len);
    return rc;
}

/* A chunk for choice i whose delta is the JSON text delta (or "{}"), with
 * the upstream's logprobs object if any. */
static int send_delta_lp(struct oai_out *o, int i, const char *delta, size_t dn,
                         const char *finish, json_object *logprobs)
{
    int rc = chunk_head(o);
    if (!rc)
        rc = buf_printf(&o->chunk, "\"choices\":[{\"index\":%d,\"delta\":", i);
    if (!rc)
        rc = buf_append(&o->chunk, delta, dn);
    if (!rc)
        rc = buf_puts(&o->chunk, ",\"logprobs\":");
    if (!rc)
        rc = buf_puts(&o->chunk, logprobs ? json_object_to_json_string_ext(logprobs, JSONV_OUT)
                                          : "null");
    if (!rc)
        rc = buf_puts(&o->chunk, ",\"finish_reason\":");
    if (!rc)
        rc = buf_json_str_or_null(&o->chunk, finish);
    if (!rc)
        rc = buf_puts(&o->chunk, "}]}");
    if (!rc)
        rc = send_chunk(o);
    return rc;
}

static int send_delta(struct oai_out *o, int i, const char *delta, size_t dn, const char *finish)
{
    return send_delta_lp(o, i, delta, dn, finish, NULL);
}

/* OpenAI's first chunk of a choice carries the role and an empty content. */
static int ensure_role(struct oai_out *o, int i)
{
    if (o->c[i].role_sent)
        return AXON_OK;
    o->c[i].role_sent = true;
    static const char d[] = "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}";
    return send_delta(o, i, d, sizeof d - 1, NULL);
}

/* A delta with one string field: {"content":"..."}, {"reasoning_content":"..."}
 * or {"refusal":"..."}. */
static int send_text(struct oai_out *o, int i, const char *field, const char *s, size_t n,
                     json_object *logprobs)
{
    struct buf d = BUF_INIT(CHUNK_MAX);
    int rc = buf_printf(&d, "{\"%s\":", field);
    if (!rc)
        rc = buf_json_str(&d, s, n);
    if (!rc)
        rc = buf_puts(&d, "}");
    if (!rc)
        rc = send_delta_lp(o, i, d.p, d.len, NULL, logprobs);
    buf_free(&d);
    return rc;
}

/* Keeps a non-streamed answer's logprobs: the items of the upstream
 * object's `key` array, appended to *acc. */
static void keep_logprobs(json_object **acc, json_object *logprobs, const char *key)
{
    json_object *items = NULL;
    if (!json_object_object_get_ex(logprobs, key, &items) ||
        !json_object_is_type(items, json_type_array))
        return;
    if (!*acc)
        *acc = json_object_new_array();
    for (size_t k = 0; k < json_object_array_length(items); k++)
        json_object_array_add(*acc, json_object_get(json_object_array_get_idx(items, k)));
}

/* The legacy shape names the function first, as OpenAI's did:
 * {"function_call":{"name":"f","arguments":""}}, then the arguments. */
static int send_tool_start(struct oai_out *o, int i, const struct oai_tool_call *t, int k)
{
    struct buf d = BUF_INIT(CHUNK_MAX);
    int rc = o->legacy_functions ? buf_puts(&d, "{\"function_call\":{\"name\":")
                                 : buf_printf(&d, "{\"tool_calls\":[{\"index\":%d,\"id\":", k);
    if (!rc && !o->legacy_functions)
        rc = buf_json_str(&d, t->id, t->id_len);
    if (!rc && !o->legacy_functions)
        rc = buf_puts(&d, ",\"type\":\"function\",\"function\":{\"name\":");
    if (!rc)
        rc = buf_json_str(&d, t->name, t->name_len);
    if (!rc)
        rc = buf_puts(&d, o->legacy_functions ? ",\"arguments\":\"\"}}" : ",\"arguments\":\"\"}}]}");
    if (!rc)
        rc = send_delta(o, i, d.p, d.len, NULL);
    buf_free(&d);
    return rc;
}

static int send_tool_args(struct oai_out *o, int i, int k, const char *s, size_t n)
{
    struct buf d = BUF_INIT(CHUNK_MAX);
    int rc = o->legacy_functions
                 ? buf_puts(&d, "{\"function_call\":{\"arguments\":")
                 : buf_printf(&d, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":", k);
    if (!rc)
        rc = buf_json_str(&d, s, n);
    if (!rc)
        rc = buf_puts(&d, o->legacy_functions ? "}}" : "}}]}");
    if (!rc)
        rc = send_delta(o, i, d.p, d.len, NULL);
    buf_free(&d);
    return rc;
}

/* ---- events ----------------------------------------------------------------- */

/* Appends a thinking block to the choice's list (takes b). */
static void add_thinking(struct oai_choice *c, json_object *b)
{
    if (!c->thinking)
        c->thinking = json_object_new_array();
    json_object_array_add(c->thinking, b);
}

void oai_json_error(struct api_error *e)
{
    api_error_set(e, 502, ERR_SERVER, "invalid_json_output", NULL,
                  "The model's answer is not valid JSON, which response_format json_object "
                  "requires. Retrying may help.");
}

/* json_object mode: the answer, less white space and a Markdown fence the
 * model may wrap it in, must be one JSON value. */
static bool answer_is_json(const struct buf *content, const char **s, size_t *n)
{
    *s = content->p ? content->p : "";
    *n = content->len;
    const char *p = *s;
    size_t len = *n;
    /* memchr, not strchr: the answer may hold NUL bytes (a decoded \u0000),
     * and strchr would take them for white space. */
    while (len && memchr(" \t\r\n", *p, 4)) {
        p++;
        len--;
    }
    while (len && memchr(" \t\r\n", p[len - 1], 4))
        len--;
    if (len >= 6 && !memcmp(p, "```", 3) && !memcmp(p + len - 3, "```", 3)) {
        const char *nl = memchr(p, '\n', len);
        if (nl) {
            len -= (size_t)(nl + 1 - p) + 3;
            p = nl + 1;
        }
    }
    *s = p;
    *n = len;
    return jsonv_check(p, len, JSONV_MAX_DEPTH) == AXON_OK;
}

static bool schema_failed(const struct oai_out *o)
{
    return o->schema_refused;
}

void oai_out_answer_error(const struct oai_out *o, struct api_error *e)
{
    if (!schema_failed(o)) {
        oai_json_error(e);
        return;
    }
    /* 502, as for json_object mode: the upstream broke the contract, and
     * OpenAI's SDKs retry a 502 by themselves. */
    bool tool = !strncmp(o->schema_violation, "tool ", 5);
    api_error_set(e, 502, ERR_SERVER, "schema_violation", tool ? "tools" : "response_format",
                  "The model's answer breaks the %s schema (%s), which strict requires. "
                  "Retrying may help.", tool ? "strict tool's parameters" : "response_format",
                  o->schema_violation);
}

/* A violation found: logged; refused, or said in a header (oai_out.h). */
static void schema_violated(struct oai_out *o, bool refuse)
{
    o->schema_refused = refuse;
    log_msg(AXON_LOG_WARN, "request %s: the answer breaks the client's schema at %s%s", o->r->id,
            o->schema_violation, refuse ? "; refused (strict)" : "");
    if (!refuse && !o->stream) {
        char h[sizeof o->schema_violation + 32];
        snprintf(h, sizeof h, "x-axon-schema-violation: %s", o->schema_violation);
        text_append_header(o->r->resp_headers, sizeof o->r->resp_headers, h);
    }
}

/* The parameters of strict function tool `name` in the request's tools, or NULL. */
static json_object *strict_params(json_object *tools, const char *name, size_t name_len)
{
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *fn = NULL, *v = NULL, *p = NULL;
        /* By length: "f\u0000x" is not the tool "f". */
        if (!json_object_object_get_ex(json_object_array_get_idx(tools, i), "function", &fn) ||
            !json_object_object_get_ex(fn, "name", &v) ||
            (size_t)json_object_get_string_len(v) != name_len ||
            memcmp(json_object_get_string(v), name, name_len))
            continue;
        if (json_object_object_get_ex(fn, "strict", &v) && json_object_get_boolean(v) &&
            json_object_object_get_ex(fn, "parameters", &p) && json_object_is_type(p, json_type_object))
            return p;
        return NULL;
    }
    return NULL;
}

/* A finished answer against the client's schemas (oai_out.h, schema and
 * tools): the text when it stopped, each strict tool's arguments. */
static void check_schema(struct oai_out *o, const struct oai_choice *c)
{
    if (o->schema_violation[0])
        return; /* the first is enough */
    if (o->schema && !strcmp(c->finish, "stop") &&
        claude_schema_check(o->schema, c->content.p ? c->content.p : "", c->content.len,
                            o->schema_violation, sizeof o->schema_violation)) {
        schema_violated(o, o->schema_strict);
        return;
    }
    if (!o->tools || strcmp(c->finish, "tool_calls"))
        return; /* arguments cut by max_tokens are no one's schema */
    for (int k = 0; k < c->ntools; k++) {
        json_object *params = strict_params(o->tools, c->tools[k].name, c->tools[k].name_len);
        char w[sizeof o->schema_violation - 80];
        if (!params || !claude_schema_check(params, c->tools[k].args.p ? c->tools[k].args.p : "{}",
                                            c->tools[k].args.p ? c->tools[k].args.len : 2, w, sizeof w))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s", c->tools[k].name);
        for (char *q = name; *q; q++) /* a header value: ASCII only */
            if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                *q = '?';
        snprintf(o->schema_violation, sizeof o->schema_violation, "tool %s %s", name, w);
        schema_violated(o, true);
        return;
    }
}

int oai_out_event(struct oai_out *o, int i, const struct cev *ev)
{
    struct oai_choice *c = &o->c[i];
    int rc = AXON_OK;
    if (c->finished)
        return AXON_OK; /* events after the finish (message_stop) add nothing */
    switch (ev->kind) {
    case CEV_START:
        if (!oai_out_started(o) && ev->s && *ev->s) {
            snprintf(o->model, sizeof o->model, "%s", ev->s);
            /* A long name cut mid-character: tests/fuzz/regressions/anthropic/. */
            text_utf8_trim(o->model);
        }
        return AXON_OK;
    case CEV_SIGNATURE: {
        /* The block's text is the reasoning since the previous block. */
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", json_object_new_string("thinking"));
        json_object_object_add(b, "thinking",
                               json_object_new_string_len(c->reasoning.p ? c->reasoning.p + c->thinking_from : "",
                                                          (int)(c->reasoning.len - c->thinking_from)));
        json_object_object_add(b, "signature", json_object_new_string_len(ev->s, (int)ev->n));
        add_thinking(c, b);
        c->thinking_from = c->reasoning.len;
        return AXON_OK;
    }
    case CEV_REDACTED: {
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", json_object_new_string("redacted_thinking"));
        json_object_object_add(b, "data", json_object_new_string_len(ev->s, (int)ev->n));
        add_thinking(c, b);
        return AXON_OK;
    }
    case CEV_TEXT:
    case CEV_REASONING:
    case CEV_REFUSAL: {
        if (ev->n == 0)
            return AXON_OK;
        if (ev->kind == CEV_REASONING && c->thinking && c->reasoning.len &&
            c->thinking_from == c->reasoning.len) {
            /* A new thinking block after a signed one (interleaved thinking,
             * tool calls or text between): a blank line keeps the pieces
             * apart in reasoning_content. The stored block starts after it,
             * so its text, which the signature covers, stays the same. */
            rc = buf_append(&c->reasoning, "\n\n", 2);
            if (!rc && o->stream)
                rc = ensure_role(o, i);
            if (!rc && o->stream)
                rc = send_text(o, i, "reasoning_content", "\n\n", 2, NULL);
            if (rc)
                return rc;
            c->thinking_from = c->reasoning.len;
        }
        struct buf *acc = ev->kind == CEV_TEXT ? &c->content
                          : ev->kind == CEV_REASONING ? &c->reasoning
                                                      : &c->refusal;
        rc = buf_append(acc, ev->s, ev->n);
        if (!rc && !o->stream && ev->logprobs)
            keep_logprobs(ev->kind == CEV_TEXT ? &c->lp_content : &c->lp_refusal, ev->logprobs,
                          ev->kind == CEV_TEXT ? "content" : "refusal");
        if (!rc && o->stream)
            rc = ensure_role(o, i);
        if (!rc && o->stream)
            rc = send_text(o, i, ev->kind == CEV_TEXT        ? "content"
                                 : ev->kind == CEV_REASONING ? "reasoning_content"
                                                             : "refusal",
                           ev->s, ev->n, ev->logprobs);
        return rc;
    }
    case CEV_TOOL_START: {
        if (o->legacy_functions && c->ntools >= 1)
            return AXON_OK; /* one call fits the legacy shape; later ones are dropped */
        if (c->ntools >= OAI_MAX_TOOLS)
            return AXON_ETOOBIG;
        c->tools = xrealloc(c->tools, (size_t)(c->ntools + 1) * sizeof *c->tools);
        struct oai_tool_call *t = &c->tools[c->ntools];
        t->id = xstrndup(ev->s, ev->n);
        t->id_len = ev->n;
        t->name_len = ev->name ? ev->name_n : 0;
        t->name = xstrndup(ev->name ? ev->name : "", t->name_len);
        buf_init(&t->args, OAI_MAX_ANSWER);
        c->ntools++;
        if (o->stream)
            rc = ensure_role(o, i);
        if (!rc && o->stream)
            rc = send_tool_start(o, i, t, c->ntools - 1);
        return rc;
    }
    case CEV_TOOL_ARGS:
        if (o->legacy_functions && ev->tool >= 1)
            return AXON_OK; /* a dropped call's arguments */
        if (ev->tool < 0 || ev->tool >= c->ntools)
            return AXON_EINVAL;
        if (ev->n == 0)
            return AXON_OK;
        rc = buf_append(&c->tools[ev->tool].args, ev->s, ev->n);
        if (!rc && o->stream)
            rc = send_tool_args(o, i, ev->tool, ev->s, ev->n);
        return rc;
    case CEV_FINISH:
        c->finished = true;
        c->finish = ev->finish ? ev->finish : "stop";
        /* Clients end their agent loop on "stop": any tool call means
         * tool_calls (a mistranslation LiteLLM and Gemini's layer made). */
        if (c->ntools && !strcmp(c->finish, "stop"))
            c->finish = "tool_calls";
        if (o->legacy_functions && c->ntools && !strcmp(c->finish, "tool_calls"))
            c->finish = "function_call";
        if (ev->usage)
            c->usage = *ev->usage;
        check_schema(o, c);
        if (o->stream) {
            const char *s;
            size_t n;
            if (o->json_mode && !strcmp(c->finish, "stop") && !answer_is_json(&c->content, &s, &n)) {
                o->json_failed = true; /* the caller answers with the error chunk */
                return AXON_EINVAL;
            }
            if (schema_failed(o))
                return AXON_EINVAL; /* the error chunk instead of the finish */
            rc = ensure_role(o, i);
            if (!rc)
                rc = send_delta(o, i, "{}", 2, c->finish);
        }
        return rc;
    }
    return AXON_EINVAL;
}

static void sum_usage(const struct oai_out *o, struct usage *u)
{
    memset(u, 0, sizeof *u);
    for (int i = 0; i < o->n; i++) {
        u->input += o->c[i].usage.input;
        u->cache_read += o->c[i].usage.cache_read;
        u->cache_write += o->c[i].usage.cache_write;
        u->output += o->c[i].usage.output;
        u->reasoning += o->c[i].usage.reasoning;
    }
}

/* {"name":…,"arguments":…} of one call; arguments "{}" when none came. */
static int function_json(struct buf *b, const struct oai_tool_call *tc)
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

static int message_json(struct buf *b, const struct oai_out *o, const struct oai_choice *c,
                        struct api_error *e)
{
    const char *text = c->content.p ? c->content.p : "";
    size_t tn = c->content.len;
    if (o->json_mode && !strcmp(c->finish, "stop") && !answer_is_json(&c->content, &text, &tn)) {
        oai_json_error(e);
        return AXON_EINVAL;
    }
    if (schema_failed(o)) {
        oai_out_answer_error(o, e);
        return AXON_EINVAL;
    }
    int rc = buf_puts(b, "{\"role\":\"assistant\",\"content\":");
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
    if (!rc && c->ntools && o->legacy_functions) {
        /* ChatCompletionResponseMessage.function_call: no id, no type. */
        rc = buf_puts(b, ",\"function_call\":");
        if (!rc)
            rc = function_json(b, &c->tools[0]);
    } else if (!rc && c->ntools) {
        rc = buf_puts(b, ",\"tool_calls\":[");
        for (int t = 0; !rc && t < c->ntools; t++) {
            const struct oai_tool_call *tc = &c->tools[t];
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
static int logprobs_json(struct buf *b, const struct oai_choice *c)
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

json_object *oai_out_message(const struct oai_out *o, int i)
{
    const struct oai_choice *c = &o->c[i];
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("assistant"));
    json_object_object_add(m, "content",
                           c->content.len || !c->ntools
                               ? json_object_new_string_len(c->content.p ? c->content.p : "",
                                                            (int)c->content.len)
                               : NULL);
    if (c->ntools) {
        json_object *calls = json_object_new_array();
        for (int t = 0; t < c->ntools; t++) {
            json_object *call = json_object_new_object(), *fn = json_object_new_object();
            json_object_object_add(call, "id", json_object_new_string_len(c->tools[t].id,
                                                                          (int)c->tools[t].id_len));
            json_object_object_add(call, "type", json_object_new_string("function"));
            json_object_object_add(fn, "name", json_object_new_string_len(c->tools[t].name,
                                                                          (int)c->tools[t].name_len));
            json_object_object_add(fn, "arguments",
                                   c->tools[t].args.len
                                       ? json_object_new_string_len(c->tools[t].args.p,
                                                                    (int)c->tools[t].args.len)
                                       : json_object_new_string("{}"));
            json_object_object_add(call, "function", fn);
            json_object_array_add(calls, call);
        }
        json_object_object_add(m, "tool_calls", calls);
    }
    if (c->refusal.len)
        json_object_object_add(m, "refusal",
                               json_object_new_string_len(c->refusal.p, (int)c->refusal.len));
    if (c->reasoning.len)
        json_object_object_add(m, "reasoning_content",
                               json_object_new_string_len(c->reasoning.p, (int)c->reasoning.len));
    if (c->thinking)
        json_object_object_add(m, "thinking_blocks", json_object_get(c->thinking));
    return m;
}

bool oai_out_valid(const struct oai_out *o)
{
    if (schema_failed(o))
        return false;
    if (!o->json_mode)
        return true;
    if (o->json_failed)
        return false;
    for (int i = 0; i < o->n; i++) {
        const char *s;
        size_t n;
        if (o->c[i].finish && !strcmp(o->c[i].finish, "stop") &&
            !answer_is_json(&o->c[i].content, &s, &n))
            return false;
    }
    return true;
}

int oai_out_finish(struct oai_out *o, struct api_error *e)
{
    struct usage u;
    sum_usage(o, &u);
    int rc = AXON_OK;
    if (o->stream) {
        if (o->include_usage) {
            rc = chunk_head(o);
            if (!rc)
                rc = buf_puts(&o->chunk, "\"choices\":[],\"usage\":");
            if (!rc)
                rc = oai_usage_json(&o->chunk, &u);
            if (!rc)
                rc = buf_puts(&o->chunk, "}");
            if (!rc)
                rc = send_chunk(o);
        }
        if (!rc)
            rc = io_sse_data(o->r, "[DONE]", 6);
        return rc;
    }
    struct buf b = BUF_INIT(ANSWER_JSON_MAX);
    rc = buf_printf(&b, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":",
                    o->id, o->created);
    if (!rc)
        rc = buf_json_str(&b, o->model, strlen(o->model));
    if (!rc)
        rc = buf_puts(&b, ",\"choices\":[");
    for (int i = 0; !rc && i < o->n; i++) {
        rc = buf_printf(&b, "%s{\"index\":%d,\"message\":", i ? "," : "", i);
        if (!rc)
            rc = message_json(&b, o, &o->c[i], e);
        if (!rc)
            rc = logprobs_json(&b, &o->c[i]);
        if (!rc)
            rc = buf_printf(&b, ",\"finish_reason\":\"%s\"}", o->c[i].finish);
    }
    if (!rc)
        rc = buf_puts(&b, "],\"usage\":");
    if (!rc)
        rc = oai_usage_json(&b, &u);
    if (!rc)
        rc = buf_printf(&b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"%s\"",
                        o->fingerprint);
    if (!rc && o->conversation_id)
        rc = buf_printf(&b, ",\"conversation_id\":\"%s\"", o->conversation_id);
    if (!rc)
        rc = buf_puts(&b, "}");
    if (!rc)
        rc = io_send_json(o->r, 200, b.p, b.len, NULL);
    else if (rc == AXON_ETOOBIG)
        api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The answer is larger than Axon's cap.");
    buf_free(&b);
    return rc;
}

int oai_out_error(struct oai_out *o, const struct api_error *e)
{
    if (!oai_out_started(o))
        return errors_send_api(o->r, e);
    struct buf b = BUF_INIT(16384);
    int rc = errors_envelope_api(&b, e);
    if (!rc)
        rc = io_sse_data(o->r, b.p, b.len);
    if (!rc)
        rc = io_sse_data(o->r, "[DONE]", 6);
    buf_free(&b);
    return rc;
}

int oai_out_check(const struct oai_out *o, int rc, struct api_error *e)
{
    if (rc == AXON_OK && !oai_out_valid(o)) {
        oai_out_answer_error(o, e);
        return AXON_EINVAL;
    }
    return rc;
}

int oai_out_close(struct oai_out *o, int rc, struct api_error *e)
{
    if (rc == AXON_OK)
        rc = oai_out_finish(o, e);
    if (rc && rc != AXON_ECLIENT_GONE) {
        /* A check that failed while streaming (json_object mode, a strict
         * schema) says so rather than a bare 502. */
        if (o->json_failed || o->schema_refused)
            oai_out_answer_error(o, e);
        if (!e->status)
            api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The answer could not be completed.");
        (void)oai_out_error(o, e);
    }
    o->r->client_gone = rc == AXON_ECLIENT_GONE;
    for (int i = 0; i < o->n; i++) {
        o->r->tokens_in += o->c[i].usage.input + o->c[i].usage.cache_read +
                           o->c[i].usage.cache_write;
        o->r->tokens_out += o->c[i].usage.output;
    }
    return rc;
}

int oai_out_ping(struct oai_out *o)
{
    if (!o->stream)
        return AXON_OK; /* a JSON answer has no room for a heartbeat */
    int rc = AXON_OK;
    if (!oai_out_started(o))
        rc = io_begin(o->r, 200, SSE_TYPE, SSE_HEADERS);
    if (!rc)
        rc = io_sse_comment(o->r, "ping");
    return rc;
}
