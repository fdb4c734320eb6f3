/*
 * tj_graph_verify(): the rules that span a graph (scope, program order,
 * open loops, the grid, program ids, stores), one invalid graph per test,
 * checking the status and that the message names the node (or the tensor
 * / symbol) and the rule; plus valid graphs at the edge of each rule, which
 * must pass. Every builder call in these tests succeeds; errors the
 * builder itself records are in test_verify_builder.c.
 *
 * The "corrupt" tests edit the IR behind the builder's back to reach
 * verify's defensive re-checks of the local rules.
 */
#include "verify_util.h"

/* ================================================================== */
/* Verify-time errors: every builder call succeeded                   */
/* ================================================================== */

TEST(test_verify_rejects_graph_without_store) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_name(b.g, tj_exp(b.g, x), "unused");
    set_grid(&b);
    EXPECT_VERIFY_ERROR(b.g, "graph 'k'", "has no store");
}

TEST(test_verify_rejects_graph_without_grid) {
    base b = mk();
    store_y(&b, load_x(&b));
    EXPECT_VERIFY_ERROR(b.g, "graph 'k'", "has no grid");
}

TEST(test_verify_rejects_loop_left_open) {
    base b = mk();
    tj_val iv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    finish(&b, load_x(&b));
    EXPECT_VERIFY_ERROR(b.g, "(for)", "loop is never closed");
}

TEST(test_verify_rejects_outer_loop_left_open) {
    base b = mk();
    tj_val iv, jv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &jv, NULL));
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    finish(&b, load_x(&b));
    EXPECT_VERIFY_ERROR(b.g, "node #", "1 loop open");
}

TEST(test_verify_rejects_loop_body_value_used_after_the_loop) {
    base b = mk();
    tj_val iv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_val x = load_x(&b);
    tj_name(b.g, x, "xt");
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    finish(&b, x);
    EXPECT_VERIFY_ERROR(b.g, "(store): operand 2 %xt (load)", "defined inside the body of");
}

TEST(test_verify_rejects_induction_variable_used_after_the_loop) {
    base b = mk();
    tj_val iv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_name(b.g, iv, "kk");
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    tj_val t = tj_load(b.g, b.x, (tj_val[]){iv, b.zero}, 2, (tj_dim[]){16, 64}, NULL, 0, 0);
    tj_name(b.g, t, "late");
    finish(&b, t);
    EXPECT_VERIFY_ERROR(b.g, "%late (load): operand 0 %kk (loop_iv)", "not visible here");
}

TEST(test_verify_rejects_carried_value_used_after_the_loop) {
    base b = mk();
    tj_val iv, c, r, init = tj_full(b.g, TJ_F32, 2, (tj_dim[]){16, 64}, 0);
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 1, &init, &iv, &c));
    tj_name(b.g, c, "acc");
    tj_val next = tj_add(b.g, c, load_x(&b));
    CHECK_OK(tj_for_end(b.g, 1, &next, &r));
    finish(&b, c); /* should have been r */
    EXPECT_VERIFY_ERROR(b.g, "%acc (loop_carried)", "defined inside the body of");
}

TEST(test_verify_rejects_value_from_a_sibling_loop) {
    base b = mk();
    tj_val iv, jv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_val x = load_x(&b);
    tj_name(b.g, x, "first");
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &jv, NULL));
    store_y(&b, x);
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    set_grid(&b);
    EXPECT_VERIFY_ERROR(b.g, "%first (load)", "not visible here");
}

TEST(test_verify_rejects_loop_bound_from_an_earlier_loop_body) {
    base b = mk();
    tj_val iv, jv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_val hi = tj_add(b.g, iv, ci(b.g, 1));
    tj_name(b.g, hi, "hi");
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    CHECK_OK(tj_for_begin(b.g, b.zero, hi, ci(b.g, 1), 0, NULL, &jv, NULL));
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    finish(&b, load_x(&b));
    EXPECT_VERIFY_ERROR(b.g, "(for): operand 1 %hi (binary)", "not visible here");
}

TEST(test_verify_rejects_grid_from_program_id) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val d = tj_add(b.g, b.pid, ci(b.g, 1));
    tj_name(b.g, d, "gd");
    CHECK_OK(tj_set_grid(b.g, 1, &d));
    EXPECT_VERIFY_ERROR(b.g, "%gd (binary): grid dim 0 depends on node #", "a program id");
}

TEST(test_verify_rejects_grid_from_num_programs) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val d = tj_num_programs(b.g, 0);
    CHECK_OK(tj_set_grid(b.g, 1, &d));
    EXPECT_VERIFY_ERROR(b.g, "(num_programs): grid dim 0 is a program id", "fixed before any program");
}

TEST(test_verify_rejects_grid_from_a_load) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_tensor n = tj_tensor_arg(b.g, "n", TJ_I32, 0, NULL, NULL);
    tj_val nv = tj_load(b.g, n, NULL, 0, NULL, NULL, 0, 0);
    tj_name(b.g, nv, "count");
    tj_val one = ci(b.g, 1);
    tj_val d[2] = {one, tj_maximum(b.g, nv, one)};
    CHECK_OK(tj_set_grid(b.g, 2, d));
    EXPECT_VERIFY_ERROR(b.g, "grid dim 1 depends on %count (load)", "tensor contents are not known");
}

TEST(test_verify_rejects_grid_from_a_scalar_argument) {
    base b = mk();
    tj_val s = tj_scalar_arg(b.g, "nblocks", TJ_I32);
    store_y(&b, load_x(&b));
    CHECK_OK(tj_set_grid(b.g, 1, &s));
    EXPECT_VERIFY_ERROR(b.g, "(scalar)", "a scalar argument: a grid is computed from constants");
}

TEST(test_verify_rejects_grid_from_a_loop_result) {
    base b = mk();
    tj_val iv, c, r, init = ci(b.g, 1);
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 1, &init, &iv, &c));
    tj_val next = tj_add(b.g, c, c);
    CHECK_OK(tj_for_end(b.g, 1, &next, &r));
    store_y(&b, load_x(&b));
    CHECK_OK(tj_set_grid(b.g, 1, &r));
    EXPECT_VERIFY_ERROR(b.g, "(for_result)", "a loop value");
}

TEST(test_verify_rejects_grid_computed_inside_a_loop_body) {
    base b = mk();
    tj_val iv;
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_val d = tj_binary(b.g, TJ_CDIV, tj_symval(b.g, b.M), ci(b.g, 16));
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    store_y(&b, load_x(&b));
    CHECK_OK(tj_set_grid(b.g, 1, &d));
    EXPECT_VERIFY_ERROR(b.g, "(binary): grid dim 0", "defined inside a loop body");
}

TEST(test_verify_rejects_grid_from_bitwise_op) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val d = tj_binary(b.g, TJ_XOR, tj_symval(b.g, b.M), ci(b.g, 3));
    CHECK_OK(tj_set_grid(b.g, 1, &d));
    EXPECT_VERIFY_ERROR(b.g, "(binary)", "the host cannot evaluate");
}

TEST(test_verify_rejects_grid_from_float_arithmetic) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val f = tj_div(b.g, tj_cast(b.g, tj_symval(b.g, b.M), TJ_F32), tj_const(b.g, TJ_F32, 16));
    tj_val d = tj_cast(b.g, f, TJ_I32);
    tj_name(b.g, d, "blocks");
    CHECK_OK(tj_set_grid(b.g, 1, &d));
    EXPECT_VERIFY_ERROR(b.g, "%blocks (cast): grid dim 0", "not an integer scalar");
}

TEST(test_verify_rejects_program_id_axis_beyond_grid_rank) {
    base b = mk();
    tj_val p1 = tj_program_id(b.g, 1);
    tj_name(b.g, p1, "head");
    tj_store(b.g, b.y, (tj_val[]){p1, b.zero}, load_x(&b), NULL, 0);
    set_grid(&b);
    EXPECT_VERIFY_ERROR(b.g, "%head (program_id)", "grid axis 1 is not below the grid's rank 1");
}

TEST(test_verify_rejects_num_programs_axis_beyond_grid_rank) {
    base b = mk();
    tj_val np = tj_num_programs(b.g, 2);
    tj_store(b.g, b.y, (tj_val[]){np, b.zero}, load_x(&b), NULL, 0);
    tj_val gm = tj_binary(b.g, TJ_CDIV, tj_symval(b.g, b.M), ci(b.g, 16));
    CHECK_OK(tj_set_grid(b.g, 2, (tj_val[]){gm, ci(b.g, 2)}));
    EXPECT_VERIFY_ERROR(b.g, "(num_programs)", "grid axis 2 is not below the grid's rank 2");
}

/* Errors in parsed text carry the file name and line. */
TEST(test_verify_error_in_parsed_text_names_file_and_line) {
    const char *text = "tilejit 1\n"
                       "graph p\n"
                       "sym M exact\n"
                       "tensor x f32[M]\n"
                       "%0 = const 0 : i32\n"
                       "%pid = program_id 0 : i32\n"
                       "%1 = load x [%pid] : f32[16]\n"
                       "store x [%pid], %1\n"
                       "grid [%pid]\n";
    tj_graph *g = (tj_graph *)1;
    CHECK_ERR(tj_graph_parse(text, strlen(text), "p.tj", &g), TJ_ERR_VERIFY,
              "p.tj:6: %pid (program_id): grid dim 0 is a program id");
    CHECK(g == NULL);
}

TEST(test_verify_error_in_parsed_text_names_program_id_line) {
    const char *text = "tilejit 1\n"
                       "graph p\n"
                       "tensor x f32[64]\n"
                       "%zero = const 0 : i32\n"
                       "%head = program_id 1 : i32\n"
                       "%1 = load x [%head] : f32[16]\n"
                       "store x [%zero], %1\n"
                       "%n = const 4 : i32\n"
                       "%blocks = add %n, %zero : i32\n"
                       "grid [%blocks]\n";
    tj_graph *g = NULL;
    CHECK_ERR(tj_graph_parse(text, strlen(text), "h.tj", &g), TJ_ERR_VERIFY,
              "h.tj:5: %head (program_id): grid axis 1 is not below the grid's rank 1");
    /* The same text with the grid built from the program id instead. */
    char *bad = strdup(text);
    CHECK(bad);
    char *n = strstr(bad, "%blocks = add %n, %zero");
    memcpy(n, "%blocks = add %n, %head", strlen("%blocks = add %n, %head"));
    n = strstr(bad, "program_id 1");
    n[strlen("program_id ")] = '0';
    CHECK_ERR(tj_graph_parse(bad, strlen(bad), "h.tj", &g), TJ_ERR_VERIFY,
              "h.tj:9: %blocks (binary): grid dim 0 depends on %head (program_id), a program id");
    free(bad);
    CHECK(g == NULL);
}

TEST(test_verify_rejects_parsed_text_without_store) {
    const char *text = "tilejit 1\n"
                       "graph nostore\n"
                       "tensor x f32[16]\n"
                       "%0 = const 0 : i32\n"
                       "%1 = load x [%0] : f32[16]\n"
                       "%2 = const 1 : i32\n"
                       "grid [%2]\n";
    tj_graph *g = NULL;
    CHECK_ERR(tj_graph_parse(text, strlen(text), "n.tj", &g), TJ_ERR_VERIFY,
              "graph 'nostore' has no store");
}

/* ================================================================== */
/* Corrupt IR: the defensive re-checks of local rules                 */
/* ================================================================== */

static base valid_kernel(tj_val *out) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val a = tj_cast(b.g, x, TJ_F16);
    tj_val s = tj_mma(b.g, a, a, TJ_NONE, TJ_TRANS_B); /* f32[16,16] */
    tj_name(b.g, s, "s");
    tj_val row = tj_sum(b.g, s, 0);                     /* f32[1,16] */
    finish(&b, tj_broadcast(b.g, tj_cast(b.g, tj_sum(b.g, row, 1), TJ_F32), 2,
                            (tj_dim[]){16, 64}));
    if (out) *out = s;
    return b;
}

TEST(test_verify_corrupt_mma_result_type_is_caught) {
    tj_val s;
    base b = valid_kernel(&s);
    CHECK_OK(tj_graph_verify(b.g));
    b.g->nodes[s.id].type.dims[1] = 32;
    EXPECT_VERIFY_ERROR(b.g, "%s (mma)", "its type f32[16,32] is not the f32[16,16] its operands give");
}

TEST(test_verify_corrupt_f64_value_is_caught) {
    tj_val s;
    base b = valid_kernel(&s);
    b.g->nodes[b.zero.id].type.dtype = TJ_F64;
    EXPECT_VERIFY_ERROR(b.g, "(const)", "f64 values are not allowed");
}

TEST(test_verify_corrupt_symbol_made_dynamic_after_sizing_a_tile_is_caught) {
    base b = mk();
    tj_sym t = tj_symbol(b.g, "T", TJ_BUCKET_POW2, 0, 1);
    tj_val v = tj_full(b.g, TJ_F32, 2, (tj_dim[]){tj_dim_sym(t), 64}, 0);
    tj_name(b.g, v, "zeros");
    finish(&b, v);
    CHECK_OK(tj_graph_verify(b.g)); /* a bucketed symbol may size a tile */
    b.g->syms[t.id].policy = TJ_DYNAMIC;
    EXPECT_VERIFY_ERROR(b.g, "%zeros (const)", "tile dim 0 is the dynamic symbol 'T'");
}

TEST(test_verify_corrupt_program_order_is_caught) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val e = tj_exp(b.g, x);
    tj_name(b.g, e, "e");
    finish(&b, e);
    /* Swap the load and the exp in the top-level order. */
    int ix = -1, ie = -1;
    for (int i = 0; i < b.g->nbody; i++) {
        if (b.g->body[i] == x.id) ix = i;
        if (b.g->body[i] == e.id) ie = i;
    }
    CHECK(ix >= 0 && ie > ix);
    b.g->body[ix] = e.id;
    b.g->body[ie] = x.id;
    EXPECT_VERIFY_ERROR(b.g, "%e (unary): operand 0", "is used before it is defined");
}

TEST(test_verify_corrupt_duplicate_name_is_caught) {
    base b = mk();
    finish(&b, load_x(&b));
    b.g->nodes[b.pid.id].name = "x";
    EXPECT_VERIFY_ERROR(b.g, "name 'x' is already used by tensor 'x'", "unique");
}

TEST(test_verify_corrupt_bucket_param_is_caught) {
    base b = mk();
    finish(&b, load_x(&b));
    b.g->syms[b.M.id].policy = TJ_BUCKET_MULTIPLE;
    EXPECT_VERIFY_ERROR(b.g, "symbol 'M'", "bucket 0");
}

TEST(test_verify_corrupt_tensor_dtype_is_caught) {
    base b = mk();
    finish(&b, load_x(&b));
    b.g->tensors[b.y.id].dtype = TJ_F64;
    EXPECT_VERIFY_ERROR(b.g, "tensor 'y'", "not a tensor dtype");
}

TEST(test_verify_corrupt_load_dtype_is_caught) {
    base b = mk();
    tj_val x = load_x(&b);
    finish(&b, x);
    b.g->nodes[x.id].type.dtype = TJ_BF16;
    EXPECT_VERIFY_ERROR(b.g, "(load)", "its type bf16[16,64] is not the f32[16,64]");
}

/* ================================================================== */
/* Valid graphs at the edge of each rule                              */
/* ================================================================== */

TEST(test_verify_accepts_three_dim_grid_with_program_id_2) {
    base b = mk();
    tj_val p2 = tj_program_id(b.g, 2), n2 = tj_num_programs(b.g, 2);
    tj_val row = tj_add(b.g, b.pid, tj_mul(b.g, p2, n2));
    tj_store(b.g, b.y, (tj_val[]){row, b.zero}, load_x(&b), NULL, 0);
    tj_val one = ci(b.g, 1);
    tj_val gm = tj_binary(b.g, TJ_CDIV, tj_symval(b.g, b.M), ci(b.g, 16));
    CHECK_OK(tj_set_grid(b.g, 3, (tj_val[]){gm, one, one}));
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_grid_of_every_host_op) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_graph *g = b.g;
    tj_val m = tj_symval(g, b.M);
    tj_val e = tj_cast(g, tj_binary(g, TJ_CDIV, tj_cast(g, m, TJ_I64), tj_const(g, TJ_I64, 16)), TJ_I32);
    e = tj_maximum(g, tj_minimum(g, e, ci(g, 1 << 20)), ci(g, 1));
    e = tj_add(g, tj_sub(g, tj_mul(g, e, ci(g, 2)), e), tj_binary(g, TJ_MOD, m, ci(g, 1)));
    e = tj_unary(g, TJ_ABS, tj_unary(g, TJ_NEG, tj_unary(g, TJ_RELU, tj_div(g, e, ci(g, 1)))));
    CHECK_OK(tj_set_grid(g, 1, &e));
    EXPECT_VALID(g);
}

TEST(test_verify_accepts_shared_grid_subexpressions) {
    base b = mk();
    store_y(&b, load_x(&b));
    /* A deep DAG that would be exponential to walk as a tree. */
    tj_val e = tj_symval(b.g, b.M);
    for (int i = 0; i < 40; i++) e = tj_maximum(b.g, e, e);
    CHECK_OK(tj_set_grid(b.g, 2, (tj_val[]){e, e}));
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_loop_results_and_outer_values_in_bodies) {
    base b = mk();
    tj_graph *g = b.g;
    tj_val iv, jv, c[2], r[2], cj, rj;
    tj_val init[2] = {tj_full(g, TJ_F32, 2, (tj_dim[]){16, 64}, 0), tj_const(g, TJ_F32, 1)};
    tj_val outer = tj_const(g, TJ_F32, 0.5);
    CHECK_OK(tj_for_begin(g, b.zero, ci(g, 3), ci(g, 1), 2, init, &iv, c));
    CHECK_OK(tj_for_begin(g, iv, ci(g, 3), ci(g, 1), 1, &c[0], &jv, &cj));
    tj_val t = tj_load(g, b.x, (tj_val[]){jv, b.zero}, 2, (tj_dim[]){16, 64}, NULL, 0, 0);
    tj_val nj = tj_fma(g, t, outer, cj); /* outer value two loops up */
    CHECK_OK(tj_for_end(g, 1, &nj, &rj));
    tj_val next[2] = {rj, c[1]};        /* an inner result, and a value unchanged */
    CHECK_OK(tj_for_end(g, 2, next, r));
    finish(&b, tj_mul(g, r[0], r[1]));
    EXPECT_VALID(g);
}

TEST(test_verify_accepts_loop_without_carried_values_and_store_inside) {
    base b = mk();
    tj_val iv;
    tj_val hi = tj_add(b.g, b.pid, ci(b.g, 1)); /* a causal-style bound */
    CHECK_OK(tj_for_begin(b.g, b.zero, hi, ci(b.g, 1), 0, NULL, &iv, NULL));
    tj_store(b.g, b.y, (tj_val[]){iv, b.zero}, load_x(&b), NULL, 0);
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    set_grid(&b);
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_yield_of_an_outer_value) {
    base b = mk();
    tj_val iv, c, r;
    tj_val init = tj_const(b.g, TJ_I64, 0), outer = tj_const(b.g, TJ_I64, 7);
    tj_val lo = tj_const(b.g, TJ_I64, 0), hi = tj_const(b.g, TJ_I64, 2), st = tj_const(b.g, TJ_I64, 1);
    CHECK_OK(tj_for_begin(b.g, lo, hi, st, 1, &init, &iv, &c));
    CHECK_OK(tj_for_end(b.g, 1, &outer, &r));
    tj_tensor o = tj_tensor_arg(b.g, "o", TJ_I64, 0, NULL, NULL);
    CHECK_OK(tj_store(b.g, o, NULL, r, NULL, 0));
    set_grid(&b);
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_rank0_tensor_loads_with_element_coords) {
    base b = mk();
    tj_tensor s = tj_tensor_arg(b.g, "s", TJ_F32, 0, NULL, NULL);
    tj_val sv = tj_load(b.g, s, NULL, 0, NULL, NULL, 0, TJ_COORD_ELEMENT);
    tj_val e = tj_load(b.g, b.x, (tj_val[]){b.pid, ci(b.g, 3)}, 0, NULL, NULL, 0, TJ_COORD_ELEMENT);
    CHECK_OK(tj_store(b.g, s, NULL, tj_add(b.g, sv, e), NULL, TJ_COORD_ELEMENT));
    set_grid(&b);
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_rank5_tensor_with_chosen_tile_axes) {
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_new("r5", &g));
    tj_sym d = tj_symbol(g, "D", TJ_DYNAMIC, 0, 8); /* dynamic: fine for a tensor dim */
    tj_dim dims[5] = {2, tj_dim_sym(d), 3, 64, 5};
    tj_dim strides[5] = {tj_dim_sym(d), 960, 320, 5, 1};
    tj_tensor t = tj_tensor_arg(g, "t", TJ_BF16, 5, dims, strides);
    CHECK_OK(tj_tensor_set_align(g, t, 16));
    tj_val z = tj_const(g, TJ_I32, 0), p = tj_program_id(g, 0);
    tj_val c[5] = {z, p, z, z, z};
    tj_val v = tj_load(g, t, c, 2, (tj_dim[]){16, 64}, (int[]){1, 3}, 0, 0);
    CHECK_OK(tj_store(g, t, c, tj_exp(g, v), (int[]){1, 3}, 0));
    tj_val one = tj_const(g, TJ_I32, 1);
    CHECK_OK(tj_set_grid(g, 1, &one));
    EXPECT_VALID(g);
}

TEST(test_verify_accepts_bucketed_symbols_sizing_tiles) {
    base b = mk();
    tj_sym p = tj_symbol(b.g, "P", TJ_BUCKET_POW2, 0, 1);
    tj_sym q = tj_symbol(b.g, "Q", TJ_BUCKET_MULTIPLE, 64, 16);
    tj_val z = tj_full(b.g, TJ_F32, 2, (tj_dim[]){tj_dim_sym(p), tj_dim_sym(q)}, 0);
    tj_val iota = tj_iota(b.g, TJ_I32, 2, (tj_dim[]){tj_dim_sym(p), 1}, 0);
    tj_val m = tj_where(b.g, tj_binary(b.g, TJ_LT, iota, ci(b.g, 4)), z, tj_const(b.g, TJ_F32, 1));
    tj_tensor o = tj_tensor_arg(b.g, "o", TJ_F32, 2, (tj_dim[]){tj_dim_sym(p), tj_dim_sym(q)}, NULL);
    CHECK_OK(tj_store(b.g, o, (tj_val[]){b.zero, b.zero}, m, NULL, 0));
    set_grid(&b);
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_64_char_names) {
    base b = mk();
    char name[65];
    memset(name, 'a', 64);
    name[64] = '\0';
    CHECK_OK(tj_name(b.g, b.pid, name));
    name[0] = '_';
    CHECK(tj_tensor_arg(b.g, name, TJ_BOOL, 1, (tj_dim[]){TJ_MAX_DIM}, NULL).id >= 0);
    finish(&b, load_x(&b));
    EXPECT_VALID(b.g);
}

TEST(test_verify_accepts_random_elementwise_chains) {
    /* Random shapes and chains of ops that each follow the rules. */
    for (int trial = 0; trial < 50; trial++) {
        base b = mk();
        int64_t m = 1 << harness_randint(0, 5), n = 1 << harness_randint(0, 6);
        tj_val t = tj_full(b.g, TJ_F32, 2, (tj_dim[]){m, n}, harness_uniform(-2, 2));
        for (int i = 0; i < 8; i++) {
            switch (harness_randint(0, 3)) {
            case 0: t = tj_exp(b.g, tj_mul(b.g, t, tj_const(b.g, TJ_F32, harness_uniform(-1, 1)))); break;
            case 1: t = tj_sub(b.g, t, tj_rowmax(b.g, t)); break;
            case 2: t = tj_add(b.g, t, tj_full(b.g, TJ_F32, 1, (tj_dim[]){n}, harness_uniform(0.5, 1))); break;
            default: t = tj_cast(b.g, tj_cast(b.g, t, TJ_BF16), TJ_F32); break;
            }
        }
        tj_tensor o = tj_tensor_arg(b.g, "o", TJ_F16, 2, (tj_dim[]){m, n}, NULL);
        CHECK_OK(tj_store(b.g, o, (tj_val[]){b.zero, b.zero}, t, NULL, 0));
        set_grid(&b);
        EXPECT_VALID(b.g);
    }
}

TEST(test_verify_accepts_every_recipe) {
    for (int i = 0; i < tj_recipe_count(); i++) {
        tj_graph *g = NULL;
        const tj_recipe_info *r = tj_recipe_get(i);
        CHECK(r);
        CHECKF(tj_recipe_build(r->name, 0, NULL, &g) == TJ_OK, "%s: %s", r->name, tj_last_error());
        CHECKF(tj_graph_verify(g) == TJ_OK, "%s: %s", r->name, tj_last_error());
        tj_graph_free(g);
    }
}

/* ================================================================== */
/* How verify behaves                                                 */
/* ================================================================== */

TEST(test_verify_null_graph_is_invalid_arg) {
    CHECK_ERR(tj_graph_verify(NULL), TJ_ERR_INVALID_ARG, "graph is NULL");
}

TEST(test_verify_does_not_change_printed_text_or_status) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_store(b.g, b.y, (tj_val[]){b.pid, b.zero}, tj_exp(b.g, x), NULL, 0);
    char *before = NULL, *after = NULL;
    /* No grid yet: verify fails, yet records nothing on the graph. */
    CHECK(tj_graph_verify(b.g) == TJ_ERR_VERIFY);
    CHECK(tj_graph_status(b.g) == TJ_OK && !strcmp(tj_graph_error(b.g), ""));
    set_grid(&b);
    CHECK_OK(tj_graph_print(b.g, &before));
    CHECK_OK(tj_graph_verify(b.g));
    CHECK_OK(tj_graph_verify(b.g));
    CHECK_OK(tj_graph_print(b.g, &after));
    CHECK(!strcmp(before, after));
    tj_free(before);
    tj_free(after);
    tj_graph_free(b.g);
}

TEST(test_verify_reports_builder_error_again_after_other_errors) {
    base b = mk();
    CHECK(!tj_val_ok(tj_transpose(b.g, b.zero)));
    char first[1024];
    snprintf(first, sizeof first, "%s", tj_last_error());
    CHECK(tj_graph_verify(NULL) == TJ_ERR_INVALID_ARG); /* overwrites the thread's message */
    CHECK_ERR(tj_graph_verify(b.g), TJ_ERR_VERIFY, "transpose takes a 2-D tile");
    CHECK(!strcmp(tj_last_error(), first));
    tj_graph_free(b.g);
}

int main(void) { return harness_main(); }
