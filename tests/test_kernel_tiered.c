/*
 * test_kernel_tiered.c — tj_kernel's tiered compiles (TJ_KERNEL_TIERED)
 * without a GPU: the generic lowering launched first, the fast kernel
 * after its background compile, cached kernels, failures, background
 * mode, no-compile mode and threads. The dispatcher is the real one (it
 * runs on the CPU); the compile hook emits what it is asked for and makes
 * a fake cubin naming the schedule, so launches can be counted per
 * schedule. Shared fakes in kernel_fakes.h.
 */
#include "kernel_fakes.h"

/* ---- a compile hook that knows schedules ------------------------------------------ */

static _Atomic int generic_compiles, fast_compiles, generic_launches, fast_launches;
static tj_status fast_fails;   /* under fake_mu: what fast compiles return */

static void tier_reset(void) {
    fakes_reset();
    generic_compiles = fast_compiles = generic_launches = fast_launches = 0;
    fast_fails = TJ_OK;
}

/* launch->schedule on entry: "" the pick, "generic" tier 0 (kernel_int.h).
 * Fast compiles wait while kernel_fakes.h's gate is closed. */
static tj_status tier_compile(void *user, const tj_graph *g, const char *arch,
                              const int64_t *spec, void **cubin, size_t *size,
                              emit_launch *launch) {
    (void)user;
    char want[sizeof launch->schedule];
    snprintf(want, sizeof want, "%s", launch->schedule);
    char *src = NULL;
    tj_status st = emit_kernel(g, arch, spec, want[0] ? want : NULL, &src, launch);
    free(src);
    if (st != TJ_OK) return st;
    /* No driver to encode tensor maps: the fake kernel takes pointers. */
    for (int i = 0; i < launch->nparams; i++)
        if (launch->params[i].kind == EMIT_PARAM_TENSORMAP) {
            launch->params[i].kind = EMIT_PARAM_TENSOR;
            launch->params[i].ctype = EMIT_C_PTR;
        }
    int fast = strcmp(launch->schedule, "generic") != 0;
    pthread_mutex_lock(&fake_mu);
    while (fast && gate_closed) pthread_cond_wait(&fake_cv, &fake_mu);
    tj_status fail = fast ? fast_fails : TJ_OK;
    pthread_mutex_unlock(&fake_mu);
    atomic_fetch_add(fast ? &fast_compiles : &generic_compiles, 1);
    if (fail != TJ_OK) return tj_set_error(fail, "fake fast compile failed on purpose");
    char text[512];
    int n = snprintf(text, sizeof text, "FAKE %s %s ", tj_graph_name(g), launch->schedule);
    for (int i = 0; i < tj_num_symbols(g); i++) {
        const char *name = tj_symbol_name(g, (tj_sym){i});
        if (spec[i] == TJ_UNBOUND)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s=dyn ", name);
        else
            n += snprintf(text + n, sizeof text - (size_t)n, "%s=%lld ", name, (long long)spec[i]);
    }
    *cubin = strdup(text);
    *size = strlen(text) + 1;
    return *cubin ? TJ_OK : TJ_ERR_NO_MEMORY;
}

static void set_fast_fails(tj_status st) {
    pthread_mutex_lock(&fake_mu);
    fast_fails = st;
    pthread_mutex_unlock(&fake_mu);
}

/* stderr into f (the background compile's warning) until stderr_back. */
static int stderr_to(FILE *f) {
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(f), 2);
    return saved;
}

static void stderr_back(int saved) {
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static tj_status tier_launch(void *user, void *fn, const unsigned grid[3], const unsigned block[3],
                             unsigned smem, void *stream, void **params, int nparams) {
    tj_status st = fake_launch(user, fn, grid, block, smem, stream, params, nparams);
    atomic_fetch_add(strstr(fn, " generic ") ? &generic_launches : &fast_launches, 1);
    return st;
}

static const kernel_test_hooks tier_hooks = {tier_compile, fake_load, tier_launch, NULL};

static tj_kernel *make_tiered(const tj_graph *g, unsigned flags, const char *dir) {
    tj_kernel *k = make(g, flags, dir);
    if (k) kernel_set_test_hooks(k, &tier_hooks);
    return k;
}

/* ---- graphs ----------------------------------------------------------------------- */

/* The gemm recipe (M, N, K exact: gemm_sm90 on sm_90a when N and K are
 * multiples of 8 and the dtype bf16; its dynamic variant is generic) at
 * random sizes. */
static tj_graph *gemm_graph_of(const char *dtype, int64_t v[3]) {
    tj_graph *g = NULL;
    if (tj_recipe_build("gemm", 1, &dtype, &g) != TJ_OK) return NULL;
    v[tj_find_symbol(g, "M").id] = harness_randint(1, 3000);
    v[tj_find_symbol(g, "N").id] = 8 * harness_randint(1, 300);
    v[tj_find_symbol(g, "K").id] = 8 * harness_randint(1, 300);
    return g;
}

static tj_graph *gemm_graph(int64_t v[3]) { return gemm_graph_of("dtype=bf16", v); }

/* The rmsnorm recipe (rows dynamic, cols exact: the rows schedule) at
 * random sizes: a fast kernel without tensor maps, which a cubin loaded
 * from the cache gets from the emitter (gemm_sm90's need a driver). */
static tj_graph *norm_graph(int64_t v[2]) {
    tj_graph *g = NULL;
    if (tj_recipe_build("rmsnorm", 0, NULL, &g) != TJ_OK) return NULL;
    v[tj_find_symbol(g, "rows").id] = harness_randint(1, 5000);
    v[tj_find_symbol(g, "cols").id] = 8 * harness_randint(1, 1000);
    return g;
}

/* The schedule the dispatcher gives g at these values (or its dynamic
 * variant), to check a test's premise. */
static const char *picked(const tj_graph *g, const int64_t *vals, int dynamic_variant) {
    static char name[24];
    tj_kernel *k = make_tiered(g, 0, "");
    if (!k) return "?";
    kspec s;
    int64_t spec[KERNEL_MAX_SYMS];
    char *src = NULL;
    emit_launch L;
    snprintf(name, sizeof name, "?");
    if (kernel_spec(k, vals, dynamic_variant ? KV_DYNAMIC : 0, &s) == TJ_OK) {
        int64_t rep[KERNEL_MAX_SYMS];
        for (int i = 0; i < tj_num_symbols(g); i++) rep[i] = s.v[i] == TJ_UNBOUND ? TJ_UNBOUND : vals[i];
        cache_specialize(g, rep, spec);
        if (emit_kernel(g, ARCH, spec, NULL, &src, &L) == TJ_OK)
            snprintf(name, sizeof name, "%s", L.schedule);
    }
    free(src);
    tj_kernel_destroy(k);
    return name;
}

static int launch_is(const char *schedule, const char *sym) {
    char s[64];
    snprintf(s, sizeof s, " %s ", schedule);
    return last_fn && strstr(last_fn, s) && (!sym || strstr(last_fn, sym));
}

static const uint64_t gemm_ptrs[3] = {0x10000, 0x20000, 0x30000};
static const uint64_t norm_ptrs[3] = {0x10000, 0x20000, 0x30000};
static const double norm_eps[1] = {1e-5};

/* The entries in dir: how many, how many of each tier (with `recorded`
 * in their description, e.g. "nvrtc=13.0\n"; "" for any). */
static tj_status count_tiers(const char *dir, const char *recorded, size_t *n, int *generic,
                             int *fast) {
    cache_dir *d = NULL;
    cache_entry_info *e = NULL;
    tj_status st = cache_dir_open(dir, &d);
    if (st == TJ_OK) st = cache_list(d, &e, n);
    *generic = *fast = 0;
    for (size_t i = 0; st == TJ_OK && i < *n; i++)
        if (e[i].desc && strstr(e[i].desc, recorded)) {
            *generic += strstr(e[i].desc, "\nschedule=generic\n") != NULL;
            *fast += strstr(e[i].desc, "\nschedule=auto\n") != NULL;
        }
    if (st == TJ_OK) cache_list_free(e, *n);
    cache_dir_close(d);
    return st;
}

/* A new tiered kernel over dir launches g's fast kernel (rows) at once,
 * from the cache, compiling nothing. 1 when so. */
static int fast_from_cache_at_once(const tj_graph *g, const int64_t *v, const char *dir) {
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, dir);
    if (!k) return 0;
    int before = generic_compiles + fast_compiles;
    tj_status st = tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL);
    int fast = launch_is("rows", NULL);
    tj_kernel_stats s = stats(k);
    tj_kernel_destroy(k);   /* waits for any background compile */
    int ok = st == TJ_OK && fast && s.compiles == 0 && s.disk_hits == 1 && s.tier0_launches == 0 &&
             generic_compiles + fast_compiles == before;
    if (!ok)
        fprintf(stderr, "  %s; launched %s; %llu compiles, %llu disk hits, %llu tier 0\n",
                st == TJ_OK ? "ok" : tj_last_error(), last_fn ? last_fn : "nothing",
                (unsigned long long)s.compiles, (unsigned long long)s.disk_hits,
                (unsigned long long)s.tier0_launches);
    return ok;
}

/* ---- tier 0, then the fast kernel ------------------------------------------------- */

/* tj_kernel_prepare on a tiered kernel makes the fast kernel itself
 * ready (no generic tier first): the next launch is fast. */
TEST(test_kernel_tiered_prepare_compiles_the_fast_kernel) {
    tier_reset();
    int64_t v[2];
    tj_graph *g = norm_graph(v);
    CHECK(g);
    CHECKF(!strcmp(picked(g, v, 0), "rows"), "premise: %s", picked(g, v, 0));
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, temp_dir());
    CHECK(k);
    CHECK_OK(tj_kernel_prepare(k, v));
    CHECK(fast_compiles == 1 && generic_compiles == 0);
    CHECK_OK(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL));
    CHECKF(launch_is("rows", NULL) && fast_launches == 1 && generic_launches == 0, "%s",
           last_fn ? last_fn : "(none)");
    tj_kernel_stats s = stats(k);
    CHECK(s.tier0_launches == 0 && s.tier_upgrades == 0 && s.hits == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_tiered_launches_generic_first_then_the_fast_kernel) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph(v);
    CHECK(g);
    CHECKF(!strcmp(picked(g, v, 0), "gemm_sm90"), "premise: %s", picked(g, v, 0));
    gate_closed = 1;   /* the fast compile waits */
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, temp_dir());
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("generic", NULL), "%s", last_fn);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("generic", NULL), "%s", last_fn);
    tj_kernel_stats s = stats(k);
    CHECKF(s.tier0_launches == 2 && s.tier_upgrades == 0 && s.misses == 1 && s.compiles == 1 &&
               generic_compiles == 1 && fast_compiles == 0,
           "tier0 %llu upgrades %llu misses %llu compiles %llu", (unsigned long long)s.tier0_launches,
           (unsigned long long)s.tier_upgrades, (unsigned long long)s.misses,
           (unsigned long long)s.compiles);
    gate_open();
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("gemm_sm90", NULL), "%s", last_fn);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    s = stats(k);
    CHECKF(s.tier0_launches == 2 && s.tier_upgrades == 1 && s.hits == 2 && s.compiles == 2 &&
               s.specializations == 2 && fast_compiles == 1 && generic_launches == 2 &&
               fast_launches == 2,
           "tier0 %llu upgrades %llu hits %llu", (unsigned long long)s.tier0_launches,
           (unsigned long long)s.tier_upgrades, (unsigned long long)s.hits);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_tiered_caches_each_tier_under_its_own_key_and_reuses_the_fast_one) {
    tier_reset();
    int64_t v[2];
    tj_graph *g = norm_graph(v);
    CHECK(g);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL));
    CHECKF(launch_is("generic", NULL), "%s", last_fn);
    tj_kernel_destroy(k);   /* after the fast compile */
    size_t n = 0;
    int generic = 0, fast = 0;
    CHECK_OK(count_tiers(dir, "", &n, &generic, &fast));
    CHECKF(n == 2 && generic == 1 && fast == 1, "%zu entries, %d generic, %d auto", n, generic,
           fast);
    /* Another kernel (a later process) loads the fast cubin at once. */
    CHECK(fast_from_cache_at_once(g, v, dir));
    CHECK(generic_compiles == 1 && fast_compiles == 1);
    tj_graph_free(g);
}

TEST(test_tiered_uses_a_cached_fast_cubin_without_a_generic_compile) {
    tier_reset();
    int64_t v[2];
    tj_graph *g = norm_graph(v);
    CHECK(g);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel *k = make_tiered(g, 0, dir);   /* untiered: the fast kernel only */
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL));
    CHECKF(launch_is("rows", NULL), "%s", last_fn);
    tj_kernel_destroy(k);
    CHECK(fast_from_cache_at_once(g, v, dir));
    CHECK(generic_compiles == 0 && fast_compiles == 1);
    tj_graph_free(g);
}

TEST(test_tiered_loads_a_cached_generic_kernel_as_tier_0) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph(v);
    CHECK(g);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    set_fast_fails(TJ_ERR_COMPILE);   /* only tier 0 reaches the cache */
    FILE *quiet = tmpfile();
    CHECK(quiet);
    int saved = stderr_to(quiet);
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, dir);
    tj_status st = k ? tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL) : TJ_ERR_INTERNAL;
    tj_kernel_destroy(k);
    stderr_back(saved);
    fclose(quiet);
    CHECK(k && st == TJ_OK && generic_compiles == 1 && fast_compiles == 1);
    set_fast_fails(TJ_OK);
    k = make_tiered(g, TJ_KERNEL_TIERED, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("generic", NULL), "%s", last_fn);
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("gemm_sm90", NULL), "%s", last_fn);
    tj_kernel_stats s = stats(k);
    CHECK(s.disk_hits == 1 && s.compiles == 1 && s.tier0_launches == 1 && s.tier_upgrades == 1 &&
          generic_compiles == 1 && fast_compiles == 2);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- failures, graphs without a fast schedule ----------------------------------- */

TEST(test_tiered_failed_fast_compile_keeps_generic_with_one_warning) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph(v);
    CHECK(g);
    set_fast_fails(TJ_ERR_COMPILE);
    FILE *err = tmpfile();
    CHECK(err);
    int saved = stderr_to(err);
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, temp_dir());
    tj_status st[4] = {TJ_ERR_INTERNAL, TJ_ERR_INTERNAL, TJ_ERR_INTERNAL, TJ_ERR_INTERNAL};
    int generic_each = 1;
    for (int i = 0; k && i < 4; i++) {
        st[i] = tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL);
        generic_each &= launch_is("generic", NULL);
        if (i == 0) kernel_wait_background(k);
    }
    tj_kernel_stats s = k ? stats(k) : (tj_kernel_stats){0};
    tj_kernel_destroy(k);
    stderr_back(saved);
    rewind(err);
    char line[2048];
    int warnings = 0, lines = 0;
    while (fgets(line, sizeof line, err)) {
        lines++;
        warnings += strstr(line, "keep using the generic lowering") != NULL &&
                    strstr(line, "fake fast compile failed") != NULL;
    }
    fclose(err);
    CHECK(k);
    for (int i = 0; i < 4; i++) CHECK_OK(st[i]);
    CHECK(generic_each);
    CHECKF(warnings == 1 && lines == 1, "%d warnings in %d lines", warnings, lines);
    CHECKF(s.tier0_launches == 4 && s.tier_upgrades == 0 && s.compiles == 2 && fast_compiles == 1 &&
               generic_compiles == 1,
           "tier0 %llu compiles %llu fast %d", (unsigned long long)s.tier0_launches,
           (unsigned long long)s.compiles, (int)fast_compiles);
    tj_graph_free(g);
}

TEST(test_tiered_graph_without_a_fast_schedule_compiles_once_as_before) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph_of("dtype=f32", v);   /* f32 operands: no wgmma */
    CHECK(g);
    CHECKF(!strcmp(picked(g, v, 0), "generic"), "premise: %s", picked(g, v, 0));
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    kernel_wait_background(k);
    tj_kernel_stats s = stats(k);
    CHECK(s.compiles == 1 && s.hits == 1 && s.tier0_launches == 0 && s.specializations == 1 &&
          generic_compiles == 1 && fast_compiles == 0);
    tj_kernel_destroy(k);
    /* Under the key an untiered kernel uses (schedule=auto). */
    k = make_tiered(g, TJ_KERNEL_NO_COMPILE, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECK(stats(k).disk_hits == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- with background compiles, without compiles ------------------------------------ */

TEST(test_tiered_with_background_tiers_the_dynamic_variant) {
    tier_reset();
    const char *rp[] = {"rows=exact"};   /* rows sizes no tile: the variants differ */
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 1, rp, &g));
    int64_t v[2];
    v[tj_find_symbol(g, "rows").id] = harness_randint(1, 5000);
    v[tj_find_symbol(g, "cols").id] = harness_randint(1, 8192);
    CHECKF(!strcmp(picked(g, v, 0), "rows") && !strcmp(picked(g, v, 1), "rows"), "premise: %s",
           picked(g, v, 1));
    gate_closed = 1;
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED | TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    CHECK(k->variants_differ);
    uint64_t tp[2] = {0x1000, 0x2000};
    CHECK_OK(tj_kernel_launch(k, tp, NULL, v, NULL));
    CHECKF(launch_is("generic", "rows=dyn"), "%s", last_fn);
    tj_kernel_stats s = stats(k);
    CHECKF(s.fallback_launches == 1 && s.tier0_launches == 1 && generic_compiles == 1 &&
               fast_compiles == 0,
           "fallbacks %llu tier0 %llu", (unsigned long long)s.fallback_launches,
           (unsigned long long)s.tier0_launches);
    gate_open();
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, tp, NULL, v, NULL));
    CHECKF(launch_is("rows", NULL) && !strstr(last_fn, "rows=dyn"), "%s", last_fn);
    /* Another row count: the dynamic variant's fast kernel while its own compiles. */
    gate_closed = 1;
    v[tj_find_symbol(g, "rows").id] += 1;
    CHECK_OK(tj_kernel_launch(k, tp, NULL, v, NULL));
    CHECKF(launch_is("rows", "rows=dyn"), "%s", last_fn);
    gate_open();
    kernel_wait_background(k);
    s = stats(k);
    CHECKF(s.tier0_launches == 1 && s.tier_upgrades == 1 && s.fallback_launches == 2 &&
               generic_compiles == 1 && fast_compiles == 3 && s.hits == 1,
           "tier0 %llu upgrades %llu fallbacks %llu fast %d", (unsigned long long)s.tier0_launches,
           (unsigned long long)s.tier_upgrades, (unsigned long long)s.fallback_launches,
           (int)fast_compiles);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_tiered_with_background_changes_nothing_when_the_dynamic_variant_is_generic) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph(v);
    CHECK(g);
    CHECKF(!strcmp(picked(g, v, 1), "generic"), "premise: %s", picked(g, v, 1));
    gate_closed = 1;
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED | TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("generic", "M=dyn"), "%s", last_fn);
    tj_kernel_stats s = stats(k);
    CHECK(s.fallback_launches == 1 && s.tier0_launches == 0);
    gate_open();
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, gemm_ptrs, NULL, v, NULL));
    CHECKF(launch_is("gemm_sm90", NULL), "%s", last_fn);
    s = stats(k);
    CHECK(s.tier0_launches == 0 && s.tier_upgrades == 0 && s.compiles == 2);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_tiered_with_no_compile_is_a_plain_miss) {
    tier_reset();
    int64_t v[2];
    tj_graph *g = norm_graph(v);
    CHECK(g);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED | TJ_KERNEL_NO_COMPILE, dir);
    CHECK(k);
    CHECK(!k->tiered && !k->bg);
    CHECK_ERR(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL), TJ_ERR_UNSUPPORTED,
              "no prebuilt kernel");
    CHECK(generic_compiles == 0 && fast_compiles == 0 && launches == 0);
    tj_kernel_destroy(k);
    /* Prebuilt: loaded as it is. */
    k = make_tiered(g, 0, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL));
    tj_kernel_destroy(k);
    k = make_tiered(g, TJ_KERNEL_TIERED | TJ_KERNEL_NO_COMPILE, dir);
    CHECK(k);
    CHECK_OK(tj_kernel_launch(k, norm_ptrs, norm_eps, v, NULL));
    CHECKF(launch_is("rows", NULL), "%s", last_fn);
    CHECK(stats(k).disk_hits == 1 && stats(k).tier0_launches == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_tiered_environment_switch) {
    tier_reset();
    int64_t v[3];
    tj_graph *g = gemm_graph(v);
    CHECK(g);
    setenv("TILEJIT_TIERED", "1", 1);
    tj_kernel *a = make_tiered(g, 0, "");
    setenv("TILEJIT_NO_COMPILE", "1", 1);
    tj_kernel *b = make_tiered(g, 0, "");
    unsetenv("TILEJIT_NO_COMPILE");
    setenv("TILEJIT_TIERED", "0", 1);
    tj_kernel *c = make_tiered(g, 0, "");
    unsetenv("TILEJIT_TIERED");
    int ok = a && b && c && a->tiered && !b->tiered && !c->tiered;
    tj_status st = a ? tj_kernel_launch(a, gemm_ptrs, NULL, v, NULL) : TJ_ERR_INTERNAL;
    int generic = launch_is("generic", NULL);
    tj_kernel_destroy(a);
    tj_kernel_destroy(b);
    tj_kernel_destroy(c);
    CHECK(ok);
    CHECK_OK(st);
    CHECKF(generic, "%s", last_fn);
    tj_graph_free(g);
}

/* ---- threads ----------------------------------------------------------------------- */

#define NSHAPES 3
#define NTHREADS 8

typedef struct racer {
    tj_kernel *k;
    int64_t v[3];
    char sym[32];                /* " M=<value> " of its shape */
    _Atomic int *stop, *upgraded;
    _Atomic int launches, after;       /* read by the main thread meanwhile */
    int errors, wrong;
    char why[256];
} racer;

static void *race(void *arg) {
    racer *r = arg;
    while (!atomic_load(r->stop)) {
        int up = atomic_load_explicit(r->upgraded, memory_order_acquire);
        tj_status st = tj_kernel_launch(r->k, gemm_ptrs, NULL, r->v, NULL);
        if (st != TJ_OK) {
            if (!r->errors++) snprintf(r->why, sizeof r->why, "%s", tj_last_error());
            continue;
        }
        r->launches++;
        /* The right shape always; the fast kernel once it was published. */
        if (!last_fn || !strstr(last_fn, r->sym) || (up && !launch_is("gemm_sm90", NULL))) {
            if (!r->wrong++) snprintf(r->why, sizeof r->why, "%s%s", up ? "after: " : "",
                                      last_fn ? last_fn : "(null)");
        }
        r->after += up;
    }
    return NULL;
}

TEST(test_tiered_concurrent_launches_during_the_upgrade) {
    tier_reset();
    int64_t v[NSHAPES][3];
    tj_graph *g = NULL;
    for (int i = 0; i < NSHAPES; i++) {
        tj_graph_free(g);
        g = gemm_graph(v[i]);
        CHECK(g);
        v[i][tj_find_symbol(g, "M").id] = 4000 + 37 * i + harness_randint(0, 36);
    }
    gate_closed = 1;
    tj_kernel *k = make_tiered(g, TJ_KERNEL_TIERED, temp_dir());
    CHECK(k);
    _Atomic int stop = 0, upgraded = 0;
    static racer r[NTHREADS];
    pthread_t t[NTHREADS];
    int m = tj_find_symbol(g, "M").id;
    for (int i = 0; i < NTHREADS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].k = k;
        memcpy(r[i].v, v[i % NSHAPES], sizeof r[i].v);
        snprintf(r[i].sym, sizeof r[i].sym, " M=%lld ", (long long)r[i].v[m]);
        r[i].stop = &stop;
        r[i].upgraded = &upgraded;
        CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
    }
    /* Every thread launches on tier 0 while the fast compiles cannot finish:
     * no launch waits for one. */
    int under_way = 0;
    for (int i = 0; i < 5000 && !under_way; i++) {
        int least = 1 << 30;
        for (int j = 0; j < NTHREADS; j++) least = r[j].launches < least ? r[j].launches : least;
        under_way = least >= 20 && atomic_load(&generic_launches) >= 400;
        if (!under_way) usleep(1000);
    }
    int before_generic = generic_compiles, before_fast = fast_compiles;
    gate_open();
    kernel_wait_background(k);
    atomic_store_explicit(&upgraded, 1, memory_order_release);
    for (int i = 0; i < 5000; i++) {
        int least = 1 << 30;
        for (int j = 0; j < NTHREADS; j++) least = r[j].after < least ? r[j].after : least;
        if (least >= 50) break;
        usleep(1000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    tj_kernel_stats s = stats(k);
    tj_kernel_destroy(k);
    tj_graph_free(g);
    CHECKF(under_way && before_generic == NSHAPES && before_fast == 0,
           "before the gate: %s, %d generic compiles, %d fast", under_way ? "all launching" :
           "some thread stalled", before_generic, before_fast);
    for (int i = 0; i < NTHREADS; i++)
        CHECKF(!r[i].errors && !r[i].wrong && r[i].after >= 50,
               "thread %d: %d errors, %d wrong, %d launches after: %s", i, r[i].errors, r[i].wrong,
               r[i].after, r[i].why);
    CHECKF(generic_compiles == NSHAPES && fast_compiles == NSHAPES && s.misses == NSHAPES &&
               s.tier_upgrades == NSHAPES && s.tier0_launches == (uint64_t)generic_launches &&
               s.tier0_launches >= 400,
           "generic %d fast %d misses %llu upgrades %llu tier0 %llu", (int)generic_compiles,
           (int)fast_compiles, (unsigned long long)s.misses, (unsigned long long)s.tier_upgrades,
           (unsigned long long)s.tier0_launches);
}

/* ---- the real compiler (NVRTC present, no GPU needed) ------------------------------ */

static _Atomic int elf_loads;

/* The function is the kernel's name; counts the images that are ELF. */
static tj_status name_load(void *user, const void *cubin, size_t size, const char *name,
                           void **fn) {
    (void)user;
    atomic_fetch_add(&elf_loads, size >= 64 && !memcmp(cubin, "\x7f" "ELF", 4));
    *fn = (void *)name;
    return TJ_OK;
}

TEST(test_tiered_real_compile_writes_both_tiers_with_their_nvrtc_version) {
    if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error());
    tier_reset();
    const char *rp[] = {"dtype=f32"};
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("rmsnorm", 1, rp, &g));
    int64_t vals[2];
    vals[tj_find_symbol(g, "rows").id] = harness_randint(1, 100);
    vals[tj_find_symbol(g, "cols").id] = 4 * harness_randint(1, 300);
    CHECKF(!strcmp(picked(g, vals, 0), "rows"), "premise: %s", picked(g, vals, 0));
    char dir[128];
    snprintf(dir, sizeof dir, "%s", temp_dir());
    tj_kernel_options o = {ARCH, TJ_KERNEL_TIERED, dir};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    elf_loads = 0;
    kernel_test_hooks h = {NULL, name_load, fake_launch, NULL};
    kernel_set_test_hooks(k, &h);
    uint64_t tp[4] = {0x1000, 0x2000, 0x3000, 0x4000};
    double sc[2] = {1e-5, 0};
    CHECK_OK(tj_kernel_launch(k, tp, sc, vals, NULL));
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_launch(k, tp, sc, vals, NULL));
    tj_kernel_stats s = stats(k);
    CHECK(s.compiles == 2 && s.tier0_launches == 1 && s.tier_upgrades == 1 && s.hits == 1 &&
          elf_loads == 2);
    printf("  rmsnorm: generic then rows compiled in %.0f ms together\n", s.compile_seconds * 1e3);
    tj_kernel_destroy(k);
    int major = 0, minor = 0;
    CHECK_OK(nvrtc_version(&major, &minor));
    char want[32];
    snprintf(want, sizeof want, "nvrtc=%d.%d\n", major, minor);
    size_t n = 0;
    int generic = 0, fast = 0;
    CHECK_OK(count_tiers(dir, want, &n, &generic, &fast));
    CHECKF(n == 2 && generic == 1 && fast == 1, "%zu entries, %d generic, %d auto", n, generic,
           fast);
    tj_graph_free(g);
}

TEST(test_tiered_cleanup_temp_dirs) { cleanup_temp_dirs(); }

int main(void) { return harness_main(); }
