/*
 * bad_input_util.h — checks and fixtures shared by test_bad_input.c (the
 * builder and queries) and test_bad_input_run.c (text, bindings, the
 * interpreter, code generation, recipes).
 */
#ifndef TJ_TEST_BAD_INPUT_UTIL_H
#define TJ_TEST_BAD_INPUT_UTIL_H

#include "harness.h"
#include "ir.h" /* tj_clear_error: to see that each failure sets a message */

/* ---- checks -------------------------------------------------------- */

/* `expr` fails with `status` and sets a message. */
#define BAD(expr, status)                                                                 \
    do {                                                                                  \
        tj_clear_error();                                                                 \
        tj_status bad_s_ = (expr);                                                        \
        CHECKF(bad_s_ == (status), "%s -> %s \"%s\"; wanted %s", #expr,                   \
               tj_status_name(bad_s_), tj_last_error(), tj_status_name(status));          \
        CHECKF(tj_last_error()[0] != '\0', "%s: no message", #expr);                      \
    } while (0)

/* A builder call on a fresh fixture `f` fails: it returns a TJ_NONE handle
 * (or an error status), sets a message, and records the error on f.g. */
#define BAD_BUILD(expr, status)                                                           \
    do {                                                                                  \
        fx f = fixture();                                                                 \
        CHECK(f.g);                                                                       \
        tj_clear_error();                                                                 \
        int64_t bad_r_ = (int64_t)(expr);                                                 \
        CHECKF(bad_r_ == TJ_NONE_ID || (bad_r_ > 0 && bad_r_ == (int64_t)(status)),       \
               "%s -> %lld \"%s\"", #expr, (long long)bad_r_, tj_last_error());           \
        CHECKF(tj_last_error()[0] != '\0', "%s: no message", #expr);                      \
        CHECKF(tj_graph_status(f.g) == (status), "%s: graph status %s \"%s\"; wanted %s", \
               #expr, tj_status_name(tj_graph_status(f.g)), tj_graph_error(f.g),          \
               tj_status_name(status));                                                   \
        CHECK(!strcmp(tj_graph_error(f.g), tj_last_error()));                             \
        tj_set_error(TJ_ERR_IO, "overwritten");                                           \
        CHECK(tj_graph_verify(f.g) == (status));                                          \
        tj_graph_free(f.g);                                                               \
    } while (0)

/* A call with a NULL graph returns `none` and sets a message. */
#define BAD_NULL_GRAPH(expr, none)                                                        \
    do {                                                                                  \
        tj_clear_error();                                                                 \
        CHECKF((int64_t)(expr) == (int64_t)(none), "%s with a NULL graph", #expr);        \
        CHECKF(strstr(tj_last_error(), "NULL"), "%s: \"%s\"", #expr, tj_last_error());    \
    } while (0)

/* Handle ids and status codes as one integer for BAD_BUILD. */
static inline int64_t V(tj_val v) { return v.id; }
static inline int64_t T(tj_tensor t) { return t.id; }
static inline int64_t S(tj_sym s) { return s.id; }

/* ---- a fixture with one of everything ------------------------------ */

typedef struct fx {
    tj_graph *g;
    tj_sym M, D;        /* M exact, multiple of 16; D dynamic */
    tj_tensor x, ix;    /* x f32[M, 64]; ix i32[64] */
    tj_val alpha;       /* scalar f32 */
    tj_val pid, zero, one;
    tj_val t;           /* f32[16, 64] tile of x */
    tj_val fone;        /* f32 scalar */
} fx;

static inline fx fixture(void) {
    fx f = {0};
    if (tj_graph_new("bad", &f.g) != TJ_OK) return f;
    f.M = tj_symbol(f.g, "M", TJ_EXACT, 0, 16);
    f.D = tj_symbol(f.g, "D", TJ_DYNAMIC, 0, 1);
    f.x = tj_tensor_arg(f.g, "x", TJ_F32, 2, (tj_dim[]){tj_dim_sym(f.M), 64}, NULL);
    f.ix = tj_tensor_arg(f.g, "ix", TJ_I32, 1, (tj_dim[]){64}, NULL);
    f.alpha = tj_scalar_arg(f.g, "alpha", TJ_F32);
    f.pid = tj_program_id(f.g, 0);
    f.zero = tj_const(f.g, TJ_I32, 0);
    f.one = tj_const(f.g, TJ_I32, 1);
    f.fone = tj_const(f.g, TJ_F32, 1);
    f.t = tj_load(f.g, f.x, (tj_val[]){f.pid, f.zero}, 2, (tj_dim[]){16, 64}, NULL, 0, 0);
    if (tj_graph_status(f.g) != TJ_OK) {
        fprintf(stderr, "  fixture: %s\n", tj_graph_error(f.g));
        tj_graph_free(f.g);
        f.g = NULL;
    }
    return f;
}

/* A value id no graph of this file reaches: a handle from a bigger graph. */
#define FOREIGN ((tj_val){5000})
#define NO_TENSOR ((tj_tensor){TJ_NONE_ID})

/* A complete, valid kernel: y[M, 64] = x * alpha; grid cdiv(M, 16). */
static inline tj_graph *kernel(void) {
    tj_graph *g = NULL;
    if (tj_graph_new("scale", &g) != TJ_OK) return NULL;
    tj_sym M = tj_symbol(g, "M", TJ_EXACT, 0, 16);
    tj_dim d[2] = {tj_dim_sym(M), 64};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, d, NULL);
    tj_val alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_val c[2] = {tj_program_id(g, 0), tj_const(g, TJ_I32, 0)};
    tj_val t = tj_load(g, x, c, 2, (tj_dim[]){16, 64}, NULL, 0, 0);
    tj_store(g, y, c, tj_mul(g, t, alpha), NULL, 0);
    tj_val gm = tj_binary(g, TJ_CDIV, tj_symval(g, M), tj_const(g, TJ_I32, 16));
    tj_set_grid(g, 1, &gm);
    if (tj_graph_verify(g) != TJ_OK) {
        fprintf(stderr, "  kernel: %s\n", tj_last_error());
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

#endif /* TJ_TEST_BAD_INPUT_UTIL_H */
