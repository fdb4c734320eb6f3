/*
 * test_sched_attention.c — the attention_sm90 schedule without a GPU:
 * which graphs it takes (every attention recipe variant: causal, GQA,
 * head dims, dtypes, softcap, ALiBi, a user's score_mod, cross; fp8 with
 * v transposed) and which
 * it declines with a reason (gemm, the rows recipes, decode,
 * misaligned tensors, other targets), and that what it emits
 * compiles with NVRTC for sm_90a with no spills (in a child process:
 * NVRTC 13.0 has crashed on wgmma code). The schedule is not in
 * sched_table yet, so it is called by name. NVRTC tests SKIP when it is
 * missing.
 */
#include "emit.h"
#include "harness.h"
#include "attention_sm90.h"
#include "attn_edits.h"
#include "nvrtc.h"
#include "sched_compile.h"
#include "schedule.h"
#include "templates.h"

static void align16(tj_graph *g) {
    for (int t = 0; t < tj_num_tensors(g); t++) tj_tensor_set_align(g, (tj_tensor){t}, 16);
}

static tj_graph *build(const char *name, const char *params, int aligned) {
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
    /* The recipe declares its tensors 16-byte aligned (what TMA needs and
     * cudaMalloc and torch give); a user graph may keep element alignment. */
    if (aligned) align16(g);
    else
        for (int t = 0; t < tj_num_tensors(g); t++)
            tj_tensor_set_align(g, (tj_tensor){t}, (int)tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){t})));
    return g;
}

/* Symbols bound for a specialization (dynamic ones unbound). */
static void bind(const tj_graph *g, int64_t *vals, int64_t seq) {
    for (int s = 0; s < 16; s++) vals[s] = TJ_UNBOUND;
    tj_sym q = tj_find_symbol(g, "seq");
    if (q.id >= 0) vals[q.id] = seq;
}

/* fp8 attention with v transposed (v_layout=t): what the schedule's e4m3
 * path takes. */
static const char *fp8_variants[] = {
    "dtype=f8e4m3 v_layout=t",
    "dtype=f8e4m3 v_layout=t causal=1 hq=8 hkv=2",
    "dtype=f8e4m3 v_layout=t d=64",
    "dtype=f8e4m3 v_layout=t d=64 causal=1 block_m=128 block_n=64",
    "dtype=f8e4m3 v_layout=t d=256",
    "dtype=f8e4m3 v_layout=t d=256 causal=1 softcap=30",
    "dtype=f8e4m3 v_layout=t varlen=1 causal=1 lse=1",
    "dtype=f8e4m3 v_layout=t cross=1 causal=1 alibi=1",
    "dtype=f8e4m3 v_layout=t block_m=64",
};

static int apply(const tj_graph *g, const char *arch, const int64_t *vals, char **src,
                 emit_launch *L, char *why, size_t size) {
    *src = NULL;
    why[0] = '\0';
    memset(L, 0, sizeof *L);
    tj_status s = sched_attention_sm90(g, arch, vals, src, L, why, size);
    if (s != TJ_OK) {
        snprintf(why, size, "error %s: %s", tj_status_name(s), tj_last_error());
        return -1;
    }
    return *src != NULL;
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
    "causal=1",
    "causal=1 hq=8 hkv=2",
    "hq=16 hkv=1",
    "d=64",
    "d=64 causal=1 block_n=128",
    "d=256",
    "d=256 causal=1 hq=4 hkv=2",
    "dtype=f16",
    "dtype=f16 causal=1 d=64",
    "softcap=30",
    "alibi=1 causal=1",
    "varlen=1",
    "varlen=1 causal=1 cross=1 hq=8 hkv=2",
    "lse=1",
    "lse=1 varlen=1 causal=1 d=64",
    "alibi=computed hq=8 hkv=4",
    "softcap=50 alibi=computed causal=1 d=64",
    "block_m=64",
    "block_m=64 d=256",
    "cross=1 causal=1",
    "seq=exact",
};

TEST(test_attention_recipe_variants_are_taken) {
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        tj_graph *g = build("attention", variants[i], 1);
        CHECKF(g, "%s", variants[i]);
        int64_t vals[16];
        bind(g, vals, 1000);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "'%s': %s", variants[i], why);
        /* packed (varlen) tensors are [total, heads, d]: rank-3 maps and
         * stores masked at the sequence's end */
        int packed = strstr(variants[i], "varlen=1") != NULL;
        CHECKF(strstr(src, "_rs<1>") && strstr(src, packed ? "tma_load_3d" : "tma_load_4d") &&
                   strstr(src, "quad_max"),
               "'%s'", variants[i]);
        CHECKF(!packed || strstr(src, "if (inb && e"), "'%s': the store is not masked", variants[i]);
        /* lse, a [block_m] row vector: one thread of each quad writes a row */
        int lse = strstr(variants[i], "lse=1") != NULL;
        CHECKF(!lse == !strstr(src, "if (inb && qcol == 0"), "'%s': lse store", variants[i]);
        /* o (16-bit, 16-byte aligned, d contiguous): a column pair a
         * store, or 16 bytes a thread through shared memory */
        CHECKF(strstr(src, "st_pair(t_o + at") || strstr(src, "reinterpret_cast<uint4 *>(t_o + at)"),
               "'%s': o stored one element at a time", variants[i]);
        /* a persistent grid walking the graph's programs (passed as
         * ints): uniform work a program at a time, causal bounds a pair
         * of q tiles at a time; packed sequences (trip counts read from
         * cu_seqlens): one block a program in the graph's order */
        int causal = strstr(variants[i], "causal=1") != NULL && !packed;
        /* 192 rows (d 64's auto, 512 threads): causal keeps one block a
         * program, longest first */
        int pairs = causal && L.threads != 512;
        CHECKF(L.grid_mode == (packed || (causal && !pairs) ? EMIT_GRID_GRAPH
                                                            : EMIT_GRID_PERSISTENT),
               "'%s'", variants[i]);
        CHECKF(!pairs == !strstr(src, "pairs of q tiles a head"), "'%s'", variants[i]);
        free(src);
        CHECK(L.grid_arg == 1 && L.smem_bytes <= 227 * 1024);
        int grids = 0;
        for (int p = 0; p < L.nparams; p++) grids += L.params[p].kind == EMIT_PARAM_GRID;
        CHECKF(grids == (packed || (causal && !pairs) ? 0 : 3), "'%s': %d grid ints", variants[i],
               grids);
        /* two or three consumer warpgroups (d 64's auto block_m is 192) */
        CHECK(L.threads == 256 || L.threads == 384 || L.threads == 512);
        int tmaps = 0;
        for (int p = 0; p < L.nparams; p++)
            if (L.params[p].kind == EMIT_PARAM_TENSORMAP) {
                const emit_tmap *t = &L.params[p].tmap;
                CHECK(packed ? t->rank == 3 && t->box[0] == 64 && t->box[1] == 1
                             : t->rank == 4 && t->box[0] == 64 && t->box[1] == 1 && t->box[3] == 1);
                CHECK(t->swizzle == 128);
                tmaps++;
            }
        CHECK(tmaps == 3);
    }
}

TEST(test_attention_gqa_reads_the_kv_head_without_copies) {
    tj_graph *g = build("attention", "causal=1 hq=8 hkv=2", 1);
    CHECK(g);
    int64_t vals[16];
    bind(g, vals, 512);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    /* q head h reads kv head h / 4 (hq / hkv), computed from the graph's
     * own div, not a copy of K/V per q head */
    /* The kv head coordinate of k's loads is h / s where s holds 4. */
    int four = -1, kvh = -1;
    for (const char *l = src; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int a, b, c, end = 0;   /* %n: the whole pattern matched, not just its first %d */
        if (sscanf(l, " const int s%d = 4;%n", &a, &end) == 1 && end > 0) four = a;
        end = 0;
        if (four >= 0 && sscanf(l, " const int s%d = tj::div(s%d, s%d);%n", &a, &b, &c, &end) == 3 &&
            end > 0 && c == four)
            kvh = a;
    }
    char want[64];
    snprintf(want, sizeof want, "(int)(s%d * 1)", kvh);
    const char *kl = strstr(src, "&tm_k,");
    CHECKF(kvh >= 0 && kl && strstr(kl, want) && strstr(kl, want) < strchr(kl, '\n'),
           "k's loads do not take the kv head h / 4 (s%d)", kvh);
    /* the masked loop and the unmasked one: two KV loops, two q.k^T */
    CHECK(strstr(src, "2 KV loops") != NULL);
    free(src);
}

/* A user's score function through tj_recipe_attention's hook: a
 * position-dependent bias from iota indices and the head. */
static tj_val my_mod(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head, void *user) {
    (void)user;
    tj_val d = tj_cast(g, tj_sub(g, q_idx, k_idx), TJ_F32);
    tj_val hb = tj_cast(g, head, TJ_F32);
    tj_val bias = tj_mul(g, tj_unary(g, TJ_ABS, d), tj_const(g, TJ_F32, 0.125));
    tj_val far = tj_binary(g, TJ_GT, tj_sub(g, q_idx, k_idx), tj_const(g, TJ_I32, 256));
    s = tj_sub(g, tj_add(g, s, hb), bias);
    return tj_where(g, far, tj_const(g, TJ_F32, -1e30), s);
}

TEST(test_attention_takes_a_custom_score_mod) {
    tj_attention_params p;
    tj_attention_params_init(&p);
    p.causal = 1;
    p.num_q_heads = 8;
    p.num_kv_heads = 2;
    p.score_mod = my_mod;
    tj_graph *g = NULL;
    tj_status s = tj_recipe_attention(&p, &g);
    CHECKF(s == TJ_OK, "%s", tj_last_error());
    align16(g);
    int64_t vals[16];
    bind(g, vals, 700);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    free(src);
}

/* A score bias that reads the number of q tiles: on the persistent grid
 * that is the graph's grid (a parameter), not the launch's gridDim. */
static tj_val tiles_mod(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head, void *user) {
    (void)q_idx;
    (void)k_idx;
    (void)head;
    (void)user;
    tj_val n = tj_cast(g, tj_num_programs(g, 0), TJ_F32);
    return tj_add(g, s, tj_mul(g, n, tj_const(g, TJ_F32, 1e-3)));
}

TEST(test_attention_num_programs_is_the_graphs_grid_on_a_persistent_launch) {
    tj_attention_params p;
    tj_attention_params_init(&p);
    p.score_mod = tiles_mod;
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_attention(&p, &g));
    if (!g) return;
    align16(g);
    int64_t vals[16];
    bind(g, vals, 700);
    char *src, why[160];
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    CHECKF(r == 1, "%s", why);
    if (r != 1) return;
    CHECK(L.grid_mode == EMIT_GRID_PERSISTENT);
    CHECKF(!strstr(src, "gridDim.x;") && strstr(src, "= grid0;"), "num_programs not from grid0");
    free(src);
}

/* How many KV loops of src are software-pipelined, and how many not. */
static void pipelined(const char *src, int *yes, int *no) {
    *yes = *no = 0;
    for (const char *p = src; (p = strstr(p, "// KV loop ")); p++) {
        const char *colon = strchr(p, ':');
        if (colon && !strncmp(colon, ": pipelined", 11)) ++*yes;
        else ++*no;
    }
}

TEST(test_attention_pipelines_only_loops_that_read_the_accumulator_just_to_scale_it) {
    int64_t vals[16];
    char *src, why[160];
    emit_launch L;
    int yes, no;
    /* the recipe: both loops (unmasked, then the masked tail) */
    tj_graph *g = build("attention", "d=64 block_m=128", 1);
    bind(g, vals, 1000);
    CHECK(apply(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    tj_graph_free(g);
    pipelined(src, &yes, &no);
    CHECKF(yes == 2 && no == 0, "%d pipelined, %d not", yes, no);
    free(src);
    for (int i = 0; i < 2; i++) {
        g = attn_edited(i);
        CHECKF(g, "edit %d did not apply (the recipe's text changed?)", i);
        if (!g) continue;
        bind(g, vals, 1000);
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "edit %d: %s", i, why);
        if (r != 1) continue;
        pipelined(src, &yes, &no);
        CHECKF(yes == 1 && no == 1, "edit %d: %d pipelined, %d not", i, yes, no);
        free(src);
    }
}

/* The lse recipe with its [block_m] row vector doubled before the store. */
static tj_graph *lse_doubled(void) {
    tj_graph *g = build("attention", "lse=1", 1), *out = NULL;
    char *text = NULL;
    if (!g || tj_graph_print(g, &text) != TJ_OK) {
        tj_graph_free(g);
        return NULL;
    }
    tj_graph_free(g);
    char *st = strstr(text, "store lse ["), *val = st ? strstr(st, "], %") : NULL;
    if (val) {
        val += 3;
        int n = (int)strcspn(val, "\n");
        size_t size = strlen(text) + 128;
        char *buf = malloc(size);
        if (buf) {
            snprintf(buf, size, "%.*s%%900 = add %.*s, %.*s : f32[128]\n%.*s%%900%s",
                     (int)(st - text), text, n, val, n, val, (int)(val - st), st, val + n);
            if (tj_graph_parse(buf, strlen(buf), "lse2", &out) != TJ_OK)
                fprintf(stderr, "  lse_doubled: %s\n", tj_last_error());
            free(buf);
        }
    }
    tj_free(text);
    return out;
}

/* e4m3 products (k32) from shared memory and from registers, p packed
 * four to a register, vt's keys permuted by the producer before p . v;
 * tensor maps whose boxes are a swizzled line of bytes: 128 fp8 of d (64
 * at d 64), vt's rows d and its line the tile's keys. */
TEST(test_attention_fp8_with_v_transposed_is_taken) {
    for (size_t i = 0; i < sizeof fp8_variants / sizeof *fp8_variants; i++) {
        const char *cfg = fp8_variants[i];
        tj_graph *g = build("attention", cfg, 1);
        CHECKF(g, "%s", cfg);
        if (!g) continue;
        int64_t vals[16];
        bind(g, vals, 1000);
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        tj_graph_free(g);
        CHECKF(r == 1, "'%s': %s", cfg, why);
        if (r != 1) continue;
        CHECKF(strstr(src, "wgmma_e4m3_m64n") && strstr(src, "k32_rs(") &&
                   strstr(src, "pack_e4m3x4") && strstr(src, "permute_keys16") &&
                   strstr(src, "mbar_wait(bar_vp"),
               "'%s'", cfg);
        CHECKF(!strstr(src, "k16"), "'%s': a 16-bit product", cfg);
        int d = strstr(cfg, "d=64") ? 64 : strstr(cfg, "d=256") ? 256 : 128;
        int bn = strstr(cfg, "block_n=64") || d == 256 ? 64 : 128;
        int k = 0;
        for (int p = 0; p < L.nparams; p++) {
            if (L.params[p].kind != EMIT_PARAM_TENSORMAP) continue;
            const emit_tmap *t = &L.params[p].tmap;
            int line = k < 2 ? (d < 128 ? d : 128) : bn;
            int rows_dim = k < 2 ? 2 : 1;   /* q, k: seq (or total); vt: d */
            CHECKF(t->box[0] == (uint32_t)line && t->swizzle == line, "'%s' map %d: box %u swizzle %d",
                   cfg, k, t->box[0], t->swizzle);
            /* vt: [d, keys] boxes; q, k: [rows, d] */
            if (k == 2) CHECKF(t->box[rows_dim] == (uint32_t)d, "'%s': vt's box rows %u", cfg,
                               t->box[rows_dim]);
            k++;
        }
        CHECK(k == 3 && L.smem_bytes <= 227 * 1024);
        free(src);
    }
}

TEST(test_attention_declines_with_reasons) {
    tj_graph *g = build("attention", "causal=1", 0);
    CHECK(g);
    int64_t vals[16];
    bind(g, vals, 100);
    CHECK_DECLINES(g, "sm_90a", vals, "16-byte aligned");
    align16(g);
    CHECK_DECLINES(g, "sm_90", vals, "needs sm_90a");
    CHECK_DECLINES(g, "sm_80", vals, "needs sm_90a");
    tj_graph_free(g);

    static const struct { const char *params, *why; } cases[] = {
        {"dtype=f32", "bf16 and f16"},
        {"block_m=32", "block_m 32"},
        {"block_n=32", "block_n 32"},
        {"d=256 block_n=128", "registers"},
        {"d=256 block_n=256", "registers"},
        {"d=256 block_n=176", "registers"},
        {"block_n=96", "block_n 96"},
        /* fp8 p . v: K-major operands only, k steps of 32 keys */
        {"dtype=f8e4m3", "v transposed"},
        {"dtype=f8e4m3 v_layout=t block_n=176", "block_n 176 with fp8"},
        {"dtype=f8e4m3 v_layout=t d=256 block_n=128", "registers"},
        {"dtype=bf16 v_layout=t", "fp8 only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        g = build("attention", cases[i].params, 1);
        CHECKF(g, "%s", cases[i].params);
        bind(g, vals, 100);
        CHECK_DECLINES(g, "sm_90a", vals, cases[i].why);
        tj_graph_free(g);
    }
    /* lse's row vector read by something other than a store */
    g = lse_doubled();
    CHECK(g);
    if (g) {
        bind(g, vals, 100);
        CHECK_DECLINES(g, "sm_90a", vals, "reads a row vector");
        tj_graph_free(g);
    }
}

TEST(test_non_attention_graphs_decline) {
    static const char *names[] = {"gemm", "rmsnorm", "layernorm", "softmax", "decode"};
    for (int i = 0; i < 5; i++) {
        tj_graph *g = build(names[i], "", 1);
        CHECKF(g, "%s", names[i]);
        int64_t vals[16];
        for (int s = 0; s < 16; s++) vals[s] = 256;
        char *src, why[160];
        emit_launch L;
        int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
        free(src);
        tj_graph_free(g);
        CHECKF(r == 0 && why[0], "%s: %d \"%s\"", names[i], r, why);
        printf("  %s: %s\n", names[i], why);
    }
}

/* ---- emitted code compiles --------------------------------------------------- */

/* The emitted kernel of a recipe variant at length 1000 (NULL if the
 * schedule declines), its shared memory in *smem. */
static char *emit_variant(const char *params, size_t *smem) {
    tj_graph *g = build("attention", params, 1);
    if (!g) return NULL;
    int64_t vals[16];
    bind(g, vals, 1000);
    char why[4200], *src = NULL;
    emit_launch L;
    int r = apply(g, "sm_90a", vals, &src, &L, why, sizeof why);
    tj_graph_free(g);
    *smem = L.smem_bytes;
    if (r != 1) fprintf(stderr, "  '%s': %s\n", params, why);
    return r == 1 ? src : NULL;
}

/* By default o goes through shared memory at head dim 128 only, unless
 * its stores are masked (then the region would cost a stage for
 * nothing); blocks that walk programs give q back after the last s. */
TEST(test_attention_defaults_stage_o_at_d128_and_give_q_back_after_the_last_s) {
    static const struct {
        const char *params;
        int staged, qearly;
    } want[] = {
        {"d=128", 1, 1},        {"d=64", 0, 1},          {"d=256", 0, 1},
        {"d=128 causal=1", 1, 1}, {"varlen=1 d=128", 0, 0}, {"d=128 lse=1 hq=8 hkv=2", 1, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        size_t smem = 0, plain = 0;
        char *src = emit_variant(want[i].params, &smem);
        CHECKF(src, "'%s' declined", want[i].params);
        if (!src) continue;
        CHECKF((strstr(src, "stmatrix_x4") != NULL) == want[i].staged, "'%s' staged", want[i].params);
        CHECKF((strstr(src, "qlast0") != NULL) == want[i].qearly, "'%s' q early", want[i].params);
        free(src);
        as_o_smem = 0;
        src = emit_variant(want[i].params, &plain);
        as_o_smem = -1;
        CHECKF(src && !strstr(src, "stmatrix_x4"), "'%s' with as_o_smem 0", want[i].params);
        CHECKF((smem != plain) == want[i].staged, "'%s': %zu vs %zu bytes", want[i].params,
               smem, plain);
        free(src);
    }
    as_q_early = 0;
    size_t smem;
    char *src = emit_variant("d=128", &smem);
    as_q_early = 1;
    CHECK(src && !strstr(src, "qlast0") && strstr(src, "// q is read"));
    free(src);
    /* causal bounds without pairs: one block a program, longest first */
    as_causal_pairs = 0;
    src = emit_variant("d=128 causal=1", &smem);
    as_causal_pairs = 1;
    CHECK(src && strstr(src, "longest q tiles first") && !strstr(src, "npair"));
    free(src);
    /* three consumer warpgroups keep one block a program (pairs measured slower) */
    src = emit_variant("d=64 block_m=192 causal=1", &smem);
    CHECK(src && strstr(src, "longest q tiles first") && !strstr(src, "npair"));
    free(src);
    src = emit_variant("d=64 block_m=128 causal=1", &smem);
    CHECK(src && strstr(src, "npair"));
    free(src);
}

/* The scaled scores s * scale are not computed where only the row max
 * and the exponent read them (the scale goes into the exponent's FMA);
 * the masked loop's `where` reads them, so it keeps them (one product
 * left); a softcap's two scalings are one product; ALiBi's bias reads
 * them in both loops. */
TEST(test_attention_scale_folds_into_the_exponent_where_only_max_and_exp2_read_it) {
    static const struct {
        const char *params, *want;
        int products;   /* "* a_scale);" left */
    } cases[] = {
        {"d=128", "max along the row of s * c", 1},
        {"d=64 causal=1", "max along the row of s * c", 1},
        {"d=128 softcap=30", "* (a_scale * s", 0},
        {"d=128 alibi=1", "* a_scale);", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t smem;
        char *src = emit_variant(cases[i].params, &smem);
        CHECKF(src, "'%s' declined", cases[i].params);
        if (!src) continue;
        CHECKF(strstr(src, cases[i].want), "'%s': no \"%s\"", cases[i].params, cases[i].want);
        int n = 0;
        for (const char *p = src; (p = strstr(p, "* a_scale);")); p++) n++;
        CHECKF(n == cases[i].products, "'%s': %d products left", cases[i].params, n);
        free(src);
    }
}

/* ALiBi's key - query as f32 arithmetic on the thread's converted row
 * and columns: no conversion of an element (it runs at the exponent's
 * rate). Up to d 128 the column sums are held; at d 256 the elements'
 * constant offsets go last (nothing loop-invariant an element to hold). */
TEST(test_attention_index_casts_are_float_arithmetic_not_a_conversion_an_element) {
    static const struct { const char *params; int late; } cs[] = {
        {"d=128 alibi=1", 0}, {"d=64 alibi=computed causal=1", 0}, {"d=256 alibi=1 causal=1", 1}};
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        size_t smem;
        char *src = emit_variant(cs[i].params, &smem);
        CHECKF(src, "'%s' declined", cs[i].params);
        if (!src) continue;
        int held = strstr(src, "((float)qcol + (float)(8 * t + c))") != NULL;
        int late = strstr(src, "((float)qcol + (float)s") && strstr(src, ") + (float)(8 * t + c))");
        CHECKF(held == !cs[i].late && late == cs[i].late,
               "'%s': column sums held %d, offsets last %d", cs[i].params, held, late);
        CHECKF(!strstr(src, "round_to<float>((float)e"), "'%s': an element converted",
               cs[i].params);
        free(src);
    }
}

/* o's cast right before its store is the store's rounding (every store
 * of the schedule rounds to nearest even); a masked store (varlen) keeps
 * the cast. */
TEST(test_attention_o_cast_is_the_stores_rounding) {
    static const struct { const char *params; int kept; } cs[] = {
        {"d=128", 0}, {"d=64 causal=1 dtype=f16", 0}, {"d=128 varlen=1", 1}};
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        size_t smem;
        char *src = emit_variant(cs[i].params, &smem);
        CHECKF(src, "'%s' declined", cs[i].params);
        if (!src) continue;
        int n = strstr(src, "round_to<tj::bf16>") || strstr(src, "round_to<tj::f16>");
        CHECKF(n == cs[i].kept, "'%s': o's rounding %s", cs[i].params, n ? "emitted" : "gone");
        free(src);
    }
}

static int nvrtc_ok(void) { return sched_nvrtc_ok("sm_90a"); }

/* Compile the schedule's kernel for g in a child; ptxas's resource line
 * must show no spills, and it must not have serialized the wgmmas. */
static int compiles(const tj_graph *g, const int64_t *vals, char *why, size_t size) {
    char *src;
    emit_launch L;
    if (apply(g, "sm_90a", vals, &src, &L, why, size) != 1) return 0;
    int ok = sched_compile(src, "attention_sm90.cu", "sm_90a", 300, SC_NO_SERIALIZE, why, size);
    free(src);
    return ok;
}

/* g (freed here) bound at seq: what it emits contains `want` (unless
 * NULL), and compiles() passes; `what` names the case. */
static void check_compiles(tj_graph *g, int64_t seq, const char *what, const char *want) {
    CHECKF(g, "%s: no graph", what);
    if (!g) return;
    int64_t vals[16];
    bind(g, vals, seq);
    char why[4200];
    if (want) {
        char *src = NULL;
        emit_launch L;
        CHECK(apply(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
        CHECKF(src && strstr(src, want), "%s", what);
        free(src);
    }
    int ok = compiles(g, vals, why, sizeof why);
    tj_graph_free(g);
    CHECKF(ok, "%s: %s", what, why);
}

TEST(test_attention_kernels_compile_for_sm90a_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    static const char *cfgs[] = {
        "causal=1 hq=8 hkv=2",
        "d=64 softcap=30 alibi=computed",
        "d=256 causal=1",
        "d=256 causal=1 alibi=computed",   /* spilled 48 bytes with per-column float sums */
        "dtype=f16 alibi=1 causal=1",
        "block_m=64 d=128 block_n=128",
        "d=128 block_n=128 causal=1 cross=1",
        "dtype=f16 d=64 softcap=20 hq=8 hkv=1",
        "varlen=1 causal=1 d=128",
        "lse=1 varlen=1 cross=1 d=64 causal=1",
        "d=128",
        "d=128 hq=16 hkv=4 lse=1",
        "d=64 block_m=192",
        "d=64 block_m=192 causal=1 hq=8 hkv=2",
        "d=128 block_m=192 block_n=64",
        /* FlashAttention-3's key tiles beside the powers of two */
        "d=256 block_n=80",
        "d=256 block_n=80 causal=1 softcap=30 hq=8 hkv=2",
        "d=128 block_n=176",
        "dtype=f16 d=64 block_m=128 block_n=176 lse=1",
    };
    char what[160];
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        snprintf(what, sizeof what, "'%s'", cfgs[i]);
        check_compiles(build("attention", cfgs[i], 1), 1000, what, NULL);
    }
    /* The benchmarks' polynomial exp2 for a quarter of the P tile */
    as_exp2_poly = 4;
    static const char *poly[] = {"d=64", "d=128 causal=1 softcap=30"};
    for (size_t i = 0; i < sizeof poly / sizeof *poly; i++) {
        snprintf(what, sizeof what, "'%s' with as_exp2_poly 4", poly[i]);
        check_compiles(build("attention", poly[i], 1), 1000, what, "((t % 4) == 3 ? tj::poly_exp2(");
    }
    as_exp2_poly = 0;
    /* The benchmarks' staged o (stmatrix, 16-byte stores); packed
     * batches' masked stores keep the pair stores */
    as_o_smem = 1;
    static const char *staged[] = {"d=64", "d=128 causal=1", "d=256", "d=128 lse=1 block_m=64",
                                   "varlen=1 d=128"};
    for (size_t i = 0; i < sizeof staged / sizeof *staged; i++) {
        tj_graph *g = build("attention", staged[i], 1);
        CHECK(g);
        int64_t vals[16];
        bind(g, vals, 1000);
        char why[4200], *src = NULL;
        emit_launch L;
        CHECK(apply(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
        /* packed: masked stores; d 256: no room (it keeps two stages) */
        int packed = strstr(staged[i], "varlen") != NULL || strstr(staged[i], "d=256") != NULL;
        CHECKF(src && (strstr(src, "stmatrix_x4") == NULL) == packed, "'%s'", staged[i]);
        free(src);
        int ok = compiles(g, vals, why, sizeof why);
        tj_graph_free(g);
        CHECKF(ok, "'%s' with as_o_smem: %s", staged[i], why);
    }
    as_o_smem = -1;
    /* The loops that read the accumulator (a carried value only its yield
     * reads once declared a zero-length array). */
    for (int i = 0; i < ATTN_EDITS; i++) {
        snprintf(what, sizeof what, "accumulator edit %d", i);
        check_compiles(attn_edited(i), 1, what, NULL);
    }
}

/* fp8 with v transposed: the producer's permuting warps live in its 24
 * registers, the consumers hold s, packed p and the accumulator. */
TEST(test_attention_fp8_kernels_compile_for_sm90a_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC for sm_90a is not available: %.200s", tj_last_error());
    char what[160];
    for (size_t i = 0; i < sizeof fp8_variants / sizeof *fp8_variants; i++) {
        snprintf(what, sizeof what, "'%s'", fp8_variants[i]);
        check_compiles(build("attention", fp8_variants[i], 1), 1000, what, NULL);
    }
}

int main(void) { return harness_main(); }
