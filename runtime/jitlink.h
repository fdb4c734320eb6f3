/*
 * jitlink.h — PTX to a cubin with nvJitLink, loaded with dlopen; and the
 * LLVM back end's compile (graph -> PTX -> cubin). Internal to libtilejit.
 *
 * nvJitLink is found by, in order: $TILEJIT_NVJITLINK (a path; when given
 * nothing else is tried), the sonames libnvJitLink.so.13, .so.12, .so
 * through the dynamic loader's search, then the same names in
 * $CUDA_HOME/lib64 and /usr/local/cuda/lib64. Where it is absent the LLVM
 * back end hands the PTX itself to the driver (cuLibraryLoadData takes
 * PTX, NUL included, and JIT-compiles it at load), so no GPU-less cubin
 * is made but nothing else changes. Safe from many threads.
 */
#ifndef TJ_JITLINK_H
#define TJ_JITLINK_H

#include <stddef.h>

#include "emit.h"

/* Load nvJitLink if not loaded yet. TJ_ERR_UNSUPPORTED naming what was
 * tried when it cannot be found (remembered: later calls do not search). */
tj_status jitlink_load(void);
/* Its version ("13.0" style) once loaded. */
tj_status jitlink_version(int *major, int *minor);
/* Link one PTX module into a cubin for arch ("sm_90a"). *cubin malloc'd;
 * *log (may be NULL) gets nvJitLink's error and info logs, malloc'd, also
 * on failure (TJ_ERR_COMPILE, the log's head in tj_last_error()). */
tj_status jitlink_ptx_to_cubin(const char *ptx, const char *arch, void **cubin, size_t *size,
                               char **log);

/* The LLVM back end end to end: emit_ptx, then nvJitLink, or, without
 * nvJitLink, the PTX text itself (NUL included) as the image. `launch`
 * may be NULL. *image malloc'd. */
tj_status jitlink_compile_graph(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                                void **image, size_t *size, char **log, emit_launch *launch);

/* The cache-key value of the LLVM back end (docs/cache.md: `backend=`),
 * e.g. "llvm 19.1.7 libdevice 3c1f09a2b4e7"; NULL when the library was
 * built without LLVM. */
const char *jitlink_backend_id(void);

#endif
