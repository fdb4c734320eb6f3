/*
 * decode.c — decode attention: one new query token per (batch, q head)
 * against a KV cache of kv_len tokens.
 *
 * Decoding is bound by reading the cache, so a program takes one kv head
 * and the whole group of hq/hkv q heads that share it (grouped-query
 * attention): K and V are read once for the group, and the group's query
 * rows form the M side of the q . k^T product. The KV walk is the online
 * softmax of attention.c (running max m, sum l, accumulator acc), split
 * into the unmasked full tiles and the masked tail.
 *
 * With lens=1, each sequence has its own length kv_lens[b] <= kv_len (the
 * cache capacity); the loop bound is read from that tensor.
 */
#include <math.h>

#include "recipes.h"

#define LOG2E 1.4426950408889634

typedef struct dec {
    tj_graph *g;
    tj_dtype dt;
    int grp, bn, d;
    tj_tensor k, v;
    tj_val b, kvh, q, scale, n;
} dec;

static tj_status kv_loop(dec *c, tj_val lo, tj_val hi, int masked, tj_val st[3]) {
    tj_graph *g = c->g;
    tj_val j, cur[3];
    tj_status s = tj_for_begin(g, lo, hi, ri32(g, 1), 3, st, &j, cur);
    if (s != TJ_OK) return s;
    tj_val m = cur[0], l = cur[1], acc = cur[2];
    tj_val at[4] = {c->b, j, c->kvh, ri32(g, 0)};
    int axes[2] = {1, 3};
    tj_dim kv_tile[2] = {c->bn, c->d};
    tj_val k = tj_load(g, c->k, at, 2, kv_tile, axes, 0, 0);
    tj_val sc = tj_mul(g, tj_mma(g, c->q, k, TJ_NONE, TJ_TRANS_B), c->scale);
    tj_val neg_inf = masked ? rf32(g, -INFINITY) : TJ_NONE;
    if (masked) {
        tj_dim row[2] = {1, c->bn};
        tj_val k_idx = tj_add(g, tj_iota(g, TJ_I32, 2, row, 1), tj_mul(g, j, ri32(g, c->bn)));
        sc = tj_where(g, tj_binary(g, TJ_LT, k_idx, c->n), sc, neg_inf);
    }
    tj_val m_new = tj_maximum(g, m, tj_rowmax(g, sc));
    /* Only the mask can leave a row all -inf. */
    tj_val m_use = m_new;
    if (masked) m_use = tj_where(g, tj_binary(g, TJ_EQ, m_new, neg_inf), rf32(g, 0), m_new);
    tj_val log2e = rf32(g, LOG2E);
    tj_val p = tj_unary(g, TJ_EXP2, tj_mul(g, tj_sub(g, sc, m_use), log2e));
    tj_val alpha = tj_unary(g, TJ_EXP2, tj_mul(g, tj_sub(g, m, m_use), log2e));
    tj_val l_new = tj_fma(g, l, alpha, tj_rowsum(g, p));
    tj_val v = tj_load(g, c->v, at, 2, kv_tile, axes, 0, 0);
    tj_val acc_new = tj_mma(g, tj_cast(g, p, c->dt), v, tj_mul(g, acc, alpha), 0);
    tj_val next[3] = {m_new, l_new, acc_new};
    return tj_for_end(g, 3, next, st);
}

tj_status recipe_decode(const rp_set *rp, tj_graph **out) {
    int d_idx, lens;
    int64_t hq, hkv;
    rp_policy pol;
    dec c = {0};
    tj_status s = rp_choice(rp, "d", "64|128|256", &d_idx);
    if (s == TJ_OK) s = rp_int(rp, "hq", 1, 1024, &hq);
    if (s == TJ_OK) s = rp_int(rp, "hkv", 1, 1024, &hkv);
    if (s == TJ_OK) s = rp_dtype(rp, "dtype", "bf16|f16|f32", &c.dt);
    if (s == TJ_OK) s = rp_pow2(rp, "block_n", 16, 512, &c.bn);
    if (s == TJ_OK) s = rp_sym_policy(rp, "kv", 1, &pol);
    if (s == TJ_OK) s = rp_flag(rp, "lens", &lens);
    if (s != TJ_OK) return s;
    if (hq % hkv)
        return rp_fail(rp, "hq=%lld is not a multiple of hkv=%lld (each kv head serves hq/hkv "
                           "q heads)",
                       (long long)hq, (long long)hkv);
    c.d = 64 << d_idx;
    c.grp = (int)(hq / hkv);

    tj_graph *g;
    if ((s = tj_graph_new("decode", &g)) != TJ_OK) return s;
    c.g = g;
    tj_sym batch = tj_symbol(g, "batch", TJ_DYNAMIC, 0, 1);
    tj_sym kv_len = rsymbol(g, "kv_len", pol);
    tj_dim qshape[3] = {tj_dim_sym(batch), hq, c.d};
    tj_dim kvshape[4] = {tj_dim_sym(batch), tj_dim_sym(kv_len), hkv, c.d};
    tj_dim bshape[1] = {tj_dim_sym(batch)};
    tj_tensor tq = rtensor(g, "q", c.dt, 3, qshape);
    c.k = rtensor(g, "k", c.dt, 4, kvshape);
    c.v = rtensor(g, "v", c.dt, 4, kvshape);
    tj_tensor to = rtensor(g, "o", c.dt, 3, qshape);
    tj_tensor tlens = lens ? rtensor(g, "kv_lens", TJ_I32, 1, bshape) : (tj_tensor){TJ_NONE_ID};
    c.scale = tj_scalar_arg(g, "scale", TJ_F32);

    c.kvh = tj_program_id(g, 0);
    c.b = tj_program_id(g, 1);
    /* The group's q heads are rows kvh*grp .. kvh*grp+grp-1: tile kvh of height grp. */
    tj_val q_at[3] = {c.b, c.kvh, ri32(g, 0)};
    int q_axes[2] = {1, 2};
    tj_dim q_tile[2] = {c.grp, c.d};
    c.q = tj_load(g, tq, q_at, 2, q_tile, q_axes, 0, 0);
    c.n = tj_symval(g, kv_len);
    if (lens) /* never past the cache: a bad length reads no other batch's keys */
        c.n = tj_minimum(g, tj_load(g, tlens, &c.b, 0, NULL, NULL, 0, 0), c.n);

    tj_val zero = ri32(g, 0);
    tj_val n_full = tj_div(g, c.n, ri32(g, c.bn)), n_total = rcdiv(g, c.n, c.bn);
    tj_dim stat[2] = {c.grp, 1}, acc_shape[2] = {c.grp, c.d};
    tj_val st[3] = {tj_full(g, TJ_F32, 2, stat, -INFINITY), tj_full(g, TJ_F32, 2, stat, 0),
                    tj_full(g, TJ_F32, 2, acc_shape, 0)};
    if ((s = kv_loop(&c, zero, n_full, 0, st)) != TJ_OK) return recipe_finish(g, s, out);
    if ((s = kv_loop(&c, n_full, n_total, 1, st)) != TJ_OK) return recipe_finish(g, s, out);

    tj_val empty = tj_binary(g, TJ_EQ, st[1], rf32(g, 0));
    tj_val o = tj_div(g, st[2], tj_where(g, empty, rf32(g, 1), st[1]));
    tj_store(g, to, q_at, tj_cast(g, o, c.dt), q_axes, 0);

    tj_val grid[2] = {ri32(g, hkv), tj_symval(g, batch)};
    tj_set_grid(g, 2, grid);
    return recipe_finish(g, TJ_OK, out);
}
