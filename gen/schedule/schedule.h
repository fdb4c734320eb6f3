/*
 * schedule.h — the fast lowerings. Each schedule looks at a verified graph
 * specialized at its bindings and either emits a kernel for it or says,
 * in one line, why it does not apply; emit_kernel (pick.c) tries them in
 * order and falls back to the generic lowering (emit_cuda.c). A schedule
 * must compute exactly what the generic lowering computes (docs/graph.md);
 * the gpu suite checks both against the interpreter. Internal.
 */
#ifndef TJ_SCHEDULE_H
#define TJ_SCHEDULE_H

#include "emit.h"

/* A schedule's emitter. Applies: TJ_OK, *src (malloc'd) and *launch set.
 * Does not apply: TJ_OK, *src NULL, `why` says why (for the launch note
 * and `tilejit emit`). Anything else: a real error (no memory, a graph
 * the schedule accepted but could not finish), returned to the caller. */
typedef tj_status (*sched_emit_fn)(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                                   char **src, emit_launch *launch, char *why, size_t why_size);

typedef struct sched_entry {
    const char *name;
    sched_emit_fn emit;
    int masked_stores;   /* 1: lowers tj_store_masked (else never offered such graphs) */
} sched_entry;

/* The fast schedules, in the order emit_kernel tries them; ends with a
 * row whose name is NULL. */
extern const sched_entry sched_table[];

tj_status sched_decode(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                       emit_launch *launch, char *why, size_t why_size); /* decode.c */

tj_status sched_rows(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                     emit_launch *launch, char *why, size_t why_size); /* rows.c */

tj_status sched_gemm_sm90(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                          char **src, emit_launch *launch, char *why, size_t why_size); /* gemm_sm90.c */

/* Not yet in sched_table (awaiting its first GPU run): tests and
 * benchmarks call it by name. */
tj_status sched_attention_sm90(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                               char **src, emit_launch *launch, char *why,
                               size_t why_size); /* attention_sm90.c */

/* Helpers the schedules' matchers share (pick.c). sched_no writes a
 * decline's reason into why and returns 0. sched_tile_dims: [m, n] of
 * node id's tile at the bindings (rank 1: [1, n], rank 0: [1, 1]); 0 when
 * a dim has no value. sched_multiple_of: a dim or stride known to be a
 * multiple of m (a constant, an exact symbol bound in sym, or a symbol
 * with that divisor). */
int sched_no(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sched_tile_dims(const tj_graph *g, const int64_t *sym, int32_t id, int64_t *m, int64_t *n);
int sched_multiple_of(const tj_graph *g, const int64_t *sym, tj_dim d, int64_t m);

#endif
