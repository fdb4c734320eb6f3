/*
 * verify_util.h — a small valid kernel to break, and the checks shared by
 * test_verify.c (verify-time errors, valid graphs) and
 * test_verify_builder.c (errors the builder records).
 */
#ifndef TJ_TEST_VERIFY_UTIL_H
#define TJ_TEST_VERIFY_UTIL_H

#include "harness.h"
#include "ir.h"

/* ---- a small valid kernel to break --------------------------------- */

typedef struct base {
    tj_graph *g;
    tj_sym M;
    tj_tensor x, y;   /* f32[M, 64] */
    tj_val pid, zero;
} base;

static inline base mk(void) {
    base b = {0};
    tj_graph_new("k", &b.g);
    b.M = tj_symbol(b.g, "M", TJ_EXACT, 0, 1);
    tj_dim d[2] = {tj_dim_sym(b.M), 64};
    b.x = tj_tensor_arg(b.g, "x", TJ_F32, 2, d, NULL);
    b.y = tj_tensor_arg(b.g, "y", TJ_F32, 2, d, NULL);
    b.pid = tj_program_id(b.g, 0);
    b.zero = tj_const(b.g, TJ_I32, 0);
    return b;
}

static inline tj_val ci(tj_graph *g, int64_t v) { return tj_const(g, TJ_I32, (double)v); }

static inline tj_val load_x(base *b) {
    return tj_load(b->g, b->x, (tj_val[]){b->pid, b->zero}, 2, (tj_dim[]){16, 64}, NULL, 0, 0);
}

static inline void store_y(base *b, tj_val v) {
    tj_store(b->g, b->y, (tj_val[]){b->pid, b->zero}, v, NULL, 0);
}

static inline void set_grid(base *b) {
    tj_val gm = tj_binary(b->g, TJ_CDIV, tj_symval(b->g, b->M), ci(b->g, 16));
    tj_set_grid(b->g, 1, &gm);
}

/* Store v and set the grid: a kernel that is complete apart from v. */
static inline void finish(base *b, tj_val v) {
    store_y(b, v);
    set_grid(b);
}

/* The builder refused a call: the graph holds the error and verify
 * reports it again, with the same message. */
#define EXPECT_BUILDER_ERROR(g, status, who, rule)                                       \
    do {                                                                                 \
        CHECKF(tj_graph_status(g) == (status), "graph status %s: %s",                    \
               tj_status_name(tj_graph_status(g)), tj_graph_error(g));                   \
        CHECKF(strstr(tj_graph_error(g), (who)) && strstr(tj_graph_error(g), (rule)),    \
               "graph error \"%s\" lacks \"%s\" / \"%s\"", tj_graph_error(g), (who),     \
               (rule));                                                                  \
        tj_set_error(TJ_ERR_IO, "something else");                                       \
        CHECK_ERR(tj_graph_verify(g), (status), (rule));                                 \
        CHECK(strstr(tj_last_error(), (who)));                                           \
        CHECK(!strcmp(tj_last_error(), tj_graph_error(g)));                              \
        tj_graph_free(g);                                                                \
    } while (0)

/* Every builder call succeeded; only verification finds the problem. */
#define EXPECT_VERIFY_ERROR(g, who, rule)                                                \
    do {                                                                                 \
        CHECKF(tj_graph_status(g) == TJ_OK, "builder failed: %s", tj_graph_error(g));    \
        CHECK_ERR(tj_graph_verify(g), TJ_ERR_VERIFY, (rule));                            \
        CHECKF(strstr(tj_last_error(), (who)), "\"%s\" does not name \"%s\"",            \
               tj_last_error(), (who));                                                  \
        CHECK(tj_graph_status(g) == TJ_OK); /* verification records nothing */          \
        tj_graph_free(g);                                                                \
    } while (0)

#define EXPECT_VALID(g)                                                                  \
    do {                                                                                 \
        CHECKF(tj_graph_status(g) == TJ_OK, "builder failed: %s", tj_graph_error(g));    \
        CHECK_OK(tj_graph_verify(g));                                                    \
        tj_graph_free(g);                                                                \
    } while (0)

#endif /* TJ_TEST_VERIFY_UTIL_H */
