/* conv.h - the conversation store in Valkey.
 *
 * Keys (hash-tagged: one conversation sits in one cluster slot):
 *   axon:{c:ID}:meta   hash  owner (tenant), model, created, updated (Unix s),
 *                            message_count, bytes
 *   axon:{c:ID}:msgs   list  one JSON message per entry, in order
 *   axon:{k:TENANT}:convs  zset  the tenant's conversation ids by update time (ms)
 *   axon:{g}:active    zset  every conversation id by expiry time (ms), so
 *                            /stats counts live conversations without SCAN
 *   axon:{k:TENANT}:think:CALLID  string  signed thinking by tool-call id, for
 *                            clients that resend the history (thinking_store.h)
 *   axon:{c:ID}:turn   string  the turn lock: the token of the turn running on
 *                            the conversation, with a lease (conv_load_locked)
 * Both conversation keys expire together; every stored turn slides them.
 *
 * A turn is written in one Lua script (owner check, caps, RPUSH of all its
 * messages, meta update, EXPIRE of both keys), so two concurrent turns on
 * one conversation never interleave and a failure writes nothing. A script
 * that reaches the server after the caller has stopped waiting for it
 * writes nothing either (the store deadline, below). The two
 * index zsets live in other slots and are updated in one pipeline right
 * after the script, at the server time the script returns (so every host
 * scores on one clock); that update is best effort: if it fails, the turn
 * stays stored and the failure is logged. Needs Redis >= 6.2 or Valkey
 * (ZADD GT keeps a slower concurrent turn from moving an entry back).
 *
 * Errors: AXON_ENOTFOUND (missing, expired, or another tenant's: the same
 * answer, so ids of others cannot be probed), AXON_EIO (Valkey down or slow),
 * AXON_ETOOBIG (a cap), AXON_EINVAL (a bad id, tenant or argument: nothing
 * asked of Valkey), AXON_EPROTO (a record or reply that does not parse: not
 * ours, or damaged), AXON_EREPLY (Valkey answered an error, e.g. WRONGTYPE
 * on a key that is not ours). */
#ifndef AXON_CONV_H
#define AXON_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "axon.h"
#include "buf.h"
#include "config.h"
#include "errors.h"
#include "valkey.h"

#define CONV_ID_PREFIX "conv-"
#define CONV_UNSTORED_PREFIX "conv-unstored-" /* answered while Valkey was down */
#define CONV_ID_HEX 32                        /* 128 random bits */
#define CONV_ID_MAX 46                        /* strlen(unstored prefix) + 32 */
#define CONV_MODEL_MAX 128
#define CONV_LIST_MAX 100                     /* largest ?limit= */
#define CONV_LIST_DEFAULT 20

enum conv_id_kind {
    CONV_ID_BAD,      /* not an id Axon could have made: 400 */
    CONV_ID_STORED,   /* "conv-" + 32 lowercase hex */
    CONV_ID_UNSTORED, /* "conv-unstored-" + 32 lowercase hex: never in Valkey */
};

/* A fresh id from getrandom() (text_random): "conv-" + 32 hex, or the
 * unstored form. out has CONV_ID_MAX + 1 bytes. */
void conv_new_id(char *out, bool stored);
/* Checks id (borrowed, may be NULL) before it goes near a key name. */
enum conv_id_kind conv_id_check(const char *id);

struct conv_meta {
    char id[CONV_ID_MAX + 1];
    char model[CONV_MODEL_MAX + 1];
    long long created, updated; /* Unix seconds */
    long long message_count;
    long long bytes;            /* stored JSON bytes of all messages */
};

/* Loads a conversation of tenant (borrowed). On AXON_OK *messages is a new
 * JSON array of the stored messages, in order (json_object_put), and *meta
 * is filled; otherwise *messages is NULL. cfg (borrowed) gives the timeout.
 *
 * One round trip (a script) when the history is at most
 * CONV_READ_PART_BYTES; a larger one then comes in parts of about that
 * size, a round trip each, each waited for as long as the store allows its
 * size (CONV_STORE_BYTES_PER_MS). So one tenant's megabytes neither stop
 * Valkey for the others while it copies them out, nor count as Valkey down
 * when they are slow to come (valkey.h: the breaker rule; issue 18). */
#define CONV_READ_PART_BYTES 262144 /* 256 KiB */
int conv_load(const struct axon_config *cfg, const char *id, const char *tenant,
              json_object **messages, struct conv_meta *meta) AXON_MUST_CHECK;

/* The turn lock. Two turns at once on one conversation would both read the
 * same history, and the second would be answered without the first: a
 * fork nobody asked for. So a continued turn holds the conversation's lock
 * from its read to its store, and a turn that finds it held is refused
 * (chat.c: 409 conversation_busy) rather than queued: a queued turn would
 * hold a worker thread and a client connection for as long as the other
 * turn runs, and OpenAI's SDKs retry a 409 by themselves.
 *
 * The lock is a key with a random token and a lease of cfg->pool_lease_s
 * (so a holder that died frees it as its session is reclaimed), renewed
 * while the turn runs (conv_lock_renew). Release and renewal act only for
 * the token's holder, and the store of a continued turn checks the token
 * in its script: a turn whose lock expired (and so may have been taken by
 * the next turn) is not stored, and a late release cannot free the next
 * turn's lock. A lock whose release was lost (Valkey down at that moment)
 * lasts its lease. */
#define CONV_LOCK_TOKEN_HEX 32 /* 128 random bits */
struct conv_lock {
    char key[CONV_ID_MAX + 24];          /* "axon:{c:" ID "}:turn" */
    char token[CONV_LOCK_TOKEN_HEX + 1]; /* "": not held */
    long long lease_ms;
    uint64_t renew_at_us;                /* monotonic: when conv_lock_renew next asks */
    const char *argv[2];                 /* the release's, in a batch */
    int at;                              /* the release's reply in the batch, or -1 */
    bool in_store;                       /* released by the store at store_at (fenced) */
    int store_at;
};

/* conv_load, taking the conversation's turn lock in the same round trip
 * (before the read). AXON_OK: loaded and *lock held (give it back with
 * conv_unlock or conv_unlock_add/done). AXON_EBUSY: another turn holds it
 * (nothing loaded). Any other error: as conv_load, and no lock held. */
int conv_load_locked(const struct axon_config *cfg, const char *id, const char *tenant,
                     struct conv_lock *lock, json_object **messages,
                     struct conv_meta *meta) AXON_MUST_CHECK;
/* conv_load_locked reading only the first upto (>= 0) positions: a
 * Responses continuation from an earlier response sees the conversation as
 * it was then (resp_store.c). meta stays the whole conversation's
 * (message_count counts every position), so the caller tells the tip from
 * a branch point. need (borrowed, NULL: none): a key of this conversation
 * ("axon:{c:ID}:...", else AXON_EINVAL) that must exist in the same
 * instant, else AXON_ENOTFOUND (a deleted response continues nothing).
 * The same round trip as conv_load_locked. */
int conv_load_locked_upto(const struct axon_config *cfg, const char *id, const char *tenant,
                          long long upto, const char *need, struct conv_lock *lock,
                          json_object **messages, struct conv_meta *meta) AXON_MUST_CHECK;
/* Gives the lock back if held (a round trip); then it is not held. AXON_EIO
 * when Valkey did not answer (the lease frees it); AXON_EREPLY or
 * AXON_EPROTO when it answered an error or nonsense. */
int conv_unlock(struct conv_lock *lock);
/* The same in a batch with other commands (chat.c's last round trip):
 * add after the turn's store; done after valkey_batch_run (if the batch
 * had no room, done gives it back in a round trip of its own). */
void conv_unlock_add(struct conv_lock *lock, struct valkey_batch *b);
int conv_unlock_done(struct conv_lock *lock, const struct valkey_batch *b);
/* Extends the lease when a third of it has passed; costs nothing
 * otherwise. Call it from the turn's tick. AXON_ENOTFOUND when the lock
 * was lost (logged once, not asked again), AXON_EIO when Valkey did not
 * answer (asked again a second later). */
int conv_lock_renew(struct conv_lock *lock);

/* Stores one turn: the client's new messages (a JSON array of objects,
 * borrowed) then the assistant message (borrowed; NULL: none), each as one
 * list entry, byte for byte as json-c prints it plain. create: the id
 * is new and the conversation is created with tenant as owner and model;
 * otherwise it must exist and belong to tenant. The TTL (cfg->conv_ttl_s)
 * slides on both keys. Refuses with AXON_ETOOBIG, writing nothing, when the
 * conversation would pass cfg->conv_max_messages, or when its bytes before
 * the assistant message would pass cfg->conv_max_bytes (so a turn allowed
 * in may end beyond the byte cap by one answer). */
int conv_append(const struct axon_config *cfg, const char *id, const char *tenant,
                const char *model, json_object *client_messages, json_object *assistant,
                bool create) AXON_MUST_CHECK;

/* The same store in two halves, so that it shares a round trip with other
 * modules' commands (chat.c releases the session in the same one):
 * conv_append_add checks and builds the turn into *op and adds the store
 * and the index updates to b; after valkey_batch_run, conv_append_done
 * returns what conv_append would and frees what *op holds. id and tenant
 * are borrowed until done. Call done even when add failed.
 *
 * now_ms: the server's clock now (ms) when the caller knows it
 * (pool_server_now_ms of the request's lease); 0, and add reads it with a
 * TIME round trip of its own (if that fails, nothing is added and done
 * returns AXON_EIO). It dates the index entries and the deadline.
 *
 * The store deadline: a pipeline that times out may still be executed when
 * a stalled server wakes up, which would store a turn the answer said was
 * not stored. So the script is given a deadline in the server's clock and
 * writes nothing after it (done then returns AXON_ETIMEDOUT), and the
 * batch waits for the replies past that deadline by a whole timeout (add
 * raises b->wait_ms): a script that ran in time has a timeout for its
 * reply to come back, and one that did not is refused. The deadline is
 * now_ms + cfg->valkey_timeout_ms + 1 ms per CONV_STORE_BYTES_PER_MS of the
 * turn (Redis 7 took 45 ms to read and split a 4 MB turn here; its
 * allowance is 244 ms). now_ms errs early (a reading is dated when
 * it arrives, not when the server took it), so the deadline does too. So a
 * store that timed out is a store that did not happen, except when the
 * server stalls in the instant between running the script and sending its
 * reply, and stays stalled for a whole timeout.
 *
 * A new conversation of at most CONV_FAST_MAX messages takes a smaller
 * script that passes the messages as arguments: splitting them out of one
 * blob in Lua costs the single-threaded server about a third more. The
 * indexes are always plain commands. */
#define CONV_KEY_MAX 96   /* the longest key: "axon:{k:" + 64 + "}:convs" */
#define CONV_STORE_BYTES_PER_MS 16384 /* the deadline's allowance for a turn's size */
#define CONV_FAST_ARGS 5  /* the create script's arguments before the messages */
/* Messages the create script takes: EVALSHA, its SHA, numkeys, two keys and
 * its arguments must fit in VALKEY_MAX_ARGS. */
#define CONV_FAST_MAX (VALKEY_MAX_ARGS - 5 - CONV_FAST_ARGS)
#define CONV_INDEX_CMDS 3  /* every store: ZADD, EXPIRE (tenant); ZADD (global) */
#define CONV_INDEX_TRIMS 2 /* and on 1 in CONV_TRIM_ONE_IN: a ZREMRANGEBYSCORE each */
#define CONV_TRIM_ONE_IN 32
/* Whether the store dated now_ms (server ms) trims the indexes: its last
 * digits are as good as a die, and cost no random number. */
static inline bool conv_index_trims(long long now_ms)
{
    return now_ms % CONV_TRIM_ONE_IN == 0;
}
struct conv_append_op {
    const char *id, *tenant; /* borrowed */
    bool create;
    char mk[CONV_KEY_MAX], lk[CONV_KEY_MAX], tk[CONV_KEY_MAX];
    char ttl[16], maxm[24], maxb[24], nb[24], ncb[24], bytes[24], deadline[24];
    struct buf blob;
    /* the script's keys and arguments: the append script's 12, or the
     * create script's 2 + CONV_FAST_ARGS + the messages */
    const char *argv[2 + CONV_FAST_ARGS + CONV_FAST_MAX];
    size_t lens[2 + CONV_FAST_ARGS + CONV_FAST_MAX];
    const char *zadd[2][5], *zrem[2][4], *zexpire[3];
    char score[24], oldest[24], expiry[24];
    int at;       /* the store's first reply in the batch, or -1 */
    int index_at; /* the index updates' first reply */
    int index_n;  /* how many: CONV_INDEX_CMDS, and the trims when it made them */
    int rc;       /* the result when nothing was added */
};
void conv_append_add(const struct axon_config *cfg, const char *id, const char *tenant,
                     const char *model, json_object *client_messages, json_object *assistant,
                     bool create, long long now_ms, struct conv_append_op *op,
                     struct valkey_batch *b);
/* conv_append_add for a continued turn that holds lock (borrowed until
 * done; NULL or not held: unfenced): the store writes nothing unless the
 * lock is still this turn's, and done then returns AXON_EBUSY. The store
 * script also gives the lock back, so a conv_unlock_add after it adds
 * nothing; conv_unlock_done (still to be called, after the batch) reads the
 * store's reply, and gives the lock back in a round trip of its own only
 * when the script could not (past the deadline, an error). */
void conv_append_add_fenced(const struct axon_config *cfg, const char *id, const char *tenant,
                            const char *model, json_object *client_messages,
                            json_object *assistant, bool create, struct conv_lock *lock,
                            long long now_ms, struct conv_append_op *op, struct valkey_batch *b);
int conv_append_done(struct conv_append_op *op, const struct valkey_batch *b) AXON_MUST_CHECK;

/* The answer for a conversation the store could not serve, worded once for
 * the routes and for chat: rc AXON_EINVAL (a malformed id), AXON_ENOTFOUND
 * (unknown, foreign, or an unstored id), AXON_EIO (Valkey down: 503),
 * AXON_EBUSY (a turn holds it: 409), anything else a corrupt record (500).
 * id is borrowed and must have passed conv_id_check unless rc is
 * AXON_EINVAL; param names the request field (NULL for a path). Returns rc. */
#define CONV_ID_FORM "'conv-' followed by 32 lowercase hexadecimal digits"
int conv_api_error(struct api_error *e, int rc, const char *id, const char *param);

/* Deletes a conversation of tenant: both keys and the index entries. */
int conv_delete(const char *id, const char *tenant) AXON_MUST_CHECK;

/* ---- the Conversations API (conv_http.c) -----------------------------------
 *
 * A deleted item leaves its list entry in place as a tombstone, so that the
 * positions, and the item ids derived from them (resp_ids.h), stay true:
 * message_count counts positions, tombstones included. Every reader of the
 * history (conv_load and so the replay, GET's messages) skips them. A
 * conversation's metadata (at most 16 string pairs) is the "metadata" field
 * of its meta hash, as compact JSON; a conversation created by this API has
 * the model "" until a turn names one. */
#define CONV_TOMBSTONE "{\"deleted\":true}"
#define CONV_METADATA_MAX 65536 /* bytes of the stored JSON: 16 * (64 + 512) chars, escaped */

/* conv_load with the positions kept: a tombstone is a JSON null at its
 * position, so (*messages)[i] is position i. *metadata (may be NULL: not
 * wanted) receives the stored metadata, a new object (json_object_put), or
 * NULL when none is set. */
int conv_load_positions(const struct axon_config *cfg, const char *id, const char *tenant,
                        json_object **messages, struct conv_meta *meta,
                        json_object **metadata) AXON_MUST_CHECK;

/* Creates conversation id (new, conv_new_id) for tenant with metadata
 * (borrowed compact JSON object text, NULL or "": none) and messages (a
 * JSON array, borrowed, may be empty), in one script, under the caps;
 * *created receives its creation time (Unix s). AXON_ETOOBIG over a cap,
 * AXON_ENOTFOUND when the id exists. */
int conv_create_api(const struct axon_config *cfg, const char *id, const char *tenant,
                    const char *metadata, json_object *messages,
                    long long *created) AXON_MUST_CHECK;

/* Replaces the metadata of tenant's conversation id (metadata borrowed,
 * NULL or "": cleared). *created receives the conversation's creation
 * time. One round trip. */
int conv_set_metadata(const char *id, const char *tenant, const char *metadata,
                      long long *created) AXON_MUST_CHECK;

/* Appends messages (a non-empty JSON array, borrowed) to tenant's
 * conversation id in one script that checks the owner, the caps and the
 * turn lock: AXON_EBUSY while a turn holds it (the turn would store its
 * answer after these, out of order), AXON_ETOOBIG over a cap (nothing
 * written). *first_pos receives the position of the first one. The TTL
 * slides as for a turn. */
int conv_items_append(const struct axon_config *cfg, const char *id, const char *tenant,
                      json_object *messages, long *first_pos) AXON_MUST_CHECK;

/* The stored message at pos of tenant's conversation id: *msg new
 * (json_object_put). AXON_ENOTFOUND when the conversation is missing or
 * not tenant's, or pos is past its end or a tombstone. One round trip. */
int conv_item_get(const char *id, const char *tenant, long pos,
                  json_object **msg) AXON_MUST_CHECK;

/* Replaces the entry at pos by a tombstone, in a script that checks the
 * owner. *created and *metadata (new or NULL, as conv_load_positions) give
 * the conversation back for the answer. AXON_ENOTFOUND as conv_item_get. */
int conv_item_delete(const char *id, const char *tenant, long pos, long long *created,
                     json_object **metadata) AXON_MUST_CHECK;

/* The tenant's conversations, newest update first: at most limit
 * (1..CONV_LIST_MAX) after the one with id `after` (NULL: from the newest).
 * out has limit entries; *n receives how many were filled; *has_more tells
 * whether more follow. AXON_ENOTFOUND when `after` is not in the list.
 * Index entries whose conversation expired are skipped and removed. */
int conv_list(const char *tenant, int limit, const char *after, struct conv_meta *out, int *n,
              bool *has_more) AXON_MUST_CHECK;

/* Live conversations (all tenants), from the expiry index: O(log n). */
int conv_active_count(long long *out) AXON_MUST_CHECK;

/* Trims a replay to the model's budget. history is the stored message
 * array (borrowed, modified in place); budget_bytes is what history may
 * take. Leading system/developer messages are kept; then whole turns are
 * dropped from the oldest, a turn being a user message and everything up
 * to the next user message, so a tool exchange (assistant tool_calls, the
 * tool results, the answer) is never split. Returns the number of turns
 * dropped (it stops when history fits, or when nothing is left to drop). */
int conv_fit(json_object *history, size_t budget_bytes);

/* One message as it is stored and replayed: compact JSON, "/" unescaped.
 * Borrowed from msg (valid until msg is printed again); *len its size. */
const char *conv_message_text(json_object *msg, size_t *len);
/* The JSON size of one message as it is stored and replayed. */
size_t conv_message_bytes(json_object *msg);

/* True when msg is a system or developer message already in history, byte
 * for byte: a client that resends its system prompt every turn must not
 * grow the conversation (or the replay) by it each time. Borrows both. */
bool conv_has_system(json_object *history, json_object *msg);

#endif
