/* vcluster.c - slots, the slot map, command keys and redirections for
 * Valkey Cluster routing. Pure: see vcluster.h. */
#include "vcluster.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "text.h"

unsigned vcluster_crc16(const char *p, size_t n)
{
    /* Bitwise CRC16/XMODEM: the cluster spec's definition. A table would be
     * faster, but keys here are tens of bytes: a few hundred shifts. */
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000u) ? ((crc << 1) ^ 0x1021u) & 0xffffu : (crc << 1) & 0xffffu;
    }
    return crc;
}

int vcluster_key_slot(const char *key, size_t n)
{
    /* The spec: the first '{', then the first '}' after it; a tag only when
     * something is between them ("{}" hashes the whole key). */
    const char *open = memchr(key, '{', n);
    if (open) {
        size_t rest = n - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return (int)(vcluster_crc16(open + 1, (size_t)(close - open - 1)) & 0x3fffu);
    }
    return (int)(vcluster_crc16(key, n) & 0x3fffu);
}

/* One RESP length line at *p ("<c><digits>\r\n"): the number, or -1. */
static long long resp_len(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    const char *s = *p + 1;
    const char *nl = memchr(s, '\r', (size_t)(end - s));
    int64_t v;
    if (!nl || nl + 1 >= end || nl[1] != '\n' ||
        text_parse_i64_n(s, (size_t)(nl - s), 0, 512LL * 1024 * 1024, &v))
        return -1;
    *p = nl + 2;
    return (long long)v;
}

/* Reads the argument at *p: its bytes in *a, *an; 0 or -1. */
static int resp_arg(const char **p, const char *end, const char **a, size_t *an)
{
    long long n = resp_len(p, end, '$');
    if (n < 0 || end - *p < n + 2 || (*p)[n] != '\r' || (*p)[n + 1] != '\n')
        return -1;
    *a = *p;
    *an = (size_t)n;
    *p += n + 2;
    return 0;
}

static bool named(const char *a, size_t an, const char *name)
{
    return an == strlen(name) && strncasecmp(a, name, an) == 0;
}

/* Commands Axon may send that name no key: they go to any node. */
static bool keyless(const char *a, size_t an)
{
    static const char *const names[] = {
        "TIME",   "PING",    "INFO",   "SCRIPT",   "WAIT",    "CLUSTER", "DBSIZE",
        "FLUSHALL", "FLUSHDB", "AUTH", "SELECT",   "ECHO",    "CONFIG",  "CLIENT",
        "COMMAND", "READONLY", "READWRITE", "ASKING", "HELLO", "DEBUG",  "MEMORY",
        "LASTSAVE", "ROLE",   "SLOWLOG", "KEYS",   "SCAN",    "RANDOMKEY", "FUNCTION",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (named(a, an, names[i]))
            return true;
    return false;
}

int vcluster_cmd_slot(const char *cmd, size_t len)
{
    const char *p = cmd, *end = cmd + len;
    long long argc = resp_len(&p, end, '*');
    const char *a;
    size_t an;
    if (argc < 1 || resp_arg(&p, end, &a, &an))
        return AXON_EINVAL;
    if (keyless(a, an))
        return VCLUSTER_NO_KEY;
    bool script = named(a, an, "EVAL") || named(a, an, "EVALSHA") || named(a, an, "EVAL_RO") ||
                  named(a, an, "EVALSHA_RO") || named(a, an, "FCALL") ||
                  named(a, an, "FCALL_RO");
    if (script) {
        /* EVALSHA sha numkeys key... */
        int64_t nkeys;
        if (argc < 3 || resp_arg(&p, end, &a, &an) || resp_arg(&p, end, &a, &an) ||
            text_parse_i64_n(a, an, 0, argc - 3, &nkeys))
            return AXON_EINVAL;
        if (nkeys == 0)
            return VCLUSTER_NO_KEY;
    } else if (argc < 2) {
        return VCLUSTER_NO_KEY; /* a command without arguments has no key */
    }
    if (resp_arg(&p, end, &a, &an))
        return AXON_EINVAL;
    return vcluster_key_slot(a, an);
}

int vcluster_map_node(struct vcluster_map *m, const char *host, int port)
{
    size_t hn = strlen(host);
    if (hn == 0 || hn > VCLUSTER_HOST_MAX || port < 1 || port > 65535)
        return AXON_EINVAL;
    for (int i = 0; i < m->n; i++)
        if (m->node[i].port == port && strcmp(m->node[i].host, host) == 0)
            return i;
    if (m->n >= VCLUSTER_MAX_NODES)
        return AXON_ETOOBIG;
    memcpy(m->node[m->n].host, host, hn + 1);
    m->node[m->n].port = port;
    return m->n++;
}

const struct vcluster_node *vcluster_map_owner(const struct vcluster_map *m, int slot)
{
    if (slot < 0 || slot >= VCLUSTER_SLOTS || m->owner[slot] == 0)
        return NULL;
    return &m->node[m->owner[slot] - 1];
}

static bool int_in(const redisReply *r, long long lo, long long hi, long long *v)
{
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < lo || r->integer > hi)
        return false;
    *v = r->integer;
    return true;
}

int vcluster_map_parse(struct vcluster_map *m, const redisReply *r, const char *asked_host)
{
    memset(m, 0, sizeof *m);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return AXON_EPROTO;
    for (size_t i = 0; i < r->elements; i++) {
        /* [start, end, [endpoint, port, id, ...], replicas...] */
        const redisReply *e = r->element[i];
        long long lo, hi, port;
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            !int_in(e->element[0], 0, VCLUSTER_SLOTS - 1, &lo) ||
            !int_in(e->element[1], lo, VCLUSTER_SLOTS - 1, &hi))
            return AXON_EPROTO;
        const redisReply *p = e->element[2];
        if (!p || p->type != REDIS_REPLY_ARRAY || p->elements < 2 ||
            !int_in(p->element[1], 1, 65535, &port))
            return AXON_EPROTO;
        const redisReply *h = p->element[0];
        const char *host = asked_host;
        /* Redis 7: NULL or "?" is an unknown endpoint, "" the asked host. */
        if (h && h->type == REDIS_REPLY_STRING && h->len > 0 && strcmp(h->str, "?") != 0)
            host = h->str;
        else if (h && h->type != REDIS_REPLY_STRING && h->type != REDIS_REPLY_NIL)
            return AXON_EPROTO;
        int at = vcluster_map_node(m, host, (int)port);
        if (at == AXON_ETOOBIG)
            return AXON_ETOOBIG;
        if (at < 0)
            return AXON_EPROTO;
        for (long long s = lo; s <= hi; s++)
            m->owner[s] = (unsigned char)(at + 1);
    }
    return AXON_OK;
}

int vcluster_redirect_parse(const char *err, size_t len, const char *asked_host,
                            struct vcluster_redirect *out)
{
    memset(out, 0, sizeof *out);
    size_t skip;
    if (len > 5 && memcmp(err, "MOVED ", 6) == 0) {
        skip = 6;
    } else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
        skip = 4;
        out->ask = true;
    } else {
        return AXON_EINVAL;
    }
    const char *p = err + skip, *end = err + len;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    int64_t slot, port;
    if (!sp || text_parse_i64_n(p, (size_t)(sp - p), 0, VCLUSTER_SLOTS - 1, &slot))
        return AXON_EINVAL;
    const char *addr = sp + 1;
    /* host:port, the port after the last ':' (an IPv6 host has colons). */
    const char *colon = NULL;
    for (const char *q = addr; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon || text_parse_i64_n(colon + 1, (size_t)(end - colon - 1), 1, 65535, &port))
        return AXON_EINVAL;
    size_t hn = (size_t)(colon - addr);
    const char *host = addr;
    if (hn == 0) {
        host = asked_host ? asked_host : "";
        hn = strlen(host);
    }
    if (hn == 0 || hn > VCLUSTER_HOST_MAX)
        return AXON_EINVAL;
    memcpy(out->to.host, host, hn);
    out->to.host[hn] = '\0';
    out->to.port = (int)port;
    out->slot = (int)slot;
    return AXON_OK;
}

/* ---- formatting ----------------------------------------------------------- */

/* "<kind><n>\r\n" at w; returns the end. */
static char *resp_head(char *w, char kind, size_t n)
{
    *w++ = kind;
    w += text_i64(w, 24, (long long)n);
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

char *vcluster_format(int argc, const char **argv, const size_t *lens, size_t *len)
{
    size_t n = 24 + 2;
    for (int i = 0; i < argc; i++)
        n += 1 + 24 + 2 + lens[i] + 2;
    char *out = xmalloc(n);
    char *w = resp_head(out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        w = resp_head(w, '$', lens[i]);
        if (lens[i])
            memcpy(w, argv[i], lens[i]);
        w += lens[i];
        *w++ = '\r';
        *w++ = '\n';
    }
    *len = (size_t)(w - out);
    return out;
}
