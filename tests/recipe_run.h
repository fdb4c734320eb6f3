/*
 * recipe_run.h — running a recipe's graph in the CPU interpreter on random
 * inputs and comparing an output with a reference; shared by
 * test_recipes.c and test_recipes_attention.c.
 *
 * Inputs are random (never zeros) and rounded to the tensor dtype before
 * the reference sees them; outputs are poisoned with NaN first, so an
 * element the graph never writes fails. Tolerances, relative to
 * |ref| + a floor for values near zero (mean|ref|, or for attention a
 * quarter of the p-weighted mean of |v|, the size of the terms that may
 * cancel):
 *   f32 outputs   1e-4
 *   f16 outputs   4e-3
 *   bf16 outputs  1.6e-2
 * (bf16 keeps 8 significant bits: one rounding is 2^-9 ~ 2e-3 relative;
 * attention also rounds p to the input dtype before p . v, as
 * FlashAttention does.) Infinite reference values must match exactly.
 */
#ifndef TJ_TEST_RECIPE_RUN_H
#define TJ_TEST_RECIPE_RUN_H

#include <math.h>
#include <stdarg.h>

#include "harness.h"

/* ---- running a graph ------------------------------------------------ */

#define MAXT 8

typedef struct run {
    tj_graph *g;
    int64_t syms[16];
    void *ptr[MAXT];
    int64_t n[MAXT];
    double *val[MAXT];    /* inputs: the stored values; outputs: read back */
    double scalars[8];
} run;

static inline tj_graph *build(const char *name, int n, const char *const *params) {
    tj_graph *g = NULL;
    tj_status s = tj_recipe_build(name, n, params, &g);
    if (s != TJ_OK) {
        fprintf(stderr, "  building %s: %s: %s\n", name, tj_status_name(s), tj_last_error());
        return NULL;
    }
    return g;
}

static inline void run_init(run *r, tj_graph *g) {
    memset(r, 0, sizeof *r);
    r->g = g;
    for (int i = 0; i < 16; i++) r->syms[i] = TJ_UNBOUND;
}

static inline void run_free(run *r) {
    for (int i = 0; i < MAXT; i++) {
        free(r->ptr[i]);
        free(r->val[i]);
    }
    tj_graph_free(r->g);
    r->g = NULL;
}

static inline int bind(run *r, const char *sym, int64_t v) {
    tj_sym s = tj_find_symbol(r->g, sym);
    if (s.id < 0 || s.id >= 16) return 0;
    r->syms[s.id] = v;
    return 1;
}

static inline int tensor_id(const run *r, const char *name) {
    for (int i = 0; i < tj_num_tensors(r->g) && i < MAXT; i++)
        if (!strcmp(tj_tensor_name(r->g, (tj_tensor){i}), name)) return i;
    return -1;
}

static inline tj_dtype tdtype(const run *r, int t) { return tj_tensor_dtype(r->g, (tj_tensor){t}); }

/* Allocate tensor `name` (after binding) as n elements of its dtype. */
static inline int alloc_tensor(run *r, const char *name) {
    int t = tensor_id(r, name);
    if (t < 0) return -1;
    int64_t n;
    if (tj_tensor_extent(r->g, (tj_tensor){t}, r->syms, &n) != TJ_OK) return -1;
    r->n[t] = n;
    r->ptr[t] = calloc((size_t)n + 1, tj_dtype_size(tdtype(r, t)));
    r->val[t] = calloc((size_t)n + 1, sizeof(double));
    return (r->ptr[t] && r->val[t]) ? t : -1;
}

/* Random values in [lo, hi) away from zero, rounded to the dtype; val[]
 * holds what was stored. */
static inline int input(run *r, const char *name, double lo, double hi) {
    int t = alloc_tensor(r, name);
    if (t < 0) return 0;
    for (int64_t i = 0; i < r->n[t]; i++) {
        double x;
        do x = harness_uniform(lo, hi); while (fabs(x) < 1e-3 * (hi - lo));
        r->val[t][i] = x;
    }
    tj_dtype dt = tdtype(r, t);
    if (tj_convert(dt, r->ptr[t], TJ_F64, r->val[t], (size_t)r->n[t]) != TJ_OK) return 0;
    return tj_convert(TJ_F64, r->val[t], dt, r->ptr[t], (size_t)r->n[t]) == TJ_OK;
}

/* An input with given values (already representable). */
static inline int input_vals(run *r, const char *name, const double *v) {
    int t = alloc_tensor(r, name);
    if (t < 0) return 0;
    memcpy(r->val[t], v, (size_t)r->n[t] * sizeof(double));
    return tj_convert(tdtype(r, t), r->ptr[t], TJ_F64, v, (size_t)r->n[t]) == TJ_OK;
}

static inline int output(run *r, const char *name) {
    int t = alloc_tensor(r, name);
    if (t < 0) return 0;
    for (int64_t i = 0; i < r->n[t]; i++) r->val[t][i] = NAN;
    return tj_convert(tdtype(r, t), r->ptr[t], TJ_F64, r->val[t], (size_t)r->n[t]) == TJ_OK;
}

static inline const double *in_vals(const run *r, const char *name) {
    int t = tensor_id(r, name);
    return t < 0 ? NULL : r->val[t];
}

static inline tj_status go(run *r) {
    tj_status s = tj_interp_run(r->g, r->syms, r->ptr, r->scalars, 0);
    if (s != TJ_OK) return s;
    for (int t = 0; t < tj_num_tensors(r->g) && t < MAXT; t++)
        if (r->ptr[t] && tj_convert(TJ_F64, r->val[t], tdtype(r, t), r->ptr[t],
                                    (size_t)r->n[t]) != TJ_OK)
            return TJ_ERR_INTERNAL;
    return TJ_OK;
}

static inline double tol_for(tj_dtype dt) {
    return dt == TJ_F32 ? 1e-4 : dt == TJ_F16 ? 4e-3 : 1.6e-2;
}

/* Output `name` against ref[0..n-1]: |got - ref| <= tol (|ref| + floor),
 * the floor mag[i] / 4 when given (mag: the size of the terms that summed
 * to ref[i], for results that may cancel; a term is rounded once, to at
 * most a quarter of the output tolerance), else mean|ref|. */
static inline int matches_mag_tol(const run *r, const char *name, const double *ref,
                                  const double *mag, int64_t n, double tol) {
    int t = tensor_id(r, name);
    if (t < 0 || r->n[t] < n) {
        fprintf(stderr, "  no output '%s' of %lld elements\n", name, (long long)n);
        return 0;
    }
    if (tol <= 0) tol = tol_for(tdtype(r, t));
    double mean = 0;
    int64_t finite = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i])) mean += fabs(ref[i]), finite++;
    mean = finite ? mean / (double)finite : 1;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double got = r->val[t][i], floor = mag ? mag[i] / 4 : mean;
        int ok = isinf(ref[i]) ? got == ref[i]
                               : !isnan(got) && fabs(got - ref[i]) <= tol * (fabs(ref[i]) + floor);
        if (!ok && bad++ == 0) first = i;
    }
    if (bad)
        fprintf(stderr, "  %s: %lld of %lld elements differ; first at %lld: got %.8g, want %.8g "
                        "(tol %g, seed %llu)\n",
                name, (long long)bad, (long long)n, (long long)first, r->val[t][first],
                ref[first], tol, (unsigned long long)harness_seed);
    return bad == 0;
}

/* matches_mag_tol at the output dtype's tolerance. */
static inline int matches_mag(const run *r, const char *name, const double *ref,
                              const double *mag, int64_t n) {
    return matches_mag_tol(r, name, ref, mag, n, 0);
}

static inline int matches(const run *r, const char *name, const double *ref, int64_t n) {
    return matches_mag(r, name, ref, NULL, n);
}

static inline double *dalloc(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

/* Parameters from a printf format: "dtype=bf16 bm=16" -> an array. */
typedef struct plist {
    char buf[512];
    const char *p[24];
    int n;
} plist;

static inline void params(plist *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void params(plist *pl, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->buf, sizeof pl->buf, fmt, ap);
    va_end(ap);
    pl->n = 0;
    for (char *s = strtok(pl->buf, " "); s && pl->n < 24; s = strtok(NULL, " ")) pl->p[pl->n++] = s;
}

#endif
