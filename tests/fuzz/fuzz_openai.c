/* fuzz_openai.c - an OpenAI-compatible server's answers (vLLM, llama.cpp,
 * Ollama, OpenAI) normalised by openai.h, through provider_openai as the
 * pipeline drives it: oa_stream_event and oa_stream_end over SSE, oa_completion over
 * one body, openai_http_error over an error body, into the answer and its
 * chat writer (oai_out) over a fake libfcgi, finished by the answer's
 * epilogue, as the pipeline's.
 *
 * Input: as fuzz_provider_input (fuzz_fcgi.h) describes, with 1 to 4
 * choices in one call. Checked: as fuzz_anthropic.c. */
#include <stdint.h>

#include "provider.h"

#include "fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_provider_input(&provider_openai, "coder", 4, data, size);
    return 0;
}
