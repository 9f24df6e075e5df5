/* drain.c - the shutdown phase, one atomic shared by every thread. */
#include "drain.h"

#include <stdatomic.h>

static atomic_int phase = DRAIN_NONE;

void drain_enter(enum drain_phase p)
{
    int cur = atomic_load(&phase);
    /* Forward only: a late SIGTERM during the cut must not reopen the drain. */
    while (cur < (int)p && !atomic_compare_exchange_weak(&phase, &cur, (int)p)) {
    }
}

enum drain_phase drain_phase(void)
{
    return (enum drain_phase)atomic_load(&phase);
}

bool drain_started(void)
{
    return drain_phase() != DRAIN_NONE;
}

bool drain_cut(void)
{
    return drain_phase() == DRAIN_CUT;
}
