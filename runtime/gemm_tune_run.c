/*
 * gemm_tune_run.c — `tilejit tune`'s measuring (gemm_tune.h): each
 * candidate of the model built and compiled through tj_kernel, timed with
 * CUDA events on the same inputs, the fastest checked against the CPU
 * interpreter and stored as a tuning record.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "gemm_config.h"
#include "gemm_tune.h"
#include "ir.h"
#include "nvrtc.h"

#define ROUND 5          /* launches a candidate runs per turn */
#define SAMPLE 64        /* rows and columns of each checked block */
#define MAX_TENSORS 8

typedef struct tune_cand {
    tj_gemm_config cfg;
    tj_graph *g;
    tj_kernel *k;
    float *ms;           /* reps intervals */
    int nms;
    double median_us;
} tune_cand;

typedef struct tune_bufs {
    int nt;
    tj_dtype dt[MAX_TENSORS];
    int64_t elems[MAX_TENSORS];
    void *host[MAX_TENSORS];     /* inputs' values; the output's stays NULL */
    drv_ptr dev[MAX_TENSORS];
    uint64_t ptrs[MAX_TENSORS];
    int out;                     /* the stored tensor ("c") */
    int64_t vals[3];             /* by symbol id */
} tune_bufs;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double elapsed_s(const struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + 1e-9 * (double)(b.tv_nsec - a->tv_nsec);
}

/* Device buffers for g's tensors at the shape: inputs random in [-1, 1)
 * (rounded to their dtype; host copies kept), the output poisoned. */
static tj_status bufs_make(const tj_graph *g, tune_bufs *b, uint64_t seed) {
    b->nt = tj_num_tensors(g);
    if (b->nt > MAX_TENSORS)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "tune: %d tensors, at most %d", b->nt, MAX_TENSORS);
    b->out = -1;
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ULL;
    for (int t = 0; t < b->nt; t++) {
        tj_tensor tt = {t};
        b->dt[t] = tj_tensor_dtype(g, tt);
        size_t es = tj_dtype_size(b->dt[t]);
        tj_status st = tj_tensor_extent(g, tt, b->vals, &b->elems[t]);
        if (st != TJ_OK) return st;
        size_t bytes = (size_t)b->elems[t] * es;
        if ((st = drv_mem_alloc(bytes, &b->dev[t])) != TJ_OK) return st;
        b->ptrs[t] = b->dev[t];
        if (!strcmp(tj_tensor_name(g, tt), "c")) {
            b->out = t;
            if ((st = drv_memset_d8(b->dev[t], 0xff, bytes)) != TJ_OK) return st;
            continue;
        }
        float *f = malloc(sizeof *f * (size_t)b->elems[t]);
        b->host[t] = malloc(bytes);
        if (!f || !b->host[t]) {
            free(f);
            return tj_set_error(TJ_ERR_NO_MEMORY, "tune: out of memory for %zu bytes", bytes);
        }
        for (int64_t i = 0; i < b->elems[t]; i++)
            f[i] = (float)((double)(next_rand(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        st = tj_convert(b->dt[t], b->host[t], TJ_F32, f, b->elems[t]);
        free(f);
        if (st == TJ_OK) st = drv_memcpy_htod(b->dev[t], b->host[t], bytes);
        if (st != TJ_OK) return st;
    }
    if (b->out < 0) return tj_set_error(TJ_ERR_INTERNAL, "tune: the gemm graph has no tensor c");
    return TJ_OK;
}

static void bufs_free(tune_bufs *b) {
    for (int t = 0; t < b->nt; t++) {
        drv_mem_free(b->dev[t]);
        free(b->host[t]);
    }
}

/* One interval per launch, ROUND launches a turn, the candidates in turn,
 * until each has reps, after a warm-up of half a second of all of them
 * (a GPU at its power limit slows within a run: timing one candidate
 * after another favoured the first). */
static tj_status time_all(tune_cand *c, int nc, tune_bufs *b, int reps) {
    void *ev[ROUND + 1] = {0};
    tj_status st = TJ_OK;
    for (int i = 0; i <= ROUND && st == TJ_OK; i++) st = drv_event_create(&ev[i]);
    struct timespec w0;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    while (st == TJ_OK && elapsed_s(&w0) < 0.5) {
        for (int i = 0; i < nc && st == TJ_OK; i++)
            for (int r = 0; r < ROUND && st == TJ_OK; r++)
                st = tj_kernel_launch(c[i].k, b->ptrs, NULL, b->vals, NULL);
        if (st == TJ_OK) st = drv_context_sync();
    }
    for (int done = 0; st == TJ_OK && done < reps; done += ROUND) {
        for (int i = 0; i < nc && st == TJ_OK; i++) {
            for (int r = 0; r < ROUND && st == TJ_OK; r++) {
                st = drv_event_record(ev[r], NULL);
                if (st == TJ_OK) st = tj_kernel_launch(c[i].k, b->ptrs, NULL, b->vals, NULL);
            }
            if (st == TJ_OK) st = drv_event_record(ev[ROUND], NULL);
            if (st == TJ_OK) st = drv_event_sync(ev[ROUND]);
            for (int r = 0; r < ROUND && st == TJ_OK && c[i].nms < reps; r++)
                st = drv_event_elapsed_ms(ev[r], ev[r + 1], &c[i].ms[c[i].nms++]);
        }
    }
    for (int i = 0; i <= ROUND; i++) drv_event_destroy(ev[i]);
    for (int i = 0; i < nc && st == TJ_OK; i++) {
        qsort(c[i].ms, (size_t)c[i].nms, sizeof(float), cmp_float);
        c[i].median_us = 1e3 * c[i].ms[c[i].nms / 2];
    }
    return st;
}

/* The block [i0, i0+sm) x [j0, j0+sn) of the device's c against the
 * interpreter running g on the matching slices of a, b (and bias): the
 * same function of the same rows and columns. *err: the worst
 * |got - want| / (|want| + sqrt(K)). */
static tj_status check_block(const tj_graph *g, const tune_bufs *b, int ta, int tb, int64_t m,
                             int64_t n, int64_t k, int64_t i0, int64_t j0, double *err) {
    int64_t sm = m < SAMPLE ? m : SAMPLE, sn = n < SAMPLE ? n : SAMPLE;
    int64_t vals[3];
    for (int s = 0; s < 3; s++) vals[s] = TJ_UNBOUND;
    vals[tj_find_symbol(g, "M").id] = sm;
    vals[tj_find_symbol(g, "N").id] = sn;
    vals[tj_find_symbol(g, "K").id] = k;
    void *sub[MAX_TENSORS] = {0};
    tj_status st = TJ_OK;
    for (int t = 0; t < b->nt && st == TJ_OK; t++) {
        tj_tensor tt = {t};
        int64_t ext;
        size_t es = tj_dtype_size(b->dt[t]);
        if ((st = tj_tensor_extent(g, tt, vals, &ext)) != TJ_OK) break;
        if (!(sub[t] = calloc((size_t)ext, es))) {
            st = tj_set_error(TJ_ERR_NO_MEMORY, "tune: out of memory");
            break;
        }
        const char *name = tj_tensor_name(g, tt);
        const uint8_t *h = b->host[t];
        uint8_t *d = sub[t];
        if (!strcmp(name, "a")) {   /* [M,K], or [K,M] with trans_a */
            for (int64_t i = 0; i < sm; i++)
                for (int64_t kk = 0; kk < k; kk++)
                    memcpy(d + (size_t)(ta ? kk * sm + i : i * k + kk) * es,
                           h + (size_t)(ta ? kk * m + i0 + i : (i0 + i) * k + kk) * es, es);
        } else if (!strcmp(name, "b")) {   /* [K,N], or [N,K] with trans_b */
            for (int64_t j = 0; j < sn; j++)
                for (int64_t kk = 0; kk < k; kk++)
                    memcpy(d + (size_t)(tb ? j * k + kk : kk * sn + j) * es,
                           h + (size_t)(tb ? (j0 + j) * k + kk : kk * n + j0 + j) * es, es);
        } else if (!strcmp(name, "bias")) {
            memcpy(d, h + (size_t)j0 * es, (size_t)sn * es);
        }
    }
    if (st == TJ_OK) st = tj_interp_run(g, vals, sub, NULL, 0);
    int o = b->out;
    size_t os = tj_dtype_size(b->dt[o]);
    uint8_t *row = malloc((size_t)sn * os);
    float *got = malloc(sizeof *got * (size_t)sn), *want = malloc(sizeof *want * (size_t)sn);
    if (st == TJ_OK && (!row || !got || !want)) st = tj_set_error(TJ_ERR_NO_MEMORY, "tune: out of memory");
    double scale = sqrt((double)k);
    for (int64_t i = 0; i < sm && st == TJ_OK; i++) {
        st = drv_memcpy_dtoh(row, b->dev[o] + (uint64_t)((i0 + i) * n + j0) * os, (size_t)sn * os);
        if (st == TJ_OK) st = tj_convert(TJ_F32, got, b->dt[o], row, sn);
        if (st == TJ_OK)
            st = tj_convert(TJ_F32, want, b->dt[o], (uint8_t *)sub[o] + (size_t)(i * sn) * os, sn);
        for (int64_t j = 0; j < sn && st == TJ_OK; j++) {
            double e = fabs((double)got[j] - (double)want[j]) / (fabs((double)want[j]) + scale);
            if (!(e <= *err)) *err = isnan(e) ? INFINITY : e;
        }
    }
    free(row);
    free(got);
    free(want);
    for (int t = 0; t < b->nt; t++) free(sub[t]);
    return st;
}

static double tol_for(tj_dtype out) { return out == TJ_F32 ? 1e-3 : out == TJ_F16 ? 4e-3 : 2e-2; }

/* The candidates to measure: the model's, pinned fields respected. */
static tj_status candidates(const drv_device *dev, const gemm_tune_request *req, tj_dtype dt,
                            const int pins[3], tune_cand *c, int *nc, tj_gemm_config *model) {
    tj_gemm_config all[TJ_GEMM_MAX_CONFIGS];
    int na = 0;
    tj_status st = tj_gemm_config_candidates(dev->arch, dev->sm_count, req->m, req->n, req->k, dt,
                                             all, TJ_GEMM_MAX_CONFIGS, &na);
    if (st != TJ_OK) return st;
    *nc = 0;
    for (int i = 0; i < na; i++) {
        if (!gemm_config_matches(&all[i], pins)) continue;
        if (req->max_candidates > 0 && *nc >= req->max_candidates) break;
        if (*nc == 0) *model = all[i];
        c[(*nc)++].cfg = all[i];
    }
    if (!*nc)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tune: no candidate has the pinned bm/bn/bk");
    return TJ_OK;
}

tj_status gemm_tune_shape(const gemm_tune_request *req, gemm_tune_result *out) {
    if (!req || !out) return tj_set_error(TJ_ERR_INVALID_ARG, "gemm_tune_shape: NULL argument");
    memset(out, 0, sizeof *out);
    char canon[512];
    tj_dtype dt;
    int pins[3];
    tj_status st = gemm_params_canonical(req->nparams, req->params, canon, sizeof canon, &dt, pins);
    if (st != TJ_OK) return st;
    if (req->m < 1 || req->n < 1 || req->k < 1)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tune: shape %lldx%lldx%lld has a dim below 1",
                            (long long)req->m, (long long)req->n, (long long)req->k);
    const char *why = NULL;
    if (!drv_available(&why))
        return tj_set_error(TJ_ERR_DRIVER, "tune needs a CUDA GPU to measure on (%s)",
                            why ? why : "no device");
    int ord = 0;
    drv_device dev;
    if ((st = drv_context_device(&ord)) != TJ_OK || (st = drv_device_info(ord, &dev)) != TJ_OK)
        return st;
    if (nvrtc_load() != TJ_OK)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "tune needs NVRTC to compile the candidates: %s",
                            tj_last_error());
    int vmaj = 0, vmin = 0;
    char ver[32] = "unknown";
    if (nvrtc_version(&vmaj, &vmin) == TJ_OK) snprintf(ver, sizeof ver, "%d.%d", vmaj, vmin);
    snprintf(out->device, sizeof out->device, "%s", dev.name);
    snprintf(out->arch, sizeof out->arch, "%s", dev.arch);
    out->sm_count = dev.sm_count;

    tune_cand c[TJ_GEMM_MAX_CONFIGS];
    memset(c, 0, sizeof c);
    int nc = 0, reps = req->reps > 0 ? req->reps : 50;
    tune_bufs b;
    memset(&b, 0, sizeof b);
    if ((st = candidates(&dev, req, dt, pins, c, &nc, &out->model)) != TJ_OK) return st;
    const char *p[64];
    int np = 0;
    for (int i = 0; i < req->nparams && np < 64; i++)
        if (strncmp(req->params[i], "bm=", 3) && strncmp(req->params[i], "bn=", 3) &&
            strncmp(req->params[i], "bk=", 3))
            p[np++] = req->params[i];
    tj_kernel_options o = {dev.arch, 0, req->cache_dir};
    int live = 0;
    for (int i = 0; i < nc && st == TJ_OK; i++) {
        st = tj_recipe_gemm_with_config(np, p, &c[i].cfg, &c[i].g);
        if (st == TJ_OK && i == 0) {
            for (int s = 0; s < 3; s++) b.vals[s] = TJ_UNBOUND;
            b.vals[tj_find_symbol(c[0].g, "M").id] = req->m;
            b.vals[tj_find_symbol(c[0].g, "N").id] = req->n;
            b.vals[tj_find_symbol(c[0].g, "K").id] = req->k;
            st = bufs_make(c[0].g, &b, req->seed);
        }
        if (st == TJ_OK) st = tj_kernel_create(c[i].g, &o, &c[i].k);
        /* compiled and loaded by prepare (the fast kernel itself, also
         * under TILEJIT_TIERED=1), then run once; a failure drops it */
        if (st == TJ_OK && (tj_kernel_prepare(c[i].k, b.vals) != TJ_OK ||
                            tj_kernel_launch(c[i].k, b.ptrs, NULL, b.vals, NULL) != TJ_OK)) {
            fprintf(stderr, "tilejit tune: %dx%dx%d dropped: %s\n", c[i].cfg.bm, c[i].cfg.bn,
                    c[i].cfg.bk, tj_last_error());
            tj_kernel_destroy(c[i].k);
            c[i].k = NULL;
        }
        if (st == TJ_OK && c[i].k) {
            if (!(c[i].ms = malloc(sizeof(float) * (size_t)(reps + ROUND))))
                st = tj_set_error(TJ_ERR_NO_MEMORY, "tune: out of memory");
            if (i != live) {
                tune_cand t = c[live];
                c[live] = c[i];
                c[i] = t;
            }
            live++;
        }
    }
    if (st == TJ_OK && !live) st = tj_set_error(TJ_ERR_COMPILE, "tune: no candidate ran");
    if (st == TJ_OK) st = time_all(c, live, &b, reps);
    double flops = 2.0 * (double)req->m * (double)req->n * (double)req->k;
    int best = 0;
    for (int i = 0; i < live && st == TJ_OK; i++) {
        double tf = flops / (c[i].median_us * 1e-6) / 1e12;
        if (c[i].median_us < c[best].median_us) best = i;
        if (c[i].cfg.bm == out->model.bm && c[i].cfg.bn == out->model.bn &&
            c[i].cfg.bk == out->model.bk)
            out->model_tflops = tf;
        if (req->progress) req->progress(&c[i].cfg, c[i].median_us, tf, req->user);
    }
    if (st == TJ_OK) {   /* the winner's output, fresh, against the interpreter */
        size_t bytes = (size_t)b.elems[b.out] * tj_dtype_size(b.dt[b.out]);
        st = drv_memset_d8(b.dev[b.out], 0xff, bytes);
        if (st == TJ_OK) st = tj_kernel_launch(c[best].k, b.ptrs, NULL, b.vals, NULL);
        if (st == TJ_OK) st = drv_context_sync();
        int ta = strstr(canon, "trans_a=1") != NULL, tb = strstr(canon, "trans_b=1") != NULL;
        int64_t sm = req->m < SAMPLE ? req->m : SAMPLE, sn = req->n < SAMPLE ? req->n : SAMPLE;
        if (st == TJ_OK)
            st = check_block(c[best].g, &b, ta, tb, req->m, req->n, req->k, 0, 0, &out->max_err);
        if (st == TJ_OK)
            st = check_block(c[best].g, &b, ta, tb, req->m, req->n, req->k, req->m - sm,
                             req->n - sn, &out->max_err);
        if (st == TJ_OK && !(out->max_err <= tol_for(b.dt[b.out])))
            st = tj_set_error(TJ_ERR_INTERNAL,
                              "tune: the fastest candidate %dx%dx%d computes wrong values (error "
                              "%.3g against the interpreter); nothing stored",
                              c[best].cfg.bm, c[best].cfg.bn, c[best].cfg.bk, out->max_err);
    }
    if (st == TJ_OK) {
        out->best.cfg = c[best].cfg;
        out->best.cfg.tuned = 1;
        out->best.median_us = c[best].median_us;
        out->best.tflops = flops / (c[best].median_us * 1e-6) / 1e12;
        out->best.candidates = live;
    }
    if (st == TJ_OK && req->store) {
        gemm_tune_id id = {canon, req->m, req->n, req->k, dev.name, dev.arch, dev.sm_count, ver};
        cache_key key;
        cache_dir *d = NULL;
        st = gemm_tune_key(&id, &key);
        if (st == TJ_OK) {
            st = cache_dir_open(req->cache_dir, &d);
            if (st == TJ_OK) st = gemm_tune_put(d, &key, &out->best);
            if (st == TJ_OK) memcpy(out->key, key.hex, sizeof out->key);
            cache_dir_close(d);
            cache_key_free(&key);
        }
    }
    for (int i = 0; i < nc; i++) {
        tj_kernel_destroy(c[i].k);
        tj_graph_free(c[i].g);
        free(c[i].ms);
    }
    bufs_free(&b);
    return st;
}
