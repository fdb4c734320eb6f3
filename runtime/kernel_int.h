/*
 * kernel_int.h — what runtime/kernel*.c share, and the hooks tests use to
 * run the runtime without a GPU. Internal to libtilejit.
 *
 * Files:
 *   kernel.c       tj_kernel_create / destroy / launch / stats: the hot path
 *   kernel_map.c   the specialization map (lock-free lookups)
 *   kernel_miss.c  a miss: single flight, bundles, disk, compile, load
 *   kernel_bg.c    background compiles (TJ_KERNEL_BACKGROUND)
 *   kernel_tier.c  tiered compiles (TJ_KERNEL_TIERED)
 *   kernel_env.c   process-wide state: bundles, shared cache directories, NVTX
 *
 * Specializations. A launch's symbol values map to a kspec: per symbol
 * its specialized value (exact: the value; bucketed: the bucket; dynamic:
 * TJ_UNBOUND), plus a variant. Variant 0 is the specialization proper.
 * Variant 1 is the graph's dynamic-shape variant used while variant 0
 * compiles in the background: every symbol that sizes no tile is passed
 * at run time (TJ_UNBOUND, as if dynamic), and every symbol that sizes a
 * tile keeps its own specialized value (exact value or bucket). Tile sizes
 * cannot be changed without changing the function: a bigger tile reads
 * padding that then takes part in reductions, and a graph whose tile-
 * sizing symbol is exact (layernorm cols=exact has no tail mask) relies on
 * there being none. Graphs whose tiles are constant (attention, gemm)
 * therefore have one dynamic variant for every shape. When no symbol is
 * baked in variant 0 but passed in variant 1 (every symbol is dynamic or
 * sizes a tile), the two are the same kernel and a miss compiles at once,
 * background or not.
 *
 * Tiers (TJ_KERNEL_TIERED). Variant bit KV_TIER0 marks the generic
 * lowering of the key it is added to: variant 2 of variant 0, variant 3 of
 * the dynamic variant. It is cached under its own key (schedule=generic).
 * When the thread that resolves an entry in the foreground finds its cubin
 * nowhere and the dispatcher gives it a fast schedule, it resolves the
 * tier-0 entry (an ordinary entry: bundles, disk, compile under the
 * cache's lock) while other launches of the key wait, then sets the
 * entry's `tier` (waking them) and queues the fast compile on the
 * background workers. Launches that find the entry PENDING with `tier`
 * set use the tier-0 entry (READY from then on), exactly as background
 * mode uses the dynamic variant, until the fast entry is READY and the
 * hot path finds it. When tier 0 cannot be had, the fast kernel is
 * compiled in the foreground, as without tiers. Tiers apply to whatever would be compiled in the foreground: with
 * TJ_KERNEL_BACKGROUND too, that is the dynamic variant (variant 0 is
 * already compiled in the background), so a first launch there may run
 * variant 3 while variants 1 and 0 compile in the background.
 *
 * Entry states: IDLE (no cubin, nobody working on it) -> PENDING (one
 * thread or a background job resolving it; others wait on its condition
 * variable, or in background mode launch the dynamic variant) -> READY
 * (published with a release store; the launch fields are immutable from
 * then on) or back to IDLE with the error for the waiters (a transient
 * failure is retried by the next launch). A compile error sticks (FAILED):
 * compiling again would fail again. A failed background compile leaves the
 * key on the dynamic variant for good (BG_FAILED) with one warning; a
 * failed fast compile behind a tier-0 entry leaves it on that one.
 */
#ifndef TJ_KERNEL_INT_H
#define TJ_KERNEL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cache.h"
#include "driver.h"
#include "emit.h"
#include "tilejit.h"

#define KERNEL_MAX_SYMS 32      /* symbols a launchable graph may have */
#define KERNEL_GRID_OPS 64      /* nodes of a grid program evaluated inline */
#define KERNEL_BG_WORKERS 4     /* background compile threads per kernel */

enum { KE_IDLE = 0, KE_PENDING, KE_READY, KE_FAILED, KE_BG_FAILED };

/* kspec.variant bits */
#define KV_DYNAMIC 1   /* the dynamic-shape variant */
#define KV_TIER0 2     /* the generic lowering of the same key */

/* How a launch argument becomes a kernel parameter. */
enum { KCONV_PTR = 0, KCONV_F32, KCONV_I32, KCONV_I64, KCONV_BOOL, KCONV_SYM, KCONV_TMAP,
       KCONV_GRID };

typedef struct kparam {
    uint8_t conv;      /* KCONV_* */
    uint8_t aux;       /* KCONV_TMAP: its ktmap slot */
    uint16_t index;    /* tensor, scalar or symbol index; KCONV_GRID: grid dim */
} kparam;

#define KERNEL_MAX_TMAPS 8      /* tensor-map parameters of one kernel */

/* A tensor map to encode at each launch: the tensor's dims and strides
 * (innermost first) as constants or symbols, and the box the schedule
 * asked for. */
typedef struct ktmap {
    int tensor, dtype, rank;
    int64_t dim[5], stride[5];         /* the value, or -1 - symbol */
    int contiguous;                    /* strides follow from dims */
    uint32_t box[5];
    int swizzle, l2_promotion, oob_nan;
} ktmap;

/* A specialization key: what the hot path computes per launch. */
typedef struct kspec {
    uint64_t hash;
    int variant;                       /* KV_* bits; 0: the specialization */
    int64_t v[KERNEL_MAX_SYMS];        /* specialized values; unused slots 0 */
} kspec;

/* The dispatcher's choice for an entry: its source and launch, made once
 * by the tiered path and compiled as is (no second emit). */
typedef struct kpick {
    char *src;
    emit_launch launch;
} kpick;

typedef struct kentry {
    /* the key (immutable) */
    uint64_t hash;
    int variant;
    int64_t spec[KERNEL_MAX_SYMS];
    int64_t rep[KERNEL_MAX_SYMS];      /* true values of the launch that made it
                                          (TJ_UNBOUND where the variant has none):
                                          what the cache key is computed from */
    _Atomic int state;                 /* KE_* */
    _Atomic int tier;                  /* 1: while PENDING (or BG_FAILED), launch the
                                          KV_TIER0 entry, READY (set under mu: waiters
                                          wake) */
    /* the launch (written before state becomes KE_READY, then immutable) */
    void *fn;                          /* drv_kernel *, or a test hook's handle */
    drv_library *lib;                  /* NULL when a test hook loaded it */
    unsigned threads, smem;
    int grid_mode, grid_arg;           /* EMIT_GRID_* */
    unsigned cluster[3];               /* all 1: none */
    int has_cluster;
    unsigned max_blocks;               /* EMIT_GRID_PERSISTENT: sm_count * grid_arg */
    int ntmaps;
    ktmap tmaps[KERNEL_MAX_TMAPS];
    int nparams;
    kparam params[EMIT_MAX_PARAMS];
    char hex[65];                      /* the cache key, once resolved */
    char *nearest;                     /* malloc'd: why the nearest prebuilt entry
                                          differs (no-compile misses; written by
                                          the thread holding the entry PENDING) */
    kpick *pick;                       /* the holder's: what to compile, if known */
    /* waiting and failures (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned gen;                      /* bumped by each failed attempt */
    tj_status err;
    char *errmsg;                      /* malloc'd */
    struct kentry *next_all;           /* the kernel's list of entries */
} kentry;

/* ---- the map (kernel_map.c) ----------------------------------------
 * Open addressing over kentry pointers. Lookups take no lock: they load
 * the table pointer and the slots with acquire loads. Inserts (a miss,
 * rare and slow anyway) take `wlock`, store the entry with a release
 * store, and grow the table past half full by publishing a new table; a
 * reader still probing the old one finds every entry that was in it, and
 * one it misses sends it to the slow path, which looks again under the
 * lock. Old tables are kept until kmap_destroy. */
typedef struct kmap_table {
    size_t mask;
    struct kmap_table *retired;        /* the previous table */
    _Atomic(kentry *) slot[];
} kmap_table;

typedef struct kmap {
    _Atomic(kmap_table *) cur;
    pthread_mutex_t wlock;
    size_t count;                      /* under wlock */
    int nsym;
} kmap;

tj_status kmap_init(kmap *m, int nsym);
/* The entry with this key, or NULL. Lock-free. */
kentry *kmap_find(kmap *m, const kspec *s);
/* Insert e unless an entry with its key is there: returns the one in the
 * map (e, or the existing one; then e was not inserted). NULL when the
 * table could not grow (no memory). */
kentry *kmap_insert(kmap *m, kentry *e);
size_t kmap_count(kmap *m);
/* Frees the tables (not the entries). */
void kmap_destroy(kmap *m);

/* ---- test hooks ------------------------------------------------------
 * Tests run the whole runtime without a GPU or NVRTC by replacing the
 * compile, the module load and the launch. A NULL hook means the real
 * thing. Set before the first launch; never in production. */
typedef struct kernel_test_hooks {
    /* Instead of compile_graph: a malloc'd *cubin and the launch description.
     * On entry launch->schedule names the lowering wanted: "" the
     * dispatcher's pick, "generic" a tier-0 kernel (a hook that ignores it
     * compiles the pick under the generic key). */
    tj_status (*compile)(void *user, const tj_graph *g, const char *arch, const int64_t *spec_vals,
                         void **cubin, size_t *size, emit_launch *launch);
    /* Instead of drv_library_load + drv_library_get_kernel. */
    tj_status (*load)(void *user, const void *cubin, size_t size, const char *kernel_name,
                      void **fn);
    /* Instead of drv_launch; params[0..nparams-1] point at the arguments. */
    tj_status (*launch)(void *user, void *fn, const unsigned grid[3], const unsigned block[3],
                        unsigned smem, void *stream, void **params, int nparams);
    void *user;
} kernel_test_hooks;

/* ---- the kernel ----------------------------------------------------- */

typedef struct ksym {
    tj_policy policy;
    int64_t bucket, divisor;
    int sizes_tile;
} ksym;

/* The grid as a straight-line program over symbol values (bind.c's
 * tj_graph_grid evaluates the IR recursively; this is the same
 * arithmetic, flattened once at create). */
enum { KG_CONST = 0, KG_SYM, KG_CAST32, KG_COPY, KG_NEG, KG_ABS, KG_RELU, KG_BIN };
typedef struct kgrid_op {
    uint8_t op, sub;
    int16_t a, b;
    int64_t val;         /* KG_CONST: the value; KG_SYM: the symbol */
} kgrid_op;

typedef struct kbg kbg;   /* kernel_tier.c: resolve a PENDING entry this thread owns in the
 * foreground, tiered (kernel_int.h's header says how); *out is the entry
 * to launch now. */
tj_status kernel_tier_resolve(tj_kernel *k, kentry *e, const int64_t *sym_vals, kentry **out);
/* Set e->tier (its holder), waking waiters. */
void kernel_tier_set(kentry *e, int tier);
void kernel_pick_free(kpick *p);

/* kernel_bg.c */

struct tj_kernel {
    tj_graph *g;                       /* our copy */
    char hash[65];                     /* tj_graph_hash of g */
    char arch[24];
    char nvtx_launch[112];             /* "tj_kernel_launch <graph>" */
    char nvtx_compile[112];
    unsigned flags;
    int no_compile, background, in_child;
    int tiered;                        /* TJ_KERNEL_TIERED or TILEJIT_TIERED, and compiling */
    int variants_differ;               /* some symbol is baked only in variant 0:
                                          else background compiles gain nothing */
    int nsym, ntensors, nscalars;
    ksym syms[KERNEL_MAX_SYMS];
    int *tensor_align;                 /* bytes, per tensor */
    uint8_t *scalar_conv;              /* KCONV_* per scalar */
    int grid_fast;                     /* 0: tj_graph_grid at each launch */
    int ngrid;
    int16_t grid_root[TJ_MAX_GRID];
    int ngrid_ops;
    kgrid_op grid_ops[KERNEL_GRID_OPS];
    cache_dir *dir;                    /* shared, process-wide (kernel_env.c) */
    cache_dir *own_dir;                /* a private memory store (test hooks), owned */
    kmap map;
    pthread_mutex_t mu;                /* the entry list */
    kentry *all;
    kernel_test_hooks hooks;
    kbg *bg;                           /* NULL unless TJ_KERNEL_BACKGROUND or tiered */
    /* tj_kernel_create_by_symbol: this kernel serves symbol by_sym's values
     * up to by_upto[0]; by[i] (i >= 1), the kernel of graph i, those up to
     * by_upto[i] (the last, every value above). nby 0: one graph. (Not
     * the dynamic/specialized "variants" of one graph: KV_* below.) */
    int nby, by_sym;
    int64_t by_upto[TJ_MAX_VARIANTS];
    struct tj_kernel *by[TJ_MAX_VARIANTS];
    /* statistics, on their own cache lines: every launch writes `hits`,
     * which must not evict what launches read above */
    _Alignas(64) _Atomic uint64_t hits;
    _Alignas(64) _Atomic uint64_t slow_launches, misses, compiles, disk_hits, bundle_hits;
    _Atomic uint64_t fallback_launches, compile_ns, cubin_bytes, tier0_launches, tier_upgrades;
    _Atomic int specializations;
};

/* kernel_by_symbol.c: the kernel of k's graphs that serves symbol value v
 * (k itself, or by[i]). */
static inline tj_kernel *kernel_by_symbol_pick(tj_kernel *k, int64_t v) {
    int i = 0;
    while (i + 1 < k->nby && v > k->by_upto[i]) i++;
    return i ? k->by[i] : k;
}
/* Statistics of k's other graphs' kernels added to *out (tj_kernel_stats_get). */
void kernel_by_symbol_stats(const tj_kernel *k, tj_kernel_stats *out);

/* kernel.c: the specialization key of a launch's symbol values (checked:
 * bound, in range, divisible); variant: KV_* bits. */
tj_status kernel_spec(const tj_kernel *k, const int64_t *sym_vals, int variant, kspec *out);
uint64_t kernel_spec_hash(const int64_t *v, int n, int variant);
void kernel_set_test_hooks(tj_kernel *k, const kernel_test_hooks *h);

/* kernel_miss.c: the entry to launch for a key the fast path did not find
 * ready (the specialization, or in background mode the dynamic variant
 * while it compiles). */
tj_status kernel_slow(tj_kernel *k, const kspec *s, const int64_t *sym_vals, kentry **out);
/* tj_kernel_prepare's half: s's entry made READY (found, else compiled
 * here), or with background on queued on the workers; no tier 0. */
tj_status kernel_prepare(tj_kernel *k, const kspec *s, const int64_t *sym_vals);
/* Resolve a PENDING entry this thread owns: bundles, disk, compile,
 * load, publish. On failure the entry is released for the waiters with
 * the error; with `bg` (a background job) it is left on the dynamic
 * variant (KE_BG_FAILED) and one line is printed on stderr. */
tj_status kernel_resolve(tj_kernel *k, kentry *e, int bg);
/* The same from the bundles and the disk only: a miss sets *missed and
 * leaves e PENDING (and the caller's). */
tj_status kernel_resolve_cached(tj_kernel *k, kentry *e, int *missed);
/* The entry of variant `variant` of the launch's key, resolved (the
 * fallback while another compiles); *count counts the launch. */
tj_status kernel_use_variant(tj_kernel *k, const int64_t *sym_vals, int variant,
                             _Atomic uint64_t *count, kentry **out);
/* Release a PENDING entry after a failure: waiters get the error. */
void kernel_entry_fail(kentry *e, tj_status st, int state);
void kernel_entry_free(tj_kernel *k, kentry *e);

/* kernel_tier.c: resolve a PENDING entry this thread owns in the
 * foreground, tiered (kernel_int.h's header says how); *out is the entry
 * to launch now. */
tj_status kernel_tier_resolve(tj_kernel *k, kentry *e, const int64_t *sym_vals, kentry **out);
/* Set e->tier (its holder), waking waiters. */
void kernel_tier_set(kentry *e, int tier);
void kernel_pick_free(kpick *p);

/* kernel_bg.c */
tj_status kernel_bg_create(tj_kernel *k);
/* Queue the compile of a PENDING entry this thread owns. When no thread
 * can be started it is resolved here, before returning. Fails only for
 * lack of memory (the entry is then still PENDING and the caller's). */
tj_status kernel_bg_submit(tj_kernel *k, kentry *e);
/* Wait until no background compile is queued or running. */
void kernel_wait_background(tj_kernel *k);
void kernel_bg_destroy(tj_kernel *k);

/* kernel_env.c: process-wide state (each behind its own lock). */
/* Bundles from TILEJIT_BUNDLES, opened once; the outcome is remembered. */
tj_status kernel_env_init(void);
/* kernel_env.c: with TILEJIT_LOG=1, a stderr line for each specialization
 * loaded (`source`: "compiled", "from disk", "from a bundle"): its
 * schedule and why fast ones did not apply. */
void kernel_log_specialization(const tj_kernel *k, const kentry *e, const emit_launch *L,
                               const char *source);
/* With TILEJIT_LOG=1, a stderr line about graph k (printf format). */
void kernel_log(const tj_kernel *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Search every bundle (lock-free: the list only grows). 1 when found. */
int kernel_bundle_find(const char *hex, const void **cubin, size_t *size);
int kernel_bundle_count(void);
/* The bundles open now (a stable prefix of an append-only list). */
cache_bundle *const *kernel_bundles(int *n);
/* The process's handle for a cache directory (NULL: the default; "":
 * memory only), opened at first use and kept for the life of the process
 * so that kernels share its memory store and single flight. */
tj_status kernel_cache_dir(const char *path, cache_dir **out);
/* NVTX ranges: no-ops when libnvToolsExt / libnvtx3interop is absent or
 * TILEJIT_NVTX=0. Launch ranges only while a tool is attached
 * (NVTX_INJECTION64_PATH set) or TILEJIT_NVTX=1, as they cost a call. */
void kernel_nvtx_init(void);
void kernel_nvtx_push(const char *label);
void kernel_nvtx_pop(void);
int kernel_nvtx_loaded(void);   /* 1 when an NVTX library was found */
extern _Atomic int kernel_nvtx_launches;   /* 1: range each launch */

#endif
