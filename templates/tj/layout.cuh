// tj/layout.cuh - register tiles in the strided layout.
//
// A program is one thread block of NT threads (1-D, NT a multiple of 32).
// A tile [M,N] (M, N compile-time; a 1-D tile [N] is [1,N]) lives in
// registers: flat element e = i*N + j is held by thread e % NT in slot
// e / NT. Each thread holds SLOTS = ceil(M*N / NT) slots; when NT does not
// divide M*N the last slot of the high threads holds nothing (has(s) is
// false there; primitives fill such slots with a neutral value and never
// store them).
//
// Consecutive threads hold consecutive elements, so a row-major global
// access by slot is coalesced. Elementwise ops on tiles of one shape are
// per-slot loops, with no communication; anything that needs another
// thread's element goes through shared memory (tj/smem.cuh).
//
// Reshape that keeps the element count keeps the flat order, so it is a
// copy of the slots (reshape below); a scalar (rank 0) is a plain variable
// that every thread holds, with the same value in each.
#ifndef TJ_LAYOUT_CUH
#define TJ_LAYOUT_CUH

#include "tj/types.cuh"

// Unrolled loop over the slots of tile object t: TJ_SLOTS(s, t) { ... }.
// Register arrays are indexed only with the unrolled (compile-time) s, so
// they stay in registers.
#define TJ_SLOTS(s, t) _Pragma("unroll") for (int s = 0; s < (t).slots; ++s)

namespace tj {

TJ_DEV int thread_id() { return (int)threadIdx.x; }
TJ_DEV int lane_id() { return (int)threadIdx.x & 31; }
TJ_DEV int warp_id() { return (int)threadIdx.x >> 5; }

TJ_CONSTEXPR int cdiv_c(int a, int b) { return (a + b - 1) / b; }

template <class R, int M, int N, int NT>
struct tile {
    static_assert(M > 0 && N > 0, "tile dims must be positive");
    static_assert(NT > 0 && NT % 32 == 0, "NT must be a multiple of 32");
    typedef R value_type;
    static constexpr int rows = M;
    static constexpr int cols = N;
    static constexpr int threads = NT;
    static constexpr int size = M * N;
    static constexpr int slots = (M * N + NT - 1) / NT;

    R v[slots];

    // Flat element index of slot s in this thread.
    TJ_DEV static int elem(int s) { return s * NT + (int)threadIdx.x; }
    // Whether slot s holds an element in this thread.
    TJ_DEV static bool has(int s) { return size % NT == 0 || elem(s) < size; }
    TJ_DEV static int row(int s) { return elem(s) / N; }
    TJ_DEV static int col(int s) { return elem(s) % N; }
};

// Every slot = x.
template <class R, int M, int N, int NT>
TJ_DEV void fill(tile<R, M, N, NT> &t, R x) {
    TJ_SLOTS(s, t) t.v[s] = x;
}

// iota: element (i, j) = its index along `axis` (0: i, 1: j).
template <int AXIS, class R, int M, int N, int NT>
TJ_DEV void iota(tile<R, M, N, NT> &t) {
    typedef tile<R, M, N, NT> T;
    TJ_SLOTS(s, t) t.v[s] = (R)(AXIS == 0 ? T::row(s) : T::col(s));
}

// Same elements in the same flat order, another shape of the same size.
template <class R, int M, int N, int M2, int N2, int NT>
TJ_DEV void reshape(tile<R, M2, N2, NT> &out, const tile<R, M, N, NT> &in) {
    static_assert(M * N == M2 * N2, "reshape keeps the element count");
    TJ_SLOTS(s, in) out.v[s] = in.v[s];
}

// Elementwise cast to dtype T (storage type), e.g. cast_tile<tj::bf16>(y, x)
// rounds an f32 tile to bf16 values; y's register type must be reg<T>::type.
template <class T, class R, class R2, int M, int N, int NT>
TJ_DEV void cast_tile(tile<R2, M, N, NT> &out, const tile<R, M, N, NT> &in) {
    TJ_SLOTS(s, in) out.v[s] = cast<T>(in.v[s]);
}

}  // namespace tj

#endif  // TJ_LAYOUT_CUH
