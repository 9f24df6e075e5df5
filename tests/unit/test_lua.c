/* test_lua.c - each Lua script in src/lua/ on its own, against a real
 * redis-server started per test: the source axon embeds (build/gen/
 * axon_lua.h) sent with EVAL over a plain hiredis connection, with the KEYS
 * and ARGV its header comment documents, and the replies and the keys it
 * leaves checked against that comment. No C caller is involved: a script
 * that changes its contract fails here even if pool.c or conv.c changed
 * with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_lua.h"
#include "redis_srv.h"

/* The test's connection, made by each test from its server. */
static redisContext *conn;

static void connect_to(void **state)
{
    const struct srv *s = *state;
    struct timeval tv = {2, 0};
    conn = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    assert_non_null(conn);
    assert_int_equal(conn->err, 0);
    redisSetTimeout(conn, tv);
}

static int disconnect(void **state)
{
    redisFree(conn);
    conn = NULL;
    return teardown(state);
}

/* EVAL src with nkeys keys, then arguments, ending at NULL. Returns new
 * (freeReplyObject). */
static redisReply *eval(const char *src, int nkeys, ...)
{
    const char *argv[40];
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = src;
    argv[argc++] = nk;
    va_list ap;
    va_start(ap, nkeys);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        assert_true(argc < 40);
        argv[argc++] = a;
    }
    va_end(ap);
    redisReply *r = redisCommandArgv(conn, argc, argv, NULL);
    assert_non_null(r);
    return r;
}

/* A plain command's reply (new). */
static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(conn, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    return r;
}

static long long cmd_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(conn, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* A string reply (or nil: "") copied into out. */
static const char *cmd_str(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(conn, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_true(r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL);
    snprintf(out, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return out;
}

/* The server's clock in ms, as the scripts read it. */
static long long server_ms(void)
{
    redisReply *r = cmd("TIME");
    long long ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                   strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return ms;
}

static const char *num(char *out, size_t len, long long v)
{
    snprintf(out, len, "%lld", v);
    return out;
}

static void assert_int_reply(const redisReply *r, long long v)
{
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, v);
}

static void assert_error_reply(const redisReply *r, const char *text)
{
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, text));
}

/* ---- every script compiles -------------------------------------------------- */

static void test_all_load(void **state)
{
    connect_to(state);
    const char *all[] = {AXON_LUA_POOL_ACQUIRE, AXON_LUA_POOL_RELEASE, AXON_LUA_POOL_MORE,
                         AXON_LUA_POOL_RENEW,   AXON_LUA_POOL_STATS,   AXON_LUA_CONV_LOAD,
                         AXON_LUA_CONV_LOCK_LOAD, AXON_LUA_CONV_UNLOCK,  AXON_LUA_CONV_RELOCK,
                         AXON_LUA_CONV_APPEND,  AXON_LUA_CONV_CREATE,  AXON_LUA_CONV_DELETE,
                         AXON_LUA_CONV_ACTIVE,  AXON_LUA_THINKING_STORE};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        redisReply *r = redisCommand(conn, "SCRIPT LOAD %s", all[i]);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_STRING)
            fail_msg("script %zu does not load: %s", i, r->type == REDIS_REPLY_ERROR ? r->str : "?");
        assert_int_equal(r->len, 40);
        freeReplyObject(r);
        /* What is sent is code only: the comments stay in the .lua files. */
        assert_null(strstr(all[i], "--"));
    }
}

/* ---- the pool ------------------------------------------------------------------ */

#define P "axon:{p:t}:"
#define PRE P "s:"

/* pool_acquire.lua with holder h, token tok, size, waited flag and deadline. */
static redisReply *acquire(const char *h, const char *tok, int size, const char *waited,
                           long long deadline)
{
    char sz[24], dl[24];
    return eval(AXON_LUA_POOL_ACQUIRE, 5, P "idle", P "leases", P "waiters", P "counters", P "seq",
                PRE, num(sz, sizeof sz, size), "60000", h, tok, "5000", waited,
                num(dl, sizeof dl, deadline), NULL);
}

static long long counter(const char *name)
{
    char v[32];
    return strtoll(cmd_str(v, sizeof v, "HGET " P "counters %s", name), NULL, 10);
}

/* ZSCORE answers a string: the lease's deadline. */
static long long zscore(const char *key, const char *member)
{
    char v[32];
    return strtoll(cmd_str(v, sizeof v, "ZSCORE %s %s", key, member), NULL, 10);
}

static void test_acquire_contract(void **state)
{
    connect_to(state);
    long long t0 = server_ms();
    redisReply *r = acquire("h1", "w1", 2, "0", t0 + 60000);
    assert_int_equal(r->elements, 4);
    assert_string_equal(r->element[0]->str, "s1");
    assert_int_reply(r->element[1], 1);
    assert_int_reply(r->element[2], 0);
    long long now = r->element[3]->integer;
    assert_true(now >= t0 && now < t0 + 5000);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s1 holder"), "h1");
    assert_int_equal(zscore(P "leases", "s1"), now + 60000); /* now + lease_ms */
    assert_int_equal(cmd_int("LLEN " P "idle"), 1);         /* s2 waits, idle */
    assert_int_equal(counter("acquires"), 1);

    /* The second takes s2 (FIFO); the third finds none and waits as w3. */
    r = acquire("h2", "w2", 2, "0", t0 + 60000);
    assert_string_equal(r->element[0]->str, "s2");
    freeReplyObject(r);
    r = acquire("h3", "w3", 2, "0", t0 + 60000);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1); /* {now} */
    now = r->element[0]->integer;
    freeReplyObject(r);
    assert_int_equal(zscore(P "waiters", "w3"), now + 5000); /* now + wait_ms */
    assert_int_equal(cmd_int("ZCARD " P "leases"), 2);

    /* A waiter that gets a session ("waited" 1) leaves the waiters. */
    cmd_int("ZREM " P "leases s1");
    cmd_int("RPUSH " P "idle s1");
    r = acquire("h3", "w3", 2, "1", t0 + 60000);
    assert_string_equal(r->element[0]->str, "s1");
    freeReplyObject(r);
    assert_int_equal(cmd_int("ZCARD " P "waiters"), 0);
}

static void test_acquire_after_its_deadline_changes_nothing(void **state)
{
    connect_to(state);
    long long t0 = server_ms();
    redisReply *r = acquire("h1", "w1", 2, "0", t0 - 1);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER); /* now alone */
    assert_true(r->integer >= t0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " P "idle " P "leases " P "waiters " P "counters " P "seq"), 0);
}

static void test_acquire_reclaims_overdue_leases(void **state)
{
    connect_to(state);
    /* One session, leased by a holder that died: its deadline has passed. */
    cmd_int("HSET " PRE "s1 gen 3 turns 5 cool_until 0 holder dead");
    cmd_int("ZADD " P "leases 1 s1");
    long long t0 = server_ms();
    redisReply *r = acquire("h1", "w1", 1, "0", t0 + 60000);
    assert_int_equal(r->elements, 4);
    assert_string_equal(r->element[0]->str, "s1");
    assert_int_reply(r->element[1], 3);
    assert_int_reply(r->element[2], 5);
    freeReplyObject(r);
    assert_int_equal(counter("reclaims"), 1);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s1 holder"), "h1");
}

static void test_acquire_prefers_a_session_not_cooling(void **state)
{
    connect_to(state);
    long long t0 = server_ms();
    char until[24];
    num(until, sizeof until, t0 + 600000);
    cmd_int("HSET " PRE "s1 gen 1 turns 0 cool_until %s", until);
    cmd_int("HSET " PRE "s2 gen 1 turns 0 cool_until 0");
    cmd_int("RPUSH " P "idle s1 s2");
    redisReply *r = acquire("h1", "w1", 2, "0", t0 + 60000);
    assert_string_equal(r->element[0]->str, "s2");
    freeReplyObject(r);
    /* Only a cooling one left: it is leased all the same (the size is met). */
    r = acquire("h2", "w2", 2, "0", t0 + 60000);
    assert_string_equal(r->element[0]->str, "s1");
    freeReplyObject(r);
}

/* pool_release.lua for session id of generation gen held by h. */
static redisReply *release(const char *id, const char *gen, const char *h, const char *max_turns,
                           const char *outcome, const char *size)
{
    return eval(AXON_LUA_POOL_RELEASE, 4, P "idle", P "leases", P "counters", P "seq", PRE, id, gen,
                h, max_turns, "30000", outcome, size, NULL);
}

static void lease(const char *id, const char *gen, const char *turns, const char *h)
{
    cmd_int("HSET " PRE "%s gen %s turns %s cool_until 0 holder %s", id, gen, turns, h);
    long long deadline = server_ms() + 60000;
    cmd_int("ZADD " P "leases %lld %s", deadline, id);
}

static void test_release_contract(void **state)
{
    connect_to(state);
    lease("s1", "1", "0", "h1");
    /* Not the holder (or not the generation): stale, nothing changes. */
    redisReply *r = release("s1", "1", "other", "10", "0", "4");
    assert_int_equal(r->elements, 2);
    assert_int_reply(r->element[0], 0);
    assert_int_reply(r->element[1], 0);
    freeReplyObject(r);
    r = release("s1", "2", "h1", "10", "0", "4");
    assert_int_reply(r->element[0], 0);
    freeReplyObject(r);
    assert_int_equal(counter("stale_releases"), 2);
    assert_int_equal(cmd_int("ZCARD " P "leases"), 1);

    /* Done: back to idle, one turn more, no holder. */
    r = release("s1", "1", "h1", "10", "0", "4");
    assert_int_reply(r->element[0], 1);
    assert_int_reply(r->element[1], 0);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s1 turns"), "1");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s1 holder"), "");
    assert_string_equal(cmd_str(v, sizeof v, "LINDEX " P "idle -1"), "s1");
    assert_int_equal(cmd_int("ZCARD " P "leases"), 0);
    assert_int_equal(counter("releases"), 1);
}

static void test_release_recycles_cools_and_retires(void **state)
{
    connect_to(state);
    /* max_turns reached: a new session (gen + 1) takes its place. */
    freeReplyObject(cmd("SET " P "seq 7"));
    lease("s1", "4", "9", "h1");
    redisReply *r = release("s1", "4", "h1", "10", "0", "4");
    assert_int_reply(r->element[0], 1);
    assert_int_reply(r->element[1], 1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " PRE "s1"), 0);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s8 gen"), "5");
    assert_string_equal(cmd_str(v, sizeof v, "LINDEX " P "idle -1"), "s8");
    assert_int_equal(counter("recycles"), 1);

    /* Refused (outcome 1): it cools down for cooldown_ms. */
    lease("s2", "1", "0", "h2");
    r = release("s2", "1", "h2", "10", "1", "4");
    assert_int_reply(r->element[0], 1);
    freeReplyObject(r);
    long long until = strtoll(cmd_str(v, sizeof v, "HGET " PRE "s2 cool_until"), NULL, 10);
    long long now = server_ms();
    assert_true(until > now + 25000 && until <= now + 30000);

    /* More sessions than the size (2 idle already, size 2): retired. */
    lease("s3", "1", "0", "h3");
    r = release("s3", "1", "h3", "10", "0", "2");
    assert_int_reply(r->element[0], 2);
    assert_int_reply(r->element[1], 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " PRE "s3"), 0);
    assert_int_equal(counter("retired"), 1);
}

static void test_more_contract(void **state)
{
    connect_to(state);
    long long t0 = server_ms();
    char until[24], na[24];
    num(until, sizeof until, t0 + 600000);
    cmd_int("HSET " PRE "s1 gen 2 turns 3 cool_until 0");
    cmd_int("HSET " PRE "s2 gen 1 turns 0 cool_until %s", until); /* cooling: not taken */
    cmd_int("HSET " PRE "s3 gen 1 turns 1 cool_until 0");
    cmd_int("RPUSH " P "idle s1 s2 s3");
    /* Three wanted, two healthy: {now, s1, 2, 3, s3, 1, 1}. */
    redisReply *r = eval(AXON_LUA_POOL_MORE, 3, P "idle", P "leases", P "counters", PRE, "60000",
                         num(na, sizeof na, t0 + 60000), "ha", "hb", "hc", NULL);
    assert_int_equal(r->elements, 7);
    long long now = r->element[0]->integer;
    assert_string_equal(r->element[1]->str, "s1");
    assert_int_reply(r->element[2], 2);
    assert_int_reply(r->element[3], 3);
    assert_string_equal(r->element[4]->str, "s3");
    assert_int_reply(r->element[5], 1);
    assert_int_reply(r->element[6], 1);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s1 holder"), "ha");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " PRE "s3 holder"), "hb");
    assert_int_equal(zscore(P "leases", "s3"), now + 60000);
    assert_int_equal(cmd_int("LLEN " P "idle"), 1);
    assert_int_equal(counter("acquires"), 2);

    /* Past not_after: {now} and nothing leased. */
    cmd_int("HSET " PRE "s2 cool_until 0");
    r = eval(AXON_LUA_POOL_MORE, 3, P "idle", P "leases", P "counters", PRE, "60000",
             num(na, sizeof na, t0 - 1), "hd", NULL);
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("LLEN " P "idle"), 1);
}

static void test_renew_contract(void **state)
{
    connect_to(state);
    cmd_int("HSET " PRE "s1 gen 1 turns 0 holder h1");
    cmd_int("ZADD " P "leases 5 s1");
    redisReply *r = eval(AXON_LUA_POOL_RENEW, 1, P "leases", PRE, "s1", "h1", "60000", NULL);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long now = r->integer;
    assert_true(now > 0);
    freeReplyObject(r);
    assert_int_equal(zscore(P "leases", "s1"), now + 60000);
    /* Another holder, or a lease reclaimed meanwhile: 0, nothing moves. */
    r = eval(AXON_LUA_POOL_RENEW, 1, P "leases", PRE, "s1", "h2", "1", NULL);
    assert_int_reply(r, 0);
    freeReplyObject(r);
    cmd_int("ZREM " P "leases s1");
    r = eval(AXON_LUA_POOL_RENEW, 1, P "leases", PRE, "s1", "h1", "1", NULL);
    assert_int_reply(r, 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("ZCARD " P "leases"), 0);
}

static void test_stats_contract(void **state)
{
    connect_to(state);
    long long t0 = server_ms();
    char until[24];
    num(until, sizeof until, t0 + 600000);
    cmd_int("HSET " PRE "s1 gen 1 turns 0 cool_until %s", until);
    cmd_int("HSET " PRE "s2 gen 1 turns 0 cool_until 0");
    cmd_int("RPUSH " P "idle s1 s2");
    cmd_int("HSET " PRE "s3 gen 1 turns 0 holder live");
    cmd_int("ZADD " P "leases %lld s3", t0 + 600000);
    cmd_int("HSET " PRE "s4 gen 1 turns 0 holder dead");
    cmd_int("ZADD " P "leases 1 s4");
    cmd_int("ZADD " P "waiters %lld w1", t0 + 600000);
    cmd_int("ZADD " P "waiters 1 gone");
    cmd_int("HSET " P "counters acquires 9 timeouts 2");
    redisReply *r = eval(AXON_LUA_POOL_STATS, 4, P "idle", P "leases", P "waiters", P "counters",
                         PRE, NULL);
    /* idle (s4 reclaimed), busy, waiting (live ones), cooling, then
     * acquires, releases, recycles, reclaims, timeouts, stale, retired. */
    const long long want[] = {3, 1, 1, 1, 9, 0, 0, 1, 2, 0, 0};
    assert_int_equal(r->elements, sizeof want / sizeof *want);
    for (size_t i = 0; i < r->elements; i++)
        assert_int_reply(r->element[i], want[i]);
    freeReplyObject(r);
}

/* ---- conversations ------------------------------------------------------------- */

#define MK "axon:{c:x}:meta"
#define LK "axon:{c:x}:msgs"
#define TK "axon:{c:x}:turn"

/* conv_lock_load.lua for tenant ten with token tok, the whole-read bytes,
 * the positions to read, the deadline, and the key that must exist (NULL:
 * none). */
static redisReply *lock_load(const char *ten, const char *tok, const char *whole,
                             const char *upto, long long deadline, const char *need)
{
    char dl[24];
    num(dl, sizeof dl, deadline);
    if (need)
        return eval(AXON_LUA_CONV_LOCK_LOAD, 4, MK, LK, TK, need, ten, tok, "60000", dl, whole,
                    upto, NULL);
    return eval(AXON_LUA_CONV_LOCK_LOAD, 3, MK, LK, TK, ten, tok, "60000", dl, whole, upto, NULL);
}

static void test_lock_load_unlock_relock(void **state)
{
    connect_to(state);
    /* Missing: {-1, now}, and no lock. */
    redisReply *r = lock_load("t", "tok0", "100", "-1", 0, NULL);
    assert_int_equal(r->elements, 2);
    assert_int_reply(r->element[0], -1);
    assert_true(r->element[1]->integer > 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);
    cmd_int("HSET " MK " owner t bytes 10 message_count 2");
    cmd_int("RPUSH " LK " {\"a\":1} {}");
    /* Another tenant's: not found, and not locked. */
    r = lock_load("other", "tok0", "100", "-1", 0, NULL);
    assert_int_reply(r->element[0], -1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);
    /* Taken, with the meta (a flat list) and the messages in one reply. */
    r = lock_load("t", "tok1", "10", "-1", 0, NULL);
    assert_int_equal(r->elements, 3);
    assert_int_reply(r->element[0], 1);
    assert_true(r->element[1]->integer > 0);
    assert_int_equal(r->element[2]->element[0]->elements, 6);
    assert_int_equal(r->element[2]->element[1]->elements, 2);
    assert_string_equal(r->element[2]->element[1]->element[0]->str, "{\"a\":1}");
    freeReplyObject(r);
    assert_true(cmd_int("PTTL " TK) > 59000);
    /* Held: {0, now}, nothing read, the holder's token stays. */
    r = lock_load("t", "tok2", "10", "-1", 0, NULL);
    assert_int_equal(r->elements, 2);
    assert_int_reply(r->element[0], 0);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "GET " TK), "tok1");

    /* Only the holder's token renews or releases. */
    r = eval(AXON_LUA_CONV_RELOCK, 1, TK, "tok2", "1", NULL);
    assert_int_reply(r, 0);
    freeReplyObject(r);
    r = eval(AXON_LUA_CONV_RELOCK, 1, TK, "tok1", "120000", NULL);
    assert_int_reply(r, 1);
    freeReplyObject(r);
    assert_true(cmd_int("PTTL " TK) > 119000);
    r = eval(AXON_LUA_CONV_UNLOCK, 1, TK, "tok2", NULL);
    assert_int_reply(r, 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 1);
    r = eval(AXON_LUA_CONV_UNLOCK, 1, TK, "tok1", NULL);
    assert_int_reply(r, 1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);

    /* Over the whole-read bytes: the meta and a nil (read in parts, after
     * the lock); the first positions only; a needed key missing. */
    r = lock_load("t", "tok4", "9", "-1", 0, NULL);
    assert_int_reply(r->element[0], 1);
    assert_int_equal(r->element[2]->element[0]->elements, 6);
    assert_int_equal(r->element[2]->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    cmd_int("DEL " TK);
    r = lock_load("t", "tok5", "10", "1", 0, NULL);
    assert_int_equal(r->element[2]->element[1]->elements, 1);
    freeReplyObject(r);
    cmd_int("DEL " TK);
    r = lock_load("t", "tok6", "10", "-1", 0, "axon:{c:x}:r:1");
    assert_int_reply(r->element[0], -1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);

    /* Past its deadline: {-3, now}, and no lock. */
    r = lock_load("t", "tok3", "10", "-1", server_ms() - 1, NULL);
    assert_int_reply(r->element[0], -3);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);
}

/* conv_append.lua: tenant t, create flag, caps, n messages of which
 * nclient the client's, the deadline, the joined list, and a lock token
 * when lock is set. */
static redisReply *append(const char *create, const char *max_msgs, const char *max_bytes,
                          const char *n, const char *nclient, long long deadline,
                          const char *blob, const char *lock)
{
    char dl[24];
    num(dl, sizeof dl, deadline);
    if (lock)
        return eval(AXON_LUA_CONV_APPEND, 3, MK, LK, TK, "t", "m1", create, "3600", max_msgs,
                    max_bytes, n, nclient, dl, blob, lock, NULL);
    return eval(AXON_LUA_CONV_APPEND, 2, MK, LK, "t", "m1", create, "3600", max_msgs, max_bytes,
                n, nclient, dl, blob, NULL);
}

static void test_append_contract(void **state)
{
    connect_to(state);
    long long later = server_ms() + 60000;
    /* Creating: the time in ms, the meta, the list, the TTLs. */
    redisReply *r = append("1", "100", "1000", "2", "1", later, "{\"a\":1}\n{\"b\":22}", NULL);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long now_ms = r->integer;
    assert_true(now_ms > 0);
    freeReplyObject(r);
    char v[64];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " owner"), "t");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " model"), "m1");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " message_count"), "2");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " bytes"), "15"); /* the blob less its \n */
    assert_int_equal(strtoll(cmd_str(v, sizeof v, "HGET " MK " created"), NULL, 10), now_ms / 1000);
    assert_string_equal(cmd_str(v, sizeof v, "LINDEX " LK " 1"), "{\"b\":22}");
    assert_true(cmd_int("TTL " MK) > 3500 && cmd_int("TTL " LK) > 3500);

    /* Creating again, or another tenant's: -1, nothing written. */
    r = append("1", "100", "1000", "1", "1", later, "{}", NULL);
    assert_int_reply(r, -1);
    freeReplyObject(r);
    r = eval(AXON_LUA_CONV_APPEND, 2, MK, LK, "other", "m1", "0", "3600", "100", "1000", "1", "1",
             num(v, sizeof v, later), "{}", NULL);
    assert_int_reply(r, -1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("LLEN " LK), 2);

    /* Over the message cap, or the client's bytes over the byte cap: -2. */
    r = append("0", "3", "1000", "2", "1", later, "{}\n{}", NULL);
    assert_int_reply(r, -2);
    freeReplyObject(r);
    r = append("0", "100", "20", "2", "1", later, "{\"cc\":1}\n{}", NULL); /* 15 + 8 > 20 */
    assert_int_reply(r, -2);
    freeReplyObject(r);
    /* ... but the answer's bytes do not count against it. */
    r = append("0", "100", "20", "2", "1", later, "{}\n{\"long answer\":1}", NULL);
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int("LLEN " LK), 4);

    /* Past the deadline: -3. */
    r = append("0", "100", "1000", "1", "1", server_ms() - 1, "{}", NULL);
    assert_int_reply(r, -3);
    freeReplyObject(r);

    /* A turn lock that is not this turn's: -4. */
    freeReplyObject(cmd("SET " TK " theirs"));
    r = append("0", "100", "1000", "1", "1", later, "{}", "mine");
    assert_int_reply(r, -4);
    freeReplyObject(r);
    assert_string_equal(cmd_str(v, sizeof v, "GET " TK), "theirs"); /* not ours to free */
    r = append("0", "100", "1000", "1", "1", later, "{}", "theirs");
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
    freeReplyObject(r);
    /* Stored with its lock: the lock is given back by the store itself. */
    assert_int_equal(cmd_int("EXISTS " TK), 0);
    /* Not stored, over a cap: given back too. */
    freeReplyObject(cmd("SET " TK " again"));
    r = append("0", "1", "1000", "1", "1", later, "{}", "again");
    assert_int_reply(r, -2);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 0);
    /* Past the deadline: nothing written, the lock left to the caller. */
    freeReplyObject(cmd("SET " TK " late"));
    r = append("0", "100", "1000", "1", "1", server_ms() - 1, "{}", "late");
    assert_int_reply(r, -3);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " TK), 1);
    cmd_int("DEL " TK);

    /* A list that does not split into n: its error reply. */
    r = append("0", "100", "1000", "3", "1", later, "{}\n{}", NULL);
    assert_error_reply(r, "AXON bad message list");
    freeReplyObject(r);
    assert_int_equal(cmd_int("LLEN " LK), 5);
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " message_count"), "5");
}

static void test_create_contract(void **state)
{
    connect_to(state);
    char dl[24];
    num(dl, sizeof dl, server_ms() + 60000);
    redisReply *r = eval(AXON_LUA_CONV_CREATE, 2, MK, LK, "t", "m1", "3600", "9", dl, "{\"a\":1}",
                         "{}", NULL);
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " message_count"), "2");
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " bytes"), "9"); /* as given */
    assert_string_equal(cmd_str(v, sizeof v, "HGET " MK " owner"), "t");
    assert_int_equal(cmd_int("LLEN " LK), 2);
    assert_true(cmd_int("TTL " LK) > 3500);
    r = eval(AXON_LUA_CONV_CREATE, 2, MK, LK, "t", "m1", "3600", "2", dl, "{}", NULL);
    assert_int_reply(r, -1); /* the id exists */
    freeReplyObject(r);
    cmd_int("DEL " MK " " LK);
    r = eval(AXON_LUA_CONV_CREATE, 2, MK, LK, "t", "m1", "3600", "2",
             num(dl, sizeof dl, server_ms() - 1), "{}", NULL);
    assert_int_reply(r, -3);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " MK " " LK), 0);
}

static void test_load_contract(void **state)
{
    connect_to(state);
    /* Missing: {{}, {}}. */
    redisReply *r = eval(AXON_LUA_CONV_LOAD, 2, MK, LK, "100", NULL);
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[0]->elements, 0);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[1]->elements, 0);
    freeReplyObject(r);
    cmd_int("HSET " MK " owner t bytes 10 message_count 2");
    cmd_int("RPUSH " LK " {\"a\":1} {}");
    /* Within the bytes: the meta (a flat list) and the messages. */
    r = eval(AXON_LUA_CONV_LOAD, 2, MK, LK, "10", NULL);
    assert_int_equal(r->element[0]->elements, 6);
    assert_int_equal(r->element[1]->elements, 2);
    assert_string_equal(r->element[1]->element[0]->str, "{\"a\":1}");
    freeReplyObject(r);
    /* Over them: the meta and a nil, to be read in parts. */
    r = eval(AXON_LUA_CONV_LOAD, 2, MK, LK, "9", NULL);
    assert_int_equal(r->element[0]->elements, 6);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
}

static void test_delete_and_active(void **state)
{
    connect_to(state);
    cmd_int("HSET " MK " owner t");
    cmd_int("RPUSH " LK " {}");
    redisReply *r = eval(AXON_LUA_CONV_DELETE, 2, MK, LK, "other", NULL);
    assert_int_reply(r, 0); /* not the tenant's: nothing changes */
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " MK " " LK), 2);
    r = eval(AXON_LUA_CONV_DELETE, 2, MK, LK, "t", NULL);
    assert_int_reply(r, 1);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS " MK " " LK), 0);
    r = eval(AXON_LUA_CONV_DELETE, 2, MK, LK, "t", NULL);
    assert_int_reply(r, 0); /* missing */
    freeReplyObject(r);

    long long now = server_ms();
    cmd_int("ZADD axon:{g}:active %lld a %lld b 1 c", now + 60000, now + 120000);
    r = eval(AXON_LUA_CONV_ACTIVE, 1, "axon:{g}:active", NULL);
    assert_int_reply(r, 2); /* c expired */
    freeReplyObject(r);
    /* ... and the read trimmed it: the stores seldom do (conv.h). */
    assert_int_equal(cmd_int("ZCARD axon:{g}:active"), 2);
}

/* ---- thinking ------------------------------------------------------------------ */

static void test_thinking_store_contract(void **state)
{
    connect_to(state);
    /* Two answers: the first under two ids, the second under one. */
    redisReply *r = eval(AXON_LUA_THINKING_STORE, 3, "k1", "k2", "k3", "600", "2", "[blob-a]", "1",
                         "[blob-b]", NULL);
    assert_int_reply(r, 3);
    freeReplyObject(r);
    char v[32];
    assert_string_equal(cmd_str(v, sizeof v, "GET k1"), "[blob-a]");
    assert_string_equal(cmd_str(v, sizeof v, "GET k2"), "[blob-a]");
    assert_string_equal(cmd_str(v, sizeof v, "GET k3"), "[blob-b]");
    long long ttl = cmd_int("TTL k3");
    assert_true(ttl > 590 && ttl <= 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_load, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_acquire_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_acquire_after_its_deadline_changes_nothing, setup_plain,
                                        disconnect),
        cmocka_unit_test_setup_teardown(test_acquire_reclaims_overdue_leases, setup_plain,
                                        disconnect),
        cmocka_unit_test_setup_teardown(test_acquire_prefers_a_session_not_cooling, setup_plain,
                                        disconnect),
        cmocka_unit_test_setup_teardown(test_release_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_release_recycles_cools_and_retires, setup_plain,
                                        disconnect),
        cmocka_unit_test_setup_teardown(test_more_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_renew_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_stats_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_lock_load_unlock_relock, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_append_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_create_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_load_contract, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_delete_and_active, setup_plain, disconnect),
        cmocka_unit_test_setup_teardown(test_thinking_store_contract, setup_plain, disconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
