/*
 * util.c — builder shorthands the recipes share (public API only).
 */
#include <stdio.h>

#include "recipes.h"

tj_val ri32(tj_graph *g, int64_t v) { return tj_const(g, TJ_I32, (double)v); }
tj_val rf32(tj_graph *g, double v) { return tj_const(g, TJ_F32, v); }

tj_val rcdiv(tj_graph *g, tj_val a, int64_t b) {
    return tj_binary(g, TJ_CDIV, a, ri32(g, b));
}

tj_sym rsymbol(tj_graph *g, const char *name, rp_policy p) {
    return tj_symbol(g, name, p.policy, p.bucket, 1);
}

tj_tensor rtensor(tj_graph *g, const char *name, tj_dtype dt, int rank, const tj_dim *dims) {
    return tj_tensor_arg(g, name, dt, rank, dims, NULL);
}

tj_status rcheck_tile(tj_graph *g, tj_val v, tj_dtype dt, tj_dim d0, tj_dim d1,
                      const char *what) {
    tj_dtype t;
    int rank;
    tj_dim dims[TJ_MAX_TILE_RANK];
    if (!tj_val_ok(v)) {
        tj_status s = tj_graph_status(g);
        return recipe_error(s != TJ_OK ? s : TJ_ERR_INVALID_ARG, "%s returned no value%s%s", what,
                            s != TJ_OK ? ": " : "", s != TJ_OK ? tj_graph_error(g) : "");
    }
    if (tj_val_type(g, v, &t, &rank, dims) != TJ_OK) return TJ_ERR_INVALID_ARG;
    if (t != dt || rank != 2 || dims[0] != d0 || dims[1] != d1) {
        char want[64], got[64];
        snprintf(want, sizeof want, "%s[%lld,%lld]", tj_dtype_name(dt), (long long)d0,
                 (long long)d1);
        if (rank == 2)
            snprintf(got, sizeof got, "%s[%lld,%lld]", tj_dtype_name(t), (long long)dims[0],
                     (long long)dims[1]);
        else
            snprintf(got, sizeof got, "%s of rank %d", tj_dtype_name(t), rank);
        return recipe_error(TJ_ERR_INVALID_ARG, "%s must return %s, not %s", what, want, got);
    }
    return TJ_OK;
}
