/* config.c - settings from the environment and etc/axon.conf: the settings
 * table below declares each one once (config.h), and everything else
 * (defaults, parsing, --help, docs/configuration.md, etc/axon.conf.example,
 * the chart's values) is read from it. */
#include "config.h"
#include "pool.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"

/* The parsers the table names; each is defined below it. */
static config_parse_fn parse_int, parse_words, parse_str, parse_secret, parse_keys,
    parse_keys_file, parse_valkey, parse_server, parse_base_path, parse_http_url,
    parse_vllm_url, parse_vllm_model, parse_provider, parse_seal_keys, parse_seal_keys_file;

/* Where a setting's value goes, and how big the field is. */
#define FIELD(f) .off = offsetof(struct axon_config, f), \
                 .size = (int)sizeof(((struct axon_config *)0)->f)
/* A whole number from l to h, into an int, long or size_t field. */
#define INT(f, l, h) .parse = parse_int, FIELD(f), .lo = (l), .hi = (h)
/* One of a list of words: the field (an enum or a bool) gets its index. */
#define WORDS(f, w) .parse = parse_words, FIELD(f), .words = (w)
/* Text copied as it is into a char * field. */
#define STR(f) .parse = parse_str, FIELD(f)
/* A key for an upstream: checked, zeroed when replaced; "" leaves it unset. */
#define SECRET(f) .parse = parse_secret, FIELD(f), .form = "a key"

static const char *const bool_words[] = {"0", "1", NULL};
static const char *const server_words[] = {"lighttpd", "nginx", "apache", NULL};
static const char *const level_words[] = {"debug", "info", "warn", "error", NULL};
static const char *const store_words[] = {"always", "on_request", NULL};
static const char *const provider_words[] = {"anthropic", "vllm", NULL};
static const char *const cache_words[] = {"auto", "explicit", "off", NULL};

/* Every setting, in the order config_load applies them. help is the
 * reference's prose (markdown); links are relative to docs/. */
const struct config_doc config_docs[] = {
    {.name = "AXON_API_KEYS", .parse = parse_keys, .form = "comma-separated keys",
     .help = "client API keys (`Authorization: Bearer`); required unless `AXON_API_KEYS_FILE` "
             "is set"},
    {.name = "AXON_API_KEYS_FILE", .parse = parse_keys_file, .form = "a file",
     .help = "client API keys, one per line, `#` comments; adds to `AXON_API_KEYS`"},
    {.name = "AXON_THREADS", INT(threads, 1, 8192), .def = "16",
     .help = "worker threads per axon process, always running",
     .chart = "threads"},
    {.name = "AXON_MAX_THREADS", INT(max_threads, 1, 8192), .def = "2048",
     .help = "the most worker threads per axon process: one more starts whenever every "
             "thread is busy (each open request or stream holds one), and an extra one "
             "leaves after 5 s idle; raised to `AXON_THREADS` if lower (see "
             "[Sizing](deploying.md#sizing))",
     .chart = "maxThreads", .chart_note = "Also sizes the bundled Valkey's maxclients."},
    {.name = "AXON_MAX_BODY_BYTES", INT(max_body_bytes, 1024, 1 << 30), .def = "16777216",
     .help = "largest request body; larger gets `413`"},
    {.name = "AXON_MAX_INFLIGHT_BYTES", INT(max_inflight_bytes, 1024, INT64_C(1) << 40),
     .def = "268435456",
     .help = "request body bytes one axon process holds at once (each costs about 3 times "
             "that in memory): a request that does not fit beside the others gets "
             "`503 server_is_overloaded` with `Retry-After: 1`, one larger than this alone "
             "`413` (see [Request memory](operations.md#request-memory))"},
    {.name = "AXON_DRAIN_S", INT(drain_s, 0, 3600), .def = "30",
     .help = "seconds in-flight requests get to finish after SIGTERM or SIGINT; then open "
             "answers end with `server_shutting_down` (see "
             "[Stopping Axon](operations.md#stopping-axon))",
     .chart = "drainSeconds",
     .chart_note = "The pod gets preStopSleepSeconds + this + 10 s before it is killed."},
    {.name = "AXON_VALKEY_URL", .parse = parse_valkey,
     .form = "`redis://[:password@]host[:port][/db]`, `unix:///path`, "
             "`redis+cluster://[:password@]host:port[,host:port...]` or "
             "`redis+sentinel://[:password@]host:port[,host:port...]/master[/db]`",
     .def = "redis://127.0.0.1:6379",
     .help = "the Valkey (or Redis) that holds conversations, the session pool and the stats"},
    {.name = "AXON_PORT", INT(port, 1, 65535), .def = "8080",
     .help = "port `make run` gives the web server"},
    {.name = "AXON_SERVER", .parse = parse_server, .words = server_words, .def = "lighttpd",
     .help = "web server `make run` starts: `lighttpd`, `lighttpd-spawn-fcgi`, `nginx`, "
             "`apache` or `apache-fcgid` (see [Deploying](deploying.md)); axon itself takes "
             "the three accepted here"},
    {.name = "AXON_BASE_PATH", .parse = parse_base_path, .form = "a path such as `/axon`",
     .help = "path prefix Axon is served under: stripped before routing, so "
             "`/axon/v1/models` is `/v1/models`; give the web server's config the same (see "
             "[Deploying](deploying.md))"},
    {.name = "AXON_LOG_LEVEL", WORDS(log_level, level_words), .def = "info",
     .help = "the least severe message logged", .chart = "logLevel"},
    {.name = "AXON_TEST_ROUTES", WORDS(test_routes, bool_words), .def = "0",
     .help = "`1` enables `GET /v1/_test/sse?n=&ms=` (tests only, never in production)"},
    {.name = "AXON_MODELS_FILE", STR(models_file), .form = "a file", .def = AXON_MODELS_DEFAULT,
     .def_doc = "`etc/models.conf` of the build tree",
     .help = "the model table: models, aliases, token limits (see [Models](models.md))"},
    {.name = "AXON_DEFAULT_MODEL", STR(default_model), .form = "a model id",
     .def = "claude-sonnet-4-6",
     .help = "answers a request that names no model; must be in the model table",
     .chart = "defaultModel"},
    {.name = "ANTHROPIC_API_KEY", SECRET(anthropic_key),
     .help = "Claude API key, sent as `x-api-key` with `anthropic-version: 2023-06-01`; "
             "without it Claude models answer `503 no_upstream` (`make run` starts the mock "
             "Claude instead)"},
    {.name = "ANTHROPIC_BASE_URL", .parse = parse_http_url, FIELD(anthropic_base_url),
     .form = "an `http://` or `https://` URL", .def = "https://api.anthropic.com",
     .help = "the Messages API's base URL (`/v1/messages` is appended)"},
    {.name = "AXON_HEARTBEAT_S", INT(heartbeat_s, 1, 3600), .def = "15",
     .help = "seconds of upstream silence before a stream gets a `: ping` comment"},
    {.name = "AXON_UPSTREAM_RETRIES", INT(upstream_retries, 0, 10), .def = "2",
     .help = "retries on connect errors, 429, 5xx, 529 and an upstream `error` event, only "
             "before the client has received anything"},
    {.name = "AXON_RETRY_MAX_WAIT_S", INT(retry_max_wait_s, 0, 600), .def = "30",
     .help = "longest upstream `retry-after` waited out; a longer one goes to the client "
             "with the 429"},
    {.name = "AXON_CONNECT_TIMEOUT_MS", INT(connect_timeout_ms, 1, 600000), .def = "10000",
     .help = "upstream TCP + TLS connect timeout"},
    {.name = "AXON_FIRST_BYTE_TIMEOUT_S", INT(first_byte_timeout_s, 1, 86400), .def = "300",
     .help = "longest wait from the request sent to the first upstream byte; then `504`"},
    {.name = "AXON_IDLE_TIMEOUT_S", INT(idle_timeout_s, 1, 86400), .def = "120",
     .help = "longest upstream silence inside an answer; then `504`, or an error chunk once "
             "streaming"},
    {.name = "AXON_MAX_N", INT(max_n, 1, 128), .def = "8",
     .help = "largest `n` (choices from parallel upstream calls)"},
    {.name = "AXON_MAX_UPSTREAM_BYTES", INT(max_upstream_bytes, 65536, INT64_C(1) << 32),
     .def = "33554432",
     .help = "largest upstream body or single SSE event; more is `502 upstream_too_large`"},
    {.name = "ANTHROPIC_API_KEY_FILE", STR(anthropic_key_file), .form = "a file",
     .help = "read the Claude key from this file instead of `ANTHROPIC_API_KEY` (a mounted "
             "Secret); read again whenever a session is recycled, so a rotated key is picked "
             "up without a restart"},
    {.name = "AXON_VALKEY_TIMEOUT_MS", INT(valkey_timeout_ms, 1, 10000), .def = "50",
     .help = "Valkey connect and per-command timeout"},
    {.name = "AXON_VALKEY_WAIT_REPLICAS", INT(valkey_wait_replicas, 0, 16), .def = "0",
     .help = "replicas that must have a stored turn before its answer says it was stored: "
             "each store ends with `WAIT n AXON_VALKEY_TIMEOUT_MS` on the node that took it, "
             "in the same round trip, and a turn fewer replicas confirmed is reported not "
             "stored (`X-Axon-Conversation-Stored: false`). 0: no wait (asynchronous "
             "replication may lose the last writes when a primary dies)"},
    {.name = "AXON_STORE", WORDS(store_on_request, store_words), .def = "always",
     .help = "`always`: every answer starts or continues a stored conversation (the "
             "original's contract); `on_request`: only requests that send `conversation_id` "
             "(`\"new\"` starts one)",
     .chart = "store"},
    {.name = "AXON_CONVERSATION_TTL", INT(conv_ttl_s, 60, 31536000), .def = "604800",
     .help = "seconds a conversation lives after its last stored turn; every turn slides it",
     .chart = "conversationTtl"},
    {.name = "AXON_CONV_MAX_MESSAGES", INT(conv_max_messages, 2, 100000), .def = "1000",
     .help = "messages one conversation may hold; a turn past it gets "
             "`400 conversation_full`"},
    {.name = "AXON_CONV_MAX_BYTES", INT(conv_max_bytes, 4096, 1LL << 30), .def = "8388608",
     .help = "stored JSON bytes one conversation may hold; a turn past it gets "
             "`400 conversation_full`"},
    {.name = "AXON_POOL_SIZE", INT(pool_size, 1, 10000), .def = "8",
     .help = "upstream sessions per upstream, shared by every axon process through Valkey",
     .chart = "poolSize",
     .chart_note = "Not per pod: set it to what the upstream account allows."},
    {.name = "AXON_POOL_WAIT_MS", INT(pool_wait_ms, 0, 600000), .def = "10000",
     .help = "longest wait for an idle session; then `429 rate_limit_exceeded` with "
             "`retry-after: 1`"},
    {.name = "AXON_MAX_TURNS", INT(max_turns, 1, 1000000), .def = "200",
     .help = "turns a session serves before it is recycled"},
    {.name = "AXON_POOL_LEASE_S", INT(pool_lease_s, 1, 86400), .def = "60",
     .help = "a lease not renewed for this long is reclaimed (live holders renew it every "
             "third of it)"},
    {.name = "AXON_POOL_KEEP_MS", INT(pool_keep_ms, 0, 3600000), .def = "2000",
     .help = "how long a process keeps an idle session for its next request (no Valkey "
             "round trip to acquire or release it) before it hands it back to the registry; "
             "`0`: every acquire and release goes to the registry"},
    {.name = "AXON_POOL_COOLDOWN_S", INT(pool_cooldown_s, 0, 3600), .def = "30",
     .help = "how long a session whose upstream answered 401, 403, 429, 529 or a billing "
             "error is passed over"},
    {.name = "AXON_METRICS_PUBLIC", WORDS(metrics_public, bool_words), .def = "0",
     .help = "`1` serves `/metrics` without an API key", .chart = "metricsPublic",
     .chart_note = "For a Prometheus scrape inside the cluster; /metrics is also reachable "
                   "through the Ingress then."},
    {.name = "AXON_PROVIDER", .parse = parse_provider, .words = provider_words,
     .def = "anthropic",
     .help = "whose default answers a request without `model`: `anthropic` (or `claude`) "
             "takes `AXON_DEFAULT_MODEL`, `vllm` (or `openai`) takes "
             "`AXON_VLLM_DEFAULT_MODEL`; both providers serve at once either way",
     .chart = "provider"},
    {.name = "AXON_VLLM_BASE_URL", .parse = parse_vllm_url, FIELD(vllm_base_url),
     .form = "an `http://` or `https://` URL",
     .help = "an OpenAI-compatible upstream (vLLM, llama.cpp, Ollama, OpenAI); a trailing "
             "`/v1` is accepted; its listed models are served next to Claude's (`make run` "
             "starts the mock one when it also runs the mock Claude)"},
    {.name = "AXON_VLLM_API_KEY", SECRET(vllm_key),
     .help = "sent to `AXON_VLLM_BASE_URL` as `Authorization: Bearer`"},
    {.name = "AXON_VLLM_DEFAULT_MODEL", .parse = parse_vllm_model, FIELD(vllm_default_model),
     .form = "a model id", .def = "qwen3-coder",
     .help = "the default model when `AXON_PROVIDER=vllm`; routed to `AXON_VLLM_BASE_URL` "
             "even before its model list is read"},
    {.name = "AXON_UPSTREAM_CHECK_S", INT(upstream_check_s, 1, 86400), .def = "30",
     .help = "seconds between background reads of each upstream's model list and health"},
    {.name = "AXON_PROMPT_CACHE", WORDS(prompt_cache, cache_words), .def = "auto",
     .help = "Claude's prompt cache: `auto` (the client's breakpoints, and Axon's own for a "
             "conversation or a prompt of 1024+ estimated tokens), `explicit` (only the "
             "client's) or `off` (none, the client's removed); see "
             "[Prompt caching](claude.md#prompt-caching)"},
    {.name = "AXON_SEAL_KEYS", .parse = parse_seal_keys,
     .form = "comma-separated `id:key`, each key 32 bytes of base64 (`openssl rand -base64 32`)",
     .help = "keys that seal a Responses reasoning item's `encrypted_content`: the first "
             "seals, every one opens; rotate by adding the new key first and dropping the old "
             "one later. Unset: a random key made at start, so such items do not open after a "
             "restart nor on another axon process (see "
             "[Sealed reasoning](responses.md#sealed-reasoning))"},
    {.name = "AXON_SEAL_KEYS_FILE", .parse = parse_seal_keys_file, .form = "a file",
     .help = "more keys for `AXON_SEAL_KEYS`, one `id:key` per line, `#` comments, added after "
             "its keys (a mounted Secret); read at start"},
    {.name = NULL},
};

static void secret_free(char **s)
{
    if (*s)
        memset(*s, 0, strlen(*s));
    free(*s);
    *s = NULL;
}

static void endpoints_free(struct axon_config *cfg)
{
    for (int i = 0; i < cfg->n_endpoints; i++) {
        free(cfg->endpoints[i].base_url);
        secret_free(&cfg->endpoints[i].key);
        free(cfg->endpoints[i].health);
    }
    memset(cfg->endpoints, 0, sizeof cfg->endpoints);
    cfg->n_endpoints = 0;
}

void valkey_addr_free(struct valkey_addr *v)
{
    free(v->host);
    free(v->path);
    if (v->password)
        memset(v->password, 0, strlen(v->password));
    free(v->password);
    for (int i = 0; i < v->n_seeds && i < VALKEY_MAX_SEEDS; i++)
        free(v->seeds[i].host);
    free(v->master);
    memset(v, 0, sizeof *v);
}

void valkey_addr_copy(struct valkey_addr *dst, const struct valkey_addr *src)
{
    *dst = *src;
    dst->host = src->host ? xstrdup(src->host) : NULL;
    dst->path = src->path ? xstrdup(src->path) : NULL;
    dst->password = src->password ? xstrdup(src->password) : NULL;
    dst->master = src->master ? xstrdup(src->master) : NULL;
    for (int i = 0; i < src->n_seeds && i < VALKEY_MAX_SEEDS; i++)
        dst->seeds[i].host = xstrdup(src->seeds[i].host);
}

void config_free(struct axon_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->key_hashes);
    valkey_addr_free(&cfg->valkey);
    free(cfg->server);
    free(cfg->models_file);
    models_free(&cfg->models);
    free(cfg->default_model);
    if (cfg->anthropic_key)
        memset(cfg->anthropic_key, 0, strlen(cfg->anthropic_key));
    free(cfg->anthropic_key);
    free(cfg->anthropic_base_url);
    free(cfg->anthropic_key_file);
    free(cfg->vllm_base_url);
    secret_free(&cfg->vllm_key);
    free(cfg->vllm_default_model);
    endpoints_free(cfg);
    seal_keyring_clear(&cfg->seal_keys);
    memset(cfg, 0, sizeof *cfg);
}

static void *field_of(struct axon_config *cfg, const struct config_doc *s)
{
    return (char *)cfg + s->off;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = xstrdup(v);
}

static int parse_int(struct axon_config *cfg, const struct config_doc *s, const char *v,
                     char *err, size_t errlen)
{
    int64_t n = 0;
    if (text_parse_i64(v, s->lo, s->hi, &n))
        return text_errf(err, errlen, "%s=%s: expected a whole number from %lld to %lld",
                         s->name, v, (long long)s->lo, (long long)s->hi);
    void *field = field_of(cfg, s);
    if (s->size == (int)sizeof(int))
        *(int *)field = (int)n;
    else if (s->size == (int)sizeof(long))
        *(long *)field = (long)n;
    else
        *(size_t *)field = (size_t)n;
    return AXON_OK;
}

/* The index of v in s->words, or -1 after writing "NAME=v: expected a, b
 * or c" into err. */
static int word_index(const struct config_doc *s, const char *v, char *err, size_t errlen)
{
    char list[160] = "";
    size_t len = 0;
    for (int i = 0; s->words[i]; i++) {
        if (!strcmp(v, s->words[i]))
            return i;
        const char *sep = i == 0 ? "" : s->words[i + 1] ? ", " : " or ";
        int w = snprintf(list + len, sizeof list - len, "%s%s", sep, s->words[i]);
        if (w > 0 && (size_t)w < sizeof list - len)
            len += (size_t)w;
    }
    (void)text_errf(err, errlen, "%s=%s: expected %s", s->name, v, list);
    return -1;
}

/* Word settings fill an enum (int) or a bool field with the word's index. */
static int parse_words(struct axon_config *cfg, const struct config_doc *s, const char *v,
                       char *err, size_t errlen)
{
    int i = word_index(s, v, err, errlen);
    if (i < 0)
        return AXON_EINVAL;
    if (s->size == (int)sizeof(bool))
        *(bool *)field_of(cfg, s) = i != 0;
    else
        *(int *)field_of(cfg, s) = i;
    return AXON_OK;
}

static int parse_str(struct axon_config *cfg, const struct config_doc *s, const char *v,
                     char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    set_str(field_of(cfg, s), v);
    return AXON_OK;
}

static int parse_secret(struct axon_config *cfg, const struct config_doc *s, const char *v,
                        char *err, size_t errlen)
{
    if (!*v)
        return AXON_OK; /* empty means unset, as in the shell */
    if (strlen(v) > CONFIG_MAX_KEY_LEN || strpbrk(v, "\r\n"))
        return text_errf(err, errlen, "%s: not a valid key", s->name);
    char **field = field_of(cfg, s);
    secret_free(field);
    *field = xstrdup(v);
    return AXON_OK;
}

/* Kept as a string: run-stack.sh and the logs read the name. */
static int parse_server(struct axon_config *cfg, const struct config_doc *s, const char *v,
                        char *err, size_t errlen)
{
    if (word_index(s, v, err, errlen) < 0)
        return AXON_EINVAL;
    set_str(&cfg->server, v);
    return AXON_OK;
}

static int parse_provider(struct axon_config *cfg, const struct config_doc *s, const char *v,
                          char *err, size_t errlen)
{
    /* The original's names (claude, vllm) and the protocol names. */
    if (!strcmp(v, "claude"))
        v = "anthropic";
    else if (!strcmp(v, "openai"))
        v = "vllm";
    int i = word_index(s, v, err, errlen);
    if (i < 0)
        return AXON_EINVAL;
    cfg->default_provider = i == 0 ? PROVIDER_ANTHROPIC : PROVIDER_OPENAI;
    return AXON_OK;
}


/* Adds one key (not NUL-terminated) after checking it; never echoes it. */
static int add_key(struct axon_config *cfg, const char *k, size_t n, const char *from,
                   char *err, size_t errlen)
{
    text_trim(&k, &n);
    if (n == 0)
        return AXON_OK; /* empty entries (",," or blank lines) are skipped */
    if (n > CONFIG_MAX_KEY_LEN)
        return text_errf(err, errlen, "%s: a key is longer than %d bytes", from, CONFIG_MAX_KEY_LEN);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f)
            return text_errf(err, errlen, "%s: keys must be printable ASCII without spaces", from);
    if (cfg->n_keys >= CONFIG_MAX_KEYS)
        return text_errf(err, errlen, "%s: more than %d keys", from, CONFIG_MAX_KEYS);
    cfg->key_hashes = xrealloc(cfg->key_hashes, (cfg->n_keys + 1) * sizeof *cfg->key_hashes);
    sha256(k, n, cfg->key_hashes[cfg->n_keys++]);
    return AXON_OK;
}

static int parse_keys(struct axon_config *cfg, const struct config_doc *s, const char *v,
                      char *err, size_t errlen)
{
    (void)s;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int rc = add_key(cfg, p, n, "AXON_API_KEYS", err, errlen);
        if (rc || !comma)
            return rc;
        p = comma + 1;
    }
}

/* Reads a whole small file into a new string (free). */
static int slurp(const char *path, char **out, char *err, size_t errlen, const char *what)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return text_errf(err, errlen, "%s=%s: cannot open it", what, path);
    struct buf b = BUF_INIT(CONFIG_MAX_FILE_BYTES);
    char chunk[4096];
    size_t n;
    int rc = AXON_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    bool bad = ferror(f);
    (void)fclose(f); /* read-only: nothing to flush */
    if (rc || bad) {
        buf_free(&b);
        return text_errf(err, errlen, "%s=%s: %s", what, path,
                    rc ? "file larger than 1 MiB" : "read error");
    }
    *out = buf_take(&b);
    return AXON_OK;
}

int config_read_secret(const char *path, const char *what, char **out, char *err, size_t errlen)
{
    *out = NULL;
    char *text = NULL;
    int rc = slurp(path, &text, err, errlen, what);
    if (rc)
        return rc;
    const char *k = text;
    /* slurp fills text whenever it returns AXON_OK; the analyzer cannot see
     * that text_errf (another file) never does. */
    size_t kn = strlen(text); /* NOLINT(clang-analyzer-core.NonNullParamChecker) */
    while (kn && strchr(" \t\r\n", k[kn - 1]))
        kn--; /* the newline editors and `echo` add */
    text_trim(&k, &kn);
    if (kn == 0 || kn > CONFIG_MAX_KEY_LEN || memchr(k, '\n', kn) || memchr(k, '\r', kn))
        rc = text_errf(err, errlen, "%s=%s: expected one key of 1 to %d bytes", what, path,
                       CONFIG_MAX_KEY_LEN);
    else
        *out = xstrndup(k, kn);
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

static int parse_keys_file(struct axon_config *cfg, const struct config_doc *s, const char *path,
                           char *err, size_t errlen)
{
    (void)s;
    char *text = NULL;
    int rc = slurp(path, &text, err, errlen, "AXON_API_KEYS_FILE");
    for (char *line = text; !rc && line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n && line[n - 1] == '\r')
            n--;
        const char *k = line;
        size_t kn = n;
        text_trim(&k, &kn);
        if (kn && k[0] != '#')
            rc = add_key(cfg, k, kn, "AXON_API_KEYS_FILE", err, errlen);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

/* Seal keys: seal.c reads the entries and words errors without the keys. */
static int parse_seal_keys(struct axon_config *cfg, const struct config_doc *s, const char *v,
                           char *err, size_t errlen)
{
    return seal_keyring_parse(&cfg->seal_keys, v, strlen(v), s->name, err, errlen);
}

static int parse_seal_keys_file(struct axon_config *cfg, const struct config_doc *s,
                                const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    int rc = slurp(path, &text, err, errlen, s->name);
    if (!rc) {
        size_t n = strlen(text); /* NOLINT(clang-analyzer-core.NonNullParamChecker): as above */
        rc = seal_keyring_parse(&cfg->seal_keys, text, n, s->name, err, errlen);
        OPENSSL_cleanse(text, n);
    }
    free(text);
    return rc;
}

/* The "[user:]password@" of a URL's authority, when there is one: the
 * password into a->password and *p moved past the '@'. */
static void valkey_url_password(const char **p, struct valkey_addr *a)
{
    const char *at = strrchr(*p, '@');
    if (!at)
        return;
    const char *pw = *p;
    if (*pw == ':')
        pw++; /* redis://:password@host; a user name before ':' is not used */
    else if (strchr(pw, ':') && strchr(pw, ':') < at)
        pw = strchr(pw, ':') + 1;
    a->password = xstrndup(pw, (size_t)(at - pw));
    *p = at + 1;
}

/* host[:port] in [p, end): false when the host is empty or the port bad. */
static bool valkey_host_port(const char *p, const char *end, char **host, int *port)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hostend = colon ? colon : end;
    int64_t n = 6379;
    if (hostend == p || (colon && text_parse_i64_n(colon + 1, (size_t)(end - colon - 1), 1,
                                                   65535, &n)))
        return false;
    *host = xstrndup(p, (size_t)(hostend - p));
    *port = (int)n;
    return true;
}

/* redis+cluster://[:password@]host:port[,host:port...]
 * redis+sentinel://[:password@]host:port[,host:port...]/master[/db]
 * The list in [p, end) into a->seeds. */
static bool valkey_seed_list(const char *p, const char *end, struct valkey_addr *a)
{
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (a->n_seeds == VALKEY_MAX_SEEDS ||
            !valkey_host_port(p, e, &a->seeds[a->n_seeds].host, &a->seeds[a->n_seeds].port))
            return false;
        a->n_seeds++;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return false; /* a trailing comma */
    }
    return a->n_seeds > 0;
}

/* The name Sentinels know the primary by: [A-Za-z0-9._-], 1..64 bytes. */
static bool valkey_master_name(const char *p, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
            return false;
    return true;
}

/* redis://[:password@]host[:port][/db], unix:///path/to/socket, or the
 * cluster and Sentinel forms above. */
static int parse_valkey(struct axon_config *cfg, const struct config_doc *s, const char *v,
                        char *err, size_t errlen)
{
    (void)s;
    struct valkey_addr a = {.port = 6379};
    const char *bad = "expected redis://[:password@]host[:port][/db], unix:///path, "
                      "redis+cluster://[:password@]host:port[,host:port...] or "
                      "redis+sentinel://[:password@]host:port[,host:port...]/master[/db]";
    bool ok = true;
    if (strncmp(v, "unix://", 7) == 0) {
        if (v[7] != '/' || v[8] == '\0')
            return text_errf(err, errlen, "AXON_VALKEY_URL=%s: %s", v, bad);
        a.path = xstrdup(v + 7);
    } else if (strncmp(v, "redis://", 8) == 0) {
        const char *p = v + 8;
        valkey_url_password(&p, &a);
        const char *slash = strchr(p, '/');
        const char *hend = slash ? slash : p + strlen(p);
        int64_t db = 0;
        ok = valkey_host_port(p, hend, &a.host, &a.port) &&
             !(slash && slash[1] && text_parse_i64(slash + 1, 0, 65535, &db));
        a.db = (int)db;
    } else if (strncmp(v, "redis+cluster://", 16) == 0) {
        const char *p = v + 16;
        a.mode = VALKEY_CLUSTER;
        valkey_url_password(&p, &a);
        const char *end = p + strlen(p);
        if (end > p && end[-1] == '/')
            end--; /* a cluster has database 0 only: "/" alone is allowed */
        ok = !memchr(p, '/', (size_t)(end - p)) && valkey_seed_list(p, end, &a);
    } else if (strncmp(v, "redis+sentinel://", 17) == 0) {
        const char *p = v + 17;
        a.mode = VALKEY_SENTINEL;
        valkey_url_password(&p, &a);
        const char *slash = strchr(p, '/');
        const char *name = slash ? slash + 1 : NULL;
        const char *name_end = name ? strchr(name, '/') : NULL;
        if (name && !name_end)
            name_end = name + strlen(name);
        int64_t db = 0;
        ok = slash && valkey_seed_list(p, slash, &a) &&
             valkey_master_name(name, (size_t)(name_end - name)) &&
             !(*name_end == '/' && name_end[1] && text_parse_i64(name_end + 1, 0, 65535, &db));
        if (ok)
            a.master = xstrndup(name, (size_t)(name_end - name));
        a.db = (int)db;
    } else {
        ok = false;
    }
    if (!ok) {
        valkey_addr_free(&a);
        /* Never print a password: name the variable only. */
        return text_errf(err, errlen, "AXON_VALKEY_URL: %s", bad);
    }
    valkey_addr_free(&cfg->valkey);
    cfg->valkey = a;
    return AXON_OK;
}
static int parse_http_url(struct axon_config *cfg, const struct config_doc *s, const char *v,
                          char *err, size_t errlen)
{
    char **field = field_of(cfg, s);
    size_t n = strlen(v);
    if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) || n < 10 || n > 1024)
        return text_errf(err, errlen, "%s=%s: expected an http:// or https:// URL", s->name, v);
    while (n > 8 && v[n - 1] == '/')
        n--; /* paths are appended with their own slash */
    free(*field);
    *field = xstrndup(v, n);
    return AXON_OK;
}

/* "/axon" or "/a/b": a leading '/', no trailing one (dropped), URL-safe
 * segments only, so it compares byte for byte with REQUEST_URI. */
static int parse_base_path(struct axon_config *cfg, const struct config_doc *s, const char *v,
                           char *err, size_t errlen)
{
    (void)s;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    if (n == 0) {
        cfg->base_path[0] = '\0';
        return AXON_OK;
    }
    bool ok = v[0] == '/' && n <= CONFIG_MAX_BASE_PATH;
    for (size_t i = 1; ok && i < n; i++)
        ok = (isalnum((unsigned char)v[i]) || strchr("-._~/", v[i])) &&
             !(v[i] == '/' && v[i - 1] == '/');
    if (!ok)
        return text_errf(err, errlen,
                         "AXON_BASE_PATH=%s: expected a path such as /axon (letters, digits, "
                         "-._~ and single slashes, at most %d bytes)",
                         v, CONFIG_MAX_BASE_PATH);
    memcpy(cfg->base_path, v, n);
    cfg->base_path[n] = '\0';
    return AXON_OK;
}

static int parse_vllm_url(struct axon_config *cfg, const struct config_doc *s, const char *v,
                          char *err, size_t errlen)
{
    if (!*v)
        return AXON_OK;
    int rc = parse_http_url(cfg, s, v, err, errlen);
    if (!rc)
        models_trim_url(cfg->vllm_base_url);
    return rc;
}

static int parse_vllm_model(struct axon_config *cfg, const struct config_doc *s, const char *v,
                            char *err, size_t errlen)
{
    if (!*v || strlen(v) > MODELS_MAX_ID)
        return text_errf(err, errlen, "%s: expected a model id", s->name);
    set_str(field_of(cfg, s), v);
    return AXON_OK;
}

void config_defaults(struct axon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const struct config_doc *s = config_docs; s->name; s++) {
        char err[256];
        if (s->def && s->parse(cfg, s, s->def, err, sizeof err)) {
            /* The table's own default refused by its own parser: a bug in the
             * table, which test_config_doc catches before anyone runs it. */
            fprintf(stderr, "axon: the settings table's default of %s: %s\n", s->name, err);
            abort();
        }
    }
}

int config_set(struct axon_config *cfg, const char *name, const char *v, char *err, size_t errlen)
{
    for (const struct config_doc *s = config_docs; s->name; s++)
        if (!strcmp(name, s->name))
            return s->parse(cfg, s, v, err, errlen);
    return AXON_ENOTFOUND;
}

static struct endpoint *add_endpoint(struct axon_config *cfg, const char *name,
                                     enum provider p, const char *url, const char *key,
                                     const char *health)
{
    struct endpoint *ep = &cfg->endpoints[cfg->n_endpoints++];
    snprintf(ep->name, sizeof ep->name, "%s", name);
    ep->provider = p;
    ep->base_url = xstrdup(url);
    ep->key = key ? xstrdup(key) : NULL;
    ep->health = health ? xstrdup(health) : NULL;
    /* A pool per server and credential, as for Claude (pool.h). */
    pool_name(ep->pool, url, key ? key : "");
    return ep;
}

/* endpoints[0] is Claude, then "vllm", then models.conf's servers; each
 * provider=openai model learns the index of its server. */
static int build_endpoints(struct axon_config *cfg, char *err, size_t errlen)
{
    endpoints_free(cfg);
    struct endpoint *claude = add_endpoint(cfg, "anthropic", PROVIDER_ANTHROPIC,
                                           cfg->anthropic_base_url, NULL, NULL);
    pool_name(claude->pool, cfg->anthropic_base_url,
              cfg->anthropic_key_file ? cfg->anthropic_key_file
                                      : cfg->anthropic_key ? cfg->anthropic_key : "");
    if (cfg->vllm_base_url)
        add_endpoint(cfg, MODELS_DEFAULT_SERVER, PROVIDER_OPENAI, cfg->vllm_base_url,
                     cfg->vllm_key, "/health");
    const struct model_table *t = &cfg->models;
    for (size_t i = 0; i < t->nservers; i++) {
        const struct server_decl *d = &t->servers[i];
        const char *key = d->key_env ? getenv(d->key_env) : NULL;
        if (d->key_env && (!key || !*key))
            return text_errf(err, errlen, "server %s: key_env=%s is not set", d->name, d->key_env);
        add_endpoint(cfg, d->name, PROVIDER_OPENAI, d->base_url, key, d->health);
    }
    for (size_t i = 0; i < t->n; i++) {
        struct model *m = &t->v[i];
        m->endpoint = 0;
        if (m->provider != PROVIDER_OPENAI)
            continue;
        m->endpoint = -1;
        for (int k = 1; k < cfg->n_endpoints; k++)
            if (!strcmp(cfg->endpoints[k].name, m->server))
                m->endpoint = k;
        if (m->endpoint < 0)
            return text_errf(err, errlen, "model %s: server %s is not configured (set "
                             "AXON_VLLM_BASE_URL)", m->id, m->server);
    }
    return AXON_OK;
}

int config_finish(struct axon_config *cfg, char *err, size_t errlen)
{
    /* AXON_THREADS alone raised above the default ceiling means that many. */
    if (cfg->max_threads < cfg->threads)
        cfg->max_threads = cfg->threads;
    if (cfg->n_keys == 0)
        return text_errf(err, errlen,
                    "AXON_API_KEYS: no API key configured; set AXON_API_KEYS or AXON_API_KEYS_FILE");
    if (cfg->anthropic_key_file) {
        char *key = NULL;
        int krc = config_read_secret(cfg->anthropic_key_file, "ANTHROPIC_API_KEY_FILE", &key,
                                     err, errlen);
        if (krc)
            return krc;
        if (cfg->anthropic_key)
            memset(cfg->anthropic_key, 0, strlen(cfg->anthropic_key));
        free(cfg->anthropic_key);
        cfg->anthropic_key = key;
    }
    models_free(&cfg->models);
    int rc = models_load(&cfg->models, cfg->models_file, err, errlen);
    if (!rc)
        rc = build_endpoints(cfg, err, errlen);
    if (rc)
        return rc;
    if (cfg->default_provider == PROVIDER_OPENAI) {
        if (!cfg->vllm_base_url)
            return text_errf(err, errlen, "AXON_PROVIDER=vllm needs AXON_VLLM_BASE_URL");
        set_str(&cfg->default_model, cfg->vllm_default_model);
    } else if (!models_find(&cfg->models, cfg->default_model)) {
        return text_errf(err, errlen, "AXON_DEFAULT_MODEL=%s: not in %s", cfg->default_model,
                    cfg->models_file);
    }
    return AXON_OK;
}

/* One parsed line of the file: NAME=value, value optionally in quotes. */
struct file_setting {
    char *name, *value;
    int line;
};

static int parse_file(const char *path, bool required, struct file_setting **out, size_t *count,
                      char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return required ? text_errf(err, errlen, "--config %s: cannot open it", path) : AXON_OK;
    (void)fclose(probe);
    char *text = NULL;
    int rc = slurp(path, &text, err, errlen, "--config");
    int lineno = 0;
    for (char *line = text; !rc && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        const char *s = line;
        size_t n = strlen(line);
        if (n && s[n - 1] == '\r')
            n--;
        text_trim(&s, &n);
        const char *eq = memchr(s, '=', n);
        if (n && s[0] != '#') {
            if (!eq || eq == s) {
                rc = text_errf(err, errlen, "%s line %d: expected NAME=value", path, lineno);
                break;
            }
            const char *nm = s;
            size_t nn = (size_t)(eq - s);
            const char *val = eq + 1;
            size_t vn = n - nn - 1;
            text_trim(&nm, &nn);
            text_trim(&val, &vn);
            if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0]) {
                val++;
                vn -= 2;
            }
            *out = xrealloc(*out, (*count + 1) * sizeof **out);
            (*out)[*count] = (struct file_setting){xstrndup(nm, nn), xstrndup(val, vn), lineno};
            (*count)++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

int config_load(struct axon_config *cfg, const char *file, bool required, char *err, size_t errlen)
{
    struct file_setting *fs = NULL;
    size_t nfs = 0;
    config_defaults(cfg);
    int rc = file ? parse_file(file, required, &fs, &nfs, err, errlen) : AXON_OK;
    /* Unknown names in the file are typos worth stopping for. */
    for (size_t i = 0; !rc && i < nfs; i++) {
        bool known = false;
        for (const struct config_doc *d = config_docs; d->name; d++)
            known = known || strcmp(d->name, fs[i].name) == 0;
        if (!known)
            rc = text_errf(err, errlen, "%s line %d: unknown setting %s", file, fs[i].line, fs[i].name);
    }
    for (const struct config_doc *d = config_docs; !rc && d->name; d++) {
        const char *v = getenv(d->name);
        for (size_t i = 0; !v && i < nfs; i++)
            if (strcmp(fs[i].name, d->name) == 0)
                v = fs[i].value; /* the last occurrence is not sought: first wins */
        if (v) {
            rc = config_set(cfg, d->name, v, err, errlen);
        }
    }
    if (!rc)
        rc = config_finish(cfg, err, errlen);
    for (size_t i = 0; i < nfs; i++) {
        free(fs[i].name);
        free(fs[i].value);
    }
    free(fs);
    if (rc)
        config_free(cfg);
    return rc;
}
