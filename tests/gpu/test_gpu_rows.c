/*
 * test_gpu_rows.c — the `rows` schedule on a device, through the public
 * runtime (tj_kernel_create / tj_kernel_launch): every row recipe at
 * ragged widths and row counts, elementwise chains on 2-D grids, random
 * graphs the schedule takes (broadcasts, casts, masks, row statistics),
 * misaligned tensors (the element-by-element path) and an in-place
 * update, each against the CPU interpreter on random inputs with the
 * outputs poisoned first; the launch variants (the persistent prefetching
 * walk at narrow and mid widths, clusters sharing a row at 16384 columns
 * and more on sm_90+, the staged walk copying rows into shared memory
 * with the bulk copy engine on sm_90+) at row counts below, at and far
 * above one wave.
 * SKIPs without a device or NVRTC.
 */
#include "gpu_harness.h"
#include "randgraph.h"
#include "rows.h"

#define MAX_T 8

typedef struct rcase {
    int n;
    gpu_buf buf[MAX_T];
    void *ref[MAX_T];
    int stored[MAX_T];
    double scalars[MAX_T];
    uint64_t ptrs[MAX_T];
} rcase;

static void rcase_free(rcase *c) {
    for (int t = 0; t < c->n; t++) {
        gpu_buf_free(&c->buf[t]);
        free(c->ref[t]);
    }
    memset(c, 0, sizeof *c);
}

/* Inputs random, outputs poisoned, the interpreter run on the host copy.
 * `offset` elements of slack before every tensor (a misaligned base when
 * odd). */
static tj_status rcase_make(const tj_graph *g, const int64_t *vals, int offset, rcase *c) {
    memset(c, 0, sizeof *c);
    c->n = tj_num_tensors(g);
    if (c->n > MAX_T) return tj_set_error(TJ_ERR_INVALID_ARG, "rcase: too many tensors");
    int loaded[MAX_T] = {0};
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].op == IR_STORE) c->stored[g->nodes[i].tensor] = 1;
        if (g->nodes[i].op == IR_LOAD) loaded[g->nodes[i].tensor] = 1;
    }
    tj_status s = TJ_OK;
    for (int t = 0; t < c->n && s == TJ_OK; t++) {
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        int64_t n = 0;
        s = tj_tensor_extent(g, (tj_tensor){t}, vals, &n);
        if (s != TJ_OK) break;
        int integral = dt == TJ_I32 || dt == TJ_I64;
        if (c->stored[t] && !loaded[t]) /* written in place: random too */
            s = gpu_buf_poison(&c->buf[t], dt, (size_t)(n + offset));
        else
            s = gpu_buf_random(&c->buf[t], dt, (size_t)(n + offset), integral ? 0 : -2,
                               integral ? 7 : 2);
        if (s != TJ_OK) break;
        size_t es = tj_dtype_size(dt);
        c->ref[t] = malloc((size_t)n * es + 1);
        if (!c->ref[t]) {
            s = tj_set_error(TJ_ERR_NO_MEMORY, "rcase: out of memory");
            break;
        }
        memcpy(c->ref[t], (char *)c->buf[t].host + (size_t)offset * es, (size_t)n * es);
        c->ptrs[t] = c->buf[t].dev + (uint64_t)offset * es;
    }
    for (int i = 0; i < tj_num_scalars(g); i++) c->scalars[i] = harness_uniform(0.25, 1.0);
    if (s == TJ_OK) s = tj_interp_run(g, vals, c->ref, c->scalars, 0);
    if (s == TJ_OK) s = drv_context_sync();
    if (s != TJ_OK) rcase_free(c);
    return s;
}

/* Outputs against the interpreter: |got - want| <= tol * (|want| + mean|want|),
 * so small softmax probabilities are checked relatively, not against 1. */
static int rcase_check(const tj_graph *g, rcase *c, int offset, double tol, char *why, size_t n) {
    for (int t = 0; t < c->n; t++) {
        if (!c->stored[t]) continue;
        gpu_buf *b = &c->buf[t];
        if (gpu_buf_download(b) != TJ_OK) {
            snprintf(why, n, "download: %s", tj_last_error());
            return 0;
        }
        size_t es = tj_dtype_size(b->dtype), cnt = b->n - (size_t)offset;
        double scale = 0;
        for (size_t i = 0; i < cnt; i++) {
            double want = 0;
            tj_convert(TJ_F64, &want, b->dtype, (const char *)c->ref[t] + i * es, 1);
            if (isfinite(want)) scale += fabs(want) / (double)cnt;
        }
        double t0 = tol > 0 ? tol : gpu_tolerance(b->dtype);
        if (tol > 0) scale = 1.0; /* random graphs: as test_gpu_kernels.c compares them */
        /* f16's subnormal spacing (2^-24): an f32 result a hair off the
         * interpreter's rounds one subnormal step away (softmax over
         * 100001 columns: 1.7285e-06 against 1.6689e-06) */
        double floor = b->dtype == TJ_F16 ? 0x1p-24 : 0;
        for (size_t i = 0; i < cnt; i++) {
            double got = gpu_buf_get(b, i + (size_t)offset), want = 0;
            tj_convert(TJ_F64, &want, b->dtype, (const char *)c->ref[t] + i * es, 1);
            if (isnan(want) && isnan(got)) continue;
            if (isinf(want) && got == want) continue;
            if (!(fabs(got - want) <= t0 * (fabs(want) + scale) + floor + 1e-30)) {
                snprintf(why, n, "tensor %s[%zu] = %.6g, interpreter %.6g (tolerance %g, scale %g)",
                         tj_tensor_name(g, (tj_tensor){t}), i, got, want, t0, scale);
                return 0;
            }
        }
    }
    return 1;
}

/* The schedule the runtime picks for (g, vals) on this device. */
static int picks_rows(const tj_graph *g, const char *arch, const int64_t *vals) {
    char *src = NULL;
    if (tj_emit_cuda(g, arch, vals, &src) != TJ_OK) return 0;
    int rows = strncmp(src, "// schedule: rows", 17) == 0;
    tj_free(src);
    return rows;
}

/* Whether the rows kernel for (g, vals) has `what` in its header
 * ("// persistent", "// a cluster"). */
static int rows_variant(const tj_graph *g, const char *arch, const int64_t *vals, const char *what) {
    char *src = NULL;
    if (tj_emit_cuda(g, arch, vals, &src) != TJ_OK) return 0;
    const char *body = strstr(src, "#include");
    const char *hit = strstr(src, what);
    int yes = hit && (!body || hit < body);
    tj_free(src);
    return yes;
}

/* Launch g at vals through a tj_kernel and compare; 1 when it agrees. */
static int run_case(tj_kernel *k, const tj_graph *g, const int64_t *vals, int offset, double tol,
                    char *why, size_t n) {
    rcase c;
    if (rcase_make(g, vals, offset, &c) != TJ_OK) {
        snprintf(why, n, "setup: %s", tj_last_error());
        return 0;
    }
    tj_status st = tj_kernel_launch(k, c.ptrs, c.scalars, vals, NULL);
    if (st == TJ_OK) st = drv_context_sync();
    int ok = st == TJ_OK && rcase_check(g, &c, offset, tol, why, n);
    if (st != TJ_OK) snprintf(why, n, "launch: %s: %s", tj_status_name(st), tj_last_error());
    rcase_free(&c);
    return ok;
}

static tj_graph *recipe(const char *name, const char *p0, const char *p1) {
    const char *ps[2] = {p0, p1};
    tj_graph *g = NULL;
    if (tj_recipe_build(name, p0 ? (p1 ? 2 : 1) : 0, ps, &g) != TJ_OK)
        fprintf(stderr, "  %s: %s\n", name, tj_last_error());
    return g;
}

static tj_kernel *make(const tj_graph *g) {
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) fprintf(stderr, "  %s\n", tj_last_error());
    return k;
}

static void bind(const tj_graph *g, int64_t rows, int64_t cols, int64_t *vals) {
    for (int s = 0; s < tj_num_symbols(g); s++)
        vals[s] = strcmp(tj_symbol_name(g, (tj_sym){s}), "cols") ? rows : cols;
}

/* ---- tests ----------------------------------------------------------------- */

static const char *const row_recipes[][2] = {
    {"softmax", NULL},        {"rmsnorm", NULL},       {"layernorm", "bias=1"},
    {"layernorm", "bias=0"},  {"softmax", "dtype=f32"}, {"rmsnorm", "dtype=f16"},
    {"softmax", "bm=4"},      {"layernorm", "cols=pow2"},
};

TEST(test_gpu_rows_recipes_match_the_interpreter_at_ragged_sizes) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    static const int64_t cols[] = {1,    7,    100,   128,   1000,  1024,
                                   4097, 8192, 16384, 32768, 33000, 65536};
    static const int64_t rows[] = {1, 3, 37, 130};
    int ran = 0;
    for (size_t r = 0; r < sizeof row_recipes / sizeof row_recipes[0]; r++) {
        tj_graph *g = recipe(row_recipes[r][0], row_recipes[r][1], NULL);
        CHECK(g);
        tj_kernel *k = make(g);
        CHECK(k);
        for (size_t w = 0; w < sizeof cols / sizeof cols[0]; w++) {
            /* 4 rows of 32768 need more than 64 elements a thread: rows declines */
            if (cols[w] > 16384 && row_recipes[r][1] && !strcmp(row_recipes[r][1], "bm=4")) continue;
            int64_t vals[4];
            bind(g, rows[(w + r) % 4], cols[w], vals);
            CHECKF(picks_rows(g, dev.arch, vals), "%s %s cols=%lld: not the rows schedule",
                   row_recipes[r][0], row_recipes[r][1] ? row_recipes[r][1] : "",
                   (long long)cols[w]);
            char why[320] = "";
            CHECKF(run_case(k, g, vals, 0, 0, why, sizeof why), "%s %s rows=%lld cols=%lld: %s",
                   row_recipes[r][0], row_recipes[r][1] ? row_recipes[r][1] : "",
                   (long long)vals[0], (long long)cols[w], why);
            ran++;
        }
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
    printf("  %d recipe cases\n", ran);
}

TEST(test_gpu_rows_elementwise_chains_on_2d_grids) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    static const char *const ops[] = {"op=silu_mul", "op=gelu_mul", "op=gelu_tanh_mul",
                                      "op=add_relu", "op=add", "op=mul"};
    static const char *const tiles[] = {"bn=128", "bn=1024", "bn=64"};
    for (int o = 0; o < 6; o++) {
        tj_graph *g = recipe("eltwise", ops[o], tiles[o % 3]);
        tj_kernel *k = make(g);
        CHECK(g && k);
        int64_t vals[2];
        bind(g, 61 + 40 * o, 300 + 517 * o, vals);
        CHECK(picks_rows(g, dev.arch, vals));
        char why[320] = "";
        CHECKF(run_case(k, g, vals, 0, 0, why, sizeof why), "eltwise %s %s: %s", ops[o],
               tiles[o % 3], why);
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
}

TEST(test_gpu_rows_misaligned_tensors_take_the_element_path) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    const char *const names[] = {"rmsnorm", "softmax"};
    for (int r = 0; r < 2; r++) {
        tj_graph *g = recipe(names[r], NULL, NULL);
        tj_kernel *k = make(g);
        CHECK(g && k);
        int64_t vals[2];
        bind(g, 19, 2048, vals);
        char why[320] = "";
        CHECKF(run_case(k, g, vals, 3, 0, why, sizeof why), "%s offset by 3: %s", names[r], why);
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
}

TEST(test_gpu_rows_in_place_update_with_a_row_statistic) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_new("inplace", &g));
    tj_sym rows = tj_symbol(g, "rows", TJ_DYNAMIC, 0, 1);
    tj_sym cols = tj_symbol(g, "cols", TJ_EXACT, 0, 1);
    tj_dim d[2] = {tj_dim_sym(rows), tj_dim_sym(cols)};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_BF16, 2, d, NULL);
    tj_tensor st = tj_tensor_arg(g, "stat", TJ_F32, 1, d, NULL);
    tj_val at[2] = {tj_program_id(g, 0), tj_const(g, TJ_I32, 0)};
    tj_val t = tj_cast(g, tj_load(g, x, at, 2, (tj_dim[]){2, tj_dim_sym(cols)}, NULL, 0, 0), TJ_F32);
    tj_val m = tj_rowmax(g, t);
    tj_store(g, x, at, tj_cast(g, tj_sub(g, t, m), TJ_BF16), NULL, 0);
    tj_store(g, st, at, tj_reshape(g, m, 1, (tj_dim[]){2}), NULL, 0);
    tj_val grid = tj_binary(g, TJ_CDIV, tj_symval(g, rows), tj_const(g, TJ_I32, 2));
    tj_set_grid(g, 1, &grid);
    CHECK(tj_graph_status(g) == TJ_OK);
    tj_kernel *k = make(g);
    int64_t vals[2] = {77, 3000};
    CHECK(picks_rows(g, dev.arch, vals));
    char why[320] = "";
    CHECKF(run_case(k, g, vals, 0, 0, why, sizeof why), "%s", why);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_rows_random_graphs_it_takes_match_the_interpreter) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    int taken = 0, total = 120;
    for (int i = 0; i < total; i++) {
        rg_graph r;
        if (rg_build(harness_seed, i, &r) != TJ_OK) continue;
        int64_t vals[8];
        rg_bind(r.g, harness_seed, i % 3, vals);
        if (picks_rows(r.g, dev.arch, vals)) {
            tj_kernel *k = make(r.g);
            char why[320] = "";
            CHECKF(k && run_case(k, r.g, vals, 0, r.rtol, why, sizeof why), "graph %d (%s): %s", i,
                   r.desc, why);
            tj_kernel_destroy(k);
            taken++;
        }
        tj_graph_free(r.g);
    }
    printf("  %d of %d random graphs ran on the rows schedule\n", taken, total);
    CHECK(taken > 0);
}

/* g as graph <name>_v<v> (v > 0): the runtime caches kernels by graph,
 * bindings, schedule and arch, not by a variant the hook forces. */
static tj_graph *renamed(tj_graph *g, int v) {
    char *text = NULL, *out = NULL, name[64];
    tj_graph *h = NULL;
    if (!g || !v || tj_graph_print(g, &text) != TJ_OK) return g;
    snprintf(name, sizeof name, "graph %s\n", tj_graph_name(g));
    char *at = strstr(text, name);
    size_t len = strlen(text) + 16;
    if (at && (out = malloc(len))) {
        snprintf(out, len, "%.*sgraph %s_v%d\n%s", (int)(at - text), text, tj_graph_name(g), v,
                 at + strlen(name));
        if (tj_graph_parse(out, strlen(out), "variant", &h) != TJ_OK) h = NULL;
    }
    free(out);
    tj_free(text);
    tj_graph_free(g);
    return h;
}

/* The persistent walk: a group's programs f, f + stride, ...; rows fewer
 * than the grid's groups (most blocks idle), about one wave, and many
 * steps a group; ragged widths take the element path at the row's end
 * while the next row is in flight. */
TEST(test_gpu_rows_persistent_walk_matches_the_interpreter) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    static const char *const names[][2] = {{"softmax", NULL}, {"rmsnorm", NULL},
                                           {"layernorm", "bias=1"}, {"softmax", "bm=4"}};
    static const int64_t cols[] = {100, 128, 1000, 2048, 4097, 8192};
    static const int64_t rows[] = {1, 5, 1000, 20000};
    /* the walk at the model's 32 elements a thread (weight rows held or
     * reloaded where used as the model decides: these widths take the
     * plain kernel in the model, except layernorm's), then forced:
     * weight rows held across the walk at 16 elements a thread, a tight
     * register budget (4 blocks an SM), and rows and weight rows held as
     * loaded with L1 policies on the loads */
    static const rows_force forced[4] = {{ROWS_PERSIST, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                         {ROWS_PERSIST, 16, 0, 2, 0, 0, 0, 0, 0, 0, 0},
                                         {ROWS_PERSIST, 16, 4, 1, 0, 0, 0, 0, 0, 0, 0},
                                         {ROWS_PERSIST, 16, 0, 2, 2, 1, 0, 0, 0, 0, 0}};
    int ran = 0;
    for (int v = 0; v < 4; v++) {
        rows_forced = forced[v];
        for (int r = 0; r < 4; r++) {
            /* renamed for every variant, the first too: the knob is not in
             * the cache key, and the recipe test's kernels of the same
             * graphs (the model's: the plain kernel at these widths) would
             * be found and launched on the walk's grid */
            tj_graph *g = renamed(recipe(names[r][0], names[r][1], NULL), v + 1);
            tj_kernel *k = make(g);
            CHECK(g && k);
            for (int w = 0; w < 6; w++) {
                for (int n = 0; n < 4; n++) {
                    if (cols[w] * rows[n] > ((int64_t)1 << 25)) continue; /* interpreter time */
                    if (v && rows[n] > 1000) continue;
                    if (v == 3 && w % 2) continue; /* time: 3 widths of the last variant */
                    int64_t vals[4];
                    bind(g, rows[n], cols[w], vals);
                    CHECKF(rows_variant(g, dev.arch, vals, "// persistent"),
                           "%s cols=%lld: not the persistent walk", names[r][0], (long long)cols[w]);
                    char why[320] = "";
                    CHECKF(run_case(k, g, vals, 0, 0, why, sizeof why),
                           "%s %s rows=%lld cols=%lld variant %d: %s", names[r][0],
                           names[r][1] ? names[r][1] : "", (long long)rows[n], (long long)cols[w],
                           v, why);
                    ran++;
                }
            }
            tj_kernel_destroy(k);
            tj_graph_free(g);
        }
    }
    rows_forced = (rows_force){0};
    printf("  %d persistent cases\n", ran);
}

/* Clusters (sm_90+): each block of a program's cluster holds part of the
 * row; max, sum, mean and variance combine through distributed shared
 * memory. Ragged widths leave the last block a partial (or empty) part.
 * Softmax is forced onto them (the model reads its wide rows twice). */
TEST(test_gpu_rows_clusters_match_the_interpreter) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9) SKIP("clusters need sm_90 (device %s)", dev.arch);
    static const char *const names[][2] = {{"softmax", NULL}, {"rmsnorm", NULL},
                                           {"layernorm", "bias=1"}, {"softmax", "dtype=f32"}};
    static const int64_t cols[] = {16384, 32768, 33000, 65536};
    static const int64_t rows[] = {1, 3, 130};
    int ran = 0;
    for (int r = 0; r < 4; r++) {
        int soft = !strcmp(names[r][0], "softmax");
        rows_forced = (rows_force){.mode = soft ? ROWS_CLUSTER : ROWS_AUTO};
        tj_graph *g = recipe(names[r][0], names[r][1], NULL);
        if (soft) g = renamed(g, 40 + r);
        tj_kernel *k = make(g);
        CHECK(g && k);
        for (int w = 0; w < 4; w++) {
            for (int n = 0; n < 3; n++) {
                int64_t vals[4];
                bind(g, rows[n], cols[w], vals);
                if (!rows_variant(g, dev.arch, vals, "// a cluster")) continue;
                char why[320] = "";
                CHECKF(run_case(k, g, vals, 0, 0, why, sizeof why), "%s %s rows=%lld cols=%lld: %s",
                       names[r][0], names[r][1] ? names[r][1] : "", (long long)rows[n],
                       (long long)cols[w], why);
                ran++;
            }
        }
        tj_kernel_destroy(k);
        tj_graph_free(g);
    }
    rows_forced = (rows_force){0};
    printf("  %d cluster cases\n", ran);
    CHECK(ran >= 20);
}

/* Softmax's max and sum over a row split between blocks (or groups of a
 * thread's chunks) as (max, sum) pairs (rows_pair.c): rows where one
 * block's slice is all -inf (that block subtracts 0 and adds nothing),
 * where every element but one is -inf, where the whole row is -inf (NaN,
 * as the interpreter gives), where one slice sits 160 below the other
 * (its exponentials underflow against the row's max), then random rows;
 * on the model's kernel at 65536 columns (the two-pass walk), forced
 * clusters of 2 and 4 blocks and the staged pair. */
TEST(test_gpu_rows_softmax_split_rows_with_infinite_slices) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9) SKIP("clusters need sm_90 (device %s)", dev.arch);
    static const rows_force forced[] = {{ROWS_AUTO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                        {ROWS_CLUSTER, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                        {ROWS_CLUSTER, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                        {ROWS_STAGE, 64, 0, 0, 0, 0, 2, 0, 0, 0, 0}};
    static const int64_t cols[] = {65536, 32768, 65536, 65536};
    static const char *const kind[] = {"// two-pass", "// a cluster", "// a cluster", "// staged"};
    int ran = 0;
    for (int v = 0; v < 4; v++) {
        rows_forced = forced[v];
        tj_graph *g = renamed(recipe("softmax", NULL, NULL), 20 + v);
        tj_kernel *k = make(g);
        CHECK(g && k);
        int64_t vals[4];
        const int64_t nrows = 7, W = cols[v];
        bind(g, nrows, W, vals);
        CHECKF(rows_variant(g, dev.arch, vals, kind[v]), "variant %d: not %s", v, kind[v]);
        rcase c;
        CHECK_OK(rcase_make(g, vals, 0, &c));
        int x = -1;
        for (int t = 0; t < c.n; t++)
            if (!c.stored[t]) x = t;
        CHECK(x >= 0);
        if (x < 0) {
            rcase_free(&c);
            continue;
        }
        const double ninf = -INFINITY;
        for (int64_t i = 0; i < 5 * W; i++) {
            int64_t r = i / W, j = i % W;
            double u = harness_uniform(-2, 2), val = u;
            if (r == 0) val = j < W / 2 ? ninf : u;              /* block 0's slice (of 2 or 4) */
            else if (r == 1) val = j == W - 3 ? u : ninf;        /* one finite element */
            else if (r == 2) val = ninf;                         /* all -inf: NaN */
            else if (r == 3) val = j < W / 4 ? u + 80 : u - 80;  /* slices 160 apart */
            else if (r == 4) val = j >= W / 4 && j < W / 2 ? ninf : u; /* a middle slice */
            tj_convert(TJ_BF16, (char *)c.buf[x].host + i * 2, TJ_F64, &val, 1);
        }
        memcpy(c.ref[x], c.buf[x].host, (size_t)(nrows * W) * 2);
        CHECK_OK(gpu_buf_upload(&c.buf[x]));
        CHECK_OK(tj_interp_run(g, vals, c.ref, c.scalars, 0));
        tj_status st = tj_kernel_launch(k, c.ptrs, c.scalars, vals, NULL);
        if (st == TJ_OK) st = drv_context_sync();
        CHECKF(st == TJ_OK, "variant %d: launch: %s", v, tj_last_error());
        char why[320] = "";
        CHECKF(st == TJ_OK && rcase_check(g, &c, 0, 0, why, sizeof why), "variant %d cols %lld: %s",
               v, (long long)W, why);
        rcase_free(&c);
        tj_kernel_destroy(k);
        tj_graph_free(g);
        ran++;
    }
    rows_forced = forced[0];
    CHECK(ran == 4);
}

/* The staged walk (sm_90+): rows copied into shared-memory buffers by the
 * bulk copy engine, NB-1 programs ahead, alone or in clusters sharing a
 * row. Ragged widths leave the copy engine the 16-byte-aligned rows only
 * (65537 bf16: one row in 8) and their last bytes to the element path;
 * a misaligned base takes the element path for every row; rows from one
 * to many steps of the walk a block; two buffers, an L2 policy, forced
 * clusters and a tight grid of one block an SM. */
TEST(test_gpu_rows_staged_walk_matches_the_interpreter) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9) SKIP("the bulk copy engine needs sm_90 (device %s)", dev.arch);
    static const char *const names[][2] = {{"softmax", NULL}, {"rmsnorm", NULL},
                                           {"layernorm", "bias=1"}, {"softmax", "dtype=f32"},
                                           {"rmsnorm", "dtype=f16"}};
    /* (the model's staged norms at 16384 and 32768 run in the recipes test) */
    static const int64_t cols[] = {1000, 4097, 32769, 40000, 65536, 65537};
    static const int64_t rows[] = {1, 3, 100, 700};
    static const rows_force forced[] = {{ROWS_STAGE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                        {ROWS_STAGE, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0},
                                        {ROWS_STAGE, 16, 1, 0, 0, 0, 2, 0, 0, 0, 0}};
    int ran = 0;
    for (int v = 0; v < 3; v++) {
        rows_forced = forced[v];
        for (int r = 0; r < 5; r++) {
            tj_graph *g = renamed(recipe(names[r][0], names[r][1], NULL), 10 + v);
            tj_kernel *k = make(g);
            CHECK(g && k);
            for (int w = 0; w < 6; w++) {
                /* time (a compile a width): the other variants at 3 widths of 3 recipes */
                if (v && (w % 2 != 1 || r == 1 || r == 4)) continue;
                /* f32 rows of 65537 in a cluster of 2 exceed shared memory */
                if (v == 2 && r == 3 && cols[w] > 65536) continue;
                for (int n = 0; n < 4; n++) {
                    if (cols[w] * rows[n] > ((int64_t)1 << 23)) continue; /* interpreter time */
                    int64_t vals[4];
                    bind(g, rows[n], cols[w], vals);
                    CHECKF(rows_variant(g, dev.arch, vals, "// staged"),
                           "%s %s cols=%lld variant %d: not the staged walk", names[r][0],
                           names[r][1] ? names[r][1] : "", (long long)cols[w], v);
                    int offset = (w + n) % 5 == 4 ? 3 : 0;
                    char why[320] = "";
                    CHECKF(run_case(k, g, vals, offset, 0, why, sizeof why),
                           "%s %s rows=%lld cols=%lld offset %d variant %d: %s", names[r][0],
                           names[r][1] ? names[r][1] : "", (long long)rows[n], (long long)cols[w],
                           offset, v, why);
                    ran++;
                }
            }
            tj_kernel_destroy(k);
            tj_graph_free(g);
        }
    }
    rows_forced = forced[0];
    rows_forced.mode = ROWS_AUTO;
    printf("  %d staged cases\n", ran);
    CHECK(ran >= 60);
}

/* The two-pass walk (rows_twopass.c): the row read once for its
 * reductions and again for the stores, in groups of a thread's chunks,
 * the last one partly past a ragged width; softmax (its max and sum as
 * (max, sum) pairs, the max on the row as loaded) in bf16, f16 and f32,
 * and with 4 rows a tile (ragged row counts leave rows of the last tile
 * out), rmsnorm forced onto it, at a misaligned base (the element path),
 * at row counts below and above a wave, at the model's group size, at
 * 16 elements (many groups) and with pass 2 reversed. Then random row
 * graphs forced onto it. */
TEST(test_gpu_rows_twopass_matches_the_interpreter) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    static const char *const names[][2] = {{"softmax", NULL},   {"softmax", "dtype=f16"},
                                           {"softmax", "dtype=f32"}, {"rmsnorm", NULL},
                                           {"softmax", "bm=4"}};
    static const int64_t cols[] = {8200, 40000, 65536, 65537, 100001};
    static const int64_t rows[] = {1, 3, 300}, ring_rows[] = {3, 200, 300};
    int ran = 0, ring = 0, sm90 = !strncmp(dev.arch, "sm_9", 4);
    for (int v = 0; v < 4; v++) {
        /* the model's group size, 16 elements (many groups), pass 2 reversed;
         * v 3: staged in a ring of shared-memory buffers (sm_90), the
         * model's ring at odd widths, the smallest (a row's groups and
         * one) at even ones, so it turns over every few groups at the 200
         * and 300 rows that give a block 2 or 3 */
        rows_forced = (rows_force){.mode = ROWS_TWOPASS, .elems = v == 1 ? 16 : 0, .rev = v == 2};
        for (int r = 0; r < 5; r++) {
            if (v == 2 && r % 2) continue; /* time */
            if (v == 3 && (!sm90 || r == 4)) continue; /* no ring: sm_80, a tile of 4 rows */
            tj_graph *g = renamed(recipe(names[r][0], names[r][1], NULL), 30 + v);
            tj_kernel *k = make(g);
            CHECK(g && k);
            for (int w = 0; w < 5; w++) {
                if (v != 1 && v != 3 && cols[w] < 16384) continue; /* one group at the model's size */
                if ((v == 1 || v == 2) && w % 2) continue;      /* time */
                if (v == 3)
                    rows_forced = (rows_force){.mode = ROWS_TWOPASS, .ring = 1, .nb = w % 2 ? 0 : 1,
                                               .elems = cols[w] < 16384 ? 16 : 0};
                for (int n = 0; n < 3; n++) {
                    const int64_t nr = v == 3 ? ring_rows[n] : rows[n];
                    if (cols[w] * nr > ((int64_t)1 << 23)) continue; /* interpreter time */
                    int64_t vals[4];
                    bind(g, nr, cols[w], vals);
                    /* (the ring holds a row and a group more: not f32 at 65536, nor 100001) */
                    if (v == 3 && !rows_variant(g, dev.arch, vals, "// two-pass staged")) continue;
                    const char *want = v == 3 ? "// two-pass staged" : "// two-pass";
                    CHECKF(rows_variant(g, dev.arch, vals, want),
                           "%s %s cols=%lld variant %d: not %s", names[r][0],
                           names[r][1] ? names[r][1] : "", (long long)cols[w], v, want);
                    ring += v == 3;
                    int offset = (w + n) % 3 == 2 ? 3 : 0;
                    char why[320] = "";
                    CHECKF(run_case(k, g, vals, offset, 0, why, sizeof why),
                           "%s %s rows=%lld cols=%lld offset %d variant %d: %s", names[r][0],
                           names[r][1] ? names[r][1] : "", (long long)nr, (long long)cols[w],
                           offset, v, why);
                    ran++;
                }
            }
            tj_kernel_destroy(k);
            tj_graph_free(g);
        }
    }
    rows_forced = (rows_force){0};
    printf("  %d two-pass cases (%d staged in a ring)\n", ran, ring);
    CHECK(ran >= 40 && (!sm90 || ring >= 20));
    int taken = 0;
    for (int i = 0; i < 120; i++) {
        rg_graph rg;
        if (rg_build(harness_seed, i, &rg) != TJ_OK) continue;
        int n = tj_num_symbols(rg.g), ok = n == 2;
        int64_t vals[4];
        for (int q = 0; q < n && ok; q++) {
            const char *nm = tj_symbol_name(rg.g, (tj_sym){q});
            ok = !strcmp(nm, "rows") || !strcmp(nm, "cols");
            vals[q] = !strcmp(nm, "cols") ? 9001 : i % 2 ? 3 : 130;
        }
        rows_forced = (rows_force){.mode = ROWS_TWOPASS, .elems = 8};
        tj_graph *g = ok ? renamed(rg.g, 40) : rg.g;
        if (ok && rows_variant(g, dev.arch, vals, "// two-pass")) {
            tj_kernel *k = make(g);
            char why[320] = "";
            CHECKF(k && run_case(k, g, vals, 0, rg.rtol, why, sizeof why), "graph %d (%s): %s", i,
                   rg.desc, why);
            tj_kernel_destroy(k);
            taken++;
        }
        rows_forced = (rows_force){0};
        tj_graph_free(g);
    }
    printf("  %d random row graphs on the two-pass walk\n", taken);
    CHECK(taken > 0);
}

/* The model's staged walk is on by default (TJ_TEST_STAGE_AUTO=0: off, to
 * test the register walks at the widths it takes). */
int main(void) {
    const char *e = getenv("TJ_TEST_STAGE_AUTO");
    rows_stage_auto = !(e && !strcmp(e, "0"));
    e = getenv("TJ_TEST_FAST_EXP");   /* 0: rows_fast_exp off (on by default) */
    rows_fast_exp = !(e && !strcmp(e, "0"));
    return harness_main();
}
