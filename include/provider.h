/* provider.h - what the pipeline needs of an upstream protocol: build the
 * upstream request, and turn the upstream's answer into canonical events
 * (answer.h). Everything else - the pool, conversations, streaming,
 * retries, timeouts, heartbeats and disconnects - is pipeline.c and
 * upstream.c, the same for all. */
#ifndef AXON_PROVIDER_H
#define AXON_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "errors.h"
#include "models.h"
#include "answer.h"
#include "upstream.h"

/* What the request asked for that shapes the answer, and how it is fetched. */
#define CHAT_IGNORED_MAX 160 /* bytes of chat_plan.ignored */

struct chat_plan {
    bool stream, include_usage, json_mode;
    /* The client wants one JSON answer, but the upstream is asked for a
     * stream: a long answer then keeps the connection busy with events, and
     * neither the first-byte timeout nor the upstream's own limit on
     * non-streamed requests cuts it. The answer is still written as one. */
    bool stream_upstream;
    /* response_format json_schema whose constraints the upstream does not
     * enforce (claude_schema.h): the answer is checked against it. Borrows
     * the request; NULL when there is nothing to check. */
    json_object *schema;
    bool schema_strict; /* json_schema.strict: a violation is an error */
    /* The request's tools (borrowed) when a strict tool's parameters lost
     * constraints to descriptions; NULL otherwise. */
    json_object *tools;
    int n;      /* choices */
    int calls;  /* upstream calls; each answers n / calls choices, the first at i * (n / calls) */
    /* The request's parameters the model cannot take and the provider left
     * out, ", "-separated (text_list_add): the x-axon-ignored-params header
     * and the log line tell the client. */
    char ignored[CHAT_IGNORED_MAX];
    int cache_dropped; /* client prompt-cache breakpoints past the upstream's cap (told in a header) */
};

/* One provider: the request side (its body, headers and path) and the
 * answer side (up: the reader upstream.c calls directly with one call's
 * state; init/fini make and unmake that state for choices of the answer).
 * What a provider receives is the canonical request (a validated OpenAI
 * chat request, docs/internals.md); what it emits is canonical events
 * (struct cev) into the answer (answer_event). It knows nothing of the
 * wire the client reads: that is the ingress's writer. */
struct provider_ops {
    const char *name;   /* for logs: "anthropic", "openai" */
    const char *path;   /* appended to the endpoint's base URL */
    /* The upstream body for a validated request (borrows req and m).
     * AXON_EINVAL with e filled for what the upstream cannot do. */
    int (*request)(json_object *req, const struct model *m, struct buf *out,
                   struct chat_plan *plan, struct api_error *e);
    /* Returns new (curl_slist_free_all). */
    struct curl_slist *(*headers)(const struct axon_config *cfg, const struct endpoint *ep);
    /* One call's reader state (up.state_size bytes): choices first ..
     * first + n/calls - 1 of out. init again before a retry, after fini. */
    void (*init)(void *st, struct answer *out, int first);
    void (*fini)(void *st); /* may be NULL */
    struct up_reader up;    /* the answer's reader: upstream.h */
    /* After a session recycle: read the credential again (may be NULL). */
    int (*reload_key)(const struct axon_config *cfg);
};

extern const struct provider_ops provider_anthropic; /* anthropic.c */
extern const struct provider_ops provider_openai;    /* openai.c */

/* The ops of the protocol an endpoint speaks. */
static inline const struct provider_ops *provider_of(const struct endpoint *ep)
{
    return ep->provider == PROVIDER_OPENAI ? &provider_openai : &provider_anthropic;
}

#endif
