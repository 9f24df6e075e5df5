/* items.h - stored chat messages seen as Responses / Conversations items.
 *
 * The conversation store keeps canonical chat messages (conv.h); the
 * Responses and Conversations APIs speak of items. An item is a view of
 * one stored message, made when it is read, with an id derived from the
 * message's place (resp_ids.h), so nothing but the messages is stored:
 *
 *   user / system / developer  -> message (part 0): input_text, input_image,
 *                                 input_file parts
 *   tool                       -> function_call_output (part 0)
 *   assistant                  -> reasoning (part 0, when it has
 *                                 reasoning_content or thinking_blocks),
 *                                 message (part 1, when it has content or a
 *                                 refusal): output_text / refusal parts,
 *                                 function_call (part 2 + k, the k-th call)
 *   {"deleted": true}          -> nothing (a deleted item's tombstone)
 *
 * Shapes: the spec's ItemResource / ConversationItem (InputMessageResource,
 * OutputMessage, ReasoningItem, FunctionToolCallResource,
 * FunctionToolCallOutputResource). The way back (items into chat messages)
 * is resp_in.c's (resp_parse takes these items as trusted ones).
 *
 * Pure code: no I/O. */
#ifndef AXON_ITEMS_H
#define AXON_ITEMS_H

#include <stdbool.h>
#include <json-c/json.h>

#include "axon.h"
#include "resp_ids.h"

/* Flags of items_from_message_opt. */
/* Keep Claude's signed thinking on the reasoning item as `thinking_blocks`
 * (the trusted form resp_parse replays from the store). Never for a client:
 * the blocks leave Axon only sealed (encrypted_content). */
#define ITEMS_KEEP_THINKING 1u

/* Appends the items of one stored message msg (borrowed) at position pos of
 * conversation conv_id (borrowed, "conv-" + 32 hex) to out_items (a JSON
 * array, borrowed; the items appended are new, owned by it), in part order.
 * A tombstone appends nothing. AXON_EPROTO for a message that is not one
 * Axon stores (no role, an unknown one; out_items unchanged), AXON_EINVAL
 * for an id or position no item id can name. */
int items_from_message(json_object *msg, const char *conv_id, long pos,
                       json_object *out_items) AXON_MUST_CHECK;
/* The same with ITEMS_* flags. */
int items_from_message_opt(json_object *msg, const char *conv_id, long pos, unsigned flags,
                           json_object *out_items) AXON_MUST_CHECK;

/* The item of msg (borrowed; stored at pos of conv_id) whose id is item_id
 * (borrowed; one that resp_item_id_parse read as naming that conversation
 * and position). *item: new (json_object_put) or NULL. AXON_ENOTFOUND when
 * msg has no such item (a tombstone, a part it does not have, another kind). */
int items_pick(json_object *msg, const char *conv_id, long pos, const char *item_id,
               unsigned flags, json_object **item) AXON_MUST_CHECK;

/* True when msg (borrowed) is a deleted item's tombstone. */
bool items_is_tombstone(json_object *msg);

#endif
