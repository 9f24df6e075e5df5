/* resp_store.c - the Responses API's reads of the conversation store
 * (resp_store.h). Every read is one round trip on the conversation's own
 * slot, the owner check inside the same script (src/lua/resp_*.lua). */
#include "resp_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_lua.h" /* generated from src/lua/ (Makefile) */
#include "buf.h"
#include "items.h"
#include "jsonv.h"
#include "valkey.h"

#define KEY_MAX CONV_KEY_MAX
/* Positions one items script takes: EVALSHA sha nkeys, 2 keys, the tenant. */
#define GROUP_POS_MAX (VALKEY_MAX_ARGS - 6)
#define ID_ECHO_MAX 128 /* bytes of a client's id echoed in an error */

static struct valkey_script items_script = {.src = AXON_LUA_RESP_ITEMS};
static struct valkey_script record_script = {.src = AXON_LUA_RESP_RECORD};
static struct valkey_script input_script = {.src = AXON_LUA_RESP_INPUT};

int resp_record_key(const char *conv_id, long pos, char *out)
{
    out[0] = '\0';
    if (conv_id_check(conv_id) != CONV_ID_STORED || pos < 0 || pos > RESP_POS_MAX)
        return AXON_EINVAL;
    snprintf(out, RESP_RECORD_KEY_MAX, "axon:{c:%s}:r:%08lx", conv_id, pos);
    return AXON_OK;
}

static void meta_key(const char *conv_id, char *out)
{
    snprintf(out, KEY_MAX, "axon:{c:%s}:meta", conv_id); /* conv_id checked: fits */
}

static void msgs_key(const char *conv_id, char *out)
{
    snprintf(out, KEY_MAX, "axon:{c:%s}:msgs", conv_id);
}

/* The conversation and position of a response id, and its record key.
 * Anything Axon cannot have made is not found, as OpenAI answers an id it
 * does not know. */
static int resp_locate(const char *resp_id, const char *tenant, char *conv_id, long *pos,
                       char *rk)
{
    if (!resp_id || !tenant || !tenant[0])
        return AXON_ENOTFOUND;
    if (resp_id_parse(resp_id, strlen(resp_id), conv_id, pos))
        return AXON_ENOTFOUND;
    return resp_record_key(conv_id, *pos, rk) ? AXON_ENOTFOUND : AXON_OK;
}

/* ---- previous_response_id ------------------------------------------------------ */

int resp_prev_load(const struct axon_config *cfg, const char *tenant, const char *resp_id,
                   struct conv_lock *lock, json_object **history, struct conv_meta *meta,
                   bool *tip)
{
    char conv_id[RESP_CONV_ID_LEN + 1], rk[RESP_RECORD_KEY_MAX];
    long pos = 0;
    *history = NULL;
    *tip = false;
    memset(meta, 0, sizeof *meta);
    memset(lock, 0, sizeof *lock);
    lock->at = -1;
    int rc = resp_locate(resp_id, tenant, conv_id, &pos, rk);
    if (rc)
        return rc;
    rc = conv_load_locked_upto(cfg, conv_id, tenant, pos, rk, lock, history, meta);
    if (rc)
        return rc;
    /* A record names a position its turn stored; a conversation shorter
     * than that is not the one the record was written for. */
    if (meta->message_count < pos) {
        (void)conv_unlock(lock);
        json_object_put(*history);
        *history = NULL;
        memset(meta, 0, sizeof *meta);
        return AXON_ENOTFOUND;
    }
    *tip = meta->message_count == pos;
    return AXON_OK;
}

int resp_prev_items(json_object *history, const char *conv_id, json_object **items)
{
    *items = json_object_new_array();
    int rc = AXON_OK;
    for (size_t i = 0; !rc && i < json_object_array_length(history); i++)
        rc = items_from_message_opt(json_object_array_get_idx(history, i), conv_id, (long)i,
                                    ITEMS_KEEP_THINKING, *items);
    if (rc) {
        json_object_put(*items);
        *items = NULL;
    }
    return rc;
}

int resp_prev_not_found(struct api_error *e, const char *id)
{
    size_t n = id ? strnlen(id, ID_ECHO_MAX) : 0;
    api_error_set(e, 404, ERR_INVALID_REQUEST, "previous_response_not_found",
                  "previous_response_id", "Previous response with id '%.*s' not found.", (int)n,
                  id ? id : "");
    return AXON_ENOTFOUND;
}

/* ---- item_reference ------------------------------------------------------------ */

struct ref {
    char conv[RESP_CONV_ID_LEN + 1];
    long pos;
    int group; /* -1: not asked yet; -2: not an item id */
};

struct group {
    const char *conv;
    char mk[KEY_MAX], lk[KEY_MAX];
    char posv[GROUP_POS_MAX][16];
    size_t ref[GROUP_POS_MAX]; /* the index in ids of each position */
    const char *argv[3 + GROUP_POS_MAX];
    int n;
};

/* One round trip: the groups' scripts, and each answer into found. */
static int fetch_round(const char *tenant, const char *const *ids, const struct ref *refs,
                       struct group *g, int ng, unsigned flags, json_object **found)
{
    struct valkey_cmd cmds[VALKEY_MAX_PIPELINE] = {{0}};
    for (int i = 0; i < ng; i++) {
        g[i].argv[0] = g[i].mk;
        g[i].argv[1] = g[i].lk;
        g[i].argv[2] = tenant;
        for (int j = 0; j < g[i].n; j++)
            g[i].argv[3 + j] = g[i].posv[j];
        cmds[i] = (struct valkey_cmd){
            .argc = 3 + g[i].n, .argv = g[i].argv, .script = &items_script, .nkeys = 2};
    }
    redisReply *rep[VALKEY_MAX_PIPELINE] = {0};
    int rc = valkey_pipeline(ng, cmds, rep);
    for (int i = 0; !rc && i < ng; i++) {
        const redisReply *x = rep[i];
        if (x->type == REDIS_REPLY_NIL)
            continue; /* missing or another tenant's */
        if (x->type != REDIS_REPLY_ARRAY || x->elements != (size_t)g[i].n) {
            rc = AXON_EPROTO;
            break;
        }
        for (int j = 0; j < g[i].n; j++) {
            const redisReply *e = x->element[j];
            size_t k = g[i].ref[j];
            json_object *msg = NULL;
            if (e->type != REDIS_REPLY_STRING)
                continue; /* no such position */
            if (jsonv_parse(e->str, e->len, JSONV_MAX_DEPTH, &msg)) {
                rc = AXON_EPROTO;
                break;
            }
            int pr = items_pick(msg, refs[k].conv, refs[k].pos, ids[k], flags, &found[k]);
            json_object_put(msg);
            if (pr && pr != AXON_ENOTFOUND) {
                rc = pr;
                break;
            }
        }
    }
    valkey_free_replies(ng, rep);
    return rc;
}

int items_fetch(const struct axon_config *cfg, const char *tenant, const char *const *ids,
                size_t n, unsigned flags, json_object **found)
{
    (void)cfg; /* the reads are small: the ordinary timeout */
    for (size_t k = 0; k < n; k++)
        found[k] = NULL;
    if (!tenant || !tenant[0])
        return AXON_EINVAL;
    if (n == 0)
        return AXON_OK;
    struct ref *refs = xcalloc(n, sizeof *refs);
    struct group *g = xcalloc(VALKEY_MAX_PIPELINE, sizeof *g);
    size_t left = 0;
    for (size_t k = 0; k < n; k++) {
        enum resp_item_kind kind;
        int part;
        refs[k].group = -2;
        if (ids[k] && !resp_item_id_parse(ids[k], strlen(ids[k]), &kind, refs[k].conv,
                                          &refs[k].pos, &part)) {
            refs[k].group = -1;
            left++;
        }
    }
    int rc = AXON_OK;
    /* Usually one round: the references of one request name one or two
     * conversations (the AI SDK refers to its own earlier steps). */
    while (!rc && left) {
        int ng = 0;
        for (size_t k = 0; k < n; k++) {
            if (refs[k].group != -1)
                continue;
            int gi = -1;
            for (int i = 0; i < ng && gi < 0; i++)
                if (!strcmp(g[i].conv, refs[k].conv) && g[i].n < GROUP_POS_MAX)
                    gi = i;
            if (gi < 0 && ng < VALKEY_MAX_PIPELINE) {
                gi = ng++;
                g[gi].conv = refs[k].conv;
                g[gi].n = 0;
                meta_key(refs[k].conv, g[gi].mk);
                msgs_key(refs[k].conv, g[gi].lk);
            }
            if (gi < 0)
                continue; /* the next round */
            snprintf(g[gi].posv[g[gi].n], sizeof g[gi].posv[0], "%ld", refs[k].pos);
            g[gi].ref[g[gi].n++] = k;
            refs[k].group = gi;
            left--;
        }
        rc = fetch_round(tenant, ids, refs, g, ng, flags, found);
    }
    free(g);
    free(refs);
    if (rc)
        for (size_t k = 0; k < n; k++) {
            json_object_put(found[k]);
            found[k] = NULL;
        }
    return rc;
}

/* ---- records ------------------------------------------------------------------- */

/* The record script for resp_id; *out its reply (new). */
static int record_run(const char *tenant, const char *resp_id, const char *op, char *conv_id,
                      long *pos, redisReply **out)
{
    char rk[RESP_RECORD_KEY_MAX], mk[KEY_MAX];
    *out = NULL;
    int rc = resp_locate(resp_id, tenant, conv_id, pos, rk);
    if (rc)
        return rc;
    meta_key(conv_id, mk);
    const char *keys[] = {mk, rk}, *args[] = {tenant, op};
    return valkey_eval(&record_script, out, 2, keys, 2, args, NULL);
}

int resp_get(const struct axon_config *cfg, const char *tenant, const char *resp_id,
             json_object **record)
{
    (void)cfg;
    char conv_id[RESP_CONV_ID_LEN + 1];
    long pos;
    redisReply *r = NULL;
    *record = NULL;
    int rc = record_run(tenant, resp_id, "get", conv_id, &pos, &r);
    if (!rc && r->type == REDIS_REPLY_NIL)
        rc = AXON_ENOTFOUND;
    else if (!rc && (r->type != REDIS_REPLY_STRING ||
                     jsonv_parse(r->str, r->len, JSONV_MAX_DEPTH, record)))
        rc = AXON_EPROTO;
    freeReplyObject(r);
    if (!rc && !json_object_is_type(jsonv_member(*record, "response"), json_type_object))
        rc = AXON_EPROTO; /* not a record of ours */
    if (rc) {
        json_object_put(*record);
        *record = NULL;
    }
    return rc;
}

int resp_delete(const struct axon_config *cfg, const char *tenant, const char *resp_id)
{
    (void)cfg;
    char conv_id[RESP_CONV_ID_LEN + 1];
    long pos;
    redisReply *r = NULL;
    int rc = record_run(tenant, resp_id, "del", conv_id, &pos, &r);
    if (!rc)
        rc = r->type != REDIS_REPLY_INTEGER ? AXON_EPROTO
             : r->integer == 1              ? AXON_OK
                                            : AXON_ENOTFOUND;
    freeReplyObject(r);
    return rc;
}

/* ---- input items --------------------------------------------------------------- */

/* An item's place in its conversation's order: position, then part. */
static long long item_place(json_object *item)
{
    const char *id = jsonv_member_str(item, "id");
    enum resp_item_kind kind;
    char conv[RESP_CONV_ID_LEN + 1];
    long pos;
    int part;
    if (!id || resp_item_id_parse(id, strlen(id), &kind, conv, &pos, &part))
        return -1;
    return (long long)pos * (RESP_PART_MAX + 1) + part;
}

/* all (taken: an array in ascending order) as the page's list object. */
static json_object *page_of(json_object *all, const struct resp_page *pg, long long after)
{
    size_t n = json_object_array_length(all);
    json_object *data = json_object_new_array();
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(all, pg->desc ? n - 1 - i : i);
        long long at = item_place(it);
        if (after >= 0 && (pg->desc ? at >= after : at <= after))
            continue;
        if (json_object_array_length(data) == (size_t)pg->limit) {
            more = true;
            break;
        }
        json_object_array_add(data, json_object_get(it));
    }
    json_object_put(all);
    size_t m = json_object_array_length(data);
    json_object *list = json_object_new_object();
    json_object_object_add(list, "object", json_object_new_string("list"));
    json_object_object_add(list, "data", data);
    json_object_object_add(list, "first_id",
                           m ? json_object_get(jsonv_member(json_object_array_get_idx(data, 0),
                                                            "id"))
                             : NULL);
    json_object_object_add(list, "last_id",
                           m ? json_object_get(jsonv_member(
                                   json_object_array_get_idx(data, m - 1), "id"))
                             : NULL);
    json_object_object_add(list, "has_more", json_object_new_boolean(more));
    return list;
}

int resp_input_items(const struct axon_config *cfg, const char *tenant, const char *resp_id,
                     const struct resp_page *page, json_object **list)
{
    (void)cfg;
    char conv_id[RESP_CONV_ID_LEN + 1], rk[RESP_RECORD_KEY_MAX], mk[KEY_MAX], lk[KEY_MAX];
    long pos;
    *list = NULL;
    if (page->limit < 1 || page->limit > RESP_LIST_MAX)
        return AXON_EINVAL;
    int rc = resp_locate(resp_id, tenant, conv_id, &pos, rk);
    if (rc)
        return rc;
    long long after = -1;
    if (page->after) {
        enum resp_item_kind kind;
        char aconv[RESP_CONV_ID_LEN + 1];
        long apos;
        int part;
        if (resp_item_id_parse(page->after, strlen(page->after), &kind, aconv, &apos, &part) ||
            strcmp(aconv, conv_id))
            return AXON_EINVAL;
        after = (long long)apos * (RESP_PART_MAX + 1) + part;
    }
    meta_key(conv_id, mk);
    msgs_key(conv_id, lk);
    const char *keys[] = {mk, rk, lk}, *args[] = {tenant};
    redisReply *r = NULL;
    rc = valkey_eval(&input_script, &r, 3, keys, 1, args, NULL);
    if (!rc && r->type == REDIS_REPLY_NIL)
        rc = AXON_ENOTFOUND;
    else if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                     r->element[0]->type != REDIS_REPLY_INTEGER ||
                     r->element[1]->type != REDIS_REPLY_ARRAY))
        rc = AXON_EPROTO; /* {-1}: a record without its range */
    json_object *all = json_object_new_array();
    for (size_t i = 0; !rc && i < r->element[1]->elements; i++) {
        const redisReply *e = r->element[1]->element[i];
        json_object *msg = NULL;
        if (e->type != REDIS_REPLY_STRING || jsonv_parse(e->str, e->len, JSONV_MAX_DEPTH, &msg))
            rc = AXON_EPROTO;
        else
            rc = items_from_message(msg, conv_id, (long)(r->element[0]->integer + (long long)i),
                                    all);
        json_object_put(msg);
    }
    freeReplyObject(r);
    if (rc) {
        json_object_put(all);
        return rc;
    }
    *list = page_of(all, page, after);
    return AXON_OK;
}
