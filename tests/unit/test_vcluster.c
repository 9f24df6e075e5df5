/* test_vcluster.c - the pure half of cluster routing: slots (the spec's
 * known values, checked against redis-server 7's CLUSTER KEYSLOT), hash
 * tags, the key of a formatted command, CLUSTER SLOTS parsing and the
 * MOVED / ASK redirections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vcluster.h"

static int slot_of(const char *k)
{
    return vcluster_key_slot(k, strlen(k));
}

static void known_slots(void **state)
{
    (void)state;
    /* The spec's check value, then CLUSTER KEYSLOT's answers (redis 7.0). */
    assert_int_equal(vcluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(slot_of("123456789"), 12739);
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("hello"), 866);
    assert_int_equal(slot_of(""), 0);
    assert_int_equal(slot_of("axon:{c:abc}:meta"), 11930);
    assert_int_equal(slot_of("axon:{p:claude}:idle"), 16051);
}

static void hash_tags(void **state)
{
    (void)state;
    assert_int_equal(slot_of("{user1000}.following"), 3443);
    assert_int_equal(slot_of("user1000"), 3443);
    assert_int_equal(slot_of("{user1000}.followers"), 3443);
    /* An empty tag hashes the whole key; only the first tag counts. */
    assert_int_equal(slot_of("foo{}{bar}"), 8363);
    assert_int_equal(slot_of("{}"), 15257);
    assert_int_equal(slot_of("foo{{bar}}zap"), 4015);
    assert_int_equal(slot_of("foo{bar}{zap}"), 5061);
    /* A conversation's keys share one slot; a pool's keys share another. */
    assert_int_equal(slot_of("axon:{c:abc}:msgs"), slot_of("axon:{c:abc}:turn"));
    assert_int_equal(slot_of("axon:{c:abc}:r:0000002a"), slot_of("axon:{c:abc}:meta"));
    assert_int_equal(slot_of("axon:{p:claude}:leases"), slot_of("axon:{p:claude}:idle"));
    /* A key with a NUL byte hashes all its bytes. */
    assert_int_not_equal(vcluster_key_slot("a\0b", 3), vcluster_key_slot("a", 1));
}

static int cmd_slot(int argc, const char **argv)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    assert_true(len > 0);
    int slot = vcluster_cmd_slot(cmd, (size_t)len);
    redisFreeCommand(cmd);
    return slot;
}

static void command_keys(void **state)
{
    (void)state;
    const char *get[] = {"GET", "foo"};
    assert_int_equal(cmd_slot(2, get), 12182);
    const char *zadd[] = {"zadd", "axon:{k:t}:convs", "GT", "1", "x"};
    assert_int_equal(cmd_slot(5, zadd), slot_of("axon:{k:t}:convs"));
    /* A script's first key, not its SHA or numkeys. */
    const char *ev[] = {"EVALSHA", "0123456789012345678901234567890123456789", "2",
                        "axon:{c:abc}:meta", "axon:{c:abc}:msgs", "arg"};
    assert_int_equal(cmd_slot(6, ev), 11930);
    const char *ev0[] = {"EVALSHA", "0123456789012345678901234567890123456789", "0", "arg"};
    assert_int_equal(cmd_slot(4, ev0), VCLUSTER_NO_KEY);
    const char *bad[] = {"EVALSHA", "0123456789012345678901234567890123456789", "3", "k"};
    assert_int_equal(cmd_slot(4, bad), AXON_EINVAL);
    /* Keyless commands go to any node. */
    const char *t[] = {"TIME"};
    assert_int_equal(cmd_slot(1, t), VCLUSTER_NO_KEY);
    const char *sl[] = {"SCRIPT", "LOAD", "return 1"};
    assert_int_equal(cmd_slot(3, sl), VCLUSTER_NO_KEY);
    const char *w[] = {"WAIT", "1", "50"};
    assert_int_equal(cmd_slot(3, w), VCLUSTER_NO_KEY);
    const char *info[] = {"info", "stats"};
    assert_int_equal(cmd_slot(2, info), VCLUSTER_NO_KEY);
    /* The printf form formats the same way. */
    char *cmd = NULL;
    int len = redisFormatCommand(&cmd, "MGET %s %s", "{k:t}:think:a", "{k:t}:think:b");
    assert_int_equal(vcluster_cmd_slot(cmd, (size_t)len), slot_of("k:t"));
    /* Not RESP, or cut short: refused. */
    assert_int_equal(vcluster_cmd_slot(cmd, 20), AXON_EINVAL);
    redisFreeCommand(cmd);
    assert_int_equal(vcluster_cmd_slot("GET foo\r\n", 9), AXON_EINVAL);
    assert_int_equal(vcluster_cmd_slot("*2\r\n$3\r\nGET\r\n$99\r\nfoo\r\n", 22), AXON_EINVAL);
}

/* Reply builders (freed with freeReplyObject). */
static redisReply *rep(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = type;
    return r;
}
static redisReply *rnum(long long v)
{
    redisReply *r = rep(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}
static redisReply *rstr(const char *s)
{
    redisReply *r = rep(REDIS_REPLY_STRING);
    r->len = strlen(s);
    r->str = malloc(r->len + 1);
    memcpy(r->str, s, r->len + 1);
    return r;
}
static redisReply *rarr(size_t n, ...)
{
    redisReply *r = rep(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof *r->element);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void slot_map(void **state)
{
    (void)state;
    /* Three primaries, each with a replica that must not enter the map; the
     * third's endpoint unknown ("?"): the asked host. */
    redisReply *r = rarr(
        4,
        rarr(4, rnum(0), rnum(5460), rarr(3, rstr("127.0.0.1"), rnum(7001), rstr("id1")),
             rarr(3, rstr("127.0.0.1"), rnum(7004), rstr("id4"))),
        rarr(4, rnum(5461), rnum(10922), rarr(3, rstr("127.0.0.1"), rnum(7002), rstr("id2")),
             rarr(3, rstr("127.0.0.1"), rnum(7005), rstr("id5"))),
        rarr(3, rnum(10923), rnum(16000), rarr(3, rstr("?"), rnum(7003), rstr("id3"))),
        rarr(3, rnum(16001), rnum(16383), rarr(3, rstr("127.0.0.1"), rnum(7001), rstr("id1"))));
    struct vcluster_map *m = malloc(sizeof *m);
    assert_int_equal(vcluster_map_parse(m, r, "10.0.0.9"), 0);
    assert_int_equal(m->n, 3);
    assert_int_equal(vcluster_map_owner(m, 0)->port, 7001);
    assert_int_equal(vcluster_map_owner(m, 5460)->port, 7001);
    assert_int_equal(vcluster_map_owner(m, 5461)->port, 7002);
    assert_int_equal(vcluster_map_owner(m, 12739)->port, 7003);
    assert_string_equal(vcluster_map_owner(m, 12739)->host, "10.0.0.9");
    assert_int_equal(vcluster_map_owner(m, 16383)->port, 7001);
    assert_null(vcluster_map_owner(m, -1));
    assert_null(vcluster_map_owner(m, VCLUSTER_SLOTS));
    freeReplyObject(r);

    /* A slot no primary serves is unknown. */
    r = rarr(1, rarr(3, rnum(0), rnum(99), rarr(2, rstr("h"), rnum(1))));
    assert_int_equal(vcluster_map_parse(m, r, "x"), 0);
    assert_non_null(vcluster_map_owner(m, 99));
    assert_null(vcluster_map_owner(m, 100));
    freeReplyObject(r);

    /* Other shapes are refused. */
    r = rarr(1, rarr(3, rnum(5), rnum(4), rarr(2, rstr("h"), rnum(1))));
    assert_int_equal(vcluster_map_parse(m, r, "x"), AXON_EPROTO);
    freeReplyObject(r);
    r = rarr(1, rarr(3, rnum(0), rnum(16384), rarr(2, rstr("h"), rnum(1))));
    assert_int_equal(vcluster_map_parse(m, r, "x"), AXON_EPROTO);
    freeReplyObject(r);
    r = rarr(1, rarr(2, rnum(0), rnum(1)));
    assert_int_equal(vcluster_map_parse(m, r, "x"), AXON_EPROTO);
    freeReplyObject(r);
    r = rstr("ERR This instance has cluster support disabled");
    assert_int_equal(vcluster_map_parse(m, r, "x"), AXON_EPROTO);
    freeReplyObject(r);
    free(m);
}

static void map_nodes_capped(void **state)
{
    (void)state;
    struct vcluster_map *m = calloc(1, sizeof *m);
    for (int i = 0; i < VCLUSTER_MAX_NODES; i++)
        assert_int_equal(vcluster_map_node(m, "127.0.0.1", 7000 + i), i);
    assert_int_equal(vcluster_map_node(m, "127.0.0.1", 7000), 0);
    assert_int_equal(vcluster_map_node(m, "127.0.0.1", 8000), AXON_ETOOBIG);
    assert_int_equal(vcluster_map_node(m, "", 1), AXON_EINVAL);
    assert_int_equal(vcluster_map_node(m, "h", 0), AXON_EINVAL);
    free(m);
}

static int redirect(const char *s, struct vcluster_redirect *o)
{
    return vcluster_redirect_parse(s, strlen(s), "10.1.1.1", o);
}

static void redirections(void **state)
{
    (void)state;
    struct vcluster_redirect o;
    assert_int_equal(redirect("MOVED 3999 127.0.0.1:6381", &o), 0);
    assert_false(o.ask);
    assert_int_equal(o.slot, 3999);
    assert_string_equal(o.to.host, "127.0.0.1");
    assert_int_equal(o.to.port, 6381);
    assert_int_equal(redirect("ASK 12739 127.0.0.2:7002", &o), 0);
    assert_true(o.ask);
    assert_int_equal(o.slot, 12739);
    assert_int_equal(o.to.port, 7002);
    /* An empty host: the one asked. IPv6: the port after the last colon. */
    assert_int_equal(redirect("MOVED 1 :7000", &o), 0);
    assert_string_equal(o.to.host, "10.1.1.1");
    assert_int_equal(redirect("MOVED 1 ::1:7000", &o), 0);
    assert_string_equal(o.to.host, "::1");
    assert_int_equal(o.to.port, 7000);
    /* Not redirections. */
    assert_int_equal(redirect("NOSCRIPT No matching script", &o), AXON_EINVAL);
    assert_int_equal(redirect("MOVED", &o), AXON_EINVAL);
    assert_int_equal(redirect("MOVED 16384 h:1", &o), AXON_EINVAL);
    assert_int_equal(redirect("MOVED 1 h:0", &o), AXON_EINVAL);
    assert_int_equal(redirect("MOVED 1 h", &o), AXON_EINVAL);
    assert_int_equal(redirect("MOVED x h:1", &o), AXON_EINVAL);
    assert_int_equal(redirect("ASKING", &o), AXON_EINVAL);
}

/* vcluster_format writes what hiredis's own formatter writes, byte for
 * byte: empty and binary arguments, lengths across a digit boundary, one
 * argument and VALKEY_MAX_ARGS-like many. */
static void format_matches_hiredis(void **state)
{
    (void)state;
    static char big[100000];
    memset(big, 'x', sizeof big);
    big[7] = '\0';
    big[8] = '\r';
    big[9] = '\n';
    const char *argv[64];
    size_t lens[64];
    const size_t sizes[] = {0, 1, 9, 10, 99, 100, 12345, sizeof big};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int argc = 1; argc <= 64; argc += 21) {
            for (int i = 0; i < argc; i++) {
                argv[i] = i % 2 ? "EVALSHA" : big;
                lens[i] = i % 2 ? 7 : sizes[k];
            }
            char *want = NULL;
            int wlen = redisFormatCommandArgv(&want, argc, argv, lens);
            size_t glen = 0;
            char *got = vcluster_format(argc, argv, lens, &glen);
            assert_int_equal(glen, (size_t)wlen);
            assert_memory_equal(got, want, glen);
            assert_int_equal(vcluster_cmd_slot(got, glen),
                             vcluster_cmd_slot(want, (size_t)wlen));
            free(got);
            redisFreeCommand(want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_slots),      cmocka_unit_test(hash_tags),
        cmocka_unit_test(command_keys),     cmocka_unit_test(slot_map),
        cmocka_unit_test(map_nodes_capped), cmocka_unit_test(redirections),
        cmocka_unit_test(format_matches_hiredis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
