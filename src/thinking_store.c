/* thinking_store.c - Claude's signed thinking kept by tool-call id. See
 * thinking_store.h for the layout and why.
 *
 * Every tenant and id is checked before it becomes part of a key name, so
 * nothing a client sends can reach another key or another slot. */
#include "thinking_store.h"

#include <stdio.h>
#include <string.h>

#include "axon_lua.h" /* generated from src/lua/ (Makefile) */
#include "jsonv.h"

#define TENANT_MAX 64 /* hex digits in a tenant id (conv.c's bound) */

static bool tenant_ok(const char *t)
{
    if (!t)
        return false;
    size_t n = strnlen(t, TENANT_MAX + 1);
    if (n < 1 || n > TENANT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return true;
}

bool thinking_id_ok(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, THINKING_ID_MAX + 1);
    if (n < 1 || n > THINKING_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Only after tenant_ok and thinking_id_ok: the format cannot be cut. */
static void think_key(const char *tenant, const char *id, char *out)
{
    snprintf(out, THINKING_KEY_MAX, "axon:{k:%s}:think:%s", tenant, id);
}

/* ---- store ---------------------------------------------------------------- */

/* KEYS, ARGV and the reply: src/lua/thinking_store.lua. */
static struct valkey_script store_script = {.src = AXON_LUA_THINKING_STORE};

void thinking_store_init(struct thinking_store_op *op)
{
    memset(op, 0, sizeof *op);
    op->at = -1;
}

static int refuse(struct thinking_store_op *op, int rc)
{
    if (!op->rc)
        op->rc = rc;
    return rc;
}

int thinking_store_answer(struct thinking_store_op *op, const char *tenant, json_object *blocks,
                          const char *const *ids, int nids)
{
    if (!tenant_ok(tenant) || !jsonv_thinking_blocks_ok(blocks) || nids < 1)
        return refuse(op, AXON_EINVAL);
    if (op->nblobs == THINKING_ANSWERS_MAX)
        return refuse(op, AXON_ETOOBIG);
    int usable = 0;
    for (int i = 0; i < nids; i++)
        usable += thinking_id_ok(ids[i]);
    if (usable == 0)
        return refuse(op, AXON_EINVAL);
    if (op->nkeys + usable > THINKING_KEYS_MAX)
        return refuse(op, AXON_ETOOBIG);
    size_t len = 0;
    const char *s = json_object_to_json_string_length(blocks, JSONV_OUT, &len);
    struct buf *blob = &op->blob[op->nblobs];
    buf_init(blob, THINKING_BLOCKS_MAX);
    if (buf_append(blob, s, len)) {
        buf_free(blob);
        return refuse(op, AXON_ETOOBIG);
    }
    for (int i = 0; i < nids; i++)
        if (thinking_id_ok(ids[i]))
            think_key(tenant, ids[i], op->keys[op->nkeys++]);
    snprintf(op->count[op->nblobs], sizeof op->count[0], "%d", usable);
    op->nblobs++;
    return AXON_OK;
}

void thinking_store_add(const struct axon_config *cfg, struct thinking_store_op *op,
                        struct valkey_batch *b)
{
    if (op->nblobs == 0)
        return;
    if (cfg->conv_ttl_s < 1) {
        (void)refuse(op, AXON_EINVAL);
        return;
    }
    snprintf(op->ttl, sizeof op->ttl, "%d", cfg->conv_ttl_s);
    int argc = 0;
    for (int i = 0; i < op->nkeys; i++, argc++) {
        op->argv[argc] = op->keys[i];
        op->lens[argc] = strlen(op->keys[i]);
    }
    op->argv[argc] = op->ttl;
    op->lens[argc++] = strlen(op->ttl);
    for (int i = 0; i < op->nblobs; i++) {
        op->argv[argc] = op->count[i];
        op->lens[argc++] = strlen(op->count[i]);
        op->argv[argc] = op->blob[i].p;
        op->lens[argc++] = op->blob[i].len;
    }
    op->at = valkey_batch_add(b, (struct valkey_cmd){.argc = argc, .argv = op->argv,
                                                     .lens = op->lens, .script = &store_script,
                                                     .nkeys = op->nkeys});
    if (op->at < 0)
        (void)refuse(op, AXON_ETOOBIG); /* the batch is full: kept nothing */
}

int thinking_store_done(struct thinking_store_op *op, const struct valkey_batch *b)
{
    int rc = op->rc;
    if (op->at >= 0) {
        const redisReply *x = b->rep[op->at];
        if (!x)
            rc = AXON_EIO;
        else if (x->type == REDIS_REPLY_ERROR)
            rc = AXON_EREPLY;
        else if (x->type != REDIS_REPLY_INTEGER || x->integer != op->nkeys)
            rc = AXON_EPROTO;
    }
    for (int i = 0; i < op->nblobs; i++)
        buf_free(&op->blob[i]);
    op->nblobs = 0;
    op->at = -1;
    return rc;
}

int thinking_store_put(const struct axon_config *cfg, const char *tenant, json_object *blocks,
                       const char *const *ids, int nids)
{
    struct thinking_store_op op;
    struct valkey_batch b = {0};
    thinking_store_init(&op);
    (void)thinking_store_answer(&op, tenant, blocks, ids, nids); /* remembered in op */
    thinking_store_add(cfg, &op, &b);
    (void)valkey_batch_run(&b);
    int rc = thinking_store_done(&op, &b);
    valkey_batch_free(&b);
    return rc;
}

/* ---- lookup --------------------------------------------------------------- */

int thinking_store_find(const char *tenant, const char *const *ids, int n, json_object **found)
{
    for (int i = 0; i < n; i++)
        found[i] = NULL;
    if (!tenant_ok(tenant) || n < 1 || n > THINKING_KEYS_MAX)
        return AXON_EINVAL;
    char keys[THINKING_KEYS_MAX][THINKING_KEY_MAX];
    const char *argv[THINKING_KEYS_MAX + 1];
    int slot[THINKING_KEYS_MAX]; /* ids[i]'s key in argv, or -1 */
    int argc = 0;
    argv[argc++] = "MGET";
    for (int i = 0; i < n; i++) {
        slot[i] = -1;
        if (!thinking_id_ok(ids[i]))
            continue;
        think_key(tenant, ids[i], keys[argc - 1]);
        argv[argc] = keys[argc - 1];
        slot[i] = argc++;
    }
    if (argc == 1)
        return AXON_OK; /* no id could be a key: nothing to find, no round trip */
    redisReply *rep = NULL;
    int rc = valkey_command_argv(&rep, argc, argv, NULL);
    if (rc == AXON_OK && (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)argc - 1))
        rc = AXON_EPROTO;
    for (int i = 0; rc == AXON_OK && i < n; i++) {
        if (slot[i] < 0)
            continue;
        const redisReply *v = rep->element[slot[i] - 1];
        json_object *a = NULL;
        if (v->type != REDIS_REPLY_STRING || v->len > THINKING_BLOCKS_MAX ||
            jsonv_parse(v->str, v->len, JSONV_MAX_DEPTH, &a))
            continue;
        if (jsonv_thinking_blocks_ok(a))
            found[i] = a;
        else
            json_object_put(a);
    }
    freeReplyObject(rep);
    /* Whatever Valkey answered instead of the values, nothing was found:
     * to the caller that is the store failing (the request goes on). */
    return rc == AXON_EREPLY || rc == AXON_EPROTO ? AXON_EIO : rc;
}
