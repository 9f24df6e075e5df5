/* test_resp_ids.c - the Responses and Conversations ids derived from store
 * positions (resp_ids.h): made and read back, and nothing else read as one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "resp_ids.h"

#define CONV "conv-0123456789abcdef0123456789abcdef"

static void response_ids_round_trip(void **state)
{
    (void)state;
    char id[RESP_ID_LEN + 1], conv[RESP_CONV_ID_LEN + 1];
    long pos = -1;
    assert_int_equal(resp_id_make(CONV, 6, id), AXON_OK);
    assert_string_equal(id, "resp_0123456789abcdef0123456789abcdef00000006");
    assert_int_equal(resp_id_parse(id, strlen(id), conv, &pos), AXON_OK);
    assert_string_equal(conv, CONV);
    assert_int_equal(pos, 6);
    assert_int_equal(resp_id_make(CONV, RESP_POS_MAX, id), AXON_OK);
    assert_int_equal(resp_id_parse(id, strlen(id), conv, &pos), AXON_OK);
    assert_int_equal(pos, RESP_POS_MAX);
    /* A random (unstored) id has the same shape. */
    resp_id_random(id);
    assert_int_equal(strlen(id), RESP_ID_LEN);
    assert_int_equal(resp_id_parse(id, strlen(id), conv, &pos), AXON_OK);
}

static void item_ids_round_trip(void **state)
{
    (void)state;
    static const struct { enum resp_item_kind k; const char *id; } want[] = {
        {RESP_ITEM_MESSAGE, "msg_0123456789abcdef0123456789abcdef0000000a01"},
        {RESP_ITEM_CALL, "fc_0123456789abcdef0123456789abcdef0000000a02"},
        {RESP_ITEM_CALL_OUTPUT, "fco_0123456789abcdef0123456789abcdef0000000a00"},
        {RESP_ITEM_REASONING, "rs_0123456789abcdef0123456789abcdef0000000a00"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char id[RESP_ITEM_ID_MAX + 1], conv[RESP_CONV_ID_LEN + 1];
        int part = want[i].k == RESP_ITEM_MESSAGE ? 1 : want[i].k == RESP_ITEM_CALL ? 2 : 0;
        assert_int_equal(resp_item_id_make(want[i].k, CONV, 10, part, id), AXON_OK);
        assert_string_equal(id, want[i].id);
        enum resp_item_kind k;
        long pos;
        int p;
        assert_int_equal(resp_item_id_parse(id, strlen(id), &k, conv, &pos, &p), AXON_OK);
        assert_int_equal(k, want[i].k);
        assert_string_equal(conv, CONV);
        assert_int_equal(pos, 10);
        assert_int_equal(p, part);
    }
}

static void nothing_else_parses(void **state)
{
    (void)state;
    char conv[RESP_CONV_ID_LEN + 1], id[RESP_ITEM_ID_MAX + 1];
    long pos;
    int part;
    enum resp_item_kind k;
    static const char *const bad[] = {
        "", "resp_", "resp_0123456789abcdef0123456789abcdef0000000",     /* short */
        "resp_0123456789abcdef0123456789abcdef000000060",                /* long */
        "resp_0123456789ABCDEF0123456789abcdef00000006",                 /* upper case */
        "resp_0123456789abcdef0123456789abcdef8000000a",                 /* pos past max */
        "resx_0123456789abcdef0123456789abcdef00000006",
        "resp_0123456789abcdef0123456789abcdef0000000g",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(resp_id_parse(bad[i], strlen(bad[i]), conv, &pos), AXON_EINVAL);
    /* A \u0000 inside: the length is the string's, not strlen's. */
    const char nul[] = "resp_0123456789abcdef0123456789abcdef00000006\0x";
    assert_int_equal(resp_id_parse(nul, sizeof nul - 1, conv, &pos), AXON_EINVAL);
    static const char *const bad_items[] = {
        "msg_0123456789abcdef0123456789abcdef0000000a", /* no part */
        "xx_0123456789abcdef0123456789abcdef0000000a01",
        "msg_abc", "fc_", "rs_0123456789abcdef0123456789abcdef0000000a0Z",
    };
    for (size_t i = 0; i < sizeof bad_items / sizeof bad_items[0]; i++)
        assert_int_equal(resp_item_id_parse(bad_items[i], strlen(bad_items[i]), &k, conv, &pos,
                                            &part), AXON_EINVAL);
    /* Only a stored conversation's id makes ids. */
    assert_int_equal(resp_id_make("conv-unstored-0123456789abcdef0123456789abcdef", 1, id),
                     AXON_EINVAL);
    assert_string_equal(id, "");
    assert_int_equal(resp_id_make(CONV, -1, id), AXON_EINVAL);
    assert_int_equal(resp_item_id_make(RESP_ITEM_CALL, CONV, 1, 256, id), AXON_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(response_ids_round_trip),
        cmocka_unit_test(item_ids_round_trip),
        cmocka_unit_test(nothing_else_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
