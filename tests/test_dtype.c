/*
 * test_dtype.c — dtype names and the storage conversions (gen/dtype.c),
 * checked exhaustively where the format is small and against an
 * independent nearest-value search elsewhere.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ir.h"

static uint32_t bits_of(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static float float_of(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* ---- names --------------------------------------------------------- */

TEST(test_dtype_names_and_sizes_round_trip) {
    static const char *const names[] = {"f32", "f16", "bf16", "f8e4m3", "f8e5m2",
                                        "i32", "i64", "bool", "f64"};
    static const size_t sizes[] = {4, 2, 2, 1, 1, 4, 8, 1, 8};
    for (int t = 0; t < TJ_DTYPE_COUNT; t++) {
        CHECK(!strcmp(tj_dtype_name((tj_dtype)t), names[t]));
        CHECK(tj_dtype_size((tj_dtype)t) == sizes[t]);
        tj_dtype back;
        CHECK_OK(tj_dtype_from_name(names[t], &back));
        CHECK(back == (tj_dtype)t);
    }
    CHECK(tj_dtype_name(TJ_DTYPE_COUNT) == NULL);
    CHECK(tj_dtype_name((tj_dtype)-1) == NULL);
    CHECK(tj_dtype_size(TJ_DTYPE_COUNT) == 0);
}

TEST(test_dtype_from_unknown_name_is_invalid_arg) {
    tj_dtype t;
    CHECK_ERR(tj_dtype_from_name("float32", &t), TJ_ERR_INVALID_ARG, "float32");
    CHECK_ERR(tj_dtype_from_name("", &t), TJ_ERR_INVALID_ARG, "unknown dtype");
    CHECK_ERR(tj_dtype_from_name(NULL, &t), TJ_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(tj_dtype_from_name("f32", NULL), TJ_ERR_INVALID_ARG, "NULL");
}

/* ---- exhaustive round trips ---------------------------------------- */

/* Every pattern decodes to f32 and encodes back to itself; a NaN comes
 * back as the canonical NaN (all ones but the sign), as PTX cvt gives. */
TEST(test_bf16_all_patterns_round_trip_through_f32) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ir_bf16_to_f32((uint16_t)h);
        CHECK(bits_of(f) == h << 16);
        uint16_t back = ir_f32_to_bf16(f);
        if (isnan(f)) {
            CHECKF(back == 0x7fff, "bf16 NaN 0x%04x came back as 0x%04x", h, back);
        } else {
            CHECKF(back == h, "bf16 0x%04x -> %g -> 0x%04x", h, f, back);
        }
    }
}

TEST(test_f16_all_patterns_round_trip_through_f32) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ir_f16_to_f32((uint16_t)h);
        uint16_t back = ir_f32_to_f16(f);
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        if (e == 31 && m) {
            CHECK(isnan(f));
            CHECKF(back == 0x7fff, "f16 NaN 0x%04x came back as 0x%04x", h, back);
            continue;
        }
        /* The value from the definition, not from the code under test. */
        double want = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);
        if (h >> 15) want = -want;
        CHECKF((double)f == want && !!signbit(f) == (int)(h >> 15), "f16 0x%04x decoded to %g", h, f);
        CHECKF(back == h, "f16 0x%04x -> %g -> 0x%04x", h, f, back);
    }
}

TEST(test_e4m3_all_patterns_round_trip_through_f32) {
    int nans = 0;
    for (uint32_t b = 0; b < 256; b++) {
        float f = ir_e4m3_to_f32((uint8_t)b);
        uint32_t e = (b >> 3) & 15, m = b & 7;
        if (e == 15 && m == 7) {
            CHECK(isnan(f));
            CHECK(ir_f32_to_e4m3(f) == 0x7f);
            nans++;
            continue;
        }
        double want = e == 0 ? ldexp(m, -9) : ldexp(8 + m, (int)e - 10);
        if (b >> 7) want = -want;
        CHECKF((double)f == want && !!signbit(f) == (int)(b >> 7), "e4m3 0x%02x decoded to %g", b, f);
        CHECKF(ir_f32_to_e4m3(f) == b, "e4m3 0x%02x -> %g -> 0x%02x", b, f, ir_f32_to_e4m3(f));
    }
    CHECK(nans == 2);
    CHECK(ir_e4m3_to_f32(0x7e) == 448.0f);
    CHECK(ir_e4m3_to_f32(0x01) == ldexpf(1, -9));
}

TEST(test_e5m2_all_patterns_round_trip_through_f32) {
    for (uint32_t b = 0; b < 256; b++) {
        float f = ir_e5m2_to_f32((uint8_t)b);
        uint32_t e = (b >> 2) & 31, m = b & 3;
        uint8_t back = ir_f32_to_e5m2(f);
        if (e == 31 && m) {
            CHECK(isnan(f));
            CHECK(back == 0x7f);
            continue;
        }
        double want = e == 31 ? INFINITY : e == 0 ? ldexp(m, -16) : ldexp(4 + m, (int)e - 17);
        if (b >> 7) want = -want;
        CHECKF((double)f == want && !!signbit(f) == (int)(b >> 7), "e5m2 0x%02x decoded to %g", b, f);
        CHECKF(back == b, "e5m2 0x%02x -> %g -> 0x%02x", b, f, back);
    }
    CHECK(ir_e5m2_to_f32(0x7b) == 57344.0f);
}

/* ---- rounding against a nearest-value search ------------------------ */

typedef struct fmt_case {
    int dtype;
    int npat;            /* patterns: 1 << bits */
    int has_inf;
} fmt_case;

static const fmt_case FORMATS[] = {
    {TJ_F16, 65536, 1}, {TJ_BF16, 65536, 1}, {TJ_F8E4M3, 256, 0}, {TJ_F8E5M2, 256, 1}};

static double decode(int dtype, uint32_t p) {
    switch (dtype) {
    case TJ_F16: return ir_f16_to_f32((uint16_t)p);
    case TJ_BF16: return ir_bf16_to_f32((uint16_t)p);
    case TJ_F8E4M3: return ir_e4m3_to_f32((uint8_t)p);
    default: return ir_e5m2_to_f32((uint8_t)p);
    }
}

static uint32_t encode_f32(int dtype, float x) {
    switch (dtype) {
    case TJ_F16: return ir_f32_to_f16(x);
    case TJ_BF16: return ir_f32_to_bf16(x);
    case TJ_F8E4M3: return ir_f32_to_e4m3(x);
    default: return ir_f32_to_e5m2(x);
    }
}

/* Non-negative finite values in increasing order, with their patterns. */
typedef struct ladder {
    double *v;
    uint32_t *p;
    int n;
} ladder;

static int build_ladder(const fmt_case *fc, ladder *L) {
    L->v = malloc((size_t)fc->npat * sizeof(double));
    L->p = malloc((size_t)fc->npat * sizeof(uint32_t));
    if (!L->v || !L->p) return 0;
    L->n = 0;
    uint32_t sign = (uint32_t)fc->npat >> 1;
    for (uint32_t p = 0; p < sign; p++) {
        double v = decode(fc->dtype, p);
        if (isfinite(v)) {
            L->v[L->n] = v;
            L->p[L->n++] = p; /* patterns of positive values increase with value */
        }
    }
    return 1;
}

/* The pattern x must round to: nearest ladder value, ties to the even
 * pattern; beyond the top, inf (IEEE-like: at or past max + ulp/2) or
 * the max (e4m3 saturates). */
static uint32_t nearest(const fmt_case *fc, const ladder *L, double x) {
    uint32_t sign = signbit(x) ? (uint32_t)fc->npat >> 1 : 0;
    double a = fabs(x);
    double top = L->v[L->n - 1], ulp = top - L->v[L->n - 2];
    if (a >= top) {
        int over = fc->has_inf && a >= top + ulp / 2;
        return sign | (over ? L->p[L->n - 1] + 1 : L->p[L->n - 1]);
    }
    int lo = 0, hi = L->n - 1; /* v[lo] <= a < v[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (L->v[mid] <= a) lo = mid; else hi = mid;
    }
    double dl = a - L->v[lo], dh = L->v[hi] - a;
    int pick = dl < dh ? lo : dh < dl ? hi : ((L->p[lo] & 1) ? hi : lo);
    return sign | L->p[pick];
}

TEST(test_f32_to_small_floats_round_to_nearest_even) {
    for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++) {
        const fmt_case *fc = &FORMATS[f];
        ladder L;
        CHECK(build_ladder(fc, &L));
        for (int i = 0; i < 200000; i++) {
            /* Random magnitudes over the whole range, subnormals included. */
            double x = ldexp(harness_uniform(1.0, 2.0), (int)harness_randint(-140, 20));
            if (fc->dtype == TJ_BF16) x = ldexp(x, (int)harness_randint(-2, 110));
            if (harness_next() & 1) x = -x;
            float xf = (float)x;
            uint32_t want = nearest(fc, &L, xf), got = encode_f32(fc->dtype, xf);
            if (got != want) {
                free(L.v);
                free(L.p);
                CHECKF(0, "%s(%a) = 0x%x, want 0x%x", tj_dtype_name((tj_dtype)fc->dtype),
                       (double)xf, got, want);
            }
        }
        /* Every midpoint between neighbours is a tie: it goes to the even pattern. */
        for (int k = 0; k + 1 < L.n; k++) {
            double mid = (L.v[k] + L.v[k + 1]) / 2;
            if ((double)(float)mid != mid) continue;
            uint32_t want = (L.p[k] & 1) ? L.p[k + 1] : L.p[k];
            uint32_t got = encode_f32(fc->dtype, (float)mid);
            uint32_t gotn = encode_f32(fc->dtype, (float)-mid);
            if (got != want || gotn != (want | ((uint32_t)fc->npat >> 1))) {
                free(L.v);
                free(L.p);
                CHECKF(0, "%s tie %a went to 0x%x / 0x%x, want 0x%x",
                       tj_dtype_name((tj_dtype)fc->dtype), mid, got, gotn, want);
            }
        }
        free(L.v);
        free(L.p);
    }
}

TEST(test_bf16_ties_to_even_on_constructed_values) {
    CHECK(ir_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80);          /* tie, down to even */
    CHECK(ir_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82);      /* tie, up to even */
    CHECK(ir_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)) == 0x3f81); /* above tie */
    CHECK(ir_f32_to_bf16(-(1.0f + ldexpf(1, -8))) == 0xbf80);
    /* Subnormal bf16: half the smallest subnormal is a tie to zero. */
    CHECK(ir_f32_to_bf16(ldexpf(1, -134)) == 0x0000);
    CHECK(ir_f32_to_bf16(3 * ldexpf(1, -134)) == 0x0002);
    CHECK(ir_f32_to_bf16(float_of(0x7f7fffff)) == 0x7f80); /* FLT_MAX rounds to inf */
}

TEST(test_f16_ties_overflow_and_subnormals) {
    CHECK(ir_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00);
    CHECK(ir_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);
    CHECK(ir_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(ir_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(ir_f32_to_f16(65520.0f) == 0x7c00); /* tie at max + ulp/2 goes to inf */
    CHECK(ir_f32_to_f16(-1e10f) == 0xfc00);
    CHECK(ir_f32_to_f16(ldexpf(1, -24)) == 0x0001);
    CHECK(ir_f32_to_f16(ldexpf(1, -25)) == 0x0000);       /* tie to even: zero */
    CHECK(ir_f32_to_f16(ldexpf(3, -25)) == 0x0002);
    CHECK(ir_f32_to_f16(-ldexpf(1, -26)) == 0x8000);      /* keeps the sign of zero */
    CHECK(ir_f32_to_f16(ldexpf(1023, -24) + ldexpf(1, -25)) == 0x0400); /* up into normals */
}

TEST(test_e4m3_saturates_and_maps_nan) {
    CHECK(ir_f32_to_e4m3(448.0f) == 0x7e);
    CHECK(ir_f32_to_e4m3(460.0f) == 0x7e);
    CHECK(ir_f32_to_e4m3(464.0f) == 0x7e); /* tie between 448 and (absent) 480 */
    CHECK(ir_f32_to_e4m3(500.0f) == 0x7e);
    CHECK(ir_f32_to_e4m3(1e30f) == 0x7e);
    CHECK(ir_f32_to_e4m3(-1e30f) == 0xfe);
    CHECK(ir_f32_to_e4m3(INFINITY) == 0x7e);
    CHECK(ir_f32_to_e4m3(-INFINITY) == 0xfe);
    CHECK(ir_f32_to_e4m3(NAN) == 0x7f);
    CHECK(ir_f32_to_e4m3(-NAN) == 0x7f);
    CHECK(ir_f32_to_e4m3(ldexpf(1, -10)) == 0x00); /* half the smallest subnormal: tie to 0 */
    CHECK(ir_f32_to_e4m3(ldexpf(3, -10)) == 0x02);
}

TEST(test_e5m2_overflows_to_inf) {
    CHECK(ir_f32_to_e5m2(57344.0f) == 0x7b);
    CHECK(ir_f32_to_e5m2(60000.0f) == 0x7b);
    CHECK(ir_f32_to_e5m2(61440.0f) == 0x7c); /* max + ulp/2 */
    CHECK(ir_f32_to_e5m2(-INFINITY) == 0xfc);
    CHECK(ir_f32_to_e5m2(-NAN) == 0x7f && ir_f32_to_f16(-NAN) == 0x7fff);
    CHECK(ir_f32_to_bf16(-NAN) == 0x7fff);
}

/* ---- elements and tj_convert --------------------------------------- */

TEST(test_round_to_rounds_doubles_once) {
    /* Just above a bf16 tie in double, but a tie after rounding to f32. */
    double x = 1.0 + ldexp(1, -8) + ldexp(1, -40);
    CHECK(ir_round_to(TJ_BF16, x) == 1.0 + ldexp(1, -7));
    CHECK(ir_round_to(TJ_F32, x) == 1.0 + ldexp(1, -8));
    CHECK(ir_round_to(TJ_F64, x) == x);
    CHECK(ir_round_to(TJ_F8E4M3, 1000.0) == 448.0);
    CHECK(ir_round_to(TJ_F16, 1e6) == INFINITY);
    CHECK(isnan(ir_round_to(TJ_BF16, NAN)));
    CHECK(ir_round_to(TJ_I32, -2.75) == -2.0);
    CHECK(ir_round_to(TJ_I32, 2.75) == 2.0);
    CHECK(ir_round_to(TJ_I32, 3e9) == -1294967296.0); /* via i64, low 32 bits */
    CHECK(ir_round_to(TJ_I64, 1e30) == 9223372036854775807.0);
    CHECK(ir_round_to(TJ_I32, NAN) == 0.0);
    CHECK(ir_round_to(TJ_BOOL, -0.5) == 1.0);
    CHECK(ir_round_to(TJ_BOOL, 0.0) == 0.0);
}

TEST(test_read_write_elem_every_dtype) {
    unsigned char buf[8];
    for (int t = 0; t < TJ_DTYPE_COUNT; t++) {
        double x = t == TJ_BOOL ? 1.0 : t == TJ_F8E4M3 || t == TJ_F8E5M2 ? -1.5 : -3.0;
        memset(buf, 0xa5, sizeof buf);
        ir_write_elem(t, buf, x);
        CHECKF(ir_read_elem(t, buf) == x, "%s", tj_dtype_name((tj_dtype)t));
        for (size_t k = tj_dtype_size((tj_dtype)t); k < sizeof buf; k++) CHECK(buf[k] == 0xa5);
    }
    uint16_t h;
    ir_write_elem(TJ_BF16, &h, 1.0 + 3 * ldexp(1, -8));
    CHECK(h == 0x3f82);
}

/* Conversions between every pair, on values every dtype holds exactly. */
TEST(test_convert_every_pair_on_exact_values) {
    static const double vals[] = {1, 0, 3, 1, 2, 0, 1, 4};
    enum { N = 8 };
    for (int s = 0; s < TJ_DTYPE_COUNT; s++)
        for (int d = 0; d < TJ_DTYPE_COUNT; d++) {
            unsigned char src[N * 8], dst[N * 8 + 8], f64[N * 8];
            CHECK_OK(tj_convert((tj_dtype)s, src, TJ_F64, vals, N));
            memset(dst, 0x5a, sizeof dst);
            CHECK_OK(tj_convert((tj_dtype)d, dst, (tj_dtype)s, src, N));
            size_t es = tj_dtype_size((tj_dtype)d);
            for (size_t k = N * es; k < sizeof dst; k++) CHECK(dst[k] == 0x5a);
            CHECK_OK(tj_convert(TJ_F64, f64, (tj_dtype)d, dst, N));
            for (int k = 0; k < N; k++) {
                double got;
                memcpy(&got, f64 + 8 * k, 8);
                double want = (s == TJ_BOOL || d == TJ_BOOL) ? (vals[k] != 0) : vals[k];
                CHECKF(got == want, "%s -> %s: element %d is %g, want %g",
                       tj_dtype_name((tj_dtype)s), tj_dtype_name((tj_dtype)d), k, got, want);
            }
        }
}

/* Truncation saturates to the i64 range; i32 keeps the low 32 bits of
 * that, as the GPU's cvt.rzi.s64.f32 and a 32-bit move give. */
TEST(test_convert_float_to_int_truncates_and_wraps) {
    float in[] = {-2.75f, 2.75f, -0.5f, 3e9f, -3e9f, NAN, INFINITY, 7.0f};
    int32_t out32[8];
    CHECK_OK(tj_convert(TJ_I32, out32, TJ_F32, in, 8));
    int32_t want32[] = {-2, 2, 0, -1294967296, 1294967296, 0, -1, 7};
    for (int k = 0; k < 8; k++) CHECKF(out32[k] == want32[k], "element %d: %d", k, out32[k]);
    int64_t out64[8];
    CHECK_OK(tj_convert(TJ_I64, out64, TJ_F32, in, 8));
    CHECK(out64[3] == 3000000000LL && out64[4] == -3000000000LL && out64[5] == 0);
    CHECK(out64[6] == INT64_MAX);
    uint8_t b[8];
    CHECK_OK(tj_convert(TJ_BOOL, b, TJ_F32, in, 8));
    CHECK(b[0] == 1 && b[2] == 1 && b[5] == 1);
}

TEST(test_convert_int_to_int_wraps) {
    int64_t in[] = {((int64_t)1 << 32) + 5, -1, (int64_t)INT32_MAX + 1, 0};
    int32_t out[4];
    CHECK_OK(tj_convert(TJ_I32, out, TJ_I64, in, 4));
    CHECK(out[0] == 5 && out[1] == -1 && out[2] == INT32_MIN && out[3] == 0);
    int64_t back[4];
    CHECK_OK(tj_convert(TJ_I64, back, TJ_I32, out, 4));
    CHECK(back[2] == INT32_MIN);
    uint8_t b[4];
    CHECK_OK(tj_convert(TJ_BOOL, b, TJ_I64, in, 4));
    CHECK(b[0] == 1 && b[1] == 1 && b[3] == 0);
}

TEST(test_convert_large_int_to_float_rounds_once) {
    /* 2^60 + 2^36 + 1: a tie for f32 (24 bits) in the upper bits, broken
     * upward by the low 1 — lost if the value went through a double. */
    int64_t v = ((int64_t)1 << 60) + ((int64_t)1 << 36) + 1;
    float f;
    CHECK_OK(tj_convert(TJ_F32, &f, TJ_I64, &v, 1));
    CHECK((double)f == ldexp(1, 60) + ldexp(1, 37));
    uint16_t h;
    int64_t w = ((int64_t)1 << 60) + ((int64_t)1 << 52) + 1; /* bf16 tie + 1 */
    CHECK_OK(tj_convert(TJ_BF16, &h, TJ_I64, &w, 1));
    CHECK(ir_bf16_to_f32(h) == ldexpf(1, 60) + ldexpf(1, 53));
    double d;
    CHECK_OK(tj_convert(TJ_F64, &d, TJ_I64, &w, 1));
    CHECK(d == ldexp(1, 60) + ldexp(1, 52));
}

TEST(test_convert_rejects_bad_arguments) {
    float x = 1;
    CHECK_ERR(tj_convert(TJ_DTYPE_COUNT, &x, TJ_F32, &x, 1), TJ_ERR_INVALID_ARG, "dtype");
    CHECK_ERR(tj_convert(TJ_F32, &x, (tj_dtype)-3, &x, 1), TJ_ERR_INVALID_ARG, "dtype");
    CHECK_ERR(tj_convert(TJ_F32, NULL, TJ_F32, &x, 1), TJ_ERR_INVALID_ARG, "dst");
    CHECK_ERR(tj_convert(TJ_F32, &x, TJ_F32, NULL, 1), TJ_ERR_INVALID_ARG, "src");
    CHECK_OK(tj_convert(TJ_F32, NULL, TJ_F32, NULL, 0));
}

int main(void) { return harness_main(); }
