/*
 * compile.h — a graph to a cubin (generic lowering + NVRTC). Internal.
 */
#ifndef TJ_COMPILE_H
#define TJ_COMPILE_H

#include "emit.h"

/* tj_compile, also giving the kernel's launch description (may be NULL). */
tj_status compile_graph(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                        unsigned flags, void **cubin, size_t *size, char **log,
                        emit_launch *launch);

/* The same with the schedule forced (emit_kernel's `force`; NULL picks):
 * for tests and benchmarks that compare a fast schedule with the generic
 * lowering. */
tj_status compile_graph_as(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                           const char *schedule, unsigned flags, void **cubin, size_t *size,
                           char **log, emit_launch *launch);

/* NVRTC on source emit_kernel made for g (the runtime's tiered mode picks
 * a schedule before it decides what to compile, and compiles that source
 * rather than emitting it again). flags: TJ_COMPILE_IN_CHILD. */
tj_status compile_source(const tj_graph *g, const char *arch, const char *src, unsigned flags,
                         void **cubin, size_t *size, char **log);

#endif
