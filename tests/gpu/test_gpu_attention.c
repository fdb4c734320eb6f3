/*
 * test_gpu_attention.c — the attention_sm90 schedule on a device against
 * the CPU interpreter: ragged sequence lengths (1, 17, 100, 1000), causal
 * and not, GQA, head dims 64 and 128, bf16 and f16 (and fp8 with v
 * transposed, d 64 to 256, up to 4097), softcap and ALiBi, a
 * user's score_mod, through tj_kernel as users run it (the test checks
 * the dispatcher picks attention_sm90). SKIPs without a device or NVRTC.
 */
#include "gpu_harness.h"
#include "attention_sm90.h"
#include "attn_edits.h"
#include "kernel_int.h"
#include "schedule.h"
#include "templates.h"

/* The user hook of the CPU test: a distance penalty and a window. */
static tj_val window_mod(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head,
                         void *user) {
    (void)user;
    (void)head;
    tj_val d = tj_sub(g, q_idx, k_idx);
    tj_val pen = tj_mul(g, tj_unary(g, TJ_ABS, tj_cast(g, d, TJ_F32)), tj_const(g, TJ_F32, 0.01));
    return tj_where(g, tj_binary(g, TJ_GT, d, tj_const(g, TJ_I32, 300)), tj_const(g, TJ_F32, -INFINITY),
                    tj_sub(g, s, pen));
}

/* The softmax scale the cases run with. */
static double run_scale = 0.088;

/* NaN in every element of b outside tensor t's view (its dims walked by
 * its strides): a kernel that reads past the view gives NaN. */
static void nan_outside_view(const tj_graph *g, tj_tensor t, const int64_t *vals, gpu_buf *b) {
    int64_t d[TJ_MAX_RANK], st[TJ_MAX_RANK], idx[TJ_MAX_RANK] = {0};
    int r = tj_tensor_rank(g, t);
    CHECK_OK(tj_tensor_shape(g, t, vals, d, st));
    char *in = calloc(b->n, 1);
    CHECK(in && r >= 1);
    if (!in || r < 1) {
        free(in);
        return;
    }
    for (;;) {
        int64_t off = 0;
        for (int a = 0; a < r; a++) off += idx[a] * st[a];
        if (off >= 0 && (size_t)off < b->n) in[off] = 1;
        int a = r - 1;
        while (a >= 0 && ++idx[a] == d[a]) idx[a--] = 0;
        if (a < 0) break;
    }
    size_t es = tj_dtype_size(b->dtype);
    double nan = NAN;
    for (size_t i = 0; i < b->n; i++)
        if (!in[i]) tj_convert(b->dtype, (char *)b->host + i * es, TJ_F64, &nan, 1);
    free(in);
    CHECK_OK(gpu_buf_upload(b));
}

/* Graphs gs[0..n-1] as one kernel by sequence length (graph i serves
 * lengths up to upto[i]; tj_kernel_create_by_symbol) at several lengths:
 * o (and lse) from the device against the interpreter running the graph
 * that serves the length, both poisoned first. */
static void run_by(tj_graph **gs, int n, const int64_t *upto, const char *what,
                   const int64_t *lens, size_t nlens, int64_t batch) {
    for (int i = 0; i < n; i++)
        for (int t = 0; t < tj_num_tensors(gs[i]); t++)
            tj_tensor_set_align(gs[i], (tj_tensor){t}, 16);
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create_by_symbol((const tj_graph *const *)gs, n, "seq", upto, &o, &k));
    if (!k) return;
    for (size_t li = 0; li < nlens; li++) {
        int gi = 0;
        while (gi + 1 < n && lens[li] > upto[gi]) gi++;
        tj_graph *g = gs[gi];
        int64_t vals[8];
        for (int i = 0; i < tj_num_symbols(g) && i < 8; i++) {
            const char *n = tj_symbol_name(g, (tj_sym){i});
            vals[i] = !strcmp(n, "batch") ? batch : !strcmp(n, "seq_kv") ? lens[li] + 37 : lens[li];
        }
        /* vt's strides (v_layout=t): rows past seq_kv's multiple of 16,
         * heads and batches further apart than that */
        if (tj_find_symbol(g, "kv_cap").id >= 0) {
            int skv = tj_find_symbol(g, "seq_kv").id;
            int64_t cap = ((skv >= 0 ? vals[skv] : lens[li]) + 15) / 16 * 16 + 16;
            tj_tensor vt = {-1};
            for (int t = 0; t < tj_num_tensors(g); t++)
                if (!strcmp(tj_tensor_name(g, (tj_tensor){t}), "vt")) vt.id = t;
            int r = tj_tensor_rank(g, vt);
            int64_t hs = tj_tensor_dim(g, vt, r - 2) * cap + 16;
            vals[tj_find_symbol(g, "kv_cap").id] = cap;
            vals[tj_find_symbol(g, "vt_hstride").id] = hs;
            if (tj_find_symbol(g, "vt_bstride").id >= 0)
                vals[tj_find_symbol(g, "vt_bstride").id] = tj_tensor_dim(g, vt, 1) * hs + 32;
        }
        int nt = tj_num_tensors(g);
        gpu_buf buf[8];
        void *ref[8];
        uint64_t ptrs[8];
        for (int t = 0; t < nt; t++) {
            const char *n = tj_tensor_name(g, (tj_tensor){t});
            tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
            int64_t e = 0;
            CHECK_OK(tj_tensor_extent(g, (tj_tensor){t}, vals, &e));
            if (!strcmp(n, "o") || !strcmp(n, "lse")) {
                CHECK_OK(gpu_buf_poison(&buf[t], dt, (size_t)e));
            } else if (!strcmp(n, "slopes")) {
                CHECK_OK(gpu_buf_random(&buf[t], dt, (size_t)e, 0, 0.5));
            } else {
                CHECK_OK(gpu_buf_random(&buf[t], dt, (size_t)e, -1, 1));
                if (!strcmp(n, "vt")) nan_outside_view(g, (tj_tensor){t}, vals, &buf[t]);
            }
            ref[t] = malloc(gpu_buf_bytes(&buf[t]));
            memcpy(ref[t], buf[t].host, gpu_buf_bytes(&buf[t]));
            ptrs[t] = buf[t].dev;
        }
        /* the dispatcher's pick, as the runtime makes it */
        char *src = NULL;
        CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &src));
        CHECKF(src && !strncmp(src, "// schedule: attention_sm90", 27), "%s seq %lld: %.200s", what,
               (long long)lens[li], src ? src : "");
        tj_free(src);
        double scale[2] = {run_scale, 0.75};   /* fp8's v_scale second */
        CHECK_OK(tj_interp_run(g, vals, ref, scale, 0));
        tj_status st = tj_kernel_launch(k, ptrs, scale, vals, NULL);
        CHECKF(st == TJ_OK, "%s seq %lld: launch: %s", what, (long long)lens[li], tj_last_error());
        CHECK_OK(drv_context_sync());
        for (int t = 0; t < nt; t++) {
            const char *tn = tj_tensor_name(g, (tj_tensor){t});
            if (strcmp(tn, "o") && strcmp(tn, "lse")) continue;
            CHECK_OK(gpu_buf_download(&buf[t]));
            size_t es = tj_dtype_size(buf[t].dtype);
            int bad = 0;
            for (size_t i = 0; i < buf[t].n && bad < 3; i++) {
                double got = 0, want = 0;
                tj_convert(TJ_F64, &got, buf[t].dtype, (const char *)buf[t].host + i * es, 1);
                tj_convert(TJ_F64, &want, buf[t].dtype, (const char *)ref[t] + i * es, 1);
                if ((isnan(got) && isnan(want)) || got == want) continue;
                if (!(fabs(got - want) <= 2 * gpu_tolerance(buf[t].dtype) * (fabs(want) + 1))) {
                    fprintf(stderr, "  %s seq %lld: %s[%zu] = %g, interpreter %g\n", what,
                            (long long)lens[li], tn, i, got, want);
                    bad++;
                }
            }
            CHECKF(bad == 0, "%s seq %lld: %s", what, (long long)lens[li], tn);
        }
        for (int t = 0; t < nt; t++) {
            gpu_buf_free(&buf[t]);
            free(ref[t]);
        }
    }
    tj_kernel_stats ks;
    CHECK_OK(tj_kernel_stats_get(k, &ks));
    CHECKF(n == 1 || ks.specializations >= n, "%s: %d specializations for %d graphs", what,
           ks.specializations, n);
    tj_kernel_destroy(k);
}

static void run_at(tj_graph *g, const char *what, const int64_t *lens, size_t nlens, int64_t batch) {
    run_by(&g, 1, NULL, what, lens, nlens, batch);
}

static void run(tj_graph *g, const char *what) {
    static const int64_t lens[] = {1, 17, 100, 1000};
    run_at(g, what, lens, sizeof lens / sizeof *lens, 2);
}

/* The attention recipe with its parameters as one string ("d=64 causal=1"). */
static tj_graph *attention(const char *cfg) {
    const char *argv[16];
    char buf[256];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", cfg);
    for (char *s = strtok(buf, " "); s && n < 16; s = strtok(NULL, " ")) argv[n++] = s;
    tj_graph *g = NULL;
    if (tj_recipe_build("attention", n, argv, &g) != TJ_OK) fprintf(stderr, "  '%s': %s\n", cfg, tj_last_error());
    return g;
}

#define REQUIRE_SM90()                                                                   \
    do {                                                                                 \
        drv_device dev_;                                                                 \
        GPU_REQUIRE_DEVICE(&dev_);                                                       \
        if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error()); \
        if (strcmp(dev_.arch, "sm_90a")) SKIP("attention_sm90 needs sm_90a; this is %s", dev_.arch); \
    } while (0)

TEST(test_gpu_attention_sm90_recipe_variants_match_interpreter) {
    REQUIRE_SM90();
    static const char *cfgs[] = {
        "d=128 causal=0 hq=4 hkv=4",
        "d=128 causal=1 hq=8 hkv=2",
        "d=64 causal=1 hq=4 hkv=1",
        "d=64 causal=0 dtype=f16",
        "d=128 causal=1 softcap=30",
        "d=64 alibi=1 causal=1 hq=4 hkv=2",
        "d=128 alibi=computed softcap=50 hq=8 hkv=4",
        "d=128 causal=1 cross=1 hq=4 hkv=2",
        "d=128 block_m=64 causal=1",
        "d=128 block_n=128 causal=1 dtype=f16",
        "d=128 lse=1 causal=1 hq=4 hkv=2",
        "d=64 lse=1 block_m=64",
        "d=64 block_m=192",
        "d=64 block_m=192 causal=1 hq=4 hkv=2 lse=1",
        "d=256 block_n=80",
        "d=256 block_n=80 causal=1 hq=4 hkv=2 softcap=30",
        "d=128 block_n=176",
        "d=128 block_n=176 causal=1 dtype=f16 lse=1",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        tj_graph *g = attention(cfgs[i]);
        CHECKF(g, "'%s'", cfgs[i]);
        if (!g) return;
        run(g, cfgs[i]);
        tj_graph_free(g);
    }
}

TEST(test_gpu_attention_sm90_user_score_mod_matches_interpreter) {
    REQUIRE_SM90();
    tj_attention_params p;
    tj_attention_params_init(&p);
    p.causal = 1;
    p.num_q_heads = 4;
    p.num_kv_heads = 2;
    p.score_mod = window_mod;
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_attention(&p, &g));
    if (!g) return;
    run(g, "window score_mod");
    tj_graph_free(g);
}

/* A long ragged length: many KV trips through both loops, so the
 * pipelined loop's pending product crosses trips and loops. One head,
 * one sequence: the interpreter's side stays a few seconds. */
TEST(test_gpu_attention_sm90_long_ragged_sequence_matches_interpreter) {
    REQUIRE_SM90();
    static const char *cfgs[] = {"d=64 causal=0 hq=1 hkv=1", "d=64 causal=1 hq=1 hkv=1"};
    static const int64_t lens[] = {4097};
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        tj_graph *g = attention(cfgs[i]);
        CHECKF(g, "'%s'", cfgs[i]);
        if (!g) return;
        run_at(g, cfgs[i], lens, 1, 1);
        tj_graph_free(g);
    }
}

/* Loops that read the accumulator are not pipelined (attn_edits.h); the
 * kernel mixes such a loop with a pipelined one. */
TEST(test_gpu_attention_sm90_loops_reading_the_accumulator_match_interpreter) {
    REQUIRE_SM90();
    for (int i = 0; i < ATTN_EDITS; i++) {
        tj_graph *g = attn_edited(i);
        CHECKF(g, "edit %d", i);
        if (!g) continue;
        char what[32];
        snprintf(what, sizeof what, "accumulator edit %d", i);
        run(g, what);
        tj_graph_free(g);
    }
}

/* More programs than blocks: each block walks several q tiles, so the
 * next tile's q loads while this one finishes (as_q_early), through a
 * loop with trips (length 130: a ragged kv tile) and without (256);
 * causal: pairs of q tiles (j, last - j), the middle one alone at an odd
 * count (300: 3 q tiles). */
TEST(test_gpu_attention_sm90_blocks_walking_many_programs_match_interpreter) {
    REQUIRE_SM90();
    static const struct {
        const char *cfg;
        int64_t lens[2];
    } cases[] = {
        {"d=128 causal=0 hq=32 hkv=8", {130, 256}},
        {"d=64 causal=0 hq=32 hkv=32 lse=1", {130, 256}},
        {"d=128 causal=1 hq=32 hkv=8", {300, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tj_graph *g = attention(cases[i].cfg);
        CHECKF(g, "'%s'", cases[i].cfg);
        if (!g) return;
        run_at(g, cases[i].cfg, cases[i].lens, cases[i].lens[1] ? 2 : 1, 5);
        tj_graph_free(g);
    }
}

/* The scale is an argument: the kernel's row max of the scaled scores
 * takes another path when it is not positive (scale_fold). */
TEST(test_gpu_attention_sm90_zero_and_negative_scales_match_interpreter) {
    REQUIRE_SM90();
    static const double scales[] = {-0.06, 0.0};
    static const int64_t lens[] = {100, 257};
    for (size_t i = 0; i < sizeof scales / sizeof *scales; i++) {
        tj_graph *g = attention("d=128 hq=2 hkv=2");
        CHECK(g);
        if (!g) return;
        char what[64];
        snprintf(what, sizeof what, "scale %g", scales[i]);
        run_scale = scales[i];
        run_at(g, what, lens, sizeof lens / sizeof *lens, 2);
        run_scale = 0.088;
        tj_graph_free(g);
    }
}

/* tj_recipe_attention_by_length's graphs as one kernel: lengths on both
 * sides of the bound run the graph serving them (d 64 causal: 128 query
 * rows with pairs of tiles, then 192; d 256: 64 keys, then 80; d 128
 * full: 128 keys, then 176). */
TEST(test_gpu_attention_sm90_tiles_by_length_match_interpreter) {
    REQUIRE_SM90();
    static const struct { int d, causal; int64_t lens[3]; } cs[] = {
        {64, 1, {1000, 1024, 1100}},
        {256, 0, {600, 1025, 0}},
        {128, 0, {600, 4097, 0}},
    };
    for (int i = 0; i < 3 && !harness_failed_now; i++) {
        tj_attention_params p;
        tj_attention_params_init(&p);
        p.head_dim = cs[i].d, p.causal = cs[i].causal, p.num_q_heads = p.num_kv_heads = 2;
        tj_graph *gs[2] = {NULL, NULL};
        int64_t upto[1];
        int n = 0;
        CHECK_OK(tj_recipe_attention_by_length(&p, gs, upto, &n));
        CHECK(n == 2);
        char what[64];
        snprintf(what, sizeof what, "by length d %d%s", cs[i].d, cs[i].causal ? " causal" : "");
        run_by(gs, n, upto, what, cs[i].lens, cs[i].lens[2] ? 3 : 2, 1);
        for (int j = 0; j < n; j++) tj_graph_free(gs[j]);
    }
}

/* fp8 (e4m3 q, k and v transposed; p rounded to e4m3; bf16 o): the e4m3
 * products, p packed from the accumulator and vt's permuted keys, at
 * head dims 64, 128 and 256, causal and not, GQA, one consumer
 * warpgroup (not pipelined), three (192 rows), lse, cross lengths; a
 * long ragged sequence through both loops. */
TEST(test_gpu_attention_sm90_fp8_matches_interpreter) {
    REQUIRE_SM90();
    static const char *cfgs[] = {
        "dtype=f8e4m3 v_layout=t d=128 causal=0 hq=4 hkv=2",
        "dtype=f8e4m3 v_layout=t d=128 causal=1 hq=4 hkv=1 lse=1",
        "dtype=f8e4m3 v_layout=t d=64 causal=1 hq=4 hkv=2",
        "dtype=f8e4m3 v_layout=t d=64 causal=0 block_m=128 block_n=64",
        "dtype=f8e4m3 v_layout=t d=256 causal=0 hq=2 hkv=2",
        "dtype=f8e4m3 v_layout=t d=256 causal=1 hq=2 hkv=1 softcap=30",
        "dtype=f8e4m3 v_layout=t d=128 block_m=64 causal=1",
        "dtype=f8e4m3 v_layout=t d=128 cross=1 causal=1 hq=2 hkv=1",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs && !harness_failed_now; i++) {
        tj_graph *g = attention(cfgs[i]);
        CHECKF(g, "'%s'", cfgs[i]);
        if (!g) return;
        run(g, cfgs[i]);
        tj_graph_free(g);
    }
    static const char *longs[] = {"dtype=f8e4m3 v_layout=t d=128 causal=0 hq=1 hkv=1",
                                  "dtype=f8e4m3 v_layout=t d=128 causal=1 hq=1 hkv=1",
                                  "dtype=f8e4m3 v_layout=t d=64 causal=1 hq=1 hkv=1"};
    static const int64_t lens[] = {4097};
    for (size_t i = 0; i < sizeof longs / sizeof *longs && !harness_failed_now; i++) {
        tj_graph *g = attention(longs[i]);
        CHECKF(g, "'%s'", longs[i]);
        if (!g) return;
        run_at(g, longs[i], lens, 1, 1);
        tj_graph_free(g);
    }
}

/* The schedule's knobs, to run every case another way: TJ_TEST_O_SMEM
 * 0 / 1 (as_o_smem; unset: the default), TJ_TEST_Q_LATE=1 (as_q_early
 * off), TJ_TEST_CAUSAL_GRAPH=1 (as_causal_pairs off). */
int main(void) {
    const char *e = getenv("TJ_TEST_O_SMEM");
    if (e && *e) as_o_smem = strcmp(e, "0") != 0;
    e = getenv("TJ_TEST_Q_LATE");
    if (e && *e && strcmp(e, "0")) as_q_early = 0;
    e = getenv("TJ_TEST_CAUSAL_GRAPH");
    if (e && *e && strcmp(e, "0")) as_causal_pairs = 0;
    return harness_main();
}
