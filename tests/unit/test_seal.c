/* Sealed blobs (seal.h): what a client holding an encrypted_content can and
 * cannot do with it, key rotation as an operator does it, and the settings
 * that carry the keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "seal.h"

#define K_OLD "JOv2QAiGrNaM1m44+DVEoR/GQ3jMCXCfkDo1ZwYCOLs="
#define K_NEW "MnEVrm8qRTBJ8RDe93Z3DVxU+9nwp8UKd+aYp+UrPqU="
#define K_3 "r05Z/7l3BtTpHoj2SigMy6Ix5PSwYCfWPmpHrUF4dXg="
#define K_16B "AIyrCmA5GIcmEU0bwct0FQ=="                         /* 16 bytes */
#define K_33B "TrBv1iOOn7QoyuE1CcjVeIp5PRxBF4ri0OXCFFH7Ihz1"     /* 33 bytes */

#define TENANT "0123456789abcdef"
#define OTHER "fedcba9876543210"
#define PURPOSE SEAL_PURPOSE_REASONING

static const char plain[] = "[{\"type\":\"thinking\",\"thinking\":\"2+2=4\",\"signature\":\"EqQB\"}]";

static void ring(struct seal_keyring *r, const char *spec)
{
    char err[256] = "";
    memset(r, 0, sizeof *r);
    int rc = seal_keyring_parse(r, spec, strlen(spec), "TEST", err, sizeof err);
    if (rc)
        fail_msg("keyring %s: %s", spec, err);
}

static char *seal_ok(const struct seal_keyring *r, const char *tenant, const char *p)
{
    char *out = NULL;
    assert_int_equal(seal_bytes(r, PURPOSE, tenant, p, strlen(p), &out), AXON_OK);
    assert_non_null(out);
    return out;
}

/* Opens text and returns the result code; why receives the reason. */
static int open_rc(const struct seal_keyring *r, const char *tenant, const char *text, size_t n,
                   char *why, size_t whylen)
{
    unsigned char *out = (unsigned char *)"sentinel";
    size_t len = 12345;
    why[0] = '\0';
    int rc = seal_open_bytes(r, PURPOSE, tenant, text, n, &out, &len, why, whylen);
    if (rc) {
        assert_null(out);
        assert_true(why[0] != '\0');
    } else {
        free(out);
    }
    return rc;
}

static void round_trip(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char *text = seal_ok(&r, TENANT, plain);
    /* Printable and URL/JSON-safe: the prefix, then base64url, no padding. */
    assert_memory_equal(text, SEAL_PREFIX, SEAL_PREFIX_LEN);
    for (const char *c = text + SEAL_PREFIX_LEN; *c; c++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               *c));
    unsigned char *out = NULL;
    size_t len = 0;
    char why[SEAL_WHY_MAX];
    assert_int_equal(seal_open_bytes(&r, PURPOSE, TENANT, text, strlen(text), &out, &len, why,
                                     sizeof why),
                     AXON_OK);
    assert_int_equal(len, strlen(plain));
    assert_memory_equal(out, plain, len);
    assert_int_equal(out[len], '\0');
    free(out);
    /* The empty plaintext seals and opens too. */
    char *empty = seal_ok(&r, TENANT, "");
    assert_int_equal(seal_open_bytes(&r, PURPOSE, TENANT, empty, strlen(empty), &out, &len, why,
                                     sizeof why),
                     AXON_OK);
    assert_int_equal(len, 0);
    free(out);
    free(empty);
    free(text);
    seal_keyring_clear(&r);
    assert_int_equal(r.n, 0);
}

static void two_seals_of_one_text_differ(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char *a = seal_ok(&r, TENANT, plain);
    char *b = seal_ok(&r, TENANT, plain);
    assert_int_equal(strlen(a), strlen(b));
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

/* Every character of the text changed to another base64url character, and
 * every bit of the binary form flipped (through a second character set),
 * is refused: nothing of the blob can be altered and still open. */
static void a_changed_character_anywhere_is_refused(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char why[SEAL_WHY_MAX];
    /* Three lengths, so the base64 text ends in each of its three ways (0, 2
     * or 4 unused bits in the last character). */
    for (int extra = 0; extra < 3; extra++) {
        char p[sizeof plain + 2];
        snprintf(p, sizeof p, "%s%.*s", plain, extra, "xx");
        char *text = seal_ok(&r, TENANT, p);
        size_t n = strlen(text);
        for (size_t i = 0; i < n; i++) {
            for (int alt = 0; alt < 2; alt++) {
                char *t = strdup(text);
                /* Two replacements per place: one flips the low bit of the
                 * character's value, one the high bit. */
                const char *abc =
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                const char *at = strchr(abc, t[i]);
                if (i < SEAL_PREFIX_LEN || !at)
                    t[i] = alt ? 'Z' : '.';
                else
                    t[i] = abc[(at - abc) ^ (alt ? 32 : 1)];
                if (!strcmp(t, text))
                    t[i] = '#';
                if (open_rc(&r, TENANT, t, n, why, sizeof why) != AXON_EINVAL)
                    fail_msg("length %zu: changing character %zu of %zu (%c -> %c) still opened",
                             strlen(p), i, n, text[i], t[i]);
                free(t);
            }
        }
        /* Cut short by one character, or by everything after the header. */
        assert_int_equal(open_rc(&r, TENANT, text, n - 1, why, sizeof why), AXON_EINVAL);
        assert_int_equal(open_rc(&r, TENANT, text, SEAL_PREFIX_LEN + 8, why, sizeof why),
                         AXON_EINVAL);
        assert_non_null(strstr(why, "not well-formed"));
        /* One character more. */
        char *longer = NULL;
        assert_true(asprintf(&longer, "%sA", text) > 0);
        assert_int_equal(open_rc(&r, TENANT, longer, n + 1, why, sizeof why), AXON_EINVAL);
        free(longer);
        free(text);
    }
}

static void another_tenant_or_purpose_is_refused(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char *text = seal_ok(&r, TENANT, plain);
    char why[SEAL_WHY_MAX];
    assert_int_equal(open_rc(&r, OTHER, text, strlen(text), why, sizeof why), AXON_EINVAL);
    assert_non_null(strstr(why, "another API key"));
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(seal_open_bytes(&r, "axon-other-v1", TENANT, text, strlen(text), &out, &len,
                                     why, sizeof why),
                     AXON_EINVAL);
    assert_null(out);
    /* The tenant is checked before anything is sealed for it. */
    char *o = NULL;
    assert_int_equal(seal_bytes(&r, PURPOSE, "", "x", 1, &o), AXON_EINVAL);
    char longt[SEAL_TENANT_MAX + 2];
    memset(longt, 'a', sizeof longt - 1);
    longt[sizeof longt - 1] = '\0';
    assert_int_equal(seal_bytes(&r, PURPOSE, longt, "x", 1, &o), AXON_EINVAL);
    assert_int_equal(seal_bytes(&r, PURPOSE, NULL, "x", 1, &o), AXON_EINVAL);
    assert_null(o);
    free(text);
}

/* The operator's rotation: add the new key first (it seals, the old one
 * still opens), then drop the old key: its blobs are refused, naming it. */
static void rotation(void **state)
{
    (void)state;
    struct seal_keyring before, during, after;
    ring(&before, "old:" K_OLD);
    ring(&during, "new:" K_NEW ",old:" K_OLD);
    ring(&after, "new:" K_NEW);
    char why[SEAL_WHY_MAX];
    char *sealed_old = seal_ok(&before, TENANT, plain);
    assert_int_equal(open_rc(&during, TENANT, sealed_old, strlen(sealed_old), why, sizeof why),
                     AXON_OK);
    char *sealed_new = seal_ok(&during, TENANT, plain);
    /* The first key seals: the blob opens without the old key, not without the new. */
    assert_int_equal(open_rc(&after, TENANT, sealed_new, strlen(sealed_new), why, sizeof why),
                     AXON_OK);
    assert_int_equal(open_rc(&before, TENANT, sealed_new, strlen(sealed_new), why, sizeof why),
                     AXON_EINVAL);
    assert_int_equal(open_rc(&after, TENANT, sealed_old, strlen(sealed_old), why, sizeof why),
                     AXON_EINVAL);
    assert_non_null(strstr(why, "no longer"));
    assert_non_null(strstr(why, "\"old\""));
    /* A key of the same id but other bytes is another key. */
    struct seal_keyring same_id;
    ring(&same_id, "old:" K_3);
    assert_int_equal(open_rc(&same_id, TENANT, sealed_old, strlen(sealed_old), why, sizeof why),
                     AXON_EINVAL);
    free(sealed_old);
    free(sealed_new);
    /* The key id is authenticated too: the same key bytes under two ids,
     * and a blob whose id is rewritten from "a" to "b" is refused. Byte 1
     * ('a', 0x61) is in the third base64 character with byte 2's top bits:
     * its low four bits are that character's high four, so 'b' is 4 on. */
    struct seal_keyring twins;
    ring(&twins, "a:" K_OLD ",b:" K_OLD);
    char *t = seal_ok(&twins, TENANT, plain);
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t at = (size_t)(strchr(abc, t[SEAL_PREFIX_LEN + 2]) - abc);
    t[SEAL_PREFIX_LEN + 2] = abc[(at + 4) & 63];
    assert_int_equal(open_rc(&twins, TENANT, t, strlen(t), why, sizeof why), AXON_EINVAL);
    assert_non_null(strstr(why, "altered"));
    free(t);
}

static void garbage_is_refused_with_reasons(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char why[SEAL_WHY_MAX];
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"", "not encrypted content"},
        {"hello", "not encrypted content"},
        {"gAAAAABmZ2xvYmFsX2Zlcm5ldF90b2tlbg==", "not encrypted content"},
        {"axr2.AAAA", "format version"},
        {"axr9.AAAA", "format version"},
        {"axr1.", "not well-formed"},
        {"axr1.A", "not well-formed"},
        {"axr1.AAAA=", "not well-formed"},
        {"axr1.AA AA", "not well-formed"},
        {"axr1.AA+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not well-formed"},
        /* Key id length 0, then 17: the header cannot be read. */
        {"axr1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not well-formed"},
        {"axr1.EWtra2tra2tra2tra2tra2trAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
         "not well-formed"},
        /* A key id with a character ids never have ("k!"). */
        {"axr1.AmshAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not well-formed"},
        /* Key id "k1", then one byte less than a nonce and a tag. */
        {"axr1.AmsxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not well-formed"},
        /* Well-formed, key id "k2", which this ring does not have. */
        {"axr1.AmsyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "no longer"},
        /* Well-formed, key id "k1": the tag does not verify. */
        {"axr1.AmsxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "altered"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        int rc = open_rc(&r, TENANT, t, strlen(t), why, sizeof why);
        if (rc != AXON_EINVAL || !strstr(why, cases[i].reason))
            fail_msg("case %zu (%s): rc %d, why \"%s\", expected \"%s\"", i, t, rc, why,
                     cases[i].reason);
    }
    /* A NUL inside is not text Axon issued. */
    assert_int_equal(open_rc(&r, TENANT, "axr1.AA\0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 48,
                             why, sizeof why),
                     AXON_EINVAL);
    /* Past the cap: refused for its size, before anything is decoded. */
    size_t big = SEAL_TEXT_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memcpy(huge, SEAL_PREFIX, SEAL_PREFIX_LEN);
    memset(huge + SEAL_PREFIX_LEN, 'A', big - SEAL_PREFIX_LEN);
    assert_int_equal(open_rc(&r, TENANT, huge, big, why, sizeof why), AXON_EINVAL);
    assert_non_null(strstr(why, "larger than"));
    free(huge);
    /* A reason cut to a small buffer is still a string. */
    char tiny[8];
    assert_int_equal(open_rc(&r, TENANT, "x", 1, tiny, sizeof tiny), AXON_EINVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    /* No keyring: nothing opens, nothing seals. */
    struct seal_keyring none = {0};
    char *o = NULL;
    assert_int_equal(seal_bytes(&none, PURPOSE, TENANT, "x", 1, &o), AXON_EINVAL);
    assert_null(o);
}

static void plaintext_over_the_cap_is_not_sealed(void **state)
{
    (void)state;
    struct seal_keyring r;
    ring(&r, "k1:" K_OLD);
    char *p = calloc(1, SEAL_PLAIN_MAX + 1);
    assert_non_null(p);
    char *out = NULL;
    assert_int_equal(seal_bytes(&r, PURPOSE, TENANT, p, SEAL_PLAIN_MAX + 1, &out), AXON_ETOOBIG);
    assert_null(out);
    /* The largest one seals, fits SEAL_TEXT_MAX with the longest key id,
     * and opens. */
    ring(&r, "kkkkkkkkkkkkkkkk:" K_OLD);
    assert_int_equal(seal_bytes(&r, PURPOSE, TENANT, p, SEAL_PLAIN_MAX, &out), AXON_OK);
    assert_true(strlen(out) <= SEAL_TEXT_MAX);
    unsigned char *back = NULL;
    size_t len = 0;
    char why[SEAL_WHY_MAX];
    assert_int_equal(seal_open_bytes(&r, PURPOSE, TENANT, out, strlen(out), &back, &len, why,
                                     sizeof why),
                     AXON_OK);
    assert_int_equal(len, SEAL_PLAIN_MAX);
    free(back);
    free(out);
    free(p);
}

static void keyring_entries(void **state)
{
    (void)state;
    struct seal_keyring r = {0};
    char err[256];
    const char *text = "  # the keys\n a_1:" K_NEW " ,\n\n,b-2:" K_OLD "\r\n#c:" K_3 "\n";
    assert_int_equal(seal_keyring_parse(&r, text, strlen(text), "T", err, sizeof err), AXON_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0].id, "a_1");
    assert_string_equal(r.keys[1].id, "b-2");
    seal_keyring_clear(&r);
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"k1", "expected id:key"},
        {":" K_OLD, "id"},
        {"k 1:" K_OLD, "id"},
        {"k/1:" K_OLD, "id"},
        {"kkkkkkkkkkkkkkkkk:" K_OLD, "id"},
        {"k1:" K_16B, "32 bytes"},
        {"k1:" K_33B, "32 bytes"},
        {"k1:not*base64*at*all*not*base64*at*all*xxxx=", "32 bytes"},
        {"k1:", "32 bytes"},
        {"k1:" K_OLD ",k1:" K_NEW, "twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&r, 0, sizeof r);
        err[0] = '\0';
        int rc = seal_keyring_parse(&r, bad[i].spec, strlen(bad[i].spec), "AXON_SEAL_KEYS", err,
                                    sizeof err);
        if (rc != AXON_EINVAL || !strstr(err, bad[i].says) || !strstr(err, "AXON_SEAL_KEYS"))
            fail_msg("%s: rc %d, err \"%s\"", bad[i].spec, rc, err);
        /* A key is never echoed, not even a part of it. */
        assert_null(strstr(err, "JOv2QA"));
        assert_null(strstr(err, "MnEVrm"));
        assert_null(strstr(err, "AIyrCm"));
        assert_null(strstr(err, "TrBv1i"));
        seal_keyring_clear(&r);
    }
    /* At most SEAL_MAX_KEYS keys. */
    char many[2048] = "";
    for (int i = 0; i <= SEAL_MAX_KEYS; i++) {
        char one[80];
        snprintf(one, sizeof one, "%sk%d:%s", i ? "," : "", i, K_OLD);
        strncat(many, one, sizeof many - strlen(many) - 1);
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(seal_keyring_parse(&r, many, strlen(many), "T", err, sizeof err),
                     AXON_EINVAL);
    assert_non_null(strstr(err, "more than"));
    seal_keyring_clear(&r);
}

static void random_keyrings(void **state)
{
    (void)state;
    struct seal_keyring a, b;
    seal_keyring_random(&a);
    seal_keyring_random(&b);
    assert_int_equal(a.n, 1);
    assert_int_equal(strncmp(a.keys[0].id, "tmp-", 4), 0);
    assert_int_equal(strlen(a.keys[0].id), 12);
    assert_string_not_equal(a.keys[0].id, b.keys[0].id);
    assert_memory_not_equal(a.keys[0].key, b.keys[0].key, SEAL_KEY_LEN);
    /* Another process's blob names a key this one does not have. */
    char *t = seal_ok(&a, TENANT, plain);
    char why[SEAL_WHY_MAX];
    assert_int_equal(open_rc(&b, TENANT, t, strlen(t), why, sizeof why), AXON_EINVAL);
    assert_non_null(strstr(why, a.keys[0].id));
    free(t);
    seal_keyring_clear(&a);
    seal_keyring_clear(&b);
}

static json_object *blocks(void)
{
    json_object *a = json_object_new_array();
    json_object *t = json_object_new_object();
    json_object_object_add(t, "type", json_object_new_string("thinking"));
    json_object_object_add(t, "thinking", json_object_new_string("Let me add: 2+2=4 \xc3\xa9"));
    json_object_object_add(t, "signature", json_object_new_string("EqQBCkYIBxgCKkB..."));
    json_object_array_add(a, t);
    json_object *rd = json_object_new_object();
    json_object_object_add(rd, "type", json_object_new_string("redacted_thinking"));
    json_object_object_add(rd, "data", json_object_new_string("EmwKAhgBEgy3va3pzix"));
    json_object_array_add(a, rd);
    return a;
}

/* The request path's calls: the process keyring, the reasoning purpose. */
static void json_blocks_round_trip(void **state)
{
    (void)state;
    static struct seal_keyring r; /* outlives the calls below, as cfg's does */
    ring(&r, "main:" K_NEW ",prev:" K_OLD);
    assert_false(seal_start(&r));
    assert_string_equal(seal_current_key_id(), "main");
    json_object *in = blocks();
    char *text = NULL;
    assert_int_equal(seal_json(TENANT, in, &text), AXON_OK);
    json_object *out = NULL;
    char why[SEAL_WHY_MAX];
    assert_int_equal(seal_open_json(TENANT, text, strlen(text), &out, why, sizeof why), AXON_OK);
    assert_true(json_object_equal(in, out));
    json_object_put(out);
    out = (json_object *)1;
    assert_int_equal(seal_open_json(OTHER, text, strlen(text), &out, why, sizeof why),
                     AXON_EINVAL);
    assert_null(out);
    free(text);
    /* Only a non-empty array is sealed. */
    json_object *empty = json_object_new_array();
    json_object *obj = json_object_new_object();
    text = NULL;
    assert_int_equal(seal_json(TENANT, empty, &text), AXON_EINVAL);
    assert_int_equal(seal_json(TENANT, obj, &text), AXON_EINVAL);
    assert_int_equal(seal_json(TENANT, NULL, &text), AXON_EINVAL);
    assert_null(text);
    json_object_put(empty);
    json_object_put(obj);
    /* A blob of this purpose that holds something else (never issued, but
     * a key could leak) is refused, not handed on. */
    char *odd = seal_ok(&r, TENANT, "{\"type\":\"thinking\"}");
    assert_int_equal(seal_open_json(TENANT, odd, strlen(odd), &out, why, sizeof why),
                     AXON_EINVAL);
    assert_non_null(strstr(why, "reasoning"));
    free(odd);
    odd = seal_ok(&r, TENANT, "[1,2");
    assert_int_equal(seal_open_json(TENANT, odd, strlen(odd), &out, why, sizeof why),
                     AXON_EINVAL);
    free(odd);
    json_object_put(in);
    /* Without configured keys the process makes its own. */
    struct seal_keyring none = {0};
    assert_true(seal_start(&none));
    assert_int_equal(strncmp(seal_current_key_id(), "tmp-", 4), 0);
    assert_true(seal_start(NULL));
}

/* The client's 400, in OpenAI's words, built where the item is read. */
static void reasoning_item_refusal(void **state)
{
    (void)state;
    static struct seal_keyring r;
    ring(&r, "main:" K_NEW);
    (void)seal_start(&r);
    json_object *in = blocks();
    char *text = NULL;
    assert_int_equal(seal_json(TENANT, in, &text), AXON_OK);
    struct api_error e = {0};
    json_object *out = NULL;
    assert_int_equal(seal_open_reasoning(TENANT, "rs_1", 2, text, strlen(text), &out, &e),
                     AXON_OK);
    assert_true(json_object_equal(in, out));
    assert_int_equal(e.status, 0);
    json_object_put(out);
    assert_int_equal(seal_open_reasoning(OTHER, "rs_1", 2, text, strlen(text), &out, &e),
                     AXON_EINVAL);
    assert_null(out);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(e.code, "invalid_encrypted_content");
    assert_string_equal(e.param, "input[2].encrypted_content");
    assert_string_equal(e.message,
                        "The encrypted content for item rs_1 could not be verified. Reason: "
                        "Encrypted content does not verify: it was altered, or issued to "
                        "another API key.");
    /* An id that is not an id is not echoed; no index, no param. */
    memset(&e, 0, sizeof e);
    assert_int_equal(seal_open_reasoning(TENANT, "rs \"x\"", -1, "gAAAA", 5, &out, &e),
                     AXON_EINVAL);
    assert_string_equal(e.param, "");
    assert_string_equal(e.message, "The encrypted content could not be verified. Reason: The "
                                   "value is not encrypted content issued by this server.");
    free(text);
    json_object_put(in);
}

/* ---- the settings ---------------------------------------------------------- */

static void clear_env(void)
{
    for (const struct config_doc *d = config_docs; d->name; d++)
        unsetenv(d->name);
    setenv("AXON_API_KEYS", "sk-one", 1);
}

static void settings(void **state)
{
    (void)state;
    char err[512];
    struct axon_config c;
    clear_env();
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_OK);
    assert_int_equal(c.seal_keys.n, 0); /* unset: main.c makes a random one */
    config_free(&c);

    setenv("AXON_SEAL_KEYS", "b:" K_NEW ",a:" K_OLD, 1);
    char path[] = "/tmp/axon-test-seal-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *file = "# retired next month\nc:" K_3 "\n";
    assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);
    setenv("AXON_SEAL_KEYS_FILE", path, 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_OK);
    assert_int_equal(c.seal_keys.n, 3);
    assert_string_equal(c.seal_keys.keys[0].id, "b"); /* the first seals */
    assert_string_equal(c.seal_keys.keys[2].id, "c");
    config_free(&c);
    assert_int_equal(c.seal_keys.n, 0);

    /* A bad key stops the start with a message naming the setting, the
     * entry and what is wrong, without the key. */
    setenv("AXON_SEAL_KEYS", "b:" K_16B, 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_SEAL_KEYS"));
    assert_non_null(strstr(err, "32 bytes"));
    assert_null(strstr(err, "AIyrCm"));
    setenv("AXON_SEAL_KEYS", "b:" K_NEW, 1);
    setenv("AXON_SEAL_KEYS_FILE", "/nonexistent/seal.keys", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_SEAL_KEYS_FILE"));
    /* The same id in both places is one key given twice. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    file = "b:" K_3 "\n";
    assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);
    setenv("AXON_SEAL_KEYS_FILE", path, 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "twice"));
    unlink(path);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(two_seals_of_one_text_differ),
        cmocka_unit_test(a_changed_character_anywhere_is_refused),
        cmocka_unit_test(another_tenant_or_purpose_is_refused),
        cmocka_unit_test(rotation),
        cmocka_unit_test(garbage_is_refused_with_reasons),
        cmocka_unit_test(plaintext_over_the_cap_is_not_sealed),
        cmocka_unit_test(keyring_entries),
        cmocka_unit_test(random_keyrings),
        cmocka_unit_test(json_blocks_round_trip),
        cmocka_unit_test(reasoning_item_refusal),
        cmocka_unit_test(settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
