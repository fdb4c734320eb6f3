/*
 * kernel_fakes.h — what tests/test_kernel*.c share: the compile, load and
 * launch hooks that let tj_kernel run without a GPU (the "cubin" is a
 * text naming the specialization, the "function" that text, interned),
 * a graph with one symbol of each policy, temporary cache directories.
 */
#ifndef TJ_KERNEL_FAKES_H
#define TJ_KERNEL_FAKES_H

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "cache.h"
#include "emit.h"
#include "harness.h"
#include "kernel_int.h"
#include "nvrtc.h"

#define KF_UNUSED __attribute__((unused))

#define ARCH "sm_90a"

/* ---- fakes -------------------------------------------------------------- */

static KF_UNUSED pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static KF_UNUSED pthread_cond_t fake_cv = PTHREAD_COND_INITIALIZER;
static KF_UNUSED char *interned[4096];
static KF_UNUSED int ninterned;
static KF_UNUSED _Atomic int compiles, launches, in_flight, max_in_flight;
static KF_UNUSED int gate_closed;          /* under fake_mu: variant-0 compiles wait */
static KF_UNUSED int wait_for_peers;       /* compiles wait until this many are in flight */
static KF_UNUSED int compile_sleep_ms;
static KF_UNUSED tj_status compile_fails;  /* a status the fake compile returns */
static KF_UNUSED int fail_variant0_only;
static KF_UNUSED _Atomic int load_failures;   /* the next N loads fail with TJ_ERR_DRIVER */

static KF_UNUSED _Thread_local const char *last_fn;
static KF_UNUSED _Thread_local unsigned last_grid[3], last_block[3], last_smem;
static KF_UNUSED _Thread_local uint64_t last_params[EMIT_MAX_PARAMS];
static KF_UNUSED _Thread_local int last_nparams;

static inline void fakes_reset(void) {
    pthread_mutex_lock(&fake_mu);
    gate_closed = 0;
    wait_for_peers = 0;
    compile_sleep_ms = 0;
    compile_fails = TJ_OK;
    fail_variant0_only = 0;
    pthread_mutex_unlock(&fake_mu);
    compiles = launches = in_flight = max_in_flight = 0;
    load_failures = 0;
    last_fn = NULL;
}

static inline void gate_open(void) {
    pthread_mutex_lock(&fake_mu);
    gate_closed = 0;
    pthread_cond_broadcast(&fake_cv);
    pthread_mutex_unlock(&fake_mu);
}

/* The first symbol (e in policy_graph) is exact and sizes no tile: bound
 * means the specialization, unbound the dynamic variant. */
static inline int is_variant0(const int64_t *spec) { return spec[0] != TJ_UNBOUND; }

/* When set, changes each launch description fake_compile makes. */
static void (*launch_edit)(emit_launch *L) KF_UNUSED;

static inline tj_status fake_compile(void *user, const tj_graph *g, const char *arch,
                                     const int64_t *spec, void **cubin, size_t *size,
                                     emit_launch *launch) {
    (void)user;
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    for (int m = atomic_load(&max_in_flight); now > m;)
        if (atomic_compare_exchange_weak(&max_in_flight, &m, now)) break;
    pthread_mutex_lock(&fake_mu);
    while (gate_closed && is_variant0(spec)) pthread_cond_wait(&fake_cv, &fake_mu);
    int peers = wait_for_peers, sleep_ms = compile_sleep_ms;
    tj_status fail = compile_fails;
    if (fail_variant0_only && !is_variant0(spec)) fail = TJ_OK;
    pthread_mutex_unlock(&fake_mu);
    for (int i = 0; i < 2000 && atomic_load(&in_flight) < peers; i++) usleep(1000);
    if (sleep_ms) usleep((useconds_t)sleep_ms * 1000);
    atomic_fetch_add(&compiles, 1);
    atomic_fetch_sub(&in_flight, 1);
    if (fail != TJ_OK) return tj_set_error(fail, "fake compile failed on purpose");
    char *src = NULL;
    tj_status st = emit_kernel(g, arch, spec, NULL, &src, launch);
    free(src);
    if (st != TJ_OK) return st;
    if (launch_edit) launch_edit(launch);
    char text[512];
    int n = snprintf(text, sizeof text, "FAKE %s", tj_graph_name(g));
    for (int i = 0; i < tj_num_symbols(g); i++) {
        if (spec[i] == TJ_UNBOUND)
            n += snprintf(text + n, sizeof text - (size_t)n, " %s=dyn",
                          tj_symbol_name(g, (tj_sym){i}));
        else
            n += snprintf(text + n, sizeof text - (size_t)n, " %s=%lld",
                          tj_symbol_name(g, (tj_sym){i}), (long long)spec[i]);
    }
    *cubin = strdup(text);
    *size = strlen(text) + 1;
    return *cubin ? TJ_OK : TJ_ERR_NO_MEMORY;
}

static inline tj_status fake_load(void *user, const void *cubin, size_t size,
                                  const char *name, void **fn) {
    (void)user;
    (void)name;
    if (atomic_load(&load_failures) > 0) {
        atomic_fetch_sub(&load_failures, 1);
        return tj_set_error(TJ_ERR_DRIVER, "fake load failed on purpose");
    }
    if (size == 0 || ((const char *)cubin)[size - 1] != '\0' || strncmp(cubin, "FAKE", 4))
        return tj_set_error(TJ_ERR_DRIVER, "fake load: not a fake cubin");
    pthread_mutex_lock(&fake_mu);
    char *found = NULL;
    for (int i = 0; i < ninterned && !found; i++)
        if (!strcmp(interned[i], cubin)) found = interned[i];
    if (!found && ninterned < 4096) found = interned[ninterned++] = strdup(cubin);
    pthread_mutex_unlock(&fake_mu);
    *fn = found;
    return found ? TJ_OK : TJ_ERR_NO_MEMORY;
}

static inline tj_status fake_launch(void *user, void *fn, const unsigned grid[3],
                                    const unsigned block[3], unsigned smem, void *stream,
                                    void **params, int nparams) {
    (void)user;
    (void)stream;
    last_fn = fn;
    memcpy(last_grid, grid, sizeof last_grid);
    memcpy(last_block, block, sizeof last_block);
    last_smem = smem;
    last_nparams = nparams;
    for (int i = 0; i < nparams; i++) memcpy(&last_params[i], params[i], 8);
    atomic_fetch_add(&launches, 1);
    return TJ_OK;
}

static KF_UNUSED const kernel_test_hooks all_hooks = {fake_compile, fake_load, fake_launch, NULL};

/* ---- graphs, directories, arguments --------------------------------------- */

/* e exact, p pow2, m multiple of 48, d dynamic, v exact divisible by 64,
 * t pow2 sizing a tile. Tensors x[e,p] y[m,d] w[v] (f32), z[t] in and
 * o[t] out; scalars alpha f32, n i32, flag bool, big i64. The program
 * scales z's one tile into o; the grid is [cdiv(e,4), min(p,3)]. */
static inline tj_graph *policy_graph(const char *name) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    tj_sym e = tj_symbol(g, "e", TJ_EXACT, 0, 1);
    tj_sym p = tj_symbol(g, "p", TJ_BUCKET_POW2, 0, 1);
    tj_sym m = tj_symbol(g, "m", TJ_BUCKET_MULTIPLE, 48, 1);
    tj_sym d = tj_symbol(g, "d", TJ_DYNAMIC, 0, 1);
    tj_sym v = tj_symbol(g, "v", TJ_EXACT, 0, 64);
    tj_sym t = tj_symbol(g, "t", TJ_BUCKET_POW2, 0, 1);
    tj_dim xd[2] = {tj_dim_sym(e), tj_dim_sym(p)}, yd[2] = {tj_dim_sym(m), tj_dim_sym(d)};
    tj_dim wd[1] = {tj_dim_sym(v)}, zd[1] = {tj_dim_sym(t)};
    tj_tensor_arg(g, "x", TJ_F32, 2, xd, NULL);
    tj_tensor_arg(g, "y", TJ_F32, 2, yd, NULL);
    tj_tensor_arg(g, "w", TJ_F32, 1, wd, NULL);
    tj_tensor z = tj_tensor_arg(g, "z", TJ_F32, 1, zd, NULL);
    tj_tensor o = tj_tensor_arg(g, "o", TJ_F32, 1, zd, NULL);
    tj_tensor_set_align(g, o, 16);
    tj_val alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_scalar_arg(g, "n", TJ_I32);
    tj_scalar_arg(g, "flag", TJ_BOOL);
    tj_scalar_arg(g, "big", TJ_I64);
    tj_val zero = tj_const(g, TJ_I32, 0);
    tj_val tile = tj_load(g, z, &zero, 1, zd, NULL, 0, 0);
    tj_store(g, o, &zero, tj_mul(g, tile, alpha), NULL, 0);
    tj_val grid[2] = {tj_binary(g, TJ_CDIV, tj_symval(g, e), tj_const(g, TJ_I32, 4)),
                      tj_minimum(g, tj_symval(g, p), tj_const(g, TJ_I32, 3))};
    tj_set_grid(g, 2, grid);
    if (tj_graph_verify(g) != TJ_OK) {
        fprintf(stderr, "  policy_graph: %s\n", tj_last_error());
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

/* e p m d v t */
static inline void policy_vals(int64_t *vals, int64_t e) {
    int64_t v[6] = {e, harness_randint(1, 500), harness_randint(1, 500), harness_randint(1, 500),
                    64 * harness_randint(1, 8), harness_randint(1, 200)};
    memcpy(vals, v, sizeof v);
}

static KF_UNUSED const uint64_t ptrs[5] = {0x10000, 0x20000, 0x30000, 0x40000, 0x50000};
static KF_UNUSED const double scalars[4] = {1.5, -7, 1, 12345678901.0};

static KF_UNUSED char tmp_template[] = "/tmp/tj_test_kernel_XXXXXX";
static KF_UNUSED char tmp_root[64];

static inline const char *temp_dir(void) {
    if (!tmp_root[0]) {
        if (!mkdtemp(tmp_template)) return NULL;
        snprintf(tmp_root, sizeof tmp_root, "%s", tmp_template);
    }
    static int n;
    static char path[128];
    snprintf(path, sizeof path, "%s/d%d", tmp_root, n++);
    return path;
}

static inline int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline tj_kernel *make(const tj_graph *g, unsigned flags, const char *dir) {
    tj_kernel_options o = {ARCH, flags, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) {
        fprintf(stderr, "  tj_kernel_create: %s\n", tj_last_error());
        return NULL;
    }
    kernel_set_test_hooks(k, &all_hooks);
    return k;
}

static inline tj_kernel_stats stats(const tj_kernel *k) {
    tj_kernel_stats s;
    memset(&s, 0, sizeof s);
    tj_kernel_stats_get(k, &s);
    return s;
}

static inline int maps_mention(const char *what) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, what)) found = 1;
    fclose(f);
    return found;
}

static inline void cleanup_temp_dirs(void) {
    if (tmp_root[0]) nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
