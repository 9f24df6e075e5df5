/* jsonv.c - an RFC 8259 syntax check in front of json-c (see jsonv.h). */
#include "jsonv.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *p, *end;
    int depth, max_depth;
    int err; /* first error, AXON_OK while fine */
};

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool lit(struct scan *s, const char *word)
{
    for (; *word; word++, s->p++)
        if (s->p >= s->end || *s->p != *word)
            return false;
    return true;
}

static bool digits(struct scan *s)
{
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static bool number(struct scan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!digits(s))
            return false;
    }
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string; key: an object key, which may not hold \u0000, since json-c
 * keeps keys as C strings and would cut it there ({"a\u0000b":1,"a":2}
 * would become {"a":2}). */
static bool string(struct scan *s, bool key)
{
    s->p++; /* opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false; /* raw control characters must be escaped */
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return false;
        char e = *s->p++;
        if (e == 'u') {
            if (key && s->end - s->p >= 4 && !memcmp(s->p, "0000", 4))
                return false;
            for (int i = 0; i < 4; i++, s->p++)
                if (s->p >= s->end || !is_hex(*s->p))
                    return false;
        } else if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
                     e == 'n' || e == 'r' || e == 't')) {
            return false;
        }
    }
    return false;
}

static bool value(struct scan *s);

/* Objects and arrays share one loop: members are "key": value or value.
 * The recursion through value() stops at s->max_depth levels.
 * NOLINTNEXTLINE(misc-no-recursion) */
static bool container(struct scan *s, char close, bool keyed)
{
    if (++s->depth > s->max_depth) {
        s->err = AXON_ETOODEEP;
        return false;
    }
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (keyed) {
            if (s->p >= s->end || *s->p != '"' || !string(s, true))
                return false;
            ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return false;
        }
        if (!value(s))
            return false;
        ws(s);
        if (s->p >= s->end)
            return false;
        char c = *s->p++;
        if (c == close) {
            s->depth--;
            return true;
        }
        if (c != ',')
            return false;
        ws(s);
    }
}

static bool value(struct scan *s) /* NOLINT(misc-no-recursion): see container() */
{
    ws(s);
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '{': return container(s, '}', true);
    case '[': return container(s, ']', false);
    case '"': return string(s, false);
    case 't': return lit(s, "true");
    case 'f': return lit(s, "false");
    case 'n': return lit(s, "null");
    default: return number(s);
    }
}

int jsonv_check(const char *p, size_t n, int max_depth)
{
    struct scan s = {.p = p, .end = p + n, .depth = 0, .max_depth = max_depth, .err = AXON_OK};
    bool ok = value(&s);
    if (ok) {
        ws(&s);
        ok = s.p == s.end;
    }
    if (ok)
        return AXON_OK;
    return s.err ? s.err : AXON_EINVAL;
}

/* Each thread keeps its tokener for the depth most asked (JSONV_MAX_DEPTH)
 * and makes another for any other: json_tokener_new_ex calloc()s the tokener,
 * its stack of max_depth + 1 records and a print buffer, a third of a small
 * body's parse (callgrind), and a stream parses one event per token. */
struct tok_cache {
    struct json_tokener *tok;
    int depth;
};
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_cache_free(void *p)
{
    struct tok_cache *c = p;
    if (c->tok)
        json_tokener_free(c->tok);
    free(c);
}

static void tok_key_make(void)
{
    if (pthread_key_create(&tok_key, tok_cache_free))
        abort(); /* no keys left: a start-up failure, never at run time */
}

/* A reset tokener for max_depth, flags set; borrowed by the calling thread
 * until its next call. */
static struct json_tokener *tokener(int max_depth)
{
    (void)pthread_once(&tok_once, tok_key_make);
    struct tok_cache *c = pthread_getspecific(tok_key);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        (void)pthread_setspecific(tok_key, c);
    }
    if (!c->tok || c->depth != max_depth) {
        if (c->tok)
            json_tokener_free(c->tok); /* not NULL-safe in json-c 0.16 */
        /* json-c's depth counts the top level too: N admits N-1 nested levels. */
        c->tok = json_tokener_new_ex(max_depth + 1);
        if (!c->tok)
            abort(); /* OOM policy: see axon.h */
        c->depth = max_depth;
        json_tokener_set_flags(c->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    }
    return c->tok;
}

/* A tokener's print buffer grows to the longest string it has read and
 * never shrinks: kept after a 15 MiB body, it would hold 15 MiB per worker
 * thread for good (memcap.test.mjs: memory settles back after large
 * requests). So a tokener that read more than this is freed, and the next
 * parse on the thread makes a new one. */
#define JSONV_TOKENER_KEEP_BYTES ((size_t)64 * 1024)

static void tokener_drop(void)
{
    struct tok_cache *c = pthread_getspecific(tok_key);
    if (c && c->tok) {
        json_tokener_free(c->tok);
        c->tok = NULL;
    }
}

int jsonv_parse(const char *p, size_t n, int max_depth, json_object **out)
{
    *out = NULL;
    if (n > (size_t)INT32_MAX)
        return AXON_ETOOBIG;
    int rc = jsonv_check(p, n, max_depth);
    if (rc)
        return rc;
    struct json_tokener *tok = tokener(max_depth);
    json_object *root = json_tokener_parse_ex(tok, p, (int)n);
    bool whole = json_tokener_get_error(tok) == json_tokener_success;
    /* A bare top-level number needs a terminator in json-c; the check above
     * already proved the text valid, so finish the parse with one. */
    if (!root && json_tokener_get_error(tok) == json_tokener_continue) {
        root = json_tokener_parse_ex(tok, " ", 1);
        whole = json_tokener_get_error(tok) == json_tokener_success;
    }
    json_tokener_reset(tok); /* frees what a failed parse left on its stack */
    if (n > JSONV_TOKENER_KEEP_BYTES)
        tokener_drop();
    if (!root || !whole) {
        json_object_put(root);
        return AXON_EINVAL; /* e.g. invalid UTF-8 */
    }
    *out = root;
    return AXON_OK;
}

/* Recursive, as deep as the tree: trees come from jsonv_parse (depth
 * capped) and the translators' few levels on top. NOLINTNEXTLINE(misc-no-recursion) */
int jsonv_write(struct buf *b, json_object *o)
{
    int rc = AXON_OK;
    switch (json_object_get_type(o)) {
    case json_type_string:
        /* buf_json_str escapes as json-c does under JSONV_OUT: the two
         * short forms, \u00XX in lower case for the other controls, and
         * "/" left alone. */
        return buf_json_str(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    case json_type_array: {
        size_t n = json_object_array_length(o);
        rc = buf_append(b, "[", 1);
        for (size_t i = 0; !rc && i < n; i++) {
            if (i)
                rc = buf_append(b, ",", 1);
            if (!rc)
                rc = jsonv_write(b, json_object_array_get_idx(o, i));
        }
        return rc ? rc : buf_append(b, "]", 1);
    }
    case json_type_object: {
        bool first = true;
        rc = buf_append(b, "{", 1);
        json_object_object_foreach(o, k, v) {
            if (rc)
                break;
            if (!first)
                rc = buf_append(b, ",", 1);
            first = false;
            if (!rc)
                rc = buf_json_str(b, k, strlen(k));
            if (!rc)
                rc = buf_append(b, ":", 1);
            if (!rc)
                rc = jsonv_write(b, v);
        }
        return rc ? rc : buf_append(b, "}", 1);
    }
    case json_type_null:
        return buf_append(b, "null", 4);
    case json_type_boolean:
        return json_object_get_boolean(o) ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
    case json_type_int: {
        /* json-c prints an integer as %PRId64 (%PRIu64 for one above
         * INT64_MAX, which get_int64 clamps: left to json-c), through a
         * print buffer it allocates on the object; a Responses object has
         * dozens (callgrind: a third of writing one). */
        int64_t v = json_object_get_int64(o);
        if (v != INT64_MAX)
            return buf_i64(b, v);
    }
    /* fall through */
    default: {
        /* Other numbers: short, and a decimal keeps the text the client
         * wrote (json-c's own printer knows it). */
        size_t n = 0;
        const char *t = json_object_to_json_string_length(o, JSONV_OUT, &n);
        return buf_append(b, t, n);
    }
    }
}

json_object *jsonv_member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *jsonv_member_str(json_object *o, const char *key)
{
    json_object *v = jsonv_member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *jsonv_member_sv(json_object *o, const char *key)
{
    json_object *v = jsonv_member(o, key);
    return v && json_object_is_type(v, json_type_string) ? v : NULL;
}

bool jsonv_str_eq(json_object *a, json_object *b)
{
    if (!a || !b || !json_object_is_type(a, json_type_string) ||
        !json_object_is_type(b, json_type_string))
        return false;
    int n = json_object_get_string_len(a);
    return n == json_object_get_string_len(b) &&
           memcmp(json_object_get_string(a), json_object_get_string(b), (size_t)n) == 0;
}

json_object *jsonv_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return v;
}

const char *jsonv_get_str(json_object *o, const char *key)
{
    json_object *v = jsonv_get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *jsonv_str_dup(json_object *s)
{
    return json_object_new_string_len(json_object_get_string(s), json_object_get_string_len(s));
}

bool jsonv_thinking_blocks_ok(json_object *a)
{
    if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) == 0)
        return false;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *b = json_object_array_get_idx(a, i);
        const char *t = jsonv_member_str(b, "type");
        if (!t)
            return false;
        if (!strcmp(t, "thinking")) {
            if (!jsonv_member_str(b, "thinking") || !jsonv_member_str(b, "signature"))
                return false;
        } else if (strcmp(t, "redacted_thinking") || !jsonv_member_str(b, "data")) {
            return false;
        }
    }
    return true;
}
