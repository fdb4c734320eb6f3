/*
 * test_kernel.c — tj_kernel without a GPU: the specialization key per
 * policy, the lock-free map under concurrent inserts and lookups, single
 * flight, parallel compiles of different keys, the no-compile mode, disk
 * and bundle hits, parameter packing, the grid and bad arguments. The
 * compile, load and launch are test hooks (kernel_fakes.h).
 */
#include "kernel_fakes.h"

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
               strstr(msg, "TJ_KERNEL_NO_COMPILE") && strstr(msg, "e=9") &&
               strstr(msg, "no prebuilt entry exists at all"),
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

TEST(test_kernel_no_compile_miss_says_how_the_nearest_entry_differs) {
    fakes_reset();
    tj_graph *g = policy_graph("nearest");
    CHECK(g);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel *a = make(g, 0, dir);
    CHECK(a);
    int64_t v[6] = {9, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_launch(a, ptrs, scalars, v, NULL));
    tj_kernel_destroy(a);
    tj_kernel *b = make(g, TJ_KERNEL_NO_COMPILE, dir);
    CHECK(b);
    v[0] = 10;
    CHECK_ERR(tj_kernel_launch(b, ptrs, scalars, v, NULL), TJ_ERR_UNSUPPORTED,
              "the nearest prebuilt entry differs in symbols: e wanted 10, entry has 9");
    /* Asked again: the same answer (the scan is done once per key). */
    CHECK_ERR(tj_kernel_launch(b, ptrs, scalars, v, NULL), TJ_ERR_UNSUPPORTED,
              "e wanted 10, entry has 9");
    v[0] = 9;
    CHECK_OK(tj_kernel_launch(b, ptrs, scalars, v, NULL));
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
        CHECK_OK(emit_kernel(g, ARCH, spec, NULL, &src, &L));
        free(src);
        CHECK_OK(tj_graph_grid(g, v, grid));
        CHECK(last_nparams == L.nparams);
        if (L.grid_mode == EMIT_GRID_DIV) grid[0] = (grid[0] + L.grid_arg - 1) / L.grid_arg;
        CHECK(L.grid_mode != EMIT_GRID_PERSISTENT);
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
            if (q->kind != EMIT_PARAM_SCALAR) continue;
            double x = sc[q->index];
            if (q->ctype == EMIT_C_F32) CHECK(f == (float)x);
            if (q->ctype == EMIT_C_I64) CHECK(i64 == (int64_t)x);
            if (q->ctype == EMIT_C_I32) CHECK(i32 == (int32_t)(int64_t)x);
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
            /* A schedule may run several programs per block. */
            int64_t spec[16];
            emit_launch L;
            char *src = NULL;
            cache_specialize(g, vals, spec);
            CHECK_OK(emit_kernel(g, ARCH, spec, NULL, &src, &L));
            free(src);
            /* Tensor maps are encoded by the real driver at launch. */
            int tmaps = 0;
            for (int i = 0; i < L.nparams; i++) tmaps += L.params[i].kind == EMIT_PARAM_TENSORMAP;
            if (tmaps && !drv_available(NULL)) continue;
            CHECKF(tj_kernel_launch(k, tp, sc, vals, NULL) == TJ_OK, "%s: %s",
                   tj_recipe_get(r)->name, tj_last_error());
            if (L.grid_mode == EMIT_GRID_DIV) grid[0] = (grid[0] + L.grid_arg - 1) / L.grid_arg;
            if (L.grid_mode == EMIT_GRID_MUL) grid[0] *= L.grid_arg;
            if (L.grid_mode == EMIT_GRID_PERSISTENT) continue;
            for (int i = 0; i < 3; i++)
                CHECKF(last_grid[i] == (unsigned)grid[i], "%s: grid[%d] %u, want %lld",
                       tj_recipe_get(r)->name, i, last_grid[i], (long long)grid[i]);
        }
        CHECK(k->grid_fast);
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
}

/* Launch descriptions as the fast schedules make them: a grid other than
 * the graph's, the graph's grid as parameters, clusters, tensor maps. */
static int edit_mode, edit_arg;
static void edit_grid(emit_launch *L) {
    L->grid_mode = edit_mode;
    L->grid_arg = edit_arg;
    L->cluster[0] = edit_mode == EMIT_GRID_PERSISTENT ? 2 : 1;
    for (int d = 0; d < 3; d++)
        L->params[L->nparams++] =
            (emit_param){.kind = EMIT_PARAM_GRID, .index = d, .ctype = EMIT_C_I32, .size = 4};
}

TEST(test_kernel_grid_modes_and_grid_params) {
    fakes_reset();
    launch_edit = edit_grid;
    tj_graph *g = policy_graph("modes");
    CHECK(g);
    static const int modes[4] = {EMIT_GRID_GRAPH, EMIT_GRID_DIV, EMIT_GRID_PERSISTENT,
                                 EMIT_GRID_MUL};
    for (int m = 0; m < 4; m++) {
        edit_mode = modes[m];
        edit_arg = harness_randint(1, 5);
        tj_kernel *k = make(g, 0, "");
        CHECK(k);
        for (int it = 0; it < 10; it++) {
            int64_t v[6], grid[3];
            policy_vals(v, harness_randint(1, 3000));
            double sc[4] = {1, 2, 1, 3};
            uint64_t tp[5];
            for (int t = 0; t < 5; t++) tp[t] = (uint64_t)(t + 1) << 20;
            CHECK_OK(tj_kernel_launch(k, tp, sc, v, NULL));
            CHECK_OK(tj_graph_grid(g, v, grid));
            for (int d = 0; d < 3; d++) {   /* the last three parameters */
                int32_t got;
                memcpy(&got, &last_params[last_nparams - 3 + d], 4);
                CHECKF(got == grid[d], "grid param %d: %d, want %lld", d, got, (long long)grid[d]);
            }
            int64_t total = grid[0] * grid[1] * grid[2];
            if (edit_mode == EMIT_GRID_GRAPH) {
                for (int d = 0; d < 3; d++) CHECK(last_grid[d] == (unsigned)grid[d]);
            } else if (edit_mode == EMIT_GRID_DIV) {
                CHECK(last_grid[0] == (unsigned)((grid[0] + edit_arg - 1) / edit_arg));
                CHECK(last_grid[1] == (unsigned)grid[1] && last_grid[2] == (unsigned)grid[2]);
            } else if (edit_mode == EMIT_GRID_MUL) {
                CHECK(last_grid[0] == (unsigned)(grid[0] * edit_arg));
                CHECK(last_grid[1] == (unsigned)grid[1] && last_grid[2] == (unsigned)grid[2]);
            } else {   /* 132 fake SMs, clusters of 2 */
                int64_t want = total < 132 * edit_arg ? total : 132 * edit_arg;
                want = want >= 2 ? want - want % 2 : 2;
                CHECKF(last_grid[0] == (unsigned)want, "persistent grid %u, want %lld (total %lld)",
                       last_grid[0], (long long)want, (long long)total);
                CHECK(last_grid[1] == 1 && last_grid[2] == 1);
            }
        }
        if (edit_mode == EMIT_GRID_MUL) {   /* more blocks than a launch may have */
            edit_arg = 1 << 20;
            tj_kernel *big = make(g, 0, "");
            int64_t v[6];
            policy_vals(v, 20000);
            double sc[4] = {1, 2, 1, 3};
            uint64_t tp[5];
            for (int t = 0; t < 5; t++) tp[t] = (uint64_t)(t + 1) << 20;
            int64_t grid[3];
            CHECK_OK(tj_graph_grid(g, v, grid));
            CHECK(grid[0] > INT32_MAX / edit_arg);
            CHECK_ERR(tj_kernel_launch(big, tp, sc, v, NULL), TJ_ERR_INVALID_ARG, "2^31-1");
            tj_kernel_destroy(big);
        }
        tj_kernel_destroy(k);
    }
    launch_edit = NULL;
    tj_graph_free(g);
}

static void edit_bad(emit_launch *L) {
    if (edit_mode == 0) L->grid_mode = 7;
    if (edit_mode == 1) L->cluster[0] = 32;
    if (edit_mode == 2)
        L->params[L->nparams++] =
            (emit_param){.kind = EMIT_PARAM_GRID, .index = 3, .ctype = EMIT_C_I32, .size = 4};
    if (edit_mode == 3) {   /* a tensor map of the wrong rank */
        emit_param q = {.kind = EMIT_PARAM_TENSORMAP, .index = 0, .ctype = EMIT_C_TMAP, .size = 128};
        q.tmap.rank = 1;
        q.tmap.box[0] = 64;
        L->params[L->nparams++] = q;
    }
}

TEST(test_kernel_rejects_a_launch_description_that_does_not_fit) {
    fakes_reset();
    launch_edit = edit_bad;
    tj_graph *g = policy_graph("badlaunch");
    CHECK(g);
    static const char *const want[4] = {"grid mode", "cluster", "does not match", "rank"};
    for (edit_mode = 0; edit_mode < 4; edit_mode++) {
        tj_kernel *k = make(g, 0, "");
        CHECK(k);
        int64_t v[6];
        policy_vals(v, 100);
        double sc[4] = {1, 2, 1, 3};
        uint64_t tp[5];
        for (int t = 0; t < 5; t++) tp[t] = (uint64_t)(t + 1) << 20;
        CHECK_ERR(tj_kernel_launch(k, tp, sc, v, NULL), TJ_ERR_INTERNAL, want[edit_mode]);
        tj_kernel_destroy(k);
    }
    launch_edit = NULL;
    tj_graph_free(g);
}

/* Memory-only kernels with compile hooks keep their cubins to themselves:
 * two such kernels of one graph each compile (a bench comparing two back
 * ends once timed one cubin twice through the shared memory store). */
TEST(test_kernel_hooked_memory_only_kernels_do_not_share_cubins) {
    fakes_reset();
    tj_graph *g = policy_graph("private");
    CHECK(g);
    tj_kernel *a = make(g, 0, ""), *b = make(g, 0, "");
    CHECK(a && b);
    int64_t v[6];
    policy_vals(v, 21);
    double sc[4] = {1, 2, 1, 3};
    uint64_t tp[5];
    for (int t = 0; t < 5; t++) tp[t] = (uint64_t)(t + 1) << 20;
    CHECK_OK(tj_kernel_launch(a, tp, sc, v, NULL));
    CHECK_OK(tj_kernel_launch(b, tp, sc, v, NULL));
    CHECKF(atomic_load(&compiles) == 2, "compiles %d", atomic_load(&compiles));
    tj_kernel_destroy(a);
    tj_kernel_destroy(b);
    tj_graph_free(g);
}

TEST(test_kernel_log_names_each_specializations_schedule) {
    fakes_reset();
    tj_graph *g = policy_graph("logged");
    CHECK(g);
    tj_kernel *k = make(g, 0, "");
    CHECK(k);
    char path[] = "/tmp/tj-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    setenv("TILEJIT_LOG", "1", 1);
    int64_t v[6];
    policy_vals(v, 37);
    double sc[4] = {1, 2, 1, 3};
    uint64_t tp[5];
    for (int t = 0; t < 5; t++) tp[t] = (uint64_t)(t + 1) << 20;
    tj_status st = tj_kernel_launch(k, tp, sc, v, NULL);
    st = st == TJ_OK ? tj_kernel_launch(k, tp, sc, v, NULL) : st;   /* a hit: no line */
    unsetenv("TILEJIT_LOG");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_OK(st);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    CHECK(n > 0);
    CHECKF(strstr(buf, "graph 'logged'") && strstr(buf, "compiled for " ARCH) &&
               strstr(buf, "schedule "),
           "log: %s", buf);
    CHECKF(strchr(buf, '\n') == strrchr(buf, '\n'), "one line per specialization: %s", buf);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_bad_arguments_are_clear_errors_and_launch_nothing) {
    fakes_reset();
    tj_graph *g = policy_graph("badargs");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t v[6] = {8, 8, 8, 8, 64, 8};
    CHECK_ERR(tj_kernel_launch(NULL, ptrs, scalars, v, NULL), TJ_ERR_INVALID_ARG,
              "kernel is NULL");
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, NULL, NULL), TJ_ERR_INVALID_ARG,
              "sym_vals is NULL");
    CHECK_ERR(tj_kernel_launch(k, NULL, scalars, v, NULL), TJ_ERR_INVALID_ARG, "tensors is NULL");
    CHECK_ERR(tj_kernel_launch(k, ptrs, NULL, v, NULL), TJ_ERR_INVALID_ARG, "scalars is NULL");
    v[3] = TJ_UNBOUND;
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_UNBOUND,
              "symbol 'd' has no value");
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

TEST(test_kernel_cleanup_temp_dirs) { cleanup_temp_dirs(); }

int main(void) { return harness_main(); }
