/* resp_ids.h - the ids of the Responses and Conversations APIs, derived
 * from where things sit in the conversation store, so that no index key is
 * needed to find them (docs/responses.md, "Ids"):
 *
 *   response  "resp_" + H + P          its conversation, and the position
 *                                      right after its output (its tip)
 *   item      KIND "_" + H + P + T     its conversation, the position of the
 *                                      stored message, and which item of it
 *
 * H is the 32 hex digits of the conversation id ("conv-" + H), P the
 * position as 8 hex digits, T the item's part as 2 hex digits (an
 * assistant message gives a reasoning item, a message item and one item
 * per function call). A list entry is never removed from the middle of a
 * conversation (a deleted item leaves a tombstone), so these ids stay
 * true for the conversation's life.
 *
 * A response that is not stored gets "resp_" + 40 random hex digits: the
 * same shape, naming a conversation that does not exist (a 404). Ids are
 * not secrets: every read checks that the conversation is the caller's. */
#ifndef AXON_RESP_IDS_H
#define AXON_RESP_IDS_H

#include <stddef.h>

#include "axon.h"

#define RESP_ID_HEX 32                    /* H */
#define RESP_POS_HEX 8                    /* P */
#define RESP_PART_HEX 2                   /* T */
#define RESP_POS_MAX 0x7fffffffL
#define RESP_PART_MAX 0xff
#define RESP_CONV_ID_LEN (5 + RESP_ID_HEX) /* "conv-" + H */
#define RESP_ID_LEN (5 + RESP_ID_HEX + RESP_POS_HEX)
#define RESP_ITEM_ID_MAX (4 + RESP_ID_HEX + RESP_POS_HEX + RESP_PART_HEX)

enum resp_item_kind {
    RESP_ITEM_MESSAGE,     /* msg_ */
    RESP_ITEM_CALL,        /* fc_: function_call */
    RESP_ITEM_CALL_OUTPUT, /* fco_: function_call_output */
    RESP_ITEM_REASONING,   /* rs_ */
};

/* "resp_" id of conversation conv_id (borrowed, "conv-" + 32 hex) at pos,
 * into out (RESP_ID_LEN + 1 bytes). AXON_EINVAL for an id or pos that
 * cannot be one (out is then ""). */
int resp_id_make(const char *conv_id, long pos, char *out) AXON_MUST_CHECK;
/* A fresh random id for a response that is not stored. */
void resp_id_random(char *out);
/* The conversation (into conv_id, RESP_CONV_ID_LEN + 1 bytes) and position
 * an id names. AXON_EINVAL for anything that is not such an id (never a
 * partial parse: the whole string, exact length, lower-case hex). */
int resp_id_parse(const char *id, size_t len, char *conv_id, long *pos) AXON_MUST_CHECK;

/* An item's id, into out (RESP_ITEM_ID_MAX + 1 bytes). AXON_EINVAL as above. */
int resp_item_id_make(enum resp_item_kind kind, const char *conv_id, long pos, int part,
                      char *out) AXON_MUST_CHECK;
/* The kind, conversation, position and part an item id names. */
int resp_item_id_parse(const char *id, size_t len, enum resp_item_kind *kind, char *conv_id,
                       long *pos, int *part) AXON_MUST_CHECK;

#endif
