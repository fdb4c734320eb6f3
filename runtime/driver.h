/*
 * driver.h — the CUDA Driver API, loaded with dlopen. Internal to libtilejit
 * (runtime layer); tests and benchmarks use it too.
 *
 * libcuda is never linked: tilejit builds and loads on a machine with no
 * CUDA driver and no CUDA headers. The library is found by, in order: an
 * explicit path (drv_set_path, else $TILEJIT_LIBCUDA; when one is given
 * nothing else is tried), then "libcuda.so.1" and "libcuda.so" through the
 * dynamic loader's search. Loading runs cuInit(0) and counts the devices;
 * any failure on the way (no library, a stub library, no device) is
 * TJ_ERR_DRIVER with a message that starts "no CUDA device: " and says
 * why. Every call is safe from many threads.
 *
 * Every failing driver call is TJ_ERR_DRIVER with tj_last_error() naming
 * the call, the CUresult's name and its description, e.g.
 *   "cuMemAlloc(1073741824 bytes): CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
 *
 * Contexts. Calls that need a context use the calling thread's current
 * context. When the thread has none, tilejit retains the primary context of
 * device 0 (drv_context_current lets the caller pick the device), makes it
 * current on this thread, and keeps that one reference for the life of the
 * process (one per device, as the CUDA runtime does), so it stays valid for
 * everything loaded or allocated in it. A framework that has made its own
 * context current is never overridden.
 *
 * Streams, events and device pointers are the driver's own handles passed
 * through as void * / drv_ptr: a CUstream from a framework may be passed
 * directly (NULL is the legacy default stream).
 */
#ifndef TJ_DRIVER_H
#define TJ_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include "tilejit.h"

typedef unsigned long long drv_ptr;   /* a CUdeviceptr */

/* ---- loading -------------------------------------------------------- */

/* Use this libcuda file instead of searching (NULL resets to the search,
 * which reads $TILEJIT_LIBCUDA again). Takes effect at the next load, and
 * forgets a remembered load failure. Once a driver has loaded successfully
 * it stays (handles from it are live): then this is TJ_ERR_INVALID_ARG. */
tj_status drv_set_path(const char *path);
/* Load libcuda, cuInit(0), count devices. Done once; the outcome (success
 * or the failure's message) is remembered and returned again without
 * retrying until drv_set_path. */
tj_status drv_load(void);
/* 1 when a driver loaded and has at least one device, else 0 with *why
 * (if non-NULL) set to the reason (a static string, valid until the next
 * drv_set_path). Never fails. */
int drv_available(const char **why);
/* The file libcuda was loaded from, as the dynamic loader resolved it. */
tj_status drv_library_path(const char **out);
/* The driver's CUDA version, e.g. 13000 for 13.0. */
tj_status drv_driver_version(int *version);
tj_status drv_device_count(int *count);
/* 1 when the driver has the CUDA 12.0 library API (cuLibrary*), which
 * drv_library_load uses; 0 means modules are used instead. */
int drv_has_library_api(void);

/* ---- devices ---------------------------------------------------------- */

typedef struct drv_device {
    int ordinal;
    char name[256];
    int cc_major, cc_minor;          /* compute capability, e.g. 9 0 */
    char arch[16];                   /* NVRTC target: "sm_90a", "sm_86" */
    int sm_count;
    int max_threads_per_block;
    int max_threads_per_sm;
    int regs_per_sm;
    int smem_per_block;              /* default limit, 48 KB */
    int smem_per_block_optin;        /* with the dynamic limit raised */
    int smem_per_sm;
    int l2_bytes;
    size_t memory_bytes;
    int cluster_launch;              /* 1 when clusters can be launched */
} drv_device;

/* Query device `ordinal` (0 .. count-1). Needs no context. */
tj_status drv_device_info(int ordinal, drv_device *out);
/* The NVRTC target for a compute capability: the arch-specific "a" target
 * from 9.0 on, where every device has one (sm_90a, sm_100a, sm_103a,
 * sm_110a, sm_120a, sm_121a); the plain target before (sm_80, sm_86,
 * sm_89). Writes at most `size` bytes. Needs no driver. */
tj_status drv_arch_name(int cc_major, int cc_minor, char *buf, size_t size);

/* ---- contexts ----------------------------------------------------------- */

/* The calling thread's current context, as an opaque CUcontext; when it
 * has none, device `ordinal`'s primary context, made current (see the top
 * of this file). `ctx` may be NULL. */
tj_status drv_context_current(int ordinal, void **ctx);
/* The device of the calling thread's context (establishing one on device
 * 0 first when there is none). */
tj_status drv_context_device(int *ordinal);
tj_status drv_context_sync(void);

/* ---- code ----------------------------------------------------------- */

typedef struct drv_library drv_library;   /* a loaded cubin */
typedef struct drv_kernel drv_kernel;     /* a kernel in it; owned by it */

/* TJ_OK when `image` is a whole cubin (64-bit CUDA ELF whose header
 * tables, sections and segments all lie within `size`), a fatbin whose
 * declared size fits, or PTX text with its NUL inside `size`; else
 * TJ_ERR_INVALID_ARG saying what is wrong, prefixed by `what`. The driver
 * takes no size and trusts the image's headers, so every load checks this
 * first; a cache reading cubins from disk can use it too. Needs no driver. */
tj_status drv_image_check(const void *image, size_t size, const char *what);
/* Load a cubin (or fatbin) image (drv_image_check'ed first). The image is copied: the caller may free
 * it on return. With the library API the result is context-independent
 * (usable from every context, on every device, the cubin's arch allows);
 * without it, it is a module in the current context (drv_context_current).
 * Free with drv_library_unload. */
tj_status drv_library_load(const void *image, size_t size, drv_library **out);
/* The same, always as a module of the current context (the fallback path;
 * exposed so both paths can be tested on one driver). */
tj_status drv_library_load_module(const void *image, size_t size,
                                  drv_library **out);
/* Unload; every drv_kernel from it dies with it. NULL is fine. The caller
 * ensures no launch of its kernels is in flight on another thread. */
tj_status drv_library_unload(drv_library *lib);
/* Find an `extern "C"` kernel by name. The drv_kernel is owned by `lib`
 * (asking twice gives the same one). */
tj_status drv_library_get_kernel(drv_library *lib, const char *name,
                                 drv_kernel **out);
/* The kernel as a CUfunction of the current context (cuKernelGetFunction;
 * for a module, its own function), for calls that need one. */
tj_status drv_kernel_function(drv_kernel *k, void **fn);
/* A CU_FUNC_ATTRIBUTE_* value (driver_cuda.h) of the kernel on the current
 * context's device: registers, static shared memory, local bytes ... */
tj_status drv_kernel_attribute(drv_kernel *k, int attribute, int *value);
const char *drv_kernel_name(const drv_kernel *k);

/* ---- launch ----------------------------------------------------------- */

/* How many clusters of `cluster` blocks of `block` threads with `smem`
 * bytes of dynamic shared memory can be resident at once on the current
 * context's device (cuOccupancyMaxActiveClusters: a cluster lives in one
 * GPC, so a GPC with an odd SM count leaves an SM idle for pairs). *out
 * is 0 when the driver cannot say (before CUDA 12.0). A persistent grid
 * of more clusters than this runs its last ones in a second wave. */
tj_status drv_kernel_max_clusters(drv_kernel *k, const unsigned block[3], unsigned smem,
                                  const unsigned cluster[3], int *out);

/* Launch `k` on `stream` (a CUstream or NULL) with `params` as
 * cuLaunchKernel takes them (an array of pointers, one to each argument).
 *
 * Dynamic shared memory: before the first launch that asks for more than
 * the kernel has been allowed on this device, its
 * CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES is raised to
 * `smem_bytes` (cuKernelSetAttribute on the current context's device, or
 * cuFuncSetAttribute for a module) and the new limit remembered, so the
 * usual launch costs one atomic load. This is done for any nonzero amount,
 * not only above 48 KB, because the default limit is 48 KB minus the
 * kernel's static shared memory. Launches up to the device's opt-in limit
 * (227 KB on H100/H200) work without the caller doing anything.
 *
 * A thread with no current context may launch on the NULL stream: the
 * driver's CUDA_ERROR_INVALID_CONTEXT is answered by making device 0's
 * primary context current and launching again (so that case costs one
 * failed call, once per thread, and shows in compute-sanitizer's log).
 *
 * `cluster` (NULL for none): thread-block cluster dimensions, given to
 * cuLaunchKernelEx as CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION; each must
 * divide the grid's. Without a cluster the launch is a plain
 * cuLaunchKernel. The stream's context must be the current one when the
 * shared-memory limit has to be raised (as for cudaFuncSetAttribute). */
tj_status drv_launch(drv_kernel *k, const unsigned grid[3],
                     const unsigned block[3], unsigned smem_bytes,
                     const unsigned cluster[3], void *stream, void **params);

/* ---- tensor maps (TMA, sm_90+) ------------------------------------------ */

/* A CUtensorMap: what a kernel takes as a __grid_constant__ parameter. */
typedef struct drv_tensor_map {
    _Alignas(128) uint64_t opaque[16];
} drv_tensor_map;

/* cuTensorMapEncodeTiled of a tensor of tilejit dtype `dtype` at device
 * address `addr`: dims[0..rank) and box[0..rank) innermost first,
 * strides[0..rank-1) the byte strides of dims 1..rank-1, swizzle 0, 32,
 * 64 or 128 bytes, l2_promotion 0, 64, 128 or 256 bytes, oob_nan 0 fills
 * out-of-bounds elements with zeros. Host-only (no context needed), and
 * allocation-free: launches call it. Errors name the rule broken (the
 * driver checks alignment: addr to 16 bytes, strides to 16 bytes). */
tj_status drv_tensor_map_encode(drv_tensor_map *out, int dtype, int rank, uint64_t addr,
                                const uint64_t *dims, const uint64_t *strides,
                                const uint32_t *box, int swizzle, int l2_promotion,
                                int oob_nan);

/* ---- memory, streams, events (tests and benchmarks) -------------------- */

/* All use the current context (drv_context_current on device 0 if none). */
tj_status drv_mem_alloc(size_t bytes, drv_ptr *out);
tj_status drv_mem_free(drv_ptr p);                          /* 0 is fine */
tj_status drv_mem_info(size_t *free_bytes, size_t *total_bytes);
tj_status drv_memcpy_htod(drv_ptr dst, const void *src, size_t bytes);
tj_status drv_memcpy_dtoh(void *dst, drv_ptr src, size_t bytes);
tj_status drv_memcpy_dtod(drv_ptr dst, drv_ptr src, size_t bytes);
tj_status drv_memcpy_htod_async(drv_ptr dst, const void *src, size_t bytes,
                                void *stream);
tj_status drv_memcpy_dtoh_async(void *dst, drv_ptr src, size_t bytes,
                                void *stream);
tj_status drv_memset_d8(drv_ptr dst, unsigned char value, size_t count);
tj_status drv_memset_d32(drv_ptr dst, unsigned value, size_t count);

/* A non-blocking stream (it does not synchronize with the NULL stream). */
tj_status drv_stream_create(void **stream);
tj_status drv_stream_destroy(void *stream);                /* NULL is fine */
tj_status drv_stream_sync(void *stream);

/* Timing events. */
tj_status drv_event_create(void **event);
tj_status drv_event_destroy(void *event);                  /* NULL is fine */
tj_status drv_event_record(void *event, void *stream);
tj_status drv_event_sync(void *event);
/* Milliseconds between two recorded, completed events. */
tj_status drv_event_elapsed_ms(void *start, void *end, float *ms);

#endif
