/* conv.c - the conversation store in Valkey. See conv.h for the layout.
 *
 * Every id and tenant is checked before it becomes part of a key name, so
 * nothing a client sends can reach another key ("conv-x}:meta" and the like).
 * Times come from the server (TIME inside the scripts, and the server time
 * the session lease last read, or a TIME of its own), so every host scores
 * the index zsets on one clock. */
#include "conv.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_lua.h" /* generated from src/lua/ (Makefile) */
#include "buf.h"
#include "errors.h"
#include "jsonv.h"
#include "log.h"
#include "oai_validate.h"
#include "resp_ids.h"
#include "text.h"
#include "valkey.h"

#define CONV_MSG_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define TENANT_MAX 64          /* hex digits in a tenant id */
#define KEY_MAX CONV_KEY_MAX
#define ACTIVE_KEY "axon:{g}:active"
#define LIST_SCAN_MAX 1000     /* index entries one conv_list looks at, stale ones included */

/* ---- ids and keys ----------------------------------------------------------- */

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

void conv_new_id(char *out, bool stored)
{
    unsigned char rnd[CONV_ID_HEX / 2];
    text_random(rnd, sizeof rnd); /* getrandom(2) */
    const char *prefix = stored ? CONV_ID_PREFIX : CONV_UNSTORED_PREFIX;
    size_t pn = strlen(prefix);
    memcpy(out, prefix, pn);
    text_hex(rnd, sizeof rnd, out + pn);
}

enum conv_id_kind conv_id_check(const char *id)
{
    if (!id)
        return CONV_ID_BAD;
    size_t n = strnlen(id, CONV_ID_MAX + 1);
    size_t sp = sizeof CONV_ID_PREFIX - 1, up = sizeof CONV_UNSTORED_PREFIX - 1;
    if (n == sp + CONV_ID_HEX && memcmp(id, CONV_ID_PREFIX, sp) == 0 &&
        lower_hex(id + sp, CONV_ID_HEX))
        return CONV_ID_STORED;
    if (n == up + CONV_ID_HEX && memcmp(id, CONV_UNSTORED_PREFIX, up) == 0 &&
        lower_hex(id + up, CONV_ID_HEX))
        return CONV_ID_UNSTORED;
    return CONV_ID_BAD;
}

static bool tenant_ok(const char *t)
{
    if (!t)
        return false;
    size_t n = strnlen(t, TENANT_MAX + 1);
    return n >= 1 && n <= TENANT_MAX && lower_hex(t, n);
}

/* Only after conv_id_check and tenant_ok: the formats cannot be cut. */
static void conv_keys(const char *id, char *meta, char *msgs)
{
    /* text_join, not snprintf: keys are made on every turn (callgrind). */
    text_join(meta, KEY_MAX, "axon:{c:", id, "}:meta");
    text_join(msgs, KEY_MAX, "axon:{c:", id, "}:msgs");
}

static void tenant_key(const char *tenant, char *out)
{
    text_join(out, KEY_MAX, "axon:{k:", tenant, "}:convs");
}

/* ---- meta records ------------------------------------------------------------ */

/* The hash fields, in the order HMGET asks for them. */
enum { MF_OWNER, MF_MODEL, MF_CREATED, MF_UPDATED, MF_COUNT, MF_BYTES, MF_N };
static const char *const meta_fields[MF_N] = {"owner",   "model",         "created",
                                              "updated", "message_count", "bytes"};

static bool reply_ll(const redisReply *v, long long *out)
{
    int64_t x;
    if (!v || v->type != REDIS_REPLY_STRING ||
        text_parse_i64_n(v->str, v->len, 0, INT64_MAX, &x))
        return false;
    *out = (long long)x;
    return true;
}

/* Fills out from the six field values (each NULL or a reply; borrowed).
 * AXON_ENOTFOUND when there is no owner or it is not tenant, AXON_EPROTO
 * when a field does not parse (not a record of ours). */
static int meta_parse(const redisReply *const f[MF_N], const char *id, const char *tenant,
                      struct conv_meta *out)
{
    const redisReply *o = f[MF_OWNER];
    if (!o || o->type != REDIS_REPLY_STRING || o->len != strlen(tenant) ||
        memcmp(o->str, tenant, o->len) != 0)
        return AXON_ENOTFOUND;
    const redisReply *m = f[MF_MODEL];
    if (!m || m->type != REDIS_REPLY_STRING || m->len > CONV_MODEL_MAX ||
        memchr(m->str, '\0', m->len) || !reply_ll(f[MF_CREATED], &out->created) ||
        !reply_ll(f[MF_UPDATED], &out->updated) || !reply_ll(f[MF_COUNT], &out->message_count) ||
        !reply_ll(f[MF_BYTES], &out->bytes))
        return AXON_EPROTO;
    memcpy(out->model, m->str, m->len);
    out->model[m->len] = '\0';
    snprintf(out->id, sizeof out->id, "%s", id);
    return AXON_OK;
}

/* ---- load ------------------------------------------------------------------ */

/* HGETALL's flat field/value array into the six slots. */
static void hash_fields(const redisReply *h, const redisReply *f[MF_N])
{
    for (int i = 0; i < MF_N; i++)
        f[i] = NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        for (int j = 0; j < MF_N; j++)
            if (k->len == strlen(meta_fields[j]) && memcmp(k->str, meta_fields[j], k->len) == 0)
                f[j] = h->element[i + 1];
    }
}

static bool entry_is_tombstone(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING && e->len == sizeof CONV_TOMBSTONE - 1 &&
           memcmp(e->str, CONV_TOMBSTONE, e->len) == 0;
}

/* Appends the list entries of l (an LRANGE reply, borrowed) to arr. A
 * tombstone (a deleted item) is skipped, or, when positions is set, kept
 * as a JSON null so that the array's indexes stay the list's. */
static int add_entries(const redisReply *l, json_object *arr, bool positions)
{
    for (size_t i = 0; i < l->elements; i++) {
        const redisReply *e = l->element[i];
        json_object *m = NULL;
        if (entry_is_tombstone(e)) {
            if (positions)
                json_object_array_add(arr, NULL);
            continue;
        }
        if (e->type != REDIS_REPLY_STRING || jsonv_parse(e->str, e->len, JSONV_MAX_DEPTH, &m))
            return AXON_EPROTO;
        json_object_array_add(arr, m);
    }
    return AXON_OK;
}

/* arr (taken) as the stored history: *out = arr when it is one. */
static int check_messages(json_object *arr, json_object **out)
{
    /* The stored messages reach the upstream translators without the
     * request's validation (chat.c splices them into the replay after it),
     * and the translators rely on it: a stored message without a string
     * "role" crashed anthropic_request (strcmp on NULL; fuzz_conv found it).
     * Everything Axon stores passed oai_validate_chat once, so a list that
     * fails it now is damaged or not ours: refused as one that does not
     * parse (AXON_EPROTO). */
    size_t n = json_object_array_length(arr), live = 0;
    for (size_t i = 0; i < n; i++)
        live += json_object_array_get_idx(arr, i) != NULL;
    if (live) {
        /* Positions kept (conv_load_positions): the tombstones' nulls are
         * no messages to validate. */
        json_object *msgs = json_object_new_array_ext((int)live);
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_array_get_idx(arr, i);
            if (m)
                json_object_array_add(msgs, json_object_get(m));
        }
        json_object *req = json_object_new_object();
        json_object_object_add(req, "model", json_object_new_string("stored"));
        json_object_object_add(req, "messages", msgs);
        struct api_error e;
        int rc = oai_validate_chat(req, true, &e);
        json_object_put(req);
        if (rc) {
            json_object_put(arr);
            return AXON_EPROTO;
        }
    }
    *out = arr;
    return AXON_OK;
}

static int parse_messages(const redisReply *l, bool positions, json_object **out)
{
    json_object *arr = json_object_new_array_ext((int)(l->elements ? l->elements : 1));
    int rc = add_entries(l, arr, positions);
    if (rc) {
        json_object_put(arr);
        return rc;
    }
    return check_messages(arr, out);
}

/* What a load gives besides the history of conv_load. */
struct load_want {
    bool positions;         /* tombstones kept as nulls (conv_load_positions) */
    json_object **metadata; /* NULL: not wanted */
};

/* One stored metadata value (v, borrowed) as *out (new). */
static int metadata_value(const redisReply *v, json_object **out)
{
    *out = NULL;
    if (v->type != REDIS_REPLY_STRING || v->len > CONV_METADATA_MAX ||
        jsonv_parse(v->str, v->len, 2, out))
        return AXON_EPROTO;
    if (!json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        return AXON_EPROTO;
    }
    return AXON_OK;
}

/* The stored metadata among HGETALL's fields (h, borrowed): *out new, or
 * NULL when none is set. */
static int metadata_parse(const redisReply *h, json_object **out)
{
    *out = NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i];
        if (k->type == REDIS_REPLY_STRING && k->len == 8 && memcmp(k->str, "metadata", 8) == 0)
            return metadata_value(h->element[i + 1], out);
    }
    return AXON_OK;
}

static int load_parse_want(const redisReply *x, const char *id, const char *tenant,
                           const struct load_want *want, json_object **messages,
                           struct conv_meta *meta)
{
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
        x->element[0]->type != REDIS_REPLY_ARRAY ||
        (x->element[1]->type != REDIS_REPLY_ARRAY && x->element[1]->type != REDIS_REPLY_NIL))
        return AXON_EPROTO; /* not our record */
    if (x->element[0]->elements == 0)
        return AXON_ENOTFOUND;
    const redisReply *f[MF_N];
    hash_fields(x->element[0], f);
    int rc = meta_parse(f, id, tenant, meta);
    if (!rc && want->metadata)
        rc = metadata_parse(x->element[0], want->metadata);
    if (!rc && x->element[1]->type == REDIS_REPLY_ARRAY)
        rc = parse_messages(x->element[1], want->positions, messages);
    return rc;
}

/* The load script's reply (borrowed) as the meta and the messages: what
 * conv_load reads back from Valkey in its first round trip. A function of
 * its own so tests/fuzz/fuzz_conv.c can feed it arbitrary replies. A large
 * history comes without its messages (a nil in their place): *messages
 * stays NULL, meta is filled, and the caller reads them in parts. */
static int load_parse(const redisReply *x, const char *id, const char *tenant,
                      json_object **messages, struct conv_meta *meta)
{
    static const struct load_want plain = {0};
    return load_parse_want(x, id, tenant, &plain, messages, meta);
}

/* A large history's messages, CONV_READ_PART_BYTES or so at a time, one
 * round trip each: Valkey answers other clients between the parts instead
 * of stopping for a whole copy of megabytes, and each part is given the
 * store's allowance for its size (valkey.h: such a part that is late fails
 * this load, not Valkey for everyone). The list only grows at its end, so
 * reading up to meta's message_count gives the messages of that instant;
 * a list that shrank meanwhile was deleted or expired: AXON_ENOTFOUND. */
static int load_parts(const struct axon_config *cfg, const char *lk, const struct conv_meta *meta,
                      long long upto, bool positions, json_object **messages)
{
    long long n = upto >= 0 && upto < meta->message_count ? upto : meta->message_count;
    long long avg = n > 0 ? meta->bytes / n + 1 : 1;
    long long per = CONV_READ_PART_BYTES / avg;
    if (per < 1)
        per = 1;
    /* The meta is ours, but sized from it nothing may be unbounded: the
     * array's first allocation, and a part's wait (a history is at most
     * the byte cap and one answer, itself under it). */
    json_object *arr = json_object_new_array_ext((int)(n > 0 && n < 65536 ? n : 65536));
    long long most = 2 * (long long)cfg->conv_max_bytes + CONV_READ_PART_BYTES;
    int rc = AXON_OK;
    for (long long at = 0; !rc && at < n; at += per) {
        long long last = at + per - 1 < n - 1 ? at + per - 1 : n - 1;
        char from[24], to[24];
        snprintf(from, sizeof from, "%lld", at);
        snprintf(to, sizeof to, "%lld", last);
        const char *lrange[] = {"LRANGE", lk, from, to};
        struct valkey_batch b = {0};
        long long bytes = (last - at + 1) * avg;
        if (bytes > most)
            bytes = most;
        b.wait_ms = cfg->valkey_timeout_ms + bytes / CONV_STORE_BYTES_PER_MS;
        b.large = bytes >= CONV_STORE_BYTES_PER_MS;
        if (valkey_batch_add(&b, (struct valkey_cmd){.argc = 4, .argv = lrange}) < 0)
            abort(); /* an empty batch has room */
        rc = valkey_batch_run(&b);
        if (!rc && b.rep[0]->type != REDIS_REPLY_ARRAY)
            rc = AXON_EPROTO;
        else if (!rc && b.rep[0]->elements != (size_t)(last - at + 1))
            rc = AXON_ENOTFOUND;
        if (!rc)
            rc = add_entries(b.rep[0], arr, positions);
        valkey_batch_free(&b);
    }
    if (rc) {
        json_object_put(arr);
        return rc;
    }
    return check_messages(arr, messages);
}

/* The rest of a read once the load script's {meta, messages} (x, borrowed)
 * came: parsed, and a large history's messages read in parts. On an error
 * meta and *want->metadata are cleared. */
static int load_finish(const struct axon_config *cfg, const char *id, const char *tenant,
                       const char *lk, const redisReply *x, long long upto,
                       const struct load_want *want, json_object **messages,
                       struct conv_meta *meta)
{
    int rc = want->positions || want->metadata
                 ? load_parse_want(x, id, tenant, want, messages, meta)
                 : load_parse(x, id, tenant, messages, meta); /* the fuzzed path */
    if (rc == AXON_OK && !*messages)
        rc = load_parts(cfg, lk, meta, upto, want->positions, messages);
    if (rc) {
        memset(meta, 0, sizeof *meta);
        if (want->metadata) {
            json_object_put(*want->metadata);
            *want->metadata = NULL;
        }
    }
    return rc;
}

/* KEYS, ARGV and the reply: src/lua/conv_load.lua and conv_lock_load.lua. */
static struct valkey_script load_script = {.src = AXON_LUA_CONV_LOAD};
static struct valkey_script lock_load_script = {.src = AXON_LUA_CONV_LOCK_LOAD};

/* The read of conv_load, without the lock: one script (EVALSHA), then the
 * parts of a large history. */
static int load_run(const struct axon_config *cfg, const char *id, const char *tenant,
                    const struct load_want *want, json_object **messages, struct conv_meta *meta)
{
    *messages = NULL;
    if (want->metadata)
        *want->metadata = NULL;
    memset(meta, 0, sizeof *meta);
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant))
        return AXON_EINVAL;
    char mk[KEY_MAX], lk[KEY_MAX], whole[24];
    conv_keys(id, mk, lk);
    text_i64(whole, sizeof whole, CONV_READ_PART_BYTES);
    const char *keys[] = {mk, lk};
    const char *args[] = {whole, "-1"};
    redisReply *r = NULL;
    int rc = valkey_eval(&load_script, &r, 2, keys, 2, args, NULL);
    if (rc == AXON_OK)
        rc = load_finish(cfg, id, tenant, lk, r, -1, want, messages, meta);
    freeReplyObject(r);
    return rc;
}

int conv_load(const struct axon_config *cfg, const char *id, const char *tenant,
              json_object **messages, struct conv_meta *meta)
{
    static const struct load_want plain = {0};
    return load_run(cfg, id, tenant, &plain, messages, meta);
}

int conv_load_positions(const struct axon_config *cfg, const char *id, const char *tenant,
                        json_object **messages, struct conv_meta *meta, json_object **metadata)
{
    const struct load_want want = {.positions = true, .metadata = metadata};
    return load_run(cfg, id, tenant, &want, messages, meta);
}

static int load_locked(const struct axon_config *cfg, const char *id, const char *tenant,
                       long long upto, const char *need, struct conv_lock *lock,
                       json_object **messages, struct conv_meta *meta);

int conv_load_locked(const struct axon_config *cfg, const char *id, const char *tenant,
                     struct conv_lock *lock, json_object **messages, struct conv_meta *meta)
{
    return load_locked(cfg, id, tenant, -1, NULL, lock, messages, meta);
}

int conv_load_locked_upto(const struct axon_config *cfg, const char *id, const char *tenant,
                          long long upto, const char *need, struct conv_lock *lock,
                          json_object **messages, struct conv_meta *meta)
{
    /* need is a key name: only one of this conversation's, so that it
     * stays in its slot and nothing a client sends can name another. */
    char prefix[KEY_MAX];
    snprintf(prefix, sizeof prefix, "axon:{c:%.*s}:", CONV_ID_MAX, id ? id : "");
    if (upto < 0 || (need && strncmp(need, prefix, strlen(prefix)))) {
        memset(lock, 0, sizeof *lock);
        lock->at = -1;
        *messages = NULL;
        memset(meta, 0, sizeof *meta);
        return AXON_EINVAL;
    }
    return load_locked(cfg, id, tenant, upto, need, lock, messages, meta);
}

/* ---- the turn lock --------------------------------------------------------- */

/* Compare-and-delete, compare-and-extend (src/lua/conv_unlock.lua and
 * conv_relock.lua): only the holder's token acts. */
static struct valkey_script unlock_script = {.src = AXON_LUA_CONV_UNLOCK};
static struct valkey_script relock_script = {.src = AXON_LUA_CONV_RELOCK};

/* The server's clock less this host's monotonic clock (ms), from the last
 * reading conv.c saw (a lock's answer, a store's now_ms); 0: none yet. It
 * dates the lock's deadline. Readings err early (they are dated when they
 * arrive), so the deadline does too: never a lock taken late. */
static _Atomic long long clock_offset_ms;

static void clock_note(long long server_ms)
{
    if (server_ms > 0)
        atomic_store(&clock_offset_ms, server_ms - (long long)(log_now_us() / 1000u));
}

static int load_locked(const struct axon_config *cfg, const char *id, const char *tenant,
                       long long upto, const char *need, struct conv_lock *lock,
                       json_object **messages, struct conv_meta *meta)
{
    memset(lock, 0, sizeof *lock);
    lock->at = -1;
    *messages = NULL;
    memset(meta, 0, sizeof *meta);
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant))
        return conv_load(cfg, id, tenant, messages, meta); /* refuses: EINVAL */
    lock->lease_ms = (long long)cfg->pool_lease_s * 1000;
    text_join(lock->key, sizeof lock->key, "axon:{c:", id, "}:turn");
    unsigned char rnd[CONV_LOCK_TOKEN_HEX / 2];
    text_random(rnd, sizeof rnd);
    text_hex(rnd, sizeof rnd, lock->token);
    char px[24], deadline[24];
    text_i64(px, sizeof px, lock->lease_ms);
    long long off = atomic_load(&clock_offset_ms);
    text_i64(deadline, sizeof deadline,
             off ? (long long)(log_now_us() / 1000u) + off + cfg->valkey_timeout_ms : 0LL);
    /* The lock and the read in one script (src/lua/conv_lock_load.lua: it
     * says why EVALSHA is safe). Every store of a continued turn checks the
     * lock is its own (the append script), so nothing is stored between
     * the read and this turn's store. */
    char mk[KEY_MAX], lk[KEY_MAX], whole[24], count[24];
    conv_keys(id, mk, lk);
    text_i64(whole, sizeof whole, CONV_READ_PART_BYTES);
    text_i64(count, sizeof count, upto);
    const char *keys[] = {mk, lk, lock->key, need};
    const char *args[] = {tenant, lock->token, px, deadline, whole, count};
    redisReply *r = NULL;
    int rc = valkey_eval(&lock_load_script, &r, need ? 4 : 3, keys, 6, args, NULL);
    long long state = -9;
    if (rc == AXON_OK && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        state = r->element[0]->integer;
        clock_note(r->element[1]->integer);
    }
    static const struct load_want plain = {0};
    if (state == 1 && r->elements == 3)
        rc = load_finish(cfg, id, tenant, lk, r->element[2], upto, &plain, messages, meta);
    else if (state == 1)
        rc = AXON_EPROTO;
    freeReplyObject(r);
    if (state == 1 && rc == AXON_OK) {
        lock->renew_at_us = log_now_us() + (uint64_t)lock->lease_ms * 1000u / 3;
        return AXON_OK;
    }
    if (state == 1)
        (void)conv_unlock(lock); /* damaged, or its parts failed */
    lock->token[0] = '\0';
    if (rc != AXON_OK)
        return rc;
    if (state == -1)
        return AXON_ENOTFOUND; /* another tenant's id stays not found, even while locked */
    if (state == 0)
        return AXON_EBUSY;
    if (state == -3)
        log_msg(AXON_LOG_WARN, "conv: the turn lock of %s reached Valkey after its deadline", id);
    return state == -3 ? AXON_EIO : AXON_EPROTO; /* the script answered nonsense */
}

/* The release's reply (NULL: none came) as a result; logs a lost release. */
static int unlock_result(struct conv_lock *lock, int rc, const redisReply *r)
{
    if (rc == AXON_OK && r && r->type == REDIS_REPLY_ERROR)
        rc = AXON_EREPLY; /* its own reply, in a batch that failed elsewhere or not */
    else if (rc == AXON_OK && !(r && r->type == REDIS_REPLY_INTEGER))
        rc = AXON_EPROTO;
    if (rc == AXON_EIO)
        log_msg(AXON_LOG_WARN, "conv: the turn lock %s was not given back (%s): it expires in %lld ms",
                lock->key, valkey_strerror(), lock->lease_ms);
    lock->token[0] = '\0';
    lock->at = -1;
    return rc;
}

int conv_unlock(struct conv_lock *lock)
{
    if (!lock->token[0])
        return AXON_OK;
    const char *keys[] = {lock->key};
    const char *args[] = {lock->token};
    redisReply *r = NULL;
    int rc = valkey_eval(&unlock_script, &r, 1, keys, 1, args, NULL);
    rc = unlock_result(lock, rc, r);
    freeReplyObject(r);
    return rc;
}

void conv_unlock_add(struct conv_lock *lock, struct valkey_batch *b)
{
    lock->at = -1;
    if (!lock->token[0] || lock->in_store)
        return;
    lock->argv[0] = lock->key;
    lock->argv[1] = lock->token;
    lock->at = valkey_batch_add(b, (struct valkey_cmd){.argc = 2, .argv = lock->argv,
                                                       .script = &unlock_script, .nkeys = 1});
}

int conv_unlock_done(struct conv_lock *lock, const struct valkey_batch *b)
{
    if (!lock->token[0])
        return AXON_OK;
    if (lock->in_store) {
        /* Given back by the store script (conv_append.lua) when it ran
         * past its lock check, else it is not ours any more (-4); past
         * the deadline (-3), or an error, it may still be held: the
         * compare-and-delete of conv_unlock, which harms no next turn. */
        lock->in_store = false;
        if (b->rc == AXON_EIO)
            return unlock_result(lock, AXON_EIO, NULL);
        const redisReply *r = b->rep[lock->store_at];
        if (r->type == REDIS_REPLY_INTEGER &&
            (r->integer > 0 || r->integer == -1 || r->integer == -2 || r->integer == -4)) {
            lock->token[0] = '\0';
            return AXON_OK;
        }
        return conv_unlock(lock);
    }
    if (lock->at < 0)
        return conv_unlock(lock); /* the batch was full: a round trip of its own */
    return unlock_result(lock, b->rc == AXON_EIO ? AXON_EIO : AXON_OK, b->rep[lock->at]);
}

int conv_lock_renew(struct conv_lock *lock)
{
    if (!lock->token[0])
        return AXON_OK;
    uint64_t now = log_now_us();
    if (now < lock->renew_at_us)
        return AXON_OK;
    char px[24];
    text_i64(px, sizeof px, lock->lease_ms);
    const char *keys[] = {lock->key};
    const char *args[] = {lock->token, px};
    redisReply *r = NULL;
    int rc = valkey_eval(&relock_script, &r, 1, keys, 2, args, NULL);
    uint64_t third = (uint64_t)lock->lease_ms * 1000u / 3;
    if (rc == AXON_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        lock->renew_at_us = now + third;
    } else if (rc == AXON_OK) {
        /* Expired and perhaps taken by the next turn: ours will not be
         * stored (the append script checks), and we stop asking. */
        log_msg(AXON_LOG_WARN, "conv: the turn lock %s expired while its turn ran", lock->key);
        lock->renew_at_us = UINT64_MAX;
        rc = AXON_ENOTFOUND;
    } else {
        lock->renew_at_us = now + (third < 1000000u ? third : 1000000u); /* a second later */
    }
    freeReplyObject(r);
    return rc;
}

/* ---- append ---------------------------------------------------------------- */

/* KEYS, ARGV and the reply: src/lua/conv_append.lua. */
static struct valkey_script append_script = {.src = AXON_LUA_CONV_APPEND};

/* KEYS, ARGV and the reply: src/lua/conv_create.lua. */
static struct valkey_script create_script = {.src = AXON_LUA_CONV_CREATE};

/* m's stored form, printed through a one-element array the caller frees
 * (*holder, json_object_put): json-c keeps what it prints in the object it
 * prints, at up to twice its size, so printing m itself left a 15 MiB
 * message carrying a 16-32 MiB copy of its text to the end of the request.
 * The array prints as "[" m "]" under CONV_MSG_FLAGS (PLAIN: no spaces). */
static const char *print_once(json_object *m, json_object **holder, size_t *len)
{
    *holder = json_object_new_array();
    json_object_array_add(*holder, json_object_get(m));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(*holder, CONV_MSG_FLAGS, &n);
    *len = n - 2;
    return s + 1;
}

/* Appends m's stored form to blob ("\n" before all but the first). */
static int add_message(struct buf *blob, json_object *m, size_t *bytes)
{
    if (!json_object_is_type(m, json_type_object))
        return AXON_EINVAL;
    int rc = blob->len ? buf_append(blob, "\n", 1) : AXON_OK;
    size_t start = blob->len;
    if (!rc)
        rc = jsonv_write(blob, m); /* printed straight into the blob (jsonv.h) */
    if (!rc && memchr(blob->p + start, '\n', blob->len - start))
        rc = AXON_EINVAL; /* would split the entry; JSON printing never makes one */
    *bytes += blob->len - start;
    return rc;
}

/* The index zsets, updated in the append's round trip with plain commands
 * dated now_ms. They live in other slots than the conversation, so no script
 * could update them with it. GT: a slower concurrent turn never moves an
 * entry back in time. The tenant's index scores by update time, the global
 * one by expiry time (the /stats count). Their trims (what expired) cost the
 * server as much as the rest of the store together, and nothing reads an
 * expired entry as live (conv_list checks each meta and drops the stale,
 * conv_active counts from now and trims), so they go along with one store
 * in CONV_TRIM_ONE_IN (conv_index_trims), enough to keep both short. */
static void add_indexes(const struct axon_config *cfg, long long now_ms,
                        struct conv_append_op *op, struct valkey_batch *b)
{
    long long ttl_ms = (long long)cfg->conv_ttl_s * 1000;
    text_i64(op->score, sizeof op->score, now_ms);
    text_i64(op->oldest, sizeof op->oldest, now_ms - ttl_ms);
    text_i64(op->expiry, sizeof op->expiry, now_ms + ttl_ms);
    const char *z0[] = {"ZADD", op->tk, "GT", op->score, op->id};
    const char *z1[] = {"ZADD", ACTIVE_KEY, "GT", op->expiry, op->id};
    const char *r0[] = {"ZREMRANGEBYSCORE", op->tk, "-inf", op->oldest};
    const char *r1[] = {"ZREMRANGEBYSCORE", ACTIVE_KEY, "-inf", op->score};
    const char *ze[] = {"EXPIRE", op->tk, op->ttl};
    memcpy(op->zadd[0], z0, sizeof z0);
    memcpy(op->zadd[1], z1, sizeof z1);
    memcpy(op->zrem[0], r0, sizeof r0);
    memcpy(op->zrem[1], r1, sizeof r1);
    memcpy(op->zexpire, ze, sizeof ze);
    const struct valkey_cmd cmds[CONV_INDEX_CMDS + CONV_INDEX_TRIMS] = {
        {.argc = 5, .argv = op->zadd[0]}, {.argc = 3, .argv = op->zexpire},
        {.argc = 5, .argv = op->zadd[1]}, {.argc = 4, .argv = op->zrem[0]},
        {.argc = 4, .argv = op->zrem[1]},
    };
    op->index_at = b->n;
    op->index_n = CONV_INDEX_CMDS + (conv_index_trims(now_ms) ? CONV_INDEX_TRIMS : 0);
    for (int i = 0; i < op->index_n; i++)
        if (valkey_batch_add(b, cmds[i]) < 0)
            abort(); /* the caller checked the room */
}

/* The create script's command: the turn's entries split out of op->blob
 * into arguments. */
static void add_create(const char *model, size_t n, size_t bytes, struct conv_append_op *op,
                       struct valkey_batch *b)
{
    text_i64(op->bytes, sizeof op->bytes, (long long)bytes);
    const char *head[2 + CONV_FAST_ARGS] = {op->mk, op->lk, op->tenant, model,
                                            op->ttl, op->bytes, op->deadline};
    int argc = 0;
    for (; argc < 2 + CONV_FAST_ARGS; argc++) {
        op->argv[argc] = head[argc];
        op->lens[argc] = strlen(head[argc]);
    }
    const char *p = op->blob.p, *end = op->blob.p + op->blob.len;
    for (size_t i = 0; i < n; i++, argc++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        op->argv[argc] = p;
        op->lens[argc] = (size_t)((nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
    }
    op->at = valkey_batch_add(b, (struct valkey_cmd){.argc = argc, .argv = op->argv,
                                                     .lens = op->lens,
                                                     .script = &create_script, .nkeys = 2});
    if (op->at < 0)
        abort(); /* the caller checked the room */
}

/* The append script's command (a continued turn, or a big new one). */
static void add_script(const struct axon_config *cfg, const char *model, size_t n,
                       size_t nclient, struct conv_lock *lock, struct conv_append_op *op,
                       struct valkey_batch *b)
{
    text_i64(op->maxm, sizeof op->maxm, cfg->conv_max_messages);
    text_i64(op->maxb, sizeof op->maxb, (long long)cfg->conv_max_bytes);
    text_i64(op->nb, sizeof op->nb, (long long)n);
    text_i64(op->ncb, sizeof op->ncb, (long long)nclient);
    const char *argv[] = {op->mk,   op->lk,   op->tenant, model, op->create ? "1" : "0",
                          op->ttl,  op->maxm, op->maxb,   op->nb, op->ncb,
                          op->deadline, op->blob.p};
    enum { ARGC = sizeof argv / sizeof *argv };
    memcpy(op->argv, argv, sizeof argv);
    for (int i = 0; i < ARGC - 1; i++)
        op->lens[i] = strlen(op->argv[i]);
    op->lens[ARGC - 1] = op->blob.len;
    int argc = ARGC, nkeys = 2;
    if (lock && lock->token[0]) {
        /* The lock goes in as the third key: the keys come first. */
        memmove(op->argv + 3, op->argv + 2, (ARGC - 2) * sizeof *op->argv);
        memmove(op->lens + 3, op->lens + 2, (ARGC - 2) * sizeof *op->lens);
        op->argv[2] = lock->key;
        op->lens[2] = strlen(lock->key);
        op->argv[ARGC + 1] = lock->token;
        op->lens[ARGC + 1] = strlen(lock->token);
        argc = ARGC + 2;
        nkeys = 3;
    }
    op->at = valkey_batch_add(b, (struct valkey_cmd){.argc = argc, .argv = op->argv,
                                                     .lens = op->lens,
                                                     .script = &append_script, .nkeys = nkeys});
    if (op->at < 0)
        abort(); /* the caller checked the room */
    if (nkeys == 3) {
        /* The script gives the lock back (conv_append.lua): no unlock
         * command; conv_unlock_done reads the store's reply. */
        lock->in_store = true;
        lock->store_at = op->at;
    }
}

void conv_append_add(const struct axon_config *cfg, const char *id, const char *tenant,
                     const char *model, json_object *client_messages, json_object *assistant,
                     bool create, long long now_ms, struct conv_append_op *op,
                     struct valkey_batch *b)
{
    conv_append_add_fenced(cfg, id, tenant, model, client_messages, assistant, create, NULL,
                           now_ms, op, b);
}

void conv_append_add_fenced(const struct axon_config *cfg, const char *id, const char *tenant,
                            const char *model, json_object *client_messages,
                            json_object *assistant, bool create, struct conv_lock *lock,
                            long long now_ms, struct conv_append_op *op, struct valkey_batch *b)
{
    memset(op, 0, sizeof *op);
    op->at = -1;
    op->id = id;
    op->tenant = tenant;
    op->create = create;
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant) || !model ||
        strnlen(model, CONV_MODEL_MAX + 1) > CONV_MODEL_MAX ||
        !json_object_is_type(client_messages, json_type_array) || cfg->conv_ttl_s < 1 ||
        cfg->conv_max_messages < 1) {
        op->rc = AXON_EINVAL; /* a TTL of 0 or NaN must never store keys that live forever */
        return;
    }
    size_t nclient = json_object_array_length(client_messages);
    size_t n = nclient + (assistant ? 1 : 0);
    if (n == 0) {
        op->rc = AXON_EINVAL;
        return;
    }
    if (n > (size_t)cfg->conv_max_messages) {
        op->rc = AXON_ETOOBIG;
        return;
    }
    /* Capped by what may be stored: the client's bytes, then one answer. */
    size_t alen = 0;
    if (assistant)
        (void)json_object_to_json_string_length(assistant, CONV_MSG_FLAGS, &alen);
    op->blob = (struct buf)BUF_INIT(cfg->conv_max_bytes + n + alen);
    size_t cbytes = 0, abytes = 0;
    int rc = AXON_OK;
    for (size_t i = 0; !rc && i < nclient; i++)
        rc = add_message(&op->blob, json_object_array_get_idx(client_messages, i), &cbytes);
    if (!rc && cbytes > cfg->conv_max_bytes)
        rc = AXON_ETOOBIG;
    if (!rc && assistant)
        rc = add_message(&op->blob, assistant, &abytes);
    if (rc) {
        op->rc = rc;
        return;
    }
    if (b->n + 1 + CONV_INDEX_CMDS + CONV_INDEX_TRIMS > VALKEY_MAX_PIPELINE) {
        op->rc = AXON_EINVAL;
        return;
    }
    /* No clock reading to date the deadline by: read the server's. */
    if (now_ms <= 0 && (op->rc = valkey_server_time_ms(&now_ms)) != AXON_OK) {
        log_msg(AXON_LOG_WARN, "conv: the store of %s was not sent: %s", id, valkey_strerror());
        return;
    }
    clock_note(now_ms);
    conv_keys(id, op->mk, op->lk);
    tenant_key(tenant, op->tk);
    text_i64(op->ttl, sizeof op->ttl, cfg->conv_ttl_s);
    /* The store deadline and the wait past it (conv.h). */
    long long budget = cfg->valkey_timeout_ms + (long long)(op->blob.len / CONV_STORE_BYTES_PER_MS);
    text_i64(op->deadline, sizeof op->deadline, now_ms + budget);
    if (b->wait_ms < budget + cfg->valkey_timeout_ms)
        b->wait_ms = budget + cfg->valkey_timeout_ms;
    /* A turn given more time for its size: its timeout is its own, not
     * Valkey down (valkey.h: the breaker rule). */
    if (op->blob.len >= CONV_STORE_BYTES_PER_MS)
        b->large = true;
    b->durable = cfg->valkey_wait_replicas; /* WAIT for replicas (valkey.h) */
    if (create && n <= CONV_FAST_MAX)
        add_create(model, n, cbytes + abytes, op, b); /* a new id: nobody else has it */
    else
        add_script(cfg, model, n, nclient, create ? NULL : lock, op, b);
    add_indexes(cfg, now_ms, op, b);
}

/* The append was refused after the index updates in its round trip had
 * listed the id: unlist it (the rare race with a delete). */
static void index_unlist(const struct conv_append_op *op)
{
    const char *a[] = {"ZREM", op->tk, op->id};
    const char *b[] = {"ZREM", ACTIVE_KEY, op->id};
    const struct valkey_cmd cmds[] = {{.argc = 3, .argv = a}, {.argc = 3, .argv = b}};
    redisReply *rep[2];
    if (valkey_pipeline(2, cmds, rep))
        log_msg(AXON_LOG_WARN, "conv: index cleanup of %s failed: %s", op->id, valkey_strerror());
    valkey_free_replies(2, rep);
}

/* A store script's result: the server time when stored, -1 gone or not
 * the tenant's (creating: the id exists), -2 over a cap, -3 too late. */
static int script_result(const struct conv_append_op *op, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR) {
        log_msg(AXON_LOG_WARN, "conv: append to %s refused: %.*s", op->id, (int)r->len, r->str);
        return AXON_EREPLY;
    }
    if (r->type != REDIS_REPLY_INTEGER)
        return AXON_EPROTO;
    if (r->integer == -1)
        return AXON_ENOTFOUND;
    if (r->integer == -2)
        return AXON_ETOOBIG;
    if (r->integer == -3) {
        log_msg(AXON_LOG_WARN, "conv: the store of %s reached Valkey after its deadline: not written",
                op->id);
        return AXON_ETIMEDOUT;
    }
    if (r->integer == -4) {
        log_msg(AXON_LOG_WARN, "conv: the turn lock of %s expired before its store: not written",
                op->id);
        return AXON_EBUSY;
    }
    return r->integer > 0 ? AXON_OK : AXON_EPROTO;
}

int conv_append_done(struct conv_append_op *op, const struct valkey_batch *b)
{
    int rc = op->rc;
    if (op->at >= 0 && b->rc == AXON_EIO) {
        rc = AXON_EIO;
    } else if (op->at >= 0) {
        rc = script_result(op, b->rep[op->at]);
        if (rc == AXON_OK && !valkey_batch_acked(b, op->at))
            rc = AXON_EIO; /* stored, but fewer replicas have it than asked */
        for (int i = 0; i < op->index_n; i++) {
            const redisReply *x = b->rep[op->index_at + i];
            if (x->type == REDIS_REPLY_ERROR)
                log_msg(AXON_LOG_WARN, "conv: index update of %s failed: %.*s", op->id,
                        (int)x->len, x->str);
        }
        /* Refused because it is gone or not the tenant's: do not list it.
         * (Creating, -1 means the id exists already: that entry stays.) */
        if (rc == AXON_ENOTFOUND && !op->create)
            index_unlist(op);
    }
    buf_free(&op->blob);
    return rc;
}

int conv_append(const struct axon_config *cfg, const char *id, const char *tenant,
                const char *model, json_object *client_messages, json_object *assistant,
                bool create)
{
    struct conv_append_op op;
    struct valkey_batch b = {0};
    conv_append_add(cfg, id, tenant, model, client_messages, assistant, create, 0, &op, &b);
    (void)valkey_batch_run(&b);
    int rc = conv_append_done(&op, &b);
    valkey_batch_free(&b);
    return rc;
}

/* ---- delete ---------------------------------------------------------------- */

/* KEYS, ARGV and the reply: src/lua/conv_delete.lua. */
static struct valkey_script delete_script = {.src = AXON_LUA_CONV_DELETE};

int conv_delete(const char *id, const char *tenant)
{
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant))
        return AXON_EINVAL;
    char mk[KEY_MAX], lk[KEY_MAX], tk[KEY_MAX];
    conv_keys(id, mk, lk);
    const char *keys[] = {mk, lk};
    redisReply *r = NULL;
    int rc = valkey_eval(&delete_script, &r, 2, keys, 1, &tenant, NULL);
    if (!rc && (r->type != REDIS_REPLY_INTEGER || r->integer != 1))
        rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? AXON_ENOTFOUND : AXON_EPROTO;
    freeReplyObject(r);
    if (rc)
        return rc;
    /* Only the owner's index is touched, and only after the owner check. */
    tenant_key(tenant, tk);
    const char *a[] = {"ZREM", tk, id}, *b[] = {"ZREM", ACTIVE_KEY, id};
    const struct valkey_cmd cmds[] = {{.argc = 3, .argv = a}, {.argc = 3, .argv = b}};
    redisReply *rep[2];
    if (valkey_pipeline(2, cmds, rep))
        log_msg(AXON_LOG_WARN, "conv: index cleanup of %s failed: %s", id, valkey_strerror());
    valkey_free_replies(2, rep);
    return AXON_OK;
}

/* ---- the Conversations API ------------------------------------------------ */

/* KEYS, ARGV and the replies: src/lua/conv_open.lua, conv_items_add.lua,
 * conv_meta_set.lua, conv_item_delete.lua. */
static struct valkey_script open_script = {.src = AXON_LUA_CONV_OPEN};
static struct valkey_script items_add_script = {.src = AXON_LUA_CONV_ITEMS_ADD};
static struct valkey_script meta_set_script = {.src = AXON_LUA_CONV_META_SET};
static struct valkey_script item_delete_script = {.src = AXON_LUA_CONV_ITEM_DELETE};

/* Arguments an API write may give its script besides the messages. */
#define API_HEAD_MAX 9

/* The server's clock now, for the store deadline and the index scores:
 * from the last reading when there was one (no round trip), else TIME. */
static int server_now_ms(long long *now_ms)
{
    long long off = atomic_load(&clock_offset_ms);
    if (off) {
        *now_ms = (long long)(log_now_us() / 1000u) + off;
        return AXON_OK;
    }
    return valkey_server_time_ms(now_ms);
}

/* The create (conv_open.lua) or append (conv_items_add.lua) of messages
 * by the API, with the index updates, in one round trip. *out: the
 * script's result (the time in ms; for an append, the first position). */
static int api_write(const struct axon_config *cfg, const char *id, const char *tenant,
                     const char *metadata, json_object *messages, bool create, long long *out)
{
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant) ||
        !json_object_is_type(messages, json_type_array) || cfg->conv_ttl_s < 1 ||
        cfg->conv_max_messages < 1)
        return AXON_EINVAL;
    size_t n = json_object_array_length(messages);
    if ((!create && n == 0) || n > VALKEY_MAX_ARGS - API_HEAD_MAX)
        return AXON_EINVAL;
    if (n > (size_t)cfg->conv_max_messages)
        return AXON_ETOOBIG;
    struct conv_append_op op;
    memset(&op, 0, sizeof op);
    op.id = id;
    op.tenant = tenant;
    op.create = create;
    op.blob = (struct buf)BUF_INIT(cfg->conv_max_bytes + n + 1);
    size_t bytes = 0;
    int rc = AXON_OK;
    for (size_t i = 0; !rc && i < n; i++)
        rc = add_message(&op.blob, json_object_array_get_idx(messages, i), &bytes);
    if (rc == AXON_ETOOBIG || bytes > cfg->conv_max_bytes)
        rc = AXON_ETOOBIG; /* the blob is capped by what may be stored */
    long long now_ms = 0;
    if (!rc)
        rc = server_now_ms(&now_ms);
    if (rc) {
        buf_free(&op.blob);
        return rc;
    }
    conv_keys(id, op.mk, op.lk);
    tenant_key(tenant, op.tk);
    char lock[CONV_KEY_MAX];
    snprintf(lock, sizeof lock, "axon:{c:%s}:turn", id);
    snprintf(op.ttl, sizeof op.ttl, "%d", cfg->conv_ttl_s);
    snprintf(op.maxm, sizeof op.maxm, "%d", cfg->conv_max_messages);
    snprintf(op.maxb, sizeof op.maxb, "%zu", cfg->conv_max_bytes);
    snprintf(op.bytes, sizeof op.bytes, "%zu", bytes);
    long long budget = cfg->valkey_timeout_ms + (long long)(op.blob.len / CONV_STORE_BYTES_PER_MS);
    snprintf(op.deadline, sizeof op.deadline, "%lld", now_ms + budget);
    struct valkey_batch b = {0};
    b.wait_ms = budget + cfg->valkey_timeout_ms; /* the store deadline's rule (conv.h) */
    b.durable = cfg->valkey_wait_replicas;       /* WAIT for replicas (valkey.h) */
    const char *head_create[] = {op.mk, op.lk, tenant, op.ttl, metadata ? metadata : "",
                                 op.deadline, op.bytes};
    const char *head_add[] = {op.mk,   op.lk,   lock,        tenant,  op.ttl,
                              op.maxm, op.maxb, op.deadline, op.bytes};
    const char *const *head = create ? head_create : head_add;
    int argc = create ? 7 : 9;
    for (int i = 0; i < argc; i++) {
        op.argv[i] = head[i];
        op.lens[i] = strlen(head[i]);
    }
    const char *p = op.blob.p, *end = op.blob.p + op.blob.len;
    for (size_t i = 0; i < n; i++, argc++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        op.argv[argc] = p;
        op.lens[argc] = (size_t)((nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
    }
    op.at = valkey_batch_add(&b, (struct valkey_cmd){
                                     .argc = argc, .argv = op.argv, .lens = op.lens,
                                     .script = create ? &open_script : &items_add_script,
                                     .nkeys = create ? 2 : 3});
    if (op.at < 0)
        abort(); /* an empty batch has room */
    add_indexes(cfg, now_ms, &op, &b);
    rc = valkey_batch_run(&b);
    if (rc != AXON_EIO) {
        const redisReply *r = b.rep[op.at];
        rc = AXON_EPROTO;
        if (r->type == REDIS_REPLY_ERROR)
            rc = AXON_EREPLY;
        else if (create && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
            rc = (*out = r->integer, AXON_OK);
        else if (!create && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                 r->element[0]->type == REDIS_REPLY_INTEGER &&
                 r->element[1]->type == REDIS_REPLY_INTEGER) {
            clock_note(r->element[0]->integer);
            rc = (*out = r->element[1]->integer, AXON_OK);
        } else if (r->type == REDIS_REPLY_INTEGER) {
            long long v = r->integer;
            rc = v == -1 ? AXON_ENOTFOUND
               : v == -2 ? AXON_ETOOBIG
               : v == -3 ? AXON_ETIMEDOUT
               : v == -5 ? AXON_EBUSY
                         : AXON_EPROTO;
        }
        if (rc == AXON_ENOTFOUND && !create)
            index_unlist(&op); /* the index updates listed an id that is not the tenant's */
        if (rc == AXON_OK && !valkey_batch_acked(&b, op.at))
            rc = AXON_EIO; /* written, but fewer replicas have it than asked */
    }
    valkey_batch_free(&b);
    buf_free(&op.blob);
    return rc;
}

int conv_create_api(const struct axon_config *cfg, const char *id, const char *tenant,
                    const char *metadata, json_object *messages, long long *created)
{
    long long ms = 0;
    *created = 0;
    if (metadata && strlen(metadata) > CONV_METADATA_MAX)
        return AXON_EINVAL;
    int rc = api_write(cfg, id, tenant, metadata, messages, true, &ms);
    if (!rc) {
        clock_note(ms);
        *created = ms / 1000;
    }
    return rc;
}

int conv_items_append(const struct axon_config *cfg, const char *id, const char *tenant,
                      json_object *messages, long *first_pos)
{
    long long pos = 0;
    *first_pos = 0;
    int rc = api_write(cfg, id, tenant, NULL, messages, false, &pos);
    if (!rc && (pos < 0 || pos > RESP_POS_MAX))
        rc = AXON_EPROTO;
    if (!rc)
        *first_pos = (long)pos;
    return rc;
}

int conv_set_metadata(const char *id, const char *tenant, const char *metadata,
                      long long *created)
{
    *created = 0;
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant) ||
        (metadata && strlen(metadata) > CONV_METADATA_MAX))
        return AXON_EINVAL;
    char mk[KEY_MAX], lk[KEY_MAX];
    conv_keys(id, mk, lk);
    const char *keys[] = {mk};
    const char *args[] = {tenant, metadata ? metadata : ""};
    redisReply *r = NULL;
    int rc = valkey_eval(&meta_set_script, &r, 1, keys, 2, args, NULL);
    if (!rc && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
        *created = r->integer;
    else if (!rc)
        rc = r->type == REDIS_REPLY_INTEGER && r->integer == -1 ? AXON_ENOTFOUND : AXON_EPROTO;
    freeReplyObject(r);
    return rc;
}

static bool pos_ok(long pos)
{
    return pos >= 0 && pos <= RESP_POS_MAX;
}

int conv_item_get(const char *id, const char *tenant, long pos, json_object **msg)
{
    *msg = NULL;
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant) || !pos_ok(pos))
        return AXON_EINVAL;
    char mk[KEY_MAX], lk[KEY_MAX], at[24];
    conv_keys(id, mk, lk);
    snprintf(at, sizeof at, "%ld", pos);
    /* A read: the owner and the entry in one pipeline (nothing to keep
     * atomic: the entry is only shown if the owner matched). */
    const char *a[] = {"HGET", mk, "owner"}, *l[] = {"LINDEX", lk, at};
    const struct valkey_cmd cmds[] = {{.argc = 3, .argv = a}, {.argc = 3, .argv = l}};
    redisReply *rep[2];
    int rc = valkey_pipeline(2, cmds, rep);
    if (rc == AXON_EIO)
        return rc;
    const redisReply *o = rep[0], *e = rep[1];
    rc = AXON_OK;
    if (o->type != REDIS_REPLY_STRING || o->len != strlen(tenant) ||
        memcmp(o->str, tenant, o->len) != 0 || e->type == REDIS_REPLY_NIL || entry_is_tombstone(e))
        rc = AXON_ENOTFOUND;
    else if (e->type != REDIS_REPLY_STRING || jsonv_parse(e->str, e->len, JSONV_MAX_DEPTH, msg))
        rc = AXON_EPROTO;
    valkey_free_replies(2, rep);
    return rc;
}

int conv_item_delete(const char *id, const char *tenant, long pos, long long *created,
                     json_object **metadata)
{
    *created = 0;
    *metadata = NULL;
    if (conv_id_check(id) != CONV_ID_STORED || !tenant_ok(tenant) || !pos_ok(pos))
        return AXON_EINVAL;
    char mk[KEY_MAX], lk[KEY_MAX], at[24];
    conv_keys(id, mk, lk);
    snprintf(at, sizeof at, "%ld", pos);
    const char *keys[] = {mk, lk};
    const char *args[] = {tenant, at, CONV_TOMBSTONE};
    redisReply *r = NULL;
    int rc = valkey_eval(&item_delete_script, &r, 2, keys, 3, args, NULL);
    if (rc) {
        freeReplyObject(r);
        return rc;
    }
    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == -1 || r->integer == -2 ? AXON_ENOTFOUND : AXON_EPROTO;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !reply_ll(r->element[0], created))
        rc = AXON_EPROTO;
    else if (r->element[1]->type == REDIS_REPLY_STRING)
        rc = metadata_value(r->element[1], metadata);
    freeReplyObject(r);
    return rc;
}

/* ---- errors ---------------------------------------------------------------- */

/* Here rather than in conv_http.c: chat's pipeline words its conversation
 * errors with it too, and conv_http.c reads request bodies with chat.c's
 * reader, so a conv_http.c definition would make a cycle of modules. */
int conv_api_error(struct api_error *e, int rc, const char *id, const char *param)
{
    if (rc == AXON_EINVAL)
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_conversation_id", param,
                      "Invalid conversation id: expected " CONV_ID_FORM
                      "%s.", param ? ", or \"new\" to start one" : "");
    else if (rc == AXON_ENOTFOUND && conv_id_check(id) == CONV_ID_UNSTORED)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "conversation_not_found", param,
                      "Conversation %s was never stored (the conversation store was "
                      "unavailable, or the conversation was too large, when it was "
                      "answered).", id);
    else if (rc == AXON_ENOTFOUND)
        api_error_set(e, 404, ERR_INVALID_REQUEST, "conversation_not_found", param,
                      "Conversation %s not found.", id);
    else if (rc == AXON_EIO) {
        api_error_set(e, 503, ERR_SERVER, "valkey_unavailable", NULL,
                      "The conversation store is unavailable. Please retry shortly; requests "
                      "without a conversation_id still work.");
        snprintf(e->retry_after, sizeof e->retry_after, "1"); /* the breaker's first cool-down */
    } else if (rc == AXON_EBUSY) {
        /* 409, as OpenAI answers a conflict; its SDKs retry a 409 by
         * themselves (openai-node shouldRetry), honouring Retry-After, so
         * concurrent turns of an SDK client end up one after the other. */
        api_error_set(e, 409, ERR_INVALID_REQUEST, "conversation_busy", param,
                      "Conversation %s is answering another turn. Send this turn again once "
                      "that one has finished.", id);
        snprintf(e->retry_after, sizeof e->retry_after, "1");
    } else /* AXON_EPROTO, AXON_EREPLY: what Valkey holds is not a record of ours */
        api_error_set(e, 500, ERR_SERVER, "conversation_corrupt", NULL,
                      "Conversation %s could not be read back.", id);
    return rc;
}

/* ---- list ------------------------------------------------------------------ */

/* Stale index entries, removed at the end of a listing: removing them while
 * paging by rank would shift the ranks under us. */
struct stale {
    char (*ids)[CONV_ID_MAX + 1];
    int n;
};

static void stale_remove(const char *tk, struct stale *s)
{
    const int per = VALKEY_MAX_ARGS - 2;
    for (int i = 0; i < s->n; i += per) {
        const char *argv[VALKEY_MAX_ARGS];
        int argc = 0;
        argv[argc++] = "ZREM";
        argv[argc++] = tk;
        for (int j = i; j < s->n && j < i + per; j++)
            argv[argc++] = s->ids[j];
        redisReply *r = NULL;
        if (valkey_command_argv(&r, argc, argv, NULL))
            log_msg(AXON_LOG_WARN, "conv: stale index cleanup failed: %s", valkey_strerror());
        freeReplyObject(r);
    }
}

/* Index entries ids[0..k) (k <= VALKEY_MAX_PIPELINE): each one's meta into
 * out when it is live and tenant's, else into the stale list. *got: how many
 * were live. A corrupt record is skipped (not removed: someone may look). */
static int fetch_metas(const redisReply *const *ids, int k, const char *tenant,
                       struct conv_meta *out, int *got, struct stale *s)
{
    char keys[VALKEY_MAX_PIPELINE][KEY_MAX];
    const char *argv[VALKEY_MAX_PIPELINE][2 + MF_N];
    struct valkey_cmd cmds[VALKEY_MAX_PIPELINE];
    redisReply *rep[VALKEY_MAX_PIPELINE];
    bool ok[VALKEY_MAX_PIPELINE];
    int nc = 0;
    *got = 0;
    for (int i = 0; i < k; i++) {
        const redisReply *e = ids[i];
        ok[i] = e->type == REDIS_REPLY_STRING && e->len <= CONV_ID_MAX &&
                !memchr(e->str, '\0', e->len) && conv_id_check(e->str) == CONV_ID_STORED;
        if (!ok[i]) {
            /* Not an id we wrote: drop it if it fits the stale list. */
            if (e->type == REDIS_REPLY_STRING && e->len <= CONV_ID_MAX &&
                !memchr(e->str, '\0', e->len) && s->n < LIST_SCAN_MAX) {
                memcpy(s->ids[s->n], e->str, e->len);
                s->ids[s->n++][e->len] = '\0';
            }
            continue;
        }
        char lk[KEY_MAX];
        conv_keys(e->str, keys[nc], lk);
        argv[nc][0] = "HMGET";
        argv[nc][1] = keys[nc];
        for (int f = 0; f < MF_N; f++)
            argv[nc][2 + f] = meta_fields[f];
        cmds[nc] = (struct valkey_cmd){.argc = 2 + MF_N, .argv = argv[nc]};
        nc++;
    }
    if (nc == 0)
        return AXON_OK;
    int rc = valkey_pipeline(nc, cmds, rep);
    if (rc == AXON_EIO)
        return rc;
    for (int i = 0, c = 0; i < k; i++) {
        if (!ok[i])
            continue;
        const redisReply *h = rep[c++];
        if (h->type != REDIS_REPLY_ARRAY || h->elements != MF_N)
            continue; /* WRONGTYPE: not ours to judge or remove */
        const redisReply *f[MF_N];
        for (int j = 0; j < MF_N; j++)
            f[j] = h->element[j];
        int mrc = meta_parse(f, ids[i]->str, tenant, &out[*got]);
        if (mrc == AXON_OK)
            (*got)++;
        else if (mrc == AXON_ENOTFOUND && s->n < LIST_SCAN_MAX)
            snprintf(s->ids[s->n++], CONV_ID_MAX + 1, "%s", ids[i]->str);
    }
    valkey_free_replies(nc, rep);
    return AXON_OK;
}

int conv_list(const char *tenant, int limit, const char *after, struct conv_meta *out, int *n,
              bool *has_more)
{
    *n = 0;
    *has_more = false;
    if (!tenant_ok(tenant) || limit < 1 || limit > CONV_LIST_MAX ||
        (after && conv_id_check(after) != CONV_ID_STORED))
        return AXON_EINVAL;
    char tk[KEY_MAX];
    tenant_key(tenant, tk);
    redisReply *r = NULL;
    long long start = 0;
    int rc;
    if (after) {
        rc = valkey_command(&r, "ZREVRANK %s %s", tk, after);
        if (!rc && r->type == REDIS_REPLY_INTEGER)
            start = r->integer + 1;
        else if (!rc)
            rc = AXON_ENOTFOUND;
        freeReplyObject(r);
        if (rc)
            return rc;
    }
    struct stale s = {xcalloc(LIST_SCAN_MAX, sizeof *s.ids), 0};
    /* One more live entry than asked for tells has_more exactly. */
    struct conv_meta *buf = xcalloc(VALKEY_MAX_PIPELINE, sizeof *buf);
    int scanned = 0;
    rc = AXON_OK;
    while (!rc && !*has_more) {
        if (scanned >= LIST_SCAN_MAX) {
            *has_more = true; /* stale entries were removed: the next call gets further */
            break;
        }
        long long want = limit + 1 - *n;
        if (want > VALKEY_MAX_PIPELINE)
            want = VALKEY_MAX_PIPELINE;
        rc = valkey_command(&r, "ZREVRANGE %s %lld %lld", tk, start, start + want - 1);
        if (!rc && r->type != REDIS_REPLY_ARRAY)
            rc = AXON_EPROTO;
        if (rc || r->elements == 0) {
            freeReplyObject(r);
            break;
        }
        int k = (int)r->elements, got = 0;
        rc = fetch_metas((const redisReply *const *)r->element, k, tenant, buf, &got, &s);
        for (int i = 0; !rc && i < got; i++) {
            if (*n < limit)
                out[(*n)++] = buf[i];
            else
                *has_more = true;
        }
        freeReplyObject(r);
        start += k;
        scanned += k;
        if (k < want)
            break; /* the index has no more */
    }
    free(buf);
    if (!rc && s.n)
        stale_remove(tk, &s);
    free(s.ids);
    if (rc)
        *n = 0;
    return rc;
}

/* ---- active count ---------------------------------------------------------- */

/* KEYS, ARGV and the reply: src/lua/conv_active.lua. */
static struct valkey_script active_script = {.src = AXON_LUA_CONV_ACTIVE};

int conv_active_count(long long *out)
{
    *out = 0;
    const char *keys[] = {ACTIVE_KEY};
    redisReply *r = NULL;
    int rc = valkey_eval(&active_script, &r, 1, keys, 0, NULL, NULL);
    if (!rc && r->type != REDIS_REPLY_INTEGER)
        rc = AXON_EPROTO;
    if (!rc)
        *out = r->integer;
    freeReplyObject(r);
    return rc;
}

/* ---- replay budget --------------------------------------------------------- */

const char *conv_message_text(json_object *msg, size_t *len)
{
    return json_object_to_json_string_length(msg, CONV_MSG_FLAGS, len);
}

size_t conv_message_bytes(json_object *msg)
{
    size_t len = 0;
    json_object *holder;
    (void)print_once(msg, &holder, &len);
    json_object_put(holder);
    return len;
}

static bool role_is(json_object *m, const char *role)
{
    json_object *v;
    return json_object_object_get_ex(m, "role", &v) && json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), role) == 0;
}

static bool is_system(json_object *m)
{
    return role_is(m, "system") || role_is(m, "developer");
}

bool conv_has_system(json_object *history, json_object *msg)
{
    if (!is_system(msg))
        return false;
    size_t n;
    const char *t = conv_message_text(msg, &n);
    for (size_t i = 0; i < json_object_array_length(history); i++) {
        json_object *h = json_object_array_get_idx(history, i);
        size_t hn;
        const char *ht = is_system(h) ? conv_message_text(h, &hn) : NULL;
        if (ht && hn == n && !memcmp(ht, t, n))
            return true;
    }
    return false;
}

int conv_fit(json_object *history, size_t budget_bytes)
{
    size_t len = json_object_array_length(history), total = 0, keep = 0;
    for (size_t i = 0; i < len; i++)
        total += conv_message_bytes(json_object_array_get_idx(history, i));
    while (keep < len) {
        json_object *m = json_object_array_get_idx(history, keep);
        if (!is_system(m))
            break;
        keep++;
    }
    int dropped = 0;
    while (total > budget_bytes && keep < len) {
        /* The oldest turn: from keep up to the next user message. */
        size_t end = keep + 1;
        while (end < len && !role_is(json_object_array_get_idx(history, end), "user"))
            end++;
        for (size_t i = keep; i < end; i++)
            total -= conv_message_bytes(json_object_array_get_idx(history, i));
        if (json_object_array_del_idx(history, keep, end - keep) != 0)
            break;
        len -= end - keep;
        dropped++;
    }
    return dropped;
}
