/* test_resp_tokens.c - POST /v1/responses/input_tokens, its pure parts: a
 * Responses body, parsed and translated as for POST /v1/responses, becomes
 * the body Claude's count_tokens takes (nothing it would refuse as an extra
 * input) or the body vLLM's /tokenize takes, and Axon's estimate is the
 * documented ceil(bytes / 4) of the messages and tools. */
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
#include "handlers.h"
#include "jsonv.h"
#include "models.h"
#include "openai.h"
#include "resp_in.h"
#include "resp_tokens.h"
#include "router.h"

static struct model_table table;

/* Test JSON is written with ' for ". Returns new. */
static json_object *q(const char *text)
{
    size_t n = strlen(text);
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i <= n; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    json_object *o = NULL;
    if (jsonv_parse(s, n, JSONV_MAX_DEPTH, &o) != AXON_OK)
        fail_msg("test JSON does not parse: %s", s);
    free(s);
    return o;
}

/* A Responses body through resp_parse and the model's provider: the
 * upstream body as it would be sent for an answer. Returns new. */
static json_object *translated(const char *body, const char *model)
{
    json_object *b = q(body), *chat = NULL;
    struct resp_meta meta;
    memset(&meta, 0, sizeof meta);
    struct api_error e;
    memset(&e, 0, sizeof e);
    if (resp_parse(b, NULL, &chat, &meta, &e))
        fail_msg("resp_parse refuses %s: %s", body, e.message);
    const struct model *m = models_find(&table, model);
    assert_non_null(m);
    struct buf out = BUF_INIT(1u << 24);
    struct chat_plan plan;
    memset(&plan, 0, sizeof plan);
    int rc = m->provider == PROVIDER_ANTHROPIC ? anthropic_request(chat, m, &out, &plan, &e)
                                               : openai_request(chat, m, &out, &plan, &e);
    if (rc)
        fail_msg("%s refuses %s: %s", model, body, e.message);
    json_object *ub = NULL;
    assert_int_equal(jsonv_parse(out.p, out.len, JSONV_MAX_DEPTH, &ub), AXON_OK);
    buf_free(&out);
    json_object_put(chat);
    json_object_put(b);
    resp_meta_free(&meta);
    return ub;
}

static const char BODY[] =
    "{'model':'%s','instructions':'Be brief.','input':'Tell me a joke.',"
    "'tools':[{'type':'function','name':'get_weather','parameters':{'type':'object',"
    "'properties':{'city':{'type':'string'}}}}],'tool_choice':'auto','max_output_tokens':4000,"
    "'temperature':0.5,'top_p':0.9,'metadata':{'a':'b'},'user':'u1','store':false,"
    "'reasoning':{'effort':'low'},'text':{'format':{'type':'json_object'}}}";

/* What MessageCountTokensParams (anthropic-sdk-typescript) allows. */
static bool count_field(const char *k)
{
    static const char *const ok[] = {"model", "messages", "system", "tools", "tool_choice",
                                     "thinking", "output_config", "cache_control"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(k, ok[i]))
            return true;
    return false;
}

static void claude_body_takes_only_what_count_tokens_takes(void **state)
{
    (void)state;
    char body[1024];
    snprintf(body, sizeof body, BODY, "claude-sonnet-4-6");
    json_object *ub = translated(body, "claude-sonnet-4-6");
    /* the Messages body has what count_tokens refuses ... */
    assert_non_null(jsonv_get(ub, "max_tokens"));
    json_object *cb = resp_tokens_claude_body(ub);
    json_object_object_foreach(cb, k, v) {
        (void)v;
        if (!count_field(k))
            fail_msg("count_tokens would refuse '%s': Extra inputs are not permitted", k);
    }
    /* ... and keeps what shapes the prompt, unchanged */
    static const char *const kept[] = {"model", "messages", "system", "tools", "tool_choice"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        json_object *a = jsonv_get(ub, kept[i]), *b = jsonv_get(cb, kept[i]);
        if (!a || !b)
            fail_msg("'%s' is missing", kept[i]);
        assert_string_equal(json_object_to_json_string_ext(a, JSONV_OUT),
                            json_object_to_json_string_ext(b, JSONV_OUT));
    }
    assert_null(jsonv_get(cb, "max_tokens"));
    assert_null(jsonv_get(cb, "temperature"));
    assert_null(jsonv_get(cb, "metadata"));
    json_object_put(cb);
    json_object_put(ub);
}

static void tokenize_body_is_model_messages_tools(void **state)
{
    (void)state;
    char body[1024];
    snprintf(body, sizeof body, BODY, "qwen");
    json_object *ub = translated(body, "qwen");
    json_object *tb = resp_tokens_tokenize_body(ub);
    assert_int_equal(json_object_object_length(tb), 3);
    assert_string_equal(jsonv_get_str(tb, "model"), "qwen");
    assert_int_equal(json_object_array_length(jsonv_get(tb, "messages")), 2);
    assert_non_null(jsonv_get(tb, "tools"));
    json_object_put(tb);
    json_object_put(ub);
}

static void estimate_is_bytes_over_four_rounded_up(void **state)
{
    (void)state;
    long long n = -1;
    /* 34 bytes of messages: [{"role":"user","content":"abcd"}] */
    json_object *b = q("{'model':'m','max_tokens':99,'messages':[{'role':'user','content':'abcd'}]}");
    assert_int_equal(resp_tokens_estimate(b, 1u << 20, &n), AXON_OK);
    assert_int_equal(n, 9); /* ceil(34 / 4) */
    json_object_put(b);
    /* tools count too: 34 + 12 ([{"a":"bc"}]) = 46 */
    b = q("{'messages':[{'role':'user','content':'abcd'}],'tools':[{'a':'bc'}],'stream':true}");
    assert_int_equal(resp_tokens_estimate(b, 1u << 20, &n), AXON_OK);
    assert_int_equal(n, 12); /* ceil(46 / 4) */
    json_object_put(b);
    /* nothing to count */
    b = q("{'model':'m'}");
    assert_int_equal(resp_tokens_estimate(b, 1u << 20, &n), AXON_OK);
    assert_int_equal(n, 0);
    json_object_put(b);
    /* past the cap */
    b = q("{'messages':[{'role':'user','content':'abcd'}]}");
    assert_int_equal(resp_tokens_estimate(b, 8, &n), AXON_ETOOBIG);
    json_object_put(b);
}

/* The exact route reaches the handler, never a "/v1/responses/" prefix
 * route reading "input_tokens" as a response id. */
static void route_is_exact(void **state)
{
    (void)state;
    const struct route *rt = NULL;
    const char *arg = NULL;
    char allow[64];
    assert_int_equal(router_match("POST", "/v1/responses/input_tokens", false, &rt, &arg, allow,
                                  sizeof allow),
                     ROUTE_FOUND);
    assert_ptr_equal(rt->fn, responses_input_tokens);
    assert_string_equal(arg, "");
    /* exact: a longer path is not this route (whatever else it may be) */
    rt = NULL;
    enum route_match m = router_match("POST", "/v1/responses/input_tokens/x", false, &rt, &arg,
                                      allow, sizeof allow);
    assert_true(m != ROUTE_FOUND || rt->fn != responses_input_tokens);
}

/* etc/models.conf, plus an OpenAI-compatible model as vLLM serves one. */
static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    FILE *f = fopen(AXON_MODELS_DEFAULT, "r");
    if (!f)
        return -1;
    struct buf text = BUF_INIT(1u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&text, chunk, n))
            break;
    fclose(f);
    int rc = buf_puts(&text, "\nmodel qwen provider=openai max_output=32768\n");
    if (!rc)
        rc = models_parse(&table, text.p, "models.conf", err, sizeof err);
    if (rc)
        fprintf(stderr, "models: %s\n", err);
    buf_free(&text);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    models_free(&table);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_body_takes_only_what_count_tokens_takes),
        cmocka_unit_test(tokenize_body_is_model_messages_tools),
        cmocka_unit_test(estimate_is_bytes_over_four_rounded_up),
        cmocka_unit_test(route_is_exact),
    };
    return cmocka_run_group_tests_name("resp_tokens", tests, setup, teardown);
}
