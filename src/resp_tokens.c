/* resp_tokens.c - POST /v1/responses/input_tokens: how many input tokens a
 * Responses request would cost, as {"object":"response.input_tokens",
 * "input_tokens":N} (the spec's TokenCountsResource).
 *
 * The body is read as POST /v1/responses reads it (resp_parse, so the same
 * 400s), routed by model, and translated by the model's provider as for an
 * answer; then:
 *  - Claude counts it: the Messages body, cut to what
 *    POST /v1/messages/count_tokens takes (the SDK's
 *    MessageCountTokensParams), goes to that endpoint with Claude's
 *    headers, through upstream.c (timeouts, retries, the provider's error
 *    mapping) on a leased pool session, since it is an upstream call like
 *    any other (and counts against the same rate limits).
 *  - An OpenAI-compatible upstream has no counting endpoint in OpenAI's API,
 *    but vLLM has one of its own: POST {base}/tokenize with the chat
 *    messages (and tools) as they would be sent answers {"count": N ...}
 *    (vLLM's Tokenizer API). Asked the same way, through the same pool.
 *    An upstream that has no such route, or will not count this body (a
 *    4xx other than 401, 403 and 429, or an answer without a count), gets
 *    Axon's estimate instead: the bytes of the messages and tools the
 *    upstream would get (JSON, as sent), divided by 4, rounded up.
 * The X-Axon-Token-Count header says which: "upstream" or "estimate".
 *
 * Why not the pipeline (pipeline.h): its run writes an answer, and a count
 * is none; what the two share (the parse, the route, the translators, the
 * pool, upstream.c, the error envelope) is used as it is, as passthru.c
 * does for embeddings.
 *
 * item_reference items are fetched from the store first, in one round trip
 * (items_fetch, lock-free: a count changes nothing), and answered to
 * resp_parse from memory. previous_response_id and conversation are refused
 * with a 400 naming the field: their history is loaded under the
 * conversation's turn lock (resp_prev_load), which a count should neither
 * take nor be refused by (a 409 while a turn is answering). A sealed
 * reasoning item is opened with the caller's key, as for POST /v1/responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "catalog.h"
#include "drain.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"
#include "lease.h"
#include "log.h"
#include "openai.h"
#include "pool.h"
#include "provider.h"
#include "conv.h"
#include "items.h"
#include "resp_in.h"
#include "resp_store.h"
#include "resp_tokens.h"
#include "seal.h"
#include "text.h"
#include "upstream.h"

#define COUNT_PATH "/v1/messages/count_tokens" /* Claude's */
#define TOKENIZE_PATH "/tokenize"                /* vLLM's, at the server's root */
/* The code an upstream's "cannot count" is carried in, from the reader's
 * http_error (which has no state of its own) to tok_run. Never sent. */
#define NO_COUNT_CODE "axon_no_count"

/* What Claude's count_tokens takes of a Messages body (anthropic-sdk-
 * typescript src/resources/messages/messages.ts, MessageCountTokensParams).
 * Anything else (max_tokens, stream, temperature, metadata ...) is refused
 * there as an extra input, so it is left out. */
static const char *const COUNT_FIELDS[] = {
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
    "cache_control",
};

/* One request. */
struct tok {
    struct axon_req *r;      /* borrowed */
    json_object *body;       /* owned: the client's body */
    json_object *chat;       /* owned: the canonical chat request */
    struct resp_meta meta;
    struct model_route rt;
    struct buf up;           /* the upstream body */
    struct pool_lease lease;
    bool leased;
    bool counted;            /* the upstream's answer was read */
    bool no_count;           /* the upstream cannot count this: estimate */
    long long count;
    bool cut;                /* ended by the drain deadline */
    struct api_error e;
};

/* ---- the parse ------------------------------------------------------------------------ */

/* What resp_parse asks of the caller (struct resp_lookup's ctx). */
struct tok_lookup {
    const char *tenant;        /* borrowed */
    const char **ids;          /* owned array; the strings borrowed from the body */
    json_object **found;       /* owned: found[k] for ids[k], NULL when not found */
    size_t n;
};

/* resp_lookup.item: from what items_fetch found. */
static int lookup_item(void *ctx, const char *id, json_object **item, struct api_error *e)
{
    (void)e;
    const struct tok_lookup *l = ctx;
    for (size_t k = 0; k < l->n; k++) {
        if (l->found[k] && !strcmp(l->ids[k], id)) {
            *item = json_object_get(l->found[k]);
            return AXON_OK;
        }
    }
    return AXON_ENOTFOUND;
}

/* resp_lookup.open_reasoning: a sealed reasoning item, opened for the
 * caller's key. */
static int open_reasoning(void *ctx, const char *sealed, size_t n, json_object **blocks, char *why,
                          size_t whylen)
{
    const struct tok_lookup *l = ctx;
    return seal_open_json(l->tenant, sealed, n, blocks, why, whylen);
}

static void lookup_free(struct tok_lookup *l)
{
    for (size_t k = 0; k < l->n; k++)
        json_object_put(l->found[k]);
    free(l->found);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

/* The item_reference items of the body, fetched in one round trip. More
 * than RESP_MAX_REFS is resp_parse's 400: none are fetched then. */
static int fetch_refs(struct tok *t, struct tok_lookup *l)
{
    size_t n = resp_item_refs(t->body, NULL, 0);
    if (n == 0 || n > RESP_MAX_REFS)
        return AXON_OK;
    l->ids = xcalloc(n, sizeof *l->ids);
    l->found = xcalloc(n, sizeof(json_object *));
    l->n = resp_item_refs(t->body, l->ids, n);
    int rc = items_fetch(t->r->cfg, t->r->tenant, l->ids, l->n, ITEMS_KEEP_THINKING, l->found);
    if (rc == AXON_EIO)
        return conv_api_error(&t->e, rc, NULL, NULL); /* the store's 503, as chat's */
    if (rc)
        api_error_set(&t->e, 500, ERR_SERVER, NULL, NULL,
                      "The stored items named by item_reference could not be read back.");
    return rc;
}

static int refuse_stored(struct api_error *e, const char *param)
{
    api_error_set(e, 400, ERR_INVALID_REQUEST, "unsupported_parameter", param,
                  "'%s' is not supported by /v1/responses/input_tokens on this server: send the "
                  "items to count in input.",
                  param);
    return AXON_EINVAL;
}

/* The Responses body into the canonical request: the model, which the
 * spec's TokenCountsBody makes optional, defaulted as for a chat request
 * without one (pipeline.c, txn_route); what needs the store refused first. */
static int tok_parse(struct tok *t)
{
    json_object *mv = NULL;
    if (!json_object_object_get_ex(t->body, "model", &mv) || !mv)
        json_object_object_add(t->body, "model", json_object_new_string(t->r->cfg->default_model));
    if (jsonv_get(t->body, "previous_response_id"))
        return refuse_stored(&t->e, "previous_response_id");
    if (jsonv_get(t->body, "conversation"))
        return refuse_stored(&t->e, "conversation");
    struct tok_lookup l = {.tenant = t->r->tenant};
    int rc = fetch_refs(t, &l);
    if (!rc) {
        struct resp_lookup lk = {.ctx = &l, .item = lookup_item, .open_reasoning = open_reasoning};
        rc = resp_parse(t->body, &lk, &t->chat, &t->meta, &t->e);
    }
    lookup_free(&l);
    return rc;
}

/* route: the model the catalog knows, with an upstream to ask. */
static int tok_route(struct tok *t)
{
    json_object *mv = jsonv_member_sv(t->chat, "model");
    /* "m\u0000x" names no model: it is not routed as "m". */
    bool routed = mv &&
                  strlen(json_object_get_string(mv)) == (size_t)json_object_get_string_len(mv) &&
                  catalog_route(t->r->cfg, json_object_get_string(mv), &t->rt) == AXON_OK;
    if (!routed) {
        api_error_set(&t->e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL, /* chat's */
                      "The model `%s` does not exist or you do not have access to it.",
                      mv ? json_object_get_string(mv) : "");
        return AXON_ENOTFOUND;
    }
    snprintf(t->r->model, sizeof t->r->model, "%s", t->rt.m.id);
    if (t->rt.ep->provider == PROVIDER_ANTHROPIC && !t->r->cfg->anthropic_key) {
        /* pipeline.c's words for the same case */
        api_error_set(&t->e, 503, ERR_SERVER, "no_upstream", NULL,
                      "The model `%s` is served by Claude, but no Claude upstream is "
                      "configured. The operator must set ANTHROPIC_API_KEY and restart Axon.",
                      t->rt.m.id);
        t->e.no_retry = true;
        return AXON_EINVAL;
    }
    return AXON_OK;
}

/* translate: the provider's body for the request, with every check it makes
 * (a request the model cannot take is refused here as for an answer). The
 * upstream body is parsed back into *out (returns new). */
static int tok_translate(struct tok *t, json_object **out)
{
    struct chat_plan plan;
    memset(&plan, 0, sizeof plan);
    int rc = provider_of(t->rt.ep)->request(t->chat, &t->rt.m, &t->up, &plan, &t->e);
    if (rc) {
        resp_map_error(&t->meta, &t->e); /* in this request's names */
        return rc;
    }
    if (jsonv_parse(t->up.p, t->up.len, JSONV_MAX_DEPTH, out)) {
        api_error_set(&t->e, 500, ERR_SERVER, NULL, NULL, "The upstream request could not be built.");
        return AXON_EINVAL;
    }
    return AXON_OK;
}

/* ---- the bodies (resp_tokens.h) ---------------------------------------------------------- */

/* A new object holding o's members named in keys (n of them), shared. */
static json_object *pick(json_object *o, const char *const *keys, size_t n)
{
    json_object *out = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        json_object *v = jsonv_get(o, keys[i]);
        if (v)
            json_object_object_add(out, keys[i], json_object_get(v));
    }
    return out;
}

json_object *resp_tokens_claude_body(json_object *messages_body)
{
    return pick(messages_body, COUNT_FIELDS, sizeof COUNT_FIELDS / sizeof COUNT_FIELDS[0]);
}

/* vLLM's TokenizeChatRequest takes more (add_generation_prompt, its
 * default true, chat_template ...); what shapes the prompt of a chat
 * request is these. */
json_object *resp_tokens_tokenize_body(json_object *chat_body)
{
    static const char *const keep[] = {"model", "messages", "tools"};
    return pick(chat_body, keep, sizeof keep / sizeof keep[0]);
}

int resp_tokens_estimate(json_object *chat_body, size_t cap, long long *out)
{
    static const char *const parts[] = {"messages", "tools"};
    size_t bytes = 0;
    struct buf b = BUF_INIT(cap);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        json_object *v = jsonv_get(chat_body, parts[i]);
        if (!v)
            continue;
        buf_reset(&b);
        if (jsonv_write(&b, v)) {
            buf_free(&b);
            return AXON_ETOOBIG;
        }
        bytes += b.len;
    }
    buf_free(&b);
    *out = (long long)((bytes + 3) / 4);
    return AXON_OK;
}

/* The upstream body, written into t->up. */
static int up_body(struct tok *t, json_object *ub, bool claude)
{
    json_object *cb = claude ? resp_tokens_claude_body(ub) : resp_tokens_tokenize_body(ub);
    buf_reset(&t->up);
    int rc = jsonv_write(&t->up, cb);
    json_object_put(cb);
    if (rc)
        api_error_set(&t->e, 400, ERR_INVALID_REQUEST, "request_too_large", NULL,
                      "The request is too large for the upstream.");
    return rc;
}

/* ---- the upstream's answer ------------------------------------------------------------- */

static int bad_answer(struct api_error *e, const char *what)
{
    api_error_set(e, 502, ERR_SERVER, "upstream_protocol_error", NULL,
                  "The upstream sent an invalid answer: %s.", what);
    return AXON_EPROTO;
}

/* MessageTokensCount: {"input_tokens": N}. */
static int on_body(void *st, const char *p, size_t n, struct api_error *e)
{
    struct tok *t = st;
    json_object *o = NULL;
    if (jsonv_parse(p, n, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bad_answer(e, "a body that is not a JSON object");
    }
    json_object *v = jsonv_get(o, "input_tokens");
    int rc = AXON_OK;
    if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
        rc = bad_answer(e, "a token count without input_tokens");
    } else {
        t->count = (long long)json_object_get_int64(v);
        t->counted = true;
    }
    json_object_put(o);
    return rc;
}

/* vLLM's TokenizeResponse: {"count": N, ...}. An answer without a count
 * is a server whose /tokenize is not vLLM's (llama.cpp's takes
 * {"content"}): it cannot count this body, so Axon estimates. */
static int on_tokenize_body(void *st, const char *p, size_t n, struct api_error *e)
{
    (void)e;
    struct tok *t = st;
    json_object *o = NULL;
    json_object *v = NULL;
    if (!jsonv_parse(p, n, JSONV_MAX_DEPTH, &o))
        v = jsonv_get(o, "count");
    if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
        t->count = (long long)json_object_get_int64(v);
        t->counted = true;
    } else {
        t->no_count = true;
    }
    json_object_put(o);
    return AXON_OK;
}

/* A /tokenize the upstream has not (404, 405), or a body it will not
 * count (400, 422): Axon estimates. Its key refused, its rate limit and
 * its own failures are errors, mapped as for chat (openai.h). */
static void tokenize_http_error(int status, const char *body, size_t n, const char *retry_after,
                                struct api_error *e)
{
    if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 429) {
        api_error_set(e, status, ERR_INVALID_REQUEST, NO_COUNT_CODE, NULL,
                      "The upstream cannot count tokens (HTTP %d).", status);
        return;
    }
    openai_http_error(status, body, n, retry_after, e);
}

/* The count is asked for whole: a stream never comes. */
static int on_event(void *st, const char *event, const char *data, size_t n, struct api_error *e)
{
    (void)st, (void)event, (void)data, (void)n;
    return bad_answer(e, "events where one JSON body was due");
}

static int on_end(void *st, struct api_error *e)
{
    (void)st;
    return bad_answer(e, "events where one JSON body was due");
}

static const struct up_reader count_reader = {
    .state_size = sizeof(struct tok),
    .event = on_event,
    .end = on_end,
    .body = on_body,
    .http_error = anthropic_http_error,
};

static const struct up_reader tokenize_reader = {
    .state_size = sizeof(struct tok),
    .event = on_event,
    .end = on_end,
    .body = on_tokenize_body,
    .http_error = tokenize_http_error,
};

static bool on_delivered(void *ud, int i)
{
    (void)ud, (void)i;
    return false; /* the client hears nothing before the count: always retryable */
}

static void on_restart(void *ud, int i)
{
    (void)i;
    struct tok *t = ud;
    t->counted = t->no_count = false;
    t->count = 0;
}

/* Client gone, the drain deadline and lease renewal (passthru.c's on_tick,
 * without the stream's heartbeat). */
static int on_tick(void *ud, uint64_t upstream_us)
{
    (void)upstream_us;
    struct tok *t = ud;
    return lease_tick(t->r, &t->lease, &t->cut);
}

static const struct up_hooks run_hooks = {
    .delivered = on_delivered,
    .restart = on_restart,
    .tick = on_tick,
};

/* lease: a session of the endpoint's pool, as chat takes one (the wait in
 * /stats as chat's). */
static int tok_lease(struct tok *t)
{
    return lease_take(t->r, t->rt.ep->pool, NULL, NULL, &t->lease, &t->leased, &t->cut, &t->e);
}

/* run: the upstream's count, one call: Claude's count_tokens or vLLM's
 * tokenize. */
static int tok_run(struct tok *t, bool claude)
{
    struct axon_req *r = t->r;
    char url[1200];
    snprintf(url, sizeof url, "%s%s", t->rt.ep->base_url, claude ? COUNT_PATH : TOKENIZE_PATH);
    struct curl_slist *headers = provider_of(t->rt.ep)->headers(r->cfg, t->rt.ep);
    struct up_call call = {.url = url, .headers = headers, .body = t->up.p, .len = t->up.len,
                           .stream = false, .st = t};
    r->upstream = t->rt.ep->name;
    int rc = upstream_run(r->cfg, &call, 1, 1, claude ? &count_reader : &tokenize_reader,
                          &run_hooks, t, &t->e);
    curl_slist_free_all(headers);
    if (rc && !claude && t->e.code && !strcmp(t->e.code, NO_COUNT_CODE)) {
        memset(&t->e, 0, sizeof t->e);
        t->no_count = true;
        return AXON_OK;
    }
    if (!rc && t->no_count)
        return AXON_OK;
    if (!rc && !t->counted)
        rc = bad_answer(&t->e, "no token count");
    if (rc && t->e.status == 400)
        resp_map_error(&t->meta, &t->e); /* Claude's 400 about messages[K]: the item */
    return rc;
}

/* ---- the answer ------------------------------------------------------------------------- */

static int tok_answer(struct tok *t, int rc, bool upstream)
{
    struct axon_req *r = t->r;
    if (t->cut)
        api_error_set(&t->e, 503, ERR_SERVER, DRAIN_CODE, NULL,
                      "Axon is shutting down: the count was cut at the end of its drain time "
                      "(AXON_DRAIN_S). Please retry.");
    if (rc == AXON_ECLIENT_GONE || (rc && !t->e.status && !t->cut)) {
        r->client_gone = rc == AXON_ECLIENT_GONE;
        return rc;
    }
    if (rc)
        return errors_send_api(r, &t->e);
    text_append_header(r->resp_headers, sizeof r->resp_headers,
                       upstream ? "X-Axon-Token-Count: upstream" : "X-Axon-Token-Count: estimate");
    char out[96];
    int n = snprintf(out, sizeof out, "{\"object\":\"response.input_tokens\",\"input_tokens\":%lld}",
                     t->count);
    return io_send_json(r, 200, out, (size_t)n, NULL);
}

int responses_input_tokens(struct axon_req *r)
{
    struct tok t;
    memset(&t, 0, sizeof t);
    t.r = r;
    buf_init(&t.up, 64u << 20);
    int rc = chat_read_json_object(r, &t.body); /* answers its own 400 or 413 */
    if (rc) {
        buf_free(&t.up);
        return rc;
    }
    json_object *ub = NULL;
    bool claude = false;
    rc = tok_parse(&t);
    if (!rc)
        rc = tok_route(&t);
    if (!rc)
        rc = tok_translate(&t, &ub);
    if (!rc) {
        claude = t.rt.ep->provider == PROVIDER_ANTHROPIC;
        rc = up_body(&t, ub, claude);
    }
    if (!rc)
        rc = tok_lease(&t);
    if (!rc)
        rc = tok_run(&t, claude);
    lease_give_back(r->cfg, t.leased ? provider_of(t.rt.ep) : NULL, &t.lease, &t.leased, rc,
                    &t.e); /* before the client hears the end: it may ask again at once */
    if (!rc && t.no_count)
        rc = resp_tokens_estimate(ub, t.up.max, &t.count);
    rc = tok_answer(&t, rc, !t.no_count);
    json_object_put(ub);
    json_object_put(t.chat);
    json_object_put(t.body);
    resp_meta_free(&t.meta);
    buf_free(&t.up);
    return rc;
}
