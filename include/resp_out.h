/* resp_out.h - the Responses writer: the canonical answer (answer.h) in the
 * Responses API's shape. A streamed answer goes out as named SSE events
 * (`event: response.output_text.delta` ...), each with a rising
 * sequence_number from 0, ending with exactly one response.completed,
 * response.incomplete or response.failed that carries the whole Response
 * (no [DONE]); a non-streamed one as one Response object. The Responses
 * ingress (responses.c) hands this writer to the pipeline; docs/responses.md
 * ("Stream events") lists the events in order.
 *
 * Output items: reasoning (rs_), the assistant message (msg_), one
 * function_call (fc_) per tool call. A stored response's ids are derived
 * from where its turn sits in the conversation (resp_ids.h); an unstored
 * one's are random ids of the same shape. */
#ifndef AXON_RESP_OUT_H
#define AXON_RESP_OUT_H

#include <stdbool.h>

#include "answer.h"
#include "buf.h"
#include "resp_ids.h"
#include "resp_in.h"

#define RESP_OUT_ITEMS (OAI_MAX_TOOLS + 2) /* reasoning, message, the calls */

/* The writer's state for one answer, owned by the ingress. Fill with
 * resp_out_prepare before txn_serve (and resp_out_stored once the
 * conversation is known); the writer's open keeps those fields. */
struct resp_out {
    /* set before open */
    const struct resp_meta *meta;   /* borrowed: the request's echo, include, summary */
    char conv[RESP_CONV_ID_LEN + 1]; /* the conversation the turn is stored in, or "" */
    long pos;                       /* the output message's position there, or -1 */
    /* made by open */
    char id[RESP_ID_LEN + 1];       /* resp_ */
    char ids_conv[RESP_CONV_ID_LEN + 1]; /* conv, or a random one for unstored ids */
    long ids_pos;
    long created;
    long seq;                       /* the next event's sequence_number */
    bool head_sent;                 /* response.created and .in_progress went out */
    bool failed;                    /* response.failed went out */
    int open;                       /* the open item's slot in items, or -1 */
    int nitems;
    struct { int kind; int tool; } items[RESP_OUT_ITEMS]; /* in the order they opened */
    bool rs_seen, msg_seen;         /* the reasoning / message item was opened */
    bool text_part, refusal_part;   /* the message's parts so far */
    json_object *final;             /* resp_out_response's, kept for its second caller; owned */
    struct buf final_json;          /* final as JSON text, once written (owned) */
};

/* The writer (answer.h), with a struct resp_out as its state. */
extern const struct answer_writer resp_out_writer;

/* Zeroes w for a request with meta (borrowed; it must outlive the answer). */
void resp_out_prepare(struct resp_out *w, const struct resp_meta *meta);
/* The turn is stored in conversation conv (borrowed, "conv-" + 32 hex) with
 * the answer at position pos: the ids are derived. Before the answer opens. */
void resp_out_stored(struct resp_out *w, const char *conv, long pos);

/* The Response object of the finished answer a (as the non-stream answer
 * gives it, and the stream's closing event): returns a new reference
 * (json_object_put). With the writer opened (the run started). Made once,
 * on the first call: later calls (the stored record's, then the answer's)
 * get the same object, completed_at included, so the two always agree. */
json_object *resp_out_response(struct resp_out *w, const struct answer *a);
/* resp_out_response as JSON text (jsonv_write's), written once for the
 * stored record and the answer: *p, *n borrowed from w until the writer
 * closes. AXON_ETOOBIG past the Response's cap (256 MiB). */
int resp_out_response_json(struct resp_out *w, const struct answer *a, const char **p,
                           size_t *n) AXON_MUST_CHECK;

#endif
