/* redis_srv.h - unit-test helper: a real redis-server on a free port (or a
 * unix socket), started per test and killed after it. Header-only, static:
 * include it after cmocka.h in one test file. */
#ifndef AXON_TEST_REDIS_SRV_H
#define AXON_TEST_REDIS_SRV_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "valkey.h"

struct srv {
    pid_t pid;
    int port;
    const char *pass; /* --requirepass, or NULL */
    char sock[64];    /* --unixsocket, or "" */
};

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The server's own count of reads from clients: one per round trip of a
 * client that waits for its replies, plus one for this INFO itself. Read
 * through the valkey module, which must be connected. */
static inline long long srv_reads(void)
{
    redisReply *r;
    if (valkey_command(&r, "INFO stats") != 0)
        return -1;
    const char *p = strstr(r->str, "total_reads_processed:");
    long long n = p ? strtoll(p + strlen("total_reads_processed:"), NULL, 10) : -1;
    freeReplyObject(r);
    return n;
}

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* Starts redis-server and waits until it answers PING: 0, or -1 (message
 * printed) when it is missing or does not come up within 5 s. */
static inline int srv_start(struct srv *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[16];
    int n = 0;
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    if (s->pass) {
        argv[n++] = "--requirepass";
        argv[n++] = s->pass;
    }
    if (s->sock[0]) {
        argv[n++] = "--unixsocket";
        argv[n++] = s->sock;
    }
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    double deadline = now_ms() + 5000;
    struct timeval tv = {0, 200000};
    while (now_ms() < deadline) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            print_error("redis-server did not start (exit %d): is it installed? "
                        "(apt-get install redis-server)\n",
                        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            return -1;
        }
        redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
        if (c && !c->err) {
            redisSetTimeout(c, tv);
            redisReply *r = redisCommand(c, "PING"); /* NOAUTH is an answer too */
            bool up = r != NULL;
            freeReplyObject(r);
            redisFree(c);
            if (up)
                return 0;
        } else {
            redisFree(c);
        }
        sleep_ms(10);
    }
    print_error("redis-server on port %d did not answer PING within 5 s\n", s->port);
    return -1;
}

static inline void srv_kill(struct srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL); /* works on a stopped process too */
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static inline int setup_with(void **state, const char *pass, bool unix_sock)
{
    struct srv *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    *state = s;
    s->port = free_port();
    s->pass = pass;
    if (unix_sock)
        snprintf(s->sock, sizeof s->sock, "/tmp/axon-valkey-test-%d.sock", (int)getpid());
    if (s->port <= 0)
        return -1;
    return srv_start(s);
}

static inline int setup_plain(void **state)
{
    return setup_with(state, NULL, false);
}

static inline int setup_auth(void **state)
{
    return setup_with(state, "s3cret-pw", false);
}

static inline int setup_unix(void **state)
{
    return setup_with(state, NULL, true);
}

static inline int teardown(void **state)
{
    struct srv *s = *state;
    valkey_shutdown();
    if (s) {
        srv_kill(s);
        if (s->sock[0])
            unlink(s->sock);
        free(s);
    }
    return 0;
}

/* An address on the test server; host lives in the caller's buffer. */
static inline struct valkey_addr tcp_addr(const struct srv *s, char *host, size_t hostlen)
{
    snprintf(host, hostlen, "127.0.0.1");
    return (struct valkey_addr){.host = host, .port = s->port};
}

#endif
