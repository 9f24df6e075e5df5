/* oai_validate.c - a CreateChatCompletionRequest checked the way OpenAI
 * checks it (see oai_validate.h).
 *
 * The spec (openai-openapi.yaml) is written down here as tables. An object
 * is a struct shape: a list of fields, each with a checker and the
 * checker's argument (a range, an enum, a nested shape). A union - messages
 * by "role", content parts, tools and formats by "type" - is a struct
 * choice that picks a shape by its discriminator. The walk keeps the JSON
 * path of the value in hand, so an error names it as OpenAI does:
 * messages[1].content[0].image_url.url.
 *
 * Order, as measured against OpenAI: required fields, then unknown
 * top-level fields, then each field in table order (the top level is
 * alphabetical after model and messages), then the rules that tie two
 * fields together. The first error wins.
 *
 * Leniency. The top level is strict, as OpenAI is. Nested objects accept
 * keys the spec does not list, except where the spec closes them
 * (additionalProperties: false: a custom voice, a custom tool's format).
 * The spec leaves the others open and clients do send extras there: `name`
 * on tool messages, `cache_control` on parts (an Anthropic habit),
 * `annotations` and `reasoning_content` on assistant messages echoed back
 * from a response. For the same reason an assistant's `tool_calls` may be
 * null (openai-python's model_dump() of a response message writes it so).
 * Message names and image URLs are not checked beyond their type: the
 * spec gives no pattern or format OpenAI enforces for every model. */
#include "oai_validate.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define ECHO_MAX 120 /* bytes of a client's own text quoted back in a message */

struct vctx {
    struct api_error *e;
    struct oai_path at;
};

typedef int (*check_fn)(struct vctx *v, json_object *o, const void *arg);

#define REQ 1u /* must be present */
#define NUL 2u /* null means unset; without it null is a wrong type */

struct field {
    const char *name;
    check_fn check;
    const void *arg;
    unsigned flags;
};

struct shape {
    const struct field *f;
    size_t n;
    bool closed;                                  /* unknown keys are refused */
    int (*after)(struct vctx *v, json_object *o); /* a rule across fields */
};

#define SHAPE(fields) {(fields), sizeof(fields) / sizeof((fields)[0]), false, NULL}
#define CLOSED(fields) {(fields), sizeof(fields) / sizeof((fields)[0]), true, NULL}

struct choice {
    const char *key;                   /* the discriminator: "role" or "type" */
    const char *const *names;          /* NULL-terminated, in the order errors list them */
    const struct shape *const *shapes; /* one per name */
};

struct arr {
    size_t min, max;
    check_fn item;
    const void *arg;
    const char *what; /* the expected type, in OpenAI's words */
};

struct num {
    double min, max;
};

struct intr {
    int64_t min, max;
};

/* ---- paths, quoting and errors ---- */

static int echo_len(const char *s, size_t n)
{
    return (int)text_utf8_cut(s, n, ECHO_MAX);
}

/* Characters, as OpenAI counts string lengths: UTF-8 lead bytes. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static void path_put(struct oai_path *p, const char *s, size_t n)
{
    n = text_utf8_cut(s, n, sizeof p->s - 1 - p->len);
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

size_t oai_path_key(struct oai_path *p, const char *key)
{
    size_t old = p->len;
    if (p->len)
        path_put(p, ".", 1);
    path_put(p, key, strlen(key));
    return old;
}

size_t oai_path_idx(struct oai_path *p, size_t i)
{
    size_t old = p->len;
    char b[32];
    int n = snprintf(b, sizeof b, "[%zu]", i);
    path_put(p, b, (size_t)n);
    return old;
}

void oai_path_pop(struct oai_path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static size_t path_key(struct vctx *v, const char *key)
{
    return oai_path_key(&v->at, key);
}

static size_t path_idx(struct vctx *v, size_t i)
{
    return oai_path_idx(&v->at, i);
}

static void path_pop(struct vctx *v, size_t old)
{
    oai_path_pop(&v->at, old);
}

int oai_failv(const struct oai_path *p, struct api_error *e, int status, const char *code,
              const char *fmt, va_list ap)
{
    char msg[sizeof e->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    api_error_set(e, status, ERR_INVALID_REQUEST, code, p->s, "%s", msg);
    return AXON_EINVAL;
}

/* Fills the error with the current path as param; code may be NULL. */
static int fail(struct vctx *v, const char *code, const char *fmt, ...) AXON_PRINTF(3, 4);
static int fail(struct vctx *v, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = oai_failv(&v->at, v->e, 400, code, fmt, ap);
    va_end(ap);
    return rc;
}

const char *oai_got(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_int: return "an integer";
    case json_type_double: return "a decimal number";
    case json_type_string: return "a string";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    }
    return "a value";
}

static int oai_fail(const struct oai_path *p, struct api_error *e, const char *code,
                    const char *fmt, ...) AXON_PRINTF(4, 5);
static int oai_fail(const struct oai_path *p, struct api_error *e, const char *code,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = oai_failv(p, e, 400, code, fmt, ap);
    va_end(ap);
    return rc;
}

int oai_bad_type(const struct oai_path *p, struct api_error *e, json_object *o, const char *want)
{
    return oai_fail(p, e, "invalid_type", "Invalid type for '%s': expected %s, but got %s instead.",
                    p->s, want, oai_got(o));
}

int oai_missing(struct oai_path *p, struct api_error *e, const char *key)
{
    oai_path_key(p, key);
    return oai_fail(p, e, "missing_required_parameter", "Missing required parameter: '%s'.",
                    p->s);
}

static int bad_type(struct vctx *v, json_object *o, const char *want)
{
    return oai_bad_type(&v->at, v->e, o, want);
}

static int missing(struct vctx *v, const char *name)
{
    return oai_missing(&v->at, v->e, name);
}

static int too_long(struct vctx *v, const char *s, size_t n, size_t max)
{
    size_t chars = utf8_chars(s, n);
    if (chars <= max)
        return AXON_OK;
    return fail(v, "string_above_max_length",
                "Invalid '%s': string too long. Expected a string with maximum length %zu, "
                "but got a string with length %zu instead.",
                v->at.s, max, chars);
}

void oai_list_names(char *out, size_t size, const char *const *names, const char *conj)
{
    size_t n = 0, len = 0;
    while (names[n])
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        const char *sep = i == 0 ? "" : n == 2 ? " " : ", ";
        bool last = i > 0 && i == n - 1;
        int w = snprintf(out + len, size - len, "%s%s%s'%s'", sep, last ? conj : "",
                         last ? " " : "", names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* The number as the client wrote it. json-c keeps a decimal's source text
 * (json_object_to_json_string caches it in o: the one change this file
 * makes to the request, on the error path only). Integers past 64 bits
 * arrive clamped by json-c, to INT64_MIN or UINT64_MAX. */
static const char *num_text(json_object *o, char *b, size_t size)
{
    if (json_object_is_type(o, json_type_double)) {
        const char *s = json_object_to_json_string(o);
        snprintf(b, size, "%.*s", echo_len(s, strlen(s)), s);
    } else if (json_object_get_int64(o) == INT64_MAX) {
        snprintf(b, size, "%" PRIu64, json_object_get_uint64(o));
    } else {
        snprintf(b, size, "%" PRId64, json_object_get_int64(o));
    }
    return b;
}

/* ---- checkers ---- */

static int chk_any(struct vctx *v, json_object *o, const void *arg)
{
    (void)v;
    (void)o;
    (void)arg;
    return AXON_OK;
}

static int chk_string(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    return json_object_is_type(o, json_type_string) ? AXON_OK : bad_type(v, o, "a string");
}

/* arg: the largest length, a size_t. */
static int chk_string_max(struct vctx *v, json_object *o, const void *arg)
{
    if (!json_object_is_type(o, json_type_string))
        return bad_type(v, o, "a string");
    return too_long(v, json_object_get_string(o), (size_t)json_object_get_string_len(o),
                    *(const size_t *)arg);
}

static int chk_bool(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    return json_object_is_type(o, json_type_boolean) ? AXON_OK : bad_type(v, o, "a boolean");
}

/* Any object: a JSON Schema (parameters, schema) or an allowed tool. */
static int chk_object(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    return json_object_is_type(o, json_type_object) ? AXON_OK : bad_type(v, o, "an object");
}

/* Function and schema names: ^[a-zA-Z0-9_-]{1,64}$. OpenAI reports the
 * character set and the length apart, quoting the pattern without the
 * length; its code for a pattern miss is invalid_value. */
static int chk_name(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (!json_object_is_type(o, json_type_string))
        return bad_type(v, o, "a string");
    const char *s = json_object_get_string(o);
    size_t n = (size_t)json_object_get_string_len(o);
    bool ok = n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    if (!ok)
        return fail(v, "invalid_value",
                    "Invalid '%s': string does not match pattern. Expected a string that "
                    "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    v->at.s);
    return too_long(v, s, n, 64);
}

/* Sets *idx to the position of o's value in names. A non-string is a wrong
 * type listing the values; an unknown string an invalid value. */
static int enum_pick(struct vctx *v, json_object *o, const char *const *names, size_t *idx)
{
    char list[512];
    if (!json_object_is_type(o, json_type_string)) {
        oai_list_names(list, sizeof list, names, "or");
        return fail(v, "invalid_type", "Invalid type for '%s': expected %s%s, but got %s instead.",
                    v->at.s, names[1] ? "one of " : "", list, oai_got(o));
    }
    const char *s = json_object_get_string(o);
    size_t n = (size_t)json_object_get_string_len(o); /* a \u0000 must not end the match */
    for (size_t i = 0; names[i]; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            *idx = i;
            return AXON_OK;
        }
    }
    oai_list_names(list, sizeof list, names, "and");
    return fail(v, "invalid_value", "Invalid value: '%.*s'. Supported values are: %s.",
                echo_len(s, n), s, list);
}

/* arg: the NULL-terminated values. */
static int chk_enum(struct vctx *v, json_object *o, const void *arg)
{
    size_t i;
    return enum_pick(v, o, arg, &i);
}

/* arg: struct num. Integers are decimals too. */
static int chk_num(struct vctx *v, json_object *o, const void *arg)
{
    const struct num *r = arg;
    char b[ECHO_MAX + 1];
    if (!json_object_is_type(o, json_type_int) && !json_object_is_type(o, json_type_double))
        return bad_type(v, o, "a decimal");
    double d = json_object_get_double(o);
    if (d > r->max)
        return fail(v, "decimal_above_max_value",
                    "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got "
                    "%s instead.",
                    v->at.s, r->max, num_text(o, b, sizeof b));
    if (d < r->min)
        return fail(v, "decimal_below_min_value",
                    "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got "
                    "%s instead.",
                    v->at.s, r->min, num_text(o, b, sizeof b));
    return AXON_OK;
}

/* arg: struct intr. Only json_type_int is an integer: json-c gives "2.0"
 * and "1e3" json_type_double, and OpenAI too answers "expected an integer,
 * but got a decimal number" for 1000.0. Downstream code can then read every
 * integer field with json_object_get_int64 and trust it. */
static int chk_int(struct vctx *v, json_object *o, const void *arg)
{
    const struct intr *r = arg;
    char b[ECHO_MAX + 1];
    if (!json_object_is_type(o, json_type_int))
        return bad_type(v, o, "an integer");
    int64_t i = json_object_get_int64(o);
    bool past_int64 = i == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX;
    if (past_int64 || i > r->max)
        return fail(v, "integer_above_max_value",
                    "Invalid '%s': integer above maximum value. Expected a value <= %" PRId64
                    ", but got %s instead.",
                    v->at.s, r->max, num_text(o, b, sizeof b));
    if (i < r->min)
        return fail(v, "integer_below_min_value",
                    "Invalid '%s': integer below minimum value. Expected a value >= %" PRId64
                    ", but got %s instead.",
                    v->at.s, r->min, num_text(o, b, sizeof b));
    return AXON_OK;
}

/* arg: struct arr. Every minimum the spec sets is 1, hence "empty array". */
static int chk_array(struct vctx *v, json_object *o, const void *arg)
{
    const struct arr *a = arg;
    if (!json_object_is_type(o, json_type_array))
        return bad_type(v, o, a->what);
    size_t n = json_object_array_length(o);
    if (n < a->min)
        return fail(v, "empty_array",
                    "Invalid '%s': empty array. Expected an array with minimum length %zu, but "
                    "got an empty array instead.",
                    v->at.s, a->min);
    if (n > a->max)
        return fail(v, "array_above_max_length",
                    "Invalid '%s': array too long. Expected an array with maximum length %zu, "
                    "but got an array with length %zu instead.",
                    v->at.s, a->max, n);
    for (size_t i = 0; i < n; i++) {
        size_t old = path_idx(v, i);
        int rc = a->item(v, json_object_array_get_idx(o, i), a->arg);
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return AXON_OK;
}

static const struct field *find_field(const struct shape *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, key) == 0)
            return &s->f[i];
    return NULL;
}

static int check_required(struct vctx *v, json_object *o, const struct shape *s)
{
    for (size_t i = 0; i < s->n; i++)
        if ((s->f[i].flags & REQ) && !json_object_object_get_ex(o, s->f[i].name, NULL))
            return missing(v, s->f[i].name);
    return AXON_OK;
}

#define EACH_MAX_FIELDS 64 /* a shape with more looks each field up */

/* The fields in the shape's order, which decides the error a request with
 * two gets, but only those the object has: a lookup of each of the chat
 * shape's forty fields cost more than checking the three a request sends
 * (callgrind), so the object's own keys are matched to the shape instead. */
static int check_each(struct vctx *v, json_object *o, const struct shape *s)
{
    json_object *vals[EACH_MAX_FIELDS];
    bool has[EACH_MAX_FIELDS] = {false};
    bool each = s->n <= EACH_MAX_FIELDS;
    if (each) {
        json_object_object_foreach(o, key, val) {
            for (size_t i = 0; i < s->n; i++) {
                if (!strcmp(s->f[i].name, key)) {
                    has[i] = true;
                    vals[i] = val;
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct field *f = &s->f[i];
        json_object *val = NULL;
        if (each) {
            if (!has[i])
                continue;
            val = vals[i];
        } else if (!json_object_object_get_ex(o, f->name, &val)) {
            continue;
        }
        if (!val && (f->flags & NUL))
            continue;
        size_t old = path_key(v, f->name);
        int rc = f->check(v, val, f->arg);
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return s->after ? s->after(v, o) : AXON_OK;
}

/* The fields of an object already known to be one. */
static int check_fields(struct vctx *v, json_object *o, const struct shape *s)
{
    int rc = check_required(v, o, s);
    if (rc)
        return rc;
    if (s->closed) {
        struct json_object_iter it;
        json_object_object_foreachC(o, it)
        {
            if (!find_field(s, it.key)) {
                path_key(v, it.key);
                return fail(v, "unknown_parameter", "Unknown parameter: '%s'.", v->at.s);
            }
        }
    }
    return check_each(v, o, s);
}

/* arg: struct shape. */
static int chk_obj(struct vctx *v, json_object *o, const void *arg)
{
    if (!json_object_is_type(o, json_type_object))
        return bad_type(v, o, "an object");
    return check_fields(v, o, arg);
}

/* arg: struct choice. The discriminator is checked first, then the shape
 * it names. */
static int chk_choice(struct vctx *v, json_object *o, const void *arg)
{
    const struct choice *c = arg;
    json_object *d = NULL;
    size_t i = 0;
    if (!json_object_is_type(o, json_type_object))
        return bad_type(v, o, "an object");
    if (!json_object_object_get_ex(o, c->key, &d))
        return missing(v, c->key);
    size_t old = path_key(v, c->key);
    int rc = enum_pick(v, d, c->names, &i);
    path_pop(v, old);
    return rc ? rc : check_fields(v, o, c->shapes[i]);
}

/* A message's content: a string, or a non-empty array of the parts this
 * role takes (arg: their struct choice). */
static int chk_content(struct vctx *v, json_object *o, const void *arg)
{
    if (json_object_is_type(o, json_type_string))
        return AXON_OK;
    if (!json_object_is_type(o, json_type_array))
        return bad_type(v, o, "one of a string or array of objects");
    const struct arr parts = {1, SIZE_MAX, chk_choice, arg, "an array of objects"};
    return chk_array(v, o, &parts);
}

static int chk_stop(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    static const struct arr stops = {1, 4, chk_string, NULL, "an array of strings"};
    if (json_object_is_type(o, json_type_string))
        return AXON_OK;
    if (!json_object_is_type(o, json_type_array))
        return bad_type(v, o, "one of a string or array of strings");
    return chk_array(v, o, &stops);
}

/* At most 16 pairs, keys up to 64 characters, string values up to 512.
 * Wording and codes as measured; OpenAI shortens a long key to its first
 * and last three characters in the message, not in param. */
static int chk_metadata(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (!json_object_is_type(o, json_type_object))
        return bad_type(v, o, "an object");
    int n = json_object_object_length(o);
    if (n > 16)
        return fail(v, "object_above_max_properties",
                    "Invalid '%s': too many properties. Expected an object with at most 16 "
                    "properties, but got an object with %d properties instead.",
                    v->at.s, n);
    struct json_object_iter it;
    json_object_object_foreachC(o, it)
    {
        size_t klen = strlen(it.key), chars = utf8_chars(it.key, klen);
        if (chars > 64) {
            size_t head = 0, tail = klen;
            for (int k = 0; k < 3; k++) {
                do
                    head++;
                while (((unsigned char)it.key[head] & 0xC0) == 0x80);
                do
                    tail--;
                while (((unsigned char)it.key[tail] & 0xC0) == 0x80);
            }
            char parent[sizeof v->at.s];
            memcpy(parent, v->at.s, v->at.len + 1);
            path_key(v, it.key);
            return fail(v, "property_name_above_max_length",
                        "Invalid property name in '%s': '%.*s...%s' is too long. Expected a "
                        "string with maximum length 64, but got a string with length %zu "
                        "instead.",
                        parent, (int)head, it.key, it.key + tail, chars);
        }
        size_t old = path_key(v, it.key);
        int rc = json_object_is_type(it.val, json_type_string)
                     ? too_long(v, json_object_get_string(it.val),
                                (size_t)json_object_get_string_len(it.val), 512)
                     : bad_type(v, it.val, "a string");
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return AXON_OK;
}

/* Token ids (decimal strings) to integers in -100..100. The key message is
 * OpenAI's; the tokenizer's own upper bound is the upstream's to check. */
static int chk_logit_bias(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    static const struct intr bias = {-100, 100};
    if (!json_object_is_type(o, json_type_object))
        return bad_type(v, o, "an object");
    struct json_object_iter it;
    json_object_object_foreachC(o, it)
    {
        size_t klen = strlen(it.key);
        bool digits = klen > 0;
        for (size_t i = 0; digits && i < klen; i++)
            digits = it.key[i] >= '0' && it.key[i] <= '9';
        if (!digits)
            return fail(v, "invalid_value",
                        "Invalid key in '%s': %.*s. You should only be submitting non-negative "
                        "integers.",
                        v->at.s, echo_len(it.key, klen), it.key);
        size_t old = path_key(v, it.key);
        int rc = chk_int(v, it.val, &bias);
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return AXON_OK;
}

/* ---- the spec, leaves first ---- */

static const struct shape S_EMPTY = {NULL, 0, false, NULL};

/* Content parts. */
static const char *const E_EXPLICIT[] = {"explicit", NULL};
static const struct field F_CACHE_BREAK[] = {{"mode", chk_enum, E_EXPLICIT, REQ}};
static const struct shape S_CACHE_BREAK = SHAPE(F_CACHE_BREAK);
#define CACHE_BREAK {"prompt_cache_breakpoint", chk_obj, &S_CACHE_BREAK, 0}

static const struct field F_TEXT_PART[] = {{"text", chk_string, NULL, REQ}, CACHE_BREAK};
static const struct shape S_TEXT_PART = SHAPE(F_TEXT_PART);

static const char *const E_DETAIL[] = {"auto", "low", "high", NULL};
static const struct field F_IMAGE_URL[] = {
    {"url", chk_string, NULL, REQ},
    {"detail", chk_enum, E_DETAIL, 0},
};
static const struct shape S_IMAGE_URL = SHAPE(F_IMAGE_URL);
static const struct field F_IMAGE_PART[] = {{"image_url", chk_obj, &S_IMAGE_URL, REQ}, CACHE_BREAK};
static const struct shape S_IMAGE_PART = SHAPE(F_IMAGE_PART);

static const char *const E_AUDIO_IN[] = {"wav", "mp3", NULL};
static const struct field F_INPUT_AUDIO[] = {
    {"data", chk_string, NULL, REQ},
    {"format", chk_enum, E_AUDIO_IN, REQ},
};
static const struct shape S_INPUT_AUDIO = SHAPE(F_INPUT_AUDIO);
static const struct field F_AUDIO_PART[] = {{"input_audio", chk_obj, &S_INPUT_AUDIO, REQ},
                                            CACHE_BREAK};
static const struct shape S_AUDIO_PART = SHAPE(F_AUDIO_PART);

/* None of the three is required by the spec. */
static const struct field F_FILE[] = {
    {"filename", chk_string, NULL, 0},
    {"file_data", chk_string, NULL, 0},
    {"file_id", chk_string, NULL, 0},
};
static const struct shape S_FILE = SHAPE(F_FILE);
static const struct field F_FILE_PART[] = {{"file", chk_obj, &S_FILE, REQ}, CACHE_BREAK};
static const struct shape S_FILE_PART = SHAPE(F_FILE_PART);

static const struct field F_REFUSAL_PART[] = {{"refusal", chk_string, NULL, REQ}};
static const struct shape S_REFUSAL_PART = SHAPE(F_REFUSAL_PART);

static const char *const K_TEXT_PART[] = {"text", NULL};
static const struct shape *const SH_TEXT_PART[] = {&S_TEXT_PART};
static const struct choice C_TEXT_PART = {"type", K_TEXT_PART, SH_TEXT_PART};

static const char *const K_USER_PART[] = {"text", "image_url", "input_audio", "file", NULL};
static const struct shape *const SH_USER_PART[] = {&S_TEXT_PART, &S_IMAGE_PART, &S_AUDIO_PART,
                                                   &S_FILE_PART};
static const struct choice C_USER_PART = {"type", K_USER_PART, SH_USER_PART};

static const char *const K_ASSISTANT_PART[] = {"text", "refusal", NULL};
static const struct shape *const SH_ASSISTANT_PART[] = {&S_TEXT_PART, &S_REFUSAL_PART};
static const struct choice C_ASSISTANT_PART = {"type", K_ASSISTANT_PART, SH_ASSISTANT_PART};

/* Tool calls an assistant message made. */
static const struct field F_ID[] = {{"id", chk_string, NULL, REQ}};
static const struct shape S_ID = SHAPE(F_ID);
static const struct field F_CALL_FUNCTION[] = {
    {"name", chk_string, NULL, REQ},
    {"arguments", chk_string, NULL, REQ}, /* JSON text, never an object */
};
static const struct shape S_CALL_FUNCTION = SHAPE(F_CALL_FUNCTION);
static const struct field F_CALL_CUSTOM[] = {
    {"name", chk_string, NULL, REQ},
    {"input", chk_string, NULL, REQ},
};
static const struct shape S_CALL_CUSTOM = SHAPE(F_CALL_CUSTOM);
static const struct field F_FUNCTION_CALL[] = {
    {"id", chk_string, NULL, REQ},
    {"function", chk_obj, &S_CALL_FUNCTION, REQ},
};
static const struct shape S_FUNCTION_CALL = SHAPE(F_FUNCTION_CALL);
static const struct field F_CUSTOM_CALL[] = {
    {"id", chk_string, NULL, REQ},
    {"custom", chk_obj, &S_CALL_CUSTOM, REQ},
};
static const struct shape S_CUSTOM_CALL = SHAPE(F_CUSTOM_CALL);
static const char *const K_TOOL_CALL[] = {"function", "custom", NULL};
static const struct shape *const SH_TOOL_CALL[] = {&S_FUNCTION_CALL, &S_CUSTOM_CALL};
static const struct choice C_TOOL_CALL = {"type", K_TOOL_CALL, SH_TOOL_CALL};
static const struct arr A_TOOL_CALLS = {0, SIZE_MAX, chk_choice, &C_TOOL_CALL,
                                        "an array of objects"};

/* Messages. */
static int assistant_after(struct vctx *v, json_object *o);

static const struct field F_INSTRUCTIONS[] = { /* system and developer */
    {"content", chk_content, &C_TEXT_PART, REQ},
    {"name", chk_string, NULL, 0},
};
static const struct shape S_INSTRUCTIONS = SHAPE(F_INSTRUCTIONS);
static const struct field F_USER[] = {
    {"content", chk_content, &C_USER_PART, REQ},
    {"name", chk_string, NULL, 0},
};
static const struct shape S_USER = SHAPE(F_USER);
static const struct field F_ASSISTANT[] = {
    {"content", chk_content, &C_ASSISTANT_PART, NUL},
    {"refusal", chk_string, NULL, NUL},
    {"name", chk_string, NULL, 0},
    {"audio", chk_obj, &S_ID, NUL},
    {"tool_calls", chk_array, &A_TOOL_CALLS, NUL}, /* null: see the top of the file */
    {"function_call", chk_obj, &S_CALL_FUNCTION, NUL},
};
static const struct shape S_ASSISTANT = {F_ASSISTANT, sizeof F_ASSISTANT / sizeof F_ASSISTANT[0],
                                         false, assistant_after};
static const struct field F_TOOL_MSG[] = {
    {"content", chk_content, &C_TEXT_PART, REQ},
    {"tool_call_id", chk_string, NULL, REQ},
};
static const struct shape S_TOOL_MSG = SHAPE(F_TOOL_MSG);
static const struct field F_FUNCTION_MSG[] = {
    {"content", chk_string, NULL, REQ | NUL}, /* present, but may be null */
    {"name", chk_string, NULL, REQ},
};
static const struct shape S_FUNCTION_MSG = SHAPE(F_FUNCTION_MSG);

/* The order OpenAI lists the roles in. */
static const char *const K_ROLE[] = {"system", "assistant", "user", "function", "tool",
                                     "developer", NULL};
static const struct shape *const SH_ROLE[] = {&S_INSTRUCTIONS, &S_ASSISTANT, &S_USER,
                                              &S_FUNCTION_MSG, &S_TOOL_MSG, &S_INSTRUCTIONS};
static const struct choice C_MESSAGE = {"role", K_ROLE, SH_ROLE};
static const struct arr A_MESSAGES = {1, SIZE_MAX, chk_choice, &C_MESSAGE, "an array of objects"};

/* Tools the model may call. */
static const struct field F_FUNCTION_OBJ[] = {
    {"name", chk_name, NULL, REQ},
    {"description", chk_string, NULL, 0},
    {"parameters", chk_object, NULL, 0},
    {"strict", chk_bool, NULL, NUL},
};
static const struct shape S_FUNCTION_OBJ = SHAPE(F_FUNCTION_OBJ);
static const struct field F_FUNCTION_TOOL[] = {{"function", chk_obj, &S_FUNCTION_OBJ, REQ}};
static const struct shape S_FUNCTION_TOOL = SHAPE(F_FUNCTION_TOOL);

static const char *const E_SYNTAX[] = {"lark", "regex", NULL};
static const struct field F_GRAMMAR[] = {
    {"definition", chk_string, NULL, REQ},
    {"syntax", chk_enum, E_SYNTAX, REQ},
};
static const struct shape S_GRAMMAR = SHAPE(F_GRAMMAR);
static const struct field F_FORMAT_TEXT[] = {{"type", chk_any, NULL, 0}};
static const struct shape S_FORMAT_TEXT = CLOSED(F_FORMAT_TEXT);
static const struct field F_FORMAT_GRAMMAR[] = {
    {"type", chk_any, NULL, 0},
    {"grammar", chk_obj, &S_GRAMMAR, REQ},
};
static const struct shape S_FORMAT_GRAMMAR = CLOSED(F_FORMAT_GRAMMAR);
static const char *const K_FORMAT[] = {"text", "grammar", NULL};
static const struct shape *const SH_FORMAT[] = {&S_FORMAT_TEXT, &S_FORMAT_GRAMMAR};
static const struct choice C_FORMAT = {"type", K_FORMAT, SH_FORMAT};

static const struct field F_CUSTOM_OBJ[] = {
    {"name", chk_string, NULL, REQ},
    {"description", chk_string, NULL, 0},
    {"format", chk_choice, &C_FORMAT, 0},
};
static const struct shape S_CUSTOM_OBJ = SHAPE(F_CUSTOM_OBJ);
static const struct field F_CUSTOM_TOOL[] = {{"custom", chk_obj, &S_CUSTOM_OBJ, REQ}};
static const struct shape S_CUSTOM_TOOL = SHAPE(F_CUSTOM_TOOL);

static const char *const K_TOOL[] = {"function", "custom", NULL};
static const struct shape *const SH_TOOL[] = {&S_FUNCTION_TOOL, &S_CUSTOM_TOOL};
static const struct choice C_TOOL = {"type", K_TOOL, SH_TOOL};
/* The spec sets no maximum; OpenAI answers 128 (measured). */
static const struct arr A_TOOLS = {0, 128, chk_choice, &C_TOOL, "an array of objects"};

static const struct field F_FUNCTION_DEF[] = { /* the deprecated `functions` */
    {"name", chk_name, NULL, REQ},
    {"description", chk_string, NULL, 0},
    {"parameters", chk_object, NULL, 0},
};
static const struct shape S_FUNCTION_DEF = SHAPE(F_FUNCTION_DEF);
static const struct arr A_FUNCTIONS = {1, 128, chk_obj, &S_FUNCTION_DEF, "an array of objects"};

/* tool_choice and function_call. */
static const struct field F_NAME[] = {{"name", chk_string, NULL, REQ}};
static const struct shape S_NAME = SHAPE(F_NAME);
static const struct field F_CHOOSE_FUNCTION[] = {{"function", chk_obj, &S_NAME, REQ}};
static const struct shape S_CHOOSE_FUNCTION = SHAPE(F_CHOOSE_FUNCTION);
static const struct field F_CHOOSE_CUSTOM[] = {{"custom", chk_obj, &S_NAME, REQ}};
static const struct shape S_CHOOSE_CUSTOM = SHAPE(F_CHOOSE_CUSTOM);
static const char *const E_ALLOWED_MODE[] = {"auto", "required", NULL};
static const struct arr A_ANY_OBJECTS = {0, SIZE_MAX, chk_object, NULL, "an array of objects"};
static const struct field F_ALLOWED[] = {
    {"mode", chk_enum, E_ALLOWED_MODE, REQ},
    {"tools", chk_array, &A_ANY_OBJECTS, REQ},
};
static const struct shape S_ALLOWED = SHAPE(F_ALLOWED);
static const struct field F_CHOOSE_ALLOWED[] = {{"allowed_tools", chk_obj, &S_ALLOWED, REQ}};
static const struct shape S_CHOOSE_ALLOWED = SHAPE(F_CHOOSE_ALLOWED);
static const char *const K_TOOL_CHOICE[] = {"function", "custom", "allowed_tools", NULL};
static const struct shape *const SH_TOOL_CHOICE[] = {&S_CHOOSE_FUNCTION, &S_CHOOSE_CUSTOM,
                                                     &S_CHOOSE_ALLOWED};
static const struct choice C_TOOL_CHOICE = {"type", K_TOOL_CHOICE, SH_TOOL_CHOICE};
static const char *const E_TOOL_CHOICE[] = {"none", "auto", "required", NULL};
static const char *const E_FUNCTION_CALL[] = {"none", "auto", NULL};

/* A mode string or an object. OpenAI's wording for the wrong type, with its
 * doubled "one of", is as measured. */
static int chk_tool_choice(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (json_object_is_type(o, json_type_string))
        return chk_enum(v, o, E_TOOL_CHOICE);
    if (json_object_is_type(o, json_type_object))
        return chk_choice(v, o, &C_TOOL_CHOICE);
    return bad_type(v, o, "one of one of 'none', 'auto', or 'required' or object");
}

static int chk_function_call(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (json_object_is_type(o, json_type_string))
        return chk_enum(v, o, E_FUNCTION_CALL);
    if (json_object_is_type(o, json_type_object))
        return check_fields(v, o, &S_NAME);
    return bad_type(v, o, "one of one of 'none' or 'auto' or object");
}

/* response_format; OpenAI lists its types alphabetically. */
static const struct field F_JSON_SCHEMA[] = {
    {"name", chk_name, NULL, REQ},
    {"description", chk_string, NULL, 0},
    {"schema", chk_object, NULL, 0},
    {"strict", chk_bool, NULL, NUL},
};
static const struct shape S_JSON_SCHEMA = SHAPE(F_JSON_SCHEMA);
static const struct field F_FORMAT_JSON_SCHEMA[] = {{"json_schema", chk_obj, &S_JSON_SCHEMA, REQ}};
static const struct shape S_FORMAT_JSON_SCHEMA = SHAPE(F_FORMAT_JSON_SCHEMA);
static const char *const K_RESPONSE_FORMAT[] = {"json_object", "json_schema", "text", NULL};
static const struct shape *const SH_RESPONSE_FORMAT[] = {&S_EMPTY, &S_FORMAT_JSON_SCHEMA,
                                                         &S_EMPTY};
static const struct choice C_RESPONSE_FORMAT = {"type", K_RESPONSE_FORMAT, SH_RESPONSE_FORMAT};

/* prediction */
static const struct field F_PREDICTION[] = {{"content", chk_content, &C_TEXT_PART, REQ}};
static const struct shape S_PREDICTION = SHAPE(F_PREDICTION);
static const char *const K_PREDICTION[] = {"content", NULL};
static const struct shape *const SH_PREDICTION[] = {&S_PREDICTION};
static const struct choice C_PREDICTION = {"type", K_PREDICTION, SH_PREDICTION};

/* audio: a built-in voice name (any string: the list grows) or {id}. */
static const struct shape S_VOICE_ID = CLOSED(F_ID);
static int chk_voice(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (json_object_is_type(o, json_type_string))
        return AXON_OK;
    if (json_object_is_type(o, json_type_object))
        return check_fields(v, o, &S_VOICE_ID);
    return bad_type(v, o, "one of a string or object");
}
static const char *const E_AUDIO_OUT[] = {"wav", "aac", "mp3", "flac", "opus", "pcm16", NULL};
static const struct field F_AUDIO[] = {
    {"voice", chk_voice, NULL, REQ},
    {"format", chk_enum, E_AUDIO_OUT, REQ},
};
static const struct shape S_AUDIO = SHAPE(F_AUDIO);

/* moderation */
static const char *const E_MODERATION_MODE[] = {"score", "block", NULL};
static const struct field F_MODERATION_CONFIG[] = {{"mode", chk_enum, E_MODERATION_MODE, REQ}};
static const struct shape S_MODERATION_CONFIG = SHAPE(F_MODERATION_CONFIG);
static const struct field F_MODERATION_POLICY[] = {
    {"input", chk_obj, &S_MODERATION_CONFIG, NUL},
    {"output", chk_obj, &S_MODERATION_CONFIG, NUL},
};
static const struct shape S_MODERATION_POLICY = SHAPE(F_MODERATION_POLICY);
static const struct field F_MODERATION[] = {
    {"model", chk_string, NULL, REQ},
    {"policy", chk_obj, &S_MODERATION_POLICY, NUL},
};
static const struct shape S_MODERATION = SHAPE(F_MODERATION);

/* web_search_options */
static const struct field F_LOCATION[] = {
    {"country", chk_string, NULL, 0},
    {"region", chk_string, NULL, 0},
    {"city", chk_string, NULL, 0},
    {"timezone", chk_string, NULL, 0},
};
static const struct shape S_LOCATION = SHAPE(F_LOCATION);
static const char *const E_APPROXIMATE[] = {"approximate", NULL};
static const struct field F_USER_LOCATION[] = {
    {"type", chk_enum, E_APPROXIMATE, REQ},
    {"approximate", chk_obj, &S_LOCATION, REQ},
};
static const struct shape S_USER_LOCATION = SHAPE(F_USER_LOCATION);
static const char *const E_LOW_MEDIUM_HIGH[] = {"low", "medium", "high", NULL};
static const struct field F_WEB_SEARCH[] = {
    {"user_location", chk_obj, &S_USER_LOCATION, NUL},
    {"search_context_size", chk_enum, E_LOW_MEDIUM_HIGH, 0},
};
static const struct shape S_WEB_SEARCH = SHAPE(F_WEB_SEARCH);

/* Smaller objects and enums of the top level. */
static const struct field F_STREAM_OPTIONS[] = {
    {"include_usage", chk_bool, NULL, 0},
    {"include_obfuscation", chk_bool, NULL, 0},
};
static const struct shape S_STREAM_OPTIONS = SHAPE(F_STREAM_OPTIONS);
static const char *const E_TTL[] = {"30m", NULL};
static const char *const E_CACHE_MODE[] = {"implicit", "explicit", NULL};
static const struct field F_PROMPT_CACHE[] = {
    {"ttl", chk_enum, E_TTL, 0},
    {"mode", chk_enum, E_CACHE_MODE, 0},
};
static const struct shape S_PROMPT_CACHE = SHAPE(F_PROMPT_CACHE);
static const char *const E_RETENTION[] = {"in_memory", "24h", NULL};
static const char *const E_EFFORT[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max",
                                       NULL};
static const char *const E_TIER[] = {"auto", "default", "fast", "flex", "priority", "scale", NULL};
static const char *const E_MODALITY[] = {"text", "audio", NULL};
static const struct arr A_MODALITIES = {0, SIZE_MAX, chk_enum, E_MODALITY, "an array of strings"};

/* Axon's thinking: a switch, or Claude's own object. Unknown keys pass, so
 * that Claude's later additions (such as `display`) reach it. */
static const struct intr R_BUDGET = {1024, INT64_MAX};
static const struct field F_THINKING_ENABLED[] = {{"budget_tokens", chk_int, &R_BUDGET, 0}};
static const struct shape S_THINKING_ENABLED = SHAPE(F_THINKING_ENABLED);
static const char *const K_THINKING[] = {"enabled", "disabled", "adaptive", NULL};
static const struct shape *const SH_THINKING[] = {&S_THINKING_ENABLED, &S_EMPTY, &S_EMPTY};
static const struct choice C_THINKING = {"type", K_THINKING, SH_THINKING};
static int chk_thinking(struct vctx *v, json_object *o, const void *arg)
{
    (void)arg;
    if (json_object_is_type(o, json_type_boolean))
        return AXON_OK;
    if (json_object_is_type(o, json_type_object))
        return chk_choice(v, o, &C_THINKING);
    return bad_type(v, o, "one of a boolean or object");
}

static const struct num R_TEMPERATURE = {0, 2};
static const struct num R_TOP_P = {0, 1};
static const struct num R_PENALTY = {-2, 2};
static const struct intr R_N = {1, 128};
static const struct intr R_TOKENS = {1, INT64_MAX};
static const struct intr R_SEED = {INT64_MIN, INT64_MAX};
static const struct intr R_TOP_K = {0, INT64_MAX};
static const struct intr R_TOP_LOGPROBS = {0, 20};
static const size_t L_SAFETY_ID = 64;

static int top_after(struct vctx *v, json_object *req);

/* CreateChatCompletionRequest: ModelResponseProperties,
 * CreateModelResponseProperties and its own properties, 37 in all, plus
 * Axon's three. Not nullable in the spec, so null is a wrong type:
 * function_call, functions, parallel_tool_calls, prompt_cache_options,
 * response_format, tool_choice, tools, user, web_search_options. */
static const struct field F_TOP[] = {
    {"model", chk_string, NULL, REQ},
    {"messages", chk_array, &A_MESSAGES, REQ},
    {"audio", chk_obj, &S_AUDIO, NUL},
    {"conversation_id", chk_string, NULL, NUL}, /* Axon */
    {"frequency_penalty", chk_num, &R_PENALTY, NUL},
    {"function_call", chk_function_call, NULL, 0},
    {"functions", chk_array, &A_FUNCTIONS, 0},
    {"logit_bias", chk_logit_bias, NULL, NUL},
    {"logprobs", chk_bool, NULL, NUL},
    {"max_completion_tokens", chk_int, &R_TOKENS, NUL},
    {"max_tokens", chk_int, &R_TOKENS, NUL},
    {"metadata", chk_metadata, NULL, NUL},
    {"modalities", chk_array, &A_MODALITIES, NUL},
    {"moderation", chk_obj, &S_MODERATION, NUL},
    {"n", chk_int, &R_N, NUL},
    {"parallel_tool_calls", chk_bool, NULL, 0},
    {"prediction", chk_choice, &C_PREDICTION, NUL},
    {"presence_penalty", chk_num, &R_PENALTY, NUL},
    {"prompt_cache_key", chk_string, NULL, NUL},
    {"prompt_cache_options", chk_obj, &S_PROMPT_CACHE, 0},
    {"prompt_cache_retention", chk_enum, E_RETENTION, NUL},
    {"reasoning_effort", chk_enum, E_EFFORT, NUL},
    {"response_format", chk_choice, &C_RESPONSE_FORMAT, 0},
    {"safety_identifier", chk_string_max, &L_SAFETY_ID, NUL},
    {"seed", chk_int, &R_SEED, NUL},
    {"service_tier", chk_enum, E_TIER, NUL},
    {"stop", chk_stop, NULL, NUL},
    {"store", chk_bool, NULL, NUL},
    {"stream", chk_bool, NULL, NUL},
    {"stream_options", chk_obj, &S_STREAM_OPTIONS, NUL},
    {"temperature", chk_num, &R_TEMPERATURE, NUL},
    {"thinking", chk_thinking, NULL, NUL}, /* Axon */
    {"tool_choice", chk_tool_choice, NULL, 0},
    {"tools", chk_array, &A_TOOLS, 0},
    {"top_k", chk_int, &R_TOP_K, NUL}, /* Axon */
    {"top_logprobs", chk_int, &R_TOP_LOGPROBS, NUL},
    {"top_p", chk_num, &R_TOP_P, NUL},
    {"user", chk_string, NULL, 0},
    {"verbosity", chk_enum, E_LOW_MEDIUM_HIGH, NUL},
    {"web_search_options", chk_obj, &S_WEB_SEARCH, 0},
};
static const struct shape S_TOP = {F_TOP, sizeof F_TOP / sizeof F_TOP[0], false, top_after};

/* ---- rules across fields ---- */

static bool is_set(json_object *o, const char *key)
{
    json_object *val = NULL;
    return json_object_object_get_ex(o, key, &val) && val;
}

static bool is_true(json_object *o, const char *key)
{
    json_object *val = NULL;
    return json_object_object_get_ex(o, key, &val) &&
           json_object_is_type(val, json_type_boolean) && json_object_get_boolean(val);
}

/* "Required unless tool_calls or function_call is specified": an empty
 * tool_calls calls nothing, so it does not excuse a missing content. */
static int assistant_after(struct vctx *v, json_object *o)
{
    json_object *calls = NULL;
    if (is_set(o, "content") || is_set(o, "function_call"))
        return AXON_OK;
    if (json_object_object_get_ex(o, "tool_calls", &calls) && calls &&
        json_object_array_length(calls) > 0)
        return AXON_OK;
    return missing(v, "content");
}

static int top_after(struct vctx *v, json_object *req)
{
    if (is_set(req, "stream_options") && !is_true(req, "stream")) {
        path_key(v, "stream_options");
        return fail(v, "invalid_value",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    }
    /* OpenAI gives this one no code (measured). */
    if (is_set(req, "top_logprobs") && !is_true(req, "logprobs")) {
        path_key(v, "top_logprobs");
        return fail(v, NULL,
                    "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.");
    }
    /* The deprecated pair and its successor do not mix: Axon carries
     * functions on tools (oai_legacy.h), and one answer cannot be in both
     * shapes. OpenAI's words for function_call alone, code null, as quoted
     * in Azure-Samples/azure-search-openai-demo#1175; and its words for
     * tool_choice without tools (writer/writer-framework#1013). No public
     * source quotes OpenAI on functions with tools: that message is Axon's. */
    if (is_set(req, "function_call") && !is_set(req, "functions")) {
        path_key(v, "function_call");
        return fail(v, NULL, "Invalid value for 'function_call': 'function_call' is only allowed "
                             "when 'functions' are specified.");
    }
    if (is_set(req, "functions") && is_set(req, "tools")) {
        path_key(v, "functions");
        return fail(v, NULL, "Invalid value for 'functions': 'functions' and 'tools' cannot both "
                             "be specified. 'functions' is deprecated: send every function as a "
                             "tool, and use 'tool_choice' instead of 'function_call'.");
    }
    if (is_set(req, "functions") && is_set(req, "tool_choice")) {
        path_key(v, "tool_choice");
        return fail(v, NULL, "Invalid value for 'tool_choice': 'tool_choice' is only allowed "
                             "when 'tools' are specified.");
    }
    /* "Required when audio output is requested with modalities: [audio]". */
    json_object *mods = NULL;
    if (json_object_object_get_ex(req, "modalities", &mods) && mods && !is_set(req, "audio")) {
        for (size_t i = 0; i < json_object_array_length(mods); i++)
            if (strcmp(json_object_get_string(json_object_array_get_idx(mods, i)), "audio") == 0)
                return missing(v, "audio");
    }
    return AXON_OK;
}

int oai_validate_chat(json_object *req, bool allow_unknown, struct api_error *e)
{
    struct vctx v = {.e = e, .at = {.s = "", .len = 0}};
    int rc = oai_body_object(req, e);
    if (rc)
        return rc;
    rc = check_required(&v, req, &S_TOP);
    if (rc)
        return rc;
    if (!allow_unknown) {
        /* OpenAI's older words for the top level: no param, no code. */
        struct json_object_iter it;
        json_object_object_foreachC(req, it)
        {
            if (!find_field(&S_TOP, it.key)) {
                api_error_set(e, 400, ERR_INVALID_REQUEST, NULL, NULL,
                              "Unrecognized request argument supplied: %.*s",
                              echo_len(it.key, strlen(it.key)), it.key);
                return AXON_EINVAL;
            }
        }
    }
    return check_each(&v, req, &S_TOP);
}

/* ---- CreateEmbeddingRequest and CreateCompletionRequest ---- */

/* What OpenAI answers for an input it cannot read: an empty string, an
 * empty inner token array, or an array mixing strings and tokens. Its
 * words, param and code as seen by its clients (e.g. "'$.input' is
 * invalid. Please check the API reference: ..." for an empty string, in
 * the Azure and OpenAI reports the code search finds); the JSON path
 * names the field. */
static int bad_input(struct vctx *v, const char *field)
{
    api_error_set(v->e, 400, ERR_INVALID_REQUEST, NULL, NULL,
                  "'$.%s' is invalid. Please check the API reference: "
                  "https://platform.openai.com/docs/api-reference.",
                  field);
    return AXON_EINVAL;
}

static const struct intr R_TOKEN = {0, INT64_MAX};

/* One of the four shapes the spec gives `input` and `prompt` (oneOf):
 * a string, an array of strings, an array of token ids, an array of token
 * arrays; each array at most max items (0: no maximum) and at least one,
 * every inner array at least one. An embedding's strings must not be
 * empty (OpenAI refuses them); a prompt's may be. arg: the field name,
 * "input" or "prompt". */
static int chk_text_or_tokens(struct vctx *v, json_object *o, const void *arg)
{
    const char *field = arg;
    bool embed = strcmp(field, "input") == 0;
    size_t max = embed ? 2048 : SIZE_MAX;
    if (json_object_is_type(o, json_type_string))
        return embed && json_object_get_string_len(o) == 0 ? bad_input(v, field) : AXON_OK;
    if (!json_object_is_type(o, json_type_array))
        return bad_type(v, o, "one of a string or array of strings or array of integers or "
                              "array of arrays of integers");
    const struct arr outer = {1, max, chk_any, NULL, "an array"};
    int rc = chk_array(v, o, &outer);
    if (rc)
        return rc;
    json_type kind = json_object_get_type(json_object_array_get_idx(o, 0));
    for (size_t i = 0; i < json_object_array_length(o); i++) {
        json_object *it = json_object_array_get_idx(o, i);
        if (json_object_get_type(it) != kind)
            return bad_input(v, field); /* mixed shapes */
        size_t old = path_idx(v, i);
        if (kind == json_type_string)
            rc = embed && json_object_get_string_len(it) == 0 ? bad_input(v, field) : AXON_OK;
        else if (kind == json_type_int)
            rc = chk_int(v, it, &R_TOKEN);
        else if (kind == json_type_array) {
            static const struct arr tokens = {1, SIZE_MAX, chk_int, &R_TOKEN,
                                              "an array of integers"};
            rc = chk_array(v, it, &tokens);
        } else
            rc = bad_type(v, it, "one of a string, an integer or an array of integers");
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return AXON_OK;
}

static const char *const E_ENCODING[] = {"float", "base64", NULL};
static const struct intr R_DIMENSIONS = {1, INT64_MAX};

/* CreateEmbeddingRequest (additionalProperties: false in the spec: the
 * top level is closed unless the upstream takes extensions). None of its
 * fields is nullable. */
static const struct field F_EMBED[] = {
    {"model", chk_string, NULL, REQ},
    {"input", chk_text_or_tokens, "input", REQ},
    {"dimensions", chk_int, &R_DIMENSIONS, 0},
    {"encoding_format", chk_enum, E_ENCODING, 0},
    {"user", chk_string, NULL, 0},
};
static const struct shape S_EMBED = SHAPE(F_EMBED);

static const struct intr R_BEST_OF = {0, 20};
static const struct intr R_LOGPROBS = {0, 5};
static const struct intr R_MAX_TOKENS = {0, INT64_MAX};

static int completion_after(struct vctx *v, json_object *req);

/* CreateCompletionRequest, alphabetical after model and prompt. */
static const struct field F_COMPLETION[] = {
    {"model", chk_string, NULL, REQ},
    {"prompt", chk_text_or_tokens, "prompt", REQ | NUL},
    {"best_of", chk_int, &R_BEST_OF, NUL},
    {"echo", chk_bool, NULL, NUL},
    {"frequency_penalty", chk_num, &R_PENALTY, NUL},
    {"logit_bias", chk_logit_bias, NULL, NUL},
    {"logprobs", chk_int, &R_LOGPROBS, NUL},
    {"max_tokens", chk_int, &R_MAX_TOKENS, NUL},
    {"n", chk_int, &R_N, NUL},
    {"presence_penalty", chk_num, &R_PENALTY, NUL},
    {"seed", chk_int, &R_SEED, NUL},
    {"stop", chk_stop, NULL, NUL},
    {"stream", chk_bool, NULL, NUL},
    {"stream_options", chk_obj, &S_STREAM_OPTIONS, NUL},
    {"suffix", chk_string, NULL, NUL},
    {"temperature", chk_num, &R_TEMPERATURE, NUL},
    {"top_p", chk_num, &R_TOP_P, NUL},
    {"user", chk_string, NULL, 0},
};
static const struct shape S_COMPLETION = {F_COMPLETION, sizeof F_COMPLETION / sizeof F_COMPLETION[0],
                                          false, completion_after};

/* The spec: best_of "must be greater than n" (equal is what OpenAI takes:
 * both default to 1), and its results "cannot be streamed". Wording Axon's;
 * the stream_options rule is chat's, worded as OpenAI words it there. */
static int completion_after(struct vctx *v, json_object *req)
{
    if (is_set(req, "stream_options") && !is_true(req, "stream")) {
        path_key(v, "stream_options");
        return fail(v, "invalid_value",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    }
    json_object *bo = NULL, *nv = NULL;
    if (json_object_object_get_ex(req, "best_of", &bo) && bo) {
        int64_t n = json_object_object_get_ex(req, "n", &nv) && nv ? json_object_get_int64(nv) : 1;
        if (json_object_get_int64(bo) < n) {
            path_key(v, "best_of");
            return fail(v, "invalid_value",
                        "Invalid value for 'best_of': it must be at least 'n' (%" PRId64 ").", n);
        }
        if (json_object_get_int64(bo) > 1 && is_true(req, "stream")) {
            path_key(v, "best_of");
            return fail(v, "invalid_value",
                        "Invalid value for 'best_of': results cannot be streamed when 'best_of' "
                        "is above 1.");
        }
    }
    return AXON_OK;
}

/* The top level of one of these requests: required, unknown, then each. */
static int validate_top(json_object *req, const struct shape *s, bool allow_unknown,
                        struct api_error *e)
{
    struct vctx v = {.e = e, .at = {.s = "", .len = 0}};
    int rc = oai_body_object(req, e);
    if (rc)
        return rc;
    rc = check_required(&v, req, s);
    if (rc)
        return rc;
    if (!allow_unknown) {
        struct json_object_iter it;
        json_object_object_foreachC(req, it)
        {
            if (!find_field(s, it.key)) {
                api_error_set(e, 400, ERR_INVALID_REQUEST, NULL, NULL,
                              "Unrecognized request argument supplied: %.*s",
                              echo_len(it.key, strlen(it.key)), it.key);
                return AXON_EINVAL;
            }
        }
    }
    return check_each(&v, req, s);
}

int oai_validate_embedding(json_object *req, bool allow_unknown, struct api_error *e)
{
    return validate_top(req, &S_EMBED, allow_unknown, e);
}

int oai_validate_completion(json_object *req, bool allow_unknown, struct api_error *e)
{
    return validate_top(req, &S_COMPLETION, allow_unknown, e);
}

int oai_body_object(json_object *body, struct api_error *e)
{
    if (json_object_is_type(body, json_type_object))
        return AXON_OK;
    api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_type", NULL,
                  "Invalid type for the request body: expected an object, but got %s instead.",
                  oai_got(body));
    return AXON_EINVAL;
}
