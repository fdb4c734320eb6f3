/*
 * rows_emit.h — what the `rows` schedule's two emitter files share:
 * rows_emit.c (one program's statements, loads and stores, the kernel)
 * and rows_walk.c (the persistent walk, and its staged variant that
 * copies rows into shared memory with the bulk copy engine). Internal.
 */
#ifndef TJ_SCHED_ROWS_EMIT_H
#define TJ_SCHED_ROWS_EMIT_H

#include <stdarg.h>

#include "rows.h"

typedef struct rem {
    rows_plan *p;
    strbuf out;
    int depth;
    uint8_t *visible;  /* persistent walk: nodes declared before the loop */
    uint8_t *scratch;  /* persistent walk: the prefetch scope's emitted nodes */
    uint8_t *emitted;  /* the nodes written so far (rows_emit_renew: which raw values are used later) */
    const char *pol_load, *pol_store;  /* an L2 policy's variable for 16-byte loads / stores, or NULL */
    const uint8_t *pol_only;           /* per node: the loads pol_load is for (NULL: all) */
    int pass2;         /* the staged two-pass walk's second pass: its groups are in place */
    int full;          /* the two-pass walk's whole groups: no column past the row's end */
} rem;

/* One statement (lines split at '\n') at the current depth. */
void rows_vline(rem *e, const char *fmt, va_list ap);

/* The tensor dims a load or store's tile rows and columns run along
 * (-1: none), and the multiplier of each coordinate. */
typedef struct access {
    int rowdim, coldim;
    int64_t mult[TJ_MAX_RANK];
} access;

access rows_access_of(const rem *e, const ir_node *n, int32_t v);

/* Declares q_rin (the row is inside the tensor and the program active),
 * q_ro (the row's element offset, the column dim excluded when `wide_v`)
 * and q_o<d>, each dim's first element. */
void rows_access_row(rem *e, const ir_node *n, int32_t v, const access *a, int wide_v);

/* A wide load's chunks into node id's f32 array (raw NULL) or into the
 * chunk array `raw`, after rows_access_row. */
void rows_emit_wide_load(rem *e, const ir_node *n, int32_t id, const access *a, const char *raw);

/* Node id's statements (its declaration, then its value). */
void rows_emit_node(rem *e, int32_t id);

/* Operand `id` at slot `slot` (a C expression) of a result. */
void rows_opnd(const rem *e, int32_t id, const char *slot, char *buf, size_t size);

/* An unrolled loop over a thread's slots of a group (`k` the slot, `j`
 * its column), and its end. */
void rows_begin_slots(rem *e);
void rows_end_slots(rem *e);

/* Elements of a row the plan's threads cover (C*V*TR a block, times the
 * blocks of a cluster and the groups of the two-pass walk). */
int64_t rows_covered(const rows_plan *p);

/* No chunk of the code being written reaches past the row's end: the
 * plan covers the width exactly, or the two-pass walk's whole groups. */
int rows_exact(const rem *e);

/* Shifted rows (rows.h): `int q_sh`, the row's phase, from the anchor's
 * row start for the program in scope (its coordinates emitted into
 * `done`); nothing when the plan is not shifted. */
void rows_emit_shift(rem *e, uint8_t *done);
/* "1 + (t_x_d0 - 1) * t_x_s0 + ...": tensor t's elements from its first to
 * its last, as a C expression. */
void rows_span(const ir_tensor *t, char *buf, size_t size);
/* The test slot k (column j) passes inside the row: "j < W", or with
 * shifted rows bit k of q_in (rows_emit_in_mask; in the two-pass walk
 * and clusters, 0 <= j < W). */
const char *rows_col_test(const rem *e);
/* Shifted rows on one block a row outside the two-pass walk: q_in, bit
 * k set where slot k's column lies in the row (one register, not a
 * column a slot: 32 compares over a row held the softmax at 1001 columns
 * at 77 registers against 48), emitted with q_sh. */
void rows_emit_in_mask(rem *e);
/* Node id after every operand not yet in `done`. */
void rows_emit_with_deps(rem *e, int32_t id, uint8_t *done);

/* One program's nodes, the loads of tensors the kernel does not write
 * first; `prefetch`: the next program's prefetch between the two. */
void rows_emit_body_split(rem *e, uint8_t *done, int prefetch);

/* tj::rows::renew over the raw values still to be read (all: every one
 * written so far). */
void rows_emit_renew(rem *e, int all);

/* rows_walk.c: the persistent walk (plain or staged), the next
 * program's prefetch, and a staged load's statements in the body. */
void rows_emit_walk(rem *e, uint8_t *done);
void rows_emit_prefetch(rem *e, const char *q_f);
void rows_emit_staged_load(rem *e, int32_t id);

/* rows_walk.c: prog0..2 and `active` of the walk's program q_f. */
void rows_emit_program_of(rem *e);

/* rows_walk.c: the staged two-pass walk's ring (rows.h): its buffers and
 * mbarriers, the walk's bounds (q_first, q_step, q_nmine: the programs
 * this block walks) and the first NB groups' copies; then the copy of
 * this block's group `k` (a C expression: row k / NG of its walk, group
 * k % NG) into buffer k % NB, by warp 0. */
void rows_emit_ring_setup(rem *e);
void rows_emit_ring_issue(rem *e, const char *k);

/* rows_twopass.c: the body of the two-pass walk (NG > 1). */
void rows_emit_twopass(rem *e, uint8_t *done);

#endif
