/*
 * test_kernel.c — tj_kernel without a GPU: the specialization key per
 * policy, the lock-free map under concurrent inserts and lookups, single
 * flight, parallel compiles of different keys, background compiles, the
 * no-compile mode, disk and bundle hits, parameter packing, the grid and
 * bad arguments. The compile, the module load and the launch are replaced
 * by test hooks (runtime/kernel_int.h): the "cubin" is a text naming the
 * specialization, the "function" that text, interned.
 */
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

#define ARCH "sm_90a"

/* ---- fakes -------------------------------------------------------------- */

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_cv = PTHREAD_COND_INITIALIZER;
static char *interned[4096];
static int ninterned;
static _Atomic int compiles, launches, in_flight, max_in_flight;
static int gate_closed;          /* under fake_mu: variant-0 compiles wait */
static int wait_for_peers;       /* compiles wait until this many are in flight */
static int compile_sleep_ms;
static tj_status compile_fails;  /* a status the fake compile returns */
static int fail_variant0_only;
static _Atomic int load_failures;   /* the next N loads fail with TJ_ERR_DRIVER */
static _Atomic int bg_job_done;

static _Thread_local const char *last_fn;
static _Thread_local unsigned last_grid[3], last_block[3], last_smem;
static _Thread_local uint64_t last_params[EMIT_MAX_PARAMS];
static _Thread_local int last_nparams;

static void fakes_reset(void) {
    pthread_mutex_lock(&fake_mu);
    gate_closed = 0;
    wait_for_peers = 0;
    compile_sleep_ms = 0;
    compile_fails = TJ_OK;
    fail_variant0_only = 0;
    pthread_mutex_unlock(&fake_mu);
    compiles = launches = in_flight = max_in_flight = 0;
    load_failures = 0;
    bg_job_done = 0;
    last_fn = NULL;
}

static void gate_open(void) {
    pthread_mutex_lock(&fake_mu);
    gate_closed = 0;
    pthread_cond_broadcast(&fake_cv);
    pthread_mutex_unlock(&fake_mu);
}

/* The first symbol (e in policy_graph) is exact and sizes no tile: bound
 * means the specialization, unbound the dynamic variant. */
static int is_variant0(const int64_t *spec) { return spec[0] != TJ_UNBOUND; }

static tj_status fake_compile(void *user, const tj_graph *g, const char *arch,
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
    tj_status st = emit_cuda(g, arch, spec, &src, launch);
    free(src);
    if (st != TJ_OK) return st;
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

static tj_status fake_load(void *user, const void *cubin, size_t size, const char *name,
                           void **fn) {
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

static tj_status fake_launch(void *user, void *fn, const unsigned grid[3], const unsigned block[3],
                             unsigned smem, void *stream, void **params, int nparams) {
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

static const kernel_test_hooks all_hooks = {fake_compile, fake_load, fake_launch, NULL};

/* ---- graphs, directories, arguments --------------------------------------- */

/* e exact, p pow2, m multiple of 48, d dynamic, v exact divisible by 64,
 * t pow2 sizing a tile. Tensors x[e,p] y[m,d] w[v] (f32), z[t] in and
 * o[t] out; scalars alpha f32, n i32, flag bool, big i64. The program
 * scales z's one tile into o; the grid is [cdiv(e,4), min(p,3)]. */
static tj_graph *policy_graph(const char *name) {
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
static void policy_vals(int64_t *vals, int64_t e) {
    int64_t v[6] = {e, harness_randint(1, 500), harness_randint(1, 500), harness_randint(1, 500),
                    64 * harness_randint(1, 8), harness_randint(1, 200)};
    memcpy(vals, v, sizeof v);
}

static const uint64_t ptrs[5] = {0x10000, 0x20000, 0x30000, 0x40000, 0x50000};
static const double scalars[4] = {1.5, -7, 1, 12345678901.0};

static char tmp_template[] = "/tmp/tj_test_kernel_XXXXXX";
static char tmp_root[64];

static const char *temp_dir(void) {
    if (!tmp_root[0]) {
        if (!mkdtemp(tmp_template)) return NULL;
        snprintf(tmp_root, sizeof tmp_root, "%s", tmp_template);
    }
    static int n;
    static char path[128];
    snprintf(path, sizeof path, "%s/d%d", tmp_root, n++);
    return path;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static tj_kernel *make(const tj_graph *g, unsigned flags, const char *dir) {
    tj_kernel_options o = {ARCH, flags, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) {
        fprintf(stderr, "  tj_kernel_create: %s\n", tj_last_error());
        return NULL;
    }
    kernel_set_test_hooks(k, &all_hooks);
    return k;
}

static tj_kernel_stats stats(const tj_kernel *k) {
    tj_kernel_stats s;
    memset(&s, 0, sizeof s);
    tj_kernel_stats_get(k, &s);
    return s;
}

static int maps_mention(const char *what) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, what)) found = 1;
    fclose(f);
    return found;
}

/* ---- no-compile mode (first: nothing has loaded NVRTC yet) ------------------ */

TEST(test_kernel_no_compile_miss_names_key_and_never_loads_nvrtc) {
    fakes_reset();
    tj_graph *g = policy_graph("nocompile");
    CHECK(g);
    tj_kernel_options o = {ARCH, TJ_KERNEL_NO_COMPILE, temp_dir()};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    kernel_test_hooks h = {NULL, fake_load, fake_launch, NULL};   /* the real compile */
    kernel_set_test_hooks(k, &h);
    int64_t vals[6];
    policy_vals(vals, 9);
    cache_key key;
    CHECK_OK(cache_key_for_compile(g, NULL, vals, ARCH, NULL, &key));
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, vals, NULL), TJ_ERR_UNSUPPORTED, key.hex);
    const char *msg = tj_last_error();
    CHECKF(strstr(msg, "tilejit prebuild") && strstr(msg, "nocompile") &&
               strstr(msg, "TJ_KERNEL_NO_COMPILE") && strstr(msg, "e=9"),
           "message: %s", msg);
    cache_key_free(&key);
    CHECK(launches == 0);
    CHECK(maps_mention("nvrtc") == 0);
    tj_kernel_stats s = stats(k);
    CHECK(s.compiles == 0 && s.misses == 1 && s.specializations == 0);
    tj_kernel_destroy(k);

    /* The environment variable does the same. */
    setenv("TILEJIT_NO_COMPILE", "1", 1);
    o.flags = 0;
    tj_status st = tj_kernel_create(g, &o, &k);
    unsetenv("TILEJIT_NO_COMPILE");
    CHECK_OK(st);
    kernel_set_test_hooks(k, &h);
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, vals, NULL), TJ_ERR_UNSUPPORTED,
              "TILEJIT_NO_COMPILE=1");
    CHECK(maps_mention("nvrtc") == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- the key ----------------------------------------------------------------- */

TEST(test_kernel_key_follows_each_policy) {
    tj_graph *g = policy_graph("keys");
    CHECK(g);
    tj_kernel *k = make(g, 0, "");
    CHECK(k);
    CHECK(k->syms[5].sizes_tile && !k->syms[0].sizes_tile && !k->syms[1].sizes_tile);
    for (int it = 0; it < 500; it++) {
        int64_t vals[6], spec[6];
        policy_vals(vals, harness_randint(1, 1000));
        kspec s, f;
        CHECK_OK(kernel_spec(k, vals, 0, &s));
        CHECK_OK(kernel_spec(k, vals, 1, &f));
        cache_specialize(g, vals, spec);
        for (int i = 0; i < 6; i++) {
            CHECKF(s.v[i] == spec[i], "symbol %d = %lld: key %lld, cache_specialize %lld", i,
                   (long long)vals[i], (long long)s.v[i], (long long)spec[i]);
            /* The dynamic variant keeps only tile-sizing symbols. */
            CHECK(f.v[i] == (i == 5 ? spec[i] : TJ_UNBOUND));
        }
        CHECK(s.hash == kernel_spec_hash(s.v, 6, 0) && f.hash != s.hash);
    }
    /* Values sharing a bucket share a key; exact values never do. */
    int64_t a[6] = {5, 100, 50, 7, 64, 9}, b[6] = {5, 120, 90, 3000, 64, 16};
    kspec sa, sb;
    CHECK_OK(kernel_spec(k, a, 0, &sa));
    CHECK_OK(kernel_spec(k, b, 0, &sb));
    CHECK(sa.hash == sb.hash && !memcmp(sa.v, sb.v, sizeof(int64_t) * 6));
    b[0] = 6;
    CHECK_OK(kernel_spec(k, b, 0, &sb));
    CHECK(sa.hash != sb.hash);
    /* The largest value: its pow2 bucket is 2^31. */
    a[1] = INT32_MAX;
    CHECK_OK(kernel_spec(k, a, 0, &sa));
    CHECK(sa.v[1] == (int64_t)1 << 31);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- the map ------------------------------------------------------------------- */

#define MAP_KEYS 3000
typedef struct map_ctx {
    kmap *m;
    int seed;
    _Atomic(kentry *) *winner;
    _Atomic int *bad;
} map_ctx;

static kentry *map_entry(int64_t key) {
    kentry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->spec[0] = key;
    e->hash = kernel_spec_hash(e->spec, 1, 0);
    return e;
}

static void *map_writer(void *arg) {
    map_ctx *c = arg;
    for (int i = 0; i < MAP_KEYS; i++) {
        int64_t key = (i * 7919 + c->seed * 131) % MAP_KEYS;
        kentry *e = map_entry(key);
        kentry *got = e ? kmap_insert(c->m, e) : NULL;
        if (!got || got->spec[0] != key) atomic_fetch_add(c->bad, 1);
        if (got != e) {
            free(e);
        } else {
            kentry *none = NULL;
            if (!atomic_compare_exchange_strong(&c->winner[key], &none, e))
                atomic_fetch_add(c->bad, 1);   /* inserted twice */
        }
        kspec s = {got ? got->hash : 0, 0, {key}};
        if (kmap_find(c->m, &s) != got) atomic_fetch_add(c->bad, 1);
    }
    return NULL;
}

static void *map_reader(void *arg) {
    map_ctx *c = arg;
    for (int i = 0; i < 20 * MAP_KEYS; i++) {
        int64_t key = (i * 31 + c->seed) % MAP_KEYS;
        kspec s = {0, 0, {key}};
        s.hash = kernel_spec_hash(s.v, 1, 0);
        kentry *e = kmap_find(c->m, &s);
        if (e && e->spec[0] != key) atomic_fetch_add(c->bad, 1);
    }
    return NULL;
}

TEST(test_kernel_map_concurrent_inserts_and_lookups) {
    kmap m;
    CHECK_OK(kmap_init(&m, 1));
    static _Atomic(kentry *) winner[MAP_KEYS];
    for (int i = 0; i < MAP_KEYS; i++) atomic_store(&winner[i], NULL);
    _Atomic int bad = 0;
    pthread_t t[12];
    map_ctx c[12];
    for (int i = 0; i < 12; i++) {
        c[i] = (map_ctx){&m, i, winner, &bad};
        CHECK(pthread_create(&t[i], NULL, i < 8 ? map_writer : map_reader, &c[i]) == 0);
    }
    for (int i = 0; i < 12; i++) pthread_join(t[i], NULL);
    CHECKF(bad == 0, "%d inconsistencies", (int)bad);
    CHECK(kmap_count(&m) == MAP_KEYS);
    for (int64_t key = 0; key < MAP_KEYS; key++) {
        kspec s = {0, 0, {key}};
        s.hash = kernel_spec_hash(s.v, 1, 0);
        CHECK(kmap_find(&m, &s) == atomic_load(&winner[key]) && atomic_load(&winner[key]));
        s.variant = 1;
        CHECK(kmap_find(&m, &s) == NULL);
    }
    for (int i = 0; i < MAP_KEYS; i++) free(atomic_load(&winner[i]));
    kmap_destroy(&m);
}

/* ---- single flight and parallel compiles ------------------------------------------ */

typedef struct race {
    tj_kernel *k;
    int64_t vals[6];
    pthread_barrier_t *go;
    tj_status st;
    char msg[256];
    const char *fn;
} race;

static void *racer(void *arg) {
    race *r = arg;
    pthread_barrier_wait(r->go);
    r->st = tj_kernel_launch(r->k, ptrs, scalars, r->vals, NULL);
    snprintf(r->msg, sizeof r->msg, "%s", r->st ? tj_last_error() : "");
    r->fn = last_fn;
    return NULL;
}

/* n threads launch at once; vals[i] from `vals` (e shifted by i*shift). */
static void run_race(tj_kernel *k, int n, const int64_t *vals, int shift, race *r) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    pthread_t t[16];
    for (int i = 0; i < n; i++) {
        r[i] = (race){k, {0}, &go, TJ_OK, "", NULL};
        memcpy(r[i].vals, vals, sizeof r[i].vals);
        r[i].vals[0] += i * shift;
        pthread_create(&t[i], NULL, racer, &r[i]);
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

TEST(test_kernel_single_flight_one_compile_for_8_threads) {
    fakes_reset();
    compile_sleep_ms = 50;
    tj_graph *g = policy_graph("flight");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 33);
    race r[8];
    run_race(k, 8, vals, 0, r);
    for (int i = 0; i < 8; i++) CHECKF(r[i].st == TJ_OK, "thread %d: %s", i, r[i].msg);
    for (int i = 1; i < 8; i++) CHECK(r[i].fn == r[0].fn && r[0].fn);
    tj_kernel_stats s = stats(k);
    CHECKF(compiles == 1 && s.compiles == 1, "%d compiles", (int)compiles);
    CHECK(s.misses == 1 && s.launches == 8 && s.specializations == 1 && launches == 8);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_waiters_get_the_compile_error_once) {
    fakes_reset();
    compile_sleep_ms = 30;
    compile_fails = TJ_ERR_COMPILE;
    tj_graph *g = policy_graph("flightfail");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 3);
    race r[8];
    run_race(k, 8, vals, 0, r);
    for (int i = 0; i < 8; i++)
        CHECKF(r[i].st == TJ_ERR_COMPILE && strstr(r[i].msg, "on purpose"), "thread %d: %s %s", i,
               tj_status_name(r[i].st), r[i].msg);
    CHECK(compiles == 1 && launches == 0);
    /* A compile error sticks: the next launch reports it without compiling. */
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, vals, NULL), TJ_ERR_COMPILE, "on purpose");
    CHECK(compiles == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_different_keys_compile_in_parallel) {
    fakes_reset();
    wait_for_peers = 4;   /* each compile waits (up to 2 s) until 4 run at once */
    tj_graph *g = policy_graph("parallel");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 10);
    race r[4];
    run_race(k, 4, vals, 1, r);   /* e = 10, 11, 12, 13: four keys */
    for (int i = 0; i < 4; i++) CHECKF(r[i].st == TJ_OK, "thread %d: %s", i, r[i].msg);
    CHECKF(max_in_flight == 4, "at most %d compiles ran at once", (int)max_in_flight);
    CHECK(compiles == 4 && stats(k).specializations == 4);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_concurrent_new_specializations_each_get_their_own) {
    fakes_reset();
    tj_graph *g = policy_graph("many");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 1);
    for (int round = 0; round < 6; round++) {
        race r[16];
        /* e = 1 + round*4 + i%4 .. : 16 threads over 4 new keys per round */
        int64_t base[6];
        memcpy(base, vals, sizeof base);
        base[0] = 1 + round * 4;
        run_race(k, 16, base, 0, r);
        for (int i = 0; i < 16; i++) CHECKF(r[i].st == TJ_OK, "%s", r[i].msg);
        run_race(k, 4, base, 1, r);
        for (int i = 0; i < 4; i++) {
            char want[32];
            snprintf(want, sizeof want, " e=%lld ", (long long)r[i].vals[0]);
            CHECKF(r[i].st == TJ_OK && r[i].fn && strstr(r[i].fn, want), "launched %s for %s",
                   r[i].fn ? r[i].fn : "(null)", want);
        }
    }
    tj_kernel_stats s = stats(k);
    CHECKF(s.compiles == 24 && s.specializations == 24 && s.misses == 24,
           "compiles %llu specializations %d", (unsigned long long)s.compiles, s.specializations);
    CHECK(s.launches == 6 * 20 && s.hits + 24 <= s.launches);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- specialization, cache hits --------------------------------------------------- */

TEST(test_kernel_exact_specializes_per_value_and_buckets_share) {
    fakes_reset();
    tj_graph *g = policy_graph("shapes");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t v[6] = {100, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    v[0] = 200;
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    v[0] = 100;
    v[1] = 120;   /* same pow2 bucket (128) */
    v[2] = 40;    /* same multiple-of-48 bucket */
    v[3] = 999;   /* dynamic */
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    tj_kernel_stats s = stats(k);
    CHECK(s.launches == 3 && s.hits == 1 && s.misses == 2 && s.compiles == 2);
    CHECK(s.specializations == 2 && s.cubin_bytes > 0);
    v[5] = 17;    /* t's bucket 32: a new specialization */
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECK(stats(k).specializations == 3);
    CHECKF(strstr(last_fn, " t=32"), "%s", last_fn);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_second_kernel_hits_the_disk_cache) {
    fakes_reset();
    tj_graph *g = policy_graph("disk");
    CHECK(g);
    const char *dir = temp_dir();
    char keep[128];
    snprintf(keep, sizeof keep, "%s", dir);
    tj_kernel *a = make(g, 0, keep);
    CHECK(a);
    int64_t v[6];
    policy_vals(v, 12);
    CHECK_OK(tj_kernel_launch(a, ptrs, scalars, v, NULL));
    const char *fa = last_fn;
    CHECK(stats(a).compiles == 1 && stats(a).disk_hits == 0);
    tj_kernel_destroy(a);
    tj_kernel *b = make(g, TJ_KERNEL_NO_COMPILE, keep);
    CHECK(b);
    CHECK_OK(tj_kernel_launch(b, ptrs, scalars, v, NULL));
    tj_kernel_stats s = stats(b);
    CHECK(s.compiles == 0 && s.disk_hits == 1 && s.misses == 1 && last_fn == fa);
    CHECK(compiles == 1);
    tj_kernel_destroy(b);
    tj_graph_free(g);
}

TEST(test_kernel_bundle_serves_a_no_compile_kernel) {
    fakes_reset();
    tj_graph *g = policy_graph("bundled");
    CHECK(g);
    int64_t v[6];
    policy_vals(v, 77);
    cache_key key;
    CHECK_OK(cache_key_for_compile(g, NULL, v, ARCH, NULL, &key));
    int64_t spec[6];
    cache_specialize(g, v, spec);
    void *cubin = NULL;
    size_t size = 0;
    emit_launch L;
    CHECK_OK(fake_compile(NULL, g, ARCH, spec, &cubin, &size, &L));
    char path[160];
    snprintf(path, sizeof path, "%s.bundle", temp_dir());
    cache_bundle_writer *w = NULL;
    CHECK_OK(cache_bundle_writer_open(path, &w));
    CHECK_OK(cache_bundle_writer_add(w, &key, cubin, size));
    CHECK_OK(cache_bundle_writer_close(w));
    CHECK_OK(tj_add_bundle(path));
    CHECK_OK(tj_add_bundle(path));   /* twice is fine */
    CHECK_ERR(tj_add_bundle(NULL), TJ_ERR_INVALID_ARG, "NULL");
    CHECK(tj_add_bundle("/nonexistent/x.bundle") == TJ_ERR_IO);
    fakes_reset();
    tj_kernel *k = make(g, TJ_KERNEL_NO_COMPILE, temp_dir());
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    tj_kernel_stats s = stats(k);
    CHECK(s.bundle_hits == 1 && s.compiles == 0 && compiles == 0 && !strcmp(last_fn, cubin));
    free(cubin);
    cache_key_free(&key);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_transient_failure_is_retried) {
    fakes_reset();
    load_failures = 1;
    tj_graph *g = policy_graph("retry");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t v[6];
    policy_vals(v, 5);
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_DRIVER, "on purpose");
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    tj_kernel_stats s = stats(k);
    /* The compiled cubin was stored before the load failed: no second compile. */
    CHECK(s.compiles == 1 && s.disk_hits == 1 && s.specializations == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- launches ------------------------------------------------------------------------ */

TEST(test_kernel_params_packed_in_launch_order) {
    fakes_reset();
    tj_graph *g = policy_graph("params");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    for (int it = 0; it < 20; it++) {
        int64_t v[6];
        policy_vals(v, harness_randint(1, 300));
        double sc[4] = {harness_uniform(-2, 2), (double)harness_randint(-1000, 1000), 1,
                        (double)harness_randint(-4000000000LL, 4000000000LL)};
        uint64_t tp[5];
        for (int t = 0; t < 5; t++) tp[t] = (uint64_t)harness_randint(1, 1 << 20) * 256;
        CHECK_OK(tj_kernel_launch(k, tp, sc, v, NULL));
        int64_t spec[6], grid[3];
        cache_specialize(g, v, spec);
        emit_launch L;
        char *src = NULL;
        CHECK_OK(emit_cuda(g, ARCH, spec, &src, &L));
        free(src);
        CHECK_OK(tj_graph_grid(g, v, grid));
        CHECK(last_nparams == L.nparams);
        for (int i = 0; i < 3; i++) CHECK(last_grid[i] == (unsigned)grid[i]);
        CHECK(last_block[0] == (unsigned)L.threads && last_block[1] == 1 &&
              last_smem == (unsigned)L.smem_bytes);
        for (int p = 0; p < L.nparams; p++) {
            const emit_param *q = &L.params[p];
            uint64_t raw = last_params[p];
            float f;
            int32_t i32;
            int64_t i64;
            memcpy(&f, &raw, 4);
            memcpy(&i32, &raw, 4);
            memcpy(&i64, &raw, 8);
            if (q->kind == EMIT_PARAM_TENSOR) CHECK(raw == tp[q->index]);
            if (q->kind == EMIT_PARAM_SYMBOL) CHECK(i32 == v[q->index]);
            if (q->kind == EMIT_PARAM_SCALAR && q->ctype == EMIT_C_F32) CHECK(f == (float)sc[q->index]);
            if (q->kind == EMIT_PARAM_SCALAR && q->ctype == EMIT_C_I64) CHECK(i64 == (int64_t)sc[q->index]);
            if (q->kind == EMIT_PARAM_SCALAR && q->ctype == EMIT_C_I32)
                CHECK(i32 == (int32_t)(int64_t)sc[q->index]);
        }
        /* Exact e is baked: never a parameter; dynamic d always is. */
        int has_e = 0, has_d = 0;
        for (int p = 0; p < L.nparams; p++)
            if (L.params[p].kind == EMIT_PARAM_SYMBOL) {
                has_e |= L.params[p].index == 0;
                has_d |= L.params[p].index == 3;
            }
        CHECK(!has_e && has_d);
    }
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* Symbol values that satisfy every divisor, small enough for any tile. */
static void bind_small(const tj_graph *g, int64_t *vals) {
    for (int s = 0; s < tj_num_symbols(g); s++) {
        const char *name = tj_symbol_name(g, (tj_sym){s});
        for (int64_t v = harness_randint(1, 300);; v++) {
            char bind[128];
            snprintf(bind, sizeof bind, "%s=%lld", name, (long long)v);
            if (tj_bind_parse(g, bind, vals) == TJ_OK) break;
        }
    }
}

TEST(test_kernel_grid_matches_interpreter_grid_for_every_recipe) {
    fakes_reset();
    for (int r = 0; r < tj_recipe_count(); r++) {
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build(tj_recipe_get(r)->name, 0, NULL, &g));
        tj_kernel *k = make(g, 0, "");
        CHECK(k);
        for (int it = 0; it < 5; it++) {
            int64_t vals[16], grid[3];
            bind_small(g, vals);
            uint64_t tp[16];
            double sc[16];
            for (int i = 0; i < 16; i++) {
                tp[i] = 0x100000 * (uint64_t)(i + 1);
                sc[i] = 0.5;
            }
            CHECK_OK(tj_graph_grid(g, vals, grid));
            CHECKF(tj_kernel_launch(k, tp, sc, vals, NULL) == TJ_OK, "%s: %s",
                   tj_recipe_get(r)->name, tj_last_error());
            for (int i = 0; i < 3; i++)
                CHECKF(last_grid[i] == (unsigned)grid[i], "%s: grid[%d] %u, want %lld",
                       tj_recipe_get(r)->name, i, last_grid[i], (long long)grid[i]);
        }
        CHECK(k->grid_fast);
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
}

TEST(test_kernel_bad_arguments_are_clear_errors_and_launch_nothing) {
    fakes_reset();
    tj_graph *g = policy_graph("badargs");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t v[6] = {8, 8, 8, 8, 64, 8};
    CHECK_ERR(tj_kernel_launch(NULL, ptrs, scalars, v, NULL), TJ_ERR_INVALID_ARG, "kernel is NULL");
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, NULL, NULL), TJ_ERR_INVALID_ARG, "sym_vals is NULL");
    CHECK_ERR(tj_kernel_launch(k, NULL, scalars, v, NULL), TJ_ERR_INVALID_ARG, "tensors is NULL");
    CHECK_ERR(tj_kernel_launch(k, ptrs, NULL, v, NULL), TJ_ERR_INVALID_ARG, "scalars is NULL");
    v[3] = TJ_UNBOUND;
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_UNBOUND, "symbol 'd' has no value");
    v[3] = 0;
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_INVALID_ARG, "'d' = 0");
    v[3] = (int64_t)INT32_MAX + 1;
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_INVALID_ARG, "1..2^31-1");
    v[3] = 8;
    v[4] = 100;
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_INVALID_ARG,
              "'v' = 100 is not a multiple of 64");
    v[4] = 128;
    uint64_t tp[5];
    memcpy(tp, ptrs, sizeof tp);
    tp[2] = 0;
    CHECK_ERR(tj_kernel_launch(k, tp, scalars, v, NULL), TJ_ERR_INVALID_ARG,
              "tensor 'w' (argument 2) is a null device pointer");
    tp[2] = ptrs[2];
    tp[4] = 0x50004;   /* o is declared 16-byte aligned */
    CHECK_ERR(tj_kernel_launch(k, tp, scalars, v, NULL), TJ_ERR_INVALID_ARG,
              "not aligned to 16 bytes");
    double sc[4] = {1, 0.0 / 0.0, 1, 1};
    CHECK_ERR(tj_kernel_launch(k, ptrs, sc, v, NULL), TJ_ERR_INVALID_ARG, "scalar 'n'");
    sc[1] = 1;
    v[0] = 4 * 70000;   /* grid[0] = cdiv(e, 4) is fine ... */
    v[1] = 70000;       /* ... min(p, 3) too: a large p is legal */
    CHECK_OK(tj_kernel_launch(k, ptrs, sc, v, NULL));
    CHECK(launches == 1 && compiles == 1);
    tj_kernel_stats s = stats(k);
    CHECK(s.launches == 1 && s.misses == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_create_rejects_bad_input) {
    tj_graph *g = policy_graph("create");
    CHECK(g);
    tj_kernel *k = (tj_kernel *)&k;
    CHECK_ERR(tj_kernel_create(NULL, NULL, &k), TJ_ERR_INVALID_ARG, "graph is NULL");
    CHECK(k == NULL);
    CHECK_ERR(tj_kernel_create(g, NULL, NULL), TJ_ERR_INVALID_ARG, "out is NULL");
    tj_kernel_options o = {ARCH, 0x80, ""};
    CHECK_ERR(tj_kernel_create(g, &o, &k), TJ_ERR_INVALID_ARG, "unknown flags 0x80");
    const char *bad[] = {"sm_70", "sm90", "sm_90b", "compute_90", "sm_-90", "", "sm_ 90"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = (tj_kernel_options){bad[i], 0, ""};
        CHECK_ERR(tj_kernel_create(g, &o, &k), TJ_ERR_INVALID_ARG, "is not a target name");
    }
    /* A graph a builder call broke is refused with its error. */
    tj_graph *broken = NULL;
    CHECK_OK(tj_graph_new("broken", &broken));
    tj_unary(broken, TJ_EXP, TJ_NONE);
    o = (tj_kernel_options){ARCH, 0, ""};
    CHECK(tj_kernel_create(broken, &o, &k) != TJ_OK && k == NULL);
    tj_graph_free(broken);
    /* The kernel keeps its own copy: the graph may go at once. */
    CHECK_OK(tj_kernel_create(g, &o, &k));
    tj_graph_free(g);
    kernel_set_test_hooks(k, &all_hooks);
    int64_t v[6] = {8, 8, 8, 8, 64, 8};
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    tj_kernel_destroy(k);
    tj_kernel_destroy(NULL);
    tj_kernel_stats s;
    CHECK_ERR(tj_kernel_stats_get(NULL, &s), TJ_ERR_INVALID_ARG, "NULL");
}

/* ---- background compiles ----------------------------------------------------------- */

TEST(test_kernel_background_launches_dynamic_variant_until_ready) {
    fakes_reset();
    gate_closed = 1;   /* specialized compiles wait until the gate opens */
    tj_graph *g = policy_graph("bg");
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    int64_t v[6] = {40, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECKF(last_fn && strstr(last_fn, " e=dyn ") && strstr(last_fn, " t=16"), "%s", last_fn);
    /* Another shape shares the dynamic variant while its own compile waits. */
    v[0] = 41;
    v[1] = 300;
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECKF(strstr(last_fn, " e=dyn "), "%s", last_fn);
    tj_kernel_stats s = stats(k);
    CHECKF(s.fallback_launches == 2 && s.compiles == 1 && s.misses == 2,
           "fallbacks %llu compiles %llu", (unsigned long long)s.fallback_launches,
           (unsigned long long)s.compiles);
    gate_open();
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECKF(strstr(last_fn, " e=41 ") && strstr(last_fn, " p=512 "), "%s", last_fn);
    v[0] = 40;
    v[1] = 100;
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECKF(strstr(last_fn, " e=40 "), "%s", last_fn);
    s = stats(k);
    CHECK(s.compiles == 3 && s.fallback_launches == 2 && s.hits == 2 && s.specializations == 3);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_background_failure_stays_on_dynamic_variant) {
    fakes_reset();
    compile_fails = TJ_ERR_COMPILE;
    fail_variant0_only = 1;
    tj_graph *g = policy_graph("bgfail");
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    int64_t v[6] = {40, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECKF(strstr(last_fn, " e=dyn "), "%s", last_fn);
    CHECK(stats(k).fallback_launches == 2 && compiles == 2);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

static void *open_gate_later(void *arg) {
    (void)arg;
    usleep(100000);
    gate_open();
    return NULL;
}

TEST(test_kernel_destroy_waits_for_background_compiles) {
    fakes_reset();
    gate_closed = 1;
    tj_graph *g = policy_graph("bgdestroy");
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    int64_t v[6] = {40, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, v, NULL));
    CHECK(compiles == 1);   /* the dynamic variant; the specialization waits */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, open_gate_later, NULL) == 0);
    tj_kernel_destroy(k);
    CHECK(compiles == 2);
    pthread_join(t, NULL);
    tj_graph_free(g);
}

TEST(test_kernel_background_compiles_at_once_when_the_variants_are_one_kernel) {
    fakes_reset();
    const char *rp[] = {"rows=dynamic", "cols=pow2"};   /* cols sizes the tile */
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 2, rp, &g));
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    CHECK(!k->variants_differ);
    int64_t v[2] = {0, 0};
    v[tj_find_symbol(g, "rows").id] = 7;
    v[tj_find_symbol(g, "cols").id] = 100;
    uint64_t tp[2] = {0x1000, 0x2000};
    double sc[1] = {0};
    CHECK_OK(tj_kernel_launch(k, tp, sc, v, NULL));
    tj_kernel_stats s = stats(k);
    CHECK(s.fallback_launches == 0 && s.compiles == 1 && s.specializations == 1);
    CHECKF(strstr(last_fn, "cols=128"), "%s", last_fn);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_background_with_no_compile_is_a_plain_miss) {
    fakes_reset();
    tj_graph *g = policy_graph("bgnocompile");
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND | TJ_KERNEL_NO_COMPILE, temp_dir());
    CHECK(k);
    int64_t v[6] = {40, 100, 10, 5, 64, 9};
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_UNSUPPORTED, "no prebuilt kernel");
    CHECK(compiles == 0 && launches == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- the real compiler (NVRTC present, no GPU needed) ------------------------------ */

static tj_status elf_load(void *user, const void *cubin, size_t size, const char *name,
                          void **fn) {
    (void)user;
    if (size < 64 || memcmp(cubin, "\x7f" "ELF", 4) != 0)
        return tj_set_error(TJ_ERR_DRIVER, "not an ELF cubin");
    *fn = (void *)name;
    return TJ_OK;
}

TEST(test_kernel_real_compile_is_cached_with_its_nvrtc_version) {
    if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error());
    fakes_reset();
    const char *rp[] = {"cols=pow2", "dtype=f32"};
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("rmsnorm", 2, rp, &g));
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel_options o = {ARCH, 0, dir};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    kernel_test_hooks h = {NULL, elf_load, fake_launch, NULL};
    kernel_set_test_hooks(k, &h);
    int64_t vals[2] = {0, 0};
    vals[tj_find_symbol(g, "rows").id] = 10;
    vals[tj_find_symbol(g, "cols").id] = 100;
    uint64_t tp[4] = {0x1000, 0x2000, 0x3000, 0x4000};
    double sc[2] = {1e-5, 0};
    CHECK_OK(tj_kernel_launch(k, tp, sc, vals, NULL));
    CHECKF(last_fn && !strcmp(last_fn, "tj_rmsnorm"), "%s", last_fn ? last_fn : "(null)");
    tj_kernel_stats s = stats(k);
    CHECK(s.compiles == 1 && s.compile_seconds > 0 && s.cubin_bytes > 64);
    printf("  rmsnorm compiled in %.0f ms\n", s.compile_seconds * 1e3);
    tj_kernel_destroy(k);
    /* On disk, with the compiler recorded (not hashed). */
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    cache_entry_info *e = NULL;
    size_t n = 0;
    CHECK_OK(cache_list(d, &e, &n));
    int major = 0, minor = 0;
    CHECK_OK(nvrtc_version(&major, &minor));
    char want[32];
    snprintf(want, sizeof want, "nvrtc=%d.%d\n", major, minor);
    CHECKF(n == 1 && e[0].desc && strstr(e[0].desc, want) && strstr(e[0].desc, "cols=128"),
           "%zu entries; %s", n, n ? e[0].desc : "");
    cache_list_free(e, n);
    cache_dir_close(d);
    /* A second kernel, not allowed to compile, loads it. */
    o.flags = TJ_KERNEL_NO_COMPILE;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    kernel_set_test_hooks(k, &h);
    vals[tj_find_symbol(g, "cols").id] = 127;
    CHECK_OK(tj_kernel_launch(k, tp, sc, vals, NULL));
    CHECK(stats(k).disk_hits == 1 && stats(k).compiles == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_nvtx_ranges_are_safe_with_or_without_nvtx) {
    kernel_nvtx_push("tilejit test range");
    kernel_nvtx_pop();
    printf("  NVTX library %s\n", kernel_nvtx_loaded() ? "loaded" : "absent (ranges skipped)");
}

TEST(test_kernel_cleanup_temp_dirs) {
    if (tmp_root[0]) nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) { return harness_main(); }
