/* sentinel.h - finding the primary of a Sentinel-managed Valkey
 * (AXON_VALKEY_URL=redis+sentinel://s1,s2,s3/mymaster), for valkey.c's
 * connect path. A leaf: its own short-lived hiredis connections to the
 * Sentinels and the candidate, never valkey.c's.
 *
 * The steps follow the Sentinel client guidelines
 * (https://redis.io/docs/latest/develop/reference/sentinel-clients/):
 * ask each Sentinel in order with SENTINEL get-master-addr-by-name; the
 * first that answers moves to the front of the list for next time; the
 * address it names is used only after ROLE on that server says "master"
 * (a Sentinel that has not yet seen a failover names a dead or demoted
 * server). A Sentinel that answers with no address, or whose candidate is
 * not a primary, does not stop the search: the next one may know better.
 * The guidelines' last step, reconnecting when the primary changes, is
 * valkey.c's: it asks again (sentinel_forget) after a connection fails and
 * after a READONLY reply, which a demoted primary gives to every write, and
 * checks once every SENTINEL_CHECK_MS (sentinel_due). The check is needed
 * because a planned failover (SENTINEL FAILOVER, or one after a partition)
 * fails nothing on the old primary: it keeps taking writes, which its
 * demotion then throws away, until the Sentinels reconfigure it, and they
 * look at it only every 10 s (their INFO period for a server that is not
 * failing). With the check, a process moves within about a second of the
 * Sentinels' switch. (Subscribing to +switch-master would be quicker, but
 * needs a connection and a thread of its own in every process.)
 *
 * Passwords: addr->password is the data nodes' (AUTH before ROLE). A
 * Sentinel is asked without one; one that answers NOAUTH is asked again
 * after AUTH with the same password (as charts that protect both with one
 * password, Bitnami's among them, set it up). */
#ifndef AXON_SENTINEL_H
#define AXON_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include "axon.h"
#include "config.h"

#define SENTINEL_HOST_MAX 256 /* bytes of a primary's host name, NUL included */
#define SENTINEL_CHECK_MS 1000 /* the least time between two checks (sentinel_due) */

/* Asks addr's Sentinels (addr->seeds, addr->master) for the primary and
 * verifies it with ROLE. timeout_ms bounds each connect and each command
 * (so a dead Sentinel costs at most about 2x it). Borrows addr, and moves
 * the Sentinel that answered to the front of addr->seeds (so it is not
 * thread-safe on one addr: sentinel_resolve serialises the process-wide
 * one). On 0, host (hostlen bytes) and *port hold the primary.
 * Returns 0; AXON_EIO when no Sentinel answered, none knows the master or
 * none named a server that says it is the primary; AXON_EINVAL when addr is
 * not VALKEY_SENTINEL. The reason, for logs: sentinel_strerror. */
int sentinel_primary(struct valkey_addr *addr, int timeout_ms, char *host, size_t hostlen,
                     int *port) AXON_MUST_CHECK;

/* The process-wide primary valkey.c connects to: the last one
 * sentinel_primary found, asked again after sentinel_forget (and the first
 * time). After sentinel_due said true, the first Sentinel that answers is
 * asked whether the primary is still the same (one short connection, no
 * ROLE), and a different answer is then verified in full. Thread-safe: one
 * thread asks while the others wait for its answer. *changed tells whether
 * the primary differs from the one before (a failover: every connection
 * should move). Same returns as sentinel_primary; addr as there (the same
 * one on every call). A failed check keeps the primary known before. */
int sentinel_resolve(struct valkey_addr *addr, int timeout_ms, char *host, size_t hostlen,
                     int *port, bool *changed) AXON_MUST_CHECK;

/* The next sentinel_resolve asks the Sentinels again: a connection to the
 * primary failed or it answered READONLY. Lock-free. */
void sentinel_forget(void);

/* True, in one caller at a time, once every SENTINEL_CHECK_MS: the caller
 * then calls sentinel_resolve, which checks. Lock-free (a clock read and an
 * atomic load when not due). */
bool sentinel_due(void);

/* True for an error reply that says the server is a replica (a primary
 * demoted by a failover): "READONLY ...", from a command or from a script's
 * write. Borrows s (NULL: false). */
bool sentinel_readonly(const char *s);

/* The calling thread's last sentinel_primary failure in words ("" when
 * none). Borrows: valid until its next call. */
const char *sentinel_strerror(void);

#endif
