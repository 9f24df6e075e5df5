/* stats.c - process counters, the acquire-wait histogram, and the /stats and
 * /metrics answers, which add the pool's and the conversations' figures
 * read from Valkey in a couple of O(1)/O(log n) commands. */
#include "stats.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "conv.h"
#include "drain.h"
#include "errors.h"
#include "fcgi_io.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "valkey.h"

/* Upper bounds (ms) of the wait histogram's buckets; the last is +Inf. */
static const double wait_bounds_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
#define N_BOUNDS (sizeof wait_bounds_ms / sizeof wait_bounds_ms[0])
/* Upper bounds (us) of the overhead histogram's buckets; the last is +Inf. */
static const double over_bounds_us[] = {25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000,
                                        100000};
#define N_OVER (sizeof over_bounds_us / sizeof over_bounds_us[0])

static struct {
    atomic_llong total, in_flight, streams, client_gone, s2xx, s4xx, s5xx;
    atomic_llong tokens_in, tokens_out;
    atomic_llong stored, store_failed, turns_dropped;
    atomic_llong wait_count, wait_sum_us;
    atomic_llong wait_bucket[N_BOUNDS + 1];
    atomic_llong over_count, over_sum_us;
    atomic_llong over_bucket[N_OVER + 1];
    atomic_ullong valkey_rt;
} st;

static atomic_llong since; /* Unix time of the first counted event */

static void mark_since(void)
{
    long long zero = 0;
    if (atomic_load(&since) == 0)
        atomic_compare_exchange_strong(&since, &zero, (long long)time(NULL));
}

void stats_request(const struct axon_req *r)
{
    mark_since();
    atomic_fetch_add(&st.total, 1);
    if (r->status >= 200 && r->status < 300)
        atomic_fetch_add(&st.s2xx, 1);
    else if (r->status >= 400 && r->status < 500)
        atomic_fetch_add(&st.s4xx, 1);
    else if (r->status >= 500)
        atomic_fetch_add(&st.s5xx, 1);
    if (r->stream)
        atomic_fetch_add(&st.streams, 1);
    if (r->client_gone)
        atomic_fetch_add(&st.client_gone, 1);
    atomic_fetch_add(&st.tokens_in, r->tokens_in);
    atomic_fetch_add(&st.tokens_out, r->tokens_out);
    atomic_fetch_add(&st.valkey_rt, r->valkey_rt);
    if (r->upstream) {
        /* Only answers that called a model: the gateway's own cost. */
        size_t b = 0;
        while (b < N_OVER && (double)r->overhead_us > over_bounds_us[b])
            b++;
        atomic_fetch_add(&st.over_bucket[b], 1);
        atomic_fetch_add(&st.over_count, 1);
        atomic_fetch_add(&st.over_sum_us, (long long)r->overhead_us);
    }
}

static atomic_int workers_ready;

void stats_worker_ready(void)
{
    atomic_fetch_add(&workers_ready, 1);
}

/* Readiness, apart from liveness (/health): a process that has just started
 * answers /health at once from its first thread while the others still
 * connect to Valkey and the upstreams; an orchestrator should send it
 * traffic only once they all have. A Valkey or upstream outage does not
 * make a process unready: it answers those requests better than no process
 * would (conversations unstored, upstream errors OpenAI-shaped). */
int ready_get(struct axon_req *r)
{
    int n = atomic_load(&workers_ready);
    bool going = drain_started(); /* not ready again: the process is leaving */
    bool ok = n >= r->cfg->threads && !going;
    char body[96];
    int len = snprintf(body, sizeof body, "{\"status\":\"%s\",\"workers_ready\":%d,\"workers\":%d}",
                       going ? "draining" : ok ? "ready" : "starting", n, r->cfg->threads);
    return io_send_json(r, ok ? 200 : 503, body, (size_t)len, NULL);
}

void stats_in_flight(int delta)
{
    atomic_fetch_add(&st.in_flight, delta);
}

void stats_acquire_wait(uint64_t us)
{
    size_t b = 0;
    while (b < N_BOUNDS && (double)us > wait_bounds_ms[b] * 1000.0)
        b++;
    atomic_fetch_add(&st.wait_bucket[b], 1);
    atomic_fetch_add(&st.wait_count, 1);
    atomic_fetch_add(&st.wait_sum_us, (long long)us);
}

void stats_turn_stored(void)
{
    atomic_fetch_add(&st.stored, 1);
}

void stats_store_failed(void)
{
    atomic_fetch_add(&st.store_failed, 1);
}

void stats_turns_dropped(int n)
{
    atomic_fetch_add(&st.turns_dropped, n);
}

/* The bucket bound holding quantile q: an upper estimate, in ms (0 when no
 * acquire was counted yet; the last finite bound when past it). */
static double wait_quantile(double q)
{
    long long total = atomic_load(&st.wait_count);
    if (total == 0)
        return 0;
    long long want = (long long)(q * (double)total + 0.999999), seen = 0;
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        seen += atomic_load(&st.wait_bucket[b]);
        if (seen >= want)
            return wait_bounds_ms[b < N_BOUNDS ? b : N_BOUNDS - 1];
    }
    return wait_bounds_ms[N_BOUNDS - 1];
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
    struct buf b = BUF_INIT(8192);
    const struct pool_stats *p = &f.pool;
    int rc = AXON_OK;
    if (f.pool_ok)
        rc = buf_printf(&b,
                        "{\"pool\":{\"scope\":\"%s\",\"size\":%lld,\"idle\":%lld,\"busy\":%lld,"
                        "\"waiting\":%lld,\"cooling\":%lld,\"acquires\":%lld,\"releases\":%lld,"
                        "\"recycles\":%lld,\"reclaims\":%lld,\"timeouts\":%lld,"
                        "\"stale_releases\":%lld,",
                        p->local ? "process" : "valkey", p->size, p->idle, p->busy, p->waiting,
                        p->cooling, p->acquires, p->releases, p->recycles, p->reclaims,
                        p->timeouts, p->stale_releases);
    else
        rc = buf_puts(&b, "{\"pool\":{\"scope\":\"unavailable\",");
    if (!rc)
        rc = buf_printf(&b,
                        "\"acquire_wait_ms\":{\"scope\":\"process\",\"count\":%lld,\"p50\":%g,"
                        "\"p99\":%g}},",
                        atomic_load(&st.wait_count), wait_quantile(0.5), wait_quantile(0.99));
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
                        atomic_load(&st.stored), atomic_load(&st.store_failed),
                        atomic_load(&st.turns_dropped), (long)getpid(), atomic_load(&since),
                        atomic_load(&st.total), atomic_load(&st.in_flight),
                        atomic_load(&st.streams), atomic_load(&st.client_gone),
                        atomic_load(&st.s2xx), atomic_load(&st.s4xx), atomic_load(&st.s5xx),
                        atomic_load(&st.tokens_in), atomic_load(&st.tokens_out),
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
                        struct buf *b)
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
    for (size_t i = 0; !rc && i <= N_BOUNDS; i++) {
        cum += atomic_load(&st.wait_bucket[i]);
        if (i < N_BOUNDS)
            rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_bucket{le=\"%g\"} %lld\n",
                            wait_bounds_ms[i] / 1000.0, cum);
        else
            rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    if (!rc)
        rc = buf_printf(&h, "axon_pool_acquire_wait_seconds_sum %.6f\n"
                            "axon_pool_acquire_wait_seconds_count %lld\n",
                        (double)atomic_load(&st.wait_sum_us) / 1e6, atomic_load(&st.wait_count));
    if (!rc)
        rc = metric(b, "axon_pool_acquire_wait_seconds", "histogram",
                    "Time requests of this process waited for a session.", h.p);
    buf_reset(&h);
    cum = 0;
    for (size_t i = 0; !rc && i <= N_OVER; i++) {
        cum += atomic_load(&st.over_bucket[i]);
        if (i < N_OVER)
            rc = buf_printf(&h, "axon_overhead_seconds_bucket{le=\"%g\"} %lld\n",
                            over_bounds_us[i] / 1e6, cum);
        else
            rc = buf_printf(&h, "axon_overhead_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    if (!rc)
        rc = buf_printf(&h, "axon_overhead_seconds_sum %.6f\naxon_overhead_seconds_count %lld\n",
                        (double)atomic_load(&st.over_sum_us) / 1e6, atomic_load(&st.over_count));
    if (!rc)
        rc = metric(b, "axon_overhead_seconds", "histogram",
                    "Time chat completions of this process spent in Axon itself, excluding "
                    "the wait for the upstream (the x-axon-overhead-us header).", h.p);
    buf_free(&h);
    snprintf(s, sizeof s, "axon_valkey_round_trips_total %llu\n", atomic_load(&st.valkey_rt));
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
             atomic_load(&st.s2xx), atomic_load(&st.s4xx), atomic_load(&st.s5xx));
    if (!rc)
        rc = metric(b, "axon_requests_total", "counter", "Requests answered by this process.", s);
    snprintf(s, sizeof s, "axon_requests_in_flight %lld\n", atomic_load(&st.in_flight));
    if (!rc)
        rc = metric(b, "axon_requests_in_flight", "gauge", "Requests being answered now.", s);
    snprintf(s, sizeof s, "axon_streams_total %lld\n", atomic_load(&st.streams));
    if (!rc)
        rc = metric(b, "axon_streams_total", "counter", "Streamed answers.", s);
    snprintf(s, sizeof s, "axon_client_gone_total %lld\n", atomic_load(&st.client_gone));
    if (!rc)
        rc = metric(b, "axon_client_gone_total", "counter", "Clients that left before the end.", s);
    snprintf(s, sizeof s, "axon_tokens_total{kind=\"prompt\"} %lld\naxon_tokens_total{kind=\"completion\"} %lld\n",
             atomic_load(&st.tokens_in), atomic_load(&st.tokens_out));
    if (!rc)
        rc = metric(b, "axon_tokens_total", "counter", "Upstream tokens.", s);
    snprintf(s, sizeof s, "axon_turns_stored_total %lld\naxon_turn_store_failures_total %lld\n",
             atomic_load(&st.stored), atomic_load(&st.store_failed));
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
    if (!r->cfg->metrics_public && router_authenticate(r))
        return AXON_OK; /* answered with 401 */
    struct shared_figures f;
    read_shared(r->cfg, &f);
    struct buf b = BUF_INIT(65536);
    int rc = metrics_body(r->cfg, &f, &b);
    if (!rc) {
        rc = io_begin(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                      "Cache-Control: no-store\r\n");
        if (!rc)
            rc = io_write(r, b.p, b.len);
    }
    buf_free(&b);
    return rc;
}
