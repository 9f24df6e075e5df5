/* fuzz_fcgi.c - the fake libfcgi and the answer checker (fuzz_fcgi.h). */
#include "fuzz_fcgi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "conv.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "oai_out.h"
#include "oai_validate.h"
#include "openai.h"
#include "provider.h"
#include "sse.h"

/* The answer can be far larger than the input (one chunk of ~300 bytes per
 * upstream event); 64 MiB is more than any input up to -max_len makes. */
static struct buf out = BUF_INIT(64u << 20);
static int writes_left = -1; /* -1: unlimited */
static bool left;

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const struct axon_config *fuzz_cfg(void)
{
    static struct axon_config cfg;
    static bool made;
    if (!made) {
        config_defaults(&cfg); /* kept for the process: never freed */
        made = true;
    }
    return &cfg;
}

void fuzz_req_begin(struct fuzz_req *q, int write_budget)
{
    buf_reset(&out);
    writes_left = write_budget;
    left = false;
    memset(&q->fcgi, 0, sizeof q->fcgi);
    q->fcgi.ipcFd = -1;
    io_req_init(&q->r, &q->fcgi, fuzz_cfg());
}

const struct buf *fuzz_output(void)
{
    return &out;
}

bool fuzz_client_left(void)
{
    return left;
}

/* ---- the wrapped libfcgi calls ------------------------------------------- */

char *__wrap_FCGX_GetParam(const char *name, FCGX_ParamArray envp);
char *__wrap_FCGX_GetParam(const char *name, FCGX_ParamArray envp)
{
    (void)name;
    (void)envp;
    return NULL;
}

int __wrap_FCGX_GetStr(char *str, int n, FCGX_Stream *s);
int __wrap_FCGX_GetStr(char *str, int n, FCGX_Stream *s)
{
    (void)str;
    (void)n;
    (void)s;
    return 0;
}

int __wrap_FCGX_PutStr(const char *str, int n, FCGX_Stream *s);
int __wrap_FCGX_PutStr(const char *str, int n, FCGX_Stream *s)
{
    (void)s;
    if (n < 0)
        fuzz_fail("FCGX_PutStr with n = %d", n);
    if (left || writes_left == 0) {
        left = true;
        return -1; /* libfcgi: the stream failed, and stays failed */
    }
    if (writes_left > 0)
        writes_left--;
    if (buf_append(&out, str, (size_t)n))
        fuzz_fail("the answer passed %zu bytes", out.max);
    return n;
}

int __wrap_FCGX_PutS(const char *str, FCGX_Stream *s);
int __wrap_FCGX_PutS(const char *str, FCGX_Stream *s)
{
    return __wrap_FCGX_PutStr(str, (int)strlen(str), s);
}

int __wrap_FCGX_FFlush(FCGX_Stream *s);
int __wrap_FCGX_FFlush(FCGX_Stream *s)
{
    (void)s;
    return left ? -1 : 0;
}

int __wrap_FCGX_GetError(FCGX_Stream *s);
int __wrap_FCGX_GetError(FCGX_Stream *s)
{
    (void)s;
    return left ? EPIPE : 0;
}

/* ---- the answer as a client reads it ----------------------------------------- */

void fuzz_check_json(const char *p, size_t n, const char *what)
{
    json_object *o = NULL;
    int rc = jsonv_parse(p, n, JSONV_MAX_DEPTH, &o);
    if (rc || !json_object_is_type(o, json_type_object))
        fuzz_fail("%s is not a JSON object (rc %d): %.*s", what, rc, (int)(n > 2000 ? 2000 : n),
                  p);
    json_object_put(o);
}

/* Adds v to acc when it is a string holding a NUL. */
static void nul_text(json_object *v, json_object *acc)
{
    if (v && json_object_is_type(v, json_type_string) &&
        memchr(json_object_get_string(v), '\0', (size_t)json_object_get_string_len(v)))
        json_object_array_add(acc, json_object_get(v));
}

static json_object *member_of(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
               ? v
               : NULL;
}

static size_t len_of(json_object *a)
{
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* True when a string inside o holds s[0..n). Depth is bounded by
 * jsonv_parse's cap. NOLINTNEXTLINE(misc-no-recursion) */
static bool holds(json_object *o, const char *s, size_t n)
{
    if (json_object_is_type(o, json_type_string))
        return memmem(json_object_get_string(o), (size_t)json_object_get_string_len(o), s, n) != NULL;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (holds(json_object_array_get_idx(o, i), s, n))
                return true;
        return false;
    }
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            (void)k;
            if (holds(v, s, n))
                return true;
        }
    }
    return false;
}

void fuzz_check_nul_kept(json_object *req, const char *p, size_t n, const char *who)
{
    json_object *want = json_object_new_array();
    json_object *msgs = member_of(req, "messages");
    for (size_t i = 0; i < len_of(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c = member_of(m, "content");
        nul_text(c, want);
        nul_text(member_of(m, "name"), want);
        for (size_t k = 0; k < len_of(c); k++) {
            json_object *part = json_object_array_get_idx(c, k), *t = member_of(part, "type");
            if (t && json_object_is_type(t, json_type_string) &&
                (!strcmp(json_object_get_string(t), "text") ||
                 !strcmp(json_object_get_string(t), "refusal")))
                nul_text(member_of(part, json_object_get_string(t)), want);
        }
    }
    json_object *tools = member_of(req, "tools");
    for (size_t i = 0; i < len_of(tools); i++)
        nul_text(member_of(member_of(json_object_array_get_idx(tools, i), "function"), "description"),
                 want);
    json_object *stop = member_of(req, "stop");
    nul_text(stop, want);
    for (size_t i = 0; i < len_of(stop); i++)
        nul_text(json_object_array_get_idx(stop, i), want);
    nul_text(member_of(req, "user"), want);
    json_object *body = NULL;
    if (len_of(want) && jsonv_parse(p, n, JSONV_MAX_DEPTH, &body))
        fuzz_fail("%s: the upstream body does not parse", who);
    for (size_t i = 0; i < len_of(want); i++) {
        json_object *v = json_object_array_get_idx(want, i);
        const char *s = json_object_get_string(v);
        const char *last = memrchr(s, '\0', (size_t)json_object_get_string_len(v));
        if (!holds(body, s, (size_t)(last - s) + 1))
            fuzz_fail("%s: a text with a \\u0000 did not reach the upstream whole: %.500s", who,
                      json_object_to_json_string_ext(v, JSONV_OUT));
    }
    json_object_put(body);
    json_object_put(want);
}

void fuzz_check_error(const struct api_error *e)
{
    if (e->status < 400 || e->status > 599 || !e->type || !e->message[0])
        fuzz_fail("an error left unfilled: status %d, type %s, message '%s'", e->status,
                  e->type ? e->type : "(null)", e->message);
    struct buf b = BUF_INIT(1u << 20);
    if (errors_envelope_api(&b, e))
        fuzz_fail("errors_envelope_api failed");
    fuzz_check_json(b.p, b.len, "an error envelope");
    buf_free(&b);
}

void fuzz_check_stored(json_object *msg)
{
    json_object *req = json_object_new_object(), *msgs = json_object_new_array();
    json_object *user = json_object_new_object();
    json_object_object_add(user, "role", json_object_new_string("user"));
    json_object_object_add(user, "content", json_object_new_string("hi"));
    json_object_array_add(msgs, user);
    json_object_array_add(msgs, json_object_get(msg));
    json_object_object_add(req, "model", json_object_new_string("stored"));
    json_object_object_add(req, "messages", msgs);
    struct api_error e;
    if (oai_validate_chat(req, true, &e))
        fuzz_fail("a stored answer would not load again: %s (%s)", e.message, e.param);
    json_object_put(req);
}

void fuzz_check_output(bool complete)
{
    if (left)
        return;
    const char *p = out.p ? out.p : "";
    size_t n = out.len;
    if (n == 0) {
        if (complete)
            fuzz_fail("nothing was answered");
        return;
    }
    if (strncmp(p, "Status: ", 8))
        fuzz_fail("the answer does not start with a Status line");
    const char *end = strstr(p, "\r\n\r\n");
    if (!end)
        fuzz_fail("the head has no blank line");
    size_t head = (size_t)(end + 4 - p);
    bool sse = memmem(p, head, "\r\nContent-Type: text/event-stream", 33) != NULL;
    bool json = memmem(p, head, "\r\nContent-Type: application/json", 32) != NULL;
    const char *b = p + head;
    size_t bn = n - head;
    if (json) {
        fuzz_check_json(b, bn, "the JSON answer");
        return;
    }
    if (!sse)
        fuzz_fail("the answer is neither JSON nor SSE");
    bool done = false;
    while (bn) {
        const char *sep = memmem(b, bn, "\n\n", 2);
        if (!sep)
            fuzz_fail("an SSE event without its blank line");
        size_t en = (size_t)(sep - b);
        if (done)
            fuzz_fail("an event after data: [DONE]");
        if (memchr(b, '\n', en) || memchr(b, '\r', en))
            fuzz_fail("an SSE event of more than one line: %.*s", (int)en, b);
        if (en >= 6 && !memcmp(b, "data: ", 6)) {
            if (en == 12 && !memcmp(b + 6, "[DONE]", 6))
                done = true;
            else
                fuzz_check_json(b + 6, en - 6, "a data: event");
        } else if (!(en >= 1 && b[0] == ':')) {
            fuzz_fail("an SSE line that is neither data: nor a comment: %.*s", (int)en, b);
        }
        bn -= en + 2;
        b = sep + 2;
    }
    if (complete && !done)
        fuzz_fail("the stream does not end with data: [DONE]");
}

/* The translator's state, for any provider (sized by the largest). */
union provider_state {
    struct anth_stream anth;
    struct oa_stream oa;
};

struct provider_call {
    const struct provider_ops *ops;
    void *st;
    struct api_error *e;
};

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct provider_call *c = ud;
    return c->ops->up.event(c->st, event, data, n, c->e);
}

/* One upstream call's answer through the translator. */
static int translate(const struct provider_ops *ops, void *st, bool sse, const char *b, size_t n,
                     struct api_error *e)
{
    if (!sse)
        return ops->up.body(st, b, n, e);
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct provider_call c = {ops, st, e};
    int rc = sse_feed(&p, b, n, on_event, &c);
    if (!rc)
        rc = sse_finish(&p, on_event, &c);
    if (!rc)
        rc = ops->up.end(st, e);
    sse_free(&p);
    return rc;
}

/* The end of the answer, as the pipeline ends it: the answer's epilogue around
 * the turn the settle stage would store. */
static void finish_answer(struct answer *o, int n_choices, int rc, struct api_error *e)
{
    rc = answer_check(o, rc, e);
    for (int i = 0; rc == AXON_OK && i < n_choices; i++) { /* the turn settle stores */
        json_object *m = answer_message(o, i);
        size_t len;
        const char *t = conv_message_text(m, &len);
        fuzz_check_json(t, len, "the stored assistant message");
        fuzz_check_stored(m);
        json_object_put(m);
    }
    (void)answer_close(o, rc, e);
    fuzz_check_output(true);
}

void fuzz_provider_input(const struct provider_ops *ops, const char *model, int max_choices,
                         const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint8_t f = data[0], g = data[1];
    bool sse = f & 1, stream = f & 2, usage = f & 4, json_mode = f & 8, http_error = f & 16;
    int n_choices = http_error ? 1 : 1 + ((g >> 1) & 3);
    if (n_choices > max_choices)
        n_choices = max_choices;
    const char *b = (const char *)data + 2;
    size_t n = size - 2;
    if (ops->up.state_size > sizeof(union provider_state))
        fuzz_fail("%s: translator state larger than the harness's", ops->name);

    struct fuzz_req q;
    fuzz_req_begin(&q, f >> 5 ? (f >> 5) * 4 : -1);
    struct answer o;
    struct oai_out ow; /* the chat writer's state */
    answer_init(&o, &q.r, n_choices, stream, stream && usage, model, &oai_out_writer, &ow);
    o.json_mode = json_mode;
    if (!http_error && (g & 1))
        o.conversation_id = "conv-0123456789abcdef0123456789abcdef";
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc;
    if (http_error) {
        ops->up.http_error(400 + g, b, n, "7", &e);
        fuzz_check_error(&e);
        rc = AXON_EINVAL;
    } else {
        union provider_state st;
        ops->init(&st, &o, 0);
        rc = translate(ops, &st, sse, b, n, &e);
        bool delivered = false;
        for (int i = 0; i < n_choices; i++)
            delivered = delivered || answer_delivered(&o, i);
        if (rc == AXON_ERETRY && !delivered) { /* pipeline.c's on_restart */
            for (int i = 0; i < n_choices; i++)
                answer_reset_choice(&o, i);
            if (ops->fini)
                ops->fini(&st);
            ops->init(&st, &o, 0);
            memset(&e, 0, sizeof e);
            rc = translate(ops, &st, sse, b, n, &e);
        }
        if (ops->fini)
            ops->fini(&st);
        /* The answer's own failures (a cap, json_object refusing a streamed
         * answer) leave e to answer_close; the translator's fill it. */
        if (rc && rc != AXON_ECLIENT_GONE && rc != AXON_ETOOBIG && !o.json_failed)
            fuzz_check_error(&e);
    }
    finish_answer(&o, n_choices, rc, &e);
    answer_free(&o);
}
