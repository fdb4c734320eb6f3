/*
 * gemm_sm90_splitk.c — split-K in clusters for gemm_sm90 (plan's split S
 * > 1, gs_splitk): for shapes with far fewer output tiles than SMs, where
 * a tile a block leaves most SMs idle.
 *
 * A tile is taken by a cluster of S blocks (launch grid (g0 * S, g1, g2),
 * one tile a cluster, no persistent walk). Block r runs the r-th of S
 * equal runs of the loop's K tiles with the usual CTA-local pipeline
 * (TMA, mbarriers, wgmma: nothing in the mainloop crosses blocks). Then:
 *  1. each consumer thread writes its f32 accumulator fragment to its own
 *     block's shared memory over the pipeline's stages (all consumed by
 *     then), in fragment order: register group (ms, nb) of thread t at
 *     ((ms * BN/8 + nb) * 128 + t) * 16, 16 bytes a thread, so a warp's
 *     stores and loads are 512 contiguous bytes (no bank conflicts);
 *  2. a cluster barrier (release / acquire): every block's sums are there;
 *  3. each thread sums, over the S blocks in rank order (deterministic),
 *     the same fragment places for this block's BN/S columns (column
 *     blocks rank * NBS ..): ld.shared::cluster at mapa addresses;
 *  4. it arrives on the second cluster barrier (its reads are done), runs
 *     the graph's epilogue on its sums and stores them (from registers,
 *     masked), and waits on that barrier before exiting, so no block's
 *     shared memory goes away while a peer reads it.
 * The producer warpgroup takes part in both barriers. The accumulator's
 * starting constant enters block 0's sum only.
 */
#include <stdio.h>

#include "frag.h"
#include "gemm_sm90_emit.h"

#define line gs_line

void gs_split_coords(gx *x) {
    line(x, "const int pid0 = (int)(blockIdx.x / SPLIT), pid1 = (int)blockIdx.y, "
            "pid2 = (int)blockIdx.z;");
    line(x, "const int rank = (int)tj::sm90::cluster_rank();   // = blockIdx.x %% SPLIT");
}

/* Trips tr of the loop split at tr * r / S: runs differ by one at most,
 * and a block whose run is empty adds zeros. */
void gs_split_loop_head(gx *x) {
    const ir_node *f = &x->g->nodes[x->p->loop];
    char lo[64], hi[64], st[64];
    gs_vname(x, f->in[0], lo);
    gs_vname(x, f->in[1], hi);
    gs_vname(x, f->in[2], st);
    line(x, "const long long trips = %s < %s ? ((long long)%s - %s + %s - 1) / %s : 0;", lo, hi,
         hi, lo, st, st);
    line(x, "const long long kt_end = trips * (rank + 1) / SPLIT;");
    line(x, "for (long long kt = trips * rank / SPLIT; kt < kt_end; ++kt) {");
    const char *T = emit_reg_type(x->g->nodes[f->in[0]].type.dtype);
    line(x, "  const %s iv = (%s)(%s + kt * %s); (void)iv;", T, T, lo, st);
}

void gs_split_producer_tail(gx *x) {
    line(x, "__syncwarp();   // the cluster barrier is .aligned: whole warps, converged");
    line(x, "tj::sm90::cluster_sync();   // the consumers' partial sums are written");
    line(x, "tj::sm90::cluster_sync();   // and read");
}

/* The epilogue on this thread's summed elements red[ms][nbs * 4 + h * 2 + c]:
 * row i and column j as the accumulator fragment has them. */
static void elements(gx *x) {
    const gs_plan *p = x->p;
    const tj_graph *g = x->g;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = &g->nodes[id];
        char pfx[32];
        if (p->live[id] && p->elem[id] && n->op == IR_LOAD) {
            snprintf(pfx, sizeof pfx, "L%d", (int)id);
            gs_access_bases(x, id, pfx);
        }
        if (n->op == IR_STORE) {
            snprintf(pfx, sizeof pfx, "S%d", (int)id);
            gs_access_bases(x, id, pfx);
        }
    }
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms)");
    line(x, "#pragma unroll");
    line(x, "for (int nbs = 0; nbs < NBS; ++nbs)");
    line(x, "#pragma unroll");
    line(x, "for (int h = 0; h < 2; ++h)");
    line(x, "#pragma unroll");
    line(x, "for (int c = 0; c < 2; ++c) {");
    x->depth++;
    line(x, "const int i = wrow + ms * 64 + w4 * 16 + (lane >> 2) + 8 * h;");
    line(x, "const int j = (rank * NBS + nbs) * 8 + (lane & 3) * 2 + c;");
    line(x, "(void)i; (void)j;");
    if (p->result >= 0 && p->live[p->result])
        line(x, "const float e%d = red[ms][nbs * 4 + h * 2 + c];", (int)p->result);
    for (int32_t id = 0; id < g->nnodes; id++)
        if (p->live[id] && p->elem[id]) gs_value(x, id);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = &g->nodes[id];
        if (n->op != IR_STORE) continue;
        char pfx[32], v[64];
        gs_vname(x, n->in[n->nin - 1], v);
        snprintf(pfx, sizeof pfx, "S%d", (int)id);
        line(x, "{ // store %s", g->tensors[n->tensor].name);
        x->depth++;
        frag_access_index(&x->out, x->depth, g, id, pfx, "i", "j");
        line(x, "if (inb) tjg::st(t_%s + at, %s);", g->tensors[n->tensor].name, v);
        x->depth--;
        line(x, "}");
    }
    x->depth--;
    line(x, "}");
}

void gs_split_epilogue(gx *x) {
    line(x, "constexpr int NBS = BN / 8 / SPLIT;   // column blocks of 8 this block sums");
    line(x, "tj::sm90::named_barrier(1, NWG * 128);   // every warpgroup's products have read the "
            "stages");
    line(x, "const unsigned sacc = sbase + (unsigned)(cw * MS * (BN / 8) * 2048);");
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms)");
    line(x, "#pragma unroll");
    line(x, "for (int nb = 0; nb < BN / 8; ++nb)");
    line(x, "  tj::sm90::st_shared_v4(sacc + (unsigned)(((ms * (BN / 8) + nb) * 128 + wl) * 16), "
            "acc[ms][nb * 4], acc[ms][nb * 4 + 1], acc[ms][nb * 4 + 2], acc[ms][nb * 4 + 3]);");
    line(x, "tj::sm90::cluster_sync();   // every block's partial sums are written");
    /* All S loads of every place first (as many registers as the
     * accumulator, dead by now), then the sums in rank order. */
    line(x, "float part[MS][NBS][SPLIT][4];");
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms)");
    line(x, "#pragma unroll");
    line(x, "for (int nbs = 0; nbs < NBS; ++nbs)");
    line(x, "#pragma unroll");
    line(x, "for (int q = 0; q < SPLIT; ++q)");
    line(x, "  tj::sm90::ld_shared_cluster_v4(sacc + (unsigned)(((ms * (BN / 8) + rank * NBS + "
            "nbs) * 128 + wl) * 16), (unsigned)q, part[ms][nbs][q]);");
    line(x, "float red[MS][NBS * 4];");
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms)");
    line(x, "#pragma unroll");
    line(x, "for (int nbs = 0; nbs < NBS; ++nbs)");
    line(x, "#pragma unroll");
    line(x, "for (int r = 0; r < 4; ++r) {");
    line(x, "  float s = part[ms][nbs][0][r];");
    line(x, "  #pragma unroll");
    line(x, "  for (int q = 1; q < SPLIT; ++q) s += part[ms][nbs][q][r];");
    line(x, "  red[ms][nbs * 4 + r] = s;");
    line(x, "}");
    line(x, "tj::sm90::cluster_arrive();   // this block's reads of its peers are done");
    elements(x);
    line(x, "__syncwarp();");
    line(x, "tj::sm90::cluster_wait();   // and its peers' of this block: it may exit");
}
