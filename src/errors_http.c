/* errors_http.c - an error sent as a complete HTTP answer. */
#include "errors_http.h"

#include <stdarg.h>
#include <stdio.h>

#include "buf.h"
#include "fcgi_io.h"
#include "text.h"

#define ERR_MAX_BODY 16384 /* an envelope never needs more */

int errors_send(struct axon_req *r, int status, const char *type, const char *param,
                const char *code, const char *extra_headers, const char *fmt, ...)
{
    if (r->status)
        return AXON_ESENT;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    text_utf8_trim(msg); /* a cut client's model name must not split a character */
    struct buf b = BUF_INIT(ERR_MAX_BODY);
    int rc = errors_envelope(&b, msg, type, param, code);
    if (!rc)
        rc = io_send_json(r, status, b.p, b.len, extra_headers);
    buf_free(&b);
    return rc;
}

int errors_send_api(struct axon_req *r, const struct api_error *e)
{
    char extra[96] = "";
    size_t n = 0;
    if (e->retry_after[0])
        n += (size_t)snprintf(extra, sizeof extra, "Retry-After: %s\r\n", e->retry_after);
    if (e->no_retry && n < sizeof extra)
        snprintf(extra + n, sizeof extra - n, "x-should-retry: false\r\n");
    return errors_send(r, e->status ? e->status : 500, e->type ? e->type : ERR_SERVER,
                       e->param[0] ? e->param : NULL, e->code, extra[0] ? extra : NULL, "%s",
                       e->message);
}
