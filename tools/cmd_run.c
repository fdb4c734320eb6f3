/*
 * cmd_run.c — commands that run graphs in the CPU interpreter: run-cpu
 * and demo.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_seed(const char *cmd, const char *s, uint64_t *out) {
    errno = 0;
    char *end;
    if (!*s || *s == '-') return cli_usage(cmd, "seed '%s' is not a non-negative integer", s);
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return cli_usage(cmd, "seed '%s' is not a non-negative integer", s);
    *out = v;
    return CLI_OK;
}

/* "--opt VALUE" or "--opt=VALUE": the value, advancing *i; NULL when the
 * argument is not this option. *missing is set when the value is absent. */
static const char *option_value(int argc, char **argv, int *i, const char *opt, int *missing) {
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n]) return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int find_scalar(const tj_graph *g, const char *name, size_t len) {
    for (int i = 0; i < tj_num_scalars(g); i++) {
        const char *s = tj_scalar_name(g, i);
        if (strlen(s) == len && !strncmp(s, name, len)) return i;
    }
    return -1;
}

static void print_result(const tj_graph *g, const cli_run_result *r, uint64_t seed,
                         unsigned flags) {
    printf("%s: grid %lldx%lldx%lld, seed %llu, %s math\n", tj_graph_name(g),
           (long long)r->grid[0], (long long)r->grid[1], (long long)r->grid[2],
           (unsigned long long)seed, (flags & TJ_INTERP_F64) ? "f64" : "f32");
    printf("%-16s %-7s %12s %24s %24s\n", "output", "dtype", "elements", "sum", "sum|x|");
    int outputs = 0;
    for (int i = 0; i < r->ntensors; i++) {
        const cli_tensor_sum *t = &r->tensors[i];
        if (!t->output) continue;
        outputs++;
        printf("%-16s %-7s %12lld %24.17g %24.17g\n", t->name, tj_dtype_name(t->dtype),
               (long long)t->elements, t->sum, t->abs_sum);
    }
    if (!outputs) printf("(the graph stores to no tensor)\n");
    printf("interpreted in %.3f ms\n", r->seconds * 1e3);
}

int cli_run_cpu(int argc, char **argv) {
    const char *cmd = "run-cpu", *path = NULL;
    const char **binds = calloc((size_t)argc, sizeof *binds);
    const char **scalars = calloc((size_t)argc, sizeof *scalars);
    int nbinds = 0, nscalars = 0, code = CLI_OK, missing = 0;
    uint64_t seed = 1;
    unsigned flags = 0;
    tj_graph *g = NULL;
    int64_t *vals = NULL;
    double *scal = NULL;
    if (!binds || !scalars) {
        code = cli_fail(cmd, "out of memory");
        goto done;
    }
    for (int i = 1; i < argc && code == CLI_OK; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--bind", &missing))) {
            binds[nbinds++] = v;
        } else if ((v = option_value(argc, argv, &i, "--scalar", &missing))) {
            scalars[nscalars++] = v;
        } else if ((v = option_value(argc, argv, &i, "--seed", &missing))) {
            code = parse_seed(cmd, v, &seed);
        } else if (missing) {
            code = cli_usage(cmd, "option '%s' needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--f64")) {
            flags |= TJ_INTERP_F64;
        } else if (!strcmp(argv[i], "--") && i + 1 < argc && !path) {
            path = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            code = cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (path) {
            code = cli_usage(cmd, "takes one file, got '%s' and '%s'", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (code != CLI_OK) goto done;
    if (!path) {
        code = cli_usage(cmd, "which file? (- reads stdin)");
        goto done;
    }
    code = cli_load_graph(cmd, path, &g);
    if (code != CLI_OK) goto done;

    int nsym = tj_num_symbols(g), nsc = tj_num_scalars(g);
    vals = malloc(((size_t)nsym + 1) * sizeof *vals);
    scal = malloc(((size_t)nsc + 1) * sizeof *scal);
    if (!vals || !scal) {
        code = cli_fail(cmd, "out of memory");
        goto done;
    }
    for (int i = 0; i < nsym; i++) vals[i] = TJ_UNBOUND;
    for (int i = 0; i < nsc; i++) scal[i] = NAN;
    for (int i = 0; i < nbinds; i++) {
        tj_status s = cli_bind(g, binds[i], vals);
        if (s != TJ_OK) {
            code = cli_usage(cmd, "%s", tj_last_error());
            goto done;
        }
    }
    for (int i = 0; i < nsym; i++) {
        if (vals[i] != TJ_UNBOUND) continue;
        const char *name = tj_symbol_name(g, (tj_sym){i});
        code = cli_usage(cmd, "symbol '%s' has no value: add --bind %s=N", name, name);
        goto done;
    }
    for (int i = 0; i < nscalars; i++) {
        const char *eq = strchr(scalars[i], '=');
        int k = eq ? find_scalar(g, scalars[i], (size_t)(eq - scalars[i])) : -1;
        char *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq) {
            code = cli_usage(cmd, "--scalar %s is not of the form name=value", scalars[i]);
        } else if (k < 0) {
            code = cli_usage(cmd, "--scalar %s: graph '%s' has no scalar argument '%.*s'",
                             scalars[i], tj_graph_name(g), (int)(eq - scalars[i]), scalars[i]);
        } else if (end == eq + 1 || *end || isnan(v)) {
            code = cli_usage(cmd, "--scalar %s: '%s' is not a number", scalars[i], eq + 1);
        } else {
            scal[k] = v;
        }
        if (code != CLI_OK) goto done;
    }

    cli_run_result r;
    tj_status s = cli_run_graph(g, vals, scal, seed, flags, &r);
    if (s != TJ_OK) {
        code = cli_fail(cmd, "%s", r.error);
        goto done;
    }
    print_result(g, &r, seed, flags);
    cli_run_result_free(&r);

done:
    tj_graph_free(g);
    free(vals);
    free(scal);
    free(binds);
    free(scalars);
    return code;
}

/* ---- demo ------------------------------------------------------------ */

/* Batch and head counts get 2; every other size ~100, which is not a
 * multiple of any tile and so exercises the masked edges. */
static int64_t demo_target(const char *name) {
    static const char *const small[] = {"b", "h", "z", "g", "B", "H", "Z"};
    if (strstr(name, "batch") || strstr(name, "head") || strstr(name, "group")) return 2;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        if (!strcmp(name, small[i])) return 2;
    return 100;
}

/* The smallest value >= the target that the symbol accepts (the library
 * checks divisibility). Appends "name=value" to sizes. */
static tj_status demo_bind(const tj_graph *g, int64_t *vals, char *sizes, size_t size) {
    for (int i = 0; i < tj_num_symbols(g); i++) {
        const char *name = tj_symbol_name(g, (tj_sym){i});
        int64_t target = demo_target(name);
        tj_status s = TJ_ERR_INVALID_ARG;
        char buf[160];
        for (int64_t v = target; v < target + 4096 && s != TJ_OK; v++) {
            snprintf(buf, sizeof buf, "%s=%lld", name, (long long)v);
            s = tj_bind_parse(g, buf, vals);
        }
        if (s != TJ_OK) return s;
        size_t len = strlen(sizes);
        snprintf(sizes + len, size - len, "%s%s", len ? " " : "", buf);
    }
    return TJ_OK;
}

/* The number of ops in the text form: value definitions (lines that start
 * with a %name, loops with results included), stores and loops. */
static int count_ops(const char *text) {
    int n = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '%' || !strncmp(p, "store ", 6) || !strncmp(p, "for ", 4)) n++;
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : p + strlen(p);
    }
    return n;
}

/* One recipe: build, verify, round-trip the text, run. 0 on success; on
 * failure `why` says what broke. */
static int demo_one(const tj_recipe_info *info, uint64_t seed, char *why, size_t whysize) {
    tj_graph *g = NULL, *back = NULL;
    char *text = NULL, *text2 = NULL, hash[65] = "", sizes[512] = "";
    int64_t *vals = NULL;
    cli_run_result r = {0};
    int ok = 0;
    const char *step = "build";
    tj_status s = tj_recipe_build(info->name, 0, NULL, &g);
    if (s == TJ_OK) s = (step = "verify", tj_graph_verify(g));
    if (s == TJ_OK) s = (step = "print", tj_graph_print(g, &text));
    if (s == TJ_OK) s = (step = "hash", tj_graph_hash(g, hash));
    if (s == TJ_OK) s = (step = "parse", tj_graph_parse(text, strlen(text), info->name, &back));
    if (s == TJ_OK) s = (step = "print", tj_graph_print(back, &text2));
    if (s != TJ_OK) {
        snprintf(why, whysize, "%s: %s", step, tj_last_error());
        goto done;
    }
    if (strcmp(text, text2)) {
        snprintf(why, whysize, "its text form does not read back to the same text");
        goto done;
    }
    vals = malloc(((size_t)tj_num_symbols(g) + 1) * sizeof *vals);
    if (!vals) {
        snprintf(why, whysize, "out of memory");
        goto done;
    }
    for (int i = 0; i < tj_num_symbols(g); i++) vals[i] = TJ_UNBOUND;
    if (demo_bind(g, vals, sizes, sizeof sizes) != TJ_OK) {
        snprintf(why, whysize, "bind: %s", tj_last_error());
        goto done;
    }
    if (cli_run_graph(g, vals, NULL, seed, 0, &r) != TJ_OK) {
        snprintf(why, whysize, "run (%s): %s", sizes, r.error);
        goto done;
    }
    double checksum = 0;
    for (int i = 0; i < r.ntensors; i++)
        if (r.tensors[i].output) checksum += r.tensors[i].sum;
    printf("%-16s %6d %7zu  %.12s %10.2f %20.10e  %s\n", info->name, count_ops(text),
           strlen(text), hash, r.seconds * 1e3, checksum, sizes);
    ok = 1;
done:
    cli_run_result_free(&r);
    free(vals);
    tj_free(text);
    tj_free(text2);
    tj_graph_free(g);
    tj_graph_free(back);
    return ok;
}

int cli_demo(int argc, char **argv) {
    uint64_t seed = 1;
    const char *bundle = NULL;
    int cpu_only = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v = option_value(argc, argv, &i, "--seed", &missing);
        const char *b = v || missing ? NULL : option_value(argc, argv, &i, "--bundle", &missing);
        if (v) {
            int code = parse_seed("demo", v, &seed);
            if (code != CLI_OK) return code;
        } else if (b) {
            bundle = b;
        } else if (!strcmp(argv[i], "--cpu-only")) {
            cpu_only = 1;
        } else if (missing) {
            return cli_usage("demo", "option '%s' needs a value", argv[i]);
        } else {
            return cli_usage("demo", "unknown argument '%s'", argv[i]);
        }
    }
    int n = tj_recipe_count(), failed = 0;
    printf("tilejit %s demo: every recipe at its defaults, in the CPU interpreter (seed %llu)\n\n",
           tj_version(), (unsigned long long)seed);
    printf("%-16s %6s %7s  %-12s %10s %20s  %s\n", "recipe", "nodes", "bytes", "hash", "ms",
           "checksum", "sizes");
    for (int i = 0; i < n; i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        if (!info) continue;
        char why[1200] = "";
        fflush(stdout);
        if (!demo_one(info, seed, why, sizeof why)) {
            printf("%-16s FAILED: %s\n", info->name, why);
            failed++;
        }
    }
    printf("\n%d recipe%s, %d failed\n", n, n == 1 ? "" : "s", failed);
    if (n == 0) return cli_fail("demo", "no recipes are built in");
    if (failed) return CLI_FAIL;
    fflush(stdout);
    return cpu_only ? CLI_OK : cli_demo_gpu(seed, bundle);
}
