/* upstream.h - the libcurl side: one or more calls to an upstream, run in
 * parallel on this worker thread, with the connection kept for the next
 * request, timeouts on connect, first byte and silence, retries before the
 * client has seen anything, and a tick for heartbeats and client-gone checks.
 * Knows HTTP and SSE framing, nothing of any provider's JSON: that is in
 * the reader the provider passes (struct up_reader), called directly. */
#ifndef AXON_UPSTREAM_H
#define AXON_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

#include "acct.h"
#include "config.h"
#include "errors.h"

#define UP_MAX_CALLS 128            /* parallel calls in one run (n) */
#define UP_MAX_ERROR_BODY 65536     /* kept of an upstream error answer */
#define UP_TICK_MS 250              /* longest sleep between ticks */
#define UP_RECV_BUFFER 4096         /* libcurl's receive buffer per call */

struct up_call {
    const char *url;                  /* borrowed */
    const struct curl_slist *headers; /* borrowed */
    const char *body;                 /* borrowed, POSTed as is */
    size_t len;
    bool stream;                      /* the answer is SSE */
    void *st;                         /* borrowed: the reader's state for this call's answer */
};

/* A provider's reader of its upstream's answers (nginx's input_filter):
 * upstream.c calls it directly, with the call's own state (up_call.st),
 * as the bytes arrive; it knows the provider's JSON, upstream.c only HTTP
 * and SSE framing. The functions return AXON_OK, AXON_ERETRY (e filled:
 * retry the call if it has delivered nothing yet), AXON_ECLIENT_GONE,
 * AXON_EPROTO (e filled: the upstream sent what its protocol does not
 * allow), or another code with e filled. */
struct up_reader {
    size_t state_size; /* one call's state: what up_call.st points at */
    int (*event)(void *st, const char *event, const char *data, size_t n,
                 struct api_error *e);                             /* stream: one SSE event */
    int (*end)(void *st, struct api_error *e);                     /* stream: clean end */
    int (*body)(void *st, const char *p, size_t n, struct api_error *e); /* non-stream */
    void (*http_error)(int status, const char *body, size_t n, const char *retry_after,
                       struct api_error *e);                       /* a non-2xx answer */
};

/* The request's side of a run (the pipeline's hooks). `i` is the call's
 * index. */
struct up_hooks {
    bool (*delivered)(void *ud, int i); /* has call i sent the client anything? */
    /* Call i is retried: forget its partial answer and make calls[i].st
     * ready for the next attempt. */
    void (*restart)(void *ud, int i);
    /* Every UP_TICK_MS at most; non-zero stops all. upstream_us: when the
     * last upstream byte of any call arrived (0: none yet). */
    int (*tick)(void *ud, uint64_t upstream_us);
};

/* Runs the n calls to completion, at most `parallel` of them open at once
 * (each holds one pool session: the pool bounds what the upstream sees);
 * the next one starts, in order, when one finishes. Each call's answer
 * goes to rd with that call's state. AXON_OK when every call's answer was
 * delivered; AXON_ECLIENT_GONE when the client left (everything aborted);
 * AXON_EIO with e filled when a call failed for good (the others are
 * aborted). Borrows everything. */
int upstream_run(const struct axon_config *cfg, const struct up_call *calls, int n, int parallel,
                 const struct up_reader *rd, const struct up_hooks *hooks, void *ud,
                 struct api_error *e) AXON_MUST_CHECK;

/* upstream_wait_us(): acct.h, included above, keeps the sum (a leaf, so
 * its readers need not link libcurl). */

/* Closes this thread's upstream connections (a recycled session: the next
 * call connects afresh, with the credential read again). */
void upstream_forget_connections(void);

/* Opens this thread's connection to the upstream before the first request
 * needs it (TCP and TLS), with one cheap GET of url (any answer will do: a
 * 401 still leaves a warm connection). AXON_EIO when it could not connect. */
int upstream_prewarm(const struct axon_config *cfg, const char *url,
                     const struct curl_slist *headers) AXON_MUST_CHECK;

#endif
