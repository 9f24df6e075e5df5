/* pool.c - the upstream session pool: Lua scripts on a Valkey registry, and
 * a process-local fallback while Valkey is down. See pool.h for the keys.
 *
 * Scripts build session hash keys (prefix .. id) from an ARGV instead of
 * declaring them in KEYS: an acquire cannot know which session it will take
 * before it runs. That is allowed in a cluster because every key of one pool
 * carries the {p:POOL} hash tag, so they all live in the same slot.
 *
 * Round trips: an acquire that finds an idle session is one EVALSHA; a
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "axon_lua.h" /* generated from src/lua/ (Makefile) */
#include "buf.h"
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
    uint64_t deadline = start + (uint64_t)cfg->pool_wait_ms * 1000u;
    make_token(l->holder, sizeof l->holder);
    uint64_t pause_us = POOL_POLL_FIRST_MS * UINT64_C(1000);
    bool waited = false; /* a failed try registered the holder token as a waiter */
    bool late = false;   /* a try ran past its deadline */
    for (;;) {
        uint64_t now = log_now_us();
        long long left_ms = now < deadline ? (long long)((deadline - now) / 1000u) : 0;
        long long late_ms = 0;
        int rc = try_acquire(cfg, &k, l->holder, left_ms, waited, l, &late_ms);
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
            return local_acquire(cfg, name, l, start, deadline, gone, ud);
        }
        if (rc == AXON_EIO) {
            note_valkey(false, valkey_strerror());
            /* Down or too slow: the rest of the wait is local. Our waiter
             * entry, if any, expires at its deadline. */
            return local_acquire(cfg, name, l, start, deadline, gone, ud);
        }
        if (rc < 0)
            return rc;
        note_valkey(true, NULL);
        if (rc == TRY_LEASED) {
            memcpy(l->pool, name, POOL_NAME_LEN + 1);
            now = log_now_us();
            l->wait_us = now - start;
            l->renew_at_us = now + (uint64_t)cfg->pool_lease_s * 1000000u / 3;
            return AXON_OK;
        }
        waited = true;
        if (gone && gone(ud)) {
            cancel_wait(&k, l->holder, false);
            return AXON_ECLIENT_GONE;
        }
        now = log_now_us();
        if (now >= deadline)
            break;
        sleep_us(deadline - now < pause_us ? deadline - now : pause_us);
        pause_us = pause_us * 2 > POOL_POLL_MAX_MS * UINT64_C(1000)
                       ? POOL_POLL_MAX_MS * UINT64_C(1000)
                       : pause_us * 2;
    }
    cancel_wait(&k, l->holder, true);
    return AXON_EBUSY;
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
    struct pool_keys k;
    if (keys_for(first->pool, &k) != AXON_OK)
        return 0;
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
    return got;
}

void pool_release_add(const struct axon_config *cfg, struct pool_lease *l, enum pool_outcome o,
                      struct pool_release_op *op, struct valkey_batch *b)
{
    memset(op, 0, sizeof *op);
    op->mine = *l;
    op->at = -1;
    memset(l, 0, sizeof *l);
    struct pool_lease *mine = &op->mine;
    struct pool_keys k;
    if (!mine->id[0]) {
        op->rc = AXON_EINVAL;
        return;
    }
    if (mine->local) {
        op->rc = local_release(mine);
        return;
    }
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
    const char *argv[] = {op->keys[0], op->keys[1], op->keys[2], op->keys[3],
                          op->sess, mine->id, op->gen, mine->holder, op->max_turns, op->cool,
                          o == POOL_REFUSED ? "1" : "0", op->size};
    memcpy(op->argv, argv, sizeof argv);
    op->at = valkey_batch_add(b, (struct valkey_cmd){.argc = 12, .argv = op->argv,
                                                      .script = &release_lua, .nkeys = 4});
    if (op->at < 0)
        op->rc = AXON_EINVAL;
}

int pool_release_done(struct pool_release_op *op, const struct valkey_batch *b, bool *recycled)
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
        log_msg(AXON_LOG_WARN, "pool %s: release of %s failed (%s); its lease will expire",
                mine->pool, mine->id, valkey_strerror());
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
            log_msg(AXON_LOG_WARN, "pool %s: session %s was reclaimed before its release",
                    mine->pool, mine->id);
            rc = AXON_ENOTFOUND;
        }
    } else {
        log_msg(AXON_LOG_ERROR, "pool: release script answered an unexpected reply");
        rc = AXON_EPROTO;
    }
    return rc;
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

int pool_renew(const struct axon_config *cfg, struct pool_lease *l)
{
    if (l->local || !l->id[0])
        return AXON_OK;
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
        return AXON_OK;
    }
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
