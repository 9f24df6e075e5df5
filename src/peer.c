/* peer.c - the web server's client connection, looked up with sock_diag.
 * See peer.h for why and for the limits. */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon.h"
#include "text.h"

/* Linux TCP states as inet_diag reports them (include/net/tcp_states.h). */
enum { ST_ESTABLISHED = 1, ST_CLOSE_WAIT = 8 };

static bool parse_port(const char *s, uint16_t *out)
{
    int64_t v;
    if (!s || !*s || text_parse_i64(s, 1, 65535, &v) != AXON_OK)
        return false;
    *out = htons((uint16_t)v);
    return true;
}

/* An address of either family into 16 bytes; 0 when not numeric. */
static int parse_addr(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (!s)
        return 0;
    if (inet_pton(AF_INET, s, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, out) == 1)
        return AF_INET6;
    return 0;
}

void peer_init(struct peer *p, const char *server_addr, const char *server_port,
               const char *remote_addr, const char *remote_port, uint64_t now_us)
{
    memset(p, 0, sizeof *p);
    p->state = PEER_OFF;
    int lf = parse_addr(server_addr, p->local), rf = parse_addr(remote_addr, p->remote);
    if (!lf || lf != rf || !parse_port(server_port, &p->local_port) ||
        !parse_port(remote_port, &p->remote_port))
        return;
    p->family = lf;
    p->cookie[0] = p->cookie[1] = INET_DIAG_NOCOOKIE;
    p->next_us = now_us;
    p->state = PEER_NEW;
}

enum look { LOOK_UNKNOWN, LOOK_NONE, LOOK_FOUND };

/* One exact lookup (no dump): the socket whose local end is ours and whose
 * remote end is the client, or, failing that, the kernel's fallback (the
 * listener, which carries another cookie). */
static enum look look(const struct peer *p, int *state, uint32_t cookie[2])
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return LOOK_UNKNOWN;
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = (uint8_t)p->family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    req.r.id.idiag_sport = p->local_port;
    req.r.id.idiag_dport = p->remote_port;
    memcpy(req.r.id.idiag_src, p->local, sizeof req.r.id.idiag_src);
    memcpy(req.r.id.idiag_dst, p->remote, sizeof req.r.id.idiag_dst);
    req.r.id.idiag_cookie[0] = p->cookie[0];
    req.r.id.idiag_cookie[1] = p->cookie[1];
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    /* The reply, read into whole headers so that it is aligned for them. */
    struct nlmsghdr rep[1024 / sizeof(struct nlmsghdr)];
    enum look rc = LOOK_UNKNOWN;
    ssize_t n = -1;
    /* The kernel answers a non-dump request inside sendto: the reply is
     * already queued, so the read never waits. */
    if (sendto(fd, &req, sizeof req, 0, (const struct sockaddr *)&to, sizeof to) ==
        (ssize_t)sizeof req)
        n = recv(fd, rep, sizeof rep, MSG_DONTWAIT);
    close(fd);
    if (n < (ssize_t)NLMSG_HDRLEN || rep->nlmsg_len > (size_t)n)
        return LOOK_UNKNOWN;
    if (rep->nlmsg_type == NLMSG_ERROR && rep->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
        const struct nlmsgerr *e = NLMSG_DATA(rep);
        /* ENOENT: no such socket; ESTALE: the 4-tuple now names another. */
        if (e->error == -ENOENT || e->error == -ESTALE)
            rc = LOOK_NONE;
    } else if (rep->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
               rep->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        const struct inet_diag_msg *m = NLMSG_DATA(rep);
        *state = m->idiag_state;
        cookie[0] = m->id.idiag_cookie[0];
        cookie[1] = m->id.idiag_cookie[1];
        rc = LOOK_FOUND;
    }
    return rc;
}

bool peer_gone(struct peer *p, uint64_t now_us)
{
    if (p->state == PEER_GONE)
        return true;
    if (p->state == PEER_OFF || now_us < p->next_us)
        return false;
    p->next_us = now_us + PEER_CHECK_MS * UINT64_C(1000);
    int state = 0;
    uint32_t cookie[2] = {0, 0};
    enum look l = look(p, &state, cookie);
    if (p->state == PEER_NEW) {
        /* Only the connection itself starts the watch: the listener the
         * kernel falls back to when nothing matches says nothing. */
        if (l == LOOK_FOUND && (state == ST_ESTABLISHED || state == ST_CLOSE_WAIT)) {
            p->cookie[0] = cookie[0];
            p->cookie[1] = cookie[1];
            p->state = state == ST_ESTABLISHED ? PEER_WATCH : PEER_GONE;
        } else if (l != LOOK_UNKNOWN) {
            p->state = PEER_OFF;
        }
    } else if (l == LOOK_NONE ||
               (l == LOOK_FOUND && (state != ST_ESTABLISHED || cookie[0] != p->cookie[0] ||
                                    cookie[1] != p->cookie[1]))) {
        /* Closing, closed, or the 4-tuple names another socket now (the
         * kernel may answer with the listener rather than ESTALE). */
        p->state = PEER_GONE;
    }
    return p->state == PEER_GONE;
}
