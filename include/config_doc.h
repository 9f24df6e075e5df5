/* config_doc.h - the settings table (config.h's config_docs) written out for
 * people: `axon --help`, docs/configuration.md, etc/axon.conf.example and the
 * chart's settings (values.yaml, the Deployment's env, chart/README.md's rows). `make docs` writes
 * the committed files with `axon --settings FORMAT`, and test_config_doc
 * fails when one differs from what the table renders, so none can drift. */
#ifndef AXON_CONFIG_DOC_H
#define AXON_CONFIG_DOC_H

#include "axon.h"
#include "buf.h"

enum config_doc_format {
    CONFIG_DOC_HELP,     /* plain text for --help */
    CONFIG_DOC_MARKDOWN, /* docs/configuration.md, the whole file */
    CONFIG_DOC_CONF,     /* etc/axon.conf.example, the whole file */
    CONFIG_DOC_VALUES,   /* chart/values.yaml, the lines between its settings markers */
    CONFIG_DOC_ENV,      /* chart/templates/deployment.yaml, the same */
    CONFIG_DOC_ROWS,     /* chart/README.md, its table's rows of those values */
};

/* Appends the table in format f to b (borrows b). AXON_ETOOBIG past b's max. */
int config_doc_render(struct buf *b, enum config_doc_format f) AXON_MUST_CHECK;

/* The format named name ("help", "markdown", "conf", "values", "env", "rows"), or -1. */
int config_doc_format(const char *name);

#endif
