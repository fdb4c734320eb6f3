/*
 * kernel_by_symbol.c — one tj_kernel over graphs that differ in their tiles,
 * each serving a range of one symbol's values (tj_kernel_create_by_symbol).
 *
 * Why: a graph's tile shape is fixed (its loads name it), and the best
 * tile depends on the length (attention at d 64 causal on the H200: 128
 * query rows with pairs of tiles 18-23 % faster at N <= 1024, 192 rows
 * from 2048 on). The length is a symbol the runtime already specializes
 * on; choosing the graph from it at launch is one comparison per range,
 * and each graph keeps its own cache entries, single flight, background
 * compiles and statistics (each graph's kernel is an ordinary one).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel_int.h"

static tj_status mismatch(const tj_graph *a, const tj_graph *b, int i, const char *what) {
    return tj_set_error(TJ_ERR_INVALID_ARG,
                        "tj_kernel_create_by_symbol: graph %d ('%s') differs from graph 0 "
                        "('%s') in %s",
                        i, tj_graph_name(b), tj_graph_name(a), what);
}

/* The launch arguments of a fit b: symbols, tensors and scalars alike. */
static tj_status same_signature(const tj_graph *a, const tj_graph *b, int i) {
    char what[160];
    if (tj_num_symbols(a) != tj_num_symbols(b)) return mismatch(a, b, i, "its number of symbols");
    for (int s = 0; s < tj_num_symbols(a); s++) {
        tj_sym x = {s};
        if (strcmp(tj_symbol_name(a, x), tj_symbol_name(b, x)) ||
            tj_symbol_policy(a, x) != tj_symbol_policy(b, x)) {
            snprintf(what, sizeof what, "symbol %d ('%s' vs '%s', or its policy)", s,
                     tj_symbol_name(b, x), tj_symbol_name(a, x));
            return mismatch(a, b, i, what);
        }
    }
    if (tj_num_tensors(a) != tj_num_tensors(b)) return mismatch(a, b, i, "its number of tensors");
    for (int t = 0; t < tj_num_tensors(a); t++) {
        tj_tensor x = {t};
        if (strcmp(tj_tensor_name(a, x), tj_tensor_name(b, x)) ||
            tj_tensor_dtype(a, x) != tj_tensor_dtype(b, x) ||
            tj_tensor_rank(a, x) != tj_tensor_rank(b, x)) {
            snprintf(what, sizeof what, "tensor %d ('%s' vs '%s', or its dtype or rank)", t,
                     tj_tensor_name(b, x), tj_tensor_name(a, x));
            return mismatch(a, b, i, what);
        }
    }
    if (tj_num_scalars(a) != tj_num_scalars(b)) return mismatch(a, b, i, "its number of scalars");
    for (int c = 0; c < tj_num_scalars(a); c++)
        if (strcmp(tj_scalar_name(a, c), tj_scalar_name(b, c)) ||
            tj_scalar_dtype(a, c) != tj_scalar_dtype(b, c)) {
            snprintf(what, sizeof what, "scalar %d ('%s' vs '%s', or its dtype)", c,
                     tj_scalar_name(b, c), tj_scalar_name(a, c));
            return mismatch(a, b, i, what);
        }
    return TJ_OK;
}

tj_status tj_kernel_create_by_symbol(const tj_graph *const *graphs, int n, const char *symbol,
                                     const int64_t *upto, const tj_kernel_options *opt,
                                     tj_kernel **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create_by_symbol: out is NULL");
    *out = NULL;
    if (!graphs || !symbol || (n > 1 && !upto))
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create_by_symbol: %s is NULL",
                            !graphs ? "graphs" : !symbol ? "symbol" : "upto");
    if (n < 1 || n > TJ_MAX_VARIANTS)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_kernel_create_by_symbol: %d graphs (1..%d)", n, TJ_MAX_VARIANTS);
    for (int i = 0; i < n; i++)
        if (!graphs[i])
            return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create_by_symbol: graph %d is NULL",
                                i);
    tj_sym s = tj_find_symbol(graphs[0], symbol);
    if (s.id < 0)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_kernel_create_by_symbol: graph '%s' has no symbol '%s'",
                            tj_graph_name(graphs[0]), symbol);
    for (int i = 1; i + 1 < n; i++)
        if (upto[i] <= upto[i - 1])
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "tj_kernel_create_by_symbol: upto[%d] = %lld does not exceed "
                                "upto[%d] = %lld (the ranges must increase)",
                                i, (long long)upto[i], i - 1, (long long)upto[i - 1]);
    tj_status st = TJ_OK;
    for (int i = 1; i < n && st == TJ_OK; i++) st = same_signature(graphs[0], graphs[i], i);
    if (st != TJ_OK) return st;
    tj_kernel *k = NULL;
    if ((st = tj_kernel_create(graphs[0], opt, &k)) != TJ_OK) return st;
    k->by_sym = s.id;
    for (int i = 1; i < n; i++) {
        if ((st = tj_kernel_create(graphs[i], opt, &k->by[i])) != TJ_OK) {
            tj_kernel_destroy(k);   /* and the graphs' kernels made so far */
            return st;
        }
        k->nby = i + 1;
    }
    for (int i = 0; i + 1 < n; i++) k->by_upto[i] = upto[i];
    k->by_upto[n - 1] = INT64_MAX;
    *out = k;
    return TJ_OK;
}

void kernel_by_symbol_stats(const tj_kernel *k, tj_kernel_stats *out) {
    for (int i = 1; i < k->nby; i++) {
        tj_kernel_stats v;
        if (tj_kernel_stats_get(k->by[i], &v) != TJ_OK) continue;
        out->launches += v.launches;
        out->hits += v.hits;
        out->misses += v.misses;
        out->compiles += v.compiles;
        out->disk_hits += v.disk_hits;
        out->bundle_hits += v.bundle_hits;
        out->fallback_launches += v.fallback_launches;
        out->compile_seconds += v.compile_seconds;
        out->cubin_bytes += v.cubin_bytes;
        out->specializations += v.specializations;
        out->tier0_launches += v.tier0_launches;
        out->tier_upgrades += v.tier_upgrades;
    }
}
