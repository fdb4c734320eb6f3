/*
 * test_interp_ops.c — the CPU interpreter's compute ops: mma, unary and
 * binary math against libm and C, broadcasting, reductions, casts,
 * where / iota / compare masks and the f64 mode.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "interp_util.h"

/* ---- mma ----------------------------------------------------------- */

/* acc + op(a) op(b) with each product rounded to f32, then summed in
 * f32 with k increasing. */
static void ref_mma(int M, int N, int K, const float *a, const float *b, const float *acc,
                    unsigned flags, float *out) {
    int ta = (flags & TJ_TRANS_A) != 0, tb = (flags & TJ_TRANS_B) != 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = acc ? acc[i * N + j] : 0.0f;
            for (int k = 0; k < K; k++) {
                float p = (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
                s = s + p;
            }
            out[i * N + j] = s;
        }
}

/* One program: c = mma(load a, load b[, load acc], flags), all one tile. */
static tj_graph *mma_graph(tj_dtype dt, int M, int N, int K, unsigned flags, int with_acc) {
    tj_graph *g = new_graph("mma");
    int ta = (flags & TJ_TRANS_A) != 0, tb = (flags & TJ_TRANS_B) != 0;
    tj_dim ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N}, cd[2] = {M, N};
    tj_tensor a = tj_tensor_arg(g, "a", dt, 2, ad, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", dt, 2, bd, NULL);
    tj_tensor acc = tj_tensor_arg(g, "acc", TJ_F32, 2, cd, NULL);
    tj_tensor c = tj_tensor_arg(g, "c", TJ_F32, 2, cd, NULL);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    tj_val av = tj_load(g, a, z, 2, ad, NULL, 0, 0), bv = tj_load(g, b, z, 2, bd, NULL, 0, 0);
    tj_val accv = with_acc ? tj_load(g, acc, z, 2, cd, NULL, 0, 0) : TJ_NONE;
    tj_store(g, c, z, tj_mma(g, av, bv, accv, flags), NULL, 0);
    set_grid1(g, ci32(g, 1));
    return g;
}

TEST(test_mma_each_transpose_with_and_without_acc) {
    enum { M = 16, N = 8, K = 12 };
    for (unsigned flags = 0; flags < 4; flags++)
        for (int with_acc = 0; with_acc < 2; with_acc++) {
            tj_graph *g = mma_graph(TJ_F32, M, N, K, flags, with_acc);
            CHECK_OK(tj_graph_status(g));
            float *a = rand_f32(M * K), *b = rand_f32(K * N), *acc = rand_f32(M * N);
            float *c = poisoned_f32(M * N + 4), want[M * N];
            void *ts[4] = {a, b, acc, c};
            CHECK_OK(run(g, NULL, ts, NULL, 0));
            ref_mma(M, N, K, a, b, with_acc ? acc : NULL, flags, want);
            for (int i = 0; i < M * N; i++)
                CHECKF(c[i] == want[i], "flags %u acc %d: c[%d] = %.9g, want %.9g", flags, with_acc,
                       i, c[i], want[i]);
            for (int i = M * N; i < M * N + 4; i++) CHECK(isnan(c[i]));
            free(a);
            free(b);
            free(acc);
            free(c);
            tj_graph_free(g);
        }
}

TEST(test_mma_bf16_f16_fp8_inputs_accumulate_in_f32) {
    enum { M = 8, N = 16, K = 32 };
    tj_dtype dts[4] = {TJ_BF16, TJ_F16, TJ_F8E4M3, TJ_F8E5M2};
    for (int d = 0; d < 4; d++) {
        tj_graph *g = mma_graph(dts[d], M, N, K, TJ_TRANS_B, 1);
        CHECK_OK(tj_graph_status(g));
        float *af = rand_f32(M * K), *bf = rand_f32(K * N), *acc = rand_f32(M * N);
        float *c = poisoned_f32(M * N), want[M * N];
        unsigned char a[M * K * 2], b[K * N * 2];
        CHECK_OK(tj_convert(dts[d], a, TJ_F32, af, M * K));
        CHECK_OK(tj_convert(dts[d], b, TJ_F32, bf, K * N));
        /* The reference sees the inputs as stored. */
        CHECK_OK(tj_convert(TJ_F32, af, dts[d], a, M * K));
        CHECK_OK(tj_convert(TJ_F32, bf, dts[d], b, K * N));
        void *ts[4] = {a, b, acc, c};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        ref_mma(M, N, K, af, bf, acc, TJ_TRANS_B, want);
        for (int i = 0; i < M * N; i++)
            CHECKF(c[i] == want[i], "%s: c[%d] = %.9g, want %.9g", tj_dtype_name(dts[d]), i, c[i],
                   want[i]);
        free(af);
        free(bf);
        free(acc);
        free(c);
        tj_graph_free(g);
    }
}

/* ---- elementwise --------------------------------------------------- */

/* y = op(x) over a [4,16] tile of an f32 tensor. */
static tj_graph *unary_graph(tj_unop op, tj_dtype dt) {
    tj_graph *g = new_graph("unary");
    tj_dim d[2] = {4, 16};
    tj_tensor x = tj_tensor_arg(g, "x", dt, 2, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", dt, 2, d, NULL);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    tj_store(g, y, z, tj_unary(g, op, tj_load(g, x, z, 2, d, NULL, 0, 0)), NULL, 0);
    set_grid1(g, ci32(g, 1));
    return g;
}

static double ref_unary(tj_unop op, float x) {
    switch (op) {
    case TJ_NEG: return -x;
    case TJ_ABS: return fabsf(x);
    case TJ_EXP: return expf(x);
    case TJ_EXP2: return exp2f(x);
    case TJ_LOG: return logf(x);
    case TJ_LOG2: return log2f(x);
    case TJ_SQRT: return sqrtf(x);
    case TJ_RSQRT: return 1.0f / sqrtf(x);
    case TJ_RECIP: return 1.0f / x;
    case TJ_SIN: return sinf(x);
    case TJ_COS: return cosf(x);
    case TJ_TANH: return tanhf(x);
    case TJ_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case TJ_SILU: return x / (1.0f + expf(-x));
    case TJ_GELU: return 0.5f * x * (1.0f + erff(x / sqrtf(2.0f)));
    case TJ_GELU_TANH: return 0.5f * x * (1.0f + tanhf(sqrtf(2.0f / 3.14159265f) * (x + 0.044715f * x * x * x)));
    case TJ_RELU: return x < 0 ? 0 : x; /* keeps NaN */
    case TJ_FLOOR: return floorf(x);
    case TJ_CEIL: return ceilf(x);
    default: return NAN;
    }
}

TEST(test_unary_float_ops_match_libm) {
    for (int op = 0; op < TJ_UNARY_COUNT; op++) {
        if (op == TJ_NOT) continue;
        tj_graph *g = unary_graph((tj_unop)op, TJ_F32);
        CHECK_OK(tj_graph_status(g));
        float *x = rand_f32(64), *y = poisoned_f32(64);
        int positive = op == TJ_LOG || op == TJ_LOG2 || op == TJ_SQRT || op == TJ_RSQRT;
        for (int i = 0; i < 64; i++) x[i] = positive ? fabsf(x[i]) * 3 : x[i] * 3;
        x[63] = NAN;
        void *ts[2] = {x, y};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        for (int i = 0; i < 64; i++) {
            double want = ref_unary((tj_unop)op, x[i]);
            CHECKF(close_to(y[i], want, 2e-6, 1e-6), "%s(%.9g) = %.9g, want %.9g",
                   tj_unary_name((tj_unop)op), x[i], y[i], want);
        }
        free(x);
        free(y);
        tj_graph_free(g);
    }
}

TEST(test_unary_int_ops_wrap) {
    tj_unop ops[4] = {TJ_NEG, TJ_ABS, TJ_RELU, TJ_NOT};
    int32_t x[64];
    for (int i = 0; i < 64; i++) x[i] = (int32_t)harness_randint(-1000000, 1000000) | 1;
    x[0] = INT32_MIN;
    x[1] = INT32_MAX;
    for (int k = 0; k < 4; k++) {
        tj_graph *g = unary_graph(ops[k], TJ_I32);
        int32_t *y = poisoned_i32(64);
        void *ts[2] = {x, y};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        for (int i = 0; i < 64; i++) {
            int64_t v = x[i];
            int64_t want = ops[k] == TJ_NEG ? -v : ops[k] == TJ_ABS ? (v < 0 ? -v : v)
                         : ops[k] == TJ_RELU ? (v < 0 ? 0 : v) : ~v;
            CHECKF(y[i] == (int32_t)(uint32_t)want, "%s(%d) = %d", tj_unary_name(ops[k]), x[i], y[i]);
        }
        free(y);
        tj_graph_free(g);
    }
}

/* y = a op b over [4,16] tiles; comparisons store bool. */
static tj_graph *binary_graph(tj_binop op, tj_dtype dt) {
    tj_graph *g = new_graph("binary");
    tj_dim d[2] = {4, 16};
    tj_tensor a = tj_tensor_arg(g, "a", dt, 2, d, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", dt, 2, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", op >= TJ_EQ ? TJ_BOOL : dt, 2, d, NULL);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    tj_val av = tj_load(g, a, z, 2, d, NULL, 0, 0), bv = tj_load(g, b, z, 2, d, NULL, 0, 0);
    tj_store(g, y, z, tj_binary(g, op, av, bv), NULL, 0);
    set_grid1(g, ci32(g, 1));
    return g;
}

TEST(test_binary_float_ops_match_c) {
    tj_binop ops[] = {TJ_ADD, TJ_SUB, TJ_MUL, TJ_DIV, TJ_MAX, TJ_MIN, TJ_POW,
                      TJ_EQ, TJ_NE, TJ_LT, TJ_LE, TJ_GT, TJ_GE};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        tj_binop op = ops[k];
        tj_graph *g = binary_graph(op, TJ_F32);
        CHECK_OK(tj_graph_status(g));
        float *a = rand_f32(64), *b = rand_f32(64), y[64];
        uint8_t yb[64];
        for (int i = 0; i < 64; i += 5) b[i] = a[i]; /* some equal pairs */
        if (op == TJ_POW)
            for (int i = 0; i < 64; i++) a[i] = fabsf(a[i]);
        void *ts[3] = {a, b, op >= TJ_EQ ? (void *)yb : (void *)y};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        for (int i = 0; i < 64; i++) {
            float x = a[i], w = b[i];
            switch (op) {
            case TJ_ADD: CHECK(y[i] == x + w); break;
            case TJ_SUB: CHECK(y[i] == x - w); break;
            case TJ_MUL: CHECK(y[i] == x * w); break;
            case TJ_DIV: CHECK(y[i] == x / w); break;
            case TJ_MAX: CHECK(y[i] == fmaxf(x, w)); break;
            case TJ_MIN: CHECK(y[i] == fminf(x, w)); break;
            case TJ_POW: CHECKF(close_to(y[i], powf(x, w), 2e-6, 0), "pow(%g, %g) = %g", x, w, y[i]); break;
            case TJ_EQ: CHECK(yb[i] == (x == w)); break;
            case TJ_NE: CHECK(yb[i] == (x != w)); break;
            case TJ_LT: CHECK(yb[i] == (x < w)); break;
            case TJ_LE: CHECK(yb[i] == (x <= w)); break;
            case TJ_GT: CHECK(yb[i] == (x > w)); break;
            default: CHECK(yb[i] == (x >= w)); break;
            }
        }
        free(a);
        free(b);
        tj_graph_free(g);
    }
}

static int64_t ref_int(tj_binop op, int64_t a, int64_t b) {
    switch (op) {
    case TJ_ADD: return a + b;
    case TJ_SUB: return a - b;
    case TJ_MUL: return a * b;
    case TJ_DIV: return b ? a / b : 0;
    case TJ_MOD: return b ? a % b : 0;
    case TJ_CDIV: return b ? (int32_t)(uint32_t)(a + b - 1) / b : 0;
    case TJ_MAX: return a > b ? a : b;
    case TJ_MIN: return a < b ? a : b;
    case TJ_AND: return a & b;
    case TJ_OR: return a | b;
    case TJ_XOR: return a ^ b;
    case TJ_EQ: return a == b;
    case TJ_NE: return a != b;
    case TJ_LT: return a < b;
    case TJ_LE: return a <= b;
    case TJ_GT: return a > b;
    default: return a >= b;
    }
}

/* i32 ops are exact in 64 bits then wrapped; division truncates; a zero
 * divisor gives 0. */
TEST(test_binary_int_ops_follow_c_and_wrap) {
    int32_t a[64], b[64];
    for (int i = 0; i < 64; i++) {
        a[i] = (int32_t)harness_randint(-100000, 100000) | 1;
        b[i] = (int32_t)harness_randint(-300, 300) | 1;
    }
    a[0] = INT32_MAX, b[0] = 3;          /* add, mul overflow */
    a[1] = INT32_MIN, b[1] = 1;          /* sub overflow */
    a[2] = 7, b[2] = 0;                  /* by zero */
    a[3] = -7, b[3] = 2;                 /* truncation toward zero */
    a[4] = 65536, b[4] = 65536;          /* mul wraps to 0 */
    a[5] = b[5] = 12345;
    a[6] = INT32_MIN, b[6] = -1;         /* MIN / -1 wraps to MIN */
    a[7] = -20, b[7] = -6;               /* cdiv with a negative divisor */
    for (int op = 0; op < TJ_BINARY_COUNT; op++) {
        if (op == TJ_POW) continue;
        tj_graph *g = binary_graph((tj_binop)op, TJ_I32);
        CHECK_OK(tj_graph_status(g));
        int32_t y[64];
        uint8_t yb[64];
        void *ts[3] = {a, b, op >= TJ_EQ ? (void *)yb : (void *)y};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        for (int i = 0; i < 64; i++) {
            int64_t want = ref_int((tj_binop)op, a[i], b[i]);
            int64_t got = op >= TJ_EQ ? yb[i] : y[i];
            CHECKF(got == (int32_t)(uint32_t)want, "%s(%d, %d) = %lld, want %lld",
                   tj_binary_name((tj_binop)op), a[i], b[i], (long long)got, (long long)want);
        }
        tj_graph_free(g);
    }
}

TEST(test_i64_ops_are_exact_beyond_2_pow_53) {
    int64_t a[64], b[64], y[64];
    for (int i = 0; i < 64; i++) {
        a[i] = ((int64_t)1 << 60) + (int64_t)harness_randint(1, 1000000);
        b[i] = (int64_t)harness_randint(1, 1000);
    }
    tj_binop ops[3] = {TJ_ADD, TJ_MUL, TJ_DIV};
    for (int k = 0; k < 3; k++) {
        tj_graph *g = binary_graph(ops[k], TJ_I64);
        void *ts[3] = {a, b, y};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        for (int i = 0; i < 64; i++) {
            uint64_t want = ops[k] == TJ_ADD ? (uint64_t)a[i] + (uint64_t)b[i]
                          : ops[k] == TJ_MUL ? (uint64_t)a[i] * (uint64_t)b[i]
                                             : (uint64_t)(a[i] / b[i]);
            CHECK(y[i] == (int64_t)want);
        }
        tj_graph_free(g);
    }
}

/* (x + r) * c - s with a [N] row, a [M,1] column and a scalar argument;
 * also explicit broadcast and reshape of the row. */
TEST(test_broadcast_rows_columns_and_scalars) {
    enum { M = 12, N = 20 };
    tj_graph *g = new_graph("bcast");
    tj_dim xd[2] = {M, N}, rd[1] = {N}, cd[2] = {M, 1}, r2[2] = {1, N};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, xd, NULL);
    tj_tensor r = tj_tensor_arg(g, "r", TJ_F32, 1, rd, NULL);
    tj_tensor c = tj_tensor_arg(g, "c", TJ_F32, 2, cd, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, xd, NULL);
    tj_tensor y2 = tj_tensor_arg(g, "y2", TJ_F32, 2, xd, NULL);
    tj_val s = tj_scalar_arg(g, "s", TJ_F32);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    tj_val xv = tj_load(g, x, z, 2, xd, NULL, 0, 0), rv = tj_load(g, r, z, 1, rd, NULL, 0, 0);
    tj_val cv = tj_load(g, c, z, 2, cd, NULL, 0, 0);
    CHECK_OK(tj_store(g, y, z, tj_sub(g, tj_mul(g, tj_add(g, xv, rv), cv), s), NULL, 0));
    tj_val rb = tj_broadcast(g, rv, 2, xd), rr = tj_reshape(g, rv, 2, r2);
    tj_val cb = tj_broadcast(g, cv, 2, xd);
    CHECK_OK(tj_store(g, y2, z, tj_add(g, tj_mul(g, rb, cb), tj_transpose(g, tj_transpose(g, rr))),
                      NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float *xb = rand_f32(M * N), *rbuf = rand_f32(N), *cbuf = rand_f32(M);
    float *yb = poisoned_f32(M * N), *y2b = poisoned_f32(M * N);
    double sc = 0.375;
    void *ts[5] = {xb, rbuf, cbuf, yb, y2b};
    CHECK_OK(run(g, NULL, ts, &sc, 0));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float t = xb[i * N + j] + rbuf[j];
            float u = t * cbuf[i];
            float want = u - 0.375f;
            CHECK(yb[i * N + j] == want);
            float p = rbuf[j] * cbuf[i];
            float want2 = p + rbuf[j];
            CHECK(y2b[i * N + j] == want2);
        }
    free(xb);
    free(rbuf);
    free(cbuf);
    free(yb);
    free(y2b);
    tj_graph_free(g);
}

TEST(test_transpose_moves_elements) {
    tj_graph *g = new_graph("tr");
    tj_dim xd[2] = {5, 7}, yd[2] = {7, 5};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_I32, 2, xd, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_I32, 2, yd, NULL);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    CHECK_OK(tj_store(g, y, z, tj_transpose(g, tj_load(g, x, z, 2, xd, NULL, 0, 0)), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t xb[35], *yb = poisoned_i32(36);
    for (int i = 0; i < 35; i++) xb[i] = (int32_t)harness_randint(1, 1000);
    void *ts[2] = {xb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 7; j++) CHECK(yb[j * 5 + i] == xb[i * 7 + j]);
    CHECK(yb[35] == POISON_I32);
    free(yb);
    tj_graph_free(g);
}

/* ---- reductions ---------------------------------------------------- */

TEST(test_reduce_sum_max_min_on_both_axes) {
    enum { M = 12, N = 20 };
    for (int op = 0; op < TJ_REDUCE_COUNT; op++)
        for (int axis = 0; axis < 2; axis++) {
            tj_graph *g = new_graph("reduce");
            tj_dim xd[2] = {M, N}, od[2] = {axis ? M : 1, axis ? 1 : N}, rd[1] = {N}, one[1] = {1};
            tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, xd, NULL);
            tj_tensor o = tj_tensor_arg(g, "o", TJ_F32, 2, od, NULL);
            tj_tensor o1 = tj_tensor_arg(g, "o1", TJ_F32, 1, one, NULL);
            tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
            tj_val xv = tj_load(g, x, z, 2, xd, NULL, 0, 0);
            CHECK_OK(tj_store(g, o, z, tj_reduce(g, (tj_redop)op, xv, axis), NULL, 0));
            /* rank 1: the first row of x */
            tj_val row = tj_load(g, x, z, 1, rd, NULL, 0, 0);
            CHECK_OK(tj_store(g, o1, z, tj_reduce(g, (tj_redop)op, row, 0), NULL, 0));
            CHECK_OK(set_grid1(g, ci32(g, 1)));
            float *xb = rand_f32(M * N), *ob = poisoned_f32(M * N), o1b[2] = {NAN, NAN};
            void *ts[3] = {xb, ob, o1b};
            CHECK_OK(run(g, NULL, ts, NULL, 0));
            int nout = axis ? M : N, len = axis ? N : M;
            for (int q = 0; q <= nout; q++) {
                /* q == nout: the rank-1 reduction of row 0 */
                const float *p = q == nout ? xb : axis ? xb + q * N : xb + q;
                int step = q == nout || axis ? 1 : N, n = q == nout ? N : len;
                float acc = op == TJ_SUM ? 0.0f : p[0];
                for (int k = op == TJ_SUM ? 0 : 1; k < n; k++) {
                    float v = p[k * step];
                    acc = op == TJ_SUM ? acc + v : op == TJ_RMAX ? fmaxf(acc, v) : fminf(acc, v);
                }
                float got = q == nout ? o1b[0] : ob[q];
                CHECKF(got == acc, "%s axis %d out %d: %g, want %g", tj_reduce_name((tj_redop)op),
                       axis, q, got, acc);
            }
            CHECK(isnan(ob[nout]) && isnan(o1b[1]));
            free(xb);
            free(ob);
            tj_graph_free(g);
        }
}

TEST(test_reduce_int_sum_wraps_and_max) {
    tj_graph *g = new_graph("isum");
    tj_dim xd[2] = {1, 8}, od[2] = {1, 1};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_I32, 2, xd, NULL);
    tj_tensor s = tj_tensor_arg(g, "s", TJ_I32, 2, od, NULL);
    tj_tensor m = tj_tensor_arg(g, "m", TJ_I32, 2, od, NULL);
    tj_val z[2] = {ci32(g, 0), ci32(g, 0)};
    tj_val xv = tj_load(g, x, z, 2, xd, NULL, 0, 0);
    CHECK_OK(tj_store(g, s, z, tj_sum(g, xv, 1), NULL, 0));
    CHECK_OK(tj_store(g, m, z, tj_reduce(g, TJ_RMIN, xv, 1), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t xb[8], sb[1], mb[1];
    int64_t sum = 0, mn = INT64_MAX;
    for (int i = 0; i < 8; i++) {
        xb[i] = (int32_t)harness_randint(1 << 29, 1 << 30) * (i == 3 ? -1 : 1);
        sum += xb[i];
        if (xb[i] < mn) mn = xb[i];
    }
    void *ts[3] = {xb, sb, mb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(sb[0] == (int32_t)(uint32_t)sum && mb[0] == mn);
    tj_graph_free(g);
}

/* ---- casts, stores that convert, masks ----------------------------- */

TEST(test_cast_rounds_ties_to_even_and_truncates) {
    enum { N = 8 };
    tj_graph *g = new_graph("casts");
    tj_dim d[1] = {N};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_tensor rb = tj_tensor_arg(g, "rb", TJ_F32, 1, d, NULL);   /* via bf16 */
    tj_tensor ri = tj_tensor_arg(g, "ri", TJ_I32, 1, d, NULL);   /* to i32 */
    tj_tensor rf = tj_tensor_arg(g, "rf", TJ_F32, 1, d, NULL);   /* to i32 and back */
    tj_tensor bo = tj_tensor_arg(g, "bo", TJ_F32, 1, d, NULL);   /* to bool and back */
    tj_tensor sb = tj_tensor_arg(g, "sb", TJ_BF16, 1, d, NULL);  /* stored to bf16 */
    tj_tensor s8 = tj_tensor_arg(g, "s8", TJ_F8E4M3, 1, d, NULL); /* stored to e4m3 */
    tj_tensor w = tj_tensor_arg(g, "w", TJ_I32, 1, d, NULL);     /* i64 -> i32 wraps */
    tj_val z[1] = {ci32(g, 0)};
    tj_val xv = tj_load(g, x, z, 1, d, NULL, 0, 0);
    tj_val xi = tj_cast(g, xv, TJ_I32);
    CHECK_OK(tj_store(g, rb, z, tj_cast(g, tj_cast(g, xv, TJ_BF16), TJ_F32), NULL, 0));
    CHECK_OK(tj_store(g, ri, z, xi, NULL, 0));
    CHECK_OK(tj_store(g, rf, z, tj_cast(g, xi, TJ_F32), NULL, 0));
    CHECK_OK(tj_store(g, bo, z, tj_cast(g, tj_cast(g, xv, TJ_BOOL), TJ_F32), NULL, 0));
    CHECK_OK(tj_store(g, sb, z, xv, NULL, 0));
    CHECK_OK(tj_store(g, s8, z, xv, NULL, 0));
    tj_val big = tj_add(g, tj_cast(g, xi, TJ_I64), tj_const(g, TJ_I64, 4294967296.0 * 3));
    CHECK_OK(tj_store(g, w, z, tj_cast(g, big, TJ_I32), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float xb[N] = {1.0f + ldexpf(1, -8), 1.0f + 3 * ldexpf(1, -8), -(1.0f + ldexpf(1, -8)),
                   2.75f, -2.75f, 3e9f, 1000.0f, -0.25f};
    float rbb[N], rfb[N], bob[N];
    int32_t rib[N], wb[N];
    uint16_t sbb[N];
    uint8_t s8b[N];
    void *ts[8] = {xb, rbb, rib, rfb, bob, sbb, s8b, wb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    float want_bf[N] = {1.0f, 1.0f + ldexpf(1, -6), -1.0f, 2.75f, -2.75f, 3003121664.0f, 1000.0f,
                        -0.25f};
    int32_t want_i[N] = {1, 1, -1, 2, -2, -1294967296, 1000, 0}; /* 3e9 wraps */
    for (int i = 0; i < N; i++) {
        CHECKF(rbb[i] == want_bf[i], "bf16(%a) = %a", xb[i], rbb[i]);
        CHECKF(ir_bf16_to_f32(sbb[i]) == want_bf[i], "store bf16(%a) = %a", xb[i],
               ir_bf16_to_f32(sbb[i]));
        CHECKF(rib[i] == want_i[i], "i32(%g) = %d", xb[i], rib[i]);
        CHECK(rfb[i] == (float)want_i[i]);
        CHECK(bob[i] == 1.0f);
        CHECK(wb[i] == want_i[i]);
        float e4 = ir_e4m3_to_f32(s8b[i]);
        CHECK(e4 == ir_e4m3_to_f32(ir_f32_to_e4m3(xb[i])));
    }
    CHECK(s8b[5] == 0x7e && s8b[6] == 0x7e); /* saturated to 448 */
    tj_graph_free(g);
}

/* i32 -> bf16 rounds to f32 first, as the kernels do: 2^24 + 2^16 + 1
 * becomes 2^24 + 2^16 (a tie) and then 2^24 (a tie again), where one
 * rounding would give 2^24 + 2^17. In f64 mode it is rounded once. */
TEST(test_int_to_float_cast_goes_through_f32) {
    tj_graph *g = new_graph("i2f");
    tj_dim d[1] = {1};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_I32, 1, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, d, NULL);
    tj_val z[1] = {ci32(g, 0)};
    tj_val v = tj_cast(g, tj_load(g, x, z, 1, d, NULL, 0, 0), TJ_BF16);
    CHECK_OK(tj_store(g, y, z, tj_cast(g, v, TJ_F32), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    int32_t xb[1] = {(1 << 24) + (1 << 16) + 1};
    float yb[1];
    void *ts[2] = {xb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(yb[0] == 16777216.0f);
    CHECK_OK(run(g, NULL, ts, NULL, TJ_INTERP_F64));
    CHECK(yb[0] == 16777216.0f + 131072.0f);
    tj_graph_free(g);
}

/* s, masked above the diagonal with where(col > row, -inf, s). */
TEST(test_causal_mask_with_iota_where_compare) {
    enum { M = 20, BM = 8 };
    tj_graph *g = new_graph("causal");
    tj_dim d[2] = {M, M}, t[2] = {BM, BM};
    tj_tensor s = tj_tensor_arg(g, "s", TJ_F32, 2, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, d, NULL);
    tj_val c[2] = {pid(g, 0), pid(g, 1)};
    tj_val rows = tj_add(g, tj_iota(g, TJ_I32, 2, t, 0), tj_mul(g, pid(g, 0), ci32(g, BM)));
    tj_val cols = tj_add(g, tj_iota(g, TJ_I32, 2, t, 1), tj_mul(g, pid(g, 1), ci32(g, BM)));
    tj_val masked = tj_where(g, tj_binary(g, TJ_GT, cols, rows), cf32(g, -INFINITY),
                             tj_load(g, s, c, 2, t, NULL, 0, 0));
    CHECK_OK(tj_store(g, y, c, masked, NULL, 0));
    CHECK_OK(set_grid2(g, ci32(g, 3), ci32(g, 3)));
    float *sb = rand_f32(M * M), *yb = poisoned_f32(M * M + 4);
    void *ts[2] = {sb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) CHECK(yb[i * M + j] == (j > i ? -INFINITY : sb[i * M + j]));
    for (int k = M * M; k < M * M + 4; k++) CHECK(isnan(yb[k]));
    free(sb);
    free(yb);
    tj_graph_free(g);
}

TEST(test_fma_rounds_once) {
    tj_graph *g = new_graph("fma");
    tj_dim d[1] = {64};
    tj_tensor a = tj_tensor_arg(g, "a", TJ_F32, 1, d, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_F32, 1, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, d, NULL);
    tj_val z[1] = {ci32(g, 0)};
    tj_val av = tj_load(g, a, z, 1, d, NULL, 0, 0), bv = tj_load(g, b, z, 1, d, NULL, 0, 0);
    CHECK_OK(tj_store(g, y, z, tj_fma(g, av, bv, tj_unary(g, TJ_NEG, tj_mul(g, av, bv))), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float *ab = rand_f32(64), *bb = rand_f32(64), *yb = poisoned_f32(64);
    void *ts[3] = {ab, bb, yb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    /* fma(a, b, -(a*b)) is the rounding error of a*b, exactly. */
    for (int i = 0; i < 64; i++) {
        double exact = (double)ab[i] * bb[i];
        CHECK(yb[i] == (float)(exact - (double)(ab[i] * bb[i])));
    }
    free(ab);
    free(bb);
    free(yb);
    tj_graph_free(g);
}

/* Tiles of a narrow float dtype hold f32 numbers: x * x + c is computed
 * in f32 (c = 0.1 rounded to the dtype, as a constant) and rounded only
 * where it is stored. */
TEST(test_narrow_float_tiles_compute_in_f32_and_round_on_store) {
    tj_dtype dts[4] = {TJ_BF16, TJ_F16, TJ_F8E4M3, TJ_F8E5M2};
    for (int k = 0; k < 4; k++) {
        tj_dtype dt = dts[k];
        tj_graph *g = new_graph("narrow");
        tj_dim d[1] = {64};
        tj_tensor x = tj_tensor_arg(g, "x", dt, 1, d, NULL);
        tj_tensor y = tj_tensor_arg(g, "y", dt, 1, d, NULL);
        tj_tensor yf = tj_tensor_arg(g, "yf", TJ_F32, 1, d, NULL);
        tj_val z[1] = {ci32(g, 0)};
        tj_val xv = tj_load(g, x, z, 1, d, NULL, 0, 0);
        tj_val r = tj_add(g, tj_mul(g, xv, xv), tj_const(g, dt, 0.1));
        CHECK_OK(tj_store(g, y, z, r, NULL, 0));
        CHECK_OK(tj_store(g, yf, z, r, NULL, 0));
        CHECK_OK(set_grid1(g, ci32(g, 1)));
        float *xf = rand_f32(64), *yfb = poisoned_f32(64);
        unsigned char xb[128], yb[128];
        CHECK_OK(tj_convert(dt, xb, TJ_F32, xf, 64));
        CHECK_OK(tj_convert(TJ_F32, xf, dt, xb, 64));
        void *ts[3] = {xb, yb, yfb};
        CHECK_OK(run(g, NULL, ts, NULL, 0));
        double c = ir_round_to(dt, 0.1);
        for (int i = 0; i < 64; i++) {
            float sq = xf[i] * xf[i];
            float want = sq + (float)c;
            CHECKF(yfb[i] == want, "%s: %g, want %g", tj_dtype_name(dt), yfb[i], want);
            unsigned char wb[2];
            CHECK_OK(tj_convert(dt, wb, TJ_F32, &want, 1));
            CHECK(!memcmp(yb + i * tj_dtype_size(dt), wb, tj_dtype_size(dt)));
        }
        free(xf);
        free(yfb);
        tj_graph_free(g);
    }
}

/* (x0 + x1) - x0 loses x1 = 2^-30 in f32 but keeps it in f64; a cast to
 * bf16 still rounds in f64 mode. */
TEST(test_f64_mode_computes_in_double) {
    tj_graph *g = new_graph("f64");
    tj_dim d[1] = {2}, one[1] = {1};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, one, NULL);
    tj_tensor yb = tj_tensor_arg(g, "yb", TJ_F32, 1, one, NULL);
    tj_val c0[1] = {ci32(g, 0)}, c1[1] = {ci32(g, 1)};
    tj_val x0 = tj_load(g, x, c0, 0, NULL, NULL, 0, 0), x1 = tj_load(g, x, c1, 0, NULL, NULL, 0, 0);
    tj_val s = tj_add(g, x0, x1);
    CHECK_OK(tj_store(g, y, c0, tj_sub(g, s, x0), NULL, 0));
    CHECK_OK(tj_store(g, yb, c0, tj_sub(g, tj_cast(g, tj_cast(g, s, TJ_BF16), TJ_F32), x0), NULL, 0));
    CHECK_OK(set_grid1(g, ci32(g, 1)));
    float xb[2] = {1.0f, ldexpf(1, -30)}, out[1], outb[1];
    void *ts[3] = {xb, out, outb};
    CHECK_OK(run(g, NULL, ts, NULL, 0));
    CHECK(out[0] == 0.0f && outb[0] == 0.0f);
    CHECK_OK(run(g, NULL, ts, NULL, TJ_INTERP_F64));
    CHECK(out[0] == ldexpf(1, -30) && outb[0] == 0.0f);
    tj_graph_free(g);
}

TEST(test_f64_mode_mma_sums_in_double) {
    enum { K = 64 };
    tj_graph *g = mma_graph(TJ_F32, 1, 1, K, 0, 0);
    float a[K], b[K], c[1];
    double exact = 0;
    for (int k = 0; k < K; k++) {
        a[k] = rndf();
        b[k] = rndf() * ldexpf(1, (int)harness_randint(-20, 20));
        exact += (double)a[k] * b[k];
    }
    float acc[1] = {0};
    void *ts[4] = {a, b, acc, c};
    CHECK_OK(run(g, NULL, ts, NULL, TJ_INTERP_F64));
    CHECK(close_to(c[0], exact, 1e-7, 0) && c[0] == (float)exact);
    tj_graph_free(g);
}

/* max/min reductions fold from -inf/+inf and ignore NaN, as the kernels'
 * fmaxf/fminf do: a row of NaNs gives -inf (max) or +inf (min). */
TEST(test_reduce_max_min_of_nan_rows_are_the_identities) {
    for (int op = 0; op < 2; op++) {
        tj_graph *g = NULL;
        CHECK_OK(tj_graph_new("nanrow", &g));
        tj_dim d2[2] = {4, 8}, d1[1] = {4};
        tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, d2, NULL);
        tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, d1, NULL);
        tj_val z = tj_const(g, TJ_I32, 0);
        tj_val at[2] = {z, z};
        tj_val r = tj_reduce(g, op ? TJ_RMIN : TJ_RMAX, tj_load(g, x, at, 2, d2, NULL, 0, 0), 1);
        tj_store(g, y, &z, tj_reshape(g, r, 1, d1), NULL, 0);
        tj_val one = tj_const(g, TJ_I32, 1);
        tj_set_grid(g, 1, &one);
        CHECK_OK(tj_graph_status(g));
        float xs[32], ys[4];
        for (int i = 0; i < 32; i++) xs[i] = (float)harness_uniform(-1, 1);
        for (int j = 0; j < 8; j++) xs[8 + j] = NAN;           /* row 1: all NaN */
        xs[16 + 3] = NAN;                                      /* row 2: one NaN */
        void *ts[2] = {xs, ys};
        CHECK_OK(tj_interp_run(g, NULL, ts, NULL, 0));
        CHECK(ys[1] == (op ? INFINITY : -INFINITY));
        float want = op ? INFINITY : -INFINITY;
        for (int j = 0; j < 8; j++)
            if (j != 3) want = op ? fminf(want, xs[16 + j]) : fmaxf(want, xs[16 + j]);
        CHECK(ys[2] == want);
        tj_graph_free(g);
    }
}

int main(void) { return harness_main(); }
