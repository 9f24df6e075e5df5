/* sha256.c - SHA-256 from OpenSSL's libcrypto: cryptography is never written
 * here (a hand-written compression function was replaced by this). */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

/* EVP_sha256() in EVP_Digest makes OpenSSL 3 look the algorithm up and
 * allocate a digest context on every call: about 5,800 instructions for a
 * 40-byte key, most of a request's hashing (callgrind). The algorithm is
 * fetched once, and each thread keeps its context. */
static EVP_MD *g_md;
static pthread_key_t ctx_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void init_once(void)
{
    g_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!g_md || pthread_key_create(&ctx_key, ctx_free))
        abort(); /* no SHA-256 in libcrypto, or no memory: nothing can hash */
}

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
    (void)pthread_once(&once, init_once);
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (!ctx)
            abort(); /* axon.h's memory policy */
        (void)pthread_setspecific(ctx_key, ctx);
    }
    unsigned int n = 0;
    /* Fails only when libcrypto cannot allocate: as for any allocation
     * failure here, abort (axon.h's memory policy). */
    if (EVP_DigestInit_ex2(ctx, g_md, NULL) != 1 || EVP_DigestUpdate(ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SHA256_LEN)
        abort();
}
