/* test_peer.c - the web server's client connection, watched through the
 * kernel: real TCP connections on loopback stand in for lighttpd's
 * accepted socket and its client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

#define S UINT64_C(1000000) /* one second in the clock peer_gone is given */

/* A listener, a client connected to it and the accepted end (the web
 * server's), with the four parameters the web server would pass. */
struct conn {
    int lfd, cfd, afd;
    char lport[8], cport[8];
};

static void conn_open(struct conn *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    c->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->lfd >= 0);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c->lfd, 4), 0);
    assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&a, &n), 0);
    snprintf(c->lport, sizeof c->lport, "%u", ntohs(a.sin_port));
    c->cfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c->cfd, (struct sockaddr *)&a, sizeof a), 0);
    c->afd = accept(c->lfd, NULL, NULL);
    assert_true(c->afd >= 0);
    n = sizeof a;
    assert_int_equal(getsockname(c->cfd, (struct sockaddr *)&a, &n), 0);
    snprintf(c->cport, sizeof c->cport, "%u", ntohs(a.sin_port));
}

static void conn_close(struct conn *c)
{
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->afd >= 0)
        close(c->afd);
    close(c->lfd);
}

static void a_client_that_closes_is_gone(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    struct peer p;
    peer_init(&p, "127.0.0.1", c.lport, "127.0.0.1", c.cport, 0);
    assert_int_equal(p.state, PEER_NEW);
    assert_false(peer_gone(&p, 1 * S));      /* ESTABLISHED */
    assert_int_equal(p.state, PEER_WATCH);
    close(c.cfd);                            /* the client leaves: FIN */
    c.cfd = -1;
    assert_false(peer_gone(&p, 1 * S + 50000)); /* asked 50 ms ago: not yet */
    assert_true(peer_gone(&p, 2 * S));       /* CLOSE_WAIT */
    assert_true(peer_gone(&p, 2 * S));       /* and it stays so */
    conn_close(&c);
}

static void a_connection_closed_on_both_ends_is_gone(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    struct peer p;
    peer_init(&p, "127.0.0.1", c.lport, "127.0.0.1", c.cport, 0);
    assert_false(peer_gone(&p, 1 * S));
    close(c.afd); /* the web server gave up on it too */
    close(c.cfd);
    c.afd = c.cfd = -1;
    usleep(20000);
    /* The 4-tuple now finds the listener (or nothing): another socket. */
    assert_true(peer_gone(&p, 2 * S));
    conn_close(&c);
}

static void a_client_that_left_before_the_first_look_is_gone(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    struct peer p;
    peer_init(&p, "127.0.0.1", c.lport, "127.0.0.1", c.cport, 0);
    shutdown(c.cfd, SHUT_WR); /* a half-close: nginx takes it as leaving too */
    usleep(20000);
    assert_true(peer_gone(&p, 1 * S));
    conn_close(&c);
}

static void what_cannot_be_found_is_never_called_gone(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    struct peer p;
    /* A port with no such connection: the kernel answers with the
     * listener; the watch goes off and claims nothing from then on. */
    peer_init(&p, "127.0.0.1", c.lport, "127.0.0.1", "1", 0);
    assert_false(peer_gone(&p, 1 * S));
    assert_int_equal(p.state, PEER_OFF);
    assert_false(peer_gone(&p, 5 * S));
    /* Nothing listens there at all. */
    peer_init(&p, "127.0.0.1", "1", "127.0.0.1", c.cport, 0);
    assert_false(peer_gone(&p, 1 * S));
    assert_int_equal(p.state, PEER_OFF);
    /* Parameters a unix socket, a proxy or a bare config give. */
    const char *bad[][4] = {
        {NULL, c.lport, "127.0.0.1", c.cport},
        {"127.0.0.1", "", "127.0.0.1", c.cport},
        {"127.0.0.1", c.lport, "unix:/run/x.sock", c.cport},
        {"127.0.0.1", c.lport, "::1", c.cport},          /* two families */
        {"127.0.0.1", "70000", "127.0.0.1", c.cport},
        {"127.0.0.1", c.lport, "127.0.0.1", "12ab"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        peer_init(&p, bad[i][0], bad[i][1], bad[i][2], bad[i][3], 0);
        assert_int_equal(p.state, PEER_OFF);
        assert_false(peer_gone(&p, 1 * S));
    }
    conn_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_client_that_closes_is_gone),
        cmocka_unit_test(a_connection_closed_on_both_ends_is_gone),
        cmocka_unit_test(a_client_that_left_before_the_first_look_is_gone),
        cmocka_unit_test(what_cannot_be_found_is_never_called_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
