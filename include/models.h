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

enum provider { PROVIDER_ANTHROPIC };

struct model {
    char *id;             /* what clients send; owned */
    char *upstream_id;    /* what the upstream receives; owned */
    const struct model *target; /* for an alias, the model it names; else itself */
    enum provider provider;
    long max_tokens;      /* default when the request has none */
    long max_output;      /* largest max_tokens accepted */
    long context;         /* context window, tokens */
    long created;         /* unix seconds, for /v1/models */
    bool alias;
};

struct model_table {
    struct model *v;      /* owned */
    size_t n;
};

/* Parses the models file at path into t (empty on failure, with err naming
 * the line). On success t owns new memory: models_free. */
int models_load(struct model_table *t, const char *path, char *err, size_t errlen)
    AXON_MUST_CHECK;
/* Same, from text in memory (borrows text). */
int models_parse(struct model_table *t, const char *text, const char *name, char *err,
                 size_t errlen) AXON_MUST_CHECK;
void models_free(struct model_table *t); /* NULL-safe */

/* The entry a client id names (model or alias), or NULL. Borrowed from t. */
const struct model *models_find(const struct model_table *t, const char *id);

#endif
