/* fuzz_config.c - the settings file and the model table: config_load (the
 * NAME=value parser, config_set for each setting, config_finish) and
 * models_parse.
 *
 * Input: up to four texts separated by NUL bytes (neither parser reads past
 * a NUL: files are read as C strings):
 *   1. axon.conf (NAME=value lines), read by config_load as --config;
 *   2. models.conf, parsed by models_parse directly and read by config_finish
 *      as AXON_MODELS_FILE;
 *   3. the AXON_API_KEYS_FILE (one key per line);
 *   4. the ANTHROPIC_API_KEY_FILE (one secret).
 * The three file settings are set in the environment, which wins over the
 * file, so the fuzzed file never names a path that is opened: a FIFO or
 * /dev/stdin would hang the run. Each text is written to a memfd and read
 * back through /proc/self/fd. The rest of the environment's AXON_* settings
 * are removed once, so the run does not depend on the shell's.
 * Checked besides the sanitizers: every failure names its cause in err; a
 * table that parses is consistent (aliases name real models, every
 * provider=openai model has a server, ids pass models_id_ok, each model
 * is found by its id); a configuration that loads has its endpoints in
 * bounds and every openai model on an OpenAI-compatible endpoint. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "models.h"

#include "fuzz_fcgi.h"

enum { PART_CONF, PART_MODELS, PART_KEYS, PART_SECRET, NPARTS };
static const char *const env_of[NPARTS] = {NULL, "AXON_MODELS_FILE", "AXON_API_KEYS_FILE",
                                           "ANTHROPIC_API_KEY_FILE"};
static int fds[NPARTS];
static char paths[NPARTS][64];

static void setup(void)
{
    for (const struct config_doc *d = config_docs; d->name; d++)
        unsetenv(d->name);
    for (int i = 0; i < NPARTS; i++) {
        fds[i] = memfd_create("fuzz_config", 0);
        if (fds[i] < 0)
            fuzz_fail("memfd_create failed");
        snprintf(paths[i], sizeof paths[i], "/proc/self/fd/%d", fds[i]);
        if (env_of[i])
            setenv(env_of[i], paths[i], 1);
    }
}

static void put(int i, const char *p, size_t n)
{
    if (ftruncate(fds[i], 0) || (n && pwrite(fds[i], p, n, 0) != (ssize_t)n))
        fuzz_fail("cannot write the memfd");
}

static void check_table(const struct model_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct model *m = &t->v[i];
        if (!m->id || !models_id_ok(m->id, strlen(m->id)) || models_find(t, m->id) != m)
            fuzz_fail("model %zu: a bad or duplicate id", i);
        if (!m->target || m->target->alias || !m->upstream_id)
            fuzz_fail("model %s: no target or upstream name", m->id);
        if ((m->provider == PROVIDER_OPENAI) != (m->server != NULL))
            fuzz_fail("model %s: server %s for provider %d", m->id, m->server ? m->server : "-",
                      m->provider);
        if (m->provider == PROVIDER_ANTHROPIC && (m->max_tokens < 1 || m->max_output < m->max_tokens))
            fuzz_fail("model %s: limits %ld, %ld", m->id, m->max_tokens, m->max_output);
    }
    if (t->nservers > MODELS_MAX_SERVERS)
        fuzz_fail("%zu servers", t->nservers);
    for (size_t k = 0; k < t->nservers; k++)
        if (!t->servers[k].name || !t->servers[k].base_url)
            fuzz_fail("server %zu without a name or url", k);
}

static void check_err(const char *err, const char *who)
{
    if (!memchr(err, '\0', 512) || !err[0])
        fuzz_fail("%s failed without saying why", who);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    const char *part[NPARTS] = {"", "", "", ""};
    size_t len[NPARTS] = {0, 0, 0, 0};
    char *copy = malloc(size + 1); /* NUL-terminated parts */
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *p = copy, *end = copy + size;
    for (int i = 0; i < NPARTS && p <= end; i++) {
        part[i] = p;
        len[i] = strlen(p);
        p += len[i] + 1;
    }
    for (int i = 0; i < NPARTS; i++)
        put(i, part[i], len[i]);

    char err[512];
    struct model_table t;
    memset(err, 0x55, sizeof err);
    if (models_parse(&t, part[PART_MODELS], "models.conf", err, sizeof err) == AXON_OK) {
        check_table(&t);
        models_free(&t);
    } else {
        check_err(err, "models_parse");
        if (t.n || t.nservers || t.v || t.servers)
            fuzz_fail("models_parse failed but left a table");
    }

    struct axon_config cfg;
    memset(err, 0x55, sizeof err);
    if (config_load(&cfg, paths[PART_CONF], true, err, sizeof err) == AXON_OK) {
        check_table(&cfg.models);
        if (cfg.n_endpoints < 1 || cfg.n_endpoints > CONFIG_MAX_ENDPOINTS || cfg.n_keys < 1 ||
            cfg.max_threads < cfg.threads ||
            (cfg.default_provider == PROVIDER_ANTHROPIC && !models_find(&cfg.models, cfg.default_model)))
            fuzz_fail("a loaded configuration that cannot run");
        for (size_t i = 0; i < cfg.models.n; i++) {
            const struct model *m = &cfg.models.v[i];
            if (m->endpoint < 0 || m->endpoint >= cfg.n_endpoints ||
                cfg.endpoints[m->endpoint].provider != m->provider)
                fuzz_fail("model %s on endpoint %d", m->id, m->endpoint);
        }
        config_free(&cfg);
    } else {
        check_err(err, "config_load");
    }
    free(copy);
    return 0;
}
