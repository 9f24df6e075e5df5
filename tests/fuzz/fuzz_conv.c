/* fuzz_conv.c - conversation records as Valkey returns them (conv.c).
 *
 * The input is RESP, the bytes a server sends: the first reply is taken as
 * the load script's reply conv_load reads (HGETALL of the meta hash, then
 * LRANGE of the message list, or nil for a large history that is read in
 * parts) and goes through conv.c's load_parse; a second reply, if
 * any, is taken as one HMGET of the meta fields, as conv_list's fetch_metas
 * reads it. The RESP is decoded here into hiredis reply objects (types +, -,
 * :, $, *, with nil) by a small decoder with its own limits, rather than by
 * hiredis's reader, whose own limits are not ours to test.
 *
 * A conversation that loads is then used as pipeline.c uses it: conv_has_system
 * and conv_fit (the budget is taken from the record's `updated` field), then
 * replayed, with one new user message, through anthropic_request and
 * openai_request - the stored messages are not validated again before the
 * upstream request is built from them.
 * Checked besides the sanitizers: meta strings are terminated and in bounds;
 * conv_fit keeps the leading system messages, leaves a user message first
 * after them when it drops anything, and fits the budget unless nothing is
 * left to drop; a built upstream body is a JSON object, holding whole every
 * stored text with a \u0000 (fuzz_check_nul_kept); a refusal fills its
 * error.
 *
 * The parsing functions are static: this file includes conv.c, and the
 * build links it without conv.o. */
#include "../../src/conv.c"

#include <stdint.h>

#include "anthropic.h"
#include "openai.h"

#include "fuzz_fcgi.h"

#define ID "conv-0123456789abcdef0123456789abcdef"
#define TENANT "0123456789abcdef"
#define RESP_MAX_ELEMENTS 4096
#define RESP_MAX_DEPTH 8

static void reply_free(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* One line up to CRLF at *p: its bytes and length; false if none. */
static bool resp_line(const char **p, const char *end, const char **s, size_t *n)
{
    const char *cr = memmem(*p, (size_t)(end - *p), "\r\n", 2);
    if (!cr)
        return false;
    *s = *p;
    *n = (size_t)(cr - *p);
    *p = cr + 2;
    return true;
}

static bool resp_int(const char *s, size_t n, long long *v)
{
    int64_t x;
    if (text_parse_i64_n(s, n, -1, INT64_MAX, &x))
        return false;
    *v = (long long)x;
    return true;
}

/* One reply, or NULL when the bytes are not RESP (or pass a limit). */
static redisReply *resp_decode(const char **p, const char *end, int depth)
{
    if (*p >= end || depth > RESP_MAX_DEPTH)
        return NULL;
    char t = *(*p)++;
    const char *s;
    size_t n;
    long long v = 0;
    if (!resp_line(p, end, &s, &n))
        return NULL;
    redisReply *r = xcalloc(1, sizeof *r);
    switch (t) {
    case '+':
    case '-':
        r->type = t == '+' ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR;
        r->str = xstrndup(s, n);
        r->len = n;
        return r;
    case ':':
        if (!resp_int(s, n, &v))
            break;
        r->type = REDIS_REPLY_INTEGER;
        r->integer = v;
        return r;
    case '$':
        if (!resp_int(s, n, &v) || (v >= 0 && (size_t)(end - *p) < (size_t)v + 2))
            break;
        if (v < 0) {
            r->type = REDIS_REPLY_NIL;
            return r;
        }
        if (memcmp(*p + v, "\r\n", 2))
            break;
        r->type = REDIS_REPLY_STRING;
        r->str = xstrndup(*p, (size_t)v); /* hiredis terminates strings too */
        r->len = (size_t)v;
        *p += v + 2;
        return r;
    case '*':
        if (!resp_int(s, n, &v) || v > RESP_MAX_ELEMENTS)
            break;
        if (v < 0) {
            r->type = REDIS_REPLY_NIL;
            return r;
        }
        r->type = REDIS_REPLY_ARRAY;
        r->element = xcalloc((size_t)v ? (size_t)v : 1, sizeof *r->element);
        for (; r->elements < (size_t)v; r->elements++) {
            redisReply *e = resp_decode(p, end, depth + 1);
            if (!e)
                goto bad;
            r->element[r->elements] = e;
        }
        return r;
    }
bad:
    reply_free(r);
    return NULL;
}

static void check_meta(const struct conv_meta *m)
{
    if (!memchr(m->id, '\0', sizeof m->id) || !memchr(m->model, '\0', sizeof m->model) ||
        strcmp(m->id, ID) || m->created < 0 || m->updated < 0 || m->message_count < 0 ||
        m->bytes < 0)
        fuzz_fail("a meta record out of bounds");
}

static bool role_of(json_object *m, const char *role)
{
    json_object *v;
    return json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "role", &v) &&
           json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), role);
}

static void check_fit(json_object *history, size_t budget)
{
    size_t before = json_object_array_length(history), sys = 0;
    while (sys < before && (role_of(json_object_array_get_idx(history, sys), "system") ||
                            role_of(json_object_array_get_idx(history, sys), "developer")))
        sys++;
    int dropped = conv_fit(history, budget);
    size_t after = json_object_array_length(history), total = 0;
    for (size_t i = 0; i < after; i++)
        total += conv_message_bytes(json_object_array_get_idx(history, i));
    if (dropped < 0 || after > before || after < sys)
        fuzz_fail("conv_fit: %d dropped, %zu -> %zu messages, %zu system", dropped, before, after,
                  sys);
    if (dropped && after > sys && !role_of(json_object_array_get_idx(history, sys), "user"))
        fuzz_fail("conv_fit left a turn that does not start with a user message");
    if (total > budget && after > sys)
        fuzz_fail("conv_fit stopped at %zu bytes over a budget of %zu", total, budget);
}

typedef int (*request_fn)(json_object *, const struct model *, struct buf *, struct chat_plan *,
                          struct api_error *);

static void replay(json_object *history, request_fn fn, const struct model *m, const char *who)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "model", json_object_new_string("gpt-4o"));
    json_object *msgs = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(history); i++)
        json_object_array_add(msgs, json_object_get(json_object_array_get_idx(history, i)));
    json_object *user = json_object_new_object();
    json_object_object_add(user, "role", json_object_new_string("user"));
    json_object_object_add(user, "content", json_object_new_string("and then?"));
    json_object_array_add(msgs, user);
    json_object_object_add(req, "messages", msgs);
    struct buf body = BUF_INIT(64u << 20);
    struct chat_plan plan;
    struct api_error e;
    memset(&e, 0, sizeof e);
    if (fn(req, m, &body, &plan, &e) == AXON_OK) {
        fuzz_check_json(body.p ? body.p : "", body.len, who);
        fuzz_check_nul_kept(req, body.p ? body.p : "", body.len, who); /* stored text too */
    } else
        fuzz_check_error(&e);
    buf_free(&body);
    json_object_put(req);
}

static struct model claude = {
    .id = (char *)"gpt-4o", .upstream_id = (char *)"claude-sonnet-4-6",
    .provider = PROVIDER_ANTHROPIC, .max_tokens = 8192, .max_output = 64000, .context = 200000,
};
static struct model qwen = {
    .id = (char *)"coder", .upstream_id = (char *)"Qwen/Qwen3-Coder", .provider = PROVIDER_OPENAI,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    redisReply *x = resp_decode(&p, end, 0);
    if (!x)
        return 0;
    redisReply *y = resp_decode(&p, end, 0);

    json_object *history = NULL;
    struct conv_meta meta;
    memset(&meta, 0, sizeof meta);
    int rc = load_parse(x, ID, TENANT, &history, &meta);
    if (rc == AXON_OK && !history) {
        /* A large history: only the meta, and the messages' place was nil. */
        check_meta(&meta);
        if (x->element[1]->type != REDIS_REPLY_NIL)
            fuzz_fail("load_parse gave no messages for a list");
    } else if (rc == AXON_OK) {
        check_meta(&meta);
        if (!json_object_is_type(history, json_type_array))
            fuzz_fail("load_parse gave no array");
        size_t n = json_object_array_length(history);
        if (n && role_of(json_object_array_get_idx(history, 0), "system") &&
            !conv_has_system(history, json_object_array_get_idx(history, 0)))
            fuzz_fail("conv_has_system misses the first system message");
        check_fit(history, (size_t)(meta.updated & 0xfffff));
        replay(history, anthropic_request, &claude, "anthropic_request (replay)");
        replay(history, openai_request, &qwen, "openai_request (replay)");
        json_object_put(history);
    } else if (history) {
        fuzz_fail("load_parse failed (%d) but returned messages", rc);
    } else if (rc != AXON_EPROTO && rc != AXON_ENOTFOUND) {
        fuzz_fail("load_parse returned %d", rc);
    }

    /* conv_list's HMGET reply, as fetch_metas takes it. */
    if (y && y->type == REDIS_REPLY_ARRAY && y->elements == MF_N) {
        const redisReply *f[MF_N];
        for (int j = 0; j < MF_N; j++)
            f[j] = y->element[j];
        memset(&meta, 0, sizeof meta);
        if (meta_parse(f, ID, TENANT, &meta) == AXON_OK)
            check_meta(&meta);
    }
    reply_free(x);
    reply_free(y);
    return 0;
}
