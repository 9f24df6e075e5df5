/* sse.c - incremental server-sent events parser. */
#include "sse.h"

#include <string.h>

void sse_init(struct sse_parser *p, size_t max_event)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->line, max_event);
    buf_init(&p->data, max_event);
}

void sse_free(struct sse_parser *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *ud)
{
    int rc = AXON_OK;
    if (p->have_data)
        rc = fn(ud, p->event, p->data.p ? p->data.p : "", p->data.len);
    buf_reset(&p->data);
    p->event[0] = '\0';
    p->have_data = false;
    return rc;
}

/* One complete line, without its terminator. */
static int line_done(struct sse_parser *p, const char *s, size_t n, sse_event_fn fn, void *ud)
{
    if (n == 0)
        return dispatch(p, fn, ud);
    if (s[0] == ':')
        return AXON_OK; /* a comment */
    const char *colon = memchr(s, ':', n);
    size_t fn_len = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vn = colon ? n - fn_len - 1 : 0;
    if (vn && *v == ' ') {
        v++;
        vn--;
    }
    if (fn_len == 4 && memcmp(s, "data", 4) == 0) {
        int rc = AXON_OK;
        if (p->have_data)
            rc = buf_append(&p->data, "\n", 1);
        if (!rc)
            rc = buf_append(&p->data, v, vn);
        p->have_data = true;
        return rc;
    }
    if (fn_len == 5 && memcmp(s, "event", 5) == 0) {
        if (vn > SSE_MAX_EVENT_NAME)
            vn = SSE_MAX_EVENT_NAME; /* no known event name is near this long */
        memcpy(p->event, v, vn);
        p->event[vn] = '\0';
    }
    return AXON_OK; /* id:, retry: and unknown fields are ignored */
}

int sse_feed(struct sse_parser *p, const char *b, size_t n, sse_event_fn fn, void *ud)
{
    int rc = AXON_OK;
    while (!rc && n) {
        if (p->after_cr) {
            p->after_cr = false;
            if (*b == '\n') {
                b++;
                n--;
                continue;
            }
        }
        size_t i = 0;
        while (i < n && b[i] != '\n' && b[i] != '\r')
            i++;
        if (i == n) { /* no terminator yet: keep the piece */
            rc = buf_append(&p->line, b, n);
            break;
        }
        if (p->line.len) {
            rc = buf_append(&p->line, b, i);
            if (!rc)
                rc = line_done(p, p->line.p, p->line.len, fn, ud);
            buf_reset(&p->line);
        } else {
            if (i > p->line.max)
                rc = AXON_ETOOBIG;
            else
                rc = line_done(p, b, i, fn, ud);
        }
        p->after_cr = b[i] == '\r';
        b += i + 1;
        n -= i + 1;
    }
    return rc;
}

int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ud)
{
    int rc = AXON_OK;
    if (p->line.len)
        rc = line_done(p, p->line.p, p->line.len, fn, ud);
    buf_reset(&p->line);
    if (!rc)
        rc = dispatch(p, fn, ud);
    return rc;
}
