/* test_models.c - the model table: etc/models.conf itself, and the mistakes
 * an operator can make in it, each reported with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "models.h"

static void shipped_table_has_models_and_aliases(void **state)
{
    (void)state;
    struct model_table t;
    char err[256] = "";
    assert_int_equal(models_load(&t, AXON_MODELS_DEFAULT, err, sizeof err), 0);
    static const char *const claude[] = {"claude-opus-4-6", "claude-sonnet-4-6",
                                         "claude-haiku-4-5"};
    for (size_t i = 0; i < 3; i++) {
        const struct model *m = models_find(&t, claude[i]);
        assert_non_null(m);
        assert_false(m->alias);
        assert_string_equal(m->upstream_id, claude[i]);
        assert_true(m->max_tokens >= 1 && m->max_tokens <= m->max_output);
    }
    static const struct {
        const char *alias, *target;
    } aliases[] = {{"gpt-4", "claude-opus-4-6"},        {"gpt-4o", "claude-sonnet-4-6"},
                   {"gpt-4-turbo", "claude-sonnet-4-6"}, {"gpt-3.5-turbo", "claude-haiku-4-5"},
                   {"gpt-4o-mini", "claude-haiku-4-5"}};
    for (size_t i = 0; i < 5; i++) {
        const struct model *m = models_find(&t, aliases[i].alias);
        assert_non_null(m);
        assert_true(m->alias);
        /* The upstream receives the Claude name, not the alias. */
        assert_string_equal(m->upstream_id, aliases[i].target);
        assert_string_equal(m->target->id, aliases[i].target);
        assert_int_equal(m->max_output, m->target->max_output);
    }
    assert_null(models_find(&t, "gpt-5"));
    models_free(&t);
}

/* Today's line-up (the SDK's Model union) with each model's rules, as
 * ../shared/notes/claude-today.md states them. */
static void shipped_table_states_todays_rules(void **state)
{
    (void)state;
    struct model_table t;
    char err[256] = "";
    assert_int_equal(models_load(&t, AXON_MODELS_DEFAULT, err, sizeof err), 0);
    static const struct {
        const char *id;
        enum sampling_rule sampling;
        bool prefill;
        enum thinking_style thinking;
        long max_output;
    } want[] = {
        {"claude-sonnet-5", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-fable-5", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-mythos-5", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-opus-5", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-opus-4-8", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-opus-4-7", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-mythos-preview", SAMPLING_DEFAULT, false, THINKING_ADAPTIVE, 128000},
        {"claude-opus-4-6", SAMPLING_ONE, false, THINKING_ADAPTIVE, 128000},
        {"claude-sonnet-4-6", SAMPLING_ONE, false, THINKING_BUDGET, 64000},
        {"claude-haiku-4-5", SAMPLING_ONE, true, THINKING_BUDGET, 64000},
        {"claude-haiku-4-5-20251001", SAMPLING_ONE, true, THINKING_BUDGET, 64000},
        {"claude-opus-4-5", SAMPLING_ONE, true, THINKING_BUDGET, 64000},
        {"claude-sonnet-4-5-20250929", SAMPLING_ONE, true, THINKING_BUDGET, 64000},
        {"gpt-4o", SAMPLING_ONE, false, THINKING_BUDGET, 64000},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct model *m = models_find(&t, want[i].id);
        if (!m)
            fail_msg("%s is not in the table", want[i].id);
        if (m->caps.sampling != want[i].sampling || m->caps.prefill != want[i].prefill ||
            m->caps.thinking != want[i].thinking || m->max_output != want[i].max_output)
            fail_msg("%s: sampling %d prefill %d thinking %d max_output %ld", want[i].id,
                     m->caps.sampling, m->caps.prefill, m->caps.thinking, m->max_output);
        /* effort levels only where thinking is adaptive, and max on every one */
        assert_true((m->caps.efforts != 0) == (m->caps.thinking == THINKING_ADAPTIVE));
        if (m->caps.efforts)
            assert_true(m->caps.efforts & (1u << EFFORT_MAX));
    }
    assert_false(models_find(&t, "claude-opus-4-6")->caps.efforts & (1u << EFFORT_XHIGH));
    assert_true(models_find(&t, "claude-opus-4-7")->caps.efforts & (1u << EFFORT_XHIGH));
    models_free(&t);
}

/* The capability keys: defaults, every value, and the mistakes. */
static void capability_keys(void **state)
{
    (void)state;
    struct model_table t;
    char err[256] = "";
    assert_int_equal(models_parse(&t,
                                  "model a provider=anthropic max_tokens=1 max_output=2\n"
                                  "model b provider=anthropic max_tokens=1 max_output=2 sampling=default "
                                  "prefill=no thinking=adaptive thinks_unasked=always effort=max,low\n"
                                  "model c provider=anthropic max_tokens=1 max_output=2 thinking=none\n"
                                  "alias d b\n",
                                  "t", err, sizeof err), 0);
    const struct model *m = models_find(&t, "a");
    assert_int_equal(m->caps.sampling, SAMPLING_ANY);
    assert_true(m->caps.prefill);
    assert_int_equal(m->caps.thinking, THINKING_BUDGET);
    assert_int_equal(m->caps.unasked, UNASKED_NO);
    assert_int_equal(m->caps.efforts, 0);
    m = models_find(&t, "d"); /* an alias has its model's rules */
    assert_int_equal(m->caps.sampling, SAMPLING_DEFAULT);
    assert_false(m->caps.prefill);
    assert_int_equal(m->caps.thinking, THINKING_ADAPTIVE);
    assert_int_equal(m->caps.unasked, UNASKED_ALWAYS);
    assert_int_equal(m->caps.efforts, (1u << EFFORT_MAX) | (1u << EFFORT_LOW));
    assert_int_equal(models_find(&t, "c")->caps.thinking, THINKING_NONE);
    models_free(&t);
    assert_string_equal(models_effort_name(EFFORT_XHIGH), "xhigh");
    assert_int_equal(models_effort_level("medium"), EFFORT_MEDIUM);
    assert_int_equal(models_effort_level("minimal"), -1);

    static const struct {
        const char *text, *want;
    } cases[] = {
        {"model a provider=anthropic max_tokens=1 max_output=2 sampling=some\n",
         "t line 1: sampling= takes any, one or default"},
        {"model a provider=anthropic max_tokens=1 max_output=2 prefill=maybe\n",
         "t line 1: prefill= takes yes or no"},
        {"model a provider=anthropic max_tokens=1 max_output=2 thinking=on\n",
         "t line 1: thinking= takes none, budget or adaptive"},
        {"model a provider=anthropic max_tokens=1 max_output=2 thinks_unasked=often\n",
         "t line 1: thinks_unasked= takes no, yes or always"},
        {"model a provider=anthropic max_tokens=1 max_output=2 thinking=adaptive effort=low,huge\n",
         "t line 1: effort= takes none or a comma-separated list"},
        {"model a provider=anthropic max_tokens=1 max_output=2 thinking=adaptive effort=low,\n",
         "t line 1: effort= takes none"},
        {"model a provider=anthropic max_tokens=1 max_output=2 effort=low\n",
         "t line 1: effort= needs thinking=adaptive"},
        {"model a provider=anthropic max_tokens=1 max_output=2 thinking=none thinks_unasked=yes\n",
         "t line 1: thinks_unasked= needs a model that thinks"},
        {"model a provider=openai prefill=no\n", "t line 1: sampling=, prefill=, thinking="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(models_parse(&t, cases[i].text, "t", err, sizeof err), -1);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
    }
}

static void mistakes_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"model a provider=anthropic max_tokens=1 max_output=2\nalias b c\n",
         "alias 'b' names 'c', which is not a model"},
        {"model a provider=anthropic max_tokens=1 max_output=2\nmodel a provider=anthropic "
         "max_tokens=1 max_output=2\n", "t line 2: 'a' is defined twice"},
        {"model a provider=vllm\n", "t line 1: unknown provider 'vllm'"},
        {"model a provider=anthropic server=gpu\n", "t line 1: server= is for provider=openai"},
        {"model a provider=openai server=gpu\n", "model 'a' names server 'gpu', which no server"},
        {"server gpu\n", "t line 1: server 'gpu' needs url="},
        {"server GPU url=http://x\n", "t line 1: server needs a name"},
        {"server vllm url=http://x:1\n", "server name 'vllm' is reserved"},
        {"server g url=ftp://x\n", "t line 1: url= needs an http"},
        {"server g url=http://x:1 health=health\n", "t line 1: health= needs a path"},
        {"server g url=http://x:1\nserver g url=http://y:1\n", "t line 2: server 'g' is defined twice"},
        {"model a max_tokens=1 max_output=2\n", "t line 1: provider= is required"},
        {"model a provider=anthropic max_tokens=9 max_output=2\n", "t line 1: need 1 <= max_tokens"},
        {"model a provider=anthropic colour=blue\n", "t line 1: unknown key 'colour'"},
        {"\n# only a comment\nmodle a\n", "t line 3: expected 'model', 'alias' or 'server'"},
        {"model a\"b provider=anthropic\n", "t line 1: missing or bad model id"},
        {"model a provider=anthropic max_tokens=1 max_output=2\nalias b a\nalias c b\n",
         "alias 'c' names 'b', which is not a model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct model_table t;
        char err[256] = "";
        assert_int_equal(models_parse(&t, cases[i].text, "t", err, sizeof err), -1);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
        assert_int_equal(t.n, 0);
    }
}

/* OpenAI-compatible models and servers: what routing and the monitor read. */
static void servers_and_openai_models(void **state)
{
    (void)state;
    struct model_table t;
    char err[256] = "";
    static const char text[] =
        "server gpu2 url=http://10.0.0.2:8000/v1/ key_env=GPU2_KEY health=/health\n"
        "model coder provider=openai upstream=Qwen/Qwen3-Coder context=65536\n"
        "model llama provider=openai server=gpu2 max_tokens=512 max_output=4096\n"
        "alias fast llama\n";
    assert_int_equal(models_parse(&t, text, "t", err, sizeof err), 0);
    assert_int_equal(t.nservers, 1);
    assert_string_equal(t.servers[0].name, "gpu2");
    assert_string_equal(t.servers[0].base_url, "http://10.0.0.2:8000"); /* /v1 and / cut */
    assert_string_equal(t.servers[0].key_env, "GPU2_KEY");
    assert_string_equal(t.servers[0].health, "/health");
    const struct model *m = models_find(&t, "coder");
    assert_non_null(m);
    assert_int_equal(m->provider, PROVIDER_OPENAI);
    assert_string_equal(m->server, "vllm");
    assert_string_equal(m->upstream_id, "Qwen/Qwen3-Coder");
    assert_int_equal(m->max_tokens, 0); /* none sent: the server decides */
    m = models_find(&t, "fast");
    assert_non_null(m);
    assert_string_equal(m->server, "gpu2");
    assert_int_equal(m->max_tokens, 512);
    models_free(&t);
    /* A table of servers only (models come from the servers' lists). */
    assert_int_equal(models_parse(&t, "# none\n", "t", err, sizeof err), 0);
    assert_int_equal(t.n, 0);
    models_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_table_has_models_and_aliases),
        cmocka_unit_test(shipped_table_states_todays_rules),
        cmocka_unit_test(capability_keys),
        cmocka_unit_test(servers_and_openai_models),
        cmocka_unit_test(mistakes_name_the_line),
    };
    return cmocka_run_group_tests_name("models", tests, NULL, NULL);
}
