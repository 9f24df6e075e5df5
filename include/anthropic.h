/* anthropic.h - the Claude provider: an OpenAI chat request becomes a
 * Messages API body, and the Messages API answer (one JSON object, or SSE
 * events) becomes canonical events for the answer (answer.h). The mapping, field by
 * field, is in docs/claude.md (Request mapping). */
#ifndef AXON_ANTHROPIC_H
#define AXON_ANTHROPIC_H

#include <stdbool.h>
#include <json-c/json.h>

#include "config.h"
#include "errors.h"
#include "models.h"
#include "answer.h"
#include "provider.h"

#define ANTH_MAX_BLOCKS 1024   /* content blocks in one answer */

/* Builds the Messages API body for a validated request (borrows req and m)
 * into out. AXON_EINVAL with e filled (400 and OpenAI's codes) for what
 * Claude cannot do or the request gets wrong. */
int anthropic_request(json_object *req, const struct model *m, struct buf *out,
                      struct chat_plan *info, struct api_error *e) AXON_MUST_CHECK;

/* True when the body anthropic_request builds for req (borrowed) would have
 * m (borrowed) think: what the client asked, else the model's own default
 * (thinks_unasked). The pipeline asks before it restores signed thinking. */
bool anthropic_thinks(json_object *req, const struct model *m);

/* Claude refuses metadata.user_id holding personal data such as an e-mail
 * address. Rewrites the request's `user` and `safety_identifier` (req
 * borrowed, changed in place) unless they are opaque ids (1-64 of
 * A-Z a-z 0-9 _ -): a value that is not becomes "axon-" + 32 hex of
 * SHA-256(tenant, value), stable for one API key, different for another,
 * and not reversible by the upstream, which never sees the tenant. */
void anthropic_scope_user(json_object *req, const char *tenant);
/* AXON_PROMPT_CACHE for every later anthropic_request (pcache.h). Call it
 * at start, before the worker threads: they only read it. */
void anthropic_set_prompt_cache(enum prompt_cache mode);

/* The request headers (returns new: curl_slist_free_all). */
/* Reads ANTHROPIC_API_KEY_FILE again (after a session recycle), so every
 * thread of this process sends a rotated key from the next request on. A
 * read failure keeps the previous key (logged). No-op without a key file. */
int anthropic_reload_key(const struct axon_config *cfg);
struct curl_slist *anthropic_headers(const struct axon_config *cfg);

/* One answer being translated: choice `choice` of out. */
struct anth_block {
    bool is_tool;     /* a tool_use block: its deltas are arguments */
    int tool;         /* its tool index in the choice */
    bool had_args;
    bool is_server;   /* Claude's own tool (server_tool_use ...): not shown */
};

struct anth_stream {
    struct answer *out;    /* borrowed */
    int choice;
    /* Owned (anth_stream_free): grown to the highest block index seen, so
     * a short answer holds a few bytes rather than the cap's 12 KiB (one
     * translator per open stream). */
    struct anth_block *blocks;
    int nblocks;
    int ntools;
    struct usage usage;
    const char *finish;    /* static, set by message_delta */
    bool finished;         /* the finish event went out */
    struct buf text;       /* a text delta read in place (jsonr.h); owned */
};

void anth_stream_init(struct anth_stream *s, struct answer *out, int choice);
/* Frees what the translator holds; init may follow. NULL-safe fields. */
void anth_stream_free(struct anth_stream *s);

/* One SSE event (borrows data). AXON_ERETRY with e filled for an upstream
 * error event that may be retried; AXON_EINVAL (e filled) for an error
 * event that may not; AXON_EPROTO (e filled: 502 upstream_protocol_error)
 * for a broken event; the answer's codes when the client side fails. */
int anth_stream_event(struct anth_stream *s, const char *event, const char *data, size_t n,
                      struct api_error *e) AXON_MUST_CHECK;
/* anth_stream_event without its fast path: every event parsed into a
 * json-c tree. For the tests, which check that the two agree. */
int anth_stream_event_tree(struct anth_stream *s, const char *data, size_t n,
                           struct api_error *e) AXON_MUST_CHECK;
/* The upstream stream ended: AXON_EPROTO (e filled) if it ended early. */
int anth_stream_end(struct anth_stream *s, struct api_error *e) AXON_MUST_CHECK;
/* A whole non-streaming Messages response (borrows body): the codes of
 * anth_stream_event. */
int anth_message(struct anth_stream *s, const char *body, size_t n, struct api_error *e)
    AXON_MUST_CHECK;

/* anth_message without its fast path, for the tests (as anth_stream_event_tree). */
int anth_message_tree(struct anth_stream *s, const char *body, size_t n, struct api_error *e)
    AXON_MUST_CHECK;

/* An upstream HTTP error answer mapped to the error the client gets
 * (borrows body and retry_after, which may be ""). */
void anthropic_http_error(int status, const char *body, size_t n, const char *retry_after,
                          struct api_error *e);

/* stop_reason → finish_reason. */
const char *anthropic_finish_reason(const char *r);

#endif
