/* valkey.c - per-thread hiredis connections with timeouts, and a lock-free
 * circuit breaker shared by every thread. See valkey.h for the contract. */
#include "valkey.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "acct.h"
#include "buf.h"
#include "log.h"
#include "sentinel.h"
#include "text.h"

/* One per thread, behind the pthread key. */
struct vk_conn {
    redisContext *c; /* NULL until connected, and after a failure */
    unsigned gen;    /* g_gen when c was made */
};

/* Set by valkey_init before threads; read-only afterwards. */
static struct valkey_addr g_addr;
static struct timeval g_tv;
static bool g_ready;
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
/* Bumped by every valkey_init: a thread whose connection is older reconnects. */
static atomic_uint g_gen;

/* The breaker. open_until_ms == 0: closed. Otherwise open until that
 * monotonic instant, then half-open: the thread that wins `probing` probes. */
static atomic_int br_fails;
static atomic_llong br_open_until_ms;
static atomic_int br_cooldown_ms = VALKEY_COOLDOWN_MS;
static atomic_bool br_probing;
static atomic_ullong br_opens; /* times it opened: /metrics */

static _Thread_local char t_err[160];

/* Every exchange with the server goes through here once (acct.h counts). */
static void count_round_trip(void)
{
    acct_valkey_round_trip();
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_destroy(void *p)
{
    struct vk_conn *k = p;
    if (!k)
        return;
    if (k->c)
        redisFree(k->c);
    free(k);
}

static void key_create(void)
{
    if (pthread_key_create(&g_key, conn_destroy) != 0)
        abort(); /* only EAGAIN/ENOMEM: as good as OOM */
}

static void breaker_reset(void)
{
    atomic_store(&br_fails, 0);
    atomic_store(&br_open_until_ms, 0);
    atomic_store(&br_cooldown_ms, VALKEY_COOLDOWN_MS);
    atomic_store(&br_probing, false);
}

void valkey_init(const struct valkey_addr *addr, int timeout_ms)
{
    pthread_once(&g_key_once, key_create);
    valkey_addr_free(&g_addr);
    valkey_addr_copy(&g_addr, addr);
    if (timeout_ms <= 0)
        timeout_ms = VALKEY_TIMEOUT_MS_DEFAULT;
    g_tv.tv_sec = timeout_ms / 1000;
    g_tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
    breaker_reset();
    sentinel_forget();
    atomic_fetch_add(&g_gen, 1);
    g_ready = true;
}

void valkey_thread_close(void)
{
    if (!g_ready)
        return;
    conn_destroy(pthread_getspecific(g_key));
    pthread_setspecific(g_key, NULL);
}

void valkey_shutdown(void)
{
    valkey_thread_close();
    valkey_addr_free(&g_addr);
    g_ready = false;
}

unsigned long long valkey_breaker_opens(void)
{
    return atomic_load(&br_opens);
}

bool valkey_up(void)
{
    return atomic_load(&br_open_until_ms) == 0;
}

const char *valkey_strerror(void)
{
    return t_err;
}

/* May this call go to the network? Sets *probe when it is the half-open probe. */
static bool breaker_admit(bool *probe)
{
    *probe = false;
    long long until = atomic_load(&br_open_until_ms);
    if (until == 0)
        return true;
    if (now_ms() < until)
        return false;
    bool idle = false;
    if (!atomic_compare_exchange_strong(&br_probing, &idle, true))
        return false; /* another thread is probing */
    if (atomic_load(&br_open_until_ms) == 0) {
        /* A probe closed it between our two loads: an ordinary call. */
        atomic_store(&br_probing, false);
        return true;
    }
    *probe = true;
    return true;
}

static void breaker_success(void)
{
    if (atomic_load(&br_fails) != 0)
        atomic_store(&br_fails, 0);
    if (atomic_load(&br_open_until_ms) != 0) {
        atomic_store(&br_cooldown_ms, VALKEY_COOLDOWN_MS);
        atomic_store(&br_open_until_ms, 0);
        atomic_store(&br_probing, false);
        log_msg(AXON_LOG_INFO, "valkey: circuit closed, server answers again");
    }
}

static void breaker_failure(bool probe)
{
    int n = atomic_fetch_add(&br_fails, 1) + 1;
    if (probe) {
        int cd = atomic_load(&br_cooldown_ms) * 2;
        if (cd > VALKEY_COOLDOWN_MAX_MS)
            cd = VALKEY_COOLDOWN_MAX_MS;
        atomic_store(&br_cooldown_ms, cd);
        /* Reopen before releasing the probe flag, so nobody else sees an
         * expired deadline with no probe running. */
        atomic_store(&br_open_until_ms, now_ms() + cd);
        atomic_store(&br_probing, false);
        log_msg(AXON_LOG_WARN, "valkey: probe failed (%s), circuit open for %d ms", t_err, cd);
        return;
    }
    if (n < VALKEY_BREAKER_FAILS)
        return;
    long long closed = 0;
    int cd = atomic_load(&br_cooldown_ms);
    if (atomic_compare_exchange_strong(&br_open_until_ms, &closed, now_ms() + cd)) {
        atomic_fetch_add(&br_opens, 1);
        log_msg(AXON_LOG_WARN, "valkey: %d consecutive failures (%s), circuit open for %d ms",
                n, t_err, cd);
    }
}

/* A call that failed without a verdict on the server (a large reply that
 * did not come in time: valkey.h): the breaker is not moved, and a probe
 * leaves the next call to probe. */
static void breaker_neutral(bool probe)
{
    if (probe)
        atomic_store(&br_probing, false);
}

/* The last read ran out of time (SO_RCVTIMEO: hiredis 0.14 reports
 * REDIS_ERR_IO with errno EAGAIN), as opposed to a closed or reset
 * connection, which says the server failed whatever was asked. */
static bool timed_out(const redisContext *c)
{
    return c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void set_err(const char *what, const redisContext *c)
{
    snprintf(t_err, sizeof t_err, "%s: %s", what,
             c && c->err ? c->errstr : "no answer");
}

/* Runs a setup command (AUTH, SELECT) on a fresh context: 0 or AXON_EIO. */
static int setup_command(redisContext *c, const char *what, redisReply *r)
{
    int rc = AXON_OK;
    count_round_trip();
    if (!r) {
        set_err(what, c);
        rc = AXON_EIO;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(t_err, sizeof t_err, "%s: %.*s", what, (int)r->len, r->str);
        rc = AXON_EIO;
    }
    freeReplyObject(r);
    return rc;
}

/* Sentinel mode (sentinel.h): the primary into host and *port when
 * connecting, and the periodic check when it is due; a new primary bumps
 * *gen, so every thread moves to it. 0, or (connecting) AXON_EIO. */
static int sentinel_addr(bool connecting, char *host, size_t n, int *port, unsigned *gen)
{
    bool moved = false;
    if (g_addr.mode != VALKEY_SENTINEL || !(connecting || sentinel_due()))
        return AXON_OK;
    int rc = sentinel_resolve(&g_addr, (int)(g_tv.tv_sec * 1000 + g_tv.tv_usec / 1000), host, n,
                              port, &moved);
    if (moved)
        *gen = atomic_fetch_add(&g_gen, 1) + 1;
    if (rc && connecting)
        snprintf(t_err, sizeof t_err, "connect: %s", sentinel_strerror());
    return connecting ? rc : AXON_OK;
}

/* A ready context for this thread, or NULL with t_err set. *reused tells
 * whether it served commands before (and so may have gone stale). */
static redisContext *thread_context(bool *reused)
{
    *reused = false;
    struct vk_conn *k = pthread_getspecific(g_key);
    unsigned gen = atomic_load(&g_gen);
    char shost[SENTINEL_HOST_MAX];
    int sport = 0;
    (void)sentinel_addr(false, shost, sizeof shost, &sport, &gen);
    if (!k) {
        k = xcalloc(1, sizeof *k);
        if (pthread_setspecific(g_key, k) != 0)
            abort();
    }
    if (k->c && k->gen == gen) {
        *reused = true;
        return k->c;
    }
    if (k->c) {
        redisFree(k->c);
        k->c = NULL;
    }
    if (sentinel_addr(true, shost, sizeof shost, &sport, &gen))
        return NULL;
    if (g_addr.mode == VALKEY_CLUSTER) {
        /* The cluster form is parsed (config.c); its routing is issue 21's
         * work in progress. */
        snprintf(t_err, sizeof t_err, "connect: this AXON_VALKEY_URL form is not supported yet");
        return NULL;
    }
    redisContext *c = g_addr.path ? redisConnectUnixWithTimeout(g_addr.path, g_tv)
                                  : redisConnectWithTimeout(sport ? shost : g_addr.host,
                                                            sport ? sport : g_addr.port, g_tv);
    if (!c)
        abort(); /* hiredis returns NULL only on OOM */
    if (c->err) {
        set_err("connect", c);
        goto fail;
    }
    /* The connect timeout does not cover commands; this does (again after
     * every connect, as redisReconnect would forget it). */
    if (redisSetTimeout(c, g_tv) != REDIS_OK) {
        set_err("set timeout", c);
        goto fail;
    }
    if (g_addr.password &&
        setup_command(c, "AUTH", redisCommand(c, "AUTH %s", g_addr.password)))
        goto fail;
    if (g_addr.db != 0 && setup_command(c, "SELECT", redisCommand(c, "SELECT %d", g_addr.db)))
        goto fail;
    k->c = c;
    k->gen = gen;
    return c;
fail:
    sentinel_forget(); /* Sentinel: perhaps no longer the primary */
    redisFree(c);
    return NULL;
}

/* A kept connection the server closed (it restarted, or dropped an idle
 * client): the command never reached a live server, so sending it once
 * more on a fresh connection is safe, and no reason to fail the request or
 * count against the breaker. A timeout is not this: the command may have
 * run. */
static bool stale(const redisContext *c)
{
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
}

/* False when the server has closed a kept connection (a peek reads EOF or
 * an error): checked before a pipeline, which is not resent. */
static bool alive(const redisContext *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

static void drop_context(void)
{
    struct vk_conn *k = pthread_getspecific(g_key);
    if (k && k->c) {
        redisFree(k->c);
        k->c = NULL;
    }
    sentinel_forget(); /* Sentinel: a failed primary, the next connect asks again */
}

/* fmt and *ap, or (fmt NULL) argc/argv/lens. */
static int run(redisReply **out, const char *fmt, va_list *ap, int argc, const char **argv,
               const size_t *lens)
{
    *out = NULL;
    t_err[0] = '\0';
    if (!g_ready) {
        snprintf(t_err, sizeof t_err, "valkey_init was not called");
        return AXON_EIO;
    }
    if (!fmt && (argc < 1 || !argv)) {
        snprintf(t_err, sizeof t_err, "empty command");
        return AXON_EINVAL;
    }
    bool probe;
    if (!breaker_admit(&probe)) {
        snprintf(t_err, sizeof t_err, "circuit open");
        return AXON_EIO;
    }
    redisContext *c;
    redisReply *r;
    bool reused;
    for (int attempt = 0;; attempt++) {
        c = thread_context(&reused);
        if (!c) {
            breaker_failure(probe);
            return AXON_EIO;
        }
        count_round_trip();
        if (fmt) {
            va_list copy;
            va_copy(copy, *ap);
            r = redisvCommand(c, fmt, copy);
            va_end(copy);
        } else {
            size_t *own = NULL;
            if (!lens) {
                own = xmalloc((size_t)(argc > 0 ? argc : 1) * sizeof *own);
                for (int i = 0; i < argc; i++)
                    own[i] = strlen(argv[i]);
            }
            r = redisCommandArgv(c, argc, argv, lens ? lens : own);
            free(own);
        }
        if (r || attempt > 0 || !reused || !stale(c))
            break;
        drop_context(); /* the server restarted or closed an idle connection */
    }
    if (!r) {
        int err = c->err;
        set_err("command", c);
        drop_context(); /* dead after a timeout or I/O error */
        if (err == REDIS_ERR_OTHER) {
            /* A bad format string: our bug, not the server's health. */
            if (probe)
                atomic_store(&br_probing, false);
            return AXON_EINVAL;
        }
        breaker_failure(probe);
        return AXON_EIO;
    }
    breaker_success();
    *out = r;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(t_err, sizeof t_err, "%.*s", (int)r->len, r->str);
        if (g_addr.mode == VALKEY_SENTINEL && sentinel_readonly(r->str))
            drop_context(); /* a demoted primary (sentinel.h) */
        return AXON_EREPLY;
    }
    return AXON_OK;
}

int valkey_command(redisReply **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = run(out, fmt, &ap, 0, NULL, NULL);
    va_end(ap);
    return rc;
}

int valkey_command_argv(redisReply **out, int argc, const char **argv, const size_t *lens)
{
    return run(out, NULL, NULL, argc, argv, lens);
}

static int script_load(struct valkey_script *s);
static void script_forget(struct valkey_script *s);
static void script_sha(struct valkey_script *s, char sha[41]);

/* Appends one pipeline command to c's output buffer: a script command as
 * EVALSHA sha nkeys keys... args... 0, or AXON_EINVAL for a bad shape. */
static int append_command(redisContext *c, const struct valkey_cmd *cmd)
{
    const char *argv[VALKEY_MAX_ARGS];
    size_t lens[VALKEY_MAX_ARGS];
    int pre = cmd->script ? 3 : 0;
    if (cmd->argc < (cmd->script ? 0 : 1) || cmd->argc + pre > VALKEY_MAX_ARGS ||
        (cmd->script && (cmd->nkeys < 0 || cmd->nkeys > cmd->argc)))
        return AXON_EINVAL;
    char sha[41], nk[16];
    if (cmd->script) {
        script_sha(cmd->script, sha);
        snprintf(nk, sizeof nk, "%d", cmd->nkeys);
        argv[0] = "EVALSHA", lens[0] = 7;
        argv[1] = sha, lens[1] = 40;
        argv[2] = nk, lens[2] = strlen(nk);
    }
    for (int a = 0; a < cmd->argc; a++) {
        argv[pre + a] = cmd->argv[a];
        lens[pre + a] = cmd->lens ? cmd->lens[a] : strlen(cmd->argv[a]);
    }
    if (redisAppendCommandArgv(c, pre + cmd->argc, argv, lens) != REDIS_OK)
        abort(); /* only on OOM */
    return AXON_OK;
}

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* How pipeline_wait waits for replies (valkey.h: the breaker rule). */
struct pl_wait {
    long long wait_ms; /* the least wait for each reply; <= timeout: the timeout */
    bool large;        /* the wait was raised for the data moved: a timeout is neutral */
};

/* pipeline_wait's reading half: the n replies of what c was sent. */
static int pipeline_replies(redisContext *c, int n, const struct valkey_cmd *cmds,
                            redisReply **replies, bool probe, const struct pl_wait *w)
{
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || !r) {
            bool late = timed_out(c);
            set_err("pipeline", c);
            drop_context();
            if (late && w->large)
                breaker_neutral(probe);
            else
                breaker_failure(probe);
            for (int j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            return AXON_EIO;
        }
        replies[i] = r;
    }
    breaker_success();
    /* NOSCRIPT: the server restarted or was flushed since the load, and
     * that command did not run. It runs now on its own, in order. */
    for (int i = 0; i < n; i++) {
        if (!cmds[i].script || !is_noscript(replies[i]))
            continue;
        freeReplyObject(replies[i]);
        replies[i] = NULL;
        script_forget(cmds[i].script);
        int rc = valkey_eval(cmds[i].script, &replies[i], cmds[i].nkeys, cmds[i].argv,
                             cmds[i].argc - cmds[i].nkeys, cmds[i].argv + cmds[i].nkeys,
                             cmds[i].lens ? cmds[i].lens + cmds[i].nkeys : NULL);
        if (rc == AXON_EIO) {
            valkey_free_replies(n, replies);
            return AXON_EIO;
        }
    }
    int rc = AXON_OK;
    for (int i = 0; i < n && rc == AXON_OK; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(t_err, sizeof t_err, "%.*s", (int)replies[i]->len, replies[i]->str);
            if (g_addr.mode == VALKEY_SENTINEL && sentinel_readonly(replies[i]->str))
                drop_context(); /* a demoted primary (sentinel.h) */
            rc = AXON_EREPLY;
        }
    }
    return rc;
}

/* The context's read timeout: ms, or the configured one when ms is 0.
 * (setsockopt cannot fail on an open socket with these arguments.) */
static void set_read_timeout(redisContext *c, long long ms)
{
    struct timeval tv = g_tv;
    if (ms > 0) {
        tv.tv_sec = (time_t)(ms / 1000);
        tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    }
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static long long timeout_ms(void)
{
    return (long long)g_tv.tv_sec * 1000 + g_tv.tv_usec / 1000;
}

/* valkey_pipeline, waiting as w says (valkey_batch_run's wait_ms and
 * large). */
static int pipeline_wait(int n, const struct valkey_cmd *cmds, redisReply **replies,
                         struct pl_wait w)
{
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    t_err[0] = '\0';
    if (!g_ready) {
        snprintf(t_err, sizeof t_err, "valkey_init was not called");
        return AXON_EIO;
    }
    if (n < 1 || n > VALKEY_MAX_PIPELINE)
        return AXON_EINVAL;
    /* A script this process never loaded is loaded first: once per
     * process and script, a round trip of its own. */
    for (int i = 0; i < n; i++) {
        char sha[41];
        if (!cmds[i].script)
            continue;
        script_sha(cmds[i].script, sha);
        int rc = sha[0] ? AXON_OK : script_load(cmds[i].script);
        if (rc)
            return rc;
    }
    bool probe;
    if (!breaker_admit(&probe)) {
        snprintf(t_err, sizeof t_err, "circuit open");
        return AXON_EIO;
    }
    bool reused;
    redisContext *c = thread_context(&reused);
    if (!c) {
        breaker_failure(probe);
        return AXON_EIO;
    }
    if (reused && !alive(c)) {
        drop_context();
        if (!(c = thread_context(&reused))) {
            breaker_failure(probe);
            return AXON_EIO;
        }
    }
    for (int i = 0; i < n; i++) {
        if (append_command(c, &cmds[i]) != AXON_OK) {
            drop_context(); /* earlier commands may sit in the output buffer */
            if (probe)
                atomic_store(&br_probing, false);
            return AXON_EINVAL;
        }
    }
    count_round_trip();
    /* A longer wait lasts until the replies, NOSCRIPT's re-runs included,
     * are in; a context dropped on the way is replaced by one with the
     * configured timeout. */
    if (w.wait_ms > timeout_ms()) {
        set_read_timeout(c, w.wait_ms);
    } else {
        w.wait_ms = 0;
        w.large = false; /* the wait was not raised: a timeout counts */
    }
    int rc = pipeline_replies(c, n, cmds, replies, probe, &w);
    struct vk_conn *k = pthread_getspecific(g_key);
    if (w.wait_ms > 0 && k && k->c)
        set_read_timeout(k->c, 0);
    return rc;
}


int valkey_pipeline(int n, const struct valkey_cmd *cmds, redisReply **replies)
{
    return pipeline_wait(n, cmds, replies, (struct pl_wait){0});
}

int valkey_batch_add(struct valkey_batch *b, struct valkey_cmd c)
{
    if (b->n >= VALKEY_MAX_PIPELINE)
        return AXON_ETOOBIG;
    b->cmd[b->n] = c;
    return b->n++;
}

int valkey_batch_run(struct valkey_batch *b)
{
    b->rc = b->n ? pipeline_wait(b->n, b->cmd, b->rep,
                                 (struct pl_wait){.wait_ms = b->wait_ms, .large = b->large})
                 : AXON_OK;
    return b->rc;
}

void valkey_batch_free(struct valkey_batch *b)
{
    valkey_free_replies(b->n, b->rep);
    b->n = 0;
}

void valkey_free_replies(int n, redisReply **replies)
{
    for (int i = 0; i < n; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* The script's SHA1 as the server reported it: loaded once per process and
 * again after NOSCRIPT (a restarted or flushed server). */
static pthread_mutex_t script_mu = PTHREAD_MUTEX_INITIALIZER;

static void script_sha(struct valkey_script *s, char sha[41])
{
    pthread_mutex_lock(&script_mu);
    memcpy(sha, s->sha, 41);
    pthread_mutex_unlock(&script_mu);
}

static void script_forget(struct valkey_script *s)
{
    pthread_mutex_lock(&script_mu);
    s->sha[0] = '\0';
    pthread_mutex_unlock(&script_mu);
}

static int script_load(struct valkey_script *s)
{
    redisReply *r = NULL;
    int rc = valkey_command(&r, "SCRIPT LOAD %s", s->src);
    if (rc == AXON_OK && r->type == REDIS_REPLY_STRING && r->len == 40) {
        pthread_mutex_lock(&script_mu);
        memcpy(s->sha, r->str, 40);
        s->sha[40] = '\0';
        pthread_mutex_unlock(&script_mu);
    } else if (rc == AXON_OK) {
        snprintf(t_err, sizeof t_err, "SCRIPT LOAD answered something else than a SHA1");
        rc = AXON_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

int valkey_eval(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                int nargs, const char **args, const size_t *arg_lens)
{
    *out = NULL;
    if (nkeys < 0 || nargs < 0 || nkeys + nargs + 3 > VALKEY_MAX_ARGS)
        return AXON_EINVAL;
    const char *argv[VALKEY_MAX_ARGS];
    size_t lens[VALKEY_MAX_ARGS];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    char sha[41];
    /* At most: EVALSHA (NOSCRIPT), SCRIPT LOAD, EVALSHA. */
    for (int attempt = 0; attempt < 3; attempt++) {
        script_sha(s, sha);
        if (!sha[0]) {
            int rc = script_load(s);
            if (rc)
                return rc;
            continue;
        }
        int argc = 0;
        argv[argc] = "EVALSHA", lens[argc++] = 7;
        argv[argc] = sha, lens[argc++] = 40;
        argv[argc] = nk, lens[argc++] = strlen(nk);
        for (int i = 0; i < nkeys; i++)
            argv[argc] = keys[i], lens[argc++] = strlen(keys[i]);
        for (int i = 0; i < nargs; i++)
            argv[argc] = args[i], lens[argc++] = arg_lens ? arg_lens[i] : strlen(args[i]);
        int rc = valkey_command_argv(out, argc, argv, lens);
        if (rc == AXON_EREPLY && *out && (*out)->type == REDIS_REPLY_ERROR &&
            strncmp((*out)->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(*out);
            *out = NULL;
            script_forget(s);
            continue;
        }
        return rc;
    }
    snprintf(t_err, sizeof t_err, "the script kept disappearing (NOSCRIPT)");
    return AXON_EIO;
}

int valkey_server_time_ms(long long *ms)
{
    *ms = 0;
    redisReply *r = NULL;
    int rc = valkey_command(&r, "TIME");
    int64_t sec = 0, usec = 0;
    /* Seconds up to the year 10000 keep the ms in range. */
    if (rc == AXON_OK &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
         r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
         text_parse_i64_n(r->element[0]->str, r->element[0]->len, 1, 253402300799LL, &sec) ||
         text_parse_i64_n(r->element[1]->str, r->element[1]->len, 0, 999999, &usec))) {
        snprintf(t_err, sizeof t_err, "TIME answered something else than a time");
        rc = AXON_EPROTO;
    }
    if (rc == AXON_OK)
        *ms = (long long)sec * 1000 + (long long)usec / 1000;
    freeReplyObject(r);
    return rc;
}
