/*
 * test_sched_gemm.c — the gemm_sm90 schedule without a GPU: which graphs
 * it takes and which it declines (with the reason the launch note and
 * `tilejit emit` show), the launch description it writes (tensor maps,
 * persistent grid, threads, shared memory), and that what it emits
 * compiles with NVRTC for sm_90a at many shapes and configurations
 * (in a child process: NVRTC 13.0 has crashed on wgmma code). NVRTC
 * tests SKIP when it is missing. Clusters of two blocks (gs_cluster):
 * where they apply and where not, what the kernel and its launch
 * description then say, and that gs_cluster 1 emits the kernel as it was
 * (a golden file: regenerate with TJ_REGEN_GOLDEN=1
 * build/tests/test_sched_gemm and review the diff).
 */
#include "emit.h"
#include "gemm_sm90.h"
#include "golden.h"
#include "harness.h"
#include "nvrtc.h"
#include "sched_compile.h"
#include "schedule.h"
#include "templates.h"

static tj_graph *recipe(const char *params, int aligned) {
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
    /* The recipe declares its operands 16-byte aligned; `aligned` 0 takes
     * that back (element alignment) to see the schedule decline. */
    for (int t = 0; t < tj_num_tensors(g); t++)
        tj_tensor_set_align(g, (tj_tensor){t},
                            aligned ? 16 : (int)tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){t})));
    return g;
}

static void gemm_vals(const tj_graph *g, int64_t m, int64_t n, int64_t k, int64_t *vals) {
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = n;
    vals[tj_find_symbol(g, "K").id] = k;
}

/* Run the schedule directly: 1 applied (src, L set), 0 declined (why). */
static int apply(const tj_graph *g, const char *arch, const int64_t *vals, char **src,
                 emit_launch *L, char *why, size_t size) {
    *src = NULL;
    why[0] = '\0';
    memset(L, 0, sizeof *L);
    tj_status s = sched_gemm_sm90(g, arch, vals, src, L, why, size);
    if (s != TJ_OK) {
        snprintf(why, size, "error %s: %s", tj_status_name(s), tj_last_error());
        return -1;
    }
    return *src != NULL;
}

/* The reason the schedule gives for g (fails the test if it applies). */
#define CHECK_DECLINES(g, arch, vals, substr)                                       \
    do {                                                                            \
        char *src_;                                                                 \
        emit_launch L_;                                                             \
        char why_[160];                                                             \
        int r_ = apply((g), (arch), (vals), &src_, &L_, why_, sizeof why_);         \
        free(src_);                                                                 \
        CHECKF(r_ == 0 && strstr(why_, (substr)), "wanted a decline with \"%s\"; got %d \"%s\"", \
               (substr), r_, why_);                                                 \
    } while (0)

TEST(test_gemm_recipe_is_taken_with_aligned_tensors) {
    tj_graph *g = recipe("dtype=bf16", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 1000, 1000, 1000, vals);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    CHECK(strstr(src, "wgmma_bf16_m64n128k16<0, 1>") != NULL);   /* A K-major, B N-major */
    CHECK(strstr(src, "tma_load_2d") && strstr(src, "regs_take<232>"));
    free(src);
    CHECK(L.threads == 384 && L.grid_mode == EMIT_GRID_PERSISTENT && L.grid_arg == 1);
    CHECK(L.smem_bytes > 4 * 32768 && L.smem_bytes <= 227 * 1024);
    int tmaps = 0, grids = 0;
    for (int p = 0; p < L.nparams; p++) {
        if (L.params[p].kind == EMIT_PARAM_TENSORMAP) {
            const emit_tmap *t = &L.params[p].tmap;
            CHECK(L.params[p].ctype == EMIT_C_TMAP && L.params[p].size == 128);
            CHECK(t->rank == 2 && t->box[0] == 64 && t->swizzle == 128);
            /* a: [128 rows of M, 64 of K]; b (N-major): [64 rows of K, 64 of N],
             * half of them in clusters (gs_cluster 2 pairs 8 x 8 tiles);
             * c: the output's 64x64 boxes */
            CHECK(t->box[1] == (L.params[p].index == 0 ? 128u
                                : L.params[p].index == 1 && L.cluster[0] == 2 ? 32u : 64u));
            tmaps++;
        }
        if (L.params[p].kind == EMIT_PARAM_GRID) grids++;
    }
    CHECK(tmaps == 3 && grids == 3);
}

TEST(test_gemm_takes_every_layout_and_f16) {
    static const char *ps[] = {"trans_a=1", "trans_b=1", "trans_a=1 trans_b=1 dtype=f16",
                               "dtype=f16 bias=1 act=silu out=f32"};
    static const char *want[] = {"<1, 1>", "<0, 0>", "<1, 0>", "<0, 1>"};
    for (int i = 0; i < 4; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, 256, 512, 64, vals);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "%s: %s", ps[i], why);
        int has = strstr(src, want[i]) != NULL;
        free(src);
        CHECKF(has, "%s: wgmma transposes %s", ps[i], want[i]);
    }
}

/* A 16-bit output with 16-byte rows leaves through shared memory and
 * TMA stores; an f32 one (or ragged rows) is stored from registers. */
TEST(test_gemm_output_goes_through_tma_only_where_it_can) {
    static const char *ps[] = {"out=bf16", "out=f32", "dtype=f16 trans_b=1"};
    static const int64_t n[] = {512, 512, 100};   /* c rows of 100 f16: 200 bytes */
    static const int want[] = {1, 0, 0};
    for (int i = 0; i < 3; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, 256, n[i], 64, vals);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "%s: %s", ps[i], why);
        int tma = strstr(src, "tma_store_2d") != NULL;
        free(src);
        CHECKF(tma == want[i], "%s: tma store %d", ps[i], tma);
    }
}

TEST(test_gemm_declines_other_targets) {
    tj_graph *g = recipe("dtype=bf16", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 256, 256, vals);
    CHECK_DECLINES(g, "sm_80", vals, "needs sm_90a");
    CHECK_DECLINES(g, "sm_90", vals, "needs sm_90a");
    tj_graph_free(g);
}

TEST(test_gemm_declines_tensors_not_declared_16_byte_aligned) {
    tj_graph *g = recipe("dtype=bf16", 0);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 256, 256, vals);
    CHECK_DECLINES(g, "sm_90a", vals, "16-byte aligned");
    tj_graph_free(g);
}

TEST(test_gemm_declines_rows_that_are_not_16_byte_multiples) {
    tj_graph *g = recipe("dtype=bf16", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 256, 100, vals);     /* a's rows: 200 bytes */
    CHECK_DECLINES(g, "sm_90a", vals, "16-byte multiples");
    gemm_vals(g, 256, 100, 256, vals);     /* b's rows */
    CHECK_DECLINES(g, "sm_90a", vals, "16-byte multiples");
    tj_graph_free(g);
}

TEST(test_gemm_declines_unsupported_dtypes_and_tiles) {
    tj_graph *g = recipe("dtype=f32", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 256, 256, vals);
    CHECK_DECLINES(g, "sm_90a", vals, "bf16, f16, f8e4m3 and f8e5m2");
    tj_graph_free(g);
    g = recipe("bk=32", 1);
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "multiple of 64");
    tj_graph_free(g);
    g = recipe("bm=256 bn=256", 1);
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "registers");
    tj_graph_free(g);
    g = recipe("bn=32", 1);
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "multiple of 64");
    tj_graph_free(g);
}

TEST(test_non_gemm_recipes_decline) {
    static const char *names[] = {"rmsnorm", "layernorm", "softmax", "attention", "decode"};
    for (int i = 0; i < 5; i++) {
        tj_graph *g = NULL;
        if (tj_recipe_build(names[i], 0, NULL, &g) != TJ_OK) continue;   /* not built here */
        int64_t vals[8];
        for (int s = 0; s < 8; s++) vals[s] = 256;
        char *src;
        emit_launch L;
        char why[160];
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        free(src);
        tj_graph_free(g);
        CHECKF(r == 0 && why[0], "%s: %d \"%s\"", names[i], r, why);
    }
}

static tj_graph *parse(const char *text) {
    tj_graph *g = NULL;
    if (tj_graph_parse(text, strlen(text), "t.tj", &g) != TJ_OK)
        fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

/* A GEMM graph with `epi` (lines using %acc, ending in a value %out
 * [64,64] f32) between the loop and the store of c. */
static tj_graph *with_epilogue(const char *decls, const char *epi) {
    char text[4096];
    snprintf(text, sizeof text,
             "tilejit 1\ngraph g\nsym M exact\nsym N exact\nsym K exact\n"
             "tensor a bf16[M,K] align 16\ntensor b bf16[K,N] align 16\n%s"
             "tensor c bf16[M,N] align 16\n"
             "%%pm = program_id 0 : i32\n%%pn = program_id 1 : i32\n"
             "%%zero = const 0 : f32[64,64]\n%%k = symval K : i32\n%%bk = const 64 : i32\n"
             "%%nk = cdiv %%k, %%bk : i32\n%%i0 = const 0 : i32\n%%i1 = const 1 : i32\n"
             "%%acc = for %%kt = %%i0 to %%nk step %%i1 iter(%%cc = %%zero) {\n"
             "  %%ta = load a [%%pm, %%kt] : bf16[64,64]\n  %%tb = load b [%%kt, %%pn] : bf16[64,64]\n"
             "  %%nx = mma %%ta, %%tb, %%cc : f32[64,64]\n  yield %%nx\n}\n"
             "%s%%o = cast %%out : bf16[64,64]\nstore c [%%pm, %%pn], %%o\n"
             "%%gm = symval M : i32\n%%g0 = cdiv %%gm, %%bk : i32\n"
             "%%gn = symval N : i32\n%%g1 = cdiv %%gn, %%bk : i32\ngrid [%%g0, %%g1]\n",
             decls, epi);
    return parse(text);
}

/* The output's cast right before its store is the store's own rounding
 * (not emitted); a cast anything else reads is kept. */
TEST(test_gemm_output_cast_is_the_stores_rounding) {
    int64_t vals[3] = {256, 256, 256};
    static const struct { const char *epi; int kept; } cs[] = {
        {"%out = add %acc, %acc : f32[64,64]\n", 0},
        {"%h = cast %acc : bf16[64,64]\n%out = cast %h : f32[64,64]\n", 1},
    };
    for (int i = 0; i < 2; i++) {
        tj_graph *g = with_epilogue("", cs[i].epi);
        CHECK(g);
        char *src = NULL, why[256] = "";
        emit_launch L;
        CHECKF(apply(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        int n = 0;
        for (const char *q = src; q && (q = strstr(q, "round_to<tj::bf16>")); q++) n++;
        CHECKF(n == cs[i].kept, "case %d: %d bf16 roundings emitted", i, n);
        free(src);
        tj_graph_free(g);
    }
}

TEST(test_gemm_declines_epilogues_that_are_not_elementwise) {
    int64_t vals[3] = {256, 256, 256};
    tj_graph *g = with_epilogue("", "%s = sum %acc axis 1 : f32[64,1]\n"
                                    "%out = sub %acc, %s : f32[64,64]\n");
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "not elementwise");
    tj_graph_free(g);
    g = with_epilogue("", "%out = transpose %acc : f32[64,64]\n");
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "not elementwise");
    tj_graph_free(g);
}

TEST(test_gemm_declines_a_residual_loaded_elsewhere_than_stored) {
    int64_t vals[3] = {256, 256, 256};
    /* c is read one tile to the right of where it is written. */
    tj_graph *g = with_epilogue("", "%pn1 = add %pn, %i1 : i32\n"
                                    "%r = load c [%pm, %pn1] : bf16[64,64]\n"
                                    "%rf = cast %r : f32[64,64]\n%out = add %acc, %rf : f32[64,64]\n");
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "loaded elsewhere");
    tj_graph_free(g);
    /* In place (same coordinates) is fine. */
    g = with_epilogue("", "%r = load c [%pm, %pn] : bf16[64,64]\n"
                          "%rf = cast %r : f32[64,64]\n%out = add %acc, %rf : f32[64,64]\n");
    CHECK(g);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    free(src);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
}

/* Two stores to one tensor keep their order: neither goes through TMA. */
TEST(test_gemm_tensor_stored_twice_is_stored_from_registers) {
    int64_t vals[3] = {256, 256, 256};
    tj_graph *g = with_epilogue("", "%first = cast %acc : bf16[64,64]\n"
                                    "store c [%pm, %pn], %first\n"
                                    "%out = mul %acc, %acc : f32[64,64]\n");
    CHECK(g);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    int tma = strstr(src, "tma_store_2d") != NULL;
    free(src);
    CHECK(!tma);
}

TEST(test_gemm_declines_two_loops_and_extra_loop_work) {
    int64_t vals[3] = {256, 256, 256};
    const char *two =
        "tilejit 1\ngraph g\nsym M exact\nsym N exact\nsym K exact\n"
        "tensor a bf16[M,K] align 16\ntensor b bf16[K,N] align 16\ntensor c f32[M,N] align 16\n"
        "%pm = program_id 0 : i32\n%pn = program_id 1 : i32\n%zero = const 0 : f32[64,64]\n"
        "%i0 = const 0 : i32\n%i1 = const 1 : i32\n%k = symval K : i32\n"
        "%acc = for %kt = %i0 to %k step %i1 iter(%cc = %zero) {\n"
        "  %ta = load a [%pm, %kt] : bf16[64,64]\n  %tb = load b [%kt, %pn] : bf16[64,64]\n"
        "  %nx = mma %ta, %tb, %cc : f32[64,64]\n  %n2 = mul %nx, %nx : f32[64,64]\n  yield %n2\n}\n"
        "store c [%pm, %pn], %acc\ngrid [%k, %k]\n";
    tj_graph *g = parse(two);
    CHECK(g);
    CHECK_DECLINES(g, "sm_90a", vals, "mma(a, b, acc)");
    tj_graph_free(g);
}

/* ---- fp8 ---------------------------------------------------------------------- */

/* The tensor maps' boxes of the operands: {elements of one 128-byte line, rows}. */
static int operand_boxes(const emit_launch *L, uint32_t inner, uint32_t rows_a, uint32_t rows_b) {
    int seen = 0;
    for (int p = 0; p < L->nparams; p++) {
        const emit_param *q = &L->params[p];
        if (q->kind != EMIT_PARAM_TENSORMAP || q->index > 1) continue;   /* a 0, b 1 */
        if (q->tmap.box[0] != inner || q->tmap.box[1] != (q->index == 0 ? rows_a : rows_b) ||
            q->tmap.swizzle != 128)
            return 0;
        seen++;
    }
    return seen == 2;
}

/* e4m3 and e5m2 with a [M,K] and b [N,K]: wgmma's k32 fp8 form, no
 * transposes, boxes of 128 fp8 elements (128 bytes), k-steps of 32. */
TEST(test_gemm_takes_fp8_operands_that_are_both_k_major) {
    static const char *ps[] = {
        "dtype=f8e4m3 trans_b=1 bk=128",
        "dtype=f8e5m2 trans_b=1 bk=128",
        "dtype=f8e4m3 trans_b=1 bk=128 bm=128 bn=256 bias=1 act=gelu",
        "dtype=f8e5m2 trans_b=1 bk=256 bm=64 bn=64 bias=1 act=gelu_tanh out=f32",
        "dtype=f8e4m3 trans_b=1 bk=128 bm=256 bn=128 act=silu out=f16",
    };
    static const char *want[] = {"wgmma_e4m3_m64n128k32(", "wgmma_e5m2_m64n128k32(",
                                 "wgmma_e4m3_m64n256k32(", "wgmma_e5m2_m64n64k32(",
                                 "wgmma_e4m3_m64n128k32("};
    static const uint32_t rows[][2] = {{128, 128}, {128, 128}, {128, 256}, {64, 64}, {256, 128}};
    static const int64_t shapes[][3] = {{1000, 520, 256}, {200, 136, 384}, {4096, 4096, 4096},
                                        {136, 264, 528}, {328, 200, 272}};
    for (int i = 0; i < 5; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, shapes[i][0], shapes[i][1], shapes[i][2], vals);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "%s: %s", ps[i], why);
        int has = strstr(src, want[i]) != NULL && strstr(src, "KSTEP = 32") != NULL &&
                  strstr(src, "k16") == NULL;
        free(src);
        CHECKF(has, "%s: wanted %s with k-steps of 32", ps[i], want[i]);
        CHECKF(operand_boxes(&L, 128, rows[i][0], rows[i][1]), "%s: operand boxes", ps[i]);
    }
}

/* The dispatcher picks it for fp8 as for 16-bit types. */
/* bk=auto (the recipe's default) is 128 for fp8: the fast path's K tile */
TEST(test_emit_picks_gemm_sm90_for_fp8) {
    static const char *ps[] = {"dtype=f8e5m2 trans_b=1 bk=128 bias=1 act=gelu",
                               "dtype=f8e4m3 trans_b=1"};
    for (int i = 0; i < 2; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, 1000, 520, 256, vals);
        char *src = NULL;
        CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &src));
        tj_graph_free(g);
        int fast = strncmp(src, "// schedule: gemm_sm90", 22) == 0;
        tj_free(src);
        CHECKF(fast, "'%s': first line: not gemm_sm90", ps[i]);
    }
}

/* wgmma has no transpose for 8-bit operands: an M-major a or an N-major
 * b is declined with the reason, and the generic lowering runs it. */
TEST(test_gemm_declines_fp8_operands_that_are_not_k_major) {
    static const char *ps[] = {"dtype=f8e4m3 bk=128", "dtype=f8e5m2 trans_a=1 trans_b=1 bk=128",
                               "dtype=f8e4m3 trans_a=1 bk=128"};
    static const char *want[] = {"fp8 operand b is N-major", "fp8 operand a is M-major",
                                 "fp8 operand a is M-major"};
    for (int i = 0; i < 3; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, 200, 136, 384, vals);
        CHECK_DECLINES(g, "sm_90a", vals, want[i]);
        char *src = NULL;
        tj_status s = tj_emit_cuda(g, "sm_90a", vals, &src);
        tj_graph_free(g);
        CHECK_OK(s);
        int generic = strncmp(src, "// schedule: generic", 20) == 0 && strstr(src, want[i]);
        tj_free(src);
        CHECKF(generic, "%s: not the generic lowering with the reason", ps[i]);
    }
}

/* A K tile of 64 fp8 elements is half a 128-byte swizzle line: declined. */
TEST(test_gemm_declines_fp8_tile_k_that_is_not_a_multiple_of_128) {
    static const char *ps[] = {"dtype=f8e4m3 trans_b=1 bk=64", "dtype=f8e5m2 trans_b=1 bk=32"};
    for (int i = 0; i < 2; i++) {
        tj_graph *g = recipe(ps[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, 256, 256, 512, vals);
        CHECK_DECLINES(g, "sm_90a", vals, "not a multiple of 128");
        tj_graph_free(g);
    }
}

/* fp8 rows must be 16-byte multiples too: 16 elements, not 8. */
TEST(test_gemm_declines_fp8_rows_that_are_not_16_byte_multiples) {
    tj_graph *g = recipe("dtype=f8e4m3 trans_b=1 bk=128", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 256, 392, vals);     /* 392 bytes: a multiple of 8, not 16 */
    CHECK_DECLINES(g, "sm_90a", vals, "16-byte multiples");
    tj_graph_free(g);
}

/* ---- emitted code compiles --------------------------------------------------- */

static int nvrtc_ok(void) { return sched_nvrtc_ok("sm_90a"); }

/* Compile the schedule's kernel for g in a child; unless `spills_ok`,
 * ptxas's resource line must show no spills. */
static int compiles(const tj_graph *g, const int64_t *vals, int spills_ok, char *why,
                    size_t size) {
    char *src;
    emit_launch L;
    if (apply(g, "sm_90a", vals, &src, &L, why, size) != 1) return 0;
    int ok = sched_compile(src, "gemm_sm90.cu", "sm_90a", 120, spills_ok ? SC_SPILLS_OK : 0, why,
                           size);
    free(src);
    return ok;
}

/* Each recipe config at its shape compiles for sm_90a without spills; at
 * 8x8x8 every bound folds to a constant and ptxas keeps a few epilogue
 * values on the stack (40 bytes with erf gelu): compiled, not held to the
 * no-spill rule. */
static void check_configs_compile(const char *const *cfgs, const int64_t (*shapes)[3], int n) {
    for (int i = 0; i < n; i++) {
        tj_graph *g = recipe(cfgs[i], 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, shapes[i][0], shapes[i][1], shapes[i][2], vals);
        char why[2600];
        int ok = compiles(g, vals, shapes[i][0] * shapes[i][1] < 4096, why, sizeof why);
        tj_graph_free(g);
        CHECKF(ok, "%s at %lldx%lldx%lld: %s", cfgs[i], (long long)shapes[i][0],
               (long long)shapes[i][1], (long long)shapes[i][2], why);
    }
}

TEST(test_gemm_kernels_compile_for_sm90a_at_many_configs) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const char *cfgs[] = {
        "dtype=bf16",
        "dtype=bf16 bn=256 bias=1 act=gelu",
        "dtype=f16 trans_a=1",
        "dtype=bf16 trans_b=1 bm=64 bn=256",
        "dtype=f16 trans_a=1 trans_b=1 bm=256 bn=128 out=f32",
        "dtype=bf16 bm=64 bn=64 bk=128 act=silu",
        "dtype=bf16 bk=128 bias=1 act=gelu_tanh out=f32",
        "dtype=f16 bm=128 bn=256 trans_a=1 act=relu",
    };
    static const int64_t shapes[][3] = {{1000, 1000, 1000}, {8, 8, 8},   {4096, 4096, 4096},
                                        {136, 264, 520},    {128, 4096, 4096}, {8192, 8192, 512},
                                        {200, 72, 64},      {16384, 4096, 4096}};
    check_configs_compile(cfgs, shapes, 8);
}

TEST(test_gemm_fp8_kernels_compile_for_sm90a_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const char *cfgs[] = {
        "dtype=f8e4m3 trans_b=1 bk=128",
        "dtype=f8e5m2 trans_b=1 bk=128",
        "dtype=f8e4m3 trans_b=1 bk=128 bn=256 bias=1 act=gelu",
        "dtype=f8e5m2 trans_b=1 bk=128 bias=1 act=gelu_tanh",
        "dtype=f8e4m3 trans_b=1 bk=256 bm=64 bn=64 act=silu out=f32",
        "dtype=f8e5m2 trans_b=1 bk=128 bm=256 bn=128 out=f16",
        "dtype=f8e4m3 trans_b=1 bk=128 bm=64 bn=256 act=relu",
        "dtype=f8e4m3 trans_b=1 bk=128 bias=1 act=gelu out=f32",
    };
    static const int64_t shapes[][3] = {{4096, 4096, 4096}, {200, 136, 384}, {1000, 520, 256},
                                        {8192, 8192, 512},  {136, 264, 528}, {328, 200, 272},
                                        {128, 4096, 4096},  {1000, 520, 256}};
    check_configs_compile(cfgs, shapes, 8);
}

TEST(test_gemm_kernel_with_dynamic_sizes_compiles) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    tj_graph *g = recipe("dtype=bf16 m=dynamic n=dynamic k=dynamic", 1);
    CHECK(g);
    int64_t vals[3] = {TJ_UNBOUND, TJ_UNBOUND, TJ_UNBOUND};
    char why[2600];
    /* Dynamic sizes say nothing of 16-byte rows: declined, unless divisible. */
    char *src;
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    free(src);
    tj_graph_free(g);
    CHECKF(r == 0 && strstr(why, "16-byte multiples"), "%d %s", r, why);
    const char *text =
        "tilejit 1\ngraph dyn\nsym M dynamic\nsym N dynamic div 8\nsym K dynamic div 64\n"
        "tensor a f16[M,K] align 16\ntensor b f16[N,K] align 16\ntensor c f16[M,N] align 16\n"
        "%pm = program_id 0 : i32\n%pn = program_id 1 : i32\n%zero = const 0 : f32[128,128]\n"
        "%k = symval K : i32\n%bk = const 64 : i32\n%nk = cdiv %k, %bk : i32\n"
        "%i0 = const 0 : i32\n%i1 = const 1 : i32\n"
        "%acc = for %kt = %i0 to %nk step %i1 iter(%cc = %zero) {\n"
        "  %ta = load a [%pm, %kt] : f16[128,64]\n  %tb = load b [%pn, %kt] : f16[128,64]\n"
        "  %nx = mma %ta, %tb, %cc trans_b : f32[128,128]\n  yield %nx\n}\n"
        "%o = cast %acc : f16[128,128]\nstore c [%pm, %pn], %o\n"
        "%gm = symval M : i32\n%b128 = const 128 : i32\n%g0 = cdiv %gm, %b128 : i32\n"
        "%gn = symval N : i32\n%g1 = cdiv %gn, %b128 : i32\ngrid [%g0, %g1]\n";
    g = parse(text);
    CHECK(g);
    int ok = compiles(g, vals, 0, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "%s", why);
}

/* ---- the dispatcher ---------------------------------------------------------- */

TEST(test_emit_picks_gemm_sm90_and_notes_why_not) {
    tj_graph *g = recipe("dtype=bf16 bias=1 act=gelu", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 512, 512, 512, vals);
    char *src = NULL;
    CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &src));
    int fast = strncmp(src, "// schedule: gemm_sm90", 22) == 0;
    tj_free(src);
    CHECKF(fast, "first line: not gemm_sm90");
    CHECK_OK(tj_emit_cuda(g, "sm_80", vals, &src));
    int noted = strstr(src, "gemm_sm90: needs sm_90a") != NULL;
    tj_free(src);
    tj_graph_free(g);
    CHECK(noted);
    g = recipe("dtype=bf16", 0);
    CHECK(g);
    CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &src));
    noted = strstr(src, "// schedule: generic") && strstr(src, "16-byte aligned");
    tj_free(src);
    emit_launch L;
    CHECK_ERR(emit_kernel(g, "sm_90a", vals, "gemm_sm90", &src, &L), TJ_ERR_UNSUPPORTED,
              "16-byte aligned");
    tj_graph_free(g);
    CHECK(noted);
}

/* ---- clusters of two blocks (gs_cluster) -------------------------------------- */

/* g read back from its canonical text, g freed: node ids then follow the
 * text, whereas the recipe builder's follow the C compiler's order of
 * evaluating arguments (a golden file must not depend on it). */
static tj_graph *canonical(tj_graph *g) {
    char *text = NULL;
    tj_graph *h = NULL;
    if (g && tj_graph_print(g, &text) == TJ_OK) {
        h = parse(text);
        tj_free(text);
    }
    tj_graph_free(g);
    return h;
}

/* The schedule's kernel for `params` at (m, n, k) (the graph read back
 * from its text) with the cluster knobs set as given and split-K off
 * (restored after): 1 applied. */
static int apply_knobs(const char *params, int64_t m, int64_t n, int64_t k, int cluster, int force,
                       char **src, emit_launch *L, char *why, size_t size) {
    tj_graph *g = canonical(recipe(params, 1));
    if (!g) return -1;
    int64_t vals[3];
    gemm_vals(g, m, n, k, vals);
    int saved = gs_cluster, saved_force = gs_cluster_force, saved_split = gs_splitk;
    gs_cluster = cluster, gs_cluster_force = force, gs_splitk = 1;   /* pairs only */
    int r = apply(g, "sm_90a", vals, src, L, why, size);
    gs_cluster = saved, gs_cluster_force = saved_force, gs_splitk = saved_split;
    tj_graph_free(g);
    return r;
}

/* What a kernel in clusters has and one without has not. */
static int has_cluster_features(const char *src, const emit_launch *L) {
    return L->cluster[0] == 2 && L->cluster[1] == 1 && L->cluster[2] == 1 &&
           strstr(src, "tj::sm90::tma_load_2d_multicast(") &&
           strstr(src, "tj::sm90::mbar_arrive_cluster(") &&
           strstr(src, "tj::sm90::cluster_sync()");
}
static int has_no_cluster_feature(const char *src, const emit_launch *L) {
    return L->cluster[0] <= 1 && L->cluster[1] <= 1 && L->cluster[2] <= 1 &&
           !strstr(src, "cluster") && !strstr(src, "multicast");
}

/* B's tensor map box rows (the EMIT_PARAM_TENSORMAP of tensor `b`). */
static unsigned b_box_rows(const emit_launch *L) {
    for (int p = 0; p < L->nparams; p++)
        if (L->params[p].kind == EMIT_PARAM_TENSORMAP && L->params[p].index == 1)
            return L->params[p].tmap.box[1];
    return 0;
}

TEST(test_gemm_cluster_pairs_blocks_on_adjacent_m_tiles) {
    static const char *ps[] = {"bm=128 bn=256 trans_b=1", "bm=128 bn=128 trans_b=1",
                               "bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh",
                               "bm=128 bn=128 trans_b=1 bias=1 act=gelu_tanh", "bm=128 bn=128"};
    /* B [N,K] K-major: a tile of BN rows, halves of BN/2; [K,N]: BK rows. */
    static const unsigned half[] = {128, 64, 128, 64, 32};
    for (int i = 0; i < 5; i++) {
        char *src, why[160];
        emit_launch L;
        int r = apply_knobs(ps[i], 4096, 4096, 4096, 2, 0, &src, &L, why, sizeof why);
        CHECKF(r == 1, "%s: %s", ps[i], why);
        int ok = has_cluster_features(src, &L);
        /* each block loads half of B's rows, at its rank's offset, for both */
        int halves = strstr(src, "(unsigned short)3);") != NULL;
        /* a stage's empty barrier waits for the warps of both blocks */
        int counts = strstr(src, strstr(ps[i], "bn=256") ? "bar_empty + 8 * s, 16)" : "bar_empty + 8 * s, 8)") != NULL;
        int real = strstr(src, "if (real) {") != NULL;
        free(src);
        CHECKF(ok && halves && counts && real, "%s: features %d, multicast %d, counts %d, real %d",
               ps[i], ok, halves, counts, real);
        CHECKF(b_box_rows(&L) == half[i], "%s: B box rows %u", ps[i], b_box_rows(&L));
        CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.grid_arg == 1);
    }
}

/* gs_cluster 1: the kernel exactly as before clusters (the golden file
 * was written by the code before them), and nothing of clusters in it. */
TEST(test_gemm_cluster_knob_1_emits_the_kernel_without_clusters) {
    char *src, why[160];
    emit_launch L;
    int r = apply_knobs("bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh", 4096, 4096, 4096, 1, 0,
                        &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    int none = has_no_cluster_feature(src, &L), box = b_box_rows(&L) == 256;
    int same = golden_matches("gemm_sm90_bias_gelu.cu", src);
    free(src);
    CHECK(none && box && same);
    /* forcing does not bring them back */
    r = apply_knobs("bm=128 bn=128", 384, 1000, 128, 1, 1, &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    none = has_no_cluster_feature(src, &L);
    free(src);
    CHECK(none);
    r = apply_knobs("bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh", 4096, 4096, 4096, 2, 0, &src,
                    &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    same = golden_matches("gemm_sm90_bias_gelu_cluster.cu", src);
    free(src);
    CHECK(same);
}

/* Where pairs are not expected to gain, gs_cluster 2 declines them and the
 * kernel is the one without clusters; gs_cluster_force pairs anyway. */
TEST(test_gemm_cluster_applies_where_the_shape_gains) {
    static const struct { const char *p; int64_t m, n, k; int want; } cs[] = {
        {"bm=128 bn=256 trans_b=1", 2048, 2048, 2048, 1},   /* 16 x 8 tiles */
        {"bm=64 bn=64 trans_b=1", 128, 4096, 4096, 1},      /* 2 x 64 */
        {"bm=128 bn=128 trans_b=1", 128, 16384, 4096, 0},   /* one M tile */
        {"bm=128 bn=128 trans_b=1", 512, 512, 512, 0},      /* 16 tiles */
        {"bm=128 bn=128 trans_b=1", 384, 5632, 512, 0},     /* 3 x 44: 88 pairs on 66 clusters */
        {"bm=128 bn=128 trans_b=1", 1152, 3840, 512, 1},    /* 9 x 30: 3 rounds either way */
        {"bm=128 bn=128 trans_b=1", 1152, 1024, 512, 0},    /* 9 x 8: 40 pairs on 36 clusters */
        {"bm=128 bn=128 trans_b=1", 1000, 520, 256, 0},     /* 40 tiles */
    };
    for (int i = 0; i < 8; i++) {
        for (int force = 0; force < 2; force++) {
            char *src, why[160];
            emit_launch L;
            int r = apply_knobs(cs[i].p, cs[i].m, cs[i].n, cs[i].k, 2, force, &src, &L, why,
                                sizeof why);
            CHECKF(r == 1, "%s: %s", cs[i].p, why);
            int on = has_cluster_features(src, &L), off = has_no_cluster_feature(src, &L);
            free(src);
            int want = force || cs[i].want;
            CHECKF(want ? on : off, "%s at %lldx%lldx%lld, force %d: clusters %d / none %d",
                   cs[i].p, (long long)cs[i].m, (long long)cs[i].n, (long long)cs[i].k, force, on,
                   off);
        }
    }
}

/* Pairs need B's tile and the trip count shared by the two M tiles;
 * graphs where either follows the M program id, or whose M is not a plain
 * program id, or dynamic sizes (M might be one tile), get no clusters. */
TEST(test_gemm_cluster_needs_b_and_the_loop_shared_by_the_pair) {
    static const char *cases[][2] = {
        {"", "%ta = load a [%pm, %kt] : bf16[128,64]\n  %kb = add %kt, %pm : i32\n"
             "  %tb = load b [%kb, %pn] : bf16[64,128]\n"},
        {"%hi = add %pm, %nk : i32\n", "%ta = load a [%pm, %kt] : bf16[128,64]\n"
                                      "  %tb = load b [%kt, %pn] : bf16[64,128]\n"},
        {"%pm2 = mul %pm, %i1 : i32\n", "%ta = load a [%pm2, %kt] : bf16[128,64]\n"
                                       "  %tb = load b [%kt, %pn] : bf16[64,128]\n"},
        /* the control: B shared, the loop the same for all */
        {"", "%ta = load a [%pm, %kt] : bf16[128,64]\n  %tb = load b [%kt, %pn] : bf16[64,128]\n"},
    };
    for (int i = 0; i < 4; i++) {
        char text[4096];
        snprintf(text, sizeof text,
                 "tilejit 1\ngraph g\nsym M exact\nsym N exact\nsym K exact\n"
                 "tensor a bf16[M,K] align 16\ntensor b bf16[K,N] align 16\n"
                 "tensor c bf16[M,N] align 16\n"
                 "%%pm = program_id 0 : i32\n%%pn = program_id 1 : i32\n"
                 "%%zero = const 0 : f32[128,128]\n%%k = symval K : i32\n%%bk = const 64 : i32\n"
                 "%%nk = cdiv %%k, %%bk : i32\n%%i0 = const 0 : i32\n%%i1 = const 1 : i32\n%s"
                 "%%acc = for %%kt = %%i0 to %s step %%i1 iter(%%cc = %%zero) {\n  %s"
                 "  %%nx = mma %%ta, %%tb, %%cc : f32[128,128]\n  yield %%nx\n}\n"
                 "%%o = cast %%acc : bf16[128,128]\nstore c [%%pm, %%pn], %%o\n"
                 "%%gm = symval M : i32\n%%b128 = const 128 : i32\n%%g0 = cdiv %%gm, %%b128 : i32\n"
                 "%%gn = symval N : i32\n%%g1 = cdiv %%gn, %%b128 : i32\ngrid [%%g0, %%g1]\n",
                 cases[i][0], i == 1 ? "%hi" : "%nk", cases[i][1]);
        tj_graph *g = parse(text);
        CHECKF(g, "case %d", i);
        int64_t vals[3] = {4096, 4096, 4096};
        int saved = gs_cluster, saved_force = gs_cluster_force;
        gs_cluster = 2, gs_cluster_force = 1;
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        gs_cluster = saved, gs_cluster_force = saved_force;
        tj_graph_free(g);
        CHECKF(r == 1, "case %d: %s", i, why);
        int off = has_no_cluster_feature(src, &L), on = has_cluster_features(src, &L);
        free(src);
        CHECKF(i < 3 ? off : on, "case %d: clusters %d, none %d", i, on, off);
    }
    /* Not forced, a dynamic M (which may be one tile) gets none. */
    tj_graph *g = recipe("dtype=bf16 m=dynamic", 1);
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, TJ_UNBOUND, 4096, 4096, vals);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    int off = has_no_cluster_feature(src, &L);
    free(src);
    CHECKF(off, "dynamic M: clusters");
}

/* The kernels the benchmark runs (128x256 and 128x128 ping-pong, plain and
 * with bias + GELU), in clusters, compile for sm_90a without spills; so do
 * the other layouts and tiles when forced to pair at odd tile counts. */
TEST(test_gemm_cluster_kernels_compile_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const struct { const char *p; int64_t m, n, k; } cs[] = {
        {"bm=128 bn=256 trans_b=1", 4096, 4096, 4096},
        {"bm=128 bn=128 trans_b=1", 4096, 4096, 4096},
        {"bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh", 4096, 14336, 4096},
        {"bm=128 bn=128 trans_b=1 bias=1 act=gelu_tanh", 4096, 14336, 4096},
        {"bm=64 bn=64 trans_b=1", 128, 4096, 4096},
        {"bm=128 bn=128", 1000, 520, 256},
        {"bm=256 bn=128 trans_a=1 dtype=f16", 384, 1000, 128},
        {"bm=64 bn=128 trans_a=1 trans_b=1 out=f32", 136, 264, 520},
        {"bm=128 bn=256 bias=1 act=silu", 129, 4096, 512},
    };
    for (int i = 0; i < 9; i++) {
        tj_graph *g = recipe(cs[i].p, 1);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, cs[i].m, cs[i].n, cs[i].k, vals);
        int saved = gs_cluster, saved_force = gs_cluster_force;
        gs_cluster = 2, gs_cluster_force = 1;
        char *src, why[2600];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        int on = r == 1 && has_cluster_features(src, &L);
        if (r == 1) free(src);
        int ok = on && compiles(g, vals, 0, why, sizeof why);
        gs_cluster = saved, gs_cluster_force = saved_force;
        tj_graph_free(g);
        CHECKF(on, "%s: no clusters", cs[i].p);
        CHECKF(ok, "%s at %lldx%lldx%lld: %s", cs[i].p, (long long)cs[i].m, (long long)cs[i].n,
               (long long)cs[i].k, why);
    }
}

int main(void) { return harness_main(); }
