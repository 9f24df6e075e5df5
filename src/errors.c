/* errors.c - the OpenAI error envelope. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fcgi_io.h"

int errors_envelope(struct buf *out, const char *message, const char *type, const char *param,
                    const char *code)
{
    int rc = buf_puts(out, "{\"error\":{\"message\":");
    if (!rc)
        rc = buf_json_str(out, message, strlen(message));
    if (!rc)
        rc = buf_puts(out, ",\"type\":");
    if (!rc)
        rc = buf_json_str_or_null(out, type);
    if (!rc)
        rc = buf_puts(out, ",\"param\":");
    if (!rc)
        rc = buf_json_str_or_null(out, param);
    if (!rc)
        rc = buf_puts(out, ",\"code\":");
    if (!rc)
        rc = buf_json_str_or_null(out, code);
    if (!rc)
        rc = buf_puts(out, "}}");
    return rc;
}

#define ERR_MAX_BODY 16384 /* an envelope never needs more */

int errors_send(struct axon_req *r, int status, const char *type, const char *param,
                const char *code, const char *extra_headers, const char *fmt, ...)
{
    if (r->status)
        return AXON_EINVAL;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct buf b = BUF_INIT(ERR_MAX_BODY);
    int rc = errors_envelope(&b, msg, type, param, code);
    if (!rc)
        rc = io_send_json(r, status, b.p, b.len, extra_headers);
    buf_free(&b);
    return rc;
}
