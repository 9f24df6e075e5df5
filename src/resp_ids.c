/* resp_ids.c - ids derived from positions in the conversation store
 * (resp_ids.h). Pure: no Valkey, no allocation. */
#include "resp_ids.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

static const char *const kind_prefix[] = {
    [RESP_ITEM_MESSAGE] = "msg_",
    [RESP_ITEM_CALL] = "fc_",
    [RESP_ITEM_CALL_OUTPUT] = "fco_",
    [RESP_ITEM_REASONING] = "rs_",
};
#define NKINDS (sizeof kind_prefix / sizeof kind_prefix[0])

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static long hex_value(const char *s, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 16 + (s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

/* H of a stored conversation id, or NULL. */
static const char *conv_hex(const char *conv_id)
{
    if (!conv_id || strlen(conv_id) != RESP_CONV_ID_LEN || strncmp(conv_id, "conv-", 5) ||
        !lower_hex(conv_id + 5, RESP_ID_HEX))
        return NULL;
    return conv_id + 5;
}

int resp_id_make(const char *conv_id, long pos, char *out)
{
    const char *h = conv_hex(conv_id);
    out[0] = '\0';
    if (!h || pos < 0 || pos > RESP_POS_MAX)
        return AXON_EINVAL;
    snprintf(out, RESP_ID_LEN + 1, "resp_%.*s%08lx", RESP_ID_HEX, h, pos);
    return AXON_OK;
}

void resp_id_random(char *out)
{
    unsigned char rnd[(RESP_ID_HEX + RESP_POS_HEX) / 2];
    text_random(rnd, sizeof rnd);
    memcpy(out, "resp_", 5);
    text_hex(rnd, sizeof rnd, out + 5);
    out[5 + RESP_ID_HEX] = '0'; /* a position in range, so it reads as an id */
}

/* H and P (and T when part is not NULL) after a prefix of n bytes. */
static int parse_tail(const char *id, size_t len, size_t n, char *conv_id, long *pos, int *part)
{
    size_t want = n + RESP_ID_HEX + RESP_POS_HEX + (part ? RESP_PART_HEX : 0);
    if (len != want || !lower_hex(id + n, want - n))
        return AXON_EINVAL;
    long p = hex_value(id + n + RESP_ID_HEX, RESP_POS_HEX);
    if (p > RESP_POS_MAX)
        return AXON_EINVAL;
    memcpy(conv_id, "conv-", 5);
    memcpy(conv_id + 5, id + n, RESP_ID_HEX);
    conv_id[RESP_CONV_ID_LEN] = '\0';
    *pos = p;
    if (part)
        *part = (int)hex_value(id + n + RESP_ID_HEX + RESP_POS_HEX, RESP_PART_HEX);
    return AXON_OK;
}

int resp_id_parse(const char *id, size_t len, char *conv_id, long *pos)
{
    if (!id || len < 5 || memcmp(id, "resp_", 5))
        return AXON_EINVAL;
    return parse_tail(id, len, 5, conv_id, pos, NULL);
}

int resp_item_id_make(enum resp_item_kind kind, const char *conv_id, long pos, int part,
                      char *out)
{
    const char *h = conv_hex(conv_id);
    out[0] = '\0';
    if (!h || (size_t)kind >= NKINDS || pos < 0 || pos > RESP_POS_MAX || part < 0 ||
        part > RESP_PART_MAX)
        return AXON_EINVAL;
    snprintf(out, RESP_ITEM_ID_MAX + 1, "%s%.*s%08lx%02x", kind_prefix[kind], RESP_ID_HEX, h,
             pos, part);
    return AXON_OK;
}

int resp_item_id_parse(const char *id, size_t len, enum resp_item_kind *kind, char *conv_id,
                       long *pos, int *part)
{
    if (!id)
        return AXON_EINVAL;
    for (size_t k = 0; k < NKINDS; k++) {
        size_t n = strlen(kind_prefix[k]);
        if (len > n && !memcmp(id, kind_prefix[k], n)) {
            *kind = (enum resp_item_kind)k;
            return parse_tail(id, len, n, conv_id, pos, part);
        }
    }
    return AXON_EINVAL;
}
