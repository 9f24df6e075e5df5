/* pcache.h - Claude's prompt cache: which blocks of a Messages API body
 * carry cache_control, and with which TTL.
 *
 * A client marks the end of a reusable prefix with OpenAI's
 * prompt_cache_breakpoint {mode:"explicit"} on a content part (spec:
 * PromptCacheBreakpointParam), or with Anthropic's own cache_control on a
 * part, a message or a tool (what LiteLLM and OpenRouter clients send; the
 * validator lets it through, nested objects being open). The translator
 * copies each mark onto the Claude block the part becomes (pcache_mark);
 * pcache_finish then applies AXON_PROMPT_CACHE to the whole body:
 *   auto      the client's marks, plus Axon's own automatic one (Claude's
 *             top-level cache_control, which "automatically applies a
 *             cache_control marker to the last cacheable block": SDK
 *             MessageCreateParams.cache_control) for a request that names a
 *             conversation, or whose prompt is estimated at
 *             PCACHE_AUTO_MIN_TOKENS or more;
 *   explicit  the client's marks only (also per request, with OpenAI's
 *             prompt_cache_options.mode "explicit");
 *   off       none: the client's are removed too.
 * Claude takes at most PCACHE_MAX_BREAKPOINTS, the automatic one included
 * ("automatic caching uses one of the available breakpoint slots"; a fifth
 * is a 400): past that the oldest client marks are dropped, as OpenAI does
 * ("writes up to the latest four explicit breakpoints", or the latest three
 * beside its implicit one: spec PromptCacheOptionsParam.mode). */
#ifndef AXON_PCACHE_H
#define AXON_PCACHE_H

#include <json-c/json.h>

#include "config.h"

#define PCACHE_MAX_BREAKPOINTS 4
/* Axon's automatic breakpoint goes on prompts of this many estimated tokens
 * (BYTES_PER_TOKEN bytes of text each): 1024 is the smallest prompt most
 * current models cache (Sonnet 4.5, Opus 4.8; Anthropic's prompt-caching
 * docs, "Cache limitations"). A shorter one is not cached by Claude anyway,
 * so the line only keeps Axon from walking a long prompt for nothing. */
#define PCACHE_AUTO_MIN_TOKENS 1024
#define PCACHE_BYTES_PER_TOKEN 4

/* Copies the client's breakpoint on src (a content part, a message or a
 * tool: cache_control, or prompt_cache_breakpoint) onto block as Claude's
 * cache_control {type:"ephemeral"}, keeping a ttl of "5m" or "1h". Borrows
 * both; nothing happens when src carries no breakpoint or block is NULL. */
void pcache_mark(json_object *block, json_object *src);

/* A message's own breakpoint (cache_control beside role and content) goes
 * on the last block it produced: blocks[from..] (borrows all three). Signed
 * thinking blocks cannot carry one and are passed over. */
void pcache_mark_message(json_object *blocks, size_t from, json_object *msg);

/* Applies mode to body, a finished Messages API body (changed in place;
 * borrows req, the OpenAI request, for conversation_id,
 * prompt_cache_retention and prompt_cache_options): drops what mode does
 * not allow, adds the automatic breakpoint, caps the count and sets every
 * TTL: a client's own "5m"/"1h" stays; the others get "1h" for
 * prompt_cache_retention "24h" or a prompt_cache_options.ttl (a minimum
 * lifetime only the hour meets), else Claude's default 5 minutes; a mark
 * before a 1-hour one is lifted to the hour, since Claude refuses a 1h mark
 * after a 5m one. Returns how many client breakpoints were dropped past the
 * cap. */
int pcache_finish(json_object *body, json_object *req, enum prompt_cache mode);

#endif
