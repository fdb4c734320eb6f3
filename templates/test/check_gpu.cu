// check_gpu.cu - runs every tile-library primitive on a GPU and compares
// with CPU references (the interpreter's conversions from gen/dtype.c).
//
//   nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I templates \
//        templates/test/check_gpu.cu gen/dtype.c gen/error.c -Iinclude -Igen -o check_gpu
//   ./check_gpu          # prints one line per check, exit 1 on any failure
//
// (gen/*.c compile as C with a C compiler: see templates/test/run_check.sh.)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tj/tj.cuh"

extern "C" {
float ir_bf16_to_f32(uint16_t h);
uint16_t ir_f32_to_bf16(float f);
float ir_f16_to_f32(uint16_t h);
uint16_t ir_f32_to_f16(float f);
float ir_e4m3_to_f32(uint8_t b);
uint8_t ir_f32_to_e4m3(float f);
float ir_e5m2_to_f32(uint8_t b);
uint8_t ir_f32_to_e5m2(float f);
int tj_convert(int dst_type, void *dst, int src_type, const void *src, size_t n);
}
enum { D_F32 = 0, D_F16, D_BF16, D_E4M3, D_E5M2, D_I32, D_I64, D_BOOL };

static int failures = 0;
#define CK(call)                                                                          \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                          \
            printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(2);                                                                      \
        }                                                                                 \
    } while (0)

static void report(bool ok, const char *what, const char *fmt = "", double a = 0, double b = 0) {
    printf("%s %s", ok ? "ok  " : "FAIL", what);
    if (*fmt) {
        printf("  ");
        printf(fmt, a, b);
    }
    printf("\n");
    fflush(stdout);
    if (!ok) failures++;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32() {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}
static float unif(float lo, float hi) { return lo + (hi - lo) * (rnd32() >> 8) * (1.0f / 16777216.0f); }

template <class T> static T *dev_copy(const std::vector<T> &h) {
    T *d;
    CK(cudaMalloc(&d, h.size() * sizeof(T) + 16));
    CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
template <class T> static std::vector<T> host_copy(const T *d, size_t n) {
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// ---- conversions -------------------------------------------------------------

__global__ void k_fp8_exhaustive(unsigned long long base, unsigned int *bad, unsigned int *first) {
    const unsigned long long i = base + blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    const float x = __uint_as_float((unsigned)i);
    const tj::u8 soft = tj::f32_to_e4m3_soft(x);
    tj::u16 hw;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(hw) : "f"(0.0f), "f"(x));
    if (soft != (hw & 0xff)) {
        if (atomicAdd(&bad[0], 1u) == 0) first[0] = (unsigned)i;
    }
    // e5m2 hardware saturates; with overflow -> inf it must equal the software one.
    tj::u16 hw5;
    asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(hw5) : "f"(0.0f), "f"(x));
    tj::u8 h5 = hw5 & 0xff;
    const float a = fabsf(x);
    if (a >= 61440.0f && !(a != a)) h5 = (h5 & 0x80) | 0x7c;
    if (tj::f32_to_e5m2_soft(x) != h5) {
        if (atomicAdd(&bad[1], 1u) == 0) first[1] = (unsigned)i;
    }
}

__global__ void k_conv(const float *x, int n, unsigned short *bf, unsigned short *hf, unsigned char *e4,
                       unsigned char *e5, int *i32, long long *i64, float *back) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    bf[i] = tj::to_mem<tj::bf16>(x[i]).bits;
    hf[i] = tj::to_mem<tj::f16>(x[i]).bits;
    e4[i] = tj::to_mem<tj::f8e4m3>(x[i]).bits;
    e5[i] = tj::to_mem<tj::f8e5m2>(x[i]).bits;
    i32[i] = tj::cast<int>(x[i]);
    i64[i] = tj::cast<long long>(x[i]);
    if (i < 65536) {
        back[4 * i + 0] = tj::to_reg(tj::bf16{(tj::u16)i});
        back[4 * i + 1] = tj::to_reg(tj::f16{(tj::u16)i});
        back[4 * i + 2] = tj::to_reg(tj::f8e4m3{(tj::u8)(i & 255)});
        back[4 * i + 3] = tj::to_reg(tj::f8e5m2{(tj::u8)(i & 255)});
    }
}

__global__ void k_int_to_float(const long long *x, int n, unsigned short *bf, unsigned char *e4, float *f32,
                               unsigned short *bf32) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    bf[i] = tj::to_mem<tj::bf16>(tj::cast<tj::bf16>(x[i])).bits;
    e4[i] = tj::to_mem<tj::f8e4m3>(tj::cast<tj::f8e4m3>(x[i])).bits;
    f32[i] = tj::cast<float>(x[i]);
    bf32[i] = tj::to_mem<tj::bf16>(tj::cast<tj::bf16>((int)x[i])).bits;
}

static bool same_bits_or_nan(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub;
}

static void check_conversions() {
    unsigned int *bad, *first;
    CK(cudaMalloc(&bad, 8));
    CK(cudaMalloc(&first, 8));
    CK(cudaMemset(bad, 0, 8));
    const unsigned long long chunk = 1ull << 30;
    for (unsigned long long base = 0; base < (1ull << 32); base += chunk)
        k_fp8_exhaustive<<<(unsigned)(chunk / 256), 256>>>(base, bad, first);
    CK(cudaDeviceSynchronize());
    auto b = host_copy(bad, 2), f = host_copy(first, 2);
    report(b[0] == 0, "e4m3 software encoder == cvt.rn.satfinite.e4m3x2 on all 2^32 f32", "bad %.0f first bits %.0f", b[0], f[0]);
    report(b[1] == 0, "e5m2 software encoder == cvt.rn.satfinite.e5m2x2 (+inf fix) on all 2^32 f32", "bad %.0f first bits %.0f", b[1], f[1]);

    const int n = 1 << 22;
    std::vector<float> x(n);
    for (int i = 0; i < n; i++) {
        uint32_t u = rnd32();
        if (i % 4 == 1) u = (u & 0x87ffffffu) | 0x38000000u;  // around 2^-15 .. 2^16: fp8 ranges
        if (i % 4 == 2) u = (u & 0x83ffffffu) | 0x3c000000u;  // around 1
        memcpy(&x[i], &u, 4);
    }
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 448.0f, 464.0f, 464.1f, 480.0f, 57344.0f,
                              61439.0f, 61440.0f, 65504.0f, 65520.0f, 1e-9f, 0.0009765625f, 0.001953125f,
                              0.0029296875f, 3e9f, -3e9f, 1e20f, -1e20f, 2147483648.0f, 9.3e18f, -9.3e18f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) x[i] = specials[i];
    float *dx = dev_copy(x);
    unsigned short *dbf, *dhf;
    unsigned char *de4, *de5;
    int *di32;
    long long *di64;
    float *dback;
    CK(cudaMalloc(&dbf, n * 2));
    CK(cudaMalloc(&dhf, n * 2));
    CK(cudaMalloc(&de4, n));
    CK(cudaMalloc(&de5, n));
    CK(cudaMalloc(&di32, n * 4));
    CK(cudaMalloc(&di64, n * 8));
    CK(cudaMalloc(&dback, 65536 * 16));
    k_conv<<<n / 256, 256>>>(dx, n, dbf, dhf, de4, de5, di32, di64, dback);
    CK(cudaDeviceSynchronize());
    auto bf = host_copy(dbf, n), hf = host_copy(dhf, n);
    auto e4 = host_copy(de4, n), e5 = host_copy(de5, n);
    auto i32 = host_copy(di32, n);
    auto i64 = host_copy(di64, n);
    auto back = host_copy(dback, 65536 * 4);
    std::vector<uint16_t> rbf(n), rhf(n);
    std::vector<uint8_t> re4(n), re5(n);
    std::vector<int32_t> ri32(n);
    std::vector<int64_t> ri64(n);
    tj_convert(D_BF16, rbf.data(), D_F32, x.data(), n);
    tj_convert(D_F16, rhf.data(), D_F32, x.data(), n);
    tj_convert(D_E4M3, re4.data(), D_F32, x.data(), n);
    tj_convert(D_E5M2, re5.data(), D_F32, x.data(), n);
    tj_convert(D_I32, ri32.data(), D_F32, x.data(), n);
    tj_convert(D_I64, ri64.data(), D_F32, x.data(), n);
    int nb[6] = {0}, fi[6] = {-1, -1, -1, -1, -1, -1};
    for (int i = 0; i < n; i++) {
        bool bad6[6] = {bf[i] != rbf[i], hf[i] != rhf[i], e4[i] != re4[i], e5[i] != re5[i], i32[i] != ri32[i],
                        i64[i] != ri64[i]};
        for (int k = 0; k < 6; k++)
            if (bad6[k] && nb[k]++ == 0) fi[k] = i;
    }
    const char *names[6] = {"f32->bf16", "f32->f16", "f32->e4m3", "f32->e5m2", "f32->i32", "f32->i64"};
    for (int k = 0; k < 6; k++) {
        char what[96];
        snprintf(what, sizeof what, "%s matches the interpreter on 4M values", names[k]);
        report(nb[k] == 0, what, "bad %.0f first input %.9g", nb[k], fi[k] >= 0 ? x[fi[k]] : 0.0);
    }
    int dbad = 0;
    for (int i = 0; i < 65536; i++) {
        if (!same_bits_or_nan(back[4 * i + 0], ir_bf16_to_f32((uint16_t)i))) dbad++;
        if (!same_bits_or_nan(back[4 * i + 1], ir_f16_to_f32((uint16_t)i))) dbad++;
        if (!same_bits_or_nan(back[4 * i + 2], ir_e4m3_to_f32((uint8_t)i))) dbad++;
        if (!same_bits_or_nan(back[4 * i + 3], ir_e5m2_to_f32((uint8_t)i))) dbad++;
    }
    report(dbad == 0, "bf16/f16/e4m3/e5m2 -> f32 match the interpreter on every code", "bad %.0f", dbad);

    // integers to narrow floats round once
    const int ni = 1 << 20;
    std::vector<long long> xi(ni);
    for (int i = 0; i < ni; i++) {
        long long v = ((long long)rnd32() << 32) | rnd32();
        int sh = rnd32() % 64;
        xi[i] = sh ? v >> sh : v;
        if (i % 3 == 0) xi[i] = (int)xi[i];
    }
    long long *dxi = dev_copy(xi);
    unsigned short *dib, *dib32;
    unsigned char *die4;
    float *dif;
    CK(cudaMalloc(&dib, ni * 2));
    CK(cudaMalloc(&dib32, ni * 2));
    CK(cudaMalloc(&die4, ni));
    CK(cudaMalloc(&dif, ni * 4));
    k_int_to_float<<<ni / 256, 256>>>(dxi, ni, dib, die4, dif, dib32);
    CK(cudaDeviceSynchronize());
    auto ib = host_copy(dib, ni), ib32 = host_copy(dib32, ni);
    auto ie4 = host_copy(die4, ni);
    auto iff = host_copy(dif, ni);
    std::vector<uint16_t> rib(ni), rib32(ni);
    std::vector<uint8_t> rie4(ni);
    std::vector<float> rif(ni);
    std::vector<int32_t> xi32(ni);
    for (int i = 0; i < ni; i++) xi32[i] = (int32_t)xi[i];
    tj_convert(D_BF16, rib.data(), D_I64, xi.data(), ni);
    tj_convert(D_BF16, rib32.data(), D_I32, xi32.data(), ni);
    tj_convert(D_E4M3, rie4.data(), D_I64, xi.data(), ni);
    tj_convert(D_F32, rif.data(), D_I64, xi.data(), ni);
    int ibad = 0;
    for (int i = 0; i < ni; i++)
        ibad += (ib[i] != rib[i]) + (ie4[i] != rie4[i]) + !same_bits_or_nan(iff[i], rif[i]) + (ib32[i] != rib32[i]);
    report(ibad == 0, "i32/i64 -> f32/bf16/e4m3 casts match the interpreter (one rounding)", "bad %.0f", ibad);
}

// ---- math ------------------------------------------------------------------------

enum { F_EXP, F_EXP2, F_LOG, F_LOG2, F_SQRT, F_RSQRT, F_RECIP, F_SIN, F_COS, F_TANH, F_SIGMOID, F_SILU, F_GELU,
       F_GELU_TANH, F_RELU, F_FLOOR, F_CEIL, F_POW, F_FEXP, F_FEXP2, F_FLOG, F_FLOG2, F_FRSQRT, F_FRECIP, F_FSIN,
       F_FCOS, F_FTANH, F_FSIGMOID, F_FSILU, F_FGELU_TANH, F_COUNT };

__global__ void k_math(const float *x, const float *y, int n, float *out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float a = x[i];
    float *o = out + (size_t)i * F_COUNT;
    o[F_EXP] = tj::exp(a);
    o[F_EXP2] = tj::exp2(a);
    o[F_LOG] = tj::log(fabsf(a));
    o[F_LOG2] = tj::log2(fabsf(a));
    o[F_SQRT] = tj::sqrt(fabsf(a));
    o[F_RSQRT] = tj::rsqrt(fabsf(a));
    o[F_RECIP] = tj::recip(a);
    o[F_SIN] = tj::sin(a);
    o[F_COS] = tj::cos(a);
    o[F_TANH] = tj::tanh(a);
    o[F_SIGMOID] = tj::sigmoid(a);
    o[F_SILU] = tj::silu(a);
    o[F_GELU] = tj::gelu(a);
    o[F_GELU_TANH] = tj::gelu_tanh(a);
    o[F_RELU] = tj::relu(a);
    o[F_FLOOR] = tj::floor(a);
    o[F_CEIL] = tj::ceil(a);
    o[F_POW] = tj::pow(fabsf(a), y[i]);
    o[F_FEXP] = tj::fast_exp(a);
    o[F_FEXP2] = tj::fast_exp2(a);
    o[F_FLOG] = tj::fast_log(fabsf(a));
    o[F_FLOG2] = tj::fast_log2(fabsf(a));
    o[F_FRSQRT] = tj::fast_rsqrt(fabsf(a));
    o[F_FRECIP] = tj::fast_recip(a);
    o[F_FSIN] = tj::fast_sin(a);
    o[F_FCOS] = tj::fast_cos(a);
    o[F_FTANH] = tj::fast_tanh(a);
    o[F_FSIGMOID] = tj::fast_sigmoid(a);
    o[F_FSILU] = tj::fast_silu(a);
    o[F_FGELU_TANH] = tj::fast_gelu_tanh(a);
}

static double ref_math(int f, double a, double y) {
    const double s2 = std::sqrt(2.0), k = std::sqrt(2.0 / M_PI);
    switch (f) {
    case F_EXP: case F_FEXP: return std::exp(a);
    case F_EXP2: case F_FEXP2: return std::exp2(a);
    case F_LOG: case F_FLOG: return std::log(std::fabs(a));
    case F_LOG2: case F_FLOG2: return std::log2(std::fabs(a));
    case F_SQRT: return std::sqrt(std::fabs(a));
    case F_RSQRT: case F_FRSQRT: return 1.0 / std::sqrt(std::fabs(a));
    case F_RECIP: case F_FRECIP: return 1.0 / a;
    case F_SIN: case F_FSIN: return std::sin(a);
    case F_COS: case F_FCOS: return std::cos(a);
    case F_TANH: case F_FTANH: return std::tanh(a);
    case F_SIGMOID: case F_FSIGMOID: return 1.0 / (1.0 + std::exp(-a));
    case F_SILU: case F_FSILU: return a / (1.0 + std::exp(-a));
    case F_GELU: return 0.5 * a * (1.0 + std::erf(a / s2));
    case F_GELU_TANH: case F_FGELU_TANH: return 0.5 * a * (1.0 + std::tanh(k * (a + 0.044715 * a * a * a)));
    case F_RELU: return a < 0 ? 0.0 : a;
    case F_FLOOR: return std::floor(a);
    case F_CEIL: return std::ceil(a);
    case F_POW: return std::pow(std::fabs(a), y);
    }
    return 0;
}

static void check_math() {
    const int n = 1 << 16;
    std::vector<float> x(n), y(n);
    for (int i = 0; i < n; i++) {
        x[i] = (i % 3 == 0) ? unif(-10.0f, 10.0f) : (i % 3 == 1) ? unif(-80.0f, 80.0f) : unif(-1.0f, 1.0f);
        y[i] = unif(-3.0f, 3.0f);
    }
    float *dx = dev_copy(x), *dy = dev_copy(y), *dout;
    CK(cudaMalloc(&dout, (size_t)n * F_COUNT * 4));
    k_math<<<n / 128, 128>>>(dx, dy, n, dout);
    CK(cudaDeviceSynchronize());
    auto out = host_copy(dout, (size_t)n * F_COUNT);
    static const char *names[F_COUNT] = {"exp", "exp2", "log", "log2", "sqrt", "rsqrt", "recip", "sin", "cos",
                                         "tanh", "sigmoid", "silu", "gelu", "gelu_tanh", "relu", "floor", "ceil",
                                         "pow", "fast_exp", "fast_exp2", "fast_log", "fast_log2", "fast_rsqrt",
                                         "fast_recip", "fast_sin", "fast_cos", "fast_tanh", "fast_sigmoid",
                                         "fast_silu", "fast_gelu_tanh"};
    for (int f = 0; f < F_COUNT; f++) {
        const bool fast = f >= F_FEXP;
        double worst = 0;
        int at = 0;
        for (int i = 0; i < n; i++) {
            const double a = x[i];
            if ((f == F_FSIN || f == F_FCOS) && std::fabs(a) > 30) continue;  // no range reduction
            const double r = ref_math(f, a, y[i]), g = out[(size_t)i * F_COUNT + f];
            if (std::isinf(r) && g == r) continue;
            if (std::fabs(r) > 3e38) continue;
            // relative error, with an absolute floor where the result nears 0
            const double floor_ = fast ? 1e-3 : 1e-6;
            const double err = std::fabs(g - r) / std::max(std::fabs(r), floor_);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        const double tol = fast ? 4e-3 : 2e-6;  // bf16 precision / a few f32 ulp
        char what[64];
        snprintf(what, sizeof what, "%s within %.0e", names[f], tol);
        report(worst <= tol, what, "worst rel err %.3g at x=%.9g", worst, x[at]);
    }
}

__global__ void k_int(const long long *a, const long long *b, int n, long long *o64, int *o32) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    o64[4 * i + 0] = tj::div(a[i], b[i]);
    o64[4 * i + 1] = tj::mod(a[i], b[i]);
    o64[4 * i + 2] = tj::cdiv(a[i], b[i]);
    o64[4 * i + 3] = tj::abs(a[i]);
    const int x = (int)a[i], y = (int)b[i];
    o32[4 * i + 0] = tj::div(x, y);
    o32[4 * i + 1] = tj::mod(x, y);
    o32[4 * i + 2] = tj::cdiv(x, y);
    o32[4 * i + 3] = tj::imul(x, y);
}

template <class I> static I ref_div(I a, I b) {
    if (b == 0) return 0;
    if (b == -1) return (I)(0 - (typename std::make_unsigned<I>::type)a);
    return a / b;
}
template <class I> static I ref_mod(I a, I b) { return (b == 0 || b == -1) ? 0 : a % b; }
template <class I> static I ref_cdiv(I a, I b) {
    typedef typename std::make_unsigned<I>::type U;
    return ref_div<I>((I)((U)a + (U)b - 1), b);
}

static void check_int() {
    const int n = 1 << 16;
    std::vector<long long> a(n), b(n);
    for (int i = 0; i < n; i++) {
        a[i] = (long long)(int)rnd32() * ((i & 1) ? 1 : 123457);
        b[i] = (i % 7 == 0) ? 0 : (i % 11 == 0) ? -1 : (int)(rnd32() % 2001) - 1000;
        if (i % 13 == 0) a[i] = (i & 2) ? INT32_MIN : INT64_MIN;
    }
    long long *da = dev_copy(a), *db = dev_copy(b), *o64;
    int *o32;
    CK(cudaMalloc(&o64, n * 32));
    CK(cudaMalloc(&o32, n * 16));
    k_int<<<n / 128, 128>>>(da, db, n, o64, o32);
    CK(cudaDeviceSynchronize());
    auto r64 = host_copy(o64, 4 * n);
    auto r32 = host_copy(o32, 4 * n);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const long long x = a[i], y = b[i];
        const int x32 = (int)x, y32 = (int)y;
        bad += r64[4 * i] != ref_div(x, y);
        bad += r64[4 * i + 1] != ref_mod(x, y);
        bad += r64[4 * i + 2] != ref_cdiv(x, y);
        bad += r64[4 * i + 3] != (x < 0 ? (long long)(0 - (unsigned long long)x) : x);
        bad += r32[4 * i] != ref_div(x32, y32);
        bad += r32[4 * i + 1] != ref_mod(x32, y32);
        bad += r32[4 * i + 2] != ref_cdiv(x32, y32);
        bad += r32[4 * i + 3] != (int)((unsigned)x32 * (unsigned)y32);
    }
    report(bad == 0, "integer div/mod/cdiv/abs/imul: C semantics, /0 -> 0, wrap", "bad %.0f", bad);
}

#include "check_tiles.cuh"

int main() {
    int dev = 0;
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, dev));
    printf("device: %s (sm_%d%d)\n", p.name, p.major, p.minor);
    check_conversions();
    check_math();
    check_int();
    check_tiles();
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
