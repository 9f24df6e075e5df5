/* buf.h - growable byte buffers with a hard cap, and aborting allocators.
 *
 * Every buffer fed from the network is a struct buf with a max: an append
 * that would pass it fails with AXON_ETOOBIG and leaves the buffer as it was.
 * The content is always NUL-terminated (the NUL is not counted in len). */
#ifndef AXON_BUF_H
#define AXON_BUF_H

#include <stddef.h>
#include "axon.h"

/* Allocators that abort on failure: they never return NULL. */
void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t n, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull)); /* returns new (free) */
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull)); /* returns new (free) */

struct buf {
    char *p;     /* NULL until the first append; owned */
    size_t len;  /* bytes used, not counting the trailing NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* largest len allowed */
};

/* An empty buffer that may grow to max bytes. Nothing is allocated yet. */
#define BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes) }

void buf_init(struct buf *b, size_t max);
/* Frees the content; the buffer may be reused after buf_init. NULL-safe. */
void buf_free(struct buf *b);
/* Keeps the allocation, forgets the content. */
void buf_reset(struct buf *b);
/* Appends n bytes of p (borrows p). AXON_ETOOBIG past b->max. */
int buf_append(struct buf *b, const void *p, size_t n) AXON_MUST_CHECK;
int buf_puts(struct buf *b, const char *s) AXON_MUST_CHECK;
/* Appends formatted text (vsnprintf, never sprintf). */
int buf_printf(struct buf *b, const char *fmt, ...) AXON_PRINTF(2, 3) AXON_MUST_CHECK;
/* Appends v in decimal, as printf's %lld: numbers in answers and keys are
 * written per chunk, where vsnprintf cost more than the rest of the chunk. */
int buf_i64(struct buf *b, long long v) AXON_MUST_CHECK;
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259
 * requires. Bytes >= 0x80 are copied as they are (the caller ensures UTF-8). */
int buf_json_str(struct buf *b, const char *s, size_t n) AXON_MUST_CHECK;
/* buf_json_str for s, or the literal null when s is NULL. */
int buf_json_str_or_null(struct buf *b, const char *s) AXON_MUST_CHECK;
/* Hands the content to the caller: returns new (free), and empties b. */
char *buf_take(struct buf *b) __attribute__((returns_nonnull));

#endif
