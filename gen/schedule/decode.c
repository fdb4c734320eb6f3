/*
 * decode.c — the split-KV schedule for decode-shaped graphs (the plan and
 * what it accepts: decode.h, decode_match.c). sm_80 and newer.
 *
 * Decode reads the KV cache once and does ~G flops a byte (G query rows
 * a kv head), so the kernel is about keeping enough loads in flight on
 * every SM, not about arithmetic:
 *  - a program (one kv head of one sequence) is S blocks of W warps (a
 *    thread-block cluster of S on sm_90+, S chosen from the specialized
 *    KV length); its KV trips are dealt out round-robin to the S*W warps
 *    by absolute tile index, so every warp of the GPU streams;
 *  - each warp streams its tiles' K and V through its own ring of R
 *    shared-memory chunks of 16 rows (cp.async 16-byte pieces, R-1 chunks
 *    in flight, zero fill past the cache's end) and multiplies with
 *    mma.sync m16n8k16, the G query rows padded to 16 (the tensor cores
 *    have room to spare); the graph's own ops run on the accumulator
 *    fragments between the products (score modifiers, masks, softmax);
 *  - after the loops each warp's (m, l, acc) goes to shared memory, the
 *    cluster synchronizes, and block r merges every warp's partial for
 *    its share of the [G, D] output through distributed shared memory
 *    with the graph's own rescale function (decode.h), then runs the
 *    graph's epilogue per element and stores. No global workspace.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"


static const char *ty(const dx *x) { return emit_mem_type(x->p->dtype); }

/* The q tile into shared memory as 16 rows (rows >= G zero: the padding
 * of the m16 products), swizzled like the ring's chunks. */
static void q_tile(dx *x) {
    const dc_plan *p = x->p;
    const ir_node *n = dc_node(x, p->qload);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    float padf = (float)n->f;
    unsigned pad = p->dtype == TJ_BF16 ? ir_f32_to_bf16(padf) : ir_f32_to_f16(padf);
    dc_line(x, "{ // q [%d,%d] -> shared memory, padded to 16 rows", p->G, p->d);
    x->depth++;
    dc_access_bases(x, p->qload, "Q");
    dc_line(x, "for (int e = G * D + tid; e < 16 * D; e += NT)   // the padding rows");
    dc_line(x, "  *(unsigned short *)(tj_smem + tj::dec::swz<D>(e / D, (e %% D) / 8) + 2 * (e %% 8)) = 0;");
    dc_line(x, "#pragma unroll 4");
    dc_line(x, "for (int e = tid; e < G * D; e += NT) {");
    x->depth++;
    dc_line(x, "const int li = e / D, lj = e %% D;");
    dc_access_index(x, p->qload, "Q", "li", "lj");
    dc_line(x, "const unsigned short bits = inb ? ((const unsigned short *)t_%s)[at] : (unsigned short)%uu;",
         t->name, pad);
    dc_line(x, "*(unsigned short *)(tj_smem + tj::dec::swz<D>(li, lj / 8) + 2 * (lj %% 8)) = bits;");
    x->depth--;
    dc_line(x, "}");
    x->depth--;
    dc_line(x, "}");
    dc_line(x, "__syncthreads();");
}

/* Where load ld's tile starts at trip index `iv`: the pointer to its row 0
 * (column 0) in <pfx>_b, that row's index along the row dim in <pfx>_r,
 * whether the tile's other coordinates are inside the tensor in <pfx>_ok. */
static void tile_src(dx *x, int32_t ld, int32_t f, const char *iv, const char *pfx) {
    const ir_node *n = dc_node(x, ld);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int rd = n->axes[0];
    char ok[1024] = "true", off[1024] = "0";
    size_t oo = 4, fo = 1;
    dc_line(x, "{");
    x->depth++;
    for (int d = 0; d < t->rank; d++) {
        if (d == n->axes[1]) continue;   /* column 0 (checked by the match) */
        char c[512];
        dc_sexpr(x, n->in[d], f, iv, c, sizeof c);
        long long mult = d == rd ? x->p->bn : 1;
        dc_line(x, "const long long o%d = (long long)(%s) * %lld;", d, c, mult);
        if (d == rd) continue;
        oo += (size_t)snprintf(ok + oo, sizeof ok - oo, " && o%d >= 0 && o%d < t_%s_d%d", d, d,
                               t->name, d);
        fo += (size_t)snprintf(off + fo, sizeof off - fo, " + o%d * t_%s_s%d", d, t->name, d);
    }
    dc_line(x, "%s_ok = %s;", pfx, ok);
    dc_line(x, "%s_b = t_%s + (%s_ok ? %s : 0LL);", pfx, t->name, pfx, off);
    dc_line(x, "%s_r = o%d;", pfx, rd);
    x->depth--;
    dc_line(x, "}");
}

/* s = q . k^T for the trip: chunk by chunk of 16 keys, m16n8k16 with q's
 * A fragments and k's B fragments both by ldmatrix from shared memory. */
static void s_product(dx *x, const dc_loop *L) {
    const dc_plan *p = x->p;
    int s = (int)L->smma;
    dc_line(x, "float e%d[%d];", s, p->bn / 2);
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int r = 0; r < %d; ++r) if (HR == 2 || !(r & 2)) e%d[r] = 0.0f;", p->bn / 2, s);
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int ch = 0; ch < NC; ++ch) {");
    dc_line(x, "  const unsigned sl = next_chunk(ch);");
    dc_line(x, "  #pragma unroll");
    dc_line(x, "  for (int kk = 0; kk < D / 16; ++kk) {");
    dc_line(x, "    unsigned a0, a1, a2, a3, b0, b1, b2, b3;");
    dc_line(x, "    tj::dec::ldsm_x4(a0, a1, a2, a3, sq + tj::dec::swz<D>(lrow_a, 2 * kk + lcol_a));");
    dc_line(x, "    tj::dec::ldsm_x4(b0, b1, b2, b3, sl + tj::dec::swz<D>(lrow_b, 2 * kk + lcol_b));");
    dc_line(x, "    tj::dec::mma_rows<%s, HR>(e%d[8 * ch], e%d[8 * ch + 1], e%d[8 * ch + 2], e%d[8 * ch + 3], "
         "a0, a1, a2, a3, b0, b1);", ty(x), s, s, s, s);
    dc_line(x, "    tj::dec::mma_rows<%s, HR>(e%d[8 * ch + 4], e%d[8 * ch + 5], e%d[8 * ch + 6], "
         "e%d[8 * ch + 7], a0, a1, a2, a3, b2, b3);", ty(x), s, s, s, s);
    dc_line(x, "  }");
    dc_line(x, "}");
}

/* p as 16-bit pairs: register 2 nb + h holds row g + 8h, columns
 * 8 nb + qcol .. +1, which is the A fragment layout of m16n8k16. */
static void p_pack(dx *x, const dc_loop *L) {
    char in[64];
    dc_base(x, dc_node(x, L->pcast)->in[0], in);
    dc_line(x, "unsigned e%d[%d];   // p, packed for mma's A", (int)L->pcast, x->p->bn / 4);
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int r = 0; r < %d; ++r)", x->p->bn / 4);
    dc_line(x, "  e%d[r] = HR == 1 && (r & 1) ? 0u : tj::dec::pack2<%s>(%s[2 * r], %s[2 * r + 1]);",
         (int)L->pcast, ty(x), in, in);
}

/* acc' = p . v + C: v's B fragments by ldmatrix.trans (v is d-contiguous). */
static void o_product(dx *x, const dc_loop *L) {
    const dc_plan *p = x->p;
    int o = (int)L->omma, pc = (int)L->pcast;
    char c[64];
    dc_base(x, dc_node(x, L->omma)->in[2], c);
    dc_line(x, "float e%d[%d];", o, p->d / 2);
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int r = 0; r < %d; ++r) if (HR == 2 || (r & 2) == 0) e%d[r] = %s[r];", p->d / 2, o, c);
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int ch = 0; ch < NC; ++ch) {");
    dc_line(x, "  const unsigned sl = next_chunk(NC + ch);");
    dc_line(x, "  #pragma unroll");
    dc_line(x, "  for (int nd = 0; nd < D / 16; ++nd) {");
    dc_line(x, "    unsigned b0, b1, b2, b3;");
    dc_line(x, "    tj::dec::ldsm_x4_t(b0, b1, b2, b3, sl + tj::dec::swz<D>(lrow_a, 2 * nd + lcol_a));");
    dc_line(x, "    tj::dec::mma_rows<%s, HR>(e%d[8 * nd], e%d[8 * nd + 1], e%d[8 * nd + 2], e%d[8 * nd + 3], "
         "e%d[4 * ch], e%d[4 * ch + 1], e%d[4 * ch + 2], e%d[4 * ch + 3], b0, b1);",
         ty(x), o, o, o, o, pc, pc, pc, pc);
    dc_line(x, "    tj::dec::mma_rows<%s, HR>(e%d[8 * nd + 4], e%d[8 * nd + 5], e%d[8 * nd + 6], "
         "e%d[8 * nd + 7], e%d[4 * ch], e%d[4 * ch + 1], e%d[4 * ch + 2], e%d[4 * ch + 3], b2, b3);",
         ty(x), o, o, o, o, pc, pc, pc, pc);
    dc_line(x, "  }");
    dc_line(x, "}");
}

static const dc_loop *loop_of(const dx *x, int32_t f) {
    for (int i = 0; i < x->p->nloops; i++)
        if (x->p->loops[i].node == f) return &x->p->loops[i];
    return NULL;
}

/* One KV loop for this warp: its trips are j = lo + ((wk - lo) mod NWK)
 * + k NWK. A trip reads CPT chunks (k's NC, then v's NC); the chunk R - 1
 * ahead of the one in use is copied as the slot before it frees up, from
 * this trip's tiles or the next trip's (R - 1 <= CPT), whose addresses
 * are computed once a trip. */
static void kv_loop(dx *x, int32_t f) {
    const dc_loop *L = loop_of(x, f);
    const ir_loop *lp = dc_node(x, f)->loop;
    const ir_node *fn = dc_node(x, f);
    const ir_tensor *tk = &x->g->tensors[dc_node(x, L->kload)->tensor];
    const ir_tensor *tv = &x->g->tensors[dc_node(x, L->vload)->tensor];
    int kr = dc_node(x, L->kload)->axes[0], vr = dc_node(x, L->vload)->axes[0];
    char lo[64], hi[64], iv[32];
    for (int i = 0; i < 2; i++) {
        const ir_node *b = dc_node(x, fn->in[i]);
        char *dst = i ? hi : lo;
        if (b->op == IR_CONST) emit_literal(b->type.dtype, b->f, dst, 64);
        else dc_base(x, fn->in[i], dst);
    }
    snprintf(iv, sizeof iv, "iv%d", (int)f);
    dc_line(x, "// KV loop %d", (int)f);
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "c%d", (int)c);
        dc_line(x, "float c%d[%d];", (int)c, dc_count(x->p->cls[c], x->p->ncols[c]));
        dc_fill(x, dst, x->p->cls[c], x->p->ncols[c], fn->in[3 + k]);
    }
    dc_line(x, "{");
    x->depth++;
    dc_line(x, "const int lo_ = %s, hi_ = %s;", lo, hi);
    dc_line(x, "const int j0 = lo_ + (((wk - lo_) %% NWK) + NWK) %% NWK;");
    dc_line(x, "const %s *kc_b = t_%s, *vc_b = t_%s, *kn_b = t_%s, *vn_b = t_%s;", ty(x), tk->name,
         tv->name, tk->name, tv->name);
    dc_line(x, "long long kc_r = 0, vc_r = 0, kn_r = 0, vn_r = 0;");
    dc_line(x, "bool kc_ok = false, vc_ok = false, kn_ok = false, vn_ok = false;");
    dc_line(x, "int su = 0;   // the ring slot of the next chunk to use");
    dc_line(x, "auto issue = [&](int slot, int part, bool next, bool live) {   // of this or the next trip");
    dc_line(x, "  const unsigned dst = ring + (unsigned)slot * CHUNK;");
    dc_line(x, "  if (live && part < NC)");
    dc_line(x, "    tj::dec::copy_chunk<%s, D>(dst, next ? kn_b : kc_b, t_%s_s%d, (next ? kn_r : kc_r) + "
         "16 * part, t_%s_d%d, next ? kn_ok : kc_ok, al_%s, lane);", ty(x), tk->name, kr, tk->name,
         kr, tk->name);
    dc_line(x, "  else if (live)");
    dc_line(x, "    tj::dec::copy_chunk<%s, D>(dst, next ? vn_b : vc_b, t_%s_s%d, (next ? vn_r : vc_r) + "
         "16 * (part - NC), t_%s_d%d, next ? vn_ok : vc_ok, al_%s, lane);", ty(x), tv->name, vr,
         tv->name, vr, tv->name);
    dc_line(x, "  tj::dec::cp_commit();");
    dc_line(x, "};");
    dc_line(x, "bool more = false;   // the warp has a next trip");
    dc_line(x, "auto next_chunk = [&](int pos) -> unsigned {   // chunk pos of the trip, once landed");
    dc_line(x, "  __syncwarp();   // every lane is done with the slot about to be refilled");
    dc_line(x, "  const int ahead = pos + R - 1;");
    dc_line(x, "  issue(su == 0 ? R - 1 : su - 1, ahead < CPT ? ahead : ahead - CPT, ahead >= CPT, ahead < CPT || more);");
    dc_line(x, "  tj::dec::cp_wait<R - 1>();");
    dc_line(x, "  __syncwarp();   // and every lane's pieces of chunk pos are visible");
    dc_line(x, "  const unsigned at = ring + (unsigned)su * CHUNK;");
    dc_line(x, "  su = su == R - 1 ? 0 : su + 1;");
    dc_line(x, "  return at;");
    dc_line(x, "};");
    dc_line(x, "if (j0 < hi_) {");
    x->depth++;
    tile_src(x, L->kload, f, "j0", "kc");
    tile_src(x, L->vload, f, "j0", "vc");
    dc_line(x, "for (int q = 0; q < R - 1; ++q) issue(q, q, false, true);");
    x->depth--;
    dc_line(x, "}");
    dc_line(x, "for (int %s = j0; %s < hi_; %s += NWK) {", iv, iv, iv);
    x->depth++;
    dc_line(x, "more = %s + NWK < hi_;", iv);
    dc_line(x, "if (more) {");
    x->depth++;
    dc_line(x, "const int jn = %s + NWK;", iv);
    tile_src(x, L->kload, f, "jn", "kn");
    tile_src(x, L->vload, f, "jn", "vn");
    x->depth--;
    dc_line(x, "}");
    for (int k = 0; k < lp->nbody; k++) {
        int32_t id = lp->body[k];
        if (id == L->smma) s_product(x, L);
        else if (id == L->pcast) p_pack(x, L);
        else if (id == L->omma) o_product(x, L);
        else dc_value(x, id);
    }
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "y%d", k);
        dc_line(x, "float y%d[%d];", k, dc_count(x->p->cls[c], x->p->ncols[c]));
        dc_fill(x, dst, x->p->cls[c], x->p->ncols[c], lp->yields[k]);
    }
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        dc_line(x, "#pragma unroll");
        int cls = x->p->cls[c];
        dc_line(x, "for (int r = 0; r < %d; ++r) %sc%d[r] = y%d[r];", dc_count(cls, x->p->ncols[c]),
             cls == DC_ROW ? "if (HR == 2 || r == 0) " : cls == DC_FULL ? "if (HR == 2 || !(r & 2)) " : "",
             (int)c, k);
    }
    dc_line(x, "kc_b = kn_b; vc_b = vn_b; kc_r = kn_r; vc_r = vn_r; kc_ok = kn_ok; vc_ok = vn_ok;");
    x->depth--;
    dc_line(x, "}");
    dc_line(x, "tj::dec::cp_wait<0>();   // the empty groups past the last trip");
    dc_line(x, "__syncwarp();");
    x->depth--;
    dc_line(x, "}");
}

/* After the loops: partials to shared memory, cluster barrier, merge and
 * the graph's epilogue per element of this block's share. */
static void merge(dx *x) {
    const dc_plan *p = x->p;
    const tj_graph *g = x->g;
    const dc_loop *L = dc_last_loop(x);
    const ir_loop *lp = dc_node(x, L->node)->loop;
    int cm = (int)lp->carried[L->sm], cl = (int)lp->carried[L->sl], ca = (int)lp->carried[L->sa];
    char f[1024];
    dc_fexpr(x, L->alpha, f, sizeof f);
    dc_line(x, "__syncthreads();   // every warp is past its loops: the ring holds partials now");
    dc_line(x, "{");
    x->depth++;
    dc_line(x, "float *mine = (float *)(tj_smem + RING_OFF) + warp * PSTRIDE;");
    dc_line(x, "if ((lane & 3) == 0) {");
    dc_line(x, "  for (int h = 0; h < HR; ++h) { mine[rrow + 8 * h] = c%d[h]; mine[16 + rrow + 8 * h] = c%d[h]; }",
         cm, cl);
    dc_line(x, "}");
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int t = 0; t < D / 8; ++t)");
    dc_line(x, "  #pragma unroll");
    dc_line(x, "  for (int h = 0; h < HR; ++h)");
    dc_line(x, "    #pragma unroll");
    dc_line(x, "    for (int c = 0; c < 2; ++c)");
    dc_line(x, "      mine[32 + (rrow + 8 * h) * D + 8 * t + qcol + c] = c%d[4 * t + 2 * h + c];", ca);
    x->depth--;
    dc_line(x, "}");
    if (p->S > 1) dc_line(x, "tj::dec::cluster_sync();   // every block's partials are written");
    else dc_line(x, "__syncthreads();");
    dc_line(x, "float *wt = (float *)(tj_smem + WT_OFF);   // [16][NP] weights, M[16], L[16], m, l");
    dc_line(x, "float *mg = wt + 16 * NP + 32, *lg = mg + 16 * NP;   // every partial's m and l");
    dc_line(x, "auto partial = [&](int pi) -> const float * {");
    dc_line(x, "  const float *loc = (const float *)(tj_smem + RING_OFF) + (pi %% W) * PSTRIDE;");
    if (p->S > 1) dc_line(x, "  return tj::dec::peer(loc, (unsigned)(pi / W));");
    else dc_line(x, "  return loc;");
    dc_line(x, "};");
    dc_line(x, "for (int e = tid; e < G * NP; e += NT) {   // gathered at once, not row by row");
    dc_line(x, "  const int i = e / NP, pi = e %% NP;");
    dc_line(x, "  const float *src = partial(pi);");
    dc_line(x, "  mg[e] = src[i];");
    dc_line(x, "  lg[e] = src[16 + i];");
    dc_line(x, "}");
    dc_line(x, "__syncthreads();");
    dc_line(x, "for (int i = tid; i < G; i += NT) {");
    x->depth++;
    dc_line(x, "float Mx = __int_as_float((int)0xff800000);");
    dc_line(x, "for (int pi = 0; pi < NP; ++pi) Mx = fmaxf(Mx, mg[i * NP + pi]);");
    dc_line(x, "float Lx = 0.0f;");
    dc_line(x, "for (int pi = 0; pi < NP; ++pi) {");
    dc_line(x, "  const float mp = mg[i * NP + pi];");
    dc_line(x, "  const float w = mp == __int_as_float((int)0xff800000) ? 0.0f : (float)(%s);", f);
    dc_line(x, "  wt[i * NP + pi] = w;");
    dc_line(x, "  Lx += w * lg[i * NP + pi];");
    dc_line(x, "}");
    dc_line(x, "wt[16 * NP + i] = Mx;");
    dc_line(x, "wt[16 * NP + 16 + i] = Lx;");
    x->depth--;
    dc_line(x, "}");
    dc_line(x, "__syncthreads();");
    dc_line(x, "for (int e = (int)rank * NT + tid; e < G * D; e += SPLIT * NT) {");
    x->depth++;
    dc_line(x, "const int ei = e / D, ec = e %% D;");
    dc_line(x, "const float Mx = wt[16 * NP + ei], Lx = wt[16 * NP + 16 + ei];");
    dc_line(x, "float Ax = 0.0f;");
    dc_line(x, "float pa[NP];   // every partial's element first: the remote loads overlap");
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int pi = 0; pi < NP; ++pi) pa[pi] = partial(pi)[32 + ei * D + ec];");
    dc_line(x, "#pragma unroll");
    dc_line(x, "for (int pi = 0; pi < NP; ++pi) Ax += wt[ei * NP + pi] * pa[pi];");
    dc_line(x, "(void)Mx; (void)Lx; (void)Ax;");
    x->flat = 1;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = dc_node(x, id);
        if (!p->post[id] || !p->live[id]) continue;
        if (n->op == IR_STORE) {
            char pfx[32], v[96];
            snprintf(pfx, sizeof pfx, "S%d", (int)id);
            dc_line(x, "{ // store %s", g->tensors[n->tensor].name);
            x->depth++;
            dc_access_bases(x, id, pfx);
            dc_access_index(x, id, pfx, "ei", "ec");
            dc_line(x, "if (inb) tjg::st(t_%s + at, %s);", g->tensors[n->tensor].name,
                 dc_at(x, n->in[n->nin - 1], v));
            x->depth--;
            dc_line(x, "}");
            continue;
        }
        if (n->op == IR_FOR_RESULT || n->op == IR_CONST) continue;
        char r[1024];
        if (n->op == IR_LOAD) {
            x->flat = 0;
            dc_scalar(x, id);
            x->flat = 1;
            dc_line(x, "const %s v%d = s%d;", emit_reg_type(n->type.dtype), (int)id, (int)id);
        } else if (dc_rhs(x, id, r, sizeof r)) {
            dc_line(x, "const %s v%d = %s; (void)v%d;", emit_reg_type(n->type.dtype), (int)id, r, (int)id);
        }
    }
    x->flat = 0;
    x->depth--;
    dc_line(x, "}");
    if (p->S > 1) dc_line(x, "tj::dec::cluster_sync();   // peers have read this block's partials");
}

static void signature(dx *x, emit_launch *L) {
    const tj_graph *g = x->g;
    const dc_plan *p = x->p;
    sb_printf(&x->out, "extern \"C\" __global__ void __launch_bounds__(%d, %d)\ntj_%s(", 32 * p->W,
              p->minblocks, g->name);
    int np = emit_sched_params(&x->out, g, p->sym, NULL, L);
    sb_printf(&x->out, ") {\n");
    L->nparams = np;
}

static void prologue(dx *x) {
    const tj_graph *g = x->g;
    const dc_plan *p = x->p;
    emit_sched_prologue(&x->out, x->depth, g, p->sym);
    /* 16-byte pieces need 16-byte aligned k and v (their strides were
     * checked); a tensor not declared so is checked here. */
    for (int i = 0; i < 2; i++) {
        const ir_tensor *t = &g->tensors[dc_node(x, i ? p->loops[0].vload : p->loops[0].kload)->tensor];
        if (i && t == &g->tensors[dc_node(x, p->loops[0].kload)->tensor]) continue;
        if (t->align >= 16) dc_line(x, "const bool al_%s = true;", t->name);
        else dc_line(x, "const bool al_%s = ((unsigned long long)t_%s & 15ull) == 0;", t->name, t->name);
    }
    dc_line(x, "const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;");
    dc_line(x, "const unsigned rank = %s;", p->S > 1 ? "blockIdx.x % SPLIT" : "0u");
    dc_line(x, "const int pid0 = (int)blockIdx.x / SPLIT, pid1 = blockIdx.y, pid2 = blockIdx.z;");
    dc_line(x, "const int wk = (int)rank * W + warp;   // this warp's share of the KV trips");
    dc_line(x, "const int rrow = lane >> 2, qcol = 2 * (lane & 3);   // accumulator row, first column");
    dc_line(x, "const int lrow_a = (lane & 7) + ((lane >> 3) & 1) * 8, lcol_a = lane >> 4;");
    dc_line(x, "const int lrow_b = (lane & 7) + (lane >> 4) * 8, lcol_b = (lane >> 3) & 1;");
    dc_line(x, "const unsigned sq = tj::dec::smem_u32(tj_smem);");
    dc_line(x, "const unsigned ring = sq + RING_OFF + (unsigned)warp * (R * CHUNK);");
    dc_line(x, "(void)pid0; (void)pid1; (void)pid2; (void)rank; (void)lrow_b; (void)lcol_b;");
}

static tj_status kernel(dx *x, emit_launch *L) {
    const dc_plan *p = x->p;
    const tj_graph *g = x->g;
    char hash[65];
    tj_status st = tj_graph_hash(g, hash);
    if (st != TJ_OK) return st;
    size_t es = tj_dtype_size((tj_dtype)p->dtype);
    size_t ring_off = (16u * (size_t)p->d * es + 127u) & ~(size_t)127u;
    size_t area = p->ring > p->part ? p->ring : p->part;
    sb_printf(&x->out, "// tilejit decode kernel for graph '%s' (%s)\n// graph sha256 %s\n",
              g->name, p->arch, hash);
    sb_printf(&x->out, "// q [%d,%d] %s, KV tiles of %d, %d block%s a program x %d warps, a ring "
              "of %d chunks a warp, %d KV loop%s\n#include \"tj/types.cuh\"\n#include "
              "\"tj/math.cuh\"\n#include \"tj/decode.cuh\"\nnamespace tjg = tj;\n\n", p->G, p->d, ty(x), p->bn, p->S, p->S > 1 ? "s (a cluster)" : "",
              p->W, p->R, p->nloops, p->nloops > 1 ? "s" : "");
    sb_printf(&x->out,
              "namespace {\nconstexpr int G = %d, D = %d, BN = %d, NC = BN / 16, CPT = 2 * NC;\n"
              "constexpr int W = %d, NT = 32 * W, R = %d, SPLIT = %d, NWK = SPLIT * W, NP = NWK;\n"
              "constexpr unsigned CHUNK = %zu, RING_OFF = %zu, WT_OFF = %zu;\n"
              "constexpr int PSTRIDE = 32 + 16 * D, HR = G > 8 ? 2 : 1;   // live row halves\n}\n\n",
              p->G, p->d, p->bn, p->W, p->R, p->S, p->chunk, ring_off, ring_off + area);
    signature(x, L);
    x->depth = 1;
    dc_line(x, "extern __shared__ __align__(128) unsigned char tj_smem[];");
    prologue(x);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = dc_node(x, id);
        if (p->post[id]) continue;
        if (id == p->qload) q_tile(x);
        else if (n->op == IR_FOR) kv_loop(x, id);
        else dc_value(x, id);
    }
    merge(x);
    x->depth = 0;
    sb_printf(&x->out, "}\n");
    if (x->out.oom) return tj_set_error(TJ_ERR_NO_MEMORY, "decode: out of memory");
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    L->threads = 32 * p->W;
    L->smem_bytes = ring_off + area + (size_t)16 * (size_t)(3 * p->S * p->W + 2) * 4u;
    if (p->S > 1) {
        L->grid_mode = EMIT_GRID_MUL;
        L->grid_arg = p->S;
        L->cluster[0] = (unsigned)p->S, L->cluster[1] = L->cluster[2] = 1;
    } else {
        L->grid_mode = EMIT_GRID_GRAPH;
        L->grid_arg = 1;
    }
    return TJ_OK;
}

tj_status sched_decode(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                       emit_launch *launch, char *why, size_t why_size) {
    *src = NULL;
    dc_plan p;
    tj_status st = dc_match(g, arch, sym_vals, &p, why, why_size);
    if (st != TJ_OK || !p.g) return st;
    dx x = {.p = &p, .g = g};
    st = kernel(&x, launch);
    if (st == TJ_OK) {
        *src = x.out.data;
        x.out.data = NULL;
    }
    sb_free(&x.out);
    dc_plan_free(&p);
    return st;
}
