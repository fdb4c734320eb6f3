/* The graph builder: handles, types it infers, loops, symbols, bindings. */
#include "harness.h"

static tj_graph *new_graph(const char *name) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    return g;
}

TEST(test_version_matches_macros) {
    CHECK(!strcmp(tj_version(), TJ_VERSION_STRING));
    CHECK(tj_version_number() == TJ_VERSION_NUMBER);
    CHECK(!strcmp(tj_status_name(TJ_ERR_VERIFY), "TJ_ERR_VERIFY"));
    CHECK(!strcmp(tj_status_name((tj_status)999), "TJ_ERR_UNKNOWN"));
}

TEST(test_graph_new_rejects_bad_names) {
    tj_graph *g = (tj_graph *)1;
    CHECK_ERR(tj_graph_new("1abc", &g), TJ_ERR_INVALID_ARG, "not an identifier");
    CHECK(g == NULL);
    CHECK_ERR(tj_graph_new(NULL, &g), TJ_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(tj_graph_new("ok", NULL), TJ_ERR_INVALID_ARG, "out is NULL");
    tj_graph_free(NULL);
}

TEST(test_builder_infers_load_mma_and_reduce_types) {
    tj_graph *g = new_graph("t");
    CHECK(g);
    tj_sym n = tj_symbol(g, "n", TJ_EXACT, 0, 1);
    tj_dim dims[2] = {tj_dim_sym(n), 64};
    tj_tensor a = tj_tensor_arg(g, "a", TJ_BF16, 2, dims, NULL);
    tj_val pid = tj_program_id(g, 0);
    tj_val zero = tj_const(g, TJ_I32, 0);
    tj_val c[2] = {pid, zero};
    tj_dim tile[2] = {32, 64};
    tj_val x = tj_load(g, a, c, 2, tile, NULL, 0.0, 0);
    tj_val s = tj_mma(g, x, x, TJ_NONE, TJ_TRANS_B);
    tj_dtype dt;
    int rank;
    tj_dim d[2];
    CHECK_OK(tj_val_type(g, s, &dt, &rank, d));
    CHECK(dt == TJ_F32 && rank == 2 && d[0] == 32 && d[1] == 32);
    tj_val m = tj_rowmax(g, s);
    CHECK_OK(tj_val_type(g, m, &dt, &rank, d));
    CHECK(dt == TJ_F32 && rank == 2 && d[0] == 32 && d[1] == 1);
    tj_val e = tj_exp(g, tj_sub(g, s, m)); /* a column vector broadcasts */
    CHECK_OK(tj_val_type(g, e, &dt, &rank, d));
    CHECK(rank == 2 && d[0] == 32 && d[1] == 32);
    CHECK(tj_graph_status(g) == TJ_OK);
    tj_graph_free(g);
}

TEST(test_builder_rejects_mma_inner_mismatch_and_keeps_first_error) {
    tj_graph *g = new_graph("t");
    tj_val a = tj_full(g, TJ_F16, 2, (tj_dim[]){16, 32}, 1.0);
    tj_val b = tj_full(g, TJ_F16, 2, (tj_dim[]){16, 8}, 1.0);
    tj_val c = tj_mma(g, a, b, TJ_NONE, 0);
    CHECK(!tj_val_ok(c));
    CHECK(strstr(tj_last_error(), "inner dimensions differ"));
    CHECK(tj_graph_status(g) == TJ_ERR_VERIFY);
    char first[512];
    snprintf(first, sizeof first, "%s", tj_graph_error(g));
    /* A later failure, here from passing the failed value on, keeps the first. */
    tj_val d = tj_exp(g, c);
    CHECK(!tj_val_ok(d));
    CHECK(strstr(tj_last_error(), "TJ_NONE"));
    CHECK(!strcmp(tj_graph_error(g), first));
    tj_graph_free(g);
}

TEST(test_builder_broadcast_rules) {
    tj_graph *g = new_graph("t");
    tj_val t = tj_full(g, TJ_F32, 2, (tj_dim[]){8, 16}, 1.0);
    tj_val row = tj_full(g, TJ_F32, 1, (tj_dim[]){16}, 2.0);
    tj_val col = tj_full(g, TJ_F32, 2, (tj_dim[]){8, 1}, 3.0);
    tj_val sc = tj_const(g, TJ_F32, 4.0);
    CHECK(tj_val_ok(tj_add(g, t, row)));
    CHECK(tj_val_ok(tj_add(g, t, col)));
    CHECK(tj_val_ok(tj_add(g, sc, t)));
    tj_val bad = tj_full(g, TJ_F32, 1, (tj_dim[]){8}, 2.0);
    CHECK(!tj_val_ok(tj_add(g, t, bad)));
    CHECK(strstr(tj_last_error(), "do not broadcast"));
    tj_graph_free(g);
}

TEST(test_builder_rejects_mixed_dtypes_and_float_math_on_ints) {
    tj_graph *g = new_graph("t");
    tj_val a = tj_const(g, TJ_F32, 1.0);
    tj_val b = tj_const(g, TJ_BF16, 1.0);
    CHECK(!tj_val_ok(tj_add(g, a, b)));
    CHECK(strstr(tj_last_error(), "one dtype"));
    tj_val i = tj_const(g, TJ_I32, 3);
    CHECK(!tj_val_ok(tj_exp(g, i)));
    CHECK(strstr(tj_last_error(), "exp takes float values"));
    CHECK(!tj_val_ok(tj_const(g, TJ_I32, 2.5)));
    CHECK(strstr(tj_last_error(), "not an i32 value"));
    tj_graph_free(g);
}

TEST(test_loop_carried_values_and_results) {
    tj_graph *g = new_graph("t");
    tj_val lo = tj_const(g, TJ_I32, 0), hi = tj_const(g, TJ_I32, 10), st = tj_const(g, TJ_I32, 1);
    tj_val init[2] = {tj_full(g, TJ_F32, 2, (tj_dim[]){4, 4}, 0.0), tj_const(g, TJ_F32, 1.0)};
    tj_val iv, carried[2], next[2], res[2];
    CHECK_OK(tj_for_begin(g, lo, hi, st, 2, init, &iv, carried));
    tj_dtype dt;
    int rank;
    CHECK_OK(tj_val_type(g, iv, &dt, &rank, NULL));
    CHECK(dt == TJ_I32 && rank == 0);
    next[0] = tj_add(g, carried[0], carried[1]);
    next[1] = tj_mul(g, carried[1], tj_const(g, TJ_F32, 2.0));
    CHECK_OK(tj_for_end(g, 2, next, res));
    tj_dim d[2];
    CHECK_OK(tj_val_type(g, res[0], &dt, &rank, d));
    CHECK(rank == 2 && d[0] == 4 && d[1] == 4);
    CHECK(tj_graph_status(g) == TJ_OK);
    tj_graph_free(g);
}

TEST(test_loop_yield_that_changes_type_is_rejected) {
    tj_graph *g = new_graph("t");
    tj_val lo = tj_const(g, TJ_I32, 0), hi = tj_const(g, TJ_I32, 3), st = tj_const(g, TJ_I32, 1);
    tj_val init = tj_full(g, TJ_F32, 2, (tj_dim[]){4, 4}, 0.0);
    tj_val iv, c, r;
    CHECK_OK(tj_for_begin(g, lo, hi, st, 1, &init, &iv, &c));
    tj_val wrong = tj_sum(g, c, 1);
    CHECK_ERR(tj_for_end(g, 1, &wrong, &r), TJ_ERR_VERIFY, "changes type");
    CHECK(!tj_val_ok(r));
    CHECK_ERR(tj_for_end(g, 1, &wrong, &r), TJ_ERR_INVALID_ARG, "no loop is open");
    tj_graph_free(g);
}

TEST(test_loop_bounds_must_share_an_integer_dtype) {
    tj_graph *g = new_graph("t");
    tj_val lo = tj_const(g, TJ_I32, 0), hi = tj_const(g, TJ_I64, 3), st = tj_const(g, TJ_I32, 1);
    tj_val iv;
    CHECK_ERR(tj_for_begin(g, lo, hi, st, 0, NULL, &iv, NULL), TJ_ERR_VERIFY, "one dtype");
    CHECK_ERR(tj_for_end(g, 0, NULL, NULL), TJ_ERR_INVALID_ARG, "failed to build");
    tj_graph_free(g);
}

TEST(test_symbol_specialize_buckets) {
    tj_graph *g = new_graph("t");
    tj_sym e = tj_symbol(g, "e", TJ_EXACT, 0, 1);
    tj_sym p = tj_symbol(g, "p", TJ_BUCKET_POW2, 0, 1);
    tj_sym m = tj_symbol(g, "m", TJ_BUCKET_MULTIPLE, 64, 1);
    tj_sym d = tj_symbol(g, "d", TJ_DYNAMIC, 0, 8);
    CHECK(tj_symbol_specialize(g, e, 1000) == 1000);
    CHECK(tj_symbol_specialize(g, p, 1000) == 1024);
    CHECK(tj_symbol_specialize(g, p, 1024) == 1024);
    CHECK(tj_symbol_specialize(g, p, 1) == 1);
    CHECK(tj_symbol_specialize(g, m, 1000) == 1024);
    CHECK(tj_symbol_specialize(g, m, 64) == 64);
    CHECK(tj_symbol_specialize(g, d, 1000) == 1000);
    CHECK(tj_symbol_specialize(g, m, 0) == 0);
    CHECK(tj_num_symbols(g) == 4);
    CHECK(tj_find_symbol(g, "m").id == m.id);
    CHECK(tj_find_symbol(g, "zz").id == TJ_NONE_ID);
    CHECK(tj_symbol(g, "x", TJ_BUCKET_MULTIPLE, 0, 1).id == TJ_NONE_ID);
    CHECK(strstr(tj_last_error(), "bucket"));
    tj_graph_free(g);
}

TEST(test_dynamic_symbol_cannot_size_a_tile) {
    tj_graph *g = new_graph("t");
    tj_sym d = tj_symbol(g, "len", TJ_DYNAMIC, 0, 1);
    tj_val v = tj_full(g, TJ_F32, 1, (tj_dim[]){tj_dim_sym(d)}, 0.0);
    CHECK(!tj_val_ok(v));
    CHECK(strstr(tj_last_error(), "dynamic symbol 'len'"));
    tj_graph_free(g);
}

TEST(test_names_are_unique_across_kinds) {
    tj_graph *g = new_graph("t");
    tj_symbol(g, "n", TJ_EXACT, 0, 1);
    CHECK(tj_tensor_arg(g, "n", TJ_F32, 1, (tj_dim[]){4}, NULL).id == TJ_NONE_ID);
    CHECK(strstr(tj_last_error(), "already used"));
    tj_val v = tj_const(g, TJ_F32, 1.0);
    CHECK_ERR(tj_name(g, v, "n"), TJ_ERR_INVALID_ARG, "already used");
    CHECK_OK(tj_name(g, v, "one"));
    CHECK_OK(tj_name(g, v, "one"));
    CHECK_ERR(tj_name(g, v, "bad name"), TJ_ERR_INVALID_ARG, "not an identifier");
    tj_graph_free(g);
}

TEST(test_tensor_shape_strides_and_extent) {
    tj_graph *g = new_graph("t");
    tj_sym b = tj_symbol(g, "b", TJ_DYNAMIC, 0, 1);
    tj_sym n = tj_symbol(g, "n", TJ_EXACT, 0, 16);
    tj_dim dims[4] = {tj_dim_sym(b), tj_dim_sym(n), 8, 64};
    tj_tensor q = tj_tensor_arg(g, "q", TJ_BF16, 4, dims, NULL);
    int64_t vals[2] = {3, 32};
    int64_t d[4], s[4], ext;
    CHECK_OK(tj_tensor_shape(g, q, vals, d, s));
    CHECK(d[0] == 3 && d[1] == 32 && s[3] == 1 && s[2] == 64 && s[1] == 512 && s[0] == 32 * 512);
    CHECK_OK(tj_tensor_extent(g, q, vals, &ext));
    CHECK(ext == 3 * 32 * 512);
    CHECK(tj_tensor_stride(g, q, 2) == 64);
    CHECK(tj_tensor_stride(g, q, 0) == -1); /* symbolic */
    int64_t bad[2] = {3, 33};
    CHECK_ERR(tj_tensor_shape(g, q, bad, d, s), TJ_ERR_INVALID_ARG, "not a multiple of 16");
    int64_t unb[2] = {TJ_UNBOUND, 32};
    CHECK_ERR(tj_tensor_shape(g, q, unb, d, s), TJ_ERR_UNBOUND, "'b' has no value");
    tj_graph_free(g);
}

TEST(test_given_strides_and_alignment) {
    tj_graph *g = new_graph("t");
    tj_sym ld = tj_symbol(g, "ld", TJ_DYNAMIC, 0, 1);
    tj_tensor a = tj_tensor_arg(g, "a", TJ_F16, 2, (tj_dim[]){10, 20},
                                (tj_dim[]){tj_dim_sym(ld), 1});
    int64_t vals[1] = {32}, d[2], s[2], ext;
    CHECK_OK(tj_tensor_shape(g, a, vals, d, s));
    CHECK(s[0] == 32 && s[1] == 1);
    CHECK_OK(tj_tensor_extent(g, a, vals, &ext));
    CHECK(ext == 9 * 32 + 20);
    CHECK_OK(tj_tensor_set_align(g, a, 16));
    CHECK_ERR(tj_tensor_set_align(g, a, 3), TJ_ERR_INVALID_ARG, "power of two");
    CHECK_ERR(tj_tensor_set_align(g, a, 1), TJ_ERR_INVALID_ARG, "power of two");
    tj_graph_free(g);
}

TEST(test_grid_evaluates_cdiv_of_symbols) {
    tj_graph *g = new_graph("t");
    tj_sym n = tj_symbol(g, "n", TJ_EXACT, 0, 1);
    tj_val gx = tj_binary(g, TJ_CDIV, tj_symval(g, n), tj_const(g, TJ_I32, 64));
    tj_val gy = tj_const(g, TJ_I32, 3);
    CHECK_OK(tj_set_grid(g, 2, (tj_val[]){gx, gy}));
    int64_t vals[1] = {1000}, grid[3];
    CHECK_OK(tj_graph_grid(g, vals, grid));
    CHECK(grid[0] == 16 && grid[1] == 3 && grid[2] == 1);
    /* A grid built from program ids cannot be computed on the host. */
    tj_val pid = tj_program_id(g, 0);
    CHECK_OK(tj_set_grid(g, 1, &pid));
    CHECK_ERR(tj_graph_grid(g, vals, grid), TJ_ERR_VERIFY, "cannot be computed on the host");
    tj_graph_free(g);
}

TEST(test_bind_parse_names_the_problem) {
    tj_graph *g = new_graph("t");
    tj_symbol(g, "seq_len", TJ_EXACT, 0, 8);
    int64_t vals[1] = {TJ_UNBOUND};
    CHECK_OK(tj_bind_parse(g, "seq_len=64", vals));
    CHECK(vals[0] == 64);
    CHECK_ERR(tj_bind_parse(g, "seq=64", vals), TJ_ERR_INVALID_ARG, "no symbol 'seq'");
    CHECK_ERR(tj_bind_parse(g, "seq_len=6x", vals), TJ_ERR_INVALID_ARG, "not an integer");
    CHECK_ERR(tj_bind_parse(g, "seq_len=12", vals), TJ_ERR_INVALID_ARG, "not a multiple of 8");
    CHECK_ERR(tj_bind_parse(g, "seq_len=0", vals), TJ_ERR_INVALID_ARG, "1..2^31-1");
    CHECK_ERR(tj_bind_parse(g, "seq_len", vals), TJ_ERR_INVALID_ARG, "name=value");
    tj_graph_free(g);
}

TEST(test_load_checks_coords_and_axes) {
    tj_graph *g = new_graph("t");
    tj_tensor q = tj_tensor_arg(g, "q", TJ_F16, 4, (tj_dim[]){2, 128, 8, 64}, NULL);
    tj_val z = tj_const(g, TJ_I32, 0);
    tj_val c4[4] = {z, z, z, z};
    tj_val x = tj_load(g, q, c4, 2, (tj_dim[]){64, 64}, (int[]){1, 3}, 0.0, 0);
    CHECK(tj_val_ok(x));
    CHECK(!tj_val_ok(tj_load(g, q, c4, 2, (tj_dim[]){64, 64}, (int[]){3, 1}, 0.0, 0)));
    CHECK(strstr(tj_last_error(), "strictly increasing"));
    CHECK(!tj_val_ok(tj_load(g, q, c4, 2, (tj_dim[]){64, 64}, (int[]){1, 4}, 0.0, 0)));
    CHECK(strstr(tj_last_error(), "outside tensor 'q'"));
    tj_val f = tj_const(g, TJ_F32, 0.0);
    tj_val cf[4] = {z, f, z, z};
    CHECK(!tj_val_ok(tj_load(g, q, cf, 2, (tj_dim[]){64, 64}, (int[]){1, 3}, 0.0, 0)));
    CHECK(strstr(tj_last_error(), "coordinate 1 must be an integer scalar"));
    CHECK_OK(tj_store(g, q, c4, tj_exp(g, x), (int[]){1, 3}, 0));
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
