/* The settings table against everything written from it: the committed
 * docs/configuration.md, etc/axon.conf.example and the chart's settings
 * (values.yaml, the Deployment's env, chart/README.md's rows) must
 * be what the table renders today (else: make docs), the web servers' configs
 * must pass every setting to axon, and every default must be one its own
 * parser takes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_doc.h"

/* The build tree's root: the Makefile defines AXON_MODELS_DEFAULT as
 * "$(CURDIR)/etc/models.conf", so the test finds the committed files wherever
 * it is run from. */
static const char *root(void)
{
    static char dir[1024];
    const char *m = AXON_MODELS_DEFAULT;
    size_t n = strlen(m) - strlen("etc/models.conf");
    assert_true(n < sizeof dir);
    memcpy(dir, m, n);
    dir[n] = '\0';
    return dir;
}

/* The committed file rel, whole; new (free). */
static char *read_file(const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s%s", root(), rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open it", path);
    struct buf b = BUF_INIT((size_t)4 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    return b.p ? buf_take(&b) : xstrdup("");
}

static char *render(enum config_doc_format fmt)
{
    struct buf b = BUF_INIT((size_t)1 << 20);
    assert_int_equal(config_doc_render(&b, fmt), 0);
    return buf_take(&b);
}

/* Compares the lines of rel between the lines begin and end (or the whole
 * file when begin is NULL) with the table rendered in fmt. */
static void same_as_table(const char *rel, enum config_doc_format fmt, const char *begin,
                          const char *end)
{
    char *text = read_file(rel), *want = render(fmt);
    const char *got = text;
    if (begin) {
        char *b = strstr(text, begin), *e = b ? strstr(b, end) : NULL;
        if (!b || !e)
            fail_msg("%s: the settings markers are missing", rel);
        got = b + strlen(begin);
        *e = '\0';
    }
    if (strcmp(got, want)) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        fail_msg("%s differs from the settings table in src/config.c (run make docs); "
                 "first difference at byte %zu: committed \"%.60s\", table \"%.60s\"",
                 rel, i, got + i, want + i);
    }
    free(text);
    free(want);
}

static void reference_is_the_table(void **state)
{
    (void)state;
    same_as_table("docs/configuration.md", CONFIG_DOC_MARKDOWN, NULL, NULL);
}

static void conf_example_is_the_table(void **state)
{
    (void)state;
    same_as_table("etc/axon.conf.example", CONFIG_DOC_CONF, NULL, NULL);
}

static void chart_values_are_the_table(void **state)
{
    (void)state;
    same_as_table("chart/values.yaml", CONFIG_DOC_VALUES,
                  "  # settings: generated from the table in src/config.c by `make docs` "
                  "(edit it there)\n",
                  "  # /settings\n");
}

static void chart_env_is_the_table(void **state)
{
    (void)state;
    same_as_table("chart/templates/deployment.yaml", CONFIG_DOC_ENV,
                  "            {{- /* settings: generated from the table in src/config.c by "
                  "make docs */}}\n",
                  "            {{- /* /settings */}}\n");
}

/* chart/README.md's table cannot hold a marker line, so its axon.* rows
 * must appear together, as rendered. */
static void chart_readme_rows_are_the_table(void **state)
{
    (void)state;
    char *text = read_file("chart/README.md"), *want = render(CONFIG_DOC_ROWS);
    if (!strstr(text, want))
        fail_msg("chart/README.md's axon.* rows differ from the settings table in "
                 "src/config.c (run make docs); the table renders:\n%s", want);
    free(text);
    free(want);
}

/* lighttpd passes axon only the variables its bin-copy-environment (or
 * bin-environment) names: a setting missing there silently does not apply. */
static void lighttpd_passes_every_setting(void **state)
{
    (void)state;
    static const char *const confs[] = {"etc/lighttpd.conf", "etc/container/lighttpd.conf"};
    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        char *text = read_file(confs[i]);
        for (const struct config_doc *s = config_docs; s->name; s++) {
            char quoted[128];
            snprintf(quoted, sizeof quoted, "\"%s\"", s->name);
            if (!strstr(text, quoted))
                fail_msg("%s does not pass %s to axon", confs[i], s->name);
        }
        free(text);
    }
}

/* Each default is text its own parser takes, so config_defaults never
 * aborts; and the help names every setting with its default. */
static void defaults_parse_and_help_names_them(void **state)
{
    (void)state;
    struct axon_config c;
    config_defaults(&c);
    char err[256];
    char *help = render(CONFIG_DOC_HELP);
    for (const struct config_doc *s = config_docs; s->name; s++) {
        assert_non_null(s->parse);
        assert_non_null(s->help);
        if (s->def && config_set(&c, s->name, s->def, err, sizeof err))
            fail_msg("%s's default %s: %s", s->name, s->def, err);
        char line[200];
        snprintf(line, sizeof line, "  %s: default ", s->name);
        if (!strstr(help, line))
            fail_msg("--help does not list %s", s->name);
    }
    free(help);
    config_free(&c);
}

/* A word setting's error lists its words the way the messages always have. */
static void word_errors_list_the_words(void **state)
{
    (void)state;
    struct axon_config c;
    config_defaults(&c);
    char err[256];
    assert_int_equal(config_set(&c, "AXON_LOG_LEVEL", "loud", err, sizeof err), AXON_EINVAL);
    assert_string_equal(err, "AXON_LOG_LEVEL=loud: expected debug, info, warn or error");
    assert_int_equal(config_set(&c, "AXON_STORE", "x", err, sizeof err), AXON_EINVAL);
    assert_string_equal(err, "AXON_STORE=x: expected always or on_request");
    assert_int_equal(config_set(&c, "AXON_PROVIDER", "x", err, sizeof err), AXON_EINVAL);
    assert_string_equal(err, "AXON_PROVIDER=x: expected anthropic or vllm");
    assert_int_equal(config_set(&c, "AXON_PROVIDER", "openai", err, sizeof err), 0);
    assert_int_equal(c.default_provider, PROVIDER_OPENAI);
    assert_int_equal(config_set(&c, "AXON_PROVIDER", "claude", err, sizeof err), 0);
    assert_int_equal(c.default_provider, PROVIDER_ANTHROPIC);
    assert_int_equal(config_set(&c, "AXON_SERVER", "nginx", err, sizeof err), 0);
    assert_string_equal(c.server, "nginx");
    assert_int_equal(config_set(&c, "AXON_NO_SUCH", "1", err, sizeof err), AXON_ENOTFOUND);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_is_the_table),
        cmocka_unit_test(conf_example_is_the_table),
        cmocka_unit_test(chart_values_are_the_table),
        cmocka_unit_test(chart_env_is_the_table),
        cmocka_unit_test(chart_readme_rows_are_the_table),
        cmocka_unit_test(lighttpd_passes_every_setting),
        cmocka_unit_test(defaults_parse_and_help_names_them),
        cmocka_unit_test(word_errors_list_the_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
