/*
 * nvrtc.h — NVRTC, loaded with dlopen, compiling CUDA C++ to a cubin.
 * Internal to libtilejit (runtime layer).
 *
 * NVRTC is found by, in order: an explicit path (nvrtc_set_path, else
 * $TILEJIT_NVRTC; when one is given nothing else is tried), then the usual
 * sonames (libnvrtc.so.13, .so.12, .so) through the dynamic loader's search,
 * then the same names in $CUDA_HOME/lib64 and /usr/local/cuda/lib64. A
 * missing NVRTC is a clear TJ_ERR_UNSUPPORTED naming everything tried, never
 * a crash. No CUDA header or library is needed to build this. Every call is
 * safe from many threads.
 *
 * Targets are cubins for sm_80 and newer, as NVRTC lists them, plus the
 * arch-specific "a" variants (sm_90a, sm_100a ...) and, with NVRTC 12.9+,
 * the family "f" variants (sm_100f ...).
 */
#ifndef TJ_NVRTC_H
#define TJ_NVRTC_H

#include <stddef.h>
#include "tilejit.h"

/* An in-memory header handed to NVRTC ("tj/tile.cuh" -> its text): an
 * `#include "tj/tile.cuh"` resolves to it without touching the disk. */
typedef struct nvrtc_header {
    const char *name;
    const char *text;
} nvrtc_header;

typedef struct nvrtc_request {
    const char *source;            /* CUDA C++ */
    const char *name;              /* program name in messages, e.g. "gemm.cu";
                                      NULL means "kernel.cu" */
    const char *arch;              /* "sm_80" ... "sm_90a" */
    const nvrtc_header *headers;   /* may be NULL */
    int nheaders;
    const char *const *options;    /* extra options, appended after ours;
                                      may be NULL */
    int noptions;
    int in_child;                  /* compile in a forked child: a compiler
                                      crash becomes an error, not our death.
                                      The fork waits for compiles running
                                      in this process to finish. */
    double timeout_s;              /* child only; 0 = none. Counted from the
                                      fork; on expiry the child is killed
                                      (SIGKILL). */
} nvrtc_request;

typedef struct nvrtc_result {
    void *cubin;       /* malloc'd; caller frees with free() */
    size_t cubin_size;
    char *log;         /* malloc'd NVRTC log (may be empty, never NULL on
                          return unless the status is TJ_ERR_NO_MEMORY). For a
                          child that crashed: whatever it wrote to stderr. */
    char *options;     /* malloc'd: every option passed, space separated
                          (NULL when the request was rejected before) */
    double seconds;    /* wall time of the compile, fork and wait included */
} nvrtc_result;

/* Use this library file instead of searching (NULL resets to the search,
 * which reads $TILEJIT_NVRTC again). Takes effect at the next load. A
 * library loaded before stays mapped (it is never dlclose'd: another thread
 * may be compiling with it). TJ_ERR_INVALID_ARG for "" or an overlong path. */
tj_status nvrtc_set_path(const char *path);
/* Load NVRTC if not loaded yet; TJ_ERR_UNSUPPORTED with a message naming
 * what was tried when it cannot be found. A failure is remembered (and
 * reported again without searching) until nvrtc_set_path is called. */
tj_status nvrtc_load(void);
/* The file NVRTC was loaded from, as the dynamic loader resolved it
 * (static string: valid for the life of the process). */
tj_status nvrtc_library_path(const char **out);
/* NVRTC's version, e.g. 13 0. */
tj_status nvrtc_version(int *major, int *minor);
/* The archs NVRTC supports, as "sm_80 sm_86 ... sm_90a" (static string:
 * valid for the life of the process). Only sm_80 and newer are listed:
 * tilejit's kernels need Ampere or later. */
tj_status nvrtc_supported_archs(const char **out);
/* 1 when `arch` is a valid target name NVRTC supports (0 when NVRTC cannot
 * be loaded). */
int nvrtc_arch_supported(const char *arch);
/* The options nvrtc_compile would pass for `req`, space separated, exactly
 * as it records them in nvrtc_result.options (for cache keys). Malloc'd;
 * the caller frees it. Does not need NVRTC. */
tj_status nvrtc_options(const nvrtc_request *req, char **out);
/* Compile to a cubin. On TJ_ERR_COMPILE, res->log holds NVRTC's log and
 * tj_last_error() its first lines. An arch NVRTC does not know is
 * TJ_ERR_UNSUPPORTED; a malformed arch name or request TJ_ERR_INVALID_ARG.
 * The caller frees the result with nvrtc_result_free, on success and
 * failure alike. */
tj_status nvrtc_compile(const nvrtc_request *req, nvrtc_result *res);
void nvrtc_result_free(nvrtc_result *res);

/* ---- internal to runtime/nvrtc.c and runtime/nvrtc_child.c --------- */

/* A loaded NVRTC: immutable once published, never freed. */
typedef struct nvrtc_lib nvrtc_lib;

/* Monotonic seconds, for timing compiles. */
double nvrtc_now(void);
/* The first lines of `log`, each on its own indented line after a newline,
 * for error messages that must stay short. */
void nvrtc_log_head(const char *log, char *buf, size_t size);
/* Compile with `lib` in this process. Takes no lock and loads nothing, so
 * a forked child may call it. `req` has been validated. */
tj_status nvrtc_compile_with(const nvrtc_lib *lib, const nvrtc_request *req,
                             nvrtc_result *res);
/* Bracket a compile in this process: a fork for a child compile waits
 * until none runs (runtime/nvrtc_child.c says why). */
void nvrtc_in_process_begin(void);
void nvrtc_in_process_end(void);
/* Compile with `lib` in a forked child (runtime/nvrtc_child.c). */
tj_status nvrtc_compile_child(const nvrtc_lib *lib, const nvrtc_request *req,
                              nvrtc_result *res);

/* The child's answer on the pipe: a header and four byte strings. Exposed
 * so tests can feed the decoder garbage. Encode returns a malloc'd frame
 * (NULL on allocation failure). Decode fills `res` (cubin, log, options),
 * `*status` and a malloc'd `*message`, or returns TJ_ERR_COMPILE with a
 * message saying what is wrong and leaves nothing allocated. */
void *nvrtc_frame_encode(tj_status status, const char *message,
                         const nvrtc_result *res, size_t *size);
tj_status nvrtc_frame_decode(const void *frame, size_t size,
                             nvrtc_result *res, tj_status *status,
                             char **message);

#endif
