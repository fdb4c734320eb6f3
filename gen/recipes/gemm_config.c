/*
 * gemm_config.c — the `gemm` recipe's tile for a shape: a cost model of
 * the sm_90a schedule (gemm_sm90), its candidates ranked, and the recipe
 * built with a chosen tile. Pure: no device, no files (the tuning records
 * that come before the model are the runtime's: runtime/gemm_tune.c).
 *
 * The model (docs/recipes.md, "gemm: tiles per shape"). A candidate tile
 * (bm, bn, bk) at M x N x K gets blocks = tiles x split, where split is
 * the schedule's own automatic split-K (gemm_config_auto_split), and
 *
 *   score = rate x occupancy x (split > 1 ? SPLIT_KEEPS : 1) x kt / (kt + epi)
 *
 * - compute-bound shapes (flops per operand-and-output element at least
 *   RIDGE): rate = the tile's measured rate at 4096^3 (rate_c), occupancy
 *   = blocks / (waves x SMs) (the last wave's idle SMs);
 * - memory-bound shapes (M or N small: 128x4096x4096 has 248): rate = the
 *   tile's rate there (rate_m: bytes in flight, not operand reuse, decide),
 *   occupancy = min(1, blocks / (SMs / 2)) (half the SMs' pipelines
 *   already keep HBM busy: 64 blocks of 64x128 reached 0.87 of 128 of
 *   64x64);
 * - kt / (kt + epi): the epilogue's share for short loops (kt K tiles);
 *   epi = 1 K tile except for ping-pong tiles (bm 128, bn <= 128, no
 *   split), whose epilogue overlaps the other warpgroup's products
 *   (8192x8192x512: 128x128 ping-pong beat 128x256 by 7 %).
 * Rates: H200, 2026-11-29, bench_gemm (docs/performance.md).
 */
#include <stdio.h>
#include <string.h>

#include "gemm_config.h"
#include "recipes.h"

/* The SMs the schedule's split and cluster rules count (132 on H100 SXM
 * and H200; gemm_sm90_match.c, CLUSTER_SMS). */
#define SCHED_SMS 132
/* Tensor cores' rate / HBM's, in flops per element (H200: ~790 TFLOP/s
 * bf16 over 4.8 TB/s of 2-byte elements; fp8 doubles both). */
#define RIDGE 330.0
#define SPLIT_KEEPS 0.85

typedef struct cand {
    int bm, bn, bk16, bk8;   /* the K tile for 16-bit and for 8-bit operands */
    double rate_c, rate_m;
} cand;

/* rate_c: 4096^3, relative to 128x256 (64x64 and 64x128 at K tile 128: not
 * measured there, taken as at 64); 128x128 ping-pong beat 128x256 at every
 * compute-bound shape of bench_gemm (2048^3 ... 16384x4096x4096, fp8 too:
 * H200, 2026-11-29, 6bcd38b; 2048^3 by 1.4 % in `tilejit tune`). rate_m: 128x4096x4096, relative to
 * 64x64 with K tile 128 (322 TFLOP/s, 1.137 of cuBLAS), each divided by
 * its occupancy there. */
static const cand cands[] = {
    {128, 256, 64, 128, 1.000, 0.81},
    {128, 128, 64, 128, 1.015, 0.90},
    {64, 128, 64, 128, 0.810, 0.87},
    {64, 128, 128, 0, 0.800, 0.90},
    {64, 64, 64, 128, 0.470, 0.86},
    {64, 64, 128, 0, 0.500, 1.00},
};
#define NCANDS ((int)(sizeof cands / sizeof cands[0]))

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static double score(const cand *c, int bk, int sms, int64_t m, int64_t n, int64_t k, int *split) {
    int64_t tiles = cdiv(m, c->bm) * cdiv(n, c->bn), kt = cdiv(k, bk);
    *split = gemm_config_auto_split(tiles, kt);
    int64_t blocks = tiles * *split;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    double elems = (double)m * (double)k + (double)n * (double)k + (double)m * (double)n;
    double rate, occ;
    if (flops / elems >= RIDGE) {
        int64_t waves = cdiv(blocks, sms);
        rate = c->rate_c;
        occ = (double)blocks / (double)(waves * sms);
    } else {
        rate = c->rate_m;
        occ = 2.0 * (double)blocks / (double)sms;
        if (occ > 1) occ = 1;
    }
    int pingpong = c->bm == 128 && c->bn <= 128 && *split == 1;
    double kts = (double)kt / (double)(*split), epi = pingpong ? 0 : 1;
    return rate * occ * (*split > 1 ? SPLIT_KEEPS : 1.0) * kts / (kts + epi);
}

static tj_status check_args(const char *fn, const char *arch, int64_t m, int64_t n, int64_t k,
                            tj_dtype dt, const void *out) {
    if (!out) return recipe_error(TJ_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if (!arch) return recipe_error(TJ_ERR_INVALID_ARG, "%s: arch is NULL", fn);
    if (m < 1 || n < 1 || k < 1)
        return recipe_error(TJ_ERR_INVALID_ARG, "%s: shape %lldx%lldx%lld has a dim below 1", fn,
                            (long long)m, (long long)n, (long long)k);
    if (dt != TJ_BF16 && dt != TJ_F16 && dt != TJ_F32 && dt != TJ_F8E4M3 && dt != TJ_F8E5M2)
        return recipe_error(TJ_ERR_INVALID_ARG, "%s: dtype %s is not one the gemm recipe takes",
                            fn, tj_dtype_name(dt) ? tj_dtype_name(dt) : "?");
    return TJ_OK;
}

tj_status tj_gemm_config_candidates(const char *arch, int sm_count, int64_t m, int64_t n,
                                    int64_t k, tj_dtype dt, tj_gemm_config *out, int max,
                                    int *nout) {
    tj_status s = check_args("tj_gemm_config_candidates", arch, m, n, k, dt, out);
    if (s != TJ_OK) return s;
    if (!nout || max < 1)
        return recipe_error(TJ_ERR_INVALID_ARG, "tj_gemm_config_candidates: %s",
                            !nout ? "n is NULL" : "max is below 1");
    int fp8 = dt == TJ_F8E4M3 || dt == TJ_F8E5M2;
    *nout = 0;
    if (strcmp(arch, "sm_90a") || dt == TJ_F32) {
        /* The generic lowering: the recipe's defaults (bk auto: a 128-byte line) */
        out[0] = (tj_gemm_config){128, 128, fp8 ? 128 : 64, 1, 0.0, 0};
        *nout = 1;
        return TJ_OK;
    }
    int sms = sm_count > 0 ? sm_count : SCHED_SMS;
    tj_gemm_config all[NCANDS];
    int na = 0;
    for (int i = 0; i < NCANDS; i++) {
        int bk = fp8 ? cands[i].bk8 : cands[i].bk16;
        if (!bk) continue;
        int split = 1;
        double sc = score(&cands[i], bk, sms, m, n, k, &split);
        tj_gemm_config c = {cands[i].bm, cands[i].bn, bk, split, sc, 0};
        /* insertion by score, ties keeping the table's order (bigger tiles first) */
        int at = na;
        while (at > 0 && all[at - 1].score < sc - 1e-12) {
            all[at] = all[at - 1];
            at--;
        }
        all[at] = c;
        na++;
    }
    for (int i = 0; i < na && i < max; i++) out[i] = all[i];
    *nout = na < max ? na : max;
    return TJ_OK;
}

tj_status tj_gemm_config_for(const char *arch, int sm_count, int64_t m, int64_t n, int64_t k,
                             tj_dtype dt, tj_gemm_config *out) {
    int got = 0;
    return tj_gemm_config_candidates(arch, sm_count, m, n, k, dt, out, 1, &got);
}

int gemm_config_matches(const tj_gemm_config *cfg, const int pins[3]) {
    return (!pins[0] || pins[0] == cfg->bm) && (!pins[1] || pins[1] == cfg->bn) &&
           (!pins[2] || pins[2] == cfg->bk);
}

static int gemm_recipe_index(void) {
    for (int i = 0; i < tj_recipe_count(); i++)
        if (!strcmp(tj_recipe_get(i)->name, "gemm")) return i;
    return -1;
}

static int is_tile_key(const char *key, size_t len) {
    return len == 2 && (!strncmp(key, "bm", 2) || !strncmp(key, "bn", 2) || !strncmp(key, "bk", 2));
}

tj_status gemm_params_canonical(int nparams, const char *const *params, char *buf, size_t size,
                                tj_dtype *dtype, int pins[3]) {
    int r = gemm_recipe_index();
    if (r < 0) return recipe_error(TJ_ERR_INTERNAL, "no gemm recipe");
    rp_set rp;
    tj_status s = rp_parse(&rp, "gemm", tj_recipe_get(r)->params, nparams, params);
    tj_dtype dt = TJ_BF16;
    if (s == TJ_OK) s = rp_dtype(&rp, "dtype", "bf16|f16|f32|f8e4m3|f8e5m2", &dt);
    int pin[3] = {0, 0, 0};
    static const char *const tk[3] = {"bm", "bn", "bk"};
    for (int t = 0; t < 3 && s == TJ_OK; t++) {
        int given = 0;
        for (int i = 0; i < nparams; i++)
            given |= !strncmp(params[i], tk[t], 2) && params[i][2] == '=';
        if (given && !rp_is(&rp, tk[t], "auto")) s = rp_pow2(&rp, tk[t], 16, 256, &pin[t]);
    }
    if (s != TJ_OK) return s;
    size_t off = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < rp.n; i++) {
        if (is_tile_key(rp.key[i], strlen(rp.key[i]))) continue;
        int w = snprintf(buf + off, size > off ? size - off : 0, "%s%s=%s", off ? " " : "",
                         rp.key[i], rp.val[i]);
        if (w < 0 || (size_t)w >= size - off)
            return recipe_error(TJ_ERR_INVALID_ARG, "gemm parameters: %zu bytes are too few",
                                size);
        off += (size_t)w;
    }
    if (dtype) *dtype = dt;
    if (pins) memcpy(pins, pin, sizeof pin);
    return TJ_OK;
}

tj_status tj_recipe_gemm_with_config(int nparams, const char *const *params,
                                     const tj_gemm_config *cfg, tj_graph **out) {
    if (!out || !cfg)
        return recipe_error(TJ_ERR_INVALID_ARG, "tj_recipe_gemm_with_config: %s is NULL",
                            !out ? "out" : "cfg");
    *out = NULL;
    if (nparams < 0 || (nparams > 0 && !params) || nparams > RP_MAX)
        return recipe_error(TJ_ERR_INVALID_ARG, "tj_recipe_gemm_with_config: bad nparams %d",
                            nparams);
    const char *p[RP_MAX + 3];
    int np = 0;
    for (int i = 0; i < nparams; i++) {
        const char *eq = params[i] ? strchr(params[i], '=') : NULL;
        if (eq && is_tile_key(params[i], (size_t)(eq - params[i]))) {
            if (strcmp(eq + 1, "auto"))
                return recipe_error(TJ_ERR_INVALID_ARG,
                                    "tj_recipe_gemm_with_config: '%s': the configuration sets "
                                    "the tile (give bm, bn, bk as auto or not at all)",
                                    params[i]);
            continue;
        }
        p[np++] = params[i];
    }
    char tile[3][24];
    snprintf(tile[0], sizeof tile[0], "bm=%d", cfg->bm);
    snprintf(tile[1], sizeof tile[1], "bn=%d", cfg->bn);
    snprintf(tile[2], sizeof tile[2], "bk=%d", cfg->bk);
    for (int t = 0; t < 3; t++) p[np++] = tile[t];
    return tj_recipe_build("gemm", np, p, out);
}
