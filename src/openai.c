/* openai.c - the OpenAI-compatible provider: request pass-through and the
 * normalisation of the servers' answers and errors. */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "text.h"


/* ---- the request ----------------------------------------------------------- */

/* `thinking` as on/off; -1 when absent or null (see openai.h). */
static int thinking_switch(json_object *t)
{
    if (!t || json_object_is_type(t, json_type_null))
        return -1;
    if (json_object_is_type(t, json_type_boolean))
        return json_object_get_boolean(t);
    const char *type = jsonv_member_str(t, "type");
    return type && strcmp(type, "disabled") != 0;
}

/* A copy of an assistant message without the reasoning Axon stored. */
static json_object *without_reasoning(json_object *msg)
{
    const char *role = jsonv_member_str(msg, "role");
    if (!role || strcmp(role, "assistant") || (!jsonv_member(msg, "reasoning_content") && !jsonv_member(msg, "thinking_blocks")))
        return json_object_get(msg);
    json_object *copy = json_object_new_object();
    json_object_object_foreach(msg, k, v) {
        if (strcmp(k, "reasoning_content") && strcmp(k, "thinking_blocks"))
            json_object_object_add(copy, k, json_object_get(v));
    }
    return copy;
}

int openai_request(json_object *req, const struct model *m, struct buf *out,
                   struct chat_plan *plan, struct api_error *e)
{
    json_object *v;
    memset(plan, 0, sizeof *plan);
    plan->stream = (v = jsonv_member(req, "stream")) && json_object_get_boolean(v);
    plan->include_usage = plan->stream && (v = jsonv_member(jsonv_member(req, "stream_options"), "include_usage")) &&
                          json_object_get_boolean(v);
    plan->n = (v = jsonv_member(req, "n")) && json_object_is_type(v, json_type_int) ? (int)json_object_get_int64(v) : 1;
    plan->calls = 1; /* the server answers all n choices in one call */
    const char *rft = jsonv_member_str(jsonv_member(req, "response_format"), "type");
    plan->json_mode = rft && !strcmp(rft, "json_object");

    const char *max_name = jsonv_member(req, "max_completion_tokens") ? "max_completion_tokens"
                           : jsonv_member(req, "max_tokens")          ? "max_tokens"
                                                             : NULL;
    long max_tokens = max_name ? (long)json_object_get_int64(jsonv_member(req, max_name)) : 0;
    if (max_name && m->max_output && max_tokens > m->max_output) {
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_value", max_name,
                      "%s is too large: %ld. This model supports at most %ld completion tokens, "
                      "whereas you provided %ld.", max_name, max_tokens, m->max_output, max_tokens);
        return AXON_EINVAL;
    }

    json_object *body = json_object_new_object();
    json_object_object_foreach(req, key, val) {
        if (!strcmp(key, "conversation_id") || !strcmp(key, "thinking") ||
            !strcmp(key, "stream_options") || !strcmp(key, "chat_template_kwargs"))
            continue; /* Axon's own, or rebuilt below */
        if (!strcmp(key, "model")) {
            json_object_object_add(body, key, json_object_new_string(m->upstream_id));
        } else if (!strcmp(key, "messages")) {
            json_object *msgs = json_object_new_array();
            for (size_t i = 0; i < json_object_array_length(val); i++)
                json_object_array_add(msgs, without_reasoning(json_object_array_get_idx(val, i)));
            json_object_object_add(body, key, msgs);
        } else {
            json_object_object_add(body, key, json_object_get(val));
        }
    }
    if (!max_name && m->max_tokens)
        json_object_object_add(body, "max_tokens", json_object_new_int64(m->max_tokens));
    if (plan->stream) {
        /* Always asked for: Axon counts tokens whether or not the client does. */
        json_object *so = json_object_new_object(), *cso = jsonv_member(req, "stream_options");
        if (cso && json_object_is_type(cso, json_type_object)) {
            json_object_object_foreach(cso, k2, v2)
                json_object_object_add(so, k2, json_object_get(v2));
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
        json_object_object_add(body, "stream_options", so);
    }
    /* Merged, never replaced: the client's template arguments stay. */
    json_object *kw = json_object_new_object(), *ckw = jsonv_member(req, "chat_template_kwargs");
    if (ckw && json_object_is_type(ckw, json_type_object)) {
        json_object_object_foreach(ckw, k3, v3)
            json_object_object_add(kw, k3, json_object_get(v3));
    }
    int on = thinking_switch(jsonv_member(req, "thinking"));
    if (on >= 0 || !jsonv_member(kw, "enable_thinking"))
        json_object_object_add(kw, "enable_thinking", json_object_new_boolean(on > 0));
    json_object_object_add(body, "chat_template_kwargs", kw);

    int rc = jsonv_write(out, body); /* no second copy kept in body (jsonv.h) */
    json_object_put(body);
    if (rc)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "request_too_large", NULL,
                      "The request is too large for the upstream.");
    return rc;
}

struct curl_slist *openai_headers(const struct endpoint *ep)
{
    struct curl_slist *h = NULL;
    if (ep->key) {
        char auth[CONFIG_MAX_KEY_LEN + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", ep->key);
        h = curl_slist_append(h, auth);
        memset(auth, 0, sizeof auth);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue wait on large prompts */
    return h;
}

/* ---- errors -------------------------------------------------------------------- */

/* OpenAI's own codes, passed on as they are; other strings (and vLLM's
 * integers) become null, since clients switch on these. */
static const char *known_code(const char *c)
{
    static const char *const codes[] = {
        "context_length_exceeded", "invalid_value", "invalid_type", "model_not_found",
        "rate_limit_exceeded", "insufficient_quota", "unsupported_parameter", "unsupported_value",
        "missing_required_parameter", "integer_above_max_value", "integer_below_min_value",
        "string_above_max_length", "invalid_request_error", "server_is_overloaded",
        "invalid_prompt", "content_policy_violation", "invalid_image_url",
    };
    for (size_t i = 0; c && i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(c, codes[i]))
            return codes[i];
    return NULL;
}

/* An upstream error (status 0: found inside a 200 stream) as the client's. */
static void map_error(int status, json_object *err, const char *text, struct api_error *e)
{
    const char *msg = err ? jsonv_member_str(err, "message") : text;
    char fallback[64];
    snprintf(fallback, sizeof fallback, "HTTP %d from the upstream", status);
    if (!msg || !*msg)
        msg = fallback;
    json_object *cv = jsonv_member(err, "code");
    if (!status && cv && json_object_is_type(cv, json_type_int))
        status = (int)json_object_get_int64(cv); /* vLLM's code is the status it meant */
    if (!status)
        status = 500;
    const char *code = known_code(cv && json_object_is_type(cv, json_type_string)
                                      ? json_object_get_string(cv)
                                      : NULL);
    if (!code && strstr(msg, "maximum context length"))
        code = "context_length_exceeded";
    const char *param = jsonv_member_str(err, "param");
    if (status == 401 || status == 403) {
        api_error_set(e, 502, ERR_SERVER, "upstream_auth_failed", NULL,
                      "The upstream refused Axon's credentials (HTTP %d: %s). The operator must "
                      "fix the upstream key; retrying will not help.", status, msg);
        e->no_retry = true;
    } else if (status == 404)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL, "%s", msg);
    else if (status == 413)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "request_too_large", NULL, "%s", msg);
    else if (status == 429)
        api_error_set(e, 429, "requests", "rate_limit_exceeded", NULL, "%s", msg);
    else if (status == 503 || status == 529)
        api_error_set(e, 503, ERR_SERVER, "server_is_overloaded", NULL,
                      "The upstream model is overloaded, please try again later. (%s)", msg);
    else if (status == 408 || status == 504)
        api_error_set(e, 504, ERR_SERVER, "upstream_timeout", NULL, "%s", msg);
    else if (status >= 400 && status < 500)
        api_error_set(e, status == 422 ? 400 : status, ERR_INVALID_REQUEST, code, param, "%s", msg);
    else
        api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The upstream failed: %s", msg);
}

/* The error object of a body in any known shape, or NULL. */
static json_object *error_of(json_object *o, const char **text)
{
    *text = NULL;
    json_object *err = jsonv_member(o, "error");
    if (err && json_object_is_type(err, json_type_object))
        return err;
    if (err && json_object_is_type(err, json_type_string)) {
        *text = json_object_get_string(err); /* {"error":"Unauthorized"} */
        return NULL;
    }
    const char *obj = jsonv_member_str(o, "object");
    return obj && !strcmp(obj, "error") ? o : NULL; /* older vLLM, flat */
}

void openai_http_error(int status, const char *body, size_t n, const char *retry_after,
                       struct api_error *e)
{
    json_object *o = NULL, *err = NULL;
    const char *text = NULL;
    if (!jsonv_parse(body, n, JSONV_MAX_DEPTH, &o))
        err = error_of(o, &text);
    map_error(status, err, text, e);
    if (retry_after && *retry_after && (e->status == 429 || e->status == 503))
        snprintf(e->retry_after, sizeof e->retry_after, "%s", retry_after);
    json_object_put(o);
}

/* ---- the answer ------------------------------------------------------------------ */

const char *openai_finish_reason(const char *r)
{
    if (!r)
        return "stop";
    if (!strcmp(r, "length"))
        return "length";
    if (!strcmp(r, "tool_calls") || !strcmp(r, "function_call"))
        return "tool_calls";
    if (!strcmp(r, "content_filter"))
        return "content_filter";
    return "stop"; /* stop, eos, abort, and other servers' words */
}

void oa_stream_init(struct oa_stream *s, struct answer *out, int first, int n)
{
    memset(s, 0, sizeof *s);
    s->out = out;
    s->first = first;
    s->n = n;
    s->c = xcalloc((size_t)n, sizeof *s->c);
}

void oa_stream_free(struct oa_stream *s)
{
    free(s->c);
    s->c = NULL;
}

static int bad_event(struct api_error *e, const char *what)
{
    api_error_set(e, 502, ERR_SERVER, "upstream_protocol_error", NULL,
                  "The upstream sent an invalid answer: %s.", what);
    return AXON_EPROTO;
}

static int emit(struct oa_stream *s, int k, struct cev ev)
{
    return answer_event(s->out, s->first + k, &ev);
}

static int emit_str(struct oa_stream *s, int k, enum cev_kind kind, json_object *v,
                    json_object *logprobs)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return AXON_OK;
    return emit(s, k, (struct cev){.kind = kind, .s = json_object_get_string(v),
                                   .n = (size_t)json_object_get_string_len(v),
                                   .logprobs = logprobs});
}

static void read_usage(json_object *u, struct usage *to)
{
    json_object *v;
    if (!u || !json_object_is_type(u, json_type_object))
        return;
    long prompt = (v = jsonv_member(u, "prompt_tokens")) ? oai_tokens(v) : 0;
    json_object *pd = jsonv_member(u, "prompt_tokens_details");
    long cached = (v = jsonv_member(pd, "cached_tokens")) ? oai_tokens(v) : 0;
    long written = (v = jsonv_member(pd, "cache_write_tokens")) ? oai_tokens(v) : 0;
    /* Both are parts of prompt_tokens (spec CompletionUsage); a count that
     * does not fit is not believed. */
    to->cache_read = cached <= prompt ? cached : 0;
    to->cache_write = written <= prompt - to->cache_read ? written : 0;
    to->input = prompt - to->cache_read - to->cache_write;
    to->output = (v = jsonv_member(u, "completion_tokens")) ? oai_tokens(v) : 0;
    to->reasoning = (v = jsonv_member(jsonv_member(u, "completion_tokens_details"), "reasoning_tokens"))
                        ? oai_tokens(v)
                        : 0;
}

/* The choice k of this call that an upstream "index" names. */
static int choice_of(struct oa_stream *s, json_object *ch, int pos, struct api_error *e, int *k)
{
    json_object *v = jsonv_member(ch, "index");
    int64_t i = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : pos;
    if (i < 0 || i >= s->n)
        return bad_event(e, "a choice index out of range");
    *k = (int)i;
    return AXON_OK;
}

/* One tool_calls entry of choice k: a new call starts when its index is
 * new; its arguments arrive in pieces. */
static int tool_delta(struct oa_stream *s, int k, json_object *tc, int pos, struct api_error *e)
{
    json_object *v = jsonv_member(tc, "index"), *fn = jsonv_member(tc, "function");
    int64_t up = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : pos;
    if (up < 0 || up >= OAI_MAX_TOOLS)
        return bad_event(e, "a tool call index out of range");
    struct oa_choice *c = &s->c[k];
    int rc = AXON_OK;
    if (!c->tool_of[up]) {
        const struct answer_choice *oc = &s->out->c[s->first + k];
        if (oc->ntools >= OAI_MAX_TOOLS)
            return bad_event(e, "too many tool calls");
        json_object *idv = jsonv_member(tc, "id");
        const char *id = idv && json_object_is_type(idv, json_type_string) ? json_object_get_string(idv) : NULL;
        size_t id_n = id ? (size_t)json_object_get_string_len(idv) : 0;
        char made[32];
        if (!id_n) { /* some servers (Ollama) send none */
            static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            unsigned char rnd[24];
            text_random(rnd, sizeof rnd);
            memcpy(made, "call_", 5);
            for (size_t i = 0; i < sizeof rnd; i++)
                made[5 + i] = alnum[rnd[i] % 62];
            made[5 + sizeof rnd] = '\0';
            id = made;
            id_n = 5 + sizeof rnd;
        }
        json_object *name = jsonv_member(fn, "name");
        if (name && !json_object_is_type(name, json_type_string))
            name = NULL;
        c->tool_of[up] = (uint8_t)(oc->ntools + 1);
        rc = emit(s, k, (struct cev){.kind = CEV_TOOL_START, .s = id, .n = id_n,
                                     .name = name ? json_object_get_string(name) : "",
                                     .name_n = name ? (size_t)json_object_get_string_len(name) : 0,
                                     .tool = c->tool_of[up] - 1});
    }
    json_object *args = jsonv_member(fn, "arguments");
    if (!rc && args && json_object_is_type(args, json_type_string) && json_object_get_string_len(args))
        rc = emit(s, k, (struct cev){.kind = CEV_TOOL_ARGS, .tool = c->tool_of[up] - 1,
                                     .s = json_object_get_string(args),
                                     .n = (size_t)json_object_get_string_len(args)});
    else if (!rc && args && json_object_is_type(args, json_type_object)) {
        size_t len = 0; /* Ollama's non-stream arguments are an object */
        const char *a = json_object_to_json_string_length(args, JSONV_OUT, &len);
        rc = emit(s, k, (struct cev){.kind = CEV_TOOL_ARGS, .tool = c->tool_of[up] - 1, .s = a,
                                     .n = len});
    }
    return rc;
}

/* A delta (stream) or message (non-stream) of choice k. Reasoning first:
 * it precedes the answer in every server's output. */
static int message_part(struct oa_stream *s, int k, json_object *d, json_object *logprobs,
                        struct api_error *e)
{
    /* vLLM >= 0.11 says `reasoning`, older ones and DeepSeek `reasoning_content`;
     * a server sending both means the same text twice. */
    json_object *r = jsonv_member(d, "reasoning_content");
    if (!r || !json_object_is_type(r, json_type_string))
        r = jsonv_member(d, "reasoning");
    int rc = emit_str(s, k, CEV_REASONING, r, NULL);
    if (!rc)
        rc = emit_str(s, k, CEV_TEXT, jsonv_member(d, "content"), logprobs);
    if (!rc)
        rc = emit_str(s, k, CEV_REFUSAL, jsonv_member(d, "refusal"), logprobs);
    json_object *tcs = jsonv_member(d, "tool_calls");
    for (size_t i = 0; !rc && tcs && json_object_is_type(tcs, json_type_array) &&
                       i < json_object_array_length(tcs);
         i++)
        rc = tool_delta(s, k, json_object_array_get_idx(tcs, i), (int)i, e);
    return rc;
}

/* Every choice finished: their finish events, with this call's usage on
 * the first (the others carry none, so the sum is the call's). */
static int finish_all(struct oa_stream *s, struct api_error *e)
{
    if (s->finished)
        return AXON_OK;
    for (int k = 0; k < s->n; k++)
        if (!s->c[k].finish)
            return bad_event(e, "the stream ended before the answer was complete");
    s->finished = true;
    struct usage none = {0};
    int rc = AXON_OK;
    for (int k = 0; !rc && k < s->n; k++)
        rc = emit(s, k, (struct cev){.kind = CEV_FINISH, .finish = s->c[k].finish,
                                     .usage = k ? &none : &s->usage});
    return rc;
}

/* An error object inside a 200 answer. */
static int upstream_error(json_object *err, const char *text, struct api_error *e)
{
    map_error(0, err, text, e);
    return e->status >= 500 || e->status == 429 ? AXON_ERETRY : AXON_EINVAL;
}

int oa_stream_event(struct oa_stream *s, const char *data, size_t n, struct api_error *e)
{
    if (n == 6 && !memcmp(data, "[DONE]", 6))
        return finish_all(s, e);
    json_object *o = NULL;
    if (jsonv_parse(data, n, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bad_event(e, "an event that is not a JSON object");
    }
    const char *text;
    json_object *err = error_of(o, &text);
    int rc = AXON_OK;
    if (err || text) {
        rc = upstream_error(err, text, e);
        goto out;
    }
    json_object *choices = jsonv_member(o, "choices");
    for (size_t i = 0; !rc && choices && json_object_is_type(choices, json_type_array) &&
                       i < json_object_array_length(choices);
         i++) {
        json_object *ch = json_object_array_get_idx(choices, i);
        int k = 0;
        if ((rc = choice_of(s, ch, (int)i, e, &k)))
            break;
        json_object *lp = jsonv_member(ch, "logprobs");
        rc = message_part(s, k, jsonv_member(ch, "delta"),
                          lp && json_object_is_type(lp, json_type_object) ? lp : NULL, e);
        const char *fr = jsonv_member_str(ch, "finish_reason");
        if (!rc && fr)
            s->c[k].finish = openai_finish_reason(fr);
    }
    read_usage(jsonv_member(o, "usage"), &s->usage); /* the usage chunk, or running usage */
out:
    json_object_put(o);
    return rc;
}

int oa_stream_end(struct oa_stream *s, struct api_error *e)
{
    return finish_all(s, e); /* no [DONE] is forgiven when every choice finished */
}

int oa_completion(struct oa_stream *s, const char *body, size_t n, struct api_error *e)
{
    json_object *o = NULL;
    if (jsonv_parse(body, n, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bad_event(e, "a body that is not a JSON object");
    }
    const char *text;
    json_object *err = error_of(o, &text);
    json_object *choices = jsonv_member(o, "choices");
    int rc = AXON_OK;
    if (err || text)
        rc = upstream_error(err, text, e);
    else if (!choices || !json_object_is_type(choices, json_type_array))
        rc = bad_event(e, "a body that is not a chat completion");
    for (size_t i = 0; !rc && i < json_object_array_length(choices); i++) {
        json_object *ch = json_object_array_get_idx(choices, i);
        int k = 0;
        if ((rc = choice_of(s, ch, (int)i, e, &k)))
            break;
        json_object *lp = jsonv_member(ch, "logprobs");
        rc = message_part(s, k, jsonv_member(ch, "message"),
                          lp && json_object_is_type(lp, json_type_object) ? lp : NULL, e);
        if (!rc)
            s->c[k].finish = openai_finish_reason(jsonv_member_str(ch, "finish_reason"));
    }
    if (!rc) {
        read_usage(jsonv_member(o, "usage"), &s->usage);
        rc = finish_all(s, e);
    }
    json_object_put(o);
    return rc;
}

/* ---- the provider ------------------------------------------------------------ */

static struct curl_slist *headers_of(const struct axon_config *cfg, const struct endpoint *ep)
{
    (void)cfg;
    return openai_headers(ep);
}

static void init_of(void *st, struct answer *out, int first)
{
    oa_stream_init(st, out, first, out->n); /* one call answers every choice */
}

static void fini_of(void *st)
{
    oa_stream_free(st);
}

static int event_of(void *st, const char *event, const char *data, size_t n, struct api_error *e)
{
    (void)event; /* OpenAI streams name no events */
    return oa_stream_event(st, data, n, e);
}

static int end_of(void *st, struct api_error *e)
{
    return oa_stream_end(st, e);
}

static int body_of(void *st, const char *p, size_t n, struct api_error *e)
{
    return oa_completion(st, p, n, e);
}

const struct provider_ops provider_openai = {
    .name = "openai",
    .path = "/v1/chat/completions",
    .request = openai_request,
    .headers = headers_of,
    .init = init_of,
    .fini = fini_of,
    .up = {.state_size = sizeof(struct oa_stream),
           .event = event_of,
           .end = end_of,
           .body = body_of,
           .http_error = openai_http_error},
    .reload_key = NULL,
};
