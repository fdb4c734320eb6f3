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

#endif
