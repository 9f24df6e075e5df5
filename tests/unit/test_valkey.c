/* test_valkey.c - the valkey module against a real redis-server that each
 * test starts on a free port: round trips, AUTH and SELECT, a unix socket,
 * timeouts against a SIGSTOPped server, the circuit breaker opening, probing
 * and closing, recovery after a kill and restart, and one connection per
 * thread. A missing redis-server fails the tests (it is a build dependency). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "valkey.h"

#include "redis_srv.h"

static long long client_id(void)
{
    redisReply *r;
    assert_int_equal(valkey_command(&r, "CLIENT ID"), 0);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

static void set_get_round_trip(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    assert_true(valkey_up());

    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %b", "axon:t:k", "a\0b", (size_t)3), 0);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:k"), 0);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 3);
    assert_memory_equal(r->str, "a\0b", 3);
    freeReplyObject(r);

    /* argv form, with and without lengths */
    const char *set[] = {"SET", "axon:t:v", "x\0yz"};
    assert_int_equal(valkey_command_argv(&r, 3, set, (const size_t[]){3, 8, 4}), 0);
    freeReplyObject(r);
    const char *get[] = {"GET", "axon:t:v"};
    assert_int_equal(valkey_command_argv(&r, 2, get, NULL), 0);
    assert_int_equal(r->len, 4);
    assert_memory_equal(r->str, "x\0yz", 4);
    freeReplyObject(r);
    assert_int_equal(valkey_command_argv(&r, 0, get, NULL), AXON_EINVAL);
    assert_null(r);

    /* A missing key is a NIL reply, not an error. */
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:none"), 0);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);

    /* An error reply: AXON_EREPLY, the reply handed over, the server healthy. */
    assert_int_equal(valkey_command(&r, "INCR %s", "axon:t:k"), AXON_EREPLY);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "not an integer"));
    assert_non_null(strstr(valkey_strerror(), "not an integer"));
    freeReplyObject(r);
    for (int i = 0; i < VALKEY_BREAKER_FAILS + 1; i++) {
        assert_int_equal(valkey_command(&r, "NOSUCHCOMMAND"), AXON_EREPLY);
        freeReplyObject(r);
    }
    assert_true(valkey_up());

    /* One connection, reused. */
    assert_true(client_id() == client_id());
    valkey_thread_close();
    long long before = client_id();
    assert_true(client_id() == before);
}

static void unix_socket_and_select(void **state)
{
    struct srv *s = *state;
    struct valkey_addr a = {.path = s->sock, .db = 3};
    valkey_init(&a, 1000);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:db", "three"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "CLIENT INFO"), 0);
    assert_non_null(strstr(r->str, " db=3 "));
    freeReplyObject(r);

    /* Re-init on db 0: this thread reconnects and no longer sees the key. */
    a.db = 0;
    valkey_init(&a, 1000);
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:db"), 0);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
}

static void auth_right_and_wrong(void **state)
{
    struct srv *s = *state;
    char host[32], pw[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    redisReply *r;

    snprintf(pw, sizeof pw, "%s", s->pass);
    a.password = pw;
    valkey_init(&a, 1000);
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:a", "1"), 0);
    freeReplyObject(r);
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:a"), 0);
    assert_string_equal(r->str, "1");
    freeReplyObject(r);

    /* Wrong password: a clean AXON_EIO, no reply, a message without the
     * password, and (repeated) the breaker opens. */
    snprintf(pw, sizeof pw, "wrong-pw");
    valkey_init(&a, 1000);
    double t0 = now_ms();
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:a"), AXON_EIO);
    double took = now_ms() - t0;
    assert_null(r);
    assert_non_null(strstr(valkey_strerror(), "AUTH"));
    assert_null(strstr(valkey_strerror(), "wrong-pw"));
    assert_true(took < 200);
    print_message("  wrong password fails in %.1f ms: %s\n", took, valkey_strerror());
    for (int i = 1; i < VALKEY_BREAKER_FAILS; i++) {
        assert_int_equal(valkey_command(&r, "GET %s", "axon:t:a"), AXON_EIO);
        assert_null(r);
    }
    assert_false(valkey_up());

    /* No password at all: connected, but every command answers NOAUTH. */
    a.password = NULL;
    valkey_init(&a, 1000);
    assert_true(valkey_up());
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:a"), AXON_EREPLY);
    assert_non_null(r);
    assert_non_null(strstr(r->str, "NOAUTH"));
    freeReplyObject(r);
}

/* Calls until one succeeds or deadline_ms passes: the ms it took, or -1. */
static double wait_success(int deadline_ms)
{
    double t0 = now_ms();
    while (now_ms() - t0 < deadline_ms) {
        redisReply *r;
        int rc = valkey_command(&r, "PING");
        freeReplyObject(r);
        if (rc == 0)
            return now_ms() - t0;
        sleep_ms(10);
    }
    return -1;
}

static void stopped_server_times_out_and_breaker_recovers(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 50);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET %s %s", "axon:t:s", "v"), 0);
    freeReplyObject(r);

    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    /* Each failure: the first on the live connection, the next ones on a
     * fresh connection (the kernel still accepts it) whose command times out. */
    for (int i = 0; i < VALKEY_BREAKER_FAILS; i++) {
        assert_true(valkey_up());
        double t0 = now_ms();
        assert_int_equal(valkey_command(&r, "GET %s", "axon:t:s"), AXON_EIO);
        double took = now_ms() - t0;
        assert_null(r);
        print_message("  stopped server, failure %d after %.1f ms: %s\n", i + 1, took,
                      valkey_strerror());
        /* At least the timeout; the upper bound only tells "timed out"
         * from "hung" (this VM stalls for up to 50 ms at times). */
        assert_true(took >= 40 && took < 1000);
    }
    double opened = now_ms();
    assert_false(valkey_up());

    /* Open: immediate failures, no network (any network try costs >= 50 ms,
     * and counts a round trip). Counted rather than timed per call, so a
     * host stall cannot fail it. */
    unsigned long trips = valkey_round_trips();
    double t_open = now_ms();
    for (int i = 0; i < 100; i++) {
        assert_int_equal(valkey_command(&r, "GET %s", "axon:t:s"), AXON_EIO);
        assert_null(r);
    }
    assert_int_equal(valkey_round_trips(), trips);
    assert_true(now_ms() - t_open < 500);
    assert_string_equal(valkey_strerror(), "circuit open");
    print_message("  open breaker: 100 calls failed fast\n");

    assert_int_equal(kill(s->pid, SIGCONT), 0);
    double back = wait_success(3000);
    assert_true(back >= 0);
    double since_open = now_ms() - opened;
    print_message("  recovered %.0f ms after SIGCONT, %.0f ms after opening\n", back,
                  since_open);
    assert_true(since_open >= VALKEY_COOLDOWN_MS - 5);
    assert_true(valkey_up());
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:s"), 0);
    assert_string_equal(r->str, "v");
    freeReplyObject(r);
}

/* Calls until one is not refused by the open breaker, or cap_ms passes:
 * that call's result (its reply freed), or AXON_ETIMEDOUT. The breaker's
 * probe is the first such call. */
static int wait_probe(int cap_ms)
{
    double t0 = now_ms();
    while (now_ms() - t0 < cap_ms) {
        redisReply *r;
        int rc = valkey_command(&r, "PING");
        freeReplyObject(r);
        if (rc != AXON_EIO || strcmp(valkey_strerror(), "circuit open") != 0)
            return rc;
        sleep_ms(10);
    }
    return AXON_ETIMEDOUT;
}

/* Waits on events, not on the clock: the breaker's probe is polled for (it
 * comes when the cool-down ends), and the restarted server is used once it
 * answers PING (srv_start). A timeout of 1 s: a refused connection fails at
 * once anyway, and the probe that meets the restarted server must not fail
 * for a host stall (with 50 ms it did at times: the cool-down then doubled
 * again, past the wait). */
static void killed_server_restarts_and_probe_backs_off(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "PING"), 0);
    freeReplyObject(r);

    srv_kill(s);
    for (int i = 0; i < VALKEY_BREAKER_FAILS; i++) {
        double t0 = now_ms();
        assert_int_equal(valkey_command(&r, "PING"), AXON_EIO);
        double took = now_ms() - t0;
        print_message("  killed server, failure %d after %.1f ms: %s\n", i + 1, took,
                      valkey_strerror());
        assert_true(took < 200);
    }
    double opened = now_ms();
    assert_false(valkey_up());

    /* After the cool-down one probe goes out, fails (connection refused) and
     * reopens the breaker for twice as long. */
    assert_int_equal(wait_probe(VALKEY_COOLDOWN_MS + 3000), AXON_EIO);
    double probed = now_ms();
    print_message("  probe failed %.0f ms after opening: %s\n", probed - opened,
                  valkey_strerror());
    assert_true(probed - opened >= VALKEY_COOLDOWN_MS - 5);
    assert_int_equal(valkey_command(&r, "PING"), AXON_EIO);
    assert_string_equal(valkey_strerror(), "circuit open");
    assert_false(valkey_up());

    /* Same port, new server, answering PING: still open until 2 x cool-down
     * after the probe (unless the restart itself took that long). */
    assert_int_equal(srv_start(s), 0);
    double ready = now_ms();
    if (ready - probed < 2 * VALKEY_COOLDOWN_MS - 50) {
        assert_int_equal(valkey_command(&r, "PING"), AXON_EIO);
        assert_string_equal(valkey_strerror(), "circuit open");
    } else {
        print_message("  the restart took %.0f ms: the breaker may be probing already\n",
                      ready - probed);
    }
    /* The next probe meets the ready server and closes the breaker. */
    assert_int_equal(wait_probe(2 * VALKEY_COOLDOWN_MS + 3000), AXON_OK);
    double since_probe = now_ms() - probed;
    print_message("  restarted server answered %.0f ms after the failed probe\n", since_probe);
    assert_true(since_probe >= 2 * VALKEY_COOLDOWN_MS - 5);
    assert_true(valkey_up());
}

static pthread_barrier_t barrier;

static void *thread_main(void *arg)
{
    long long *id = arg;
    redisReply *r;
    if (valkey_command(&r, "CLIENT ID") != 0) {
        freeReplyObject(r);
        return NULL;
    }
    long long first = r->integer;
    freeReplyObject(r);
    pthread_barrier_wait(&barrier); /* both threads connected at once */
    if (valkey_command(&r, "CLIENT ID") != 0) {
        freeReplyObject(r);
        return NULL;
    }
    if (r->integer == first)
        *id = first;
    freeReplyObject(r);
    return NULL; /* no valkey_thread_close: the key destructor frees it */
}

static int client_count(void)
{
    redisReply *r;
    assert_int_equal(valkey_command(&r, "CLIENT LIST"), 0);
    int n = 0;
    for (const char *p = r->str; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    freeReplyObject(r);
    return n;
}

static void one_connection_per_thread(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    long long ids[2] = {0, 0};
    pthread_t th[2];
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &ids[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&barrier);
    long long mine = client_id();
    assert_true(ids[0] > 0 && ids[1] > 0);
    assert_true(ids[0] != ids[1]);
    assert_true(mine != ids[0] && mine != ids[1]);

    /* The exited threads' connections were closed by the key destructor. */
    int n = 0;
    for (int i = 0; i < 50 && (n = client_count()) != 1; i++)
        sleep_ms(10);
    assert_int_equal(n, 1);
}

/* A restart between two commands: the kept connection is dead, but the next
 * command (and the next pipeline) must not fail because of it, nor count
 * against the breaker: one thread per worker would otherwise fail one
 * request each after every Valkey restart. */
static void restart_between_commands_costs_no_failure(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "SET k v"), 0);
    freeReplyObject(r);
    srv_kill(s);
    assert_int_equal(srv_start(s), 0);
    assert_int_equal(valkey_command(&r, "GET k"), 0); /* an empty new server */
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    assert_true(valkey_up());
    assert_true(client_id() > 0);

    srv_kill(s);
    assert_int_equal(srv_start(s), 0);
    const char *set[] = {"SET", "a", "1"}, *get[] = {"GET", "a"};
    struct valkey_cmd cmds[] = {{.argc = 3, .argv = set}, {.argc = 2, .argv = get}};
    redisReply *rs[2];
    assert_int_equal(valkey_pipeline(2, cmds, rs), 0);
    assert_string_equal(rs[1]->str, "1");
    valkey_free_replies(2, rs);
    assert_true(valkey_up());
}

static struct valkey_script incr_by = {.src = "return redis.call('INCRBY', KEYS[1], ARGV[1])"};
static struct valkey_script echo_key = {.src = "return KEYS[1] .. ':' .. ARGV[1]"};

struct resume_arg {
    pid_t pid;
    int after_ms;
};

static void *resume_later(void *p)
{
    const struct resume_arg *a = p;
    struct timespec ts = {a->after_ms / 1000, (long)(a->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kill(a->pid, SIGCONT);
    return NULL;
}

/* A batch with a longer wait (a store awaited past its deadline) outlasts a
 * stall that the timeout does not, and only that batch: the next command
 * times out as before. TIME reads the server's clock. */
static void longer_wait_outlasts_a_stall(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 100);
    long long ms = 0;
    double host_before = (double)time(NULL) * 1000;
    assert_int_equal(valkey_server_time_ms(&ms), 0);
    assert_true(ms >= host_before - 1000 && ms <= (double)time(NULL) * 1000 + 1000);

    const char *ping[] = {"PING"};
    struct valkey_batch b = {0};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 1, .argv = ping}), 0);
    assert_int_equal(valkey_batch_run(&b), 0); /* connected, before the stall */
    valkey_batch_free(&b);

    /* Stalled for 400 ms: the timeout (100 ms) gives up... */
    struct resume_arg ra = {s->pid, 400};
    pthread_t th;
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    assert_int_equal(pthread_create(&th, NULL, resume_later, &ra), 0);
    double t0 = now_ms();
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 1, .argv = ping}), 0);
    assert_int_equal(valkey_batch_run(&b), AXON_EIO);
    valkey_batch_free(&b);
    double gave_up = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(gave_up >= 90 && gave_up < 380);

    /* ...and a 1.5 s wait sees the reply. */
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    assert_int_equal(pthread_create(&th, NULL, resume_later, &ra), 0);
    t0 = now_ms();
    b.wait_ms = 1500;
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 1, .argv = ping}), 0);
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_string_equal(b.rep[0]->str, "PONG");
    valkey_batch_free(&b);
    double waited = now_ms() - t0;
    pthread_join(th, NULL);
    print_message("  stalled 400 ms: gave up after %.0f ms; with a longer wait, answered after %.0f ms\n",
                  gave_up, waited);
    assert_true(waited >= 350);

    /* The connection's timeout is back to 100 ms. */
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    ra.after_ms = 600;
    assert_int_equal(pthread_create(&th, NULL, resume_later, &ra), 0);
    t0 = now_ms();
    redisReply *r;
    assert_int_equal(valkey_command(&r, "PING"), AXON_EIO);
    double after = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(after < 550);
}

/* Scripts and plain commands of several modules in one batch: one round
 * trip once the scripts are loaded (counted by us and by the server), the
 * replies in order, and a flushed script cache costs the batch nothing. */
static void batch_of_scripts_is_one_round_trip(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 200);
    const char *inc[] = {"axon:t:n", "5"}, *echo[] = {"axon:t:e", "x"}, *get[] = {"GET", "axon:t:n"};
    for (int round = 0; round < 3; round++) {
        if (round == 2) {
            redisReply *r;
            assert_int_equal(valkey_command(&r, "SCRIPT FLUSH"), 0);
            freeReplyObject(r);
        }
        struct valkey_batch b = {0};
        assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = inc,
                                                                   .script = &incr_by, .nkeys = 1}), 0);
        assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = echo,
                                                                   .script = &echo_key, .nkeys = 1}), 1);
        assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = get}), 2);
        long long reads = srv_reads();
        unsigned long ours = valkey_round_trips();
        assert_int_equal(valkey_batch_run(&b), 0);
        unsigned long used = valkey_round_trips() - ours;
        long long seen = srv_reads() - reads - 1;
        if (round == 1) {
            assert_int_equal(used, 1);
            assert_int_equal(seen, 1);
        } else {
            assert_true(used > 1); /* loading (round 0) or NOSCRIPT (round 2) costs more */
            assert_int_equal(seen, (long long)used);
        }
        assert_int_equal(b.rep[0]->integer, 5 * (round + 1));
        assert_string_equal(b.rep[1]->str, "axon:t:e:x");
        /* After a flush the scripts run again after the batch's plain
         * commands: GET saw the count before the retried INCRBY. */
        char want[8];
        snprintf(want, sizeof want, "%d", 5 * (round + (round == 2 ? 0 : 1)));
        assert_string_equal(b.rep[2]->str, want);
        valkey_batch_free(&b);
    }
    /* A full batch refuses the next command instead of overflowing. */
    struct valkey_batch full = {0};
    for (int i = 0; i < VALKEY_MAX_PIPELINE; i++)
        assert_int_equal(valkey_batch_add(&full, (struct valkey_cmd){.argc = 2, .argv = get}), i);
    assert_int_equal(valkey_batch_add(&full, (struct valkey_cmd){.argc = 2, .argv = get}),
                     AXON_ETOOBIG);
}

/* ---- the breaker rule (valkey.h): a large reply that is late is not Valkey down ---- */

/* A fake server on a free port for replies a real one cannot be made to
 * give: every connection gets `head` at once after its first read, then
 * `tail` after tail_ms (tail NULL: never), and stays open until the test
 * ends. */
struct fake {
    int fd, port;
    const char *head, *tail;
    int tail_ms;
    volatile int stop;
    pthread_t th;
};

static void *fake_main(void *p)
{
    struct fake *f = p;
    int conns[64], nc = 0;
    while (!f->stop) {
        struct timeval tv = {0, 20000};
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(f->fd, &rd);
        if (select(f->fd + 1, &rd, NULL, NULL, &tv) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[4096];
        if (recv(c, buf, sizeof buf, 0) > 0) {
            (void)send(c, f->head, strlen(f->head), MSG_NOSIGNAL);
            if (f->tail) {
                sleep_ms(f->tail_ms);
                (void)send(c, f->tail, strlen(f->tail), MSG_NOSIGNAL);
            }
        }
        if (nc < 64)
            conns[nc++] = c;
        else
            close(c);
    }
    for (int i = 0; i < nc; i++)
        close(conns[i]);
    return NULL;
}

static void fake_start(struct fake *f)
{
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(listen(f->fd, 16), 0);
    f->stop = 0;
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
    struct valkey_addr a = {.host = (char *)"127.0.0.1", .port = f->port};
    valkey_init(&a, 50);
}

static void fake_stop(struct fake *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->fd);
    valkey_thread_close();
}

/* A read given a wait of 150 ms (large: raised for its size, as conv.c
 * does for a part of a long history) against the fake. */
static int late_read(bool large, double *took)
{
    const char *get[] = {"GET", "axon:t:big"};
    struct valkey_batch b = {.wait_ms = 150, .large = large};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = get}), 0);
    double t0 = now_ms();
    int rc = valkey_batch_run(&b);
    *took = now_ms() - t0;
    valkey_batch_free(&b);
    return rc;
}

/* A large reply (its wait raised for its size) that never comes: each read
 * waits its allowance and fails alone, and however many fail, the breaker
 * stays closed for everyone else. */
static void large_reply_late_does_not_open_the_breaker(void **state)
{
    (void)state;
    struct fake f = {.head = ""};
    fake_start(&f);
    unsigned long long opens = valkey_breaker_opens();
    for (int i = 0; i < VALKEY_BREAKER_FAILS + 2; i++) {
        double took;
        assert_int_equal(late_read(true, &took), AXON_EIO);
        print_message("  large reply late, read %d gave up after %.0f ms\n", i + 1, took);
        assert_true(took >= 140 && took < 1000);
        assert_true(valkey_up());
    }
    assert_true(valkey_breaker_opens() == opens);
    fake_stop(&f);
}

/* The same wait for a reply not marked large: three late replies are the
 * server failing, and the breaker opens. So does a plain command's. */
static void small_reply_late_opens_the_breaker(void **state)
{
    (void)state;
    struct fake f = {.head = ""};
    fake_start(&f);
    unsigned long long opens = valkey_breaker_opens();
    for (int i = 0; i < VALKEY_BREAKER_FAILS; i++) {
        double took;
        assert_true(valkey_up());
        assert_int_equal(late_read(false, &took), AXON_EIO);
        assert_true(took >= 140 && took < 1000);
    }
    assert_false(valkey_up());
    assert_true(valkey_breaker_opens() == opens + 1);
    fake_stop(&f);
}

/* A large reply that comes after 100 ms is read whole: its wait was
 * raised (the timeout alone, 50 ms, gives up). */
static void large_reply_gets_time_for_its_size(void **state)
{
    (void)state;
    struct fake f = {.head = "", .tail = "$2\r\nok\r\n", .tail_ms = 100};
    fake_start(&f);
    double took;
    assert_int_equal(late_read(true, &took), 0);
    print_message("  large reply answered after %.0f ms\n", took);
    assert_true(took >= 90);
    redisReply *r;
    assert_int_equal(valkey_command(&r, "GET %s", "axon:t:big"), AXON_EIO);
    fake_stop(&f);
}

/* AXON_VALKEY_WAIT_REPLICAS on one server: WAIT ends the round trip; a
 * server without replicas cannot confirm one, so a durable batch's writes
 * are done but not acknowledged, after WAIT's timeout, not forever. */
static void durable_batch_waits_for_replicas(void **state)
{
    struct srv *s = *state;
    char host[32];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 100);
    const char *set[] = {"SET", "axon:t:dur", "x"}, *get[] = {"GET", "axon:t:dur"};
    struct valkey_batch b = {.durable = 1};
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = set}), 0);
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 2, .argv = get}), 1);
    unsigned long before = valkey_round_trips();
    double t0 = now_ms();
    assert_int_equal(valkey_batch_run(&b), 0);
    double took = now_ms() - t0;
    assert_true(took >= 90 && took < 1000);
    assert_int_equal(valkey_round_trips() - before, 1);
    assert_string_equal(b.rep[1]->str, "x");
    assert_false(valkey_batch_acked(&b, 0));
    assert_false(valkey_batch_acked(&b, 1));
    valkey_batch_free(&b);
    /* Not durable: no WAIT, acknowledged as before. */
    b.durable = 0;
    assert_int_equal(valkey_batch_add(&b, (struct valkey_cmd){.argc = 3, .argv = set}), 0);
    assert_int_equal(valkey_batch_run(&b), 0);
    assert_true(valkey_batch_acked(&b, 0));
    valkey_batch_free(&b);
    valkey_shutdown();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does; hiredis writes with write(2) */
    log_set_level(AXON_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(set_get_round_trip, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(batch_of_scripts_is_one_round_trip, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(durable_batch_waits_for_replicas, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(longer_wait_outlasts_a_stall, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(unix_socket_and_select, setup_unix, teardown),
        cmocka_unit_test_setup_teardown(auth_right_and_wrong, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(stopped_server_times_out_and_breaker_recovers,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(killed_server_restarts_and_probe_backs_off,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(one_connection_per_thread, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(restart_between_commands_costs_no_failure, setup_plain,
                                        teardown),
        cmocka_unit_test(large_reply_late_does_not_open_the_breaker),
        cmocka_unit_test(small_reply_late_opens_the_breaker),
        cmocka_unit_test(large_reply_gets_time_for_its_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
