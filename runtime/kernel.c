/*
 * kernel.c — tj_kernel: a graph made launchable. The hot path (a launch
 * whose specialization is loaded) checks the arguments, computes the key,
 * finds it in the lock-free map and launches with parameters packed on the
 * stack: no allocation, no lock, no formatting, no file access. Everything
 * else (a miss) is kernel_miss.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernel_int.h"

/* ---- the specialization key ------------------------------------------- */

uint64_t kernel_spec_hash(const int64_t *v, int n, int variant) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)variant;
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)v[i];
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 32);
}

static tj_status bad_symbol(const tj_kernel *k, int s, int64_t v) {
    const char *name = k->g->syms[s].name;
    if (v == TJ_UNBOUND)
        return tj_set_error(TJ_ERR_UNBOUND,
                            "tj_kernel_launch(graph '%s'): symbol '%s' has no value "
                            "(TJ_UNBOUND); every symbol needs one at launch",
                            k->g->name, name);
    if (v < 1 || v > INT32_MAX)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_kernel_launch(graph '%s'): symbol '%s' = %lld; a size must be in "
                            "1..2^31-1",
                            k->g->name, name, (long long)v);
    return tj_set_error(TJ_ERR_INVALID_ARG,
                        "tj_kernel_launch(graph '%s'): symbol '%s' = %lld is not a multiple of "
                        "%lld, as the graph declares",
                        k->g->name, name, (long long)v, (long long)k->syms[s].divisor);
}

tj_status kernel_spec(const tj_kernel *k, const int64_t *sym_vals, int variant, kspec *out) {
    for (int i = 0; i < k->nsym; i++) {
        int64_t v = sym_vals[i];
        const ksym *s = &k->syms[i];
        if (v < 1 || v > INT32_MAX || (s->divisor > 1 && v % s->divisor))
            return bad_symbol(k, i, v);
        int64_t sv = v;
        if ((variant & KV_DYNAMIC) && !s->sizes_tile)
            sv = TJ_UNBOUND;
        else if (s->policy == TJ_BUCKET_POW2)
            sv = v == 1 ? 1 : (int64_t)1 << (64 - __builtin_clzll((uint64_t)(v - 1)));
        else if (s->policy == TJ_BUCKET_MULTIPLE)
            sv = (v + s->bucket - 1) / s->bucket * s->bucket;
        else if (s->policy == TJ_DYNAMIC)
            sv = TJ_UNBOUND;
        out->v[i] = sv;
    }
    out->variant = variant;
    out->hash = kernel_spec_hash(out->v, k->nsym, variant);
    return TJ_OK;
}

/* ---- the grid ------------------------------------------------------------ */

static tj_status grid_eval(const tj_kernel *k, const int64_t *sym_vals, int64_t g[TJ_MAX_GRID]) {
    g[0] = g[1] = g[2] = 1;
    if (k->grid_fast) {
        int64_t v[KERNEL_GRID_OPS];
        for (int i = 0; i < k->ngrid_ops; i++) {
            const kgrid_op *o = &k->grid_ops[i];
            switch (o->op) {
            case KG_CONST: v[i] = o->val; break;
            case KG_SYM: v[i] = sym_vals[o->val]; break;
            case KG_CAST32: v[i] = (int32_t)(uint32_t)(uint64_t)v[o->a]; break;
            case KG_COPY: v[i] = v[o->a]; break;
            case KG_NEG: v[i] = (int64_t)(0 - (uint64_t)v[o->a]); break;
            case KG_ABS: v[i] = v[o->a] < 0 ? (int64_t)(0 - (uint64_t)v[o->a]) : v[o->a]; break;
            case KG_RELU: v[i] = v[o->a] < 0 ? 0 : v[o->a]; break;
            default: v[i] = ir_grid_binary(o->sub, v[o->a], v[o->b]); break;
            }
        }
        for (int i = 0; i < k->ngrid; i++) g[i] = v[k->grid_root[i]];
    } else {
        tj_status st = tj_graph_grid(k->g, sym_vals, g);
        if (st != TJ_OK) return st;
    }
    for (int i = 0; i < TJ_MAX_GRID; i++) {
        int64_t lim = i == 0 ? INT32_MAX : 65535;
        if (g[i] < 1 || g[i] > lim)
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "tj_kernel_launch(graph '%s'): grid dim %d is %lld for these "
                                "symbol values; it must be in 1..%lld",
                                k->g->name, i, (long long)g[i], (long long)lim);
    }
    return TJ_OK;
}

/* The launch grid of entry e for the graph's grid g (emit.h's modes). */
static tj_status launch_grid(const tj_kernel *k, const kentry *e, const int64_t g[TJ_MAX_GRID],
                             unsigned grid[3]) {
    grid[0] = (unsigned)g[0], grid[1] = (unsigned)g[1], grid[2] = (unsigned)g[2];
    if (e->grid_mode == EMIT_GRID_DIV) {
        grid[0] = (unsigned)((g[0] + e->grid_arg - 1) / e->grid_arg);
    } else if (e->grid_mode == EMIT_GRID_MUL) {
        if (g[0] > INT32_MAX / e->grid_arg)
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "tj_kernel_launch(graph '%s'): grid dim 0 is %lld programs of %d "
                                "blocks each, over the 2^31-1 blocks a launch may have",
                                k->g->name, (long long)g[0], e->grid_arg);
        grid[0] = (unsigned)(g[0] * e->grid_arg);
    } else if (e->grid_mode == EMIT_GRID_PERSISTENT) {
        uint64_t total = (uint64_t)g[0] * (uint64_t)g[1] * (uint64_t)g[2];
        uint64_t b = total < e->max_blocks ? total : e->max_blocks;
        uint64_t c = e->cluster[0];
        b = b >= c ? b - b % c : c;
        grid[0] = (unsigned)b, grid[1] = grid[2] = 1;
    }
    return TJ_OK;
}

/* Encode the entry's tensor maps for this launch's pointers and sizes. */
static tj_status encode_tmaps(const tj_kernel *k, const kentry *e, const uint64_t *tensors,
                              const int64_t *sym_vals, drv_tensor_map *out) {
    for (int j = 0; j < e->ntmaps; j++) {
        const ktmap *m = &e->tmaps[j];
        uint64_t dims[5], strides[5];
        uint64_t es = tj_dtype_size((tj_dtype)m->dtype), run = es;
        for (int i = 0; i < m->rank; i++) {
            int64_t d = m->dim[i] >= 0 ? m->dim[i] : sym_vals[-1 - m->dim[i]];
            dims[i] = (uint64_t)d;
            if (i == 0) {
                run *= dims[0];
                continue;
            }
            if (m->contiguous) {
                strides[i - 1] = run;
                run *= dims[i];
            } else {
                int64_t st = m->stride[i] >= 0 ? m->stride[i] : sym_vals[-1 - m->stride[i]];
                strides[i - 1] = (uint64_t)st * es;
            }
        }
        tj_status st = drv_tensor_map_encode(&out[j], m->dtype, m->rank, tensors[m->tensor], dims,
                                             strides, m->box, m->swizzle, m->l2_promotion,
                                             m->oob_nan);
        if (st != TJ_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", tj_last_error());
            return tj_set_error(st, "tj_kernel_launch(graph '%s'): tensor '%s': %s", k->g->name,
                                k->g->tensors[m->tensor].name, why);
        }
    }
    return TJ_OK;
}

/* Flatten the grid expressions into kgrid_ops (shared subexpressions
 * once). -1 when a node is not host arithmetic or there are too many:
 * then tj_graph_grid evaluates (and explains) at each launch. */
static int grid_add(tj_kernel *k, int32_t *ids, int32_t id, int depth) {
    for (int i = 0; i < k->ngrid_ops; i++)
        if (ids[i] == id) return i;
    const ir_node *n = ir_node_at(k->g, id);
    if (!n || depth > 64) return -1;
    kgrid_op o = {0};
    switch (n->op) {
    case IR_CONST: o.op = KG_CONST; o.val = (int64_t)n->f; break;
    case IR_SYMVAL: o.op = KG_SYM; o.val = n->index; break;
    case IR_CAST: o.op = n->type.dtype == TJ_I32 ? KG_CAST32 : KG_COPY; break;
    case IR_UNARY:
        if (n->sub == TJ_NEG) o.op = KG_NEG;
        else if (n->sub == TJ_ABS) o.op = KG_ABS;
        else if (n->sub == TJ_RELU) o.op = KG_RELU;
        else return -1;
        break;
    case IR_BINARY:
        if (n->sub != TJ_ADD && n->sub != TJ_SUB && n->sub != TJ_MUL && n->sub != TJ_DIV &&
            n->sub != TJ_MOD && n->sub != TJ_CDIV && n->sub != TJ_MAX && n->sub != TJ_MIN)
            return -1;
        o.op = KG_BIN;
        o.sub = (uint8_t)n->sub;
        break;
    default: return -1;
    }
    if (o.op == KG_CAST32 || o.op == KG_COPY || o.op == KG_NEG || o.op == KG_ABS ||
        o.op == KG_RELU || o.op == KG_BIN) {
        if (n->nin < (o.op == KG_BIN ? 2 : 1)) return -1;
        int a = grid_add(k, ids, n->in[0], depth + 1);
        if (a < 0) return -1;
        o.a = (int16_t)a;
        if (o.op == KG_BIN) {
            int b = grid_add(k, ids, n->in[1], depth + 1);
            if (b < 0) return -1;
            o.b = (int16_t)b;
        }
    }
    if (k->ngrid_ops == KERNEL_GRID_OPS) return -1;
    ids[k->ngrid_ops] = id;
    k->grid_ops[k->ngrid_ops] = o;
    return k->ngrid_ops++;
}

static void grid_build(tj_kernel *k) {
    int32_t ids[KERNEL_GRID_OPS];
    k->ngrid = k->g->ngrid;
    k->grid_fast = k->ngrid >= 1 && k->ngrid <= TJ_MAX_GRID;
    for (int i = 0; i < k->ngrid && k->grid_fast; i++) {
        int r = grid_add(k, ids, k->g->grid[i], 0);
        if (r < 0) k->grid_fast = 0;
        else k->grid_root[i] = (int16_t)r;
    }
}

/* ---- the launch --------------------------------------------------------- */

static tj_status bad_argument(const tj_kernel *k, const char *what, int i, uint64_t p,
                              double x) {
    const tj_graph *g = k->g;
    if (!strcmp(what, "tensor") && p == 0)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_kernel_launch(graph '%s'): tensor '%s' (argument %d) is a null "
                            "device pointer",
                            g->name, g->tensors[i].name, i);
    if (!strcmp(what, "tensor"))
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_kernel_launch(graph '%s'): tensor '%s' at 0x%llx is not aligned "
                            "to %d bytes, as the graph declares",
                            g->name, g->tensors[i].name, (unsigned long long)p,
                            k->tensor_align[i]);
    return tj_set_error(TJ_ERR_INVALID_ARG,
                        "tj_kernel_launch(graph '%s'): scalar '%s' = %g does not fit its dtype %s",
                        g->name, g->scalars[i].name, x, tj_dtype_name(g->scalars[i].dtype));
}

static tj_status missing(const char *fn, const tj_kernel *k, const char *what, int n) {
    return tj_set_error(TJ_ERR_INVALID_ARG, "%s(graph '%s'): %s is NULL but the graph has %d", fn,
                        k->g->name, what, n);
}

tj_status tj_kernel_launch(tj_kernel *k, const uint64_t *tensors, const double *scalars,
                           const int64_t *sym_vals, void *stream) {
    if (!k) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_launch: the kernel is NULL");
    if (!sym_vals && k->nsym) return missing("tj_kernel_launch", k, "sym_vals", k->nsym);
    if (!tensors && k->ntensors) return missing("tj_kernel_launch", k, "tensors", k->ntensors);
    if (!scalars && k->nscalars) return missing("tj_kernel_launch", k, "scalars", k->nscalars);
    if (k->nby) {
        tj_kernel *v = kernel_by_symbol_pick(k, sym_vals[k->by_sym]);
        if (v != k) return tj_kernel_launch(v, tensors, scalars, sym_vals, stream);
    }
    kspec s;
    tj_status st = kernel_spec(k, sym_vals, 0, &s);
    if (st != TJ_OK) return st;
    for (int t = 0; t < k->ntensors; t++)
        if (!tensors[t] || (tensors[t] & (uint64_t)(k->tensor_align[t] - 1)))
            return bad_argument(k, "tensor", t, tensors[t], 0);
    for (int i = 0; i < k->nscalars; i++) {
        double x = scalars[i];
        if (k->scalar_conv[i] != KCONV_F32 && k->scalar_conv[i] != KCONV_BOOL &&
            !(x > -9.2e18 && x < 9.2e18))
            return bad_argument(k, "scalar", i, 0, x);
    }
    int64_t ggrid[TJ_MAX_GRID];
    if ((st = grid_eval(k, sym_vals, ggrid)) != TJ_OK) return st;

    kentry *e = kmap_find(&k->map, &s);
    if (e && atomic_load_explicit(&e->state, memory_order_acquire) == KE_READY) {
        atomic_fetch_add_explicit(&k->hits, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&k->slow_launches, 1, memory_order_relaxed);
        if ((st = kernel_slow(k, &s, sym_vals, &e)) != TJ_OK) return st;
    }

    union {
        uint64_t u;
        float f;
        int32_t i;
        int64_t l;
    } args[EMIT_MAX_PARAMS];
    void *params[EMIT_MAX_PARAMS];
    drv_tensor_map tmaps[KERNEL_MAX_TMAPS];
    if (e->ntmaps && (st = encode_tmaps(k, e, tensors, sym_vals, tmaps)) != TJ_OK) return st;
    for (int p = 0; p < e->nparams; p++) {
        kparam q = e->params[p];
        switch (q.conv) {
        case KCONV_PTR: args[p].u = tensors[q.index]; break;
        case KCONV_F32: args[p].f = (float)scalars[q.index]; break;
        case KCONV_I32: args[p].i = (int32_t)(uint32_t)(uint64_t)(int64_t)scalars[q.index]; break;
        case KCONV_I64: args[p].l = (int64_t)scalars[q.index]; break;
        case KCONV_BOOL: args[p].i = scalars[q.index] != 0; break;
        case KCONV_GRID: args[p].i = (int32_t)ggrid[q.index]; break;
        case KCONV_TMAP: break;
        default: args[p].i = (int32_t)sym_vals[q.index]; break;   /* KCONV_SYM */
        }
        params[p] = q.conv == KCONV_TMAP ? (void *)&tmaps[q.aux] : (void *)&args[p];
    }
    unsigned grid[3];
    if ((st = launch_grid(k, e, ggrid, grid)) != TJ_OK) return st;
    unsigned block[3] = {e->threads, 1, 1};
    int nvtx = atomic_load_explicit(&kernel_nvtx_launches, memory_order_relaxed);
    if (nvtx) kernel_nvtx_push(k->nvtx_launch);
    if (k->hooks.launch)
        st = k->hooks.launch(k->hooks.user, e->fn, grid, block, e->smem, stream, params,
                             e->nparams);
    else
        st = drv_launch((drv_kernel *)e->fn, grid, block, e->smem,
                        e->has_cluster ? e->cluster : NULL, stream, params);
    if (nvtx) kernel_nvtx_pop();
    return st;
}

tj_status tj_kernel_prepare(tj_kernel *k, const int64_t *sym_vals) {
    if (!k) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_prepare: the kernel is NULL");
    if (!sym_vals && k->nsym) return missing("tj_kernel_prepare", k, "sym_vals", k->nsym);
    if (k->nby) {
        tj_kernel *v = kernel_by_symbol_pick(k, sym_vals[k->by_sym]);
        if (v != k) return tj_kernel_prepare(v, sym_vals);
    }
    kspec s;
    tj_status st = kernel_spec(k, sym_vals, 0, &s);
    return st != TJ_OK ? st : kernel_prepare(k, &s, sym_vals);
}

/* ---- create, destroy, statistics ------------------------------------------ */

static int arch_ok(const char *arch) {
    int cc = 0, len = 0;
    if (strlen(arch) >= sizeof ((tj_kernel *)0)->arch) return 0;
    if (sscanf(arch, "sm_%d%n", &cc, &len) != 1 || cc < 80 || arch[3] < '0' || arch[3] > '9')
        return 0;
    return arch[len] == '\0' || ((arch[len] == 'a' || arch[len] == 'f') && arch[len + 1] == '\0');
}

static tj_status resolve_arch(tj_kernel *k, const char *want) {
    if (want) {
        if (!arch_ok(want))
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "tj_kernel_create: arch '%s' is not a target name like sm_80 or "
                                "sm_90a (sm_80 or later)",
                                want);
        snprintf(k->arch, sizeof k->arch, "%s", want);
        return TJ_OK;
    }
    /* The device of the caller's current context: that is where its
     * launches go. */
    int ordinal = 0;
    drv_device dev;
    tj_status st = drv_context_device(&ordinal);
    if (st == TJ_OK) st = drv_device_info(ordinal, &dev);
    if (st != TJ_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", tj_last_error());
        return tj_set_error(st,
                            "tj_kernel_create(graph '%s'): %s (set tj_kernel_options.arch to "
                            "make a kernel without a device)",
                            k->g ? k->g->name : "?", why);
    }
    snprintf(k->arch, sizeof k->arch, "%s", dev.arch);
    return TJ_OK;
}

/* A deep copy through the canonical text, checked to keep the argument
 * order the caller's symbol ids, tensors and scalars index. */
static tj_status copy_graph(const tj_graph *g, tj_graph **out) {
    char *text = NULL;
    tj_status st = tj_graph_print(g, &text);
    if (st != TJ_OK) return st;
    st = tj_graph_parse(text, strlen(text), "<tj_kernel_create>", out);
    tj_free(text);
    if (st != TJ_OK) return st;
    const tj_graph *c = *out;
    int same = c->nsyms == g->nsyms && c->ntensors == g->ntensors && c->nscalars == g->nscalars;
    for (int i = 0; same && i < g->nsyms; i++) same = !strcmp(c->syms[i].name, g->syms[i].name);
    for (int i = 0; same && i < g->ntensors; i++)
        same = !strcmp(c->tensors[i].name, g->tensors[i].name);
    for (int i = 0; same && i < g->nscalars; i++)
        same = !strcmp(c->scalars[i].name, g->scalars[i].name);
    if (!same) {
        tj_graph_free(*out);
        *out = NULL;
        return tj_set_error(TJ_ERR_INTERNAL,
                            "tj_kernel_create(graph '%s'): the canonical text reorders the "
                            "graph's arguments; please report this",
                            g->name);
    }
    return TJ_OK;
}

static tj_status describe(tj_kernel *k) {
    tj_graph *g = k->g;
    k->nsym = g->nsyms;
    k->ntensors = g->ntensors;
    k->nscalars = g->nscalars;
    if (k->nsym > KERNEL_MAX_SYMS)
        return tj_set_error(TJ_ERR_UNSUPPORTED,
                            "tj_kernel_create(graph '%s'): %d symbols; a kernel takes at most %d",
                            g->name, k->nsym, KERNEL_MAX_SYMS);
    for (int i = 0; i < k->nsym; i++)
        k->syms[i] = (ksym){g->syms[i].policy, g->syms[i].bucket,
                            g->syms[i].divisor > 0 ? g->syms[i].divisor : 1, 0};
    for (int i = 0; i < g->nnodes; i++)
        for (int d = 0; d < g->nodes[i].type.rank && d < TJ_MAX_TILE_RANK; d++) {
            int s = ir_dim_sym(g, g->nodes[i].type.dims[d]);
            if (s >= 0) k->syms[s].sizes_tile = 1;
        }
    for (int i = 0; i < k->nsym; i++)
        if (k->syms[i].policy != TJ_DYNAMIC && !k->syms[i].sizes_tile) k->variants_differ = 1;
    k->tensor_align = calloc((size_t)k->ntensors + 1, sizeof *k->tensor_align);
    k->scalar_conv = calloc((size_t)k->nscalars + 1, 1);
    if (!k->tensor_align || !k->scalar_conv)
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: out of memory");
    for (int t = 0; t < k->ntensors; t++) {
        int a = g->tensors[t].align;
        int es = (int)tj_dtype_size(g->tensors[t].dtype);
        k->tensor_align[t] = a > 0 && (a & (a - 1)) == 0 ? a : es > 0 ? es : 1;
    }
    for (int i = 0; i < k->nscalars; i++) {
        tj_dtype dt = g->scalars[i].dtype;
        k->scalar_conv[i] = ir_is_float(dt) ? KCONV_F32 : dt == TJ_I64 ? KCONV_I64
                          : dt == TJ_BOOL ? KCONV_BOOL : KCONV_I32;
    }
    grid_build(k);
    snprintf(k->nvtx_launch, sizeof k->nvtx_launch, "tj_kernel_launch %s", g->name);
    snprintf(k->nvtx_compile, sizeof k->nvtx_compile, "tilejit compile %s", g->name);
    return TJ_OK;
}

/* TILEJIT_NO_COMPILE, TILEJIT_TIERED: set and not "0". */
static int env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

tj_status tj_kernel_create(const tj_graph *g, const tj_kernel_options *opt, tj_kernel **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create: out is NULL");
    *out = NULL;
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create: the graph is NULL");
    tj_kernel_options o = {0};
    if (opt) o = *opt;
    const unsigned known =
        TJ_KERNEL_BACKGROUND | TJ_KERNEL_NO_COMPILE | TJ_KERNEL_IN_CHILD | TJ_KERNEL_TIERED;
    if (o.flags & ~known)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_create: unknown flags 0x%x",
                            o.flags & ~known);
    tj_status st = tj_graph_verify(g);
    if (st != TJ_OK) return st;
    if ((st = kernel_env_init()) != TJ_OK) return st;

    /* Aligned for the statistics' cache lines (kernel_int.h). */
    tj_kernel *k = aligned_alloc(64, (sizeof *k + 63) / 64 * 64);
    if (!k) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: out of memory");
    memset(k, 0, sizeof *k);
    k->flags = o.flags;
    k->no_compile = (o.flags & TJ_KERNEL_NO_COMPILE) || env_flag("TILEJIT_NO_COMPILE");
    k->background = (o.flags & TJ_KERNEL_BACKGROUND) != 0;
    k->in_child = (o.flags & TJ_KERNEL_IN_CHILD) != 0;
    /* Without compiles there is nothing to put off. */
    k->tiered = ((o.flags & TJ_KERNEL_TIERED) || env_flag("TILEJIT_TIERED")) && !k->no_compile;
    int have_mu = pthread_mutex_init(&k->mu, NULL) == 0, have_map = 0;
    if (!have_mu) st = tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: cannot make a mutex");
    if (st == TJ_OK) st = copy_graph(g, &k->g);
    if (st == TJ_OK) st = describe(k);
    if (st == TJ_OK) st = tj_graph_hash(k->g, k->hash);
    if (st == TJ_OK) st = resolve_arch(k, o.arch);
    if (st == TJ_OK) st = kernel_cache_dir(o.cache_dir, &k->dir);
    if (st == TJ_OK && (st = kmap_init(&k->map, k->nsym)) == TJ_OK) have_map = 1;
    if (st == TJ_OK && (k->background || k->tiered)) st = kernel_bg_create(k);
    if (st != TJ_OK) {
        if (have_map) kmap_destroy(&k->map);
        if (have_mu) pthread_mutex_destroy(&k->mu);
        free(k->tensor_align);
        free(k->scalar_conv);
        tj_graph_free(k->g);
        free(k);
        return st;
    }
    kernel_nvtx_init();
    *out = k;
    return TJ_OK;
}

void tj_kernel_destroy(tj_kernel *k) {
    if (!k) return;
    for (int i = 1; i < k->nby; i++) tj_kernel_destroy(k->by[i]);
    kernel_bg_destroy(k);
    for (kentry *e = k->all, *next; e; e = next) {
        next = e->next_all;
        kernel_entry_free(k, e);
    }
    kmap_destroy(&k->map);
    pthread_mutex_destroy(&k->mu);
    free(k->tensor_align);
    free(k->scalar_conv);
    cache_dir_close(k->own_dir);
    tj_graph_free(k->g);
    free(k);
}

tj_status tj_kernel_stats_get(const tj_kernel *k, tj_kernel_stats *out) {
    if (!k || !out)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_kernel_stats_get: %s is NULL",
                            !k ? "the kernel" : "out");
    tj_kernel *m = (tj_kernel *)k;   /* atomics are read, never written */
    memset(out, 0, sizeof *out);
    out->hits = atomic_load(&m->hits);
    out->launches = out->hits + atomic_load(&m->slow_launches);
    out->misses = atomic_load(&m->misses);
    out->compiles = atomic_load(&m->compiles);
    out->disk_hits = atomic_load(&m->disk_hits);
    out->bundle_hits = atomic_load(&m->bundle_hits);
    out->fallback_launches = atomic_load(&m->fallback_launches);
    out->compile_seconds = (double)atomic_load(&m->compile_ns) * 1e-9;
    out->cubin_bytes = atomic_load(&m->cubin_bytes);
    out->specializations = atomic_load(&m->specializations);
    out->tier0_launches = atomic_load(&m->tier0_launches);
    out->tier_upgrades = atomic_load(&m->tier_upgrades);
    kernel_by_symbol_stats(k, out);
    return TJ_OK;
}

void kernel_set_test_hooks(tj_kernel *k, const kernel_test_hooks *h) {
    if (!k) return;
    for (int i = 1; i < k->nby; i++) kernel_set_test_hooks(k->by[i], h);
    if (h)
        k->hooks = *h;
    else
        memset(&k->hooks, 0, sizeof k->hooks);
    /* A memory-only kernel shares the process's memory store, keyed by the
     * graph: a cubin from a test's compile hook (another schedule, another
     * back end) must not be served to a kernel without it, nor the reverse
     * (the hit would get the launch description emit_kernel picks, not the
     * hook's). Such a kernel gets a store of its own. */
    if (h && h->compile && !k->own_dir && !cache_dir_path(k->dir) &&
        cache_dir_open("", &k->own_dir) == TJ_OK)
        k->dir = k->own_dir;
}
