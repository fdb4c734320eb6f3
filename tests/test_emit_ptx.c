/*
 * The LLVM back end without a GPU: every recipe and >= 200 random graphs
 * lowered to PTX for sm_80 and sm_90a with the launch the generic CUDA
 * path has, each PTX linked to a cubin by nvJitLink where it is present;
 * the compile flag, the CLI-facing refusals, and the cache key's backend.
 * Skips without LLVM (a build with -Dllvm=disabled).
 *
 * TJ_EMIT_GRAPHS=N changes how many random graphs are lowered (200).
 * TJ_PTX_CASES_DIR=DIR also writes the cases tests/gpu/test_gpu_ptx.c runs
 * on a GPU machine that has no LLVM (docs/cli.md, "The LLVM back end").
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "cache.h"
#include "compile.h"
#include "emit_ptx.h"
#include "harness.h"
#include "jitlink.h"
#include "randgraph.h"

static int have_llvm(void) { return emit_ptx_available(); }
static int have_jitlink(void) { return jitlink_load() == TJ_OK; }

static int is_cubin(const void *p, size_t n) {
    return n > 16 && memcmp(p, "\x7f" "ELF", 4) == 0;
}

/* The PTX path's launch is the generic CUDA path's, field for field. */
static int same_launch(const emit_launch *a, const emit_launch *b) {
    if (strcmp(a->kernel, b->kernel) || a->threads != b->threads || a->smem_bytes != b->smem_bytes ||
        a->nparams != b->nparams || a->grid_mode != b->grid_mode)
        return 0;
    for (int i = 0; i < a->nparams; i++)
        if (a->params[i].kind != b->params[i].kind || a->params[i].index != b->params[i].index ||
            a->params[i].ctype != b->params[i].ctype || a->params[i].size != b->params[i].size)
            return 0;
    return 1;
}

/* Lower g at vals (specialized as the kernel would) for arch, check the
 * launch against the CUDA path's, and link the PTX when nvJitLink is here. */
static tj_status lower_one(const tj_graph *g, const int64_t *vals, const char *arch, char **ptx_out) {
    int64_t spec[64];
    cache_specialize(g, vals, spec);
    emit_launch lp, lc;
    char *ptx = NULL, *src = NULL;
    tj_status st = emit_ptx(g, arch, spec, NULL, &ptx, &lp);
    if (st != TJ_OK) return st;
    st = emit_kernel(g, arch, spec, "generic", &src, &lc);
    free(src);
    if (st == TJ_OK && !same_launch(&lp, &lc))
        st = tj_set_error(TJ_ERR_INTERNAL, "the PTX launch differs from the CUDA path's "
                          "(%s %d threads %zu smem vs %s %d threads %zu smem)", lp.kernel, lp.threads,
                          lp.smem_bytes, lc.kernel, lc.threads, lc.smem_bytes);
    if (st == TJ_OK && !strstr(ptx, ".entry tj_"))
        st = tj_set_error(TJ_ERR_INTERNAL, "the PTX has no kernel entry");
    if (st == TJ_OK && have_jitlink()) {
        void *cubin = NULL;
        size_t size = 0;
        char *log = NULL;
        st = jitlink_ptx_to_cubin(ptx, arch, &cubin, &size, &log);
        if (st == TJ_OK && !is_cubin(cubin, size))
            st = tj_set_error(TJ_ERR_INTERNAL, "nvJitLink gave no cubin");
        free(cubin);
        free(log);
    }
    if (st == TJ_OK && ptx_out) *ptx_out = ptx;
    else free(ptx);
    return st;
}

static void bind_recipe(const tj_graph *g, int variant, int64_t *vals) {
    /* test_gpu_kernels.c's bindings: ragged lengths, small batch and heads */
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

/* ---- cases for the GPU machine ------------------------------------------- */

static const char *cases_dir(void) {
    const char *d = getenv("TJ_PTX_CASES_DIR");
    return d && *d ? d : NULL;
}

/* DIR/NNNN.tj (canonical text), NNNN.case (what, rtol, symbol values),
 * NNNN.ptx (sm_90a, at the specialized values). */
static tj_status write_case(int n, const tj_graph *g, const int64_t *vals, double rtol,
                            const char *what) {
    const char *dir = cases_dir();
    char path[1024], *text = NULL, *ptx = NULL;
    tj_status st = lower_one(g, vals, "sm_90a", &ptx);
    if (st == TJ_OK) st = tj_graph_print(g, &text);
    const char *ext[3] = {"tj", "case", "ptx"};
    for (int k = 0; k < 3 && st == TJ_OK; k++) {
        snprintf(path, sizeof path, "%s/%04d.%s", dir, n, ext[k]);
        FILE *f = fopen(path, "w");
        if (!f) {
            st = tj_set_error(TJ_ERR_IO, "cannot write %s", path);
            break;
        }
        if (k == 0) fputs(text, f);
        if (k == 2) fputs(ptx, f);
        if (k == 1) {
            fprintf(f, "what %s\nrtol %.6g\nvals", what, rtol);
            for (int s = 0; s < tj_num_symbols(g); s++) fprintf(f, " %lld", (long long)vals[s]);
            fprintf(f, "\n");
        }
        fclose(f);
    }
    tj_free(text);
    free(ptx);
    return st;
}

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

/* ---- tests -------------------------------------------------------------------- */

TEST(test_ptx_every_recipe_lowers_and_links_for_sm80_and_sm90a) {
    if (!have_llvm()) SKIP("built without LLVM");
    if (!have_jitlink()) printf("  (nvJitLink not found: PTX checked by LLVM only)\n");
    int ncase = 0;
    for (int r = 0; r < tj_recipe_count(); r++) {
        const tj_recipe_info *info = tj_recipe_get(r);
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build(info->name, 0, NULL, &g));
        for (int variant = 0; variant < 3; variant++) {
            int64_t vals[16];
            bind_recipe(g, variant, vals);
            for (int a = 0; a < 2; a++) {
                const char *arch = a ? "sm_90a" : "sm_80";
                tj_status st = lower_one(g, vals, arch, NULL);
                CHECKF(st == TJ_OK, "recipe %s variant %d %s: %s", info->name, variant, arch,
                       tj_last_error());
            }
            if (cases_dir()) {
                char what[160];
                snprintf(what, sizeof what, "recipe %s variant %d", info->name, variant);
                CHECK_OK(write_case(ncase++, g, vals, rtol_for(g), what));
            }
        }
        tj_graph_free(g);
    }
}

typedef struct job {
    atomic_int next, failed, lowered;
    int total;
} job;

static void *lower_worker(void *arg) {
    job *j = arg;
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->total) return NULL;
        rg_graph r;
        if (rg_build(harness_seed, i, &r) != TJ_OK) {
            fprintf(stderr, "  random graph %d: %s\n", i, tj_last_error());
            atomic_fetch_add(&j->failed, 1);
            continue;
        }
        for (int variant = 0; variant < 2; variant++) {
            int64_t vals[8];
            rg_bind(r.g, harness_seed, variant + (i & 1), vals);
            const char *arch = variant ? "sm_90a" : "sm_80";
            tj_status s = lower_one(r.g, vals, arch, NULL);
            if (s != TJ_OK) {
                fprintf(stderr, "  random graph %d variant %d (%s) for %s: %s\n", i, variant,
                        r.desc, arch, tj_last_error());
                atomic_fetch_add(&j->failed, 1);
                break;
            }
            atomic_fetch_add(&j->lowered, 1);
        }
        tj_graph_free(r.g);
    }
}

TEST(test_ptx_random_graphs_lower_and_link_for_sm80_and_sm90a) {
    if (!have_llvm()) SKIP("built without LLVM");
    job j;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    atomic_init(&j.lowered, 0);
    const char *env = getenv("TJ_EMIT_GRAPHS");
    j.total = env && *env ? atoi(env) : 200;
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, lower_worker, &j);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    printf("  %d random graphs, %d PTX modules%s, %d failures\n", j.total,
           atomic_load(&j.lowered), have_jitlink() ? " linked" : "", atomic_load(&j.failed));
    CHECK(atomic_load(&j.failed) == 0);
    CHECK(atomic_load(&j.lowered) == 2 * j.total);
}

/* The GPU suite's random cases: test_gpu_kernels.c's graphs and bindings. */
TEST(test_ptx_writes_gpu_cases_when_asked) {
    if (!have_llvm()) SKIP("built without LLVM");
    if (!cases_dir()) SKIP("TJ_PTX_CASES_DIR not set");
    const char *env = getenv("TJ_GPU_GRAPHS");
    int total = env && *env ? atoi(env) : 200, n = 1000;
    for (int i = 0; i < total; i++) {
        rg_graph r;
        CHECK_OK(rg_build(harness_seed, i, &r));
        for (int variant = 0; variant < 2; variant++) {
            int64_t vals[8];
            rg_bind(r.g, harness_seed, variant + (i & 1), vals);
            char what[240];
            snprintf(what, sizeof what, "random graph %d variant %d (%s)", i, variant, r.desc);
            tj_status st = write_case(n++, r.g, vals, r.rtol, what);
            CHECKF(st == TJ_OK, "%s: %s", what, tj_last_error());
        }
        tj_graph_free(r.g);
    }
    printf("  wrote %d cases to %s\n", n - 1000, cases_dir());
}

TEST(test_ptx_compile_flag_gives_an_image) {
    if (!have_llvm()) SKIP("built without LLVM");
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 0, NULL, &g));
    int64_t vals[4];
    CHECK_OK(tj_bind_parse(g, "rows=100", vals));
    CHECK_OK(tj_bind_parse(g, "cols=1000", vals));
    void *img = NULL;
    size_t size = 0;
    char *log = NULL;
    CHECK_OK(tj_compile(g, "sm_90a", vals, TJ_COMPILE_BACKEND_LLVM, &img, &size, &log));
    /* a cubin from nvJitLink, or PTX text with its NUL for the driver */
    CHECK(is_cubin(img, size) || (size > 0 && ((char *)img)[size - 1] == '\0' && strstr(img, ".entry")));
    if (have_jitlink()) CHECK(is_cubin(img, size));
    tj_free(img);
    tj_free(log);
    tj_graph_free(g);
}

TEST(test_ptx_refuses_fast_schedules_and_unknown_archs) {
    if (!have_llvm()) SKIP("built without LLVM");
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 0, NULL, &g));
    int64_t vals[4];
    CHECK_OK(tj_bind_parse(g, "rows=100", vals));
    CHECK_OK(tj_bind_parse(g, "cols=1000", vals));
    char *ptx = NULL;
    CHECK_ERR(emit_ptx(g, "sm_90a", vals, "rows", &ptx, NULL), TJ_ERR_UNSUPPORTED, "generic");
    CHECK_ERR(emit_ptx(g, "sm_100a", vals, NULL, &ptx, NULL), TJ_ERR_UNSUPPORTED, "sm_100a");
    CHECK_ERR(emit_ptx(g, "bogus", vals, NULL, &ptx, NULL), TJ_ERR_UNSUPPORTED, "bogus");
    CHECK(ptx == NULL);
    void *img = NULL;
    size_t size = 0;
    CHECK_ERR(compile_graph_as(g, "sm_90a", vals, "rows", TJ_COMPILE_BACKEND_LLVM, &img, &size,
                               NULL, NULL),
              TJ_ERR_UNSUPPORTED, "generic");
    tj_graph_free(g);
}

TEST(test_ptx_unbound_tile_symbol_is_an_error) {
    if (!have_llvm()) SKIP("built without LLVM");
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 0, NULL, &g));
    int64_t vals[4] = {TJ_UNBOUND, TJ_UNBOUND, TJ_UNBOUND, TJ_UNBOUND};
    char *ptx = NULL;
    CHECK_ERR(emit_ptx(g, "sm_90a", vals, NULL, &ptx, NULL), TJ_ERR_UNBOUND, "cols");
    tj_graph_free(g);
}

TEST(test_cache_key_names_the_llvm_backend) {
    if (!have_llvm()) SKIP("built without LLVM");
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("softmax", 0, NULL, &g));
    int64_t vals[4];
    CHECK_OK(tj_bind_parse(g, "rows=100", vals));
    CHECK_OK(tj_bind_parse(g, "cols=1000", vals));
    cache_key a, b, c;
    CHECK_OK(cache_key_for_compile(g, NULL, vals, "sm_90a", NULL, &a));
    CHECK_OK(cache_key_for_compile_llvm(g, NULL, vals, "sm_90a", NULL, &b));
    CHECK_OK(cache_key_for_compile_llvm(g, NULL, vals, "sm_90a", "13.0", &c));
    CHECK(strcmp(a.hex, b.hex) != 0);
    CHECK(strstr(a.desc, "backend=") == NULL);   /* NVRTC keys are unchanged */
    CHECK(strstr(b.desc, "backend=llvm ") != NULL);
    CHECK(strcmp(b.hex, c.hex) == 0);            /* the linker version is recorded only */
    char *report = NULL;
    CHECK(cache_desc_diff(b.desc, a.desc, &report) > 0);
    CHECK(report && strstr(report, "backend: wanted llvm") && strstr(report, "entry has nvrtc"));
    free(report);
    cache_key_free(&a);
    cache_key_free(&b);
    cache_key_free(&c);
    tj_graph_free(g);
}

int main(void) {
    const char *d = cases_dir();
    if (d && mkdir(d, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", d);
        return 1;
    }
    return harness_main();
}
