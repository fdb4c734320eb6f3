/*
 * The generic CUDA lowering without a GPU: golden emitted text, and NVRTC
 * compiling every recipe and >= 200 random graphs for sm_80 and sm_90a.
 *
 * Golden files live in tests/golden/emit_*.cu; regenerate them (and review
 * the diff) with: TJ_REGEN_GOLDEN=1 build/tests/test_emit
 * TJ_EMIT_GRAPHS=N changes how many random graphs are compiled (200).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "golden.h"
#include "harness.h"
#include "emit.h"
#include "randgraph.h"

static tj_graph *small_softmax(void) {
    tj_graph *g = NULL;
    if (tj_graph_new("small_softmax", &g) != TJ_OK) return NULL;
    tj_sym rows = tj_symbol(g, "rows", TJ_DYNAMIC, 0, 1);
    tj_sym cols = tj_symbol(g, "cols", TJ_EXACT, 0, 1);
    tj_dim d[2] = {tj_dim_sym(rows), tj_dim_sym(cols)};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_BF16, 2, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_BF16, 2, d, NULL);
    tj_val r = tj_program_id(g, 0), z = tj_const(g, TJ_I32, 0);
    tj_val t = tj_cast(g, tj_load(g, x, (tj_val[]){r, z}, 2, (tj_dim[]){4, tj_dim_sym(cols)}, NULL,
                                  -INFINITY, 0), TJ_F32);
    tj_name(g, t, "row");
    tj_val m = tj_rowmax(g, t);
    tj_val p = tj_exp(g, tj_sub(g, t, m));
    tj_val out = tj_div(g, p, tj_rowsum(g, p));
    tj_name(g, out, "probs");
    tj_store(g, y, (tj_val[]){r, z}, out, NULL, 0);
    tj_val grid = tj_binary(g, TJ_CDIV, tj_symval(g, rows), tj_const(g, TJ_I32, 4));
    tj_set_grid(g, 1, &grid);
    return g;
}

static tj_graph *small_gemm(void) {
    tj_graph *g = NULL;
    if (tj_graph_new("small_gemm", &g) != TJ_OK) return NULL;
    tj_sym K = tj_symbol(g, "K", TJ_EXACT, 0, 16);
    tj_tensor a = tj_tensor_arg(g, "a", TJ_F16, 2, (tj_dim[]){64, tj_dim_sym(K)}, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_F16, 2, (tj_dim[]){64, tj_dim_sym(K)}, NULL);
    tj_tensor c = tj_tensor_arg(g, "c", TJ_F32, 2, (tj_dim[]){64, 64}, NULL);
    tj_val zero = tj_const(g, TJ_I32, 0), one = tj_const(g, TJ_I32, 1);
    /* one node a statement: argument evaluation order is unspecified, and
     * the golden text depends on the nodes' order (clang and gcc differ) */
    tj_val sixteen = tj_const(g, TJ_I32, 16);
    tj_val kv = tj_symval(g, K);
    tj_val nk = tj_binary(g, TJ_CDIV, kv, sixteen);
    tj_val acc0 = tj_full(g, TJ_F32, 2, (tj_dim[]){64, 64}, 0.0);
    tj_val k, acc, res;
    tj_for_begin(g, zero, nk, one, 1, &acc0, &k, &acc);
    tj_val at = tj_load(g, a, (tj_val[]){zero, k}, 2, (tj_dim[]){64, 16}, NULL, 0.0, 0);
    tj_val bt = tj_load(g, b, (tj_val[]){zero, k}, 2, (tj_dim[]){64, 16}, NULL, 0.0, 0);
    tj_val next = tj_mma(g, at, bt, acc, TJ_TRANS_B);
    tj_for_end(g, 1, &next, &res);
    tj_store(g, c, (tj_val[]){zero, zero}, tj_unary(g, TJ_RELU, res), NULL, 0);
    tj_set_grid(g, 1, &one);
    return g;
}

TEST(test_emit_golden_softmax) {
    tj_graph *g = small_softmax();
    CHECK(g && tj_graph_status(g) == TJ_OK);
    int64_t vals[2] = {TJ_UNBOUND, 100};
    char *src = NULL;
    /* The generic lowering's text, whichever schedule the runtime picks. */
    CHECK_OK(emit_kernel(g, "sm_90a", vals, "generic", &src, NULL));
    CHECK(strstr(src, "extern \"C\" __global__"));
    CHECK(strstr(src, "v_probs"));            /* names come from the graph */
    CHECK(strstr(src, "constexpr int sym_cols = 100;"));
    CHECK(strstr(src, "int sym_rows"));        /* dynamic: a parameter */
    CHECK(golden_matches("emit_softmax.cu", src));
    tj_free(src);
    tj_graph_free(g);
}

TEST(test_emit_golden_gemm) {
    tj_graph *g = small_gemm();
    CHECK(g && tj_graph_status(g) == TJ_OK);
    int64_t vals[1] = {48};
    char *src = NULL;
    CHECK_OK(emit_kernel(g, "sm_80", vals, "generic", &src, NULL));
    CHECK(golden_matches("emit_gemm.cu", src));
    tj_free(src);
    tj_graph_free(g);
}

TEST(test_emit_passes_unbound_exact_symbols_at_run_time) {
    tj_graph *g = small_gemm(); /* K sizes no tile */
    char *src = NULL;
    CHECK_OK(tj_emit_cuda(g, "sm_90a", NULL, &src));
    CHECK(strstr(src, "int sym_K"));
    CHECK(!strstr(src, "constexpr int sym_K"));
    tj_free(src);
    int64_t vals[1] = {32};
    CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &src));
    CHECK(strstr(src, "constexpr int sym_K = 32;"));
    tj_free(src);
    tj_graph_free(g);
}

TEST(test_emit_is_deterministic) {
    tj_graph *g = small_softmax();
    int64_t vals[2] = {TJ_UNBOUND, 77};
    char *a = NULL, *b = NULL;
    CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &a));
    CHECK_OK(tj_emit_cuda(g, "sm_90a", vals, &b));
    CHECK(!strcmp(a, b));
    tj_free(a);
    tj_free(b);
    tj_graph_free(g);
}

TEST(test_emit_rejects_bad_arch_and_unbound_symbols) {
    tj_graph *g = small_softmax();
    int64_t vals[2] = {TJ_UNBOUND, 64};
    char *src = NULL;
    CHECK_ERR(tj_emit_cuda(g, "sm_70", vals, &src), TJ_ERR_INVALID_ARG, "sm_80 or later");
    CHECK_ERR(tj_emit_cuda(g, "gfx90a", vals, &src), TJ_ERR_INVALID_ARG, "not a target name");
    CHECK_ERR(tj_emit_cuda(g, NULL, vals, &src), TJ_ERR_INVALID_ARG, "arch");
    int64_t unbound[2] = {TJ_UNBOUND, TJ_UNBOUND};
    CHECK_ERR(tj_emit_cuda(g, "sm_90a", unbound, &src), TJ_ERR_UNBOUND, "'cols' has no value");
    int64_t zero[2] = {TJ_UNBOUND, 0};
    CHECK_ERR(tj_emit_cuda(g, "sm_90a", zero, &src), TJ_ERR_INVALID_ARG, "1..2^31-1");
    CHECK_ERR(tj_emit_cuda(NULL, "sm_90a", vals, &src), TJ_ERR_INVALID_ARG, "NULL");
    CHECK(src == NULL);
    tj_graph_free(g);
}

TEST(test_emit_rejects_tiles_beyond_shared_memory) {
    tj_graph *g = small_softmax();
    int64_t vals[2] = {TJ_UNBOUND, 65536}; /* 4 x 65536 f32 staged: 1 MiB */
    char *src = NULL;
    CHECK_ERR(tj_emit_cuda(g, "sm_90a", vals, &src), TJ_ERR_UNSUPPORTED, "shared memory");
    tj_graph_free(g);
}

/* ---- NVRTC ---------------------------------------------------------- */

static int nvrtc_present(void) {
    tj_graph *g = small_gemm();
    int64_t vals[1] = {16};
    void *cubin = NULL;
    size_t size = 0;
    tj_status s = tj_compile(g, "sm_80", vals, 0, &cubin, &size, NULL);
    tj_free(cubin);
    tj_graph_free(g);
    return s != TJ_ERR_UNSUPPORTED;
}

static int is_cubin(const void *p, size_t n) {
    const unsigned char *b = p;
    return n > 64 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F' &&
           (b[18] | (b[19] << 8)) == 190; /* EM_CUDA */
}

static tj_status compile_one(const tj_graph *g, const char *arch, const int64_t *vals) {
    void *cubin = NULL;
    size_t size = 0;
    char *log = NULL;
    tj_status s = tj_compile(g, arch, vals, 0, &cubin, &size, &log);
    if (s == TJ_OK && !is_cubin(cubin, size)) {
        fprintf(stderr, "  compile for %s returned %zu bytes that are not a CUDA ELF cubin\n",
                arch, size);
        s = TJ_ERR_INTERNAL;
    }
    if (s != TJ_OK && log) fprintf(stderr, "%s\n", log);
    tj_free(cubin);
    tj_free(log);
    return s;
}

TEST(test_compile_writes_cubins_for_sm80_and_sm90a) {
    if (!nvrtc_present()) SKIP("NVRTC not found: %s", tj_last_error());
    tj_graph *g = small_gemm();
    int64_t vals[1] = {48};
    CHECK_OK(compile_one(g, "sm_80", vals));
    CHECK_OK(compile_one(g, "sm_90a", vals));
    void *cubin = NULL;
    size_t size = 0;
    CHECK_OK(tj_compile(g, "sm_90a", vals, TJ_COMPILE_IN_CHILD, &cubin, &size, NULL));
    CHECK(is_cubin(cubin, size));
    tj_free(cubin);
    tj_graph_free(g);
}

TEST(test_every_recipe_compiles_for_sm80_and_sm90a) {
    if (!nvrtc_present()) SKIP("NVRTC not found: %s", tj_last_error());
    CHECK(tj_recipe_count() > 0);
    for (int r = 0; r < tj_recipe_count(); r++) {
        const tj_recipe_info *info = tj_recipe_get(r);
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build(info->name, 0, NULL, &g));
        int64_t vals[16];
        for (int s = 0; s < tj_num_symbols(g) && s < 16; s++) vals[s] = 100 + 16 * s;
        /* Divisibility may be declared: round up to it. */
        for (int s = 0; s < tj_num_symbols(g) && s < 16; s++) {
            char bind[96];
            for (int64_t v = vals[s];; v++) {
                snprintf(bind, sizeof bind, "%s=%lld", tj_symbol_name(g, (tj_sym){s}), (long long)v);
                if (tj_bind_parse(g, bind, vals) == TJ_OK) break;
            }
        }
        tj_status st = compile_one(g, "sm_80", vals);
        CHECKF(st == TJ_OK, "recipe %s sm_80: %s", info->name, tj_last_error());
        st = compile_one(g, "sm_90a", vals);
        CHECKF(st == TJ_OK, "recipe %s sm_90a: %s", info->name, tj_last_error());
        tj_graph_free(g);
    }
}

/* Random graphs compile in two threads: NVRTC is thread-safe. */
typedef struct job {
    atomic_int next;
    int total;
    atomic_int failed;
    atomic_int compiled;
} job;

static void *compile_worker(void *arg) {
    job *j = arg;
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->total) return NULL;
        rg_graph r;
        if (rg_build(harness_seed, i, &r) != TJ_OK) {
            fprintf(stderr, "  random graph %d: %s\n", i, tj_last_error());
            atomic_fetch_add(&j->failed, 1);
            continue;
        }
        int64_t vals[8];
        rg_bind(r.g, harness_seed, i % 3, vals);
        const char *arch = (i & 1) ? "sm_90a" : "sm_80";
        for (int pass = 0; pass < 2; pass++, arch = (i & 1) ? "sm_80" : "sm_90a") {
            tj_status s = compile_one(r.g, arch, vals);
            if (s != TJ_OK) {
                fprintf(stderr, "  random graph %d (%s) for %s: %s\n", i, r.desc, arch,
                        tj_last_error());
                atomic_fetch_add(&j->failed, 1);
                break;
            }
            atomic_fetch_add(&j->compiled, 1);
        }
        tj_graph_free(r.g);
    }
}

TEST(test_random_graphs_compile_for_sm80_and_sm90a) {
    if (!nvrtc_present()) SKIP("NVRTC not found: %s", tj_last_error());
    job j;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    atomic_init(&j.compiled, 0);
    const char *env = getenv("TJ_EMIT_GRAPHS");
    j.total = env && *env ? atoi(env) : 200;
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, compile_worker, &j);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    printf("  %d random graphs, %d cubins, %d failures\n", j.total, atomic_load(&j.compiled),
           atomic_load(&j.failed));
    CHECK(atomic_load(&j.failed) == 0);
    CHECK(atomic_load(&j.compiled) == 2 * j.total);
}

int main(void) { return harness_main(); }
