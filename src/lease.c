/* lease.c - a request's pool session: taken, renewed, given back (lease.h). */
#include "lease.h"

#include <stdio.h>
#include <string.h>

#include "drain.h"
#include "fcgi_io.h"
#include "stats.h"
#include "upstream.h"

/* What the wait asks between polls. */
struct wait {
    struct axon_req *r;
    void (*also)(void *ud);
    void *ud;
};

/* A client that left, or the drain deadline, stops the wait (lease_take
 * then says which). */
static bool wait_over(void *ud)
{
    struct wait *w = ud;
    if (w->also)
        w->also(w->ud);
    return io_client_gone(w->r) || drain_cut();
}

int lease_take(struct axon_req *r, const char *pool, void (*also)(void *ud), void *ud,
               struct pool_lease *l, bool *held, bool *cut, struct api_error *e)
{
    const struct axon_config *cfg = r->cfg;
    struct wait w = {.r = r, .also = also, .ud = ud};
    int rc = pool_acquire(cfg, pool, l, wait_over, &w);
    if (rc == AXON_OK || rc == AXON_EBUSY)
        stats_acquire_wait(rc == AXON_OK ? l->wait_us : (uint64_t)cfg->pool_wait_ms * 1000u);
    *held = rc == AXON_OK;
    if (rc == AXON_EBUSY) {
        api_error_set(e, 429, "requests", "rate_limit_exceeded", NULL,
                      "All %d upstream sessions stayed busy for %d ms. Please retry shortly.",
                      cfg->pool_size, cfg->pool_wait_ms);
        snprintf(e->retry_after, sizeof e->retry_after, "1");
    } else if (rc == AXON_ECLIENT_GONE && !io_client_gone(r) && drain_cut()) {
        rc = AXON_EIO; /* the wait ended by the drain deadline */
        *cut = true;
    }
    return rc;
}

int lease_tick(struct axon_req *r, struct pool_lease *l, bool *cut)
{
    if (io_client_gone(r))
        return AXON_ECLIENT_GONE;
    if (drain_cut()) {
        *cut = true;
        return AXON_EIO;
    }
    (void)pool_renew(r->cfg, l);
    return AXON_OK;
}

enum pool_outcome lease_outcome(int rc, const struct api_error *e)
{
    if (rc == AXON_OK || !e->code)
        return POOL_DONE;
    return !strcmp(e->code, "server_is_overloaded") || !strcmp(e->code, "rate_limit_exceeded") ||
                   !strcmp(e->code, "upstream_auth_failed") || !strcmp(e->code, "insufficient_quota")
               ? POOL_REFUSED
               : POOL_DONE;
}

void lease_recycled(const struct axon_config *cfg, const struct provider_ops *pv)
{
    upstream_forget_connections();
    if (pv && pv->reload_key)
        (void)pv->reload_key(cfg);
}

void lease_give_back(const struct axon_config *cfg, const struct provider_ops *pv,
                     struct pool_lease *l, bool *held, int rc, const struct api_error *e)
{
    if (!*held)
        return;
    bool recycled = false;
    (void)pool_release(cfg, l, lease_outcome(rc, e), &recycled);
    *held = false;
    if (recycled)
        lease_recycled(cfg, pv);
}
