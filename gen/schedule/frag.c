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

void frag_reduce(strbuf *out, int depth, int32_t id, int sub, const char *in, int n,
                 const char *hr, const char *quad, int named) {
    const int ind = 2 * depth;
    const char *op = sub == TJ_SUM ? "v + %s" : sub == TJ_RMAX ? "fmaxf(v, %s)" : "fminf(v, %s)";
    const char *fn = sub == TJ_SUM ? "sum" : sub == TJ_RMAX ? "max" : "min";
    char step[160], el[96];
    snprintf(el, sizeof el, "%s[4 * t + 2 * h + c]", in);
    snprintf(step, sizeof step, op, el);
    sb_printf(out,
              "%*sfloat e%d[2];   // %s%salong the row: this thread's columns, then its quad\n",
              ind, "", (int)id, named ? fn : "", named ? " " : "");
    sb_printf(out, "%*s#pragma unroll\n", ind, "");
    sb_printf(out, "%*sfor (int h = 0; h < %s; ++h) {\n", ind, "", hr);
    sb_printf(out, "%*s  float v = %s[2 * h];\n", ind, "", in);
    sb_printf(out, "%*s  #pragma unroll\n", ind, "");
    sb_printf(out, "%*s  for (int t = 0; t < %d; ++t)\n", ind, "", n / 8);
    sb_printf(out, "%*s    #pragma unroll\n", ind, "");
    sb_printf(out, "%*s    for (int c = 0; c < 2; ++c)\n", ind, "");
    sb_printf(out, "%*s      if (t | c) v = %s;\n", ind, "", step);
    sb_printf(out, "%*s  e%d[h] = %s%s(v);\n", ind, "", (int)id, quad, fn);
    sb_printf(out, "%*s}\n", ind, "");
}
