/* openai.h - the OpenAI-compatible provider (vLLM, llama.cpp's server,
 * Ollama, OpenAI itself): the request passes through with Axon's own
 * fields removed and the thinking toggle applied; the answer, whatever
 * dialect of the OpenAI format the server speaks, becomes canonical events,
 * so it leaves Axon exactly as a Claude answer does. */
#ifndef AXON_OPENAI_H
#define AXON_OPENAI_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config.h"
#include "errors.h"
#include "models.h"
#include "answer.h"
#include "provider.h"

/* The upstream body for a validated request (borrows req and m): every
 * field passes except conversation_id and thinking; model becomes the
 * upstream's name; stream_options.include_usage is always asked for (Axon
 * counts tokens; the client gets the usage chunk only if it asked);
 * chat_template_kwargs keeps the client's keys and gets enable_thinking
 * from `thinking` (true or {"type":"enabled"|"adaptive"} on; false or
 * {"type":"disabled"} off; absent: the client's own enable_thinking, else
 * off). Assistant messages lose reasoning_content and thinking_blocks:
 * reasoning is shown and stored, never sent back. */
int openai_request(json_object *req, const struct model *m, struct buf *out,
                   struct chat_plan *plan, struct api_error *e) AXON_MUST_CHECK;

/* Authorization: Bearer (when the endpoint has a key) and JSON content.
 * Returns new (curl_slist_free_all). */
struct curl_slist *openai_headers(const struct endpoint *ep);

/* One choice of the answer being translated. */
struct oa_choice {
    uint8_t tool_of[OAI_MAX_TOOLS]; /* upstream tool index -> 1 + Axon's; 0: not seen */
    const char *finish;             /* static; set by finish_reason, emitted at the end */
};

/* One upstream call's answer: choices first .. first + n - 1 of out. */
struct oa_stream {
    struct answer *out;   /* borrowed */
    int first, n;
    struct oa_choice *c;  /* owned, n entries */
    struct usage usage;
    bool finished;        /* every choice's finish went out */
};

/* Prepares s: zeroed, or emptied by oa_stream_free (a retried call's
 * translator is freed, then prepared again). */
void oa_stream_init(struct oa_stream *s, struct answer *out, int first, int n);
void oa_stream_free(struct oa_stream *s);

/* One SSE data payload (borrows data): a chunk, an error object, or
 * [DONE]. AXON_ERETRY with e filled for a retryable upstream error,
 * AXON_EINVAL for another; AXON_EPROTO (e filled: 502
 * upstream_protocol_error) for a broken chunk; the answer's codes. */
int oa_stream_event(struct oa_stream *s, const char *data, size_t n, struct api_error *e)
    AXON_MUST_CHECK;
/* The stream ended: AXON_EPROTO (e filled) if a choice never finished. */
int oa_stream_end(struct oa_stream *s, struct api_error *e) AXON_MUST_CHECK;
/* A whole chat.completion (borrows body): the codes of oa_stream_event. */
int oa_completion(struct oa_stream *s, const char *body, size_t n, struct api_error *e)
    AXON_MUST_CHECK;

/* A non-2xx answer, in any of the servers' error shapes (nested OpenAI,
 * vLLM's flat {"object":"error"}, {"error":"text"}), as the client's error:
 * code a string or null, never the upstream's raw body. */
void openai_http_error(int status, const char *body, size_t n, const char *retry_after,
                       struct api_error *e);

/* finish_reason as OpenAI defines it (stop, length, tool_calls,
 * content_filter); anything else is stop. */
const char *openai_finish_reason(const char *r);

#endif
