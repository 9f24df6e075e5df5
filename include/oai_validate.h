/* oai_validate.h - a CreateChatCompletionRequest checked field by field the
 * way OpenAI checks it: required fields, unknown fields, JSON types, enums,
 * ranges and array sizes, in every message and content part. `null` means
 * unset for every nullable field. The request is not changed. */
#ifndef AXON_OAI_VALIDATE_H
#define AXON_OAI_VALIDATE_H

#include <stdarg.h>
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

/* ---- the pieces resp_in.c's walk of a Responses request shares ---- */

/* A JSON path being walked ("messages[1].content[0]"), to name in an
 * error's param. Cut at the size of param: only its tail is ever lost, as
 * the long components (metadata keys, unknown keys) are the last. */
struct oai_path {
    char s[sizeof(((struct api_error *)0)->param)]; /* "" at the top level */
    size_t len;
};

/* Append ".key" (or "key" at the top) or "[i]"; return the length to pop
 * back to with oai_path_pop. Borrows key. */
size_t oai_path_key(struct oai_path *p, const char *key);
size_t oai_path_idx(struct oai_path *p, size_t i);
void oai_path_pop(struct oai_path *p, size_t old);

/* Fill e: status (400 or 404), invalid_request_error, code (may be
 * NULL), p as param, the formatted message; return AXON_EINVAL. Borrows
 * all. */
int oai_failv(const struct oai_path *p, struct api_error *e, int status, const char *code,
              const char *fmt, va_list ap) AXON_PRINTF(5, 0);

/* OpenAI's invalid_type at p ("Invalid type for 'p': expected WANT, but got
 * an integer instead."); and its missing_required_parameter for key, which is
 * pushed onto p and left there (the walk ends with the error). Both return
 * AXON_EINVAL. Borrow all. */
int oai_bad_type(const struct oai_path *p, struct api_error *e, json_object *o, const char *want);
int oai_missing(struct oai_path *p, struct api_error *e, const char *key);

/* names (NULL-terminated) as OpenAI lists them: "'a', 'b', and 'c'" with
 * conj "and", "'a' or 'b'" for two with "or"; cut to size. */
void oai_list_names(char *out, size_t size, const char *const *names, const char *conj);

/* OpenAI's name for the type of what the client sent ("an integer").
 * Returns a static string. Borrows o. */
const char *oai_got(json_object *o);

/* AXON_OK if body is a JSON object; else AXON_EINVAL with e filled as
 * OpenAI words a body of another type. Borrows body. */
int oai_body_object(json_object *body, struct api_error *e) AXON_MUST_CHECK;

#endif
