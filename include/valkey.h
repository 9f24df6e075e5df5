/* valkey.h - the one way to talk to Valkey: a hiredis connection per worker
 * thread, a timeout on every command, reconnect on the next call after a
 * failure, and a process-wide circuit breaker.
 *
 * Connections: each thread gets its own redisContext, made lazily on its
 * first command (connect with the timeout, redisSetTimeout, AUTH, SELECT) and
 * freed when the thread exits (a pthread key destructor) or by
 * valkey_thread_close. A command that fails on I/O or times out drops the
 * context: hiredis 0.14 contexts are dead after a timeout, and redisReconnect
 * forgets redisSetTimeout, so the next call simply connects afresh.
 *
 * Worst case per call: connect + AUTH + SELECT + the command, each bounded by
 * the timeout (so about 4x timeout_ms when everything stalls). Through
 * Sentinel (sentinel.h) a connect first asks the Sentinels: about 2x
 * timeout_ms more for each one that does not answer.
 *
 * Circuit breaker: VALKEY_BREAKER_FAILS consecutive failures (connect, AUTH,
 * SELECT, I/O, a timeout of an ordinary command) open it for a cool-down of
 * VALKEY_COOLDOWN_MS, which
 * doubles after every failed probe up to VALKEY_COOLDOWN_MAX_MS. While it is
 * open, calls fail at once with AXON_EIO without touching the network. After
 * the cool-down exactly one call (in any thread) probes; its success closes
 * the breaker and resets the cool-down, its failure reopens it. An error
 * reply (REDIS_REPLY_ERROR) proves the server is alive: it counts as a
 * success for the breaker. A wrong password counts as a failure.
 *
 * What trips it is the server failing, never one caller's load: a
 * connection refused, closed or reset, AUTH or SELECT refused, and a
 * timeout while waiting for a reply the server owes within the configured
 * timeout. A reply that was given more time because of its size (a
 * valkey_batch with `large` set: a store or a part of a history of more
 * than 16 KiB, conv.h) and still did not come in that time fails its own
 * call (AXON_EIO, the connection dropped) and moves the breaker neither
 * way: one tenant reading or storing megabytes while Valkey is busy with
 * other such work is slow, not down, and must not switch conversation
 * storage off for every tenant (issue 18). A server that is really down
 * fails the ordinary commands every request also makes (the session
 * lease, the first read of a conversation), and those trip it.
 *
 * The process must ignore SIGPIPE (main does): hiredis 0.14 writes with
 * write(2), and a server that died leaves a socket that raises it.
 *
 * Valkey Cluster (AXON_VALKEY_URL=redis+cluster://host:port,...; the pure
 * half is vcluster.h): the slot map is read per process with CLUSTER SLOTS
 * from a known primary or a seed, on first use and again (at most every
 * 100 ms) after a MOVED or a node failing. Each thread keeps a connection
 * per node (at most VALKEY_MAX_NODE_CONNS, made lazily with the same
 * timeout and AUTH rules). A command goes to the primary of its first
 * key's slot (a script's first key; a keyless one, TIME or SCRIPT LOAD, to
 * any primary). MOVED: the map is updated and the command sent to the
 * node named; ASK: ASKING and the command to the node named, once, the map
 * untouched; TRYAGAIN (a multi-key script during a migration): sent again
 * after 10, 20, 40, 80, 160 ms; NOSCRIPT: the script loaded on that node,
 * sent again. At most 8 such steps per command. A pipeline whose commands span nodes is
 * split: each node's commands are written to it (one node after the
 * other, before any reply is read), then the replies are read and put
 * back in order; one slot's commands keep their order. It is still one
 * round trip in time and counted once (acct.h). A redirected command of a
 * pipeline runs again on its own, after the others. The breaker is about
 * the cluster as a whole: a node that refuses connections or times out
 * counts as a failure like a single server's. */
#ifndef AXON_VALKEY_H
#define AXON_VALKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "acct.h"
#include "axon.h"
#include "config.h"

#define VALKEY_TIMEOUT_MS_DEFAULT 50  /* connect and per-command timeout */
#define VALKEY_BREAKER_FAILS 3        /* consecutive failures that open it */
#define VALKEY_COOLDOWN_MS 1000       /* first cool-down */
#define VALKEY_COOLDOWN_MAX_MS 10000  /* cool-down cap (doubling) */

/* Process-wide, before any thread uses the module. Copies addr (borrows it).
 * timeout_ms <= 0 means VALKEY_TIMEOUT_MS_DEFAULT. May be called again (tests,
 * reload): it resets the breaker, and every thread reconnects to the new
 * address on its next call. */
void valkey_init(const struct valkey_addr *addr, int timeout_ms);
/* Frees what valkey_init copied and the calling thread's connection. Other
 * threads must have stopped using the module. Idempotent. */
void valkey_shutdown(void);

/* Runs one command on the calling thread's connection. Use %s and %b
 * (pointer, size_t) for arguments; never build command text.
 * Returns:
 *   0            *out is the reply (any type but REDIS_REPLY_ERROR): its
 *                type and shape are the caller's to check (AXON_EPROTO
 *                when they are not what the command answers);
 *   AXON_EREPLY  the server answered an error reply: *out is that reply
 *                (read (*out)->str, e.g. "NOSCRIPT ..." or "WRONGTYPE ...");
 *   AXON_EINVAL  the caller's mistake, nothing sent: an empty command, or
 *                a format string hiredis rejected; *out is NULL;
 *   AXON_EIO     no answer: breaker open, connect/AUTH/SELECT failed, I/O
 *                error or timeout; *out is NULL.
 * *out is always set: returns new (freeReplyObject, NULL-safe) in every case. */
int valkey_command(redisReply **out, const char *fmt, ...) AXON_MUST_CHECK;
/* The same with argc arguments of lens[i] bytes each (borrows argv and lens;
 * lens NULL means strlen of each). */
int valkey_command_argv(redisReply **out, int argc, const char **argv,
                        const size_t *lens) AXON_MUST_CHECK;

#define VALKEY_MAX_ARGS 64     /* arguments of one command in a pipeline or script */
#define VALKEY_MAX_PIPELINE 16 /* commands in one pipeline */
/* A thread's connections to cluster nodes (more than a pipeline can use,
 * so one in use is never the one replaced). */
#define VALKEY_MAX_NODE_CONNS (VALKEY_MAX_PIPELINE + 1)

struct valkey_script;

/* One command of a pipeline: argc arguments of lens[i] bytes (lens NULL:
 * strlen of each). Borrowed. With script set it runs that script: argv
 * holds its nkeys keys, then its arguments, and the pipeline sends
 * EVALSHA sha nkeys argv... A script the server forgot (NOSCRIPT: it
 * restarted or was flushed) did not run; it runs again on its own after the
 * batch, in order with the other scripts, but after the plain commands. */
struct valkey_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
    struct valkey_script *script;
    int nkeys;
};

/* Sends n commands in one round trip and reads the n replies.
 * Returns 0 when every reply arrived and none is an error; AXON_EREPLY when
 * they all arrived but at least one is an error reply (look at each type);
 * AXON_EIO when the round trip failed (no replies: all NULL); AXON_EINVAL,
 * nothing sent, for a bad n or a command of a bad shape (too many
 * arguments, nkeys out of range). replies (n entries) receive new objects:
 * free with valkey_free_replies. */
int valkey_pipeline(int n, const struct valkey_cmd *cmds, redisReply **replies) AXON_MUST_CHECK;
void valkey_free_replies(int n, redisReply **replies); /* NULL-safe entries */

/* Commands of several modules sent in one round trip: each module adds its
 * own (conv_append_add, pool_release_add) and reads its replies back by the
 * index it was given. Zero it before use; the commands' strings are
 * borrowed from the modules until valkey_batch_run returns. */
struct valkey_batch {
    int n;
    struct valkey_cmd cmd[VALKEY_MAX_PIPELINE];
    redisReply *rep[VALKEY_MAX_PIPELINE]; /* owned once run: valkey_batch_free */
    int rc;                               /* valkey_pipeline's result */
    /* The least time (ms) to wait for each reply, when a module needs more
     * than the timeout (conv_append_add: a store's reply must be awaited
     * past its deadline); 0: the timeout. */
    long long wait_ms;
    /* wait_ms was raised for the data the batch moves (a large store): a
     * timeout is the batch's own failure and does not move the breaker. */
    bool large;
    /* Replicas that must have the batch's writes before it counts
     * (AXON_VALKEY_WAIT_REPLICAS; conv.c's store paths set it; 0: none):
     * each node the batch went to gets WAIT durable <timeout> after its
     * commands, in the same round trip. */
    int durable;
    /* Set by valkey_batch_run when durable: true for a command whose node's
     * WAIT answered fewer replicas (its write may be lost in a failover:
     * the store counts as not done). Read with valkey_batch_acked. */
    bool unacked[VALKEY_MAX_PIPELINE];
};
/* The index of the command's reply, or AXON_ETOOBIG when the batch is full. */
int valkey_batch_add(struct valkey_batch *b, struct valkey_cmd c) AXON_MUST_CHECK;
/* Runs every command added, in order, in one round trip (an empty batch
 * costs nothing), waiting b->wait_ms for replies. Returns and keeps in
 * b->rc what valkey_pipeline returns. */
int valkey_batch_run(struct valkey_batch *b);
void valkey_batch_free(struct valkey_batch *b);
/* False when the batch was durable and command at's node did not confirm
 * the replicas asked for; true otherwise. */
static inline bool valkey_batch_acked(const struct valkey_batch *b, int at)
{
    return at < 0 || at >= VALKEY_MAX_PIPELINE || !b->unacked[at];
}

/* A Lua script run with EVALSHA; the server's SHA1 is cached in the struct
 * (SCRIPT LOAD on first use, and again after NOSCRIPT from a restarted
 * server). Declare each as a static: {.src = "..."}. Thread-safe. */
struct valkey_script {
    const char *src;
    char sha[41]; /* guarded inside valkey.c */
};
/* EVALSHA s with nkeys keys then nargs arguments (arg_lens NULL: strlen).
 * Same returns as valkey_command: 0 with *out the reply, AXON_EREPLY with
 * the error reply in *out (a script's redis.error_reply; *out is NULL when
 * the server refused to load the script), AXON_EIO; AXON_EINVAL for too
 * many arguments and AXON_EPROTO when SCRIPT LOAD answered something else
 * than a SHA1 (both with *out NULL). */
int valkey_eval(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                int nargs, const char **args, const size_t *arg_lens) AXON_MUST_CHECK;

/* The server's clock, read with TIME: *ms (since the epoch) as it was when
 * the server answered, so never ahead of it when this returns. 0, or
 * AXON_EIO / AXON_EREPLY / AXON_EPROTO (an answer that is not a time) with
 * *ms = 0. */
int valkey_server_time_ms(long long *ms) AXON_MUST_CHECK;

/* valkey_round_trips() and valkey_round_trips_total(): acct.h, included
 * above, counts them (a leaf, so their readers need not link hiredis). */

/* Cluster mode's redirections followed and slot map reads, since the
 * process started (logged at INFO as they happen). Lock-free. */
struct valkey_cluster_counts {
    unsigned long long moved, ask, refreshes;
};
void valkey_cluster_counts(struct valkey_cluster_counts *out);

/* Times the breaker opened since the process started (/metrics
 * axon_valkey_breaker_opens_total). Lock-free. */
unsigned long long valkey_breaker_opens(void);

/* True while the breaker is closed (/stats "valkey":"ok"); false while open
 * or probing ("down"). Lock-free. */
bool valkey_up(void);

/* The calling thread's last failure in words, for logs (never a password).
 * Borrows: valid until the thread's next valkey call. "" when none. */
const char *valkey_strerror(void);

/* Frees the calling thread's connection now (the thread-exit destructor
 * does the same). The next command reconnects. */
void valkey_thread_close(void);

#endif
