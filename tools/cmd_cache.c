/*
 * cmd_cache.c — `tilejit cache ls|stats|verify|clear|explain`: thin
 * wrappers over runtime/cache.h's admin functions. The directory is
 * --dir D, else the runtime's default ($TILEJIT_CACHE_DIR, ...), so the
 * command sees what kernels see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cli.h"
#include "nvrtc.h"

#define MAX_LIST 64

typedef struct cache_args {
    const char *sub;
    const char *dir;
    const char *arch;
    int repair;
    int nbundles, nbinds, npos;
    const char *bundles[MAX_LIST];
    const char *binds[MAX_LIST];
    const char *pos[MAX_LIST];   /* explain's graph: FILE|- or recipe NAME k=v ... */
} cache_args;

static int push(const char **list, int *n, const char *v, const char *what) {
    if (*n == MAX_LIST) return cli_usage("cache", "too many %s", what);
    list[(*n)++] = v;
    return CLI_OK;
}

static int parse_args(int argc, char **argv, cache_args *a) {
    if (argc < 2) return cli_usage("cache", "which? ls, stats, verify, clear or explain");
    a->sub = argv[1];
    const char *subs[] = {"ls", "stats", "verify", "clear", "explain"};
    int known = 0;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) known |= !strcmp(a->sub, subs[i]);
    if (!known)
        return cli_usage("cache", "unknown subcommand '%s' (ls, stats, verify, clear, explain)",
                         a->sub);
    int explain = !strcmp(a->sub, "explain");
    int opts_done = 0, rc = CLI_OK;
    for (int i = 2; i < argc && rc == CLI_OK; i++) {
        const char *s = argv[i], *v = NULL;
        int err = 0;
        if (!opts_done && !strcmp(s, "--")) {
            opts_done = 1;
        } else if (!opts_done && cli_opt_value("--dir", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("cache", "--dir needs a value");
            a->dir = v;
        } else if (!opts_done && strcmp(a->sub, "clear") && strcmp(a->sub, "stats") &&
                   cli_opt_value("--bundle", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("cache", "--bundle needs a value");
            rc = push(a->bundles, &a->nbundles, v, "--bundle options");
        } else if (!opts_done && explain && cli_opt_value("--arch", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("cache", "--arch needs a value");
            a->arch = v;
        } else if (!opts_done && explain && cli_opt_value("--bind", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("cache", "--bind needs a value");
            rc = push(a->binds, &a->nbinds, v, "--bind options");
        } else if (!opts_done && !strcmp(a->sub, "verify") && !strcmp(s, "--repair")) {
            a->repair = 1;
        } else if (!opts_done && s[0] == '-' && s[1]) {
            return cli_usage("cache", "%s: unknown option '%s'", a->sub, s);
        } else if (explain) {
            rc = push(a->pos, &a->npos, s, "arguments");
        } else {
            return cli_usage("cache", "%s takes no argument ('%s')", a->sub, s);
        }
    }
    if (rc == CLI_OK && explain && a->npos == 0)
        return cli_usage("cache", "explain: which graph? give FILE|- or recipe NAME [k=v ...]");
    if (rc == CLI_OK && explain && !a->arch) a->arch = "sm_90a";
    return rc;
}

/* A component's value from a description ("name=gemm\n..."), in buf. */
static const char *component(const char *desc, const char *name, char *buf, size_t size) {
    size_t n = strlen(name);
    for (const char *p = desc; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > n && !strncmp(p, name, n) && p[n] == '=') {
            snprintf(buf, size, "%.*s", (int)(len - n - 1), p + n + 1);
            return buf;
        }
        p = nl ? nl + 1 : NULL;
    }
    snprintf(buf, size, "?");
    return buf;
}

static void print_entry(const cache_entry_info *e) {
    char name[128], arch[32], syms[256], when[32] = "-";
    const char *d = e->desc ? e->desc : "";
    if (e->last_used > 0) {
        time_t t = (time_t)e->last_used;
        struct tm tm;
        if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    }
    printf("%.16s  %9llu  %-16s  %-16s  %-7s  %s\n", e->hex, (unsigned long long)e->file_bytes,
           when, component(d, "name", name, sizeof name), component(d, "arch", arch, sizeof arch),
           component(d, "symbols", syms, sizeof syms));
}

static int open_bundles(const cache_args *a, cache_bundle **b) {
    for (int i = 0; i < a->nbundles; i++) {
        if (cache_bundle_open(a->bundles[i], &b[i]) != TJ_OK) {
            int rc = cli_fail("cache", "%s", tj_last_error());
            for (int j = 0; j < i; j++) cache_bundle_close(b[j]);
            return rc;
        }
    }
    return CLI_OK;
}

static int do_ls(cache_dir *d, cache_bundle **b, int nb) {
    cache_entry_info *e = NULL;
    size_t n = 0;
    if (cache_list(d, &e, &n) != TJ_OK) return cli_fail("cache", "ls: %s", tj_last_error());
    printf("%-16s  %9s  %-16s  %-16s  %-7s  %s\n", "KEY", "BYTES", "LAST USED", "GRAPH", "ARCH",
           "SYMBOLS");
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        print_entry(&e[i]);
        bytes += e[i].file_bytes;
    }
    cache_list_free(e, n);
    size_t total = n;
    for (int k = 0; k < nb; k++) {
        size_t c = cache_bundle_count(b[k]);
        for (size_t i = 0; i < c; i++) {
            cache_entry_info info;
            memset(&info, 0, sizeof info);
            if (cache_bundle_entry(b[k], i, &info) != TJ_OK)
                return cli_fail("cache", "ls: %s", tj_last_error());
            print_entry(&info);
            bytes += info.file_bytes;
            free(info.desc);
            free(info.path);
        }
        total += c;
    }
    const char *path = cache_dir_path(d);
    printf("%zu entries, %llu bytes in %s%s\n", total, (unsigned long long)bytes,
           path ? path : "(memory only)", nb ? " and the bundles" : "");
    return CLI_OK;
}

static int do_stats(cache_dir *d) {
    cache_stats s;
    if (cache_stats_get(d, &s) != TJ_OK) return cli_fail("cache", "stats: %s", tj_last_error());
    const char *path = cache_dir_path(d);
    printf("directory    %s%s\n", path ? path : "(memory only)",
           path && !cache_dir_writable(d) ? " (read-only)" : "");
    printf("entries      %llu\n", (unsigned long long)s.entries);
    /* of which tuning records (`tilejit tune`; runtime/gemm_tune.h) */
    cache_entry_info *e = NULL;
    size_t n = 0, records = 0;
    if (cache_list(d, &e, &n) == TJ_OK)
        for (size_t i = 0; i < n; i++) records += e[i].desc && !strncmp(e[i].desc, "tune=", 5);
    cache_list_free(e, n);
    printf("tuning       %zu records\n", records);
    printf("bytes        %llu\n", (unsigned long long)s.bytes);
    printf("max bytes    %llu\n", (unsigned long long)s.max_bytes);
    printf("temp files   %llu\n", (unsigned long long)s.temp_files);
    printf("lock files   %llu\n", (unsigned long long)s.lock_files);
    if (s.entries) {
        printf("oldest use   %lld s ago\n", (long long)(time(NULL) - s.oldest_use));
        printf("newest use   %lld s ago\n", (long long)(time(NULL) - s.newest_use));
    }
    return CLI_OK;
}

static void report_bad(const char *path, const char *problem, void *user) {
    (void)user;
    printf("BAD %s: %s\n", path, problem);
}

static int do_verify(cache_dir *d, cache_bundle **b, int nb, const cache_args *a) {
    size_t nok = 0, nbad = 0;
    if (cache_verify_all(d, a->repair, report_bad, NULL, &nok, &nbad) != TJ_OK)
        return cli_fail("cache", "verify: %s", tj_last_error());
    for (int k = 0; k < nb; k++) {
        size_t bad = 0;
        tj_status st = cache_bundle_verify(b[k], &bad);
        size_t c = cache_bundle_count(b[k]);
        if (st != TJ_OK) {
            printf("BAD %s: %s\n", a->bundles[k], tj_last_error());
            nbad += bad ? bad : 1;
            nok += c > bad ? c - bad : 0;
        } else {
            nok += c;
        }
    }
    printf("%zu ok, %zu bad%s\n", nok, nbad, a->repair && nbad ? " (damaged cache entries removed)" : "");
    return nbad ? CLI_FAIL : CLI_OK;
}

static int do_clear(cache_dir *d) {
    size_t removed = 0;
    if (cache_clear(d, &removed) != TJ_OK) return cli_fail("cache", "clear: %s", tj_last_error());
    const char *path = cache_dir_path(d);
    printf("removed %zu entries from %s\n", removed, path ? path : "(memory only)");
    return CLI_OK;
}

/* explain's graph: FILE|- or `recipe NAME k=v ...`. */
static int explain_graph(const cache_args *a, tj_graph **g) {
    if (strcmp(a->pos[0], "recipe")) {
        if (a->npos > 1) return cli_usage("cache", "explain: one graph file ('%s' is extra)", a->pos[1]);
        return cli_load_graph("cache", a->pos[0], g);
    }
    if (a->npos < 2) return cli_usage("cache", "explain: recipe needs a name");
    tj_status st = tj_recipe_build(a->pos[1], a->npos - 2, a->pos + 2, g);
    if (st != TJ_OK) return cli_usage("cache", "explain: recipe '%s': %s", a->pos[1], tj_last_error());
    return CLI_OK;
}

static int do_explain(cache_dir *d, cache_bundle **b, int nb, const cache_args *a) {
    tj_graph *g = NULL;
    int rc = explain_graph(a, &g);
    if (rc) return rc;
    int ns = tj_num_symbols(g);
    int64_t *vals = malloc(sizeof *vals * (size_t)(ns > 0 ? ns : 1));
    if (!vals) {
        tj_graph_free(g);
        return cli_fail("cache", "out of memory");
    }
    for (int s = 0; s < ns; s++) vals[s] = TJ_UNBOUND;
    for (int i = 0; i < a->nbinds && rc == CLI_OK; i++)
        if (cli_bind(g, a->binds[i], vals) != TJ_OK) rc = cli_usage("cache", "explain: %s", tj_last_error());
    /* The recorded compiler version, when NVRTC is at hand (it is not hashed). */
    char ver[32] = "";
    int maj = 0, min = 0;
    if (rc == CLI_OK && nvrtc_version(&maj, &min) == TJ_OK) snprintf(ver, sizeof ver, "%d.%d", maj, min);
    cache_key key;
    memset(&key, 0, sizeof key);
    if (rc == CLI_OK &&
        cache_key_for_compile(g, NULL, vals, a->arch, ver[0] ? ver : NULL, &key) != TJ_OK)
        rc = cli_usage("cache", "explain: %s", tj_last_error());
    cache_explanation ex;
    memset(&ex, 0, sizeof ex);
    if (rc == CLI_OK && cache_explain(d, b, nb, key.desc, &ex) != TJ_OK)
        rc = cli_fail("cache", "explain: %s", tj_last_error());
    if (rc == CLI_OK) {
        char syms[256];
        printf("key %s (graph %s, arch %s, symbols %s)\n", key.hex, tj_graph_name(g), a->arch,
               component(key.desc, "symbols", syms, sizeof syms));
        if (ex.exact) {
            printf("hit: %s\n", ex.nearest.path ? ex.nearest.path : "?");
            if (ex.report && *ex.report) printf("  (recorded only, not in the key) %s", ex.report);
        } else if (!ex.found) {
            printf("miss: there are no entries to compare with\n");
        } else {
            printf("miss: the nearest entry %.16s (%s) differs in %d component%s:\n",
                   ex.nearest.hex, ex.nearest.path ? ex.nearest.path : "?", ex.ndiff,
                   ex.ndiff == 1 ? "" : "s");
            for (const char *p = ex.report; p && *p;) {
                const char *nl = strchr(p, '\n');
                int len = nl ? (int)(nl - p) : (int)strlen(p);
                printf("  %.*s\n", len, p);
                p = nl ? nl + 1 : NULL;
            }
        }
    }
    cache_explanation_free(&ex);
    cache_key_free(&key);
    free(vals);
    tj_graph_free(g);
    return rc;
}

int cli_cache(int argc, char **argv) {
    cache_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    cache_bundle *b[MAX_LIST] = {0};
    if ((rc = open_bundles(&a, b)) != CLI_OK) return rc;
    cache_dir *d = NULL;
    if (cache_dir_open(a.dir, &d) != TJ_OK) {
        rc = cli_fail("cache", "%s", tj_last_error());
    } else if (!strcmp(a.sub, "ls")) {
        rc = do_ls(d, b, a.nbundles);
    } else if (!strcmp(a.sub, "stats")) {
        rc = do_stats(d);
    } else if (!strcmp(a.sub, "verify")) {
        rc = do_verify(d, b, a.nbundles, &a);
    } else if (!strcmp(a.sub, "clear")) {
        rc = do_clear(d);
    } else {
        rc = do_explain(d, b, a.nbundles, &a);
    }
    cache_dir_close(d);
    for (int i = 0; i < a.nbundles; i++) cache_bundle_close(b[i]);
    return rc;
}
