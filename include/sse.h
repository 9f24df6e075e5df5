/* sse.h - an incremental server-sent events parser for upstream streams.
 *
 * Bytes arrive in pieces that have nothing to do with event boundaries
 * (libcurl hands over up to 16 KiB at a time). The parser follows the
 * WHATWG rules: lines end in LF, CRLF or CR; "data:" lines are joined with
 * LF; one optional space after the colon is dropped; ":" lines are comments;
 * a blank line dispatches the event. */
#ifndef AXON_SSE_H
#define AXON_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define SSE_MAX_EVENT_NAME 64

/* Called once per event: event is "" when the stream named none ("message"
 * in the spec's terms). Both strings are borrowed for the call. A non-zero
 * return stops the parser and is handed back by sse_feed. */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data, size_t n);

struct sse_parser {
    struct buf line;  /* the current, unfinished line */
    struct buf data;  /* data of the current event */
    char event[SSE_MAX_EVENT_NAME + 1];
    bool have_data;   /* a data: line was seen (its content may be empty) */
    bool after_cr;    /* the last byte was CR: a following LF is part of it */
};

/* max_event caps one line and one event's data (AXON_ETOOBIG past it). */
void sse_init(struct sse_parser *p, size_t max_event);
void sse_free(struct sse_parser *p);

/* Feeds n bytes (borrowed), calling fn for each complete event. */
int sse_feed(struct sse_parser *p, const char *bytes, size_t n, sse_event_fn fn, void *ud)
    AXON_MUST_CHECK;
/* At end of stream: dispatches an event that lacked its closing blank line
 * (Anthropic's SDK fixtures end that way). */
int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ud) AXON_MUST_CHECK;

#endif
