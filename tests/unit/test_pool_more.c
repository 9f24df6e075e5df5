/* test_pool_more.c - the extra sessions of a request that makes several
 * upstream calls (n > 1), against a real redis-server per test: only idle,
 * healthy sessions, never a wait, nothing leased by a script that arrives
 * after its deadline, and the local fallback's own count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "valkey.h"

#include "redis_srv.h"

static void start(void **state, struct axon_config *cfg, int size)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    config_defaults(cfg);
    cfg->pool_size = size;
    cfg->pool_wait_ms = 300;
    cfg->max_turns = 1000;
    cfg->pool_lease_s = 60;
    cfg->pool_cooldown_s = 30;
    cfg->pool_keep_ms = 0; /* the registry alone, as before keeping: test_pool_keep.c keeps */
}

static struct pool_stats stats_of(const struct axon_config *cfg, const char *pool)
{
    struct pool_stats st;
    assert_int_equal(pool_stats(cfg, pool, &st), 0);
    return st;
}

static void takes_what_is_idle_and_never_waits(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 3);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "more-idle");
    struct pool_lease first, more[5], none[1];
    assert_int_equal(pool_acquire(&cfg, p, &first, NULL, NULL), 0);
    assert_int_equal(pool_acquire_more(&cfg, &first, more, 5), 2);
    for (int i = 0; i < 2; i++) {
        assert_false(more[i].local);
        assert_string_equal(more[i].pool, p);
        assert_string_not_equal(more[i].id, first.id);
        assert_string_not_equal(more[i].holder, first.holder);
    }
    assert_string_not_equal(more[0].id, more[1].id);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.busy, 3);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.acquires, 3);
    /* The pool is empty: nothing more, at once (a wait would be 300 ms). */
    double t0 = now_ms();
    assert_int_equal(pool_acquire_more(&cfg, &first, none, 1), 0);
    assert_true(now_ms() - t0 < 150);
    assert_int_equal(stats_of(&cfg, p).waiting, 0);
    /* Each extra is a lease like any other: renewed and released. */
    more[0].renew_at_us = 0;
    assert_int_equal(pool_renew(&cfg, &more[0]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pool_release(&cfg, &more[i], POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &first, POOL_DONE, NULL), 0);
    st = stats_of(&cfg, p);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.idle, 3);
    assert_int_equal(st.releases, 3);
    assert_int_equal(st.stale_releases, 0);
    config_free(&cfg);
}

static void cooling_sessions_are_left_alone(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 3);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "more-cool");
    struct pool_lease first, more[2];
    assert_int_equal(pool_acquire(&cfg, p, &first, NULL, NULL), 0);
    assert_int_equal(pool_acquire_more(&cfg, &first, more, 2), 2);
    assert_int_equal(pool_release(&cfg, &more[0], POOL_REFUSED, NULL), 0);
    assert_int_equal(pool_release(&cfg, &more[1], POOL_DONE, NULL), 0);
    assert_int_equal(pool_acquire_more(&cfg, &first, more, 2), 1);
    assert_int_equal(stats_of(&cfg, p).cooling, 1);
    assert_int_equal(pool_release(&cfg, &more[0], POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &first, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void a_late_script_leases_nothing(void **state)
{
    struct axon_config cfg;
    start(state, &cfg, 3);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "more-late");
    struct pool_lease first, more[2];
    assert_int_equal(pool_acquire(&cfg, p, &first, NULL, NULL), 0);
    /* As if the first lease's clock reading were 5 s old when the script
     * ran: its deadline (reading + timeout) has passed on the server. */
    first.server_ms -= 5000;
    assert_int_equal(pool_acquire_more(&cfg, &first, more, 2), 0);
    struct pool_stats st = stats_of(&cfg, p);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.idle, 2);
    assert_int_equal(pool_release(&cfg, &first, POOL_DONE, NULL), 0);
    config_free(&cfg);
}

static void local_first_takes_local_ones(void **state)
{
    struct srv *s = *state;
    struct axon_config cfg;
    start(state, &cfg, 3);
    char p[POOL_NAME_LEN + 1];
    pool_name(p, "http://upstream.test", "more-local");
    srv_kill(s);
    struct pool_lease first, more[4], other;
    assert_int_equal(pool_acquire(&cfg, p, &first, NULL, NULL), 0);
    assert_true(first.local);
    assert_int_equal(pool_acquire_more(&cfg, &first, more, 4), 2);
    assert_true(more[0].local && more[1].local);
    assert_string_not_equal(more[0].id, more[1].id);
    /* The local pool is full: another request waits, then gives up. */
    assert_int_equal(pool_acquire(&cfg, p, &other, NULL, NULL), AXON_EBUSY);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pool_release(&cfg, &more[i], POOL_DONE, NULL), 0);
    assert_int_equal(pool_release(&cfg, &first, POOL_DONE, NULL), 0);
    assert_int_equal(stats_of(&cfg, p).busy, 0);
    config_free(&cfg);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(getenv("POOL_TEST_LOG") ? AXON_LOG_DEBUG : AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown)
        T(takes_what_is_idle_and_never_waits),
        T(cooling_sessions_are_left_alone),
        T(a_late_script_leases_nothing),
        T(local_first_takes_local_ones),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
