/*
 * rows_pair.c — softmax's two row reductions as one exchange between the
 * blocks of a cluster (the rows schedule's CL > 1 variants).
 *
 * A row split over CL blocks reduced its max across the cluster, then the
 * sum of exp(x - max) across it again: two cluster barriers a row, the
 * blocks in lockstep at each (H200: softmax 65536 on 4 blocks ran at 0.72
 * of copy where the same 16384 elements a block without a cluster run at
 * 0.92). When the graph is softmax's shape,
 *
 *   r1 = max(x); e = exp(x - r1); r2 = sum(e); ... e * recip(r2) (or e / r2)
 *
 * with r1, e and r2 used nowhere else, each block takes r1 as its own
 * slice's max m (a slice of -inf: 0, so x - r1 stays -inf and e 0), its
 * own sum s of exp(x - m), and one exchange of the pairs (m, s) gives
 * every block M = max m and S = sum s e^(m - M); then r2 = S e^(M - r1)
 * makes e / r2 = exp(x - M) / S, the row's softmax. Where e^(M - r1)
 * overflows, the block's exponentials are below f32's range against the
 * row's and e / r2 is 0, as exp(x - M) / S rounds to.
 */
#include "rows.h"

static const ir_node *N(const rows_plan *p, int32_t id) { return &p->g->nodes[id]; }

static int is_f32(const rows_plan *p, int32_t id) { return N(p, id)->type.dtype == TJ_F32; }
static int wide_cls(int c) { return c == RC_COL || c == RC_FULL; }

/* Every live node reading `v`: ok(user) for all, and at least one. */
static int users_all(const rows_plan *p, int32_t v, int (*ok)(const rows_plan *, int32_t user,
                                                                int32_t v, const int32_t *ctx),
                     const int32_t *ctx) {
    int n = 0;
    for (int32_t m = 0; m < p->g->nnodes; m++) {
        if (!p->live[m]) continue;
        const ir_node *u = N(p, m);
        for (int k = 0; k < u->nin; k++)
            if (u->in[k] == v) {
                if (!ok(p, m, v, ctx)) return 0;
                n++;
                break;
            }
    }
    return n > 0;
}

static int is_node(const rows_plan *p, int32_t user, int32_t v, const int32_t *ctx) {
    (void)p, (void)v;
    return user == ctx[0];
}

/* recip(r2): read only by e * it */
static int is_recip_mul(const rows_plan *p, int32_t user, int32_t v, const int32_t *ctx) {
    const ir_node *u = N(p, user);
    (void)v;
    return u->op == IR_BINARY && u->sub == TJ_MUL && is_f32(p, user) &&
           (u->in[0] == ctx[0] || u->in[1] == ctx[0]);
}

/* r2's readers: recip(r2) that only scales e, or e / r2 */
static int is_normalizer(const rows_plan *p, int32_t user, int32_t v, const int32_t *ctx) {
    const ir_node *u = N(p, user);
    if (u->op == IR_BINARY && u->sub == TJ_DIV && u->in[0] == ctx[0] && u->in[1] == v)
        return is_f32(p, user);
    return u->op == IR_UNARY && u->sub == TJ_RECIP && is_f32(p, user) &&
           users_all(p, user, is_recip_mul, ctx);
}

/* e's readers: r2, and products with recip(r2) or quotients by r2 */
static int is_scaled(const rows_plan *p, int32_t user, int32_t v, const int32_t *ctx) {
    const ir_node *u = N(p, user);
    if (user == ctx[1]) return 1;
    if (u->op == IR_BINARY && u->sub == TJ_DIV && u->in[0] == v && u->in[1] == ctx[1])
        return is_f32(p, user);
    if (u->op != IR_BINARY || u->sub != TJ_MUL || !is_f32(p, user)) return 0;
    int32_t o = u->in[0] == v ? u->in[1] : u->in[0];
    const ir_node *q = N(p, o);
    return q->op == IR_UNARY && q->sub == TJ_RECIP && q->in[0] == ctx[1];
}

int32_t rows_pair_max_of(const rows_plan *p, int32_t r2) {
    if (p->CL <= 1 && p->NG <= 1) return -1;
    const ir_node *n2 = N(p, r2);
    if (n2->op != IR_REDUCE || n2->sub != TJ_SUM || !is_f32(p, r2)) return -1;
    int32_t e = n2->in[0];
    const ir_node *ne = N(p, e);
    if (ne->op != IR_UNARY || ne->sub != TJ_EXP || !is_f32(p, e)) return -1;
    int32_t d = ne->in[0];
    const ir_node *nd = N(p, d);
    if (nd->op != IR_BINARY || nd->sub != TJ_SUB || !is_f32(p, d)) return -1;
    int32_t x = nd->in[0], r1 = nd->in[1];
    const ir_node *n1 = N(p, r1);
    if (n1->op != IR_REDUCE || n1->sub != TJ_RMAX || !is_f32(p, r1) || n1->in[0] != x ||
        n1->index != n2->index || wide_cls(p->cls[r1]) || wide_cls(p->cls[r2]))
        return -1;
    int32_t only_d[1] = {d}, only_e[1] = {e}, er2[2] = {e, r2};
    if (!users_all(p, r1, is_node, only_d) || !users_all(p, d, is_node, only_e) ||
        !users_all(p, e, is_scaled, er2) || !users_all(p, r2, is_normalizer, only_e))
        return -1;
    return r1;
}

int rows_pair_is_max(const rows_plan *p, int32_t r1) {
    if (p->CL <= 1 && p->NG <= 1) return 0;
    for (int32_t m = 0; m < p->g->nnodes; m++)
        if (p->live[m] && rows_pair_max_of(p, m) == r1) return 1;
    return 0;
}
