// tj/rows.cuh - the device side of the `rows` schedule (gen/schedule/rows*.c):
// memory-bound row-wise kernels (norms, softmax, elementwise chains).
//
// A row of a program is owned by a group of TR threads (a power of two,
// groups aligned to TR inside the block); a thread holds its columns in
// chunks of V consecutive elements in plain register arrays. This header
// gives the three things such kernels need beyond tj/math.cuh:
//
//   chunk<T, V>               V elements of storage type T as 32-bit words
//   ldv<T, V, NC>(p)          one chunk from global memory in 16-byte accesses
//                             (NC: coherence and L1 policy, below)
//   stv(p, chunk)             one chunk to global memory in 16-byte accesses
//   aligned16(p)              whether p may be used by ldv / stv
//   renew(chunks)             forget what is known of held chunks (see below)
//   group_reduce<Op, TR>(x, part)   Op over the TR threads of x's row group
//   sum_op, max_op, min_op    as tj/reduce.cuh's (float sums in f32, integer
//                             sums wrap, max/min of floats ignore NaN)
//   cluster_reduce<Op, TR, CL, FIRST>(x, part, xch)   (sm_90+) Op over a row
//                             split across the CL blocks of a cluster
//   cluster_rank(), cluster_arrive_relaxed()          (sm_90+)
//
// Only types.cuh and math.cuh are included, to keep NVRTC's work small.
#ifndef TJ_ROWS_CUH
#define TJ_ROWS_CUH

#include "tj/types.cuh"
#include "tj/math.cuh"

namespace tj {
namespace rows {

// V elements of T, V * sizeof(T) a multiple of 16 bytes.
template <class T, int V>
struct chunk {
    static constexpr int WORDS = V * (int)sizeof(T) / 4;
    union {
        u32 w[WORDS];
        T t[V];
    };
};

TJ_DEV bool aligned16(const void *p) { return ((u64)p & 15u) == 0; }

// An empty asm that claims to rewrite every word of c: the compiler must
// convert c's elements again after this point, so values it converted
// before (a row in f32, twice the registers) need not live across it.
// Placed after a row reduction for the rows used again after it.
template <class T, int V, int C>
TJ_DEV void renew(chunk<T, V> (&c)[C]) {
#pragma unroll
    for (int i = 0; i < C; ++i)
#pragma unroll
        for (int q = 0; q < chunk<T, V>::WORDS; ++q) asm volatile("" : "+r"(c[i].w[q]));
}

// NC: 0 the kernel also writes the tensor (a coherent load); else the
// read-only non-coherent path, with an L1 policy: 1 none, 2 streaming (a
// row read once: L1::no_allocate, so it does not evict what is reused),
// 3 reused (a weight row every program reads: L1::evict_last).
template <class T, int V, int NC>
TJ_DEV chunk<T, V> ldv(const T *p) {
    chunk<T, V> c;
#pragma unroll
    for (int q = 0; q < chunk<T, V>::WORDS; q += 4) {
        const void *a = (const char *)p + 4 * q;
        if (NC == 3)
            // ld.global.nc.L1::evict_last.v4.u32: 16 bytes, kept in L1 before other lines
            asm volatile("ld.global.nc.L1::evict_last.v4.u32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(c.w[q]), "=r"(c.w[q + 1]), "=r"(c.w[q + 2]), "=r"(c.w[q + 3])
                         : "l"(a));
        else if (NC == 2)
            // ld.global.nc.L1::no_allocate.v4.u32: 16 bytes, not cached in L1
            asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(c.w[q]), "=r"(c.w[q + 1]), "=r"(c.w[q + 2]), "=r"(c.w[q + 3])
                         : "l"(a));
        else if (NC)
            // ld.global.nc.v4.u32: 16 bytes through the read-only (texture) path
            asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(c.w[q]), "=r"(c.w[q + 1]), "=r"(c.w[q + 2]), "=r"(c.w[q + 3])
                         : "l"(a));
        else
            // ld.global.v4.u32: 16 bytes, coherent (the kernel also writes this tensor)
            asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(c.w[q]), "=r"(c.w[q + 1]), "=r"(c.w[q + 2]), "=r"(c.w[q + 3])
                         : "l"(a)
                         : "memory");
    }
    return c;
}

template <class T, int V>
TJ_DEV void stv(T *p, const chunk<T, V> &c) {
#pragma unroll
    for (int q = 0; q < chunk<T, V>::WORDS; q += 4) {
        void *a = (char *)p + 4 * q;
        // st.global.v4.u32: 16 bytes
        asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};"
                     :
                     : "l"(a), "r"(c.w[q]), "r"(c.w[q + 1]), "r"(c.w[q + 2]), "r"(c.w[q + 3])
                     : "memory");
    }
}

// ---- reductions ---------------------------------------------------------------

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

// shfl.sync.bfly over the full warp (every lane of every warp is present:
// blocks are whole warps).
TJ_DEV float shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV int shfl_xor(int v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV long long shfl_xor(long long v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
TJ_DEV bool shfl_xor(bool v, int m) { return __shfl_xor_sync(0xffffffffu, (int)v, m) != 0; }

// Op over the TR threads of the calling thread's group; every thread of
// the group gets the same bits (a butterfly combines a+b and b+a, equal
// in IEEE arithmetic; the warps' partials are combined in warp order).
// TR > 32: `part` is shared memory of NT/32 elements used by this call
// only, and every thread of the block must call (one barrier inside).
template <class Op, int TR, class R>
TJ_DEV R group_reduce(R x, R *part) {
    constexpr int L = TR < 32 ? TR : 32;
#pragma unroll
    for (int m = L / 2; m >= 1; m /= 2) x = Op::apply(x, shfl_xor(x, m));
    if (TR > 32) {
        constexpr int NW = TR / 32;
        const int warp = (int)threadIdx.x / 32;
        if ((threadIdx.x & 31) == 0) part[warp] = x;
        __syncthreads();
        const int w0 = warp / NW * NW;
        x = part[w0];
#pragma unroll
        for (int q = 1; q < NW; ++q) x = Op::apply(x, part[w0 + q]);
    }
    return x;
}

// ---- clusters (sm_90+): one row over CL blocks ---------------------------------

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
TJ_DEV unsigned cluster_rank() {
    unsigned r;
    // %cluster_ctarank: this block's rank in its cluster
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}

// The kernel's first phase of the cluster barrier: the matching wait (in
// the first cluster_reduce) guarantees every peer block has started, so
// its shared memory exists before anyone writes to it.
TJ_DEV void cluster_arrive_relaxed() {
    // barrier.cluster.arrive.relaxed: signal without ordering memory
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
}
TJ_DEV void cluster_wait() {
    // barrier.cluster.wait.acquire: peers' writes before their arrive are visible
    asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
}
TJ_DEV void cluster_sync() {
    // barrier.cluster.arrive.release + wait.acquire: a full cluster barrier
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// The generic address of *p in the shared memory of cluster block `rank`.
template <class T>
TJ_DEV T *map_rank(T *p, unsigned rank) {
    u64 r;
    // mapa.u64: a generic shared address mapped to another block of the cluster
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(r) : "l"(p), "r"(rank));
    return (T *)r;
}

// Op over the TR threads of the caller's group in each of the CL blocks of
// the cluster (block r holds the row's r-th part). Each block's partial is
// pushed into slot [group][r] of every block's `xch` (shared memory of
// NT/TR*CL elements, this call's only), then every block combines the
// slots in rank order, so all get the same bits. Every thread of every
// block must call (barriers inside). FIRST: the kernel's first such call,
// which completes the prologue's cluster_arrive_relaxed. `xch` is never
// written again after the call's barrier, so a block may exit right after.
template <class Op, int TR, int CL, bool FIRST, class R>
TJ_DEV R cluster_reduce(R x, R *part, R *xch) {
    x = group_reduce<Op, TR>(x, part);
    const int g = (int)threadIdx.x / TR;
    const unsigned me = cluster_rank();
    if (FIRST) cluster_wait();
    if ((int)threadIdx.x % TR == 0) {
#pragma unroll
        for (int q = 0; q < CL; ++q) *map_rank(&xch[g * CL + (int)me], (unsigned)q) = x;
    }
    cluster_sync();
    x = xch[g * CL];
#pragma unroll
    for (int q = 1; q < CL; ++q) x = Op::apply(x, xch[g * CL + q]);
    return x;
}
#endif

}  // namespace rows
}  // namespace tj

#endif  // TJ_ROWS_CUH
