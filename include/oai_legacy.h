/* oai_legacy.h - OpenAI's deprecated function calling (`functions`,
 * `function_call`, `role: "function"` messages) carried on tools, so that
 * every provider serves it with the tool-calling translation it already has.
 *
 * The answer side is a flag on the answer (answer.h, legacy_functions):
 * message.function_call and finish_reason "function_call" instead of
 * tool_calls. */
#ifndef AXON_OAI_LEGACY_H
#define AXON_OAI_LEGACY_H

#include <stdbool.h>
#include <json-c/json.h>

/* The id given to the call of an assistant `function_call` at position i of
 * messages: "call_fn" + i. By position, so that a client resending its
 * history gets the same ids (and the same cacheable prompt) every time. */
#define OAI_LEGACY_ID_PREFIX "call_fn"

/* Rewrites a request that oai_validate_chat accepted (borrows req and
 * changes it; the message objects it held are not changed, so a turn kept
 * for storing still has the client's own messages):
 *   functions        -> tools [{type:function, function:{...}}]
 *   function_call    -> tool_choice ("none", "auto", {type:function, ...})
 *                       and parallel_tool_calls false: the legacy answer
 *                       carries one call
 *   assistant function_call -> tool_calls [{id: OAI_LEGACY_ID_PREFIX i}]
 *   role "function"  -> role "tool", tool_call_id of the call it answers:
 *                       the preceding assistant message's first unanswered
 *                       call of that name (else its first unanswered call).
 *                       A function message with no call to answer is left
 *                       as it is (the providers' fallback).
 * Returns true when the request offered functions: the answer must then use
 * the legacy shape. */
bool oai_legacy_to_tools(json_object *req);

#endif
