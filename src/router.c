/* router.c - the route table and the request's path through it:
 * route and method (404/405) -> auth (401) -> handler. */
#include "router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "drain.h"
#include "errors.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "log.h"
#include "text.h"

static const struct route routes[] = {
    {.method = "GET", .path = "/health", .auth = ROUTE_PUBLIC, .fn = health_get},
    {.method = "GET", .path = "/ready", .auth = ROUTE_PUBLIC, .fn = ready_get},
    {.method = "GET", .path = "/stats", .auth = ROUTE_PUBLIC, .fn = stats_get},
    {.method = "GET", .path = "/metrics", .auth = ROUTE_METRICS, .fn = metrics_get},
    {.method = "GET", .path = "/v1/models", .fn = models_list},
    {.method = "GET", .path = "/v1/models/", .prefix = true, .fn = models_get},
    {.method = "POST", .path = "/v1/chat/completions", .fn = chat_completions},
    {.method = "POST", .path = "/v1/responses", .fn = responses_create},
    {.method = "POST", .path = "/v1/embeddings", .fn = embeddings_create},
    {.method = "POST", .path = "/v1/completions", .fn = completions_create},
    {.method = "GET", .path = "/v1/conversations", .fn = conv_http_list},
    {.method = "POST", .path = "/v1/conversations", .fn = conv_http_create},
    {.method = "GET", .path = "/v1/conversations/", .prefix = true, .fn = conv_http_get},
    {.method = "POST", .path = "/v1/conversations/", .prefix = true, .fn = conv_http_post},
    {.method = "DELETE", .path = "/v1/conversations/", .prefix = true, .fn = conv_http_delete},
    {.method = "GET", .path = "/v1/responses/", .prefix = true, .fn = resp_http_get},
    {.method = "DELETE", .path = "/v1/responses/", .prefix = true, .fn = resp_http_delete},
    {.method = "GET", .path = "/v1/_test/sse", .test_only = true, .fn = test_sse_get},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static bool path_matches(const struct route *rt, const char *path, const char **arg)
{
    size_t n = strlen(rt->path);
    if (!rt->prefix) {
        *arg = "";
        return strcmp(path, rt->path) == 0;
    }
    /* A prefix route needs a non-empty argument: "/v1/models/" alone is no
     * model id. Ids may hold '/' and ':' (fine-tune names), so take the rest. */
    if (strncmp(path, rt->path, n) != 0 || path[n] == '\0')
        return false;
    *arg = path + n;
    return true;
}

enum route_match router_match(const char *method, const char *path, bool test_routes,
                              const struct route **out, const char **arg, char *allow,
                              size_t allow_len)
{
    enum route_match m = ROUTE_NO_PATH;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *rt = &routes[i];
        const char *a;
        if ((rt->test_only && !test_routes) || !path_matches(rt, path, &a))
            continue;
        if (strcmp(rt->method, method) == 0) {
            *out = rt;
            *arg = a;
            return ROUTE_FOUND;
        }
        m = ROUTE_NO_METHOD;
        size_t used = strlen(allow);
        snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", rt->method);
    }
    return m;
}

int router_authenticate(struct axon_req *r)
{
    enum auth_result a = auth_check(r->cfg, io_param(r, "HTTP_AUTHORIZATION"), r->tenant,
                                    sizeof r->tenant);
    if (a == AUTH_OK)
        return AXON_OK;
    if (a == AUTH_MISSING)
        (void)errors_send(r, 401, ERR_INVALID_REQUEST, NULL, NULL, NULL, "%s", ERR_MSG_NO_KEY);
    else
        (void)errors_send(r, 401, ERR_INVALID_REQUEST, NULL, "invalid_api_key", NULL,
                          "Incorrect API key provided: %s. You can find your API key at "
                          "https://platform.openai.com/account/api-keys.",
                          r->tenant);
    r->tenant[0] = '\0'; /* it held the masked token, not a tenant */
    return AXON_EDENIED;
}

void router_handle(struct axon_req *r)
{
    if (r->path_too_long) {
        (void)errors_send(r, 414, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                          "The request URL is longer than %d bytes.", REQ_MAX_PATH);
        return;
    }
    const struct route *rt = NULL;
    const char *arg = "";
    char allow[64];
    enum route_match m = router_match(r->method, r->path, r->cfg->test_routes, &rt, &arg, allow,
                                      sizeof allow);
    if (m == ROUTE_NO_PATH) {
        (void)errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL, "Invalid URL (%s %s)",
                          r->method, r->path);
        return;
    }
    if (m == ROUTE_NO_METHOD) {
        char hdr[96];
        snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
        (void)errors_send(r, 405, ERR_INVALID_REQUEST, NULL, NULL, hdr,
                          "Invalid method for URL (%s %s): use %s.", r->method, r->path, allow);
        return;
    }
    bool key = rt->auth == ROUTE_KEY || (rt->auth == ROUTE_METRICS && !r->cfg->metrics_public);
    if (key && router_authenticate(r))
        return;
    /* /metrics stays up during the drain, key or not: the scrape that
     * watches a process leave must still see it. */
    if (rt->auth == ROUTE_KEY && drain_started()) {
        /* Accepted during the drain (main.c keeps the socket open so that
         * /health can say 503): nothing new starts. The SDKs retry a 503,
         * after Retry-After, on whichever process then answers. */
        struct api_error e = {0};
        api_error_set(&e, 503, ERR_SERVER, DRAIN_CODE, NULL,
                      "Axon is shutting down and takes no new requests. Please retry.");
        snprintf(e.retry_after, sizeof e.retry_after, "1");
        (void)errors_send_api(r, &e);
        return;
    }
    r->route_arg = arg;
    int rc = rt->fn(r);
    if (rc && !r->status)
        (void)errors_send(r, 500, ERR_SERVER, NULL, NULL, NULL,
                          "The server had an error while processing your request. Sorry about "
                          "that! You can retry your request, or contact us if the error "
                          "persists. (Please include the request ID %s in your message.)",
                          r->id);
}

int health_get(struct axon_req *r)
{
    /* 503 during the drain: a readiness probe takes this process out of
     * rotation while it finishes what it has. */
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char going[] = "{\"status\":\"draining\"}";
    if (drain_started())
        return io_send_json(r, 503, going, sizeof going - 1, NULL);
    return io_send_json(r, 200, ok, sizeof ok - 1, NULL);
}

/* The end of a test stream still open at the drain deadline, as a chat
 * stream ends (the writer's error, oai_out.h): an error object, then [DONE]. */
static int test_sse_cut(struct axon_req *r)
{
    struct api_error e = {0};
    api_error_set(&e, 503, ERR_SERVER, DRAIN_CODE, NULL,
                  "Axon is shutting down: the answer was cut at the end of its drain time. "
                  "Please retry.");
    struct buf b = BUF_INIT(4096);
    int rc = errors_envelope_api(&b, &e);
    if (!rc)
        rc = io_sse_data(r, b.p, b.len);
    if (!rc)
        rc = io_sse_data(r, "[DONE]", 6);
    buf_free(&b);
    return rc;
}

/* GET /v1/_test/sse?n=N&ms=M: N events M ms apart. It proves, through each
 * web server, that events reach the client one by one (no buffering) and
 * that SIGTERM lets a stream finish. */
int test_sse_get(struct axon_req *r)
{
    int64_t n = 5, ms = 200;
    size_t len;
    const char *v = text_query_get(r->query, "n", &len);
    if (v && text_parse_i64_n(v, len, 1, 10000, &n))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "n", "invalid_value", NULL,
                           "n must be a whole number from 1 to 10000.");
    v = text_query_get(r->query, "ms", &len);
    if (v && text_parse_i64_n(v, len, 0, 60000, &ms))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "ms", "invalid_value", NULL,
                           "ms must be a whole number from 0 to 60000.");
    int rc = io_sse_begin(r);
    for (int64_t i = 0; !rc && i < n; i++) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0) {
        }
        char ev[48];
        int evn = snprintf(ev, sizeof ev, "{\"i\":%lld}", (long long)i);
        rc = io_client_gone(r) ? AXON_ECLIENT_GONE : io_sse_data(r, ev, (size_t)evn);
        if (!rc && i + 1 < n && drain_cut())
            return test_sse_cut(r);
    }
    if (!rc)
        rc = io_sse_data(r, "[DONE]", 6);
    return rc;
}
