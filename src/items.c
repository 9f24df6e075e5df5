/* items.c - stored chat messages seen as Responses items (items.h).
 *
 * Every stored message passed oai_validate_chat once (conv.c checks it
 * again when it loads), so the shapes here are chat's: content a string or
 * a list of text / image_url / file / refusal parts. A part chat has that
 * no item part matches (input_audio) is left out of the view rather than
 * shown as something it is not. */
#include "items.h"

#include <string.h>

#include "jsonv.h"

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

bool items_is_tombstone(json_object *msg)
{
    json_object *d = jsonv_member(msg, "deleted");
    return json_object_is_type(d, json_type_boolean) && json_object_get_boolean(d) &&
           !jsonv_member(msg, "role");
}

/* A new item of type with its derived id; NULL when the id cannot be made. */
static json_object *item_new(const char *type, enum resp_item_kind kind, const char *conv_id,
                             long pos, int part)
{
    char id[RESP_ITEM_ID_MAX + 1];
    if (resp_item_id_make(kind, conv_id, pos, part, id))
        return NULL;
    json_object *it = json_object_new_object();
    add(it, "id", jstr(id));
    add(it, "type", jstr(type));
    return it;
}

/* chat's image_url part as an input_image (the spec requires detail: chat's
 * own default is auto). */
static json_object *image_part(json_object *p)
{
    json_object *iu = jsonv_member(p, "image_url");
    json_object *url = json_object_is_type(iu, json_type_string) ? iu : jsonv_member_sv(iu, "url");
    json_object *detail = jsonv_member_sv(iu, "detail");
    if (!url)
        return NULL;
    json_object *o = json_object_new_object();
    add(o, "type", jstr("input_image"));
    add(o, "image_url", jsonv_str_dup(url));
    add(o, "detail", detail ? jsonv_str_dup(detail) : jstr("auto"));
    return o;
}

/* chat's file part as an input_file. */
static json_object *file_part(json_object *p)
{
    json_object *f = jsonv_member(p, "file"), *v;
    json_object *o = json_object_new_object();
    add(o, "type", jstr("input_file"));
    if ((v = jsonv_member_sv(f, "filename")))
        add(o, "filename", jsonv_str_dup(v));
    if ((v = jsonv_member_sv(f, "file_data")))
        add(o, "file_data", jsonv_str_dup(v));
    if ((v = jsonv_member_sv(f, "file_id")))
        add(o, "file_id", jsonv_str_dup(v));
    return o;
}

static json_object *text_item_part(const char *type, json_object *text)
{
    json_object *o = json_object_new_object();
    add(o, "type", jstr(type));
    add(o, "text", jsonv_str_dup(text));
    if (!strcmp(type, "output_text")) { /* OutputTextContent requires both */
        add(o, "annotations", json_object_new_array());
        add(o, "logprobs", json_object_new_array());
    }
    return o;
}

/* content (a string or chat's parts, borrowed) as item parts, text parts
 * typed text_type; into parts (a new array). */
static json_object *parts_of(json_object *content, const char *text_type)
{
    json_object *parts = json_object_new_array();
    if (json_object_is_type(content, json_type_string)) {
        json_object_array_add(parts, text_item_part(text_type, content));
        return parts;
    }
    if (!json_object_is_type(content, json_type_array))
        return parts;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *p = json_object_array_get_idx(content, i), *v;
        const char *t = jsonv_member_str(p, "type");
        json_object *o = NULL;
        if (!t)
            continue;
        if (!strcmp(t, "text") && (v = jsonv_member_sv(p, "text")))
            o = text_item_part(text_type, v);
        else if (!strcmp(t, "refusal") && (v = jsonv_member_sv(p, "refusal"))) {
            o = json_object_new_object();
            add(o, "type", jstr("refusal"));
            add(o, "refusal", jsonv_str_dup(v));
        } else if (!strcmp(t, "image_url"))
            o = image_part(p);
        else if (!strcmp(t, "file"))
            o = file_part(p);
        if (o)
            json_object_array_add(parts, o);
    }
    return parts;
}

/* A user, system or developer message: one message item. */
static int input_message(json_object *msg, const char *role, const char *conv_id, long pos,
                         json_object *out)
{
    json_object *it = item_new("message", RESP_ITEM_MESSAGE, conv_id, pos, 0);
    if (!it)
        return AXON_EINVAL;
    add(it, "status", jstr("completed"));
    add(it, "role", jstr(role));
    add(it, "content", parts_of(jsonv_member(msg, "content"), "input_text"));
    json_object_array_add(out, it);
    return AXON_OK;
}

/* A tool message: one function_call_output item. output stays a string
 * when it was one; chat's text parts become input_text parts. */
static int tool_message(json_object *msg, const char *conv_id, long pos, json_object *out)
{
    json_object *cid = jsonv_member_sv(msg, "tool_call_id");
    json_object *c = jsonv_member(msg, "content");
    json_object *it = item_new("function_call_output", RESP_ITEM_CALL_OUTPUT, conv_id, pos, 0);
    if (!it)
        return AXON_EINVAL;
    add(it, "call_id", cid ? jsonv_str_dup(cid) : jstr(""));
    add(it, "output", json_object_is_type(c, json_type_string) ? jsonv_str_dup(c)
                                                               : parts_of(c, "input_text"));
    add(it, "status", jstr("completed"));
    json_object_array_add(out, it);
    return AXON_OK;
}

/* An assistant message: reasoning, message, then one function_call per
 * tool call, each only when the message has what it shows. Built into a
 * scratch array first so that a failure leaves out unchanged. */
static int assistant_message(json_object *msg, const char *conv_id, long pos, unsigned flags,
                             json_object *out)
{
    json_object *rc_text = jsonv_member_sv(msg, "reasoning_content");
    json_object *tb = jsonv_member(msg, "thinking_blocks");
    bool has_tb = json_object_is_type(tb, json_type_array) && json_object_array_length(tb) > 0;
    json_object *c = jsonv_member(msg, "content"), *refusal = jsonv_member_sv(msg, "refusal");
    json_object *calls = jsonv_member(msg, "tool_calls");
    json_object *got = json_object_new_array();
    int rc = AXON_OK;

    if ((rc_text && json_object_get_string_len(rc_text) > 0) || has_tb) {
        json_object *it = item_new("reasoning", RESP_ITEM_REASONING, conv_id, pos, 0);
        if (!it) {
            rc = AXON_EINVAL;
            goto out;
        }
        json_object *summary = json_object_new_array();
        if (rc_text && json_object_get_string_len(rc_text) > 0) {
            json_object *s = json_object_new_object();
            add(s, "type", jstr("summary_text"));
            add(s, "text", jsonv_str_dup(rc_text));
            json_object_array_add(summary, s);
        }
        add(it, "summary", summary);
        add(it, "status", jstr("completed"));
        /* The signed blocks are Claude's to check and Axon's to replay: a
         * client sees them only sealed, which the caller does. */
        if (has_tb && (flags & ITEMS_KEEP_THINKING))
            add(it, "thinking_blocks", json_object_get(tb));
        json_object_array_add(got, it);
    }

    bool has_content = (json_object_is_type(c, json_type_string) &&
                        json_object_get_string_len(c) > 0) ||
                       (json_object_is_type(c, json_type_array) && json_object_array_length(c));
    if (has_content || refusal) {
        json_object *it = item_new("message", RESP_ITEM_MESSAGE, conv_id, pos, 1);
        if (!it) {
            rc = AXON_EINVAL;
            goto out;
        }
        add(it, "status", jstr("completed"));
        add(it, "role", jstr("assistant"));
        json_object *parts = has_content ? parts_of(c, "output_text") : json_object_new_array();
        if (refusal) {
            json_object *r = json_object_new_object();
            add(r, "type", jstr("refusal"));
            add(r, "refusal", jsonv_str_dup(refusal));
            json_object_array_add(parts, r);
        }
        add(it, "content", parts);
        json_object_array_add(got, it);
    }

    size_t n = json_object_is_type(calls, json_type_array) ? json_object_array_length(calls) : 0;
    for (size_t k = 0; k < n; k++) {
        json_object *call = json_object_array_get_idx(calls, k);
        json_object *fn = jsonv_member(call, "function");
        json_object *cid = jsonv_member_sv(call, "id"), *name = jsonv_member_sv(fn, "name");
        json_object *args = jsonv_member_sv(fn, "arguments");
        json_object *it = k + 2 <= RESP_PART_MAX
                              ? item_new("function_call", RESP_ITEM_CALL, conv_id, pos, (int)k + 2)
                              : NULL;
        if (!it) {
            rc = AXON_EINVAL;
            goto out;
        }
        add(it, "call_id", cid ? jsonv_str_dup(cid) : jstr(""));
        add(it, "name", name ? jsonv_str_dup(name) : jstr(""));
        add(it, "arguments", args ? jsonv_str_dup(args) : jstr("{}"));
        add(it, "status", jstr("completed"));
        json_object_array_add(got, it);
    }

    for (size_t i = 0; i < json_object_array_length(got); i++)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(got, i)));
out:
    json_object_put(got);
    return rc;
}

int items_from_message_opt(json_object *msg, const char *conv_id, long pos, unsigned flags,
                           json_object *out_items)
{
    if (!json_object_is_type(msg, json_type_object))
        return AXON_EPROTO;
    if (items_is_tombstone(msg))
        return AXON_OK;
    const char *role = jsonv_member_str(msg, "role");
    if (!role)
        return AXON_EPROTO;
    if (!strcmp(role, "user") || !strcmp(role, "system") || !strcmp(role, "developer"))
        return input_message(msg, role, conv_id, pos, out_items);
    if (!strcmp(role, "tool"))
        return tool_message(msg, conv_id, pos, out_items);
    if (!strcmp(role, "assistant"))
        return assistant_message(msg, conv_id, pos, flags, out_items);
    return AXON_EPROTO;
}

int items_from_message(json_object *msg, const char *conv_id, long pos, json_object *out_items)
{
    return items_from_message_opt(msg, conv_id, pos, 0, out_items);
}

int items_pick(json_object *msg, const char *conv_id, long pos, const char *item_id,
               unsigned flags, json_object **item)
{
    *item = NULL;
    json_object *all = json_object_new_array();
    int rc = items_from_message_opt(msg, conv_id, pos, flags, all);
    for (size_t i = 0; !rc && i < json_object_array_length(all); i++) {
        json_object *it = json_object_array_get_idx(all, i);
        const char *id = jsonv_member_str(it, "id");
        if (id && !strcmp(id, item_id)) {
            *item = json_object_get(it);
            break;
        }
    }
    json_object_put(all);
    if (rc)
        return rc;
    return *item ? AXON_OK : AXON_ENOTFOUND;
}
