/* loadgen.c - a small HTTP/1.1 load generator for the Axon benchmarks.
 *
 *   loadgen --url http://IPV4:PORT/PATH --body FILE --mode plain|stream|hold
 *           [--conc N] [--duration S] [--warmup S] [--requests N]
 *           [-H 'Name: value']... [--token-marker STR] [--expect-status CODE]
 *           [--ramp-ms MS] [--timeout-s S] [--label TEXT] [--sse chat|responses]
 *
 * plain, stream: N keep-alive connections, closed loop (each connection sends
 *   the next POST as soon as the previous response is complete). Samples of
 *   the first --warmup seconds are dropped, then --duration seconds (or
 *   --requests responses, whichever comes first) are measured. A response
 *   belongs to the measured phase by its completion time, as in wrk, so the
 *   rate is not biased by requests in flight at the phase edges.
 * hold: N connections, ONE streamed request each, all open together; reports
 *   how many streams were open at once (first byte seen, not yet complete).
 *
 * Per request, from t0 = just before the write(2) of the request, on
 * CLOCK_MONOTONIC; each event is stamped right after the read(2) that saw it:
 *   total  response complete        ttfb  first response byte
 *   ttft   first --token-marker in the decoded body (stream, hold)
 *   gap    between consecutive SSE `data:` lines holding the marker
 * Only ok responses give samples. stream/hold ok = expected status and a
 * `data: [DONE]` (OpenAI) or `event: message_stop` (Anthropic) line; plain ok
 * = expected status and a body that matched its framing.
 * --sse responses (POST /v1/responses): a token is the data line of a
 * `response.output_text.delta` event, whatever it holds (the stream opens
 * with response.created, which echoes the request and may quote the marker;
 * output_text.done and response.completed repeat the whole text), and ok
 * needs an `event: response.completed` line (response.failed or
 * response.incomplete, or a chat stream's [DONE], is an incomplete stream).
 *
 * Output: one JSON line on stdout, one summary line on stderr (see
 * README-loadgen.md). Exit 0 if the run happened (errors or not), 1 if no
 * connection could be made at all, 2 on bad usage.
 *
 * One thread, one level-triggered epoll loop, one read(2) per readiness
 * (another only when the 64 KiB buffer came back full), so the client costs
 * about one write, one epoll_wait and one read per small response.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HDR_MAX     (64u * 1024u)            /* response head, and trailers */
#define BODY_MAX    (64ull * 1024u * 1024u)  /* decoded response body */
#define REQBODY_MAX (64u * 1024u * 1024u)    /* --body file */
#define CHLINE_MAX  4096u                    /* chunk-size line with extensions */
#define MARKER_MAX  64u
#define LP_MAX      48u    /* kept prefix of an SSE line: enough to classify it */
#define MAX_HDRS    64
#define CONC_MAX    60000
#define RBUF_SZ     (64u * 1024u)
#define SCAN_NS     100000000ull  /* timeout / retry scan period: 100 ms */
#define BACKOFF_NS  10000000ull   /* wait before retrying a failed connect */
#define MAX_ERRLOG  5

enum mode { M_PLAIN, M_STREAM, M_HOLD };
/* The SSE dialect: chat (OpenAI chat or Anthropic) or the Responses API's. */
enum sse { SSE_CHAT, SSE_RESPONSES };
enum ekind { E_CONNECT, E_TIMEOUT, E_STATUS, E_PARSE, E_INCOMPLETE, E_RESET, E__N };
static const char *const ekind_name[E__N] = {
    "connect", "timeout", "status", "parse", "incomplete", "reset"};

/* Connection life: WAIT (no socket, due at t_wake) -> CONNECTING -> ACTIVE
 * (a request in flight) -> ... ; DONE is final (hold mode). */
enum cstate { CS_WAIT, CS_CONNECTING, CS_ACTIVE, CS_DONE };
/* Response parser state. */
enum pstate { PS_HEAD, PS_CL, PS_EOF, PS_CH_SIZE, PS_CH_EXT, PS_CH_DATA,
              PS_CH_CR, PS_CH_LF, PS_TRAILER, PS_DONE };

struct samples { uint64_t *v; size_t n, cap; };

/* State of one response; zeroed before each request (PS_HEAD is 0). */
struct resp {
    enum pstate ps;
    bool got_first, got_ttft, has_tok, done_seen, close_after, line_mark;
    bool in_delta;               /* Responses: after `event: response.output_text.delta` */
    uint64_t t_first, t_ttft, t_tok;
    uint32_t hlen, hline;        /* hline: bytes of current line, CR excluded */
    int status;                  /* 0 until the head is parsed / once counted */
    uint64_t remain, body_len, aux;
    uint32_t nd;                 /* hex digits in chunk size */
    /* SSE line state (stream/hold) */
    char lp[LP_MAX];             /* the line's first bytes */
    uint32_t lplen, clen;
    uint64_t llen, tlen;         /* line length; without trailing blanks/CR */
    char carry[MARKER_MAX];      /* last marker_len-1 bytes of the line */
    uint32_t events;
};

struct conn {
    int fd;
    uint32_t idx, gen;           /* gen tags epoll events of this socket */
    enum cstate st;
    bool queued, opened, out_armed, open_stream;
    uint64_t served;             /* responses completed on this socket */
    size_t woff;                 /* request bytes written */
    uint64_t t0, t_prog, t_wake;
    char *hbuf;                  /* response head, kept across requests */
    uint32_t hcap;
    struct samples gaps;         /* this response's gaps, kept only if ok */
    struct resp r;
};

/* ---- settings ---- */
static enum mode g_mode = M_PLAIN;
static enum sse g_sse = SSE_CHAT;
static int g_conc = 1;
static double g_duration = 5.0, g_warmup = 1.0, g_timeout_s = 30.0;
static bool g_dur_set;
static long long g_maxreq;       /* 0 = no limit */
static int g_expect = 200;
static long g_ramp_ms;
static const char *g_label = "";
static const char *g_marker = "~t";
static size_t g_mlen = 2;
static struct sockaddr_in g_addr;
static char *g_req;
static size_t g_reqlen;
static uint64_t g_timeout_ns;

/* ---- run state ---- */
static int g_ep = -1;
static struct conn *g_conns;
static struct conn **g_rq;       /* conns due for (re)connect now */
static size_t g_rqn;
static bool g_measuring, g_stopped, g_abort, g_ever_connected;
static uint64_t g_t_meas0, g_t_end = UINT64_MAX, g_t_stop, g_next_wake = UINT64_MAX;
static int g_hold_left, g_open_streams, g_peak_open, g_nologged, g_connfail_fresh;
static long long g_nreq, g_nok, g_nerr, g_reconnects, g_ekind[E__N], g_status[1000];
static uint32_t g_ev_min = UINT32_MAX, g_ev_max;
static struct samples s_total, s_ttfb, s_ttft, s_gap;
static char g_rbuf[RBUF_SZ];

static void die_oom(void)
{
    static const char m[] = "loadgen: out of memory\n";
    if (write(2, m, sizeof m - 1) < 0) { /* nothing left to do */ }
    abort();
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom();
    return q;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void push(struct samples *s, uint64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : strerror(e);
}

static bool counting(uint64_t now)
{
    return g_measuring && !g_stopped && now < g_t_end;
}

static void count_request(uint64_t now)
{
    g_nreq++;
    if (g_maxreq && g_nreq >= g_maxreq) {
        g_stopped = true;
        g_t_stop = now;
    }
}

static void epoll_set(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events,
                             .data.u64 = (uint64_t)c->idx | ((uint64_t)c->gen << 32)};
    if (epoll_ctl(g_ep, op, c->fd, &ev) < 0) {
        perror("loadgen: epoll_ctl");
        exit(1);
    }
}

static void schedule(struct conn *c, uint64_t when, uint64_t now)
{
    c->st = CS_WAIT;
    c->t_wake = when;
    if (when <= now) {
        if (!c->queued) {
            c->queued = true;
            g_rq[g_rqn++] = c;
        }
    } else if (when < g_next_wake) {
        g_next_wake = when;
    }
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);  /* also drops it from the epoll set */
    c->fd = -1;
    c->out_armed = false;
    if (c->open_stream) {
        c->open_stream = false;
        g_open_streams--;
    }
}

/* The count of a response by status: once, when it is resolved. */
static void count_status(struct conn *c, uint64_t now)
{
    if (c->r.status > 0 && counting(now))
        g_status[c->r.status]++;
    c->r.status = 0;
}

__attribute__((format(printf, 3, 4)))
static void conn_error(struct conn *c, enum ekind k, const char *fmt, ...)
{
    uint64_t now = now_ns();
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_nologged < MAX_ERRLOG) {
        g_nologged++;
        fprintf(stderr, "loadgen: error (%s%s) conn %u: %s\n", ekind_name[k],
                g_measuring ? "" : ", warmup", c->idx, msg);
    }
    if (counting(now)) {
        count_status(c, now);
        g_nerr++;
        g_ekind[k]++;
        count_request(now);
    }
    c->r.status = 0;  /* counted once, above, or not at all */
    conn_close(c);
    if (k == E_CONNECT && !g_ever_connected && ++g_connfail_fresh >= g_conc)
        g_abort = true;  /* every connection failed once, none ever worked */
    if (g_mode == M_HOLD) {
        c->st = CS_DONE;
        g_hold_left--;
    } else {
        schedule(c, k == E_CONNECT ? now + BACKOFF_NS : now, now);
    }
}

/* A reused keep-alive socket that the server closed before answering is
 * retried on a fresh one, not counted as an error (every client does this);
 * a fresh socket failing the same way is an error, so this cannot loop. */
static void conn_retry(struct conn *c)
{
    conn_close(c);
    schedule(c, 0, 0);
}

static void conn_write(struct conn *c)
{
    while (c->woff < g_reqlen) {
        ssize_t w = send(c->fd, g_req + c->woff, g_reqlen - c->woff, MSG_NOSIGNAL);
        if (w > 0) {
            c->woff += (size_t)w;
            c->t_prog = now_ns();
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->out_armed) {
                c->out_armed = true;
                epoll_set(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            }
            return;
        }
        if (c->served > 0 && c->woff == 0 && !c->r.got_first)
            conn_retry(c);
        else
            conn_error(c, E_RESET, "write: %s", errname(errno));
        return;
    }
    if (c->out_armed) {
        c->out_armed = false;
        epoll_set(c, EPOLLIN, EPOLL_CTL_MOD);
    }
}

static void conn_send(struct conn *c)
{
    memset(&c->r, 0, sizeof c->r);
    c->gaps.n = 0;
    c->woff = 0;
    c->t0 = now_ns();  /* just before the write */
    c->t_prog = c->t0;
    conn_write(c);
}

static void conn_connected(struct conn *c)
{
    g_ever_connected = true;
    c->st = CS_ACTIVE;
    c->served = 0;
    conn_send(c);
}

static void conn_open(struct conn *c)
{
    uint64_t now = now_ns();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->st = CS_CONNECTING;
        conn_error(c, E_CONNECT, "socket: %s", errname(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->opened && counting(now))
        g_reconnects++;
    c->opened = true;
    c->fd = fd;
    c->gen++;
    c->t_prog = now;
    int r;
    do
        r = connect(fd, (const struct sockaddr *)&g_addr, sizeof g_addr);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        epoll_set(c, EPOLLIN, EPOLL_CTL_ADD);
        conn_connected(c);
    } else if (errno == EINPROGRESS) {
        c->st = CS_CONNECTING;
        epoll_set(c, EPOLLOUT, EPOLL_CTL_ADD);
    } else {
        c->st = CS_CONNECTING;
        conn_error(c, E_CONNECT, "connect: %s", errname(errno));
    }
}

/* Parse failures: say why and return -1. */
#define FAIL(msg) do { *why = (msg); return -1; } while (0)

/* ---- SSE scanning of the decoded body (stream and hold modes) ---- */

static void mark_found(struct conn *c, uint64_t now)
{
    c->r.line_mark = true;
    if (!c->r.got_ttft) {
        c->r.got_ttft = true;
        c->r.t_ttft = now;
    }
}

/* A piece of the current line, without '\n'. */
static void sse_segment(struct conn *c, const char *p, size_t k, uint64_t now)
{
    if (k == 0)
        return;
    if (c->r.lplen < LP_MAX) {
        size_t take = k < LP_MAX - c->r.lplen ? k : LP_MAX - c->r.lplen;
        memcpy(c->r.lp + c->r.lplen, p, take);
        c->r.lplen += (uint32_t)take;
    }
    for (size_t j = k; j > 0; j--) {  /* usually stops at once */
        if (p[j - 1] != ' ' && p[j - 1] != '\t' && p[j - 1] != '\r') {
            c->r.tlen = c->r.llen + j;
            break;
        }
    }
    c->r.llen += k;
    if (c->r.line_mark || g_sse == SSE_RESPONSES)  /* Responses: tokens by event name */
        return;
    size_t m = g_mlen;
    bool found = false;
    if (c->r.clen) {  /* a marker split between the previous piece and this one */
        char tmp[2 * MARKER_MAX];
        size_t take = k < m - 1 ? k : m - 1;
        memcpy(tmp, c->r.carry, c->r.clen);
        memcpy(tmp + c->r.clen, p, take);
        found = memmem(tmp, c->r.clen + take, g_marker, m) != NULL;
    }
    if (!found)
        found = memmem(p, k, g_marker, m) != NULL;
    if (found) {
        mark_found(c, now);
    } else if (m > 1) {  /* keep the last m-1 bytes of carry+piece */
        if (k >= m - 1) {
            memcpy(c->r.carry, p + k - (m - 1), m - 1);
            c->r.clen = (uint32_t)(m - 1);
        } else {
            size_t keep = c->r.clen < m - 1 - k ? c->r.clen : m - 1 - k;
            memmove(c->r.carry, c->r.carry + c->r.clen - keep, keep);
            memcpy(c->r.carry + keep, p, k);
            c->r.clen = (uint32_t)(keep + k);
        }
    }
}

static bool line_is(const struct conn *c, uint64_t len, const char *s)
{
    size_t n = strlen(s);
    return len == n && n <= LP_MAX && memcmp(c->r.lp, s, n) == 0;
}

/* Responses dialect: the event line names what its data line is. */
static void sse_responses_event(struct conn *c, uint64_t len)
{
    if (line_is(c, len, "event: response.output_text.delta") ||
        line_is(c, len, "event:response.output_text.delta"))
        c->r.in_delta = true;
    else if (line_is(c, len, "event: response.completed") ||
             line_is(c, len, "event:response.completed"))
        c->r.done_seen = true;
}

static void sse_line_end(struct conn *c, uint64_t now)
{
    uint64_t len = c->r.tlen;
    if (len >= 5 && memcmp(c->r.lp, "data:", 5) == 0) {
        c->r.events++;
        if (g_sse == SSE_RESPONSES) {
            if (c->r.in_delta)
                mark_found(c, now);
        } else if (line_is(c, len, "data: [DONE]") || line_is(c, len, "data:[DONE]")) {
            c->r.done_seen = true;
        }
        if (c->r.line_mark) {
            if (c->r.has_tok)
                push(&c->gaps, now - c->r.t_tok);
            c->r.has_tok = true;
            c->r.t_tok = now;
        }
    } else if (g_sse == SSE_RESPONSES) {
        if (len == 0)
            c->r.in_delta = false;  /* a blank line ends the event */
        else
            sse_responses_event(c, len);
    } else if (line_is(c, len, "event: message_stop") || line_is(c, len, "event:message_stop")) {
        c->r.done_seen = true;
    }
    c->r.lplen = c->r.clen = 0;
    c->r.llen = c->r.tlen = 0;
    c->r.line_mark = false;
}

static int body_feed(struct conn *c, const char *p, size_t n, uint64_t now, const char **why)
{
    c->r.body_len += n;
    if (c->r.body_len > BODY_MAX)
        FAIL("body larger than 64 MiB");
    if (g_mode == M_PLAIN)
        return 0;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        sse_segment(c, p, k, now);
        if (!nl)
            break;
        sse_line_end(c, now);
        p += k + 1;
        n -= k + 1;
    }
    return 0;
}

/* ---- HTTP response parsing ---- */


static bool ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Does the comma-separated token list v contain tok? */
static bool has_token(const char *v, size_t n, const char *tok)
{
    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t k = comma ? (size_t)(comma - v) : n;
        const char *t = v;
        size_t tn = k;
        trim(&t, &tn);
        if (ieq(t, tn, tok))
            return true;
        if (!comma)
            break;
        v += k + 1;
        n -= k + 1;
    }
    return false;
}

static void enter_chunk_size(struct conn *c)
{
    c->r.ps = PS_CH_SIZE;
    c->r.remain = 0;
    c->r.nd = 0;
    c->r.aux = 0;
}

/* Parse the complete head in c->hbuf and pick the body framing. */
static int parse_head(struct conn *c, const char **why)
{
    const char *h = c->hbuf;
    size_t len = c->r.hlen, pos = 0;
    long long cl = -1;
    bool chunked = false, te = false, ka = false, cls = false, http10 = false;
    for (int lineno = 0; pos < len; lineno++) {
        const char *s = h + pos;
        const char *nl = memchr(s, '\n', len - pos);
        if (!nl)
            break;
        size_t l = (size_t)(nl - s);
        pos += l + 1;
        if (l && s[l - 1] == '\r')
            l--;
        if (lineno == 0) {
            if (l < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
                s[8] != ' ' || s[9] < '1' || s[9] > '9' || s[10] < '0' || s[10] > '9' ||
                s[11] < '0' || s[11] > '9' || (l > 12 && s[12] != ' '))
                FAIL("bad status line");
            http10 = s[7] == '0';
            c->r.status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
            continue;
        }
        if (l == 0)
            break;
        const char *colon = memchr(s, ':', l);
        if (!colon || colon == s)
            FAIL("bad header line");
        size_t nlen = (size_t)(colon - s);
        const char *v = colon + 1;
        size_t vn = l - nlen - 1;
        trim(&v, &vn);
        if (ieq(s, nlen, "content-length")) {
            long long x = 0;
            if (vn == 0 || vn > 19)
                FAIL("bad content-length");
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9')
                    FAIL("bad content-length");
                x = x * 10 + (v[i] - '0');
                if ((unsigned long long)x > BODY_MAX)
                    FAIL("content-length over 64 MiB");
            }
            if (cl >= 0 && cl != x)
                FAIL("conflicting content-length");
            cl = x;
        } else if (ieq(s, nlen, "transfer-encoding")) {
            const char *last = v;
            size_t ln = vn;
            const char *comma = memrchr(v, ',', vn);
            if (comma) {
                last = comma + 1;
                ln = vn - (size_t)(last - v);
            }
            trim(&last, &ln);
            te = true;
            chunked = ieq(last, ln, "chunked");
        } else if (ieq(s, nlen, "connection")) {
            cls = cls || has_token(v, vn, "close");
            ka = ka || has_token(v, vn, "keep-alive");
        }
    }
    c->r.close_after = cls || (http10 && !ka);
    if (c->r.status < 200)
        FAIL("unexpected 1xx response");
    if (c->r.status != g_expect)
        return -2;  /* the caller reports "status N" */
    if (c->r.status == 204 || c->r.status == 304) {
        c->r.ps = PS_DONE;
    } else if (chunked) {
        enter_chunk_size(c);
    } else if (te || cl < 0) {
        c->r.ps = PS_EOF;  /* close-delimited */
        c->r.close_after = true;
    } else if (cl == 0) {
        c->r.ps = PS_DONE;
    } else {
        c->r.ps = PS_CL;
        c->r.remain = (uint64_t)cl;
    }
    return 0;
}

/* Feed n received bytes. Returns 1 when the response is complete (*used =
 * bytes consumed), 0 when more is needed, -1 on a parse error (*why), -2 on
 * an unexpected status. */
static int parse(struct conn *c, const char *p, size_t n, uint64_t now, size_t *used,
                 const char **why)
{
    size_t i = 0;
    if (c->r.ps == PS_HEAD) {
        bool end = false;
        for (; i < n; i++) {
            if (p[i] == '\n') {
                if (c->r.hline == 0) {
                    i++;
                    end = true;
                    break;
                }
                c->r.hline = 0;
            } else if (p[i] != '\r') {
                c->r.hline++;
            }
        }
        if (c->r.hlen + i > HDR_MAX)
            FAIL("response head over 64 KiB");
        if (c->r.hlen + i > c->hcap) {
            uint32_t cap = c->hcap ? c->hcap : 1024;
            while (cap < c->r.hlen + i)
                cap *= 2;
            c->hbuf = xrealloc(c->hbuf, cap);
            c->hcap = cap;
        }
        memcpy(c->hbuf + c->r.hlen, p, i);
        c->r.hlen += (uint32_t)i;
        if (!end) {
            *used = n;
            return 0;
        }
        int r = parse_head(c, why);
        if (r < 0)
            return r;
    }
    while (i < n && c->r.ps != PS_DONE) {
        char ch;
        size_t k;
        switch (c->r.ps) {
        case PS_CL:
        case PS_CH_DATA:
            k = n - i < c->r.remain ? n - i : (size_t)c->r.remain;
            if (body_feed(c, p + i, k, now, why) < 0)
                return -1;
            i += k;
            c->r.remain -= k;
            if (c->r.remain == 0)
                c->r.ps = c->r.ps == PS_CL ? PS_DONE : PS_CH_CR;
            break;
        case PS_EOF:
            if (body_feed(c, p + i, n - i, now, why) < 0)
                return -1;
            i = n;
            break;
        case PS_CH_SIZE:
        case PS_CH_EXT:
            ch = p[i++];
            if (++c->r.aux > CHLINE_MAX)
                FAIL("chunk-size line too long");
            if (ch == '\n') {
                if (c->r.nd == 0)
                    FAIL("bad chunk size");
                if (c->r.remain == 0) {
                    c->r.ps = PS_TRAILER;
                    c->r.aux = 0;
                    c->r.hline = 0;
                } else {
                    c->r.ps = PS_CH_DATA;
                }
            } else if (c->r.ps == PS_CH_EXT) {
                /* extension bytes are ignored */
            } else if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                       (ch >= 'A' && ch <= 'F')) {
                int d = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
                c->r.remain = c->r.remain * 16 + (uint64_t)d;
                c->r.nd++;
                if (c->r.remain > BODY_MAX)
                    FAIL("chunk over 64 MiB");
            } else if (c->r.nd > 0 && (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r')) {
                c->r.ps = PS_CH_EXT;
            } else {
                FAIL("bad chunk size");
            }
            break;
        case PS_CH_CR:
        case PS_CH_LF:
            ch = p[i++];
            if (ch == '\r' && c->r.ps == PS_CH_CR) {
                c->r.ps = PS_CH_LF;
            } else if (ch == '\n') {
                enter_chunk_size(c);
            } else {
                FAIL("missing CRLF after chunk data");
            }
            break;
        case PS_TRAILER:
            ch = p[i++];
            if (++c->r.aux > HDR_MAX)
                FAIL("trailers over 64 KiB");
            if (ch == '\n') {
                if (c->r.hline == 0)
                    c->r.ps = PS_DONE;
                c->r.hline = 0;
            } else if (ch != '\r') {
                c->r.hline++;
            }
            break;
        case PS_HEAD:
        case PS_DONE:
            break;
        }
    }
    *used = i;
    return c->r.ps == PS_DONE;
}

/* A response fully received (framing satisfied). */
static void resp_done(struct conn *c, uint64_t now)
{
    if (c->open_stream) {
        c->open_stream = false;
        g_open_streams--;
    }
    if (c->woff < g_reqlen) {
        conn_error(c, E_PARSE, "response before the request was fully sent");
        return;
    }
    if (g_mode != M_PLAIN) {
        if (c->r.llen > 0)
            sse_line_end(c, now);  /* a last line without '\n' */
        if (!c->r.done_seen) {
            conn_error(c, E_INCOMPLETE, "stream ended without %s (%u events)",
                       g_sse == SSE_RESPONSES ? "response.completed" : "[DONE] or message_stop",
                       c->r.events);
            return;
        }
    }
    c->served++;
    if (counting(now)) {
        count_status(c, now);
        g_nok++;
        push(&s_total, now - c->t0);
        push(&s_ttfb, c->r.t_first - c->t0);
        if (g_mode != M_PLAIN) {
            if (c->r.got_ttft)
                push(&s_ttft, c->r.t_ttft - c->t0);
            for (size_t i = 0; i < c->gaps.n; i++)
                push(&s_gap, c->gaps.v[i]);
            if (c->r.events < g_ev_min)
                g_ev_min = c->r.events;
            if (c->r.events > g_ev_max)
                g_ev_max = c->r.events;
        }
        count_request(now);
    }
    c->r.status = 0;
    if (g_mode == M_HOLD) {
        conn_close(c);
        c->st = CS_DONE;
        g_hold_left--;
    } else if (c->r.close_after) {
        conn_close(c);
        schedule(c, 0, 0);  /* the server closes it: reconnect */
    } else if (!g_stopped && now < g_t_end) {
        conn_send(c);
    }
}

static void conn_readable(struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, g_rbuf, sizeof g_rbuf);
        uint64_t now = now_ns();
        if (n > 0) {
            c->t_prog = now;
            if (!c->r.got_first) {
                c->r.got_first = true;
                c->r.t_first = now;
                c->open_stream = true;
                if (++g_open_streams > g_peak_open)
                    g_peak_open = g_open_streams;
            }
            size_t used = 0;
            const char *why = "";
            int r = parse(c, g_rbuf, (size_t)n, now, &used, &why);
            if (r == -2) {
                conn_error(c, E_STATUS, "status %d", c->r.status);
                return;
            }
            if (r < 0) {
                conn_error(c, E_PARSE, "%s", why);
                return;
            }
            if (r == 1) {
                if (used < (size_t)n)  /* nothing was asked for */
                    conn_error(c, E_PARSE, "%zu bytes after the response", (size_t)n - used);
                else
                    resp_done(c, now);
                return;
            }
            if ((size_t)n < sizeof g_rbuf)
                return;
            continue;
        }
        if (n == 0) {
            if (c->r.ps == PS_EOF) {
                resp_done(c, now);
            } else if (!c->r.got_first && c->served > 0) {
                conn_retry(c);
            } else {
                conn_error(c, E_INCOMPLETE, "connection closed %s",
                           c->r.got_first ? "mid-response" : "before any response byte");
            }
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (!c->r.got_first && c->served > 0)
            conn_retry(c);
        else
            conn_error(c, E_RESET, "read: %s", errname(errno));
        return;
    }
}

static void on_event(const struct epoll_event *ev)
{
    struct conn *c = &g_conns[(uint32_t)ev->data.u64];
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    if (c->gen != gen || c->fd < 0)
        return;  /* stale: the socket it was about is gone */
    if (c->st == CS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            conn_error(c, E_CONNECT, "connect: %s", errname(err));
            return;
        }
        epoll_set(c, EPOLLIN, EPOLL_CTL_MOD);
        conn_connected(c);
        return;
    }
    if (c->st != CS_ACTIVE)
        return;
    if ((ev->events & EPOLLOUT) && c->woff < g_reqlen) {
        conn_write(c);
        if (c->gen != gen || c->st != CS_ACTIVE || c->fd < 0)
            return;
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_readable(c);
}

/* Every SCAN_NS, and when a delayed (re)connect is due. */
static void scan(uint64_t now)
{
    g_next_wake = UINT64_MAX;
    for (int i = 0; i < g_conc; i++) {
        struct conn *c = &g_conns[i];
        if (c->st == CS_WAIT) {
            if (!c->queued)
                schedule(c, c->t_wake, now);
        } else if ((c->st == CS_CONNECTING || c->st == CS_ACTIVE) && now > c->t_prog &&
                   now - c->t_prog >= g_timeout_ns) {  /* t_prog may be newer than now */
            conn_error(c, E_TIMEOUT, "no progress for %.1f s (%s)", g_timeout_s,
                       c->st == CS_CONNECTING ? "connecting" : "waiting for response");
        }
    }
}

static void drain_queue(void)
{
    size_t n = g_rqn;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = g_rq[i];
        c->queued = false;
        if (c->st == CS_WAIT && !g_stopped && !g_abort)
            conn_open(c);
    }
    memmove(g_rq, g_rq + n, (g_rqn - n) * sizeof *g_rq);
    g_rqn -= n;
}

/* ---- output ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least pct% of samples <= it. */
static double pctl(const struct samples *s, unsigned pct)
{
    size_t rank = (pct * s->n + 99) / 100;
    return (double)s->v[rank ? rank - 1 : 0] / 1000.0;
}

static void print_stats(const char *name, struct samples *s, bool wanted)
{
    if (!wanted || s->n == 0) {
        printf(",\"%s\":null", name);
        return;
    }
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->v[i];
    printf(",\"%s\":{\"n\":%zu,\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
           "\"max\":%.1f,\"mean\":%.1f}",
           name, s->n, (double)s->v[0] / 1000.0, pctl(s, 50), pctl(s, 90), pctl(s, 99),
           (double)s->v[s->n - 1] / 1000.0, sum / (double)s->n / 1000.0);
}

static void print_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- arguments ---- */

static const char *const mode_name[] = {"plain", "stream", "hold"};

static void usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "loadgen: %s\n", msg);
    fprintf(stderr,
            "usage: loadgen --url http://IPV4[:PORT]/PATH --body FILE --mode plain|stream|hold\n"
            "         [--conc N] [--duration S] [--warmup S] [--requests N]\n"
            "         [-H 'Name: value']... [--token-marker STR] [--expect-status CODE]\n"
            "         [--ramp-ms MS] [--timeout-s S] [--label TEXT] [--sse chat|responses]\n");
    exit(2);
}

static long long parse_int(const char *opt, const char *s, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s: want an integer in [%lld, %lld], got '%s'\n", opt, lo, hi, s);
        exit(2);
    }
    return v;
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "loadgen: %s: want a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        exit(2);
    }
    return v;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n > *cap) {
        while (*len + n > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
}

static bool hdr_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* http://A.B.C.D[:PORT][/path][?query] -> g_addr, host header value, path. */
static void parse_url(const char *url, char *host, size_t hostsz, const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        usage("--url must start with http://");
    const char *h = url + 7;
    size_t hn = strcspn(h, ":/?");
    char ip[16];
    if (hn == 0 || hn >= sizeof ip)
        usage("--url host must be a dotted IPv4 address");
    memcpy(ip, h, hn);
    ip[hn] = '\0';
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &g_addr.sin_addr) != 1)
        usage("--url host must be a dotted IPv4 address");
    const char *rest = h + hn;
    long long port = 80;
    if (*rest == ':') {
        size_t pn = strcspn(rest + 1, "/?");
        char pbuf[8];
        if (pn == 0 || pn >= sizeof pbuf)
            usage("--url has a bad port");
        memcpy(pbuf, rest + 1, pn);
        pbuf[pn] = '\0';
        port = parse_int("--url port", pbuf, 1, 65535);
        rest += 1 + pn;
    }
    g_addr.sin_port = htons((uint16_t)port);
    if (port == 80)
        snprintf(host, hostsz, "%s", ip);
    else
        snprintf(host, hostsz, "%s:%lld", ip, port);
    for (const char *q = rest; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            usage("--url path has a space or control character");
    *path = *rest ? rest : "/";
}

static void build_request(const char *url, const char *body_file, const char *const *hdrs,
                          int nh)
{
    char host[32], line[512];
    const char *path;
    parse_url(url, host, sizeof host, &path);

    int fd = open(body_file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "loadgen: --body %s: %s\n", body_file,
                fd < 0 ? strerror(errno) : "not a regular file");
        exit(2);
    }
    if (st.st_size > (off_t)REQBODY_MAX) {
        fprintf(stderr, "loadgen: --body %s: larger than 64 MiB\n", body_file);
        exit(2);
    }
    size_t blen = (size_t)st.st_size;
    bool own_host = false, own_ctype = false;
    for (int i = 0; i < nh; i++) {
        own_host = own_host || hdr_named(hdrs[i], "host");
        own_ctype = own_ctype || hdr_named(hdrs[i], "content-type");
    }
    size_t len = 0, cap = 0;
    append(&g_req, &len, &cap, "POST ", 5);
    append(&g_req, &len, &cap, path, strlen(path));
    append(&g_req, &len, &cap, " HTTP/1.1\r\n", 11);
    int n;
    if (!own_host) {
        n = snprintf(line, sizeof line, "Host: %s\r\n", host);
        append(&g_req, &len, &cap, line, (size_t)n);
    }
    if (!own_ctype) {
        static const char ct[] = "Content-Type: application/json\r\n";
        append(&g_req, &len, &cap, ct, sizeof ct - 1);
    }
    n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", blen);
    append(&g_req, &len, &cap, line, (size_t)n);
    for (int i = 0; i < nh; i++) {
        append(&g_req, &len, &cap, hdrs[i], strlen(hdrs[i]));
        append(&g_req, &len, &cap, "\r\n", 2);
    }
    append(&g_req, &len, &cap, "\r\n", 2);
    size_t head = len;
    if (len + blen > cap) {
        cap = len + blen;
        g_req = xrealloc(g_req, cap);
    }
    size_t got = 0;
    while (got < blen) {
        ssize_t r = read(fd, g_req + head + got, blen - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "loadgen: --body %s: short read\n", body_file);
            exit(2);
        }
        got += (size_t)r;
    }
    close(fd);
    g_reqlen = head + blen;
}

static void check_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        usage("-H wants 'Name: value'");
    for (const char *q = h; q < colon; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            usage("-H header name has a space or control character");
    for (const char *q = h; *q; q++)
        if (*q == '\r' || *q == '\n')
            usage("-H header has CR or LF");
    if (hdr_named(h, "content-length") || hdr_named(h, "transfer-encoding"))
        usage("-H may not set Content-Length or Transfer-Encoding");
}

int main(int argc, char **argv)
{
    const char *url = NULL, *body = NULL, *hdrs[MAX_HDRS];
    int nh = 0;
    bool mode_set = false, warm_set = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            usage(NULL);
        if (i + 1 >= argc) {
            fprintf(stderr, "loadgen: %s: unknown option or missing value\n", o);
            usage(NULL);
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--url")) {
            url = v;
        } else if (!strcmp(o, "--body")) {
            body = v;
        } else if (!strcmp(o, "--mode")) {
            if (!strcmp(v, "plain"))
                g_mode = M_PLAIN;
            else if (!strcmp(v, "stream"))
                g_mode = M_STREAM;
            else if (!strcmp(v, "hold"))
                g_mode = M_HOLD;
            else
                usage("--mode is plain, stream or hold");
            mode_set = true;
        } else if (!strcmp(o, "--conc")) {
            g_conc = (int)parse_int(o, v, 1, CONC_MAX);
        } else if (!strcmp(o, "--duration")) {
            g_duration = parse_num(o, v, 0.001, 86400);
            g_dur_set = true;
        } else if (!strcmp(o, "--warmup")) {
            g_warmup = parse_num(o, v, 0, 86400);
            warm_set = true;
        } else if (!strcmp(o, "--requests")) {
            g_maxreq = parse_int(o, v, 1, 1000000000000LL);
        } else if (!strcmp(o, "-H")) {
            if (nh == MAX_HDRS)
                usage("too many -H");
            check_header(v);
            hdrs[nh++] = v;
        } else if (!strcmp(o, "--token-marker")) {
            g_mlen = strlen(v);
            if (g_mlen == 0 || g_mlen > MARKER_MAX || strpbrk(v, "\r\n"))
                usage("--token-marker must be 1-64 bytes without CR/LF");
            g_marker = v;
        } else if (!strcmp(o, "--expect-status")) {
            g_expect = (int)parse_int(o, v, 200, 999);
        } else if (!strcmp(o, "--ramp-ms")) {
            g_ramp_ms = (long)parse_int(o, v, 0, 3600000);
        } else if (!strcmp(o, "--timeout-s")) {
            g_timeout_s = parse_num(o, v, 0.001, 86400);
        } else if (!strcmp(o, "--sse")) {
            if (!strcmp(v, "chat"))
                g_sse = SSE_CHAT;
            else if (!strcmp(v, "responses"))
                g_sse = SSE_RESPONSES;
            else
                usage("--sse is chat or responses");
        } else if (!strcmp(o, "--label")) {
            if (strlen(v) > 256)
                usage("--label longer than 256 bytes");
            g_label = v;
        } else {
            fprintf(stderr, "loadgen: unknown option %s\n", o);
            usage(NULL);
        }
    }
    if (!url || !body || !mode_set)
        usage("--url, --body and --mode are required");
    if (g_mode == M_HOLD && (g_dur_set || warm_set || g_maxreq))
        usage("hold mode takes no --duration, --warmup or --requests");
    if (g_mode == M_HOLD)
        g_warmup = g_duration = 0;  /* runs until every stream is resolved */
    if (g_maxreq && !g_dur_set)
        g_duration = 0;  /* run until --requests responses */
    g_timeout_ns = (uint64_t)(g_timeout_s * 1e9);
    build_request(url, body, hdrs, nh);

    /* One descriptor per connection plus a few. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)g_conc + 16 > rl.rlim_cur) {
        fprintf(stderr, "loadgen: --conc %d needs more descriptors than RLIMIT_NOFILE %llu\n",
                g_conc, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) {
        perror("loadgen: epoll_create1");
        return 1;
    }
    g_conns = xrealloc(NULL, (size_t)g_conc * sizeof *g_conns);
    memset(g_conns, 0, (size_t)g_conc * sizeof *g_conns);
    g_rq = xrealloc(NULL, 2 * (size_t)g_conc * sizeof *g_rq);  /* see drain_queue */
    g_hold_left = g_conc;

    struct rusage ru0, ru1;
    uint64_t t_start = now_ns();
    uint64_t t_warm_end = t_start + (uint64_t)(g_warmup * 1e9);
    uint64_t dur_ns = g_duration > 0 ? (uint64_t)(g_duration * 1e9) : UINT64_MAX;
    for (int i = 0; i < g_conc; i++) {
        struct conn *c = &g_conns[i];
        c->fd = -1;
        c->idx = (uint32_t)i;
        /* --ramp-ms spreads the first connects evenly */
        uint64_t at = t_start + (uint64_t)g_ramp_ms * 1000000ull * (uint64_t)i / (uint64_t)g_conc;
        schedule(c, at, t_start);
    }
    uint64_t next_scan = t_start + SCAN_NS, now;
    struct epoll_event evs[1024];
    for (;;) {
        now = now_ns();
        if (!g_measuring && now >= t_warm_end) {
            g_measuring = true;
            g_t_meas0 = now;
            g_t_end = dur_ns == UINT64_MAX ? UINT64_MAX : now + dur_ns;
            getrusage(RUSAGE_SELF, &ru0);
        }
        if (g_abort || (g_mode == M_HOLD && g_hold_left == 0) ||
            (g_measuring && (g_stopped || now >= g_t_end)))
            break;
        if (g_rqn)
            drain_queue();
        if (now >= next_scan || now >= g_next_wake) {
            scan(now);
            next_scan = now + SCAN_NS;
            continue;  /* the scan may have queued or finished connections */
        }
        uint64_t dl = next_scan < g_next_wake ? next_scan : g_next_wake;
        if (!g_measuring && t_warm_end < dl)
            dl = t_warm_end;
        if (g_measuring && g_t_end < dl)
            dl = g_t_end;
        int to = (g_rqn || dl <= now) ? 0 : (int)((dl - now + 999999) / 1000000);
        int n = epoll_wait(g_ep, evs, (int)(sizeof evs / sizeof evs[0]), to);
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            on_event(&evs[i]);
    }
    uint64_t t_meas1 = g_stopped ? g_t_stop : (now > g_t_end ? g_t_end : now);
    if (!g_measuring) {  /* aborted during warm-up */
        g_t_meas0 = t_meas1 = now;
        getrusage(RUSAGE_SELF, &ru0);
    }
    getrusage(RUSAGE_SELF, &ru1);

    double wall = (double)(t_meas1 - g_t_meas0) / 1e9;
    double us = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double sy = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    double rps = wall > 0 ? (double)g_nok / wall : 0;
    bool sse = g_mode != M_PLAIN;
    printf("{\"label\":");
    print_json_str(g_label);
    printf(",\"mode\":\"%s\",\"conc\":%d,\"duration_s\":%.3f,\"requests\":%lld,\"ok\":%lld,"
           "\"errors\":%lld,\"reconnects\":%lld,\"rps\":%.1f",
           mode_name[g_mode], g_conc, wall, g_nreq, g_nok, g_nerr, g_reconnects, rps);
    print_stats("total_us", &s_total, true);  /* sorts s_total */
    double p50 = s_total.n ? pctl(&s_total, 50) : 0, p99 = s_total.n ? pctl(&s_total, 99) : 0;
    print_stats("ttfb_us", &s_ttfb, true);
    print_stats("ttft_us", &s_ttft, sse);
    print_stats("gap_us", &s_gap, sse);
    if (sse && g_nok > 0)
        printf(",\"events_min\":%u,\"events_max\":%u", g_ev_min, g_ev_max);
    else
        printf(",\"events_min\":null,\"events_max\":null");
    printf(",\"peak_open\":%d,\"status\":{", g_peak_open);
    bool first = true;
    for (int i = 0; i < 1000; i++) {
        if (g_status[i]) {
            printf("%s\"%d\":%lld", first ? "" : ",", i, g_status[i]);
            first = false;
        }
    }
    printf("},\"error_kinds\":{");
    for (int k = 0; k < E__N; k++)
        printf("%s\"%s\":%lld", k ? "," : "", ekind_name[k], g_ekind[k]);
    printf("},\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_pct\":%.1f}\n", us, sy,
           wall > 0 ? (us + sy) / wall * 100 : 0);
    fflush(stdout);

    fprintf(stderr,
            "loadgen%s%s: %s conc=%d %.2fs: %lld req, %lld ok, %lld err, %lld reconn, "
            "%.1f rps, total p50 %.1f p99 %.1f us, peak_open %d, cpu %.1f%%\n",
            *g_label ? " " : "", g_label, mode_name[g_mode], g_conc, wall, g_nreq, g_nok, g_nerr,
            g_reconnects, rps, p50, p99, g_peak_open, wall > 0 ? (us + sy) / wall * 100 : 0);

    /* the rest is freed by exit; it is all still reachable */
    return g_ever_connected ? 0 : 1;
}
