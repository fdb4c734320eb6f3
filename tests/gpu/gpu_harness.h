/*
 * gpu_harness.h — GPU test helpers on top of tests/harness.h.
 *
 *   TEST(test_x) {
 *       drv_device dev;
 *       GPU_REQUIRE_DEVICE(&dev);            // SKIPs with the reason if none
 *       drv_library *lib;
 *       GPU_BUILD(src, dev.arch, &lib);       // NVRTC -> cubin -> loaded; SKIPs
 *       gpu_buf x, y;                         //   when NVRTC is missing
 *       CHECK_OK(gpu_buf_random(&x, TJ_BF16, n, -1, 1));
 *       CHECK_OK(gpu_buf_poison(&y, TJ_F32, n));
 *       ... launch ...
 *       CHECK_OK(gpu_buf_download(&y));
 *       GPU_CHECK_CLOSE(&y, want, 1.0);       // want: n doubles (host reference)
 *   }
 *
 * Buffers keep a host copy (`host`, n elements of `dtype`): the random
 * contents uploaded, or what gpu_buf_download brought back. Random values
 * come from the harness RNG (seeded by TJ_TEST_SEED), so a failure
 * reproduces with the printed seed.
 *
 * Poison: outputs start as a NaN pattern of their dtype (f32 0x7FC0DEAD,
 * f16 0x7E5A, bf16 0x7FDA, fp8 e4m3/e5m2 0x7F, f64 0x7FF8DEADDEADDEAD) or,
 * for integers, bytes of 0x5A (bool: 0x5A, neither 0 nor 1), so an element
 * a kernel forgot to write never passes a comparison.
 *
 * Tolerance (gpu_compare), per element, with the reference `want` computed
 * in double on the host:
 *     |got - want| <= tol * (|want| + scale)
 * where tol is f32 1e-4, f16 5e-3, bf16 2e-2, fp8 e4m3 1e-1, fp8 e5m2
 * 2.5e-1 (its half-ulp alone is 12.5%), f64 1e-12, and 0 (exact) for
 * i32, i64 and bool. `scale` is the caller's magnitude floor: 1.0 for
 * elementwise results of O(1) inputs (relative above 1, absolute below);
 * a reduction over K terms passes its typical partial-sum size (e.g.
 * sqrt(K) for O(1) random inputs), so cancellation near zero is not
 * misread as error. A NaN reference needs a NaN; an infinite one the
 * same infinity; a NaN or infinity where the reference is finite fails.
 */
#ifndef TJ_GPU_HARNESS_H
#define TJ_GPU_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "ir.h"          /* tj_set_error */
#include "harness.h"
#include "nvrtc.h"

/* SKIP the test (with the driver's reason) when there is no usable device;
 * otherwise fill *dev (may be NULL) with device 0's description. */
#define GPU_REQUIRE_DEVICE(dev)                                              \
    do {                                                                     \
        const char *gpu_why_ = NULL;                                         \
        if (!drv_available(&gpu_why_)) SKIP("%s", gpu_why_);                 \
        drv_device *gpu_dev_ = (dev);                                        \
        if (gpu_dev_) CHECK_OK(drv_device_info(0, gpu_dev_));                \
    } while (0)

/* Compile CUDA C++ `src` for `arch` with NVRTC (in-process) and load the
 * cubin into *lib. SKIPs when NVRTC cannot be loaded or does not know the
 * arch; a compile error fails the test and prints the log. */
#define GPU_BUILD(src, arch, lib)                                            \
    do {                                                                     \
        char gpu_skip_[512];                                                 \
        int gpu_rc_ = gpu_build((src), (arch), (lib), gpu_skip_,             \
                                sizeof gpu_skip_);                           \
        if (gpu_rc_ == 77) SKIP("%.240s", gpu_skip_);                            \
        if (gpu_rc_ != 0) {                                                  \
            harness_failed_now = 1;                                          \
            return;                                                          \
        }                                                                    \
    } while (0)

/* 0 built, 77 skip (reason in `why`), 1 failed (printed). */
static inline int gpu_build(const char *src, const char *arch, drv_library **lib,
                            char *why, size_t whylen) {
    *lib = NULL;
    if (nvrtc_load() != TJ_OK) {
        snprintf(why, whylen, "NVRTC is not available: %s", tj_last_error());
        return 77;
    }
    if (!nvrtc_arch_supported(arch)) {
        const char *archs = "";
        nvrtc_supported_archs(&archs);
        snprintf(why, whylen, "this NVRTC cannot target %s (it knows: %s)", arch, archs);
        return 77;
    }
    nvrtc_request req;
    memset(&req, 0, sizeof req);
    req.source = src;
    req.name = "gpu_test.cu";
    req.arch = arch;
    nvrtc_result res;
    memset(&res, 0, sizeof res);
    tj_status s = nvrtc_compile(&req, &res);
    if (s != TJ_OK) {
        fprintf(stderr, "  nvrtc_compile(%s): %s: %s\n%s\n", arch, tj_status_name(s),
                tj_last_error(), res.log ? res.log : "");
        nvrtc_result_free(&res);
        return 1;
    }
    s = drv_library_load(res.cubin, res.cubin_size, lib);
    if (s != TJ_OK) fprintf(stderr, "  drv_library_load: %s\n", tj_last_error());
    nvrtc_result_free(&res);
    return s == TJ_OK ? 0 : 1;
}

/* Like gpu_build but hands back the cubin (malloc'd; caller frees). */
static inline int gpu_compile(const char *src, const char *arch, void **cubin, size_t *size,
                              char *why, size_t whylen) {
    *cubin = NULL;
    *size = 0;
    if (nvrtc_load() != TJ_OK) {
        snprintf(why, whylen, "NVRTC is not available: %s", tj_last_error());
        return 77;
    }
    if (!nvrtc_arch_supported(arch)) {
        snprintf(why, whylen, "this NVRTC cannot target %s", arch);
        return 77;
    }
    nvrtc_request req;
    memset(&req, 0, sizeof req);
    req.source = src;
    req.name = "gpu_test.cu";
    req.arch = arch;
    nvrtc_result res;
    memset(&res, 0, sizeof res);
    if (nvrtc_compile(&req, &res) != TJ_OK) {
        fprintf(stderr, "  nvrtc_compile(%s): %s\n%s\n", arch, tj_last_error(),
                res.log ? res.log : "");
        nvrtc_result_free(&res);
        return 1;
    }
    *cubin = res.cubin;
    *size = res.cubin_size;
    res.cubin = NULL;
    nvrtc_result_free(&res);
    return 0;
}

/* ---- buffers ------------------------------------------------------------ */

typedef struct gpu_buf {
    drv_ptr dev;       /* device memory: n elements of dtype */
    tj_dtype dtype;
    size_t n;
    void *host;        /* host copy (malloc'd) */
} gpu_buf;

static inline size_t gpu_buf_bytes(const gpu_buf *b) { return b->n * tj_dtype_size(b->dtype); }

static inline void gpu_buf_free(gpu_buf *b) {
    if (!b) return;
    drv_mem_free(b->dev);
    free(b->host);
    memset(b, 0, sizeof *b);
}

/* Device and host storage for n elements; host zeroed, device untouched. */
static inline tj_status gpu_buf_alloc(gpu_buf *b, tj_dtype dtype, size_t n) {
    memset(b, 0, sizeof *b);
    size_t esize = tj_dtype_size(dtype);
    if (!esize || n == 0)
        return tj_set_error(TJ_ERR_INVALID_ARG, "gpu_buf_alloc: bad dtype or n");
    b->dtype = dtype;
    b->n = n;
    b->host = calloc(n, esize);
    if (!b->host) return tj_set_error(TJ_ERR_NO_MEMORY, "gpu_buf_alloc: host");
    tj_status s = drv_mem_alloc(n * esize, &b->dev);
    if (s != TJ_OK) gpu_buf_free(b);
    return s;
}

static inline tj_status gpu_buf_upload(gpu_buf *b) {
    return drv_memcpy_htod(b->dev, b->host, gpu_buf_bytes(b));
}

static inline tj_status gpu_buf_download(gpu_buf *b) {
    return drv_memcpy_dtoh(b->host, b->dev, gpu_buf_bytes(b));
}

/* Random contents, uploaded: uniform in [lo, hi) for floating dtypes
 * (rounded to the dtype), integers in [lo, hi], bools 0/1. */
static inline tj_status gpu_buf_random(gpu_buf *b, tj_dtype dtype, size_t n, double lo,
                                       double hi) {
    tj_status s = gpu_buf_alloc(b, dtype, n);
    if (s != TJ_OK) return s;
    double *v = malloc(n * sizeof *v);
    if (!v) {
        gpu_buf_free(b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "gpu_buf_random");
    }
    int integral = dtype == TJ_I32 || dtype == TJ_I64 || dtype == TJ_BOOL;
    for (size_t i = 0; i < n; i++)
        v[i] = dtype == TJ_BOOL ? (double)harness_randint(0, 1)
               : integral       ? (double)harness_randint((int64_t)lo, (int64_t)hi)
                                : harness_uniform(lo, hi);
    s = tj_convert(dtype, b->host, TJ_F64, v, n);
    free(v);
    if (s == TJ_OK) s = gpu_buf_upload(b);
    if (s != TJ_OK) gpu_buf_free(b);
    return s;
}

/* Fill n elements starting at `p` with dtype's poison pattern. */
static inline void gpu_poison_fill(tj_dtype dtype, void *p, size_t n) {
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        switch (dtype) {
        case TJ_F32: { uint32_t w = 0x7FC0DEADu; memcpy(c + 4 * i, &w, 4); break; }
        case TJ_F16: { uint16_t w = 0x7E5Au; memcpy(c + 2 * i, &w, 2); break; }
        case TJ_BF16: { uint16_t w = 0x7FDAu; memcpy(c + 2 * i, &w, 2); break; }
        case TJ_F8E4M3: case TJ_F8E5M2: c[i] = 0x7F; break;
        case TJ_F64: { uint64_t w = 0x7FF8DEADDEADDEADull; memcpy(c + 8 * i, &w, 8); break; }
        default: memset(c + tj_dtype_size(dtype) * i, 0x5A, tj_dtype_size(dtype)); break;
        }
    }
}

/* An output buffer: poisoned on device and host. */
static inline tj_status gpu_buf_poison(gpu_buf *b, tj_dtype dtype, size_t n) {
    tj_status s = gpu_buf_alloc(b, dtype, n);
    if (s != TJ_OK) return s;
    gpu_poison_fill(dtype, b->host, n);
    s = gpu_buf_upload(b);
    if (s != TJ_OK) gpu_buf_free(b);
    return s;
}

/* Element i of the host copy as a double. */
static inline double gpu_buf_get(const gpu_buf *b, size_t i) {
    double d = 0;
    tj_convert(TJ_F64, &d, b->dtype, (const char *)b->host + i * tj_dtype_size(b->dtype), 1);
    return d;
}

/* ---- comparison --------------------------------------------------------- */

static inline double gpu_tolerance(tj_dtype dtype) {
    switch (dtype) {
    case TJ_F32: return 1e-4;
    case TJ_F16: return 5e-3;
    case TJ_BF16: return 2e-2;
    case TJ_F8E4M3: return 1e-1;
    case TJ_F8E5M2: return 2.5e-1;
    case TJ_F64: return 1e-12;
    default: return 0.0;
    }
}

typedef struct gpu_cmp {
    size_t bad;          /* elements out of tolerance */
    size_t first;        /* index of the first one */
    double got, want;    /* its values */
    double max_abs;      /* largest |got - want| over finite pairs */
    double max_rel;      /* largest |got - want| / (|want| + scale) */
    double tol;
} gpu_cmp;

/* Compare n elements of dtype at `got` (host) with the reference `want`
 * by the rule at the top of this file. */
static inline gpu_cmp gpu_compare(tj_dtype dtype, const void *got, const double *want,
                                  size_t n, double scale) {
    gpu_cmp r;
    memset(&r, 0, sizeof r);
    r.tol = gpu_tolerance(dtype);
    size_t esize = tj_dtype_size(dtype);
    for (size_t i = 0; i < n; i++) {
        double g = 0, w = want[i];
        tj_convert(TJ_F64, &g, dtype, (const char *)got + i * esize, 1);
        int ok;
        if (isnan(w)) {
            ok = isnan(g);
        } else if (isinf(w) || !isfinite(g)) {
            ok = g == w;
        } else {
            double d = fabs(g - w), rel = d / (fabs(w) + scale);
            if (d > r.max_abs) r.max_abs = d;
            if (rel > r.max_rel) r.max_rel = rel;
            ok = d <= r.tol * (fabs(w) + scale);
        }
        if (!ok && r.bad++ == 0) {
            r.first = i;
            r.got = g;
            r.want = w;
        }
    }
    return r;
}

/* CHECK that buffer `b`'s host copy matches `want` (n = b->n doubles). */
#define GPU_CHECK_CLOSE(b, want, scale)                                      \
    do {                                                                     \
        gpu_cmp gpu_c_ = gpu_compare((b)->dtype, (b)->host, (want), (b)->n,  \
                                     (scale));                               \
        CHECKF(gpu_c_.bad == 0,                                              \
               "%zu of %zu %s elements off (tol %g, scale %g); first at "    \
               "[%zu]: got %.9g, want %.9g; max abs err %.3g, max rel %.3g", \
               gpu_c_.bad, (b)->n, tj_dtype_name((b)->dtype), gpu_c_.tol,    \
               (double)(scale), gpu_c_.first, gpu_c_.got, gpu_c_.want,       \
               gpu_c_.max_abs, gpu_c_.max_rel);                              \
    } while (0)

#endif
