/*
 * pick.c — which lowering a specialization gets: the first fast schedule
 * that applies, else the generic one. The choice depends only on the
 * graph, its bindings and the arch, so the cache key (which holds all
 * three and the codegen version) covers it without naming it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

/* Tried in this order; the first that applies wins. Ends with {NULL}. */
const sched_entry sched_table[] = {
    {"decode", sched_decode, 0},
    {"attention_sm90", sched_attention_sm90, 1},
    {"gemm_sm90", sched_gemm_sm90, 0},
    {"rows", sched_rows, 0},
    {NULL, NULL, 0},
};

/* A feature only some schedules lower (sched_entry.masked_stores):
 * masked stores (tj_store_masked). NULL when every schedule may look at
 * the graph. */
static const char *generic_only(const tj_graph *g) {
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_STORE && (g->nodes[i].flags & IR_STORE_MASKED))
            return "a masked store (generic lowering only)";
    return NULL;
}

/* "generic, rows, ..." for messages. */
static const char *sched_names(void) {
    static _Thread_local char buf[256];
    snprintf(buf, sizeof buf, "generic");
    for (const sched_entry *s = sched_table; s->name; s++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, ", %s", s->name);
    }
    return buf;
}

/* The schedule and why the fast ones did not apply, as a comment line
 * ahead of the source, so `tilejit emit` shows what the runtime chose. */
static tj_status prepend_comment(char **src, const emit_launch *L) {
    char head[sizeof L->note + 64];
    int n = snprintf(head, sizeof head, "// schedule: %s%s%s%s\n", L->schedule,
                     L->note[0] ? " (" : "", L->note, L->note[0] ? ")" : "");
    if (n < 0 || (size_t)n >= sizeof head) n = (int)sizeof head - 1;
    size_t len = strlen(*src);
    char *out = malloc(len + (size_t)n + 1);
    if (!out) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_emit_cuda: out of memory");
    memcpy(out, head, (size_t)n);
    memcpy(out + n, *src, len + 1);
    free(*src);
    *src = out;
    return TJ_OK;
}

static void append_note(char *note, size_t size, const char *name, const char *why) {
    size_t used = strlen(note);
    if (used + 4 >= size) return;
    snprintf(note + used, size - used, "%s%s: %s", used ? "; " : "", name,
             why[0] ? why : "does not apply");
}

tj_status emit_kernel(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                      const char *force, char **src, emit_launch *launch) {
    if (!g || !src)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_emit_cuda: %s is NULL", !g ? "graph" : "source");
    *src = NULL;
    emit_launch local;
    emit_launch *L = launch ? launch : &local;
    char note[sizeof L->note] = "";
    int known = force == NULL || !strcmp(force, "generic");
    const char *only = generic_only(g);
    for (const sched_entry *s = sched_table; s->name; s++) {
        if (force && strcmp(force, s->name)) continue;
        known = 1;
        if (only && !s->masked_stores) {
            if (force)
                return tj_set_error(TJ_ERR_UNSUPPORTED, "graph '%s': schedule '%s' does not apply: %s",
                                    tj_graph_name(g), force, only);
            append_note(note, sizeof note, s->name, only);
            continue;
        }
        /* A schedule reads what it needs; the generic lowering (below)
         * verifies the graph and checks the arch and bindings first. */
        tj_status st = tj_graph_verify(g);
        if (st != TJ_OK) return st;
        char why[160] = "";
        memset(L, 0, sizeof *L);
        st = s->emit(g, arch, sym_vals, src, L, why, sizeof why);
        if (st != TJ_OK) return st;
        if (*src) {
            snprintf(L->schedule, sizeof L->schedule, "%s", s->name);
            return prepend_comment(src, L);
        }
        if (force)
            return tj_set_error(TJ_ERR_UNSUPPORTED, "graph '%s': schedule '%s' does not apply: %s",
                                tj_graph_name(g), force, why[0] ? why : "(no reason given)");
        append_note(note, sizeof note, s->name, why);
    }
    if (!known)
        return tj_set_error(TJ_ERR_INVALID_ARG, "unknown schedule '%s' (known: %s)", force,
                            sched_names());
    tj_status st = emit_cuda(g, arch, sym_vals, src, L);
    if (st != TJ_OK) return st;
    snprintf(L->schedule, sizeof L->schedule, "generic");
    snprintf(L->note, sizeof L->note, "%s", note);
    if ((st = prepend_comment(src, L)) != TJ_OK) {
        free(*src);
        *src = NULL;
    }
    return st;
}

/* ---- helpers the schedules' matchers share --------------------------------- */

int sched_no(char *why, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return 0;
}

int sched_tile_dims(const tj_graph *g, const int64_t *sym, int32_t id, int64_t *m, int64_t *n) {
    const ir_node *x = &g->nodes[id];
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->type.rank; i++)
        if (ir_dim_eval(g, x->type.dims[i], sym, 1, &d[i]) != TJ_OK) return 0;
    *m = x->type.rank == 2 ? d[0] : 1;
    *n = x->type.rank == 2 ? d[1] : x->type.rank == 1 ? d[0] : 1;
    return 1;
}

int sched_multiple_of(const tj_graph *g, const int64_t *sym, tj_dim d, int64_t m) {
    if (!tj_dim_is_sym(d)) return d % m == 0;
    int s = ir_dim_sym(g, d);
    if (s < 0) return 0;
    const ir_symbol *sy = &g->syms[s];
    if (sy->policy == TJ_EXACT && sym && sym[s] != TJ_UNBOUND) return sym[s] % m == 0;
    return sy->divisor % m == 0;
}
