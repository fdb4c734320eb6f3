// tj/smem.cuh - moving register tiles through shared memory.
//
// Two levels:
//  - store_smem / load_smem*: one direction each, no barrier. Between a
//    store by some threads and a load by others the caller puts a
//    __syncthreads() (and another before the buffer is written again).
//  - broadcast / transpose / to_scalar: complete exchanges through a
//    scratch buffer. They write the scratch, __syncthreads(), read it and
//    __syncthreads() again, so the scratch is free when they return. They
//    hold barriers: every thread of the block must call them (never under
//    a condition that differs between threads).
//
// Shared buffers are row-major with a leading dimension `ld` in elements
// (ld >= the row length). A buffer may hold a storage type (bf16 ...) or a
// register type; elements convert on the way (to_mem / to_reg).
//
// Scratch sizes, in elements of the tile's register type, are given by the
// constexpr functions next to each exchange.
#ifndef TJ_SMEM_CUH
#define TJ_SMEM_CUH

#include "tj/layout.cuh"

namespace tj {

// buf[i*ld + j] = t(i, j), converted to T.
template <class T, class R, int M, int N, int NT>
TJ_DEV void store_smem(T *buf, int ld, const tile<R, M, N, NT> &t) {
    typedef tile<R, M, N, NT> TT;
    TJ_SLOTS(s, t) if (TT::has(s)) buf[TT::row(s) * ld + TT::col(s)] = to_mem<T>(t.v[s]);
}

// t(i, j) = buf[i*rs + j*cs]: the general read. rs = ld, cs = 1 reads a
// row-major tile; rs = 1, cs = ld its transpose; a zero stride repeats a
// row or a column (broadcast).
template <class T, class R, int M, int N, int NT>
TJ_DEV void load_smem_strided(tile<R, M, N, NT> &t, const T *buf, int rs, int cs) {
    typedef tile<R, M, N, NT> TT;
    TJ_SLOTS(s, t) t.v[s] = TT::has(s) ? to_reg(buf[TT::row(s) * rs + TT::col(s) * cs]) : R();
}

// t(i, j) = buf[i*ld + j]
template <class T, class R, int M, int N, int NT>
TJ_DEV void load_smem(tile<R, M, N, NT> &t, const T *buf, int ld) {
    load_smem_strided(t, buf, ld, 1);
}
// t(i, j) = buf[j*ld + i]: the transpose of the [N, M] tile in buf.
template <class T, class R, int M, int N, int NT>
TJ_DEV void load_smem_t(tile<R, M, N, NT> &t, const T *buf, int ld) {
    load_smem_strided(t, buf, 1, ld);
}
// t(i, j) = buf[i]: a column vector [M,1] repeated along the row.
template <class T, class R, int M, int N, int NT>
TJ_DEV void load_smem_col(tile<R, M, N, NT> &t, const T *buf) {
    load_smem_strided(t, buf, 1, 0);
}
// t(i, j) = buf[j]: a row vector [1,N] repeated down the column.
template <class T, class R, int M, int N, int NT>
TJ_DEV void load_smem_row(tile<R, M, N, NT> &t, const T *buf) {
    load_smem_strided(t, buf, 0, 1);
}

// ---- exchanges (with barriers) ---------------------------------------------

TJ_CONSTEXPR int broadcast_scratch(int im, int in) { return im * in; }

// out [M,N] = in [IM,IN] broadcast numpy-style: IM is 1 or M, IN is 1 or N.
template <class R, int M, int N, int IM, int IN, int NT>
TJ_DEV void broadcast(tile<R, M, N, NT> &out, const tile<R, IM, IN, NT> &in, R *scratch) {
    static_assert((IM == 1 || IM == M) && (IN == 1 || IN == N), "broadcast: dims must be 1 or equal");
    store_smem(scratch, IN, in);
    __syncthreads();
    load_smem_strided(out, (const R *)scratch, IM == 1 ? 0 : IN, IN == 1 ? 0 : 1);
    __syncthreads();
}

// Padding the row by one element spreads a column over all 32 banks.
TJ_CONSTEXPR int transpose_scratch(int m, int n) { return m * (n + 1); }

// out [N,M] = in [M,N] transposed.
template <class R, int M, int N, int NT>
TJ_DEV void transpose(tile<R, N, M, NT> &out, const tile<R, M, N, NT> &in, R *scratch) {
    store_smem(scratch, N + 1, in);
    __syncthreads();
    load_smem_t(out, (const R *)scratch, N + 1);
    __syncthreads();
}

TJ_CONSTEXPR int to_scalar_scratch() { return 1; }

// The one element of a [1,1] tile (held by thread 0) as a scalar in every thread.
template <class R, int NT>
TJ_DEV R to_scalar(const tile<R, 1, 1, NT> &in, R *scratch) {
    if (threadIdx.x == 0) scratch[0] = in.v[0];
    __syncthreads();
    const R x = scratch[0];
    __syncthreads();
    return x;
}

// A scalar as a [1,1] tile.
template <class R, int NT>
TJ_DEV void from_scalar(tile<R, 1, 1, NT> &out, R x) { out.v[0] = x; }

}  // namespace tj

#endif  // TJ_SMEM_CUH
