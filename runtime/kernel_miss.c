/*
 * kernel_miss.c — a launch whose specialization is not loaded: one thread
 * per key resolves it (the others wait, or in background mode launch the
 * dynamic-shape variant) by looking in the bundles, then the disk cache,
 * then compiling under the cache's cross-process lock; then it loads the
 * cubin and publishes the entry. Different keys resolve in parallel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "ir.h"
#include "kernel_int.h"
#include "nvrtc.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- entries ------------------------------------------------------------ */

static kentry *entry_new(const tj_kernel *k, const kspec *s, const int64_t *sym_vals) {
    kentry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        return NULL;
    }
    if (pthread_cond_init(&e->cv, NULL) != 0) {
        pthread_mutex_destroy(&e->mu);
        free(e);
        return NULL;
    }
    e->hash = s->hash;
    e->variant = s->variant;
    for (int i = 0; i < k->nsym; i++) {
        e->spec[i] = s->v[i];
        e->rep[i] = (s->variant & KV_DYNAMIC) && !k->syms[i].sizes_tile ? TJ_UNBOUND : sym_vals[i];
    }
    atomic_init(&e->state, KE_IDLE);
    return e;
}

void kernel_entry_free(tj_kernel *k, kentry *e) {
    (void)k;
    if (e->lib) drv_library_unload(e->lib);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->errmsg);
    free(e->nearest);
    kernel_pick_free(e->pick);
    free(e);
}

/* The map's entry for s, made (IDLE) when there is none. */
static tj_status entry_get(tj_kernel *k, const kspec *s, const int64_t *sym_vals, kentry **out) {
    kentry *e = kmap_find(&k->map, s);
    if (e) {
        *out = e;
        return TJ_OK;
    }
    kentry *n = entry_new(k, s, sym_vals);
    if (n) e = kmap_insert(&k->map, n);
    if (!n || !e) {
        if (n) kernel_entry_free(k, n);
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_launch(graph '%s'): out of memory",
                            k->g->name);
    }
    if (e != n) {
        kernel_entry_free(k, n);   /* another thread inserted it first */
    } else {
        pthread_mutex_lock(&k->mu);
        n->next_all = k->all;
        k->all = n;
        pthread_mutex_unlock(&k->mu);
        if (n->variant == 0) atomic_fetch_add(&k->misses, 1);
    }
    *out = e;
    return TJ_OK;
}

void kernel_entry_fail(kentry *e, tj_status st, int state) {
    char *msg = strdup(tj_last_error());
    pthread_mutex_lock(&e->mu);
    free(e->errmsg);
    e->errmsg = msg;
    e->err = st;
    e->gen++;
    atomic_store_explicit(&e->state, state, memory_order_release);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static tj_status entry_error(kentry *e) {
    pthread_mutex_lock(&e->mu);
    tj_status st = e->err != TJ_OK ? e->err : TJ_ERR_INTERNAL;
    tj_set_error(st, "%s", e->errmsg ? e->errmsg : "out of memory");
    pthread_mutex_unlock(&e->mu);
    return st;
}

/* Wait while another thread resolves e (or, unless through_tier, until
 * it has a tier-0 entry to launch). TJ_OK: look at the state again; else
 * the error of the attempt waited for. */
static tj_status entry_wait(kentry *e, int through_tier) {
    pthread_mutex_lock(&e->mu);
    unsigned gen = e->gen;
    while (atomic_load_explicit(&e->state, memory_order_acquire) == KE_PENDING &&
           (through_tier || !atomic_load_explicit(&e->tier, memory_order_acquire)))
        pthread_cond_wait(&e->cv, &e->mu);
    int failed = atomic_load_explicit(&e->state, memory_order_acquire) == KE_IDLE && e->gen != gen;
    pthread_mutex_unlock(&e->mu);
    return failed ? entry_error(e) : TJ_OK;
}

/* ---- finding a cubin ------------------------------------------------------- */

typedef struct found {
    const void *img;
    size_t size;
    void *owned;          /* malloc'd image (disk, compile) */
    int have_launch;
    emit_launch launch;   /* when compiled: its description */
    const char *source;   /* for TILEJIT_LOG */
} found;

static int lookup(tj_kernel *k, const cache_key *key, found *f) {
    if (kernel_bundle_find(key->hex, &f->img, &f->size)) {
        atomic_fetch_add(&k->bundle_hits, 1);
        f->source = "from a bundle";
        return 1;
    }
    void *c = NULL;
    size_t n = 0;
    if (cache_get(k->dir, key, &c, &n) == TJ_OK && c) {
        f->owned = c;
        f->img = c;
        f->size = n;
        atomic_fetch_add(&k->disk_hits, 1);
        f->source = "from the cache";
        return 1;
    }
    return 0;
}

/* The "symbols=..." line of a key's description. */
static void key_symbols(const cache_key *key, char *buf, size_t size) {
    const char *p = key->desc ? strstr(key->desc, "\nsymbols=") : NULL;
    if (!p) {
        snprintf(buf, size, "symbols unknown");
        return;
    }
    p += 1;
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    if (n == (int)strlen("symbols=")) {
        snprintf(buf, size, "no symbols");
        return;
    }
    snprintf(buf, size, "%.*s", n, p);
}

/* What the nearest prebuilt entry (bundles, disk) has that this key does
 * not: cache_explain's report on one line, computed once per entry (it
 * scans the cache directory). */
static const char *nearest_entry(kentry *e, const cache_key *key, cache_dir *dir) {
    if (e->nearest) return e->nearest;
    int nb = 0;
    cache_bundle *const *b = kernel_bundles(&nb);
    cache_explanation ex;
    char line[768] = "; no prebuilt entry exists at all";
    if (cache_explain(dir, b, nb, key->desc, &ex) == TJ_OK) {
        if (ex.found && ex.report && *ex.report) {
            int n = snprintf(line, sizeof line, "; the nearest prebuilt entry differs in ");
            for (const char *p = ex.report; *p && n < (int)sizeof line - 1; p++)
                line[n++] = *p == '\n' ? (p[1] ? ';' : '\0') : *p;
            line[n < (int)sizeof line ? n : (int)sizeof line - 1] = '\0';
        }
        cache_explanation_free(&ex);
    }
    e->nearest = strdup(line);
    return e->nearest ? e->nearest : "";
}

static tj_status no_compile_error(const tj_kernel *k, kentry *e, const cache_key *key) {
    char syms[512];
    key_symbols(key, syms, sizeof syms);
    const char *dir = cache_dir_path(k->dir);
    const char *nearest = nearest_entry(e, key, k->dir);
    return tj_set_error(
        TJ_ERR_UNSUPPORTED,
        "graph '%s': no prebuilt kernel for key %s (%s, arch %s) in %d bundle(s) or the "
        "cache%s%s%s, and compiling is off (%s). Prebuild it, on any machine (no GPU needed): list this graph "
        "with these symbol values in a manifest and run `tilejit prebuild MANIFEST --arch %s -o "
        "BUNDLE`, then give the bundle with TILEJIT_BUNDLES=BUNDLE or tj_add_bundle(); or fill "
        "the cache with `tilejit prebuild MANIFEST --arch %s --cache-dir DIR`",
        k->g->name, key->hex, syms, k->arch, kernel_bundle_count(), dir ? " at " : "",
        dir ? dir : " (memory only)", nearest,
        (k->flags & TJ_KERNEL_NO_COMPILE) ? "TJ_KERNEL_NO_COMPILE" : "TILEJIT_NO_COMPILE=1",
        k->arch, k->arch);
}

/* The schedule an entry's key names, for cache_key_for_compile_as and
 * emit_kernel's `force` (NULL: the dispatcher's pick). */
static const char *entry_schedule(const kentry *e) {
    return (e->variant & KV_TIER0) ? "generic" : NULL;
}

/* The same as the key's schedule component ("auto": the dispatcher's). */
static const char *entry_key_schedule(const kentry *e) {
    const char *s = entry_schedule(e);
    return s ? s : "auto";
}

/* Compile e under the cache's cross-process lock (another process may
 * have just written it: look again first), then store the cubin. */
static tj_status compile_entry(tj_kernel *k, kentry *e, const cache_key *key, found *f) {
    if (k->no_compile) return no_compile_error(k, e, key);
    int fd = -1;
    if (cache_lock(k->dir, key, &fd) != TJ_OK) fd = -1;   /* go on without it */
    if (lookup(k, key, f)) {
        cache_unlock(fd);
        return TJ_OK;
    }
    int64_t spec[KERNEL_MAX_SYMS];
    cache_specialize(k->g, e->rep, spec);
    void *cubin = NULL;
    size_t size = 0;
    char *log = NULL;
    kernel_nvtx_push(k->nvtx_compile);
    uint64_t t0 = now_ns();
    tj_status st;
    const char *sched = entry_schedule(e);
    unsigned flags = k->in_child ? TJ_COMPILE_IN_CHILD : 0;
    if (k->hooks.compile) {
        memset(&f->launch, 0, sizeof f->launch);
        snprintf(f->launch.schedule, sizeof f->launch.schedule, "%s", sched ? sched : "");
        st = k->hooks.compile(k->hooks.user, k->g, k->arch, spec, &cubin, &size, &f->launch);
    } else if (e->pick) {
        f->launch = e->pick->launch;
        st = compile_source(k->g, k->arch, e->pick->src, flags, &cubin, &size, &log);
    } else {
        st = compile_graph_as(k->g, k->arch, spec, sched, flags, &cubin, &size, &log, &f->launch);
    }
    atomic_fetch_add(&k->compile_ns, now_ns() - t0);
    kernel_nvtx_pop();
    atomic_fetch_add(&k->compiles, 1);
    tj_free(log);
    if (st == TJ_OK && !cubin) st = tj_set_error(TJ_ERR_INTERNAL, "compile gave no cubin");
    if (st == TJ_OK) {
        f->owned = cubin;
        f->img = cubin;
        f->size = size;
        f->have_launch = 1;
        f->source = "compiled";
        /* The entry records the compiler that made it (not part of the key). */
        char ver[32] = "";
        int maj = 0, min = 0;
        if (!k->hooks.compile && nvrtc_version(&maj, &min) == TJ_OK)
            snprintf(ver, sizeof ver, "%d.%d", maj, min);
        cache_key full;
        if (ver[0] && cache_key_for_compile_as(k->g, k->hash, e->rep, k->arch,
                                               entry_key_schedule(e), ver, &full) == TJ_OK) {
            cache_put(k->dir, &full, cubin, size);   /* a failed write is not fatal */
            cache_key_free(&full);
        } else {
            cache_put(k->dir, key, cubin, size);
        }
    } else {
        free(cubin);
    }
    cache_unlock(fd);
    return st;
}

/* ---- loading and publishing --------------------------------------------- */

/* Where a tensor map's dims and strides come from at launch. */
static tj_status tmap_layout(const tj_kernel *k, const emit_param *q, ktmap *m) {
    const tj_graph *g = k->g;
    const ir_tensor *t = &g->tensors[q->index];
    const emit_tmap *d = &q->tmap;
    if (d->rank != t->rank || d->rank < 1 || d->rank > 5)
        return tj_set_error(TJ_ERR_INTERNAL, "graph '%s': tensor map of '%s' has rank %d, the "
                            "tensor %d", g->name, t->name, d->rank, t->rank);
    memset(m, 0, sizeof *m);
    m->tensor = q->index;
    m->dtype = t->dtype;
    m->rank = t->rank;
    m->contiguous = !t->has_strides;
    for (int i = 0; i < t->rank; i++) {
        int src = t->rank - 1 - i;   /* innermost first */
        int sd = ir_dim_sym(g, t->dims[src]);
        m->dim[i] = sd >= 0 ? -1 - sd : (int64_t)t->dims[src];
        if (t->has_strides) {
            int ss = ir_dim_sym(g, t->strides[src]);
            m->stride[i] = ss >= 0 ? -1 - ss : (int64_t)t->strides[src];
        }
        m->box[i] = d->box[i];
        if (d->box[i] < 1 || d->box[i] > 256)
            return tj_set_error(TJ_ERR_INTERNAL, "graph '%s': tensor map of '%s' has box %u in "
                                "dimension %d (1..256)", g->name, t->name, d->box[i], i);
    }
    m->swizzle = d->swizzle;
    m->l2_promotion = d->l2_promotion;
    m->oob_nan = d->oob_nan;
    return TJ_OK;
}

/* The launch's grid and cluster, checked. PERSISTENT grids need the
 * device's SM count, asked once here (not on the hot path). */
static tj_status grid_layout(const tj_kernel *k, kentry *e, const emit_launch *L) {
    e->grid_mode = L->grid_mode;
    e->grid_arg = L->grid_arg;
    e->has_cluster = 0;
    for (int i = 0; i < 3; i++) {
        e->cluster[i] = L->cluster[i] ? L->cluster[i] : 1;
        if (e->cluster[i] != 1) e->has_cluster = 1;
    }
    if (L->grid_mode < EMIT_GRID_GRAPH || L->grid_mode > EMIT_GRID_MUL ||
        (L->grid_mode != EMIT_GRID_GRAPH && (L->grid_arg < 1 || L->grid_arg > 1 << 20)) ||
        e->cluster[0] * e->cluster[1] * e->cluster[2] > 16)
        return tj_set_error(TJ_ERR_INTERNAL, "graph '%s': launch description has grid mode %d "
                            "(argument %d), cluster %ux%ux%u", k->g->name, L->grid_mode,
                            L->grid_arg, e->cluster[0], e->cluster[1], e->cluster[2]);
    if (L->grid_mode != EMIT_GRID_PERSISTENT) return TJ_OK;
    int sms = 0;
    if (k->hooks.launch) {
        sms = 132;   /* a test's fake device */
    } else {
        int ordinal = 0;
        drv_device dev;
        tj_status st = drv_context_device(&ordinal);
        if (st == TJ_OK) st = drv_device_info(ordinal, &dev);
        if (st != TJ_OK) return st;
        sms = dev.sm_count;
    }
    uint64_t blocks = (uint64_t)sms * (uint64_t)L->grid_arg;
    e->max_blocks = blocks > INT32_MAX ? INT32_MAX : (unsigned)blocks;
    return TJ_OK;
}

/* The parameter layout of a launch description, checked against the graph. */
static tj_status layout(const tj_kernel *k, kentry *e, const emit_launch *L) {
    if (L->nparams < 0 || L->nparams > EMIT_MAX_PARAMS || L->threads < 1 || L->threads > 1024 ||
        L->smem_bytes > (size_t)INT32_MAX)
        return tj_set_error(TJ_ERR_INTERNAL,
                            "graph '%s': launch description has %d parameters, %d threads, %zu "
                            "bytes of shared memory",
                            k->g->name, L->nparams, L->threads, L->smem_bytes);
    e->ntmaps = 0;
    for (int p = 0; p < L->nparams; p++) {
        const emit_param *q = &L->params[p];
        int n = q->kind == EMIT_PARAM_TENSOR || q->kind == EMIT_PARAM_TENSORMAP ? k->ntensors
              : q->kind == EMIT_PARAM_SCALAR ? k->nscalars
              : q->kind == EMIT_PARAM_GRID ? TJ_MAX_GRID : k->nsym;
        int conv = q->kind == EMIT_PARAM_TENSOR ? KCONV_PTR
                 : q->kind == EMIT_PARAM_SYMBOL ? KCONV_SYM
                 : q->kind == EMIT_PARAM_TENSORMAP ? KCONV_TMAP
                 : q->kind == EMIT_PARAM_GRID ? KCONV_GRID : -1;
        if (q->kind == EMIT_PARAM_SCALAR && q->index >= 0 && q->index < n) {
            conv = k->scalar_conv[q->index];
            int want = conv == KCONV_F32 ? EMIT_C_F32 : conv == KCONV_I64 ? EMIT_C_I64 : EMIT_C_I32;
            if (q->ctype != want) conv = -1;
        }
        if (q->kind == EMIT_PARAM_TENSOR && q->ctype != EMIT_C_PTR) conv = -1;
        if ((q->kind == EMIT_PARAM_SYMBOL || q->kind == EMIT_PARAM_GRID) && q->ctype != EMIT_C_I32)
            conv = -1;
        if (q->kind == EMIT_PARAM_TENSORMAP &&
            (q->ctype != EMIT_C_TMAP || e->ntmaps == KERNEL_MAX_TMAPS))
            conv = -1;
        if (q->index < 0 || q->index >= n || conv < 0)
            return tj_set_error(TJ_ERR_INTERNAL,
                                "graph '%s': kernel parameter %d (kind %d, index %d, type %d) "
                                "does not match the graph",
                                k->g->name, p, (int)q->kind, q->index, q->ctype);
        e->params[p] = (kparam){(uint8_t)conv, 0, (uint16_t)q->index};
        if (conv == KCONV_TMAP) {
            tj_status st = tmap_layout(k, q, &e->tmaps[e->ntmaps]);
            if (st != TJ_OK) return st;
            e->params[p].aux = (uint8_t)e->ntmaps++;
        }
    }
    e->nparams = L->nparams;
    e->threads = (unsigned)L->threads;
    e->smem = (unsigned)L->smem_bytes;
    return grid_layout(k, e, L);
}

/* A persistent grid in clusters: no more clusters than fit on the device
 * at once (a cluster stays in one GPC, and a GPC with an odd SM count
 * cannot hold pairs on all its SMs), else the last ones run after the
 * first finish and the kernel takes two waves' time. The driver's answer
 * for this kernel's threads and shared memory, asked once per entry; when
 * it cannot say, the grid stays one block an SM. */
static void resident_clusters(const tj_kernel *k, kentry *e) {
    if (e->grid_mode != EMIT_GRID_PERSISTENT || !e->has_cluster) return;
    unsigned block[3] = {e->threads, 1, 1};
    int n = 0;
    if (drv_kernel_max_clusters((drv_kernel *)e->fn, block, e->smem, e->cluster, &n) != TJ_OK) {
        kernel_log(k, "persistent grid: resident clusters unknown (%s)", tj_last_error());
        return;
    }
    uint64_t size = (uint64_t)e->cluster[0] * e->cluster[1] * e->cluster[2];
    uint64_t b = (uint64_t)n * size;
    if (n > 0 && b < e->max_blocks) e->max_blocks = (unsigned)b;
    kernel_log(k, "persistent grid: %d clusters of %llu resident, %u blocks at most", n,
               (unsigned long long)size, e->max_blocks);
}

static tj_status publish(tj_kernel *k, kentry *e, found *f) {
    tj_status st = TJ_OK;
    if (!f->have_launch && e->pick) {
        f->launch = e->pick->launch;
    } else if (!f->have_launch) {
        /* A cubin from a bundle or the disk: its launch description is
         * what the emitter says for this specialization (no compile). */
        int64_t spec[KERNEL_MAX_SYMS];
        cache_specialize(k->g, e->rep, spec);
        char *src = NULL;
        st = emit_kernel(k->g, k->arch, spec, entry_schedule(e), &src, &f->launch);
        free(src);
        if (st != TJ_OK) return st;
    }
    if ((st = layout(k, e, &f->launch)) != TJ_OK) return st;
    kernel_log_specialization(k, e, &f->launch, f->source ? f->source : "loaded");
    if (k->hooks.load) {
        st = k->hooks.load(k->hooks.user, f->img, f->size, f->launch.kernel, &e->fn);
    } else {
        drv_kernel *fn = NULL;
        st = drv_library_load(f->img, f->size, &e->lib);
        if (st == TJ_OK) st = drv_library_get_kernel(e->lib, f->launch.kernel, &fn);
        if (st != TJ_OK && e->lib) {
            drv_library_unload(e->lib);
            e->lib = NULL;
        }
        e->fn = fn;
        if (st == TJ_OK) resident_clusters(k, e);
    }
    if (st != TJ_OK) return st;
    atomic_fetch_add(&k->cubin_bytes, f->size);
    atomic_fetch_add(&k->specializations, 1);
    pthread_mutex_lock(&e->mu);
    atomic_store_explicit(&e->state, KE_READY, memory_order_release);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return TJ_OK;
}

/* Resolve a PENDING entry this thread owns. cached_only: look in the
 * bundles and the disk only; a miss sets *missed and leaves it PENDING. */
static tj_status resolve(tj_kernel *k, kentry *e, int cached_only, int bg, int *missed) {
    cache_key key;
    found f;
    memset(&f, 0, sizeof f);
    if (missed) *missed = 0;
    tj_status st =
        cache_key_for_compile_as(k->g, k->hash, e->rep, k->arch, entry_key_schedule(e), NULL, &key);
    if (st == TJ_OK) {
        memcpy(e->hex, key.hex, sizeof e->hex);
        if (!lookup(k, &key, &f)) {
            if (cached_only) {
                cache_key_free(&key);
                *missed = 1;
                return TJ_OK;
            }
            st = compile_entry(k, e, &key, &f);
        }
    }
    if (st == TJ_OK) st = publish(k, e, &f);
    free(f.owned);
    cache_key_free(&key);
    kernel_pick_free(e->pick);   /* one attempt's: a later one picks again */
    e->pick = NULL;
    int tier = atomic_load_explicit(&e->tier, memory_order_relaxed);
    if (st == TJ_OK && bg && tier) atomic_fetch_add(&k->tier_upgrades, 1);
    if (st != TJ_OK) {
        int state = st == TJ_ERR_COMPILE ? KE_FAILED : KE_IDLE;
        if (bg) {
            fprintf(stderr,
                    "tilejit: background compile of graph '%s' (key %s) failed; launches of "
                    "that shape keep using the %s: %s\n",
                    k->g->name, e->hex[0] ? e->hex : "?",
                    tier ? "generic lowering" : "dynamic-shape variant", tj_last_error());
            state = KE_BG_FAILED;
        }
        kernel_entry_fail(e, st, state);
    }
    return st;
}

tj_status kernel_resolve(tj_kernel *k, kentry *e, int bg) { return resolve(k, e, 0, bg, NULL); }

tj_status kernel_resolve_cached(tj_kernel *k, kentry *e, int *missed) {
    return resolve(k, e, 1, 0, missed);
}

/* ---- the slow path ----------------------------------------------------------- */

tj_status kernel_use_variant(tj_kernel *k, const int64_t *sym_vals, int variant,
                             _Atomic uint64_t *count, kentry **out) {
    kspec s;
    tj_status st = kernel_spec(k, sym_vals, variant, &s);
    if (st != TJ_OK) return st;
    kentry *f = kmap_find(&k->map, &s);
    if (!f || atomic_load_explicit(&f->state, memory_order_acquire) != KE_READY)
        if ((st = kernel_slow(k, &s, sym_vals, &f)) != TJ_OK) return st;
    atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
    *out = f;
    return TJ_OK;
}

static tj_status use_fallback(tj_kernel *k, const int64_t *sym_vals, kentry **out) {
    return kernel_use_variant(k, sym_vals, KV_DYNAMIC, &k->fallback_launches, out);
}

/* The tier-0 kernel of e, for as long as its fast kernel is not loaded. */
static tj_status use_tier0(tj_kernel *k, const kentry *e, const int64_t *sym_vals, kentry **out) {
    return kernel_use_variant(k, sym_vals, e->variant | KV_TIER0, &k->tier0_launches, out);
}

tj_status kernel_prepare(tj_kernel *k, const kspec *s, const int64_t *sym_vals) {
    kentry *e = NULL;
    tj_status st = entry_get(k, s, sym_vals, &e);
    if (st != TJ_OK) return st;
    int bg = k->background && !k->no_compile;
    for (;;) {
        int state = atomic_load_explicit(&e->state, memory_order_acquire);
        if (state == KE_READY) return TJ_OK;
        if (state == KE_FAILED || state == KE_BG_FAILED) return entry_error(e);
        if (state == KE_PENDING) {
            if (bg) return TJ_OK;   /* under way; a later launch finds it */
            if ((st = entry_wait(e, 1)) != TJ_OK) return st;   /* the real one, not tier 0 */
            continue;
        }
        int idle = KE_IDLE;
        if (!atomic_compare_exchange_strong(&e->state, &idle, KE_PENDING)) continue;
        if (!bg) return resolve(k, e, 0, 0, NULL);
        int missed = 0;
        if ((st = resolve(k, e, 1, 0, &missed)) != TJ_OK || !missed) return st;
        if ((st = kernel_bg_submit(k, e)) != TJ_OK) kernel_entry_fail(e, st, KE_IDLE);
        return st;
    }
}

tj_status kernel_slow(tj_kernel *k, const kspec *s, const int64_t *sym_vals, kentry **out) {
    kentry *e = NULL;
    tj_status st = entry_get(k, s, sym_vals, &e);
    if (st != TJ_OK) return st;
    /* Background mode: variant 0 never waits for a compile, unless it is
     * the dynamic variant itself (nothing would be gained). */
    int deferred = k->background && !k->no_compile && k->variants_differ && e->variant == 0;
    for (;;) {
        int state = atomic_load_explicit(&e->state, memory_order_acquire);
        if (state == KE_READY) {
            *out = e;
            return TJ_OK;
        }
        if (state == KE_FAILED) return entry_error(e);
        int tier = atomic_load_explicit(&e->tier, memory_order_acquire);
        if (state == KE_BG_FAILED)
            return tier ? use_tier0(k, e, sym_vals, out) : use_fallback(k, sym_vals, out);
        if (state == KE_PENDING) {
            if (tier) return use_tier0(k, e, sym_vals, out);
            if (deferred) return use_fallback(k, sym_vals, out);
            if ((st = entry_wait(e, 0)) != TJ_OK) return st;
            continue;
        }
        int idle = KE_IDLE;
        if (!atomic_compare_exchange_strong(&e->state, &idle, KE_PENDING)) continue;
        if (!deferred && k->tiered && !(e->variant & KV_TIER0))
            return kernel_tier_resolve(k, e, sym_vals, out);
        if (!deferred) {
            if ((st = resolve(k, e, 0, 0, NULL)) != TJ_OK) return st;
            *out = e;
            return TJ_OK;
        }
        /* A cached cubin is loaded now (a file read); only a compile waits. */
        int missed = 0;
        if ((st = resolve(k, e, 1, 0, &missed)) != TJ_OK) return st;
        if (!missed) {
            *out = e;
            return TJ_OK;
        }
        if ((st = kernel_bg_submit(k, e)) != TJ_OK) {
            kernel_entry_fail(e, st, KE_IDLE);
            return st;
        }
        if (atomic_load_explicit(&e->state, memory_order_acquire) == KE_READY) {
            *out = e;   /* no thread could start: it was compiled right here */
            return TJ_OK;
        }
        return use_fallback(k, sym_vals, out);
    }
}
