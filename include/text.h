/* text.h - small string helpers for untrusted text: numbers, case, trimming. */
#ifndef AXON_TEXT_H
#define AXON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "axon.h"

/* Parses a whole decimal integer in [min, max] (borrows s). No sign games,
 * no trailing bytes, no empty string: AXON_EINVAL otherwise. */
int text_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) AXON_MUST_CHECK;
/* Same for the first n bytes of s (s need not be NUL-terminated there). */
int text_parse_i64_n(const char *s, size_t n, int64_t min, int64_t max,
                     int64_t *out) AXON_MUST_CHECK;
/* ASCII case-insensitive equality of a[0..n) and the NUL-terminated b. */
bool text_ieq_n(const char *a, size_t n, const char *b);
/* Shrinks [*s, *s + *n) past leading and trailing spaces and tabs. */
void text_trim(const char **s, size_t *n);
/* Writes 2*n lowercase hex digits and a NUL into out (needs 2*n+1 bytes). */
void text_hex(const unsigned char *in, size_t n, char *out);
/* Fills p with n bytes from the kernel's CSPRNG (getrandom). Aborts if the
 * kernel refuses, because ids and keys must never be predictable. */
void text_random(void *p, size_t n);
/* Compares two n-byte strings in time independent of their content. */
bool text_ct_equal(const void *a, const void *b, size_t n);
/* Looks up name in a query string "a=1&b=2" (borrows q). Returns a pointer
 * into q and sets *len, or NULL when absent. No percent-decoding. */
const char *text_query_get(const char *q, const char *name, size_t *len);

/* Formats a message into err (cut to errlen) and returns AXON_EINVAL: the
 * one way settings and table parsers report what is wrong. */
int text_errf(char *err, size_t errlen, const char *fmt, ...) AXON_PRINTF(3, 4);

/* Drops a UTF-8 sequence cut short at the end of s: for text cut to a byte
 * count (snprintf) that goes out in JSON, which must stay valid UTF-8. */
void text_utf8_trim(char *s);

/* How many of s's first n bytes fit in max, cut before a UTF-8 continuation
 * byte so that what is quoted back stays valid UTF-8. Borrows s. */
size_t text_utf8_cut(const char *s, size_t n, size_t max);

/* The value of one base64 character, or -1: the standard alphabet (RFC
 * 4648 section 4, "+/") or, with url, the URL-safe one (section 5, "-_"). */
int text_b64_value(unsigned char c, bool url);

/* Decodes standard base64 in[0..n) (padding optional, line breaks skipped)
 * into out, which must hold n / 4 * 3 + 3 bytes; *outlen is the length.
 * AXON_EINVAL on any other character. Borrows both. */
int text_base64_decode(const char *in, size_t n, unsigned char *out,
                       size_t *outlen) AXON_MUST_CHECK;
/* True when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates). */
bool text_utf8_valid(const char *s, size_t n);
/* Copies s[0..n) into out (cap bytes, always NUL-terminated when cap > 0)
 * with every byte that is not part of a well-formed UTF-8 sequence written as
 * %XX, as a URL carries it: the copy is valid UTF-8 and still names the same
 * URL, so it can be echoed into JSON and logs. Sets *outlen. AXON_ETOOBIG when
 * it does not fit: out then holds the part that did, never a split sequence.
 * Borrows s; out is the caller's. */
int text_utf8_pct_escape(const char *s, size_t n, char *out, size_t cap,
                         size_t *outlen) AXON_MUST_CHECK;

/* Appends "line\r\n" to the header block dst (cap bytes, NUL-terminated),
 * or nothing when it would not fit. Borrows both. */
void text_append_header(char *dst, size_t cap, const char *line);
/* snprintf(dst, cap, "%s%s%s", a, b, c) without the format's cost (a
 * NULL part is empty): the first cap - 1 bytes, a NUL after them; returns
 * the whole length, as snprintf does, so a cut shows. Borrows the parts. */
size_t text_join(char *dst, size_t cap, const char *a, const char *b, const char *c);
/* snprintf(dst, cap, "%lld", v), the same way. */
size_t text_i64(char *dst, size_t cap, long long v);
/* Adds word (borrowed) to the ", "-separated list in dst (cap bytes, NUL
 * terminated) unless it is there already; a word that does not fit is left
 * out (the lists are of parameter names: short and bounded). */
void text_list_add(char *dst, size_t cap, const char *word);

#endif
