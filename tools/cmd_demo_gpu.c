/*
 * cmd_demo_gpu.c — the second part of `tilejit demo`: a few recipe
 * specializations JIT-compiled for the local GPU through the public
 * tj_kernel API, checked against the CPU interpreter and timed; with no
 * GPU, the same specializations prebuilt for sm_90a into a bundle.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "driver.h"
#include "nvrtc.h"
#include "prebuild.h"

#define DEMO_REPEATS 20

typedef struct demo_spec {
    const char *recipe;
    const char *params[4];
    int nparams;
    const char *bind;        /* for cli_bind: "a=1,b=2"; `manifest` below agrees */
} demo_spec;

/* Attention at seq 4096 keeps 2 heads: the interpreter that checks it is
 * single-threaded, and 8 heads would take minutes. */
static const demo_spec specs[] = {
    {"attention", {"seq=exact"}, 1, "batch=1,seq=128"},
    {"attention", {"seq=exact"}, 1, "batch=1,seq=1000"},
    {"attention", {"seq=exact", "hq=2", "hkv=2"}, 3, "batch=1,seq=4096"},
    {"gemm", {"bias=1", "act=gelu"}, 2, "M=1024,N=1024,K=1024"},
    {"rmsnorm", {NULL}, 0, "rows=4096,cols=4096"},
};
#define NSPECS ((int)(sizeof specs / sizeof specs[0]))

static const char manifest[] =
    "recipe attention seq=exact\n"
    "bind batch=1 seq=128,1000\n"
    "recipe attention seq=exact hq=2 hkv=2\n"
    "bind batch=1 seq=4096\n"
    "recipe gemm bias=1 act=gelu\n"
    "bind M=1024 N=1024 K=1024\n"
    "recipe rmsnorm\n"
    "bind rows=4096 cols=4096\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform in [-1, 1], at least 1/64 away from zero. */
static float rng_value(uint64_t *s) {
    double u = (double)(rng_next(s) >> 11) / 9007199254740992.0;
    double m = 1.0 / 64 + (1 - 1.0 / 64) * u;
    return (float)((rng_next(s) & 1) ? m : -m);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fff + ((u >> 16) & 1);   /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static double load(tj_dtype t, const void *p, int64_t i) {
    if (t == TJ_BF16) return bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

static double tolerance(tj_dtype t) {
    return t == TJ_BF16 ? 3e-2 : 1e-4;
}

/* Work done by one launch, for the throughput column: FLOP for attention
 * and gemm, bytes moved for rmsnorm (memory-bound). */
static void work(const demo_spec *sp, const tj_graph *g, const int64_t *v, double *amount,
                 int *is_bytes) {
    int64_t x[4] = {0};
    const char *names[][4] = {{"batch", "seq"}, {"M", "N", "K"}, {"rows", "cols"}};
    int which = !strcmp(sp->recipe, "attention") ? 0 : !strcmp(sp->recipe, "gemm") ? 1 : 2;
    for (int i = 0; i < tj_num_symbols(g); i++)
        for (int j = 0; j < 4 && names[which][j]; j++)
            if (!strcmp(tj_symbol_name(g, (tj_sym){i}), names[which][j])) x[j] = v[i];
    *is_bytes = which == 2;
    if (which == 0) {
        int64_t hq = 8, d = 128;
        for (int i = 0; i < sp->nparams; i++)
            if (!strncmp(sp->params[i], "hq=", 3)) hq = atoll(sp->params[i] + 3);
        *amount = 4.0 * (double)x[0] * (double)hq * (double)x[1] * (double)x[1] * (double)d;
    } else if (which == 1) {
        *amount = 2.0 * (double)x[0] * (double)x[1] * (double)x[2];
    } else {
        *amount = 2.0 * 2.0 * (double)x[0] * (double)x[1];   /* read x, write y (bf16) */
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct demo_row {
    double first_ms, median_ms, amount, max_err;
    int is_bytes, ok;
    char why[512];
} demo_row;

/* Build, launch, time and check one spec. Returns 0 and fills row->why
 * when something other than a numeric mismatch went wrong. */
static int run_spec(const demo_spec *sp, uint64_t seed, char *sizes, size_t sizes_len,
                    demo_row *row) {
    tj_graph *g = NULL;
    tj_kernel *k = NULL;
    int64_t *vals = NULL;
    void **host = NULL, **ref = NULL;
    uint64_t *dev = NULL;
    double *scal = NULL;
    void *ev0 = NULL, *ev1 = NULL;
    int nt = 0, done_ok = 0;
    const char *step = "build";
    tj_status s = tj_recipe_build(sp->recipe, sp->nparams, sp->params, &g);
    if (s != TJ_OK) goto fail;
    nt = tj_num_tensors(g);
    int ns = tj_num_scalars(g);
    vals = malloc(((size_t)tj_num_symbols(g) + 1) * sizeof *vals);
    host = calloc((size_t)nt + 1, sizeof *host);
    ref = calloc((size_t)nt + 1, sizeof *ref);
    dev = calloc((size_t)nt + 1, sizeof *dev);
    scal = calloc((size_t)ns + 1, sizeof *scal);
    if (!vals || !host || !ref || !dev || !scal) {
        snprintf(row->why, sizeof row->why, "out of memory");
        goto out;
    }
    for (int i = 0; i < tj_num_symbols(g); i++) vals[i] = TJ_UNBOUND;
    step = "bind";
    if ((s = cli_bind(g, sp->bind, vals)) != TJ_OK) goto fail;
    snprintf(sizes, sizes_len, "%s", sp->bind);
    for (int i = 0; i < sp->nparams; i++) {
        size_t n = strlen(sizes);
        if (strncmp(sp->params[i], "seq=", 4))
            snprintf(sizes + n, sizes_len - n, ",%s", sp->params[i]);
    }
    work(sp, g, vals, &row->amount, &row->is_bytes);

    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 0x5eed;
    if (!state) state = 1;
    for (int i = 0; i < ns; i++)
        scal[i] = 1.0 / 64 + (1 - 1.0 / 64) * (double)(rng_next(&state) >> 11) / 9007199254740992.0;
    step = "upload";
    for (int i = 0; i < nt; i++) {
        tj_tensor t = {i};
        tj_dtype dt = tj_tensor_dtype(g, t);
        int64_t n;
        if ((s = tj_tensor_extent(g, t, vals, &n)) != TJ_OK) goto fail;
        if (dt != TJ_BF16 && dt != TJ_F32) {
            snprintf(row->why, sizeof row->why, "tensor '%s': the demo fills bf16 and f32 only",
                     tj_tensor_name(g, t));
            goto out;
        }
        size_t bytes = (size_t)n * tj_dtype_size(dt);
        host[i] = malloc(bytes + 1);
        ref[i] = malloc(bytes + 1);
        if (!host[i] || !ref[i]) {
            snprintf(row->why, sizeof row->why, "out of memory");
            goto out;
        }
        for (int64_t j = 0; j < n; j++) {
            float f = rng_value(&state);
            if (dt == TJ_BF16)
                ((uint16_t *)host[i])[j] = f32_to_bf16(f);
            else
                ((float *)host[i])[j] = f;
        }
        memcpy(ref[i], host[i], bytes);
        drv_ptr p = 0;
        if ((s = drv_mem_alloc(bytes, &p)) != TJ_OK) goto fail;
        dev[i] = p;
        if ((s = drv_memcpy_htod(p, host[i], bytes)) != TJ_OK) goto fail;
    }

    step = "kernel";
    if ((s = tj_kernel_create(g, NULL, &k)) != TJ_OK) goto fail;
    double t0 = now_s();
    step = "first launch";
    if ((s = tj_kernel_launch(k, dev, scal, vals, NULL)) != TJ_OK) goto fail;
    if ((s = drv_context_sync()) != TJ_OK) goto fail;
    row->first_ms = (now_s() - t0) * 1e3;

    step = "copy back";
    for (int i = 0; i < nt; i++) {
        int64_t n;
        tj_tensor_extent(g, (tj_tensor){i}, vals, &n);
        size_t bytes = (size_t)n * tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){i}));
        if ((s = drv_memcpy_dtoh(host[i], dev[i], bytes)) != TJ_OK) goto fail;
    }

    step = "timing";
    double ms[DEMO_REPEATS];
    if ((s = drv_event_create(&ev0)) != TJ_OK || (s = drv_event_create(&ev1)) != TJ_OK)
        goto fail;
    for (int r = 0; r < DEMO_REPEATS; r++) {
        float m = 0;
        if ((s = drv_event_record(ev0, NULL)) != TJ_OK ||
            (s = tj_kernel_launch(k, dev, scal, vals, NULL)) != TJ_OK ||
            (s = drv_event_record(ev1, NULL)) != TJ_OK || (s = drv_event_sync(ev1)) != TJ_OK ||
            (s = drv_event_elapsed_ms(ev0, ev1, &m)) != TJ_OK)
            goto fail;
        ms[r] = m;
    }
    qsort(ms, DEMO_REPEATS, sizeof ms[0], cmp_double);
    row->median_ms = ms[DEMO_REPEATS / 2];

    step = "interpret";
    fflush(stdout);
    if ((s = tj_interp_run(g, vals, ref, scal, 0)) != TJ_OK) goto fail;
    row->ok = 1;
    for (int i = 0; i < nt; i++) {
        tj_tensor t = {i};
        tj_dtype dt = tj_tensor_dtype(g, t);
        int64_t n;
        tj_tensor_extent(g, t, vals, &n);
        for (int64_t j = 0; j < n; j++) {
            double a = load(dt, host[i], j), b = load(dt, ref[i], j);
            double e = fabs(a - b) / (fabs(b) + 1);
            if (!(e <= row->max_err)) row->max_err = isnan(e) ? INFINITY : e;
        }
        if (!(row->max_err <= tolerance(dt))) row->ok = 0;
    }
    done_ok = 1;
    goto out;
fail:
    snprintf(row->why, sizeof row->why, "%s: %s", step, tj_last_error());
out:
    drv_event_destroy(ev0);
    drv_event_destroy(ev1);
    tj_kernel_destroy(k);
    for (int i = 0; i < nt; i++) {
        if (host) free(host[i]);
        if (ref) free(ref[i]);
        if (dev) drv_mem_free(dev[i]);
    }
    free(host);
    free(ref);
    free(dev);
    free(scal);
    free(vals);
    tj_graph_free(g);
    return done_ok;
}

static int demo_on_gpu(uint64_t seed) {
    drv_device info;
    if (drv_device_info(0, &info) != TJ_OK) return cli_fail("demo", "%s", tj_last_error());
    printf("\nJIT on %s (%s), through tj_kernel_launch; checked against the interpreter\n\n",
           info.name, info.arch);
    printf("%-10s %-36s %10s %10s %12s %10s  %s\n", "recipe", "sizes", "first ms", "median ms",
           "throughput", "max err", "check");
    int failed = 0;
    for (int i = 0; i < NSPECS; i++) {
        demo_row row = {0};
        char sizes[256] = "";
        fflush(stdout);
        if (!run_spec(&specs[i], seed, sizes, sizeof sizes, &row)) {
            printf("%-10s %-36s FAIL: %s\n", specs[i].recipe, sizes[0] ? sizes : specs[i].bind,
                   row.why);
            failed++;
            continue;
        }
        double per_s = row.median_ms > 0 ? row.amount / (row.median_ms * 1e-3) : 0;
        printf("%-10s %-36s %10.1f %10.4f %7.1f %-4s %10.2e  %s\n", specs[i].recipe, sizes,
               row.first_ms, row.median_ms, per_s * 1e-12 * (row.is_bytes ? 1e3 : 1),
               row.is_bytes ? "GB/s" : "TF/s", row.max_err, row.ok ? "ok" : "FAIL");
        failed += !row.ok;
    }
    printf("\n%d specialization%s on the GPU, %d failed\n", NSPECS, NSPECS == 1 ? "" : "s",
           failed);
    return failed ? CLI_FAIL : CLI_OK;
}

static void report_failure(const char *what, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "tilejit demo: prebuild %s: %s\n", what, message);
}

static int demo_prebuild(const char *bundle) {
    char path[4096];
    if (!bundle) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/tilejit-demo.bundle", tmp && *tmp ? tmp : "/tmp");
        bundle = path;
    }
    if (nvrtc_load() != TJ_OK) {
        printf("NVRTC is not available either (%s): nothing prebuilt\n", tj_last_error());
        return CLI_OK;
    }
    prebuild_manifest *m = NULL;
    if (prebuild_manifest_parse(manifest, strlen(manifest), "demo", NULL, &m) != TJ_OK)
        return cli_fail("demo", "%s", tj_last_error());
    const char *archs[] = {"sm_90a"};
    prebuild_options o = {0};
    o.archs = archs;
    o.narchs = 1;
    o.bundle = bundle;
    o.fail = report_failure;
    prebuild_summary sum = {0};
    printf("prebuilding the GPU part's %d specializations for sm_90a ...\n", NSPECS);
    fflush(stdout);
    tj_status s = prebuild_run(m, &o, &sum);
    prebuild_manifest_free(m);
    if (s != TJ_OK) return cli_fail("demo", "%s", tj_last_error());
    printf("prebuilt %zu kernels for sm_90a into %s in %.2f s (%llu bytes of cubins)\n",
           sum.unique, bundle, sum.seconds, sum.bytes);
    printf("use them on an H100/H200 with no compiling: TILEJIT_BUNDLES=%s "
           "TILEJIT_NO_COMPILE=1 tilejit demo\n",
           bundle);
    return CLI_OK;
}

int cli_demo_gpu(uint64_t seed, const char *bundle) {
    const char *why = NULL;
    if (drv_available(&why)) return demo_on_gpu(seed);
    printf("\nNo GPU here (%s)\n", why ? why : "no CUDA device");
    return demo_prebuild(bundle);
}
