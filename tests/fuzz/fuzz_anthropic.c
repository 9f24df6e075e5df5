/* fuzz_anthropic.c - Claude's answers translated into OpenAI's (anthropic.h):
 * anth_stream_event and anth_stream_end over SSE, anth_message over one
 * body, anthropic_http_error over an error body, all writing through oai_out
 * into a fake libfcgi, and finished the way chat.c's run_upstream finishes.
 *
 * Input: a flags byte, a second byte, then the upstream's bytes.
 *   flags bit 0: the bytes are an SSE stream (event: + data: lines, read
 *                with sse.h), else one Messages response body;
 *         bit 1: the client asked for a stream (chunks), else one JSON answer;
 *         bit 2: stream_options.include_usage;
 *         bit 3: response_format json_object;
 *         bit 4: the bytes are an HTTP error body instead;
 *         bits 5-7: when not 0, the client leaves after 4 * that many writes.
 *   second byte: the HTTP status of an error body (400 + byte), else bit 0
 *                names a conversation_id in the answer.
 * A retryable failure before anything reached the client runs the call once
 * more, as chat.c's on_restart does.
 * Checked besides the sanitizers: what the client receives parses as SSE of
 * JSON objects ending in [DONE], or as one JSON object (fuzz_check_output);
 * every error is filled; the stored assistant message is valid JSON and
 * passes oai_validate_chat, as conv_load requires of every stored message. */
#include <stdint.h>
#include <string.h>

#include "anthropic.h"
#include "sse.h"

#include "fuzz_fcgi.h"

struct call {
    struct anth_stream *s;
    struct api_error *e;
};

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct call *c = ud;
    return anth_stream_event(c->s, event, data, n, c->e);
}

/* One upstream call's answer through the translator. */
static int translate(struct anth_stream *s, bool sse, const char *b, size_t n,
                     struct api_error *e)
{
    if (!sse)
        return anth_message(s, b, n, e);
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct call c = {s, e};
    int rc = sse_feed(&p, b, n, on_event, &c);
    if (!rc)
        rc = sse_finish(&p, on_event, &c);
    if (!rc)
        rc = anth_stream_end(s, e);
    sse_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t f = data[0], g = data[1];
    bool sse = f & 1, stream = f & 2, usage = f & 4, json_mode = f & 8, http_error = f & 16;
    const char *b = (const char *)data + 2;
    size_t n = size - 2;

    struct fuzz_req q;
    fuzz_req_begin(&q, f >> 5 ? (f >> 5) * 4 : -1);
    struct oai_out o;
    oai_out_init(&o, &q.r, 1, stream, stream && usage, "gpt-4o");
    o.json_mode = json_mode;
    if (!http_error && (g & 1))
        o.conversation_id = "conv-0123456789abcdef0123456789abcdef";
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc;
    if (http_error) {
        anthropic_http_error(400 + g, b, n, "7", &e);
        fuzz_check_error(&e);
        rc = AXON_EINVAL;
    } else {
        struct anth_stream s;
        anth_stream_init(&s, &o, 0);
        rc = translate(&s, sse, b, n, &e);
        if (rc == AXON_ERETRY && !oai_out_delivered(&o, 0)) {
            oai_out_reset_choice(&o, 0);
            anth_stream_free(&s);
            anth_stream_init(&s, &o, 0);
            memset(&e, 0, sizeof e);
            rc = translate(&s, sse, b, n, &e);
        }
        anth_stream_free(&s);
        /* oai_out's own failures (a cap, json_object refusing a streamed
         * answer) leave e to run_upstream; the translator's fill it. */
        if (rc && rc != AXON_ECLIENT_GONE && rc != AXON_ETOOBIG && !o.json_failed)
            fuzz_check_error(&e);
    }
    fuzz_finish_answer(&o, 1, rc, &e);
    oai_out_free(&o);
    return 0;
}
