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
//   ldv_l2 / stv_l2(.., pol)  the same with an L2 policy (l2_evict_last(),
//                             l2_evict_first(): the two-pass walk)
//   aligned16(p)              whether p may be used by ldv / stv
//   shift_range, ldv_at       rows that start between 16-byte boundaries (below)
//   to_chunk(T{}, v)          a chunk from V register values (16-bit floats a pair at a time)
//   renew(chunks)             forget what is known of held chunks (see below)
//   packed_max<MIN>(chunks)   max (min) of chunks of 16-bit floats, as f32
//   group_reduce<Op, TR>(x, part)   Op over the TR threads of x's row group
//   sum_op, max_op, min_op    as tj/reduce.cuh's (float sums in f32, integer
//                             sums wrap, max/min of floats ignore NaN)
//   cluster_reduce<Op, TR, CL, FIRST>(x, part, xch)   (sm_90+) Op over a row
//                             split across the CL blocks of a cluster
//   cluster_exchange<Op, TR, CL, FIRST>(x, xch)       (sm_90+) the same of
//                             values already reduced in each block
//   pair, pair_op             a slice's (max, sum of exp(x - max)), combined
//                             (pair_reduce<TR> combines a group's)
//   cluster_rank(), cluster_arrive_relaxed()          (sm_90+)
//   sview<T, V, TR>           a thread's chunks of a row staged in shared memory
//   stage_init / stage_issue / stage_wait             (sm_90+) a row copied into
//                             shared memory by the bulk copy engine, an mbarrier a buffer
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

// A chunk from its elements' register values (the tag's type T): 16-bit
// floats converted two at a time (cvt.rn.bf16x2.f32 / cvt.rn.f16x2.f32:
// one instruction a pair, rounded as to_mem rounds each), anything else
// element by element.
template <class T, int V>
TJ_DEV chunk<T, V> to_chunk(T, const typename reg<T>::type (&v)[V]) {
    chunk<T, V> r;
#pragma unroll
    for (int u = 0; u < V; ++u) r.t[u] = to_mem<T>(v[u]);
    return r;
}
// Two f32 to a word of 16-bit floats: lo to the lower half.
TJ_DEV u32 cvt_pair(bf16, float lo, float hi) {
    u32 r;
    // cvt.rn.bf16x2.f32 d, a, b: a to the upper half, b to the lower
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
TJ_DEV u32 cvt_pair(f16, float lo, float hi) {
    u32 r;
    // cvt.rn.f16x2.f32 d, a, b: a to the upper half, b to the lower
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
template <class T, int V>
TJ_DEV chunk<T, V> to_chunk_pairs(const float (&v)[V]) {
    static_assert(V % 2 == 0, "pairs");
    chunk<T, V> r;
#pragma unroll
    for (int i = 0; i < V / 2; ++i) r.w[i] = cvt_pair(T{}, v[2 * i], v[2 * i + 1]);
    return r;
}
template <int V>
TJ_DEV chunk<bf16, V> to_chunk(bf16, const float (&v)[V]) { return to_chunk_pairs<bf16>(v); }
template <int V>
TJ_DEV chunk<f16, V> to_chunk(f16, const float (&v)[V]) { return to_chunk_pairs<f16>(v); }

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

// The max (MIN: the min) of C chunks of 16-bit floats as f32, taken
// pairwise in the storage type (max.bf16x2 / max.f16x2: exact, as the
// conversion keeps order, and a NaN loses to a number as fmaxf's does),
// converted once at the end: no f32 copy of the row is made, which the
// two-pass walk's 64-register budget needs (an f32 max over 64 elements
// a thread spilled 136 bytes there; this, none).
TJ_DEV u32 max2(bf16, u32 a, u32 b, bool mn) {
    u32 d;
    if (mn) asm("min.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    else asm("max.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}
TJ_DEV u32 max2(f16, u32 a, u32 b, bool mn) {
    u32 d;
    if (mn) asm("min.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    else asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}
template <bool MIN, class T, int V, int C>
TJ_DEV float packed_max(const chunk<T, V> (&c)[C]) {
    u32 m = c[0].w[0];
#pragma unroll
    for (int i = 0; i < C; ++i)
#pragma unroll
        for (int q = 0; q < chunk<T, V>::WORDS; ++q) m = max2(T{}, m, c[i].w[q], MIN);
    T lo, hi;
    lo.bits = (u16)(m & 0xffffu);
    hi.bits = (u16)(m >> 16);
    const float a = to_reg(lo), b = to_reg(hi);
    return MIN ? tj::min(a, b) : tj::max(a, b);
}

// The same of a thread's C chunks of a row staged in shared memory.
template <class T, int V, int TR>
struct sview;
template <bool MIN, int C, class T, int V, int TR>
TJ_DEV float packed_max(const sview<T, V, TR> &s) {
    chunk<T, V> c[C];
#pragma unroll
    for (int i = 0; i < C; ++i) c[i] = s[i];
    return packed_max<MIN>(c);
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

// L2 policies for the two-pass walk (gen/schedule/rows_twopass.c): a row
// read twice is kept in L2 between its reads (evict_last), and its second
// read and the output leave first (evict_first), so the stream of other
// rows does not push the kept rows out before they are read again.
TJ_DEV u64 l2_evict_last() {
    u64 p;
    // createpolicy.fractional.L2::evict_last: every access it marks kept before other lines
    asm("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(p));
    return p;
}
TJ_DEV u64 l2_evict_first() {
    u64 p;
    // createpolicy.fractional.L2::evict_first: every access it marks evicted first
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(p));
    return p;
}

// ldv<T, V, 2> with an L2 cache policy (l2_evict_last / l2_evict_first).
template <class T, int V>
TJ_DEV chunk<T, V> ldv_l2(const T *p, u64 pol) {
    chunk<T, V> c;
#pragma unroll
    for (int q = 0; q < chunk<T, V>::WORDS; q += 4) {
        const void *a = (const char *)p + 4 * q;
        // ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32: 16 bytes past L1, `pol` in L2
        asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
                     : "=r"(c.w[q]), "=r"(c.w[q + 1]), "=r"(c.w[q + 2]), "=r"(c.w[q + 3])
                     : "l"(a), "l"(pol));
    }
    return c;
}

// stv with an L2 cache policy.
template <class T, int V>
TJ_DEV void stv_l2(T *p, const chunk<T, V> &c, u64 pol) {
#pragma unroll
    for (int q = 0; q < chunk<T, V>::WORDS; q += 4) {
        void *a = (char *)p + 4 * q;
        // st.global.L2::cache_hint.v4.u32: 16 bytes, `pol` in L2
        asm volatile("st.global.L2::cache_hint.v4.u32 [%0], {%1, %2, %3, %4}, %5;"
                     :
                     : "l"(a), "r"(c.w[q]), "r"(c.w[q + 1]), "r"(c.w[q + 2]), "r"(c.w[q + 3]),
                       "l"(pol)
                     : "memory");
    }
}

// ---- shifted rows (gen/schedule/rows.h) --------------------------------------
//
// Where a row starts between 16-byte boundaries, chunk c of a lane holds
// the columns j0 - sh .. j0 - sh + V - 1 (j0 = (lane + c * TR) * V, sh
// the row's phase): the chunk is read at p + j0, p the row's column 0
// less sh, so the row's own tensor is read in aligned 16-byte blocks.
//
//   shift_range<V, ES>(...)   the chunks (j0 in [lo, hi - V]) of another
//                             phase's loads that may use 16-byte accesses
//   ldv_at / ldv_l2_at(p, m..)  a chunk m bytes past a 16-byte boundary
//                             (another tensor's phase: a norm's weight row)
//   pad_outside(c, j, W, pad)  a chunk's columns outside the row set to pad
//   stv_part(p, c, j, lo, hi)  a chunk's columns inside [lo, hi) stored one by one

// lo, hi for the loads of a row of W columns at p in another phase than
// the anchor's (element offset `off` in its tensor of `span` elements;
// m = p's bytes past a 16-byte boundary, ES the element size): with m ==
// 0 the chunks that reach into the row (their one block also holds a
// neighbour's columns, padded by the caller), else those wholly inside it
// (two blocks a chunk); their blocks inside the tensor. ok == false: none.
template <int V, int ES>
TJ_DEV void shift_range(bool ok, long long off, long long span, int sh, u32 m, int W, int &lo,
                        int &hi) {
    lo = W + 2 * V;
    hi = 0;
    if (!ok) return;
    long long l = m ? sh : sh - V + 1, h = m ? W + sh : W + sh + V - 1;
    const long long b = off - (long long)(m / ES);  // the first block's element offset
    const long long extra = m ? 16 / ES : 0;         // the second block's elements
    if (-b > l) l = -b;
    if (span - b - extra < h) h = span - b - extra;
    lo = l > W + 2 * V ? W + 2 * V : (int)l;
    hi = h < 0 ? 0 : (int)h;
}

// An element's bits (pad_outside).
TJ_DEV u64 elem_bits(bf16 v) { return v.bits; }
TJ_DEV u64 elem_bits(f16 v) { return v.bits; }
TJ_DEV u64 elem_bits(f8e4m3 v) { return v.bits; }
TJ_DEV u64 elem_bits(f8e5m2 v) { return v.bits; }
TJ_DEV u64 elem_bits(float v) { return __float_as_uint(v); }
TJ_DEV u64 elem_bits(int v) { return (u32)v; }
TJ_DEV u64 elem_bits(long long v) { return (u64)v; }
TJ_DEV u64 elem_bits(unsigned char v) { return v; }

// The elements of chunk c that lie outside the row (c holds columns j ..
// j + V - 1 of a row of W) set to `pad`, as the element path leaves them:
// a chunk at a row's end read whole holds a neighbour's columns. Word by
// word: the chunk came in through its words (ldv), and writing
// some elements through t[] left the others undefined to NVCC (read as 0
// on an H200: the union's other member).
template <class T, int V>
TJ_DEV void pad_outside(chunk<T, V> &c, int j, int W, T pad) {
    constexpr int ES = (int)sizeof(T);
    const u64 pb = elem_bits(pad);
    if (ES == 8) {
#pragma unroll
        for (int u = 0; u < V; ++u)
            if ((unsigned)(j + u) >= (unsigned)W) c.w[2 * u] = (u32)pb, c.w[2 * u + 1] = (u32)(pb >> 32);
        return;
    }
    constexpr int E = ES == 8 ? 1 : 4 / ES;  // elements a word
    const u32 fill = (u32)pb * (ES == 1 ? 0x01010101u : ES == 2 ? 0x00010001u : 1u);
    const u32 one = ES == 1 ? 0xffu : ES == 2 ? 0xffffu : 0xffffffffu;
#pragma unroll
    for (int q = 0; q < chunk<T, V>::WORDS; ++q) {
        u32 keep = 0;
#pragma unroll
        for (int u = 0; u < E; ++u)
            if ((unsigned)(j + q * E + u) < (unsigned)W) keep |= one << (8 * ES * u);
        c.w[q] = (c.w[q] & keep) | (fill & ~keep);
    }
}

// The elements u of chunk c with lo <= j + u < hi stored at p + u, one by
// one (a chunk at a row's end, or in another phase than the anchor's).
template <class T, int V>
TJ_DEV void stv_part(T *p, const chunk<T, V> &c, int j, int lo, int hi) {
    constexpr int ES = (int)sizeof(T);
#pragma unroll
    for (int u = 0; u < V; ++u) {
        if (j + u < lo || j + u >= hi) continue;
        if (ES == 1) ((u8 *)p)[u] = (u8)(c.w[u / 4] >> (8 * (u % 4)));
        else if (ES == 2) ((u16 *)p)[u] = (u16)(c.w[u / 2] >> (16 * (u % 2)));
        else if (ES == 4) ((u32 *)p)[u] = c.w[u];
        else ((u64 *)p)[u] = (u64)c.w[2 * u] | (u64)c.w[2 * u + 1] << 32;
    }
}

// Bit k set where slot k of lane l (chunk k / V, element k % V, l = cb +
// lane) holds a column of the row: (l + (k / V) * TR) * V + k % V - sh in
// [0, W). One register for a row's column tests (C * V <= 64).
template <int C, int V, int TR>
TJ_DEV u64 in_mask(int l, int sh, int W) {
    static_assert(C * V <= 64 && V <= 16, "slots");
    u64 m = 0;
#pragma unroll
    for (int c = 0; c < C; ++c) {
        const int j = (l + c * TR) * V - sh;
        int lo = -j, hi = W - j;
        lo = lo < 0 ? 0 : lo > V ? V : lo;
        hi = hi < 0 ? 0 : hi > V ? V : hi;
        const u32 bits = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
        m |= (u64)bits << (c * V);
    }
    return m;
}

// The chunk at p from the aligned words a[] of the blocks around it: its
// bytes start m (0..15, a multiple of the element size) into a[0]. Two
// selects a word by m's word bits, then a funnel shift by its half word.
template <class T, int V>
TJ_DEV chunk<T, V> shift_words(const u32 *a, u32 m) {
    constexpr int WD = chunk<T, V>::WORDS;
    u32 b[WD + 3], c[WD + 1];
    const bool s1 = (m & 4u) != 0, s2 = (m & 8u) != 0;
#pragma unroll
    for (int i = 0; i < WD + 3; ++i) b[i] = s1 ? a[i + 1] : a[i];
#pragma unroll
    for (int i = 0; i < WD + 1; ++i) c[i] = s2 ? b[i + 2] : b[i];
    chunk<T, V> r;
    const u32 sh = (m & 3u) * 8u;
#pragma unroll
    for (int i = 0; i < WD; ++i) r.w[i] = __funnelshift_r(c[i], c[i + 1], sh);
    return r;
}

// ldv<T, V, NC> of a chunk m bytes past a 16-byte boundary (m the same in
// every lane of a row: a uniform branch): the blocks that hold it, shifted.
template <class T, int V, int NC>
TJ_DEV chunk<T, V> ldv_at(const T *p, u32 m) {
    if (m == 0) return ldv<T, V, NC>(p);
    constexpr int E = 16 / (int)sizeof(T);
    const chunk<T, V + E> a = ldv<T, V + E, NC>((const T *)((const char *)p - m));
    return shift_words<T, V>(a.w, m);
}
template <class T, int V>
TJ_DEV chunk<T, V> ldv_l2_at(const T *p, u32 m, u64 pol) {
    if (m == 0) return ldv_l2<T, V>(p, pol);
    constexpr int E = 16 / (int)sizeof(T);
    const chunk<T, V + E> a = ldv_l2<T, V + E>((const T *)((const char *)p - m), pol);
    return shift_words<T, V>(a.w, m);
}

// ---- rows staged in shared memory -------------------------------------------

// The chunks of one lane of a row held in shared memory in the register
// layout (chunk c of lane l at chunk index l + c * TR of the block's
// slice): v[c] reads chunk c as 16-byte words at each use, so a staged row
// takes no registers between uses (a barrier makes the compiler read it
// again), and repeated reads of one chunk between barriers merge.
template <class T, int V, int TR>
struct sview {
    const chunk<T, V> *p;  // this lane's chunk 0
    // One ld.shared.v4 a 16 bytes: the empty asm takes all four words, so
    // the compiler loads them at once. (Without it the read was split into
    // the pieces each use needs, 4 ld.shared.u32 or 8 ld.shared.v2.u16 a
    // chunk: 4-8 times the instructions and 4-way bank conflicts.) Not
    // volatile: repeated reads of a chunk between barriers still merge.
    TJ_DEV chunk<T, V> operator[](int c) const {
        chunk<T, V> r;
        const uint4 *q = (const uint4 *)(p + c * TR);
#pragma unroll
        for (int i = 0; i < chunk<T, V>::WORDS / 4; ++i) {
            uint4 v = q[i];
            asm("" : "+r"(v.x), "+r"(v.y), "+r"(v.z), "+r"(v.w));
            r.w[4 * i] = v.x, r.w[4 * i + 1] = v.y, r.w[4 * i + 2] = v.z, r.w[4 * i + 3] = v.w;
        }
        return r;
    }
};
// Nothing to forget: the row is in shared memory, not in registers.
template <class T, int V, int TR>
TJ_DEV void renew(const sview<T, V, TR> &) {}

// Elements of a row's slice that lie inside the row: n clamped to 0..sl.
TJ_DEV int slice_len(long long n, int sl) { return n < 0 ? 0 : n < sl ? (int)n : sl; }

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
TJ_DEV u32 smem_u32(const void *p) { return (u32)__cvta_generic_to_shared(p); }

// n mbarriers, each completing a phase after `count` arrivals and the bytes
// they announce; by one thread, before a barrier that publishes them.
TJ_DEV void stage_init(u64 *bar, int n, u32 count) {
    for (int i = 0; i < n; ++i)
        // mbarrier.init: the expected arrival count of each phase
        asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar + i)), "r"(count)
                     : "memory");
    // fence.mbarrier_init: the inits before the copy engine's (and peers') use
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// Order this thread's ordinary writes to shared memory before later bulk
// copies into the same bytes (the element path writes a buffer the copy
// engine fills again later).
TJ_DEV void fence_proxy_async() {
    // fence.proxy.async.shared::cta: generic proxy -> async proxy
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// An L2 policy for rows read once: evict them first.
TJ_DEV u64 policy_evict_first() {
    u64 pol;
    // createpolicy.fractional.L2::evict_first: every line of the access evict-first
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
    return pol;
}

// Called by the 32 lanes of one warp: copy the first n elements of src
// into dst rounded down to whole 16-byte pieces (both 16-byte aligned), in
// pieces of PIECE bytes spread over the lanes, completing on *bar (one
// arrival; with nothing to copy a plain arrival). The rest of the n
// elements are the reader's to fill (the element path).
template <class T, bool HINT>
TJ_DEV void stage_issue(T *dst, const T *src, int n, u64 *bar, int lane, u64 pol) {
    constexpr u32 PIECE = 8192;
    const u32 bytes = (u32)n * (u32)sizeof(T) & ~15u;
    const u32 b = smem_u32(bar), d = smem_u32(dst);
    if (lane == 0) {
        if (bytes)
            // mbarrier.arrive.expect_tx: arrive and expect `bytes` from the copy engine
            asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(b), "r"(bytes)
                         : "memory");
        else
            // mbarrier.arrive: one arrival, nothing to wait for
            asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(b) : "memory");
    }
    __syncwarp();
    for (u32 off = (u32)lane * PIECE; off < bytes; off += 32 * PIECE) {
        const u32 len = bytes - off < PIECE ? bytes - off : PIECE;
        const char *s = (const char *)src + off;
        if (HINT)
            // cp.async.bulk global -> shared, completing on the mbarrier, with an L2 policy
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
                         ".L2::cache_hint [%0], [%1], %2, [%3], %4;" ::"r"(d + off),
                         "l"(s), "r"(len), "r"(b), "l"(pol)
                         : "memory");
        else
            // cp.async.bulk global -> shared, completing on the mbarrier
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
                         " [%0], [%1], %2, [%3];" ::"r"(d + off),
                         "l"(s), "r"(len), "r"(b)
                         : "memory");
    }
}

// Wait until the phase of parity `parity` of *bar has completed. (sm90.cuh's
// mbar_wait is the same loop; it is not included here so that every rows
// kernel does not parse the Hopper header: cold compiles count.)
TJ_DEV void stage_wait(u64 *bar, u32 parity) {
    const u32 b = smem_u32(bar);
    u32 done;
    do {
        // mbarrier.try_wait.parity: true once that phase is over (the thread
        // is suspended a while before a false answer)
        asm volatile(
            "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            "selp.u32 %0, 1, 0, p; }"
            : "=r"(done)
            : "r"(b), "r"(parity)
            : "memory");
    } while (!done);
}
#endif

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

// A slice of a row (a block's, or a thread's part of it): its max m and
// the sum s of exp(x - m) over it. pair_op combines two: the larger max h,
// the other's sum rescaled to it by one exp2 of (its max - h) log2e (two
// slices of -inf: max -inf, sum 0). Symmetric to the bit (a + b = b + a,
// equal maxes rescale by nothing), so a butterfly gives every lane the
// same. ex2.approx (relative error 2^-22) rather than expf: an exact expf
// is 10 instructions and this runs once a group of a two-pass walk and
// 16 times in a row on the walk's critical path (pair_reduce).
// gen/schedule/rows_pair.c says why pairs.
struct pair {
    float m, s;
};
TJ_DEV float pair_scale(float s, float m, float h) {
    return m == h ? s : s * fast_exp2((m - h) * 1.4426950408889634f);
}
struct pair_op {
    static TJ_DEV pair apply(pair a, pair b) {
        const bool ah = a.m >= b.m;
        const pair h = ah ? a : b, l = ah ? b : a;
        return pair{h.m, h.s + pair_scale(l.s, l.m, h.m)};
    }
};
TJ_DEV pair shfl_xor(pair v, int m) { return pair{shfl_xor(v.m, m), shfl_xor(v.s, m)}; }

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

// group_reduce<pair_op, TR> in two sweeps rather than a chain of
// pair_op: the group's max first (a max butterfly, then the warps' maxes
// in order), then every slice's sum rescaled to it once and summed (a sum
// butterfly, then the warps' in order): one exp2 a thread and TR/32 for
// the warps, all independent, where the chain had two exps a step in a
// row (log2(32) + TR/32 - 1 steps). Same bits in every thread of the
// group. TR > 32: as group_reduce (one barrier inside; `part` NT/32
// pairs used by this call only).
template <int TR>
TJ_DEV pair pair_reduce(pair x, pair *part) {
    constexpr int L = TR < 32 ? TR : 32;
    float m = x.m;
#pragma unroll
    for (int k = L / 2; k >= 1; k /= 2) m = tj::max(m, shfl_xor(m, k));
    float s = pair_scale(x.s, x.m, m);
#pragma unroll
    for (int k = L / 2; k >= 1; k /= 2) s += shfl_xor(s, k);
    if (TR > 32) {
        constexpr int NW = TR / 32;
        const int warp = (int)threadIdx.x / 32;
        if ((threadIdx.x & 31) == 0) part[warp] = pair{m, s};
        __syncthreads();
        const int w0 = warp / NW * NW;
        m = part[w0].m;
#pragma unroll
        for (int q = 1; q < NW; ++q) m = tj::max(m, part[w0 + q].m);
        s = 0.0f;
#pragma unroll
        for (int q = 0; q < NW; ++q) s += pair_scale(part[w0 + q].s, part[w0 + q].m, m);
    }
    return pair{m, s};
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
TJ_DEV R cluster_exchange(R x, R *xch) {
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
template <class Op, int TR, int CL, bool FIRST, class R>
TJ_DEV R cluster_reduce(R x, R *part, R *xch) {
    return cluster_exchange<Op, TR, CL, FIRST>(group_reduce<Op, TR>(x, part), xch);
}

#endif

}  // namespace rows
}  // namespace tj

#endif  // TJ_ROWS_CUH
