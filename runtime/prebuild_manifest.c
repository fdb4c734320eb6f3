/*
 * prebuild_manifest.c — the prebuild manifest: a line-oriented text, one
 * `recipe NAME [k=v ...]` or `file PATH` line per graph, each followed by
 * `bind SYM=V1,V2,...` lines. Strict: anything unexpected is an error that
 * names the line, because a typo would otherwise silently prebuild the
 * wrong kernels and be found only when a deployment misses.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "prebuild_int.h"

#define PB_MAX_TOKENS 64
/* Per graph: a product beyond this is surely a mistake (and would take days). */
#define PB_MAX_COMBINATIONS 100000

static tj_status lerr(const prebuild_manifest *m, int line, tj_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tj_status lerr(const prebuild_manifest *m, int line, tj_status s, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tj_set_error(s, "%s:%d: %s", m->source, line, msg);
}

size_t pb_combinations(const pb_graph *pg) {
    size_t n = 1;
    for (int s = 0; s < pg->nsym; s++)
        if (pg->vals[s]) n *= (size_t)pg->nvals[s];
    return n;
}

void pb_combination(const pb_graph *pg, size_t index, int64_t *vals) {
    for (int s = pg->nsym - 1; s >= 0; s--) {
        if (!pg->vals[s]) {
            vals[s] = TJ_UNBOUND;
            continue;
        }
        size_t k = (size_t)pg->nvals[s];
        vals[s] = pg->vals[s][index % k];
        index /= k;
    }
}

static void graph_free(pb_graph *pg) {
    for (int s = 0; s < pg->nsym; s++) free(pg->vals ? pg->vals[s] : NULL);
    free(pg->vals);
    free(pg->nvals);
    free(pg->bind_line);
    tj_graph_free(pg->g);
}

void prebuild_manifest_free(prebuild_manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) graph_free(&m->graphs[i]);
    free(m->graphs);
    free(m->source);
    free(m);
}

int prebuild_manifest_graphs(const prebuild_manifest *m) { return m ? m->n : 0; }

size_t prebuild_manifest_bindings(const prebuild_manifest *m) {
    size_t n = 0;
    for (int i = 0; m && i < m->n; i++) n += pb_combinations(&m->graphs[i]);
    return n;
}

/* Split a line in place on blanks; a '#' starts a comment. */
static int tokenize(char *s, char **tok, int max) {
    int n = 0;
    char *hash = strchr(s, '#');
    if (hash) *hash = '\0';
    for (;;) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) return n;
        if (n == max) return -1;
        tok[n++] = s;
        while (*s && !isspace((unsigned char)*s)) s++;
        if (*s) *s++ = '\0';
    }
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static tj_status add_graph(prebuild_manifest *m, tj_graph *g, int line) {
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        pb_graph *ng = realloc(m->graphs, sizeof *ng * (size_t)cap);
        if (!ng) {
            tj_graph_free(g);
            return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
        }
        m->graphs = ng;
        m->cap = cap;
    }
    pb_graph *pg = &m->graphs[m->n];
    memset(pg, 0, sizeof *pg);
    pg->g = g;
    pg->line = line;
    pg->nsym = tj_num_symbols(g);
    size_t ns = (size_t)(pg->nsym > 0 ? pg->nsym : 1);
    pg->vals = calloc(ns, sizeof *pg->vals);
    pg->nvals = calloc(ns, sizeof *pg->nvals);
    pg->bind_line = calloc(ns, sizeof *pg->bind_line);
    m->n++;
    if (!pg->vals || !pg->nvals || !pg->bind_line)
        return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
    if (tj_graph_hash(g, pg->hash) != TJ_OK)
        return lerr(m, line, TJ_ERR_INTERNAL, "cannot hash the graph: %s", tj_last_error());
    return TJ_OK;
}

static tj_status parse_recipe(prebuild_manifest *m, int line, char **tok, int n) {
    if (n < 2) return lerr(m, line, TJ_ERR_PARSE, "`recipe` needs a recipe name");
    tj_graph *g = NULL;
    tj_status st = tj_recipe_build(tok[1], n - 2, (const char *const *)(tok + 2), &g);
    if (st != TJ_OK) {
        tj_graph_free(g);
        return lerr(m, line, st, "recipe '%s': %s", tok[1], tj_last_error());
    }
    return add_graph(m, g, line);
}

static tj_status parse_file(prebuild_manifest *m, int line, char **tok, int n,
                            const char *base_dir) {
    if (n != 2)
        return lerr(m, line, TJ_ERR_PARSE, "`file` takes one path (%s)",
                    n < 2 ? "none given" : "paths with blanks are not supported");
    char path[4096];
    if (tok[1][0] == '/' || !base_dir || !*base_dir)
        snprintf(path, sizeof path, "%s", tok[1]);
    else
        snprintf(path, sizeof path, "%s/%s", base_dir, tok[1]);
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) return lerr(m, line, TJ_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    tj_graph *g = NULL;
    tj_status st = tj_graph_parse(text, len, path, &g);
    free(text);
    if (st != TJ_OK) {
        tj_graph_free(g);
        return lerr(m, line, st, "%s", tj_last_error());
    }
    return add_graph(m, g, line);
}

static int find_symbol(const tj_graph *g, const char *name, size_t len) {
    for (int s = 0; s < tj_num_symbols(g); s++) {
        const char *sn = tj_symbol_name(g, (tj_sym){s});
        if (sn && strlen(sn) == len && !strncmp(sn, name, len)) return s;
    }
    return -1;
}

/* One `SYM=V1,V2,...` token of a bind line. */
static tj_status parse_bind_token(prebuild_manifest *m, int line, pb_graph *pg, char *t) {
    char *eq = strchr(t, '=');
    if (!eq || eq == t || !eq[1])
        return lerr(m, line, TJ_ERR_PARSE, "'%s' is not SYM=V1,V2,...", t);
    int s = find_symbol(pg->g, t, (size_t)(eq - t));
    if (s < 0) {
        *eq = '\0';
        return lerr(m, line, TJ_ERR_PARSE, "graph '%s' (line %d) has no symbol '%s'",
                    tj_graph_name(pg->g), pg->line, t);
    }
    if (pg->vals[s])
        return lerr(m, line, TJ_ERR_PARSE, "symbol '%s' is already bound on line %d",
                    tj_symbol_name(pg->g, (tj_sym){s}), pg->bind_line[s]);
    size_t count = 1;
    for (const char *p = eq + 1; *p; p++) count += *p == ',';
    int64_t *v = malloc(sizeof *v * count);
    int64_t *scratch = malloc(sizeof *scratch * (size_t)pg->nsym);
    if (!v || !scratch) {
        free(v);
        free(scratch);
        return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
    }
    tj_status st = TJ_OK;
    size_t k = 0;
    char *p = eq + 1;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *end = NULL;
        errno = 0;
        long long x = *p ? strtoll(p, &end, 10) : 0;
        if (!*p || *end || errno || x <= 0 || !isdigit((unsigned char)*p)) {
            st = lerr(m, line, TJ_ERR_PARSE, "symbol '%s': '%s' is not a positive integer",
                      tj_symbol_name(pg->g, (tj_sym){s}), p);
            break;
        }
        /* The graph's own checks (range, divisibility) for this value. */
        char assign[256];
        snprintf(assign, sizeof assign, "%s=%lld", tj_symbol_name(pg->g, (tj_sym){s}), x);
        for (int i = 0; i < pg->nsym; i++) scratch[i] = TJ_UNBOUND;
        if (tj_bind_parse(pg->g, assign, scratch) != TJ_OK) {
            st = lerr(m, line, TJ_ERR_PARSE, "%s", tj_last_error());
            break;
        }
        for (size_t j = 0; j < k; j++)
            if (v[j] == x) {
                st = lerr(m, line, TJ_ERR_PARSE, "symbol '%s': %lld is listed twice",
                          tj_symbol_name(pg->g, (tj_sym){s}), x);
                break;
            }
        if (st != TJ_OK) break;
        v[k++] = x;
        if (!comma) break;
        p = comma + 1;
    }
    free(scratch);
    if (st != TJ_OK) {
        free(v);
        return st;
    }
    pg->vals[s] = v;
    pg->nvals[s] = (int)k;
    pg->bind_line[s] = line;
    if (pb_combinations(pg) > PB_MAX_COMBINATIONS)
        return lerr(m, line, TJ_ERR_PARSE,
                    "graph '%s' would have more than %d combinations of values",
                    tj_graph_name(pg->g), PB_MAX_COMBINATIONS);
    return TJ_OK;
}

static tj_status parse_line(prebuild_manifest *m, int line, char *s, const char *base_dir) {
    char *tok[PB_MAX_TOKENS];
    int n = tokenize(s, tok, PB_MAX_TOKENS);
    if (n < 0) return lerr(m, line, TJ_ERR_PARSE, "more than %d words", PB_MAX_TOKENS);
    if (n == 0) return TJ_OK;
    if (!strcmp(tok[0], "recipe")) return parse_recipe(m, line, tok, n);
    if (!strcmp(tok[0], "file")) return parse_file(m, line, tok, n, base_dir);
    if (!strcmp(tok[0], "bind")) {
        if (m->n == 0)
            return lerr(m, line, TJ_ERR_PARSE, "`bind` before any `recipe` or `file` line");
        if (n < 2) return lerr(m, line, TJ_ERR_PARSE, "`bind` needs SYM=V1,V2,...");
        for (int i = 1; i < n; i++) {
            tj_status st = parse_bind_token(m, line, &m->graphs[m->n - 1], tok[i]);
            if (st != TJ_OK) return st;
        }
        return TJ_OK;
    }
    return lerr(m, line, TJ_ERR_PARSE,
                "unknown directive '%s' (expected recipe, file or bind)", tok[0]);
}

tj_status prebuild_manifest_parse(const char *text, size_t len, const char *source,
                                  const char *base_dir, prebuild_manifest **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "prebuild_manifest_parse: out is NULL");
    *out = NULL;
    if (!text) return tj_set_error(TJ_ERR_INVALID_ARG, "prebuild_manifest_parse: text is NULL");
    prebuild_manifest *m = calloc(1, sizeof *m);
    char *copy = malloc(len + 1);
    if (m) m->source = strdup(source ? source : "<manifest>");
    if (!m || !copy || !m->source) {
        free(copy);
        prebuild_manifest_free(m);
        return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    tj_status st = TJ_OK;
    int line = 1;
    if (memchr(text, '\0', len)) st = lerr(m, 1, TJ_ERR_PARSE, "the manifest contains a NUL byte");
    for (char *p = copy; st == TJ_OK && *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        st = parse_line(m, line, p, base_dir);
        if (!nl) break;
        p = nl + 1;
    }
    free(copy);
    if (st == TJ_OK && m->n == 0)
        st = tj_set_error(TJ_ERR_PARSE, "%s: no graphs (add `recipe NAME` or `file PATH` lines)",
                          m->source);
    if (st != TJ_OK) {
        prebuild_manifest_free(m);
        return st;
    }
    *out = m;
    return TJ_OK;
}
