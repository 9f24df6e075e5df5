/* Strict JSON: what json-c alone would let through must be refused, the
 * nesting cap sits exactly at 64, and the envelope and string escaping are
 * valid JSON with all four keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "errors.h"
#include "jsonv.h"
#include "text.h"

static int parse(const char *s)
{
    json_object *o = NULL;
    int rc = jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o);
    if (rc == AXON_OK)
        assert_non_null(o);
    else
        assert_null(o);
    json_object_put(o);
    return rc;
}

/* jsonv_write prints what json-c prints under JSONV_OUT, byte for byte (the
 * upstream bodies were json-c's before; their tests compare bytes). */
static void write_prints_as_json_c_does(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{}", "[]", "[null]", "true", "0", "-12", "1.50", "2.5e3", "18446744073709551615",
        "-9223372036854775809", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "[1,-1,123456789012,false,null,true,-0,0.0]", "\"a/b\"", "\"\\u0000x\\u001f\\u007f\\\"\\\\\\b\\f\\n\\r\\t\"",
        "\"\u00e9\u2028 \\ud83d\\ude00\"",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"hi </b>\"}]},null,[],{}],\"temperature\":0.70,\"n\":1,\"x\":{\"\\n\":false}}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_object *o = NULL;
        assert_int_equal(jsonv_parse(texts[i], strlen(texts[i]), JSONV_MAX_DEPTH, &o), 0);
        struct buf b = BUF_INIT(1u << 20);
        assert_int_equal(jsonv_write(&b, o), 0);
        const char *want = json_object_to_json_string_ext(o, JSONV_OUT);
        assert_string_equal(b.p, want);
        buf_free(&b);
        json_object_put(o);
    }
    /* A tree built here: a NULL member and a NULL array slot print null. */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "a", NULL);
    json_object *a = json_object_new_array();
    json_object_array_put_idx(a, 2, json_object_new_string_len("x\0y", 3));
    json_object_object_add(o, "b", a);
    /* Integers made here, on both sides of INT64_MAX. */
    json_object_object_add(o, "u", json_object_new_uint64(9223372036854775813ULL));
    json_object_object_add(o, "i", json_object_new_int64(-42));
    json_object_object_add(o, "t", json_object_new_boolean(1));
    struct buf b = BUF_INIT(1u << 20);
    assert_int_equal(jsonv_write(&b, o), 0);
    assert_string_equal(b.p, "{\"a\":null,\"b\":[null,null,\"x\\u0000y\"],"
                             "\"u\":9223372036854775813,\"i\":-42,\"t\":true}");
    buf_free(&b);
    /* The cap holds. */
    struct buf small = BUF_INIT(8);
    assert_int_equal(jsonv_write(&small, o), AXON_ETOOBIG);
    buf_free(&small);
    json_object_put(o);
}

static void accepts_valid_json(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}", " {\"a\":1} \n", "[]", "{\"a\":[1,-2.5e+3,0,true,false,null,\"x\\u00e9\\n\"]}",
        "{\"a\":{\"b\":{}}}", "\"s\"", "12", "-0", "{\"k\":\"\xc3\xa9\"}",
        "{\"a\":\"b\\u0000c\"}", "[\"\\u0000\"]", "{\"a\\u0001\":1}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(parse(ok[i]), AXON_OK);
}

static void refuses_what_json_c_strict_accepts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{'a':1}",        "[NaN]",       "{\"a\":Infinity}", "{\"a\":\"\t\"}",
        "{\"a\":1.}",     "{\"a\":01}",  "{} x",             "{}{}",
        "",               "   ",         "{\"a\":1,}",       "[1,]",
        "{\"a\" 1}",      "{a:1}",       "[tru]",            "\"\\x\"",
        "\"\\u12g4\"",    "{\"a\":-}",   "[1e]",             "{\"a\":\"\xff\"}",
        "{\"a\":1",       "nul",         "[.5]",             "{\"a\":+1}",
        /* json-c ends a key at a NUL, so {"a\u0000b":1,"a":2} would be {"a":2}:
         * such a key is refused rather than changed (issue 18 item 5). */
        "{\"a\\u0000b\":1}", "[{\"\\u0000\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(bad[i]), AXON_EINVAL);
}

static char *nested(int depth)
{
    char *s = xmalloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth * 2 - 1 - i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

static void nesting_cap_is_64(void **state)
{
    (void)state;
    char *s = nested(64);
    assert_int_equal(parse(s), AXON_OK);
    free(s);
    s = nested(65);
    assert_int_equal(parse(s), AXON_ETOODEEP);
    free(s);
    s = nested(100000); /* no stack trouble: the scan stops at the cap */
    assert_int_equal(parse(s), AXON_ETOODEEP);
    free(s);
}

static void envelope_has_four_keys_and_escapes(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(4096);
    assert_int_equal(errors_envelope(&b, "bad \"x\"\n\x01", ERR_INVALID_REQUEST, NULL, "c1"), 0);
    assert_string_equal(b.p, "{\"error\":{\"message\":\"bad \\\"x\\\"\\n\\u0001\","
                             "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"c1\"}}");
    json_object *o = NULL;
    assert_int_equal(jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &o), 0);
    json_object *e = NULL, *v = NULL;
    assert_true(json_object_object_get_ex(o, "error", &e));
    const char *keys[] = {"message", "type", "param", "code"};
    for (int i = 0; i < 4; i++)
        assert_true(json_object_object_get_ex(e, keys[i], &v));
    json_object_put(o);
    buf_free(&b);
}

static void buffers_stop_at_their_cap(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(10);
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(buf_append(&b, "x", 1), AXON_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "0123456789");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "abcdefgh"), AXON_ETOOBIG);
    assert_int_equal(buf_printf(&b, "%d", 42), 0);
    assert_string_equal(b.p, "42");
    buf_free(&b);
    struct buf big = BUF_INIT(1 << 20);
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 1048; i++)
        assert_int_equal(buf_append(&big, chunk, sizeof chunk), 0);
    assert_int_equal(buf_append(&big, chunk, sizeof chunk), AXON_ETOOBIG);
    assert_int_equal(big.len, 1048000);
    buf_free(&big);
}

/* buf_i64 writes what printf's %lld writes, at both ends of the range and
 * around every power of ten; and it stops at the cap like any append. */
static void i64_writes_as_printf_does(void **state)
{
    (void)state;
    long long vs[64];
    size_t n = 0;
    vs[n++] = 0;
    vs[n++] = LLONG_MIN;
    vs[n++] = LLONG_MAX;
    for (long long p = 1; p <= LLONG_MAX / 10; p *= 10) {
        vs[n++] = p - 1;
        vs[n++] = -p;
    }
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "x%lld", vs[i]);
        struct buf b = BUF_INIT(64);
        assert_int_equal(buf_puts(&b, "x"), 0);
        assert_int_equal(buf_i64(&b, vs[i]), 0);
        assert_string_equal(b.p, want);
        buf_free(&b);
    }
    struct buf small = BUF_INIT(3);
    assert_int_equal(buf_i64(&small, 1234), AXON_ETOOBIG);
    assert_int_equal(buf_i64(&small, -12), 0);
    assert_string_equal(small.p, "-12");
    buf_free(&small);
}

/* text_join and text_i64 write what snprintf writes, cut where it cuts,
 * and return the whole length as it does. */
static void join_writes_as_snprintf_does(void **state)
{
    (void)state;
    static const char *const parts[][3] = {
        {"axon:{c:", "0123456789abcdef", "}:meta"}, {"", "", ""}, {"a", NULL, "c"},
        {NULL, NULL, NULL}, {"http://127.0.0.1:8080", "/v1/messages", NULL},
    };
    static const long long nums[] = {0, 7, -7, 1234567890123LL, LLONG_MIN, LLONG_MAX};
    for (size_t cap = 1; cap < 40; cap++) {
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            char want[64], got[64];
            memset(got, 'x', sizeof got);
            int n = snprintf(want, cap, "%s%s%s", parts[i][0] ? parts[i][0] : "",
                             parts[i][1] ? parts[i][1] : "", parts[i][2] ? parts[i][2] : "");
            assert_int_equal(text_join(got, cap, parts[i][0], parts[i][1], parts[i][2]), n);
            assert_string_equal(got, want);
            assert_int_equal(got[cap], 'x'); /* nothing past the cap */
        }
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            char want[64], got[64];
            int n = snprintf(want, cap, "%lld", nums[i]);
            assert_int_equal(text_i64(got, cap, nums[i]), n);
            assert_string_equal(got, want);
        }
    }
}

/* The tokener each thread keeps is reset after every parse: a parse that
 * failed half-way (an unclosed object, bad UTF-8) leaves nothing behind for
 * the next body, and another depth gets its own cap. */
static void tokener_reuse_leaves_nothing_behind(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"a\":[1,2,{\"b\":\"\xc3\"}]}"), AXON_EINVAL);
    json_object *o = NULL;
    assert_int_equal(jsonv_parse("{\"c\":1}", 7, JSONV_MAX_DEPTH, &o), 0);
    assert_int_equal(json_object_object_length(o), 1);
    assert_int_equal(json_object_get_int(json_object_object_get(o, "c")), 1);
    json_object_put(o);
    assert_int_equal(parse("[1,"), AXON_EINVAL);
    assert_int_equal(parse("7"), 0);
    assert_int_equal(jsonv_parse("[[1]]", 5, 1, &o), AXON_ETOODEEP);
    assert_int_equal(jsonv_parse("[[1]]", 5, 2, &o), 0);
    json_object_put(o);
    assert_int_equal(parse("[[[[1]]]]"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid_json),
        cmocka_unit_test(refuses_what_json_c_strict_accepts),
        cmocka_unit_test(nesting_cap_is_64),
        cmocka_unit_test(envelope_has_four_keys_and_escapes),
        cmocka_unit_test(buffers_stop_at_their_cap),
        cmocka_unit_test(write_prints_as_json_c_does),
        cmocka_unit_test(i64_writes_as_printf_does),
        cmocka_unit_test(join_writes_as_snprintf_does),
        cmocka_unit_test(tokener_reuse_leaves_nothing_behind),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
