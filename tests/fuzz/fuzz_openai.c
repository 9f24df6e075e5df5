/* fuzz_openai.c - an OpenAI-compatible server's answers (vLLM, llama.cpp,
 * Ollama, OpenAI) normalised by openai.h: oa_stream_event and oa_stream_end
 * over SSE, oa_completion over one body, openai_http_error over an error
 * body, writing through oai_out into a fake libfcgi, finished the way
 * chat.c's run_upstream finishes.
 *
 * Input: a flags byte, a second byte, then the upstream's bytes.
 *   flags: as fuzz_anthropic.c (bit 0 SSE, bit 1 client stream, bit 2
 *          include_usage, bit 3 json_object, bit 4 error body, bits 5-7 the
 *          client leaves after 4 * that many writes);
 *   second byte: the HTTP status of an error body (400 + byte), else bits
 *          1-2 give n - 1 (1 to 4 choices in one call) and bit 0 names a
 *          conversation_id.
 * Checked: as fuzz_anthropic.c. */
#include <stdint.h>
#include <string.h>

#include "openai.h"
#include "sse.h"

#include "fuzz_fcgi.h"

struct call {
    struct oa_stream *s;
    struct api_error *e;
};

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    (void)event; /* OpenAI's streams name no events */
    struct call *c = ud;
    return oa_stream_event(c->s, data, n, c->e);
}

static int translate(struct oa_stream *s, bool sse, const char *b, size_t n,
                     struct api_error *e)
{
    if (!sse)
        return oa_completion(s, b, n, e);
    struct sse_parser p;
    sse_init(&p, 1u << 20);
    struct call c = {s, e};
    int rc = sse_feed(&p, b, n, on_event, &c);
    if (!rc)
        rc = sse_finish(&p, on_event, &c);
    if (!rc)
        rc = oa_stream_end(s, e);
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
    int n_choices = http_error ? 1 : 1 + ((g >> 1) & 3);
    const char *b = (const char *)data + 2;
    size_t n = size - 2;

    struct fuzz_req q;
    fuzz_req_begin(&q, f >> 5 ? (f >> 5) * 4 : -1);
    struct oai_out o;
    oai_out_init(&o, &q.r, n_choices, stream, stream && usage, "coder");
    o.json_mode = json_mode;
    if (!http_error && (g & 1))
        o.conversation_id = "conv-0123456789abcdef0123456789abcdef";
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc;
    if (http_error) {
        openai_http_error(400 + g, b, n, "7", &e);
        fuzz_check_error(&e);
        rc = AXON_EINVAL;
    } else {
        struct oa_stream s;
        oa_stream_init(&s, &o, 0, n_choices);
        rc = translate(&s, sse, b, n, &e);
        bool delivered = false;
        for (int i = 0; i < n_choices; i++)
            delivered = delivered || oai_out_delivered(&o, i);
        if (rc == AXON_ERETRY && !delivered) { /* chat.c's on_restart */
            for (int i = 0; i < n_choices; i++)
                oai_out_reset_choice(&o, i);
            oa_stream_free(&s);
            oa_stream_init(&s, &o, 0, n_choices);
            memset(&e, 0, sizeof e);
            rc = translate(&s, sse, b, n, &e);
        }
        oa_stream_free(&s);
        if (rc && rc != AXON_ECLIENT_GONE && rc != AXON_ETOOBIG && !o.json_failed)
            fuzz_check_error(&e);
    }
    fuzz_finish_answer(&o, n_choices, rc, &e);
    oai_out_free(&o);
    return 0;
}
