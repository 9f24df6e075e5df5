/* errors.c - the OpenAI error envelope. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fcgi_io.h"
#include "text.h"

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
    text_utf8_trim(msg); /* a cut client's model name must not split a character */
    struct buf b = BUF_INIT(ERR_MAX_BODY);
    int rc = errors_envelope(&b, msg, type, param, code);
    if (!rc)
        rc = io_send_json(r, status, b.p, b.len, extra_headers);
    buf_free(&b);
    return rc;
}

void api_error_set(struct api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    /* The cut may split a UTF-8 character, and the envelope would not be
     * valid JSON (2 KiB of "é" in an upstream's error message:
     * tests/fuzz/regressions/anthropic/error-message-cut-mid-utf8). */
    text_utf8_trim(e->message);
    e->retry_after[0] = '\0';
    e->no_retry = false;
}

int errors_envelope_api(struct buf *out, const struct api_error *e)
{
    return errors_envelope(out, e->message, e->type, e->param[0] ? e->param : NULL, e->code);
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
