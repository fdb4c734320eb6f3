/*
 * rows.h — the `rows` schedule's plan, shared by its analysis (rows.c)
 * and its emitter (rows_emit.c). Internal.
 *
 * The model: every tile of the graph is [R,W], [R,1], [1,W] / [W] or
 * [1,1] for one R (the tile's rows) and one W (its specialized width).
 * A row of a program is owned by a group of TR threads (a power of two:
 * part of a warp, a warp, several warps or the whole block); the block
 * holds G = R*P such groups (P programs per block when rows are narrow,
 * launched with EMIT_GRID_DIV). A thread holds the columns of its row in
 * chunks of V consecutive elements: chunk c of lane l covers columns
 * (l + c*TR)*V .. +V-1, so consecutive lanes touch consecutive 16-byte
 * pieces of memory. A value's class says what a thread holds of it:
 *
 *   RC_SCALAR  rank 0                  one register
 *   RC_UNIT    [1,1] / [1]             one register (the same in every group of a program)
 *   RC_ROW     [R,1]                   one register: this thread's row's value
 *   RC_ROWT    [R] made by reshape of [R,1]: as RC_ROW (stored along the row dim)
 *   RC_COL     [W] / [1,W]             C*V registers: this lane's columns
 *   RC_FULL    [R,W]                   C*V registers: this lane's columns of its row
 *
 * Where registers are short (a thread holding more than 32 elements of
 * a row, or a block without the walk's register budget: the 1024-thread
 * block of a norm at 32768 columns, clusters), a wide load of a 16-bit
 * float tensor is held as loaded (`raw`: C chunks, half the registers of
 * f32) and converted where it is used, and cheap elementwise nodes over
 * such values (`inl`: float casts; add, sub, mul) are written out at each
 * use rather than held. After a row reduction the chunks still needed
 * pass through an empty asm (tj::rows::renew), so the compiler converts
 * them again instead of keeping the converted values live across the
 * reduction. (The walk at 32 elements a thread or fewer holds f32: raw
 * measured equal or slower there, layernorm 4-9 % slower.)
 *
 * Launch variants on top of that (rows_mode.c picks them):
 *
 *   persistent (`persist`)  EMIT_GRID_PERSISTENT: each group walks programs
 *       f = slot, slot + gridDim.x*P, ... of the flattened graph grid and
 *       loads program f+stride's wide input rows (`pref` loads, raw 16-byte
 *       chunks) before it reduces and stores program f, so two rows are in
 *       flight a group; loads that no program id reaches (a norm's
 *       weight row) are made once before the walk (`hoist`) or, with
 *       `late`, where they are used each program (rows_mode.c chooses).
 *   cluster (`CL` > 1)      EMIT_GRID_MUL with a cluster of CL blocks a
 *       program (sm_90+): block rank r of the cluster holds chunks
 *       r*TR*C .. of every row, and row reductions combine the blocks'
 *       partials through distributed shared memory.
 *   staged (`stage`, sm_90+, rows_walk.c)  the persistent walk with one
 *       row a block (R = P = 1, TR = NT) whose wide input rows (the
 *       prefetched loads) are copied into a ring of NB shared-memory
 *       buffers by the bulk copy engine (cp.async.bulk, an mbarrier a
 *       buffer): NB-1 programs' rows are in flight while one is reduced
 *       and stored, whatever the registers, and a staged row takes no
 *       registers (it is read from shared memory at each use, like a raw
 *       value). With CL > 1 each block of a cluster stages and walks its
 *       slice of the row (a persistent grid of clusters).
 *   two-pass (`NG` > 1, rows_twopass.c)  one row a block that reads it
 *       twice in NG groups of C chunks a thread: the reductions folded
 *       group by group, then the stores, the row kept in L2 between.
 *
 * Shifted rows (`shift`): where the width is not a multiple of V, rows
 * after the first start between 16-byte boundaries. The columns a thread
 * holds are then moved with the row: chunk c of lane l holds columns
 * (l + c*TR)*V - sh .., sh (0..V-1, `q_sh` in the kernel, per row) the
 * row's first column's elements past a 16-byte boundary of the `anchor`
 * (the first wide load of a row, 16-byte chunks), so that tensor's
 * chunks are aligned 16-byte blocks again (the two at the row's ends
 * read a neighbour's columns, masked out; stores write those two element
 * by element). Other wide loads in another phase (a norm's weight row)
 * read the two aligned blocks around a chunk and shift the bytes
 * (tj::rows::ldv_at); column tests are 0 <= j < W; the threads cover W +
 * V - 1 columns (rows_nq); weight rows are loaded each program, not
 * held (their phase follows the row's).
 *
 *   two-pass staged (`NG` > 1 with `stage`, sm_90+, rows_twopass.c and
 *       rows_walk.c)  the same read twice from shared memory: one block
 *       an SM walks the rows, the groups its first pass reads copied by
 *       the bulk copy engine into a ring of NB > NG group buffers (an
 *       mbarrier a buffer), each refilled with the group NB ahead once
 *       the second pass has read it: the next row's first groups are in
 *       flight while this one is reduced, and HBM sees each row once.
 */
#ifndef TJ_SCHED_ROWS_H
#define TJ_SCHED_ROWS_H

#include "schedule.h"

enum { RC_SCALAR = 0, RC_UNIT, RC_ROW, RC_ROWT, RC_COL, RC_FULL };

typedef struct rows_plan {
    const tj_graph *g;
    const int64_t *sym;
    const char *arch;
    int R, W;        /* tile rows and columns (specialized) */
    int V;           /* elements per chunk */
    int TR;          /* threads per row (power of two, <= 1024) */
    int C;           /* chunks per thread */
    int P;           /* programs per block (EMIT_GRID_DIV when > 1) */
    int NT;          /* block threads: TR*R*P rounded up to a warp */
    int CL;          /* blocks a program (a cluster, sm_90+), 1 when none */
    int persist;     /* 1: persistent walk with the next program's rows prefetched */
    int minblocks;   /* persistent: blocks an SM must hold (__launch_bounds__, grid_arg) */
    int late;        /* persistent: loads other than the prefetched ones at their use, each program */
    int nfirst;      /* cluster: reductions emitted so far (the first waits for the peers) */
    int stage;       /* staged walk: prefetched rows through shared memory (rows_walk.c) */
    int NB;          /* staged: buffers a staged load (two-pass: group buffers, the ring) */
    int l2hint;      /* staged: bulk copies with an L2 evict-first policy */
    size_t slice;    /* staged: bytes of one buffer (a block's slice of a row, or a group; 128-aligned) */
    int NG;          /* two-pass: groups of C chunks a thread walks a row in (> 1), else 0 */
    int rev;         /* two-pass: pass 2 walks the groups last to first (rows_forced.rev) */
    int shift;       /* shifted rows (above): the columns move with the anchor's row start */
    int32_t anchor;  /* shift: the wide load whose row start sets q_sh */
    uint8_t *pref;   /* per node: a load prefetched a program ahead (persistent) */
    uint8_t *hoist;  /* per node: a load made once before the walk (persistent) */
    uint8_t *raw;    /* per node: a wide load held as stored, converted at each use */
    uint8_t *inl;    /* per node: a cheap op over raw values, written out at each use */
    uint8_t *l1;     /* per wide load: ldv's L1 policy (2 streamed row, 3 reused weight row; 0 none) */
    uint8_t *cls;    /* per node: RC_* */
    uint8_t *live;   /* per node: needed by a store */
    uint8_t *stored; /* per tensor: written by the graph */
    uint8_t *loaded; /* per tensor: read by the graph */
    char (*names)[48];
    int nreduce;     /* row reductions needing shared memory (TR > 32) */
    size_t smem;     /* static shared bytes (reported in the launch) */
} rows_plan;

/* Bench and test hook (never set by the library): force a launch
 * variant. mode: ROWS_AUTO (the model), ROWS_PLAIN (one program a group),
 * ROWS_PERSIST (the walk, where it applies), ROWS_CLUSTER (where it
 * applies); elems: elements of the input row a thread holds (0: the
 * model's; ROWS_PLAIN: rows.c's layout); minblocks: persistent blocks an SM (0: the model's); late:
 * 0 the model's, 1 reload a weight row each program, 2 hold it; hold: 0
 * the model's, 1 every loaded row converted to f32, 2 as loaded (`raw`);
 * l1: 1 puts L1 policies on the loads (rows streamed past L1, weight rows
 * kept: measured 2-6 % slower on an H200, so off in the model); ROWS_STAGE
 * (the staged walk, elems at most 32 unless given) takes cl (blocks a
 * row), nb (buffers) and l2 (an L2 evict-first policy on the copies:
 * measured 1-5 % slower); ROWS_TWOPASS (rows_twopass.c, elems: a
 * group's elements a thread, 64 bf16 unless given; rev: pass 2 reads the
 * groups last to first, the most recently read first: +-1.5 % on an
 * H200, not adopted; ring: 1 the staged form (sm_90+, a tile of one row,
 * where the ring fits; nb: its buffers, at least the row's groups and
 * one), else the L2 form). A variant that
 * does not apply to a graph falls back to the model. */
enum { ROWS_AUTO = 0, ROWS_PLAIN, ROWS_PERSIST, ROWS_CLUSTER, ROWS_STAGE, ROWS_TWOPASS };
typedef struct rows_force {
    int mode, elems, minblocks, late, hold, l1;
    int cl, nb, l2;  /* ROWS_STAGE: cluster size, buffers, 1 = L2 evict-first (0: the model's) */
    int rev;         /* ROWS_TWOPASS: 1 = pass 2 walks the groups last to first */
    int ring;        /* ROWS_TWOPASS: 1 = staged in shared memory (a ring of group buffers) */
} rows_force;
extern rows_force rows_forced;
/* 1 (the default): the model takes the staged walk for wide norms
 * (rows_mode.c; passed test_gpu_rows on an H200, 2026-11-29). 0: the
 * register walks only. ROWS_STAGE forces the walk either way. */
extern int rows_stage_auto;
/* 1 (the default): exp(v - r), r the same along a row, as
 * ex2.approx((v - r) log2e) (an add, a multiply and the MUFU's exp2,
 * against expf's range reduction: 8 instructions) in graphs whose stores
 * are all 16-bit floats: relative error about 2^-22 plus |v - r| 2^-24,
 * far below a bf16 / f16 output's rounding, and results under 2^-126
 * flushed to 0 (no 16-bit format but bf16 has them, and bf16's are below
 * 1.2e-38). Softmax's per-element work is what limits its wide rows:
 * H200, 2026-11-29, of copy, expf -> ex2 of v log2e - r log2e (one FMA;
 * one call, two rounds): the plain kernel at 16384 0.90 / 0.90 -> 0.94 /
 * 0.93, 8192 0.94 / 0.98 -> 0.99 / 0.98, the cluster at 65536 0.67 ->
 * 0.73 (ncu at 16384: 163 M -> 121 M instructions); this form (the
 * full bench, another call): 16384 0.92, 8192 0.985, 65536 0.725.
 * 0: expf (bench_membound --exact-exp). Either way softmax's (max, sum)
 * pairs (rows_pair.c, the two-pass walks) are rescaled by ex2.approx
 * (tj::rows::pair_op, pair_reduce: relative error about 2^-22 a sum,
 * f32 outputs included). */
extern int rows_fast_exp;

/* Classify and check the graph, choose TR/C/P; TJ_OK with why[0] != 0
 * when the schedule does not apply. */
tj_status rows_analyze(rows_plan *p, char *why, size_t why_size);

/* 1 (the default): rows of a width that is not a multiple of V are
 * shifted (above) where an anchor load exists; 0: such rows take the
 * element path (bench_membound --no-shift, to compare). */
extern int rows_shift_auto;

/* Chunks of V a row's threads must cover: ceil(W / V), or with `shift`
 * ceil((W + V - 1) / V) (a row starting up to V - 1 columns into its
 * first chunk). */
int64_t rows_nq(const rows_plan *p);

/* rows_mode.c: the same value in every program and row of a group (no
 * program id, row, written tensor or reduction reaches node id); scalar
 * arithmetic over program ids, symbols, constants and scalar arguments
 * (a coordinate a walk can recompute on its own). */
int rows_invariant(const rows_plan *p, int32_t id);
int rows_pure_scalar(const rows_plan *p, int32_t id);

/* rows_pair.c: softmax's max and sum of a row split over a cluster (or
 * walked in groups by the two-pass variant) as one exchange of (max, sum)
 * pairs. The max reduction r1 whose sum r2 that pairs with
 * (rows_pair_max_of(p, r2) == r1) stays in its block (its group); -1 / 0
 * when not that shape or the row is not split. */
int32_t rows_pair_max_of(const rows_plan *p, int32_t r2);
int rows_pair_is_max(const rows_plan *p, int32_t r1);

/* TR, C, P, NT for about `elems` elements of a row a thread (rows.c);
 * 0 when a thread would hold more than the limit (C is set). */
int rows_split(rows_plan *p, int elems);

/* rows_mode.c: after rows_analyze, choose the cluster or persistent
 * variant for the arch (fills CL, persist, minblocks, pref, hoist, l1;
 * may change TR, C, P, NT). */
void rows_choose_mode(rows_plan *p);

/* Bytes of shared memory the staged walk may use a block (sm_90: 227
 * KB less the reductions' static buffers and the mbarriers). */
#define ROWS_STAGE_SMEM (220 * 1024)

/* rows_twopass.c: 1 when every row reduction of the plan can be made in
 * one pass over the row and its stores in a second (no row reduction over
 * another's result but softmax's max and sum, no tensor both read and
 * written); any rows a tile. */
int rows_twopass_ok(const rows_plan *p);

/* rows_twopass.c: read1[id] = 1 for the nodes the first pass computes (the
 * row reductions and what they read); read1 has nnodes + 1 bytes. */
void rows_twopass_read1(const rows_plan *p, uint8_t *read1);

/* rows_walk.c: dynamic shared memory of the staged walk (mbarriers and
 * NB buffers of `slice` bytes a staged load; also the two-pass ring's). */
size_t rows_stage_smem(const rows_plan *p);

/* Write the kernel for an analyzed plan. */
tj_status rows_emit(rows_plan *p, char **src, emit_launch *L);

/* 1 when column dim `d` of tensor t has stride 1 at compile time. */
int rows_unit_stride(const tj_graph *g, int t, int d);

#endif
