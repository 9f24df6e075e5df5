/* test_sentinel.c - sentinel_primary and valkey.c's Sentinel mode against
 * real Sentinels: tests/sentinel/sentinel.sh starts one primary, one
 * replica and three Sentinels on loopback (run from the top of the tree, as
 * tests/run.sh does). A missing redis-server fails the tests (it is a
 * build dependency). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sentinel.h"
#include "valkey.h"

#include "redis_srv.h"

struct group {
    char dir[64];
    int base; /* primary; +1 replica; +2..+4 Sentinels */
};
static struct group g, gp; /* gp: every process requires a password */
#define GP_PASSWORD "s3cret-both"

/* Five consecutive free ports. */
static int free_base(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int p = free_port();
        if (p <= 0 || p > 65000)
            continue;
        bool ok = true;
        for (int i = 1; i < 5 && ok; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(p + i))};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok)
            return p;
    }
    return -1;
}

static int script(const struct group *x, const char *what, const char *password)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "SENTINEL_PASSWORD='%s' tests/sentinel/sentinel.sh %s %s %d",
             password ? password : "", what, x->dir, x->base);
    return system(cmd);
}

static int start(struct group *x, const char *password)
{
    snprintf(x->dir, sizeof x->dir, "/tmp/axon-sentinel-XXXXXX");
    if (!mkdtemp(x->dir) || (x->base = free_base()) <= 0)
        return -1;
    return script(x, "start", password) == 0 ? 0 : -1;
}

static int stop(struct group *x)
{
    valkey_shutdown();
    script(x, "stop", NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", x->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    return start(&g, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    return stop(&g);
}

static int password_setup(void **state)
{
    (void)state;
    return start(&gp, GP_PASSWORD);
}

static int password_teardown(void **state)
{
    (void)state;
    return stop(&gp);
}

/* An address naming Sentinels at these port offsets from base (0: a port
 * where nothing listens). host[] lives in the caller's buffer. */
static struct valkey_addr sentinels(char *master, int n, const int *offsets)
{
    struct valkey_addr a = {.mode = VALKEY_SENTINEL, .master = master, .n_seeds = n};
    for (int i = 0; i < n; i++) {
        a.seeds[i].host = (char *)"127.0.0.1";
        a.seeds[i].port = offsets[i] ? g.base + offsets[i] : free_port();
    }
    return a;
}

/* The role (master/slave) of the server at port, "" when it does not answer. */
static void role_of(int port, char *out, size_t n)
{
    out[0] = '\0';
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = c && !c->err ? redisCommand(c, "ROLE") : NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0)
        snprintf(out, n, "%s", r->element[0]->str);
    freeReplyObject(r);
    redisFree(c);
}

/* A command straight to one server, its reply's type (-1: no answer). */
static int raw(int port, const char *cmd)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = c && !c->err ? redisCommand(c, cmd) : NULL;
    int t = r ? r->type : -1;
    freeReplyObject(r);
    redisFree(c);
    return t;
}

static void names_the_primary(void **state)
{
    (void)state;
    char host[SENTINEL_HOST_MAX];
    int port = 0;
    struct valkey_addr a = sentinels((char *)"mymaster", 3, (const int[]){2, 3, 4});
    assert_int_equal(sentinel_primary(&a, 500, host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, g.base);
    assert_int_equal(a.seeds[0].port, g.base + 2); /* the first answered: order kept */
}

/* The first Sentinel is down and the second one does not know the name:
 * the third answers, and moves to the front. */
static void a_dead_sentinel_is_passed_and_the_answer_moves_first(void **state)
{
    (void)state;
    char host[SENTINEL_HOST_MAX];
    int port = 0;
    struct valkey_addr a = sentinels((char *)"mymaster", 3, (const int[]){0, 3, 4});
    int dead = a.seeds[0].port;
    assert_int_equal(sentinel_primary(&a, 500, host, sizeof host, &port), 0);
    assert_int_equal(port, g.base);
    assert_int_equal(a.seeds[0].port, g.base + 3);
    assert_int_equal(a.seeds[1].port, dead);
    assert_int_equal(a.seeds[2].port, g.base + 4);
}

static void unknown_master_or_no_sentinel_is_eio(void **state)
{
    (void)state;
    char host[SENTINEL_HOST_MAX];
    int port = 1;
    struct valkey_addr a = sentinels((char *)"nosuchmaster", 3, (const int[]){2, 3, 4});
    assert_int_equal(sentinel_primary(&a, 500, host, sizeof host, &port), AXON_EIO);
    assert_int_equal(port, 0);
    assert_non_null(strstr(sentinel_strerror(), "knows no primary nosuchmaster"));

    struct valkey_addr dead = sentinels((char *)"mymaster", 2, (const int[]){0, 0});
    assert_int_equal(sentinel_primary(&dead, 500, host, sizeof host, &port), AXON_EIO);
    assert_non_null(strstr(sentinel_strerror(), "127.0.0.1"));

    /* Not a Sentinel at all: the primary answers the SENTINEL command with
     * an error, which is no address. */
    struct valkey_addr data = sentinels((char *)"mymaster", 1, (const int[]){1});
    data.seeds[0].port = g.base;
    assert_int_equal(sentinel_primary(&data, 500, host, sizeof host, &port), AXON_EIO);

    struct valkey_addr single = {.host = (char *)"127.0.0.1", .port = g.base};
    assert_int_equal(sentinel_primary(&single, 500, host, sizeof host, &port), AXON_EINVAL);
}

/* The words of a demoted primary's refusal, from a command and from a
 * script (redis-server 7.0's, seen in this test's setup). */
static void readonly_words(void **state)
{
    (void)state;
    assert_true(sentinel_readonly("READONLY You can't write against a read only replica."));
    assert_true(sentinel_readonly("READONLY You can't write against a read only replica. "
                                  "script: ff96, on @user_script:1."));
    assert_false(sentinel_readonly("ERR unknown command"));
    assert_false(sentinel_readonly(NULL));
}

/* valkey.c in Sentinel mode: commands reach the primary; after the
 * primary is demoted by hand (no Sentinel involved, so no connection is
 * killed), the write answers READONLY, and the next call asks the
 * Sentinels again instead of reusing the connection to the replica: their
 * answer, the demoted server, is refused by ROLE (AXON_EIO), never a second
 * READONLY. Then the roles are put back and commands work again. */
static void valkey_follows_the_primary_and_readonly_asks_again(void **state)
{
    (void)state;
    struct valkey_addr a = sentinels((char *)"mymaster", 3, (const int[]){2, 3, 4});
    valkey_init(&a, 500);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:s", "one"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "ROLE"), 0);
    assert_string_equal(r->element[0]->str, "master");
    freeReplyObject(r);

    char cmd[96];
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", g.base + 1);
    assert_int_equal(raw(g.base + 1, "REPLICAOF NO ONE"), REDIS_REPLY_STATUS);
    assert_int_equal(raw(g.base, cmd), REDIS_REPLY_STATUS);
    char role[16];
    role_of(g.base, role, sizeof role);
    assert_string_equal(role, "slave");

    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:s", "two"), AXON_EREPLY);
    assert_true(sentinel_readonly(r->str));
    freeReplyObject(r);
    int rc = valkey_command(&r, "SET %s %s", "axon:t:s", "three");
    print_message("  after READONLY: rc %d (%s)\n", rc, valkey_strerror());
    assert_true(rc == AXON_EIO || rc == AXON_OK);
    if (rc == AXON_EIO)
        assert_non_null(strstr(valkey_strerror(), "is not the primary"));
    freeReplyObject(r);

    /* The roles back as the Sentinels know them. */
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", g.base);
    assert_int_equal(raw(g.base, "REPLICAOF NO ONE"), REDIS_REPLY_STATUS);
    assert_int_equal(raw(g.base + 1, cmd), REDIS_REPLY_STATUS);
    valkey_init(&a, 500); /* the breaker closed again */
    double deadline = now_ms() + 10000;
    while ((rc = valkey_command(&r, "SET %s %s", "axon:t:s", "four")) != 0 && now_ms() < deadline) {
        freeReplyObject(r);
        sleep_ms(100);
    }
    assert_int_equal(rc, 0);
    freeReplyObject(r);
}

/* A failover by the Sentinels (SENTINEL FAILOVER): the replica becomes the
 * primary, and valkey.c's next commands go there within a few seconds,
 * with what was written before. */
static void valkey_moves_after_a_failover(void **state)
{
    (void)state;
    struct valkey_addr a = sentinels((char *)"mymaster", 3, (const int[]){2, 3, 4});
    valkey_init(&a, 500);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:f", "before"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "WAIT 1 2000"), 0);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    char port_was[16];
    assert_int_equal(valkey_command(&r, "CONFIG GET port"), 0);
    snprintf(port_was, sizeof port_was, "%s", r->element[1]->str);
    freeReplyObject(r);

    assert_int_equal(raw(g.base + 2, "SENTINEL FAILOVER mymaster"), REDIS_REPLY_STATUS);
    /* The Sentinels switch within about 2 s; a process checks them every
     * SENTINEL_CHECK_MS. Without the check it stays on the old primary
     * until the Sentinels demote it, about 10 s later (sentinel.h). */
    double t0 = now_ms(), deadline = t0 + 6000;
    bool moved = false;
    while (!moved && now_ms() < deadline) {
        int rc = valkey_command(&r, "SET %s %s", "axon:t:f2", "after");
        if (getenv("SENTINEL_DEBUG"))
            print_message("  %.0f ms: rc %d %s\n", now_ms() - t0, rc, valkey_strerror());
        freeReplyObject(r);
        if (rc == 0 && valkey_command(&r, "CONFIG GET port") == 0)
            moved = strcmp(r->element[1]->str, port_was) != 0;
        freeReplyObject(r);
        if (!moved)
            sleep_ms(50);
    }
    print_message("  writes on the new primary after %.0f ms\n", now_ms() - t0);
    assert_true(moved);
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:f"), 0);
    assert_string_equal(r->str, "before");
    freeReplyObject(r);
}

/* Sentinels and data nodes that all require the password: the Sentinels
 * answer NOAUTH, are asked again after AUTH, and ROLE runs after AUTH on
 * the primary; without the password nobody answers. */
static void password_for_sentinels_and_primary(void **state)
{
    (void)state;
    char host[SENTINEL_HOST_MAX];
    int port = 0;
    struct valkey_addr a = {.mode = VALKEY_SENTINEL, .master = (char *)"mymaster", .n_seeds = 1};
    a.seeds[0].host = (char *)"127.0.0.1";
    a.seeds[0].port = gp.base + 2;
    assert_int_equal(sentinel_primary(&a, 500, host, sizeof host, &port), AXON_EIO);
    assert_non_null(strstr(sentinel_strerror(), "NOAUTH"));
    a.password = (char *)GP_PASSWORD;
    assert_int_equal(sentinel_primary(&a, 500, host, sizeof host, &port), 0);
    assert_int_equal(port, gp.base);

    valkey_init(&a, 500);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:pw", "yes"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "CONFIG GET port"), 0);
    assert_int_equal(strtol(r->element[1]->str, NULL, 10), gp.base);
    freeReplyObject(r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_the_primary),
        cmocka_unit_test(a_dead_sentinel_is_passed_and_the_answer_moves_first),
        cmocka_unit_test(unknown_master_or_no_sentinel_is_eio),
        cmocka_unit_test(readonly_words),
        cmocka_unit_test(valkey_follows_the_primary_and_readonly_asks_again),
        cmocka_unit_test(valkey_moves_after_a_failover),
        cmocka_unit_test_setup_teardown(password_for_sentinels_and_primary, password_setup,
                                        password_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
