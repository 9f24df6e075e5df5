/* memcap.c - the process's request-bytes-in-flight count (memcap.h). */
#include "memcap.h"

#include <stdatomic.h>

/* Lock-free: a reservation is a compare-and-swap that never lets the sum
 * pass the limit, so two requests racing for the last room cannot both win. */
static _Atomic size_t in_use;

int memcap_reserve(size_t limit, size_t n)
{
    if (n > limit)
        return AXON_ETOOBIG;
    size_t cur = atomic_load(&in_use);
    do {
        if (cur > limit - n)
            return AXON_EBUSY;
    } while (!atomic_compare_exchange_weak(&in_use, &cur, cur + n));
    return AXON_OK;
}

void memcap_release(size_t n)
{
    if (n)
        atomic_fetch_sub(&in_use, n);
}

size_t memcap_in_use(void)
{
    return atomic_load(&in_use);
}
