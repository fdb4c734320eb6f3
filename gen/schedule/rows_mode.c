/*
 * rows_mode.c — which launch variant of the `rows` schedule a plan gets
 * (rows.h has the model). Fitted on an H200 by a sweep of every variant
 * at softmax/rmsnorm/layernorm 128 … 65536 columns (docs/performance.md,
 * issue 6, 2026-11-28 evening). What it showed: bandwidth follows the
 * bytes of loads in flight an SM (about 32 KB reached 83–93 % of copy,
 * 8–16 KB 48–73 %), spills cost 2–3×, and a cluster barrier per reduction
 * loses to anything that fits one block. Hence:
 *
 * - (2026-11-29) the plain kernel, blocks scheduled by the hardware, for
 *   one row a program with at most one weight row over rows up to 32 KB
 *   (256 bytes with two): 0.93-0.99 of copy where the walk below
 *   measured 0.85-0.95 (rows_choose_mode);
 * - the persistent walk, a thread holding 64 bytes of the row, whenever a
 *   program fits 512 threads: groups walk programs and load the next
 *   one's row while the current one is reduced and stored; blocks an SM
 *   from a register estimate fitted to NVRTC (walk_regs), at most 1024
 *   threads an SM; weight rows held across the walk when that keeps two
 *   blocks an SM, else loaded where used (L1 hits);
 * - wider rows: the walk at 128 bytes a thread when nothing but the row
 *   is loaded, else one program a group (rows.c's layout);
 * - clusters (sm_90+, a row reduction) only where that layout would hold
 *   more than 32 elements a thread at 1024 threads, i.e. spill;
 * - (2026-11-29) the staged walk (sm_90+) for norms over rows of more
 *   than 32 KB, on one block or a pair: rows copied into shared memory by
 *   the bulk copy engine two programs ahead, weight rows held in
 *   registers (layernorm 32768 0.77 -> 0.92 of copy); rows without
 *   weight rows over more than 32 KB that one block stages (softmax
 *   32768: 0.93 against the walk's 0.90, once exp took 3 instructions,
 *   not expf's 8; slower than the walk with expf).
 * - (2026-11-29, sixth session) rows no walk holds, without weight rows:
 *   the two-pass walk (rows_twopass.c; softmax 65536 0.85 of copy
 *   against 0.78 staged on a pair and 0.74 on a cluster of 4), then the
 *   staged pair, then clusters.
 * - (2026-11-29, seventh session) on sm_90, where the groups cover the
 *   row exactly and a ring of group buffers holds a row and a group
 *   more, the two-pass walk read from shared memory (softmax 65536 0.88
 *   of copy against 0.85 in L2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"

#define CLUSTER_BLOCK 512   /* threads of each block of a cluster */
#define CLUSTER_MAX 4       /* blocks a cluster (portable limit is 8) */
#define PREF_WORDS 32       /* registers of prefetched chunks a thread may hold */

static const ir_node *N(const rows_plan *p, int32_t id) { return &p->g->nodes[id]; }
static int is_wide(int c) { return c == RC_COL || c == RC_FULL; }

static int arch_cc(const char *arch) {
    int cc = 0;
    return arch && sscanf(arch, "sm_%d", &cc) == 1 ? cc : 0;
}

/* A coordinate the next program's load may recompute on its own: scalar
 * arithmetic over program ids, symbols, constants and scalar arguments. */
int rows_pure_scalar(const rows_plan *p, int32_t id) {
    const ir_node *n = N(p, id);
    if (n->type.rank != 0 || n->op == IR_LOAD || n->op == IR_REDUCE) return 0;
    for (int k = 0; k < n->nin; k++)
        if (!rows_pure_scalar(p, n->in[k])) return 0;
    return 1;
}

/* The same value in every program and row of a group: no program id, no
 * row, no tensor the kernel writes, no reduction (a barrier). */
int rows_invariant(const rows_plan *p, int32_t id) {
    const ir_node *n = N(p, id);
    int c = p->cls[id];
    if (n->op == IR_PROGRAM_ID || n->op == IR_REDUCE || c == RC_ROW || c == RC_ROWT ||
        c == RC_FULL)
        return 0;
    if (n->op == IR_LOAD && p->stored[n->tensor]) return 0;
    for (int k = 0; k < n->nin; k++)
        if (!rows_invariant(p, n->in[k])) return 0;
    return 1;
}

static int float_dtype(int dt) { return dt == TJ_F32 || dt == TJ_F16 || dt == TJ_BF16; }

static int wide_reduces(const rows_plan *p) {
    int n = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *x = N(p, id);
        n += p->live[id] && x->op == IR_REDUCE && is_wide(p->cls[x->in[0]]) &&
             (x->type.rank == 1 || x->index == 1);
    }
    return n;
}

rows_force rows_forced;

typedef struct layout { int TR, C, P, NT; } layout;
static layout save(const rows_plan *p) { return (layout){p->TR, p->C, p->P, p->NT}; }
static void restore(rows_plan *p, layout l) { p->TR = l.TR, p->C = l.C, p->P = l.P, p->NT = l.NT; }

/* A cluster of CL blocks of CLUSTER_BLOCK threads, each thread holding
 * about `elems` elements of the row; 0 (plan unchanged) when the row
 * fits one block or the arch has no clusters. */
static int try_cluster(rows_plan *p, int elems) {
    if (arch_cc(p->arch) < 90 || !wide_reduces(p) || p->R * CLUSTER_BLOCK > 1024) return 0;
    int64_t nq = rows_nq(p);
    int cwant = elems <= p->V ? 1 : elems / p->V;
    /* Any cluster size divides the grid (CL blocks a program), so a ragged
     * width takes as many blocks as it fills: 33000 bf16 columns get 3,
     * not 4 with one empty. */
    int64_t per_block = (int64_t)CLUSTER_BLOCK * cwant;
    int cl = (int)((nq + per_block - 1) / per_block);
    if (cl < 2) return 0;
    if (cl > CLUSTER_MAX) cl = CLUSTER_MAX;
    int c = (int)((nq + (int64_t)CLUSTER_BLOCK * cl - 1) / ((int64_t)CLUSTER_BLOCK * cl));
    if (c * p->V > 64) return 0;
    p->CL = cl;
    p->TR = CLUSTER_BLOCK;
    p->C = c;
    p->P = 1;
    p->NT = p->TR * p->R;
    return 1;
}

/* Mark the prefetched and hoisted loads for the current layout; the
 * registers of prefetched chunks a thread holds (0: nothing to prefetch). */
static int mark_walk(rows_plan *p, int late) {
    const tj_graph *g = p->g;
    int S = p->C * p->V, words = 0;
    memset(p->pref, 0, (size_t)g->nnodes);
    memset(p->hoist, 0, (size_t)g->nnodes);
    /* Body statements only: the walk converts a prefetched row in its
     * first pass over the body, before the buffer is refilled. */
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->op != IR_LOAD) continue;
        const ir_tensor *t = &g->tensors[n->tensor];
        /* With R = 1 a row tile is RC_COL: what tells x from a weight row is
         * whether the program id reaches its coordinates. */
        /* (shifted rows: a weight row's columns follow each row's phase) */
        if (rows_invariant(p, id) && p->cls[id] != RC_FULL) {
            p->hoist[id] = !late && !p->shift;
        } else if (is_wide(p->cls[id]) && !p->stored[n->tensor] && float_dtype(t->dtype)) {
            int ok = 1;
            for (int q = 0; q < n->nin && ok; q++) ok = rows_pure_scalar(p, n->in[q]);
            int w = (int)((size_t)S * tj_dtype_size(t->dtype) / 4);
            if (ok && words + w <= PREF_WORDS) {
                p->pref[id] = 1;
                words += w;
            }
        }
    }
    if (!words) memset(p->hoist, 0, (size_t)g->nnodes);
    return words;
}

/* Registers a thread of the walk needs, roughly (fitted to NVRTC's
 * allocation for sm_90a; more promised blocks than this allows spilled
 * and measured 2-3x slower): the prefetched chunks, the row in f32, the
 * hoisted weight rows in f32, a late weight row's chunks in flight, and
 * addresses and loop state. */
static int walk_regs(const rows_plan *p, int words, int late) {
    int S = p->C * p->V, npref = 0, nhoist = 0, nlate = 0, f16 = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->op != IR_LOAD || !is_wide(p->cls[id])) continue;
        npref += p->pref[id];
        nhoist += !p->pref[id] && p->hoist[id];
        nlate += !p->pref[id] && late && !p->stored[n->tensor];
        f16 |= p->g->tensors[n->tensor].dtype == TJ_F16 || p->g->tensors[n->tensor].dtype == TJ_F32;
    }
    /* One row's result takes its input's registers (softmax at 32
     * elements fit 64); several rows combined keep a result beside them
     * (silu(a) * b at 16 spilled at 64). f16 and f32 rows need 8 more
     * than bf16's (f16: a conversion, not a shift; f16 softmax spilled
     * 44-64 bytes at 64 registers at every width from 1024 to 16384 where
     * bf16 fit, f32 layernorm 28 at 8192). */
    int est = words + S * (npref + nhoist + (npref > 1)) + (nlate ? S : 0) + 16 + (f16 ? 8 : 0);
    /* shifted rows: a weight row's chunk is read as two blocks (ldv_at);
     * layernorm at 4097 columns spilled 20 bytes at 3 blocks an SM */
    if (p->shift && nlate) est += 8 * nlate;
    return (est + 7) / 8 * 8;
}

/* The persistent walk with about `elems` elements of a row a thread (0:
 * rows.c's split); late < 0: the model's choice; 0 (plan unchanged) when
 * it does not apply. */
static int try_persist(rows_plan *p, int elems, int late, int mb_forced) {
    layout old = save(p);
    /* shifted rows: weight rows are not held (rows.h) but loaded where used */
    if (p->shift && late < 0) late = 1;
    /* a tile of several rows: more elements a thread until a program fits 512 threads */
    int ok = !elems || rows_split(p, elems);
    while (ok && p->R > 1 && elems && elems < 64 && p->TR * p->R * p->P > 512)
        ok = rows_split(p, elems *= 2);
    int words = ok && p->TR * p->R * p->P <= 512 ? mark_walk(p, late > 0) : 0;
    if (words && late < 0) {
        /* Hold the weight rows when that still leaves two blocks an SM
         * (measured 1-2 % faster than reloading them from L1: rmsnorm at
         * 1024-8192 columns); reload them where used otherwise (holding a
         * layernorm's two rows at 32 elements a thread spilled or halved
         * the blocks: 2300 GB/s against 3250 at 4096 columns). */
        /* (16 registers of margin: rows held across the loop stretch
         * the allocation; layernorm's two rows at 4096 spilled at 2) */
        int held = 65536 / (p->NT * (walk_regs(p, words, 0) + 16));
        late = held < 2;
        if (late) words = mark_walk(p, 1);
    }
    if (!words) {
        restore(p, old);
        memset(p->pref, 0, (size_t)p->g->nnodes);
        memset(p->hoist, 0, (size_t)p->g->nnodes);
        return 0;
    }
    p->persist = 1;
    p->late = late > 0;
    /* __launch_bounds__ promises the grid's blocks an SM so a persistent
     * grid is resident in one wave; at most 1024 threads an SM (more was
     * never faster, and 64 registers a thread is where the walk with 32
     * elements a thread stops fitting). */
    int held = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) held |= p->hoist[id] && is_wide(p->cls[id]);
    /* 8 registers of margin for held rows (layernorm without bias at 4097
     * columns spilled without it) */
    int mb = 65536 / (p->NT * (walk_regs(p, words, p->late) + (held ? 8 : 0)));
    if (mb > 1024 / p->NT) mb = 1024 / p->NT;
    if (mb < 1) mb = 1;
    if (mb_forced > 0 && mb_forced * p->NT <= 2048) mb = mb_forced;
    p->minblocks = mb;
    return 1;
}

/* Wide loads of anything but the row itself (a norm's weight rows). */
static int weight_rows(const rows_plan *p) {
    int n = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *x = N(p, id);
        n += p->live[id] && x->op == IR_LOAD && is_wide(p->cls[id]) && rows_invariant(p, id);
    }
    return n;
}

int rows_stage_auto = 1;

/* ---- the staged walk (rows.h, rows_walk.c) ---------------------------------- */

#define STAGE_CLUSTER_MAX 8   /* portable cluster size */
#define SM_SMEM (228 * 1024)  /* shared memory of an sm_90 SM */

/* A wide row load the copy engine can take: read only, a float type,
 * unit column stride, 16-byte chunks, coordinates the walk can recompute. */
static int stageable(const rows_plan *p, int32_t id) {
    const tj_graph *g = p->g;
    const ir_node *x = N(p, id);
    const ir_tensor *t = &g->tensors[x->tensor];
    int col = x->type.rank == 2 ? x->axes[1] : x->axes[0];
    int ok = !p->stored[x->tensor] && float_dtype(t->dtype) && rows_unit_stride(g, x->tensor, col) &&
             (size_t)p->V * tj_dtype_size(t->dtype) % 16 == 0;
    for (int q = 0; q < x->nin && ok; q++) ok = rows_pure_scalar(p, x->in[q]);
    return ok;
}

/* Mark the staged (pref) and hoisted loads: every wide row load the
 * program id reaches must be one the copy engine can take (read only,
 * unit column stride, 16-byte chunks, coordinates the walk can
 * recompute); 0 when one is not or none is staged. */
static int mark_stage(rows_plan *p, int late) {
    const tj_graph *g = p->g;
    int n = 0;
    memset(p->pref, 0, (size_t)g->nnodes);
    memset(p->hoist, 0, (size_t)g->nnodes);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *x = N(p, id);
        if (!p->live[id] || x->op != IR_LOAD) continue;
        if (rows_invariant(p, id) && p->cls[id] != RC_FULL) {
            p->hoist[id] = !late && !p->shift;
            continue;
        }
        if (!is_wide(p->cls[id])) continue;
        if (!stageable(p, id)) return 0;
        p->pref[id] = 1;
        n++;
    }
    return n;
}

/* Registers a thread of the staged walk needs, roughly: hoisted weight
 * rows as loaded, one f32 row a wide node that is not a cheap elementwise
 * op over loads (softmax's exp), addresses and loop state. */
static int stage_regs(const rows_plan *p) {
    /* base fitted to NVRTC for sm_90a: layernorm's two weight rows held at
     * 32 elements a thread fit 64 registers (60), spilled 48 bytes at 40
     * elements (68) and 4 bytes at 32 in a cluster (+8) */
    int S = p->C * p->V, words = 28 + (p->CL > 1 ? 8 : 0);
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *x = N(p, id);
        if (!p->live[id] || !is_wide(p->cls[id])) continue;
        size_t es = x->op == IR_LOAD ? tj_dtype_size(p->g->tensors[x->tensor].dtype) : 4;
        if (x->op == IR_LOAD)
            words += p->hoist[id] ? (int)((size_t)S * es / 4) : 0;
        else if (!(x->op == IR_CAST ||
                   (x->op == IR_BINARY && (x->sub == TJ_ADD || x->sub == TJ_SUB || x->sub == TJ_MUL))))
            words += S;
    }
    return words;
}

/* Blocks an SM of the staged walk: what shared memory holds, at most
 * 1024 threads (forced: up to 2048 threads, if shared memory allows). */
static int stage_blocks(const rows_plan *p, int mb_forced) {
    size_t per = rows_stage_smem(p) + 2048; /* + the reductions' buffers, the system's 1 KB */
    int mb = (int)(SM_SMEM / per);
    if (mb > 1024 / p->NT) mb = 1024 / p->NT;
    if (mb < 1) mb = 1;
    if (mb_forced > 0 && mb_forced * p->NT <= 2048 && (size_t)mb_forced * per <= SM_SMEM)
        mb = mb_forced;
    return mb;
}

/* The staged walk: one row a block of up to 1024 threads, each holding
 * at most `elems` elements of it, in clusters of the fewest blocks (or
 * `cl`) whose slices fit nb buffers (0: 3 if they fit, else 2) in
 * shared memory; late < 0: weight rows held where the registers allow,
 * else more blocks a row, else no staging (reloading them where used
 * measured 0.61-0.78 of copy: the shared memory leaves L1 too small, and
 * in clusters it spilled 24-36 bytes). 0 (plan unchanged) when it does
 * not apply. */
static int try_stage(rows_plan *p, int elems, int cl_forced, int nb_forced, int late, int mb_forced,
                     int cl_max) {
    if (arch_cc(p->arch) < 90 || p->R != 1 || !wide_reduces(p)) return 0;
    if (p->shift && late < 0) late = 1;   /* weight rows not held (rows.h) */
    layout old = save(p);
    int ns = mark_stage(p, late > 0);
    size_t es = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++)
        if (p->pref[id]) {
            size_t s = tj_dtype_size(p->g->tensors[N(p, id)->tensor].dtype);
            if (s > es) es = s;
        }
    int64_t nq = rows_nq(p);
    /* shifted rows reload weight rows two blocks a chunk (ldv_at): half
     * the elements a thread (layernorm at 32769 spilled 8 bytes at 24) */
    if (p->shift && weight_rows(p) && elems > 2 * p->V) elems /= 2;
    int cwant = elems <= p->V ? 1 : elems / p->V;
    /* the fewest blocks whose threads hold at most `elems` (a ragged
     * width's extra chunk spilled: softmax 65537 at 40 elements) */
    int64_t limit = cl_forced ? 64 : elems < p->V ? p->V : elems > 64 ? 64 : elems;
    int found = 0, hold = late <= 0;
    for (int cl = cl_forced ? cl_forced : 1; ns && cl <= cl_max && !found; cl++) {
        int64_t per = (nq + cl - 1) / cl;
        int64_t tr = 32;
        while (tr < 1024 && tr * cwant < per) tr *= 2;
        int64_t c = (per + tr - 1) / tr;
        size_t slice = ((size_t)(tr * c * p->V) * es + 127) / 128 * 128;
        int nb = nb_forced ? nb_forced : 128 + 3 * ns * slice <= ROWS_STAGE_SMEM ? 3 : 2;
        if (c * p->V > limit || nb < 2 || 128 + (size_t)nb * ns * slice > ROWS_STAGE_SMEM) {
            if (cl_forced) break;
            continue;
        }
        p->CL = cl;
        p->TR = p->NT = (int)tr;
        p->C = (int)c;
        p->P = 1;
        p->NB = nb;
        p->slice = slice;
        p->minblocks = stage_blocks(p, mb_forced);
        hold = late == 0 || !weight_rows(p) ||
               (late < 0 && stage_regs(p) <= 65536 / (p->NT * p->minblocks));
        found = hold || late > 0 || cl_forced;
        if (cl_forced) break;
    }
    if (!found) {
        restore(p, old);
        p->CL = 1;
        memset(p->pref, 0, (size_t)p->g->nnodes);
        memset(p->hoist, 0, (size_t)p->g->nnodes);
        return 0;
    }
    if (!hold) mark_stage(p, 1);
    p->late = !hold;
    p->stage = p->persist = 1;
    return 1;
}

/* ---- the two-pass walk (rows_twopass.c) ----------------------------------- */

#define TWOPASS_BLOCK 512   /* threads a row */

/* One row a block of TWOPASS_BLOCK threads (a tile of R rows: R groups of
 * TWOPASS_BLOCK / R) walking it in groups of about
 * `elems` elements a thread (0: 8 chunks of 16-bit floats, held as
 * loaded, or 4 of f32, at 64 registers, half that with weight rows; f32
 * at 8 spilled 8 bytes on sm_80), read once for the reductions and again for the stores; mb
 * blocks an SM promised (0: two). 0 (plan unchanged) when the graph's
 * reductions need more passes or one group covers the row. */
static int try_twopass(rows_plan *p, int elems, int mb) {
    if (!wide_reduces(p) || !rows_twopass_ok(p)) return 0;
    if (!elems) {
        /* pass 2 holds a group of every wide load at once (a norm's
         * weight row beside x: rmsnorm at 8 chunks spilled 88 bytes) */
        int nl = 0;
        for (int32_t id = 0; id < p->g->nnodes; id++)
            nl += p->live[id] && N(p, id)->op == IR_LOAD && is_wide(p->cls[id]);
        elems = (p->V >= 8 ? 8 * p->V : 4 * p->V) / (nl > 1 ? 2 : 1);
        /* shifted rows: a weight row's chunk is two blocks (ldv_at);
         * rmsnorm at 65537 spilled 56 bytes on sm_80 at 32 elements, 4
         * at 16 */
        if (p->shift && nl > 1) elems /= 4;
    }
    int64_t nq = rows_nq(p);
    int cwant = elems <= p->V ? 1 : elems / p->V;
    /* a tile of R rows: R groups of the block's threads, a power of two each */
    int tr = TWOPASS_BLOCK;
    while (tr > 8 && tr * p->R > TWOPASS_BLOCK) tr /= 2;
    if (tr * p->R > 1024) return 0;
    int64_t per_group = (int64_t)tr * cwant;
    int64_t ng = (nq + per_group - 1) / per_group;
    if (ng < 2 || ng > 64) return 0;
    p->TR = tr;
    p->NT = (tr * p->R + 31) / 32 * 32;
    p->C = (int)((nq + tr * ng - 1) / (tr * ng));
    p->P = 1;
    p->CL = 1;
    p->NG = (int)ng;
    /* two blocks an SM: 64 registers (the prototype at 128 registers and
     * one block an SM: 0.837-0.857 of copy against 0.878); tiles of several
     * rows one (their row addressing spilled 24-72 bytes at 64 registers
     * on sm_80: softmax bm=4 at 65537 columns; not measured for speed, a
     * path that had declined to the generic lowering) */
    p->minblocks = mb > 0 && mb * p->NT <= 2048 ? mb : p->R > 1 ? 1 : 2;
    return 1;
}

/* The two-pass walk staged (rows_twopass.c, sm_90+, a tile of one row):
 * about `elems` elements a thread a group (0: 4 chunks, 32 KB a group of
 * a 512-thread block); every wide load the first pass reads copied into a
 * ring of group buffers, as many as shared memory holds (at most 32), at
 * least one more than the row's groups (forced: nb_forced, at least
 * that); one block an SM; `whole`: only where the groups cover the row
 * exactly. 0 (plan unchanged) when that does not fit or a load is not
 * one the copy engine can take. */
#define RING_MAX 32

static int try_ring(rows_plan *p, int elems, int nb_forced, int whole) {
    if (arch_cc(p->arch) < 90 || p->R != 1) return 0;
    layout old = save(p);
    if (!try_twopass(p, elems ? elems : 4 * p->V, 1)) return 0;
    /* whole: only where the groups cover the row exactly (the model: see
     * rows_choose_mode) */
    int ok = !whole || (int64_t)p->C * p->V * p->TR * p->NG == p->W;
    const tj_graph *g = p->g;
    uint8_t *r1 = calloc((size_t)g->nnodes + 1, 1);
    int ns = 0;
    ok = ok && r1 != NULL;
    size_t es = 0;
    if (ok) rows_twopass_read1(p, r1);
    memset(p->pref, 0, (size_t)g->nnodes);
    memset(p->hoist, 0, (size_t)g->nnodes);
    for (int32_t id = 0; ok && id < g->nnodes; id++) {
        const ir_node *x = N(p, id);
        if (!p->live[id] || x->op != IR_LOAD || !is_wide(p->cls[id]) || !r1[id]) continue;
        ok = stageable(p, id);
        p->pref[id] = (uint8_t)ok;
        ns += ok;
        size_t s = tj_dtype_size(g->tensors[x->tensor].dtype);
        if (s > es) es = s;
    }
    free(r1);
    size_t slice = ((size_t)p->TR * p->C * p->V * es + 127) / 128 * 128;
    size_t nb = ok && ns ? (ROWS_STAGE_SMEM - 256) / ((size_t)ns * slice) : 0;
    if (nb > RING_MAX) nb = RING_MAX;
    /* forced: the fewest buffers that hold a row and one group more at
     * least (the tests' ring turns over every few groups) */
    if (nb_forced > 0 && (size_t)nb_forced < nb && (size_t)p->NG + 1 <= nb)
        nb = (size_t)(nb_forced > p->NG ? nb_forced : p->NG + 1);
    if (nb < (size_t)p->NG + 1) {
        restore(p, old);
        p->NG = 0;
        p->minblocks = 0;
        memset(p->pref, 0, (size_t)g->nnodes);
        return 0;
    }
    p->NB = (int)nb;
    p->slice = slice;
    p->stage = p->persist = 1;
    p->l2hint = 1;
    p->minblocks = 1;
    return 1;
}

/* L1 policies (rows_forced.l1 only) for the wide loads of tensors the
 * kernel does not write: a weight row every program reads kept in L1
 * (evict_last), rows read once past it (no_allocate), so the stream of x
 * would not evict the weight rows the walk reloads. Measured on an H200
 * (docs/performance.md, issue 6): 2-6 % slower at most widths, so the
 * model leaves them off. */
static void mark_l1(rows_plan *p, int on) {
    for (int32_t id = 0; on && id < p->g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->op != IR_LOAD || !is_wide(p->cls[id]) || p->stored[n->tensor])
            continue;
        p->l1[id] = rows_invariant(p, id) ? 3 : 2;
    }
}

void rows_choose_mode(rows_plan *p) {
    const rows_force f = rows_forced;
    p->CL = 1;
    mark_l1(p, f.l1);
    if (f.mode == ROWS_PLAIN) {   /* rows.c's layout, or about f.elems a thread */
        layout old = save(p);
        if (f.elems && !rows_split(p, f.elems)) restore(p, old);
        return;
    }
    if (f.mode == ROWS_CLUSTER && try_cluster(p, f.elems ? f.elems : 32)) return;
    int late = f.late ? f.late == 1 : -1;
    p->l2hint = f.l2 == 1;
    if (f.mode == ROWS_STAGE &&
        try_stage(p, f.elems ? f.elems : 32, f.cl, f.nb, late, f.minblocks, STAGE_CLUSTER_MAX))
        return;
    if (f.mode == ROWS_PERSIST && try_persist(p, f.elems, late, f.minblocks)) return;
    if (f.mode == ROWS_TWOPASS && f.ring == 1 && try_ring(p, f.elems, f.nb, 0)) return;
    if (f.mode == ROWS_TWOPASS && try_twopass(p, f.elems, f.minblocks)) {
        p->rev = f.rev;
        return;
    }
    /* The model (docs/performance.md, issue 6, has the sweep behind it).
     * 64 bytes of the row a thread (32 bf16): 16 bytes a thread left the
     * norms at 48-73 % of copy, 64 bytes reach 78-93 %. */
    int elems = 4 * p->V;
    /* One row a program with at most one weight row, rows up to 32 KB:
     * the plain kernel, blocks scheduled by the hardware, rows.c's layout.
     * H200, bf16, 2026-11-29, same calls, of copy, plain vs the walk:
     * softmax 128 0.96 / 0.92, 1024 0.98 / 0.85, 2048 0.98 / 0.89, 4096
     * 0.98 / 0.88, 8192 0.97-0.98 / 0.86, 16384 0.89 / 0.91 with expf,
     * 0.93-0.94 / 0.87-0.89 with rows_fast_exp; rmsnorm 128 ... 8192
     * 0.96-0.98 / 0.91-0.95, 16384 0.99 / 0.92. With two weight rows (layernorm)
     * the plain kernel loses from 1024 (0.88-0.94 at 16 or 32 elements a
     * thread against 0.91-0.95; 0.61 at 16384) and wins only at 128
     * columns (0.96 / 0.94). */
    int64_t rowbytes = (int64_t)p->W * 16 / p->V;
    int nw = weight_rows(p);
    if (p->R == 1 && p->C <= 4 &&
        (nw <= 1 ? rowbytes <= 32768 : rowbytes <= 256))
        return;
    /* Norms (weight rows) over rows of more than 32 KB on sm_90: the
     * staged walk, on one block or a pair (H200, bf16, 2026-11-29, one
     * run: layernorm 32768 0.77 -> 0.92 of copy, rmsnorm 65536 0.78 ->
     * 0.88 on 2 blocks, rmsnorm 32768 0.91 either way). Not at 32 KB
     * (layernorm 16384 0.90 on the walk, 0.86 staged) nor on 3 blocks
     * and more (layernorm 65536: 0.33 staged on 3, 0.42 on the cluster
     * walk: two cluster reductions a row). */
    /* (not shifted rows: their staged walks measured 0.21-0.37 of copy
     * at 16385 columns against the plain block's 0.46-0.52, H200,
     * 2026-11-29, bench_membound --variants) */
    if (rows_stage_auto && !p->shift && nw && rowbytes > 32768 &&
        try_stage(p, elems, 0, 0, late, 0, 2))
        return;
    /* Without weight rows, on one block only: softmax 32768 0.93 of copy
     * staged against 0.90 on the register walk (H200, bf16, with
     * rows_fast_exp, 2026-11-29; with expf the staged walk was the slower),
     * 65536 0.68 staged on 2 blocks against 0.72-0.73 on a cluster of 4. */
    if (rows_stage_auto && !p->shift && !nw && rowbytes > 32768 &&
        try_stage(p, elems, 0, 0, late, 0, 1))
        return;
    if (try_persist(p, elems, late, 0)) return;
    /* Rows over 512 threads of that: the walk at twice the elements when
     * nothing else is held a program (softmax 32768: 3220 GB/s against
     * 2230 on a cluster); with weight rows that walk lost to the plain
     * 1024-thread block (rmsnorm 32768: 2050 against 2210), and a cluster
     * lost to both (1470). */
    if (!nw && try_persist(p, 2 * elems, late, 0)) return;
    /* Clusters only where the plain block would hold more than 4 16-byte
     * chunks a thread (32 bf16, 16 f32) under its 64-register cap and
     * spill (softmax 65536: 265 GB/s plain, 2150 on 4 blocks; f32 norms
     * at 32768 spilled 136-724 bytes when the rule counted elements). */
    /* Rows no walk holds without weight rows (softmax 65536): read twice,
     * the row kept in L2 between the reductions' pass and the stores'
     * (rows_twopass.c: 0.878 of copy in its prototype); where the
     * reductions need more passes, staged on a pair of blocks at 128 bytes
     * of the row a thread where that fits, else clusters (H200, bf16,
     * 2026-11-29, with softmax's max and sum as one (max, sum) exchange:
     * 0.784 of copy staged against 0.744 on the register cluster of 4). */
    /* sm_90: staged in shared memory where the ring fits and the groups
     * cover the row exactly, else kept in L2 (H200, bf16, 2026-11-29, one
     * call, of copy, ring against L2 form: softmax 65536 0.877 / 0.854
     * (its prototype 0.913-0.919); at 40000, whose last group is partial,
     * 0.600 / 0.834, not understood yet) */
    /* (tiles of several rows take it only when forced: not yet run on a GPU) */
    if (p->C > 4 && !nw && try_ring(p, 0, 0, 1)) return;
    if (p->C > 4 && !nw && p->R == 1 && try_twopass(p, 0, 0)) return;
    if (p->C > 4 && rows_stage_auto && !nw && try_stage(p, 2 * elems, 2, 0, late, 0, 2)) return;
    if (p->C > 4) try_cluster(p, elems);
}
