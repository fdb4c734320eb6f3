// tj/math.cuh - elementwise math on register values.
//
// Float functions are accurate by default (CUDA's libdevice versions,
// which NVRTC provides without headers: within a few ulp of f32); the
// fast_* variants use the hardware approximations (ex2.approx,
// tanh.approx, ...) and are good to about bf16 precision - use them only
// where a schedule asks for speed over f32 accuracy.
//
// Integer functions follow C semantics with two's complement wrapping
// (computed in unsigned arithmetic, so no signed overflow is undefined):
// division and modulo truncate toward zero, and dividing by zero gives 0
// (docs/graph.md).
#ifndef TJ_MATH_CUH
#define TJ_MATH_CUH

#include "tj/types.cuh"

namespace tj {

// ---- float: accurate ------------------------------------------------------

TJ_DEV float abs(float x) { return ::fabsf(x); }
TJ_DEV float exp(float x) { return ::expf(x); }
TJ_DEV float exp2(float x) { return ::exp2f(x); }
TJ_DEV float log(float x) { return ::logf(x); }
TJ_DEV float log2(float x) { return ::log2f(x); }
TJ_DEV float sqrt(float x) { return ::sqrtf(x); }
TJ_DEV float rsqrt(float x) { return 1.0f / ::sqrtf(x); }
TJ_DEV float recip(float x) { return 1.0f / x; }
TJ_DEV float sin(float x) { return ::sinf(x); }
TJ_DEV float cos(float x) { return ::cosf(x); }
TJ_DEV float tanh(float x) { return ::tanhf(x); }
TJ_DEV float erf(float x) { return ::erff(x); }
TJ_DEV float floor(float x) { return ::floorf(x); }
TJ_DEV float ceil(float x) { return ::ceilf(x); }
TJ_DEV float pow(float x, float y) { return ::powf(x, y); }
TJ_DEV float div(float a, float b) { return a / b; }  // div.rn.f32 (IEEE)
TJ_DEV float max(float a, float b) { return ::fmaxf(a, b); }
TJ_DEV float min(float a, float b) { return ::fminf(a, b); }
TJ_DEV float fma(float a, float b, float c) { return ::fmaf(a, b, c); }

// sigmoid(x) = 1 / (1 + e^-x): 0 for x -> -inf (e^-x overflows to inf).
TJ_DEV float sigmoid(float x) { return 1.0f / (1.0f + ::expf(-x)); }
// silu(x) = x * sigmoid(x), written as a quotient so large negative x gives -0, not NaN.
TJ_DEV float silu(float x) { return x / (1.0f + ::expf(-x)); }
// gelu, erf form: x/2 * (1 + erf(x / sqrt 2)), written as x/2 * erfc(-x / sqrt 2)
// so the tail (x < -3) keeps its relative accuracy instead of cancelling.
TJ_DEV float gelu(float x) { return 0.5f * x * ::erfcf(-0.70710678118654752f * x); }
// gelu, tanh form: x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3);
// 1 + tanh(u) = 2 / (1 + e^-2u), so it is x * sigmoid(2u), without cancellation.
TJ_DEV float gelu_tanh(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x / (1.0f + ::expf(-2.0f * u));
}
// relu keeps NaN (NaN < 0 is false).
TJ_DEV float relu(float x) { return x < 0.0f ? 0.0f : x; }

// ---- float: fast approximations -------------------------------------------

TJ_DEV float fast_exp2(float x) {
    float r;
    // ex2.approx.ftz.f32: 2^x, max rel. error 2^-22 (subnormal results flush to 0)
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
// 2^x on the FMA pipe, for kernels whose MUFU unit (ex2.approx) is the
// bottleneck: x = j + f with j = rint(x) and f in [-0.5, 0.5]; 2^f by a
// degree-3 polynomial fitted for relative error (7.5e-5 at most: well
// under the 16-bit rounding of probabilities); j added to the exponent
// bits. Results under 2^-125 are 0, as ex2.approx.ftz flushes (-inf
// gives 0, which masked scores rely on).
TJ_DEV float poly_exp2(float x) {
    const float magic = 12582912.0f;    // 1.5 * 2^23: rounds to an integer in the low bits
    float xc = fmaxf(x, -125.0f);
    float r = xc + magic;
    float f = xc - (r - magic);
    float p = fmaf(fmaf(fmaf(0.0551716237f, f, 0.242611119f), f, 0.693260994f), f, 0.999928074f);
    unsigned bits = __float_as_uint(p) + (__float_as_uint(r) << 23);
    return x < -125.0f ? 0.0f : __uint_as_float(bits);
}
// e^x = 2^(x log2 e)
TJ_DEV float fast_exp(float x) { return fast_exp2(x * 1.4426950408889634f); }
TJ_DEV float fast_log2(float x) {
    float r;
    // lg2.approx.ftz.f32: log2(x), max abs. error 2^-22 near 1
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
TJ_DEV float fast_log(float x) { return fast_log2(x) * 0.69314718055994531f; }
TJ_DEV float fast_rsqrt(float x) {
    float r;
    // rsqrt.approx.ftz.f32: 1/sqrt(x)
    asm("rsqrt.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
TJ_DEV float fast_recip(float x) {
    float r;
    // rcp.approx.ftz.f32: 1/x
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
TJ_DEV float fast_sin(float x) {
    float r;
    // sin.approx.ftz.f32: good for |x| up to ~100 pi, no range reduction
    asm("sin.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
TJ_DEV float fast_cos(float x) {
    float r;
    // cos.approx.ftz.f32: as sin.approx
    asm("cos.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
TJ_DEV float fast_tanh(float x) {
    float r;
    // tanh.approx.f32: max rel. error about 2^-11 (sm_75+)
    asm("tanh.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
// 1 / (1 + e^-x): relative error a few ulp over the whole range (rcp(inf) = 0)
TJ_DEV float fast_sigmoid(float x) { return fast_recip(1.0f + fast_exp(-x)); }
TJ_DEV float fast_silu(float x) { return x * fast_sigmoid(x); }
TJ_DEV float fast_gelu_tanh(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x * fast_sigmoid(2.0f * u);
}

// ---- integers ---------------------------------------------------------------

TJ_DEV int iadd(int a, int b) { return (int)((u32)a + (u32)b); }
TJ_DEV int isub(int a, int b) { return (int)((u32)a - (u32)b); }
TJ_DEV int imul(int a, int b) { return (int)((u32)a * (u32)b); }
TJ_DEV int ineg(int a) { return (int)(0u - (u32)a); }
TJ_DEV long long iadd(long long a, long long b) { return (long long)((u64)a + (u64)b); }
TJ_DEV long long isub(long long a, long long b) { return (long long)((u64)a - (u64)b); }
TJ_DEV long long imul(long long a, long long b) { return (long long)((u64)a * (u64)b); }
TJ_DEV long long ineg(long long a) { return (long long)(0ull - (u64)a); }

TJ_DEV int abs(int x) { return x < 0 ? ineg(x) : x; }
TJ_DEV long long abs(long long x) { return x < 0 ? ineg(x) : x; }

// a / b truncating; x / 0 = 0; MIN / -1 wraps to MIN.
TJ_DEV int div(int a, int b) { return b == 0 ? 0 : b == -1 ? ineg(a) : a / b; }
TJ_DEV long long div(long long a, long long b) { return b == 0 ? 0 : b == -1 ? ineg(a) : a / b; }
// a % b with the sign of a; x % 0 = 0.
TJ_DEV int mod(int a, int b) { return (b == 0 || b == -1) ? 0 : a % b; }
TJ_DEV long long mod(long long a, long long b) { return (b == 0 || b == -1) ? 0 : a % b; }
// ceil(a / b) for b > 0, computed as (a + b - 1) / b (the same formula for any b; 0 when b = 0).
TJ_DEV int cdiv(int a, int b) { return div(isub(iadd(a, b), 1), b); }
TJ_DEV long long cdiv(long long a, long long b) { return div(isub(iadd(a, b), 1ll), b); }

TJ_DEV int max(int a, int b) { return a > b ? a : b; }
TJ_DEV int min(int a, int b) { return a < b ? a : b; }
TJ_DEV long long max(long long a, long long b) { return a > b ? a : b; }
TJ_DEV long long min(long long a, long long b) { return a < b ? a : b; }

// ---- bool and bitwise ---------------------------------------------------------

TJ_DEV bool max(bool a, bool b) { return a || b; }
TJ_DEV bool min(bool a, bool b) { return a && b; }
TJ_DEV bool lnot(bool x) { return !x; }
TJ_DEV int lnot(int x) { return ~x; }
TJ_DEV long long lnot(long long x) { return ~x; }
TJ_DEV bool land(bool a, bool b) { return a && b; }
TJ_DEV bool lor(bool a, bool b) { return a || b; }
TJ_DEV bool lxor(bool a, bool b) { return a != b; }
TJ_DEV int land(int a, int b) { return a & b; }
TJ_DEV int lor(int a, int b) { return a | b; }
TJ_DEV int lxor(int a, int b) { return a ^ b; }
TJ_DEV long long land(long long a, long long b) { return a & b; }
TJ_DEV long long lor(long long a, long long b) { return a | b; }
TJ_DEV long long lxor(long long a, long long b) { return a ^ b; }

// ---- identities for reductions ---------------------------------------------------

// lowest<T>() / highest<T>(): the identities of max / min for register type T.
template <class T> TJ_DEV T lowest();
template <class T> TJ_DEV T highest();
template <> TJ_DEV float lowest<float>() { return __uint_as_float(0xff800000u); }   // -inf
template <> TJ_DEV float highest<float>() { return __uint_as_float(0x7f800000u); }  // +inf
template <> TJ_DEV int lowest<int>() { return (int)0x80000000u; }
template <> TJ_DEV int highest<int>() { return 0x7fffffff; }
template <> TJ_DEV long long lowest<long long>() { return (long long)0x8000000000000000ull; }
template <> TJ_DEV long long highest<long long>() { return 0x7fffffffffffffffll; }
template <> TJ_DEV bool lowest<bool>() { return false; }
template <> TJ_DEV bool highest<bool>() { return true; }

}  // namespace tj

#endif  // TJ_MATH_CUH
