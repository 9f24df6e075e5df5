/* The validators of the two shapes passthru.c sends on: CreateEmbeddingRequest
 * and CreateCompletionRequest. What the spec accepts passes, with every
 * input shape the clients send (a string, strings, token ids, token
 * arrays); each mistake gets OpenAI's status, code, param and words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "errors.h"
#include "jsonv.h"
#include "oai_validate.h"

typedef int (*validate_fn)(json_object *req, bool allow_unknown, struct api_error *e);

/* Bodies are written with ' for " to stay readable. */
static json_object *parse(const char *body)
{
    char *s = xstrdup(body);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o) != AXON_OK)
        fail_msg("test body is not JSON: %s", s);
    free(s);
    return o;
}

static int run(validate_fn fn, const char *body, bool allow_unknown, struct api_error *e)
{
    json_object *o = parse(body);
    memset(e, 0, sizeof *e);
    int rc = fn(o, allow_unknown, e);
    json_object_put(o);
    return rc;
}

static void expect_ok(validate_fn fn, const char *body, bool allow_unknown)
{
    struct api_error e;
    if (run(fn, body, allow_unknown, &e) != AXON_OK)
        fail_msg("refused: %s\n  -> %s | %s | %s", body, e.code ? e.code : "null", e.param,
                 e.message);
}

/* code and param NULL mean JSON null; message NULL: not checked. */
static void expect_bad(validate_fn fn, const char *body, bool allow_unknown, const char *code,
                       const char *param, const char *message)
{
    struct api_error e;
    int rc = run(fn, body, allow_unknown, &e);
    bool same = rc == AXON_EINVAL && e.status == 400 && e.type &&
                strcmp(e.type, ERR_INVALID_REQUEST) == 0 &&
                (code ? e.code && strcmp(e.code, code) == 0 : !e.code) &&
                strcmp(e.param, param ? param : "") == 0 &&
                (!message || strcmp(e.message, message) == 0);
    if (!same)
        fail_msg("body: %s\n  want: %s | %s | %s\n  got:  rc %d, %d %s | %s | %s", body,
                 code ? code : "null", param ? param : "null", message ? message : "(any)", rc,
                 e.status, e.code ? e.code : "null", e.param, e.message);
}

#define E oai_validate_embedding
#define C oai_validate_completion
static const char BAD_INPUT[] = "'$.input' is invalid. Please check the API reference: "
                                "https://platform.openai.com/docs/api-reference.";

static void embedding_accepts_every_input_shape(void **state)
{
    (void)state;
    expect_ok(E, "{'model':'m','input':'hi'}", false);
    expect_ok(E, "{'model':'m','input':['a','b']}", false);
    expect_ok(E, "{'model':'m','input':[1,2,3]}", false);
    expect_ok(E, "{'model':'m','input':[[1,2],[3]]}", false);
    expect_ok(E, "{'model':'m','input':'hi','encoding_format':'base64','dimensions':256,"
                 "'user':'u'}", false);
    /* An OpenAI-compatible upstream's own fields (vLLM's truncate_prompt_tokens). */
    expect_ok(E, "{'model':'m','input':'hi','truncate_prompt_tokens':8}", true);
}

static void embedding_refuses_in_openai_words(void **state)
{
    (void)state;
    expect_bad(E, "{'input':'hi'}", false, "missing_required_parameter", "model",
               "Missing required parameter: 'model'.");
    expect_bad(E, "{'model':'m'}", false, "missing_required_parameter", "input",
               "Missing required parameter: 'input'.");
    expect_bad(E, "{'model':'m','input':''}", false, NULL, NULL, BAD_INPUT);
    expect_bad(E, "{'model':'m','input':['a','']}", false, NULL, NULL, BAD_INPUT);
    expect_bad(E, "{'model':'m','input':['a',1]}", false, NULL, NULL, BAD_INPUT);
    expect_bad(E, "{'model':'m','input':[[1],2]}", false, NULL, NULL, BAD_INPUT);
    expect_bad(E, "{'model':'m','input':[]}", false, "empty_array", "input", NULL);
    expect_bad(E, "{'model':'m','input':[[1],[]]}", false, "empty_array", "input[1]", NULL);
    expect_bad(E, "{'model':'m','input':[1,-2]}", false, "integer_below_min_value", "input[1]",
               NULL);
    expect_bad(E, "{'model':'m','input':[true]}", false, "invalid_type", "input[0]", NULL);
    expect_bad(E, "{'model':'m','input':7}", false, "invalid_type", "input", NULL);
    expect_bad(E, "{'model':'m','input':'hi','encoding_format':'int8'}", false, "invalid_value",
               "encoding_format", "Invalid value: 'int8'. Supported values are: 'float' and "
               "'base64'.");
    expect_bad(E, "{'model':'m','input':'hi','dimensions':0}", false, "integer_below_min_value",
               "dimensions", NULL);
    expect_bad(E, "{'model':'m','input':'hi','dimensions':null}", false, "invalid_type",
               "dimensions", NULL);
    expect_bad(E, "{'model':'m','input':'hi','truncate_prompt_tokens':8}", false, NULL, NULL,
               "Unrecognized request argument supplied: truncate_prompt_tokens");
}

/* 2048 inputs at most: the spec's maxItems, OpenAI's "array too long". */
static void embedding_caps_the_inputs(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(buf_puts(&b, "{'model':'m','input':["), 0);
    for (int i = 0; i < 2049; i++)
        assert_int_equal(buf_puts(&b, i ? ",'x'" : "'x'"), 0);
    assert_int_equal(buf_puts(&b, "]}"), 0);
    expect_bad(E, b.p, false, "array_above_max_length", "input",
               "Invalid 'input': array too long. Expected an array with maximum length 2048, "
               "but got an array with length 2049 instead.");
    /* 2048 pass. */
    memcpy(b.p + b.len - 6, "]}\0", 3);
    b.len -= 4;
    expect_ok(E, b.p, false);
    buf_free(&b);
}

static void completion_accepts_the_spec(void **state)
{
    (void)state;
    expect_ok(C, "{'model':'m','prompt':'hi'}", false);
    expect_ok(C, "{'model':'m','prompt':''}", false); /* a prompt may be empty */
    expect_ok(C, "{'model':'m','prompt':null}", false);
    expect_ok(C, "{'model':'m','prompt':['a','b'],'n':2,'best_of':3,'echo':true,'logprobs':5,"
                 "'max_tokens':0,'stop':['x'],'suffix':'s','temperature':2,'top_p':1,"
                 "'presence_penalty':-2,'frequency_penalty':2,'seed':1,'logit_bias':{'50256':-100},"
                 "'user':'u'}", false);
    expect_ok(C, "{'model':'m','prompt':[[1,2]],'stream':true,'stream_options':"
                 "{'include_usage':true}}", false);
    expect_ok(C, "{'model':'m','prompt':'hi','min_p':0.1}", true);
}

static void completion_refuses_in_openai_words(void **state)
{
    (void)state;
    expect_bad(C, "{'model':'m'}", false, "missing_required_parameter", "prompt",
               "Missing required parameter: 'prompt'.");
    expect_bad(C, "{'model':'m','prompt':'hi','logprobs':6}", false, "integer_above_max_value",
               "logprobs", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','best_of':21}", false, "integer_above_max_value",
               "best_of", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','temperature':2.5}", false,
               "decimal_above_max_value", "temperature", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','stop':['a','b','c','d','e']}", false,
               "array_above_max_length", "stop", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','stream_options':{'include_usage':true}}", false,
               "invalid_value", "stream_options",
               "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    expect_bad(C, "{'model':'m','prompt':'hi','n':3,'best_of':2}", false, "invalid_value",
               "best_of", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','best_of':2,'stream':true}", false, "invalid_value",
               "best_of", NULL);
    expect_bad(C, "{'model':'m','prompt':'hi','min_p':0.1}", false, NULL, NULL,
               "Unrecognized request argument supplied: min_p");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedding_accepts_every_input_shape),
        cmocka_unit_test(embedding_refuses_in_openai_words),
        cmocka_unit_test(embedding_caps_the_inputs),
        cmocka_unit_test(completion_accepts_the_spec),
        cmocka_unit_test(completion_refuses_in_openai_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
