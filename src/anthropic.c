/* anthropic.c - OpenAI chat completions ⇄ Anthropic Messages API. */
#include "anthropic.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claude_schema.h"
#include "jsonr.h"
#include "jsonv.h"
#include "sha256.h"
#include "log.h"
#include "pcache.h"
#include "text.h"

#define ANTH_MAX_BODY (64u << 20) /* the translated request */
#define THINKING_MIN_BUDGET 1024  /* Claude's floor for budget_tokens */
#define THINKING_DEFAULT_BUDGET 4096
/* Above this max_tokens a non-stream request is streamed from Claude. The
 * Anthropic SDK refuses a non-streamed request whose expected time passes 10
 * minutes, reckoning an hour per 128,000 output tokens (client.ts,
 * _calculateNonstreamingTimeout): 3600 s * max_tokens / 128000 > 600 s. */
#define NONSTREAM_MAX_TOKENS (128000L * 600 / 3600)

/* ---- small json-c helpers ------------------------------------------------- */

/* The member's string object, or NULL: for text, whose length is carried
 * with it, since a \u0000 is text like any other (issue 18). */
static json_object *get_sv(json_object *o, const char *key)
{
    json_object *v = jsonv_get(o, key);
    return v && json_object_is_type(v, json_type_string) ? v : NULL;
}

static size_t slen(json_object *v)
{
    return (size_t)json_object_get_string_len(v);
}

/* True when string v holds a NUL: it cannot be a URL or base64 data. */
static bool has_nul(json_object *v)
{
    return memchr(json_object_get_string(v), '\0', slen(v)) != NULL;
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

static json_object *jstr_n(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}

static void add(json_object *o, const char *key, json_object *v)
{
    json_object_object_add(o, key, v);
}

/* {"key": "value"}: returns new. */
static json_object *json_pair(const char *key, const char *value)
{
    json_object *o = json_object_new_object();
    add(o, key, jstr(value));
    return o;
}

static json_object *text_block(const char *s, size_t n)
{
    json_object *b = json_object_new_object();
    add(b, "type", jstr("text"));
    add(b, "text", jstr_n(s, n));
    return b;
}

/* A text block holding string v (shared, not copied: strings are never
 * changed in place). */
static json_object *text_block_v(json_object *v)
{
    json_object *b = json_object_new_object();
    add(b, "type", jstr("text"));
    add(b, "text", json_object_get(v));
    return b;
}

/* Claude's white space; not strchr, which finds the NUL of its own string. */
static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Claude rejects empty and white-space-only text blocks. */
static bool blank_n(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!space(s[i]))
            return false;
    return true;
}

static bool blank_v(json_object *v)
{
    return blank_n(json_object_get_string(v), slen(v));
}

/* ---- ids ------------------------------------------------------------------ */

/* Tool call ids: Claude's toolu_X is call_X to the client, and call_X goes
 * back as toolu_X, so ids stay stable across turns in both directions.
 * Other ids pass unchanged, with characters Claude refuses replaced. */
static void id_to_anthropic(json_object *idv, char *out, size_t cap)
{
    const char *id = json_object_get_string(idv), *rest = id, *end = id + slen(idv);
    size_t o = 0;
    if (slen(idv) >= 5 && !strncmp(id, "call_", 5)) {
        rest = id + 5;
        o = (size_t)snprintf(out, cap, "toolu_");
    }
    for (; rest < end && o + 1 < cap; rest++) /* a NUL is replaced, not the end */
        out[o++] = (char)((*rest == '-' || *rest == '_' || (*rest >= '0' && *rest <= '9') ||
                           (*rest >= 'a' && *rest <= 'z') || (*rest >= 'A' && *rest <= 'Z'))
                              ? *rest
                              : '_');
    out[o] = '\0';
}

static void id_to_openai(const char *id, char *out, size_t cap)
{
    if (!strncmp(id, "toolu_", 6))
        snprintf(out, cap, "call_%s", id + 6);
    else
        snprintf(out, cap, "%s", id);
    text_utf8_trim(out); /* a long id cut mid-character would not be valid JSON */
}

/* ---- JSON Schema ---------------------------------------------------------- */

/* The client's schema (borrows s) as Claude takes it, claude_schema.h; on
 * success *out is new. 400 naming param when the schema passes a cap. */
static int schema_for_claude(json_object *s, enum cs_mode mode, const char *param,
                             json_object **out, int *moved, struct api_error *e)
{
    struct cs_info ci;
    int rc = claude_schema_rewrite(s, mode, out, &ci);
    if (rc) {
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_value", param,
                      "Invalid schema for '%s': it %s.", param, ci.err);
        return AXON_EINVAL;
    }
    if (moved)
        *moved = ci.moved;
    return AXON_OK;
}

/* ---- content -------------------------------------------------------------- */

static int bad(struct api_error *e, const char *code, const char *param, const char *msg)
{
    api_error_set(e, 400, ERR_INVALID_REQUEST, code, param, "%s", msg);
    return AXON_EINVAL;
}

/* "data:<type>;base64,<data>" → its parts; false if not that shape. */
static bool data_url(const char *url, char *type, size_t cap, const char **data)
{
    if (strncmp(url, "data:", 5))
        return false;
    const char *semi = strstr(url, ";base64,");
    if (!semi || (size_t)(semi - url - 5) >= cap)
        return false;
    memcpy(type, url + 5, (size_t)(semi - url - 5));
    type[semi - url - 5] = '\0';
    *data = semi + 8;
    return true;
}

static json_object *base64_source(const char *type, const char *data)
{
    json_object *src = json_object_new_object();
    add(src, "type", jstr("base64"));
    add(src, "media_type", jstr(type));
    add(src, "data", jstr(data));
    return src;
}

static json_object *typed_block(const char *type, json_object *source)
{
    json_object *b = json_object_new_object();
    add(b, "type", jstr(type));
    add(b, "source", source);
    return b;
}

/* An image_url part: data URLs become base64 sources, https URLs url
 * sources that Claude fetches itself. Axon never downloads anything. */
static int image_block(const char *url, const char *param, json_object **out, struct api_error *e)
{
    char type[64];
    const char *data;
    if (data_url(url, type, sizeof type, &data)) {
        if (!strcmp(type, "application/pdf")) {
            *out = typed_block("document", base64_source(type, data));
            return AXON_OK;
        }
        if (strcmp(type, "image/jpeg") && strcmp(type, "image/png") && strcmp(type, "image/gif") &&
            strcmp(type, "image/webp")) {
            api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_image_format", param,
                          "Invalid image type '%s': Claude accepts image/jpeg, image/png, "
                          "image/gif and image/webp.", type);
            return AXON_EINVAL;
        }
        *out = typed_block("image", base64_source(type, data));
        return AXON_OK;
    }
    if (!strncmp(url, "https://", 8)) {
        json_object *src = json_object_new_object();
        add(src, "type", jstr("url"));
        add(src, "url", jstr(url));
        *out = typed_block("image", src);
        return AXON_OK;
    }
    return bad(e, "invalid_image_url", param,
               "Image URLs must be https:// URLs (Claude fetches them) or data: URLs with "
               "base64 data; Axon does not download images.");
}

/* Extensions of plain base64 file data (no media type) read as text. */
static bool text_name(const char *name, size_t nl)
{
    static const char *const ext[] = {".txt", ".md", ".markdown", ".csv", ".tsv", ".log",
                                      ".json", ".xml", ".html", ".htm", ".yaml", ".yml"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t el = strlen(ext[i]);
        if (name && nl > el && !strcasecmp(name + nl - el, ext[i]))
            return true;
    }
    return false;
}

/* Text file data as a document with a text source. Claude's PlainTextSource
 * takes media_type "text/plain" only (SDK messages.ts), so any text type
 * (text/markdown, text/csv ...) is decoded and sent as plain text. It must be
 * UTF-8, as a JSON string must. *out stays NULL for an empty file. */
static int text_document(const char *b64, const char *param, json_object **out,
                         struct api_error *e)
{
    size_t n = strlen(b64), len = 0;
    unsigned char *t = xmalloc(n / 4 * 3 + 3);
    int rc = text_base64_decode(b64, n, t, &len);
    if (rc)
        rc = bad(e, "invalid_value", param, "The file's data is not valid base64.");
    else if (!text_utf8_valid((const char *)t, len))
        rc = bad(e, "invalid_value", param, "A text file sent to Claude must be UTF-8 text.");
    else if (len) {
        json_object *src = json_object_new_object();
        add(src, "type", jstr("text"));
        add(src, "media_type", jstr("text/plain"));
        add(src, "data", jstr_n((const char *)t, len));
        *out = typed_block("document", src);
    }
    free(t);
    return rc;
}

/* A file part: PDF data becomes a document block with a base64 source,
 * text (text/... data, or plain base64 named like a text file) one with a
 * text source. */
static int file_block(json_object *file, const char *param, json_object **out, struct api_error *e)
{
    json_object *datav = get_sv(file, "file_data"), *namev = get_sv(file, "filename");
    const char *data = datav ? json_object_get_string(datav) : NULL;
    const char *name = namev ? json_object_get_string(namev) : NULL;
    if (datav && has_nul(datav)) /* base64 and data: URLs never hold one */
        return bad(e, "invalid_value", param, "The file's data is not valid base64.");
    if (!data)
        return bad(e, "unsupported_value", param,
                   "Only file parts with file_data (base64 PDF or text) are supported; Claude "
                   "cannot read OpenAI file ids.");
    char type[64] = "";
    const char *b64 = data;
    if (!data_url(data, type, sizeof type, &b64))
        b64 = data; /* plain base64, as the OpenAI SDK sends it */
    size_t nl = namev ? slen(namev) : 0;
    bool pdf_name = !name || (nl >= 4 && !strcasecmp(name + nl - 4, ".pdf"));
    int rc = AXON_OK;
    if (!strncmp(type, "text/", 5) || (!type[0] && text_name(name, nl)))
        rc = text_document(b64, param, out, e);
    else if ((!type[0] && pdf_name) || !strcmp(type, "application/pdf"))
        *out = typed_block("document", base64_source("application/pdf", b64));
    else
        return bad(e, "unsupported_value", param,
                   "Claude reads PDF and text files only (application/pdf, text/*).");
    if (!rc && *out && namev)
        add(*out, "title", json_object_get(namev));
    return rc;
}

/* Appends the blocks of a message's content (string or parts) to blocks. */
static int content_blocks(json_object *content, const char *mpath, bool user, json_object *blocks,
                          struct api_error *e)
{
    if (!content)
        return AXON_OK;
    if (json_object_is_type(content, json_type_string)) {
        if (!blank_v(content))
            json_object_array_add(blocks, text_block_v(content));
        return AXON_OK;
    }
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = jsonv_get_str(part, "type");
        char param[200];
        snprintf(param, sizeof param, "%s.content[%zu]", mpath, i);
        json_object *b = NULL;
        if (!type)
            continue;
        if (!strcmp(type, "text") || !strcmp(type, "refusal")) {
            json_object *s = get_sv(part, type);
            if (s && !blank_v(s))
                b = text_block_v(s);
        } else if (user && !strcmp(type, "image_url")) {
            json_object *iu = jsonv_get(part, "image_url");
            json_object *url = get_sv(iu, "url");
            char p2[220];
            snprintf(p2, sizeof p2, "%s.image_url.url", param);
            if (url && has_nul(url))
                return bad(e, "invalid_image_url", p2, "An image URL must not contain \\u0000.");
            if (url) {
                int rc = image_block(json_object_get_string(url), p2, &b, e);
                if (rc)
                    return rc;
            }
        } else if (user && !strcmp(type, "file")) {
            int rc = file_block(jsonv_get(part, "file"), param, &b, e);
            if (rc)
                return rc;
        } else if (user && !strcmp(type, "input_audio")) {
            return bad(e, "unsupported_value", param, "Claude does not accept audio input.");
        }
        if (b) {
            pcache_mark(b, part); /* the part's breakpoint stays on its block */
            json_object_array_add(blocks, b);
        }
    }
    return AXON_OK;
}

/* A message's name (OpenAI's speaker label) is carried into the text
 * Claude reads, as "name: text", since Claude has no such field. */
static bool is_thinking(json_object *b)
{
    const char *t = jsonv_get_str(b, "type");
    return t && (!strcmp(t, "thinking") || !strcmp(t, "redacted_thinking"));
}

/* json-c has no insert: append, then shift the tail one place right. Takes v. */
static void array_insert(json_object *a, size_t at, json_object *v)
{
    size_t len = json_object_array_length(a);
    if (at >= len) {
        json_object_array_add(a, v);
        return;
    }
    json_object_array_add(a, NULL);
    for (size_t k = len; k > at; k--)
        json_object_array_put_idx(a, k, json_object_get(json_object_array_get_idx(a, k - 1)));
    json_object_array_put_idx(a, at, v);
}

static void carry_name(json_object *msg, json_object *blocks)
{
    json_object *nv = get_sv(msg, "name");
    if (!nv || !slen(nv))
        return;
    const char *name = json_object_get_string(nv);
    struct buf s = BUF_INIT(ANTH_MAX_BODY);
    size_t at = 0, n = json_object_array_length(blocks);
    while (at < n && is_thinking(json_object_array_get_idx(blocks, at)))
        at++; /* signed thinking stays first */
    json_object *b = at < n ? json_object_array_get_idx(blocks, at) : NULL;
    const char *type = jsonv_get_str(b, "type");
    /* Appended by length: a \u0000 in either must not end the label. */
    if (buf_append(&s, name, slen(nv)) || buf_append(&s, ":", 1)) {
        buf_free(&s);
        return;
    }
    json_object *tv = type && !strcmp(type, "text") ? get_sv(b, "text") : NULL;
    if (tv) {
        if (!buf_append(&s, " ", 1) && !buf_append(&s, json_object_get_string(tv), slen(tv)))
            add(b, "text", jstr_n(s.p, s.len));
    } else {
        array_insert(blocks, at, text_block(s.p, s.len));
    }
    buf_free(&s);
}

static int assistant_blocks(json_object *msg, const char *mpath, json_object *blocks,
                            struct api_error *e)
{
    /* Signed thinking blocks a client sends back (LiteLLM's thinking_blocks)
     * must come first and unchanged, or Claude refuses the tool turn. */
    json_object *tb = jsonv_get(msg, "thinking_blocks");
    if (tb && json_object_is_type(tb, json_type_array))
        for (size_t i = 0; i < json_object_array_length(tb); i++)
            if (is_thinking(json_object_array_get_idx(tb, i)))
                json_object_array_add(blocks, json_object_get(json_object_array_get_idx(tb, i)));
    int rc = content_blocks(jsonv_get(msg, "content"), mpath, false, blocks, e);
    if (rc)
        return rc;
    carry_name(msg, blocks);
    json_object *calls = jsonv_get(msg, "tool_calls");
    size_t n = calls ? json_object_array_length(calls) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *tc = json_object_array_get_idx(calls, i);
        json_object *fn = jsonv_get(tc, "function");
        json_object *id = get_sv(tc, "id"), *name = get_sv(fn, "name");
        json_object *args = get_sv(fn, "arguments");
        char param[200];
        snprintf(param, sizeof param, "%s.tool_calls[%zu]", mpath, i);
        if (!fn || !id || !name)
            return bad(e, "unsupported_value", param,
                       "Only function tool calls can be sent to Claude.");
        json_object *input = NULL;
        if (!args || blank_v(args))
            input = json_object_new_object();
        else if (jsonv_parse(json_object_get_string(args), slen(args), JSONV_MAX_DEPTH, &input) ||
                 !json_object_is_type(input, json_type_object)) {
            json_object_put(input);
            char p2[230];
            snprintf(p2, sizeof p2, "%s.function.arguments", param);
            return bad(e, "invalid_value", p2,
                       "Tool call arguments must be a JSON object encoded as a string.");
        }
        char aid[160];
        id_to_anthropic(id, aid, sizeof aid);
        json_object *b = json_object_new_object();
        add(b, "type", jstr("tool_use"));
        add(b, "id", jstr(aid));
        add(b, "name", json_object_get(name));
        add(b, "input", input);
        json_object_array_add(blocks, b);
    }
    return AXON_OK;
}

static int tool_result_block(json_object *msg, const char *mpath, json_object *blocks,
                             struct api_error *e)
{
    json_object *id = get_sv(msg, "tool_call_id");
    if (!id) {
        char p[200];
        snprintf(p, sizeof p, "%s.tool_call_id", mpath);
        return bad(e, "missing_required_parameter", p, "Missing required parameter: 'tool_call_id'.");
    }
    char aid[160];
    id_to_anthropic(id, aid, sizeof aid);
    json_object *b = json_object_new_object();
    add(b, "type", jstr("tool_result"));
    add(b, "tool_use_id", jstr(aid));
    json_object *content = jsonv_get(msg, "content");
    if (content && json_object_is_type(content, json_type_string)) {
        if (slen(content)) /* "\u0000..." is not empty */
            add(b, "content", json_object_get(content));
    } else if (content) {
        json_object *parts = json_object_new_array();
        int rc = content_blocks(content, mpath, false, parts, e);
        if (rc) {
            json_object_put(parts);
            json_object_put(b);
            return rc;
        }
        if (json_object_array_length(parts))
            add(b, "content", parts);
        else
            json_object_put(parts);
    }
    json_object_array_add(blocks, b);
    return AXON_OK;
}

static bool is_tool_result(json_object *b)
{
    const char *t = jsonv_get_str(b, "type");
    return t && !strcmp(t, "tool_result");
}

/* Adds blocks to the turn: Claude wants tool_result blocks before any
 * other content of a user turn. */
static void merge_into(json_object *turn_content, json_object *blocks)
{
    size_t n = json_object_array_length(blocks);
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_get(json_object_array_get_idx(blocks, i));
        size_t len = json_object_array_length(turn_content), at = len;
        if (is_tool_result(b))
            for (at = 0; at < len && is_tool_result(json_object_array_get_idx(turn_content, at));)
                at++;
        array_insert(turn_content, at, b);
    }
}

/* Names of tools used in the history, for when the request has no tools:
 * Claude refuses tool_use blocks without tool definitions. */
static void tools_from_history(json_object *msgs, json_object *tools)
{
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *content = jsonv_get(json_object_array_get_idx(msgs, i), "content");
        for (size_t k = 0; content && k < json_object_array_length(content); k++) {
            json_object *b = json_object_array_get_idx(content, k);
            json_object *name = get_sv(b, "name");
            if (strcmp(jsonv_get_str(b, "type"), "tool_use") || !name)
                continue;
            bool seen = false; /* by length: "f\u0000x" is not "f" */
            for (size_t t = 0; !seen && t < json_object_array_length(tools); t++)
                seen = jsonv_str_eq(get_sv(json_object_array_get_idx(tools, t), "name"), name);
            if (seen)
                continue;
            json_object *def = json_object_new_object();
            add(def, "name", json_object_get(name));
            add(def, "description", jstr("A tool used earlier in this conversation."));
            json_object *schema = json_object_new_object();
            add(schema, "type", jstr("object"));
            add(def, "input_schema", schema);
            json_object_array_add(tools, def);
        }
    }
}

static int convert_messages(json_object *req, json_object *body, bool json_mode, struct api_error *e)
{
    json_object *msgs = jsonv_get(req, "messages");
    json_object *system = json_object_new_array();
    json_object *out = json_object_new_array();
    const char *last_role = NULL;
    json_object *last_content = NULL;
    int rc = AXON_OK;
    size_t n = json_object_array_length(msgs);
    for (size_t i = 0; !rc && i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jsonv_get_str(m, "role");
        char mpath[64];
        snprintf(mpath, sizeof mpath, "messages[%zu]", i);
        json_object *blocks = json_object_new_array();
        if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            /* Hoisted in order into Claude's system prompt. */
            rc = content_blocks(jsonv_get(m, "content"), mpath, false, blocks, e);
            if (!rc) {
                carry_name(m, blocks);
                pcache_mark_message(blocks, 0, m);
            }
            for (size_t k = 0; !rc && k < json_object_array_length(blocks); k++)
                json_object_array_add(system, json_object_get(json_object_array_get_idx(blocks, k)));
            json_object_put(blocks);
            continue;
        }
        const char *to = "user";
        if (!strcmp(role, "assistant")) {
            to = "assistant";
            rc = assistant_blocks(m, mpath, blocks, e);
        } else if (!strcmp(role, "tool")) {
            rc = tool_result_block(m, mpath, blocks, e);
        } else if (!strcmp(role, "function")) {
            /* A function message that answers no call (oai_legacy.c pairs
             * the others into tool results): labelled text. */
            json_object *name = get_sv(m, "name"), *s = get_sv(m, "content");
            struct buf t = BUF_INIT(ANTH_MAX_BODY);
            if (buf_puts(&t, "Result of function ") ||
                (name ? buf_append(&t, json_object_get_string(name), slen(name))
                      : buf_puts(&t, "?")) ||
                buf_puts(&t, ":\n") ||
                (s && buf_append(&t, json_object_get_string(s), slen(s))))
                rc = bad(e, "request_too_large", mpath, "The message is too large.");
            else
                json_object_array_add(blocks, text_block(t.p, t.len));
            buf_free(&t);
        } else {
            rc = content_blocks(jsonv_get(m, "content"), mpath, true, blocks, e);
            if (!rc)
                carry_name(m, blocks);
        }
        if (!rc)
            pcache_mark_message(blocks, 0, m);
        if (rc || json_object_array_length(blocks) == 0) {
            json_object_put(blocks); /* an empty message adds nothing */
            continue;
        }
        if (last_role && !strcmp(last_role, to)) {
            merge_into(last_content, blocks); /* consecutive same-role turns merge */
            json_object_put(blocks);
            continue;
        }
        json_object *turn = json_object_new_object();
        add(turn, "role", jstr(to));
        add(turn, "content", blocks);
        json_object_array_add(out, turn);
        last_role = to;
        last_content = blocks;
    }
    if (!rc && json_object_array_length(out) == 0)
        rc = bad(e, "invalid_value", "messages",
                 "Claude needs at least one user or assistant message with content; system and "
                 "developer messages alone are not enough.");
    if (!rc && !strcmp(jsonv_get_str(json_object_array_get_idx(out, 0), "role"), "assistant")) {
        /* Claude's first turn must be the user's. */
        json_object *turn = json_object_new_object();
        json_object *c = json_object_new_array();
        json_object_array_add(c, text_block(".", 1));
        add(turn, "role", jstr("user"));
        add(turn, "content", c);
        json_object *fixed = json_object_new_array();
        json_object_array_add(fixed, turn);
        for (size_t i = 0; i < json_object_array_length(out); i++)
            json_object_array_add(fixed, json_object_get(json_object_array_get_idx(out, i)));
        json_object_put(out);
        out = fixed;
    }
    if (!rc) {
        /* A final assistant turn is a prefill, which must not end in white
         * space. */
        json_object *lastm = json_object_array_get_idx(out, json_object_array_length(out) - 1);
        if (!strcmp(jsonv_get_str(lastm, "role"), "assistant")) {
            json_object *c = jsonv_get(lastm, "content");
            json_object *b = json_object_array_get_idx(c, json_object_array_length(c) - 1);
            json_object *tv = get_sv(b, "text");
            if (tv && !strcmp(jsonv_get_str(b, "type"), "text")) {
                const char *t = json_object_get_string(tv);
                size_t len = slen(tv);
                while (len && space(t[len - 1]))
                    len--;
                add(b, "text", jstr_n(t, len));
            }
        }
    }
    if (!rc && json_mode)
        json_object_array_add(system, text_block("Answer with one valid JSON object only: no prose "
                                                 "before or after it and no Markdown code fences.",
                                                 strlen("Answer with one valid JSON object only: no "
                                                        "prose before or after it and no Markdown "
                                                        "code fences.")));
    if (!rc && json_object_array_length(system))
        add(body, "system", json_object_get(system));
    json_object_put(system);
    if (!rc)
        add(body, "messages", json_object_get(out));
    json_object_put(out);
    return rc;
}

/* ---- tools ---------------------------------------------------------------- */

/* *moved counts the keywords strict tools' parameters lost to descriptions. */
static int convert_tools(json_object *req, json_object *body, bool thinking, int *moved,
                         struct api_error *e)
{
    json_object *tools = jsonv_get(req, "tools");
    json_object *choice = jsonv_get(req, "tool_choice");
    json_object *ptc = jsonv_get(req, "parallel_tool_calls");
    const char *allowed_mode = NULL;
    json_object *allowed = NULL;
    if (choice && json_object_is_type(choice, json_type_object) &&
        !strcmp(jsonv_get_str(choice, "type"), "allowed_tools")) {
        json_object *at = jsonv_get(choice, "allowed_tools");
        allowed_mode = jsonv_get_str(at, "mode");
        allowed = jsonv_get(at, "tools");
    }
    json_object *out = json_object_new_array();
    size_t n = tools ? json_object_array_length(tools) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        char param[64];
        snprintf(param, sizeof param, "tools[%zu]", i);
        json_object *fn = jsonv_get(t, "function");
        if (strcmp(jsonv_get_str(t, "type"), "function") || !fn) {
            json_object_put(out);
            return bad(e, "unsupported_value", param,
                       "Claude has no custom (free-form grammar) tools; use a function tool.");
        }
        const char *name = jsonv_get_str(fn, "name");
        if (allowed) { /* allowed_tools narrows the list Claude sees */
            bool ok = false;
            for (size_t k = 0; !ok && k < json_object_array_length(allowed); k++) {
                json_object *a = json_object_array_get_idx(allowed, k);
                const char *an = jsonv_get_str(jsonv_get(a, "function"), "name");
                ok = an && !strcmp(an, name);
            }
            if (!ok)
                continue;
        }
        json_object *d = json_object_new_object();
        add(d, "name", json_object_get(get_sv(fn, "name")));
        json_object *desc = get_sv(fn, "description");
        if (desc)
            add(d, "description", json_object_get(desc));
        json_object *params = jsonv_get(fn, "parameters");
        json_object *strict = jsonv_get(fn, "strict");
        bool is_strict = strict && json_object_get_boolean(strict);
        json_object *schema = NULL;
        if (params) {
            char pp[96];
            snprintf(pp, sizeof pp, "tools[%zu].function.parameters", i);
            int m = 0;
            int rc = schema_for_claude(params, is_strict ? CS_STRICT : CS_PLAIN, pp, &schema,
                                       &m, e);
            *moved += m;
            if (rc) {
                json_object_put(d);
                json_object_put(out);
                return rc;
            }
        } else {
            schema = json_object_new_object();
        }
        if (!jsonv_get(schema, "type"))
            add(schema, "type", jstr("object"));
        if (is_strict && !jsonv_get(schema, "additionalProperties"))
            add(schema, "additionalProperties", json_object_new_boolean(0));
        add(d, "input_schema", schema);
        if (is_strict)
            add(d, "strict", json_object_new_boolean(1));
        pcache_mark(d, fn); /* cache_control on the function or on the tool */
        pcache_mark(d, t);
        json_object_array_add(out, d);
    }
    if (!n)
        tools_from_history(jsonv_get(body, "messages"), out);
    if (json_object_array_length(out) == 0) {
        json_object_put(out);
        return AXON_OK; /* tool_choice without tools has nothing to steer */
    }
    add(body, "tools", out);

    json_object *tc = json_object_new_object();
    const char *type = "auto";
    if (!n)
        type = "none"; /* only history tools: they are not offered again */
    else if (allowed_mode)
        type = strcmp(allowed_mode, "required") ? "auto" : "any";
    else if (choice && json_object_is_type(choice, json_type_string)) {
        const char *s = json_object_get_string(choice);
        type = !strcmp(s, "required") ? "any" : !strcmp(s, "none") ? "none" : "auto";
    } else if (choice) {
        json_object *name = get_sv(jsonv_get(choice, "function"), "name");
        if (strcmp(jsonv_get_str(choice, "type"), "function") || !name) {
            json_object_put(tc);
            return bad(e, "unsupported_value", "tool_choice",
                       "Claude can be made to call a named function tool only.");
        }
        type = "tool";
        add(tc, "name", json_object_get(name));
    }
    if (thinking && (!strcmp(type, "any") || !strcmp(type, "tool"))) {
        json_object_put(tc);
        return bad(e, "unsupported_value", "tool_choice",
                   "Claude cannot be forced to call a tool while thinking is on: use "
                   "tool_choice 'auto', or turn thinking off.");
    }
    add(tc, "type", jstr(type));
    if (ptc && !json_object_get_boolean(ptc) && strcmp(type, "none"))
        add(tc, "disable_parallel_tool_use", json_object_new_boolean(1));
    add(body, "tool_choice", tc);
    return AXON_OK;
}

/* ---- the request ---------------------------------------------------------- */

static long effort_budget(const char *effort)
{
    static const struct {
        const char *name;
        long budget;
    } t[] = {{"minimal", 1024}, {"low", 2048},     {"medium", 4096},
             {"high", 8192},    {"xhigh", 16384},  {"max", 32000}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(effort, t[i].name))
            return t[i].budget;
    return 0; /* "none" */
}

/* The user turn that follows a final assistant message on a model without
 * prefill (Opus and Sonnet 4.6 and newer refuse "assistant message
 * prefill"): the assistant's text stays as history and Claude is asked to
 * carry on from it, which is what a prefill did. */
#define CONTINUE_TEXT "Continue from exactly where your last message stops, without repeating any of it."

static void end_with_user(json_object *body)
{
    json_object *msgs = jsonv_get(body, "messages");
    size_t n = json_object_array_length(msgs);
    const char *role = n ? jsonv_get_str(json_object_array_get_idx(msgs, n - 1), "role") : NULL;
    if (!role || strcmp(role, "assistant"))
        return;
    json_object *c = json_object_new_array();
    json_object_array_add(c, text_block(CONTINUE_TEXT, strlen(CONTINUE_TEXT)));
    json_object *turn = json_object_new_object();
    add(turn, "role", jstr("user"));
    add(turn, "content", c);
    json_object_array_add(msgs, turn);
}

/* What the client asked of thinking, in Axon's `thinking` or in
 * reasoning_effort. */
struct thinking_ask {
    enum { ASK_NOTHING, ASK_OFF, ASK_ON } want;
    long budget;          /* budget_tokens given, else 0 */
    int effort;           /* effort_level asked (minimal counts as low), else -1 */
    const char *display;  /* adaptive's display, borrowed, or NULL */
    const char *field;    /* the request field that asked: "thinking" or "reasoning_effort" */
    bool forced_tool;     /* tool_choice makes the model call a tool */
};

static void thinking_asked(json_object *req, struct thinking_ask *a)
{
    *a = (struct thinking_ask){.want = ASK_NOTHING, .effort = -1, .field = "thinking"};
    json_object *th = jsonv_get(req, "thinking"), *v;
    json_object *tc = jsonv_get(req, "tool_choice");
    if (tc && json_object_is_type(tc, json_type_string))
        a->forced_tool = !strcmp(json_object_get_string(tc), "required");
    else if (tc) {
        const char *type = jsonv_get_str(tc, "type"), *mode = jsonv_get_str(jsonv_get(tc, "allowed_tools"), "mode");
        a->forced_tool = (type && !strcmp(type, "function")) || (mode && !strcmp(mode, "required"));
    }
    const char *effort = jsonv_get_str(req, "reasoning_effort");
    if (th && json_object_is_type(th, json_type_boolean)) {
        a->want = json_object_get_boolean(th) ? ASK_ON : ASK_OFF;
    } else if (th) {
        const char *t = jsonv_get_str(th, "type");
        a->want = t && !strcmp(t, "disabled") ? ASK_OFF : ASK_ON;
        if (t && !strcmp(t, "enabled"))
            a->budget = (v = jsonv_get(th, "budget_tokens")) ? (long)json_object_get_int64(v)
                                                       : THINKING_DEFAULT_BUDGET;
        a->display = jsonv_get_str(th, "display");
    } else if (effort) {
        a->field = "reasoning_effort";
        a->want = strcmp(effort, "none") ? ASK_ON : ASK_OFF;
        a->effort = !strcmp(effort, "minimal") ? EFFORT_LOW : models_effort_level(effort);
        a->budget = effort_budget(effort);
    }
}

/* The effort level a budget stands for (the inverse of effort_budget). */
static int budget_effort(long budget)
{
    return budget <= 2048 ? EFFORT_LOW : budget <= 4096 ? EFFORT_MEDIUM
         : budget <= 8192 ? EFFORT_HIGH : budget <= 16384 ? EFFORT_XHIGH : EFFORT_MAX;
}

/* The level nearest to want that the model takes (lower first), or -1. */
static int effort_supported(unsigned efforts, int want)
{
    for (int l = want; l >= 0; l--)
        if (efforts & (1u << l))
            return l;
    for (int l = want + 1; l < EFFORT_COUNT; l++)
        if (efforts & (1u << l))
            return l;
    return -1;
}

/* Whether the body will think: asked, or the model's own default. */
static bool thinks(const struct model_caps *c, const struct thinking_ask *a)
{
    if (c->thinking == THINKING_NONE ||
        (a->want == ASK_NOTHING && c->unasked == UNASKED_YES && a->forced_tool))
        return false; /* thinking_apply sends {type: disabled} */
    return a->want == ASK_ON || (a->want == ASK_NOTHING && c->unasked != UNASKED_NO) ||
           c->unasked == UNASKED_ALWAYS;
}

bool anthropic_thinks(json_object *req, const struct model *m)
{
    struct thinking_ask a;
    thinking_asked(req, &a);
    return thinks(&m->caps, &a);
}

/* Writes thinking (and output_config.effort) into body as the model takes
 * it. Budget models get {type: enabled, budget_tokens} within max_tokens;
 * adaptive ones {type: adaptive} and the effort level nearest the one
 * asked. Thinking turned off is sent as {type: disabled} only to a model
 * that would think unasked; a model that always thinks is told nothing
 * (and the field is named ignored). */
static int thinking_apply(json_object *body, const struct model *m, const struct thinking_ask *a,
                          long *max_tokens, bool max_given, const char *max_name, bool *thinking,
                          struct chat_plan *info, struct api_error *e)
{
    const struct model_caps *c = &m->caps;
    /* A model that thinks unasked cannot be forced to call a tool: when the
     * client forces one and asked nothing of thinking, turn it off. */
    if (a->want == ASK_NOTHING && c->unasked == UNASKED_YES && a->forced_tool) {
        add(body, "thinking", json_pair("type", "disabled"));
        *thinking = false;
        return AXON_OK;
    }
    *thinking = thinks(c, a);
    if (c->thinking == THINKING_NONE) {
        if (a->want == ASK_ON)
            text_list_add(info->ignored, sizeof info->ignored, a->field);
        *thinking = false;
        return AXON_OK;
    }
    if (a->want == ASK_OFF) {
        if (c->unasked == UNASKED_ALWAYS)
            text_list_add(info->ignored, sizeof info->ignored, a->field);
        else if (c->unasked == UNASKED_YES)
            add(body, "thinking", json_pair("type", "disabled"));
        return AXON_OK;
    }
    if (a->want != ASK_ON)
        return AXON_OK; /* the model's own default, asked for nothing */
    json_object *t = json_object_new_object();
    if (c->thinking == THINKING_ADAPTIVE) {
        add(t, "type", jstr("adaptive"));
        /* The newer models default to display "omitted" (a signature and no
         * text); a client asking for reasoning wants to see it. */
        add(t, "display", jstr(a->display ? a->display : "summarized"));
        add(body, "thinking", t);
        int want = a->effort >= 0 ? a->effort : a->budget ? budget_effort(a->budget) : -1;
        int level = want >= 0 ? effort_supported(c->efforts, want) : -1;
        if (level >= 0) {
            json_object *oc = json_object_new_object();
            add(oc, "effort", jstr(models_effort_name((enum effort_level)level)));
            add(body, "output_config", oc);
        } else if (a->effort >= 0) {
            text_list_add(info->ignored, sizeof info->ignored, "reasoning_effort");
        }
        return AXON_OK;
    }
    /* Budget thinking: budget_tokens must stay below max_tokens, which
     * counts thinking too (as OpenAI's max_completion_tokens counts
     * reasoning). */
    long budget = a->budget ? a->budget : THINKING_DEFAULT_BUDGET;
    if (!max_given && *max_tokens <= budget + 1024)
        *max_tokens = budget + m->max_tokens < m->max_output ? budget + m->max_tokens
                                                             : m->max_output;
    if (budget >= *max_tokens)
        budget = *max_tokens / 2;
    if (budget < THINKING_MIN_BUDGET) {
        json_object_put(t);
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_value", max_name,
                      "Thinking needs %s above %d (Claude's smallest thinking budget is %d "
                      "tokens, and the answer needs room too).",
                      max_name, 2 * THINKING_MIN_BUDGET, THINKING_MIN_BUDGET);
        return AXON_EINVAL;
    }
    add(t, "type", jstr("enabled"));
    add(t, "budget_tokens", json_object_new_int64(budget));
    add(body, "thinking", t);
    return AXON_OK;
}

/* Sampling, as the model takes it: what it cannot take is left out and
 * named in info->ignored, never sent into a 400 the client cannot fix.
 * Claude's temperature range is 0-1: higher values are capped at 1 (see
 * docs/claude.md). With thinking on, temperature may only be 1, top_k must be
 * unset, and top_p must be at least 0.95. */
static void sampling_apply(json_object *req, json_object *body, const struct model_caps *c,
                           bool thinking, struct chat_plan *info)
{
    json_object *temp = jsonv_get(req, "temperature"), *top_p = jsonv_get(req, "top_p");
    json_object *top_k = jsonv_get(req, "top_k");
    bool dflt = c->sampling == SAMPLING_DEFAULT;
    if (temp) {
        double t = json_object_get_double(temp);
        if ((thinking || dflt) && t != 1.0) {
            text_list_add(info->ignored, sizeof info->ignored, "temperature");
            temp = NULL;
        }
    }
    if (top_p) {
        double p = json_object_get_double(top_p);
        if ((thinking && p < 0.95) || (dflt && p < 0.99) || (c->sampling != SAMPLING_ANY && temp)) {
            text_list_add(info->ignored, sizeof info->ignored, "top_p");
            top_p = NULL;
        }
    }
    if (top_k && (thinking || dflt)) {
        text_list_add(info->ignored, sizeof info->ignored, "top_k");
        top_k = NULL;
    }
    if (temp) /* the client's own number, not a re-printed double (0.7 stays 0.7) */
        add(body, "temperature", json_object_get_double(temp) > 1.0 ? json_object_new_double(1.0)
                                                                    : json_object_get(temp));
    if (top_p)
        add(body, "top_p", json_object_get(top_p));
    if (top_k)
        add(body, "top_k", json_object_new_int64(json_object_get_int64(top_k)));
}

/* AXON_PROMPT_CACHE, set once at start (anthropic_set_prompt_cache) before
 * any worker thread runs, then only read. */
static enum prompt_cache prompt_cache_mode = PROMPT_CACHE_AUTO;

void anthropic_set_prompt_cache(enum prompt_cache mode)
{
    prompt_cache_mode = mode;
}

int anthropic_request(json_object *req, const struct model *m, struct buf *out,
                      struct chat_plan *info, struct api_error *e)
{
    json_object *body = json_object_new_object();
    int rc = AXON_OK;
    memset(info, 0, sizeof *info);
    json_object *v;
    info->stream = (v = jsonv_get(req, "stream")) && json_object_get_boolean(v);
    info->include_usage = info->stream && (v = jsonv_get(jsonv_get(req, "stream_options"), "include_usage")) &&
                          json_object_get_boolean(v);
    info->n = (v = jsonv_get(req, "n")) ? (int)json_object_get_int64(v) : 1;
    info->calls = info->n; /* Claude has no n: one call per choice */
    json_object *rf = jsonv_get(req, "response_format");
    const char *rft = jsonv_get_str(rf, "type");
    info->json_mode = rft && !strcmp(rft, "json_object");

    add(body, "model", jstr(m->upstream_id));

    /* Claude fills nothing it cannot honour: logprobs would be a lie. */
    if ((v = jsonv_get(req, "logprobs")) && json_object_get_boolean(v))
        rc = bad(e, "unsupported_parameter", "logprobs",
                 "Unsupported parameter: 'logprobs' is not supported with this model.");
    json_object *mod = jsonv_get(req, "modalities");
    for (size_t i = 0; !rc && mod && i < json_object_array_length(mod); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(mod, i)), "audio"))
            rc = bad(e, "unsupported_value", "modalities",
                     "Unsupported value: 'modalities' does not support 'audio' with this model.");
    if (!rc && jsonv_get(req, "audio"))
        rc = bad(e, "unsupported_parameter", "audio",
                 "Unsupported parameter: 'audio' is not supported with this model.");

    /* max_tokens: Claude requires it; OpenAI's newer name wins. */
    long max_tokens = m->max_tokens;
    bool max_given = false;
    const char *max_name = "max_tokens";
    if ((v = jsonv_get(req, "max_completion_tokens"))) {
        max_tokens = (long)json_object_get_int64(v);
        max_given = true;
        max_name = "max_completion_tokens";
    } else if ((v = jsonv_get(req, "max_tokens"))) {
        max_tokens = (long)json_object_get_int64(v);
        max_given = true;
    }
    if (!rc && max_tokens > m->max_output) {
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_value", max_name,
                      "%s is too large: %ld. This model supports at most %ld completion tokens, "
                      "whereas you provided %ld.", max_name, max_tokens, m->max_output, max_tokens);
        rc = AXON_EINVAL;
    }

    /* Thinking (Axon's `thinking`, else reasoning_effort), as the model
     * takes it; then sampling, as the model and thinking allow. */
    struct thinking_ask ask;
    thinking_asked(req, &ask);
    bool thinking = false;
    if (!rc)
        rc = thinking_apply(body, m, &ask, &max_tokens, max_given, max_name, &thinking, info, e);
    add(body, "max_tokens", json_object_new_int64(max_tokens));
    if (!rc)
        sampling_apply(req, body, &m->caps, thinking, info);

    json_object *stop = jsonv_get(req, "stop");
    if (!rc && stop) {
        json_object *seqs = json_object_new_array();
        if (json_object_is_type(stop, json_type_string)) {
            if (!blank_v(stop))
                json_object_array_add(seqs, json_object_get(stop));
        } else {
            for (size_t i = 0; i < json_object_array_length(stop); i++) {
                json_object *s = json_object_array_get_idx(stop, i);
                if (!blank_v(s)) /* Claude refuses blank ones */
                    json_object_array_add(seqs, json_object_get(s));
            }
        }
        if (json_object_array_length(seqs))
            add(body, "stop_sequences", seqs);
        else
            json_object_put(seqs);
    }
    json_object *user = get_sv(req, "user");
    if (!user)
        user = get_sv(req, "safety_identifier");
    if (!rc && user) {
        json_object *md = json_object_new_object();
        add(md, "user_id", json_object_get(user));
        add(body, "metadata", md);
    }

    int tools_moved = 0;
    if (!rc)
        rc = convert_messages(req, body, info->json_mode, e);
    if (!rc && !m->caps.prefill)
        end_with_user(body);
    if (!rc)
        rc = convert_tools(req, body, thinking, &tools_moved, e);
    if (!rc && tools_moved) /* the calls are checked against the parameters (answer.h) */
        info->tools = jsonv_get(req, "tools");

    if (!rc && rft && !strcmp(rft, "json_schema")) {
        json_object *js = jsonv_get(rf, "json_schema");
        json_object *schema = jsonv_get(js, "schema");
        json_object *cs = NULL;
        int moved = 0;
        if (schema)
            rc = schema_for_claude(schema, CS_STRICT, "response_format.json_schema.schema", &cs,
                                   &moved, e);
        else
            cs = json_object_new_object();
        /* What moved into descriptions Claude no longer enforces: the
         * answer is checked against the client's schema (answer.h). */
        if (!rc && moved) {
            info->schema = schema;
            info->schema_strict = (v = jsonv_get(js, "strict")) && json_object_get_boolean(v);
        }
        if (!rc) {
            json_object *fmt = json_object_new_object();
            add(fmt, "type", jstr("json_schema"));
            add(fmt, "schema", cs);
            json_object *oc = jsonv_get(body, "output_config"); /* it may carry the effort */
            if (!oc) {
                oc = json_object_new_object();
                add(body, "output_config", oc);
            }
            add(oc, "format", fmt);
        }
    }
    if (!rc) {
        info->cache_dropped = pcache_finish(body, req, prompt_cache_mode);
        if (info->cache_dropped)
            log_msg(AXON_LOG_INFO, "prompt cache: %d of the client's breakpoints dropped (Claude "
                    "takes %d)", info->cache_dropped, PCACHE_MAX_BREAKPOINTS);
    }
    /* A long answer is fetched as a stream and answered as one object. */
    info->stream_upstream = !info->stream && max_tokens > NONSTREAM_MAX_TOKENS;
    if (!rc && (info->stream || info->stream_upstream))
        add(body, "stream", json_object_new_boolean(1));

    if (!rc && jsonv_write(out, body)) /* no second copy kept in body (jsonv.h) */
        rc = bad(e, "request_too_large", NULL, "The request is too large.");
    json_object_put(body);
    return rc;
}

#define USER_OPAQUE_MAX 64

/* s[0..n): a NUL ends strspn's count short of n, so such an id is hashed. */
static bool opaque_id(const char *s, size_t n)
{
    if (n == 0 || n > USER_OPAQUE_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

void anthropic_scope_user(json_object *req, const char *tenant)
{
    static const char *const fields[] = {"user", "safety_identifier"};
    for (size_t i = 0; i < 2; i++) {
        json_object *sv = get_sv(req, fields[i]);
        if (!sv || opaque_id(json_object_get_string(sv), slen(sv)))
            continue;
        /* tenant, a NUL, then the value: no two (tenant, value) pairs hash alike. */
        struct buf in = BUF_INIT(ANTH_MAX_BODY);
        unsigned char d[SHA256_LEN];
        char id[5 + 32 + 1] = "axon-";
        if (buf_append(&in, tenant, strlen(tenant) + 1) ||
            buf_append(&in, json_object_get_string(sv), slen(sv))) {
            buf_free(&in);
            json_object_object_del(req, fields[i]); /* cannot happen: user is capped at 16 MiB */
            continue;
        }
        sha256(in.p, in.len, d);
        buf_free(&in);
        text_hex(d, 16, id + 5);
        json_object_object_add(req, fields[i], json_object_new_string(id));
    }
}

/* The key read again from ANTHROPIC_API_KEY_FILE after a session recycle,
 * for every thread of the process; "" until then (cfg's key applies). A
 * fixed array, so nothing is left to free at exit. */
static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static char reloaded_key[CONFIG_MAX_KEY_LEN + 1];

int anthropic_reload_key(const struct axon_config *cfg)
{
    if (!cfg->anthropic_key_file)
        return AXON_OK;
    char *key = NULL, err[256];
    int rc = config_read_secret(cfg->anthropic_key_file, "ANTHROPIC_API_KEY_FILE", &key, err,
                                sizeof err);
    if (rc) {
        log_msg(AXON_LOG_WARN, "%s: keeping the key read before", err);
        return rc;
    }
    pthread_mutex_lock(&key_mu);
    snprintf(reloaded_key, sizeof reloaded_key, "%s", key);
    pthread_mutex_unlock(&key_mu);
    memset(key, 0, strlen(key));
    free(key);
    return AXON_OK;
}

struct curl_slist *anthropic_headers(const struct axon_config *cfg)
{
    char key[CONFIG_MAX_KEY_LEN + 16];
    pthread_mutex_lock(&key_mu);
    snprintf(key, sizeof key, "x-api-key: %s",
             reloaded_key[0] ? reloaded_key : cfg->anthropic_key ? cfg->anthropic_key : "");
    pthread_mutex_unlock(&key_mu);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, key);
    memset(key, 0, sizeof key);
    h = curl_slist_append(h, "anthropic-version: 2023-06-01");
    h = curl_slist_append(h, "content-type: application/json");
    h = curl_slist_append(h, "accept: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue wait on large prompts */
    return h;
}

/* ---- the answer ----------------------------------------------------------- */

const char *anthropic_finish_reason(const char *r)
{
    if (!r)
        return "stop";
    /* pause_turn: Claude stopped a long turn and expects the assistant
     * content back to continue it (SDK StopReason). It is not a finished
     * answer, and OpenAI has no "paused": "length" is the finish reason that
     * tells a client the answer is incomplete. model_context_window_exceeded
     * is the context, not max_tokens, running out: the same for the client. */
    if (!strcmp(r, "max_tokens") || !strcmp(r, "model_context_window_exceeded") ||
        !strcmp(r, "pause_turn"))
        return "length";
    if (!strcmp(r, "tool_use"))
        return "tool_calls";
    if (!strcmp(r, "refusal"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence */
}

void anth_stream_init(struct anth_stream *s, struct answer *out, int choice)
{
    memset(s, 0, sizeof *s);
    s->out = out;
    s->choice = choice;
    buf_init(&s->text, ANTH_MAX_BODY); /* an event is capped lower (AXON_MAX_UPSTREAM_BYTES) */
}

void anth_stream_free(struct anth_stream *s)
{
    buf_free(&s->text);
    free(s->blocks);
    s->blocks = NULL;
    s->nblocks = 0;
}

/* Makes blocks[i] exist (zeroed when new); i < ANTH_MAX_BLOCKS. */
static void blocks_reserve(struct anth_stream *s, int i)
{
    if (i < s->nblocks)
        return;
    int n = s->nblocks ? s->nblocks : 8;
    while (n <= i)
        n *= 2;
    if (n > ANTH_MAX_BLOCKS)
        n = ANTH_MAX_BLOCKS;
    s->blocks = xrealloc(s->blocks, (size_t)n * sizeof *s->blocks);
    memset(s->blocks + s->nblocks, 0, (size_t)(n - s->nblocks) * sizeof *s->blocks);
    s->nblocks = n;
}

static void read_usage(json_object *u, struct usage *to)
{
    json_object *v;
    if ((v = jsonv_get(u, "input_tokens")))
        to->input = oai_tokens(v);
    if ((v = jsonv_get(u, "cache_read_input_tokens")))
        to->cache_read = oai_tokens(v);
    if ((v = jsonv_get(u, "cache_creation_input_tokens")))
        to->cache_write = oai_tokens(v);
    if ((v = jsonv_get(u, "output_tokens")))
        to->output = oai_tokens(v);
    if ((v = jsonv_get(jsonv_get(u, "output_tokens_details"), "thinking_tokens")))
        to->reasoning = oai_tokens(v);
}

static int emit(struct anth_stream *s, struct cev ev)
{
    return answer_event(s->out, s->choice, &ev);
}

static int tool_start(struct anth_stream *s, json_object *cb, int idx)
{
    const char *id = jsonv_get_str(cb, "id");
    json_object *name = get_sv(cb, "name");
    char oid[200];
    id_to_openai(id ? id : "", oid, sizeof oid);
    s->blocks[idx].is_tool = true;
    s->blocks[idx].tool = s->ntools++;
    return emit(s, (struct cev){.kind = CEV_TOOL_START, .s = oid, .n = strlen(oid),
                                .name = name ? json_object_get_string(name) : "",
                                .name_n = name ? slen(name) : 0, .tool = s->blocks[idx].tool});
}

/* OpenAI's words for a prompt over the context window, which clients that
 * trim on context_length_exceeded expect (and the vLLM path sends, see
 * openai.c). Claude says "prompt is too long: 215000 tokens > 200000
 * maximum" (anthropics/claude-code#12186); without both numbers its own
 * words are kept. True when msg is that error. */
static bool too_long(const char *msg, struct api_error *e)
{
    static const char head[] = "prompt is too long: ";
    if (strncmp(msg, head, sizeof head - 1))
        return false;
    char *end;
    long long got = strtoll(msg + sizeof head - 1, &end, 10);
    long long max = 0;
    bool parsed = !strncmp(end, " tokens > ", 10);
    if (parsed) {
        max = strtoll(end + 10, &end, 10);
        parsed = got > 0 && max > 0 && !strncmp(end, " maximum", 8);
    }
    if (parsed)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "context_length_exceeded", "messages",
                      "This model's maximum context length is %lld tokens. However, your "
                      "messages resulted in %lld tokens. Please reduce the length of the "
                      "messages.", max, got);
    else
        api_error_set(e, 400, ERR_INVALID_REQUEST, "context_length_exceeded", "messages", "%s",
                      msg);
    return true;
}

/* Claude's billing refusals: 402 billing_error (the SDK's BillingError), or
 * a 400 "Your credit balance is too low to access the Anthropic API..."
 * (the older form). */
static bool billing(const char *type, const char *msg, int http_status)
{
    return !strcmp(type, "billing_error") || http_status == 402 ||
           strstr(msg, "credit balance is too low") != NULL;
}

/* Anthropic's error types, as OpenAI statuses and codes. */
static void map_error_type(const char *type, const char *msg, int http_status, struct api_error *e)
{
    const char *t = type ? type : "";
    if (billing(t, msg, http_status)) {
        /* An operator problem no retry can fix: OpenAI's own answer for an
         * account out of credit (type and code insufficient_quota, 429), and
         * x-should-retry: false, which the official SDKs obey before the
         * status (openai-node's shouldRetry). The pipeline cools the session (outcome_of). */
        api_error_set(e, 429, "insufficient_quota", "insufficient_quota", NULL,
                      "You exceeded your current quota, please check your plan and billing "
                      "details. (Anthropic: %s)", msg);
        e->no_retry = true;
    } else if ((!strcmp(t, "invalid_request_error") || http_status == 400 || !http_status) &&
               too_long(msg, e)) {
        /* filled */
    } else if (!strcmp(t, "overloaded_error") || http_status == 529)
        api_error_set(e, 503, ERR_SERVER, "server_is_overloaded", NULL,
                      "The upstream model is overloaded, please try again later. (Anthropic: %s)",
                      msg);
    else if (!strcmp(t, "rate_limit_error") || http_status == 429)
        api_error_set(e, 429, "requests", "rate_limit_exceeded", NULL, "%s", msg);
    else if (!strcmp(t, "authentication_error") || !strcmp(t, "permission_error") ||
             http_status == 401 || http_status == 403) {
        api_error_set(e, 502, ERR_SERVER, "upstream_auth_failed", NULL,
                      "The upstream refused Axon's credentials (%s: %s). The operator must fix "
                      "ANTHROPIC_API_KEY; retrying will not help.", t, msg);
        e->no_retry = true;
    } else if (!strcmp(t, "not_found_error") || http_status == 404)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "model_not_found", NULL, "%s", msg);
    else if (!strcmp(t, "request_too_large") || http_status == 413)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "request_too_large", NULL, "%s", msg);
    else if (!strcmp(t, "timeout_error") || http_status == 504)
        api_error_set(e, 504, ERR_SERVER, "upstream_timeout", NULL, "%s", msg);
    else if (!strcmp(t, "invalid_request_error") || (http_status >= 400 && http_status < 500))
        api_error_set(e, http_status >= 400 && http_status < 500 ? http_status : 400,
                      ERR_INVALID_REQUEST, NULL, NULL, "%s", msg);
    else
        api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The upstream failed: %s", msg);
}

void anthropic_http_error(int status, const char *body, size_t n, const char *retry_after,
                          struct api_error *e)
{
    json_object *o = NULL;
    const char *type = NULL, *msg = NULL;
    if (!jsonv_parse(body, n, JSONV_MAX_DEPTH, &o)) {
        json_object *err = jsonv_get(o, "error");
        type = jsonv_get_str(err, "type");
        msg = jsonv_get_str(err, "message");
    }
    char fallback[64];
    snprintf(fallback, sizeof fallback, "HTTP %d from the upstream", status);
    map_error_type(type, msg ? msg : fallback, status, e);
    if (retry_after && *retry_after && !e->no_retry && (e->status == 429 || e->status == 503))
        snprintf(e->retry_after, sizeof e->retry_after, "%s", retry_after);
    json_object_put(o);
}

static int bad_event(struct api_error *e, const char *what)
{
    api_error_set(e, 502, ERR_SERVER, "upstream_protocol_error", NULL,
                  "The upstream sent an invalid answer: %s.", what);
    return AXON_EPROTO;
}

static int block_index(struct anth_stream *s, json_object *ev, struct api_error *e, int *idx)
{
    json_object *v = jsonv_get(ev, "index");
    if (!v || !json_object_is_type(v, json_type_int))
        return bad_event(e, "a content block event without an index");
    int64_t i = json_object_get_int64(v);
    if (i < 0 || i >= ANTH_MAX_BLOCKS)
        return bad_event(e, "a content block index out of range");
    *idx = (int)i;
    blocks_reserve(s, *idx);
    return AXON_OK;
}

static int finish(struct anth_stream *s)
{
    if (s->finished)
        return AXON_OK;
    s->finished = true;
    return emit(s, (struct cev){.kind = CEV_FINISH, .finish = s->finish, .usage = &s->usage});
}

static int on_event(struct anth_stream *s, json_object *ev, struct api_error *e)
{
    const char *type = jsonv_get_str(ev, "type");
    if (!type)
        return bad_event(e, "an event without a type");
    int idx = 0, rc;
    if (!strcmp(type, "message_start")) {
        json_object *msg = jsonv_get(ev, "message");
        read_usage(jsonv_get(msg, "usage"), &s->usage);
        const char *model = jsonv_get_str(msg, "model");
        return emit(s, (struct cev){.kind = CEV_START, .s = model ? model : ""});
    }
    if (!strcmp(type, "content_block_start")) {
        if ((rc = block_index(s, ev, e, &idx)))
            return rc;
        json_object *cb = jsonv_get(ev, "content_block");
        const char *bt = jsonv_get_str(cb, "type");
        s->blocks[idx] = (struct anth_block){0};
        if (bt && !strcmp(bt, "tool_use"))
            return tool_start(s, cb, idx);
        /* Other blocks than text and thinking (server_tool_use,
         * mcp_tool_use, web_search_tool_result, ...) are Claude running a
         * tool of its own: not a call the client could answer, and no
         * OpenAI field holds them. They are not shown (the text Claude
         * writes from them follows) and their argument deltas are skipped,
         * not an error. */
        if (!bt || (strcmp(bt, "text") && strcmp(bt, "thinking") &&
                    strcmp(bt, "redacted_thinking")))
            s->blocks[idx].is_server = true;
        if (bt && !strcmp(bt, "text")) {
            json_object *t = get_sv(cb, "text"); /* "" in practice */
            if (t && slen(t))
                return emit(s, (struct cev){.kind = CEV_TEXT, .s = json_object_get_string(t),
                                            .n = slen(t)});
        } else if (bt && !strcmp(bt, "redacted_thinking")) {
            json_object *data = get_sv(cb, "data"); /* arrives whole, no deltas */
            if (data)
                return emit(s, (struct cev){.kind = CEV_REDACTED,
                                            .s = json_object_get_string(data), .n = slen(data)});
        }
        return AXON_OK;
    }
    if (!strcmp(type, "content_block_delta")) {
        if ((rc = block_index(s, ev, e, &idx)))
            return rc;
        if (s->blocks[idx].is_server)
            return AXON_OK; /* not shown, see content_block_start */
        json_object *d = jsonv_get(ev, "delta");
        const char *dt = jsonv_get_str(d, "type");
        json_object *v = NULL;
        if (!dt)
            return bad_event(e, "a delta without a type");
        if (!strcmp(dt, "text_delta") && (v = jsonv_get(d, "text")))
            return emit(s, (struct cev){.kind = CEV_TEXT, .s = json_object_get_string(v),
                                        .n = (size_t)json_object_get_string_len(v)});
        if (!strcmp(dt, "thinking_delta") && (v = jsonv_get(d, "thinking")))
            return emit(s, (struct cev){.kind = CEV_REASONING, .s = json_object_get_string(v),
                                        .n = (size_t)json_object_get_string_len(v)});
        if (!strcmp(dt, "input_json_delta") && (v = jsonv_get(d, "partial_json"))) {
            if (!s->blocks[idx].is_tool)
                return bad_event(e, "tool arguments outside a tool block");
            if (json_object_get_string_len(v) == 0)
                return AXON_OK;
            s->blocks[idx].had_args = true;
            return emit(s, (struct cev){.kind = CEV_TOOL_ARGS, .tool = s->blocks[idx].tool,
                                        .s = json_object_get_string(v),
                                        .n = (size_t)json_object_get_string_len(v)});
        }
        if (!strcmp(dt, "signature_delta") && (v = jsonv_get(d, "signature")))
            return emit(s, (struct cev){.kind = CEV_SIGNATURE, .s = json_object_get_string(v),
                                        .n = (size_t)json_object_get_string_len(v)});
        return AXON_OK; /* citations_delta, future kinds */
    }
    if (!strcmp(type, "content_block_stop")) {
        if ((rc = block_index(s, ev, e, &idx)))
            return rc;
        struct anth_block *b = &s->blocks[idx];
        if (b->is_tool && !b->had_args) { /* a tool without arguments */
            b->had_args = true;
            return emit(s, (struct cev){.kind = CEV_TOOL_ARGS, .tool = b->tool, .s = "{}", .n = 2});
        }
        return AXON_OK;
    }
    if (!strcmp(type, "message_delta")) {
        json_object *d = jsonv_get(ev, "delta");
        const char *sr = jsonv_get_str(d, "stop_reason");
        if (sr)
            s->finish = anthropic_finish_reason(sr);
        read_usage(jsonv_get(ev, "usage"), &s->usage); /* cumulative counts */
        return AXON_OK;
    }
    if (!strcmp(type, "message_stop"))
        return finish(s);
    if (!strcmp(type, "error")) {
        json_object *err = jsonv_get(ev, "error");
        const char *msg = jsonv_get_str(err, "message");
        map_error_type(jsonv_get_str(err, "type"), msg ? msg : "an error event", 0, e);
        return e->status == 400 || e->no_retry ? AXON_EINVAL : AXON_ERETRY;
    }
    return AXON_OK; /* ping and event types added later */
}

static bool key_is(const char *k, size_t kn, const char *name);
static bool fast_str(struct jsonr *r, struct buf *b, size_t *off, size_t *len);
static bool fast_usage(struct jsonr *r, struct usage *u);

/* {"type":"text_delta","text":"..."}, the text into s->text. */
static bool read_text_delta(struct jsonr *r, struct buf *text)
{
    const char *k;
    size_t kn;
    bool end, type = false, got = false;
    if (!jsonr_char(r, '{'))
        return false;
    for (bool first = true;; first = false) {
        if (!jsonr_key(r, first, &k, &kn, &end))
            return false;
        if (end)
            return type && got;
        if (kn == 4 && !memcmp(k, "type", 4) && !type) {
            if (!jsonr_str_eq(r, "text_delta"))
                return false;
            type = true;
        } else if (kn == 4 && !memcmp(k, "text", 4) && !got) {
            buf_reset(text);
            if (!jsonr_str(r, text))
                return false;
            got = true;
        } else {
            return false; /* another member, or one twice (json-c keeps the last) */
        }
    }
}

/* A content_block_delta with a text_delta, all but a few events of a
 * stream, read in place (jsonr.h): the json-c tree cost four fifths of
 * such an event's work (callgrind). *handled false: the event is not
 * exactly that shape, or holds what the reader leaves to json-c (a \u
 * escape, say), and the caller parses it whole, so that every answer, an
 * error included, is the one on_event gives. */
static int text_delta_fast(struct anth_stream *s, const char *data, size_t n,
                           struct api_error *e, bool *handled)
{
    struct jsonr r;
    const char *k;
    size_t kn;
    bool end, type = false, index = false, delta = false;
    long idx = 0;
    *handled = false;
    jsonr_init(&r, data, n);
    if (!jsonr_char(&r, '{'))
        return AXON_OK;
    for (bool first = true;; first = false) {
        if (!jsonr_key(&r, first, &k, &kn, &end))
            return AXON_OK;
        if (end)
            break;
        if (kn == 4 && !memcmp(k, "type", 4) && !type) {
            if (!jsonr_str_eq(&r, "content_block_delta"))
                return AXON_OK;
            type = true;
        } else if (kn == 5 && !memcmp(k, "index", 5) && !index) {
            if (!jsonr_uint(&r, &idx) || idx >= ANTH_MAX_BLOCKS)
                return AXON_OK;
            index = true;
        } else if (kn == 5 && !memcmp(k, "delta", 5) && !delta) {
            if (!read_text_delta(&r, &s->text))
                return AXON_OK;
            delta = true;
        } else {
            return AXON_OK;
        }
    }
    if (!type || !index || !delta || !jsonr_done(&r))
        return AXON_OK;
    *handled = true;
    int i = (int)idx;
    blocks_reserve(s, i); /* as block_index does */
    (void)e;
    if (s->blocks[i].is_server)
        return AXON_OK; /* not shown, see content_block_start */
    return emit(s, (struct cev){.kind = CEV_TEXT, .s = s->text.p ? s->text.p : "",
                                .n = s->text.len});
}

/* {"stop_reason":...} and what else a message_delta's delta holds. */
static bool fast_stop(struct jsonr *r, struct buf *b, size_t *off, bool *has)
{
    const char *k;
    size_t kn, len;
    bool end, seen = false;
    if (!jsonr_char(r, '{'))
        return false;
    for (bool first = true;; first = false) {
        if (!jsonr_key(r, first, &k, &kn, &end))
            return false;
        if (end)
            return true;
        if (key_is(k, kn, "stop_reason")) {
            if (seen)
                return false;
            seen = true;
            if (!jsonr_null(r)) {
                if (!fast_str(r, b, off, &len))
                    return false;
                *has = true;
            }
        } else if (!jsonr_skip(r)) {
            return false;
        }
    }
}

/* message_start's message: its model and usage, the rest read over. */
static bool fast_start(struct jsonr *r, struct buf *b, size_t *off, bool *has, struct usage *u)
{
    const char *k;
    size_t kn, len;
    bool end, model = false, usage = false;
    if (!jsonr_char(r, '{'))
        return false;
    for (bool first = true;; first = false) {
        if (!jsonr_key(r, first, &k, &kn, &end))
            return false;
        if (end)
            return true;
        if (key_is(k, kn, "model")) {
            if (model)
                return false;
            model = true;
            if (!jsonr_null(r)) {
                if (!fast_str(r, b, off, &len))
                    return false;
                *has = true;
            }
        } else if (key_is(k, kn, "usage")) {
            if (usage || !fast_usage(r, u))
                return false;
            usage = true;
        } else if (!jsonr_skip(r)) {
            return false;
        }
    }
}

/* The stream's other frequent events, read in place as text_delta_fast
 * reads deltas: message_start, message_delta, content_block_stop, ping and
 * message_stop (the json-c tree of each cost as much as four deltas).
 * *handled false for anything else, a content_block_start included, and
 * for a member the tree would not read, so that only the shapes whose every
 * member is understood skip it. Nothing of s but its scratch text changes
 * unless handled. */
static int event_fast(struct anth_stream *s, const char *data, size_t n, bool *handled)
{
    enum { EV_START, EV_DELTA, EV_STOP_BLOCK, EV_PING, EV_STOP, EV_N };
    static const char *const types[EV_N] = {"message_start", "message_delta",
                                            "content_block_stop", "ping", "message_stop"};
    struct jsonr r;
    struct buf *b = &s->text;
    struct usage u = s->usage;
    const char *k;
    size_t kn, len, toff = 0, soff = 0;
    bool end, has_str = false, seen_type = false, seen_index = false, seen_usage = false;
    int type = -1, body = 0; /* body: 1 a "message" member, 2 a "delta" member */
    long idx = 0;
    *handled = false;
    buf_reset(b);
    jsonr_init(&r, data, n);
    if (!jsonr_char(&r, '{'))
        return AXON_OK;
    for (bool first = true;; first = false) {
        if (!jsonr_key(&r, first, &k, &kn, &end))
            return AXON_OK;
        if (end)
            break;
        if (key_is(k, kn, "type")) {
            if (seen_type || !fast_str(&r, b, &toff, &len))
                return AXON_OK;
            for (int i = 0; i < EV_N; i++)
                if (len == strlen(types[i]) && !memcmp(b->p + toff, types[i], len))
                    type = i;
            if (type < 0)
                return AXON_OK;
            seen_type = true;
        } else if (key_is(k, kn, "index")) {
            if (seen_index || !jsonr_uint(&r, &idx) || idx >= ANTH_MAX_BLOCKS)
                return AXON_OK;
            seen_index = true;
        } else if (key_is(k, kn, "message")) {
            if (body || !fast_start(&r, b, &soff, &has_str, &u))
                return AXON_OK;
            body = 1;
        } else if (key_is(k, kn, "delta")) {
            if (body || !fast_stop(&r, b, &soff, &has_str))
                return AXON_OK;
            body = 2;
        } else if (key_is(k, kn, "usage")) {
            if (seen_usage || !fast_usage(&r, &u))
                return AXON_OK;
            seen_usage = true;
        } else {
            return AXON_OK;
        }
    }
    if (!seen_type || !jsonr_done(&r))
        return AXON_OK;
    /* Each type with only the members the tree reads of it. */
    switch (type) {
    case EV_START:
        if (body != 1 || seen_index || seen_usage)
            return AXON_OK;
        break;
    case EV_DELTA:
        if (body == 1 || seen_index)
            return AXON_OK;
        break;
    case EV_STOP_BLOCK:
        if (body || !seen_index || seen_usage)
            return AXON_OK;
        break;
    default:
        if (body || seen_index || seen_usage)
            return AXON_OK;
    }
    *handled = true;
    const char *str = has_str ? b->p + soff : NULL;
    switch (type) {
    case EV_START:
        s->usage = u;
        return emit(s, (struct cev){.kind = CEV_START, .s = str ? str : ""});
    case EV_DELTA:
        if (str)
            s->finish = anthropic_finish_reason(str);
        s->usage = u; /* cumulative counts */
        return AXON_OK;
    case EV_STOP_BLOCK: {
        int i = (int)idx;
        blocks_reserve(s, i); /* as block_index does */
        struct anth_block *bl = &s->blocks[i];
        if (bl->is_tool && !bl->had_args) { /* a tool without arguments */
            bl->had_args = true;
            return emit(s, (struct cev){.kind = CEV_TOOL_ARGS, .tool = bl->tool, .s = "{}", .n = 2});
        }
        return AXON_OK;
    }
    case EV_STOP:
        return finish(s);
    default:
        return AXON_OK; /* ping */
    }
}

int anth_stream_event(struct anth_stream *s, const char *event, const char *data, size_t n,
                      struct api_error *e)
{
    (void)event; /* the data's "type" says the same, and is what we trust */
    bool handled;
    int rc = text_delta_fast(s, data, n, e, &handled);
    if (!handled)
        rc = event_fast(s, data, n, &handled);
    return handled ? rc : anth_stream_event_tree(s, data, n, e);
}

int anth_stream_event_tree(struct anth_stream *s, const char *data, size_t n,
                           struct api_error *e)
{
    json_object *ev = NULL;
    if (jsonv_parse(data, n, JSONV_MAX_DEPTH, &ev) || !json_object_is_type(ev, json_type_object)) {
        json_object_put(ev);
        return bad_event(e, "an event that is not a JSON object");
    }
    int rc = on_event(s, ev, e);
    json_object_put(ev);
    return rc;
}

int anth_stream_end(struct anth_stream *s, struct api_error *e)
{
    if (s->finished)
        return AXON_OK;
    if (s->finish) /* message_delta came; only message_stop is missing */
        return finish(s);
    return bad_event(e, "the stream ended before the answer was complete");
}

#define FAST_TEXTS 8 /* text blocks an answer read in place may have */

static bool key_is(const char *k, size_t kn, const char *name)
{
    return kn == strlen(name) && !memcmp(k, name, kn);
}

/* A string value appended to b, a NUL after it: where it starts, how long. */
static bool fast_str(struct jsonr *r, struct buf *b, size_t *off, size_t *len)
{
    *off = b->len;
    if (!jsonr_str(r, b))
        return false;
    *len = b->len - *off;
    return buf_append(b, "", 1) == AXON_OK;
}

/* The usage object as read_usage reads it, into u. */
static bool fast_usage(struct jsonr *r, struct usage *u)
{
    static const char *const names[] = {"input_tokens", "cache_read_input_tokens",
                                        "cache_creation_input_tokens", "output_tokens"};
    long *const to[] = {&u->input, &u->cache_read, &u->cache_write, &u->output};
    const char *k;
    size_t kn;
    bool end;
    unsigned seen = 0;
    if (jsonr_null(r))
        return true; /* as no usage at all */
    if (!jsonr_char(r, '{'))
        return false;
    for (bool first = true;; first = false) {
        if (!jsonr_key(r, first, &k, &kn, &end))
            return false;
        if (end)
            return true;
        int w = -1;
        for (int i = 0; i < 4; i++)
            if (key_is(k, kn, names[i]))
                w = i;
        long v;
        if (w >= 0) {
            if (seen & (1u << w))
                return false; /* twice: json-c keeps the last, the tree knows */
            seen |= 1u << w;
            if (jsonr_null(r))
                continue; /* null is unset (jsonv_get) */
            if (!jsonr_uint(r, &v))
                return false;
            *to[w] = v; /* oai_tokens(): nine digits are in its range */
        } else if (key_is(k, kn, "output_tokens_details") || !jsonr_skip(r)) {
            return false; /* its thinking_tokens: the tree's */
        }
    }
}

/* The content array when it holds text blocks only (at most FAST_TEXTS):
 * each text appended to b, where it starts in off[], its length in len[]. */
static bool fast_content(struct jsonr *r, struct buf *b, size_t *off, size_t *len, int *nt)
{
    const char *k;
    size_t kn;
    bool end;
    if (!jsonr_char(r, '['))
        return false;
    if (jsonr_char(r, ']'))
        return true;
    for (;;) {
        bool type = false, text = false;
        if (*nt == FAST_TEXTS || !jsonr_char(r, '{'))
            return false;
        for (bool first = true;; first = false) {
            if (!jsonr_key(r, first, &k, &kn, &end))
                return false;
            if (end)
                break;
            if (key_is(k, kn, "type")) {
                if (type || !jsonr_str_eq(r, "text"))
                    return false; /* thinking, tool_use...: the tree's */
                type = true;
            } else if (key_is(k, kn, "text")) {
                if (text || !fast_str(r, b, &off[*nt], &len[*nt]))
                    return false;
                text = true;
            } else if (!jsonr_skip(r)) { /* citations, and what comes later */
                return false;
            }
        }
        if (!type || !text)
            return false;
        (*nt)++;
        if (jsonr_char(r, ']'))
            return true;
        if (!jsonr_char(r, ','))
            return false;
    }
}

/* A Messages response of text blocks, read in place (jsonr.h): the json-c
 * tree of a short answer cost about as much as all the rest of Axon's work
 * on it (callgrind). *handled false: anything else (a tool call, thinking,
 * a \u escape, a member twice...), which the caller parses whole, so that
 * every answer and every error is the one the tree gives. Nothing of s
 * but its scratch text changes unless handled. */
static int message_fast(struct anth_stream *s, const char *body, size_t n, bool *handled)
{
    struct jsonr r;
    struct buf *b = &s->text;
    struct usage u = s->usage;
    size_t off[FAST_TEXTS], len[FAST_TEXTS], moff = 0, mlen = 0, soff = 0, sn = 0;
    const char *k;
    size_t kn;
    int nt = 0;
    bool end, type = false, content = false, model = false, stop = false, usage = false;
    bool has_model = false, has_stop = false;
    *handled = false;
    buf_reset(b);
    jsonr_init(&r, body, n);
    if (!jsonr_char(&r, '{'))
        return AXON_OK;
    for (bool first = true;; first = false) {
        if (!jsonr_key(&r, first, &k, &kn, &end))
            return AXON_OK;
        if (end)
            break;
        if (key_is(k, kn, "type")) {
            if (type || !jsonr_str_eq(&r, "message"))
                return AXON_OK;
            type = true;
        } else if (key_is(k, kn, "content")) {
            if (content || !fast_content(&r, b, off, len, &nt))
                return AXON_OK;
            content = true;
        } else if (key_is(k, kn, "model")) {
            if (model)
                return AXON_OK;
            model = true;
            if (!jsonr_null(&r)) {
                if (!fast_str(&r, b, &moff, &mlen))
                    return AXON_OK;
                has_model = true;
            }
        } else if (key_is(k, kn, "stop_reason")) {
            if (stop)
                return AXON_OK;
            stop = true;
            if (!jsonr_null(&r)) {
                if (!fast_str(&r, b, &soff, &sn))
                    return AXON_OK;
                has_stop = true;
            }
        } else if (key_is(k, kn, "usage")) {
            if (usage || !fast_usage(&r, &u))
                return AXON_OK;
            usage = true;
        } else if (!jsonr_skip(&r)) { /* id, role, stop_sequence, container... */
            return AXON_OK;
        }
    }
    if (!type || !content || !jsonr_done(&r))
        return AXON_OK;
    *handled = true;
    (void)mlen;
    (void)sn;
    const char *base = b->p ? b->p : "";
    int rc = emit(s, (struct cev){.kind = CEV_START, .s = has_model ? base + moff : ""});
    for (int i = 0; !rc && i < nt; i++)
        rc = emit(s, (struct cev){.kind = CEV_TEXT, .s = base + off[i], .n = len[i]});
    if (!rc) {
        s->finish = anthropic_finish_reason(has_stop ? base + soff : NULL);
        s->usage = u;
        rc = finish(s);
    }
    return rc;
}

int anth_message(struct anth_stream *s, const char *body, size_t n, struct api_error *e)
{
    bool handled;
    int rc = message_fast(s, body, n, &handled);
    return handled ? rc : anth_message_tree(s, body, n, e);
}

int anth_message_tree(struct anth_stream *s, const char *body, size_t n, struct api_error *e)
{
    json_object *msg = NULL;
    if (jsonv_parse(body, n, JSONV_MAX_DEPTH, &msg) || !json_object_is_type(msg, json_type_object)) {
        json_object_put(msg);
        return bad_event(e, "a body that is not a JSON object");
    }
    int rc = AXON_OK;
    const char *type = jsonv_get_str(msg, "type");
    json_object *content = jsonv_get(msg, "content");
    if (!type || strcmp(type, "message") || !content ||
        !json_object_is_type(content, json_type_array)) {
        rc = bad_event(e, "a body that is not a Messages response");
        goto out;
    }
    const char *model = jsonv_get_str(msg, "model");
    rc = emit(s, (struct cev){.kind = CEV_START, .s = model ? model : ""});
    size_t nb = json_object_array_length(content);
    for (size_t i = 0; !rc && i < nb && i < ANTH_MAX_BLOCKS; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *bt = jsonv_get_str(b, "type");
        json_object *v;
        if (!bt)
            continue;
        if (!strcmp(bt, "text") && (v = jsonv_get(b, "text")))
            rc = emit(s, (struct cev){.kind = CEV_TEXT, .s = json_object_get_string(v),
                                      .n = (size_t)json_object_get_string_len(v)});
        else if (!strcmp(bt, "thinking") && (v = jsonv_get(b, "thinking"))) {
            rc = emit(s, (struct cev){.kind = CEV_REASONING, .s = json_object_get_string(v),
                                      .n = (size_t)json_object_get_string_len(v)});
            json_object *sig = get_sv(b, "signature");
            if (!rc)
                rc = emit(s, (struct cev){.kind = CEV_SIGNATURE,
                                          .s = sig ? json_object_get_string(sig) : "",
                                          .n = sig ? slen(sig) : 0});
        } else if (!strcmp(bt, "redacted_thinking") && (v = jsonv_get(b, "data")))
            rc = emit(s, (struct cev){.kind = CEV_REDACTED, .s = json_object_get_string(v),
                                      .n = (size_t)json_object_get_string_len(v)});
        else if (!strcmp(bt, "tool_use")) {
            blocks_reserve(s, (int)i);
            rc = tool_start(s, b, (int)i);
            json_object *input = jsonv_get(b, "input");
            size_t len = 2;
            const char *args = input ? json_object_to_json_string_length(
                                           input, JSONV_OUT, &len)
                                     : "{}";
            if (!rc)
                rc = emit(s, (struct cev){.kind = CEV_TOOL_ARGS, .tool = s->blocks[i].tool,
                                          .s = args, .n = len});
        }
    }
    if (!rc) {
        s->finish = anthropic_finish_reason(jsonv_get_str(msg, "stop_reason"));
        read_usage(jsonv_get(msg, "usage"), &s->usage);
        rc = finish(s);
    }
out:
    json_object_put(msg);
    return rc;
}

/* ---- the provider ----------------------------------------------------------- */

static struct curl_slist *headers_of(const struct axon_config *cfg, const struct endpoint *ep)
{
    (void)ep;
    return anthropic_headers(cfg);
}

static void init_of(void *st, struct answer *out, int first)
{
    anth_stream_init(st, out, first);
}

static void fini_of(void *st)
{
    anth_stream_free(st);
}

static int event_of(void *st, const char *event, const char *data, size_t n, struct api_error *e)
{
    return anth_stream_event(st, event, data, n, e);
}

static int end_of(void *st, struct api_error *e)
{
    return anth_stream_end(st, e);
}

static int body_of(void *st, const char *p, size_t n, struct api_error *e)
{
    return anth_message(st, p, n, e);
}

const struct provider_ops provider_anthropic = {
    .name = "anthropic",
    .path = "/v1/messages",
    .request = anthropic_request,
    .headers = headers_of,
    .init = init_of,
    .fini = fini_of,
    .up = {.state_size = sizeof(struct anth_stream),
           .event = event_of,
           .end = end_of,
           .body = body_of,
           .http_error = anthropic_http_error},
    .reload_key = anthropic_reload_key,
};
