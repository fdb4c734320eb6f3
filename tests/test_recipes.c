/*
 * The built-in recipes: their parameters, and what the row-wise and GEMM
 * graphs compute in the CPU interpreter against naive double-precision
 * references, at ragged sizes (widths 1, 17, 1000; odd row counts; shapes
 * that are not a multiple of the tile). Attention and decode are in
 * test_recipes_attention.c; inputs, poisoning and tolerances in
 * recipe_run.h.
 */
#include "recipe_run.h"

/* ---- the registry and parameters ----------------------------------- */

TEST(test_recipe_registry_lists_every_recipe_and_each_builds_with_defaults) {
    static const char *const want[] = {"eltwise", "softmax", "rmsnorm", "layernorm",
                                       "gemm",    "attention", "decode"};
    CHECK(tj_recipe_count() == 7);
    CHECK(tj_recipe_get(-1) == NULL && tj_recipe_get(7) == NULL);
    for (int i = 0; i < 7; i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        CHECK(info && !strcmp(info->name, want[i]));
        CHECK(info->summary && *info->summary && info->params && strchr(info->params, '='));
        tj_graph *g = build(info->name, 0, NULL);
        CHECKF(g, "%s", info->name);
        CHECK_OK(tj_graph_verify(g));
        CHECK(!strcmp(tj_graph_name(g), info->name));
        tj_graph_free(g);
    }
}

TEST(test_recipe_accepts_its_documented_defaults_given_explicitly) {
    for (int i = 0; i < tj_recipe_count(); i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        plist pl;
        params(&pl, "%s", info->params);
        tj_graph *g = build(info->name, pl.n, pl.p);
        CHECKF(g, "%s %s", info->name, info->params);
        tj_graph_free(g);
    }
}

TEST(test_recipe_unknown_key_is_an_error_listing_the_keys) {
    tj_graph *g = (tj_graph *)1;
    const char *p[] = {"dtype=f32", "colour=red"};
    CHECK_ERR(tj_recipe_build("softmax", 2, p, &g), TJ_ERR_INVALID_ARG, "unknown key 'colour'");
    CHECK(g == NULL);
    CHECK(strstr(tj_last_error(), "dtype bm rows cols"));
}

TEST(test_recipe_bad_value_names_the_key_and_allowed_values) {
    tj_graph *g;
    const char *act[] = {"act=tanh"};
    CHECK_ERR(tj_recipe_build("gemm", 1, act, &g), TJ_ERR_INVALID_ARG,
              "act=tanh is not allowed; act is one of none|relu|gelu|gelu_tanh|silu");
    const char *d[] = {"d=96"};
    CHECK_ERR(tj_recipe_build("attention", 1, d, &g), TJ_ERR_INVALID_ARG, "d is one of 64|128|256");
    const char *bm[] = {"bm=48"};
    CHECK_ERR(tj_recipe_build("gemm", 1, bm, &g), TJ_ERR_INVALID_ARG,
              "bm must be a power of two in 16..256");
    const char *dt[] = {"dtype=i32"};
    CHECK_ERR(tj_recipe_build("rmsnorm", 1, dt, &g), TJ_ERR_INVALID_ARG, "bf16|f16|f32");
    const char *cap[] = {"softcap=-3"};
    CHECK_ERR(tj_recipe_build("attention", 1, cap, &g), TJ_ERR_INVALID_ARG, "softcap");
    const char *pol[] = {"seq=multiple0"};
    CHECK_ERR(tj_recipe_build("attention", 1, pol, &g), TJ_ERR_INVALID_ARG,
              "exact|pow2|multipleN|dynamic");
    const char *flag[] = {"causal=yes"};
    CHECK_ERR(tj_recipe_build("attention", 1, flag, &g), TJ_ERR_INVALID_ARG,
              "causal is one of 0|1");
}

TEST(test_recipe_rejects_dynamic_width_where_it_sizes_a_tile) {
    tj_graph *g;
    const char *p[] = {"cols=dynamic"};
    CHECK_ERR(tj_recipe_build("layernorm", 1, p, &g), TJ_ERR_INVALID_ARG, "cols sizes a tile");
    /* eltwise tiles cols in bn-wide pieces, so there it is fine */
    g = build("eltwise", 1, p);
    CHECK(g);
    tj_graph_free(g);
}

TEST(test_recipe_rejects_malformed_and_repeated_params) {
    tj_graph *g;
    const char *noeq[] = {"causal"};
    CHECK_ERR(tj_recipe_build("attention", 1, noeq, &g), TJ_ERR_INVALID_ARG, "not key=value");
    const char *twice[] = {"bm=16", "bm=32"};
    CHECK_ERR(tj_recipe_build("gemm", 2, twice, &g), TJ_ERR_INVALID_ARG, "given twice");
    const char *empty[] = {"bm="};
    CHECK_ERR(tj_recipe_build("gemm", 1, empty, &g), TJ_ERR_INVALID_ARG, "empty");
    CHECK_ERR(tj_recipe_build("gemm", 1, NULL, &g), TJ_ERR_INVALID_ARG, "params is NULL");
    CHECK_ERR(tj_recipe_build("gemm", 0, NULL, NULL), TJ_ERR_INVALID_ARG, "out is NULL");
}

TEST(test_recipe_unknown_name_lists_the_recipes) {
    tj_graph *g;
    CHECK_ERR(tj_recipe_build("conv", 0, NULL, &g), TJ_ERR_INVALID_ARG,
              "recipes are: eltwise softmax rmsnorm layernorm gemm attention decode");
    CHECK_ERR(tj_recipe_build(NULL, 0, NULL, &g), TJ_ERR_INVALID_ARG, "unknown recipe NULL");
}

TEST(test_recipe_rejects_q_heads_not_a_multiple_of_kv_heads) {
    tj_graph *g;
    const char *p[] = {"hq=6", "hkv=4"};
    CHECK_ERR(tj_recipe_build("attention", 2, p, &g), TJ_ERR_INVALID_ARG,
              "hq=6 is not a multiple of hkv=4");
    CHECK_ERR(tj_recipe_build("decode", 2, p, &g), TJ_ERR_INVALID_ARG,
              "hq=6 is not a multiple of hkv=4");
}

TEST(test_recipe_graphs_round_trip_through_text) {
    for (int i = 0; i < tj_recipe_count(); i++) {
        tj_graph *g = build(tj_recipe_get(i)->name, 0, NULL), *back = NULL;
        CHECK(g);
        char *text = NULL, h1[65], h2[65];
        tj_status s = tj_graph_print(g, &text);
        if (s == TJ_ERR_UNSUPPORTED) {
            tj_graph_free(g);
            SKIP("printing is not supported in this build");
        }
        CHECK_OK(s);
        s = tj_graph_parse(text, strlen(text), "recipe.tj", &back);
        if (s != TJ_OK) fprintf(stderr, "  %s:\n%s\n", tj_recipe_get(i)->name, text);
        CHECK_OK(s);
        CHECK_OK(tj_graph_hash(g, h1));
        CHECK_OK(tj_graph_hash(back, h2));
        CHECKF(!strcmp(h1, h2), "%s changes when printed and parsed", tj_recipe_get(i)->name);
        tj_free(text);
        tj_graph_free(back);
        tj_graph_free(g);
    }
}


TEST(test_recipe_builds_are_deterministic) {
    for (int i = 0; i < tj_recipe_count(); i++) {
        tj_graph *a = build(tj_recipe_get(i)->name, 0, NULL);
        tj_graph *b = build(tj_recipe_get(i)->name, 0, NULL);
        CHECK(a && b);
        char ha[65], hb[65];
        CHECK_OK(tj_graph_hash(a, ha));
        CHECK_OK(tj_graph_hash(b, hb));
        CHECKF(!strcmp(ha, hb), "%s", tj_recipe_get(i)->name);
        tj_graph_free(a);
        tj_graph_free(b);
    }
}

/* Every documented choice builds a graph that verifies. */
TEST(test_recipe_every_choice_builds_and_verifies) {
    static const char *const sets[] = {
        "eltwise op=gelu_mul dtype=f16 bm=1 bn=4096 rows=pow2 cols=multiple8",
        "eltwise op=gelu_tanh_mul dtype=f32 rows=exact cols=dynamic",
        "eltwise op=add_relu", "eltwise op=add", "eltwise op=mul",
        "softmax dtype=f32 bm=1 cols=pow2 rows=multiple3",
        "softmax dtype=f16 bm=256 cols=multiple64",
        "rmsnorm dtype=f32 cols=pow2", "layernorm bias=0 cols=multiple16",
        "gemm dtype=f16 out=f32 trans_a=1 trans_b=1 bias=1 act=silu m=dynamic n=pow2 k=multiple64",
        "gemm dtype=f32 bm=16 bn=256 bk=16 act=gelu_tanh",
        "gemm dtype=f8e5m2 act=relu", "gemm dtype=f8e4m3 out=f16 bias=1",
        "attention d=64 causal=1 cross=1 lse=1 softcap=50 alibi=1 seq=exact",
        "attention d=256 hq=16 hkv=2 block_m=16 block_n=256 dtype=f16 alibi=computed",
        "attention causal=1 seq=pow2 dtype=f32",
        "decode d=64 hq=4 hkv=4 block_n=512 kv=multiple256 lens=1 dtype=f32",
        "decode d=256 hq=1 hkv=1 kv=exact dtype=f16",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        plist pl;
        params(&pl, "%s", sets[i]);
        tj_graph *g = build(pl.p[0], pl.n - 1, pl.p + 1);
        CHECKF(g, "%s", sets[i]);
        tj_graph_free(g);
    }
}

/* ---- eltwise -------------------------------------------------------- */

static double silu(double x) { return x / (1 + exp(-x)); }
static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
static double relu(double x) { return x > 0 ? x : 0; }

static double eltwise_ref(const char *op, double x, double g) {
    if (!strcmp(op, "silu_mul")) return silu(x) * g;
    if (!strcmp(op, "gelu_mul")) return gelu(x) * g;
    if (!strcmp(op, "gelu_tanh_mul")) return gelu_tanh(x) * g;
    if (!strcmp(op, "add_relu")) return relu(x + g);
    if (!strcmp(op, "add")) return x + g;
    return x * g;
}

static void eltwise_case(const char *op, const char *dtype, int64_t rows, int64_t cols, int bm,
                         int bn) {
    plist pl;
    params(&pl, "op=%s dtype=%s bm=%d bn=%d", op, dtype, bm, bn);
    run r;
    run_init(&r, build("eltwise", pl.n, pl.p));
    CHECK(r.g);
    CHECK(bind(&r, "rows", rows) && bind(&r, "cols", cols));
    CHECK(input(&r, "x", -4, 4) && input(&r, "g", -2, 2) && output(&r, "y"));
    CHECK_OK(go(&r));
    const double *x = in_vals(&r, "x"), *g = in_vals(&r, "g");
    double *ref = dalloc(rows * cols);
    for (int64_t i = 0; i < rows * cols; i++) ref[i] = eltwise_ref(op, x[i], g[i]);
    int ok = matches(&r, "y", ref, rows * cols);
    free(ref);
    run_free(&r);
    CHECKF(ok, "eltwise %s %s %lldx%lld", op, dtype, (long long)rows, (long long)cols);
}

TEST(test_eltwise_every_op_matches_reference_at_ragged_shapes) {
    static const char *const ops[] = {"silu_mul", "gelu_mul", "gelu_tanh_mul", "add_relu",
                                      "add", "mul"};
    for (int i = 0; i < 6; i++) {
        eltwise_case(ops[i], "f32", 37, 100, 16, 32);
        if (harness_failed_now) return;
    }
    eltwise_case("silu_mul", "bf16", 1, 17, 4, 8);
    if (harness_failed_now) return;
    eltwise_case("gelu_mul", "f16", 19, 1000, 8, 128);
}

/* ---- softmax, rmsnorm, layernorm ------------------------------------ */

typedef enum { ROW_SOFTMAX, ROW_RMSNORM, ROW_LAYERNORM } rowkind;

/* One row of the reference: y[0..n-1]. */
static void row_ref(rowkind k, const double *x, const double *w, const double *b, double eps,
                    int64_t n, double *y) {
    if (k == ROW_SOFTMAX) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; j++) m = fmax(m, x[j]);
        for (int64_t j = 0; j < n; j++) s += exp(x[j] - m);
        for (int64_t j = 0; j < n; j++) y[j] = exp(x[j] - m) / s;
        return;
    }
    double mean = 0, ss = 0;
    if (k == ROW_LAYERNORM) {
        for (int64_t j = 0; j < n; j++) mean += x[j];
        mean /= (double)n;
    }
    for (int64_t j = 0; j < n; j++) ss += (x[j] - mean) * (x[j] - mean);
    double r = 1 / sqrt(ss / (double)n + eps);
    for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mean) * r * w[j] + (b ? b[j] : 0);
}

static void row_case(rowkind k, const char *dtype, int64_t rows, int64_t cols, int bm,
                     const char *cols_policy, int bias) {
    static const char *const names[] = {"softmax", "rmsnorm", "layernorm"};
    plist pl;
    if (k == ROW_LAYERNORM)
        params(&pl, "dtype=%s bm=%d cols=%s bias=%d", dtype, bm, cols_policy, bias);
    else
        params(&pl, "dtype=%s bm=%d cols=%s", dtype, bm, cols_policy);
    run r;
    run_init(&r, build(names[k], pl.n, pl.p));
    CHECK(r.g);
    CHECK(bind(&r, "rows", rows) && bind(&r, "cols", cols));
    /* Softmax inputs span a wide range so the max subtraction matters. */
    CHECK(input(&r, "x", k == ROW_SOFTMAX ? -30 : -3, k == ROW_SOFTMAX ? 30 : 5));
    if (k != ROW_SOFTMAX) CHECK(input(&r, "w", 0.5, 2));
    if (bias) CHECK(input(&r, "b", -1, 1));
    CHECK(output(&r, "y"));
    double eps = k == ROW_SOFTMAX ? 0 : harness_uniform(1e-6, 1e-2);
    r.scalars[0] = eps;
    CHECK_OK(go(&r));
    double *ref = dalloc(rows * cols);
    for (int64_t i = 0; i < rows; i++)
        row_ref(k, in_vals(&r, "x") + i * cols, in_vals(&r, "w"), bias ? in_vals(&r, "b") : NULL,
                eps, cols, ref + i * cols);
    int ok = matches(&r, "y", ref, rows * cols);
    free(ref);
    run_free(&r);
    CHECKF(ok, "%s %s %lldx%lld bm=%d cols=%s", names[k], dtype, (long long)rows,
           (long long)cols, bm, cols_policy);
}

/* Each row kind at widths 1, 17, 1000, exact and bucketed (the bucket's
 * tail is padding the recipe must keep out of max, sum and variance). */
static void row_sweep(rowkind k, int bias) {
    static const int64_t widths[] = {1, 17, 1000};
    static const char *const pols[] = {"exact", "pow2", "multiple64"};
    for (int w = 0; w < 3; w++)
        for (int p = 0; p < 3; p++) {
            row_case(k, "f32", 7, widths[w], 4, pols[p], bias);
            if (harness_failed_now) return;
        }
    row_case(k, "bf16", 33, 130, 8, "pow2", bias);
    if (harness_failed_now) return;
    row_case(k, "f16", 1, 64, 1, "exact", bias);
}

TEST(test_softmax_matches_reference_at_ragged_widths) { row_sweep(ROW_SOFTMAX, 0); }
TEST(test_rmsnorm_matches_reference_at_ragged_widths) { row_sweep(ROW_RMSNORM, 0); }
TEST(test_layernorm_matches_reference_at_ragged_widths) { row_sweep(ROW_LAYERNORM, 1); }
TEST(test_layernorm_without_bias_matches_reference) {
    row_case(ROW_LAYERNORM, "f32", 5, 77, 2, "pow2", 0);
    if (harness_failed_now) return;
    row_case(ROW_LAYERNORM, "bf16", 9, 300, 4, "exact", 0);
}

/* ---- gemm ----------------------------------------------------------- */

typedef struct gemm_case {
    const char *dtype, *out;
    int ta, tb, bias;
    const char *act;
    int64_t m, n, k;
    int bm, bn, bk;
} gemm_case;

static double act_ref(const char *act, double x) {
    if (!strcmp(act, "relu")) return relu(x);
    if (!strcmp(act, "gelu")) return gelu(x);
    if (!strcmp(act, "gelu_tanh")) return gelu_tanh(x);
    if (!strcmp(act, "silu")) return silu(x);
    return x;
}

static void gemm_run(const gemm_case *c) {
    plist pl;
    params(&pl, "dtype=%s out=%s trans_a=%d trans_b=%d bias=%d act=%s bm=%d bn=%d bk=%d",
           c->dtype, c->out, c->ta, c->tb, c->bias, c->act, c->bm, c->bn, c->bk);
    run r;
    run_init(&r, build("gemm", pl.n, pl.p));
    CHECK(r.g);
    CHECK(bind(&r, "M", c->m) && bind(&r, "N", c->n) && bind(&r, "K", c->k));
    CHECK(input(&r, "a", -2, 2) && input(&r, "b", -2, 2) && output(&r, "c"));
    if (c->bias) CHECK(input(&r, "bias", -3, 3));
    CHECK_OK(go(&r));
    const double *a = in_vals(&r, "a"), *b = in_vals(&r, "b"), *bias = in_vals(&r, "bias");
    int64_t M = c->m, N = c->n, K = c->k;
    double *ref = dalloc(M * N);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = c->bias ? bias[j] : 0;
            for (int64_t kk = 0; kk < K; kk++)
                acc += (c->ta ? a[kk * M + i] : a[i * K + kk]) *
                       (c->tb ? b[j * K + kk] : b[kk * N + j]);
            ref[i * N + j] = act_ref(c->act, acc);
        }
    int ok = matches(&r, "c", ref, M * N);
    free(ref);
    run_free(&r);
    CHECKF(ok, "gemm %s->%s ta=%d tb=%d bias=%d act=%s %lldx%lldx%lld", c->dtype, c->out, c->ta,
           c->tb, c->bias, c->act, (long long)M, (long long)N, (long long)K);
}

TEST(test_gemm_every_transpose_matches_reference_at_ragged_shapes) {
    for (int t = 0; t < 4; t++) {
        gemm_case c = {"f32", "same", t & 1, t >> 1, 0, "none", 37, 45, 70, 16, 32, 16};
        gemm_run(&c);
        if (harness_failed_now) return;
    }
}

TEST(test_gemm_bias_and_every_activation_match_reference) {
    static const char *const acts[] = {"none", "relu", "gelu", "gelu_tanh", "silu"};
    for (int i = 0; i < 5; i++) {
        gemm_case c = {"bf16", "same", i & 1, 0, 1, acts[i], 33, 17, 40, 16, 16, 16};
        gemm_run(&c);
        if (harness_failed_now) return;
    }
}

TEST(test_gemm_edge_sizes_one_row_one_column_one_k) {
    gemm_case cs[] = {
        {"f32", "same", 0, 0, 1, "none", 1, 1, 1, 16, 16, 16},
        {"f32", "same", 0, 1, 0, "none", 1, 100, 17, 16, 32, 16},
        {"f32", "same", 1, 0, 0, "relu", 130, 1, 1000, 64, 16, 64},
    };
    for (int i = 0; i < 3; i++) {
        gemm_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_gemm_half_inputs_with_other_output_dtypes) {
    gemm_case cs[] = {
        {"f16", "f32", 0, 1, 1, "silu", 20, 50, 33, 16, 16, 32},
        {"bf16", "f16", 1, 1, 0, "gelu", 17, 31, 65, 32, 16, 16},
        {"f8e4m3", "same", 0, 1, 1, "none", 19, 23, 64, 16, 16, 32},
    };
    for (int i = 0; i < 3; i++) {
        gemm_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

int main(void) { return harness_main(); }
