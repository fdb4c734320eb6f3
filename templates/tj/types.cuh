// tj/types.cuh - element types and the conversions between them.
//
// Compiled by NVRTC without any CUDA toolkit header: everything a kernel
// needs (integer typedefs, bf16/f16/fp8 storage types, conversions) is
// defined here. Targets sm_80 .. sm_90a.
//
// Every dtype has a *storage* type (what a tensor element is in memory)
// and a *register* type (what a tile element is in a thread):
//
//   dtype    storage         register
//   f32      float           float
//   f16      tj::f16         float
//   bf16     tj::bf16        float
//   f8e4m3   tj::f8e4m3      float
//   f8e5m2   tj::f8e5m2      float
//   i32      int             int
//   i64      long long       long long
//   bool     unsigned char   bool
//
// Float math is f32 whatever the float dtype; a value is rounded to its
// dtype where it is loaded, stored, cast or created (docs/graph.md).
// Rounding is to nearest even; f8e4m3 saturates (no infinities: +-448),
// f8e5m2 overflows to infinity; float -> integer truncates toward zero
// (then wraps to 32 bits for i32; NaN gives 0).
#ifndef TJ_TYPES_CUH
#define TJ_TYPES_CUH

#define TJ_DEV __device__ __forceinline__
// Compile-time helpers (shapes, scratch sizes): usable in host and device code.
#define TJ_CONSTEXPR __host__ __device__ constexpr

namespace tj {

typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
typedef float f32;

// 16- and 8-bit float storage: the bit pattern, nothing else, so a
// kernel parameter `tj::bf16 *` has the layout of the tensor in memory.
struct f16 { u16 bits; };
struct bf16 { u16 bits; };
struct f8e4m3 { u8 bits; };
struct f8e5m2 { u8 bits; };

// reg<T>::type - the register type of storage type T.
template <class T> struct reg;
template <> struct reg<float> { typedef float type; };
template <> struct reg<f16> { typedef float type; };
template <> struct reg<bf16> { typedef float type; };
template <> struct reg<f8e4m3> { typedef float type; };
template <> struct reg<f8e5m2> { typedef float type; };
template <> struct reg<int> { typedef int type; };
template <> struct reg<long long> { typedef long long type; };
template <> struct reg<u8> { typedef bool type; };
template <> struct reg<bool> { typedef bool type; };
template <class T> struct reg<const T> : reg<T> {};

// unconst<T>::type - T without a top-level const (gview<const T> over a
// read-only tensor stages into plain T shared buffers).
template <class T> struct unconst { typedef T type; };
template <class T> struct unconst<const T> { typedef T type; };

// ---- bit-level conversions ---------------------------------------------

TJ_DEV float bf16_to_f32(u16 b) { return __uint_as_float((u32)b << 16); }

TJ_DEV u16 f32_to_bf16(float x) {
    u16 r;
    // cvt.rn.bf16.f32: f32 -> bf16, round to nearest even (sm_80+)
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

TJ_DEV float f16_to_f32(u16 h) {
    float r;
    // cvt.f32.f16: f16 -> f32, exact
    asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(h));
    return r;
}

TJ_DEV u16 f32_to_f16(float x) {
    u16 r;
    // cvt.rn.f16.f32: f32 -> f16, round to nearest even, overflow to inf
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

// f32 -> 8-bit float in software: MB mantissa bits, exponent bias BIAS,
// MAXC the largest finite code, OVF the code for overflow (MAXC when
// saturating, the infinity code otherwise), NANC the NaN code. Round to
// nearest even, on the f32 bit pattern for normal results and by an
// exact power-of-two scale plus cvt.rni for subnormal ones.
template <int MB, int BIAS, u32 MAXC, u32 OVF, u32 NANC>
TJ_DEV u8 f32_to_f8_soft(float x) {
    const u32 u = __float_as_uint(x);
    const u32 sign = (u >> 24) & 0x80u;
    const u32 a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (u8)NANC;
    u32 code;
    if (a < ((u32)(127 + 1 - BIAS) << 23)) {
        // below the smallest normal: count quanta of 2^(1-BIAS-MB)
        const float q = __uint_as_float(a) * __uint_as_float((u32)(127 + BIAS - 1 + MB) << 23);
        code = (u32)__float2int_rn(q);
    } else {
        const u32 sh = 23 - MB;
        const u32 r = a + ((1u << (sh - 1)) - 1u) + ((a >> sh) & 1u);
        code = (r >> sh) - ((u32)(127 - BIAS) << MB);
    }
    if (code > MAXC) code = OVF;
    return (u8)(sign | code);
}

TJ_DEV u8 f32_to_e4m3_soft(float x) { return f32_to_f8_soft<3, 7, 0x7eu, 0x7eu, 0x7fu>(x); }
TJ_DEV u8 f32_to_e5m2_soft(float x) { return f32_to_f8_soft<2, 15, 0x7bu, 0x7cu, 0x7fu>(x); }

// f32 -> e4m3fn: nearest even, saturating to +-448 (infinities too),
// NaN -> 0x7f.
TJ_DEV u8 f32_to_e4m3(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    u16 r;
    // cvt.rn.satfinite.e4m3x2.f32 d, a, b: two f32 -> packed e4m3x2,
    // a to the upper byte, b to the lower byte (sm_89+)
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(0.0f), "f"(x));
    return (u8)(r & 0xffu);
#else
    return f32_to_e4m3_soft(x);
#endif
}

// f32 -> e5m2: nearest even, overflow to +-inf, NaN -> 0x7f. (The
// hardware cvt to e5m2 always saturates, so this stays in software.)
TJ_DEV u8 f32_to_e5m2(float x) { return f32_to_e5m2_soft(x); }

TJ_DEV float e4m3_to_f32(u8 b) {
    const u32 sign = (u32)(b & 0x80u) << 24;
    const u32 em = b & 0x7fu;
    if (em == 0x7fu) return __uint_as_float(sign | 0x7fc00000u);
    if (em >= 8u) return __uint_as_float(sign | ((em << 20) + (120u << 23)));
    return __uint_as_float(sign | __float_as_uint((float)em * 0.001953125f));  // em * 2^-9
}

// e5m2 is the upper byte of an f16.
TJ_DEV float e5m2_to_f32(u8 b) { return f16_to_f32((u16)((u32)b << 8)); }

// f32 -> integer, truncating toward zero. i64 saturates outside its
// range; i32 takes the low 32 bits of that (wraps); NaN gives 0.
TJ_DEV long long f32_to_i64(float x) {
    long long r;
    // cvt.rzi.s64.f32: round toward zero, saturating (it gives INT64_MIN for NaN, seen on sm_90)
    asm("cvt.rzi.s64.f32 %0, %1;" : "=l"(r) : "f"(x));
    return x != x ? 0 : r;
}
TJ_DEV int f32_to_i32(float x) { return (int)(u32)(u64)f32_to_i64(x); }

// ---- storage <-> register ------------------------------------------------

// to_reg(x): a stored element as its register value.
TJ_DEV float to_reg(float x) { return x; }
TJ_DEV float to_reg(f16 x) { return f16_to_f32(x.bits); }
TJ_DEV float to_reg(bf16 x) { return bf16_to_f32(x.bits); }
TJ_DEV float to_reg(f8e4m3 x) { return e4m3_to_f32(x.bits); }
TJ_DEV float to_reg(f8e5m2 x) { return e5m2_to_f32(x.bits); }
TJ_DEV int to_reg(int x) { return x; }
TJ_DEV long long to_reg(long long x) { return x; }
TJ_DEV bool to_reg(u8 x) { return x != 0; }
TJ_DEV bool to_reg(bool x) { return x; }

// to_mem<T>(v): register value v as storage type T (rounding to nearest even).
template <class T> TJ_DEV T to_mem(typename reg<T>::type v);
template <> TJ_DEV float to_mem<float>(float v) { return v; }
template <> TJ_DEV f16 to_mem<f16>(float v) { f16 r; r.bits = f32_to_f16(v); return r; }
template <> TJ_DEV bf16 to_mem<bf16>(float v) { bf16 r; r.bits = f32_to_bf16(v); return r; }
template <> TJ_DEV f8e4m3 to_mem<f8e4m3>(float v) { f8e4m3 r; r.bits = f32_to_e4m3(v); return r; }
template <> TJ_DEV f8e5m2 to_mem<f8e5m2>(float v) { f8e5m2 r; r.bits = f32_to_e5m2(v); return r; }
template <> TJ_DEV int to_mem<int>(int v) { return v; }
template <> TJ_DEV long long to_mem<long long>(long long v) { return v; }
template <> TJ_DEV u8 to_mem<u8>(bool v) { return v ? 1 : 0; }
template <> TJ_DEV bool to_mem<bool>(bool v) { return v; }

// ld(p) / st(p, v): one element through a pointer, converting.
template <class T> TJ_DEV typename reg<T>::type ld(const T *p) { return to_reg(*p); }
template <class T> TJ_DEV void st(T *p, typename reg<T>::type v) { *p = to_mem<T>(v); }

// ---- casts between dtypes --------------------------------------------------

// round_to<T>(x): f32 x rounded to float dtype T (as f32).
template <class T> TJ_DEV float round_to(float x) { return to_reg(to_mem<T>(x)); }
template <> TJ_DEV float round_to<float>(float x) { return x; }

// f2i<T>(x): f32 x truncated toward zero to integer type T.
template <class T> TJ_DEV T f2i(float x);
template <> TJ_DEV int f2i<int>(float x) { return f32_to_i32(x); }
template <> TJ_DEV long long f2i<long long>(float x) { return f32_to_i64(x); }

// An integer as f32 rounded to odd: exact when it fits, else truncated
// with the last mantissa bit set. Rounding that again to a format of at
// most 22 mantissa bits (f16, bf16, fp8) gives the correctly rounded
// result, so integer -> narrow float rounds once, as the interpreter does.
TJ_DEV float i64_to_f32_odd(long long x) {
    float f;
    // cvt.rz.f32.s64: s64 -> f32, round toward zero
    asm("cvt.rz.f32.s64 %0, %1;" : "=f"(f) : "l"(x));
    if (f32_to_i64(f) != x) f = __uint_as_float(__float_as_uint(f) | 1u);
    return f;
}

// cast<T>(x): a register value of any dtype converted to dtype T (given by
// its storage type), as T's register type, with one rounding.
template <class T> struct caster {  // narrow float dtypes
    TJ_DEV static float from(float x) { return round_to<T>(x); }
    TJ_DEV static float from(int x) { return round_to<T>(i64_to_f32_odd(x)); }
    TJ_DEV static float from(long long x) { return round_to<T>(i64_to_f32_odd(x)); }
    TJ_DEV static float from(bool x) { return x ? 1.0f : 0.0f; }
};
template <> struct caster<float> {
    TJ_DEV static float from(float x) { return x; }
    TJ_DEV static float from(int x) { return (float)x; }          // round to nearest even
    TJ_DEV static float from(long long x) { return (float)x; }
    TJ_DEV static float from(bool x) { return x ? 1.0f : 0.0f; }
};
template <> struct caster<int> {
    TJ_DEV static int from(float x) { return f32_to_i32(x); }
    TJ_DEV static int from(int x) { return x; }
    TJ_DEV static int from(long long x) { return (int)(u32)(u64)x; }
    TJ_DEV static int from(bool x) { return x ? 1 : 0; }
};
template <> struct caster<long long> {
    TJ_DEV static long long from(float x) { return f32_to_i64(x); }
    TJ_DEV static long long from(int x) { return x; }
    TJ_DEV static long long from(long long x) { return x; }
    TJ_DEV static long long from(bool x) { return x ? 1 : 0; }
};
template <> struct caster<u8> {
    TJ_DEV static bool from(float x) { return x != 0.0f; }
    TJ_DEV static bool from(int x) { return x != 0; }
    TJ_DEV static bool from(long long x) { return x != 0; }
    TJ_DEV static bool from(bool x) { return x; }
};
template <> struct caster<bool> : caster<u8> {};

template <class T, class X> TJ_DEV typename reg<T>::type cast(X x) { return caster<T>::from(x); }

}  // namespace tj

#endif  // TJ_TYPES_CUH
