/*
 * rows_walk.c — the `rows` schedule's persistent walk (rows.h): each
 * group walks programs f, f + stride, ... of the flattened graph grid.
 *
 * The plain walk loads the next program's wide rows into registers (the
 * `<name>_nx` chunks) while this one is reduced and stored. The staged
 * walk (sm_90+, one row a block) has warp 0 hand the copy engine the rows
 * of the program NB-1 steps ahead (cp.async.bulk into a ring of NB
 * shared-memory buffers, an mbarrier a buffer); the block waits on this
 * program's buffer, reads the row from shared memory where it is used,
 * and a barrier at the end of each step frees the buffer for the next
 * refill. Rows the copy engine cannot take (misaligned, a ragged width's
 * last bytes, rows outside the tensor) are filled by each thread for its
 * own chunks, element by element, so no barrier is needed for them.
 */
#include <stdio.h>
#include <string.h>

#include "rows_emit.h"

static void line(rem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(rem *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rows_vline(e, fmt, ap);
    va_end(ap);
}

static const ir_node *N(const rem *e, int32_t id) { return &e->p->g->nodes[id]; }
static const char *V(const rem *e, int32_t id) { return e->p->names[id]; }

/* prog0..2 and `active` of flattened program q_f (persistent walk). */
void rows_emit_program_of(rem *e) {
    line(e, "const int prog0 = (int)(q_f %% grid_0), prog1 = (int)(q_f / grid_0 %% grid_1), "
            "prog2 = (int)(q_f / grid_0 / grid_1);");
    line(e, "const bool active = grp < R * %d && q_f < q_total;", e->p->P);
    line(e, "(void)prog0; (void)prog1; (void)prog2; (void)active;");
}

/* ---- staged rows ---------------------------------------------------------- */

static int nstaged(const rows_plan *p) {
    int n = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++) n += p->pref[id];
    return n;
}

/* Position of staged load id among the staged loads (its buffers). */
static int stage_index(const rows_plan *p, int32_t id) {
    int k = 0;
    for (int32_t i = 0; i < id; i++) k += p->pref[i];
    return k;
}

/* The mbarriers' bytes (one a buffer), a multiple of 128. */
static size_t bar_bytes(const rows_plan *p) { return ((size_t)p->NB * 8 + 127) / 128 * 128; }

size_t rows_stage_smem(const rows_plan *p) {
    return bar_bytes(p) + (size_t)nstaged(p) * p->NB * p->slice;
}

/* q_p (the row's first element in the tensor) and q_vec (the copy engine
 * may take the row: aligned, wholly inside the tensor) for a staged load,
 * after rows_access_row. */
static void emit_stage_test(rem *e, const ir_node *n, const access *a) {
    const ir_tensor *t = &e->p->g->tensors[n->tensor];
    line(e, "const long long q_c0 = q_o%d;", a->coldim);
    if (e->p->shift) {
        /* shifted rows (rows.h): from the row's column 0 less q_sh (16-byte
         * aligned in the anchor), the row's chunks (q_len elements) as far
         * as they lie inside the tensor */
        char span[512];
        rows_span(t, span, sizeof span);
        line(e, "const %s *q_p = t_%s + q_ro + q_c0 - q_sh;", emit_mem_type(t->dtype), t->name);
        line(e, "const long long q_b = q_ro + q_c0 - q_sh, q_left = %s - q_b;", span);
        line(e, "const bool q_vec = q_rin && tj::rows::aligned16(q_p) && q_c0 >= 0 && "
                "q_c0 + W <= t_%s_d%d && q_b >= 0;", t->name, a->coldim);
        line(e, "const long long q_len = (W + q_sh + V - 1) / V * V < q_left ? "
                "(W + q_sh + V - 1) / V * V : q_left;");
        return;
    }
    line(e, "const %s *q_p = t_%s + q_ro + q_c0;", emit_mem_type(t->dtype), t->name);
    line(e, "const bool q_vec = q_rin && tj::rows::aligned16(q_p) && q_c0 >= 0 && "
            "q_c0 + W <= t_%s_d%d;", t->name, a->coldim);
}

/* The copies of program `q_f`'s staged rows into buffer `buf` (C
 * expressions), issued by warp 0 with the coordinates recomputed in a
 * scope of their own; nothing past the last program (no step reads it).
 * `cb` (NULL: the enclosing one): the chunk the copies start at. */
static void emit_stage_issue(rem *e, const char *q_f, const char *buf, const char *cb) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    uint8_t *scratch = e->scratch;
    memcpy(scratch, e->visible, (size_t)g->nnodes + 1);
    line(e, "if (tid < 32) { // stage program %s into buffer %s", q_f, buf);
    e->depth++;
    line(e, "const long long q_f = %s;", q_f);
    line(e, "const int q_buf = %s;", buf);
    if (cb) line(e, "const int cb = %s; // the group's first chunk", cb);
    line(e, "if (q_f < q_total) {");
    e->depth++;
    rows_emit_program_of(e);
    rows_emit_shift(e, scratch);
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (!p->pref[id]) continue;
        const ir_node *n = N(e, id);
        for (int k = 0; k < n->nin; k++) rows_emit_with_deps(e, n->in[k], scratch);
        access a = rows_access_of(e, n, id);
        int s = stage_index(p, id);
        line(e, "{ // stage %s", g->tensors[n->tensor].name);
        e->depth++;
        rows_access_row(e, n, id, &a, 1);
        emit_stage_test(e, n, &a);
        line(e, "tj::rows::stage_issue<%s, %s>(q_sb%d + q_buf * q_sn%d, q_p + cb * V, "
                "q_vec ? tj::rows::slice_len(%s - cb * V, SL) : 0, q_bar + q_buf, tid, q_pol);",
             emit_mem_type(g->tensors[n->tensor].dtype), p->l2hint ? "true" : "false", s, s,
             p->shift ? "q_len" : "W");
        e->depth--;
        line(e, "}");
    }
    e->depth--;
    line(e, "}");
    e->depth--;
    line(e, "}");
}

/* Shifted rows (rows.h): after the wait, each thread's chunks the copy
 * engine did not take filled element by element, and in those it took
 * at the row's ends the columns outside the row set to the pad (a
 * neighbour's, copied with the row's 16-byte blocks), as the element
 * path leaves them; then, if it wrote, the fence before later copies. */
static void emit_staged_fill_shift(rem *e, const ir_tensor *t, const access *a, int s,
                                   const char *pad) {
    const char *mt = emit_mem_type(t->dtype);
    line(e, "const int q_nb = q_vec ? tj::rows::slice_len(q_len - cb * V, SL) * (int)sizeof(%s) "
            "/ 16 * 16 / (int)sizeof(%s) : 0;", mt, mt);
    line(e, "bool q_wr = false;");
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c) {");
    e->depth++;
    line(e, "const int q_l = (lane + c * TR) * V, j0 = cb * V + q_l;");
    line(e, "if (q_l + V <= q_nb && j0 >= q_sh && j0 + V <= W + q_sh) continue;");
    line(e, "q_wr = true;");
    line(e, "#pragma unroll");
    line(e, "for (int u = 0; u < V; ++u) {");
    line(e, "  const int q_j = j0 + u - q_sh;");
    line(e, "  const long long q_c = q_c0 + q_j;");
    line(e, "  const bool q_in = q_rin && (unsigned)q_j < (unsigned)W && q_c >= 0 && q_c < t_%s_d%d;",
         t->name, a->coldim);
    line(e, "  if (q_l + V <= q_nb) { if (!q_in) q_s%d[q_l + u] = tj::to_mem<%s>(%s); }", s, mt, pad);
    line(e, "  else q_s%d[q_l + u] = q_in ? t_%s[q_ro + q_c * t_%s_s%d] : tj::to_mem<%s>(%s);", s,
         t->name, t->name, a->coldim, mt, pad);
    line(e, "}");
    e->depth--;
    line(e, "}");
    line(e, "if (q_wr) tj::rows::fence_proxy_async();");
}

/* A staged load in the body: the view of this step's buffer, the wait for
 * the copy engine, and the element path for what it did not copy. */
void rows_emit_staged_load(rem *e, int32_t id) {
    const rows_plan *p = e->p;
    const ir_node *n = N(e, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    const char *mt = emit_mem_type(t->dtype);
    int s = stage_index(p, id);
    char pad[64];
    emit_literal(t->dtype, n->f, pad, sizeof pad);
    /* the two-pass ring: this group's buffer q_sl, its phase q_ph (rows_twopass.c) */
    int ring = p->NG > 1;
    line(e, "%s *const q_s%d = q_sb%d + %s * q_sn%d;", mt, s, s, ring ? "q_sl" : "(int)(q_it % NB)", s);
    line(e, "const tj::rows::sview<%s, V, TR> %s = {(const tj::rows::chunk<%s, V> *)q_s%d + lane};",
         mt, V(e, id), mt, s);
    if (ring && e->pass2) return; /* waited for and completed by the first pass */
    access a = rows_access_of(e, n, id);
    line(e, "{ // load %s (staged)", t->name);
    e->depth++;
    rows_access_row(e, n, id, &a, 1);
    emit_stage_test(e, n, &a);
    if (ring)
        line(e, "tj::rows::stage_wait(q_bar + q_sl, q_ph);");
    else
        line(e, "tj::rows::stage_wait(q_bar + q_it %% NB, (unsigned)(q_it / NB) & 1u);");
    /* Exact: every chunk lies inside the row and the slices' bytes are
     * whole 16-byte pieces, so the copy engine took all or nothing. */
    int exact = rows_exact(e) && (size_t)p->W * tj_dtype_size(t->dtype) % 16 == 0;
    if (p->shift) {
        emit_staged_fill_shift(e, t, &a, s, pad);
        e->depth--;
        line(e, "}");
        return;
    }
    if (exact) {
        line(e, "if (!q_vec) {");
    } else {
        line(e, "const int q_nb = q_vec ? tj::rows::slice_len(%s - cb * V, SL) * (int)sizeof(%s) "
                "/ 16 * 16 / (int)sizeof(%s) : 0;", p->shift ? "q_len" : "W", mt, mt);
        line(e, "if (q_nb < SL) {");
    }
    e->depth++;
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c) {");
    e->depth++;
    line(e, "const int q_l = (lane + c * TR) * V, j0 = cb * V + q_l;");
    if (!exact) line(e, "if (q_l + V <= q_nb) continue;");
    line(e, "#pragma unroll");
    line(e, "for (int u = 0; u < V; ++u) {");
    if (p->shift) {
        line(e, "  const int q_j = j0 + u - q_sh;");
        line(e, "  const long long q_c = q_c0 + q_j;");
        line(e, "  const bool q_in = q_rin && (unsigned)q_j < (unsigned)W && q_c >= 0 && "
                "q_c < t_%s_d%d;", t->name, a.coldim);
    } else {
        line(e, "  const long long q_c = q_c0 + j0 + u;");
        line(e, "  const bool q_in = q_rin && j0 + u < W && q_c >= 0 && q_c < t_%s_d%d;", t->name,
             a.coldim);
    }
    line(e, "  q_s%d[q_l + u] = q_in ? t_%s[q_ro + q_c * t_%s_s%d] : tj::to_mem<%s>(%s);", s, t->name,
         t->name, a.coldim, mt, pad);
    line(e, "}");
    e->depth--;
    line(e, "}");
    line(e, "tj::rows::fence_proxy_async();");
    e->depth--;
    line(e, "}");
    e->depth--;
    line(e, "}");
}

/* Shared memory: the mbarriers, then NB buffers a staged load. */
static void emit_stage_buffers(rem *e) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    int ns = nstaged(p);
    line(e, "extern __shared__ __align__(128) unsigned char tj_smem[];");
    line(e, "constexpr int NB = %d, SL = TR * C * V;", p->NB);
    line(e, "tj::u64 *const q_bar = (tj::u64 *)tj_smem;");
    for (int32_t id = 0, s = 0; id < g->nnodes; id++) {
        if (!p->pref[id]) continue;
        const char *mt = emit_mem_type(g->tensors[N(e, id)->tensor].dtype);
        line(e, "%s *const q_sb%d = (%s *)(tj_smem + %zu);", mt, s, mt,
             bar_bytes(p) + (size_t)s * p->NB * p->slice);
        line(e, "constexpr int q_sn%d = %zu / sizeof(%s);", s, p->slice, mt);
        s++;
    }
    line(e, "const tj::u64 q_pol = %s;", p->l2hint ? "tj::rows::policy_evict_first()" : "0");
    line(e, "(void)q_pol;");
    line(e, "if (tid == 0) tj::rows::stage_init(q_bar, NB, %d);", ns);
    /* clusters: the peers must have started before any block writes into
     * their shared memory (the reductions) */
    line(e, p->CL > 1 ? "tj::rows::cluster_sync();" : "__syncthreads();");
}

/* Shared memory, mbarriers and the first NB-1 programs' copies. */
static void emit_stage_setup(rem *e) {
    emit_stage_buffers(e);
    line(e, "const long long q_first = (long long)blockIdx.x / CL;");
    line(e, "#pragma unroll 1");
    line(e, "for (int q_i = 0; q_i < NB - 1; ++q_i) {");
    e->depth++;
    emit_stage_issue(e, "q_first + q_i * q_step", "q_i", NULL);
    e->depth--;
    line(e, "}");
}

/* ---- the two-pass ring (rows_twopass.c) ------------------------------------ */

void rows_emit_ring_issue(rem *e, const char *k) {
    char f[160], buf[96], cb[96];
    snprintf(f, sizeof f, "q_first + (long long)(%s) / NG * q_step", k);
    snprintf(buf, sizeof buf, "(int)((%s) %% NB)", k);
    snprintf(cb, sizeof cb, "(int)((%s) %% NG) * TR * C", k);
    emit_stage_issue(e, f, buf, cb);
}

void rows_emit_ring_setup(rem *e) {
    emit_stage_buffers(e);
    line(e, "constexpr int NG = %d;", e->p->NG);
    line(e, "const long long q_total = (long long)grid_0 * grid_1 * grid_2;");
    line(e, "const long long q_step = (long long)gridDim.x, q_first = (long long)blockIdx.x;");
    line(e, "const long long q_nmine = q_first < q_total ? (q_total - 1 - q_first) / q_step + 1 : 0;");
    line(e, "(void)q_nmine;");
    line(e, "#pragma unroll 1");
    line(e, "for (int q_i = 0; q_i < NB; ++q_i) {");
    e->depth++;
    rows_emit_ring_issue(e, "q_i");
    e->depth--;
    line(e, "}");
}

/* ---- the walk -------------------------------------------------------------- */

/* The prefetched loads of program `q_f` (a C expression) into their
 * <name>_nx chunk buffers, with the scalar coordinates they need
 * recomputed in a scope of their own (the nodes declared before the loop
 * are reused). Past the last program `active` is false and the buffers
 * get the pad value without touching memory. */
void rows_emit_prefetch(rem *e, const char *q_f) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    uint8_t *scratch = e->scratch;
    memcpy(scratch, e->visible, (size_t)g->nnodes + 1);
    line(e, "{ // prefetch program %s", q_f);
    e->depth++;
    line(e, "const long long q_f = %s;", q_f);
    rows_emit_program_of(e);
    rows_emit_shift(e, scratch);
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (!p->pref[id]) continue;
        const ir_node *n = N(e, id);
        for (int k = 0; k < n->nin; k++) rows_emit_with_deps(e, n->in[k], scratch);
        access a = rows_access_of(e, n, id);
        char raw[64];
        snprintf(raw, sizeof raw, "%s_nx", V(e, id));
        line(e, "{ // load %s", g->tensors[n->tensor].name);
        e->depth++;
        rows_access_row(e, n, id, &a, 1);
        rows_emit_wide_load(e, n, id, &a, raw);
        e->depth--;
        line(e, "}");
    }
    e->depth--;
    line(e, "}");
}

/* The persistent walk (rows.h): hoisted loads, the first program's
 * prefetch (staged: the first NB-1 programs' copies), then a loop whose
 * step converts the prefetched chunks (staged: waits for its buffer),
 * fetches the next program's and computes and stores this one. */
void rows_emit_walk(rem *e, uint8_t *done) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    line(e, "const int q_slot = grp / R;");
    line(e, "const long long q_total = (long long)grid_0 * grid_1 * grid_2;");
    line(e, "const long long q_step = (long long)gridDim.x / CL * %d;", p->P);
    if (p->stage) {
        /* the copies first, so they are in flight while the weight rows load */
        memcpy(e->visible, done, (size_t)g->nnodes + 1);
        emit_stage_setup(e);
    }
    for (int32_t id = 0; id < g->nnodes; id++)
        if (p->hoist[id]) rows_emit_with_deps(e, id, done);
    for (int32_t id = 0; id < g->nnodes && !p->stage; id++)
        if (p->pref[id])
            line(e, "tj::rows::chunk<%s, V> %s_nx[C];",
                 emit_mem_type(g->tensors[N(e, id)->tensor].dtype), V(e, id));
    memcpy(e->visible, done, (size_t)g->nnodes + 1);
    if (!p->stage) {
        char first[64];
        snprintf(first, sizeof first, "(long long)blockIdx.x * %d + q_slot", p->P);
        rows_emit_prefetch(e, first);
    }
    line(e, "#pragma unroll 1");
    if (p->stage)
        line(e, "for (long long q_b = q_first, q_it = 0; q_b < q_total; q_b += q_step, ++q_it) {");
    else
        line(e, "for (long long q_b = (long long)blockIdx.x * %d, q_it = 0; q_b < q_total; "
                "q_b += q_step, ++q_it) {", p->P);
    e->depth++;
    line(e, "(void)q_it;");
    if (p->stage)
        emit_stage_issue(e, "q_b + (NB - 1) * q_step", "(int)((q_it + NB - 1) % NB)", NULL);
    line(e, "const long long q_f = q_b + q_slot;");
    rows_emit_program_of(e);
    rows_emit_renew(e, 1);
    rows_emit_body_split(e, done, !p->stage);
    /* every thread is done with this step's buffer before it is refilled */
    if (p->stage) line(e, "__syncthreads();");
    e->depth--;
    line(e, "}");
}
