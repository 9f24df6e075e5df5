/* stats.h - counters and the acquire-wait histogram; GET /stats (JSON, no
 * auth) and GET /metrics (Prometheus text, a key unless AXON_METRICS_PUBLIC).
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

/* The handlers (router.c routes them). */
int stats_get(struct axon_req *r);
int metrics_get(struct axon_req *r);
int ready_get(struct axon_req *r);

#endif
