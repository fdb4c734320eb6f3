/*
 * prebuild_int.h — the parsed manifest, shared by prebuild_manifest.c (the
 * parser) and prebuild.c (the compiles).
 */
#ifndef TJ_PREBUILD_INT_H
#define TJ_PREBUILD_INT_H

#include <stdint.h>

#include "prebuild.h"

typedef struct pb_graph {
    tj_graph *g;
    char hash[65];
    int line;          /* of its `recipe` / `file` line */
    int nsym;
    int64_t **vals;    /* per symbol: its values (NULL: unbound) */
    int *nvals;
    int *bind_line;    /* where each symbol was bound (0: not) */
} pb_graph;

struct prebuild_manifest {
    char *source;
    pb_graph *graphs;
    int n, cap;
};

/* Combinations of one graph's bound values (1 when none is bound). */
size_t pb_combinations(const pb_graph *pg);
/* The index-th combination's symbol values (TJ_UNBOUND where unbound). */
void pb_combination(const pb_graph *pg, size_t index, int64_t *vals);

#endif
