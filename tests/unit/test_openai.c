/* test_openai.c - the OpenAI-compatible provider: the request Axon sends
 * (thinking toggle, merged template arguments, Axon's fields removed), and
 * every recorded OpenAI and vLLM stream translated through the SSE parser
 * into OpenAI's wire format, in every chunking, compared with what the
 * upstream itself said. */
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

#include "buf.h"
#include "errors.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "models.h"
#include "oai_out.h"
#include "openai.h"
#include "sse.h"

#include "fake_fcgi.h"

static struct axon_config cfg;

static json_object *q(const char *text)
{
    json_object *o = NULL;
    if (jsonv_parse(text, strlen(text), JSONV_MAX_DEPTH, &o))
        fail_msg("bad test JSON: %s", text);
    return o;
}

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = at(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b = BUF_INIT(16u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    *len = b.len;
    return b.p;
}

/* ---- the request ------------------------------------------------------------ */

static char qwen_id[] = "coder", qwen_up[] = "Qwen/Qwen3-Coder";
static const struct model qwen = {
    .id = qwen_id, .upstream_id = qwen_up, .provider = PROVIDER_OPENAI,
};

static json_object *built(const char *req_text, struct chat_plan *plan)
{
    json_object *req = q(req_text);
    struct buf req_out = BUF_INIT(1 << 20);
    struct api_error e = {0};
    assert_int_equal(openai_request(req, &qwen, &req_out, plan, &e), 0);
    json_object *up = q(req_out.p);
    buf_free(&req_out);
    json_object_put(req);
    return up;
}

static void thinking_toggle(void **state)
{
    (void)state;
    static const struct {
        const char *extra;
        bool want;
    } cases[] = {
        {"", false},
        {",\"thinking\":null", false},
        {",\"thinking\":true", true},
        {",\"thinking\":false", false},
        {",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}", true},
        {",\"thinking\":{\"type\":\"adaptive\"}", true},
        {",\"thinking\":{\"type\":\"disabled\"}", false}, /* the original turned this on */
        /* The client's own switch stands when `thinking` says nothing ... */
        {",\"chat_template_kwargs\":{\"enable_thinking\":true}", true},
        /* ... and `thinking` wins when it does. */
        {",\"thinking\":false,\"chat_template_kwargs\":{\"enable_thinking\":true}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "{\"model\":\"coder\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]%s}",
                 cases[i].extra);
        struct chat_plan plan;
        json_object *up = built(req, &plan);
        json_object *on = at(at(up, "chat_template_kwargs"), "enable_thinking");
        if (!on || !json_object_is_type(on, json_type_boolean) ||
            json_object_get_boolean(on) != cases[i].want)
            fail_msg("case %zu (%s): enable_thinking is %s", i, cases[i].extra,
                     on ? json_object_to_json_string(on) : "absent");
        assert_null(at(up, "thinking"));
        json_object_put(up);
    }
}

static void request_passes_through(void **state)
{
    (void)state;
    struct chat_plan plan;
    json_object *up = built(
        "{\"model\":\"coder\",\"conversation_id\":\"conv-0123456789abcdef0123456789abcdef\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":\"yo\",\"reasoning_content\":\"hmm\","
        "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"s\"}]},"
        "{\"role\":\"user\",\"content\":\"again\"}],"
        "\"top_k\":20,\"min_p\":0.05,\"guided_json\":{\"type\":\"object\"},\"n\":2,\"stream\":true,"
        "\"stream_options\":{\"continuous_usage_stats\":true},"
        "\"chat_template_kwargs\":{\"foo\":1},\"thinking\":true}",
        &plan);
    assert_true(plan.stream);
    assert_false(plan.include_usage); /* the client did not ask */
    assert_int_equal(plan.n, 2);
    assert_int_equal(plan.calls, 1);
    assert_string_equal(str(up, "model"), "Qwen/Qwen3-Coder");
    assert_null(at(up, "conversation_id"));
    assert_int_equal(json_object_get_int(at(up, "top_k")), 20);
    assert_non_null(at(up, "min_p"));
    assert_non_null(at(up, "guided_json"));
    assert_int_equal(json_object_get_int(at(up, "n")), 2);
    /* Usage is always asked for; the client's other options stay. */
    assert_true(json_object_get_boolean(at(at(up, "stream_options"), "include_usage")));
    assert_true(json_object_get_boolean(at(at(up, "stream_options"), "continuous_usage_stats")));
    /* Merged, not replaced. */
    assert_int_equal(json_object_get_int(at(at(up, "chat_template_kwargs"), "foo")), 1);
    assert_true(json_object_get_boolean(at(at(up, "chat_template_kwargs"), "enable_thinking")));
    /* History is sent whole, in order; stored reasoning is not sent back. */
    json_object *msgs = at(up, "messages");
    assert_int_equal(json_object_array_length(msgs), 3);
    json_object *asst = json_object_array_get_idx(msgs, 1);
    assert_string_equal(str(asst, "content"), "yo");
    assert_null(at(asst, "reasoning_content"));
    assert_null(at(asst, "thinking_blocks"));
    assert_null(at(up, "max_tokens")); /* the server picks */
    json_object_put(up);
}

static void max_output_is_checked(void **state)
{
    (void)state;
    struct model m = qwen;
    m.max_tokens = 512;
    m.max_output = 4096;
    struct buf req_out = BUF_INIT(1 << 20);
    struct chat_plan plan;
    struct api_error e = {0};
    json_object *req = q("{\"model\":\"coder\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                         "\"max_completion_tokens\":5000}");
    assert_int_equal(openai_request(req, &m, &req_out, &plan, &e), AXON_EINVAL);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "max_completion_tokens");
    json_object_put(req);
    /* Without one, the model's default is sent. */
    req = q("{\"model\":\"coder\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_int_equal(openai_request(req, &m, &req_out, &plan, &e), 0);
    json_object *up = q(req_out.p);
    assert_int_equal(json_object_get_int(at(up, "max_tokens")), 512);
    json_object_put(up);
    json_object_put(req);
    buf_free(&req_out);
}

/* ---- errors --------------------------------------------------------------------- */

static void error_shapes(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
        int want_status;
        const char *want_code, *want_msg;
    } cases[] = {
        {400, "{\"error\":{\"message\":\"bad temperature\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}",
         400, NULL, "bad temperature"},
        {400, "{\"object\":\"error\",\"message\":\"flat and old\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}",
         400, NULL, "flat and old"},
        {400, "{\"object\":\"error\",\"message\":\"This model's maximum context length is 32768 tokens. However, you requested 40000 tokens.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}",
         400, "context_length_exceeded", "This model's maximum context length"},
        {400, "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":\"invalid_value\"}}",
         400, "invalid_value", "m"},
        {400, "{\"error\":{\"message\":\"m\",\"type\":\"x\",\"param\":null,\"code\":\"weird_vendor_code\"}}",
         400, NULL, "m"},
        {401, "{\"error\":\"Unauthorized\"}", 502, "upstream_auth_failed", "The upstream refused"},
        {404, "{\"object\":\"error\",\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\",\"param\":null,\"code\":404}",
         404, "model_not_found", "The model `x` does not exist."},
        {422, "{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}", 400, NULL, "HTTP 422 from the upstream"},
        {429, "{\"error\":{\"message\":\"slow down\",\"type\":\"RateLimitError\",\"code\":429}}", 429,
         "rate_limit_exceeded", "slow down"},
        {500, "<html>oops</html>", 502, NULL, "The upstream failed: HTTP 500 from the upstream"},
        {503, "", 503, "server_is_overloaded", "The upstream model is overloaded"},
        {504, "{}", 504, "upstream_timeout", "HTTP 504"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_error e = {0};
        openai_http_error(cases[i].status, cases[i].body, strlen(cases[i].body), "7", &e);
        if (e.status != cases[i].want_status)
            fail_msg("case %zu: status %d, want %d", i, e.status, cases[i].want_status);
        if ((e.code == NULL) != (cases[i].want_code == NULL) ||
            (e.code && strcmp(e.code, cases[i].want_code)))
            fail_msg("case %zu: code %s, want %s", i, e.code ? e.code : "null",
                     cases[i].want_code ? cases[i].want_code : "null");
        if (!strstr(e.message, cases[i].want_msg))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.message, cases[i].want_msg);
        assert_null(strstr(e.message, "<html>")); /* never the raw body */
        if (e.status == 429 || e.status == 503)
            assert_string_equal(e.retry_after, "7");
    }
}

/* ---- answers ------------------------------------------------------------------- */

/* What an answer says, choice by choice: gathered from the upstream's own
 * chunks, and again from Axon's output, and compared. */
#define MAXC 8
struct said {
    struct buf content[MAXC], reasoning[MAXC], refusal[MAXC], tools[MAXC];
    char finish[MAXC][24];
    int finishes[MAXC];
    int n, logprob_items;
    bool usage;
};

static void said_init(struct said *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < MAXC; i++) {
        buf_init(&s->content[i], 16u << 20);
        buf_init(&s->reasoning[i], 16u << 20);
        buf_init(&s->refusal[i], 16u << 20);
        buf_init(&s->tools[i], 16u << 20);
    }
}

static void said_free(struct said *s)
{
    for (int i = 0; i < MAXC; i++) {
        buf_free(&s->content[i]);
        buf_free(&s->reasoning[i]);
        buf_free(&s->refusal[i]);
        buf_free(&s->tools[i]);
    }
}

static void add_str(struct buf *b, json_object *v)
{
    if (v && json_object_is_type(v, json_type_string))
        assert_int_equal(buf_append(b, json_object_get_string(v), (size_t)json_object_get_string_len(v)), 0);
}

/* One chunk's choices (upstream or Axon's) into s. */
static void gather(struct said *s, json_object *chunk, bool upstream)
{
    json_object *choices = at(chunk, "choices");
    for (size_t k = 0; choices && k < json_object_array_length(choices); k++) {
        json_object *ch = json_object_array_get_idx(choices, k);
        int i = json_object_get_int(at(ch, "index"));
        assert_true(i >= 0 && i < MAXC);
        if (i + 1 > s->n)
            s->n = i + 1;
        json_object *d = at(ch, "delta");
        add_str(&s->content[i], at(d, "content"));
        json_object *r = at(d, "reasoning_content");
        if (upstream && !r)
            r = at(d, "reasoning");
        add_str(&s->reasoning[i], r);
        add_str(&s->refusal[i], at(d, "refusal"));
        json_object *tcs = at(d, "tool_calls");
        for (size_t t = 0; tcs && json_object_is_type(tcs, json_type_array) &&
                           t < json_object_array_length(tcs); t++) {
            json_object *tc = json_object_array_get_idx(tcs, t), *fn = at(tc, "function");
            char head[256];
            if (str(fn, "name")) {
                snprintf(head, sizeof head, "|%d:%s:", json_object_get_int(at(tc, "index")), str(fn, "name"));
                assert_int_equal(buf_puts(&s->tools[i], head), 0);
            }
            add_str(&s->tools[i], at(fn, "arguments"));
        }
        json_object *lp = at(at(ch, "logprobs"), "content");
        if (lp && json_object_is_type(lp, json_type_array))
            s->logprob_items += (int)json_object_array_length(lp);
        const char *fr = str(ch, "finish_reason");
        if (fr) {
            snprintf(s->finish[i], sizeof s->finish[i], "%s", fr);
            s->finishes[i]++;
        }
    }
    json_object *u = at(chunk, "usage");
    if (u && json_object_is_type(u, json_type_object))
        s->usage = true;
}

/* Reads an SSE text of data: lines (upstream or Axon's) into s. Returns
 * whether [DONE] came last. For Axon's output also checks the framing. */
static bool gather_sse(struct said *s, const char *p, bool upstream)
{
    bool done = false;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        if (*p == ':' || (upstream && strncmp(p, "data:", 5))) {
            p = end + 2;
            continue;
        }
        assert_false(done);
        assert_int_equal(strncmp(p, "data: ", 6), 0);
        const char *d = p + 6;
        size_t n = (size_t)(end - d);
        p = end + 2;
        if (n == 6 && !memcmp(d, "[DONE]", 6)) {
            done = true;
            continue;
        }
        json_object *c = NULL;
        if (jsonv_parse(d, n, JSONV_MAX_DEPTH, &c))
            fail_msg("not JSON: %.*s", (int)n, d);
        if (!upstream) {
            /* Axon's chunk: its own id, no upstream-only keys. */
            const char *id = str(c, "id");
            assert_non_null(id);
            assert_int_equal(strlen(id), 38);
            assert_string_equal(str(c, "object"), "chat.completion.chunk");
            const char *text = json_object_to_json_string(c);
            assert_null(strstr(text, "stop_reason"));
            assert_null(strstr(text, "\"reasoning\""));
            assert_null(strstr(text, "obfuscation"));
        }
        gather(s, c, upstream);
        json_object_put(c);
    }
    return done;
}

struct feeder {
    struct oa_stream *s;
    struct api_error *e;
};

static int feed_event(void *ud, const char *event, const char *data, size_t n)
{
    (void)event;
    struct feeder *f = ud;
    return oa_stream_event(f->s, data, n, f->e);
}

/* The fixture through the SSE parser in pieces of `piece` bytes (0: whole)
 * and the translator, into Axon's output (left in `out`). */
static int translate(const char *b, size_t len, size_t piece, int n, bool stream, bool usage,
                     struct api_error *e)
{
    FCGX_Request fcgi = {.ipcFd = -1};
    struct axon_req r;
    struct answer o;
    struct oai_out ow; /* the chat writer's state */
    struct oa_stream s = {0};
    params[0][0] = NULL;
    buf_reset(&out);
    out_error = 0;
    io_req_init(&r, &fcgi, &cfg);
    answer_init(&o, &r, n, stream, usage, "gpt-4o", &oai_out_writer, &ow);
    oa_stream_init(&s, &o, 0, n);
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct feeder f = {&s, e};
    int rc = AXON_OK;
    for (size_t pos = 0; !rc && pos < len;) {
        size_t take = piece && piece < len - pos ? piece : len - pos;
        rc = sse_feed(&p, b + pos, take, feed_event, &f);
        pos += take;
    }
    if (!rc)
        rc = sse_finish(&p, feed_event, &f);
    if (!rc)
        rc = oa_stream_end(&s, e);
    if (!rc)
        rc = answer_finish(&o, e);
    sse_free(&p);
    oa_stream_free(&s);
    answer_free(&o);
    return rc;
}

static const char *body_of_output(void)
{
    assert_non_null(out.p);
    const char *sep = strstr(out.p, "\r\n\r\n");
    assert_non_null(sep);
    return sep + 4;
}

static void same_said(const char *what, const struct said *up, const struct said *ax)
{
    if (up->n != ax->n)
        fail_msg("%s: %d choices upstream, %d out", what, up->n, ax->n);
    for (int i = 0; i < up->n; i++) {
        const struct buf *pairs[][2] = {{&up->content[i], &ax->content[i]},
                                        {&up->reasoning[i], &ax->reasoning[i]},
                                        {&up->refusal[i], &ax->refusal[i]},
                                        {&up->tools[i], &ax->tools[i]}};
        for (size_t k = 0; k < 4; k++)
            if (pairs[k][0]->len != pairs[k][1]->len ||
                (pairs[k][0]->len && memcmp(pairs[k][0]->p, pairs[k][1]->p, pairs[k][0]->len)))
                fail_msg("%s choice %d part %zu: upstream \"%.*s\", out \"%.*s\"", what, i, k,
                         (int)pairs[k][0]->len, pairs[k][0]->p ? pairs[k][0]->p : "",
                         (int)pairs[k][1]->len, pairs[k][1]->p ? pairs[k][1]->p : "");
        if (ax->finishes[i] != 1)
            fail_msg("%s choice %d: %d finish chunks", what, i, ax->finishes[i]);
        if (strcmp(up->finish[i], ax->finish[i]))
            fail_msg("%s choice %d: finish %s upstream, %s out", what, i, up->finish[i], ax->finish[i]);
    }
    if (up->logprob_items != ax->logprob_items)
        fail_msg("%s: %d logprob items upstream, %d out", what, up->logprob_items, ax->logprob_items);
}

static void one_recording(const char *dir, const char *name)
{
    size_t len;
    char *b = read_file(dir, name, &len);
    struct said up;
    said_init(&up);
    (void)gather_sse(&up, b, true);
    static const size_t pieces[] = {0, 1, 7, 64};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++)
        for (int usage = 0; usage <= 1; usage++) {
            char what[512];
            snprintf(what, sizeof what, "%s [pieces of %zu, include_usage %d]", name, pieces[k], usage);
            struct api_error e = {0};
            int rc = translate(b, len, pieces[k], up.n, true, usage, &e);
            if (rc)
                fail_msg("%s: failed (%d): %s", what, rc, e.message);
            struct said ax;
            said_init(&ax);
            assert_true(gather_sse(&ax, body_of_output(), false));
            same_said(what, &up, &ax);
            if (ax.usage != (bool)usage)
                fail_msg("%s: usage chunk %s", what, ax.usage ? "sent unasked" : "missing");
            said_free(&ax);
        }
    said_free(&up);
    free(b);
}

/* Every real OpenAI recording and the vLLM one. */
static void every_recorded_stream(void **state)
{
    (void)state;
    static const char *const dirs[] = {"tests/data/spec/recorded", "tests/data/fixtures"};
    int seen = 0;
    for (size_t d = 0; d < 2; d++) {
        DIR *dp = opendir(dirs[d]);
        assert_non_null(dp);
        struct dirent *de;
        while ((de = readdir(dp))) {
            size_t n = strlen(de->d_name);
            bool openai = d == 0 && n > 4 && !strcmp(de->d_name + n - 4, ".sse");
            bool vllm = d == 1 && !strncmp(de->d_name, "vllm-", 5);
            if (!openai && !vllm)
                continue;
            one_recording(dirs[d], de->d_name);
            seen++;
        }
        closedir(dp);
    }
    assert_true(seen >= 13);
}

static void vllm_completion(void **state)
{
    (void)state;
    /* vLLM 0.11's non-stream shape: `reasoning`, empty tool_calls, extras. */
    static const char answer[] =
        "{\"id\":\"chatcmpl-0123456789abcdef0123456789abcdef\",\"object\":\"chat.completion\","
        "\"created\":1,\"model\":\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"Paris.\",\"reasoning\":\"The capital.\",\"tool_calls\":[]},"
        "\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null},{\"index\":1,\"message\":"
        "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":null,\"tool_calls\":[{\"id\":"
        "\"chatcmpl-tool-1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":"
        "\"{\\\"c\\\":1}\"}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\",\"stop_reason\":"
        "null}],\"usage\":{\"prompt_tokens\":10,\"total_tokens\":15,\"completion_tokens\":5,"
        "\"prompt_tokens_details\":{\"cached_tokens\":4,\"cache_write_tokens\":3}},"
        "\"prompt_logprobs\":null,"
        "\"kv_transfer_params\":null}";
    FCGX_Request fcgi = {.ipcFd = -1};
    struct axon_req r;
    struct answer o;
    struct oai_out ow; /* the chat writer's state */
    struct oa_stream s = {0};
    struct api_error e = {0};
    params[0][0] = NULL;
    buf_reset(&out);
    io_req_init(&r, &fcgi, &cfg);
    answer_init(&o, &r, 2, false, false, "qwen", &oai_out_writer, &ow);
    oa_stream_init(&s, &o, 0, 2);
    assert_int_equal(oa_completion(&s, answer, sizeof answer - 1, &e), 0);
    assert_int_equal(answer_finish(&o, &e), 0);
    json_object *c = q(body_of_output());
    const char *text = json_object_to_json_string(c);
    assert_null(strstr(text, "stop_reason"));
    assert_null(strstr(text, "prompt_logprobs"));
    assert_null(strstr(text, "kv_transfer_params"));
    json_object *ch = at(c, "choices");
    json_object *m0 = at(json_object_array_get_idx(ch, 0), "message");
    json_object *m1 = at(json_object_array_get_idx(ch, 1), "message");
    assert_string_equal(str(m0, "content"), "Paris.");
    assert_string_equal(str(m0, "reasoning_content"), "The capital.");
    assert_null(at(m0, "tool_calls"));
    assert_true(json_object_is_type(at(m1, "content"), json_type_null));
    assert_string_equal(str(at(json_object_array_get_idx(at(m1, "tool_calls"), 0), "function"),
                            "arguments"), "{\"c\":1}");
    assert_string_equal(str(json_object_array_get_idx(ch, 1), "finish_reason"), "tool_calls");
    json_object *u = at(c, "usage");
    assert_int_equal(json_object_get_int(at(u, "prompt_tokens")), 10);
    assert_int_equal(json_object_get_int(at(u, "completion_tokens")), 5);
    assert_int_equal(json_object_get_int(at(at(u, "prompt_tokens_details"), "cached_tokens")), 4);
    /* What the server wrote to its cache passes on, inside prompt_tokens. */
    assert_int_equal(json_object_get_int(at(at(u, "prompt_tokens_details"), "cache_write_tokens")),
                     3);
    json_object_put(c);
    oa_stream_free(&s);
    answer_free(&o);
}

/* Streams that break: what the client gets instead of a fake finish. */
static void broken_streams(void **state)
{
    (void)state;
    static const char role[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    static const struct {
        const char *rest;
        int want_rc, want_status;
        const char *want_code;
    } cases[] = {
        /* Ends without a finish_reason: never a made-up stop. */
        {"", AXON_EPROTO, 502, "upstream_protocol_error"},
        {"data: [DONE]\n\n", AXON_EPROTO, 502, "upstream_protocol_error"},
        /* Newer vLLM's error event, then [DONE]. */
        {"data: {\"error\":{\"message\":\"boom\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}\n\n",
         AXON_ERETRY, 502, NULL},
        /* Older vLLM's flat one. */
        {"data: {\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}\n\n",
         AXON_EINVAL, 400, NULL},
        {"data: {not json\n\n", AXON_EPROTO, 502, "upstream_protocol_error"},
        {"data: {\"choices\":[{\"index\":3,\"delta\":{\"content\":\"x\"}}]}\n\n", AXON_EPROTO, 502,
         "upstream_protocol_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = BUF_INIT(1 << 20);
        assert_int_equal(buf_puts(&b, role), 0);
        assert_int_equal(buf_puts(&b, cases[i].rest), 0);
        struct api_error e = {0};
        int rc = translate(b.p, b.len, 0, 1, true, false, &e);
        if (rc != cases[i].want_rc || e.status != cases[i].want_status)
            fail_msg("case %zu: rc %d status %d (%s)", i, rc, e.status, e.message);
        if ((e.code == NULL) != (cases[i].want_code == NULL) ||
            (e.code && strcmp(e.code, cases[i].want_code)))
            fail_msg("case %zu: code %s", i, e.code ? e.code : "null");
        buf_free(&b);
    }
    /* Every choice finished but no [DONE]: the answer stands. */
    static const char ok[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"eos\"}]}\n\n";
    struct api_error e = {0};
    assert_int_equal(translate(ok, sizeof ok - 1, 0, 1, true, false, &e), 0);
    struct said ax;
    said_init(&ax);
    assert_true(gather_sse(&ax, body_of_output(), false));
    assert_string_equal(ax.finish[0], "stop"); /* other servers' words become stop */
    said_free(&ax);
}

/* A tool call whose server sent no id (Ollama) gets one; both reasoning
 * names in one delta count once. */
static void server_dialects(void **state)
{
    (void)state;
    static const char s[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"Hm\",\"reasoning_content\":\"Hm\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"w\",\"arguments\":\"{}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
        "data: [DONE]\n\n";
    struct api_error e = {0};
    assert_int_equal(translate(s, sizeof s - 1, 0, 1, true, true, &e), 0);
    const char *b = body_of_output();
    struct said ax;
    said_init(&ax);
    assert_true(gather_sse(&ax, b, false));
    assert_int_equal(ax.reasoning[0].len, 2);
    assert_string_equal(ax.finish[0], "tool_calls");
    assert_true(ax.usage);
    assert_non_null(strstr(b, "\"id\":\"call_"));
    assert_non_null(strstr(b, "\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5"));
    said_free(&ax);
}


/* The string at o.key is exactly want[0..n) (a \u0000 inside included). */
static void same_bytes(json_object *o, const char *key, const char *want, size_t n)
{
    json_object *v = at(o, key);
    if (!v || !json_object_is_type(v, json_type_string) ||
        (size_t)json_object_get_string_len(v) != n || memcmp(json_object_get_string(v), want, n))
        fail_msg("%s: got %s, want %zu bytes", key, v ? json_object_to_json_string(v) : "(absent)", n);
}

/* A \u0000 is text like any other (issue 18 item 5): what the client sends
 * reaches the server whole, and what the server answers (text, a tool
 * call's id, name and arguments) reaches the client whole, streamed or not. */
static void nul_survives(void **state)
{
    (void)state;
    struct chat_plan plan;
    json_object *up = built("{\"model\":\"coder\",\"messages\":[{\"role\":\"system\",\"content\":"
                            "\"s\\u0000t\"},{\"role\":\"user\",\"content\":\"before\\u0000after\"}]}",
                            &plan);
    json_object *msgs = at(up, "messages");
    same_bytes(json_object_array_get_idx(msgs, 0), "content", "s\0t", 3);
    same_bytes(json_object_array_get_idx(msgs, 1), "content", "before\0after", 12);
    json_object_put(up);

    static const char answer[] =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a\\u0000b\","
        "\"tool_calls\":[{\"id\":\"call_\\u0000x\",\"type\":\"function\",\"function\":{\"name\":"
        "\"f\\u0000g\",\"arguments\":\"{\\\"q\\\":\\\"\\\\u0000\\\"}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}";
    FCGX_Request fcgi = {.ipcFd = -1};
    struct axon_req r;
    struct answer o;
    struct oai_out ow; /* the chat writer's state */
    struct oa_stream s = {0};
    struct api_error e = {0};
    params[0][0] = NULL;
    buf_reset(&out);
    io_req_init(&r, &fcgi, &cfg);
    answer_init(&o, &r, 1, false, false, "coder", &oai_out_writer, &ow);
    oa_stream_init(&s, &o, 0, 1);
    assert_int_equal(oa_completion(&s, answer, sizeof answer - 1, &e), 0);
    assert_int_equal(answer_finish(&o, &e), 0);
    json_object *c = q(body_of_output());
    json_object *m = at(json_object_array_get_idx(at(c, "choices"), 0), "message");
    same_bytes(m, "content", "a\0b", 3);
    json_object *call = json_object_array_get_idx(at(m, "tool_calls"), 0);
    same_bytes(call, "id", "call_\0x", 7);
    same_bytes(at(call, "function"), "name", "f\0g", 3);
    same_bytes(at(call, "function"), "arguments", "{\"q\":\"\\u0000\"}", 14);
    /* The message Axon stores for the next turn holds the same. */
    json_object *stored = answer_message(&o, 0);
    same_bytes(stored, "content", "a\0b", 3);
    call = json_object_array_get_idx(at(stored, "tool_calls"), 0);
    same_bytes(call, "id", "call_\0x", 7);
    same_bytes(at(call, "function"), "name", "f\0g", 3);
    json_object_put(stored);
    json_object_put(c);
    oa_stream_free(&s);
    answer_free(&o);

    /* Streamed: the deltas carry the same bytes. */
    static const char st[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"a\\u0000b\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_\\u0000x\","
        "\"function\":{\"name\":\"f\\u0000g\",\"arguments\":\"{}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    assert_int_equal(translate(st, sizeof st - 1, 0, 1, true, false, &e), 0);
    const char *sent = body_of_output();
    assert_non_null(strstr(sent, "\"content\":\"a\\u0000b\""));
    assert_non_null(strstr(sent, "\"id\":\"call_\\u0000x\""));
    assert_non_null(strstr(sent, "\"name\":\"f\\u0000g\""));
}
int main(void)
{
    config_defaults(&cfg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thinking_toggle),
        cmocka_unit_test(request_passes_through),
        cmocka_unit_test(max_output_is_checked),
        cmocka_unit_test(error_shapes),
        cmocka_unit_test(every_recorded_stream),
        cmocka_unit_test(vllm_completion),
        cmocka_unit_test(broken_streams),
        cmocka_unit_test(server_dialects),
        cmocka_unit_test(nul_survives),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    buf_free(&out);
    config_free(&cfg);
    return rc;
}
