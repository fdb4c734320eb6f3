/*
 * The LLVM back end on a GPU: every recipe and the random graphs of
 * test_gpu_kernels.c, as PTX that LLVM made on another machine (the GPU
 * machine has no LLVM), linked here by nvJitLink (or, without it, handed
 * to the driver as PTX) and launched through tj_kernel, each compared with
 * the CPU interpreter on fresh random inputs, outputs poisoned first.
 *
 * The cases come from `TJ_PTX_CASES_DIR=DIR build/tests/test_emit_ptx` on
 * a machine with LLVM (docs/cli.md): DIR/NNNN.tj, .case, .ptx (sm_90a).
 * This test reads $TJ_PTX_CASES_DIR, else build/ptx-cases under the
 * source root. Skips without a device, without cases, or on an arch other
 * than sm_90a.
 */
#include <math.h>

#include "cache.h"
#include "driver.h"
#include "emit.h"
#include "harness.h"
#include "jitlink.h"
#include "kernel_int.h"

static double max_err[TJ_DTYPE_COUNT];
static int cases_run, linked_by_jitlink;

static const char *cases_dir(void) {
    const char *d = getenv("TJ_PTX_CASES_DIR");
    return d && *d ? d : TJ_SOURCE_ROOT "/build/ptx-cases";
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = buf ? (size_t)n : 0;
    return buf;
}

typedef struct ptx_case {
    char what[256];
    double rtol;
    int64_t vals[64];
    char *ptx;
} ptx_case;

/* The compile hook: the carried PTX for this specialization. */
static tj_status ptx_compile(void *user, const tj_graph *g, const char *arch,
                             const int64_t *spec, void **image, size_t *size, emit_launch *L) {
    ptx_case *c = user;
    int64_t want[64];
    cache_specialize(g, c->vals, want);
    for (int s = 0; s < tj_num_symbols(g); s++)
        if (want[s] != spec[s])
            return tj_set_error(TJ_ERR_INTERNAL, "the carried PTX is for other symbol values");
    /* The launch is the generic path's (test_emit_ptx.c checks they agree). */
    char *src = NULL;
    tj_status st = emit_kernel(g, arch, spec, "generic", &src, L);
    free(src);
    if (st != TJ_OK) return st;
    if (jitlink_load() == TJ_OK) {
        char *log = NULL;
        st = jitlink_ptx_to_cubin(c->ptx, arch, image, size, &log);
        if (st != TJ_OK && log) fprintf(stderr, "%s\n", log);
        free(log);
        linked_by_jitlink += st == TJ_OK;
        return st;
    }
    *size = strlen(c->ptx) + 1;
    *image = malloc(*size);
    if (!*image) return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory");
    memcpy(*image, c->ptx, *size);
    return TJ_OK;
}

static void fill_random(tj_dtype dt, void *buf, int64_t n) {
    float *f = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        double u = harness_uniform(-1.0, 1.0);
        if (dt == TJ_I32 || dt == TJ_I64) u = (double)harness_randint(0, 7);
        if (dt == TJ_BOOL) u = (double)harness_randint(0, 1);
        if (u == 0.0 && dt != TJ_BOOL && dt != TJ_I32 && dt != TJ_I64) u = 0.5;
        f[i] = (float)u;
    }
    tj_convert(dt, buf, TJ_F32, f, (size_t)n);
    free(f);
}

static int compare(const tj_graph *g, int t, const void *got, const void *want, int64_t n,
                   double rtol, const char *what) {
    tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        float fa, fb;
        tj_convert(TJ_F32, &fa, dt, (const char *)got + i * (int64_t)tj_dtype_size(dt), 1);
        tj_convert(TJ_F32, &fb, dt, (const char *)want + i * (int64_t)tj_dtype_size(dt), 1);
        double a = fa, b = fb;
        if (isnan(a) && isnan(b)) continue;
        if (isinf(b) && a == b) continue;
        double err = fabs(a - b) / (fabs(b) + 1.0);
        if (!(err <= rtol)) {
            fprintf(stderr, "  %s: tensor %s[%lld] = %.6g, interpreter %.6g (rtol %.3g)\n", what,
                    tj_tensor_name(g, (tj_tensor){t}), (long long)i, a, b, rtol);
            return 0;
        }
        if (err > worst) worst = err;
    }
    if (worst > max_err[dt]) max_err[dt] = worst;
    return 1;
}

/* One case through tj_kernel and the interpreter. */
static int run_case(const tj_graph *g, ptx_case *c) {
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) {
        fprintf(stderr, "  %s: create: %s\n", c->what, tj_last_error());
        return 0;
    }
    kernel_test_hooks h = {ptx_compile, NULL, NULL, c};
    kernel_set_test_hooks(k, &h);
    int ok = 0, nt = tj_num_tensors(g), stored[64] = {0};
    void *host[64] = {0};
    drv_ptr dev[64] = {0};
    int64_t elems[64];
    uint64_t ptrs[64];
    double scalars[64];
    char *text = NULL;
    if (nt > 64 || tj_graph_print(g, &text) != TJ_OK) goto done;
    for (int t = 0; t < nt; t++) {
        char pat[128];
        snprintf(pat, sizeof pat, "store %s ", tj_tensor_name(g, (tj_tensor){t}));
        stored[t] = strstr(text, pat) != NULL;
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        if (tj_tensor_extent(g, (tj_tensor){t}, c->vals, &elems[t]) != TJ_OK) goto done;
        size_t bytes = (size_t)elems[t] * tj_dtype_size(dt);
        host[t] = malloc(bytes ? bytes : 1);
        if (!host[t]) goto done;
        if (stored[t]) memset(host[t], 0xFF, bytes);   /* poison: NaN, -1, 0xFF */
        else fill_random(dt, host[t], elems[t]);
        if (drv_mem_alloc(bytes, &dev[t]) != TJ_OK || drv_memcpy_htod(dev[t], host[t], bytes) != TJ_OK)
            goto done;
        ptrs[t] = dev[t];
    }
    for (int i = 0; i < tj_num_scalars(g) && i < 64; i++) {
        tj_dtype dt = tj_scalar_dtype(g, i);
        scalars[i] = (dt == TJ_I32 || dt == TJ_I64) ? (double)harness_randint(1, 4)
                     : dt == TJ_BOOL ? 1.0 : harness_uniform(0.5, 1.5);
        float f = (float)scalars[i];
        if (dt == TJ_BF16 || dt == TJ_F16) {
            unsigned short hh;
            tj_convert(dt, &hh, TJ_F32, &f, 1);
            tj_convert(TJ_F32, &f, dt, &hh, 1);
            scalars[i] = f;
        }
    }
    if (tj_interp_run(g, c->vals, host, scalars, 0) != TJ_OK) {
        fprintf(stderr, "  %s: interpreter: %s\n", c->what, tj_last_error());
        goto done;
    }
    if (tj_kernel_launch(k, ptrs, scalars, c->vals, NULL) != TJ_OK || drv_context_sync() != TJ_OK) {
        fprintf(stderr, "  %s: launch: %s\n", c->what, tj_last_error());
        goto done;
    }
    ok = 1;
    for (int t = 0; t < nt && ok; t++) {
        if (!stored[t]) continue;
        size_t bytes = (size_t)elems[t] * tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){t}));
        void *got = malloc(bytes ? bytes : 1);
        ok = got && drv_memcpy_dtoh(got, dev[t], bytes) == TJ_OK &&
             compare(g, t, got, host[t], elems[t], c->rtol, c->what);
        free(got);
    }
    cases_run++;
done:
    for (int t = 0; t < nt && t < 64; t++) {
        free(host[t]);
        drv_mem_free(dev[t]);
    }
    tj_free(text);
    tj_kernel_destroy(k);
    return ok;
}

/* Case n: 0 when absent, 1 when it ran and matched, -1 when it failed. */
static int run_numbered(int n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%04d.case", cases_dir(), n);
    char *meta = slurp(path, NULL);
    if (!meta) return 0;
    ptx_case c;
    memset(&c, 0, sizeof c);
    const char *w = strstr(meta, "what "), *r = strstr(meta, "\nrtol "), *v = strstr(meta, "\nvals");
    if (w) snprintf(c.what, sizeof c.what, "%.*s", (int)strcspn(w + 5, "\n"), w + 5);
    c.rtol = r ? atof(r + 6) : 1e-3;
    for (int s = 0; v && s < 64; s++) {
        char *end;
        v += 5 * (s == 0);
        long long x = strtoll(v, &end, 10);
        if (end == v) break;
        c.vals[s] = x;
        v = end;
    }
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%04d.tj", cases_dir(), n);
    char *text = slurp(path, &len);
    snprintf(path, sizeof path, "%s/%04d.ptx", cases_dir(), n);
    c.ptx = slurp(path, NULL);
    tj_graph *g = NULL;
    int ok = text && c.ptx && tj_graph_parse(text, len, path, &g) == TJ_OK;
    if (!ok) fprintf(stderr, "  case %04d: cannot read it: %s\n", n, tj_last_error());
    if (ok) ok = run_case(g, &c);
    tj_graph_free(g);
    free(text);
    free(c.ptx);
    free(meta);
    return ok ? 1 : -1;
}

static const char *skip_reason(void) {
    static char why[300];
    const char *w = NULL;
    if (!drv_available(&w)) return w ? w : "no CUDA device";
    drv_device dev;
    if (drv_device_info(0, &dev) != TJ_OK) return "no device info";
    if (strcmp(dev.arch, "sm_90a")) {
        snprintf(why, sizeof why, "the carried PTX is for sm_90a; this device is %s", dev.arch);
        return why;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/0000.case", cases_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, sizeof why, "no PTX cases in %s (make them with TJ_PTX_CASES_DIR=... "
                 "test_emit_ptx on a machine with LLVM)", cases_dir());
        return why;
    }
    fclose(f);
    return NULL;
}

TEST(test_gpu_ptx_recipes_match_interpreter) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    int failed = 0, n = 0;
    for (; n < 1000; n++) {
        int r = run_numbered(n);
        if (r == 0) break;
        failed += r < 0;
    }
    printf("  %d recipe cases, %d failed\n", n, failed);
    CHECK(n > 0);
    CHECKF(failed == 0, "%d recipe cases failed", failed);
}

TEST(test_gpu_ptx_random_graphs_match_interpreter) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    int failed = 0, n = 1000;
    for (;; n++) {
        int r = run_numbered(n);
        if (r == 0) break;
        failed += r < 0;
    }
    printf("  %d random cases, %d failed\n", n - 1000, failed);
    CHECKF(failed == 0, "%d random cases failed", failed);
}

TEST(test_gpu_ptx_report_errors) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    printf("  %d cases ran (%d linked by nvJitLink, the rest JIT-compiled by the driver); largest "
           "relative error per output dtype:", cases_run, linked_by_jitlink);
    for (int t = 0; t < TJ_DTYPE_COUNT; t++)
        if (max_err[t] > 0) printf(" %s %.3g", tj_dtype_name((tj_dtype)t), max_err[t]);
    printf("\n");
}

int main(void) { return harness_main(); }
