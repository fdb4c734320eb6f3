/*
 * The public functions that use a finished graph — verify, print, parse,
 * hash, bindings, shapes, the grid, the interpreter, emit, compile — and
 * the recipes, called with invalid arguments: each returns an error status
 * with a non-empty message and the process keeps running. Failures that
 * need no GPU and no NVRTC: argument checks come first.
 */
#include <math.h>

#include "bad_input_util.h"

/* ================================================================== */
/* Verify, text, hash                                                 */
/* ================================================================== */

TEST(test_bad_verify_print_and_hash) {
    char *text = (char *)&text, hash[65];
    BAD(tj_graph_verify(NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_print(NULL, &text), TJ_ERR_INVALID_ARG);
    CHECK(text == NULL);
    BAD(tj_graph_hash(NULL, hash), TJ_ERR_INVALID_ARG);
    tj_graph *g = kernel();
    CHECK(g);
    BAD(tj_graph_print(g, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_hash(g, NULL), TJ_ERR_INVALID_ARG);
    tj_graph_free(g);
    /* A graph whose builder failed prints and hashes nothing. */
    fx f = fixture();
    CHECK(f.g);
    tj_transpose(f.g, f.pid);
    BAD(tj_graph_print(f.g, &text), TJ_ERR_VERIFY);
    BAD(tj_graph_hash(f.g, hash), TJ_ERR_VERIFY);
    tj_graph_free(f.g);
}

TEST(test_bad_parse_arguments) {
    tj_graph *g = (tj_graph *)&g;
    BAD(tj_graph_parse(NULL, 10, "x.tj", &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
    BAD(tj_graph_parse("tilejit 1\n", 10, "x.tj", NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_parse(NULL, 0, NULL, &g), TJ_ERR_PARSE);
    BAD(tj_graph_parse("", 0, "empty.tj", &g), TJ_ERR_PARSE);
    BAD(tj_graph_parse("hello", 5, NULL, &g), TJ_ERR_PARSE);
    BAD(tj_graph_parse("tilejit 1\n", SIZE_MAX, NULL, &g), TJ_ERR_PARSE); /* read no further */
    const char nul[] = "tilejit 1\ngraph a\0b\n";
    BAD(tj_graph_parse(nul, sizeof nul - 1, NULL, &g), TJ_ERR_PARSE);
    CHECK(g == NULL);
}

/* ================================================================== */
/* Bindings, shapes, grid evaluation                                  */
/* ================================================================== */

TEST(test_bad_bind_parse) {
    fx f = fixture();
    CHECK(f.g);
    int64_t v[2] = {TJ_UNBOUND, TJ_UNBOUND};
    BAD(tj_bind_parse(NULL, "M=16", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, NULL, v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=16", NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "=16", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "Q=16", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "x=16", v), TJ_ERR_INVALID_ARG); /* a tensor */
    BAD(tj_bind_parse(f.g, "M=", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=sixteen", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=16x", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=0", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=-16", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=24", v), TJ_ERR_INVALID_ARG); /* not a multiple of 16 */
    BAD(tj_bind_parse(f.g, "M=4294967296", v), TJ_ERR_INVALID_ARG);
    BAD(tj_bind_parse(f.g, "M=99999999999999999999999", v), TJ_ERR_INVALID_ARG);
    CHECK(v[0] == TJ_UNBOUND && v[1] == TJ_UNBOUND); /* nothing written on failure */
    tj_graph_free(f.g);
}

TEST(test_bad_graph_grid) {
    int64_t grid[3];
    tj_graph *g = kernel();
    CHECK(g);
    int64_t ok[1] = {32}, unbound[1] = {TJ_UNBOUND}, zero[1] = {0}, neg[1] = {-32},
            odd[1] = {40}, huge[1] = {INT64_MAX};
    BAD(tj_graph_grid(NULL, ok, grid), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_grid(g, ok, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_grid(g, NULL, grid), TJ_ERR_UNBOUND);
    BAD(tj_graph_grid(g, unbound, grid), TJ_ERR_UNBOUND);
    BAD(tj_graph_grid(g, zero, grid), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_grid(g, neg, grid), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_grid(g, odd, grid), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_grid(g, huge, grid), TJ_ERR_INVALID_ARG);
    CHECK_OK(tj_graph_grid(g, ok, grid));
    CHECK(grid[0] == 2 && grid[1] == 1 && grid[2] == 1);
    tj_graph_free(g);
    fx f = fixture(); /* no grid set */
    CHECK(f.g);
    BAD(tj_graph_grid(f.g, ok, grid), TJ_ERR_VERIFY);
    tj_transpose(f.g, f.pid);
    BAD(tj_graph_grid(f.g, ok, grid), TJ_ERR_VERIFY); /* the builder error */
    tj_graph_free(f.g);
}

TEST(test_bad_tensor_shape_and_extent) {
    tj_graph *g = kernel();
    CHECK(g);
    int64_t dims[TJ_MAX_RANK], strides[TJ_MAX_RANK], n;
    int64_t ok[1] = {32}, unbound[1] = {TJ_UNBOUND}, zero[1] = {0}, odd[1] = {8},
            big[1] = {(int64_t)1 << 31};
    tj_tensor x = {0};
    BAD(tj_tensor_shape(NULL, x, ok, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_shape(g, NO_TENSOR, ok, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_shape(g, (tj_tensor){2}, ok, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_shape(g, x, NULL, dims, strides), TJ_ERR_UNBOUND);
    BAD(tj_tensor_shape(g, x, unbound, dims, strides), TJ_ERR_UNBOUND);
    BAD(tj_tensor_shape(g, x, zero, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_shape(g, x, odd, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_shape(g, x, big, dims, strides), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_extent(NULL, x, ok, &n), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_extent(g, x, ok, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_extent(g, (tj_tensor){5}, ok, &n), TJ_ERR_INVALID_ARG);
    BAD(tj_tensor_extent(g, x, unbound, &n), TJ_ERR_UNBOUND);
    CHECK_OK(tj_tensor_shape(g, x, ok, NULL, NULL));
    CHECK_OK(tj_tensor_extent(g, x, ok, &n));
    CHECK(n == 32 * 64);
    tj_graph_free(g);
}

TEST(test_bad_interp_run) {
    tj_graph *g = kernel();
    CHECK(g);
    int64_t ok[1] = {32}, unbound[1] = {TJ_UNBOUND}, zero[1] = {0}, odd[1] = {17},
            neg[1] = {-32};
    float x[32 * 64], y[32 * 64];
    for (int i = 0; i < 32 * 64; i++) x[i] = (float)harness_uniform(-1, 1);
    void *bufs[2] = {x, y}, *half[2] = {x, NULL};
    double alpha[1] = {harness_uniform(0.5, 2)};
    BAD(tj_interp_run(NULL, ok, bufs, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, NULL, bufs, alpha, 0), TJ_ERR_UNBOUND);
    BAD(tj_interp_run(g, unbound, bufs, alpha, 0), TJ_ERR_UNBOUND);
    BAD(tj_interp_run(g, zero, bufs, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, neg, bufs, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, odd, bufs, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, ok, NULL, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, ok, half, alpha, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, ok, bufs, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD(tj_interp_run(g, ok, bufs, alpha, 0x10u), TJ_ERR_INVALID_ARG);
    CHECK_OK(tj_interp_run(g, ok, bufs, alpha, 0));
    for (int i = 0; i < 32 * 64; i++)
        CHECKF(fabsf(y[i] - x[i] * (float)alpha[0]) <= 1e-6f * fabsf(y[i]) + 1e-7f,
               "y[%d] = %g, want %g", i, y[i], x[i] * alpha[0]);
    tj_graph_free(g);
    /* A graph that does not verify is refused before anything runs. */
    fx f = fixture();
    CHECK(f.g);
    BAD(tj_interp_run(f.g, ok, bufs, alpha, 0), TJ_ERR_VERIFY);
    tj_graph_free(f.g);
}

/* ================================================================== */
/* Code generation (no GPU or NVRTC needed for these failures)        */
/* ================================================================== */

TEST(test_bad_emit_cuda) {
    tj_graph *g = kernel();
    CHECK(g);
    int64_t ok[1] = {32}, zero[1] = {0}, odd[1] = {8};
    char *src = (char *)&src;
    BAD(tj_emit_cuda(NULL, "sm_80", ok, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "sm_80", ok, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, NULL, ok, &src), TJ_ERR_INVALID_ARG);
    CHECK(src == NULL);
    BAD(tj_emit_cuda(g, "", ok, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "sm_70", ok, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "gfx90a", ok, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "sm_80; rm -rf", ok, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "sm_80", zero, &src), TJ_ERR_INVALID_ARG);
    {   /* An unbound symbol that sizes a tile cannot be a parameter. */
        tj_graph *t = NULL;
        CHECK_OK(tj_recipe_build("softmax", 0, NULL, &t));
        BAD(tj_emit_cuda(t, "sm_80", NULL, &src), TJ_ERR_UNBOUND);
        void *cb = NULL;
        size_t sz = 0;
        BAD(tj_compile(t, "sm_80", NULL, 0, &cb, &sz, NULL), TJ_ERR_UNBOUND);
        tj_graph_free(t);
    }
    BAD(tj_emit_cuda(g, "sm_80", zero, &src), TJ_ERR_INVALID_ARG);
    BAD(tj_emit_cuda(g, "sm_80", odd, &src), TJ_ERR_INVALID_ARG);
    tj_graph_free(g);
    fx f = fixture();
    CHECK(f.g);
    BAD(tj_emit_cuda(f.g, "sm_90a", ok, &src), TJ_ERR_VERIFY);
    tj_graph_free(f.g);
}

TEST(test_bad_compile) {
    tj_graph *g = kernel();
    CHECK(g);
    int64_t ok[1] = {32};
    void *cubin = &cubin;
    size_t size = 7;
    char *log = (char *)&log;
    BAD(tj_compile(g, "sm_80", ok, 0, NULL, &size, &log), TJ_ERR_INVALID_ARG);
    BAD(tj_compile(g, "sm_80", ok, 0, &cubin, NULL, &log), TJ_ERR_INVALID_ARG);
    BAD(tj_compile(g, "sm_80", ok, 0x40u, &cubin, &size, &log), TJ_ERR_INVALID_ARG);
    CHECK(cubin == NULL && size == 0 && log == NULL);
    BAD(tj_compile(NULL, "sm_80", ok, 0, &cubin, &size, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_compile(g, "sm_52", ok, 0, &cubin, &size, NULL), TJ_ERR_INVALID_ARG);
    CHECK(cubin == NULL);
    tj_graph_free(g);
}

/* ================================================================== */
/* Recipes                                                            */
/* ================================================================== */

TEST(test_bad_recipe_lookup_and_names) {
    tj_graph *g = (tj_graph *)&g;
    CHECK(tj_recipe_get(-1) == NULL);
    CHECK(tj_recipe_get(tj_recipe_count()) == NULL);
    CHECK(tj_recipe_get(INT32_MAX) == NULL);
    BAD(tj_recipe_build("gemm", 0, NULL, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build(NULL, 0, NULL, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
    BAD(tj_recipe_build("", 0, NULL, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("GEMM", 0, NULL, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("flash_attention_9", 0, NULL, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
}

TEST(test_bad_recipe_params) {
    tj_graph *g = NULL;
    const char *const none_key[] = {"=1"};
    const char *const no_eq[] = {"bm"};
    const char *const unknown[] = {"flavour=vanilla"};
    const char *const bad_num[] = {"bm=sixty"};
    const char *const bad_pow2[] = {"bm=48"};
    const char *const too_big[] = {"bm=99999999999999999999"};
    const char *const bad_dtype[] = {"dtype=f64"};
    const char *const twice[] = {"bm=64", "bm=128"};
    const char *const null_param[] = {NULL};
    const char *const bad_policy[] = {"m=sometimes"};
    const char *const bad_flag[] = {"bias=2"};
    BAD(tj_recipe_build("gemm", 1, none_key, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, no_eq, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, unknown, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, bad_num, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, bad_pow2, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, too_big, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, bad_dtype, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 2, twice, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, null_param, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, NULL, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", -1, NULL, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, bad_policy, &g), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_build("gemm", 1, bad_flag, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
    /* Every recipe refuses a key it does not have. */
    for (int i = 0; i < tj_recipe_count(); i++)
        BAD(tj_recipe_build(tj_recipe_get(i)->name, 1, unknown, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
}

TEST(test_bad_attention_params) {
    tj_graph *g = (tj_graph *)&g;
    tj_attention_params p;
    tj_attention_params_init(NULL); /* a no-op */
    tj_attention_params_init(&p);
    BAD(tj_recipe_attention(&p, NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_recipe_attention(NULL, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
#define BAD_P(field, value)                                   \
    do {                                                      \
        tj_attention_params_init(&p);                         \
        p.field = value;                                      \
        BAD(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG); \
        CHECK(g == NULL);                                     \
    } while (0)
    BAD_P(head_dim, 100);
    BAD_P(head_dim, 0);
    BAD_P(num_q_heads, 0);
    BAD_P(num_kv_heads, 3);  /* does not divide 8 */
    BAD_P(num_kv_heads, 16); /* more kv heads than q heads */
    BAD_P(num_q_heads, -8);
    BAD_P(block_m, 48);
    BAD_P(block_m, 512);
    BAD_P(block_n, 8);
    BAD_P(dtype, TJ_I32);
    BAD_P(dtype, TJ_F64);
    BAD_P(dtype, (tj_dtype)99);
    BAD_P(seq_policy, (tj_policy)9);
    BAD_P(seq_bucket, 64); /* dynamic takes no bucket */
    BAD_P(name, "not a name");
    tj_attention_params_init(&p);
    p.seq_policy = TJ_BUCKET_MULTIPLE;
    p.seq_bucket = 0;
    BAD(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG);
#undef BAD_P
}

int main(void) { return harness_main(); }
