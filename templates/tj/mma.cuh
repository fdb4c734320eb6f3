// tj/mma.cuh - block-level matrix products with tensor cores (mma.sync).
//
// C[M,N] += op(A)[M,K] . op(B)[K,N], f32 accumulation, operands in shared
// memory. op(A) = A, or A transposed when TA (then the buffer holds the
// [K,M] tile); likewise B with TB ([N,K] in the buffer). Buffers are
// row-major with leading dims lda / ldb (elements).
//
// Instructions (PTX ISA 9.7.14 "warp-level matrix multiply-accumulate"):
//   bf16, f16         mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}  (sm_80+)
//   f32               mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32    (sm_80+;
//                     operands rounded to tf32, 10 mantissa bits; the
//                     MMA_TF32X3 path splits each operand into two tf32
//                     parts for about f32 accuracy at 3x the work)
//   f8e4m3, f8e5m2    mma.sync.aligned.m16n8k32.row.col.f32.{e4m3,e5m2} (sm_89+);
//                     on sm_80/86 they are converted to f16 (exactly) and
//                     use the f16 instruction
// The [M,N] result is cut into 16x8 mma tiles spread over the warps as a
// WM x WN grid (mma_grid); each warp owns an FM x FN block of them and
// keeps them in registers (mma_acc). Shapes that are not multiples of the
// mma shape are zero-padded: operand elements outside [M,K] / [K,N] read as
// 0 and result elements outside [M,N] are never written.
//
// MMA_FMA (mma_fma) is the plain per-element fallback: each thread computes
// its own strided-layout elements with fmaf, k in increasing order.
#ifndef TJ_MMA_CUH
#define TJ_MMA_CUH

#include "tj/smem.cuh"

namespace tj {

enum mma_path { MMA_TC = 0, MMA_TF32X3 = 1, MMA_FMA = 2 };

// Warps along M (WM) for tm x tn mma tiles over w warps: fewest mma per
// warp first, then fewest fragment loads (an A fragment is 4 registers, a
// B fragment 2).
TJ_CONSTEXPR int mma_pick_wm(int tm, int tn, int w) {
    int best = 1, best_cost = 0x7fffffff;
    for (int wm = 1; wm <= w; ++wm) {
        if (w % wm != 0) continue;
        const int fm = (tm + wm - 1) / wm, fn = (tn + w / wm - 1) / (w / wm);
        const int cost = 8 * fm * fn + 2 * fm + fn;
        if (cost < best_cost) {
            best_cost = cost;
            best = wm;
        }
    }
    return best;
}

template <int M, int N, int NT>
struct mma_grid {
    static constexpr int TM = (M + 15) / 16, TN = (N + 7) / 8;  // 16x8 mma tiles
    static constexpr int W = NT / 32;
    static constexpr int WM = mma_pick_wm(TM, TN, W), WN = W / WM;
    static constexpr int FM = (TM + WM - 1) / WM, FN = (TN + WN - 1) / WN;  // per warp
};

// A warp's accumulators: FM x FN tiles of 16x8 f32, 4 per thread each, in
// the C/D fragment layout of PTX ISA 9.7.14.5.8 (m16n8k16) / 9.7.14.5.7
// (m16n8k8), the same for every shape used here: with g = lane / 4 and
// t = lane % 4, c0, c1 are (row g, cols 2t, 2t+1) and c2, c3 are
// (row g + 8, cols 2t, 2t+1).
template <int M, int N, int NT>
struct mma_acc {
    typedef mma_grid<M, N, NT> grid;
    float c[grid::FM][grid::FN][4];

    TJ_DEV void zero() {
#pragma unroll
        for (int a = 0; a < grid::FM; ++a)
#pragma unroll
            for (int b = 0; b < grid::FN; ++b)
#pragma unroll
                for (int q = 0; q < 4; ++q) c[a][b][q] = 0.0f;
    }
    // The 16x8 tile indices of this warp's fragment (a, b).
    TJ_DEV static int tile_m(int a) { return (warp_id() % grid::WM) * grid::FM + a; }
    TJ_DEV static int tile_n(int b) { return (warp_id() / grid::WM) * grid::FN + b; }
};

namespace detail {

// Element (r, c) of the logical R x C matrix stored in p, or of its
// transpose when TRANS; zero outside.
template <bool TRANS, int R, int C, class T>
TJ_DEV T operand(const T *p, int ld, int r, int c) {
    if (r >= R || c >= C) return T();
    return TRANS ? p[c * ld + r] : p[r * ld + c];
}

TJ_DEV u32 half_bits(bf16 x) { return x.bits; }
TJ_DEV u32 half_bits(f16 x) { return x.bits; }
TJ_DEV u32 half_bits(f8e4m3 x) { return f32_to_f16(e4m3_to_f32(x.bits)); }  // exact in f16
TJ_DEV u32 half_bits(f8e5m2 x) { return (u32)x.bits << 8; }                 // e5m2 = f16's upper byte
TJ_DEV u32 byte_bits(f8e4m3 x) { return x.bits; }
TJ_DEV u32 byte_bits(f8e5m2 x) { return x.bits; }

// Two 16-bit elements in one register, the lower-indexed in the low half.
TJ_DEV u32 pack2(u32 lo, u32 hi) { return lo | (hi << 16); }
TJ_DEV u32 pack4(u32 b0, u32 b1, u32 b2, u32 b3) { return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24); }

TJ_DEV u32 to_tf32(float x) {
    u32 r;
    // cvt.rna.tf32.f32: round to nearest (ties away) to 10 mantissa bits (sm_80+)
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

// D = A.B + D for one 16x8x16 tile.
TJ_DEV void mma_16816(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2], bool bf) {
    if (bf)
        // mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D[16x8] += A[16x16] . B[16x8]
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        // mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: D[16x8] += A[16x16] . B[16x8]
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

TJ_DEV void mma_1688_tf32(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2]) {
    // mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: D[16x8] += A[16x8] . B[8x8]
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
TJ_DEV void mma_16832_f8(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2], bool e5m2) {
    if (e5m2)
        // mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32: D[16x8] += A[16x32] . B[32x8] (sm_89+)
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        // mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32: D[16x8] += A[16x32] . B[32x8] (sm_89+)
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

// ---- fragment loads ----------------------------------------------------------
// g = lane / 4 ("groupID"), t = lane % 4 ("threadID_in_group") as in the PTX ISA.

// m16n8k16 .f16/.bf16 A (PTX ISA 9.7.14.5.8): register q holds the pair
// (row g + 8*(q & 1), cols 2t + 8*(q >> 1) + {0, 1}).
template <bool TA, int M, int K, class T>
TJ_DEV void load_a_k16(u32 (&a)[4], const T *p, int ld, int m0, int k0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const int m = m0 + g + 8 * (q & 1), k = k0 + 2 * t + 8 * (q >> 1);
        a[q] = pack2(half_bits(operand<TA, M, K>(p, ld, m, k)),
                     half_bits(operand<TA, M, K>(p, ld, m, k + 1)));
    }
}
// m16n8k16 .f16/.bf16 B (PTX ISA 9.7.14.5.8): register q holds the pair
// (rows 2t + 8q + {0, 1}, col g).
template <bool TB, int K, int N, class T>
TJ_DEV void load_b_k16(u32 (&b)[2], const T *p, int ld, int k0, int n0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 2; ++q) {
        const int k = k0 + 2 * t + 8 * q, n = n0 + g;
        b[q] = pack2(half_bits(operand<TB, K, N>(p, ld, k, n)),
                     half_bits(operand<TB, K, N>(p, ld, k + 1, n)));
    }
}

// m16n8k8 .tf32 A (PTX ISA 9.7.14.5.7): register q holds (row g + 8*(q & 1),
// col t + 4*(q >> 1)). B: register q holds (row t + 4q, col g).
// SPLIT: 0 the tf32 value, 1 its "big" part, 2 the remainder after it.
template <int SPLIT>
TJ_DEV u32 tf32_part(float x) {
    const u32 big = to_tf32(x);
    return SPLIT == 2 ? to_tf32(x - __uint_as_float(big)) : big;
}
template <bool TA, int M, int K, int SPLIT>
TJ_DEV void load_a_k8(u32 (&a)[4], const float *p, int ld, int m0, int k0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 4; ++q)
        a[q] = tf32_part<SPLIT>(operand<TA, M, K>(p, ld, m0 + g + 8 * (q & 1), k0 + t + 4 * (q >> 1)));
}
template <bool TB, int K, int N, int SPLIT>
TJ_DEV void load_b_k8(u32 (&b)[2], const float *p, int ld, int k0, int n0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 2; ++q) b[q] = tf32_part<SPLIT>(operand<TB, K, N>(p, ld, k0 + t + 4 * q, n0 + g));
}

// m16n8k32 .e4m3/.e5m2 A (PTX ISA 9.7.14.5.10, the layout of .s8/.u8):
// register q holds 4 bytes (row g + 8*(q & 1), cols 4t + 16*(q >> 1) + {0..3}).
// B: register q holds (rows 4t + 16q + {0..3}, col g).
template <bool TA, int M, int K, class T>
TJ_DEV void load_a_k32(u32 (&a)[4], const T *p, int ld, int m0, int k0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const int m = m0 + g + 8 * (q & 1), k = k0 + 4 * t + 16 * (q >> 1);
        a[q] = pack4(byte_bits(operand<TA, M, K>(p, ld, m, k)), byte_bits(operand<TA, M, K>(p, ld, m, k + 1)),
                     byte_bits(operand<TA, M, K>(p, ld, m, k + 2)), byte_bits(operand<TA, M, K>(p, ld, m, k + 3)));
    }
}
template <bool TB, int K, int N, class T>
TJ_DEV void load_b_k32(u32 (&b)[2], const T *p, int ld, int k0, int n0) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int q = 0; q < 2; ++q) {
        const int k = k0 + 4 * t + 16 * q, n = n0 + g;
        b[q] = pack4(byte_bits(operand<TB, K, N>(p, ld, k, n)), byte_bits(operand<TB, K, N>(p, ld, k + 1, n)),
                     byte_bits(operand<TB, K, N>(p, ld, k + 2, n)), byte_bits(operand<TB, K, N>(p, ld, k + 3, n)));
    }
}

// ---- warp loops ------------------------------------------------------------------

// 16-bit operands (and fp8 as f16 where fp8 mma is missing).
template <bool TA, bool TB, int K, bool BF, class T, int M, int N, int NT>
TJ_DEV void run_k16(mma_acc<M, N, NT> &acc, const T *a, int lda, const T *b, int ldb) {
    typedef mma_grid<M, N, NT> G;
    typedef mma_acc<M, N, NT> A;
    for (int k0 = 0; k0 < K; k0 += 16) {
        u32 af[G::FM][4], bfr[G::FN][2];
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
            if (A::tile_m(i) < G::TM) load_a_k16<TA, M, K>(af[i], a, lda, A::tile_m(i) * 16, k0);
#pragma unroll
        for (int j = 0; j < G::FN; ++j)
            if (A::tile_n(j) < G::TN) load_b_k16<TB, K, N>(bfr[j], b, ldb, k0, A::tile_n(j) * 8);
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
#pragma unroll
            for (int j = 0; j < G::FN; ++j)
                if (A::tile_m(i) < G::TM && A::tile_n(j) < G::TN) mma_16816(acc.c[i][j], af[i], bfr[j], BF);
    }
}

// f32 operands as tf32; X3 adds the two cross terms of the split operands.
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run_tf32(mma_acc<M, N, NT> &acc, const float *a, int lda, const float *b, int ldb) {
    typedef mma_grid<M, N, NT> G;
    typedef mma_acc<M, N, NT> A;
    for (int k0 = 0; k0 < K; k0 += 8) {
        u32 af[G::FM][4], bfr[G::FN][2], as[G::FM][4], bs[G::FN][2];
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
            if (A::tile_m(i) < G::TM) {
                load_a_k8<TA, M, K, X3 ? 1 : 0>(af[i], a, lda, A::tile_m(i) * 16, k0);
                if (X3) load_a_k8<TA, M, K, 2>(as[i], a, lda, A::tile_m(i) * 16, k0);
            }
#pragma unroll
        for (int j = 0; j < G::FN; ++j)
            if (A::tile_n(j) < G::TN) {
                load_b_k8<TB, K, N, X3 ? 1 : 0>(bfr[j], b, ldb, k0, A::tile_n(j) * 8);
                if (X3) load_b_k8<TB, K, N, 2>(bs[j], b, ldb, k0, A::tile_n(j) * 8);
            }
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
#pragma unroll
            for (int j = 0; j < G::FN; ++j)
                if (A::tile_m(i) < G::TM && A::tile_n(j) < G::TN) {
                    if (X3) {  // small terms first
                        mma_1688_tf32(acc.c[i][j], as[i], bfr[j]);
                        mma_1688_tf32(acc.c[i][j], af[i], bs[j]);
                    }
                    mma_1688_tf32(acc.c[i][j], af[i], bfr[j]);
                }
    }
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
template <bool TA, bool TB, int K, bool E5M2, class T, int M, int N, int NT>
TJ_DEV void run_k32(mma_acc<M, N, NT> &acc, const T *a, int lda, const T *b, int ldb) {
    typedef mma_grid<M, N, NT> G;
    typedef mma_acc<M, N, NT> A;
    for (int k0 = 0; k0 < K; k0 += 32) {
        u32 af[G::FM][4], bfr[G::FN][2];
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
            if (A::tile_m(i) < G::TM) load_a_k32<TA, M, K>(af[i], a, lda, A::tile_m(i) * 16, k0);
#pragma unroll
        for (int j = 0; j < G::FN; ++j)
            if (A::tile_n(j) < G::TN) load_b_k32<TB, K, N>(bfr[j], b, ldb, k0, A::tile_n(j) * 8);
#pragma unroll
        for (int i = 0; i < G::FM; ++i)
#pragma unroll
            for (int j = 0; j < G::FN; ++j)
                if (A::tile_m(i) < G::TM && A::tile_n(j) < G::TN) mma_16832_f8(acc.c[i][j], af[i], bfr[j], E5M2);
    }
}
#endif

// One overload per operand type.
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run(mma_acc<M, N, NT> &acc, const bf16 *a, int lda, const bf16 *b, int ldb) {
    run_k16<TA, TB, K, true>(acc, a, lda, b, ldb);
}
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run(mma_acc<M, N, NT> &acc, const f16 *a, int lda, const f16 *b, int ldb) {
    run_k16<TA, TB, K, false>(acc, a, lda, b, ldb);
}
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run(mma_acc<M, N, NT> &acc, const float *a, int lda, const float *b, int ldb) {
    run_tf32<TA, TB, K, X3>(acc, a, lda, b, ldb);
}
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run(mma_acc<M, N, NT> &acc, const f8e4m3 *a, int lda, const f8e4m3 *b, int ldb) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    run_k32<TA, TB, K, false>(acc, a, lda, b, ldb);
#else
    run_k16<TA, TB, K, false>(acc, a, lda, b, ldb);
#endif
}
template <bool TA, bool TB, int K, bool X3, int M, int N, int NT>
TJ_DEV void run(mma_acc<M, N, NT> &acc, const f8e5m2 *a, int lda, const f8e5m2 *b, int ldb) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    run_k32<TA, TB, K, true>(acc, a, lda, b, ldb);
#else
    run_k16<TA, TB, K, false>(acc, a, lda, b, ldb);
#endif
}

}  // namespace detail

// ---- warp-level API: accumulators in registers -----------------------------------

// acc += op(A) . op(B) on the tensor cores (tf32 for f32 operands). Reads
// a and b: they must have been written before a barrier. No barrier.
template <bool TA, bool TB, int K, class T, int M, int N, int NT>
TJ_DEV void mma_accumulate(mma_acc<M, N, NT> &acc, const T *a, int lda, const T *b, int ldb) {
    detail::run<TA, TB, K, false>(acc, a, lda, b, ldb);
}
// The same for f32 operands with 3xTF32 (about f32 accuracy).
template <bool TA, bool TB, int K, int M, int N, int NT>
TJ_DEV void mma_accumulate_x3(mma_acc<M, N, NT> &acc, const float *a, int lda, const float *b, int ldb) {
    detail::run_tf32<TA, TB, K, true>(acc, a, lda, b, ldb);
}

// c[m*ldc + n] = acc(m, n) for m < M, n < N. No barrier.
template <int M, int N, int NT>
TJ_DEV void mma_store_smem(float *c, int ldc, const mma_acc<M, N, NT> &acc) {
    typedef mma_grid<M, N, NT> G;
    typedef mma_acc<M, N, NT> A;
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int i = 0; i < G::FM; ++i)
#pragma unroll
        for (int j = 0; j < G::FN; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int m = A::tile_m(i) * 16 + g + 8 * (q >> 1), n = A::tile_n(j) * 8 + 2 * t + (q & 1);
                if (m < M && n < N) c[m * ldc + n] = acc.c[i][j][q];
            }
}
// acc(m, n) = c[m*ldc + n] (0 outside [M,N]). No barrier.
template <int M, int N, int NT>
TJ_DEV void mma_load_smem(mma_acc<M, N, NT> &acc, const float *c, int ldc) {
    typedef mma_grid<M, N, NT> G;
    typedef mma_acc<M, N, NT> A;
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int i = 0; i < G::FM; ++i)
#pragma unroll
        for (int j = 0; j < G::FN; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int m = A::tile_m(i) * 16 + g + 8 * (q >> 1), n = A::tile_n(j) * 8 + 2 * t + (q & 1);
                acc.c[i][j][q] = (m < M && n < N) ? c[m * ldc + n] : 0.0f;
            }
}

// ---- block-level API: strided register tiles ----------------------------------------

// c += op(A) . op(B), each thread its own elements with fmaf in increasing
// k (f32 products of the operands' values). No barrier.
template <bool TA, bool TB, int K, class T, int M, int N, int NT>
TJ_DEV void mma_fma(tile<float, M, N, NT> &c, const T *a, int lda, const T *b, int ldb) {
    typedef tile<float, M, N, NT> TC;
    TJ_SLOTS(s, c) {
        if (!TC::has(s)) continue;
        const int i = TC::row(s), j = TC::col(s);
        float x = c.v[s];
        for (int k = 0; k < K; ++k)
            x = ::fmaf(to_reg(TA ? a[k * lda + i] : a[i * lda + k]), to_reg(TB ? b[j * ldb + k] : b[k * ldb + j]), x);
        c.v[s] = x;
    }
}

TJ_CONSTEXPR int mma_scratch(int m, int n) { return m * n; }  // floats

// c += op(A) . op(B) from shared operands (written before a barrier) by
// PATH; scratch: M*N floats (unused by MMA_FMA). Barriers inside; a, b and
// scratch are free on return.
template <bool TA, bool TB, int K, int PATH = MMA_TC, class T, int M, int N, int NT>
TJ_DEV void mma_smem(tile<float, M, N, NT> &c, const T *a, int lda, const T *b, int ldb, float *scratch) {
    typedef tile<float, M, N, NT> TC;
    if (PATH == MMA_FMA) {
        mma_fma<TA, TB, K>(c, a, lda, b, ldb);
        __syncthreads();
        return;
    }
    mma_acc<M, N, NT> acc;
    acc.zero();
    detail::run<TA, TB, K, PATH == MMA_TF32X3>(acc, a, lda, b, ldb);
    mma_store_smem(scratch, N, acc);
    __syncthreads();
    TJ_SLOTS(s, c) if (TC::has(s)) c.v[s] += scratch[TC::elem(s)];
    __syncthreads();
}

// c += op(a) . op(b) for register tiles a ([M,K], or [K,M] when TA) and b
// ([K,N], or [N,K] when TB) of values of dtype T: staged in sa / sb (their
// sizes, elements of T, row-major and compact) and multiplied by PATH;
// scratch: M*N floats. Barriers inside.
template <bool TA, bool TB, int PATH = MMA_TC, class T, int M, int N, int NT, int AR, int AC, int BR, int BC>
TJ_DEV void mma(tile<float, M, N, NT> &c, const tile<float, AR, AC, NT> &a, const tile<float, BR, BC, NT> &b,
                T *sa, T *sb, float *scratch) {
    constexpr int K = TA ? AR : AC;
    static_assert((TA ? AC : AR) == M, "mma: A has the wrong number of rows");
    static_assert((TB ? BC : BR) == K, "mma: A's and B's K differ");
    static_assert((TB ? BR : BC) == N, "mma: B has the wrong number of columns");
    store_smem(sa, AC, a);
    store_smem(sb, BC, b);
    __syncthreads();
    mma_smem<TA, TB, K, PATH>(c, (const T *)sa, AC, (const T *)sb, BC, scratch);
}

}  // namespace tj

#endif  // TJ_MMA_CUH
