/* passthru.c - POST /v1/embeddings and POST /v1/completions: two OpenAI
 * shapes that only OpenAI-compatible upstreams serve, and serve in
 * OpenAI's own shape, so the body goes on as the client sent it (model
 * renamed, usage always asked for on a stream) and the answer comes back
 * as the upstream sent it (model renamed, usage dropped unless asked for).
 *
 * Why not the pipeline (pipeline.h): its canonical request is a chat
 * request and its output (oai_out) writes chat completions; neither an
 * embedding nor a text completion is one, and neither has a conversation,
 * a replay or thinking to restore. What the two share with chat is used
 * as it is: the read (chat_read_json_object), the catalog's routing, the
 * validator's tables (oai_validate.h), the pool lease, upstream.c's run
 * (retries, timeouts, client-gone), the OpenAI-compatible provider's
 * headers and error mapping (openai.h), the error envelope, and the
 * request's tokens for the log line and /stats (r->tokens_in/out).
 *
 * A Claude model serves neither: it gets OpenAI's answer for a model that
 * cannot (docs/vllm.md cites where each wording comes from). */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "drain.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"
#include "lease.h"
#include "log.h"
#include "oai_validate.h"
#include "openai.h"
#include "pool.h"
#include "upstream.h"

/* The two APIs. */
struct pt_api {
    const char *path;     /* on the upstream, after its base URL */
    int (*validate)(json_object *req, bool allow_unknown, struct api_error *e);
    bool completion;      /* /v1/completions (may stream, has output tokens) */
};

static const struct pt_api API_EMBED = {"/v1/embeddings", oai_validate_embedding, false};
static const struct pt_api API_COMPLETE = {"/v1/completions", oai_validate_completion, true};

/* One request, from its read to its answer. */
struct pt {
    struct axon_req *r;          /* borrowed */
    const struct pt_api *api;
    json_object *req;            /* owned */
    struct model_route rt;
    bool routed;
    bool stream;                 /* the client asked for SSE */
    bool client_usage;           /* ... with stream_options.include_usage */
    bool begun;                  /* the SSE headers went out */
    bool done;                   /* the upstream's [DONE] arrived */
    bool cut;                    /* ended by the drain deadline */
    struct buf out;              /* a non-stream answer, built before it is sent */
    struct pool_lease lease;
    bool leased;
    uint64_t last_out_us, bytes_seen;
    struct api_error e;
};

/* ---- refusals Axon makes itself ------------------------------------------------- */

/* What OpenAI answers a model that serves no embeddings: 403, no param,
 * no code (recorded from api.openai.com in New Relic's node agent test
 * fixtures for `embeddings.create({model: 'gpt-4'})`, and in a Codex
 * probe note: 403 for gpt-5.4-mini). */
static void refuse_embeddings(struct api_error *e)
{
    api_error_set(e, 403, ERR_INVALID_REQUEST, NULL, NULL,
                  "You are not allowed to generate embeddings from this model");
}

/* What OpenAI answers a chat model at /v1/completions: 404, param model,
 * no code (quoted by its users, e.g. tmc/langchaingo#201,
 * RomanHotsiy/commitgpt#43, hegelai/prompttools#115). */
static void refuse_completions(struct api_error *e)
{
    api_error_set(e, 404, ERR_INVALID_REQUEST, NULL, "model",
                  "This is a chat model and not supported in the v1/completions endpoint. "
                  "Did you mean to use v1/chat/completions?");
}

static void refuse(const struct pt_api *api, struct api_error *e)
{
    if (api->completion)
        refuse_completions(e);
    else
        refuse_embeddings(e);
}

/* ---- the upstream's answer ---------------------------------------------------------- */

static int bad_answer(struct api_error *e, const char *what)
{
    api_error_set(e, 502, ERR_SERVER, "upstream_protocol_error", NULL,
                  "The upstream sent an invalid answer: %s.", what);
    return AXON_EPROTO;
}

/* An OpenAI-style error object (nested, or vLLM's flat one), or NULL. */
static json_object *error_in(json_object *o)
{
    json_object *err = jsonv_member(o, "error");
    if (err && !json_object_is_type(err, json_type_null))
        return err;
    const char *obj = jsonv_member_str(o, "object");
    return obj && !strcmp(obj, "error") ? o : NULL;
}

/* vLLM's words when the model it serves is not a pooling model (0.7 to
 * 0.10: vllm/entrypoints/openai/api_server.py create_embedding, "The model
 * does not support Embeddings API", as 400, 501 or even in a 200 answer,
 * vllm-project/vllm#21704). */
static bool says_no_embeddings(const char *msg)
{
    return msg && strstr(msg, "does not support Embeddings API");
}

/* A non-2xx answer. A 404 without OpenAI's error envelope is a server that
 * has no such route: vLLM registers /v1/embeddings only for a pooling
 * model and /v1/completions only for a generating one (api_server.py
 * build_app), and FastAPI answers {"detail":"Not Found"}. That is the
 * model not serving this API, said in OpenAI's words; any other error is
 * mapped as chat maps it (openai.h). */
static void http_error(const struct pt_api *api, int status, const char *body, size_t n,
                       const char *retry_after, struct api_error *e)
{
    json_object *o = NULL;
    bool parsed = jsonv_parse(body, n, JSONV_MAX_DEPTH, &o) == AXON_OK;
    json_object *err = parsed ? error_in(o) : NULL;
    bool no_route = status == 404 && !err;
    bool no_embed = !api->completion &&
                    says_no_embeddings(err ? jsonv_member_str(err, "message") : NULL);
    json_object_put(o);
    if (no_route || no_embed) {
        refuse(api, e);
        return;
    }
    openai_http_error(status, body, n, retry_after, e);
}

static void embed_http_error(int status, const char *body, size_t n, const char *retry_after,
                             struct api_error *e)
{
    http_error(&API_EMBED, status, body, n, retry_after, e);
}

static void complete_http_error(int status, const char *body, size_t n, const char *retry_after,
                                struct api_error *e)
{
    http_error(&API_COMPLETE, status, body, n, retry_after, e);
}

/* An error object inside a 200 answer or event: mapped as if its status
 * were vLLM's `code` (openai_http_error with status 0). Retryable when the
 * upstream's trouble is its own. */
static int error_answer(struct pt *p, const char *body, size_t n, json_object *err)
{
    if (!p->api->completion && says_no_embeddings(jsonv_member_str(err, "message")))
        refuse(p->api, &p->e);
    else
        openai_http_error(0, body, n, NULL, &p->e);
    return p->e.status >= 500 || p->e.status == 429 ? AXON_ERETRY : AXON_EINVAL;
}

/* The upstream's usage, counted for the log line and /stats. The last
 * report wins: a stream's usage chunk is the whole request's. */
static void count_usage(struct pt *p, json_object *o)
{
    json_object *u = jsonv_member(o, "usage"), *v;
    if (!u || !json_object_is_type(u, json_type_object))
        return;
    if ((v = jsonv_member(u, "prompt_tokens")) && json_object_is_type(v, json_type_int))
        p->r->tokens_in = (long)json_object_get_int64(v);
    if ((v = jsonv_member(u, "completion_tokens")) && json_object_is_type(v, json_type_int))
        p->r->tokens_out = (long)json_object_get_int64(v);
}

/* What the spec does not allow of a usage, vLLM sends: a null usage on
 * every chunk of a stream (model_dump_json with exclude_unset=False) and
 * null details (prompt_tokens_details: null), where CompletionUsage has
 * objects. A null carries nothing, so it goes. */
static void drop_null_usage(json_object *o)
{
    json_object *u = NULL;
    if (!json_object_object_get_ex(o, "usage", &u))
        return;
    if (!u) {
        json_object_object_del(o, "usage");
        return;
    }
    if (!json_object_is_type(u, json_type_object))
        return;
    char nulls[4][32];
    int n = 0;
    json_object_object_foreach(u, k, v) {
        if (!v && n < 4 && strlen(k) < sizeof nulls[0])
            snprintf(nulls[n++], sizeof nulls[0], "%s", k);
    }
    for (int i = 0; i < n; i++)
        json_object_object_del(u, nulls[i]);
}

/* The answer names the model as the client did (an alias stays an alias). */
static void rename_model(struct pt *p, json_object *o)
{
    if (json_object_object_get_ex(o, "model", NULL))
        json_object_object_add(o, "model", json_object_new_string(p->rt.m.id));
}

/* The whole answer, kept in p->out until the session is given back. */
static int on_body(void *st, const char *body, size_t n, struct api_error *e)
{
    struct pt *p = st;
    json_object *o = NULL;
    if (jsonv_parse(body, n, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bad_answer(e, "a body that is not a JSON object");
    }
    json_object *err = error_in(o);
    int rc;
    if (err) {
        rc = error_answer(p, body, n, err);
        *e = p->e;
    } else {
        count_usage(p, o);
        drop_null_usage(o);
        rename_model(p, o);
        buf_reset(&p->out);
        rc = jsonv_write(&p->out, o);
        if (rc)
            rc = bad_answer(e, "an answer too large to send on");
    }
    json_object_put(o);
    return rc;
}

static int begin(struct pt *p)
{
    if (p->begun)
        return AXON_OK;
    p->begun = true;
    p->r->stream = true;
    return io_sse_begin(p->r);
}

/* One event of a /v1/completions stream, passed on: model renamed, the
 * usage Axon asked for taken out when the client did not ask for it (the
 * usage-only chunk, whose choices are empty, is then not sent at all). */
static int on_event(void *st, const char *event, const char *data, size_t n,
                    struct api_error *e)
{
    (void)event; /* OpenAI streams name no events */
    struct pt *p = st;
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        p->done = true; /* sent at the end, after the session is back */
        return AXON_OK;
    }
    json_object *o = NULL;
    if (jsonv_parse(data, n, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bad_answer(e, "an event that is not a JSON object");
    }
    json_object *err = error_in(o);
    int rc = AXON_OK;
    if (err) {
        rc = error_answer(p, data, n, err);
        *e = p->e;
        goto out;
    }
    count_usage(p, o);
    drop_null_usage(o);
    if (!p->client_usage && json_object_object_get_ex(o, "usage", NULL)) {
        json_object_object_del(o, "usage");
        json_object *ch = jsonv_member(o, "choices");
        if (ch && json_object_is_type(ch, json_type_array) && json_object_array_length(ch) == 0)
            goto out; /* the usage chunk: nothing else in it */
    }
    rename_model(p, o);
    buf_reset(&p->out);
    rc = jsonv_write(&p->out, o);
    if (rc) {
        rc = bad_answer(e, "an event too large to send on");
        goto out;
    }
    rc = begin(p);
    if (!rc)
        rc = io_sse_data(p->r, p->out.p, p->out.len);
    if (rc)
        rc = AXON_ECLIENT_GONE;
out:
    json_object_put(o);
    return rc;
}

static int on_end(void *st, struct api_error *e)
{
    struct pt *p = st;
    /* vLLM always ends with [DONE]; without it the answer may be cut. */
    return p->done ? AXON_OK : bad_answer(e, "the stream ended without [DONE]");
}

static const struct up_reader embed_reader = {
    .state_size = sizeof(struct pt),
    .event = on_event,
    .end = on_end,
    .body = on_body,
    .http_error = embed_http_error,
};

static const struct up_reader complete_reader = {
    .state_size = sizeof(struct pt),
    .event = on_event,
    .end = on_end,
    .body = on_body,
    .http_error = complete_http_error,
};

/* ---- the run's hooks (upstream.h) ------------------------------------------------------ */

static bool on_delivered(void *ud, int i)
{
    (void)i;
    const struct pt *p = ud;
    return p->begun;
}

static void on_restart(void *ud, int i)
{
    (void)i;
    struct pt *p = ud;
    p->done = false;
    p->r->tokens_in = p->r->tokens_out = 0;
    buf_reset(&p->out);
    p->last_out_us = log_now_us();
}

/* Client gone, the drain deadline, lease renewal and, on a stream whose
 * upstream is silent, a heartbeat (the reasons are pipeline.c's on_tick). */
static int on_tick(void *ud, uint64_t upstream_us)
{
    struct pt *p = ud;
    struct axon_req *r = p->r;
    uint64_t now = log_now_us();
    if (r->bytes_out != p->bytes_seen) {
        p->bytes_seen = r->bytes_out;
        p->last_out_us = now;
    }
    if (r->bytes_out == 0 && upstream_us > p->last_out_us)
        p->last_out_us = upstream_us;
    int lrc = lease_tick(r, &p->lease, &p->cut);
    if (lrc)
        return lrc;
    if (p->stream && now - p->last_out_us >= (uint64_t)r->cfg->heartbeat_s * 1000000u) {
        p->last_out_us = now;
        int rc = p->begun ? io_sse_comment(r, "ping") : begin(p);
        if (rc)
            return AXON_ECLIENT_GONE;
        p->bytes_seen = r->bytes_out;
    }
    return AXON_OK;
}

static const struct up_hooks run_hooks = {
    .delivered = on_delivered,
    .restart = on_restart,
    .tick = on_tick,
};

/* ---- the stages ---------------------------------------------------------------------------- */

/* route and validate: a model the catalog knows, served by an
 * OpenAI-compatible upstream; the body as the spec has it (extensions
 * accepted for those upstreams, as chat accepts them). */
static int pt_check(struct pt *p)
{
    json_object *mv = jsonv_member(p->req, "model");
    /* "m\u0000x" names no model: it is not routed as "m". */
    p->routed = mv && json_object_is_type(mv, json_type_string) &&
                strlen(json_object_get_string(mv)) == (size_t)json_object_get_string_len(mv) &&
                catalog_route(p->r->cfg, json_object_get_string(mv), &p->rt) == AXON_OK;
    if (p->routed)
        snprintf(p->r->model, sizeof p->r->model, "%s", p->rt.m.id);
    bool openai = p->routed && p->rt.ep->provider == PROVIDER_OPENAI;
    int rc = p->api->validate(p->req, openai, &p->e);
    if (rc)
        return rc;
    if (!p->routed) {
        api_error_set(&p->e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL,
                      "The model `%s` does not exist or you do not have access to it.",
                      json_object_get_string(mv));
        return AXON_ENOTFOUND;
    }
    if (!openai) {
        refuse(p->api, &p->e); /* Claude has neither API */
        return AXON_EINVAL;
    }
    json_object *v;
    /* Only text completions stream: a `stream` sent to /v1/embeddings is an
     * extension for the upstream to judge, and its answer is read whole. */
    p->stream = p->api->completion && (v = jsonv_get(p->req, "stream")) &&
                json_object_get_boolean(v);
    p->client_usage = p->stream &&
                      (v = jsonv_get(jsonv_get(p->req, "stream_options"), "include_usage")) &&
                      json_object_get_boolean(v);
    /* n costs n answers: chat's cap (AXON_MAX_N), in chat's words. */
    if ((v = jsonv_get(p->req, "n")) && json_object_get_int64(v) > p->r->cfg->max_n) {
        api_error_set(&p->e, 400, ERR_INVALID_REQUEST, "integer_above_max_value", "n",
                      "Invalid 'n': integer above maximum value. Expected a value <= %d, but got "
                      "%lld instead.", p->r->cfg->max_n, (long long)json_object_get_int64(v));
        return AXON_EINVAL;
    }
    return AXON_OK;
}

/* The upstream body: the request with the upstream's model name and, on a
 * stream, usage always asked for (Axon counts tokens). */
static int pt_body(struct pt *p, struct buf *body)
{
    json_object_object_add(p->req, "model", json_object_new_string(p->rt.m.upstream_id));
    if (p->stream) {
        json_object *so = jsonv_get(p->req, "stream_options");
        if (!so || !json_object_is_type(so, json_type_object)) {
            so = json_object_new_object();
            json_object_object_add(p->req, "stream_options", so);
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    }
    int rc = jsonv_write(body, p->req);
    if (rc)
        api_error_set(&p->e, 400, ERR_INVALID_REQUEST, "request_too_large", NULL,
                      "The request is too large for the upstream.");
    return rc;
}

/* lease: a session of the endpoint's pool, as chat takes one. */
static int pt_lease(struct pt *p)
{
    return lease_take(p->r, p->rt.ep->pool, NULL, NULL, &p->lease, &p->leased, &p->cut, &p->e);
}

/* run: one upstream call. */
static int pt_run(struct pt *p, struct buf *body)
{
    struct axon_req *r = p->r;
    char url[1200];
    snprintf(url, sizeof url, "%s%s", p->rt.ep->base_url, p->api->path);
    struct curl_slist *headers = openai_headers(p->rt.ep);
    struct up_call call = {.url = url, .headers = headers, .body = body->p, .len = body->len,
                           .stream = p->stream, .st = p};
    r->upstream = p->rt.ep->name;
    p->last_out_us = log_now_us();
    int rc = upstream_run(r->cfg, &call, 1, 1,
                          p->api->completion ? &complete_reader : &embed_reader, &run_hooks, p,
                          &p->e);
    curl_slist_free_all(headers);
    return rc;
}

/* The answer: the JSON, or the stream's [DONE]; an error as one JSON
 * answer before the first byte, as an error event and [DONE] after it
 * (chat's oai_out_error). */
static int pt_answer(struct pt *p, int rc)
{
    struct axon_req *r = p->r;
    if (p->cut)
        api_error_set(&p->e, 503, ERR_SERVER, DRAIN_CODE, NULL,
                      "Axon is shutting down: the answer was cut at the end of its drain time "
                      "(AXON_DRAIN_S). Please retry.");
    if (rc == AXON_ECLIENT_GONE || (rc && !p->e.status && !p->cut)) {
        r->client_gone = rc == AXON_ECLIENT_GONE;
        return rc;
    }
    if (!rc && !p->stream)
        return io_send_json(r, 200, p->out.p, p->out.len, NULL);
    if (!rc)
        return begin(p) ? AXON_ECLIENT_GONE : io_sse_data(r, "[DONE]", 6);
    if (!p->begun)
        return errors_send_api(r, &p->e);
    struct buf b = BUF_INIT(4096);
    int wrc = errors_envelope_api(&b, &p->e);
    if (!wrc)
        wrc = io_sse_data(r, b.p, b.len);
    if (!wrc)
        wrc = io_sse_data(r, "[DONE]", 6);
    buf_free(&b);
    return wrc ? wrc : rc;
}

static int pt_serve(struct axon_req *r, const struct pt_api *api)
{
    struct pt p;
    memset(&p, 0, sizeof p);
    p.r = r;
    p.api = api;
    buf_init(&p.out, r->cfg->max_upstream_bytes);
    struct buf body = BUF_INIT(64u << 20);
    int rc = chat_read_json_object(r, &p.req); /* answers its own 400 or 413 */
    if (rc) {
        buf_free(&p.out);
        return rc;
    }
    rc = pt_check(&p);
    if (!rc)
        rc = pt_body(&p, &body);
    if (!rc)
        rc = pt_lease(&p);
    if (!rc)
        rc = pt_run(&p, &body);
    buf_free(&body);
    lease_give_back(r->cfg, p.leased ? provider_of(p.rt.ep) : NULL, &p.lease, &p.leased, rc,
                    &p.e); /* before the client hears the end: it may ask again at once */
    rc = pt_answer(&p, rc);
    json_object_put(p.req);
    buf_free(&p.out);
    return rc;
}

int embeddings_create(struct axon_req *r)
{
    return pt_serve(r, &API_EMBED);
}

int completions_create(struct axon_req *r)
{
    return pt_serve(r, &API_COMPLETE);
}
