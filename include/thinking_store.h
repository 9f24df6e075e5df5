/* thinking_store.h - Claude's signed thinking kept by tool-call id, for
 * clients that resend the whole history without conversation_id.
 *
 * Why: with thinking on, Claude refuses a tool turn whose assistant message
 * does not begin with the signed thinking block it produced ("Expected
 * `thinking` or `redacted_thinking`, but found `tool_use`"). OpenAI's wire
 * format has no place for that block, so a stateless client (the Agents
 * SDK, LangChain, the AI SDK) drops it. Axon keeps it here, keyed by the
 * tool-call ids the client saw, and puts it back when the ids return.
 *
 * Keys (hash-tagged by tenant, as conv.h's axon:{k:TENANT}:convs, so one
 * lookup of many ids is one MGET in one cluster slot):
 *   axon:{k:TENANT}:think:CALLID  string  the answer's thinking blocks, a
 *                                         JSON array as json-c prints it plain
 * Every tool-call id of one answer holds the same array (a client may
 * resend any of them), written by one Lua script so the blob crosses the
 * network once. The TTL is the conversation TTL (cfg->conv_ttl_s). The
 * tenant in the key scopes it: another key's lookup of the same ids finds
 * nothing, which is the answer for an expired id too.
 *
 * Errors: AXON_EINVAL (a bad tenant, an id that cannot be a key, blocks that
 * are not a non-empty array of thinking blocks), AXON_ETOOBIG (a cap),
 * AXON_EIO (Valkey down or slow), and from a store AXON_EREPLY or
 * AXON_EPROTO (Valkey answered an error or nonsense). */
#ifndef AXON_THINKING_STORE_H
#define AXON_THINKING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"
#include "buf.h"
#include "config.h"
#include "valkey.h"

#define THINKING_ID_MAX 128            /* longest tool-call id kept as a key */
#define THINKING_KEY_MAX 176           /* "axon:{k:" + 64 + "}:think:" + THINKING_ID_MAX */
#define THINKING_BLOCKS_MAX (1u << 20) /* bytes of one answer's blocks; past it, not kept */
#define THINKING_ANSWERS_MAX 8         /* answers (choices) one store keeps */
#define THINKING_KEYS_MAX 32           /* ids one store or one lookup handles */

/* True when id may be part of a key: 1..THINKING_ID_MAX bytes of
 * [A-Za-z0-9_-] (Claude's own id pattern, which call_X keeps). */
bool thinking_id_ok(const char *id);

/* One store in two halves, so that it shares settle()'s round trip (chat.c)
 * with the turn's store and the session's release:
 *   thinking_store_init, then thinking_store_answer per answer with
 *   thinking and tool calls, then thinking_store_add into the batch;
 *   after valkey_batch_run, thinking_store_done gives the result and frees
 *   what op holds. An op with no answer adds nothing (no round trip). */
struct thinking_store_op {
    char ttl[16];
    char keys[THINKING_KEYS_MAX][THINKING_KEY_MAX];
    int nkeys;
    struct buf blob[THINKING_ANSWERS_MAX]; /* owned: each answer's printed blocks */
    char count[THINKING_ANSWERS_MAX][12];   /* how many keys take each blob */
    int nblobs;
    const char *argv[THINKING_KEYS_MAX + 1 + 2 * THINKING_ANSWERS_MAX];
    size_t lens[THINKING_KEYS_MAX + 1 + 2 * THINKING_ANSWERS_MAX];
    int at; /* the script's reply in the batch, or -1 */
    int rc; /* the first refusal of an answer, or of add */
};
void thinking_store_init(struct thinking_store_op *op);
/* Keeps one answer: its thinking blocks (borrowed; printed now) under each
 * of its nids tool-call ids (borrowed). tenant is borrowed. Ids that cannot
 * be keys are skipped; past THINKING_KEYS_MAX ids or THINKING_ANSWERS_MAX
 * answers, or past THINKING_BLOCKS_MAX bytes, nothing more is kept and
 * AXON_ETOOBIG is returned (and remembered for done). */
int thinking_store_answer(struct thinking_store_op *op, const char *tenant, json_object *blocks,
                          const char *const *ids, int nids);
/* Adds the script to b when something was kept. cfg->conv_ttl_s < 1 keeps
 * nothing (a key must never live forever). */
void thinking_store_add(const struct axon_config *cfg, struct thinking_store_op *op,
                        struct valkey_batch *b);
/* The store's result (0 also when nothing was kept and no answer was
 * refused); frees op's buffers. Call even when add was not. */
int thinking_store_done(struct thinking_store_op *op, const struct valkey_batch *b) AXON_MUST_CHECK;

/* The three halves in one round trip of its own (tests, tools). */
int thinking_store_put(const struct axon_config *cfg, const char *tenant, json_object *blocks,
                       const char *const *ids, int nids) AXON_MUST_CHECK;

/* Looks up n ids (borrowed; 1..THINKING_KEYS_MAX) of tenant in one MGET.
 * found (n entries) receives, for each id, a new JSON array of its thinking
 * blocks (json_object_put), or NULL when the id is unknown, expired,
 * another tenant's, not a valid id, or holds something that is not blocks.
 * Returns 0 (even when nothing was found), AXON_EINVAL (bad tenant or n),
 * or AXON_EIO (every entry NULL: no answer, or one that was not the values). */
int thinking_store_find(const char *tenant, const char *const *ids, int n,
                        json_object **found) AXON_MUST_CHECK;

#endif
