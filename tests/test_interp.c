/*
 * test_interp.c — the CPU interpreter on hand-built graphs: loads and
 * stores, loops, the grid, symbols and argument errors, checked against
 * naive C on random non-zero inputs with poisoned outputs. Elementwise
 * ops, casts, reductions and mma are in test_interp_ops.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "interp_util.h"

/* ---- loads and stores ---------------------------------------------- */

TEST(test_load_store_copies_with_ragged_edges) {
    tj_graph *g = new_graph("copy");
    tj_sym M = exact_sym(g, "M"), N = exact_sym(g, "N");
    tj_dim dims[2] = {tj_dim_sym(M), tj_dim_sym(N)}, tile[2] = {16, 8};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, dims, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    tj_val c[2] = {pid(g, 0), pid(g, 1)};
    tj_val t = tj_load(g, x, c, 2, tile, NULL, 0.0, 0);
    CHECK_OK(tj_store(g, y, c, tj_add(g, tj_mul(g, t, cf32(g, 2)), cf32(g, 1)), NULL, 0));
    CHECK_OK(set_grid2(g, cdiv(g, symv(g, M), ci32(g, 16)), cdiv(g, symv(g, N), ci32(g, 8))));
    int64_t sv[2] = {37, 29};
    size_t n = 37 * 29;
    float *xb = rand_f32(n), *yb = poisoned_f32(n + 64);
    void *ts[2] = {xb, yb};
    CHECK_OK(run(g, sv, ts, NULL, 0));
    for (size_t i = 0; i < n; i++) {
        float m = xb[i] * 2.0f;
        float want = m + 1.0f;
        CHECKF(yb[i] == want, "y[%zu] = %g, want %g", i, yb[i], want);
    }
    for (size_t i = n; i < n + 64; i++) CHECK(isnan(yb[i]));
    free(xb);
    free(yb);
    tj_graph_free(g);
}

TEST(test_load_pad_fills_outside_and_neg_inf_masks_row_max) {
    enum { M = 21, N = 13 };
    tj_graph *g = new_graph("pad");
    tj_dim dims[2] = {M, N}, col[2] = {M, 1}, tile[2] = {8, 16};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, dims, NULL);
    tj_tensor r = tj_tensor_arg(g, "r", TJ_F32, 2, col, NULL);
    tj_tensor s = tj_tensor_arg(g, "s", TJ_F32, 2, col, NULL);
    tj_val c[2] = {pid(g, 0), ci32(g, 0)};
    tj_val a = tj_load(g, x, c, 2, tile, NULL, -INFINITY, 0);
    tj_val b = tj_load(g, x, c, 2, tile, NULL, 0.5, 0);
    CHECK_OK(tj_store(g, r, c, tj_rowmax(g, a), NULL, 0));
    CHECK_OK(tj_store(g, s, c, tj_rowsum(g, b), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 3)));
    float *xb = rand_f32(M * N), *rb = poisoned_f32(M + 8), *sb = poisoned_f32(M + 8);
    void *ts[3] = {xb, rb, sb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < M; i++) {
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < 16; j++) {
            float v = j < N ? xb[i * N + j] : 0.5f;
            if (j < N && v > mx) mx = v;
            sum = sum + v;
        }
        CHECKF(rb[i] == mx, "row %d max %g, want %g", i, rb[i], mx);
        CHECKF(sb[i] == sum, "row %d sum %g, want %g", i, sb[i], sum);
    }
    for (int i = M; i < M + 8; i++) CHECK(isnan(rb[i]) && isnan(sb[i]));
    free(xb);
    free(rb);
    free(sb);
    tj_graph_free(g);
}

TEST(test_load_element_coords_read_overlapping_windows) {
    enum { P = 7 };
    tj_graph *g = new_graph("elem");
    tj_dim dims[2] = {20, 20}, ydims[2] = {P * 4, 4}, tile[2] = {4, 4};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, dims, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, ydims, NULL);
    tj_val p = pid(g, 0);
    tj_val ec[2] = {tj_mul(g, p, ci32(g, 3)), ci32(g, 5)};
    tj_val t = tj_load(g, x, ec, 2, tile, NULL, -1.0, TJ_COORD_ELEMENT);
    tj_val tc[2] = {p, ci32(g, 0)};
    CHECK_OK(tj_store(g, y, tc, t, NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, P)));
    float *xb = rand_f32(400), *yb = poisoned_f32(P * 16);
    void *ts[2] = {xb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int q = 0; q < P; q++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int row = q * 3 + i;
                float want = row < 20 ? xb[row * 20 + 5 + j] : -1.0f;
                CHECK(yb[(q * 4 + i) * 4 + j] == want);
            }
    free(xb);
    free(yb);
    tj_graph_free(g);
}

/* x has padded rows (stride S > N, a symbol); z is column-major. The
 * padding holds NaN, which must never be read. */
TEST(test_given_and_symbolic_strides) {
    enum { M = 11, N = 6, S = 9 };
    tj_graph *g = new_graph("strides");
    tj_sym m = exact_sym(g, "M"), s = exact_sym(g, "S");
    tj_dim dims[2] = {tj_dim_sym(m), N}, xs[2] = {tj_dim_sym(s), 1}, zs[2] = {1, tj_dim_sym(m)};
    tj_dim tile[2] = {8, 8};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, dims, xs);
    tj_tensor z = tj_tensor_arg(g, "z", TJ_F32, 2, dims, zs);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    tj_val c[2] = {pid(g, 0), ci32(g, 0)};
    tj_val sum = tj_add(g, tj_load(g, x, c, 2, tile, NULL, 0, 0), tj_load(g, z, c, 2, tile, NULL, 0, 0));
    CHECK_OK(tj_store(g, y, c, sum, NULL, 0));
    CHECK_OK(set_grid1(g, cdiv(g, symv(g, m), ci32(g, 8))));
    int64_t sv[2] = {M, S};
    float *xb = rand_f32(M * S), *zb = rand_f32(M * N), *yb = poisoned_f32(M * N + 16);
    for (int i = 0; i < M; i++)
        for (int j = N; j < S; j++) xb[i * S + j] = NAN;
    void *ts[3] = {xb, zb, yb};
    CHECK_OK(run(g, sv, ts, NULL, 0));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float want = xb[i * S + j] + zb[j * M + i];
            CHECKF(yb[i * N + j] == want, "y[%d][%d] = %g, want %g", i, j, yb[i * N + j], want);
        }
    for (int k = M * N; k < M * N + 16; k++) CHECK(isnan(yb[k]));
    free(xb);
    free(zb);
    free(yb);
    tj_graph_free(g);
}

/* A [B,H,C,W] tensor tiled over H and W, programs over (h tile, c, b). */
TEST(test_rank4_tensor_tiles_over_axes_1_and_3) {
    enum { B = 2, H = 5, C = 3, W = 7 };
    tj_graph *g = new_graph("rank4");
    tj_dim dims[4] = {B, H, C, W}, tile[2] = {4, 8};
    int axes[2] = {1, 3};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 4, dims, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 4, dims, NULL);
    tj_val c[4] = {pid(g, 2), pid(g, 0), pid(g, 1), ci32(g, 0)};
    tj_val t = tj_load(g, x, c, 2, tile, axes, 0, 0);
    CHECK_OK(tj_store(g, y, c, tj_unary(g, TJ_NEG, t), axes, 0));
    tj_val gd[3] = {ci32(g, 2), ci32(g, C), ci32(g, B)};
    CHECK_OK(tj_set_grid(g, 3, gd));
    size_t n = B * H * C * W;
    float *xb = rand_f32(n), *yb = poisoned_f32(n + 8);
    void *ts[2] = {xb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (size_t i = 0; i < n; i++) CHECKF(yb[i] == -xb[i], "element %zu", i);
    for (size_t i = n; i < n + 8; i++) CHECK(isnan(yb[i]));
    free(xb);
    free(yb);
    tj_graph_free(g);
}

TEST(test_rank0_load_and_store_one_element) {
    tj_graph *g = new_graph("scalar");
    tj_dim d1[1] = {5};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d1, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, d1, NULL);
    tj_tensor z = tj_tensor_arg(g, "z", TJ_F32, 0, NULL, NULL);
    tj_val p = pid(g, 0);
    /* Element p + 1 (past the end for the last program: pad 9). */
    tj_val c[1] = {tj_add(g, p, ci32(g, 1))};
    tj_val v = tj_load(g, x, c, 0, NULL, NULL, 9.0, 0);
    tj_val pc[1] = {p};
    CHECK_OK(tj_store(g, y, pc, v, NULL, 0));
    CHECK_OK(tj_store(g, z, NULL, tj_load(g, z, NULL, 0, NULL, NULL, 0, 0), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 5)));
    float *xb = rand_f32(5), *yb = poisoned_f32(6), zb = 3.5f;
    void *ts[3] = {xb, yb, &zb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < 4; i++) CHECK(yb[i] == xb[i + 1]);
    CHECK(yb[4] == 9.0f && isnan(yb[5]) && zb == 3.5f);
    free(xb);
    free(yb);
    tj_graph_free(g);
}

TEST(test_integer_and_bool_tensors_load_and_store_exactly) {
    tj_graph *g = new_graph("ints");
    tj_dim d[1] = {6}, tile[1] = {8};
    tj_tensor a = tj_tensor_arg(g, "a", TJ_I64, 1, d, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_I64, 1, d, NULL);
    tj_tensor m = tj_tensor_arg(g, "m", TJ_BOOL, 1, d, NULL);
    tj_tensor n = tj_tensor_arg(g, "n", TJ_BOOL, 1, d, NULL);
    tj_val c[1] = {ci32(g, 0)};
    tj_val v = tj_load(g, a, c, 1, tile, NULL, -5, 0);
    CHECK_OK(tj_store(g, b, c, tj_add(g, v, tj_const(g, TJ_I64, 1)), NULL, 0));
    CHECK_OK(tj_store(g, n, c, tj_unary(g, TJ_NOT, tj_load(g, m, c, 1, tile, NULL, 0, 0)), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int64_t ab[6], bb[7];
    uint8_t mb[6] = {0, 1, 1, 0, 1, 0}, nb[7];
    for (int i = 0; i < 6; i++) ab[i] = ((int64_t)1 << 60) + 2 * i + 1;
    ab[5] = INT64_MAX;
    for (int i = 0; i < 7; i++) bb[i] = 42, nb[i] = 42;
    void *ts[4] = {ab, bb, mb, nb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < 5; i++) CHECK(bb[i] == ((int64_t)1 << 60) + 2 * i + 2);
    CHECK(bb[5] == INT64_MIN); /* wraps */
    for (int i = 0; i < 6; i++) CHECK(nb[i] == !mb[i]);
    CHECK(bb[6] == 42 && nb[6] == 42);
    tj_graph_free(g);
}

/* ---- loops --------------------------------------------------------- */

TEST(test_loop_accumulates_mma_over_ragged_k) {
    enum { M = 20, N = 24, K = 50 };
    tj_graph *g = new_graph("gemm");
    tj_sym k = exact_sym(g, "K");
    tj_dim ad[2] = {M, tj_dim_sym(k)}, bd[2] = {tj_dim_sym(k), N}, cd[2] = {M, N};
    tj_tensor a = tj_tensor_arg(g, "a", TJ_F32, 2, ad, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_F32, 2, bd, NULL);
    tj_tensor c = tj_tensor_arg(g, "c", TJ_F32, 2, cd, NULL);
    tj_dim acc_dims[2] = {16, 8}, at[2] = {16, 16}, bt[2] = {16, 8};
    tj_val init = tj_full(g, TJ_F32, 2, acc_dims, 0.0), iv, acc, out;
    CHECK_OK(tj_for_begin(g, ci32(g, 0), cdiv(g, symv(g, k), ci32(g, 16)), ci32(g, 1), 1, &init,
                          &iv, &acc));
    tj_val ac[2] = {pid(g, 0), iv}, bc[2] = {iv, pid(g, 1)};
    tj_val next = tj_mma(g, tj_load(g, a, ac, 2, at, NULL, 0, 0), tj_load(g, b, bc, 2, bt, NULL, 0, 0),
                         acc, 0);
    CHECK_OK(tj_for_end(g, 1, &next, &out));
    tj_val cc[2] = {pid(g, 0), pid(g, 1)};
    CHECK_OK(tj_store(g, c, cc, out, NULL, 0));
    CHECK_OK(set_grid2(g, ci32(g, 2), ci32(g, 3)));
    int64_t sv[1] = {K};
    float *abuf = rand_f32(M * K), *bbuf = rand_f32(K * N), *cbuf = poisoned_f32(M * N + 4);
    void *ts[3] = {abuf, bbuf, cbuf};
    CHECK_OK(run(g, sv, ts, NULL, 0));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int q = 0; q < K; q++) {
                float p = abuf[i * K + q] * bbuf[q * N + j];
                s = s + p;
            }
            CHECKF(cbuf[i * N + j] == s, "c[%d][%d] = %.9g, want %.9g", i, j, cbuf[i * N + j], s);
        }
    for (int i = M * N; i < M * N + 4; i++) CHECK(isnan(cbuf[i]));
    free(abuf);
    free(bbuf);
    free(cbuf);
    tj_graph_free(g);
}

/* Row max and sum of exp carried across column tiles, as attention does. */
TEST(test_loop_online_softmax_carries_max_and_sum) {
    enum { M = 10, N = 45 };
    tj_graph *g = new_graph("online");
    tj_dim xd[2] = {M, N}, od[2] = {M, 1}, tile[2] = {16, 16}, col[2] = {16, 1};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, xd, NULL);
    tj_tensor mo = tj_tensor_arg(g, "mo", TJ_F32, 2, od, NULL);
    tj_tensor lo = tj_tensor_arg(g, "lo", TJ_F32, 2, od, NULL);
    tj_val init[2] = {tj_full(g, TJ_F32, 2, col, -INFINITY), tj_full(g, TJ_F32, 2, col, 0)};
    tj_val iv, cv[2], res[2];
    CHECK_OK(tj_for_begin(g, ci32(g, 0), ci32(g, 3), ci32(g, 1), 2, init, &iv, cv));
    tj_val c[2] = {pid(g, 0), iv};
    tj_val s = tj_load(g, x, c, 2, tile, NULL, -INFINITY, 0);
    tj_val mn = tj_maximum(g, cv[0], tj_rowmax(g, s));
    tj_val alpha = tj_exp(g, tj_sub(g, cv[0], mn));
    tj_val p = tj_exp(g, tj_sub(g, s, mn));
    tj_val next[2] = {mn, tj_add(g, tj_mul(g, cv[1], alpha), tj_rowsum(g, p))};
    CHECK_OK(tj_for_end(g, 2, next, res));
    tj_val oc[2] = {pid(g, 0), ci32(g, 0)};
    CHECK_OK(tj_store(g, mo, oc, res[0], NULL, 0));
    CHECK_OK(tj_store(g, lo, oc, res[1], NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float *xb = rand_f32(M * N), *mb = poisoned_f32(M + 4), *lb = poisoned_f32(M + 4);
    for (int i = 0; i < M * N; i++) xb[i] *= 4;
    void *ts[3] = {xb, mb, lb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < M; i++) {
        double m = -INFINITY, l = 0;
        for (int j = 0; j < N; j++) m = fmax(m, xb[i * N + j]);
        for (int j = 0; j < N; j++) l += exp(xb[i * N + j] - m);
        CHECK(mb[i] == (float)m);
        CHECKF(close_to(lb[i], l, 1e-5, 0), "row %d: sum %g, want %g", i, lb[i], l);
    }
    for (int i = M; i < M + 4; i++) CHECK(isnan(mb[i]) && isnan(lb[i]));
    free(xb);
    free(mb);
    free(lb);
    tj_graph_free(g);
}

/* Builds: y[0] = loop(lo, hi, step) { c = c * 2 + 1 } from init 3, and
 * y[1] = the trip count. */
static tj_graph *count_loop(int64_t lo, int64_t hi, int64_t step, tj_dtype it) {
    tj_graph *g = new_graph("trips");
    tj_dim d[1] = {2};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I64, 1, d, NULL);
    tj_val init[2] = {tj_const(g, TJ_I64, 3), tj_const(g, TJ_I64, 0)}, iv, cv[2], res[2];
    tj_for_begin(g, tj_const(g, it, (double)lo), tj_const(g, it, (double)hi),
                 tj_const(g, it, (double)step), 2, init, &iv, cv);
    tj_val one = tj_const(g, TJ_I64, 1);
    tj_val next[2] = {tj_add(g, tj_mul(g, cv[0], tj_const(g, TJ_I64, 2)), one), tj_add(g, cv[1], one)};
    tj_for_end(g, 2, next, res);
    tj_val c0[1] = {ci32(g, 0)}, c1[1] = {ci32(g, 1)};
    tj_store(g, y, c0, res[0], NULL, 0);
    tj_store(g, y, c1, res[1], NULL, 0);
    set_grid1(g, ci32(g, 1));
    return g;
}

TEST(test_zero_trip_loop_yields_init) {
    int64_t bounds[][3] = {{5, 3, 1}, {4, 4, 2}, {0, 7, 3}, {-3, 2, 1}, {0, 1, 100}};
    int64_t trips[] = {0, 0, 3, 5, 1};
    for (int k = 0; k < 5; k++)
        for (int t = 0; t < 2; t++) {
            tj_graph *g = count_loop(bounds[k][0], bounds[k][1], bounds[k][2], t ? TJ_I64 : TJ_I32);
            CHECK_OK(tj_graph_status(g));
            int64_t y[2] = {-1, -1};
            void *ts[1] = {y};
            CHECK_OK(run(g, NULL, ts, NULL, 0));
            int64_t want = 3;
            for (int i = 0; i < trips[k]; i++) want = want * 2 + 1;
            CHECKF(y[1] == trips[k] && y[0] == want, "case %d: %lld trips", k, (long long)y[1]);
            tj_graph_free(g);
        }
}

TEST(test_loop_near_int32_max_does_not_overflow) {
    tj_graph *g = count_loop(INT32_MAX - 5, INT32_MAX, 4, TJ_I32);
    int64_t y[2];
    void *ts[1] = {y};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(y[1] == 2);
    tj_graph_free(g);
}

TEST(test_loop_bound_depends_on_program_id) {
    enum { P = 6 };
    tj_graph *g = new_graph("causal_bound");
    tj_dim d[1] = {P};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I32, 1, d, NULL);
    tj_val p = pid(g, 0), init = ci32(g, 0), iv, acc, out;
    CHECK_OK(tj_for_begin(g, ci32(g, 0), tj_add(g, p, ci32(g, 1)), ci32(g, 1), 1, &init, &iv, &acc));
    tj_val next = tj_add(g, acc, iv);
    CHECK_OK(tj_for_end(g, 1, &next, &out));
    tj_val c[1] = {p};
    CHECK_OK(tj_store(g, y, c, out, NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, P)));
    int32_t *yb = poisoned_i32(P + 2);
    void *ts[1] = {yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < P; i++) CHECK(yb[i] == i * (i + 1) / 2);
    CHECK(yb[P] == POISON_I32 && yb[P + 1] == POISON_I32);
    free(yb);
    tj_graph_free(g);
}

/* A yield naming another carried value must see its old value. */
TEST(test_loop_yields_swap_and_fibonacci) {
    tj_graph *g = new_graph("fib");
    tj_dim d[1] = {4};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I32, 1, d, NULL);
    tj_val init[4] = {ci32(g, 1), ci32(g, 2), ci32(g, 0), ci32(g, 1)}, iv, cv[4], res[4];
    CHECK_OK(tj_for_begin(g, ci32(g, 0), ci32(g, 3), ci32(g, 1), 4, init, &iv, cv));
    tj_val next[4] = {cv[1], cv[0], cv[3], tj_add(g, cv[2], cv[3])};
    CHECK_OK(tj_for_end(g, 4, next, res));
    for (int k = 0; k < 4; k++) {
        tj_val c[1] = {ci32(g, k)};
        CHECK_OK(tj_store(g, y, c, res[k], NULL, 0));
    }
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t yb[4];
    void *ts[1] = {yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(yb[0] == 2 && yb[1] == 1); /* three swaps */
    CHECK(yb[2] == 2 && yb[3] == 3); /* fib: (0,1) (1,1) (1,2) (2,3) */
    tj_graph_free(g);
}

/* sum over i < 4, j < i of (10 i + j), the inner loop carrying the
 * outer loop's running sum. */
TEST(test_nested_loops_carry_outer_values) {
    tj_graph *g = new_graph("nested");
    tj_dim d[1] = {1};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I32, 1, d, NULL);
    tj_val init = ci32(g, 0), i, s, outer;
    CHECK_OK(tj_for_begin(g, ci32(g, 0), ci32(g, 4), ci32(g, 1), 1, &init, &i, &s));
    tj_val j, t, inner;
    CHECK_OK(tj_for_begin(g, ci32(g, 0), i, ci32(g, 1), 1, &s, &j, &t));
    tj_val next = tj_add(g, t, tj_add(g, tj_mul(g, i, ci32(g, 10)), j));
    CHECK_OK(tj_for_end(g, 1, &next, &inner));
    CHECK_OK(tj_for_end(g, 1, &inner, &outer));
    tj_val c[1] = {ci32(g, 0)};
    CHECK_OK(tj_store(g, y, c, outer, NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t yb[1] = {-1};
    void *ts[1] = {yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    int want = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < a; b++) want += 10 * a + b;
    CHECK(yb[0] == want);
    tj_graph_free(g);
}

TEST(test_loop_step_not_positive_at_run_time_is_error) {
    tj_graph *g = new_graph("badstep");
    tj_dim d[1] = {1};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I32, 1, d, NULL);
    tj_val step = tj_scalar_arg(g, "step", TJ_I32), init = ci32(g, 0), iv, acc, out;
    CHECK_OK(tj_for_begin(g, ci32(g, 0), ci32(g, 4), step, 1, &init, &iv, &acc));
    tj_val next = tj_add(g, acc, ci32(g, 1));
    CHECK_OK(tj_for_end(g, 1, &next, &out));
    tj_val c[1] = {ci32(g, 0)};
    CHECK_OK(tj_store(g, y, c, out, NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t yb[1] = {-1};
    void *ts[1] = {yb};
    double zero = 0, neg = -2, two = 2;
    CHECK_ERR(run(g, NULL, ts, &zero, 0), TJ_ERR_INVALID_ARG, "step is 0");
    CHECK_ERR(run(g, NULL, ts, &neg, 0), TJ_ERR_INVALID_ARG, "(for)");
    CHECK(yb[0] == -1);
    CHECK_OK(run(g, NULL, ts, &two, 0));
    CHECK(yb[0] == 2);
    tj_graph_free(g);
}

/* ---- grid ---------------------------------------------------------- */

/* Each program reads a counter, records it at its linear id and bumps
 * it: the record shows the order the programs ran in. */
TEST(test_grid_runs_axis0_fastest_and_num_programs) {
    tj_graph *g = new_graph("order");
    tj_dim one[1] = {1}, n12[1] = {12}, n3[1] = {3};
    tj_tensor ctr = tj_tensor_arg(g, "ctr", TJ_I32, 1, one, NULL);
    tj_tensor ord = tj_tensor_arg(g, "ord", TJ_I32, 1, n12, NULL);
    tj_tensor np = tj_tensor_arg(g, "np", TJ_I32, 1, n3, NULL);
    tj_val z[1] = {ci32(g, 0)};
    tj_val c = tj_load(g, ctr, z, 0, NULL, NULL, 0, 0);
    tj_val lin = tj_add(g, tj_add(g, pid(g, 0), tj_mul(g, pid(g, 1), ci32(g, 3))),
                        tj_mul(g, pid(g, 2), ci32(g, 6)));
    tj_val lc[1] = {lin};
    CHECK_OK(tj_store(g, ord, lc, c, NULL, 0));
    CHECK_OK(tj_store(g, ctr, z, tj_add(g, c, ci32(g, 1)), NULL, 0));
    for (int a = 0; a < 3; a++) {
        tj_val ac[1] = {ci32(g, a)};
        CHECK_OK(tj_store(g, np, ac, tj_num_programs(g, a), NULL, 0));
    }
    tj_val gd[3] = {ci32(g, 3), ci32(g, 2), ci32(g, 2)};
    CHECK_OK(tj_set_grid(g, 3, gd));
    int32_t cb[1] = {0}, *ob = poisoned_i32(12), nb[3] = {0, 0, 0};
    void *ts[3] = {cb, ob, nb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(cb[0] == 12);
    for (int i = 0; i < 12; i++) CHECKF(ob[i] == i, "program %d ran %d-th", i, ob[i]);
    CHECK(nb[0] == 3 && nb[1] == 2 && nb[2] == 2);
    free(ob);
    tj_graph_free(g);
}

/* ---- symbols ------------------------------------------------------- */

/* s = sum of x (tile [N], padded with 0); b = sum of iota over the tile
 * (shows the tile's size); v = symval N (the true value). */
static tj_graph *bucket_graph(tj_policy policy, int64_t bucket) {
    tj_graph *g = new_graph("bucket");
    tj_sym n = tj_symbol(g, "N", policy, bucket, 1);
    tj_dim d[1] = {tj_dim_sym(n)}, one[1] = {1};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_tensor s = tj_tensor_arg(g, "s", TJ_F32, 1, one, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_I32, 1, one, NULL);
    tj_tensor v = tj_tensor_arg(g, "v", TJ_I32, 1, one, NULL);
    tj_val z[1] = {ci32(g, 0)};
    tj_store(g, s, z, tj_sum(g, tj_load(g, x, z, 1, d, NULL, 0, 0), 0), NULL, 0);
    tj_store(g, b, z, tj_sum(g, tj_iota(g, TJ_I32, 1, d, 0), 0), NULL, 0);
    tj_store(g, v, z, tj_reshape(g, symv(g, n), 1, one), NULL, 0);
    set_grid1(g, ci32(g, 1));
    return g;
}

TEST(test_bucketed_symbol_tiles_use_bucket_and_masking_hides_it) {
    tj_policy pol[3] = {TJ_EXACT, TJ_BUCKET_POW2, TJ_BUCKET_MULTIPLE};
    int64_t bucket[3] = {0, 0, 16}, tile[3] = {37, 64, 48};
    float *xb = rand_f32(37), first = 0;
    for (int k = 0; k < 3; k++) {
        tj_graph *g = bucket_graph(pol[k], bucket[k]);
        CHECK_OK(tj_graph_status(g));
        int64_t sv[1] = {37};
        float sb[2] = {NAN, NAN};
        int32_t bb[1] = {-1}, vb[1] = {-1};
        void *ts[4] = {xb, sb, bb, vb};
        CHECK_OK(run(g, sv, ts, NULL, 0));
        float want = 0;
        for (int i = 0; i < 37; i++) want = want + xb[i];
        CHECKF(sb[0] == want, "policy %d: sum %g, want %g", k, sb[0], want);
        CHECK(isnan(sb[1]));
        CHECK(bb[0] == tile[k] * (tile[k] - 1) / 2);
        CHECK(vb[0] == 37);
        if (k == 0) first = sb[0];
        CHECK(sb[0] == first);
        tj_graph_free(g);
    }
    free(xb);
}

TEST(test_unbound_symbol_is_error_naming_it) {
    tj_graph *g = new_graph("unbound");
    tj_sym s = exact_sym(g, "seq");
    tj_dim d[1] = {tj_dim_sym(s)};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_val z[1] = {ci32(g, 0)};
    CHECK_OK(tj_store(g, x, z, tj_load(g, x, z, 1, d, NULL, 0, 0), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float xb[4] = {1, 2, 3, 4};
    void *ts[1] = {xb};
    int64_t sv[1] = {TJ_UNBOUND};
    CHECK_ERR(run(g, sv, ts, NULL, 0), TJ_ERR_UNBOUND, "seq");
    CHECK_ERR(run(g, NULL, ts, NULL, 0), TJ_ERR_UNBOUND, "seq");
    tj_graph_free(g);
}

TEST(test_bound_value_out_of_range_or_not_divisible_is_error) {
    tj_graph *g = new_graph("divis");
    tj_sym s = tj_symbol(g, "d", TJ_EXACT, 0, 64);
    tj_dim d[1] = {tj_dim_sym(s)}, tile[1] = {64};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_val z[1] = {pid(g, 0)};
    CHECK_OK(tj_store(g, x, z, tj_load(g, x, z, 1, tile, NULL, 0, 0), NULL, 0));
    CHECK_OK(set_grid1(g, cdiv(g, symv(g, s), ci32(g, 64))));
    float *xb = rand_f32(128);
    void *ts[1] = {xb};
    int64_t bad[3] = {100, 0, (int64_t)INT32_MAX + 1}, good[1] = {128};
    for (int k = 0; k < 3; k++) CHECK_ERR(run(g, &bad[k], ts, NULL, 0), TJ_ERR_INVALID_ARG, "'d'");
    CHECK_ERR(run(g, &bad[0], ts, NULL, 0), TJ_ERR_INVALID_ARG, "multiple of 64");
    CHECK_OK(run(g, good, ts, NULL, 0));
    free(xb);
    tj_graph_free(g);
}

TEST(test_null_arguments_are_errors) {
    tj_graph *g = new_graph("nulls");
    tj_dim d[1] = {4};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "out", TJ_F32, 1, d, NULL);
    tj_val s = tj_scalar_arg(g, "scale", TJ_F32), z[1] = {ci32(g, 0)};
    CHECK_OK(tj_store(g, y, z, tj_mul(g, tj_load(g, x, z, 1, d, NULL, 0, 0), s), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float xb[4] = {1, 2, 3, 4}, yb[4];
    void *ts[2] = {xb, NULL}, *ok[2] = {xb, yb};
    double sc = 2;
    CHECK_ERR(tj_interp_run(NULL, NULL, ok, &sc, 0), TJ_ERR_INVALID_ARG, "graph");
    CHECK_ERR(run(g, NULL, ts, &sc, 0), TJ_ERR_INVALID_ARG, "out");
    CHECK_ERR(run(g, NULL, NULL, &sc, 0), TJ_ERR_INVALID_ARG, "tensors");
    CHECK_ERR(run(g, NULL, ok, NULL, 0), TJ_ERR_INVALID_ARG, "scalars");
    CHECK_ERR(run(g, NULL, ok, &sc, 0x80), TJ_ERR_INVALID_ARG, "flags");
    CHECK_OK(run(g, NULL, ok, &sc, 0));
    for (int i = 0; i < 4; i++) CHECK(yb[i] == 2 * xb[i]);
    tj_graph_free(g);
}

TEST(test_graph_with_builder_error_is_refused) {
    tj_graph *g = new_graph("broken");
    tj_dim d[1] = {4};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_val z[1] = {ci32(g, 0)};
    tj_val v = tj_load(g, x, z, 1, d, NULL, 0, 0);
    tj_val bad = tj_add(g, v, ci32(g, 1)); /* f32 + i32: a builder error */
    CHECK(!tj_val_ok(bad));
    set_grid1(g, ci32(g, 1));
    float xb[4] = {1, 2, 3, 4};
    void *ts[1] = {xb};
    CHECK(run(g, NULL, ts, NULL, 0) != TJ_OK);
    tj_graph_free(g);
}

/* ---- attention: speed, and two threads at once --------------------- */

/* Flash attention over bf16 q, k, v [S, D]: programs over BM-row blocks,
 * a loop over BN-column blocks with online softmax; o is f32. */
static tj_graph *attention_graph(int causal) {
    enum { BM = 64, BN = 64, D = 128 };
    tj_graph *g = new_graph("attention");
    tj_sym s = exact_sym(g, "S");
    tj_dim d[2] = {tj_dim_sym(s), D}, qt[2] = {BM, D}, kt[2] = {BN, D}, col[2] = {BM, 1};
    tj_dim acc_d[2] = {BM, D}, sq[2] = {BM, BN};
    tj_tensor q = tj_tensor_arg(g, "q", TJ_BF16, 2, d, NULL);
    tj_tensor k = tj_tensor_arg(g, "k", TJ_BF16, 2, d, NULL);
    tj_tensor v = tj_tensor_arg(g, "v", TJ_BF16, 2, d, NULL);
    tj_tensor o = tj_tensor_arg(g, "o", TJ_F32, 2, d, NULL);
    tj_val scale = tj_scalar_arg(g, "scale", TJ_F32);
    tj_val p = pid(g, 0), zero = ci32(g, 0);
    tj_val qc[2] = {p, zero};
    tj_val qtile = tj_load(g, q, qc, 2, qt, NULL, 0, 0);
    tj_val init[3] = {tj_full(g, TJ_F32, 2, col, -INFINITY), tj_full(g, TJ_F32, 2, col, 0),
                      tj_full(g, TJ_F32, 2, acc_d, 0)};
    tj_val hi = causal ? tj_add(g, p, ci32(g, 1)) : cdiv(g, symv(g, s), ci32(g, BN));
    tj_val j, cv[3], res[3];
    tj_for_begin(g, zero, hi, ci32(g, 1), 3, init, &j, cv);
    tj_val kc[2] = {j, zero};
    tj_val kt_ = tj_load(g, k, kc, 2, kt, NULL, 0, 0), vt = tj_load(g, v, kc, 2, kt, NULL, 0, 0);
    tj_val sc = tj_mul(g, tj_mma(g, qtile, kt_, TJ_NONE, TJ_TRANS_B), scale);
    /* Mask columns past the end (and above the diagonal when causal). */
    tj_val cols = tj_add(g, tj_iota(g, TJ_I32, 2, sq, 1), tj_mul(g, j, ci32(g, BN)));
    tj_val bad = tj_binary(g, TJ_GE, cols, symv(g, s));
    if (causal) {
        tj_val rows = tj_add(g, tj_iota(g, TJ_I32, 2, sq, 0), tj_mul(g, p, ci32(g, BM)));
        bad = tj_binary(g, TJ_OR, bad, tj_binary(g, TJ_GT, cols, rows));
    }
    sc = tj_where(g, bad, cf32(g, -INFINITY), sc);
    tj_val mn = tj_maximum(g, cv[0], tj_rowmax(g, sc));
    tj_val alpha = tj_exp(g, tj_sub(g, cv[0], mn));
    tj_val pr = tj_exp(g, tj_sub(g, sc, mn));
    tj_val l = tj_add(g, tj_mul(g, cv[1], alpha), tj_rowsum(g, pr));
    tj_val acc = tj_mma(g, tj_cast(g, pr, TJ_BF16), vt, tj_mul(g, cv[2], alpha), 0);
    tj_val next[3] = {mn, l, acc};
    tj_for_end(g, 3, next, res);
    tj_store(g, o, qc, tj_div(g, res[2], res[1]), NULL, 0);
    set_grid1(g, cdiv(g, symv(g, s), ci32(g, BM)));
    return g;
}

typedef struct attn_case {
    int S, causal;
    uint16_t *q, *k, *v;
    float *o;
    tj_status status;
} attn_case;

static void attn_inputs(attn_case *a, int S, int causal) {
    a->S = S;
    a->causal = causal;
    size_t n = (size_t)S * 128;
    a->q = malloc(n * 2);
    a->k = malloc(n * 2);
    a->v = malloc(n * 2);
    a->o = poisoned_f32(n + 16);
    for (size_t i = 0; i < n; i++) {
        float x[3] = {rndf(), rndf(), rndf()};
        tj_convert(TJ_BF16, &a->q[i], TJ_F32, &x[0], 1);
        tj_convert(TJ_BF16, &a->k[i], TJ_F32, &x[1], 1);
        tj_convert(TJ_BF16, &a->v[i], TJ_F32, &x[2], 1);
    }
}

static void *attn_run(void *arg) {
    attn_case *a = arg;
    tj_graph *g = attention_graph(a->causal);
    int64_t sv[1] = {a->S};
    double scale = 1.0 / sqrt(128.0);
    void *ts[4] = {a->q, a->k, a->v, a->o};
    a->status = run(g, sv, ts, &scale, 0);
    tj_graph_free(g);
    return NULL;
}

/* Largest error against a double reference over a few rows. */
static double attn_error(const attn_case *a, int nrows) {
    double worst = 0, scale = 1.0 / sqrt(128.0);
    double *s = malloc((size_t)a->S * sizeof *s);
    for (int r = 0; r < nrows; r++) {
        int i = (int)((int64_t)r * (a->S - 1) / (nrows - 1));
        int end = a->causal ? i + 1 : a->S;
        double m = -INFINITY, l = 0;
        for (int j = 0; j < end; j++) {
            double dot = 0;
            for (int d = 0; d < 128; d++)
                dot += (double)ir_bf16_to_f32(a->q[i * 128 + d]) * ir_bf16_to_f32(a->k[j * 128 + d]);
            s[j] = dot * scale;
            m = fmax(m, s[j]);
        }
        for (int j = 0; j < end; j++) l += s[j] = exp(s[j] - m);
        for (int d = 0; d < 128; d++) {
            double o = 0;
            for (int j = 0; j < end; j++) o += s[j] * ir_bf16_to_f32(a->v[j * 128 + d]);
            double err = fabs(a->o[i * 128 + d] - o / l);
            if (!(err <= worst)) worst = err; /* NaN counts as worst */
        }
    }
    free(s);
    return worst;
}

static void attn_free(attn_case *a) {
    free(a->q);
    free(a->k);
    free(a->v);
    free(a->o);
}

TEST(test_attention_seq1000_d128_runs_in_seconds) {
    attn_case a;
    attn_inputs(&a, 1000, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    attn_run(&a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    CHECK_OK(a.status);
    fprintf(stderr, "  attention S=1000 D=128: %.2f s\n", secs);
    /* P is rounded to bf16 before P V, so agreement is to bf16's ~3 digits. */
    double err = attn_error(&a, 9);
    CHECKF(err < 2e-2, "max error %g", err);
    for (int i = 1000 * 128; i < 1000 * 128 + 16; i++) CHECK(isnan(a.o[i]));
    CHECKF(secs < 10.0, "took %.2f s", secs);
    attn_free(&a);
}

TEST(test_two_threads_interpret_different_graphs_at_once) {
    attn_case a[2];
    attn_inputs(&a[0], 200, 0);
    attn_inputs(&a[1], 150, 1);
    pthread_t th[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, attn_run, &a[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK_OK(a[k].status);
        double err = attn_error(&a[k], 5);
        CHECKF(err < 2e-2, "thread %d: max error %g", k, err);
    }
    /* The same inputs alone give the same bits. */
    attn_case solo = a[1];
    solo.o = poisoned_f32(150 * 128);
    attn_run(&solo);
    CHECK_OK(solo.status);
    CHECK(!memcmp(solo.o, a[1].o, 150 * 128 * sizeof(float)));
    free(solo.o);
    attn_free(&a[0]);
    attn_free(&a[1]);
}

int main(void) { return harness_main(); }
