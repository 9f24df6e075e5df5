/* models.h - the model table (etc/models.conf): which ids clients may name,
 * which upstream answers each, what name the upstream receives, and the
 * per-model token limits. Read once at start; immutable afterwards. */
#ifndef AXON_MODELS_H
#define AXON_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include "axon.h"

#define MODELS_MAX 256          /* entries in one table */
#define MODELS_MAX_ID 128       /* bytes in one model id */

/* Which wire protocol an upstream speaks. */
enum provider {
    PROVIDER_ANTHROPIC, /* the Messages API */
    PROVIDER_OPENAI     /* an OpenAI-compatible chat API: vLLM, llama.cpp, Ollama, OpenAI */
};

#define MODELS_MAX_SERVERS 16    /* `server` lines in one table */
#define MODELS_MAX_NAME 32       /* bytes in one server name */

/* A `server` line: an OpenAI-compatible upstream besides AXON_VLLM_BASE_URL.
 * The key itself never sits in the file: key_env names the variable. */
struct server_decl {
    char *name;      /* owned */
    char *base_url;  /* owned, no trailing slash */
    char *key_env;   /* owned or NULL */
    char *health;    /* owned or NULL: a path such as /health */
};

/* What a Claude model accepts (models.conf's capability keys). Rules that
 * differ between models live here as data, so a new model is one line. */
enum sampling_rule {
    SAMPLING_ANY,     /* sampling=any: temperature, top_p and top_k as sent */
    SAMPLING_ONE,     /* sampling=one: at most one of temperature and top_p (temperature kept) */
    SAMPLING_DEFAULT, /* sampling=default: temperature 1 only, top_p >= 0.99, no top_k */
};
enum thinking_style {
    THINKING_NONE,     /* thinking=none: the model cannot think */
    THINKING_BUDGET,   /* thinking=budget: {type: enabled, budget_tokens} */
    THINKING_ADAPTIVE, /* thinking=adaptive: {type: adaptive} + output_config.effort */
};
enum thinks_unasked {
    UNASKED_NO,     /* thinks_unasked=no: thinks only when asked */
    UNASKED_YES,    /* thinks_unasked=yes: thinks unless sent {type: disabled} */
    UNASKED_ALWAYS, /* thinks_unasked=always: thinking cannot be turned off */
};
/* output_config.effort levels, as bits of model_caps.efforts, lowest first. */
enum effort_level { EFFORT_LOW, EFFORT_MEDIUM, EFFORT_HIGH, EFFORT_XHIGH, EFFORT_MAX, EFFORT_COUNT };

struct model_caps {
    enum sampling_rule sampling;
    bool prefill;              /* takes a conversation ending in an assistant message */
    enum thinking_style thinking;
    enum thinks_unasked unasked;
    unsigned efforts;          /* 1u << EFFORT_* for each level output_config.effort takes */
};

/* "low" .. "max" for an effort_level (static); the level a name gives, or -1. */
const char *models_effort_name(enum effort_level l);
int models_effort_level(const char *name);

struct model {
    char *id;             /* what clients send; owned */
    char *upstream_id;    /* what the upstream receives; owned */
    const struct model *target; /* for an alias, the model it names; else itself */
    enum provider provider;
    char *server;         /* owned; PROVIDER_OPENAI: the server's name ("vllm" unless set) */
    int endpoint;         /* index in cfg->endpoints, set by config_finish */
    long max_tokens;      /* default when the request has none; 0: none sent (OpenAI) */
    long max_output;      /* largest max_tokens accepted; 0: no limit of Axon's */
    long context;         /* context window, tokens */
    long created;         /* unix seconds, for /v1/models */
    struct model_caps caps; /* provider=anthropic: what the model accepts */
    bool alias;
};

struct model_table {
    struct model *v;      /* owned */
    size_t n;
    struct server_decl *servers; /* owned, nservers entries */
    size_t nservers;
};

/* Parses the models file at path into t (empty on failure, with err naming
 * the line). On success t owns new memory: models_free. */
int models_load(struct model_table *t, const char *path, char *err, size_t errlen)
    AXON_MUST_CHECK;
/* Same, from text in memory (borrows text). */
int models_parse(struct model_table *t, const char *text, const char *name, char *err,
                 size_t errlen) AXON_MUST_CHECK;
void models_free(struct model_table *t); /* NULL-safe */

/* The server AXON_VLLM_BASE_URL configures; provider=openai models without
 * server= are answered by it. */
#define MODELS_DEFAULT_SERVER "vllm"

/* Model ids travel in URLs, JSON and logs: a safe alphabet, at most
 * MODELS_MAX_ID bytes. */
bool models_id_ok(const char *s, size_t n);

/* Cuts a base URL's trailing slashes and a trailing /v1 in place. */
void models_trim_url(char *url);

/* The entry a client id names (model or alias), or NULL. Borrowed from t. */
const struct model *models_find(const struct model_table *t, const char *id);

#endif
