/*
 * Errors the builder records: the builder call returns TJ_NONE (or a
 * status), the graph keeps the first error, and tj_graph_verify() reports
 * it again with the same message. One invalid graph per test; each checks
 * the status and that the message names the node (or the tensor / symbol)
 * and the rule.
 */
#include "verify_util.h"

/* ================================================================== */
/* Builder-time errors                                                */
/* ================================================================== */

TEST(test_verify_rejects_mma_inner_dim_mismatch) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 32}, 1);
    tj_val w = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 64}, 1);
    tj_val m = tj_mma(b.g, a, w, TJ_NONE, 0);
    CHECK(!tj_val_ok(m));
    finish(&b, m); /* passing TJ_NONE on keeps the first error */
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "inner dimensions differ");
}

TEST(test_verify_rejects_mma_inner_dim_mismatch_after_transpose_flag) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 32}, 1);
    tj_val w = tj_full(b.g, TJ_F16, 2, (tj_dim[]){32, 64}, 1); /* fine without TRANS_B */
    CHECK(!tj_val_ok(tj_mma(b.g, a, w, TJ_NONE, TJ_TRANS_B)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "transposed");
}

TEST(test_verify_rejects_mma_operands_of_two_dtypes) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 32}, 1);
    tj_val w = tj_full(b.g, TJ_BF16, 2, (tj_dim[]){32, 64}, 1);
    CHECK(!tj_val_ok(tj_mma(b.g, a, w, TJ_NONE, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "a and b must have one dtype");
}

TEST(test_verify_rejects_mma_integer_operands) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_I32, 2, (tj_dim[]){16, 32}, 1);
    CHECK(!tj_val_ok(tj_mma(b.g, a, a, TJ_NONE, TJ_TRANS_B)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "not i32");
}

TEST(test_verify_rejects_mma_of_a_vector) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 1, (tj_dim[]){32}, 1);
    tj_val w = tj_full(b.g, TJ_F16, 2, (tj_dim[]){32, 64}, 1);
    CHECK(!tj_val_ok(tj_mma(b.g, a, w, TJ_NONE, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "must be 2-D tiles");
}

TEST(test_verify_rejects_mma_accumulator_of_wrong_shape) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 32}, 1);
    tj_val w = tj_full(b.g, TJ_F16, 2, (tj_dim[]){32, 64}, 1);
    tj_val acc = tj_full(b.g, TJ_F32, 2, (tj_dim[]){64, 16}, 0);
    CHECK(!tj_val_ok(tj_mma(b.g, a, w, acc, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "accumulator must be f32[16,64]");
}

TEST(test_verify_rejects_mma_accumulator_not_f32) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 32}, 1);
    tj_val w = tj_full(b.g, TJ_F16, 2, (tj_dim[]){32, 64}, 1);
    tj_val acc = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 64}, 0);
    CHECK(!tj_val_ok(tj_mma(b.g, a, w, acc, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "not f16[16,64]");
}

TEST(test_verify_rejects_mma_unknown_flags) {
    base b = mk();
    tj_val a = tj_full(b.g, TJ_F16, 2, (tj_dim[]){16, 16}, 1);
    CHECK(!tj_val_ok(tj_mma(b.g, a, a, TJ_NONE, 8u)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(mma)", "unknown flags 0x8");
}

TEST(test_verify_rejects_binary_operands_of_two_dtypes) {
    base b = mk();
    tj_val x = load_x(&b);
    CHECK(!tj_val_ok(tj_add(b.g, x, tj_const(b.g, TJ_BF16, 1))));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(binary)", "add operands must have one dtype");
}

TEST(test_verify_rejects_shapes_that_do_not_broadcast) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val col = tj_full(b.g, TJ_F32, 2, (tj_dim[]){64, 1}, 1);
    CHECK(!tj_val_ok(tj_mul(b.g, x, col)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(binary)", "f32[16,64] and f32[64,1]");
}

TEST(test_verify_rejects_float_unary_on_integers) {
    base b = mk();
    tj_val i = tj_iota(b.g, TJ_I32, 1, (tj_dim[]){16}, 0);
    CHECK(!tj_val_ok(tj_unary(b.g, TJ_RSQRT, i)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(unary)", "rsqrt takes float values, not i32");
}

TEST(test_verify_rejects_not_on_floats) {
    base b = mk();
    CHECK(!tj_val_ok(tj_unary(b.g, TJ_NOT, load_x(&b))));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(unary)", "not takes integer or bool values");
}

TEST(test_verify_rejects_mod_on_floats) {
    base b = mk();
    tj_val x = load_x(&b);
    CHECK(!tj_val_ok(tj_binary(b.g, TJ_MOD, x, x)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(binary)", "mod takes integer values, not f32");
}

TEST(test_verify_rejects_where_with_non_bool_condition) {
    base b = mk();
    tj_val x = load_x(&b);
    CHECK(!tj_val_ok(tj_where(b.g, x, x, x)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(where)", "condition must be bool, not f32");
}

TEST(test_verify_rejects_where_branches_of_two_dtypes) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val c = tj_binary(b.g, TJ_GT, x, tj_const(b.g, TJ_F32, 0));
    CHECK(!tj_val_ok(tj_where(b.g, c, x, tj_const(b.g, TJ_I32, 0))));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(where)", "where operands must have one dtype");
}

TEST(test_verify_rejects_fma_on_integers) {
    base b = mk();
    tj_val i = ci(b.g, 3);
    CHECK(!tj_val_ok(tj_fma(b.g, i, i, i)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(fma)", "fma takes float values");
}

TEST(test_verify_rejects_sum_of_bools) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val c = tj_binary(b.g, TJ_LT, x, x);
    CHECK(!tj_val_ok(tj_sum(b.g, c, 1)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(reduce)", "cannot sum bool values");
}

TEST(test_verify_rejects_reduce_axis_out_of_range) {
    base b = mk();
    CHECK(!tj_val_ok(tj_reduce(b.g, TJ_RMAX, load_x(&b), 2)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(reduce)", "axis 2 is out of range for a rank-2 tile");
}

TEST(test_verify_rejects_reduce_of_a_scalar) {
    base b = mk();
    CHECK(!tj_val_ok(tj_sum(b.g, tj_const(b.g, TJ_F32, 1), 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(reduce)", "cannot reduce a scalar");
}

TEST(test_verify_rejects_transpose_of_a_vector) {
    base b = mk();
    tj_val v = tj_full(b.g, TJ_F32, 1, (tj_dim[]){8}, 1);
    CHECK(!tj_val_ok(tj_transpose(b.g, v)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(transpose)", "transpose takes a 2-D tile, not f32[8]");
}

TEST(test_verify_rejects_reshape_that_moves_data) {
    base b = mk();
    CHECK(!tj_val_ok(tj_reshape(b.g, load_x(&b), 2, (tj_dim[]){64, 16})));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(reshape)", "only add or remove dims of size 1");
}

TEST(test_verify_rejects_broadcast_to_incompatible_shape) {
    base b = mk();
    tj_val row = tj_full(b.g, TJ_F32, 1, (tj_dim[]){8}, 1);
    CHECK(!tj_val_ok(tj_broadcast(b.g, row, 2, (tj_dim[]){8, 16})));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(broadcast)", "cannot broadcast f32[8] to f32[8,16]");
}

TEST(test_verify_rejects_cast_to_f64) {
    base b = mk();
    CHECK(!tj_val_ok(tj_cast(b.g, load_x(&b), TJ_F64)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(cast)", "cannot cast to");
}

TEST(test_verify_rejects_f64_constant) {
    base b = mk();
    CHECK(!tj_val_ok(tj_const(b.g, TJ_F64, 1.0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "not a graph dtype");
}

TEST(test_verify_rejects_fractional_integer_constant) {
    base b = mk();
    CHECK(!tj_val_ok(tj_const(b.g, TJ_I32, 2.5)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "constant 2.5 is not");
}

TEST(test_verify_rejects_i32_constant_out_of_range) {
    base b = mk();
    CHECK(!tj_val_ok(tj_const(b.g, TJ_I32, 2147483648.0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "is not an i32 value");
}

TEST(test_verify_rejects_bool_constant_other_than_0_or_1) {
    base b = mk();
    CHECK(!tj_val_ok(tj_const(b.g, TJ_BOOL, 2)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "bool constant is 0 or 1");
}

TEST(test_verify_rejects_dynamic_symbol_sizing_a_full_tile) {
    base b = mk();
    tj_sym n = tj_symbol(b.g, "n", TJ_DYNAMIC, 0, 1);
    CHECK(!tj_val_ok(tj_full(b.g, TJ_F32, 2, (tj_dim[]){16, tj_dim_sym(n)}, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "dynamic symbol 'n'");
}

TEST(test_verify_rejects_dynamic_symbol_sizing_a_load_tile) {
    base b = mk();
    tj_sym n = tj_symbol(b.g, "n", TJ_DYNAMIC, 0, 1);
    tj_val t = tj_load(b.g, b.x, (tj_val[]){b.pid, b.zero}, 2, (tj_dim[]){tj_dim_sym(n), 64}, NULL,
                       0, 0);
    CHECK(!tj_val_ok(t));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "tile dim 0 is the dynamic symbol 'n'");
}

TEST(test_verify_rejects_dynamic_symbol_sizing_an_iota) {
    base b = mk();
    tj_sym n = tj_symbol(b.g, "n", TJ_DYNAMIC, 0, 1);
    CHECK(!tj_val_ok(tj_iota(b.g, TJ_I32, 1, (tj_dim[]){tj_dim_sym(n)}, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(iota)", "dynamic symbol 'n'");
}

TEST(test_verify_rejects_zero_tile_dim) {
    base b = mk();
    CHECK(!tj_val_ok(tj_full(b.g, TJ_F32, 2, (tj_dim[]){16, 0}, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "tile dim 1 is 0");
}

TEST(test_verify_rejects_tile_larger_than_2_pow_31_elements) {
    base b = mk();
    CHECK(!tj_val_ok(tj_full(b.g, TJ_F32, 2, (tj_dim[]){1 << 16, 1 << 16}, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "larger than 2^31");
}

TEST(test_verify_rejects_float_iota) {
    base b = mk();
    CHECK(!tj_val_ok(tj_iota(b.g, TJ_F32, 1, (tj_dim[]){16}, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(iota)", "iota makes i32 or i64 tiles, not f32");
}

TEST(test_verify_rejects_iota_axis_out_of_range) {
    base b = mk();
    CHECK(!tj_val_ok(tj_iota(b.g, TJ_I32, 2, (tj_dim[]){16, 16}, 2)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(iota)", "axis 2 is out of range");
}

TEST(test_verify_rejects_program_id_axis_3) {
    base b = mk();
    CHECK(!tj_val_ok(tj_program_id(b.g, 3)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(program_id)", "grid axis 3 is not in 0..2");
}

TEST(test_verify_rejects_float_load_coordinate) {
    base b = mk();
    tj_val c[2] = {tj_const(b.g, TJ_F32, 0), b.zero};
    CHECK(!tj_val_ok(tj_load(b.g, b.x, c, 2, (tj_dim[]){16, 64}, NULL, 0, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "coordinate 0 must be an integer scalar, not f32");
}

TEST(test_verify_rejects_tile_as_store_coordinate) {
    base b = mk();
    tj_val x = load_x(&b);
    tj_val c[2] = {b.pid, tj_iota(b.g, TJ_I32, 1, (tj_dim[]){4}, 0)};
    CHECK(tj_store(b.g, b.y, c, x, NULL, 0) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(store)", "coordinate 1 must be an integer scalar, not i32[4]");
}

TEST(test_verify_rejects_load_tile_of_higher_rank_than_tensor) {
    base b = mk();
    tj_tensor v = tj_tensor_arg(b.g, "v", TJ_F32, 1, (tj_dim[]){64}, NULL);
    CHECK(!tj_val_ok(tj_load(b.g, v, &b.zero, 2, (tj_dim[]){1, 64}, NULL, 0, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "tensor 'v'", "a rank-2 tile does not fit");
}

TEST(test_verify_rejects_load_axes_not_increasing) {
    base b = mk();
    tj_val t = tj_load(b.g, b.x, (tj_val[]){b.pid, b.zero}, 2, (tj_dim[]){16, 64}, (int[]){1, 0},
                       0, 0);
    CHECK(!tj_val_ok(t));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "strictly increasing");
}

TEST(test_verify_rejects_load_axis_outside_tensor) {
    base b = mk();
    tj_val t = tj_load(b.g, b.x, (tj_val[]){b.pid, b.zero}, 1, (tj_dim[]){16}, (int[]){2}, 0, 0);
    CHECK(!tj_val_ok(t));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "covers tensor dim 2, outside tensor 'x'");
}

TEST(test_verify_rejects_load_unknown_flags) {
    base b = mk();
    tj_val t = tj_load(b.g, b.x, (tj_val[]){b.pid, b.zero}, 2, (tj_dim[]){16, 64}, NULL, 0, 6u);
    CHECK(!tj_val_ok(t));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "unknown flags 0x6");
}

TEST(test_verify_rejects_fractional_pad_for_integer_tensor) {
    base b = mk();
    tj_tensor ix = tj_tensor_arg(b.g, "ix", TJ_I32, 1, (tj_dim[]){64}, NULL);
    CHECK(!tj_val_ok(tj_load(b.g, ix, &b.zero, 1, (tj_dim[]){64}, NULL, 0.5, 0)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(load)", "pad 0.5 is not a i32 value");
}

TEST(test_verify_rejects_float_loop_bound) {
    base b = mk();
    tj_val iv;
    tj_status s = tj_for_begin(b.g, b.zero, tj_const(b.g, TJ_F32, 4), ci(b.g, 1), 0, NULL, &iv, NULL);
    CHECK(s == TJ_ERR_VERIFY);
    CHECK(tj_for_end(b.g, 0, NULL, NULL) != TJ_OK); /* the failed loop still balances */
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)", "upper bound must be an integer scalar, not f32");
}

TEST(test_verify_rejects_loop_bounds_of_two_dtypes) {
    base b = mk();
    tj_val iv;
    tj_val hi = tj_const(b.g, TJ_I64, 4);
    CHECK(tj_for_begin(b.g, b.zero, hi, ci(b.g, 1), 0, NULL, &iv, NULL) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)", "bounds and step must have one dtype: i32, i64, i32");
}

TEST(test_verify_rejects_yield_that_changes_dtype) {
    base b = mk();
    tj_val iv, c, r;
    tj_val init = tj_full(b.g, TJ_F32, 2, (tj_dim[]){16, 64}, 0);
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 1, &init, &iv, &c));
    tj_val next = tj_cast(b.g, c, TJ_BF16);
    CHECK(tj_for_end(b.g, 1, &next, &r) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)",
                         "carried value 0 changes type: carried f32[16,64], yielded bf16[16,64]");
}

TEST(test_verify_rejects_yield_that_changes_shape) {
    base b = mk();
    tj_val iv, c, r;
    tj_val init = tj_full(b.g, TJ_F32, 2, (tj_dim[]){16, 1}, 0);
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 1, &init, &iv, &c));
    tj_val next = tj_add(b.g, c, tj_full(b.g, TJ_F32, 1, (tj_dim[]){64}, 1)); /* broadcasts up */
    CHECK(tj_for_end(b.g, 1, &next, &r) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)", "carried f32[16,1], yielded f32[16,64]");
}

TEST(test_verify_rejects_yield_count_mismatch) {
    base b = mk();
    tj_val iv, c[2], r[2];
    tj_val init[2] = {tj_const(b.g, TJ_F32, 0), tj_const(b.g, TJ_F32, 1)};
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 2, init, &iv, c));
    CHECK(tj_for_end(b.g, 1, c, r) != TJ_OK);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)", "1 values yielded for 2 carried");
}

TEST(test_verify_rejects_yield_from_a_nested_loop) {
    base b = mk();
    tj_val iv, jv, c, r, inner;
    tj_val init = tj_const(b.g, TJ_F32, 0);
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 1, &init, &iv, &c));
    CHECK_OK(tj_for_begin(b.g, b.zero, ci(b.g, 4), ci(b.g, 1), 0, NULL, &jv, NULL));
    inner = tj_add(b.g, c, tj_const(b.g, TJ_F32, 1));
    CHECK_OK(tj_for_end(b.g, 0, NULL, NULL));
    CHECK(tj_for_end(b.g, 1, &inner, &r) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(for)", "defined inside a nested loop");
}

TEST(test_verify_rejects_for_end_without_open_loop) {
    base b = mk();
    CHECK(tj_for_end(b.g, 0, NULL, NULL) == TJ_ERR_INVALID_ARG);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tj_for_end", "no loop is open");
}

TEST(test_verify_rejects_tensor_dim_naming_missing_symbol) {
    base b = mk();
    tj_sym ghost = {7};
    tj_tensor t = tj_tensor_arg(b.g, "t", TJ_F32, 1, (tj_dim[]){tj_dim_sym(ghost)}, NULL);
    CHECK(t.id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor 't'", "dim 0 is -9, which names no symbol");
}

TEST(test_verify_rejects_tensor_stride_naming_missing_symbol) {
    base b = mk();
    tj_sym ghost = {3};
    tj_tensor t = tj_tensor_arg(b.g, "t", TJ_F32, 2, (tj_dim[]){4, 4},
                                (tj_dim[]){tj_dim_sym(ghost), 1});
    CHECK(t.id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor 't'", "stride 0 is -5, which names no symbol");
}

TEST(test_verify_rejects_f64_tensor) {
    base b = mk();
    CHECK(tj_tensor_arg(b.g, "t", TJ_F64, 1, (tj_dim[]){4}, NULL).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor 't'", "is not a tensor dtype");
}

TEST(test_verify_rejects_f64_scalar_argument) {
    base b = mk();
    CHECK(!tj_val_ok(tj_scalar_arg(b.g, "eps", TJ_F64)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "scalar 'eps'", "not a scalar dtype");
}

TEST(test_verify_rejects_tensor_of_rank_6) {
    base b = mk();
    tj_dim d[6] = {2, 2, 2, 2, 2, 2};
    CHECK(tj_tensor_arg(b.g, "t6", TJ_F32, 6, d, NULL).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor 't6'", "rank 6 is not in 0..5");
}

TEST(test_verify_rejects_tensor_dim_above_max) {
    base b = mk();
    CHECK(tj_tensor_arg(b.g, "t", TJ_F32, 1, (tj_dim[]){TJ_MAX_DIM + 1}, NULL).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor 't'", "dim 0 is 1099511627777");
}

TEST(test_verify_rejects_duplicate_tensor_name) {
    base b = mk();
    CHECK(tj_tensor_arg(b.g, "x", TJ_F32, 1, (tj_dim[]){4}, NULL).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor name 'x'", "already used");
}

TEST(test_verify_rejects_tensor_named_like_a_symbol) {
    base b = mk();
    CHECK(tj_tensor_arg(b.g, "M", TJ_F32, 1, (tj_dim[]){4}, NULL).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tensor name 'M'", "already used");
}

TEST(test_verify_rejects_scalar_named_like_a_tensor) {
    base b = mk();
    CHECK(!tj_val_ok(tj_scalar_arg(b.g, "y", TJ_F32)));
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "scalar name 'y'", "already used");
}

TEST(test_verify_rejects_symbol_named_like_a_value) {
    base b = mk();
    CHECK_OK(tj_name(b.g, b.pid, "row"));
    CHECK(tj_symbol(b.g, "row", TJ_EXACT, 0, 1).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "symbol name 'row'", "already used");
}

TEST(test_verify_rejects_two_values_of_one_name) {
    base b = mk();
    CHECK_OK(tj_name(b.g, b.pid, "i"));
    CHECK(tj_name(b.g, b.zero, "i") == TJ_ERR_INVALID_ARG);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "value name 'i'", "already used");
}

TEST(test_verify_rejects_value_name_that_is_not_an_identifier) {
    base b = mk();
    CHECK(tj_name(b.g, b.pid, "2nd row") == TJ_ERR_INVALID_ARG);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "value name '2nd row'", "not an identifier");
}

TEST(test_verify_rejects_bucket_multiple_without_multiple) {
    base b = mk();
    CHECK(tj_symbol(b.g, "S", TJ_BUCKET_MULTIPLE, 0, 1).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "symbol 'S'", "bucket 0");
}

TEST(test_verify_rejects_bucket_given_for_pow2_policy) {
    base b = mk();
    CHECK(tj_symbol(b.g, "S", TJ_BUCKET_POW2, 64, 1).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "symbol 'S'", "bucket 64");
}

TEST(test_verify_rejects_zero_divisor) {
    base b = mk();
    CHECK(tj_symbol(b.g, "S", TJ_EXACT, 0, 0).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "symbol 'S'", "divisor 0 is not in 1..2^31-1");
}

TEST(test_verify_rejects_unknown_policy) {
    base b = mk();
    CHECK(tj_symbol(b.g, "S", (tj_policy)9, 0, 1).id == TJ_NONE_ID);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "symbol 'S'", "policy 9 is not a tj_policy");
}

TEST(test_verify_rejects_float_grid_dim_when_set) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val f = tj_const(b.g, TJ_F32, 4);
    CHECK(tj_set_grid(b.g, 1, &f) == TJ_ERR_VERIFY);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(const)", "grid dim 0 must be an integer scalar");
}

TEST(test_verify_rejects_grid_of_four_dims) {
    base b = mk();
    store_y(&b, load_x(&b));
    tj_val one = ci(b.g, 1), d[4] = {one, one, one, one};
    CHECK(tj_set_grid(b.g, 4, d) == TJ_ERR_INVALID_ARG);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "tj_set_grid", "a grid has 1..3 dims");
}

TEST(test_verify_rejects_value_from_another_graph) {
    base b = mk(), o = mk();
    for (int i = 0; i < 20; i++) ci(o.g, i);
    tj_val foreign = ci(o.g, 99); /* an id beyond b's nodes */
    CHECK(!tj_val_ok(tj_add(b.g, b.zero, foreign)));
    tj_graph_free(o.g);
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_INVALID_ARG, "binary: operand 1", "is not a value of graph 'k'");
}

TEST(test_verify_rejects_none_passed_on) {
    base b = mk();
    tj_val bad = tj_unary(b.g, TJ_EXP, ci(b.g, 1));
    tj_val worse = tj_add(b.g, bad, bad);
    CHECK(!tj_val_ok(worse));
    CHECK(strstr(tj_last_error(), "TJ_NONE"));
    /* The graph keeps the first failure, not the TJ_NONE that followed. */
    EXPECT_BUILDER_ERROR(b.g, TJ_ERR_VERIFY, "(unary)", "exp takes float values");
}


int main(void) { return harness_main(); }
