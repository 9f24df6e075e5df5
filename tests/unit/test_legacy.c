/* test_legacy.c - OpenAI's deprecated function calling: the request carried
 * on tools (oai_legacy.c), and the answer in the legacy shape (answer.c and
 * the chat writer oai_out.c with legacy_functions): message.function_call,
 * delta.function_call and finish_reason "function_call", one call per
 * choice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "oai_legacy.h"
#include "oai_out.h"

#include "fake_fcgi.h"

static struct axon_config cfg;

/* Bodies are written with ' for " to stay readable. */
static json_object *q(const char *text)
{
    char *s = xstrdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o))
        fail_msg("bad test JSON: %s", s);
    free(s);
    return o;
}

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void same_json(json_object *got, const char *want_text)
{
    json_object *want = q(want_text);
    if (!json_object_equal(got, want))
        fail_msg("got  %s\nwant %s", json_object_to_json_string_ext(got, JSONV_OUT),
                 json_object_to_json_string_ext(want, JSONV_OUT));
    json_object_put(want);
}

/* ---- the request ------------------------------------------------------------- */

static void functions_become_tools(void **state)
{
    (void)state;
    static const struct {
        const char *call, *choice; /* function_call given, tool_choice wanted ("" none) */
    } cases[] = {
        {"", ""},
        {",'function_call':'auto'", "'auto'"},
        {",'function_call':'none'", "'none'"},
        {",'function_call':{'name':'get_time'}", "{'type':'function','function':{'name':'get_time'}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{'model':'m','messages':[{'role':'user','content':'hi'}],"
                 "'parallel_tool_calls':true,'functions':[{'name':'get_weather','description':'d',"
                 "'parameters':{'type':'object','properties':{'city':{'type':'string'}}}},"
                 "{'name':'get_time'}]%s}",
                 cases[i].call);
        json_object *req = q(text);
        assert_true(oai_legacy_to_tools(req));
        assert_null(at(req, "functions"));
        assert_null(at(req, "function_call"));
        same_json(at(req, "tools"),
                  "[{'type':'function','function':{'name':'get_weather','description':'d',"
                  "'parameters':{'type':'object','properties':{'city':{'type':'string'}}}}},"
                  "{'type':'function','function':{'name':'get_time'}}]");
        if (*cases[i].choice)
            same_json(at(req, "tool_choice"), cases[i].choice);
        else
            assert_null(at(req, "tool_choice")); /* OpenAI's default with functions: auto */
        /* one call fits the legacy answer, whatever the client asked */
        same_json(at(req, "parallel_tool_calls"), "false");
        json_object_put(req);
    }
}

static void a_request_without_functions_is_left_alone(void **state)
{
    (void)state;
    json_object *req = q("{'model':'m','messages':[{'role':'user','content':'hi'},"
                         "{'role':'assistant','content':null,'tool_calls':[{'id':'call_1',"
                         "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
                         "{'role':'tool','tool_call_id':'call_1','content':'ok'}],"
                         "'tools':[{'type':'function','function':{'name':'f'}}]}");
    json_object *msgs = at(req, "messages");
    const char *before = xstrdup(json_object_to_json_string_ext(req, JSONV_OUT));
    assert_false(oai_legacy_to_tools(req));
    assert_ptr_equal(at(req, "messages"), msgs); /* not even copied */
    assert_string_equal(json_object_to_json_string_ext(req, JSONV_OUT), before);
    free((void *)before);
    json_object_put(req);
}

/* The history of a legacy client, resent in full: the calls get ids by
 * position and their results pair with them; a stored answer (tool_calls
 * with the upstream's ids) pairs by name; a result with no call is left. */
static const char HISTORY[] =
    "{'model':'m','functions':[{'name':'get_weather'},{'name':'get_time'}],'messages':["
    "{'role':'user','content':'weather?'},"                                           /* 0 */
    "{'role':'assistant','content':null,'function_call':{'name':'get_weather',"
    "'arguments':'{\\'city\\':\\'Paris\\'}'}},"                                       /* 1 */
    "{'role':'function','name':'get_weather','content':'sunny'},"                   /* 2 */
    "{'role':'user','content':'and the time?'},"                                      /* 3 */
    "{'role':'assistant','content':'Both.','tool_calls':[{'id':'call_A','type':'function',"
    "'function':{'name':'get_weather','arguments':'{}'}},{'id':'call_B','type':'function',"
    "'function':{'name':'get_time','arguments':'{}'}}]},"                            /* 4 */
    "{'role':'function','name':'get_time','content':'noon'},"                        /* 5 */
    "{'role':'function','name':'get_weather','content':null},"                       /* 6 */
    "{'role':'function','name':'get_time','content':'again'},"                       /* 7 */
    "{'role':'user','content':'thanks'}]}";

static const char HISTORY_AS_TOOLS[] =
    "[{'role':'user','content':'weather?'},"
    "{'role':'assistant','content':null,'tool_calls':[{'id':'call_fn1','type':'function',"
    "'function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_fn1','content':'sunny'},"
    "{'role':'user','content':'and the time?'},"
    "{'role':'assistant','content':'Both.','tool_calls':[{'id':'call_A','type':'function',"
    "'function':{'name':'get_weather','arguments':'{}'}},{'id':'call_B','type':'function',"
    "'function':{'name':'get_time','arguments':'{}'}}]},"
    "{'role':'tool','tool_call_id':'call_B','content':'noon'},"
    "{'role':'tool','tool_call_id':'call_A','content':''},"
    "{'role':'function','name':'get_time','content':'again'},"
    "{'role':'user','content':'thanks'}]";

static void history_is_carried_as_tool_calls(void **state)
{
    (void)state;
    json_object *req = q(HISTORY);
    json_object *old = json_object_get(at(req, "messages"));
    const char *client = xstrdup(json_object_to_json_string_ext(old, JSONV_OUT));
    assert_true(oai_legacy_to_tools(req));
    same_json(at(req, "messages"), HISTORY_AS_TOOLS);
    /* The client's own messages are untouched: they are what a stored
     * conversation keeps. */
    assert_string_equal(json_object_to_json_string_ext(old, JSONV_OUT), client);
    /* The same history maps the same way every time. */
    json_object *again = q(HISTORY);
    assert_true(oai_legacy_to_tools(again));
    assert_true(json_object_equal(at(req, "messages"), at(again, "messages")));
    json_object_put(again);
    free((void *)client);
    json_object_put(old);
    json_object_put(req);
}

/* Without `functions` (a later turn that no longer offers them), the
 * history is still carried, and the answer is not in the legacy shape. */
static void history_without_functions(void **state)
{
    (void)state;
    json_object *req = q("{'model':'m','messages':[{'role':'user','content':'x'},"
                         "{'role':'assistant','content':null,'function_call':{'name':'f',"
                         "'arguments':'{}'}},{'role':'function','name':'f','content':'1'}]}");
    assert_false(oai_legacy_to_tools(req));
    same_json(at(req, "messages"),
              "[{'role':'user','content':'x'},"
              "{'role':'assistant','content':null,'tool_calls':[{'id':'call_fn1','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]},"
              "{'role':'tool','tool_call_id':'call_fn1','content':'1'}]");
    assert_null(at(req, "tools"));
    json_object_put(req);
}

/* A function message answers the call of its name, compared whole: "f\u0000b"
 * is not "f\u0000a", and the tool message carries the call's whole id. */
static void names_and_ids_with_nul(void **state)
{
    (void)state;
    json_object *req = q("{'model':'m','messages':[{'role':'user','content':'x'},"
                         "{'role':'assistant','content':null,'tool_calls':["
                         "{'id':'c\\u0000x','type':'function','function':{'name':'f\\u0000a','arguments':'{}'}},"
                         "{'id':'c\\u0000y','type':'function','function':{'name':'f\\u0000b','arguments':'{}'}}]},"
                         "{'role':'function','name':'f\\u0000b','content':'1'}]}");
    assert_false(oai_legacy_to_tools(req));
    same_json(json_object_array_get_idx(at(req, "messages"), 2),
              "{'role':'tool','tool_call_id':'c\\u0000y','content':'1'}");
    json_object_put(req);
}

/* ---- the answer ---------------------------------------------------------------- */

static struct axon_req r;
static FCGX_Request fcgi = {.ipcFd = -1};

static struct oai_out legacy_w; /* the chat writer's state */

static void start(struct answer *o, bool stream, bool legacy)
{
    params[0][0] = NULL;
    buf_reset(&out);
    out_error = 0;
    io_req_init(&r, &fcgi, &cfg);
    answer_init(o, &r, 1, stream, false, "gpt-4o", &oai_out_writer, &legacy_w);
    o->legacy_functions = legacy;
}

static void ev(struct answer *o, struct cev e)
{
    assert_int_equal(answer_event(o, 0, &e), 0);
}

#define S(x) .s = (x), .n = sizeof(x) - 1

/* Text, then two calls although one was asked for, as an upstream that
 * ignores parallel_tool_calls would answer. */
static void answer_events(struct answer *o, const char *finish)
{
    struct usage u = {.input = 3, .output = 4};
    ev(o, (struct cev){.kind = CEV_START, .s = "claude-x"});
    ev(o, (struct cev){.kind = CEV_TEXT, S("Let me check.")});
    ev(o, (struct cev){.kind = CEV_TOOL_START, S("call_01Ab"), .name = "get_weather", .name_n = 11, .tool = 0});
    ev(o, (struct cev){.kind = CEV_TOOL_ARGS, S("{\"city\":"), .tool = 0});
    ev(o, (struct cev){.kind = CEV_TOOL_ARGS, S("\"Paris\"}"), .tool = 0});
    ev(o, (struct cev){.kind = CEV_TOOL_START, S("call_02Cd"), .name = "get_time", .name_n = 8, .tool = 1});
    ev(o, (struct cev){.kind = CEV_TOOL_ARGS, S("{}"), .tool = 1});
    ev(o, (struct cev){.kind = CEV_FINISH, .finish = finish, .usage = &u});
}

static json_object *body_json(void)
{
    const char *sep = strstr(out.p, "\r\n\r\n");
    assert_non_null(sep);
    return q(sep + 4);
}

static void legacy_answer_has_function_call(void **state)
{
    (void)state;
    /* Claude's tool_use ends as "tool_calls"; an upstream saying "stop"
     * with a call is mapped so too, and both become "function_call". */
    const char *finishes[] = {"tool_calls", "stop"};
    for (size_t k = 0; k < 2; k++) {
        struct answer o;
            struct api_error e = {0};
        start(&o, false, true);
        answer_events(&o, finishes[k]);
        assert_int_equal(answer_finish(&o, &e), 0);
        json_object *c = body_json();
        json_object *ch = json_object_array_get_idx(at(c, "choices"), 0);
        json_object *m = at(ch, "message");
        same_json(at(ch, "finish_reason"), "'function_call'");
        same_json(at(m, "function_call"),
                  "{'name':'get_weather','arguments':'{\\\"city\\\":\\\"Paris\\\"}'}");
        assert_null(at(m, "tool_calls"));
        same_json(at(m, "content"), "'Let me check.'");
        /* What a conversation stores: the one call, with its real id, so
         * that the next turn's function message pairs with it. */
        json_object *stored = answer_message(&o, 0);
        same_json(at(stored, "tool_calls"),
                  "[{'id':'call_01Ab','type':'function','function':{'name':'get_weather',"
                  "'arguments':'{\\\"city\\\":\\\"Paris\\\"}'}}]");
        json_object_put(stored);
        json_object_put(c);
        answer_free(&o);
    }
}

static void tools_answer_is_unchanged(void **state)
{
    (void)state;
    struct answer o;
    struct api_error e = {0};
    start(&o, false, false);
    answer_events(&o, "tool_calls");
    assert_int_equal(answer_finish(&o, &e), 0);
    json_object *c = body_json();
    json_object *ch = json_object_array_get_idx(at(c, "choices"), 0);
    same_json(at(ch, "finish_reason"), "'tool_calls'");
    assert_null(at(at(ch, "message"), "function_call"));
    assert_int_equal(json_object_array_length(at(at(ch, "message"), "tool_calls")), 2);
    json_object_put(c);
    answer_free(&o);
}

/* A call cut by max_tokens keeps "length", as OpenAI's did. */
static void a_cut_call_keeps_length(void **state)
{
    (void)state;
    struct answer o;
    struct api_error e = {0};
    start(&o, false, true);
    answer_events(&o, "length");
    assert_int_equal(answer_finish(&o, &e), 0);
    json_object *c = body_json();
    json_object *ch = json_object_array_get_idx(at(c, "choices"), 0);
    same_json(at(ch, "finish_reason"), "'length'");
    same_json(at(at(at(ch, "message"), "function_call"), "name"), "'get_weather'");
    json_object_put(c);
    answer_free(&o);
}

/* The deltas of a stream, in order (the data: lines before [DONE]). */
static json_object *stream_deltas(json_object **finishes)
{
    json_object *deltas = json_object_new_array();
    *finishes = json_object_new_array();
    const char *p = strstr(out.p, "\r\n\r\n");
    assert_non_null(p);
    while ((p = strstr(p, "data: ")) != NULL) {
        p += 6;
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        if (strncmp(p, "[DONE]", 6)) {
            char *line = xstrndup(p, (size_t)(end - p));
            json_object *chunk = NULL;
            assert_int_equal(jsonv_parse(line, strlen(line), JSONV_MAX_DEPTH, &chunk), 0);
            json_object *ch = json_object_array_get_idx(at(chunk, "choices"), 0);
            json_object_array_add(deltas, json_object_get(at(ch, "delta")));
            json_object_array_add(*finishes, json_object_get(at(ch, "finish_reason")));
            json_object_put(chunk);
            free(line);
        }
        p = end;
    }
    return deltas;
}

static void legacy_stream_has_function_call_deltas(void **state)
{
    (void)state;
    struct answer o;
    struct api_error e = {0};
    start(&o, true, true);
    answer_events(&o, "tool_calls");
    assert_int_equal(answer_finish(&o, &e), 0);
    json_object *finishes = NULL, *deltas = stream_deltas(&finishes);
    same_json(deltas, "[{'role':'assistant','content':'','refusal':null},"
                      "{'content':'Let me check.'},"
                      "{'function_call':{'name':'get_weather','arguments':''}},"
                      "{'function_call':{'arguments':'{\\\"city\\\":'}},"
                      "{'function_call':{'arguments':'\\\"Paris\\\"}'}},"
                      "{}]");
    same_json(finishes, "[null,null,null,null,null,'function_call']");
    json_object_put(deltas);
    json_object_put(finishes);
    answer_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(functions_become_tools),
        cmocka_unit_test(a_request_without_functions_is_left_alone),
        cmocka_unit_test(history_is_carried_as_tool_calls),
        cmocka_unit_test(history_without_functions),
        cmocka_unit_test(names_and_ids_with_nul),
        cmocka_unit_test(legacy_answer_has_function_call),
        cmocka_unit_test(tools_answer_is_unchanged),
        cmocka_unit_test(a_cut_call_keeps_length),
        cmocka_unit_test(legacy_stream_has_function_call_deltas),
    };
    int rc = cmocka_run_group_tests_name("legacy", tests, NULL, NULL);
    buf_free(&out);
    return rc;
}
