/* stats_http.c - GET /stats, /metrics and /ready: this process's counters
 * (stats.h) with the pool's and the conversations' figures read from Valkey
 * in a couple of O(1)/O(log n) commands, and each upstream's (catalog.h).
 * /metrics' key, unless AXON_METRICS_PUBLIC, is the route's (router.c). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "conv.h"
#include "drain.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "pool.h"
#include "stats.h"
#include "valkey.h"

/* Readiness, apart from liveness (/health): a process that has just started
 * answers /health at once from its first thread while the others still
 * connect to Valkey and the upstreams; an orchestrator should send it
 * traffic only once they all have. A Valkey or upstream outage does not
 * make a process unready: it answers those requests better than no process
 * would (conversations unstored, upstream errors OpenAI-shaped). */
int ready_get(struct axon_req *r)
{
    struct stats_snapshot s;
    stats_read(&s);
    int n = s.workers_ready;
    bool going = drain_started(); /* not ready again: the process is leaving */
    bool ok = n >= r->cfg->threads && !going;
    char body[96];
    int len = snprintf(body, sizeof body, "{\"status\":\"%s\",\"workers_ready\":%d,\"workers\":%d}",
                       going ? "draining" : ok ? "ready" : "starting", n, r->cfg->threads);
    return io_send_json(r, ok ? 200 : 503, body, (size_t)len, NULL);
}

/* What Valkey says: pool figures (or the local fallback's) and the count of
 * live conversations (-1: unknown while Valkey is down). */
struct shared_figures {
    struct pool_stats pool;      /* every upstream's pool together */
    bool pool_ok;
    struct pool_stats each[CONFIG_MAX_ENDPOINTS];
    long long active;
};

static void read_shared(const struct axon_config *cfg, struct shared_figures *f)
{
    memset(f, 0, sizeof *f);
    f->pool_ok = true;
    for (int k = 0; f->pool_ok && k < cfg->n_endpoints; k++) {
        struct pool_stats *e = &f->each[k], *p = &f->pool;
        f->pool_ok = pool_stats(cfg, cfg->endpoints[k].pool, e) == AXON_OK;
        p->size += e->size;
        p->idle += e->idle;
        p->busy += e->busy;
        p->kept += e->kept;
        p->waiting += e->waiting;
        p->cooling += e->cooling;
        p->acquires += e->acquires;
        p->releases += e->releases;
        p->recycles += e->recycles;
        p->reclaims += e->reclaims;
        p->timeouts += e->timeouts;
        p->stale_releases += e->stale_releases;
        p->retired += e->retired;
        p->local = e->local;
    }
    if (conv_active_count(&f->active) != AXON_OK)
        f->active = -1;
}

int stats_get(struct axon_req *r)
{
    struct shared_figures f;
    read_shared(r->cfg, &f);
    struct stats_snapshot s;
    stats_read(&s);
    struct buf b = BUF_INIT(8192);
    const struct pool_stats *p = &f.pool;
    int rc = AXON_OK;
    if (f.pool_ok)
        rc = buf_printf(&b,
                        "{\"pool\":{\"scope\":\"%s\",\"size\":%lld,\"idle\":%lld,\"busy\":%lld,"
                        "\"kept\":%lld,\"waiting\":%lld,\"cooling\":%lld,\"acquires\":%lld,\"releases\":%lld,"
                        "\"recycles\":%lld,\"reclaims\":%lld,\"timeouts\":%lld,"
                        "\"stale_releases\":%lld,",
                        p->local ? "process" : "valkey", p->size, p->idle, p->busy, p->kept, p->waiting,
                        p->cooling, p->acquires, p->releases, p->recycles, p->reclaims,
                        p->timeouts, p->stale_releases);
    else
        rc = buf_puts(&b, "{\"pool\":{\"scope\":\"unavailable\",");
    if (!rc)
        rc = buf_printf(&b,
                        "\"acquire_wait_ms\":{\"scope\":\"process\",\"count\":%lld,\"p50\":%g,"
                        "\"p99\":%g}},",
                        s.wait_count, stats_wait_quantile(&s, 0.5), stats_wait_quantile(&s, 0.99));
    if (!rc)
        rc = f.active >= 0 ? buf_printf(&b, "\"conversations\":{\"active\":%lld,", f.active)
                           : buf_puts(&b, "\"conversations\":{\"active\":null,");
    if (!rc)
        rc = buf_printf(&b,
                        "\"stored_turns\":%lld,\"store_failures\":%lld,\"turns_dropped\":%lld},"
                        "\"requests\":{\"scope\":\"process\",\"pid\":%ld,\"since\":%lld,"
                        "\"total\":%lld,\"in_flight\":%lld,\"streams\":%lld,\"client_gone\":%lld,"
                        "\"status_2xx\":%lld,\"status_4xx\":%lld,\"status_5xx\":%lld,"
                        "\"tokens_in\":%lld,\"tokens_out\":%lld},\"valkey\":\"%s\",",
                        s.stored, s.store_failed,
                        s.turns_dropped, (long)getpid(), s.since,
                        s.total, s.in_flight,
                        s.streams, s.client_gone,
                        s.s2xx, s.s4xx, s.s5xx,
                        s.tokens_in, s.tokens_out,
                        valkey_up() ? "ok" : "down");
    if (!rc)
        rc = catalog_stats_json(r->cfg, &b, f.pool_ok ? f.each : NULL);
    if (!rc)
        rc = buf_puts(&b, "}");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, "Cache-Control: no-store\r\n");
    buf_free(&b);
    return rc;
}

/* One Prometheus metric: HELP and TYPE, then its samples (pre-formatted). */
static int metric(struct buf *b, const char *name, const char *type, const char *help,
                  const char *samples)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s", name, help, name, type, samples);
}

static int metrics_body(const struct axon_config *cfg, const struct shared_figures *f,
                        const struct stats_snapshot *st, struct buf *b)
{
    char s[1024];
    const struct pool_stats *p = &f->pool;
    int rc = AXON_OK;
    if (f->pool_ok) {
        snprintf(s, sizeof s,
                 "axon_pool_sessions{state=\"idle\"} %lld\naxon_pool_sessions{state=\"busy\"} %lld\n"
                 "axon_pool_sessions{state=\"cooling\"} %lld\n",
                 p->idle, p->busy, p->cooling);
        rc = metric(b, "axon_pool_sessions", "gauge", "Upstream sessions by state.", s);
        snprintf(s, sizeof s, "axon_pool_size %lld\n", p->size);
        if (!rc)
            rc = metric(b, "axon_pool_size", "gauge", "Upstream sessions in the pool.", s);
        snprintf(s, sizeof s, "axon_pool_waiting %lld\n", p->waiting);
        if (!rc)
            rc = metric(b, "axon_pool_waiting", "gauge", "Requests waiting for a session.", s);
        static const char *const names[] = {"acquires", "releases", "recycles",
                                            "reclaims", "timeouts", "stale_releases"};
        const long long vals[] = {p->acquires, p->releases, p->recycles,
                                  p->reclaims, p->timeouts, p->stale_releases};
        for (size_t i = 0; !rc && i < sizeof vals / sizeof vals[0]; i++) {
            char name[64], help[96];
            snprintf(name, sizeof name, "axon_pool_%s_total", names[i]);
            snprintf(help, sizeof help, "Pool %s (all processes while Valkey is up).", names[i]);
            snprintf(s, sizeof s, "%s %lld\n", name, vals[i]);
            rc = metric(b, name, "counter", help, s);
        }
    }
    /* The wait histogram, cumulative as Prometheus wants it. */
    struct buf h = BUF_INIT(4096);
    long long cum = 0;
    for (size_t i = 0; !rc && i <= STATS_WAIT_BOUNDS; i++) {
        cum += st->wait_bucket[i];
        if (i < STATS_WAIT_BOUNDS)
            rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_bucket{le=\"%g\"} %lld\n",
                            stats_wait_bounds_ms[i] / 1000.0, cum);
        else
            rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    if (!rc)
        rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_sum %.6f\n"
                            "axon_pool_acquire_wait_seconds_count %lld\n",
                        (double)st->wait_sum_us / 1e6, st->wait_count);
    if (!rc)
        rc = metric(b, "axon_pool_acquire_wait_seconds", "histogram",
                    "Time requests of this process waited for a session.", h.p);
    buf_reset(&h);
    cum = 0;
    for (size_t i = 0; !rc && i <= STATS_OVER_BOUNDS; i++) {
        cum += st->over_bucket[i];
        if (i < STATS_OVER_BOUNDS)
            rc = buf_printf(&h, "axon_overhead_seconds_bucket{le=\"%g\"} %lld\n",
                            stats_over_bounds_us[i] / 1e6, cum);
        else
            rc = buf_printf(&h, "axon_overhead_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    if (!rc)
        rc = buf_printf(&h, "axon_overhead_seconds_sum %.6f\naxon_overhead_seconds_count %lld\n",
                        (double)st->over_sum_us / 1e6, st->over_count);
    if (!rc)
        rc = metric(b, "axon_overhead_seconds", "histogram",
                    "Time chat completions of this process spent in Axon itself, excluding "
                    "the wait for the upstream (the x-axon-overhead-us header).", h.p);
    buf_free(&h);
    snprintf(s, sizeof s, "axon_valkey_round_trips_total %llu\n", st->valkey_rt);
    if (!rc)
        rc = metric(b, "axon_valkey_round_trips_total", "counter",
                    "Valkey round trips made while answering requests.", s);
    if (!rc && f->active >= 0) {
        snprintf(s, sizeof s, "axon_conversations_active %lld\n", f->active);
        rc = metric(b, "axon_conversations_active", "gauge", "Conversations not yet expired.", s);
    }
    snprintf(s, sizeof s,
             "axon_requests_total{class=\"2xx\"} %lld\naxon_requests_total{class=\"4xx\"} %lld\n"
             "axon_requests_total{class=\"5xx\"} %lld\n",
             st->s2xx, st->s4xx, st->s5xx);
    if (!rc)
        rc = metric(b, "axon_requests_total", "counter", "Requests answered by this process.", s);
    snprintf(s, sizeof s, "axon_requests_in_flight %lld\n", st->in_flight);
    if (!rc)
        rc = metric(b, "axon_requests_in_flight", "gauge", "Requests being answered now.", s);
    snprintf(s, sizeof s, "axon_streams_total %lld\n", st->streams);
    if (!rc)
        rc = metric(b, "axon_streams_total", "counter", "Streamed answers.", s);
    snprintf(s, sizeof s, "axon_client_gone_total %lld\n", st->client_gone);
    if (!rc)
        rc = metric(b, "axon_client_gone_total", "counter", "Clients that left before the end.", s);
    snprintf(s, sizeof s, "axon_tokens_total{kind=\"prompt\"} %lld\naxon_tokens_total{kind=\"completion\"} %lld\n",
             st->tokens_in, st->tokens_out);
    if (!rc)
        rc = metric(b, "axon_tokens_total", "counter", "Upstream tokens.", s);
    snprintf(s, sizeof s, "axon_turns_stored_total %lld\naxon_turn_store_failures_total %lld\n",
             st->stored, st->store_failed);
    if (!rc)
        rc = buf_printf(b, "# HELP axon_turns_stored_total Conversation turns stored.\n"
                           "# TYPE axon_turns_stored_total counter\n"
                           "# HELP axon_turn_store_failures_total Answered turns Valkey could not store.\n"
                           "# TYPE axon_turn_store_failures_total counter\n%s", s);
    snprintf(s, sizeof s, "axon_valkey_up %d\n", valkey_up() ? 1 : 0);
    if (!rc)
        rc = metric(b, "axon_valkey_up", "gauge", "1 while Valkey answers.", s);
    snprintf(s, sizeof s, "axon_valkey_breaker_opens_total %llu\n", valkey_breaker_opens());
    if (!rc)
        rc = metric(b, "axon_valkey_breaker_opens_total", "counter",
                    "Times this process stopped calling Valkey after consecutive failures.", s);
    if (!rc)
        rc = catalog_metrics(cfg, b);
    return rc;
}

int metrics_get(struct axon_req *r)
{
    struct shared_figures f;
    read_shared(r->cfg, &f);
    struct stats_snapshot s;
    stats_read(&s);
    struct buf b = BUF_INIT(65536);
    int rc = metrics_body(r->cfg, &f, &s, &b);
    if (!rc) {
        rc = io_begin(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                      "Cache-Control: no-store\r\n");
        if (!rc)
            rc = io_write(r, b.p, b.len);
    }
    buf_free(&b);
    return rc;
}
