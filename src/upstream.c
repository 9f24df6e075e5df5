/* upstream.c - parallel upstream calls on a per-thread curl multi handle. */
#include "upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acct.h"
#include "log.h"
#include "sse.h"
#include "text.h"

/* Each worker thread keeps its multi handle and easy handles, so the
 * upstream connection (and its TLS session) outlives one request. */
struct up_thread {
    CURLM *multi;
    CURL *easy[UP_MAX_CALLS];
};

static pthread_key_t thread_key;
/* Time inside libcurl (perform and poll) less the time in our callbacks
 * that curl calls: the upstream's share of a request, added to acct.h's
 * sum. On loopback the upstream often answers while curl is still in
 * sendto, so time in poll alone would miss it. */
static _Thread_local uint64_t t_cb_us;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void thread_free(void *p)
{
    struct up_thread *t = p;
    for (int i = 0; i < UP_MAX_CALLS; i++)
        if (t->easy[i])
            curl_easy_cleanup(t->easy[i]);
    curl_multi_cleanup(t->multi);
    free(t);
}

static void make_key(void)
{
    (void)pthread_key_create(&thread_key, thread_free);
}

static struct up_thread *thread_state(void)
{
    (void)pthread_once(&key_once, make_key);
    struct up_thread *t = pthread_getspecific(thread_key);
    if (!t) {
        t = xcalloc(1, sizeof *t);
        t->multi = curl_multi_init();
        if (!t->multi)
            abort(); /* OOM policy: see axon.h */
        (void)pthread_setspecific(thread_key, t);
    }
    return t;
}

/* One call's state across its attempts. */
struct xfer {
    int i;
    CURL *h;
    const struct up_call *call;
    struct run *run;
    bool active;            /* in the multi handle */
    bool done;
    int attempt;            /* Axon's retries so far */
    bool sent;              /* this attempt's request has gone out */
    uint64_t start_at_us;   /* a scheduled retry, or 0 */
    uint64_t sent_us, last_byte_us;
    bool got_byte;
    long status;
    char retry_after[24];
    struct sse_parser sse;
    struct buf body;
    int cb_rc;              /* why a callback stopped the transfer */
    struct api_error err;
};

struct run {
    const struct axon_config *cfg;
    const struct up_reader *rd;
    const struct up_hooks *hooks;
    void *ud;
    CURLM *multi;
};

static int on_sse_event(void *p, const char *event, const char *data, size_t n)
{
    struct xfer *x = p;
    return x->run->rd->event(x->call->st, event, data, n, &x->err);
}

static size_t write_body(struct xfer *x, char *ptr, size_t n);

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *p)
{
    struct xfer *x = p;
    uint64_t t0 = log_now_us();
    x->last_byte_us = t0;
    size_t rc = write_body(x, ptr, size * nmemb);
    t_cb_us += log_now_us() - t0;
    return rc;
}

static size_t write_body(struct xfer *x, char *ptr, size_t n)
{
    x->got_byte = true;
    if (!x->status)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200 || x->status > 299) {
        /* An error answer: keep its start for the message, drop the rest. */
        size_t room = UP_MAX_ERROR_BODY - x->body.len;
        if (buf_append(&x->body, ptr, n < room ? n : room))
            return 0;
        return n;
    }
    int rc;
    if (x->call->stream)
        rc = sse_feed(&x->sse, ptr, n, on_sse_event, x);
    else
        rc = buf_append(&x->body, ptr, n);
    if (rc == AXON_ETOOBIG)
        api_error_set(&x->err, 502, ERR_SERVER, "upstream_too_large", NULL,
                      "The upstream's answer passed Axon's limit of %zu bytes "
                      "(AXON_MAX_UPSTREAM_BYTES).", x->run->cfg->max_upstream_bytes);
    if (rc) {
        x->cb_rc = rc;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *p)
{
    struct xfer *x = p;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name && !strncasecmp(ptr, name, sizeof name - 1)) {
        const char *v = ptr + sizeof name - 1;
        size_t vn = n - (sizeof name - 1);
        text_trim(&v, &vn);
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
            vn--;
        if (vn < sizeof x->retry_after) {
            memcpy(x->retry_after, v, vn);
            x->retry_after[vn] = '\0';
        }
    }
    return n;
}

/* libcurl calls this each time it is about to send the request on a
 * connection (CURLOPT_PREREQFUNCTION, libcurl >= 7.80). When a reused
 * keep-alive connection dies before the first answer byte, libcurl sends
 * the request again at once on a new connection, by itself and without
 * telling us (lib/transfer.c, Curl_retry_request; up to 5 times). The
 * upstream may then get the POST twice for one attempt, and
 * AXON_UPSTREAM_RETRIES=2 meant up to 6 POSTs. So a second send within one
 * attempt is stopped here and becomes one of Axon's own retries: counted,
 * after its backoff, and only while the client has seen nothing. */
static int on_prereq(void *p, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    struct xfer *x = p;
    if (!x->sent) {
        x->sent = true;
        return CURL_PREREQFUNC_OK;
    }
    x->cb_rc = AXON_ERETRY;
    api_error_set(&x->err, 502, ERR_SERVER, "upstream_unreachable", NULL,
                  "Axon could not get an answer from the upstream: the connection closed "
                  "before any answer byte.");
    return CURL_PREREQFUNC_ABORT;
}

static void xfer_reset(struct xfer *x)
{
    sse_free(&x->sse);
    buf_free(&x->body);
    sse_init(&x->sse, x->run->cfg->max_upstream_bytes);
    buf_init(&x->body, x->run->cfg->max_upstream_bytes);
    x->status = 0;
    x->retry_after[0] = '\0';
    x->got_byte = false;
    x->sent = false;
    x->cb_rc = AXON_OK;
    memset(&x->err, 0, sizeof x->err);
}

static void xfer_start(struct xfer *x)
{
    const struct axon_config *cfg = x->run->cfg;
    CURL *h = x->h;
    xfer_reset(x);
    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_URL, x->call->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->call->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->call->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->call->len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* Every open stream holds one handle's receive buffer (16 KiB by
     * default); SSE events are small, and a big JSON answer only takes
     * more callbacks. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, UP_RECV_BUFFER);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    x->sent_us = log_now_us();
    x->last_byte_us = x->sent_us;
    x->start_at_us = 0;
    x->active = true;
    curl_multi_add_handle(x->run->multi, h);
}

static void xfer_stop(struct xfer *x)
{
    if (x->active)
        curl_multi_remove_handle(x->run->multi, x->h);
    x->active = false;
}

/* Seconds of a Retry-After given in seconds; -1 when absent or a date. */
static double retry_after_s(const char *v)
{
    if (!*v)
        return -1;
    char *end;
    double s = strtod(v, &end);
    return (*end || s < 0) ? -1 : s;
}

/* Schedules another attempt if one is allowed; false if not. */
static bool maybe_retry(struct xfer *x)
{
    const struct run *run = x->run;
    if (x->attempt >= run->cfg->upstream_retries || run->hooks->delivered(run->ud, x->i))
        return false;
    double wait = retry_after_s(x->retry_after);
    if (wait > run->cfg->retry_max_wait_s)
        return false; /* pass the long wait on to the client instead */
    if (wait < 0) { /* exponential backoff with jitter: 200 ms, 400 ms, ... */
        unsigned char j;
        text_random(&j, 1);
        wait = 0.2 * (double)(1u << (x->attempt < 10 ? x->attempt : 10)) + j / 2550.0;
    }
    x->attempt++;
    x->start_at_us = log_now_us() + (uint64_t)(wait * 1e6);
    run->hooks->restart(run->ud, x->i);
    return true;
}

static bool transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is curl's */
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* A finished transfer. Returns AXON_OK (done or retrying) or the failure. */
static int xfer_finished(struct xfer *x, CURLcode result)
{
    const struct run *run = x->run;
    xfer_stop(x);
    if (x->cb_rc == AXON_ECLIENT_GONE)
        return AXON_ECLIENT_GONE;
    if (x->cb_rc == AXON_ERETRY)
        return maybe_retry(x) ? AXON_OK : AXON_EIO;
    if (x->cb_rc)
        return AXON_EIO; /* x->err says why */
    if (result != CURLE_OK) {
        if (transient(result) && maybe_retry(x))
            return AXON_OK;
        bool timeout = result == CURLE_OPERATION_TIMEDOUT;
        long status = x->status;
        if (!status)
            curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        if (timeout)
            api_error_set(&x->err, 504, ERR_SERVER, "upstream_timeout", NULL,
                          "Axon could not get an answer from the upstream: %s.",
                          curl_easy_strerror(result));
        else if (status) /* an answer had begun: it was cut, as by an early EOF */
            api_error_set(&x->err, 502, ERR_SERVER, "upstream_protocol_error", NULL,
                          "The upstream's answer broke off: %s.", curl_easy_strerror(result));
        else
            api_error_set(&x->err, 502, ERR_SERVER, "upstream_unreachable", NULL,
                          "Axon could not get an answer from the upstream: %s.",
                          curl_easy_strerror(result));
        return AXON_EIO;
    }
    if (!x->status)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200 || x->status > 299) {
        run->rd->http_error((int)x->status, x->body.p ? x->body.p : "", x->body.len,
                             x->retry_after, &x->err);
        bool retryable = x->status == 429 || x->status >= 500;
        if (retryable && maybe_retry(x))
            return AXON_OK;
        return AXON_EIO;
    }
    int rc;
    if (x->call->stream) {
        rc = sse_finish(&x->sse, on_sse_event, x);
        if (!rc)
            rc = run->rd->end(x->call->st, &x->err);
    } else {
        rc = run->rd->body(x->call->st, x->body.p ? x->body.p : "", x->body.len, &x->err);
    }
    if (rc == AXON_ERETRY)
        return maybe_retry(x) ? AXON_OK : AXON_EIO;
    if (rc)
        return rc == AXON_ECLIENT_GONE ? rc : AXON_EIO;
    x->done = true;
    return AXON_OK;
}

/* Our own first-byte and silence timeouts: curl's are total-time caps. */
static int check_deadlines(struct xfer *x, uint64_t now)
{
    const struct axon_config *cfg = x->run->cfg;
    if (!x->active)
        return AXON_OK;
    uint64_t limit = x->got_byte ? (uint64_t)cfg->idle_timeout_s * 1000000u
                                 : (uint64_t)cfg->first_byte_timeout_s * 1000000u;
    if (now - x->last_byte_us < limit)
        return AXON_OK;
    xfer_stop(x);
    api_error_set(&x->err, 504, ERR_SERVER, "upstream_timeout", NULL,
                  x->got_byte ? "The upstream went silent for %d s in the middle of its answer."
                              : "The upstream sent nothing for %d s.",
                  x->got_byte ? cfg->idle_timeout_s : cfg->first_byte_timeout_s);
    return AXON_EIO;
}

int upstream_run(const struct axon_config *cfg, const struct up_call *calls, int n, int parallel,
                 const struct up_reader *rd, const struct up_hooks *hooks, void *ud,
                 struct api_error *e)
{
    if (n < 1 || n > UP_MAX_CALLS || parallel < 1) {
        api_error_set(e, 500, ERR_SERVER, NULL, NULL, "Bad number of upstream calls.");
        return AXON_EIO;
    }
    struct up_thread *t = thread_state();
    struct run run = {.cfg = cfg, .rd = rd, .hooks = hooks, .ud = ud, .multi = t->multi};
    struct xfer *xs = xcalloc((size_t)n, sizeof *xs);
    for (int i = 0; i < n; i++) {
        if (!t->easy[i] && !(t->easy[i] = curl_easy_init()))
            abort();
        /* Zeroed parser and body: xfer_start gives each attempt fresh ones. */
        xs[i] = (struct xfer){.i = i, .h = t->easy[i], .call = &calls[i], .run = &run};
    }
    int started = 0; /* calls [0, started) have begun; the rest wait for a session */
    int rc = AXON_OK;
    struct xfer *failed = NULL;
    for (;;) {
        /* A call that finished frees its session for the next one. A call
         * waiting to retry keeps its own. */
        int held = 0;
        for (int i = 0; i < started; i++)
            held += !xs[i].done;
        while (started < n && held < parallel) {
            xfer_start(&xs[started++]);
            held++;
        }
        int running = 0;
        uint64_t curl_from = log_now_us(), cb_from = t_cb_us;
        curl_multi_perform(t->multi, &running);
        acct_upstream_wait_add(log_now_us() - curl_from - (t_cb_us - cb_from));
        CURLMsg *msg;
        int left;
        while (!rc && (msg = curl_multi_info_read(t->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            rc = xfer_finished(x, msg->data.result);
            if (rc)
                failed = x;
        }
        uint64_t now = log_now_us();
        uint64_t next_retry = 0, upstream_us = 0;
        bool pending = false;
        int open = 0;
        for (int i = 0; !rc && i < n; i++) {
            struct xfer *x = &xs[i];
            open += i < started && !x->done;
            if ((rc = check_deadlines(x, now)))
                failed = x;
            else if (x->start_at_us && x->start_at_us <= now)
                xfer_start(x);
            else if (x->start_at_us && (!next_retry || x->start_at_us < next_retry))
                next_retry = x->start_at_us;
            pending = pending || (!x->done);
            if (x->got_byte && x->last_byte_us > upstream_us)
                upstream_us = x->last_byte_us;
        }
        if (!rc)
            rc = hooks->tick(ud, upstream_us);
        if (rc || !pending)
            break;
        int wait_ms = UP_TICK_MS;
        if (started < n && open < parallel)
            wait_ms = 0; /* a session came free: the next call starts now */
        if (next_retry && next_retry > now && (next_retry - now) / 1000 < (uint64_t)wait_ms)
            wait_ms = (int)((next_retry - now) / 1000) + 1;
        uint64_t before = log_now_us();
        curl_multi_poll(t->multi, NULL, 0, wait_ms, NULL);
        acct_upstream_wait_add(log_now_us() - before);
    }
    for (int i = 0; i < n; i++) {
        xfer_stop(&xs[i]);
        sse_free(&xs[i].sse);
        buf_free(&xs[i].body);
    }
    if (rc && rc != AXON_ECLIENT_GONE) {
        if (failed && failed->err.status)
            *e = failed->err;
        else if (!e->status)
            api_error_set(e, 502, ERR_SERVER, NULL, NULL, "The upstream call failed.");
        rc = AXON_EIO;
    }
    free(xs);
    return rc;
}

void upstream_forget_connections(void)
{
    (void)pthread_once(&key_once, make_key);
    struct up_thread *t = pthread_getspecific(thread_key);
    if (t) {
        thread_free(t);
        (void)pthread_setspecific(thread_key, NULL);
    }
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

int upstream_prewarm(const struct axon_config *cfg, const char *url,
                     const struct curl_slist *headers)
{
    struct up_thread *t = thread_state();
    if (!t->easy[0] && !(t->easy[0] = curl_easy_init()))
        abort();
    CURL *h = t->easy[0];
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cfg->connect_timeout_ms + 2000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_multi_add_handle(t->multi, h);
    int running = 1;
    CURLcode res = CURLE_OK;
    while (running) {
        if (curl_multi_perform(t->multi, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(t->multi, NULL, 0, 100, NULL) != CURLM_OK)
            break;
    }
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(t->multi, &left)))
        if (m->msg == CURLMSG_DONE)
            res = m->data.result;
    curl_multi_remove_handle(t->multi, h);
    return res == CURLE_OK ? AXON_OK : AXON_EIO;
}
