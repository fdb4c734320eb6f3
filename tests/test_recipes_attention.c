/*
 * The attention and decode recipes in the CPU interpreter against a naive
 * double-precision attention: sequence lengths 1, 17 and 1000, GQA,
 * causal (also with q and kv of different lengths), softcap, ALiBi, a
 * custom score modifier through tj_recipe_attention's hook, lse, and
 * per-sequence cache lengths. Inputs, poisoning and tolerances:
 * recipe_run.h.
 */
#include "recipe_run.h"

/* ---- the reference -------------------------------------------------- */

/* q [batch, seq, hq, d], k/v [batch, skv, hkv, d], o like q,
 * lse [batch, hq, seq]. Decode is the case seq = 1. */
typedef struct aref {
    int64_t batch, seq, skv;
    int hq, hkv, d;
    double scale;
    int causal;              /* key j visible to query i iff j <= i + skv - seq */
    double softcap;          /* 0: none */
    const double *slopes;    /* ALiBi slope per q head, or NULL */
    int window;              /* > 0: the test hook's window (i - j < window) */
    double temp;             /* the test hook's factor */
    const int64_t *lens;     /* per-batch key counts, or NULL */
} aref;

/* mag[] receives sum_j p_j |v_j| / l: the size of the terms of o. */
static void attention_ref(const aref *a, const double *q, const double *k, const double *v,
                          double *o, double *lse, double *mag) {
    int grp = a->hq / a->hkv;
    double *s = dalloc(a->skv);
    for (int64_t b = 0; b < a->batch; b++)
        for (int h = 0; h < a->hq; h++)
            for (int64_t i = 0; i < a->seq; i++) {
                const double *qi = q + ((b * a->seq + i) * a->hq + h) * a->d;
                int64_t nk = a->lens ? a->lens[b] : a->skv;
                if (nk > a->skv) nk = a->skv;
                double m = -INFINITY;
                for (int64_t j = 0; j < a->skv; j++) {
                    const double *kj = k + ((b * a->skv + j) * a->hkv + h / grp) * a->d;
                    double x = 0;
                    for (int c = 0; c < a->d; c++) x += qi[c] * kj[c];
                    x *= a->scale;
                    if (a->softcap > 0) x = a->softcap * tanh(x / a->softcap);
                    if (a->slopes) x += a->slopes[h] * (double)(j - i);
                    if (a->window > 0)
                        x = (i - j < a->window) ? x * a->temp * (1 + 0.25 * h) : -INFINITY;
                    if (j >= nk || (a->causal && j > i + a->skv - a->seq)) x = -INFINITY;
                    s[j] = x;
                    m = fmax(m, x);
                }
                double l = 0;
                double *oi = o + ((b * a->seq + i) * a->hq + h) * a->d;
                double *mi = mag + ((b * a->seq + i) * a->hq + h) * a->d;
                for (int c = 0; c < a->d; c++) oi[c] = mi[c] = 0;
                if (m == -INFINITY) {
                    if (lse) lse[(b * a->hq + h) * a->seq + i] = -INFINITY;
                    continue;
                }
                for (int64_t j = 0; j < a->skv; j++) {
                    double p = exp(s[j] - m);
                    const double *vj = v + ((b * a->skv + j) * a->hkv + h / grp) * a->d;
                    l += p;
                    for (int c = 0; c < a->d; c++) oi[c] += p * vj[c], mi[c] += p * fabs(vj[c]);
                }
                for (int c = 0; c < a->d; c++) oi[c] /= l, mi[c] /= l;
                if (lse) lse[(b * a->hq + h) * a->seq + i] = m + log(l);
            }
    free(s);
}

/* Inputs for q, k, v (and o poisoned), the scale, then a run and the
 * comparison of o (and lse when the graph writes it). */
static void attention_check(run *r, aref *a, const char *what) {
    int lse = 0;
    for (int t = 0; t < tj_num_tensors(r->g); t++)
        if (!strcmp(tj_tensor_name(r->g, (tj_tensor){t}), "lse")) lse = 1;
    /* fp8: v's descale multiplies o; p . v takes p rounded to e4m3 (2^-4
     * of each term at most, a few % of o); v positive, so o is the size
     * of its terms and a wrong scale shows */
    int fp8 = tdtype(r, tensor_id(r, "q")) == TJ_F8E4M3;
    CHECK(input(r, "q", -1, 1) && input(r, "k", -1, 1) && input(r, "v", fp8 ? 0.25 : -1, 1));
    CHECK(output(r, "o"));
    if (lse) CHECK(output(r, "lse"));
    r->scalars[0] = a->scale;
    const double v_scale = 0.5;
    if (fp8) r->scalars[1] = v_scale;
    CHECK_OK(go(r));
    int64_t no = a->batch * a->seq * a->hq * a->d, nl = a->batch * a->hq * a->seq;
    double *o = dalloc(no), *l = dalloc(nl), *mag = dalloc(no);
    attention_ref(a, in_vals(r, "q"), in_vals(r, "k"), in_vals(r, "v"), o, lse ? l : NULL, mag);
    for (int64_t i = 0; fp8 && i < no; i++) o[i] *= v_scale, mag[i] *= v_scale;
    int ok = matches_mag_tol(r, "o", o, mag, no, fp8 ? 0.06 : 0) &&
             (!lse || matches(r, "lse", l, nl));
    free(o);
    free(l);
    free(mag);
    CHECKF(ok, "%s", what);
}

typedef struct acase {
    const char *dtype;
    int d, hq, hkv, causal, bm, bn, lse, cross;
    int64_t batch, seq, skv;
    double scale, softcap;
    const char *alibi;   /* "0", "1", "computed" */
    const char *seqpol;
} acase;

static void attention_run(const acase *c) {
    plist pl;
    params(&pl, "d=%d hq=%d hkv=%d causal=%d dtype=%s block_m=%d block_n=%d seq=%s cross=%d "
                "lse=%d softcap=%g alibi=%s",
           c->d, c->hq, c->hkv, c->causal, c->dtype, c->bm, c->bn,
           c->seqpol ? c->seqpol : "dynamic", c->cross, c->lse, c->softcap, c->alibi ? c->alibi : "0");
    char what[600];
    size_t off = (size_t)snprintf(what, sizeof what, "attention");
    for (int i = 0; i < pl.n && off < sizeof what; i++)
        off += (size_t)snprintf(what + off, sizeof what - off, " %s", pl.p[i]);
    if (off < sizeof what)
        snprintf(what + off, sizeof what - off, " | batch=%lld seq=%lld seq_kv=%lld",
                 (long long)c->batch, (long long)c->seq,
                 (long long)(c->cross ? c->skv : c->seq));
    run r;
    run_init(&r, build("attention", pl.n, pl.p));
    CHECK(r.g);
    CHECK(bind(&r, "batch", c->batch) && bind(&r, "seq", c->seq));
    if (c->cross) CHECK(bind(&r, "seq_kv", c->skv));
    aref a = {c->batch, c->seq, c->cross ? c->skv : c->seq, c->hq, c->hkv, c->d, c->scale,
              c->causal, c->softcap, NULL, 0, 1, NULL};
    double slopes[64];
    if (c->alibi && !strcmp(c->alibi, "1")) {
        CHECK(input(&r, "slopes", 0.05, 1));
        memcpy(slopes, in_vals(&r, "slopes"), (size_t)c->hq * sizeof(double));
        a.slopes = slopes;
    } else if (c->alibi && !strcmp(c->alibi, "computed")) {
        for (int h = 0; h < c->hq; h++) slopes[h] = pow(2.0, -8.0 * (h + 1) / c->hq);
        a.slopes = slopes;
    }
    attention_check(&r, &a, what);
    run_free(&r);
}

/* ---- attention ------------------------------------------------------ */

TEST(test_attention_matches_reference_at_lengths_1_17_1000) {
    acase cs[] = {
        {"f32", 64, 2, 2, 0, 16, 16, 1, 0, 2, 1, 0, 0.7, 0, 0, 0},
        {"f32", 64, 2, 2, 0, 16, 16, 1, 0, 2, 17, 0, 0.7, 0, 0, 0},
        {"bf16", 128, 2, 2, 0, 32, 16, 0, 0, 1, 17, 0, 0.3, 0, 0, "pow2"},
        {"f32", 64, 1, 1, 0, 128, 64, 1, 0, 1, 1000, 0, 0.5, 0, 0, "multiple64"},
        {"bf16", 64, 1, 1, 0, 64, 32, 0, 0, 1, 1000, 0, 0.5, 0, 0, "exact"},
        {"bf16", 128, 1, 1, 0, 128, 176, 1, 0, 1, 1000, 0, 0.3, 0, 0, 0},
        /* fp8 (e4m3 q, k, v; bf16 o; p . v on p rounded to e4m3) */
        {"f8e4m3", 64, 2, 1, 0, 64, 32, 1, 0, 2, 17, 0, 0.5, 0, 0, 0},
        {"f8e4m3", 128, 1, 1, 1, 128, 128, 0, 0, 1, 1000, 0, 0.3, 0, 0, 0},
        {"f8e4m3", 64, 1, 1, 1, 192, 128, 1, 0, 1, 1000, 0, 0.5, 30, "computed", 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_attention_causal_stops_at_the_diagonal) {
    acase cs[] = {
        {"f32", 64, 2, 2, 1, 16, 16, 1, 0, 1, 1, 0, 0.7, 0, 0, 0},
        {"f32", 64, 2, 2, 1, 32, 16, 1, 0, 2, 17, 0, 0.7, 0, 0, 0},
        {"f32", 64, 2, 2, 1, 16, 32, 1, 0, 1, 50, 0, 0.7, 0, 0, 0},
        {"f16", 64, 1, 1, 1, 64, 32, 1, 0, 1, 1000, 0, 0.4, 0, 0, "exact"},
        /* 192 rows (three warpgroups on Hopper): the diagonal crosses
         * key tiles at different offsets from one q tile to the next */
        {"bf16", 64, 1, 1, 1, 192, 128, 1, 0, 1, 500, 0, 0.4, 0, 0, 0},
        /* key tiles of 80 and 48 (multiples of 16, not powers of two):
         * no q tile's diagonal falls on a key tile's edge */
        {"bf16", 256, 1, 1, 1, 128, 80, 1, 0, 1, 300, 0, 0.1, 0, 0, 0},
        {"f32", 64, 2, 1, 1, 32, 48, 0, 0, 1, 101, 0, 0.6, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_attention_gqa_q_heads_read_their_group_kv_head) {
    acase cs[] = {
        {"f32", 64, 4, 2, 0, 16, 16, 0, 0, 2, 17, 0, 0.7, 0, 0, 0},
        {"bf16", 64, 6, 2, 1, 16, 16, 1, 0, 1, 33, 0, 0.7, 0, 0, 0},
        {"f16", 256, 4, 1, 1, 16, 16, 0, 0, 1, 19, 0, 0.2, 0, 0, 0},
        {"bf16", 128, 2, 1, 1, 64, 64, 1, 0, 1, 1000, 0, 0.3, 0, 0, "pow2"},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_attention_cross_lengths_causal_aligns_bottom_right) {
    acase cs[] = {
        /* a longer kv: every query sees the kv prefix plus its diagonal */
        {"f32", 64, 2, 1, 1, 16, 16, 1, 1, 1, 17, 40, 0.7, 0, 0, 0},
        /* a longer q: the first queries see no key (o = 0, lse = -inf) */
        {"f32", 64, 2, 2, 1, 16, 16, 1, 1, 2, 40, 17, 0.7, 0, 0, 0},
        {"bf16", 64, 2, 2, 0, 32, 16, 1, 1, 1, 1, 33, 0.7, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_attention_large_scores_rescale_online) {
    /* Scores of +-30 and more: the running max moves tile to tile. */
    acase c = {"f32", 64, 1, 1, 0, 16, 16, 1, 0, 1, 70, 0, 12.0, 0, 0, 0};
    attention_run(&c);
}

TEST(test_attention_softcap_matches_reference) {
    acase cs[] = {
        {"f32", 64, 2, 2, 0, 16, 16, 1, 0, 1, 17, 0, 2.0, 5.0, 0, 0},
        {"bf16", 64, 2, 1, 1, 32, 16, 0, 0, 1, 40, 0, 3.0, 30.0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

TEST(test_attention_alibi_from_tensor_and_computed) {
    acase cs[] = {
        {"f32", 64, 2, 2, 0, 16, 16, 1, 0, 1, 17, 0, 0.7, 0, "1", 0},
        {"f32", 64, 4, 2, 1, 16, 16, 1, 0, 1, 33, 0, 0.7, 0, "computed", 0},
        {"f32", 64, 2, 2, 1, 16, 16, 0, 0, 1, 20, 0, 0.7, 8.0, "1", 0}, /* both mods */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        attention_run(&cs[i]);
        if (harness_failed_now) return;
    }
}

/* ---- the C hook ----------------------------------------------------- */

/* A sliding window (i - j < window) and a per-head temperature read from
 * a scalar argument the setup declares. */
typedef struct window_mod {
    int window;
    tj_val temp;
} window_mod;

static tj_status window_setup(tj_graph *g, tj_val head, void *user) {
    window_mod *w = user;
    tj_val t = tj_scalar_arg(g, "temp", TJ_F32);
    tj_val per_head = tj_fma(g, tj_cast(g, head, TJ_F32), tj_const(g, TJ_F32, 0.25),
                             tj_const(g, TJ_F32, 1));
    w->temp = tj_mul(g, t, per_head);
    return tj_graph_status(g);
}

static tj_val window_mod_fn(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head,
                            void *user) {
    window_mod *w = user;
    (void)head;
    tj_val near = tj_binary(g, TJ_LT, tj_sub(g, q_idx, k_idx), tj_const(g, TJ_I32, w->window));
    return tj_where(g, near, tj_mul(g, s, w->temp), tj_const(g, TJ_F32, -INFINITY));
}

TEST(test_attention_hook_puts_a_custom_score_mod_in_the_graph) {
    int64_t seqs[] = {1, 17, 100};
    for (int i = 0; i < 3; i++) {
        window_mod wm = {5, TJ_NONE};
        tj_attention_params p;
        tj_attention_params_init(&p);
        p.head_dim = 64;
        p.num_q_heads = 2;
        p.num_kv_heads = 1;
        p.block_m = 16;
        p.block_n = 16;
        p.dtype = TJ_F32;
        p.lse = 1;
        p.score_mod = window_mod_fn;
        p.score_setup = window_setup;
        p.user = &wm;
        run r;
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_attention(&p, &g));
        run_init(&r, g);
        CHECK(tj_num_scalars(g) == 2 && !strcmp(tj_scalar_name(g, 1), "temp"));
        CHECK(bind(&r, "batch", 1) && bind(&r, "seq", seqs[i]));
        aref a = {1, seqs[i], seqs[i], 2, 1, 64, 0.7, 0, 0, NULL, wm.window, 1.5, NULL};
        r.scalars[1] = a.temp;
        attention_check(&r, &a, "attention with a sliding-window hook");
        run_free(&r);
        if (harness_failed_now) return;
    }
}

static tj_val wrong_shape_mod(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head,
                              void *user) {
    (void)s, (void)k_idx, (void)head, (void)user;
    return tj_cast(g, q_idx, TJ_F32); /* [block_m, 1], not [block_m, block_n] */
}

TEST(test_attention_hook_returning_a_wrong_shape_is_an_error) {
    tj_attention_params p;
    tj_attention_params_init(&p);
    p.block_m = 64;
    p.block_n = 32;
    p.score_mod = wrong_shape_mod;
    tj_graph *g = (tj_graph *)1;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG,
              "score_mod must return f32[64,32], not f32[64,1]");
    CHECK(g == NULL);
}

TEST(test_attention_params_are_checked) {
    tj_attention_params p;
    tj_graph *g;
    tj_attention_params_init(&p);
    p.head_dim = 80;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "head_dim 80");
    tj_attention_params_init(&p);
    p.num_kv_heads = 3;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "must divide num_q_heads");
    tj_attention_params_init(&p);
    p.block_n = 40;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "block_n 40");
    tj_attention_params_init(&p);
    p.block_n = 272;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "block_n 272");
    tj_attention_params_init(&p);
    p.block_m = 96;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "block_m 96");
    tj_attention_params_init(&p);
    p.dtype = TJ_I32;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "dtype i32");
    tj_attention_params_init(&p);
    p.seq_policy = TJ_BUCKET_MULTIPLE;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "seq_bucket");
    CHECK_ERR(tj_recipe_attention(NULL, &g), TJ_ERR_INVALID_ARG, "params is NULL");
    tj_attention_params_init(&p);
    p.name = "my_attention";
    CHECK_OK(tj_recipe_attention(&p, &g));
    CHECK(!strcmp(tj_graph_name(g), "my_attention"));
    tj_graph_free(g);
}

/* ---- tiles by length ------------------------------------------------- */

/* tj_recipe_attention_by_length: the graphs, their tiles, the bounds, and
 * that each graph computes attention (the reference at a ragged length). */
TEST(test_attention_by_length_gives_the_tiles_for_each_range) {
    static const struct {
        int d, causal, bm, bn, n;
        int64_t upto;
        const char *tile0, *tile1;   /* a tile type each graph's text has */
    } cs[] = {
        {64, 1, 0, 0, 2, 1024, "[128,64]", "[192,64]"},    /* 128 query rows up to 1024, then 192 */
        {256, 0, 0, 0, 2, 1024, "[64,256]", "[80,256]"},   /* 64 keys up to 1024, then 80 */
        {256, 1, 128, 0, 2, 1024, "[64,256]", "[80,256]"},
        {128, 0, 0, 0, 2, 4096, "[128,128]", "[176,128]"}, /* full d 128: 128 keys, then 176 */
        {128, 0, 128, 0, 2, 4096, "[128,128]", "[176,128]"},
        {64, 0, 0, 0, 1, 0, "[192,64]", NULL},          /* full d 64: 192 rows at every length */
        {64, 1, 128, 0, 1, 0, "[128,64]", NULL},        /* block_m asked for: kept */
        {128, 1, 0, 0, 1, 0, "[128,128]", NULL},        /* causal d 128: one tile */
        {128, 0, 64, 0, 1, 0, "[64,128]", NULL},        /* 176 keys only under 128 rows */
        {256, 0, 0, 64, 1, 0, "[64,256]", NULL},        /* block_n asked for: kept */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0] && !harness_failed_now; i++) {
        tj_attention_params p;
        tj_attention_params_init(&p);
        p.head_dim = cs[i].d, p.causal = cs[i].causal, p.num_q_heads = p.num_kv_heads = 1;
        p.block_m = cs[i].bm, p.block_n = cs[i].bn, p.dtype = TJ_F32;
        tj_graph *gs[2] = {NULL, NULL};
        int64_t upto[1] = {-1};
        int n = -1;
        CHECK_OK(tj_recipe_attention_by_length(&p, gs, upto, &n));
        CHECKF(n == cs[i].n && (n == 1 || upto[0] == cs[i].upto), "case %zu: %d graphs, upto %lld", i,
               n, (long long)upto[0]);
        for (int j = 0; j < n && j < 2; j++) {
            char *text = NULL;
            CHECK_OK(tj_graph_print(gs[j], &text));
            const char *want = j ? cs[i].tile1 : cs[i].tile0;
            CHECKF(strstr(text, want), "case %zu graph %d: no %s tile", i, j, want);
            free(text);
            run r;
            run_init(&r, gs[j]);
            CHECK(bind(&r, "batch", 1) && bind(&r, "seq", 77));
            aref a = {1, 77, 77, 1, 1, cs[i].d, 0.4, cs[i].causal, 0, NULL, 0, 1, NULL};
            attention_check(&r, &a, "by length");
            run_free(&r);   /* frees gs[j] */
        }
    }
    tj_attention_params p;
    tj_attention_params_init(&p);
    tj_graph *gs[2];
    int64_t upto[1];
    int n;
    CHECK_ERR(tj_recipe_attention_by_length(&p, NULL, upto, &n), TJ_ERR_INVALID_ARG,
              "graphs is NULL");
    p.head_dim = 96;
    CHECK_ERR(tj_recipe_attention_by_length(&p, gs, upto, &n), TJ_ERR_INVALID_ARG, "head_dim 96");
}

/* The text form: tj_recipe_build_by_length gives the same graphs as the
 * C parameters (builtin modifiers in both), one graph elsewhere. */
TEST(test_attention_by_length_from_text_matches_the_params) {
    const char *argv[] = {"d=256", "hq=2", "hkv=2", "softcap=30"};
    tj_graph *gs[2] = {NULL, NULL};
    int64_t upto[1] = {0};
    const char *sym = "unset";
    int n = 0;
    CHECK_OK(tj_recipe_build_by_length("attention", 4, argv, gs, upto, &sym, &n));
    CHECK(n == 2 && upto[0] == 1024 && sym && !strcmp(sym, "seq"));
    for (int j = 0; j < n && j < 2; j++) {
        char *text = NULL;
        CHECK_OK(tj_graph_print(gs[j], &text));
        CHECKF(strstr(text, j ? "[80,256]" : "[64,256]") && strstr(text, "tanh"),
               "graph %d: the tile or the softcap is missing", j);
        free(text);
        /* the one-graph recipe at the same tile is the same graph */
        const char *one[5] = {"d=256", "hq=2", "hkv=2", "softcap=30", j ? "block_n=80" : "block_n=64"};
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build("attention", 5, one, &g));
        char h1[65], h2[65];
        CHECK_OK(tj_graph_hash(gs[j], h1));
        CHECK_OK(tj_graph_hash(g, h2));
        CHECKF(!strcmp(h1, h2), "graph %d differs from the recipe at its tile", j);
        tj_graph_free(g);
        tj_graph_free(gs[j]);
    }
    /* d 128 full: 176 keys above 4096, but not under a modifier */
    const char *d128[] = {"d=128", "hkv=8", "softcap=30"};
    CHECK_OK(tj_recipe_build_by_length("attention", 2, d128, gs, upto, &sym, &n));
    CHECK(n == 2 && upto[0] == 4096);
    for (int j = 0; j < n && j < 2; j++) tj_graph_free(gs[j]);
    CHECK_OK(tj_recipe_build_by_length("attention", 3, d128, gs, upto, &sym, &n));
    CHECK(n == 1 && sym == NULL);
    tj_graph_free(gs[0]);
    const char *rms[] = {"dtype=f32"};
    CHECK_OK(tj_recipe_build_by_length("rmsnorm", 1, rms, gs, upto, &sym, &n));
    CHECK(n == 1 && sym == NULL);
    tj_graph_free(gs[0]);
    CHECK_ERR(tj_recipe_build_by_length("attention", 1, (const char *[]){"block_m=100"}, gs, upto,
                                        &sym, &n),
              TJ_ERR_INVALID_ARG, "block_m");
    CHECK_ERR(tj_recipe_build_by_length("nope", 0, NULL, gs, upto, &sym, &n), TJ_ERR_INVALID_ARG,
              "unknown recipe");
    CHECK_ERR(tj_recipe_build_by_length("attention", 0, NULL, gs, upto, NULL, &n),
              TJ_ERR_INVALID_ARG, "symbol is NULL");
}

/* ---- decode --------------------------------------------------------- */

static void decode_run(const char *dtype, int d, int hq, int hkv, int bn, int64_t batch,
                       int64_t kv_len, const int64_t *lens) {
    plist pl;
    params(&pl, "d=%d hq=%d hkv=%d dtype=%s block_n=%d lens=%d", d, hq, hkv, dtype, bn,
           lens != NULL);
    run r;
    run_init(&r, build("decode", pl.n, pl.p));
    CHECK(r.g);
    CHECK(bind(&r, "batch", batch) && bind(&r, "kv_len", kv_len));
    if (lens) {
        double lv[8];
        for (int64_t b = 0; b < batch; b++) lv[b] = (double)lens[b];
        CHECK(input_vals(&r, "kv_lens", lv));
    }
    aref a = {batch, 1, kv_len, hq, hkv, d, harness_uniform(0.3, 1.5), 0, 0, NULL, 0, 1, lens};
    char what[160];
    snprintf(what, sizeof what, "decode %s d=%d hq=%d hkv=%d block_n=%d batch=%lld kv_len=%lld%s",
             dtype, d, hq, hkv, bn, (long long)batch, (long long)kv_len, lens ? " lens=1" : "");
    attention_check(&r, &a, what);
    run_free(&r);
}

TEST(test_decode_matches_reference_at_cache_lengths_1_17_1000) {
    decode_run("f32", 64, 4, 1, 16, 2, 1, NULL);
    if (harness_failed_now) return;
    decode_run("f32", 64, 2, 2, 16, 2, 17, NULL);
    if (harness_failed_now) return;
    decode_run("bf16", 128, 8, 2, 64, 1, 1000, NULL);
    if (harness_failed_now) return;
    decode_run("f16", 64, 3, 1, 32, 1, 999, NULL);
    if (harness_failed_now) return;
    decode_run("f32", 256, 4, 4, 16, 3, 17, NULL);
}

TEST(test_decode_per_sequence_lengths_mask_the_cache) {
    /* 0 keys gives o = 0; a length past the cache is clipped to it. */
    int64_t lens[4] = {40, 17, 0, 55};
    decode_run("f32", 64, 4, 2, 16, 4, 40, lens);
    if (harness_failed_now) return;
    int64_t one[2] = {1, 33};
    decode_run("bf16", 64, 2, 1, 32, 2, 33, one);
}

int main(void) { return harness_main(); }
