/*
 * interp_util.h — small helpers shared by the interpreter tests: graph
 * building shorthands, random non-zero inputs and poisoned outputs.
 */
#ifndef TJ_TEST_INTERP_UTIL_H
#define TJ_TEST_INTERP_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ir.h" /* the ir_* conversions, as references */

static inline tj_graph *new_graph(const char *name) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    return g;
}

static inline tj_val ci32(tj_graph *g, int64_t v) { return tj_const(g, TJ_I32, (double)v); }
static inline tj_val cf32(tj_graph *g, double v) { return tj_const(g, TJ_F32, v); }
static inline tj_val pid(tj_graph *g, int axis) { return tj_program_id(g, axis); }
static inline tj_val cdiv(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_CDIV, a, b); }
static inline tj_val symv(tj_graph *g, tj_sym s) { return tj_symval(g, s); }
static inline tj_sym exact_sym(tj_graph *g, const char *name) {
    return tj_symbol(g, name, TJ_EXACT, 0, 1);
}

static inline tj_status set_grid1(tj_graph *g, tj_val a) { return tj_set_grid(g, 1, &a); }
static inline tj_status set_grid2(tj_graph *g, tj_val a, tj_val b) {
    tj_val d[2] = {a, b};
    return tj_set_grid(g, 2, d);
}

static inline tj_status run(tj_graph *g, const int64_t *sv, void **ts, const double *sc,
                            unsigned flags) {
    return tj_interp_run(g, sv, (void *const *)ts, sc, flags);
}

/* Uniform in ±[0.25, 2): never zero. */
static inline float rndf(void) {
    float v = (float)harness_uniform(0.25, 2.0);
    return (harness_next() & 1) ? -v : v;
}

static inline float *rand_f32(size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    for (size_t i = 0; p && i < n; i++) p[i] = rndf();
    return p;
}

/* n elements of NaN, to show which ones a program wrote. */
static inline float *poisoned_f32(size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    for (size_t i = 0; p && i < n; i++) p[i] = NAN;
    return p;
}

static inline int32_t *poisoned_i32(size_t n) {
    int32_t *p = malloc(n * sizeof *p + 1);
    for (size_t i = 0; p && i < n; i++) p[i] = INT32_MIN + 7;
    return p;
}

#define POISON_I32 (INT32_MIN + 7)

/* Relative closeness for references computed another way. */
static inline int close_to(double got, double want, double rel, double abs_tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= abs_tol + rel * fabs(want);
}

#endif
