/* sentinel.c - the primary of a Sentinel-managed Valkey: asked of the
 * Sentinels, checked with ROLE, kept process-wide. See sentinel.h. */
#include "sentinel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "text.h"

static _Thread_local char t_err[200];

const char *sentinel_strerror(void)
{
    return t_err;
}

bool sentinel_readonly(const char *s)
{
    /* Valkey and Redis: "READONLY You can't write against a read only
     * replica." for a command, the same words followed by " script: ..."
     * when a script's write was refused. */
    return s && strncmp(s, "READONLY", 8) == 0;
}

/* A connection with the timeout on connect and on every command, or NULL
 * (t_err says why). Returns new: redisFree. */
static redisContext *dial(const char *host, int port, struct timeval tv)
{
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c)
        return NULL; /* only on OOM; counted as no answer */
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(t_err, sizeof t_err, "%s:%d: %s", host, port, c->err ? c->errstr : "timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

static bool is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Runs fmt on c; a NOAUTH answer is followed by AUTH password and the
 * command once more (sentinel.h: Sentinels protected with the data nodes'
 * password). Returns new (freeReplyObject) or NULL on I/O failure. */
static redisReply *ask(redisContext *c, const char *password, const char *fmt, const char *arg)
{
    redisReply *r = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    if (!password || !is_error(r, "NOAUTH"))
        return r;
    freeReplyObject(r);
    r = redisCommand(c, "AUTH %s", password);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (!ok)
        return NULL;
    return arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
}

/* SENTINEL get-master-addr-by-name on one Sentinel: 1 with host and *port
 * set, 0 when it answered without an address (it does not know the
 * master), -1 when it did not answer. */
static int ask_sentinel(const struct valkey_seed *s, const struct valkey_addr *addr,
                        struct timeval tv, char *host, size_t hostlen, int *port)
{
    redisContext *c = dial(s->host, s->port, tv);
    if (!c)
        return -1;
    redisReply *r = ask(c, addr->password, "SENTINEL get-master-addr-by-name %s", addr->master);
    int rc = -1;
    int64_t p = 0;
    if (!r) {
        snprintf(t_err, sizeof t_err, "Sentinel %s:%d: %s", s->host, s->port,
                 c->err ? c->errstr : "no answer");
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 &&
               r->element[0]->len < hostlen &&
               !text_parse_i64_n(r->element[1]->str, r->element[1]->len, 1, 65535, &p)) {
        memcpy(host, r->element[0]->str, r->element[0]->len);
        host[r->element[0]->len] = '\0';
        *port = (int)p;
        rc = 1;
    } else {
        /* A nil: it monitors no master of that name; an error: not a
         * Sentinel, or one that refused us. */
        snprintf(t_err, sizeof t_err, "Sentinel %s:%d knows no primary %s%s%.*s", s->host,
                 s->port, addr->master, r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        rc = 0;
    }
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* True when the server at host:port says, by ROLE, that it is a primary. */
static bool is_primary(const char *host, int port, const struct valkey_addr *addr,
                       struct timeval tv)
{
    redisContext *c = dial(host, port, tv);
    if (!c)
        return false;
    redisReply *r = ask(c, addr->password, "ROLE", NULL);
    bool yes = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(r->element[0]->str, "master") == 0;
    if (!yes)
        snprintf(t_err, sizeof t_err, "%s:%d, named by a Sentinel, is not the primary (ROLE: %s)",
                 host, port,
                 !r ? (c->err ? c->errstr : "no answer")
                    : r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                              r->element[0]->type == REDIS_REPLY_STRING
                          ? r->element[0]->str
                          : r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
    freeReplyObject(r);
    redisFree(c);
    return yes;
}

/* The guidelines: the Sentinel that answered (seeds[i]) is asked first
 * next time; the others keep their order. */
static void to_front(struct valkey_addr *addr, int i)
{
    if (i <= 0 || i >= VALKEY_MAX_SEEDS)
        return;
    struct valkey_seed first = addr->seeds[i];
    memmove(&addr->seeds[1], &addr->seeds[0], (size_t)i * sizeof addr->seeds[0]);
    addr->seeds[0] = first;
}

int sentinel_primary(struct valkey_addr *addr, int timeout_ms, char *host, size_t hostlen,
                     int *port)
{
    t_err[0] = '\0';
    if (addr->mode != VALKEY_SENTINEL || !addr->master || addr->n_seeds < 1 || hostlen < 2) {
        snprintf(t_err, sizeof t_err, "not a redis+sentinel:// address");
        return AXON_EINVAL;
    }
    if (hostlen > SENTINEL_HOST_MAX)
        hostlen = SENTINEL_HOST_MAX;
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    for (int i = 0; i < addr->n_seeds && i < VALKEY_MAX_SEEDS; i++) {
        if (ask_sentinel(&addr->seeds[i], addr, tv, host, hostlen, port) != 1 ||
            !is_primary(host, *port, addr, tv))
            continue;
        to_front(addr, i);
        t_err[0] = '\0';
        return AXON_OK;
    }
    host[0] = '\0';
    *port = 0;
    return AXON_EIO;
}

/* The process-wide answer (sentinel_resolve). g_port 0: none yet. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_host[SENTINEL_HOST_MAX];
static int g_port;
static atomic_bool g_stale = true;
static atomic_bool g_check;            /* sentinel_due said true */
static atomic_llong g_next_check_ms;   /* monotonic */

void sentinel_forget(void)
{
    atomic_store(&g_stale, true);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool sentinel_due(void)
{
    long long now = mono_ms(), next = atomic_load(&g_next_check_ms);
    if (now < next ||
        !atomic_compare_exchange_strong(&g_next_check_ms, &next, now + SENTINEL_CHECK_MS))
        return false;
    atomic_store(&g_check, true);
    return true;
}

/* The check after sentinel_due (g_mu held): true when the first Sentinel
 * that answers names another primary than g_host:g_port. */
static bool primary_moved(struct valkey_addr *addr, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    char h[SENTINEL_HOST_MAX];
    int p = 0;
    for (int i = 0; i < addr->n_seeds && i < VALKEY_MAX_SEEDS; i++) {
        int rc = ask_sentinel(&addr->seeds[i], addr, tv, h, sizeof h, &p);
        if (rc < 0)
            continue;
        to_front(addr, i); /* a dead one is not waited for at every check */
        return rc == 1 && (p != g_port || strcmp(h, g_host) != 0);
    }
    return false; /* none answered: keep what works */
}

int sentinel_resolve(struct valkey_addr *addr, int timeout_ms, char *host, size_t hostlen,
                     int *port, bool *changed)
{
    *changed = false;
    pthread_mutex_lock(&g_mu);
    int rc = AXON_OK;
    bool check = atomic_exchange(&g_check, false);
    if (atomic_exchange(&g_stale, false) || g_port == 0 ||
        (check && primary_moved(addr, timeout_ms))) {
        char h[SENTINEL_HOST_MAX];
        int p = 0;
        rc = sentinel_primary(addr, timeout_ms, h, sizeof h, &p);
        if (rc == AXON_OK) {
            *changed = g_port != 0 && (p != g_port || strcmp(h, g_host) != 0);
            memcpy(g_host, h, sizeof g_host);
            g_port = p;
        } else {
            atomic_store(&g_stale, true); /* the next connect asks again */
        }
    }
    if (rc == AXON_OK && strlen(g_host) < hostlen) {
        memcpy(host, g_host, strlen(g_host) + 1);
        *port = g_port;
    } else if (rc == AXON_OK) {
        snprintf(t_err, sizeof t_err, "the primary's host name is too long");
        rc = AXON_EIO;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}
