/* log.h - one JSON line per request on stderr, and rare process messages.
 * Never logs a key, a header value or message content. */
#ifndef AXON_LOG_H
#define AXON_LOG_H

#include "axon.h"
#include "config.h"
#include "reqctx.h"

void log_set_level(enum log_level level);
/* A process message: {"time","level","msg"}. Thread-safe: one write(2). */
void log_msg(enum log_level level, const char *fmt, ...) AXON_PRINTF(2, 3);
/* The request's line: time, request id, method, path, status, microseconds,
 * model, upstream, tokens in/out, bytes out. Borrows r. */
void log_request(const struct axon_req *r);
/* Microseconds on the monotonic clock. */
uint64_t log_now_us(void);

#endif
