/* test_pool_keep.c - the sessions a process keeps between its requests
 * (AXON_POOL_KEEP_MS), against one real redis-server for the whole file
 * (the background tick is process-wide and outlives a test): an acquire
 * after a release costs no round trip, turns are written by the tick,
 * recycling stays exact, a waiter of another process gets a kept session
 * within a tick, an idle kept session goes back after AXON_POOL_KEEP_MS, a
 * waiter of this process takes one the moment it is kept, 0 turns keeping
 * off, many threads never hold more than the size, and pool_shutdown hands
 * every kept session back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "valkey.h"

#include "redis_srv.h"

static void start(struct axon_config *cfg, int size, int keep_ms)
{
    config_defaults(cfg);
    cfg->valkey_timeout_ms = 1000;
    cfg->pool_size = size;
    cfg->pool_wait_ms = 3000;
    cfg->max_turns = 1000;
    cfg->pool_lease_s = 60;
    cfg->pool_cooldown_s = 30;
    cfg->pool_keep_ms = keep_ms;
}

static long long redis_int(const char *fmt, const char *pool, const char *suffix)
{
    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:%s", pool, suffix);
    redisReply *r;
    assert_int_equal(valkey_command(&r, fmt, key), 0);
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
                                                  : 0;
    freeReplyObject(r);
    return n;
}

static long long turns_of(const char *pool, const char *id)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "s:%s", id);
    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:%s", pool, suffix);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "HGET %s turns", key), 0);
    long long n = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return n;
}

static struct pool_stats stats_of(const struct axon_config *cfg, const char *pool)
{
    struct pool_stats st;
    assert_int_equal(pool_stats(cfg, pool, &st), 0);
    return st;
}

static int group_setup(void **state)
{
    if (setup_plain(state))
        return -1;
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    return 0;
}

static int group_teardown(void **state)
{
    pool_shutdown(); /* the tick stops before the module it uses */
    return teardown(state);
}

/* The point of keeping: the second request's acquire and release are made
 * in memory, with no Valkey round trip, and it gets the same session. */
static void second_acquire_makes_no_round_trip(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 2, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-rt");
    struct pool_lease l;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_true(l.tracked);
    char id[POOL_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", l.id);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.kept, 1);
    assert_int_equal(st.busy, 1); /* a kept session is busy in the registry */
    assert_int_equal(st.idle, 1); /* the other one the acquire made */

    unsigned long rt0 = valkey_round_trips();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
        assert_string_equal(l.id, id);
        assert_true(pool_server_now_ms(&l) > 0); /* the store deadline has a clock */
        assert_int_equal(pool_renew(&cfg, &l), 0);
        bool rec = true;
        assert_int_equal(pool_release(&cfg, &l, POOL_DONE, &rec), 0);
        assert_false(rec);
    }
    print_message("  5 acquires and releases of a kept session: %lu round trips\n",
                  valkey_round_trips() - rt0);
    assert_int_equal(valkey_round_trips() - rt0, 0);
    config_free(&cfg);
}

/* Turns served while kept reach the registry with the next tick. */
static void turns_are_written_by_the_tick(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 1, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-turns");
    struct pool_lease l;
    char id[POOL_ID_MAX + 1] = "";
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
        assert_int_equal(l.turns, i); /* counted here, not read back */
        snprintf(id, sizeof id, "%s", l.id);
        assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    }
    double t0 = now_ms();
    while (turns_of(p, id) != 4 && now_ms() - t0 < 1000)
        sleep_ms(5);
    print_message("  4 turns in the registry %.0f ms after the last release\n", now_ms() - t0);
    assert_int_equal(turns_of(p, id), 4);
    assert_int_equal(stats_of(&cfg, p).kept, 1); /* written, still kept */
    config_free(&cfg);
}

/* The turn that reaches max_turns goes to the registry, which recycles the
 * session there: exactly at max_turns, the turns kept unwritten included. */
static void recycled_exactly_at_max_turns(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 1, 60000);
    cfg.max_turns = 3;
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-recycle");
    struct pool_lease l;
    char first[POOL_ID_MAX + 1] = "";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
        if (i == 0)
            snprintf(first, sizeof first, "%s", l.id);
        assert_string_equal(l.id, first);
        assert_int_equal(l.gen, 1);
        bool rec = false;
        assert_int_equal(pool_release(&cfg, &l, POOL_DONE, &rec), 0);
        assert_int_equal(rec, i == 2);
    }
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.recycles, 1);
    assert_int_equal(st.kept, 0);
    assert_int_equal(st.idle, 1);
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_string_not_equal(l.id, first);
    assert_int_equal(l.gen, 2);
    assert_int_equal(l.turns, 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

/* Another process waits (its waiter entry, as its acquire script leaves
 * it): the kept session goes back within a tick, and while the waiter
 * stays this process's releases go to the registry. */
static void a_waiter_elsewhere_gets_the_kept_session(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 1, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-others");
    struct pool_lease l;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    sleep_ms(120); /* a tick or two with nobody waiting: still kept */
    assert_int_equal(stats_of(&cfg, p).kept, 1);
    assert_int_equal(redis_int("LLEN %s", p, "idle"), 0);

    char key[96];
    snprintf(key, sizeof key, "axon:{p:%s}:waiters", p);
    long long srv_now;
    assert_int_equal(valkey_server_time_ms(&srv_now), 0);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "ZADD %s %lld other-host-token", key, srv_now + 10000), 0);
    freeReplyObject(r);
    double t0 = now_ms();
    while (redis_int("LLEN %s", p, "idle") != 1 && now_ms() - t0 < 2000)
        sleep_ms(2);
    double took = now_ms() - t0;
    print_message("  a waiter elsewhere saw the kept session idle after %.0f ms\n", took);
    assert_int_equal(redis_int("LLEN %s", p, "idle"), 1);
    assert_true(took < 500); /* a 50 ms tick, on a loaded 2-core VM */
    assert_int_equal(stats_of(&cfg, p).kept, 0);

    /* While it waits, this process gives back what it releases. */
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(redis_int("LLEN %s", p, "idle"), 1);
    assert_int_equal(stats_of(&cfg, p).kept, 0);

    /* Nobody waits: keeping resumes (a flag nothing here renews lasts four
     * ticks, pool.c OTHERS_WAIT_US). */
    assert_int_equal(valkey_command(&r, "DEL %s", key), 0);
    freeReplyObject(r);
    sleep_ms(300);
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).kept, 1);
    config_free(&cfg);
}

/* A kept session nobody here asks for goes back after AXON_POOL_KEEP_MS. */
static void idle_kept_session_goes_back(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 2, 200);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-idle");
    struct pool_lease l;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    char id[POOL_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", l.id);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).kept, 1);
    double t0 = now_ms();
    while (redis_int("LLEN %s", p, "idle") != 2 && now_ms() - t0 < 2000)
        sleep_ms(5);
    double took = now_ms() - t0;
    print_message("  an idle kept session went back after %.0f ms (keep 200)\n", took);
    assert_true(took >= 150 && took < 1000);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.kept, 0);
    assert_int_equal(st.busy, 0);
    assert_int_equal(turns_of(p, id), 1); /* its turn written as it went back */
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

/* A request of this process polling the registry takes a session the
 * moment another request here keeps it, and leaves no waiter behind. */
static void a_waiter_here_takes_a_session_as_it_is_kept(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 1, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-here");
    struct pool_lease mine;
    assert_int_equal(pool_acquire(&cfg, p, &mine, NULL, NULL), 0);
    char id[POOL_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", mine.id);
    struct waiter w = {.cfg = &cfg, .pool = p, .rc = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    sleep_ms(300); /* long enough for its polls to reach 25 ms pauses */
    assert_int_equal(redis_int("ZCARD %s", p, "waiters"), 1);
    assert_int_equal(stats_of(&cfg, p).kept, 0);
    double released = now_ms();
    assert_int_equal(pool_release(&cfg, &mine, POOL_DONE, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("  the waiter here took the kept session %.1f ms after its release\n",
                  w.got_at - released);
    assert_int_equal(w.rc, 0);
    assert_string_equal(w.l.id, id);
    assert_true(w.got_at - released < 200);
    assert_int_equal(redis_int("ZCARD %s", p, "waiters"), 0);
    assert_int_equal(pool_release(&cfg, &w.l, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

/* A request that makes several upstream calls (n > 1) takes the other
 * sessions this process keeps too, in memory, before idle registry ones. */
static void more_sessions_come_from_the_keep(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 3, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-more");
    struct pool_lease l[3], more[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pool_acquire(&cfg, p, &l[i], NULL, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pool_release(&cfg, &l[i], POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).kept, 3);
    unsigned long rt0 = valkey_round_trips();
    assert_int_equal(pool_acquire(&cfg, p, &l[0], NULL, NULL), 0);
    int got = pool_acquire_more(&cfg, &l[0], more, 2);
    assert_int_equal(valkey_round_trips() - rt0, 0);
    assert_int_equal(got, 2);
    for (int i = 0; i < got; i++) {
        assert_true(more[i].tracked);
        assert_false(more[i].local);
        assert_string_not_equal(more[i].id, l[0].id);
        assert_int_equal(more[i].wait_us, 0);
    }
    assert_string_not_equal(more[0].id, more[1].id);
    assert_int_equal(pool_acquire_more(&cfg, &l[0], &more[2], 2), 0); /* none left anywhere */
    for (int i = 0; i < got; i++)
        assert_int_equal(pool_release(&cfg, &more[i], POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &l[0], POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).kept, 3);
    config_free(&cfg);
}

/* AXON_POOL_KEEP_MS=0: every acquire and release goes to the registry. */
static void keep_zero_goes_to_the_registry(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 2, 0);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-zero");
    struct pool_lease l;
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_false(l.tracked);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    unsigned long rt0 = valkey_round_trips();
    assert_int_equal(pool_acquire(&cfg, p, &l, NULL, NULL), 0);
    assert_int_equal(valkey_round_trips() - rt0, 1);
    assert_int_equal(pool_release(&cfg, &l, POOL_DONE, NULL), 0);
    assert_int_equal(valkey_round_trips() - rt0, 2);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.kept, 0);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.releases, 2);
    config_free(&cfg);
}

struct stress {
    const struct axon_config *cfg;
    const char *pool;
    atomic_int *holding, *most;
    int fails;
};

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    for (int i = 0; i < 40; i++) {
        struct pool_lease l;
        if (pool_acquire(s->cfg, s->pool, &l, NULL, NULL) != 0) {
            s->fails++;
            continue;
        }
        int now = atomic_fetch_add(s->holding, 1) + 1;
        int m = atomic_load(s->most);
        while (now > m && !atomic_compare_exchange_weak(s->most, &m, now)) {
        }
        sleep_ms(1);
        atomic_fetch_sub(s->holding, 1);
        if (pool_release(s->cfg, &l, POOL_DONE, NULL) != 0)
            s->fails++;
    }
    valkey_thread_close();
    return NULL;
}

/* Eight threads on a pool of 3 with keeping: never more than 3 held, the
 * registry never leases more than 3, every turn counted. */
static void many_threads_never_exceed_the_size(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 3, 60000);
    cfg.pool_wait_ms = 10000;
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-stress");
    atomic_int holding = 0, most = 0;
    struct stress s[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        s[i] = (struct stress){.cfg = &cfg, .pool = p, .holding = &holding, .most = &most};
        assert_int_equal(pthread_create(&th[i], NULL, stress_main, &s[i]), 0);
    }
    long long zmax = 0;
    for (int done = 0; !done;) {
        long long z = redis_int("ZCARD %s", p, "leases");
        zmax = z > zmax ? z : zmax;
        done = atomic_load(&holding) == 0 && redis_int("ZCARD %s", p, "waiters") == 0;
        sleep_ms(3);
        if (done)
            for (int i = 0; i < 8; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
    }
    print_message("  8 threads x 40 on a pool of 3: at most %d held, registry leases at most %lld\n",
                  atomic_load(&most), zmax);
    for (int i = 0; i < 8; i++)
        assert_int_equal(s[i].fails, 0);
    assert_true(atomic_load(&most) <= 3);
    assert_true(zmax <= 3);
    struct pool_stats st = stats_of(&cfg, p);
    assert_true(st.size <= 3);
    config_free(&cfg);
}

/* At exit every kept session goes back with its turns (main.c). Last: the
 * tick does not start again. */
static void shutdown_hands_back_what_is_kept(void **state)
{
    (void)state;
    struct axon_config cfg;
    start(&cfg, 2, 60000);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "keep-exit");
    struct pool_lease a, b;
    assert_int_equal(pool_acquire(&cfg, p, &a, NULL, NULL), 0);
    assert_int_equal(pool_acquire(&cfg, p, &b, NULL, NULL), 0);
    char ida[POOL_ID_MAX + 1];
    snprintf(ida, sizeof ida, "%s", a.id);
    assert_int_equal(pool_release(&cfg, &a, POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &b, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).kept, 2);
    pool_shutdown();
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.kept, 0);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.busy, 0);
    assert_int_equal(turns_of(p, ida), 1);
    config_free(&cfg);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(getenv("POOL_TEST_LOG") ? AXON_LOG_DEBUG : AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(second_acquire_makes_no_round_trip),
        cmocka_unit_test(turns_are_written_by_the_tick),
        cmocka_unit_test(recycled_exactly_at_max_turns),
        cmocka_unit_test(a_waiter_elsewhere_gets_the_kept_session),
        cmocka_unit_test(idle_kept_session_goes_back),
        cmocka_unit_test(a_waiter_here_takes_a_session_as_it_is_kept),
        cmocka_unit_test(more_sessions_come_from_the_keep),
        cmocka_unit_test(keep_zero_goes_to_the_registry),
        cmocka_unit_test(many_threads_never_exceed_the_size),
        cmocka_unit_test(shutdown_hands_back_what_is_kept),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
