/*
 * cache_key.c — the cache key: a description of everything that shaped a
 * cubin, one "component=value" line each, and its SHA-256 (cache.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cache_int.h"
#include "emit.h"
#include "ir.h"
#include "jitlink.h"
#include "nvrtc.h"
#include "templates.h"

/* The line that is recorded but not hashed (cache.h says why). */
#define NVRTC_PREFIX "nvrtc="

void cache_desc_key(const char *desc, size_t len, char hex[65]) {
    ir_sha256 s;
    ir_sha256_init(&s);
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(desc + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (desc + i)) + 1 : len - i;
        if (!(n >= sizeof NVRTC_PREFIX - 1 && memcmp(desc + i, NVRTC_PREFIX, sizeof NVRTC_PREFIX - 1) == 0))
            ir_sha256_update(&s, desc + i, n);
        i += n;
    }
    uint8_t d[32];
    ir_sha256_final(&s, d);
    cache_hex(d, 32, hex);
}

void cache_hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int cache_is_key_hex(const char *s, size_t n) {
    if (n != 64) return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

void cache_specialize(const tj_graph *g, const int64_t *sym_vals, int64_t *spec_vals) {
    int n = tj_num_symbols(g);
    for (int i = 0; i < n; i++) {
        tj_sym s = {i};
        int64_t v = sym_vals ? sym_vals[i] : TJ_UNBOUND;
        tj_policy p = tj_symbol_policy(g, s);
        if (v == TJ_UNBOUND || p == TJ_DYNAMIC)
            spec_vals[i] = TJ_UNBOUND;
        else if (p == TJ_EXACT)
            spec_vals[i] = v;
        else
            spec_vals[i] = tj_symbol_specialize(g, s, v);
    }
}

static tj_status check_component(const char *what, const char *v) {
    if (!v) return tj_set_error(TJ_ERR_INVALID_ARG, "cache key: %s is NULL", what);
    if (strchr(v, '\n') || strchr(v, '\r'))
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache key: %s \"%.60s\" holds a line break", what, v);
    return TJ_OK;
}

tj_status cache_key_make_hashed(const tj_graph *g, const char *graph_hash,
                                const int64_t *spec_vals, const char *schedule,
                                const char *arch, const char *nvrtc_version,
                                const char *options, cache_key *out) {
    return cache_key_make_backend(g, graph_hash, spec_vals, schedule, arch, NULL, nvrtc_version,
                                  options, out);
}

tj_status cache_key_make_backend(const tj_graph *g, const char *graph_hash,
                                 const int64_t *spec_vals, const char *schedule,
                                 const char *arch, const char *backend,
                                 const char *nvrtc_version, const char *options,
                                 cache_key *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_make: out is NULL");
    memset(out, 0, sizeof *out);
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_make: the graph is NULL");
    tj_status st;
    if ((st = check_component("schedule", schedule)) != TJ_OK ||
        (st = check_component("arch", arch)) != TJ_OK ||
        (st = check_component("options", options)) != TJ_OK ||
        (nvrtc_version && (st = check_component("nvrtc version", nvrtc_version)) != TJ_OK) ||
        (backend && (st = check_component("backend", backend)) != TJ_OK))
        return st;
    char ghash[65];
    if (graph_hash) {
        if (!cache_is_key_hex(graph_hash, strlen(graph_hash)))
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "cache key: graph hash \"%.70s\" is not 64 lowercase hex digits",
                                graph_hash);
        memcpy(ghash, graph_hash, 65);
    } else if ((st = tj_graph_hash(g, ghash)) != TJ_OK) {
        return st;
    }
    int nsym = tj_num_symbols(g);
    if (nsym > 0 && !spec_vals)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "cache key: graph '%s' has %d symbols but no values were given",
                            tj_graph_name(g), nsym);

    strbuf b = {0};
    sb_printf(&b, "graph=%s\nname=%s\nsymbols=", ghash, tj_graph_name(g));
    for (int i = 0; i < nsym; i++) {
        tj_sym s = {i};
        sb_printf(&b, "%s%s=", i ? " " : "", tj_symbol_name(g, s));
        if (spec_vals[i] == TJ_UNBOUND)
            sb_printf(&b, "dynamic");
        else
            sb_printf(&b, "%lld", (long long)spec_vals[i]);
    }
    sb_printf(&b, "\nschedule=%s\narch=%s\noptions=%s\ncodegen=%d.%s\ntemplates=%s\n",
              schedule, arch, options, CACHE_CODEGEN_VERSION, tj_codegen_digest(),
              tj_templates_hash());
    /* NVRTC's keys have no backend line (so they stay what they were);
     * another back end names itself and its version. */
    if (backend) sb_printf(&b, "backend=%s\n", backend);
    sb_printf(&b, "nvrtc=%s\n", nvrtc_version ? nvrtc_version : "unknown");
    if (b.oom || !b.data) {
        sb_free(&b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache key: out of memory");
    }
    out->desc = b.data;
    cache_desc_key(out->desc, b.len, out->hex);
    return TJ_OK;
}

tj_status cache_key_make(const tj_graph *g, const int64_t *spec_vals, const char *schedule,
                         const char *arch, const char *nvrtc_version, const char *options,
                         cache_key *out) {
    return cache_key_make_hashed(g, NULL, spec_vals, schedule, arch, nvrtc_version, options, out);
}

tj_status cache_key_for_compile(const tj_graph *g, const char *graph_hash,
                                const int64_t *sym_vals, const char *arch,
                                const char *nvrtc_version, cache_key *out) {
    return cache_key_for_compile_as(g, graph_hash, sym_vals, arch, "auto", nvrtc_version, out);
}

tj_status cache_key_for_compile_as(const tj_graph *g, const char *graph_hash,
                                   const int64_t *sym_vals, const char *arch,
                                   const char *schedule, const char *nvrtc_version,
                                   cache_key *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_for_compile: out is NULL");
    memset(out, 0, sizeof *out);
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_for_compile: the graph is NULL");
    /* The options compile_graph passes: its request has no extra options,
     * so only the arch shapes them. */
    nvrtc_request req = {0};
    req.source = "";
    req.arch = arch;
    char *options = NULL;
    tj_status st = nvrtc_options(&req, &options);
    if (st != TJ_OK) return st;
    int n = tj_num_symbols(g);
    int64_t *spec = malloc(sizeof *spec * (size_t)(n > 0 ? n : 1));
    if (!spec) {
        free(options);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_key_for_compile: out of memory");
    }
    cache_specialize(g, sym_vals, spec);
    st = cache_key_make_hashed(g, graph_hash, spec, schedule, arch, nvrtc_version, options, out);
    free(spec);
    free(options);
    return st;
}

tj_status cache_key_for_compile_llvm(const tj_graph *g, const char *graph_hash,
                                     const int64_t *sym_vals, const char *arch,
                                     const char *linker_version, cache_key *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_for_compile_llvm: out is NULL");
    memset(out, 0, sizeof *out);
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_for_compile_llvm: the graph is NULL");
    const char *backend = jitlink_backend_id();
    if (!backend)
        return tj_set_error(TJ_ERR_UNSUPPORTED,
                            "cache key: this tilejit was built without LLVM (no LLVM back end)");
    int n = tj_num_symbols(g);
    int64_t *spec = malloc(sizeof *spec * (size_t)(n > 0 ? n : 1));
    if (!spec) return tj_set_error(TJ_ERR_NO_MEMORY, "cache_key_for_compile_llvm: out of memory");
    cache_specialize(g, sym_vals, spec);
    /* The LLVM path has one lowering and fixed options (O3, the arch). */
    tj_status st = cache_key_make_backend(g, graph_hash, spec, "generic", arch, backend,
                                          linker_version, "llvm -O3", out);
    free(spec);
    return st;
}

tj_status cache_key_from_desc(const char *desc, cache_key *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_from_desc: out is NULL");
    memset(out, 0, sizeof *out);
    if (!desc) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_key_from_desc: desc is NULL");
    size_t n = strlen(desc);
    out->desc = malloc(n + 1);
    if (!out->desc) return tj_set_error(TJ_ERR_NO_MEMORY, "cache_key_from_desc: out of memory");
    memcpy(out->desc, desc, n + 1);
    cache_desc_key(desc, n, out->hex);
    return TJ_OK;
}

void cache_key_free(cache_key *k) {
    if (!k) return;
    free(k->desc);
    k->desc = NULL;
    k->hex[0] = '\0';
}

/* ---- comparing descriptions ----------------------------------------- */

/* The value of `comp` in desc as [*v, *v + *n); 0 when absent. */
static int desc_find(const char *desc, const char *comp, const char **v, size_t *n) {
    size_t cl = strlen(comp);
    for (const char *p = desc; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > cl && memcmp(p, comp, cl) == 0 && p[cl] == '=') {
            *v = p + cl + 1;
            *n = len - cl - 1;
            return 1;
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* Components in description order; each present in either is compared. */
static const char *const components[] = {"graph", "name", "symbols", "schedule", "arch",
                                         "options", "codegen", "templates", "backend",
                                         "nvrtc"};

/* The token "name=value" for `name` in a symbols list, as [*v, *v+*n). */
static int sym_find(const char *list, size_t len, const char *name, size_t nlen, const char **v,
                    size_t *n) {
    for (size_t i = 0; i < len;) {
        const char *sp = memchr(list + i, ' ', len - i);
        size_t tl = sp ? (size_t)(sp - (list + i)) : len - i;
        const char *eq = memchr(list + i, '=', tl);
        if (eq && (size_t)(eq - (list + i)) == nlen && memcmp(list + i, name, nlen) == 0) {
            *v = eq + 1;
            *n = tl - nlen - 1;
            return 1;
        }
        i += tl + 1;
    }
    return 0;
}

/* Symbol-by-symbol: the names of `a` looked up in `b` (and those of b
 * missing from a), written as "seq wanted 256, entry has 128". */
static void diff_symbols(strbuf *out, const char *w, size_t wn, const char *h, size_t hn) {
    int first = 1;
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass ? h : w, *b = pass ? w : h;
        size_t an = pass ? hn : wn, bn = pass ? wn : hn;
        for (size_t i = 0; i < an;) {
            const char *sp = memchr(a + i, ' ', an - i);
            size_t tl = sp ? (size_t)(sp - (a + i)) : an - i;
            const char *eq = memchr(a + i, '=', tl);
            if (eq) {
                size_t nl = (size_t)(eq - (a + i)), vl = tl - nl - 1;
                const char *bv;
                size_t bvl;
                int inb = sym_find(b, bn, a + i, nl, &bv, &bvl);
                if (!inb || (pass == 0 && (bvl != vl || memcmp(bv, eq + 1, vl) != 0))) {
                    sb_printf(out, "%s%.*s ", first ? "symbols: " : "; ", (int)nl, a + i);
                    if (pass == 0 && inb)
                        sb_printf(out, "wanted %.*s, entry has %.*s", (int)vl, eq + 1, (int)bvl, bv);
                    else if (pass == 0)
                        sb_printf(out, "wanted %.*s, entry has no such symbol", (int)vl, eq + 1);
                    else
                        sb_printf(out, "not wanted, entry has %.*s", (int)vl, eq + 1);
                    first = 0;
                }
            }
            i += tl + 1;
        }
    }
    if (first) sb_printf(out, "symbols: wanted '%.*s', entry has '%.*s'", (int)wn, w, (int)hn, h);
    sb_printf(out, "\n");
}

int cache_desc_diff(const char *want, const char *have, char **report) {
    if (report) *report = NULL;
    strbuf out = {0};
    sb_printf(&out, "%s", "");
    int ndiff = 0;
    for (size_t c = 0; c < sizeof components / sizeof *components; c++) {
        const char *w = "", *h = "";
        size_t wn = 0, hn = 0;
        int inw = want && desc_find(want, components[c], &w, &wn);
        int inh = have && desc_find(have, components[c], &h, &hn);
        if (inw == inh && wn == hn && memcmp(w, h, wn) == 0) continue;
        int hashed = strcmp(components[c], "nvrtc") != 0;
        if (!hashed && wn == 7 && memcmp(w, "unknown", 7) == 0) continue;   /* nothing to compare */
        ndiff += hashed;
        if (strcmp(components[c], "symbols") == 0 && inw && inh) {
            diff_symbols(&out, w, wn, h, hn);
        } else {
            const char *none = strcmp(components[c], "backend") ? "(none)" : "nvrtc";
            if (!inw) w = none, wn = strlen(none);
            if (!inh) h = none, hn = strlen(none);
            sb_printf(&out, "%s: wanted %.*s, entry has %.*s%s\n", components[c], (int)wn, w,
                      (int)hn, h, hashed ? "" : " (recorded only: does not cause a miss)");
        }
    }
    if (out.oom) {
        sb_free(&out);
        return -1;
    }
    if (report)
        *report = out.data;
    else
        sb_free(&out);
    return ndiff;
}
