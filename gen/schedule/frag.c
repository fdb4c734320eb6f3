/*
 * frag.c — lines for values in the mma accumulator-fragment layout
 * (frag.h), shared by attention_sm90 and decode.
 */
#include <stdio.h>

#include "frag.h"

void frag_open_elems(strbuf *out, int depth, int cls, int n, const char *hr) {
    const int in = 2 * depth;
    if (cls == FRAG_ROW) {
        sb_printf(out, "%*s#pragma unroll\n", in, "");
        sb_printf(out,
                  "%*sfor (int h = 0; h < %s; ++h) { const int t = 0, c = 0; (void)t; (void)c;\n",
                  in, "", hr);
        return;
    }
    sb_printf(out, "%*s#pragma unroll\n", in, "");
    sb_printf(out, "%*sfor (int t = 0; t < %d; ++t)\n", in, "", n / 8);
    if (cls == FRAG_COL) {
        sb_printf(out, "%*s#pragma unroll\n", in, "");
        sb_printf(out, "%*sfor (int c = 0; c < 2; ++c) { const int h = 0; (void)h;\n", in, "");
        return;
    }
    sb_printf(out, "%*s#pragma unroll\n", in, "");
    sb_printf(out, "%*sfor (int h = 0; h < %s; ++h)\n", in, "", hr);
    sb_printf(out, "%*s#pragma unroll\n", in, "");
    sb_printf(out, "%*sfor (int c = 0; c < 2; ++c) {\n", in, "");
}

/* Four partial results a row, columns j = 2t + c going to partial j % 4,
 * combined as a tree: four independent chains instead of one, so the
 * reduction is not one long dependent chain (a row of 128 columns was
 * 32 dependent adds or maxes, about 130 cycles, which the softmax waits
 * through every trip). A sum's rounding differs from the column order's
 * by a few units in the last place; max and min are exact either way. */
void frag_reduce_into(strbuf *out, int depth, const char *dst, int sub, const char *in, int n,
                      const char *hr, const char *quad) {
    const int ind = 2 * depth, m = n / 4;   /* columns a thread holds of a row */
    const char *fn = sub == TJ_SUM ? "sum" : sub == TJ_RMAX ? "max" : "min";
    char op[3][64];
    const char *fmt = sub == TJ_SUM ? "%s + %s" : sub == TJ_RMAX ? "fmaxf(%s, %s)" : "fminf(%s, %s)";
    sb_printf(out, "%*s#pragma unroll\n", ind, "");
    sb_printf(out, "%*sfor (int h = 0; h < %s; ++h) {\n", ind, "", hr);
    if (m < 8) {
        snprintf(op[0], sizeof op[0], fmt, "v", "%s[4 * (j >> 1) + 2 * h + (j & 1)]");
        sb_printf(out, "%*s  float v = %s[2 * h];\n", ind, "", in);
        sb_printf(out, "%*s  #pragma unroll\n", ind, "");
        sb_printf(out, "%*s  for (int j = 1; j < %d; ++j) v = ", ind, "", m);
        sb_printf(out, op[0], in);
        sb_printf(out, ";\n");
        sb_printf(out, "%*s  %s[h] = %s%s(v);\n", ind, "", dst, quad, fn);
    } else {
        snprintf(op[0], sizeof op[0], fmt, "v[j & 3]", "%s[4 * (j >> 1) + 2 * h + (j & 1)]");
        snprintf(op[1], sizeof op[1], fmt, "v[0]", "v[1]");
        snprintf(op[2], sizeof op[2], fmt, "v[2]", "v[3]");
        sb_printf(out, "%*s  float v[4];\n", ind, "");
        sb_printf(out, "%*s  #pragma unroll\n", ind, "");
        sb_printf(out, "%*s  for (int j = 0; j < 4; ++j) v[j] = %s[4 * (j >> 1) + 2 * h + (j & 1)];\n",
                  ind, "", in);
        sb_printf(out, "%*s  #pragma unroll\n", ind, "");
        sb_printf(out, "%*s  for (int j = 4; j < %d; ++j) v[j & 3] = ", ind, "", m);
        sb_printf(out, op[0], in);
        sb_printf(out, ";\n");
        sb_printf(out, "%*s  v[0] = %s;\n", ind, "", op[1]);
        sb_printf(out, "%*s  v[2] = %s;\n", ind, "", op[2]);
        snprintf(op[1], sizeof op[1], fmt, "v[0]", "v[2]");
        sb_printf(out, "%*s  %s[h] = %s%s(%s);\n", ind, "", dst, quad, fn, op[1]);
    }
    sb_printf(out, "%*s}\n", ind, "");
}

void frag_reduce(strbuf *out, int depth, int32_t id, int sub, const char *in, int n,
                 const char *hr, const char *quad, int named) {
    const char *fn = sub == TJ_SUM ? "sum" : sub == TJ_RMAX ? "max" : "min";
    char dst[32];
    snprintf(dst, sizeof dst, "e%d", (int)id);
    sb_printf(out,
              "%*sfloat e%d[2];   // %s%salong the row: this thread's columns, then its quad\n",
              2 * depth, "", (int)id, named ? fn : "", named ? " " : "");
    frag_reduce_into(out, depth, dst, sub, in, n, hr, quad);
}

void frag_access_index(strbuf *out, int depth, const tj_graph *g, int32_t id, const char *pfx,
                       const char *li, const char *lj) {
    const ir_node *n = &g->nodes[id];
    const ir_tensor *t = &g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = g->nodes[v].type.rank, ind = 2 * depth;
    char cond[1024] = "true", addr[1024] = "0";
    size_t co = 4, ao = 1;
    for (int d = 0; d < t->rank && co < sizeof cond && ao < sizeof addr; d++) {
        const char *idx = "";
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d) idx = (rank == 2 && k == 0) ? li : lj;
        sb_printf(out, "%*sconst long long %s_o%d = %s_b%d%s%s;\n", ind, "", pfx, d, pfx, d,
                  idx[0] ? " + " : "", idx);
        co += (size_t)snprintf(cond + co, sizeof cond - co, " && %s_o%d >= 0 && %s_o%d < t_%s_d%d",
                               pfx, d, pfx, d, t->name, d);
        ao += (size_t)snprintf(addr + ao, sizeof addr - ao, " + %s_o%d * t_%s_s%d", pfx, d,
                               t->name, d);
    }
    sb_printf(out, "%*sconst bool inb = %s;\n", ind, "", cond);
    sb_printf(out, "%*sconst long long at = %s;\n", ind, "", addr);
}
