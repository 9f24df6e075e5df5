/* jsonr.h - reading a small JSON text of a known shape in place, without a
 * tree: for the upstream's most frequent events (a Claude stream's text
 * deltas), where building a json-c tree and freeing it cost more than all
 * the rest of the event's work (callgrind).
 *
 * The reader is a fast path in front of jsonv_parse, never a replacement:
 * each function returns false on anything it does not handle, valid or not
 * (a \u escape, a number with a fraction, a key it cannot compare), and the
 * caller then parses the whole text with jsonv_parse as before. What the
 * reader accepts it accepts exactly as jsonv_parse would: RFC 8259 syntax,
 * strings checked for UTF-8 the way json-c's JSON_TOKENER_VALIDATE_UTF8 does
 * (a lead byte and its count of continuation bytes), no raw control
 * characters. */
#ifndef AXON_JSONR_H
#define AXON_JSONR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct jsonr {
    const char *p, *end; /* borrowed: the text not read yet */
};

/* Starts reading p[0..n) (borrowed for the reader's life). */
void jsonr_init(struct jsonr *r, const char *p, size_t n);
/* After white space, the character c: consumed, true. */
bool jsonr_char(struct jsonr *r, char c);
/* After white space, either '}' (consumed, *end = true) or a key made of
 * plain characters (no escape), then ':' (consumed: *k and *kn point into
 * the text). first: this is the object's first member, so no ',' comes
 * before it. False otherwise. */
bool jsonr_key(struct jsonr *r, bool first, const char **k, size_t *kn, bool *end);
/* A string value, its bytes decoded and appended to out (NUL-terminated;
 * the short escapes \" \\ \/ \b \f \n \r \t only). False for anything else,
 * a \u escape included, or when out's cap is passed. */
bool jsonr_str(struct jsonr *r, struct buf *out);
/* A string value equal to want (no escapes in it). */
bool jsonr_str_eq(struct jsonr *r, const char *want);
/* A non-negative integer of at most 9 digits, as json-c reads an int: no
 * sign, fraction or exponent, no leading zero. */
bool jsonr_uint(struct jsonr *r, long *v);
/* The literal null. */
bool jsonr_null(struct jsonr *r);
/* Any value, read over and checked as jsonv_parse would, nested at most
 * JSONR_SKIP_DEPTH levels (objects and arrays); strings as jsonr_str takes
 * them (no \u escape), numbers of at most 15 digits a part and no exponent. */
#define JSONR_SKIP_DEPTH 16
bool jsonr_skip(struct jsonr *r);
/* Only white space is left. */
bool jsonr_done(struct jsonr *r);

#endif
