/* memcap.h - the request body bytes this process holds at once, against
 * AXON_MAX_INFLIGHT_BYTES.
 *
 * A request reserves its declared body (CONTENT_LENGTH) before a byte of it
 * is read, and gives the reservation back when it is finished, whatever the
 * path (main.c, after the handler). A body past the cap on its own can never
 * fit (413); one that fits alone but not beside the others in flight waits
 * for nobody: it is refused at once (503, retry shortly). The count is of
 * body bytes; what a request costs in memory is a small multiple of it
 * (the body, its JSON tree, the upstream's translation, the stored turn). */
#ifndef AXON_MEMCAP_H
#define AXON_MEMCAP_H

#include <stddef.h>

#include "axon.h"

/* Reserves n more bytes under limit. AXON_OK: reserved (give it back with
 * memcap_release); AXON_ETOOBIG: n alone is above limit; AXON_EBUSY: n fits
 * alone but not with what is reserved now. Nothing is reserved on failure. */
int memcap_reserve(size_t limit, size_t n) AXON_MUST_CHECK;
/* Gives back n bytes of an earlier reservation (0 is a no-op). */
void memcap_release(size_t n);
/* The bytes reserved now, for /stats and the tests. */
size_t memcap_in_use(void);

#endif
