/* chat.c - POST /v1/chat/completions: read, validate, pick the model,
 * translate, call the upstream, answer. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "anthropic.h"
#include "errors.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"
#include "log.h"
#include "oai_out.h"
#include "oai_validate.h"
#include "upstream.h"

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

/* One request's answer in flight: the output and one translator per choice. */
struct chat_run {
    struct axon_req *r;
    struct oai_out out;
    struct anth_stream *as;   /* owned, out.n entries */
    uint64_t last_out_us;     /* when the client last got bytes */
    uint64_t bytes_seen;
};

static int on_event(void *ud, int i, const char *event, const char *data, size_t n,
                    struct api_error *e)
{
    struct chat_run *c = ud;
    return anth_stream_event(&c->as[i], event, data, n, e);
}

static int on_end(void *ud, int i, struct api_error *e)
{
    struct chat_run *c = ud;
    return anth_stream_end(&c->as[i], e);
}

static int on_body(void *ud, int i, const char *p, size_t n, struct api_error *e)
{
    struct chat_run *c = ud;
    return anth_message(&c->as[i], p, n, e);
}

static bool on_delivered(void *ud, int i)
{
    struct chat_run *c = ud;
    return oai_out_delivered(&c->out, i);
}

static void on_restart(void *ud, int i)
{
    struct chat_run *c = ud;
    oai_out_reset_choice(&c->out, i);
    anth_stream_init(&c->as[i], &c->out, i);
}

/* Heartbeats while the upstream is silent, and the client-gone check: nginx
 * closes our socket when its client leaves, lighttpd only learns of it
 * when we write, which the heartbeat provokes. A stream whose upstream stays
 * silent for a heartbeat therefore starts with a ping: from then on errors
 * are chunks, but a gone client is noticed and the web server's read
 * timeout is reset. */
static int on_tick(void *ud)
{
    struct chat_run *c = ud;
    uint64_t now = log_now_us();
    if (c->r->bytes_out != c->bytes_seen) {
        c->bytes_seen = c->r->bytes_out;
        c->last_out_us = now;
    }
    if (io_client_gone(c->r))
        return AXON_ECLIENT_GONE;
    if (now - c->last_out_us >= (uint64_t)c->r->cfg->heartbeat_s * 1000000u) {
        c->last_out_us = now;
        if (oai_out_ping(&c->out))
            return AXON_ECLIENT_GONE;
        c->bytes_seen = c->r->bytes_out; /* the ping is not news from the upstream */
    }
    return AXON_OK;
}

static const struct up_ops anthropic_ops = {
    .event = on_event,
    .end = on_end,
    .body = on_body,
    .http_error = anthropic_http_error,
    .delivered = on_delivered,
    .restart = on_restart,
    .tick = on_tick,
};

static int answer(struct axon_req *r, json_object *req, const struct model *m)
{
    const struct axon_config *cfg = r->cfg;
    struct api_error e = {0};
    if (!cfg->anthropic_key) {
        /* x-should-retry stops the SDKs' automatic retries: asking again
         * cannot help until the operator configures the upstream. */
        api_error_set(&e, 503, ERR_SERVER, "no_upstream", NULL,
                      "The model `%s` is served by Claude, but no Claude upstream is "
                      "configured. The operator must set ANTHROPIC_API_KEY and restart Axon.",
                      m->id);
        e.no_retry = true;
        return errors_send_api(r, &e);
    }
    struct buf body = BUF_INIT(64u << 20);
    struct anth_request_info info;
    int rc = anthropic_request(req, m, &body, &info, &e);
    if (rc) {
        buf_free(&body);
        return errors_send_api(r, &e);
    }
    char url[1100];
    snprintf(url, sizeof url, "%s/v1/messages", cfg->anthropic_base_url);
    struct curl_slist *headers = anthropic_headers(cfg);
    struct up_call calls[UP_MAX_CALLS];
    for (int i = 0; i < info.n; i++)
        calls[i] = (struct up_call){.url = url, .headers = headers, .body = body.p,
                                    .len = body.len, .stream = info.stream};

    struct chat_run c = {.r = r, .last_out_us = log_now_us()};
    oai_out_init(&c.out, r, info.n, info.stream, info.include_usage, m->id);
    c.out.json_mode = info.json_mode;
    c.as = xcalloc((size_t)info.n, sizeof *c.as);
    for (int i = 0; i < info.n; i++)
        anth_stream_init(&c.as[i], &c.out, i);

    rc = upstream_run(cfg, calls, info.n, &anthropic_ops, &c, &e);
    if (rc == AXON_OK)
        rc = oai_out_finish(&c.out, &e);
    if (rc && rc != AXON_ECLIENT_GONE) {
        if (c.out.json_failed)
            oai_json_error(&e);
        if (!e.status)
            api_error_set(&e, 502, ERR_SERVER, NULL, NULL, "The answer could not be completed.");
        (void)oai_out_error(&c.out, &e);
    }
    r->upstream = "anthropic";
    for (int i = 0; i < info.n; i++) {
        r->tokens_in += c.out.c[i].usage.input + c.out.c[i].usage.cache_read +
                        c.out.c[i].usage.cache_write;
        r->tokens_out += c.out.c[i].usage.output;
    }
    free(c.as);
    oai_out_free(&c.out);
    curl_slist_free_all(headers);
    buf_free(&body);
    return rc;
}

int chat_completions(struct axon_req *r)
{
    json_object *req = NULL;
    int rc = chat_read_json_object(r, &req);
    if (rc)
        return rc;
    struct api_error e = {0};
    /* A request without a model gets the operator's default. */
    json_object *mv = NULL;
    if (!json_object_object_get_ex(req, "model", &mv) || json_object_is_type(mv, json_type_null))
        json_object_object_add(req, "model", json_object_new_string(r->cfg->default_model));
    if (oai_validate_chat(req, false, &e)) {
        json_object_put(req);
        return errors_send_api(r, &e);
    }
    json_object_object_get_ex(req, "model", &mv);
    const char *name = json_object_get_string(mv);
    const struct model *m = models_find(&r->cfg->models, name);
    r->model = m ? m->id : NULL;
    json_object *nv = NULL;
    if (!m) {
        /* OpenAI's chat 404 has param null (the model is in the message). */
        api_error_set(&e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL,
                      "The model `%s` does not exist or you do not have access to it.", name);
        rc = errors_send_api(r, &e);
    } else if (json_object_object_get_ex(req, "n", &nv) && json_object_is_type(nv, json_type_int) &&
               json_object_get_int64(nv) > r->cfg->max_n) {
        api_error_set(&e, 400, ERR_INVALID_REQUEST, "integer_above_max_value", "n",
                      "Invalid 'n': integer above maximum value. Expected a value <= %d, but got "
                      "%lld instead.", r->cfg->max_n, (long long)json_object_get_int64(nv));
        rc = errors_send_api(r, &e);
    } else {
        rc = answer(r, req, m);
    }
    json_object_put(req);
    return rc;
}
