/*
 * rows.c — the row-wise recipes: eltwise, softmax, rmsnorm, layernorm.
 *
 * eltwise tiles [rows, cols] in [bm, bn] tiles on a 2-D grid. The others
 * give each program bm whole rows: the tile is [bm, cols] with the symbol
 * cols as its width (specialized: exact, or a bucket whose tail the loads
 * pad), so a row's reductions never leave the program. Math runs in f32;
 * the result is cast to the tensor dtype once, at the store.
 */
#include <math.h>

#include "recipes.h"

/* rows x cols symbols; `tile_cols`: cols sizes a tile, so it cannot be dynamic. */
static tj_status row_symbols(const rp_set *rp, tj_graph *g, int tile_cols, tj_sym *rows,
                             tj_sym *cols) {
    rp_policy pr, pc;
    tj_status s = rp_sym_policy(rp, "rows", 1, &pr);
    if (s == TJ_OK) s = rp_sym_policy(rp, "cols", !tile_cols, &pc);
    if (s != TJ_OK) return s;
    *rows = rsymbol(g, "rows", pr);
    *cols = rsymbol(g, "cols", pc);
    return TJ_OK;
}

/* ---- eltwise -------------------------------------------------------- */

enum { OP_SILU_MUL, OP_GELU_MUL, OP_GELU_TANH_MUL, OP_ADD_RELU, OP_ADD, OP_MUL };
#define ELTWISE_OPS "silu_mul|gelu_mul|gelu_tanh_mul|add_relu|add|mul"

tj_status recipe_eltwise(const rp_set *rp, tj_graph **out) {
    int op, bm, bn;
    tj_dtype dt;
    tj_status s = rp_choice(rp, "op", ELTWISE_OPS, &op);
    if (s == TJ_OK) s = rp_dtype(rp, "dtype", "bf16|f16|f32", &dt);
    if (s == TJ_OK) s = rp_pow2(rp, "bm", 1, 1024, &bm);
    if (s == TJ_OK) s = rp_pow2(rp, "bn", 1, 4096, &bn);
    if (s != TJ_OK) return s;
    tj_graph *g;
    if ((s = tj_graph_new("eltwise", &g)) != TJ_OK) return s;
    tj_sym rows, cols;
    if ((s = row_symbols(rp, g, 0, &rows, &cols)) != TJ_OK) return recipe_finish(g, s, out);
    tj_dim shape[2] = {tj_dim_sym(rows), tj_dim_sym(cols)}, tile[2] = {bm, bn};
    tj_tensor tx = rtensor(g, "x", dt, 2, shape);
    tj_tensor tg = rtensor(g, "g", dt, 2, shape);
    tj_tensor ty = rtensor(g, "y", dt, 2, shape);

    tj_val at[2] = {tj_program_id(g, 0), tj_program_id(g, 1)};
    tj_val x = tj_cast(g, tj_load(g, tx, at, 2, tile, NULL, 0, 0), TJ_F32);
    tj_val gv = tj_cast(g, tj_load(g, tg, at, 2, tile, NULL, 0, 0), TJ_F32);
    tj_val y;
    switch (op) {
    case OP_SILU_MUL: y = tj_mul(g, tj_unary(g, TJ_SILU, x), gv); break;
    case OP_GELU_MUL: y = tj_mul(g, tj_unary(g, TJ_GELU, x), gv); break;
    case OP_GELU_TANH_MUL: y = tj_mul(g, tj_unary(g, TJ_GELU_TANH, x), gv); break;
    case OP_ADD_RELU: y = tj_unary(g, TJ_RELU, tj_add(g, x, gv)); break;
    case OP_ADD: y = tj_add(g, x, gv); break;
    default: y = tj_mul(g, x, gv); break;
    }
    tj_store(g, ty, at, tj_cast(g, y, dt), NULL, 0);

    tj_val grid[2] = {rcdiv(g, tj_symval(g, rows), bm), rcdiv(g, tj_symval(g, cols), bn)};
    tj_set_grid(g, 2, grid);
    return recipe_finish(g, TJ_OK, out);
}

/* ---- shared by the whole-row recipes ------------------------------- */

typedef struct rowctx {
    tj_graph *g;
    tj_dtype dt;
    int bm;
    tj_sym rows, cols;
    int padded;          /* cols may be bucketed: the tile's tail is padding */
    tj_dim tile[2];      /* [bm, cols] */
    tj_val at[2];        /* [program_id(0), 0] */
} rowctx;

static tj_status row_begin(const rp_set *rp, const char *name, rowctx *c) {
    tj_status s = rp_dtype(rp, "dtype", "bf16|f16|f32", &c->dt);
    if (s == TJ_OK) s = rp_pow2(rp, "bm", 1, 256, &c->bm);
    if (s != TJ_OK) return s;
    if ((s = tj_graph_new(name, &c->g)) != TJ_OK) return s;
    if ((s = row_symbols(rp, c->g, 1, &c->rows, &c->cols)) != TJ_OK) {
        tj_graph_free(c->g);
        return s;
    }
    c->padded = tj_symbol_policy(c->g, c->cols) != TJ_EXACT;
    c->tile[0] = c->bm;
    c->tile[1] = tj_dim_sym(c->cols);
    c->at[0] = tj_program_id(c->g, 0);
    c->at[1] = ri32(c->g, 0);
    return TJ_OK;
}

/* One program a bm-row tile. */
static void row_grid(rowctx *c) {
    tj_val grid[1] = {rcdiv(c->g, tj_symval(c->g, c->rows), c->bm)};
    tj_set_grid(c->g, 1, grid);
}

/* x as f32 [bm, cols], the tail past cols read as `pad`. */
static tj_val row_load(rowctx *c, tj_tensor t, double pad) {
    return tj_cast(c->g, tj_load(c->g, t, c->at, 2, c->tile, NULL, pad, 0), TJ_F32);
}

/* A per-column vector (w, b) as f32 [cols]. */
static tj_val col_load(rowctx *c, tj_tensor t) {
    tj_val at[1] = {c->at[1]};
    return tj_cast(c->g, tj_load(c->g, t, at, 1, &c->tile[1], NULL, 0, 0), TJ_F32);
}

static void row_store(rowctx *c, tj_tensor t, tj_val y) {
    tj_store(c->g, t, c->at, tj_cast(c->g, y, c->dt), NULL, 0);
}

/* The true row length as f32, to divide sums by (the bucket's tail is padding). */
static tj_val cols_f32(rowctx *c) {
    return tj_cast(c->g, tj_symval(c->g, c->cols), TJ_F32);
}

/* ---- softmax -------------------------------------------------------- */

tj_status recipe_softmax(const rp_set *rp, tj_graph **out) {
    rowctx c;
    tj_status s = row_begin(rp, "softmax", &c);
    if (s != TJ_OK) return s;
    tj_graph *g = c.g;
    tj_dim shape[2] = {tj_dim_sym(c.rows), tj_dim_sym(c.cols)};
    tj_tensor tx = rtensor(g, "x", c.dt, 2, shape);
    tj_tensor ty = rtensor(g, "y", c.dt, 2, shape);

    /* -inf padding drops out of both the max and the sum (exp(-inf) = 0). */
    tj_val x = row_load(&c, tx, -INFINITY);
    tj_val m = tj_rowmax(g, x);
    tj_val e = tj_exp(g, tj_sub(g, x, m));
    tj_val y = tj_mul(g, e, tj_unary(g, TJ_RECIP, tj_rowsum(g, e)));
    row_store(&c, ty, y);
    row_grid(&c);
    return recipe_finish(g, TJ_OK, out);
}

/* ---- rmsnorm -------------------------------------------------------- */

tj_status recipe_rmsnorm(const rp_set *rp, tj_graph **out) {
    rowctx c;
    tj_status s = row_begin(rp, "rmsnorm", &c);
    if (s != TJ_OK) return s;
    tj_graph *g = c.g;
    tj_dim shape[2] = {tj_dim_sym(c.rows), tj_dim_sym(c.cols)};
    tj_tensor tx = rtensor(g, "x", c.dt, 2, shape);
    tj_tensor tw = rtensor(g, "w", c.dt, 1, &shape[1]);
    tj_tensor ty = rtensor(g, "y", c.dt, 2, shape);
    tj_val eps = tj_scalar_arg(g, "eps", TJ_F32);

    tj_val x = row_load(&c, tx, 0); /* zeros add nothing to the sum of squares */
    tj_val ms = tj_div(g, tj_rowsum(g, tj_mul(g, x, x)), cols_f32(&c));
    tj_val r = tj_unary(g, TJ_RSQRT, tj_add(g, ms, eps));
    row_store(&c, ty, tj_mul(g, tj_mul(g, x, r), col_load(&c, tw)));
    row_grid(&c);
    return recipe_finish(g, TJ_OK, out);
}

/* ---- layernorm ------------------------------------------------------ */

tj_status recipe_layernorm(const rp_set *rp, tj_graph **out) {
    int bias;
    tj_status s = rp_flag(rp, "bias", &bias);
    if (s != TJ_OK) return s;
    rowctx c;
    if ((s = row_begin(rp, "layernorm", &c)) != TJ_OK) return s;
    tj_graph *g = c.g;
    tj_dim shape[2] = {tj_dim_sym(c.rows), tj_dim_sym(c.cols)};
    tj_tensor tx = rtensor(g, "x", c.dt, 2, shape);
    tj_tensor tw = rtensor(g, "w", c.dt, 1, &shape[1]);
    tj_tensor tb = bias ? rtensor(g, "b", c.dt, 1, &shape[1]) : (tj_tensor){TJ_NONE_ID};
    tj_tensor ty = rtensor(g, "y", c.dt, 2, shape);
    tj_val eps = tj_scalar_arg(g, "eps", TJ_F32);

    tj_val n = cols_f32(&c);
    tj_val x = row_load(&c, tx, 0);
    tj_val mean = tj_div(g, tj_rowsum(g, x), n);
    tj_val xc = tj_sub(g, x, mean);
    if (c.padded) {
        /* The padded tail is 0 - mean after centering: zero it so the
         * variance sums true columns only. */
        tj_dim row[2] = {1, c.tile[1]};
        tj_val col = tj_iota(g, TJ_I32, 2, row, 1);
        tj_val in = tj_binary(g, TJ_LT, col, tj_symval(g, c.cols));
        xc = tj_where(g, in, xc, rf32(g, 0));
    }
    tj_val var = tj_div(g, tj_rowsum(g, tj_mul(g, xc, xc)), n);
    tj_val y = tj_mul(g, tj_mul(g, xc, tj_unary(g, TJ_RSQRT, tj_add(g, var, eps))),
                      col_load(&c, tw));
    if (bias) y = tj_add(g, y, col_load(&c, tb));
    row_store(&c, ty, y);
    row_grid(&c);
    return recipe_finish(g, TJ_OK, out);
}
