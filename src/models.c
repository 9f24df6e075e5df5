/* models.c - the model table: models.conf parsed, looked up by id. */
#include "models.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"


void models_free(struct model_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].upstream_id);
        free(t->v[i].server);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
    for (size_t i = 0; i < t->nservers; i++) {
        free(t->servers[i].name);
        free(t->servers[i].base_url);
        free(t->servers[i].key_env);
        free(t->servers[i].health);
    }
    free(t->servers);
    t->servers = NULL;
    t->nservers = 0;
}

const struct model *models_find(const struct model_table *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0)
            return &t->v[i];
    return NULL;
}

bool models_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > MODELS_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@",
                    s[i]))
            return false;
    return true;
}

/* Server names appear in /stats and in logs. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > MODELS_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s[i]))
            return false;
    return true;
}

/* Splits the next blank-separated word off *p. */
static bool next_word(const char **p, const char **w, size_t *n)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0' || *s == '#')
        return false;
    *w = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    *n = (size_t)(s - *w);
    *p = s;
    return true;
}

/* Splits the next key=value word off *p: AXON_ENOTFOUND at the end of the
 * line, AXON_EINVAL (err filled) for a word without '='. */
static int next_pair(const char **p, const char **k, size_t *kn, const char **v, size_t *vn,
                     const char *where, char *err, size_t errlen)
{
    /* Set on every return: the analyzer cannot tell text_errf never returns AXON_OK. */
    *k = *v = NULL;
    *kn = *vn = 0;
    const char *w;
    size_t n;
    if (!next_word(p, &w, &n))
        return AXON_ENOTFOUND;
    const char *eq = memchr(w, '=', n);
    if (!eq)
        return text_errf(err, errlen, "%s: expected key=value, got '%.*s'", where, (int)n, w);
    *k = w;
    *kn = (size_t)(eq - w);
    *v = eq + 1;
    *vn = n - *kn - 1;
    return AXON_OK;
}

static const char *const effort_names[EFFORT_COUNT] = {"low", "medium", "high", "xhigh", "max"};

const char *models_effort_name(enum effort_level l)
{
    return (unsigned)l < EFFORT_COUNT ? effort_names[l] : "";
}

int models_effort_level(const char *name)
{
    for (int i = 0; i < EFFORT_COUNT; i++)
        if (!strcmp(name, effort_names[i]))
            return i;
    return -1;
}

/* The index of v[0..vn) in words (NULL-terminated), or -1. */
static int word_index(const char *v, size_t vn, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == vn && !memcmp(words[i], v, vn))
            return i;
    return -1;
}

/* effort=low,medium,high (or none): the bits of model_caps.efforts. */
static int parse_efforts(const char *v, size_t vn, unsigned *out)
{
    *out = 0;
    if (vn == 4 && !memcmp(v, "none", 4))
        return AXON_OK;
    while (vn) {
        const char *comma = memchr(v, ',', vn);
        size_t n = comma ? (size_t)(comma - v) : vn;
        char word[16];
        if (n == 0 || n >= sizeof word)
            return AXON_EINVAL;
        memcpy(word, v, n);
        word[n] = '\0';
        int l = models_effort_level(word);
        if (l < 0)
            return AXON_EINVAL;
        *out |= 1u << l;
        v += comma ? n + 1 : n;
        vn -= comma ? n + 1 : n;
        if (comma && !vn)
            return AXON_EINVAL;
    }
    return AXON_OK;
}

/* A capability key (sampling, prefill, thinking, thinks_unasked, effort):
 * AXON_ENOTFOUND when w is none of them. */
static int parse_cap(struct model_caps *c, const char *w, size_t kn, const char *v, size_t vn,
                     const char *where, char *err, size_t errlen)
{
    static const char *const sampling[] = {"any", "one", "default", NULL};
    static const char *const yes_no[] = {"no", "yes", NULL};
    static const char *const thinking[] = {"none", "budget", "adaptive", NULL};
    static const char *const unasked[] = {"no", "yes", "always", NULL};
    int i;
    if (kn == 8 && !memcmp(w, "sampling", 8)) {
        if ((i = word_index(v, vn, sampling)) < 0)
            return text_errf(err, errlen, "%s: sampling= takes any, one or default", where);
        c->sampling = (enum sampling_rule)i;
    } else if (kn == 7 && !memcmp(w, "prefill", 7)) {
        if ((i = word_index(v, vn, yes_no)) < 0)
            return text_errf(err, errlen, "%s: prefill= takes yes or no", where);
        c->prefill = i == 1;
    } else if (kn == 8 && !memcmp(w, "thinking", 8)) {
        if ((i = word_index(v, vn, thinking)) < 0)
            return text_errf(err, errlen, "%s: thinking= takes none, budget or adaptive", where);
        c->thinking = (enum thinking_style)i;
    } else if (kn == 14 && !memcmp(w, "thinks_unasked", 14)) {
        if ((i = word_index(v, vn, unasked)) < 0)
            return text_errf(err, errlen, "%s: thinks_unasked= takes no, yes or always", where);
        c->unasked = (enum thinks_unasked)i;
    } else if (kn == 6 && !memcmp(w, "effort", 6)) {
        if (parse_efforts(v, vn, &c->efforts))
            return text_errf(err, errlen, "%s: effort= takes none or a comma-separated list of "
                             "low, medium, high, xhigh and max", where);
    } else {
        return AXON_ENOTFOUND;
    }
    return AXON_OK;
}

static int parse_model_opts(struct model *m, const char *p, const char *where, char *err,
                            size_t errlen)
{
    /* A line without capability keys takes everything, as Claude models
     * before 4.5 did: the shipped table states each model's rules. */
    m->caps = (struct model_caps){.sampling = SAMPLING_ANY, .prefill = true,
                                  .thinking = THINKING_BUDGET, .unasked = UNASKED_NO};
    bool have_caps = false;
    const char *w, *v;
    size_t kn, vn;
    bool have_provider = false;
    int prc;
    while ((prc = next_pair(&p, &w, &kn, &v, &vn, where, err, errlen)) != AXON_ENOTFOUND) {
        if (prc)
            return prc;
        int64_t num = 0;
        long *field = NULL;
        if (kn == 8 && !memcmp(w, "provider", 8)) {
            if (vn == 9 && !memcmp(v, "anthropic", 9))
                m->provider = PROVIDER_ANTHROPIC;
            else if (vn == 6 && !memcmp(v, "openai", 6))
                m->provider = PROVIDER_OPENAI;
            else
                return text_errf(err, errlen, "%s: unknown provider '%.*s' (anthropic or openai)",
                                 where, (int)vn, v);
            have_provider = true;
            continue;
        }
        if (kn == 6 && !memcmp(w, "server", 6)) {
            if (!name_ok(v, vn))
                return text_errf(err, errlen, "%s: bad server name", where);
            free(m->server);
            m->server = xstrndup(v, vn);
            continue;
        }
        if (kn == 8 && !memcmp(w, "upstream", 8)) {
            if (!models_id_ok(v, vn))
                return text_errf(err, errlen, "%s: bad upstream name", where);
            free(m->upstream_id);
            m->upstream_id = xstrndup(v, vn);
            continue;
        }
        int crc = parse_cap(&m->caps, w, kn, v, vn, where, err, errlen);
        if (crc != AXON_ENOTFOUND) {
            if (crc)
                return crc;
            have_caps = true;
            continue;
        }
        if (kn == 10 && !memcmp(w, "max_tokens", 10))
            field = &m->max_tokens;
        else if (kn == 10 && !memcmp(w, "max_output", 10))
            field = &m->max_output;
        else if (kn == 7 && !memcmp(w, "context", 7))
            field = &m->context;
        else if (kn == 7 && !memcmp(w, "created", 7))
            field = &m->created;
        else
            return text_errf(err, errlen, "%s: unknown key '%.*s'", where, (int)kn, w);
        if (text_parse_i64_n(v, vn, 0, 100000000000LL, &num))
            return text_errf(err, errlen, "%s: '%.*s' needs a whole number", where, (int)kn, w);
        *field = (long)num;
    }
    if (!have_provider)
        return text_errf(err, errlen, "%s: provider= is required", where);
    if (m->provider == PROVIDER_OPENAI && have_caps)
        return text_errf(err, errlen, "%s: sampling=, prefill=, thinking=, thinks_unasked= and "
                         "effort= are for provider=anthropic", where);
    if (m->caps.thinking != THINKING_ADAPTIVE && m->caps.efforts)
        return text_errf(err, errlen, "%s: effort= needs thinking=adaptive", where);
    if (m->caps.thinking == THINKING_NONE && m->caps.unasked != UNASKED_NO)
        return text_errf(err, errlen, "%s: thinks_unasked= needs a model that thinks", where);
    if (m->provider == PROVIDER_OPENAI) {
        /* OpenAI-compatible servers pick their own default and limit. */
        if (m->max_output && m->max_output < m->max_tokens)
            return text_errf(err, errlen, "%s: need max_tokens <= max_output", where);
        if (!m->server)
            m->server = xstrdup(MODELS_DEFAULT_SERVER);
    } else if (m->server) {
        return text_errf(err, errlen, "%s: server= is for provider=openai", where);
    } else if (m->max_tokens < 1 || m->max_output < m->max_tokens) {
        return text_errf(err, errlen, "%s: need 1 <= max_tokens <= max_output", where);
    }
    if (!m->upstream_id)
        m->upstream_id = xstrdup(m->id);
    return AXON_OK;
}

/* server NAME url=URL [key_env=VAR] [health=/PATH] */
static int parse_server(struct model_table *t, const char *p, const char *where, char *err,
                        size_t errlen)
{
    const char *w;
    size_t n;
    if (!next_word(&p, &w, &n) || !name_ok(w, n))
        return text_errf(err, errlen, "%s: server needs a name of a-z, 0-9, _ and - (at most %d)",
                         where, MODELS_MAX_NAME);
    if (t->nservers >= MODELS_MAX_SERVERS)
        return text_errf(err, errlen, "%s: more than %d servers", where, MODELS_MAX_SERVERS);
    for (size_t i = 0; i < t->nservers; i++)
        if (strlen(t->servers[i].name) == n && !memcmp(t->servers[i].name, w, n))
            return text_errf(err, errlen, "%s: server '%.*s' is defined twice", where, (int)n, w);
    if (!t->servers)
        t->servers = xcalloc(MODELS_MAX_SERVERS, sizeof *t->servers);
    struct server_decl *d = &t->servers[t->nservers++];
    d->name = xstrndup(w, n);
    const char *v;
    size_t kn, vn;
    int prc;
    while ((prc = next_pair(&p, &w, &kn, &v, &vn, where, err, errlen)) != AXON_ENOTFOUND) {
        if (prc)
            return prc;
        char **field = NULL;
        if (kn == 3 && !memcmp(w, "url", 3)) {
            if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) || vn > 1024)
                return text_errf(err, errlen, "%s: url= needs an http:// or https:// URL", where);
            field = &d->base_url;
        } else if (kn == 7 && !memcmp(w, "key_env", 7))
            field = &d->key_env;
        else if (kn == 6 && !memcmp(w, "health", 6)) {
            if (vn == 0 || v[0] != '/')
                return text_errf(err, errlen, "%s: health= needs a path such as /health", where);
            field = &d->health;
        } else
            return text_errf(err, errlen, "%s: unknown key '%.*s'", where, (int)kn, w);
        free(*field);
        *field = xstrndup(v, vn);
    }
    if (!d->base_url)
        return text_errf(err, errlen, "%s: server '%s' needs url=", where, d->name);
    models_trim_url(d->base_url);
    return AXON_OK;
}

void models_trim_url(char *url)
{
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/')
        n--;
    /* OpenAI SDKs take a base URL ending in /v1; Axon adds /v1 itself. */
    if (n > 11 && !memcmp(url + n - 3, "/v1", 3))
        n -= 3;
    while (n > 8 && url[n - 1] == '/')
        n--;
    url[n] = '\0';
}

int models_parse(struct model_table *t, const char *text, const char *name, char *err,
                 size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->v = xcalloc(MODELS_MAX, sizeof *t->v);
    char (*targets)[MODELS_MAX_ID + 1] = xcalloc(MODELS_MAX, sizeof *targets);
    int rc = AXON_OK, lineno = 0;
    for (const char *line = text; !rc && line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *copy = xstrndup(line, len);
        line = nl ? nl + 1 : NULL;
        lineno++;
        char where[160];
        snprintf(where, sizeof where, "%s line %d", name, lineno);
        const char *p = copy, *kw, *id;
        size_t kn, idn;
        char *cr = strchr(copy, '\r');
        if (cr)
            *cr = '\0';
        if (!next_word(&p, &kw, &kn)) {
            free(copy);
            continue;
        }
        bool is_alias = kn == 5 && !memcmp(kw, "alias", 5);
        if (kn == 6 && !memcmp(kw, "server", 6))
            rc = parse_server(t, p, where, err, errlen);
        else if (!is_alias && !(kn == 5 && !memcmp(kw, "model", 5)))
            rc = text_errf(err, errlen, "%s: expected 'model', 'alias' or 'server'", where);
        else if (!next_word(&p, &id, &idn) || !models_id_ok(id, idn))
            rc = text_errf(err, errlen, "%s: missing or bad model id", where);
        else if (t->n >= MODELS_MAX)
            rc = text_errf(err, errlen, "%s: more than %d models", where, MODELS_MAX);
        else {
            struct model *m = &t->v[t->n];
            m->id = xstrndup(id, idn);
            t->n++;
            if (models_find(&(struct model_table){.v = t->v, .n = t->n - 1}, m->id))
                rc = text_errf(err, errlen, "%s: '%s' is defined twice", where, m->id);
            else if (is_alias) {
                const char *tg;
                size_t tn;
                m->alias = true;
                if (!next_word(&p, &tg, &tn) || !models_id_ok(tg, tn))
                    rc = text_errf(err, errlen, "%s: alias needs a model name", where);
                else if (next_word(&p, &tg, &tn))
                    rc = text_errf(err, errlen, "%s: alias takes one model name", where);
                else
                    memcpy(targets[t->n - 1], tg, tn);
            } else {
                rc = parse_model_opts(m, p, where, err, errlen);
            }
        }
        free(copy);
    }
    /* Aliases point at real models (never at another alias): resolve now
     * that the array no longer moves. */
    for (size_t i = 0; !rc && i < t->n; i++) {
        struct model *m = &t->v[i];
        if (!m->alias) {
            m->target = m;
            continue;
        }
        const struct model *tg = models_find(t, targets[i]);
        if (!tg || tg->alias) {
            rc = text_errf(err, errlen, "%s: alias '%s' names '%s', which is not a model", name, m->id,
                      targets[i]);
            break;
        }
        m->target = tg;
        m->provider = tg->provider;
        m->server = tg->server ? xstrdup(tg->server) : NULL;
        m->upstream_id = xstrdup(tg->upstream_id);
        m->max_tokens = tg->max_tokens;
        m->max_output = tg->max_output;
        m->context = tg->context;
        m->created = tg->created;
        m->caps = tg->caps;
    }
    free(targets);
    for (size_t i = 0; !rc && i < t->n; i++) /* a model's server= names a server line or vllm */
        if (t->v[i].server && strcmp(t->v[i].server, MODELS_DEFAULT_SERVER)) {
            bool found = false;
            for (size_t k = 0; k < t->nservers; k++)
                found = found || !strcmp(t->servers[k].name, t->v[i].server);
            if (!found)
                rc = text_errf(err, errlen, "%s: model '%s' names server '%s', which no server line "
                               "defines", name, t->v[i].id, t->v[i].server);
        }
    for (size_t k = 0; !rc && k < t->nservers; k++)
        if (!strcmp(t->servers[k].name, MODELS_DEFAULT_SERVER) ||
            !strcmp(t->servers[k].name, "anthropic"))
            rc = text_errf(err, errlen, "%s: server name '%s' is reserved", name, t->servers[k].name);
    if (rc)
        models_free(t);
    return rc;
}

int models_load(struct model_table *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f)
        return text_errf(err, errlen, "AXON_MODELS_FILE=%s: cannot open it", path);
    struct buf b = BUF_INIT(1 << 20);
    char chunk[4096];
    size_t n;
    int rc = AXON_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    /* fread stops the same way at EOF and on an error (a directory gives
     * EISDIR): without this a short read would load part of the table. */
    bool bad = ferror(f);
    (void)fclose(f);
    if (rc || bad) {
        buf_free(&b);
        return text_errf(err, errlen, "AXON_MODELS_FILE=%s: %s", path,
                         rc ? "larger than 1 MiB" : "read error");
    }
    rc = models_parse(t, b.p ? b.p : "", path, err, errlen);
    buf_free(&b);
    return rc;
}
