/*
 * rows_mode.c — which launch variant of the `rows` schedule a plan gets
 * (rows.h has the model). Measured on an H200 (docs/performance.md,
 * issue 6), one program a group left the memory pipe idle while a block
 * reduced and stored, and rows of 16384 columns and more needed blocks of
 * 512–1024 threads holding 32–96 values a thread. Two answers:
 *
 * - cluster (sm_90+, a row reduction, a row wanting more than 512
 *   threads): CL blocks of 512 threads share a row, each holding at least
 *   16 of its elements a thread, their reductions combined through
 *   distributed shared memory. Without a reduction the blocks would not
 *   need each other, and the plain layout already covers such rows.
 * - persistent (blocks of at most 512 threads with an input row to
 *   prefetch): groups walk programs and load the next one's row while
 *   the current one is reduced and stored. A norm's weight row is loaded
 *   once per group instead of once per row.
 *
 * Everything else keeps one program a group (rows.c's layout).
 */
#include <stdio.h>
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
static int pure_scalar(const rows_plan *p, int32_t id) {
    const ir_node *n = N(p, id);
    if (n->type.rank != 0 || n->op == IR_LOAD || n->op == IR_REDUCE) return 0;
    for (int k = 0; k < n->nin; k++)
        if (!pure_scalar(p, n->in[k])) return 0;
    return 1;
}

/* The same value in every program and row of a group: no program id, no
 * row, no tensor the kernel writes, no reduction (a barrier). */
static int invariant(const rows_plan *p, int32_t id) {
    const ir_node *n = N(p, id);
    int c = p->cls[id];
    if (n->op == IR_PROGRAM_ID || n->op == IR_REDUCE || c == RC_ROW || c == RC_ROWT ||
        c == RC_FULL)
        return 0;
    if (n->op == IR_LOAD && p->stored[n->tensor]) return 0;
    for (int k = 0; k < n->nin; k++)
        if (!invariant(p, n->in[k])) return 0;
    return 1;
}

static int float_dtype(int dt) { return dt == TJ_F32 || dt == TJ_F16 || dt == TJ_BF16; }

/* Wide loads (x, a norm's weight and bias) held at once: rows.c sized
 * the row split by them. */
static int wide_loads(const rows_plan *p) {
    int n = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++)
        n += p->live[id] && N(p, id)->op == IR_LOAD && is_wide(p->cls[id]);
    return n;
}

static int wide_reduces(const rows_plan *p) {
    int n = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *x = N(p, id);
        n += p->live[id] && x->op == IR_REDUCE && is_wide(p->cls[x->in[0]]) &&
             (x->type.rank == 1 || x->index == 1);
    }
    return n;
}

static void choose_cluster(rows_plan *p) {
    if (arch_cc(p->arch) < 90 || !wide_reduces(p) || p->R * CLUSTER_BLOCK > 1024) return;
    int nw = wide_loads(p);
    int elems = nw >= 3 ? 8 : nw == 2 ? 16 : 32;
    if (elems < 16) elems = 16; /* fewer a thread leaves the reductions dominant */
    int64_t nq = (p->W + p->V - 1) / p->V;
    int cwant = elems <= p->V ? 1 : elems / p->V;
    /* Any cluster size divides the grid (CL blocks a program), so a ragged
     * width takes as many blocks as it fills: 33000 bf16 columns get 3,
     * not 4 with one empty. */
    int64_t per_block = (int64_t)CLUSTER_BLOCK * cwant;
    int cl = (int)((nq + per_block - 1) / per_block);
    if (cl < 2) return;
    if (cl > CLUSTER_MAX) cl = CLUSTER_MAX;
    p->CL = cl;
    p->TR = CLUSTER_BLOCK;
    p->C = (int)((nq + (int64_t)p->TR * cl - 1) / ((int64_t)p->TR * cl));
    p->P = 1;
    p->NT = p->TR * p->R;
}

static void choose_persistent(rows_plan *p) {
    const tj_graph *g = p->g;
    if (p->CL > 1 || p->TR * p->R * p->P > 512) return;
    int S = p->C * p->V, words = 0, npref = 0;
    /* Body statements only: the walk converts a prefetched row in its
     * first pass over the body, before the buffer is refilled. */
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->op != IR_LOAD) continue;
        const ir_tensor *t = &g->tensors[n->tensor];
        /* With R = 1 a row tile is RC_COL: what tells x from a weight row is
         * whether the program id reaches its coordinates. */
        int inv = invariant(p, id);
        if (inv && p->cls[id] != RC_FULL) {
            p->hoist[id] = 1;
        } else if (is_wide(p->cls[id]) && !p->stored[n->tensor] && float_dtype(t->dtype)) {
            int ok = 1;
            for (int k = 0; k < n->nin && ok; k++) ok = pure_scalar(p, n->in[k]);
            int w = (int)((size_t)S * tj_dtype_size(t->dtype) / 4);
            if (ok && words + w <= PREF_WORDS) {
                p->pref[id] = 1;
                words += w;
                npref++;
            }
        }
    }
    if (!npref) {
        memset(p->hoist, 0, (size_t)g->nnodes);
        return;
    }
    p->persist = 1;
    /* Registers a thread needs, roughly: the prefetched chunks, the wide
     * values live at once (the loads in f32 and one result), a few dozen
     * for addresses and loop state. __launch_bounds__ then promises the
     * grid's blocks-per-SM so a persistent grid is resident in one wave. */
    int est = words + S * (wide_loads(p) + 1) + 32;
    est = (est + 7) / 8 * 8;
    int mb = 65536 / (p->NT * est);
    if (mb > 2048 / p->NT) mb = 2048 / p->NT;
    if (mb < 1) mb = 1;
    p->minblocks = mb;
}

void rows_choose_mode(rows_plan *p) {
    p->CL = 1;
    choose_cluster(p);
    choose_persistent(p);
}
