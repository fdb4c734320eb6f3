/*
 * test_gpu_gemm.c — the gemm_sm90 schedule on a device, through what users
 * call (tj_kernel_create / tj_kernel_launch), against the CPU interpreter:
 * ragged M, N, K, both operand layouts (every transpose), bf16 and f16,
 * several tile shapes, persistent walks over more tiles than SMs, and
 * epilogues (bias + activation, a user's own with residual, column
 * vector, scalar scale, mask and cast). Each case first checks that the
 * schedule really is the one chosen. SKIPs without an sm_90 device.
 */
#include "emit.h"
#include "gpu_harness.h"

#define MAX_T 8

/* Declare every tensor 16-byte aligned (what the copy engine needs and
 * device allocations give). */
static void align16(tj_graph *g) {
    for (int t = 0; t < tj_num_tensors(g); t++) tj_tensor_set_align(g, (tj_tensor){t}, 16);
}

static tj_graph *gemm(const char *params) {
    const char *argv[16];
    char buf[256];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", params);
    for (char *s = strtok(buf, " "); s && n < 16; s = strtok(NULL, " ")) argv[n++] = s;
    tj_graph *g = NULL;
    if (tj_recipe_build("gemm", n, argv, &g) != TJ_OK) {
        fprintf(stderr, "  %s\n", tj_last_error());
        return NULL;
    }
    align16(g);
    return g;
}

/* The schedule emit_kernel picks for g at vals on sm_90a ("" on error). */
static const char *picked(const tj_graph *g, const int64_t *vals, char *note, size_t size) {
    static _Thread_local emit_launch L;
    char *src = NULL;
    memset(&L, 0, sizeof L);
    if (emit_kernel(g, "sm_90a", vals, NULL, &src, &L) != TJ_OK) return "";
    free(src);
    if (note) snprintf(note, size, "%s", L.note);
    return L.schedule;
}

#define REQUIRE_SM90()                                                              \
    do {                                                                            \
        drv_device dev_;                                                            \
        GPU_REQUIRE_DEVICE(&dev_);                                                  \
        if (strcmp(dev_.arch, "sm_90a")) SKIP("device is %s, not sm_90a", dev_.arch); \
        if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error()); \
    } while (0)

/* Inputs random in [-amp, amp) (rounded to their dtype), outputs
 * poisoned; the interpreter on copies; one launch; every stored tensor
 * compared (tolerance scaled by the caller's partial-sum size). */
static int run_case(const tj_graph *g, const int64_t *vals, double amp, double scale, char *why,
                    size_t whylen) {
    int n = tj_num_tensors(g), stored[MAX_T] = {0}, ok = 0;
    gpu_buf buf[MAX_T];
    void *ref[MAX_T] = {0};
    uint64_t ptrs[MAX_T];
    double scalars[MAX_T];
    memset(buf, 0, sizeof buf);
    tj_kernel *k = NULL;
    tj_status s = TJ_OK;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_STORE) stored[g->nodes[i].tensor] = 1;
    for (int t = 0; t < n && s == TJ_OK; t++) {
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        int64_t e = 0;
        s = tj_tensor_extent(g, (tj_tensor){t}, vals, &e);
        if (s == TJ_OK)
            s = stored[t] ? gpu_buf_poison(&buf[t], dt, (size_t)e)
                          : gpu_buf_random(&buf[t], dt, (size_t)e, -amp, amp);
        if (s == TJ_OK && !(ref[t] = malloc(gpu_buf_bytes(&buf[t]))))
            s = tj_set_error(TJ_ERR_NO_MEMORY, "out of memory");
        if (s == TJ_OK) memcpy(ref[t], buf[t].host, gpu_buf_bytes(&buf[t]));
        ptrs[t] = buf[t].dev;
    }
    for (int i = 0; i < tj_num_scalars(g); i++) scalars[i] = harness_uniform(0.5, 2.0);
    if (s == TJ_OK) s = tj_interp_run(g, vals, ref, scalars, 0);
    if (s == TJ_OK) s = drv_context_sync();
    tj_kernel_options o = {NULL, 0, ""};
    if (s == TJ_OK) s = tj_kernel_create(g, &o, &k);
    if (s == TJ_OK) s = tj_kernel_launch(k, ptrs, scalars, vals, NULL);
    if (s == TJ_OK) s = drv_context_sync();
    if (s != TJ_OK) {
        snprintf(why, whylen, "%s: %s", tj_status_name(s), tj_last_error());
        goto done;
    }
    ok = 1;
    for (int t = 0; t < n && ok; t++) {
        if (!stored[t]) continue;
        if (gpu_buf_download(&buf[t]) != TJ_OK) {
            snprintf(why, whylen, "download: %s", tj_last_error());
            ok = 0;
            break;
        }
        size_t cnt = buf[t].n, es = tj_dtype_size(buf[t].dtype);
        double *want = malloc(cnt * sizeof *want);
        if (!want) {
            ok = 0;
            break;
        }
        for (size_t i = 0; i < cnt; i++)
            tj_convert(TJ_F64, &want[i], buf[t].dtype, (const char *)ref[t] + i * es, 1);
        gpu_cmp c = gpu_compare(buf[t].dtype, buf[t].host, want, cnt, scale);
        free(want);
        if (c.bad) {
            snprintf(why, whylen, "%s: %zu of %zu off; first [%zu] (row %zu col %zu): got %.6g, "
                     "want %.6g; max rel %.3g",
                     tj_tensor_name(g, (tj_tensor){t}), c.bad, cnt, c.first,
                     c.first / (size_t)(vals[1] > 0 ? vals[1] : 1),
                     c.first % (size_t)(vals[1] > 0 ? vals[1] : 1), c.got, c.want, c.max_rel);
            ok = 0;
        }
    }
done:
    tj_kernel_destroy(k);
    for (int t = 0; t < n; t++) {
        gpu_buf_free(&buf[t]);
        free(ref[t]);
    }
    return ok;
}

/* The recipe at (M, N, K), inputs in [-amp, amp): the fast path is
 * chosen and agrees within `scale` (the partial sums' typical size). */
static void recipe_case_in(const char *params, int64_t m, int64_t nn, int64_t kk, double amp,
                           double scale) {
    tj_graph *g = gemm(params);
    CHECK(g);
    int64_t vals[3];
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = nn;
    vals[tj_find_symbol(g, "K").id] = kk;
    char note[256] = "", why[512] = "";
    const char *sched = picked(g, vals, note, sizeof note);
    if (strcmp(sched, "gemm_sm90")) {
        tj_graph_free(g);
        CHECKF(0, "%s at %lldx%lldx%lld: schedule '%s' (%s)", params, (long long)m,
               (long long)nn, (long long)kk, sched, note);
    }
    int ok = run_case(g, vals, amp, scale, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "%s at %lldx%lldx%lld: %s", params, (long long)m, (long long)nn, (long long)kk,
           why);
}

/* Inputs in [-1, 1): the partial sums are about sqrt(K) / 3 (a product
 * has variance 1/9). */
static void recipe_case(const char *params, int64_t m, int64_t nn, int64_t kk) {
    recipe_case_in(params, m, nn, kk, 1.0, sqrt((double)kk) / 4);
}

TEST(test_gpu_gemm_bf16_every_layout_at_ragged_shapes) {
    REQUIRE_SM90();
    static const char *layouts[] = {"trans_a=0 trans_b=0", "trans_a=0 trans_b=1",
                                    "trans_a=1 trans_b=0", "trans_a=1 trans_b=1"};
    for (int l = 0; l < 4; l++) {
        char p[128];
        snprintf(p, sizeof p, "dtype=bf16 %s", layouts[l]);
        recipe_case(p, 136, 264, 520);
        if (harness_failed_now) return;
        recipe_case(p, 8, 72, 8);
        if (harness_failed_now) return;
    }
    /* c rows of 100 bf16 (200 bytes): stored from registers, not TMA */
    recipe_case("dtype=bf16 trans_b=1", 136, 100, 264);
}

TEST(test_gpu_gemm_f16_every_layout_at_ragged_shapes) {
    REQUIRE_SM90();
    static const char *layouts[] = {"trans_a=0 trans_b=0", "trans_a=0 trans_b=1",
                                    "trans_a=1 trans_b=0", "trans_a=1 trans_b=1"};
    for (int l = 0; l < 4; l++) {
        char p[128];
        snprintf(p, sizeof p, "dtype=f16 %s", layouts[l]);
        recipe_case(p, 200, 136, 264);
        if (harness_failed_now) return;
    }
}

TEST(test_gpu_gemm_tile_shapes) {
    REQUIRE_SM90();
    static const char *tiles[] = {"bm=128 bn=256 bk=64", "bm=64 bn=128 bk=64",
                                  "bm=256 bn=128 bk=64", "bm=128 bn=128 bk=128",
                                  "bm=64 bn=64 bk=64 trans_b=1", "bm=128 bn=256 bk=64 trans_a=1"};
    for (int i = 0; i < 6; i++) {
        recipe_case(tiles[i], 328, 520, 200);
        if (harness_failed_now) return;
    }
}

TEST(test_gpu_gemm_persistent_walk_over_more_tiles_than_sms) {
    REQUIRE_SM90();
    recipe_case("bm=128 bn=128 bk=64", 1536, 1544, 512);      /* 12 x 13 tiles */
    recipe_case("bm=128 bn=256 bk=64 trans_b=1", 1032, 2056, 776);
}

TEST(test_gpu_gemm_bias_and_activations) {
    REQUIRE_SM90();
    recipe_case("bias=1 act=gelu bn=256", 264, 520, 328);
    recipe_case("bias=1 act=silu out=f32 trans_a=1", 200, 136, 96);
    recipe_case("act=relu dtype=f16 out=bf16 trans_b=1", 72, 200, 136);
    recipe_case("bias=1 act=gelu_tanh dtype=f16", 136, 72, 264);
}

/* A user's own GEMM-shaped graph: alpha * (a . b^T) + residual + a column
 * vector, masked below the diagonal, cast to f16. */
static const char user_text[] =
    "tilejit 1\ngraph user_epi\nsym M exact\nsym N exact\nsym K exact\n"
    "tensor a bf16[M,K] align 16\ntensor b bf16[N,K] align 16\ntensor r f32[M,N] align 16\n"
    "tensor colv f32[M,1] align 16\ntensor c f16[M,N] align 16\nscalar alpha f32\n"
    "%pm = program_id 0 : i32\n%pn = program_id 1 : i32\n%zero = const 0 : f32[128,128]\n"
    "%k = symval K : i32\n%bk = const 64 : i32\n%nk = cdiv %k, %bk : i32\n"
    "%i0 = const 0 : i32\n%i1 = const 1 : i32\n"
    "%acc = for %kt = %i0 to %nk step %i1 iter(%cc = %zero) {\n"
    "  %ta = load a [%pm, %kt] : bf16[128,64]\n  %tb = load b [%pn, %kt] : bf16[128,64]\n"
    "  %nx = mma %ta, %tb, %cc trans_b : f32[128,128]\n  yield %nx\n}\n"
    "%s = mul %acc, %alpha : f32[128,128]\n"
    "%res = load r [%pm, %pn] : f32[128,128]\n%t1 = add %s, %res : f32[128,128]\n"
    "%cv = load colv [%pm, %i0] : f32[128,1]\n"
    "%t2 = add %t1, %cv : f32[128,128]\n"
    "%ri = iota axis 0 : i32[128,1]\n%ci = iota axis 1 : i32[1,128]\n"
    "%below = lt %ci, %ri : bool[128,128]\n%m0 = const 0 : f32\n"
    "%t3 = where %below, %m0, %t2 : f32[128,128]\n"
    "%o = cast %t3 : f16[128,128]\nstore c [%pm, %pn], %o\n"
    "%gm = symval M : i32\n%bm = const 128 : i32\n%g0 = cdiv %gm, %bm : i32\n"
    "%gn = symval N : i32\n%g1 = cdiv %gn, %bm : i32\ngrid [%g0, %g1]\n";

TEST(test_gpu_gemm_user_epilogue) {
    REQUIRE_SM90();
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_parse(user_text, strlen(user_text), "user_epi.tj", &g));
    int64_t vals[3] = {328, 200, 264};
    char note[256] = "", why[512] = "";
    const char *sched = picked(g, vals, note, sizeof note);
    if (strcmp(sched, "gemm_sm90")) {
        tj_graph_free(g);
        CHECKF(0, "schedule '%s' (%s)", sched, note);
    }
    int ok = run_case(g, vals, 1.0, 4.0, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "%s", why);
}

/* Rows that are not 16-byte multiples: the schedule declines and the
 * generic path still computes the same thing. */
TEST(test_gpu_gemm_declined_shape_falls_back_and_agrees) {
    REQUIRE_SM90();
    tj_graph *g = gemm("dtype=bf16");
    CHECK(g);
    int64_t vals[3] = {100, 60, 100};
    char note[256] = "", why[512] = "";
    const char *sched = picked(g, vals, note, sizeof note);
    int generic = !strcmp(sched, "generic") && strstr(note, "gemm_sm90") != NULL;
    int ok = generic && run_case(g, vals, 1.0, 2.5, why, sizeof why);
    tj_graph_free(g);
    CHECKF(generic, "schedule '%s' (%s)", sched, note);
    CHECKF(ok, "%s", why);
}

/* ---- fp8 ------------------------------------------------------------------ */

/* fp8 inputs uniform in [-2, 2) (e4m3 keeps 3 mantissa bits there, e5m2
 * 2; both far from their limits), rounded once on the host: the kernel
 * and the interpreter multiply the same fp8 values, so they differ only
 * in how the sums are rounded and the output's rounding. A product has
 * variance 16/9, the partial sums about 1.3 sqrt(K): scale sqrt(K) for
 * 16-bit outputs (their rounding dominates). An f32 output shows the
 * sums' rounding itself: Hopper's fp8 wgmma aligns each k32 step's
 * products to the accumulator's exponent keeping about 14 bits, which
 * truncates (a bias, not a random walk): after K/32 steps an element is
 * off by about (K/32) 2^-14 of its own size (H200, 2026-11-29: 0.064 at
 * 75.5 and 0.031 at 111 with K 528, cuBLASLt's fast accumulation alike).
 * Elements reach about 4 * 1.3 sqrt(K), so scale K^1.5 / 5 (1e-4 of it is
 * twice that bound: 0.24 at K 528), still far below a misplaced partial
 * sum (~30 there). */
static void fp8_case(const char *params, int64_t m, int64_t nn, int64_t kk) {
    int f32_out = strstr(params, "out=f32") != NULL;
    double k = (double)kk;
    recipe_case_in(params, m, nn, kk, 2.0, f32_out ? k * sqrt(k) / 5 : sqrt(k));
}

TEST(test_gpu_gemm_fp8_e4m3_at_ragged_shapes) {
    REQUIRE_SM90();
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128", 200, 136, 384);
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128", 1000, 520, 256);
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128", 136, 264, 272);   /* K: 2 tiles and 16 */
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128", 136, 100, 400);   /* c rows of 200 bytes */
}

TEST(test_gpu_gemm_fp8_e5m2_at_ragged_shapes) {
    REQUIRE_SM90();
    fp8_case("dtype=f8e5m2 trans_b=1 bk=128", 200, 136, 384);
    fp8_case("dtype=f8e5m2 trans_b=1 bk=128", 1000, 520, 256);
    fp8_case("dtype=f8e5m2 trans_b=1 bk=128 out=f32", 72, 200, 528);
}

TEST(test_gpu_gemm_fp8_tile_shapes) {
    REQUIRE_SM90();
    static const char *tiles[] = {"bm=128 bn=256 bk=128", "bm=64 bn=128 bk=128",
                                  "bm=256 bn=128 bk=128", "bm=64 bn=64 bk=256",
                                  "bm=64 bn=256 bk=128"};
    for (int i = 0; i < 5; i++) {
        char p[128];
        snprintf(p, sizeof p, "dtype=f8e4m3 trans_b=1 %s", tiles[i]);
        fp8_case(p, 328, 520, 400);
        if (harness_failed_now) return;
    }
    /* more tiles than SMs: the persistent walk */
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128 bm=128 bn=128", 1536, 1544, 512);
}

TEST(test_gpu_gemm_fp8_bias_and_activations) {
    REQUIRE_SM90();
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128 bias=1 act=gelu", 200, 136, 384);
    fp8_case("dtype=f8e5m2 trans_b=1 bk=128 bias=1 act=gelu_tanh bn=256", 1000, 520, 256);
    fp8_case("dtype=f8e4m3 trans_b=1 bk=128 bias=1 act=silu out=f32", 264, 72, 528);
    fp8_case("dtype=f8e5m2 trans_b=1 bk=128 act=relu out=f16", 136, 200, 272);
}

/* fp8 with b N-major: gemm_sm90 declines (no 8-bit transpose in wgmma)
 * and the generic lowering computes the same thing. */
TEST(test_gpu_gemm_fp8_not_k_major_falls_back_and_agrees) {
    REQUIRE_SM90();
    static const char *ps[] = {"dtype=f8e4m3 bk=128", "dtype=f8e5m2 trans_a=1 trans_b=1 bk=128"};
    for (int i = 0; i < 2; i++) {
        tj_graph *g = gemm(ps[i]);
        CHECK(g);
        int64_t vals[3];
        vals[tj_find_symbol(g, "M").id] = 200;
        vals[tj_find_symbol(g, "N").id] = 136;
        vals[tj_find_symbol(g, "K").id] = 384;
        char note[256] = "", why[512] = "";
        const char *sched = picked(g, vals, note, sizeof note);
        int generic = !strcmp(sched, "generic") && strstr(note, "fp8 operand") != NULL;
        int ok = generic && run_case(g, vals, 2.0, sqrt(384.0), why, sizeof why);
        tj_graph_free(g);
        CHECKF(generic, "%s: schedule '%s' (%s)", ps[i], sched, note);
        CHECKF(ok, "%s: %s", ps[i], why);
    }
}

int main(void) { return harness_main(); }
