/* config.c - settings from the environment and etc/axon.conf. */
#include "config.h"
#include "pool.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"

const struct config_doc config_docs[] = {
    {"AXON_API_KEYS", "(none)", "comma-separated client API keys (Bearer)"},
    {"AXON_API_KEYS_FILE", "(none)", "file with one client API key per line; # comments"},
    {"AXON_THREADS", "16", "worker threads per axon process, always running (1-8192)"},
    {"AXON_MAX_THREADS", "2048", "most worker threads per axon process: more start while every one is busy (one per open stream) and leave after 5 s idle (AXON_THREADS-8192)"},
    {"AXON_MAX_BODY_BYTES", "16777216", "largest request body; larger gets 413"},
    {"AXON_MAX_INFLIGHT_BYTES", "268435456", "request body bytes one axon process holds at once (each costs about 3 times that in memory); a request that does not fit beside the others gets 503 with Retry-After, one larger than this alone gets 413"},
    {"AXON_DRAIN_S", "30", "seconds in-flight requests get to finish after SIGTERM"},
    {"AXON_VALKEY_URL", "redis://127.0.0.1:6379", "Valkey: redis://[:password@]host[:port][/db] or unix:///path"},
    {"AXON_PORT", "8080", "port `make run` gives the web server"},
    {"AXON_SERVER", "lighttpd", "web server `make run` starts: lighttpd, nginx or apache"},
    {"AXON_BASE_PATH", "(none)", "path prefix Axon is served under (/axon): stripped before routing, so /axon/v1/models is /v1/models"},
    {"AXON_LOG_LEVEL", "info", "debug, info, warn or error"},
    {"AXON_TEST_ROUTES", "0", "1 enables test-only routes (never in production)"},
    {"AXON_MODELS_FILE", "etc/models.conf of the build tree", "the model table: models, aliases, token limits"},
    {"AXON_DEFAULT_MODEL", "claude-sonnet-4-6", "model that answers a request without one"},
    {"ANTHROPIC_API_KEY", "(none)", "Claude API key, sent as x-api-key; without it Claude models answer 503"},
    {"ANTHROPIC_BASE_URL", "https://api.anthropic.com", "Anthropic Messages API base URL"},
    {"AXON_HEARTBEAT_S", "15", "seconds of upstream silence before a stream gets a `: ping` comment"},
    {"AXON_UPSTREAM_RETRIES", "2", "retries on connect errors, 429, 5xx and 529, before the first byte only"},
    {"AXON_RETRY_MAX_WAIT_S", "30", "longest upstream Retry-After waited out; longer ones are passed to the client"},
    {"AXON_CONNECT_TIMEOUT_MS", "10000", "upstream TCP+TLS connect timeout"},
    {"AXON_FIRST_BYTE_TIMEOUT_S", "300", "request sent to first upstream byte; then 504"},
    {"AXON_IDLE_TIMEOUT_S", "120", "longest upstream silence inside an answer; then 504 or an error chunk"},
    {"AXON_MAX_N", "8", "largest n (choices from parallel upstream calls)"},
    {"AXON_MAX_UPSTREAM_BYTES", "33554432", "largest upstream body or single SSE event"},
    {"ANTHROPIC_API_KEY_FILE", "(none)", "file holding the Claude key instead of ANTHROPIC_API_KEY; re-read when a session is recycled"},
    {"AXON_VALKEY_TIMEOUT_MS", "50", "connect and per-command Valkey timeout"},
    {"AXON_STORE", "always", "always: every answer starts or continues a stored conversation; on_request: only when the request sends conversation_id"},
    {"AXON_CONVERSATION_TTL", "604800", "seconds a conversation lives after its last turn (each turn slides it)"},
    {"AXON_CONV_MAX_MESSAGES", "1000", "messages one conversation may hold; a turn past it gets 400 conversation_full"},
    {"AXON_CONV_MAX_BYTES", "8388608", "stored bytes one conversation may hold; a turn past it gets 400 conversation_full"},
    {"AXON_POOL_SIZE", "8", "upstream sessions per upstream, shared by every axon process through Valkey"},
    {"AXON_POOL_WAIT_MS", "10000", "longest wait for an idle session; then 429 rate_limit_exceeded"},
    {"AXON_MAX_TURNS", "200", "turns a session serves before it is recycled"},
    {"AXON_POOL_LEASE_S", "60", "a lease not renewed for this long is reclaimed (holders renew it while they work)"},
    {"AXON_POOL_COOLDOWN_S", "30", "how long a session whose upstream answered 401/403/429/529 or a billing error is avoided"},
    {"AXON_METRICS_PUBLIC", "0", "1 serves /metrics without an API key"},
    {"AXON_PROVIDER", "anthropic", "whose default model answers a request without one: anthropic (AXON_DEFAULT_MODEL) or vllm (AXON_VLLM_DEFAULT_MODEL)"},
    {"AXON_VLLM_BASE_URL", "(none)", "an OpenAI-compatible upstream (vLLM, llama.cpp, Ollama, OpenAI); its models are served too"},
    {"AXON_VLLM_API_KEY", "(none)", "key sent to AXON_VLLM_BASE_URL as Bearer"},
    {"AXON_VLLM_DEFAULT_MODEL", "qwen3-coder", "the default model when AXON_PROVIDER=vllm"},
    {"AXON_UPSTREAM_CHECK_S", "30", "seconds between background reads of each upstream's model list and health"},
    {"AXON_PROMPT_CACHE", "auto", "Claude's prompt cache: auto (the client's breakpoints, and Axon's own for a conversation or a prompt of 1024+ estimated tokens), explicit (only the client's) or off (none)"},
    {NULL, NULL, NULL},
};


void config_defaults(struct axon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->threads = 16;
    cfg->max_threads = 2048;
    cfg->max_body_bytes = 16u << 20;
    cfg->max_inflight_bytes = (size_t)256 << 20;
    cfg->drain_s = 30;
    cfg->valkey.host = xstrdup("127.0.0.1");
    cfg->valkey.port = 6379;
    cfg->port = 8080;
    cfg->server = xstrdup("lighttpd");
    cfg->log_level = AXON_LOG_INFO;
    cfg->models_file = xstrdup(AXON_MODELS_DEFAULT);
    cfg->default_model = xstrdup("claude-sonnet-4-6");
    cfg->anthropic_base_url = xstrdup("https://api.anthropic.com");
    cfg->heartbeat_s = 15;
    cfg->upstream_retries = 2;
    cfg->retry_max_wait_s = 30;
    cfg->connect_timeout_ms = 10000;
    cfg->first_byte_timeout_s = 300;
    cfg->idle_timeout_s = 120;
    cfg->max_n = 8;
    cfg->max_upstream_bytes = 32u << 20;
    cfg->valkey_timeout_ms = 50;
    cfg->conv_ttl_s = 604800;
    cfg->conv_max_messages = 1000;
    cfg->conv_max_bytes = 8u << 20;
    cfg->pool_size = 8;
    cfg->pool_wait_ms = 10000;
    cfg->max_turns = 200;
    cfg->pool_lease_s = 60;
    cfg->pool_cooldown_s = 30;
    cfg->vllm_default_model = xstrdup("qwen3-coder");
    cfg->upstream_check_s = 30;
}

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

static void valkey_free(struct valkey_addr *v)
{
    free(v->host);
    free(v->path);
    if (v->password)
        memset(v->password, 0, strlen(v->password));
    free(v->password);
    memset(v, 0, sizeof *v);
}

void config_free(struct axon_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->key_hashes);
    valkey_free(&cfg->valkey);
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
    memset(cfg, 0, sizeof *cfg);
}

static int set_int(const char *name, const char *v, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t errlen)
{
    if (text_parse_i64(v, lo, hi, out))
        return text_errf(err, errlen, "%s=%s: expected a whole number from %lld to %lld", name, v,
                    (long long)lo, (long long)hi);
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

static int set_keys(struct axon_config *cfg, const char *v, char *err, size_t errlen)
{
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

static int set_keys_file(struct axon_config *cfg, const char *path, char *err, size_t errlen)
{
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

/* redis://[:password@]host[:port][/db] or unix:///path/to/socket */
static int set_valkey(struct axon_config *cfg, const char *v, char *err, size_t errlen)
{
    struct valkey_addr a = {.port = 6379};
    const char *bad = "expected redis://[:password@]host[:port][/db] or unix:///path";
    if (strncmp(v, "unix://", 7) == 0) {
        if (v[7] != '/' || v[8] == '\0')
            return text_errf(err, errlen, "AXON_VALKEY_URL=%s: %s", v, bad);
        a.path = xstrdup(v + 7);
    } else if (strncmp(v, "redis://", 8) == 0) {
        const char *p = v + 8;
        const char *at = strrchr(p, '@');
        if (at) {
            const char *pw = p;
            if (*pw == ':')
                pw++; /* redis://:password@host; a user name before ':' is not used */
            else if (strchr(pw, ':') && strchr(pw, ':') < at)
                pw = strchr(pw, ':') + 1;
            a.password = xstrndup(pw, (size_t)(at - pw));
            p = at + 1;
        }
        const char *slash = strchr(p, '/');
        const char *hend = slash ? slash : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(hend - p));
        const char *hostend = colon ? colon : hend;
        int64_t port = 6379, db = 0;
        if (hostend == p ||
            (colon && text_parse_i64_n(colon + 1, (size_t)(hend - colon - 1), 1, 65535, &port)) ||
            (slash && slash[1] && text_parse_i64(slash + 1, 0, 65535, &db))) {
            valkey_free(&a);
            /* Never print a password: name the variable only. */
            return text_errf(err, errlen, "AXON_VALKEY_URL: %s", bad);
        }
        a.host = xstrndup(p, (size_t)(hostend - p));
        a.port = (int)port;
        a.db = (int)db;
    } else {
        /* cppcheck-suppress memleak ; nothing is allocated on this branch */
        return text_errf(err, errlen, "AXON_VALKEY_URL: %s", bad);
    }
    valkey_free(&cfg->valkey);
    cfg->valkey = a;
    return AXON_OK;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = xstrdup(v);
}

/* The integer settings: name, range, and where the value goes. */
struct int_setting {
    const char *name;
    int64_t lo, hi;
    size_t off;
    int size; /* sizeof the field: int, long or size_t */
};
#define INT_SETTING(n, lo, hi, field) \
    {n, lo, hi, offsetof(struct axon_config, field), (int)sizeof(((struct axon_config *)0)->field)}
static const struct int_setting int_settings[] = {
    INT_SETTING("AXON_HEARTBEAT_S", 1, 3600, heartbeat_s),
    INT_SETTING("AXON_UPSTREAM_RETRIES", 0, 10, upstream_retries),
    INT_SETTING("AXON_RETRY_MAX_WAIT_S", 0, 600, retry_max_wait_s),
    INT_SETTING("AXON_CONNECT_TIMEOUT_MS", 1, 600000, connect_timeout_ms),
    INT_SETTING("AXON_FIRST_BYTE_TIMEOUT_S", 1, 86400, first_byte_timeout_s),
    INT_SETTING("AXON_IDLE_TIMEOUT_S", 1, 86400, idle_timeout_s),
    INT_SETTING("AXON_MAX_N", 1, 128, max_n),
    INT_SETTING("AXON_MAX_UPSTREAM_BYTES", 65536, 1LL << 32, max_upstream_bytes),
    INT_SETTING("AXON_VALKEY_TIMEOUT_MS", 1, 10000, valkey_timeout_ms),
    INT_SETTING("AXON_CONVERSATION_TTL", 60, 31536000, conv_ttl_s),
    INT_SETTING("AXON_CONV_MAX_MESSAGES", 2, 100000, conv_max_messages),
    INT_SETTING("AXON_CONV_MAX_BYTES", 4096, 1LL << 30, conv_max_bytes),
    INT_SETTING("AXON_POOL_SIZE", 1, 10000, pool_size),
    INT_SETTING("AXON_POOL_WAIT_MS", 0, 600000, pool_wait_ms),
    INT_SETTING("AXON_MAX_TURNS", 1, 1000000, max_turns),
    INT_SETTING("AXON_POOL_LEASE_S", 1, 86400, pool_lease_s),
    INT_SETTING("AXON_POOL_COOLDOWN_S", 0, 3600, pool_cooldown_s),
    INT_SETTING("AXON_UPSTREAM_CHECK_S", 1, 86400, upstream_check_s),
};

static int set_http_url(char **field, const char *name, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) || n < 10 || n > 1024)
        return text_errf(err, errlen, "%s=%s: expected an http:// or https:// URL", name, v);
    while (n > 8 && v[n - 1] == '/')
        n--; /* paths are appended with their own slash */
    free(*field);
    *field = xstrndup(v, n);
    return AXON_OK;
}

/* "/axon" or "/a/b": a leading '/', no trailing one (dropped), URL-safe
 * segments only, so it compares byte for byte with REQUEST_URI. */
static int set_base_path(struct axon_config *cfg, const char *v, char *err, size_t errlen)
{
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

int config_set(struct axon_config *cfg, const char *name, const char *v, char *err, size_t errlen)
{
    int64_t n = 0;
    int rc;
    for (size_t i = 0; i < sizeof int_settings / sizeof int_settings[0]; i++) {
        const struct int_setting *s = &int_settings[i];
        if (strcmp(name, s->name))
            continue;
        if ((rc = set_int(name, v, s->lo, s->hi, &n, err, errlen)))
            return rc;
        char *field = (char *)cfg + s->off;
        if (s->size == (int)sizeof(int))
            *(int *)(void *)field = (int)n;
        else if (s->size == (int)sizeof(long))
            *(long *)(void *)field = (long)n;
        else
            *(size_t *)(void *)field = (size_t)n;
        return AXON_OK;
    }
    if (strcmp(name, "AXON_MODELS_FILE") == 0) {
        set_str(&cfg->models_file, v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_DEFAULT_MODEL") == 0) {
        set_str(&cfg->default_model, v);
        return AXON_OK;
    }
    if (strcmp(name, "ANTHROPIC_API_KEY") == 0) {
        if (!*v)
            return AXON_OK; /* empty means unset, as in the shell */
        if (strlen(v) > CONFIG_MAX_KEY_LEN || strpbrk(v, "\r\n"))
            return text_errf(err, errlen, "ANTHROPIC_API_KEY: not a valid key");
        if (cfg->anthropic_key)
            memset(cfg->anthropic_key, 0, strlen(cfg->anthropic_key));
        set_str(&cfg->anthropic_key, v);
        return AXON_OK;
    }
    if (strcmp(name, "ANTHROPIC_API_KEY_FILE") == 0) {
        set_str(&cfg->anthropic_key_file, v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_STORE") == 0) {
        if (strcmp(v, "always") && strcmp(v, "on_request"))
            return text_errf(err, errlen, "AXON_STORE=%s: expected always or on_request", v);
        cfg->store_on_request = strcmp(v, "on_request") == 0;
        return AXON_OK;
    }
    if (strcmp(name, "AXON_PROMPT_CACHE") == 0) {
        if (!strcmp(v, "auto"))
            cfg->prompt_cache = PROMPT_CACHE_AUTO;
        else if (!strcmp(v, "explicit"))
            cfg->prompt_cache = PROMPT_CACHE_EXPLICIT;
        else if (!strcmp(v, "off"))
            cfg->prompt_cache = PROMPT_CACHE_OFF;
        else
            return text_errf(err, errlen, "AXON_PROMPT_CACHE=%s: expected auto, explicit or off", v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_METRICS_PUBLIC") == 0) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            return text_errf(err, errlen, "AXON_METRICS_PUBLIC=%s: expected 0 or 1", v);
        cfg->metrics_public = v[0] == '1';
        return AXON_OK;
    }
    if (strcmp(name, "ANTHROPIC_BASE_URL") == 0)
        return set_http_url(&cfg->anthropic_base_url, name, v, err, errlen);
    if (strcmp(name, "AXON_VLLM_BASE_URL") == 0) {
        if (!*v)
            return AXON_OK;
        if ((rc = set_http_url(&cfg->vllm_base_url, name, v, err, errlen)))
            return rc;
        models_trim_url(cfg->vllm_base_url);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_VLLM_API_KEY") == 0) {
        if (!*v)
            return AXON_OK;
        if (strlen(v) > CONFIG_MAX_KEY_LEN || strpbrk(v, "\r\n"))
            return text_errf(err, errlen, "AXON_VLLM_API_KEY: not a valid key");
        secret_free(&cfg->vllm_key);
        cfg->vllm_key = xstrdup(v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_VLLM_DEFAULT_MODEL") == 0) {
        if (!*v || strlen(v) > MODELS_MAX_ID)
            return text_errf(err, errlen, "AXON_VLLM_DEFAULT_MODEL: expected a model id");
        set_str(&cfg->vllm_default_model, v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_PROVIDER") == 0) {
        /* The original's names (claude, vllm) and the protocol names. */
        if (!strcmp(v, "anthropic") || !strcmp(v, "claude"))
            cfg->default_provider = PROVIDER_ANTHROPIC;
        else if (!strcmp(v, "vllm") || !strcmp(v, "openai"))
            cfg->default_provider = PROVIDER_OPENAI;
        else
            return text_errf(err, errlen, "AXON_PROVIDER=%s: expected anthropic or vllm", v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_API_KEYS") == 0)
        return set_keys(cfg, v, err, errlen);
    if (strcmp(name, "AXON_API_KEYS_FILE") == 0)
        return set_keys_file(cfg, v, err, errlen);
    if (strcmp(name, "AXON_VALKEY_URL") == 0)
        return set_valkey(cfg, v, err, errlen);
    if (strcmp(name, "AXON_THREADS") == 0) {
        if (!(rc = set_int(name, v, 1, 8192, &n, err, errlen)))
            cfg->threads = (int)n;
        return rc;
    }
    if (strcmp(name, "AXON_MAX_THREADS") == 0) {
        if (!(rc = set_int(name, v, 1, 8192, &n, err, errlen)))
            cfg->max_threads = (int)n;
        return rc;
    }
    if (strcmp(name, "AXON_MAX_BODY_BYTES") == 0) {
        if (!(rc = set_int(name, v, 1024, 1 << 30, &n, err, errlen)))
            cfg->max_body_bytes = (size_t)n;
        return rc;
    }
    if (strcmp(name, "AXON_MAX_INFLIGHT_BYTES") == 0) {
        if (!(rc = set_int(name, v, 1024, INT64_C(1) << 40, &n, err, errlen)))
            cfg->max_inflight_bytes = (size_t)n;
        return rc;
    }
    if (strcmp(name, "AXON_DRAIN_S") == 0) {
        if (!(rc = set_int(name, v, 0, 3600, &n, err, errlen)))
            cfg->drain_s = (int)n;
        return rc;
    }
    if (strcmp(name, "AXON_PORT") == 0) {
        if (!(rc = set_int(name, v, 1, 65535, &n, err, errlen)))
            cfg->port = (int)n;
        return rc;
    }
    if (strcmp(name, "AXON_SERVER") == 0) {
        if (strcmp(v, "lighttpd") && strcmp(v, "nginx") && strcmp(v, "apache"))
            return text_errf(err, errlen, "AXON_SERVER=%s: expected lighttpd, nginx or apache", v);
        free(cfg->server);
        cfg->server = xstrdup(v);
        return AXON_OK;
    }
    if (strcmp(name, "AXON_BASE_PATH") == 0)
        return set_base_path(cfg, v, err, errlen);
    if (strcmp(name, "AXON_LOG_LEVEL") == 0) {
        static const char *const levels[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (strcmp(v, levels[i]) == 0) {
                cfg->log_level = (enum log_level)i;
                return AXON_OK;
            }
        return text_errf(err, errlen, "AXON_LOG_LEVEL=%s: expected debug, info, warn or error", v);
    }
    if (strcmp(name, "AXON_TEST_ROUTES") == 0) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            return text_errf(err, errlen, "AXON_TEST_ROUTES=%s: expected 0 or 1", v);
        cfg->test_routes = v[0] == '1';
        return AXON_OK;
    }
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
