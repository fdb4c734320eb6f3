/*
 * emit_ptx_conv.c — element types, conversions and elementwise math as
 * LLVM IR, each the IR form of its templates/tj/ counterpart (types.cuh,
 * math.cuh) so both back ends compute the same values: the same
 * roundings (cvt.rn for bf16/f16, the software f8 rounding), the same
 * libdevice functions, the same integer rules (x / 0 = 0, wrapping).
 */
#include <math.h>
#include <string.h>

#include "emit_ptx_int.h"

LLVMTypeRef px_reg_type(px *p, int dtype) {
    switch (dtype) {
    case TJ_I32: return p->t_i32;
    case TJ_I64: return p->t_i64;
    case TJ_BOOL: return p->t_i1;
    default: return p->t_f32;
    }
}

LLVMTypeRef px_mem_type(px *p, int dtype) {
    switch (dtype) {
    case TJ_F32: return p->t_f32;
    case TJ_F16: case TJ_BF16: return p->t_i16;
    case TJ_I32: return p->t_i32;
    case TJ_I64: return p->t_i64;
    default: return p->t_i8;   /* f8 codes, bool bytes */
    }
}

static LLVMValueRef u32c(px *p, unsigned v) { return LLVMConstInt(p->t_i32, v, 0); }
static LLVMValueRef f32c(px *p, float v) { return LLVMConstReal(p->t_f32, v); }
static LLVMValueRef as_f32(px *p, LLVMValueRef u) { return LLVMBuildBitCast(p->b, u, p->t_f32, ""); }
static LLVMValueRef as_u32(px *p, LLVMValueRef f) { return LLVMBuildBitCast(p->b, f, p->t_i32, ""); }

/* fmul/fadd/fsub may fuse into fma, as NVRTC's default --fmad=true allows. */
static LLVMValueRef contract(LLVMValueRef v) {
    if (LLVMIsAInstruction(v)) LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
    return v;
}
static LLVMValueRef mulf(px *p, LLVMValueRef a, LLVMValueRef b) { return contract(LLVMBuildFMul(p->b, a, b, "")); }
static LLVMValueRef addf(px *p, LLVMValueRef a, LLVMValueRef b) { return contract(LLVMBuildFAdd(p->b, a, b, "")); }
static LLVMValueRef subf(px *p, LLVMValueRef a, LLVMValueRef b) { return contract(LLVMBuildFSub(p->b, a, b, "")); }
static LLVMValueRef divf(px *p, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(p->b, a, b, ""); }

static LLVMValueRef f1(px *p, const char *name, LLVMValueRef x) {
    return px_call(p, name, p->t_f32, &x, 1);
}
static LLVMValueRef f2(px *p, const char *name, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef a[2] = {x, y};
    return px_call(p, name, p->t_f32, a, 2);
}

/* ---- 8-bit floats ----------------------------------------------------- */

/* types.cuh f32_to_f8_soft: both roundings computed, the right one chosen. */
static LLVMValueRef f32_to_f8_soft(px *p, LLVMValueRef x, int mb, int bias, unsigned maxc,
                                   unsigned ovf, unsigned nanc) {
    LLVMBuilderRef b = p->b;
    LLVMValueRef u = as_u32(p, x);
    LLVMValueRef sign = LLVMBuildAnd(b, LLVMBuildLShr(b, u, u32c(p, 24), ""), u32c(p, 0x80), "");
    LLVMValueRef a = LLVMBuildAnd(b, u, u32c(p, 0x7fffffffu), "");
    /* below the smallest normal: count quanta of 2^(1-bias-mb), rounding to nearest even */
    LLVMValueRef q = mulf(p, as_f32(p, a), as_f32(p, u32c(p, (unsigned)(127 + bias - 1 + mb) << 23)));
    LLVMValueRef sub = LLVMBuildFPToUI(b, f1(p, "llvm.rint.f32", q), p->t_i32, "");
    unsigned sh = 23u - (unsigned)mb;
    LLVMValueRef r = LLVMBuildAdd(b, a, u32c(p, (1u << (sh - 1)) - 1u), "");
    r = LLVMBuildAdd(b, r, LLVMBuildAnd(b, LLVMBuildLShr(b, a, u32c(p, sh), ""), u32c(p, 1), ""), "");
    LLVMValueRef norm = LLVMBuildSub(b, LLVMBuildLShr(b, r, u32c(p, sh), ""),
                                     u32c(p, (unsigned)(127 - bias) << mb), "");
    LLVMValueRef is_sub = LLVMBuildICmp(b, LLVMIntULT, a, u32c(p, (unsigned)(127 + 1 - bias) << 23), "");
    LLVMValueRef code = LLVMBuildSelect(b, is_sub, sub, norm, "");
    code = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGT, code, u32c(p, maxc), ""), u32c(p, ovf), code, "");
    code = LLVMBuildOr(b, sign, code, "");
    code = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGT, a, u32c(p, 0x7f800000u), ""), u32c(p, nanc), code, "");
    return LLVMBuildTrunc(b, code, p->t_i8, "");
}

static LLVMValueRef f32_to_e4m3(px *p, LLVMValueRef x) {
    if (p->sm >= 89) {
        /* cvt.rn.satfinite.e4m3x2.f32 d, a, b: a to the upper byte, b to the lower (sm_89+) */
        LLVMValueRef args[2] = {f32c(p, 0.0f), x};
        LLVMValueRef r = px_asm(p, "cvt.rn.satfinite.e4m3x2.f32 $0, $1, $2;", "=h,f,f", p->t_i16, args, 2);
        return LLVMBuildTrunc(p->b, r, p->t_i8, "");
    }
    return f32_to_f8_soft(p, x, 3, 7, 0x7eu, 0x7eu, 0x7fu);
}

static LLVMValueRef e4m3_to_f32(px *p, LLVMValueRef byte) {
    LLVMBuilderRef b = p->b;
    LLVMValueRef v = LLVMBuildZExt(b, byte, p->t_i32, "");
    LLVMValueRef sign = LLVMBuildShl(b, LLVMBuildAnd(b, v, u32c(p, 0x80), ""), u32c(p, 24), "");
    LLVMValueRef em = LLVMBuildAnd(b, v, u32c(p, 0x7f), "");
    LLVMValueRef nan = LLVMBuildOr(b, sign, u32c(p, 0x7fc00000u), "");
    LLVMValueRef norm = LLVMBuildOr(b, sign, LLVMBuildAdd(b, LLVMBuildShl(b, em, u32c(p, 20), ""),
                                                         u32c(p, 120u << 23), ""), "");
    LLVMValueRef sub = mulf(p, LLVMBuildUIToFP(b, em, p->t_f32, ""), f32c(p, 0.001953125f));
    sub = LLVMBuildOr(b, sign, as_u32(p, sub), "");
    LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGE, em, u32c(p, 8), ""), norm, sub, "");
    r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, em, u32c(p, 0x7f), ""), nan, r, "");
    return as_f32(p, r);
}

static LLVMValueRef f16_bits_to_f32(px *p, LLVMValueRef bits) {
    /* cvt.f32.f16: exact */
    return LLVMBuildFPExt(p->b, LLVMBuildBitCast(p->b, bits, p->t_half, ""), p->t_f32, "");
}

/* ---- storage <-> register ------------------------------------------- */

LLVMValueRef px_to_reg(px *p, int dtype, LLVMValueRef m) {
    LLVMBuilderRef b = p->b;
    switch (dtype) {
    case TJ_F16: return f16_bits_to_f32(p, m);
    case TJ_BF16: return as_f32(p, LLVMBuildShl(b, LLVMBuildZExt(b, m, p->t_i32, ""), u32c(p, 16), ""));
    case TJ_F8E4M3: return e4m3_to_f32(p, m);
    case TJ_F8E5M2:   /* e5m2 is the upper byte of an f16 */
        return f16_bits_to_f32(p, LLVMBuildShl(b, LLVMBuildZExt(b, m, p->t_i16, ""),
                                               LLVMConstInt(p->t_i16, 8, 0), ""));
    case TJ_BOOL: return LLVMBuildICmp(b, LLVMIntNE, m, LLVMConstInt(p->t_i8, 0, 0), "");
    default: return m;
    }
}

LLVMValueRef px_to_mem(px *p, int dtype, LLVMValueRef v) {
    LLVMBuilderRef b = p->b;
    switch (dtype) {
    case TJ_F16:   /* cvt.rn.f16.f32 */
        return LLVMBuildBitCast(b, LLVMBuildFPTrunc(b, v, p->t_half, ""), p->t_i16, "");
    case TJ_BF16:  /* cvt.rn.bf16.f32: f32 -> bf16, round to nearest even (sm_80+) */
        return px_asm(p, "cvt.rn.bf16.f32 $0, $1;", "=h,f", p->t_i16, &v, 1);
    case TJ_F8E4M3: return f32_to_e4m3(p, v);
    case TJ_F8E5M2: return f32_to_f8_soft(p, v, 2, 15, 0x7bu, 0x7cu, 0x7fu);
    case TJ_BOOL: return LLVMBuildZExt(b, v, p->t_i8, "");
    default: return v;
    }
}

LLVMValueRef px_round_to(px *p, int dtype, LLVMValueRef x) {
    if (dtype == TJ_F32) return x;
    return px_to_reg(p, dtype, px_to_mem(p, dtype, x));
}

/* types.cuh f32_to_i64 / f32_to_i32: truncate, saturate, NaN gives 0. */
static LLVMValueRef f2i(px *p, int to, LLVMValueRef x) {
    LLVMValueRef r = px_call(p, "llvm.fptosi.sat.i64.f32", p->t_i64, &x, 1);
    return to == TJ_I64 ? r : LLVMBuildTrunc(p->b, r, p->t_i32, "");
}

/* emit_cuda.c emit_cast, term by term. */
LLVMValueRef px_cast(px *p, int from, int to, LLVMValueRef x) {
    LLVMBuilderRef b = p->b;
    if (ir_is_float(to)) {
        LLVMValueRef f = from == TJ_BOOL ? LLVMBuildSelect(b, x, f32c(p, 1.0f), f32c(p, 0.0f), "")
                         : ir_is_float(from) ? x
                                             : LLVMBuildSIToFP(b, x, p->t_f32, "");
        return px_round_to(p, to, f);
    }
    if (to == TJ_BOOL) {
        if (ir_is_float(from)) return LLVMBuildFCmp(b, LLVMRealUNE, x, f32c(p, 0.0f), "");
        return LLVMBuildICmp(b, LLVMIntNE, x, LLVMConstNull(LLVMTypeOf(x)), "");
    }
    if (ir_is_float(from)) return f2i(p, to, x);
    LLVMTypeRef t = px_reg_type(p, to);
    if (from == TJ_BOOL) return LLVMBuildZExt(b, x, t, "");
    if (from == to) return x;
    return to == TJ_I64 ? LLVMBuildSExt(b, x, t, "") : LLVMBuildTrunc(b, x, t, "");
}

LLVMValueRef px_literal(px *p, int dtype, double x) {
    x = ir_round_to(dtype, x);
    if (dtype == TJ_BOOL) return LLVMConstInt(p->t_i1, x != 0, 0);
    if (dtype == TJ_I32 || dtype == TJ_I64)
        return LLVMConstInt(px_reg_type(p, dtype), (unsigned long long)(long long)x, 1);
    if (isnan(x)) return as_f32(p, u32c(p, 0x7fc00000u));
    return f32c(p, (float)x);
}

/* ---- math ----------------------------------------------------------- */

/* 1 / (1 + e^-x) and x / (1 + e^-x), as math.cuh writes them. */
static LLVMValueRef one_plus_exp_neg(px *p, LLVMValueRef x) {
    return addf(p, f32c(p, 1.0f), f1(p, "__nv_expf", LLVMBuildFNeg(p->b, x, "")));
}

static LLVMValueRef int_neg(px *p, LLVMValueRef x) {
    return LLVMBuildSub(p->b, LLVMConstNull(LLVMTypeOf(x)), x, "");
}

LLVMValueRef px_unary(px *p, int sub, int dtype, LLVMValueRef x) {
    LLVMBuilderRef b = p->b;
    if (dtype != TJ_BOOL && !ir_is_float(dtype)) {   /* i32, i64 */
        LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(x));
        LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, x, zero, "");
        switch (sub) {
        case TJ_NEG: return int_neg(p, x);
        case TJ_ABS: return LLVMBuildSelect(b, neg, int_neg(p, x), x, "");
        case TJ_RELU: return LLVMBuildSelect(b, neg, zero, x, "");
        case TJ_NOT: return LLVMBuildNot(b, x, "");
        default: return zero;
        }
    }
    if (dtype == TJ_BOOL) return LLVMBuildNot(b, x, "");   /* only NOT takes bool */
    switch (sub) {
    case TJ_NEG: return LLVMBuildFNeg(b, x, "");
    case TJ_ABS: return f1(p, "llvm.fabs.f32", x);
    case TJ_EXP: return f1(p, "__nv_expf", x);
    case TJ_EXP2: return f1(p, "__nv_exp2f", x);
    case TJ_LOG: return f1(p, "__nv_logf", x);
    case TJ_LOG2: return f1(p, "__nv_log2f", x);
    case TJ_SQRT: return f1(p, "llvm.sqrt.f32", x);   /* sqrt.rn.f32 */
    case TJ_RSQRT: return divf(p, f32c(p, 1.0f), f1(p, "llvm.sqrt.f32", x));
    case TJ_RECIP: return divf(p, f32c(p, 1.0f), x);
    case TJ_SIN: return f1(p, "__nv_sinf", x);
    case TJ_COS: return f1(p, "__nv_cosf", x);
    case TJ_TANH: return f1(p, "__nv_tanhf", x);
    case TJ_SIGMOID: return divf(p, f32c(p, 1.0f), one_plus_exp_neg(p, x));
    case TJ_SILU: return divf(p, x, one_plus_exp_neg(p, x));
    case TJ_GELU:
        return mulf(p, mulf(p, f32c(p, 0.5f), x),
                    f1(p, "__nv_erfcf", mulf(p, f32c(p, -0.70710678118654752f), x)));
    case TJ_GELU_TANH: {
        LLVMValueRef c3 = mulf(p, mulf(p, mulf(p, f32c(p, 0.044715f), x), x), x);
        LLVMValueRef u = mulf(p, f32c(p, 0.79788456080286536f), addf(p, x, c3));
        LLVMValueRef d = addf(p, f32c(p, 1.0f), f1(p, "__nv_expf", mulf(p, f32c(p, -2.0f), u)));
        return divf(p, x, d);
    }
    case TJ_RELU:   /* keeps NaN: NaN < 0 is false */
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, f32c(p, 0.0f), ""), f32c(p, 0.0f), x, "");
    case TJ_FLOOR: return f1(p, "llvm.floor.f32", x);
    case TJ_CEIL: return f1(p, "llvm.ceil.f32", x);
    default: return x;
    }
}

/* math.cuh div / mod: x / 0 = 0, MIN / -1 wraps, x % 0 = x % -1 = 0. A
 * safe divisor keeps sdiv from trapping on the cases the selects drop. */
static LLVMValueRef int_divmod(px *p, int mod, LLVMValueRef a, LLVMValueRef d) {
    LLVMBuilderRef b = p->b;
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstNull(t), m1 = LLVMConstAllOnes(t);
    LLVMValueRef is0 = LLVMBuildICmp(b, LLVMIntEQ, d, zero, "");
    LLVMValueRef ism1 = LLVMBuildICmp(b, LLVMIntEQ, d, m1, "");
    LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildOr(b, is0, ism1, ""), LLVMConstInt(t, 1, 0), d, "");
    if (mod) {
        LLVMValueRef r = LLVMBuildSRem(b, a, safe, "");
        return LLVMBuildSelect(b, LLVMBuildOr(b, is0, ism1, ""), zero, r, "");
    }
    LLVMValueRef q = LLVMBuildSDiv(b, a, safe, "");
    q = LLVMBuildSelect(b, ism1, int_neg(p, a), q, "");
    return LLVMBuildSelect(b, is0, zero, q, "");
}

LLVMValueRef px_binary(px *p, int sub, int dtype, LLVMValueRef a, LLVMValueRef c) {
    LLVMBuilderRef b = p->b;
    if (sub >= TJ_EQ) {
        static const LLVMRealPredicate fp[6] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                                LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
        static const LLVMIntPredicate sp[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT,
                                               LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
        /* bools compare as 0 < 1: unsigned on i1 */
        static const LLVMIntPredicate up[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT,
                                               LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
        int k = sub - TJ_EQ;
        if (ir_is_float(dtype)) return LLVMBuildFCmp(b, fp[k], a, c, "");
        return LLVMBuildICmp(b, dtype == TJ_BOOL ? up[k] : sp[k], a, c, "");
    }
    if (ir_is_float(dtype)) {
        switch (sub) {
        case TJ_ADD: return addf(p, a, c);
        case TJ_SUB: return subf(p, a, c);
        case TJ_MUL: return mulf(p, a, c);
        case TJ_DIV: return divf(p, a, c);   /* div.rn.f32 */
        case TJ_MAX: return f2(p, "llvm.maxnum.f32", a, c);
        case TJ_MIN: return f2(p, "llvm.minnum.f32", a, c);
        case TJ_POW: return f2(p, "__nv_powf", a, c);
        default: return a;
        }
    }
    if (dtype == TJ_BOOL) {
        switch (sub) {
        case TJ_AND: case TJ_MIN: return LLVMBuildAnd(b, a, c, "");
        case TJ_OR: case TJ_MAX: return LLVMBuildOr(b, a, c, "");
        case TJ_XOR: return LLVMBuildXor(b, a, c, "");
        default: return a;
        }
    }
    switch (sub) {
    case TJ_ADD: return LLVMBuildAdd(b, a, c, "");
    case TJ_SUB: return LLVMBuildSub(b, a, c, "");
    case TJ_MUL: return LLVMBuildMul(b, a, c, "");
    case TJ_DIV: return int_divmod(p, 0, a, c);
    case TJ_MOD: return int_divmod(p, 1, a, c);
    case TJ_CDIV:   /* div(a + b - 1, b) */
        return int_divmod(p, 0, LLVMBuildSub(b, LLVMBuildAdd(b, a, c, ""), LLVMConstInt(LLVMTypeOf(a), 1, 0), ""), c);
    case TJ_MAX: return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, a, c, ""), a, c, "");
    case TJ_MIN: return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, a, c, ""), a, c, "");
    case TJ_AND: return LLVMBuildAnd(b, a, c, "");
    case TJ_OR: return LLVMBuildOr(b, a, c, "");
    case TJ_XOR: return LLVMBuildXor(b, a, c, "");
    default: return a;
    }
}

LLVMValueRef px_fma(px *p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    LLVMValueRef args[3] = {a, b, c};
    return px_call(p, "llvm.fma.f32", p->t_f32, args, 3);
}
