/* resp_store.h - the Responses API's reads of the conversation store
 * (docs/responses.md, "Stored responses and items").
 *
 * A stored response is a position in a conversation (resp_ids.h: "resp_" +
 * the conversation + its tip) and a record beside the conversation's keys:
 *
 *   axon:{c:ID}:r:<pos, 8 hex>  string  {"response": the Response object as
 *       answered, "in_start": the position of the request's first stored
 *       input message, "in_end": the position after its last (= its first
 *       output message), "instructions": string or null}
 *
 * written by the write side in the turn's settle round trip, with the
 * conversation's TTL. The ids are derived, so each read here is one round
 * trip on the conversation's own slot (cluster-safe), with the owner check
 * (the meta's owner is the caller's tenant) in the same script: a foreign
 * id is answered exactly as a missing one (AXON_ENOTFOUND).
 *
 * Errors as conv.h: AXON_ENOTFOUND (missing, expired, deleted, another
 * tenant's, or an id Axon cannot have made), AXON_EIO (Valkey down or slow),
 * AXON_EPROTO (a record that does not parse), AXON_EREPLY, AXON_EINVAL (a
 * bad argument: nothing asked of Valkey). */
#ifndef AXON_RESP_STORE_H
#define AXON_RESP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"
#include "config.h"
#include "conv.h"
#include "errors.h"
#include "resp_ids.h"

#define RESP_RECORD_KEY_MAX (CONV_ID_MAX + 32) /* "axon:{c:" ID "}:r:" + 8 hex */
#define RESP_LIST_MAX 100                      /* input_items' largest limit */
#define RESP_LIST_DEFAULT 20

/* The record key of the response at pos of conv_id (borrowed, a stored
 * conversation id) into out (RESP_RECORD_KEY_MAX bytes). AXON_EINVAL for an
 * id or position that cannot be one. */
int resp_record_key(const char *conv_id, long pos, char *out) AXON_MUST_CHECK;

/* previous_response_id: the conversation resp_id (borrowed) names, as it was
 * when that response was answered: its first N positions (N: the position
 * the id carries), under the conversation's turn lock, in one round trip
 * (conv_load_locked_upto, which also checks that the response's record
 * exists: a deleted response continues nothing).
 *
 * On AXON_OK: *history is a new array of the stored messages [0, N)
 * (json_object_put), *meta the conversation's (its message_count counts
 * every position now), *tip true when nothing was stored after that
 * response (message_count == N: the turn continues the conversation, as
 * chat's conversation_id does) and false for a branch (the turn must be
 * stored as a new conversation whose history is these N messages and the
 * turn's own); and *lock is held: give it back with conv_unlock or in the
 * store's batch (conv_unlock_add/done), also for a branch.
 * AXON_ENOTFOUND for a malformed, unknown, foreign or deleted id (answer
 * OpenAI's 404: resp_prev_not_found), AXON_EBUSY when another turn holds the
 * lock (conv_api_error's 409), others as conv_load. Nothing held then. */
int resp_prev_load(const struct axon_config *cfg, const char *tenant, const char *resp_id,
                   struct conv_lock *lock, json_object **history, struct conv_meta *meta,
                   bool *tip) AXON_MUST_CHECK;

/* The stored messages history (borrowed, as resp_prev_load gives them,
 * position i at index i) as the trusted items resp_parse replays: every
 * message's items, the signed thinking kept (ITEMS_KEEP_THINKING). *items:
 * new array. AXON_EPROTO for a message that is not one Axon stores. */
int resp_prev_items(json_object *history, const char *conv_id, json_object **items)
    AXON_MUST_CHECK;

/* OpenAI's 404 for a previous_response_id that is not found, into e. id is
 * borrowed (cut to a printable length). Returns AXON_ENOTFOUND. */
int resp_prev_not_found(struct api_error *e, const char *id);

/* item_reference: the stored items ids (n of them, borrowed) name, in one
 * round trip for up to VALKEY_MAX_PIPELINE different conversations (one
 * small script each: owner check and every position's LINDEX), one more per
 * further VALKEY_MAX_PIPELINE. found[k] (n entries) receives the item (new,
 * json_object_put) or NULL when ids[k] is not an item id, or its
 * conversation is missing or another tenant's, or its message has no such
 * part or was deleted. flags: ITEMS_* (ITEMS_KEEP_THINKING for resp_parse's
 * trusted items). AXON_OK even when some are NULL; AXON_EIO and the others
 * (every found[k] NULL) when the store did not answer. */
int items_fetch(const struct axon_config *cfg, const char *tenant, const char *const *ids,
                size_t n, unsigned flags, json_object **found) AXON_MUST_CHECK;

/* GET /v1/responses/{id}: the record (new, json_object_put) of resp_id
 * (borrowed) for tenant. One round trip. */
int resp_get(const struct axon_config *cfg, const char *tenant, const char *resp_id,
             json_object **record) AXON_MUST_CHECK;

/* DELETE /v1/responses/{id}: removes the record only (the conversation's
 * messages stay: they are the conversation's, and its other responses
 * still name them). One round trip; AXON_ENOTFOUND when there was none. */
int resp_delete(const struct axon_config *cfg, const char *tenant, const char *resp_id)
    AXON_MUST_CHECK;

/* GET /v1/responses/{id}/input_items: the items of the record's input
 * positions [in_start, in_end), as a list object {object: "list", data,
 * first_id, last_id, has_more} (*list: new). after (borrowed, NULL: none):
 * an item id of this conversation; the page starts after its place in the
 * order (it need not still exist: ids are positions). limit 1..RESP_LIST_MAX.
 * desc: newest first (OpenAI's default). One round trip. AXON_EINVAL (no
 * Valkey asked) for a bad limit or an after that is no item id of this
 * conversation. */
struct resp_page {
    const char *after;
    int limit;
    bool desc;
};
int resp_input_items(const struct axon_config *cfg, const char *tenant, const char *resp_id,
                     const struct resp_page *page, json_object **list) AXON_MUST_CHECK;

#endif
