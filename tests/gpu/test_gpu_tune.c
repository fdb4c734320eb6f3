/*
 * test_gpu_tune.c — `tilejit tune`'s measuring on a device
 * (runtime/gemm_tune_run.c): one small shape tuned into a scratch cache
 * directory, its record stored and checked, and the next for-shape build
 * of the recipe on this device taking the record (and its cubin from the
 * cache: no compile). SKIPs without an sm_90a device or NVRTC.
 */
#include <ftw.h>
#include <unistd.h>

#include "gemm_config.h"
#include "gemm_tune.h"
#include "gpu_harness.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}

#define REQUIRE_SM90()                                                              \
    do {                                                                            \
        drv_device dev_;                                                            \
        GPU_REQUIRE_DEVICE(&dev_);                                                  \
        if (strcmp(dev_.arch, "sm_90a")) SKIP("device is %s, not sm_90a", dev_.arch); \
        if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error()); \
    } while (0)

TEST(test_gpu_tune_stores_a_record_the_next_build_uses) {
    REQUIRE_SM90();
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tj-tune-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    const char *p[] = {"trans_b=1", "bias=1", "act=relu"};
    const int64_t m = 200, n = 520, k = 1024;   /* ragged M and N */
    gemm_tune_request req = {3, p, m, n, k, 3, 10, dir, 1, 7, NULL, NULL};
    gemm_tune_result r;
    tj_status st = gemm_tune_shape(&req, &r);
    tj_gemm_target t = {NULL, NULL, 0, dir, 0};
    tj_graph *g = NULL;
    tj_gemm_config c = {0};
    if (st == TJ_OK) st = tj_recipe_gemm_for_shape(3, p, m, n, k, &t, &g, &c);
    /* the tuned graph's kernel: compiled by the tune, so found in the cache */
    tj_kernel *kern = NULL;
    tj_kernel_options o = {NULL, 0, dir};
    tj_kernel_stats ks;
    memset(&ks, 0, sizeof ks);
    if (st == TJ_OK) st = tj_kernel_create(g, &o, &kern);
    int64_t vals[3] = {0};
    if (g) {
        vals[tj_find_symbol(g, "M").id] = m;
        vals[tj_find_symbol(g, "N").id] = n;
        vals[tj_find_symbol(g, "K").id] = k;
    }
    if (st == TJ_OK) st = tj_kernel_prepare(kern, vals);
    if (st == TJ_OK) st = tj_kernel_stats_get(kern, &ks);
    /* another shape has no record: the model */
    tj_graph *g2 = NULL;
    tj_gemm_config c2 = {0};
    if (st == TJ_OK) st = tj_recipe_gemm_for_shape(3, p, m, n, k + 16, &t, &g2, &c2);
    tj_kernel_destroy(kern);
    tj_graph_free(g);
    tj_graph_free(g2);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    CHECK_OK(st);
    printf("  tuned %dx%dx%d split %d: %.1f TFLOP/s of %d candidates (model's pick %dx%dx%d: "
           "%.1f), error %.1e\n",
           r.best.cfg.bm, r.best.cfg.bn, r.best.cfg.bk, r.best.cfg.split, r.best.tflops,
           r.best.candidates, r.model.bm, r.model.bn, r.model.bk, r.model_tflops, r.max_err);
    CHECK(r.best.candidates == 3 && r.best.tflops > 0 && r.key[0]);
    CHECK(r.max_err <= 2e-2);
    CHECK(c.tuned == 1);
    CHECK(c.bm == r.best.cfg.bm && c.bn == r.best.cfg.bn && c.bk == r.best.cfg.bk);
    CHECK(c.split == r.best.cfg.split);
    CHECKF(ks.compiles == 0, "%llu compiles", (unsigned long long)ks.compiles);
    CHECK(c2.tuned == 0);
}

int main(void) { return harness_main(); }
