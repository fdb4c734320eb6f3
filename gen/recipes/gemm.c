/*
 * gemm.c — c = act(op(a) . op(b) + bias).
 *
 * The shape every GEMM kernel has: a program owns a [bm, bn] tile of c,
 * loops over K in bk-wide tiles carrying an f32 accumulator that each
 * tj_mma updates in place, then runs the epilogue (bias, activation,
 * cast) on the accumulator before one store. Ragged M, N, K are handled
 * by the loads' zero padding (zeros add nothing to the dot products) and
 * the store's bounds check, so no shape needs to divide a block.
 */
#include "recipes.h"

enum { ACT_NONE, ACT_RELU, ACT_GELU, ACT_GELU_TANH, ACT_SILU };

tj_status recipe_gemm(const rp_set *rp, tj_graph **out) {
    tj_dtype dt, out_dt;
    int out_same, ta, tb, bias, act, bm, bn, bk;
    rp_policy pm, pn, pk;
    tj_status s = rp_dtype(rp, "dtype", "bf16|f16|f32|f8e4m3|f8e5m2", &dt);
    if (s == TJ_OK) s = rp_choice(rp, "out", "same|bf16|f16|f32", &out_same);
    if (s == TJ_OK) s = rp_flag(rp, "trans_a", &ta);
    if (s == TJ_OK) s = rp_flag(rp, "trans_b", &tb);
    if (s == TJ_OK) s = rp_flag(rp, "bias", &bias);
    if (s == TJ_OK) s = rp_choice(rp, "act", "none|relu|gelu|gelu_tanh|silu", &act);
    if (s == TJ_OK) s = rp_pow2(rp, "bm", 16, 256, &bm);
    if (s == TJ_OK) s = rp_pow2(rp, "bn", 16, 256, &bn);
    /* bk auto: a 128-byte line of the K tile, the Hopper schedule's swizzle
     * (64 16-bit elements, 128 fp8 ones; 64 for f32 too) */
    if (s == TJ_OK && rp_is(rp, "bk", "auto"))
        bk = dt == TJ_F8E4M3 || dt == TJ_F8E5M2 ? 128 : 64;
    else if (s == TJ_OK)
        s = rp_pow2(rp, "bk", 16, 256, &bk);
    if (s == TJ_OK) s = rp_sym_policy(rp, "m", 1, &pm);
    if (s == TJ_OK) s = rp_sym_policy(rp, "n", 1, &pn);
    if (s == TJ_OK) s = rp_sym_policy(rp, "k", 1, &pk);
    if (s != TJ_OK) return s;
    if (out_same == 0) {
        /* fp8 results are rarely wanted and need a scale: default to bf16. */
        out_dt = (dt == TJ_F8E4M3 || dt == TJ_F8E5M2) ? TJ_BF16 : dt;
    } else {
        (void)rp_dtype(rp, "out", "bf16|f16|f32", &out_dt);
    }

    tj_graph *g;
    if ((s = tj_graph_new("gemm", &g)) != TJ_OK) return s;
    tj_sym M = rsymbol(g, "M", pm), N = rsymbol(g, "N", pn), K = rsymbol(g, "K", pk);
    tj_dim dm = tj_dim_sym(M), dn = tj_dim_sym(N), dk = tj_dim_sym(K);
    tj_dim ashape[2] = {ta ? dk : dm, ta ? dm : dk};
    tj_dim bshape[2] = {tb ? dn : dk, tb ? dk : dn};
    tj_dim cshape[2] = {dm, dn};
    tj_tensor tA = rtensor(g, "a", dt, 2, ashape);
    tj_tensor tB = rtensor(g, "b", dt, 2, bshape);
    tj_tensor tBias = bias ? rtensor(g, "bias", out_dt, 1, &cshape[1]) : (tj_tensor){TJ_NONE_ID};
    tj_tensor tC = rtensor(g, "c", out_dt, 2, cshape);
    /* 16-byte aligned operands and output: what the copy engine (TMA) of
     * the Hopper schedule needs, and what framework allocations give. A
     * misaligned pointer is a clear launch error, never a wrong result. */
    tj_tensor_set_align(g, tA, 16);
    tj_tensor_set_align(g, tB, 16);
    tj_tensor_set_align(g, tC, 16);

    tj_val pid_m = tj_program_id(g, 0), pid_n = tj_program_id(g, 1);
    tj_dim acc_shape[2] = {bm, bn};
    tj_val zero = tj_full(g, TJ_F32, 2, acc_shape, 0);
    tj_val kt, acc;
    tj_val nk = rcdiv(g, tj_symval(g, K), bk);
    s = tj_for_begin(g, ri32(g, 0), nk, ri32(g, 1), 1, &zero, &kt, &acc);
    if (s != TJ_OK) return recipe_finish(g, s, out);
    {
        tj_val a_at[2] = {ta ? kt : pid_m, ta ? pid_m : kt};
        tj_val b_at[2] = {tb ? pid_n : kt, tb ? kt : pid_n};
        tj_dim a_tile[2] = {ta ? bk : bm, ta ? bm : bk};
        tj_dim b_tile[2] = {tb ? bn : bk, tb ? bk : bn};
        tj_val a = tj_load(g, tA, a_at, 2, a_tile, NULL, 0, 0);
        tj_val b = tj_load(g, tB, b_at, 2, b_tile, NULL, 0, 0);
        tj_val next = tj_mma(g, a, b, acc, (ta ? TJ_TRANS_A : 0u) | (tb ? TJ_TRANS_B : 0u));
        s = tj_for_end(g, 1, &next, &acc);
        if (s != TJ_OK) return recipe_finish(g, s, out);
    }

    tj_val y = acc;
    if (bias) {
        tj_dim bt[1] = {bn};
        y = tj_add(g, y, tj_cast(g, tj_load(g, tBias, &pid_n, 1, bt, NULL, 0, 0), TJ_F32));
    }
    static const tj_unop acts[] = {TJ_NEG, TJ_RELU, TJ_GELU, TJ_GELU_TANH, TJ_SILU};
    if (act != ACT_NONE) y = tj_unary(g, acts[act], y);
    tj_val c_at[2] = {pid_m, pid_n};
    tj_store(g, tC, c_at, tj_cast(g, y, out_dt), NULL, 0);

    tj_val grid[2] = {rcdiv(g, tj_symval(g, M), bm), rcdiv(g, tj_symval(g, N), bn)};
    tj_set_grid(g, 2, grid);
    return recipe_finish(g, TJ_OK, out);
}
