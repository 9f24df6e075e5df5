/* claude_schema.c - JSON Schemas rewritten into what Claude takes, and the
 * answer checked against the original. See claude_schema.h for the rules;
 * the reference is the Anthropic SDK's src/lib/transform-json-schema.ts. */
#include "claude_schema.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "jsonv.h"
#include "text.h"

/* The member, or NULL when absent or JSON null. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* v's text when v is a string without a \u0000, else NULL: a keyword's
 * value ("string\u0000x", a $ref) is compared whole, never by its head. */
static const char *whole_str(json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* type is "name" or an array holding "name" (["string","null"], which
 * OpenAI's strict mode recommends for optional fields). */
static bool type_has(json_object *type, const char *name)
{
    if (json_object_is_type(type, json_type_string))
        return whole_str(type) && !strcmp(whole_str(type), name);
    if (!json_object_is_type(type, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(type); i++) {
        json_object *t = json_object_array_get_idx(type, i);
        if (whole_str(t) && !strcmp(whole_str(t), name))
            return true;
    }
    return false;
}

/* ---- the rewrite ------------------------------------------------------------ */

/* The string formats Claude takes (the SDK's SUPPORTED_STRING_FORMATS);
 * any other format moves into the description. */
static const char *const FORMATS[] = {"date-time", "time",     "date", "duration", "email",
                                      "hostname",  "uri",      "ipv4", "ipv6",     "uuid",
                                      NULL};

/* Keywords dropped without a word: they say nothing to the model, and
 * Claude refuses $schema (the translator has always removed it). The SDK
 * would move them into the description. */
static const char *const SILENT[] = {"$schema", "$id", "$comment", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

#define CS_MAX_USED 16

struct rw {
    int nodes;
    int rc;
    struct cs_info *info;
};

/* The keywords of one node already carried over. */
struct used {
    const char *k[CS_MAX_USED];
    int n;
};

static void use(struct used *u, const char *k)
{
    if (u->n < CS_MAX_USED)
        u->k[u->n++] = k;
}

static bool was_used(const struct used *u, const char *k)
{
    for (int i = 0; i < u->n; i++)
        if (!strcmp(u->k[i], k))
            return true;
    return false;
}

static bool over_caps(struct rw *w, int depth)
{
    if (w->rc)
        return true;
    if (depth > CS_MAX_DEPTH) {
        w->rc = AXON_ETOODEEP;
        snprintf(w->info->err, sizeof w->info->err, "nests schemas more than %d deep",
                 CS_MAX_DEPTH);
        return true;
    }
    if (++w->nodes > CS_MAX_NODES) {
        w->rc = AXON_ETOOBIG;
        snprintf(w->info->err, sizeof w->info->err, "holds more than %d schemas", CS_MAX_NODES);
        return true;
    }
    return false;
}

static json_object *rw_node(struct rw *w, json_object *s, int depth);

/* A map of names to schemas (properties, $defs): names kept, values rewritten.
 * NOLINTNEXTLINE(misc-no-recursion): bounded by CS_MAX_DEPTH */
static json_object *rw_map(struct rw *w, json_object *m, int depth)
{
    json_object *o = json_object_new_object();
    if (json_object_is_type(m, json_type_object)) {
        json_object_object_foreach(m, k, v) {
            json_object_object_add(o, k, rw_node(w, v, depth + 1));
        }
    }
    return o;
}

/* A list of schemas (anyOf, allOf). NOLINTNEXTLINE(misc-no-recursion) */
static json_object *rw_list(struct rw *w, json_object *a, int depth)
{
    json_object *o = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(a); i++)
        json_object_array_add(o, rw_node(w, json_object_array_get_idx(a, i), depth + 1));
    return o;
}

/* Copies member k of s into o unchanged, and marks it used. */
static void carry(json_object *o, json_object *s, const char *k, struct used *u)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(s, k, &v)) {
        json_object_object_add(o, k, json_object_get(v));
        use(u, k);
    }
}

struct moved {
    char p[CS_MAX_MOVED + 8];
    size_t len;
    bool cut;
};

static void moved_add(struct moved *m, const char *s, size_t n)
{
    if (m->cut)
        return;
    size_t room = CS_MAX_MOVED - m->len;
    if (n > room) {
        n = room;
        m->cut = true;
    }
    memcpy(m->p + m->len, s, n);
    m->len += n;
    m->p[m->len] = '\0';
}

/* What Claude does not take, as the SDK writes it into the description:
 * "{minimum: 1, maximum: 10}" after the client's own text and a blank line. */
static void move_rest(struct rw *w, json_object *s, json_object *o, const struct used *u)
{
    struct moved m = {.len = 0, .cut = false};
    m.p[0] = '\0';
    int n = 0;
    json_object_object_foreach(s, k, v) {
        if (was_used(u, k) || in_list(SILENT, k))
            continue;
        moved_add(&m, n ? ", " : "{", n ? 2 : 1);
        moved_add(&m, k, strlen(k));
        moved_add(&m, ": ", 2);
        const char *js = v ? json_object_to_json_string_ext(v, JSONV_OUT) : "null";
        moved_add(&m, js, strlen(js));
        n++;
    }
    if (!n)
        return;
    w->info->moved += n;
    if (m.cut)
        text_utf8_trim(m.p); /* a cut mid-character would not be valid JSON */
    m.len = strlen(m.p);
    if (m.cut) {
        memcpy(m.p + m.len, "...", 3);
        m.len += 3;
    }
    m.p[m.len++] = '}';
    m.p[m.len] = '\0';
    json_object *d = member(s, "description");
    struct buf b = BUF_INIT(CS_MAX_MOVED + (1u << 20));
    int rc = AXON_OK;
    if (json_object_is_type(d, json_type_string) && json_object_get_string_len(d) > 0) {
        rc = buf_append(&b, json_object_get_string(d), (size_t)json_object_get_string_len(d));
        if (!rc)
            rc = buf_puts(&b, "\n\n");
    }
    if (!rc)
        rc = buf_append(&b, m.p, m.len);
    if (rc) { /* a description past a MiB: the client's own text is cut */
        w->rc = AXON_ETOOBIG;
        snprintf(w->info->err, sizeof w->info->err, "has a description longer than %u bytes",
                 1u << 20);
    } else {
        json_object_object_add(o, "description", json_object_new_string_len(b.p, (int)b.len));
    }
    buf_free(&b);
}

/* Claude's subset, node by node. NOLINTNEXTLINE(misc-no-recursion) */
static json_object *rw_strict(struct rw *w, json_object *s, int depth)
{
    json_object *o = json_object_new_object();
    struct used u = {.n = 0};
    json_object *ref = member(s, "$ref");
    if (ref) { /* the SDK keeps $ref alone: siblings of a $ref are dropped */
        json_object_object_add(o, "$ref", json_object_get(ref));
        return o;
    }
    /* definitions (pydantic v1, zod-to-json-schema) is kept beside $defs:
     * moved into the text, the refs into it would not resolve. */
    static const char *const DEFS[] = {"$defs", "definitions"};
    for (size_t i = 0; i < sizeof DEFS / sizeof *DEFS; i++) {
        json_object *defs = member(s, DEFS[i]);
        if (json_object_is_type(defs, json_type_object)) {
            json_object_object_add(o, DEFS[i], rw_map(w, defs, depth));
            use(&u, DEFS[i]);
        }
    }
    json_object *type = member(s, "type");
    json_object *any = member(s, "anyOf"), *one = member(s, "oneOf"), *all = member(s, "allOf");
    if (json_object_is_type(any, json_type_array)) {
        json_object_object_add(o, "anyOf", rw_list(w, any, depth));
        use(&u, "anyOf");
    } else if (json_object_is_type(one, json_type_array)) {
        /* oneOf → anyOf: constrained decoding produces one branch anyway */
        json_object_object_add(o, "anyOf", rw_list(w, one, depth));
        use(&u, "oneOf");
    } else if (json_object_is_type(all, json_type_array)) {
        json_object_object_add(o, "allOf", rw_list(w, all, depth));
        use(&u, "allOf");
    }
    bool combined = was_used(&u, "anyOf") || was_used(&u, "oneOf") || was_used(&u, "allOf");
    use(&u, "type"); /* beside a combinator the SDK drops it: so does Axon */
    if (type && !combined) {
        json_object_object_add(o, "type", json_object_get(type));
    } else if (!type && !combined && member(s, "properties")) {
        /* properties apply to objects only: an untyped node with them is
         * one (the SDK would throw here) */
        type = json_object_new_string("object");
        json_object_object_add(o, "type", type);
    }
    use(&u, "description"); /* written below, with what moved into it */
    json_object *desc = member(s, "description");
    if (desc)
        json_object_object_add(o, "description", json_object_get(desc));
    carry(o, s, "title", &u);
    carry(o, s, "const", &u);
    carry(o, s, "enum", &u);
    if (type_has(type, "object")) {
        json_object_object_add(o, "properties", rw_map(w, member(s, "properties"), depth));
        use(&u, "properties");
        /* Claude's rule: "For 'object' type, 'additionalProperties' must be
         * explicitly set to false"; a map (additionalProperties: {schema})
         * has no equivalent and is closed as the SDK closes it. */
        json_object_object_add(o, "additionalProperties", json_object_new_boolean(0));
        use(&u, "additionalProperties");
        carry(o, s, "required", &u);
    }
    if (type_has(type, "string")) {
        json_object *f = member(s, "format");
        if (whole_str(f) && in_list(FORMATS, whole_str(f)))
            carry(o, s, "format", &u);
    }
    if (type_has(type, "array")) {
        json_object *items = member(s, "items");
        if (json_object_is_type(items, json_type_object)) {
            json_object_object_add(o, "items", rw_node(w, items, depth + 1));
            use(&u, "items");
        }
        json_object *mi = member(s, "minItems");
        if (json_object_is_type(mi, json_type_int) &&
            (json_object_get_int64(mi) == 0 || json_object_get_int64(mi) == 1))
            carry(o, s, "minItems", &u); /* "values other than 0 or 1 are not supported" */
    }
    move_rest(w, s, o, &u);
    return o;
}

/* A deep copy less $schema and $id, which Claude refuses in a plain tool's
 * input_schema; under properties, $defs ... the keys are names, kept.
 * NOLINTNEXTLINE(misc-no-recursion) */
static json_object *rw_plain(struct rw *w, json_object *s, bool names, int depth)
{
    if (json_object_is_type(s, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(s); i++)
            json_object_array_add(a, rw_plain(w, json_object_array_get_idx(s, i), false, depth + 1));
        return a;
    }
    if (!json_object_is_type(s, json_type_object))
        return json_object_get(s);
    if (over_caps(w, depth))
        return json_object_new_object();
    json_object *o = json_object_new_object();
    json_object_object_foreach(s, k, v) {
        if (!names && (!strcmp(k, "$schema") || !strcmp(k, "$id")))
            continue;
        bool sub = !names && (!strcmp(k, "properties") || !strcmp(k, "$defs") ||
                              !strcmp(k, "definitions") || !strcmp(k, "patternProperties"));
        json_object_object_add(o, k, rw_plain(w, v, sub, depth + 1));
    }
    return o;
}

/* NOLINTNEXTLINE(misc-no-recursion) */
static json_object *rw_node(struct rw *w, json_object *s, int depth)
{
    if (!json_object_is_type(s, json_type_object))
        return json_object_get(s); /* true / false schemas */
    if (over_caps(w, depth))
        return json_object_new_object();
    return rw_strict(w, s, depth);
}

int claude_schema_rewrite(json_object *s, enum cs_mode mode, json_object **out,
                          struct cs_info *info)
{
    struct rw w = {.nodes = 0, .rc = AXON_OK, .info = info};
    info->moved = 0;
    info->err[0] = '\0';
    json_object *o = mode == CS_PLAIN ? rw_plain(&w, s, false, 0) : rw_node(&w, s, 0);
    if (w.rc) {
        json_object_put(o);
        *out = NULL;
        return w.rc;
    }
    *out = o;
    return AXON_OK;
}

/* ---- the answer check --------------------------------------------------------- */

struct chk {
    json_object *root;  /* the client's schema, for $ref */
    long steps;
    bool gave_up;       /* past a cap: what is left passes */
    int quiet;          /* inside an anyOf branch: failures are not reported */
    char path[256];     /* JSON pointer of the value being checked */
    size_t plen;
    char *where;
    size_t cap;
};

static bool fail(struct chk *c, const char *keyword)
{
    if (!c->quiet)
        snprintf(c->where, c->cap, "#%s %s", c->path, keyword);
    return false;
}

/* Appends a pointer segment (RFC 6901: ~ → ~0, / → ~1); returns the length
 * to restore. A path past the buffer is cut, never overrun. */
static size_t push(struct chk *c, const char *seg)
{
    size_t old = c->plen, room = sizeof c->path - 1;
    if (c->plen < room)
        c->path[c->plen++] = '/';
    for (; *seg; seg++) {
        const char *esc = *seg == '~' ? "~0" : *seg == '/' ? "~1" : NULL;
        size_t n = esc ? 2 : 1;
        if (c->plen + n > room)
            break;
        memcpy(c->path + c->plen, esc ? esc : seg, n);
        c->plen += n;
    }
    c->path[c->plen] = '\0';
    return old;
}

static void pop_to(struct chk *c, size_t len)
{
    c->plen = len;
    c->path[len] = '\0';
}

/* The schema a local $ref names ("#", "#/$defs/x", "#/definitions/x"), or
 * NULL when it is not local or does not resolve: that part goes unchecked. */
static json_object *resolve(json_object *root, const char *ref)
{
    if (strncmp(ref, "#", 1))
        return NULL;
    json_object *at = root;
    const char *p = ref + 1;
    while (*p == '/' && at) {
        char seg[256];
        size_t n = 0;
        for (p++; *p && *p != '/' && n + 1 < sizeof seg; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
                seg[n++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                seg[n++] = *p;
            }
        }
        seg[n] = '\0';
        if (json_object_is_type(at, json_type_array)) {
            int64_t idx;
            at = text_parse_i64(seg, 0, INT32_MAX, &idx) ? NULL
                 : (size_t)idx < json_object_array_length(at) ? json_object_array_get_idx(at, (size_t)idx)
                                                              : NULL;
        } else {
            at = member(at, seg);
        }
    }
    return *p ? NULL : at;
}

static bool is_type(json_object *v, const char *t)
{
    enum json_type jt = json_object_get_type(v);
    if (!strcmp(t, "integer")) {
        if (jt == json_type_int)
            return true;
        if (jt != json_type_double)
            return false;
        double d = json_object_get_double(v);
        return d > -9e15 && d < 9e15 && d == (double)(long long)d;
    }
    if (!strcmp(t, "number"))
        return jt == json_type_int || jt == json_type_double;
    return (!strcmp(t, "null") && jt == json_type_null) ||
           (!strcmp(t, "boolean") && jt == json_type_boolean) ||
           (!strcmp(t, "string") && jt == json_type_string) ||
           (!strcmp(t, "array") && jt == json_type_array) ||
           (!strcmp(t, "object") && jt == json_type_object);
}

static bool type_ok(json_object *schema, json_object *v)
{
    json_object *t = member(schema, "type");
    if (json_object_is_type(t, json_type_string))
        return whole_str(t) && is_type(v, whole_str(t));
    if (!json_object_is_type(t, json_type_array))
        return true;
    for (size_t i = 0; i < json_object_array_length(t); i++) {
        json_object *x = json_object_array_get_idx(t, i);
        if (whole_str(x) && is_type(v, whole_str(x)))
            return true;
    }
    return false;
}

static bool is_num(json_object *x)
{
    return json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double);
}

/* v is a multiple of m, to a relative 1e-9 (0.1 * 3 is not exactly 0.3).
 * No libm: quotients past 2^53 are taken as multiples (cannot tell). */
static bool multiple_of(double v, double m)
{
    if (m <= 0)
        return true;
    double q = v / m;
    if (q < -9e15 || q > 9e15)
        return true;
    double r = q - (double)(long long)q;
    if (r < 0)
        r = -r;
    if (r > 0.5)
        r = 1 - r;
    double aq = q < 0 ? -q : q;
    return r <= 1e-9 * (aq > 1 ? aq : 1);
}

static bool check_number(struct chk *c, json_object *s, json_object *v)
{
    double d = json_object_get_double(v);
    json_object *min = member(s, "minimum"), *max = member(s, "maximum");
    json_object *xmin = member(s, "exclusiveMinimum"), *xmax = member(s, "exclusiveMaximum");
    json_object *mult = member(s, "multipleOf");
    if (is_num(min) && d < json_object_get_double(min))
        return fail(c, "minimum");
    if (is_num(max) && d > json_object_get_double(max))
        return fail(c, "maximum");
    /* draft 2020-12: a number; draft 4 (older pydantic): a boolean on minimum */
    if (is_num(xmin) ? d <= json_object_get_double(xmin)
                     : json_object_get_boolean(xmin) && is_num(min) && d <= json_object_get_double(min))
        return fail(c, "exclusiveMinimum");
    if (is_num(xmax) ? d >= json_object_get_double(xmax)
                     : json_object_get_boolean(xmax) && is_num(max) && d >= json_object_get_double(max))
        return fail(c, "exclusiveMaximum");
    if (is_num(mult)) {
        bool ok = json_object_is_type(v, json_type_int) && json_object_is_type(mult, json_type_int) &&
                          json_object_get_int64(mult) > 0
                      ? json_object_get_int64(v) % json_object_get_int64(mult) == 0
                      : multiple_of(d, json_object_get_double(mult));
        if (!ok)
            return fail(c, "multipleOf");
    }
    return true;
}

static bool check_string(struct chk *c, json_object *s, json_object *v)
{
    /* Lengths count characters (code points), as JSON Schema does. */
    const unsigned char *p = (const unsigned char *)json_object_get_string(v);
    int bytes = json_object_get_string_len(v);
    int64_t chars = 0;
    for (int i = 0; i < bytes; i++)
        chars += (p[i] & 0xC0) != 0x80;
    json_object *min = member(s, "minLength"), *max = member(s, "maxLength");
    if (is_num(min) && (double)chars < json_object_get_double(min))
        return fail(c, "minLength");
    if (is_num(max) && (double)chars > json_object_get_double(max))
        return fail(c, "maxLength");
    return true;
}

static bool check(struct chk *c, json_object *s, json_object *v, int depth);

/* anyOf / oneOf: one branch must take v. None does: the failure reported
 * is the one of the first branch whose type takes v, since that is the
 * branch the model chose. NOLINTNEXTLINE(misc-no-recursion) */
static bool check_any(struct chk *c, json_object *list, json_object *v, int depth)
{
    size_t n = json_object_array_length(list);
    c->quiet++;
    bool ok = false;
    for (size_t i = 0; !ok && i < n; i++)
        ok = check(c, json_object_array_get_idx(list, i), v, depth + 1);
    c->quiet--;
    if (ok || c->gave_up)
        return true;
    if (c->quiet)
        return false;
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(list, i);
        json_object *r = member(b, "$ref");
        json_object *t = json_object_is_type(r, json_type_string)
                             ? (whole_str(r) ? resolve(c->root, whole_str(r)) : NULL)
                             : b;
        if (t && type_ok(t, v))
            return check(c, b, v, depth + 1);
    }
    return fail(c, "anyOf");
}

/* NOLINTNEXTLINE(misc-no-recursion) */
static bool check_array(struct chk *c, json_object *s, json_object *v, int depth)
{
    size_t n = json_object_array_length(v);
    json_object *min = member(s, "minItems"), *max = member(s, "maxItems");
    if (is_num(min) && (double)n < json_object_get_double(min))
        return fail(c, "minItems");
    if (is_num(max) && (double)n > json_object_get_double(max))
        return fail(c, "maxItems");
    if (json_object_get_boolean(member(s, "uniqueItems")))
        for (size_t i = 0; i < n && !c->gave_up; i++)
            for (size_t j = i + 1; j < n; j++) {
                if (++c->steps > CS_CHECK_MAX_STEPS) {
                    c->gave_up = true;
                    break;
                }
                if (json_object_equal(json_object_array_get_idx(v, i), json_object_array_get_idx(v, j)))
                    return fail(c, "uniqueItems");
            }
    /* prefixItems (2020-12), or items as a list (draft 7): position by position */
    json_object *items = member(s, "items"), *prefix = member(s, "prefixItems");
    json_object *tuple = json_object_is_type(prefix, json_type_array) ? prefix
                         : json_object_is_type(items, json_type_array) ? items
                                                                       : NULL;
    size_t nt = tuple ? json_object_array_length(tuple) : 0;
    json_object *rest = json_object_is_type(items, json_type_object) ? items : NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *sub = i < nt ? json_object_array_get_idx(tuple, i) : rest;
        if (!sub)
            continue;
        char seg[24];
        snprintf(seg, sizeof seg, "%zu", i);
        size_t at = push(c, seg);
        bool ok = check(c, sub, json_object_array_get_idx(v, i), depth + 1);
        pop_to(c, at);
        if (!ok)
            return false;
    }
    return true;
}

/* NOLINTNEXTLINE(misc-no-recursion) */
static bool check_object(struct chk *c, json_object *s, json_object *v, int depth)
{
    size_t n = (size_t)json_object_object_length(v);
    json_object *min = member(s, "minProperties"), *max = member(s, "maxProperties");
    if (is_num(min) && (double)n < json_object_get_double(min))
        return fail(c, "minProperties");
    if (is_num(max) && (double)n > json_object_get_double(max))
        return fail(c, "maxProperties");
    json_object *props = member(s, "properties");
    if (!json_object_is_type(props, json_type_object))
        return true;
    json_object_object_foreach(v, k, x) {
        json_object *sub = member(props, k);
        if (!sub)
            continue;
        size_t at = push(c, k);
        bool ok = check(c, sub, x, depth + 1);
        pop_to(c, at);
        if (!ok)
            return false;
    }
    return true;
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by depth and c->steps */
static bool check(struct chk *c, json_object *s, json_object *v, int depth)
{
    if (c->gave_up)
        return true;
    if (++c->steps > CS_CHECK_MAX_STEPS || depth > 4 * CS_MAX_DEPTH) {
        c->gave_up = true; /* a recursive $ref without data under it, or a blow-up */
        return true;
    }
    if (!json_object_is_type(s, json_type_object))
        return true; /* true/false schemas: Claude enforces those */
    json_object *ref = member(s, "$ref");
    if (json_object_is_type(ref, json_type_string)) {
        json_object *t = whole_str(ref) ? resolve(c->root, whole_str(ref)) : NULL;
        if (t && !check(c, t, v, depth + 1))
            return false;
    }
    if (!type_ok(s, v))
        return fail(c, "type");
    json_object *any = member(s, "anyOf"), *one = member(s, "oneOf"), *all = member(s, "allOf");
    if (json_object_is_type(any, json_type_array) && !check_any(c, any, v, depth))
        return false;
    if (json_object_is_type(one, json_type_array) && !check_any(c, one, v, depth))
        return false;
    for (size_t i = 0; json_object_is_type(all, json_type_array) && i < json_object_array_length(all); i++)
        if (!check(c, json_object_array_get_idx(all, i), v, depth + 1))
            return false;
    switch (json_object_get_type(v)) {
    case json_type_int:
    case json_type_double:
        return check_number(c, s, v);
    case json_type_string:
        return check_string(c, s, v);
    case json_type_array:
        return check_array(c, s, v, depth);
    case json_type_object:
        return check_object(c, s, v, depth);
    default:
        return true;
    }
}

int claude_schema_check(json_object *schema, const char *p, size_t n, char *where, size_t cap)
{
    json_object *v = NULL;
    if (jsonv_parse(p, n, JSONV_MAX_DEPTH, &v) != AXON_OK) {
        snprintf(where, cap, "# json");
        return AXON_EINVAL;
    }
    struct chk c = {.root = schema, .steps = 0, .gave_up = false, .quiet = 0, .plen = 0,
                    .where = where, .cap = cap};
    c.path[0] = '\0';
    bool ok = check(&c, schema, v, 0);
    json_object_put(v);
    /* where goes into a response header and the log: the client's property
     * names are shown in ASCII, anything else as '?' (no header injection). */
    for (char *q = where; !ok && *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            *q = '?';
    return ok ? AXON_OK : AXON_EINVAL;
}
