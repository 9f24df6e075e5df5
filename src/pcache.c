/* pcache.c - Claude's prompt-cache breakpoints (see pcache.h). */
#include "pcache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonv.h"

/* The member's text; NULL too when it holds a \u0000, so that "1h\u0000x"
 * is not taken for "1h" (every value read here is a keyword). */
static const char *member_str(json_object *o, const char *key)
{
    json_object *v = jsonv_get(o, key);
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static bool is_1h(json_object *cc)
{
    const char *t = member_str(cc, "ttl");
    return t && !strcmp(t, "1h");
}

static json_object *new_marker(const char *ttl)
{
    json_object *cc = json_object_new_object();
    json_object_object_add(cc, "type", json_object_new_string("ephemeral"));
    if (ttl)
        json_object_object_add(cc, "ttl", json_object_new_string(ttl));
    return cc;
}

void pcache_mark(json_object *block, json_object *src)
{
    if (!block)
        return;
    json_object *cc = jsonv_get(src, "cache_control");
    json_object *pcb = jsonv_get(src, "prompt_cache_breakpoint");
    bool asked = (cc && json_object_is_type(cc, json_type_object)) ||
                 (pcb && json_object_is_type(pcb, json_type_object));
    if (!asked)
        return;
    /* Only Claude's two TTLs pass; anything else gets the request's. */
    const char *ttl = member_str(cc, "ttl");
    if (ttl && strcmp(ttl, "5m") && strcmp(ttl, "1h"))
        ttl = NULL;
    json_object_object_add(block, "cache_control", new_marker(ttl));
}

static bool is_thinking(json_object *b)
{
    const char *t = member_str(b, "type");
    return t && (!strcmp(t, "thinking") || !strcmp(t, "redacted_thinking"));
}

void pcache_mark_message(json_object *blocks, size_t from, json_object *msg)
{
    if (!jsonv_get(msg, "cache_control") && !jsonv_get(msg, "prompt_cache_breakpoint"))
        return;
    for (size_t i = json_object_array_length(blocks); i > from; i--) {
        json_object *b = json_object_array_get_idx(blocks, i - 1);
        if (!is_thinking(b)) {
            pcache_mark(b, msg);
            return;
        }
    }
}

/* ---- the whole body --------------------------------------------------------- */

/* The blocks that carry cache_control, in prompt order (tools, system,
 * messages: the order Claude hashes the prefix in). */
struct marks {
    json_object **v; /* borrowed blocks; the array is owned */
    size_t n, cap;
};

static void marks_push(struct marks *m, json_object *b)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->v = xrealloc(m->v, m->cap * sizeof(json_object *));
    }
    m->v[m->n++] = b;
}

/* Recursion: a tool_result's content, one level; blocks come from
 * jsonv_parse, whose depth is capped. NOLINTNEXTLINE(misc-no-recursion) */
static void collect_array(struct marks *m, json_object *a)
{
    size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(a, i);
        /* A tool_result's own blocks come before the tool_result ends. */
        json_object *inner = jsonv_get(b, "content");
        if (inner && json_object_is_type(inner, json_type_array))
            collect_array(m, inner);
        if (jsonv_get(b, "cache_control"))
            marks_push(m, b);
    }
}

static void collect(struct marks *m, json_object *body)
{
    collect_array(m, jsonv_get(body, "tools"));
    collect_array(m, jsonv_get(body, "system"));
    json_object *msgs = jsonv_get(body, "messages");
    for (size_t i = 0; msgs && i < json_object_array_length(msgs); i++)
        collect_array(m, jsonv_get(json_object_array_get_idx(msgs, i), "content"));
}

/* Adds the bytes of the strings under o to *bytes, stopping once *bytes
 * reaches limit: a prompt's size is only compared with the threshold, so a
 * long one is not walked to its end. Depth is bounded by jsonv_parse's
 * JSONV_MAX_DEPTH. NOLINTNEXTLINE(misc-no-recursion) */
static void text_bytes(json_object *o, size_t limit, size_t *bytes)
{
    if (*bytes >= limit || !o)
        return;
    if (json_object_is_type(o, json_type_string)) {
        *bytes += (size_t)json_object_get_string_len(o);
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o) && *bytes < limit; i++)
            text_bytes(json_object_array_get_idx(o, i), limit, bytes);
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            (void)k;
            text_bytes(v, limit, bytes);
            if (*bytes >= limit)
                return;
        }
    }
}

static bool long_prompt(json_object *body)
{
    size_t limit = (size_t)PCACHE_AUTO_MIN_TOKENS * PCACHE_BYTES_PER_TOKEN, bytes = 0;
    text_bytes(jsonv_get(body, "tools"), limit, &bytes);
    text_bytes(jsonv_get(body, "system"), limit, &bytes);
    text_bytes(jsonv_get(body, "messages"), limit, &bytes);
    return bytes >= limit;
}

/* The block Claude's automatic breakpoint would land on already carries the
 * client's: a second one there would only take a slot. */
static bool last_block_marked(json_object *body)
{
    json_object *msgs = jsonv_get(body, "messages");
    size_t n = msgs ? json_object_array_length(msgs) : 0;
    json_object *c = n ? jsonv_get(json_object_array_get_idx(msgs, n - 1), "content") : NULL;
    size_t k = c && json_object_is_type(c, json_type_array) ? json_object_array_length(c) : 0;
    return k && jsonv_get(json_object_array_get_idx(c, k - 1), "cache_control");
}

int pcache_finish(json_object *body, json_object *req, enum prompt_cache mode)
{
    struct marks m = {0};
    collect(&m, body);
    int dropped = 0;
    if (mode == PROMPT_CACHE_OFF) {
        for (size_t i = 0; i < m.n; i++)
            json_object_object_del(m.v[i], "cache_control");
        free(m.v);
        return 0;
    }
    json_object *opts = jsonv_get(req, "prompt_cache_options");
    const char *req_mode = member_str(opts, "mode");
    const char *retention = member_str(req, "prompt_cache_retention");
    /* OpenAI's ttl is a minimum lifetime ("30m"): only Claude's hour keeps
     * it; "24h" retention asks for the longest cache Claude has. */
    bool hour = (retention && !strcmp(retention, "24h")) || jsonv_get(opts, "ttl");

    bool automatic = mode == PROMPT_CACHE_AUTO && !(req_mode && !strcmp(req_mode, "explicit")) &&
                     !last_block_marked(body) &&
                     (member_str(req, "conversation_id") || long_prompt(body));
    size_t cap = PCACHE_MAX_BREAKPOINTS - (automatic ? 1 : 0);
    size_t first = 0; /* marks before it are dropped: the oldest go */
    if (m.n > cap) {
        first = m.n - cap;
        dropped = (int)first;
        for (size_t i = 0; i < first; i++)
            json_object_object_del(m.v[i], "cache_control");
    }
    /* TTLs, from the end: a mark before a 1-hour one gets the hour too,
     * since Claude refuses a 1h mark after a 5m one (and the hour's entry
     * holds that prefix anyway). */
    bool later_hour = automatic && hour;
    for (size_t i = m.n; i > first; i--) {
        json_object *cc = jsonv_get(m.v[i - 1], "cache_control");
        if (!jsonv_get(cc, "ttl") && hour)
            json_object_object_add(cc, "ttl", json_object_new_string("1h"));
        if (is_1h(cc))
            later_hour = true;
        else if (later_hour)
            json_object_object_add(cc, "ttl", json_object_new_string("1h"));
    }
    if (automatic)
        json_object_object_add(body, "cache_control", new_marker(hour ? "1h" : NULL));
    free(m.v);
    return dropped;
}
