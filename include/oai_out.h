/* oai_out.h - canonical answer events in, OpenAI's wire format out.
 *
 * Every provider translates its upstream's answer into the small event
 * vocabulary below; this module turns those events into chat.completion
 * chunks written and flushed the moment they arrive (stream) or into one
 * chat.completion object (non-stream). Streaming and non-streaming share
 * the translators: a non-streaming answer is the same events accumulated.
 * With n > 1 each choice has its own events, told apart by index. */
#ifndef AXON_OAI_OUT_H
#define AXON_OAI_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"
#include "errors.h"
#include "reqctx.h"

/* A token count as an upstream reports it, kept to [0, OAI_MAX_TOKENS]:
 * counts are added up over fields, choices and calls, and a broken upstream's
 * 9223372036854775807 overflowed (signed: undefined behaviour; found by
 * tests/fuzz, tests/fuzz/regressions/anthropic/usage-int64-max). */
#define OAI_MAX_TOKENS 1000000000000L
static inline long oai_tokens(json_object *v)
{
    int64_t x = json_object_get_int64(v);
    return x < 0 ? 0 : x > OAI_MAX_TOKENS ? OAI_MAX_TOKENS : (long)x;
}

struct usage {
    long input;       /* uncached prompt tokens */
    long cache_read;  /* prompt tokens served from the prompt cache */
    long cache_write; /* prompt tokens written to the prompt cache */
    long output;      /* completion tokens, reasoning included */
    long reasoning;   /* of which reasoning, when the upstream says */
};

enum cev_kind {
    CEV_START,      /* s: the model that answers */
    CEV_TEXT,       /* s, n: answer text */
    CEV_REASONING,  /* s, n: reasoning text */
    CEV_REFUSAL,    /* s, n: refusal text (OpenAI's own refusals) */
    CEV_TOOL_START, /* tool: index in the choice; s: call id; name */
    CEV_TOOL_ARGS,  /* tool; s, n: a fragment of the arguments JSON */
    CEV_SIGNATURE,  /* s, n: the signature that closes the current thinking block */
    CEV_REDACTED,   /* s, n: a redacted_thinking block's opaque data */
    CEV_FINISH,     /* finish: OpenAI finish_reason; usage: final counts */
};

struct cev {
    enum cev_kind kind;
    const char *s;
    size_t n;
    const char *name;
    size_t name_n; /* CEV_TOOL_START: name's length (a \u0000 in it is kept) */
    int tool;
    const char *finish;
    const struct usage *usage;
    json_object *logprobs; /* CEV_TEXT, CEV_REFUSAL: the upstream's logprobs object, or NULL (borrowed) */
};

#define OAI_MAX_MODEL 128
#define OAI_MAX_TOOLS 128      /* tool calls in one choice */
#define OAI_MAX_ANSWER (64u << 20) /* accumulated text of one choice */

struct oai_tool_call {
    char *id, *name;   /* owned, NUL-terminated; a \u0000 inside is kept, so: */
    size_t id_len, name_len;
    struct buf args;
};

struct oai_choice {
    bool role_sent, finished;
    const char *finish;
    struct buf content, reasoning, refusal;
    json_object *lp_content, *lp_refusal; /* logprobs items so far (non-stream); owned or NULL */
    struct oai_tool_call *tools; /* owned, ntools entries */
    int ntools;
    struct usage usage;
    /* Claude's signed thinking, block by block, for the stored turn: a
     * later tool turn must hand it back unchanged. Owned; NULL if none. */
    json_object *thinking;
    size_t thinking_from;        /* where in reasoning the open block starts */
};

struct oai_out {
    struct axon_req *r;     /* borrowed */
    bool stream, include_usage;
    bool json_mode;         /* response_format json_object: the answer must parse */
    bool json_failed;       /* ... and a streamed answer did not */
    /* The request used the deprecated `functions` (oai_legacy.h): a call
     * goes out as message.function_call / delta.function_call with
     * finish_reason "function_call", one per choice (later ones are
     * dropped: that shape has room for one, and the upstream was asked
     * for no parallel calls). */
    bool legacy_functions;
    /* The client's json_schema when the upstream did not enforce all of it
     * (borrowed, or NULL): each finished answer is checked against it. A
     * violation is logged; with strict it fails the answer (502
     * schema_violation), without it the answer goes out with the header
     * x-axon-schema-violation (non-stream). */
    json_object *schema;
    bool schema_strict;
    /* The request's tools (borrowed, or NULL) when a strict tool's
     * parameters lost constraints: each call of a strict tool is checked
     * against its parameters, and a violation fails the answer. */
    json_object *tools;
    /* The first violation: "<#JSON pointer> <keyword>", after "tool NAME "
     * for a tool call; "" while none. */
    char schema_violation[200];
    bool schema_refused;    /* ... and it fails the answer */
    int n;                  /* choices */
    char id[40];            /* "chatcmpl-" + 29 alphanumerics */
    long created;
    char model[OAI_MAX_MODEL + 1];
    char fingerprint[16];
    struct oai_choice *c;   /* owned, n entries */
    struct buf chunk;       /* scratch for one chunk */
    const char *conversation_id; /* borrowed; NULL: the answer names none */
    bool conversation_sent; /* ... and the stream's first chunk carried it */
};

/* Prepares o for n choices; model is the requested model, shown until the
 * upstream names the one that answers. Borrows r. Free with oai_out_free. */
void oai_out_init(struct oai_out *o, struct axon_req *r, int n, bool stream, bool include_usage,
                  const char *model);
void oai_out_free(struct oai_out *o);

/* One event of choice i. Streaming: headers go out with the first event
 * that carries content, and each event is written and flushed at once.
 * AXON_ECLIENT_GONE when the client has left; AXON_ETOOBIG past a cap. */
int oai_out_event(struct oai_out *o, int i, const struct cev *ev) AXON_MUST_CHECK;

/* True once choice i has sent something to the client: from then on its
 * upstream call can no longer be retried. */
bool oai_out_delivered(const struct oai_out *o, int i);
/* Forgets what choice i accumulated (before a retry). */
void oai_out_reset_choice(struct oai_out *o, int i);
/* True once the stream's headers have gone out. */
bool oai_out_started(const struct oai_out *o);

/* All choices finished: the usage chunk (when asked) and [DONE], or the
 * whole chat.completion. e is filled when the answer itself fails a check
 * (json_object mode); the caller then answers with oai_out_error. */
int oai_out_finish(struct oai_out *o, struct api_error *e) AXON_MUST_CHECK;
/* False when json_object mode refuses the answer that oai_out_finish would
 * send: checked before a turn is stored, so a refused answer is not. */
bool oai_out_valid(const struct oai_out *o);
/* The request failed: a real HTTP error before the stream started, else
 * data: {"error":...} and data: [DONE] - never a fake finish_reason. */
int oai_out_error(struct oai_out *o, const struct api_error *e);
/* The error for an answer that json_object mode refuses. */
void oai_json_error(struct api_error *e);
/* The error for an answer that a check refused (json_object mode, or a
 * strict schema's constraint): fills e. */
void oai_out_answer_error(const struct oai_out *o, struct api_error *e);
/* The answer's epilogue, in two halves around the request's last Valkey
 * round trip (which stores the turn only when the answer stands).
 * oai_out_check: rc is the run's result; when every call delivered but a
 * check refuses the answer (json_object mode, a strict schema), e is filled
 * and AXON_EINVAL returned; otherwise rc.
 * oai_out_close: the end the client sees, for rc as oai_out_check left it
 * (e filled when not AXON_OK): the usage chunk and [DONE] or the whole
 * chat.completion; else the error, as a real status before the stream
 * started and an error chunk after (a 502 when nothing said why); nothing
 * once the client has left. Adds the answer's tokens to the request's
 * counts and notes a gone client (the log line, /stats). Returns the
 * final code. */
int oai_out_check(const struct oai_out *o, int rc, struct api_error *e) AXON_MUST_CHECK;
int oai_out_close(struct oai_out *o, int rc, struct api_error *e);
/* A stream's heartbeat comment, starting the stream if it has not (lighttpd
 * notices a gone client only when we write). Nothing for a JSON answer. */
int oai_out_ping(struct oai_out *o) AXON_MUST_CHECK;

/* Choice i as an OpenAI assistant message for storing the turn:
 * role, content, tool_calls, reasoning_content and, Axon's extension that
 * the Claude translator reads back, thinking_blocks with their signatures.
 * Returns new (json_object_put). */
json_object *oai_out_message(const struct oai_out *o, int i);

/* OpenAI's usage object for u (integers, both details objects). */
int oai_usage_json(struct buf *b, const struct usage *u) AXON_MUST_CHECK;

#endif
