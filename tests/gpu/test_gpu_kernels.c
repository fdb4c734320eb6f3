/*
 * Every recipe and >= 200 random graphs through tj_kernel on a GPU: the
 * schedule tilejit picks and, where that is a fast one, the generic
 * lowering as well, each compared with the CPU interpreter on fresh
 * random inputs, outputs poisoned first, at ragged sizes. Skips without
 * a device.
 *
 * TJ_GPU_GRAPHS=N changes the number of random graphs (200).
 * Prints the largest relative error seen per output dtype.
 */
#include <math.h>

#include "cache.h"
#include "compile.h"
#include "driver.h"
#include "harness.h"
#include "kernel_int.h"
#include "randgraph.h"

static double max_err[TJ_DTYPE_COUNT];
static int cases_run, fast_cases;

static const char *skip_reason(void) {
    const char *why = NULL;
    if (!drv_available(&why)) return why ? why : "no CUDA device";
    return NULL;
}

/* Random contents: floats in [-1, 1], integers in [0, 8), bools. */
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

/* Poison: NaN for floats (0xFF bytes are NaN in every float dtype but
 * e4m3's 0xFF, which is NaN too), -1 for integers, 0xFF for bools. */
static void poison(tj_dtype dt, void *buf, int64_t n) {
    memset(buf, 0xFF, (size_t)n * tj_dtype_size(dt));
}

typedef struct tensors {
    int n;
    void *host[64];      /* the interpreter's copy */
    void *init[64];      /* what both started from */
    drv_ptr dev[64];
    int64_t elems[64];
    int stored[64];
} tensors;

static tj_status stored_tensors(const tj_graph *g, int *stored) {
    /* A tensor is an output when the text form has a store to it. */
    char *text = NULL;
    tj_status s = tj_graph_print(g, &text);
    if (s != TJ_OK) return s;
    for (int t = 0; t < tj_num_tensors(g); t++) {
        char pat[128];
        snprintf(pat, sizeof pat, "store %s ", tj_tensor_name(g, (tj_tensor){t}));
        stored[t] = strstr(text, pat) != NULL;
    }
    tj_free(text);
    return TJ_OK;
}

static void free_tensors(tensors *ts) {
    for (int t = 0; t < ts->n; t++) {
        free(ts->host[t]);
        free(ts->init[t]);
        drv_mem_free(ts->dev[t]);
    }
}

/* Compare output tensor t; returns 0 and prints the first bad element. */
static int compare(const tj_graph *g, int t, const void *got, const void *want, int64_t n,
                   double rtol, const char *what) {
    tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double a, b;
        float fa, fb;
        tj_convert(TJ_F32, &fa, dt, (const char *)got + i * (int64_t)tj_dtype_size(dt), 1);
        tj_convert(TJ_F32, &fb, dt, (const char *)want + i * (int64_t)tj_dtype_size(dt), 1);
        a = fa;
        b = fb;
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

/* The generic lowering whatever fast schedule applies: a compile hook
 * that forces it, so every graph is also checked on the generic path. */
static tj_status generic_compile(void *user, const tj_graph *g, const char *arch,
                                 const int64_t *spec, void **cubin, size_t *size,
                                 emit_launch *L) {
    (void)user;
    char *log = NULL;
    tj_status st = compile_graph_as(g, arch, spec, "generic", 0, cubin, size, &log, L);
    if (st != TJ_OK && log) fprintf(stderr, "%s\n", log);
    tj_free(log);
    return st;
}

/* The schedule tilejit picks for g at vals on arch ("generic", "rows"...). */
static void picked_schedule(const tj_graph *g, const char *arch, const int64_t *vals,
                            char *out, size_t size) {
    int64_t spec[64];
    emit_launch L;
    char *src = NULL;
    snprintf(out, size, "?");
    cache_specialize(g, vals, spec);
    if (emit_kernel(g, arch, spec, NULL, &src, &L) == TJ_OK) snprintf(out, size, "%s", L.schedule);
    free(src);
}

/* Run g through tj_kernel (the schedule it picks, or the generic one when
 * `generic`) and the interpreter on the same random inputs, and compare
 * every output. */
static int run_once(const tj_graph *g, const int64_t *vals, double rtol, const char *what,
                    int generic) {
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) {
        fprintf(stderr, "  %s: create: %s\n", what, tj_last_error());
        return 0;
    }
    kernel_test_hooks h = {generic_compile, NULL, NULL, NULL};
    if (generic) kernel_set_test_hooks(k, &h);
    int ok = 0;
    tensors ts;
    memset(&ts, 0, sizeof ts);
    double scalars[64];
    uint64_t ptrs[64];
    ts.n = tj_num_tensors(g);
    if (ts.n > 64 || stored_tensors(g, ts.stored) != TJ_OK) goto done;
    for (int t = 0; t < ts.n; t++) {
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        if (tj_tensor_extent(g, (tj_tensor){t}, vals, &ts.elems[t]) != TJ_OK) goto done;
        size_t bytes = (size_t)ts.elems[t] * tj_dtype_size(dt);
        ts.host[t] = malloc(bytes);
        ts.init[t] = malloc(bytes);
        if (!ts.host[t] || !ts.init[t]) goto done;
        if (ts.stored[t])
            poison(dt, ts.init[t], ts.elems[t]);
        else
            fill_random(dt, ts.init[t], ts.elems[t]);
        memcpy(ts.host[t], ts.init[t], bytes);
        if (drv_mem_alloc(bytes, &ts.dev[t]) != TJ_OK ||
            drv_memcpy_htod(ts.dev[t], ts.init[t], bytes) != TJ_OK) {
            fprintf(stderr, "  %s: %s\n", what, tj_last_error());
            goto done;
        }
        ptrs[t] = ts.dev[t];
    }
    for (int i = 0; i < tj_num_scalars(g) && i < 64; i++) {
        tj_dtype dt = tj_scalar_dtype(g, i);
        scalars[i] = (dt == TJ_I32 || dt == TJ_I64) ? (double)harness_randint(1, 4)
                     : dt == TJ_BOOL ? 1.0 : harness_uniform(0.5, 1.5);
        float f = (float)scalars[i];
        if (dt == TJ_BF16 || dt == TJ_F16) { /* the kernel gets it rounded */
            unsigned short hh;
            tj_convert(dt, &hh, TJ_F32, &f, 1);
            tj_convert(TJ_F32, &f, dt, &hh, 1);
            scalars[i] = f;
        }
    }
    if (tj_interp_run(g, vals, ts.host, scalars, 0) != TJ_OK) {
        fprintf(stderr, "  %s: interpreter: %s\n", what, tj_last_error());
        goto done;
    }
    if (tj_kernel_launch(k, ptrs, scalars, vals, NULL) != TJ_OK || drv_context_sync() != TJ_OK) {
        fprintf(stderr, "  %s: launch: %s\n", what, tj_last_error());
        goto done;
    }
    ok = 1;
    for (int t = 0; t < ts.n && ok; t++) {
        if (!ts.stored[t]) continue;
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        size_t bytes = (size_t)ts.elems[t] * tj_dtype_size(dt);
        void *got = malloc(bytes);
        ok = got && drv_memcpy_dtoh(got, ts.dev[t], bytes) == TJ_OK &&
             compare(g, t, got, ts.host[t], ts.elems[t], rtol, what);
        free(got);
    }
    cases_run++;
done:
    free_tensors(&ts);
    tj_kernel_destroy(k);
    return ok;
}

/* The picked schedule, and the generic lowering too when it is another. */
static int run_case(const tj_graph *g, const int64_t *vals, double rtol, const char *what) {
    drv_device dev;
    if (drv_device_info(0, &dev) != TJ_OK) return 0;
    char sched[32], label[300];
    picked_schedule(g, dev.arch, vals, sched, sizeof sched);
    snprintf(label, sizeof label, "%s [%s]", what, sched);
    int ok = run_once(g, vals, rtol, label, 0);
    if (strcmp(sched, "generic")) {
        snprintf(label, sizeof label, "%s [generic]", what);
        ok &= run_once(g, vals, rtol, label, 1);
        fast_cases++;
    }
    return ok;
}

/* The tolerance a graph's outputs need: that of its least precise tensor. */
static double rtol_for(const tj_graph *g) {
    double r = 1e-3;
    for (int t = 0; t < tj_num_tensors(g); t++) {
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        double x = dt == TJ_BF16 ? 2e-2 : dt == TJ_F16 ? 5e-3
                 : (dt == TJ_F8E4M3 || dt == TJ_F8E5M2) ? 0.15 : 1e-3;
        if (x > r) r = x;
    }
    return r;
}

/* Symbol values for a recipe: sequence-like symbols walk through ragged
 * lengths, others stay small; each rounded up to its declared divisor. */
static void bind_recipe(const tj_graph *g, int variant, int64_t *vals) {
    static const int64_t lengths[] = {1, 17, 127, 1000, 4096};
    for (int s = 0; s < tj_num_symbols(g); s++) {
        const char *name = tj_symbol_name(g, (tj_sym){s});
        int64_t v = lengths[(variant + s) % 5];
        if (strstr(name, "batch") || strstr(name, "head")) v = 1 + variant % 2;
        char bind[128];
        for (;; v++) {
            snprintf(bind, sizeof bind, "%s=%lld", name, (long long)v);
            if (tj_bind_parse(g, bind, vals) == TJ_OK) break;
        }
    }
}

TEST(test_gpu_every_recipe_matches_interpreter) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    for (int r = 0; r < tj_recipe_count(); r++) {
        const tj_recipe_info *info = tj_recipe_get(r);
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build(info->name, 0, NULL, &g));
        for (int variant = 0; variant < 3; variant++) {
            int64_t vals[16];
            bind_recipe(g, variant, vals);
            char what[160];
            snprintf(what, sizeof what, "recipe %s variant %d", info->name, variant);
            CHECKF(run_case(g, vals, rtol_for(g), what), "%s", what);
        }
        tj_graph_free(g);
    }
}

/* fp8 attention (e4m3 q, k, v; p rounded to e4m3 for p . v; bf16 o; the
 * generic lowering until a fast schedule takes it) at ragged lengths. */
TEST(test_gpu_fp8_attention_matches_interpreter) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    static const char *const cfgs[][4] = {
        {"dtype=f8e4m3", "d=64", "causal=1", "hkv=2"},
        {"dtype=f8e4m3", "d=128", "causal=0", "hkv=2"},
    };
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build("attention", 4, cfgs[c], &g));
        if (!g) continue;
        static const int64_t lens[] = {17, 1000};
        for (size_t i = 0; i < 2; i++) {
            int64_t vals[8];
            char bind[64], what[160];
            for (int k = 0; k < 8; k++) vals[k] = TJ_UNBOUND;
            snprintf(bind, sizeof bind, "seq=%lld", (long long)lens[i]);
            CHECK_OK(tj_bind_parse(g, bind, vals));
            CHECK_OK(tj_bind_parse(g, "batch=2", vals));
            snprintf(what, sizeof what, "attention %s %s seq %lld", cfgs[c][1], cfgs[c][2],
                     (long long)lens[i]);
            CHECKF(run_case(g, vals, rtol_for(g), what), "%s", what);
        }
        tj_graph_free(g);
    }
}

TEST(test_gpu_random_graphs_match_interpreter) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    const char *env = getenv("TJ_GPU_GRAPHS");
    int total = env && *env ? atoi(env) : 200, failed = 0;
    for (int i = 0; i < total; i++) {
        rg_graph r;
        CHECK_OK(rg_build(harness_seed, i, &r));
        for (int variant = 0; variant < 2; variant++) {
            int64_t vals[8];
            rg_bind(r.g, harness_seed, variant + (i & 1), vals);
            char what[200];
            snprintf(what, sizeof what, "random graph %d variant %d (%s)", i, variant, r.desc);
            if (!run_case(r.g, vals, r.rtol, what)) failed++;
        }
        tj_graph_free(r.g);
    }
    CHECKF(failed == 0, "%d random cases failed", failed);
}

TEST(test_gpu_report_errors) {
    const char *why = skip_reason();
    if (why) SKIP("%s", why);
    printf("  %d cases ran (%d also on a fast schedule); largest relative error per output "
           "dtype:", cases_run, fast_cases);
    for (int t = 0; t < TJ_DTYPE_COUNT; t++)
        if (max_err[t] > 0) printf(" %s %.3g", tj_dtype_name((tj_dtype)t), max_err[t]);
    printf("\n");
}

int main(void) { return harness_main(); }
