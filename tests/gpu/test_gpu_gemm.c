/*
 * test_gpu_gemm.c — the gemm_sm90 schedule on a device, through what users
 * call (tj_kernel_create / tj_kernel_launch), against the CPU interpreter:
 * ragged M, N, K, both operand layouts (every transpose), bf16 and f16,
 * several tile shapes, persistent walks over more tiles than SMs, and
 * epilogues (bias + activation, a user's own with residual, column
 * vector, scalar scale, mask and cast). Each case first checks that the
 * schedule really is the one chosen. SKIPs without an sm_90 device.
 *
 * Every case runs twice: without clusters (gs_cluster 1) and in clusters
 * of two blocks sharing B's tile (gs_cluster 2, forced past the shape
 * heuristics so ragged and small shapes pair too, checked to be paired);
 * TJ_TEST_GEMM_CLUSTER=1 or 2 runs only that one. Odd M tile counts (the
 * last pair's second block has no tile), one M tile (no block has a
 * twin) and walks over more pairs than clusters have their own test.
 * Split-K in clusters (gs_splitk; off in the cases above) has its own:
 * forced at ragged shapes with epilogues, fp8, the automatic choice, a
 * user's epilogue.
 */
#include "emit.h"
#include "gemm_sm90.h"
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

/* The schedule emit_kernel picks for g at vals on sm_90a ("" on error);
 * *cluster (may be NULL): its launch's blocks a cluster (1: none). */
static const char *picked_cluster(const tj_graph *g, const int64_t *vals, char *note, size_t size,
                                  unsigned *cluster) {
    static _Thread_local emit_launch L;
    char *src = NULL;
    memset(&L, 0, sizeof L);
    if (cluster) *cluster = 0;
    if (emit_kernel(g, "sm_90a", vals, NULL, &src, &L) != TJ_OK) return "";
    free(src);
    if (note) snprintf(note, size, "%s", L.note);
    if (cluster) *cluster = L.cluster[0] ? L.cluster[0] : 1;
    return L.schedule;
}
static const char *picked(const tj_graph *g, const int64_t *vals, char *note, size_t size) {
    return picked_cluster(g, vals, note, size, NULL);
}

/* The cluster settings each case runs with: gs_cluster 1, and 2 forced
 * (TJ_TEST_GEMM_CLUSTER=1 or 2: that one only). */
static int cluster_settings(int *out) {
    const char *env = getenv("TJ_TEST_GEMM_CLUSTER");
    if (env && (!strcmp(env, "1") || !strcmp(env, "2"))) {
        out[0] = atoi(env);
        return 1;
    }
    out[0] = 1, out[1] = 2;
    return 2;
}

/* Set the knobs for setting v (gs_cluster v, forced when 2; split-K off:
 * the split has its own tests). */
static void set_cluster(int v) {
    gs_cluster = v;
    gs_cluster_force = v == 2;
    gs_splitk = 1;
}

/* g under the name <name>_c<v>, g freed: the kernel cache keys kernels by
 * graph (its name included), bindings and arch, not by the cluster knob,
 * and memory-only kernels share one store in a process; a kernel of one
 * setting must not be served to the other. NULL on error. */
static tj_graph *renamed(tj_graph *g, int v) {
    char *text = NULL, name[96];
    tj_graph *h = NULL;
    if (tj_graph_print(g, &text) == TJ_OK) {
        snprintf(name, sizeof name, "graph %s\n", tj_graph_name(g));
        char *at = strstr(text, name);
        size_t len = strlen(text) + 16;
        char *out = at ? malloc(len) : NULL;
        if (out) {
            snprintf(out, len, "%.*sgraph %s_c%d\n%s", (int)(at - text), text, tj_graph_name(g), v,
                     at + strlen(name));
            if (tj_graph_parse(out, strlen(out), "renamed", &h) != TJ_OK) h = NULL;
            free(out);
        }
        tj_free(text);
    }
    tj_graph_free(g);
    return h;
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

/* The recipe at (M, N, K) with cluster setting v, inputs in [-amp, amp):
 * the fast path is chosen, in clusters when v is 2, and agrees within
 * `scale` (the partial sums' typical size). */
static void recipe_case_at(const char *params, int64_t m, int64_t nn, int64_t kk, double amp,
                           double scale, int v) {
    set_cluster(v);
    tj_graph *g = renamed(gemm(params), v);
    CHECK(g);
    int64_t vals[3];
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = nn;
    vals[tj_find_symbol(g, "K").id] = kk;
    char note[256] = "", why[512] = "";
    unsigned cl = 0;
    const char *sched = picked_cluster(g, vals, note, sizeof note, &cl);
    if (strcmp(sched, "gemm_sm90") || cl != (unsigned)v) {
        tj_graph_free(g);
        set_cluster(1);   /* the default */
        CHECKF(0, "%s at %lldx%lldx%lld, cluster setting %d: schedule '%s', cluster %u (%s)",
               params, (long long)m, (long long)nn, (long long)kk, v, sched, cl, note);
    }
    int ok = run_case(g, vals, amp, scale, why, sizeof why);
    tj_graph_free(g);
    set_cluster(1);   /* the default */
    CHECKF(ok, "%s at %lldx%lldx%lld, cluster setting %d: %s", params, (long long)m,
           (long long)nn, (long long)kk, v, why);
}

/* recipe_case_at with every cluster setting. */
static void recipe_case_in(const char *params, int64_t m, int64_t nn, int64_t kk, double amp,
                           double scale) {
    int vs[2], n = cluster_settings(vs);
    for (int i = 0; i < n && !harness_failed_now; i++)
        recipe_case_at(params, m, nn, kk, amp, scale, vs[i]);
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
    int vs[2], n = cluster_settings(vs);
    for (int i = 0; i < n; i++) {
        tj_graph *g = NULL;
        CHECK_OK(tj_graph_parse(user_text, strlen(user_text), "user_epi.tj", &g));
        set_cluster(vs[i]);
        g = renamed(g, vs[i]);
        CHECK(g);
        int64_t vals[3] = {328, 200, 264};
        char note[256] = "", why[512] = "";
        unsigned cl = 0;
        const char *sched = picked_cluster(g, vals, note, sizeof note, &cl);
        int ok = !strcmp(sched, "gemm_sm90") && cl == (unsigned)vs[i];
        if (!ok) snprintf(why, sizeof why, "schedule '%s', cluster %u (%s)", sched, cl, note);
        ok = ok && run_case(g, vals, 1.0, 4.0, why, sizeof why);
        tj_graph_free(g);
        set_cluster(1);   /* the default */
        CHECKF(ok, "cluster setting %d: %s", vs[i], why);
    }
}

/* Clusters at tile counts that leave blocks without a tile of their own:
 * an odd number of M tiles (the last pair's second block only loads its
 * half of B), one M tile (no block has a twin), walks over more pairs
 * than clusters, every operand layout (B's halves split N or K), every
 * warpgroup layout (ping-pong, cooperative, one consumer). */
TEST(test_gpu_gemm_cluster_odd_tile_counts) {
    REQUIRE_SM90();
    static const struct { const char *p; int64_t m, n, k; } cs[] = {
        {"bm=128 bn=128 trans_b=1", 1000, 520, 256},          /* 8 x 5 */
        {"bm=128 bn=128", 384, 1000, 128},                    /* 3 x 8 */
        {"bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh", 129, 4096, 512},   /* 2 x 16 */
        {"bm=128 bn=256", 384, 1000, 128},                    /* 3 x 4 */
        {"bm=64 bn=64 trans_b=1", 1000, 520, 256},            /* 16 x 9 */
        {"bm=64 bn=128 trans_a=1", 200, 1000, 136},           /* 4 x 8 */
        {"bm=256 bn=128 trans_a=1 trans_b=1", 1000, 520, 256}, /* 4 x 5 */
        {"bm=128 bn=128 trans_b=1", 100, 4096, 256},          /* 1 x 32: no twins */
        {"bm=128 bn=128 trans_b=1 dtype=f16", 1152, 3840, 200}, /* 9 x 30: 150 pairs */
        {"bm=128 bn=256 trans_b=1", 3200, 4096, 192},         /* 25 x 16: 208 pairs */
    };
    for (int i = 0; i < 10 && !harness_failed_now; i++)
        recipe_case(cs[i].p, cs[i].m, cs[i].n, cs[i].k);
}

/* gs_cluster 2, not forced, pairs the benchmark's shapes. */
TEST(test_gpu_gemm_cluster_unforced_at_a_large_shape) {
    REQUIRE_SM90();
    gs_cluster = 2, gs_cluster_force = 0;
    tj_graph *g = renamed(gemm("bm=128 bn=256 trans_b=1 bias=1 act=gelu_tanh"), 3);
    CHECK(g);
    int64_t vals[3] = {2048, 2048, 512};
    char note[256] = "", why[512] = "";
    unsigned cl = 0;
    const char *sched = picked_cluster(g, vals, note, sizeof note, &cl);
    int ok = !strcmp(sched, "gemm_sm90") && cl == 2;
    if (!ok) snprintf(why, sizeof why, "schedule '%s', cluster %u (%s)", sched, cl, note);
    ok = ok && run_case(g, vals, 1.0, sqrt(512.0) / 4, why, sizeof why);
    tj_graph_free(g);
    set_cluster(1);   /* the default */
    CHECKF(ok, "%s", why);
}

/* ---- split-K in clusters (gs_splitk) ------------------------------------------- */

/* The recipe at (M, N, K) with gs_splitk = split (0: the schedule's
 * choice), inputs in [-amp, amp): the fast path is chosen in clusters of
 * `want` blocks along K and agrees within `scale`. Graphs renamed _c<10 want>. */
static void split_case_in(const char *params, int64_t m, int64_t nn, int64_t kk, int split,
                          int want, double amp, double scale) {
    set_cluster(1);
    gs_splitk = split;
    tj_graph *g = renamed(gemm(params), 10 * want);
    CHECK(g);
    int64_t vals[3];
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = nn;
    vals[tj_find_symbol(g, "K").id] = kk;
    char note[256] = "", why[512] = "";
    unsigned cl = 0;
    const char *sched = picked_cluster(g, vals, note, sizeof note, &cl);
    int ok = !strcmp(sched, "gemm_sm90") && cl == (unsigned)want;
    if (!ok) snprintf(why, sizeof why, "schedule '%s', cluster %u (%s)", sched, cl, note);
    ok = ok && run_case(g, vals, amp, scale, why, sizeof why);
    tj_graph_free(g);
    set_cluster(1);   /* the default */
    gs_splitk = 0;
    CHECKF(ok, "%s at %lldx%lldx%lld, gs_splitk %d: %s", params, (long long)m, (long long)nn,
           (long long)kk, split, why);
}
static void split_case(const char *params, int64_t m, int64_t nn, int64_t kk, int split) {
    split_case_in(params, m, nn, kk, split, split, 1.0, sqrt((double)kk) / 4);
}

/* Forced splits at ragged shapes, with epilogues (bias, activations, f32
 * and 16-bit outputs), every warpgroup layout (64-row tiles: one), K
 * tiles fewer than blocks (some blocks add only zeros), and more tiles
 * than a wave (clusters queue: no persistent walk). */
TEST(test_gpu_gemm_splitk_forced_at_ragged_shapes) {
    REQUIRE_SM90();
    static const struct { const char *p; int64_t m, n, k; int s; } cs[] = {
        {"bias=1 act=gelu trans_b=1", 100, 300, 1000, 2},
        {"bias=1 act=gelu trans_b=1", 100, 300, 1000, 4},
        {"bias=1 act=silu out=f32 trans_b=1", 100, 300, 1000, 2},
        {"bias=1 act=silu out=f32 trans_b=1", 100, 300, 1000, 4},
        {"bm=128 bn=256 bias=1 act=gelu_tanh trans_b=1", 100, 300, 1000, 8},
        {"bm=64 bn=64 trans_a=1 act=relu dtype=f16 out=f32", 104, 304, 1000, 8},
        {"bm=256 bn=128 dtype=f16 bias=1 act=gelu trans_b=1", 200, 300, 520, 2},
        {"bm=128 bn=128 trans_b=1", 100, 300, 64, 4},            /* one K tile, four blocks */
        {"bm=64 bn=128 trans_a=1 trans_b=1", 72, 200, 136, 4},   /* three K tiles */
        {"bm=128 bn=128 trans_b=1", 1536, 1544, 512, 2},         /* 156 tiles, 312 blocks */
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]) && !harness_failed_now; i++)
        split_case(cs[i].p, cs[i].m, cs[i].n, cs[i].k, cs[i].s);
}

/* fp8 products reduce as 16-bit ones do (scales as fp8_case's). */
TEST(test_gpu_gemm_splitk_fp8) {
    REQUIRE_SM90();
    split_case_in("dtype=f8e4m3 trans_b=1 bk=128 bias=1 act=gelu", 100, 300, 1024, 4, 4, 2.0,
                  sqrt(1024.0));
    split_case_in("dtype=f8e5m2 trans_b=1 bk=128 out=f32", 72, 200, 528, 2, 2, 2.0,
                  528.0 * sqrt(528.0) / 5);
}

/* gs_splitk 0 splits a shape of 4 tiles and 17 K tiles in 4. */
TEST(test_gpu_gemm_splitk_auto) {
    REQUIRE_SM90();
    split_case_in("bias=1 act=gelu_tanh trans_b=1", 130, 200, 1040, 0, 4, 1.0, sqrt(1040.0) / 4);
}

/* A user's epilogue (scalar scale, residual tile, column vector, mask,
 * f16 cast) on the reduced sums. */
TEST(test_gpu_gemm_splitk_user_epilogue) {
    REQUIRE_SM90();
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_parse(user_text, strlen(user_text), "user_epi.tj", &g));
    set_cluster(1);
    gs_splitk = 4;
    g = renamed(g, 40);
    CHECK(g);
    int64_t vals[3] = {328, 200, 1000};
    char note[256] = "", why[512] = "";
    unsigned cl = 0;
    const char *sched = picked_cluster(g, vals, note, sizeof note, &cl);
    int ok = !strcmp(sched, "gemm_sm90") && cl == 4;
    if (!ok) snprintf(why, sizeof why, "schedule '%s', cluster %u (%s)", sched, cl, note);
    ok = ok && run_case(g, vals, 1.0, 8.0, why, sizeof why);
    tj_graph_free(g);
    gs_splitk = 0;
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
