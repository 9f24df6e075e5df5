/* vcluster.h - the pure half of Valkey Cluster routing: a key's hash slot,
 * the slot map read from CLUSTER SLOTS, the key of a formatted command, and
 * the MOVED / ASK redirections. No I/O: valkey.c owns the connections and
 * uses these to choose one.
 *
 * The rules are the Redis Cluster specification's
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/):
 * HASH_SLOT = CRC16(key) mod 16384 with CRC16/XMODEM (poly 0x1021, init 0),
 * hashing only what is between the first '{' and the next '}' when that is
 * not empty (a hash tag); "-MOVED <slot> <host>:<port>" and
 * "-ASK <slot> <host>:<port>" error replies. */
#ifndef AXON_VCLUSTER_H
#define AXON_VCLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "axon.h"

#define VCLUSTER_SLOTS 16384
#define VCLUSTER_MAX_NODES 32 /* primaries in one map; more are refused (ETOOBIG) */
#define VCLUSTER_HOST_MAX 63  /* a node's host or IP (IPv6 included) */
#define VCLUSTER_NO_KEY VCLUSTER_SLOTS /* a command without a key: any node */

/* CRC16/XMODEM of n bytes (the check value of "123456789" is 0x31C3). */
unsigned vcluster_crc16(const char *p, size_t n);

/* The slot (0..16383) of a key of n bytes, its hash tag honoured. */
int vcluster_key_slot(const char *key, size_t n);

/* The slot of a RESP-formatted command's first key (borrows cmd, len
 * bytes, as redisFormatCommandArgv makes it): argv[1] for a plain command,
 * the first of the numkeys keys for EVAL / EVALSHA (and their _RO forms);
 * VCLUSTER_NO_KEY for a keyless command (TIME, PING, INFO, SCRIPT, WAIT,
 * CLUSTER, ...) or a script with no keys; AXON_EINVAL when cmd is not a
 * well-formed RESP array of bulk strings. */
int vcluster_cmd_slot(const char *cmd, size_t len);

/* argv (argc arguments of lens[i] bytes; borrowed) as a RESP array of bulk
 * strings, byte for byte what hiredis's redisFormatCommandArgv makes.
 * Returns new (free it with free(), or redisFreeCommand, which is free),
 * its length in *len. valkey.c formats every command with it: hiredis 0.14
 * formats each argument with sdscatfmt, about 700 instructions, and that
 * was some 16% of a chat completion's instructions (docs/performance.md). */
char *vcluster_format(int argc, const char **argv, const size_t *lens, size_t *len);

struct vcluster_node {
    char host[VCLUSTER_HOST_MAX + 1];
    int port;
};

/* The slot map: each slot's primary as an index into node[] (owner 0: no
 * node known, else index + 1). */
struct vcluster_map {
    int n;
    struct vcluster_node node[VCLUSTER_MAX_NODES];
    unsigned char owner[VCLUSTER_SLOTS];
};

/* The index of host:port in m, added when new: >= 0, or AXON_ETOOBIG when
 * m is full, AXON_EINVAL for a host too long or a port out of range. */
int vcluster_map_node(struct vcluster_map *m, const char *host, int port);

/* Fills m (overwritten) from a CLUSTER SLOTS reply (borrowed): primaries
 * only. A primary's endpoint that is empty, NULL or "?" means the host the
 * command was asked of (asked_host, borrowed). 0; AXON_EPROTO for a reply
 * of another shape; AXON_ETOOBIG for too many primaries. */
int vcluster_map_parse(struct vcluster_map *m, const redisReply *r, const char *asked_host);

/* The primary of slot (NULL when unknown). Borrows from m. */
const struct vcluster_node *vcluster_map_owner(const struct vcluster_map *m, int slot);

struct vcluster_redirect {
    bool ask; /* ASK: this command only, after ASKING; MOVED: the map changed */
    int slot;
    struct vcluster_node to;
};

/* Parses an error reply's text (len bytes, borrowed) as MOVED or ASK.
 * An empty host ("MOVED 3999 :6381") means asked_host. 0, or AXON_EINVAL
 * when it is not a redirection (or a malformed one). */
int vcluster_redirect_parse(const char *err, size_t len, const char *asked_host,
                            struct vcluster_redirect *out);

#endif
