/* log.c - JSON lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static enum log_level min_level = AXON_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

#define LOG_LINE_MAX 8192 /* a line is cut (and stays valid JSON) past this */

void log_set_level(enum log_level level)
{
    min_level = level;
}

uint64_t log_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "2026-11-22T10:00:00.123Z" */
static int put_time(struct buf *b)
{
    struct timespec ts;
    struct tm tm;
    char t[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    (void)strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm); /* 19 bytes, always fits */
    return buf_printf(b, "{\"time\":\"%s.%03ldZ\"", t, ts.tv_nsec / 1000000);
}

/* One write(2) per line so that lines of concurrent threads never mix. */
static void emit(struct buf *b)
{
    if (buf_puts(b, "}\n")) {
        /* Too long to close: say so rather than write broken JSON. */
        buf_reset(b);
        if (buf_puts(b, "{\"level\":\"error\",\"msg\":\"log line too long\"}\n"))
            return;
    }
    ssize_t rc = write(STDERR_FILENO, b->p, b->len);
    (void)rc; /* nowhere to report a failed log write */
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct buf b = BUF_INIT(LOG_LINE_MAX);
    int rc = put_time(&b);
    if (!rc)
        rc = buf_printf(&b, ",\"level\":\"%s\",\"msg\":", level_names[level]);
    if (!rc)
        rc = buf_json_str(&b, msg, strlen(msg));
    if (!rc)
        emit(&b);
    buf_free(&b);
}

static int put_str_or_null(struct buf *b, const char *key, const char *v)
{
    int rc = buf_printf(b, ",\"%s\":", key);
    if (rc)
        return rc;
    return buf_json_str_or_null(b, v);
}

void log_request(const struct axon_req *r)
{
    if (AXON_LOG_INFO < min_level)
        return;
    struct buf b = BUF_INIT(LOG_LINE_MAX);
    int rc = put_time(&b);
    if (!rc)
        rc = buf_printf(&b, ",\"level\":\"info\",\"request_id\":\"%s\"", r->id);
    if (!rc)
        rc = put_str_or_null(&b, "method", r->method);
    if (!rc)
        rc = put_str_or_null(&b, "path", r->path);
    if (!rc)
        rc = buf_printf(&b, ",\"status\":%d,\"us\":%llu", r->status,
                        (unsigned long long)(log_now_us() - r->start_us));
    if (!rc)
        rc = put_str_or_null(&b, "model", r->model[0] ? r->model : NULL);
    if (!rc)
        rc = put_str_or_null(&b, "upstream", r->upstream);
    if (!rc && r->ignored[0])
        rc = put_str_or_null(&b, "ignored_params", r->ignored);
    if (!rc)
        rc = buf_printf(&b, ",\"tokens_in\":%ld,\"tokens_out\":%ld,\"bytes_out\":%llu"
                            ",\"overhead_us\":%llu,\"valkey_rt\":%lu",
                        r->tokens_in, r->tokens_out, (unsigned long long)r->bytes_out,
                        (unsigned long long)r->overhead_us, r->valkey_rt);
    if (!rc)
        emit(&b);
    buf_free(&b);
}
