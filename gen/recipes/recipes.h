/*
 * recipes.h — what the recipe files share. Internal to libtilejit.
 *
 * Recipes are ordinary graphs built with the public API of tilejit.h
 * only (a user could write every one of them), so the files that build
 * graphs include this header and never gen/ir.h. gen/recipes.c, which parses
 * "key=value" strings and sets error messages, is the one exception.
 */
#ifndef TJ_RECIPES_H
#define TJ_RECIPES_H

#include "tilejit.h"

/* ---- parameters (gen/recipes.c) ----------------------------------------- */

#define RP_MAX 32
#define RP_KEY 32
#define RP_VAL 64

/* A recipe's parameters: its documented defaults ("d=128 causal=0 ...",
 * the tj_recipe_info.params string), overridden by the caller's. */
typedef struct rp_set {
    const char *recipe;        /* for messages */
    int n;
    char key[RP_MAX][RP_KEY];
    char val[RP_MAX][RP_VAL];
} rp_set;

/* A symbol's specialization policy as a parameter value:
 * exact | pow2 | multipleN | dynamic. */
typedef struct rp_policy {
    tj_policy policy;
    int64_t bucket;
} rp_policy;

/* Fill `rp` from `defaults`, then apply params[0..n-1]. Unknown keys,
 * repeated keys and strings without '=' are TJ_ERR_INVALID_ARG. */
tj_status rp_parse(rp_set *rp, const char *recipe, const char *defaults, int n,
                   const char *const *params);
/* Typed reads. Each fails with TJ_ERR_INVALID_ARG naming the key, the
 * value and what is allowed. */
tj_status rp_int(const rp_set *rp, const char *key, int64_t lo, int64_t hi, int64_t *out);
/* 1 when key's value is the text `value` (say "auto"). */
int rp_is(const rp_set *rp, const char *key, const char *value);
tj_status rp_pow2(const rp_set *rp, const char *key, int64_t lo, int64_t hi, int *out);
/* `choices` is "a|b|c"; *out is the index of the value among them. */
tj_status rp_choice(const rp_set *rp, const char *key, const char *choices, int *out);
tj_status rp_flag(const rp_set *rp, const char *key, int *out);   /* 0|1 */
/* A finite number in [lo, hi]. */
tj_status rp_number(const rp_set *rp, const char *key, double lo, double hi, double *out);
/* A dtype among `choices` ("bf16|f16|f32"). */
tj_status rp_dtype(const rp_set *rp, const char *key, const char *choices, tj_dtype *out);
/* A policy; `dynamic` only when allow_dynamic (a symbol that sizes a tile
 * cannot be dynamic). */
tj_status rp_sym_policy(const rp_set *rp, const char *key, int allow_dynamic, rp_policy *out);
/* A value-level check that spans keys: an error naming them. */
tj_status rp_fail(const rp_set *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set this thread's error message (tj_last_error) and return s. */
tj_status recipe_error(tj_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finish a recipe: the graph's first builder error, if any, becomes the
 * status; otherwise the graph must verify. On success *out = g, else g is
 * freed and *out = NULL. */
tj_status recipe_finish(tj_graph *g, tj_status s, tj_graph **out);

/* ---- small builder shorthands (util.c) ----------------------------- */

tj_val ri32(tj_graph *g, int64_t v);              /* i32 constant */
tj_val rf32(tj_graph *g, double v);               /* f32 constant */
/* cdiv(a, b) for an i32 scalar and a positive constant. */
tj_val rcdiv(tj_graph *g, tj_val a, int64_t b);
tj_sym rsymbol(tj_graph *g, const char *name, rp_policy p);
/* A row-major tensor of rank r with dims d0.. (constants or tj_dim_sym). */
tj_tensor rtensor(tj_graph *g, const char *name, tj_dtype dt, int rank, const tj_dim *dims);
/* Check that v is an f32 tile of [d0, d1]; `what` names it in the error. */
tj_status rcheck_tile(tj_graph *g, tj_val v, tj_dtype dt, tj_dim d0, tj_dim d1,
                      const char *what);

/* ---- the recipes (one file each, or a family a file) --------------- */

tj_status recipe_eltwise(const rp_set *rp, tj_graph **out);
tj_status recipe_softmax(const rp_set *rp, tj_graph **out);
tj_status recipe_rmsnorm(const rp_set *rp, tj_graph **out);
tj_status recipe_layernorm(const rp_set *rp, tj_graph **out);
tj_status recipe_gemm(const rp_set *rp, tj_graph **out);
tj_status recipe_attention_str(const rp_set *rp, tj_graph **out);
tj_status recipe_attention_str_by_length(const rp_set *rp, tj_graph **graphs, int64_t *upto,
                                         int *n);
tj_status recipe_decode(const rp_set *rp, tj_graph **out);

#endif /* TJ_RECIPES_H */
