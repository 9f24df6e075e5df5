/* test_valkey_cluster.c - the valkey module in cluster mode against a real
 * local cluster (tests/cluster/cluster.sh: 3 primaries, 3 replicas on
 * loopback): commands routed to their slot's primary, a pipeline spanning
 * the three primaries in one round trip, MOVED after a slot moved, ASK
 * during a migration, NOSCRIPT per node, WAIT for replicas, and a primary
 * SIGKILLed and failed over (calls fail fast meanwhile, then work).
 * A missing redis-server fails the tests (it is a build dependency). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "acct.h"
#include "config.h"
#include "conv.h"
#include "log.h"
#include "valkey.h"
#include "vcluster.h"

static char g_dir[64];
static int g_base;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Six ports and their cluster-bus ports (+10000) free. */
static int pick_base(void)
{
    for (int tries = 0; tries < 200; tries++) {
        int base = 12000 + (int)((unsigned)(getpid() * 7 + tries * 37) % 8000);
        bool ok = true;
        for (int i = 0; i < 6 && ok; i++)
            ok = port_free(base + i) && port_free(base + i + 10000);
        if (ok)
            return base;
    }
    return -1;
}

static int cluster(const char *what)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/cluster/cluster.sh %s %s %d", what, g_dir, g_base);
    return system(cmd);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/axon-vcluster-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    g_base = pick_base();
    if (g_base < 0 || cluster("start") != 0) {
        print_error("the test cluster did not start (tests/cluster/cluster.sh)\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    valkey_shutdown();
    (void)cluster("stop");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* valkey_init on the cluster, seeded with node i only. */
static void use_cluster(int seed, int timeout_ms)
{
    struct valkey_addr a = {.mode = VALKEY_CLUSTER, .n_seeds = 1};
    char host[] = "127.0.0.1";
    a.seeds[0].host = host;
    a.seeds[0].port = g_base + seed;
    valkey_init(&a, timeout_ms);
}

/* A direct connection to node i (not through the module). */
static redisContext *node(int i)
{
    redisContext *c = redisConnect("127.0.0.1", g_base + i);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* The port of the primary serving key's slot, asked of node 0. */
static int owner_port(const char *key)
{
    redisContext *c = node(0);
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    assert_non_null(r);
    struct vcluster_map *m = malloc(sizeof *m);
    assert_int_equal(vcluster_map_parse(m, r, "127.0.0.1"), 0);
    int port = vcluster_map_owner(m, vcluster_key_slot(key, strlen(key)))->port;
    free(m);
    freeReplyObject(r);
    redisFree(c);
    return port;
}

static void node_id(int port, char id[41])
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r = redisCommand(c, "CLUSTER MYID");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(id, 41, "%s", r->str);
    freeReplyObject(r);
    redisFree(c);
}

/* Does the node at port hold key (asked directly)? */
static bool holds(int port, const char *key)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(c, "ASKING")); /* a slot being imported */
    redisReply *r = redisCommand(c, "EXISTS %s", key);
    bool yes = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    redisFree(c);
    return yes;
}

static void routed_to_the_slots_primary(void **state)
{
    (void)state;
    use_cluster(4, 1000); /* a replica as the seed: it knows the map too */
    int seen[3] = {0};
    for (int i = 0; i < 30; i++) {
        char key[64];
        snprintf(key, sizeof key, "axon:{c:route%d}:meta", i);
        redisReply *r;
        assert_int_equal(valkey_command(&r, "SET %s %d", key, i), 0);
        freeReplyObject(r);
        int port = owner_port(key);
        assert_true(holds(port, key));
        assert_true(port >= g_base && port < g_base + 3);
        seen[port - g_base]++;
        assert_int_equal(valkey_command(&r, "GET %s", key), 0);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(atoi(r->str), i);
        freeReplyObject(r);
    }
    /* Thirty tags land on all three primaries. */
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    /* Keyless commands go to any node. */
    long long ms;
    assert_int_equal(valkey_server_time_ms(&ms), 0);
    assert_true(ms > 0);
    struct valkey_cluster_counts n;
    valkey_cluster_counts(&n);
    assert_int_equal(n.moved, 0);
    assert_true(n.refreshes >= 1);
}

static struct valkey_script incr_script = {
    .src = "return redis.call('INCRBY', KEYS[1], ARGV[1])"};

static void scripts_load_on_each_node(void **state)
{
    (void)state;
    use_cluster(0, 1000);
    /* Three keys on three primaries: the script is loaded where it runs
     * (NOSCRIPT on a node that never saw it). */
    const char *keys[] = {"axon:{c:s1}:n", "axon:{c:s2}:n", "axon:{c:s3}:n"};
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(owner_port(keys[0]) == owner_port(keys[1]) &&
                                 owner_port(keys[1]) == owner_port(keys[2]),
                             1);
        redisReply *r;
        const char *args[] = {"5"};
        assert_int_equal(valkey_eval(&incr_script, &r, 1, &keys[i], 1, args, NULL), 0);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->integer, 5);
        freeReplyObject(r);
    }
}

static void pipeline_spanning_three_primaries(void **state)
{
    (void)state;
    use_cluster(1, 1000);
    /* Find keys on each primary. */
    char k[3][64];
    int found = 0;
    for (int i = 0; found < 3 && i < 200; i++) {
        char key[64];
        snprintf(key, sizeof key, "axon:{c:pl%d}:v", i);
        int p = owner_port(key) - g_base;
        if (p == found) {
            memcpy(k[found], key, sizeof key);
            found++;
        }
    }
    assert_int_equal(found, 3);
    /* Interleaved: node 0, 1, 2, 0, 1, 2 - and a script on one of them. */
    const char *s0[] = {"SET", k[0], "a"}, *s1[] = {"SET", k[1], "b"}, *s2[] = {"SET", k[2], "c"};
    const char *g0[] = {"GET", k[0]}, *g1[] = {"APPEND", k[1], "!"}, *g2[] = {"GET", k[2]};
    char ik[80];
    snprintf(ik, sizeof ik, "%s:n", k[2]);
    const char *inc[] = {ik, "7"};
    struct valkey_batch b = {0};
    const struct valkey_cmd cmds[] = {
        {.argc = 3, .argv = s0}, {.argc = 3, .argv = s1}, {.argc = 3, .argv = s2},
        {.argc = 2, .argv = g0}, {.argc = 3, .argv = g1}, {.argc = 2, .argv = g2},
        {.argc = 2, .argv = inc, .script = &incr_script, .nkeys = 1},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        assert_int_equal(valkey_batch_add(&b, cmds[i]), (int)i);
    /* The first run reads the map, connects, loads the script where it
     * runs; the second is one round trip in time, counted once. */
    assert_int_equal(valkey_batch_run(&b), 0);
    valkey_batch_free(&b);
    b.n = (int)(sizeof cmds / sizeof *cmds);
    unsigned long before = valkey_round_trips();
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_int_equal(valkey_round_trips() - before, 1);
    assert_string_equal(b.rep[3]->str, "a");
    assert_int_equal(b.rep[4]->integer, 2); /* "b!" */
    assert_string_equal(b.rep[5]->str, "c");
    assert_int_equal(b.rep[6]->integer, 14);
    valkey_batch_free(&b);
}

/* Moves slot from the node at src to the node at dst, its keys with it
 * (the manual resharding the spec describes). */
static void move_slot(int slot, int src, int dst, bool finish)
{
    char sid[41], did[41];
    node_id(src, sid);
    node_id(dst, did);
    redisContext *s = redisConnect("127.0.0.1", src), *d = redisConnect("127.0.0.1", dst);
    redisReply *r = redisCommand(d, "CLUSTER SETSLOT %d IMPORTING %s", slot, sid);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(s, "CLUSTER SETSLOT %d MIGRATING %s", slot, did);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    if (finish) {
        r = redisCommand(s, "CLUSTER GETKEYSINSLOT %d 100", slot);
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *m = redisCommand(s, "MIGRATE 127.0.0.1 %d %s 0 5000", dst,
                                         r->element[i]->str);
            assert_int_equal(m->type, REDIS_REPLY_STATUS);
            freeReplyObject(m);
        }
        freeReplyObject(r);
        for (int i = 0; i < 3; i++) {
            redisContext *n = node(i);
            r = redisCommand(n, "CLUSTER SETSLOT %d NODE %s", slot, did);
            freeReplyObject(r);
            redisFree(n);
        }
    }
    redisFree(s);
    redisFree(d);
}

static void moved_after_a_slot_moved(void **state)
{
    (void)state;
    use_cluster(0, 1000);
    const char *key = "axon:{c:moving}:meta";
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s here", key), 0);
    freeReplyObject(r);
    int src = owner_port(key);
    int dst = src == g_base ? g_base + 1 : g_base;
    struct valkey_cluster_counts n0, n1, n2;
    valkey_cluster_counts(&n0);
    move_slot(vcluster_key_slot(key, strlen(key)), src, dst, true);
    assert_true(holds(dst, key));
    /* The module's map still says src: MOVED, followed, the value read. */
    assert_int_equal(valkey_command(&r, "GET %s", key), 0);
    assert_string_equal(r->str, "here");
    freeReplyObject(r);
    valkey_cluster_counts(&n1);
    assert_int_equal(n1.moved, n0.moved + 1);
    /* The map learnt it: no second MOVED. */
    assert_int_equal(valkey_command(&r, "GET %s", key), 0);
    assert_string_equal(r->str, "here");
    freeReplyObject(r);
    valkey_cluster_counts(&n2);
    assert_int_equal(n2.moved, n1.moved);
    /* A pipeline that meets the same redirection is answered too. */
    use_cluster(0, 1000);
    const char *get[] = {"GET", key};
    struct valkey_batch b = {0};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = get}), 0);
    assert_int_equal(valkey_command(&r, "GET %s", "axon:{c:warm}:x"), 0); /* map read */
    freeReplyObject(r);
    move_slot(vcluster_key_slot(key, strlen(key)), dst, src, true);
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_string_equal(b.rep[0]->str, "here");
    valkey_batch_free(&b);
}

static void ask_during_a_migration(void **state)
{
    (void)state;
    use_cluster(0, 1000);
    const char *k1 = "axon:{c:asking}:one", *k2 = "axon:{c:asking}:two";
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s 1", k1), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "SET %s 2", k2), 0);
    freeReplyObject(r);
    int slot = vcluster_key_slot(k1, strlen(k1));
    int src = owner_port(k1);
    int dst = src == g_base + 2 ? g_base + 1 : g_base + 2;
    move_slot(slot, src, dst, false);
    /* One key migrated by hand: asked for, src answers ASK. */
    redisContext *s = redisConnect("127.0.0.1", src);
    r = redisCommand(s, "MIGRATE 127.0.0.1 %d %s 0 5000", dst, k1);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    struct valkey_cluster_counts n0, n1;
    valkey_cluster_counts(&n0);
    assert_int_equal(valkey_command(&r, "GET %s", k1), 0);
    assert_string_equal(r->str, "1");
    freeReplyObject(r);
    /* The key still on src is served by src, no redirection. */
    assert_int_equal(valkey_command(&r, "GET %s", k2), 0);
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    valkey_cluster_counts(&n1);
    assert_int_equal(n1.ask, n0.ask + 1);
    assert_int_equal(n1.moved, n0.moved);
    /* ASK leaves the map alone: asked again, ASK again; a script too
     * (loaded on dst if it never ran there). */
    const char *args[] = {"10"};
    assert_int_equal(valkey_eval(&incr_script, &r, 1, &k1, 1, args, NULL), 0);
    assert_int_equal(r->integer, 11);
    freeReplyObject(r);
    valkey_cluster_counts(&n1);
    assert_int_equal(n1.ask, n0.ask + 2);
    assert_true(holds(dst, k1));
    /* A multi-key command over both keys, half migrated: TRYAGAIN, then
     * it works once the migration ends. Finish it now. */
    r = redisCommand(s, "MIGRATE 127.0.0.1 %d %s 0 5000", dst, k2);
    freeReplyObject(r);
    char did[41];
    node_id(dst, did);
    for (int i = 0; i < 3; i++) {
        redisContext *n = node(i);
        r = redisCommand(n, "CLUSTER SETSLOT %d NODE %s", slot, did);
        freeReplyObject(r);
        redisFree(n);
    }
    redisFree(s);
    assert_int_equal(valkey_command(&r, "MGET %s %s", k1, k2), 0);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "11");
    assert_string_equal(r->element[1]->str, "2");
    freeReplyObject(r);
}

static void wait_for_replicas(void **state)
{
    (void)state;
    use_cluster(0, 200);
    const char *s0[] = {"SET", "axon:{c:dur}:meta", "x"};
    const char *s1[] = {"SET", "axon:{k:dur}:convs", "y"};
    struct valkey_batch b = {0};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = s0}), 0);
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = s1}), 1);
    /* Each primary has one replica: WAIT 1 is met. */
    b.durable = 1;
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_true(valkey_batch_acked(&b, 0));
    assert_true(valkey_batch_acked(&b, 1));
    valkey_batch_free(&b);
    /* WAIT 2 cannot be: both writes done, neither acknowledged, after
     * WAIT's timeout (200 ms here), not forever. */
    b.n = 0;
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = s0}), 0);
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = s1}), 1);
    b.durable = 2;
    double t0 = mono_ms();
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_true(mono_ms() - t0 < 1500);
    assert_false(valkey_batch_acked(&b, 0));
    assert_false(valkey_batch_acked(&b, 1));
    valkey_batch_free(&b);
    /* Not durable: no WAIT, nothing unacknowledged. */
    b.n = 0;
    b.durable = 0;
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = s0}), 0);
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_true(valkey_batch_acked(&b, 0));
    valkey_batch_free(&b);
}

/* A turn stored through conv.c with AXON_VALKEY_WAIT_REPLICAS = replicas. */
static int store_turn(int replicas, char *id)
{
    struct axon_config *c = calloc(1, sizeof *c);
    config_defaults(c);
    c->valkey_timeout_ms = 500; /* the store deadline, on a loaded machine */
    c->valkey_wait_replicas = replicas;
    conv_new_id(id, true);
    json_object *cm = json_tokener_parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
    json_object *a = json_tokener_parse("{\"role\":\"assistant\",\"content\":\"ok\"}");
    int rc = conv_append(c, id, "0123abcd", "gpt-4o", cm, a, true);
    json_object_put(cm);
    json_object_put(a);
    config_free(c);
    free(c);
    return rc;
}

static void a_store_fewer_replicas_confirmed_is_not_stored(void **state)
{
    (void)state;
    use_cluster(0, 200);
    char id[CONV_ID_MAX + 1];
    /* One replica per primary: WAIT 1 is met, the turn is stored. */
    assert_int_equal(store_turn(1, id), 0);
    /* WAIT 2 cannot be met: written, but reported not stored (AXON_EIO,
     * which the pipeline answers as X-Axon-Conversation-Stored: false). */
    assert_int_equal(store_turn(2, id), AXON_EIO);
    assert_int_equal(store_turn(0, id), 0);
}

static int role_port(int want_primary_of)
{
    /* The replica following the primary at want_primary_of. */
    char id[41];
    node_id(want_primary_of, id);
    for (int i = 0; i < 6; i++) {
        redisContext *c = node(i);
        redisReply *r = redisCommand(c, "INFO replication");
        char needle[32];
        snprintf(needle, sizeof needle, "master_port:%d", want_primary_of);
        bool is = r && r->type == REDIS_REPLY_STRING && strstr(r->str, needle) != NULL;
        freeReplyObject(r);
        redisFree(c);
        if (is)
            return g_base + i;
    }
    return -1;
}

static void primary_killed_and_failed_over(void **state)
{
    (void)state;
    use_cluster(0, 100);
    const char *key = "axon:{c:failover}:meta";
    int victim = owner_port(key);
    int replica = role_port(victim);
    assert_true(replica > 0);
    redisReply *r;
    /* Acknowledged by the replica before the kill (what WAIT is for). */
    const char *set[] = {"SET", key, "kept"};
    struct valkey_batch b = {.durable = 1};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = set}), 0);
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_true(valkey_batch_acked(&b, 0));
    valkey_batch_free(&b);
    char pidf[128];
    snprintf(pidf, sizeof pidf, "%s/%d/pid", g_dir, victim);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    assert_int_equal(kill(pid, SIGKILL), 0);
    /* Until the replica takes over, calls fail at once (the port refuses,
     * the breaker opens); they never hang. Then the value is there. */
    double t0 = mono_ms(), slowest = 0;
    bool ok = false;
    while (!ok && mono_ms() - t0 < 15000) {
        double c0 = mono_ms();
        int rc = valkey_command(&r, "GET %s", key);
        double took = mono_ms() - c0;
        if (took > slowest)
            slowest = took;
        ok = rc == 0 && r->type == REDIS_REPLY_STRING && strcmp(r->str, "kept") == 0;
        freeReplyObject(r);
        if (!ok) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(ok);
    /* Each call: a refused connect or a map read from the live nodes, each
     * bounded by the 100 ms timeout. */
    assert_true(slowest < 1000);
    assert_int_equal(owner_port(key), replica);
}

int main(void)
{
    if (getenv("VTEST"))
        cmocka_set_test_filter(getenv("VTEST"));
    log_set_level(getenv("VDEBUG") ? AXON_LOG_DEBUG : AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routed_to_the_slots_primary),
        cmocka_unit_test(scripts_load_on_each_node),
        cmocka_unit_test(pipeline_spanning_three_primaries),
        cmocka_unit_test(moved_after_a_slot_moved),
        cmocka_unit_test(ask_during_a_migration),
        cmocka_unit_test(wait_for_replicas),
        cmocka_unit_test(a_store_fewer_replicas_confirmed_is_not_stored),
        cmocka_unit_test(primary_killed_and_failed_over),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
