/*
 * gemm_sm90_match.c — does a graph have the GEMM shape gemm_sm90 lowers
 * (gemm_sm90.h), and with which tile configuration? Every refusal is one
 * line that names what broke the shape, for the launch note and
 * `tilejit emit`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_config.h"
#include "gemm_sm90.h"

#define SMEM_LIMIT (227u * 1024u)
#define MAX_STAGES 8

/* Off by default: on the H200 (2026-11-29, bench_gemm --cluster 1 vs 2)
 * pairs were 1-5 % slower at every shape (plain geomean 0.998 -> 0.967 of
 * cuBLAS, fused 0.942 -> 0.893, fp8 1.024 -> 0.990): two SMs in lockstep
 * wait for the slower one at every stage, and at 1 block an SM B's L2
 * traffic was not what limited the kernel. */
int gs_cluster = 1;
int gs_cluster_force;
int gs_splitk;

/* The SMs waves are counted in when weighing clusters (H100 SXM and H200
 * have 132); the persistent grid itself uses the device's count. */
#define CLUSTER_SMS 132
/* Fewer tiles than this: the kernel is short and latency-bound, far from
 * L2's bandwidth, and pairs would only add the peers' coupling. */
#define CLUSTER_MIN_TILES 64
/* A split's K tiles at the least, for gs_splitk 0 (split_auto). */
#define SPLIT_MIN_KTILES 4


static const ir_node *node(const gs_plan *p, int32_t id) { return &p->g->nodes[id]; }


/* A value every thread can compute on its own: rank 0, pure. */
static int scalar_op(const ir_node *n) {
    if (n->type.rank != 0) return 0;
    switch (n->op) {
    case IR_CONST: case IR_SCALAR_ARG: case IR_SYMVAL: case IR_PROGRAM_ID: case IR_NUM_PROGRAMS:
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_CAST: case IR_LOAD:
    case IR_LOOP_IV:
        return 1;
    default:
        return 0;
    }
}

static int eval_dims(gs_plan *p, int32_t id) {
    const ir_node *n = node(p, id);
    int64_t d[2] = {1, 1};
    for (int i = 0; i < n->type.rank; i++)
        if (ir_dim_eval(p->g, n->type.dims[i], p->sym, 1, &d[i]) != TJ_OK) return 0;
    p->shape[id][0] = n->type.rank == 2 ? d[0] : 1;
    p->shape[id][1] = n->type.rank == 2 ? d[1] : n->type.rank == 1 ? d[0] : 1;
    return 1;
}

/* One mma operand: a 2-D tile load the copy engine can fetch. */
static int operand(gs_plan *p, int32_t id, int is_a, int trans, gs_operand *o, char *why,
                   size_t size) {
    const char *nm = is_a ? "a" : "b";
    const ir_node *n = node(p, id);
    if (n->op != IR_LOAD || n->parent != p->loop)
        return sched_no(why, size, "mma operand %s is not a tile loaded in the loop", nm);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    if (t->rank != 2 || n->type.rank != 2 || n->axes[0] != 0 || n->axes[1] != 1)
        return sched_no(why, size, "mma operand %s is not a 2-D tile of a 2-D tensor ('%s')", nm,
                        t->name);
    if (n->f != 0)
        return sched_no(why, size, "operand %s pads with %g; the copy engine fills zeros", nm,
                        n->f);
    /* A [M,K] / B [N,K] (trans_b) have K contiguous; the others M or N. */
    o->mn_major = is_a ? trans : !trans;
    size_t es = tj_dtype_size(t->dtype);
    /* wgmma's transpose bits exist for 16-bit types only: an 8-bit
     * operand must reach shared memory with K contiguous. */
    if (es == 1 && o->mn_major)
        return sched_no(why, size,
                        "fp8 operand %s is %s-major: wgmma takes 8-bit operands K-major only "
                        "(a [M,K], b [N,K], trans_b)",
                        nm, is_a ? "M" : "N");
    if (t->has_strides && t->strides[1] != 1)
        return sched_no(why, size, "tensor '%s' is not contiguous along its last dim", t->name);
    tj_dim pitch = t->has_strides ? t->strides[0] : t->dims[1];
    if (!sched_multiple_of(p->g, p->sym, pitch, (int64_t)(16 / es)))
        return sched_no(why, size, "tensor '%s' rows are not known to be 16-byte multiples (TMA)",
                        t->name);
    if (t->align < 16)
        return sched_no(why, size, "tensor '%s' is not declared 16-byte aligned (TMA needs it)",
                        t->name);
    o->load = id;
    o->tensor = n->tensor;
    o->rows = (int)p->shape[id][0];
    o->cols = (int)p->shape[id][1];
    o->mn_coord = n->in[o->mn_major ? 1 : 0];
    /* A chunk is one 128-byte swizzle line of the contiguous dim: for
     * fp8 (K-major) that is 128 elements of K. A 64-element K tile would
     * need 64-byte swizzling (other descriptors and boxes); declined. */
    if (es == 1 && o->cols % 128)
        return sched_no(why, size,
                        "fp8 tile K %d is not a multiple of 128 (a 128-byte swizzle line)",
                        o->cols);
    int line = (int)(128 / es);
    if (o->cols % line || o->rows % 8)
        return sched_no(why, size,
                        "operand %s tile [%d,%d]: the contiguous dim must be a multiple of %d "
                        "(128 bytes of %s)",
                        nm, o->rows, o->cols, line, tj_dtype_name(t->dtype));
    return 1;
}

/* The epilogue: every live tile outside the loop is elementwise over the
 * accumulator's [BM,BN] (or a row / column / one-element piece of it). */
static int epilogue(gs_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    char desc[96];
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = node(p, id);
        if (!p->live[id] || n->parent != -1 || id == p->loop || n->op == IR_STORE) continue;
        if (n->type.rank == 0) {
            if (!scalar_op(n))
                return sched_no(why, size, "%s: a scalar the schedule cannot compute",
                                ir_node_desc(g, id, desc, sizeof desc));
            continue;
        }
        switch (n->op) {
        case IR_CONST: case IR_LOAD: case IR_IOTA: case IR_UNARY: case IR_BINARY: case IR_WHERE:
        case IR_FMA: case IR_CAST: case IR_BROADCAST: case IR_RESHAPE: case IR_FOR_RESULT:
            break;
        default:
            return sched_no(why, size, "epilogue op %s (%s) is not elementwise",
                            ir_node_desc(g, id, desc, sizeof desc), ir_op_name(n->op));
        }
        if (!eval_dims(p, id)) return sched_no(why, size, "a tile dim has no value");
        int64_t m = p->shape[id][0], nn = p->shape[id][1];
        if ((m != 1 && m != p->bm) || (nn != 1 && nn != p->bn) ||
            (n->type.rank == 1 && nn != p->bn && nn != 1))
            return sched_no(why, size, "epilogue tile %s [%lld,%lld] is not a piece of [%d,%d]",
                            ir_node_desc(g, id, desc, sizeof desc), (long long)m, (long long)nn,
                            p->bm, p->bn);
        if (n->op == IR_RESHAPE) {
            /* Only a row stays a row: [N] <-> [1,N] and one-element shapes. */
            const int64_t *x = p->shape[n->in[0]];
            if (x[0] != m || x[1] != nn)
                return sched_no(why, size, "epilogue reshape %s changes the element order",
                                ir_node_desc(g, id, desc, sizeof desc));
        }
        p->elem[id] = 1;
    }
    return 1;
}

/* Stores: [BM,BN] tiles, never into an operand; a tensor the epilogue also
 * loads only at the very elements it stores (c = c + a.b in place). */
static int stores(gs_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    int nstores = 0;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(p, id);
        if (n->op != IR_STORE) continue;
        nstores++;
        int32_t v = n->in[n->nin - 1];
        if (!eval_dims(p, v)) return sched_no(why, size, "a tile dim has no value");
        if (node(p, v)->type.rank != 2 || p->shape[v][0] != p->bm || p->shape[v][1] != p->bn)
            return sched_no(why, size, "a store to '%s' is not a [%d,%d] tile",
                            g->tensors[n->tensor].name, p->bm, p->bn);
        if (n->tensor == p->a.tensor || n->tensor == p->b.tensor)
            return sched_no(why, size, "the graph stores into an mma operand ('%s')",
                            g->tensors[n->tensor].name);
        for (int32_t l = 0; l < g->nnodes; l++) {
            const ir_node *ld = node(p, l);
            if (!p->live[l] || ld->op != IR_LOAD || ld->tensor != n->tensor) continue;
            int same = ld->parent == -1 && ld->type.rank == 2 && ld->flags == n->flags &&
                       ld->axes[0] == n->axes[0] && ld->axes[1] == n->axes[1] &&
                       p->shape[l][0] == p->bm && p->shape[l][1] == p->bn;
            for (int d = 0; same && d < g->tensors[n->tensor].rank; d++)
                same = ld->in[d] == n->in[d];
            if (!same)
                return sched_no(why, size, "tensor '%s' is loaded elsewhere than it is stored",
                                g->tensors[n->tensor].name);
        }
    }
    return nstores ? 1 : sched_no(why, size, "nothing is stored after the loop");
}

/* The top level: one loop, stores after it. */
static int structure(gs_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    p->loop = -1;
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = node(p, g->body[k]);
        if (n->op == IR_FOR) {
            if (p->loop >= 0) return sched_no(why, size, "more than one top-level loop");
            p->loop = g->body[k];
        } else if (n->op == IR_STORE && p->loop < 0) {
            return sched_no(why, size, "a store comes before the loop");
        }
    }
    if (p->loop < 0) return sched_no(why, size, "no loop");
    const ir_node *f = node(p, p->loop);
    const ir_loop *l = f->loop;
    if (l->ncarried != 1)
        return sched_no(why, size, "the loop carries %d values, not one accumulator", l->ncarried);
    const ir_node *c = node(p, l->carried[0]);
    if (c->type.dtype != TJ_F32 || c->type.rank != 2)
        return sched_no(why, size, "the loop's carried value is not an f32 tile");
    p->mma = l->yields[0];
    const ir_node *m = node(p, p->mma);
    if (m->op != IR_MMA || m->nin != 3 || m->in[2] != l->carried[0] || m->parent != p->loop)
        return sched_no(why, size, "the loop does not yield mma(a, b, acc) of its accumulator");
    p->init = f->in[3];
    if (node(p, p->init)->op != IR_CONST)
        return sched_no(why, size, "the accumulator does not start from a constant");
    const ir_node *step = node(p, f->in[2]);
    if (step->op != IR_CONST || step->f < 1)
        return sched_no(why, size, "the loop's step is not a positive constant");
    for (int k = 0; k < l->nbody; k++) {
        int32_t id = l->body[k];
        const ir_node *n = node(p, id);
        if (!p->live[id] || id == p->mma || id == m->in[0] || id == m->in[1]) continue;
        char desc[96];
        if (n->op == IR_FOR || n->op == IR_STORE || !scalar_op(n) || n->op == IR_LOAD)
            return sched_no(why, size, "the loop body computes %s besides the mma",
                            ir_node_desc(g, id, desc, sizeof desc));
    }
    p->result = -1;
    for (int32_t id = 0; id < g->nnodes; id++)
        if (node(p, id)->op == IR_FOR_RESULT && node(p, id)->in[0] == p->loop) p->result = id;
    return 1;
}

/* The store that goes out through shared memory and the copy engine
 * (asynchronous, so the next tile's products overlap it): a 16-bit
 * [BM,BN] tile of a 2-D tensor whose rows are 16-byte multiples. */
static int32_t tma_store(const gs_plan *p) {
    const tj_graph *g = p->g;
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = node(p, g->body[k]);
        if (n->op != IR_STORE) continue;
        const ir_tensor *t = &g->tensors[n->tensor];
        if (t->rank != 2 || n->axes[0] != 0 || n->axes[1] != 1 || t->align < 16 ||
            (t->dtype != TJ_BF16 && t->dtype != TJ_F16) || (t->has_strides && t->strides[1] != 1) ||
            !sched_multiple_of(p->g, p->sym, t->has_strides ? t->strides[0] : t->dims[1], 8))
            continue;
        /* Its only store: the copy lands after the other stores, so a
         * second store to the same tensor could lose its program order. */
        int others = 0;
        for (int o = 0; o < g->nbody; o++)
            others += o != k && node(p, g->body[o])->op == IR_STORE &&
                      node(p, g->body[o])->tensor == n->tensor;
        if (others) continue;
        return g->body[k];
    }
    return -1;
}

/* As many stages as fit beside the output boxes (two 64x64 16-bit boxes
 * per consumer warpgroup, with a TMA store) and the barriers; 0 if not two. */
static int fit_stages(gs_plan *p) {
    size_t out = p->tstore >= 0 ? (size_t)p->nwg * 2 * 8192 : 0;
    p->stages = 0;
    while (p->stages < MAX_STAGES &&
           1024 + out + (p->stages + 1) * (p->stage_bytes + 16) + 16 <= SMEM_LIMIT)
        p->stages++;
    p->smem = 1024 + out + (size_t)p->stages * (p->stage_bytes + 16) + 16;   /* + turn barriers */
    return p->stages >= 2;
}

static int config(gs_plan *p, char *why, size_t size) {
    if (p->bm % 64 || p->bm > 256)
        return sched_no(why, size, "tile M %d is not 64, 128, 192 or 256", p->bm);
    if (p->bn % 64 || p->bn > 256)
        return sched_no(why, size, "tile N %d is not 64, 128 or 256", p->bn);
    if (p->bn == 192) return sched_no(why, size, "tile N 192 is not supported");
    int line = (int)(128 / tj_dtype_size((tj_dtype)p->dtype));
    if (p->bk % line)
        return sched_no(why, size, "tile K %d is not a multiple of %d", p->bk, line);
    p->nwg = p->bm >= 128 ? 2 : 1;
    /* A 128-row tile of up to 128 columns fits one warpgroup's registers
     * (128 a thread): the two warpgroups then take whole tiles in turn. */
    p->pingpong = p->bm == 128 && p->bn <= 128;
    p->ms = p->pingpong ? 2 : p->bm / (64 * p->nwg);
    if (p->bm % (64 * p->nwg))
        return sched_no(why, size, "tile M %d does not split over 2 warpgroups", p->bm);
    if (p->ms * p->bn / 2 > 128)
        return sched_no(why, size,
                        "a [%d,%d] f32 accumulator needs %d registers a thread (128 at most)",
                        p->bm, p->bn, p->ms * p->bn / 2);
    size_t es = tj_dtype_size((tj_dtype)p->dtype);
    p->stage_bytes = (size_t)(p->bm + p->bn) * (size_t)p->bk * es;
    p->tstore = tma_store(p);
    if (!fit_stages(p))
        return sched_no(why, size, "a [%d,%d,%d] stage takes %zu bytes; two do not fit", p->bm,
                        p->bn, p->bk, p->stage_bytes);
    p->threads = 128 * (1 + p->nwg);
    p->group = 8;
    p->ax_m = p->ax_n = -1;
    const ir_node *cm = node(p, p->a.mn_coord), *cn = node(p, p->b.mn_coord);
    if (cm->op == IR_PROGRAM_ID && cn->op == IR_PROGRAM_ID && cm->index != cn->index) {
        p->ax_m = cm->index;
        p->ax_n = cn->index;
    }
    return 1;
}

/* Whether node id (a scalar) depends on program id `axis`. memo per node:
 * 0 not seen, 1 no (also while being looked at: the walk cannot loop),
 * 2 yes. A loop's induction variable leads to its FOR node, whose inputs
 * are the loop's bounds. */
static int depends_on_pid(const gs_plan *p, int32_t id, int axis, uint8_t *memo) {
    if (memo[id]) return memo[id] == 2;
    memo[id] = 1;
    const ir_node *n = node(p, id);
    int dep = n->op == IR_PROGRAM_ID && n->index == axis;
    for (int k = 0; !dep && k < n->nin; k++) dep = depends_on_pid(p, n->in[k], axis, memo);
    if (dep) memo[id] = 2;
    return dep;
}

/* Whether every symbol the grid's expression id reads is bound. */
static int grid_bound(const gs_plan *p, int32_t id, int depth) {
    const ir_node *n = node(p, id);
    if (depth > 64) return 0;
    if (n->op == IR_SYMVAL) return p->sym && p->sym[n->index] != TJ_UNBOUND;
    for (int k = 0; k < n->nin; k++)
        if (!grid_bound(p, n->in[k], depth + 1)) return 0;
    return 1;
}

/* Where pairs are expected to gain, from the grid at the bindings (not
 * known, as with a dynamic M: no clusters, since M might be one tile):
 *  - at least 2 M tiles (with one, every pair's second block idles);
 *  - at least CLUSTER_MIN_TILES tiles;
 *  - no more rounds of the persistent walk than without pairs. The
 *    runtime launches min(tiles, SMs) blocks (rounded down to whole
 *    clusters) whatever the cluster; an odd M tile count gives more pairs
 *    than half the tiles (the last pair of each N tile has one block
 *    idle), which at some shapes costs a round.
 * The rest is measured: less L2-to-SM traffic for B (half of it) against
 * two blocks tied in lockstep. Not measured yet (docs/schedules.md). */
static int cluster_fits(const gs_plan *p) {
    int64_t grid[TJ_MAX_GRID];
    for (int i = 0; i < p->g->ngrid; i++)
        if (!grid_bound(p, p->g->grid[i], 0)) return 0;
    if (tj_graph_grid(p->g, p->sym, grid) != TJ_OK) return 0;
    int64_t gm = grid[p->ax_m], tiles = grid[0] * grid[1] * grid[2];
    if (gm < 2 || tiles < CLUSTER_MIN_TILES) return 0;
    int64_t pairs = (gm + 1) / 2 * (tiles / gm);
    int64_t blocks = tiles < CLUSTER_SMS ? tiles : CLUSTER_SMS, clusters = blocks / 2;
    int64_t rounds = (tiles + blocks - 1) / blocks, pair_rounds = (pairs + clusters - 1) / clusters;
    return pair_rounds <= rounds;
}

/* Clusters of two blocks (gs_cluster): the blocks of a cluster take the
 * tiles (2i, n) and (2i+1, n) of M and N, and each loads half of their
 * common B tile for both. That needs the M and N coordinates to be plain
 * program ids (the pairing is over them), the loop's trip count and B's
 * coordinates the same for both blocks (independent of the M program id:
 * the two walk the k-tiles in lockstep and share every B load), and B's
 * tile rows a multiple of 16 (each half a whole number of 8-line swizzle
 * atoms, 1024-byte aligned). Then, unless gs_cluster_force, the shape must
 * gain (cluster_fits). */
static tj_status cluster_plan(gs_plan *p) {
    p->cluster = 1;
    if (gs_cluster != 2 || p->ax_m < 0 || p->b.rows % 16) return TJ_OK;
    uint8_t *memo = calloc((size_t)p->g->nnodes + 1, 1);
    if (!memo) return tj_set_error(TJ_ERR_NO_MEMORY, "gemm_sm90: out of memory");
    const ir_node *ld = node(p, p->b.load);
    int shared = !depends_on_pid(p, p->loop, p->ax_m, memo) &&
                 !depends_on_pid(p, ld->in[0], p->ax_m, memo) &&
                 !depends_on_pid(p, ld->in[1], p->ax_m, memo);
    free(memo);
    if (shared && (gs_cluster_force || cluster_fits(p))) p->cluster = 2;
    return TJ_OK;
}

/* The loop's K tiles at the bindings, from a's K extent (the recipe's
 * trip count); -1 if unknown. Only weighs split-K, never sizes anything:
 * the kernel counts the trips itself. */
static int64_t k_tiles(const gs_plan *p) {
    const ir_tensor *t = &p->g->tensors[p->a.tensor];
    int64_t k = 0;
    if (ir_dim_eval(p->g, t->dims[p->a.mn_major ? 0 : 1], p->sym, 1, &k) != TJ_OK || k < 1)
        return -1;
    return (k + p->bk - 1) / p->bk;
}

/* Clusters of 2, 4 and 8 blocks of one block an SM (any of the schedule's
 * kernels: over 100 KiB of shared memory each) resident at once on the
 * H200 (and H100 SXM): a cluster stays within one GPC, whose SM counts
 * differ, so 132 SMs hold 66 pairs but only 30 fours (measured,
 * cuOccupancyMaxActiveClusters) and 14 eights (GPCs of 14-18 SMs). A
 * split launch of more clusters than this runs a second wave at twice
 * the time (H200, 2026-11-29: 32 tiles of 128x128 in fours, 198 TFLOP/s
 * against 275 unsplit at 128x4096x4096). */
static int64_t resident_clusters(int s) { return s == 2 ? 66 : s == 4 ? 30 : 14; }

/* The split gs_splitk 0 picks: where the tiles are at most a quarter of
 * the SMs, the most blocks (8, 4, 2) whose clusters, one a tile, all fit
 * on the SMs at once (resident_clusters), each with at least
 * SPLIT_MIN_KTILES K tiles (so its pipeline fills; fewer leaves the
 * reduction's cost unpaid). Unknown sizes: none. Measured (H200,
 * 2026-11-29, 128x4096x4096, bf16 ours against ours): 16 tiles of 128x256
 * 98 -> 215 TFLOP/s split in 4 (157 in 8: two waves), 32 of 128x128 177
 * -> 238 in 2 (196 in 4: two waves); at 64 tiles (64x128) a split in 2
 * gained 4 % with 64-element K tiles and lost 5 % with 128: there the
 * memory system, not the idle SMs, limits, so it is left alone. */
int gemm_config_auto_split(int64_t tiles, int64_t kt) {
    if (tiles < 1 || tiles * 4 > CLUSTER_SMS || kt < 0) return 1;
    for (int s = 8; s >= 2; s /= 2)
        if (tiles <= resident_clusters(s) && kt >= (int64_t)s * SPLIT_MIN_KTILES) return s;
    return 1;
}

static int split_auto(const gs_plan *p) {
    int64_t grid[TJ_MAX_GRID];
    for (int i = 0; i < p->g->ngrid; i++)
        if (!grid_bound(p, p->g->grid[i], 0)) return 1;
    if (tj_graph_grid(p->g, p->sym, grid) != TJ_OK) return 1;
    return gemm_config_auto_split(grid[0] * grid[1] * grid[2], k_tiles(p));
}

/* Split-K in clusters of s blocks, where the plan allows: the consumer
 * warpgroups split each tile's rows (the reduction wants both busy on one
 * tile), the output leaves from registers (each block stores a slice of
 * BN/s columns, narrower than the 64-column TMA boxes), and the f32 tile
 * fits in the stages it reuses. Else the plan stays as it was. */
static void split_plan(gs_plan *p, int s) {
    if (s != 2 && s != 4 && s != 8) return;
    gs_plan q = *p;
    q.pingpong = 0;
    q.ms = q.bm / (64 * q.nwg);
    q.tstore = -1;
    q.cluster = 1;
    if (q.ms * q.bn / 2 > 128 || (q.bn / 8) % s || !fit_stages(&q) ||
        (size_t)q.bm * (size_t)q.bn * 4 > (size_t)q.stages * q.stage_bytes)
        return;
    q.split = s;
    *p = q;
}

void gs_plan_free(gs_plan *p) {
    free(p->live);
    free(p->elem);
    free(p->shape);
    memset(p, 0, sizeof *p);
}

tj_status gs_match(const tj_graph *g, const char *arch, const int64_t *sym, gs_plan *p,
                   char *why, size_t why_size) {
    memset(p, 0, sizeof *p);
    if (!arch || strcmp(arch, "sm_90a") != 0) {
        sched_no(why, why_size, "needs sm_90a (wgmma, setmaxnreg); the target is %s",
                 arch ? arch : "none");
        return TJ_OK;
    }
    p->g = g;
    p->sym = sym;
    p->live = calloc((size_t)g->nnodes + 1, 1);
    p->elem = calloc((size_t)g->nnodes + 1, 1);
    p->shape = calloc((size_t)g->nnodes + 1, sizeof *p->shape);
    if (!p->live || !p->elem || !p->shape) {
        gs_plan_free(p);
        return tj_set_error(TJ_ERR_NO_MEMORY, "gemm_sm90: out of memory");
    }
    for (int k = 0; k < g->nbody; k++) {
        ir_op op = node(p, g->body[k])->op;
        if (op == IR_STORE || op == IR_FOR) emit_mark_live(p->g, p->live, g->body[k]);
    }
    int ok = structure(p, why, why_size);
    const ir_node *m = ok ? node(p, p->mma) : NULL;
    if (ok) {
        p->dtype = node(p, m->in[0])->type.dtype;
        if (p->dtype != TJ_BF16 && p->dtype != TJ_F16 && p->dtype != TJ_F8E4M3 &&
            p->dtype != TJ_F8E5M2)
            ok = sched_no(why, why_size,
                          "mma operands are %s; the schedule takes bf16, f16, f8e4m3 and f8e5m2",
                          tj_dtype_name((tj_dtype)p->dtype));
    }
    ok = ok && eval_dims(p, m->in[0]) && eval_dims(p, m->in[1]) && eval_dims(p, p->mma);
    if (!ok && !why[0]) sched_no(why, why_size, "a tile dim has no value");
    int ta = ok && (m->flags & TJ_TRANS_A), tb = ok && (m->flags & TJ_TRANS_B);
    ok = ok && operand(p, m->in[0], 1, ta, &p->a, why, why_size) &&
         operand(p, m->in[1], 0, tb, &p->b, why, why_size);
    if (ok) {
        p->bm = (int)p->shape[p->mma][0];
        p->bn = (int)p->shape[p->mma][1];
        p->bk = ta ? p->a.rows : p->a.cols;
        ok = epilogue(p, why, why_size) && stores(p, why, why_size) && config(p, why, why_size);
    }
    if (ok && g->ntensors + g->nscalars + g->nsyms + 5 > EMIT_MAX_PARAMS)
        ok = sched_no(why, why_size, "too many kernel parameters");
    if (!ok) {
        gs_plan_free(p);
        return TJ_OK;
    }
    /* A forced split comes first; the pairs next; the automatic split only
     * where they did not apply. */
    p->split = 1;
    p->cluster = 1;
    if (gs_splitk >= 2) split_plan(p, gs_splitk);
    tj_status st = p->split == 1 ? cluster_plan(p) : TJ_OK;
    if (st == TJ_OK && gs_splitk == 0 && p->cluster == 1) split_plan(p, split_auto(p));
    if (st != TJ_OK) gs_plan_free(p);
    return st;
}
