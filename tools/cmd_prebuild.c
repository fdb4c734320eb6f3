/*
 * cmd_prebuild.c — `tilejit prebuild MANIFEST --arch A[,B...] -o BUNDLE |
 * --cache-dir D`: every graph of a manifest at every listed binding for
 * every arch, compiled on every core, with no GPU. The work is
 * runtime/prebuild.c's; this is the command line and the summary.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prebuild.h"

#define MAX_ARCHS 32

typedef struct prebuild_args {
    const char *manifest;
    const char *out;
    const char *cache_dir;
    char *archs_buf[MAX_ARCHS];   /* strdup'd pieces of --arch lists */
    int narchs;
    int jobs;
    int in_child;
} prebuild_args;

static int add_archs(prebuild_args *a, const char *list) {
    char *copy = strdup(list);
    if (!copy) return cli_fail("prebuild", "out of memory");
    char *save = NULL;
    int rc = CLI_OK;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        for (int i = 0; i < a->narchs; i++)
            if (!strcmp(a->archs_buf[i], t)) {
                rc = cli_usage("prebuild", "arch '%s' is listed twice", t);
                goto done;
            }
        if (a->narchs == MAX_ARCHS) {
            rc = cli_usage("prebuild", "more than %d archs", MAX_ARCHS);
            goto done;
        }
        if (!(a->archs_buf[a->narchs] = strdup(t))) {
            rc = cli_fail("prebuild", "out of memory");
            goto done;
        }
        a->narchs++;
    }
    if (!*list || strstr(list, ",,") || list[strlen(list) - 1] == ',')
        rc = cli_usage("prebuild", "'%s' is not a list of archs like sm_90a,sm_80", list);
done:
    free(copy);
    return rc;
}

static int parse_args(int argc, char **argv, prebuild_args *a) {
    int opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = NULL;
        int err = 0;
        if (!opts_done && !strcmp(s, "--")) {
            opts_done = 1;
        } else if (!opts_done && cli_opt_value("--arch", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("prebuild", "--arch needs a value");
            int rc = add_archs(a, v);
            if (rc) return rc;
        } else if (!opts_done && (cli_opt_value("-o", argc, argv, &i, &v, &err) ||
                                  cli_opt_value("--output", argc, argv, &i, &v, &err))) {
            if (err) return cli_usage("prebuild", "%s needs a value", s);
            a->out = v;
        } else if (!opts_done && cli_opt_value("--cache-dir", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("prebuild", "--cache-dir needs a value");
            a->cache_dir = v;
        } else if (!opts_done && (cli_opt_value("-j", argc, argv, &i, &v, &err) ||
                                  cli_opt_value("--jobs", argc, argv, &i, &v, &err))) {
            int64_t n = 0;
            if (err || !cli_parse_i64(v, &n) || n < 1 || n > 1024)
                return cli_usage("prebuild", "%s needs a number of threads from 1 to 1024", s);
            a->jobs = (int)n;
        } else if (!opts_done && !strcmp(s, "--in-child")) {
            a->in_child = 1;
        } else if (!opts_done && s[0] == '-' && s[1]) {
            return cli_usage("prebuild", "unknown option '%s'", s);
        } else if (!a->manifest) {
            a->manifest = s;
        } else {
            return cli_usage("prebuild", "one manifest at a time ('%s' is extra)", s);
        }
    }
    if (!a->manifest) return cli_usage("prebuild", "which manifest? give a file or - for stdin");
    if (!a->narchs) return cli_usage("prebuild", "for which archs? give --arch sm_90a[,sm_80...]");
    if (!a->out == !a->cache_dir)
        return cli_usage("prebuild", a->out ? "give -o BUNDLE or --cache-dir DIR, not both"
                                            : "where to? give -o BUNDLE or --cache-dir DIR");
    return CLI_OK;
}

static void report_failure(const char *what, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "tilejit prebuild: %s: %s\n", what, message);
}

/* The library's messages start with "prebuild: "; ours add "tilejit prebuild: ". */
static const char *msg(void) {
    const char *e = tj_last_error();
    return strncmp(e, "prebuild: ", 10) ? e : e + 10;
}

static int run(const prebuild_args *a) {
    char err[1024];
    size_t len = 0;
    char *text = cli_read_input(a->manifest, &len, err, sizeof err);
    if (!text) return cli_fail("prebuild", "%s", err);
    int is_stdin = !strcmp(a->manifest, "-");
    char *dir_copy = strdup(a->manifest);
    if (!dir_copy) {
        free(text);
        return cli_fail("prebuild", "out of memory");
    }
    prebuild_manifest *m = NULL;
    tj_status st = prebuild_manifest_parse(text, len, is_stdin ? "<stdin>" : a->manifest,
                                           is_stdin ? NULL : dirname(dir_copy), &m);
    free(text);
    free(dir_copy);
    if (st != TJ_OK) return cli_fail("prebuild", "%s", tj_last_error());

    prebuild_options o = {0};
    o.archs = (const char *const *)a->archs_buf;
    o.narchs = a->narchs;
    o.bundle = a->out;
    o.cache_dir = a->cache_dir;
    o.jobs = a->jobs;
    o.in_child = a->in_child;
    o.fail = report_failure;
    prebuild_summary sum;
    st = prebuild_run(m, &o, &sum);
    int ngraphs = prebuild_manifest_graphs(m);
    size_t nbind = prebuild_manifest_bindings(m);
    prebuild_manifest_free(m);
    if (st != TJ_OK && sum.kernels == 0)
        return st == TJ_ERR_INVALID_ARG ? cli_usage("prebuild", "%s", msg())
                                        : cli_fail("prebuild", "%s", msg());
    printf("prebuild: %zu kernels (%d graphs, %zu bindings, %d archs; %zu distinct keys): "
           "%zu compiled, %zu already cached, %zu failed in %.2f s on %d threads: "
           "%.2f kernels/s\n",
           sum.kernels, ngraphs, nbind, a->narchs, sum.unique, sum.compiled, sum.cached,
           sum.failed, sum.seconds, sum.threads,
           sum.seconds > 0 ? (double)sum.compiled / sum.seconds : 0.0);
    if (st != TJ_OK) return cli_fail("prebuild", "%s", msg());
    if (a->out)
        printf("wrote %s (%zu entries, %llu bytes of cubins)\n", a->out, sum.unique, sum.bytes);
    else
        printf("filled %s\n", a->cache_dir);
    return CLI_OK;
}

int cli_prebuild(int argc, char **argv) {
    prebuild_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc == CLI_OK) rc = run(&a);
    for (int i = 0; i < a.narchs; i++) free(a.archs_buf[i]);
    return rc;
}
