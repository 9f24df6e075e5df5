/* fuzz_seal.c - sealed blobs (seal.h): a client's encrypted_content, as
 * seal_open_bytes and seal_open_json read it, and seal_bytes's output.
 *
 * Input: a mode byte, then the payload.
 *   mode even: the payload is an encrypted_content a client sent. It is
 *     opened with a fixed keyring (two keys) for a fixed tenant, as bytes
 *     and as reasoning blocks. Checked: the result is AXON_OK or AXON_EINVAL,
 *     a refusal leaves no output and a reason that is one line of printable
 *     ASCII (it goes into the client's 400), and a success (only for a
 *     payload sealed with the fuzz keys) gives blocks seal_json seals again;
 *     seal_open_reasoning's refusal is a 400 whose envelope is valid JSON.
 *   mode odd: the payload is plaintext. It is sealed with the same keyring;
 *     checked: the text is "axr1." and base64url of the expected length, it
 *     opens to the payload, for this tenant only, and with one character
 *     changed (the place and the new character chosen from the mode byte
 *     and the payload) it is refused.
 * Besides the sanitizers (leaks included): fuzz_fail on any other result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "errors.h"
#include "seal.h"

#include "fuzz_fcgi.h"

#define TENANT "0123456789abcdef"
#define OTHER "0123456789abcdee"

static struct seal_keyring ring;

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void setup(void)
{
    /* Fixed keys, so a seed sealed once opens on every run. */
    static const char keys[] = "k1:JOv2QAiGrNaM1m44+DVEoR/GQ3jMCXCfkDo1ZwYCOLs=,"
                               "old:MnEVrm8qRTBJ8RDe93Z3DVxU+9nwp8UKd+aYp+UrPqU=";
    char err[256];
    if (seal_keyring_parse(&ring, keys, strlen(keys), "fuzz", err, sizeof err))
        fuzz_fail("the fuzz keyring: %s", err);
    (void)seal_start(&ring);
}

static void check_why(const char *why, const char *what)
{
    if (!why[0])
        fuzz_fail("%s: refused without a reason", what);
    for (const char *c = why; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            fuzz_fail("%s: the reason holds byte 0x%02x", what, (unsigned char)*c);
}

static void open_one(const char *p, size_t n)
{
    unsigned char *out = (unsigned char *)"unset";
    size_t len = 1;
    char why[SEAL_WHY_MAX] = "";
    int rc = seal_open_bytes(&ring, SEAL_PURPOSE_REASONING, TENANT, p, n, &out, &len, why,
                             sizeof why);
    if (rc == AXON_OK) {
        if (!out || out[len] != '\0')
            fuzz_fail("opened without a NUL-terminated output");
        free(out);
    } else if (rc == AXON_EINVAL) {
        if (out || len)
            fuzz_fail("refused, but left an output");
        check_why(why, "seal_open_bytes");
    } else {
        fuzz_fail("seal_open_bytes returned %d", rc);
    }
    json_object *blocks = (json_object *)1;
    why[0] = '\0';
    rc = seal_open_json(TENANT, p, n, &blocks, why, sizeof why);
    if (rc == AXON_OK) {
        char *again = NULL;
        if (!blocks || seal_json(TENANT, blocks, &again) != AXON_OK)
            fuzz_fail("opened blocks that seal_json refuses");
        free(again);
        json_object_put(blocks);
    } else if (rc == AXON_EINVAL) {
        if (blocks)
            fuzz_fail("refused, but left blocks");
        check_why(why, "seal_open_json");
    } else {
        fuzz_fail("seal_open_json returned %d", rc);
    }
    /* The client's 400, as the request path builds it. */
    struct api_error e = {0};
    rc = seal_open_reasoning(TENANT, "rs_1", 3, p, n, &blocks, &e);
    if (rc == AXON_OK) {
        json_object_put(blocks);
    } else {
        if (rc != AXON_EINVAL || blocks || e.status != 400)
            fuzz_fail("seal_open_reasoning returned %d, status %d", rc, e.status);
        fuzz_check_error(&e);
    }
}

static void round_trip(unsigned mode, const uint8_t *p, size_t n)
{
    char *text = NULL;
    int rc = seal_bytes(&ring, SEAL_PURPOSE_REASONING, TENANT, p, n, &text);
    if (rc == AXON_ETOOBIG && n > SEAL_PLAIN_MAX)
        return;
    if (rc != AXON_OK || !text)
        fuzz_fail("seal_bytes returned %d", rc);
    size_t bin = 1 + strlen(ring.keys[0].id) + SEAL_NONCE_LEN + n + SEAL_TAG_LEN;
    size_t want = SEAL_PREFIX_LEN + bin / 3 * 4 + (bin % 3 ? bin % 3 + 1 : 0);
    size_t tn = strlen(text);
    if (tn != want || memcmp(text, SEAL_PREFIX, SEAL_PREFIX_LEN) ||
        strspn(text + SEAL_PREFIX_LEN, b64u) != tn - SEAL_PREFIX_LEN)
        fuzz_fail("sealed text of %zu bytes is not the format", tn);
    unsigned char *out = NULL;
    size_t len = 0;
    char why[SEAL_WHY_MAX];
    if (seal_open_bytes(&ring, SEAL_PURPOSE_REASONING, TENANT, text, tn, &out, &len, why,
                        sizeof why) ||
        len != n || (n && memcmp(out, p, n)))
        fuzz_fail("a sealed text does not open to what was sealed");
    free(out);
    if (seal_open_bytes(&ring, SEAL_PURPOSE_REASONING, OTHER, text, tn, &out, &len, why,
                        sizeof why) != AXON_EINVAL)
        fuzz_fail("a sealed text opens for another tenant");
    /* One character changed: its place and its new value from the input. */
    uint32_t h = mode;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + p[i];
    size_t at = h % tn;
    char was = text[at];
    text[at] = b64u[(h >> 16) % 64];
    if (text[at] == was)
        text[at] = was == 'A' ? 'B' : 'A';
    if (seal_open_bytes(&ring, SEAL_PURPOSE_REASONING, TENANT, text, tn, &out, &len, why,
                        sizeof why) != AXON_EINVAL)
        fuzz_fail("character %zu of %zu changed, and it still opens", at, tn);
    check_why(why, "a changed text");
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    if (data[0] & 1)
        round_trip(data[0], data + 1, size - 1);
    else
        open_one((const char *)data + 1, size - 1);
    return 0;
}
