/*
 * test_kernel_bg.c — tj_kernel without a GPU, continued: background
 * compiles and the dynamic-shape variant, the real compiler (NVRTC, no
 * GPU needed) writing the disk cache, NVTX. Hooks in kernel_fakes.h.
 */
#include "kernel_fakes.h"

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
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, v, NULL), TJ_ERR_UNSUPPORTED,
              "no prebuilt kernel");
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

TEST(test_kernel_cleanup_temp_dirs) { cleanup_temp_dirs(); }

int main(void) { return harness_main(); }
