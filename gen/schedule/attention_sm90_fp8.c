/*
 * attention_sm90_fp8.c — the parts of the attention_sm90 kernel that
 * differ for fp8 (e4m3 q, k and v given transposed: the attention recipe's
 * dtype=f8e4m3 v_layout=t). wgmma takes 8-bit operands K-major only:
 *  - s = q . k^T: both have d contiguous, k32 steps of 32 bytes along
 *    their swizzled lines (128 bytes, or 64 at d 64);
 *  - p . v: K is the keys, so v comes as [d, keys] tiles of vt; p is
 *    packed from s's accumulator four e4m3 to a register, in the order
 *    the accumulator gives each thread (keys 2q + {0, 1, 8, 9} of each
 *    16), and the producer's warps 1-3 reorder the keys of each vt tile
 *    the same way in shared memory before p . v reads it
 *    (tj/sm90_attn.cuh: permute_keys16, on its own mbarrier bar_vp).
 * Everything else (the softmax on the f32 scores, the pipeline, the
 * epilogue's bf16 o) is the 16-bit kernel's.
 */
#include <stdio.h>

#include "attention_sm90_emit.h"

/* A K-major descriptor at `addr` of a tile with `line`-byte swizzled lines. */
static void kdesc(char *out, size_t size, int line, const char *addr) {
    if (line == 128) snprintf(out, size, "tj::sm90::desc_sw128(%s, 16, 1024)", addr);
    else snprintf(out, size, "tj::sm90::desc_sw64(%s, 16, 512)", addr);
}

void as_fp8_dq(ax *x) {
    char at[64], desc[128];
    snprintf(at, sizeof at, "sq + cw * (64 * %d)", x->p->qline);
    kdesc(desc, sizeof desc, x->p->qline, at);
    as_line(x, "const unsigned long long dq = %s;   // this warpgroup's rows of q", desc);
}

void as_fp8_s(ax *x, const as_loop *L) {
    const as_plan *p = x->p;
    int per = p->qline / 32;   /* k steps a line */
    char desc[96];
    kdesc(desc, sizeof desc, p->qline, "sk");
    as_line(x, "const unsigned long long dk = %s;", desc);
    as_line(x, "tj::sm90::wgmma_fence();");
    as_line(x, "#pragma unroll");
    as_line(x, "for (int kk = 0; kk < D / 32; ++kk)");
    as_line(x, "  tj::sm90::wgmma_e4m3_m64n%dk32(e%d,", p->bn, (int)L->smma);
    as_line(x, "      tj::sm90::desc_add(dq, (kk / %d) * (BM * %d) + (kk %% %d) * 32),", per,
            p->qline, per);
    as_line(x, "      tj::sm90::desc_add(dk, (kk / %d) * (BN * %d) + (kk %% %d) * 32), kk > 0);",
            per, p->qline, per);
}

/* Register 4r + i is k step r's A register i: a0 / a1 rows +0 / +8 of
 * the step's first 16 keys, a2 / a3 of the next 16; the thread's own keys
 * 2q + {0, 1, 8, 9} of each 16, which vt's permuted keys match. */
void as_fp8_p_pack(ax *x, const as_loop *L, const char *in) {
    as_line(x, "unsigned e%d[%d];   // p, packed for wgmma's A (e4m3)", (int)L->pcast, x->p->bn / 8);
    as_line(x, "#pragma unroll");
    as_line(x, "for (int r = 0; r < %d; ++r) {", x->p->bn / 32);
    as_line(x, "#pragma unroll");
    as_line(x, "  for (int i = 0; i < 4; ++i) {");
    as_line(x, "    const int b = 16 * r + 8 * (i >> 1) + 2 * (i & 1);");
    as_line(x, "    e%d[4 * r + i] = tj::sm90::pack_e4m3x4(%s[b], %s[b + 1], %s[b + 4], %s[b + 5]);",
            (int)L->pcast, in, in, in, in);
    as_line(x, "  }");
    as_line(x, "}");
}

/* vt's tile K-major (keys contiguous, in p's order once bar_vp says so):
 * k32 steps of 32 bytes along a line, chunks of `vline` keys. */
void as_fp8_pv(ax *x, const char *a, const char *st, const char *ph, const char *dst, int commit) {
    const as_plan *p = x->p;
    int per = p->vline / 32;
    char desc[96];
    as_line(x, "tj::sm90::mbar_wait(bar_vp + 8 * %s, %s);   // vt landed, keys permuted", st, ph);
    as_line(x, "const unsigned svp = sbase + Q_BYTES + %s * (2 * KV_BYTES) + KV_BYTES;", st);
    kdesc(desc, sizeof desc, p->vline, "svp");
    as_line(x, "const unsigned long long dv = %s;", desc);
    as_line(x, "tj::sm90::wgmma_fence();");
    as_line(x, "#pragma unroll");
    as_line(x, "for (int kk = 0; kk < BN / 32; ++kk) {");
    as_line(x, "  const unsigned a[4] = {%s[4 * kk], %s[4 * kk + 1], %s[4 * kk + 2], %s[4 * kk + 3]};",
            a, a, a, a);
    as_line(x, "  tj::sm90::wgmma_e4m3_m64n%dk32_rs(%s, a, tj::sm90::desc_add(dv, (kk / %d) * (D * %d) + (kk %% %d) * 32));",
            p->d, dst, per, p->vline, per);
    as_line(x, "}");
    if (commit) as_line(x, "tj::sm90::wgmma_commit();");
}

/* Warps 1-3 of the producer warpgroup walk the same trips as its thread
 * 0 and, as each vt tile lands, reorder the keys of its 16-byte chunks
 * into p's register order, then order their writes before the tensor
 * cores' reads (proxy fence) and arrive on the stage's bar_vp, which
 * p . v waits for. Off the consumers' path: 16 KB a trip at d 128. */
void as_fp8_permuters(ax *x) {
    const as_plan *p = x->p;
    const tj_graph *g = x->g;
    as_line(x, "if (tid >= 32) {   // the keys of vt's tiles into p's register order");
    x->depth++;
    as_line(x, "const int ptid = tid - 32;");
    as_line(x, "int stage = 0;");
    as_line(x, "unsigned phase = 0;");
    as_walk_open(x);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = as_node(x, id);
        if (n->op != IR_FOR) {   /* the loops' bounds */
            if (p->live[id] && p->cls[id] == AS_SCALAR && n->op != IR_STORE) as_scalar(x, id);
            continue;
        }
        as_loop_head(x, id);
        x->depth++;
        as_line(x, "const unsigned sv = sbase + Q_BYTES + stage * (2 * KV_BYTES) + KV_BYTES;");
        as_line(x, "tj::sm90::mbar_wait(bar_v + 8 * stage, phase);");
        as_line(x, "for (int i = ptid; i < (int)(KV_BYTES / 16); i += 96)");
        as_line(x, "  tj::sm90::permute_keys16(sv + 16u * (unsigned)i);");
        as_line(x, "tj::sm90::fence_proxy_async();   // for wgmma's reads");
        as_line(x, "tj::sm90::mbar_arrive(bar_vp + 8 * stage);");
        as_line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
        x->depth--;
        as_line(x, "}");
    }
    as_walk_close(x);
    x->depth--;
    as_line(x, "}");
}
