/* pipeline.h - one chat request as one transaction, through stages that run
 * in order:
 *
 *   read -> route -> validate -> load conversation -> translate -> lease
 *        -> run -> settle -> finish
 *
 * An ingress (chat.c for /v1/chat/completions) reads its API shape into
 * the canonical request (txn.req) and validates it; the pipeline does the
 * rest, the same for every ingress and provider. Each stage returns AXON_OK
 * or an AXON_E* code with txn.e filled (e.status 0: nothing to say, the
 * stage answered already or the client left); the first failure skips the
 * stages after it, and txn_end, the one cleanup, gives back whatever is
 * held whichever stage stopped, then answers. docs/internals.md tells the
 * story with the seams (the canonical request, the canonical answer, the
 * writer).
 *
 * The ingress also chooses how the answer is written: it sets txn.writer
 * and txn.writer_state (answer.h, struct answer_writer) before txn_serve;
 * chat.c gives the chat-completions writer (oai_out.h). */
#ifndef AXON_PIPELINE_H
#define AXON_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "catalog.h"
#include "conv.h"
#include "errors.h"
#include "answer.h"
#include "pool.h"
#include "provider.h"
#include "reqctx.h"

/* The conversation side of one request. */
struct txn_conv {
    char id[CONV_ID_MAX + 1]; /* "": the answer names no conversation */
    bool create;              /* a new conversation: created by the stored turn */
    bool store;               /* store the turn once the answer succeeds */
    json_object *turn;        /* owned: the client's messages to store with the turn */
    struct conv_lock lock;    /* a continued one: held from its load to its settle */
    /* Where the stored turn starts in the conversation (its first client
     * message's position; the answer follows the turn), once loaded; -1
     * while unknown or nothing is stored. turn_n: the stored turn's client
     * messages. The Responses ids are derived from these (resp_ids.h). */
    long base;
    size_t turn_n;
};

struct txn;

/* What an ingress other than chat's asks of the conversation side. Zeroed
 * by txn_init: chat's behaviour. ctx is passed back to the hooks. */
struct txn_opts {
    /* Leading messages of the canonical request that are never stored:
     * the Responses API's instructions (OpenAI: "not carried over"). They
     * stay first in the replay. */
    size_t lead;
    /* store: false: no conversation is made or grown; a named one is read. */
    bool no_store;
    /* > 0: conversation_id as it stood at its first upto positions
     * (previous_response_id), which load (below) reads. At its tip the
     * turn continues it; before its tip the turn is a branch: a new
     * conversation holding those messages and the turn. prev_id (borrowed)
     * names it in a 404. */
    long upto;
    const char *prev_id;
    /* How the named conversation is read under its turn lock (NULL:
     * conv_load_locked): the Responses ingress reads only the first upto
     * positions, and only while that response's record exists. As
     * conv_load_locked's contract (AXON_ENOTFOUND: nothing of the caller's). */
    int (*load)(void *ctx, const struct txn *t, const char *id, struct conv_lock *lock,
                json_object **history, struct conv_meta *meta);
    /* After load, before the answer opens: the conversation and positions
     * are known (t->cv). */
    void (*loaded)(void *ctx, const struct txn *t);
    /* In the settle round trip, after the turn's store, only when the
     * turn is stored: the ingress's own commands (add), and their replies
     * (done, after the run; stored is the store's result). */
    void (*settle_add)(void *ctx, const struct txn *t, struct valkey_batch *b);
    void (*settle_done)(void *ctx, const struct txn *t, int stored, const struct valkey_batch *b);
    /* Before a failed request is answered: the ingress may tell the error
     * in its own API's names (Responses: input[3] for messages[4]). */
    void (*error)(void *ctx, const struct txn *t, struct api_error *e);
    void *ctx;
};

struct txn {
    struct axon_req *r;            /* borrowed */
    json_object *req;              /* owned: the canonical request (a chat request) */
    bool routed;                   /* rt is filled */
    struct model_route rt;         /* the model and its endpoint */
    const struct provider_ops *pv; /* rt's provider, once routed */
    struct txn_conv cv;
    struct txn_opts opt;           /* the ingress's (borrowed hooks) */
    struct buf body;               /* the upstream body (translate .. run) */
    struct chat_plan plan;
    bool legacy;                   /* the request used `functions` (oai_legacy.h) */
    struct curl_slist *headers;    /* owned: the upstream request's */
    struct pool_lease lease;
    bool leased;                   /* lease is held: settle or txn_end gives it back */
    struct pool_lease *more;       /* owned: the other calls' sessions (n > 1) */
    int nmore;
    /* The ingress's writer and its state (borrowed: the ingress owns both),
     * set before txn_serve. */
    const struct answer_writer *writer;
    void *writer_state;
    struct answer out;             /* the canonical answer, written by writer */
    bool out_open;                 /* out is initialised: the answer is its to write */
    char *st;                      /* owned: one reader state (pv->up.state_size) per call */
    int ncalls;                    /* states in st */
    int per;                       /* choices per call */
    uint64_t last_out_us;          /* when the client last got bytes */
    uint64_t bytes_seen;
    bool cut;                      /* ended by the drain deadline */
    struct api_error e;            /* why a stage stopped */
};

/* Prepares t for r (borrowed). Nothing is held until the stages run. */
void txn_init(struct txn *t, struct axon_req *r);

/* route: the request's model (the operator's default when none is named)
 * resolved through the catalog. Never fails: an unknown model is the
 * ingress's validate stage to refuse, after its own checks (which the
 * route makes stricter or looser). Sets t->routed and r->model. */
int txn_route(struct txn *t) AXON_MUST_CHECK;

/* The stages after the ingress's validate: the provider's own validate
 * (an upstream that is configured), load, translate, lease, run and settle,
 * each only when the ones before succeeded (rc is the ingress's result),
 * then txn_end. Returns the handler's code. */
int txn_serve(struct txn *t, int rc);

/* The one cleanup, whichever stage stopped (rc: its code): gives back the
 * lease and the turn lock if still held (one round trip), answers (the
 * output's end, or the stage's error as a complete JSON answer), and frees
 * everything t owns. Returns the handler's code. */
int txn_end(struct txn *t, int rc);

#endif
