/* answer.h - the canonical answer: what a provider emits, and what an
 * ingress's writer turns into its API shape.
 *
 * Every provider translates its upstream's answer into the small event
 * vocabulary below (struct cev) and hands each event to answer_event. The
 * answer keeps, choice by choice, what the events say (text, reasoning,
 * refusal, tool calls, signed thinking, usage, the finish, logprobs),
 * checks what is about the answer rather than the wire (json_object mode,
 * a schema the upstream did not enforce, strict tools), gives the stored
 * turn (answer_message), and passes each event of a streamed answer at once
 * to a writer (struct answer_writer) that the ingress chose: chat
 * completions' is oai_out.h. Streaming and non-streaming share the
 * translators: a non-streamed answer is the same events kept, written by
 * the writer's finish. With n > 1 each choice has its own events, told
 * apart by index. docs/internals.md tells where the seam sits. */
#ifndef AXON_ANSWER_H
#define AXON_ANSWER_H

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

struct answer_tool_call {
    char *id, *name;   /* owned, NUL-terminated; a \u0000 inside is kept, so: */
    size_t id_len, name_len;
    struct buf args;
};

struct answer_choice {
    /* A streamed event of this choice went to the writer: from then on its
     * upstream call can no longer be retried. */
    bool delivered;
    bool finished;
    const char *finish;
    struct buf content, reasoning, refusal;
    json_object *lp_content, *lp_refusal; /* logprobs items so far (non-stream); owned or NULL */
    struct answer_tool_call *tools; /* owned, ntools entries */
    int ntools;
    struct usage usage;
    /* Claude's signed thinking, block by block, for the stored turn: a
     * later tool turn must hand it back unchanged. Owned; NULL if none. */
    json_object *thinking;
    size_t thinking_from;        /* where in reasoning the open block starts */
};

struct answer;

/* An ingress's wire format for the answer. w is the writer's own state,
 * which the ingress owns (no allocation per request); a is the answer, read
 * only. The answer calls:
 *   open   once, from answer_init, when the run starts;
 *   event  for each event of a streamed answer, the moment it arrives, as
 *          the answer settled it: CEV_TEXT, CEV_REASONING, CEV_REFUSAL (n >
 *          0), CEV_TOOL_START (tool: its index in the choice; s, name: the
 *          call as kept), CEV_TOOL_ARGS and CEV_FINISH (finish: the final
 *          reason; usage: the choice's). a->c[i].delivered is still false
 *          for the choice's first. Never for a non-streamed answer;
 *   ping   for a heartbeat (nothing to do for a non-streamed answer);
 *   finish once every choice finished and the answer stands: the end of a
 *          stream, or the whole answer (answer_content gives each choice's
 *          text, or refuses it with e filled);
 *   error  when the request failed: a real HTTP error before anything went
 *          out (answer_started), else the error in the stream's own form;
 *   close  from answer_free: frees what open made.
 * Each int returns AXON_OK, AXON_ECLIENT_GONE when the client has left, or
 * AXON_ETOOBIG past a cap. */
struct answer_writer {
    const char *name; /* for logs and tests: "chat.completion" */
    void (*open)(void *w, const struct answer *a);
    void (*close)(void *w);
    int (*event)(void *w, const struct answer *a, int i, const struct cev *ev);
    int (*ping)(void *w, const struct answer *a);
    int (*finish)(void *w, const struct answer *a, struct api_error *e);
    int (*error)(void *w, const struct answer *a, const struct api_error *e);
};

struct answer {
    struct axon_req *r;     /* borrowed */
    bool stream;            /* the client asked for a stream */
    bool include_usage;     /* ... and for the usage at its end */
    bool json_mode;         /* response_format json_object: the answer must parse */
    bool json_failed;       /* ... and a streamed answer did not */
    /* The request used the deprecated `functions` (oai_legacy.h): a choice
     * keeps one call, its finish_reason "function_call" (later calls are
     * dropped: that shape has room for one, and the upstream was asked
     * for no parallel calls); the writer shows it in the legacy shape. */
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
    /* The requested model, then the one the upstream names (CEV_START)
     * while nothing has gone out. */
    char model[OAI_MAX_MODEL + 1];
    struct answer_choice *c; /* owned, n entries */
    const char *conversation_id; /* borrowed; NULL: the answer names none */
    const struct answer_writer *wr; /* borrowed (static) */
    void *w;                /* borrowed: wr's state */
};

/* Prepares a for n choices, written by wr with its state w (both borrowed,
 * w opened here); model is the requested model, shown until the upstream
 * names the one that answers. Borrows r. Free with answer_free (which
 * closes the writer). */
void answer_init(struct answer *a, struct axon_req *r, int n, bool stream, bool include_usage,
                 const char *model, const struct answer_writer *wr, void *w);
void answer_free(struct answer *a);

/* One event of choice i (borrows ev). Streaming: each is passed to the
 * writer at once. AXON_ECLIENT_GONE when the client has left; AXON_ETOOBIG
 * past a cap; AXON_EINVAL when the finished answer fails a check while
 * streaming (json_object mode, a strict schema: answer_close says why). */
int answer_event(struct answer *a, int i, const struct cev *ev) AXON_MUST_CHECK;

/* True once choice i has sent something to the client: from then on its
 * upstream call can no longer be retried. */
bool answer_delivered(const struct answer *a, int i);
/* Forgets what choice i accumulated (before a retry). */
void answer_reset_choice(struct answer *a, int i);
/* True once the response's headers have gone out. */
bool answer_started(const struct answer *a);

/* The sum of every choice's usage. */
void answer_usage(const struct answer *a, struct usage *u);
/* Choice i's text as it goes out: in json_object mode, the JSON value
 * without white space or a Markdown fence around it. AXON_EINVAL with e
 * filled when a check refuses the answer (the writer then writes
 * nothing). *s is borrowed from a. */
int answer_content(const struct answer *a, int i, const char **s, size_t *n,
                   struct api_error *e) AXON_MUST_CHECK;

/* All choices finished: the writer's finish (the end of the stream, or the
 * whole answer). e is filled when the answer itself fails a check. */
int answer_finish(struct answer *a, struct api_error *e) AXON_MUST_CHECK;
/* False when a check (json_object mode, a strict schema) refuses the
 * answer that answer_finish would send: checked before a turn is stored,
 * so a refused answer is not. */
bool answer_valid(const struct answer *a);
/* The error for an answer that json_object mode refuses. */
void answer_json_error(struct api_error *e);
/* The error for an answer that a check refused (json_object mode, or a
 * strict schema's constraint): fills e. */
void answer_error(const struct answer *a, struct api_error *e);
/* The answer's epilogue, in two halves around the request's last Valkey
 * round trip (which stores the turn only when the answer stands).
 * answer_check: rc is the run's result; when every call delivered but a
 * check refuses the answer (json_object mode, a strict schema), e is filled
 * and AXON_EINVAL returned; otherwise rc.
 * answer_close: the end the client sees, for rc as answer_check left it
 * (e filled when not AXON_OK): the writer's finish; else its error, a real
 * status before the stream started and the stream's error after (a 502
 * when nothing said why); nothing once the client has left. Adds the
 * answer's tokens to the request's counts and notes a gone client (the log
 * line, /stats). Returns the final code. */
int answer_check(const struct answer *a, int rc, struct api_error *e) AXON_MUST_CHECK;
int answer_close(struct answer *a, int rc, struct api_error *e);
/* A heartbeat, through the writer (lighttpd notices a gone client only
 * when we write). */
int answer_ping(struct answer *a) AXON_MUST_CHECK;

/* Choice i as an OpenAI assistant message for storing the turn (the
 * canonical request's form, whatever the ingress): role, content,
 * tool_calls, reasoning_content and, Axon's extension that the Claude
 * translator reads back, thinking_blocks with their signatures. Returns
 * new (json_object_put). */
json_object *answer_message(const struct answer *a, int i);

#endif
