/*
 * frag.h — the mma accumulator-fragment layout that attention_sm90 and
 * decode both hold their values in, and the lines both write for it
 * (frag.c). A thread holds a value of a [rows, N] tile as: a row value
 * ([rows, 1]) one float per row half h (rows rrow + 8h); a column value
 * ([1, N]) e[2t + c]; a full tile e[4t + 2h + c], for 8-column block t,
 * row half h and column c of the pair. `hr` is the count of row halves
 * a thread walks, as the kernel names it ("2" for wgmma's 64-row
 * fragments, "HR" in decode). Internal.
 */
#ifndef TJ_FRAG_H
#define TJ_FRAG_H

#include "emit.h"

enum { FRAG_SCALAR = 1, FRAG_ROW, FRAG_COL, FRAG_FULL };

/* Values a thread holds of a value of class cls with n columns. */
static inline int frag_count(int cls, int n) {
    return cls == FRAG_ROW ? 2 : cls == FRAG_COL ? n / 4 : n / 2;
}

/* The array index of the current element for class cls. */
static inline const char *frag_slot(int cls) {
    return cls == FRAG_ROW ? "h" : cls == FRAG_COL ? "2 * t + c" : "4 * t + 2 * h + c";
}

/* Open the unrolled element loops for class cls over n columns (one
 * brace to close), indented 2·depth. */
void frag_open_elems(strbuf *out, int depth, int cls, int n, const char *hr);

/* float e<id>[2] = the row reduction `sub` (TJ_SUM / TJ_RMAX / TJ_RMIN)
 * of full tile `in` with n columns: this thread's columns, then its quad
 * through quad<sum|max|min> (a function-name prefix, e.g.
 * "tj::sm90::quad_"). The comment names the reduction when `named`. */
void frag_reduce(strbuf *out, int depth, int32_t id, int sub, const char *in, int n,
                 const char *hr, const char *quad, int named);

/* The same into dst[h], an array declared already. */
void frag_reduce_into(strbuf *out, int depth, const char *dst, int sub, const char *in, int n,
                      const char *hr, const char *quad);

/* `inb` (in bounds) and `at` (element offset) of element (li, lj) of a
 * load's or store's tile, from the per-dim bases <pfx>_b<d> the caller
 * declared: the expressions for the tile's row and column index. */
void frag_access_index(strbuf *out, int depth, const tj_graph *g, int32_t id, const char *pfx,
                       const char *li, const char *lj);

#endif
