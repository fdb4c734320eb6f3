// every_primitive.cu - device code that uses every primitive of the tile
// library with every dtype it takes. tests/test_templates.c compiles it
// with NVRTC from the embedded headers alone (no -I, no toolkit headers)
// for sm_80, sm_89 and sm_90a. It is not run; templates/test/check_gpu.cu
// checks the results of the same primitives on a GPU.
#include "tj/generic.cuh"

namespace {

constexpr int NT = 128;

// Storage <-> register for one dtype, scalars and tiles.
template <class T>
__device__ void use_dtype(T *p, const T *q, unsigned char *smem) {
    typedef typename tj::reg<T>::type R;
    const R x = tj::ld(q + threadIdx.x);
    tj::st(p + threadIdx.x, x);
    p[NT + threadIdx.x] = tj::to_mem<T>(tj::to_reg(q[NT + threadIdx.x]));

    const long long dims[5] = {3, 2, 100, 70, 5}, strides[5] = {70000, 35000, 350, 5, 1};
    const long long coords[5] = {1, 1, 0, 0, 2};
    tj::gview<const T> g = tj::make_gview(q, 5, dims, strides, coords, 2, 3);
    tj::gview<T> gw = tj::make_gview(p, 5, dims, strides, coords, 2, 3);
    tj::gview<const T> g1 = tj::make_gview(q, 5, dims, strides, coords, -1, 4);
    tj::gview<const T> g0 = tj::make_gview(q, 5, dims, strides, coords, -1, -1);

    const R s = tj::load_scalar(g0, 0, 0, R());
    tj::store_scalar(gw, 1, 1, s);

    tj::tile<R, 16, 32, NT> t;
    tj::load(t, g, 16, 0, R());
    tj::store(gw, 0, 32, t);
    tj::tile<R, 1, 8, NT> row;
    tj::load(row, g1, 0, 0, R());
    tj::store(gw, 5, 5, row);

    T *s_t = (T *)smem;
    tj::load_smem_g<16, 32, NT>(s_t, 32, g, 0, 0, T());
    tj::load_smem_g<16, 32, NT, 16 / (int)sizeof(T)>(s_t, 48, g, 1, 3, T());
    __syncthreads();
    tj::store_smem_g<16, 32, NT>(gw, 0, 0, (const T *)s_t, 32);
    tj::store_smem_g<16, 32, NT, 16 / (int)sizeof(T)>(gw, 16, 0, (const T *)s_t, 48);
    __syncthreads();
    tj::load_vec<16 / (int)sizeof(T)>(t, g, 2, 1, R(), s_t);
    tj::store_vec<16 / (int)sizeof(T)>(gw, 2, 1, t, s_t);

    tj::store_smem(s_t, 32, t);
    __syncthreads();
    tj::load_smem(t, (const T *)s_t, 32);
    tj::tile<R, 32, 16, NT> tt;
    tj::load_smem_t(tt, (const T *)s_t, 32);
    tj::load_smem_col(t, (const T *)s_t);
    tj::load_smem_row(t, (const T *)s_t);
    tj::load_smem_strided(t, (const T *)s_t, 0, 0);
    __syncthreads();
    tj::store(gw, 32, 0, tt);
    tj::store(gw, 32, 32, t);
}

// Exchanges and reductions for one register type (scratch of it).
template <class R, class Op>
__device__ void use_reductions(R *out, R *scratch) {
    tj::tile<R, 48, 40, NT> t;
    tj::iota<1>(t);
    tj::tile<R, 48, 1, NT> rr;
    tj::tile<R, 1, 40, NT> cc;
    tj::tile<R, 48, 40, NT> b;
    tj::reduce_rows<Op>(rr, t, scratch);
    tj::reduce_cols<Op>(cc, t, scratch);
    tj::reduce_rows_bcast<Op>(b, t, scratch);
    tj::reduce_cols_bcast<Op>(b, b, scratch);
    tj::broadcast(b, rr, scratch);
    tj::broadcast(b, cc, scratch);
    tj::tile<R, 1, 1, NT> one;
    tj::from_scalar(one, rr.v[0]);
    tj::broadcast(b, one, scratch);
    tj::tile<R, 40, 48, NT> tt;
    tj::transpose(tt, b, scratch);
    tj::tile<R, 1, 1920, NT> flat;
    tj::reshape(flat, tt);
    tj::fill(t, tj::to_scalar(one, scratch));
    TJ_SLOTS(s, flat) out[s * NT + threadIdx.x] = flat.v[s];
    TJ_SLOTS(s, t) out[4096 + s * NT + threadIdx.x] = t.v[s];
}

__device__ void use_math(float *f, int *i, long long *l, bool *b) {
    const float x = f[threadIdx.x], y = f[NT + threadIdx.x];
    float r = tj::abs(x) + tj::exp(x) + tj::exp2(x) + tj::log(x) + tj::log2(x) + tj::sqrt(x) + tj::rsqrt(x) +
              tj::recip(x) + tj::sin(x) + tj::cos(x) + tj::tanh(x) + tj::erf(x) + tj::floor(x) + tj::ceil(x) +
              tj::pow(x, y) + tj::div(x, y) + tj::max(x, y) + tj::min(x, y) + tj::fma(x, y, x) + tj::sigmoid(x) +
              tj::silu(x) + tj::gelu(x) + tj::gelu_tanh(x) + tj::relu(x);
    r += tj::fast_exp(x) + tj::fast_exp2(x) + tj::fast_log(x) + tj::fast_log2(x) + tj::fast_rsqrt(x) +
         tj::fast_recip(x) + tj::fast_sin(x) + tj::fast_cos(x) + tj::fast_tanh(x) + tj::fast_sigmoid(x) +
         tj::fast_silu(x) + tj::fast_gelu_tanh(x) + tj::lowest<float>() + tj::highest<float>();
    f[2 * NT + threadIdx.x] = r;

    const int a = i[threadIdx.x], c = i[NT + threadIdx.x];
    i[2 * NT + threadIdx.x] = tj::iadd(a, c) + tj::isub(a, c) + tj::imul(a, c) + tj::ineg(a) + tj::abs(a) +
                              tj::div(a, c) + tj::mod(a, c) + tj::cdiv(a, c) + tj::max(a, c) + tj::min(a, c) +
                              tj::lnot(a) + tj::land(a, c) + tj::lor(a, c) + tj::lxor(a, c) + tj::lowest<int>() +
                              tj::highest<int>();
    const long long u = l[threadIdx.x], v = l[NT + threadIdx.x];
    l[2 * NT + threadIdx.x] = tj::iadd(u, v) + tj::isub(u, v) + tj::imul(u, v) + tj::ineg(u) + tj::abs(u) +
                              tj::div(u, v) + tj::mod(u, v) + tj::cdiv(u, v) + tj::max(u, v) + tj::min(u, v) +
                              tj::lnot(u) + tj::land(u, v) + tj::lor(u, v) + tj::lxor(u, v) +
                              tj::lowest<long long>() + tj::highest<long long>();
    const bool p = b[threadIdx.x], q = b[NT + threadIdx.x];
    b[2 * NT + threadIdx.x] = tj::max(p, q) ^ tj::min(p, q) ^ tj::lnot(p) ^ tj::land(p, q) ^ tj::lor(p, q) ^
                              tj::lxor(p, q) ^ tj::lowest<bool>() ^ tj::highest<bool>();
}

// Every cast between register types, to every dtype.
template <class X>
__device__ void use_casts(X x, float *f, int *i, long long *l, bool *b) {
    f[threadIdx.x] += tj::cast<float>(x) + tj::cast<tj::f16>(x) + tj::cast<tj::bf16>(x) + tj::cast<tj::f8e4m3>(x) +
                      tj::cast<tj::f8e5m2>(x);
    i[threadIdx.x] += tj::cast<int>(x);
    l[threadIdx.x] += tj::cast<long long>(x);
    b[threadIdx.x] = b[threadIdx.x] ^ tj::cast<unsigned char>(x) ^ tj::cast<bool>(x);
}

template <class T, bool TA, bool TB, int PATH>
__device__ void use_mma(float *out, unsigned char *smem) {
    constexpr int M = 32, N = 24, K = 40;  // K pads to the mma shape
    tj::tile<float, TA ? K : M, TA ? M : K, NT> a;
    tj::tile<float, TB ? N : K, TB ? K : N, NT> b;
    tj::tile<float, M, N, NT> c;
    tj::iota<0>(a);
    tj::iota<1>(b);
    tj::fill(c, 0.0f);
    T *sa = (T *)smem, *sb = sa + M * K;
    float *sc = (float *)(smem + 20480);
    tj::mma<TA, TB, PATH>(c, a, b, sa, sb, sc);
    tj::mma_smem<TA, TB, K, PATH>(c, (const T *)sa, TA ? M : K, (const T *)sb, TB ? K : N, sc);
    TJ_SLOTS(s, c) out[s * NT + threadIdx.x] = c.v[s];
}

__device__ void use_mma_warp_level(float *out, unsigned char *smem) {
    const float *a = (const float *)smem, *b = a + 32 * 32;
    float *c = (float *)(smem + 8192);
    tj::mma_acc<32, 32, NT> acc;
    acc.zero();
    tj::mma_accumulate<false, true, 32>(acc, (const tj::bf16 *)a, 32, (const tj::bf16 *)b, 32);
    tj::mma_accumulate<true, false, 32>(acc, a, 32, b, 32);
    tj::mma_accumulate_x3<false, false, 32>(acc, a, 32, b, 32);
    tj::mma_accumulate<false, true, 32>(acc, (const tj::f8e4m3 *)a, 32, (const tj::f8e4m3 *)b, 32);
    tj::mma_store_smem(c, 32, acc);
    __syncthreads();
    tj::mma_load_smem(acc, c, 32);
    tj::tile<float, 32, 32, NT> t;
    tj::fill(t, 1.0f);
    tj::mma_fma<false, false, 32>(t, (const tj::f16 *)a, 32, (const tj::f16 *)b, 32);
    TJ_SLOTS(s, t) out[s * NT + threadIdx.x] = t.v[s] + acc.c[0][0][s & 3];
}

}  // namespace

extern "C" __global__ void __launch_bounds__(NT) every_dtype(float *f, const float *cf, tj::f16 *h, const tj::f16 *ch,
                                                            tj::bf16 *bh, const tj::bf16 *cbh, tj::f8e4m3 *e4,
                                                            const tj::f8e4m3 *ce4, tj::f8e5m2 *e5,
                                                            const tj::f8e5m2 *ce5, int *i, const int *ci,
                                                            long long *l, const long long *cl, unsigned char *b,
                                                            const unsigned char *cb) {
    __shared__ __align__(16) unsigned char smem[16 * 48 * 8];
    use_dtype(f, cf, smem);
    use_dtype(h, ch, smem);
    use_dtype(bh, cbh, smem);
    use_dtype(e4, ce4, smem);
    use_dtype(e5, ce5, smem);
    use_dtype(i, ci, smem);
    use_dtype(l, cl, smem);
    use_dtype(b, cb, smem);
}

extern "C" __global__ void __launch_bounds__(NT) every_reduction(float *f, int *i, long long *l, bool *b) {
    __shared__ __align__(16) unsigned char smem[(48 * 41 + 48 * 4) * 8];
    use_reductions<float, tj::sum_op>(f, (float *)smem);
    use_reductions<float, tj::max_op>(f, (float *)smem);
    use_reductions<float, tj::min_op>(f, (float *)smem);
    use_reductions<int, tj::sum_op>(i, (int *)smem);
    use_reductions<int, tj::max_op>(i, (int *)smem);
    use_reductions<long long, tj::sum_op>(l, (long long *)smem);
    use_reductions<long long, tj::min_op>(l, (long long *)smem);
    use_reductions<bool, tj::max_op>(b, (bool *)smem);
    use_reductions<bool, tj::min_op>(b, (bool *)smem);
}

extern "C" __global__ void __launch_bounds__(NT) every_math(float *f, int *i, long long *l, bool *b) {
    use_math(f, i, l, b);
    use_casts(f[threadIdx.x], f, i, l, b);
    use_casts(i[threadIdx.x], f, i, l, b);
    use_casts(l[threadIdx.x], f, i, l, b);
    use_casts((bool)b[threadIdx.x], f, i, l, b);
    f[threadIdx.x] += tj::round_to<tj::bf16>(f[threadIdx.x]) + tj::round_to<float>(f[threadIdx.x]) +
                      tj::i64_to_f32_odd(l[threadIdx.x]);
    i[threadIdx.x] += tj::f2i<int>(f[threadIdx.x]);
    l[threadIdx.x] += tj::f2i<long long>(f[threadIdx.x]);
    tj::tile<float, 16, 16, NT> t;
    tj::tile<int, 16, 16, NT> ti;
    tj::iota<0>(ti);
    tj::cast_tile<float>(t, ti);
    tj::cast_tile<tj::bf16>(t, t);
    tj::cast_tile<int>(ti, t);
    f[NT + threadIdx.x] = t.v[0] + (float)ti.v[1] + (float)tj::thread_id() + (float)tj::lane_id() +
                          (float)tj::warp_id() + tj::shfl_xor(1.0f, 1) + (float)tj::shfl_xor(1, 2) +
                          (float)tj::shfl_xor(1ll, 4) + (float)tj::shfl_xor(true, 8);
    // the names the generic emitter uses
    f[2 * NT + threadIdx.x] = tjg::exp(f[threadIdx.x]) + tjg::ld(f) + (float)tjg::f2i<int>(f[0]);
    tjg::st(b, tjg::lnot(b[0] != 0));
}

extern "C" __global__ void __launch_bounds__(NT) every_mma(float *out) {
    __shared__ __align__(16) unsigned char smem[20480 + 64 * 48 * 4];
    // every operand type and path once, every transpose combination once
    use_mma<tj::bf16, false, false, tj::MMA_TC>(out, smem);
    use_mma<tj::f16, false, true, tj::MMA_TC>(out, smem);
    use_mma<tj::f8e4m3, true, false, tj::MMA_TC>(out, smem);
    use_mma<tj::f8e5m2, true, true, tj::MMA_TC>(out, smem);
    use_mma<float, false, true, tj::MMA_TC>(out, smem);
    use_mma<float, true, false, tj::MMA_TF32X3>(out, smem);
    use_mma<tj::bf16, false, true, tj::MMA_FMA>(out, smem);
    use_mma_warp_level(out, smem);
}
