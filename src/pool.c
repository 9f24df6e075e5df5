/* pool.c - the upstream session pool: Lua scripts on a Valkey registry, and
 * a process-local fallback while Valkey is down. See pool.h for the keys.
 *
 * Scripts build session hash keys (prefix .. id) from an ARGV instead of
 * declaring them in KEYS: an acquire cannot know which session it will take
 * before it runs. That is allowed in a cluster because every key of one pool
 * carries the {p:POOL} hash tag, so they all live in the same slot.
 *
 * Round trips: an acquire or release of a session this process keeps is
 * none (the keep, below; the background tick makes one per pool every
 * POOL_TICK_MS while the process holds any lease). In the registry: an
 * acquire that finds an idle session is one EVALSHA; a
 * release is one; a renew is one every lease/3; stats is one. A waiting
 * acquire re-runs the acquire script every poll (2 ms doubling to 25 ms).
 * The first acquire of a process reads Valkey's clock first (one TIME), for
 * the acquire deadline (pool.h); every reply after that keeps it fresh.
 *
 * While Valkey is down the local pool hands out up to pool_size leases per
 * pool in this process. Valkey leases taken before the outage are not
 * counted there, so for one lease period the two may together exceed the
 * size; their deadlines then return them in the registry. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "axon_lua.h" /* generated from src/lua/ (Makefile) */
#include "buf.h"
#include "drain.h"
#include "log.h"
#include "sha256.h"
#include "text.h"
#include "valkey.h"

#define POOL_POLL_FIRST_MS 2    /* first pause between acquire tries */
#define POOL_POLL_MAX_MS 25     /* pauses double up to this */
#define POOL_LOCAL_MAX 32       /* distinct pools the local fallback tracks */
#define POOL_RENEW_RETRY_US 1000000 /* renew again this soon after a Valkey failure */

/* Release statuses (the first element of the release script's reply). */
enum { REL_STALE = 0, REL_DONE = 1, REL_RETIRED = 2 };

/* KEYS, ARGV and the reply: src/lua/pool_acquire.lua. */
static struct valkey_script acquire_lua = {.src = AXON_LUA_POOL_ACQUIRE};

/* KEYS, ARGV and the reply: src/lua/pool_release.lua. */
static struct valkey_script release_lua = {.src = AXON_LUA_POOL_RELEASE};

/* KEYS, ARGV and the reply: src/lua/pool_more.lua. */
static struct valkey_script more_lua = {.src = AXON_LUA_POOL_MORE};

/* KEYS, ARGV and the reply: src/lua/pool_renew.lua. */
static struct valkey_script renew_lua = {.src = AXON_LUA_POOL_RENEW};

/* KEYS, ARGV and the reply: src/lua/pool_stats.lua. */
static struct valkey_script stats_lua = {.src = AXON_LUA_POOL_STATS};
#define STATS_REPLY_LEN 11

struct pool_keys {
    char idle[POOL_KEY_MAX], leases[POOL_KEY_MAX], waiters[POOL_KEY_MAX],
        counters[POOL_KEY_MAX], seq[POOL_KEY_MAX], sess[POOL_KEY_MAX];
};

/* The keep (below): sessions this process holds between its requests. */
static bool keep_take(const struct axon_config *cfg, const char *name, struct pool_lease *l);
static void keep_track(const struct axon_config *cfg, struct pool_lease *l);
static bool keep_put(const struct axon_config *cfg, const struct pool_lease *l,
                     enum pool_outcome o, long long *unsent);
static bool keep_wait_take(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                           uint64_t us);
static void keep_own_waiting(const char *name, int d);
static long long keep_count(const char *name);

/* The process-local fallback: one entry per pool name, never freed (a
 * handful per process). Guarded by local_mu. */
struct local_pool {
    char name[POOL_NAME_LEN + 1];
    pthread_cond_t cv; /* signalled by every local release */
    long long busy, waiting, seq;
    long long acquires, releases, timeouts;
};
static pthread_mutex_t local_mu = PTHREAD_MUTEX_INITIALIZER;
static struct local_pool local_pools[POOL_LOCAL_MAX];
static int n_local;
static atomic_bool local_mode; /* for logging the switch once each way */
static atomic_ullong token_seq;
/* The registry's clock as this process last read it: Valkey's time (ms)
 * minus this host's monotonic ms when the reading arrived. 0: not read yet
 * (a real offset is the epoch's ms, never 0). Every reply that carries the
 * time replaces it, so a step of the server's clock lasts one reply. */
static atomic_llong clock_offset_ms;

/* Valkey's clock read server_ms just now (a reply that carries it). */
static void clock_note(long long server_ms)
{
    atomic_store(&clock_offset_ms, server_ms - (long long)(log_now_us() / 1000u));
}

/* Valkey's clock now, from the last reading and this host's monotonic
 * clock. A reading is dated when it arrives, after the server took it, so
 * this errs early, never late: a deadline built on it fires no later than
 * meant. With no reading yet, one TIME round trip: 0, AXON_EIO,
 * AXON_EREPLY or AXON_EPROTO (valkey_server_time_ms). */
static int clock_now(long long *ms)
{
    long long off = atomic_load(&clock_offset_ms);
    if (off == 0) {
        long long t;
        int rc = valkey_server_time_ms(&t);
        if (rc != AXON_OK)
            return rc;
        clock_note(t);
        off = atomic_load(&clock_offset_ms);
    }
    *ms = off + (long long)(log_now_us() / 1000u);
    return AXON_OK;
}

static bool name_ok(const char *name)
{
    if (!name)
        return false;
    for (int i = 0; i < POOL_NAME_LEN; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return name[POOL_NAME_LEN] == '\0';
}

static int keys_for(const char *name, struct pool_keys *k)
{
    if (!name_ok(name))
        return AXON_EINVAL;
    snprintf(k->idle, sizeof k->idle, "axon:{p:%s}:idle", name);
    snprintf(k->leases, sizeof k->leases, "axon:{p:%s}:leases", name);
    snprintf(k->waiters, sizeof k->waiters, "axon:{p:%s}:waiters", name);
    snprintf(k->counters, sizeof k->counters, "axon:{p:%s}:counters", name);
    snprintf(k->seq, sizeof k->seq, "axon:{p:%s}:seq", name);
    snprintf(k->sess, sizeof k->sess, "axon:{p:%s}:s:", name);
    return AXON_OK;
}

/* A token no other acquire on any host shares: it names both the waiter
 * and the holder. The counter only helps reading logs. */
static void make_token(char *out, size_t len)
{
    unsigned char r[8];
    char hex[2 * sizeof r + 1];
    text_random(r, sizeof r);
    text_hex(r, sizeof r, hex);
    snprintf(out, len, "%ld-%llu-%s", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&token_seq, 1) % 1000000u, hex);
}

/* why: what went wrong, when !up. */
static void note_valkey(bool up, const char *why)
{
    if (up == !atomic_load(&local_mode))
        return; /* the common case: no shared write */
    if (!up && !atomic_exchange(&local_mode, true))
        log_msg(AXON_LOG_WARN, "pool: valkey unreachable (%s), using process-local leases", why);
    else if (up && atomic_exchange(&local_mode, false))
        log_msg(AXON_LOG_INFO, "pool: valkey answers again, leases come from the registry");
}

static bool int_reply(const redisReply *r, long long min, long long max, long long *out)
{
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < min || r->integer > max)
        return false;
    *out = r->integer;
    return true;
}

static int eval(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                int nargs, const char **args)
{
    return valkey_eval(s, out, nkeys, keys, nargs, args, NULL);
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the local fallback ---------------------------------------------- */

/* The entry of pool name, made on first use. Call with local_mu held.
 * NULL when the table is full. */
static struct local_pool *local_get(const char *name, bool create)
{
    for (int i = 0; i < n_local; i++)
        if (strcmp(local_pools[i].name, name) == 0)
            return &local_pools[i];
    if (!create || n_local == POOL_LOCAL_MAX)
        return NULL;
    struct local_pool *p = &local_pools[n_local++];
    memset(p, 0, sizeof *p);
    memcpy(p->name, name, POOL_NAME_LEN + 1);
    pthread_condattr_t ca;
    /* Monotonic, so a wall-clock step cannot stretch or cut the wait. */
    if (pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->cv, &ca) != 0)
        abort(); /* only ENOMEM/EAGAIN: as good as OOM */
    pthread_condattr_destroy(&ca);
    return p;
}

static struct timespec mono_at(uint64_t us)
{
    return (struct timespec){(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
}

/* Waits for a local slot until deadline_us (monotonic). gone is asked
 * every POOL_POLL_MAX_MS, outside the lock. */
static int local_acquire(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                         uint64_t start_us, uint64_t deadline_us, bool (*gone)(void *ud),
                         void *ud)
{
    int rc = AXON_EBUSY;
    pthread_mutex_lock(&local_mu);
    struct local_pool *p = local_get(name, true);
    if (!p) {
        pthread_mutex_unlock(&local_mu);
        log_msg(AXON_LOG_ERROR, "pool: more than %d pools, no local fallback for %s",
                POOL_LOCAL_MAX, name);
        return AXON_EBUSY;
    }
    p->waiting++;
    for (;;) {
        if (p->busy < cfg->pool_size) {
            p->busy++;
            p->acquires++;
            snprintf(l->id, sizeof l->id, "l%lld", ++p->seq);
            rc = AXON_OK;
            break;
        }
        uint64_t now = log_now_us();
        if (now >= deadline_us) {
            p->timeouts++;
            break;
        }
        uint64_t until = now + POOL_POLL_MAX_MS * UINT64_C(1000);
        struct timespec ts = mono_at(until < deadline_us ? until : deadline_us);
        int w = pthread_cond_timedwait(&p->cv, &local_mu, &ts);
        if (w != 0 && w != ETIMEDOUT)
            abort(); /* EINVAL: a bug */
        if (gone) {
            pthread_mutex_unlock(&local_mu);
            bool left = gone(ud);
            pthread_mutex_lock(&local_mu);
            if (left) {
                rc = AXON_ECLIENT_GONE;
                break;
            }
        }
    }
    p->waiting--;
    pthread_mutex_unlock(&local_mu);
    if (rc == AXON_OK) {
        memcpy(l->pool, name, POOL_NAME_LEN + 1);
        l->local = true;
        l->wait_us = log_now_us() - start_us;
        l->renew_at_us = UINT64_MAX;
    }
    return rc;
}

static int local_release(struct pool_lease *l)
{
    int rc = AXON_EINVAL;
    pthread_mutex_lock(&local_mu);
    struct local_pool *p = local_get(l->pool, false);
    if (p && p->busy > 0) {
        p->busy--;
        p->releases++;
        pthread_cond_signal(&p->cv);
        rc = AXON_OK;
    }
    pthread_mutex_unlock(&local_mu);
    return rc;
}

static void local_stats(const struct axon_config *cfg, const char *name, struct pool_stats *s)
{
    memset(s, 0, sizeof *s);
    s->local = true;
    s->size = cfg->pool_size;
    pthread_mutex_lock(&local_mu);
    const struct local_pool *p = local_get(name, false);
    if (p) {
        s->busy = p->busy;
        s->waiting = p->waiting;
        s->acquires = p->acquires;
        s->releases = p->releases;
        s->timeouts = p->timeouts;
    }
    pthread_mutex_unlock(&local_mu);
    s->idle = s->size > s->busy ? s->size - s->busy : 0;
}

/* ---- the registry ---------------------------------------------------- */

enum { TRY_WAITER = 0, TRY_LEASED = 1, TRY_LATE = 2 };

/* One acquire try. TRY_LEASED with *l filled, TRY_WAITER when none is idle
 * (now a waiter), TRY_LATE when the script ran past its deadline and did
 * nothing (*late_ms: by how much), AXON_EIO, AXON_EREPLY for an error
 * reply, or AXON_EPROTO for a reply of the wrong shape. */
static int try_acquire(const struct axon_config *cfg, const struct pool_keys *k,
                       const char *token, long long wait_ms, bool waited, struct pool_lease *l,
                       long long *late_ms)
{
    long long now_ms;
    int rc = clock_now(&now_ms);
    if (rc != AXON_OK)
        return rc;
    char size[24], lease[24], wait[24], deadline[24];
    snprintf(size, sizeof size, "%d", cfg->pool_size);
    snprintf(lease, sizeof lease, "%lld", (long long)cfg->pool_lease_s * 1000);
    snprintf(wait, sizeof wait, "%lld", wait_ms);
    long long dl = now_ms + cfg->valkey_timeout_ms;
    snprintf(deadline, sizeof deadline, "%lld", dl);
    const char *argv[] = {k->idle, k->leases, k->waiters, k->counters, k->seq,
                          k->sess, size, lease, token, token, wait, waited ? "1" : "0", deadline};
    /* The reply is awaited a whole timeout past the deadline (pool.h). */
    struct valkey_batch b = {.wait_ms = 2 * (long long)cfg->valkey_timeout_ms};
    if (valkey_batch_add(&b, (struct valkey_cmd){.argc = 13, .argv = argv,
                                                 .script = &acquire_lua, .nkeys = 5}) < 0)
        return AXON_EINVAL;
    rc = valkey_batch_run(&b);
    const redisReply *r = rc == AXON_EIO ? NULL : b.rep[0];
    long long now = 0;
    if (rc == AXON_OK) {
        if (int_reply(r, 1, INT64_MAX, &now)) {
            *late_ms = now - dl;
            rc = TRY_LATE;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                   int_reply(r->element[0], 1, INT64_MAX, &now)) {
            rc = TRY_WAITER;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
                   r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 &&
                   r->element[0]->len <= POOL_ID_MAX &&
                   int_reply(r->element[1], 0, INT64_MAX, &l->gen) &&
                   int_reply(r->element[2], 0, INT64_MAX, &l->turns) &&
                   int_reply(r->element[3], 1, INT64_MAX, &l->server_ms)) {
            l->server_at_us = log_now_us();
            now = l->server_ms;
            memcpy(l->id, r->element[0]->str, r->element[0]->len);
            l->id[r->element[0]->len] = '\0';
            rc = TRY_LEASED;
        } else {
            log_msg(AXON_LOG_ERROR, "pool: acquire script answered an unexpected reply");
            rc = AXON_EPROTO;
        }
    } else if (rc != AXON_EIO) {
        log_msg(AXON_LOG_ERROR, "pool: acquire script failed: %s", valkey_strerror());
    }
    if (now > 0)
        clock_note(now);
    valkey_batch_free(&b);
    return rc;
}

/* The wait is over without a session: forget the waiter, count a timeout.
 * Best effort: a waiter left behind expires at its deadline anyway. */
static void cancel_wait(const struct pool_keys *k, const char *token, bool timed_out)
{
    const char *zrem[] = {"ZREM", k->waiters, token};
    const char *incr[] = {"HINCRBY", k->counters, "timeouts", "1"};
    struct valkey_cmd cmds[2] = {{.argc = 3, .argv = zrem}, {.argc = 4, .argv = incr}};
    redisReply *r[2] = {NULL, NULL};
    int n = timed_out ? 2 : 1;
    if (valkey_pipeline(n, cmds, r) != AXON_OK)
        log_msg(AXON_LOG_DEBUG, "pool: could not clear waiter: %s", valkey_strerror());
    valkey_free_replies(n, r);
}

static int acquire(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                   bool (*gone)(void *ud), void *ud)
{
    struct pool_keys k;
    if (keys_for(name, &k) != AXON_OK || cfg->pool_size < 1 || cfg->pool_wait_ms < 0)
        return AXON_EINVAL;
    uint64_t start = log_now_us();
    bool keep = cfg->pool_keep_ms > 0;
    if (keep && keep_take(cfg, name, l))
        return AXON_OK; /* the common case: no round trip */
    uint64_t deadline = start + (uint64_t)cfg->pool_wait_ms * 1000u;
    make_token(l->holder, sizeof l->holder);
    uint64_t pause_us = POOL_POLL_FIRST_MS * UINT64_C(1000);
    bool waited = false; /* a failed try registered the holder token as a waiter */
    bool late = false;   /* a try ran past its deadline */
    int rc;
    for (;;) {
        uint64_t now = log_now_us();
        long long left_ms = now < deadline ? (long long)((deadline - now) / 1000u) : 0;
        long long late_ms = 0;
        rc = try_acquire(cfg, &k, l->holder, left_ms, waited, l, &late_ms);
        if (rc == TRY_LATE) {
            log_msg(AXON_LOG_WARN, "pool %s: an acquire ran %lld ms after its deadline: nothing leased",
                    name, late_ms);
            /* Valkey answers again (a stall ended, or its clock stepped and
             * the reading is now fresh): once more on the registry. Late
             * twice, it is too slow to count on: as a timeout. */
            if (!late) {
                late = true;
                continue;
            }
            note_valkey(false, "too slow: acquires ran after their deadline");
            rc = local_acquire(cfg, name, l, start, deadline, gone, ud);
            break;
        }
        if (rc == AXON_EIO) {
            note_valkey(false, valkey_strerror());
            /* Down or too slow: the rest of the wait is local. Our waiter
             * entry, if any, expires at its deadline. */
            rc = local_acquire(cfg, name, l, start, deadline, gone, ud);
            break;
        }
        if (rc < 0)
            break;
        note_valkey(true, NULL);
        if (rc == TRY_LEASED) {
            memcpy(l->pool, name, POOL_NAME_LEN + 1);
            now = log_now_us();
            l->wait_us = now - start;
            l->renew_at_us = now + (uint64_t)cfg->pool_lease_s * 1000000u / 3;
            if (keep)
                keep_track(cfg, l);
            rc = AXON_OK;
            break;
        }
        if (keep && !waited)
            keep_own_waiting(name, 1); /* not "others": the tick keeps its leases for it */
        waited = true;
        if (gone && gone(ud)) {
            cancel_wait(&k, l->holder, false);
            rc = AXON_ECLIENT_GONE;
            break;
        }
        now = log_now_us();
        if (now >= deadline) {
            cancel_wait(&k, l->holder, true);
            rc = AXON_EBUSY;
            break;
        }
        uint64_t us = deadline - now < pause_us ? deadline - now : pause_us;
        if (keep) {
            /* A session this process gives back meanwhile serves this
             * request at once, with no round trip for it. */
            char token[POOL_HOLDER_MAX + 1];
            memcpy(token, l->holder, sizeof token);
            if (keep_wait_take(cfg, name, l, us)) {
                cancel_wait(&k, token, false);
                l->wait_us = log_now_us() - start;
                rc = AXON_OK;
                break;
            }
        } else {
            sleep_us(us);
        }
        pause_us = pause_us * 2 > POOL_POLL_MAX_MS * UINT64_C(1000)
                       ? POOL_POLL_MAX_MS * UINT64_C(1000)
                       : pause_us * 2;
    }
    if (keep && waited)
        keep_own_waiting(name, -1);
    return rc;
}

int pool_acquire(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                 bool (*gone)(void *ud), void *ud)
{
    memset(l, 0, sizeof *l);
    int rc = acquire(cfg, name, l, gone, ud);
    if (rc != AXON_OK)
        memset(l, 0, sizeof *l); /* nothing held: a release of it is a no-op */
    return rc;
}

/* Local leases for pool_acquire_more: as many as the local pool has free. */
static int local_more(const struct axon_config *cfg, const struct pool_lease *first,
                      struct pool_lease *more, int want)
{
    int got = 0;
    pthread_mutex_lock(&local_mu);
    struct local_pool *p = local_get(first->pool, false);
    while (p && got < want && p->busy < cfg->pool_size) {
        p->busy++;
        p->acquires++;
        struct pool_lease *l = &more[got++];
        memset(l, 0, sizeof *l);
        memcpy(l->pool, first->pool, POOL_NAME_LEN + 1);
        snprintf(l->id, sizeof l->id, "l%lld", ++p->seq);
        l->local = true;
        l->renew_at_us = UINT64_MAX;
    }
    pthread_mutex_unlock(&local_mu);
    return got;
}

int pool_acquire_more(const struct axon_config *cfg, const struct pool_lease *first,
                      struct pool_lease *more, int want)
{
    if (want < 1 || !first->id[0])
        return 0;
    if (want > VALKEY_MAX_ARGS - 9)
        want = VALKEY_MAX_ARGS - 9; /* EVALSHA sha 3, 3 keys, 3 arguments, the holders */
    if (first->local)
        return local_more(cfg, first, more, want);
    /* Sessions this process keeps first, in memory; the rest idle in the
     * registry. */
    int kept = 0;
    while (first->tracked && kept < want && keep_take(cfg, first->pool, &more[kept]))
        kept++;
    if (kept == want)
        return kept;
    more += kept;
    want -= kept;
    struct pool_keys k;
    if (keys_for(first->pool, &k) != AXON_OK)
        return kept;
    char lease[24], not_after[24];
    snprintf(lease, sizeof lease, "%lld", (long long)cfg->pool_lease_s * 1000);
    /* The server's clock now errs early, so this deadline does too. */
    snprintf(not_after, sizeof not_after, "%lld",
             pool_server_now_ms(first) + (cfg->valkey_timeout_ms > 0 ? cfg->valkey_timeout_ms
                                                                    : VALKEY_TIMEOUT_MS_DEFAULT));
    const char *keys[] = {k.idle, k.leases, k.counters};
    const char *args[VALKEY_MAX_ARGS];
    args[0] = k.sess;
    args[1] = lease;
    args[2] = not_after;
    for (int i = 0; i < want; i++) {
        memset(&more[i], 0, sizeof more[i]);
        make_token(more[i].holder, sizeof more[i].holder);
        args[3 + i] = more[i].holder;
    }
    redisReply *r = NULL;
    int got = 0;
    long long now_ms = 0;
    if (eval(&more_lua, &r, 3, keys, 3 + want, args) == AXON_OK && r->type == REDIS_REPLY_ARRAY &&
        r->elements >= 1 && (r->elements - 1) % 3 == 0 && (r->elements - 1) / 3 <= (size_t)want &&
        int_reply(r->element[0], 1, INT64_MAX, &now_ms)) {
        uint64_t at = log_now_us();
        for (size_t e = 1; e + 2 < r->elements; e += 3) {
            struct pool_lease *l = &more[got];
            const redisReply *id = r->element[e];
            if (id->type != REDIS_REPLY_STRING || id->len == 0 || id->len > POOL_ID_MAX ||
                !int_reply(r->element[e + 1], 0, INT64_MAX, &l->gen) ||
                !int_reply(r->element[e + 2], 0, INT64_MAX, &l->turns))
                break; /* cannot happen: the rest expire at their deadline */
            memcpy(l->id, id->str, id->len);
            l->id[id->len] = '\0';
            memcpy(l->pool, first->pool, POOL_NAME_LEN + 1);
            l->server_ms = now_ms;
            l->server_at_us = at;
            l->renew_at_us = at + (uint64_t)cfg->pool_lease_s * 1000000u / 3;
            got++;
        }
    }
    freeReplyObject(r);
    return kept + got;
}

/* The registry release of *mine (copied into op), adding turns to its
 * count: 1 for the turn just served plus those its process kept unwritten
 * (a hand-back by the tick adds only those). */
static void release_add(const struct axon_config *cfg, const struct pool_lease *mine_in,
                        enum pool_outcome o, long long turns, bool count,
                        struct pool_release_op *op, struct valkey_batch *b)
{
    memset(op, 0, sizeof *op);
    op->mine = *mine_in;
    op->at = -1;
    struct pool_lease *mine = &op->mine;
    struct pool_keys k;
    if (keys_for(mine->pool, &k) != AXON_OK) {
        op->rc = AXON_EINVAL;
        return;
    }
    memcpy(op->keys[0], k.idle, POOL_KEY_MAX);
    memcpy(op->keys[1], k.leases, POOL_KEY_MAX);
    memcpy(op->keys[2], k.counters, POOL_KEY_MAX);
    memcpy(op->keys[3], k.seq, POOL_KEY_MAX);
    memcpy(op->sess, k.sess, POOL_KEY_MAX);
    snprintf(op->gen, sizeof op->gen, "%lld", mine->gen);
    snprintf(op->max_turns, sizeof op->max_turns, "%d", cfg->max_turns);
    snprintf(op->cool, sizeof op->cool, "%lld", (long long)cfg->pool_cooldown_s * 1000);
    snprintf(op->size, sizeof op->size, "%d", cfg->pool_size);
    snprintf(op->turns, sizeof op->turns, "%lld", turns);
    const char *argv[] = {op->keys[0], op->keys[1], op->keys[2], op->keys[3],
                          op->sess, mine->id, op->gen, mine->holder, op->max_turns, op->cool,
                          o == POOL_REFUSED ? "1" : "0", op->size, op->turns, count ? "1" : "0"};
    _Static_assert(sizeof argv == sizeof op->argv, "pool.h sizes argv");
    memcpy(op->argv, argv, sizeof argv);
    op->at = valkey_batch_add(b, (struct valkey_cmd){.argc = 14, .argv = op->argv,
                                                      .script = &release_lua, .nkeys = 4});
    if (op->at < 0)
        op->rc = AXON_EINVAL;
}

void pool_release_add(const struct axon_config *cfg, struct pool_lease *l, enum pool_outcome o,
                      struct pool_release_op *op, struct valkey_batch *b)
{
    struct pool_lease mine = *l;
    memset(l, 0, sizeof *l);
    long long unsent = 0;
    if (!mine.id[0] || mine.local || (mine.tracked && keep_put(cfg, &mine, o, &unsent))) {
        /* Nothing held, a local lease, or kept by this process: no command. */
        memset(op, 0, sizeof *op);
        op->mine = mine;
        op->at = -1;
        op->rc = !mine.id[0] ? AXON_EINVAL : mine.local ? local_release(&mine) : AXON_OK;
        return;
    }
    release_add(cfg, &mine, o, 1 + unsent, true, op, b);
}

/* loud: log what went wrong as a warning (a request's release); the
 * tick's hand-backs, retried every tick while Valkey is away, say it once
 * (its own "unreachable" line) and here only at debug level. */
static int release_done(struct pool_release_op *op, const struct valkey_batch *b, bool *recycled,
                        bool loud)
{
    if (recycled)
        *recycled = false;
    if (op->at < 0)
        return op->rc;
    const struct pool_lease *mine = &op->mine;
    const redisReply *r = b->rc == AXON_EIO ? NULL : b->rep[op->at];
    long long status, rec;
    int rc = AXON_OK;
    if (!r) {
        /* Nothing to undo: the lease deadline hands the session back. */
        log_msg(loud ? AXON_LOG_WARN : AXON_LOG_DEBUG,
                "pool %s: release of %s failed (%s); its lease will expire", mine->pool, mine->id,
                valkey_strerror());
        rc = AXON_EIO;
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_msg(AXON_LOG_ERROR, "pool: release script failed: %.*s", (int)r->len, r->str);
        rc = AXON_EREPLY;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               int_reply(r->element[0], REL_STALE, REL_RETIRED, &status) &&
               int_reply(r->element[1], 0, 1, &rec)) {
        if (recycled)
            *recycled = rec == 1;
        if (status == REL_STALE) {
            log_msg(loud ? AXON_LOG_WARN : AXON_LOG_DEBUG,
                    "pool %s: session %s was reclaimed before its release", mine->pool, mine->id);
            rc = AXON_ENOTFOUND;
        }
    } else {
        log_msg(AXON_LOG_ERROR, "pool: release script answered an unexpected reply");
        rc = AXON_EPROTO;
    }
    return rc;
}

int pool_release_done(struct pool_release_op *op, const struct valkey_batch *b, bool *recycled)
{
    return release_done(op, b, recycled, true);
}

int pool_release(const struct axon_config *cfg, struct pool_lease *l, enum pool_outcome o,
                 bool *recycled)
{
    struct pool_release_op op;
    struct valkey_batch b = {0};
    pool_release_add(cfg, l, o, &op, &b);
    (void)valkey_batch_run(&b);
    int rc = pool_release_done(&op, &b, recycled);
    valkey_batch_free(&b);
    return rc;
}

/* ---- the keep: sessions this process holds between its requests ------ */

/* A lease released with POOL_DONE while nobody else waits stays this
 * process's (a registry lease all the same: its holder token, its deadline
 * in the leases zset), and the next acquire here takes it with no round
 * trip. One background thread ticks every POOL_TICK_MS while the process
 * holds any lease: one script per pool renews the leases whose renewal is
 * due, writes the turns served meanwhile and answers how many requests
 * wait; kept leases go back when others wait or after AXON_POOL_KEEP_MS
 * idle. See docs/pool.md. */

#define POOL_TICK_MS 50 /* the background tick: also the longest a waiter elsewhere waits for a kept session to come back */
#define KEEP_MAX 64     /* leases one process tracks per pool; more go to the registry as before */
#define OTHERS_WAIT_US ((uint64_t)4 * POOL_TICK_MS * 1000u)
#define TICK_LEASES ((VALKEY_MAX_ARGS - 11) / 4) /* leases per tick script: EVALSHA sha n, 3 keys, 5 args */

enum kstate { K_FREE = 0, K_KEPT, K_INUSE, K_GOING };

struct kent {
    enum kstate state;
    char id[POOL_ID_MAX + 1], holder[POOL_HOLDER_MAX + 1];
    long long gen;
    long long turns;      /* served in all, written or not */
    long long unsent;     /* of which the registry has not been told yet */
    long long renewed_ms; /* the server's clock when the deadline was last set */
    uint64_t idle_since_us;
};

/* One pool's keep. The settings are the last request's (cfg is not kept:
 * the tick runs without one). Guarded by keep_mu. */
struct keep {
    char name[POOL_NAME_LEN + 1];
    struct kent e[KEEP_MAX];
    pthread_cond_t cv; /* signalled when a lease is kept: a waiter here takes it */
    /* When a tick last saw waiters that are not this process's (0: the last
     * tick saw none). It counts for OTHERS_WAIT_US: with nothing held here
     * no tick runs to clear it. */
    uint64_t others_at_us;
    int own_waiting;   /* this process's requests registered as waiters */
    long long acquires, releases; /* made in memory, not yet added to the registry's counters */
    long long lease_ms, keep_ms, cool_ms, timeout_ms;
    int max_turns, size;
};

static pthread_mutex_t keep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_cv = PTHREAD_COND_INITIALIZER; /* wakes the tick to stop */
static struct keep *keeps[POOL_LOCAL_MAX];
static int n_keeps;
static bool tick_started, tick_stop;
static pthread_t tick_thread;

/* KEYS, ARGV and the reply: src/lua/pool_tick.lua. */
static struct valkey_script tick_lua = {.src = AXON_LUA_POOL_TICK};

static bool others_wait(const struct keep *k)
{
    return k->others_at_us && log_now_us() - k->others_at_us < OTHERS_WAIT_US;
}

static long long keep_server_now(void)
{
    long long off = atomic_load(&clock_offset_ms);
    return off ? off + (long long)(log_now_us() / 1000u) : 0;
}

/* The keep of pool name, made on first use (create). Call with keep_mu
 * held. NULL when the table is full or memory is short: not kept then. */
static struct keep *keep_get(const char *name, bool create)
{
    for (int i = 0; i < n_keeps; i++)
        if (strcmp(keeps[i]->name, name) == 0)
            return keeps[i];
    if (!create || n_keeps == POOL_LOCAL_MAX)
        return NULL;
    struct keep *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    memcpy(k->name, name, POOL_NAME_LEN + 1);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&k->cv, &ca) != 0)
        abort(); /* only ENOMEM/EAGAIN: as good as OOM */
    pthread_condattr_destroy(&ca);
    keeps[n_keeps++] = k;
    return k;
}

static void keep_settings(struct keep *k, const struct axon_config *cfg)
{
    k->lease_ms = (long long)cfg->pool_lease_s * 1000;
    k->keep_ms = cfg->pool_keep_ms;
    k->cool_ms = (long long)cfg->pool_cooldown_s * 1000;
    k->max_turns = cfg->max_turns;
    k->size = cfg->pool_size;
    k->timeout_ms = cfg->valkey_timeout_ms > 0 ? cfg->valkey_timeout_ms : VALKEY_TIMEOUT_MS_DEFAULT;
}

static struct kent *keep_find(struct keep *k, const struct pool_lease *l)
{
    for (int i = 0; i < KEEP_MAX; i++)
        if (k->e[i].state != K_FREE && strcmp(k->e[i].holder, l->holder) == 0 &&
            strcmp(k->e[i].id, l->id) == 0)
            return &k->e[i];
    return NULL;
}

static void *tick_main(void *arg);

/* Starts the tick on the first tracked lease. Call with keep_mu held. */
static bool tick_ensure(void)
{
    if (tick_started)
        return true;
    if (tick_stop)
        return false; /* shutting down: nothing new is tracked */
    sigset_t all, old;
    sigfillset(&all);
    /* The thread inherits a mask that blocks every signal: main.c's
     * signal thread alone takes SIGTERM and SIGINT. */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&tick_thread, NULL, tick_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_msg(AXON_LOG_WARN, "pool: cannot start the lease tick thread: leases are not kept");
        return false;
    }
    tick_started = true;
    return true;
}

/* A lease just leased from the registry, in keep mode: from now on the tick
 * renews it. Not tracked (the request renews it, its release goes to the
 * registry) when the keep is full. */
static void keep_track(const struct axon_config *cfg, struct pool_lease *l)
{
    pthread_mutex_lock(&keep_mu);
    struct keep *k = keep_get(l->pool, true);
    if (k && tick_ensure()) {
        keep_settings(k, cfg);
        for (int i = 0; i < KEEP_MAX; i++) {
            struct kent *e = &k->e[i];
            if (e->state != K_FREE)
                continue;
            memset(e, 0, sizeof *e);
            e->state = K_INUSE;
            memcpy(e->id, l->id, sizeof e->id);
            memcpy(e->holder, l->holder, sizeof e->holder);
            e->gen = l->gen;
            e->turns = l->turns;
            e->renewed_ms = l->server_ms;
            l->tracked = true;
            l->renew_at_us = UINT64_MAX;
            break;
        }
    }
    pthread_mutex_unlock(&keep_mu);
}

/* A kept session for a request of this process, with no round trip: the
 * most recently kept one (so the ones a quieter process no longer needs
 * idle out and go back). Only one whose deadline leaves more than two
 * thirds of the lease by this process's estimate of the server's clock
 * (which errs early): Valkey may have been unreachable since it was last
 * renewed; an older one is handed back by the tick. Nothing while others
 * wait: the tick is handing them back. */
static bool keep_take(const struct axon_config *cfg, const char *name, struct pool_lease *l)
{
    bool got = false;
    pthread_mutex_lock(&keep_mu);
    struct keep *k = keep_get(name, false);
    long long now_ms = keep_server_now();
    while (k && !others_wait(k) && now_ms > 0) {
        struct kent *best = NULL;
        for (int i = 0; i < KEEP_MAX; i++)
            if (k->e[i].state == K_KEPT && (!best || k->e[i].idle_since_us > best->idle_since_us))
                best = &k->e[i];
        if (!best)
            break;
        keep_settings(k, cfg);
        if (best->renewed_ms + k->lease_ms - now_ms <= 2 * k->lease_ms / 3) {
            best->state = K_GOING;
            continue;
        }
        best->state = K_INUSE;
        memset(l, 0, sizeof *l);
        memcpy(l->pool, name, POOL_NAME_LEN + 1);
        memcpy(l->id, best->id, sizeof l->id);
        memcpy(l->holder, best->holder, sizeof l->holder);
        l->gen = best->gen;
        l->turns = best->turns;
        l->server_ms = now_ms;
        l->server_at_us = log_now_us();
        l->renew_at_us = UINT64_MAX;
        l->tracked = true;
        k->acquires++;
        got = true;
        break;
    }
    pthread_mutex_unlock(&keep_mu);
    return got;
}

/* The release of a tracked lease: kept (true) when keeping is on, the
 * outcome is POOL_DONE, no other process waits and the turn does not reach
 * max_turns; else the entry is dropped and *unsent says how many turns the
 * registry release must add besides this one. */
static bool keep_put(const struct axon_config *cfg, const struct pool_lease *l,
                     enum pool_outcome o, long long *unsent)
{
    bool kept = false;
    *unsent = 0;
    pthread_mutex_lock(&keep_mu);
    struct keep *k = keep_get(l->pool, false);
    struct kent *e = k ? keep_find(k, l) : NULL;
    if (e && e->state == K_INUSE) {
        keep_settings(k, cfg);
        if (cfg->pool_keep_ms > 0 && o == POOL_DONE && !others_wait(k) &&
            e->turns + 1 < cfg->max_turns && !tick_stop && !drain_started()) {
            e->turns++;
            e->unsent++;
            e->state = K_KEPT;
            e->idle_since_us = log_now_us();
            k->releases++;
            pthread_cond_signal(&k->cv);
            kept = true;
        } else {
            *unsent = e->unsent;
            e->state = K_FREE;
        }
    }
    pthread_mutex_unlock(&keep_mu);
    return kept;
}

/* Waits up to us for a session kept by this process, then tries to take
 * one (the acquire's pause between registry polls). */
static bool keep_wait_take(const struct axon_config *cfg, const char *name, struct pool_lease *l,
                           uint64_t us)
{
    pthread_mutex_lock(&keep_mu);
    struct keep *k = keep_get(name, false);
    if (k) {
        /* Wait unless one could be taken now (not while others wait: the
         * tick is handing them back, and a pause here keeps the registry
         * polls paced). */
        bool any = false;
        for (int i = 0; i < KEEP_MAX && !any && !others_wait(k); i++)
            any = k->e[i].state == K_KEPT;
        if (!any) {
            struct timespec ts = mono_at(log_now_us() + us);
            int w = pthread_cond_timedwait(&k->cv, &keep_mu, &ts);
            if (w != 0 && w != ETIMEDOUT)
                abort(); /* EINVAL: a bug */
        }
    }
    pthread_mutex_unlock(&keep_mu);
    if (!k)
        sleep_us(us);
    return keep_take(cfg, name, l);
}

static void keep_own_waiting(const char *name, int d)
{
    pthread_mutex_lock(&keep_mu);
    struct keep *k = keep_get(name, d > 0);
    if (k)
        k->own_waiting += d;
    pthread_mutex_unlock(&keep_mu);
}

/* One tick of one pool: what it sent, so the reply can be matched back. */
struct tick_job {
    struct pool_keys keys;
    char lease[24], acq[24], relc[24], deadline[24];
    long long acquires, releases; /* as sent */
    int n;                       /* leases in the tick scripts */
    int at[VALKEY_MAX_PIPELINE]; /* reply index of each tick script */
    int nscripts;
    const char *argv[VALKEY_MAX_PIPELINE][VALKEY_MAX_ARGS];
    struct kent snap[KEEP_MAX]; /* copies: id, holder, unsent as sent */
    bool renew[KEEP_MAX];
    char add[KEEP_MAX][24];
    int nrel;
    struct pool_release_op rel[KEEP_MAX];
    struct pool_lease rel_lease[KEEP_MAX];
    int rel_slot[KEEP_MAX];
};

/* Adds the registry release of kept entry e (no new turn, its unsent
 * ones) to job j's batch. Call with keep_mu held; e is K_GOING. */
static void tick_add_release(struct keep *k, struct kent *e, struct tick_job *j,
                             struct valkey_batch *b, int slot)
{
    if (b->n >= VALKEY_MAX_PIPELINE)
        return; /* the next tick */
    struct pool_release_op *op = &j->rel[j->nrel];
    struct pool_lease *l = &j->rel_lease[j->nrel];
    memset(l, 0, sizeof *l);
    memcpy(l->pool, k->name, sizeof l->pool);
    memcpy(l->id, e->id, sizeof l->id);
    memcpy(l->holder, e->holder, sizeof l->holder);
    l->gen = e->gen;
    struct axon_config c = {.max_turns = k->max_turns, .pool_size = k->size,
                            .pool_cooldown_s = (int)(k->cool_ms / 1000)};
    release_add(&c, l, POOL_DONE, e->unsent, false, op, b);
    j->rel_slot[j->nrel++] = slot;
}

/* One tick of keep k: renewals due, turns to write, waiters to count, and
 * kept leases to hand back, in one round trip. Returns true when it should
 * run again at once (others wait and some are still kept). */
static bool tick_pool(struct keep *k, struct tick_job *j)
{
    struct valkey_batch b = {0};
    memset(j->at, 0, sizeof j->at);
    /* The reply is awaited a whole timeout past the deadline (pool.h). */
    b.wait_ms = 2 * k->timeout_ms;
    j->n = j->nscripts = j->nrel = 0;
    pthread_mutex_lock(&keep_mu);
    if (keys_for(k->name, &j->keys) != AXON_OK) {
        pthread_mutex_unlock(&keep_mu);
        return false;
    }
    uint64_t now_us = log_now_us();
    long long now_ms = keep_server_now();
    snprintf(j->lease, sizeof j->lease, "%lld", k->lease_ms);
    /* As acquire's (pool.h): run later than this, it changes nothing. No
     * reading of the clock yet cannot be (a tracked lease came with one). */
    snprintf(j->deadline, sizeof j->deadline, "%lld", now_ms > 0 ? now_ms + k->timeout_ms : 0);
    j->acquires = k->acquires;
    j->releases = k->releases;
    snprintf(j->acq, sizeof j->acq, "%lld", j->acquires);
    snprintf(j->relc, sizeof j->relc, "%lld", j->releases);
    for (int i = 0; i < KEEP_MAX; i++) {
        struct kent *e = &k->e[i];
        if (e->state == K_KEPT &&
            (others_wait(k) || k->keep_ms <= 0 || tick_stop || drain_started() ||
             now_us - e->idle_since_us >= (uint64_t)k->keep_ms * 1000u))
            e->state = K_GOING;
        if (e->state == K_GOING) {
            tick_add_release(k, e, j, &b, i);
            continue;
        }
        if (e->state == K_FREE)
            continue;
        j->snap[j->n] = *e;
        j->renew[j->n] = now_ms <= 0 || now_ms - e->renewed_ms >= k->lease_ms / 6;
        j->n++;
    }
    /* The tick scripts after the releases: their waiter count then sees
     * the hand-backs' effect no earlier than they happen. */
    for (int s = 0; s * TICK_LEASES < j->n || (j->n == 0 && s == 0); s++) {
        if (b.n >= VALKEY_MAX_PIPELINE)
            break;
        const char **av = j->argv[s];
        int ac = 0;
        av[ac++] = j->keys.leases;
        av[ac++] = j->keys.waiters;
        av[ac++] = j->keys.counters;
        av[ac++] = j->keys.sess;
        av[ac++] = j->lease;
        av[ac++] = s == 0 ? j->acq : "0"; /* the counts ride on the first script */
        av[ac++] = s == 0 ? j->relc : "0";
        av[ac++] = j->deadline;
        for (int i = s * TICK_LEASES; i < j->n && i < (s + 1) * TICK_LEASES; i++) {
            snprintf(j->add[i], sizeof j->add[i], "%lld", j->snap[i].unsent);
            av[ac++] = j->snap[i].id;
            av[ac++] = j->snap[i].holder;
            av[ac++] = j->add[i];
            av[ac++] = j->renew[i] ? "1" : "0";
        }
        j->at[s] = valkey_batch_add(&b, (struct valkey_cmd){.argc = ac, .argv = av,
                                                             .script = &tick_lua, .nkeys = 3});
        j->nscripts++;
        if (j->n == 0)
            break;
    }
    bool idle = j->n == 0 && j->nrel == 0 && j->acquires == 0 && j->releases == 0;
    pthread_mutex_unlock(&keep_mu);
    if (idle) {
        valkey_batch_free(&b); /* never run: frees nothing, for symmetry */
        return false; /* nothing held: no round trip */
    }
    (void)valkey_batch_run(&b);

    pthread_mutex_lock(&keep_mu);
    for (int r = 0; r < j->nrel; r++) {
        /* Given back or not (Valkey down: its deadline returns it), it is
         * no longer this process's. */
        struct kent *e = &k->e[j->rel_slot[r]];
        int rrc = release_done(&j->rel[r], &b, NULL, false);
        /* Not given back for want of an answer: again next tick, until its
         * deadline has surely passed (a late tick renews nothing). */
        bool retry = rrc == AXON_EIO && now_ms > 0 && e->renewed_ms + k->lease_ms > now_ms;
        if (e->state == K_GOING && strcmp(e->holder, j->rel_lease[r].holder) == 0 && !retry)
            e->state = K_FREE;
    }
    long long waiting = -1, srv = 0;
    for (int s = 0; s < j->nscripts; s++) {
        const redisReply *r = b.rc == AXON_EIO || j->at[s] < 0 ? NULL : b.rep[j->at[s]];
        int first = s * TICK_LEASES;
        int cnt = j->n - first < TICK_LEASES ? j->n - first : TICK_LEASES;
        if (cnt < 0)
            cnt = 0;
        long long w;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            int_reply(r->element[0], 1, INT64_MAX, &srv) && int_reply(r->element[1], -1, -1, &w)) {
            log_msg(AXON_LOG_WARN, "pool %s: a tick ran after its deadline: nothing renewed",
                    k->name);
            continue; /* late: the next tick, with the fresh reading, renews */
        }
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 + (size_t)cnt ||
            !int_reply(r->element[0], 1, INT64_MAX, &srv) ||
            !int_reply(r->element[1], 0, INT64_MAX, &w)) {
            if (r)
                log_msg(AXON_LOG_ERROR, "pool: tick script answered an unexpected reply");
            continue;
        }
        waiting = waiting > w ? waiting : w;
        if (s == 0) {
            k->acquires -= j->acquires;
            k->releases -= j->releases;
        }
        for (int i = 0; i < cnt; i++) {
            const struct kent *sent = &j->snap[first + i];
            long long ok = 0;
            (void)int_reply(r->element[2 + i], 0, 1, &ok);
            for (int x = 0; x < KEEP_MAX; x++) {
                struct kent *e = &k->e[x];
                if (e->state == K_FREE || strcmp(e->holder, sent->holder) != 0)
                    continue;
                if (!ok) {
                    log_msg(AXON_LOG_WARN, "pool %s: lease of %s was reclaimed while this "
                            "process held it", k->name, e->id);
                    e->state = K_FREE; /* an in-use one's release is then stale */
                } else {
                    e->unsent -= sent->unsent;
                    if (j->renew[first + i])
                        e->renewed_ms = srv;
                }
                break;
            }
        }
    }
    if (srv > 0)
        clock_note(srv);
    bool again = false;
    if (waiting >= 0) {
        k->others_at_us = waiting - k->own_waiting > 0 ? log_now_us() : 0;
        for (int i = 0; i < KEEP_MAX && k->others_at_us; i++)
            again = again || k->e[i].state == K_KEPT;
    }
    pthread_mutex_unlock(&keep_mu);
    valkey_batch_free(&b);
    return again;
}

static void *tick_main(void *arg)
{
    (void)arg;
    struct tick_job *j = malloc(sizeof *j);
    if (!j)
        abort(); /* once per process, at the first kept lease: as good as OOM */
    pthread_mutex_lock(&keep_mu);
    while (!tick_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POOL_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&tick_cv, &keep_mu, &ts);
        if (tick_stop)
            break;
        int n = n_keeps;
        pthread_mutex_unlock(&keep_mu);
        for (int i = 0; i < n; i++) {
            /* keeps[i] never moves nor is freed once made. */
            for (int rounds = 0; rounds < 4 && tick_pool(keeps[i], j); rounds++) {
            }
        }
        pthread_mutex_lock(&keep_mu);
    }
    pthread_mutex_unlock(&keep_mu);
    free(j);
    valkey_thread_close();
    return NULL;
}

/* This process's kept sessions of pool name (/stats): idle, or on their
 * way back to the registry (Valkey did not take them yet). */
static long long keep_count(const char *name)
{
    long long n = 0;
    pthread_mutex_lock(&keep_mu);
    const struct keep *k = keep_get(name, false);
    for (int i = 0; k && i < KEEP_MAX; i++)
        n += k->e[i].state == K_KEPT || k->e[i].state == K_GOING;
    pthread_mutex_unlock(&keep_mu);
    return n;
}

void pool_shutdown(void)
{
    pthread_mutex_lock(&keep_mu);
    bool joined = tick_started;
    tick_stop = true;
    pthread_cond_broadcast(&tick_cv);
    pthread_mutex_unlock(&keep_mu);
    if (joined)
        pthread_join(tick_thread, NULL);
    pthread_mutex_lock(&keep_mu);
    tick_started = false;
    int n = n_keeps;
    pthread_mutex_unlock(&keep_mu);
    struct tick_job *j = malloc(sizeof *j);
    if (!j)
        return;
    /* tick_stop makes every kept lease go back; a few rounds for a keep
     * larger than one pipeline. */
    for (int i = 0; i < n; i++)
        for (int rounds = 0; rounds < 3; rounds++) {
            bool more = false;
            (void)tick_pool(keeps[i], j);
            pthread_mutex_lock(&keep_mu);
            for (int x = 0; x < KEEP_MAX; x++)
                more = more || keeps[i]->e[x].state == K_KEPT || keeps[i]->e[x].state == K_GOING;
            pthread_mutex_unlock(&keep_mu);
            if (!more)
                break;
        }
    free(j);
}

int pool_renew(const struct axon_config *cfg, struct pool_lease *l)
{
    if (l->local || !l->id[0])
        return AXON_OK;
    if (l->tracked) {
        /* The tick renews it; the reading of the server's clock it keeps
         * fresh moves this lease's on (the store deadline, conv.h). */
        long long now_ms = keep_server_now();
        if (now_ms > 0) {
            l->server_ms = now_ms;
            l->server_at_us = log_now_us();
        }
        return AXON_OK;
    }
    uint64_t now = log_now_us();
    if (now < l->renew_at_us)
        return AXON_OK;
    struct pool_keys k;
    if (keys_for(l->pool, &k) != AXON_OK)
        return AXON_EINVAL;
    char lease[24];
    snprintf(lease, sizeof lease, "%lld", (long long)cfg->pool_lease_s * 1000);
    const char *keys[] = {k.leases};
    const char *args[] = {k.sess, l->id, l->holder, lease};
    redisReply *r = NULL;
    int rc = eval(&renew_lua, &r, 1, keys, 4, args);
    long long moved = 0;
    uint64_t third = (uint64_t)cfg->pool_lease_s * 1000000u / 3;
    if (rc == AXON_OK && !int_reply(r, 0, INT64_MAX, &moved))
        rc = AXON_EPROTO;
    if (rc == AXON_OK && moved) {
        l->renew_at_us = now + third;
        l->server_ms = moved;
        l->server_at_us = log_now_us();
        clock_note(moved);
    } else if (rc == AXON_OK) {
        /* Never again for this lease: it is somebody else's now. */
        l->renew_at_us = UINT64_MAX;
        log_msg(AXON_LOG_WARN, "pool %s: lease of %s was reclaimed while in use", l->pool, l->id);
        rc = AXON_ENOTFOUND;
    } else {
        l->renew_at_us = now + (third < POOL_RENEW_RETRY_US ? third : POOL_RENEW_RETRY_US);
    }
    freeReplyObject(r);
    return rc;
}

int pool_stats(const struct axon_config *cfg, const char *name, struct pool_stats *s)
{
    memset(s, 0, sizeof *s);
    struct pool_keys k;
    if (keys_for(name, &k) != AXON_OK)
        return AXON_EINVAL;
    const char *keys[] = {k.idle, k.leases, k.waiters, k.counters};
    const char *args[] = {k.sess};
    redisReply *r = NULL;
    int rc = eval(&stats_lua, &r, 4, keys, 1, args);
    if (rc == AXON_EIO) {
        local_stats(cfg, name, s);
        s->kept = keep_count(name);
        return AXON_OK;
    }
    s->kept = keep_count(name);
    if (rc == AXON_OK) {
        long long v[STATS_REPLY_LEN];
        if (r->type != REDIS_REPLY_ARRAY || r->elements != STATS_REPLY_LEN)
            rc = AXON_EPROTO;
        for (size_t i = 0; rc == AXON_OK && i < STATS_REPLY_LEN; i++)
            if (!int_reply(r->element[i], 0, INT64_MAX, &v[i]))
                rc = AXON_EPROTO;
        if (rc == AXON_OK) {
            s->idle = v[0];
            s->busy = v[1];
            s->size = v[0] + v[1];
            s->waiting = v[2];
            s->cooling = v[3];
            s->acquires = v[4];
            s->releases = v[5];
            s->recycles = v[6];
            s->reclaims = v[7];
            s->timeouts = v[8];
            s->stale_releases = v[9];
            s->retired = v[10];
        }
    }
    freeReplyObject(r);
    return rc;
}

long long pool_server_now_ms(const struct pool_lease *l)
{
    if (l->local || l->server_ms <= 0)
        return 0;
    return l->server_ms + (long long)((log_now_us() - l->server_at_us) / 1000u);
}
