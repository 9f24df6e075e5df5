/* pool.h - the upstream session pool, registered in Valkey.
 *
 * A session is a leased slot on one upstream (one base URL plus one
 * credential). The registry in Valkey is the truth, for every axon process
 * on every host, about which sessions exist, who holds them and how many
 * turns each has served. Keys (hash-tagged: one pool, one cluster slot):
 *   axon:{p:POOL}:idle      list  idle session ids
 *   axon:{p:POOL}:leases    zset  held session ids by lease deadline (ms)
 *   axon:{p:POOL}:waiters   zset  waiting requests by wait deadline (ms)
 *   axon:{p:POOL}:s:ID      hash  gen, turns, cool_until (ms), holder
 *   axon:{p:POOL}:seq       string the last session number handed out
 *   axon:{p:POOL}:counters  hash  acquires, releases, recycles, reclaims,
 *                                 timeouts, stale_releases, retired
 * Time inside the scripts is the server's (TIME), so hosts with skewed
 * clocks agree on deadlines.
 *
 * Acquire is one script: reclaim leases past their deadline (a SIGKILLed
 * worker loses nothing), create sessions up to the pool size, take an idle
 * session (one out of cool-down first) and record the lease. When none is
 * idle the caller polls until its wait deadline, then gets AXON_EBUSY.
 * Release is one script: count the turn; at max_turns recycle the session
 * (new id, generation + 1); put it back to idle, with a cool-down after an
 * upstream refusal. A holder renews its lease while it works, so only a
 * dead holder's lease runs out.
 *
 * Kept sessions (AXON_POOL_KEEP_MS > 0, the default): a process keeps the
 * leases its requests release with POOL_DONE, below max_turns, while no
 * other process waits, and its next acquire takes one in memory (no round
 * trip). A kept lease is still a registry lease (holder token, deadline in
 * the leases zset), so the registry's count stays the fleet-wide bound. One
 * background thread per process ticks every POOL_TICK_MS (50 ms) while the
 * process holds any lease: one script per pool renews what is due, writes
 * the turns and counters kept in memory and counts the waiters; when others
 * wait, or a kept lease idled AXON_POOL_KEEP_MS, it goes back. The release
 * that reaches max_turns goes to the registry with the unwritten turns, so
 * recycling stays exact. docs/pool.md has the rest (what a SIGKILL loses).
 *
 * While Valkey is down (AXON_EIO), acquire falls back to a process-local
 * pool of the same size; such a lease is released locally.
 *
 * The acquire deadline: an acquire that times out while Valkey is stalled
 * is still in the server's socket, and runs when the server wakes up. Were
 * it to lease a session then, the holder token would belong to a request
 * that has moved on (to a local lease, or a 429): nobody renews or releases
 * it, and the session is lost for a whole lease (60 s by default; a 1 s
 * stall once took a pool of 2 for a minute). So the script carries a
 * deadline in the server's clock, Valkey's time now plus the Valkey timeout
 * (AXON_VALKEY_TIMEOUT_MS), and after it changes nothing: no lease, no
 * waiter; it answers its time instead. The caller waits for the reply a
 * whole timeout past the deadline, so a script that ran in time has a
 * timeout for its reply to come back, and one that did not is refused: an
 * acquire that timed out is one that did not happen (the store deadline of
 * conv.h is built the same way). The one gap left: the server stalls in the
 * instant between running the script and sending its reply, and for a
 * whole timeout; that lease then waits for its deadline.
 * Valkey's time comes from this process's last reading of it (every
 * acquire and renew reply carries it) moved on by the monotonic clock; a
 * reading is dated when it arrives, so the estimate errs early, never late.
 * The first acquire of a process reads it with TIME, one round trip more,
 * once. A late answer means Valkey answers again (the stall is over) or its
 * clock stepped (the reading is now fresh): acquire tries the registry once
 * more at once, and only a second late answer falls back to a local lease,
 * as a timeout does.
 *
 * Why a deadline and not an undo once Valkey answers: the undo would need
 * the process that timed out to remember its tokens and come back to the
 * registry, which it may not do for a long time (no request arrives, or
 * /stats is asked of another process), and the ghost lease would be held
 * meanwhile; the deadline needs no memory and no round trip, and the late
 * script frees nothing because it takes nothing. */
#ifndef AXON_POOL_H
#define AXON_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "axon.h"
#include "config.h"
#include "pool_name.h" /* pool_name(), POOL_NAME_LEN */
#include "valkey.h"

#define POOL_ID_MAX 32
#define POOL_HOLDER_MAX 40 /* a lease's holder token: pid and 64 random bits */

struct pool_lease {
    char pool[POOL_NAME_LEN + 1];
    char id[POOL_ID_MAX + 1]; /* session id, e.g. "s17" */
    /* Unique per acquire. Release and renew act only while the session's
     * holder is still this token, so the late release of a reclaimed lease
     * cannot free the session its next holder has. */
    char holder[POOL_HOLDER_MAX + 1];
    long long gen;            /* generation: bumped by every recycle */
    long long turns;          /* turns served before this one */
    long long server_ms;      /* the registry's clock (ms) when last read (acquire, renew); 0: local */
    uint64_t server_at_us;    /* monotonic: when that reading arrived here */
    bool local;               /* from the process-local fallback */
    uint64_t wait_us;         /* how long acquire waited */
    uint64_t renew_at_us;     /* monotonic: when pool_renew next talks to Valkey */
    /* This process's keep tracks it (AXON_POOL_KEEP_MS > 0): the background
     * tick renews it, pool_renew talks to nobody, and its release may keep
     * it in this process instead of giving it back to the registry. */
    bool tracked;
};

enum pool_outcome {
    POOL_DONE,   /* the upstream answered (or failed in a way that says nothing of it) */
    POOL_REFUSED /* 401, 403, 429 or 529: cool the session down */
};

/* Takes a session of pool `name` (borrowed) for this request, waiting up to
 * cfg->pool_wait_ms (each try waits up to twice cfg->valkey_timeout_ms for
 * Valkey's reply: the acquire deadline above). gone (may be NULL) is asked
 * between polls; when it
 * returns true the wait stops with AXON_ECLIENT_GONE. Returns AXON_OK with
 * *l filled (a Valkey lease or, while Valkey is down, a local one) or
 * AXON_EBUSY when no session came free in time; AXON_EINVAL for a bad
 * name; AXON_EREPLY for a registry answering errors (a key of the wrong
 * type) and AXON_EPROTO for one answering nonsense (Valkey is up, so there
 * is no fallback). *l is cleared on failure. */
int pool_acquire(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                 bool (*gone)(void *ud), void *ud) AXON_MUST_CHECK;

/* More sessions for a request that makes several upstream calls at once
 * (n > 1 on an upstream without n): up to `want` more of first's pool
 * (borrowed), taken in one round trip and never waited for, so requests
 * holding some sessions never wait on each other for more (no deadlock);
 * healthy idle ones only. A script that reaches Valkey after the caller's
 * timeout leases nothing (a deadline in the server's clock, from first's
 * reading). A local first lease takes local ones. Fills more[0..k) and
 * returns k (0 when none is idle or Valkey does not answer: the calls then
 * share first, one after the other). Each must be given back like first. */
int pool_acquire_more(const struct axon_config *cfg, const struct pool_lease *first,
                      struct pool_lease *more, int want);

/* Gives the session back, counting the turn: to this process's keep when
 * it may keep it (no round trip, AXON_OK), else to the registry. *recycled is set when this
 * turn reached cfg->max_turns and the session was recycled: the caller then
 * drops its upstream connections and re-reads the credential. A lease that
 * was reclaimed meanwhile (the holder was too slow to renew) is counted as
 * stale and changes nothing: AXON_ENOTFOUND. AXON_EIO when Valkey does not
 * answer: the lease stays and its deadline reclaims it. AXON_EREPLY or
 * AXON_EPROTO for a registry answering an error or nonsense, AXON_EINVAL
 * for a lease that holds nothing. recycled may be NULL. Always clears *l. */
int pool_release(const struct axon_config *cfg, struct pool_lease *l, enum pool_outcome o,
                 bool *recycled);

/* The same release in two halves, so that it can share a round trip with
 * other modules' commands (chat.c stores the turn in the same one).
 * pool_release_add clears *l, keeps what the command borrows in *op and
 * adds it to b (a local lease, or one this process keeps, is given back at
 * once and adds nothing);
 * after valkey_batch_run, pool_release_done reads its reply and returns
 * what pool_release would. Both always succeed in pairing: call done even
 * when add failed. */
#define POOL_KEY_MAX 64 /* "axon:{p:" + name + "}:counters" and the like */
struct pool_release_op {
    struct pool_lease mine;
    char keys[4][POOL_KEY_MAX], sess[POOL_KEY_MAX];
    char gen[24], max_turns[24], cool[24], size[24], turns[24];
    const char *argv[14];
    int at;   /* the reply's index in the batch, or -1 */
    int rc;   /* the result when nothing was added */
};
void pool_release_add(const struct axon_config *cfg, struct pool_lease *l, enum pool_outcome o,
                      struct pool_release_op *op, struct valkey_batch *b);
int pool_release_done(struct pool_release_op *op, const struct valkey_batch *b, bool *recycled);

/* Pushes the lease deadline on by cfg->pool_lease_s when a third of it has
 * passed; costs nothing otherwise. Call it from the request's tick. A
 * tracked lease (l->tracked) is renewed by the background tick instead:
 * this only moves its reading of the server's clock on, with no round trip.
 * AXON_ENOTFOUND (logged once, then silent) when the lease was reclaimed;
 * AXON_EIO when Valkey does not answer (retried a second later), and
 * AXON_EREPLY or AXON_EPROTO when it answers an error or nonsense. */
int pool_renew(const struct axon_config *cfg, struct pool_lease *l);

/* The registry's clock now (ms), extrapolated from its last reading with
 * this host's monotonic clock; 0 for a local lease. It errs early by the
 * reading's one-way trip, never late, so a deadline built on it (conv.h)
 * fires no later than meant. Renewals refresh the reading, which keeps the
 * drift between the two clocks to what a lease third allows. */
long long pool_server_now_ms(const struct pool_lease *l);

struct pool_stats {
    long long size, idle, busy, waiting, cooling;
    long long acquires, releases, recycles, reclaims, timeouts, stale_releases;
    long long retired; /* released into a pool above its size: deleted */
    bool local; /* Valkey is down: these are this process's fallback figures */
    long long kept; /* this process's kept idle sessions, or going back (busy in the registry) */
};
/* The registry's figures for pool `name`, in one round trip (no SCAN);
 * overdue leases are reclaimed first, as acquire does. While Valkey is down
 * (AXON_EIO inside) this process's local figures, AXON_OK. AXON_EINVAL for
 * a bad name, AXON_EREPLY or AXON_EPROTO for a registry answering an error
 * or nonsense. */
int pool_stats(const struct axon_config *cfg, const char *name, struct pool_stats *s) AXON_MUST_CHECK;

/* Hands every session this process keeps back to the registry, with the
 * turns it has not written yet, and stops the background tick. Call once at
 * exit, after the workers stopped (main.c); a lease still in use is left to
 * its deadline. Best effort: what Valkey does not take returns at its lease
 * deadline. Idempotent. */
void pool_shutdown(void);

#endif
