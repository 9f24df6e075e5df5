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
