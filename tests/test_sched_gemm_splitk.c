/*
 * test_sched_gemm_splitk.c — split-K in clusters in the gemm_sm90 schedule
 * (gs_splitk), without a GPU: where it applies (forced; automatically
 * where the tiles are few, a cluster a tile all fit on the SMs at once
 * and K has tiles enough)
 * and where not, what the kernel and its launch description then are (a
 * cluster of S blocks a tile, grid (g0 * S, g1, g2), distributed shared
 * memory reduction between cluster barriers, stores from registers), how
 * it ranks against the pairs of gs_cluster, and that the kernels compile
 * with NVRTC for sm_90a without spills (in a child process; SKIP without
 * NVRTC).
 */
#include "emit.h"
#include "gemm_sm90.h"
#include "harness.h"
#include "nvrtc.h"
#include "sched_compile.h"
#include "schedule.h"
#include "templates.h"

static tj_graph *recipe(const char *params) {
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
    return g;
}

static void gemm_vals(const tj_graph *g, int64_t m, int64_t n, int64_t k, int64_t *vals) {
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = n;
    vals[tj_find_symbol(g, "K").id] = k;
}

/* The schedule on g with gs_splitk = split and the pair knobs as given
 * (all restored after): 1 applied (src, L set), 0 declined, -1 error. */
static int apply_split(const tj_graph *g, const int64_t *vals, int split, int cluster, int force,
                       char **src, emit_launch *L, char *why, size_t size) {
    int saved[3] = {gs_splitk, gs_cluster, gs_cluster_force};
    gs_splitk = split, gs_cluster = cluster, gs_cluster_force = force;
    *src = NULL;
    why[0] = '\0';
    memset(L, 0, sizeof *L);
    tj_status s = sched_gemm_sm90(g, "sm_90a", vals, src, L, why, size);
    gs_splitk = saved[0], gs_cluster = saved[1], gs_cluster_force = saved[2];
    if (s != TJ_OK) {
        snprintf(why, size, "error %s: %s", tj_status_name(s), tj_last_error());
        return -1;
    }
    return *src != NULL;
}

/* The recipe at (m, n, k) under gs_splitk = split (no pairs): the blocks
 * of its clusters along K (1: no split), -1 if the schedule declined. */
static int split_of(const char *params, int64_t m, int64_t n, int64_t k, int split) {
    tj_graph *g = recipe(params);
    if (!g) return -1;
    int64_t vals[3];
    gemm_vals(g, m, n, k, vals);
    char *src, why[160];
    emit_launch L;
    int r = apply_split(g, vals, split, 1, 0, &src, &L, why, sizeof why);
    tj_graph_free(g);
    if (r != 1) return -1;
    int s = strstr(src, "SPLIT = ") ? atoi(strstr(src, "SPLIT = ") + 8) : 1;
    free(src);
    int launch = L.grid_mode == EMIT_GRID_MUL ? L.grid_arg : 1;
    unsigned cl = L.cluster[0] ? L.cluster[0] : 1;
    return s == launch && (unsigned)s == cl ? s : -2;   /* -2: source and launch disagree */
}

/* What a split kernel has: clusters of S along K, one tile a cluster
 * (grid g0 * S), the DSMEM reduction between the cluster barriers, the
 * warpgroups splitting rows (no turns), stores from registers (only a's
 * and b's tensor maps, b's box whole); one or two consumer warpgroups. */
static int split_features(const char *src, const emit_launch *L, int s) {
    char want[32];
    snprintf(want, sizeof want, "SPLIT = %d;", s);
    int tmaps = 0, b_whole = 0;
    for (int p = 0; p < L->nparams; p++)
        if (L->params[p].kind == EMIT_PARAM_TENSORMAP) {
            tmaps++;
            b_whole |= L->params[p].index == 1 && L->params[p].tmap.box[1] >= 64;
        }
    return L->cluster[0] == (unsigned)s && L->cluster[1] == 1 && L->cluster[2] == 1 &&
           L->grid_mode == EMIT_GRID_MUL && L->grid_arg == s && (L->threads == 256 || L->threads == 384) &&
           strstr(src, want) && strstr(src, "tj::sm90::st_shared_v4(") &&
           strstr(src, "tj::sm90::ld_shared_cluster_v4(") && strstr(src, "tj::sm90::cluster_sync()") &&
           strstr(src, "tj::sm90::cluster_arrive()") && strstr(src, "tj::sm90::cluster_wait()") &&
           !strstr(src, "tma_store_2d") && !strstr(src, "multicast") && !strstr(src, "bar_order") &&
           !strstr(src, "mbar_arrive_cluster") && tmaps == 2 && b_whole;
}

TEST(test_splitk_forced_splits_k_over_a_cluster_at_ragged_shapes) {
    static const char *ps[] = {"bias=1 act=gelu trans_b=1", "bn=256 out=f32 act=silu trans_a=1",
                               "dtype=f16 bias=1 act=gelu_tanh"};
    static const int splits[] = {2, 4, 8};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) {
            tj_graph *g = recipe(ps[i]);
            CHECK(g);
            int64_t vals[3];
            gemm_vals(g, 104, 304, 1000, vals);   /* a [K,M] needs 16-byte rows */
            char *src, why[160];
            emit_launch L;
            int r = apply_split(g, vals, splits[k], 1, 0, &src, &L, why, sizeof why);
            tj_graph_free(g);
            CHECKF(r == 1, "%s split %d: %s", ps[i], splits[k], why);
            int ok = split_features(src, &L, splits[k]);
            free(src);
            CHECKF(ok, "%s split %d: not a split kernel", ps[i], splits[k]);
        }
    }
}

/* gs_splitk 0 splits where the tiles are at most a quarter of the SMs,
 * into the most blocks (8, 4, 2) whose clusters, one a tile, are all
 * resident at once on 132 SMs (14 eights, 30 fours, 66 pairs) and leave
 * each block at least 4 K tiles. */
TEST(test_splitk_auto_splits_where_tiles_are_few_and_k_is_long) {
    static const struct { const char *p; int64_t m, n, k; int want; } cs[] = {
        {"bm=128 bn=128 trans_b=1", 128, 4096, 4096, 2},    /* 32 tiles: too many for fours */
        {"bm=128 bn=256 trans_b=1", 128, 4096, 4096, 4},    /* 16 tiles */
        {"bm=64 bn=128 trans_b=1", 128, 4096, 4096, 1},     /* 64 tiles: over a quarter */
        {"bm=64 bn=64 trans_b=1", 128, 4096, 4096, 1},      /* 128 tiles */
        {"bm=128 bn=256 trans_b=1", 4096, 4096, 4096, 1},
        {"bm=128 bn=128", 1000, 1000, 1000, 1},             /* 64 tiles */
        {"bm=128 bn=128", 1024, 512, 1024, 2},              /* 32 tiles */
        {"bm=128 bn=128", 512, 512, 512, 2},                /* 16 tiles, 8 K tiles */
        {"bm=128 bn=128", 512, 512, 256, 1},                /* 4 K tiles */
        {"bm=128 bn=128", 100, 304, 1000, 4},               /* 3 tiles, 16 K tiles */
        {"bm=64 bn=128 trans_a=1", 8, 72, 8192, 8},         /* one tile */
        {"dtype=f8e4m3 trans_b=1 bk=128", 128, 4096, 4096, 2},
        {"dtype=f8e5m2 trans_b=1 bk=128 bn=256", 128, 4096, 2048, 4},   /* 16 K tiles of 128 */
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        int s = split_of(cs[i].p, cs[i].m, cs[i].n, cs[i].k, 0);
        CHECKF(s == cs[i].want, "%s at %lldx%lldx%lld: split %d, wanted %d", cs[i].p,
               (long long)cs[i].m, (long long)cs[i].n, (long long)cs[i].k, s, cs[i].want);
    }
}

/* 1 never splits (the kernel of the persistent walk, TMA stores and all);
 * values other than 0, 1, 2, 4, 8 never either; sizes not bound (the
 * tile count unknown) get no automatic split, but a forced one. */
TEST(test_splitk_off_unknown_sizes_and_other_values_keep_the_walk) {
    CHECK(split_of("bm=128 bn=128 trans_b=1", 128, 4096, 4096, 1) == 1);
    CHECK(split_of("bm=128 bn=128 trans_b=1", 128, 4096, 4096, 3) == 1);
    CHECK(split_of("bm=128 bn=128 trans_b=1", 128, 4096, 4096, 16) == 1);
    tj_graph *g = recipe("bm=128 bn=128 trans_b=1");
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 128, 4096, 4096, vals);
    char *src, why[160];
    emit_launch L;
    int r = apply_split(g, vals, 1, 1, 0, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    int walk = L.grid_mode == EMIT_GRID_PERSISTENT && L.cluster[0] <= 1 &&
               strstr(src, "tma_store_2d") && !strstr(src, "SPLIT") && !strstr(src, "cluster");
    free(src);
    CHECK(walk);
    g = recipe("dtype=bf16 m=dynamic");
    CHECK(g);
    gemm_vals(g, TJ_UNBOUND, 4096, 4096, vals);
    for (int s = 0; s <= 4; s += 4) {
        r = apply_split(g, vals, s, 1, 0, &src, &L, why, sizeof why);
        CHECKF(r == 1, "%s", why);
        int ok = s ? split_features(src, &L, 4) : L.grid_mode == EMIT_GRID_PERSISTENT;
        free(src);
        CHECKF(ok, "dynamic M, gs_splitk %d", s);
    }
    tj_graph_free(g);
}

/* A forced split beats forced pairs; forced pairs beat the automatic split. */
TEST(test_splitk_and_pairs_rank) {
    tj_graph *g = recipe("bm=128 bn=128 trans_b=1");
    CHECK(g);
    int64_t vals[3];
    gemm_vals(g, 256, 1024, 4096, vals);   /* 2 x 8 tiles: split 4 automatically, pairs forced */
    char *src, why[160];
    emit_launch L;
    int r = apply_split(g, vals, 4, 2, 1, &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    int split = split_features(src, &L, 4);
    free(src);
    r = apply_split(g, vals, 0, 2, 1, &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    int pairs = L.cluster[0] == 2 && L.grid_mode == EMIT_GRID_PERSISTENT && strstr(src, "multicast") &&
                !strstr(src, "SPLIT");
    free(src);
    r = apply_split(g, vals, 0, 1, 0, &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    int autos = split_features(src, &L, 4);
    free(src);
    tj_graph_free(g);
    CHECK(split && pairs && autos);
}

/* A graph whose accumulator starts from `init` (a [128,128] tile of it)
 * and whose epilogue reads a residual tile and a column vector at the
 * element, scales by a scalar and masks below the diagonal. */
static tj_graph *user_graph(const char *init) {
    char text[3072];
    snprintf(text, sizeof text,
             "tilejit 1\ngraph user_epi\nsym M exact\nsym N exact\nsym K exact\n"
             "tensor a bf16[M,K] align 16\ntensor b bf16[N,K] align 16\ntensor r f32[M,N] align 16\n"
             "tensor colv f32[M,1] align 16\ntensor c f16[M,N] align 16\nscalar alpha f32\n"
             "%%pm = program_id 0 : i32\n%%pn = program_id 1 : i32\n%%zero = const %s : f32[128,128]\n"
             "%%k = symval K : i32\n%%bk = const 64 : i32\n%%nk = cdiv %%k, %%bk : i32\n"
             "%%i0 = const 0 : i32\n%%i1 = const 1 : i32\n"
             "%%acc = for %%kt = %%i0 to %%nk step %%i1 iter(%%cc = %%zero) {\n"
             "  %%ta = load a [%%pm, %%kt] : bf16[128,64]\n  %%tb = load b [%%pn, %%kt] : bf16[128,64]\n"
             "  %%nx = mma %%ta, %%tb, %%cc trans_b : f32[128,128]\n  yield %%nx\n}\n"
             "%%s = mul %%acc, %%alpha : f32[128,128]\n"
             "%%res = load r [%%pm, %%pn] : f32[128,128]\n%%t1 = add %%s, %%res : f32[128,128]\n"
             "%%cv = load colv [%%pm, %%i0] : f32[128,1]\n%%t2 = add %%t1, %%cv : f32[128,128]\n"
             "%%ri = iota axis 0 : i32[128,1]\n%%ci = iota axis 1 : i32[1,128]\n"
             "%%below = lt %%ci, %%ri : bool[128,128]\n%%m0 = const 0 : f32\n"
             "%%t3 = where %%below, %%m0, %%t2 : f32[128,128]\n"
             "%%o = cast %%t3 : f16[128,128]\nstore c [%%pm, %%pn], %%o\n"
             "%%gm = symval M : i32\n%%bm = const 128 : i32\n%%g0 = cdiv %%gm, %%bm : i32\n"
             "%%gn = symval N : i32\n%%g1 = cdiv %%gn, %%bm : i32\ngrid [%%g0, %%g1]\n",
             init);
    tj_graph *g = NULL;
    if (tj_graph_parse(text, strlen(text), "user_epi.tj", &g) != TJ_OK)
        fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

/* The accumulator's starting constant enters block 0's sum alone. */
TEST(test_splitk_starting_constant_enters_one_block) {
    tj_graph *g = user_graph("1.5");
    CHECK(g);
    int64_t vals[3] = {200, 328, 1000};
    char *src, why[160];
    emit_launch L;
    int r = apply_split(g, vals, 4, 1, 0, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    int ok = split_features(src, &L, 4) && strstr(src, "rank == 0 ? 1.5f : 0.0f");
    free(src);
    CHECK(ok);
}

/* ---- the kernels compile ------------------------------------------------------ */

static int nvrtc_ok(void) { return sched_nvrtc_ok("sm_90a"); }

/* The split kernel of g at vals compiles for sm_90a in a child, ptxas
 * reporting no spills. */
static int compiles(const tj_graph *g, const int64_t *vals, int split, char *why, size_t size) {
    char *src;
    emit_launch L;
    if (apply_split(g, vals, split, 1, 0, &src, &L, why, size) != 1) return 0;
    if (!split_features(src, &L, split)) {
        snprintf(why, size, "not a split kernel");
        free(src);
        return 0;
    }
    int ok = sched_compile(src, "gemm_sm90_splitk.cu", "sm_90a", 120, 0, why, size);
    free(src);
    return ok;
}

TEST(test_splitk_kernels_compile_for_sm90a_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const struct { const char *p; int64_t m, n, k; int s; } cs[] = {
        {"bm=128 bn=128 trans_b=1", 128, 4096, 4096, 4},
        {"bm=128 bn=256 trans_b=1", 128, 4096, 4096, 8},
        {"bm=128 bn=128 trans_b=1 bias=1 act=gelu_tanh", 100, 304, 1000, 2},
        {"bm=64 bn=64 trans_a=1 out=f32 act=silu", 104, 304, 1000, 8},
        {"bm=256 bn=128 dtype=f16 bias=1 act=gelu", 200, 520, 2048, 4},
        {"bm=64 bn=256 trans_a=1 trans_b=1 act=relu", 72, 1000, 520, 2},
        {"dtype=f8e4m3 trans_b=1 bk=128 bias=1 act=gelu out=f32", 100, 304, 1024, 4},
        {"dtype=f8e5m2 trans_b=1 bk=128 bm=128 bn=256", 128, 4096, 4096, 8},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        tj_graph *g = recipe(cs[i].p);
        CHECK(g);
        int64_t vals[3];
        gemm_vals(g, cs[i].m, cs[i].n, cs[i].k, vals);
        char why[2600];
        int ok = compiles(g, vals, cs[i].s, why, sizeof why);
        tj_graph_free(g);
        CHECKF(ok, "%s at %lldx%lldx%lld split %d: %s", cs[i].p, (long long)cs[i].m,
               (long long)cs[i].n, (long long)cs[i].k, cs[i].s, why);
    }
    tj_graph *g = user_graph("0");
    CHECK(g);
    int64_t vals[3] = {200, 328, 1000};
    char why[2600];
    int ok = compiles(g, vals, 4, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "user epilogue: %s", why);
}

int main(void) { return harness_main(); }
