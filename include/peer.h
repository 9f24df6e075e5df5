/* peer.h - has the web server's own client hung up? Asked of the kernel.
 *
 * lighttpd tells its FastCGI backend nothing while the backend is silent
 * (fastcgi-servers.md §1.5): a client that leaves while its request waits
 * for a session, or for a JSON answer, would only be noticed at the next
 * write. But the web server's connection to its client is a TCP socket of
 * this host, named by the request's SERVER_ADDR, SERVER_PORT, REMOTE_ADDR and
 * REMOTE_PORT, and the kernel's sock_diag netlink interface looks one socket
 * up by that 4-tuple, for any user, without touching it. ESTABLISHED: the
 * client is there. Anything else: it sent FIN (a close, or a half-close,
 * which nginx takes as leaving too) or the connection is gone.
 *
 * The first look must find the connection ESTABLISHED (or already closing)
 * for the watch to start; it then follows that socket by its cookie, so a
 * later connection that reuses the 4-tuple is never taken for it. When the
 * first look finds nothing (another host or network namespace, a unix
 * socket, an address rewritten by a proxy module, no netlink) the watch is
 * off and nothing is ever claimed. Linux only. One HTTP/2 stream cancelled on
 * a connection that stays open is not seen. */
#ifndef AXON_PEER_H
#define AXON_PEER_H

#include <stdbool.h>
#include <stdint.h>

#define PEER_CHECK_MS 100 /* the kernel is asked at most this often per request */

enum peer_state { PEER_OFF, PEER_NEW, PEER_WATCH, PEER_GONE };

struct peer {
    enum peer_state state;
    int family;                 /* AF_INET or AF_INET6 */
    uint8_t local[16], remote[16]; /* network order */
    uint16_t local_port, remote_port; /* network order */
    uint32_t cookie[2];         /* the socket's, from the first look */
    uint64_t next_us;           /* monotonic: the next look, not before */
};

/* Fills p from the four CGI parameters (borrowed; any may be NULL). The
 * watch is off unless all four are numeric and of one family. No system
 * call: the first peer_gone looks (about 10 us), so that a request whose
 * client left while it queued in the web server's backlog is stopped
 * before its upstream call. */
void peer_init(struct peer *p, const char *server_addr, const char *server_port,
               const char *remote_addr, const char *remote_port, uint64_t now_us);

/* True once the client's connection is known to be closing or closed;
 * sticky. False when that cannot be told (the watch is off, or netlink
 * failed this time). Asks the kernel at most every PEER_CHECK_MS. */
bool peer_gone(struct peer *p, uint64_t now_us);

#endif
