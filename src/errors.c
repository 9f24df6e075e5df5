/* errors.c - the OpenAI error envelope, as a value (errors_http.c sends it). */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
