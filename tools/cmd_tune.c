/*
 * cmd_tune.c — `tilejit tune gemm [k=v ...] --shape MxNxK ...`: on a GPU,
 * time the configuration model's candidates for each shape and store the
 * fastest as a tuning record in the cache directory, where
 * tj_recipe_gemm_for_shape finds it (runtime/gemm_tune*.c does the work);
 * `--model` prints the model's ranking alone, with no GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "driver.h"
#include "gemm_config.h"
#include "gemm_tune.h"

#define MAX_SHAPES 32
#define MAX_PARAMS 32

typedef struct tune_args {
    const char *recipe;
    const char *params[MAX_PARAMS];
    int nparams;
    int64_t shapes[MAX_SHAPES][3];
    int nshapes;
    const char *dir;
    const char *arch;   /* --model */
    int64_t sms;        /* --model */
    int64_t reps, top;
    uint64_t seed;
    int model_only, store;
} tune_args;

static int parse_shape(const char *s, int64_t *out) {
    long long v[3];
    int used = 0;
    if (sscanf(s, "%lldx%lldx%lld%n", &v[0], &v[1], &v[2], &used) != 3 || s[used] || v[0] < 1 ||
        v[1] < 1 || v[2] < 1)
        return 0;
    for (int i = 0; i < 3; i++) out[i] = v[i];
    return 1;
}

static int parse_args(int argc, char **argv, tune_args *a) {
    a->store = 1;
    a->seed = 1;
    int opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = NULL;
        int err = 0;
        if (!opts_done && !strcmp(s, "--")) {
            opts_done = 1;
        } else if (!opts_done && cli_opt_value("--shape", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("tune", "--shape needs a value");
            if (a->nshapes == MAX_SHAPES) return cli_usage("tune", "more than %d shapes", MAX_SHAPES);
            if (!parse_shape(v, a->shapes[a->nshapes]))
                return cli_usage("tune", "'%s' is not a shape MxNxK of positive sizes", v);
            a->nshapes++;
        } else if (!opts_done && cli_opt_value("--dir", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("tune", "--dir needs a value");
            a->dir = v;
        } else if (!opts_done && cli_opt_value("--arch", argc, argv, &i, &v, &err)) {
            if (err) return cli_usage("tune", "--arch needs a value");
            a->arch = v;
        } else if (!opts_done && (cli_opt_value("--reps", argc, argv, &i, &v, &err) ||
                                  cli_opt_value("--top", argc, argv, &i, &v, &err) ||
                                  cli_opt_value("--sms", argc, argv, &i, &v, &err) ||
                                  cli_opt_value("--seed", argc, argv, &i, &v, &err))) {
            int64_t x;
            if (err || !cli_parse_i64(v, &x) || x < 1 || x > 100000)
                return cli_usage("tune", "%s needs a number from 1 to 100000", s);
            if (!strncmp(s, "--reps", 6)) a->reps = x;
            else if (!strncmp(s, "--top", 5)) a->top = x;
            else if (!strncmp(s, "--sms", 5)) a->sms = x;
            else a->seed = (uint64_t)x;
        } else if (!opts_done && !strcmp(s, "--model")) {
            a->model_only = 1;
        } else if (!opts_done && !strcmp(s, "--no-store")) {
            a->store = 0;
        } else if (!opts_done && s[0] == '-' && s[1]) {
            return cli_usage("tune", "unknown option '%s'", s);
        } else if (!a->recipe) {
            a->recipe = s;
        } else {
            if (a->nparams == MAX_PARAMS) return cli_usage("tune", "too many parameters");
            a->params[a->nparams++] = s;
        }
    }
    if (!a->recipe) return cli_usage("tune", "which recipe? (tune takes gemm)");
    if (strcmp(a->recipe, "gemm"))
        return cli_usage("tune", "recipe '%s' cannot be tuned yet; tune takes gemm", a->recipe);
    if (!a->nshapes) return cli_usage("tune", "give at least one --shape MxNxK");
    if (a->arch && !a->model_only) return cli_usage("tune", "--arch goes with --model (a tune measures the device's own)");
    return CLI_OK;
}

static void print_cfg(const tj_gemm_config *c) {
    char tile[48];
    snprintf(tile, sizeof tile, "%dx%dx%d", c->bm, c->bn, c->bk);
    printf("  %-12s %5d %7.3f", tile, c->split, c->score);
}

static int model_only(const tune_args *a, tj_dtype dt) {
    const char *arch = a->arch ? a->arch : "sm_90a";
    int sms = a->sms ? (int)a->sms : 132;
    for (int s = 0; s < a->nshapes; s++) {
        const int64_t *sh = a->shapes[s];
        tj_gemm_config c[TJ_GEMM_MAX_CONFIGS];
        int n = 0;
        if (tj_gemm_config_candidates(arch, sms, sh[0], sh[1], sh[2], dt, c, TJ_GEMM_MAX_CONFIGS,
                                      &n) != TJ_OK)
            return cli_fail("tune", "%s", tj_last_error());
        printf("%lldx%lldx%lld, the model for %s with %d SMs (best first):\n", (long long)sh[0],
               (long long)sh[1], (long long)sh[2], arch, sms);
        printf("  %-12s %5s %7s\n", "tile", "split", "model");
        for (int i = 0; i < n; i++) {
            print_cfg(&c[i]);
            printf("\n");
        }
    }
    return CLI_OK;
}

static void progress(const tj_gemm_config *c, double median_us, double tflops, void *user) {
    (void)user;
    print_cfg(c);
    printf(" %10.2f %9.1f\n", median_us, tflops);
    fflush(stdout);
}

int cli_tune(int argc, char **argv) {
    tune_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    char canon[512];
    tj_dtype dt;
    if (gemm_params_canonical(a.nparams, a.params, canon, sizeof canon, &dt, NULL) != TJ_OK)
        return cli_usage("tune", "%s", tj_last_error());
    if (a.model_only) return model_only(&a, dt);
    const char *why = NULL;
    if (!drv_available(&why))
        return cli_fail("tune", "needs a CUDA GPU to time the candidates on (%s); `tilejit tune "
                        "gemm ... --model` prints the model's choice without one",
                        why ? why : "no device");
    for (int s = 0; s < a.nshapes; s++) {
        const int64_t *sh = a.shapes[s];
        gemm_tune_request req = {a.nparams, a.params, sh[0], sh[1], sh[2], (int)a.top,
                                 (int)a.reps, a.dir, a.store, a.seed, progress, NULL};
        printf("%lldx%lldx%lld (%s), each candidate's median of %d runs:\n", (long long)sh[0],
               (long long)sh[1], (long long)sh[2], canon, a.reps ? (int)a.reps : 50);
        printf("  %-12s %5s %7s %10s %9s\n", "tile", "split", "model", "median us", "TFLOP/s");
        fflush(stdout);
        gemm_tune_result r;
        tj_status st = gemm_tune_shape(&req, &r);
        if (st != TJ_OK) return cli_fail("tune", "%s", tj_last_error());
        const tj_gemm_config *b = &r.best.cfg;
        printf("  on %s (%s, %d SMs): fastest %dx%dx%d split %d, %.1f TFLOP/s (the model's pick "
               "%dx%dx%d: %.1f); checked against the interpreter (error %.1e)\n",
               r.device, r.arch, r.sm_count, b->bm, b->bn, b->bk, b->split, r.best.tflops,
               r.model.bm, r.model.bn, r.model.bk, r.model_tflops, r.max_err);
        if (a.store) printf("  stored: tuning record %.16s\n", r.key);
        fflush(stdout);
    }
    return CLI_OK;
}
