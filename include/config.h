/* config.h - the environment and an optional NAME=value file, read and
 * validated once at start into one immutable struct. The environment wins
 * over the file. */
#ifndef AXON_CONFIG_H
#define AXON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "axon.h"
#include "models.h"
#include "seal.h"
#include "sha256.h"

/* AXON_LOG_LEVEL, in the order of its words (config.c). */
enum log_level { AXON_LOG_DEBUG, AXON_LOG_INFO, AXON_LOG_WARN, AXON_LOG_ERROR };

/* AXON_PROMPT_CACHE: which prompt-cache breakpoints reach Claude (see
 * pcache.h). In the order of the setting's words (config.c). */
enum prompt_cache { PROMPT_CACHE_AUTO, PROMPT_CACHE_EXPLICIT, PROMPT_CACHE_OFF };

#define CONFIG_MAX_KEYS 1024       /* API keys accepted at most */
#define CONFIG_MAX_KEY_LEN 256     /* bytes in one API key */
#define CONFIG_MAX_FILE_BYTES (1 << 20) /* axon.conf and the keys file */

/* How AXON_VALKEY_URL names the store: one server (redis://, unix://), a
 * Valkey Cluster (redis+cluster://, seeds: any nodes of it, the slot map is
 * read from them) or a primary found through Sentinels
 * (redis+sentinel://, seeds: the Sentinels, master: the name they know it
 * by). */
enum valkey_mode { VALKEY_SINGLE = 0, VALKEY_CLUSTER, VALKEY_SENTINEL };
#define VALKEY_MAX_SEEDS 16
struct valkey_seed {
    char *host; /* owned */
    int port;
};
struct valkey_addr {
    enum valkey_mode mode;
    char *host;      /* VALKEY_SINGLE: NULL for a unix socket; owned */
    int port;
    char *path;      /* unix socket path or NULL; owned */
    char *password;  /* or NULL; owned; the data nodes' (not the Sentinels') */
    int db;          /* always 0 in a cluster */
    int n_seeds;     /* VALKEY_CLUSTER, VALKEY_SENTINEL: 1..VALKEY_MAX_SEEDS */
    struct valkey_seed seeds[VALKEY_MAX_SEEDS];
    char *master;    /* VALKEY_SENTINEL: the master name; owned */
};
/* A deep copy of src into dst (dst is overwritten, not freed first). */
void valkey_addr_copy(struct valkey_addr *dst, const struct valkey_addr *src);
/* Frees what a valkey_addr owns (the password wiped) and zeroes it. */
void valkey_addr_free(struct valkey_addr *v);

#define CONFIG_MAX_ENDPOINTS (2 + MODELS_MAX_SERVERS)

/* One upstream server Axon calls: Claude (always endpoints[0], configured
 * or not), AXON_VLLM_BASE_URL's "vllm", then models.conf's server lines. */
struct endpoint {
    char name[MODELS_MAX_NAME + 1];
    enum provider provider;
    char *base_url;       /* owned, no trailing slash or /v1 */
    char *key;            /* owned, secret; NULL: none (Claude: cfg->anthropic_key) */
    char *health;         /* owned or NULL: a health path checked besides /v1/models */
    char pool[17];        /* pool_name() of this upstream (pool.h) */
};

#define CONFIG_MAX_BASE_PATH 128

struct axon_config {
    unsigned char (*key_hashes)[SHA256_LEN]; /* SHA-256 of each API key; owned */
    size_t n_keys;
    int threads;                  /* always running */
    int max_threads;              /* the most at once (>= threads after config_load) */
    size_t max_body_bytes;
    size_t max_inflight_bytes;    /* request bodies held at once (memcap.h) */
    int drain_s;
    struct valkey_addr valkey;
    int port;                 /* where `make run` puts the web server */
    char *server;             /* "lighttpd", "nginx" or "apache"; owned */
    /* A path prefix the web server serves Axon under ("/axon"), stripped
     * from REQUEST_URI before routing; "" for none. */
    char base_path[CONFIG_MAX_BASE_PATH + 1];
    enum log_level log_level;
    bool test_routes;         /* AXON_TEST_ROUTES=1: test-only routes */
    /* Models and upstreams. */
    char *models_file;        /* owned */
    struct model_table models;/* read from models_file by config_finish */
    char *default_model;      /* owned; answers requests without a model */
    char *anthropic_key;      /* owned, secret; NULL: Claude not configured */
    char *anthropic_base_url; /* owned, no trailing slash */
    int heartbeat_s;          /* ": ping" while a stream's upstream is silent */
    int upstream_retries;     /* retries before the first byte reaches the client */
    int retry_max_wait_s;     /* a longer Retry-After is passed on, not waited out */
    long connect_timeout_ms;
    int first_byte_timeout_s; /* request sent → first byte from the upstream */
    int idle_timeout_s;       /* longest silence between upstream bytes */
    int max_n;                /* largest n (parallel choices) accepted */
    size_t max_upstream_bytes;/* one upstream body or SSE event */
    char *anthropic_key_file; /* owned; the key is read from it (pool.h) */
    /* OpenAI-compatible upstreams, and which provider answers a request
     * without a model. */
    enum provider default_provider; /* AXON_PROVIDER */
    char *vllm_base_url;      /* owned or NULL */
    char *vllm_key;           /* owned, secret, or NULL */
    char *vllm_default_model; /* owned */
    int upstream_check_s;     /* how often model lists and health are read */
    struct endpoint endpoints[CONFIG_MAX_ENDPOINTS];
    int n_endpoints;
    /* Valkey, conversations and the session pool. */
    int valkey_timeout_ms;
    int valkey_wait_replicas; /* WAIT after a store (valkey_batch.durable); 0: none */
    bool store_on_request;    /* AXON_STORE=on_request */
    int conv_ttl_s;
    int conv_max_messages;
    size_t conv_max_bytes;
    int pool_size;
    int pool_wait_ms;
    int max_turns;
    int pool_lease_s;
    int pool_cooldown_s;
    int pool_keep_ms;         /* AXON_POOL_KEEP_MS: 0 = every lease goes back to Valkey */
    bool metrics_public;
    enum prompt_cache prompt_cache; /* AXON_PROMPT_CACHE */
    /* AXON_SEAL_KEYS then AXON_SEAL_KEYS_FILE's: keys[0] seals reasoning
     * items' encrypted_content (seal.h); secret, zeroed by config_free. */
    struct seal_keyring seal_keys;
};

/* Reads the environment, then `file` if not NULL (a missing file is an error
 * only when required is true). On failure returns AXON_EINVAL with a message
 * naming the bad setting in err, and leaves *cfg empty. On success *cfg owns
 * new memory: release with config_free. */
int config_load(struct axon_config *cfg, const char *file, bool required,
                char *err, size_t errlen) AXON_MUST_CHECK;
void config_free(struct axon_config *cfg); /* NULL-safe, idempotent */

/* Parses one setting into cfg (for tests and for config_load). Borrows both
 * strings. AXON_ENOTFOUND for an unknown name. */
int config_set(struct axon_config *cfg, const char *name, const char *value,
               char *err, size_t errlen) AXON_MUST_CHECK;
/* Fills the defaults; config_set and config_finish complete it. */
void config_defaults(struct axon_config *cfg);
/* Final cross-field checks (for example: at least one API key). */
int config_finish(struct axon_config *cfg, char *err, size_t errlen) AXON_MUST_CHECK;

/* Reads one secret (an upstream key) from a file, trimmed of surrounding
 * white space; `what` names the setting in err. *out is new (free after
 * zeroing it). ANTHROPIC_API_KEY_FILE is read at start and again whenever a
 * pool session is recycled, so a rotated key is picked up. */
int config_read_secret(const char *path, const char *what, char **out, char *err,
                       size_t errlen) AXON_MUST_CHECK;

/* The settings table: one entry per setting, the only place a setting is
 * declared. config_defaults parses each `def`, config_set finds the entry by
 * name and calls its `parse`, and config_doc.h renders the table as
 * `axon --help`, docs/configuration.md, etc/axon.conf.example and the chart's
 * values (`make docs`; test_config_doc fails when a committed copy differs).
 * Ends with a NULL name. */
struct config_doc;
typedef int config_parse_fn(struct axon_config *cfg, const struct config_doc *s, const char *v,
                            char *err, size_t errlen);
struct config_doc {
    const char *name;          /* the environment variable, and the file's NAME */
    config_parse_fn *parse;    /* reads the text into cfg; AXON_EINVAL naming the setting */
    size_t off;                /* the field parse writes (offsetof in struct axon_config) */
    int size;                  /* its size: whole numbers go into an int, long or size_t */
    int64_t lo, hi;            /* whole numbers: the range accepted (hi > 0 marks one) */
    const char *const *words;  /* word settings: the words, in the field's enum order */
    const char *form;          /* what other settings accept, for the docs (markdown) */
    const char *def;           /* the default, as text that parse reads; NULL: none */
    const char *def_doc;       /* the default as the docs show it, when def is a
                                * path of this build tree (AXON_MODELS_FILE) */
    const char *help;          /* what it does (markdown: `code`, [links](docs/...)) */
    const char *chart;         /* its value under `axon:` in chart/values.yaml, or NULL */
    const char *chart_note;    /* what the chart adds about it (values.yaml's comment) */
};
extern const struct config_doc config_docs[];

#endif
