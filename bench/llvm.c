/*
 * llvm.c — the LLVM back end against NVRTC (issue 9), same graph, same
 * machine, both the generic lowering:
 *
 *  - compile time per recipe (no GPU needed): graph -> cubin through
 *    LLVM (IR, O3, NVPTX) + nvJitLink, and through NVRTC, in this process,
 *    median of --reps runs (target: LLVM <= 1/3 of NVRTC's);
 *  - kernel time per recipe on a GPU (target: within 10% of NVRTC's): the
 *    GPU machine has no LLVM, so the PTX is made where LLVM is
 *    (--write-ptx DIR) and carried; there (--kernel DIR) each recipe runs
 *    through tj_kernel twice, once from the carried PTX (nvJitLink) and
 *    once from NVRTC, the two interleaved, median of CUDA-event times.
 *
 *   bench_llvm [--compile] [--write-ptx DIR] [--kernel DIR] [--reps N]
 *              [--json FILE] [--commit SHA] [--arch A]
 *
 * Prints one row per case; --json writes the rows as JSON lines (format in
 * shared/GPU.md): "compile <recipe>" (unit ms) and "kernel <recipe>"
 * (unit us); ratio = NVRTC's / LLVM's, so higher is better for LLVM.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "compile.h"
#include "driver.h"
#include "emit_ptx.h"
#include "jitlink.h"
#include "kernel_int.h"

static const char *commit = "unknown", *arch = "sm_90a";
static int reps = 3;
static FILE *json;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void json_row(const char *cas, double ours, double peer, const char *unit,
                     const char *device, const char *extra) {
    if (!json) return;
    time_t t = time(NULL);
    char date[16];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
    fprintf(json,
            "{\"case\": \"%s\", \"ours\": %.4g, \"peer\": \"nvrtc\", \"peer_value\": %.4g, "
            "\"ratio\": %.4g, \"unit\": \"%s\", \"device\": \"%s\", \"date\": \"%s\", "
            "\"commit\": \"%s\"%s}\n",
            cas, ours, peer, peer / ours, unit, device, date, commit, extra ? extra : "");
    fflush(json);
}

/* Bindings per recipe: sequence-like symbols 2048, batch and heads 4,
 * each rounded up to what the symbol's divisibility allows. */
static void bind(const tj_graph *g, int64_t *vals) {
    for (int s = 0; s < tj_num_symbols(g); s++) {
        const char *name = tj_symbol_name(g, (tj_sym){s});
        int64_t v = (strstr(name, "batch") || strstr(name, "head")) ? 4 : 2048;
        char b[128];
        for (;; v++) {
            snprintf(b, sizeof b, "%s=%lld", name, (long long)v);
            if (tj_bind_parse(g, b, vals) == TJ_OK) break;
        }
    }
}

static void cpu_name(char *out, size_t size) {
    snprintf(out, size, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(out, size, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
}

/* ---- compile time ---------------------------------------------------------- */

static int bench_compile(void) {
    if (!emit_ptx_available()) {
        fprintf(stderr, "bench_llvm: built without LLVM: no compile comparison\n");
        return 1;
    }
    char dev[200];
    cpu_name(dev, sizeof dev);
    printf("%-16s %12s %12s %8s %s\n", "compile", "llvm ms", "nvrtc ms", "ratio",
           "(llvm: build+O3+ptx / nvJitLink)");
    for (int r = 0; r < tj_recipe_count(); r++) {
        const char *name = tj_recipe_get(r)->name;
        tj_graph *g = NULL;
        if (tj_recipe_build(name, 0, NULL, &g) != TJ_OK) continue;
        int64_t vals[16], spec[16];
        bind(g, vals);
        cache_specialize(g, vals, spec);
        double tl[16], tn[16], phase[3] = {0, 0, 0};
        int ok = 1;
        for (int k = 0; k < reps && k < 16 && ok; k++) {
            for (int which = 0; which < 2; which++) {   /* interleaved */
                void *img = NULL;
                size_t size = 0;
                double t0 = now_ms();
                tj_status st = compile_graph_as(g, arch, spec, "generic",
                                                which ? 0 : TJ_COMPILE_BACKEND_LLVM, &img, &size,
                                                NULL, NULL);
                double t = now_ms() - t0;
                if (st != TJ_OK) {
                    fprintf(stderr, "  %s (%s): %s\n", name, which ? "nvrtc" : "llvm", tj_last_error());
                    ok = 0;
                }
                (which ? tn : tl)[k] = t;
                if (!which) {
                    emit_ptx_times pt;
                    emit_ptx_last_times(&pt);
                    phase[0] += pt.build * 1e3 / reps;
                    phase[1] += pt.optimize * 1e3 / reps;
                    phase[2] += pt.codegen * 1e3 / reps;
                }
                free(img);
            }
        }
        if (ok) {
            int n = reps < 16 ? reps : 16;
            double ml = median(tl, n), mn = median(tn, n);
            printf("%-16s %12.1f %12.1f %8.2f (build %.1f, O3 %.1f, ptx %.1f, link %.1f)\n", name,
                   ml, mn, mn / ml, phase[0], phase[1], phase[2],
                   ml - phase[0] - phase[1] - phase[2]);
            char cas[96], extra[200];
            snprintf(cas, sizeof cas, "compile %s", name);
            snprintf(extra, sizeof extra, ", \"arch\": \"%s\", \"target_ratio\": 3.0, \"llvm_phases_ms\": [%.2f, %.2f, %.2f]",
                     arch, phase[0], phase[1], phase[2]);
            json_row(cas, ml, mn, "ms", dev, extra);
        }
        tj_graph_free(g);
    }
    return 0;
}

/* ---- PTX for the GPU machine ------------------------------------------------ */

static int write_ptx(const char *dir) {
    for (int r = 0; r < tj_recipe_count(); r++) {
        const char *name = tj_recipe_get(r)->name;
        tj_graph *g = NULL;
        if (tj_recipe_build(name, 0, NULL, &g) != TJ_OK) continue;
        int64_t vals[16], spec[16];
        bind(g, vals);
        cache_specialize(g, vals, spec);
        char *ptx = NULL, path[1024];
        if (emit_ptx(g, arch, spec, NULL, &ptx, NULL) != TJ_OK) {
            fprintf(stderr, "bench_llvm: %s: %s\n", name, tj_last_error());
            tj_graph_free(g);
            return 1;
        }
        snprintf(path, sizeof path, "%s/bench-%s.ptx", dir, name);
        FILE *f = fopen(path, "w");
        if (!f || fputs(ptx, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "bench_llvm: cannot write %s\n", path);
            free(ptx);
            return 1;
        }
        printf("wrote %s\n", path);
        free(ptx);
        tj_graph_free(g);
    }
    return 0;
}

/* ---- kernel time ------------------------------------------------------------- */

typedef struct ptx_src {
    char *ptx;
} ptx_src;

static tj_status from_ptx(void *user, const tj_graph *g, const char *a, const int64_t *spec,
                          void **img, size_t *size, emit_launch *L) {
    ptx_src *p = user;
    char *src = NULL;
    tj_status st = emit_kernel(g, a, spec, "generic", &src, L);
    free(src);
    if (st != TJ_OK) return st;
    if (jitlink_load() == TJ_OK) return jitlink_ptx_to_cubin(p->ptx, a, img, size, NULL);
    *size = strlen(p->ptx) + 1;
    *img = malloc(*size);
    if (!*img) return TJ_ERR_NO_MEMORY;
    memcpy(*img, p->ptx, *size);
    return TJ_OK;
}
static tj_status from_nvrtc(void *user, const tj_graph *g, const char *a, const int64_t *spec,
                            void **img, size_t *size, emit_launch *L) {
    (void)user;
    return compile_graph_as(g, a, spec, "generic", 0, img, size, NULL, L);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = '\0';
    fclose(f);
    return b;
}

/* Median time of one launch (us), CUDA events around each. */
static tj_status time_kernel(tj_kernel *k, const uint64_t *ptrs, const double *scalars,
                             const int64_t *vals, void *e0, void *e1, int n, double *out) {
    double t[64];
    for (int i = 0; i < n + 3 && i < 67; i++) {
        tj_status st;
        if ((st = drv_event_record(e0, NULL)) != TJ_OK ||
            (st = tj_kernel_launch(k, ptrs, scalars, vals, NULL)) != TJ_OK ||
            (st = drv_event_record(e1, NULL)) != TJ_OK || (st = drv_event_sync(e1)) != TJ_OK)
            return st;
        float ms = 0;
        if ((st = drv_event_elapsed_ms(e0, e1, &ms)) != TJ_OK) return st;
        if (i >= 3) t[i - 3] = ms * 1e3;   /* the first launches compile and warm up */
    }
    *out = median(t, n);
    return TJ_OK;
}

static int bench_kernel(const char *dir) {
    const char *why = NULL;
    if (!drv_available(&why)) {
        fprintf(stderr, "bench_llvm: no GPU: %s\n", why ? why : "");
        return 1;
    }
    drv_device dev;
    void *ctx = NULL, *e0 = NULL, *e1 = NULL;
    if (drv_device_info(0, &dev) != TJ_OK || drv_context_current(0, &ctx) != TJ_OK ||
        drv_event_create(&e0) != TJ_OK || drv_event_create(&e1) != TJ_OK) {
        fprintf(stderr, "bench_llvm: %s\n", tj_last_error());
        return 1;
    }
    arch = dev.arch;
    printf("%-16s %12s %12s %8s   (%s, jitlink %s)\n", "kernel", "llvm us", "nvrtc us", "ratio",
           dev.name, jitlink_load() == TJ_OK ? "yes" : "no: driver JIT");
    int rc = 0;
    for (int r = 0; r < tj_recipe_count(); r++) {
        const char *name = tj_recipe_get(r)->name;
        char path[1024];
        snprintf(path, sizeof path, "%s/bench-%s.ptx", dir, name);
        ptx_src src = {slurp(path)};
        tj_graph *g = NULL;
        if (!src.ptx || tj_recipe_build(name, 0, NULL, &g) != TJ_OK) {
            fprintf(stderr, "  %s: no %s\n", name, path);
            free(src.ptx);
            continue;
        }
        int64_t vals[16];
        bind(g, vals);
        int nt = tj_num_tensors(g);
        uint64_t ptrs[64] = {0};
        drv_ptr mem[64] = {0};
        double scalars[64];
        for (int i = 0; i < 64; i++) scalars[i] = 1.0;
        tj_kernel *k[2] = {NULL, NULL};
        int ok = nt <= 64;
        for (int t = 0; t < nt && ok; t++) {
            tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
            int64_t n = 0;
            ok = tj_tensor_extent(g, (tj_tensor){t}, vals, &n) == TJ_OK;
            size_t bytes = (size_t)n * tj_dtype_size(dt);
            float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
            void *hb = malloc(bytes ? bytes : 1);
            for (int64_t i = 0; h && i < n; i++) h[i] = (float)((double)((i * 2654435761u) % 1000) / 1000.0 - 0.5);
            if (h && hb) tj_convert(dt, hb, TJ_F32, h, (size_t)n);
            ok = ok && h && hb && drv_mem_alloc(bytes ? bytes : 16, &mem[t]) == TJ_OK &&
                 drv_memcpy_htod(mem[t], hb, bytes) == TJ_OK;
            ptrs[t] = mem[t];
            free(h);
            free(hb);
        }
        kernel_test_hooks h[2] = {{from_ptx, NULL, NULL, &src}, {from_nvrtc, NULL, NULL, NULL}};
        for (int w = 0; w < 2 && ok; w++) {
            tj_kernel_options o = {NULL, 0, ""};
            ok = tj_kernel_create(g, &o, &k[w]) == TJ_OK;
            if (ok) kernel_set_test_hooks(k[w], &h[w]);
        }
        double tl[5], tn[5];
        for (int round = 0; round < 5 && ok; round++)   /* interleaved rounds */
            ok = time_kernel(k[0], ptrs, scalars, vals, e0, e1, 20, &tl[round]) == TJ_OK &&
                 time_kernel(k[1], ptrs, scalars, vals, e0, e1, 20, &tn[round]) == TJ_OK;
        if (ok) {
            double ml = median(tl, 5), mn = median(tn, 5);
            printf("%-16s %12.1f %12.1f %8.3f\n", name, ml, mn, mn / ml);
            char cas[96], extra[160];
            snprintf(cas, sizeof cas, "kernel %s", name);
            snprintf(extra, sizeof extra, ", \"arch\": \"%s\", \"schedule\": \"generic\", \"target_ratio\": 0.9", arch);
            json_row(cas, ml, mn, "us", dev.name, extra);
        } else {
            fprintf(stderr, "  %s: %s\n", name, tj_last_error());
            rc = 1;
        }
        for (int w = 0; w < 2; w++) tj_kernel_destroy(k[w]);
        for (int t = 0; t < nt && t < 64; t++) drv_mem_free(mem[t]);
        free(src.ptx);
        tj_graph_free(g);
    }
    drv_event_destroy(e0);
    drv_event_destroy(e1);
    return rc;
}

int main(int argc, char **argv) {
    const char *ptx_out = NULL, *kernel_dir = NULL, *json_path = NULL;
    int compile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--compile")) compile = 1;
        else if (!strcmp(argv[i], "--write-ptx") && i + 1 < argc) ptx_out = argv[++i];
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) kernel_dir = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else {
            fprintf(stderr, "usage: bench_llvm [--compile] [--write-ptx DIR] [--kernel DIR] "
                            "[--reps N] [--json FILE] [--commit SHA] [--arch A]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (!ptx_out && !kernel_dir) compile = 1;
    if (json_path && !(json = fopen(json_path, "w"))) {
        fprintf(stderr, "bench_llvm: cannot write %s\n", json_path);
        return 1;
    }
    int rc = 0;
    if (ptx_out) rc |= write_ptx(ptx_out);
    if (compile) rc |= bench_compile();
    if (kernel_dir) rc |= bench_kernel(kernel_dir);
    if (json) fclose(json);
    return rc;
}
