/* stats.c - this process's counters and histograms: lock-free atomics,
 * added to by the request path and read whole by stats_read (stats_http.c
 * answers /stats and /metrics from them). */
#include "stats.h"

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "reqctx.h"

/* Upper bounds of the histograms' finite buckets; the last bucket is +Inf. */
const double stats_wait_bounds_ms[STATS_WAIT_BOUNDS] = {1,   2,   5,    10,   25,   50,  100,
                                                        250, 500, 1000, 2500, 5000, 10000};
const double stats_over_bounds_us[STATS_OVER_BOUNDS] = {25,   50,   100,   250,   500,   1000,
                                                        2500, 5000, 10000, 25000, 100000};
#define N_BOUNDS STATS_WAIT_BOUNDS
#define N_OVER STATS_OVER_BOUNDS

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
        while (b < N_OVER && (double)r->overhead_us > stats_over_bounds_us[b])
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

void stats_in_flight(int delta)
{
    atomic_fetch_add(&st.in_flight, delta);
}

void stats_acquire_wait(uint64_t us)
{
    size_t b = 0;
    while (b < N_BOUNDS && (double)us > stats_wait_bounds_ms[b] * 1000.0)
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

void stats_read(struct stats_snapshot *s)
{
    s->since = atomic_load(&since);
    s->total = atomic_load(&st.total);
    s->in_flight = atomic_load(&st.in_flight);
    s->streams = atomic_load(&st.streams);
    s->client_gone = atomic_load(&st.client_gone);
    s->s2xx = atomic_load(&st.s2xx);
    s->s4xx = atomic_load(&st.s4xx);
    s->s5xx = atomic_load(&st.s5xx);
    s->tokens_in = atomic_load(&st.tokens_in);
    s->tokens_out = atomic_load(&st.tokens_out);
    s->stored = atomic_load(&st.stored);
    s->store_failed = atomic_load(&st.store_failed);
    s->turns_dropped = atomic_load(&st.turns_dropped);
    s->wait_count = atomic_load(&st.wait_count);
    s->wait_sum_us = atomic_load(&st.wait_sum_us);
    for (size_t b = 0; b <= N_BOUNDS; b++)
        s->wait_bucket[b] = atomic_load(&st.wait_bucket[b]);
    s->over_count = atomic_load(&st.over_count);
    s->over_sum_us = atomic_load(&st.over_sum_us);
    for (size_t b = 0; b <= N_OVER; b++)
        s->over_bucket[b] = atomic_load(&st.over_bucket[b]);
    s->valkey_rt = atomic_load(&st.valkey_rt);
    s->workers_ready = atomic_load(&workers_ready);
}

double stats_wait_quantile(const struct stats_snapshot *s, double q)
{
    long long total = s->wait_count;
    if (total == 0)
        return 0;
    long long want = (long long)(q * (double)total + 0.999999), seen = 0;
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        seen += s->wait_bucket[b];
        if (seen >= want)
            return stats_wait_bounds_ms[b < N_BOUNDS ? b : N_BOUNDS - 1];
    }
    return stats_wait_bounds_ms[N_BOUNDS - 1];
}
