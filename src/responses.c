/* responses.c - POST /v1/responses, the Responses ingress: the read, route
 * and validate stages of the pipeline (pipeline.h) for this API shape. The
 * body becomes the canonical chat request (resp_in.h); the answer is
 * written by the Responses writer (resp_out.h).
 *
 * State (docs/design of issue 20, docs/responses.md): a stored response is
 * a turn of a conversation of the conversation store. Its id names the
 * conversation and the position right after its answer (resp_ids.h), so
 * previous_response_id needs no index: it is that conversation as it stood
 * at that position. At its tip the turn continues it (2 round trips: load,
 * settle); before its tip the turn is a branch, a new conversation holding
 * those positions and the turn (the same 2). The Response object itself is
 * kept beside the conversation (axon:{c:ID}:r:POS), written in the settle
 * round trip, for GET /v1/responses/{id}. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "handlers.h"
#include "items.h"
#include "jsonv.h"
#include "log.h"
#include "pipeline.h"
#include "resp_ids.h"
#include "resp_in.h"
#include "resp_out.h"
#include "resp_store.h"
#include "seal.h"
#include "text.h"
#include "valkey.h"


/* item_reference: the ids (borrowed from the body) and what the store gave
 * for each (owned; NULL: not found), fetched in one round trip before the
 * parse. On the heap: 16 KiB is too much for a worker's stack. */
struct refs {
    const char *ids[RESP_MAX_REFS];
    json_object *found[RESP_MAX_REFS];
    size_t n;
};

/* One request's Responses side: the parsed meta, the writer's state, and
 * the record the settle round trip writes. */
struct resp_req {
    struct resp_meta meta;
    struct resp_out w;
    json_object *body;     /* owned: the client's body */
    const char *tenant;    /* borrowed: the request's */
    struct refs *refs;     /* owned, or NULL when the input names no item */
    char key[RESP_RECORD_KEY_MAX];
    char ttl[24];
    struct buf rec;        /* the record's JSON */
    const char *argv[5];
    size_t lens[5];
    int at;                /* the SET's reply in the batch, or -1 */
};

/* ---- lookups for resp_parse ------------------------------------------------- */

/* previous_response_id: the pipeline loads the conversation it names (one
 * round trip under its turn lock, with the turn's other reads), so the
 * parser gets no items here: only the id's shape was checked. */
static int no_items(void *ctx, const char *id, json_object **items, struct api_error *e)
{
    (void)ctx;
    (void)id;
    (void)e;
    *items = json_object_new_array();
    return AXON_OK;
}

/* An item_reference, answered from what fetch_refs read. */
static int ref_item(void *ctx, const char *id, json_object **item, struct api_error *e)
{
    (void)e;
    const struct refs *rf = ((struct resp_req *)ctx)->refs;
    *item = NULL;
    for (size_t k = 0; rf && k < rf->n; k++)
        if (rf->found[k] && !strcmp(rf->ids[k], id)) {
            *item = json_object_get(rf->found[k]);
            return AXON_OK;
        }
    return AXON_ENOTFOUND;
}

/* Every item_reference of the input, in one round trip before the parse
 * (none when there is none). Valkey down: 503, as for a conversation. */
static int fetch_refs(struct txn *t, struct resp_req *q)
{
    if (resp_item_refs(q->body, NULL, 0) == 0)
        return AXON_OK;
    struct refs *rf = xcalloc(1, sizeof *rf);
    q->refs = rf;
    size_t n = resp_item_refs(q->body, rf->ids, RESP_MAX_REFS);
    if (n > RESP_MAX_REFS)
        return AXON_OK; /* past the cap: resp_parse refuses it */
    rf->n = n;
    int rc = items_fetch(t->r->cfg, t->r->tenant, rf->ids, n, ITEMS_KEEP_THINKING, rf->found);
    if (rc == AXON_EIO) {
        api_error_set(&t->e, 503, ERR_SERVER, "valkey_unavailable", NULL,
                      "The conversation store is unavailable, so the input's item references "
                      "cannot be read. Please retry shortly; requests without stored state "
                      "still work.");
        snprintf(t->e.retry_after, sizeof t->e.retry_after, "1");
        return rc;
    }
    return AXON_OK; /* any other failure: the references are not found (404) */
}

/* previous_response_id: the conversation as that response left it (its
 * first N positions, while its record exists), under the turn lock. */
static int prev_load(void *ctx, const struct txn *t, const char *id, struct conv_lock *lock,
                     json_object **history, struct conv_meta *meta)
{
    (void)id;
    struct resp_req *q = ctx;
    bool tip = false;
    return resp_prev_load(t->r->cfg, q->tenant, q->meta.previous_id, lock, history, meta, &tip);
}

/* A reasoning item's encrypted_content, opened for the caller's key. */
static int open_reasoning(void *ctx, const char *sealed, size_t n, json_object **blocks,
                          char *why, size_t whylen)
{
    struct resp_req *q = ctx;
    return seal_open_json(q->tenant, sealed, n, blocks, why, whylen);
}

/* ---- pipeline hooks ------------------------------------------------------------ */

/* The conversation and positions are known: a stored turn's ids are
 * derived from them. */
static void on_loaded(void *ctx, const struct txn *t)
{
    struct resp_req *q = ctx;
    if (t->cv.store && t->cv.base >= 0 && conv_id_check(t->cv.id) == CONV_ID_STORED)
        resp_out_stored(&q->w, t->cv.id, t->cv.base + (long)t->cv.turn_n);
}

/* The record of the stored response, after the turn's store in the settle
 * round trip: the Response as answered, and where its input sits. */
static void on_settle_add(void *ctx, const struct txn *t, struct valkey_batch *b)
{
    struct resp_req *q = ctx;
    q->at = -1;
    if (q->w.pos < 0)
        return;
    long in_start = t->cv.base, in_end = t->cv.base + (long)t->cv.turn_n;
    /* {"response":…,"in_start":…,"in_end":…,"instructions":…} written
     * around the Response's text, which the answer sends as it is (made
     * once: resp_out.h). */
    json_object *instr = jsonv_get(q->body, "instructions");
    const char *resp;
    size_t rn;
    buf_init(&q->rec, 256u << 20);
    int rc = resp_out_response_json(&q->w, &t->out, &resp, &rn);
    if (!rc)
        rc = buf_puts(&q->rec, "{\"response\":");
    if (!rc)
        rc = buf_append(&q->rec, resp, rn);
    if (!rc)
        rc = buf_puts(&q->rec, ",\"in_start\":");
    if (!rc)
        rc = buf_i64(&q->rec, in_start);
    if (!rc)
        rc = buf_puts(&q->rec, ",\"in_end\":");
    if (!rc)
        rc = buf_i64(&q->rec, in_end);
    if (!rc)
        rc = buf_puts(&q->rec, ",\"instructions\":");
    if (!rc)
        rc = jsonv_write(&q->rec, json_object_is_type(instr, json_type_string) ? instr : NULL);
    if (!rc)
        rc = buf_puts(&q->rec, "}");
    if (!rc)
        rc = resp_record_key(t->cv.id, q->w.pos + 1, q->key);
    snprintf(q->ttl, sizeof q->ttl, "%d", t->r->cfg->conv_ttl_s);
    q->argv[0] = "SET";
    q->argv[1] = q->key;
    q->argv[2] = q->rec.p;
    q->argv[3] = "EX";
    q->argv[4] = q->ttl;
    for (int i = 0; i < 5; i++)
        q->lens[i] = i == 2 ? q->rec.len : strlen(q->argv[i]);
    if (!rc)
        q->at = valkey_batch_add(b, (struct valkey_cmd){.argc = 5, .argv = q->argv,
                                                        .lens = q->lens});
}

static void on_settle_done(void *ctx, const struct txn *t, int stored,
                           const struct valkey_batch *b)
{
    struct resp_req *q = ctx;
    bool ok = q->at >= 0 && b->rep[q->at] && b->rep[q->at]->type == REDIS_REPLY_STATUS;
    if (q->w.pos >= 0 && (!ok || stored))
        log_msg(AXON_LOG_WARN, "request %s: the response %s was answered but its record was not "
                "kept: GET /v1/responses/%s will not find it", t->r->id, q->w.id, q->w.id);
    buf_free(&q->rec);
}

/* A refusal of the chat request (the provider's translation, Claude's
 * rules) told in the Responses request's names and item paths. Only while
 * the messages are the request's own: a continued conversation's replay
 * puts stored messages before them, which the request never named. */
static void on_error(void *ctx, const struct txn *t, struct api_error *e)
{
    struct resp_req *q = ctx;
    if (q->meta.origins && (t->cv.create || !t->cv.id[0]))
        resp_map_error(&q->meta, e);
}

/* ---- read, validate -------------------------------------------------------------- */

/* The body into the canonical request and the pipeline's options. */
static int resp_read(struct txn *t, struct resp_req *q)
{
    const struct resp_lookup lk = {.ctx = q, .previous = no_items, .item = ref_item,
                                   .open_reasoning = open_reasoning};
    int rc = fetch_refs(t, q);
    if (!rc)
        rc = resp_parse(q->body, &lk, &t->req, &q->meta, &t->e);
    if (rc)
        return rc;
    struct axon_req *r = t->r;
    /* The fields accepted, not honoured, join what the translator drops
     * (X-Axon-Ignored-Params, the log line). */
    for (const char *p = q->meta.ignored; *p;) {
        const char *end = strstr(p, ", ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char word[RESP_IGNORED_MAX];
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        text_list_add(r->ignored, sizeof r->ignored, word);
        p += n + (end ? 2 : 0);
    }
    /* instructions: a leading system message that is never stored. */
    const char *instr = jsonv_get_str(q->body, "instructions");
    t->opt.lead = instr && instr[0] ? 1 : 0;
    t->opt.no_store = !q->meta.store;
    if (q->meta.previous_id[0]) {
        char conv[RESP_CONV_ID_LEN + 1];
        long pos = 0;
        if (resp_id_parse(q->meta.previous_id, strlen(q->meta.previous_id), conv, &pos) ||
            pos < 1) {
            api_error_set(&t->e, 404, ERR_INVALID_REQUEST, "previous_response_not_found",
                          "previous_response_id", "Previous response with id '%s' not found.",
                          q->meta.previous_id);
            return AXON_ENOTFOUND;
        }
        json_object_object_add(t->req, "conversation_id", json_object_new_string(conv));
        t->opt.upto = pos;
        t->opt.prev_id = q->meta.previous_id;
        t->opt.load = prev_load;
    } else if (!q->meta.conversation[0] && q->meta.store) {
        /* A stored response starts a conversation of its own. */
        json_object_object_add(t->req, "conversation_id", json_object_new_string("new"));
    }
    return AXON_OK;
}

/* validate, Axon's side: a model it serves (the chat validator ran in
 * resp_parse, in the same words as for chat). */
static int resp_validate(struct txn *t)
{
    if (t->routed)
        return AXON_OK;
    api_error_set(&t->e, 404, ERR_INVALID_REQUEST, "model_not_found", "model",
                  "The model `%s` does not exist or you do not have access to it.",
                  jsonv_get_str(t->req, "model"));
    return AXON_ENOTFOUND;
}

int responses_create(struct axon_req *r)
{
    struct txn t;
    struct resp_req q;
    memset(&q, 0, sizeof q);
    q.tenant = r->tenant;
    q.at = -1;
    resp_out_prepare(&q.w, &q.meta);
    txn_init(&t, r);
    t.writer = &resp_out_writer;
    t.writer_state = &q.w;
    t.opt.ctx = &q;
    t.opt.loaded = on_loaded;
    t.opt.settle_add = on_settle_add;
    t.opt.settle_done = on_settle_done;
    t.opt.error = on_error;
    int rc = chat_read_json_object(r, &q.body); /* read: answers its own 400 or 413 */
    if (!rc)
        rc = resp_read(&t, &q);
    if (!rc)
        rc = txn_route(&t);
    if (!rc)
        rc = resp_validate(&t);
    rc = txn_serve(&t, rc); /* the rest, and the one cleanup */
    resp_meta_free(&q.meta);
    for (size_t k = 0; q.refs && k < q.refs->n; k++)
        json_object_put(q.refs->found[k]);
    free(q.refs);
    json_object_put(q.body);
    buf_free(&q.rec);
    return rc;
}
