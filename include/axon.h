/* axon.h - project-wide conventions shared by every module.
 *
 * Error convention: a function that can fail returns int, 0 (AXON_OK) on
 * success or one of the negative AXON_E* codes below. Human detail goes into
 * a caller-supplied buffer; the HTTP answer is built once, in errors.c.
 *
 * Memory policy: allocation failure aborts (xmalloc in buf.h), as lighttpd and
 * hiredis 0.14 do. A responder supervised by a web server or spawn-fcgi is
 * simpler and more honest crashing on OOM than threading NULL checks through
 * every path.
 *
 * Ownership words used beside prototypes: "borrows" (caller keeps it),
 * "takes" (callee owns it now), "returns new" (caller frees with the named
 * function). */
#ifndef AXON_H
#define AXON_H

#define AXON_VERSION "0.1.0"

enum axon_err {
    AXON_OK = 0,
    AXON_EINVAL = -1,       /* bad input from the client or the operator: syntax, range, type */
    AXON_ETOOBIG = -2,      /* a named cap was exceeded */
    AXON_ETOODEEP = -3,     /* JSON nesting above the cap */
    AXON_EIO = -4,          /* read or write failed (client side) */
    AXON_ECLIENT_GONE = -5, /* the client disconnected */
    AXON_ENOTFOUND = -6,
    AXON_ESYS = -7,         /* a system call failed; errno tells */
    AXON_ERETRY = -8,       /* an upstream failure worth retrying if nothing was delivered */
    AXON_EBUSY = -9,        /* no capacity within the wait bound (the session pool) */
    AXON_ETIMEDOUT = -10,   /* refused for arriving after its deadline (conv.h) */
    AXON_EPROTO = -11,      /* a peer (an upstream, Valkey) sent what its protocol does not allow */
    AXON_EREPLY = -12,      /* Valkey answered with an error reply (a script's refusal, say) */
    AXON_ESENT = -13,       /* too late: the answer's headers have already gone out */
    AXON_EDENIED = -14      /* the caller is not allowed: no key, or a wrong one (answered) */
};

#define AXON_MUST_CHECK __attribute__((warn_unused_result))
#define AXON_PRINTF(f, a) __attribute__((format(printf, f, a)))

#endif
