/* claude_schema.h - JSON Schemas as Claude takes them, and answers checked
 * against the schema the client sent.
 *
 * Claude's structured outputs (output_config.format) and strict tools take a
 * subset of JSON Schema and answer 400 on the rest ("For 'integer' type,
 * property 'minimum' is not supported"). The Anthropic SDK rewrites every
 * schema before sending it (src/lib/transform-json-schema.ts); this module
 * does the same for the schemas OpenAI clients send, so that any schema
 * OpenAI accepts is accepted:
 *   - every object gets additionalProperties:false;
 *   - oneOf becomes anyOf;
 *   - a keyword Claude does not take (minimum, maximum, exclusiveMinimum,
 *     exclusiveMaximum, multipleOf, minLength, maxLength, pattern, minItems
 *     above 1, maxItems, uniqueItems, a format outside Claude's list,
 *     default, examples, ...) moves into the node's description as text,
 *     "{minimum: 1, maximum: 10}", so the model still reads it;
 *   - $ref stays (its siblings dropped, as the SDK does), and $defs and
 *     definitions are rewritten in place so that local refs still resolve.
 * Because the moved constraints are no longer enforced by the upstream,
 * claude_schema_check validates the answer against the original schema. */
#ifndef AXON_CLAUDE_SCHEMA_H
#define AXON_CLAUDE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"

/* Network-fed caps. A schema nests at most CS_MAX_DEPTH schemas deep and
 * holds at most CS_MAX_NODES schemas; a description gains at most
 * CS_MAX_MOVED bytes of moved keywords (the rest is cut, marked "..."). */
#define CS_MAX_DEPTH 32
#define CS_MAX_NODES 20000
#define CS_MAX_MOVED 4096
/* The answer check gives up (and lets the answer pass) past this many
 * schema steps: anyOf inside anyOf could otherwise cost 2^depth. */
#define CS_CHECK_MAX_STEPS 200000

enum cs_mode {
    CS_STRICT, /* structured output, strict tools: Claude's subset */
    CS_PLAIN,  /* a plain tool's input_schema: full JSON Schema, less $schema/$id */
};

struct cs_info {
    int moved; /* keywords moved into descriptions (CS_STRICT) */
    char err[160]; /* why a schema was refused */
};

/* Rewrites schema s (borrows) for Claude. On success *out is new
 * (json_object_put). AXON_ETOODEEP or AXON_ETOOBIG (info->err says which cap)
 * when s passes a cap. */
int claude_schema_rewrite(json_object *s, enum cs_mode mode, json_object **out,
                          struct cs_info *info) AXON_MUST_CHECK;

/* Checks answer text p[0..n) (borrows) against the client's original schema
 * (borrows) for what Claude did not enforce: number bounds and multipleOf,
 * string lengths, array lengths and uniqueItems, object property counts,
 * through properties, items, prefixItems, anyOf/oneOf/allOf and local $ref.
 * Formats and patterns are not checked. AXON_OK when it conforms (or the
 * check gave up, see CS_CHECK_MAX_STEPS); AXON_EINVAL when it does not, with
 * where = "<JSON pointer> <keyword>" ("/age maximum"; "" and "json" for an
 * answer that does not parse), cut to cap. */
int claude_schema_check(json_object *schema, const char *p, size_t n, char *where,
                        size_t cap) AXON_MUST_CHECK;

#endif
