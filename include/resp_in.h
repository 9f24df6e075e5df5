/* resp_in.h - the Responses ingress's parser: a CreateResponse body
 * (POST /v1/responses) checked against the spec and turned into the
 * canonical request (an OpenAI chat request, docs/internals.md), plus what
 * the writer and the store need beside it (struct resp_meta).
 *
 * Pure code: no I/O. What needs the store (previous_response_id,
 * item_reference) or the server secret (a reasoning item's
 * encrypted_content) is asked of the caller through struct resp_lookup.
 * The mapping, field by field, is in docs/responses.md (Request mapping). */
#ifndef AXON_RESP_IN_H
#define AXON_RESP_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"
#include "errors.h"

#define RESP_ID_MAX 128       /* bytes of a response or conversation id kept in meta */
#define RESP_IGNORED_MAX 256  /* the ", "-separated names of fields accepted, not honoured */
#define RESP_MAX_ITEMS 65536  /* items in one request, stored ones included */
#define RESP_MAX_REFS 1024    /* item_reference items in one request's input */

/* include[] values that change the answer (the others name items Axon
 * never produces, and are accepted for nothing). */
#define RESP_INC_ENCRYPTED 1u /* reasoning.encrypted_content */
#define RESP_INC_LOGPROBS 2u  /* message.output_text.logprobs */
#define RESP_INC_IMAGE_URL 4u /* message.input_image.image_url */

enum resp_summary { RESP_SUMMARY_NONE, RESP_SUMMARY_AUTO, RESP_SUMMARY_CONCISE,
                    RESP_SUMMARY_DETAILED };

/* What the caller resolves. ctx is passed back as is. Every callback may be
 * NULL: the feature is then unavailable (a 404 for an id, a 400 for a
 * sealed reasoning item). */
struct resp_lookup {
    void *ctx;
    /* The items of the stored chain that ends at response id (borrowed):
     * every response's input and output items, oldest first, in the
     * Responses shape, into *items (returns new array, json_object_put).
     * They are trusted: a reasoning item may carry the signed blocks
     * themselves in `thinking_blocks` instead of encrypted_content.
     * AXON_ENOTFOUND when the caller has no such response (parse answers
     * OpenAI's 404); any other error with e filled (503 for Valkey down). */
    int (*previous)(void *ctx, const char *id, json_object **items, struct api_error *e);
    /* One stored item by id (borrowed), into *item (returns new); trusted
     * as above. AXON_ENOTFOUND when missing or another key's. */
    int (*item)(void *ctx, const char *id, json_object **item, struct api_error *e);
    /* Opens a reasoning item's encrypted_content (sealed, n bytes, borrowed)
     * into *blocks: a new array of Claude's thinking / redacted_thinking
     * blocks. AXON_EINVAL with a short reason in why (whylen bytes) when it
     * is tampered with, foreign or unreadable. */
    int (*open_reasoning)(void *ctx, const char *sealed, size_t n, json_object **blocks,
                          char *why, size_t whylen);
};

/* What the chat request does not carry. Fill with resp_parse, free with
 * resp_meta_free (safe on a zeroed or half-filled one). */
struct resp_meta {
    bool store;            /* default true */
    bool stream;
    unsigned include;      /* RESP_INC_* */
    enum resp_summary summary; /* reasoning.summary (or generate_summary) */
    char previous_id[RESP_ID_MAX];  /* previous_response_id, "" when none */
    char conversation[RESP_ID_MAX]; /* conversation (string or {id}), "" when none */
    /* The client's input items, item_reference resolved, each with an id
     * (msg_, fc_, fco_ + 48 hex when it had none) and messages in the
     * list shape ({type: message, role, content: [parts]}): what
     * GET /v1/responses/{id}/input_items lists. New array. */
    json_object *input_items;
    /* The request's parameters as the Response object echoes them, with
     * OpenAI's defaults filled: model, instructions, tools, tool_choice,
     * parallel_tool_calls, temperature, top_p, top_logprobs,
     * max_output_tokens, max_tool_calls, text, reasoning, truncation,
     * metadata, user, safety_identifier, prompt_cache_key, service_tier,
     * store, background, previous_response_id, conversation. New object. */
    json_object *echo;
    char ignored[RESP_IGNORED_MAX]; /* for X-Axon-Ignored-Params, "" when none */
    /* Where each chat message came from: "instructions", "input",
     * "input[3]", "previous_response_id[0]" (one string per message of the
     * chat request, in order). New array; read by resp_map_error. */
    json_object *origins;
};

/* Checks body (borrowed) against CreateResponse and builds the canonical
 * chat request into *chat_req (returns new, json_object_put): model;
 * messages (instructions as a leading system message, then the items of
 * previous_response_id, then input); the mapped parameters; conversation
 * as Axon's conversation_id. The request passes oai_validate_chat.
 * lk (borrowed) may be NULL. On error: AXON_EINVAL with e filled (400 in
 * OpenAI's words, or 404 for a missing response or item), or the
 * lookup's own error; *chat_req is NULL and meta needs resp_meta_free. */
int resp_parse(json_object *body, const struct resp_lookup *lk, json_object **chat_req,
               struct resp_meta *meta, struct api_error *e) AXON_MUST_CHECK;

/* The ids of the item_reference items of body's input (borrowed from
 * body), in order: the first max into ids. Returns how many there are (more
 * than max: resp_parse refuses past RESP_MAX_REFS). So that the caller can
 * fetch them all in one round trip before resp_parse, and answer lk->item
 * from memory. */
size_t resp_item_refs(json_object *body, const char **ids, size_t max);

/* An error about the chat request (a provider's 400, such as Claude's
 * "Thinking needs max_completion_tokens above 2048") told in this request's
 * names: e's param and its mentions in e's message are rewritten:
 * max_completion_tokens -> max_output_tokens, reasoning_effort ->
 * reasoning.effort, response_format -> text.format, verbosity ->
 * text.verbosity, logprobs -> include, thinking -> reasoning,
 * conversation_id -> conversation, tools[i].function.x -> tools[i].x,
 * tool_choice.function.name -> tool_choice.name, and messages[K]... -> the
 * item message K came from (with .content... kept, or as .output for a
 * function_call_output). Borrows meta. */
void resp_map_error(const struct resp_meta *meta, struct api_error *e);

/* The same for a ", "-separated list of chat parameter names (the
 * providers' ignored list) in place, cap bytes. */
void resp_map_names(char *list, size_t cap);

/* Frees what meta holds and zeroes it. */
void resp_meta_free(struct resp_meta *meta);

/* Writes prefix + 48 lowercase hex digits from the kernel's CSPRNG into
 * out (size bytes, NUL-terminated, cut to fit): OpenAI's id shape. */
void resp_new_id(const char *prefix, char *out, size_t size);

#endif
