/*
 * mockup.c - a fast mock of the Anthropic Messages API, for benchmarks.
 *
 * The Node mock (tests/mock/anthropic.mjs) is faithful but slow; the bench
 * needs an upstream that is never the bottleneck. This one is a single-file
 * epoll server that answers every POST /v1/messages with the same short
 * message, in Anthropic's wire format, from pre-rendered templates.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -o build/bench/mockup tests/bench/mockup.c -lpthread
 *   mockup --port P [--host 127.0.0.1] [--threads T] [--tokens N] [--interval-ms D]
 *
 * Routes:
 *   POST /v1/messages        message, or an SSE stream when the body has "stream":true;
 *                            N tokens "~t1 ~t2 ...", one delta every D ms (D=0: all at once)
 *   GET  /v1/models          one model
 *   GET  /_mock/health       "ok"
 *   GET|POST /_mock/set?interval_ms=D&tokens=N   change D and N for all threads
 *   GET  /_mock/stats[?reset=1]  counters as JSON (reset=1 resets the stream peak)
 *
 * Each thread has its own epoll loop and its own SO_REUSEPORT listener.
 * Connections are keep-alive; pipelined requests are answered in order.
 * SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_MAX (32u * 1024)          /* request line + headers, else 431 */
#define BODY_MAX (4u * 1024 * 1024)   /* request body, else 413 */
#define IN_MAX (HDR_MAX + BODY_MAX)   /* so one whole request always fits */
#define IN_AHEAD (64u * 1024)         /* read-ahead while a timed stream runs */
#define OUT_MAX (1u * 1024 * 1024)    /* pending output; beyond it we close */
#define OUT_HIGH (256u * 1024)        /* stop answering pipelined requests above this */
#define MODEL_MAX 200
#define TOKENS_MAX 4096               /* a D=0 stream of 4096 tokens is ~0.5 MiB < OUT_MAX */
#define INTERVAL_MAX 600000
#define LINGER_MS 2000                /* drain time after a response that closes */
#define LINGER_BYTES (8u * 1024 * 1024)
#define INPUT_TOKENS 12
#define DEFAULT_MODEL "claude-sonnet-4-5"

#define LIT(s) (s), (sizeof(s) - 1)

/* ---- small helpers ------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fputs("mockup: out of memory\n", stderr);
        abort();
    }
    return q;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fputs("mockup: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* A byte buffer; the live bytes are p[off, len). */
struct buf {
    char *p;
    size_t off, len, cap;
};

/* Makes room for n more bytes at the end. Fails (-1) when the live bytes plus
 * n would pass max: every buffer fed from the network has a cap. */
static int buf_room(struct buf *b, size_t n, size_t max)
{
    size_t used = b->len - b->off;
    if (n > max || used > max - n)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    if (b->off) {
        memmove(b->p, b->p + b->off, used);
        b->off = 0;
        b->len = used;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - used < n)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
    return 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Appends to a buffer we own (templates): no cap. */
static void sb_add(struct buf *b, const char *s, size_t n)
{
    if (buf_room(b, n, SIZE_MAX / 4) < 0)
        abort();
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static size_t fmt_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_hex(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static void hex16(char *dst, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        dst[i] = "0123456789abcdef"[v & 15];
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_safe(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == ':' || ch == '/' || ch == '-';
}

/* Copies only [A-Za-z0-9._:/-] from s[0,n) into dst (at most max bytes). */
static size_t safe_copy(char *dst, size_t max, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++)
        if (is_safe(s[i]))
            dst[k++] = s[i];
    return k;
}

/* Parses a whole decimal number in [lo, hi]; s need not be NUL-terminated. */
static int parse_long(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[24];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(tmp, &end, 10);
    if (errno || *end || end == tmp || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- shared state -------------------------------------------------------- */

/* interval_ms << 32 | tokens, in one word so a reader never sees half a change. */
static _Atomic uint64_t g_settings;
static atomic_long g_streams_active, g_streams_peak, g_conns_open;
static uint64_t g_id_seed;

static uint64_t pack(long interval, long tokens)
{
    return (uint64_t)interval << 32 | (uint64_t)tokens;
}

static void streams_add(long d)
{
    long v = atomic_fetch_add(&g_streams_active, d) + d;
    long peak = atomic_load(&g_streams_peak);
    while (v > peak && !atomic_compare_exchange_weak(&g_streams_peak, &peak, v))
        ;
}

/* ---- pre-rendered response parts ----------------------------------------- */

/* The JSON follows recorded real traffic (../shared/fixtures/
 * anthropic-nonstream-text.json, anthropic-recorded-stream-*.sse): model
 * first, full usage, compact, no padding. */
static const char NS_1[] = "{\"model\":\"";
static const char NS_2[] = "\",\"id\":\"msg_mock_";
static const char MS_1[] = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"";
static const char MS_2[] = "\",\"id\":\"msg_mock_";
static const char MS_3[] =
    "\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
    "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\","
    "\"inference_geo\":\"not_available\"}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"; /* sic: the real ping has the space */

static int fmt_delta(char *dst, size_t cap, long k)
{
    return snprintf(dst, cap,
                    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                    "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s~t%ld\"}}\n\n",
                    k > 1 ? " " : "", k);
}

static int fmt_tail(char *dst, size_t cap, long n)
{
    return snprintf(dst, cap,
                    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":%d,"
                    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":%ld}}\n\n"
                    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                    INPUT_TOKENS, n);
}

/* The parts that depend on the token count, rebuilt by each thread when the
 * settings change (so no locks on the hot path). */
struct tmpl {
    uint64_t key;     /* settings these were built for; 0 = never built */
    struct buf ns;    /* non-stream body after the message id */
    struct buf delta; /* all content_block_delta events */
    struct buf tail;  /* content_block_stop .. message_stop */
};

static void tmpl_build(struct tmpl *t, uint64_t key)
{
    long n = (long)(key & 0xffffffffu);
    char tmp[512];
    int len;
    t->key = key;
    t->ns.len = t->delta.len = t->tail.len = 0;
    sb_add(&t->ns, LIT("\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\""));
    for (long k = 1; k <= n; k++) {
        len = snprintf(tmp, sizeof tmp, "%s~t%ld", k > 1 ? " " : "", k);
        sb_add(&t->ns, tmp, (size_t)len);
        len = fmt_delta(tmp, sizeof tmp, k);
        sb_add(&t->delta, tmp, (size_t)len);
    }
    len = snprintf(tmp, sizeof tmp,
                   "\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":%d,"
                   "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":"
                   "{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":%ld,"
                   "\"service_tier\":\"standard\",\"inference_geo\":\"not_available\"}}",
                   INPUT_TOKENS, n);
    sb_add(&t->ns, tmp, (size_t)len);
    len = fmt_tail(tmp, sizeof tmp, n);
    sb_add(&t->tail, tmp, (size_t)len);
}

/* ---- connections and workers --------------------------------------------- */

struct worker;

struct conn {
    int fd;
    uint32_t events;      /* epoll mask registered now */
    struct worker *w;
    struct conn *prev, *next;
    struct buf in, out;
    size_t need;          /* bytes the current request needs in `in`, once known */
    size_t drained;       /* bytes discarded while lingering */
    bool dead;            /* close at the next chance (error, overflow, peer gone) */
    bool peer_eof;        /* the client closed its side */
    bool close_after;     /* close once the output is flushed */
    bool lingering;       /* write side shut, draining input until EOF or timeout */
    bool keep, http10;    /* current request: keep-alive? HTTP/1.0? */
    bool sent_continue;
    bool stream, chunked; /* a timed stream is running */
    long st_sent, st_total, st_interval;
    uint64_t due;         /* next timer, ms */
    long heap_i;          /* index in the worker's timer heap, -1 if none */
};

struct worker {
    int idx, ep, lfd;
    bool listen_paused;
    pthread_t th;
    struct conn *conns;
    struct conn **heap;
    size_t nheap, capheap;
    uint64_t ids;
    struct tmpl t;
    _Atomic uint64_t requests, messages; /* written by this thread only */
};

static struct worker **g_workers;
static int g_nworkers;
static int g_wakefd = -1;
static char TAG_LISTEN, TAG_WAKE; /* epoll data for the non-connection fds */

static void bump(_Atomic uint64_t *v)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* Timer min-heap ordered by conn->due. */
static void heap_set(struct worker *w, size_t i, struct conn *c)
{
    w->heap[i] = c;
    c->heap_i = (long)i;
}

static void heap_sift(struct worker *w, size_t i)
{
    struct conn *c = w->heap[i];
    while (i > 0 && w->heap[(i - 1) / 2]->due > c->due) {
        heap_set(w, i, w->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        struct conn *best = c;
        if (l < w->nheap && w->heap[l]->due < best->due)
            best = w->heap[m = l];
        if (l + 1 < w->nheap && w->heap[l + 1]->due < best->due)
            best = w->heap[m = l + 1];
        if (m == i)
            break;
        heap_set(w, i, best);
        i = m;
    }
    heap_set(w, i, c);
}

static void timer_set(struct conn *c, uint64_t due)
{
    struct worker *w = c->w;
    c->due = due;
    if (c->heap_i < 0) {
        if (w->nheap == w->capheap) {
            w->capheap = w->capheap ? 2 * w->capheap : 64;
            w->heap = xrealloc(w->heap, w->capheap * sizeof *w->heap);
        }
        heap_set(w, w->nheap++, c);
    }
    heap_sift(w, (size_t)c->heap_i);
}

static void timer_cancel(struct conn *c)
{
    struct worker *w = c->w;
    if (c->heap_i < 0)
        return;
    size_t i = (size_t)c->heap_i;
    c->heap_i = -1;
    struct conn *last = w->heap[--w->nheap];
    if (i < w->nheap) {
        heap_set(w, i, last);
        heap_sift(w, i);
    }
}

static void out_add(struct conn *c, const char *s, size_t n)
{
    if (c->dead)
        return;
    if (buf_room(&c->out, n, OUT_MAX) < 0) {
        c->dead = true; /* a client that does not read: drop it */
        return;
    }
    memcpy(c->out.p + c->out.len, s, n);
    c->out.len += n;
}

static void out_chunk_head(struct conn *c, size_t n)
{
    char tmp[24];
    size_t k = fmt_hex(tmp, n);
    tmp[k++] = '\r';
    tmp[k++] = '\n';
    out_add(c, tmp, k);
}

static const char *conn_hdr(const struct conn *c)
{
    if (!c->keep)
        return "Connection: close\r\n";
    return c->http10 ? "Connection: keep-alive\r\n" : "";
}

static void next_id(struct worker *w, char id[16])
{
    hex16(id, g_id_seed + ((uint64_t)w->idx << 48) + ++w->ids);
}

/* Response headers: status, type, request-id, then length or chunking. */
static void out_head(struct conn *c, const char *status, const char *ctype, const char *extra, size_t clen,
                     bool has_len)
{
    char id[16], num[24];
    next_id(c->w, id);
    out_add(c, LIT("HTTP/1.1 "));
    out_add(c, status, strlen(status));
    out_add(c, LIT("\r\nContent-Type: "));
    out_add(c, ctype, strlen(ctype));
    out_add(c, LIT("\r\nrequest-id: req_mock"));
    out_add(c, id, 16);
    out_add(c, LIT("\r\n"));
    out_add(c, extra, strlen(extra));
    if (has_len) {
        out_add(c, LIT("Content-Length: "));
        out_add(c, num, fmt_u64(num, clen));
        out_add(c, LIT("\r\n"));
    }
    const char *ch = conn_hdr(c);
    out_add(c, ch, strlen(ch));
    out_add(c, LIT("\r\n"));
}

static void reply(struct conn *c, const char *status, const char *ctype, const char *body, size_t n)
{
    out_head(c, status, ctype, "", n, true);
    out_add(c, body, n);
}

/* An Anthropic-style error. `close` for errors after which the rest of the
 * input cannot be framed (bad headers, body we will not read). */
static void reply_error(struct conn *c, const char *status, const char *type, const char *msg, bool close)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}", type,
                     msg);
    if (n < 0 || (size_t)n >= sizeof body)
        n = snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"\"}}", type);
    if (close) {
        c->keep = false;
        c->close_after = true;
    }
    reply(c, status, "application/json", body, (size_t)n);
}

/* ---- routes ------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Position just after `"key"` <ws> `:` <ws>, or NULL. Not a JSON parser: the
 * first such key anywhere in the body wins, which is enough for our clients. */
static const char *json_key(const char *b, size_t n, const char *key, size_t klen)
{
    const char *end = b + n;
    const char *p = b;
    while ((p = memmem(p, (size_t)(end - p), key, klen)) != NULL) {
        const char *q = skip_ws(p + klen, end);
        p += klen;
        if (q < end && *q == ':')
            return skip_ws(q + 1, end);
    }
    return NULL;
}

static size_t find_model(const char *b, size_t n, char *out)
{
    const char *end = b + n;
    const char *p = json_key(b, n, LIT("\"model\""));
    size_t k = 0;
    if (!p || p >= end || *p != '"')
        return 0;
    for (p++; p < end && *p != '"' && k < MODEL_MAX; p++) {
        if (*p == '\\') { /* skip the escaped character: it is never safe */
            p++;
            if (p >= end)
                break;
        } else if (is_safe(*p)) {
            out[k++] = *p;
        }
    }
    return k;
}

static bool wants_stream(const char *b, size_t n)
{
    const char *p = json_key(b, n, LIT("\"stream\""));
    return p && (size_t)(b + n - p) >= 4 && memcmp(p, "true", 4) == 0;
}

static void stream_end(struct conn *c)
{
    c->stream = false;
    timer_cancel(c);
    streams_add(-1);
}

static void route_messages(struct conn *c, const char *body, size_t blen)
{
    struct worker *w = c->w;
    uint64_t key = atomic_load(&g_settings);
    if (key != w->t.key)
        tmpl_build(&w->t, key);
    const struct tmpl *t = &w->t;
    long tokens = (long)(key & 0xffffffffu), interval = (long)(key >> 32);
    char model[MODEL_MAX], id[16];
    size_t mlen = find_model(body, blen, model);
    if (mlen == 0) {
        memcpy(model, DEFAULT_MODEL, sizeof DEFAULT_MODEL - 1);
        mlen = sizeof DEFAULT_MODEL - 1;
    }
    next_id(w, id);
    bump(&w->messages);

    if (!wants_stream(body, blen)) {
        out_head(c, "200 OK", "application/json", "", sizeof NS_1 - 1 + mlen + sizeof NS_2 - 1 + 16 + t->ns.len,
                 true);
        out_add(c, LIT(NS_1));
        out_add(c, model, mlen);
        out_add(c, LIT(NS_2));
        out_add(c, id, 16);
        out_add(c, t->ns.p, t->ns.len);
        return;
    }

    /* HTTP/1.0 has no chunking: the end of the stream is the end of the connection. */
    c->chunked = !c->http10;
    if (!c->chunked)
        c->keep = false;
    out_head(c, "200 OK", "text/event-stream; charset=utf-8",
             c->chunked ? "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n" : "Cache-Control: no-cache\r\n",
             0, false);
    size_t first = sizeof MS_1 - 1 + mlen + sizeof MS_2 - 1 + 16 + sizeof MS_3 - 1;
    if (c->chunked)
        out_chunk_head(c, first + (interval ? 0 : t->delta.len + t->tail.len));
    out_add(c, LIT(MS_1));
    out_add(c, model, mlen);
    out_add(c, LIT(MS_2));
    out_add(c, id, 16);
    out_add(c, LIT(MS_3));
    if (interval == 0) { /* everything in the same write */
        out_add(c, t->delta.p, t->delta.len);
        out_add(c, t->tail.p, t->tail.len);
        if (c->chunked)
            out_add(c, LIT("\r\n0\r\n\r\n"));
        else
            c->close_after = true;
        return;
    }
    if (c->chunked)
        out_add(c, LIT("\r\n"));
    /* The stream keeps its own count and pace if /_mock/set changes them. */
    c->stream = true;
    c->st_sent = 0;
    c->st_total = tokens;
    c->st_interval = interval;
    streams_add(1);
    timer_set(c, now_ms() + (uint64_t)interval);
}

/* One delta (plus the tail after the last), as one chunk. */
static void stream_tick(struct conn *c, uint64_t now)
{
    char ev[256], tail[512];
    int n = fmt_delta(ev, sizeof ev, ++c->st_sent);
    int tn = 0;
    bool last = c->st_sent >= c->st_total;
    if (last)
        tn = fmt_tail(tail, sizeof tail, c->st_total);
    if (c->chunked)
        out_chunk_head(c, (size_t)n + (size_t)tn);
    out_add(c, ev, (size_t)n);
    out_add(c, tail, (size_t)tn);
    if (c->chunked)
        out_add(c, last ? "\r\n0\r\n\r\n" : "\r\n", last ? 7 : 2);
    if (!last) {
        /* Keep the pace; if we fell more than an interval behind, restart it. */
        uint64_t due = c->due + (uint64_t)c->st_interval;
        timer_set(c, due > now ? due : now + (uint64_t)c->st_interval);
        return;
    }
    stream_end(c);
    if (!c->chunked)
        c->close_after = true;
}

/* Finds key in a query string or form body "a=1&b=2". 1 found, 0 absent, -1 bad. */
static int kv_get(const char *s, size_t n, const char *key, long lo, long hi, long *out)
{
    size_t klen = strlen(key);
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if ((size_t)(e - s) > klen && memcmp(s, key, klen) == 0 && s[klen] == '=')
            return parse_long(s + klen + 1, (size_t)(e - s) - klen - 1, lo, hi, out) ? -1 : 1;
        s = e + 1;
    }
    return 0;
}

static void route_set(struct conn *c, const char *q, size_t qlen, const char *body, size_t blen)
{
    uint64_t cur = atomic_load(&g_settings);
    long interval = (long)(cur >> 32), tokens = (long)(cur & 0xffffffffu);
    int a = kv_get(q, qlen, "interval_ms", 0, INTERVAL_MAX, &interval);
    int b = kv_get(q, qlen, "tokens", 1, TOKENS_MAX, &tokens);
    if (a == 0)
        a = kv_get(body, blen, "interval_ms", 0, INTERVAL_MAX, &interval);
    if (b == 0)
        b = kv_get(body, blen, "tokens", 1, TOKENS_MAX, &tokens);
    if (a < 0 || b < 0) {
        reply_error(c, "400 Bad Request", "invalid_request_error",
                    "interval_ms must be 0..600000 and tokens 1..4096", false);
        return;
    }
    atomic_store(&g_settings, pack(interval, tokens));
    char out[128];
    int n = snprintf(out, sizeof out, "{\"interval_ms\":%ld,\"tokens\":%ld}", interval, tokens);
    reply(c, "200 OK", "application/json", out, (size_t)n);
}

static void route_stats(struct conn *c, const char *q, size_t qlen)
{
    uint64_t req = 0, msg = 0, cur = atomic_load(&g_settings);
    for (int i = 0; i < g_nworkers; i++) {
        req += atomic_load_explicit(&g_workers[i]->requests, memory_order_relaxed);
        msg += atomic_load_explicit(&g_workers[i]->messages, memory_order_relaxed);
    }
    char out[512];
    int n = snprintf(out, sizeof out,
                     "{\"requests\":%llu,\"messages\":%llu,\"streams_active\":%ld,\"streams_peak\":%ld,"
                     "\"connections_open\":%ld,\"interval_ms\":%llu,\"tokens\":%llu,\"threads\":%d}",
                     (unsigned long long)req, (unsigned long long)msg, atomic_load(&g_streams_active),
                     atomic_load(&g_streams_peak), atomic_load(&g_conns_open), (unsigned long long)(cur >> 32),
                     (unsigned long long)(cur & 0xffffffffu), g_nworkers);
    long reset = 0;
    if (kv_get(q, qlen, "reset", 0, 1, &reset) == 1 && reset)
        atomic_store(&g_streams_peak, atomic_load(&g_streams_active));
    reply(c, "200 OK", "application/json", out, (size_t)n);
}

static const char MODELS[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-5\",\"display_name\":\"Claude Sonnet 4.5\","
    "\"created_at\":\"2025-09-29T00:00:00Z\"}],\"has_more\":false,\"first_id\":\"claude-sonnet-4-5\","
    "\"last_id\":\"claude-sonnet-4-5\"}";

static bool eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

struct req {
    const char *method, *path, *query;
    size_t mlen, plen, qlen;
    size_t clen;
    bool has_clen, has_te, expect, close, keep_alive, http10;
};

static void route(struct conn *c, const struct req *r, const char *body)
{
    bool get = eq(r->method, r->mlen, "GET"), post = eq(r->method, r->mlen, "POST");
    bump(&c->w->requests);
    if (post && eq(r->path, r->plen, "/v1/messages"))
        route_messages(c, body, r->clen);
    else if (get && eq(r->path, r->plen, "/v1/models"))
        reply(c, "200 OK", "application/json", LIT(MODELS));
    else if (get && eq(r->path, r->plen, "/_mock/health"))
        reply(c, "200 OK", "text/plain", LIT("ok"));
    else if ((get || post) && eq(r->path, r->plen, "/_mock/set"))
        route_set(c, r->query, r->qlen, body, r->clen);
    else if (get && eq(r->path, r->plen, "/_mock/stats"))
        route_stats(c, r->query, r->qlen);
    else {
        char msg[160], m[16], p[100];
        size_t ml = safe_copy(m, sizeof m, r->method, r->mlen), pl = safe_copy(p, sizeof p, r->path, r->plen);
        snprintf(msg, sizeof msg, "mockup: no route for %.*s %.*s", (int)ml, m, (int)pl, p);
        reply_error(c, "404 Not Found", "not_found_error", msg, false);
    }
}

/* ---- HTTP/1.1 framing ---------------------------------------------------- */

static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    const char *end = v + n;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == tl && strncasecmp(v, tok, tl) == 0)
            return true;
        v = e + 1;
    }
    return false;
}

/* Parses the request line and headers in p[0, n) (which ends in CRLFCRLF).
 * Returns 0, or -1 for a malformed request. */
static int parse_head(const char *p, size_t n, struct req *r)
{
    const char *end = p + n;
    if (!p || n < 4) /* never: keeps gcc -O2 -fsanitize quiet */
        return -1;
    const char *eol = memmem(p, n, "\r\n", 2);
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1)
        return -1;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp1 == p || sp2 == sp1 + 1)
        return -1;
    memset(r, 0, sizeof *r);
    r->method = p;
    r->mlen = (size_t)(sp1 - p);
    r->path = sp1 + 1;
    const char *qm = memchr(r->path, '?', (size_t)(sp2 - r->path));
    r->plen = (size_t)((qm ? qm : sp2) - r->path);
    r->query = qm ? qm + 1 : sp2;
    r->qlen = qm ? (size_t)(sp2 - qm - 1) : 0;
    if (eq(sp2 + 1, (size_t)(eol - sp2 - 1), "HTTP/1.0"))
        r->http10 = true;
    else if (!eq(sp2 + 1, (size_t)(eol - sp2 - 1), "HTTP/1.1"))
        return -1;

    for (const char *line = eol + 2; line < end - 2; line = eol + 2) {
        eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon || colon == line)
            return -1;
        size_t nl = (size_t)(colon - line);
        const char *v = skip_ws(colon + 1, eol), *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - v);
        if (nl == 14 && strncasecmp(line, "content-length", nl) == 0) {
            uint64_t len = 0;
            if (vl == 0)
                return -1;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -1;
                if (len <= BODY_MAX) /* past the cap the exact value does not matter */
                    len = len * 10 + (uint64_t)(v[i] - '0');
            }
            if (r->has_clen && r->clen != len)
                return -1;
            r->has_clen = true;
            r->clen = len > BODY_MAX ? (size_t)BODY_MAX + 1 : (size_t)len;
        } else if (nl == 17 && strncasecmp(line, "transfer-encoding", nl) == 0) {
            r->has_te = true;
        } else if (nl == 10 && strncasecmp(line, "connection", nl) == 0) {
            r->close |= has_token(v, vl, "close");
            r->keep_alive |= has_token(v, vl, "keep-alive");
        } else if (nl == 6 && strncasecmp(line, "expect", nl) == 0) {
            r->expect = has_token(v, vl, "100-continue");
        }
    }
    return 0;
}

/* Handles the request at the start of c->in, if it is all there.
 * Returns 1 when one was consumed, 0 when more input is needed or the
 * connection is closing. */
static int handle_request(struct conn *c)
{
    struct buf *in = &c->in;
    /* RFC 9112 2.2: a server should ignore empty lines before a request. */
    while (in->len - in->off >= 2 && in->p[in->off] == '\r' && in->p[in->off + 1] == '\n')
        in->off += 2;
    if (in->len == in->off || !in->p) /* an idle connection has no buffer */
        return 0;
    const char *p = in->p + in->off;
    size_t avail = in->len - in->off;
    const char *hend = memmem(p, avail < HDR_MAX ? avail : HDR_MAX, "\r\n\r\n", 4);
    if (!hend) {
        if (avail >= HDR_MAX)
            reply_error(c, "431 Request Header Fields Too Large", "invalid_request_error",
                        "request headers exceed 32 KiB", true);
        return 0;
    }
    size_t hlen = (size_t)(hend + 4 - p);
    struct req r;
    c->keep = true;
    c->http10 = false;
    if (parse_head(p, hlen, &r) < 0) {
        reply_error(c, "400 Bad Request", "invalid_request_error", "malformed HTTP request", true);
        return 0;
    }
    c->http10 = r.http10;
    c->keep = r.http10 ? r.keep_alive && !r.close : !r.close;
    if (r.has_te) {
        reply_error(c, "411 Length Required", "invalid_request_error",
                    "chunked request bodies are not supported: send Content-Length", true);
        return 0;
    }
    if (!r.has_clen && eq(r.path, r.plen, "/v1/messages") && eq(r.method, r.mlen, "POST")) {
        reply_error(c, "411 Length Required", "invalid_request_error", "Content-Length is required", true);
        return 0;
    }
    if (r.clen > BODY_MAX) {
        reply_error(c, "413 Request Entity Too Large", "request_too_large",
                    "Request exceeds the maximum allowed number of bytes.", true);
        return 0;
    }
    if (avail < hlen + r.clen) {
        c->need = hlen + r.clen;
        if (r.expect && !c->sent_continue && !r.http10) {
            out_add(c, LIT("HTTP/1.1 100 Continue\r\n\r\n"));
            c->sent_continue = true;
        }
        return 0;
    }
    c->need = 0;
    c->sent_continue = false;
    route(c, &r, p + hlen);
    in->off += hlen + r.clen;
    if (!c->keep)
        c->close_after = true;
    return 1;
}

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    if (c->stream)
        stream_end(c);
    timer_cancel(c);
    close(c->fd); /* also removes it from the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    atomic_fetch_sub(&g_conns_open, 1);
}

static void conn_flush(struct conn *c)
{
    struct buf *o = &c->out;
    while (!c->dead && o->off < o->len) {
        ssize_t n = send(c->fd, o->p + o->off, o->len - o->off, MSG_NOSIGNAL);
        if (n > 0)
            o->off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            c->dead = true; /* the client went away, maybe mid-stream */
    }
    if (o->off == o->len) {
        /* Idle connections hold no buffers, so thousands of slow streams
         * stay small; malloc is cheap next to a syscall. */
        buf_free(o);
    }
}

static void conn_read(struct conn *c)
{
    struct buf *in = &c->in;
    if (c->lingering) {
        char junk[16384];
        ssize_t n = read(c->fd, junk, sizeof junk);
        if (n > 0)
            c->drained += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->drained > LINGER_BYTES)
            c->dead = true;
        return;
    }
    size_t pending = in->len - in->off;
    size_t limit = c->stream ? IN_AHEAD : IN_MAX;
    if (pending >= limit)
        return;
    size_t want = c->need > pending ? c->need - pending : 0;
    if (want < 8192)
        want = 8192;
    if (want > limit - pending)
        want = limit - pending;
    if (buf_room(in, want, limit) < 0) {
        c->dead = true;
        return;
    }
    size_t room = in->cap - in->len;
    if (room > limit - pending)
        room = limit - pending;
    ssize_t n = read(c->fd, in->p + in->len, room);
    if (n > 0) {
        in->len += (size_t)n;
    } else if (n == 0) {
        c->peer_eof = true;
        if (c->stream) /* a client that leaves mid-stream: stop now, not at the next write */
            c->dead = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c->dead = true;
    }
}

/* After any event: answer what can be answered, write, then decide what to
 * wait for next. May free c. */
static void conn_progress(struct conn *c)
{
    struct buf *in = &c->in;
    while (!c->lingering) {
        int got = 1;
        while (got > 0 && !c->dead && !c->close_after && !c->stream && c->out.len - c->out.off < OUT_HIGH)
            got = handle_request(c);
        if (in->off == in->len)
            buf_free(in);
        conn_flush(c);
        /* Stopped only for a full backlog, which the write emptied: go on,
         * as no event will come for requests already read. */
        if (got <= 0 || c->dead || c->close_after || c->stream || c->out.off != c->out.len)
            break;
    }
    bool flushed = c->out.off == c->out.len;
    if (!c->dead && !c->lingering && flushed && !c->stream && (c->close_after || c->peer_eof)) {
        if (c->peer_eof) {
            c->dead = true;
        } else {
            /* Close gracefully: shut our side, then read until the client
             * closes, so unread input (a refused body) does not turn into a
             * reset that destroys the response in flight. */
            shutdown(c->fd, SHUT_WR);
            c->lingering = true;
            timer_set(c, now_ms() + LINGER_MS);
        }
    }
    if (c->dead) {
        conn_close(c);
        return;
    }
    uint32_t m = flushed ? 0 : EPOLLOUT;
    size_t pending = in->len - in->off;
    if (c->lingering)
        m |= EPOLLIN;
    else if (!c->peer_eof && !c->close_after) {
        if (c->stream ? pending < IN_AHEAD : c->out.len - c->out.off < OUT_HIGH)
            m |= EPOLLIN;
    }
    if (m != c->events) {
        struct epoll_event ev = {.events = m, .data.ptr = c};
        if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
            c->events = m;
    }
}

static void do_accept(struct worker *w)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: stop listening for a moment instead of spinning. */
                if (!w->listen_paused)
                    fprintf(stderr, "mockup: accept: %s (pausing)\n", strerror(errno));
                epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd, NULL);
                w->listen_paused = true;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* each event goes out now */
        struct conn *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        c->w = w;
        c->heap_i = -1;
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        atomic_fetch_add(&g_conns_open, 1);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    bool stop = false;
    while (!stop) {
        int timeout = -1;
        if (w->nheap) {
            uint64_t now = now_ms(), due = w->heap[0]->due;
            timeout = due <= now ? 0 : due - now > 1000 ? 1000 : (int)(due - now);
        }
        if (w->listen_paused && (timeout < 0 || timeout > 100))
            timeout = 100;
        int n = epoll_wait(w->ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            perror("mockup: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &TAG_WAKE) {
                stop = true;
            } else if (tag == &TAG_LISTEN) {
                do_accept(w);
            } else {
                struct conn *c = tag;
                if (evs[i].events & (EPOLLERR | EPOLLHUP))
                    c->dead = true;
                else if (evs[i].events & EPOLLIN)
                    conn_read(c);
                conn_progress(c);
            }
        }
        uint64_t now = now_ms();
        while (w->nheap && w->heap[0]->due <= now) {
            struct conn *c = w->heap[0];
            timer_cancel(c);
            if (c->lingering)
                c->dead = true; /* the client never closed: give up on it */
            else if (c->stream)
                stream_tick(c, now);
            conn_progress(c);
        }
        if (w->listen_paused) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &TAG_LISTEN};
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev) == 0)
                w->listen_paused = false;
        }
    }
    while (w->conns)
        conn_close(w->conns);
    return NULL;
}

/* ---- startup ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: mockup --port P [--host 127.0.0.1] [--threads T] [--tokens N] [--interval-ms D]\n", f);
}

static long arg_long(const char *name, const char *v, long lo, long hi)
{
    long x;
    if (!v || parse_long(v, strlen(v), lo, hi, &x) < 0) {
        fprintf(stderr, "mockup: %s needs an integer in %ld..%ld\n", name, lo, hi);
        exit(2);
    }
    return x;
}

/* A listening socket on host:port with SO_REUSEPORT, so every thread can
 * have its own and the kernel spreads connections between them. */
static int listen_on(const char *host, long port, long *bound)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    char ps[24];
    snprintf(ps, sizeof ps, "%ld", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc) {
        fprintf(stderr, "mockup: --host %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "mockup: listen on %s:%ld: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1, threads = 1, tokens = 7, interval = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0)
            port = arg_long(a, v, 0, 65535), i++;
        else if (strcmp(a, "--host") == 0 && v)
            host = v, i++;
        else if (strcmp(a, "--threads") == 0)
            threads = arg_long(a, v, 1, 256), i++;
        else if (strcmp(a, "--tokens") == 0)
            tokens = arg_long(a, v, 1, TOKENS_MAX), i++;
        else if (strcmp(a, "--interval-ms") == 0)
            interval = arg_long(a, v, 0, INTERVAL_MAX), i++;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mockup: bad argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (port < 0) {
        usage(stderr);
        return 2;
    }
    atomic_store(&g_settings, pack(interval, tokens));

    /* Thousands of slow streams need thousands of descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_id_seed = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 16) & 0xffffffffffffull;

    g_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g_wakefd < 0) {
        perror("mockup: eventfd");
        return 1;
    }
    g_nworkers = (int)threads;
    g_workers = xcalloc((size_t)threads, sizeof *g_workers);
    for (int i = 0; i < g_nworkers; i++) {
        struct worker *w = xcalloc(1, sizeof *w);
        g_workers[i] = w;
        w->idx = i;
        w->lfd = listen_on(host, port, &port); /* port 0: the rest share the first's port */
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->lfd < 0 || w->ep < 0) {
            if (w->ep < 0)
                perror("mockup: epoll_create1");
            return 1;
        }
        struct epoll_event l = {.events = EPOLLIN, .data.ptr = &TAG_LISTEN};
        struct epoll_event k = {.events = EPOLLIN, .data.ptr = &TAG_WAKE};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &l) < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, g_wakefd, &k) < 0) {
            perror("mockup: epoll_ctl");
            return 1;
        }
    }

    /* Signals go to sigwait() in this thread only; workers never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < g_nworkers; i++) {
        int rc = pthread_create(&g_workers[i]->th, NULL, worker_main, g_workers[i]);
        if (rc) {
            fprintf(stderr, "mockup: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    fprintf(stderr, "mockup: listening on %s:%ld\n", host, port);

    int sig = 0;
    sigwait(&set, &sig);
    uint64_t one = 1;
    if (write(g_wakefd, &one, sizeof one) < 0)
        perror("mockup: eventfd write");
    for (int i = 0; i < g_nworkers; i++) /* all first: /_mock/stats reads every worker */
        pthread_join(g_workers[i]->th, NULL);
    for (int i = 0; i < g_nworkers; i++) {
        struct worker *w = g_workers[i];
        close(w->lfd);
        close(w->ep);
        free(w->heap);
        buf_free(&w->t.ns);
        buf_free(&w->t.delta);
        buf_free(&w->t.tail);
        free(w);
    }
    free(g_workers);
    close(g_wakefd);
    fprintf(stderr, "mockup: stopped (signal %d)\n", sig);
    return 0;
}
