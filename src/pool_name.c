/* pool_name.c - an upstream's pool name: a digest of its URL and key source. */
#include "pool_name.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h" /* xmalloc */
#include "sha256.h"
#include "text.h"

void pool_name(char *out, const char *base_url, const char *credential_source)
{
    size_t a = strlen(base_url), b = strlen(credential_source);
    char *msg = xmalloc(a + 1 + b);
    memcpy(msg, base_url, a);
    msg[a] = '\n';
    memcpy(msg + a + 1, credential_source, b);
    unsigned char d[SHA256_LEN];
    sha256(msg, a + 1 + b, d);
    memset(msg, 0, a + 1 + b); /* the source may be the key itself */
    free(msg);
    text_hex(d, POOL_NAME_LEN / 2, out);
}
