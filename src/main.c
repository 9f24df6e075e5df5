/* main.c - arguments, configuration, signals, the worker threads and the
 * graceful drain. Everything request-shaped lives in router.c and below. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "acct.h"
#include "anthropic.h"
#include "axon.h"
#include "config.h"
#include "config_doc.h"
#include "buf.h"
#include "drain.h"
#include "pool.h"
#include "fcgi_io.h"
#include "log.h"
#include "memcap.h"
#include "catalog.h"
#include "provider.h"
#include "router.h"
#include "seal.h"
#include "stats.h"
#include "upstream.h"
#include "valkey.h"
#include "text.h"

#define LISTEN_BACKLOG 4096   /* the kernel caps it at net.core.somaxconn */
#define WORKER_STACK ((size_t)512 * 1024) /* handlers keep big data on the heap */
#define EXTRA_IDLE_S 5        /* an extra worker idle this long leaves */
#define SPAWN_BATCH 4         /* extras started when nobody is left to accept */
#define BUSY_WARN_EVERY_S 60  /* "every worker is busy" at most this often */
/* After the drain deadline, how long answers still open get to send their
 * error chunk and [DONE] and give their session back: a stream notices the
 * cut at its next tick (UP_TICK_MS), then makes one Valkey round trip. */
#define DRAIN_CUT_GRACE_MS 2000
#define BIG_REQUEST_BYTES ((size_t)1 << 20) /* a body this big: trim the heap after it */
#define MMAP_THRESHOLD (256 * 1024)         /* blocks this big get a mapping of their own */

/* Worker kinds, passed as the thread argument. */
enum { WORKER_FIRST, WORKER_CORE, WORKER_EXTRA };

static struct axon_config cfg;
static int listen_fd = 0;            /* 0: the socket spawn-fcgi or the server gave us */
static char *own_socket_path;        /* set when --listen made a unix socket */
static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int workers_alive;
static atomic_int in_flight;
/* Workers waiting to accept (on accept_mu or in accept): none left means
 * the next connection waits in the backlog, so a busy worker starts one. */
static atomic_int accepting;
static pthread_attr_t worker_attr;
static pthread_mutex_t life_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t life_cv = PTHREAD_COND_INITIALIZER; /* a worker ended */
static atomic_llong busy_warned_at;

/* Writes the settings table in format fmt to f (config_doc.h). */
static int print_settings(FILE *f, enum config_doc_format fmt)
{
    struct buf b = BUF_INIT((size_t)1 << 20);
    int rc = config_doc_render(&b, fmt);
    if (!rc && fwrite(b.p, 1, b.len, f) != b.len)
        rc = AXON_EIO;
    buf_free(&b);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: axon [--listen PATH|IP:PORT] [--config FILE] [--check-config]\n"
            "            [--settings FORMAT] [--help] [--version]\n\n"
            "Axon is an OpenAI-compatible LLM gateway: a FastCGI responder run by a web\n"
            "server (lighttpd bin-path), by spawn-fcgi, or standalone with --listen for\n"
            "nginx fastcgi_pass. Without --listen it serves the socket on fd 0.\n\n"
            "  --listen PATH|IP:PORT  open our own socket: /abs/path.sock or 127.0.0.1:9000\n"
            "  --config FILE          NAME=value settings (default: $AXON_CONFIG, else\n"
            "                         ./etc/axon.conf when present); the environment wins\n"
            "  --check-config         validate the configuration, exit 0 or 2\n"
            "  --settings FORMAT      print the settings table as help, markdown, conf,\n"
            "                         values, env or rows (what `make docs` writes)\n"
            "  --help, --version\n\n");
    (void)print_settings(f, CONFIG_DOC_HELP);
}

/* FCGX_OpenSocket unlinks the path first and exit()s on any failure, so the
 * argument is checked here: an absolute path that is not a live socket of
 * another instance, or a dotted IPv4 address with a port. */
static int open_listen(const char *spec, char *err, size_t errlen)
{
    if (spec[0] == '/') {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(spec) >= sizeof sa.sun_path) {
            snprintf(err, errlen, "--listen %s: path too long", spec);
            return -1;
        }
        struct stat st;
        if (lstat(spec, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                snprintf(err, errlen, "--listen %s: exists and is not a socket", spec);
                return -1;
            }
            memcpy(sa.sun_path, spec, strlen(spec) + 1);
            int probe = socket(AF_UNIX, SOCK_STREAM, 0);
            bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
            if (probe >= 0)
                close(probe);
            if (live) {
                snprintf(err, errlen, "--listen %s: another process is serving it", spec);
                return -1;
            }
        }
        own_socket_path = (char *)spec;
    } else {
        const char *colon = strrchr(spec, ':');
        char host[64];
        int64_t port;
        struct in_addr ia;
        size_t hlen = colon ? (size_t)(colon - spec) : 0;
        if (!colon || hlen == 0 || hlen >= sizeof host ||
            text_parse_i64(colon + 1, 1, 65535, &port)) {
            snprintf(err, errlen, "--listen %s: expected /abs/path.sock or IP:PORT", spec);
            return -1;
        }
        memcpy(host, spec, hlen);
        host[hlen] = '\0';
        if (inet_pton(AF_INET, host, &ia) != 1) {
            snprintf(err, errlen, "--listen %s: the host must be a dotted IPv4 address", spec);
            return -1;
        }
    }
    /* libfcgi trusts whoever connects, and its ReadParams still overflows an
     * int on hostile lengths (CVE-2025-23016 is only half fixed in Debian's
     * 2.4.2): only the web server may reach the socket. A unix socket is
     * made 0660 whatever the umask (bind applies it; there is no window
     * with wider rights); over TCP, FCGI_WEB_SERVER_ADDRS lists the peers
     * libfcgi accepts. */
    mode_t old_mask = umask(0117);
    int fd = FCGX_OpenSocket(spec, LISTEN_BACKLOG);
    umask(old_mask);
    if (fd < 0)
        snprintf(err, errlen, "--listen %s: %m", spec); /* %m: strerror is not thread-safe */
    else if (spec[0] != '/' && !getenv("FCGI_WEB_SERVER_ADDRS"))
        log_msg(AXON_LOG_WARN, "--listen %s: any local process can talk FastCGI to axon; set "
                          "FCGI_WEB_SERVER_ADDRS to the web server's address", spec);
    return fd;
}

/* Opens this thread's upstream connections before its first request, so
 * that request does not pay for TCP and TLS. A failure is only logged: the
 * upstream may come up later, and requests connect on their own. */
static void prewarm_upstreams(void)
{
    for (int k = 0; k < cfg.n_endpoints; k++) {
        const struct endpoint *ep = &cfg.endpoints[k];
        if (ep->provider == PROVIDER_ANTHROPIC && !cfg.anthropic_key)
            continue;
        char url[1200];
        snprintf(url, sizeof url, "%s/v1/models", ep->base_url);
        struct curl_slist *h = provider_of(ep)->headers(&cfg, ep);
        uint64_t t0 = log_now_us();
        int rc = upstream_prewarm(&cfg, url, h);
        curl_slist_free_all(h);
        if (rc)
            log_msg(AXON_LOG_WARN, "pre-warming the %s connection failed; requests will connect",
                    ep->name);
        else
            log_msg(AXON_LOG_DEBUG, "%s connection pre-warmed in %llu us", ep->name,
                    (unsigned long long)(log_now_us() - t0));
    }
}

static void *worker_main(void *arg);

/* Starts one extra worker unless AXON_MAX_THREADS run already (main starts
 * the AXON_THREADS core ones itself). */
static void start_extra_worker(void)
{
    int n = atomic_load(&workers_alive);
    do {
        if (n >= cfg.max_threads) {
            long long now = (long long)time(NULL), last = atomic_load(&busy_warned_at);
            if (now - last >= BUSY_WARN_EVERY_S &&
                atomic_compare_exchange_strong(&busy_warned_at, &last, now))
                log_msg(AXON_LOG_WARN, "all %d workers are busy (AXON_MAX_THREADS): new requests "
                                  "wait in the web server's queue", n);
            return;
        }
    } while (!atomic_compare_exchange_weak(&workers_alive, &n, n + 1));
    pthread_t t;
    if (pthread_create(&t, &worker_attr, worker_main, (void *)(intptr_t)WORKER_EXTRA) != 0) {
        atomic_fetch_sub(&workers_alive, 1);
        log_msg(AXON_LOG_WARN, "cannot start another worker thread (%d running)", n);
    }
}

/* Waits for the right to accept: an extra worker gives up after
 * EXTRA_IDLE_S, so the threads a burst started leave when it is over. */
static bool wait_turn(int kind)
{
    if (kind != WORKER_EXTRA) {
        pthread_mutex_lock(&accept_mu);
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += EXTRA_IDLE_S;
    return pthread_mutex_timedlock(&accept_mu, &until) == 0;
}

/* AddressSanitizer replaces malloc but not malloc_trim, which then walks
 * glibc arenas that were never set up (a SEGV, seen when extra workers left
 * an ASan build). */
static void trim_heap(void)
{
#ifndef __SANITIZE_ADDRESS__
    malloc_trim(0);
#endif
}

/* glibc raises its mmap threshold to the largest block freed (up to 32 MiB
 * on 64 bits): after one big request, the next ones' bodies, trees and
 * translations came from the threads' arenas, which give memory back only
 * from their top. Measured: one 15 MiB request left axon at 58 MiB instead
 * of 12, eight in parallel at 412-550 MiB. A fixed threshold keeps every big
 * buffer in a mapping of its own, returned to the system when freed. */
static void tune_heap(void)
{
#ifndef __SANITIZE_ADDRESS__
    /* Called from main before any thread starts. */
    (void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD); /* NOLINT(concurrency-mt-unsafe) */
#endif
}

static void worker_ended(int kind)
{
    pthread_mutex_lock(&life_mu);
    int left = atomic_fetch_sub(&workers_alive, 1) - 1;
    pthread_cond_broadcast(&life_cv);
    pthread_mutex_unlock(&life_mu);
    /* The burst is over: give the heap its threads used back to the system. */
    if (kind == WORKER_EXTRA && left <= cfg.threads + 1 && atomic_load(&in_flight) == 0)
        trim_heap();
}

static void *worker_main(void *arg)
{
    int kind = (int)(intptr_t)arg;
    /* The first thread accepts at once, so /health answers while the others
     * are still connecting; it warms up after its first request. Extra
     * threads connect on their first request. */
    bool warm_later = kind == WORKER_FIRST;
    if (kind == WORKER_CORE)
        prewarm_upstreams();
    if (kind != WORKER_EXTRA)
        stats_worker_ready();
    FCGX_Request fcgi;
    FCGX_InitRequest(&fcgi, listen_fd, 0);
    for (;;) {
        atomic_fetch_add(&accepting, 1);
        if (!wait_turn(kind)) {
            atomic_fetch_sub(&accepting, 1);
            break; /* an idle extra */
        }
        /* During the drain the socket stays open: the web server then gets
         * our 503 for /health and new requests rather than a refused
         * connection, which nginx turns into a 502 (see signal_main). */
        int rc = drain_cut() ? -1 : FCGX_Accept_r(&fcgi);
        pthread_mutex_unlock(&accept_mu);
        int others = atomic_fetch_sub(&accepting, 1) - 1;
        if (rc < 0) {
            if (drain_cut())
                break;
            /* Transient accept failures (a connection reset before accept,
             * fd exhaustion) must not kill the worker; anything else is. */
            if (rc == -ECONNABORTED || rc == -EINTR || rc == -EMFILE || rc == -ENFILE) {
                nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
                continue;
            }
            log_msg(AXON_LOG_ERROR, "accept failed (%d): stopping this worker", rc);
            break;
        }
        /* Nobody is left to accept: a burst rarely brings one request, and
         * one new thread per accept could not keep up with 2,000 streams
         * opening within half a second. */
        for (int k = 0; others == 0 && k < SPAWN_BATCH; k++)
            start_extra_worker();
        atomic_fetch_add(&in_flight, 1);
        stats_in_flight(1);
        struct axon_req r;
        io_req_init(&r, &fcgi, &cfg);
        router_handle(&r);
        FCGX_Finish_r(&fcgi);
        /* Every path ends here: the body's room is given back once. */
        memcap_release(r.body_reserved);
        if (r.body_reserved >= BIG_REQUEST_BYTES)
            trim_heap();
        r.overhead_us = io_overhead_us(&r);
        r.valkey_rt = valkey_round_trips() - r.valkey_base;
        log_request(&r);
        stats_request(&r);
        stats_in_flight(-1);
        atomic_fetch_sub(&in_flight, 1);
        if (warm_later) {
            warm_later = false;
            prewarm_upstreams();
        }
    }
    FCGX_Free(&fcgi, 1);
    worker_ended(kind);
    return NULL;
}

/* Waits up to ms for every worker to leave; false on a second SIGINT. */
static bool wait_workers(sigset_t *set, int sig, uint64_t ms)
{
    uint64_t until = log_now_us() + ms * 1000u;
    const struct timespec tick = {0, 50 * 1000000L};
    while (atomic_load(&workers_alive) > 0 && log_now_us() < until)
        if (sigtimedwait(set, NULL, &tick) == SIGINT && sig == SIGINT)
            return false;
    return true;
}

/* libfcgi's own SIGTERM handler only sets a flag that idle threads never see
 * (measured: an idle threaded app ignores SIGTERM). So signals are blocked in
 * every thread and taken here. The drain has two phases:
 *   1. draining: requests in flight run on for up to AXON_DRAIN_S. The
 *      listening socket stays open: closed, it makes nginx answer 502 and
 *      lighttpd its own error page (max-procs 1 and one fastcgi_pass leave
 *      them no other backend), where a load balancer needs an honest 503
 *      from /health. So /health and /ready answer 503 "draining", and a new
 *      API request 503 server_shutting_down with Retry-After (router.c).
 *   2. the cut, once nothing is in flight or the time is over: stop
 *      accepting (shutting the socket wakes the accepting thread), and every
 *      answer still open ends with an error (a stream: an error chunk and
 *      [DONE]) and gives its session back, within DRAIN_CUT_GRACE_MS. */
static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    log_msg(AXON_LOG_INFO, "signal %d: draining %d in-flight request(s), up to %d s", sig,
            atomic_load(&in_flight), cfg.drain_s);
    drain_enter(DRAIN_DRAINING);
    uint64_t deadline = log_now_us() + (uint64_t)cfg.drain_s * 1000000u;
    const struct timespec tick = {0, 100 * 1000000L};
    bool hurry = false;
    while (atomic_load(&in_flight) > 0) {
        /* A repeated SIGTERM is common and not a request to hurry: systemd
         * signals the whole cgroup and lighttpd signals its child too. Only a
         * second Ctrl-C (SIGINT) cuts the drain short. */
        if (sigtimedwait(set, NULL, &tick) == SIGINT && sig == SIGINT) {
            log_msg(AXON_LOG_WARN, "second SIGINT: exiting without waiting for %d request(s)",
                    atomic_load(&in_flight));
            hurry = true;
            break;
        }
        if (log_now_us() >= deadline) {
            log_msg(AXON_LOG_WARN, "drain time AXON_DRAIN_S=%d s passed with %d request(s) in "
                    "flight: ending them with server_shutting_down", cfg.drain_s,
                    atomic_load(&in_flight));
            break;
        }
    }
    drain_enter(DRAIN_CUT);
    FCGX_ShutdownPending();
    shutdown(listen_fd, SHUT_RDWR);
    if (!hurry && !wait_workers(set, sig, DRAIN_CUT_GRACE_MS))
        log_msg(AXON_LOG_WARN, "second SIGINT: exiting at once");
    if (atomic_load(&workers_alive) > 0) {
        log_msg(AXON_LOG_WARN, "%d request(s) still open after the drain: exiting",
                atomic_load(&in_flight));
        if (own_socket_path)
            unlink(own_socket_path);
        _exit(0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_spec = NULL, *config_file = getenv("AXON_CONFIG");
    bool check_only = false;
    tune_heap();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("axon %s\n", AXON_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--check-config")) {
            check_only = true;
        } else if (!strcmp(argv[i], "--settings") && i + 1 < argc) {
            /* Reads only the table: no configuration is loaded. */
            int fmt = config_doc_format(argv[++i]);
            if (fmt < 0) {
                fprintf(stderr, "axon: --settings %s: expected help, markdown, conf, values, "
                                "env or rows\n", argv[i]);
                return 2;
            }
            return print_settings(stdout, (enum config_doc_format)fmt) ? 1 : 0;
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_file = argv[++i];
        } else {
            fprintf(stderr, "axon: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    char err[512];
    bool required = config_file != NULL;
    if (!config_file)
        config_file = "etc/axon.conf";
    if (config_load(&cfg, config_file, required, err, sizeof err)) {
        fprintf(stderr, "axon: configuration error: %s\n", err);
        return 2;
    }
    if (check_only) {
        printf("axon: configuration ok (%zu API key(s), %d threads)\n", cfg.n_keys, cfg.threads);
        config_free(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    anthropic_set_prompt_cache(cfg.prompt_cache);
    /* Reasoning items' encrypted_content (seal.h): sealed with the
     * configured keys, or with a random key that lives as long as this
     * process. Key ids are not secret; the keys are never logged. */
    if (seal_start(&cfg.seal_keys))
        log_msg(AXON_LOG_WARN, "AXON_SEAL_KEYS is not set: reasoning items' encrypted_content is "
                "sealed with a random key made at start (id %s), so it does not open after a "
                "restart nor on another axon process", seal_current_key_id());
    else
        log_msg(AXON_LOG_INFO, "encrypted_content is sealed with key id %s; %d key(s) open it",
                seal_current_key_id(), cfg.seal_keys.n);
    /* The process holds API keys and upstream credentials: no core file. */
    (void)setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    /* Every open request holds three descriptors (the web server's
     * connection, the upstream's, Valkey's): take what the hard limit allows. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Before any thread exists: every thread inherits this mask, and libfcgi
     * leaves blocked signals alone. hiredis and libcurl write to sockets too. */
    (void)signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || FCGX_Init() != 0) {
        fprintf(stderr, "axon: library initialisation failed\n");
        return 1;
    }
    /* Connections are made lazily, per thread: a Valkey that is down at
     * start only opens the breaker; axon starts and serves regardless. */
    valkey_init(&cfg.valkey, cfg.valkey_timeout_ms);
    /* Model lists and upstream health, read in the background. */
    if (catalog_start(&cfg)) {
        fprintf(stderr, "axon: cannot start the upstream monitor thread\n");
        return 1;
    }
    if (listen_spec) {
        listen_fd = open_listen(listen_spec, err, sizeof err);
        if (listen_fd < 0) {
            fprintf(stderr, "axon: %s\n", err);
            return 2;
        }
    } else if (FCGX_IsCGI()) {
        fprintf(stderr, "axon: fd 0 is not a FastCGI listening socket. Run axon under a web "
                        "server (lighttpd bin-path) or spawn-fcgi, or give it --listen "
                        "/path.sock or --listen 127.0.0.1:PORT. See axon --help.\n");
        return 2;
    }

    pthread_t sig_thread;
    pthread_attr_init(&worker_attr);
    pthread_attr_setstacksize(&worker_attr, WORKER_STACK);
    pthread_attr_setdetachstate(&worker_attr, PTHREAD_CREATE_DETACHED);
    atomic_store(&workers_alive, cfg.threads);
    for (int i = 0; i < cfg.threads; i++) {
        pthread_t t;
        if (pthread_create(&t, &worker_attr, worker_main,
                           (void *)(intptr_t)(i == 0 ? WORKER_FIRST : WORKER_CORE)) != 0) {
            fprintf(stderr, "axon: cannot start worker thread %d\n", i);
            return 1;
        }
    }
    if (pthread_create(&sig_thread, NULL, signal_main, &set) != 0) {
        fprintf(stderr, "axon: cannot start the signal thread\n");
        return 1;
    }
    log_msg(AXON_LOG_INFO, "axon %s ready: %d threads (up to %d), %zu API key(s), listening on %s",
            AXON_VERSION, cfg.threads, cfg.max_threads, cfg.n_keys,
            listen_spec ? listen_spec : "fd 0");

    pthread_mutex_lock(&life_mu);
    while (atomic_load(&workers_alive) > 0)
        pthread_cond_wait(&life_cv, &life_mu);
    pthread_mutex_unlock(&life_mu);
    if (!drain_started()) {
        log_msg(AXON_LOG_ERROR, "every worker stopped without a signal: exiting");
        return 1;
    }
    pthread_join(sig_thread, NULL);
    pool_shutdown(); /* the sessions this process kept go back to the registry */
    catalog_stop();
    log_msg(AXON_LOG_INFO, "stopped");
    if (own_socket_path)
        unlink(own_socket_path);
    pthread_attr_destroy(&worker_attr);
    valkey_shutdown();
    config_free(&cfg);
    curl_global_cleanup();
    return 0;
}
