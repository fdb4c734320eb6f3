/*
 * The `rows` schedule without a GPU: which graphs it takes and which it
 * declines (and why), how it splits a row from the width, and that what it
 * emits compiles with NVRTC for sm_80 and sm_90a at ragged widths with no
 * register spills (sm_90a: at every width; sm_80: up to 16384), in each
 * launch variant (one program a group, the persistent prefetching walk,
 * clusters, the staged walk). tests/gpu/test_gpu_rows.c runs the kernels.
 */
#include <math.h>

#include "harness.h"
#include "nvrtc.h"
#include "randgraph.h"
#include "rows.h"
#include "schedule.h"
#include "templates.h"

static const int64_t widths[] = {1, 7, 100, 128, 1000, 1024, 4097, 8192, 16384, 32768, 33000, 65536};
#define NWIDTHS (int)(sizeof widths / sizeof widths[0])

/* Bind every symbol: cols = `cols`, everything else 1000. */
static void bind(const tj_graph *g, int64_t cols, int64_t *vals) {
    for (int s = 0; s < tj_num_symbols(g); s++)
        vals[s] = strcmp(tj_symbol_name(g, (tj_sym){s}), "cols") ? 1000 : cols;
}

static tj_graph *recipe(const char *name, const char *p0, const char *p1) {
    const char *ps[2] = {p0, p1};
    tj_graph *g = NULL;
    if (tj_recipe_build(name, p0 ? (p1 ? 2 : 1) : 0, ps, &g) != TJ_OK) {
        fprintf(stderr, "  %s: %s\n", name, tj_last_error());
        return NULL;
    }
    return g;
}

/* sched_rows at (g, cols): 1 taken (src, L set), 0 declined (why set). */
static int rows_emit_at(const tj_graph *g, const char *arch, const int64_t *vals, char **src,
                        emit_launch *L, char *why, size_t whylen) {
    *src = NULL;
    why[0] = '\0';
    tj_status st = sched_rows(g, arch, vals, src, L, why, whylen);
    if (st != TJ_OK) {
        snprintf(why, whylen, "error %s: %s", tj_status_name(st), tj_last_error());
        return -1;
    }
    return *src != NULL;
}

static int nvrtc_ok(void) { return nvrtc_load() == TJ_OK && nvrtc_arch_supported("sm_90a"); }

/* Compile src; 0 ok (ms and spill bytes set), else prints the log. */
static int compile_src(const char *src, const char *arch, double *ms, int *spills) {
    static nvrtc_header hs[64];
    int nh = tj_template_count();
    if (nh > 64) nh = 64;
    for (int i = 0; i < nh; i++) hs[i] = (nvrtc_header){tj_template_name(i), tj_template_text(i)};
    const char *opts[1] = {"--ptxas-options=-v"};
    nvrtc_request req = {0};
    req.source = src;
    req.name = "rows.cu";
    req.arch = arch;
    req.headers = hs;
    req.nheaders = nh;
    req.options = opts;
    req.noptions = 1;
    nvrtc_result res = {0};
    tj_status st = nvrtc_compile(&req, &res);
    *ms = res.seconds * 1e3;
    *spills = 0;
    const char *sp = res.log ? strstr(res.log, "bytes spill stores") : NULL;
    if (sp) {
        const char *b = sp;
        while (b > res.log && b[-1] == ' ') b--;
        while (b > res.log && b[-1] >= '0' && b[-1] <= '9') b--;
        *spills = atoi(b);
    }
    if (st != TJ_OK) fprintf(stderr, "  %s: %s\n%s\n", arch, tj_last_error(), res.log ? res.log : "");
    nvrtc_result_free(&res);
    return st != TJ_OK;
}

/* ---- what it takes ---------------------------------------------------- */

static const char *const row_recipes[][2] = {
    {"softmax", NULL},          {"rmsnorm", NULL},          {"layernorm", "bias=1"},
    {"layernorm", "bias=0"},    {"softmax", "dtype=f32"},   {"rmsnorm", "dtype=f16"},
    {"eltwise", "op=silu_mul"}, {"eltwise", "op=gelu_mul"}, {"eltwise", "op=gelu_tanh_mul"},
    {"eltwise", "op=add_relu"}, {"eltwise", "op=add"},      {"eltwise", "op=mul"},
};
#define NROW_RECIPES (int)(sizeof row_recipes / sizeof row_recipes[0])

TEST(test_rows_takes_every_row_recipe_at_ragged_widths) {
    for (int r = 0; r < NROW_RECIPES; r++) {
        tj_graph *g = recipe(row_recipes[r][0], row_recipes[r][1], NULL);
        CHECK(g);
        for (int w = 0; w < NWIDTHS; w++) {
            int64_t vals[8];
            bind(g, widths[w], vals);
            char *src, why[200];
            emit_launch L;
            int took = rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why);
            CHECKF(took == 1, "%s %s cols=%lld: %s", row_recipes[r][0],
                   row_recipes[r][1] ? row_recipes[r][1] : "", (long long)widths[w], why);
            if (took != 1) continue;
            CHECK(L.threads >= 32 && L.threads <= 1024 && L.threads % 32 == 0);
            if (L.grid_mode == EMIT_GRID_MUL)
                CHECK(L.grid_arg == (int)L.cluster[0] && L.grid_arg >= 2 && L.cluster[1] == 1);
            else if (L.grid_mode == EMIT_GRID_PERSISTENT)
                CHECK(L.grid_arg >= 1 && L.grid_arg * L.threads <= 2048);
            else
                CHECK(L.grid_mode == (L.grid_arg > 1 ? EMIT_GRID_DIV : EMIT_GRID_GRAPH));
            CHECK(strstr(src, "#include \"tj/rows.cuh\""));
            free(src);
        }
        tj_graph_free(g);
    }
}

TEST(test_rows_threads_a_row_follow_the_width) {
    tj_graph *g = recipe("softmax", NULL, NULL);
    int64_t vals[2];
    char *src, why[200];
    emit_launch L;
    /* narrow rows: a few lanes a row, many programs a block (a block of
     * programs, hardware-scheduled: rows up to 16 KB without weight rows) */
    bind(g, 128, vals);
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_DIV && L.threads == 256);
    CHECK(strstr(src, "32 programs a block") && L.grid_arg == 32);
    CHECK(strstr(src, "8 threads a row")); /* 8 lanes x 16 bytes: whole 128-byte lines */
    free(src);
    /* 8192: a block of 256 a row, 32 elements a thread */
    bind(g, 8192, vals);
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_GRAPH && L.threads == 256);
    CHECK(strstr(src, "4 chunks of 8"));
    free(src);
    /* 16384: 32 KB a row, still the plain kernel, a block of 512 */
    bind(g, 16384, vals);
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_GRAPH && L.threads == 512 && strstr(src, "4 chunks of 8"));
    free(src);
    /* 32768: one block of 1024 staging the row on sm_90a, the whole
     * block on sm_80; the walk at 64 elements a thread without staging */
    bind(g, 32768, vals);
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.threads == 1024 && L.grid_mode == EMIT_GRID_PERSISTENT && L.cluster[0] <= 1 &&
          strstr(src, "tj::rows::stage_issue<"));
    free(src);
    rows_stage_auto = 0;
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.threads == 512 && L.grid_mode == EMIT_GRID_PERSISTENT && strstr(src, "8 chunks of 8"));
    free(src);
    rows_stage_auto = 1;
    CHECK(rows_emit_at(g, "sm_80", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode != EMIT_GRID_MUL && L.cluster[0] == 0);
    CHECK(!strstr(src, "cluster"));
    free(src);
    tj_graph_free(g);
}

TEST(test_rows_emit_is_deterministic) {
    tj_graph *g = recipe("layernorm", NULL, NULL);
    int64_t vals[2];
    bind(g, 1000, vals);
    char *a, *b, why[200];
    emit_launch L;
    CHECK(rows_emit_at(g, "sm_80", vals, &a, &L, why, sizeof why) == 1);
    CHECK(rows_emit_at(g, "sm_80", vals, &b, &L, why, sizeof why) == 1);
    CHECK(!strcmp(a, b));
    free(a);
    free(b);
    tj_graph_free(g);
}

/* ---- what it declines --------------------------------------------------- */

/* x[rows, cols] loaded as [bm, cols] f32 at (program, 0); y stored likewise. */
typedef struct rowg {
    tj_graph *g;
    tj_tensor x, y;
    tj_val x_tile, at[2];
    tj_sym rows, cols;
} rowg;

static void rowg_begin(rowg *r, int bm) {
    tj_graph_new("rowg", &r->g);
    tj_graph *g = r->g;
    tj_sym rows = r->rows = tj_symbol(g, "rows", TJ_DYNAMIC, 0, 1);
    r->cols = tj_symbol(g, "cols", TJ_EXACT, 0, 1);
    tj_dim d[2] = {tj_dim_sym(rows), tj_dim_sym(r->cols)};
    r->x = tj_tensor_arg(g, "x", TJ_F32, 2, d, NULL);
    r->y = tj_tensor_arg(g, "y", TJ_F32, 2, d, NULL);
    r->at[0] = tj_program_id(g, 0);
    r->at[1] = tj_const(g, TJ_I32, 0);
    r->x_tile = tj_load(g, r->x, r->at, 2, (tj_dim[]){bm, tj_dim_sym(r->cols)}, NULL, 0, 0);
    tj_val grid = tj_binary(g, TJ_CDIV, tj_symval(g, rows), tj_const(g, TJ_I32, bm));
    tj_set_grid(g, 1, &grid);
}

static void expect_decline_at(tj_graph *g, int64_t cols, const char *reason) {
    int64_t vals[2] = {1000, cols};
    char *src, why[200];
    emit_launch L;
    CHECK(tj_graph_status(g) == TJ_OK);
    int took = rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why);
    CHECKF(took == 0 && strstr(why, reason), "want a decline naming '%s', got %d '%s'", reason,
           took, why);
    if (took == 1) free(src);
}
static void expect_decline(tj_graph *g, const char *reason) { expect_decline_at(g, 256, reason); }

TEST(test_rows_declines_loops_and_mma) {
    tj_graph *g = recipe("gemm", NULL, NULL);
    expect_decline(g, "loop");
    tj_graph_free(g);
}

TEST(test_rows_declines_a_reduction_across_the_rows_of_a_tile) {
    rowg r;
    rowg_begin(&r, 4);
    tj_val colsum = tj_sum(r.g, r.x_tile, 0); /* [1, cols] over 4 rows */
    tj_store(r.g, r.y, r.at, tj_add(r.g, r.x_tile, colsum), NULL, 0);
    expect_decline(r.g, "axis 0");
    tj_graph_free(r.g);
}

TEST(test_rows_declines_a_transpose) {
    rowg r;
    rowg_begin(&r, 16);
    tj_val t = tj_transpose(r.g, r.x_tile);
    tj_store(r.g, r.y, r.at, t, NULL, 0);
    expect_decline_at(r.g, 16, "transpose");
    tj_graph_free(r.g);
}

TEST(test_rows_declines_a_tensor_read_after_it_is_written) {
    rowg r;
    rowg_begin(&r, 1);
    tj_store(r.g, r.y, r.at, r.x_tile, NULL, 0);
    tj_val again = tj_load(r.g, r.y, r.at, 2, (tj_dim[]){1, tj_dim_sym(r.cols)}, NULL, 0, 0);
    tj_store(r.g, r.x, r.at, tj_add(r.g, again, r.x_tile), NULL, 0);
    expect_decline(r.g, "read after");
    tj_graph_free(r.g);
}

TEST(test_rows_declines_tiles_of_two_widths) {
    rowg r;
    rowg_begin(&r, 1);
    tj_val half = tj_load(r.g, r.x, r.at, 2, (tj_dim[]){1, 64}, NULL, 0, 0);
    tj_store(r.g, r.y, r.at, r.x_tile, NULL, 0);
    tj_tensor z = tj_tensor_arg(r.g, "z", TJ_F32, 1, (tj_dim[]){64}, NULL);
    tj_store(r.g, z, &r.at[1], tj_reshape(r.g, half, 1, (tj_dim[]){64}), NULL, 0);
    expect_decline(r.g, "several shapes");
    tj_graph_free(r.g);
}

TEST(test_rows_takes_an_in_place_update_and_a_row_statistic) {
    rowg r;
    rowg_begin(&r, 4);
    tj_graph *g = r.g;
    tj_tensor stat = tj_tensor_arg(g, "stat", TJ_F32, 1, (tj_dim[]){tj_dim_sym(r.rows)}, NULL);
    tj_val m = tj_rowmax(g, r.x_tile);
    tj_store(g, r.x, r.at, tj_sub(g, r.x_tile, m), NULL, 0);  /* in place */
    tj_store(g, stat, r.at, tj_reshape(g, m, 1, (tj_dim[]){4}), NULL, 0);
    int64_t vals[2] = {1000, 300};
    char *src, why[200];
    emit_launch L;
    CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
    if (src) CHECK(strstr(src, "if (lane == 0 && cb == 0) { // store stat"));
    free(src);
    tj_graph_free(g);
}

/* ---- launch variants ------------------------------------------------------ */

TEST(test_rows_walk_prefetches_the_next_program_and_hoists_the_weight) {
    tj_graph *g = recipe("rmsnorm", NULL, NULL);
    int64_t vals[2];
    bind(g, 1024, vals);
    char *src, why[200];
    emit_launch L;
    rows_forced = (rows_force){ROWS_PERSIST, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(rows_emit_at(g, "sm_80", vals, &src, &L, why, sizeof why) == 1);
    rows_forced = (rows_force){0};
    CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.grid_arg >= 1);
    int ngrid = 0;
    for (int i = 0; i < L.nparams; i++) ngrid += L.params[i].kind == EMIT_PARAM_GRID;
    CHECK(ngrid == 3);
    if (src) {
        const char *loop = strstr(src, "for (long long q_b"), *w = strstr(src, "// load w");
        const char *next = strstr(src, "prefetch program q_b + q_step");
        const char *store = strstr(src, "// store y");
        /* the weight row once, before the walk; the next x before this y */
        CHECK(loop && w && w < loop && !strstr(loop, "// load w"));
        CHECK(next && store && loop < next && next < store);
        CHECK(strstr(src, "q_part[2][NT / 32]") || !strstr(src, "q_part"));
    }
    free(src);
    tj_graph_free(g);
}

/* A row's max used beyond softmax's exponentials (here added to the
 * output) is the cluster's: two cluster reductions, the first waiting for
 * the peers. */
TEST(test_rows_cluster_pairs_only_softmax_shape) {
    for (int keep = 0; keep < 2; keep++) {
        rowg r;
        rowg_begin(&r, 1);
        tj_graph *g = r.g;
        tj_val m = tj_reduce(g, TJ_RMAX, r.x_tile, 1);
        tj_val ex = tj_exp(g, tj_sub(g, r.x_tile, m));
        tj_val y = tj_mul(g, ex, tj_unary(g, TJ_RECIP, tj_reduce(g, TJ_SUM, ex, 1)));
        tj_store(g, r.y, r.at, keep ? tj_add(g, y, m) : y, NULL, 0);
        int64_t vals[2] = {1000, 65536};
        char *src = NULL, why[200];
        emit_launch L;
        rows_forced = (rows_force){.mode = ROWS_CLUSTER};
        CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        rows_forced = (rows_force){0};
        CHECKF(L.cluster[0] > 1, "f32 65536: cluster %u", L.cluster[0]);
        if (src) {
            const char *a = strstr(src, "cluster_reduce<");
            const char *b = a ? strstr(a + 1, "cluster_reduce<") : NULL;
            if (keep)
                CHECK(a && b && strstr(a, "true>") < b && strstr(b, "false>") &&
                      !strstr(src, "pair_op"));
            else
                CHECK(!a && strstr(src, "cluster_exchange<tj::rows::pair_op, TR, CL, true>"));
        }
        free(src);
        tj_graph_free(g);
    }
}

TEST(test_rows_in_place_update_is_not_prefetched) {
    rowg r;
    rowg_begin(&r, 1);
    tj_store(r.g, r.x, r.at, tj_mul(r.g, r.x_tile, r.x_tile), NULL, 0);
    int64_t vals[2] = {1000, 1024};
    char *src, why[200];
    emit_launch L;
    CHECKF(rows_emit_at(r.g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
    CHECK(L.grid_mode != EMIT_GRID_PERSISTENT);
    if (src) CHECK(!strstr(src, "_nx"));
    free(src);
    tj_graph_free(r.g);
}

TEST(test_rows_wide_reductions_share_a_row_across_a_cluster_on_sm90) {
    tj_graph *g = recipe("softmax", NULL, NULL);
    int64_t vals[2];
    bind(g, 65536, vals);
    char *src, why[200];
    emit_launch L;
    /* the model reads the row twice from a ring of shared-memory buffers
     * (rows_twopass.c); the staged pair of blocks and the register
     * cluster of 4 when forced */
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.cluster[0] <= 1 && L.threads == 512);
    if (src) CHECK(strstr(src, "// two-pass staged: 4 groups") && !strstr(src, "cluster_"));
    free(src);
    rows_forced = (rows_force){.mode = ROWS_STAGE, .elems = 64, .cl = 2};
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.cluster[0] == 2 && L.threads == 512);
    if (src) {
        /* one exchange of (max, sum) pairs a row, the walk's two buffers */
        const char *a = strstr(src, "cluster_exchange<tj::rows::pair_op, TR, CL, false>");
        CHECK(a && !strstr(a + 1, "cluster_exchange<") && !strstr(src, "cluster_reduce<"));
        CHECK(strstr(src, "tj::rows::stage_issue<"));
    }
    free(src);
    rows_forced = (rows_force){.mode = ROWS_CLUSTER};
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    rows_forced = (rows_force){0};
    CHECK(L.grid_mode == EMIT_GRID_MUL && L.grid_arg == 4 && L.cluster[0] == 4 &&
          L.cluster[1] == 1 && L.cluster[2] == 1 && L.threads == 512);
    if (src) {
        /* softmax's max and sum: one exchange of (max, sum) pairs, which
         * waits for the peers to have started (rows_pair.c) */
        const char *a = strstr(src, "cluster_exchange<tj::rows::pair_op, TR, CL, true>");
        CHECK(a && !strstr(a + 1, "cluster_exchange<") && !strstr(src, "cluster_reduce<"));
        CHECK(strstr(src, "group_reduce<tj::rows::max_op, TR>"));
    }
    free(src);
    /* sm_80: no clusters; the two-pass walk (needs none) */
    CHECK(rows_emit_at(g, "sm_80", vals, &src, &L, why, sizeof why) == 1);
    CHECK(L.grid_mode == EMIT_GRID_GRAPH && L.threads == 512);
    if (src) CHECK(strstr(src, "// two-pass: 2 groups"));
    free(src);
    tj_graph_free(g);
    /* without a reduction the blocks would not need each other */
    rowg r;
    rowg_begin(&r, 1);
    tj_store(r.g, r.y, r.at, tj_mul(r.g, r.x_tile, r.x_tile), NULL, 0);
    int64_t v2[2] = {1000, 65536};
    CHECKF(rows_emit_at(r.g, "sm_90a", v2, &src, &L, why, sizeof why) == 1, "%s", why);
    CHECK(L.grid_mode != EMIT_GRID_MUL);
    free(src);
    tj_graph_free(r.g);
}

/* Norms over rows of more than 32 KB on sm_90a take the staged walk (rows
 * copied into shared memory by the bulk copy engine, weight rows held) on
 * one block or two, softmax on one block (32768; 65536 is read twice,
 * rows_twopass.c); norms at
 * 16384, rows that would need 3 blocks (layernorm 65537) and sm_80 do
 * not. */
TEST(test_rows_wide_norms_stage_rows_in_shared_memory_on_sm90) {
    static const struct { const char *name, *param; int64_t cols; int staged, cl; } cases[] = {
        {"layernorm", NULL, 16384, 0, 0}, {"layernorm", NULL, 32768, 1, 1},
        {"rmsnorm", NULL, 32768, 1, 1},   {"rmsnorm", NULL, 65536, 1, 2},
        {"layernorm", NULL, 65537, 0, 0}, {"rmsnorm", NULL, 16384, 0, 0},
        {"layernorm", NULL, 8192, 0, 0},  {"softmax", NULL, 32768, 1, 1},
        {"softmax", NULL, 65536, 0, 0},   {"softmax", NULL, 16384, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tj_graph *g = recipe(cases[i].name, cases[i].param, NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, cases[i].cols, vals);
        for (int a = 0; a < 2; a++) {
            char *src, why[200];
            emit_launch L;
            if (!a && cases[i].cols > 65536) continue; /* no block holds it without clusters */
            CHECKF(rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why) == 1,
                   "%s %lld: %s", cases[i].name, (long long)cases[i].cols, why);
            /* (softmax 65536: the two-pass walk's ring, its own test) */
            int staged = strstr(src, "tj::rows::stage_issue<") && !strstr(src, "// two-pass staged");
            CHECKF(staged == (a && cases[i].staged), "%s %lld %s: staged %d", cases[i].name,
                   (long long)cases[i].cols, a ? "sm_90a" : "sm_80", staged);
            if (staged) {
                CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.grid_arg >= 1);
                CHECK(L.smem_bytes > 0 && L.smem_bytes <= 227 * 1024);
                CHECK((int)(L.cluster[0] ? L.cluster[0] : 1) == cases[i].cl);
                CHECK(strstr(src, "tj::rows::stage_wait(") && strstr(src, "// staged: "));
                /* the weight rows once, before the walk; no register prefetch */
                const char *loop = strstr(src, "for (long long q_b"), *w = strstr(src, "// load w");
                CHECK(loop && !strstr(src, "_nx"));
                CHECK(!strcmp(cases[i].name, "softmax") || (w && w < loop));
            }
            free(src);
        }
        tj_graph_free(g);
    }
}

/* The walk's register estimate and the cluster rule count bytes, not
 * elements: f16 and f32 rows take 8 registers more than bf16's (a
 * conversion, not a shift; f16 softmax spilled 44-64 bytes at 64
 * registers at every width, f32 layernorm 28 at 8192), and the plain block
 * gives way to a cluster past 4 16-byte chunks a thread (f32 norms at
 * 32768 held 32 f32 a thread under 64 registers: layernorm spilled 724
 * bytes). bf16's kernels are unchanged. */
TEST(test_rows_f16_and_f32_rows_do_not_spill_on_sm90) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const struct { const char *name, *param; int64_t cols; int cluster; } cs[] = {
        {"softmax", "dtype=f16", 1024, 0},   {"softmax", "dtype=f16", 16384, 0},
        {"layernorm", "dtype=f32", 8192, 0}, {"layernorm", "dtype=f32", 32768, 1},
        {"rmsnorm", "dtype=f32", 32768, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        tj_graph *g = recipe(cs[i].name, cs[i].param, NULL);
        CHECK(g);
        if (!g) continue;
        int64_t vals[8];
        bind(g, cs[i].cols, vals);
        char *src = NULL, why[200];
        emit_launch L;
        CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        CHECKF((L.cluster[0] > 1) == cs[i].cluster, "%s %s %lld: cluster %u", cs[i].name,
               cs[i].param, (long long)cs[i].cols, L.cluster[0]);
        double ms;
        int spills = -1;
        int bad = !src || compile_src(src, "sm_90a", &ms, &spills);
        CHECKF(!bad && spills == 0, "%s %s %lld: %d bytes spilled", cs[i].name, cs[i].param,
               (long long)cs[i].cols, spills);
        free(src);
        tj_graph_free(g);
    }
}

/* The output's cast right before its store is the store's rounding: not
 * emitted (softmax, rmsnorm in bf16 and f16). */
TEST(test_rows_output_cast_is_the_stores_rounding) {
    static const char *const cs[][2] = {{"softmax", NULL}, {"rmsnorm", "dtype=f16"}};
    for (int i = 0; i < 2; i++) {
        tj_graph *g = recipe(cs[i][0], cs[i][1], NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, 4096, vals);
        char *src = NULL, why[200];
        emit_launch L;
        CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        CHECKF(src && !strstr(src, "round_to<tj::bf16>") && !strstr(src, "round_to<tj::f16>"),
               "%s: the output is rounded twice", cs[i][0]);
        free(src);
        tj_graph_free(g);
    }
}

/* rows_fast_exp (the default): softmax's exp(x - max) by ex2.approx where
 * every store is 16-bit, the accurate exp elsewhere and with it off; the
 * kernels compile. */
/* Shifted rows (rows.h): a width off the 16-byte grid moves each row's
 * columns by its phase (q_sh), with the anchor read in aligned blocks and
 * a weight row by ldv_at; a width on it emits no phase at all; with
 * rows_shift_auto = 0 the ragged rows are the element path's again; a
 * shifted kernel of each kind compiles for sm_80 and sm_90a. */
TEST(test_rows_ragged_widths_shift_the_rows) {
    static const char *const names[] = {"softmax", "rmsnorm", "layernorm"};
    static const int64_t cols[] = {7, 1001, 4097, 16385, 65537};
    int compiled = 0;
    for (int r = 0; r < 3; r++) {
        tj_graph *g = recipe(names[r], NULL, NULL);
        CHECK(g);
        for (int w = 0; w < 5; w++) {
            int64_t vals[8];
            char *src, why[200];
            emit_launch L;
            bind(g, cols[w], vals);
            CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s %lld: %s",
                   names[r], (long long)cols[w], why);
            CHECKF(strstr(src, "int q_sh;") && strstr(src, "pad_outside"), "%s %lld", names[r],
                   (long long)cols[w]);
            CHECK(!strstr(src, "stage_issue"));  /* the model keeps them off the staged walk */
            CHECK(!strstr(src, "ldv_at") == (r == 0));
            if (nvrtc_ok() && (w == 1 || w == 4)) {
                for (int a = 0; a < 2; a++) {
                    char *s2;
                    const char *arch = a ? "sm_90a" : "sm_80";
                    if (a) s2 = src, src = NULL;
                    else if (rows_emit_at(g, arch, vals, &s2, &L, why, sizeof why) != 1) continue;
                    double ms;
                    int spills;
                    CHECKF(!compile_src(s2, arch, &ms, &spills), "%s %lld %s", names[r],
                           (long long)cols[w], arch);
                    compiled++;
                    free(s2);
                }
            }
            free(src);
            rows_shift_auto = 0;
            CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
            rows_shift_auto = 1;
            CHECK(!strstr(src, "q_sh"));
            free(src);
        }
        int64_t vals[8];
        char *src, why[200];
        emit_launch L;
        bind(g, 4096, vals);
        CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
        CHECK(!strstr(src, "q_sh"));
        free(src);
        tj_graph_free(g);
    }
    if (nvrtc_ok()) printf("  %d shifted kernels compiled\n", compiled);
}

TEST(test_rows_fast_exp_only_for_16_bit_outputs) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const struct { const char *param; int on, fast; } cs[] = {
        {NULL, 1, 1}, {"dtype=f16", 1, 1}, {"dtype=f32", 1, 0}, {NULL, 0, 0}};
    for (int i = 0; i < 4; i++) {
        rows_fast_exp = cs[i].on;
        tj_graph *g = recipe("softmax", cs[i].param, NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, 8192, vals);
        for (int a = 0; a < 2; a++) {
            char *src = NULL, why[200];
            emit_launch L;
            CHECKF(rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why) == 1,
                   "%s", why);
            int fast = src && strstr(src, "tj::fast_exp2((") != NULL;
            CHECK(!src || (strstr(src, "tj::exp(") == NULL) == cs[i].fast);
            CHECKF(fast == cs[i].fast, "softmax %s: fast exp %d", cs[i].param ? cs[i].param : "",
                   fast);
            double ms;
            int spills;
            int bad = !src || compile_src(src, a ? "sm_90a" : "sm_80", &ms, &spills);
            CHECKF(!bad && spills == 0, "softmax %s %s: %d bytes spilled",
                   cs[i].param ? cs[i].param : "", a ? "sm_90a" : "sm_80", bad ? -1 : spills);
            free(src);
        }
        tj_graph_free(g);
    }
    rows_fast_exp = 1;
}

/* The model's staged walk is on by default (it passed test_gpu_rows on an
 * H200, 2026-11-29); rows_stage_auto = 0 gives wide norms the register
 * walks. */
TEST(test_rows_staged_walk_is_the_models_choice_unless_turned_off) {
    tj_graph *g = recipe("layernorm", NULL, NULL);
    CHECK(g);
    int64_t vals[8];
    bind(g, 32768, vals);
    for (int on = 1; on >= 0; on--) {
        char *src = NULL, why[200];
        emit_launch L;
        rows_stage_auto = on;
        CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        CHECK(src && !strstr(src, "tj::rows::stage_issue<") == !on);
        free(src);
    }
    rows_stage_auto = 1;
    tj_graph_free(g);
}

/* The forced variants a bench sweeps fall back to the model where they
 * cannot apply: no staging without a row reduction, on sm_80, for a tile
 * of several rows, or an in-place update. */
TEST(test_rows_staged_walk_declines_what_it_cannot_copy) {
    rows_forced = (rows_force){ROWS_STAGE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const char *const names[][2] = {{"eltwise", "op=silu_mul"}, {"softmax", "bm=4"},
                                           {"softmax", NULL}};
    for (int i = 0; i < 3; i++) {
        tj_graph *g = recipe(names[i][0], names[i][1], NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, 4096, vals);
        char *src, why[200];
        emit_launch L;
        CHECK(rows_emit_at(g, i == 2 ? "sm_80" : "sm_90a", vals, &src, &L, why, sizeof why) == 1);
        CHECKF(!strstr(src, "stage_issue"), "%s %s staged", names[i][0], names[i][1]);
        free(src);
        tj_graph_free(g);
    }
    rowg r;
    rowg_begin(&r, 1);
    tj_store(r.g, r.x, r.at, tj_sub(r.g, r.x_tile, tj_rowmax(r.g, r.x_tile)), NULL, 0);
    int64_t vals[2] = {1000, 32768};
    char *src, why[200];
    emit_launch L;
    CHECK(rows_emit_at(r.g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    CHECK(!strstr(src, "stage_issue"));
    free(src);
    tj_graph_free(r.g);
    rows_forced = (rows_force){0};
}

/* ---- NVRTC -------------------------------------------------------------- */

TEST(test_rows_kernels_compile_without_spills_for_sm80_and_sm90a) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const char *const archs[2] = {"sm_80", "sm_90a"};
    double worst = 0;
    char worst_case[128] = "";
    int n = 0, npersist = 0, ncluster = 0;
    for (int r = 0; r < NROW_RECIPES; r++) {
        tj_graph *g = recipe(row_recipes[r][0], row_recipes[r][1], NULL);
        for (int w = 0; w < NWIDTHS; w++) {
            int64_t vals[8];
            bind(g, widths[w], vals);
            for (int a = 0; a < 2; a++) {
                if (r >= 4 && a == 0 && w % 2) continue; /* fewer sm_80 variants: time */
                char *src, why[200];
                emit_launch L;
                if (rows_emit_at(g, archs[a], vals, &src, &L, why, sizeof why) != 1) continue;
                double ms;
                int spills;
                int bad = compile_src(src, archs[a], &ms, &spills);
                CHECKF(!bad, "%s %s cols=%lld %s", row_recipes[r][0],
                       row_recipes[r][1] ? row_recipes[r][1] : "", (long long)widths[w], archs[a]);
                /* Nothing spills on sm_90a. The walk's register budget is
                 * fitted to sm_90a's allocation: sm_80 may spill a few bytes,
                 * and rows over 16384 columns have no clusters there (1024-
                 * thread blocks at 64 elements a thread spill). */
                CHECKF(spills == 0 || (a == 0 && (widths[w] > 16384 || spills <= 256)),
                       "%s %s cols=%lld %s spills %d bytes", row_recipes[r][0],
                       row_recipes[r][1] ? row_recipes[r][1] : "", (long long)widths[w], archs[a],
                       spills);
                if (ms > worst) {
                    worst = ms;
                    snprintf(worst_case, sizeof worst_case, "%s %s cols=%lld %s", row_recipes[r][0],
                             row_recipes[r][1] ? row_recipes[r][1] : "", (long long)widths[w],
                             archs[a]);
                }
                n++;
                npersist += L.grid_mode == EMIT_GRID_PERSISTENT;
                ncluster += L.grid_mode == EMIT_GRID_MUL;
                free(src);
            }
        }
        tj_graph_free(g);
    }
    printf("  %d kernels compiled (%d persistent, %d on clusters), slowest NVRTC compile %.0f ms "
           "(%s)\n", n, npersist, ncluster, worst, worst_case);
    CHECK(npersist > 0 && ncluster > 0);
}

/* The norms at 32768 columns run 1024-thread blocks (64 registers a
 * thread) holding x, w and b as loaded: 168 (rmsnorm) and 536 (layernorm)
 * bytes of spill stores when they were held in f32, 1.6-2.2x slower. */
TEST(test_rows_norms_at_32768_columns_hold_rows_as_loaded_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const char *const norms[][2] = {
        {"rmsnorm", NULL}, {"rmsnorm", "dtype=f16"}, {"layernorm", "bias=1"}, {"layernorm", "bias=0"}};
    for (int r = 0; r < 4; r++) {
        tj_graph *g = recipe(norms[r][0], norms[r][1], NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, 32768, vals);
        char *src, why[200];
        emit_launch L;
        CHECKF(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1, "%s", why);
        if (src) {
            CHECK(strstr(src, "tj::rows::chunk<") && strstr(src, "tj::rows::renew("));
            double ms;
            int spills;
            CHECKF(!compile_src(src, "sm_90a", &ms, &spills), "%s %s", norms[r][0],
                   norms[r][1] ? norms[r][1] : "");
            CHECKF(spills == 0, "%s %s at 32768: %d bytes of spill stores", norms[r][0],
                   norms[r][1] ? norms[r][1] : "", spills);
        }
        free(src);
        tj_graph_free(g);
    }
}

/* The staged walk at ragged widths, alone and in clusters, compiles for
 * sm_90a: norms without spills (the model's pick where 2 blocks hold the
 * row), softmax too (a bench variant; f32 at 32769 spills 4 bytes); the
 * same graphs compile for sm_80, where nothing is staged. */
TEST(test_rows_staged_kernels_compile_without_spills_at_ragged_widths) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const char *const names[][2] = {{"softmax", NULL},     {"rmsnorm", NULL},
                                           {"layernorm", "bias=1"}, {"softmax", "dtype=f32"},
                                           {"rmsnorm", "dtype=f16"}, {"layernorm", "bias=0"}};
    static const int64_t cols[] = {32769, 40000, 65537};
    int n = 0;
    for (int r = 0; r < 6; r++) {
        tj_graph *g = recipe(names[r][0], names[r][1], NULL);
        CHECK(g);
        for (int w = 0; w < 3; w++) {
            int64_t vals[8];
            bind(g, cols[w], vals);
            for (int a = 0; a < 2; a++) {
                /* forced (the model's pick for norms where it fits 2 blocks;
                 * 65537 takes 3) */
                rows_forced = (rows_force){0};
                rows_forced.mode = ROWS_STAGE;
                char *src, why[200];
                emit_launch L;
                int took = rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why);
                rows_forced = (rows_force){0};
                /* rows over 64 elements a thread at 1024 threads: no block holds them on sm_80 */
                if (!a && took == 0 && strstr(why, "elements a thread")) continue;
                CHECKF(took == 1, "%s %s cols=%lld: %s", names[r][0],
                       names[r][1] ? names[r][1] : "", (long long)cols[w], why);
                CHECK(!strstr(src, "stage_issue") == !a);
                double ms;
                int spills;
                CHECKF(!compile_src(src, a ? "sm_90a" : "sm_80", &ms, &spills), "%s %s cols=%lld",
                       names[r][0], names[r][1] ? names[r][1] : "", (long long)cols[w]);
                CHECKF(!a || r == 0 || r == 3 || spills == 0,
                       "%s %s cols=%lld: %d bytes of spill stores", names[r][0],
                       names[r][1] ? names[r][1] : "", (long long)cols[w], spills);
                n++;
                free(src);
            }
        }
        tj_graph_free(g);
    }
    printf("  %d kernels compiled\n", n);
}

/* The two-pass walk (rows_twopass.c): softmax over rows no block holds is
 * read twice, its max and sum folded as (max, sum) pairs group by group
 * (the max taken on the row as loaded), the row kept in L2 between the
 * reads; rmsnorm forced onto it folds its sum of squares, a tile of 4
 * rows takes 4 groups of 128 threads; graphs whose reductions need a
 * third pass (layernorm's variance reads its mean) and an in-place
 * update never take it. */
TEST(test_rows_twopass_reads_a_wide_row_twice) {
    tj_graph *g = recipe("softmax", NULL, NULL);
    int64_t vals[8];
    bind(g, 65536, vals);
    char *src, why[200];
    emit_launch L;
    /* the model's form on sm_80; the L2 form forced on sm_90a (the model's is the ring) */
    for (int a = 0; a < 2; a++) {
    rows_forced = (rows_force){.mode = a ? ROWS_TWOPASS : ROWS_AUTO};
    CHECK(rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why) == 1);
    rows_forced = (rows_force){0};
    CHECK(L.threads == 512 && L.grid_mode == EMIT_GRID_GRAPH && L.smem_bytes == 0);
    if (src) {
        const char *p1 = strstr(src, "// pass 1"), *p2 = strstr(src, "// pass 2");
        CHECK(p1 && p2 && p1 < p2 && strstr(src, "__launch_bounds__(512, 2)"));
        const char *keep = strstr(src, "ldv_l2<tj::bf16, V>(q_p + j0, q_keep)");
        const char *drop = strstr(src, "ldv_l2<tj::bf16, V>(q_p + j0, q_drop)");
        CHECK(keep && drop && keep > p1 && keep < p2 && drop > p2);
        CHECK(strstr(src, "tj::rows::stv_l2(q_p + j0, tj::rows::to_chunk(tj::bf16{}, q_v), q_drop)"));
        CHECK(strstr(src, "tj::rows::packed_max<false>(") && strstr(src, "pair_op::apply(q_pacc"));
        const char *red = strstr(src, "pair_reduce<TR>(q_pacc, q_ppart)");
        CHECK(red && red > p1 && red < p2 && !strstr(red + 1, "group_reduce<"));
        /* exp read once a pass, written where read: no f32 copy of a group */
        CHECK(!strstr(src, "float v6[S]") && !strstr(src, "cluster_"));
    }
    free(src);
    }
    /* rev: pass 2 from the last group (pass 1 in order) */
    rows_forced = (rows_force){.mode = ROWS_TWOPASS, .rev = 1};
    CHECK(rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why) == 1);
    rows_forced = (rows_force){0};
    if (src) {
        const char *p1 = strstr(src, "// pass 1"), *p2 = strstr(src, "// pass 2");
        const char *r = strstr(src, "const int cb = (1 - q_g) * TR * C;");
        CHECK(p1 && p2 && r && r > p2 && strstr(p1, "const int cb = q_g * TR * C;") < p2);
    }
    free(src);
    tj_graph_free(g);

    static const struct { const char *name, *param; int takes; } cs[] = {
        {"rmsnorm", NULL, 1}, {"softmax", "dtype=f32", 1}, {"layernorm", "bias=1", 0},
        {"softmax", "bm=4", 1}, /* 4 rows a tile: 4 groups of 128 threads (forced only) */
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        g = recipe(cs[i].name, cs[i].param, NULL);
        CHECK(g);
        bind(g, 40000, vals);
        rows_forced = (rows_force){.mode = ROWS_TWOPASS};
        int took = rows_emit_at(g, "sm_90a", vals, &src, &L, why, sizeof why);
        rows_forced = (rows_force){0};
        CHECKF(took == 1 || !cs[i].takes, "%s: %s", cs[i].name, why);
        if (took == 1 && src) {
            int twopass = strstr(src, "// two-pass") != NULL;
            CHECKF(twopass == cs[i].takes, "%s %s: two-pass %d", cs[i].name,
                   cs[i].param ? cs[i].param : "", twopass);
            if (twopass && !strcmp(cs[i].name, "rmsnorm")) {
                CHECK(strstr(src, "group_reduce<tj::rows::sum_op, TR>(q_acc"));
                /* pass 2: x read for the last time evict-first, the weight
                 * row (every row's) with the default policy */
                const char *p2 = strstr(src, "// pass 2"), *w = p2 ? strstr(p2, "// load w") : NULL;
                const char *wl = w ? strstr(w, "tj::rows::ldv") : NULL;
                CHECK(p2 && strstr(p2, "(q_p + j0, q_drop)") && wl && !strncmp(wl, "tj::rows::ldv<", 14));
            }
            if (twopass && cs[i].param && !strcmp(cs[i].param, "bm=4"))
                CHECK(strstr(src, "TR = 128") && strstr(src, "R = 4") && L.threads == 512);
        }
        free(src);
        tj_graph_free(g);
    }
    rowg r;
    rowg_begin(&r, 1);
    tj_store(r.g, r.x, r.at, tj_sub(r.g, r.x_tile, tj_rowmax(r.g, r.x_tile)), NULL, 0);
    int64_t v2[2] = {1000, 65536};
    rows_forced = (rows_force){.mode = ROWS_TWOPASS};
    CHECK(rows_emit_at(r.g, "sm_90a", v2, &src, &L, why, sizeof why) == 1);
    rows_forced = (rows_force){0};
    if (src) CHECK(!strstr(src, "// two-pass"));
    free(src);
    tj_graph_free(r.g);
}

/* The two-pass walk staged (rows_twopass.c, rows_walk.c): on sm_90a the
 * model reads softmax's rows over 32768 bf16 columns from a ring of
 * group buffers the bulk copy engine fills, one block an SM walking the
 * rows: pass 1 waits for each group's buffer, pass 2 reads it again and
 * then, after a barrier, has it refilled with the group NB ahead; the
 * ring holds more groups than a row. The model takes it only where the
 * groups cover the row exactly (not 40000, 65537); forced, any width.
 * Where it does not fit (f32 at 65536: 8 groups of 32 KB) or on sm_80
 * the L2 form; rmsnorm forced onto it stages x and loads its weight row
 * in pass 2; a tile of 4 rows keeps the L2 form. */
TEST(test_rows_twopass_ring_stages_the_groups_in_shared_memory) {
    static const struct { const char *name, *param; int64_t cols; int force, ring, ng; } cs[] = {
        /* the model: groups covering the row exactly only */
        {"softmax", NULL, 65536, 0, 1, 4},        {"softmax", "dtype=f16", 65536, 0, 1, 4},
        {"softmax", NULL, 40000, 0, 0, 0},        {"softmax", "dtype=f16", 65537, 0, 0, 0},
        {"softmax", "dtype=f32", 65536, 0, 0, 0},
        /* forced */
        {"softmax", NULL, 40000, 1, 1, 3},        {"softmax", "dtype=f16", 65537, 1, 1, 5},
        {"softmax", "dtype=f32", 40000, 1, 1, 5}, {"rmsnorm", NULL, 40000, 1, 1, 3},
        {"softmax", "dtype=f32", 65536, 1, 0, 0}, {"softmax", "bm=4", 40000, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        tj_graph *g = recipe(cs[i].name, cs[i].param, NULL);
        CHECK(g);
        int64_t vals[8];
        bind(g, cs[i].cols, vals);
        for (int a = 0; a < 2; a++) {
            char *src, why[200];
            emit_launch L;
            rows_forced = (rows_force){.mode = cs[i].force ? ROWS_TWOPASS : ROWS_AUTO, .ring = 1};
            int took = rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why);
            rows_forced = (rows_force){0};
            CHECKF(took == 1, "%s %s %lld: %s", cs[i].name, cs[i].param ? cs[i].param : "",
                   (long long)cs[i].cols, why);
            if (took != 1) continue;
            int ring = strstr(src, "// two-pass staged: ") != NULL;
            CHECKF(ring == (a && cs[i].ring), "%s %s %lld %s: ring %d", cs[i].name,
                   cs[i].param ? cs[i].param : "", (long long)cs[i].cols, a ? "sm_90a" : "sm_80",
                   ring);
            if (!ring) {
                CHECK(strstr(src, "// two-pass: ") && L.smem_bytes == 0);
                free(src);
                continue;
            }
            char want[64];
            snprintf(want, sizeof want, "// two-pass staged: %d groups", cs[i].ng);
            CHECKF(strstr(src, want), "%s %lld: not %s", cs[i].name, (long long)cs[i].cols, want);
            CHECK(L.grid_mode == EMIT_GRID_PERSISTENT && L.grid_arg == 1 && L.threads == 512);
            CHECK(L.smem_bytes > 0 && L.smem_bytes <= 227 * 1024);
            CHECK(strstr(src, "__launch_bounds__(512, 1)"));
            int nb = 0;
            const char *q = strstr(src, "constexpr int NB = ");
            if (q) nb = atoi(q + 19);
            CHECKF(nb > cs[i].ng, "%s %lld: %d buffers for %d groups", cs[i].name,
                   (long long)cs[i].cols, nb, cs[i].ng);
            const char *p1 = strstr(src, "// pass 1"), *p2 = strstr(src, "// pass 2");
            const char *w1 = p1 ? strstr(p1, "tj::rows::stage_wait(q_bar + q_sl, q_ph)") : NULL;
            CHECK(p1 && p2 && w1 && w1 < p2 && !strstr(p2, "stage_wait("));
            /* pass 2: the barrier, then the refill, after the stores */
            const char *st = p2 ? strstr(p2, "// store y") : NULL;
            const char *sy = st ? strstr(st, "__syncthreads();") : NULL;
            const char *is = sy ? strstr(sy, "tj::rows::stage_issue<") : NULL;
            CHECKF(st && sy && is && strstr(sy, "(q_k + NB) % NB") < is, "%s %lld", cs[i].name,
                   (long long)cs[i].cols);
            if (!strcmp(cs[i].name, "softmax"))
                CHECK(!strstr(src, "ldv") && strstr(src, "pair_op::apply(q_pacc"));
            if (!strcmp(cs[i].name, "softmax") && !cs[i].param)
                CHECK(strstr(src, "tj::rows::packed_max<false, C>(v"));
            if (!strcmp(cs[i].name, "rmsnorm")) {
                /* the weight row loaded where used in pass 2 */
                const char *w = p2 ? strstr(p2, "// load w") : NULL;
                CHECK(w && strstr(w, "tj::rows::ldv<"));
            }
            free(src);
        }
        tj_graph_free(g);
    }
}

/* Two-pass kernels at ragged widths (a last group partly past the row,
 * widths off the 16-byte grid), one row a block or four a tile, compile
 * for sm_90a and sm_80 without spills at their 64 registers. */
TEST(test_rows_twopass_kernels_compile_without_spills) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    static const char *const names[][2] = {{"softmax", NULL},
                                           {"softmax", "dtype=f16"},
                                           {"softmax", "dtype=f32"},
                                           {"rmsnorm", NULL},
                                           {"softmax", "bm=4"}};
    static const int64_t cols[] = {8200, 65537, 100001};
    int n = 0;
    for (int r = 0; r < 5; r++) {
        tj_graph *g = recipe(names[r][0], names[r][1], NULL);
        for (int w = 0; w < 3; w++) {
            for (int a = 0; a < 2; a++) {
                if (!a && w != 1) continue; /* time: sm_80 at one width */
                int64_t vals[8];
                bind(g, cols[w], vals);
                char *src, why[200];
                emit_launch L;
                /* 16 elements a group at 8200 columns: 2 groups; sm_90a: the ring */
                rows_forced = (rows_force){.mode = ROWS_TWOPASS, .elems = cols[w] < 16384 ? 16 : 0,
                                           .ring = a};
                int took = rows_emit_at(g, a ? "sm_90a" : "sm_80", vals, &src, &L, why, sizeof why);
                rows_forced = (rows_force){0};
                CHECKF(took == 1 && strstr(src, "// two-pass"), "%s %s cols=%lld: %s", names[r][0],
                       names[r][1] ? names[r][1] : "", (long long)cols[w], why);
                double ms;
                int spills;
                CHECKF(!compile_src(src, a ? "sm_90a" : "sm_80", &ms, &spills), "%s %s cols=%lld",
                       names[r][0], names[r][1] ? names[r][1] : "", (long long)cols[w]);
                CHECKF(spills == 0, "%s %s cols=%lld %s: %d bytes of spill stores", names[r][0],
                       names[r][1] ? names[r][1] : "", (long long)cols[w], a ? "sm_90a" : "sm_80",
                       spills);
                n++;
                free(src);
            }
        }
        tj_graph_free(g);
    }
    printf("  %d kernels compiled\n", n);
}

/* Random graph i's kernel compiles for arch (spills allowed). */
static void random_compiles(const char *src, const char *arch, int i, const char *desc) {
    double ms;
    int spills;
    CHECKF(!compile_src(src, arch, &ms, &spills), "graph %d (%s) for %s", i, desc, arch);
}

/* Random row graphs (broadcasts, casts, masks, row statistics) forced
 * onto the two-pass walk at 9001 columns (3 groups or more a row): those
 * it takes compile for sm_90a and sm_80; the GPU suite runs them. */
TEST(test_rows_random_graphs_on_the_twopass_walk_compile) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    int total = 120, taken = 0, tried = 0, staged = 0;
    for (int i = 0; i < total; i++) {
        rg_graph r;
        if (rg_build(harness_seed, i, &r) != TJ_OK) continue;
        int64_t vals[8];
        int n = tj_num_symbols(r.g), ok = n == 2;
        for (int s = 0; s < n && ok; s++) {
            const char *nm = tj_symbol_name(r.g, (tj_sym){s});
            ok = !strcmp(nm, "rows") || !strcmp(nm, "cols");
            vals[s] = !strcmp(nm, "cols") ? 9001 : 3;
        }
        if (!ok) {
            tj_graph_free(r.g);
            continue;
        }
        const char *arch = (i & 1) ? "sm_90a" : "sm_80";
        char *src = NULL, why[200];
        emit_launch L;
        /* sm_90a: staged (the ring) where it applies */
        rows_forced = (rows_force){.mode = ROWS_TWOPASS, .elems = 8, .ring = 1};
        int took = rows_emit_at(r.g, arch, vals, &src, &L, why, sizeof why);
        rows_forced = (rows_force){0};
        tried++;
        CHECKF(took >= 0, "graph %d (%s): %s", i, r.desc, why);
        if (took == 1 && strstr(src, "// two-pass")) {
            random_compiles(src, arch, i, r.desc);
            taken++;
            staged += strstr(src, "// two-pass staged") != NULL;
        }
        free(src);
        tj_graph_free(r.g);
    }
    printf("  %d of %d random row graphs took the two-pass walk (%d staged)\n", taken, tried,
           staged);
    CHECK(taken > 0);
}

TEST(test_rows_random_graphs_it_takes_compile) {
    if (!nvrtc_ok()) SKIP("NVRTC not available: %s", tj_last_error());
    int total = 200, taken = 0;
    const char *env = getenv("TJ_EMIT_GRAPHS");
    if (env && *env) total = atoi(env);
    for (int i = 0; i < total; i++) {
        rg_graph r;
        if (rg_build(harness_seed, i, &r) != TJ_OK) continue;
        int64_t vals[8];
        rg_bind(r.g, harness_seed, i % 3, vals);
        const char *arch = (i & 1) ? "sm_90a" : "sm_80";
        char *src, why[200];
        emit_launch L;
        int took = rows_emit_at(r.g, arch, vals, &src, &L, why, sizeof why);
        CHECKF(took >= 0, "graph %d (%s): %s", i, r.desc, why);
        if (took == 1) {
            random_compiles(src, arch, i, r.desc);
            taken++;
            free(src);
        }
        tj_graph_free(r.g);
    }
    printf("  %d of %d random graphs taken by rows\n", taken, total);
    CHECK(taken > 0);
}

int main(void) { return harness_main(); }
