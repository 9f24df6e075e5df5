/* answer.c - the canonical answer: events kept choice by choice, the
 * answer's own checks, the stored turn; each streamed event handed to the
 * ingress's writer (answer.h). */
#include "answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claude_schema.h"
#include "errors.h"
#include "log.h"
#include "jsonv.h"
#include "text.h"

static void choice_init(struct answer_choice *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->content, OAI_MAX_ANSWER);
    buf_init(&c->reasoning, OAI_MAX_ANSWER);
    buf_init(&c->refusal, OAI_MAX_ANSWER);
}

void answer_init(struct answer *a, struct axon_req *r, int n, bool stream, bool include_usage,
                 const char *model, const struct answer_writer *wr, void *w)
{
    memset(a, 0, sizeof *a);
    a->r = r;
    a->n = n;
    a->stream = stream;
    a->include_usage = include_usage;
    text_join(a->model, sizeof a->model, model, NULL, NULL);
    a->c = xcalloc((size_t)n, sizeof *a->c);
    for (int i = 0; i < n; i++)
        choice_init(&a->c[i]);
    a->wr = wr;
    a->w = w;
    wr->open(w, a);
}

static void choice_free(struct answer_choice *c)
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

void answer_free(struct answer *a)
{
    for (int i = 0; a->c && i < a->n; i++)
        choice_free(&a->c[i]);
    free(a->c);
    a->c = NULL;
    if (a->wr) {
        a->wr->close(a->w);
        a->wr = NULL;
    }
}

bool answer_started(const struct answer *a)
{
    return a->r->status != 0;
}

bool answer_delivered(const struct answer *a, int i)
{
    return a->c[i].delivered;
}

void answer_reset_choice(struct answer *a, int i)
{
    choice_free(&a->c[i]);
    choice_init(&a->c[i]);
}

void answer_usage(const struct answer *a, struct usage *u)
{
    memset(u, 0, sizeof *u);
    for (int i = 0; i < a->n; i++) {
        u->input += a->c[i].usage.input;
        u->cache_read += a->c[i].usage.cache_read;
        u->cache_write += a->c[i].usage.cache_write;
        u->output += a->c[i].usage.output;
        u->reasoning += a->c[i].usage.reasoning;
    }
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

/* Appends a thinking block to the choice's list (takes b). */
static void add_thinking(struct answer_choice *c, json_object *b)
{
    if (!c->thinking)
        c->thinking = json_object_new_array();
    json_object_array_add(c->thinking, b);
}

/* ---- the answer's checks ------------------------------------------------------- */

void answer_json_error(struct api_error *e)
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

static bool schema_failed(const struct answer *a)
{
    return a->schema_refused;
}

void answer_error(const struct answer *a, struct api_error *e)
{
    if (!schema_failed(a)) {
        answer_json_error(e);
        return;
    }
    /* 502, as for json_object mode: the upstream broke the contract, and
     * OpenAI's SDKs retry a 502 by themselves. */
    bool tool = !strncmp(a->schema_violation, "tool ", 5);
    api_error_set(e, 502, ERR_SERVER, "schema_violation", tool ? "tools" : "response_format",
                  "The model's answer breaks the %s schema (%s), which strict requires. "
                  "Retrying may help.", tool ? "strict tool's parameters" : "response_format",
                  a->schema_violation);
}

/* A violation found: logged; refused, or said in a header (answer.h). */
static void schema_violated(struct answer *a, bool refuse)
{
    a->schema_refused = refuse;
    log_msg(AXON_LOG_WARN, "request %s: the answer breaks the client's schema at %s%s", a->r->id,
            a->schema_violation, refuse ? "; refused (strict)" : "");
    if (!refuse && !a->stream) {
        char h[sizeof a->schema_violation + 32];
        snprintf(h, sizeof h, "x-axon-schema-violation: %s", a->schema_violation);
        text_append_header(a->r->resp_headers, sizeof a->r->resp_headers, h);
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

/* A finished answer against the client's schemas (answer.h, schema and
 * tools): the text when it stopped, each strict tool's arguments. */
static void check_schema(struct answer *a, const struct answer_choice *c)
{
    if (a->schema_violation[0])
        return; /* the first is enough */
    if (a->schema && !strcmp(c->finish, "stop") &&
        claude_schema_check(a->schema, c->content.p ? c->content.p : "", c->content.len,
                            a->schema_violation, sizeof a->schema_violation)) {
        schema_violated(a, a->schema_strict);
        return;
    }
    if (!a->tools || strcmp(c->finish, "tool_calls"))
        return; /* arguments cut by max_tokens are no one's schema */
    for (int k = 0; k < c->ntools; k++) {
        json_object *params = strict_params(a->tools, c->tools[k].name, c->tools[k].name_len);
        char w[sizeof a->schema_violation - 80];
        if (!params || !claude_schema_check(params, c->tools[k].args.p ? c->tools[k].args.p : "{}",
                                            c->tools[k].args.p ? c->tools[k].args.len : 2, w, sizeof w))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s", c->tools[k].name);
        for (char *q = name; *q; q++) /* a header value: ASCII only */
            if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                *q = '?';
        snprintf(a->schema_violation, sizeof a->schema_violation, "tool %s %s", name, w);
        schema_violated(a, true);
        return;
    }
}

/* ---- events ----------------------------------------------------------------- */

/* A streamed event of choice i, to the writer at once. The choice counts
 * as delivered even when the write failed: some of it may have gone. */
static int emit(struct answer *a, int i, const struct cev *ev)
{
    int rc = a->wr->event(a->w, a, i, ev);
    a->c[i].delivered = true;
    return rc;
}

int answer_event(struct answer *a, int i, const struct cev *ev)
{
    struct answer_choice *c = &a->c[i];
    int rc = AXON_OK;
    if (c->finished)
        return AXON_OK; /* events after the finish (message_stop) add nothing */
    switch (ev->kind) {
    case CEV_START:
        /* The model shows in every chunk: it changes only while nothing
         * has gone out. */
        if (!answer_started(a) && ev->s && *ev->s) {
            text_join(a->model, sizeof a->model, ev->s, NULL, NULL);
            /* A long name cut mid-character: tests/fuzz/regressions/anthropic/. */
            text_utf8_trim(a->model);
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
             * apart in the reasoning. The stored block starts after it, so
             * its text, which the signature covers, stays the same. */
            static const struct cev sep = {.kind = CEV_REASONING, .s = "\n\n", .n = 2};
            rc = buf_append(&c->reasoning, sep.s, sep.n);
            if (!rc && a->stream)
                rc = emit(a, i, &sep);
            if (rc)
                return rc;
            c->thinking_from = c->reasoning.len;
        }
        struct buf *acc = ev->kind == CEV_TEXT ? &c->content
                          : ev->kind == CEV_REASONING ? &c->reasoning
                                                      : &c->refusal;
        rc = buf_append(acc, ev->s, ev->n);
        if (!rc && !a->stream && ev->logprobs)
            keep_logprobs(ev->kind == CEV_TEXT ? &c->lp_content : &c->lp_refusal, ev->logprobs,
                          ev->kind == CEV_TEXT ? "content" : "refusal");
        if (!rc && a->stream)
            rc = emit(a, i, ev);
        return rc;
    }
    case CEV_TOOL_START: {
        if (a->legacy_functions && c->ntools >= 1)
            return AXON_OK; /* one call fits the legacy shape; later ones are dropped */
        if (c->ntools >= OAI_MAX_TOOLS)
            return AXON_ETOOBIG;
        c->tools = xrealloc(c->tools, (size_t)(c->ntools + 1) * sizeof *c->tools);
        struct answer_tool_call *t = &c->tools[c->ntools];
        t->id = xstrndup(ev->s, ev->n);
        t->id_len = ev->n;
        t->name_len = ev->name ? ev->name_n : 0;
        t->name = xstrndup(ev->name ? ev->name : "", t->name_len);
        buf_init(&t->args, OAI_MAX_ANSWER);
        c->ntools++;
        if (!a->stream)
            return AXON_OK;
        /* The call as kept: its index in the choice, a name never NULL. */
        struct cev kept = {.kind = CEV_TOOL_START, .s = t->id, .n = t->id_len, .name = t->name,
                           .name_n = t->name_len, .tool = c->ntools - 1};
        return emit(a, i, &kept);
    }
    case CEV_TOOL_ARGS:
        if (a->legacy_functions && ev->tool >= 1)
            return AXON_OK; /* a dropped call's arguments */
        if (ev->tool < 0 || ev->tool >= c->ntools)
            return AXON_EINVAL;
        if (ev->n == 0)
            return AXON_OK;
        rc = buf_append(&c->tools[ev->tool].args, ev->s, ev->n);
        if (!rc && a->stream)
            rc = emit(a, i, ev);
        return rc;
    case CEV_FINISH:
        c->finished = true;
        c->finish = ev->finish ? ev->finish : "stop";
        /* Clients end their agent loop on "stop": any tool call means
         * tool_calls (a mistranslation LiteLLM and Gemini's layer made). */
        if (c->ntools && !strcmp(c->finish, "stop"))
            c->finish = "tool_calls";
        if (a->legacy_functions && c->ntools && !strcmp(c->finish, "tool_calls"))
            c->finish = "function_call";
        if (ev->usage)
            c->usage = *ev->usage;
        check_schema(a, c);
        if (a->stream) {
            const char *s;
            size_t n;
            if (a->json_mode && !strcmp(c->finish, "stop") && !answer_is_json(&c->content, &s, &n)) {
                a->json_failed = true; /* answer_close says why, in the stream */
                return AXON_EINVAL;
            }
            if (schema_failed(a))
                return AXON_EINVAL; /* the error instead of the finish */
            struct cev fin = {.kind = CEV_FINISH, .finish = c->finish, .usage = &c->usage};
            rc = emit(a, i, &fin);
        }
        return rc;
    }
    return AXON_EINVAL;
}

/* ---- the end ---------------------------------------------------------------------- */

int answer_content(const struct answer *a, int i, const char **s, size_t *n, struct api_error *e)
{
    const struct answer_choice *c = &a->c[i];
    *s = c->content.p ? c->content.p : "";
    *n = c->content.len;
    if (a->json_mode && !strcmp(c->finish, "stop") && !answer_is_json(&c->content, s, n)) {
        answer_json_error(e);
        return AXON_EINVAL;
    }
    if (schema_failed(a)) {
        answer_error(a, e);
        return AXON_EINVAL;
    }
    return AXON_OK;
}

json_object *answer_message(const struct answer *a, int i)
{
    const struct answer_choice *c = &a->c[i];
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

bool answer_valid(const struct answer *a)
{
    if (schema_failed(a))
        return false;
    if (!a->json_mode)
        return true;
    if (a->json_failed)
        return false;
    for (int i = 0; i < a->n; i++) {
        const char *s;
        size_t n;
        if (a->c[i].finish && !strcmp(a->c[i].finish, "stop") &&
            !answer_is_json(&a->c[i].content, &s, &n))
            return false;
    }
    return true;
}

int answer_finish(struct answer *a, struct api_error *e)
{
    return a->wr->finish(a->w, a, e);
}

int answer_check(const struct answer *a, int rc, struct api_error *e)
{
    if (rc == AXON_OK && !answer_valid(a)) {
        answer_error(a, e);
        return AXON_EINVAL;
    }
    return rc;
}

int answer_close(struct answer *a, int rc, struct api_error *e)
{
    if (rc == AXON_OK)
        rc = answer_finish(a, e);
    if (rc && rc != AXON_ECLIENT_GONE) {
        /* A check that failed while streaming (json_object mode, a strict
         * schema) says so rather than a bare 502. */
        if (a->json_failed || a->schema_refused)
            answer_error(a, e);
        if (!e->status)
            api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The answer could not be completed.");
        (void)a->wr->error(a->w, a, e);
    }
    a->r->client_gone = rc == AXON_ECLIENT_GONE;
    for (int i = 0; i < a->n; i++) {
        a->r->tokens_in += a->c[i].usage.input + a->c[i].usage.cache_read +
                           a->c[i].usage.cache_write;
        a->r->tokens_out += a->c[i].usage.output;
    }
    return rc;
}

int answer_ping(struct answer *a)
{
    return a->wr->ping(a->w, a);
}
