/*
 * gemm.c — the gemm_sm90 schedule (issue 5) against cuBLAS in the same
 * process on the same inputs: bf16 in, bf16 out, f32 accumulation.
 *
 *   bench_gemm [--quick] [--reps N] [--json FILE] [--commit SHA] [--sass DIR]
 *              [--only CASE-PREFIX] [--sweep] [--cluster N] [--cluster-force] [--splitk N]
 *              [--bk N]
 *
 * Each case builds the `gemm` recipe (a [M,K] row-major, b [N,K] row-major,
 * i.e. trans_b=1, the layout of x . W^T; tensors declared 16-byte aligned),
 * with the tile from the library's configuration model
 * (tj_gemm_config_candidates; the pick and its two runners-up measured,
 * the fastest kept: tile_candidates, run_case), and runs it through
 * tj_kernel_launch, as a user would. cuBLAS: cublasGemmEx (libcublas,
 * dlopen); the fused case (bias + GELU) against cuBLASLt's fused
 * GELU_BIAS epilogue (tanh GELU, as the recipe's act=gelu_tanh); one fp8
 * case (e4m3 a and b, bf16 out, bk 128) against cuBLASLt's fp8 matmul
 * (TN, unscaled, fast accumulation: like ours, no periodic promotion of
 * the tensor cores' partial sums).
 * Timing: a second of both in turn, then ours and the peer take turns in
 * rounds of 5 runs enqueued back to back with a CUDA event between each
 * (R runs of each in all, --reps), the median interval of each; the tile
 * candidates are compared the same way (a GPU at its power
 * limit slows within a run, which favoured whichever was timed first).
 * Correctness: 256 sampled
 * elements of ours and cuBLAS's output against a float64 dot product of
 * the same bf16 (or e4m3) inputs, every case, same run.
 * Also prints the kernel's registers and spills (ptxas) and, with
 * cuobjdump on the PATH, its SASS mix (HGMMA count, LDL/STL count).
 * --cluster N sets gs_cluster (1, the default: no clusters; 2: clusters
 * of two blocks sharing B's tile where the schedule expects a gain),
 * --cluster-force sets gs_cluster_force (pairs at every shape). The
 * knobs are not in the cache key and memory-only kernels share one store
 * in a process: compare settings in separate processes. Each result line
 * says whether its kernel ran in clusters.
 * Split-K in clusters (gs_splitk): without --splitk, each candidate is
 * built with the split the model gives it (the schedule's own automatic
 * split at that tile and shape, forced so the kernel is the one scored);
 * --splitk N sets gs_splitk N for every kernel instead (1: never split;
 * 0: the schedule's own choice; 2, 4, 8: forced). --bk N: only the
 * candidates with that K tile (16-bit cases; the model's by default).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "emit.h"
#include "gemm_sm90.h"
#include "nvrtc.h"
#include "templates.h"

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", tj_last_error()); exit(1); } while (0)

static int reps = 50;
static const char *only;   /* --only: cases whose name starts so */
static FILE *json;
static const char *commit = "unknown", *sass_dir = NULL;
static drv_device dev;
static int splitk_flag = -1;   /* --splitk N; -1: the model's split per candidate */
static int bk16 = 0;           /* --bk N: the K tile of the 16-bit cases (0: the model's) */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t x = rng * 0x2545F4914F6CDD1DULL;
    return (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* n random e4m3 values in [-2, 2) on the device (the range the gpu tests
 * use: 3 mantissa bits, far from 448); the host copy kept for the check. */
static drv_ptr device_random_f8(size_t n, uint8_t **host) {
    drv_ptr p;
    if (drv_mem_alloc(n, &p) != TJ_OK) DIE("alloc %zu bytes", n);
    uint8_t *h = malloc(n);
    if (!h) DIE("host alloc");
    for (size_t i = 0; i < n; i++) {
        float f = 2.0f * frand();
        tj_convert(TJ_F8E4M3, &h[i], TJ_F32, &f, 1);
    }
    if (drv_memcpy_htod(p, h, n) != TJ_OK) DIE("copy");
    *host = h;
    return p;
}

/* n random bf16 values on the device; the host copy kept for the check. */
static drv_ptr device_random(size_t n, uint16_t **host) {
    drv_ptr p;
    if (drv_mem_alloc(n * 2, &p) != TJ_OK) DIE("alloc %zu bytes", n * 2);
    uint16_t *h = malloc(n * 2);
    if (!h) DIE("host alloc");
    for (size_t i = 0; i < n; i++) {
        float f = frand();
        tj_convert(TJ_BF16, &h[i], TJ_F32, &f, 1);
    }
    if (drv_memcpy_htod(p, h, n * 2) != TJ_OK) DIE("copy");
    *host = h;
    return p;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);
static float time_median(bench_fn fn, void *ctx) {
    void *ev[1024];
    int r = reps > 1000 ? 1000 : reps;
    for (int i = 0; i <= r; i++) drv_event_create(&ev[i]);
    for (int i = 0; i < 5; i++) fn(ctx);
    drv_context_sync();
    for (int i = 0; i < r; i++) {
        drv_event_record(ev[i], NULL);
        fn(ctx);
    }
    drv_event_record(ev[r], NULL);
    drv_event_sync(ev[r]);
    float ms[1024];
    for (int i = 0; i < r; i++) drv_event_elapsed_ms(ev[i], ev[i + 1], &ms[i]);
    for (int i = 0; i <= r; i++) drv_event_destroy(ev[i]);
    qsort(ms, (size_t)r, sizeof(float), cmp_float);
    return ms[r / 2];
}

/* Medians (ms) of fa and fb, each launch event-timed, the two taking
 * turns in rounds of 5 launches (reps of each in all) after a second of
 * both, so both run at the same, sustained clocks: at its power limit the
 * H200 slowed 4096x14336x4096 and 16384x4096x4096 GEMMs by 12-18 %
 * within one process, and whichever side was timed first (the tile
 * candidates, then ours before cuBLAS) gained from it. */
static void time_pair(bench_fn fa, void *ca, bench_fn fb, void *cb_, float *ma, float *mb) {
    enum { ROUND = 5 };
    int r = reps > 1000 ? 1000 : reps;
    r = (r + ROUND - 1) / ROUND * ROUND;
    float *ms[2] = {malloc(sizeof(float) * (size_t)r), malloc(sizeof(float) * (size_t)r)};
    void *ev[ROUND + 1];
    for (int i = 0; i <= ROUND; i++) drv_event_create(&ev[i]);
    bench_fn f[2] = {fa, fb};
    void *cx[2] = {ca, cb_};
    /* warm-up: both in turn for a second, to the clocks a sustained
     * load runs at (the first few hundred ms ran up to 15 % faster) */
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    do {
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < ROUND; i++) f[side](cx[side]);
        drv_context_sync();
        clock_gettime(CLOCK_MONOTONIC, &w1);
    } while ((double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec) < 1.0);
    for (int done = 0; done < r; done += ROUND) {
        for (int side = 0; side < 2; side++) {
            for (int i = 0; i < ROUND; i++) {
                drv_event_record(ev[i], NULL);
                f[side](cx[side]);
            }
            drv_event_record(ev[ROUND], NULL);
            drv_event_sync(ev[ROUND]);
            for (int i = 0; i < ROUND; i++) drv_event_elapsed_ms(ev[i], ev[i + 1], &ms[side][done + i]);
        }
    }
    for (int i = 0; i <= ROUND; i++) drv_event_destroy(ev[i]);
    for (int side = 0; side < 2; side++) qsort(ms[side], (size_t)r, sizeof(float), cmp_float);
    *ma = ms[0][r / 2];
    *mb = ms[1][r / 2];
    free(ms[0]);
    free(ms[1]);
}

/* ---- cuBLAS and cuBLASLt (dlopen; enum values from cublas_api.h / cublasLt.h) ---- */

enum { CUDA_R_32F = 0, CUDA_R_16BF = 14, CUDA_R_8F_E4M3 = 28, CUBLAS_COMPUTE_32F = 68,
       CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, LT_DESC_TRANSA = 3, LT_DESC_TRANSB = 4,
       LT_DESC_EPILOGUE = 7, LT_DESC_BIAS_POINTER = 8, LT_DESC_FAST_ACCUM = 25,
       LT_PREF_MAX_WORKSPACE = 1, LT_EPILOGUE_GELU_BIAS = 36 };

typedef struct { uint64_t data[8]; size_t workspace; int state; float waves; int reserved[4]; } lt_heur;

static struct {
    void *h, *lt;
    void *handle, *lt_handle;
    int (*gemm_ex)(void *, int, int, int, int, int, const void *, const void *, int, int,
                   const void *, int, int, const void *, void *, int, int, int, int);
    int (*lt_desc_create)(void **, int, int);
    int (*lt_desc_set)(void *, int, const void *, size_t);
    int (*lt_layout_create)(void **, int, uint64_t, uint64_t, int64_t);
    int (*lt_pref_create)(void **);
    int (*lt_pref_set)(void *, int, const void *, size_t);
    int (*lt_heuristic)(void *, void *, void *, void *, void *, void *, void *, int, lt_heur *, int *);
    int (*lt_matmul)(void *, void *, const void *, const void *, void *, const void *, void *,
                     const void *, const void *, void *, void *, void *, const void *, void *,
                     size_t, void *);
} cb;

static void *open_first(const char *const *names, int n) {
    void *h = NULL;
    for (int i = 0; i < n && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    return h;
}

static int cublas_open(void) {
    static const char *b[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12",
                              "/usr/local/cuda/lib64/libcublas.so"};
    static const char *l[] = {"libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12",
                              "/usr/local/cuda/lib64/libcublasLt.so"};
    cb.lt = open_first(l, 4);
    cb.h = open_first(b, 4);
    if (!cb.h) return 0;
    int (*create)(void **) = (int (*)(void **))dlsym(cb.h, "cublasCreate_v2");
    *(void **)&cb.gemm_ex = dlsym(cb.h, "cublasGemmEx");
    if (!create || !cb.gemm_ex || create(&cb.handle)) return 0;
    if (cb.lt) {
        int (*lc)(void **) = (int (*)(void **))dlsym(cb.lt, "cublasLtCreate");
        *(void **)&cb.lt_desc_create = dlsym(cb.lt, "cublasLtMatmulDescCreate");
        *(void **)&cb.lt_desc_set = dlsym(cb.lt, "cublasLtMatmulDescSetAttribute");
        *(void **)&cb.lt_layout_create = dlsym(cb.lt, "cublasLtMatrixLayoutCreate");
        *(void **)&cb.lt_pref_create = dlsym(cb.lt, "cublasLtMatmulPreferenceCreate");
        *(void **)&cb.lt_pref_set = dlsym(cb.lt, "cublasLtMatmulPreferenceSetAttribute");
        *(void **)&cb.lt_heuristic = dlsym(cb.lt, "cublasLtMatmulAlgoGetHeuristic");
        *(void **)&cb.lt_matmul = dlsym(cb.lt, "cublasLtMatmul");
        if (!lc || !cb.lt_matmul || !cb.lt_heuristic || lc(&cb.lt_handle)) cb.lt = NULL;
    }
    return 1;
}

typedef struct mm_case {
    int64_t m, n, k;
    int fused, fp8;   /* fp8: e4m3 a and b (ha8, hb8), bf16 c */
    drv_ptr a, b, bias, c, c_peer, ws;
    uint16_t *ha, *hb, *hbias;
    uint8_t *ha8, *hb8;
    tj_kernel *kern, *alt;   /* alt: the other 128-row tile while they are compared */
    tj_graph *g, *galt;
    int split, split_alt;    /* gs_splitk each was built with */
    int64_t vals[3];
    uint64_t ptrs[4];
    void *lt_desc, *la, *lb, *lc;
    lt_heur algo;
    int have_lt;
} mm_case;

/* Row-major C[M,N] = A[M,K] . B[N,K]^T is column-major C^T = B . A^T:
 * op(B) = T on the [K,N] column-major view of B, op(A) = N. */
static void cublas_run(void *ctx) {
    mm_case *c = ctx;
    float one = 1.0f, zero = 0.0f;
    int r = cb.gemm_ex(cb.handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)c->n, (int)c->m, (int)c->k, &one,
                       (void *)c->b, CUDA_R_16BF, (int)c->k, (void *)c->a, CUDA_R_16BF, (int)c->k,
                       &zero, (void *)c->c_peer, CUDA_R_16BF, (int)c->n, CUBLAS_COMPUTE_32F, -1);
    if (r) { fprintf(stderr, "cublasGemmEx: status %d\n", r); exit(1); }
}

/* cuBLASLt for the fused case (GELU_BIAS epilogue) or the fp8 one (e4m3
 * operands: cuBLASLt's fp8 kernels want exactly this TN form; scale
 * pointers left unset mean 1). */
static int lt_setup(mm_case *c) {
    if (!cb.lt) return 0;
    int ta = CUBLAS_OP_T, tb = CUBLAS_OP_N, epi = LT_EPILOGUE_GELU_BIAS;
    int8_t fast = 1;
    void *bias = (void *)c->bias;
    size_t wsz = 32u << 20;
    int in_type = c->fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
    if (cb.lt_desc_create(&c->lt_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) ||
        cb.lt_desc_set(c->lt_desc, LT_DESC_TRANSA, &ta, sizeof ta) ||
        cb.lt_desc_set(c->lt_desc, LT_DESC_TRANSB, &tb, sizeof tb))
        return 0;
    if (c->fused && (cb.lt_desc_set(c->lt_desc, LT_DESC_EPILOGUE, &epi, sizeof epi) ||
                     cb.lt_desc_set(c->lt_desc, LT_DESC_BIAS_POINTER, &bias, sizeof bias)))
        return 0;
    if (c->fp8 && cb.lt_desc_set(c->lt_desc, LT_DESC_FAST_ACCUM, &fast, sizeof fast)) return 0;
    if (cb.lt_layout_create(&c->la, in_type, (uint64_t)c->k, (uint64_t)c->n, c->k) ||
        cb.lt_layout_create(&c->lb, in_type, (uint64_t)c->k, (uint64_t)c->m, c->k) ||
        cb.lt_layout_create(&c->lc, CUDA_R_16BF, (uint64_t)c->n, (uint64_t)c->m, c->n))
        return 0;
    void *pref;
    if (cb.lt_pref_create(&pref) || cb.lt_pref_set(pref, LT_PREF_MAX_WORKSPACE, &wsz, sizeof wsz))
        return 0;
    if (drv_mem_alloc(wsz, &c->ws) != TJ_OK) return 0;
    int got = 0;
    if (cb.lt_heuristic(cb.lt_handle, c->lt_desc, c->la, c->lb, c->lc, c->lc, pref, 1, &c->algo,
                        &got) || got < 1)
        return 0;
    return 1;
}

static void lt_run(void *ctx) {
    mm_case *c = ctx;
    float one = 1.0f, zero = 0.0f;
    int r = cb.lt_matmul(cb.lt_handle, c->lt_desc, &one, (void *)c->b, c->la, (void *)c->a, c->lb,
                         &zero, (void *)c->c_peer, c->lc, (void *)c->c_peer, c->lc, &c->algo,
                         (void *)c->ws, 32u << 20, NULL);
    if (r) { fprintf(stderr, "cublasLtMatmul: status %d\n", r); exit(1); }
}

static void ours_run(void *ctx) {
    mm_case *c = ctx;
    if (tj_kernel_launch(c->kern, c->ptrs, NULL, c->vals, NULL) != TJ_OK) DIE("tj_kernel_launch");
}

static void alt_run(void *ctx) {
    mm_case *c = ctx;
    if (tj_kernel_launch(c->alt, c->ptrs, NULL, c->vals, NULL) != TJ_OK) DIE("tj_kernel_launch");
}

/* ---- the tile configuration ---------------------------------------------- */

/* The library's configuration model (tj_gemm_config_candidates,
 * gen/recipes/gemm_config.c): its candidates for the case, best first,
 * each with the split the schedule's automatic rule gives it. --bk N
 * (16-bit cases) keeps the candidates with that K tile. */
static int tile_candidates(const mm_case *c, tj_gemm_config *out, int max) {
    tj_gemm_config all[TJ_GEMM_MAX_CONFIGS];
    int n = 0, kept = 0;
    if (tj_gemm_config_candidates(dev.arch, dev.sm_count, c->m, c->n, c->k,
                                  c->fp8 ? TJ_F8E4M3 : TJ_BF16, all, TJ_GEMM_MAX_CONFIGS,
                                  &n) != TJ_OK)
        DIE("tj_gemm_config_candidates");
    for (int i = 0; i < n && kept < max; i++)
        if (c->fp8 || !bk16 || all[i].bk == bk16) out[kept++] = all[i];
    if (!kept) DIE("no candidate with --bk %d", bk16);
    return kept;
}

/* gs_splitk for a kernel built with split s (--splitk N overrides). */
static int splitk_knob(int s) { return splitk_flag >= 0 ? splitk_flag : s; }

/* Blocks a cluster of the kernel tilejit emits for c's graph g (1: none). */
static unsigned kernel_cluster(const mm_case *c, const tj_graph *g) {
    char *src = NULL;
    emit_launch L;
    memset(&L, 0, sizeof L);
    gs_splitk = splitk_knob(c->split);
    if (emit_kernel(g, dev.arch, c->vals, NULL, &src, &L) != TJ_OK) DIE("emit");
    free(src);
    return L.cluster[0] ? L.cluster[0] : 1;
}

/* ---- checks ----------------------------------------------------------------- */

static double bf(uint16_t x) {
    float f;
    tj_convert(TJ_F32, &f, TJ_BF16, &x, 1);
    return f;
}

static double f8(uint8_t x) {
    float f;
    tj_convert(TJ_F32, &f, TJ_F8E4M3, &x, 1);
    return f;
}

/* Element idx of the operands' host copies, as the kernels read it. */
static double in_a(const mm_case *c, int64_t idx) {
    return c->fp8 ? f8(c->ha8[idx]) : bf(c->ha[idx]);
}
static double in_b(const mm_case *c, int64_t idx) {
    return c->fp8 ? f8(c->hb8[idx]) : bf(c->hb[idx]);
}

static double gelu_tanh(double x) {
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* Max relative error over 256 sampled elements of `out` (device, bf16)
 * against a float64 reference: |got - want| / max(|want|, 1). */
static double sample_error(mm_case *c, drv_ptr out) {
    double worst = 0;
    uint64_t s = 0x5eed;
    for (int t = 0; t < 256; t++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t i = (int64_t)((s >> 33) % (uint64_t)c->m), j = (int64_t)((s >> 13) % (uint64_t)c->n);
        double want = 0;
        for (int64_t k = 0; k < c->k; k++) want += in_a(c, i * c->k + k) * in_b(c, j * c->k + k);
        if (c->fused) want = gelu_tanh(want + bf(c->hbias[j]));
        uint16_t got;
        if (drv_memcpy_dtoh(&got, out + (uint64_t)(i * c->n + j) * 2, 2) != TJ_OK) DIE("dtoh");
        double e = fabs(bf(got) - want) / fmax(fabs(want), 1.0);
        if (!(e <= worst)) worst = e;   /* NaN counts as the worst */
    }
    return worst;
}

/* ptxas's register and spill line and the SASS mix of our kernel. */
static void resources(mm_case *c, const char *cas) {
    char *src = NULL;
    emit_launch L;
    gs_splitk = splitk_knob(c->split);
    if (emit_kernel(c->g, dev.arch, c->vals, NULL, &src, &L) != TJ_OK) DIE("emit");
    nvrtc_header hs[64];
    int nh = tj_template_count();
    for (int i = 0; i < nh && i < 64; i++) hs[i] = (nvrtc_header){tj_template_name(i), tj_template_text(i)};
    static const char *opts[] = {"-Xptxas=-v"};
    nvrtc_request req = {.source = src, .name = "gemm.cu", .arch = dev.arch, .headers = hs,
                         .nheaders = nh, .options = opts, .noptions = 1};
    nvrtc_result res = {0};
    if (nvrtc_compile(&req, &res) != TJ_OK) DIE("compile");
    const char *r = res.log ? strstr(res.log, "Used ") : NULL, *sp = res.log ? strstr(res.log, "bytes stack") : NULL;
    char regs[64] = "?", spill[96] = "?";
    if (r) sscanf(r, "Used %63[^,]", regs);
    if (sp) {
        const char *b = sp;
        while (b > res.log && b[-1] != '\n') b--;
        snprintf(spill, sizeof spill, "%.*s", (int)(strchr(sp, '\n') ? strchr(sp, '\n') - b : 80), b);
    }
    printf("  %-22s schedule %s: %s;%s\n", cas, L.schedule, regs, spill + strspn(spill, " ptxas."));
    if (sass_dir) {
        char path[512], cmd[1200];
        snprintf(path, sizeof path, "%s/%s.cubin", sass_dir, cas);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(res.cubin, 1, res.cubin_size, f);
            fclose(f);
            snprintf(cmd, sizeof cmd,
                     "cuobjdump --dump-sass '%s' > '%s.sass' 2>/dev/null && printf '  %%-22s SASS: "
                     "HGMMA %%s, LDL %%s, STL %%s, instructions %%s\\n' '%s' "
                     "$(grep -c HGMMA '%s.sass') $(grep -c 'LDL' '%s.sass') "
                     "$(grep -c 'STL' '%s.sass') $(grep -cE '^ +/\\*[0-9a-f]+\\*/' '%s.sass')",
                     path, path, cas, path, path, path, path);
            if (system(cmd) != 0) printf("  %-22s SASS: cuobjdump failed\n", cas);
        }
    }
    nvrtc_result_free(&res);
    free(src);
}

static void report(const char *cas, double ours, const char *peer, double peer_v, double err,
                   double peer_err, const char *cfg) {
    double ratio = peer_v > 0 ? ours / peer_v : 0;
    printf("%-24s %9.1f %9.1f %-9s %6.3f  err %.2e (peer %.2e)  %s\n", cas, ours, peer_v, peer,
           ratio, err, peer_err, cfg);
    fflush(stdout);
    if (json) {
        char date[16];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
        fprintf(json,
                "{\"case\": \"%s\", \"ours\": %.1f, \"peer\": \"%s\", \"peer_value\": %.1f, "
                "\"ratio\": %.3f, \"unit\": \"TFLOP/s\", \"max_rel_err\": %.4f, \"device\": \"%s\", "
                "\"date\": \"%s\", \"commit\": \"%s\"}\n",
                cas, ours, peer, peer_v, ratio, err, dev.name, date, commit);
        fflush(json);
    }
}

/* g under the name `name`, g freed: the kernel cache keys kernels by
 * graph (its name included), bindings and arch, not by gs_splitk, and
 * memory-only kernels share one store in a process; a kernel built with
 * one split must not be served to a build with another. */
static tj_graph *renamed(tj_graph *g, const char *name) {
    char *text = NULL, *out = NULL;
    tj_graph *h = NULL;
    if (tj_graph_print(g, &text) != TJ_OK) DIE("print");
    const char *at = strstr(text, "graph gemm\n");
    size_t len = strlen(text) + 64;
    if (!at || !(out = malloc(len))) DIE("rename");
    snprintf(out, len, "%.*sgraph %s\n%s", (int)(at - text), text, name, at + strlen("graph gemm\n"));
    if (tj_graph_parse(out, strlen(out), "bench", &h) != TJ_OK) DIE("parse");
    free(out);
    tj_free(text);
    tj_graph_free(g);
    return h;
}

/* Build the recipe at tile bm x bn x bk (bk 0: the recipe's auto), K split
 * in clusters of `split` (1: not), and its tj_kernel into *g / *k
 * (replacing any there). The kernel is emitted at its first launch, here,
 * with gs_splitk set. */
static void ours_build(mm_case *c, int bm, int bn, int bkv, int split, tj_graph **g,
                       tj_kernel **k) {
    gs_splitk = splitk_knob(split);
    char name[32];
    snprintf(name, sizeof name, gs_splitk == 1 ? "gemm" : "gemm_s%d", gs_splitk);
    tj_kernel_destroy(*k);
    tj_graph_free(*g);
    *k = NULL;
    char p[4][32];
    snprintf(p[0], sizeof p[0], "bm=%d", bm);
    snprintf(p[1], sizeof p[1], "bn=%d", bn);
    snprintf(p[2], sizeof p[2], "trans_b=1");
    snprintf(p[3], sizeof p[3], c->fused ? "bias=1" : "bias=0");
    /* bk auto: one 128-byte swizzle line (64 16-bit, 128 fp8 elements) */
    char bk[16];
    if (bkv) snprintf(bk, sizeof bk, "bk=%d", bkv);
    else snprintf(bk, sizeof bk, "bk=auto");
    const char *params[7] = {p[0], p[1], p[2], p[3], bk,
                             c->fused ? "act=gelu_tanh" : "act=none",
                             c->fp8 ? "dtype=f8e4m3" : "dtype=bf16"};
    if (tj_recipe_build("gemm", 7, params, g) != TJ_OK) DIE("recipe");
    *g = renamed(*g, name);
    for (int t = 0; t < tj_num_tensors(*g); t++) tj_tensor_set_align(*g, (tj_tensor){t}, 16);
    c->vals[tj_find_symbol(*g, "M").id] = c->m;
    c->vals[tj_find_symbol(*g, "N").id] = c->n;
    c->vals[tj_find_symbol(*g, "K").id] = c->k;
    tj_kernel_options o = {NULL, 0, ""};
    if (tj_kernel_create(*g, &o, k) != TJ_OK) DIE("tj_kernel_create");
    if (tj_kernel_launch(*k, c->ptrs, NULL, c->vals, NULL) != TJ_OK) DIE("tj_kernel_launch");
}

/* After timing c's kernel (t0) against its alternative (t1): the faster
 * one (with its split) becomes c's kernel, the other is freed; 1 when
 * that was the alternative. */
static int keep_faster(mm_case *c, float t0, float t1) {
    int alt = t1 < t0;
    if (alt) {
        tj_kernel *tk = c->kern;
        tj_graph *tg = c->g;
        c->kern = c->alt, c->g = c->galt, c->alt = tk, c->galt = tg;
        c->split = c->split_alt;
    }
    tj_kernel_destroy(c->alt);
    tj_graph_free(c->galt);
    c->alt = NULL, c->galt = NULL;
    return alt;
}

/* One case. The tile: forced (a sweep row), else the library model's
 * pick (tj_gemm_config_candidates) measured against its two runners-up
 * (each against the best so far, taking turns) and the fastest kept: what
 * `tilejit tune` does and stores per shape. */
#define BENCH_CANDIDATES 3
static double run_case(int64_t m, int64_t n, int64_t k, int fused, int fp8, int force_bm,
                       int force_bn, int force_split) {
    mm_case c;
    memset(&c, 0, sizeof c);
    c.m = m, c.n = n, c.k = k, c.fused = fused, c.fp8 = fp8;
    tj_gemm_config cand[BENCH_CANDIDATES];
    int ncand = 1;
    if (force_bm)
        cand[0] = (tj_gemm_config){force_bm, force_bn, fp8 ? 128 : bk16 ? bk16 : 64,
                                   force_split ? force_split : 1, 0, 0};
    else
        ncand = tile_candidates(&c, cand, BENCH_CANDIDATES);
    char cfg[320], cas[64];
    snprintf(cas, sizeof cas, "%lldx%lldx%lld%s%s%s", (long long)m, (long long)n, (long long)k,
             fp8 ? "-e4m3" : "", fused ? "+bias+gelu" : "", force_bm ? "@" : "");
    if (only && strncmp(cas, only, strlen(only))) return 0;
    if (fp8) {
        c.a = device_random_f8((size_t)(m * k), &c.ha8);
        c.b = device_random_f8((size_t)(n * k), &c.hb8);
    } else {
        c.a = device_random((size_t)(m * k), &c.ha);
        c.b = device_random((size_t)(n * k), &c.hb);
    }
    if (fused) c.bias = device_random((size_t)n, &c.hbias);
    if (drv_mem_alloc((size_t)(m * n) * 2, &c.c) != TJ_OK ||
        drv_mem_alloc((size_t)(m * n) * 2, &c.c_peer) != TJ_OK)
        DIE("alloc c");
    drv_memset_d8(c.c, 0xff, (size_t)(m * n) * 2);        /* NaN until written */
    drv_memset_d8(c.c_peer, 0xff, (size_t)(m * n) * 2);
    int np = 0;
    c.ptrs[np++] = c.a;
    c.ptrs[np++] = c.b;
    if (fused) c.ptrs[np++] = c.bias;
    c.ptrs[np++] = c.c;
    double flop = 2.0 * (double)m * (double)n * (double)k;
    int best = 0;
    c.split = cand[0].split;
    ours_build(&c, cand[0].bm, cand[0].bn, cand[0].bk, c.split, &c.g, &c.kern);
    char tried[240] = "";
    for (int ci = 1; ci < ncand; ci++) {
        c.split_alt = cand[ci].split;
        ours_build(&c, cand[ci].bm, cand[ci].bn, cand[ci].bk, c.split_alt, &c.galt, &c.alt);
        float t0, t1;
        time_pair(ours_run, &c, alt_run, &c, &t0, &t1);
        size_t o = strlen(tried);
        snprintf(tried + o, sizeof tried - o, " (%dx%dx%d split %d: %.1f)", cand[ci].bm,
                 cand[ci].bn, cand[ci].bk, cand[ci].split, flop / (t1 * 1e-3) / 1e12);
        if (keep_faster(&c, t0, t1)) best = ci;
    }
    int bm = cand[best].bm, bn = cand[best].bn, kt = cand[best].bk;
    unsigned cl = kernel_cluster(&c, c.g);
    snprintf(cfg, sizeof cfg, "tile %dx%dx%d%s %s %u%s%s", bm, bn, kt,
             bm == 128 && bn <= 128 && c.split == 1 ? " pingpong" : "",
             c.split > 1 || (splitk_flag != 1 && cl > 1 && gs_cluster == 1) ? "splitk" : "cluster",
             cl, best ? " (not the model's pick)" : force_bm ? "" : " (the model's pick)", tried);
    double ours = 0, peer_v = 0;
    const char *peer = "cublas";
    bench_fn peer_fn = NULL;
    if ((fused || fp8) && lt_setup(&c)) {
        peer = "cublaslt";
        peer_fn = lt_run;
    } else if (!fused && !fp8) {
        peer_fn = cublas_run;
    } else {
        peer = "none";
    }
    if (peer_fn) {   /* the winner against the peer, taking turns */
        float to, tp;
        time_pair(ours_run, &c, peer_fn, &c, &to, &tp);
        ours = flop / (to * 1e-3) / 1e12;
        peer_v = flop / (tp * 1e-3) / 1e12;
    } else {
        ours = flop / (time_median(ours_run, &c) * 1e-3) / 1e12;
    }
    /* The kernel alive is the one reported: its output is checked. */
    drv_memset_d8(c.c, 0xff, (size_t)(m * n) * 2);
    ours_run(&c);
    drv_context_sync();
    double err = sample_error(&c, c.c), perr = peer_v > 0 ? sample_error(&c, c.c_peer) : 0;
    if (force_bm) {   /* a sweep row: not a result */
        printf("  sweep %-22s %-16s %7.1f TFLOP/s (peer %.1f), err %.2e\n", cas, cfg, ours, peer_v, err);
    } else {
        report(cas, ours, peer, peer_v, err, perr, cfg);
        resources(&c, cas);
    }
    tj_kernel_destroy(c.kern);
    tj_graph_free(c.g);
    drv_mem_free(c.a);
    drv_mem_free(c.b);
    drv_mem_free(c.bias);
    drv_mem_free(c.c);
    drv_mem_free(c.c_peer);
    drv_mem_free(c.ws);
    free(c.ha);
    free(c.hb);
    free(c.ha8);
    free(c.hb8);
    free(c.hbias);
    return peer_v > 0 ? ours / peer_v : 0;
}

int main(int argc, char **argv) {
    int quick = 0, sweep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = fopen(argv[++i], "w");
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
        else if (!strcmp(argv[i], "--sass") && i + 1 < argc) sass_dir = argv[++i];
        else if (!strcmp(argv[i], "--sweep")) sweep = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--cluster") && i + 1 < argc) gs_cluster = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cluster-force")) gs_cluster_force = 1;
        else if (!strcmp(argv[i], "--splitk") && i + 1 < argc) splitk_flag = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bk") && i + 1 < argc) bk16 = atoi(argv[++i]);
    }
    if (splitk_flag != -1 && splitk_flag != 0 && splitk_flag != 1 && splitk_flag != 2 &&
        splitk_flag != 4 && splitk_flag != 8)
        DIE("--splitk takes 0, 1, 2, 4 or 8");
    if (gs_cluster != 1 && gs_cluster != 2) DIE("--cluster takes 1 or 2");
    if (reps < 1) reps = 1;
    int ord = 0;
    const char *why = NULL;
    if (!drv_available(&why)) DIE("no device (%s)", why ? why : "");
    if (drv_device_info(0, &dev) != TJ_OK) DIE("device");
    void *ctx;
    if (drv_context_current(ord, &ctx) != TJ_OK) DIE("context");
    if (!cublas_open()) DIE("cuBLAS not found");
    char sk[32] = "picked per shape";
    if (splitk_flag >= 0) snprintf(sk, sizeof sk, "%d", splitk_flag);
    printf("%s (%s, %d SMs), bf16 GEMM (and one e4m3), median of %d runs, gs_cluster %d%s, "
           "split-K %s\n",
           dev.name, dev.arch, dev.sm_count, reps, gs_cluster, gs_cluster_force ? " (forced)" : "",
           sk);
    printf("%-24s %9s %9s %-9s %6s\n", "case MxNxK", "ours", "peer", "peer", "ratio");
    static const int64_t shapes[][3] = {{2048, 2048, 2048},   {4096, 4096, 4096},
                                        {8192, 8192, 8192},   {4096, 14336, 4096},
                                        {4096, 4096, 14336},  {16384, 4096, 4096},
                                        {8192, 8192, 512},    {128, 4096, 4096}};
    double logsum = 0;
    int n = 0;
    for (int i = 0; i < 8; i++) {
        if (quick && i != 1 && i != 7) continue;
        double r = run_case(shapes[i][0], shapes[i][1], shapes[i][2], 0, 0, 0, 0, 0);
        if (r > 0) logsum += log(r), n++;
    }
    double fr = run_case(4096, 14336, 4096, 1, 0, 0, 0, 0);
    double f8r = run_case(4096, 4096, 4096, 0, 1, 0, 0, 0);
    if (n)
        printf("geometric mean ratio (plain GEMMs): %.3f; fused: %.3f; fp8 e4m3: %.3f\n",
               exp(logsum / n), fr, f8r);
    if (sweep) {   /* every tile shape at a few shapes, for the model's rates */
        static const int sc[][3] = {{128, 256, 1}, {128, 128, 1}, {64, 128, 1}, {64, 64, 1},
                                    {256, 128, 1}, {64, 128, 2}, {128, 256, 4}, {128, 128, 2},
                                    {64, 256, 2},  {128, 256, 8}, {128, 128, 4}};
        static const int sw[] = {0, 1, 6, 7};
        for (int s = 0; s < 4; s++)
            for (int c = 0; c < 11; c++)   /* splits only where the tiles are few */
                if (sc[c][2] == 1 || splitk_flag < 0)
                    if (sc[c][2] == 1 || ((shapes[sw[s]][0] + sc[c][0] - 1) / sc[c][0]) *
                                                 ((shapes[sw[s]][1] + sc[c][1] - 1) / sc[c][1]) *
                                                 sc[c][2] <= 2 * dev.sm_count)
                        run_case(shapes[sw[s]][0], shapes[sw[s]][1], shapes[sw[s]][2], 0, 0,
                                 sc[c][0], sc[c][1], sc[c][2]);
    }
    if (json) fclose(json);
    return 0;
}
