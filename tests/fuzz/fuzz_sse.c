/* fuzz_sse.c - the upstream SSE parser (sse.h) on arbitrary bytes cut at
 * arbitrary places.
 *
 * Input: two bytes of chunking seed, one byte of settings, then the stream.
 * The stream is parsed three ways and the events (name, data) and the
 * result must be the same every time:
 *   1. whole, in one sse_feed;
 *   2. in pieces whose sizes a generator seeded by the input chooses (one
 *      byte at a time, up to 7, up to 300 or up to 4096 bytes; optionally
 *      with empty feeds in between);
 *   3. by a plain reference of the WHATWG rules written here (lines end in
 *      LF, CRLF or CR; "data" lines joined with LF; one space after the
 *      colon dropped; ':' comments; a blank line dispatches; the event name
 *      cut to SSE_MAX_EVENT_NAME; AXON_ETOOBIG when a line or an event's data
 *      passes the cap).
 * Settings: bits 0-1 pick the cap (64, 300, 4096 or 1 MiB bytes); bits 2-7,
 * when not 0, make the callback stop the parser at that event. */
#include <stdint.h>
#include <string.h>

#include "sse.h"

#include "fuzz_fcgi.h"

#define STOP_RC 4242 /* what the callback returns to stop the parser */

struct record {
    struct buf log;  /* each event: name, NUL, data length, data */
    int events;
    int stop_at;     /* 0: never */
    size_t max;
};

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct record *r = ud;
    size_t en = strlen(event);
    if (en > SSE_MAX_EVENT_NAME)
        fuzz_fail("an event name of %zu bytes", en);
    if (n > r->max)
        fuzz_fail("%zu bytes of data past the cap of %zu", n, r->max);
    if (memchr(data, '\r', n))
        fuzz_fail("a CR inside an event's data");
    if (data[n] != '\0')
        fuzz_fail("the data is not NUL-terminated");
    if (buf_append(&r->log, event, en + 1) || buf_append(&r->log, &n, sizeof n) ||
        buf_append(&r->log, data, n))
        fuzz_fail("the event log is full");
    r->events++;
    return r->stop_at && r->events == r->stop_at ? STOP_RC : 0;
}

static void record_init(struct record *r, int stop_at, size_t max)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->log, 256u << 20);
    r->stop_at = stop_at;
    r->max = max;
}

/* The parser fed in the pieces seed says (seed < 0: whole). */
static int run(const char *b, size_t n, long seed, struct record *r)
{
    struct sse_parser p;
    sse_init(&p, r->max);
    uint32_t x = (uint32_t)seed * 2654435761u + 1u;
    size_t limit = seed < 0 ? 0 : (size_t[]){1, 7, 300, 4096}[seed & 3];
    bool empties = seed >= 0 && (seed & 4);
    int rc = AXON_OK;
    for (size_t pos = 0; !rc && pos < n;) {
        size_t take = n - pos;
        if (limit) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t k = 1 + x % limit;
            if (k < take)
                take = k;
        }
        if (empties)
            rc = sse_feed(&p, b + pos, 0, on_event, r);
        if (!rc)
            rc = sse_feed(&p, b + pos, take, on_event, r);
        pos += take;
    }
    if (!rc)
        rc = sse_finish(&p, on_event, r);
    sse_free(&p);
    return rc;
}

/* ---- the reference ----------------------------------------------------------- */

struct ref {
    struct buf data;
    bool have_data;
    char event[SSE_MAX_EVENT_NAME + 1];
};

static int ref_line(struct ref *s, const char *l, size_t n, struct record *r)
{
    if (n > r->max)
        return AXON_ETOOBIG;
    if (n == 0) {
        int rc = s->have_data ? on_event(r, s->event, s->data.p ? s->data.p : "", s->data.len) : 0;
        buf_reset(&s->data);
        s->have_data = false;
        s->event[0] = '\0';
        return rc;
    }
    if (l[0] == ':')
        return AXON_OK;
    size_t f = 0;
    while (f < n && l[f] != ':')
        f++;
    const char *v = l + f;
    size_t vn = 0;
    if (f < n) {
        v = l + f + 1;
        vn = n - f - 1;
        if (vn && v[0] == ' ') {
            v++;
            vn--;
        }
    }
    if (f == 4 && !memcmp(l, "data", 4)) {
        if (s->have_data && buf_append(&s->data, "\n", 1))
            return AXON_ETOOBIG;
        s->have_data = true;
        return buf_append(&s->data, v, vn);
    }
    if (f == 5 && !memcmp(l, "event", 5)) {
        size_t k = vn < SSE_MAX_EVENT_NAME ? vn : SSE_MAX_EVENT_NAME;
        memcpy(s->event, v, k);
        s->event[k] = '\0';
    }
    return AXON_OK;
}

static int reference(const char *b, size_t n, struct record *r)
{
    struct ref s;
    memset(&s, 0, sizeof s);
    buf_init(&s.data, r->max);
    int rc = AXON_OK;
    size_t start = 0, i = 0;
    while (!rc && i < n) {
        if (b[i] != '\n' && b[i] != '\r') {
            i++;
            continue;
        }
        rc = ref_line(&s, b + start, i - start, r);
        i += b[i] == '\r' && i + 1 < n && b[i + 1] == '\n' ? 2 : 1;
        start = i;
    }
    if (!rc && start < n) /* the last line had no end: sse_finish takes it */
        rc = ref_line(&s, b + start, n - start, r);
    if (!rc)
        rc = ref_line(&s, "", 0, r); /* and dispatches what is pending */
    buf_free(&s.data);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    long seed = data[0] | (long)data[1] << 8;
    size_t max = (size_t[]){64, 300, 4096, 1u << 20}[data[2] & 3];
    int stop_at = data[2] >> 2;
    const char *b = (const char *)data + 3;
    size_t n = size - 3;

    struct record whole, cut, ref;
    record_init(&whole, stop_at, max);
    record_init(&cut, stop_at, max);
    record_init(&ref, stop_at, max);
    int rw = run(b, n, -1, &whole);
    int rcut = run(b, n, seed, &cut);
    int rr = reference(b, n, &ref);
    if (rw != AXON_OK && rw != AXON_ETOOBIG && rw != STOP_RC)
        fuzz_fail("sse_feed returned %d", rw);
    if (rw != rcut || whole.events != cut.events || whole.log.len != cut.log.len ||
        (whole.log.len && memcmp(whole.log.p, cut.log.p, whole.log.len)))
        fuzz_fail("whole: %d events, rc %d; in pieces (seed %ld): %d events, rc %d", whole.events,
                  rw, seed, cut.events, rcut);
    if (rw != rr || whole.events != ref.events || whole.log.len != ref.log.len ||
        (whole.log.len && memcmp(whole.log.p, ref.log.p, whole.log.len)))
        fuzz_fail("sse: %d events, rc %d; the reference: %d events, rc %d", whole.events, rw,
                  ref.events, rr);
    if (stop_at && rw == STOP_RC && whole.events != stop_at)
        fuzz_fail("stopped, yet %d events came (stop at %d)", whole.events, stop_at);
    buf_free(&whole.log);
    buf_free(&cut.log);
    buf_free(&ref.log);
    return 0;
}
