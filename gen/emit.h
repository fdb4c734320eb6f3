/*
 * emit.h — CUDA C++ generation for the generic (sm_80+) lowering, and the
 * launch description a kernel needs. Internal to libtilejit.
 */
#ifndef TJ_EMIT_H
#define TJ_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* A growable string. */
typedef struct strbuf {
    char *data;
    size_t len, cap;
    int oom;   /* an append failed: the content is truncated */
} strbuf;
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);

/* What the kernel takes, in order. */
typedef enum emit_param_kind {
    EMIT_PARAM_TENSOR = 0,   /* a device pointer */
    EMIT_PARAM_SCALAR,       /* a scalar argument */
    EMIT_PARAM_SYMBOL,       /* the true value of a symbol that is not baked */
    EMIT_PARAM_TENSORMAP,    /* a CUtensorMap (128 bytes, __grid_constant__) of
                              * tensor `index`, built by the runtime at launch
                              * from the tensor's pointer, dims and strides and
                              * the `tmap` description below */
    EMIT_PARAM_GRID          /* int: the graph's grid extent in dimension
                              * `index` (for kernels whose launch grid is not
                              * the graph's: EMIT_GRID_DIV, EMIT_GRID_PERSISTENT) */
} emit_param_kind;

/* How the runtime encodes a tensor map (cuTensorMapEncodeTiled). Dimension
 * 0 is the tensor's innermost (contiguous) one, as the driver counts; the
 * tensor's dims and strides come from the graph and the launch's symbols. */
typedef struct emit_tmap {
    int rank;              /* 1..5 = the tensor's rank */
    uint32_t box[5];       /* box extent per dimension, innermost first */
    int swizzle;           /* 0 none, 32, 64 or 128 (bytes) */
    int oob_nan;           /* out-of-bounds fill: 0 zeros, 1 NaN */
    int l2_promotion;      /* 0 none, 64, 128 or 256 (bytes) */
} emit_tmap;

typedef struct emit_param {
    emit_param_kind kind;
    int index;          /* tensor, scalar, symbol or grid-dimension index */
    int ctype;          /* EMIT_C_*: how the value is passed */
    size_t size;        /* bytes of the parameter */
    emit_tmap tmap;     /* EMIT_PARAM_TENSORMAP only */
} emit_param;

enum { EMIT_C_PTR = 0, EMIT_C_F32, EMIT_C_I32, EMIT_C_I64, EMIT_C_TMAP };

#define EMIT_MAX_PARAMS 128

/* How the launch grid follows from the graph's grid (g0, g1, g2):
 *   EMIT_GRID_GRAPH       (g0, g1, g2): one block per program;
 *   EMIT_GRID_DIV         (cdiv(g0, grid_arg), g1, g2): a block runs
 *                         grid_arg consecutive programs of dimension 0;
 *   EMIT_GRID_PERSISTENT  (min(g0*g1*g2, sm_count * grid_arg), 1, 1): a
 *                         persistent grid that walks the programs itself
 *                         (in clusters: at most the clusters the device
 *                         holds at once, cuOccupancyMaxActiveClusters);
 *   EMIT_GRID_MUL         (g0 * grid_arg, g1, g2): grid_arg blocks per
 *                         program (say, a cluster of grid_arg sharing one
 *                         wide row through distributed shared memory).
 * The block count in dimension 0 is rounded down to a multiple of the
 * cluster's (never to 0) only in PERSISTENT mode; in the others it must
 * already be one, which the schedule guarantees. */
enum { EMIT_GRID_GRAPH = 0, EMIT_GRID_DIV, EMIT_GRID_PERSISTENT, EMIT_GRID_MUL };

typedef struct emit_launch {
    char kernel[96];          /* the extern "C" name */
    int threads;              /* block size (1-D) */
    size_t smem_bytes;        /* dynamic shared memory */
    int grid_mode;            /* EMIT_GRID_* */
    int grid_arg;             /* programs per block (DIV), blocks per SM (PERSISTENT),
                                 blocks per program (MUL) */
    unsigned cluster[3];      /* thread-block cluster; {0,0,0} or {1,1,1}: none */
    char schedule[24];        /* which lowering made it: "generic", "rows", ... */
    char note[200];           /* why a fast schedule did not apply ("" if none) */
    int nparams;
    emit_param params[EMIT_MAX_PARAMS];
} emit_launch;

/* Generate the kernel for g specialized at sym_vals (every exact and
 * bucketed symbol that sizes a tile or is baked must be bound; dynamic
 * ones may be TJ_UNBOUND). *src is malloc'd. `launch` may be NULL. */
tj_status emit_cuda(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                    emit_launch *launch);

/* The kernel tilejit compiles for g at sym_vals on arch: the first
 * schedule in gen/schedule/ that applies, else the generic lowering (its
 * launch's `note` then says why the fast ones did not). What emit_kernel
 * picks is a pure function of (graph, bindings, arch, codegen version), so
 * the cache key covers it. `force` NULL = pick; else a schedule's name
 * ("generic", "rows", "gemm_sm90", ...), failing if it does not apply (for
 * tests, benchmarks and `tilejit emit --schedule`). */
tj_status emit_kernel(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                      const char *force, char **src, emit_launch *launch);

/* emit_common.c: shared by the generic lowering and the schedules. The C
 * type a value of `dtype` lives in (floats in f32) and the C type of a
 * tensor element; an exact literal of x rounded to dtype; the C format of
 * an elementwise op, operands as %1$s %2$s (printf positional). */
const char *emit_reg_type(int dtype);
const char *emit_mem_type(int dtype);
void emit_literal(int dtype, double x, char *buf, size_t size);
const char *emit_unary_fmt(int op);    /* tj_unop */
/* Mark id and everything it needs (a loop: its yields and the stores and
 * loops in its body) in live[]; _all: from the graph's stores and loops. */
void emit_mark_live(const tj_graph *g, uint8_t *live, int32_t id);
void emit_mark_live_all(const tj_graph *g, uint8_t *live);
const char *emit_binary_fmt(int op);   /* tj_binop */

/* The C format (operand %1$s) of a cast from dtype `from` to `to`,
 * helpers from namespace ns (tj/math.cuh's round_to, f2i). */
void emit_cast_fmt(int from, int to, const char *ns, char *fmt, size_t size);
/* 1 when node id is an f32 -> bf16 / f16 cast read by nothing but the
 * stores of tensors of that dtype, as their value: the store's own
 * conversion (tjg::st, st_shared_pair: to_mem, round to nearest even) is
 * the same rounding, so a schedule whose stores all convert that way may
 * emit the cast as its f32 argument (two instructions an element less). */
int emit_cast_is_store_rounding(const tj_graph *g, int32_t id);
/* The C expression of an elementwise node (const, symbol value, unary,
 * binary, where, fma, broadcast, reshape, cast) over its operands'
 * expressions a0..a2; 0 for any other op (program ids, iota, loads: the
 * caller's, as they depend on its layout). */
int emit_elementwise_expr(const tj_graph *g, int32_t id, const char *a0, const char *a1, const char *a2,
                     char *out, size_t size);

/* Whether symbol s is a compile-time constant of a specialization (an
 * exact symbol bound in sym). */
int emit_sym_baked(const tj_graph *g, const int64_t *sym, int s);
/* A schedule kernel's opening lines, indented 2·depth: `constexpr int
 * sym_<name>` of baked symbols, `t_<tensor>_d<k>` / `_s<k>` (long long)
 * of every tensor's dims and strides (from sym_<name> parameters or
 * constants), `a_<scalar>` of every scalar argument `p_<scalar>`. */
void emit_sched_prologue(strbuf *out, int depth, const tj_graph *g, const int64_t *sym);

/* A schedule kernel's first parameters, written after its "tj_<name>("
 * and recorded in L->params: every tensor (t_<name>, const unless in
 * stored[], NULL: the tensors the graph's top level stores), every scalar
 * argument (p_<name>), every symbol not baked (sym_<name>). Returns how
 * many; the schedule appends its own (tensor maps, grid) after them. */
int emit_sched_params(strbuf *out, const tj_graph *g, const int64_t *sym, const uint8_t *stored,
                      emit_launch *L);

/* Largest dynamic shared memory a block may use on `arch` (bytes). */
size_t emit_smem_limit(const char *arch);

#endif
