/* y = silu(x) * gate as one fused tile program, run in the CPU interpreter. */
#include <math.h>
#include <stdio.h>
#include "tilejit.h"

static int fail(void) { fprintf(stderr, "tilejit: %s\n", tj_last_error()); return 1; }

int main(void) {
    tj_graph *g;
    if (tj_graph_new("silu_mul", &g) != TJ_OK) return fail();
    tj_sym n = tj_symbol(g, "n", TJ_BUCKET_POW2, 0, 1);       /* a symbolic length */
    tj_dim dims[1] = {tj_dim_sym(n)}, tile[1] = {256};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, dims, NULL);
    tj_tensor gate = tj_tensor_arg(g, "gate", TJ_F32, 1, dims, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, dims, NULL);
    tj_val pid = tj_program_id(g, 0);                          /* which tile is ours */
    tj_val a = tj_load(g, x, &pid, 1, tile, NULL, 0.0, 0);    /* masked at the end */
    tj_val b = tj_load(g, gate, &pid, 1, tile, NULL, 0.0, 0);
    tj_store(g, y, &pid, tj_mul(g, tj_unary(g, TJ_SILU, a), b), NULL, 0);
    tj_val grid = tj_binary(g, TJ_CDIV, tj_symval(g, n), tj_const(g, TJ_I32, 256));
    tj_set_grid(g, 1, &grid);
    if (tj_graph_verify(g) != TJ_OK) return fail();            /* checks every call above */

    char *text;
    if (tj_graph_print(g, &text) != TJ_OK) return fail();     /* the canonical .tj form */
    printf("%s", text);
    tj_free(text);

    enum { N = 1000 };                                         /* 4 programs, the last masked */
    float xs[N], gs[N], ys[N];
    for (int i = 0; i < N; i++) xs[i] = (float)sin(i + 0.5), gs[i] = (float)cos(i + 0.5);
    int64_t vals[1];
    void *bufs[3] = {xs, gs, ys};
    if (tj_bind_parse(g, "n=1000", vals) != TJ_OK) return fail();
    if (tj_interp_run(g, vals, bufs, NULL, 0) != TJ_OK) return fail();

    double err = 0;
    for (int i = 0; i < N; i++) err = fmax(err, fabs(ys[i] - xs[i] / (1 + exp(-xs[i])) * gs[i]));
    printf("max |error| against plain C: %g\n", err);
    tj_graph_free(g);
    return err < 1e-5 ? 0 : 1;
}
