/* resp_in.c - a CreateResponse body into the canonical chat request (see
 * resp_in.h and docs/responses.md, Request mapping).
 *
 * Sources for every rule: the spec (/work/shared/spec/openai-openapi.yaml,
 * schemas CreateResponse, ResponseProperties, ModelResponseProperties,
 * InputItem, EasyInputMessage, InputMessage, OutputMessage,
 * FunctionToolCall, FunctionCallOutputItemParam, ReasoningItem,
 * ItemReferenceParam, FunctionTool, ToolChoiceParam, ResponseTextParam,
 * Reasoning, IncludeEnum, Metadata, Prompt, ConversationParam) and the doc
 * comments of openai-node src/resources/responses/responses.ts.
 *
 * Words and codes are OpenAI's, as oai_validate.c measured them for chat
 * (the same validator answers both APIs): "Unknown parameter: 'x'." with
 * code unknown_parameter and param x, "Missing required parameter: 'x'.",
 * "Invalid type for 'x': expected ..., but got ... instead." and "Invalid
 * value: 'x'. Supported values are: ...". The parameters the two APIs
 * share under one name (temperature, top_p, user, safety_identifier,
 * prompt_cache_key, metadata, ...) are copied into the chat request and
 * checked there, by oai_validate_chat, so that both APIs refuse them in the
 * same words; the chat paths of those fields are the Responses ones.
 *
 * Strictness, as OpenAI's: the top level, every item, function tools and
 * the objects inside them are closed (OpenAI answers "Unknown parameter:
 * 'input[3].status'." for a key an item does not take), listing every key
 * the spec gives them; text parts are open (clients add cache_control and
 * the like, and the spec adds keys there often). Leniency where clients
 * that work against OpenAI depart from the spec: a reasoning item without
 * id, a function tool without parameters or strict. */
#include "resp_in.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "oai_validate.h"
#include "text.h"

#define ECHO_MAX 120 /* bytes of a client's own text quoted back */
#define ITEM_DEPTH 2 /* an item_reference resolves to an item, which may not refer again */

struct rp {
    struct api_error *e;
    struct oai_path at;
    const struct resp_lookup *lk;
    struct resp_meta *meta;
    json_object *msgs;    /* the chat messages being built */
    json_object *asst;    /* the assistant message being built, or NULL */
    int stage;            /* what asst holds: 0 thinking only, 1 content, 2 tool calls */
    size_t nitems;        /* items parsed, stored ones included */
    size_t nrefs;         /* item_reference items resolved */
    char asst_from[sizeof(((struct api_error *)0)->param)]; /* the path asst began at */
    json_object *asst_calls; /* the paths of asst's function_call items, or NULL */
};

/* ---- paths and errors ---- */

/* The path helpers and type names are oai_validate.c's: one wording. */
static size_t path_key(struct rp *p, const char *key)
{
    return oai_path_key(&p->at, key);
}

static size_t path_idx(struct rp *p, size_t i)
{
    return oai_path_idx(&p->at, i);
}

static void path_pop(struct rp *p, size_t old)
{
    oai_path_pop(&p->at, old);
}

/* A 400 (or status) naming the current path; code may be NULL. */
static int failx(struct rp *p, int status, const char *code, const char *fmt, ...)
    AXON_PRINTF(4, 5);
static int failx(struct rp *p, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = oai_failv(&p->at, p->e, status, code, fmt, ap);
    va_end(ap);
    return rc;
}
#define fail(p, code, ...) failx((p), 400, (code), __VA_ARGS__)

static int bad_type(struct rp *p, json_object *o, const char *want)
{
    return oai_bad_type(&p->at, p->e, o, want);
}

/* Pushes key onto the path and leaves it there: the walk ends here. */
static int missing(struct rp *p, const char *key)
{
    return oai_missing(&p->at, p->e, key);
}

static int unsupported(struct rp *p, const char *key, const char *fmt, ...) AXON_PRINTF(3, 4);
static int unsupported(struct rp *p, const char *key, const char *fmt, ...)
{
    char msg[sizeof p->e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        path_key(p, key);
    return fail(p, "unsupported_value", "%s", msg);
}

static int str_len(json_object *s)
{
    return (int)text_utf8_cut(json_object_get_string(s), (size_t)json_object_get_string_len(s),
                              ECHO_MAX);
}

/* Every key of o is one of keys (NULL-terminated), else OpenAI's
 * unknown_parameter for the first that is not. */
static int closed(struct rp *p, json_object *o, const char *const *keys)
{
    json_object_object_foreach(o, k, v) {
        (void)v;
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (!keys[i]) {
            path_key(p, k);
            return fail(p, "unknown_parameter", "Unknown parameter: '%s'.", p->at.s);
        }
    }
    return AXON_OK;
}

enum want { W_STR, W_BOOL, W_OBJ, W_ARR, W_INT, W_NUM };

#define REQ 1u /* must be present */
#define NUL 2u /* null means unset (else a wrong type) */

static bool is_type(json_object *v, enum want w)
{
    switch (w) {
    case W_STR: return json_object_is_type(v, json_type_string);
    case W_BOOL: return json_object_is_type(v, json_type_boolean);
    case W_OBJ: return json_object_is_type(v, json_type_object);
    case W_ARR: return json_object_is_type(v, json_type_array);
    case W_INT: return json_object_is_type(v, json_type_int);
    case W_NUM:
        return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    }
    return false;
}

static const char *const WANT_WORDS[] = {"a string", "a boolean", "an object", "an array",
                                         "an integer", "a decimal"};

/* o's member key into *out (borrowed; NULL when absent or a null that
 * flags allow), checked for its type. */
static int get(struct rp *p, json_object *o, const char *key, enum want w, unsigned flags,
               json_object **out)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return (flags & REQ) ? missing(p, key) : AXON_OK;
    if (!v && (flags & NUL))
        return AXON_OK;
    if (!is_type(v, w)) {
        path_key(p, key); /* no pop: the walk ends with the error */
        return bad_type(p, v, WANT_WORDS[w]);
    }
    *out = v;
    return AXON_OK;
}

/* v (at the current path) as one of names: *idx its position. */
static int enum_pick(struct rp *p, json_object *v, const char *const *names, size_t *idx)
{
    char list[1024];
    if (!json_object_is_type(v, json_type_string)) {
        oai_list_names(list, sizeof list, names, "or");
        return fail(p, "invalid_type", "Invalid type for '%s': expected %s%s, but got %s instead.",
                    p->at.s, names[1] ? "one of " : "", list, oai_got(v));
    }
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    for (size_t i = 0; names[i]; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            *idx = i;
            return AXON_OK;
        }
    }
    oai_list_names(list, sizeof list, names, "and");
    return fail(p, "invalid_value", "Invalid value: '%.*s'. Supported values are: %s.",
                str_len(v), s, list);
}

/* o's member key as one of names: *idx its position, or -1 when absent
 * (or null with NUL). */
static int get_enum(struct rp *p, json_object *o, const char *key, const char *const *names,
                    unsigned flags, int *idx)
{
    json_object *v = NULL;
    *idx = -1;
    if (!json_object_object_get_ex(o, key, &v))
        return (flags & REQ) ? missing(p, key) : AXON_OK;
    if (!v && (flags & NUL))
        return AXON_OK;
    size_t old = path_key(p, key), i = 0;
    int rc = enum_pick(p, v, names, &i);
    if (rc)
        return rc;
    path_pop(p, old);
    *idx = (int)i;
    return AXON_OK;
}

/* get_enum of a required member: a success always gives a position. */
static int need_enum(struct rp *p, json_object *o, const char *key, const char *const *names,
                     int *idx)
{
    int rc = get_enum(p, o, key, names, REQ, idx);
    if (!rc && *idx < 0) { /* cannot be (REQ without NUL): said for the analyzer */
        (void)missing(p, key);
        return AXON_EINVAL;
    }
    return rc;
}

static int int_range(struct rp *p, json_object *o, const char *key, int64_t min, int64_t max,
                     json_object **out)
{
    int rc = get(p, o, key, W_INT, NUL, out);
    if (rc || !*out)
        return rc;
    int64_t i = json_object_get_int64(*out);
    bool past = i == INT64_MAX && json_object_get_uint64(*out) > (uint64_t)INT64_MAX;
    if (i >= min && i <= max && !past)
        return AXON_OK;
    path_key(p, key);
    char b[32];
    if (past)
        snprintf(b, sizeof b, "%llu", (unsigned long long)json_object_get_uint64(*out));
    else
        snprintf(b, sizeof b, "%lld", (long long)i);
    if (i < min)
        return fail(p, "integer_below_min_value",
                    "Invalid '%s': integer below minimum value. Expected a value >= %lld, but "
                    "got %s instead.",
                    p->at.s, (long long)min, b);
    return fail(p, "integer_above_max_value",
                "Invalid '%s': integer above maximum value. Expected a value <= %lld, but got "
                "%s instead.",
                p->at.s, (long long)max, b);
}

/* ---- small builders ---- */

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

void resp_new_id(const char *prefix, char *out, size_t size)
{
    unsigned char r[24];
    char hex[2 * sizeof r + 1];
    text_random(r, sizeof r);
    text_hex(r, sizeof r, hex);
    snprintf(out, size, "%s%s", prefix, hex);
}

static void ignored(struct rp *p, const char *name)
{
    text_list_add(p->meta->ignored, sizeof p->meta->ignored, name);
}

/* Appends the chat message m (taken) and where it came from: from, or the
 * current path (meta->origins, for resp_map_error). */
static void push_msg(struct rp *p, json_object *m, const char *from)
{
    json_object_array_add(p->msgs, m);
    json_object_array_add(p->meta->origins, jstr(from ? from : p->at.s));
}

/* The assistant message in hand, with its origin: [where it began, then
 * each tool call's item] when it calls tools. */
static void push_asst(struct rp *p)
{
    json_object_array_add(p->msgs, p->asst);
    if (!p->asst_calls) {
        json_object_array_add(p->meta->origins, jstr(p->asst_from));
        return;
    }
    json_object *o = json_object_new_array();
    json_object_array_add(o, jstr(p->asst_from));
    for (size_t i = 0; i < json_object_array_length(p->asst_calls); i++)
        json_object_array_add(o, json_object_get(json_object_array_get_idx(p->asst_calls, i)));
    json_object_array_add(p->meta->origins, o);
}

/* ---- the assistant turn being built ---- */

/* Ends the assistant message in hand. One that holds only thinking (a
 * reasoning item with no output after it) is dropped: chat has no such
 * message and Claude would not take it. */
static void asst_close(struct rp *p)
{
    if (!p->asst)
        return;
    if (p->stage > 0)
        push_asst(p);
    else
        json_object_put(p->asst);
    json_object_put(p->asst_calls);
    p->asst_calls = NULL;
    p->asst = NULL;
    p->stage = 0;
}

/* The assistant message to add to at stage; a new one when the one in hand
 * is past it (thinking comes first, then text, then tool calls: the order
 * of one Claude turn). */
static json_object *asst_at(struct rp *p, int stage)
{
    if (p->asst && (p->stage > stage || (stage == 1 && p->stage == 1)))
        asst_close(p);
    if (!p->asst) {
        p->asst = json_object_new_object();
        memcpy(p->asst_from, p->at.s, p->at.len + 1);
        add(p->asst, "role", jstr("assistant"));
        p->stage = 0;
    }
    if (stage > p->stage)
        p->stage = stage;
    return p->asst;
}

/* ---- content parts ---- */

static const char *const DETAILS[] = {"low", "high", "auto", "original", NULL};

/* input_image -> image_url. A file_id names a file in OpenAI's file store,
 * which Axon does not have. */
static int part_image(struct rp *p, json_object *part, json_object **out)
{
    static const char *const keys[] = {"type", "image_url", "file_id", "detail",
                                       "prompt_cache_breakpoint", NULL};
    json_object *url, *fid;
    int d = -1, rc = closed(p, part, keys);
    if (!rc)
        rc = get(p, part, "image_url", W_STR, NUL, &url);
    if (!rc)
        rc = get(p, part, "file_id", W_STR, NUL, &fid);
    if (!rc)
        rc = get_enum(p, part, "detail", DETAILS, NUL, &d);
    if (rc)
        return rc;
    if (fid)
        return unsupported(p, "file_id", "Axon keeps no files: send the image in 'image_url' "
                                         "(an https URL or a data: URL) instead of 'file_id'.");
    if (!url)
        return missing(p, "image_url");
    json_object *iu = json_object_new_object();
    add(iu, "url", jsonv_str_dup(url));
    /* chat takes low, high and auto; "original" asks for no downscaling,
     * which high is the nearest to. */
    if (d >= 0)
        add(iu, "detail", jstr(d == 3 ? "high" : DETAILS[d]));
    *out = json_object_new_object();
    add(*out, "type", jstr("image_url"));
    add(*out, "image_url", iu);
    return AXON_OK;
}

/* input_file -> chat's file part; only inline file_data can be served. */
static int part_file(struct rp *p, json_object *part, json_object **out)
{
    static const char *const keys[] = {"type", "file_id", "filename", "file_data", "file_url",
                                       "detail", "prompt_cache_breakpoint", NULL};
    json_object *fid, *name, *data, *url;
    int rc = closed(p, part, keys);
    if (!rc)
        rc = get(p, part, "file_id", W_STR, NUL, &fid);
    if (!rc)
        rc = get(p, part, "filename", W_STR, NUL, &name);
    if (!rc)
        rc = get(p, part, "file_data", W_STR, NUL, &data);
    if (!rc)
        rc = get(p, part, "file_url", W_STR, NUL, &url);
    if (rc)
        return rc;
    if (fid)
        return unsupported(p, "file_id", "Axon keeps no files: send the file's content in "
                                         "'file_data' instead of 'file_id'.");
    if (url)
        return unsupported(p, "file_url", "Axon does not fetch files: send the file's content "
                                          "in 'file_data' instead of 'file_url'.");
    if (!data)
        return missing(p, "file_data");
    json_object *f = json_object_new_object();
    if (name)
        add(f, "filename", jsonv_str_dup(name));
    add(f, "file_data", jsonv_str_dup(data));
    *out = json_object_new_object();
    add(*out, "type", jstr("file"));
    add(*out, "file", f);
    return AXON_OK;
}

static json_object *text_part(json_object *text)
{
    json_object *t = json_object_new_object();
    add(t, "type", jstr("text"));
    add(t, "text", jsonv_str_dup(text));
    return t;
}

enum part_set { PARTS_INPUT, PARTS_TEXT_ONLY, PARTS_OUTPUT };

static int part_convert(struct rp *p, json_object *part, enum part_set set, json_object **out)
{
    static const char *const in_types[] = {"input_text", "input_image", "input_file", NULL};
    static const char *const out_types[] = {"output_text", "refusal", "input_text", NULL};
    const char *const *types = set == PARTS_OUTPUT ? out_types : in_types;
    json_object *text;
    int t = 0, rc;
    *out = NULL;
    if (!json_object_is_type(part, json_type_object))
        return bad_type(p, part, "an object");
    if ((rc = need_enum(p, part, "type", types, &t)))
        return rc;
    const char *type = types[t];
    if (!strcmp(type, "input_text") || !strcmp(type, "output_text")) {
        if ((rc = get(p, part, "text", W_STR, REQ, &text)))
            return rc;
        *out = text_part(text);
        return AXON_OK;
    }
    if (!strcmp(type, "refusal")) {
        if ((rc = get(p, part, "refusal", W_STR, REQ, &text)))
            return rc;
        *out = json_object_new_object();
        add(*out, "type", jstr("refusal"));
        add(*out, "refusal", jsonv_str_dup(text));
        return AXON_OK;
    }
    if (set == PARTS_TEXT_ONLY) {
        path_key(p, "type");
        return fail(p, "unsupported_value",
                    "Only 'input_text' parts can be sent here: a '%s' part has no place in this "
                    "message in the chat request Axon translates to.",
                    type);
    }
    return !strcmp(type, "input_image") ? part_image(p, part, out) : part_file(p, part, out);
}

/* A part's prompt_cache_breakpoint ({mode: explicit}) goes on the chat
 * part as it is: chat takes the same key on text, image and file parts
 * (oai_validate.c), and checks it there. */
static void keep_breakpoint(json_object *from, json_object *to)
{
    json_object *bp = NULL;
    if (to && json_object_object_get_ex(from, "prompt_cache_breakpoint", &bp) && bp)
        add(to, "prompt_cache_breakpoint", json_object_get(bp));
}

/* One content part at the current path into *out (returns new). */
static int content_part(struct rp *p, json_object *part, enum part_set set, json_object **out)
{
    int rc = part_convert(p, part, set, out);
    if (!rc)
        keep_breakpoint(part, *out);
    return rc;
}

/* content: a string (kept a string) or a list of parts. */
static int content(struct rp *p, json_object *c, enum part_set set, json_object **out)
{
    *out = NULL;
    if (json_object_is_type(c, json_type_string)) {
        *out = jsonv_str_dup(c);
        return AXON_OK;
    }
    if (!json_object_is_type(c, json_type_array))
        return bad_type(p, c, "one of a string or array of objects");
    json_object *parts = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(c); i++) {
        json_object *part = NULL;
        size_t old = path_idx(p, i);
        int rc = content_part(p, json_object_array_get_idx(c, i), set, &part);
        if (rc) {
            json_object_put(parts);
            return rc;
        }
        path_pop(p, old);
        json_object_array_add(parts, part);
    }
    *out = parts;
    return AXON_OK;
}

/* ---- items ---- */

static const char *const ROLES[] = {"user", "assistant", "system", "developer", NULL};
static const char *const STATUSES[] = {"in_progress", "completed", "incomplete", NULL};

/* A message item: user, system and developer become chat messages of their
 * role; assistant text joins the assistant turn in hand. */
static int item_message(struct rp *p, json_object *it)
{
    static const char *const keys[] = {"type", "role", "content", "id", "status", "phase", NULL};
    json_object *c, *conv = NULL, *id;
    int role = 0, st, rc = closed(p, it, keys);
    if (!rc)
        rc = need_enum(p, it, "role", ROLES, &role);
    if (!rc)
        rc = get(p, it, "id", W_STR, 0, &id);
    if (!rc)
        rc = get_enum(p, it, "status", STATUSES, NUL, &st);
    if (!rc && !json_object_object_get_ex(it, "content", &c))
        rc = missing(p, "content");
    if (rc)
        return rc;
    size_t old = path_key(p, "content");
    bool assistant = role == 1;
    bool instructions = role == 2 || role == 3;
    rc = content(p, c, assistant ? PARTS_OUTPUT : instructions ? PARTS_TEXT_ONLY : PARTS_INPUT,
                 &conv);
    if (rc)
        return rc;
    path_pop(p, old);
    if (assistant) {
        json_object *m = asst_at(p, 1);
        add(m, "content", conv);
        return AXON_OK;
    }
    asst_close(p);
    json_object *m = json_object_new_object();
    add(m, "role", jstr(ROLES[role]));
    add(m, "content", conv);
    push_msg(p, m, NULL);
    return AXON_OK;
}

/* function_call -> a tool call of the assistant turn in hand: consecutive
 * calls are one assistant message, as one Claude turn is. */
static int item_call(struct rp *p, json_object *it)
{
    static const char *const keys[] = {"type", "id", "call_id", "name", "arguments", "status",
                                       "namespace", "caller", NULL};
    json_object *cid, *name, *args, *id;
    int st = -1, rc = closed(p, it, keys);
    if (!rc)
        rc = get(p, it, "call_id", W_STR, REQ, &cid);
    if (!rc)
        rc = get(p, it, "name", W_STR, REQ, &name);
    if (!rc)
        rc = get(p, it, "arguments", W_STR, REQ, &args);
    if (!rc)
        rc = get(p, it, "id", W_STR, 0, &id);
    if (!rc)
        rc = get_enum(p, it, "status", STATUSES, NUL, &st);
    if (rc)
        return rc;
    json_object *m = asst_at(p, 2), *calls = NULL;
    if (!json_object_object_get_ex(m, "tool_calls", &calls)) {
        calls = json_object_new_array();
        add(m, "tool_calls", calls);
        if (!json_object_object_get_ex(m, "content", NULL))
            add(m, "content", NULL);
    }
    json_object *fn = json_object_new_object();
    add(fn, "name", jsonv_str_dup(name));
    add(fn, "arguments", jsonv_str_dup(args));
    json_object *tc = json_object_new_object();
    add(tc, "id", jsonv_str_dup(cid));
    add(tc, "type", jstr("function"));
    add(tc, "function", fn);
    json_object_array_add(calls, tc);
    if (!p->asst_calls)
        p->asst_calls = json_object_new_array();
    json_object_array_add(p->asst_calls, jstr(p->at.s));
    return AXON_OK;
}

/* function_call_output -> a tool message. The spec lets call_id be null,
 * but nothing can answer a call it does not name. */
static int item_call_output(struct rp *p, json_object *it)
{
    static const char *const keys[] = {"type", "id", "call_id", "output", "status", "name",
                                       "namespace", "caller", NULL};
    json_object *cid, *out, *id, *conv = NULL;
    int st = -1, rc = closed(p, it, keys);
    if (!rc)
        rc = get(p, it, "call_id", W_STR, REQ, &cid);
    if (!rc)
        rc = get(p, it, "id", W_STR, NUL, &id);
    if (!rc)
        rc = get_enum(p, it, "status", STATUSES, NUL, &st);
    if (!rc && !json_object_object_get_ex(it, "output", &out))
        rc = missing(p, "output");
    if (rc)
        return rc;
    size_t old = path_key(p, "output");
    if ((rc = content(p, out, PARTS_TEXT_ONLY, &conv)))
        return rc;
    path_pop(p, old);
    asst_close(p);
    json_object *m = json_object_new_object();
    add(m, "role", jstr("tool"));
    add(m, "tool_call_id", jsonv_str_dup(cid));
    add(m, "content", conv);
    char from[sizeof p->at.s + 8];
    snprintf(from, sizeof from, "%s.output", p->at.s);
    push_msg(p, m, from);
    return AXON_OK;
}

/* 1..64 of [A-Za-z0-9_-]: an id that can be quoted back as it is. */
static bool plain_id(json_object *id)
{
    const char *s = json_object_get_string(id);
    size_t n = (size_t)json_object_get_string_len(id);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
    return ok;
}

/* reasoning -> the signed thinking of the assistant turn that follows:
 * Claude's blocks travel sealed in encrypted_content (opened by the
 * caller), or, from the store, as they are. A summary alone cannot be
 * replayed to any model and is dropped, as OpenAI drops reasoning it
 * cannot use. */
static int item_reasoning(struct rp *p, json_object *it, bool trusted)
{
    static const char *const keys[] = {"type", "id", "encrypted_content", "summary", "content",
                                       "status", NULL};
    static const char *const trusted_keys[] = {"type", "id", "encrypted_content", "summary",
                                               "content", "status", "thinking_blocks", NULL};
    json_object *id, *enc, *sum, *con, *tb = NULL;
    int st = -1, rc = closed(p, it, trusted ? trusted_keys : keys);
    /* The spec requires id, but OpenAI takes a reasoning item without one
     * when it carries encrypted_content (vercel/ai
     * convert-to-openai-responses-input.ts), and Codex never sends it
     * (openai/codex protocol/src/models.rs: skip_serializing), nor does it
     * leave out a null content. */
    if (!rc)
        rc = get(p, it, "id", W_STR, 0, &id);
    if (!rc)
        rc = get(p, it, "summary", W_ARR, REQ, &sum);
    if (!rc)
        rc = get(p, it, "encrypted_content", W_STR, NUL, &enc);
    if (!rc)
        rc = get(p, it, "content", W_ARR, NUL, &con);
    if (!rc)
        rc = get_enum(p, it, "status", STATUSES, NUL, &st);
    if (!rc && trusted)
        rc = get(p, it, "thinking_blocks", W_ARR, NUL, &tb);
    if (rc)
        return rc;
    for (size_t i = 0; i < json_object_array_length(sum); i++) {
        static const char *const types[] = {"summary_text", NULL};
        json_object *s = json_object_array_get_idx(sum, i), *text;
        int t = 0;
        size_t old = path_key(p, "summary");
        path_idx(p, i);
        if (!json_object_is_type(s, json_type_object))
            return bad_type(p, s, "an object");
        if ((rc = need_enum(p, s, "type", types, &t)) ||
            (rc = get(p, s, "text", W_STR, REQ, &text)))
            return rc;
        path_pop(p, old);
    }
    json_object *blocks = NULL;
    if (tb) {
        blocks = json_object_get(tb);
    } else if (enc) {
        char why[256] = "";
        rc = p->lk && p->lk->open_reasoning
                 ? p->lk->open_reasoning(p->lk->ctx, json_object_get_string(enc),
                                         (size_t)json_object_get_string_len(enc), &blocks, why,
                                         sizeof why)
                 : AXON_EINVAL;
        if (rc || !json_object_is_type(blocks, json_type_array)) {
            json_object_put(blocks);
            path_key(p, "encrypted_content");
            /* OpenAI's sentence, as seal_open_reasoning (seal.h) writes it:
             * the id named only when it is a plain one. */
            if (!why[0])
                snprintf(why, sizeof why, "it does not open");
            if (id && plain_id(id))
                return fail(p, "invalid_encrypted_content",
                            "The encrypted content for item %s could not be verified. "
                            "Reason: %s.",
                            json_object_get_string(id), why);
            return fail(p, "invalid_encrypted_content",
                        "The encrypted content could not be verified. Reason: %s.", why);
        }
    }
    if (!blocks || json_object_array_length(blocks) == 0) {
        json_object_put(blocks);
        return AXON_OK;
    }
    json_object *m = asst_at(p, 0), *have = NULL;
    if (!json_object_object_get_ex(m, "thinking_blocks", &have)) {
        add(m, "thinking_blocks", blocks);
        return AXON_OK;
    }
    for (size_t i = 0; i < json_object_array_length(blocks); i++)
        json_object_array_add(have, json_object_get(json_object_array_get_idx(blocks, i)));
    json_object_put(blocks);
    return AXON_OK;
}

/* The item types of the spec's InputItem and Item, in its order; the ones
 * after the first five name tools OpenAI runs itself (or custom tools,
 * which chat's Claude path does not take), and are refused. */
static const char *const ITEM_TYPES[] = {
    "message", "function_call", "function_call_output", "reasoning", "item_reference",
    "file_search_call", "computer_call", "computer_call_output", "web_search_call",
    "tool_search_call", "tool_search_output", "additional_tools", "compaction",
    "compaction_summary", "image_generation_call", "code_interpreter_call", "local_shell_call",
    "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
    "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request",
    "mcp_approval_response", "mcp_call", "custom_tool_call_output", "custom_tool_call",
    "program", "program_output", NULL};

static int item(struct rp *p, json_object *it, bool trusted, int depth, json_object **norm);

/* item_reference: the stored item, parsed as if it were inline; the
 * recursion is one level deep (ITEM_DEPTH). NOLINTNEXTLINE(misc-no-recursion) */
static int item_ref(struct rp *p, json_object *it, int depth, json_object **norm)
{
    static const char *const keys[] = {"type", "id", NULL};
    json_object *id, *found = NULL;
    int rc = closed(p, it, keys);
    if (!rc)
        rc = get(p, it, "id", W_STR, REQ, &id);
    if (rc)
        return rc;
    if (depth >= ITEM_DEPTH) /* a stored item is never a reference */
        return unsupported(p, "type", "A stored item cannot itself be an item_reference.");
    if (++p->nrefs > RESP_MAX_REFS)
        return fail(p, "array_above_max_length",
                    "Too many item references: Axon resolves at most %d in one request.",
                    RESP_MAX_REFS);
    rc = p->lk && p->lk->item ? p->lk->item(p->lk->ctx, json_object_get_string(id), &found, p->e)
                              : AXON_ENOTFOUND;
    if (rc == AXON_ENOTFOUND || (!rc && !json_object_is_type(found, json_type_object))) {
        json_object_put(found);
        path_key(p, "id");
        return failx(p, 404, NULL, "Item with id '%.*s' not found.", str_len(id),
                     json_object_get_string(id));
    }
    if (rc)
        return rc;
    rc = item(p, found, true, depth + 1, norm);
    json_object_put(found);
    return rc;
}

/* The id prefix OpenAI gives an item of this type. */
static const char *id_prefix(const char *type)
{
    return !strcmp(type, "function_call") ? "fc_"
         : !strcmp(type, "function_call_output") ? "fco_"
         : !strcmp(type, "reasoning") ? "rs_"
                                            : "msg_";
}

/* it as an input item for the listing (returns new): type set, an id, and
 * a message's content as a list. */
static json_object *normalise(json_object *it, const char *type)
{
    json_object *n = json_object_new_object();
    json_object_object_foreach(it, k, v) {
        if (strcmp(k, "thinking_blocks"))
            add(n, k, json_object_get(v));
    }
    add(n, "type", jstr(type));
    json_object *id = NULL;
    if (!json_object_object_get_ex(n, "id", &id) || !json_object_is_type(id, json_type_string)) {
        char b[64];
        resp_new_id(id_prefix(type), b, sizeof b);
        add(n, "id", jstr(b));
    }
    json_object *c = NULL;
    if (!strcmp(type, "message") && json_object_object_get_ex(n, "content", &c) &&
        json_object_is_type(c, json_type_string)) {
        const char *role = "";
        json_object *r = NULL;
        if (json_object_object_get_ex(n, "role", &r))
            role = json_object_get_string(r);
        json_object *part = json_object_new_object();
        add(part, "type", jstr(strcmp(role, "assistant") ? "input_text" : "output_text"));
        add(part, "text", jsonv_str_dup(c));
        if (!strcmp(role, "assistant"))
            add(part, "annotations", json_object_new_array());
        json_object *list = json_object_new_array();
        json_object_array_add(list, part);
        add(n, "content", list);
    }
    if (!strcmp(type, "message") && !json_object_object_get_ex(n, "status", NULL))
        add(n, "status", jstr("completed"));
    return n;
}

/* One item at the current path. norm (may be NULL): its normalised form.
 * NOLINTNEXTLINE(misc-no-recursion): through item_ref, ITEM_DEPTH deep */
static int item(struct rp *p, json_object *it, bool trusted, int depth, json_object **norm)
{
    json_object *tv = NULL;
    int t = 0, rc;
    if (!json_object_is_type(it, json_type_object))
        return bad_type(p, it, "an object");
    if (++p->nitems > RESP_MAX_ITEMS)
        return fail(p, "array_above_max_length",
                    "Too many input items: Axon takes at most %d in one request, stored ones "
                    "included.",
                    RESP_MAX_ITEMS);
    /* EasyInputMessage needs no type; ItemReferenceParam's may be null. */
    if (!json_object_object_get_ex(it, "type", &tv) || !tv) {
        t = json_object_object_get_ex(it, "role", NULL) ? 0 : 4;
        if (t == 4 && !json_object_object_get_ex(it, "id", NULL))
            return missing(p, "type");
    } else if ((rc = need_enum(p, it, "type", ITEM_TYPES, &t))) {
        return rc;
    }
    switch (t) {
    case 0: rc = item_message(p, it); break;
    case 1: rc = item_call(p, it); break;
    case 2: rc = item_call_output(p, it); break;
    case 3: rc = item_reasoning(p, it, trusted); break;
    case 4: return item_ref(p, it, depth, norm);
    default:
        return unsupported(p, "type",
                           "Items of type '%s' cannot be served: Axon runs no hosted tools and "
                           "takes function tools only.",
                           ITEM_TYPES[t]);
    }
    if (!rc && norm)
        *norm = normalise(it, ITEM_TYPES[t]);
    return rc;
}

/* input: a string (one user message) or a list of items. */
static int input(struct rp *p, json_object *in)
{
    if (json_object_is_type(in, json_type_string)) {
        asst_close(p);
        json_object *m = json_object_new_object();
        add(m, "role", jstr("user"));
        add(m, "content", jsonv_str_dup(in));
        push_msg(p, m, NULL);
        json_object *part = json_object_new_object();
        add(part, "type", jstr("input_text"));
        add(part, "text", jsonv_str_dup(in));
        json_object *it = json_object_new_object();
        add(it, "role", jstr("user"));
        add(it, "content", json_object_new_array());
        json_object_array_add(json_object_object_get(it, "content"), part);
        json_object *n = normalise(it, "message");
        json_object_put(it);
        json_object_array_add(p->meta->input_items, n);
        return AXON_OK;
    }
    if (!json_object_is_type(in, json_type_array))
        return bad_type(p, in, "one of a string or array of objects");
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        json_object *norm = NULL;
        size_t old = path_idx(p, i);
        int rc = item(p, json_object_array_get_idx(in, i), false, 1, &norm);
        if (rc)
            return rc;
        path_pop(p, old);
        if (norm)
            json_object_array_add(p->meta->input_items, norm);
    }
    return AXON_OK;
}

/* The stored chain before this request: its items join the messages
 * first, parsed as trusted items (errors name them by their place there). */
static int previous(struct rp *p, const char *id)
{
    json_object *items = NULL;
    int rc = p->lk && p->lk->previous ? p->lk->previous(p->lk->ctx, id, &items, p->e)
                                      : AXON_ENOTFOUND;
    if (rc == AXON_ENOTFOUND) {
        path_key(p, "previous_response_id");
        return failx(p, 404, "previous_response_not_found",
                     "Previous response with id '%.*s' not found.",
                     (int)text_utf8_cut(id, strlen(id), ECHO_MAX), id);
    }
    if (rc)
        return rc;
    if (!json_object_is_type(items, json_type_array)) {
        json_object_put(items);
        api_error_set(p->e, 500, ERR_SERVER, NULL, NULL,
                      "The stored response '%.*s' could not be read.",
                      (int)text_utf8_cut(id, strlen(id), ECHO_MAX), id);
        return AXON_EPROTO;
    }
    size_t old = path_key(p, "previous_response_id");
    for (size_t i = 0; !rc && i < json_object_array_length(items); i++) {
        size_t at = path_idx(p, i);
        rc = item(p, json_object_array_get_idx(items, i), true, 1, NULL);
        if (!rc)
            path_pop(p, at);
    }
    json_object_put(items);
    if (!rc)
        path_pop(p, old);
    return rc;
}

/* ---- tools ---- */

/* The tool types of the spec's Tool, in its order: function only is
 * served (the others run at OpenAI, or are custom tools). */
static const char *const TOOL_TYPES[] = {
    "function", "file_search", "computer", "computer_use_preview", "web_search",
    "web_search_2025_08_26", "mcp", "code_interpreter", "programmatic_tool_calling",
    "image_generation", "local_shell", "shell", "custom", "namespace", "tool_search",
    "web_search_preview", "web_search_preview_2025_03_11", "apply_patch", NULL};

/* FunctionTool {type, name, description, parameters, strict} -> chat's
 * {type: function, function: {...}}. The spec requires parameters and
 * strict; the SDKs omit them and OpenAI accepts that (its default strict is
 * true: Axon passes strict only when given, docs/responses.md). */
static int tool(struct rp *p, json_object *t, json_object *tools)
{
    static const char *const keys[] = {"type", "name", "description", "parameters", "strict",
                                       "defer_loading", "allowed_callers", "output_schema",
                                       NULL};
    json_object *name, *desc, *params, *strict, *x;
    int ty = 0, rc;
    if (!json_object_is_type(t, json_type_object))
        return bad_type(p, t, "an object");
    if ((rc = need_enum(p, t, "type", TOOL_TYPES, &ty)))
        return rc;
    if (ty != 0)
        return unsupported(p, "type",
                           "Tools of type '%s' cannot be served: Axon runs no hosted tools and "
                           "takes function tools only.",
                           TOOL_TYPES[ty]);
    rc = closed(p, t, keys);
    if (!rc)
        rc = get(p, t, "name", W_STR, REQ, &name);
    if (!rc)
        rc = get(p, t, "description", W_STR, NUL, &desc);
    if (!rc)
        rc = get(p, t, "parameters", W_OBJ, NUL, &params);
    if (!rc)
        rc = get(p, t, "strict", W_BOOL, NUL, &strict);
    if (!rc)
        rc = get(p, t, "defer_loading", W_BOOL, 0, &x);
    if (rc)
        return rc;
    if (json_object_object_get_ex(t, "defer_loading", NULL) ||
        json_object_object_get_ex(t, "allowed_callers", NULL) ||
        json_object_object_get_ex(t, "output_schema", NULL))
        ignored(p, "tools.function.defer_loading/allowed_callers/output_schema");
    json_object *fn = json_object_new_object();
    add(fn, "name", jsonv_str_dup(name));
    if (desc)
        add(fn, "description", jsonv_str_dup(desc));
    if (params)
        add(fn, "parameters", json_object_get(params));
    if (strict)
        add(fn, "strict", json_object_get(strict));
    json_object *ct = json_object_new_object();
    add(ct, "type", jstr("function"));
    add(ct, "function", fn);
    json_object_array_add(tools, ct);
    return AXON_OK;
}

/* Whether the chat tools (borrowed, may be NULL) hold a function named name. */
static bool has_function(json_object *tools, json_object *name)
{
    for (size_t i = 0; tools && i < json_object_array_length(tools); i++) {
        json_object *fn = jsonv_get(json_object_array_get_idx(tools, i), "function");
        if (jsonv_str_eq(jsonv_get(fn, "name"), name))
            return true;
    }
    return false;
}

static json_object *choose_function(json_object *name)
{
    json_object *fn = json_object_new_object();
    add(fn, "name", jsonv_str_dup(name));
    json_object *c = json_object_new_object();
    add(c, "type", jstr("function"));
    add(c, "function", fn);
    return c;
}

/* tool_choice: a mode, {type: function, name}, or {type: allowed_tools,
 * mode, tools: [{type: function, name}]}, into chat's shapes. */
static int tool_choice(struct rp *p, json_object *tc, json_object *tools, json_object **out)
{
    static const char *const modes[] = {"none", "auto", "required", NULL};
    static const char *const types[] = {"function", "allowed_tools", "file_search",
                                        "web_search_preview", "computer", "computer_use_preview",
                                        "computer_use", "web_search_preview_2025_03_11",
                                        "image_generation", "code_interpreter", "mcp", "custom",
                                        "programmatic_tool_calling", "apply_patch", "shell",
                                        NULL};
    size_t i = 0;
    int ty = 0, rc;
    *out = NULL;
    if (json_object_is_type(tc, json_type_string)) {
        if ((rc = enum_pick(p, tc, modes, &i)))
            return rc;
        *out = jstr(modes[i]);
        return AXON_OK;
    }
    if (!json_object_is_type(tc, json_type_object))
        return bad_type(p, tc, "one of one of 'none', 'auto', or 'required' or object");
    if ((rc = need_enum(p, tc, "type", types, &ty)))
        return rc;
    if (ty == 0) {
        static const char *const keys[] = {"type", "name", NULL};
        json_object *name;
        if ((rc = closed(p, tc, keys)) || (rc = get(p, tc, "name", W_STR, REQ, &name)))
            return rc;
        if (!has_function(tools, name))
            return fail(p, "invalid_value",
                        "Invalid value for 'tool_choice': no function named '%.*s' in 'tools'.",
                        str_len(name), json_object_get_string(name));
        *out = choose_function(name);
        return AXON_OK;
    }
    if (ty != 1)
        return unsupported(p, "type",
                           "tool_choice of type '%s' cannot be served: Axon takes function "
                           "tools only.",
                           types[ty]);
    static const char *const keys[] = {"type", "mode", "tools", NULL};
    static const char *const amodes[] = {"auto", "required", NULL};
    json_object *list;
    int mode = 0;
    if ((rc = closed(p, tc, keys)) || (rc = need_enum(p, tc, "mode", amodes, &mode)) ||
        (rc = get(p, tc, "tools", W_ARR, REQ, &list)))
        return rc;
    json_object *allowed = json_object_new_array();
    size_t old = path_key(p, "tools");
    for (size_t k = 0; k < json_object_array_length(list); k++) {
        json_object *t = json_object_array_get_idx(list, k), *name;
        static const char *const ftypes[] = {"function", NULL};
        int ft = 0;
        path_idx(p, k);
        if (!json_object_is_type(t, json_type_object))
            rc = bad_type(p, t, "an object");
        if (!rc)
            rc = need_enum(p, t, "type", ftypes, &ft);
        if (!rc)
            rc = get(p, t, "name", W_STR, REQ, &name);
        if (rc) {
            json_object_put(allowed);
            return rc;
        }
        path_pop(p, old);
        path_key(p, "tools");
        json_object_array_add(allowed, choose_function(name));
    }
    path_pop(p, old);
    json_object *at = json_object_new_object();
    add(at, "mode", jstr(amodes[mode]));
    add(at, "tools", allowed);
    *out = json_object_new_object();
    add(*out, "type", jstr("allowed_tools"));
    add(*out, "allowed_tools", at);
    return AXON_OK;
}

/* ---- text, reasoning, include ---- */

/* text: {format: text | json_object | json_schema{name, schema, strict,
 * description}, verbosity}. */
static int text_param(struct rp *p, json_object *text, json_object *req)
{
    static const char *const keys[] = {"format", "verbosity", NULL};
    static const char *const fmts[] = {"text", "json_schema", "json_object", NULL};
    static const char *const verb[] = {"low", "medium", "high", NULL};
    json_object *f;
    int v = -1, ft = 0, rc = closed(p, text, keys);
    if (!rc)
        rc = get(p, text, "format", W_OBJ, NUL, &f);
    if (!rc)
        rc = get_enum(p, text, "verbosity", verb, NUL, &v);
    if (rc)
        return rc;
    if (v >= 0)
        add(req, "verbosity", jstr(verb[v]));
    if (!f)
        return AXON_OK;
    size_t old = path_key(p, "format");
    if ((rc = need_enum(p, f, "type", fmts, &ft)))
        return rc;
    if (ft != 1) {
        static const char *const tkeys[] = {"type", NULL};
        if ((rc = closed(p, f, tkeys)))
            return rc;
        if (ft == 2) {
            json_object *rf = json_object_new_object();
            add(rf, "type", jstr("json_object"));
            add(req, "response_format", rf);
        }
        path_pop(p, old);
        return AXON_OK;
    }
    static const char *const skeys[] = {"type", "name", "schema", "strict", "description", NULL};
    json_object *name, *schema, *strict, *desc;
    if ((rc = closed(p, f, skeys)) || (rc = get(p, f, "name", W_STR, REQ, &name)) ||
        (rc = get(p, f, "schema", W_OBJ, REQ, &schema)) ||
        (rc = get(p, f, "strict", W_BOOL, NUL, &strict)) ||
        (rc = get(p, f, "description", W_STR, 0, &desc)))
        return rc;
    path_pop(p, old);
    json_object *js = json_object_new_object();
    add(js, "name", jsonv_str_dup(name));
    if (desc)
        add(js, "description", jsonv_str_dup(desc));
    add(js, "schema", json_object_get(schema));
    if (strict)
        add(js, "strict", json_object_get(strict));
    json_object *rf = json_object_new_object();
    add(rf, "type", jstr("json_schema"));
    add(rf, "json_schema", js);
    add(req, "response_format", rf);
    return AXON_OK;
}

static const char *const EFFORTS[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max",
                                      NULL};
static const char *const SUMMARIES[] = {"auto", "concise", "detailed", NULL};

/* reasoning: effort -> reasoning_effort (which chat maps to Claude's
 * thinking); summary -> meta (the writer shows summaries). */
static int reasoning(struct rp *p, json_object *r, json_object *req)
{
    static const char *const keys[] = {"effort", "summary", "generate_summary", "mode",
                                       "context", NULL};
    static const char *const contexts[] = {"auto", "current_turn", "all_turns", NULL};
    json_object *mode;
    int eff = -1, sum = -1, gen = -1, ctx = -1, rc = closed(p, r, keys);
    if (!rc)
        rc = get_enum(p, r, "effort", EFFORTS, NUL, &eff);
    if (!rc)
        rc = get_enum(p, r, "summary", SUMMARIES, NUL, &sum);
    if (!rc)
        rc = get_enum(p, r, "generate_summary", SUMMARIES, NUL, &gen);
    if (!rc)
        rc = get(p, r, "mode", W_STR, NUL, &mode);
    if (!rc)
        rc = get_enum(p, r, "context", contexts, NUL, &ctx);
    if (rc)
        return rc;
    if (eff >= 0)
        add(req, "reasoning_effort", jstr(EFFORTS[eff]));
    if (sum < 0)
        sum = gen; /* "Deprecated: use summary instead." */
    if (sum >= 0)
        p->meta->summary = (enum resp_summary)(sum + 1);
    if (mode)
        ignored(p, "reasoning.mode");
    if (ctx >= 0)
        ignored(p, "reasoning.context");
    return AXON_OK;
}

static const char *const INCLUDES[] = {
    "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
    "message.input_image.image_url", "computer_call_output.output.image_url",
    "code_interpreter_call.outputs", "reasoning.encrypted_content",
    "message.output_text.logprobs", NULL};

static int include(struct rp *p, json_object *inc)
{
    for (size_t i = 0; i < json_object_array_length(inc); i++) {
        size_t k = 0, old = path_idx(p, i);
        int rc = enum_pick(p, json_object_array_get_idx(inc, i), INCLUDES, &k);
        if (rc)
            return rc;
        path_pop(p, old);
        if (k == 6)
            p->meta->include |= RESP_INC_ENCRYPTED;
        else if (k == 7)
            p->meta->include |= RESP_INC_LOGPROBS;
        else if (k == 3)
            p->meta->include |= RESP_INC_IMAGE_URL;
    }
    return AXON_OK;
}

/* ---- the top level ---- */

/* CreateResponse's properties (allOf CreateModelResponseProperties,
 * ResponseProperties and its own), alphabetical after model and input. */
static const char *const TOP[] = {
    "model", "input", "background", "context_management", "conversation", "include",
    "instructions", "max_output_tokens", "max_tool_calls", "metadata", "moderation",
    "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
    "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
    "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice",
    "tools", "top_logprobs", "top_p", "truncation", "user", NULL};

/* Copied as they are: chat has them under the same name and shape, and
 * oai_validate_chat checks them there in the same words. */
static const char *const SHARED[] = {"temperature", "top_p", "user", "safety_identifier",
                                     "prompt_cache_key", "prompt_cache_options",
                                     "prompt_cache_retention", "parallel_tool_calls",
                                     "moderation", "metadata", NULL};

/* Copies a member that is set: null means unset in both APIs (and some of
 * the shared ones are nullable in Responses only, parallel_tool_calls). */
static void copy_if(json_object *from, json_object *to, const char *key)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(from, key, &v) && v)
        add(to, key, json_object_get(v));
}

/* The Response object's echo of the request, with OpenAI's defaults for
 * what was not sent. */
static void build_echo(json_object *body, struct resp_meta *m)
{
    json_object *e = json_object_new_object(), *v = NULL;
    static const char *const as_sent[] = {"model", "instructions", "tools", "tool_choice",
                                          "parallel_tool_calls", "temperature", "top_p",
                                          "top_logprobs", "max_output_tokens", "max_tool_calls",
                                          "text", "reasoning", "truncation", "metadata", "user",
                                          "safety_identifier", "prompt_cache_key",
                                          "prompt_cache_retention", "service_tier", "background",
                                          "previous_response_id", NULL};
    for (size_t i = 0; as_sent[i]; i++)
        copy_if(body, e, as_sent[i]);
#define DEFAULT(k, val)                                                                \
    do {                                                                               \
        if (!json_object_object_get_ex(e, (k), &v) || !v)                              \
            add(e, (k), (val));                                                        \
    } while (0)
    DEFAULT("tools", json_object_new_array());
    DEFAULT("tool_choice", jstr("auto"));
    DEFAULT("parallel_tool_calls", json_object_new_boolean(1));
    DEFAULT("temperature", json_object_new_double(1.0));
    DEFAULT("top_p", json_object_new_double(1.0));
    DEFAULT("top_logprobs", json_object_new_int(0));
    DEFAULT("truncation", jstr("disabled"));
    DEFAULT("metadata", json_object_new_object());
    DEFAULT("service_tier", jstr("auto"));
    DEFAULT("background", json_object_new_boolean(0));
#undef DEFAULT
    static const char *const nullable[] = {"instructions", "max_output_tokens", "max_tool_calls",
                                           "previous_response_id", "safety_identifier",
                                           "prompt_cache_key", NULL};
    for (size_t i = 0; nullable[i]; i++)
        if (!json_object_object_get_ex(e, nullable[i], NULL))
            add(e, nullable[i], NULL);
    /* text and reasoning: objects with each of their keys. */
    json_object *t = json_object_new_object(), *st = jsonv_get(body, "text");
    json_object *f = jsonv_get(st, "format");
    if (f) {
        add(t, "format", json_object_get(f));
    } else {
        json_object *tf = json_object_new_object();
        add(tf, "type", jstr("text"));
        add(t, "format", tf);
    }
    json_object *verb = jsonv_get(st, "verbosity");
    add(t, "verbosity", verb ? json_object_get(verb) : jstr("medium"));
    add(e, "text", t);
    json_object *r = json_object_new_object(), *sr = jsonv_get(body, "reasoning");
    json_object *eff = jsonv_get(sr, "effort");
    add(r, "effort", eff ? json_object_get(eff) : NULL);
    add(r, "summary", m->summary ? jstr(SUMMARIES[m->summary - 1]) : NULL);
    add(e, "reasoning", r);
    add(e, "store", json_object_new_boolean(m->store));
    if (m->conversation[0]) {
        json_object *c = json_object_new_object();
        add(c, "id", jstr(m->conversation));
        add(e, "conversation", c);
    }
    m->echo = e;
}

static int copy_id(struct rp *p, json_object *s, const char *key, char *out, size_t size)
{
    if ((size_t)json_object_get_string_len(s) >= size || !json_object_get_string_len(s) ||
        memchr(json_object_get_string(s), '\0', (size_t)json_object_get_string_len(s))) {
        path_key(p, key);
        return fail(p, "invalid_value", "Invalid '%s': '%.*s' is not an id Axon gave.", p->at.s,
                    str_len(s), json_object_get_string(s));
    }
    memcpy(out, json_object_get_string(s), (size_t)json_object_get_string_len(s) + 1);
    return AXON_OK;
}

/* tools and tool_choice, into req. */
static int tool_params(struct rp *p, json_object *body, json_object *req)
{
    json_object *v;
    int rc;
    if ((rc = get(p, body, "tools", W_ARR, 0, &v)))
        return rc;
    if (v && json_object_array_length(v)) {
        json_object *tools = json_object_new_array();
        add(req, "tools", tools);
        size_t old = path_key(p, "tools");
        for (size_t k = 0; k < json_object_array_length(v); k++) {
            path_idx(p, k);
            if ((rc = tool(p, json_object_array_get_idx(v, k), tools)))
                return rc;
            path_pop(p, old);
            path_key(p, "tools");
        }
        path_pop(p, old);
    }
    if (json_object_object_get_ex(body, "tool_choice", &v)) {
        json_object *tc = NULL;
        size_t old = path_key(p, "tool_choice");
        if ((rc = tool_choice(p, v, jsonv_get(req, "tools"), &tc)))
            return rc;
        path_pop(p, old);
        /* Without tools, "auto" and "none" ask nothing (the AI SDK sends
         * them so) and are dropped; "required" cannot be obeyed. The
         * object forms were checked against tools above. */
        bool tools = json_object_object_get_ex(req, "tools", NULL);
        if (!tools && json_object_is_type(tc, json_type_string) &&
            !strcmp(json_object_get_string(tc), "required")) {
            json_object_put(tc);
            path_key(p, "tool_choice");
            return fail(p, "invalid_value",
                        "Invalid value for 'tool_choice': 'required' needs at least one tool "
                        "in 'tools'.");
        }
        if (tools || !json_object_is_type(tc, json_type_string))
            add(req, "tool_choice", tc);
        else
            json_object_put(tc);
    }
    return AXON_OK;
}

/* The parameters that change what is asked of the model, into req. */
static int top_params(struct rp *p, json_object *body, json_object *req)
{
    json_object *v;
    int rc, i = -1;
    static const char *const tiers[] = {"auto", "default", "flex", "scale", "priority", "fast",
                                        "ultrafast", NULL};
    static const char *const truncs[] = {"auto", "disabled", NULL};

    if ((rc = tool_params(p, body, req)))
        return rc;
    if ((rc = int_range(p, body, "max_output_tokens", 16, INT64_MAX, &v)))
        return rc;
    if (v)
        add(req, "max_completion_tokens", json_object_get(v));
    if ((rc = int_range(p, body, "top_logprobs", 0, 20, &v)))
        return rc;
    bool logprobs = (p->meta->include & RESP_INC_LOGPROBS) != 0;
    if (v && json_object_get_int64(v) > 0)
        logprobs = true;
    if (logprobs) {
        add(req, "logprobs", json_object_new_boolean(1));
        if (v)
            add(req, "top_logprobs", json_object_get(v));
    }
    if ((rc = get(p, body, "text", W_OBJ, NUL, &v)))
        return rc;
    if (v) {
        size_t old = path_key(p, "text");
        if ((rc = text_param(p, v, req)))
            return rc;
        path_pop(p, old);
    }
    if ((rc = get(p, body, "reasoning", W_OBJ, NUL, &v)))
        return rc;
    if (v) {
        size_t old = path_key(p, "reasoning");
        if ((rc = reasoning(p, v, req)))
            return rc;
        path_pop(p, old);
    }
    if ((rc = get_enum(p, body, "service_tier", tiers, NUL, &i)))
        return rc;
    if (i >= 0 && i < 6)
        add(req, "service_tier", jstr(tiers[i]));
    else if (i == 6)
        ignored(p, "service_tier");
    /* Axon drops no items to fit the context window: "auto" is named
     * ignored, and an input too long gets the upstream's error, as with
     * "disabled". */
    if ((rc = get_enum(p, body, "truncation", truncs, NUL, &i)))
        return rc;
    if (i == 0)
        ignored(p, "truncation");
    if ((rc = int_range(p, body, "max_tool_calls", 0, INT64_MAX, &v)))
        return rc;
    if (v)
        ignored(p, "max_tool_calls");
    if ((rc = get(p, body, "stream_options", W_OBJ, NUL, &v)))
        return rc;
    if ((rc = get(p, body, "context_management", W_ARR, NUL, &v)))
        return rc;
    if (v)
        ignored(p, "context_management");
    for (size_t k = 0; SHARED[k]; k++)
        copy_if(body, req, SHARED[k]);
    return AXON_OK;
}

/* Where the conversation comes from: previous_response_id, conversation,
 * store, stream, background, prompt. */
static int state_params(struct rp *p, json_object *body, json_object *req)
{
    json_object *v;
    int rc;
    if ((rc = get(p, body, "store", W_BOOL, NUL, &v)))
        return rc;
    p->meta->store = !v || json_object_get_boolean(v);
    if ((rc = get(p, body, "stream", W_BOOL, NUL, &v)))
        return rc;
    p->meta->stream = v && json_object_get_boolean(v);
    if (p->meta->stream)
        add(req, "stream", json_object_new_boolean(1));
    if ((rc = get(p, body, "background", W_BOOL, NUL, &v)))
        return rc;
    if (v && json_object_get_boolean(v))
        return unsupported(p, "background",
                           "Background responses are not supported by Axon: send the request "
                           "without 'background' (or stream it).");
    if (json_object_object_get_ex(body, "prompt", &v) && v)
        return unsupported(p, "prompt",
                           "Stored prompts are not supported by Axon: send the prompt's text in "
                           "'instructions' and 'input'.");
    json_object *prev, *conv;
    if ((rc = get(p, body, "previous_response_id", W_STR, NUL, &prev)))
        return rc;
    if (json_object_object_get_ex(body, "conversation", &conv) && conv) {
        size_t old = path_key(p, "conversation");
        json_object *cid = conv;
        if (json_object_is_type(conv, json_type_object)) {
            static const char *const keys[] = {"id", NULL};
            if ((rc = closed(p, conv, keys)) || (rc = get(p, conv, "id", W_STR, REQ, &cid)))
                return rc;
        } else if (!json_object_is_type(conv, json_type_string)) {
            return bad_type(p, conv, "one of a string or object");
        }
        path_pop(p, old);
        if ((rc = copy_id(p, cid, "conversation", p->meta->conversation,
                          sizeof p->meta->conversation)))
            return rc;
        add(req, "conversation_id", jstr(p->meta->conversation));
    }
    if (prev && p->meta->conversation[0])
        return fail(p, "mutually_exclusive_parameters",
                    "Mutually exclusive parameters: Ensure you are only providing one of: "
                    "'previous_response_id' or 'conversation'.");
    if (prev && copy_id(p, prev, "previous_response_id", p->meta->previous_id,
                        sizeof p->meta->previous_id)) {
        /* No response of Axon's has such an id: not found, as for any other. */
        path_pop(p, 0);
        path_key(p, "previous_response_id");
        return failx(p, 404, "previous_response_not_found",
                     "Previous response with id '%.*s' not found.", str_len(prev),
                     json_object_get_string(prev));
    }
    return AXON_OK;
}

static int parse(struct rp *p, json_object *body, json_object *req)
{
    json_object *model, *instr, *in = NULL, *inc;
    int rc = get(p, body, "model", W_STR, REQ, &model);
    if (rc)
        return rc;
    if ((rc = closed(p, body, TOP)))
        return rc;
    add(req, "model", jsonv_str_dup(model));
    if ((rc = get(p, body, "include", W_ARR, NUL, &inc)))
        return rc;
    if (inc) {
        size_t old = path_key(p, "include");
        if ((rc = include(p, inc)))
            return rc;
        path_pop(p, old);
    }
    if ((rc = state_params(p, body, req)) || (rc = top_params(p, body, req)))
        return rc;
    /* instructions: "When used along with previous_response_id, the
     * instructions from a previous response will not be carried over to
     * the next response" (responses.ts): a system message of this request
     * only, before everything else. */
    if ((rc = get(p, body, "instructions", W_STR, NUL, &instr)))
        return rc;
    if (instr && json_object_get_string_len(instr)) {
        json_object *m = json_object_new_object();
        add(m, "role", jstr("system"));
        add(m, "content", jsonv_str_dup(instr));
        push_msg(p, m, "instructions");
    }
    if (p->meta->previous_id[0] && (rc = previous(p, p->meta->previous_id)))
        return rc;
    asst_close(p); /* a stored turn ends where this request begins */
    if (json_object_object_get_ex(body, "input", &in)) {
        size_t old = path_key(p, "input");
        if (!in)
            rc = bad_type(p, in, "one of a string or array of objects");
        if (!rc)
            rc = input(p, in);
        if (rc)
            return rc;
        path_pop(p, old);
    }
    asst_close(p);
    /* Nothing to answer: no input, nothing stored before it. A stored
     * conversation needs new input too, as chat's conversation_id does
     * (the canonical request has at least one message). */
    if (json_object_array_length(p->msgs) == 0)
        return missing(p, "input");
    return AXON_OK;
}

/* An item that names a stored one: type item_reference, or (its type
 * being optional, ItemReferenceParam) no type, no role and an id. */
static json_object *ref_id(json_object *it)
{
    json_object *t = NULL, *id = NULL;
    if (!json_object_is_type(it, json_type_object) ||
        !json_object_object_get_ex(it, "id", &id) || !json_object_is_type(id, json_type_string))
        return NULL;
    if (json_object_object_get_ex(it, "type", &t) && t)
        return json_object_is_type(t, json_type_string) &&
                       !strcmp(json_object_get_string(t), "item_reference")
                   ? id
                   : NULL;
    return json_object_object_get_ex(it, "role", NULL) ? NULL : id;
}

size_t resp_item_refs(json_object *body, const char **ids, size_t max)
{
    json_object *in = jsonv_get(body, "input");
    size_t n = 0;
    if (!json_object_is_type(in, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        json_object *id = ref_id(json_object_array_get_idx(in, i));
        if (id && n < max)
            ids[n] = json_object_get_string(id);
        n += id != NULL;
    }
    return n;
}

int resp_parse(json_object *body, const struct resp_lookup *lk, json_object **chat_req,
               struct resp_meta *meta, struct api_error *e)
{
    *chat_req = NULL;
    memset(meta, 0, sizeof *meta);
    meta->store = true;
    meta->input_items = json_object_new_array();
    meta->origins = json_object_new_array();
    if (oai_body_object(body, e))
        return AXON_EINVAL;
    struct rp p = {.e = e, .at = {.s = "", .len = 0}, .lk = lk, .meta = meta};
    json_object *req = json_object_new_object();
    p.msgs = json_object_new_array();
    int rc = parse(&p, body, req);
    json_object_put(p.asst);
    json_object_put(p.asst_calls);
    if (rc) {
        json_object_put(p.msgs);
        json_object_put(req);
        return rc;
    }
    add(req, "messages", p.msgs);
    /* The shared parameters are checked here, in chat's words (their
     * paths are the same in both APIs). */
    rc = oai_validate_chat(req, false, e);
    if (rc) {
        json_object_put(req);
        return rc;
    }
    build_echo(body, meta);
    /* metadata is the response's, kept by the store, not the model's. */
    json_object_object_del(req, "metadata");
    *chat_req = req;
    return AXON_OK;
}

/* ---- chat names back into this request's ---- */

static const struct {
    const char *chat, *resp;
} NAMES[] = {
    {"max_completion_tokens", "max_output_tokens"},
    {"max_tokens", "max_output_tokens"},
    {"reasoning_effort", "reasoning.effort"},
    {"response_format", "text.format"},
    {"verbosity", "text.verbosity"},
    {"logprobs", "include"},
    {"thinking", "reasoning"},
    {"conversation_id", "conversation"},
};

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Replaces in s (cap bytes) each occurrence of from that stands alone
 * (no word character either side, and not a member: no "." before) by to;
 * with quoted, only between single quotes ('thinking', not the word in a
 * sentence). What does not fit is cut at a character's end. */
static void replace_word(char *s, size_t cap, const char *from, const char *to, bool quoted)
{
    char out[sizeof(((struct api_error *)0)->message)];
    size_t fl = strlen(from), tl = strlen(to), o = 0;
    if (!fl || cap > sizeof out)
        return;
    for (size_t i = 0; s[i] && o + 1 < cap;) {
        bool alone = !strncmp(s + i, from, fl) &&
                     (i == 0 || (!word_char(s[i - 1]) && s[i - 1] != '.')) &&
                     !word_char(s[i + fl]) &&
                     (!quoted || (i > 0 && s[i - 1] == '\'' && s[i + fl] == '\''));
        const char *src = alone ? to : s + i;
        size_t n = alone ? tl : 1;
        if (o + n >= cap)
            break;
        memcpy(out + o, src, n);
        o += n;
        i += alone ? fl : 1;
    }
    out[o] = '\0';
    text_utf8_trim(out);
    memcpy(s, out, strlen(out) + 1);
}

/* s past "prefix[N]" with *i = N, or NULL when s does not start so. */
static const char *indexed(const char *s, const char *prefix, size_t *i)
{
    size_t pl = strlen(prefix);
    int64_t v = 0;
    if (strncmp(s, prefix, pl) || s[pl] != '[')
        return NULL;
    const char *close = strchr(s + pl + 1, ']');
    if (!close || text_parse_i64_n(s + pl + 1, (size_t)(close - (s + pl + 1)), 0, INT32_MAX, &v))
        return NULL;
    *i = (size_t)v;
    return close + 1;
}

/* The Responses name of the chat param path chat, into out (size bytes). */
static void map_param(const struct resp_meta *meta, const char *chat, char *out, size_t size)
{
    size_t k = 0, j = 0;
    const char *rest = indexed(chat, "messages", &k), *after;
    snprintf(out, size, "%s", chat);
    if (rest) {
        json_object *from = meta->origins ? json_object_array_get_idx(meta->origins, k) : NULL;
        if (json_object_is_type(from, json_type_array)) {
            /* An assistant turn: a tool call is its function_call item. */
            json_object *call = NULL;
            if ((after = indexed(rest, ".tool_calls", &j)))
                call = json_object_array_get_idx(from, j + 1);
            if (call) {
                rest = after;
                if (!strncmp(rest, ".function", 9))
                    rest += 9;
                snprintf(out, size, "%s%s", json_object_get_string(call), rest);
                return;
            }
            from = json_object_array_get_idx(from, 0);
        }
        if (!from)
            return;
        /* A tool message's origin names its content: "input[4].output". */
        const char *origin = json_object_get_string(from);
        size_t ol = strlen(origin);
        bool is_out = ol > 7 && !strcmp(origin + ol - 7, ".output");
        if (!strchr(origin, '[')) /* instructions, or input as a string: the text itself */
            snprintf(out, size, "%s", origin);
        else if (!strncmp(rest, ".content", 8)) {
            /* chat's image_url.url is the item's image_url */
            size_t rl = strlen(rest);
            bool url = rl > 14 && !strcmp(rest + rl - 14, ".image_url.url");
            snprintf(out, size, "%s%.*s", origin, (int)(rl - (is_out ? 8 : 0) - (url ? 4 : 0)),
                     rest + (is_out ? 8 : 0));
        } else
            snprintf(out, size, "%.*s", (int)(is_out ? ol - 7 : ol), origin);
        return;
    }
    if ((after = indexed(chat, "tools", &k)) && !strncmp(after, ".function.", 10)) {
        snprintf(out, size, "tools[%zu].%s", k, after + 10);
        return;
    }
    if (!strncmp(chat, "tool_choice.function.", 21)) {
        snprintf(out, size, "tool_choice.%s", chat + 21);
        return;
    }
    for (size_t n = 0; n < sizeof NAMES / sizeof NAMES[0]; n++) {
        size_t l = strlen(NAMES[n].chat);
        if (!strncmp(chat, NAMES[n].chat, l) && (chat[l] == '\0' || chat[l] == '.')) {
            snprintf(out, size, "%s%s", NAMES[n].resp, chat + l);
            return;
        }
    }
}

void resp_map_error(const struct resp_meta *meta, struct api_error *e)
{
    if (e->param[0]) {
        char param[sizeof e->param];
        map_param(meta, e->param, param, sizeof param);
        if (strcmp(param, e->param)) {
            replace_word(e->message, sizeof e->message, e->param, param, false);
            memcpy(e->param, param, strlen(param) + 1);
        }
    }
    /* A name without "_" is an English word too: only quoted. */
    for (size_t n = 0; n < sizeof NAMES / sizeof NAMES[0]; n++)
        replace_word(e->message, sizeof e->message, NAMES[n].chat, NAMES[n].resp,
                     !strchr(NAMES[n].chat, '_'));
}

void resp_map_names(char *list, size_t cap)
{
    char out[RESP_IGNORED_MAX * 2] = "", word[128];
    for (const char *p = list; *p;) {
        const char *end = strstr(p, ", ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        for (size_t k = 0; k < sizeof NAMES / sizeof NAMES[0]; k++)
            if (!strcmp(word, NAMES[k].chat))
                snprintf(word, sizeof word, "%s", NAMES[k].resp);
        text_list_add(out, sizeof out, word);
        p += n + (end ? 2 : 0);
    }
    snprintf(list, cap, "%s", out);
}

void resp_meta_free(struct resp_meta *meta)
{
    json_object_put(meta->input_items);
    json_object_put(meta->echo);
    json_object_put(meta->origins);
    memset(meta, 0, sizeof *meta);
}
