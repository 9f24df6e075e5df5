/* fuzz_anthropic.c - Claude's answers translated into OpenAI's (anthropic.h),
 * through provider_anthropic as the pipeline drives it: anth_stream_event and
 * anth_stream_end over SSE, anth_message over one body,
 * anthropic_http_error over an error body, all into the answer and its chat
 * writer (oai_out) over a fake libfcgi, and finished by the answer's
 * epilogue, as the pipeline's.
 *
 * Input: as fuzz_provider_input (fuzz_fcgi.h) describes, with one choice
 * (Claude answers one per call; the second byte's bits 1-2 do nothing).
 * Checked besides the sanitizers: what the client receives parses as SSE of
 * JSON objects ending in [DONE], or as one JSON object (fuzz_check_output);
 * every error is filled; the stored assistant message is valid JSON and
 * passes oai_validate_chat, as conv_load requires of every stored message. */
#include <stdint.h>

#include "provider.h"

#include "fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_provider_input(&provider_anthropic, "gpt-4o", 1, data, size);
    return 0;
}
