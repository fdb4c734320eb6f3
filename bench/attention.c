/*
 * attention.c — forward attention (issue 8) on the FlashAttention-3
 * paper's sweep, launched through the public runtime (tj_kernel_launch:
 * what users run), next to torch's SDPA with the cuDNN and the flash
 * backends (bench/attention_torch.py, run just before in the same device
 * call, its JSON lines read with --torch).
 *
 *   bench_attention [--quick] [--json FILE] [--torch FILE] [--commit SHA]
 *                   [--only d128-n8192] [--block-m N] [--block-n N] [--exp2-poly K] [--o-smem 0|1]
 *                   [--q-late] [--causal-graph] [--by-length] [--fp8]
 *
 * --fp8: fp8 attention instead (e4m3 q, k and v given transposed, keys
 * contiguous: the recipe's dtype=f8e4m3 v_layout=t; bf16 o; v_scale 1),
 * d 128 (--only d64 / d256 for the others), N 2048 .. 16384, causal and
 * not, each point next to the bf16 kernel of the same shape measured just
 * before (peer `bf16`; torch's SDPA has no fp8). Checked as the bf16
 * points, against a float64 reference from the e4m3 inputs (p unrounded:
 * an fp8 p costs a few % of |o|).
 *
 * --by-length: the recipe's tiles by length (tj_recipe_attention_by_length,
 * one kernel by seq through tj_kernel_create_by_symbol) for the cases
 * without a score modifier, as a user asking for the auto tiles gets them.
 *
 * Sweep: bf16, 16k tokens a batch (batch = 16384 / N), hidden 2048
 * (heads = 2048 / d), N = 512 .. 16384, d = 64 / 128 / 256, causal and not.
 * TFLOP/s count 4·batch·heads·N²·d (halved when causal), the paper's
 * convention. Score modifiers (softcap 30, ALiBi with computed slopes) are
 * measured at d 128, N 2048 and 8192, reported against the plain case as
 * peer `plain` (the ratio is what the modifier costs).
 * Every point is checked in the same run: 24 sampled query rows of o
 * against a float64 reference on the CPU from the same bf16 inputs
 * (max_abs_err in the JSON, and max_rel_err: that over the mean |o| of
 * the rows; bf16 outputs, so a few 1e-3 is expected).
 * Timing: CUDA events, 3 warm-up runs, the median of 20 (5 with --quick).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention_sm90.h"
#include "driver.h"
#include "ir.h"

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", tj_last_error()); exit(1); } while (0)

#include "bench_util.h"

static FILE *json;
static const char *commit = "unknown";
static char devname[256];

static int force_bn; /* --block-n: every case's block_n (0: tiles()) */
static int force_bm; /* --block-m: every case's block_m (0: tiles()) */
static int by_length; /* --by-length: tj_recipe_attention_by_length's tiles, one
                       * kernel by seq (tj_kernel_create_by_symbol) */

/* Tile sizes a head dim gets: FlashAttention-3's choices where the
 * schedule's register budget allows them: the recipe's auto tiles for one
 * graph (block_m 192 at d 64, block_n 80 at d 256), passed explicitly;
 * --block-m / --block-n measure others, --by-length the recipe's tiles by
 * length.
 * --exp2-poly K sets as_exp2_poly, --o-smem as_o_smem, --q-late clears
 * as_q_early, --causal-graph as_causal_pairs (each run is its own
 * process, so the kernels of two settings never share a cache). */
static void tiles(int d, int causal, int *bm, int *bn) {
    (void)causal;
    /* d 64: three consumer warpgroups of 64 rows (FlashAttention-3's
     * 192-row tile there: its softmax outlasts one warpgroup's products) */
    *bm = force_bm ? force_bm : d == 64 ? 192 : 128;
    *bn = force_bn ? force_bn : d == 256 ? 80 : 128;
}

typedef struct acase {
    tj_graph *g;
    tj_kernel *k;
    int64_t vals[8];      /* batch, seq (seq_kv), fp8's vt strides */
    uint64_t ptrs[4];
    double scale;
} acase;

/* The schedule the dispatcher picks for c's graph at its bindings on this
 * device ("?" when emitting fails). */
static void schedule_of(const acase *c, char *sched, size_t size) {
    char *src = NULL;
    drv_device dev;
    drv_device_info(0, &dev);
    tj_emit_cuda(c->g, dev.arch, c->vals, &src);
    snprintf(sched, size, "?");
    if (src && !strncmp(src, "// schedule: ", 13)) sscanf(src + 13, "%31[a-z0-9_]", sched);
    tj_free(src);
}

static void acase_run(void *ctx) {
    acase *c = ctx;
    if (tj_kernel_launch(c->k, c->ptrs, &c->scale, c->vals, NULL) != TJ_OK) DIE("launch");
}

/* fp8's launch: scale and v_scale */
typedef struct acase8 {
    acase *c;
    double scalars[2];
} acase8;

static void acase_run8(void *ctx) {
    acase8 *a = ctx;
    if (tj_kernel_launch(a->c->k, a->c->ptrs, a->scalars, a->c->vals, NULL) != TJ_OK)
        DIE("launch");
}

enum { MOD_NONE, MOD_SOFTCAP, MOD_ALIBI };
static const char *const mod_name[] = {"", "-softcap", "-alibi"};

static float bf(const uint16_t *p, size_t i) {
    uint32_t u = (uint32_t)p[i] << 16; /* bf16 is the top half of an f32 */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Row i of head h of batch b, in float64, from the bf16 inputs
 * ([batch, N, heads, d]); the recipe's score order: scale, modifier, mask. */
static void reference_row(const uint16_t *q, const uint16_t *k, const uint16_t *v, int64_t n,
                          int heads, int d, int causal, int mod, double scale, int64_t b, int h,
                          int64_t i, double *out) {
    double *s = malloc(sizeof(double) * (size_t)n);
    size_t qo = (((size_t)b * (size_t)n + (size_t)i) * (size_t)heads + (size_t)h) * (size_t)d;
    double mx = -INFINITY;
    int64_t last = causal ? i : n - 1;
    double slope = exp2(-8.0 * (h + 1) / heads);
    for (int64_t j = 0; j <= last; j++) {
        size_t ko = (((size_t)b * (size_t)n + (size_t)j) * (size_t)heads + (size_t)h) * (size_t)d;
        double dot = 0;
        for (int e = 0; e < d; e++) dot += (double)bf(q, qo + e) * bf(k, ko + e);
        dot *= scale;
        if (mod == MOD_SOFTCAP) dot = 30.0 * tanh(dot / 30.0);
        if (mod == MOD_ALIBI) dot += slope * (double)(j - i);
        s[j] = dot;
        if (dot > mx) mx = dot;
    }
    double l = 0;
    for (int e = 0; e < d; e++) out[e] = 0;
    for (int64_t j = 0; j <= last; j++) {
        double p = exp(s[j] - mx);
        l += p;
        size_t vo = (((size_t)b * (size_t)n + (size_t)j) * (size_t)heads + (size_t)h) * (size_t)d;
        for (int e = 0; e < d; e++) out[e] += p * bf(v, vo + e);
    }
    for (int e = 0; e < d; e++) out[e] /= l;
    free(s);
}

static double ref_scale = 1; /* mean |o| of the last checked rows */

static void emit(const char *cas, double ours, const char *peer, double peer_value, double err,
                 const char *note) {
    double ratio = peer_value > 0 ? ours / peer_value : 0;
    printf("%-26s %7.1f TFLOP/s  %-6s %7.1f  ratio %.3f  err %.1e %s\n", cas, ours, peer,
           peer_value, ratio, err, note);
    if (!json) return;
    time_t now = time(NULL);
    char date[16];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    fprintf(json,
            "{\"case\": \"%s\", \"ours\": %.1f, \"peer\": \"%s\", \"peer_value\": %.1f, "
            "\"ratio\": %.4f, \"unit\": \"TFLOP/s\", \"max_abs_err\": %.2e, \"max_rel_err\": %.2e, "
            "\"path\": \"%s\", "
            "\"device\": \"%s\", \"date\": \"%s\", \"commit\": \"%s\"}\n",
            cas, ours, peer, peer_value, ratio, err, err / ref_scale, note, devname, date, commit);
    fflush(json);
}

/* torch's TFLOP/s for (case, peer) from attention_torch.py, 0 if absent. */
static double torch_value(const char *path, const char *cas, const char *peer) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 0;
    char line[512], key[128], pk[64];
    snprintf(key, sizeof key, "\"case\": \"%s\"", cas);
    snprintf(pk, sizeof pk, "\"peer\": \"%s\"", peer);
    double v = 0;
    while (fgets(line, sizeof line, f)) {
        const char *q = strstr(line, "\"tflops\": ");
        if (strstr(line, key) && strstr(line, pk) && q) v = atof(q + 10);
    }
    fclose(f);
    return v;
}

typedef struct inputs {
    uint16_t *host[3];
    drv_ptr dev[4];
    size_t n;
} inputs;

/* q, k, v random in [-1, 1) (host copies kept), o poisoned with NaN. */
static void inputs_make(inputs *in, size_t n) {
    in->n = n;
    float *f = malloc(n * sizeof(float));
    for (int t = 0; t < 3; t++) {
        in->host[t] = malloc(n * 2);
        for (size_t i = 0; i < n; i++) f[i] = frand();
        tj_convert(TJ_BF16, in->host[t], TJ_F32, f, n);
        if (drv_mem_alloc(n * 2, &in->dev[t]) != TJ_OK) DIE("alloc");
        if (drv_memcpy_htod(in->dev[t], in->host[t], n * 2) != TJ_OK) DIE("copy");
    }
    free(f);
    if (drv_mem_alloc(n * 2, &in->dev[3]) != TJ_OK) DIE("alloc");
}

static void poison(drv_ptr p, size_t n) {
    uint16_t *h = malloc(n * 2);
    for (size_t i = 0; i < n; i++) h[i] = 0x7fc1; /* a bf16 NaN */
    drv_memcpy_htod(p, h, n * 2);
    free(h);
}

/* One point: build, compile (timed), check, time. Returns TFLOP/s. */
static double run_case(const inputs *in, int d, int64_t n, int causal, int mod, int reps,
                       double *err, char *sched, size_t sched_size) {
    int heads = 2048 / d, bm, bn;
    int64_t batch = 16384 / n;
    tiles(d, causal, &bm, &bn);
    char a0[32], a1[32], a2[32], a3[32], a4[32], a5[32], a6[32];
    const char *argv[8] = {a0, a1, a2, a3, a4, a5, a6};
    int argc = 6;
    snprintf(a0, sizeof a0, "d=%d", d);
    snprintf(a1, sizeof a1, "hq=%d", heads);
    snprintf(a2, sizeof a2, "hkv=%d", heads);
    snprintf(a3, sizeof a3, "causal=%d", causal);
    snprintf(a4, sizeof a4, "block_m=%d", bm);
    snprintf(a5, sizeof a5, "block_n=%d", bn);
    if (mod == MOD_SOFTCAP) snprintf(a6, sizeof a6, "softcap=30");
    if (mod == MOD_ALIBI) snprintf(a6, sizeof a6, "alibi=computed");
    if (mod != MOD_NONE) argc = 7;
    acase c;
    memset(&c, 0, sizeof c);
    tj_kernel_options o = {NULL, 0, ""};
    tj_graph *other = NULL;   /* --by-length: the graph not serving n */
    if (by_length && mod == MOD_NONE) {
        /* the recipe's auto tiles by length (modifiers are text-recipe
         * hooks: those cases keep tiles()) */
        tj_attention_params p;
        tj_attention_params_init(&p);
        p.head_dim = d, p.num_q_heads = p.num_kv_heads = heads, p.causal = causal;
        p.block_m = force_bm, p.block_n = force_bn;
        tj_graph *gs[2] = {NULL, NULL};
        int64_t upto[1] = {0};
        int ng = 0;
        if (tj_recipe_attention_by_length(&p, gs, upto, &ng) != TJ_OK) DIE("recipe");
        if (tj_kernel_create_by_symbol((const tj_graph *const *)gs, ng, "seq", upto, &o, &c.k) !=
            TJ_OK)
            DIE("kernel");
        int serve = ng == 2 && n > upto[0];
        c.g = gs[serve];
        other = ng == 2 ? gs[!serve] : NULL;
    } else {
        if (tj_recipe_build("attention", argc, argv, &c.g) != TJ_OK) DIE("recipe");
        if (tj_kernel_create(c.g, &o, &c.k) != TJ_OK) DIE("kernel");
    }
    for (int s = 0; s < tj_num_symbols(c.g); s++) {
        const char *name = tj_symbol_name(c.g, (tj_sym){s});
        c.vals[s] = !strcmp(name, "batch") ? batch : n;
    }
    for (int t = 0; t < 4; t++) c.ptrs[t] = in->dev[t];
    c.scale = 1.0 / sqrt((double)d);
    size_t elems = (size_t)batch * (size_t)n * (size_t)heads * (size_t)d;
    poison(in->dev[3], elems);
    schedule_of(&c, sched, sched_size);
    if (force_bn && strcmp(sched, "attention_sm90")) {
        /* a forced tile the fast schedule declines: the generic kernel
         * would take minutes here and measure nothing of interest */
        tj_kernel_destroy(c.k);
        tj_graph_free(c.g);
        tj_graph_free(other);
        return -1;
    }
    acase_run(&c);
    if (drv_context_sync() != TJ_OK) DIE("run");
    /* the check, on the first run's output */
    uint16_t *got = malloc(elems * 2);
    drv_memcpy_dtoh(got, in->dev[3], elems * 2);
    double worst = 0, ref[256], sum = 0;
    for (int sidx = 0; sidx < 24; sidx++) {
        int64_t b = (int64_t)(fabs(frand()) * (double)batch) % batch;
        int h = (int)((int64_t)(fabs(frand()) * heads) % heads);
        int64_t i = sidx == 0 ? 0 : sidx == 1 ? n - 1 : (int64_t)(fabs(frand()) * (double)n) % n;
        reference_row(in->host[0], in->host[1], in->host[2], n, heads, d, causal, mod, c.scale, b,
                      h, i, ref);
        size_t off = (((size_t)b * (size_t)n + (size_t)i) * (size_t)heads + (size_t)h) * (size_t)d;
        for (int e = 0; e < d; e++) {
            double x = fabs((double)bf(got, off + e) - ref[e]);
            sum += fabs(ref[e]);
            if (!(x <= worst)) worst = isnan(x) ? INFINITY : x;
        }
    }
    free(got);
    *err = worst;
    ref_scale = sum > 0 ? sum / (24.0 * d) : 1;
    float ms = time_median(acase_run, &c, reps);
    tj_kernel_destroy(c.k);
    tj_graph_free(c.g);
    tj_graph_free(other);
    double flop = 4.0 * (double)batch * heads * (double)n * (double)n * d * (causal ? 0.5 : 1.0);
    return flop / (ms * 1e-3) / 1e12;
}

/* ---- fp8 ------------------------------------------------------------ */

typedef struct inputs8 {
    uint8_t *host[3];     /* q, k, v as [batch, N, heads, d] */
    uint8_t *vt;          /* v as [batch, heads, d, N], for the current N */
    drv_ptr dev[4];       /* q, k, vt, o (bf16) */
    size_t n;
} inputs8;

static double f8(const uint8_t *p, size_t i) {
    double x = 0;
    tj_convert(TJ_F64, &x, TJ_F8E4M3, p + i, 1);
    return x;
}

static void inputs8_make(inputs8 *in, size_t n) {
    in->n = n;
    float *f = malloc(n * sizeof(float));
    for (int t = 0; t < 3; t++) {
        in->host[t] = malloc(n);
        for (size_t i = 0; i < n; i++) f[i] = frand();
        tj_convert(TJ_F8E4M3, in->host[t], TJ_F32, f, n);
    }
    free(f);
    in->vt = malloc(n);
    for (int t = 0; t < 3; t++)
        if (drv_mem_alloc(n, &in->dev[t]) != TJ_OK) DIE("alloc");
    if (drv_mem_alloc(n * 2, &in->dev[3]) != TJ_OK) DIE("alloc");
    for (int t = 0; t < 2; t++)
        if (drv_memcpy_htod(in->dev[t], in->host[t], n) != TJ_OK) DIE("copy");
}

/* vt for sequences of n keys: [batch, heads, d, n] from v [batch, n, heads, d]. */
static void vt_upload(inputs8 *in, int64_t batch, int64_t n, int heads, int d) {
    for (int64_t b = 0; b < batch; b++)
        for (int64_t j = 0; j < n; j++)
            for (int h = 0; h < heads; h++)
                for (int e = 0; e < d; e++)
                    in->vt[(((size_t)b * heads + h) * d + e) * (size_t)n + (size_t)j] =
                        in->host[2][(((size_t)b * (size_t)n + (size_t)j) * heads + h) * d + e];
    if (drv_memcpy_htod(in->dev[2], in->vt, in->n) != TJ_OK) DIE("copy");
}

/* One fp8 point, as run_case. */
static double run_case_fp8(inputs8 *in, int d, int64_t n, int causal, int reps, double *err,
                           char *sched, size_t sched_size) {
    int heads = 2048 / d;
    int64_t batch = 16384 / n;
    int bm = force_bm ? force_bm : d == 64 ? 192 : 128;
    int bn = force_bn ? force_bn : d == 256 ? 64 : 128;
    char a[7][32];
    const char *argv[7];
    snprintf(a[0], 32, "d=%d", d);
    snprintf(a[1], 32, "hq=%d", heads);
    snprintf(a[2], 32, "hkv=%d", heads);
    snprintf(a[3], 32, "causal=%d", causal);
    snprintf(a[4], 32, "block_m=%d", bm);
    snprintf(a[5], 32, "block_n=%d", bn);
    snprintf(a[6], 32, "dtype=f8e4m3");
    for (int i = 0; i < 7; i++) argv[i] = a[i];
    const char *vl[8] = {argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], "v_layout=t"};
    acase c;
    memset(&c, 0, sizeof c);
    tj_kernel_options o = {NULL, 0, ""};
    if (tj_recipe_build("attention", 8, vl, &c.g) != TJ_OK) DIE("recipe");
    if (tj_kernel_create(c.g, &o, &c.k) != TJ_OK) DIE("kernel");
    if (tj_num_symbols(c.g) > 8) DIE("symbols");
    for (int s = 0; s < tj_num_symbols(c.g); s++) {
        const char *name = tj_symbol_name(c.g, (tj_sym){s});
        /* seq, kv_cap n; vt [batch, heads, d, n] contiguous: its heads d n
         * elements apart, its batches heads d n */
        c.vals[s] = !strcmp(name, "batch")        ? batch
                    : !strcmp(name, "vt_hstride") ? (int64_t)d * n
                    : !strcmp(name, "vt_bstride") ? (int64_t)heads * d * n
                                                  : n;
    }
    vt_upload(in, batch, n, heads, d);
    for (int t = 0; t < 4; t++) c.ptrs[t] = in->dev[t];
    double sc[2] = {1.0 / sqrt((double)d), 1.0};   /* scale, v_scale */
    size_t elems = (size_t)batch * (size_t)n * (size_t)heads * (size_t)d;
    poison(in->dev[3], elems);
    schedule_of(&c, sched, sched_size);
    if (strcmp(sched, "attention_sm90")) {   /* the generic kernel: minutes, nothing to learn */
        tj_kernel_destroy(c.k);
        tj_graph_free(c.g);
        return -1;
    }
    if (tj_kernel_launch(c.k, c.ptrs, sc, c.vals, NULL) != TJ_OK) DIE("launch");
    if (drv_context_sync() != TJ_OK) DIE("run");
    uint16_t *got = malloc(elems * 2);
    drv_memcpy_dtoh(got, in->dev[3], elems * 2);
    double worst = 0, sum = 0, *s = malloc(sizeof(double) * (size_t)n), out[256];
    for (int sidx = 0; sidx < 24; sidx++) {
        int64_t b = (int64_t)(fabs(frand()) * (double)batch) % batch;
        int h = (int)((int64_t)(fabs(frand()) * heads) % heads);
        int64_t i = sidx == 0 ? 0 : sidx == 1 ? n - 1 : (int64_t)(fabs(frand()) * (double)n) % n;
        size_t qo = (((size_t)b * (size_t)n + (size_t)i) * heads + h) * d;
        int64_t last = causal ? i : n - 1;
        double mx = -INFINITY, l = 0;
        for (int64_t j = 0; j <= last; j++) {
            size_t ko = (((size_t)b * (size_t)n + (size_t)j) * heads + h) * d;
            double dot = 0;
            for (int e = 0; e < d; e++) dot += f8(in->host[0], qo + e) * f8(in->host[1], ko + e);
            s[j] = dot * sc[0];
            if (s[j] > mx) mx = s[j];
        }
        for (int e = 0; e < d; e++) out[e] = 0;
        for (int64_t j = 0; j <= last; j++) {
            double p = exp(s[j] - mx);
            size_t vo = (((size_t)b * (size_t)n + (size_t)j) * heads + h) * d;
            l += p;
            for (int e = 0; e < d; e++) out[e] += p * f8(in->host[2], vo + e);
        }
        for (int e = 0; e < d; e++) {
            double ref = out[e] / l, x = fabs((double)bf(got, qo + e) - ref);
            sum += fabs(ref);
            if (!(x <= worst)) worst = isnan(x) ? INFINITY : x;
        }
    }
    free(s);
    free(got);
    *err = worst;
    ref_scale = sum > 0 ? sum / (24.0 * d) : 1;
    float ms = time_median(acase_run8, &(acase8){&c, {sc[0], sc[1]}}, reps);
    tj_kernel_destroy(c.k);
    tj_graph_free(c.g);
    double flop = 4.0 * (double)batch * heads * (double)n * (double)n * d * (causal ? 0.5 : 1.0);
    return flop / (ms * 1e-3) / 1e12;
}

/* The --fp8 sweep: each point, then the bf16 kernel of the same shape. */
static void fp8_sweep(const char *only, int reps) {
    inputs8 in8;
    inputs8_make(&in8, (size_t)16384 * 2048);
    inputs in;
    inputs_make(&in, (size_t)16384 * 2048);
    static const int ds[] = {64, 128, 256};
    static const int64_t ns[] = {2048, 4096, 8192, 16384};
    for (size_t di = 0; di < 3; di++)
        for (int causal = 0; causal < 2; causal++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                int d = ds[di];
                int64_t n = ns[ni];
                char cas[64], sched[32], bsched[32];
                snprintf(cas, sizeof cas, "d%d-n%lld-%s-fp8", d, (long long)n,
                         causal ? "causal" : "full");
                if (only ? strncmp(cas, only, strlen(only)) != 0 : d != 128) continue;
                double err = 0, berr = 0;
                double tf = run_case_fp8(&in8, d, n, causal, reps, &err, sched, sizeof sched);
                if (tf < 0) {
                    printf("%-26s skipped: the %s schedule\n", cas, sched);
                    continue;
                }
                double rs = ref_scale;
                double bt = run_case(&in, d, n, causal, MOD_NONE, reps, &berr, bsched,
                                     sizeof bsched);
                ref_scale = rs;
                emit(cas, tf, "bf16", bt > 0 ? bt : 0, err, sched);
            }
    for (int t = 0; t < 4; t++) drv_mem_free(in8.dev[t]), drv_mem_free(in.dev[t]);
    for (int t = 0; t < 3; t++) free(in8.host[t]), free(in.host[t]);
    free(in8.vt);
}

int main(int argc, char **argv) {
    int quick = 0, fp8 = 0;
    const char *torch = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = fopen(argv[++i], "w");
        else if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--block-n") && i + 1 < argc) force_bn = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--by-length")) by_length = 1;
        else if (!strcmp(argv[i], "--block-m") && i + 1 < argc) force_bm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--exp2-poly") && i + 1 < argc) as_exp2_poly = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--o-smem") && i + 1 < argc) as_o_smem = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--q-late")) as_q_early = 0;
        else if (!strcmp(argv[i], "--causal-graph")) as_causal_pairs = 0;
        else if (!strcmp(argv[i], "--fp8")) fp8 = 1;
        else {
            fprintf(stderr, "usage: bench_attention [--quick] [--json FILE] [--torch FILE] "
                            "[--commit SHA] [--only CASE-PREFIX] [--block-m N] [--block-n N] [--by-length] [--exp2-poly K] [--o-smem 0|1] [--q-late] [--causal-graph] [--fp8]\n");
            return 2;
        }
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
    if (fp8) {
        fp8_sweep(only, reps);
        if (json) fclose(json);
        return 0;
    }
    inputs in;
    inputs_make(&in, (size_t)16384 * 2048);

    static const int ds[] = {64, 128, 256};
    static const int64_t ns[] = {512, 1024, 2048, 4096, 8192, 16384};
    for (size_t di = 0; di < 3; di++) {
        for (int causal = 0; causal < 2; causal++) {
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                int d = ds[di];
                int64_t n = ns[ni];
                int nmods = d == 128 && (n == 2048 || n == 8192) ? 3 : 1;
                double plain = 0;
                for (int mod = 0; mod < nmods; mod++) {
                    char cas[64], sched[32];
                    snprintf(cas, sizeof cas, "d%d-n%lld-%s%s", d, (long long)n,
                             causal ? "causal" : "full", mod_name[mod]);
                    if (only && strncmp(cas, only, strlen(only))) continue;
                    double err = 0;
                    double tf = run_case(&in, d, n, causal, mod, reps, &err, sched, sizeof sched);
                    if (tf < 0) {
                        printf("%-26s skipped: block_n %d gets the %s schedule\n", cas, force_bn,
                               sched);
                        continue;
                    }
                    if (mod == MOD_NONE) {
                        plain = tf;
                        int any = 0;
                        static const char *const peers[] = {"cudnn", "flash"};
                        for (int p = 0; p < 2; p++) {
                            double tv = torch_value(torch, cas, peers[p]);
                            if (tv > 0) emit(cas, tf, peers[p], tv, err, sched);
                            any |= tv > 0;
                        }
                        if (!any) emit(cas, tf, "none", 0, err, sched);
                    } else {
                        emit(cas, tf, "plain", plain, err, sched);
                    }
                }
            }
        }
    }
    for (int t = 0; t < 4; t++) drv_mem_free(in.dev[t]);
    for (int t = 0; t < 3; t++) free(in.host[t]);
    if (json) fclose(json);
    return 0;
}
