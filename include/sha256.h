/* sha256.h - SHA-256 (FIPS 180-4, computed by libcrypto), used to hash API keys: the constant-time
 * key compare works on digests, and a digest prefix is the tenant id. */
#ifndef AXON_SHA256_H
#define AXON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

#endif
