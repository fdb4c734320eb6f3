/*
 * attention.c — forward attention in the FlashAttention-2 form.
 *
 * A program owns block_m query rows of one (batch, q head). It loads its
 * q tile once, then walks the KV tiles carrying the running row max m,
 * the running sum l and the unnormalized output acc (all f32):
 *
 *   s     = (q . k^T) * scale, then score_mod, then the mask (-inf)
 *   m'    = max(m, rowmax(s))
 *   p     = exp2((s - m') * log2e)
 *   alpha = exp2((m - m') * log2e)       rescales what came before
 *   l'    = l * alpha + rowsum(p)
 *   acc'  = acc * alpha + p . v          (p cast to the input dtype)
 *
 * With fp8 (e4m3) q, k and v, as FlashAttention-3's fp8 forward: p is
 * cast to e4m3 for p . v, o is bf16, and a scalar v_scale (v's descale)
 * multiplies o; q's and k's descales belong in scale.
 *
 * v_layout=t takes v transposed, keys contiguous (vt [batch, hkv, d,
 * seq_kv]): the loop loads a [d, block_n] tile of it and p . v is
 * mma(p, vt, trans_b). The tensor cores take 8-bit operands K-major only,
 * and p . v's K is the keys: the sm_90a schedule's fp8 path needs this
 * layout (users transpose v once, when their cache is written). vt is a
 * strided view: its rows are kv_cap keys apart (a KV cache's capacity),
 * its heads vt_hstride and its batches vt_bstride elements apart, each a
 * symbol with divisor 16 so every row starts on 16 bytes (the copy
 * engine's rule) at any seq_kv. Its extent is seq_kv, so the keys past
 * it are never read: a load's padding (zeros) stands in for them, in the
 * interpreter and in the copy engine alike, whatever the cache holds
 * there.
 *
 * and writes o = acc / l (and lse = m + log l). The walk is two loops: the
 * KV tiles that need no mask (wholly inside seq_kv and, when causal,
 * wholly below the diagonal of every row of the block), then the few
 * that do (the ragged tail, the diagonal). A GPU schedule pipelines the
 * first and pays for iota/compare/where only in the second. Causal stops
 * at the diagonal: the second loop's bound depends on program_id.
 *
 * Fully masked rows (a causal row with no key before it) keep m = -inf;
 * exponents use m' replaced by 0 there, as FlashAttention's Check_inf
 * does, so nothing becomes NaN, and o = 0 where l = 0.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recipes.h"

#define LOG2E 1.4426950408889634

void tj_attention_params_init(tj_attention_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->head_dim = 128;
    p->num_q_heads = 8;
    p->num_kv_heads = 8;
    p->block_m = 0;   /* auto: attention_block_m */
    p->block_n = 0;   /* auto: attention_block_n */
    p->dtype = TJ_BF16;
    p->seq_policy = TJ_DYNAMIC;
}

typedef struct attn {
    tj_graph *g;
    const tj_attention_params *p;
    int bm, bn, d;
    int vt;               /* v given as vt [.., d, kv_cap] */
    tj_tensor k, v;
    tj_val b, h, kvh;     /* batch, q head, kv head */
    tj_val q;             /* [bm, d] */
    tj_val q_idx;         /* i32 [bm, 1]: query positions */
    tj_val scale;
    tj_val nkv;           /* i32: number of keys */
    tj_val diag;          /* i32: key j is visible to query i iff j <= i + diag */
    tj_val k_start;       /* varlen: the sequence's first key row; else TJ_NONE */
} attn;

/* One loop over KV tiles [lo, hi); st[] = {m, l, acc} in and out. */
static tj_status kv_loop(attn *a, tj_val lo, tj_val hi, int masked, tj_val st[3]) {
    tj_graph *g = a->g;
    const tj_attention_params *p = a->p;
    tj_val j, cur[3];
    tj_status s = tj_for_begin(g, lo, hi, ri32(g, 1), 3, st, &j, cur);
    if (s != TJ_OK) return s;
    tj_val m = cur[0], l = cur[1], acc = cur[2];

    tj_val at[4] = {a->b, j, a->kvh, ri32(g, 0)};
    int axes[2] = {1, 3};
    unsigned flags = 0;
    if (tj_val_ok(a->k_start)) {   /* packed: element rows from the sequence's start */
        at[0] = tj_add(g, a->k_start, tj_mul(g, j, ri32(g, a->bn)));
        at[1] = a->kvh;
        at[2] = ri32(g, 0);
        axes[0] = 0, axes[1] = 2;
        flags = TJ_COORD_ELEMENT;
    }
    tj_dim kv_tile[2] = {a->bn, a->d};
    tj_val k = tj_load(g, a->k, at, 2, kv_tile, axes, 0, flags);
    tj_val sc = tj_mul(g, tj_mma(g, a->q, k, TJ_NONE, TJ_TRANS_B), a->scale);
    tj_dim row[2] = {1, a->bn};
    tj_val k_idx = tj_add(g, tj_iota(g, TJ_I32, 2, row, 1), tj_mul(g, j, ri32(g, a->bn)));
    if (p->score_mod) {
        sc = p->score_mod(g, sc, a->q_idx, k_idx, a->h, p->user);
        s = rcheck_tile(g, sc, TJ_F32, a->bm, a->bn, "score_mod");
        if (s != TJ_OK) return s; /* g is discarded, open loop and all */
    }
    tj_val neg_inf = (masked || p->score_mod) ? rf32(g, -INFINITY) : TJ_NONE;
    if (masked) {
        tj_val ok = tj_binary(g, TJ_LT, k_idx, a->nkv);
        if (p->causal) {
            tj_val last = tj_val_ok(a->diag) ? tj_add(g, a->q_idx, a->diag) : a->q_idx;
            ok = tj_binary(g, TJ_AND, ok, tj_binary(g, TJ_LE, k_idx, last));
        }
        sc = tj_where(g, ok, sc, neg_inf);
    }
    tj_val m_new = tj_maximum(g, m, tj_rowmax(g, sc));
    /* Only a mask or a modifier can leave a row all -inf. */
    tj_val m_use = m_new;
    if (masked || p->score_mod)
        m_use = tj_where(g, tj_binary(g, TJ_EQ, m_new, neg_inf), rf32(g, 0), m_new);
    tj_val log2e = rf32(g, LOG2E);
    tj_val pr = tj_unary(g, TJ_EXP2, tj_mul(g, tj_sub(g, sc, m_use), log2e));
    tj_val alpha = tj_unary(g, TJ_EXP2, tj_mul(g, tj_sub(g, m, m_use), log2e));
    tj_val l_new = tj_fma(g, l, alpha, tj_rowsum(g, pr));
    tj_val v;
    unsigned pv_flags = 0;
    if (a->vt) {   /* a [d, bn] tile of vt: keys along its columns */
        tj_dim vt_tile[2] = {a->d, a->bn};
        tj_val vat[4] = {a->b, a->kvh, ri32(g, 0), j};
        int vaxes[2] = {2, 3};
        if (tj_val_ok(a->k_start)) {
            vat[0] = a->kvh;
            vat[1] = ri32(g, 0);
            vat[2] = at[0];
            vaxes[0] = 1, vaxes[1] = 2;
        }
        v = tj_load(g, a->v, vat, 2, vt_tile, vaxes, 0, flags);
        pv_flags = TJ_TRANS_B;
    } else {
        v = tj_load(g, a->v, at, 2, kv_tile, axes, 0, flags);
    }
    tj_val acc_new = tj_mma(g, tj_cast(g, pr, p->dtype), v, tj_mul(g, acc, alpha), pv_flags);
    tj_val next[3] = {m_new, l_new, acc_new};
    return tj_for_end(g, 3, next, st);
}

static tj_status check_params(const tj_attention_params *p) {
    const char *fn = "tj_recipe_attention";
    if (p->head_dim != 64 && p->head_dim != 128 && p->head_dim != 256)
        return recipe_error(TJ_ERR_INVALID_ARG, "%s: head_dim %d is not 64, 128 or 256", fn,
                            p->head_dim);
    if (p->num_q_heads < 1 || p->num_q_heads > 1024 || p->num_kv_heads < 1 ||
        p->num_kv_heads > p->num_q_heads || p->num_q_heads % p->num_kv_heads)
        return recipe_error(TJ_ERR_INVALID_ARG,
                            "%s: num_q_heads %d and num_kv_heads %d: both must be in 1..1024 and "
                            "num_kv_heads must divide num_q_heads",
                            fn, p->num_q_heads, p->num_kv_heads);
    if (p->block_m != 0 && p->block_m != 192 &&
        (p->block_m < 16 || p->block_m > 256 || (p->block_m & (p->block_m - 1))))
        return recipe_error(TJ_ERR_INVALID_ARG,
                            "%s: block_m %d is not a power of two in 16..256 (or 192, or 0: "
                            "auto)", fn,
                            p->block_m);
    /* block_n: any multiple of 16 (p . v's k step); FlashAttention-3 uses
     * 80 at d 256 (two stages of k and v fit the shared memory) and 176
     * at d 128 beside the powers of two */
    if (p->block_n != 0 && (p->block_n < 16 || p->block_n > 256 || p->block_n % 16))
        return recipe_error(TJ_ERR_INVALID_ARG,
                            "%s: block_n %d is not a multiple of 16 in 16..256 (or 0: auto)", fn,
                            p->block_n);
    if (p->dtype != TJ_BF16 && p->dtype != TJ_F16 && p->dtype != TJ_F32 && p->dtype != TJ_F8E4M3)
        return recipe_error(TJ_ERR_INVALID_ARG, "%s: dtype %s: bf16, f16, f32 or f8e4m3 is needed", fn,
                            tj_dtype_name(p->dtype) ? tj_dtype_name(p->dtype) : "(invalid)");
    if ((p->causal != 0 && p->causal != 1) || (p->cross != 0 && p->cross != 1) ||
        (p->lse != 0 && p->lse != 1) || (p->varlen != 0 && p->varlen != 1) ||
        (p->v_layout != 0 && p->v_layout != 1))
        return recipe_error(TJ_ERR_INVALID_ARG,
                            "%s: causal, cross, lse, varlen and v_layout are 0 or 1", fn);
    if ((unsigned)p->seq_policy > TJ_DYNAMIC ||
        (p->seq_policy == TJ_BUCKET_MULTIPLE) != (p->seq_bucket != 0) || p->seq_bucket < 0)
        return recipe_error(TJ_ERR_INVALID_ARG,
                            "%s: seq_policy %d with seq_bucket %lld: a bucket > 0 goes with "
                            "TJ_BUCKET_MULTIPLE only",
                            fn, (int)p->seq_policy, (long long)p->seq_bucket);
    return TJ_OK;
}

/* block_n 0 (auto): 128 keys a tile up to d 128, 80 at d 256. With
 * block_m 128 that is FlashAttention-3's tile for d <= 128; the wider
 * tile halves the per-tile softmax bookkeeping and the barrier round
 * trips of the sm_90a schedule (d 128, H200: 578 vs 461 TFLOP/s causal
 * at N 16384); at d 256 a 128x128 score tile with a 128x256 accumulator
 * does not fit the registers of a consumer warpgroup, and 80 keys (FA3's
 * d 256 tile: q and two k/v stages fill 224 KB) beat 64 from N 2048 on
 * (H200, same call: full N 16384 710 -> 754 TFLOP/s, causal 694 -> 729;
 * N 512 full 414 -> 390, N 1024 even). */
static int attention_block_n(int head_dim, tj_dtype dt) {
    /* fp8: p . v's k step is 32 keys, and 64 keys at d 256 fit the
     * registers (s, p and a 64x256 accumulator) */
    if (dt == TJ_F8E4M3) return head_dim >= 256 ? 64 : 128;
    return head_dim >= 256 ? 80 : 128;
}

/* block_m 0 (auto): 192 query rows at d 64 (three consumer warpgroups:
 * the softmax of one outlasts another's products; H200 full +13-26 % over
 * 128, causal from N 2048), else 128. At d 64 causal N <= 1024 128 rows
 * with pairs of tiles are faster: tj_recipe_attention_by_length. */
static int attention_block_m(int head_dim) { return head_dim == 64 ? 192 : 128; }

tj_status tj_recipe_attention(const tj_attention_params *params, tj_graph **out) {
    if (!out) return recipe_error(TJ_ERR_INVALID_ARG, "tj_recipe_attention: out is NULL");
    *out = NULL;
    if (!params) return recipe_error(TJ_ERR_INVALID_ARG, "tj_recipe_attention: params is NULL");
    tj_status s = check_params(params);
    if (s != TJ_OK) return s;
    tj_attention_params resolved = *params;
    if (!resolved.block_n) resolved.block_n = attention_block_n(resolved.head_dim, resolved.dtype);
    if (!resolved.block_m) resolved.block_m = attention_block_m(resolved.head_dim);
    const tj_attention_params *p = &resolved;
    const int fp8 = p->dtype == TJ_F8E4M3;
    const tj_dtype odt = fp8 ? TJ_BF16 : p->dtype;   /* o's dtype */
    tj_graph *g;
    if ((s = tj_graph_new(p->name ? p->name : "attention", &g)) != TJ_OK) return s;
    attn a = {.g = g, .p = p, .bm = p->block_m, .bn = p->block_n, .d = p->head_dim,
              .vt = p->v_layout == 1};
    int hq = p->num_q_heads, hkv = p->num_kv_heads;

    rp_policy pol = {p->seq_policy, p->seq_bucket};
    tj_sym batch = tj_symbol(g, "batch", TJ_DYNAMIC, 0, 1);
    tj_sym seq = rsymbol(g, "seq", pol);
    tj_sym seq_kv = p->cross ? rsymbol(g, "seq_kv", pol) : seq;
    /* vt's strides: its rows' pitch (a cache's capacity) and its heads' and
     * batches', 16-byte multiples for TMA */
    tj_sym kv_cap = a.vt ? tj_symbol(g, "kv_cap", TJ_DYNAMIC, 0, 16) : seq;
    tj_sym vt_hs = a.vt ? tj_symbol(g, "vt_hstride", TJ_DYNAMIC, 0, 16) : seq;
    tj_tensor tq, to, tl = {TJ_NONE_ID}, cu_q = {TJ_NONE_ID}, cu_k = {TJ_NONE_ID};
    if (p->varlen) {
        /* Packed: the batch is cu_len - 1 sequences of their own lengths. */
        tj_sym total_q = tj_symbol(g, "total_q", TJ_DYNAMIC, 0, 1);
        tj_sym total_k = p->cross ? tj_symbol(g, "total_k", TJ_DYNAMIC, 0, 1) : total_q;
        tj_sym cu_len = tj_symbol(g, "cu_len", TJ_DYNAMIC, 0, 1);
        tj_dim qshape[3] = {tj_dim_sym(total_q), hq, a.d};
        tj_dim kvshape[3] = {tj_dim_sym(total_k), hkv, a.d};
        tj_dim lshape[2] = {hq, tj_dim_sym(total_q)}, cshape[1] = {tj_dim_sym(cu_len)};
        tq = rtensor(g, "q", p->dtype, 3, qshape);
        a.k = rtensor(g, "k", p->dtype, 3, kvshape);
        tj_dim vtshape[3] = {hkv, a.d, tj_dim_sym(total_k)};
        tj_dim vtstride[3] = {tj_dim_sym(vt_hs), tj_dim_sym(kv_cap), 1};
        a.v = a.vt ? tj_tensor_arg(g, "vt", p->dtype, 3, vtshape, vtstride)
                   : rtensor(g, "v", p->dtype, 3, kvshape);
        to = rtensor(g, "o", odt, 3, qshape);
        if (p->lse) tl = rtensor(g, "lse", TJ_F32, 2, lshape);
        cu_q = rtensor(g, "cu_seqlens_q", TJ_I32, 1, cshape);
        cu_k = p->cross ? rtensor(g, "cu_seqlens_k", TJ_I32, 1, cshape) : cu_q;
        tj_tensor_set_align(g, tq, 16);   /* as below */
        tj_tensor_set_align(g, a.k, 16);
        tj_tensor_set_align(g, a.v, 16);
        tj_tensor_set_align(g, to, 16);
    } else {
        tj_dim qshape[4] = {tj_dim_sym(batch), tj_dim_sym(seq), hq, a.d};
        tj_dim kvshape[4] = {tj_dim_sym(batch), tj_dim_sym(seq_kv), hkv, a.d};
        tj_dim lshape[3] = {tj_dim_sym(batch), hq, tj_dim_sym(seq)};
        tq = rtensor(g, "q", p->dtype, 4, qshape);
        a.k = rtensor(g, "k", p->dtype, 4, kvshape);
        tj_dim vtshape[4] = {tj_dim_sym(batch), hkv, a.d, tj_dim_sym(seq_kv)};
        tj_sym vt_bs = a.vt ? tj_symbol(g, "vt_bstride", TJ_DYNAMIC, 0, 16) : seq;
        tj_dim vtstride[4] = {tj_dim_sym(vt_bs), tj_dim_sym(vt_hs), tj_dim_sym(kv_cap), 1};
        a.v = a.vt ? tj_tensor_arg(g, "vt", p->dtype, 4, vtshape, vtstride)
                   : rtensor(g, "v", p->dtype, 4, kvshape);
        to = rtensor(g, "o", odt, 4, qshape);
        if (p->lse) tl = rtensor(g, "lse", TJ_F32, 3, lshape);
        /* 16-byte aligned, as cudaMalloc and torch give: what the copy
         * engine (TMA) of the sm_90a schedule needs. A misaligned pointer
         * is a clear launch error, never a wrong result. */
        tj_tensor_set_align(g, tq, 16);
        tj_tensor_set_align(g, a.k, 16);
        tj_tensor_set_align(g, a.v, 16);
        tj_tensor_set_align(g, to, 16);
    }
    a.scale = tj_scalar_arg(g, "scale", TJ_F32);
    tj_val v_scale = fp8 ? tj_scalar_arg(g, "v_scale", TJ_F32) : TJ_NONE;

    tj_val pm = tj_program_id(g, 0);
    a.h = tj_program_id(g, 1);
    a.b = tj_program_id(g, 2);
    a.kvh = hq == hkv ? a.h : tj_div(g, a.h, ri32(g, hq / hkv));
    tj_dim col[2] = {a.bm, 1};
    tj_val row0 = tj_mul(g, pm, ri32(g, a.bm));
    tj_val q_at[4] = {a.b, pm, a.h, ri32(g, 0)};
    int axes[2] = {1, 3};
    unsigned q_flags = 0;
    if (p->causal && !p->varlen) {
        /* A length that is not a multiple of the tile leaves one q tile
         * part empty. Causal, make it the first (it sees the fewest keys)
         * rather than the last (which sees them all): rows from -pad, the
         * empty ones out of bounds (read as 0, never stored). 192-row
         * tiles at N 2048 or 4096 wasted 6 % of the work on the last. */
        tj_val sq = tj_symval(g, seq), bmv = ri32(g, a.bm);
        tj_val pad = tj_sub(g, tj_mul(g, rcdiv(g, sq, a.bm), bmv), sq);
        row0 = tj_sub(g, row0, pad);
        q_at[1] = row0;
        q_flags = TJ_COORD_ELEMENT;
    }
    a.q_idx = tj_add(g, tj_iota(g, TJ_I32, 2, col, 0), row0);
    tj_val nq = tj_symval(g, seq), q_start = TJ_NONE;
    a.k_start = TJ_NONE;
    if (p->varlen) {
        /* Sequence b: rows [cu[b], cu[b+1]) of the packed tensors. */
        tj_val b1 = tj_add(g, a.b, ri32(g, 1));
        q_start = tj_load(g, cu_q, &a.b, 0, NULL, NULL, 0, TJ_COORD_ELEMENT);
        nq = tj_sub(g, tj_load(g, cu_q, &b1, 0, NULL, NULL, 0, TJ_COORD_ELEMENT), q_start);
        a.k_start = p->cross ? tj_load(g, cu_k, &a.b, 0, NULL, NULL, 0, TJ_COORD_ELEMENT) : q_start;
        a.nkv = p->cross ? tj_sub(g, tj_load(g, cu_k, &b1, 0, NULL, NULL, 0, TJ_COORD_ELEMENT),
                                  a.k_start)
                         : nq;
        q_at[0] = tj_add(g, q_start, row0);
        q_at[1] = a.h;
        q_at[2] = ri32(g, 0);
        axes[0] = 0, axes[1] = 2;
        q_flags = TJ_COORD_ELEMENT;
    } else {
        a.nkv = tj_symval(g, seq_kv);
    }
    tj_dim q_tile[2] = {a.bm, a.d};
    a.q = tj_load(g, tq, q_at, 2, q_tile, axes, 0, q_flags);
    /* Causal rows align bottom-right (FlashAttention >= 2.1): the last
     * query sees the last key, so with a longer KV the diagonal shifts. */
    a.diag = p->cross ? tj_sub(g, a.nkv, nq) : TJ_NONE;
    if (p->score_setup && (s = p->score_setup(g, a.h, p->user)) != TJ_OK)
        return recipe_finish(g, s, out);

    tj_val n_total, n_full, bn = ri32(g, a.bn), zero = ri32(g, 0);
    if (p->causal) {
        /* Keys up to the block's last row's diagonal, within seq_kv. */
        tj_val end = tj_add(g, row0, ri32(g, a.bm));
        tj_val first = tj_add(g, row0, ri32(g, 1));
        if (tj_val_ok(a.diag)) {
            end = tj_add(g, end, a.diag);
            first = tj_add(g, first, a.diag);
        }
        n_total = rcdiv(g, tj_minimum(g, end, a.nkv), a.bn);
        /* Tiles every row of the block sees whole: their last key is at or
         * before the first row's diagonal. */
        n_full = tj_minimum(g, tj_div(g, first, bn), tj_div(g, a.nkv, bn));
        n_full = tj_maximum(g, tj_minimum(g, n_full, n_total), zero);
    } else {
        n_total = rcdiv(g, a.nkv, a.bn);
        n_full = tj_div(g, a.nkv, bn);
    }
    if (p->varlen) {   /* a block past its sequence's end has no work */
        tj_val live = tj_binary(g, TJ_LT, row0, nq);
        n_total = tj_where(g, live, n_total, zero);
        n_full = tj_minimum(g, n_full, n_total);
    }
    tj_dim stat[2] = {a.bm, 1}, acc_shape[2] = {a.bm, a.d};
    tj_val st[3] = {tj_full(g, TJ_F32, 2, stat, -INFINITY), tj_full(g, TJ_F32, 2, stat, 0),
                    tj_full(g, TJ_F32, 2, acc_shape, 0)};
    if ((s = kv_loop(&a, zero, n_full, 0, st)) != TJ_OK) return recipe_finish(g, s, out);
    if ((s = kv_loop(&a, n_full, n_total, 1, st)) != TJ_OK) return recipe_finish(g, s, out);

    tj_val m = st[0], l = st[1], acc = st[2];
    tj_val empty = tj_binary(g, TJ_EQ, l, rf32(g, 0));
    tj_val o = tj_div(g, acc, tj_where(g, empty, rf32(g, 1), l));
    if (fp8) o = tj_mul(g, o, v_scale);
    if (p->varlen) {   /* rows past the sequence belong to the next one */
        tj_val mine = tj_binary(g, TJ_LT, a.q_idx, nq);
        tj_store_masked(g, to, q_at, tj_cast(g, o, odt), mine, axes, q_flags);
        if (p->lse) {
            tj_dim flat[1] = {a.bm};
            tj_val lse = tj_reshape(g, tj_add(g, m, tj_unary(g, TJ_LOG, l)), 1, flat);
            tj_val l_at[2] = {a.h, q_at[0]};
            int l_axes[1] = {1};
            tj_store_masked(g, tl, l_at, lse, tj_reshape(g, mine, 1, flat), l_axes,
                            TJ_COORD_ELEMENT);
        }
    } else {
        tj_store(g, to, q_at, tj_cast(g, o, odt), axes, q_flags);
        if (p->lse) {
            tj_dim flat[1] = {a.bm};
            tj_val lse = tj_reshape(g, tj_add(g, m, tj_unary(g, TJ_LOG, l)), 1, flat);
            tj_val l_at[3] = {a.b, a.h, q_flags ? row0 : pm};
            int l_axes[1] = {2};
            tj_store(g, tl, l_at, lse, l_axes, q_flags);
        }
    }
    tj_val grid[3] = {rcdiv(g, tj_symval(g, seq), a.bm), ri32(g, hq), tj_symval(g, batch)};
    tj_set_grid(g, 3, grid);
    return recipe_finish(g, TJ_OK, out);
}

/* The tiles by length at the Hopper schedule (H200, 2026-11-29, one call
 * each: docs/performance.md): d 64 causal 128 query rows with pairs of
 * tiles up to N 1024 (191/267 TFLOP/s at N 512/1024 vs 157/227 with 192
 * rows; 329 vs 338 at 2048), 192 rows above; d 256 64 keys up to N 1024
 * (414 vs 390 at N 512 full, even at 1024), 80 above (+3-6 % from 2048);
 * d 128 full without a modifier 128 keys up to N 4096 (664 vs 660; 458 vs
 * 419 at 512), 176 above (8192: 684 -> 700, 16384: 694 -> 712; with
 * softcap or ALiBi 2-3 % slower, causal even or slower). Only fields the
 * caller left auto vary. */
tj_status tj_recipe_attention_by_length(const tj_attention_params *params, tj_graph **graphs,
                                        int64_t *upto, int *n) {
    const char *fn = "tj_recipe_attention_by_length";
    if (!params || !graphs || !upto || !n)
        return recipe_error(TJ_ERR_INVALID_ARG, "%s: %s is NULL", fn,
                            !params ? "params" : !graphs ? "graphs" : !upto ? "upto" : "n");
    *n = 0;
    tj_status s = check_params(params);
    if (s != TJ_OK) return s;
    tj_attention_params v[2] = {*params, *params};
    int nv = 1;
    int64_t split = 1024;   /* the shorter tile serves N <= split */
    if (params->head_dim == 64 && params->causal && !params->block_m) {
        v[0].block_m = 128, v[1].block_m = 192, nv = 2;
    } else if (params->head_dim == 256 && !params->block_n && params->dtype != TJ_F8E4M3) {
        v[0].block_n = 64, v[1].block_n = 80, nv = 2;
    } else if (params->head_dim == 128 && !params->causal && !params->score_mod &&
               params->dtype != TJ_F8E4M3 &&
               !params->cross && !params->block_n && (!params->block_m || params->block_m == 128)) {
        /* Wider key tiles pay only where each program runs many of them,
         * and only without a modifier (its registers) or a causal edge. */
        v[0].block_n = 128, v[1].block_n = 176, nv = 2, split = 4096;
    }
    for (int i = 0; i < nv; i++) {
        if ((s = tj_recipe_attention(&v[i], &graphs[i])) != TJ_OK) {
            for (int j = 0; j < i; j++) tj_graph_free(graphs[j]), graphs[j] = NULL;
            return s;
        }
    }
    if (nv == 2) upto[0] = split;
    *n = nv;
    return TJ_OK;
}

/* ---- the string recipe: softcap and ALiBi through the hook ---------- */

enum { ALIBI_NONE, ALIBI_TENSOR, ALIBI_COMPUTED };

typedef struct builtin_mod {
    double softcap;      /* 0: none */
    int alibi;
    int hq;
    tj_val slope;        /* f32 scalar, this program's head */
} builtin_mod;

/* Once a program, outside the KV loop: the head's ALiBi slope. */
static tj_status builtin_setup(tj_graph *g, tj_val head, void *user) {
    builtin_mod *b = user;
    if (b->alibi == ALIBI_TENSOR) {
        tj_dim n[1] = {b->hq};
        tj_tensor t = rtensor(g, "slopes", TJ_F32, 1, n);
        b->slope = tj_load(g, t, &head, 0, NULL, NULL, 0, 0);
    } else if (b->alibi == ALIBI_COMPUTED) {
        /* The ALiBi paper's geometric slopes: 2^(-8 (h + 1) / hq). */
        tj_val h1 = tj_cast(g, tj_add(g, head, ri32(g, 1)), TJ_F32);
        b->slope = tj_unary(g, TJ_EXP2, tj_mul(g, h1, rf32(g, -8.0 / b->hq)));
    }
    return tj_graph_status(g);
}

static tj_val builtin_score_mod(tj_graph *g, tj_val s, tj_val q_idx, tj_val k_idx, tj_val head,
                                void *user) {
    builtin_mod *b = user;
    (void)head;
    if (b->softcap > 0)
        s = tj_mul(g, tj_unary(g, TJ_TANH, tj_mul(g, s, rf32(g, 1.0 / b->softcap))),
                   rf32(g, b->softcap));
    if (b->alibi != ALIBI_NONE) {
        tj_val dist = tj_cast(g, tj_sub(g, k_idx, q_idx), TJ_F32);
        s = tj_add(g, s, tj_mul(g, dist, b->slope));
    }
    return s;
}

/* The text recipe's parameters as tj_attention_params; p points at *mod
 * for the builtin score modifiers they name (their setup runs again for
 * each graph built from p). */
static tj_status attention_parse(const rp_set *rp, tj_attention_params *pp, builtin_mod *mod) {
    tj_attention_params p;
    tj_attention_params_init(&p);
    int64_t hq, hkv;
    int d_idx;
    rp_policy pol;
    memset(mod, 0, sizeof *mod);
    tj_status s = rp_choice(rp, "d", "64|128|256", &d_idx);
    if (s == TJ_OK) s = rp_int(rp, "hq", 1, 1024, &hq);
    if (s == TJ_OK) s = rp_int(rp, "hkv", 1, 1024, &hkv);
    if (s == TJ_OK) s = rp_flag(rp, "causal", &p.causal);
    if (s == TJ_OK) s = rp_dtype(rp, "dtype", "bf16|f16|f32|f8e4m3", &p.dtype);
    if (s == TJ_OK && rp_is(rp, "block_m", "192"))   /* 192: three warpgroups of 64 rows */
        p.block_m = 192;
    else if (s == TJ_OK && !rp_is(rp, "block_m", "auto"))
        s = rp_pow2(rp, "block_m", 16, 256, &p.block_m);
    if (s == TJ_OK && !rp_is(rp, "block_n", "auto")) {
        int64_t bn;
        s = rp_int(rp, "block_n", 16, 256, &bn);
        if (s == TJ_OK && bn % 16)
            return rp_fail(rp, "block_n=%lld: a multiple of 16 in 16..256 (the mma's k step "
                               "of p . v)",
                           (long long)bn);
        p.block_n = (int)bn;
    }
    if (s == TJ_OK) s = rp_sym_policy(rp, "seq", 1, &pol);
    if (s == TJ_OK) s = rp_flag(rp, "cross", &p.cross);
    if (s == TJ_OK) s = rp_flag(rp, "lse", &p.lse);
    if (s == TJ_OK) s = rp_flag(rp, "varlen", &p.varlen);
    if (s == TJ_OK) s = rp_choice(rp, "v_layout", "n|t", &p.v_layout);
    if (s == TJ_OK) s = rp_number(rp, "softcap", 0, 1e6, &mod->softcap);
    if (s == TJ_OK) s = rp_choice(rp, "alibi", "0|1|computed", &mod->alibi);
    if (s != TJ_OK) return s;
    if (hq % hkv)
        return rp_fail(rp, "hq=%lld is not a multiple of hkv=%lld (each kv head serves hq/hkv "
                           "q heads)",
                       (long long)hq, (long long)hkv);
    p.head_dim = 64 << d_idx;
    p.num_q_heads = (int)hq;
    p.num_kv_heads = (int)hkv;
    p.seq_policy = pol.policy;
    p.seq_bucket = pol.bucket;
    mod->hq = (int)hq;
    mod->slope = TJ_NONE;
    if (mod->softcap > 0 || mod->alibi != ALIBI_NONE) {
        p.score_mod = builtin_score_mod;
        p.score_setup = builtin_setup;
        p.user = mod;
    }
    *pp = p;
    return TJ_OK;
}

tj_status recipe_attention_str(const rp_set *rp, tj_graph **out) {
    tj_attention_params p;
    builtin_mod mod;
    tj_status s = attention_parse(rp, &p, &mod);
    return s != TJ_OK ? s : tj_recipe_attention(&p, out);
}

tj_status recipe_attention_str_by_length(const rp_set *rp, tj_graph **graphs, int64_t *upto,
                                         int *n) {
    tj_attention_params p;
    builtin_mod mod;
    tj_status s = attention_parse(rp, &p, &mod);
    return s != TJ_OK ? s : tj_recipe_attention_by_length(&p, graphs, upto, n);
}
