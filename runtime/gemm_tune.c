/*
 * gemm_tune.c — tuning records in the cache directory (gemm_tune.h) and
 * tj_recipe_gemm_for_shape, which reads them before the model
 * (gen/recipes/gemm_config.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_int.h"
#include "driver.h"
#include "gemm_config.h"
#include "gemm_tune.h"
#include "ir.h"
#include "emit.h"
#include "templates.h"

#define TUNE_MAGIC "tilejit tune"

static int no_newline(const char *s) { return s && !strchr(s, '\n'); }

tj_status gemm_tune_key(const gemm_tune_id *id, cache_key *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "gemm_tune_key: out is NULL");
    memset(out, 0, sizeof *out);
    if (!id || !no_newline(id->params) || !no_newline(id->device) || !no_newline(id->arch) ||
        (id->nvrtc && !no_newline(id->nvrtc)))
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "gemm_tune_key: params, device and arch are needed, one line each");
    strbuf b = {0};
    sb_printf(&b,
              "tune=gemm %d\nname=tune:gemm\nparams=%s\nsymbols=M=%lld N=%lld K=%lld\n"
              "device=%s\narch=%s\nsms=%d\ncodegen=%d\ntemplates=%s\nnvrtc=%s\n",
              GEMM_TUNE_FORMAT, id->params, (long long)id->m, (long long)id->n, (long long)id->k,
              id->device, id->arch, id->sm_count, CACHE_CODEGEN_VERSION, tj_templates_hash(),
              id->nvrtc ? id->nvrtc : "unknown");
    if (b.oom || !b.data) {
        sb_free(&b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "gemm_tune_key: out of memory");
    }
    out->desc = b.data;
    cache_desc_key(out->desc, b.len, out->hex);
    return TJ_OK;
}

int gemm_tune_format(const gemm_tune_record *r, char *buf, size_t size) {
    int n = snprintf(buf, size,
                     TUNE_MAGIC " %d\nbm=%d\nbn=%d\nbk=%d\nsplit=%d\ntflops=%.1f\nmedian_us=%.2f\n"
                     "candidates=%d\n",
                     GEMM_TUNE_FORMAT, r->cfg.bm, r->cfg.bn, r->cfg.bk, r->cfg.split, r->tflops,
                     r->median_us, r->candidates);
    return n > 0 && (size_t)n < size ? n : -1;
}

static int pow2_tile(int v) { return v >= 16 && v <= 256 && (v & (v - 1)) == 0; }

int gemm_tune_parse(const char *text, size_t n, gemm_tune_record *r) {
    char buf[512];
    if (!text || n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, text, n);
    buf[n] = '\0';
    memset(r, 0, sizeof *r);
    int version = 0, have = 0;
    char *save = NULL;
    char *line = strtok_r(buf, "\n", &save);
    if (!line || sscanf(line, TUNE_MAGIC " %d", &version) != 1 || version != GEMM_TUNE_FORMAT)
        return 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        int v;
        double d;
        if (sscanf(line, "bm=%d", &v) == 1) r->cfg.bm = v, have |= 1;
        else if (sscanf(line, "bn=%d", &v) == 1) r->cfg.bn = v, have |= 2;
        else if (sscanf(line, "bk=%d", &v) == 1) r->cfg.bk = v, have |= 4;
        else if (sscanf(line, "split=%d", &v) == 1) r->cfg.split = v, have |= 8;
        else if (sscanf(line, "tflops=%lf", &d) == 1) r->tflops = d;
        else if (sscanf(line, "median_us=%lf", &d) == 1) r->median_us = d;
        else if (sscanf(line, "candidates=%d", &v) == 1) r->candidates = v;
    }
    int s = r->cfg.split;
    if (have != 15 || !pow2_tile(r->cfg.bm) || !pow2_tile(r->cfg.bn) || !pow2_tile(r->cfg.bk) ||
        (s != 1 && s != 2 && s != 4 && s != 8))
        return 0;
    r->cfg.tuned = 1;
    return 1;
}

tj_status gemm_tune_put(cache_dir *d, const cache_key *key, const gemm_tune_record *r) {
    char text[512];
    int n = r ? gemm_tune_format(r, text, sizeof text) : -1;
    if (n < 0) return tj_set_error(TJ_ERR_INVALID_ARG, "gemm_tune_put: no record");
    return cache_put(d, key, text, (size_t)n);
}

tj_status gemm_tune_get(cache_dir *d, const cache_key *key, gemm_tune_record *r) {
    void *p = NULL;
    size_t n = 0;
    tj_status s = cache_get(d, key, &p, &n);
    if (s != TJ_OK) return s;
    int ok = gemm_tune_parse(p, n, r);
    free(p);
    if (!ok) {
        const char *root = cache_dir_path(d);
        cache_report_once(key->hex, "tuning record %.16s... in %s is not a gemm record of format "
                          "%d; it is ignored (tilejit tune writes it again)",
                          key->hex, root ? root : "memory", GEMM_TUNE_FORMAT);
        return tj_set_error(TJ_ERR_IO, "tuning record %s is unreadable", key->hex);
    }
    return TJ_OK;
}

/* ---- tj_recipe_gemm_for_shape ------------------------------------------ */

static int env_untuned(void) {
    const char *e = getenv("TILEJIT_NO_TUNED");
    return e && *e && strcmp(e, "0");
}

/* The record for (params, shape, device) in target's directory: 1 found. */
static int tuned_config(const tj_gemm_target *t, const char *params, int64_t m, int64_t n,
                        int64_t k, const char *device, const char *arch, int sms,
                        tj_gemm_config *cfg) {
    cache_dir *d = NULL;
    if (cache_dir_open(t ? t->cache_dir : NULL, &d) != TJ_OK) return 0;
    gemm_tune_id id = {params, m, n, k, device, arch, sms, NULL};
    cache_key key;
    gemm_tune_record r;
    int found = gemm_tune_key(&id, &key) == TJ_OK && gemm_tune_get(d, &key, &r) == TJ_OK;
    cache_key_free(&key);
    cache_dir_close(d);
    if (found) *cfg = r.cfg;
    return found;
}

tj_status tj_recipe_gemm_for_shape(int nparams, const char *const *params, int64_t m, int64_t n,
                                   int64_t k, const tj_gemm_target *target, tj_graph **out,
                                   tj_gemm_config *cfg_out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_recipe_gemm_for_shape: out is NULL");
    *out = NULL;
    char canon[512];
    tj_dtype dt;
    int pins[3];
    tj_status s = gemm_params_canonical(nparams, params, canon, sizeof canon, &dt, pins);
    if (s != TJ_OK) return s;
    if (m < 1 || n < 1 || k < 1)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_recipe_gemm_for_shape: shape %lldx%lldx%lld has a dim below 1",
                            (long long)m, (long long)n, (long long)k);
    const char *arch = target ? target->arch : NULL, *device = target ? target->device : NULL;
    int sms = target ? target->sm_count : 0;
    drv_device dev;
    int have_dev = 0;
    if (!arch || !device || sms <= 0) {
        int ord = 0;
        have_dev = drv_available(NULL) && drv_context_device(&ord) == TJ_OK &&
                   drv_device_info(ord, &dev) == TJ_OK;
    }
    if (!arch) {
        if (!have_dev)
            return tj_set_error(TJ_ERR_DRIVER,
                                "tj_recipe_gemm_for_shape: no CUDA device to choose for (set "
                                "tj_gemm_target.arch to choose without one)");
        arch = dev.arch;
    }
    int same_dev = have_dev && !strcmp(dev.arch, arch);
    if (!device && same_dev) device = dev.name;
    if (sms <= 0) sms = same_dev ? dev.sm_count : 132;

    tj_gemm_config cfg;
    int found = 0;
    if (device && !(target && (target->flags & TJ_GEMM_UNTUNED)) && !env_untuned())
        found = tuned_config(target, canon, m, n, k, device, arch, sms, &cfg) &&
                gemm_config_matches(&cfg, pins);
    if (!found) {
        tj_gemm_config c[TJ_GEMM_MAX_CONFIGS];
        int nc = 0;
        s = tj_gemm_config_candidates(arch, sms, m, n, k, dt, c, TJ_GEMM_MAX_CONFIGS, &nc);
        if (s != TJ_OK) return s;
        int i = 0;
        while (i < nc && !gemm_config_matches(&c[i], pins)) i++;
        if (i < nc) {
            cfg = c[i];
        } else {
            /* Pinned off the candidates: the pins, the rest from the best. */
            cfg = c[0];
            if (pins[0]) cfg.bm = pins[0];
            if (pins[1]) cfg.bn = pins[1];
            if (pins[2]) cfg.bk = pins[2];
            cfg.split = !strcmp(arch, "sm_90a")
                            ? gemm_config_auto_split(((m + cfg.bm - 1) / cfg.bm) *
                                                         ((n + cfg.bn - 1) / cfg.bn),
                                                     (k + cfg.bk - 1) / cfg.bk)
                            : 1;
            cfg.score = 0;
        }
    }
    /* The tile keys go: the configuration carries them. */
    const char *p[64];
    int np = 0;
    for (int i = 0; i < nparams && np < 64; i++)
        if (strncmp(params[i], "bm=", 3) && strncmp(params[i], "bn=", 3) &&
            strncmp(params[i], "bk=", 3))
            p[np++] = params[i];
    s = tj_recipe_gemm_with_config(np, p, &cfg, out);
    if (s == TJ_OK && cfg_out) *cfg_out = cfg;
    return s;
}
