/* fcgi_io.c - libfcgi streams. See fastcgi-servers.md in the shared notes for
 * the measured server behaviour these functions rely on. */
#include "fcgi_io.h"
#include "memcap.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "acct.h"
#include "log.h"
#include "text.h"

uint64_t io_overhead_us(const struct axon_req *r)
{
    uint64_t spent = log_now_us() - r->start_us;
    uint64_t waited = upstream_wait_us() - r->wait_base_us;
    return spent > waited ? spent - waited : 0;
}

void io_req_init(struct axon_req *r, FCGX_Request *fcgi, const struct axon_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->fcgi = fcgi;
    r->cfg = cfg;
    r->start_us = log_now_us();
    r->wait_base_us = upstream_wait_us();
    r->valkey_base = valkey_round_trips();
    unsigned char rnd[16];
    text_random(rnd, sizeof rnd);
    memcpy(r->id, "req_", 4);
    text_hex(rnd, sizeof rnd, r->id + 4);

    const char *method = io_param(r, "REQUEST_METHOD");
    text_join(r->method, sizeof r->method, method ? method : "GET", NULL, NULL);
    /* Route on REQUEST_URI: every server sets it, while SCRIPT_NAME and
     * PATH_INFO depend on how the location was written. */
    peer_init(&r->peer, io_param(r, "SERVER_ADDR"), io_param(r, "SERVER_PORT"),
              io_param(r, "REMOTE_ADDR"), io_param(r, "REMOTE_PORT"), r->start_us);
    const char *uri = io_param(r, "REQUEST_URI");
    if (!uri)
        uri = io_param(r, "DOCUMENT_URI");
    if (!uri)
        uri = "/";
    /* Under a prefix (AXON_BASE_PATH=/axon) the web server passes the URI as
     * the client sent it. "/axon" alone routes as "/"; a URI without the
     * prefix routes as it is, for a proxy in front that strips it already. */
    size_t bl = strlen(cfg->base_path);
    bool bare = false;
    if (bl && strncmp(uri, cfg->base_path, bl) == 0 &&
        (uri[bl] == '/' || uri[bl] == '?' || uri[bl] == '\0')) {
        uri += bl;
        bare = *uri != '/';
    }
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    r->query = q ? q + 1 : "";
    if (bare) {
        r->path[0] = '/';
        r->path[1] = '\0';
        return;
    }
    /* nginx passes the bytes the client sent. The path is echoed into 404s,
     * 405s, model_not_found and the log line, which must stay valid UTF-8 and
     * JSON: bytes that are not UTF-8 become %XX. No route, model or id holds
     * such bytes, so routing is unchanged; the cap holds for this form. */
    size_t len;
    if (text_utf8_pct_escape(uri, plen, r->path, sizeof r->path, &len))
        r->path_too_long = true;
}

const char *io_param(const struct axon_req *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgi->envp);
}

/* The declared body length: 0 when CONTENT_LENGTH is "0", "" (nginx GET),
 * absent or not a number (the body is then read to EOF under the caps). */
static size_t declared_length(const struct axon_req *r)
{
    const char *cl = io_param(r, "CONTENT_LENGTH");
    int64_t n = 0;
    if (!cl || !*cl || text_parse_i64(cl, 0, INT64_MAX, &n) != AXON_OK)
        return 0;
    return (uint64_t)n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

int io_reserve_body(struct axon_req *r, size_t max)
{
    size_t n = declared_length(r);
    if (n > max)
        return AXON_ETOOBIG;
    int rc = memcap_reserve(r->cfg->max_inflight_bytes, n);
    if (rc == AXON_OK)
        r->body_reserved += n;
    return rc;
}

int io_read_body(struct axon_req *r, size_t max, struct buf *out)
{
    /* A declared length above the cap is refused before reading a byte.
     * Either way we read to EOF under our own cap, since the header is
     * only a claim. */
    if (declared_length(r) > max)
        return AXON_ETOOBIG;
    buf_init(out, max);
    /* Small: a thread's stack pages stay resident for its whole life, and
     * libfcgi copies out of its own 8 KiB buffer anyway. */
    char chunk[4096];
    for (;;) {
        int n = FCGX_GetStr(chunk, sizeof chunk, r->fcgi->in);
        if (n > 0 && buf_append(out, chunk, (size_t)n)) {
            buf_free(out);
            return AXON_ETOOBIG;
        }
        if (n < (int)sizeof chunk)
            break;
    }
    if (FCGX_GetError(r->fcgi->in)) {
        buf_free(out);
        return AXON_EIO;
    }
    /* A body nobody declared still counts: what it held beyond the
     * reservation is reserved now, or the request is refused as busy. */
    if (out->len > r->body_reserved) {
        size_t more = out->len - r->body_reserved;
        if (memcap_reserve(r->cfg->max_inflight_bytes, more) != AXON_OK) {
            buf_free(out);
            return AXON_EBUSY;
        }
        r->body_reserved += more;
    }
    /* An empty body is still a valid, empty string; appending nothing
     * cannot pass any cap. */
    return out->p ? AXON_OK : buf_append(out, "", 0);
}

const char *io_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static int stream_state(const struct axon_req *r)
{
    return FCGX_GetError(r->fcgi->out) ? AXON_ECLIENT_GONE : AXON_OK;
}

int io_begin(struct axon_req *r, int status, const char *content_type, const char *extra)
{
    char head[512], rt[64] = "";
    /* The round trips so far, for the tests that count them. */
    if (r->cfg->test_routes)
        snprintf(rt, sizeof rt, "x-axon-valkey-round-trips: %lu\r\n",
                 valkey_round_trips() - r->valkey_base);
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\nContent-Type: %s\r\nx-request-id: %s\r\n"
                     "x-axon-overhead-us: %llu\r\n%s", status, io_status_text(status),
                     content_type, r->id, (unsigned long long)io_overhead_us(r), rt);
    if (n < 0 || (size_t)n >= sizeof head)
        return AXON_ETOOBIG;
    r->status = status;
    FCGX_PutStr(head, n, r->fcgi->out);
    if (extra)
        FCGX_PutS(extra, r->fcgi->out);
    if (r->resp_headers[0])
        FCGX_PutS(r->resp_headers, r->fcgi->out);
    FCGX_PutStr("\r\n", 2, r->fcgi->out);
    return stream_state(r);
}

int io_write(struct axon_req *r, const char *p, size_t n)
{
    while (n) {
        int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
        if (FCGX_PutStr(p, chunk, r->fcgi->out) != chunk)
            return AXON_ECLIENT_GONE;
        r->bytes_out += (uint64_t)chunk;
        p += chunk;
        n -= (size_t)chunk;
    }
    return stream_state(r);
}

int io_flush(struct axon_req *r)
{
    FCGX_FFlush(r->fcgi->out);
    return stream_state(r);
}

int io_send_json(struct axon_req *r, int status, const char *body, size_t n, const char *extra)
{
    int rc = io_begin(r, status, "application/json", extra);
    if (!rc)
        rc = io_write(r, body, n);
    return rc;
}

int io_sse_begin(struct axon_req *r)
{
    int rc = io_begin(r, 200, "text/event-stream; charset=utf-8",
                      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    if (!rc)
        rc = io_sse_comment(r, "ok");
    return rc;
}

int io_sse_data(struct axon_req *r, const char *json, size_t n)
{
    int rc = io_write(r, "data: ", 6);
    if (!rc)
        rc = io_write(r, json, n);
    if (!rc)
        rc = io_write(r, "\n\n", 2);
    if (!rc)
        rc = io_flush(r);
    return rc;
}

int io_sse_comment(struct axon_req *r, const char *text)
{
    int rc = io_write(r, ": ", 2);
    if (!rc)
        rc = io_write(r, text, strlen(text));
    if (!rc)
        rc = io_write(r, "\n\n", 2);
    if (!rc)
        rc = io_flush(r);
    return rc;
}

bool io_client_gone(struct axon_req *r)
{
    if (FCGX_GetError(r->fcgi->out))
        return true;
    /* lighttpd keeps our socket open after its client left, until we
     * write: ask the kernel about its connection to the client instead. */
    if (peer_gone(&r->peer, log_now_us()))
        return true;
    /* ipcFd is documented as private in fcgiapp.h but has been stable in
     * every 2.4.x release; this is the one place that reads it. */
    struct pollfd p = {.fd = r->fcgi->ipcFd, .events = POLLRDHUP};
    if (p.fd < 0)
        return true;
    int n = poll(&p, 1, 0);
    return n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}
