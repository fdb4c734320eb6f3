/*
 * recipes.c — recipe parameters: "key=value" strings over documented
 * defaults, typed reads with messages that name the key and the allowed
 * values, and the registry behind tj_recipe_count / _get / _build.
 *
 * The only recipe file that includes ir.h: for tj_set_error. The graphs
 * themselves are built with tilejit.h alone.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "recipes/recipes.h"

tj_status recipe_error(tj_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tj_set_errorv(s, fmt, ap);
    va_end(ap);
    return s;
}

tj_status rp_fail(const rp_set *rp, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': %s", rp->recipe, msg);
}

/* The known keys, for messages: "d causal hq ...". */
static void key_list(const rp_set *rp, char *buf, size_t size) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < rp->n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "", rp->key[i]);
}

static int find_key(const rp_set *rp, const char *key, size_t len) {
    for (int i = 0; i < rp->n; i++)
        if (strlen(rp->key[i]) == len && !strncmp(rp->key[i], key, len)) return i;
    return -1;
}

tj_status rp_parse(rp_set *rp, const char *recipe, const char *defaults, int n,
                   const char *const *params) {
    memset(rp, 0, sizeof *rp);
    rp->recipe = recipe;
    /* The defaults come from the recipe's own table: a malformed one is a bug. */
    for (const char *p = defaults; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *eq = strchr(p, '='), *end = strchr(p, ' ');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end || rp->n >= RP_MAX || (size_t)(eq - p) >= RP_KEY ||
            (size_t)(end - eq - 1) >= RP_VAL)
            return tj_set_error(TJ_ERR_INTERNAL, "recipe '%s': bad default table near '%s'",
                                recipe, p);
        memcpy(rp->key[rp->n], p, (size_t)(eq - p));
        memcpy(rp->val[rp->n], eq + 1, (size_t)(end - eq - 1));
        rp->n++;
        p = end;
    }
    if (n < 0 || (n > 0 && !params))
        return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': %s", recipe,
                            n < 0 ? "nparams is negative" : "params is NULL");
    int seen[RP_MAX] = {0};
    for (int k = 0; k < n; k++) {
        const char *s = params[k];
        char keys[512];
        if (!s)
            return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': parameter %d is NULL", recipe, k);
        const char *eq = strchr(s, '=');
        if (!eq || eq == s)
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "recipe '%s': parameter '%s' is not key=value", recipe, s);
        int i = find_key(rp, s, (size_t)(eq - s));
        if (i < 0) {
            key_list(rp, keys, sizeof keys);
            return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': unknown key '%.*s'; keys are: %s",
                                recipe, (int)(eq - s), s, keys);
        }
        if (seen[i])
            return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': key '%s' is given twice",
                                recipe, rp->key[i]);
        seen[i] = 1;
        if (strlen(eq + 1) == 0 || strlen(eq + 1) >= RP_VAL)
            return tj_set_error(TJ_ERR_INVALID_ARG, "recipe '%s': value of key '%s' is %s",
                                recipe, rp->key[i], eq[1] ? "too long" : "empty");
        snprintf(rp->val[i], RP_VAL, "%s", eq + 1);
    }
    return TJ_OK;
}

static const char *value_of(const rp_set *rp, const char *key) {
    int i = find_key(rp, key, strlen(key));
    return i < 0 ? NULL : rp->val[i];
}

/* A recipe asking for a key its table lacks is a bug in the recipe. */
#define VALUE_OR_BUG(rp, key, v)                                                      \
    const char *v = value_of(rp, key);                                                \
    if (!v)                                                                           \
        return tj_set_error(TJ_ERR_INTERNAL, "recipe '%s': no parameter '%s' in its table", \
                            (rp)->recipe, key)

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

tj_status rp_int(const rp_set *rp, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    VALUE_OR_BUG(rp, key, v);
    if (!parse_i64(v, out) || *out < lo || *out > hi)
        return rp_fail(rp, "%s=%s: %s must be an integer in %lld..%lld", key, v, key,
                       (long long)lo, (long long)hi);
    return TJ_OK;
}

int rp_is(const rp_set *rp, const char *key, const char *value) {
    const char *v = value_of(rp, key);
    return v && !strcmp(v, value);
}

tj_status rp_pow2(const rp_set *rp, const char *key, int64_t lo, int64_t hi, int *out) {
    VALUE_OR_BUG(rp, key, v);
    int64_t x;
    if (!parse_i64(v, &x) || x < lo || x > hi || (x & (x - 1)))
        return rp_fail(rp, "%s=%s: %s must be a power of two in %lld..%lld", key, v, key,
                       (long long)lo, (long long)hi);
    *out = (int)x;
    return TJ_OK;
}

tj_status rp_choice(const rp_set *rp, const char *key, const char *choices, int *out) {
    VALUE_OR_BUG(rp, key, v);
    size_t len = strlen(v);
    int idx = 0;
    for (const char *p = choices;; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, v, n)) {
            *out = idx;
            return TJ_OK;
        }
        if (!bar) break;
        p = bar + 1;
    }
    return rp_fail(rp, "%s=%s is not allowed; %s is one of %s", key, v, key, choices);
}

tj_status rp_flag(const rp_set *rp, const char *key, int *out) {
    return rp_choice(rp, key, "0|1", out);
}

tj_status rp_number(const rp_set *rp, const char *key, double lo, double hi, double *out) {
    VALUE_OR_BUG(rp, key, v);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return rp_fail(rp, "%s=%s: %s must be a number in %g..%g", key, v, key, lo, hi);
    *out = x;
    return TJ_OK;
}

tj_status rp_dtype(const rp_set *rp, const char *key, const char *choices, tj_dtype *out) {
    int idx;
    tj_status s = rp_choice(rp, key, choices, &idx);
    if (s != TJ_OK) return s;
    if (tj_dtype_from_name(value_of(rp, key), out) != TJ_OK)
        return tj_set_error(TJ_ERR_INTERNAL, "recipe '%s': '%s' is not a dtype name",
                            rp->recipe, value_of(rp, key));
    return TJ_OK;
}

tj_status rp_sym_policy(const rp_set *rp, const char *key, int allow_dynamic, rp_policy *out) {
    VALUE_OR_BUG(rp, key, v);
    int64_t m;
    out->bucket = 0;
    if (!strcmp(v, "exact")) {
        out->policy = TJ_EXACT;
    } else if (!strcmp(v, "pow2")) {
        out->policy = TJ_BUCKET_POW2;
    } else if (!strcmp(v, "dynamic") && allow_dynamic) {
        out->policy = TJ_DYNAMIC;
    } else if (!strncmp(v, "multiple", 8) && parse_i64(v + 8, &m) && m >= 1 && m <= INT32_MAX) {
        out->policy = TJ_BUCKET_MULTIPLE;
        out->bucket = m;
    } else if (!strcmp(v, "dynamic")) {
        return rp_fail(rp, "%s=dynamic is not allowed: %s sizes a tile, so it must be known at "
                           "specialization; %s is one of exact|pow2|multipleN",
                       key, key, key);
    } else {
        return rp_fail(rp, "%s=%s is not allowed; %s is one of exact|pow2|multipleN%s "
                           "(N a positive integer, e.g. multiple64)",
                       key, v, key, allow_dynamic ? "|dynamic" : "");
    }
    return TJ_OK;
}

tj_status recipe_finish(tj_graph *g, tj_status s, tj_graph **out) {
    if (s == TJ_OK && tj_graph_status(g) != TJ_OK) {
        s = tj_graph_status(g);
        tj_set_error(s, "%s", tj_graph_error(g));
    }
    if (s == TJ_OK) s = tj_graph_verify(g);
    if (s != TJ_OK) {
        tj_graph_free(g);
        *out = NULL;
        return s;
    }
    *out = g;
    return TJ_OK;
}

/* ---- the registry -------------------------------------------------- */

typedef tj_status (*recipe_fn)(const rp_set *rp, tj_graph **out);

static const struct {
    tj_recipe_info info;
    recipe_fn build;
} recipes[] = {
    {{"eltwise", "y = op(x, g) elementwise over [rows, cols] in [bm, bn] tiles",
      "op=silu_mul dtype=bf16 bm=64 bn=128 rows=dynamic cols=exact"},
     recipe_eltwise},
    {{"softmax", "softmax over the last axis of x[rows, cols], bm whole rows a program",
      "dtype=bf16 bm=1 rows=dynamic cols=exact"},
     recipe_softmax},
    {{"rmsnorm", "y = x * rsqrt(mean(x^2) + eps) * w over rows of x[rows, cols]",
      "dtype=bf16 bm=1 rows=dynamic cols=exact"},
     recipe_rmsnorm},
    {{"layernorm", "y = (x - mean) * rsqrt(var + eps) * w + b over rows of x[rows, cols]",
      "dtype=bf16 bm=1 rows=dynamic cols=exact bias=1"},
     recipe_layernorm},
    {{"gemm", "c = act(op(a) . op(b) + bias): K-tile loop with an f32 accumulator",
      "dtype=bf16 out=same trans_a=0 trans_b=0 bias=0 act=none bm=128 bn=128 bk=auto "
      "m=exact n=exact k=exact"},
     recipe_gemm},
    {{"attention", "FlashAttention-2 forward: online softmax over KV tiles, GQA, causal, "
                   "softcap, ALiBi",
      "d=128 hq=8 hkv=8 causal=0 dtype=bf16 block_m=auto block_n=auto seq=dynamic cross=0 "
      "lse=0 softcap=0 alibi=0 varlen=0 v_layout=n"},
     recipe_attention_str},
    {{"decode", "decode attention: one query token a q head against a KV cache; a program a "
                "GQA group",
      "d=128 hq=32 hkv=8 dtype=bf16 block_n=64 kv=dynamic lens=0"},
     recipe_decode},
};

#define NRECIPES ((int)(sizeof recipes / sizeof recipes[0]))

int tj_recipe_count(void) { return NRECIPES; }

const tj_recipe_info *tj_recipe_get(int index) {
    return (index >= 0 && index < NRECIPES) ? &recipes[index].info : NULL;
}

tj_status tj_recipe_build(const char *name, int nparams, const char *const *params,
                          tj_graph **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_recipe_build: out is NULL");
    *out = NULL;
    for (int i = 0; i < NRECIPES; i++) {
        if (!name || strcmp(name, recipes[i].info.name)) continue;
        rp_set rp;
        tj_status s = rp_parse(&rp, recipes[i].info.name, recipes[i].info.params, nparams, params);
        if (s != TJ_OK) return s;
        s = recipes[i].build(&rp, out);
        if (s == TJ_OK) tj_clear_error();
        return s;
    }
    char names[256];
    size_t off = 0;
    names[0] = '\0';
    for (int i = 0; i < NRECIPES && off < sizeof names; i++)
        off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", i ? " " : "",
                                recipes[i].info.name);
    return tj_set_error(TJ_ERR_INVALID_ARG, "unknown recipe %s%s%s; recipes are: %s",
                        name ? "'" : "", name ? name : "NULL", name ? "'" : "", names);
}

tj_status tj_recipe_build_by_length(const char *name, int nparams, const char *const *params,
                                    tj_graph **graphs, int64_t *upto, const char **symbol,
                                    int *n) {
    if (!graphs || !upto || !symbol || !n)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_recipe_build_by_length: %s is NULL",
                            !graphs ? "graphs" : !upto ? "upto" : !symbol ? "symbol" : "n");
    *n = 0;
    *symbol = NULL;
    if (!name || strcmp(name, "attention")) {
        tj_status s = tj_recipe_build(name, nparams, params, &graphs[0]);
        if (s == TJ_OK) *n = 1;
        return s;
    }
    for (int i = 0; i < NRECIPES; i++) {
        if (strcmp(name, recipes[i].info.name)) continue;
        rp_set rp;
        tj_status s = rp_parse(&rp, recipes[i].info.name, recipes[i].info.params, nparams, params);
        if (s == TJ_OK) s = recipe_attention_str_by_length(&rp, graphs, upto, n);
        if (s != TJ_OK) return s;
        if (*n > 1) *symbol = "seq";
        tj_clear_error();
        return TJ_OK;
    }
    return tj_set_error(TJ_ERR_INTERNAL, "tj_recipe_build_by_length: no attention recipe");
}

