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
#include "vcluster.h"

/* A thread's connection to one cluster node. */
struct node_conn {
    struct vcluster_node at;
    redisContext *c; /* NULL: the entry is free */
    bool busy;       /* a pipeline is using it: not replaced */
};

/* One per thread, behind the pthread key. */
struct vk_conn {
    redisContext *c; /* NULL until connected, and after a failure */
    unsigned gen;    /* g_gen when c was made */
    /* Cluster mode: a connection per node, made lazily, the oldest
     * replaced round-robin when all VALKEY_MAX_NODE_CONNS are in use. */
    unsigned node_gen; /* g_gen when the node connections were made */
    struct node_conn node[VALKEY_MAX_NODE_CONNS];
    int evict;
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

static void nodes_close(struct vk_conn *k)
{
    for (int i = 0; i < VALKEY_MAX_NODE_CONNS; i++) {
        if (k->node[i].c)
            redisFree(k->node[i].c);
        k->node[i].c = NULL;
    }
}

static void conn_destroy(void *p)
{
    struct vk_conn *k = p;
    if (!k)
        return;
    if (k->c)
        redisFree(k->c);
    nodes_close(k);
    free(k);
}

static void key_create(void)
{
    if (pthread_key_create(&g_key, conn_destroy) != 0)
        abort(); /* only EAGAIN/ENOMEM: as good as OOM */
}

static void map_forget(void);

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
    map_forget();
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
    map_forget();
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

/* A new connection to host:port (or the unix socket path), with the
 * timeout, AUTH and SELECT: NULL with t_err set when any step fails. */
static redisContext *connect_to(const char *host, int port, const char *path)
{
    redisContext *c = path ? redisConnectUnixWithTimeout(path, g_tv)
                           : redisConnectWithTimeout(host, port, g_tv);
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
    /* A cluster has only database 0 (config.c refuses another). */
    if (g_addr.db != 0 && setup_command(c, "SELECT", redisCommand(c, "SELECT %d", g_addr.db)))
        goto fail;
    return c;
fail:
    sentinel_forget(); /* Sentinel: perhaps no longer the primary */
    redisFree(c);
    return NULL;
}

static struct vk_conn *thread_conn(void)
{
    struct vk_conn *k = pthread_getspecific(g_key);
    if (!k) {
        k = xcalloc(1, sizeof *k);
        if (pthread_setspecific(g_key, k) != 0)
            abort();
    }
    return k;
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
    struct vk_conn *k = thread_conn();
    unsigned gen = atomic_load(&g_gen);
    char shost[SENTINEL_HOST_MAX];
    int sport = 0;
    (void)sentinel_addr(false, shost, sizeof shost, &sport, &gen);
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
    redisContext *c = connect_to(sport ? shost : g_addr.host, sport ? sport : g_addr.port,
                                 g_addr.path);
    if (!c)
        return NULL;
    k->c = c;
    k->gen = gen;
    return c;
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

/* ---- Valkey Cluster: routing by slot ------------------------------------ */

/* The slot map, one per process: read with CLUSTER SLOTS from any node
 * (the known primaries first, then the URL's seeds), again after a MOVED
 * or a node failing, at most every MAP_REFRESH_MIN_MS. */
#define MAP_REFRESH_MIN_MS 100
#define CLUSTER_HOPS 8       /* redirections and retries followed for one command */
#define TRYAGAIN_SLEEP_MS 10 /* a multi-key command met a slot half-migrated: then 20, 40.. */

static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vcluster_map *g_map; /* NULL until read; guarded by map_mu */
static atomic_bool map_stale;      /* a MOVED or a failed node: read it again */
static atomic_llong map_tried_ms;  /* the last read's start (monotonic) */
static atomic_ullong n_moved, n_ask, n_refresh;

void valkey_cluster_counts(struct valkey_cluster_counts *out)
{
    out->moved = atomic_load(&n_moved);
    out->ask = atomic_load(&n_ask);
    out->refreshes = atomic_load(&n_refresh);
}

static void map_forget(void)
{
    pthread_mutex_lock(&map_mu);
    free(g_map);
    g_map = NULL;
    pthread_mutex_unlock(&map_mu);
    atomic_store(&map_stale, false);
    atomic_store(&map_tried_ms, 0);
}

static bool same_node(const struct vcluster_node *a, const struct vcluster_node *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* This thread's connection to node `to`, made when it has none: NULL with
 * t_err set when the connect fails. *reused as for thread_context. */
static struct node_conn *node_get(const struct vcluster_node *to, bool *reused)
{
    *reused = false;
    struct vk_conn *k = thread_conn();
    unsigned gen = atomic_load(&g_gen);
    if (k->node_gen != gen) {
        nodes_close(k); /* valkey_init again: another cluster perhaps */
        k->node_gen = gen;
    }
    int free_at = -1;
    for (int i = 0; i < VALKEY_MAX_NODE_CONNS; i++) {
        if (k->node[i].c && same_node(&k->node[i].at, to)) {
            *reused = true;
            return &k->node[i];
        }
        if (!k->node[i].c && free_at < 0)
            free_at = i;
    }
    /* All in use: replace the next one round-robin that no pipeline in
     * progress holds (a pipeline holds at most VALKEY_MAX_PIPELINE, fewer
     * than VALKEY_MAX_NODE_CONNS). */
    for (int tries = 0; free_at < 0 && tries < VALKEY_MAX_NODE_CONNS; tries++) {
        int i = k->evict;
        k->evict = (k->evict + 1) % VALKEY_MAX_NODE_CONNS;
        if (!k->node[i].busy) {
            redisFree(k->node[i].c);
            k->node[i].c = NULL;
            free_at = i;
        }
    }
    if (free_at < 0)
        abort(); /* cannot happen: see VALKEY_MAX_NODE_CONNS */
    redisContext *c = connect_to(to->host, to->port, NULL);
    if (!c)
        return NULL;
    k->node[free_at].at = *to;
    k->node[free_at].c = c;
    return &k->node[free_at];
}

static void node_drop(struct node_conn *nc)
{
    if (nc && nc->c) {
        redisFree(nc->c);
        nc->c = NULL;
    }
}

/* Asks one node for the slot map: 0 with *m filled, or AXON_EIO. */
static int map_ask(const struct vcluster_node *at, struct vcluster_map *m)
{
    bool reused;
    struct node_conn *nc = node_get(at, &reused);
    if (!nc)
        return AXON_EIO;
    count_round_trip();
    redisReply *r = redisCommand(nc->c, "CLUSTER SLOTS");
    if (!r && reused && stale(nc->c)) {
        node_drop(nc); /* an idle connection the node closed: once more */
        if (!(nc = node_get(at, &reused)))
            return AXON_EIO;
        count_round_trip();
        r = redisCommand(nc->c, "CLUSTER SLOTS");
    }
    if (!r) {
        set_err("CLUSTER SLOTS", nc->c);
        node_drop(nc);
        return AXON_EIO;
    }
    int rc = vcluster_map_parse(m, r, at->host);
    if (rc == AXON_OK && m->n == 0)
        rc = AXON_EPROTO; /* a node not yet in a cluster: ask another */
    if (rc) {
        const char *why = r->type == REDIS_REPLY_ERROR ? r->str : "an answer of another shape";
        snprintf(t_err, sizeof t_err, "CLUSTER SLOTS from %.*s:%d: %.*s", (int)strlen(at->host),
                 at->host, at->port, (int)strlen(why), why);
    }
    freeReplyObject(r);
    return rc ? AXON_EIO : AXON_OK;
}

/* Reads the map again: from the primaries known, then the seeds. 0 or
 * AXON_EIO (t_err: the last node's failure). */
static int map_read(void)
{
    struct vcluster_node ask[VCLUSTER_MAX_NODES + VALKEY_MAX_SEEDS];
    int n = 0;
    pthread_mutex_lock(&map_mu);
    for (int i = 0; g_map && i < g_map->n; i++)
        ask[n++] = g_map->node[i];
    pthread_mutex_unlock(&map_mu);
    for (int i = 0; i < g_addr.n_seeds; i++) {
        struct vcluster_node s = {.port = g_addr.seeds[i].port};
        snprintf(s.host, sizeof s.host, "%s", g_addr.seeds[i].host);
        bool known = false;
        for (int j = 0; j < n && !known; j++)
            known = same_node(&ask[j], &s);
        if (!known)
            ask[n++] = s;
    }
    struct vcluster_map *m = xmalloc(sizeof *m);
    for (int i = 0; i < n; i++) {
        if (map_ask(&ask[i], m) != AXON_OK)
            continue;
        pthread_mutex_lock(&map_mu);
        struct vcluster_map *old = g_map;
        g_map = m;
        pthread_mutex_unlock(&map_mu);
        free(old);
        atomic_store(&map_stale, false);
        unsigned long long nr = atomic_fetch_add(&n_refresh, 1) + 1;
        log_msg(AXON_LOG_INFO, "valkey: cluster slot map read from %s:%d (%d primaries; read %llu "
                "times, %llu MOVED, %llu ASK so far)", ask[i].host, ask[i].port, m->n, nr,
                atomic_load(&n_moved), atomic_load(&n_ask));
        return AXON_OK;
    }
    free(m);
    return AXON_EIO;
}

/* Reads the map when there is none, or when it is stale and was not read
 * in the last MAP_REFRESH_MIN_MS. AXON_EIO only when there is no map. */
static int map_fresh(void)
{
    pthread_mutex_lock(&map_mu);
    bool have = g_map != NULL;
    pthread_mutex_unlock(&map_mu);
    long long now = now_ms();
    if (have && (!atomic_load(&map_stale) || now - atomic_load(&map_tried_ms) < MAP_REFRESH_MIN_MS))
        return AXON_OK;
    atomic_store(&map_tried_ms, now);
    int rc = map_read();
    return have ? AXON_OK : rc;
}

/* MOVED: the slot's new owner, noted at once; the whole map is read again
 * before the next command (other slots may have moved with it). */
static void map_moved(const struct vcluster_redirect *rd)
{
    pthread_mutex_lock(&map_mu);
    if (g_map) {
        int at = vcluster_map_node(g_map, rd->to.host, rd->to.port);
        if (at >= 0)
            g_map->owner[rd->slot] = (unsigned char)(at + 1);
    }
    pthread_mutex_unlock(&map_mu);
    atomic_store(&map_stale, true);
}

/* The node serving slot (VCLUSTER_NO_KEY: any; `turn` picks which, so a
 * keyless command retried after a failure tries another): 0 or AXON_EIO. */
static int route(int slot, int turn, struct vcluster_node *to)
{
    if (map_fresh() != AXON_OK)
        return AXON_EIO;
    const struct vcluster_node *n = NULL;
    pthread_mutex_lock(&map_mu);
    if (g_map && slot != VCLUSTER_NO_KEY)
        n = vcluster_map_owner(g_map, slot);
    else if (g_map && g_map->n > 0)
        n = &g_map->node[turn % g_map->n];
    if (n)
        *to = *n;
    pthread_mutex_unlock(&map_mu);
    if (!n) {
        snprintf(t_err, sizeof t_err, "no cluster node serves slot %d", slot);
        atomic_store(&map_stale, true);
        return AXON_EIO;
    }
    return AXON_OK;
}

static bool reply_is(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r && r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, word, n) == 0 &&
           (r->len == n || r->str[n] == ' ');
}

/* What a cluster command needs besides its bytes. */
struct cl_opts {
    struct valkey_script *script; /* NOSCRIPT: loaded on that node, sent again */
    int durable;                  /* > 0: WAIT durable after it, same round trip */
    bool *unacked;                /* set when WAIT answered fewer (durable > 0) */
    long long wait_ms;            /* the least wait for its reply; 0: the timeout */
    bool large;                   /* wait_ms raised for its size: a timeout is neutral */
    struct vcluster_node *ran_on; /* NULL, or receives the node that answered */
};

/* An error reply that says the cluster cannot serve now, not that the
 * command failed: the cluster is failing over (CLUSTERDOWN) or a node is
 * loading its data (LOADING). Treated as no answer (AXON_EIO, the breaker
 * counts it), as a timeout would be: callers answer 503, never "corrupt". */
static bool unavailable(const redisReply *r)
{
    return reply_is(r, "CLUSTERDOWN") || reply_is(r, "LOADING");
}

/* Appends WAIT n timeout to c's output: the replicas must have the writes
 * sent before it on this connection. */
static void append_wait(redisContext *c, int n)
{
    char nb[16], tb[24];
    snprintf(nb, sizeof nb, "%d", n);
    snprintf(tb, sizeof tb, "%lld", (long long)g_tv.tv_sec * 1000 + g_tv.tv_usec / 1000);
    if (redisAppendCommand(c, "WAIT %s %s", nb, tb) != REDIS_OK)
        abort(); /* only on OOM */
}

static void set_read_timeout(redisContext *c, long long ms);
static long long timeout_ms(void);

/* The read wait of a command: o's, plus WAIT's own time when durable. */
static long long cl_wait(const struct cl_opts *o)
{
    long long w = o->wait_ms > timeout_ms() ? o->wait_ms : 0;
    if (o->durable > 0)
        w = (w ? w : timeout_ms()) + timeout_ms();
    return w;
}

/* Reads WAIT's reply: false when fewer than n replicas acknowledged (or
 * it was not an integer), true otherwise. NULL on I/O failure (*io). */
static bool read_wait(redisContext *c, int n, bool *io)
{
    void *v = NULL;
    *io = redisGetReply(c, &v) != REDIS_OK || !v;
    redisReply *w = v;
    bool ok = !*io && w->type == REDIS_REPLY_INTEGER && w->integer >= n;
    if (!*io && !ok)
        snprintf(t_err, sizeof t_err, "WAIT: fewer than %d replicas acknowledged", n);
    freeReplyObject(w);
    return ok;
}

/* One formatted command (len bytes) to the cluster, following MOVED, ASK,
 * TRYAGAIN and NOSCRIPT; first: a redirection its first sending already
 * received (NULL: route by its key). Same returns as run(). */
static int cluster_exec(redisReply **out, const char *cmd, size_t len,
                        const struct vcluster_redirect *first, const struct cl_opts *o,
                        bool probe)
{
    *out = NULL;
    int slot = vcluster_cmd_slot(cmd, len);
    if (slot == AXON_EINVAL) {
        snprintf(t_err, sizeof t_err, "a command that is not RESP");
        if (probe)
            atomic_store(&br_probing, false);
        return AXON_EINVAL;
    }
    struct vcluster_redirect rd = {0};
    bool redirected = first != NULL;
    if (first)
        rd = *first;
    bool retried = false;
    int tries = 0; /* TRYAGAIN answers so far */
    for (int hop = 0; hop <= CLUSTER_HOPS; hop++) {
        struct vcluster_node to;
        if (redirected) {
            to = rd.to;
        } else if (route(slot, hop, &to) != AXON_OK) {
            breaker_failure(probe);
            return AXON_EIO;
        }
        bool reused;
        struct node_conn *nc = node_get(&to, &reused);
        if (!nc) {
            atomic_store(&map_stale, true); /* a failed primary: its replica may take over */
            if (slot == VCLUSTER_NO_KEY && !redirected && hop < CLUSTER_HOPS)
                continue; /* any node will do: the next one */
            breaker_failure(probe);
            return AXON_EIO;
        }
        redisContext *c = nc->c;
        if (redirected && rd.ask && redisAppendCommand(c, "ASKING") != REDIS_OK)
            abort();
        if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK)
            abort(); /* only on OOM */
        if (o->durable > 0)
            append_wait(c, o->durable);
        count_round_trip();
        long long w = cl_wait(o);
        if (w)
            set_read_timeout(c, w);
        void *v = NULL;
        bool io = false;
        if (redirected && rd.ask) {
            io = redisGetReply(c, &v) != REDIS_OK || !v; /* ASKING's +OK */
            freeReplyObject(v);
            v = NULL;
        }
        if (!io)
            io = redisGetReply(c, &v) != REDIS_OK || !v;
        redisReply *r = v;
        bool acked = true;
        if (!io && o->durable > 0)
            acked = read_wait(c, o->durable, &io);
        if (io) {
            freeReplyObject(r);
            bool late = timed_out(c);
            bool was_stale = reused && stale(c) && !retried;
            set_err("command", c);
            node_drop(nc);
            if (was_stale) {
                retried = true; /* an idle connection the node closed: once more */
                hop--;
                continue;
            }
            atomic_store(&map_stale, true);
            if (late && o->large)
                breaker_neutral(probe);
            else
                breaker_failure(probe);
            return AXON_EIO;
        }
        if (w)
            set_read_timeout(c, 0);
        if (r->type == REDIS_REPLY_ERROR) {
            struct vcluster_redirect next;
            if (vcluster_redirect_parse(r->str, r->len, to.host, &next) == AXON_OK) {
                if (next.ask) {
                    atomic_fetch_add(&n_ask, 1);
                } else {
                    atomic_fetch_add(&n_moved, 1);
                    map_moved(&next);
                }
                log_msg(AXON_LOG_DEBUG, "valkey: %.*s", (int)r->len, r->str);
                rd = next;
                redirected = true;
                freeReplyObject(r);
                continue;
            }
            if (reply_is(r, "TRYAGAIN")) {
                /* A multi-key script met its slot half-migrated: the
                 * migration finishes within moments. */
                freeReplyObject(r);
                long ms = (long)TRYAGAIN_SLEEP_MS << (tries < 4 ? tries : 4);
                tries++;
                struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            if (reply_is(r, "NOSCRIPT") && o->script) {
                /* Scripts are per node: load it on this one, send again. */
                freeReplyObject(r);
                count_round_trip();
                int lrc = setup_command(c, "SCRIPT LOAD", redisCommand(c, "SCRIPT LOAD %s",
                                                                       o->script->src));
                if (lrc) {
                    node_drop(nc);
                    breaker_failure(probe);
                    return AXON_EIO;
                }
                continue;
            }
        }
        if (unavailable(r)) {
            snprintf(t_err, sizeof t_err, "%.*s", (int)r->len, r->str);
            freeReplyObject(r);
            atomic_store(&map_stale, true);
            breaker_failure(probe);
            return AXON_EIO;
        }
        breaker_success();
        if (!acked && o->unacked)
            *o->unacked = true;
        if (o->ran_on)
            *o->ran_on = to;
        *out = r;
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(t_err, sizeof t_err, "%.*s", (int)r->len, r->str);
            return AXON_EREPLY;
        }
        return AXON_OK;
    }
    snprintf(t_err, sizeof t_err, "cluster: more than %d redirections for one command",
             CLUSTER_HOPS);
    breaker_neutral(probe);
    return AXON_EIO;
}

/* A pipeline's commands bound for one node. */
struct cl_group {
    struct vcluster_node to;
    struct node_conn *nc;
    int n;
    int at[VALKEY_MAX_PIPELINE]; /* the commands' indexes, in order */
    bool sent, read;
};

/* valkey_pipeline in cluster mode: the commands formatted in cmd[i]
 * (len[i] bytes), grouped by node, each node's group written to it before
 * any reply is read (one round trip in time, counted once), the replies put
 * back in order. A redirected or NOSCRIPT command then runs on its own
 * (cluster_exec), in order. The breaker was admitted (probe). */
static int cluster_pipeline(int n, const struct valkey_cmd *cmds, char **cmd, const size_t *len,
                            redisReply **replies, const struct cl_opts *o, bool *unacked,
                            bool probe)
{
    struct cl_group g[VALKEY_MAX_PIPELINE];
    int grp[VALKEY_MAX_PIPELINE]; /* each command's group */
    int ng = 0, rc = AXON_OK;
    for (int i = 0; i < n; i++) {
        struct vcluster_node to;
        int slot = vcluster_cmd_slot(cmd[i], len[i]);
        if (slot == AXON_EINVAL) {
            if (probe)
                atomic_store(&br_probing, false);
            return AXON_EINVAL;
        }
        if (route(slot, 0, &to) != AXON_OK) {
            breaker_failure(probe);
            return AXON_EIO;
        }
        int k = 0;
        while (k < ng && !same_node(&g[k].to, &to))
            k++;
        if (k == ng)
            g[ng++] = (struct cl_group){.to = to};
        g[k].at[g[k].n++] = i;
        grp[i] = k;
    }
    long long w = cl_wait(o);
    for (int k = 0; k < ng && !rc; k++) {
        bool reused;
        g[k].nc = node_get(&g[k].to, &reused);
        if (g[k].nc && reused && !alive(g[k].nc->c)) {
            node_drop(g[k].nc);
            g[k].nc = node_get(&g[k].to, &reused);
        }
        if (!g[k].nc) {
            rc = AXON_EIO;
            break;
        }
        g[k].nc->busy = true; /* not replaced by the next group's connect */
        redisContext *c = g[k].nc->c;
        for (int j = 0; j < g[k].n; j++)
            if (redisAppendFormattedCommand(c, cmd[g[k].at[j]], len[g[k].at[j]]) != REDIS_OK)
                abort(); /* only on OOM */
        if (o->durable > 0)
            append_wait(c, o->durable);
        g[k].sent = true;
        for (int done = 0; !done;) {
            if (redisBufferWrite(c, &done) != REDIS_OK) {
                set_err("pipeline", c);
                rc = AXON_EIO;
                break;
            }
        }
        if (w)
            set_read_timeout(c, w);
    }
    if (!rc)
        count_round_trip();
    bool late = false;
    for (int k = 0; k < ng && !rc; k++) {
        redisContext *c = g[k].nc->c;
        for (int j = 0; j < g[k].n && !rc; j++) {
            void *v = NULL;
            if (redisGetReply(c, &v) != REDIS_OK || !v) {
                late = timed_out(c);
                set_err("pipeline", c);
                rc = AXON_EIO;
            }
            replies[g[k].at[j]] = v;
        }
        bool io = false;
        if (!rc && o->durable > 0 && !read_wait(c, o->durable, &io) && !io)
            for (int j = 0; j < g[k].n; j++)
                unacked[g[k].at[j]] = true;
        if (io) {
            late = timed_out(c);
            set_err("pipeline", c);
            rc = AXON_EIO;
        }
        g[k].read = !rc;
        if (!rc && w)
            set_read_timeout(c, 0);
    }
    for (int k = 0; k < ng; k++) {
        if (!g[k].nc)
            continue;
        g[k].nc->busy = false;
        if (rc && g[k].sent && !g[k].read)
            node_drop(g[k].nc); /* replies are owed on it: unusable */
    }
    if (rc) {
        atomic_store(&map_stale, true);
        if (late && o->large)
            breaker_neutral(probe);
        else
            breaker_failure(probe);
        valkey_free_replies(n, replies);
        return AXON_EIO;
    }
    for (int i = 0; i < n; i++) {
        if (unavailable(replies[i])) {
            snprintf(t_err, sizeof t_err, "%.*s", (int)replies[i]->len, replies[i]->str);
            valkey_free_replies(n, replies);
            atomic_store(&map_stale, true);
            breaker_failure(probe);
            return AXON_EIO;
        }
    }
    breaker_success();
    /* Redirected (the slot moved or is moving), half-migrated (TRYAGAIN)
     * or NOSCRIPT on its node: that command did not run; it runs now on
     * its own, in order, and when durable, one WAIT per node it went to
     * follows them all (not one per command: each may take the timeout). */
    struct vcluster_node again[VALKEY_MAX_PIPELINE];
    int again_at[VALKEY_MAX_PIPELINE], nagain = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = replies[i];
        struct vcluster_redirect rd;
        bool redirect = r->type == REDIS_REPLY_ERROR &&
                        vcluster_redirect_parse(r->str, r->len, g[grp[i]].to.host, &rd) == AXON_OK;
        if (!redirect && !reply_is(r, "TRYAGAIN") && !(cmds[i].script && reply_is(r, "NOSCRIPT")))
            continue;
        if (redirect && rd.ask) {
            atomic_fetch_add(&n_ask, 1);
        } else if (redirect) {
            atomic_fetch_add(&n_moved, 1);
            map_moved(&rd);
        }
        if (redirect)
            log_msg(AXON_LOG_DEBUG, "valkey: %.*s", (int)r->len, r->str);
        freeReplyObject(r);
        replies[i] = NULL;
        struct cl_opts one = *o;
        one.script = cmds[i].script;
        one.durable = 0;
        one.unacked = NULL;
        one.ran_on = &again[nagain];
        int erc = cluster_exec(&replies[i], cmd[i], len[i], redirect ? &rd : NULL, &one, false);
        if (erc != AXON_OK && erc != AXON_EREPLY) {
            valkey_free_replies(n, replies);
            return AXON_EIO; /* the others ran: not "nothing sent" */
        }
        again_at[nagain++] = i;
    }
    for (int a = 0; o->durable > 0 && a < nagain; a++) {
        int k = 0;
        while (k < a && !same_node(&again[k], &again[a]))
            k++;
        if (k < a) {
            unacked[again_at[a]] = unacked[again_at[k]]; /* that node's WAIT said */
            continue;
        }
        bool reused, io = false;
        struct node_conn *nc = node_get(&again[a], &reused);
        if (nc) {
            append_wait(nc->c, o->durable);
            count_round_trip();
            set_read_timeout(nc->c, 2 * timeout_ms());
            unacked[again_at[a]] = !read_wait(nc->c, o->durable, &io);
            if (io)
                node_drop(nc);
            else
                set_read_timeout(nc->c, 0);
        } else {
            unacked[again_at[a]] = true;
        }
    }
    return AXON_OK;
}

/* run() in cluster mode: the command formatted, to find its key. */
static int cluster_run(redisReply **out, const char *fmt, va_list *ap, int argc,
                       const char **argv, const size_t *lens, bool probe)
{
    char *cmd = NULL;
    int len;
    if (fmt) {
        va_list copy;
        va_copy(copy, *ap);
        len = redisvFormatCommand(&cmd, fmt, copy);
        va_end(copy);
    } else {
        size_t *own = NULL;
        if (!lens) {
            own = xmalloc((size_t)argc * sizeof *own);
            for (int i = 0; i < argc; i++)
                own[i] = strlen(argv[i]);
        }
        len = redisFormatCommandArgv(&cmd, argc, argv, lens ? lens : own);
        free(own);
    }
    if (len <= 0) {
        /* A bad format string: our bug, not the server's health. */
        snprintf(t_err, sizeof t_err, "command: a format string hiredis refused");
        if (probe)
            atomic_store(&br_probing, false);
        return AXON_EINVAL;
    }
    const struct cl_opts o = {0};
    int rc = cluster_exec(out, cmd, (size_t)len, NULL, &o, probe);
    redisFreeCommand(cmd);
    return rc;
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
    if (g_addr.mode == VALKEY_CLUSTER)
        return cluster_run(out, fmt, ap, argc, argv, lens, probe);
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
static int eval_single(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *arg_lens);
static void script_forget(struct valkey_script *s);
static void script_sha(struct valkey_script *s, char sha[41]);

/* One pipeline command's arguments (a script command as EVALSHA sha
 * nkeys keys... args...) into argv/lens (VALKEY_MAX_ARGS each; sha and nk
 * hold what they point to): the count, or AXON_EINVAL for a bad shape. */
static int command_args(const struct valkey_cmd *cmd, const char **argv, size_t *lens,
                        char sha[41], char nk[16])
{
    int pre = cmd->script ? 3 : 0;
    if (cmd->argc < (cmd->script ? 0 : 1) || cmd->argc + pre > VALKEY_MAX_ARGS ||
        (cmd->script && (cmd->nkeys < 0 || cmd->nkeys > cmd->argc)))
        return AXON_EINVAL;
    if (cmd->script) {
        script_sha(cmd->script, sha);
        snprintf(nk, 16, "%d", cmd->nkeys);
        argv[0] = "EVALSHA", lens[0] = 7;
        argv[1] = sha, lens[1] = 40;
        argv[2] = nk, lens[2] = strlen(nk);
    }
    for (int a = 0; a < cmd->argc; a++) {
        argv[pre + a] = cmd->argv[a];
        lens[pre + a] = cmd->lens ? cmd->lens[a] : strlen(cmd->argv[a]);
    }
    return pre + cmd->argc;
}

/* Appends one pipeline command to c's output buffer: 0, or AXON_EINVAL for
 * a bad shape. */
static int append_command(redisContext *c, const struct valkey_cmd *cmd)
{
    const char *argv[VALKEY_MAX_ARGS];
    size_t lens[VALKEY_MAX_ARGS];
    char sha[41], nk[16];
    int argc = command_args(cmd, argv, lens, sha, nk);
    if (argc < 0)
        return argc;
    size_t len;
    char *resp = vcluster_format(argc, argv, lens, &len);
    int rc = redisAppendFormattedCommand(c, resp, len);
    free(resp);
    if (rc != REDIS_OK)
        abort(); /* only on OOM */
    return AXON_OK;
}

/* The command formatted (RESP) into *out (new: redisFreeCommand): its
 * length, or AXON_EINVAL for a bad shape. */
static int format_command(const struct valkey_cmd *cmd, char **out)
{
    const char *argv[VALKEY_MAX_ARGS];
    size_t lens[VALKEY_MAX_ARGS];
    char sha[41], nk[16];
    *out = NULL;
    int argc = command_args(cmd, argv, lens, sha, nk);
    if (argc < 0)
        return argc;
    size_t len;
    *out = vcluster_format(argc, argv, lens, &len);
    if (len > INT32_MAX)
        abort(); /* VALKEY_MAX_ARGS arguments of at most a store's bytes */
    return (int)len;
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
                            redisReply **replies, bool probe, const struct pl_wait *w,
                            int durable, bool *unacked)
{
    for (int i = 0; i <= n; i++) {
        void *r = NULL;
        bool io = false;
        if (i == n) {
            /* WAIT's reply, when durable: one node, so every command's. */
            if (durable > 0 && !read_wait(c, durable, &io) && !io)
                for (int j = 0; j < n; j++)
                    unacked[j] = true;
            if (!io)
                break;
        }
        if (io || redisGetReply(c, &r) != REDIS_OK || !r) {
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
        int rc = eval_single(cmds[i].script, &replies[i], cmds[i].nkeys, cmds[i].argv,
                             cmds[i].argc - cmds[i].nkeys, cmds[i].argv + cmds[i].nkeys,
                             cmds[i].lens ? cmds[i].lens + cmds[i].nkeys : NULL);
        if (rc == AXON_EIO || !replies[i]) {
            /* No answer, or the server refused to load the script (no
             * reply to put in its place): the round trip failed, and its
             * callers read no reply (valkey.h). */
            valkey_free_replies(n, replies);
            return AXON_EIO;
        }
        /* Its WAIT went before it ran: one more for it. */
        redisReply *wr = NULL;
        if (durable > 0 &&
            (valkey_command(&wr, "WAIT %d %lld", durable, timeout_ms()) != AXON_OK ||
             wr->type != REDIS_REPLY_INTEGER || wr->integer < durable))
            unacked[i] = true;
        freeReplyObject(wr);
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

/* pipeline_wait in cluster mode, after the breaker's admission. */
static int pipeline_cluster(int n, const struct valkey_cmd *cmds, redisReply **replies,
                            const struct pl_wait *w, int durable, bool *unacked, bool probe)
{
    char *cmd[VALKEY_MAX_PIPELINE] = {0};
    size_t len[VALKEY_MAX_PIPELINE] = {0};
    int rc = AXON_OK, nf = 0;
    for (; nf < n && !rc; nf++) {
        int l = format_command(&cmds[nf], &cmd[nf]);
        if (l < 0)
            rc = l;
        len[nf] = l < 0 ? 0 : (size_t)l;
    }
    if (rc) {
        if (probe)
            atomic_store(&br_probing, false);
    } else {
        const struct cl_opts o = {.durable = durable, .wait_ms = w->wait_ms, .large = w->large};
        rc = cluster_pipeline(n, cmds, cmd, len, replies, &o, unacked, probe);
    }
    for (int i = 0; i < nf; i++)
        redisFreeCommand(cmd[i]);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(t_err, sizeof t_err, "%.*s", (int)replies[i]->len, replies[i]->str);
            return AXON_EREPLY;
        }
    }
    return AXON_OK;
}

/* valkey_pipeline, waiting as w says (valkey_batch_run's wait_ms and
 * large). durable > 0: WAIT durable ends the round trip on every node that
 * got commands, and unacked[i] (n entries, NULL when durable is 0) tells
 * which commands' node answered fewer replicas. */
static int pipeline_wait(int n, const struct valkey_cmd *cmds, redisReply **replies,
                         struct pl_wait w, int durable, bool *unacked)
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
    for (int i = 0; unacked && i < n; i++)
        unacked[i] = false;
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
    if (g_addr.mode == VALKEY_CLUSTER)
        return pipeline_cluster(n, cmds, replies, &w, durable, unacked, probe);
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
    if (durable > 0)
        append_wait(c, durable);
    count_round_trip();
    /* A longer wait lasts until the replies, NOSCRIPT's re-runs included,
     * are in; a context dropped on the way is replaced by one with the
     * configured timeout. WAIT may take the timeout on top. */
    if (durable > 0)
        w.wait_ms = (w.wait_ms > timeout_ms() ? w.wait_ms : timeout_ms()) + timeout_ms();
    if (w.wait_ms > timeout_ms()) {
        set_read_timeout(c, w.wait_ms);
    } else {
        w.wait_ms = 0;
        w.large = false; /* the wait was not raised: a timeout counts */
    }
    int rc = pipeline_replies(c, n, cmds, replies, probe, &w, durable, unacked);
    struct vk_conn *k = pthread_getspecific(g_key);
    if (w.wait_ms > 0 && k && k->c)
        set_read_timeout(k->c, 0);
    return rc;
}

int valkey_pipeline(int n, const struct valkey_cmd *cmds, redisReply **replies)
{
    return pipeline_wait(n, cmds, replies, (struct pl_wait){0}, 0, NULL);
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
                                 (struct pl_wait){.wait_ms = b->wait_ms, .large = b->large},
                                 b->durable, b->unacked)
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

/* valkey_eval in cluster mode: a pipeline of one, whose NOSCRIPT is
 * answered on the node that said it. */
static int eval_cluster(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                        int nargs, const char **args, const size_t *arg_lens)
{
    const char *argv[VALKEY_MAX_ARGS];
    size_t lens[VALKEY_MAX_ARGS];
    for (int i = 0; i < nkeys; i++)
        argv[i] = keys[i], lens[i] = strlen(keys[i]);
    for (int i = 0; i < nargs; i++)
        argv[nkeys + i] = args[i], lens[nkeys + i] = arg_lens ? arg_lens[i] : strlen(args[i]);
    const struct valkey_cmd c = {
        .argc = nkeys + nargs, .argv = argv, .lens = lens, .script = s, .nkeys = nkeys};
    return valkey_pipeline(1, &c, out);
}

int valkey_eval(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
                int nargs, const char **args, const size_t *arg_lens)
{
    *out = NULL;
    if (nkeys < 0 || nargs < 0 || nkeys + nargs + 3 > VALKEY_MAX_ARGS)
        return AXON_EINVAL;
    if (g_addr.mode == VALKEY_CLUSTER)
        return eval_cluster(s, out, nkeys, keys, nargs, args, arg_lens);
    return eval_single(s, out, nkeys, keys, nargs, args, arg_lens);
}

/* valkey_eval on one server (also what a single-server pipeline's NOSCRIPT
 * re-runs: never the cluster path, which has its own). */
static int eval_single(struct valkey_script *s, redisReply **out, int nkeys, const char **keys,
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
