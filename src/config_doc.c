/* config_doc.c - the settings table written out for people, in the five
 * forms config_doc.h lists. Everything here reads config_docs; nothing about
 * a particular setting is written in this file. */
#include "config_doc.h"

#include <stdbool.h>
#include <string.h>

#include "config.h"

#define WIDTH 80 /* comment and --help lines wrap before this column */
#define GENERATED "Generated from the settings table in src/config.c by `make docs`"

/* Whole numbers are the settings with a range (config.h: hi > 0). */
static bool is_int(const struct config_doc *s)
{
    return s->hi > 0;
}

static bool is_bool(const struct config_doc *s)
{
    return s->words && !strcmp(s->words[0], "0") && s->words[1] && !strcmp(s->words[1], "1") &&
           !s->words[2];
}

/* Appends the table's markdown as plain text: `code` loses its backticks, and
 * [text](page.md#anchor) becomes "text in docs/page.md". The table's help is
 * ours, so a link that does not close is copied as it is. */
static int plain(struct buf *b, const char *md)
{
    int rc = AXON_OK;
    for (const char *p = md; !rc && *p; p++) {
        const char *mid = *p == '[' ? strstr(p, "](") : NULL;
        const char *end = mid ? strchr(mid, ')') : NULL;
        if (*p == '`')
            continue;
        if (end) {
            size_t page = strcspn(mid + 2, "#)");
            rc = buf_printf(b, "%.*s in docs/%.*s", (int)(mid - p - 1), p + 1, (int)page, mid + 2);
            p = end;
        } else {
            rc = buf_append(b, p, 1);
        }
    }
    return rc;
}

/* Appends text word by word, breaking lines before WIDTH; the first line
 * starts with first, the others with rest. Ends with a newline. */
static int wrap(struct buf *b, const char *text, const char *first, const char *rest)
{
    int rc = buf_puts(b, first);
    size_t col = strlen(first), indent = strlen(rest);
    bool line_empty = true;
    for (const char *p = text; !rc && *p;) {
        size_t n = strcspn(p, " ");
        if (n && !line_empty && col + 1 + n >= WIDTH) {
            rc = buf_printf(b, "\n%s", rest);
            col = indent;
            line_empty = true;
        }
        if (n && !rc) {
            rc = buf_printf(b, "%s%.*s", line_empty ? "" : " ", (int)n, p);
            col += n + !line_empty;
            line_empty = false;
        }
        p += n + (p[n] == ' ');
    }
    return rc ? rc : buf_puts(b, "\n");
}

/* What the setting accepts: a range, its words, or its form. */
static int accepts(struct buf *b, const struct config_doc *s, bool md)
{
    if (is_int(s))
        return buf_printf(b, "%lld to %lld", (long long)s->lo, (long long)s->hi);
    int rc = AXON_OK;
    if (s->words)
        for (int i = 0; !rc && s->words[i]; i++)
            rc = buf_printf(b, "%s%s%s%s", i == 0 ? "" : s->words[i + 1] ? ", " : " or ",
                            md ? "`" : "", s->words[i], md ? "`" : "");
    else if (s->form)
        rc = md ? buf_puts(b, s->form) : plain(b, s->form);
    return rc;
}

static int default_text(struct buf *b, const struct config_doc *s, bool md)
{
    if (s->def_doc)
        return md ? buf_puts(b, s->def_doc) : plain(b, s->def_doc);
    if (!s->def)
        return buf_puts(b, "(none)");
    return buf_printf(b, md ? "`%s`" : "%s", s->def);
}

/* The plain help, then what the setting accepts, as one sentence; in the
 * chart a 0/1 setting is a YAML boolean. */
static int sentence(struct buf *b, const struct config_doc *s, bool chart)
{
    size_t start = b->len;
    int rc = plain(b, s->help);
    /* A comment starts a sentence; in the chart the help follows "NAME: ". A
     * help that opens with `code` keeps it as it is. */
    if (!rc && !chart && s->help[0] >= 'a' && s->help[0] <= 'z')
        b->p[start] = (char)(b->p[start] - 'a' + 'A');
    if (!rc && chart && is_bool(s))
        rc = buf_puts(b, ". Here true or false (true is 1)");
    else if (!rc && (is_int(s) || s->words || s->form)) {
        rc = buf_puts(b, ". Accepts ");
        if (!rc)
            rc = accepts(b, s, false);
    }
    return rc ? rc : buf_puts(b, ".");
}

static int render_help(struct buf *b)
{
    int rc = buf_puts(b, "Settings (environment or config file; docs/configuration.md has more):\n");
    struct buf t = BUF_INIT(4096);
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        buf_reset(&t);
        rc = buf_printf(&t, "%s: default ", s->name);
        if (!rc)
            rc = default_text(&t, s, false);
        if (!rc && (is_int(s) || s->words || s->form)) {
            rc = buf_puts(&t, "; ");
            if (!rc)
                rc = accepts(&t, s, false);
        }
        if (!rc)
            rc = wrap(b, t.p, "  ", "      ");
        buf_reset(&t);
        if (!rc)
            rc = plain(&t, s->help);
        if (!rc)
            rc = wrap(b, t.p, "      ", "      ");
    }
    buf_free(&t);
    return rc;
}

static int render_markdown(struct buf *b)
{
    int rc = buf_puts(b,
        "<!-- " GENERATED ": edit the table, not this file. -->\n"
        "# Configuration\n\n"
        "The environment is the interface. Every setting may also go in a `NAME=value`\n"
        "file: `--config FILE`, else `$AXON_CONFIG` (the path of the settings file), else\n"
        "`./etc/axon.conf` when it exists (`etc/axon.conf.example` lists them all). The\n"
        "environment wins over the file, and an unknown name in the file is an error.\n"
        "`axon --check-config` validates everything and exits 0, or 2 with a message\n"
        "naming the bad setting. `axon --help` prints this table.\n\n"
        "Under lighttpd a variable reaches axon only when `bin-copy-environment` lists\n"
        "it: `etc/lighttpd.conf` and the image's `etc/container/lighttpd.conf` list every\n"
        "one below. The Helm chart sets those with a chart value (`chart/values.yaml`,\n"
        "under `axon:`); any other goes in `axon.env`.\n\n"
        "| variable | default | accepts | meaning | chart value |\n"
        "|---|---|---|---|---|\n");
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        rc = buf_printf(b, "| `%s` | ", s->name);
        if (!rc)
            rc = default_text(b, s, true);
        if (!rc)
            rc = buf_puts(b, " | ");
        if (!rc)
            rc = accepts(b, s, true);
        if (!rc)
            rc = buf_printf(b, " | %s | ", s->help);
        if (!rc && s->chart)
            rc = buf_printf(b, "`axon.%s`", s->chart);
        if (!rc)
            rc = buf_puts(b, " |\n");
    }
    return rc;
}

static int render_conf(struct buf *b)
{
    int rc = buf_puts(b,
        "# Axon settings, NAME=value, one per line. Copy to etc/axon.conf (read when\n"
        "# present in the working directory) or point AXON_CONFIG / --config at it.\n"
        "# The environment always wins over this file. Unknown names are an error, so a\n"
        "# typo stops `axon --check-config` instead of being ignored.\n"
        "#\n"
        "# " GENERATED ":\n"
        "# every setting, commented out at its default (docs/configuration.md).\n");
    struct buf t = BUF_INIT(4096);
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        buf_reset(&t);
        rc = sentence(&t, s, false);
        if (!rc && s->def_doc) {
            rc = buf_puts(&t, " Default: ");
            if (!rc)
                rc = plain(&t, s->def_doc);
            if (!rc)
                rc = buf_puts(&t, ".");
        }
        if (!rc)
            rc = buf_puts(b, "\n");
        if (!rc)
            rc = wrap(b, t.p, "# ", "# ");
        if (!rc)
            rc = buf_printf(b, "#%s=%s\n", s->name, s->def && !s->def_doc ? s->def : "");
    }
    buf_free(&t);
    return rc;
}

/* A YAML scalar for a default: numbers and plain words as they are. */
static int yaml_value(struct buf *b, const struct config_doc *s)
{
    if (is_bool(s))
        return buf_puts(b, s->def && !strcmp(s->def, "1") ? "true" : "false");
    if (!s->def || !*s->def)
        return buf_puts(b, "\"\"");
    if (is_int(s) || strspn(s->def, "abcdefghijklmnopqrstuvwxyz0123456789_-.") == strlen(s->def))
        return buf_puts(b, s->def);
    return buf_json_str(b, s->def, strlen(s->def)); /* a JSON string is a YAML one */
}

/* What values.yaml and chart/README.md say of a chart value. */
static int chart_text(struct buf *t, const struct config_doc *s)
{
    int rc = buf_printf(t, "%s: ", s->name);
    if (!rc)
        rc = sentence(t, s, true);
    if (!rc && s->chart_note)
        rc = buf_printf(t, " %s", s->chart_note);
    if (!rc && !is_int(s) && !is_bool(s))
        rc = buf_puts(t, " Empty: axon's own default."); /* render_env's `with` */
    return rc;
}

static int render_values(struct buf *b)
{
    struct buf t = BUF_INIT(4096);
    int rc = AXON_OK;
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        if (!s->chart)
            continue;
        buf_reset(&t);
        rc = chart_text(&t, s);
        if (!rc)
            rc = wrap(b, t.p, "  # -- ", "  # ");
        if (!rc)
            rc = buf_printf(b, "  %s: ", s->chart);
        if (!rc)
            rc = yaml_value(b, s);
        if (!rc)
            rc = buf_puts(b, "\n");
    }
    buf_free(&t);
    return rc;
}

/* chart/README.md's rows, as the rest of its table writes them: the
 * default as JSON (a YAML value in flow style). */
static int render_rows(struct buf *b)
{
    int rc = AXON_OK;
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        if (!s->chart)
            continue;
        rc = buf_printf(b, "| `axon.%s` | `", s->chart);
        if (!rc && (is_int(s) || is_bool(s)))
            rc = yaml_value(b, s);
        else if (!rc)
            rc = buf_json_str(b, s->def ? s->def : "", s->def ? strlen(s->def) : 0);
        if (!rc)
            rc = buf_puts(b, "` | ");
        if (!rc)
            rc = chart_text(b, s);
        if (!rc)
            rc = buf_puts(b, " |\n");
    }
    return rc;
}

/* Numbers and booleans are always set; a word or a text is set unless the
 * value is empty, which leaves axon's own default. */
static int render_env(struct buf *b)
{
    int rc = AXON_OK;
    for (const struct config_doc *s = config_docs; !rc && s->name; s++) {
        if (!s->chart)
            continue;
        if (is_int(s))
            rc = buf_printf(b,
                            "            - name: %s\n"
                            "              value: {{ int64 .Values.axon.%s | quote }}\n",
                            s->name, s->chart);
        else if (is_bool(s))
            rc = buf_printf(b,
                            "            - name: %s\n"
                            "              value: {{ ternary \"1\" \"0\" (eq (toString "
                            ".Values.axon.%s) \"true\") | quote }}\n",
                            s->name, s->chart);
        else
            rc = buf_printf(b,
                            "            {{- with .Values.axon.%s }}\n"
                            "            - name: %s\n"
                            "              value: {{ . | quote }}\n"
                            "            {{- end }}\n",
                            s->chart, s->name);
    }
    return rc;
}

int config_doc_render(struct buf *b, enum config_doc_format f)
{
    switch (f) {
    case CONFIG_DOC_HELP:
        return render_help(b);
    case CONFIG_DOC_MARKDOWN:
        return render_markdown(b);
    case CONFIG_DOC_CONF:
        return render_conf(b);
    case CONFIG_DOC_VALUES:
        return render_values(b);
    case CONFIG_DOC_ENV:
        return render_env(b);
    case CONFIG_DOC_ROWS:
        return render_rows(b);
    }
    return AXON_EINVAL;
}

int config_doc_format(const char *name)
{
    static const char *const names[] = {"help", "markdown", "conf", "values", "env", "rows"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}
