/* upstream.h - the libcurl side: one or more calls to an upstream, run in
 * parallel on this worker thread, with the connection kept for the next
 * request, timeouts on connect, first byte and silence, retries before the
 * client has seen anything, and a tick for heartbeats and client-gone checks.
 * Knows HTTP and SSE framing, nothing of any provider's JSON: that is in
 * the ops the provider passes. */
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
};

/* What the provider does with each call's answer. `i` is the call's index.
 * Callbacks return AXON_OK, AXON_ERETRY (e filled: retry the call if it has
 * delivered nothing yet), AXON_ECLIENT_GONE, or another code with e filled. */
struct up_ops {
    int (*event)(void *ud, int i, const char *event, const char *data, size_t n,
                 struct api_error *e);                       /* stream: one SSE event */
    int (*end)(void *ud, int i, struct api_error *e);        /* stream: clean end */
    int (*body)(void *ud, int i, const char *p, size_t n, struct api_error *e); /* non-stream */
    void (*http_error)(int status, const char *body, size_t n, const char *retry_after,
                       struct api_error *e);                 /* a non-2xx answer */
    bool (*delivered)(void *ud, int i); /* has call i sent the client anything? */
    void (*restart)(void *ud, int i);   /* call i is retried: forget its partial answer */
    /* Every UP_TICK_MS at most; non-zero stops all. upstream_us: when the
     * last upstream byte of any call arrived (0: none yet). */
    int (*tick)(void *ud, uint64_t upstream_us);
};

/* Runs the n calls to completion, at most `parallel` of them open at once
 * (each holds one pool session: the pool bounds what the upstream sees);
 * the next one starts, in order, when one finishes. AXON_OK when every
 * call's answer was delivered; AXON_ECLIENT_GONE when the client left
 * (everything aborted); AXON_EIO with e filled when a call failed for good
 * (the others are aborted). Borrows everything. */
int upstream_run(const struct axon_config *cfg, const struct up_call *calls, int n, int parallel,
                 const struct up_ops *ops, void *ud, struct api_error *e) AXON_MUST_CHECK;

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
