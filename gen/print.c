/*
 * print.c — the canonical text form (.tj) of a graph; the grammar is in
 * docs/graph.md ("Text form").
 *
 * Canonical means: the bytes depend only on what the graph computes and
 * declares, never on the order independent pure ops were built in or on
 * node ids. So the body is not printed in build order. Each region's
 * effects (stores and loops) are printed in program order, which is
 * meaningful; before each effect, the pure values it needs are printed by
 * a post-order walk over operands in operand order. Values nothing needs
 * are dead and dropped. Unnamed values are numbered in the order they are
 * printed, so renumbering falls out of the walk.
 *
 * A loop also needs, before its `for` line, every value of the enclosing
 * region its body uses (its "free values"); they are found by a walk of
 * the body and treated as extra operands of the FOR node.
 *
 * The walks use explicit stacks: a long chain of values must not be able
 * to overflow the C stack.
 */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- output buffer ------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_putn(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The shortest %g form that reads back as the same double, so that
 * 0.1 prints as 0.1 yet every value round-trips exactly. */
static void fmt_double(double v, char buf[40]) {
    if (isnan(v)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, 40, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* ---- the printer --------------------------------------------------- */

enum { NOT_YET = 0, ON_STACK = 1, DONE = 2 };

typedef struct frame {
    int32_t id;
    int k; /* next operand to look at */
} frame;

typedef struct printer {
    const tj_graph *g;
    sbuf out;
    unsigned char *state; /* NOT_YET / ON_STACK / DONE per node */
    int32_t *num;         /* the %N of an unnamed value; -1 until defined */
    int next;
    frame *st;
    int nst, capst;
    int32_t **fv; /* free values per FOR node, computed on first need */
    int *nfv;
    int32_t *mark; /* visit stamps for the free-value walk */
    int32_t stamp;
    int32_t *tmp;
    int ntmp, captmp;
    tj_status status;
} printer;

static int is_implicit(ir_op op) {
    return op == IR_SCALAR_ARG || op == IR_LOOP_IV || op == IR_LOOP_CARRIED || op == IR_FOR_RESULT;
}

static int is_effect(ir_op op) { return op == IR_STORE || op == IR_FOR; }

static tj_status fail(printer *pr, tj_status s, int32_t id, const char *what) {
    char d[160];
    if (pr->status == TJ_OK)
        pr->status = tj_set_error(s, "cannot print graph '%s': %s %s", pr->g->name,
                                  ir_node_desc(pr->g, id, d, sizeof d), what);
    return pr->status;
}

static void indent(printer *pr, int depth) {
    for (int i = 0; i < depth; i++) sb_puts(&pr->out, "  ");
}

/* Give an unnamed value its number at the point it is defined. */
static void define(printer *pr, int32_t id) {
    const ir_node *n = &pr->g->nodes[id];
    if (n->op != IR_SCALAR_ARG && !n->name && pr->num[id] < 0) pr->num[id] = pr->next++;
}

static void ref(printer *pr, int32_t id) {
    const tj_graph *g = pr->g;
    const ir_node *n = ir_node_at(g, id);
    if (!n) {
        fail(pr, TJ_ERR_INTERNAL, id, "does not exist");
        return;
    }
    if (n->op == IR_SCALAR_ARG && n->index >= 0 && n->index < g->nscalars)
        sb_printf(&pr->out, "%%%s", g->scalars[n->index].name);
    else if (n->name)
        sb_printf(&pr->out, "%%%s", n->name);
    else if (pr->num[id] >= 0)
        sb_printf(&pr->out, "%%%d", (int)pr->num[id]);
    else
        fail(pr, TJ_ERR_INTERNAL, id, "is referenced before it is printed");
}

static void ref_list(printer *pr, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++) {
        if (i) sb_puts(&pr->out, ", ");
        ref(pr, ids[i]);
    }
}

static void put_dim(printer *pr, tj_dim d) {
    const tj_graph *g = pr->g;
    if (tj_dim_is_sym(d)) {
        tj_sym s = tj_dim_symbol(d);
        if (s.id >= 0 && s.id < g->nsyms)
            sb_puts(&pr->out, g->syms[s.id].name);
        else
            fail(pr, TJ_ERR_INTERNAL, -1, "names a symbol that does not exist");
    } else {
        sb_printf(&pr->out, "%lld", (long long)d);
    }
}

static void put_type(printer *pr, const ir_type *t) {
    const char *dt = tj_dtype_name((tj_dtype)t->dtype);
    sb_puts(&pr->out, dt ? dt : "?");
    for (int i = 0; i < t->rank; i++) {
        sb_puts(&pr->out, i ? "," : "[");
        put_dim(pr, t->dims[i]);
    }
    if (t->rank > 0) sb_puts(&pr->out, "]");
}

static void put_double(printer *pr, double v) {
    char buf[40];
    fmt_double(v, buf);
    sb_puts(&pr->out, buf);
}

/* ---- free values of a loop ------------------------------------------ */

static int inside(const tj_graph *g, int32_t id, int32_t loop) {
    int32_t r = g->nodes[id].parent;
    for (int guard = 0; r >= 0 && guard <= IR_MAX_DEPTH; guard++) {
        if (r == loop) return 1;
        r = g->nodes[r].parent;
    }
    return 0;
}

static int tmp_push(printer *pr, int32_t id) {
    if (!ir_grow((void **)&pr->tmp, &pr->captmp, pr->ntmp, sizeof(int32_t))) return 0;
    pr->tmp[pr->ntmp++] = id;
    return 1;
}

/* Push a loop body's roots (effects in program order, then yields) so
 * that the first is popped first. */
static int push_body_roots(printer *pr, int32_t loop) {
    const ir_node *f = &pr->g->nodes[loop];
    int32_t *ids;
    int n;
    ir_region(pr->g, loop, &ids, &n);
    for (int k = f->loop->ncarried - 1; k >= 0; k--)
        if (f->loop->yields && !tmp_push(pr, f->loop->yields[k])) return 0;
    for (int i = n - 1; i >= 0; i--)
        if (is_effect(pr->g->nodes[ids[i]].op) && !tmp_push(pr, ids[i])) return 0;
    return 1;
}

/* Every value outside `loop` that its body (at any depth) uses, in the
 * order a pre-order walk of the body meets them. */
static tj_status free_values(printer *pr, int32_t loop) {
    const tj_graph *g = pr->g;
    int32_t *fv = NULL;
    int nfv = 0, cap = 0;
    pr->stamp++;
    pr->ntmp = 0;
    if (!push_body_roots(pr, loop)) goto oom;
    while (pr->ntmp > 0) {
        int32_t o = pr->tmp[--pr->ntmp];
        if (o < 0 || o >= g->nnodes) return fail(pr, TJ_ERR_INTERNAL, o, "is not a node");
        if (pr->mark[o] == pr->stamp) continue;
        pr->mark[o] = pr->stamp;
        const ir_node *n = &g->nodes[o];
        if (!inside(g, o, loop)) {
            if (!ir_grow((void **)&fv, &cap, nfv, sizeof(int32_t))) goto oom;
            fv[nfv++] = o;
            continue;
        }
        if (is_implicit(n->op)) continue;
        if (n->op == IR_FOR && !push_body_roots(pr, o)) goto oom;
        for (int k = n->nin - 1; k >= 0; k--)
            if (!tmp_push(pr, n->in[k])) goto oom;
    }
    pr->fv[loop] = fv;
    pr->nfv[loop] = nfv;
    return TJ_OK;
oom:
    free(fv);
    return fail(pr, TJ_ERR_NO_MEMORY, loop, "(out of memory)");
}

/* ---- statements ---------------------------------------------------- */

static tj_status print_region(printer *pr, int32_t parent, int depth);

static void print_access(printer *pr, const ir_node *n, int ncoords, int tile_rank) {
    const ir_tensor *t = &pr->g->tensors[n->tensor];
    sb_printf(&pr->out, "%s [", t->name);
    ref_list(pr, n->in, ncoords);
    sb_puts(&pr->out, "]");
    if (n->op == IR_STORE) {
        sb_puts(&pr->out, ", ");
        ref(pr, n->in[n->nin - 1]);
        if (n->flags & IR_STORE_MASKED) {
            sb_puts(&pr->out, " mask ");
            ref(pr, n->in[n->nin - 2]);
        }
    }
    int dflt = 1;
    for (int k = 0; k < tile_rank; k++)
        if (n->axes[k] != t->rank - tile_rank + k) dflt = 0;
    if (!dflt) {
        sb_puts(&pr->out, " axes [");
        for (int k = 0; k < tile_rank; k++) sb_printf(&pr->out, "%s%d", k ? ", " : "", n->axes[k]);
        sb_puts(&pr->out, "]");
    }
    /* +0.0 is the default pad; -0.0 is not (its bits differ). */
    if (n->op == IR_LOAD && (n->f != 0 || signbit(n->f))) {
        sb_puts(&pr->out, " pad ");
        put_double(pr, n->f);
    }
    if (n->flags & TJ_COORD_ELEMENT) sb_puts(&pr->out, " element");
}

static tj_status print_for(printer *pr, int32_t id, int depth) {
    const ir_node *n = &pr->g->nodes[id];
    const ir_loop *L = n->loop;
    if (!L || (L->ncarried && (!L->yields || !L->results)) || L->iv < 0)
        return fail(pr, TJ_ERR_INVALID_ARG, id, "is a loop that was never closed (tj_for_end)");
    indent(pr, depth);
    for (int k = 0; k < L->ncarried; k++) {
        define(pr, L->results[k]);
        if (k) sb_puts(&pr->out, ", ");
        ref(pr, L->results[k]);
    }
    if (L->ncarried) sb_puts(&pr->out, " = ");
    sb_puts(&pr->out, "for ");
    define(pr, L->iv);
    ref(pr, L->iv);
    sb_puts(&pr->out, " = ");
    ref(pr, n->in[0]);
    sb_puts(&pr->out, " to ");
    ref(pr, n->in[1]);
    sb_puts(&pr->out, " step ");
    ref(pr, n->in[2]);
    if (L->ncarried) {
        sb_puts(&pr->out, " iter(");
        for (int k = 0; k < L->ncarried; k++) {
            define(pr, L->carried[k]);
            if (k) sb_puts(&pr->out, ", ");
            ref(pr, L->carried[k]);
            sb_puts(&pr->out, " = ");
            ref(pr, n->in[3 + k]);
        }
        sb_puts(&pr->out, ")");
    }
    sb_puts(&pr->out, " {\n");
    pr->state[L->iv] = DONE;
    for (int k = 0; k < L->ncarried; k++) pr->state[L->carried[k]] = DONE;
    tj_status s = print_region(pr, id, depth + 1);
    if (s != TJ_OK) return s;
    if (L->ncarried) {
        indent(pr, depth + 1);
        sb_puts(&pr->out, "yield ");
        ref_list(pr, L->yields, L->ncarried);
        sb_puts(&pr->out, "\n");
    }
    indent(pr, depth);
    sb_puts(&pr->out, "}\n");
    for (int k = 0; k < L->ncarried; k++) pr->state[L->results[k]] = DONE;
    return pr->status;
}

static tj_status print_node(printer *pr, int32_t id, int depth) {
    const tj_graph *g = pr->g;
    const ir_node *n = &g->nodes[id];
    if (n->op == IR_FOR) return print_for(pr, id, depth);
    indent(pr, depth);
    if (n->op == IR_STORE) {
        sb_puts(&pr->out, "store ");
        print_access(pr, n, n->nin - 1 - ((n->flags & IR_STORE_MASKED) != 0),
                     g->nodes[n->in[n->nin - 1]].type.rank);
        sb_puts(&pr->out, "\n");
        return pr->status;
    }
    define(pr, id);
    ref(pr, id);
    sb_puts(&pr->out, " = ");
    switch (n->op) {
    case IR_CONST:
        sb_puts(&pr->out, "const ");
        put_double(pr, n->f);
        break;
    case IR_SYMVAL:
        sb_printf(&pr->out, "symval %s",
                  n->index >= 0 && n->index < g->nsyms ? g->syms[n->index].name : "?");
        break;
    case IR_PROGRAM_ID: sb_printf(&pr->out, "program_id %d", n->index); break;
    case IR_NUM_PROGRAMS: sb_printf(&pr->out, "num_programs %d", n->index); break;
    case IR_IOTA: sb_printf(&pr->out, "iota axis %d", n->index); break;
    case IR_LOAD:
        sb_puts(&pr->out, "load ");
        print_access(pr, n, n->nin, n->type.rank);
        break;
    case IR_MMA:
        sb_puts(&pr->out, "mma ");
        ref_list(pr, n->in, n->nin);
        if (n->flags & TJ_TRANS_A) sb_puts(&pr->out, " trans_a");
        if (n->flags & TJ_TRANS_B) sb_puts(&pr->out, " trans_b");
        break;
    case IR_UNARY:
    case IR_BINARY: {
        const char *name =
            n->op == IR_UNARY ? tj_unary_name((tj_unop)n->sub) : tj_binary_name((tj_binop)n->sub);
        sb_printf(&pr->out, "%s ", name ? name : "?");
        ref_list(pr, n->in, n->nin);
        break;
    }
    case IR_REDUCE: {
        const char *name = tj_reduce_name((tj_redop)n->sub);
        sb_printf(&pr->out, "%s ", name ? name : "?");
        ref(pr, n->in[0]);
        sb_printf(&pr->out, " axis %d", n->index);
        break;
    }
    case IR_WHERE:
    case IR_FMA:
    case IR_CAST:
    case IR_TRANSPOSE:
    case IR_RESHAPE:
    case IR_BROADCAST:
        sb_printf(&pr->out, "%s ", ir_op_name(n->op));
        ref_list(pr, n->in, n->nin);
        break;
    default: return fail(pr, TJ_ERR_INTERNAL, id, "has an op the text form does not know");
    }
    sb_puts(&pr->out, " : ");
    put_type(pr, &n->type);
    sb_puts(&pr->out, "\n");
    return pr->status;
}

/* ---- the walk ------------------------------------------------------ */

/* 1 when `o` must be printed now (in region `parent`), 0 when it already
 * is, or an error for a value that cannot be referenced here. */
static int need(printer *pr, int32_t o, int32_t parent) {
    const tj_graph *g = pr->g;
    const ir_node *n = ir_node_at(g, o);
    if (!n) return fail(pr, TJ_ERR_INTERNAL, o, "is not a node"), -1;
    if (!ir_visible(g, o, parent))
        return fail(pr, TJ_ERR_VERIFY, o,
                    "is used outside the loop body that defines it (tj_graph_verify explains)"),
               -1;
    if (pr->state[o] == DONE) return 0;
    if (pr->state[o] == ON_STACK) return fail(pr, TJ_ERR_INTERNAL, o, "depends on itself"), -1;
    if (n->parent != parent || is_implicit(n->op))
        return fail(pr, TJ_ERR_VERIFY, o, "is used before it is defined"), -1;
    return 1;
}

static int push(printer *pr, int32_t id) {
    if (!ir_grow((void **)&pr->st, &pr->capst, pr->nst, sizeof(frame))) {
        fail(pr, TJ_ERR_NO_MEMORY, id, "(out of memory)");
        return 0;
    }
    pr->st[pr->nst++] = (frame){id, 0};
    pr->state[id] = ON_STACK;
    return 1;
}

/* Print `root` in region `parent` after whatever it needs. */
static tj_status emit(printer *pr, int32_t root, int32_t parent, int depth) {
    int r = need(pr, root, parent);
    if (r <= 0) return r < 0 ? pr->status : TJ_OK;
    int base = pr->nst;
    if (!push(pr, root)) return pr->status;
    while (pr->nst > base) {
        frame *f = &pr->st[pr->nst - 1];
        int32_t x = f->id;
        const ir_node *n = &pr->g->nodes[x];
        if (n->op == IR_FOR && f->k == 0 && !pr->fv[x] && free_values(pr, x) != TJ_OK)
            return pr->status;
        int nops = n->nin + (n->op == IR_FOR ? pr->nfv[x] : 0);
        int pushed = 0;
        while (f->k < nops) {
            int k = f->k++;
            int32_t o = k < n->nin ? n->in[k] : pr->fv[x][k - n->nin];
            r = need(pr, o, parent);
            if (r < 0) return pr->status;
            if (r > 0) {
                if (!push(pr, o)) return pr->status; /* moves pr->st: f is stale */
                pushed = 1;
                break;
            }
        }
        if (pushed) continue;
        pr->nst--;
        tj_status s = print_node(pr, x, depth);
        if (s != TJ_OK) return s;
        pr->state[x] = DONE;
    }
    return pr->status;
}

static tj_status print_region(printer *pr, int32_t parent, int depth) {
    int32_t *ids;
    int n;
    ir_region(pr->g, parent, &ids, &n);
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id >= 0 && id < pr->g->nnodes && is_effect(pr->g->nodes[id].op)) {
            tj_status s = emit(pr, id, parent, depth);
            if (s != TJ_OK) return s;
        }
    }
    const ir_node *f = ir_node_at(pr->g, parent);
    if (f && f->loop && f->loop->yields)
        for (int k = 0; k < f->loop->ncarried; k++) {
            tj_status s = emit(pr, f->loop->yields[k], parent, depth);
            if (s != TJ_OK) return s;
        }
    return pr->status;
}

/* ---- header and declarations --------------------------------------- */

static void print_decls(printer *pr) {
    const tj_graph *g = pr->g;
    static const char *const policies[] = {"exact", "pow2", "multiple", "dynamic"};
    sb_printf(&pr->out, "tilejit 1\ngraph %s\n", g->name);
    for (int i = 0; i < g->nsyms; i++) {
        const ir_symbol *s = &g->syms[i];
        sb_printf(&pr->out, "sym %s %s", s->name,
                  (unsigned)s->policy <= TJ_DYNAMIC ? policies[s->policy] : "?");
        if (s->policy == TJ_BUCKET_MULTIPLE) sb_printf(&pr->out, " %lld", (long long)s->bucket);
        if (s->divisor != 1) sb_printf(&pr->out, " div %lld", (long long)s->divisor);
        sb_puts(&pr->out, "\n");
    }
    for (int i = 0; i < g->ntensors; i++) {
        const ir_tensor *t = &g->tensors[i];
        const char *dt = tj_dtype_name(t->dtype);
        sb_printf(&pr->out, "tensor %s %s", t->name, dt ? dt : "?");
        for (int k = 0; k < t->rank; k++) {
            sb_puts(&pr->out, k ? "," : "[");
            put_dim(pr, t->dims[k]);
        }
        if (t->rank) sb_puts(&pr->out, "]");
        if (t->has_strides) {
            sb_puts(&pr->out, " strides [");
            for (int k = 0; k < t->rank; k++) {
                if (k) sb_puts(&pr->out, ", ");
                put_dim(pr, t->strides[k]);
            }
            sb_puts(&pr->out, "]");
        }
        size_t es = tj_dtype_size(t->dtype);
        if ((size_t)t->align != (es ? es : 1)) sb_printf(&pr->out, " align %d", t->align);
        sb_puts(&pr->out, "\n");
    }
    for (int i = 0; i < g->nscalars; i++) {
        const char *dt = tj_dtype_name(g->scalars[i].dtype);
        sb_printf(&pr->out, "scalar %s %s\n", g->scalars[i].name, dt ? dt : "?");
        int32_t id = g->scalars[i].node;
        if (id >= 0 && id < g->nnodes) pr->state[id] = DONE;
    }
}

static tj_status print_graph(printer *pr) {
    const tj_graph *g = pr->g;
    size_t nn = g->nnodes ? (size_t)g->nnodes : 1;
    pr->state = calloc(nn, 1);
    pr->num = malloc(nn * sizeof(int32_t));
    pr->fv = calloc(nn, sizeof(int32_t *));
    pr->nfv = calloc(nn, sizeof(int));
    pr->mark = calloc(nn, sizeof(int32_t));
    if (!pr->state || !pr->num || !pr->fv || !pr->nfv || !pr->mark)
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_graph_print: out of memory");
    for (size_t i = 0; i < nn; i++) pr->num[i] = -1;
    print_decls(pr);
    tj_status s = print_region(pr, -1, 0);
    if (s != TJ_OK) return s;
    if (g->ngrid > 0) {
        for (int i = 0; i < g->ngrid; i++) {
            s = emit(pr, g->grid[i], -1, 0);
            if (s != TJ_OK) return s;
        }
        sb_puts(&pr->out, "grid [");
        ref_list(pr, g->grid, g->ngrid);
        sb_puts(&pr->out, "]\n");
    }
    if (pr->out.oom) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_graph_print: out of memory");
    return pr->status;
}

tj_status tj_graph_print(const tj_graph *g, char **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_print: out is NULL");
    *out = NULL;
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_print: graph is NULL");
    if (g->status != TJ_OK)
        return tj_set_error(g->status, "%s", g->errmsg ? g->errmsg : "graph has an error");
    if (g->depth > 0)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_graph_print: graph '%s' has %d loop%s still open (call tj_for_end)",
                            g->name, g->depth, g->depth > 1 ? "s" : "");
    /* Numbers must print with '.' whatever locale the host program set. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    printer pr = {.g = g, .status = TJ_OK};
    tj_status s = print_graph(&pr);
    if (c_locale) {
        uselocale(old);
        freelocale(c_locale);
    }
    if (pr.fv)
        for (int i = 0; i < g->nnodes; i++) free(pr.fv[i]);
    free(pr.fv);
    free(pr.nfv);
    free(pr.mark);
    free(pr.state);
    free(pr.num);
    free(pr.st);
    free(pr.tmp);
    if (s != TJ_OK) {
        free(pr.out.p);
        return s;
    }
    *out = pr.out.p;
    return TJ_OK;
}
