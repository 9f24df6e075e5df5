/* catalog.h - which upstream answers which model, and whether each upstream
 * is up. models.conf names the Claude models, aliases and any declared
 * OpenAI-compatible ones; every OpenAI-compatible upstream adds the models
 * its GET /v1/models lists. One background thread per process reads those
 * lists and each upstream's health at start and every
 * AXON_UPSTREAM_CHECK_S: requests only read what it found, never call out. */
#ifndef AXON_CATALOG_H
#define AXON_CATALOG_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "models.h"
#include "pool.h"

#define CATALOG_MAX_BODY (4u << 20)  /* one /v1/models answer */
#define CATALOG_FIRST_WAIT_MS 5000   /* a request waits this long for the first read */
#define CATALOG_CHECK_TIMEOUT_MS 5000 /* one check's whole transfer */

/* A resolved model: a copy, so the lists may change under a request. */
struct model_route {
    struct model m;             /* m.id and m.upstream_id point into the buffers below */
    const struct endpoint *ep;  /* borrowed from the config */
    char id[MODELS_MAX_ID + 1], upstream_id[MODELS_MAX_ID + 1];
};

/* The model a client's name resolves to: models.conf (models and aliases)
 * first, then each OpenAI-compatible upstream's list in configuration
 * order, then the vLLM default model (AXON_VLLM_DEFAULT_MODEL, which the
 * operator declared). While the first read of the lists is still running a
 * miss waits for it, at most CATALOG_FIRST_WAIT_MS. AXON_OK with *out
 * filled, or AXON_ENOTFOUND. Borrows cfg and name. */
int catalog_route(const struct axon_config *cfg, const char *name, struct model_route *out)
    AXON_MUST_CHECK;

/* Starts the monitor thread (nothing to do without OpenAI-compatible
 * upstreams or a Claude key). AXON_ESYS if the thread cannot start. */
int catalog_start(const struct axon_config *cfg) AXON_MUST_CHECK;
/* Stops and joins it; frees the lists. Idempotent. */
void catalog_stop(void);

/* Appends, for GET /v1/models, a comma and one Model object for each model
 * the upstreams list that models.conf does not name. */
int catalog_list_json(const struct axon_config *cfg, struct buf *b) AXON_MUST_CHECK;
/* The Model object of one listed model; AXON_ENOTFOUND if none. */
int catalog_model_json(const struct axon_config *cfg, const char *id, struct buf *b)
    AXON_MUST_CHECK;

/* /stats: "upstreams":{NAME:{...},...} (no URL, no key), with each pool's
 * size, idle and busy from pools (cfg->n_endpoints entries, or NULL while
 * the registry cannot say). */
int catalog_stats_json(const struct axon_config *cfg, struct buf *b, const struct pool_stats *pools)
    AXON_MUST_CHECK;
/* /metrics: axon_upstream_up{upstream="NAME"} and the model counts. */
int catalog_metrics(const struct axon_config *cfg, struct buf *b) AXON_MUST_CHECK;

/* One model an upstream lists. */
struct listed_model {
    char id[MODELS_MAX_ID + 1];
    char owned_by[MODELS_MAX_NAME + 1];
    long created;
    long context;               /* max_model_len; 0 when not given */
};

/* Parses an OpenAI (or vLLM) ModelList body. AXON_OK with *out new
 * (free) holding *n entries; ids Axon could not route safely are skipped.
 * AXON_EINVAL if the body is not a model list. */
int catalog_parse_models(const char *body, size_t len, struct listed_model **out, size_t *n)
    AXON_MUST_CHECK;

#endif
