/* test_conv.c - the conversation store against a real redis-server that each
 * test starts on a free port: ids, byte-exact storage, owner checks, TTLs,
 * caps, delete, listing, the active count, concurrent turns, Valkey down,
 * replay trimming, the three HTTP routes, and valkey_pipeline/valkey_eval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>

#include "buf.h"
#include "conv.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "sha256.h"
#include "valkey.h"

#include "redis_srv.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
static const char T1[] = "0123456789abcdef", T2[] = "fedcba9876543210";

/* ---- helpers ---------------------------------------------------------------- */

static void connect_srv(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    /* Generous: this VM stalls loopback replies for up to 50 ms at times. */
    valkey_init(&a, 1000);
}

/* config_defaults, then the store's settings. Kept until the test's
 * teardown, which frees them (the defaults own strings). */
static struct axon_config confs[4];
static int n_confs;

static struct axon_config *conf(int ttl_s, int max_messages, size_t max_bytes)
{
    assert_true(n_confs < 4);
    struct axon_config *c = &confs[n_confs++];
    config_defaults(c);
    c->conv_ttl_s = ttl_s;
    c->conv_max_messages = max_messages;
    c->conv_max_bytes = max_bytes;
    return c;
}

/* conv_load's settings: only the timeout, as connect_srv's. */
static const struct axon_config load_cfg = {.valkey_timeout_ms = 1000};

static int free_confs(void **state)
{
    (void)state;
    while (n_confs > 0)
        config_free(&confs[--n_confs]);
    return 0;
}

static int teardown_all(void **state)
{
    free_confs(state);
    return teardown(state);
}

static json_object *js(const char *text)
{
    json_object *o = NULL;
    assert_int_equal(jsonv_parse(text, strlen(text), JSONV_MAX_DEPTH, &o), 0);
    return o;
}

static void new_id(char *id)
{
    conv_new_id(id, true);
}

static long long vk_int(const char *fmt, const char *a, const char *b)
{
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, fmt, a, b), 0);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    freeReplyObject(r);
    return v;
}

static long long pttl(const char *key)
{
    return vk_int("PTTL %s%s", key, "");
}

static bool zhas(const char *key, const char *member)
{
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "ZSCORE %s %s", key, member), 0);
    bool has = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    return has;
}

static void key_of(char *dst, size_t n, const char *id, const char *what)
{
    snprintf(dst, n, "axon:{c:%s}:%s", id, what);
}

/* A one-turn conversation: one user message saying text, then an answer. */
static void make_conv(const struct axon_config *c, char *id, const char *tenant, const char *text)
{
    new_id(id);
    json_object *cm = json_object_new_array();
    json_object *u = json_object_new_object();
    json_object_object_add(u, "role", json_object_new_string("user"));
    json_object_object_add(u, "content", json_object_new_string(text));
    json_object_array_add(cm, u);
    json_object *a = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    int arc = conv_append(c, id, tenant, "gpt-4o", cm, a, true);
    if (arc)
        fail_msg("append: %d %s", arc, valkey_strerror());
    json_object_put(cm);
    json_object_put(a);
}

static long long load_count(const char *id, const char *tenant)
{
    json_object *m = NULL;
    struct conv_meta meta;
    int rc = conv_load(&load_cfg, id, tenant, &m, &meta);
    if (rc)
        return rc;
    long long n = (long long)json_object_array_length(m);
    assert_int_equal(n, meta.message_count);
    json_object_put(m);
    return n;
}

/* ---- ids -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ids_are_random_and_checked(void **state)
{
    (void)state;
    enum { N = 1000 };
    static char ids[N][CONV_ID_MAX + 1];
    for (int i = 0; i < N; i++) {
        new_id(ids[i]);
        assert_int_equal(strlen(ids[i]), 5 + CONV_ID_HEX);
        assert_memory_equal(ids[i], "conv-", 5);
        assert_int_equal(strspn(ids[i] + 5, "0123456789abcdef"), CONV_ID_HEX);
        assert_int_equal(conv_id_check(ids[i]), CONV_ID_STORED);
    }
    qsort(ids, N, sizeof ids[0], cmp_str);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);

    char u[CONV_ID_MAX + 1];
    conv_new_id(u, false);
    assert_int_equal(strlen(u), CONV_ID_MAX);
    assert_memory_equal(u, "conv-unstored-", 14);
    assert_int_equal(conv_id_check(u), CONV_ID_UNSTORED);

    const char *hex = "0123456789abcdef0123456789abcdef";
    char good[64], buf[128];
    snprintf(good, sizeof good, "conv-%s", hex);
    assert_int_equal(conv_id_check(good), CONV_ID_STORED);
    static const char *const bad_fmt[] = {
        "conv-%.31s",             /* short */
        "conv-%s0",               /* long */
        "conv-%s}:x",             /* key injection */
        "conv-%.29s}:x",          /* injection at the right length */
        "CONV-%s",                /* prefix case */
        "conv_%s",                /* prefix */
        "conv-unstored-%.31s",    /* short unstored */
        "conv-unstored-%s ",      /* trailing space */
        " conv-%s",               /* leading space */
        "%s",                     /* no prefix */
        "conv-unstored-%.31sx",   /* non-hex */
    };
    for (size_t i = 0; i < sizeof bad_fmt / sizeof bad_fmt[0]; i++) {
        snprintf(buf, sizeof buf, bad_fmt[i], hex);
        if (conv_id_check(buf) != CONV_ID_BAD)
            fail_msg("accepted %s", buf);
    }
    assert_int_equal(conv_id_check("conv-0123456789ABCDEF0123456789abcdef"), CONV_ID_BAD);
    assert_int_equal(conv_id_check("conv-0123456789abcdeg0123456789abcdef"), CONV_ID_BAD);
    assert_int_equal(conv_id_check("conv-0123456789abcde\n0123456789abcdef"), CONV_ID_BAD);
    assert_int_equal(conv_id_check(""), CONV_ID_BAD);
    assert_int_equal(conv_id_check(NULL), CONV_ID_BAD);
    char longer[4096];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer, good, strlen(good));
    assert_int_equal(conv_id_check(longer), CONV_ID_BAD);
}

/* Nothing with a bad id or tenant reaches the server (none is running here). */
static void bad_ids_and_tenants_are_refused_before_valkey(void **state)
{
    (void)state;
    struct axon_config *c = conf(60, 100, 1 << 20);
    json_object *m = NULL, *arr = js("[{\"role\":\"user\",\"content\":\"x\"}]");
    struct conv_meta meta;
    const char *inj = "conv-0123456789abcdef0123456789abcd}:x";
    char good[CONV_ID_MAX + 1], unstored[CONV_ID_MAX + 1];
    new_id(good);
    conv_new_id(unstored, false);
    assert_int_equal(conv_load(&load_cfg, inj, T1, &m, &meta), AXON_EINVAL);
    assert_null(m);
    assert_int_equal(conv_load(&load_cfg, unstored, T1, &m, &meta), AXON_EINVAL);
    assert_int_equal(conv_delete(inj, T1), AXON_EINVAL);
    assert_int_equal(conv_append(c, inj, T1, "m", arr, NULL, true), AXON_EINVAL);
    static const char *const tenants[] = {"", "ABCDEF", "abc}:x", "0123 ",
                                          "00000000000000000000000000000000"
                                          "000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof tenants / sizeof tenants[0]; i++) {
        assert_int_equal(conv_load(&load_cfg, good, tenants[i], &m, &meta), AXON_EINVAL);
        assert_int_equal(conv_append(c, good, tenants[i], "m", arr, NULL, true), AXON_EINVAL);
        assert_int_equal(conv_delete(good, tenants[i]), AXON_EINVAL);
    }
    assert_int_equal(conv_load(&load_cfg, good, NULL, &m, &meta), AXON_EINVAL);
    int n;
    bool more;
    struct conv_meta metas[2];
    assert_int_equal(conv_list("X", 2, NULL, metas, &n, &more), AXON_EINVAL);
    assert_int_equal(conv_list(T1, 0, NULL, metas, &n, &more), AXON_EINVAL);
    assert_int_equal(conv_list(T1, CONV_LIST_MAX + 1, NULL, metas, &n, &more), AXON_EINVAL);
    assert_int_equal(conv_list(T1, 2, inj, metas, &n, &more), AXON_EINVAL);
    /* A TTL that is not positive must never store keys that live forever. */
    struct axon_config *z = conf(0, 100, 1 << 20);
    assert_int_equal(conv_append(z, good, T1, "m", arr, NULL, true), AXON_EINVAL);
    /* Not a message object, or no message at all. */
    json_object *empty = js("[]"), *notobj = js("[\"x\"]");
    assert_int_equal(conv_append(c, good, T1, "m", empty, NULL, true), AXON_EINVAL);
    assert_int_equal(conv_append(c, good, T1, "m", notobj, NULL, true), AXON_EINVAL);
    char model[CONV_MODEL_MAX + 2];
    memset(model, 'm', sizeof model - 1);
    model[sizeof model - 1] = '\0';
    assert_int_equal(conv_append(c, good, T1, model, arr, NULL, true), AXON_EINVAL);
    json_object_put(empty);
    json_object_put(notobj);
    json_object_put(arr);
}

/* ---- append and load ---------------------------------------------------------- */

static const char *const turn1[] = {
    "{\"role\":\"system\",\"content\":\"Be brief / exact.\"}",
    "{\"role\":\"user\",\"content\":\"h\\u00e9llo \xe2\x98\x83 \xf0\x9f\x98\x80 a/b \\\"q\\\" "
    "\\\\ \\n\\t\\u0001\",\"name\":\"x\",\"extra\":{\"deep\":[1,2.5,-3e10,true,null]}}",
};
static const char turn1_answer[] =
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":[1,{\\\"b\\\":"
    "null}]}\"}}],\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"hmm\\nyes\","
    "\"signature\":\"EqQBCgIYAhIM/+==\"},{\"type\":\"redacted_thinking\",\"data\":\"abc=\"}]}";
static const char *const turn2[] = {
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}",
    "{\"role\":\"assistant\",\"content\":\"It is 42.\"}",
};

static void append_then_load_is_byte_exact(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1];
    new_id(id);
    json_object *cm = json_object_new_array();
    for (int i = 0; i < 2; i++)
        json_object_array_add(cm, js(turn1[i]));
    json_object *ans = js(turn1_answer);
    long long t0 = (long long)time(NULL);
    assert_int_equal(conv_append(c, id, T1, "claude-sonnet-4-6", cm, ans, true), 0);

    /* What was stored is json-c's plain print, one entry per message. */
    const char *want[5];
    size_t want_len[5];
    want[0] = json_object_to_json_string_ext(json_object_array_get_idx(cm, 0), FLAGS);
    want[1] = json_object_to_json_string_ext(json_object_array_get_idx(cm, 1), FLAGS);
    want[2] = json_object_to_json_string_ext(ans, FLAGS);
    assert_non_null(strstr(want[0], " / "));
    assert_null(strstr(want[2], "\\/")); /* slashes left alone */
    assert_non_null(strstr(want[1], "\xe2\x98\x83"));
    char mk[96], lk[96];
    key_of(mk, sizeof mk, id, "meta");
    key_of(lk, sizeof lk, id, "msgs");
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "LRANGE %s 0 -1", lk), 0);
    assert_int_equal(r->elements, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->element[i]->len, strlen(want[i]));
        assert_memory_equal(r->element[i]->str, want[i], strlen(want[i]));
    }
    freeReplyObject(r);

    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 3);
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        want_len[i] = strlen(want[i]);
        total += want_len[i];
        assert_string_equal(json_object_to_json_string_ext(json_object_array_get_idx(m, i), FLAGS),
                            want[i]);
    }
    assert_string_equal(meta.id, id);
    assert_string_equal(meta.model, "claude-sonnet-4-6");
    assert_int_equal(meta.message_count, 3);
    assert_int_equal(meta.bytes, (long long)total);
    assert_true(meta.created >= t0 - 2 && meta.created <= t0 + 2);
    assert_int_equal(meta.updated, meta.created);
    json_object_put(m);

    /* Continue: the model given later does not replace the first. */
    json_object *cm2 = json_object_new_array();
    json_object_array_add(cm2, js(turn2[0]));
    json_object *ans2 = js(turn2[1]);
    assert_int_equal(conv_append(c, id, T1, "other-model", cm2, ans2, false), 0);
    want[3] = json_object_to_json_string_ext(json_object_array_get_idx(cm2, 0), FLAGS);
    want[4] = json_object_to_json_string_ext(ans2, FLAGS);
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(json_object_to_json_string_ext(json_object_array_get_idx(m, i), FLAGS),
                            want[i]);
    assert_int_equal(meta.message_count, 5);
    assert_int_equal(meta.bytes, (long long)(total + strlen(want[3]) + strlen(want[4])));
    assert_string_equal(meta.model, "claude-sonnet-4-6");
    assert_true(meta.updated >= meta.created);
    json_object_put(m);

    /* A turn without an answer (assistant NULL) is stored too. */
    assert_int_equal(conv_append(c, id, T1, "m", cm2, NULL, false), 0);
    assert_int_equal(load_count(id, T1), 6);

    /* The index entries. */
    char tk[96];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    assert_true(zhas(tk, id));
    assert_true(zhas("axon:{g}:active", id));

    /* A record that no longer parses is refused, not half-returned, and
     * told from a bad id (AXON_EINVAL: a 400) as not ours (a 500). */
    assert_int_equal(vk_int("RPUSH %s %s", lk, "{not json"), 7);
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), AXON_EPROTO);
    assert_null(m);

    /* A missing conversation. */
    char other[CONV_ID_MAX + 1];
    new_id(other);
    assert_int_equal(conv_load(&load_cfg, other, T1, &m, &meta), AXON_ENOTFOUND);
    assert_int_equal(conv_append(c, other, T1, "m", cm2, ans2, false), AXON_ENOTFOUND);
    assert_int_equal(vk_int("EXISTS %s%s", lk, "") == 1, 1);
    key_of(lk, sizeof lk, other, "msgs");
    assert_int_equal(vk_int("EXISTS %s%s", lk, ""), 0);

    json_object_put(cm);
    json_object_put(ans);
    json_object_put(cm2);
    json_object_put(ans2);
}

/* Many messages in one turn: more than VALKEY_MAX_ARGS, and more than Lua's
 * unpack() takes at once. */
static void a_long_history_as_one_new_turn(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 20000, 8u << 20);
    char id[CONV_ID_MAX + 1];
    new_id(id);
    json_object *cm = json_object_new_array();
    for (int i = 0; i < 9000; i++) {
        char t[64];
        snprintf(t, sizeof t, "{\"role\":\"user\",\"content\":\"m%d\"}", i);
        json_object_array_add(cm, js(t));
    }
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"done\"}");
    assert_int_equal(conv_append(c, id, T1, "m", cm, ans, true), 0);
    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 9001);
    assert_int_equal(meta.message_count, 9001);
    json_object *v;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(m, 8999), "content", &v));
    assert_string_equal(json_object_get_string(v), "m8999");
    json_object_put(m);
    json_object_put(cm);
    json_object_put(ans);
}

/* A history over CONV_READ_PART_BYTES comes in parts of about that size, a
 * round trip each (so Valkey serves others between them), whole and in
 * order, byte for byte; a small one still costs one round trip. */
static void a_large_history_is_read_in_parts(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 1000, 8u << 20);
    char id[CONV_ID_MAX + 1];
    new_id(id);
    /* 3 MiB: 120 user/assistant pairs of about 12.8 KiB. */
    size_t len = 12800;
    char *text = malloc(len + 16);
    assert_non_null(text);
    json_object *cm = json_object_new_array();
    for (int i = 0; i < 240; i++) {
        int at = snprintf(text, 16, "%d ", i);
        memset(text + at, 'y', len);
        text[at + (int)len] = '\0';
        json_object *o = json_object_new_object();
        json_object_object_add(o, "role", json_object_new_string(i % 2 ? "assistant" : "user"));
        json_object_object_add(o, "content", json_object_new_string(text));
        json_object_array_add(cm, o);
    }
    free(text);
    json_object *ans = js("{\"role\":\"user\",\"content\":\"last\"}");
    assert_int_equal(conv_append(c, id, T1, "m", cm, ans, true), 0);

    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0); /* loads the script */
    json_object_put(m);
    long long reads = srv_reads();
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    long long trips = srv_reads() - reads - 1;
    print_message("  %lld bytes in %lld round trips\n", meta.bytes, trips);
    assert_true(meta.bytes > 3 * 1000 * 1000);
    /* Parts of 256 KiB (not the macro: a part as large as the history
     * must fail this): the script, then 12 parts or so. */
    assert_true(trips >= 1 + 10 && trips <= 1 + 14);
    assert_int_equal(meta.message_count, 241);
    assert_int_equal(json_object_array_length(m), 241);
    for (int i = 0; i < 240; i++) {
        json_object *got = json_object_array_get_idx(m, i);
        assert_string_equal(json_object_to_json_string_ext(got, FLAGS),
                            json_object_to_json_string_ext(json_object_array_get_idx(cm, i), FLAGS));
    }
    json_object *v;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(m, 240), "content", &v));
    assert_string_equal(json_object_get_string(v), "last");
    json_object_put(m);

    /* A small one: one round trip. */
    char small[CONV_ID_MAX + 1];
    make_conv(c, small, T1, "short");
    reads = srv_reads();
    assert_int_equal(load_count(small, T1), 2);
    assert_int_equal(srv_reads() - reads - 1, 1);
    json_object_put(cm);
    json_object_put(ans);
}

/* ---- owners, TTL, caps ---------------------------------------------------------- */

static void another_tenant_sees_nothing(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1], mk[96], lk[96];
    make_conv(c, id, T1, "secret");
    key_of(mk, sizeof mk, id, "meta");
    key_of(lk, sizeof lk, id, "msgs");
    assert_int_equal(vk_int("EXPIRE %s %s", mk, "500"), 1);
    assert_int_equal(vk_int("EXPIRE %s %s", lk, "500"), 1);

    json_object *m = NULL, *cm = js("[{\"role\":\"user\",\"content\":\"x\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"y\"}");
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T2, &m, &meta), AXON_ENOTFOUND);
    assert_null(m);
    assert_int_equal(conv_append(c, id, T2, "m", cm, ans, false), AXON_ENOTFOUND);
    assert_int_equal(conv_append(c, id, T2, "m", cm, ans, true), AXON_ENOTFOUND);
    assert_int_equal(conv_delete(id, T2), AXON_ENOTFOUND);
    int n;
    bool more;
    struct conv_meta metas[4];
    assert_int_equal(conv_list(T2, 4, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    assert_int_equal(conv_list(T2, 4, id, metas, &n, &more), AXON_ENOTFOUND);

    /* Nothing changed, not even the TTL. */
    assert_int_equal(load_count(id, T1), 2);
    assert_true(pttl(mk) <= 500000 && pttl(lk) <= 500000);
    char tk[96];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T2);
    assert_int_equal(vk_int("EXISTS %s%s", tk, ""), 0);
    json_object_put(cm);
    json_object_put(ans);
}

static void ttl_is_set_slides_and_expires(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(100, 100, 1 << 20);
    /* First, one that lives a second (the tenant index takes the TTL of the
     * latest turn, so the long one comes after). */
    struct axon_config *s1 = conf(1, 100, 1 << 20);
    char gone[CONV_ID_MAX + 1];
    make_conv(s1, gone, T1, "short");
    char id[CONV_ID_MAX + 1], mk[96], lk[96], tk[96];
    make_conv(c, id, T1, "hi");
    key_of(mk, sizeof mk, id, "meta");
    key_of(lk, sizeof lk, id, "msgs");
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    assert_true(pttl(mk) > 98000 && pttl(mk) <= 100000);
    assert_true(pttl(lk) > 98000 && pttl(lk) <= 100000);
    assert_true(pttl(tk) > 98000 && pttl(tk) <= 100000);

    /* Shorten both, then a turn slides them back to the full TTL. */
    assert_int_equal(vk_int("EXPIRE %s %s", mk, "5"), 1);
    assert_int_equal(vk_int("EXPIRE %s %s", lk, "5"), 1);
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"again\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    assert_int_equal(conv_append(c, id, T1, "m", cm, ans, false), 0);
    assert_true(pttl(mk) > 98000 && pttl(lk) > 98000);

    /* A short TTL really expires: load, list and the active count agree. */
    long long active = 0;
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 2);
    sleep_ms(1100);
    assert_int_equal(load_count(gone, T1), AXON_ENOTFOUND);
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 1);
    assert_true(zhas(tk, gone)); /* still indexed, until a listing looks */
    struct conv_meta metas[4];
    int n;
    bool more;
    assert_int_equal(conv_list(T1, 4, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_string_equal(metas[0].id, id);
    assert_false(more);
    assert_false(zhas(tk, gone));
    json_object_put(cm);
    json_object_put(ans);
}

static void caps_refuse_and_write_nothing(void **state)
{
    connect_srv(state);
    char id[CONV_ID_MAX + 1], mk[96], lk[96], tk[96];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    json_object *u = js("[{\"role\":\"user\",\"content\":\"0123456789\"}]"); /* 38 bytes */
    json_object *u3 = js("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
                         "\"b\"},{\"role\":\"user\",\"content\":\"c\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    assert_int_equal(conv_message_bytes(json_object_array_get_idx(u, 0)), 38);

    /* Messages: 4 allowed. */
    struct axon_config *c = conf(600, 4, 1 << 20);
    new_id(id);
    key_of(mk, sizeof mk, id, "meta");
    key_of(lk, sizeof lk, id, "msgs");
    json_object *u4 = js("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
                         "\"b\"},{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"user\","
                         "\"content\":\"d\"}]");
    assert_int_equal(conv_append(c, id, T1, "m", u4, ans, true), AXON_ETOOBIG); /* 5 in C */
    assert_int_equal(vk_int("EXISTS %s %s", mk, lk), 0);
    assert_int_equal(conv_append(c, id, T1, "m", u3, ans, true), 0);
    assert_int_equal(conv_append(c, id, T1, "m", u, ans, false), AXON_ETOOBIG); /* 6 in Lua */
    assert_int_equal(load_count(id, T1), 4);
    assert_int_equal(vk_int("LLEN %s%s", lk, ""), 4);

    /* Bytes: the client's messages must fit; the answer may pass the cap. */
    struct axon_config *b = conf(600, 100, 100);
    json_object *big = json_object_new_object();
    char text[500];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    json_object_object_add(big, "role", json_object_new_string("assistant"));
    json_object_object_add(big, "content", json_object_new_string(text));
    char id2[CONV_ID_MAX + 1], mk2[96], lk2[96];
    new_id(id2);
    key_of(mk2, sizeof mk2, id2, "meta");
    key_of(lk2, sizeof lk2, id2, "msgs");
    json_object *u2 = js("[{\"role\":\"user\",\"content\":\"0123456789\"},{\"role\":\"user\","
                         "\"content\":\"0123456789\"},{\"role\":\"user\",\"content\":"
                         "\"0123456789\"}]"); /* 114 bytes */
    assert_int_equal(conv_append(b, id2, T1, "m", u2, big, true), AXON_ETOOBIG); /* in C */
    assert_int_equal(vk_int("EXISTS %s %s", mk2, lk2), 0);
    assert_false(zhas(tk, id2));
    assert_int_equal(conv_append(b, id2, T1, "m", u, big, true), 0); /* 38 + 531 */
    struct conv_meta meta;
    json_object *m = NULL;
    assert_int_equal(conv_load(&load_cfg, id2, T1, &m, &meta), 0);
    assert_true(meta.bytes > 100);
    json_object_put(m);
    long long bytes = meta.bytes;
    assert_int_equal(conv_append(b, id2, T1, "m", u, ans, false), AXON_ETOOBIG); /* in Lua */
    assert_int_equal(conv_load(&load_cfg, id2, T1, &m, &meta), 0);
    assert_int_equal(meta.bytes, bytes);
    assert_int_equal(meta.message_count, 2);
    json_object_put(m);

    json_object_put(u);
    json_object_put(u2);
    json_object_put(u3);
    json_object_put(u4);
    json_object_put(ans);
    json_object_put(big);
}

static void create_on_an_existing_id_fails(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1];
    make_conv(c, id, T1, "first");
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"second\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    assert_int_equal(conv_append(c, id, T1, "m", cm, ans, true), AXON_ENOTFOUND);
    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 2);
    assert_string_equal(meta.model, "gpt-4o");
    json_object_put(m);
    json_object_put(cm);
    json_object_put(ans);
}

static void delete_removes_keys_and_index_entries(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1], keep[CONV_ID_MAX + 1], mk[96], lk[96], tk[96];
    make_conv(c, id, T1, "bye");
    make_conv(c, keep, T1, "stay");
    key_of(mk, sizeof mk, id, "meta");
    key_of(lk, sizeof lk, id, "msgs");
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    assert_int_equal(conv_delete(id, T1), 0);
    assert_int_equal(vk_int("EXISTS %s %s", mk, lk), 0);
    assert_false(zhas(tk, id));
    assert_false(zhas("axon:{g}:active", id));
    assert_true(zhas(tk, keep));
    assert_int_equal(conv_delete(id, T1), AXON_ENOTFOUND);
    assert_int_equal(load_count(id, T1), AXON_ENOTFOUND);
    assert_int_equal(load_count(keep, T1), 2);
    long long active;
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 1);
}

/* A request's last round trip, as chat.c makes it: the turn stored, both
 * indexes updated and the session released, in one round trip (counted by
 * us and by the server). A turn refused because its conversation was
 * deleted meanwhile leaves no index entry behind. */
static void append_and_release_share_one_round_trip(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    c->pool_keep_ms = 0; /* the release goes to the registry (a kept one adds nothing: pool.h) */
    char pool[POOL_NAME_LEN + 1], id[CONV_ID_MAX + 1], tk[96];
    pool_name(pool, "http://upstream.test", "ANTHROPIC_API_KEY");
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"hi\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"hello\"}");
    for (int round = 0; round < 2; round++) { /* round 0 loads the scripts */
        struct pool_lease l;
        assert_int_equal(pool_acquire(c, pool, &l, NULL, NULL), 0);
        conv_new_id(id, true);
        struct valkey_batch b = {0};
        struct conv_append_op ap;
        struct pool_release_op rel;
        long long reads = srv_reads();
        unsigned long ours = valkey_round_trips();
        assert_true(pool_server_now_ms(&l) > 0);
        conv_append_add(c, id, T1, "gpt-4o", cm, ans, true, pool_server_now_ms(&l), &ap, &b);
        pool_release_add(c, &l, POOL_DONE, &rel, &b);
        /* A new conversation: the create script, the index; the release. */
        assert_int_equal(b.n, 1 + ap.index_n + 1);
        (void)valkey_batch_run(&b);
        assert_int_equal(conv_append_done(&ap, &b), 0);
        bool recycled = true;
        assert_int_equal(pool_release_done(&rel, &b, &recycled), 0);
        assert_false(recycled);
        valkey_batch_free(&b);
        if (round == 1) {
            assert_int_equal(valkey_round_trips() - ours, 1);
            assert_int_equal(srv_reads() - reads - 1, 1);
        }
        assert_int_equal(load_count(id, T1), 2);
        assert_true(zhas(tk, id));
        assert_true(zhas("axon:{g}:active", id));
        struct pool_stats ps;
        assert_int_equal(pool_stats(c, pool, &ps), 0);
        assert_int_equal(ps.busy, 0);
        assert_int_equal(ps.releases, round + 1);
    }
    /* Deleted between its load and its store: refused, and not listed. */
    assert_int_equal(conv_delete(id, T1), 0);
    struct valkey_batch b = {0};
    struct conv_append_op ap;
    conv_append_add(c, id, T1, "gpt-4o", cm, ans, false, 0, &ap, &b);
    (void)valkey_batch_run(&b);
    assert_int_equal(conv_append_done(&ap, &b), AXON_ENOTFOUND);
    valkey_batch_free(&b);
    assert_false(zhas(tk, id));
    assert_false(zhas("axon:{g}:active", id));
    assert_int_equal(load_count(id, T1), AXON_ENOTFOUND);
    json_object_put(cm);
    json_object_put(ans);
}

/* A field of a hash, or "" (for comparing two conversations' meta). */
static void hfield(const char *key, const char *field, char *dst, size_t n)
{
    redisReply *r;
    assert_int_equal(valkey_command(&r, "HGET %s %s", key, field), 0);
    snprintf(dst, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static long long server_ms(void)
{
    long long ms;
    assert_int_equal(valkey_server_time_ms(&ms), 0);
    return ms;
}

/* One store through the batch API, as chat.c does it: its result, and
 * (wait_ms not NULL) how long the batch was to wait for its replies. */
static int store(const struct axon_config *c, const char *id, json_object *cm, json_object *ans,
                 bool create, long long now_ms, int expect_cmds, long long *wait_ms)
{
    struct valkey_batch b = {0};
    struct conv_append_op ap;
    conv_append_add(c, id, T1, "gpt-4o", cm, ans, create, now_ms, &ap, &b);
    /* The index trims go along with one store in CONV_TRIM_ONE_IN. */
    if (now_ms > 0)
        assert_int_equal(ap.index_n,
                         CONV_INDEX_CMDS + (conv_index_trims(now_ms) ? CONV_INDEX_TRIMS : 0));
    assert_int_equal(b.n, expect_cmds + ap.index_n - CONV_INDEX_CMDS);
    if (wait_ms)
        *wait_ms = b.wait_ms;
    (void)valkey_batch_run(&b);
    int rc = conv_append_done(&ap, &b);
    valkey_batch_free(&b);
    return rc;
}

/* The index trims (what expired) ride on one store in CONV_TRIM_ONE_IN,
 * chosen by the store's server time: the others send only the ZADDs and
 * the EXPIRE, and leave an expired entry in place (the listing and the
 * /stats count skip it) until a store that trims. */
static void index_trims_ride_on_one_store_in_32(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"hi\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    char tk[96], id[CONV_ID_MAX + 1];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    long long now = server_ms() / CONV_TRIM_ONE_IN * CONV_TRIM_ONE_IN;
    const char *gone = "conv-00000000000000000000000000000000";
    redisReply *r;
    assert_int_equal(valkey_command(&r, "ZADD %s %lld %s", tk, now - 700000, gone), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "ZADD axon:{g}:active %lld %s", now - 100000, gone), 0);
    freeReplyObject(r);
    new_id(id);
    assert_int_equal(store(c, id, cm, ans, true, now + 1, 1 + CONV_INDEX_CMDS, NULL), 0);
    assert_true(zhas(tk, gone) && zhas("axon:{g}:active", gone)); /* not trimmed */
    long long active = 0;
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 1); /* but not counted (and the read trims it) */
    assert_false(zhas("axon:{g}:active", gone));
    struct conv_meta out[4];
    int n = 0;
    bool more = false;
    assert_int_equal(conv_list(T1, 4, NULL, out, &n, &more), 0);
    assert_int_equal(n, 1); /* nor listed */
    assert_int_equal(valkey_command(&r, "ZADD %s %lld %s", tk, now - 700000, gone), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "ZADD axon:{g}:active %lld %s", now - 100000, gone), 0);
    freeReplyObject(r);
    new_id(id);
    assert_int_equal(
        store(c, id, cm, ans, true, now, 1 + CONV_INDEX_CMDS, NULL), 0); /* + the trims */
    assert_false(zhas(tk, gone));
    assert_false(zhas("axon:{g}:active", gone));
    assert_true(zhas(tk, id) && zhas("axon:{g}:active", id));
    json_object_put(cm);
    json_object_put(ans);
}

/* A new conversation's record, from the create script (up to
 * CONV_FAST_MAX messages) and from the append script (more): the entries
 * byte for byte as json-c prints them, owner, model, count, bytes (their
 * sum), created = updated from the server's clock, both TTLs, both index
 * entries; it continues like any other, and only for its owner. */
static void new_conversation_record_from_either_script(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    json_object *turns[2] = {
        js("[{\"role\":\"system\",\"content\":\"be brief\"},"
           "{\"role\":\"user\",\"content\":\"caf\u00e9 \\\"q\\\" </b>\"}]"),
        json_object_new_array(),
    };
    for (int i = 0; i < CONV_FAST_MAX + 1; i++)
        json_object_array_add(turns[1], js("{\"role\":\"user\",\"content\":\"m\"}"));
    char tk[96];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    for (int k = 0; k < 2; k++) { /* 0: the create script, 1: the append script */
        char id[CONV_ID_MAX + 1], mk[128], lk[128], f[128];
        new_id(id);
        long long before = server_ms();
        assert_int_equal(store(c, id, turns[k], ans, true, before, 1 + CONV_INDEX_CMDS, NULL), 0);
        long long after = server_ms();
        key_of(mk, sizeof mk, id, "meta");
        key_of(lk, sizeof lk, id, "msgs");
        assert_true(pttl(mk) > 590000);
        assert_true(pttl(lk) > 590000);
        size_t n = json_object_array_length(turns[k]) + 1, bytes = 0;
        assert_int_equal(vk_int("LLEN %s%s", lk, ""), (long long)n);
        for (size_t i = 0; i < n; i++) {
            json_object *m = i + 1 < n ? json_object_array_get_idx(turns[k], i) : ans;
            size_t len;
            const char *want = json_object_to_json_string_length(
                m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            redisReply *r;
            assert_int_equal(valkey_command(&r, "LINDEX %s %d", lk, (int)i), 0);
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            assert_int_equal(r->len, len);
            assert_memory_equal(r->str, want, len);
            freeReplyObject(r);
            bytes += len;
        }
        hfield(mk, "owner", f, sizeof f);
        assert_string_equal(f, T1);
        hfield(mk, "model", f, sizeof f);
        assert_string_equal(f, "gpt-4o");
        hfield(mk, "message_count", f, sizeof f);
        assert_int_equal(strtoll(f, NULL, 10), (long long)n);
        hfield(mk, "bytes", f, sizeof f);
        assert_int_equal(strtoll(f, NULL, 10), (long long)bytes);
        hfield(mk, "created", f, sizeof f);
        long long created = strtoll(f, NULL, 10);
        assert_true(created >= before / 1000 && created <= after / 1000);
        hfield(mk, "updated", f, sizeof f);
        assert_int_equal(strtoll(f, NULL, 10), created);
        assert_true(zhas(tk, id));
        assert_true(zhas("axon:{g}:active", id));
        /* The same id again: refused, the record unchanged. */
        assert_int_equal(store(c, id, turns[0], ans, true, after, 1 + CONV_INDEX_CMDS, NULL),
                         AXON_ENOTFOUND);
        assert_int_equal(load_count(id, T1), (long long)n);
        /* It continues through the append script, for its owner only. */
        json_object *more = js("[{\"role\":\"user\",\"content\":\"more\"}]");
        assert_int_equal(conv_append(c, id, T1, "gpt-4o", more, ans, false), 0);
        assert_int_equal(load_count(id, T1), (long long)n + 2);
        assert_int_equal(conv_append(c, id, T2, "gpt-4o", more, ans, false), AXON_ENOTFOUND);
        json_object_put(more);
    }
    json_object_put(turns[0]);
    json_object_put(turns[1]);
    json_object_put(ans);
}

/* The store deadline (conv.h): a script that reaches the server later than
 * the Valkey timeout (plus the turn's size allowance) after now_ms writes
 * nothing, in both scripts, new or continued, meta included; on time it
 * stores. The batch waits for the replies a whole timeout past the
 * deadline. Without a clock reading (0), add reads the server's. */
static void store_after_its_deadline_writes_nothing(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    c->valkey_timeout_ms = 200; /* a small turn's deadline: now_ms + 200 */
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"hi\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"hello\"}");
    json_object *many = json_object_new_array();
    for (int i = 0; i < CONV_FAST_MAX + 1; i++)
        json_object_array_add(many, js("{\"role\":\"user\",\"content\":\"m\"}"));
    char id[CONV_ID_MAX + 1], mk[128], lk[128];
    long long w;
    /* New, by either script: late means not created. */
    json_object *news[2] = {cm, many};
    for (int k = 0; k < 2; k++) {
        new_id(id);
        assert_int_equal(store(c, id, news[k], ans, true, server_ms() - 400, 1 + CONV_INDEX_CMDS, &w),
                         AXON_ETIMEDOUT);
        assert_int_equal(w, 200 + 200);
        key_of(mk, sizeof mk, id, "meta");
        key_of(lk, sizeof lk, id, "msgs");
        assert_int_equal(vk_int("EXISTS %s %s", mk, lk), 0);
        /* On time (200 ms to spare): stored. */
        assert_int_equal(store(c, id, news[k], ans, true, server_ms(), 1 + CONV_INDEX_CMDS, &w), 0);
        assert_int_equal(load_count(id, T1), (long long)json_object_array_length(news[k]) + 1);
    }
    /* Continued: late means the history as it was, meta included. */
    char before[64], after[64];
    hfield(mk, "bytes", before, sizeof before);
    long long n = load_count(id, T1);
    assert_int_equal(store(c, id, cm, ans, false, server_ms() - 1000, 1 + CONV_INDEX_CMDS, &w), AXON_ETIMEDOUT);
    assert_int_equal(load_count(id, T1), n);
    hfield(mk, "bytes", after, sizeof after);
    assert_string_equal(before, after);
    /* No clock reading (0): one TIME round trip more, then stored. */
    unsigned long trips = valkey_round_trips();
    assert_int_equal(store(c, id, cm, ans, false, 0, 1 + CONV_INDEX_CMDS, &w), 0);
    assert_int_equal(valkey_round_trips() - trips, 2);
    assert_int_equal(load_count(id, T1), n + 2);

    /* A 4 MiB answer gets 256 ms more (1 ms per 16 KiB): 250 ms after the
     * reading it still stores, where a small turn is refused. (2 MiB, 128 ms
     * more, left the store 78 ms, which an ASan build on a loaded machine
     * was seen to miss.) */
    size_t big_len = 4u << 20;
    char *text = malloc(big_len + 1);
    assert_non_null(text);
    memset(text, 'x', big_len);
    text[big_len] = '\0';
    json_object *big = json_object_new_object();
    json_object_object_add(big, "role", json_object_new_string("assistant"));
    json_object_object_add(big, "content", json_object_new_string(text));
    free(text);
    n = load_count(id, T1);
    assert_int_equal(store(c, id, cm, ans, false, server_ms() - 250, 1 + CONV_INDEX_CMDS, &w), AXON_ETIMEDOUT);
    assert_int_equal(store(c, id, cm, big, false, server_ms() - 250, 1 + CONV_INDEX_CMDS, &w), 0);
    long long budget = 200 + (long long)((big_len + 40) / CONV_STORE_BYTES_PER_MS);
    assert_true(w >= budget + 200 && w < budget + 200 + 2);
    assert_int_equal(load_count(id, T1), n + 2);
    json_object_put(big);
    json_object_put(many);
    json_object_put(cm);
    json_object_put(ans);
}

/* ---- listing and counting -------------------------------------------------------- */

static void list_is_newest_first_and_pages(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char ids[5][CONV_ID_MAX + 1], tk[96];
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    long long active;
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 0);
    for (int i = 0; i < 5; i++) {
        make_conv(c, ids[i], T1, "x");
        sleep_ms(3); /* distinct millisecond scores */
    }
    char other[CONV_ID_MAX + 1];
    make_conv(c, other, T2, "not yours");
    assert_int_equal(conv_active_count(&active), 0);
    assert_int_equal(active, 6);

    struct conv_meta metas[CONV_LIST_MAX];
    int n;
    bool more;
    assert_int_equal(conv_list(T1, CONV_LIST_MAX, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 5);
    assert_false(more);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(metas[i].id, ids[4 - i]);
        assert_string_equal(metas[i].model, "gpt-4o");
        assert_int_equal(metas[i].message_count, 2);
        assert_true(metas[i].bytes > 0 && metas[i].created > 0);
    }
    assert_int_equal(conv_list(T1, 5, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 5);
    assert_false(more);

    /* Pages of two. */
    assert_int_equal(conv_list(T1, 2, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(metas[0].id, ids[4]);
    assert_string_equal(metas[1].id, ids[3]);
    assert_int_equal(conv_list(T1, 2, ids[3], metas, &n, &more), 0);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(metas[0].id, ids[2]);
    assert_string_equal(metas[1].id, ids[1]);
    assert_int_equal(conv_list(T1, 2, ids[1], metas, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_string_equal(metas[0].id, ids[0]);
    assert_int_equal(conv_list(T1, 2, ids[0], metas, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    assert_int_equal(conv_list(T1, 2, other, metas, &n, &more), AXON_ENOTFOUND);

    /* A new turn moves a conversation to the top. */
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"bump\"}]");
    assert_int_equal(conv_append(c, ids[0], T1, "m", cm, NULL, false), 0);
    assert_int_equal(conv_list(T1, 1, NULL, metas, &n, &more), 0);
    assert_string_equal(metas[0].id, ids[0]);
    assert_int_equal(metas[0].message_count, 3);
    assert_true(more);

    /* Gone conversations (expired, or deleted behind our back) are skipped,
     * removed from the index, and do not make has_more lie. Order now:
     * 0 4 3 2 1; drop 3 and 1. */
    char mk[96];
    key_of(mk, sizeof mk, ids[3], "meta");
    assert_int_equal(vk_int("DEL %s%s", mk, ""), 1);
    key_of(mk, sizeof mk, ids[1], "meta");
    assert_int_equal(vk_int("DEL %s%s", mk, ""), 1);
    assert_int_equal(vk_int("ZADD %s 1 %s", tk, "not-an-id"), 1);
    assert_int_equal(conv_list(T1, 3, NULL, metas, &n, &more), 0);
    assert_int_equal(n, 3);
    assert_false(more);
    assert_string_equal(metas[0].id, ids[0]);
    assert_string_equal(metas[1].id, ids[4]);
    assert_string_equal(metas[2].id, ids[2]);
    assert_false(zhas(tk, ids[3]));
    assert_false(zhas(tk, ids[1]));
    assert_false(zhas(tk, "not-an-id"));
    assert_int_equal(vk_int("ZCARD %s%s", tk, ""), 3);
    json_object_put(cm);
}

/* More conversations than one scan batch, listed in full and page by page. */
static void list_many(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    enum { N = 150 };
    static char ids[N][CONV_ID_MAX + 1];
    for (int i = 0; i < N; i++)
        make_conv(c, ids[i], T1, "x");
    static struct conv_meta metas[CONV_LIST_MAX];
    int n, seen = 0;
    bool more = true;
    char after[CONV_ID_MAX + 1] = "";
    while (more) {
        assert_int_equal(conv_list(T1, 7, after[0] ? after : NULL, metas, &n, &more), 0);
        assert_true(n == 7 || !more);
        seen += n;
        if (n)
            snprintf(after, sizeof after, "%s", metas[n - 1].id);
    }
    assert_int_equal(seen, N);
    assert_int_equal(conv_list(T1, CONV_LIST_MAX, NULL, metas, &n, &more), 0);
    assert_int_equal(n, CONV_LIST_MAX);
    assert_true(more);
}

/* ---- concurrency ------------------------------------------------------------------ */

struct turn_thread {
    const struct axon_config *cfg;
    const char *id;
    char tag;
    int failures;
};

static void *turns_main(void *p)
{
    struct turn_thread *t = p;
    for (int i = 0; i < 50; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[{\"role\":\"user\",\"content\":\"%c%d-0\"},"
                 "{\"role\":\"user\",\"content\":\"%c%d-1\"}]",
                 t->tag, i, t->tag, i);
        json_object *cm = NULL, *a = NULL;
        if (jsonv_parse(text, strlen(text), 8, &cm)) {
            t->failures++;
            continue;
        }
        snprintf(text, sizeof text, "{\"role\":\"assistant\",\"content\":\"%c%d-a\"}", t->tag, i);
        if (jsonv_parse(text, strlen(text), 8, &a) ||
            conv_append(t->cfg, t->id, T1, "m", cm, a, false))
            t->failures++;
        json_object_put(cm);
        json_object_put(a);
    }
    return NULL;
}

/* The turn lock's value, or "" when there is none. */
static void lock_value(const struct conv_lock *l, char *dst, size_t n)
{
    redisReply *r;
    assert_int_equal(valkey_command(&r, "GET %s", l->key), 0);
    snprintf(dst, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

/* A fenced store of one user message and an answer, as the pipeline's
 * settle: the store, then the lock's release, in one batch dated now_ms
 * (0: read). A held lock adds no command of its own: the store's script
 * gives it back. */
static int fenced_store_at(const struct axon_config *c, const char *id, struct conv_lock *l,
                           long long now_ms)
{
    json_object *cm = js("[{\"role\":\"user\",\"content\":\"next\"}]");
    json_object *ans = js("{\"role\":\"assistant\",\"content\":\"ok\"}");
    struct valkey_batch b = {0};
    struct conv_append_op ap;
    conv_append_add_fenced(c, id, T1, "gpt-4o", cm, ans, false, l, now_ms, &ap, &b);
    conv_unlock_add(l, &b);
    assert_int_equal(b.n, 1 + ap.index_n); /* no unlock command */
    (void)valkey_batch_run(&b);
    int rc = conv_append_done(&ap, &b);
    assert_int_equal(conv_unlock_done(l, &b), 0);
    assert_string_equal(l->token, ""); /* not held any more */
    valkey_batch_free(&b);
    json_object_put(cm);
    json_object_put(ans);
    return rc;
}

static int fenced_store(const struct axon_config *c, const char *id, struct conv_lock *l)
{
    return fenced_store_at(c, id, l, 0);
}

/* Two turns at once on one conversation: the second read is refused while
 * the first holds the lock (so it cannot be answered without the first);
 * another tenant neither gets it nor disturbs it; the holder's store and
 * release free it; a turn whose lock expired and was taken by the next
 * turn stores nothing, and its late release and renewal leave the next
 * turn's lock alone. */
static void turn_lock_refuses_a_second_turn_and_fences_a_late_store(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    c->pool_lease_s = 60;
    char id[CONV_ID_MAX + 1], v[64];
    make_conv(c, id, T1, "start");
    struct conv_lock l1, l2, l3;
    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load_locked(c, id, T1, &l1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 2);
    json_object_put(m);
    lock_value(&l1, v, sizeof v);
    assert_string_equal(v, l1.token);
    assert_true(pttl(l1.key) > 59000);

    assert_int_equal(conv_load_locked(c, id, T1, &l2, &m, &meta), AXON_EBUSY);
    assert_null(m);
    assert_string_equal(l2.token, "");
    assert_int_equal(conv_load_locked(c, id, T2, &l2, &m, &meta), AXON_ENOTFOUND);
    lock_value(&l1, v, sizeof v);
    assert_string_equal(v, l1.token); /* still the first turn's */

    assert_int_equal(fenced_store(c, id, &l1), 0);
    lock_value(&l1, v, sizeof v);
    assert_string_equal(v, ""); /* given back by the store */
    assert_int_equal(load_count(id, T1), 4);

    /* The next turn reads what the first stored. */
    assert_int_equal(conv_load_locked(c, id, T1, &l2, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 4);
    json_object_put(m);
    /* Its lease runs out (deleted here) and a third turn takes the lock. */
    redisReply *r;
    assert_int_equal(valkey_command(&r, "DEL %s", l2.key), 0);
    freeReplyObject(r);
    assert_int_equal(conv_load_locked(c, id, T1, &l3, &m, &meta), 0);
    json_object_put(m);
    l2.renew_at_us = 0;
    assert_int_equal(conv_lock_renew(&l2), AXON_ENOTFOUND);
    assert_int_equal(fenced_store(c, id, &l2), AXON_EBUSY);
    assert_int_equal(load_count(id, T1), 4); /* nothing written */
    (void)conv_unlock(&l2);
    lock_value(&l3, v, sizeof v);
    assert_string_equal(v, l3.token); /* the third turn's lock untouched */
    l3.renew_at_us = 0;
    assert_int_equal(conv_lock_renew(&l3), 0);
    assert_int_equal(fenced_store(c, id, &l3), 0);
    assert_int_equal(load_count(id, T1), 6);
    lock_value(&l3, v, sizeof v);
    assert_string_equal(v, "");

    /* A store that reached Valkey past its deadline writes nothing, and
     * its lock is given back all the same (a round trip of its own). */
    assert_int_equal(conv_load_locked(c, id, T1, &l1, &m, &meta), 0);
    json_object_put(m);
    assert_int_equal(fenced_store_at(c, id, &l1, server_ms() - 100000), AXON_ETIMEDOUT);
    assert_int_equal(load_count(id, T1), 6);
    lock_value(&l1, v, sizeof v);
    assert_string_equal(v, "");
    /* Over a cap: not stored, and given back by the script. (A store
     * first: the late one set conv.c's clock 100 s back.) */
    char id2[CONV_ID_MAX + 1];
    make_conv(c, id2, T1, "other");
    c->conv_max_messages = 6;
    assert_int_equal(conv_load_locked(c, id, T1, &l1, &m, &meta), 0);
    json_object_put(m);
    assert_int_equal(fenced_store(c, id, &l1), AXON_ETOOBIG);
    lock_value(&l1, v, sizeof v);
    assert_string_equal(v, "");

    /* The lock and the read: one round trip, one script by its SHA (the
     * script text is not sent, nor hashed by the server, on every turn). */
    assert_int_equal(valkey_command(&r, "CONFIG RESETSTAT"), 0);
    freeReplyObject(r);
    unsigned long rt = valkey_round_trips();
    assert_int_equal(conv_load_locked(c, id, T1, &l1, &m, &meta), 0);
    json_object_put(m);
    assert_int_equal(valkey_round_trips() - rt, 1);
    assert_int_equal(valkey_command(&r, "INFO commandstats"), 0);
    assert_null(strstr(r->str, "cmdstat_eval:"));
    assert_non_null(strstr(r->str, "cmdstat_evalsha:calls=1,"));
    freeReplyObject(r);
    assert_int_equal(conv_unlock(&l1), 0);
}

/* A lock that waited in a stalled server's socket while its turn was
 * answered 503 does nothing when the server wakes up (its deadline, in the
 * server's clock, passed): the next turn is not refused as busy. */
static void late_turn_lock_takes_nothing(void **state)
{
    connect_srv(state);
    struct srv *srv = *state;
    struct axon_config *c = conf(600, 100, 1 << 20);
    c->pool_lease_s = 60;
    char id[CONV_ID_MAX + 1];
    make_conv(c, id, T1, "start"); /* a store: conv.c reads the server's clock */
    struct conv_lock l;
    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(kill(srv->pid, SIGSTOP), 0);
    int rc = conv_load_locked(c, id, T1, &l, &m, &meta); /* waits 1000 ms, the test timeout */
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};
    nanosleep(&pause, NULL);
    assert_int_equal(kill(srv->pid, SIGCONT), 0);
    assert_int_equal(rc, AXON_EIO);
    assert_null(m);
    nanosleep(&pause, NULL); /* the server runs what waited in its socket */
    connect_srv(state);     /* valkey_init again: the breaker closed */
    assert_int_equal(vk_int("EXISTS %s%s", l.key, ""), 0);
    assert_int_equal(conv_load_locked(c, id, T1, &l, &m, &meta), 0);
    json_object_put(m);
    assert_int_equal(conv_unlock(&l), 0);
}

static void concurrent_turns_never_interleave(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 1000, 8u << 20);
    char id[CONV_ID_MAX + 1];
    make_conv(c, id, T1, "start");
    struct turn_thread t[2] = {{c, id, 'A', 0}, {c, id, 'B', 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, turns_main, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(t[0].failures, 0);
    assert_int_equal(t[1].failures, 0);

    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 2 + 100 * 3);
    assert_int_equal(meta.message_count, 2 + 100 * 3);
    int next[2] = {0, 0}, switches = 0;
    char last = 0;
    for (size_t i = 2; i < 302; i += 3) {
        const char *s[3];
        for (int k = 0; k < 3; k++) {
            json_object *v;
            assert_true(json_object_object_get_ex(json_object_array_get_idx(m, i + (size_t)k),
                                                  "content", &v));
            s[k] = json_object_get_string(v);
        }
        int who = s[0][0] == 'A' ? 0 : 1;
        char want[3][32];
        snprintf(want[0], sizeof want[0], "%c%d-0", s[0][0], next[who]);
        snprintf(want[1], sizeof want[1], "%c%d-1", s[0][0], next[who]);
        snprintf(want[2], sizeof want[2], "%c%d-a", s[0][0], next[who]);
        for (int k = 0; k < 3; k++)
            assert_string_equal(s[k], want[k]);
        next[who]++;
        if (last && last != s[0][0])
            switches++;
        last = s[0][0];
    }
    assert_int_equal(next[0], 50);
    assert_int_equal(next[1], 50);
    print_message("  100 concurrent turns, %d switches between threads\n", switches);
    json_object_put(m);
}

/* ---- Valkey down ------------------------------------------------------------------- */

static void valkey_down_is_eio(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1];
    make_conv(c, id, T1, "x");
    srv_kill(*state);
    json_object *m = NULL, *cm = js("[{\"role\":\"user\",\"content\":\"x\"}]");
    struct conv_meta meta, metas[2];
    int n = 7;
    bool more = true;
    long long active = 9;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), AXON_EIO);
    assert_null(m);
    assert_int_equal(conv_append(c, id, T1, "m", cm, NULL, false), AXON_EIO);
    assert_int_equal(conv_list(T1, 2, NULL, metas, &n, &more), AXON_EIO);
    assert_int_equal(n, 0);
    assert_false(more);
    assert_int_equal(conv_list(T1, 2, id, metas, &n, &more), AXON_EIO);
    assert_int_equal(conv_delete(id, T1), AXON_EIO);
    assert_int_equal(conv_active_count(&active), AXON_EIO);
    assert_int_equal(active, 0);
    json_object_put(cm);
}

/* ---- replay budget ---------------------------------------------------------------------- */

static const char fit_history[] =
    "[{\"role\":\"system\",\"content\":\"s\"},"
    "{\"role\":\"developer\",\"content\":\"d\"},"
    "{\"role\":\"user\",\"content\":\"u1\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r1\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r2\"},"
    "{\"role\":\"assistant\",\"content\":\"a1\"},"
    "{\"role\":\"user\",\"content\":\"u2\"},"
    "{\"role\":\"assistant\",\"content\":\"a2\"},"
    "{\"role\":\"user\",\"content\":\"u3\"},"
    "{\"role\":\"assistant\",\"content\":\"a3\"}]";

static size_t sum_bytes(json_object *h)
{
    size_t t = 0;
    for (size_t i = 0; i < json_object_array_length(h); i++)
        t += conv_message_bytes(json_object_array_get_idx(h, i));
    return t;
}

static const char *content_at(json_object *h, size_t i)
{
    json_object *v;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(h, i), "content", &v));
    return json_object_get_string(v);
}

static void fit_drops_whole_turns(void **state)
{
    (void)state;
    static const char plain[] = "{\"role\":\"user\",\"content\":\"a/b \xc3\xa9\"}";
    json_object *one = js(plain);
    assert_int_equal(conv_message_bytes(one), strlen(plain));
    json_object_put(one);

    json_object *h = js(fit_history);
    size_t total = sum_bytes(h);
    assert_int_equal(conv_fit(h, total), 0); /* fits: untouched */
    assert_int_equal(json_object_array_length(h), 11);

    /* One byte over: the oldest turn goes, tool exchange and all. */
    assert_int_equal(conv_fit(h, total - 1), 1);
    assert_int_equal(json_object_array_length(h), 6);
    assert_string_equal(content_at(h, 0), "s");
    assert_string_equal(content_at(h, 1), "d");
    assert_string_equal(content_at(h, 2), "u2");
    assert_true(sum_bytes(h) <= total - 1);
    json_object_put(h);

    /* Budget for the system block and the last turn. */
    h = js(fit_history);
    json_object *last = js("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"developer\","
                           "\"content\":\"d\"},{\"role\":\"user\",\"content\":\"u3\"},"
                           "{\"role\":\"assistant\",\"content\":\"a3\"}]");
    assert_int_equal(conv_fit(h, sum_bytes(last)), 2);
    assert_int_equal(json_object_array_length(h), 4);
    assert_string_equal(json_object_to_json_string_ext(h, FLAGS),
                        json_object_to_json_string_ext(last, FLAGS));
    json_object_put(last);
    json_object_put(h);

    /* Nothing fits: every turn goes, the system block stays. */
    h = js(fit_history);
    assert_int_equal(conv_fit(h, 0), 3);
    assert_int_equal(json_object_array_length(h), 2);
    assert_int_equal(conv_fit(h, 0), 0); /* nothing left to drop */
    json_object_put(h);

    /* Leading non-user messages after the system block form the first turn;
     * a system message inside a turn goes with it. */
    h = js("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"assistant\",\"content\":\"hi\"},"
           "{\"role\":\"user\",\"content\":\"u1\"},{\"role\":\"system\",\"content\":\"mid\"},"
           "{\"role\":\"assistant\",\"content\":\"a1\"},{\"role\":\"user\",\"content\":\"u2\"}]");
    size_t keep = sum_bytes(h) - 1;
    assert_int_equal(conv_fit(h, keep), 1);
    assert_int_equal(json_object_array_length(h), 5);
    assert_string_equal(content_at(h, 1), "u1");
    size_t s_u2 = conv_message_bytes(json_object_array_get_idx(h, 0)) +
                  conv_message_bytes(json_object_array_get_idx(h, 4));
    assert_int_equal(conv_fit(h, s_u2), 1);
    assert_int_equal(json_object_array_length(h), 2);
    assert_string_equal(content_at(h, 1), "u2");
    json_object_put(h);

    h = js("[]");
    assert_int_equal(conv_fit(h, 0), 0);
    json_object_put(h);
}

/* ---- HTTP ------------------------------------------------------------------------------- */

/* libfcgi's stream calls go to the one fake (fake_fcgi.h, wrapped by the
 * Makefile's FCGI_WRAP), so fcgi_io.c writes into `out`. */
#include "fake_fcgi.h"

struct answer {
    int status;
    char head[512];
    json_object *json;
};

static void http(const struct axon_config *cfg, const char *method, const char *uri,
                 const char *auth, struct answer *a)
{
    int i = 0;
    params[i][0] = "REQUEST_METHOD", params[i++][1] = method;
    params[i][0] = "REQUEST_URI", params[i++][1] = uri;
    params[i][0] = "HTTP_AUTHORIZATION", params[i++][1] = auth;
    params[i][0] = NULL;
    buf_reset(&out);
    FCGX_Request fcgi = {0};
    fcgi.ipcFd = -1;
    struct axon_req r;
    io_req_init(&r, &fcgi, cfg);
    router_handle(&r);
    memset(a, 0, sizeof *a);
    assert_non_null(out.p);
    assert_int_equal(sscanf(out.p, "Status: %d", &a->status), 1);
    const char *sep = strstr(out.p, "\r\n\r\n");
    assert_non_null(sep);
    size_t hl = (size_t)(sep - out.p);
    assert_true(hl < sizeof a->head);
    memcpy(a->head, out.p, hl);
    assert_non_null(strstr(a->head, "Content-Type: application/json"));
    assert_int_equal(jsonv_parse(sep + 4, strlen(sep + 4), JSONV_MAX_DEPTH, &a->json), 0);
}

static json_object *field(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("no field %s in %s", k, json_object_to_json_string(o));
    return v;
}

static void assert_error(struct answer *a, int status, const char *type, const char *param,
                         const char *code, const char *msg_part)
{
    assert_int_equal(a->status, status);
    json_object *e = field(a->json, "error");
    assert_string_equal(json_object_get_string(field(e, "type")), type);
    json_object *p = field(e, "param");
    if (param)
        assert_string_equal(json_object_get_string(p), param);
    else
        assert_null(p);
    assert_string_equal(json_object_get_string(field(e, "code")), code);
    if (!strstr(json_object_get_string(field(e, "message")), msg_part))
        fail_msg("message %s lacks %s", json_object_get_string(field(e, "message")), msg_part);
    json_object_put(a->json);
    a->json = NULL;
}

static void http_routes(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    unsigned char (*hashes)[SHA256_LEN] = xcalloc(2, SHA256_LEN); /* config_free frees it */
    sha256("sk-one", 6, hashes[0]);
    sha256("sk-two", 6, hashes[1]);
    c->key_hashes = hashes;
    c->n_keys = 2;
    char t1[AUTH_TENANT_LEN + 1], t2[AUTH_TENANT_LEN + 1];
    assert_int_equal(auth_check(c, "Bearer sk-one", t1, sizeof t1), AUTH_OK);
    assert_int_equal(auth_check(c, "Bearer sk-two", t2, sizeof t2), AUTH_OK);
    const char *k1 = "Bearer sk-one", *k2 = "Bearer sk-two";

    char id[CONV_ID_MAX + 1], id2[CONV_ID_MAX + 1], uri[256];
    new_id(id);
    json_object *cm = json_object_new_array();
    for (int i = 0; i < 2; i++)
        json_object_array_add(cm, js(turn1[i]));
    json_object *ans = js(turn1_answer);
    assert_int_equal(conv_append(c, id, t1, "claude-sonnet-4-6", cm, ans, true), 0);
    sleep_ms(3);
    make_conv(c, id2, t1, "second");

    /* GET one: every field, and the messages as stored. */
    struct answer a;
    snprintf(uri, sizeof uri, "/v1/conversations/%s", id);
    http(c, "GET", uri, k1, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_object_get_string(field(a.json, "id")), id);
    assert_string_equal(json_object_get_string(field(a.json, "object")), "conversation");
    assert_string_equal(json_object_get_string(field(a.json, "model")), "claude-sonnet-4-6");
    assert_int_equal(json_object_get_int(field(a.json, "message_count")), 3);
    assert_true(json_object_is_type(field(a.json, "created"), json_type_int));
    assert_true(json_object_is_type(field(a.json, "updated"), json_type_int));
    json_object *msgs = field(a.json, "messages");
    assert_int_equal(json_object_array_length(msgs), 3);
    assert_string_equal(json_object_to_json_string_ext(json_object_array_get_idx(msgs, 2), FLAGS),
                        json_object_to_json_string_ext(ans, FLAGS));
    const char *json = strstr(out.p, "\r\n\r\n") + 4;
    assert_non_null(strstr(json, json_object_to_json_string_ext(
                                     json_object_array_get_idx(cm, 1), FLAGS)));
    json_object_put(a.json);

    /* Another key: the same 404 as a missing id. */
    http(c, "GET", uri, k2, &a);
    assert_error(&a, 404, "invalid_request_error", NULL, "conversation_not_found", id);
    http(c, "DELETE", uri, k2, &a);
    assert_error(&a, 404, "invalid_request_error", NULL, "conversation_not_found", id);

    /* Malformed: 400 without an echo; unstored: 404 saying why. */
    http(c, "GET", "/v1/conversations/conv-0123}:meta", k1, &a);
    assert_int_equal(a.status, 400);
    assert_null(strstr(out.p, "}:meta"));
    assert_error(&a, 400, "invalid_request_error", NULL, "invalid_conversation_id", "conv-");
    http(c, "DELETE", "/v1/conversations/x", k1, &a);
    assert_error(&a, 400, "invalid_request_error", NULL, "invalid_conversation_id", "conv-");
    char un[CONV_ID_MAX + 1];
    conv_new_id(un, false);
    snprintf(uri, sizeof uri, "/v1/conversations/%s", un);
    http(c, "GET", uri, k1, &a);
    assert_error(&a, 404, "invalid_request_error", NULL, "conversation_not_found",
                 "never stored");

    /* The list: newest first, pages, bad parameters. */
    http(c, "GET", "/v1/conversations", k1, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_object_get_string(field(a.json, "object")), "list");
    json_object *data = field(a.json, "data");
    assert_int_equal(json_object_array_length(data), 2);
    json_object *d0 = json_object_array_get_idx(data, 0);
    assert_string_equal(json_object_get_string(field(d0, "id")), id2);
    assert_string_equal(json_object_get_string(field(d0, "object")), "conversation");
    assert_int_equal(json_object_get_int(field(d0, "message_count")), 2);
    assert_string_equal(json_object_get_string(field(d0, "model")), "gpt-4o");
    assert_true(json_object_is_type(field(d0, "updated"), json_type_int));
    assert_false(json_object_object_get_ex(d0, "messages", NULL));
    assert_string_equal(json_object_get_string(field(a.json, "first_id")), id2);
    assert_string_equal(json_object_get_string(field(a.json, "last_id")), id);
    assert_false(json_object_get_boolean(field(a.json, "has_more")));
    json_object_put(a.json);
    http(c, "GET", "/v1/conversations?limit=1", k1, &a);
    assert_int_equal(json_object_array_length(field(a.json, "data")), 1);
    assert_true(json_object_get_boolean(field(a.json, "has_more")));
    json_object_put(a.json);
    snprintf(uri, sizeof uri, "/v1/conversations?limit=1&after=%s", id2);
    http(c, "GET", uri, k1, &a);
    data = field(a.json, "data");
    assert_int_equal(json_object_array_length(data), 1);
    assert_string_equal(json_object_get_string(field(json_object_array_get_idx(data, 0), "id")),
                        id);
    assert_false(json_object_get_boolean(field(a.json, "has_more")));
    json_object_put(a.json);
    http(c, "GET", "/v1/conversations", k2, &a);
    assert_int_equal(json_object_array_length(field(a.json, "data")), 0);
    assert_null(field(a.json, "first_id"));
    assert_null(field(a.json, "last_id"));
    json_object_put(a.json);
    static const char *const bad_limits[] = {"0", "101", "x", "", "-1", "1.5"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        snprintf(uri, sizeof uri, "/v1/conversations?limit=%s", bad_limits[i]);
        http(c, "GET", uri, k1, &a);
        assert_error(&a, 400, "invalid_request_error", "limit", "invalid_value", "limit");
    }
    http(c, "GET", "/v1/conversations?after=conv-zz", k1, &a);
    assert_error(&a, 400, "invalid_request_error", "after", "invalid_conversation_id", "after");
    snprintf(uri, sizeof uri, "/v1/conversations?after=%s", id);
    http(c, "GET", uri, k2, &a); /* not in this tenant's list */
    assert_error(&a, 400, "invalid_request_error", "after", "invalid_value", id);
    snprintf(uri, sizeof uri, "/v1/conversations?after=%s", un);
    http(c, "GET", uri, k1, &a);
    assert_error(&a, 400, "invalid_request_error", "after", "invalid_value", un);

    /* DELETE, then it is gone. */
    snprintf(uri, sizeof uri, "/v1/conversations/%s", id);
    http(c, "DELETE", uri, k1, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_object_get_string(field(a.json, "id")), id);
    assert_string_equal(json_object_get_string(field(a.json, "object")), "conversation.deleted");
    assert_true(json_object_get_boolean(field(a.json, "deleted")));
    json_object_put(a.json);
    http(c, "GET", uri, k1, &a);
    assert_error(&a, 404, "invalid_request_error", NULL, "conversation_not_found",
                 "not found");

    /* Routing: 405 lists the three methods; no key is 401. */
    http(c, "PUT", uri, k1, &a);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.head, "Allow: GET, POST, DELETE"));
    json_object_put(a.json);
    http(c, "GET", uri, NULL, &a);
    assert_int_equal(a.status, 401);
    json_object_put(a.json);

    /* A record Valkey holds that is not ours (an entry that does not parse,
     * a key of another type): 500, not the 400 of a malformed id. */
    char bad[CONV_ID_MAX + 1], key[96];
    make_conv(c, bad, t1, "to be damaged");
    snprintf(key, sizeof key, "axon:{c:%s}:msgs", bad);
    assert_true(vk_int("RPUSH %s %s", key, "{not json") > 1);
    snprintf(uri, sizeof uri, "/v1/conversations/%s", bad);
    http(c, "GET", uri, k1, &a);
    assert_error(&a, 500, "server_error", NULL, "conversation_corrupt", "could not be read back");
    snprintf(key, sizeof key, "axon:{c:%s}:meta", bad);
    redisReply *r = NULL;
    assert_int_equal(valkey_command(&r, "DEL %s", key), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "SET %s %s", key, "a string"), 0);
    freeReplyObject(r);
    http(c, "GET", uri, k1, &a); /* WRONGTYPE: an error reply */
    assert_error(&a, 500, "server_error", NULL, "conversation_corrupt", "could not be read back");

    /* Valkey down: 503 with a retry hint. */
    srv_kill(*state);
    snprintf(uri, sizeof uri, "/v1/conversations/%s", id2);
    http(c, "GET", uri, k1, &a);
    assert_non_null(strstr(a.head, "Retry-After: 1"));
    assert_error(&a, 503, "server_error", NULL, "valkey_unavailable", "unavailable");
    http(c, "DELETE", uri, k1, &a);
    assert_error(&a, 503, "server_error", NULL, "valkey_unavailable", "unavailable");
    http(c, "GET", "/v1/conversations", k1, &a);
    assert_error(&a, 503, "server_error", NULL, "valkey_unavailable", "unavailable");

    json_object_put(cm);
    json_object_put(ans);
    buf_free(&out);
}

/* ---- valkey_pipeline and valkey_eval ------------------------------------------------- */

static void pipeline_replies_in_order(void **state)
{
    connect_srv(state);
    const char *set[] = {"SET", "axon:t:p", "v\0w"};
    const size_t set_lens[] = {3, 8, 3};
    const char *get[] = {"GET", "axon:t:p"}, *incr[] = {"INCR", "axon:t:p"};
    const char *ping[] = {"PING"};
    struct valkey_cmd cmds[] = {
        {.argc = 3, .argv = set, .lens = set_lens}, {.argc = 2, .argv = get}, {.argc = 2, .argv = incr}, {.argc = 1, .argv = ping}};
    redisReply *rep[VALKEY_MAX_PIPELINE + 1]; /* n entries, even for a refused n */
    assert_int_equal(valkey_pipeline(2, cmds, rep), 0);
    assert_int_equal(rep[0]->type, REDIS_REPLY_STATUS);
    assert_int_equal(rep[1]->len, 3);
    assert_memory_equal(rep[1]->str, "v\0w", 3);
    valkey_free_replies(2, rep);
    assert_null(rep[0]);

    /* One error reply: AXON_EREPLY, and every reply still there in order. */
    assert_int_equal(valkey_pipeline(4, cmds, rep), AXON_EREPLY);
    assert_int_equal(rep[2]->type, REDIS_REPLY_ERROR);
    assert_int_equal(rep[3]->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep[3]->str, "PONG");
    valkey_free_replies(4, rep);

    /* Bad shapes are refused, and the connection stays usable. */
    assert_int_equal(valkey_pipeline(0, cmds, rep), AXON_EINVAL);
    assert_int_equal(valkey_pipeline(VALKEY_MAX_PIPELINE + 1, cmds, rep), AXON_EINVAL);
    const char *many[VALKEY_MAX_ARGS + 1];
    for (int i = 0; i <= VALKEY_MAX_ARGS; i++)
        many[i] = "x";
    many[0] = "ECHO";
    struct valkey_cmd bad[] = {{.argc = 1, .argv = ping}, {.argc = VALKEY_MAX_ARGS + 1, .argv = many}};
    assert_int_equal(valkey_pipeline(2, bad, rep), AXON_EINVAL);
    assert_null(rep[0]);
    assert_int_equal(valkey_pipeline(1, &cmds[3], rep), 0);
    assert_string_equal(rep[0]->str, "PONG");
    valkey_free_replies(1, rep);
    assert_true(valkey_up());

    /* Server gone: AXON_EIO, no replies. */
    srv_kill(*state);
    assert_int_equal(valkey_pipeline(2, cmds, rep), AXON_EIO);
    assert_null(rep[0]);
    assert_null(rep[1]);
}

static struct valkey_script echo_script = {
    .src = "return {KEYS[1], ARGV[1], #ARGV[2]}"};
static struct valkey_script fail_script = {.src = "return redis.error_reply('AXON nope')"};

static void eval_loads_and_recovers_from_noscript(void **state)
{
    connect_srv(state);
    const char *keys[] = {"axon:t:k"}, *args[] = {"one", "a\0b"};
    const size_t lens[] = {3, 3};
    redisReply *r = NULL;
    assert_int_equal(valkey_eval(&echo_script, &r, 1, keys, 2, args, lens), 0);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[0]->str, "axon:t:k");
    assert_string_equal(r->element[1]->str, "one");
    assert_int_equal(r->element[2]->integer, 3);
    freeReplyObject(r);
    assert_int_equal(strlen(echo_script.sha), 40);

    /* The server forgets its scripts (a restart, SCRIPT FLUSH): reloaded. */
    assert_int_equal(valkey_command(&r, "SCRIPT FLUSH"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_eval(&echo_script, &r, 1, keys, 2, args, lens), 0);
    assert_string_equal(r->element[1]->str, "one");
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "SCRIPT EXISTS %s", echo_script.sha), 0);
    assert_int_equal(r->element[0]->integer, 1);
    freeReplyObject(r);

    /* A script's error reply: AXON_EREPLY with the reply. */
    assert_int_equal(valkey_eval(&fail_script, &r, 0, NULL, 0, NULL, NULL), AXON_EREPLY);
    assert_non_null(r);
    assert_non_null(strstr(r->str, "AXON nope"));
    freeReplyObject(r);

    /* Too many arguments for one command. */
    const char *many[VALKEY_MAX_ARGS];
    for (int i = 0; i < VALKEY_MAX_ARGS; i++)
        many[i] = "x";
    assert_int_equal(valkey_eval(&echo_script, &r, 1, keys, VALKEY_MAX_ARGS - 3, many, NULL),
                     AXON_EINVAL);
    assert_null(r);

    srv_kill(*state);
    assert_int_equal(valkey_eval(&echo_script, &r, 1, keys, 2, args, lens), AXON_EIO);
    assert_null(r);
}

/* ---- the Conversations API ------------------------------------------------- */

static json_object *user_msgs(int n, const char *tag)
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s %d", tag, i);
        json_object *u = json_object_new_object();
        json_object_object_add(u, "role", json_object_new_string("user"));
        json_object_object_add(u, "content", json_object_new_string(text));
        json_object_array_add(a, u);
    }
    return a;
}

/* Created empty or with items, with metadata; the owner alone sees it. */
static void api_create_with_metadata(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1], id2[CONV_ID_MAX + 1], mk[96], tk[96];
    new_id(id);
    json_object *none = json_object_new_array();
    long long created = 0, t0 = (long long)time(NULL);
    assert_int_equal(conv_create_api(c, id, T1, "{\"k\":\"v\"}", none, &created), 0);
    assert_true(created >= t0 - 2 && created <= t0 + 2);
    json_object *m = NULL, *md = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load_positions(&load_cfg, id, T1, &m, &meta, &md), 0);
    assert_int_equal(json_object_array_length(m), 0);
    assert_int_equal(meta.message_count, 0);
    assert_string_equal(meta.model, "");
    assert_int_equal(meta.created, created);
    assert_non_null(md);
    assert_string_equal(json_object_to_json_string_ext(md, FLAGS), "{\"k\":\"v\"}");
    json_object_put(m);
    json_object_put(md);
    /* Listed for its owner, and alive for the TTL. */
    snprintf(tk, sizeof tk, "axon:{k:%s}:convs", T1);
    assert_true(zhas(tk, id));
    key_of(mk, sizeof mk, id, "meta");
    assert_true(pttl(mk) > 590000);
    /* Another tenant: not found, and its metadata update changes nothing. */
    assert_int_equal(conv_load_positions(&load_cfg, id, T2, &m, &meta, &md), AXON_ENOTFOUND);
    assert_null(md);
    assert_int_equal(conv_set_metadata(id, T2, "{\"x\":\"y\"}", &created), AXON_ENOTFOUND);
    /* The owner's update replaces it; "" clears it. */
    long long c2 = 0;
    assert_int_equal(conv_set_metadata(id, T1, "{\"a\":\"b\"}", &c2), 0);
    assert_int_equal(c2, meta.created ? meta.created : c2);
    assert_int_equal(conv_load_positions(&load_cfg, id, T1, &m, &meta, &md), 0);
    assert_string_equal(json_object_to_json_string_ext(md, FLAGS), "{\"a\":\"b\"}");
    json_object_put(m);
    json_object_put(md);
    assert_int_equal(conv_set_metadata(id, T1, "", &c2), 0);
    assert_int_equal(conv_load_positions(&load_cfg, id, T1, &m, &meta, &md), 0);
    assert_null(md);
    json_object_put(m);
    /* With items: stored in order, counted, replayed by conv_load. */
    new_id(id2);
    json_object *three = user_msgs(3, "first");
    assert_int_equal(conv_create_api(c, id2, T1, NULL, three, &created), 0);
    assert_int_equal(conv_load(&load_cfg, id2, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 3);
    assert_int_equal(meta.message_count, 3);
    assert_string_equal(content_at(m, 2), "first 2");
    json_object_put(m);
    /* Over the byte cap: refused, nothing written. */
    struct axon_config *small = conf(600, 100, 40);
    char id3[CONV_ID_MAX + 1];
    new_id(id3);
    assert_int_equal(conv_create_api(small, id3, T1, NULL, three, &created), AXON_ETOOBIG);
    assert_int_equal(conv_load(&load_cfg, id3, T1, &m, &meta), AXON_ENOTFOUND);
    json_object_put(three);
    json_object_put(none);
}

/* Items appended after a chat turn: positions follow, caps hold, a held
 * turn lock refuses them (409), another tenant cannot. */
static void api_items_append(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 6, 1 << 20);
    char id[CONV_ID_MAX + 1];
    make_conv(c, id, T1, "chat"); /* positions 0 and 1 */
    json_object *two = user_msgs(2, "added");
    long first = -1;
    assert_int_equal(conv_items_append(c, id, T1, two, &first), 0);
    assert_int_equal(first, 2);
    json_object *m = NULL;
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(meta.message_count, 4);
    assert_string_equal(content_at(m, 3), "added 1");
    json_object_put(m);
    /* Another tenant: not found, nothing written. */
    assert_int_equal(conv_items_append(c, id, T2, two, &first), AXON_ENOTFOUND);
    /* While a turn holds the lock: busy, nothing written. */
    struct conv_lock lock;
    assert_int_equal(conv_load_locked(c, id, T1, &lock, &m, &meta), 0);
    json_object_put(m);
    assert_int_equal(conv_items_append(c, id, T1, two, &first), AXON_EBUSY);
    assert_int_equal(conv_unlock(&lock), 0);
    assert_int_equal(load_count(id, T1), 4);
    /* The cap of 6 messages: 2 more fit, 3 do not. */
    json_object *three = user_msgs(3, "over");
    assert_int_equal(conv_items_append(c, id, T1, three, &first), AXON_ETOOBIG);
    assert_int_equal(load_count(id, T1), 4);
    assert_int_equal(conv_items_append(c, id, T1, two, &first), 0);
    assert_int_equal(first, 4);
    assert_int_equal(load_count(id, T1), 6);
    json_object_put(three);
    json_object_put(two);
}

/* A deleted item leaves a tombstone: positions stay, every reader skips
 * it, message_count keeps counting it, and the owner alone can delete. */
static void api_item_delete_tombstones(void **state)
{
    connect_srv(state);
    struct axon_config *c = conf(600, 100, 1 << 20);
    char id[CONV_ID_MAX + 1];
    new_id(id);
    json_object *four = user_msgs(4, "m");
    long long created = 0;
    assert_int_equal(conv_create_api(c, id, T1, "{\"k\":\"v\"}", four, &created), 0);
    json_object *md = NULL, *m = NULL;
    long long cr = 0;
    assert_int_equal(conv_item_delete(id, T2, 1, &cr, &md), AXON_ENOTFOUND);
    assert_int_equal(conv_item_delete(id, T1, 9, &cr, &md), AXON_ENOTFOUND);
    assert_int_equal(conv_item_delete(id, T1, 1, &cr, &md), 0);
    assert_int_equal(cr, created);
    assert_non_null(md);
    json_object_put(md);
    /* Twice: the second finds nothing there. */
    assert_int_equal(conv_item_delete(id, T1, 1, &cr, &md), AXON_ENOTFOUND);
    assert_int_equal(conv_item_get(id, T1, 1, &m), AXON_ENOTFOUND);
    assert_int_equal(conv_item_get(id, T1, 2, &m), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(m, "content")), "m 2");
    json_object_put(m);
    assert_int_equal(conv_item_get(id, T2, 2, &m), AXON_ENOTFOUND);
    /* conv_load (the replay, GET's messages) skips it... */
    struct conv_meta meta;
    assert_int_equal(conv_load(&load_cfg, id, T1, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 3);
    assert_string_equal(content_at(m, 1), "m 2");
    assert_int_equal(meta.message_count, 4);
    json_object_put(m);
    /* ...so does the locked load of a continued turn... */
    struct conv_lock lock;
    assert_int_equal(conv_load_locked(c, id, T1, &lock, &m, &meta), 0);
    assert_int_equal(json_object_array_length(m), 3);
    json_object_put(m);
    assert_int_equal(conv_unlock(&lock), 0);
    /* ...and the positions' view keeps it as a null. */
    assert_int_equal(conv_load_positions(&load_cfg, id, T1, &m, &meta, NULL), 0);
    assert_int_equal(json_object_array_length(m), 4);
    assert_null(json_object_array_get_idx(m, 1));
    assert_string_equal(content_at(m, 3), "m 3");
    json_object_put(m);
    /* A turn after it lands at the next position. */
    json_object *one = user_msgs(1, "next");
    long first = 0;
    assert_int_equal(conv_items_append(c, id, T1, one, &first), 0);
    assert_int_equal(first, 4);
    json_object_put(one);
    json_object_put(four);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does; hiredis writes with write(2) */
    log_set_level(AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_random_and_checked),
        cmocka_unit_test_teardown(bad_ids_and_tenants_are_refused_before_valkey, free_confs),
        cmocka_unit_test(fit_drops_whole_turns),
        cmocka_unit_test_setup_teardown(append_then_load_is_byte_exact, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(a_long_history_as_one_new_turn, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(a_large_history_is_read_in_parts, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(another_tenant_sees_nothing, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(ttl_is_set_slides_and_expires, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(caps_refuse_and_write_nothing, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(create_on_an_existing_id_fails, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(delete_removes_keys_and_index_entries, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(append_and_release_share_one_round_trip, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(new_conversation_record_from_either_script, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(store_after_its_deadline_writes_nothing, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(index_trims_ride_on_one_store_in_32, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(list_is_newest_first_and_pages, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(list_many, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(concurrent_turns_never_interleave, setup_plain,
                                        teardown_all),
        cmocka_unit_test_setup_teardown(turn_lock_refuses_a_second_turn_and_fences_a_late_store,
                                        setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(late_turn_lock_takes_nothing, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(valkey_down_is_eio, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(http_routes, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(api_create_with_metadata, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(api_items_append, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(api_item_delete_tombstones, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(pipeline_replies_in_order, setup_plain, teardown_all),
        cmocka_unit_test_setup_teardown(eval_loads_and_recovers_from_noscript, setup_plain,
                                        teardown_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
