/* catalog.c - model routing over models.conf and the upstreams' own lists,
 * and the background monitor that reads those lists and each upstream's
 * health. */
#include "catalog.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonv.h"
#include "log.h"
#include "provider.h"
#include "text.h"

/* What the monitor last learnt of one endpoint. */
struct up_status {
    const char *state;          /* static: see state_of() */
    long http_status;           /* of the last check; 0 if none came */
    time_t checked_at;          /* wall clock, 0 before the first check */
    uint64_t check_us;          /* how long the last check took */
    char error[160];            /* why it is not ok; never a URL or key */
    struct listed_model *models;/* owned, n entries: the last list read */
    size_t n;
    bool listed;                /* a list was read at least once */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* first round done, or stop */
    pthread_t thread;
    bool running, stop, first_done;
    struct up_status st[CONFIG_MAX_ENDPOINTS];
} cat = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- the lists -------------------------------------------------------------- */

static void copy_name(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && s[n] && n + 1 < cap; n++)
        dst[n] = (char)(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[n])
                            ? s[n]
                            : '_');
    dst[n] = '\0';
}

int catalog_parse_models(const char *body, size_t len, struct listed_model **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_object *o = NULL, *data = NULL;
    if (jsonv_parse(body, len, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "data", &data) || !json_object_is_type(data, json_type_array)) {
        json_object_put(o);
        return AXON_EINVAL;
    }
    size_t total = json_object_array_length(data);
    if (total > MODELS_MAX)
        total = MODELS_MAX;
    struct listed_model *v = xcalloc(total ? total : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < total; i++) {
        json_object *m = json_object_array_get_idx(data, i), *f;
        if (!json_object_object_get_ex(m, "id", &f) || !json_object_is_type(f, json_type_string))
            continue;
        const char *id = json_object_get_string(f);
        if (!models_id_ok(id, strlen(id)))
            continue; /* an id Axon could not route or show safely */
        struct listed_model *lm = &v[k++];
        snprintf(lm->id, sizeof lm->id, "%s", id);
        copy_name(lm->owned_by, sizeof lm->owned_by,
                  json_object_object_get_ex(m, "owned_by", &f) && json_object_is_type(f, json_type_string)
                      ? json_object_get_string(f)
                      : "");
        if (!lm->owned_by[0])
            snprintf(lm->owned_by, sizeof lm->owned_by, "system");
        if (json_object_object_get_ex(m, "created", &f) && json_object_is_type(f, json_type_int))
            lm->created = (long)json_object_get_int64(f);
        if (json_object_object_get_ex(m, "max_model_len", &f) && json_object_is_type(f, json_type_int) &&
            json_object_get_int64(f) > 0)
            lm->context = (long)json_object_get_int64(f);
    }
    json_object_put(o);
    *out = v;
    *n = k;
    return AXON_OK;
}

/* The listed model `name` of endpoint k (under cat.mu), or NULL. */
static const struct listed_model *listed(int k, const char *name)
{
    for (size_t i = 0; i < cat.st[k].n; i++)
        if (!strcmp(cat.st[k].models[i].id, name))
            return &cat.st[k].models[i];
    return NULL;
}

/* Fills a route from a models.conf entry. */
static void route_static(const struct axon_config *cfg, const struct model *m, struct model_route *out)
{
    out->m = *m;
    text_join(out->id, sizeof out->id, m->id, NULL, NULL); /* every request: no format */
    text_join(out->upstream_id, sizeof out->upstream_id, m->upstream_id, NULL, NULL);
    out->m.id = out->id;
    out->m.upstream_id = out->upstream_id;
    out->m.server = NULL;
    out->m.target = NULL;
    out->ep = &cfg->endpoints[m->endpoint];
}

static void route_listed(const struct axon_config *cfg, int k, const char *id, long context,
                         long created, struct model_route *out)
{
    memset(out, 0, sizeof *out);
    text_join(out->id, sizeof out->id, id, NULL, NULL);
    text_join(out->upstream_id, sizeof out->upstream_id, id, NULL, NULL);
    out->m.id = out->id;
    out->m.upstream_id = out->upstream_id;
    out->m.provider = PROVIDER_OPENAI;
    out->m.endpoint = k;
    out->m.context = context;
    out->m.created = created;
    out->ep = &cfg->endpoints[k];
}

/* Under cat.mu. */
static bool find_listed(const struct axon_config *cfg, const char *name, struct model_route *out)
{
    for (int k = 1; k < cfg->n_endpoints; k++) {
        const struct listed_model *lm = listed(k, name);
        if (lm) {
            route_listed(cfg, k, lm->id, lm->context, lm->created, out);
            return true;
        }
    }
    return false;
}

int catalog_route(const struct axon_config *cfg, const char *name, struct model_route *out)
{
    const struct model *m = models_find(&cfg->models, name);
    if (m) {
        route_static(cfg, m, out);
        return AXON_OK;
    }
    pthread_mutex_lock(&cat.mu);
    bool found = find_listed(cfg, name, out);
    if (!found && cat.running && !cat.first_done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += CATALOG_FIRST_WAIT_MS / 1000;
        while (cat.running && !cat.first_done && !cat.stop &&
               pthread_cond_timedwait(&cat.cv, &cat.mu, &until) != ETIMEDOUT) {
        }
        found = find_listed(cfg, name, out);
    }
    pthread_mutex_unlock(&cat.mu);
    if (found)
        return AXON_OK;
    /* The operator named this model: it goes to the vLLM server even while
     * that server's list is unknown (or misses it: the server says so). */
    if (cfg->vllm_base_url && !strcmp(name, cfg->vllm_default_model)) {
        for (int k = 1; k < cfg->n_endpoints; k++)
            if (!strcmp(cfg->endpoints[k].name, MODELS_DEFAULT_SERVER)) {
                route_listed(cfg, k, name, 0, 0, out);
                return AXON_OK;
            }
    }
    return AXON_ENOTFOUND;
}

/* ---- the monitor ------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) ? 0 : n; /* past the cap: curl stops the transfer */
}

/* GET url into body. Returns the HTTP status, or 0 with err filled when no
 * answer came. */
static long get(CURL *h, const char *url, const struct curl_slist *headers, long connect_ms,
                struct buf *body, char *err, size_t errlen)
{
    buf_reset(body);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)CATALOG_CHECK_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", rc == CURLE_WRITE_ERROR ? "the answer is too large"
                                                            : curl_easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static const char *state_of(long status)
{
    if (status == 0)
        return "down";
    if (status >= 200 && status < 300)
        return "ok";
    if (status == 401 || status == 403)
        return "auth_failed";
    return "unhealthy";
}

/* Asks endpoint ep: its health path (if any), then its model list. Fills
 * next's status, error and (OpenAI-compatible) models. */
static void ask(const struct axon_config *cfg, const struct endpoint *ep, CURL *h,
                struct buf *body, struct up_status *next)
{
    char url[1200];
    struct curl_slist *hdrs = provider_of(ep)->headers(cfg, ep);
    long status = 200;
    if (ep->health) {
        snprintf(url, sizeof url, "%s%s", ep->base_url, ep->health);
        status = get(h, url, hdrs, cfg->connect_timeout_ms, body, next->error, sizeof next->error);
        if (status == 404)
            status = 200; /* a server without the route: the list decides */
        else if (status >= 300)
            snprintf(next->error, sizeof next->error, "%s answered HTTP %ld", ep->health, status);
    }
    if (status >= 200 && status < 300) {
        snprintf(url, sizeof url, "%s/v1/models", ep->base_url);
        status = get(h, url, hdrs, cfg->connect_timeout_ms, body, next->error, sizeof next->error);
        if (status >= 300)
            snprintf(next->error, sizeof next->error, "/v1/models answered HTTP %ld", status);
        else if (status && ep->provider == PROVIDER_OPENAI) {
            if (catalog_parse_models(body->p ? body->p : "", body->len, &next->models, &next->n)) {
                snprintf(next->error, sizeof next->error, "/v1/models is not a model list");
                status = 502;
            } else {
                next->listed = true;
            }
        }
    }
    curl_slist_free_all(hdrs);
    next->http_status = status;
    next->state = state_of(status);
}

/* Checks endpoint k and publishes what it found. */
static void check(const struct axon_config *cfg, int k, CURL *h, struct buf *body)
{
    const struct endpoint *ep = &cfg->endpoints[k];
    struct up_status next = {.checked_at = time(NULL)};
    uint64_t t0 = log_now_us();
    if (ep->provider == PROVIDER_ANTHROPIC && !cfg->anthropic_key) {
        next.state = "not_configured";
        snprintf(next.error, sizeof next.error, "ANTHROPIC_API_KEY is not set");
    } else {
        ask(cfg, ep, h, body, &next);
    }
    next.check_us = log_now_us() - t0;
    pthread_mutex_lock(&cat.mu);
    struct up_status *st = &cat.st[k];
    if (strcmp(next.state, "ok") != 0 && st->listed) {
        /* A failed check keeps the last list: the models did not go away,
         * the server did, and requests will say so. */
        free(next.models);
        next.models = st->models;
        next.n = st->n;
        next.listed = true;
    } else {
        free(st->models);
    }
    if (strcmp(next.state, st->state ? st->state : "") != 0)
        log_msg(strcmp(next.state, "ok") ? AXON_LOG_WARN : AXON_LOG_INFO, "upstream %s: %s%s%s", ep->name,
                next.state, next.error[0] ? ": " : "", next.error);
    *st = next;
    pthread_mutex_unlock(&cat.mu);
}

static void *monitor_main(void *arg)
{
    const struct axon_config *cfg = arg;
    CURL *h = curl_easy_init();
    struct buf body = BUF_INIT(CATALOG_MAX_BODY);
    for (;;) {
        /* The OpenAI-compatible lists first: requests may be waiting on them. */
        for (int k = 1; h && k < cfg->n_endpoints; k++)
            check(cfg, k, h, &body);
        pthread_mutex_lock(&cat.mu);
        cat.first_done = true;
        pthread_cond_broadcast(&cat.cv);
        pthread_mutex_unlock(&cat.mu);
        if (h)
            check(cfg, 0, h, &body);
        pthread_mutex_lock(&cat.mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += cfg->upstream_check_s;
        while (!cat.stop && pthread_cond_timedwait(&cat.cv, &cat.mu, &until) != ETIMEDOUT) {
        }
        bool stop = cat.stop;
        pthread_mutex_unlock(&cat.mu);
        if (stop)
            break;
    }
    buf_free(&body);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

int catalog_start(const struct axon_config *cfg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
    pthread_mutex_lock(&cat.mu);
    cat.stop = false;
    cat.first_done = false;
    int rc = pthread_create(&cat.thread, &attr, monitor_main, (void *)cfg);
    cat.running = rc == 0;
    pthread_mutex_unlock(&cat.mu);
    pthread_attr_destroy(&attr);
    return rc == 0 ? AXON_OK : AXON_ESYS;
}

void catalog_stop(void)
{
    pthread_mutex_lock(&cat.mu);
    bool running = cat.running;
    cat.stop = true;
    pthread_cond_broadcast(&cat.cv);
    pthread_mutex_unlock(&cat.mu);
    if (running)
        pthread_join(cat.thread, NULL);
    pthread_mutex_lock(&cat.mu);
    cat.running = false;
    for (int k = 0; k < CONFIG_MAX_ENDPOINTS; k++) {
        free(cat.st[k].models);
        memset(&cat.st[k], 0, sizeof cat.st[k]);
    }
    pthread_mutex_unlock(&cat.mu);
}

/* ---- JSON for /v1/models, /stats and /metrics ----------------------------- */

static int model_json(struct buf *b, const struct listed_model *lm)
{
    int rc = buf_puts(b, "{\"id\":");
    if (!rc)
        rc = buf_json_str(b, lm->id, strlen(lm->id));
    if (!rc)
        rc = buf_printf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"%s\"}",
                        lm->created, lm->owned_by);
    return rc;
}

/* Under cat.mu: is id shown already (models.conf, or an earlier server)? */
static bool shadowed(const struct axon_config *cfg, int k, const char *id)
{
    if (models_find(&cfg->models, id))
        return true;
    for (int j = 1; j < k; j++)
        if (listed(j, id))
            return true;
    return false;
}

int catalog_list_json(const struct axon_config *cfg, struct buf *b)
{
    int rc = AXON_OK;
    pthread_mutex_lock(&cat.mu);
    for (int k = 1; !rc && k < cfg->n_endpoints; k++)
        for (size_t i = 0; !rc && i < cat.st[k].n; i++) {
            const struct listed_model *lm = &cat.st[k].models[i];
            if (shadowed(cfg, k, lm->id))
                continue;
            rc = buf_puts(b, ",");
            if (!rc)
                rc = model_json(b, lm);
        }
    pthread_mutex_unlock(&cat.mu);
    return rc;
}

int catalog_model_json(const struct axon_config *cfg, const char *id, struct buf *b)
{
    int rc = AXON_ENOTFOUND;
    pthread_mutex_lock(&cat.mu);
    for (int k = 1; rc == AXON_ENOTFOUND && k < cfg->n_endpoints; k++) {
        const struct listed_model *lm = listed(k, id);
        if (lm)
            rc = model_json(b, lm);
    }
    pthread_mutex_unlock(&cat.mu);
    return rc;
}

int catalog_stats_json(const struct axon_config *cfg, struct buf *b, const struct pool_stats *pools)
{
    int rc = buf_puts(b, "\"upstreams\":{");
    time_t now = time(NULL);
    pthread_mutex_lock(&cat.mu);
    for (int k = 0; !rc && k < cfg->n_endpoints; k++) {
        const struct endpoint *ep = &cfg->endpoints[k];
        const struct up_status *st = &cat.st[k];
        rc = buf_printf(b, "%s\"%s\":{\"provider\":\"%s\",\"state\":\"%s\",", k ? "," : "", ep->name,
                        ep->provider == PROVIDER_ANTHROPIC ? "anthropic" : "openai",
                        st->state ? st->state : "unknown");
        if (!rc)
            rc = st->checked_at
                     ? buf_printf(b, "\"checked_s_ago\":%lld,\"check_ms\":%.1f,\"http_status\":%ld,",
                                  (long long)(now - st->checked_at), (double)st->check_us / 1000.0,
                                  st->http_status)
                     : buf_puts(b, "\"checked_s_ago\":null,\"check_ms\":null,\"http_status\":null,");
        if (!rc && ep->provider == PROVIDER_OPENAI)
            rc = st->listed ? buf_printf(b, "\"models\":%zu,", st->n) : buf_puts(b, "\"models\":null,");
        if (!rc)
            rc = pools ? buf_printf(b, "\"sessions\":{\"size\":%lld,\"idle\":%lld,\"busy\":%lld},",
                                    pools[k].size, pools[k].idle, pools[k].busy)
                       : buf_puts(b, "\"sessions\":null,");
        if (!rc)
            rc = buf_puts(b, "\"error\":");
        if (!rc)
            rc = buf_json_str_or_null(b, st->error[0] ? st->error : NULL);
        if (!rc)
            rc = buf_puts(b, "}");
    }
    pthread_mutex_unlock(&cat.mu);
    if (!rc)
        rc = buf_puts(b, "}");
    return rc;
}

int catalog_metrics(const struct axon_config *cfg, struct buf *b)
{
    int rc = buf_puts(b, "# HELP axon_upstream_up 1 while the last background check of the "
                         "upstream succeeded.\n# TYPE axon_upstream_up gauge\n");
    pthread_mutex_lock(&cat.mu);
    for (int k = 0; !rc && k < cfg->n_endpoints; k++)
        rc = buf_printf(b, "axon_upstream_up{upstream=\"%s\"} %d\n", cfg->endpoints[k].name,
                        cat.st[k].state && !strcmp(cat.st[k].state, "ok"));
    if (!rc)
        rc = buf_puts(b, "# HELP axon_upstream_models Models an upstream lists.\n"
                         "# TYPE axon_upstream_models gauge\n");
    for (int k = 1; !rc && k < cfg->n_endpoints; k++)
        rc = buf_printf(b, "axon_upstream_models{upstream=\"%s\"} %zu\n", cfg->endpoints[k].name,
                        cat.st[k].n);
    pthread_mutex_unlock(&cat.mu);
    return rc;
}
