/* test_claude_rules.c - today's Messages API rules, per model, as the
 * translator applies them from the model table's capabilities
 * (../shared/notes/claude-today.md): sampling, prefill, thinking and
 * effort, the scoped user id. Each model here is a line of etc/models.conf,
 * parsed, so the table's keys are tested with the behaviour they select. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "buf.h"
#include "jsonv.h"
#include "models.h"

/* The table the tests translate for: one model per rule set. */
static const char TABLE[] =
    "model old    provider=anthropic max_tokens=8192 max_output=64000 context=200000\n"
    "model one    provider=anthropic max_tokens=8192 max_output=64000 context=200000 "
    "sampling=one prefill=no thinking=budget\n"
    "model new    provider=anthropic max_tokens=16384 max_output=128000 context=200000 "
    "sampling=default prefill=no thinking=adaptive effort=low,medium,high,xhigh,max\n"
    "model few    provider=anthropic max_tokens=16384 max_output=128000 context=200000 "
    "sampling=one prefill=no thinking=adaptive effort=low,medium,high,max\n"
    "model eager  provider=anthropic max_tokens=8192 max_output=64000 context=200000 "
    "thinking=budget thinks_unasked=yes\n"
    "model always provider=anthropic max_tokens=16384 max_output=128000 context=200000 "
    "thinking=adaptive thinks_unasked=always effort=high\n"
    "model plain  provider=anthropic max_tokens=4096 max_output=8192 context=200000 "
    "thinking=none\n";

static struct model_table table;
static char ctx[600];

static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    int rc = models_parse(&table, TABLE, "t", err, sizeof err);
    if (rc)
        fprintf(stderr, "table: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    models_free(&table);
    return 0;
}

/* Test JSON is written with ' for ". Returns new. */
static json_object *q(const char *text)
{
    char *s = xstrdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o) != AXON_OK)
        fail_msg("test JSON does not parse: %s", s);
    free(s);
    return o;
}

/* The Messages body model sends for the OpenAI request oai (returns new);
 * info receives the plan, with what was left out. */
static json_object *translate(const char *model, const char *oai, struct chat_plan *info)
{
    snprintf(ctx, sizeof ctx, "%s: %.500s", model, oai);
    const struct model *m = models_find(&table, model);
    assert_non_null(m);
    json_object *req = q(oai);
    struct buf b = BUF_INIT(1u << 24);
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc = anthropic_request(req, m, &b, info, &e);
    json_object_put(req);
    if (rc)
        fail_msg("%s: refused: %s", ctx, e.message);
    json_object *o = NULL;
    if (jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &o))
        fail_msg("%s: body does not parse", ctx);
    buf_free(&b);
    return o;
}

/* The member at a dotted path, or NULL. Borrowed from o. */
static json_object *at(json_object *o, const char *path)
{
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        json_object *next = NULL;
        if (json_object_is_type(o, json_type_array))
            next = json_object_array_get_idx(o, strtoul(key, NULL, 10));
        else if (!json_object_object_get_ex(o, key, &next))
            next = NULL;
        o = next;
        path += n + (path[n] == '.');
    }
    return o;
}

static void expect_str(json_object *o, const char *path, const char *want)
{
    json_object *v = at(o, path);
    const char *got = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                     : NULL;
    if (!got || strcmp(got, want))
        fail_msg("%s\n  %s is %s, want %s", ctx, path,
                 v ? json_object_to_json_string(v) : "absent", want);
}

static void expect_num(json_object *o, const char *path, double want)
{
    json_object *v = at(o, path);
    if (!v || json_object_get_double(v) != want)
        fail_msg("%s\n  %s is %s, want %g", ctx, path,
                 v ? json_object_to_json_string(v) : "absent", want);
}

static void expect_absent(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    if (v)
        fail_msg("%s\n  %s should be absent, is %s", ctx, path, json_object_to_json_string(v));
}

static void expect_ignored(const struct chat_plan *info, const char *want)
{
    if (strcmp(info->ignored, want))
        fail_msg("%s\n  ignored is '%s', want '%s'", ctx, info->ignored, want);
}

#define HI "'messages':[{'role':'user','content':'hi'}]"

/* Sonnet 4.5 and later refuse temperature with top_p: temperature is kept. */
static void sampling_one_of_the_pair(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("one", "{'model':'x','temperature':0.5,'top_p':0.9," HI "}", &info);
    expect_num(o, "temperature", 0.5);
    expect_absent(o, "top_p");
    expect_ignored(&info, "top_p");
    json_object_put(o);
    o = translate("one", "{'model':'x','top_p':0.9,'top_k':5," HI "}", &info);
    expect_num(o, "top_p", 0.9);
    expect_num(o, "top_k", 5);
    expect_ignored(&info, "");
    json_object_put(o);
    /* A model without the rule takes the pair. */
    o = translate("old", "{'model':'x','temperature':0.5,'top_p':0.9," HI "}", &info);
    expect_num(o, "temperature", 0.5);
    expect_num(o, "top_p", 0.9);
    expect_ignored(&info, "");
    json_object_put(o);
}

/* Models after Opus 4.6 take temperature 1 only, top_p from 0.99, no top_k. */
static void sampling_defaults_only(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("new", "{'model':'x','temperature':0.5,'top_p':0.5,'top_k':3," HI
                                      "}", &info);
    expect_absent(o, "temperature");
    expect_absent(o, "top_p");
    expect_absent(o, "top_k");
    expect_ignored(&info, "temperature, top_p, top_k");
    json_object_put(o);
    o = translate("new", "{'model':'x','top_p':0.995," HI "}", &info);
    expect_num(o, "top_p", 0.995);
    expect_ignored(&info, "");
    json_object_put(o);
    o = translate("new", "{'model':'x','temperature':1," HI "}", &info);
    expect_num(o, "temperature", 1);
    expect_ignored(&info, "");
    json_object_put(o);
    /* Both at their defaults are still a pair. */
    o = translate("new", "{'model':'x','temperature':1,'top_p':1," HI "}", &info);
    expect_num(o, "temperature", 1);
    expect_absent(o, "top_p");
    expect_ignored(&info, "top_p");
    json_object_put(o);
}

/* Opus and Sonnet 4.6 and later refuse a final assistant message: it stays
 * as history and a user turn asks Claude to continue it. */
static void prefill_becomes_a_continuation(void **state)
{
    (void)state;
    static const char req[] = "{'model':'x','messages':[{'role':'user','content':'Write a haiku'},"
                              "{'role':'assistant','content':'Autumn '}]}";
    struct chat_plan info;
    json_object *o = translate("one", req, &info);
    json_object *msgs = at(o, "messages");
    assert_int_equal(json_object_array_length(msgs), 3);
    expect_str(o, "messages.1.role", "assistant");
    expect_str(o, "messages.1.content.0.text", "Autumn");
    expect_str(o, "messages.2.role", "user");
    json_object *t = at(o, "messages.2.content.0.text");
    assert_non_null(strstr(json_object_get_string(t), "Continue"));
    json_object_put(o);
    /* A model that takes a prefill gets one. */
    o = translate("old", req, &info);
    assert_int_equal(json_object_array_length(at(o, "messages")), 2);
    expect_str(o, "messages.1.role", "assistant");
    json_object_put(o);
    /* A history ending with the user's turn is left alone. */
    o = translate("one", "{'model':'x'," HI "}", &info);
    assert_int_equal(json_object_array_length(at(o, "messages")), 1);
    json_object_put(o);
}

/* Adaptive models get {type: adaptive} and the nearest effort they take;
 * budget models {type: enabled, budget_tokens}. */
static void thinking_by_style(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("one", "{'model':'x','reasoning_effort':'high'," HI "}", &info);
    expect_str(o, "thinking.type", "enabled");
    expect_num(o, "thinking.budget_tokens", 8192);
    expect_absent(o, "output_config");
    json_object_put(o);

    o = translate("new", "{'model':'x','reasoning_effort':'high'," HI "}", &info);
    expect_str(o, "thinking.type", "adaptive");
    expect_str(o, "thinking.display", "summarized");
    expect_absent(o, "thinking.budget_tokens");
    expect_str(o, "output_config.effort", "high");
    json_object_put(o);
    /* minimal is low; xhigh where the model stops at high and max goes down. */
    o = translate("new", "{'model':'x','reasoning_effort':'minimal'," HI "}", &info);
    expect_str(o, "output_config.effort", "low");
    json_object_put(o);
    o = translate("few", "{'model':'x','reasoning_effort':'xhigh'," HI "}", &info);
    expect_str(o, "output_config.effort", "high");
    json_object_put(o);
    /* A budget stands for an effort; display is the client's. */
    o = translate("new", "{'model':'x','thinking':{'type':'enabled','budget_tokens':30000}," HI
                         "}", &info);
    expect_str(o, "thinking.type", "adaptive");
    expect_str(o, "output_config.effort", "max");
    json_object_put(o);
    o = translate("new", "{'model':'x','thinking':{'type':'adaptive','display':'omitted'}," HI
                         "}", &info);
    expect_str(o, "thinking.display", "omitted");
    expect_absent(o, "output_config");
    json_object_put(o);
    /* The effort and a structured-output format share output_config. */
    o = translate("new", "{'model':'x','reasoning_effort':'low','response_format':{'type':"
                         "'json_schema','json_schema':{'name':'s','schema':{'type':'object'}}},"
                  HI "}", &info);
    expect_str(o, "output_config.effort", "low");
    expect_str(o, "output_config.format.type", "json_schema");
    json_object_put(o);
    /* Thinking allows temperature 1 only: a client's 0.5 is dropped and said. */
    o = translate("old", "{'model':'x','reasoning_effort':'low','temperature':0.5," HI "}", &info);
    expect_absent(o, "temperature");
    expect_ignored(&info, "temperature");
    json_object_put(o);
}

/* Turning thinking off: {type: disabled} only where the model would think
 * unasked; a model that always thinks cannot be turned off (said so). */
static void thinking_off(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("eager", "{'model':'x','thinking':false," HI "}", &info);
    expect_str(o, "thinking.type", "disabled");
    expect_ignored(&info, "");
    json_object_put(o);
    o = translate("eager", "{'model':'x','temperature':0.3," HI "}", &info);
    expect_absent(o, "thinking"); /* it thinks by itself: sampling as when thinking */
    expect_absent(o, "temperature");
    expect_ignored(&info, "temperature");
    json_object_put(o);
    /* Asked nothing but forced to call a tool: thinking off, the tool forced. */
    o = translate("eager", "{'model':'x','tool_choice':'required','tools':[{'type':'function',"
                           "'function':{'name':'f','parameters':{'type':'object'}}}]," HI "}",
                  &info);
    expect_str(o, "thinking.type", "disabled");
    expect_str(o, "tool_choice.type", "any");
    json_object_put(o);
    o = translate("old", "{'model':'x','reasoning_effort':'none'," HI "}", &info);
    expect_absent(o, "thinking");
    expect_ignored(&info, "");
    json_object_put(o);
    o = translate("always", "{'model':'x','reasoning_effort':'none'," HI "}", &info);
    expect_absent(o, "thinking");
    expect_ignored(&info, "reasoning_effort");
    json_object_put(o);
    o = translate("plain", "{'model':'x','thinking':true,'temperature':0.3," HI "}", &info);
    expect_absent(o, "thinking");
    expect_num(o, "temperature", 0.3);
    expect_ignored(&info, "thinking");
    json_object_put(o);
}

/* An e-mail address never reaches metadata.user_id; an opaque id does. */
static void user_scoped_to_the_key(void **state)
{
    (void)state;
    json_object *a = q("{'user':'ann@example.com','safety_identifier':'Ann Smith'}");
    json_object *b = q("{'user':'ann@example.com'}");
    json_object *c = q("{'user':'ann@example.com'}");
    json_object *d = q("{'user':'user_123-A'}");
    anthropic_scope_user(a, "0123456789abcdef");
    anthropic_scope_user(b, "0123456789abcdef");
    anthropic_scope_user(c, "fedcba9876543210");
    anthropic_scope_user(d, "0123456789abcdef");
    const char *ua = json_object_get_string(at(a, "user"));
    assert_int_equal(strlen(ua), 5 + 32);
    assert_memory_equal(ua, "axon-", 5);
    assert_null(strchr(ua, '@'));
    assert_string_equal(ua, json_object_get_string(at(b, "user")));     /* stable */
    assert_string_not_equal(ua, json_object_get_string(at(c, "user"))); /* per key */
    assert_string_not_equal(json_object_get_string(at(a, "safety_identifier")), "Ann Smith");
    assert_string_equal(json_object_get_string(at(d, "user")), "user_123-A");
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

/* anthropic_thinks (which decides whether chat.c restores signed thinking
 * for a resent tool turn, or turns thinking off) says what the body does,
 * for every model style and every way of asking. */
static void thinks_agrees_with_the_body(void **state)
{
    (void)state;
    static const char *const models[] = {"old", "one", "new", "few", "eager", "always", "plain"};
    static const char *const asks[] = {
        "",
        ",'reasoning_effort':'low'",
        ",'reasoning_effort':'none'",
        ",'thinking':true",
        ",'thinking':false",
        ",'thinking':{'type':'enabled','budget_tokens':2048}",
        ",'thinking':{'type':'adaptive'}",
        ",'thinking':{'type':'disabled'}",
    };
    char oai[256];
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        const struct model *m = models_find(&table, models[i]);
        assert_non_null(m);
        for (size_t k = 0; k < sizeof asks / sizeof *asks; k++) {
            snprintf(oai, sizeof oai, "{'messages':[{'role':'user','content':'hi'}]%s}", asks[k]);
            struct chat_plan info;
            memset(&info, 0, sizeof info);
            json_object *body = translate(models[i], oai, &info);
            const char *type = json_object_get_string(at(body, "thinking.type"));
            bool on = type && strcmp(type, "disabled");
            if (!strcmp(models[i], "always"))
                on = on || !type; /* told nothing, it thinks anyway */
            else if (!strcmp(models[i], "eager"))
                on = on || !type; /* thinks unless sent disabled */
            json_object *req = q(oai);
            if (anthropic_thinks(req, m) != on)
                fail_msg("%s: anthropic_thinks says %d, the body %s", ctx, !on,
                         json_object_to_json_string(at(body, "thinking")));
            json_object_put(req);
            json_object_put(body);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sampling_one_of_the_pair),
        cmocka_unit_test(sampling_defaults_only),
        cmocka_unit_test(prefill_becomes_a_continuation),
        cmocka_unit_test(thinking_by_style),
        cmocka_unit_test(thinking_off),
        cmocka_unit_test(user_scoped_to_the_key),
        cmocka_unit_test(thinks_agrees_with_the_body),
    };
    return cmocka_run_group_tests_name("claude_rules", tests, setup, teardown);
}
