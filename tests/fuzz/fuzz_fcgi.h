/* fuzz_fcgi.h - libfcgi without a web server, for the fuzz harnesses.
 *
 * fuzz_fcgi.c defines the wrappers that replace the libfcgi stream calls
 * fcgi_io.c makes (linked with -Wl,--wrap, as the unit tests' fake_fcgi.h):
 * no request parameters, no body, and every byte the responder writes kept
 * in one buffer, so a harness can check what the client would receive.
 * Every harness links it, so none ever reaches the real libfcgi. */
#ifndef AXON_FUZZ_FCGI_H
#define AXON_FUZZ_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "errors.h"
#include "reqctx.h"

/* One request being answered: the fake libfcgi request, the Axon request
 * over it, and the configuration (defaults) it borrows. */
struct fuzz_req {
    FCGX_Request fcgi;
    struct axon_req r;
};

/* Forgets what was written and starts a request. write_budget: how many
 * writes succeed before the client "leaves" (libfcgi then fails every write
 * and FCGX_GetError reports it); -1: it never leaves. */
void fuzz_req_begin(struct fuzz_req *q, int write_budget);

/* The bytes written so far (NUL-terminated) and whether the client left. */
const struct buf *fuzz_output(void);
bool fuzz_client_left(void);

/* Checks the answer as a client would read it, and abort()s (a finding)
 * when it is malformed: a "Status:" head ending in a blank line, then for
 * text/event-stream only "data: <JSON object>" or "data: [DONE]" events and
 * ": comment" lines, each closed by a blank line, ending in [DONE] when
 * `complete`; for application/json exactly one JSON object. Every JSON text
 * must pass jsonv_parse, which also checks UTF-8. Nothing is checked once
 * the client has left (the bytes stop wherever the write failed). */
void fuzz_check_output(bool complete);

/* abort()s unless p[0..n) is one JSON object that jsonv_parse accepts (so
 * also valid UTF-8); what names it in the message. */
void fuzz_check_json(const char *p, size_t n, const char *what);
/* A \u0000 is text like any other (issue 18): abort()s unless every text
 * of the client's request req (borrowed) that holds a NUL - a message's
 * content string or text/refusal part, its name, a tool's description, a
 * stop sequence, `user` - is found, up to and including its last NUL (a
 * final prefill loses its trailing white space, nothing else may go), inside
 * one string of the upstream body p[0..n), which fuzz_check_json has passed.
 * A translator that measured the text with strlen would cut it there. */
void fuzz_check_nul_kept(json_object *req, const char *p, size_t n, const char *who);
/* The same for an error envelope built from e (errors_envelope_api), and
 * e's own fields: a status, a type and a message. */
void fuzz_check_error(const struct api_error *e);

/* abort()s unless msg (borrowed), an assistant message Axon would store,
 * passes oai_validate_chat after a user message: conv_load refuses a stored
 * conversation that does not, so every answer must. */
void fuzz_check_stored(json_object *msg);

struct provider_ops;
/* One input through a provider's reader (provider.h), as the pipeline and
 * upstream.c drive it: ops->init, then ops->up.event over SSE (sse.h) and
 * ops->up.end, or ops->up.body over one body, or ops->up.http_error over
 * an error body; a retryable failure before anything reached the client
 * runs the call once more (pipeline.c's on_restart); then the answer's
 * epilogue (answer.h), the pipeline's own: answer_check, a valid answer's
 * stored messages checked (fuzz_check_json and fuzz_check_stored) where
 * settle would store them, answer_close (the answer finished, or a failure
 * written as the client would get it), and what the client received is
 * checked.
 *
 * Input: a flags byte, a second byte, then the upstream's bytes.
 *   flags bit 0: the bytes are an SSE stream, else one response body;
 *         bit 1: the client asked for a stream (chunks), else one JSON answer;
 *         bit 2: stream_options.include_usage;
 *         bit 3: response_format json_object;
 *         bit 4: the bytes are an HTTP error body instead;
 *         bits 5-7: when not 0, the client leaves after 4 * that many writes.
 *   second byte: the HTTP status of an error body (400 + byte), else bit 0
 *         names a conversation_id in the answer and bits 1-2 give n - 1
 *         (n choices in one call), up to max_choices. */
void fuzz_provider_input(const struct provider_ops *ops, const char *model, int max_choices,
                         const uint8_t *data, size_t size);

/* The defaults every harness shares (config_defaults, made once). */
const struct axon_config *fuzz_cfg(void);

/* abort() with a message: the harness saw an invariant broken. */
void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
