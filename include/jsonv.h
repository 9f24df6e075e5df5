/* jsonv.h - strict JSON parsing of untrusted bodies.
 *
 * json-c 0.16 accepts, even with JSON_TOKENER_STRICT, single quotes, NaN,
 * Infinity, raw control characters inside strings and "1." (measured on this
 * Debian). So a body first passes an RFC 8259 syntax check written here, with
 * a nesting cap, and only then goes to json-c, which builds the tree and
 * checks UTF-8. */
#ifndef AXON_JSONV_H
#define AXON_JSONV_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "axon.h"
#include "buf.h"

#define JSONV_MAX_DEPTH 64 /* arrays and objects nested deeper are refused */

/* How Axon serialises json-c trees it sends: compact, "/" left alone. */
#define JSONV_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Checks that p[0..n) is exactly one RFC 8259 JSON text, surrounding white
 * space allowed, nesting at most max_depth, and no object key holding
 * \u0000 (json-c would cut the key there; a NUL in a value is kept). Returns
 * AXON_OK, AXON_EINVAL or AXON_ETOODEEP. Borrows p. */
int jsonv_check(const char *p, size_t n, int max_depth) AXON_MUST_CHECK;

/* jsonv_check, then json-c. On success *out is new (json_object_put). */
int jsonv_parse(const char *p, size_t n, int max_depth,
                json_object **out) AXON_MUST_CHECK;

/* Appends o to b exactly as json_object_to_json_string_ext(o, JSONV_OUT)
 * prints it, but into b: json-c keeps what it prints inside the object it
 * prints, at up to twice its size, beside the copy the caller makes, so a
 * 15 MiB request printed by json-c cost three times its size until the tree
 * was freed. Borrows o (a NULL o is "null"); AXON_ETOOBIG past b's cap. */
int jsonv_write(struct buf *b, json_object *o) AXON_MUST_CHECK;

/* The member key of o, or NULL when o is NULL (or not an object), has no
 * such key, or holds JSON null there: in a request null means unset.
 * Borrowed from o. */
json_object *jsonv_get(json_object *o, const char *key);
/* jsonv_get's string, or NULL when it is absent, null or not a string. */
const char *jsonv_get_str(json_object *o, const char *key);

/* The member key of o: NULL when o is NULL or has no such key (a JSON
 * null member is returned as itself). Borrowed from o. */
json_object *jsonv_member(json_object *o, const char *key);
/* The member's string, or NULL when it is absent or not a string.
 * Borrowed from o. */
const char *jsonv_member_str(json_object *o, const char *key);
/* The member when it is a string, else NULL: for a string whose length
 * matters, as a \u0000 inside is text (json_object_get_string_len).
 * Borrowed from o. */
json_object *jsonv_member_sv(json_object *o, const char *key);
/* True when a and b are strings of the same bytes, a \u0000 inside
 * included (strcmp would stop there). Borrows both; false for NULL. */
bool jsonv_str_eq(json_object *a, json_object *b);
/* A new string with s's bytes, a \u0000 inside kept (json_object_get_string
 * would stop there). Borrows s (a string); returns new, free with
 * json_object_put. */
json_object *jsonv_str_dup(json_object *s);

/* True when a is a non-empty array of Claude's thinking blocks, each with
 * what Claude requires of it when it comes back (a thinking block's text and
 * signature, a redacted one's data): anything else would earn the client a
 * Claude 400. The one rule for what seal.c seals and opens and what
 * thinking_store.c stores and hands back. Borrows a. */
bool jsonv_thinking_blocks_ok(json_object *a);

#endif
