/*
 * test_gpu_runtime.c — tj_kernel on a device: recipes launched at several
 * sequence lengths (a new specialization per exact value, one per bucket),
 * many threads launching one kernel and new specializations at once, the
 * switch from the dynamic-shape variant to the specialization compiled in
 * the background, launches on a caller's stream, the disk cache reused by
 * a second kernel, and a bundle serving a kernel that may not compile.
 * Every result is compared with the CPU interpreter on random inputs,
 * outputs poisoned first. SKIPs without a device or NVRTC.
 */
#include <ftw.h>
#include <pthread.h>
#include <unistd.h>

#include "compile.h"
#include "gpu_harness.h"
#include "kernel_int.h"

#define MAX_T 16

/* ---- one case: buffers, the interpreter's answer, the comparison --------- */

typedef struct gcase {
    int n;
    gpu_buf buf[MAX_T];
    void *ref[MAX_T];        /* the interpreter's copy */
    int stored[MAX_T];
    double scalars[MAX_T];
    uint64_t ptrs[MAX_T];
} gcase;

static void gcase_free(gcase *c) {
    for (int t = 0; t < c->n; t++) {
        gpu_buf_free(&c->buf[t]);
        free(c->ref[t]);
    }
    memset(c, 0, sizeof *c);
}

/* Inputs random, outputs poisoned (device and reference alike), and the
 * interpreter run on the reference. Uses the harness RNG: main thread. */
static tj_status gcase_make(const tj_graph *g, const int64_t *vals, gcase *c) {
    memset(c, 0, sizeof *c);
    c->n = tj_num_tensors(g);
    if (c->n > MAX_T || tj_num_scalars(g) > MAX_T)
        return tj_set_error(TJ_ERR_INVALID_ARG, "gcase: too many arguments");
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_STORE) c->stored[g->nodes[i].tensor] = 1;
    tj_status s = TJ_OK;
    for (int t = 0; t < c->n && s == TJ_OK; t++) {
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        int64_t n = 0;
        s = tj_tensor_extent(g, (tj_tensor){t}, vals, &n);
        if (s != TJ_OK) break;
        if (c->stored[t])
            s = gpu_buf_poison(&c->buf[t], dt, (size_t)n);
        else
            s = gpu_buf_random(&c->buf[t], dt, (size_t)n, dt == TJ_I32 || dt == TJ_I64 ? 0 : -1,
                               dt == TJ_I32 || dt == TJ_I64 ? 7 : 1);
        if (s != TJ_OK) break;
        c->ref[t] = malloc(gpu_buf_bytes(&c->buf[t]));
        if (!c->ref[t]) s = tj_set_error(TJ_ERR_NO_MEMORY, "gcase: out of memory");
        else memcpy(c->ref[t], c->buf[t].host, gpu_buf_bytes(&c->buf[t]));
        c->ptrs[t] = c->buf[t].dev;
    }
    for (int i = 0; i < tj_num_scalars(g); i++) c->scalars[i] = harness_uniform(0.25, 1.0);
    if (s == TJ_OK) s = tj_interp_run(g, vals, c->ref, c->scalars, 0);
    /* Uploads from pageable memory may still be in flight: a launch on a
     * non-blocking stream does not wait for them. */
    if (s == TJ_OK) s = drv_context_sync();
    if (s != TJ_OK) gcase_free(c);
    return s;
}

static double rtol_of(tj_dtype dt) {
    return dt == TJ_BF16 ? 2e-2 : dt == TJ_F16 ? 5e-3 : 1e-3;
}

/* Download the outputs and compare with the interpreter: 1 when they
 * agree, else 0 with the first difference in `why`. Thread-safe. */
static int gcase_check(const tj_graph *g, gcase *c, char *why, size_t whylen) {
    for (int t = 0; t < c->n; t++) {
        if (!c->stored[t]) continue;
        gpu_buf *b = &c->buf[t];
        if (gpu_buf_download(b) != TJ_OK) {
            snprintf(why, whylen, "download: %s", tj_last_error());
            return 0;
        }
        size_t es = tj_dtype_size(b->dtype);
        for (size_t i = 0; i < b->n; i++) {
            double got = 0, want = 0;
            tj_convert(TJ_F64, &got, b->dtype, (const char *)b->host + i * es, 1);
            tj_convert(TJ_F64, &want, b->dtype, (const char *)c->ref[t] + i * es, 1);
            if (isnan(want) && isnan(got)) continue;
            if (isinf(want) && got == want) continue;
            if (!(fabs(got - want) <= rtol_of(b->dtype) * (fabs(want) + 1.0))) {
                snprintf(why, whylen, "tensor %s[%zu] = %.6g, interpreter %.6g",
                         tj_tensor_name(g, (tj_tensor){t}), i, got, want);
                return 0;
            }
        }
    }
    return 1;
}

/* Launch k on (g, vals) with fresh random inputs and compare. */
#define RUN_AND_CHECK(k, g, vals, stream)                                         \
    do {                                                                          \
        gcase c_;                                                                 \
        char why_[256] = "";                                                      \
        CHECK_OK(gcase_make((g), (vals), &c_));                                   \
        tj_status st_ = tj_kernel_launch((k), c_.ptrs, c_.scalars, (vals), (stream)); \
        if (st_ == TJ_OK) st_ = (stream) ? drv_stream_sync(stream) : drv_context_sync(); \
        int ok_ = st_ == TJ_OK && gcase_check((g), &c_, why_, sizeof why_);         \
        if (st_ != TJ_OK) snprintf(why_, sizeof why_, "%s: %s", tj_status_name(st_), \
                                   tj_last_error());                              \
        gcase_free(&c_);                                                          \
        CHECKF(ok_, "%s", why_);                                                  \
    } while (0)

/* ---- setup ------------------------------------------------------------------- */

static char tmp_template[] = "/tmp/tj_gpu_runtime_XXXXXX";
static char tmp_root[64];

static const char *temp_dir(char *buf, size_t size) {
    static int n;
    if (!tmp_root[0] && mkdtemp(tmp_template))
        snprintf(tmp_root, sizeof tmp_root, "%s", tmp_template);
    snprintf(buf, size, "%s/d%d", tmp_root, n++);
    return buf;
}

#define REQUIRE_RUNTIME()                                                          \
    do {                                                                           \
        GPU_REQUIRE_DEVICE(NULL);                                                  \
        if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error()); \
    } while (0)

static tj_graph *attention(const char *name, tj_policy seq_policy) {
    tj_attention_params p;
    tj_attention_params_init(&p);
    p.name = name;
    p.head_dim = 64;
    p.num_q_heads = p.num_kv_heads = 2;
    p.block_m = 64;
    p.block_n = 64;
    p.seq_policy = seq_policy;
    tj_graph *g = NULL;
    if (tj_recipe_attention(&p, &g) != TJ_OK) fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

static tj_graph *recipe(const char *name, int n, const char *const *params) {
    tj_graph *g = NULL;
    if (tj_recipe_build(name, n, params, &g) != TJ_OK) fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

static tj_kernel *make(const tj_graph *g, unsigned flags, const char *dir) {
    tj_kernel_options o = {NULL, flags, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) fprintf(stderr, "  %s\n", tj_last_error());
    return k;
}

static tj_kernel_stats stats(const tj_kernel *k) {
    tj_kernel_stats s;
    memset(&s, 0, sizeof s);
    tj_kernel_stats_get(k, &s);
    return s;
}

/* vals for attention: batch, seq */
static void attn_vals(const tj_graph *g, int64_t batch, int64_t seq, int64_t *vals) {
    vals[tj_find_symbol(g, "batch").id] = batch;
    vals[tj_find_symbol(g, "seq").id] = seq;
}

/* ---- specialization by sequence length ------------------------------------------- */

TEST(test_gpu_runtime_exact_seq_gets_a_specialization_per_length) {
    REQUIRE_RUNTIME();
    char dir[128];
    tj_graph *g = attention("rt_attn_exact", TJ_EXACT);
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    static const int64_t seqs[] = {100, 200, 100, 37};
    for (int i = 0; i < 4; i++) {
        int64_t vals[2];
        attn_vals(g, 1 + i % 2, seqs[i], vals);
        RUN_AND_CHECK(k, g, vals, NULL);
    }
    tj_kernel_stats s = stats(k);
    CHECKF(s.specializations == 3 && s.compiles == 3 && s.hits == 1 && s.launches == 4,
           "specializations %d compiles %llu hits %llu", s.specializations,
           (unsigned long long)s.compiles, (unsigned long long)s.hits);
    CHECK(s.compile_seconds > 0 && s.cubin_bytes > 0);
    printf("  3 attention compiles: %.0f ms in all\n", s.compile_seconds * 1e3);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* tj_kernel_prepare compiles and loads a length's kernel before any
 * launch; the launch is then a hit and matches the interpreter. */
TEST(test_gpu_runtime_prepare_makes_the_first_launch_a_hit) {
    REQUIRE_RUNTIME();
    char dir[128];
    tj_graph *g = attention("rt_attn_prepare", TJ_EXACT);
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    int64_t vals[2];
    attn_vals(g, 2, 300, vals);
    CHECK_OK(tj_kernel_prepare(k, vals));
    tj_kernel_stats s = stats(k);
    CHECK(s.compiles == 1 && s.launches == 0 && s.specializations == 1);
    RUN_AND_CHECK(k, g, vals, NULL);
    s = stats(k);
    CHECKF(s.compiles == 1 && s.hits == 1 && s.launches == 1, "compiles %llu hits %llu",
           (unsigned long long)s.compiles, (unsigned long long)s.hits);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_runtime_bucketed_seq_shares_a_specialization) {
    REQUIRE_RUNTIME();
    char dir[128];
    tj_graph *g = attention("rt_attn_pow2", TJ_BUCKET_POW2);
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    static const int64_t seqs[] = {100, 120, 128, 130};   /* buckets 128 128 128 256 */
    for (int i = 0; i < 4; i++) {
        int64_t vals[2];
        attn_vals(g, 1, seqs[i], vals);
        RUN_AND_CHECK(k, g, vals, NULL);
    }
    tj_kernel_stats s = stats(k);
    CHECKF(s.specializations == 2 && s.compiles == 2 && s.hits == 2, "specializations %d",
           s.specializations);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_runtime_tile_width_buckets_and_fused_gemm) {
    REQUIRE_RUNTIME();
    char dir[128];
    const char *rp[] = {"cols=pow2", "dtype=f32"};
    tj_graph *g = recipe("rmsnorm", 2, rp);
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    int rows = tj_find_symbol(g, "rows").id, cols = tj_find_symbol(g, "cols").id;
    static const int64_t widths[] = {100, 127, 64, 1000};   /* buckets 128 128 64 1024 */
    for (int i = 0; i < 4; i++) {
        int64_t vals[2];
        vals[rows] = 33;
        vals[cols] = widths[i];
        RUN_AND_CHECK(k, g, vals, NULL);
    }
    CHECK(stats(k).specializations == 3);
    tj_kernel_destroy(k);
    tj_graph_free(g);

    const char *gp[] = {"act=silu", "bias=1", "bm=64", "bn=64", "bk=32"};
    g = recipe("gemm", 5, gp);
    CHECK(g);
    k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    int64_t vals[3];
    vals[tj_find_symbol(g, "M").id] = 100;
    vals[tj_find_symbol(g, "N").id] = 72;
    vals[tj_find_symbol(g, "K").id] = 96;
    RUN_AND_CHECK(k, g, vals, NULL);
    RUN_AND_CHECK(k, g, vals, NULL);
    CHECK(stats(k).compiles == 1 && stats(k).hits == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- threads ------------------------------------------------------------------------- */

#define NTHREADS 8
#define NWIDTHS 4

typedef struct shared_case {
    const tj_graph *g;
    int64_t vals[2];
    gcase c;                 /* inputs and the reference (read only) */
} shared_case;

typedef struct worker {
    tj_kernel *k;
    shared_case *cases;
    int id, failures;
    char why[256];
} worker;

static void *launcher(void *arg) {
    worker *w = arg;
    void *stream = NULL;
    gpu_buf out[NWIDTHS];
    void *poison[NWIDTHS] = {NULL};
    memset(out, 0, sizeof out);
    if (drv_stream_create(&stream) != TJ_OK) {
        snprintf(w->why, sizeof w->why, "stream: %s", tj_last_error());
        w->failures++;
        return NULL;
    }
    /* Own copies of the output tensor (index 2: y); inputs are shared. */
    for (int c = 0; c < NWIDTHS; c++) {
        const gpu_buf *y = &w->cases[c].c.buf[2];
        poison[c] = malloc(gpu_buf_bytes(y));
        if (!poison[c] || gpu_buf_alloc(&out[c], y->dtype, y->n) != TJ_OK) {
            snprintf(w->why, sizeof w->why, "alloc: %s", tj_last_error());
            w->failures++;
            goto done;
        }
        gpu_poison_fill(y->dtype, poison[c], y->n);
    }
    for (int it = 0; it < 24; it++) {
        int c = (w->id + it) % NWIDTHS;
        shared_case *sc = &w->cases[c];
        uint64_t ptrs[MAX_T];
        memcpy(ptrs, sc->c.ptrs, sizeof ptrs);
        ptrs[2] = out[c].dev;
        /* Poisoned in stream order, so a launch that skipped an element fails. */
        tj_status st = drv_memcpy_htod_async(out[c].dev, poison[c], gpu_buf_bytes(&out[c]), stream);
        if (st == TJ_OK) st = tj_kernel_launch(w->k, ptrs, sc->c.scalars, sc->vals, stream);
        if (st == TJ_OK) st = drv_stream_sync(stream);
        if (st == TJ_OK) st = gpu_buf_download(&out[c]);
        if (st != TJ_OK) {
            snprintf(w->why, sizeof w->why, "launch: %s", tj_last_error());
            w->failures++;
            break;
        }
        size_t es = tj_dtype_size(out[c].dtype);
        for (size_t i = 0; i < out[c].n; i++) {
            double got = 0, want = 0;
            tj_convert(TJ_F64, &got, out[c].dtype, (char *)out[c].host + i * es, 1);
            tj_convert(TJ_F64, &want, out[c].dtype, (char *)sc->c.ref[2] + i * es, 1);
            if (!(fabs(got - want) <= rtol_of(out[c].dtype) * (fabs(want) + 1.0))) {
                snprintf(w->why, sizeof w->why, "width case %d, y[%zu] = %g, want %g", c, i, got,
                         want);
                w->failures++;
                break;
            }
        }
    }
done:
    for (int c = 0; c < NWIDTHS; c++) {
        gpu_buf_free(&out[c]);
        free(poison[c]);
    }
    drv_stream_destroy(stream);
    return NULL;
}

TEST(test_gpu_runtime_threads_launch_one_kernel_and_new_shapes_at_once) {
    REQUIRE_RUNTIME();
    char dir[128];
    const char *rp[] = {"cols=exact"};
    tj_graph *g = recipe("rmsnorm", 1, rp);
    CHECK(g);
    CHECK(tj_num_tensors(g) == 3);   /* x, w, y */
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    int rows = tj_find_symbol(g, "rows").id, cols = tj_find_symbol(g, "cols").id;
    static shared_case cases[NWIDTHS];
    static const int64_t widths[NWIDTHS] = {96, 200, 512, 1000};
    for (int c = 0; c < NWIDTHS; c++) {
        cases[c].g = g;
        cases[c].vals[rows] = 40 + c;
        cases[c].vals[cols] = widths[c];
        CHECK_OK(gcase_make(g, cases[c].vals, &cases[c].c));
    }
    pthread_t t[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){k, cases, i, 0, ""};
        CHECK(pthread_create(&t[i], NULL, launcher, &w[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    for (int c = 0; c < NWIDTHS; c++) gcase_free(&cases[c].c);
    for (int i = 0; i < NTHREADS; i++) CHECKF(w[i].failures == 0, "thread %d: %s", i, w[i].why);
    tj_kernel_stats s = stats(k);
    CHECKF(s.compiles == NWIDTHS && s.specializations == NWIDTHS &&
               s.launches == NTHREADS * 24,
           "compiles %llu specializations %d launches %llu", (unsigned long long)s.compiles,
           s.specializations, (unsigned long long)s.launches);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- background compiles ----------------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_closed, gate_sym;

/* The real compile; a specialization (gate_sym bound) waits for the gate. */
static tj_status gated_compile(void *user, const tj_graph *g, const char *arch,
                               const int64_t *spec, void **cubin, size_t *size, emit_launch *L) {
    (void)user;
    pthread_mutex_lock(&gate_mu);
    while (gate_closed && spec[gate_sym] != TJ_UNBOUND) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    char *log = NULL;
    tj_status st = compile_graph(g, arch, spec, 0, cubin, size, &log, L);
    tj_free(log);
    return st;
}

TEST(test_gpu_runtime_background_compile_switches_from_dynamic_variant) {
    REQUIRE_RUNTIME();
    char dir[128];
    tj_graph *g = attention("rt_attn_bg", TJ_EXACT);
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir(dir, sizeof dir));
    CHECK(k);
    kernel_test_hooks h = {gated_compile, NULL, NULL, NULL};
    kernel_set_test_hooks(k, &h);
    gate_sym = tj_find_symbol(g, "seq").id;
    gate_closed = 1;
    int64_t vals[2];
    attn_vals(g, 2, 150, vals);
    RUN_AND_CHECK(k, g, vals, NULL);   /* the dynamic variant */
    attn_vals(g, 1, 77, vals);
    RUN_AND_CHECK(k, g, vals, NULL);   /* the same dynamic variant */
    tj_kernel_stats s = stats(k);
    CHECKF(s.fallback_launches == 2 && s.compiles == 1 && s.specializations == 1,
           "fallbacks %llu compiles %llu", (unsigned long long)s.fallback_launches,
           (unsigned long long)s.compiles);
    pthread_mutex_lock(&gate_mu);
    gate_closed = 0;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    kernel_wait_background(k);
    RUN_AND_CHECK(k, g, vals, NULL);   /* seq = 77, specialized */
    attn_vals(g, 2, 150, vals);
    RUN_AND_CHECK(k, g, vals, NULL);
    s = stats(k);
    CHECKF(s.fallback_launches == 2 && s.hits == 2 && s.compiles == 3 && s.specializations == 3,
           "fallbacks %llu hits %llu", (unsigned long long)s.fallback_launches,
           (unsigned long long)s.hits);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* ---- streams, the disk cache, bundles ---------------------------------------------- */

TEST(test_gpu_runtime_launches_on_the_callers_stream) {
    REQUIRE_RUNTIME();
    char dir[128];
    const char *rp[] = {"cols=exact", "dtype=f16"};
    tj_graph *g = recipe("softmax", 2, rp);
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir(dir, sizeof dir));
    CHECK(k);
    void *stream = NULL;
    CHECK_OK(drv_stream_create(&stream));
    int64_t vals[2];
    vals[tj_find_symbol(g, "rows").id] = 123;
    vals[tj_find_symbol(g, "cols").id] = 300;
    RUN_AND_CHECK(k, g, vals, stream);
    RUN_AND_CHECK(k, g, vals, stream);
    drv_stream_destroy(stream);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_runtime_second_kernel_loads_from_disk) {
    REQUIRE_RUNTIME();
    char dir[128];
    temp_dir(dir, sizeof dir);
    tj_graph *g = attention("rt_attn_disk", TJ_EXACT);
    CHECK(g);
    int64_t vals[2];
    attn_vals(g, 1, 90, vals);
    tj_kernel *a = make(g, 0, dir);
    CHECK(a);
    RUN_AND_CHECK(a, g, vals, NULL);
    CHECK(stats(a).compiles == 1);
    tj_kernel_destroy(a);
    tj_kernel *b = make(g, TJ_KERNEL_NO_COMPILE, dir);
    CHECK(b);
    RUN_AND_CHECK(b, g, vals, NULL);
    tj_kernel_stats s = stats(b);
    CHECKF(s.disk_hits == 1 && s.compiles == 0, "disk hits %llu compiles %llu",
           (unsigned long long)s.disk_hits, (unsigned long long)s.compiles);
    attn_vals(g, 1, 91, vals);
    gcase c;
    CHECK_OK(gcase_make(g, vals, &c));
    tj_status st = tj_kernel_launch(b, c.ptrs, c.scalars, vals, NULL);
    gcase_free(&c);
    CHECK_ERR(st, TJ_ERR_UNSUPPORTED, "no prebuilt kernel for key");
    tj_kernel_destroy(b);
    tj_graph_free(g);
}

TEST(test_gpu_runtime_bundle_serves_a_kernel_that_may_not_compile) {
    REQUIRE_RUNTIME();
    char dir[128], path[160];
    const char *rp[] = {"cols=exact", "dtype=f32"};
    tj_graph *g = recipe("layernorm", 2, rp);
    CHECK(g);
    int64_t vals[2];
    vals[tj_find_symbol(g, "rows").id] = 17;
    vals[tj_find_symbol(g, "cols").id] = 333;
    drv_device dev;
    CHECK_OK(drv_device_info(0, &dev));
    int64_t spec[2];
    cache_specialize(g, vals, spec);
    void *cubin = NULL;
    size_t size = 0;
    char *log = NULL;
    CHECK_OK(compile_graph(g, dev.arch, spec, 0, &cubin, &size, &log, NULL));
    tj_free(log);
    cache_key key;
    CHECK_OK(cache_key_for_compile(g, NULL, vals, dev.arch, NULL, &key));
    snprintf(path, sizeof path, "%s.bundle", temp_dir(dir, sizeof dir));
    cache_bundle_writer *w = NULL;
    CHECK_OK(cache_bundle_writer_open(path, &w));
    CHECK_OK(cache_bundle_writer_add(w, &key, cubin, size));
    CHECK_OK(cache_bundle_writer_close(w));
    tj_free(cubin);
    cache_key_free(&key);
    CHECK_OK(tj_add_bundle(path));
    tj_kernel *k = make(g, TJ_KERNEL_NO_COMPILE, temp_dir(dir, sizeof dir));
    CHECK(k);
    RUN_AND_CHECK(k, g, vals, NULL);
    tj_kernel_stats s = stats(k);
    CHECK(s.bundle_hits == 1 && s.compiles == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

TEST(test_gpu_runtime_cleanup) {
    if (!tmp_root[0]) SKIP("nothing to clean up");
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) { return harness_main(); }
