/*
 * baseline.c — the generic path's performance baseline (issue 3), next to
 * the peers measured in the same process: cuBLAS (loaded with dlopen) for
 * GEMM and the device-to-device copy bandwidth for memory-bound graphs.
 * Attention's peer (torch SDPA) is measured by bench/peer_torch.py in the
 * same device call.
 *
 *   bench_baseline [--quick] [--json FILE] [--commit SHA]
 *
 * Prints one row per case and writes JSON lines (format in shared/GPU.md).
 * Timing: CUDA events around each launch, 3 warm-up runs, median of R.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "driver.h"

static int quick;

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", tj_last_error()); exit(1); } while (0)

#include "bench_util.h"

/* ---- a compiled recipe -------------------------------------------- */

typedef struct kernel_case {
    tj_graph *g;
    int64_t vals[16];
    drv_kernel *k;
    drv_library *lib;
    emit_launch L;
    drv_ptr bufs[16];
    double scalars[8];
    unsigned grid[3];
    union { drv_ptr d; float f; int i; long long l; } args[EMIT_MAX_PARAMS];
    void *params[EMIT_MAX_PARAMS];
    size_t bytes_moved;     /* tensor bytes read + written once */
    double compile_ms;
} kernel_case;

static void kernel_run(void *ctx) {
    kernel_case *c = ctx;
    unsigned block[3] = {(unsigned)c->L.threads, 1, 1};
    if (drv_launch(c->k, c->grid, block, (unsigned)c->L.smem_bytes, NULL, NULL, c->params) != TJ_OK)
        DIE("launch %s", c->L.kernel);
}

static void kernel_setup(kernel_case *c, const char *recipe, int np, const char *const *params,
                         const char *const *binds, int nb) {
    memset(c, 0, sizeof *c);
    if (tj_recipe_build(recipe, np, params, &c->g) != TJ_OK) DIE("recipe %s", recipe);
    for (int s = 0; s < tj_num_symbols(c->g); s++) c->vals[s] = TJ_UNBOUND;
    for (int b = 0; b < nb; b++)
        if (tj_bind_parse(c->g, binds[b], c->vals) != TJ_OK) DIE("bind %s", binds[b]);
    drv_device dev;
    drv_device_info(0, &dev);
    void *cubin;
    size_t size;
    char *log = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (compile_graph_as(c->g, dev.arch, c->vals, "generic", 0, &cubin, &size, &log, &c->L) != TJ_OK)
        DIE("compile %s\n%s", recipe, log ? log : "");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c->compile_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    tj_free(log);
    if (drv_library_load(cubin, size, &c->lib) != TJ_OK ||
        drv_library_get_kernel(c->lib, c->L.kernel, &c->k) != TJ_OK)
        DIE("load %s", recipe);
    tj_free(cubin);
    for (int t = 0; t < tj_num_tensors(c->g); t++) {
        int64_t n;
        tj_dtype dt = tj_tensor_dtype(c->g, (tj_tensor){t});
        tj_tensor_extent(c->g, (tj_tensor){t}, c->vals, &n);
        c->bufs[t] = device_random(dt, (size_t)n);
        c->bytes_moved += (size_t)n * tj_dtype_size(dt);
    }
    for (int i = 0; i < tj_num_scalars(c->g); i++) c->scalars[i] = i == 0 ? 0.088 : 1e-5;
    for (int p = 0; p < c->L.nparams; p++) {
        const emit_param *ep = &c->L.params[p];
        if (ep->kind == EMIT_PARAM_TENSOR) c->args[p].d = c->bufs[ep->index];
        else if (ep->kind == EMIT_PARAM_SYMBOL) c->args[p].i = (int)c->vals[ep->index];
        else if (ep->ctype == EMIT_C_F32) c->args[p].f = (float)c->scalars[ep->index];
        else c->args[p].i = (int)c->scalars[ep->index];
        c->params[p] = &c->args[p];
    }
    int64_t g64[3];
    if (tj_graph_grid(c->g, c->vals, g64) != TJ_OK) DIE("grid");
    for (int i = 0; i < 3; i++) c->grid[i] = (unsigned)g64[i];
}

static void kernel_free(kernel_case *c) {
    for (int t = 0; t < tj_num_tensors(c->g); t++) drv_mem_free(c->bufs[t]);
    drv_library_unload(c->lib);
    tj_graph_free(c->g);
}

/* ---- peers ---------------------------------------------------------- */

typedef struct copy_case { drv_ptr src, dst; size_t bytes; } copy_case;
static void copy_run(void *ctx) {
    copy_case *c = ctx;
    drv_memcpy_dtod(c->dst, c->src, c->bytes);
}

typedef int (*cublas_create_fn)(void **);
typedef int (*cublas_gemm_ex_fn)(void *, int, int, int, int, int, const void *, const void *,
                                 int, int, const void *, int, int, const void *, void *, int,
                                 int, int, int);
typedef struct cublas_case {
    void *handle;
    cublas_gemm_ex_fn gemm;
    drv_ptr a, b, c;
    int m, n, k;
} cublas_case;

static void cublas_run(void *ctx) {
    cublas_case *c = ctx;
    float one = 1.0f, zero = 0.0f;
    /* Row-major C = A·B is column-major C^T = B^T·A^T. 14: CUDA_R_16BF,
     * 68: CUBLAS_COMPUTE_32F, -1: CUBLAS_GEMM_DEFAULT. */
    int r = c->gemm(c->handle, 0, 0, c->n, c->m, c->k, &one, (void *)c->b, 14, c->n, (void *)c->a,
                    14, c->k, &zero, (void *)c->c, 14, c->n, 68, -1);
    if (r) { fprintf(stderr, "cublasGemmEx: status %d\n", r); exit(1); }
}

static int cublas_open(cublas_case *c) {
    const char *names[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12",
                           "/usr/local/cuda/lib64/libcublas.so"};
    void *h = NULL;
    for (unsigned i = 0; i < sizeof names / sizeof names[0] && !h; i++) h = dlopen(names[i], RTLD_NOW);
    if (!h) return 0;
    cublas_create_fn create = (cublas_create_fn)dlsym(h, "cublasCreate_v2");
    c->gemm = (cublas_gemm_ex_fn)dlsym(h, "cublasGemmEx");
    return create && c->gemm && create(&c->handle) == 0;
}

/* ---- output ----------------------------------------------------------- */

static FILE *json;
static const char *commit = "unknown";
static char devname[256];

static void row(const char *cas, double ours, const char *peer, double peer_value,
                const char *unit, double extra_ms) {
    double ratio = peer_value > 0 ? ours / peer_value : 0;
    printf("%-28s %10.1f %-8s %-10s %10.1f  ratio %.3f  (compile %.0f ms)\n", cas, ours, unit, peer,
           peer_value, ratio, extra_ms);
    if (json) {
        time_t now = time(NULL);
        char date[16];
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
        fprintf(json,
                "{\"case\": \"%s\", \"ours\": %.2f, \"peer\": \"%s\", \"peer_value\": %.2f, "
                "\"ratio\": %.4f, \"unit\": \"%s\", \"path\": \"generic\", \"device\": \"%s\", "
                "\"date\": \"%s\", \"commit\": \"%s\"}\n",
                cas, ours, peer, peer_value, ratio, unit, devname, date, commit);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = fopen(argv[++i], "w");
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
    }
    const char *why = NULL;
    if (!drv_available(&why)) {
        printf("no GPU: %s\n", why ? why : "");
        return 0;
    }
    drv_device dev;
    drv_device_info(0, &dev);
    snprintf(devname, sizeof devname, "%s", dev.name);
    printf("device %s (%s), %d SMs\n", dev.name, dev.arch, dev.sm_count);
    int reps = quick ? 5 : 20;

    /* Copy bandwidth: 512 MiB read + 512 MiB written. */
    copy_case cp = {0, 0, (size_t)512 << 20};
    cp.src = device_random(TJ_BF16, cp.bytes / 2);
    drv_mem_alloc(cp.bytes, &cp.dst);
    double copy_gbs = 2.0 * (double)cp.bytes / (time_median(copy_run, &cp, reps) * 1e-3) / 1e9;
    printf("%-28s %10.1f GB/s\n", "device copy", copy_gbs);
    drv_mem_free(cp.src);
    drv_mem_free(cp.dst);

    /* GEMM 4096^3 bf16 against cuBLAS on the same inputs. */
    {
        kernel_case k;
        const char *params[] = {"dtype=bf16"};
        const char *binds[] = {"M=4096", "N=4096", "K=4096"};
        kernel_setup(&k, "gemm", 1, params, binds, 3);
        double flop = 2.0 * 4096.0 * 4096.0 * 4096.0;
        double ours = flop / (time_median(kernel_run, &k, quick ? 3 : 10) * 1e-3) / 1e12;
        cublas_case cb = {0};
        double peer = 0;
        if (cublas_open(&cb)) {
            cb.a = k.bufs[0]; cb.b = k.bufs[1]; cb.c = k.bufs[2];
            cb.m = cb.n = cb.k = 4096;
            peer = flop / (time_median(cublas_run, &cb, reps) * 1e-3) / 1e12;
        }
        row("gemm 4096x4096x4096 bf16", ours, "cublas", peer, "TFLOP/s", k.compile_ms);
        kernel_free(&k);
    }

    /* Attention forward, d=128, N=4096, 16k tokens (batch 4), 16 heads. */
    {
        kernel_case k;
        const char *params[] = {"d=128", "hq=16", "hkv=16", "dtype=bf16"};
        const char *binds[] = {"batch=4", "seq=4096"};
        kernel_setup(&k, "attention", 4, params, binds, 2);
        double flop = 4.0 * 4 * 16 * 4096.0 * 4096.0 * 128;
        double ours = flop / (time_median(kernel_run, &k, quick ? 2 : 5) * 1e-3) / 1e12;
        row("attention d128 N4096 b4 h16", ours, "sdpa", 0, "TFLOP/s", k.compile_ms);
        kernel_free(&k);
    }

    /* Memory-bound: 512 MiB of bf16 input, 8192 columns. */
    const char *mb[] = {"rmsnorm", "softmax"};
    for (int r = 0; r < 2; r++) {
        kernel_case k;
        const char *params[] = {"dtype=bf16"};
        const char *binds[] = {"rows=32768", "cols=8192"};
        kernel_setup(&k, mb[r], 1, params, binds, 2);
        double gbs = (double)k.bytes_moved / (time_median(kernel_run, &k, reps) * 1e-3) / 1e9;
        char cas[64];
        snprintf(cas, sizeof cas, "%s 32768x8192 bf16", mb[r]);
        row(cas, gbs, "copy", copy_gbs, "GB/s", k.compile_ms);
        kernel_free(&k);
    }
    if (json) fclose(json);
    return 0;
}
