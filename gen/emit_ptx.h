/*
 * emit_ptx.h — the second back end: the generic lowering of a graph built
 * as LLVM IR through the LLVM-C API and turned into PTX by LLVM's NVPTX
 * back end. Internal to libtilejit; present when the library was built
 * with the meson feature `llvm` (gen/emit_ptx_stub.c answers otherwise).
 *
 * The kernel is the one gen/emit_cuda.c writes as CUDA C++, in the same
 * execution model (one program = one block, the strided register layout,
 * shared-memory staging), with the same name, parameters and launch
 * description, so the runtime launches either the same way. Float math
 * that the CUDA path takes from CUDA's libdevice (expf, logf, sinf ...)
 * comes from the same libdevice bitcode, linked into the module: found at
 * $TILEJIT_LIBDEVICE, else $CUDA_HOME/nvvm/libdevice/libdevice.10.bc, else
 * /usr/local/cuda/nvvm/libdevice/libdevice.10.bc. A graph that needs none
 * of those functions needs no libdevice.
 */
#ifndef TJ_EMIT_PTX_H
#define TJ_EMIT_PTX_H

#include "emit.h"

/* 1 when this library was built with LLVM. */
int emit_ptx_available(void);

/* What shapes the PTX besides the graph, for the cache key: "llvm 19.1.7"
 * plus the libdevice file's hash prefix when one is found ("llvm 19.1.7
 * libdevice 3c1f09a2b4e7"). NULL without LLVM. Static string. */
const char *emit_ptx_backend_id(void);

/* The generic lowering of g at sym_vals for arch (sm_80 or later, suffix
 * kept: sm_90a) as PTX text (*ptx malloc'd, NUL-terminated). `force` NULL
 * or "generic": the only lowering this back end has; any other schedule
 * name is TJ_ERR_UNSUPPORTED. `launch` may be NULL; it is what
 * emit_kernel(g, arch, sym_vals, "generic", ...) gives. Without LLVM:
 * TJ_ERR_UNSUPPORTED. Safe from many threads (one LLVM context each). */
tj_status emit_ptx(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                   const char *force, char **ptx, emit_launch *launch);

/* The same kernel as LLVM IR text after optimization (for reading and for
 * `tilejit emit --lang llvm`); *ir malloc'd. */
tj_status emit_ptx_llvm_ir(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                           char **ir);

/* Seconds spent in the last emit_ptx on this thread: building the module,
 * optimizing it, and generating PTX (for bench/llvm.c). */
typedef struct emit_ptx_times {
    double build, optimize, codegen;
} emit_ptx_times;
void emit_ptx_last_times(emit_ptx_times *out);

#endif
