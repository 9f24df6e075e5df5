/* The Claude translators, driven by real transcripts.
 *
 * Answer side: every Anthropic transcript in the shared fixtures directory
 * ($AXON_FIXTURES, else tests/data/fixtures from the repository root, where
 * the mock looks too) goes through the SSE parser and anth_stream_event, or
 * through anth_message, into the answer and its chat writer (oai_out). The
 * fake libfcgi keeps the bytes the client would get, and the test reads
 * them back as an OpenAI client does:
 * the Status head, then the data: lines or the one chat.completion object.
 * The expectations below were written by reading each fixture. Every stream
 * is fed whole, a byte at a time and in random pieces (the SSE parser must
 * not care where the network cut it), with LF, CRLF and CR line endings,
 * and read as a stream with and without include_usage and as one
 * chat.completion.
 *
 * Request side: OpenAI requests through anthropic_request, the Messages body
 * read back and compared field by field; and the recorded exchanges'
 * requests, rewritten as the OpenAI request a client would have sent,
 * translated back and compared with what the Anthropic SDK really sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "buf.h"
#include "errors.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "models.h"
#include "oai_out.h"
#include "pcache.h"
#include "resp_out.h"
#include "sse.h"

#include "fake_fcgi.h"

static struct axon_config cfg;
static char ctx[512]; /* what is being checked, for failure messages */

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fail_msg("%s: %s", ctx, #cond);                                                    \
    } while (0)
#define CHECK_STR(got, want)                                                                   \
    do {                                                                                       \
        const char *g_ = (got), *w_ = (want);                                                  \
        if (!g_ || strcmp(g_, w_))                                                             \
            fail_msg("%s: %s\n  got:  %s\n  want: %s", ctx, #got, g_ ? g_ : "(null)", w_);     \
    } while (0)
#define CHECK_LONG(got, want)                                                                  \
    do {                                                                                       \
        long g_ = (got), w_ = (want);                                                          \
        if (g_ != w_)                                                                          \
            fail_msg("%s: %s is %ld, want %ld", ctx, #got, g_, w_);                            \
    } while (0)

/* ---- JSON helpers ---------------------------------------------------------- */

/* The member, or NULL when absent or JSON null. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, key, &v);
    return v;
}

static bool has(json_object *o, const char *key)
{
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, NULL);
}

/* A value by path: "messages[1].content[0].text". NULL when absent or null. */
static json_object *at(json_object *o, const char *path)
{
    const char *p = path;
    while (o && *p) {
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (*end != ']')
                fail_msg("bad test path %s", path);
            if (!json_object_is_type(o, json_type_array) || i < 0 ||
                (size_t)i >= json_object_array_length(o))
                return NULL;
            o = json_object_array_get_idx(o, (size_t)i);
            p = end + 1;
        } else {
            char key[128];
            size_t n = strcspn(p, ".[");
            if (n >= sizeof key)
                fail_msg("bad test path %s", path);
            memcpy(key, p, n);
            key[n] = '\0';
            o = member(o, key);
            p += n;
        }
        if (*p == '.')
            p++;
    }
    return o;
}

static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    if (!v || !json_object_is_type(v, json_type_string))
        fail_msg("%s: %s is not a string", ctx, path);
    return json_object_get_string(v);
}

static long long_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    if (!v || !json_object_is_type(v, json_type_int))
        fail_msg("%s: %s is not an integer", ctx, path);
    return (long)json_object_get_int64(v);
}

static const char *plain(json_object *o)
{
    return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
             : "(absent)";
}

/* Test JSON is written with ' for " (no test text needs a '). Returns new. */
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

/* The value at path equals w, order of keys aside (borrows w). */
static void expect_same(json_object *o, const char *path, json_object *w)
{
    json_object *g = at(o, path);
    if (json_object_equal(g, w))
        return;
    char msg[16384];
    int n = snprintf(msg, sizeof msg, "%s: %s\n  got:  %s\n", ctx, path, plain(g));
    snprintf(msg + n, sizeof msg - (size_t)n, "  want: %s", plain(w));
    fail_msg("%s", msg);
}

/* The same with want in q notation. */
static void expect_json(json_object *o, const char *path, const char *want)
{
    json_object *w = q(want);
    expect_same(o, path, w);
    json_object_put(w);
}

static void expect_absent(json_object *o, const char *path)
{
    json_object *g = at(o, path);
    if (g)
        fail_msg("%s: %s should be absent, is %s", ctx, path, plain(g));
}

/* ---- fixtures ------------------------------------------------------------------ */

static const char *fixture_dir(void)
{
    const char *d = getenv("AXON_FIXTURES");
    return d && *d ? d : "tests/data/fixtures";
}

/* The file's bytes, NUL-terminated (returns new: free). */
static char *fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s (set AXON_FIXTURES to the fixtures directory)", path);
    struct buf b = BUF_INIT(16u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    assert_int_equal(buf_append(&b, "", 0), 0);
    *len = b.len;
    return buf_take(&b);
}

static json_object *fixture_json(const char *name)
{
    size_t n;
    char *s = fixture(name, &n);
    json_object *o = NULL;
    if (jsonv_parse(s, n, JSONV_MAX_DEPTH, &o))
        fail_msg("fixture %s is not JSON", name);
    free(s);
    return o;
}

/* What a client must get for one upstream answer. */
struct tool_exp {
    const char *id, *name, *args;
};

struct expect {
    const char *file;
    const char *model;     /* the model the upstream named */
    const char *content;   /* all answer text */
    const char *reasoning; /* all thinking text, or NULL */
    int ntools;
    struct tool_exp tools[2];
    bool args_cut;         /* max_tokens cut the arguments: not JSON */
    const char *finish;
    long prompt, completion, cached, reasoning_tokens;
    long cache_write;      /* prompt_tokens_details.cache_write_tokens */
    bool wrap;             /* a content-only fragment: wrapped into a message */
};

static const struct expect EXPECT[] = {
    {.file = "anthropic-stream-text.sse",
     .model = "claude-sonnet-4-5-20250929",
     .content = "Hello!",
     .finish = "stop", .prompt = 25, .completion = 15},
    {.file = "anthropic-stream-tool.sse",
     .model = "claude-sonnet-4-5-20250929",
     .content = "Okay, let's check the weather for San Francisco, CA:",
     .ntools = 1,
     .tools = {{"call_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather",
                "{\"location\": \"San Francisco, CA\", \"unit\": \"fahrenheit\"}"}},
     .finish = "tool_calls", .prompt = 472, .completion = 89},
    {.file = "anthropic-stream-thinking.sse",
     .model = "claude-sonnet-4-5-20250929",
     .reasoning = "Let me solve this step by step:\n\n1. First break down 27 * 453"
                  "\n2. 453 = 400 + 50 + 3\n3. 27 * 400 = 10,800\n4. 27 * 50 = 1,350"
                  "\n5. 27 * 3 = 81\n6. 10,800 + 1,350 + 81 = 12,231",
     .content = "27 * 453 = 12,231",
     .finish = "stop", .prompt = 0, .completion = 0}, /* the docs' example has no usage */
    {.file = "anthropic-recorded-stream-tool.sse",
     .model = "claude-haiku-4-5-20251001",
     .content = "",
     .ntools = 1,
     .tools = {{"call_018acGYLtfR52q9yDbWaEdQZ", "get_weather",
                "{\"location\": \"San Francisco, CA\", \"units\": \"f\"}"}},
     .finish = "tool_calls", .prompt = 656, .completion = 74},
    {.file = "anthropic-recorded-stream-text-after-tool_result.sse",
     .model = "claude-haiku-4-5-20251001",
     .content = "The weather in San Francisco, CA is currently:\n- **Temperature:** 68°F\n"
                "- **Condition:** Sunny\n\nIt's a nice sunny day!",
     .finish = "stop", .prompt = 770, .completion = 38},
    {.file = "anthropic-sdkpy-basic_response.sse",
     .model = "claude-3-opus-latest",
     .content = "Hello there!",
     .finish = "stop", .prompt = 11, .completion = 6},
    {.file = "anthropic-sdkpy-tool_use_response.sse",
     .model = "claude-sonnet-4-20250514",
     .content = "I'll check the current weather in Paris for you.",
     .ntools = 1,
     .tools = {{"call_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", "{\"location\": \"Paris\"}"}},
     .finish = "tool_calls", .prompt = 377, .completion = 65},
    {.file = "anthropic-sdkpy-max_tokens-partial-tool.sse",
     .model = "claude-3-7-sonnet-20250219",
     .content = "I'll create a comprehensive tax guide for someone with multiple W2s and save "
                "it in a file called taxes.txt. Let me do that for you now.",
     .ntools = 1,
     .tools = {{"call_01EKqbqmZrGRXy18eN7m9kvY", "make_file",
                "{\"filename\": \"taxes.txt\", \"lines_of_text\": [\n"
                "\"# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s\",\n\"\",\n"
                "\"## INTRODUCTION\",\n\"\",\n\"Filing taxes"}},
     .args_cut = true,
     .finish = "length", .prompt = 450, .completion = 124},
    {.file = "anthropic-sdkpy-refusal_response.sse",
     .model = "claude-opus-4-7",
     .content = "",
     .finish = "content_filter", .prompt = 20, .completion = 0},
    {.file = "anthropic-sdkpy-thinking-then-refusal.sse",
     .model = "claude-fable-5",
     .reasoning = "Simple educational question about what a solar eclipse is. This is benign "
                  "general knowledge — definitions are fine. Also the user called me "
                  "\"claudius\" — I'm Claude. Minor correction or just roll with it politely.",
     .content = "Hi",
     .finish = "content_filter", .prompt = 28, .completion = 106, .reasoning_tokens = 67},
    {.file = "anthropic-nonstream-text.json",
     .model = "claude-haiku-4-5-20251001",
     .content = "The weather in SF is currently **20°C** (68°F) and **Sunny**!",
     .finish = "stop", .prompt = 705, .completion = 25},
    {.file = "anthropic-nonstream-tool_use.json",
     .model = "claude-haiku-4-5-20251001",
     .content = "",
     .ntools = 1,
     .tools = {{"call_013DU6hV4C1M8dJ32ybQFAFi", "get_weather",
                "{\"location\": \"SF\", \"units\": \"c\"}"}},
     .finish = "tool_calls", .prompt = 597, .completion = 71},
    {.file = "anthropic-nonstream-text-plus-tool_use.json",
     .model = "claude-haiku-4-5-20251001",
     .content = "I'll get the weather for each of those cities. Let me start by checking San "
                "Francisco.",
     .ntools = 1,
     .tools = {{"call_01LRanfq6DmHn1yDTB4d1SAh", "get_weather",
                "{\"location\": \"San Francisco, CA\", \"units\": \"f\"}"}},
     .finish = "tool_calls", .prompt = 701, .completion = 93},
    {.file = "anthropic-nonstream-structured-output.json",
     .model = "claude-sonnet-4-5-20250929",
     .content = "{\"items\":[{\"product_name\":\"Green Tea\",\"price\":5.50,\"quantity\":2},"
                "{\"product_name\":\"Coffee\",\"price\":3.00,\"quantity\":1}],\"total\":14.0}",
     .finish = "stop", .prompt = 406, .completion = 50},
    /* content only: the test puts it in a message with this model, end_turn
     * and usage 12/34. */
    {.file = "anthropic-nonstream-thinking-docs-fragment.json",
     .model = "claude-sonnet-4-5-20250929",
     .reasoning = "Let me analyze this step by step...",
     .content = "Based on my analysis...",
     .finish = "stop", .prompt = 12, .completion = 34, .wrap = true},
};
#define NEXPECT (sizeof EXPECT / sizeof EXPECT[0])

/* Fixtures with tests of their own. */
static const char *const OTHER_FIXTURES[] = {
    "anthropic-stream-error-overloaded.sse",                /* upstream_error_event_overloaded */
    "anthropic-error-400-invalid_request.json",             /* http_error_fixtures */
    "anthropic-error-429-rate_limit.json",                  /* http_error_fixtures */
    "anthropic-recorded-exchange-nonstream-tool-roundtrip.json", /* recorded_exchanges */
    "anthropic-recorded-exchange-stream-tool-roundtrip.json",    /* recorded_exchanges */
    "vllm-stream-reasoning.sse",                            /* sse_vllm_fixture */
    "README.md",
};

static const struct expect *expect_for(const char *file)
{
    for (size_t i = 0; i < NEXPECT; i++)
        if (!strcmp(EXPECT[i].file, file))
            return &EXPECT[i];
    fail_msg("no expectation for %s", file);
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* ---- what the client got ---------------------------------------------------- */

struct tool_res {
    char *id, *name;
    struct buf args;
};

struct result {
    char id[64], model[OAI_MAX_MODEL + 1];
    long created;
    bool content_null;
    struct buf content, reasoning;
    int ntools;
    struct tool_res tools[8];
    char finish[32];
    int nfinish;
    bool usage;
    long prompt, completion, cached, reasoning_tokens, cache_write;
};

static void result_init(struct result *res)
{
    memset(res, 0, sizeof *res);
    buf_init(&res->content, 1u << 24);
    buf_init(&res->reasoning, 1u << 24);
}

static void result_free(struct result *res)
{
    buf_free(&res->content);
    buf_free(&res->reasoning);
    for (int t = 0; t < res->ntools; t++) {
        free(res->tools[t].id);
        free(res->tools[t].name);
        buf_free(&res->tools[t].args);
    }
}

static const char *text_of(const struct buf *b)
{
    return b->p ? b->p : "";
}

static void append_str(struct buf *b, json_object *v)
{
    if (!v)
        return;
    CHECK(json_object_is_type(v, json_type_string));
    assert_int_equal(buf_append(b, json_object_get_string(v), (size_t)json_object_get_string_len(v)), 0);
}

static void add_tool(struct result *res, const char *id, const char *name)
{
    CHECK(res->ntools < 8);
    struct tool_res *t = &res->tools[res->ntools++];
    t->id = xstrdup(id);
    t->name = xstrdup(name);
    buf_init(&t->args, 1u << 24);
}

static void read_usage(json_object *u, struct result *res)
{
    CHECK(u != NULL);
    res->usage = true;
    res->prompt = long_at(u, "prompt_tokens");
    res->completion = long_at(u, "completion_tokens");
    CHECK_LONG(long_at(u, "total_tokens"), res->prompt + res->completion);
    res->cached = long_at(u, "prompt_tokens_details.cached_tokens");
    res->cache_write = long_at(u, "prompt_tokens_details.cache_write_tokens");
    res->reasoning_tokens = long_at(u, "completion_tokens_details.reasoning_tokens");
}

/* The id, created and model every chunk (or the completion) carries. */
static void same_envelope(json_object *c, struct result *res, bool first)
{
    const char *id = str_at(c, "id");
    long created = long_at(c, "created");
    const char *model = str_at(c, "model");
    if (first) {
        CHECK(!strncmp(id, "chatcmpl-", 9) && strlen(id) == 38);
        snprintf(res->id, sizeof res->id, "%s", id);
        snprintf(res->model, sizeof res->model, "%s", model);
        res->created = created;
        CHECK(created > 1700000000);
    } else {
        CHECK_STR(id, res->id);
        CHECK_STR(model, res->model);
        CHECK_LONG(created, res->created);
    }
}

/* One chunk of a stream, checked against the chunk rules and added up. */
static void read_chunk(json_object *c, struct result *res, bool include_usage, int *nchunks,
                       bool *usage_seen)
{
    CHECK_STR(str_at(c, "object"), "chat.completion.chunk");
    same_envelope(c, res, *nchunks == 0);
    json_object *choices = member(c, "choices");
    CHECK(choices && json_object_is_type(choices, json_type_array));
    CHECK(!*usage_seen); /* the usage chunk is the last before [DONE] */
    if (json_object_array_length(choices) == 0) {
        CHECK(include_usage);
        CHECK(res->nfinish == 1); /* after the finish chunk */
        *usage_seen = true;
        read_usage(member(c, "usage"), res);
        (*nchunks)++;
        return;
    }
    CHECK(member(c, "usage") == NULL); /* no usage on content chunks */
    CHECK(json_object_array_length(choices) == 1);
    json_object *ch = json_object_array_get_idx(choices, 0);
    CHECK_LONG(long_at(ch, "index"), 0);
    CHECK(has(ch, "finish_reason"));
    CHECK(res->nfinish == 0); /* nothing after the finish chunk */
    json_object *delta = member(ch, "delta");
    CHECK(delta && json_object_is_type(delta, json_type_object));
    if (*nchunks == 0)
        CHECK_STR(str_at(delta, "role"), "assistant"); /* the role chunk comes first */
    else
        CHECK(!has(delta, "role"));
    (*nchunks)++;
    json_object *fr = member(ch, "finish_reason");
    if (fr) {
        snprintf(res->finish, sizeof res->finish, "%s", json_object_get_string(fr));
        res->nfinish++;
        CHECK(json_object_object_length(delta) == 0);
        return;
    }
    append_str(&res->content, member(delta, "content"));
    append_str(&res->reasoning, member(delta, "reasoning_content"));
    json_object *tcs = member(delta, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
        json_object *tc = json_object_array_get_idx(tcs, i);
        long k = long_at(tc, "index");
        json_object *fn = member(tc, "function");
        if (has(tc, "id")) { /* the first delta of a tool call */
            CHECK_LONG(k, res->ntools); /* 0, 1, ... over the tool calls */
            CHECK_STR(str_at(tc, "type"), "function");
            add_tool(res, str_at(tc, "id"), str_at(fn, "name"));
        } else {
            CHECK(k >= 0 && k < res->ntools);
            CHECK(k == res->ntools - 1); /* tools stream one after the other */
            CHECK(!has(fn, "name"));
            CHECK(!has(tc, "type"));
        }
        append_str(&res->tools[k].args, member(fn, "arguments"));
    }
}

/* The head of the fake output; returns the body. */
static const char *answer_head(int *status, const char *content_type)
{
    CHECK(out.p != NULL);
    CHECK(sscanf(out.p, "Status: %d", status) == 1);
    const char *sep = strstr(out.p, "\r\n\r\n");
    CHECK(sep != NULL);
    const char *ct = strstr(out.p, "\r\nContent-Type: ");
    CHECK(ct && ct < sep && !strncmp(ct + 16, content_type, strlen(content_type)));
    return sep + 4;
}

static void read_stream(bool include_usage, struct result *res)
{
    int status = 0;
    const char *p = answer_head(&status, "text/event-stream");
    CHECK_LONG(status, 200);
    bool done = false, usage_seen = false;
    int nchunks = 0;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        if (!end)
            fail_msg("%s: an SSE event without its blank line: %.80s", ctx, p);
        size_t n = (size_t)(end - p);
        if (*p == ':') { /* a comment (heartbeat) */
            p = end + 2;
            continue;
        }
        CHECK(!done); /* [DONE] is the last thing */
        if (strncmp(p, "data: ", 6))
            fail_msg("%s: not a data line: %.80s", ctx, p);
        const char *d = p + 6;
        size_t dn = n - 6;
        p = end + 2;
        CHECK(memchr(d, '\n', dn) == NULL);
        if (dn == 6 && !memcmp(d, "[DONE]", 6)) {
            done = true;
            continue;
        }
        json_object *c = NULL;
        if (jsonv_parse(d, dn, JSONV_MAX_DEPTH, &c))
            fail_msg("%s: a chunk that is not JSON: %.*s", ctx, (int)dn, d);
        read_chunk(c, res, include_usage, &nchunks, &usage_seen);
        json_object_put(c);
    }
    CHECK(done);
    CHECK(usage_seen == include_usage);
}

static void read_completion(struct result *res)
{
    int status = 0;
    const char *p = answer_head(&status, "application/json");
    CHECK_LONG(status, 200);
    json_object *c = NULL;
    if (jsonv_parse(p, strlen(p), JSONV_MAX_DEPTH, &c))
        fail_msg("%s: the completion is not JSON: %.200s", ctx, p);
    CHECK_STR(str_at(c, "object"), "chat.completion");
    same_envelope(c, res, true);
    json_object *choices = member(c, "choices");
    CHECK(choices && json_object_array_length(choices) == 1);
    json_object *ch = json_object_array_get_idx(choices, 0);
    CHECK_LONG(long_at(ch, "index"), 0);
    CHECK(has(ch, "logprobs"));
    snprintf(res->finish, sizeof res->finish, "%s", str_at(ch, "finish_reason"));
    res->nfinish = 1;
    json_object *m = member(ch, "message");
    CHECK_STR(str_at(m, "role"), "assistant");
    CHECK(has(m, "content") && has(m, "refusal"));
    res->content_null = member(m, "content") == NULL;
    append_str(&res->content, member(m, "content"));
    append_str(&res->reasoning, member(m, "reasoning_content"));
    json_object *tcs = member(m, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
        json_object *tc = json_object_array_get_idx(tcs, i);
        CHECK_STR(str_at(tc, "type"), "function");
        add_tool(res, str_at(tc, "id"), str_at(tc, "function.name"));
        append_str(&res->tools[i].args, member(member(tc, "function"), "arguments"));
    }
    read_usage(member(c, "usage"), res);
    json_object_put(c);
}

static void read_answer(bool stream, bool include_usage, struct result *res)
{
    if (stream)
        read_stream(include_usage, res);
    else
        read_completion(res);
}

/* exact: the arguments must be the upstream's fragments joined, byte for
 * byte (a stream); otherwise the same JSON value will do. */
static void check_result(const struct expect *x, const struct result *res, bool stream,
                         bool include_usage, bool exact)
{
    CHECK_STR(res->model, x->model);
    if (!stream && x->ntools && !*x->content)
        CHECK(res->content_null); /* tool calls and no text: content null */
    else
        CHECK(!res->content_null);
    CHECK_STR(text_of(&res->content), x->content);
    CHECK_STR(text_of(&res->reasoning), x->reasoning ? x->reasoning : "");
    CHECK_LONG(res->ntools, x->ntools);
    for (int t = 0; t < x->ntools; t++) {
        CHECK_STR(res->tools[t].id, x->tools[t].id);
        CHECK_STR(res->tools[t].name, x->tools[t].name);
        const char *args = text_of(&res->tools[t].args);
        if (exact || x->args_cut)
            CHECK_STR(args, x->tools[t].args);
        if (x->args_cut) {
            CHECK(jsonv_check(args, strlen(args), JSONV_MAX_DEPTH) != AXON_OK);
            continue;
        }
        json_object *got = NULL, *want = NULL;
        if (jsonv_parse(args, strlen(args), JSONV_MAX_DEPTH, &got))
            fail_msg("%s: tool %d arguments are not JSON: %s", ctx, t, args);
        assert_int_equal(jsonv_parse(x->tools[t].args, strlen(x->tools[t].args),
                                     JSONV_MAX_DEPTH, &want), 0);
        bool same = json_object_is_type(got, json_type_object) && json_object_equal(got, want);
        json_object_put(got);
        json_object_put(want);
        if (!same)
            fail_msg("%s: tool %d arguments %s, want %s", ctx, t, args, x->tools[t].args);
    }
    CHECK_LONG(res->nfinish, 1);
    CHECK_STR(res->finish, x->finish);
    if (stream && !include_usage) {
        CHECK(!res->usage);
        return;
    }
    CHECK(res->usage);
    CHECK_LONG(res->prompt, x->prompt);
    CHECK_LONG(res->completion, x->completion);
    CHECK_LONG(res->cached, x->cached);
    CHECK_LONG(res->cache_write, x->cache_write);
    CHECK_LONG(res->reasoning_tokens, x->reasoning_tokens);
}

/* ---- driving the translator ---------------------------------------------------- */

/* One answer under way: a request over the fake libfcgi, its output and one
 * translator. */
struct session {
    FCGX_Request fcgi;
    struct axon_req r;
    struct answer o;
    struct oai_out ow; /* the chat writer's state */
    struct anth_stream s;
    struct api_error e;
};

static struct session *session_new(bool stream, bool include_usage)
{
    struct session *ss = xcalloc(1, sizeof *ss);
    params[0][0] = NULL;
    buf_reset(&out);
    out_error = 0;
    ss->fcgi.ipcFd = -1;
    io_req_init(&ss->r, &ss->fcgi, &cfg);
    answer_init(&ss->o, &ss->r, 1, stream, include_usage, "gpt-4o", &oai_out_writer, &ss->ow);
    anth_stream_init(&ss->s, &ss->o, 0);
    return ss;
}

static void session_free(struct session *ss)
{
    anth_stream_free(&ss->s);
    answer_free(&ss->o);
    free(ss);
}

enum split_kind { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM, SPLIT_AT };
struct split {
    enum split_kind kind;
    unsigned arg; /* RANDOM: the seed (odd: small pieces); AT: the cut */
};

static const char *split_name(struct split sp)
{
    static char name[64];
    switch (sp.kind) {
    case SPLIT_WHOLE: return "whole";
    case SPLIT_BYTES: return "1 byte at a time";
    case SPLIT_RANDOM: snprintf(name, sizeof name, "random pieces, seed %u", sp.arg); break;
    case SPLIT_AT: snprintf(name, sizeof name, "cut at byte %u", sp.arg); break;
    }
    return name;
}

struct feeder {
    struct anth_stream *s;
    struct api_error *e;
};

static int feed_event(void *ud, const char *event, const char *data, size_t n)
{
    struct feeder *f = ud;
    return anth_stream_event(f->s, event, data, n, f->e);
}

enum step { STEP_OK, STEP_EVENTS, STEP_END };

/* The bytes through the SSE parser in the pieces sp says, then the end of
 * the stream. The first failure is returned; *where tells which step. */
static int feed_sse(const char *b, size_t n, struct split sp, struct anth_stream *s,
                    struct api_error *e, enum step *where)
{
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct feeder f = {s, e};
    unsigned rnd = sp.arg * 2654435761u + 1u;
    size_t pos = 0;
    int rc = AXON_OK;
    while (!rc && pos < n) {
        size_t take = n - pos;
        if (sp.kind == SPLIT_BYTES)
            take = 1;
        else if (sp.kind == SPLIT_RANDOM) {
            rnd = rnd * 1103515245u + 12345u;
            size_t k = 1 + (rnd >> 8) % (sp.arg % 2 ? 7 : 300);
            if (k < take)
                take = k;
        } else if (sp.kind == SPLIT_AT && pos < sp.arg && sp.arg < n)
            take = sp.arg - pos;
        rc = sse_feed(&p, b + pos, take, feed_event, &f);
        pos += take;
    }
    if (!rc)
        rc = sse_finish(&p, feed_event, &f);
    sse_free(&p);
    *where = STEP_EVENTS;
    if (!rc) {
        *where = STEP_END;
        rc = anth_stream_end(s, e);
    }
    if (!rc)
        *where = STEP_OK;
    return rc;
}

static const struct mode {
    bool stream, usage;
    const char *name;
} MODES[] = {
    {true, true, "stream+include_usage"},
    {true, false, "stream"},
    {false, false, "non-stream"},
};
#define NMODES (sizeof MODES / sizeof MODES[0])

/* An SSE answer in one mode and one chunking, checked against x. */
static void sse_case(const struct expect *x, const char *b, size_t n, const char *variant,
                     const struct mode *m, struct split sp)
{
    snprintf(ctx, sizeof ctx, "%s%s [%s, %s]", x->file, variant, m->name, split_name(sp));
    struct session *ss = session_new(m->stream, m->usage);
    enum step where;
    int rc = feed_sse(b, n, sp, &ss->s, &ss->e, &where);
    if (rc)
        fail_msg("%s: failed (%d) at %s: %s", ctx, rc,
                 where == STEP_END ? "the end of the stream" : "an event", ss->e.message);
    rc = answer_finish(&ss->o, &ss->e);
    if (rc)
        fail_msg("%s: answer_finish failed (%d): %s", ctx, rc, ss->e.message);
    struct result res;
    result_init(&res);
    read_answer(m->stream, m->usage, &res);
    check_result(x, &res, m->stream, m->usage, true);
    result_free(&res);
    session_free(ss);
}

/* Every mode, chunked whole, by bytes and at random. */
static void sse_all_ways(const struct expect *x, const char *b, size_t n, const char *variant)
{
    for (size_t m = 0; m < NMODES; m++) {
        sse_case(x, b, n, variant, &MODES[m], (struct split){SPLIT_WHOLE, 0});
        sse_case(x, b, n, variant, &MODES[m], (struct split){SPLIT_BYTES, 0});
        for (unsigned seed = 1; seed <= 8; seed++)
            sse_case(x, b, n, variant, &MODES[m], (struct split){SPLIT_RANDOM, seed});
    }
}

/* A Messages JSON body in one mode, checked against x. */
static void json_case(const struct expect *x, const char *b, size_t n, const struct mode *m)
{
    snprintf(ctx, sizeof ctx, "%s [%s]", x->file, m->name);
    struct session *ss = session_new(m->stream, m->usage);
    int rc = anth_message(&ss->s, b, n, &ss->e);
    if (rc)
        fail_msg("%s: anth_message failed (%d): %s", ctx, rc, ss->e.message);
    rc = answer_finish(&ss->o, &ss->e);
    if (rc)
        fail_msg("%s: answer_finish failed (%d): %s", ctx, rc, ss->e.message);
    struct result res;
    result_init(&res);
    read_answer(m->stream, m->usage, &res);
    check_result(x, &res, m->stream, m->usage, false);
    result_free(&res);
    session_free(ss);
}

static void json_all_ways(const struct expect *x, const char *b, size_t n)
{
    for (size_t m = 0; m < NMODES; m++)
        json_case(x, b, n, &MODES[m]);
}

/* The docs' fragment has content only: the envelope a real answer has. */
static char *wrap_fragment(const struct expect *x, const char *b, size_t n, size_t *len)
{
    json_object *frag = NULL;
    assert_int_equal(jsonv_parse(b, n, JSONV_MAX_DEPTH, &frag), 0);
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "id", json_object_new_string("msg_fragment"));
    json_object_object_add(msg, "type", json_object_new_string("message"));
    json_object_object_add(msg, "role", json_object_new_string("assistant"));
    json_object_object_add(msg, "model", json_object_new_string(x->model));
    json_object_object_add(msg, "content", json_object_get(member(frag, "content")));
    json_object_object_add(msg, "stop_reason", json_object_new_string("end_turn"));
    json_object *u = json_object_new_object();
    json_object_object_add(u, "input_tokens", json_object_new_int64(x->prompt));
    json_object_object_add(u, "output_tokens", json_object_new_int64(x->completion));
    json_object_object_add(msg, "usage", u);
    char *s = xstrdup(plain(msg));
    *len = strlen(s);
    json_object_put(msg);
    json_object_put(frag);
    return s;
}

/* ---- answer tests: the fixtures ------------------------------------------------ */

static void fixture_answer(void **state)
{
    const struct expect *x = *state;
    size_t n;
    char *b = fixture(x->file, &n);
    if (x->wrap) {
        char *w = wrap_fragment(x, b, n, &n);
        free(b);
        b = w;
    }
    if (ends_with(x->file, ".sse"))
        sse_all_ways(x, b, n, "");
    else
        json_all_ways(x, b, n);
    free(b);
}

/* Every file in the fixtures directory has a test here. */
static void every_fixture_is_covered(void **state)
{
    (void)state;
    DIR *d = opendir(fixture_dir());
    if (!d)
        fail_msg("cannot open the fixtures directory %s (set AXON_FIXTURES)", fixture_dir());
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        bool known = false;
        for (size_t i = 0; !known && i < NEXPECT; i++)
            known = !strcmp(EXPECT[i].file, de->d_name);
        for (size_t i = 0; !known && i < sizeof OTHER_FIXTURES / sizeof OTHER_FIXTURES[0]; i++)
            known = !strcmp(OTHER_FIXTURES[i], de->d_name);
        if (!known) {
            closedir(d);
            fail_msg("fixture %s has no test in test_anthropic.c", de->d_name);
        }
        seen++;
    }
    closedir(d);
    assert_int_equal(seen, (int)(NEXPECT + sizeof OTHER_FIXTURES / sizeof OTHER_FIXTURES[0]));
}

/* s with every line ending replaced by eol, and with "data: "/"event: "
 * written without the space when nospace (returns new: free). */
static char *reframe(const char *s, size_t n, const char *eol, bool nospace, size_t *len)
{
    struct buf b = BUF_INIT(1u << 24);
    bool line_start = true;
    for (size_t i = 0; i < n; i++) {
        if (line_start && nospace && !strncmp(s + i, "data: ", 6)) {
            assert_int_equal(buf_puts(&b, "data:"), 0);
            i += 5;
            line_start = false;
            continue;
        }
        if (line_start && nospace && !strncmp(s + i, "event: ", 7)) {
            assert_int_equal(buf_puts(&b, "event:"), 0);
            i += 6;
            line_start = false;
            continue;
        }
        if (s[i] == '\n') {
            assert_int_equal(buf_puts(&b, eol), 0);
            line_start = true;
            continue;
        }
        assert_int_equal(buf_append(&b, s + i, 1), 0);
        line_start = false;
    }
    assert_int_equal(buf_append(&b, "", 0), 0);
    *len = b.len;
    return buf_take(&b);
}

/* CRLF, CR, and "data:" without its space read the same as the original. */
static void line_endings_and_field_spacing(void **state)
{
    (void)state;
    static const struct {
        const char *eol;
        bool nospace;
        const char *name;
    } V[] = {
        {"\r\n", false, " (CRLF)"},
        {"\r", false, " (CR)"},
        {"\n", true, " (data: without a space)"},
        {"\r\n", true, " (CRLF, data: without a space)"},
    };
    for (size_t i = 0; i < NEXPECT; i++) {
        if (!ends_with(EXPECT[i].file, ".sse"))
            continue;
        size_t n;
        char *b = fixture(EXPECT[i].file, &n);
        for (size_t v = 0; v < sizeof V / sizeof V[0]; v++) {
            size_t m;
            char *r = reframe(b, n, V[v].eol, V[v].nospace, &m);
            for (size_t k = 0; k < NMODES; k++) {
                sse_case(&EXPECT[i], r, m, V[v].name, &MODES[k], (struct split){SPLIT_BYTES, 0});
                sse_case(&EXPECT[i], r, m, V[v].name, &MODES[k], (struct split){SPLIT_RANDOM, 3});
            }
            free(r);
        }
        free(b);
    }
}

/* The same stream cut in two at every byte gives the same answer. */
static void every_two_piece_cut(void **state)
{
    (void)state;
    const struct expect *x = expect_for("anthropic-stream-tool.sse");
    size_t n;
    char *b = fixture(x->file, &n);
    for (unsigned k = 1; k < n; k++)
        sse_case(x, b, n, "", &MODES[0], (struct split){SPLIT_AT, k});
    free(b);
}

/* An error event in the middle of the stream: retryable, nothing sent. */
static void upstream_error_event_overloaded(void **state)
{
    (void)state;
    size_t n;
    char *b = fixture("anthropic-stream-error-overloaded.sse", &n);
    for (size_t m = 0; m < NMODES; m++) {
        snprintf(ctx, sizeof ctx, "anthropic-stream-error-overloaded.sse [%s]", MODES[m].name);
        struct session *ss = session_new(MODES[m].stream, MODES[m].usage);
        enum step where;
        int rc = feed_sse(b, n, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where);
        CHECK_LONG(rc, AXON_ERETRY);
        CHECK(where == STEP_EVENTS);
        CHECK_LONG(ss->e.status, 503);
        CHECK_STR(ss->e.code, "server_is_overloaded");
        CHECK_STR(ss->e.type, ERR_SERVER);
        CHECK(strstr(ss->e.message, "Overloaded") != NULL);
        CHECK(!answer_started(&ss->o));
        CHECK(!answer_delivered(&ss->o, 0)); /* so the call may be retried */
        CHECK_LONG((long)out.len, 0);
        session_free(ss);
    }
    free(b);
}

/* The same after text went out: still an error, the caller can no longer
 * retry (answer_delivered), and other error types map by their type. */
static void upstream_error_events(void **state)
{
    (void)state;
    static const char head[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_x\",\"type\":\"message\","
        "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
        "\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hel\"}}\n\n";
    static const struct {
        const char *event;
        int rc, status;
        const char *code;
    } E[] = {
        {"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
         "\"message\": \"Overloaded\"}}\n\n", AXON_ERETRY, 503, "server_is_overloaded"},
        /* as seen in LiteLLM's comments: padding and an extra key */
        {"event: error\ndata: {\"type\":\"error\",\"error\":{\"details\":null,\"type\":\"api_error\","
         "\"message\":\"Internal server error\"}      }\n\n", AXON_ERETRY, 502, NULL},
        {"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
         "\"message\":\"bad\"}}\n\n", AXON_EINVAL, 400, NULL},
    };
    for (size_t i = 0; i < sizeof E / sizeof E[0]; i++) {
        snprintf(ctx, sizeof ctx, "error event %zu", i);
        struct buf b = BUF_INIT(1u << 20);
        assert_int_equal(buf_puts(&b, head), 0);
        assert_int_equal(buf_puts(&b, E[i].event), 0);
        struct session *ss = session_new(true, false);
        enum step where;
        int rc = feed_sse(b.p, b.len, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where);
        CHECK_LONG(rc, E[i].rc);
        CHECK_LONG(ss->e.status, E[i].status);
        if (E[i].code)
            CHECK_STR(ss->e.code, E[i].code);
        CHECK(answer_delivered(&ss->o, 0));
        session_free(ss);
        buf_free(&b);
    }
}

/* A stream cut before message_delta is an upstream failure (502); cut
 * after it, only message_stop is missing and the answer is whole. */
static void truncated_streams(void **state)
{
    (void)state;
    for (size_t i = 0; i < NEXPECT; i++) {
        const struct expect *x = &EXPECT[i];
        if (!ends_with(x->file, ".sse"))
            continue;
        size_t n;
        char *b = fixture(x->file, &n);
        const char *md = strstr(b, "event: message_delta");
        const char *ms = strstr(b, "event: message_stop");
        CHECK(md && ms && md < ms);
        for (size_t m = 0; m < NMODES; m++) {
            snprintf(ctx, sizeof ctx, "%s cut before message_delta [%s]", x->file, MODES[m].name);
            struct session *ss = session_new(MODES[m].stream, MODES[m].usage);
            enum step where;
            int rc = feed_sse(b, (size_t)(md - b), (struct split){SPLIT_WHOLE, 0}, &ss->s,
                              &ss->e, &where);
            CHECK_LONG(rc, AXON_EPROTO);
            CHECK(where == STEP_END);
            CHECK_LONG(ss->e.status, 502);
            CHECK_STR(ss->e.type, ERR_SERVER);
            session_free(ss);

            /* Cut in the middle of the message_delta line: its data is
             * not JSON, which is as much a failure. */
            snprintf(ctx, sizeof ctx, "%s cut inside message_delta [%s]", x->file, MODES[m].name);
            ss = session_new(MODES[m].stream, MODES[m].usage);
            const char *mid = strstr(md, "data: ") + 20;
            rc = feed_sse(b, (size_t)(mid - b), (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e,
                          &where);
            CHECK_LONG(rc, AXON_EPROTO);
            CHECK_LONG(ss->e.status, 502);
            session_free(ss);

            sse_case(x, b, (size_t)(ms - b), " (no message_stop)", &MODES[m],
                     (struct split){SPLIT_WHOLE, 0});
        }
        free(b);
    }
}

/* Upstream HTTP errors, from the recorded answers. */
static void http_error_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *file, *retry_after;
        int status;
        const char *code, *type, *retry_out;
    } F[] = {
        {"anthropic-error-400-invalid_request.json", "", 400, NULL, ERR_INVALID_REQUEST, ""},
        {"anthropic-error-429-rate_limit.json", "17", 429, "rate_limit_exceeded", NULL, "17"},
    };
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        snprintf(ctx, sizeof ctx, "%s", F[i].file);
        json_object *rec = fixture_json(F[i].file);
        const char *b = xstrdup(plain(member(rec, "body")));
        struct api_error e;
        memset(&e, 0, sizeof e);
        anthropic_http_error((int)long_at(rec, "status_code"), b, strlen(b), F[i].retry_after, &e);
        CHECK_LONG(e.status, F[i].status);
        if (F[i].code)
            CHECK_STR(e.code, F[i].code);
        else
            CHECK(e.code == NULL);
        if (F[i].type)
            CHECK_STR(e.type, F[i].type);
        CHECK(e.type != NULL);
        CHECK_STR(e.message, str_at(rec, "body.error.message")); /* the upstream's words */
        CHECK_STR(e.param, "");
        CHECK_STR(e.retry_after, F[i].retry_out);
        free((char *)b);
        json_object_put(rec);
    }

    /* 529 overloaded, and a body that is not Anthropic's (a proxy's page). */
    snprintf(ctx, sizeof ctx, "HTTP 529");
    static const char over[] = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                               "\"message\":\"Overloaded\"}}";
    struct api_error e;
    memset(&e, 0, sizeof e);
    anthropic_http_error(529, over, strlen(over), "3", &e);
    CHECK_LONG(e.status, 503);
    CHECK_STR(e.code, "server_is_overloaded");
    CHECK_STR(e.retry_after, "3");
    snprintf(ctx, sizeof ctx, "HTTP 502 with HTML");
    static const char html[] = "<html><body>Bad gateway</body></html>";
    memset(&e, 0, sizeof e);
    anthropic_http_error(502, html, strlen(html), "", &e);
    CHECK_LONG(e.status, 502);
    CHECK(strstr(e.message, "502") != NULL);
}

/* Both recorded exchanges: the answers are the ones the .sse and .json
 * fixtures hold, and must translate the same from here. */
static void recorded_exchange_answers(void **state)
{
    (void)state;
    static const struct {
        const char *file, *turn[2];
    } X[] = {
        {"anthropic-recorded-exchange-nonstream-tool-roundtrip.json",
         {"anthropic-nonstream-tool_use.json", "anthropic-nonstream-text.json"}},
        {"anthropic-recorded-exchange-stream-tool-roundtrip.json",
         {"anthropic-recorded-stream-tool.sse",
          "anthropic-recorded-stream-text-after-tool_result.sse"}},
    };
    for (size_t i = 0; i < sizeof X / sizeof X[0]; i++) {
        json_object *rec = fixture_json(X[i].file);
        for (size_t t = 0; t < 2; t++) {
            const struct expect *x = expect_for(X[i].turn[t]);
            char path[64];
            snprintf(path, sizeof path, "[%zu].response.body", t);
            json_object *b = at(rec, path);
            if (json_object_is_type(b, json_type_string))
                sse_all_ways(x, json_object_get_string(b), (size_t)json_object_get_string_len(b),
                             " (from the exchange)");
            else {
                const char *s = plain(b);
                json_all_ways(x, s, strlen(s));
            }
        }
        json_object_put(rec);
    }
}

/* ---- answer tests: hand-written streams ---------------------------------------- */

#define START(model, in, cr, cw)                                                              \
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_t\","    \
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"" model "\","       \
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":" #in ","          \
    "\"cache_read_input_tokens\":" #cr ",\"cache_creation_input_tokens\":" #cw ","              \
    "\"output_tokens\":1}}}\n\n"
#define BLOCK_TEXT(i) \
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":" #i \
    ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
#define TEXT(i, t) \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i \
    ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}\n\n"
#define BLOCK_TOOL(i, id, name) \
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":" #i \
    ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"" id "\",\"name\":\"" name "\",\"input\":{}}}\n\n"
#define ARGS(i, j) \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i \
    ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"" j "\"}}\n\n"
#define STOP(i) \
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":" #i "}\n\n"
#define END(reason, outn)                                                                   \
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""  \
    reason "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" #outn "}}\n\n"          \
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

static void stream_case(const struct expect *x, const char *sse)
{
    sse_all_ways(x, sse, strlen(sse), "");
}

/* A tool called without arguments sends no argument fragments: "{}". */
static void tool_without_arguments(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(tool without arguments)", .model = "claude-t", .content = "",
        .ntools = 1, .tools = {{"call_01NoArgs", "get_time", "{}"}},
        .finish = "tool_calls", .prompt = 9, .completion = 12};
    stream_case(&x, START("claude-t", 9, 0, 0) BLOCK_TOOL(0, "toolu_01NoArgs", "get_time")
                    ARGS(0, "") STOP(0) END("tool_use", 12));
}


/* A \u0000 in Claude's answer (a block's opening text, a delta, a tool's
 * name) reaches the client whole, streamed or not, and the stored turn. */
static void answer_nul_survives(void **state)
{
    (void)state;
    static const char sse[] =
        START("claude-t", 3, 0, 0)
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\\u0000start\"}}\n\n"
        TEXT(0, "a\\u0000b") STOP(0) BLOCK_TOOL(1, "toolu_01", "get\\u0000x")
        ARGS(1, "{\\\"q\\\":\\\"\\\\u0000\\\"}") STOP(1) END("tool_use", 5);
    for (int stream = 0; stream < 2; stream++) {
        snprintf(ctx, sizeof ctx, "an answer with NULs (%s)", stream ? "stream" : "non-stream");
        struct session *ss = session_new(stream, false);
        enum step where;
        assert_int_equal(feed_sse(sse, sizeof sse - 1, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where), 0);
        json_object *msg = answer_message(&ss->o, 0);
        expect_json(msg, "content", "'\\u0000starta\\u0000b'");
        expect_json(msg, "tool_calls[0].function.name", "'get\\u0000x'");
        json_object_put(msg);
        assert_int_equal(answer_finish(&ss->o, &ss->e), 0);
        const char *sent = out.p ? out.p : "";
        CHECK(strstr(sent, stream ? "\"content\":\"\\u0000start\"" : "\"content\":\"\\u0000starta\\u0000b\""));
        CHECK(strstr(sent, "\"name\":\"get\\u0000x\""));
        session_free(ss);
    }
}
/* Tool indexes count tool calls, not content blocks. */
static void two_tools_after_text(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(text, then two tools)", .model = "claude-t", .content = "Checking both.",
        .ntools = 2,
        .tools = {{"call_A1", "get_weather", "{\"city\":\"Paris\"}"},
                  {"call_B2", "get_time", "{\"tz\":\"CET\"}"}},
        .finish = "tool_calls", .prompt = 30, .completion = 40};
    stream_case(&x, START("claude-t", 30, 0, 0) BLOCK_TEXT(0) TEXT(0, "Checking") TEXT(0, " both.")
                    STOP(0) BLOCK_TOOL(1, "toolu_A1", "get_weather") ARGS(1, "{\\\"city\\\":")
                    ARGS(1, "\\\"Paris\\\"}") STOP(1) BLOCK_TOOL(2, "toolu_B2", "get_time")
                    ARGS(2, "{\\\"tz\\\":\\\"CET\\\"}") STOP(2) END("tool_use", 40));
}

/* ping, event types and delta types added later, and block types Axon does
 * not show are skipped without a trace. */
static void unknown_events_are_ignored(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(unknown events)", .model = "claude-t", .content = "Hello!",
        .finish = "stop", .prompt = 3, .completion = 2};
    stream_case(&x, START("claude-t", 3, 0, 0)
                "event: ping\ndata: {\"type\": \"ping\"}\n\n"
                "event: future_event\ndata: {\"type\":\"future_event\",\"x\":[1,2]}\n\n"
                ": a comment line\n\n"
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgB\"}}\n\n"
                STOP(0) BLOCK_TEXT(1) TEXT(1, "Hello")
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
                "\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"char_location\"}}}\n\n"
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
                "\"delta\":{\"type\":\"future_delta\",\"text\":\"not this\"}}\n\n"
                "event: ping\ndata: {\"type\": \"ping\"}\n\n"
                TEXT(1, "!") STOP(1) END("end_turn", 2));
}

/* Prompt tokens count the cache, read and written; cached_tokens is the
 * read, cache_write_tokens the write (spec CompletionUsage). */
static void cache_tokens_count_in_the_prompt(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(prompt cache)", .model = "claude-t", .content = "ok",
        .finish = "stop", .prompt = 10 + 2000 + 300, .completion = 50, .cached = 2000,
        .cache_write = 300};
    stream_case(&x, START("claude-t", 10, 2000, 300) BLOCK_TEXT(0) TEXT(0, "ok") STOP(0)
                    END("end_turn", 50));
}

/* Other stop reasons. */
static void stop_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *reason, *finish;
    } R[] = {
        {"end_turn", "stop"}, {"stop_sequence", "stop"}, {"max_tokens", "length"},
        {"tool_use", "tool_calls"}, {"refusal", "content_filter"},
        {"model_context_window_exceeded", "length"},
        /* not a finished answer: Claude waits for the content to continue */
        {"pause_turn", "length"},
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        snprintf(ctx, sizeof ctx, "stop_reason %s", R[i].reason);
        CHECK_STR(anthropic_finish_reason(R[i].reason), R[i].finish);
    }
}

/* Data that is not a JSON object is a broken upstream: 502. */
static void event_data_not_json(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\n\n",
        "event: content_block_delta\ndata: not json\n\n",
        "event: content_block_delta\ndata: [1,2]\n\n",
        "event: content_block_delta\ndata: {\"index\":0}\n\n", /* no type */
        /* arguments for a block that is not a tool */
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":-1,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(ctx, sizeof ctx, "bad event %zu", i);
        struct buf b = BUF_INIT(1u << 20);
        assert_int_equal(buf_puts(&b, START("claude-t", 1, 0, 0) BLOCK_TEXT(0)), 0);
        assert_int_equal(buf_puts(&b, bad[i]), 0);
        struct session *ss = session_new(true, true);
        enum step where;
        int rc = feed_sse(b.p, b.len, (struct split){SPLIT_BYTES, 0}, &ss->s, &ss->e, &where);
        CHECK_LONG(rc, AXON_EPROTO);
        CHECK(where == STEP_EVENTS);
        CHECK_LONG(ss->e.status, 502);
        CHECK_STR(ss->e.type, ERR_SERVER);
        session_free(ss);
        buf_free(&b);
    }
    /* The same for a non-streaming body. */
    static const char *const bodies[] = {
        "{\"type\":\"message\",\"content\":[", "[]", "{\"type\":\"error\"}",
        "{\"type\":\"message\",\"content\":\"text\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        snprintf(ctx, sizeof ctx, "bad body %zu", i);
        struct session *ss = session_new(false, false);
        CHECK_LONG(anth_message(&ss->s, bodies[i], strlen(bodies[i]), &ss->e), AXON_EPROTO);
        CHECK_LONG(ss->e.status, 502);
        session_free(ss);
    }
}

/* ---- the SSE parser on its own --------------------------------------------------- */

static int collect(void *ud, const char *event, const char *data, size_t n)
{
    struct buf *b = ud;
    int rc = buf_printf(b, "[%s](", event);
    if (!rc)
        rc = buf_append(b, data, n);
    if (!rc)
        rc = buf_puts(b, ")");
    return rc;
}

static char *sse_collect(const char *s, size_t n, size_t piece)
{
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct buf b = BUF_INIT(1u << 24);
    for (size_t pos = 0; pos < n; pos += piece)
        assert_int_equal(sse_feed(&p, s + pos, n - pos < piece ? n - pos : piece, collect, &b), 0);
    assert_int_equal(sse_finish(&p, collect, &b), 0);
    sse_free(&p);
    assert_int_equal(buf_append(&b, "", 0), 0);
    return buf_take(&b);
}

/* The WHATWG rules, the same whatever the line endings and pieces. */
static void sse_parser_rules(void **state)
{
    (void)state;
    static const char *const forms[] = {
        ": comment\nevent: message_start\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\n\n"
        "event: ping\n\ndata\n\nid: 7\nretry: 100\ndata:  two spaces\n\nevent: last\ndata: end",
        ": comment\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: line1\r\ndata: line2\r\n"
        "\r\nevent: ping\r\n\r\ndata\r\n\r\nid: 7\r\nretry: 100\r\ndata:  two spaces\r\n\r\n"
        "event: last\r\ndata: end",
        ": comment\revent: message_start\rdata: {\"a\":1}\r\rdata: line1\rdata: line2\r\r"
        "event: ping\r\rdata\r\rid: 7\rretry: 100\rdata:  two spaces\r\revent: last\rdata: end",
        ":comment\nevent:message_start\ndata:{\"a\":1}\n\ndata:line1\ndata:line2\n\n"
        "event:ping\n\ndata:\n\nid:7\nretry:100\ndata:  two spaces\n\nevent:last\ndata:end\n\n",
    };
    static const char want[] =
        "[message_start]({\"a\":1})[](line1\nline2)[]()[]( two spaces)[last](end)";
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        static const size_t pieces[] = {1, 2, 3, 5, 7, 64, 100000};
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            snprintf(ctx, sizeof ctx, "form %zu, pieces of %zu", f, pieces[k]);
            char *got = sse_collect(forms[f], strlen(forms[f]), pieces[k]);
            CHECK_STR(got, want);
            free(got);
        }
    }
}

/* vLLM's stream (OpenAI chunks, no event names) through the same parser. */
static void sse_vllm_fixture(void **state)
{
    (void)state;
    size_t n;
    char *b = fixture("vllm-stream-reasoning.sse", &n);
    snprintf(ctx, sizeof ctx, "vllm-stream-reasoning.sse");
    char *whole = sse_collect(b, n, n);
    for (size_t piece = 1; piece < 40; piece += 3) {
        char *got = sse_collect(b, n, piece);
        CHECK_STR(got, whole);
        free(got);
    }
    /* Read the events back: 23 chunks and [DONE]. */
    struct buf reasoning = BUF_INIT(1u << 20), content = BUF_INIT(1u << 20);
    int events = 0;
    for (const char *p = whole; *p; events++) {
        CHECK(!strncmp(p, "[](", 3));
        const char *d = p + 3, *e = strchr(d, ')');
        while (e && e[1] && e[1] != '[')
            e = strchr(e + 1, ')');
        CHECK(e != NULL);
        if (e - d == 6 && !memcmp(d, "[DONE]", 6)) {
            CHECK(e[1] == '\0');
        } else {
            json_object *c = NULL;
            CHECK(jsonv_parse(d, (size_t)(e - d), JSONV_MAX_DEPTH, &c) == AXON_OK);
            append_str(&reasoning, at(c, "choices[0].delta.reasoning_content"));
            append_str(&content, at(c, "choices[0].delta.content"));
            json_object_put(c);
        }
        p = e + 1;
    }
    CHECK_LONG(events, 24);
    CHECK_STR(text_of(&reasoning), "\nOkay, let me try to figure this out..\n");
    CHECK_STR(text_of(&content), "\n\nThe best treatment for this pregnant woman...");
    buf_free(&reasoning);
    buf_free(&content);
    free(whole);
    free(b);
}

/* ---- request side --------------------------------------------------------------- */

static struct model claude = {
    .id = (char *)"gpt-4o",
    .upstream_id = (char *)"claude-sonnet-4-6",
    .provider = PROVIDER_ANTHROPIC,
    .max_tokens = 8192,
    .max_output = 64000,
    .context = 200000,
    /* The rules of a model before 4.5: everything goes (test_claude_rules.c
     * covers today's). */
    .caps = {.sampling = SAMPLING_ANY, .prefill = true, .thinking = THINKING_BUDGET},
};

static json_object *translate_with(const struct model *m, json_object *req,
                                   struct chat_plan *info_out);

/* The turn to store: Claude's signed thinking comes out of the answer block
 * by block, and fed back as the assistant's message it reaches Claude first
 * and unchanged (Claude refuses a tool turn whose thinking lost its
 * signature). */
static void signed_thinking_round_trip(void **state)
{
    (void)state;
    static const char *const files[] = {"anthropic-stream-thinking.sse",
                                        "anthropic-sdkpy-thinking-then-refusal.sse"};
    for (size_t f = 0; f < 2; f++) {
        for (int stream = 0; stream < 2; stream++) {
            size_t n;
            char *b = fixture(files[f], &n);
            snprintf(ctx, sizeof ctx, "%s (%s)", files[f], stream ? "stream" : "non-stream");
            struct session *ss = session_new(stream, false);
            enum step where;
            assert_int_equal(feed_sse(b, n, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where), 0);
            /* What the fixture says: its thinking text and signature. */
            struct buf want_text = BUF_INIT(1u << 20), want_sig = BUF_INIT(1u << 20);
            for (char *line = strstr(b, "data:"); line; line = strstr(line + 1, "data:")) {
                json_object *ev = NULL;
                char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line - 5) : strlen(line + 5);
                if (jsonv_parse(line + 5, len, JSONV_MAX_DEPTH, &ev))
                    continue;
                json_object *d = NULL, *v = NULL;
                json_object_object_get_ex(ev, "delta", &d);
                const char *dt = json_object_object_get_ex(d, "type", &v) ? json_object_get_string(v) : "";
                if (!strcmp(dt, "thinking_delta"))
                    assert_int_equal(buf_puts(&want_text, str_at(ev, "delta.thinking")), 0);
                if (!strcmp(dt, "signature_delta"))
                    assert_int_equal(buf_puts(&want_sig, str_at(ev, "delta.signature")), 0);
                json_object_put(ev);
            }
            assert_true(want_sig.len > 0);
            json_object *msg = answer_message(&ss->o, 0);
            assert_string_equal(str_at(msg, "role"), "assistant");
            json_object *blocks = member(msg, "thinking_blocks");
            assert_non_null(blocks);
            assert_int_equal(json_object_array_length(blocks), 1);
            json_object *tb = json_object_array_get_idx(blocks, 0);
            assert_string_equal(str_at(tb, "type"), "thinking");
            assert_string_equal(str_at(tb, "thinking"), want_text.p ? want_text.p : "");
            assert_string_equal(str_at(tb, "signature"), want_sig.p);

            /* Back to Claude as history: thinking first, byte for byte. */
            json_object *req = q("{'model':'gpt-4o','messages':[{'role':'user','content':'hi'}]}");
            json_object *msgs = member(req, "messages");
            json_object_array_add(msgs, msg);
            json_object_array_add(msgs, q("{'role':'user','content':'and then?'}"));
            json_object *sent = translate_with(&claude, req, NULL);
            json_object *first = at(sent, "messages[1].content[0]");
            assert_string_equal(str_at(first, "type"), "thinking");
            assert_string_equal(str_at(first, "signature"), want_sig.p);
            assert_string_equal(str_at(first, "thinking"), want_text.p ? want_text.p : "");
            json_object_put(sent);
            json_object_put(req);
            buf_free(&want_text);
            buf_free(&want_sig);
            session_free(ss);
            free(b);
        }
    }
}

/* ---- the writer seam (answer.h) ------------------------------------------------- */

/* A writer of the test's own, as a second ingress (Responses, say) would
 * plug one in: it notes what the answer hands it, one line per run of
 * events of a kind ("text:" and its pieces joined), and writes nothing. */
struct note_writer {
    struct buf log;
    int opened, closed, finished;
    enum cev_kind last;
};

static void note_open(void *w, const struct answer *a)
{
    (void)a;
    struct note_writer *nw = w;
    nw->opened++;
    nw->last = CEV_START;
}

static void note_close(void *w)
{
    ((struct note_writer *)w)->closed++;
}

static int note_event(void *w, const struct answer *a, int i, const struct cev *ev)
{
    struct note_writer *nw = w;
    static const char *const kinds[] = {"start", "text", "reasoning", "refusal", "tool",
                                        "args", "signature", "redacted", "finish"};
    struct buf *b = &nw->log;
    int rc = AXON_OK;
    if (ev->kind != nw->last || ev->kind == CEV_TOOL_START || ev->kind == CEV_FINISH)
        rc = buf_printf(b, "%s%d %s%s:", b->len ? "\n" : "", i,
                        a->c[i].delivered ? "" : "first ", kinds[ev->kind]);
    nw->last = ev->kind;
    if (!rc && ev->kind == CEV_TOOL_START)
        rc = buf_printf(b, "%d %.*s %.*s", ev->tool, (int)ev->n, ev->s, (int)ev->name_n, ev->name);
    else if (!rc && ev->kind == CEV_FINISH)
        rc = buf_printf(b, "%s in=%ld out=%ld", ev->finish, ev->usage->input, ev->usage->output);
    else if (!rc)
        rc = buf_append(b, ev->s, ev->n);
    return rc;
}

static int note_ping(void *w, const struct answer *a)
{
    (void)w;
    (void)a;
    return AXON_OK;
}

static int note_finish(void *w, const struct answer *a, struct api_error *e)
{
    (void)e;
    struct note_writer *nw = w;
    nw->finished++;
    struct usage u;
    answer_usage(a, &u);
    return buf_printf(&nw->log, "\nend model=%s in=%ld out=%ld", a->model, u.input, u.output);
}

static int note_error(void *w, const struct answer *a, const struct api_error *e)
{
    (void)a;
    return buf_printf(&((struct note_writer *)w)->log, "\nerror %d", e->status);
}

static const struct answer_writer note_writer = {
    .name = "notes", .open = note_open, .close = note_close, .event = note_event,
    .ping = note_ping, .finish = note_finish, .error = note_error};

/* One event after a stream's start (block 0 text, block 1 a server tool's),
 * through anth_stream_event (tree: false, its in-place text-delta reader
 * first) or anth_stream_event_tree: the writer's notes and the error. */
static void one_event(const char *data, size_t n, bool tree, struct buf *notes, int *rc,
                      struct api_error *e)
{
    static const char *const prologue[] = {
        "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3}}}",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"server_tool_use\"}}",
        "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}",
    };
    struct session *ss = session_new(true, true);
    answer_free(&ss->o);
    struct note_writer nw = {.log = BUF_INIT(1u << 20)};
    answer_init(&ss->o, &ss->r, 1, true, true, "gpt-4o", &note_writer, &nw);
    anth_stream_free(&ss->s);
    anth_stream_init(&ss->s, &ss->o, 0);
    for (size_t i = 0; i < sizeof prologue / sizeof prologue[0]; i++)
        CHECK(anth_stream_event_tree(&ss->s, prologue[i], strlen(prologue[i]), e) == AXON_OK);
    memset(e, 0, sizeof *e);
    *rc = tree ? anth_stream_event_tree(&ss->s, data, n, e)
               : anth_stream_event(&ss->s, "content_block_delta", data, n, e);
    buf_reset(notes);
    CHECK(buf_append(notes, nw.log.p ? nw.log.p : "", nw.log.len) == AXON_OK);
    const struct usage *u = &ss->s.usage;
    CHECK(buf_printf(notes, "\nfinish=%s finished=%d usage=%ld,%ld,%ld,%ld,%ld",
                     ss->s.finish ? ss->s.finish : "-", ss->s.finished, u->input, u->cache_read,
                     u->cache_write, u->output, u->reasoning) == AXON_OK);
    answer_free(&ss->o);
    anth_stream_free(&ss->s);
    free(ss);
    buf_free(&nw.log);
}

/* A text delta read in place (jsonr.h) gives what the json-c tree gives,
 * byte for byte, for every shape it takes, and leaves the rest to the tree
 * with the same answer: escapes, \u escapes and surrogates, raw UTF-8, bad
 * UTF-8, control characters, white space, members in any order, twice or
 * extra, other index forms, a server tool's block, truncated text. */
static void text_delta_reader_agrees_with_the_tree(void **state)
{
    (void)state;
#define DELTA(idx, text) "{\"type\":\"content_block_delta\",\"index\":" idx \
                         ",\"delta\":{\"type\":\"text_delta\",\"text\":" text "}}"
    static const char *const cases[] = {
        DELTA("0", "\"Hello\""),
        DELTA("0", "\"\""),
        DELTA("0", "\" ~t12\""),
        DELTA("0", "\"a\\nb\\\"c\\\\d\\/e\\tf\\bg\\fh\\ri\""),
        DELTA("0", "\"\\\\\""),
        DELTA("0", "\"caf\\u00e9\""),
        DELTA("0", "\"\\ud83d\\ude00 and \\ud800 alone\""),
        DELTA("0", "\"a\\u0000b\""),
        DELTA("0", "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad\""),
        DELTA("0", "\"\xc3(\""),
        DELTA("0", "\"\xff\""),
        DELTA("0", "\"\xe2\x82\""),
        DELTA("0", "\"\xf8\x88\x80\x80\x80\""),
        DELTA("0", "\"\xc3\""),
        DELTA("0", "\"a\x01" "b\""),
        DELTA("0", "\"a\nb\""),
        DELTA("0", "\"a\\x\""),
        DELTA("0", "\"a\\\""),
        DELTA("0", "5"),
        DELTA("0", "null"),
        DELTA("1", "\"hidden: a server tool's block\""),
        DELTA("5", "\"a block never started\""),
        DELTA("01", "\"x\""),
        DELTA("-1", "\"x\""),
        DELTA("1.0", "\"x\""),
        DELTA("1e0", "\"x\""),
        DELTA("1023", "\"x\""),
        DELTA("1024", "\"x\""),
        DELTA("999999999", "\"x\""),
        DELTA("99999999999", "\"x\""),
        DELTA("\"0\"", "\"x\""),
        DELTA("0", "\"x\"") " ",
        DELTA("0", "\"x\"") "x",
        DELTA("0", "\"x\"") "}",
        " \t\r\n{ \"type\" : \"content_block_delta\" , \"index\" : 0 , \"delta\" : "
        "{ \"type\" : \"text_delta\" , \"text\" : \"spaced\" } } \n",
        "{\"delta\":{\"text\":\"order\",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"one\",\"text\":\"two\"}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\",\"extra\":1}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"extra\":[],\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"t\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0}",
        "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
        "{\"typ\\u0065\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"t\\u0065xt\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"},}",
        "{\"type\":\"content_block_delta\",,\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
        "{\"type\":\"content_block_stop\",\"index\":0}",
        "{\"type\":\"content_block_stop\",\"index\":2}",
        "{\"index\":2,\"type\":\"content_block_stop\"}",
        "{\"type\":\"content_block_stop\",\"index\":7}",
        "{\"type\":\"content_block_stop\"}",
        "{\"type\":\"content_block_stop\",\"index\":\"0\"}",
        "{\"type\":\"content_block_stop\",\"index\":5000}",
        "{\"type\":\"content_block_stop\",\"index\":0,\"usage\":{}}",
        "{\"type\": \"ping\"}",
        "{\"type\":\"ping\",\"index\":0}",
        "{\"type\":\"message_stop\"}",
        "{\"type\":\"message_stop\",\"x\":1}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
        "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":4,\"cache_read_input_tokens\":6,"
        "\"output_tokens\":20}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":null}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},\"usage\":{\"output_tokens\":3}}",
        "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}",
        "{\"type\":\"message_delta\",\"delta\":null,\"usage\":{\"output_tokens\":3}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":7}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
        "\"usage\":{\"output_tokens\":9,\"output_tokens_details\":{\"thinking_tokens\":4}}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
        "\"usage\":{\"output_tokens\":9,\"output_tokens\":10}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":-1}}",
        "{\"type\":\"message_delta\",\"message\":{},\"usage\":{\"output_tokens\":3}}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-6\",\"id\":\"msg_mock_1\","
        "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,"
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
        "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\","
        "\"inference_geo\":\"not_available\"}}}",
        "{\"type\": \"message_start\", \"message\": {\"id\": \"msg_1\", \"model\": \"claude-x\\u0031\"}}",
        "{\"type\":\"message_start\",\"message\":{\"model\":null,\"usage\":{\"input_tokens\":5}}}",
        "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"model\":\"n\"}}",
        "{\"type\":\"message_start\",\"message\":null}",
        "{\"type\":\"message_start\"}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"m\"},\"usage\":{\"input_tokens\":5}}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"content\":[{\"deep\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]}}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"n\":1e3}}",
        "{\"type\":\"foo\"}",
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
        "{\"type\":\"message_stop\",\"type\":\"ping\"}",
        "{}",
        "[]",
        "",
        "{",
    };
#undef DELTA
    struct buf fast = BUF_INIT(1u << 20), tree = BUF_INIT(1u << 20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(ctx, sizeof ctx, "case %zu: %s", i, cases[i]);
        struct api_error ef, et;
        int rf, rt;
        one_event(cases[i], strlen(cases[i]), false, &fast, &rf, &ef);
        one_event(cases[i], strlen(cases[i]), true, &tree, &rt, &et);
        CHECK_LONG(rf, rt);
        CHECK_LONG(ef.status, et.status);
        CHECK(!strcmp(ef.message, et.message));
        CHECK_LONG((long)fast.len, (long)tree.len);
        CHECK(!memcmp(fast.p, tree.p, fast.len));
    }
    /* And the notes are what a client sees: the text decoded. */
    static const char esc[] = "{\"type\":\"content_block_delta\",\"index\":0,"
                              "\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\nb\\\"c\"}}";
    struct api_error e;
    int rc;
    snprintf(ctx, sizeof ctx, "decoded");
    one_event(esc, sizeof esc - 1, false, &fast, &rc, &e);
    CHECK_LONG(rc, AXON_OK);
    CHECK(strstr(fast.p, "text:a\nb\"c") != NULL);
    buf_free(&fast);
    buf_free(&tree);
}

/* One non-streamed body through anth_message (tree: false, its in-place
 * reader first) or anth_message_tree: the writer's notes and the error. */
static void one_message(const char *msg_body, size_t n, bool tree, struct buf *notes, int *rc,
                        struct api_error *e)
{
    struct session *ss = session_new(false, true);
    answer_free(&ss->o);
    struct note_writer nw = {.log = BUF_INIT(1u << 20)};
    answer_init(&ss->o, &ss->r, 1, false, true, "gpt-4o", &note_writer, &nw);
    anth_stream_free(&ss->s);
    anth_stream_init(&ss->s, &ss->o, 0);
    memset(e, 0, sizeof *e);
    *rc = tree ? anth_message_tree(&ss->s, msg_body, n, e) : anth_message(&ss->s, msg_body, n, e);
    if (*rc == AXON_OK)
        CHECK(answer_close(&ss->o, AXON_OK, e) == AXON_OK);
    buf_reset(notes);
    CHECK(buf_append(notes, nw.log.p ? nw.log.p : "", nw.log.len) == AXON_OK);
    /* What the answer keeps (the stored turn) is compared too. */
    json_object *msg = *rc == AXON_OK ? answer_message(&ss->o, 0) : NULL;
    const char *m = msg ? json_object_to_json_string_ext(msg, JSONV_OUT) : "-";
    const struct usage *u = &ss->s.usage;
    CHECK(buf_printf(notes, "\nstored %s finish=%s usage=%ld,%ld,%ld,%ld,%ld", m,
                     ss->s.finish ? ss->s.finish : "-", u->input, u->cache_read, u->cache_write,
                     u->output, u->reasoning) == AXON_OK);
    json_object_put(msg);
    answer_free(&ss->o);
    anth_stream_free(&ss->s);
    free(ss);
    buf_free(&nw.log);
}

/* A Messages response read in place gives what the json-c tree gives, for
 * the recorded bodies and for every variation of shape, type, escape and
 * number the reader takes or leaves to the tree. */
static void message_reader_agrees_with_the_tree(void **state)
{
    (void)state;
#define MSG(before, content, after) "{\"model\":\"claude-haiku-4-5\",\"id\":\"msg_1\"," before \
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":" content ",\"stop_reason\":\"end_turn\"," \
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":705,\"cache_creation_input_tokens\":2," \
    "\"cache_read_input_tokens\":3,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0," \
    "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":25,\"service_tier\":\"standard\"}" after "}"
#define TEXT1 "[{\"type\":\"text\",\"text\":\"Hi there\"}]"
    static const char *const cases[] = {
        MSG("", TEXT1, ""),
        MSG("", "[]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\\n\\\"c\\\"\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"1\"},{\"type\":\"text\",\"text\":\"2\"},"
                "{\"type\":\"text\",\"text\":\"3\"},{\"type\":\"text\",\"text\":\"4\"},"
                "{\"type\":\"text\",\"text\":\"5\"},{\"type\":\"text\",\"text\":\"6\"},"
                "{\"type\":\"text\",\"text\":\"7\"},{\"type\":\"text\",\"text\":\"8\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"1\"},{\"type\":\"text\",\"text\":\"2\"},"
                "{\"type\":\"text\",\"text\":\"3\"},{\"type\":\"text\",\"text\":\"4\"},"
                "{\"type\":\"text\",\"text\":\"5\"},{\"type\":\"text\",\"text\":\"6\"},"
                "{\"type\":\"text\",\"text\":\"7\"},{\"type\":\"text\",\"text\":\"8\"},"
                "{\"type\":\"text\",\"text\":\"9\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"caf\\u00e9\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"bad \xc3(\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"a\tb\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"citations\":null}]", ""),
        MSG("", "[{\"citations\":[{\"a\":[1,2.5,-0,true,false,null,\"s\\n\"]}],\"text\":\"x\",\"type\":\"text\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"n\":1e5}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"n\":12345678901234567890}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"n\":01}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"n\":1.}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"n\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"k\\n\":1}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"\\u0000\":1}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"type\":\"text\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\",\"text\":\"y\"}]", ""),
        MSG("", "[{\"type\":\"text\"}]", ""),
        MSG("", "[{\"text\":\"no type\"}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":5}]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":null}]", ""),
        MSG("", "[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"x\"}]", ""),
        MSG("", "[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"a\":1}}]", ""),
        MSG("", "[{\"type\":\"server_tool_use\",\"id\":\"s\"},{\"type\":\"text\",\"text\":\"x\"}]", ""),
        MSG("", "[\"text\"]", ""),
        MSG("", "[{\"type\":\"text\",\"text\":\"x\"},]", ""),
        MSG("", "{}", ""),
        MSG("", "null", ""),
        MSG("\"model\":\"claude-other\",", TEXT1, ""),
        MSG("\"type\":\"message\",", TEXT1, ""),
        MSG("\"stop_reason\":\"max_tokens\",", TEXT1, ""),
        MSG("\"usage\":{\"output_tokens\":1},", TEXT1, ""),
        MSG("\"content\":[],", TEXT1, ""),
        MSG("", TEXT1, ",\"container\":{\"id\":\"c\",\"expires_at\":\"2026\"}"),
        MSG("", TEXT1, ",\"extra\":[true,false,null,0,-1.25]"),
        MSG("", TEXT1, ",\"x\":tru"),
        "{\"type\":\"message\",\"content\":" TEXT1 "}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"model\":null,\"stop_reason\":null,\"usage\":null}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"model\":7}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"stop_reason\":\"tool_use\"}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"stop_reason\":\"refusal\"}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"stop_reason\":\"pause_turn\"}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"stop_reason\":1}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"input_tokens\":null,\"output_tokens\":4}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"input_tokens\":1,\"input_tokens\":2}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"input_tokens\":9223372036854775807}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"input_tokens\":-5}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"input_tokens\":1.5}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":{\"output_tokens\":9,"
        "\"output_tokens_details\":{\"thinking_tokens\":4}}}",
        "{\"type\":\"message\",\"content\":" TEXT1 ",\"usage\":[]}",
        "{\"type\":\"msg\",\"content\":" TEXT1 "}",
        "{\"type\":\"message\",\"content\":{}}",
        "{\"type\":\"message\"}",
        "{\"content\":" TEXT1 "}",
        "{\"type\":\"message\",\"content\":" TEXT1 "} x",
        "{\"type\":\"message\",\"content\":" TEXT1 "}  \n",
        "{\"type\":\"message\",\"content\":" TEXT1,
        "[]",
        "",
    };
#undef MSG
#undef TEXT1
    static const char *const files[] = {
        "anthropic-nonstream-text.json", "anthropic-nonstream-structured-output.json",
        "anthropic-nonstream-text-plus-tool_use.json", "anthropic-nonstream-tool_use.json",
        "anthropic-nonstream-thinking-docs-fragment.json",
    };
    size_t nc = sizeof cases / sizeof cases[0], nf = sizeof files / sizeof files[0];
    struct buf fast = BUF_INIT(1u << 20), tree = BUF_INIT(1u << 20);
    for (size_t i = 0; i < nc + nf; i++) {
        size_t n;
        char *file = i < nc ? NULL : fixture(files[i - nc], &n);
        const char *b = i < nc ? cases[i] : file;
        if (i < nc)
            n = strlen(b);
        snprintf(ctx, sizeof ctx, "case %zu: %.300s", i, b);
        struct api_error ef, et;
        int rf, rt;
        one_message(b, n, false, &fast, &rf, &ef);
        one_message(b, n, true, &tree, &rt, &et);
        CHECK_LONG(rf, rt);
        CHECK_LONG(ef.status, et.status);
        CHECK(!strcmp(ef.message, et.message));
        if (fast.len != tree.len || memcmp(fast.p, tree.p, fast.len))
            fail_msg("%s:\nfast %s\ntree %s", ctx, fast.p, tree.p);
        free(file);
    }
    buf_free(&fast);
    buf_free(&tree);
}

/* The Responses stream's text and refusal deltas, written without a json-c
 * object, are the bytes the object gave: each data line is what json-c
 * prints for its own parse, with the members in the object's order, and
 * the sequence numbers run on. Quotes, backslashes, control characters,
 * UTF-8 and a \u0000 in the text. */
static void responses_deltas_print_as_json_c_does(void **state)
{
    (void)state;
    static const char sse[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\","
        "\"usage\":{\"input_tokens\":3}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello \\\"q\\\" \\\\ /\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"\\n\\t\\u0001 caf\xc3\xa9 \\u0000 \\ud83d\\ude00\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\"},"
        "\"usage\":{\"output_tokens\":5}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    static const char *const order[] = {"type", "item_id", "output_index", "content_index",
                                        "delta", "logprobs", "sequence_number"};
    snprintf(ctx, sizeof ctx, "responses deltas");
    struct session *ss = session_new(true, true);
    answer_free(&ss->o);
    struct resp_meta meta;
    memset(&meta, 0, sizeof meta);
    struct resp_out w;
    resp_out_prepare(&w, &meta);
    answer_init(&ss->o, &ss->r, 1, true, true, "gpt-4o", &resp_out_writer, &w);
    anth_stream_free(&ss->s);
    anth_stream_init(&ss->s, &ss->o, 0);
    enum step where;
    CHECK(feed_sse(sse, sizeof sse - 1, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where) == 0);
    /* The finished Response is made once: the stored record's and the
     * answer's are one object (and the writer's close frees it). */
    json_object *r1 = resp_out_response(&w, &ss->o), *r2 = resp_out_response(&w, &ss->o);
    CHECK(r1 == r2);
    /* Its text is written once too, as jsonv_write writes the object. */
    struct buf whole = BUF_INIT(1u << 20);
    CHECK(jsonv_write(&whole, r1) == AXON_OK);
    const char *j1, *j2;
    size_t n1, n2;
    CHECK(resp_out_response_json(&w, &ss->o, &j1, &n1) == AXON_OK);
    CHECK(resp_out_response_json(&w, &ss->o, &j2, &n2) == AXON_OK);
    CHECK(j1 == j2 && n1 == n2 && n1 == whole.len && !memcmp(j1, whole.p, n1));
    buf_free(&whole);
    json_object_put(r1);
    json_object_put(r2);
    CHECK(answer_close(&ss->o, AXON_OK, &ss->e) == AXON_OK);
    int deltas = 0;
    long seq = -1;
    char *text = xstrndup(out.p ? out.p : "", out.len);
    for (char *line = strstr(text, "\ndata: "); line; line = strstr(line + 1, "\ndata: ")) {
        char *d = line + 7, *end = strchr(d, '\n');
        CHECK(end != NULL);
        json_object *ev = NULL;
        CHECK(jsonv_parse(d, (size_t)(end - d), JSONV_MAX_DEPTH, &ev) == AXON_OK);
        long s = (long)json_object_get_int64(json_object_object_get(ev, "sequence_number"));
        CHECK_LONG(s, seq + 1);
        seq = s;
        const char *type = json_object_get_string(json_object_object_get(ev, "type"));
        if (!strcmp(type, "response.output_text.delta")) {
            deltas++;
            size_t dn = 0;
            const char *want = json_object_to_json_string_length(ev, JSONV_OUT, &dn);
            CHECK_LONG((long)dn, (long)(end - d));
            CHECK(!memcmp(d, want, dn));
            size_t k = 0;
            json_object_object_foreach(ev, key, val) {
                (void)val;
                CHECK(k < sizeof order / sizeof order[0] && !strcmp(key, order[k]));
                k++;
            }
            CHECK_LONG((long)k, 7);
        }
        json_object_put(ev);
    }
    CHECK_LONG(deltas, 2); /* the empty one is not sent */
    CHECK(strstr(text, "\"delta\":\"\\n\\t\\u0001 caf\xc3\xa9 \\u0000 \xf0\x9f\x98\x80\"") != NULL);
    free(text);
    session_free(ss);
}

/* The answer's writer is the ingress's: a Claude stream driven through the
 * provider reaches the test's writer as canonical events, settled by the
 * answer (the tool's id in OpenAI's form, its index in the choice, the
 * final finish_reason and usage; the signature kept, not shown), while not
 * a byte reaches the client through the chat writer. The answer keeps the
 * same stored turn whichever writer writes it. Non-streamed, the writer
 * sees only the end. */
static void answer_writes_through_the_ingress_writer(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *streamed; /* what the writer notes, streamed */
    } F[] = {
        {"anthropic-stream-tool.sse",
         "0 first text:Okay, let's check the weather for San Francisco, CA:\n"
         "0 tool:0 call_01T1x1fJ34qAmk2tNTrN7Up6 get_weather\n"
         "0 args:{\"location\": \"San Francisco, CA\", \"unit\": \"fahrenheit\"}\n"
         "0 finish:tool_calls in=472 out=89"},
        {"anthropic-stream-thinking.sse", NULL},
    };
    for (size_t f = 0; f < sizeof F / sizeof F[0]; f++) {
        for (int stream = 1; stream >= 0; stream--) {
            snprintf(ctx, sizeof ctx, "%s (%s)", F[f].file, stream ? "stream" : "non-stream");
            size_t n;
            char *b = fixture(F[f].file, &n);
            struct session *ss = session_new(stream, true);
            /* The pipeline's own step: the ingress's writer, not the chat one. */
            answer_free(&ss->o);
            struct note_writer nw = {.log = BUF_INIT(1u << 20)};
            answer_init(&ss->o, &ss->r, 1, stream, true, "gpt-4o", &note_writer, &nw);
            anth_stream_free(&ss->s);
            anth_stream_init(&ss->s, &ss->o, 0);
            enum step where;
            CHECK(feed_sse(b, n, (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where) == 0);
            CHECK(answer_check(&ss->o, AXON_OK, &ss->e) == AXON_OK);
            json_object *msg = answer_message(&ss->o, 0);
            CHECK(answer_close(&ss->o, AXON_OK, &ss->e) == AXON_OK);
            CHECK(out.len == 0); /* the chat writer wrote nothing: no chunk, no [DONE] */
            CHECK_LONG(nw.opened, 1);
            CHECK_LONG(nw.finished, 1);
            const char *log = nw.log.p ? nw.log.p : "";
            const char *end = strstr(log, "end model=claude-");
            CHECK(end != NULL);
            if (!stream)
                CHECK(end == log + 1); /* nothing before the end */
            else if (F[f].streamed)
                CHECK(!strncmp(log, F[f].streamed, strlen(F[f].streamed)) &&
                      end == log + strlen(F[f].streamed) + 1);
            else {
                /* Thinking, then text: each shown as it came, the signature
                 * kept for the stored turn only. */
                const char *r0 = log + 18, *r1 = strstr(log, "\n0 text:");
                CHECK(!strncmp(log, "0 first reasoning:", 18) && r1);
                CHECK(strstr(log, "\n0 finish:stop in="));
                CHECK(!strstr(log, "signature"));
                const char *kept = str_at(msg, "reasoning_content");
                CHECK(kept && strlen(kept) == (size_t)(r1 - r0) && !memcmp(kept, r0, strlen(kept)));
                json_object *blocks = member(msg, "thinking_blocks");
                CHECK(blocks && json_object_array_length(blocks) == 1);
            }
            json_object_put(msg);
            session_free(ss);
            CHECK_LONG(nw.closed, 1);
            buf_free(&nw.log);
            free(b);
        }
    }
}

static json_object *translate_with(const struct model *m, json_object *req,
                                   struct chat_plan *info_out)
{
    struct buf b = BUF_INIT(1u << 24);
    struct chat_plan info;
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc = anthropic_request(req, m, &b, &info, &e);
    if (rc) {
        buf_free(&b);
        fail_msg("%s: refused (%d): %d %s param=%s: %s", ctx, rc, e.status,
                 e.code ? e.code : "null", e.param, e.message);
    }
    json_object *o = NULL;
    if (jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &o) || !json_object_is_type(o, json_type_object))
        fail_msg("%s: the Messages body is not a JSON object: %s", ctx, b.p);
    buf_free(&b);
    if (info_out)
        *info_out = info;
    return o;
}

/* The Messages body for an OpenAI request (q notation). Returns new. */
static json_object *translate(const char *oai, struct chat_plan *info_out)
{
    snprintf(ctx, sizeof ctx, "request %.400s", oai);
    json_object *req = q(oai);
    json_object *o = translate_with(&claude, req, info_out);
    json_object_put(req);
    return o;
}

/* A 400 with OpenAI's code and param (NULL: null). */
static void refused(const char *oai, const char *code, const char *param)
{
    snprintf(ctx, sizeof ctx, "request %.400s", oai);
    json_object *req = q(oai);
    struct buf b = BUF_INIT(1u << 24);
    struct chat_plan info;
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc = anthropic_request(req, &claude, &b, &info, &e);
    json_object_put(req);
    size_t written = b.len;
    buf_free(&b);
    if (rc != AXON_EINVAL)
        fail_msg("%s: accepted (%d), want 400 %s", ctx, rc, code ? code : "null");
    CHECK_LONG(e.status, 400);
    CHECK_STR(e.type, ERR_INVALID_REQUEST);
    if (code)
        CHECK_STR(e.code, code);
    else
        CHECK(e.code == NULL);
    CHECK_STR(e.param, param ? param : "");
    CHECK(e.message[0] != '\0');
    CHECK_LONG((long)written, 0);
}

#define USER_HI "'messages':[{'role':'user','content':'hi'}]"
#define TOOLS "'tools':[{'type':'function','function':{'name':'f','parameters':{'type':'object'}}}]"

static void req_model_and_max_tokens(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("{'model':'gpt-4o'," USER_HI "}", &info);
    expect_json(o, "model", "'claude-sonnet-4-6'");
    expect_json(o, "max_tokens", "8192");
    expect_json(o, "messages", "[{'role':'user','content':[{'type':'text','text':'hi'}]}]");
    expect_absent(o, "system");
    expect_absent(o, "tools");
    expect_absent(o, "tool_choice");
    expect_absent(o, "thinking");
    expect_absent(o, "temperature");
    expect_absent(o, "stop_sequences");
    expect_absent(o, "metadata");
    expect_absent(o, "stream");
    CHECK(!info.stream && !info.include_usage && !info.json_mode);
    CHECK_LONG(info.n, 1);
    json_object_put(o);

    o = translate("{'model':'gpt-4o','max_tokens':100," USER_HI "}", NULL);
    expect_json(o, "max_tokens", "100");
    json_object_put(o);
    o = translate("{'model':'gpt-4o','max_tokens':100,'max_completion_tokens':200," USER_HI "}",
                  NULL);
    expect_json(o, "max_tokens", "200");
    json_object_put(o);
    o = translate("{'model':'gpt-4o','max_completion_tokens':64000," USER_HI "}", NULL);
    expect_json(o, "max_tokens", "64000");
    json_object_put(o);
    refused("{'model':'gpt-4o','max_tokens':64001," USER_HI "}", "invalid_value", "max_tokens");
    refused("{'model':'gpt-4o','max_completion_tokens':100000," USER_HI "}", "invalid_value",
            "max_completion_tokens");
}

static void req_stream_flags(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("{'model':'gpt-4o','stream':true,'stream_options':"
                               "{'include_usage':true}," USER_HI "}", &info);
    expect_json(o, "stream", "true");
    CHECK(info.stream && info.include_usage);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','stream':true," USER_HI "}", &info);
    CHECK(info.stream && !info.include_usage);
    json_object_put(o);
}

static void req_system_and_developer_hoisted(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':["
        "{'role':'system','content':'You are terse.'},"
        "{'role':'user','content':'a'},"
        "{'role':'developer','content':[{'type':'text','text':'Use metric units.'}]},"
        "{'role':'user','content':'b'},"
        "{'role':'system','content':'Be kind.'}]}", NULL);
    expect_json(o, "system", "[{'type':'text','text':'You are terse.'},"
                             "{'type':'text','text':'Use metric units.'},"
                             "{'type':'text','text':'Be kind.'}]");
    expect_json(o, "messages", "[{'role':'user','content':[{'type':'text','text':'a'},"
                               "{'type':'text','text':'b'}]}]");
    json_object_put(o);
}

static void req_same_roles_merge(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'a'},{'role':'user','content':'b'},"
        "{'role':'assistant','content':'c'},{'role':'assistant','content':'d'},"
        "{'role':'user','content':'e'}]}", NULL);
    expect_json(o, "messages",
                "[{'role':'user','content':[{'type':'text','text':'a'},{'type':'text','text':'b'}]},"
                "{'role':'assistant','content':[{'type':'text','text':'c'},{'type':'text','text':'d'}]},"
                "{'role':'user','content':[{'type':'text','text':'e'}]}]");
    json_object_put(o);
}

static void req_tool_round_trip(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'Weather in SF?'},"
        "{'role':'assistant','content':'Checking.','tool_calls':[{'id':'call_01A','type':'function',"
        "'function':{'name':'get_weather','arguments':'{\\'location\\':\\'SF\\',\\'n\\':[1,2]}'}}]},"
        "{'role':'tool','tool_call_id':'call_01A','content':'sunny'},"
        "{'role':'user','content':'Thanks'}]}", NULL);
    expect_json(o, "messages",
                "[{'role':'user','content':[{'type':'text','text':'Weather in SF?'}]},"
                "{'role':'assistant','content':[{'type':'text','text':'Checking.'},"
                "{'type':'tool_use','id':'toolu_01A','name':'get_weather',"
                "'input':{'location':'SF','n':[1,2]}}]},"
                "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_01A',"
                "'content':'sunny'},{'type':'text','text':'Thanks'}]}]");
    json_object_put(o);
}

/* tool_result blocks go first in their user turn, in order, even when the
 * user's text came before them. */
static void req_tool_results_before_text(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
        "{'role':'assistant','tool_calls':["
        "{'id':'call_1','type':'function','function':{'name':'f','arguments':'{}'}},"
        "{'id':'call_2','type':'function','function':{'name':'f','arguments':''}}]},"
        "{'role':'user','content':'also this'},"
        "{'role':'tool','tool_call_id':'call_1','content':'r1'},"
        "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'r2'}]}]}", NULL);
    expect_json(o, "messages[1]",
                "{'role':'assistant','content':["
                "{'type':'tool_use','id':'toolu_1','name':'f','input':{}},"
                "{'type':'tool_use','id':'toolu_2','name':'f','input':{}}]}");
    expect_json(o, "messages[2]",
                "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1','content':'r1'},"
                "{'type':'tool_result','tool_use_id':'toolu_2','content':[{'type':'text','text':'r2'}]},"
                "{'type':'text','text':'also this'}]}");
    CHECK_LONG((long)json_object_array_length(member(o, "messages")), 3);
    json_object_put(o);
}

static void req_bad_tool_arguments(void **state)
{
    (void)state;
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
            "{'role':'assistant','tool_calls':[{'id':'call_1','type':'function',"
            "'function':{'name':'f','arguments':'{not json'}}]}]}",
            "invalid_value", "messages[1].tool_calls[0].function.arguments");
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
            "{'role':'assistant','content':'x','tool_calls':[{'id':'call_1','type':'function',"
            "'function':{'name':'f','arguments':'{}'}},{'id':'call_2','type':'function',"
            "'function':{'name':'f','arguments':'[1]'}}]}]}",
            "invalid_value", "messages[1].tool_calls[1].function.arguments");
}

static void req_images(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':["
        "{'type':'text','text':'What is this?'},"
        "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo=','detail':'high'}},"
        "{'type':'image_url','image_url':{'url':'https://example.com/cat.jpg'}},"
        "{'type':'image_url','image_url':{'url':'data:application/pdf;base64,JVBERi0x'}}]}]}", NULL);
    expect_json(o, "messages[0].content",
                "[{'type':'text','text':'What is this?'},"
                "{'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0KGgo='}},"
                "{'type':'image','source':{'type':'url','url':'https://example.com/cat.jpg'}},"
                "{'type':'document','source':{'type':'base64','media_type':'application/pdf',"
                "'data':'JVBERi0x'}}]");
    json_object_put(o);
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':[{'type':'text','text':'x'},"
            "{'type':'image_url','image_url':{'url':'http://example.com/cat.jpg'}}]}]}",
            "invalid_image_url", "messages[0].content[1].image_url.url");
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':["
            "{'type':'image_url','image_url':{'url':'data:image/bmp;base64,Qk0='}}]}]}",
            "invalid_image_format", "messages[0].content[0].image_url.url");
}

static void req_files_and_audio(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':["
        "{'type':'file','file':{'filename':'report.pdf','file_data':'data:application/pdf;base64,JVBERi0x'}},"
        "{'type':'file','file':{'file_data':'JVBERi0y'}},"
        "{'type':'text','text':'Summarize.'}]}]}", NULL);
    expect_json(o, "messages[0].content",
                "[{'type':'document','title':'report.pdf','source':{'type':'base64',"
                "'media_type':'application/pdf','data':'JVBERi0x'}},"
                "{'type':'document','source':{'type':'base64','media_type':'application/pdf',"
                "'data':'JVBERi0y'}},{'type':'text','text':'Summarize.'}]");
    json_object_put(o);
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':["
            "{'type':'file','file':{'file_id':'file-abc'}}]}]}",
            "unsupported_value", "messages[0].content[0]");
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':["
            "{'type':'file','file':{'filename':'cat.png','file_data':'data:image/png;base64,aGk='}}]}]}",
            "unsupported_value", "messages[0].content[0]");
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':[{'type':'text','text':'x'},"
            "{'type':'input_audio','input_audio':{'data':'UklGRg==','format':'wav'}}]}]}",
            "unsupported_value", "messages[0].content[1]");
}

static void req_empty_text_dropped(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'  '},"
        "{'role':'user','content':[{'type':'text','text':''},{'type':'text','text':' \\n'},"
        "{'type':'text','text':'x'}]},{'role':'assistant','content':''},"
        "{'role':'user','content':'y'}]}", NULL);
    expect_json(o, "messages", "[{'role':'user','content':[{'type':'text','text':'x'},"
                               "{'type':'text','text':'y'}]}]");
    json_object_put(o);
}

static void req_name_carried(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','name':'alice','content':'hi'},"
        "{'role':'user','name':'bob','content':[{'type':'image_url',"
        "'image_url':{'url':'https://example.com/b.png'}}]}]}", NULL);
    expect_json(o, "messages[0].content",
                "[{'type':'text','text':'alice: hi'},{'type':'text','text':'bob:'},"
                "{'type':'image','source':{'type':'url','url':'https://example.com/b.png'}}]");
    json_object_put(o);
}

/* A \u0000 inside a string is text like any other: every string the client
 * sent reaches Claude whole (issue 18 item 5: "before\u0000after" reached
 * Claude as "before", while Valkey stored the whole text). */
static void req_nul_survives(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','user':'u\\u0000v','stop':['\\u0000'],'messages':["
        "{'role':'system','content':'sys\\u0000tem'},"
        "{'role':'developer','content':[{'type':'text','text':'dev\\u0000eloper'}]},"
        "{'role':'user','name':'al\\u0000ice','content':'before\\u0000after'},"
        "{'role':'assistant','content':'ok\\u0000','tool_calls':[{'id':'call_a\\u0000b',"
        "'type':'function','function':{'name':'get','arguments':'{\\'q\\':\\'x\\\\u0000y\\'}'}}]},"
        "{'role':'tool','tool_call_id':'call_a\\u0000b','content':'\\u0000result'},"
        "{'role':'user','content':[{'type':'text','text':'x\\u0000'}]},"
        "{'role':'assistant','content':'pre\\u0000fill \\u0000'}],"
        "'tools':[{'type':'function','function':{'name':'get','description':'d\\u0000esc',"
        "'parameters':{'type':'object','properties':{'q':{'type':'string',"
        "'description':'p\\u0000d'}}}}}]}",
        NULL);
    expect_json(o, "system", "[{'type':'text','text':'sys\\u0000tem'},"
                             "{'type':'text','text':'dev\\u0000eloper'}]");
    expect_json(o, "messages[0].content", "[{'type':'text','text':'al\\u0000ice: before\\u0000after'}]");
    expect_json(o, "messages[1].content",
                "[{'type':'text','text':'ok\\u0000'},{'type':'tool_use','id':'toolu_a_b',"
                "'name':'get','input':{'q':'x\\u0000y'}}]");
    expect_json(o, "messages[2].content",
                "[{'type':'tool_result','tool_use_id':'toolu_a_b','content':'\\u0000result'},"
                "{'type':'text','text':'x\\u0000'}]");
    /* The prefill loses its trailing space, not what follows a NUL. */
    expect_json(o, "messages[3].content", "[{'type':'text','text':'pre\\u0000fill \\u0000'}]");
    expect_json(o, "tools[0].description", "'d\\u0000esc'");
    expect_json(o, "tools[0].input_schema.properties.q.description", "'p\\u0000d'");
    expect_json(o, "stop_sequences", "['\\u0000']");
    expect_json(o, "metadata.user_id", "'u\\u0000v'");
    json_object_put(o);

    /* A user id with a NUL is not an opaque id: it is hashed whole, so two
     * that differ after the NUL stay apart. */
    json_object *a = q("{'user':'u\\u0000v'}"), *b = q("{'user':'u\\u0000w'}");
    anthropic_scope_user(a, "t");
    anthropic_scope_user(b, "t");
    snprintf(ctx, sizeof ctx, "scoped user ids");
    CHECK(!strncmp(str_at(a, "user"), "axon-", 5));
    CHECK(strcmp(str_at(a, "user"), str_at(b, "user")));
    json_object_put(a);
    json_object_put(b);
}

static void req_first_turn_is_the_users(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'system','content':'s'},"
        "{'role':'assistant','content':'Hello! How can I help?'},{'role':'user','content':'hi'}]}",
        NULL);
    json_object *msgs = member(o, "messages");
    CHECK_LONG((long)json_object_array_length(msgs), 3);
    expect_json(o, "messages[0].role", "'user'");
    const char *t = str_at(o, "messages[0].content[0].text");
    CHECK(strspn(t, " \t\r\n") < strlen(t)); /* not blank: Claude refuses those */
    expect_json(o, "messages[1]", "{'role':'assistant','content':[{'type':'text',"
                                  "'text':'Hello! How can I help?'}]}");
    expect_json(o, "messages[2]", "{'role':'user','content':[{'type':'text','text':'hi'}]}");
    json_object_put(o);
}

static void req_prefill_trimmed(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'keep  '},"
        "{'role':'assistant','content':'mid  '},{'role':'user','content':'Write JSON'},"
        "{'role':'assistant','content':'{\\n  \\'a\\': '}]}", NULL);
    expect_json(o, "messages[0].content[0].text", "'keep  '");
    expect_json(o, "messages[1].content[0].text", "'mid  '");
    expect_json(o, "messages[3].content[0].text", "'{\\n  \\'a\\':'");
    json_object_put(o);
}

static void req_stop_user_temperature(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','stop':['END',' ','','\\n\\n','STOP'],'user':'user-42',"
        "'temperature':1.7,'top_p':0.9," USER_HI "}", NULL);
    expect_json(o, "stop_sequences", "['END','STOP']");
    expect_json(o, "metadata", "{'user_id':'user-42'}");
    expect_json(o, "temperature", "1.0");
    expect_json(o, "top_p", "0.9");
    json_object_put(o);
    o = translate("{'model':'gpt-4o','stop':'###','temperature':0.25," USER_HI "}", NULL);
    expect_json(o, "stop_sequences", "['###']");
    expect_json(o, "temperature", "0.25");
    json_object_put(o);
    o = translate("{'model':'gpt-4o','stop':[' ','\\t']," USER_HI "}", NULL);
    expect_absent(o, "stop_sequences");
    json_object_put(o);
}

/* budget_tokens at least Claude's 1024 and below max_tokens, and no
 * temperature or top_k, which thinking does not allow. */
static void expect_thinking(json_object *o)
{
    expect_json(o, "thinking.type", "'enabled'");
    long budget = long_at(o, "thinking.budget_tokens");
    long max = long_at(o, "max_tokens");
    CHECK(budget >= 1024);
    CHECK(budget < max);
    expect_absent(o, "temperature");
    expect_absent(o, "top_k");
}

static void req_thinking(void **state)
{
    (void)state;
    json_object *o = translate("{'model':'gpt-4o','thinking':true,'temperature':0.5,'top_k':5,"
                               USER_HI "}", NULL);
    expect_thinking(o);
    json_object_put(o);
    static const char *const efforts[] = {"minimal", "low", "medium", "high"};
    for (size_t i = 0; i < sizeof efforts / sizeof efforts[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "{'model':'gpt-4o','reasoning_effort':'%s','temperature':0.2,"
                                  USER_HI "}", efforts[i]);
        o = translate(req, NULL);
        expect_thinking(o);
        json_object_put(o);
    }
    /* The client's own limit is kept, and the budget fits under it. */
    o = translate("{'model':'gpt-4o','thinking':true,'max_completion_tokens':3000," USER_HI "}",
                  NULL);
    expect_json(o, "max_tokens", "3000");
    expect_thinking(o);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','reasoning_effort':'high','max_tokens':5000," USER_HI "}",
                  NULL);
    expect_json(o, "max_tokens", "5000");
    expect_thinking(o);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','reasoning_effort':'none','temperature':0.2," USER_HI "}",
                  NULL);
    expect_absent(o, "thinking");
    expect_json(o, "temperature", "0.2");
    json_object_put(o);
    /* No room for Claude's smallest budget. */
    refused("{'model':'gpt-4o','thinking':true,'max_tokens':1500," USER_HI "}", "invalid_value",
            "max_tokens");
}

static void req_forced_tool_with_thinking(void **state)
{
    (void)state;
    refused("{'model':'gpt-4o','thinking':true,'tool_choice':'required'," TOOLS "," USER_HI "}",
            "unsupported_value", "tool_choice");
    refused("{'model':'gpt-4o','reasoning_effort':'low','tool_choice':{'type':'function',"
            "'function':{'name':'f'}}," TOOLS "," USER_HI "}", "unsupported_value", "tool_choice");
    json_object *o = translate("{'model':'gpt-4o','thinking':true,'tool_choice':'auto'," TOOLS ","
                               USER_HI "}", NULL);
    expect_json(o, "tool_choice", "{'type':'auto'}");
    json_object_put(o);
}

static void req_tool_schemas(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','tools':[{'type':'function','function':{'name':'lookup',"
        "'description':'Find a record','strict':true,'parameters':{"
        "'$schema':'http://json-schema.org/draft-07/schema#','$id':'urn:lookup','type':'object',"
        "'properties':{'$id':{'type':'string','description':'record id','$id':'urn:inner'},"
        "'tags':{'type':'array','items':{'$schema':'x','type':'string'}}},"
        "'$defs':{'$id':{'$id':'urn:def','type':'integer'}},"
        "'required':['$id'],'additionalProperties':false}}},"
        "{'type':'function','function':{'name':'ping'}}]," USER_HI "}", NULL);
    expect_json(o, "tools[0]",
                "{'name':'lookup','description':'Find a record','strict':true,'input_schema':{"
                "'type':'object','properties':{'$id':{'type':'string','description':'record id'},"
                "'tags':{'type':'array','items':{'type':'string'}}},"
                "'$defs':{'$id':{'type':'integer'}},"
                "'required':['$id'],'additionalProperties':false}}");
    expect_json(o, "tools[1].name", "'ping'");
    expect_json(o, "tools[1].input_schema.type", "'object'");
    expect_absent(o, "tools[1].description");
    expect_json(o, "tool_choice", "{'type':'auto'}");
    json_object_put(o);
}

static void req_tool_choice(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *want;
    } C[] = {
        {"'tool_choice':'auto'", "{'type':'auto'}"},
        {"'tool_choice':'required'", "{'type':'any'}"},
        {"'tool_choice':'none'", "{'type':'none'}"},
        {"'tool_choice':{'type':'function','function':{'name':'f'}}", "{'type':'tool','name':'f'}"},
        {"'parallel_tool_calls':false", "{'type':'auto','disable_parallel_tool_use':true}"},
        {"'parallel_tool_calls':false,'tool_choice':'required'",
         "{'type':'any','disable_parallel_tool_use':true}"},
        {"'parallel_tool_calls':false,'tool_choice':{'type':'function','function':{'name':'f'}}",
         "{'type':'tool','name':'f','disable_parallel_tool_use':true}"},
        {"'parallel_tool_calls':false,'tool_choice':'none'", "{'type':'none'}"},
        {"'parallel_tool_calls':true", "{'type':'auto'}"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "{'model':'gpt-4o',%s," TOOLS "," USER_HI "}", C[i].extra);
        json_object *o = translate(req, NULL);
        expect_json(o, "tool_choice", C[i].want);
        json_object_put(o);
    }
}

static void req_response_format(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate(
        "{'model':'gpt-4o','response_format':{'type':'json_schema','json_schema':{'name':'receipt',"
        "'strict':true,'schema':{'$schema':'https://json-schema.org/draft/2020-12/schema',"
        "'type':'object','properties':{'total':{'type':'number'}},'required':['total'],"
        "'additionalProperties':false}}}," USER_HI "}", &info);
    expect_json(o, "output_config", "{'format':{'type':'json_schema','schema':{'type':'object',"
                                    "'properties':{'total':{'type':'number'}},'required':['total'],"
                                    "'additionalProperties':false}}}");
    expect_absent(o, "system");
    CHECK(!info.json_mode);
    json_object_put(o);

    o = translate("{'model':'gpt-4o','response_format':{'type':'json_object'},'messages':["
                  "{'role':'system','content':'You sort lists.'},{'role':'user','content':'hi'}]}",
                  &info);
    CHECK(info.json_mode);
    json_object *sys = member(o, "system");
    CHECK(sys && json_object_array_length(sys) == 2);
    expect_json(o, "system[0]", "{'type':'text','text':'You sort lists.'}");
    expect_json(o, "system[1].type", "'text'");
    CHECK(strstr(str_at(o, "system[1].text"), "JSON") != NULL);
    expect_absent(o, "output_config");
    json_object_put(o);

    o = translate("{'model':'gpt-4o','response_format':{'type':'text'}," USER_HI "}", &info);
    CHECK(!info.json_mode);
    expect_absent(o, "system");
    expect_absent(o, "output_config");
    json_object_put(o);
}

static void req_logprobs_refused(void **state)
{
    (void)state;
    refused("{'model':'gpt-4o','logprobs':true," USER_HI "}", "unsupported_parameter", "logprobs");
    json_object *o = translate("{'model':'gpt-4o','logprobs':false," USER_HI "}", NULL);
    json_object_put(o);
}

/* Claude refuses tool_use blocks without tool definitions: a history with
 * tool calls and no tools gets them, and tool_choice none. */
static void req_tools_from_history(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
        "{'role':'assistant','tool_calls':[{'id':'call_1','type':'function',"
        "'function':{'name':'get_weather','arguments':'{}'}},{'id':'call_2','type':'function',"
        "'function':{'name':'get_weather','arguments':'{}'}},{'id':'call_3','type':'function',"
        "'function':{'name':'get_time','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'a'},"
        "{'role':'tool','tool_call_id':'call_2','content':'b'},"
        "{'role':'tool','tool_call_id':'call_3','content':'c'}],'parallel_tool_calls':false}", NULL);
    json_object *tools = member(o, "tools");
    CHECK(tools && json_object_array_length(tools) == 2);
    expect_json(o, "tools[0].name", "'get_weather'");
    expect_json(o, "tools[0].input_schema.type", "'object'");
    expect_json(o, "tools[1].name", "'get_time'");
    expect_json(o, "tool_choice", "{'type':'none'}");
    json_object_put(o);
}

/* The OpenAI request a client would have sent for a recorded Messages
 * request: tool_use blocks as tool_calls, tool_result blocks as tool
 * messages, tools as function tools. Returns new. */
static json_object *openai_from_recorded(json_object *a)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "model", json_object_new_string("gpt-4o"));
    json_object_object_add(req, "max_tokens", json_object_get(member(a, "max_tokens")));
    if (member(a, "stream"))
        json_object_object_add(req, "stream", json_object_get(member(a, "stream")));
    json_object *msgs = json_object_new_array();
    json_object *am = member(a, "messages");
    for (size_t i = 0; i < json_object_array_length(am); i++) {
        json_object *m = json_object_array_get_idx(am, i);
        const char *role = str_at(m, "role");
        json_object *c = member(m, "content");
        if (json_object_is_type(c, json_type_string)) {
            json_object *om = json_object_new_object();
            json_object_object_add(om, "role", json_object_new_string(role));
            json_object_object_add(om, "content", json_object_get(c));
            json_object_array_add(msgs, om);
            continue;
        }
        json_object *calls = json_object_new_array();
        for (size_t k = 0; k < json_object_array_length(c); k++) {
            json_object *b = json_object_array_get_idx(c, k);
            const char *type = str_at(b, "type");
            char id[128];
            if (!strcmp(type, "tool_use")) {
                snprintf(id, sizeof id, "call_%s", str_at(b, "id") + strlen("toolu_"));
                json_object *fn = json_object_new_object();
                json_object_object_add(fn, "name", json_object_get(member(b, "name")));
                json_object_object_add(fn, "arguments", json_object_new_string(plain(member(b, "input"))));
                json_object *tc = json_object_new_object();
                json_object_object_add(tc, "id", json_object_new_string(id));
                json_object_object_add(tc, "type", json_object_new_string("function"));
                json_object_object_add(tc, "function", fn);
                json_object_array_add(calls, tc);
            } else if (!strcmp(type, "tool_result")) {
                snprintf(id, sizeof id, "call_%s", str_at(b, "tool_use_id") + strlen("toolu_"));
                json_object *om = json_object_new_object();
                json_object_object_add(om, "role", json_object_new_string("tool"));
                json_object_object_add(om, "tool_call_id", json_object_new_string(id));
                json_object_object_add(om, "content", json_object_get(member(b, "content")));
                json_object_array_add(msgs, om);
            } else {
                fail_msg("%s: block type %s not expected in the recording", ctx, type);
            }
        }
        if (json_object_array_length(calls)) {
            json_object *om = json_object_new_object();
            json_object_object_add(om, "role", json_object_new_string("assistant"));
            json_object_object_add(om, "content", NULL);
            json_object_object_add(om, "tool_calls", calls);
            json_object_array_add(msgs, om);
        } else {
            json_object_put(calls);
        }
    }
    json_object_object_add(req, "messages", msgs);
    json_object *tools = json_object_new_array();
    json_object *at_ = member(a, "tools");
    for (size_t i = 0; at_ && i < json_object_array_length(at_); i++) {
        json_object *t = json_object_array_get_idx(at_, i);
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", json_object_get(member(t, "name")));
        json_object_object_add(fn, "description", json_object_get(member(t, "description")));
        json_object_object_add(fn, "parameters", json_object_get(member(t, "input_schema")));
        json_object *ot = json_object_new_object();
        json_object_object_add(ot, "type", json_object_new_string("function"));
        json_object_object_add(ot, "function", fn);
        json_object_array_add(tools, ot);
    }
    json_object_object_add(req, "tools", tools);
    return req;
}

/* The recorded messages as Claude reads them: string content is one text
 * block, and the answer-only "caller" field is not sent back. Returns new. */
static json_object *recorded_messages(json_object *msgs)
{
    json_object *copy = NULL;
    assert_int_equal(json_object_deep_copy(msgs, &copy, NULL), 0);
    for (size_t i = 0; i < json_object_array_length(copy); i++) {
        json_object *m = json_object_array_get_idx(copy, i);
        json_object *c = member(m, "content");
        if (json_object_is_type(c, json_type_string)) {
            json_object *blocks = json_object_new_array();
            json_object *b = json_object_new_object();
            json_object_object_add(b, "type", json_object_new_string("text"));
            json_object_object_add(b, "text", json_object_get(c));
            json_object_array_add(blocks, b);
            json_object_object_add(m, "content", blocks);
            continue;
        }
        for (size_t k = 0; k < json_object_array_length(c); k++)
            json_object_object_del(json_object_array_get_idx(c, k), "caller");
    }
    return copy;
}

/* What the Anthropic SDK sent in the recorded exchanges is what Axon sends
 * for the OpenAI form of the same conversation. */
static void req_recorded_exchanges(void **state)
{
    (void)state;
    static const char *const files[] = {
        "anthropic-recorded-exchange-nonstream-tool-roundtrip.json",
        "anthropic-recorded-exchange-stream-tool-roundtrip.json",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        json_object *rec = fixture_json(files[f]);
        for (size_t t = 0; t < json_object_array_length(rec); t++) {
            snprintf(ctx, sizeof ctx, "%s, request %zu", files[f], t);
            json_object *sent = at(json_object_array_get_idx(rec, t), "request.body");
            struct model m = claude;
            m.upstream_id = (char *)str_at(sent, "model");
            json_object *req = openai_from_recorded(sent);
            struct chat_plan info;
            json_object *o = translate_with(&m, req, &info);
            json_object *want = recorded_messages(member(sent, "messages"));
            expect_same(o, "messages", want);
            json_object_put(want);
            CHECK(json_object_equal(member(o, "tools"), member(sent, "tools")));
            CHECK(json_object_equal(member(o, "model"), member(sent, "model")));
            CHECK(json_object_equal(member(o, "max_tokens"), member(sent, "max_tokens")));
            CHECK(json_object_equal(member(o, "stream"), member(sent, "stream")));
            CHECK(info.stream == (member(sent, "stream") != NULL));
            json_object *tc = member(o, "tool_choice"); /* absent means auto to Claude */
            CHECK(!tc || (json_object_object_length(tc) == 1 &&
                          !strcmp(str_at(tc, "type"), "auto")));
            json_object_put(o);
            json_object_put(req);
        }
        json_object_put(rec);
    }
}

/* A tool call id Claude would refuse is made safe the same way in the
 * tool_use and in its tool_result, so the two still pair. */
static void req_odd_tool_call_ids(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
        "{'role':'assistant','tool_calls':[{'id':'call_a.b:c/d','type':'function',"
        "'function':{'name':'f','arguments':'{}'}},{'id':'fc-42','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_a.b:c/d','content':'r1'},"
        "{'role':'tool','tool_call_id':'fc-42','content':'r2'}]}", NULL);
    for (int k = 0; k < 2; k++) {
        char use[64], result[64];
        snprintf(use, sizeof use, "messages[1].content[%d].id", k);
        snprintf(result, sizeof result, "messages[2].content[%d].tool_use_id", k);
        const char *id = str_at(o, use);
        CHECK_STR(str_at(o, result), id);
        CHECK(strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
              strlen(id));
    }
    expect_json(o, "messages[1].content[0].id", "'toolu_a_b_c_d'");
    json_object_put(o);
}

/* Only system and developer messages: nothing for Claude to answer. */
static void req_no_conversation(void **state)
{
    (void)state;
    refused("{'model':'gpt-4o','messages':[{'role':'system','content':'s'},"
            "{'role':'developer','content':'d'}]}", "invalid_value", "messages");
}

/* Signed thinking blocks sent back (LiteLLM's thinking_blocks) come first
 * in the assistant turn, unchanged. */
static void req_thinking_blocks_first(void **state)
{
    (void)state;
    static const char tail[] =
        "'thinking_blocks':[{'type':'thinking','thinking':'t','signature':'sig'},"
        "{'type':'redacted_thinking','data':'EmwK'}],"
        "'tool_calls':[{'id':'call_1','type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'r'}]," TOOLS "}";
    char req[1024];
    /* With text, and (below) with a name but no text: the label Claude
     * reads the name from must not go before the thinking blocks. */
    static const char *const heads[] = {"'content':'Let me look.',", "'name':'bot',"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        snprintf(req, sizeof req, "{'model':'gpt-4o','thinking':true,'messages':["
                                  "{'role':'user','content':'q'},{'role':'assistant',%s%s",
                 heads[i], tail);
        json_object *o = translate(req, NULL);
        expect_json(o, "messages[1].content[0]",
                    "{'type':'thinking','thinking':'t','signature':'sig'}");
        expect_json(o, "messages[1].content[1]", "{'type':'redacted_thinking','data':'EmwK'}");
        CHECK(json_object_array_length(at(o, "messages[1].content")) == 4);
        expect_json(o, "messages[1].content[3].type", "'tool_use'");
        json_object_put(o);
    }
}

/* Names of any length: a message's name is any string to the validator. */
static void req_long_name_label(void **state)
{
    (void)state;
    char name[401];
    memset(name, 'n', 400);
    name[400] = '\0';
    char req[1024];
    /* No text to prefix: the name becomes a label block of its own. */
    snprintf(req, sizeof req, "{'model':'gpt-4o','messages':[{'role':'user','name':'%s',"
                              "'content':[{'type':'image_url','image_url':"
                              "{'url':'https://example.com/a.png'}}]}]}", name);
    json_object *o = translate(req, NULL);
    const char *t = str_at(o, "messages[0].content[0].text");
    size_t k = strspn(t, "n"); /* the name, perhaps shortened, and nothing else */
    CHECK(k > 0 && !strcmp(t + k, ":"));
    json_object_put(o);
}

/* The deprecated function role's result is labelled with its name. */
static void req_long_function_name(void **state)
{
    (void)state;
    char name[401];
    memset(name, 'f', 400);
    name[400] = '\0';
    char req[1024];
    snprintf(req, sizeof req, "{'model':'gpt-4o','messages':[{'role':'user','content':'q'},"
                              "{'role':'function','name':'%s','content':'42'}]}", name);
    json_object *o = translate(req, NULL);
    const char *t = str_at(o, "messages[0].content[1].text");
    CHECK(!strncmp(t, "Result of function ", 19));
    size_t k = strspn(t + 19, "f");
    CHECK(k > 0 && !strcmp(t + 19 + k, ":\n42"));
    json_object_put(o);
}


/* ---- issue 17, items 8, 11 and 12 ------------------------------------------------ */

/* Claude's billing refusals are OpenAI's insufficient_quota (429, never
 * retried: x-should-retry false, no Retry-After), and a prompt over the
 * context window is context_length_exceeded with OpenAI's words. */
static void http_error_billing_and_context(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
    } B[] = {
        {402, "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"Your credit "
              "balance is too low to access the Anthropic API.\"},\"request_id\":\"req_1\"}"},
        {400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
              "\"Your credit balance is too low to access the Anthropic API. Please go to Plans "
              "& Billing to upgrade or purchase credits.\"}}"},
        {402, "<html>Payment Required</html>"},
    };
    for (size_t i = 0; i < sizeof B / sizeof B[0]; i++) {
        snprintf(ctx, sizeof ctx, "billing %zu", i);
        struct api_error e;
        memset(&e, 0, sizeof e);
        anthropic_http_error(B[i].status, B[i].body, strlen(B[i].body), "30", &e);
        CHECK_LONG(e.status, 429);
        CHECK_STR(e.type, "insufficient_quota");
        CHECK_STR(e.code, "insufficient_quota");
        CHECK(e.no_retry);
        CHECK_STR(e.retry_after, "");
        CHECK(!strncmp(e.message, "You exceeded your current quota, please check your plan and "
                                  "billing details.", 76));
    }
    snprintf(ctx, sizeof ctx, "prompt is too long");
    static const char tl[] = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                             "\"message\":\"prompt is too long: 215000 tokens > 200000 maximum\"}}";
    struct api_error e;
    memset(&e, 0, sizeof e);
    anthropic_http_error(400, tl, strlen(tl), "", &e);
    CHECK_LONG(e.status, 400);
    CHECK_STR(e.type, ERR_INVALID_REQUEST);
    CHECK_STR(e.code, "context_length_exceeded");
    CHECK_STR(e.param, "messages");
    CHECK_STR(e.message, "This model's maximum context length is 200000 tokens. However, your "
                         "messages resulted in 215000 tokens. Please reduce the length of the "
                         "messages.");
    CHECK(!e.no_retry);
    /* A wording without the numbers keeps Claude's words, and the code. */
    static const char tl2[] = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                              "\"message\":\"prompt is too long: far too long\"}}";
    memset(&e, 0, sizeof e);
    anthropic_http_error(400, tl2, strlen(tl2), "", &e);
    CHECK_STR(e.code, "context_length_exceeded");
    CHECK_STR(e.message, "prompt is too long: far too long");
    /* Other 400s are unchanged: Claude's words, code null. */
    static const char other[] = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                                "\"message\":\"messages: too many\"}}";
    memset(&e, 0, sizeof e);
    anthropic_http_error(400, other, strlen(other), "", &e);
    CHECK(e.code == NULL);
    CHECK_STR(e.type, ERR_INVALID_REQUEST);
}

#define BLOCK_THINK(i) \
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":" #i \
    ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
#define THINK(i, t) \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i \
    ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"" t "\"}}\n\n"
#define SIG(i, t) \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i \
    ",\"delta\":{\"type\":\"signature_delta\",\"signature\":\"" t "\"}}\n\n"

/* Claude's own tools (web search): the server_tool_use block's argument
 * deltas and the result block are not shown, the text that follows is. As
 * streamed by the API (docs' web search example, with pieces of input). */
static void server_tool_blocks_are_skipped(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(server tool use)", .model = "claude-t",
        .content = "Let me search. It is sunny in Paris.", .finish = "stop", .prompt = 20,
        .completion = 30};
    stream_case(&x, START("claude-t", 20, 0, 0) BLOCK_TEXT(0) TEXT(0, "Let me search.") STOP(0)
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_014\",\"name\":"
        "\"web_search\",\"input\":{}}}\n\n"
        ARGS(1, "") ARGS(1, "{\\\"query\\\":") ARGS(1, " \\\"weather Paris\\\"}") STOP(1)
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
        "\"content_block\":{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_014\","
        "\"content\":[{\"type\":\"web_search_result\",\"title\":\"Weather\",\"url\":"
        "\"https://example.com\",\"encrypted_content\":\"Eq0x\"}]}}\n\n"
        STOP(2) BLOCK_TEXT(3) TEXT(3, " It is sunny in Paris.") STOP(3) END("end_turn", 30));
    /* The same answer whole: the blocks are skipped there too. */
    static const char whole[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-t\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Let me search.\"},{\"type\":\"server_tool_use\","
        "\"id\":\"srvtoolu_014\",\"name\":\"web_search\",\"input\":{\"query\":\"weather Paris\"}},"
        "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_014\",\"content\":[]},"
        "{\"type\":\"text\",\"text\":\" It is sunny in Paris.\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":20,\"output_tokens\":30}}";
    json_all_ways(&x, whole, strlen(whole));
    /* Argument deltas in a text block are still a broken upstream. */
    snprintf(ctx, sizeof ctx, "arguments in a text block");
    static const char bad[] = START("claude-t", 1, 0, 0) BLOCK_TEXT(0) ARGS(0, "{}");
    struct session *ss = session_new(true, false);
    enum step where;
    CHECK_LONG(feed_sse(bad, strlen(bad), (struct split){SPLIT_WHOLE, 0}, &ss->s, &ss->e, &where),
               AXON_EPROTO);
    CHECK_LONG(ss->e.status, 502);
    session_free(ss);
}

/* Interleaved thinking: thinking, a tool call, thinking again. The pieces
 * are kept apart by a blank line in reasoning_content, and each stored
 * block keeps its own text, which its signature covers. */
static void interleaved_thinking_separated(void **state)
{
    (void)state;
    static const struct expect x = {
        .file = "(interleaved thinking)", .model = "claude-t", .content = "Done.",
        .reasoning = "First I look.\n\nNow I answer.", .ntools = 1,
        .tools = {{"call_T1", "look", "{}"}}, .finish = "tool_calls", .prompt = 5,
        .completion = 40};
    static const char sse[] = START("claude-t", 5, 0, 0) BLOCK_THINK(0) THINK(0, "First I")
        THINK(0, " look.") SIG(0, "c2lnMQ==") STOP(0) BLOCK_TOOL(1, "toolu_T1", "look") STOP(1)
        BLOCK_THINK(2) THINK(2, "Now I answer.") SIG(2, "c2lnMg==") STOP(2)
        BLOCK_TEXT(3) TEXT(3, "Done.") STOP(3) END("tool_use", 40);
    stream_case(&x, sse);
    static const char whole[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-t\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"First I look.\",\"signature\":"
        "\"c2lnMQ==\"},{\"type\":\"tool_use\",\"id\":\"toolu_T1\",\"name\":\"look\",\"input\":{}},"
        "{\"type\":\"thinking\",\"thinking\":\"Now I answer.\",\"signature\":\"c2lnMg==\"},"
        "{\"type\":\"text\",\"text\":\"Done.\"}],\"stop_reason\":\"tool_use\","
        "\"usage\":{\"input_tokens\":5,\"output_tokens\":40}}";
    json_all_ways(&x, whole, strlen(whole));
    for (int stream = 0; stream < 2; stream++) {
        snprintf(ctx, sizeof ctx, "interleaved thinking stored (%s)", stream ? "stream" : "json");
        struct session *ss = session_new(stream, false);
        enum step where;
        assert_int_equal(feed_sse(sse, strlen(sse), (struct split){SPLIT_WHOLE, 0}, &ss->s,
                                  &ss->e, &where), 0);
        json_object *msg = answer_message(&ss->o, 0);
        CHECK_STR(str_at(msg, "thinking_blocks[0].thinking"), "First I look.");
        CHECK_STR(str_at(msg, "thinking_blocks[0].signature"), "c2lnMQ==");
        CHECK_STR(str_at(msg, "thinking_blocks[1].thinking"), "Now I answer.");
        CHECK_STR(str_at(msg, "thinking_blocks[1].signature"), "c2lnMg==");
        json_object_put(msg);
        session_free(ss);
    }
}

/* Text files become documents with a text source (Claude's PlainTextSource
 * takes text/plain only): any text/ type, or plain base64 named like text. */
static void req_text_files(void **state)
{
    (void)state;
    /* "hi there\n" and "# T\n| a |\n" and "x,y\n1,2\n" in base64 */
    json_object *o = translate(
        "{'model':'gpt-4o','messages':[{'role':'user','content':["
        "{'type':'file','file':{'filename':'a.txt','file_data':'data:text/plain;base64,aGkgdGhlcmUK'}},"
        "{'type':'file','file':{'file_data':'data:text/markdown;base64,IyBUCnwgYSB8Cg=='}},"
        "{'type':'file','file':{'filename':'t.csv','file_data':'eCx5CjEsMgo='}},"
        "{'type':'text','text':'Compare.'}]}]}", NULL);
    expect_json(o, "messages[0].content",
                "[{'type':'document','source':{'type':'text','media_type':'text/plain',"
                "'data':'hi there\\n'},'title':'a.txt'},"
                "{'type':'document','source':{'type':'text','media_type':'text/plain',"
                "'data':'# T\\n| a |\\n'}},"
                "{'type':'document','source':{'type':'text','media_type':'text/plain',"
                "'data':'x,y\\n1,2\\n'},'title':'t.csv'},{'type':'text','text':'Compare.'}]");
    json_object_put(o);
    /* not base64; not UTF-8 (0xff 0xfe) */
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':["
            "{'type':'file','file':{'file_data':'data:text/plain;base64,@@@'}}]}]}",
            "invalid_value", "messages[0].content[0]");
    refused("{'model':'gpt-4o','messages':[{'role':'user','content':["
            "{'type':'file','file':{'file_data':'data:text/plain;base64,//4='}}]}]}",
            "invalid_value", "messages[0].content[0]");
}

/* A non-stream request whose answer may take longer than the Anthropic
 * SDK allows without streaming (max_tokens above 21,333) is streamed from
 * Claude, and still answered as one object. */
static void req_long_answer_streamed(void **state)
{
    (void)state;
    struct chat_plan info;
    json_object *o = translate("{'model':'gpt-4o','max_tokens':30000," USER_HI "}", &info);
    expect_json(o, "stream", "true");
    CHECK(!info.stream);
    CHECK(info.stream_upstream);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','max_completion_tokens':21333," USER_HI "}", &info);
    expect_absent(o, "stream");
    CHECK(!info.stream_upstream);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','stream':true,'max_tokens':30000," USER_HI "}", &info);
    expect_json(o, "stream", "true");
    CHECK(info.stream);
    CHECK(!info.stream_upstream);
    json_object_put(o);
}

/* ---- prompt caching (pcache.h) ---------------------------------------------------- */

#define EPH "{'type':'ephemeral'}"
#define EPH_1H "{'type':'ephemeral','ttl':'1h'}"

/* Every block (and tool) that carries cache_control, and the top level's. */
static int count_marks(json_object *o)
{
    int n = 0;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += count_marks(json_object_array_get_idx(o, i));
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            if (!strcmp(k, "cache_control"))
                n++;
            else
                n += count_marks(v);
        }
    }
    return n;
}

/* A request whose first user text is `len` bytes of 'x' (a long prompt when
 * len reaches PCACHE_AUTO_MIN_TOKENS * 4), then `rest` (q notation). */
static json_object *translate_long(size_t len, const char *head, const char *rest,
                                   struct chat_plan *info)
{
    struct buf b = BUF_INIT(1u << 24);
    char *x = xcalloc(len + 1, 1);
    memset(x, 'x', len);
    assert_int_equal(buf_printf(&b, "{'model':'gpt-4o',%s'messages':[{'role':'user','content':'%s'}%s]}",
                                head, x, rest), 0);
    free(x);
    snprintf(ctx, sizeof ctx, "request with a %zu-byte prompt, %.200s %.200s", len, head, rest);
    json_object *req = q(b.p);
    buf_free(&b);
    json_object *o = translate_with(&claude, req, info);
    json_object_put(req);
    return o;
}

/* cache_control and OpenAI's prompt_cache_breakpoint on a part, a message
 * or a tool reach Claude on the block it became. */
static void req_cache_breakpoints_reach_blocks(void **state)
{
    (void)state;
    json_object *o = translate(
        "{'model':'gpt-4o','messages':["
        "{'role':'system','content':[{'type':'text','text':'S','cache_control':{'type':'ephemeral'}}]},"
        "{'role':'user','content':[{'type':'text','text':'a','prompt_cache_breakpoint':"
        "{'mode':'explicit'}},{'type':'image_url','image_url':{'url':'https://e.com/a.png'},"
        "'prompt_cache_breakpoint':{'mode':'explicit'}},{'type':'text','text':'q'}]}]}", NULL);
    expect_json(o, "system[0]", "{'type':'text','text':'S','cache_control':" EPH "}");
    expect_json(o, "messages[0].content[0]", "{'type':'text','text':'a','cache_control':" EPH "}");
    expect_json(o, "messages[0].content[1].cache_control", EPH);
    expect_absent(o, "messages[0].content[2].cache_control");
    expect_absent(o, "cache_control"); /* short, and no conversation: nothing automatic */
    CHECK_LONG(count_marks(o), 3);
    json_object_put(o);

    /* A message's own mark goes on its last block (past its thinking). */
    o = translate("{'model':'gpt-4o','messages':[{'role':'user','content':'hello',"
                  "'cache_control':{'type':'ephemeral'}},{'role':'assistant','thinking_blocks':"
                  "[{'type':'thinking','thinking':'t','signature':'sig'}],'tool_calls':[{'id':"
                  "'call_1','type':'function','function':{'name':'f','arguments':'{}'}}],"
                  "'cache_control':{'type':'ephemeral'}},{'role':'tool','tool_call_id':'call_1',"
                  "'content':'r','cache_control':{'type':'ephemeral'}},{'role':'user','content':"
                  "'next'}]," TOOLS "}", NULL);
    expect_json(o, "messages[0].content[0].cache_control", EPH);
    expect_absent(o, "messages[1].content[0].cache_control"); /* the thinking block */
    expect_json(o, "messages[1].content[1].cache_control", EPH); /* the tool_use */
    expect_json(o, "messages[2].content[0].type", "'tool_result'");
    expect_json(o, "messages[2].content[0].cache_control", EPH);
    expect_absent(o, "messages[2].content[1].cache_control");
    CHECK_LONG(count_marks(o), 3);
    json_object_put(o);

    /* A tool's: on the tool (or on its function). */
    o = translate("{'model':'gpt-4o'," USER_HI ",'tools':[{'type':'function','function':"
                  "{'name':'f'}},{'type':'function','function':{'name':'g'},'cache_control':"
                  "{'type':'ephemeral'}}]}", NULL);
    expect_absent(o, "tools[0].cache_control");
    expect_json(o, "tools[1].cache_control", EPH);
    json_object_put(o);

    /* Not an object: no mark. An unknown ttl: the request's. */
    o = translate("{'model':'gpt-4o','messages':[{'role':'user','content':[{'type':'text','text':"
                  "'a','cache_control':true},{'type':'text','text':'b','cache_control':"
                  "{'type':'ephemeral','ttl':'2h'}}]}]}", NULL);
    expect_absent(o, "messages[0].content[0].cache_control");
    expect_json(o, "messages[0].content[1].cache_control", EPH);
    json_object_put(o);
}

/* prompt_cache_retention "24h" (and a prompt_cache_options.ttl) ask for
 * Claude's hour; a 1-hour mark never follows a 5-minute one. */
static void req_cache_ttl(void **state)
{
    (void)state;
    static const char *const hour[] = {"'prompt_cache_retention':'24h',",
                                       "'prompt_cache_options':{'ttl':'30m'},"};
    char req[600];
    for (size_t i = 0; i < 2; i++) {
        snprintf(req, sizeof req, "{'model':'gpt-4o',%s'conversation_id':'new','messages':["
                                  "{'role':'system','content':[{'type':'text','text':'S',"
                                  "'prompt_cache_breakpoint':{'mode':'explicit'}}]},"
                                  "{'role':'user','content':'q'}]}", hour[i]);
        json_object *o = translate(req, NULL);
        expect_json(o, "system[0].cache_control", EPH_1H);
        expect_json(o, "cache_control", EPH_1H);
        json_object_put(o);
    }
    json_object *o = translate("{'model':'gpt-4o','prompt_cache_retention':'in_memory',"
                               "'conversation_id':'new','messages':[{'role':'system','content':"
                               "[{'type':'text','text':'S','prompt_cache_breakpoint':{'mode':"
                               "'explicit'}}]},{'role':'user','content':'q'}]}", NULL);
    expect_json(o, "system[0].cache_control", EPH);
    expect_json(o, "cache_control", EPH);
    json_object_put(o);
    /* The client's 1h after a 5m: the earlier one is lifted to the hour;
     * a 5m after the hour stays. */
    o = translate("{'model':'gpt-4o','messages':[{'role':'system','content':[{'type':'text',"
                  "'text':'S','cache_control':{'type':'ephemeral'}}]},{'role':'user','content':"
                  "[{'type':'text','text':'a','cache_control':{'type':'ephemeral','ttl':'1h'}},"
                  "{'type':'text','text':'b','cache_control':{'type':'ephemeral','ttl':'5m'}}]}]}",
                  NULL);
    expect_json(o, "system[0].cache_control", EPH_1H);
    expect_json(o, "messages[0].content[0].cache_control", EPH_1H);
    expect_json(o, "messages[0].content[1].cache_control", "{'type':'ephemeral','ttl':'5m'}");
    json_object_put(o);
}

/* AXON_PROMPT_CACHE=auto: Axon's automatic breakpoint (the top-level
 * cache_control) for a conversation, or a prompt of 1024+ estimated tokens. */
static void req_cache_automatic(void **state)
{
    (void)state;
    anthropic_set_prompt_cache(PROMPT_CACHE_AUTO);
    json_object *o = translate("{'model':'gpt-4o','conversation_id':'conv-0123456789abcdef0123456789abcdef',"
                               USER_HI "}", NULL);
    expect_json(o, "cache_control", EPH);
    CHECK_LONG(count_marks(o), 1);
    json_object_put(o);
    o = translate("{'model':'gpt-4o','conversation_id':'new'," USER_HI "}", NULL);
    expect_json(o, "cache_control", EPH);
    json_object_put(o);

    size_t len = (size_t)PCACHE_AUTO_MIN_TOKENS * PCACHE_BYTES_PER_TOKEN;
    o = translate_long(len, "", "", NULL);
    expect_json(o, "cache_control", EPH);
    json_object_put(o);
    o = translate_long(len - 100, "", "", NULL);
    expect_absent(o, "cache_control");
    json_object_put(o);
    /* The client turned the implicit breakpoint off (OpenAI's own switch). */
    o = translate_long(len, "'prompt_cache_options':{'mode':'explicit'},", "", NULL);
    expect_absent(o, "cache_control");
    json_object_put(o);
    /* The client's mark is already on the last block: no second one there. */
    o = translate_long(len, "", ",{'role':'assistant','content':'a'},{'role':'user','content':"
                       "[{'type':'text','text':'b','cache_control':{'type':'ephemeral'}}]}", NULL);
    expect_absent(o, "cache_control");
    expect_json(o, "messages[2].content[0].cache_control", EPH);
    json_object_put(o);
}

/* explicit: the client's marks only; off: none at all. */
static void req_cache_modes(void **state)
{
    (void)state;
    size_t len = (size_t)PCACHE_AUTO_MIN_TOKENS * PCACHE_BYTES_PER_TOKEN;
    static const char rest[] = ",{'role':'assistant','content':'a'},{'role':'user','content':"
                               "[{'type':'text','text':'b','prompt_cache_breakpoint':{'mode':"
                               "'explicit'}},{'type':'text','text':'c'}]}";
    static const char tools[] = "'conversation_id':'new','tools':[{'type':'function','function':"
                                "{'name':'f'},'cache_control':{'type':'ephemeral'}}],";
    anthropic_set_prompt_cache(PROMPT_CACHE_EXPLICIT);
    json_object *o = translate_long(len, tools, rest, NULL);
    expect_absent(o, "cache_control");
    expect_json(o, "tools[0].cache_control", EPH);
    expect_json(o, "messages[2].content[0].cache_control", EPH);
    CHECK_LONG(count_marks(o), 2);
    json_object_put(o);

    anthropic_set_prompt_cache(PROMPT_CACHE_OFF);
    o = translate_long(len, tools, rest, NULL);
    CHECK_LONG(count_marks(o), 0);
    json_object_put(o);

    anthropic_set_prompt_cache(PROMPT_CACHE_AUTO);
    o = translate_long(len, tools, rest, NULL);
    expect_json(o, "cache_control", EPH);
    CHECK_LONG(count_marks(o), 3);
    json_object_put(o);
}

/* Claude takes four breakpoints: the client's oldest go, and the answer
 * says how many (chat_plan.cache_dropped becomes a header). */
static void req_cache_cap(void **state)
{
    (void)state;
    char rest[2048];
    size_t k = 0;
    for (int i = 0; i < 6; i++)
        k += (size_t)snprintf(rest + k, sizeof rest - k,
                              ",{'role':'assistant','content':'a%d'},{'role':'user','content':"
                              "[{'type':'text','text':'u%d','cache_control':{'type':'ephemeral'}}]}",
                              i, i);
    size_t len = (size_t)PCACHE_AUTO_MIN_TOKENS * PCACHE_BYTES_PER_TOKEN;
    struct chat_plan info;
    anthropic_set_prompt_cache(PROMPT_CACHE_EXPLICIT);
    json_object *o = translate_long(16, "", rest, &info);
    CHECK_LONG(count_marks(o), 4);
    CHECK_LONG(info.cache_dropped, 2);
    expect_absent(o, "messages[4].content[0].cache_control"); /* u1, the second oldest */
    expect_json(o, "messages[6].content[0].cache_control", EPH); /* u2 */
    expect_json(o, "messages[12].content[0].cache_control", EPH); /* u5, the latest */
    json_object_put(o);

    /* auto, and the last block is the client's: no automatic one, four kept. */
    anthropic_set_prompt_cache(PROMPT_CACHE_AUTO);
    o = translate_long(len, "", rest, &info);
    expect_absent(o, "cache_control");
    CHECK_LONG(count_marks(o), 4);
    CHECK_LONG(info.cache_dropped, 2);
    json_object_put(o);
    /* auto with an automatic one: three of the client's beside it. */
    k += (size_t)snprintf(rest + k, sizeof rest - k,
                          ",{'role':'assistant','content':'z'},{'role':'user','content':'last'}");
    o = translate_long(len, "", rest, &info);
    expect_json(o, "cache_control", EPH);
    CHECK_LONG(count_marks(o), 4);
    CHECK_LONG(info.cache_dropped, 3);
    expect_absent(o, "messages[6].content[0].cache_control"); /* u2 */
    expect_json(o, "messages[8].content[0].cache_control", EPH); /* u3 */
    json_object_put(o);
    /* Below the cap nothing goes. */
    o = translate("{'model':'gpt-4o'," USER_HI "}", &info);
    CHECK_LONG(info.cache_dropped, 0);
    json_object_put(o);
}

/* ---- main ---------------------------------------------------------------------- */

int main(void)
{
    struct CMUnitTest tests[128];

    size_t n = 0;
    for (size_t i = 0; i < NEXPECT; i++)
        tests[n++] = (struct CMUnitTest){.name = EXPECT[i].file, .test_func = fixture_answer,
                                         .initial_state = (void *)&EXPECT[i]};
#define T(f) tests[n++] = (struct CMUnitTest){.name = #f, .test_func = f}
    T(every_fixture_is_covered);
    T(signed_thinking_round_trip);
    T(answer_writes_through_the_ingress_writer);
    T(text_delta_reader_agrees_with_the_tree);
    T(message_reader_agrees_with_the_tree);
    T(responses_deltas_print_as_json_c_does);
    T(recorded_exchange_answers);
    T(line_endings_and_field_spacing);
    T(every_two_piece_cut);
    T(upstream_error_event_overloaded);
    T(upstream_error_events);
    T(truncated_streams);
    T(http_error_fixtures);
    T(tool_without_arguments);
    T(two_tools_after_text);
    T(answer_nul_survives);
    T(unknown_events_are_ignored);
    T(cache_tokens_count_in_the_prompt);
    T(stop_reasons);
    T(event_data_not_json);
    T(sse_parser_rules);
    T(sse_vllm_fixture);
    T(req_model_and_max_tokens);
    T(req_stream_flags);
    T(req_system_and_developer_hoisted);
    T(req_same_roles_merge);
    T(req_tool_round_trip);
    T(req_tool_results_before_text);
    T(req_bad_tool_arguments);
    T(req_images);
    T(req_files_and_audio);
    T(req_empty_text_dropped);
    T(req_name_carried);
    T(req_nul_survives);
    T(req_first_turn_is_the_users);
    T(req_prefill_trimmed);
    T(req_stop_user_temperature);
    T(req_thinking);
    T(req_forced_tool_with_thinking);
    T(req_tool_schemas);
    T(req_tool_choice);
    T(req_response_format);
    T(req_logprobs_refused);
    T(req_tools_from_history);
    T(req_recorded_exchanges);
    T(req_odd_tool_call_ids);
    T(req_no_conversation);
    T(http_error_billing_and_context);
    T(server_tool_blocks_are_skipped);
    T(interleaved_thinking_separated);
    T(req_text_files);
    T(req_long_answer_streamed);
    T(req_cache_breakpoints_reach_blocks);
    T(req_cache_ttl);
    T(req_cache_automatic);
    T(req_cache_modes);
    T(req_cache_cap);
    /* Last: these show bugs, and the last two read past a stack buffer,
     * which ends the sanitizer build's run at the first. */
    T(req_thinking_blocks_first);
    T(req_long_name_label);
    T(req_long_function_name);
#undef T
    assert_true(n <= sizeof tests / sizeof tests[0]);
    int rc = _cmocka_run_group_tests("anthropic", tests, n, NULL, NULL);
    buf_free(&out);
    return rc;
}
