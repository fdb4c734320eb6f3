/*
 * emit_common.c — what every CUDA C++ lowering (the generic one and the
 * fast schedules) writes the same way: the C types a dtype lives in, exact
 * literals, and the C expression of each elementwise op. One table, so a
 * fix to an op's lowering reaches every schedule at once.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"

const char *emit_reg_type(int dtype) {
    switch (dtype) {
    case TJ_I32: return "int";
    case TJ_I64: return "long long";
    case TJ_BOOL: return "bool";
    default: return "float";
    }
}

const char *emit_mem_type(int dtype) {
    switch (dtype) {
    case TJ_F32: return "float";
    case TJ_F16: return "tj::f16";
    case TJ_BF16: return "tj::bf16";
    case TJ_F8E4M3: return "tj::f8e4m3";
    case TJ_F8E5M2: return "tj::f8e5m2";
    case TJ_I32: return "int";
    case TJ_I64: return "long long";
    case TJ_BOOL: return "unsigned char";
    default: return "void";
    }
}

void emit_literal(int dtype, double x, char *buf, size_t size) {
    x = ir_round_to(dtype, x);
    if (dtype == TJ_BOOL)
        snprintf(buf, size, "%s", x != 0 ? "true" : "false");
    else if (dtype == TJ_I32)
        snprintf(buf, size, "%lld", (long long)x);
    else if (dtype == TJ_I64)
        snprintf(buf, size, "%lldLL", (long long)x);
    else if (isnan(x))
        snprintf(buf, size, "__int_as_float(0x7fc00000)");
    else if (isinf(x))
        snprintf(buf, size, "__int_as_float(%s)", x > 0 ? "0x7f800000" : "(int)0xff800000");
    else {
        /* %.9g round-trips a float; a C++ float literal needs a '.' or 'e'. */
        char num[48];
        snprintf(num, sizeof num, "%.9g", (float)x);
        snprintf(buf, size, "%s%sf", num, strpbrk(num, ".e") ? "" : ".0");
    }
}

static const char *const unary_fmt[TJ_UNARY_COUNT] = {
    [TJ_NEG] = "(-%1$s)",            [TJ_ABS] = "tj::abs(%1$s)",
    [TJ_EXP] = "tj::exp(%1$s)",      [TJ_EXP2] = "tj::exp2(%1$s)",
    [TJ_LOG] = "tj::log(%1$s)",      [TJ_LOG2] = "tj::log2(%1$s)",
    [TJ_SQRT] = "tj::sqrt(%1$s)",    [TJ_RSQRT] = "tj::rsqrt(%1$s)",
    [TJ_RECIP] = "tj::recip(%1$s)",  [TJ_SIN] = "tj::sin(%1$s)",
    [TJ_COS] = "tj::cos(%1$s)",      [TJ_TANH] = "tj::tanh(%1$s)",
    [TJ_SIGMOID] = "tj::sigmoid(%1$s)", [TJ_SILU] = "tj::silu(%1$s)",
    [TJ_GELU] = "tj::gelu(%1$s)",    [TJ_GELU_TANH] = "tj::gelu_tanh(%1$s)",
    [TJ_RELU] = "tj::relu(%1$s)",    [TJ_FLOOR] = "tj::floor(%1$s)",
    [TJ_CEIL] = "tj::ceil(%1$s)",    [TJ_NOT] = "tj::lnot(%1$s)",
};

static const char *const binary_fmt[TJ_BINARY_COUNT] = {
    [TJ_ADD] = "(%1$s + %2$s)",  [TJ_SUB] = "(%1$s - %2$s)",  [TJ_MUL] = "(%1$s * %2$s)",
    [TJ_DIV] = "tj::div(%1$s, %2$s)", [TJ_MAX] = "tj::max(%1$s, %2$s)",
    [TJ_MIN] = "tj::min(%1$s, %2$s)", [TJ_POW] = "tj::pow(%1$s, %2$s)",
    [TJ_MOD] = "tj::mod(%1$s, %2$s)", [TJ_CDIV] = "tj::cdiv(%1$s, %2$s)",
    [TJ_AND] = "tj::land(%1$s, %2$s)", [TJ_OR] = "tj::lor(%1$s, %2$s)",
    [TJ_XOR] = "tj::lxor(%1$s, %2$s)",
    [TJ_EQ] = "(%1$s == %2$s)", [TJ_NE] = "(%1$s != %2$s)", [TJ_LT] = "(%1$s < %2$s)",
    [TJ_LE] = "(%1$s <= %2$s)", [TJ_GT] = "(%1$s > %2$s)", [TJ_GE] = "(%1$s >= %2$s)",
};

void emit_mark_live(const tj_graph *g, uint8_t *live, int32_t id) {
    if (live[id]) return;
    live[id] = 1;
    const ir_node *n = &g->nodes[id];
    for (int k = 0; k < n->nin; k++) emit_mark_live(g, live, n->in[k]);
    if (n->op == IR_FOR && n->loop) {
        /* A carried value is a variable of the loop even when only its
         * yield is read (l = f(acc') in place of f(l, ...)): live too. */
        for (int k = 0; k < n->loop->ncarried; k++) {
            emit_mark_live(g, live, n->loop->carried[k]);
            emit_mark_live(g, live, n->loop->yields[k]);
        }
        for (int k = 0; k < n->loop->nbody; k++) {
            ir_op op = g->nodes[n->loop->body[k]].op;
            if (op == IR_STORE || op == IR_FOR) emit_mark_live(g, live, n->loop->body[k]);
        }
    }
}

void emit_mark_live_all(const tj_graph *g, uint8_t *live) {
    for (int k = 0; k < g->nbody; k++) {
        ir_op op = g->nodes[g->body[k]].op;
        if (op == IR_STORE || op == IR_FOR) emit_mark_live(g, live, g->body[k]);
    }
}

const char *emit_unary_fmt(int op) {
    return op >= 0 && op < TJ_UNARY_COUNT && unary_fmt[op] ? unary_fmt[op] : "%1$s";
}

const char *emit_binary_fmt(int op) {
    return op >= 0 && op < TJ_BINARY_COUNT && binary_fmt[op] ? binary_fmt[op] : "%1$s";
}

int emit_sym_baked(const tj_graph *g, const int64_t *sym, int s) {
    return g->syms[s].policy == TJ_EXACT && sym && sym[s] != TJ_UNBOUND;
}

void emit_sched_prologue(strbuf *out, int depth, const tj_graph *g, const int64_t *sym) {
    const int ind = 2 * depth;
    for (int s = 0; s < g->nsyms; s++)
        if (emit_sym_baked(g, sym, s))
            sb_printf(out, "%*sconstexpr int sym_%s = %lld;\n", ind, "", g->syms[s].name,
                      (long long)sym[s]);
    for (int t = 0; t < g->ntensors; t++) {
        const ir_tensor *x = &g->tensors[t];
        char e[96];
        for (int d = 0; d < x->rank; d++) {
            if (tj_dim_is_sym(x->dims[d]))
                snprintf(e, sizeof e, "sym_%s", g->syms[ir_dim_sym(g, x->dims[d])].name);
            else
                snprintf(e, sizeof e, "%lldLL", (long long)x->dims[d]);
            sb_printf(out, "%*sconst long long t_%s_d%d = %s; (void)t_%s_d%d;\n", ind, "", x->name, d,
                      e, x->name, d);
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            if (x->has_strides && tj_dim_is_sym(x->strides[d]))
                snprintf(e, sizeof e, "sym_%s", g->syms[ir_dim_sym(g, x->strides[d])].name);
            else if (x->has_strides)
                snprintf(e, sizeof e, "%lldLL", (long long)x->strides[d]);
            else if (d == x->rank - 1)
                snprintf(e, sizeof e, "1LL");
            else
                snprintf(e, sizeof e, "t_%s_s%d * t_%s_d%d", x->name, d + 1, x->name, d + 1);
            sb_printf(out, "%*sconst long long t_%s_s%d = %s; (void)t_%s_s%d;\n", ind, "", x->name, d,
                      e, x->name, d);
        }
    }
    for (int i = 0; i < g->nscalars; i++) {
        int dt = g->scalars[i].dtype;
        const char *n = g->scalars[i].name;
        sb_printf(out, "%*sconst %s a_%s = %sp_%s%s; (void)a_%s;\n", ind, "", emit_reg_type(dt), n,
                  dt == TJ_BOOL ? "(" : "", n, dt == TJ_BOOL ? " != 0)" : "", n);
    }
}

void emit_cast_fmt(int from, int to, const char *ns, char *fmt, size_t size) {
    if (ir_is_float(to))
        snprintf(fmt, size, "%s::round_to<%s>(%s)", ns, emit_mem_type(to),
                 from == TJ_BOOL ? "(%1$s ? 1.0f : 0.0f)" : ir_is_float(from) ? "%1$s" : "(float)%1$s");
    else if (to == TJ_BOOL)
        snprintf(fmt, size, "(%%1$s != 0)");
    else if (ir_is_float(from))
        snprintf(fmt, size, "%s::f2i<%s>(%%1$s)", ns, emit_reg_type(to));
    else
        snprintf(fmt, size, "(%s)%%1$s", emit_reg_type(to));
}

int emit_cast_is_store_rounding(const tj_graph *g, int32_t id) {
    const ir_node *n = &g->nodes[id];
    if (n->op != IR_CAST || (n->type.dtype != TJ_BF16 && n->type.dtype != TJ_F16) ||
        g->nodes[n->in[0]].type.dtype != TJ_F32)
        return 0;
    int users = 0;
    for (int32_t k = 0; k < g->nnodes; k++) {
        const ir_node *u = &g->nodes[k];
        for (int i = 0; i < u->nin; i++) {
            if (u->in[i] != id) continue;
            if (u->op != IR_STORE || i != u->nin - 1 || (u->flags & IR_STORE_MASKED) ||
                (int)g->tensors[u->tensor].dtype != (int)n->type.dtype)
                return 0;
            users++;
        }
    }
    return users > 0;
}

int emit_elementwise_expr(const tj_graph *g, int32_t id, const char *a0, const char *a1, const char *a2,
                     char *out, size_t size) {
    const ir_node *n = &g->nodes[id];
    char fmt[160];
    switch (n->op) {
    case IR_CONST: emit_literal(n->type.dtype, n->f, out, size); break;
    case IR_SYMVAL: snprintf(out, size, "sym_%s", g->syms[n->index].name); break;
    case IR_UNARY: snprintf(out, size, emit_unary_fmt(n->sub), a0); break;
    case IR_BINARY: snprintf(out, size, emit_binary_fmt(n->sub), a0, a1); break;
    case IR_WHERE: snprintf(out, size, "(%s ? %s : %s)", a0, a1, a2); break;
    case IR_FMA: snprintf(out, size, "fmaf(%s, %s, %s)", a0, a1, a2); break;
    case IR_BROADCAST: case IR_RESHAPE: snprintf(out, size, "%s", a0); break;
    case IR_CAST:
        emit_cast_fmt(g->nodes[n->in[0]].type.dtype, n->type.dtype, "tjg", fmt, sizeof fmt);
        snprintf(out, size, fmt, a0);
        break;
    default: return 0;
    }
    return 1;
}

int emit_sched_params(strbuf *out, const tj_graph *g, const int64_t *sym, const uint8_t *stored,
                      emit_launch *L) {
    uint8_t top[EMIT_MAX_PARAMS] = {0};
    if (!stored) {
        for (int k = 0; k < g->nbody; k++)
            if (g->nodes[g->body[k]].op == IR_STORE) top[g->nodes[g->body[k]].tensor] = 1;
        stored = top;
    }
    int np = 0;
    const char *sep = "";
    for (int t = 0; t < g->ntensors; t++, sep = ", ") {
        sb_printf(out, "%s%s%s *__restrict__ t_%s", sep, stored[t] ? "" : "const ",
                  emit_mem_type(g->tensors[t].dtype), g->tensors[t].name);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_TENSOR, .index = t, .ctype = EMIT_C_PTR,
                                       .size = sizeof(void *)};
    }
    for (int i = 0; i < g->nscalars; i++, sep = ", ") {
        int dt = g->scalars[i].dtype;
        int ct = ir_is_float(dt) ? EMIT_C_F32 : dt == TJ_I64 ? EMIT_C_I64 : EMIT_C_I32;
        sb_printf(out, "%s%s p_%s", sep,
                  ct == EMIT_C_F32 ? "float" : ct == EMIT_C_I64 ? "long long" : "int",
                  g->scalars[i].name);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SCALAR, .index = i, .ctype = ct,
                                       .size = ct == EMIT_C_I64 ? 8u : 4u};
    }
    for (int s = 0; s < g->nsyms; s++) {
        if (emit_sym_baked(g, sym, s)) continue;
        sb_printf(out, "%sint sym_%s", sep, g->syms[s].name);
        sep = ", ";
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SYMBOL, .index = s, .ctype = EMIT_C_I32,
                                       .size = 4};
    }
    return np;
}
