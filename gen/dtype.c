/*
 * dtype.c — dtype names and sizes, and exact conversions between the
 * storage formats (f32 f16 bf16 fp8 e4m3fn / e5m2, integers, bool, f64).
 *
 * Conventions, chosen to match what a GPU kernel computes (and what
 * templates/tj/types.cuh does):
 *  - Float to a narrower float rounds to nearest, ties to even, straight
 *    from the source value (one rounding, never through an intermediate
 *    format), with subnormals kept.
 *  - Overflow gives infinity for f16, bf16 and e5m2 (their IEEE-like
 *    behaviour, __NV_NOSAT). e4m3fn has no infinity: finite overflow and
 *    ±inf saturate to ±448, as PTX cvt.rn.satfinite.e4m3x2.f32 does.
 *  - NaN becomes the canonical NaN, all ones without a sign (0x7fff for
 *    f16 and bf16, as PTX cvt gives; 0x7f for both fp8 formats).
 *  - Float to integer truncates toward zero, saturating to the i64 range
 *    (PTX cvt.rzi.s64.f32; NaN gives 0); i32 then keeps the low 32 bits,
 *    as every integer to integer conversion does (two's complement wrap).
 *    Anything to bool is x != 0.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ir.h"

/* ---- names and sizes ----------------------------------------------- */

static const char *const dtype_names[TJ_DTYPE_COUNT] = {
    [TJ_F32] = "f32",       [TJ_F16] = "f16", [TJ_BF16] = "bf16",
    [TJ_F8E4M3] = "f8e4m3", [TJ_F8E5M2] = "f8e5m2",
    [TJ_I32] = "i32",       [TJ_I64] = "i64", [TJ_BOOL] = "bool",
    [TJ_F64] = "f64",
};
static const unsigned char dtype_sizes[TJ_DTYPE_COUNT] = {
    [TJ_F32] = 4, [TJ_F16] = 2, [TJ_BF16] = 2, [TJ_F8E4M3] = 1, [TJ_F8E5M2] = 1,
    [TJ_I32] = 4, [TJ_I64] = 8, [TJ_BOOL] = 1, [TJ_F64] = 8,
};

const char *tj_dtype_name(tj_dtype t) {
    return (unsigned)t < TJ_DTYPE_COUNT ? dtype_names[t] : NULL;
}

size_t tj_dtype_size(tj_dtype t) { return (unsigned)t < TJ_DTYPE_COUNT ? dtype_sizes[t] : 0; }

tj_status tj_dtype_from_name(const char *name, tj_dtype *out) {
    if (!name || !out)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_dtype_from_name: %s is NULL",
                            !name ? "name" : "out");
    for (int t = 0; t < TJ_DTYPE_COUNT; t++)
        if (!strcmp(name, dtype_names[t])) {
            *out = (tj_dtype)t;
            return TJ_OK;
        }
    return tj_set_error(TJ_ERR_INVALID_ARG,
                        "unknown dtype '%s' (known: f32 f16 bf16 f8e4m3 f8e5m2 i32 i64 bool f64)",
                        name);
}

/* ---- small float formats ------------------------------------------- */

/* A binary format narrower than f32: sign, `ebits` exponent bits,
 * `mbits` stored mantissa bits. */
typedef struct minifloat {
    int ebits, mbits, bias;
    double maxv;      /* largest finite magnitude */
    int has_inf;      /* exponent all ones, mantissa 0 is inf (IEEE-like) */
} minifloat;

static const minifloat FMT_F16 = {5, 10, 15, 65504.0, 1};
static const minifloat FMT_BF16 = {8, 7, 127, 3.3895313892515355e38, 1};
static const minifloat FMT_E4M3 = {4, 3, 7, 448.0, 0};
static const minifloat FMT_E5M2 = {5, 2, 15, 57344.0, 1};

static uint32_t mf_sign(const minifloat *f) { return 1u << (f->ebits + f->mbits); }
static uint32_t mf_exp_ones(const minifloat *f) { return ((1u << f->ebits) - 1) << f->mbits; }

/* Largest finite magnitude's bit pattern (no sign). */
static uint32_t mf_max_bits(const minifloat *f) {
    /* e4m3fn: S.1111.110 (S.1111.111 is NaN); IEEE-like: S.11110.11... */
    return f->has_inf ? mf_exp_ones(f) - 1 : mf_exp_ones(f) | ((1u << f->mbits) - 2);
}

/* Round a finite, non-negative double to a multiple of `quantum` (a power
 * of two), ties to even. a / quantum is exact, so this is one rounding. */
static double round_to_quantum(double a, double quantum) {
    double q = a / quantum, fl = floor(q), d = q - fl;
    if (d > 0.5 || (d == 0.5 && fmod(fl, 2.0) != 0.0)) fl += 1.0;
    return fl * quantum;
}

/* Encode a non-NaN double (one rounding, ties to even). */
static uint32_t mf_encode(const minifloat *f, double x) {
    uint32_t sign = signbit(x) ? mf_sign(f) : 0;
    double a = fabs(x);
    int emin = 1 - f->bias;
    if (isinf(a)) return sign | (f->has_inf ? mf_exp_ones(f) : mf_max_bits(f));
    if (a == 0.0) return sign;
    int e;
    frexp(a, &e);
    e -= 1; /* a = 1.f * 2^e */
    double r = round_to_quantum(a, ldexp(1.0, (e < emin ? emin : e) - f->mbits));
    if (r > f->maxv) return sign | (f->has_inf ? mf_exp_ones(f) : mf_max_bits(f));
    if (r == 0.0) return sign;
    frexp(r, &e);
    e -= 1;
    if (e < emin) return sign | (uint32_t)ldexp(r, f->mbits - emin);
    uint32_t mant = (uint32_t)(ldexp(r, f->mbits - e) - ldexp(1.0, f->mbits));
    return sign | ((uint32_t)(e + f->bias) << f->mbits) | mant;
}

/* The canonical NaN: every bit but the sign set. */
static uint32_t mf_nan(const minifloat *f) { return mf_sign(f) - 1; }

static float f32_from_bits(uint32_t b) {
    float x;
    memcpy(&x, &b, 4);
    return x;
}

static uint32_t mf_from_double(const minifloat *f, double x) {
    return isnan(x) ? mf_nan(f) : mf_encode(f, x);
}

static uint32_t mf_from_f32(const minifloat *f, float x) { return mf_from_double(f, (double)x); }

static float mf_decode(const minifloat *f, uint32_t b) {
    uint32_t sign = b & mf_sign(f);
    uint32_t ex = (b & mf_exp_ones(f)) >> f->mbits;
    uint32_t mant = b & ((1u << f->mbits) - 1);
    uint32_t emax = (1u << f->ebits) - 1;
    float v;
    if (ex == emax && (f->has_inf || mant == (1u << f->mbits) - 1)) {
        if (f->has_inf && mant == 0) {
            v = INFINITY;
        } else {
            uint32_t nb = 0x7f800000u | (mant << (23 - f->mbits));
            if (!f->has_inf) nb |= 0x400000u;
            v = f32_from_bits(nb);
        }
    } else if (ex == 0) {
        v = ldexpf((float)mant, 1 - f->bias - f->mbits);
    } else {
        v = ldexpf((float)(mant | (1u << f->mbits)), (int)ex - f->bias - f->mbits);
    }
    return sign ? -v : v;
}

float ir_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }
uint16_t ir_f32_to_bf16(float f) { return (uint16_t)mf_from_f32(&FMT_BF16, f); }
float ir_f16_to_f32(uint16_t h) { return mf_decode(&FMT_F16, h); }
uint16_t ir_f32_to_f16(float f) { return (uint16_t)mf_from_f32(&FMT_F16, f); }
float ir_e4m3_to_f32(uint8_t b) { return mf_decode(&FMT_E4M3, b); }
uint8_t ir_f32_to_e4m3(float f) { return (uint8_t)mf_from_f32(&FMT_E4M3, f); }
float ir_e5m2_to_f32(uint8_t b) { return mf_decode(&FMT_E5M2, b); }
uint8_t ir_f32_to_e5m2(float f) { return (uint8_t)mf_from_f32(&FMT_E5M2, f); }

static const minifloat *minifloat_of(int dtype) {
    switch (dtype) {
    case TJ_F16: return &FMT_F16;
    case TJ_BF16: return &FMT_BF16;
    case TJ_F8E4M3: return &FMT_E4M3;
    case TJ_F8E5M2: return &FMT_E5M2;
    default: return NULL;
    }
}

/* ---- integers ------------------------------------------------------ */

/* Float to integer: truncate, saturate to i64, NaN -> 0; i32 then wraps. */
static int64_t float_to_int(int dtype, double x) {
    int64_t v;
    if (isnan(x)) v = 0;
    else if (x <= -9223372036854775808.0) v = INT64_MIN;
    else if (x >= 9223372036854775808.0) v = INT64_MAX;
    else v = (int64_t)trunc(x);
    return dtype == TJ_I32 ? (int32_t)(uint32_t)(uint64_t)v : v;
}

/* Integer to integer dtype: two's complement wrap; bool is v != 0. */
static int64_t int_wrap(int dtype, int64_t v) {
    if (dtype == TJ_I32) return (int32_t)(uint32_t)(uint64_t)v;
    if (dtype == TJ_BOOL) return v != 0;
    return v;
}

/* An int64 as a double rounded to odd: correct when rounded again to any
 * format of at most 51 significant bits (f32 and narrower), so integer to
 * float conversions round once. */
static double int_to_double_odd(int64_t v) {
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int shift = 0;
    while ((u >> shift) >= ((uint64_t)1 << 53)) shift++;
    uint64_t m = u >> shift;
    if (shift && (u & (((uint64_t)1 << shift) - 1))) m |= 1;
    double d = ldexp((double)m, shift);
    return v < 0 ? -d : d;
}

/* ---- elements ------------------------------------------------------ */

double ir_round_to(int dtype, double x) {
    const minifloat *f = minifloat_of(dtype);
    if (f) return isnan(x) ? x : (double)mf_decode(f, mf_encode(f, x));
    switch (dtype) {
    case TJ_F32: return (double)(float)x;
    case TJ_I32: case TJ_I64: return (double)float_to_int(dtype, x);
    case TJ_BOOL: return x != 0.0;
    default: return x;
    }
}

double ir_read_elem(int dtype, const void *p) {
    switch (dtype) {
    case TJ_F32: { float v; memcpy(&v, p, 4); return v; }
    case TJ_F64: { double v; memcpy(&v, p, 8); return v; }
    case TJ_F16: case TJ_BF16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return dtype == TJ_BF16 ? ir_bf16_to_f32(h) : ir_f16_to_f32(h);
    }
    case TJ_F8E4M3: return ir_e4m3_to_f32(*(const uint8_t *)p);
    case TJ_F8E5M2: return ir_e5m2_to_f32(*(const uint8_t *)p);
    case TJ_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TJ_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case TJ_BOOL: return *(const uint8_t *)p != 0;
    default: return 0.0;
    }
}

void ir_write_elem(int dtype, void *p, double x) {
    const minifloat *f = minifloat_of(dtype);
    if (f) {
        uint32_t b = mf_from_double(f, x);
        if (f->ebits + f->mbits + 1 == 16) {
            uint16_t h = (uint16_t)b;
            memcpy(p, &h, 2);
        } else {
            *(uint8_t *)p = (uint8_t)b;
        }
        return;
    }
    switch (dtype) {
    case TJ_F32: { float v = (float)x; memcpy(p, &v, 4); return; }
    case TJ_F64: memcpy(p, &x, 8); return;
    case TJ_I32: { int32_t v = (int32_t)float_to_int(TJ_I32, x); memcpy(p, &v, 4); return; }
    case TJ_I64: { int64_t v = float_to_int(TJ_I64, x); memcpy(p, &v, 8); return; }
    case TJ_BOOL: *(uint8_t *)p = x != 0.0; return;
    default: return;
    }
}

static int is_int_like(int dtype) {
    return dtype == TJ_I32 || dtype == TJ_I64 || dtype == TJ_BOOL;
}

static int64_t read_int(int dtype, const void *p) {
    switch (dtype) {
    case TJ_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TJ_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return *(const uint8_t *)p != 0;
    }
}

static void write_int(int dtype, void *p, int64_t v) {
    v = int_wrap(dtype, v);
    switch (dtype) {
    case TJ_I32: { int32_t w = (int32_t)v; memcpy(p, &w, 4); return; }
    case TJ_I64: memcpy(p, &v, 8); return;
    default: *(uint8_t *)p = (uint8_t)v; return;
    }
}

tj_status tj_convert(tj_dtype dst_type, void *dst, tj_dtype src_type, const void *src,
                     size_t n) {
    if ((unsigned)dst_type >= TJ_DTYPE_COUNT || (unsigned)src_type >= TJ_DTYPE_COUNT)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_convert: dtype %d is not a tj_dtype",
                            (unsigned)dst_type >= TJ_DTYPE_COUNT ? (int)dst_type : (int)src_type);
    if (n > 0 && (!dst || !src))
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_convert: %s is NULL", !dst ? "dst" : "src");
    size_t ds = dtype_sizes[dst_type], ss = dtype_sizes[src_type];
    unsigned char *d = dst;
    const unsigned char *s = src;
    int src_int = is_int_like(src_type), dst_int = is_int_like(dst_type);
    for (size_t i = 0; i < n; i++, d += ds, s += ss) {
        if (src_int && dst_int) {
            write_int(dst_type, d, read_int(src_type, s));
        } else if (src_int) {
            int64_t v = read_int(src_type, s);
            if (dst_type == TJ_F64) {
                double x = (double)v;
                memcpy(d, &x, 8);
            } else {
                ir_write_elem(dst_type, d, int_to_double_odd(v));
            }
        } else {
            ir_write_elem(dst_type, d, ir_read_elem(src_type, s));
        }
    }
    return TJ_OK;
}
