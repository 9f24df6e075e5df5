/* acct.c - per-thread accounting: upstream wait and Valkey round trips. */
#include "acct.h"

#include <stdatomic.h>

static _Thread_local uint64_t t_wait_us;
static _Thread_local unsigned long t_round_trips;
static atomic_ullong g_round_trips;

void acct_upstream_wait_add(uint64_t us)
{
    t_wait_us += us;
}

uint64_t upstream_wait_us(void)
{
    return t_wait_us;
}

void acct_valkey_round_trip(void)
{
    t_round_trips++;
    atomic_fetch_add_explicit(&g_round_trips, 1, memory_order_relaxed);
}

unsigned long valkey_round_trips(void)
{
    return t_round_trips;
}

unsigned long long valkey_round_trips_total(void)
{
    return atomic_load_explicit(&g_round_trips, memory_order_relaxed);
}
