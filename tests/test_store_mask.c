/*
 * test_store_mask.c — masked stores (tj_store_masked): the builder's and
 * the verifier's rules, the text form, the interpreter (only the masked-in
 * elements change, whatever the mask's broadcast shape), and the generic
 * lowering compiling them.
 */
#include <math.h>

#include "harness.h"
#include "ir.h"

/* y[r, c] = x[r, c] * 2 where mask; mask is [bm,1] (rows below `lim`),
 * [1,bn] (columns below lim) or [bm,bn] (r + c below lim), by `kind`. */
static tj_graph *masked_graph(int kind, int bm, int bn) {
    tj_graph *g = NULL;
    if (tj_graph_new("masked", &g) != TJ_OK) return NULL;
    tj_sym R = tj_symbol(g, "R", TJ_EXACT, 0, 1), C = tj_symbol(g, "C", TJ_EXACT, 0, 1);
    tj_dim dims[2] = {tj_dim_sym(R), tj_dim_sym(C)};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, dims, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    tj_val lim = tj_scalar_arg(g, "lim", TJ_I32);
    tj_val at[2] = {tj_program_id(g, 0), tj_program_id(g, 1)};
    tj_dim tile[2] = {bm, bn};
    tj_val v = tj_mul(g, tj_load(g, x, at, 2, tile, NULL, 0, 0), tj_const(g, TJ_F32, 2));
    tj_dim col[2] = {bm, 1}, row[2] = {1, bn};
    tj_val r = tj_add(g, tj_iota(g, TJ_I32, 2, col, 0), tj_mul(g, at[0], tj_const(g, TJ_I32, bm)));
    tj_val c = tj_add(g, tj_iota(g, TJ_I32, 2, row, 1), tj_mul(g, at[1], tj_const(g, TJ_I32, bn)));
    tj_val mask = kind == 0 ? tj_binary(g, TJ_LT, r, lim)
                : kind == 1 ? tj_binary(g, TJ_LT, c, lim)
                            : tj_binary(g, TJ_LT, tj_add(g, r, c), lim);
    tj_store_masked(g, y, at, v, mask, NULL, 0);
    tj_val grid[2] = {tj_binary(g, TJ_CDIV, tj_symval(g, R), tj_const(g, TJ_I32, bm)),
                      tj_binary(g, TJ_CDIV, tj_symval(g, C), tj_const(g, TJ_I32, bn))};
    tj_set_grid(g, 2, grid);
    if (tj_graph_status(g) != TJ_OK) {
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

TEST(test_store_mask_interpreter_writes_only_masked_in_elements) {
    for (int kind = 0; kind < 3; kind++) {
        int bm = 1 << harness_randint(0, 4), bn = 1 << harness_randint(0, 5);
        tj_graph *g = masked_graph(kind, bm, bn);
        CHECK(g);
        int64_t R = harness_randint(1, 70), C = harness_randint(1, 70);
        int64_t vals[2] = {R, C};
        float *x = malloc(sizeof *x * (size_t)(R * C)), *y = malloc(sizeof *y * (size_t)(R * C));
        for (int64_t i = 0; i < R * C; i++) {
            x[i] = (float)harness_uniform(-1, 1);
            y[i] = NAN;   /* poison: masked-out elements must keep it */
        }
        double lim = (double)harness_randint(0, kind == 2 ? R + C : kind ? C : R);
        void *ts[2] = {x, y};
        double sc[1] = {lim};
        CHECK_OK(tj_interp_run(g, vals, ts, sc, 0));
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) {
                int in = kind == 0 ? r < lim : kind == 1 ? c < lim : r + c < lim;
                float got = y[r * C + c];
                if (in)
                    CHECKF(got == 2 * x[r * C + c], "kind %d [%lld,%lld]: %g", kind, (long long)r,
                           (long long)c, got);
                else
                    CHECKF(isnan(got), "kind %d [%lld,%lld] written: %g", kind, (long long)r,
                           (long long)c, got);
            }
        free(x);
        free(y);
        tj_graph_free(g);
    }
}

TEST(test_store_mask_round_trips_through_text) {
    tj_graph *g = masked_graph(2, 8, 16);
    CHECK(g);
    char *a = NULL, *b = NULL;
    CHECK_OK(tj_graph_print(g, &a));
    CHECK(strstr(a, " mask %"));
    tj_graph *h = NULL;
    CHECK_OK(tj_graph_parse(a, strlen(a), "masked.tj", &h));
    CHECK_OK(tj_graph_print(h, &b));
    CHECK(strcmp(a, b) == 0);
    char ha[65], hb[65];
    CHECK_OK(tj_graph_hash(g, ha));
    CHECK_OK(tj_graph_hash(h, hb));
    CHECK(strcmp(ha, hb) == 0);
    tj_free(a);
    tj_free(b);
    tj_graph_free(h);
    tj_graph_free(g);
}

TEST(test_store_mask_must_be_bool_and_broadcast_to_the_value) {
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_new("badmask", &g));
    tj_dim dims[2] = {64, 64};
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    tj_val at[2] = {tj_const(g, TJ_I32, 0), tj_const(g, TJ_I32, 0)};
    tj_dim tile[2] = {8, 16}, wrong[2] = {8, 4};
    tj_val v = tj_full(g, TJ_F32, 2, tile, 1);
    CHECK_ERR(tj_store_masked(g, y, at, v, tj_full(g, TJ_F32, 2, tile, 1), NULL, 0),
              TJ_ERR_VERIFY, "mask must be bool");
    tj_graph_free(g);
    CHECK_OK(tj_graph_new("badmask2", &g));
    y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    at[0] = at[1] = tj_const(g, TJ_I32, 0);
    v = tj_full(g, TJ_F32, 2, tile, 1);
    tj_val m = tj_binary(g, TJ_LT, tj_iota(g, TJ_I32, 2, wrong, 1), tj_const(g, TJ_I32, 2));
    CHECK_ERR(tj_store_masked(g, y, at, v, m, NULL, 0), TJ_ERR_VERIFY, "does not broadcast");
    tj_graph_free(g);
    CHECK_OK(tj_graph_new("badmask3", &g));
    y = tj_tensor_arg(g, "y", TJ_F32, 2, dims, NULL);
    at[0] = at[1] = tj_const(g, TJ_I32, 0);
    v = tj_full(g, TJ_F32, 2, tile, 1);
    CHECK_ERR(tj_store_masked(g, y, at, v, (tj_val){12345}, NULL, 0), TJ_ERR_INVALID_ARG,
              "is not a value");
    CHECK_ERR(tj_store_masked(g, y, at, v, TJ_NONE, NULL, IR_STORE_MASKED), TJ_ERR_INVALID_ARG,
              "unknown flags");
    tj_graph_free(g);
}

TEST(test_store_mask_text_errors_name_the_line) {
    const char *text =
        "tilejit 1\ngraph t\ntensor y f32[64]\n%0 = const 0 : i32\n"
        "%1 = const 1 : f32[16]\n%2 = const 1 : f32[16]\nstore y [%0], %1 mask %2\n"
        "%3 = const 1 : i32\ngrid [%3]\n";
    tj_graph *g = NULL;
    CHECK_ERR(tj_graph_parse(text, strlen(text), "m.tj", &g), TJ_ERR_VERIFY, "m.tj:7");
    CHECK(!g);
}

TEST(test_store_mask_generic_lowering_compiles) {
    for (int kind = 0; kind < 3; kind++) {
        tj_graph *g = masked_graph(kind, 16, 32);
        CHECK(g);
        int64_t vals[2] = {100, 70};
        char *src = NULL;
        CHECK_OK(tj_emit_cuda(g, "sm_80", vals, &src));
        CHECK(strstr(src, "if (inb && "));
        tj_free(src);
        void *cubin = NULL;
        size_t size = 0;
        tj_status st = tj_compile(g, "sm_90a", vals, 0, &cubin, &size, NULL);
        if (st == TJ_ERR_UNSUPPORTED && strstr(tj_last_error(), "NVRTC")) {
            tj_graph_free(g);
            SKIP("NVRTC not found: %s", tj_last_error());
        }
        CHECKF(st == TJ_OK, "kind %d: %s", kind, tj_last_error());
        tj_free(cubin);
        tj_graph_free(g);
    }
}

TEST(test_store_mask_llvm_back_end_compiles) {
    tj_graph *g = masked_graph(0, 16, 32);
    CHECK(g);
    int64_t vals[2] = {100, 70};
    void *cubin = NULL;
    size_t size = 0;
    tj_status st = tj_compile(g, "sm_90a", vals, TJ_COMPILE_BACKEND_LLVM, &cubin, &size, NULL);
    if (st == TJ_ERR_UNSUPPORTED) {
        tj_graph_free(g);
        SKIP("no LLVM back end here: %s", tj_last_error());
    }
    CHECKF(st == TJ_OK && size > 0, "%s", tj_last_error());
    tj_free(cubin);
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
