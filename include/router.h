/* router.h - method + path to handler, auth in front of /v1/, and the
 * OpenAI-shaped 404/405/414 answers. */
#ifndef AXON_ROUTER_H
#define AXON_ROUTER_H

#include <stdbool.h>
#include "reqctx.h"

/* A handler answers the request itself and returns AXON_OK, or returns an
 * error code having sent nothing (the router then answers 500) or after the
 * client left (AXON_ECLIENT_GONE: nothing more can be sent). */
typedef int (*route_fn)(struct axon_req *r);

/* Who may call a route: the router checks it before the handler runs. */
enum route_auth {
    ROUTE_KEY,     /* a valid API key (the zero value: a new route is closed) */
    ROUTE_PUBLIC,  /* anyone, also during the drain: probes, /stats */
    ROUTE_METRICS, /* a key unless AXON_METRICS_PUBLIC; open during the drain */
};

struct route {
    const char *method;
    const char *path;
    bool prefix;     /* path is a prefix; the rest is the route's argument */
    enum route_auth auth;
    bool test_only;  /* exists only with AXON_TEST_ROUTES=1 */
    route_fn fn;
};

/* What the table says of a method and path, for dispatch and for tests. */
enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/* Looks up method and path (borrowed). On ROUTE_FOUND *out is the route and
 * *arg the part after a prefix; on ROUTE_NO_METHOD allow receives the
 * methods the path takes ("GET, POST"). */
enum route_match router_match(const char *method, const char *path, bool test_routes,
                              const struct route **out, const char **arg, char *allow,
                              size_t allow_len);

/* Answers one request completely. Borrows r. */
void router_handle(struct axon_req *r);

/* Checks the Bearer key: AXON_OK with r->tenant set, or AXON_EDENIED after
 * answering 401 (no key, or one that is not configured). Borrows r. */
int router_authenticate(struct axon_req *r) AXON_MUST_CHECK;

#endif
