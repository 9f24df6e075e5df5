/* text.c - helpers for untrusted text. */
#include <stdarg.h>
#include <stdio.h>
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int text_parse_i64_n(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    /* Copy to a terminated buffer so strtoll cannot read past n. */
    char tmp[32];
    if (n == 0 || n >= sizeof tmp)
        return AXON_EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* strtoll skips leading space and takes '+': neither is a number here. */
    if (!(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')))
        return AXON_EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || end != tmp + n || v < min || v > max)
        return AXON_EINVAL;
    *out = (int64_t)v;
    return AXON_OK;
}

int text_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s)
        return AXON_EINVAL;
    return text_parse_i64_n(s, strlen(s), min, max, out);
}

static char lower(char c)
{
    return (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
}

bool text_ieq_n(const char *a, size_t n, const char *b)
{
    size_t i = 0;
    for (; i < n; i++)
        if (!b[i] || lower(a[i]) != lower(b[i]))
            return false;
    return b[i] == '\0';
}

void text_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

void text_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void text_random(void *p, size_t n)
{
    unsigned char *q = p;
    while (n) {
        ssize_t got = getrandom(q, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        q += got;
        n -= (size_t)got;
    }
}

bool text_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

const char *text_query_get(const char *q, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        if (seg > nlen && q[nlen] == '=' && memcmp(q, name, nlen) == 0) {
            *len = seg - nlen - 1;
            return q + nlen + 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int text_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return AXON_EINVAL;
}

size_t text_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void text_utf8_trim(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--; /* back over continuation bytes to the lead byte */
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need)
        s[i - 1] = '\0';
}

void text_append_header(char *dst, size_t cap, const char *line)
{
    size_t used = strnlen(dst, cap), n = strlen(line);
    if (used + n + 3 > cap)
        return; /* the fixed headers are ours and short: only a bug gets here */
    memcpy(dst + used, line, n);
    memcpy(dst + used + n, "\r\n", 3);
}

void text_list_add(char *dst, size_t cap, const char *word)
{
    size_t used = strnlen(dst, cap), n = strlen(word);
    for (const char *p = dst; p < dst + used;) { /* already listed? */
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !memcmp(p, word, n))
            return;
        p += len + (end ? 2 : 0);
        if (!end)
            break;
    }
    size_t sep = used ? 2 : 0;
    if (used + sep + n + 1 > cap)
        return;
    memcpy(dst + used, ", ", sep);
    memcpy(dst + used + sep, word, n + 1);
}

int text_b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    return c == (url ? '_' : '/') ? 63 : -1;
}

int text_base64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, i = 0;
    for (; i < n && in[i] != '='; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r' || c == '\n') /* MIME line breaks */
            continue;
        int v = text_b64_value(c, false);
        if (v < 0)
            return AXON_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    for (; i < n; i++) /* only padding may follow */
        if (in[i] != '=' && in[i] != '\r' && in[i] != '\n')
            return AXON_EINVAL;
    *outlen = o;
    return AXON_OK;
}

/* The length of the well-formed UTF-8 sequence at p[0..n) (n > 0), or 0 when
 * p[0] does not start one: overlong forms, surrogates and values past
 * Unicode are not well-formed. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

bool text_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

int text_utf8_pct_escape(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    int rc = AXON_OK;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        size_t need = len ? len : 3;
        if (o + need >= cap) { /* the NUL needs its byte too */
            rc = AXON_ETOOBIG;
            break;
        }
        if (len) {
            memcpy(out + o, s + i, len);
            i += len;
        } else {
            out[o] = '%';
            out[o + 1] = hex[p[i] >> 4];
            out[o + 2] = hex[p[i] & 15];
            i++;
        }
        o += need;
    }
    if (cap)
        out[o] = '\0';
    *outlen = o;
    return rc;
}

size_t text_join(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        if (!parts[i])
            continue;
        size_t n = strlen(parts[i]);
        if (cap && len < cap - 1) {
            size_t room = cap - 1 - len;
            memcpy(dst + len, parts[i], n < room ? n : room);
        }
        len += n;
    }
    if (cap)
        dst[len < cap ? len : cap - 1] = '\0';
    return len;
}

size_t text_i64(char *dst, size_t cap, long long v)
{
    char tmp[24]; /* "-9223372036854775808" is 20 */
    char *e = tmp + sizeof tmp - 1, *d = e;
    *e = '\0';
    /* In unsigned arithmetic so that LLONG_MIN negates without overflow. */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--d = '-';
    return text_join(dst, cap, d, NULL, NULL);
}
