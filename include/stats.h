/* stats.h - this process's counters and histograms (request classes,
 * tokens, the acquire-wait and overhead histograms). stats_http.c answers
 * GET /stats (JSON, no auth) and GET /metrics (Prometheus text, a key unless
 * AXON_METRICS_PUBLIC) from them. A leaf: the request path adds to it
 * without linking what the answers read (Valkey, the pool, the catalog).
 *
 * Two scopes, both cheap to read (counters only, never a SCAN):
 *   - the pool's figures and the live-conversation count come from Valkey,
 *     so they are the same whichever process answers;
 *   - request counters and the acquire-wait histogram are this process's,
 *     since it started (they say so: "scope":"process", with pid and since).
 * Nothing here ever holds a URL, a key or an id. */
#ifndef AXON_STATS_H
#define AXON_STATS_H

#include <stdint.h>

#include "reqctx.h"

/* A finished request (after its answer): status class, stream, tokens. */
void stats_request(const struct axon_req *r);
/* Requests being answered right now (+1 at accept, -1 when finished). */
void stats_in_flight(int delta);
/* A core worker thread has connected its upstreams and takes requests:
 * GET /ready answers 200 once all AXON_THREADS of them have. */
void stats_worker_ready(void);
/* How long a pool acquire waited, successful or not. */
void stats_acquire_wait(uint64_t us);
/* A turn stored, or one that could not be (Valkey failed after the answer). */
void stats_turn_stored(void);
void stats_store_failed(void);
/* Turns left out of a replay to fit the model's context. */
void stats_turns_dropped(int n);

/* The histograms' finite bucket bounds (the last bucket is +Inf): the wait
 * for a pool session in ms, and Axon's own time per chat completion in us. */
#define STATS_WAIT_BOUNDS 13
#define STATS_OVER_BOUNDS 11
extern const double stats_wait_bounds_ms[STATS_WAIT_BOUNDS];
extern const double stats_over_bounds_us[STATS_OVER_BOUNDS];

/* Every counter at one moment (each read atomically, not all together). */
struct stats_snapshot {
    long long since; /* Unix time of the first counted request, 0 before */
    long long total, in_flight, streams, client_gone, s2xx, s4xx, s5xx;
    long long tokens_in, tokens_out;
    long long stored, store_failed, turns_dropped;
    long long wait_count, wait_sum_us, wait_bucket[STATS_WAIT_BOUNDS + 1];
    long long over_count, over_sum_us, over_bucket[STATS_OVER_BOUNDS + 1];
    unsigned long long valkey_rt; /* round trips of the requests counted */
    int workers_ready;            /* stats_worker_ready calls */
};

/* Fills s (borrowed) with the counters now. Lock-free. */
void stats_read(struct stats_snapshot *s);
/* The wait-histogram bucket bound holding quantile q of s: an upper
 * estimate in ms (0 when no acquire was counted; the last finite bound when
 * past it). */
double stats_wait_quantile(const struct stats_snapshot *s, double q);

#endif
