/* pipeline.c - one chat request's stages after the ingress: the provider's
 * validate, load the conversation, translate, lease, run, settle, finish
 * (pipeline.h; the story in docs/internals.md). */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "drain.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "lease.h"
#include "log.h"
#include "oai_legacy.h"
#include "stats.h"
#include "text.h"
#include "thinking_store.h"
#include "upstream.h"
#include "valkey.h"

void txn_init(struct txn *t, struct axon_req *r)
{
    memset(t, 0, sizeof *t);
    t->r = r;
    buf_init(&t->body, 64u << 20);
}

/* ---- route ------------------------------------------------------------------ */

int txn_route(struct txn *t)
{
    /* A request without a model gets the operator's default. */
    json_object *mv = NULL;
    if (!json_object_object_get_ex(t->req, "model", &mv) || json_object_is_type(mv, json_type_null))
        json_object_object_add(t->req, "model", json_object_new_string(t->r->cfg->default_model));
    json_object_object_get_ex(t->req, "model", &mv);
    /* "gpt-4o\u0000x" names no model: it is not routed as "gpt-4o". */
    t->routed = json_object_is_type(mv, json_type_string) &&
                strlen(json_object_get_string(mv)) == (size_t)json_object_get_string_len(mv) &&
                catalog_route(t->r->cfg, json_object_get_string(mv), &t->rt) == AXON_OK;
    if (t->routed) {
        t->pv = provider_of(t->rt.ep);
        text_join(t->r->model, sizeof t->r->model, t->rt.m.id, NULL, NULL);
    }
    return AXON_OK;
}

/* ---- the run's hooks (upstream.h) --------------------------------------------- */

static void *state_of(struct txn *t, int i)
{
    return t->st + (size_t)i * t->pv->up.state_size;
}

static bool on_delivered(void *ud, int i)
{
    struct txn *t = ud;
    for (int k = i * t->per; k < (i + 1) * t->per; k++)
        if (answer_delivered(&t->out, k))
            return true;
    return false;
}

static void on_restart(void *ud, int i)
{
    struct txn *t = ud;
    for (int k = i * t->per; k < (i + 1) * t->per; k++)
        answer_reset_choice(&t->out, k);
    if (t->pv->fini)
        t->pv->fini(state_of(t, i));
    t->pv->init(state_of(t, i), &t->out, i * t->per);
    /* Before anything reached the client, a retry starts the heartbeat
     * afresh: a ping now would commit the answer to a 200 stream, and turn
     * the 503 that all attempts failing deserve into an error chunk. */
    if (t->r->bytes_out == 0)
        t->last_out_us = log_now_us();
}

/* Heartbeats while the upstream is silent, and the client-gone check: nginx
 * closes our socket when its client leaves, lighttpd only learns of it
 * when we write, which the heartbeat provokes. A stream whose upstream stays
 * silent for a heartbeat therefore starts with a ping: from then on errors
 * are chunks, but a gone client is noticed and the web server's read
 * timeout is reset. */
static int on_tick(void *ud, uint64_t upstream_us)
{
    struct txn *t = ud;
    struct axon_req *r = t->r;
    uint64_t now = log_now_us();
    if (r->bytes_out != t->bytes_seen) {
        t->bytes_seen = r->bytes_out;
        t->last_out_us = now;
    }
    /* Before the first byte, an upstream that is sending (a large first
     * event, say) is not silent: no ping yet, so a failure can still be a
     * real status. */
    if (r->bytes_out == 0 && upstream_us > t->last_out_us)
        t->last_out_us = upstream_us;
    /* The client gone, or the drain time over (the answer ends with a
     * word, txn_run), else the session renewed. */
    int rc = lease_tick(r, &t->lease, &t->cut);
    if (rc)
        return rc;
    (void)conv_lock_renew(&t->cv.lock);
    for (int i = 0; i < t->nmore; i++)
        (void)pool_renew(r->cfg, &t->more[i]);
    if (now - t->last_out_us >= (uint64_t)r->cfg->heartbeat_s * 1000000u) {
        t->last_out_us = now;
        if (answer_ping(&t->out))
            return AXON_ECLIENT_GONE;
        t->bytes_seen = r->bytes_out; /* the ping is not news from the upstream */
    }
    return AXON_OK;
}

static const struct up_hooks run_hooks = {
    .delivered = on_delivered,
    .restart = on_restart,
    .tick = on_tick,
};

/* ---- load: the conversation ------------------------------------------------------ */

/* Bytes per token when Axon estimates a prompt's size: it cannot run
 * Claude's tokenizer, and JSON text of English runs about 4 bytes a token. */
#define BYTES_PER_TOKEN 4

static size_t array_bytes(json_object *a)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        n += conv_message_bytes(json_object_array_get_idx(a, i));
    return n;
}

/* What the prompt may take, in bytes: the model's context less the output
 * the request reserves, at BYTES_PER_TOKEN. A model whose context is
 * unknown trims nothing; one without a default max_tokens (the server
 * picks) reserves a quarter of its context. */
static size_t prompt_budget(json_object *req, const struct model *m)
{
    if (m->context <= 0)
        return SIZE_MAX;
    json_object *v = NULL;
    long reserve = m->max_tokens ? m->max_tokens : m->context / 4;
    if ((json_object_object_get_ex(req, "max_completion_tokens", &v) ||
         json_object_object_get_ex(req, "max_tokens", &v)) &&
        json_object_is_type(v, json_type_int))
        reserve = (long)json_object_get_int64(v);
    long tokens = m->context - reserve;
    return tokens > 0 ? (size_t)tokens * BYTES_PER_TOKEN : 0;
}

static int conv_full(struct api_error *e, const char *id, const struct axon_config *cfg)
{
    api_error_set(e, 400, ERR_INVALID_REQUEST, "conversation_full", "conversation_id",
                  "Conversation %s is full: a conversation holds at most %d messages and %zu "
                  "bytes. Start a new conversation (omit conversation_id, or send \"new\").",
                  id, cfg->conv_max_messages, cfg->conv_max_bytes);
    return AXON_ETOOBIG;
}

/* msgs[from..] as a new array sharing its members. */
static json_object *slice(json_object *msgs, size_t from, size_t to)
{
    json_object *out = json_object_new_array();
    for (size_t i = from; i < to; i++)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(msgs, i)));
    return out;
}

/* A previous_response_id that names nothing of the caller's: OpenAI's 404. */
static int prev_missing(struct api_error *e, const char *id)
{
    api_error_set(e, 404, ERR_INVALID_REQUEST, "previous_response_not_found",
                  "previous_response_id", "Previous response with id '%s' not found.", id);
    return AXON_ENOTFOUND;
}

/* Loads the conversation the request continues (or names a new one) and
 * rewrites req's messages into the replay: the ingress's leading messages
 * that are not stored (o->lead), history, trimmed to the model's budget by
 * whole turns, then the new messages. With o->upto, only the history's
 * first upto positions, and a branch when there are more. On failure e is
 * filled. */
static int conv_prepare(const struct txn *t, struct axon_req *r, json_object *req,
                        const struct model *m, struct txn_conv *cv, const struct txn_opts *o,
                        struct api_error *e)
{
    const struct axon_config *cfg = r->cfg;
    json_object *msgs = NULL, *cidv = NULL;
    json_object_object_get_ex(req, "messages", &msgs);
    const char *cid = json_object_object_get_ex(req, "conversation_id", &cidv) &&
                              json_object_is_type(cidv, json_type_string)
                          ? json_object_get_string(cidv)
                          : NULL;
    cv->base = -1;
    size_t all_n = json_object_array_length(msgs);
    size_t lead = o->lead < all_n ? o->lead : all_n;
    size_t new_n = all_n - lead, new_bytes = 0;
    for (size_t i = lead; i < all_n; i++)
        new_bytes += conv_message_bytes(json_object_array_get_idx(msgs, i));
    /* An id holding a \u0000 is no id: never the one before the NUL. */
    bool whole = cid && strlen(cid) == (size_t)json_object_get_string_len(cidv);
    bool asked_new = whole && !strcmp(cid, "new");
    if (!cid || asked_new) {
        if (!cid && (cfg->store_on_request || o->no_store))
            return AXON_OK; /* no conversation asked for, none made */
        /* While Valkey is down the answer still names a conversation, marked
         * as never stored; so does one too big to store that nobody asked for. */
        bool fits = (long long)new_n + 1 <= cfg->conv_max_messages && new_bytes <= cfg->conv_max_bytes;
        if (asked_new && !fits)
            return conv_full(e, "new", cfg);
        cv->store = fits && valkey_up();
        cv->create = true;
        conv_new_id(cv->id, cv->store);
        cv->turn = slice(msgs, lead, all_n);
        cv->base = cv->store ? 0 : -1;
        cv->turn_n = new_n;
        if (!cv->store)
            text_append_header(r->resp_headers, sizeof r->resp_headers,
                               "X-Axon-Conversation-Stored: false");
        return AXON_OK;
    }
    const char *param = o->prev_id ? "previous_response_id" : "conversation_id";
    enum conv_id_kind kind = whole ? conv_id_check(cid) : CONV_ID_BAD;
    if (kind != CONV_ID_STORED && o->prev_id)
        return prev_missing(e, o->prev_id);
    if (kind != CONV_ID_STORED)
        return conv_api_error(e, kind == CONV_ID_BAD ? AXON_EINVAL : AXON_ENOTFOUND, cid, param);
    json_object *history = NULL;
    struct conv_meta meta;
    int rc = o->load ? o->load(o->ctx, t, cid, &cv->lock, &history, &meta)
                     : conv_load_locked(cfg, cid, r->tenant, &cv->lock, &history, &meta);
    if (rc == AXON_ENOTFOUND && o->prev_id)
        return prev_missing(e, o->prev_id);
    if (rc)
        return conv_api_error(e, rc, cid, param); /* EBUSY: 409 */
    /* previous_response_id: the conversation as that response left it. A
     * position past what is stored was never a response of this one. */
    bool branch = false;
    if (o->upto > 0) {
        if (o->upto > meta.message_count) {
            json_object_put(history);
            (void)conv_unlock(&cv->lock);
            return prev_missing(e, o->prev_id ? o->prev_id : cid);
        }
        branch = o->upto < meta.message_count;
    }
    json_object *turn = json_object_new_array();
    for (size_t i = lead; i < all_n; i++) {
        json_object *mm = json_object_array_get_idx(msgs, i);
        if (!conv_has_system(history, mm))
            json_object_array_add(turn, json_object_get(mm));
    }
    size_t turn_n = json_object_array_length(turn), turn_bytes = array_bytes(turn);
    /* A branch's new conversation holds the history as read (tombstones
     * left out), then the turn. */
    long long before = branch ? (long long)json_object_array_length(history) : meta.message_count;
    size_t before_bytes = branch ? array_bytes(history) : (size_t)meta.bytes;
    if (!o->no_store && (before + (long long)turn_n + 1 > cfg->conv_max_messages ||
                         before_bytes + turn_bytes > cfg->conv_max_bytes)) {
        json_object_put(history);
        json_object_put(turn);
        (void)conv_unlock(&cv->lock);
        return conv_full(e, cid, cfg);
    }
    /* A branch stores the history it branched from with its turn, before
     * the replay is trimmed. */
    json_object *stored = NULL;
    if (branch) {
        stored = slice(history, 0, json_object_array_length(history));
        for (size_t i = 0; i < turn_n; i++)
            json_object_array_add(stored, json_object_get(json_object_array_get_idx(turn, i)));
    }
    size_t budget = prompt_budget(req, m);
    int dropped = conv_fit(history, budget > turn_bytes ? budget - turn_bytes : 0);
    if (dropped)
        stats_turns_dropped(dropped);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "X-Axon-Turns-Dropped: %d", dropped);
    text_append_header(r->resp_headers, sizeof r->resp_headers, hdr);
    json_object *replay = slice(msgs, 0, lead);
    for (size_t i = 0; i < json_object_array_length(history); i++) /* tombstones: not loaded */
        json_object_array_add(replay, json_object_get(json_object_array_get_idx(history, i)));
    json_object_put(history);
    for (size_t i = 0; i < turn_n; i++)
        json_object_array_add(replay, json_object_get(json_object_array_get_idx(turn, i)));
    json_object_object_add(req, "messages", replay); /* the replay */
    cv->turn_n = turn_n;
    if (o->no_store) {
        json_object_put(stored);
        json_object_put(turn);
        snprintf(cv->id, sizeof cv->id, "%s", cid);
        return AXON_OK; /* read, never grown: the lock goes back at settle */
    }
    if (branch) {
        json_object_put(turn);
        conv_new_id(cv->id, true);
        cv->create = true;
        cv->turn = stored;
    } else {
        snprintf(cv->id, sizeof cv->id, "%s", cid);
        cv->turn = turn;
    }
    cv->base = before;
    cv->store = true;
    return AXON_OK;
}

/* What the stored turn's result means for the answer: a failure cannot
 * change an answer already streamed; it is counted, logged and, for a JSON
 * answer still unsent, told in a header. */
static void note_stored(struct axon_req *r, struct txn_conv *cv, int rc,
                        const struct answer *out)
{
    if (rc == AXON_OK) {
        stats_turn_stored();
        return;
    }
    stats_store_failed();
    log_msg(AXON_LOG_WARN, "request %s: the turn was answered but not stored (%s)", r->id,
            rc == AXON_EIO ? valkey_strerror()
            : rc == AXON_ETOOBIG ? "the conversation is full"
            : rc == AXON_ENOTFOUND ? "the conversation was deleted meanwhile"
            : rc == AXON_ETIMEDOUT ? "Valkey ran the store after its deadline"
            : rc == AXON_EBUSY ? "the conversation's turn lock expired before the store"
                               : "refused");
    if (out->stream)
        return; /* the first chunk named it already */
    text_append_header(r->resp_headers, sizeof r->resp_headers, "X-Axon-Conversation-Stored: false");
    if (cv->create) {
        /* The answer is not sent yet: name the id for what it is. The
         * out->conversation_id pointer sees the rewritten buffer. */
        char unstored[CONV_ID_MAX + 1];
        snprintf(unstored, sizeof unstored, "%s%s", CONV_UNSTORED_PREFIX,
                 cv->id + strlen(CONV_ID_PREFIX));
        memcpy(cv->id, unstored, sizeof unstored);
    }
}

/* Each answer (choice) with signed thinking and tool calls, kept under its
 * tool-call ids for a client that will resend the history without it. */
static void keep_thinking(struct axon_req *r, const struct answer *out,
                          struct thinking_store_op *op)
{
    for (int i = 0; i < out->n; i++) {
        const struct answer_choice *c = &out->c[i];
        if (!c->thinking || c->ntools == 0)
            continue;
        const char *ids[THINKING_KEYS_MAX];
        int n = c->ntools < THINKING_KEYS_MAX ? c->ntools : THINKING_KEYS_MAX;
        for (int k = 0; k < n; k++)
            ids[k] = strlen(c->tools[k].id) == c->tools[k].id_len ? c->tools[k].id : NULL;
        (void)thinking_store_answer(op, r->tenant, c->thinking, ids, n); /* done reports */
    }
}

/* ---- signed thinking for clients that resend the history ------------------- */

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* An assistant message with tool calls and no thinking_blocks of its own:
 * the client dropped what Claude signed. */
static bool lost_thinking(json_object *m)
{
    const char *role = json_object_get_string(member(m, "role"));
    json_object *calls = member(m, "tool_calls"), *tb = member(m, "thinking_blocks");
    return role && !strcmp(role, "assistant") && json_object_is_type(calls, json_type_array) &&
           json_object_array_length(calls) > 0 &&
           !(json_object_is_type(tb, json_type_array) && json_object_array_length(tb) > 0);
}

/* msg with thinking_blocks set to blocks (takes blocks): a new object that
 * shares msg's members, so the client's message stays as it was sent. */
static json_object *with_thinking(json_object *msg, json_object *blocks)
{
    json_object *copy = json_object_new_object();
    json_object_object_foreach(msg, k, v)
        if (strcmp(k, "thinking_blocks"))
            json_object_object_add(copy, k, json_object_get(v));
    json_object_object_add(copy, "thinking_blocks", blocks);
    return copy;
}

/* A client that resends the whole history (no conversation_id, or new
 * messages on top of one) drops the signed thinking blocks of its earlier
 * tool turns, which OpenAI's format has no place for; with thinking on,
 * Claude refuses the tool turn without them. So, when the request would
 * think, every such assistant message is looked up by its tool-call ids
 * (one MGET, none when there is no such message) and gets its original
 * blocks back, unchanged, before translation puts them first. When the one
 * Claude checks (the last assistant message, with tool results after it)
 * cannot be found (expired, Valkey down, another key's ids), the request
 * goes with thinking off: an answer without thinking beats a 400 the client
 * cannot fix. */
static void restore_thinking(struct axon_req *r, json_object *req, const struct model *model)
{
    json_object *msgs = member(req, "messages");
    if (!anthropic_thinks(req, model) || !json_object_is_type(msgs, json_type_array))
        return;
    size_t n = json_object_array_length(msgs);
    /* Newest first, so the caps leave out the oldest. */
    const char *ids[THINKING_KEYS_MAX];
    size_t at[THINKING_KEYS_MAX];  /* each id's message */
    int nids = 0;
    size_t last = SIZE_MAX;        /* the last assistant message */
    for (size_t i = n; i-- > 0;) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = json_object_get_string(member(m, "role"));
        if (last == SIZE_MAX && role && !strcmp(role, "assistant"))
            last = i;
        if (!lost_thinking(m))
            continue;
        json_object *calls = member(m, "tool_calls");
        for (size_t k = 0; k < json_object_array_length(calls) && nids < THINKING_KEYS_MAX; k++) {
            json_object *idv = member(json_object_array_get_idx(calls, k), "id");
            const char *id = json_object_get_string(idv);
            /* An id with a \u0000 is no id Claude made: not looked up by its head. */
            if (thinking_id_ok(id) && strlen(id) == (size_t)json_object_get_string_len(idv)) {
                ids[nids] = id;
                at[nids++] = i;
            }
        }
    }
    bool needed = last != SIZE_MAX && last + 1 < n &&
                  lost_thinking(json_object_array_get_idx(msgs, last));
    if (nids == 0 && !needed)
        return;
    json_object *found[THINKING_KEYS_MAX];
    int rc = nids ? thinking_store_find(r->tenant, ids, nids, found) : AXON_ENOTFOUND;
    bool restored_last = false;
    json_object *replay = NULL; /* msgs with the blocks put back, made on the first find */
    for (int k = 0; k < nids; k++) {
        if (!found[k])
            continue;
        if (!replay) {
            /* A new array: the client's (which the stored turn may hold)
             * stays as the client sent it. */
            replay = json_object_new_array();
            for (size_t i = 0; i < n; i++)
                json_object_array_add(replay, json_object_get(json_object_array_get_idx(msgs, i)));
        }
        /* The first of a message's ids that is found gives its blocks. */
        json_object *m = json_object_array_get_idx(replay, at[k]);
        if (!lost_thinking(m)) {
            json_object_put(found[k]);
            continue;
        }
        json_object_array_put_idx(replay, at[k], with_thinking(m, found[k]));
        restored_last |= at[k] == last;
    }
    if (replay)
        json_object_object_add(req, "messages", replay);
    if (!needed || restored_last)
        return;
    /* Named ignored as the client asked it (x-axon-ignored-params, the log);
     * a model that thinks unasked is sent {type: disabled}. */
    text_list_add(r->ignored, sizeof r->ignored,
                  member(req, "thinking") || !member(req, "reasoning_effort") ? "thinking"
                                                                              : "reasoning_effort");
    json_object_object_add(req, "thinking", json_object_new_boolean(0));
    json_object_object_del(req, "reasoning_effort");
    log_msg(AXON_LOG_INFO, "request %s: thinking turned off: the signed thinking of the last "
            "assistant tool turn was not sent back and is not kept for this key (%s)%s",
            r->id, rc == AXON_EIO ? valkey_strerror()
                   : nids == 0 ? "its tool-call ids cannot be keys"
                               : "expired, or another key's ids",
            anthropic_thinks(req, model) ? "; the model cannot stop thinking, so Claude may refuse it"
                                     : "");
}

/* Adds the ", "-separated words of list (borrowed) to r->ignored: what the
 * translator left out joins what the pipeline did, in one header and log field. */
static void note_ignored(struct axon_req *r, const char *list)
{
    char word[CHAT_IGNORED_MAX];
    for (const char *p = list; *p;) {
        const char *end = strstr(p, ", ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        text_list_add(r->ignored, sizeof r->ignored, word);
        p += n + (end ? 2 : 0);
    }
}


/* The error of an answer the drain deadline ended (a 503 before the first
 * byte, an error chunk after): the SDKs retry it, elsewhere or later. */
static void set_cut_error(struct api_error *e)
{
    api_error_set(e, 503, ERR_SERVER, DRAIN_CODE, NULL,
                  "Axon is shutting down: the answer was cut at the end of its drain time "
                  "(AXON_DRAIN_S). Please retry.");
}

/* Gives back the sessions of a request's other calls, in one round trip
 * per VALKEY_MAX_PIPELINE. A refusal cools only the request's first
 * session (settle), as for a single call. */
static void release_more(const struct axon_config *cfg, struct pool_lease *more, int n)
{
    for (int at = 0; at < n; at += VALKEY_MAX_PIPELINE) {
        int k = n - at < VALKEY_MAX_PIPELINE ? n - at : VALKEY_MAX_PIPELINE;
        struct pool_release_op ops[VALKEY_MAX_PIPELINE];
        struct valkey_batch b = {0};
        for (int i = 0; i < k; i++)
            pool_release_add(cfg, &more[at + i], POOL_DONE, &ops[i], &b);
        (void)valkey_batch_run(&b);
        for (int i = 0; i < k; i++)
            (void)pool_release_done(&ops[i], &b, NULL);
        valkey_batch_free(&b);
    }
}

/* Calls the upstream and answers; gives the lease back on every path. */

/* ---- settle: the request's last Valkey round trip ------------------------------ */

/* The finished turn stored (choice 0's message, when store), the answers'
 * signed thinking kept by tool-call id (when out has any), the session
 * given back (when held) and the turn lock released (when held), in one
 * pipeline. It runs before the end of the answer reaches the client (the
 * settle stage, before txn_end answers), so a client that continues at once
 * finds its turn. out: the answer when it succeeded, else NULL. txn_end
 * calls it with NULL for what a stopped request still holds. */
static void give_back(struct txn *t, const struct answer *out, bool store, enum pool_outcome o)
{
    struct axon_req *r = t->r;
    const struct axon_config *cfg = r->cfg;
    struct txn_conv *cv = &t->cv;
    struct valkey_batch b = {0};
    struct conv_append_op ap;
    struct pool_release_op rel;
    struct thinking_store_op th;
    thinking_store_init(&th);
    bool leased = t->leased;
    store = store && out && leased;
    if (store) {
        json_object *assistant = answer_message(out, 0);
        /* A branch creates a new conversation: the lock it holds is the
         * one it branched from, which fences nothing of the new one. */
        conv_append_add_fenced(cfg, cv->id, r->tenant, t->rt.m.id, cv->turn, assistant,
                               cv->create, cv->create ? NULL : &cv->lock,
                               pool_server_now_ms(&t->lease), &ap, &b);
        json_object_put(assistant); /* add keeps its text */
        if (t->opt.settle_add)
            t->opt.settle_add(t->opt.ctx, t, &b);
    }
    if (out) {
        keep_thinking(r, out, &th);
        thinking_store_add(cfg, &th, &b);
    }
    if (leased)
        pool_release_add(cfg, &t->lease, o, &rel, &b);
    t->leased = false;
    conv_unlock_add(&cv->lock, &b); /* after the store: the next turn reads this one */
    (void)valkey_batch_run(&b);
    if (store) {
        int stored = conv_append_done(&ap, &b);
        if (t->opt.settle_done)
            t->opt.settle_done(t->opt.ctx, t, stored, &b);
        note_stored(r, cv, stored, out);
    }
    int thrc = thinking_store_done(&th, &b);
    if (thrc)
        log_msg(AXON_LOG_WARN, "request %s: the signed thinking of the answer's tool calls was not "
                "kept (%s): a client resending the history without it gets thinking off",
                r->id, thrc == AXON_EIO ? valkey_strerror()
                       : thrc == AXON_ETOOBIG ? "past a cap" : "refused");
    (void)conv_unlock_done(&cv->lock, &b); /* logs a lost release */
    bool recycled = false;
    if (leased)
        (void)pool_release_done(&rel, &b, &recycled);
    valkey_batch_free(&b);
    if (recycled)
        lease_recycled(cfg, t->pv);
}

/* ---- the stages -------------------------------------------------------------------- */

/* validate, the provider's side: an upstream to send to. */
static int txn_check(struct txn *t)
{
    if (t->rt.ep->provider == PROVIDER_ANTHROPIC && !t->r->cfg->anthropic_key) {
        /* x-should-retry stops the SDKs' automatic retries: asking again
         * cannot help until the operator configures the upstream. */
        api_error_set(&t->e, 503, ERR_SERVER, "no_upstream", NULL,
                      "The model `%s` is served by Claude, but no Claude upstream is "
                      "configured. The operator must set ANTHROPIC_API_KEY and restart Axon.",
                      t->rt.m.id);
        t->e.no_retry = true;
        return AXON_EINVAL;
    }
    return AXON_OK;
}

/* load: the conversation the request continues, and its replay. Valkey is
 * asked only for a stored conversation (conv_prepare). */
static int txn_load(struct txn *t)
{
    int rc = conv_prepare(t, t->r, t->req, &t->rt.m, &t->cv, &t->opt, &t->e);
    if (!rc && t->opt.loaded)
        t->opt.loaded(t->opt.ctx, t);
    return rc;
}

/* translate: the canonical request, replay included, into the upstream's
 * body, and every check the provider makes: all before the lease, so an
 * invalid request never waits for (or is refused for want of) a session. */
static int txn_translate(struct txn *t)
{
    struct axon_req *r = t->r;
    json_object *req = t->req;
    if (t->rt.ep->provider == PROVIDER_ANTHROPIC)
        anthropic_scope_user(req, r->tenant);
    /* After the load, so that a stored history's function messages are
     * carried too; before the provider, so that every provider gets tools. */
    t->legacy = oai_legacy_to_tools(req);
    /* After the legacy rewrite, so that a resent function_call is a tool
     * turn too (its position-made id is never found: thinking goes off).
     * Asks Valkey only when a tool turn lost its signed thinking. */
    if (t->rt.ep->provider == PROVIDER_ANTHROPIC)
        restore_thinking(r, req, &t->rt.m); /* only Claude signs thinking */
    int rc = t->pv->request(req, &t->rt.m, &t->body, &t->plan, &t->e);
    if (rc)
        return rc;
    if (t->plan.cache_dropped) {
        /* Claude takes four breakpoints; the client's oldest went (logged
         * by the translator). */
        char hdr[80];
        snprintf(hdr, sizeof hdr, "X-Axon-Cache-Breakpoints-Dropped: %d", t->plan.cache_dropped);
        text_append_header(r->resp_headers, sizeof r->resp_headers, hdr);
    }
    note_ignored(r, t->plan.ignored);
    if (r->ignored[0]) {
        char hdr[sizeof r->ignored + 32];
        snprintf(hdr, sizeof hdr, "X-Axon-Ignored-Params: %s", r->ignored);
        text_append_header(r->resp_headers, sizeof r->resp_headers, hdr);
    }
    return AXON_OK;
}

/* Asked between polls while a request waits for a session: the turn lock
 * renewed (AXON_POOL_WAIT_MS may be longer than its lease). */
static void renew_turn(void *ud)
{
    struct txn *t = ud;
    (void)conv_lock_renew(&t->cv.lock);
}

/* lease: a session of the endpoint's pool. */
static int txn_lease(struct txn *t)
{
    struct axon_req *r = t->r;
    bool cut = false;
    int rc = lease_take(r, t->rt.ep->pool, renew_turn, t, &t->lease, &t->leased, &cut, &t->e);
    if (rc == AXON_OK && io_client_gone(r)) {
        /* The client left while its request waited, and the wait did not
         * see it: nobody would read the answer, so the upstream never
         * hears of it and the session goes straight back (txn_end). */
        rc = AXON_ECLIENT_GONE;
    } else if (cut) {
        set_cut_error(&t->e); /* the wait ended by the drain deadline */
    }
    return rc;
}

/* run: the upstream calls, their answers translated into the output as
 * they arrive. */
static int txn_run(struct txn *t)
{
    struct axon_req *r = t->r;
    const struct axon_config *cfg = r->cfg;
    const struct provider_ops *pv = t->pv;
    const struct chat_plan *plan = &t->plan;
    char url[1200];
    text_join(url, sizeof url, t->rt.ep->base_url, pv->path, NULL);
    t->headers = pv->headers(cfg, t->rt.ep);
    t->per = plan->n / plan->calls;
    t->last_out_us = log_now_us();
    answer_init(&t->out, r, plan->n, plan->stream, plan->include_usage, t->rt.m.id, t->writer,
                t->writer_state);
    t->out_open = true;
    t->out.json_mode = plan->json_mode;
    t->out.legacy_functions = t->legacy;
    t->out.schema = plan->schema;
    t->out.schema_strict = plan->schema_strict;
    t->out.tools = plan->tools;
    t->out.conversation_id = t->cv.id[0] ? t->cv.id : NULL;
    t->st = xcalloc((size_t)plan->calls, pv->up.state_size);
    t->ncalls = plan->calls;
    struct up_call calls[UP_MAX_CALLS];
    for (int i = 0; i < plan->calls; i++) {
        pv->init(state_of(t, i), &t->out, i * t->per);
        calls[i] = (struct up_call){.url = url, .headers = t->headers, .body = t->body.p,
                                    .len = t->body.len,
                                    .stream = plan->stream || plan->stream_upstream,
                                    .st = state_of(t, i)};
    }
    r->stream = plan->stream;
    r->upstream = t->rt.ep->name;
    /* Each call in flight holds a session, so that the pool size bounds
     * what the upstream sees: the calls beyond the sessions this request
     * gets run when one of its own calls ends. */
    if (plan->calls > 1) {
        int want = plan->calls - 1 < cfg->pool_size - 1 ? plan->calls - 1 : cfg->pool_size - 1;
        t->more = want > 0 ? xcalloc((size_t)want, sizeof *t->more) : NULL;
        t->nmore = want > 0 ? pool_acquire_more(cfg, &t->lease, t->more, want) : 0;
    }
    int rc = upstream_run(cfg, calls, plan->calls, 1 + t->nmore, &pv->up, &run_hooks, t, &t->e);
    release_more(cfg, t->more, t->nmore);
    t->nmore = 0;
    if (t->cut)
        set_cut_error(&t->e);
    /* Every attempt is over: the translated body goes before settle
     * builds the stored turn, so the two never coexist. */
    buf_free(&t->body);
    return answer_check(&t->out, rc, &t->e);
}

/* settle: the turn stored only when the answer stands; the session back,
 * cooled down after a refusal that says something about it. */
static int txn_settle(struct txn *t, int rc)
{
    give_back(t, rc == AXON_OK ? &t->out : NULL, t->cv.store, lease_outcome(rc, &t->e));
    return rc;
}

int txn_serve(struct txn *t, int rc)
{
    if (!rc)
        rc = txn_check(t);
    if (!rc)
        rc = txn_load(t);
    if (!rc)
        rc = txn_translate(t);
    if (!rc)
        rc = txn_lease(t);
    if (!rc) {
        rc = txn_run(t);
        rc = txn_settle(t, rc);
    }
    return txn_end(t, rc);
}

int txn_end(struct txn *t, int rc)
{
    struct axon_req *r = t->r;
    /* What a stopped request still holds goes back first (one round trip,
     * none when nothing is held): the client told of its error may retry
     * at once. */
    if (t->leased || t->cv.lock.token[0])
        give_back(t, NULL, false, POOL_DONE);
    if (rc && t->e.status && t->opt.error)
        t->opt.error(t->opt.ctx, t, &t->e);
    if (t->out_open)
        rc = answer_close(&t->out, rc, &t->e); /* finish */
    else if (rc && rc != AXON_ECLIENT_GONE && t->e.status)
        rc = errors_send_api(r, &t->e);
    else if (rc == AXON_ECLIENT_GONE)
        r->client_gone = true;
    for (int i = 0; t->pv && t->pv->fini && i < t->ncalls; i++)
        t->pv->fini(state_of(t, i));
    free(t->st);
    if (t->out_open)
        answer_free(&t->out);
    free(t->more);
    curl_slist_free_all(t->headers);
    buf_free(&t->body);
    json_object_put(t->cv.turn);
    json_object_put(t->req);
    memset(t, 0, sizeof *t);
    return rc;
}
