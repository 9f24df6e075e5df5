/* oai_validate.h - a CreateChatCompletionRequest checked field by field the
 * way OpenAI checks it: required fields, unknown fields, JSON types, enums,
 * ranges and array sizes, in every message and content part. `null` means
 * unset for every nullable field. The request is not changed. */
#ifndef AXON_OAI_VALIDATE_H
#define AXON_OAI_VALIDATE_H

#include <stdbool.h>
#include <json-c/json.h>

#include "errors.h"

/* Axon's own request fields, accepted next to OpenAI's:
 *   conversation_id  string or null
 *   thinking         true/false, {"type":"enabled","budget_tokens":N>=1024},
 *                    {"type":"disabled"}, {"type":"adaptive"}, or null
 *   top_k            integer >= 0, or null (Claude and vLLM sampling) */

/* AXON_OK, or AXON_EINVAL with e filled: status 400, type
 * invalid_request_error, OpenAI's code (missing_required_parameter,
 * invalid_type, invalid_value, decimal_above_max_value, ...), the JSON path
 * in param ("messages[1].content[0].image_url.url") and OpenAI's wording.
 * allow_unknown accepts top-level fields the spec does not know (for
 * OpenAI-compatible upstreams such as vLLM, whose clients send extensions
 * through extra_body); otherwise they are "Unrecognized request argument
 * supplied: NAME". Borrows req. */
int oai_validate_chat(json_object *req, bool allow_unknown, struct api_error *e) AXON_MUST_CHECK;

/* The same checks for the two other OpenAI shapes Axon passes on
 * (passthru.c): CreateEmbeddingRequest (input: a non-empty string, or 1 to
 * 2048 strings, token ids or token arrays; encoding_format, dimensions,
 * user) and CreateCompletionRequest (prompt in the same four shapes; the
 * legacy sampling fields with the spec's ranges; best_of against n and
 * stream). Same codes, wording and allow_unknown. Borrows req. */
int oai_validate_embedding(json_object *req, bool allow_unknown, struct api_error *e)
    AXON_MUST_CHECK;
int oai_validate_completion(json_object *req, bool allow_unknown, struct api_error *e)
    AXON_MUST_CHECK;

#endif
