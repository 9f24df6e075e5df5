/* drain.h - where the process is in its shutdown, for the request paths
 * that must act on it: main.c moves the phase; the router, the chat stream
 * and the test stream read it. No dependencies, so any module may ask. */
#ifndef AXON_DRAIN_H
#define AXON_DRAIN_H

#include <stdbool.h>

enum drain_phase {
    DRAIN_NONE,     /* serving */
    DRAIN_DRAINING, /* SIGTERM: requests in flight finish; new ones get 503 */
    DRAIN_CUT       /* AXON_DRAIN_S passed: answers still open end now */
};

/* Moves the phase forward (never back). Thread-safe. */
void drain_enter(enum drain_phase p);
/* The phase now. Thread-safe, a single atomic load. */
enum drain_phase drain_phase(void);
/* True from SIGTERM on. */
bool drain_started(void);
/* True once the drain time is over: a stream still open must end at once. */
bool drain_cut(void);

/* The error an answer cut by the drain deadline carries, and the 503 a
 * request arriving during the drain gets. */
#define DRAIN_CODE "server_shutting_down"

#endif
