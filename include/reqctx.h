/* reqctx.h - one request, from accept to finish: what the handlers, the
 * response writer and the log line share. Owned by the worker thread. */
#ifndef AXON_REQCTX_H
#define AXON_REQCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcgiapp.h>

#include "auth.h"
#include "config.h"
#include "peer.h"

#define REQ_ID_LEN 36       /* "req_" + 32 hex */
#define REQ_MAX_PATH 4096   /* longer request paths get 414 */

struct axon_req {
    FCGX_Request *fcgi;              /* borrowed from the worker */
    const struct axon_config *cfg;   /* borrowed, immutable */
    char id[REQ_ID_LEN + 1];
    char method[16];                 /* copied: logged after the params are freed */
    char path[REQ_MAX_PATH + 1];     /* REQUEST_URI without the query */
    bool path_too_long;
    const char *query;               /* after '?', or ""; borrows params */
    const char *route_arg;           /* the path after a prefix route, or "" */
    char tenant[AUTH_TENANT_LEN + 1];/* key digest prefix once authenticated */
    uint64_t start_us;               /* monotonic */
    uint64_t wait_base_us;           /* upstream_wait_us() at the start */
    unsigned long valkey_base;       /* valkey_round_trips() at the start */
    char resp_headers[512];          /* "Name: value\r\n" lines every answer carries */
    char ignored[160];               /* parameters left out (chat_plan.ignored), for the log */
    /* What was answered, for the log line. */
    int status;                      /* 0 until headers are written */
    uint64_t bytes_out;              /* body bytes written */
    char model[MODELS_MAX_ID + 1];   /* the model answering; "" if none */
    const char *upstream;
    long tokens_in, tokens_out;
    bool stream;                     /* answered as SSE */
    bool client_gone;                /* the client left before the end */
    size_t body_reserved;            /* memcap.h bytes held; main.c gives them back */
    struct peer peer;                /* the web server's client connection (io_client_gone) */
    uint64_t overhead_us;            /* set once finished: io_overhead_us */
    unsigned long valkey_rt;         /* set once finished: round trips */
};

#endif
