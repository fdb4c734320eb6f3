/*
 * test_gemm_config.c — the GEMM configuration model (gen/recipes/
 * gemm_config.c), without a GPU: its picks at shapes measured on the H200
 * (few tiles: 64x64 with a K tile of 128, unsplit; big squares and short
 * K: 128x128 ping-pong), its ranking, its defaults off sm_90a, that
 * the split it scores is the one gemm_sm90 really takes, the recipe built
 * with a configuration or for a shape (pins included), and that such
 * graphs verify and their gemm_sm90 kernels compile for sm_90a (NVRTC in a
 * child; SKIP without it).
 */
#include "emit.h"
#include "gemm_config.h"
#include "gemm_sm90.h"
#include "harness.h"
#include "sched_compile.h"
#include "schedule.h"

static const tj_gemm_target no_records = {"sm_90a", NULL, 132, "", 0};

static int pick_is(int64_t m, int64_t n, int64_t k, tj_dtype dt, int bm, int bn, int bk,
                   int split) {
    tj_gemm_config c;
    if (tj_gemm_config_for("sm_90a", 132, m, n, k, dt, &c) != TJ_OK) return 0;
    if (c.bm == bm && c.bn == bn && c.bk == bk && c.split == split && !c.tuned && c.score > 0)
        return 1;
    fprintf(stderr, "  %lldx%lldx%lld: picked %dx%dx%d split %d\n", (long long)m, (long long)n,
            (long long)k, c.bm, c.bn, c.bk, c.split);
    return 0;
}

TEST(test_model_picks_64x64_k128_unsplit_for_few_tiles) {
    /* H200: 321.9 TFLOP/s, 1.137 of cuBLAS, against 267 for 64x128x128 in pairs */
    CHECK(pick_is(128, 4096, 4096, TJ_BF16, 64, 64, 128, 1));
    CHECK(pick_is(128, 4096, 4096, TJ_F16, 64, 64, 128, 1));
    CHECK(pick_is(64, 8192, 4096, TJ_BF16, 64, 64, 128, 1));
}

TEST(test_model_picks_pingpong_128x128_for_big_squares) {
    /* H200 bench_gemm: ping-pong 128x128 beat 128x256 at each of these */
    CHECK(pick_is(2048, 2048, 2048, TJ_BF16, 128, 128, 64, 1));
    CHECK(pick_is(4096, 4096, 4096, TJ_BF16, 128, 128, 64, 1));
    CHECK(pick_is(8192, 8192, 8192, TJ_BF16, 128, 128, 64, 1));
    CHECK(pick_is(4096, 14336, 4096, TJ_BF16, 128, 128, 64, 1));
    CHECK(pick_is(16384, 4096, 4096, TJ_BF16, 128, 128, 64, 1));
    CHECK(pick_is(4096, 4096, 4096, TJ_F8E4M3, 128, 128, 128, 1));
}

TEST(test_model_picks_pingpong_128x128_for_short_k) {
    /* 8 K tiles: the unhidden epilogue of 128x256 weighs (ping-pong +7 %) */
    CHECK(pick_is(8192, 8192, 512, TJ_BF16, 128, 128, 64, 1));
}

TEST(test_model_ranks_candidates_best_first) {
    static const int64_t shapes[][3] = {{128, 4096, 4096}, {4096, 4096, 4096}, {100, 300, 1000},
                                        {1000, 520, 256},  {8192, 8192, 512},  {1, 1, 1}};
    for (int s = 0; s < 6; s++) {
        for (int f = 0; f < 2; f++) {
            tj_gemm_config c[TJ_GEMM_MAX_CONFIGS];
            int n = 0;
            CHECK_OK(tj_gemm_config_candidates("sm_90a", 132, shapes[s][0], shapes[s][1],
                                               shapes[s][2], f ? TJ_F8E5M2 : TJ_BF16, c,
                                               TJ_GEMM_MAX_CONFIGS, &n));
            CHECK(n == (f ? 4 : 6));
            for (int i = 0; i < n; i++) {
                CHECK(c[i].score > 0 && c[i].score <= 1.0);
                CHECK(i == 0 || c[i].score <= c[i - 1].score);
                CHECK(c[i].split == 1 || c[i].split == 2 || c[i].split == 4 || c[i].split == 8);
                CHECK(!f || c[i].bk == 128);   /* fp8: one 128-byte line at least */
                for (int j = 0; j < i; j++)
                    CHECK(c[i].bm != c[j].bm || c[i].bn != c[j].bn || c[i].bk != c[j].bk);
            }
            int two = 0;
            CHECK_OK(tj_gemm_config_candidates("sm_90a", 132, shapes[s][0], shapes[s][1],
                                               shapes[s][2], TJ_BF16, c, 2, &two));
            CHECK(two == 2);
        }
    }
}

TEST(test_model_gives_recipe_defaults_where_the_schedule_does_not_apply) {
    tj_gemm_config c[TJ_GEMM_MAX_CONFIGS];
    int n = 0;
    CHECK_OK(tj_gemm_config_candidates("sm_80", 108, 128, 4096, 4096, TJ_BF16, c, 8, &n));
    CHECK(n == 1 && c[0].bm == 128 && c[0].bn == 128 && c[0].bk == 64 && c[0].split == 1 &&
          c[0].score == 0);
    CHECK_OK(tj_gemm_config_candidates("sm_90", 132, 128, 4096, 4096, TJ_BF16, c, 8, &n));
    CHECK(n == 1 && c[0].score == 0);
    CHECK_OK(tj_gemm_config_candidates("sm_90a", 132, 4096, 4096, 4096, TJ_F32, c, 8, &n));
    CHECK(n == 1 && c[0].bm == 128 && c[0].bk == 64);
}

TEST(test_model_rejects_bad_arguments) {
    tj_gemm_config c;
    int n;
    CHECK_ERR(tj_gemm_config_for("sm_90a", 132, 0, 16, 16, TJ_BF16, &c), TJ_ERR_INVALID_ARG, "0x16x16");
    CHECK_ERR(tj_gemm_config_for("sm_90a", 132, 16, 16, -4, TJ_BF16, &c), TJ_ERR_INVALID_ARG, "below 1");
    CHECK_ERR(tj_gemm_config_for(NULL, 132, 16, 16, 16, TJ_BF16, &c), TJ_ERR_INVALID_ARG, "arch");
    CHECK_ERR(tj_gemm_config_for("sm_90a", 132, 16, 16, 16, TJ_BF16, NULL), TJ_ERR_INVALID_ARG, "out");
    CHECK_ERR(tj_gemm_config_for("sm_90a", 132, 16, 16, 16, TJ_I32, &c), TJ_ERR_INVALID_ARG, "i32");
    CHECK_ERR(tj_gemm_config_candidates("sm_90a", 132, 16, 16, 16, TJ_BF16, &c, 0, &n),
              TJ_ERR_INVALID_ARG, "max");
}

/* The split gemm_sm90 takes for g at (m, n, k) with its automatic rule
 * (gs_splitk 0, no pairs); -1 when it declines. */
static int schedule_split(const tj_graph *g, int64_t m, int64_t n, int64_t k) {
    int64_t vals[3];
    vals[tj_find_symbol(g, "M").id] = m;
    vals[tj_find_symbol(g, "N").id] = n;
    vals[tj_find_symbol(g, "K").id] = k;
    int saved[2] = {gs_splitk, gs_cluster};
    gs_splitk = 0, gs_cluster = 1;
    char *src = NULL, why[256] = "";
    emit_launch L;
    memset(&L, 0, sizeof L);
    tj_status s = sched_gemm_sm90(g, "sm_90a", vals, &src, &L, why, sizeof why);
    gs_splitk = saved[0], gs_cluster = saved[1];
    if (s != TJ_OK || !src) {
        fprintf(stderr, "  declined: %s\n", why);
        return -1;
    }
    free(src);
    return L.grid_mode == EMIT_GRID_MUL ? L.grid_arg : 1;
}

TEST(test_model_split_is_the_schedules) {
    /* K a multiple of 16: fp8 rows are 16-byte multiples (TMA) */
    static const int64_t shapes[][3] = {{128, 4096, 4096}, {64, 4096, 4096}, {100, 300, 1008},
                                        {256, 512, 8192},  {2048, 2048, 2048}, {1000, 1000, 256},
                                        {64, 256, 16384},  {192, 640, 3008}};
    int splits_seen = 0;
    for (int s = 0; s < 8; s++) {
        for (int f = 0; f < 2; f++) {
            const char *dtp = f ? "dtype=f8e4m3" : "dtype=bf16";
            const char *params[2] = {"trans_b=1", dtp};
            tj_gemm_config c[TJ_GEMM_MAX_CONFIGS];
            int n = 0;
            CHECK_OK(tj_gemm_config_candidates("sm_90a", 132, shapes[s][0], shapes[s][1],
                                               shapes[s][2], f ? TJ_F8E4M3 : TJ_BF16, c,
                                               TJ_GEMM_MAX_CONFIGS, &n));
            for (int i = 0; i < n; i++) {
                tj_graph *g = NULL;
                CHECK_OK(tj_recipe_gemm_with_config(2, params, &c[i], &g));
                int got = schedule_split(g, shapes[s][0], shapes[s][1], shapes[s][2]);
                tj_graph_free(g);
                CHECKF(got == c[i].split, "%lldx%lldx%lld %s %dx%dx%d: model %d, schedule %d",
                       (long long)shapes[s][0], (long long)shapes[s][1], (long long)shapes[s][2],
                       dtp, c[i].bm, c[i].bn, c[i].bk, c[i].split, got);
                splits_seen |= 1 << c[i].split;
            }
        }
    }
    CHECK(splits_seen == ((1 << 1) | (1 << 2) | (1 << 4) | (1 << 8)));
}

TEST(test_params_canonical_fills_defaults_and_drops_tiles) {
    char a[512], b[512];
    const char *p1[] = {"trans_b=1"};
    const char *p2[] = {"act=none", "bm=64", "trans_b=1", "bk=auto"};
    tj_dtype dt;
    int pins[3];
    CHECK_OK(gemm_params_canonical(1, p1, a, sizeof a, &dt, pins));
    CHECK(dt == TJ_BF16 && pins[0] == 0 && pins[1] == 0 && pins[2] == 0);
    CHECK_OK(gemm_params_canonical(4, p2, b, sizeof b, &dt, pins));
    CHECK(pins[0] == 64 && pins[1] == 0 && pins[2] == 0);
    CHECK(!strcmp(a, b));
    CHECK(!strcmp(a, "dtype=bf16 out=same trans_a=0 trans_b=1 bias=0 act=none m=exact n=exact "
                     "k=exact"));
    const char *bad[] = {"trans_c=1"};
    CHECK_ERR(gemm_params_canonical(1, bad, a, sizeof a, &dt, pins), TJ_ERR_INVALID_ARG, "trans_c");
    const char *badtile[] = {"bm=96"};
    CHECK_ERR(gemm_params_canonical(1, badtile, a, sizeof a, &dt, pins), TJ_ERR_INVALID_ARG, "96");
    CHECK_ERR(gemm_params_canonical(1, p1, a, 8, &dt, pins), TJ_ERR_INVALID_ARG, "too few");
}

TEST(test_with_config_sets_the_tile_and_refuses_numeric_tiles) {
    tj_gemm_config c = {64, 64, 128, 1, 0, 0};
    const char *p[] = {"trans_b=1", "bm=auto"};
    tj_graph *g = NULL, *h = NULL;
    CHECK_OK(tj_recipe_gemm_with_config(2, p, &c, &g));
    const char *q[] = {"trans_b=1", "bm=64", "bn=64", "bk=128"};
    CHECK_OK(tj_recipe_build("gemm", 4, q, &h));
    char ha[65], hb[65];
    CHECK_OK(tj_graph_hash(g, ha));
    CHECK_OK(tj_graph_hash(h, hb));
    tj_graph_free(g);
    tj_graph_free(h);
    CHECK(!strcmp(ha, hb));
    const char *r[] = {"bm=64"};
    CHECK_ERR(tj_recipe_gemm_with_config(1, r, &c, &g), TJ_ERR_INVALID_ARG, "bm=64");
    CHECK(g == NULL);
}

TEST(test_for_shape_takes_the_model_pick_and_pins) {
    const char *p[] = {"trans_b=1"};
    tj_graph *g = NULL;
    tj_gemm_config c;
    CHECK_OK(tj_recipe_gemm_for_shape(1, p, 128, 4096, 4096, &no_records, &g, &c));
    CHECK(c.bm == 64 && c.bn == 64 && c.bk == 128 && c.split == 1 && !c.tuned);
    tj_graph_free(g);
    /* pinned bm: the best candidate with 128 rows */
    const char *pm[] = {"trans_b=1", "bm=128"};
    CHECK_OK(tj_recipe_gemm_for_shape(2, pm, 128, 4096, 4096, &no_records, &g, &c));
    CHECK(c.bm == 128 && c.bn == 128 && c.bk == 64 && c.split == 2);
    tj_graph_free(g);
    /* pinned off the candidates: the pins and the best's other fields */
    const char *po[] = {"trans_b=1", "bn=32"};
    CHECK_OK(tj_recipe_gemm_for_shape(2, po, 4096, 4096, 4096, &no_records, &g, &c));
    CHECK(c.bm == 128 && c.bn == 32 && c.bk == 64 && c.score == 0);
    tj_graph_free(g);
    CHECK_ERR(tj_recipe_gemm_for_shape(1, p, 0, 4096, 4096, &no_records, &g, &c),
              TJ_ERR_INVALID_ARG, "below 1");
    CHECK_ERR(tj_recipe_gemm_for_shape(1, p, 128, 4096, 4096, &no_records, NULL, &c),
              TJ_ERR_INVALID_ARG, "out");
}

TEST(test_for_shape_graph_verifies_and_compiles) {
    static const struct {
        const char *params[4];
        int np;
        int64_t m, n, k;
    } cases[] = {
        {{"trans_b=1"}, 1, 128, 4096, 4096},
        {{"trans_b=1", "bias=1", "act=gelu_tanh"}, 3, 2048, 2048, 2048},
        {{"dtype=f8e4m3", "trans_b=1"}, 2, 4096, 4096, 4096},
        {{"dtype=f16"}, 1, 100, 304, 1000},   /* b [K,N]: N a multiple of 8 */
    };
    int nvrtc = sched_nvrtc_ok("sm_90a");
    for (int i = 0; i < 4; i++) {
        tj_graph *g = NULL;
        tj_gemm_config c;
        CHECK_OK(tj_recipe_gemm_for_shape(cases[i].np, cases[i].params, cases[i].m, cases[i].n,
                                          cases[i].k, &no_records, &g, &c));
        CHECK_OK(tj_graph_verify(g));
        int64_t vals[3];
        vals[tj_find_symbol(g, "M").id] = cases[i].m;
        vals[tj_find_symbol(g, "N").id] = cases[i].n;
        vals[tj_find_symbol(g, "K").id] = cases[i].k;
        char *src = NULL;
        emit_launch L;
        memset(&L, 0, sizeof L);
        tj_status s = emit_kernel(g, "sm_90a", vals, NULL, &src, &L);
        tj_graph_free(g);
        CHECK_OK(s);
        CHECKF(!strcmp(L.schedule, "gemm_sm90"), "case %d got %s (%s)", i, L.schedule, L.note);
        CHECK((L.grid_mode == EMIT_GRID_MUL ? L.grid_arg : 1) == c.split);
        char why[4096];
        int ok = !nvrtc || sched_compile(src, "for_shape.cu", "sm_90a", 120, 0, why, sizeof why);
        free(src);
        CHECKF(ok, "case %d (%dx%dx%d): %s", i, c.bm, c.bn, c.bk, why);
    }
    if (!nvrtc) SKIP("NVRTC for sm_90a is not available: the graphs verified, nothing compiled");
}

int main(void) { return harness_main(); }
