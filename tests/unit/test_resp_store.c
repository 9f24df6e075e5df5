/* test_resp_store.c - the Responses API's reads of the conversation store
 * (resp_store.h) against a real redis-server: previous_response_id at the
 * tip and at an earlier response (a branch point), one round trip each;
 * item_reference resolution in one round trip; records read and deleted;
 * input items paged; another tenant's ids answered as missing ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "acct.h"
#include "conv.h"
#include "items.h"
#include "jsonv.h"
#include "resp_store.h"
#include "valkey.h"

#include "redis_srv.h"

static const char T1[] = "0123456789abcdef", T2[] = "fedcba9876543210";

static void connect_srv(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
}

static struct axon_config cfg;

static json_object *js(const char *text)
{
    json_object *o = NULL;
    assert_int_equal(jsonv_parse(text, strlen(text), JSONV_MAX_DEPTH, &o), 0);
    return o;
}

static void set_key(const char *key, const char *value)
{
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "SET %s %s", key, value), 0);
    freeReplyObject(r);
}

/* A conversation of T1 as two Responses turns leave it:
 *   0 user "What is the weather?"   1 user "In Paris."      (turn 1's input)
 *   2 assistant: thinking, text, a call                     (turn 1's output)
 *   3 tool result                                           (turn 2's input)
 *   4 assistant "Sunny."                                    (turn 2's output)
 * with the records of resp(C, 3) and resp(C, 5), as the write side puts them. */
static void seed(char *id)
{
    conv_new_id(id, true);
    json_object *in1 = js("[{\"role\":\"user\",\"content\":\"What is the weather?\"},"
                          "{\"role\":\"user\",\"content\":\"In Paris.\"}]");
    json_object *out1 = js(
        "{\"role\":\"assistant\",\"content\":\"Let me look.\",\"reasoning_content\":\"weather\","
        "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"weather\",\"signature\":"
        "\"SIG\"}],\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}");
    assert_int_equal(conv_append(&cfg, id, T1, "claude-sonnet-4-5", in1, out1, true), 0);
    json_object *in2 = js("[{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"sun\"}]");
    json_object *out2 = js("{\"role\":\"assistant\",\"content\":\"Sunny.\"}");
    assert_int_equal(conv_append(&cfg, id, T1, "claude-sonnet-4-5", in2, out2, false), 0);
    json_object_put(in1);
    json_object_put(out1);
    json_object_put(in2);
    json_object_put(out2);
    char rk[RESP_RECORD_KEY_MAX], rid[RESP_ID_LEN + 1], v[512];
    assert_int_equal(resp_id_make(id, 3, rid), 0);
    assert_int_equal(resp_record_key(id, 3, rk), 0);
    snprintf(v, sizeof v,
             "{\"response\":{\"id\":\"%s\",\"object\":\"response\",\"status\":\"completed\"},"
             "\"in_start\":0,\"in_end\":2,\"instructions\":\"Be brief.\"}",
             rid);
    set_key(rk, v);
    assert_int_equal(resp_id_make(id, 5, rid), 0);
    assert_int_equal(resp_record_key(id, 5, rk), 0);
    snprintf(v, sizeof v,
             "{\"response\":{\"id\":\"%s\",\"object\":\"response\",\"status\":\"completed\"},"
             "\"in_start\":3,\"in_end\":4,\"instructions\":null}",
             rid);
    set_key(rk, v);
}

static int setup(void **state)
{
    if (setup_plain(state))
        return -1;
    connect_srv(state);
    config_defaults(&cfg);
    cfg.valkey_timeout_ms = 1000;
    return 0;
}

static int teardown_cfg(void **state)
{
    config_free(&cfg);
    return teardown(state);
}

static void rid_of(const char *id, long pos, char *out)
{
    assert_int_equal(resp_id_make(id, pos, out), 0);
}

static void previous_at_the_tip_and_at_a_branch_point(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1];
    seed(id);
    struct conv_lock lock;
    json_object *h = NULL;
    struct conv_meta m;
    bool tip = true;

    /* The tip: the whole conversation, to be continued in place. */
    rid_of(id, 5, rid);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), 0); /* warms the scripts */
    assert_int_equal(conv_unlock(&lock), 0);
    json_object_put(h);
    long long reads = srv_reads();
    unsigned long ours = valkey_round_trips();
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), 0);
    assert_int_equal(valkey_round_trips() - ours, 1);
    assert_int_equal(srv_reads() - reads - 1, 1);
    assert_true(tip);
    assert_int_equal(json_object_array_length(h), 5);
    assert_int_equal(m.message_count, 5);
    assert_true(lock.token[0] != '\0');
    /* Held: a second continuation of the same conversation waits its turn. */
    struct conv_lock l2;
    json_object *h2 = NULL;
    struct conv_meta m2;
    bool tip2;
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &l2, &h2, &m2, &tip2), AXON_EBUSY);
    assert_null(h2);
    assert_int_equal(conv_unlock(&lock), 0);
    json_object_put(h);

    /* An earlier response: the conversation as it was then (a branch). */
    rid_of(id, 3, rid);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), 0);
    assert_false(tip);
    assert_int_equal(json_object_array_length(h), 3);
    assert_string_equal(jsonv_get_str(json_object_array_get_idx(h, 2), "role"), "assistant");
    assert_int_equal(m.message_count, 5);
    /* Its trusted items replay the signed thinking. */
    json_object *items = NULL;
    assert_int_equal(resp_prev_items(h, id, &items), 0);
    assert_int_equal(json_object_array_length(items), 5); /* 2 msg, rs, msg, fc */
    assert_non_null(jsonv_member(json_object_array_get_idx(items, 2), "thinking_blocks"));
    json_object_put(items);
    assert_int_equal(conv_unlock(&lock), 0);
    json_object_put(h);
}

static void previous_not_found(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1];
    seed(id);
    struct conv_lock lock;
    json_object *h = NULL;
    struct conv_meta m;
    bool tip;
    rid_of(id, 5, rid);
    /* Another tenant's: as missing, and its lock left alone. */
    assert_int_equal(resp_prev_load(&cfg, T2, rid, &lock, &h, &m, &tip), AXON_ENOTFOUND);
    assert_null(h);
    assert_int_equal(lock.token[0], '\0');
    /* A position with no response record (a chat turn's, or none). */
    rid_of(id, 4, rid);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), AXON_ENOTFOUND);
    /* Not an id Axon makes; an unstored (random) one. */
    static const char *const bad[] = {"resp_abc", "", "resp_0123", "conv-x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(resp_prev_load(&cfg, T1, bad[i], &lock, &h, &m, &tip), AXON_ENOTFOUND);
    resp_id_random(rid);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), AXON_ENOTFOUND);
    /* A deleted response continues nothing. */
    rid_of(id, 3, rid);
    assert_int_equal(resp_delete(&cfg, T1, rid), 0);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), AXON_ENOTFOUND);
    /* Lock free again: the tip still continues. */
    rid_of(id, 5, rid);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), 0);
    assert_int_equal(conv_unlock(&lock), 0);
    json_object_put(h);
    struct api_error e;
    assert_int_equal(resp_prev_not_found(&e, "resp_x"), AXON_ENOTFOUND);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.message, "Previous response with id 'resp_x' not found.");
}

static void items_fetched_in_one_round_trip(void **state)
{
    (void)state;
    char a[CONV_ID_MAX + 1], b[CONV_ID_MAX + 1];
    seed(a);
    seed(b);
    char ids[7][RESP_ITEM_ID_MAX + 1];
    assert_int_equal(resp_item_id_make(RESP_ITEM_CALL, a, 2, 2, ids[0]), 0);
    assert_int_equal(resp_item_id_make(RESP_ITEM_MESSAGE, a, 0, 0, ids[1]), 0);
    assert_int_equal(resp_item_id_make(RESP_ITEM_REASONING, b, 2, 0, ids[2]), 0);
    assert_int_equal(resp_item_id_make(RESP_ITEM_CALL_OUTPUT, b, 3, 0, ids[3]), 0);
    assert_int_equal(resp_item_id_make(RESP_ITEM_CALL, a, 2, 3, ids[4]), 0);   /* no such part */
    assert_int_equal(resp_item_id_make(RESP_ITEM_MESSAGE, a, 40, 0, ids[5]), 0); /* no such position */
    snprintf(ids[6], sizeof ids[6], "msg_nope");
    const char *p[8] = {ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], NULL};
    json_object *found[8];
    assert_int_equal(items_fetch(&cfg, T1, p, 8, 0, found), 0); /* warms the script */
    for (int k = 0; k < 8; k++)
        json_object_put(found[k]);
    unsigned long ours = valkey_round_trips();
    assert_int_equal(items_fetch(&cfg, T1, p, 8, ITEMS_KEEP_THINKING, found), 0);
    assert_int_equal(valkey_round_trips() - ours, 1);
    assert_string_equal(jsonv_get_str(found[0], "call_id"), "toolu_1");
    assert_string_equal(jsonv_get_str(found[0], "id"), ids[0]);
    assert_string_equal(jsonv_get_str(found[1], "role"), "user");
    assert_non_null(jsonv_member(found[2], "thinking_blocks"));
    assert_string_equal(jsonv_get_str(found[3], "output"), "sun");
    for (int k = 4; k < 8; k++)
        assert_null(found[k]);
    for (int k = 0; k < 8; k++)
        json_object_put(found[k]);
    /* Without the flag the thinking stays in. */
    assert_int_equal(items_fetch(&cfg, T1, p + 2, 1, 0, found), 0);
    assert_null(jsonv_member(found[0], "thinking_blocks"));
    json_object_put(found[0]);
    /* Another tenant finds nothing. */
    assert_int_equal(items_fetch(&cfg, T2, p, 4, 0, found), 0);
    for (int k = 0; k < 4; k++)
        assert_null(found[k]);
}

static void many_conversations_take_more_rounds(void **state)
{
    (void)state;
    enum { N = VALKEY_MAX_PIPELINE + 2 };
    char convs[N][CONV_ID_MAX + 1], ids[N][RESP_ITEM_ID_MAX + 1];
    const char *p[N];
    json_object *found[N];
    for (int i = 0; i < N; i++) {
        seed(convs[i]);
        assert_int_equal(resp_item_id_make(RESP_ITEM_MESSAGE, convs[i], 4, 1, ids[i]), 0);
        p[i] = ids[i];
    }
    assert_int_equal(items_fetch(&cfg, T1, p, 1, 0, found), 0); /* loads the script */
    json_object_put(found[0]);
    unsigned long ours = valkey_round_trips();
    assert_int_equal(items_fetch(&cfg, T1, p, N, 0, found), 0);
    assert_int_equal(valkey_round_trips() - ours, 2);
    for (int i = 0; i < N; i++) {
        assert_non_null(found[i]);
        json_object_put(found[i]);
    }
}

static void record_read_and_deleted(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1];
    seed(id);
    rid_of(id, 3, rid);
    json_object *rec = NULL;
    assert_int_equal(resp_get(&cfg, T1, rid, &rec), 0);
    assert_string_equal(jsonv_get_str(jsonv_member(rec, "response"), "id"), rid);
    assert_string_equal(jsonv_get_str(rec, "instructions"), "Be brief.");
    json_object_put(rec);
    assert_int_equal(resp_get(&cfg, T2, rid, &rec), AXON_ENOTFOUND);
    assert_int_equal(resp_delete(&cfg, T2, rid), AXON_ENOTFOUND);
    assert_int_equal(resp_delete(&cfg, T1, rid), 0);
    assert_int_equal(resp_get(&cfg, T1, rid, &rec), AXON_ENOTFOUND);
    assert_null(rec);
    assert_int_equal(resp_delete(&cfg, T1, rid), AXON_ENOTFOUND);
    /* The conversation keeps its messages. */
    json_object *msgs = NULL;
    struct conv_meta m;
    assert_int_equal(conv_load(&cfg, id, T1, &msgs, &m), 0);
    assert_int_equal(json_object_array_length(msgs), 5);
    json_object_put(msgs);
    /* A record that is not ours. */
    char rk[RESP_RECORD_KEY_MAX];
    rid_of(id, 5, rid);
    assert_int_equal(resp_record_key(id, 5, rk), 0);
    set_key(rk, "[1]");
    assert_int_equal(resp_get(&cfg, T1, rid, &rec), AXON_EPROTO);
}

static const char *list_ids(json_object *list, char *out, size_t size)
{
    json_object *data = jsonv_member(list, "data");
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        const char *iid = jsonv_get_str(json_object_array_get_idx(data, i), "id");
        size_t n = strlen(out);
        /* position and part: the last 10 hex digits */
        snprintf(out + n, size - n, "%s%s", n ? " " : "", iid + strlen(iid) - 10);
    }
    return out;
}

static void input_items_paged(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1], got[256];
    seed(id);
    rid_of(id, 3, rid);
    json_object *list = NULL;
    struct resp_page pg = {.limit = 20, .desc = true};
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), 0);
    assert_string_equal(list_ids(list, got, sizeof got), "0000000100 0000000000");
    assert_string_equal(jsonv_get_str(list, "object"), "list");
    assert_false(json_object_get_boolean(jsonv_member(list, "has_more")));
    json_object_put(list);
    /* Oldest first, one at a time. */
    pg = (struct resp_page){.limit = 1, .desc = false};
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), 0);
    assert_string_equal(list_ids(list, got, sizeof got), "0000000000");
    assert_true(json_object_get_boolean(jsonv_member(list, "has_more")));
    char after[RESP_ITEM_ID_MAX + 1];
    snprintf(after, sizeof after, "%s", jsonv_get_str(list, "last_id"));
    json_object_put(list);
    pg.after = after;
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), 0);
    assert_string_equal(list_ids(list, got, sizeof got), "0000000100");
    assert_false(json_object_get_boolean(jsonv_member(list, "has_more")));
    json_object_put(list);
    /* The second turn's input: the tool output. */
    rid_of(id, 5, rid);
    pg = (struct resp_page){.limit = 20, .desc = true};
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), 0);
    json_object *it = json_object_array_get_idx(jsonv_member(list, "data"), 0);
    assert_string_equal(jsonv_get_str(it, "type"), "function_call_output");
    assert_int_equal(json_object_array_length(jsonv_member(list, "data")), 1);
    json_object_put(list);
    /* Refused before Valkey: a bad limit, an after of another conversation. */
    pg.limit = 0;
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), AXON_EINVAL);
    pg.limit = 101;
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), AXON_EINVAL);
    pg.limit = 5;
    pg.after = "msg_ffffffffffffffffffffffffffffffff0000000000";
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), AXON_EINVAL);
    pg.after = NULL;
    assert_int_equal(resp_input_items(&cfg, T2, rid, &pg, &list), AXON_ENOTFOUND);
    assert_null(list);
}

/* A deleted item leaves a tombstone at its position: listed and fetched
 * as nothing, the other ids unchanged. */
static void tombstones_are_skipped(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1], got[256], lk[CONV_KEY_MAX];
    seed(id);
    snprintf(lk, sizeof lk, "axon:{c:%s}:msgs", id);
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "LSET %s 0 %s", lk, "{\"deleted\":true}"), 0);
    freeReplyObject(r);
    rid_of(id, 3, rid);
    json_object *list = NULL;
    struct resp_page pg = {.limit = 20, .desc = true};
    assert_int_equal(resp_input_items(&cfg, T1, rid, &pg, &list), 0);
    assert_string_equal(list_ids(list, got, sizeof got), "0000000100");
    json_object_put(list);
    char iid[2][RESP_ITEM_ID_MAX + 1];
    assert_int_equal(resp_item_id_make(RESP_ITEM_MESSAGE, id, 0, 0, iid[0]), 0);
    assert_int_equal(resp_item_id_make(RESP_ITEM_MESSAGE, id, 1, 0, iid[1]), 0);
    const char *p[2] = {iid[0], iid[1]};
    json_object *found[2];
    assert_int_equal(items_fetch(&cfg, T1, p, 2, 0, found), 0);
    assert_null(found[0]);
    assert_string_equal(jsonv_get_str(found[1], "id"), iid[1]);
    json_object_put(found[1]);
}

/* The key that must exist is one of the conversation's own: nothing a
 * client sends can name another slot's. */
static void load_upto_checks_its_arguments(void **state)
{
    (void)state;
    char id[CONV_ID_MAX + 1], other[CONV_ID_MAX + 1], rk[RESP_RECORD_KEY_MAX];
    seed(id);
    seed(other);
    assert_int_equal(resp_record_key(other, 5, rk), 0); /* exists, but not id's */
    struct conv_lock lock;
    json_object *h = NULL;
    struct conv_meta m;
    assert_int_equal(conv_load_locked_upto(&cfg, id, T1, 5, rk, &lock, &h, &m), AXON_EINVAL);
    assert_null(h);
    assert_int_equal(conv_load_locked_upto(&cfg, id, T1, -1, NULL, &lock, &h, &m), AXON_EINVAL);
    /* Without a key to check, the first positions alone. */
    assert_int_equal(conv_load_locked_upto(&cfg, id, T1, 0, NULL, &lock, &h, &m), 0);
    assert_int_equal(json_object_array_length(h), 0);
    assert_int_equal(m.message_count, 5);
    assert_int_equal(conv_unlock(&lock), 0);
    json_object_put(h);
}

static void valkey_down_is_eio(void **state)
{
    char id[CONV_ID_MAX + 1], rid[RESP_ID_LEN + 1];
    seed(id);
    rid_of(id, 5, rid);
    srv_kill(*state);
    json_object *rec = NULL, *h = NULL;
    struct conv_lock lock;
    struct conv_meta m;
    bool tip;
    assert_int_equal(resp_get(&cfg, T1, rid, &rec), AXON_EIO);
    assert_int_equal(resp_prev_load(&cfg, T1, rid, &lock, &h, &m, &tip), AXON_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(previous_at_the_tip_and_at_a_branch_point, setup,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(previous_not_found, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(items_fetched_in_one_round_trip, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(many_conversations_take_more_rounds, setup,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(record_read_and_deleted, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(input_items_paged, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(tombstones_are_skipped, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(load_upto_checks_its_arguments, setup, teardown_cfg),
        cmocka_unit_test_setup_teardown(valkey_down_is_eio, setup, teardown_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
