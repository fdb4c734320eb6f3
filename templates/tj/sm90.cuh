// tj/sm90.cuh - Hopper (sm_90a) primitives for the fast schedules: tensor
// maps and the bulk tensor copy engine (TMA, with multicast to a
// cluster), mbarriers (local and a cluster peer's), warpgroup matrix
// products (wgmma) from shared memory, register reallocation (setmaxnreg).
//
// Used by kernels that gen/schedule/gemm_sm90.c generates; a person can use
// them by hand too. Everything is guarded to sm_90+, so including this
// header for an older target compiles to nothing.
//
// Shared-memory operand layout (what TMA writes and wgmma reads): a tile
// is cut into "chunks" of 128 bytes (64 16-bit or 128 fp8 elements) along
// its contiguous dimension; a chunk is `rows` lines of 128 bytes, with the
// 16-byte pieces of each line XOR-swizzled by (line % 8) (TMA's
// SWIZZLE_128B). Chunks start at 1024-byte boundaries, so the swizzle
// pattern is the one wgmma's 128-byte-swizzle descriptors expect.
#ifndef TJ_SM90_CUH
#define TJ_SM90_CUH

#include "tj/types.cuh"

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900

namespace tj {
namespace sm90 {

// A CUtensorMap as the driver encodes it (cuTensorMapEncodeTiled): 128
// opaque bytes, 64-byte aligned; passed by value as a
// `const __grid_constant__` kernel parameter so its address is valid for
// the copy engine.
struct __align__(64) tmap {
    u64 v[16];
};

TJ_DEV u32 smem_addr(const void *p) { return (u32)__cvta_generic_to_shared(p); }

// ---- mbarriers ------------------------------------------------------------

TJ_DEV void mbar_init(u32 bar, u32 count) {
    // mbarrier.init: expected arrival count of the barrier's phases
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

// Make barrier initialization visible to the copy engine (async proxy).
TJ_DEV void fence_barrier_init() {
    // fence.mbarrier_init: orders mbarrier.init before later async-proxy use
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// Order this thread's ordinary shared-memory writes before the copy
// engine's or the tensor cores' reads (or TMA stores) of them.
TJ_DEV void fence_proxy_async() {
    // fence.proxy.async.shared::cta: generic proxy -> async proxy
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// Arrive once and add `bytes` to the transaction count the phase waits for.
TJ_DEV void mbar_expect_tx(u32 bar, u32 bytes) {
    // mbarrier.arrive.expect_tx: arrive + expect `bytes` of async copies
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
                 : "memory");
}

TJ_DEV void mbar_arrive(u32 bar) {
    // mbarrier.arrive: one arrival on the current phase
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}

// Wait until the phase with parity `parity` has completed.
TJ_DEV void mbar_wait(u32 bar, u32 parity) {
    u32 done;
    do {
        // mbarrier.try_wait.parity: true once the phase of that parity is over
        // (the hardware suspends the thread for a while before saying false)
        asm volatile(
            "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            "selp.u32 %0, 1, 0, p; }"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
    } while (!done);
}

// ---- thread-block clusters ------------------------------------------------
// A kernel launched with a cluster shape (gemm_sm90's pairs of blocks that
// share an operand tile) signals the peer's mbarriers and writes the
// peer's shared memory through the copy engine's multicast.

TJ_DEV u32 cluster_rank() {
    u32 r;
    // %cluster_ctarank: this block's rank in its cluster
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}

// Every thread of every block of the cluster: after it, what the blocks
// did before it (mbarrier.init, shared-memory writes) is visible to all.
TJ_DEV void cluster_sync() {
    // barrier.cluster.arrive.release + barrier.cluster.wait.acquire: a full cluster barrier
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// The two halves of cluster_sync, for work between them: arrive says this
// thread's earlier memory accesses are done (release), wait returns once
// every thread of the cluster has arrived and makes their accesses
// before it visible (acquire). Each thread alternates them.
TJ_DEV void cluster_arrive() {
    // barrier.cluster.arrive.release: signal, ordering this thread's earlier accesses
    asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
}
TJ_DEV void cluster_wait() {
    // barrier.cluster.wait.acquire: until every thread has arrived; their accesses visible
    asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// Four floats from offset `addr` (this block's shared address) in cluster
// block `rank`'s shared memory (distributed shared memory; rank may be
// this block's own). 16-byte aligned.
TJ_DEV void ld_shared_cluster_v4(u32 addr, u32 rank, float (&v)[4]) {
    // mapa.shared::cluster: the same offset in block `rank`'s window;
    // ld.shared::cluster.v4.f32: a 16-byte load from it
    asm volatile(
        "{ .reg .b32 ra; mapa.shared::cluster.u32 ra, %4, %5;\n"
        "ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [ra]; }"
        : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
        : "r"(addr), "r"(rank)
        : "memory");
}

// One arrival on the mbarrier at `bar` (this block's shared address) in
// cluster block `rank`'s shared memory (rank may be this block's own).
// Release at CTA scope, as CUTLASS's cluster pipelines do: what it orders
// is this warp's finished wgmma reads of a stage before the peer's copy
// engine refills it, and the peer's producer learns that from the phase
// flip; a cluster-scope release (and the producer acquiring at cluster
// scope) made every stage a round trip (H200: 128x128 GEMM tiles at half
// speed, ~0.9 us a k-step at any shape).
TJ_DEV void mbar_arrive_cluster(u32 bar, u32 rank) {
    // mapa.shared::cluster: the same offset in block `rank`'s shared memory window;
    // mbarrier.arrive.shared::cluster: a (possibly remote) arrival
    asm volatile(
        "{ .reg .b32 ra; mapa.shared::cluster.u32 ra, %0, %1;\n"
        "mbarrier.arrive.shared::cluster.b64 _, [ra]; }" ::"r"(bar),
        "r"(rank)
        : "memory");
}

// ---- the bulk tensor copy engine (TMA) -------------------------------------

TJ_DEV void tma_prefetch(const tmap *map) {
    // prefetch.tensormap: bring the descriptor into the constant cache
    asm volatile("prefetch.tensormap [%0];" ::"l"((u64)map) : "memory");
}

// Copy the box at element coordinates (c0 innermost, c1) of `map` into
// shared memory at `dst`; completion is counted on `bar` in bytes.
// Elements outside the tensor arrive as zeros (or NaN, as encoded).
TJ_DEV void tma_load_2d(u32 dst, const tmap *map, u32 bar, int c0, int c1) {
    // cp.async.bulk.tensor.2d: global (tensor map) -> shared, mbarrier completion
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
        "l"((u64)map), "r"(c0), "r"(c1), "r"(bar)
        : "memory");
}

// tma_load_2d into the shared memory of every block of the cluster whose
// bit is set in `mask`: the box lands at offset `dst` of each of them and
// each one's mbarrier at offset `bar` counts its bytes. The copy engine
// reads the box from L2 once for all of them.
TJ_DEV void tma_load_2d_multicast(u32 dst, const tmap *map, u32 bar, int c0, int c1, u16 mask) {
    // cp.async.bulk.tensor.2d ... .multicast::cluster: global -> the shared memory of
    // the blocks in ctaMask, mbarrier completion in each
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
        ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;" ::"r"(dst),
        "l"((u64)map), "r"(c0), "r"(c1), "r"(bar), "h"(mask)
        : "memory");
}

TJ_DEV void tma_load_3d(u32 dst, const tmap *map, u32 bar, int c0, int c1, int c2) {
    // cp.async.bulk.tensor.3d: as the 2-D form, one more (outer) coordinate
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3, %4}], [%5];" ::"r"(dst),
        "l"((u64)map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
        : "memory");
}

// Copy a box of shared memory at `src` to the box at element coordinates
// (c0 innermost, c1) of `map`; the parts outside the tensor are not
// written. Asynchronous: commit with bulk_commit, and wait before the
// shared memory is reused (bulk_wait_read) or the kernel ends (bulk_wait).
TJ_DEV void tma_store_2d(const tmap *map, u32 src, int c0, int c1) {
    // cp.async.bulk.tensor.2d.global.shared::cta: shared -> global (tensor map), bulk group
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];" ::"l"(
                     (u64)map),
                 "r"(c0), "r"(c1), "r"(src)
                 : "memory");
}
TJ_DEV void bulk_commit() {
    // cp.async.bulk.commit_group: close the group of bulk copies issued so far
    asm volatile("cp.async.bulk.commit_group;" ::: "memory");
}
// Wait until at most N bulk groups still read their shared memory.
template <int N>
TJ_DEV void bulk_wait_read() {
    // cp.async.bulk.wait_group.read N: sources of all but N groups consumed
    asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(N) : "memory");
}
// Wait until at most N bulk groups are pending (writes done).
template <int N>
TJ_DEV void bulk_wait() {
    // cp.async.bulk.wait_group N: all but N groups complete
    asm volatile("cp.async.bulk.wait_group %0;" ::"n"(N) : "memory");
}

// Two adjacent 16-bit elements (a, b) of storage type T, as one 32-bit
// shared-memory store.
template <class T>
TJ_DEV void st_shared_pair(u32 addr, float a, float b) {
    const u32 w = (u32)to_mem<T>(a).bits | ((u32)to_mem<T>(b).bits << 16);
    // st.shared.b32: one 32-bit word to shared memory
    asm volatile("st.shared.b32 [%0], %1;" ::"r"(addr), "r"(w) : "memory");
}

// Four floats to this block's shared memory at `addr` (16-byte aligned).
TJ_DEV void st_shared_v4(u32 addr, float a, float b, float c, float d) {
    // st.shared.v4.f32: one 16-byte store to shared memory
    asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "f"(a), "f"(b), "f"(c),
                 "f"(d)
                 : "memory");
}

// Byte offset of element (r, c) in a 128-byte-swizzled box of 64 16-bit
// columns (TMA's SWIZZLE_128B layout: the 16-byte piece c/8 of line r sits
// at piece (c/8) ^ (r%8)).
TJ_DEV u32 swizzle128_offset(int r, int c) {
    return (u32)(r * 128 + ((((c >> 3) ^ r) & 7) << 4) + (c & 7) * 2);
}

// ---- epilogue math ---------------------------------------------------------

// The logistic functions without a quotient whose denominator can
// overflow: with e = exp(-|v|) in (0, 1] the denominator 1 + e is in
// [1, 2], where the approximate division is within 2 ulp and never takes
// IEEE division's slow path (which a tile of large negative inputs hits
// in every warp). e by ex2.approx (tj::fast_exp: two instructions where
// expf's range reduction took about ten, on every element of a fused
// GEMM's tile): within about 1e-5 relative of tj::sigmoid / silu /
// gelu_tanh (the rounding of v log2 e at |v| near 88), far inside a
// 16-bit output's rounding; negative tails keep their relative accuracy
// down to where e flushes to zero (|v| > 87), NaN stays NaN.
TJ_DEV float logistic_parts(float v, float *e) {
    *e = fast_exp(-::fabsf(v));
    return __fdividef(1.0f, 1.0f + *e);   // 1 / (1 + e), e in (0, 1]
}
TJ_DEV float sigmoid(float x) {
    float e, r = logistic_parts(x, &e);
    return x >= 0.0f ? r : e * r;
}
TJ_DEV float silu(float x) { return x * sigmoid(x); }
TJ_DEV float gelu_tanh(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x * sigmoid(2.0f * u);
}

// ---- warpgroup roles -------------------------------------------------------

// Give registers back (producer warpgroup) / take them (consumers). Both
// need the kernel to start with a register cap (__launch_bounds__(NT, 1)).
template <int R>
TJ_DEV void regs_release() {
    // setmaxnreg.dec: lower this warp's register allocation to R
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(R));
}
template <int R>
TJ_DEV void regs_take() {
    // setmaxnreg.inc: raise this warp's register allocation to R
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(R));
}

// A barrier among `count` threads (a multiple of 32) under id 1..15, so
// consumer warpgroups can synchronize without the producer.
TJ_DEV void named_barrier(int id, int count) {
    // bar.sync id, count: CTA barrier on a named barrier with a thread count
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}

// ---- wgmma -----------------------------------------------------------------

// A shared-memory matrix descriptor with 128-byte swizzling: start address,
// leading-dimension byte offset (LBO) and stride-dimension byte offset
// (SBO), all >> 4, layout type 1 (SWIZZLE_128B) in bits 62-63.
//  K-major operand (rows along M or N, 64 elements of K a line):
//    SBO = 1024 (the next 8 rows), LBO unused (16); a k16 step is +32 bytes.
//  MN-major operand (lines along K, 64 elements of M or N a line):
//    SBO = 1024 (the next 8 lines of K), LBO = the chunk stride (next 64
//    of M or N); a k16 step is +2048 bytes (16 lines).
// `layout`: the descriptor's swizzle mode (bits 62-63: 1 = 128-byte, 2 =
// 64-byte lines).
TJ_DEV u64 desc_swizzled(u32 addr, u32 lbo, u32 sbo, u64 layout) {
    return (u64)((addr & 0x3FFFFu) >> 4) | ((u64)((lbo >> 4) & 0x3FFFu) << 16) |
           ((u64)((sbo >> 4) & 0x3FFFu) << 32) | (layout << 62);
}
TJ_DEV u64 desc_sw128(u32 addr, u32 lbo, u32 sbo) { return desc_swizzled(addr, lbo, sbo, 1); }

// A descriptor `off` bytes further into the same tile (off a multiple
// of 16): only the start address field, the low 14 bits of the low word,
// changes, and it cannot carry out of them (shared memory ends below
// 256 KB), so one 32-bit add does it. desc_sw128 per k-step instead
// recomputed the whole descriptor from the address (add, mask, shift,
// widen, or: five uniform-pipe instructions a wgmma).
// (In PTX: left to NVVM, the halves were recombined with masks and ors.)
TJ_DEV u64 desc_add(u64 d, u32 off) {
    u64 r;
    asm("{ .reg .b32 lo, hi; mov.b64 {lo, hi}, %1; add.u32 lo, lo, %2; mov.b64 %0, {lo, hi}; }"
        : "=l"(r) : "l"(d), "r"(off >> 4));
    return r;
}

// Make earlier register writes of the accumulators visible to wgmma.
TJ_DEV void wgmma_fence() {
    // wgmma.fence: order prior register/shared accesses before wgmma.mma_async
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
TJ_DEV void wgmma_commit() {
    // wgmma.commit_group: close the group of wgmma.mma_async issued so far
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N>
TJ_DEV void wgmma_wait() {
    // wgmma.wait_group N: wait until at most N groups are pending
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

// Pin an accumulator register in place: the compiler may not move its
// reads or writes across the asynchronous wgmma (call after wgmma_wait
// and before wgmma_fence on every accumulator).
TJ_DEV void pin(float &r) { asm volatile("" : "+f"(r)::"memory"); }
template <int N>
TJ_DEV void pin_all(float (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) pin(d[i]);
}

// Accumulator fragment of m64nN (f32): warp w of the warpgroup holds rows
// 16w .. 16w+15; register 4t+2h+c of lane l is row 16w + l/4 + 8h,
// column 8t + 2(l%4) + c (t < N/8, h and c in {0, 1}).
//
// wgmma_<type>_m64n<N>k<K><TA, TB>(d, desc_a, desc_b, accumulate):
// d (+)= A[64xK] . B[KxN]; TA / TB = 1 when A is M-major / B is N-major
// (16-bit types only, k16). The fp8 forms (e4m3, e5m2; k32) have no TA /
// TB: the instruction has no transpose for 8-bit types, both operands are
// K-major. A k32 step of fp8 is 32 bytes of K, as a k16 step of a 16-bit
// type, so the same descriptors serve (+32 bytes a step in a 128-byte
// line of 128 fp8 elements). accumulate = 0 ignores d.

template <int TA, int TB>
TJ_DEV void wgmma_bf16_m64n64k16(float (&d)[32], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16: D[64x64] (+)= A.B, A and B
    // from shared memory through descriptors, D in 32 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, %35, %36; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

template <int TA, int TB>
TJ_DEV void wgmma_f16_m64n64k16(float (&d)[32], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16: D[64x64] (+)= A.B, A and B
    // from shared memory through descriptors, D in 32 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, %35, %36; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

TJ_DEV void wgmma_e4m3_m64n64k32(float (&d)[32], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3: D[64x64] (+)= A.B, A and B
    // from shared memory through descriptors, D in 32 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
}

TJ_DEV void wgmma_e5m2_m64n64k32(float (&d)[32], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n64k32.f32.e5m2.e5m2: D[64x64] (+)= A.B, A and B
    // from shared memory through descriptors, D in 32 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k32.f32.e5m2.e5m2 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
}

template <int TA, int TB>
TJ_DEV void wgmma_bf16_m64n128k16(float (&d)[64], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16: D[64x128] (+)= A.B, A and B
    // from shared memory through descriptors, D in 64 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, %67, %68; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

template <int TA, int TB>
TJ_DEV void wgmma_f16_m64n128k16(float (&d)[64], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16: D[64x128] (+)= A.B, A and B
    // from shared memory through descriptors, D in 64 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, %67, %68; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

TJ_DEV void wgmma_e4m3_m64n128k32(float (&d)[64], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3: D[64x128] (+)= A.B, A and B
    // from shared memory through descriptors, D in 64 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
}

TJ_DEV void wgmma_e5m2_m64n128k32(float (&d)[64], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n128k32.f32.e5m2.e5m2: D[64x128] (+)= A.B, A and B
    // from shared memory through descriptors, D in 64 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e5m2.e5m2 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
}

template <int TA, int TB>
TJ_DEV void wgmma_bf16_m64n256k16(float (&d)[128], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16: D[64x256] (+)= A.B, A and B
    // from shared memory through descriptors, D in 128 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1, %131, %132; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

template <int TA, int TB>
TJ_DEV void wgmma_f16_m64n256k16(float (&d)[128], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16: D[64x256] (+)= A.B, A and B
    // from shared memory through descriptors, D in 128 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1, %131, %132; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(accumulate), "n"(TA), "n"(TB));
}

TJ_DEV void wgmma_e4m3_m64n256k32(float (&d)[128], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3: D[64x256] (+)= A.B, A and B
    // from shared memory through descriptors, D in 128 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(accumulate));
}

TJ_DEV void wgmma_e5m2_m64n256k32(float (&d)[128], u64 da, u64 db, int accumulate) {
    // wgmma.mma_async.sync.aligned.m64n256k32.f32.e5m2.e5m2: D[64x256] (+)= A.B, A and B
    // from shared memory through descriptors, D in 128 registers a thread
    asm volatile(
        "{ .reg .pred p; setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k32.f32.e5m2.e5m2 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1; }\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(accumulate));
}

}  // namespace sm90
}  // namespace tj

#endif  // sm_90+
#endif  // TJ_SM90_CUH
