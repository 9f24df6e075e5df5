/* test_thinking_store.c - signed thinking kept by tool-call id, against a
 * real redis-server that each test starts on a free port: byte-exact store
 * and find under every id of an answer, tenant scoping, the TTL, the caps,
 * ids that cannot be keys, missing ids, sharing a batch, Valkey down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "jsonv.h"
#include "log.h"
#include "thinking_store.h"
#include "valkey.h"

#include "redis_srv.h"

static const char T1[] = "0123456789abcdef", T2[] = "fedcba9876543210";
/* Two blocks as Claude signs them; the text carries what a JSON printer
 * could change (a slash, a non-ASCII character, an escaped quote). */
static const char BLOCKS[] =
    "[{\"type\":\"thinking\",\"thinking\":\"Let me think: a/b \\\"q\\\" caf\xc3\xa9.\","
    "\"signature\":\"EqQBCkYIBxgCKkA+/=\"},{\"type\":\"redacted_thinking\",\"data\":\"ZXhh\"}]";

static void connect_srv(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000); /* generous: this VM stalls loopback replies at times */
}

static struct axon_config cfg_with(int ttl_s)
{
    struct axon_config c;
    memset(&c, 0, sizeof c);
    c.conv_ttl_s = ttl_s;
    return c;
}

static json_object *js(const char *text)
{
    json_object *o = NULL;
    assert_int_equal(jsonv_parse(text, strlen(text), JSONV_MAX_DEPTH, &o), 0);
    return o;
}

static const char *plain(json_object *o)
{
    return json_object_to_json_string_ext(o, JSONV_OUT);
}

static long long pttl(const char *tenant, const char *id)
{
    char key[THINKING_KEY_MAX];
    snprintf(key, sizeof key, "axon:{k:%s}:think:%s", tenant, id);
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "PTTL %s", key), 0);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    freeReplyObject(r);
    return v;
}

static void free_found(json_object **f, int n)
{
    for (int i = 0; i < n; i++)
        json_object_put(f[i]);
}

/* ---- ids --------------------------------------------------------------------- */

static void ids_are_checked_before_they_become_keys(void **state)
{
    (void)state;
    assert_true(thinking_id_ok("call_01A-b_9"));
    assert_false(thinking_id_ok(NULL));
    assert_false(thinking_id_ok(""));
    assert_false(thinking_id_ok("call_x}:think:y"));  /* would leave the key's shape */
    assert_false(thinking_id_ok("call x"));
    char longest[THINKING_ID_MAX + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[THINKING_ID_MAX] = '\0';
    assert_true(thinking_id_ok(longest));
    longest[THINKING_ID_MAX] = 'a';
    longest[THINKING_ID_MAX + 1] = '\0';
    assert_false(thinking_id_ok(longest));
}

/* ---- store and find -------------------------------------------------------------- */

static void every_id_of_the_answer_finds_the_same_blocks_byte_for_byte(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    json_object *blocks = js(BLOCKS);
    const char *ids[] = {"call_A1", "call_B2"};
    assert_int_equal(thinking_store_put(&c, T1, blocks, ids, 2), 0);

    const char *ask[] = {"call_B2", "call_missing", "call_A1"};
    json_object *f[3];
    assert_int_equal(thinking_store_find(T1, ask, 3, f), 0);
    assert_non_null(f[0]);
    assert_null(f[1]); /* a missing id is no error */
    assert_non_null(f[2]);
    assert_string_equal(plain(f[0]), plain(blocks));
    assert_string_equal(plain(f[2]), plain(blocks));
    /* Unchanged: Claude checks the signature over the text as it gave it. */
    json_object *t0 = json_object_array_get_idx(f[0], 0), *v = NULL;
    assert_true(json_object_object_get_ex(t0, "thinking", &v));
    assert_string_equal(json_object_get_string(v), "Let me think: a/b \"q\" caf\xc3\xa9.");
    assert_true(json_object_object_get_ex(t0, "signature", &v));
    assert_string_equal(json_object_get_string(v), "EqQBCkYIBxgCKkA+/=");
    free_found(f, 3);
    json_object_put(blocks);
}

static void another_tenant_finds_nothing(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    json_object *blocks = js(BLOCKS);
    const char *ids[] = {"call_A1"};
    assert_int_equal(thinking_store_put(&c, T1, blocks, ids, 1), 0);
    json_object *f[1];
    assert_int_equal(thinking_store_find(T2, ids, 1, f), 0);
    assert_null(f[0]);
    /* ... and its own store of the same id does not touch T1's. */
    json_object *other = js("[{\"type\":\"redacted_thinking\",\"data\":\"b3RoZXI=\"}]");
    assert_int_equal(thinking_store_put(&c, T2, other, ids, 1), 0);
    assert_int_equal(thinking_store_find(T1, ids, 1, f), 0);
    assert_non_null(f[0]);
    assert_string_equal(plain(f[0]), plain(blocks));
    free_found(f, 1);
    assert_int_equal(thinking_store_find(T2, ids, 1, f), 0);
    assert_string_equal(plain(f[0]), plain(other));
    free_found(f, 1);
    json_object_put(other);
    json_object_put(blocks);
}

static void the_conversation_ttl_applies_and_expires(void **state)
{
    connect_srv(state);
    json_object *blocks = js(BLOCKS);
    const char *ids[] = {"call_T"};
    struct axon_config week = cfg_with(604800);
    assert_int_equal(thinking_store_put(&week, T1, blocks, ids, 1), 0);
    long long ms = pttl(T1, "call_T");
    assert_true(ms > 604790000 && ms <= 604800000);

    struct axon_config one = cfg_with(1);
    assert_int_equal(thinking_store_put(&one, T1, blocks, ids, 1), 0);
    assert_true(pttl(T1, "call_T") <= 1000);
    sleep_ms(1100);
    json_object *f[1];
    assert_int_equal(thinking_store_find(T1, ids, 1, f), 0);
    assert_null(f[0]);

    /* A TTL that is not positive must never store a key that lives forever. */
    struct axon_config none = cfg_with(0);
    assert_int_equal(thinking_store_put(&none, T1, blocks, ids, 1), AXON_EINVAL);
    assert_int_equal(pttl(T1, "call_T"), -2); /* no key */
    json_object_put(blocks);
}

/* ---- caps and refusals ----------------------------------------------------------- */

static void caps_refuse_and_keep_nothing(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    const char *one[] = {"call_big"};
    /* Blocks past THINKING_BLOCKS_MAX bytes. */
    struct buf big = BUF_INIT(THINKING_BLOCKS_MAX + 256);
    assert_int_equal(buf_puts(&big, "[{\"type\":\"thinking\",\"signature\":\"s\",\"thinking\":\""), 0);
    for (size_t i = 0; i < THINKING_BLOCKS_MAX / 8; i++)
        assert_int_equal(buf_puts(&big, "abcdefgh"), 0);
    assert_int_equal(buf_puts(&big, "\"}]"), 0);
    json_object *huge = js(big.p);
    buf_free(&big);
    assert_int_equal(thinking_store_put(&c, T1, huge, one, 1), AXON_ETOOBIG);
    assert_int_equal(pttl(T1, "call_big"), -2);
    json_object_put(huge);

    /* More ids than one store takes. */
    json_object *blocks = js(BLOCKS);
    char names[THINKING_KEYS_MAX + 1][24];
    const char *many[THINKING_KEYS_MAX + 1];
    for (int i = 0; i <= THINKING_KEYS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "call_%d", i);
        many[i] = names[i];
    }
    assert_int_equal(thinking_store_put(&c, T1, blocks, many, THINKING_KEYS_MAX + 1), AXON_ETOOBIG);
    assert_int_equal(pttl(T1, "call_0"), -2);
    assert_int_equal(thinking_store_put(&c, T1, blocks, many, THINKING_KEYS_MAX), 0);
    json_object *f[THINKING_KEYS_MAX + 1];
    assert_int_equal(thinking_store_find(T1, many, THINKING_KEYS_MAX, f), 0);
    for (int i = 0; i < THINKING_KEYS_MAX; i++)
        assert_non_null(f[i]);
    free_found(f, THINKING_KEYS_MAX);
    assert_int_equal(thinking_store_find(T1, many, THINKING_KEYS_MAX + 1, f), AXON_EINVAL);

    /* More answers than one store takes: the extra one is refused, the
     * others are kept. */
    struct thinking_store_op op;
    struct valkey_batch b = {0};
    thinking_store_init(&op);
    for (int i = 0; i < THINKING_ANSWERS_MAX; i++)
        assert_int_equal(thinking_store_answer(&op, T2, blocks, &many[i], 1), 0);
    assert_int_equal(thinking_store_answer(&op, T2, blocks, &many[THINKING_ANSWERS_MAX], 1),
                     AXON_ETOOBIG);
    thinking_store_add(&c, &op, &b);
    if (valkey_batch_run(&b))
        print_error("%s\n", valkey_strerror());
    assert_int_equal(b.rc, 0);
    assert_int_equal(thinking_store_done(&op, &b), AXON_ETOOBIG);
    valkey_batch_free(&b);
    assert_true(pttl(T2, many[THINKING_ANSWERS_MAX - 1]) > 0);
    assert_int_equal(pttl(T2, many[THINKING_ANSWERS_MAX]), -2);
    json_object_put(blocks);
}

static void bad_tenants_ids_and_blocks_are_refused(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    json_object *blocks = js(BLOCKS);
    const char *ids[] = {"call_ok"}, *bad_ids[] = {"call_}x", ""};
    json_object *f[2] = {NULL, NULL};
    assert_int_equal(thinking_store_put(&c, "", blocks, ids, 1), AXON_EINVAL);
    assert_int_equal(thinking_store_put(&c, "ABC", blocks, ids, 1), AXON_EINVAL);
    assert_int_equal(thinking_store_put(&c, "x}:think", blocks, ids, 1), AXON_EINVAL);
    assert_int_equal(thinking_store_put(&c, T1, blocks, bad_ids, 2), AXON_EINVAL);
    assert_int_equal(thinking_store_find("", ids, 1, f), AXON_EINVAL);
    assert_null(f[0]);
    /* Ids that cannot be keys are found nowhere, at no cost. */
    unsigned long before = valkey_round_trips();
    assert_int_equal(thinking_store_find(T1, bad_ids, 2, f), 0);
    assert_int_equal(valkey_round_trips(), before);
    assert_null(f[0]);
    assert_null(f[1]);
    /* Only thinking blocks with what Claude needs of them are kept. */
    const char *not_blocks[] = {
        "[]", "{}", "[{\"type\":\"text\",\"text\":\"x\"}]",
        "[{\"type\":\"thinking\",\"thinking\":\"x\"}]",     /* no signature */
        "[{\"type\":\"redacted_thinking\"}]",
    };
    for (size_t i = 0; i < sizeof not_blocks / sizeof *not_blocks; i++) {
        json_object *nb = js(not_blocks[i]);
        assert_int_equal(thinking_store_put(&c, T1, nb, ids, 1), AXON_EINVAL);
        json_object_put(nb);
    }
    assert_int_equal(pttl(T1, "call_ok"), -2);
    /* A key that holds something else is not taken for blocks. */
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "SET axon:{k:%s}:think:call_ok %s", T1, "[{\"type\":1}]"), 0);
    freeReplyObject(r);
    assert_int_equal(thinking_store_find(T1, ids, 1, f), 0);
    assert_null(f[0]);
    json_object_put(blocks);
}

/* ---- one round trip ---------------------------------------------------------------- */

static void the_store_shares_a_batch_and_nothing_costs_nothing(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    json_object *blocks = js(BLOCKS);
    const char *a[] = {"call_a1", "call_a2"}, *b2[] = {"call_b1"};
    /* An op with no answer adds nothing: no round trip. */
    struct thinking_store_op op;
    struct valkey_batch b = {0};
    thinking_store_init(&op);
    thinking_store_add(&c, &op, &b);
    assert_int_equal(b.n, 0);
    assert_int_equal(thinking_store_done(&op, &b), 0);
    valkey_batch_free(&b);

    /* Two answers and another module's command: one round trip (once the
     * server knows the script: a first store also loads it). */
    assert_int_equal(thinking_store_put(&c, T2, blocks, b2, 1), 0);
    memset(&b, 0, sizeof b);
    thinking_store_init(&op);
    json_object *other = js("[{\"type\":\"redacted_thinking\",\"data\":\"b3RoZXI=\"}]");
    assert_int_equal(thinking_store_answer(&op, T1, blocks, a, 2), 0);
    assert_int_equal(thinking_store_answer(&op, T1, other, b2, 1), 0);
    const char *ping[] = {"PING"};
    assert_true(valkey_batch_add(&b, (struct valkey_cmd){.argc = 1, .argv = ping}) >= 0);
    thinking_store_add(&c, &op, &b);
    assert_int_equal(b.n, 2);
    unsigned long before = valkey_round_trips();
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_int_equal(thinking_store_done(&op, &b), 0);
    valkey_batch_free(&b);
    assert_int_equal(valkey_round_trips() - before, 1);

    const char *ask[] = {"call_a2", "call_b1", "call_a1"};
    json_object *f[3];
    before = valkey_round_trips();
    assert_int_equal(thinking_store_find(T1, ask, 3, f), 0);
    assert_int_equal(valkey_round_trips() - before, 1);
    assert_string_equal(plain(f[0]), plain(blocks));
    assert_string_equal(plain(f[1]), plain(other));
    assert_string_equal(plain(f[2]), plain(blocks));
    free_found(f, 3);
    json_object_put(other);
    json_object_put(blocks);
}

static void valkey_down_is_eio_and_finds_nothing(void **state)
{
    connect_srv(state);
    struct axon_config c = cfg_with(600);
    json_object *blocks = js(BLOCKS);
    const char *ids[] = {"call_A1"};
    assert_int_equal(thinking_store_put(&c, T1, blocks, ids, 1), 0);
    srv_kill(*state);
    json_object *f[1] = {blocks};
    assert_int_equal(thinking_store_find(T1, ids, 1, f), AXON_EIO);
    assert_null(f[0]);
    assert_int_equal(thinking_store_put(&c, T1, blocks, ids, 1), AXON_EIO);
    json_object_put(blocks);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does; hiredis writes with write(2) */
    log_set_level(AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_checked_before_they_become_keys),
        cmocka_unit_test_setup_teardown(every_id_of_the_answer_finds_the_same_blocks_byte_for_byte,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(another_tenant_finds_nothing, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(the_conversation_ttl_applies_and_expires, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(caps_refuse_and_keep_nothing, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(bad_tenants_ids_and_blocks_are_refused, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_store_shares_a_batch_and_nothing_costs_nothing,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(valkey_down_is_eio_and_finds_nothing, setup_plain,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
