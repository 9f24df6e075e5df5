/* oai_legacy.c - deprecated function calling carried on tools (see
 * oai_legacy.h). The spec's shapes: CreateChatCompletionRequest.functions
 * and function_call, ChatCompletionRequestAssistantMessage.function_call,
 * ChatCompletionRequestFunctionMessage (openai-openapi.yaml). */
#include "oai_legacy.h"

#include "jsonv.h"

#include <stdio.h>
#include <string.h>

/* Calls of one assistant message that a function message may answer; the
 * validator caps nothing here, so later calls simply cannot be paired. */
#define MAX_PENDING 128

struct pending {
    /* String objects, borrowed from the rewritten messages array: compared
     * and copied by length, as a \u0000 inside is part of them. */
    json_object *id, *name;
    bool answered;
};


static bool role_is(json_object *m, const char *role)
{
    const char *r = jsonv_member_str(m, "role");
    return r && !strcmp(r, role);
}

/* functions[k] -> {type:function, function: functions[k]}: the two
 * definitions have the same fields (name, description, parameters). */
static json_object *tools_of(json_object *functions)
{
    json_object *tools = json_object_new_array();
    for (size_t k = 0; k < json_object_array_length(functions); k++) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "type", json_object_new_string("function"));
        json_object_object_add(t, "function",
                               json_object_get(json_object_array_get_idx(functions, k)));
        json_object_array_add(tools, t);
    }
    return tools;
}

/* "none" / "auto" stay; {name} -> {type:function, function:{name}}. */
static json_object *choice_of(json_object *fc)
{
    if (json_object_is_type(fc, json_type_string))
        return json_object_get(fc);
    json_object *c = json_object_new_object(), *fn = json_object_new_object();
    json_object_object_add(fn, "name", json_object_get(jsonv_member(fc, "name")));
    json_object_object_add(c, "type", json_object_new_string("function"));
    json_object_object_add(c, "function", fn);
    return c;
}

/* The assistant message at position i with its function_call moved into
 * tool_calls, after any tool_calls it already has. Returns new. */
static json_object *assistant_of(json_object *m, size_t i)
{
    json_object *fc = jsonv_member(m, "function_call"), *calls = json_object_new_array();
    json_object *copy = json_object_new_object();
    json_object_object_foreach(m, key, val)
    {
        if (strcmp(key, "function_call") && strcmp(key, "tool_calls"))
            json_object_object_add(copy, key, json_object_get(val));
    }
    json_object *had = jsonv_member(m, "tool_calls");
    for (size_t k = 0; had && k < json_object_array_length(had); k++)
        json_object_array_add(calls, json_object_get(json_object_array_get_idx(had, k)));
    char id[48];
    snprintf(id, sizeof id, OAI_LEGACY_ID_PREFIX "%zu", i);
    json_object *call = json_object_new_object(), *fn = json_object_new_object();
    json_object_object_add(fn, "name", json_object_get(jsonv_member(fc, "name")));
    json_object_object_add(fn, "arguments", json_object_get(jsonv_member(fc, "arguments")));
    json_object_object_add(call, "id", json_object_new_string(id));
    json_object_object_add(call, "type", json_object_new_string("function"));
    json_object_object_add(call, "function", fn);
    json_object_array_add(calls, call);
    json_object_object_add(copy, "tool_calls", calls);
    return copy;
}

/* Remembers the calls of assistant message m as the ones now awaiting results. */
static size_t pending_of(json_object *m, struct pending *p)
{
    json_object *calls = jsonv_member(m, "tool_calls");
    size_t n = 0;
    for (size_t k = 0; calls && k < json_object_array_length(calls) && n < MAX_PENDING; k++) {
        json_object *c = json_object_array_get_idx(calls, k);
        json_object *id = jsonv_member_sv(c, "id");
        if (id)
            p[n++] = (struct pending){.id = id, .name = jsonv_member_sv(jsonv_member(c, "function"), "name")};
    }
    return n;
}

/* The call a function message named `name` answers: the first unanswered
 * one of that name, else the first unanswered one (a client may rename). */
static struct pending *answered_call(struct pending *p, size_t n, json_object *name)
{
    for (size_t k = 0; k < n; k++)
        if (!p[k].answered && jsonv_str_eq(p[k].name, name))
            return &p[k];
    for (size_t k = 0; k < n; k++)
        if (!p[k].answered)
            return &p[k];
    return NULL;
}

static json_object *tool_message(json_object *id, json_object *content)
{
    json_object *t = json_object_new_object();
    json_object_object_add(t, "role", json_object_new_string("tool"));
    json_object_object_add(t, "tool_call_id", json_object_get(id));
    /* content may be null in a function message, never in a tool message */
    json_object_object_add(t, "content", content ? json_object_get(content)
                                                 : json_object_new_string(""));
    return t;
}

static bool has_legacy_message(json_object *msgs)
{
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        if (role_is(m, "function") || (role_is(m, "assistant") && jsonv_member(m, "function_call")))
            return true;
    }
    return false;
}

/* A new messages array: the legacy messages rewritten, the others shared. */
static json_object *messages_of(json_object *msgs)
{
    struct pending p[MAX_PENDING];
    size_t np = 0;
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *now = NULL;
        if (role_is(m, "assistant")) {
            now = jsonv_member(m, "function_call") ? assistant_of(m, i) : json_object_get(m);
            np = pending_of(now, p);
        } else if (role_is(m, "tool")) {
            json_object *id = jsonv_member_sv(m, "tool_call_id");
            for (size_t k = 0; id && k < np; k++)
                if (jsonv_str_eq(p[k].id, id))
                    p[k].answered = true;
            now = json_object_get(m);
        } else if (role_is(m, "function")) {
            struct pending *c = answered_call(p, np, jsonv_member_sv(m, "name"));
            if (c)
                c->answered = true;
            now = c ? tool_message(c->id, jsonv_member(m, "content")) : json_object_get(m);
        } else {
            now = json_object_get(m);
        }
        json_object_array_add(out, now);
    }
    return out;
}

bool oai_legacy_to_tools(json_object *req)
{
    json_object *msgs = jsonv_member(req, "messages");
    if (msgs && json_object_is_type(msgs, json_type_array) && has_legacy_message(msgs))
        json_object_object_add(req, "messages", messages_of(msgs));
    json_object *functions = jsonv_member(req, "functions"), *fc = jsonv_member(req, "function_call");
    if (!functions)
        return false; /* the validator refuses function_call alone */
    json_object_object_add(req, "tools", tools_of(functions));
    if (fc)
        json_object_object_add(req, "tool_choice", choice_of(fc));
    /* The legacy answer has room for one call: ask for no more. */
    json_object_object_add(req, "parallel_tool_calls", json_object_new_boolean(0));
    json_object_object_del(req, "functions");
    json_object_object_del(req, "function_call");
    return true;
}
