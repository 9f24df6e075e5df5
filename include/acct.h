/* acct.h - per-thread accounting of where a request's time and round trips
 * went: the wait for upstreams (upstream.c adds to it) and the round trips
 * to Valkey (valkey.c adds to them). A leaf: it knows neither libcurl nor
 * hiredis, so fcgi_io.c (the x-axon-overhead-us and round-trip headers) and
 * main.c (the access log, /metrics) read it without linking either.
 *
 * Every counter is the calling thread's since it started (the Valkey total
 * is the process's): what one request cost is the difference across it. No
 * locks; nothing here allocates. The readers keep the names they had when
 * the counters lived in upstream.c and valkey.c. */
#ifndef AXON_ACCT_H
#define AXON_ACCT_H

#include <stdint.h>

/* Adds us microseconds of waiting for upstreams to the calling thread's sum
 * (upstream.c: time inside libcurl less the time in its callbacks). */
void acct_upstream_wait_add(uint64_t us);
/* Microseconds the calling thread has waited for upstreams since it started:
 * inside libcurl (sending, waiting, receiving), less the time in Axon's own
 * callbacks (translating, writing to the client). */
uint64_t upstream_wait_us(void);

/* One exchange with Valkey (valkey.c calls it once per round trip,
 * connection set-up commands included). */
void acct_valkey_round_trip(void);
/* Round trips to Valkey made by the calling thread since it started, and by
 * every thread of the process. */
unsigned long valkey_round_trips(void);
unsigned long long valkey_round_trips_total(void);

#endif
