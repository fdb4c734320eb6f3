/*
 * Every public function of tilejit.h that builds or queries a graph, and
 * the dtype helpers, called with invalid arguments: NULL graphs and out
 * pointers, TJ_NONE and out-of-range handles, handles from another graph,
 * wrong dtypes, bad axes and shapes, overflow-sized dims, bad names.
 * (test_bad_input_run.c covers the functions that use a finished graph.)
 * Each call must return an error status (or a TJ_NONE handle with the
 * error recorded on the graph) and a non-empty message, and the process
 * must keep running. Getters that return a value answer a documented
 * "none" value instead.
 */
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bad_input_util.h"

/* ================================================================== */
/* Status, version, dtypes                                            */
/* ================================================================== */

TEST(test_bad_status_and_dtype_codes_give_none_values) {
    CHECK(!strcmp(tj_status_name((tj_status)-1), "TJ_ERR_UNKNOWN"));
    CHECK(!strcmp(tj_status_name((tj_status)1000), "TJ_ERR_UNKNOWN"));
    CHECK(tj_dtype_name(TJ_DTYPE_COUNT) == NULL);
    CHECK(tj_dtype_name((tj_dtype)-1) == NULL);
    CHECK(tj_dtype_size(TJ_DTYPE_COUNT) == 0);
    CHECK(tj_dtype_size((tj_dtype)-7) == 0);
    CHECK(tj_unary_name(TJ_UNARY_COUNT) == NULL && tj_unary_name((tj_unop)-1) == NULL);
    CHECK(tj_binary_name(TJ_BINARY_COUNT) == NULL && tj_binary_name((tj_binop)-1) == NULL);
    CHECK(tj_reduce_name(TJ_REDUCE_COUNT) == NULL && tj_reduce_name((tj_redop)-1) == NULL);
    CHECK(tj_version() && tj_version_number() > 0);
    tj_free(NULL);
}

TEST(test_bad_dtype_from_name) {
    tj_dtype t;
    BAD(tj_dtype_from_name(NULL, &t), TJ_ERR_INVALID_ARG);
    BAD(tj_dtype_from_name("f32", NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_dtype_from_name("", &t), TJ_ERR_INVALID_ARG);
    BAD(tj_dtype_from_name("float", &t), TJ_ERR_INVALID_ARG);
    BAD(tj_dtype_from_name("F32", &t), TJ_ERR_INVALID_ARG);
    BAD(tj_dtype_from_name("f32 ", &t), TJ_ERR_INVALID_ARG);
}

TEST(test_bad_convert_dtypes_and_buffers) {
    float src[4] = {1.5f, -2.0f, 3.25f, 0.125f};
    uint16_t dst[4];
    BAD(tj_convert(TJ_DTYPE_COUNT, dst, TJ_F32, src, 4), TJ_ERR_INVALID_ARG);
    BAD(tj_convert(TJ_BF16, dst, (tj_dtype)-1, src, 4), TJ_ERR_INVALID_ARG);
    BAD(tj_convert((tj_dtype)1000, dst, (tj_dtype)1000, src, 4), TJ_ERR_INVALID_ARG);
    BAD(tj_convert(TJ_BF16, NULL, TJ_F32, src, 4), TJ_ERR_INVALID_ARG);
    BAD(tj_convert(TJ_BF16, dst, TJ_F32, NULL, 4), TJ_ERR_INVALID_ARG);
    CHECK_OK(tj_convert(TJ_BF16, NULL, TJ_F32, NULL, 0)); /* nothing to do */
}

/* ================================================================== */
/* Graphs, symbols, tensors, scalars, names                           */
/* ================================================================== */

TEST(test_bad_graph_new_names_and_out) {
    tj_graph *g = (tj_graph *)&g;
    BAD(tj_graph_new("ok", NULL), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_new(NULL, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
    BAD(tj_graph_new("", &g), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_new("9lives", &g), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_new("a-b", &g), TJ_ERR_INVALID_ARG);
    BAD(tj_graph_new("a b", &g), TJ_ERR_INVALID_ARG);
    char long_name[80];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    BAD(tj_graph_new(long_name, &g), TJ_ERR_INVALID_ARG);
    CHECK(g == NULL);
    tj_graph_free(NULL);
}

TEST(test_bad_graph_queries_on_null) {
    CHECK(tj_graph_name(NULL) == NULL);
    CHECK(tj_graph_status(NULL) == TJ_ERR_INVALID_ARG);
    CHECK(tj_graph_error(NULL) && tj_graph_error(NULL)[0]);
    CHECK(tj_num_symbols(NULL) == 0 && tj_num_tensors(NULL) == 0 && tj_num_scalars(NULL) == 0);
    CHECK(tj_find_symbol(NULL, "M").id == TJ_NONE_ID);
    CHECK(tj_symbol_name(NULL, (tj_sym){0}) == NULL);
    CHECK(tj_tensor_name(NULL, (tj_tensor){0}) == NULL);
    CHECK(tj_scalar_name(NULL, 0) == NULL);
    CHECK(tj_symbol_specialize(NULL, (tj_sym){0}, 5) == 0);
}

TEST(test_bad_symbol_arguments) {
    BAD_NULL_GRAPH(S(tj_symbol(NULL, "n", TJ_EXACT, 0, 1)), TJ_NONE_ID);
    BAD_BUILD(S(tj_symbol(f.g, NULL, TJ_EXACT, 0, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "", TJ_EXACT, 0, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "seq len", TJ_EXACT, 0, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "M", TJ_EXACT, 0, 1)), TJ_ERR_INVALID_ARG); /* taken */
    BAD_BUILD(S(tj_symbol(f.g, "n", (tj_policy)-1, 0, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", (tj_policy)4, 0, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_BUCKET_MULTIPLE, -64, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_BUCKET_MULTIPLE, INT64_MAX, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_EXACT, 16, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_EXACT, 0, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_EXACT, 0, -8)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(S(tj_symbol(f.g, "n", TJ_DYNAMIC, 0, INT64_MAX)), TJ_ERR_INVALID_ARG);
}

TEST(test_bad_symbol_queries) {
    fx f = fixture();
    CHECK(f.g);
    CHECK(tj_find_symbol(f.g, NULL).id == TJ_NONE_ID);
    CHECK(tj_find_symbol(f.g, "nope").id == TJ_NONE_ID);
    CHECK(tj_find_symbol(f.g, "x").id == TJ_NONE_ID); /* a tensor, not a symbol */
    CHECK(tj_symbol_name(f.g, (tj_sym){-1}) == NULL);
    CHECK(tj_symbol_name(f.g, (tj_sym){2}) == NULL);  /* beyond this graph's symbols */
    CHECK(tj_symbol_policy(f.g, (tj_sym){99}) == TJ_EXACT);
    CHECK(tj_symbol_specialize(f.g, (tj_sym){99}, 5) == 0);
    CHECK(tj_symbol_specialize(f.g, f.M, 0) == 0);
    CHECK(tj_symbol_specialize(f.g, f.M, -16) == 0);
    CHECK(tj_symbol_specialize(f.g, f.M, INT64_MAX) == 0);
    CHECK(tj_symbol_specialize(f.g, f.M, (int64_t)INT32_MAX + 1) == 0);
    CHECK(tj_symbol_specialize(f.g, f.M, TJ_UNBOUND) == 0);
    tj_graph_free(f.g);
}

TEST(test_bad_tensor_names_dtypes_and_ranks) {
    tj_dim d2[2] = {4, 4};
    BAD_NULL_GRAPH(T(tj_tensor_arg(NULL, "t", TJ_F32, 2, d2, NULL)), TJ_NONE_ID);
    BAD_BUILD(T(tj_tensor_arg(f.g, NULL, TJ_F32, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "", TJ_F32, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "x.y", TJ_F32, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "alpha", TJ_F32, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F64, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_DTYPE_COUNT, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", (tj_dtype)-3, 2, d2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, -1, d2, NULL)), TJ_ERR_INVALID_ARG);
    tj_dim d6[6] = {2, 2, 2, 2, 2, 2};
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 6, d6, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 2, NULL, NULL)), TJ_ERR_INVALID_ARG);
}

TEST(test_bad_tensor_dims_and_strides) {
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){0}, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){-1}, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){TJ_MAX_DIM + 1}, NULL)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){INT64_MAX}, NULL)),
              TJ_ERR_INVALID_ARG);
    /* A symbol of another graph: an id beyond this graph's symbols. */
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){tj_dim_sym((tj_sym){2})}, NULL)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 1, (tj_dim[]){tj_dim_sym((tj_sym){INT32_MAX})},
                              NULL)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 2, (tj_dim[]){4, 4}, (tj_dim[]){-1, 1})),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 2, (tj_dim[]){4, 4}, (tj_dim[]){4, INT64_MAX})),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(T(tj_tensor_arg(f.g, "t", TJ_F32, 2, (tj_dim[]){4, 4},
                              (tj_dim[]){tj_dim_sym((tj_sym){9}), 1})),
              TJ_ERR_INVALID_ARG);
}

/* Negative dims that encode no symbol of the graph: beyond its symbols,
 * or so large that the encoding's int32 id wraps (to a valid id, or to a
 * negative one). Each call runs in a child process so that a crash is
 * reported as this test's failure instead of ending the run. */
static const tj_dim alias_dims[] = {
    -4,                          /* symbol #2: this graph has two */
    -((int64_t)1 << 31) - 2,     /* id wraps to INT32_MIN */
    -((int64_t)1 << 32) - 2,     /* id wraps to 0, a real symbol */
    -((int64_t)1 << 32) - 3,     /* id wraps to 1 */
    INT64_MIN,
};

static int alias_call(int which, tj_dim d) {
    fx f = fixture();
    if (!f.g) return 2;
    int64_t r;
    tj_dim two[2] = {16, d};
    tj_clear_error();
    switch (which) {
    case 0: r = tj_tensor_arg(f.g, "t", TJ_F32, 2, two, NULL).id; break;
    case 1: r = tj_tensor_arg(f.g, "t", TJ_F32, 2, (tj_dim[]){4, 4}, two).id; break;
    case 2: r = tj_full(f.g, TJ_F32, 2, two, 0).id; break;
    case 3: r = tj_iota(f.g, TJ_I32, 2, two, 0).id; break;
    case 4: r = tj_load(f.g, f.x, (tj_val[]){f.pid, f.zero}, 2, two, NULL, 0, 0).id; break;
    case 5: r = tj_reshape(f.g, f.t, 2, two).id; break;
    default: r = tj_broadcast(f.g, f.fone, 2, two).id; break;
    }
    int ok = r == TJ_NONE_ID && tj_last_error()[0] && tj_graph_status(f.g) != TJ_OK;
    if (!ok)
        fprintf(stderr, "  call %d with dim %lld -> %lld \"%s\"\n", which, (long long)d,
                (long long)r, tj_last_error());
    tj_graph_free(f.g);
    return ok ? 0 : 1;
}

TEST(test_bad_dims_that_encode_no_symbol_of_the_graph) {
    const char *what[] = {"tj_tensor_arg dim", "tj_tensor_arg stride", "tj_full", "tj_iota",
                          "tj_load tile", "tj_reshape", "tj_broadcast"};
    int failed = 0;
    for (int which = 0; which < 7; which++)
        for (size_t i = 0; i < sizeof alias_dims / sizeof alias_dims[0]; i++) {
            fflush(stderr);
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) _exit(alias_call(which, alias_dims[i]));
            int st = 0;
            CHECK(waitpid(pid, &st, 0) == pid);
            if (WIFSIGNALED(st))
                fprintf(stderr, "  %s with dim %lld crashed (signal %d)\n", what[which],
                        (long long)alias_dims[i], WTERMSIG(st));
            else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "  %s accepted dim %lld\n", what[which], (long long)alias_dims[i]);
            else
                continue;
            failed++;
        }
    CHECKF(failed == 0, "%d calls crashed or accepted a dim that names no symbol", failed);
}

TEST(test_bad_tensor_align) {
    BAD(tj_tensor_set_align(NULL, (tj_tensor){0}, 16), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, NO_TENSOR, 16), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, (tj_tensor){2}, 16), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, f.x, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, f.x, -16), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, f.x, 24), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_tensor_set_align(f.g, f.x, 2), TJ_ERR_INVALID_ARG); /* < 4-byte elements */
    BAD_BUILD(tj_tensor_set_align(f.g, f.x, 1 << 20), TJ_ERR_INVALID_ARG);
}

TEST(test_bad_tensor_queries) {
    fx f = fixture();
    CHECK(f.g);
    tj_tensor far = {7}, none = NO_TENSOR;
    CHECK(tj_tensor_name(f.g, far) == NULL && tj_tensor_name(f.g, none) == NULL);
    CHECK(tj_tensor_dtype(f.g, far) == TJ_DTYPE_COUNT);
    CHECK(tj_tensor_rank(f.g, far) == -1);
    CHECK(tj_tensor_dim(f.g, far, 0) == -1);
    CHECK(tj_tensor_dim(f.g, f.x, -1) == -1 && tj_tensor_dim(f.g, f.x, 2) == -1);
    CHECK(tj_tensor_stride(f.g, f.x, 5) == -1 && tj_tensor_stride(f.g, none, 0) == -1);
    CHECK(tj_tensor_dtype(NULL, f.x) == TJ_DTYPE_COUNT && tj_tensor_rank(NULL, f.x) == -1);
    tj_graph_free(f.g);
}

TEST(test_bad_scalar_arguments) {
    BAD_NULL_GRAPH(V(tj_scalar_arg(NULL, "s", TJ_F32)), TJ_NONE_ID);
    BAD_BUILD(V(tj_scalar_arg(f.g, NULL, TJ_F32)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_scalar_arg(f.g, "", TJ_F32)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_scalar_arg(f.g, "x", TJ_F32)), TJ_ERR_INVALID_ARG); /* a tensor's name */
    BAD_BUILD(V(tj_scalar_arg(f.g, "s", TJ_F64)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_scalar_arg(f.g, "s", TJ_F8E4M3)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_scalar_arg(f.g, "s", (tj_dtype)77)), TJ_ERR_INVALID_ARG);
    fx f = fixture();
    CHECK(f.g);
    CHECK(tj_scalar_name(f.g, -1) == NULL && tj_scalar_name(f.g, 1) == NULL);
    CHECK(tj_scalar_dtype(f.g, 1) == TJ_DTYPE_COUNT && tj_scalar_dtype(NULL, 0) == TJ_DTYPE_COUNT);
    tj_graph_free(f.g);
}

TEST(test_bad_value_names) {
    BAD(tj_name(NULL, (tj_val){0}, "v"), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, TJ_NONE, "v"), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, FOREIGN, "v"), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, f.t, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, f.t, ""), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, f.t, "%t"), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, f.t, "1t"), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_name(f.g, f.t, "M"), TJ_ERR_INVALID_ARG);     /* a symbol's name */
    BAD_BUILD(tj_name(f.g, f.t, "alpha"), TJ_ERR_INVALID_ARG); /* a scalar's name */
}

TEST(test_bad_val_type_queries) {
    fx f = fixture();
    CHECK(f.g);
    tj_dtype dt;
    int rank;
    tj_dim dims[2];
    BAD(tj_val_type(NULL, f.t, &dt, &rank, dims), TJ_ERR_INVALID_ARG);
    BAD(tj_val_type(f.g, TJ_NONE, &dt, &rank, dims), TJ_ERR_INVALID_ARG);
    BAD(tj_val_type(f.g, FOREIGN, &dt, &rank, dims), TJ_ERR_INVALID_ARG);
    BAD(tj_val_type(f.g, (tj_val){INT32_MAX}, &dt, &rank, dims), TJ_ERR_INVALID_ARG);
    CHECK_OK(tj_val_type(f.g, f.t, NULL, NULL, NULL)); /* out pointers are optional */
    CHECK(tj_graph_status(f.g) == TJ_OK);               /* a query records nothing */
    tj_graph_free(f.g);
}

/* ================================================================== */
/* Values                                                             */
/* ================================================================== */

TEST(test_bad_constants_and_fulls) {
    BAD_NULL_GRAPH(V(tj_const(NULL, TJ_F32, 1)), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_full(NULL, TJ_F32, 1, (tj_dim[]){4}, 1)), TJ_NONE_ID);
    BAD_BUILD(V(tj_const(f.g, (tj_dtype)42, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_const(f.g, TJ_F64, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_const(f.g, TJ_I32, NAN)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_const(f.g, TJ_I64, INFINITY)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_const(f.g, TJ_I32, -2147483649.0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 3, (tj_dim[]){2, 2, 2}, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, -1, (tj_dim[]){2}, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 2, NULL, 1)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 1, (tj_dim[]){-1}, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 1, (tj_dim[]){INT64_MAX}, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 1, (tj_dim[]){TJ_MAX_DIM + 1}, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 1, (tj_dim[]){tj_dim_sym(f.D)}, 1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_full(f.g, TJ_F32, 1, (tj_dim[]){tj_dim_sym((tj_sym){5})}, 1)), TJ_ERR_VERIFY);
}

TEST(test_bad_symval_and_program_ids) {
    BAD_NULL_GRAPH(V(tj_symval(NULL, (tj_sym){0})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_program_id(NULL, 0)), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_num_programs(NULL, 0)), TJ_NONE_ID);
    BAD_BUILD(V(tj_symval(f.g, (tj_sym){TJ_NONE_ID})), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_symval(f.g, (tj_sym){2})), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_program_id(f.g, -1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_program_id(f.g, 3)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_num_programs(f.g, INT32_MAX)), TJ_ERR_VERIFY);
}

TEST(test_bad_iota) {
    BAD_NULL_GRAPH(V(tj_iota(NULL, TJ_I32, 1, (tj_dim[]){4}, 0)), TJ_NONE_ID);
    BAD_BUILD(V(tj_iota(f.g, TJ_I32, 0, NULL, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_iota(f.g, TJ_I32, 3, (tj_dim[]){2, 2, 2}, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_iota(f.g, TJ_I32, 1, NULL, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_iota(f.g, TJ_BOOL, 1, (tj_dim[]){4}, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_iota(f.g, TJ_I32, 1, (tj_dim[]){4}, -1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_iota(f.g, TJ_I32, 1, (tj_dim[]){4}, 1)), TJ_ERR_VERIFY);
}

/* ================================================================== */
/* Memory                                                             */
/* ================================================================== */

TEST(test_bad_load_handles_and_coords) {
    tj_dim tile[2] = {16, 64};
    tj_val c[2] = {{0}, {0}};
    BAD_NULL_GRAPH(V(tj_load(NULL, (tj_tensor){0}, c, 2, tile, NULL, 0, 0)), TJ_NONE_ID);
    BAD_BUILD(V(tj_load(f.g, NO_TENSOR, (tj_val[]){f.zero, f.zero}, 2, tile, NULL, 0, 0)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, (tj_tensor){2}, (tj_val[]){f.zero, f.zero}, 2, tile, NULL, 0, 0)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, NULL, 2, tile, NULL, 0, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, (tj_val[]){f.zero, TJ_NONE}, 2, tile, NULL, 0, 0)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, (tj_val[]){FOREIGN, f.zero}, 2, tile, NULL, 0, 0)),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, (tj_val[]){f.fone, f.zero}, 2, tile, NULL, 0, 0)),
              TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, (tj_val[]){f.t, f.zero}, 2, tile, NULL, 0, 0)), TJ_ERR_VERIFY);
}

TEST(test_bad_load_tiles_axes_and_flags) {
    tj_dim tile[2] = {16, 64};
#define XC ((tj_val[]){f.pid, f.zero})
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 3, (tj_dim[]){2, 2, 2}, NULL, 0, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, -1, tile, NULL, 0, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, NULL, NULL, 0, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_load(f.g, f.ix, &f.zero, 2, tile, NULL, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, (tj_dim[]){0, 64}, NULL, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, (tj_dim[]){16, INT64_MAX}, NULL, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, (tj_dim[]){-5, 64}, NULL, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 1, (tj_dim[]){tj_dim_sym(f.D)}, NULL, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 1, tile, (int[]){-1}, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 1, tile, (int[]){2}, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, tile, (int[]){0, 0}, 0, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.x, XC, 2, tile, NULL, 0, 0x80000000u)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_load(f.g, f.ix, &f.zero, 1, (tj_dim[]){64}, NULL, NAN, 0)), TJ_ERR_VERIFY);
#undef XC
}

TEST(test_bad_store_arguments) {
    tj_val c[2] = {{0}, {0}};
    BAD(tj_store(NULL, (tj_tensor){0}, c, (tj_val){0}, NULL, 0), TJ_ERR_INVALID_ARG);
#define XC ((tj_val[]){f.pid, f.zero})
    BAD_BUILD(tj_store(f.g, NO_TENSOR, XC, f.t, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, (tj_tensor){9}, XC, f.t, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, f.x, NULL, f.t, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, f.x, XC, TJ_NONE, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, f.x, XC, FOREIGN, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, f.x, (tj_val[]){f.pid, TJ_NONE}, f.t, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store(f.g, f.x, (tj_val[]){f.pid, f.fone}, f.t, NULL, 0), TJ_ERR_VERIFY);
    BAD_BUILD(tj_store(f.g, f.ix, &f.zero, f.t, NULL, 0), TJ_ERR_VERIFY); /* rank 2 into rank 1 */
    BAD_BUILD(tj_store(f.g, f.x, XC, f.t, (int[]){1, 1}, 0), TJ_ERR_VERIFY);
    BAD_BUILD(tj_store(f.g, f.x, XC, f.t, (int[]){0, 5}, 0), TJ_ERR_VERIFY);
    BAD_BUILD(tj_store(f.g, f.x, XC, f.t, NULL, 2u), TJ_ERR_VERIFY);
    /* masked: the mask must exist, be bool and broadcast to the value */
    BAD(tj_store_masked(NULL, (tj_tensor){0}, c, (tj_val){0}, (tj_val){0}, NULL, 0),
        TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store_masked(f.g, f.x, XC, f.t, FOREIGN, NULL, 0), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_store_masked(f.g, f.x, XC, f.t, f.t, NULL, 0), TJ_ERR_VERIFY);
    BAD_BUILD(tj_store_masked(f.g, f.x, XC, f.t, f.pid, NULL, 0), TJ_ERR_VERIFY);
    BAD_BUILD(tj_store_masked(f.g, f.x, XC, f.t, TJ_NONE, NULL, 0x100u), TJ_ERR_INVALID_ARG);
#undef XC
}

/* ================================================================== */
/* Compute                                                            */
/* ================================================================== */

TEST(test_bad_mma_arguments) {
    BAD_NULL_GRAPH(V(tj_mma(NULL, (tj_val){0}, (tj_val){0}, TJ_NONE, 0)), TJ_NONE_ID);
    BAD_BUILD(V(tj_mma(f.g, TJ_NONE, f.t, TJ_NONE, TJ_TRANS_B)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_mma(f.g, f.t, FOREIGN, TJ_NONE, TJ_TRANS_B)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_mma(f.g, f.t, f.t, (tj_val){-7}, TJ_TRANS_B)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_mma(f.g, f.t, f.t, TJ_NONE, 0)), TJ_ERR_VERIFY); /* [16,64] x [16,64] */
    BAD_BUILD(V(tj_mma(f.g, f.t, f.t, f.fone, TJ_TRANS_B)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_mma(f.g, f.t, f.t, TJ_NONE, ~0u)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_mma(f.g, f.fone, f.fone, TJ_NONE, 0)), TJ_ERR_VERIFY);
}

TEST(test_bad_unary_and_binary_ops) {
    BAD_NULL_GRAPH(V(tj_unary(NULL, TJ_EXP, (tj_val){0})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_binary(NULL, TJ_ADD, (tj_val){0}, (tj_val){0})), TJ_NONE_ID);
    BAD_BUILD(V(tj_unary(f.g, TJ_UNARY_COUNT, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_unary(f.g, (tj_unop)-1, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_unary(f.g, TJ_EXP, TJ_NONE)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_unary(f.g, TJ_LOG, f.pid)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_binary(f.g, TJ_BINARY_COUNT, f.t, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_binary(f.g, (tj_binop)-2, f.t, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_binary(f.g, TJ_ADD, f.t, FOREIGN)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_binary(f.g, TJ_ADD, f.t, f.pid)), TJ_ERR_VERIFY);  /* f32 + i32 */
    BAD_BUILD(V(tj_binary(f.g, TJ_CDIV, f.t, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_binary(f.g, TJ_XOR, f.t, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_binary(f.g, TJ_ADD, f.t, tj_full(f.g, TJ_F32, 1, (tj_dim[]){16}, 1))),
              TJ_ERR_VERIFY); /* [16,64] + [16] */
}

TEST(test_bad_where_fma_and_cast) {
    BAD_NULL_GRAPH(V(tj_where(NULL, (tj_val){0}, (tj_val){0}, (tj_val){0})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_fma(NULL, (tj_val){0}, (tj_val){0}, (tj_val){0})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_cast(NULL, (tj_val){0}, TJ_F32)), TJ_NONE_ID);
    BAD_BUILD(V(tj_where(f.g, TJ_NONE, f.t, f.t)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_where(f.g, f.t, f.t, f.t)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_fma(f.g, f.t, f.t, FOREIGN)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_fma(f.g, f.t, f.t, f.pid)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_fma(f.g, f.pid, f.pid, f.pid)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_cast(f.g, TJ_NONE, TJ_F16)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_cast(f.g, f.t, TJ_F64)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_cast(f.g, f.t, TJ_DTYPE_COUNT)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_cast(f.g, f.t, (tj_dtype)-1)), TJ_ERR_VERIFY);
}

TEST(test_bad_reduce_transpose_reshape_broadcast) {
    BAD_NULL_GRAPH(V(tj_reduce(NULL, TJ_SUM, (tj_val){0}, 0)), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_transpose(NULL, (tj_val){0})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_reshape(NULL, (tj_val){0}, 1, (tj_dim[]){4})), TJ_NONE_ID);
    BAD_NULL_GRAPH(V(tj_broadcast(NULL, (tj_val){0}, 1, (tj_dim[]){4})), TJ_NONE_ID);
    BAD_BUILD(V(tj_reduce(f.g, TJ_REDUCE_COUNT, f.t, 0)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_reduce(f.g, TJ_SUM, f.t, -1)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_reduce(f.g, TJ_SUM, f.t, 2)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_reduce(f.g, TJ_SUM, TJ_NONE, 0)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_transpose(f.g, f.pid)), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_transpose(f.g, FOREIGN)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_reshape(f.g, f.t, 3, (tj_dim[]){16, 64, 1})), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_reshape(f.g, f.t, 2, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_reshape(f.g, f.t, 2, (tj_dim[]){32, 32})), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_reshape(f.g, f.t, 2, (tj_dim[]){-16, 64})), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_broadcast(f.g, f.t, -1, (tj_dim[]){16})), TJ_ERR_INVALID_ARG);
    BAD_BUILD(V(tj_broadcast(f.g, f.t, 2, (tj_dim[]){32, 64})), TJ_ERR_VERIFY);
    BAD_BUILD(V(tj_broadcast(f.g, f.t, 1, (tj_dim[]){64})), TJ_ERR_VERIFY);
}

/* ================================================================== */
/* Loops and the grid                                                 */
/* ================================================================== */

TEST(test_bad_for_begin_arguments) {
    tj_val iv, c[TJ_MAX_CARRIED + 1], init[TJ_MAX_CARRIED + 1];
    for (int k = 0; k <= TJ_MAX_CARRIED; k++) init[k] = (tj_val){0};
    BAD(tj_for_begin(NULL, (tj_val){0}, (tj_val){0}, (tj_val){0}, 0, NULL, &iv, NULL),
        TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, 0, NULL, NULL, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, 1, NULL, &iv, c), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, 1, &f.t, &iv, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, -1, init, &iv, c), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, TJ_MAX_CARRIED + 1, init, &iv, c),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, TJ_NONE, f.one, f.one, 0, NULL, &iv, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, FOREIGN, f.one, 0, NULL, &iv, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.one, 1, (tj_val[]){TJ_NONE}, &iv, c),
              TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_begin(f.g, f.zero, f.one, f.fone, 0, NULL, &iv, NULL), TJ_ERR_VERIFY);
    BAD_BUILD(tj_for_begin(f.g, f.t, f.one, f.one, 0, NULL, &iv, NULL), TJ_ERR_VERIFY);
}

TEST(test_bad_for_begin_nesting_too_deep_keeps_running) {
    fx f = fixture();
    CHECK(f.g);
    tj_val iv;
    tj_status s = TJ_OK;
    int depth = 0;
    for (; depth < 40 && s == TJ_OK; depth++)
        s = tj_for_begin(f.g, f.zero, f.one, f.one, 0, NULL, &iv, NULL);
    CHECK(s == TJ_ERR_INVALID_ARG && depth == IR_MAX_DEPTH + 1);
    CHECK(strstr(tj_last_error(), "nest deeper"));
    for (int i = 0; i < 40; i++) tj_for_end(f.g, 0, NULL, NULL); /* too many ends: errors only */
    CHECK(tj_graph_status(f.g) == TJ_ERR_INVALID_ARG);
    CHECK(tj_graph_verify(f.g) == TJ_ERR_INVALID_ARG);
    tj_graph_free(f.g);
}

TEST(test_bad_for_end_arguments) {
    tj_val iv, c, r;
    BAD(tj_for_end(NULL, 0, NULL, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_for_end(f.g, 0, NULL, NULL), TJ_ERR_INVALID_ARG); /* none open */
#define OPEN1 tj_for_begin(f.g, f.zero, f.one, f.one, 1, &f.t, &iv, &c)
    BAD_BUILD((OPEN1, tj_for_end(f.g, 0, NULL, NULL)), TJ_ERR_VERIFY);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 2, (tj_val[]){c, c}, (tj_val[2]){{0}})), TJ_ERR_VERIFY);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 1, NULL, &r)), TJ_ERR_INVALID_ARG);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 1, &c, NULL)), TJ_ERR_INVALID_ARG);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 1, &TJ_NONE, &r)), TJ_ERR_INVALID_ARG);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 1, &FOREIGN, &r)), TJ_ERR_INVALID_ARG);
    BAD_BUILD((OPEN1, tj_for_end(f.g, 1, &f.fone, &r)), TJ_ERR_VERIFY);
    BAD_BUILD((OPEN1, tj_for_end(f.g, -1, &c, &r)), TJ_ERR_VERIFY);
#undef OPEN1
}

TEST(test_bad_grid_arguments) {
    BAD(tj_set_grid(NULL, 1, (tj_val[]){{0}}), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 1, NULL), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 0, &f.one), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, -1, &f.one), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 4, (tj_val[]){f.one, f.one, f.one, f.one}), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 1, &TJ_NONE), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 2, (tj_val[]){f.one, FOREIGN}), TJ_ERR_INVALID_ARG);
    BAD_BUILD(tj_set_grid(f.g, 1, &f.fone), TJ_ERR_VERIFY);
    BAD_BUILD(tj_set_grid(f.g, 1, &f.t), TJ_ERR_VERIFY);
}

/* The thread's message always describes the last failure, even after
 * hundreds of failures of every kind in a row. */
TEST(test_bad_inputs_in_a_row_keep_the_process_running) {
    fx f = fixture();
    CHECK(f.g);
    for (int i = 0; i < 500; i++) {
        tj_val junk = {(int32_t)harness_randint(-5, 100000)};
        switch (harness_randint(0, 5)) {
        case 0: tj_add(f.g, junk, f.t); break;
        case 1: tj_exp(f.g, junk); break;
        case 2: tj_store(f.g, f.x, (tj_val[]){junk, junk}, junk, NULL, 0); break;
        case 3: tj_name(f.g, junk, "j"); break;
        case 4: tj_load(f.g, (tj_tensor){junk.id}, (tj_val[]){junk, junk}, 2, (tj_dim[]){16, 64}, NULL, 0, 0); break;
        default: tj_mma(f.g, junk, junk, junk, 0); break;
        }
    }
    CHECK(tj_graph_status(f.g) != TJ_OK && tj_graph_error(f.g)[0]);
    CHECK(tj_graph_verify(f.g) != TJ_OK);
    tj_graph_free(f.g);
}

int main(void) { return harness_main(); }
