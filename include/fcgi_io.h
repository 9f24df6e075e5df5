/* fcgi_io.h - the only code that touches libfcgi's streams: parameters, the
 * capped body read, response headers, body and SSE writes, flushing, and
 * telling that the client has gone. */
#ifndef AXON_FCGI_IO_H
#define AXON_FCGI_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "reqctx.h"

/* Fills r from the accepted FastCGI request (borrows fcgi and cfg): a fresh
 * request id, the start time, method, path and query. */
void io_req_init(struct axon_req *r, FCGX_Request *fcgi, const struct axon_config *cfg);

/* A CGI parameter, or NULL. Borrowed until the request finishes. */
const char *io_param(const struct axon_req *r, const char *name);

/* Microseconds the request has spent in Axon itself so far: the time since
 * it was accepted less what the thread waited for upstreams. Valkey round
 * trips, translation and writing to the web server count as Axon's. */
uint64_t io_overhead_us(const struct axon_req *r);

/* Reserves the declared body (CONTENT_LENGTH) under AXON_MAX_INFLIGHT_BYTES
 * before a byte of it is read (memcap.h), into r->body_reserved, which the
 * worker gives back when the request is finished. AXON_ETOOBIG: the body
 * alone is above max or the cap; AXON_EBUSY: it does not fit beside the
 * requests in flight. Nothing is reserved then. */
int io_reserve_body(struct axon_req *r, size_t max) AXON_MUST_CHECK;
/* Reads the whole body into out (which must be empty) up to max bytes.
 * AXON_ETOOBIG when CONTENT_LENGTH or the bytes sent pass max (nothing more is
 * read then), AXON_EIO on a read error, AXON_EBUSY when a body longer than
 * io_reserve_body reserved (none declared) cannot be reserved. */
int io_read_body(struct axon_req *r, size_t max, struct buf *out) AXON_MUST_CHECK;

/* Writes the status line and headers: Content-Type, x-request-id,
 * x-axon-overhead-us (io_overhead_us so far; a stream's is its time to the
 * first chunk), x-axon-valkey-round-trips under AXON_TEST_ROUTES, then each
 * line of extra (borrowed; "Name: value\r\n" lines, may be NULL). */
int io_begin(struct axon_req *r, int status, const char *content_type,
             const char *extra) AXON_MUST_CHECK;
/* Writes body bytes (borrows p). AXON_ECLIENT_GONE once the client left. */
int io_write(struct axon_req *r, const char *p, size_t n) AXON_MUST_CHECK;
/* Pushes everything written so far to the web server. FCGX_FFlush returns 0
 * on a stream that already failed, so the stream's error is what counts. */
int io_flush(struct axon_req *r) AXON_MUST_CHECK;
/* A whole JSON answer: headers, body, done. */
int io_send_json(struct axon_req *r, int status, const char *body, size_t n,
                 const char *extra) AXON_MUST_CHECK;

/* Server-sent events. io_sse_begin sends the headers and an SSE comment at
 * once: nginx holds the response header back until the first body byte. */
int io_sse_begin(struct axon_req *r) AXON_MUST_CHECK;
/* "data: <json>\n\n", flushed. */
int io_sse_data(struct axon_req *r, const char *json, size_t n) AXON_MUST_CHECK;
/* ": <text>\n\n", flushed: a heartbeat that also reveals a gone client. */
int io_sse_comment(struct axon_req *r, const char *text) AXON_MUST_CHECK;

/* True when the client has left: the web server closed our connection
 * (nginx does so at once; lighttpd only after a write fails), or the web
 * server's own connection to the client is closing (peer.h: what lighttpd
 * does not tell us while we are silent). Never blocks; at most one netlink
 * round trip per PEER_CHECK_MS. */
bool io_client_gone(struct axon_req *r);

/* The reason phrase for a status code ("Not Found"). */
const char *io_status_text(int status);

#endif
