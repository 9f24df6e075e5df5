/* seal.c - sealed blobs: AES-256-GCM from libcrypto, base64url text, a
 * keyring for rotation. See seal.h for the format and why.
 *
 * No cryptography is written here: libcrypto encrypts, authenticates and
 * draws the nonces and keys. This file frames the bytes, checks every length
 * before it is used, and words the refusals. */
#include "seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errors.h"
#include "jsonv.h"
#include "text.h"

#define PURPOSE_MAX 64    /* bytes of a purpose string */
#define KEY_TEXT_MAX 128  /* base64 characters of one configured key, at most */
#define HEADER_MIN (1 + 1 + SEAL_NONCE_LEN + SEAL_TAG_LEN) /* a blob of nothing, id of 1 */

static const char b64u_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- base64url, without padding, canonical -------------------------------- */

static size_t b64u_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Writes b64u_len(n) characters and a NUL into out. */
static void b64u_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64u_alphabet[v >> 18 & 63];
        out[o++] = b64u_alphabet[v >> 12 & 63];
        out[o++] = b64u_alphabet[v >> 6 & 63];
        out[o++] = b64u_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64u_alphabet[v >> 18 & 63];
        out[o++] = b64u_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64u_alphabet[v >> 18 & 63];
        out[o++] = b64u_alphabet[v >> 12 & 63];
        out[o++] = b64u_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
}

/* Decodes in[0..n) into out (n / 4 * 3 + 2 bytes). Only the one text
 * b64u_encode writes for some bytes is accepted: no padding, no white space,
 * and the bits past the last byte zero, so that no two texts open to the same
 * blob (a changed last character must not go unnoticed). */
static int b64u_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    if (n % 4 == 1)
        return AXON_EINVAL;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = text_b64_value((unsigned char)in[i], true);
        if (v < 0)
            return AXON_EINVAL;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return AXON_EINVAL;
    *outlen = o;
    return AXON_OK;
}

/* ---- keys ------------------------------------------------------------------ */

static bool id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool id_ok(const char *id, size_t n)
{
    if (n < 1 || n > SEAL_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(id[i]))
            return false;
    return true;
}

/* Index of the key named id[0..n) in r, or -1. Key ids are not secret: a
 * plain compare. */
static int key_find(const struct seal_keyring *r, const char *id, size_t n)
{
    for (int i = 0; i < r->n; i++)
        if (strlen(r->keys[i].id) == n && !memcmp(r->keys[i].id, id, n))
            return i;
    return -1;
}

/* One entry "id:key" (trimmed, non-empty). Errors name the entry by its
 * place, and the id only once it is known to be one: a key pasted where the
 * id goes must not reach a log. */
static int add_entry(struct seal_keyring *r, const char *e, size_t n, int at, const char *from,
                     char *err, size_t errlen)
{
    const char *colon = memchr(e, ':', n);
    if (!colon)
        return text_errf(err, errlen, "%s: entry %d: expected id:key", from, at);
    const char *id = e;
    size_t idn = (size_t)(colon - e);
    const char *k = colon + 1;
    size_t kn = n - idn - 1;
    text_trim(&id, &idn);
    text_trim(&k, &kn);
    if (!id_ok(id, idn))
        return text_errf(err, errlen,
                         "%s: entry %d: the id must be 1 to %d of A-Z a-z 0-9 _ -", from, at,
                         SEAL_KEY_ID_MAX);
    if (key_find(r, id, idn) >= 0)
        return text_errf(err, errlen, "%s: key id \"%.*s\" is given twice", from, (int)idn, id);
    if (r->n >= SEAL_MAX_KEYS)
        return text_errf(err, errlen, "%s: more than %d keys", from, SEAL_MAX_KEYS);
    unsigned char raw[KEY_TEXT_MAX / 4 * 3 + 3];
    size_t rawn = 0;
    bool good = kn > 0 && kn <= KEY_TEXT_MAX && !memchr(k, '\n', kn) &&
                text_base64_decode(k, kn, raw, &rawn) == AXON_OK && rawn == SEAL_KEY_LEN;
    if (good) {
        struct seal_key *key = &r->keys[r->n++];
        memcpy(key->id, id, idn);
        key->id[idn] = '\0';
        memcpy(key->key, raw, SEAL_KEY_LEN);
    }
    OPENSSL_cleanse(raw, sizeof raw);
    if (!good)
        return text_errf(err, errlen,
                         "%s: key \"%.*s\" must be %d bytes in base64 (openssl rand -base64 %d)",
                         from, (int)idn, id, SEAL_KEY_LEN, SEAL_KEY_LEN);
    return AXON_OK;
}

int seal_keyring_parse(struct seal_keyring *r, const char *text, size_t n, const char *from,
                       char *err, size_t errlen)
{
    int at = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (text[j] == ' ' || text[j] == '\t'))
            j++;
        if (j < n && text[j] == '#') { /* a comment runs to the end of its line */
            while (j < n && text[j] != '\n')
                j++;
            i = j + 1;
            continue;
        }
        size_t end = j;
        while (end < n && text[end] != ',' && text[end] != '\n')
            end++;
        const char *e = text + j;
        size_t en = end - j;
        if (en && e[en - 1] == '\r')
            en--;
        text_trim(&e, &en);
        if (en) {
            int rc = add_entry(r, e, en, ++at, from, err, errlen);
            if (rc)
                return rc;
        }
        i = end + 1;
    }
    return AXON_OK;
}

void seal_keyring_random(struct seal_keyring *r)
{
    seal_keyring_clear(r);
    unsigned char tag[4];
    /* RAND_bytes fails only when the CSPRNG cannot be seeded: a key or a
     * nonce must never be predictable, so there is no way on (as text.h's
     * text_random). */
    if (RAND_bytes(r->keys[0].key, SEAL_KEY_LEN) != 1 || RAND_bytes(tag, sizeof tag) != 1)
        abort();
    char hex[2 * sizeof tag + 1];
    text_hex(tag, sizeof tag, hex);
    snprintf(r->keys[0].id, sizeof r->keys[0].id, "tmp-%s", hex);
    r->n = 1;
}

void seal_keyring_clear(struct seal_keyring *r)
{
    if (!r)
        return;
    OPENSSL_cleanse(r, sizeof *r);
    r->n = 0;
}

/* ---- sealing --------------------------------------------------------------- */

static bool name_ok(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

/* The associated data: purpose NUL tenant NUL L id. Both strings are
 * NUL-free, so the joins are unambiguous. out holds AAD_MAX bytes. */
#define AAD_MAX (PURPOSE_MAX + 1 + SEAL_TENANT_MAX + 1 + 1 + SEAL_KEY_ID_MAX)
static size_t aad_build(unsigned char *out, const char *purpose, const char *tenant,
                        const char *id, size_t idn)
{
    size_t pn = strlen(purpose), tn = strlen(tenant), o = 0;
    memcpy(out, purpose, pn + 1);
    o += pn + 1;
    memcpy(out + o, tenant, tn + 1);
    o += tn + 1;
    out[o++] = (unsigned char)idn;
    memcpy(out + o, id, idn);
    return o + idn;
}

/* AES-256-GCM over in[0..n) into out[0..n): enc computes tag, !enc checks
 * it. False when libcrypto refuses (on open: the tag does not verify). */
static bool gcm(int enc, const unsigned char *key, const unsigned char *nonce,
                const unsigned char *aad, size_t aadn, const unsigned char *in, size_t n,
                unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        abort(); /* an allocation failure: axon.h's memory policy */
    int len = 0;
    unsigned char fin[16];
    bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
              EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
              EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aadn) == 1 &&
              (n == 0 || EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1) &&
              (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, tag) == 1) &&
              EVP_CipherFinal_ex(ctx, fin, &len) == 1 &&
              (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int seal_bytes(const struct seal_keyring *r, const char *purpose, const char *tenant,
               const void *p, size_t n, char **out)
{
    *out = NULL;
    if (!r || r->n < 1 || !name_ok(purpose, PURPOSE_MAX) || !name_ok(tenant, SEAL_TENANT_MAX))
        return AXON_EINVAL;
    if (n > SEAL_PLAIN_MAX)
        return AXON_ETOOBIG;
    const struct seal_key *k = &r->keys[0];
    size_t idn = strlen(k->id);
    size_t bn = 1 + idn + SEAL_NONCE_LEN + n + SEAL_TAG_LEN;
    unsigned char *bin = xmalloc(bn);
    bin[0] = (unsigned char)idn;
    memcpy(bin + 1, k->id, idn);
    unsigned char *nonce = bin + 1 + idn;
    unsigned char *ct = nonce + SEAL_NONCE_LEN;
    /* A fresh random nonce per seal: at 96 bits, 2^32 seals under one key
     * keep the chance of a repeat below 2^-32 (NIST SP 800-38D, 8.3). */
    if (RAND_bytes(nonce, SEAL_NONCE_LEN) != 1)
        abort(); /* as seal_keyring_random */
    unsigned char aad[AAD_MAX];
    size_t aadn = aad_build(aad, purpose, tenant, k->id, idn);
    if (!gcm(1, k->key, nonce, aad, aadn, p, n, ct, ct + n))
        abort(); /* encryption with a valid key fails only when libcrypto cannot allocate */
    char *text = xmalloc(SEAL_PREFIX_LEN + b64u_len(bn) + 1);
    memcpy(text, SEAL_PREFIX, SEAL_PREFIX_LEN);
    b64u_encode(bin, bn, text + SEAL_PREFIX_LEN);
    free(bin);
    *out = text;
    return AXON_OK;
}

static int refuse(char *why, size_t whylen, const char *fmt, ...) AXON_PRINTF(3, 4);
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (whylen) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return AXON_EINVAL;
}

int seal_open_bytes(const struct seal_keyring *r, const char *purpose, const char *tenant,
                    const char *text, size_t n, unsigned char **out, size_t *outlen, char *why,
                    size_t whylen)
{
    *out = NULL;
    *outlen = 0;
    if (!r || !name_ok(purpose, PURPOSE_MAX) || !name_ok(tenant, SEAL_TENANT_MAX))
        return refuse(why, whylen, "Encrypted content cannot be opened without a caller");
    if (n > SEAL_TEXT_MAX)
        return refuse(why, whylen, "Encrypted content is larger than %zu bytes",
                      (size_t)SEAL_TEXT_MAX);
    if (n < SEAL_PREFIX_LEN || memcmp(text, SEAL_PREFIX, SEAL_PREFIX_LEN)) {
        if (n >= SEAL_PREFIX_LEN && !memcmp(text, "axr", 3) && text[3] >= '0' &&
            text[3] <= '9' && text[4] == '.')
            return refuse(why, whylen,
                          "Encrypted content is in a format version this server does not read");
        return refuse(why, whylen, "The value is not encrypted content issued by this server");
    }
    const char *b = text + SEAL_PREFIX_LEN;
    size_t bn = n - SEAL_PREFIX_LEN;
    unsigned char *bin = xmalloc(bn / 4 * 3 + 3);
    size_t len = 0;
    int rc = b64u_decode(b, bn, bin, &len);
    size_t idn = len ? bin[0] : 0;
    if (rc || len < HEADER_MIN || idn < 1 || idn > SEAL_KEY_ID_MAX ||
        len < 1 + idn + SEAL_NONCE_LEN + SEAL_TAG_LEN || !id_ok((const char *)bin + 1, idn)) {
        free(bin);
        return refuse(why, whylen, "Encrypted content is not well-formed");
    }
    const char *id = (const char *)bin + 1;
    int ki = key_find(r, id, idn);
    if (ki < 0) {
        rc = refuse(why, whylen,
                    "Encrypted content was sealed with a key this server no longer has "
                    "(key id \"%.*s\")",
                    (int)idn, id);
        free(bin);
        return rc;
    }
    const unsigned char *nonce = bin + 1 + idn;
    const unsigned char *ct = nonce + SEAL_NONCE_LEN;
    size_t ctn = len - 1 - idn - SEAL_NONCE_LEN - SEAL_TAG_LEN;
    unsigned char tag[SEAL_TAG_LEN];
    memcpy(tag, ct + ctn, SEAL_TAG_LEN);
    unsigned char aad[AAD_MAX];
    size_t aadn = aad_build(aad, purpose, tenant, id, idn);
    unsigned char *plain = xmalloc(ctn + 1);
    bool ok = gcm(0, r->keys[ki].key, nonce, aad, aadn, ct, ctn, plain, tag);
    free(bin);
    if (!ok) {
        /* GCM decrypts before it verifies: what came out is not to be used. */
        OPENSSL_cleanse(plain, ctn);
        free(plain);
        return refuse(why, whylen,
                      "Encrypted content does not verify: it was altered, or issued to another "
                      "API key");
    }
    plain[ctn] = '\0';
    *out = plain;
    *outlen = ctn;
    return AXON_OK;
}

/* ---- the process's keyring and the reasoning blocks ------------------------ */

/* Set once before the workers start (seal_start), or by the first call when
 * it never was (pthread_once orders that write before every later read). */
static const struct seal_keyring *active;
static struct seal_keyring own;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void start_default(void)
{
    if (!active) {
        seal_keyring_random(&own);
        active = &own;
    }
}

static const struct seal_keyring *process_ring(void)
{
    (void)pthread_once(&own_once, start_default);
    return active;
}

bool seal_start(const struct seal_keyring *configured)
{
    if (configured && configured->n > 0) {
        active = configured;
        return false;
    }
    seal_keyring_random(&own);
    active = &own;
    return true;
}

const char *seal_current_key_id(void)
{
    return process_ring()->keys[0].id;
}

int seal_json(const char *tenant, json_object *blocks, char **out)
{
    *out = NULL;
    if (!jsonv_thinking_blocks_ok(blocks))
        return AXON_EINVAL;
    struct buf b = BUF_INIT(SEAL_PLAIN_MAX);
    int rc = jsonv_write(&b, blocks);
    if (!rc)
        rc = seal_bytes(process_ring(), SEAL_PURPOSE_REASONING, tenant, b.p, b.len, out);
    buf_free(&b);
    return rc;
}

int seal_open_json(const char *tenant, const char *text, size_t n, json_object **blocks,
                   char *why, size_t whylen)
{
    *blocks = NULL;
    unsigned char *p = NULL;
    size_t len = 0;
    int rc = seal_open_bytes(process_ring(), SEAL_PURPOSE_REASONING, tenant, text, n, &p, &len,
                             why, whylen);
    if (rc)
        return rc;
    json_object *o = NULL;
    if (jsonv_parse((const char *)p, len, JSONV_MAX_DEPTH, &o) ||
        !jsonv_thinking_blocks_ok(o)) {
        json_object_put(o);
        free(p);
        return refuse(why, whylen, "Encrypted content does not hold reasoning blocks");
    }
    free(p);
    *blocks = o;
    return AXON_OK;
}

/* An item id echoed in the message: short and of id characters only, so
 * the message stays valid UTF-8 whatever the client sent. */
static bool echo_ok(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, 65);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(id[i]))
            return false;
    return true;
}

int seal_open_reasoning(const char *tenant, const char *item_id, int index, const char *text,
                        size_t n, json_object **blocks, struct api_error *e)
{
    char why[SEAL_WHY_MAX];
    int rc = seal_open_json(tenant, text, n, blocks, why, sizeof why);
    if (!rc)
        return AXON_OK;
    char param[48] = "";
    if (index >= 0)
        snprintf(param, sizeof param, "input[%d].encrypted_content", index);
    /* OpenAI's code and sentence for the same refusal ("The encrypted
     * content for item rs_... could not be verified. Reason: ..."), as its
     * Responses API answers it (openai/codex issues 8128, 35334). */
    if (echo_ok(item_id))
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_encrypted_content",
                      param[0] ? param : NULL,
                      "The encrypted content for item %s could not be verified. Reason: %s.",
                      item_id, why);
    else
        api_error_set(e, 400, ERR_INVALID_REQUEST, "invalid_encrypted_content",
                      param[0] ? param : NULL,
                      "The encrypted content could not be verified. Reason: %s.", why);
    return rc;
}
