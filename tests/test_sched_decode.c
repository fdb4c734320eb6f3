/*
 * test_sched_decode.c — the decode schedule without a GPU: which graphs
 * it takes (the decode recipe's variants: head dims, dtypes, hq/hkv
 * ratios, per-sequence lengths, block sizes; a hand-built decode graph
 * with a soft-capped score), how it splits the KV walk by the specialized
 * length, which graphs it declines and why (prefill attention, gemm, the
 * rows recipes, f32, too many query rows, a state that is not an online
 * softmax, old targets), that emit_kernel picks it first, and that what
 * it emits compiles with NVRTC for sm_80 and sm_90a without spills (in a
 * child process). NVRTC tests SKIP when it is missing.
 */
#include <math.h>

#include "emit.h"
#include "harness.h"
#include "nvrtc.h"
#include "sched_compile.h"
#include "schedule.h"
#include "templates.h"

static tj_graph *build(const char *name, const char *params) {
    const char *argv[16];
    char buf[256];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", params);
    for (char *s = strtok(buf, " "); s && n < 16; s = strtok(NULL, " ")) argv[n++] = s;
    tj_graph *g = NULL;
    if (tj_recipe_build(name, n, argv, &g) != TJ_OK) {
        fprintf(stderr, "  %s: %s\n", name, tj_last_error());
        return NULL;
    }
    return g;
}

/* kv_len (and seq for attention) bound; batch left dynamic. */
static void bind(const tj_graph *g, int64_t *vals, int64_t kv) {
    for (int s = 0; s < 16; s++) vals[s] = TJ_UNBOUND;
    const char *names[] = {"kv_len", "seq"};
    for (int i = 0; i < 2; i++) {
        tj_sym q = tj_find_symbol(g, names[i]);
        if (q.id >= 0) vals[q.id] = kv;
    }
}

static int apply(const tj_graph *g, const char *arch, const int64_t *vals, char **src,
                 emit_launch *L, char *why, size_t size) {
    *src = NULL;
    why[0] = '\0';
    memset(L, 0, sizeof *L);
    tj_status s = sched_decode(g, arch, vals, src, L, why, size);
    if (s != TJ_OK) {
        snprintf(why, size, "error %s: %s", tj_status_name(s), tj_last_error());
        return -1;
    }
    return *src != NULL;
}

/* A decode graph written by hand: one masked loop, the score soft-capped
 * (cap * tanh(s / cap)) before the mask. */
static tj_graph *softcap_graph(int d, int hq, int hkv, int bn, tj_dtype dt, double cap) {
    tj_graph *g = NULL;
    if (tj_graph_new("decode_softcap", &g) != TJ_OK) return NULL;
    int grp = hq / hkv;
    tj_sym batch = tj_symbol(g, "batch", TJ_DYNAMIC, 0, 1);
    tj_sym kv = tj_symbol(g, "kv_len", TJ_EXACT, 0, 1);
    tj_dim qs[3] = {tj_dim_sym(batch), hq, d}, ks[4] = {tj_dim_sym(batch), tj_dim_sym(kv), hkv, d};
    tj_tensor tq = tj_tensor_arg(g, "q", dt, 3, qs, NULL);
    tj_tensor tk = tj_tensor_arg(g, "k", dt, 4, ks, NULL);
    tj_tensor tv = tj_tensor_arg(g, "v", dt, 4, ks, NULL);
    tj_tensor to = tj_tensor_arg(g, "o", dt, 3, qs, NULL);
    tj_val scale = tj_scalar_arg(g, "scale", TJ_F32);
    tj_val kvh = tj_program_id(g, 0), b = tj_program_id(g, 1), zero = tj_const(g, TJ_I32, 0);
    tj_val q_at[3] = {b, kvh, zero};
    int q_axes[2] = {1, 2};
    tj_dim q_tile[2] = {grp, d};
    tj_val q = tj_load(g, tq, q_at, 2, q_tile, q_axes, 0, 0);
    tj_val n = tj_symval(g, kv);
    tj_dim stat[2] = {grp, 1}, acc_shape[2] = {grp, d};
    tj_val st[3] = {tj_full(g, TJ_F32, 2, stat, -INFINITY), tj_full(g, TJ_F32, 2, stat, 0),
                    tj_full(g, TJ_F32, 2, acc_shape, 0)};
    tj_val j, cur[3];
    tj_for_begin(g, zero, tj_binary(g, TJ_CDIV, n, tj_const(g, TJ_I32, bn)),
                 tj_const(g, TJ_I32, 1), 3, st, &j, cur);
    tj_val at[4] = {b, j, kvh, zero};
    int axes[2] = {1, 3};
    tj_dim kv_tile[2] = {bn, d};
    tj_val k = tj_load(g, tk, at, 2, kv_tile, axes, 0, 0);
    tj_val s = tj_mul(g, tj_mma(g, q, k, TJ_NONE, TJ_TRANS_B), scale);
    tj_val c = tj_const(g, TJ_F32, cap);
    s = tj_mul(g, tj_unary(g, TJ_TANH, tj_div(g, s, c)), c);
    tj_dim row[2] = {1, bn};
    tj_val idx = tj_add(g, tj_iota(g, TJ_I32, 2, row, 1), tj_mul(g, j, tj_const(g, TJ_I32, bn)));
    tj_val ninf = tj_const(g, TJ_F32, -INFINITY);
    s = tj_where(g, tj_binary(g, TJ_LT, idx, n), s, ninf);
    tj_val mn = tj_maximum(g, cur[0], tj_rowmax(g, s));
    tj_val mu = tj_where(g, tj_binary(g, TJ_EQ, mn, ninf), tj_const(g, TJ_F32, 0), mn);
    tj_val p = tj_unary(g, TJ_EXP, tj_sub(g, s, mu));
    tj_val alpha = tj_unary(g, TJ_EXP, tj_sub(g, cur[0], mu));
    tj_val l = tj_fma(g, cur[1], alpha, tj_rowsum(g, p));
    tj_val v = tj_load(g, tv, at, 2, kv_tile, axes, 0, 0);
    tj_val acc = tj_mma(g, tj_cast(g, p, dt), v, tj_mul(g, cur[2], alpha), 0);
    tj_val next[3] = {mn, l, acc};
    tj_for_end(g, 3, next, st);
    tj_val o = tj_div(g, st[2], tj_where(g, tj_binary(g, TJ_EQ, st[1], tj_const(g, TJ_F32, 0)),
                                         tj_const(g, TJ_F32, 1), st[1]));
    tj_store(g, to, q_at, tj_cast(g, o, dt), q_axes, 0);
    tj_val grid[2] = {tj_const(g, TJ_I32, hkv), tj_symval(g, batch)};
    tj_set_grid(g, 2, grid);
    if (tj_graph_verify(g) != TJ_OK) {
        fprintf(stderr, "  softcap graph: %s\n", tj_last_error());
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

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

static const char *variants[] = {
    "",
    "d=64",
    "d=256",
    "dtype=f16",
    "hq=8 hkv=8",
    "hq=32 hkv=4",
    "hq=64 hkv=4",
    "hq=16 hkv=2 d=64 dtype=f16",
    "lens=1",
    "lens=1 kv=exact d=256 hq=8 hkv=1",
    "block_n=16",
    "block_n=128 d=64",
    "kv=exact",
    "kv=pow2",
};

TEST(test_decode_recipe_variants_are_taken) {
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        tj_graph *g = build("decode", variants[i]);
        CHECKF(g, "%s", variants[i]);
        if (!g) continue;
        int64_t vals[16];
        bind(g, vals, 4097);
        const char *archs[] = {"sm_80", "sm_90a"};
        for (int a = 0; a < 2; a++) {
            char *src, why[160];
            emit_launch L;
            int r = apply(g, archs[a], vals, &src, &L, why, sizeof why);
            CHECKF(r == 1, "'%s' %s: %s", variants[i], archs[a], why);
            if (r != 1) continue;
            CHECKF(strstr(src, "mma_rows") && strstr(src, "copy_chunk") && strstr(src, "q_max"),
                   "'%s'", variants[i]);
            CHECK((L.threads == 256 || L.threads == 128) && L.smem_bytes <= 227 * 1024);
            if (a == 0) CHECK(L.grid_mode == EMIT_GRID_GRAPH && L.cluster[0] <= 1);
            free(src);
        }
        tj_graph_free(g);
    }
}

TEST(test_decode_splits_long_kv_across_a_cluster) {
    tj_graph *g = build("decode", "kv=exact");
    CHECK(g);
    struct { int64_t kv; unsigned split; } cases[] = {{17, 1}, {1024, 2}, {4096, 2}, {131072, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t vals[16];
        bind(g, vals, cases[i].kv);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        CHECKF(r == 1, "%s", why);
        free(src);
        unsigned s = L.grid_mode == EMIT_GRID_MUL ? (unsigned)L.grid_arg : 1u;
        CHECKF(s == cases[i].split, "kv %lld: split %u, wanted %u", (long long)cases[i].kv, s,
               cases[i].split);
        if (s > 1) CHECK(L.cluster[0] == s && L.cluster[1] == 1 && L.cluster[2] == 1);
    }
    /* a dynamic length is taken as long; a dynamic batch as 8, so 8 kv heads x 8 x 2
     * blocks fill one block an SM of a 132-SM part */
    tj_graph *gd = build("decode", "");
    int64_t vals[16];
    bind(gd, vals, 0);
    for (int s = 0; s < 16; s++) vals[s] = TJ_UNBOUND;
    char *src, why[160];
    emit_launch L;
    CHECK(apply(gd, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    free(src);
    CHECK(L.grid_mode == EMIT_GRID_MUL && L.grid_arg == 2);
    /* a batch that is bound (one sequence: 8 programs) leaves room for 8 */
    bind(g, vals, 131072);
    vals[tj_find_symbol(g, "batch").id] = 1;
    CHECK(apply(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    free(src);
    CHECK(L.grid_mode == EMIT_GRID_MUL && L.grid_arg == 8 && L.cluster[0] == 8);
    /* no clusters before sm_90: one block a program */
    CHECK(apply(g, "sm_80", vals, &src, &L, why, sizeof why) == 1);
    free(src);
    CHECK(L.grid_mode == EMIT_GRID_GRAPH);
    tj_graph_free(gd);
    tj_graph_free(g);
}

TEST(test_decode_takes_a_softcapped_graph_and_emits_its_ops) {
    tj_graph *g = softcap_graph(64, 16, 2, 32, TJ_F16, 30.0);
    CHECK(g);
    if (!g) return;
    int64_t vals[16];
    bind(g, vals, 1000);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    CHECKF(r == 1, "%s", why);
    if (r == 1) CHECK(strstr(src, "tj::tanh(") != NULL && strstr(src, "tj::exp(") != NULL);
    free(src);
    tj_graph_free(g);
}

TEST(test_emit_kernel_picks_decode_first) {
    tj_graph *g = build("decode", "kv=exact");
    CHECK(g);
    int64_t vals[16];
    bind(g, vals, 8192);
    char *src = NULL;
    emit_launch L;
    CHECK_OK(emit_kernel(g, "sm_90a", vals, NULL, &src, &L));
    CHECK(!strcmp(L.schedule, "decode"));
    CHECK(src && !strncmp(src, "// schedule: decode", 19));
    free(src);
    tj_graph_free(g);
}

TEST(test_decode_declines_with_reasons) {
    tj_graph *g = build("decode", "");
    int64_t vals[16];
    bind(g, vals, 100);
    CHECK_DECLINES(g, "sm_75", vals, "sm_80");
    tj_graph_free(g);
    static const struct { const char *params, *why; } cases[] = {
        {"dtype=f32", "bf16 and f16"},
        {"hq=64 hkv=2", "at most 16"},
        {"block_n=256", "block_n 256"},
        {"d=256 hq=32 hkv=2", "registers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        g = build("decode", cases[i].params);
        CHECKF(g, "%s", cases[i].params);
        bind(g, vals, 100);
        CHECK_DECLINES(g, "sm_90a", vals, cases[i].why);
        tj_graph_free(g);
    }
}

TEST(test_non_decode_graphs_decline) {
    static const struct { const char *name, *params; } cases[] = {
        {"attention", ""}, {"attention", "causal=1"}, {"gemm", ""},
        {"rmsnorm", ""}, {"layernorm", ""}, {"softmax", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tj_graph *g = build(cases[i].name, cases[i].params);
        CHECKF(g, "%s", cases[i].name);
        int64_t vals[16];
        for (int s = 0; s < 16; s++) vals[s] = 256;
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        free(src);
        tj_graph_free(g);
        CHECKF(r == 0 && why[0], "%s: %d \"%s\"", cases[i].name, r, why);
        printf("  %s %s: %s\n", cases[i].name, cases[i].params, why);
    }
}

/* ---- emitted code compiles --------------------------------------------------- */

static int compiles(const tj_graph *g, const char *arch, const int64_t *vals, char *why,
                    size_t size) {
    char *src;
    emit_launch L;
    if (apply(g, arch, vals, &src, &L, why, size) != 1) return 0;
    int ok = sched_compile(src, "decode.cu", arch, 300, 0, why, size);
    free(src);
    return ok;
}

TEST(test_decode_kernels_compile_without_spills) {
    if (nvrtc_load() != TJ_OK || !nvrtc_arch_supported("sm_90a"))
        SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const struct { const char *params, *arch; int64_t kv; } cfgs[] = {
        {"kv=exact", "sm_90a", 16384},
        {"", "sm_90a", 0},
        {"d=64 hq=64 hkv=4 dtype=f16", "sm_90a", 4096},
        {"d=256 hq=8 hkv=8 lens=1", "sm_90a", 70000},
        {"kv=exact block_n=32", "sm_80", 1000},
        {"d=256 hq=32 hkv=4", "sm_80", 4096},
        {"lens=1 d=64", "sm_80", 17},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        tj_graph *g = build("decode", cfgs[i].params);
        CHECK(g);
        int64_t vals[16];
        bind(g, vals, cfgs[i].kv);
        if (!cfgs[i].kv)
            for (int s = 0; s < 16; s++) vals[s] = TJ_UNBOUND;
        char why[4200];
        int ok = compiles(g, cfgs[i].arch, vals, why, sizeof why);
        tj_graph_free(g);
        CHECKF(ok, "'%s' %s: %s", cfgs[i].params, cfgs[i].arch, why);
    }
    tj_graph *g = softcap_graph(128, 32, 8, 64, TJ_BF16, 50.0);
    CHECK(g);
    int64_t vals[16];
    bind(g, vals, 4096);
    char why[4200];
    int ok = compiles(g, "sm_90a", vals, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "softcap: %s", why);
}

int main(void) { return harness_main(); }
