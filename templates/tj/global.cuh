// tj/global.cuh - masked tile loads and stores between global memory and
// register tiles or shared memory.
//
// A tensor has rank <= 5; a tile covers one or two of its dims (or none,
// for a scalar). The other coordinates are fixed for the access. `gview`
// is that 2-D plane: a pointer to the plane's element (0, 0), the bounds
// and strides of the two tiled dims, and whether the fixed coordinates are
// inside the tensor (when not, everything reads as pad and nothing is
// written). A 1-D tile uses rows = 1; a scalar rows = cols = 1.
//
// Element (i, j) of a tile at origin (r0, c0) is the plane's element
// (r0 + i, c0 + j); outside [0, rows) x [0, cols) it reads as `pad` and is
// never read from memory; stores skip it.
//
// Register tiles: load / store touch one element per slot; consecutive
// threads hold consecutive elements, so a warp's accesses are coalesced
// when the inner dim is contiguous.
// Shared memory: load_smem_g / store_smem_g move whole tiles with 16-byte
// vectors where the inner dim is contiguous (cs == 1) and the addresses
// are aligned (checked at run time, so the vector width V is a hint the
// emitter gives from the alignment facts it knows), element by element at
// the edges. load_vec / store_vec are register tiles through those.
#ifndef TJ_GLOBAL_CUH
#define TJ_GLOBAL_CUH

#include "tj/smem.cuh"

namespace tj {

template <class T>
struct gview {
    T *ptr;                 // the plane's element (0, 0)
    long long rows, cols;   // bounds of the tiled dims
    long long rs, cs;       // their strides, in elements
    bool ok;                // the fixed coordinates are inside the tensor

    TJ_DEV bool inside(long long r, long long c) const {
        return ok && r >= 0 && r < rows && c >= 0 && c < cols;
    }
    TJ_DEV T *at(long long r, long long c) const { return ptr + r * rs + c * cs; }
};

// The plane of a tensor (base, rank, dims, strides in elements) through
// `coords` (one per dim; the tiled ones are ignored), with its tiled dims
// ax_row and ax_col (-1 when the tile has fewer than 2 dims: ax_row = -1
// for a 1-D tile, both -1 for a scalar).
template <class T>
TJ_DEV gview<T> make_gview(T *base, int rank, const long long *dims, const long long *strides,
                           const long long *coords, int ax_row, int ax_col) {
    gview<T> g;
    long long off = 0;
    bool ok = true;
#pragma unroll
    for (int d = 0; d < 5; ++d) {
        if (d >= rank || d == ax_row || d == ax_col) continue;
        ok = ok && coords[d] >= 0 && coords[d] < dims[d];
        off += coords[d] * strides[d];
    }
    g.ptr = base + (ok ? off : 0);
    g.rows = ax_row >= 0 ? dims[ax_row] : 1;
    g.rs = ax_row >= 0 ? strides[ax_row] : 0;
    g.cols = ax_col >= 0 ? dims[ax_col] : 1;
    g.cs = ax_col >= 0 ? strides[ax_col] : 0;
    g.ok = ok;
    return g;
}

// ---- scalars -----------------------------------------------------------------

// Element (r, c) of the plane, or pad; every thread reads it.
template <class T>
TJ_DEV typename reg<T>::type load_scalar(const gview<T> &g, long long r, long long c,
                                         typename reg<T>::type pad) {
    return g.inside(r, c) ? ld(g.at(r, c)) : pad;
}
// Thread 0 writes element (r, c) when it is inside.
template <class T>
TJ_DEV void store_scalar(const gview<T> &g, long long r, long long c, typename reg<T>::type x) {
    if (threadIdx.x == 0 && g.inside(r, c)) st(g.at(r, c), x);
}

// ---- register tiles ------------------------------------------------------------

template <class T, class R, int M, int N, int NT>
TJ_DEV void load(tile<R, M, N, NT> &t, const gview<T> &g, long long r0, long long c0, R pad) {
    typedef tile<R, M, N, NT> TT;
    TJ_SLOTS(s, t) {
        const long long r = r0 + TT::row(s), c = c0 + TT::col(s);
        t.v[s] = (TT::has(s) && g.inside(r, c)) ? ld(g.at(r, c)) : pad;
    }
}

template <class T, class R, int M, int N, int NT>
TJ_DEV void store(const gview<T> &g, long long r0, long long c0, const tile<R, M, N, NT> &t) {
    typedef tile<R, M, N, NT> TT;
    TJ_SLOTS(s, t) {
        const long long r = r0 + TT::row(s), c = c0 + TT::col(s);
        if (TT::has(s) && g.inside(r, c)) st(g.at(r, c), t.v[s]);
    }
}

// ---- shared memory, vectorized ----------------------------------------------------

namespace detail {

template <int BYTES> struct vec;
template <> struct vec<16> { typedef uint4 type; };
template <> struct vec<8> { typedef uint2 type; };
template <> struct vec<4> { typedef unsigned int type; };
template <> struct vec<2> { typedef unsigned short type; };
template <> struct vec<1> { typedef unsigned char type; };

TJ_DEV bool aligned(const void *p, int bytes) {
    return ((unsigned long long)p & (unsigned long long)(bytes - 1)) == 0;
}

}  // namespace detail

// Shared [M,N] tile at s (leading dim lds, storage type T, no conversion)
// = the plane's tile at (r0, c0), pad outside. V elements per vector
// (V * sizeof(T) in {2, 4, 8, 16}; N % V == 0); V = 1 copies elements.
// No barrier: __syncthreads() before other threads read s.
template <int M, int N, int NT, int V = 1, class T>
TJ_DEV void load_smem_g(typename unconst<T>::type *s, int lds, const gview<T> &g, long long r0,
                        long long c0, typename unconst<T>::type pad) {
    static_assert(N % V == 0, "load_smem_g: V must divide N");
    constexpr int CPR = N / V, CHUNKS = M * CPR;
    typedef typename detail::vec<(int)sizeof(T) * V>::type vt;
#pragma unroll
    for (int q0 = 0; q0 < CHUNKS; q0 += NT) {
        const int q = q0 + (int)threadIdx.x;
        if (q < CHUNKS) {
            const int i = q / CPR, j = (q % CPR) * V;
            const long long r = r0 + i, c = c0 + j;
            typename unconst<T>::type *dst = s + i * lds + j;
            const T *src = g.at(r, c);
            if (V > 1 && g.cs == 1 && g.inside(r, c) && g.inside(r, c + V - 1) &&
                detail::aligned(src, sizeof(vt)) && detail::aligned(dst, sizeof(vt))) {
                *(vt *)dst = *(const vt *)src;
            } else {
#pragma unroll
                for (int u = 0; u < V; ++u) dst[u] = g.inside(r, c + u) ? g.at(r, c + u)[0] : pad;
            }
        }
    }
}

// The plane's tile at (r0, c0) = shared [M,N] tile at s; elements outside
// the tensor are skipped. Call after a barrier that orders the writes to s.
template <int M, int N, int NT, int V = 1, class T>
TJ_DEV void store_smem_g(const gview<T> &g, long long r0, long long c0, const T *s, int lds) {
    static_assert(N % V == 0, "store_smem_g: V must divide N");
    constexpr int CPR = N / V, CHUNKS = M * CPR;
    typedef typename detail::vec<(int)sizeof(T) * V>::type vt;
#pragma unroll
    for (int q0 = 0; q0 < CHUNKS; q0 += NT) {
        const int q = q0 + (int)threadIdx.x;
        if (q < CHUNKS) {
            const int i = q / CPR, j = (q % CPR) * V;
            const long long r = r0 + i, c = c0 + j;
            const T *src = s + i * lds + j;
            T *dst = g.at(r, c);
            if (V > 1 && g.cs == 1 && g.inside(r, c) && g.inside(r, c + V - 1) &&
                detail::aligned(src, sizeof(vt)) && detail::aligned(dst, sizeof(vt))) {
                *(vt *)dst = *(const vt *)src;
            } else {
#pragma unroll
                for (int u = 0; u < V; ++u)
                    if (g.inside(r, c + u)) g.at(r, c + u)[0] = src[u];
            }
        }
    }
}

// Register tile loaded with V-wide vectors through scratch (M*N elements
// of T, 16-byte aligned). Barriers inside.
template <int V, class T, class R, int M, int N, int NT>
TJ_DEV void load_vec(tile<R, M, N, NT> &t, const gview<T> &g, long long r0, long long c0, R pad,
                     typename unconst<T>::type *scratch) {
    typedef typename unconst<T>::type U;
    load_smem_g<M, N, NT, V>(scratch, N, g, r0, c0, to_mem<U>(pad));
    __syncthreads();
    load_smem(t, (const U *)scratch, N);
    __syncthreads();
}

// Register tile stored with V-wide vectors through scratch (M*N elements
// of T, 16-byte aligned). Barriers inside.
template <int V, class T, class R, int M, int N, int NT>
TJ_DEV void store_vec(const gview<T> &g, long long r0, long long c0, const tile<R, M, N, NT> &t,
                      T *scratch) {
    store_smem(scratch, N, t);
    __syncthreads();
    store_smem_g<M, N, NT, V>(g, r0, c0, (const T *)scratch, N);
    __syncthreads();
}

}  // namespace tj

#endif  // TJ_GLOBAL_CUH
