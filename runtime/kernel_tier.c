/*
 * kernel_tier.c — tiered compiles (TJ_KERNEL_TIERED, TILEJIT_TIERED=1).
 * The fast schedules compile several times slower than the generic
 * lowering (attention_sm90 0.7 s against 0.2 s on a 2-core host), so a
 * miss whose fast cubin is cached nowhere launches the generic lowering of
 * the same specialization at once (tier 0) and compiles the fast kernel on
 * the background workers; the hot path finds the fast entry once it is
 * READY. kernel_int.h's header has the protocol.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "kernel_int.h"

void kernel_pick_free(kpick *p) {
    if (!p) return;
    free(p->src);
    free(p);
}

void kernel_tier_set(kentry *e, int tier) {
    pthread_mutex_lock(&e->mu);
    atomic_store_explicit(&e->tier, tier, memory_order_release);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* What the dispatcher gives e: emitting costs 0.05-0.2 ms against NVRTC's
 * 100+ ms, and the source is kept for the compile. NULL when it cannot be
 * emitted (the compile then reports why). */
static kpick *pick(const tj_kernel *k, const kentry *e) {
    kpick *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int64_t spec[KERNEL_MAX_SYMS];
    cache_specialize(k->g, e->rep, spec);
    if (emit_kernel(k->g, k->arch, spec, NULL, &p->src, &p->launch) != TJ_OK) {
        kernel_pick_free(p);
        return NULL;
    }
    return p;
}

/* e compiled here, as without tiers. */
static tj_status foreground(tj_kernel *k, kentry *e, kentry **out) {
    tj_status st = kernel_resolve(k, e, 0);
    if (st == TJ_OK) *out = e;
    return st;
}

tj_status kernel_tier_resolve(tj_kernel *k, kentry *e, const int64_t *sym_vals, kentry **out) {
    /* A cached fast cubin is loaded at once: no generic compile. */
    int missed = 0;
    tj_status st = kernel_resolve_cached(k, e, &missed);
    if (st != TJ_OK) return st;
    if (!missed) {
        *out = e;
        return TJ_OK;
    }
    e->pick = pick(k, e);
    if (!e->pick || !strcmp(e->pick->launch.schedule, "generic")) return foreground(k, e, out);
    /* Tier 0 first (other launches of the shape wait on e meanwhile, so
     * none sees it fail): only this thread resolves it. */
    kentry *t = NULL;
    st = kernel_use_variant(k, sym_vals, e->variant | KV_TIER0, &k->tier0_launches, &t);
    if (st != TJ_OK) return foreground(k, e, out);   /* no tier 0: the fast kernel now */
    /* From here launches that find e PENDING take t, READY for good. */
    kernel_tier_set(e, 1);
    if (kernel_bg_submit(k, e) != TJ_OK) {
        /* Out of memory: a later launch queues it again; t serves meanwhile. */
        kernel_pick_free(e->pick);
        e->pick = NULL;
        kernel_entry_fail(e, TJ_ERR_NO_MEMORY, KE_IDLE);
    }
    *out = t;
    return TJ_OK;
}
