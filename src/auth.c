/* auth.c - Bearer key check. */
#include "auth.h"

#include <stdbool.h>
#include <string.h>

#include "text.h"

/* OpenAI shows a wrong key as its first three and last three characters;
 * shorter keys are starred out entirely so nothing of them leaks back. */
static void mask(const char *tok, size_t n, char *out, size_t outlen)
{
    if (outlen < 10) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    if (n < 12) {
        memcpy(out, "***", 4);
        return;
    }
    memcpy(out, tok, 3);
    memcpy(out + 3, "***", 3);
    memcpy(out + 6, tok + n - 3, 3);
    out[9] = '\0';
}

enum auth_result auth_check(const struct axon_config *cfg, const char *header, char *tenant,
                            size_t tenant_len)
{
    if (tenant_len)
        tenant[0] = '\0';
    if (!header)
        return AUTH_MISSING;
    const char *sp = strchr(header, ' ');
    if (!sp || !text_ieq_n(header, (size_t)(sp - header), "bearer"))
        return AUTH_MISSING;
    const char *tok = sp;
    size_t n = strlen(tok);
    text_trim(&tok, &n);
    if (n == 0)
        return AUTH_MISSING;

    unsigned char digest[SHA256_LEN];
    sha256(tok, n, digest);
    bool match = false;
    for (size_t i = 0; i < cfg->n_keys; i++)
        match |= text_ct_equal(digest, cfg->key_hashes[i], SHA256_LEN);
    if (!match) {
        mask(tok, n, tenant, tenant_len);
        return AUTH_WRONG;
    }
    if (tenant_len > AUTH_TENANT_LEN)
        text_hex(digest, AUTH_TENANT_LEN / 2, tenant);
    return AUTH_OK;
}
