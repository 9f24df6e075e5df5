/* resp_tokens.h - POST /v1/responses/input_tokens (handlers.h:
 * responses_input_tokens): the pure parts, the upstream bodies and Axon's
 * estimate, which the handler in resp_tokens.c sends or answers. The rules
 * are in docs/responses.md, "Counting input tokens". */
#ifndef AXON_RESP_TOKENS_H
#define AXON_RESP_TOKENS_H

#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"

/* The body of Claude's POST /v1/messages/count_tokens made from a Messages
 * API body (borrowed, as anthropic_request built it): only the fields
 * count_tokens takes (model, messages, system, tools, tool_choice,
 * thinking, output_config, cache_control). Returns new (json_object_put). */
json_object *resp_tokens_claude_body(json_object *messages_body);

/* The body of vLLM's POST /tokenize made from an OpenAI chat body
 * (borrowed, as the OpenAI-compatible provider built it): model, messages
 * and tools. Returns new (json_object_put). */
json_object *resp_tokens_tokenize_body(json_object *chat_body);

/* Axon's estimate for a chat body (borrowed): the bytes of its messages and
 * tools written as JSON (as sent), divided by 4, rounded up, into *out.
 * AXON_ETOOBIG when they print past cap bytes. */
int resp_tokens_estimate(json_object *chat_body, size_t cap, long long *out) AXON_MUST_CHECK;

#endif
