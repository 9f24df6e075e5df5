/* pool_name.h - the name of an upstream's session pool, derived from where
 * the upstream is and whose key it takes. A leaf apart from pool.c: the
 * configuration names each upstream's pool (config.c) without linking the
 * pool itself, which talks to Valkey. */
#ifndef AXON_POOL_NAME_H
#define AXON_POOL_NAME_H

#define POOL_NAME_LEN 16  /* hex digits of the upstream's digest */

/* The pool name of an upstream: the first POOL_NAME_LEN hex digits of
 * SHA-256(base_url "\n" credential_source). credential_source names where
 * the key comes from (a key file's path, or the key itself), so a key
 * rotated inside the same file keeps its pool. Borrows both; writes
 * POOL_NAME_LEN + 1 bytes to out. */
void pool_name(char *out, const char *base_url, const char *credential_source);

#endif
