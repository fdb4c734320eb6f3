/*
 * driver.c — libcuda through dlopen: loading, devices, contexts, code,
 * launches, and small memory/stream/event wrappers. See driver.h.
 *
 * Process-wide state (each documented cache behind one lock):
 *  - the loaded entry-point table: filled once under load_lock, then
 *    published through an atomic pointer and never changed or freed (a
 *    launch on another thread may be using it);
 *  - the primary contexts tilejit retained, one per device, under ctx_lock;
 *  - each kernel's raised shared-memory limit per device: atomics, raised
 *    under attr_lock.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "driver_cuda.h"
#include "ir.h"

#define DRV_MAX_DEVICES 64

typedef struct drv_api {
#define DRV_FIELD(api, sym, ret, params) ret(*api) params;
    DRV_CU_REQUIRED(DRV_FIELD)
    DRV_CU_OPTIONAL(DRV_FIELD)
    DRV_CU_ELAPSED(DRV_FIELD)
#undef DRV_FIELD
    void *handle;
    char path[1024];
    int version;
    int ndevices;
    int has_library;
    drv_cu_device devices[DRV_MAX_DEVICES];
} drv_api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static drv_api load_table;                    /* written under load_lock */
static _Atomic(const drv_api *) loaded;       /* &load_table once usable */
static int load_failed;                       /* under load_lock */
static char load_message[2048];               /* under load_lock */
static char path_override[1024];              /* under load_lock */
static int have_override;                     /* under load_lock */

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static drv_cu_context primary[DRV_MAX_DEVICES];   /* under ctx_lock */

static pthread_mutex_t attr_lock = PTHREAD_MUTEX_INITIALIZER;

struct drv_kernel {
    drv_library *lib;
    void *handle;     /* CUkernel (library) or CUfunction (module) */
    /* The dynamic shared-memory limit this kernel was raised to on each
     * device (a module has one context, so only slot 0); 0: never. */
    _Atomic unsigned smem_limit[DRV_MAX_DEVICES];
    struct drv_kernel *next;
    char name[];
};

struct drv_library {
    int is_module;
    drv_cu_library library;
    drv_cu_module module;
    pthread_mutex_t lock;     /* guards `kernels` */
    drv_kernel *kernels;
};

/* ---- errors ---------------------------------------------------------- */

/* Names for the codes tilejit can meet before the driver can name them
 * (a stub libcuda fails cuGetErrorName too). */
static const char *fallback_name(drv_cu_result r) {
#define N(x) case DRV_CUDA_ERROR_##x: return "CUDA_ERROR_" #x;
    switch (r) {
    N(INVALID_VALUE) N(OUT_OF_MEMORY) N(NOT_INITIALIZED) N(DEINITIALIZED) N(STUB_LIBRARY)
    N(CALL_REQUIRES_NEWER_DRIVER) N(DEVICE_UNAVAILABLE) N(NO_DEVICE) N(INVALID_DEVICE)
    N(SYSTEM_DRIVER_MISMATCH) N(COMPAT_NOT_SUPPORTED_ON_DEVICE) N(UNKNOWN)
    default: return NULL;
    }
#undef N
}

/* Set tj_last_error to "<call>: <NAME> (<description>)". */
static tj_status cu_fail(const drv_api *a, drv_cu_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tj_status cu_fail(const drv_api *a, drv_cu_result r, const char *fmt, ...) {
    char call[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call, sizeof call, fmt, ap);
    va_end(ap);
    const char *name = NULL, *desc = NULL;
    if (a->cuGetErrorName && (a->cuGetErrorName(r, &name) != 0 || !name)) name = NULL;
    if (a->cuGetErrorString && (a->cuGetErrorString(r, &desc) != 0 || !desc)) desc = NULL;
    if (!name) name = fallback_name(r);
    if (!desc && r == DRV_CUDA_ERROR_STUB_LIBRARY)
        desc = "this is the toolkit's stub libcuda, not an NVIDIA driver";
    if (name)
        return tj_set_error(TJ_ERR_DRIVER, "%s: %s (%s)", call, name,
                            desc ? desc : "no description");
    return tj_set_error(TJ_ERR_DRIVER, "%s: CUresult %d (%s)", call, (int)r,
                        desc ? desc : "no description");
}

/* Evaluate a driver call on `a`; on failure return its TJ_ERR_DRIVER. */
#define CU_CALL(a, call, ...)                                                 \
    do {                                                                      \
        drv_cu_result cu_r_ = (a)->call;                                      \
        if (cu_r_ != DRV_CUDA_SUCCESS) return cu_fail((a), cu_r_, __VA_ARGS__); \
    } while (0)

/* ---- loading --------------------------------------------------------- */

static tj_status load_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static tj_status load_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(load_message, sizeof load_message, fmt, ap);
    va_end(ap);
    load_failed = 1;
    return tj_set_error(TJ_ERR_DRIVER, "%s", load_message);
}

/* Resolve every entry point of the freshly opened `a->handle`. */
static tj_status load_symbols(drv_api *a) {
#define DRV_REQUIRE(api, sym, ret, params)                                      \
    *(void **)&a->api = dlsym(a->handle, sym);                                \
    if (!a->api)                                                              \
        return load_fail("no CUDA device: %s has no %s (not a CUDA driver, "   \
                         "or one too old)", a->path, sym);
    DRV_CU_REQUIRED(DRV_REQUIRE)
#undef DRV_REQUIRE
#define DRV_OPTIONAL(api, sym, ret, params) *(void **)&a->api = dlsym(a->handle, sym);
    DRV_CU_OPTIONAL(DRV_OPTIONAL)
    DRV_CU_ELAPSED(DRV_OPTIONAL)
#undef DRV_OPTIONAL
    if (!a->cuEventElapsedTime)
        *(void **)&a->cuEventElapsedTime = dlsym(a->handle, DRV_CU_ELAPSED_LEGACY_SYMBOL);
    if (!a->cuEventElapsedTime)
        return load_fail("no CUDA device: %s has no cuEventElapsedTime", a->path);
    a->has_library = a->cuLibraryLoadData && a->cuLibraryGetKernel && a->cuLibraryUnload &&
                     a->cuKernelGetFunction && a->cuKernelGetAttribute &&
                     a->cuKernelSetAttribute;
    return TJ_OK;
}

/* Open the library: the override alone, or the usual sonames. */
static tj_status load_open(drv_api *a) {
    const char *env = getenv("TILEJIT_LIBCUDA");
    const char *only = have_override ? path_override : (env && *env ? env : NULL);
    static const char *const sonames[] = {"libcuda.so.1", "libcuda.so"};
    char first[1024] = "";
    for (int i = 0; i < (only ? 1 : 2); i++) {
        const char *name = only ? only : sonames[i];
        a->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (a->handle) {
            snprintf(a->path, sizeof a->path, "%s", name);
            return TJ_OK;
        }
        const char *err = dlerror();
        /* dlerror names the file; the first one says enough. */
        if (i == 0) snprintf(first, sizeof first, "%s", err ? err : name);
    }
    if (only)
        return load_fail("no CUDA device: the CUDA driver library could not be loaded (%s)",
                         first);
    return load_fail("no CUDA device: the CUDA driver library could not be loaded (%s; also "
                     "tried libcuda.so); set TILEJIT_LIBCUDA to its path if it is elsewhere",
                     first);
}

static tj_status load_locked(void) {
    drv_api *a = &load_table;
    memset(a, 0, sizeof *a);
    tj_status s = load_open(a);
    if (s != TJ_OK) return s;
    s = load_symbols(a);
    /* Name the file the loader actually picked, for messages and reports. */
    Dl_info info;
    if (a->cuInit && dladdr(*(void **)&a->cuInit, &info) && info.dli_fname)
        snprintf(a->path, sizeof a->path, "%s", info.dli_fname);
    if (s == TJ_OK) {
        drv_cu_result r = a->cuInit(0);
        if (r != DRV_CUDA_SUCCESS) {
            cu_fail(a, r, "cuInit");
            s = load_fail("no CUDA device: %s (driver library %s)", tj_last_error(), a->path);
        }
    }
    if (s == TJ_OK) {
        drv_cu_result r = a->cuDriverGetVersion(&a->version);
        if (r == DRV_CUDA_SUCCESS) r = a->cuDeviceGetCount(&a->ndevices);
        if (r != DRV_CUDA_SUCCESS) {
            cu_fail(a, r, "cuDeviceGetCount");
            s = load_fail("no CUDA device: %s (driver library %s)", tj_last_error(), a->path);
        } else if (a->ndevices <= 0) {
            s = load_fail("no CUDA device: the driver (%s, CUDA %d.%d) sees no device", a->path,
                          a->version / 1000, a->version % 1000 / 10);
        }
    }
    if (s == TJ_OK && a->ndevices > DRV_MAX_DEVICES) a->ndevices = DRV_MAX_DEVICES;
    for (int i = 0; s == TJ_OK && i < a->ndevices; i++) {
        drv_cu_result r = a->cuDeviceGet(&a->devices[i], i);
        if (r != DRV_CUDA_SUCCESS) {
            cu_fail(a, r, "cuDeviceGet(%d)", i);
            s = load_fail("no CUDA device: %s", tj_last_error());
        }
    }
    if (s != TJ_OK) {
        dlclose(a->handle);
        memset(a, 0, sizeof *a);
        return s;
    }
    atomic_store_explicit(&loaded, a, memory_order_release);
    return TJ_OK;
}

tj_status drv_load(void) {
    if (atomic_load_explicit(&loaded, memory_order_acquire)) return TJ_OK;
    pthread_mutex_lock(&load_lock);
    tj_status s;
    if (atomic_load_explicit(&loaded, memory_order_relaxed))
        s = TJ_OK;
    else if (load_failed)
        s = tj_set_error(TJ_ERR_DRIVER, "%s", load_message);
    else
        s = load_locked();
    pthread_mutex_unlock(&load_lock);
    return s;
}

tj_status drv_set_path(const char *path) {
    if (path && (!*path || strlen(path) >= sizeof path_override))
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_set_path: the path is %s",
                            *path ? "too long" : "empty");
    pthread_mutex_lock(&load_lock);
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_relaxed);
    if (a) {
        pthread_mutex_unlock(&load_lock);
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "drv_set_path: the CUDA driver is already loaded from %s "
                            "and stays loaded", a->path);
    }
    have_override = path != NULL;
    snprintf(path_override, sizeof path_override, "%s", path ? path : "");
    load_failed = 0;
    load_message[0] = '\0';
    pthread_mutex_unlock(&load_lock);
    return TJ_OK;
}

/* The loaded table, loading it first if needed. */
static tj_status api_get(const drv_api **out) {
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_acquire);
    if (!a) {
        tj_status s = drv_load();
        if (s != TJ_OK) return s;
        a = atomic_load_explicit(&loaded, memory_order_acquire);
    }
    *out = a;
    return TJ_OK;
}

int drv_available(const char **why) {
    if (drv_load() == TJ_OK) {
        if (why) *why = "";
        return 1;
    }
    /* load_message is only rewritten after drv_set_path clears it. */
    if (why) *why = load_message;
    return 0;
}

tj_status drv_library_path(const char **out) {
    const drv_api *a;
    tj_status s = api_get(&a);
    if (s == TJ_OK && out) *out = a->path;
    return s;
}

tj_status drv_driver_version(int *version) {
    const drv_api *a;
    tj_status s = api_get(&a);
    if (s == TJ_OK && version) *version = a->version;
    return s;
}

tj_status drv_device_count(int *count) {
    const drv_api *a;
    tj_status s = api_get(&a);
    if (s == TJ_OK && count) *count = a->ndevices;
    return s;
}

int drv_has_library_api(void) {
    const drv_api *a;
    return api_get(&a) == TJ_OK && a->has_library;
}

/* ---- devices ----------------------------------------------------------- */

tj_status drv_arch_name(int cc_major, int cc_minor, char *buf, size_t size) {
    if (!buf || cc_major < 1 || cc_major > 99 || cc_minor < 0 || cc_minor > 9)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "drv_arch_name: no compute capability %d.%d", cc_major, cc_minor);
    /* From Hopper on, every compute capability has an arch-specific target
     * ("a") exposing its full instruction set (wgmma, tcgen05, setmaxnreg). */
    int n = snprintf(buf, size, "sm_%d%d%s", cc_major, cc_minor, cc_major >= 9 ? "a" : "");
    if (n < 0 || (size_t)n >= size)
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_arch_name: buffer of %zu bytes too small",
                            size);
    return TJ_OK;
}

static tj_status check_ordinal(const drv_api *a, int ordinal, const char *what) {
    if (ordinal < 0 || ordinal >= a->ndevices)
        return tj_set_error(TJ_ERR_INVALID_ARG, "%s: no CUDA device %d (there %s %d)", what,
                            ordinal, a->ndevices == 1 ? "is" : "are", a->ndevices);
    return TJ_OK;
}

tj_status drv_device_info(int ordinal, drv_device *out) {
    const drv_api *a;
    tj_status s = api_get(&a);
    if (s != TJ_OK) return s;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_device_info: out is NULL");
    if ((s = check_ordinal(a, ordinal, "drv_device_info")) != TJ_OK) return s;
    drv_cu_device d = a->devices[ordinal];
    memset(out, 0, sizeof *out);
    out->ordinal = ordinal;
    CU_CALL(a, cuDeviceGetName(out->name, (int)sizeof out->name, d), "cuDeviceGetName(%d)",
            ordinal);
    static const struct { int attr; size_t offset; const char *name; } attrs[] = {
#define A(attr, field) {DRV_CU_DEVICE_ATTRIBUTE_##attr, offsetof(drv_device, field), #attr}
        A(COMPUTE_CAPABILITY_MAJOR, cc_major),
        A(COMPUTE_CAPABILITY_MINOR, cc_minor),
        A(MULTIPROCESSOR_COUNT, sm_count),
        A(MAX_THREADS_PER_BLOCK, max_threads_per_block),
        A(MAX_THREADS_PER_MULTIPROCESSOR, max_threads_per_sm),
        A(MAX_REGISTERS_PER_MULTIPROCESSOR, regs_per_sm),
        A(MAX_SHARED_MEMORY_PER_BLOCK, smem_per_block),
        A(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, smem_per_block_optin),
        A(MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, smem_per_sm),
        A(L2_CACHE_SIZE, l2_bytes),
        A(CLUSTER_LAUNCH, cluster_launch),
#undef A
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        int *field = (int *)((char *)out + attrs[i].offset);
        CU_CALL(a, cuDeviceGetAttribute(field, attrs[i].attr, d),
                "cuDeviceGetAttribute(CU_DEVICE_ATTRIBUTE_%s, device %d)", attrs[i].name,
                ordinal);
    }
    CU_CALL(a, cuDeviceTotalMem(&out->memory_bytes, d), "cuDeviceTotalMem(%d)", ordinal);
    return drv_arch_name(out->cc_major, out->cc_minor, out->arch, sizeof out->arch);
}

/* ---- contexts ---------------------------------------------------------- */

/* The current context, else device `ordinal`'s primary one made current. */
static tj_status ensure_context(const drv_api *a, int ordinal, drv_cu_context *out) {
    drv_cu_context c = NULL;
    CU_CALL(a, cuCtxGetCurrent(&c), "cuCtxGetCurrent");
    if (!c) {
        tj_status s = check_ordinal(a, ordinal, "drv_context_current");
        if (s != TJ_OK) return s;
        pthread_mutex_lock(&ctx_lock);
        drv_cu_result r = DRV_CUDA_SUCCESS;
        if (!primary[ordinal]) r = a->cuDevicePrimaryCtxRetain(&primary[ordinal],
                                                               a->devices[ordinal]);
        c = primary[ordinal];
        pthread_mutex_unlock(&ctx_lock);
        if (r != DRV_CUDA_SUCCESS)
            return cu_fail(a, r, "cuDevicePrimaryCtxRetain(device %d)", ordinal);
        CU_CALL(a, cuCtxSetCurrent(c), "cuCtxSetCurrent(primary context of device %d)",
                ordinal);
    }
    if (out) *out = c;
    return TJ_OK;
}

/* Loaded table plus a current context (device 0's primary if none). */
static tj_status api_ctx(const drv_api **out) {
    tj_status s = api_get(out);
    return s != TJ_OK ? s : ensure_context(*out, 0, NULL);
}

tj_status drv_context_current(int ordinal, void **ctx) {
    const drv_api *a;
    tj_status s = api_get(&a);
    if (s != TJ_OK) return s;
    drv_cu_context c;
    if ((s = ensure_context(a, ordinal, &c)) != TJ_OK) return s;
    if (ctx) *ctx = c;
    return TJ_OK;
}

/* Ordinal of the current context's device. */
static tj_status current_ordinal(const drv_api *a, int *ordinal) {
    drv_cu_device d;
    CU_CALL(a, cuCtxGetDevice(&d), "cuCtxGetDevice");
    for (int i = 0; i < a->ndevices; i++)
        if (a->devices[i] == d) {
            *ordinal = i;
            return TJ_OK;
        }
    return tj_set_error(TJ_ERR_DRIVER, "cuCtxGetDevice: device handle %d is not among the %d "
                        "devices tilejit enumerated", (int)d, a->ndevices);
}

tj_status drv_context_device(int *ordinal) {
    const drv_api *a;
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    if (!ordinal) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_context_device: NULL");
    return current_ordinal(a, ordinal);
}

tj_status drv_context_sync(void) {
    const drv_api *a;
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    CU_CALL(a, cuCtxSynchronize(), "cuCtxSynchronize");
    return TJ_OK;
}

/* ---- code -------------------------------------------------------------- */

static tj_status library_new(drv_library **out) {
    drv_library *lib = calloc(1, sizeof *lib);
    if (!lib) return tj_set_error(TJ_ERR_NO_MEMORY, "drv_library_load: out of memory");
    if (pthread_mutex_init(&lib->lock, NULL) != 0) {
        free(lib);
        return tj_set_error(TJ_ERR_NO_MEMORY, "drv_library_load: cannot create a mutex");
    }
    *out = lib;
    return TJ_OK;
}

static void library_free(drv_library *lib) {
    for (drv_kernel *k = lib->kernels, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    pthread_mutex_destroy(&lib->lock);
    free(lib);
}

tj_status drv_library_load_module(const void *image, size_t size, drv_library **out) {
    const drv_api *a;
    tj_status s = drv_image_check(image, size, "drv_library_load_module");
    if (s != TJ_OK) return s;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_library_load_module: out is NULL");
    if ((s = api_ctx(&a)) != TJ_OK) return s;
    drv_library *lib;
    if ((s = library_new(&lib)) != TJ_OK) return s;
    lib->is_module = 1;
    drv_cu_result r = a->cuModuleLoadData(&lib->module, image);
    if (r != DRV_CUDA_SUCCESS) {
        library_free(lib);
        return cu_fail(a, r, "cuModuleLoadData(%zu bytes)", size);
    }
    *out = lib;
    return TJ_OK;
}

tj_status drv_library_load(const void *image, size_t size, drv_library **out) {
    const drv_api *a;
    tj_status s = drv_image_check(image, size, "drv_library_load");
    if (s != TJ_OK) return s;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_library_load: out is NULL");
    if ((s = api_get(&a)) != TJ_OK) return s;
    /* Drivers before CUDA 12.0 have no cuLibrary*: a module in the current
     * context does the same job for that context only. */
    if (!a->has_library) return drv_library_load_module(image, size, out);
    drv_library *lib;
    if ((s = library_new(&lib)) != TJ_OK) return s;
    drv_cu_result r = a->cuLibraryLoadData(&lib->library, image, NULL, NULL, 0, NULL, NULL, 0);
    if (r != DRV_CUDA_SUCCESS) {
        library_free(lib);
        return cu_fail(a, r, "cuLibraryLoadData(%zu bytes)", size);
    }
    *out = lib;
    return TJ_OK;
}

tj_status drv_library_unload(drv_library *lib) {
    if (!lib) return TJ_OK;
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_acquire);
    drv_cu_result r = lib->is_module ? a->cuModuleUnload(lib->module)
                                     : a->cuLibraryUnload(lib->library);
    int is_module = lib->is_module;
    library_free(lib);
    if (r != DRV_CUDA_SUCCESS)
        return cu_fail(a, r, "%s", is_module ? "cuModuleUnload" : "cuLibraryUnload");
    return TJ_OK;
}

tj_status drv_library_get_kernel(drv_library *lib, const char *name, drv_kernel **out) {
    if (!lib || !name || !*name || !out)
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_library_get_kernel: %s",
                            !lib ? "library is NULL" : !out ? "out is NULL" : "no name");
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_acquire);
    tj_status s = TJ_OK;
    pthread_mutex_lock(&lib->lock);
    drv_kernel *k = lib->kernels;
    while (k && strcmp(k->name, name) != 0) k = k->next;
    if (!k) {
        void *handle = NULL;
        drv_cu_result r;
        if (lib->is_module) {
            drv_cu_function f = NULL;
            r = a->cuModuleGetFunction(&f, lib->module, name);
            handle = f;
        } else {
            drv_cu_kernel kern = NULL;
            r = a->cuLibraryGetKernel(&kern, lib->library, name);
            handle = kern;
        }
        size_t len = strlen(name);
        if (r != DRV_CUDA_SUCCESS) {
            s = cu_fail(a, r, "%s(\"%s\")%s",
                        lib->is_module ? "cuModuleGetFunction" : "cuLibraryGetKernel", name,
                        r == DRV_CUDA_ERROR_NOT_FOUND ? " (is it declared extern \"C\"?)" : "");
        } else if (!(k = calloc(1, sizeof *k + len + 1))) {
            s = tj_set_error(TJ_ERR_NO_MEMORY, "drv_library_get_kernel: out of memory");
        } else {
            k->lib = lib;
            k->handle = handle;
            for (int i = 0; i < DRV_MAX_DEVICES; i++) atomic_init(&k->smem_limit[i], 0u);
            memcpy(k->name, name, len + 1);
            k->next = lib->kernels;
            lib->kernels = k;
        }
    }
    pthread_mutex_unlock(&lib->lock);
    if (s == TJ_OK) *out = k;
    return s;
}

const char *drv_kernel_name(const drv_kernel *k) { return k ? k->name : ""; }

tj_status drv_kernel_function(drv_kernel *k, void **fn) {
    const drv_api *a;
    if (!k || !fn) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_kernel_function: NULL");
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    if (k->lib->is_module) {
        *fn = k->handle;
        return TJ_OK;
    }
    drv_cu_function f = NULL;
    CU_CALL(a, cuKernelGetFunction(&f, (drv_cu_kernel)k->handle), "cuKernelGetFunction(%s)",
            k->name);
    *fn = f;
    return TJ_OK;
}

tj_status drv_kernel_attribute(drv_kernel *k, int attribute, int *value) {
    const drv_api *a;
    if (!k || !value) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_kernel_attribute: NULL");
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    if (k->lib->is_module) {
        CU_CALL(a, cuFuncGetAttribute(value, attribute, (drv_cu_function)k->handle),
                "cuFuncGetAttribute(%s, attribute %d)", k->name, attribute);
        return TJ_OK;
    }
    int ordinal;
    if ((s = current_ordinal(a, &ordinal)) != TJ_OK) return s;
    CU_CALL(a, cuKernelGetAttribute(value, attribute, (drv_cu_kernel)k->handle,
                                    a->devices[ordinal]),
            "cuKernelGetAttribute(%s, attribute %d, device %d)", k->name, attribute, ordinal);
    return TJ_OK;
}

/* ---- launch ------------------------------------------------------------ */

/* Raise k's dynamic shared-memory limit on device `slot` to `smem`. Done
 * for any dynamic amount, not only above 48 KB: the default limit is 48 KB
 * minus the kernel's static shared memory, so a smaller request can need
 * it too. Once per kernel, device and new maximum. */
static tj_status raise_smem(const drv_api *a, drv_kernel *k, int slot, unsigned smem) {
    tj_status s = TJ_OK;
    pthread_mutex_lock(&attr_lock);
    if (atomic_load_explicit(&k->smem_limit[slot], memory_order_relaxed) < smem) {
        drv_cu_result r =
            k->lib->is_module
                ? a->cuFuncSetAttribute((drv_cu_function)k->handle,
                                        DRV_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                        (int)smem)
                : a->cuKernelSetAttribute(DRV_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                          (int)smem, (drv_cu_kernel)k->handle,
                                          a->devices[slot]);
        if (r == DRV_CUDA_SUCCESS) {
            atomic_store_explicit(&k->smem_limit[slot], smem, memory_order_release);
        } else {
            int optin = 0;
            a->cuDeviceGetAttribute(&optin, DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                    a->devices[slot]);
            s = cu_fail(a, r,
                        "%s(%s, MAX_DYNAMIC_SHARED_SIZE_BYTES = %u) on device %d, which allows "
                        "%d bytes of shared memory per block, static included",
                        k->lib->is_module ? "cuFuncSetAttribute" : "cuKernelSetAttribute",
                        k->name, smem, slot, optin);
        }
    }
    pthread_mutex_unlock(&attr_lock);
    return s;
}

/* A launch in clusters as cuLaunchKernelEx and the occupancy query take
 * it; cfg points at attr. */
static void cluster_config(drv_cu_launch_config *cfg, drv_cu_launch_attribute *attr,
                           const unsigned grid[3], const unsigned block[3], unsigned smem,
                           const unsigned cluster[3], void *stream) {
    memset(attr, 0, sizeof *attr);
    attr->id = DRV_CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr->value.clusterDim.x = cluster[0];
    attr->value.clusterDim.y = cluster[1];
    attr->value.clusterDim.z = cluster[2];
    memset(cfg, 0, sizeof *cfg);
    cfg->gridDimX = grid[0];
    cfg->gridDimY = grid[1];
    cfg->gridDimZ = grid[2];
    cfg->blockDimX = block[0];
    cfg->blockDimY = block[1];
    cfg->blockDimZ = block[2];
    cfg->sharedMemBytes = smem;
    cfg->hStream = (drv_cu_stream)stream;
    cfg->attrs = attr;
    cfg->numAttrs = 1;
}

/* k may use `smem` bytes of dynamic shared memory on the current device
 * (the per-kernel limit raised once, remembered per device). */
static tj_status allow_smem(const drv_api *a, drv_kernel *k, unsigned smem) {
    tj_status s;
    int slot = 0;
    if (!k->lib->is_module && a->ndevices > 1) {
        if ((s = ensure_context(a, 0, NULL)) != TJ_OK) return s;
        if ((s = current_ordinal(a, &slot)) != TJ_OK) return s;
    }
    if (smem > atomic_load_explicit(&k->smem_limit[slot], memory_order_acquire) &&
        (s = raise_smem(a, k, slot, smem)) != TJ_OK)
        return s;
    return TJ_OK;
}

static drv_cu_result launch_once(const drv_api *a, drv_kernel *k, const unsigned grid[3],
                                 const unsigned block[3], unsigned smem,
                                 const unsigned cluster[3], void *stream, void **params) {
    /* A CUkernel passed as a CUfunction launches in the stream's context
     * (the current one for the NULL stream): documented since CUDA 12.0. */
    drv_cu_function f = (drv_cu_function)k->handle;
    if (!cluster)
        return a->cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                 smem, (drv_cu_stream)stream, params, NULL);
    drv_cu_launch_attribute attr;
    drv_cu_launch_config cfg;
    cluster_config(&cfg, &attr, grid, block, smem, cluster, stream);
    return a->cuLaunchKernelEx(&cfg, f, params, NULL);
}

static int tmap_dtype(int dtype) {
    switch (dtype) {
    case TJ_F32: return DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    case TJ_F16: return DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    case TJ_BF16: return DRV_CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    case TJ_F64: return DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT64;
    case TJ_I32: return DRV_CU_TENSOR_MAP_DATA_TYPE_INT32;
    case TJ_I64: return DRV_CU_TENSOR_MAP_DATA_TYPE_INT64;
    case TJ_BOOL: case TJ_F8E4M3: case TJ_F8E5M2:
        return DRV_CU_TENSOR_MAP_DATA_TYPE_UINT8;
    default: return -1;
    }
}

tj_status drv_tensor_map_encode(drv_tensor_map *out, int dtype, int rank, uint64_t addr,
                                const uint64_t *dims, const uint64_t *strides,
                                const uint32_t *box, int swizzle, int l2_promotion,
                                int oob_nan) {
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_acquire);
    if (!a) {
        tj_status s = drv_load();
        if (s != TJ_OK) return s;
        a = atomic_load_explicit(&loaded, memory_order_acquire);
    }
    if (!a->cuTensorMapEncodeTiled)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "tensor maps need cuTensorMapEncodeTiled "
                            "(CUDA 12.0+); %s lacks it", a->path);
    int dt = tmap_dtype(dtype);
    int sw = swizzle == 0 ? DRV_CU_TENSOR_MAP_SWIZZLE_NONE : swizzle == 32 ? DRV_CU_TENSOR_MAP_SWIZZLE_32B
           : swizzle == 64 ? DRV_CU_TENSOR_MAP_SWIZZLE_64B : swizzle == 128 ? DRV_CU_TENSOR_MAP_SWIZZLE_128B : -1;
    int l2 = l2_promotion == 0 ? DRV_CU_TENSOR_MAP_L2_PROMOTION_NONE
           : l2_promotion == 64 ? DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_64B
           : l2_promotion == 128 ? DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_128B
           : l2_promotion == 256 ? DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_256B : -1;
    if (!out || dt < 0 || sw < 0 || l2 < 0 || rank < 1 || rank > 5 || !dims || !box ||
        (rank > 1 && !strides))
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_tensor_map_encode: bad argument (dtype %s, "
                            "rank %d, swizzle %d, l2 promotion %d)", tj_dtype_name((tj_dtype)dtype),
                            rank, swizzle, l2_promotion);
    uint32_t ones[5] = {1, 1, 1, 1, 1};
    drv_cu_result r = a->cuTensorMapEncodeTiled(
        (drv_cu_tensor_map *)out, dt, (unsigned)rank, (void *)(uintptr_t)addr, dims,
        rank > 1 ? strides : NULL, box, ones, DRV_CU_TENSOR_MAP_INTERLEAVE_NONE, sw, l2,
        oob_nan ? DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA
                : DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != DRV_CUDA_SUCCESS) {
        char d[160] = "";
        size_t used = 0;
        for (int i = 0; i < rank && used < sizeof d; i++)
            used += (size_t)snprintf(d + used, sizeof d - used, "%sdim %llu box %u stride %llu",
                                     i ? ", " : "", (unsigned long long)dims[i], box[i],
                                     (unsigned long long)(i ? strides[i - 1] : tj_dtype_size((tj_dtype)dtype)));
        return cu_fail(a, r, "cuTensorMapEncodeTiled(%s at 0x%llx: %s; swizzle %d; the address "
                       "and every stride must be multiples of 16 bytes)",
                       tj_dtype_name((tj_dtype)dtype), (unsigned long long)addr, d, swizzle);
    }
    return TJ_OK;
}

tj_status drv_kernel_max_clusters(drv_kernel *k, const unsigned block[3], unsigned smem,
                                  const unsigned cluster[3], int *out) {
    const drv_api *a;
    if (!k || !block || !cluster || !out)
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_kernel_max_clusters: NULL");
    *out = 0;
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    if (!a->cuOccupancyMaxActiveClusters) return TJ_OK;
    /* the query needs the launch's shared memory allowed first */
    if ((s = allow_smem(a, k, smem)) != TJ_OK) return s;
    void *fn = NULL;
    if ((s = drv_kernel_function(k, &fn)) != TJ_OK) return s;
    drv_cu_launch_attribute attr;
    drv_cu_launch_config cfg;
    cluster_config(&cfg, &attr, cluster, block, smem, cluster, NULL);   /* one cluster's grid */
    CU_CALL(a, cuOccupancyMaxActiveClusters(out, (drv_cu_function)fn, &cfg),
            "cuOccupancyMaxActiveClusters(%s, block %u, smem %u, cluster %ux%ux%u)", k->name,
            block[0] * block[1] * block[2], smem, cluster[0], cluster[1], cluster[2]);
    return TJ_OK;
}

tj_status drv_launch(drv_kernel *k, const unsigned grid[3], const unsigned block[3],
                     unsigned smem_bytes, const unsigned cluster[3], void *stream,
                     void **params) {
    const drv_api *a = atomic_load_explicit(&loaded, memory_order_acquire);
    if (!k || !grid || !block || !a)
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_launch: %s",
                            !k ? "kernel is NULL" : !a ? "the driver is not loaded"
                                                       : "grid or block is NULL");
    for (int i = 0; i < 3; i++) {
        if (!grid[i] || !block[i])
            return tj_set_error(TJ_ERR_INVALID_ARG, "drv_launch(%s): grid %ux%ux%u, block "
                                "%ux%ux%u has a zero", k->name, grid[0], grid[1], grid[2],
                                block[0], block[1], block[2]);
        if (cluster && (!cluster[i] || grid[i] % cluster[i] != 0))
            return tj_set_error(TJ_ERR_INVALID_ARG, "drv_launch(%s): cluster %ux%ux%u does not "
                                "divide grid %ux%ux%u", k->name, cluster[0], cluster[1],
                                cluster[2], grid[0], grid[1], grid[2]);
    }
    if (cluster && !a->cuLaunchKernelEx)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "drv_launch(%s): clusters need "
                            "cuLaunchKernelEx (CUDA 12.0+); %s lacks it", k->name, a->path);
    if (smem_bytes > (unsigned)INT32_MAX)
        return tj_set_error(TJ_ERR_INVALID_ARG, "drv_launch(%s): %u bytes of shared memory",
                            k->name, smem_bytes);
    tj_status s;
    if (smem_bytes && (s = allow_smem(a, k, smem_bytes)) != TJ_OK) return s;
    drv_cu_result r = launch_once(a, k, grid, block, smem_bytes, cluster, stream, params);
    if (r == DRV_CUDA_ERROR_INVALID_CONTEXT) {
        /* No context yet on this thread: take device 0's primary, once. */
        drv_cu_context c = NULL;
        if (a->cuCtxGetCurrent(&c) == DRV_CUDA_SUCCESS && !c &&
            ensure_context(a, 0, NULL) == TJ_OK)
            r = launch_once(a, k, grid, block, smem_bytes, cluster, stream, params);
    }
    if (r != DRV_CUDA_SUCCESS) {
        char cl[48] = "";
        if (cluster) snprintf(cl, sizeof cl, ", cluster %ux%ux%u", cluster[0], cluster[1],
                              cluster[2]);
        return cu_fail(a, r, "%s(%s, grid %ux%ux%u, block %ux%ux%u, smem %u%s)",
                       cluster ? "cuLaunchKernelEx" : "cuLaunchKernel", k->name, grid[0],
                       grid[1], grid[2], block[0], block[1], block[2], smem_bytes, cl);
    }
    return TJ_OK;
}

/* ---- memory, streams, events -------------------------------------------- */

#define DRV_WRAP(sig, call, ...)                                               \
    tj_status sig {                                                            \
        const drv_api *a;                                                      \
        tj_status s = api_ctx(&a);                                             \
        if (s != TJ_OK) return s;                                              \
        CU_CALL(a, call, __VA_ARGS__);                                         \
        return TJ_OK;                                                          \
    }

tj_status drv_mem_alloc(size_t bytes, drv_ptr *out) {
    const drv_api *a;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "drv_mem_alloc: out is NULL");
    *out = 0;
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    drv_cu_deviceptr p = 0;
    CU_CALL(a, cuMemAlloc(&p, bytes), "cuMemAlloc(%zu bytes)", bytes);
    *out = p;
    return TJ_OK;
}

tj_status drv_mem_free(drv_ptr p) {
    if (!p) return TJ_OK;
    const drv_api *a;
    tj_status s = api_ctx(&a);
    if (s != TJ_OK) return s;
    CU_CALL(a, cuMemFree(p), "cuMemFree(0x%llx)", p);
    return TJ_OK;
}

DRV_WRAP(drv_mem_info(size_t *free_bytes, size_t *total_bytes),
         cuMemGetInfo(free_bytes, total_bytes), "cuMemGetInfo")
DRV_WRAP(drv_memcpy_htod(drv_ptr dst, const void *src, size_t bytes),
         cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD(%zu bytes)", bytes)
DRV_WRAP(drv_memcpy_dtoh(void *dst, drv_ptr src, size_t bytes),
         cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH(%zu bytes)", bytes)
DRV_WRAP(drv_memcpy_dtod(drv_ptr dst, drv_ptr src, size_t bytes),
         cuMemcpyDtoD(dst, src, bytes), "cuMemcpyDtoD(%zu bytes)", bytes)
DRV_WRAP(drv_memcpy_htod_async(drv_ptr dst, const void *src, size_t bytes, void *stream),
         cuMemcpyHtoDAsync(dst, src, bytes, (drv_cu_stream)stream),
         "cuMemcpyHtoDAsync(%zu bytes)", bytes)
DRV_WRAP(drv_memcpy_dtoh_async(void *dst, drv_ptr src, size_t bytes, void *stream),
         cuMemcpyDtoHAsync(dst, src, bytes, (drv_cu_stream)stream),
         "cuMemcpyDtoHAsync(%zu bytes)", bytes)
DRV_WRAP(drv_memset_d8(drv_ptr dst, unsigned char value, size_t count),
         cuMemsetD8(dst, value, count), "cuMemsetD8(%zu bytes)", count)
DRV_WRAP(drv_memset_d32(drv_ptr dst, unsigned value, size_t count),
         cuMemsetD32(dst, value, count), "cuMemsetD32(%zu words)", count)
DRV_WRAP(drv_stream_sync(void *stream), cuStreamSynchronize((drv_cu_stream)stream),
         "cuStreamSynchronize")
DRV_WRAP(drv_event_record(void *event, void *stream),
         cuEventRecord((drv_cu_event)event, (drv_cu_stream)stream), "cuEventRecord")
DRV_WRAP(drv_event_sync(void *event), cuEventSynchronize((drv_cu_event)event),
         "cuEventSynchronize")
DRV_WRAP(drv_event_elapsed_ms(void *start, void *end, float *ms),
         cuEventElapsedTime(ms, (drv_cu_event)start, (drv_cu_event)end), "cuEventElapsedTime")

/* Create a stream or event: (*create)(&handle, flags). */
#define DRV_CREATE(fn, type, call, flags)                                      \
    tj_status fn(void **out) {                                                 \
        const drv_api *a;                                                      \
        if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, #fn ": NULL");       \
        tj_status s = api_ctx(&a);                                             \
        if (s != TJ_OK) return s;                                              \
        type h = NULL;                                                         \
        CU_CALL(a, call(&h, flags), #call);                                    \
        *out = h;                                                              \
        return TJ_OK;                                                          \
    }
/* Destroy one; NULL is fine. */
#define DRV_DESTROY(fn, type, call)                                            \
    tj_status fn(void *h) {                                                    \
        const drv_api *a;                                                      \
        if (!h) return TJ_OK;                                                  \
        tj_status s = api_ctx(&a);                                             \
        if (s != TJ_OK) return s;                                              \
        CU_CALL(a, call((type)h), #call);                                      \
        return TJ_OK;                                                          \
    }
DRV_CREATE(drv_stream_create, drv_cu_stream, cuStreamCreate, DRV_CU_STREAM_NON_BLOCKING)
DRV_CREATE(drv_event_create, drv_cu_event, cuEventCreate, DRV_CU_EVENT_DEFAULT)
DRV_DESTROY(drv_stream_destroy, drv_cu_stream, cuStreamDestroy)
DRV_DESTROY(drv_event_destroy, drv_cu_event, cuEventDestroy)
