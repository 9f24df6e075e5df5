/* handlers.h - the route handlers, each in the module of its concern. */
#ifndef AXON_HANDLERS_H
#define AXON_HANDLERS_H

#include <json-c/json.h>
#include "conv.h"
#include "errors.h"
#include "reqctx.h"

int health_get(struct axon_req *r);          /* router.c */
int test_sse_get(struct axon_req *r);        /* router.c, AXON_TEST_ROUTES only */
int models_list(struct axon_req *r);         /* models_http.c */
int models_get(struct axon_req *r);          /* models_http.c */
int stats_get(struct axon_req *r);           /* stats_http.c */
int metrics_get(struct axon_req *r);         /* stats_http.c */
int ready_get(struct axon_req *r);           /* stats_http.c */
int chat_completions(struct axon_req *r);    /* chat.c */
int responses_create(struct axon_req *r);    /* responses.c */
int embeddings_create(struct axon_req *r);   /* passthru.c */
int completions_create(struct axon_req *r);  /* passthru.c */
int conv_http_get(struct axon_req *r);       /* conv_http.c: a conversation, its items, one item */
int conv_http_post(struct axon_req *r);      /* conv_http.c: metadata update, items append */
int conv_http_delete(struct axon_req *r);    /* conv_http.c: a conversation, one item */
int conv_http_list(struct axon_req *r);      /* conv_http.c */
int conv_http_create(struct axon_req *r);    /* conv_http.c */
int resp_http_get(struct axon_req *r);       /* resp_http.c: a response, its input_items */
int resp_http_delete(struct axon_req *r);    /* resp_http.c */

/* conv_api_error, the answer for a conversation the store could not serve,
 * is conv.h's (conv.c). */
/* Reads the body and parses it as one strict JSON object (see jsonv.h).
 * On failure it has already sent the 400 or 413 answer and returns the
 * error code. On success *out is new (json_object_put). */
int chat_read_json_object(struct axon_req *r, json_object **out) AXON_MUST_CHECK;

#endif
