/* auth.h - Bearer API keys: header parsing and a constant-time check. */
#ifndef AXON_AUTH_H
#define AXON_AUTH_H

#include <stddef.h>
#include "config.h"

enum auth_result {
    AUTH_OK,
    AUTH_MISSING, /* no header, another scheme, or an empty token: 401, code null */
    AUTH_WRONG    /* a Bearer token that is not a configured key: 401, invalid_api_key */
};

#define AUTH_TENANT_LEN 16 /* hex digits of the key digest used as tenant id */

/* Checks an Authorization header value (borrows header; NULL means absent).
 * The scheme word is case-insensitive. The token is hashed and the digest is
 * compared with every configured digest, all of them every time, so the time
 * taken says nothing about which key, or how much of one, matched. On AUTH_OK
 * tenant (AUTH_TENANT_LEN+1 bytes) receives the tenant id; on AUTH_WRONG it
 * receives a masked form of the token for the error message. */
enum auth_result auth_check(const struct axon_config *cfg, const char *header,
                            char *tenant, size_t tenant_len);

#endif
