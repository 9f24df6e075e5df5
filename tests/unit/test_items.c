/* test_items.c - stored chat messages seen as Responses items (items.h):
 * the shapes the spec's ItemResource gives, the ids derived from the
 * position, the thinking never shown, tombstones giving nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "items.h"
#include "jsonv.h"

#define CONV "conv-0123456789abcdef0123456789abcdef"
#define H "0123456789abcdef0123456789abcdef"

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    assert_non_null(o);
    return o;
}

/* The items of one message as compact JSON (strcmp-able). */
static json_object *view(const char *msg, long pos, unsigned flags)
{
    json_object *m = parse(msg), *out = json_object_new_array();
    assert_int_equal(items_from_message_opt(m, CONV, pos, flags, out), AXON_OK);
    json_object_put(m);
    return out;
}

static void assert_json(json_object *o, const char *want)
{
    const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object *w = parse(want);
    const char *ws = json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(got, ws))
        fail_msg("got  %s\nwant %s", got, ws);
    json_object_put(w);
}

static void user_string_is_one_input_message(void **state)
{
    (void)state;
    json_object *out = view("{\"role\":\"user\",\"content\":\"hi\"}", 3, 0);
    assert_json(out, "[{\"id\":\"msg_" H "0000000300\",\"type\":\"message\",\"status\":\"completed\","
                     "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}]");
    json_object_put(out);
}

static void user_parts_become_input_parts(void **state)
{
    (void)state;
    json_object *out = view(
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA\",\"detail\":\"low\"}},"
        "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":\"data:application/pdf;base64,AA\"}}]}",
        0, 0);
    assert_json(json_object_object_get(json_object_array_get_idx(out, 0), "content"),
                "[{\"type\":\"input_text\",\"text\":\"look\"},"
                "{\"type\":\"input_image\",\"image_url\":\"https://x/y.png\",\"detail\":\"auto\"},"
                "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AA\",\"detail\":\"low\"},"
                "{\"type\":\"input_file\",\"filename\":\"a.pdf\",\"file_data\":\"data:application/pdf;base64,AA\"}]");
    json_object_put(out);
}

static void system_and_developer_keep_their_role(void **state)
{
    (void)state;
    json_object *out = view("{\"role\":\"developer\",\"content\":\"be brief\"}", 0, 0);
    assert_string_equal(jsonv_member_str(json_object_array_get_idx(out, 0), "role"), "developer");
    json_object_put(out);
    out = view("{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"s\"}]}", 0, 0);
    assert_string_equal(jsonv_member_str(json_object_array_get_idx(out, 0), "role"), "system");
    json_object_put(out);
}

static void tool_message_is_function_call_output(void **state)
{
    (void)state;
    json_object *out = view("{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}", 16, 0);
    assert_json(out, "[{\"id\":\"fco_" H "0000001000\",\"type\":\"function_call_output\","
                     "\"call_id\":\"call_1\",\"output\":\"42\",\"status\":\"completed\"}]");
    json_object_put(out);
}

#define ASSISTANT                                                                               \
    "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"reasoning_content\":\"think\","   \
    "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"think\",\"signature\":\"SIG\"}]," \
    "\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"a\","   \
    "\"arguments\":\"{}\"}},{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"b\"," \
    "\"arguments\":\"{\\\"x\\\":1}\"}}]}"

static void assistant_gives_reasoning_message_and_calls(void **state)
{
    (void)state;
    json_object *out = view(ASSISTANT, 1, 0);
    assert_json(out,
                "[{\"id\":\"rs_" H "0000000100\",\"type\":\"reasoning\","
                "\"summary\":[{\"type\":\"summary_text\",\"text\":\"think\"}],\"status\":\"completed\"},"
                "{\"id\":\"msg_" H "0000000101\",\"type\":\"message\",\"status\":\"completed\","
                "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Let me check.\","
                "\"annotations\":[],\"logprobs\":[]}]},"
                "{\"id\":\"fc_" H "0000000102\",\"type\":\"function_call\",\"call_id\":\"toolu_1\","
                "\"name\":\"a\",\"arguments\":\"{}\",\"status\":\"completed\"},"
                "{\"id\":\"fc_" H "0000000103\",\"type\":\"function_call\",\"call_id\":\"toolu_2\","
                "\"name\":\"b\",\"arguments\":\"{\\\"x\\\":1}\",\"status\":\"completed\"}]");
    /* The signed blocks never show in the public view. */
    assert_null(strstr(json_object_to_json_string(out), "SIG"));
    json_object_put(out);
}

static void thinking_kept_only_when_asked(void **state)
{
    (void)state;
    json_object *out = view(ASSISTANT, 1, ITEMS_KEEP_THINKING);
    json_object *tb = jsonv_member(json_object_array_get_idx(out, 0), "thinking_blocks");
    assert_non_null(tb);
    assert_string_equal(jsonv_member_str(json_object_array_get_idx(tb, 0), "signature"), "SIG");
    json_object_put(out);
}

static void assistant_without_text_or_thinking(void **state)
{
    (void)state;
    /* Tool calls only (content null): the call keeps its part number. */
    json_object *out = view("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\","
                            "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}",
                            2, 0);
    assert_int_equal(json_object_array_length(out), 1);
    assert_string_equal(jsonv_member_str(json_object_array_get_idx(out, 0), "id"),
                        "fc_" H "0000000202");
    json_object_put(out);
    /* Thinking without shown text (redacted): a reasoning item, empty summary. */
    out = view("{\"role\":\"assistant\",\"content\":\"ok\",\"thinking_blocks\":[{\"type\":"
               "\"redacted_thinking\",\"data\":\"D\"}]}",
               4, 0);
    assert_int_equal(json_object_array_length(out), 2);
    assert_json(json_object_array_get_idx(out, 0),
                "{\"id\":\"rs_" H "0000000400\",\"type\":\"reasoning\",\"summary\":[],"
                "\"status\":\"completed\"}");
    json_object_put(out);
    /* A refusal is the message item's refusal part. */
    out = view("{\"role\":\"assistant\",\"content\":null,\"refusal\":\"no\"}", 5, 0);
    assert_json(json_object_object_get(json_object_array_get_idx(out, 0), "content"),
                "[{\"type\":\"refusal\",\"refusal\":\"no\"}]");
    json_object_put(out);
}

static void tombstone_gives_nothing(void **state)
{
    (void)state;
    json_object *out = view("{\"deleted\":true}", 7, 0);
    assert_int_equal(json_object_array_length(out), 0);
    json_object_put(out);
}

static void not_a_stored_message(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"content\":\"x\"}", "{\"role\":\"wizard\",\"content\":\"x\"}",
                                      "[1]", "{\"role\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *m = parse(bad[i]), *out = json_object_new_array();
        assert_int_equal(items_from_message(m, CONV, 0, out), AXON_EPROTO);
        assert_int_equal(json_object_array_length(out), 0);
        json_object_put(m);
        json_object_put(out);
    }
    /* A position no id can carry. */
    json_object *m = parse("{\"role\":\"user\",\"content\":\"x\"}"), *out = json_object_new_array();
    assert_int_equal(items_from_message(m, CONV, RESP_POS_MAX + 1L, out), AXON_EINVAL);
    assert_int_equal(items_from_message(m, "conv-nope", 0, out), AXON_EINVAL);
    assert_int_equal(json_object_array_length(out), 0);
    json_object_put(m);
    json_object_put(out);
}

static void pick_finds_the_part_its_id_names(void **state)
{
    (void)state;
    json_object *m = parse(ASSISTANT), *it = NULL;
    assert_int_equal(items_pick(m, CONV, 1, "fc_" H "0000000103", 0, &it), AXON_OK);
    assert_string_equal(jsonv_member_str(it, "call_id"), "toolu_2");
    json_object_put(it);
    assert_int_equal(items_pick(m, CONV, 1, "rs_" H "0000000100", ITEMS_KEEP_THINKING, &it),
                     AXON_OK);
    assert_non_null(jsonv_member(it, "thinking_blocks"));
    json_object_put(it);
    /* A part it does not have, or the kind of another part. */
    assert_int_equal(items_pick(m, CONV, 1, "fc_" H "0000000104", 0, &it), AXON_ENOTFOUND);
    assert_null(it);
    assert_int_equal(items_pick(m, CONV, 1, "msg_" H "0000000102", 0, &it), AXON_ENOTFOUND);
    json_object_put(m);
    m = parse("{\"deleted\":true}");
    assert_int_equal(items_pick(m, CONV, 1, "msg_" H "0000000100", 0, &it), AXON_ENOTFOUND);
    json_object_put(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_string_is_one_input_message),
        cmocka_unit_test(user_parts_become_input_parts),
        cmocka_unit_test(system_and_developer_keep_their_role),
        cmocka_unit_test(tool_message_is_function_call_output),
        cmocka_unit_test(assistant_gives_reasoning_message_and_calls),
        cmocka_unit_test(thinking_kept_only_when_asked),
        cmocka_unit_test(assistant_without_text_or_thinking),
        cmocka_unit_test(tombstone_gives_nothing),
        cmocka_unit_test(not_a_stored_message),
        cmocka_unit_test(pick_finds_the_part_its_id_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
