/* test_pool.c - the session pool against a real redis-server that each test
 * starts on a free port: the size bound and the wait timeout, a release
 * waking a waiter, turns and recycling, cool-downs, lease reclaim and stale
 * releases, renewal, many threads on a small pool, surplus retirement, the
 * process-local fallback while the server is dead and the way back, an
 * acquire that a stopped server runs after its caller gave up (it leases
 * nothing), a client leaving mid-wait, a flushed script cache, and a
 * corrupted registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "valkey.h"

#include "redis_srv.h"

/* Connects to the test server and fills cfg with a small pool. */
static void start(void **state, struct axon_config *cfg, int size, int wait_ms)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    /* Generous: this VM stalls loopback replies for up to 50 ms at times. */
    valkey_init(&a, 1000);
    config_defaults(cfg);
    cfg->valkey_timeout_ms = 1000; /* as given to valkey_init: the acquire deadline */
    cfg->pool_size = size;
    cfg->pool_wait_ms = wait_ms;
    cfg->max_turns = 1000;
    cfg->pool_lease_s = 60;
    cfg->pool_cooldown_s = 30;
    cfg->pool_keep_ms = 0; /* the registry alone, as before keeping: test_pool_keep.c keeps */
}

/* A pool name of its own per test: the local fallback is process-wide. */
static void test_pool_name(char *out, const char *test)
{
    pool_name(out, "http://upstream.test", test);
}

static long long key_count(const char *pool, const char *suffix, const char *cmd)
{
    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:%s", pool, suffix);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "%s %s", cmd, key), 0);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* The idle list, asserting it holds no id twice; returns its length. */
static size_t idle_unique(const char *pool)
{
    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:idle", pool);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "LRANGE %s 0 -1", key), 0);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++)
        for (size_t j = i + 1; j < r->elements; j++)
            assert_string_not_equal(r->element[i]->str, r->element[j]->str);
    size_t n = r->elements;
    freeReplyObject(r);
    return n;
}

static struct pool_stats stats_of(const struct axon_config *cfg, const char *pool)
{
    struct pool_stats st;
    assert_int_equal(pool_stats(cfg, pool, &st), 0);
    return st;
}

static void name_is_a_digest_prefix(void **state)
{
    (void)state;
    char n[POOL_NAME_LEN + 1];
    pool_name(n, "https://api.anthropic.com", "/etc/axon/anthropic.key");
    assert_string_equal(n, "71822c6d0c2b38b4");
    char m[POOL_NAME_LEN + 1];
    pool_name(m, "https://api.anthropic.com", "/etc/axon/other.key");
    assert_string_not_equal(n, m);
}

static void creates_up_to_size_then_times_out(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 3, 300);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "size");

    struct pool_stats st = stats_of(&cfg, p);
    assert_false(st.local);
    assert_int_equal(st.size, 0);
    assert_int_equal(st.acquires, 0);

    struct pool_lease l[4];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pool_acquire(&cfg, p, &l[i], NULL, NULL), 0);
        assert_false(l[i].local);
        assert_int_equal(l[i].gen, 1);
        assert_int_equal(l[i].turns, 0);
        assert_string_equal(l[i].pool, p);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(l[i].id, l[j].id);
    }
    st = stats_of(&cfg, p);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.busy, 3);
    assert_int_equal(st.acquires, 3);

    double t0 = now_ms();
    assert_int_equal(pool_acquire(&cfg, p, &l[3], NULL, NULL), AXON_EBUSY);
    double took = now_ms() - t0;
    print_message("  4th acquire on a pool of 3 gave up after %.0f ms (wait 300)\n", took);
    assert_true(took >= 300 && took < 800);
    st = stats_of(&cfg, p);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(key_count(p, "waiters", "ZCARD"), 0);
    assert_int_equal(st.size, 3); /* no overflow session was made */

    bool rec = true;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pool_release(&cfg, &l[i], POOL_DONE, &rec), 0);
        assert_false(rec);
        assert_string_equal(l[i].id, ""); /* cleared */
    }
    assert_int_equal(pool_release(&cfg, &l[0], POOL_DONE, NULL), AXON_EINVAL);
    st = stats_of(&cfg, p);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.idle, 3);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.releases, 3);
    assert_int_equal(st.cooling, 0);
    assert_int_equal(idle_unique(p), 3);

    /* Names are checked before any key is built. */
    assert_int_equal(pool_acquire(&cfg, "ABCDEF0123456789", &l[0], NULL, NULL), AXON_EINVAL);
    assert_int_equal(pool_acquire(&cfg, "abc", &l[0], NULL, NULL), AXON_EINVAL);
    assert_int_equal(pool_acquire(&cfg, "0123456789abcdef0", &l[0], NULL, NULL), AXON_EINVAL);
    assert_int_equal(pool_stats(&cfg, "x}:idle", &st), AXON_EINVAL);
    config_free(&cfg);
}

struct waiter {
    const struct axon_config *cfg;
    const char *pool;
    struct pool_lease l;
    int rc;
    double got_at;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = pool_acquire(w->cfg, w->pool, &w->l, NULL, NULL);
    w->got_at = now_ms();
    valkey_thread_close();
    return NULL;
}

static void release_wakes_a_waiter(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 3000);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "wake");

    struct pool_lease mine;
    assert_int_equal(pool_acquire(&cfg, p, &mine, NULL, NULL), 0);
    struct waiter w = {.cfg = &cfg, .pool = p, .rc = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    sleep_ms(150);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.busy, 1);
    char id[POOL_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", mine.id);
    double released = now_ms();
    assert_int_equal(pool_release(&cfg, &mine, POOL_DONE, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("  waiter got the session %.1f ms after the release\n", w.got_at - released);
    assert_int_equal(w.rc, 0);
    /* Woken by the release, not by its 3 s wait running out; loose enough
     * for a loaded 2-core VM (166 ms seen under load). */
    assert_true(w.got_at - released < 1000);
    assert_true(w.l.wait_us >= 140000);
    assert_string_equal(w.l.id, id);
    assert_int_equal(w.l.turns, 1);
    st = stats_of(&cfg, p);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(key_count(p, "waiters", "ZCARD"), 0);
    assert_int_equal(pool_release(&cfg, &w.l, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void turns_counted_and_recycled(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 100);
    cfg.max_turns = 3;
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "recycle");

    struct pool_lease l;
    bool rec;
    char first[POOL_ID_MAX + 1] = "";
    for (int t = 0; t < 3; t++) {
        assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
        assert_int_equal(l.turns, t);
        assert_int_equal(l.gen, 1);
        if (t == 0)
            snprintf(first, sizeof first, "%s", l.id);
        assert_string_equal(l.id, first);
        assert_int_equal(pool_release(&cfg, &l, POOL_DONE, &rec), 0);
        assert_true(rec == (t == 2));
    }
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_string_not_equal(l.id, first);
    assert_int_equal(l.gen, 2);
    assert_int_equal(l.turns, 0);
    char old[96];
    snprintf(old, sizeof old, "axon:{p:%s}:s:%s", p, first);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "EXISTS %s", old), 0);
    assert_int_equal(r->integer, 0); /* the old session is gone */
    freeReplyObject(r);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, &rec), 0);
    assert_false(rec);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.recycles, 1);
    assert_int_equal(st.acquires, 4);
    assert_int_equal(st.releases, 4);
    assert_int_equal(st.size, 1);
    assert_int_equal(idle_unique(p), 1);
    config_free(&cfg);
}

static void refused_session_cools_down(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 2, 100);
    cfg.pool_cooldown_s = 1;
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "cool");

    struct pool_lease a, b, c, d;
    assert_int_equal(pool_acquire(&cfg, p, &a, NULL, NULL), 0);
    assert_int_equal(pool_acquire(&cfg, p, &b, NULL, NULL), 0);
    char refused[POOL_ID_MAX + 1], healthy[POOL_ID_MAX + 1];
    snprintf(refused, sizeof refused, "%s", a.id);
    snprintf(healthy, sizeof healthy, "%s", b.id);
    /* The refused one goes back first, so it heads the idle list. */
    assert_int_equal(pool_release(&cfg, &a, POOL_REFUSED, NULL), 0);
    assert_int_equal(pool_release(&cfg, &b, POOL_DONE, NULL), 0);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.cooling, 1);
    assert_int_equal(st.idle, 2);

    assert_int_equal(pool_acquire(&cfg, p, &c, NULL, NULL), 0);
    assert_string_equal(c.id, healthy);
    /* Only a cooling one is left: better it than a wait. */
    assert_int_equal(pool_acquire(&cfg, p, &d, NULL, NULL), 0);
    assert_string_equal(d.id, refused);
    assert_int_equal(pool_release(&cfg, &c, POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &d, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).cooling, 1); /* a plain release keeps it */

    sleep_ms(1100);
    assert_int_equal(stats_of(&cfg, p).cooling, 0);
    assert_int_equal(pool_acquire(&cfg, p, &c, NULL, NULL), 0);
    assert_string_equal(c.id, healthy); /* FIFO: healthy again, order rules */
    assert_int_equal(pool_release(&cfg, &c, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void expired_lease_is_reclaimed_and_late_release_is_stale(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 2000);
    cfg.pool_lease_s = 1;
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "reclaim");

    struct pool_lease dead, next;
    assert_int_equal(pool_acquire(&cfg, p, &dead, NULL, NULL), 0);
    sleep_ms(1100); /* the holder "hangs" past its lease without renewing */
    double t0 = now_ms();
    assert_int_equal(pool_acquire(&cfg, p, &next, NULL, NULL), 0);
    assert_true(now_ms() - t0 < 100);
    assert_string_equal(next.id, dead.id); /* the only session, reclaimed */
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.reclaims, 1);
    assert_int_equal(st.busy, 1);

    /* The old holder wakes up: its renew and release change nothing. */
    dead.renew_at_us = 0;
    assert_int_equal(pool_renew(&cfg, &dead), AXON_ENOTFOUND);
    assert_int_equal(pool_renew(&cfg, &dead), 0); /* reported once */
    bool rec = true;
    assert_int_equal(pool_release(&cfg, &dead, POOL_DONE, &rec), AXON_ENOTFOUND);
    assert_false(rec);
    st = stats_of(&cfg, p);
    assert_int_equal(st.stale_releases, 1);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.releases, 0);

    assert_int_equal(pool_release(&cfg, &next, POOL_DONE, NULL), 0);
    assert_int_equal(idle_unique(p), 1);
    st = stats_of(&cfg, p);
    assert_int_equal(st.size, 1);
    assert_int_equal(st.releases, 1);
    /* Only the live holder's turn was counted. */
    assert_int_equal(pool_acquire(&cfg, p, &next, NULL, NULL), 0);
    assert_int_equal(next.turns, 1);
    assert_int_equal(pool_release(&cfg, &next, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void renew_keeps_a_lease(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 100);
    cfg.pool_lease_s = 1;
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "renew");

    struct pool_lease l, other;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    uint64_t first_renew = l.renew_at_us;
    assert_true(first_renew > log_now_us());
    assert_int_equal(pool_renew(&cfg, &l), 0);
    assert_true(l.renew_at_us == first_renew); /* too early: nothing sent */
    double t0 = now_ms();
    while (now_ms() - t0 < 2500) {
        assert_int_equal(pool_renew(&cfg, &l), 0);
        sleep_ms(50);
    }
    assert_true(l.renew_at_us > first_renew);
    /* The renewals read the registry's clock again: the lease's estimate
     * of it is fresh, and never ahead of the server's. */
    assert_true(l.server_at_us > first_renew - 1000000u / 3);
    long long est = pool_server_now_ms(&l);
    long long srv;
    assert_int_equal(valkey_server_time_ms(&srv), 0);
    assert_true(est <= srv + 1 && est > srv - 1000);
    /* Two and a half lease periods later it is still held. */
    assert_int_equal(pool_acquire(&cfg, p, &other, NULL, NULL), AXON_EBUSY);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.reclaims, 0);
    assert_int_equal(st.busy, 1);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).stale_releases, 0);

    /* Local leases have nothing to renew. */
    struct pool_lease loc = {.local = true, .id = "l1"};
    assert_int_equal(pool_renew(&cfg, &loc), 0);
    assert_int_equal(pool_server_now_ms(&loc), 0); /* and no server clock */
    config_free(&cfg);
}

#define STRESS_THREADS 8
#define STRESS_CYCLES 100

struct stress {
    const struct axon_config *cfg;
    const char *pool;
    atomic_int *holders, *max_holders, *failures;
};

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    for (int i = 0; i < STRESS_CYCLES; i++) {
        struct pool_lease l;
        if (pool_acquire(s->cfg, s->pool, &l, NULL, NULL) != 0 || l.local) {
            atomic_fetch_add(s->failures, 1);
            continue;
        }
        int h = atomic_fetch_add(s->holders, 1) + 1;
        int m = atomic_load(s->max_holders);
        while (h > m && !atomic_compare_exchange_weak(s->max_holders, &m, h)) {
        }
        if (i % 10 == 0)
            sleep_ms(1);
        atomic_fetch_sub(s->holders, 1);
        if (pool_release(s->cfg, &l, POOL_DONE, NULL) != 0)
            atomic_fetch_add(s->failures, 1);
    }
    valkey_thread_close();
    return NULL;
}

static void many_threads_on_a_small_pool(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 2, 10000);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "stress");

    atomic_int holders = 0, max_holders = 0, failures = 0;
    struct stress s = {&cfg, p, &holders, &max_holders, &failures};
    pthread_t th[STRESS_THREADS];
    double t0 = now_ms();
    for (int i = 0; i < STRESS_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stress_main, &s), 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    print_message("  %d x %d cycles on a pool of 2 in %.0f ms, at most %d holders\n",
                  STRESS_THREADS, STRESS_CYCLES, now_ms() - t0, atomic_load(&max_holders));
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&max_holders) <= 2);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.acquires, STRESS_THREADS * STRESS_CYCLES);
    assert_int_equal(st.releases, st.acquires);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.stale_releases, 0);
    assert_int_equal(idle_unique(p), 2);
    config_free(&cfg);
}

static void surplus_sessions_are_retired(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 3, 100);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "shrink");

    struct pool_lease l[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pool_acquire(&cfg, p, &l[i], NULL, NULL), 0);
    cfg.pool_size = 2; /* another process, or a new configuration */
    bool rec = true;
    assert_int_equal(pool_release(&cfg, &l[0], POOL_DONE, &rec), 0);
    assert_false(rec);
    assert_int_equal(pool_release(&cfg, &l[1], POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l[2], POOL_DONE, NULL), 0);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.retired, 1);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.releases, 3);
    assert_int_equal(idle_unique(p), 2);
    config_free(&cfg);
}

static bool gone_after(void *ud)
{
    const double *at = ud;
    return now_ms() >= *at;
}

static void dead_server_falls_back_to_local_leases(void **state)
{
    struct srv *s = *state;
    struct axon_config cfg;
    start(state, &cfg, 2, 200);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "local");

    struct pool_lease v, a, b, c;
    assert_int_equal(pool_acquire(&cfg, p, &v, NULL, NULL), 0);
    assert_false(v.local);

    srv_kill(s);
    double t0 = now_ms();
    assert_int_equal(pool_acquire(&cfg, p, &a, NULL, NULL), 0);
    print_message("  first acquire with the server dead: local after %.1f ms\n",
                  now_ms() - t0);
    assert_true(a.local);
    assert_string_equal(a.pool, p);
    assert_int_equal(pool_acquire(&cfg, p, &b, NULL, NULL), 0);
    assert_true(b.local);
    assert_string_not_equal(a.id, b.id);
    t0 = now_ms();
    assert_int_equal(pool_acquire(&cfg, p, &c, NULL, NULL), AXON_EBUSY);
    double took = now_ms() - t0;
    print_message("  local pool exhausted: AXON_EBUSY after %.0f ms (wait 200)\n", took);
    assert_true(took >= 200 && took < 700);
    double at = now_ms() + 50;
    t0 = now_ms();
    assert_int_equal(pool_acquire(&cfg, p, &c, gone_after, &at), AXON_ECLIENT_GONE);
    assert_true(now_ms() - t0 < 150);

    struct pool_stats st;
    assert_int_equal(pool_stats(&cfg, p, &st), 0);
    assert_true(st.local);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.busy, 2);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.acquires, 2);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waiting, 0);

    assert_int_equal(pool_release(&cfg, &a, POOL_DONE, NULL), 0);
    assert_int_equal(pool_acquire(&cfg, p, &a, NULL, NULL), 0);
    assert_true(a.local);
    assert_int_equal(pool_release(&cfg, &a, POOL_REFUSED, NULL), 0);
    assert_int_equal(pool_release(&cfg, &b, POOL_DONE, NULL), 0);
    assert_int_equal(pool_stats(&cfg, p, &st), 0);
    assert_true(st.local);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.releases, 3);
    /* The registry lease cannot be given back: its deadline will. */
    assert_int_equal(pool_release(&cfg, &v, POOL_DONE, NULL), AXON_EIO);
    assert_string_equal(v.id, "");

    /* Back: once the breaker's cool-down lets a probe through, the
     * registry serves again. */
    assert_int_equal(srv_start(s), 0);
    assert_false(valkey_up());
    t0 = now_ms();
    redisReply *r = NULL;
    while (valkey_command(&r, "PING") != 0 && now_ms() - t0 < 3000) {
        sleep_ms(20);
    }
    freeReplyObject(r);
    assert_true(valkey_up());
    print_message("  breaker closed %.0f ms after the restart\n", now_ms() - t0);
    assert_int_equal(pool_acquire(&cfg, p, &a, NULL, NULL), 0);
    assert_false(a.local);
    assert_int_equal(pool_stats(&cfg, p, &st), 0);
    assert_false(st.local);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.acquires, 1); /* a fresh server */
    assert_int_equal(pool_release(&cfg, &a, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void server_dies_during_a_wait(void **state)
{
    struct srv *s = *state;
    struct axon_config cfg;
    start(state, &cfg, 1, 2000);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "midwait");

    struct pool_lease held;
    assert_int_equal(pool_acquire(&cfg, p, &held, NULL, NULL), 0);
    struct waiter w = {.cfg = &cfg, .pool = p, .rc = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    sleep_ms(100);
    double killed = now_ms();
    srv_kill(s);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("  waiter switched to a local lease %.1f ms after the kill\n",
                  w.got_at - killed);
    assert_int_equal(w.rc, 0);
    assert_true(w.l.local);
    assert_true(w.got_at - killed < 500);
    assert_true(w.l.wait_us >= 100000);
    assert_int_equal(pool_release(&cfg, &w.l, POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &held, POOL_DONE, NULL), AXON_EIO);
    config_free(&cfg);
}

/* Points the module at the test server with a short timeout, as main does
 * with AXON_VALKEY_TIMEOUT_MS: cfg and the connections agree on it. */
static void short_timeout(void **state, struct axon_config *cfg, int ms)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, ms);
    cfg->valkey_timeout_ms = ms;
}

/* Issue 18 item 1: an acquire whose caller stopped waiting (the server was
 * stopped, the EVALSHA sat in its socket) must lease nothing when the server
 * wakes up and runs it; before the fix it leased the only session to a
 * holder nobody would renew or release, for the whole lease (60 s). */
static void late_acquire_after_a_stall_leases_nothing(void **state)
{
    struct srv *s = *state;
    struct axon_config cfg;
    start(state, &cfg, 1, 0);
    short_timeout(state, &cfg, 200);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "ghost");

    /* The session exists, the script is loaded and the clock read. */
    struct pool_lease v, l;
    assert_int_equal(pool_acquire(&cfg, p, &v, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &v, POOL_DONE, NULL), 0);

    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    double t0 = now_ms();
    int rc = pool_acquire(&cfg, p, &l, NULL, NULL);
    double took = now_ms() - t0;
    sleep_ms(100); /* the stall lasts past the caller's wait */
    assert_int_equal(kill(s->pid, SIGCONT), 0);
    print_message("  stopped server: a local lease after %.0f ms\n", took);
    assert_int_equal(rc, 0);
    assert_true(l.local);
    assert_true(took >= 190);
    /* The server has run what sat in its socket by the time it answers a
     * command sent later on a new connection, and a little after. */
    sleep_ms(200);
    assert_int_equal(key_count(p, "leases", "ZCARD"), 0);
    assert_int_equal(key_count(p, "waiters", "ZCARD"), 0);
    assert_int_equal(idle_unique(p), 1);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.acquires, 1);
    /* So the registry's session is free at once (a wait of 0: no polling). */
    assert_int_equal(pool_acquire(&cfg, p, &v, NULL, NULL), 0);
    assert_false(v.local);
    assert_int_equal(pool_release(&cfg, &v, POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

/* A stall longer than the timeout but shorter than the caller's wait for
 * the reply: the script runs past its deadline and says so, and the caller,
 * which now knows Valkey answers, takes the session from the registry
 * rather than a local lease. Exactly one lease is held. */
static void acquire_late_within_the_wait_is_retried_on_the_registry(void **state)
{
    struct srv *s = *state;
    struct axon_config cfg;
    start(state, &cfg, 1, 2000);
    short_timeout(state, &cfg, 200);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "lateretry");

    struct pool_lease v;
    assert_int_equal(pool_acquire(&cfg, p, &v, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &v, POOL_DONE, NULL), 0);

    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    struct waiter w = {.cfg = &cfg, .pool = p, .rc = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    sleep_ms(300); /* past the deadline (200 ms), within the wait (400 ms) */
    assert_int_equal(kill(s->pid, SIGCONT), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_false(w.l.local);
    sleep_ms(100);
    assert_int_equal(key_count(p, "leases", "ZCARD"), 1);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.acquires, 2);
    assert_int_equal(pool_release(&cfg, &w.l, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).busy, 0);
    config_free(&cfg);
}

static void client_gone_stops_the_wait(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 5000);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "gone");

    struct pool_lease held, l;
    assert_int_equal(pool_acquire(&cfg, p, &held, NULL, NULL), 0);
    double t0 = now_ms();
    double at = t0 + 100;
    assert_int_equal(pool_acquire(&cfg, p, &l, gone_after, &at), AXON_ECLIENT_GONE);
    double took = now_ms() - t0;
    print_message("  wait stopped %.0f ms after it began (gone at 100)\n", took);
    assert_true(took >= 100 && took < 200);
    assert_int_equal(key_count(p, "waiters", "ZCARD"), 0);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(pool_release(&cfg, &held, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void flushed_scripts_are_reloaded(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 100);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "flush");

    struct pool_lease l;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SCRIPT FLUSH"), 0);
    freeReplyObject(r);
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_false(l.local);
    assert_int_equal(l.turns, 1);
    assert_int_equal(valkey_command(&r, "SCRIPT FLUSH"), 0);
    freeReplyObject(r);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).releases, 2);
    config_free(&cfg);
}

static void corrupted_registry_is_an_error_not_a_crash(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 1, 100);
    char p[POOL_NAME_LEN + 1];
    test_pool_name(p, "corrupt");

    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:idle", p);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", key, "not a list"), 0);
    freeReplyObject(r);
    struct pool_lease l;
    struct pool_stats st;
    /* WRONGTYPE: the registry's error reply, told from a bad name. */
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), AXON_EREPLY);
    assert_int_equal(pool_stats(&cfg, p, &st), AXON_EREPLY);
    assert_true(valkey_up()); /* an error reply is no outage */

    /* A session whose hash vanished is dropped and replaced. */
    assert_int_equal(valkey_command(&r, "DEL %s", key), 0);
    freeReplyObject(r);
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    char sess[96];
    snprintf(sess, sizeof sess, "axon:{p:%s}:s:s1", p);
    assert_int_equal(valkey_command(&r, "DEL %s", sess), 0);
    freeReplyObject(r);
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_string_equal(l.id, "s2");
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(idle_unique(p), 1);
    config_free(&cfg);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does; hiredis writes with write(2) */
    log_set_level(getenv("POOL_TEST_LOG") ? AXON_LOG_DEBUG : AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(name_is_a_digest_prefix),
#define T(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown)
        T(creates_up_to_size_then_times_out),
        T(release_wakes_a_waiter),
        T(turns_counted_and_recycled),
        T(refused_session_cools_down),
        T(expired_lease_is_reclaimed_and_late_release_is_stale),
        T(renew_keeps_a_lease),
        T(many_threads_on_a_small_pool),
        T(surplus_sessions_are_retired),
        T(dead_server_falls_back_to_local_leases),
        T(server_dies_during_a_wait),
        T(late_acquire_after_a_stall_leases_nothing),
        T(acquire_late_within_the_wait_is_retried_on_the_registry),
        T(client_gone_stops_the_wait),
        T(flushed_scripts_are_reloaded),
        T(corrupted_registry_is_an_error_not_a_crash),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
