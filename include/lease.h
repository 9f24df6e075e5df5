/* lease.h - a request's pool session, the one way every upstream-calling
 * path takes it, keeps it and gives it back (the pipeline, passthru.c,
 * resp_tokens.c): the wait that stops when the client leaves or the drain
 * deadline comes, the wait in /stats, the 429 when every session stayed
 * busy, the renewal while the call runs, the cool-down after a refusal
 * that says something about the session, and the clean start after a
 * recycle. The session itself is pool.h's; this module adds the request
 * around it (its client, its errors, its provider's credential). */
#ifndef AXON_LEASE_H
#define AXON_LEASE_H

#include <stdbool.h>

#include "axon.h"
#include "errors.h"
#include "pool.h"
#include "provider.h"

/* Takes a session of the pool `pool` (borrowed) for r (borrowed) into *l,
 * waiting up to cfg->pool_wait_ms. While it waits, also(ud) (may be NULL)
 * is called between polls, before the gone check (the pipeline renews the
 * conversation's turn lock there). *held says whether *l holds a session
 * (give it back with lease_give_back, or pool_release_add + lease_recycled).
 * Returns AXON_OK; AXON_EBUSY with e set (429 rate_limit_exceeded,
 * Retry-After 1) when no session came free in time; AXON_EIO with *cut set
 * when the drain deadline ended the wait (the caller words the 503: its
 * answer or its count was cut); AXON_ECLIENT_GONE when the client left
 * during the wait; else pool_acquire's error. Counts the wait in /stats
 * (stats_acquire_wait) when it succeeded or timed out. */
int lease_take(struct axon_req *r, const char *pool, void (*also)(void *ud), void *ud,
               struct pool_lease *l, bool *held, bool *cut, struct api_error *e) AXON_MUST_CHECK;

/* The session's part of an upstream call's tick: AXON_ECLIENT_GONE when
 * r's client left, AXON_EIO with *cut set once the drain deadline passed
 * (the answer ends now and the session goes back rather than stay busy
 * until its lease runs out), else the lease renewed (pool_renew talks to
 * Valkey only when due, and never for a lease the process's background
 * tick renews) and AXON_OK. Borrows r and l. */
int lease_tick(struct axon_req *r, struct pool_lease *l, bool *cut);

/* How the session fared, for the release: POOL_REFUSED after an upstream
 * refusal that says something about it (overloaded, rate limited, its
 * credential refused, its account out of credit: the cool-down keeps every
 * worker from asking again at once), else POOL_DONE. rc: the request's
 * result; e (borrowed): its error. */
enum pool_outcome lease_outcome(int rc, const struct api_error *e);

/* A recycled session starts clean: the upstream connections dropped and
 * pv's credential read again (when pv reloads one), so a rotated key is
 * picked up. Call it when pool_release or pool_release_done said so. */
void lease_recycled(const struct axon_config *cfg, const struct provider_ops *pv);

/* Gives back the session *l holds (nothing when !*held), cooled down per
 * lease_outcome(rc, e), and clears *held; then lease_recycled when the
 * release recycled it. One round trip, none when the process keeps the
 * session (pool.h); the pipeline instead adds its release
 * to its settle batch (pool_release_add/done) and calls lease_recycled. */
void lease_give_back(const struct axon_config *cfg, const struct provider_ops *pv,
                     struct pool_lease *l, bool *held, int rc, const struct api_error *e);

#endif
