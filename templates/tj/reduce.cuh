// tj/reduce.cuh - block-wide reductions of a tile along either axis.
//
// reduce_rows<Op>(out [M,1], in [M,N], scratch)   axis 1: out(i) = Op over j of in(i, j)
// reduce_cols<Op>(out [1,N], in [M,N], scratch)   axis 0: out(j) = Op over i of in(i, j)
// reduce_rows_bcast / reduce_cols_bcast: the same, with the result already
//   broadcast back to [M,N] (what softmax and norms want next).
// Op is sum_op, max_op or min_op. A 1-D tile [N] is [1,N]: its only axis is
// reduce_rows. Sums of floats accumulate in f32, of integers with wrapping
// (the same as 64-bit sums wrapped to the dtype); max/min of floats ignore
// NaN (fmaxf); max/min of bool are or/and.
//
// How: the tile is written to the scratch buffer (rows padded by one
// element, so a column read hits 32 banks); each line (row or column) is
// read by a group of P threads (a power of two) that combine with warp
// shuffles (__shfl_xor_sync); when P > 32 each warp leaves one partial per
// line and the thread that owns an output element combines the partials
// in order. Barriers inside: every thread of the block must call these,
// and the scratch is free again on return.
#ifndef TJ_REDUCE_CUH
#define TJ_REDUCE_CUH

#include "tj/math.cuh"
#include "tj/smem.cuh"

namespace tj {

struct sum_op {
    template <class R> TJ_DEV static R identity() { return (R)0; }
    TJ_DEV static float apply(float a, float b) { return a + b; }
    TJ_DEV static int apply(int a, int b) { return iadd(a, b); }
    TJ_DEV static long long apply(long long a, long long b) { return iadd(a, b); }
};
struct max_op {
    template <class R> TJ_DEV static R identity() { return lowest<R>(); }
    template <class R> TJ_DEV static R apply(R a, R b) { return tj::max(a, b); }
};
struct min_op {
    template <class R> TJ_DEV static R identity() { return highest<R>(); }
    template <class R> TJ_DEV static R apply(R a, R b) { return tj::min(a, b); }
};

// shfl.sync.bfly over the full warp.
TJ_DEV float shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV int shfl_xor(int v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV long long shfl_xor(long long v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV bool shfl_xor(bool v, int m) { return __shfl_xor_sync(0xffffffffu, (int)v, m) != 0; }

TJ_CONSTEXPR int pow2_floor_c(int x) { return x < 2 ? 1 : 2 * pow2_floor_c(x / 2); }
TJ_CONSTEXPR int pow2_ceil_c(int x) { return x <= 1 ? 1 : 2 * pow2_ceil_c((x + 1) / 2); }
TJ_CONSTEXPR int min_c(int a, int b) { return a < b ? a : b; }
TJ_CONSTEXPR int max_c(int a, int b) { return a > b ? a : b; }

// How L lines of K elements are spread over NT threads.
template <int L, int K, int NT>
struct reduce_plan {
    // threads per line: enough to use the block, no more than the line needs
    static constexpr int P0 = min_c(pow2_floor_c(max_c(NT / L, 1)), pow2_ceil_c(K));
    static constexpr int P = (P0 > 32 && NT % P0 != 0) ? 32 : P0;
    static constexpr int S = min_c(P, 32);      // lanes combined by shuffles
    static constexpr int Q = P / S;             // partials per line (warps per line)
    static constexpr int G = NT / P;            // lines in flight at once
    static constexpr int ROUNDS = (L + G - 1) / G;
    static constexpr int STEPS = (K + P - 1) / P;
};

// Scratch (elements of the register type) for any reduction of an [M,N]
// tile by NT threads: the padded tile plus the per-warp partials.
TJ_CONSTEXPR int reduce_scratch(int m, int n, int nt) {
    return m * (n + 1) + max_c(m, n) * max_c(nt / 32, 1);
}

namespace detail {

// Line l is buf[l*ls + k*ks], k < K. Leaves Q partials per line in part.
template <class Op, int L, int K, int NT, class R>
TJ_DEV void reduce_lines(const R *buf, int ls, int ks, R *part) {
    typedef reduce_plan<L, K, NT> plan;
    const int t = (int)threadIdx.x, p = t % plan::P, group = t / plan::P;
#pragma unroll
    for (int r = 0; r < plan::ROUNDS; ++r) {
        const int l = group + r * plan::G;
        R acc = Op::template identity<R>();
#pragma unroll
        for (int st = 0; st < plan::STEPS; ++st) {
            const int k = p + st * plan::P;
            if (l < L && k < K) acc = Op::apply(acc, buf[l * ls + k * ks]);
        }
#pragma unroll
        for (int off = plan::S / 2; off >= 1; off /= 2) acc = Op::apply(acc, shfl_xor(acc, off));
        if (l < L && p % plan::S == 0) part[l * plan::Q + p / plan::S] = acc;
    }
}

template <class Op, int Q, class R>
TJ_DEV R line_result(const R *part, int l) {
    R acc = part[l * Q];
#pragma unroll
    for (int q = 1; q < Q; ++q) acc = Op::apply(acc, part[l * Q + q]);
    return acc;
}

}  // namespace detail

// out [M,1]: out(i) = Op over j of in(i, j).
template <class Op, class R, int M, int N, int NT>
TJ_DEV void reduce_rows(tile<R, M, 1, NT> &out, const tile<R, M, N, NT> &in, R *scratch) {
    typedef reduce_plan<M, N, NT> plan;
    typedef tile<R, M, 1, NT> TO;
    R *part = scratch + M * (N + 1);
    store_smem(scratch, N + 1, in);
    __syncthreads();
    detail::reduce_lines<Op, M, N, NT>(scratch, N + 1, 1, part);
    __syncthreads();
    TJ_SLOTS(s, out)
    out.v[s] = TO::has(s) ? detail::line_result<Op, plan::Q>(part, TO::elem(s)) : Op::template identity<R>();
    __syncthreads();
}

// out [1,N]: out(j) = Op over i of in(i, j).
template <class Op, class R, int M, int N, int NT>
TJ_DEV void reduce_cols(tile<R, 1, N, NT> &out, const tile<R, M, N, NT> &in, R *scratch) {
    typedef reduce_plan<N, M, NT> plan;
    typedef tile<R, 1, N, NT> TO;
    R *part = scratch + M * (N + 1);
    store_smem(scratch, N + 1, in);
    __syncthreads();
    detail::reduce_lines<Op, N, M, NT>(scratch, 1, N + 1, part);
    __syncthreads();
    TJ_SLOTS(s, out)
    out.v[s] = TO::has(s) ? detail::line_result<Op, plan::Q>(part, TO::elem(s)) : Op::template identity<R>();
    __syncthreads();
}

// out [M,N]: out(i, j) = Op over j' of in(i, j').
template <class Op, class R, int M, int N, int NT>
TJ_DEV void reduce_rows_bcast(tile<R, M, N, NT> &out, const tile<R, M, N, NT> &in, R *scratch) {
    typedef reduce_plan<M, N, NT> plan;
    typedef tile<R, M, N, NT> TO;
    R *part = scratch + M * (N + 1);
    store_smem(scratch, N + 1, in);
    __syncthreads();
    detail::reduce_lines<Op, M, N, NT>(scratch, N + 1, 1, part);
    __syncthreads();
    TJ_SLOTS(s, out)
    out.v[s] = TO::has(s) ? detail::line_result<Op, plan::Q>(part, TO::row(s)) : Op::template identity<R>();
    __syncthreads();
}

// out [M,N]: out(i, j) = Op over i' of in(i', j).
template <class Op, class R, int M, int N, int NT>
TJ_DEV void reduce_cols_bcast(tile<R, M, N, NT> &out, const tile<R, M, N, NT> &in, R *scratch) {
    typedef reduce_plan<N, M, NT> plan;
    typedef tile<R, M, N, NT> TO;
    R *part = scratch + M * (N + 1);
    store_smem(scratch, N + 1, in);
    __syncthreads();
    detail::reduce_lines<Op, N, M, NT>(scratch, 1, N + 1, part);
    __syncthreads();
    TJ_SLOTS(s, out)
    out.v[s] = TO::has(s) ? detail::line_result<Op, plan::Q>(part, TO::col(s)) : Op::template identity<R>();
    __syncthreads();
}

}  // namespace tj

#endif  // TJ_REDUCE_CUH
