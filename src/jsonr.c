/* jsonr.c - reading a small JSON text of a known shape in place (jsonr.h). */
#include "jsonr.h"

#include <string.h>

void jsonr_init(struct jsonr *r, const char *p, size_t n)
{
    r->p = p;
    r->end = p + n;
}

static void ws(struct jsonr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

bool jsonr_char(struct jsonr *r, char c)
{
    ws(r);
    if (r->p >= r->end || *r->p != c)
        return false;
    r->p++;
    return true;
}

/* The string at r->p (its opening quote) up to its closing quote: *s, *n
 * its raw bytes, *esc whether a backslash is among them. Checks what
 * jsonv_check and json-c check of a string: no raw control character, a
 * valid short escape or a \u escape (which the caller refuses), and UTF-8
 * as json-c's validator sees it (json_tokener.c, json_tokener_validate_utf8:
 * a lead byte 110xxxxx, 1110xxxx or 11110xxx and then that many 10xxxxxx). */
static bool raw_str(struct jsonr *r, const char **s, size_t *n, bool *esc)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    const char *q = ++r->p;
    unsigned more = 0; /* continuation bytes still due */
    *esc = false;
    while (q < r->end) {
        unsigned char c = (unsigned char)*q;
        if (more) {
            if ((c & 0xc0) != 0x80)
                return false;
            more--;
            q++;
            continue;
        }
        if (c == '"') {
            *s = r->p;
            *n = (size_t)(q - r->p);
            r->p = q + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (q + 1 >= r->end)
                return false;
            char e = q[1];
            if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                  e == 'r' || e == 't'))
                return false; /* \u and anything invalid: the caller's full parse */
            *esc = true;
            q += 2;
            continue;
        }
        if (c >= 0x80) {
            if ((c & 0xe0) == 0xc0)
                more = 1;
            else if ((c & 0xf0) == 0xe0)
                more = 2;
            else if ((c & 0xf8) == 0xf0)
                more = 3;
            else
                return false;
        }
        q++;
    }
    return false;
}

bool jsonr_key(struct jsonr *r, bool first, const char **k, size_t *kn, bool *end)
{
    *end = false;
    ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        *end = true;
        return true;
    }
    if (!first && !jsonr_char(r, ','))
        return false;
    ws(r);
    bool esc;
    if (!raw_str(r, k, kn, &esc) || esc)
        return false;
    return jsonr_char(r, ':');
}

bool jsonr_str(struct jsonr *r, struct buf *out)
{
    const char *s;
    size_t n;
    bool esc;
    ws(r);
    if (!raw_str(r, &s, &n, &esc))
        return false;
    if (!esc)
        return buf_append(out, s, n) == AXON_OK;
    const char *e = s + n;
    while (s < e) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        const char *stop = bs ? bs : e;
        if (buf_append(out, s, (size_t)(stop - s)))
            return false;
        if (!bs)
            break;
        char d = bs[1]; /* \" \\ \/ stand for themselves */
        switch (d) {
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        case 'n': d = '\n'; break;
        case 'r': d = '\r'; break;
        case 't': d = '\t'; break;
        default: break;
        }
        if (buf_append(out, &d, 1))
            return false;
        s = bs + 2;
    }
    return true;
}

bool jsonr_str_eq(struct jsonr *r, const char *want)
{
    const char *s;
    size_t n;
    bool esc;
    ws(r);
    return raw_str(r, &s, &n, &esc) && !esc && n == strlen(want) && !memcmp(s, want, n);
}

bool jsonr_uint(struct jsonr *r, long *v)
{
    ws(r);
    const char *q = r->p;
    long x = 0;
    while (q < r->end && *q >= '0' && *q <= '9' && q - r->p < 9)
        x = x * 10 + (*q++ - '0');
    if (q == r->p || (q - r->p > 1 && *r->p == '0'))
        return false;
    /* A fraction, an exponent or a tenth digit: json-c's reading, not ours. */
    if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
        return false;
    r->p = q;
    *v = x;
    return true;
}

static bool lit(struct jsonr *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
        return false;
    r->p += n;
    return true;
}

bool jsonr_null(struct jsonr *r)
{
    ws(r);
    return lit(r, "null", 4);
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 digits a part: what json-c
 * reads as exactly as the text says. An exponent or a longer number is
 * left to json-c (its reading of 1e999, say, is its own). */
static bool number(struct jsonr *r)
{
    const char *q = r->p;
    if (q < r->end && *q == '-')
        q++;
    const char *d = q;
    while (q < r->end && *q >= '0' && *q <= '9')
        q++;
    if (q == d || q - d > 15 || (q - d > 1 && *d == '0'))
        return false;
    if (q < r->end && *q == '.') {
        d = ++q;
        while (q < r->end && *q >= '0' && *q <= '9')
            q++;
        if (q == d || q - d > 15)
            return false;
    }
    if (q < r->end && (*q == 'e' || *q == 'E'))
        return false;
    r->p = q;
    return true;
}

/* Recursive to JSONR_SKIP_DEPTH levels. NOLINTNEXTLINE(misc-no-recursion) */
static bool skip(struct jsonr *r, int depth)
{
    const char *s;
    size_t n;
    bool esc;
    ws(r);
    if (r->p >= r->end)
        return false;
    char c = *r->p;
    if (c == '"')
        return raw_str(r, &s, &n, &esc);
    if (c == 't')
        return lit(r, "true", 4);
    if (c == 'f')
        return lit(r, "false", 5);
    if (c == 'n')
        return lit(r, "null", 4);
    if (c != '{' && c != '[')
        return number(r);
    if (depth >= JSONR_SKIP_DEPTH)
        return false;
    bool keyed = c == '{';
    char close = keyed ? '}' : ']';
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return true;
    }
    for (;;) {
        ws(r);
        if (keyed && (!raw_str(r, &s, &n, &esc) || !jsonr_char(r, ':')))
            return false;
        if (!skip(r, depth + 1))
            return false;
        ws(r);
        if (r->p >= r->end)
            return false;
        c = *r->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
    }
}

bool jsonr_skip(struct jsonr *r)
{
    return skip(r, 0);
}

bool jsonr_done(struct jsonr *r)
{
    ws(r);
    return r->p == r->end;
}
