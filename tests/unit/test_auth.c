/* Bearer parsing and the key check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth.h"
#include "sha256.h"
#include "text.h"

static struct axon_config cfg;
static unsigned char hashes[2][SHA256_LEN];

static int setup(void **state)
{
    (void)state;
    sha256("sk-alpha-0123456789", 19, hashes[0]);
    sha256("sk-beta", 7, hashes[1]);
    cfg.key_hashes = hashes;
    cfg.n_keys = 2;
    return 0;
}

static enum auth_result check(const char *hdr, char *out)
{
    return auth_check(&cfg, hdr, out, AUTH_TENANT_LEN + 1);
}

static void right_keys_pass_with_any_case_scheme(void **state)
{
    (void)state;
    char t[AUTH_TENANT_LEN + 1];
    assert_int_equal(check("Bearer sk-alpha-0123456789", t), AUTH_OK);
    assert_int_equal(check("bearer sk-beta", t), AUTH_OK);
    assert_int_equal(check("BEARER   sk-beta  ", t), AUTH_OK);
    /* The tenant id is the start of the key's digest, never the key. */
    char hex[2 * SHA256_LEN + 1];
    text_hex(hashes[1], SHA256_LEN, hex);
    assert_int_equal(strlen(t), AUTH_TENANT_LEN);
    assert_memory_equal(t, hex, AUTH_TENANT_LEN);
}

static void missing_forms(void **state)
{
    (void)state;
    char t[AUTH_TENANT_LEN + 1];
    assert_int_equal(check(NULL, t), AUTH_MISSING);
    assert_int_equal(check("", t), AUTH_MISSING);
    assert_int_equal(check("Bearer", t), AUTH_MISSING);
    assert_int_equal(check("Bearer    ", t), AUTH_MISSING);
    assert_int_equal(check("Basic c2stYmV0YQ==", t), AUTH_MISSING);
    assert_int_equal(check("Bearersk-beta", t), AUTH_MISSING);
}

static void wrong_keys_are_masked(void **state)
{
    (void)state;
    char t[AUTH_TENANT_LEN + 1];
    assert_int_equal(check("Bearer sk-alpha-012345678", t), AUTH_WRONG); /* a prefix */
    assert_int_equal(check("Bearer sk-alpha-01234567890", t), AUTH_WRONG); /* longer */
    assert_int_equal(check("Bearer sk-wrong-abcdefXYZ", t), AUTH_WRONG);
    assert_string_equal(t, "sk-***XYZ");
    assert_int_equal(check("Bearer short", t), AUTH_WRONG);
    assert_string_equal(t, "***"); /* too short to show any of it */
    assert_int_equal(check("Bearer sk-beta", t), AUTH_OK);
}

static void ct_equal_compares_every_byte(void **state)
{
    (void)state;
    assert_true(text_ct_equal("abcd", "abcd", 4));
    assert_false(text_ct_equal("abcd", "abce", 4));
    assert_false(text_ct_equal("xbcd", "abcd", 4));
    assert_true(text_ct_equal("", "", 0));
}

static void sha256_known_answers(void **state)
{
    (void)state;
    /* FIPS 180-4 examples, and a length that needs a second padding block. */
    static const struct { const char *in; const char *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        unsigned char d[SHA256_LEN];
        char hex[2 * SHA256_LEN + 1];
        sha256(v[i].in, strlen(v[i].in), d);
        text_hex(d, SHA256_LEN, hex);
        assert_string_equal(hex, v[i].hex);
    }
    char million[1000];
    memset(million, 'a', sizeof million);
    unsigned char d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256(million, sizeof million, d);
    text_hex(d, SHA256_LEN, hex);
    assert_string_equal(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(right_keys_pass_with_any_case_scheme),
        cmocka_unit_test(missing_forms),
        cmocka_unit_test(wrong_keys_are_masked),
        cmocka_unit_test(ct_equal_compares_every_byte),
        cmocka_unit_test(sha256_known_answers),
    };
    return cmocka_run_group_tests_name("auth", tests, setup, NULL);
}
