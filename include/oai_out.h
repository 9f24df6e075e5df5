/* oai_out.h - the chat-completions writer: the canonical answer (answer.h)
 * in OpenAI's wire format. A streamed answer goes out as chat.completion
 * chunks, each written and flushed the moment its event arrives, then the
 * usage chunk when asked and [DONE]; a non-streamed one as one
 * chat.completion object. The chat ingress (chat.c) hands this writer to
 * the pipeline (txn.writer); a provider never sees it. */
#ifndef AXON_OAI_OUT_H
#define AXON_OAI_OUT_H

#include <stdbool.h>

#include "answer.h"
#include "buf.h"

/* The writer's state for one answer: owned by the ingress (no allocation),
 * made by the writer's open, freed by its close (answer_init, answer_free). */
struct oai_out {
    char id[40];            /* "chatcmpl-" + 29 alphanumerics */
    long created;
    char fingerprint[16];
    struct buf chunk;       /* scratch for one chunk */
    struct buf head;        /* the chunks' common start, for head_model */
    char *head_model;       /* the model head was written for; owned, or NULL */
    struct buf delta;       /* scratch for one chunk's delta */
    bool conversation_sent; /* the stream's first chunk carried conversation_id */
};

/* The writer (answer.h, struct answer_writer), with a struct oai_out as
 * its state. */
extern const struct answer_writer oai_out_writer;

/* OpenAI's usage object for u (integers, both details objects). */
int oai_usage_json(struct buf *b, const struct usage *u) AXON_MUST_CHECK;

#endif
