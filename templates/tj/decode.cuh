// tj/decode.cuh - the device side of the `decode` schedule
// (gen/schedule/decode*.c): a few query rows against a long KV stream.
//
// Each warp streams its own KV tiles through a ring of shared-memory
// chunks (16 rows x D, cp.async, 16-byte pieces, swizzled so ldmatrix is
// conflict-free) and multiplies with mma.sync m16n8k16 (the query rows
// padded to 16). What a kernel needs beyond tj/tj.cuh:
//
//   smem_u32(p)                 a shared pointer as a .shared address
//   copy_chunk<T, D>(...)       one 16 x D chunk of K or V into a ring slot
//   cp_commit(), cp_wait<N>()   cp.async groups
//   ldsm_x4 / ldsm_x4_t         ldmatrix (.trans) of four 8x8 matrices
//   swz<D>(row, col16)          byte offset of a 16-byte piece in a chunk
//   mma16816<T>(d0..d3, a, b0, b1)   D += A.B for one 16x8x16 tile
//   mma_rows<T, HR>(...)        the same, rows 8..15 dropped when HR = 1
//   pack2<T>(lo, hi)            two floats rounded to T, packed
//   q_max, q_sum                over the 4 lanes that share a row
//   cluster_* (sm_90+)          rank, barrier, peer shared memory
#ifndef TJ_DECODE_CUH
#define TJ_DECODE_CUH

#include "tj/types.cuh"

namespace tj {
namespace dec {

TJ_DEV u32 smem_u32(const void *p) {
    u32 r;
    // cvta.to.shared.u64 + truncation: the .shared window offset of a generic address
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
    return r;
}

// Byte offset of 16-byte piece c16 of `row` in a chunk of rows of D
// 16-bit elements: piece index XOR (row % 8), so the 8 rows an ldmatrix
// reads at one column fall in 8 different bank groups.
template <int D>
TJ_DEV u32 swz(int row, int c16) {
    return (u32)(row * (2 * D) + ((c16 ^ (row & 7)) << 4));
}

TJ_DEV void cp16(u32 dst, const void *src, bool valid) {
    // cp.async.cg.shared.global: 16 bytes to shared memory bypassing L1;
    // src-size 0 writes zeros (rows past the tensor's edge)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src),
                 "r"(valid ? 16 : 0)
                 : "memory");
}
TJ_DEV void cp_commit() {
    // cp.async.commit_group: close the group of this thread's copies so far
    asm volatile("cp.async.commit_group;" ::: "memory");
}
template <int N>
TJ_DEV void cp_wait() {
    // cp.async.wait_group N: all but this thread's newest N groups have landed
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

// Rows r0 .. r0+15 (of `nrows`, stride `rs` elements) of a tile whose row
// 0 starts at `base`, all D columns, into the chunk at shared address
// dst; rows outside [0, nrows) or a tile that is out of bounds (!ok) read
// as zeros. `aligned`: base and rs allow 16-byte pieces; else the pieces
// are copied element by element (the tensor was not 16-byte aligned).
template <class T, int D>
TJ_DEV void copy_chunk(u32 dst, const T *base, long long rs, long long r0, long long nrows,
                       bool ok, bool aligned, int lane) {
    constexpr int PR = D / 8;   // pieces a row
#pragma unroll
    for (int i = 0; i < 16 * PR / 32; ++i) {
        const int p = lane + 32 * i, row = p / PR, c16 = p % PR;
        const long long r = r0 + row;
        const bool v = ok && r >= 0 && r < nrows;
        const T *src = base + (v ? r * rs + c16 * 8 : 0);
        const u32 d = dst + swz<D>(row, c16);
        if (aligned) {
            cp16(d, src, v);
        } else {
            u32 w[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const unsigned short *h = (const unsigned short *)src;
                w[k] = v ? ((u32)h[2 * k] | ((u32)h[2 * k + 1] << 16)) : 0u;
            }
            // st.shared.v4.u32: the same 16 bytes cp.async would have written
            asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};" ::"r"(d), "r"(w[0]), "r"(w[1]),
                         "r"(w[2]), "r"(w[3])
                         : "memory");
        }
    }
}

TJ_DEV void ldsm_x4(u32 &r0, u32 &r1, u32 &r2, u32 &r3, u32 addr) {
    // ldmatrix.sync.aligned.m8n8.x4.shared.b16: four 8x8 b16 matrices, lane l
    // gives the row address of matrix l / 8
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr)
                 : "memory");
}
TJ_DEV void ldsm_x4_t(u32 &r0, u32 &r1, u32 &r2, u32 &r3, u32 addr) {
    // ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16: the same, each matrix transposed
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr)
                 : "memory");
}

template <class T>
TJ_DEV void mma16816(float &d0, float &d1, float &d2, float &d3, u32 a0, u32 a1, u32 a2, u32 a3,
                     u32 b0, u32 b1);
template <>
TJ_DEV void mma16816<bf16>(float &d0, float &d1, float &d2, float &d3, u32 a0, u32 a1, u32 a2,
                           u32 a3, u32 b0, u32 b1) {
    // mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D[16x8] += A[16x16] . B[16x8]
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
template <>
TJ_DEV void mma16816<f16>(float &d0, float &d1, float &d2, float &d3, u32 a0, u32 a1, u32 a2,
                          u32 a3, u32 b0, u32 b1) {
    // mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: D[16x8] += A[16x16] . B[16x8]
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The same for HR (1 or 2) live row halves: with G <= 8 query rows the
// accumulator rows 8..15 are padding, so their outputs go to temporaries
// and the caller's d2, d3 stay untouched (no registers held for them).
template <class T, int HR>
TJ_DEV void mma_rows(float &d0, float &d1, float &d2, float &d3, u32 a0, u32 a1, u32 a2, u32 a3,
                     u32 b0, u32 b1) {
    if (HR == 2) {
        mma16816<T>(d0, d1, d2, d3, a0, a1, a2, a3, b0, b1);
    } else {
        float x2 = 0.0f, x3 = 0.0f;
        mma16816<T>(d0, d1, x2, x3, a0, a1, a2, a3, b0, b1);
    }
}

template <class T>
TJ_DEV u32 pack2(float lo, float hi);
template <>
TJ_DEV u32 pack2<bf16>(float lo, float hi) {
    u32 r;
    // cvt.rn.bf16x2.f32 d, hi, lo: both halves rounded to nearest even
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
template <>
TJ_DEV u32 pack2<f16>(float lo, float hi) {
    u32 r;
    // cvt.rn.f16x2.f32 d, hi, lo: both halves rounded to nearest even
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// The 4 lanes of a quad hold one accumulator row between them.
TJ_DEV float q_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
TJ_DEV float q_min(float v) {
    v = fminf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fminf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
TJ_DEV float q_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
TJ_DEV unsigned cluster_rank() {
    unsigned r;
    // %cluster_ctarank: this block's rank in its cluster
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}
TJ_DEV void cluster_sync() {
    // barrier.cluster.arrive.release + wait.acquire: every block of the
    // cluster is here, and their shared-memory writes before it are visible
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::: "memory");
}
template <class T>
TJ_DEV const T *peer(const T *p, unsigned rank) {
    u64 r;
    // mapa.u64: a generic shared address mapped into cluster block `rank`
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(r) : "l"(p), "r"(rank));
    return (const T *)r;
}
#endif

}  // namespace dec
}  // namespace tj

#endif  // TJ_DECODE_CUH
