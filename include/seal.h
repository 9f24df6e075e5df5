/* seal.h - sealed blobs: bytes Axon hands a client and reads back later,
 * encrypted and authenticated with a server secret and bound to the caller's
 * API key. Used for a Responses reasoning item's `encrypted_content`: Claude's
 * signed thinking blocks, which a stateless client (Codex with store: false)
 * sends back on the next turn, and which Claude requires back unchanged.
 *
 * Why sealed and not the blocks as they are: the client must not be able to
 * read or alter what Axon replays to Claude (an altered block is a Claude 400,
 * and a blob from another API key's caller must not open for this one).
 *
 * Format (docs/responses.md, "Sealed reasoning"):
 *   "axr1." base64url-without-padding( L | key id (L bytes, 1..16) |
 *                                      nonce (12) | ciphertext | tag (16) )
 * AES-256-GCM from libcrypto; a fresh random nonce per seal (RAND_bytes); the
 * associated data is the purpose ("axon-reasoning-v1"), the tenant (the
 * caller's key digest prefix, auth.h) and L | key id, so a blob opens only for
 * the purpose and the tenant it was sealed for, under the key it names.
 *
 * Keys (a keyring): AXON_SEAL_KEYS / AXON_SEAL_KEYS_FILE, entries "id:key"
 * with 32 bytes of base64 key. The FIRST key seals; every key opens, so a
 * key is rotated by adding the new one first and dropping the old one once
 * the blobs it sealed are no longer wanted. Without a configured key the
 * process makes a random one at start (seal_start): blobs then do not open
 * after a restart nor on another axon process.
 *
 * Errors: every refusal of a blob (malformed, too large, another format,
 * tampered, another tenant's, a key no longer configured, not blocks) is
 * AXON_EINVAL with a short sentence in why, for the client's 400. Nothing
 * of the key is ever written into an error. */
#ifndef AXON_SEAL_H
#define AXON_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "axon.h"

#define SEAL_PREFIX "axr1."       /* format version 1 */
#define SEAL_PREFIX_LEN 5
#define SEAL_PURPOSE_REASONING "axon-reasoning-v1"
#define SEAL_KEY_LEN 32           /* AES-256 */
#define SEAL_KEY_ID_MAX 16        /* bytes of a key id: [A-Za-z0-9_-] */
#define SEAL_MAX_KEYS 16          /* keys one keyring holds */
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_TENANT_MAX 64        /* bytes of a tenant id (conv.c's bound) */
/* Largest plaintext sealed: one answer's thinking blocks. Claude's thinking
 * runs to max_tokens (128k at most today) and its signature to about as much
 * again: 4 MiB leaves room and still bounds what a blob costs to open. */
#define SEAL_PLAIN_MAX ((size_t)4 << 20)
/* The binary form of the largest blob, and its text. */
#define SEAL_BIN_MAX (1 + SEAL_KEY_ID_MAX + SEAL_NONCE_LEN + SEAL_PLAIN_MAX + SEAL_TAG_LEN)
#define SEAL_TEXT_MAX (SEAL_PREFIX_LEN + (SEAL_BIN_MAX + 2) / 3 * 4)
#define SEAL_WHY_MAX 160          /* room enough for every reason written in why */

struct seal_key {
    char id[SEAL_KEY_ID_MAX + 1];
    unsigned char key[SEAL_KEY_LEN]; /* secret: never logged, zeroed by clear */
};

/* Keys in order: keys[0] seals, all of them open. Plain data (no pointers),
 * so a struct copy is a copy; zero with seal_keyring_clear. */
struct seal_keyring {
    struct seal_key keys[SEAL_MAX_KEYS];
    int n;
};

/* Adds the entries of text[0..n) to r: "id:base64key" separated by commas
 * or line breaks; blanks around an entry, empty entries and lines that start
 * with '#' are skipped. from names the setting in err. AXON_EINVAL for an id
 * that is empty, longer than SEAL_KEY_ID_MAX or has other characters, a key
 * that is not base64 of exactly SEAL_KEY_LEN bytes, an id already in r, or
 * more than SEAL_MAX_KEYS keys: err names the entry by position and id, never
 * the key. r may hold part of the entries on failure (clear it). Borrows
 * text. */
int seal_keyring_parse(struct seal_keyring *r, const char *text, size_t n, const char *from,
                       char *err, size_t errlen) AXON_MUST_CHECK;
/* Makes r one random key (RAND_bytes) with id "tmp-" and 8 random hex
 * digits, so a blob of another process names a key this one does not have. */
void seal_keyring_random(struct seal_keyring *r);
/* Zeroes every key (OPENSSL_cleanse) and empties r. NULL-safe. */
void seal_keyring_clear(struct seal_keyring *r);

/* Seals p[0..n) (n <= SEAL_PLAIN_MAX) for purpose and tenant (both
 * NUL-terminated, 1..SEAL_TENANT_MAX bytes for tenant) with r->keys[0].
 * *out is new (free): the text, NUL-terminated. AXON_EINVAL: r empty, a bad
 * purpose or tenant; AXON_ETOOBIG: n too large. Borrows everything else.
 * Thread-safe (r is only read). */
int seal_bytes(const struct seal_keyring *r, const char *purpose, const char *tenant,
               const void *p, size_t n, char **out) AXON_MUST_CHECK;
/* Opens text[0..n) sealed by seal_bytes with one of r's keys for the same
 * purpose and tenant. On AXON_OK *out is new (free; NUL-terminated after
 * *outlen bytes). On AXON_EINVAL *out is NULL and why (whylen bytes, up to
 * SEAL_WHY_MAX useful) holds one sentence for the client, without a final
 * period. Network-fed: any text, any n, never a crash; nothing is allocated
 * for a text longer than SEAL_TEXT_MAX. Borrows everything else. */
int seal_open_bytes(const struct seal_keyring *r, const char *purpose, const char *tenant,
                    const char *text, size_t n, unsigned char **out, size_t *outlen,
                    char *why, size_t whylen) AXON_MUST_CHECK;

/* The process's keyring, for the request path: the configured one (borrowed;
 * it must outlive every request: main.c passes cfg's), or, when it is empty
 * or NULL, a random one made now. Returns true when it made one (main.c
 * warns). Call before any thread starts; the functions below use the ring
 * set here, or a random one made at their first call if it never was
 * (tests). */
bool seal_start(const struct seal_keyring *configured);
/* The id of the key that seals now (for the start log line). */
const char *seal_current_key_id(void);

/* Seals Claude's thinking blocks (borrowed: a JSON array, as the answer
 * carried them) for tenant with the process's keyring and the reasoning
 * purpose. *out is new (free): the item's encrypted_content. AXON_EINVAL
 * when blocks is not a non-empty array or tenant is bad, AXON_ETOOBIG past
 * SEAL_PLAIN_MAX. */
int seal_json(const char *tenant, json_object *blocks, char **out) AXON_MUST_CHECK;
/* Opens an encrypted_content (text[0..n), borrowed) for tenant. On AXON_OK
 * *blocks is new (json_object_put): the array exactly as seal_json got it.
 * On AXON_EINVAL *blocks is NULL and why holds the reason, as
 * seal_open_bytes. The client's 400 (docs/responses.md): type
 * invalid_request_error, code invalid_encrypted_content, param
 * "input[N].encrypted_content", message "The encrypted content for item
 * ID could not be verified. Reason: WHY." */
int seal_open_json(const char *tenant, const char *text, size_t n, json_object **blocks,
                   char *why, size_t whylen) AXON_MUST_CHECK;

struct api_error;
/* seal_open_json for the reasoning item input[index] (item_id: its id, or
 * NULL), with the refusal written into e as the client's 400 (the words
 * above; the id is named only when it is 1..64 of [A-Za-z0-9_-], the param
 * only when index >= 0). On AXON_OK *blocks is new (json_object_put), e is
 * untouched. Borrows everything else. */
int seal_open_reasoning(const char *tenant, const char *item_id, int index, const char *text,
                        size_t n, json_object **blocks, struct api_error *e) AXON_MUST_CHECK;

#endif
