/*
 * membound.c — memory-bound recipes (issue 6): softmax, RMSNorm and
 * LayerNorm over bf16 rows of several widths, 512 MiB per input, launched
 * through the public runtime (tj_kernel_launch: what users run), next to
 * the device-to-device copy bandwidth measured in the same process and
 * torch's op (bench/membound_torch.py, run just before in the same device
 * call, its JSON lines read with --torch).
 *
 *   bench_membound [--quick] [--json FILE] [--torch FILE] [--commit SHA]
 *                  [--variants LIST] [--only OP] [--cols LIST] [--no-stage] [--exact-exp]
 *                  [--no-shift]
 *
 * --variants measures each case in every listed launch variant of the
 * `rows` schedule (rows.h's rows_forced hook), comma-separated:
 * `auto` (the model), `plain`, `persist`, `cluster`, `stage`, `twopass`
 * (`:eN`: a group's elements a thread, `:mbN` blocks an SM, `:rev` pass 2
 * from the last group, `:ring` staged in shared memory, else kept in
 * L2), each optionally
 * followed by `:eN` (N elements of a row a thread), `:mbN` (persistent
 * blocks an SM), `:late` / `:hoist` (a weight row reloaded each program
 * or held), `:f32` / `:raw` (rows held converted to f32 or as loaded),
 * `:l1` (L1 policies on the loads), and for `stage` `:clN` (a cluster of
 * N blocks a row), `:nbN` (N buffers), `:l2` (bulk copies L2 evict-first);
 * a variant whose kernel equals an earlier one of the case is
 * skipped, and JSON lines get a "variant" field. --only restricts the
 * ops (softmax, rmsnorm, layernorm), --cols the widths (comma-separated;
 * 65536 is measured for every op only when named). --no-stage keeps
 * the model off the staged walk for wide norms (rows_stage_auto = 0, to
 * compare with the register walks); --exact-exp clears rows_fast_exp
 * (exp(v - r) by ex2.approx where the outputs are 16-bit: the default)
 * for expf; --no-shift clears rows_shift_auto (ragged widths' rows
 * moved element by element instead of shifted: rows.h).
 *
 * Figures are bytes read + written per second (x in, y out; the weights
 * are a row and not counted). Timing: CUDA events, 3 warm-up runs, the
 * median of 20 (5 with --quick). Each case also checks its first rows
 * against the CPU interpreter (max_rel_err in the JSON).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "ir.h"
#include "rows.h"

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", tj_last_error()); exit(1); } while (0)

static const size_t INPUT_BYTES = (size_t)512 << 20;

#define BENCH_RAND_SCALE 2.0
#include "bench_util.h"

typedef struct copy_case { drv_ptr src, dst; size_t bytes; } copy_case;
static void copy_run(void *ctx) {
    copy_case *c = ctx;
    if (drv_memcpy_dtod(c->dst, c->src, c->bytes) != TJ_OK) DIE("copy");
}

typedef struct rcase {
    tj_graph *g;
    tj_kernel *k;
    int64_t vals[4];
    uint64_t ptrs[4];
    double scalars[2];
    int nt;
} rcase;

static void rcase_run(void *ctx) {
    rcase *c = ctx;
    if (tj_kernel_launch(c->k, c->ptrs, c->scalars, c->vals, NULL) != TJ_OK) DIE("launch");
}

/* The first `rows` rows on the CPU interpreter against the kernel's:
 * max |got - want| / (|want| + mean|want|). */
static double check_rows(rcase *c, int64_t cols, int64_t rows) {
    int64_t vals[4];
    memcpy(vals, c->vals, sizeof vals);
    vals[0] = rows; /* symbol 0 is rows in the row recipes */
    void *host[4] = {0}, *got = NULL;
    size_t es = 2;
    for (int t = 0; t < c->nt; t++) {
        int64_t n;
        tj_tensor_extent(c->g, (tj_tensor){t}, vals, &n);
        host[t] = malloc((size_t)n * es);
        drv_memcpy_dtoh(host[t], c->ptrs[t], (size_t)n * es);
    }
    int y = c->nt - 1; /* the output is the last tensor */
    size_t n = (size_t)(rows * cols);
    got = malloc(n * es);
    memcpy(got, host[y], n * es);
    if (tj_interp_run(c->g, vals, host, c->scalars, 0) != TJ_OK) DIE("interp");
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 0;
        tj_convert(TJ_F64, &w, TJ_BF16, (char *)host[y] + i * es, 1);
        scale += fabs(w) / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        double a = 0, w = 0;
        tj_convert(TJ_F64, &a, TJ_BF16, (char *)got + i * es, 1);
        tj_convert(TJ_F64, &w, TJ_BF16, (char *)host[y] + i * es, 1);
        double e = fabs(a - w) / (fabs(w) + scale);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    for (int t = 0; t < c->nt; t++) free(host[t]);
    free(got);
    return worst;
}

/* ---- output ----------------------------------------------------------- */

static FILE *json;
static const char *commit = "unknown";
static char devname[256];

static const char *variant; /* NULL: the model, no "variant" field */

static void emit(const char *cas, double ours, const char *peer, double peer_value, double err,
                 const char *note) {
    double ratio = peer_value > 0 ? ours / peer_value : 0;
    printf("%-22s %-18s %8.1f GB/s  %-6s %8.1f  ratio %.3f  err %.1e %s\n", cas,
           variant ? variant : "", ours, peer, peer_value, ratio, err, note);
    if (!json) return;
    time_t now = time(NULL);
    char date[16];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    fprintf(json,
            "{\"case\": \"%s\", \"ours\": %.1f, \"peer\": \"%s\", \"peer_value\": %.1f, "
            "\"ratio\": %.4f, \"unit\": \"GB/s\", \"max_rel_err\": %.2e, \"path\": \"%s\", "
            "%s%s%s\"device\": \"%s\", \"date\": \"%s\", \"commit\": \"%s\"}\n",
            cas, ours, peer, peer_value, ratio, err, note, variant ? "\"variant\": \"" : "",
            variant ? variant : "", variant ? "\", " : "", devname, date, commit);
}

/* g under the name <name>_v<vi>: the runtime's kernel cache keys a
 * kernel by graph, bindings, schedule and arch, not by the launch
 * variant the hook forces, so each variant needs a graph of its own. */
static tj_graph *renamed(tj_graph *g, int vi) {
    char *text = NULL, name[64];
    if (tj_graph_print(g, &text) != TJ_OK) DIE("print");
    snprintf(name, sizeof name, "graph %s\n", tj_graph_name(g));
    char *at = strstr(text, name);
    if (!at) DIE("graph name");
    size_t len = strlen(text) + 16;
    char *out = malloc(len);
    snprintf(out, len, "%.*sgraph %s_v%d\n%s", (int)(at - text), text, tj_graph_name(g), vi,
             at + strlen(name));
    tj_graph *h = NULL;
    if (tj_graph_parse(out, strlen(out), "variant", &h) != TJ_OK) DIE("parse");
    free(out);
    tj_free(text);
    tj_graph_free(g);
    return h;
}

/* A --variants entry into the hook; 0 when malformed. */
static int parse_variant(const char *v, rows_force *f) {
    memset(f, 0, sizeof *f);
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *t = strtok(buf, ":"); t; t = strtok(NULL, ":")) {
        if (!strcmp(t, "auto")) f->mode = ROWS_AUTO;
        else if (!strcmp(t, "plain")) f->mode = ROWS_PLAIN;
        else if (!strcmp(t, "persist")) f->mode = ROWS_PERSIST;
        else if (!strcmp(t, "cluster")) f->mode = ROWS_CLUSTER;
        else if (!strcmp(t, "stage")) f->mode = ROWS_STAGE;
        else if (!strcmp(t, "twopass")) f->mode = ROWS_TWOPASS;
        else if (!strcmp(t, "rev")) f->rev = 1;
        else if (!strcmp(t, "ring")) f->ring = 1;
        else if (!strcmp(t, "l2")) f->l2 = 1;
        else if (!strncmp(t, "cl", 2) && atoi(t + 2) > 0) f->cl = atoi(t + 2);
        else if (!strncmp(t, "nb", 2) && atoi(t + 2) > 0) f->nb = atoi(t + 2);
        else if (!strcmp(t, "late")) f->late = 1;
        else if (!strcmp(t, "hoist")) f->late = 2;
        else if (!strcmp(t, "f32")) f->hold = 1;
        else if (!strcmp(t, "raw")) f->hold = 2;
        else if (!strcmp(t, "l1")) f->l1 = 1;
        else if (t[0] == 'e' && atoi(t + 1) > 0) f->elems = atoi(t + 1);
        else if (!strncmp(t, "mb", 2) && atoi(t + 2) > 0) f->minblocks = atoi(t + 2);
        else return 0;
    }
    return 1;
}

/* The number after `key` in the kernel's header comment, 0 if absent. */
static int header_int(const char *src, const char *key) {
    const char *end = src ? strstr(src, "#include") : NULL, *q = src ? strstr(src, key) : NULL;
    return q && (!end || q < end) ? atoi(q + strlen(key)) : 0;
}

/* The launch shape, from the kernel's header comment (rows_emit.c). */
static void plan_note(const char *src, const char *sched, char *note, size_t size) {
    int tr = header_int(src, "width "), cl = header_int(src, "// a cluster of ");
    const char *h = src ? strstr(src, "width ") : NULL;
    if (h) h = strchr(h, ',');
    tr = h ? atoi(h + 2) : 0;
    int c = header_int(src, " a row, "), pp = header_int(src, " a program, ");
    int mb = header_int(src, "// persistent: "), sb = header_int(src, "// staged: ");
    int late = src && strstr(src, "weight rows reloaded") != NULL;
    int ng = header_int(src, "// two-pass: "), ngs = header_int(src, "// two-pass staged: ");
    if (!h) snprintf(note, size, "%s", sched);
    else if (ng) snprintf(note, size, "%s TR=%d C=%d two-pass NG=%d", sched, tr, c, ng);
    else if (ngs) snprintf(note, size, "%s TR=%d C=%d two-pass staged NG=%d NB=%d", sched, tr, c,
                           ngs, header_int(src, "into a ring of "));
    else if (sb) snprintf(note, size, "%s TR=%d C=%d CL=%d staged mb=%d nb=%d%s", sched, tr, c,
                          cl ? cl : 1, sb, header_int(src, "rows copied into "), late ? " late" : "");
    else if (cl) snprintf(note, size, "%s TR=%d C=%d CL=%d", sched, tr, c, cl);
    else if (mb) snprintf(note, size, "%s TR=%d C=%d P=%d persist mb=%d%s", sched, tr, c, pp, mb,
                          late ? " late" : "");
    else snprintf(note, size, "%s TR=%d C=%d P=%d", sched, tr, c, pp);
}

/* torch's GB/s for `cas` from membound_torch.py's lines, 0 if absent. */
static double torch_value(const char *path, const char *cas) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 0;
    char line[512], key[128];
    snprintf(key, sizeof key, "\"case\": \"%s\"", cas);
    double v = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key), *q = strstr(line, "\"gbs\": ");
        if (p && q) v = atof(q + 7);
    }
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int quick = 0;
    const char *torch = NULL, *variants = NULL, *only = NULL, *colsarg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = fopen(argv[++i], "w");
        else if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
        else if (!strcmp(argv[i], "--variants") && i + 1 < argc) variants = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc) colsarg = argv[++i];
        else if (!strcmp(argv[i], "--no-stage")) rows_stage_auto = 0;
        else if (!strcmp(argv[i], "--exact-exp")) rows_fast_exp = 0;
        else if (!strcmp(argv[i], "--no-shift")) rows_shift_auto = 0;
    }
    enum { MAX_VARIANTS = 32 };
    char vnames[MAX_VARIANTS][32];
    rows_force vforce[MAX_VARIANTS];
    int nvariants = 1;
    vforce[0] = (rows_force){0};
    if (variants) {
        nvariants = 0;
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", variants);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && nvariants < MAX_VARIANTS;
             t = strtok_r(NULL, ",", &save)) {
            snprintf(vnames[nvariants], sizeof vnames[0], "%s", t);
            if (!parse_variant(t, &vforce[nvariants])) {
                fprintf(stderr, "bench_membound: bad variant \"%s\"\n", t);
                return 2;
            }
            nvariants++;
        }
    }
    const char *why = NULL;
    if (!drv_available(&why)) {
        printf("no GPU: %s\n", why ? why : "");
        return 0;
    }
    drv_device dev;
    drv_device_info(0, &dev);
    snprintf(devname, sizeof devname, "%s", dev.name);
    printf("device %s (%s), %d SMs\n", dev.name, dev.arch, dev.sm_count);
    int reps = quick ? 5 : 20;

    size_t nelem = INPUT_BYTES / 2;
    drv_ptr x = device_random(TJ_BF16, nelem), y;
    if (drv_mem_alloc(INPUT_BYTES, &y) != TJ_OK) DIE("alloc");
    copy_case cp = {x, y, INPUT_BYTES};
    double copy_gbs = 2.0 * (double)INPUT_BYTES / (time_median(copy_run, &cp, reps) * 1e-3) / 1e9;
    printf("%-22s %8.1f GB/s\n", "device copy", copy_gbs);

    static const char *const names[3] = {"softmax", "rmsnorm", "layernorm"};
    int64_t widths[16] = {128, 1024, 4096, 8192, 16384, 32768, 65536};
    size_t nwidths = 7;
    if (colsarg) {
        nwidths = 0;
        for (const char *q = colsarg; *q && nwidths < 16; q = strchr(q, ',') ? strchr(q, ',') + 1 : "")
            widths[nwidths++] = atoll(q);
    }
    for (int r = 0; r < 3; r++) {
        if (only && !strstr(only, names[r])) continue;
        for (size_t w = 0; w < nwidths; w++) {
            int64_t cols = widths[w];
            if (cols <= 0 || (size_t)cols > nelem) continue;
            if (cols == 65536 && r != 0 && !colsarg) continue;
            char *seen[MAX_VARIANTS] = {0};
            for (int vi = 0; vi < nvariants; vi++) {
                variant = variants ? vnames[vi] : NULL;
                rows_forced = vforce[vi];
                rcase c;
                memset(&c, 0, sizeof c);
                if (tj_recipe_build(names[r], 0, NULL, &c.g) != TJ_OK) DIE("recipe %s", names[r]);
                if (variants) c.g = renamed(c.g, vi);
                c.vals[0] = (int64_t)nelem / cols;
                c.vals[1] = cols;
                char *src = NULL;
                tj_emit_cuda(c.g, dev.arch, c.vals, &src);
                int dup = 0;
                for (int k = 0; k < vi && src; k++) dup |= seen[k] && !strcmp(seen[k], src);
                seen[vi] = src;
                if (dup) {
                    tj_graph_free(c.g);
                    continue;
                }
                tj_kernel_options o = {NULL, 0, ""};
                if (tj_kernel_create(c.g, &o, &c.k) != TJ_OK) {
                    /* a forced variant that cannot be built: say so, measure the rest */
                    printf("%s %lld %s: kernel: %s\n", names[r], (long long)cols,
                           variant ? variant : "", tj_last_error());
                    tj_graph_free(c.g);
                    continue;
                }
                c.nt = tj_num_tensors(c.g);
                drv_ptr extra[2] = {0, 0};
                c.ptrs[0] = x;
                for (int t = 1; t < c.nt - 1; t++) extra[t - 1] = device_random(TJ_BF16, (size_t)cols);
                for (int t = 1; t < c.nt - 1; t++) c.ptrs[t] = extra[t - 1];
                c.ptrs[c.nt - 1] = y;
                c.scalars[0] = 1e-5;
                char sched[32] = "?";
                if (src && !strncmp(src, "// schedule: ", 13)) sscanf(src + 13, "%31[a-z0-9_]", sched);
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                /* the compile; a variant whose launch fails is reported and skipped */
                if (tj_kernel_launch(c.k, c.ptrs, c.scalars, c.vals, NULL) != TJ_OK ||
                    drv_context_sync() != TJ_OK) {
                    printf("%s %lld %s: launch: %s\n", names[r], (long long)cols,
                           variant ? variant : "", tj_last_error());
                    for (int t = 0; t < 2; t++) drv_mem_free(extra[t]);
                    tj_kernel_destroy(c.k);
                    tj_graph_free(c.g);
                    continue;
                }
                clock_gettime(CLOCK_MONOTONIC, &t1);
                double first_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
                float ms = time_median(rcase_run, &c, reps);
                double gbs = 2.0 * (double)INPUT_BYTES / (ms * 1e-3) / 1e9;
                double err = check_rows(&c, cols, 4);
                char cas[64], note[96];
                snprintf(cas, sizeof cas, "%s bf16 %lldx%lld", names[r], (long long)c.vals[0],
                         (long long)cols);
                plan_note(src, sched, note, sizeof note);
                emit(cas, gbs, "copy", copy_gbs, err, note);
                double tv = torch_value(torch, cas);
                if (tv > 0) emit(cas, gbs, "torch", tv, err, note);
                if (!variants) printf("%22s first launch (compile) %.0f ms\n", "", first_ms);
                for (int t = 0; t < 2; t++) drv_mem_free(extra[t]);
                tj_kernel_destroy(c.k);
                tj_graph_free(c.g);
            }
            for (int vi = 0; vi < nvariants; vi++) tj_free(seen[vi]);
            fflush(stdout);
            if (json) fflush(json);
        }
    }
    rows_forced = (rows_force){0};
    drv_mem_free(x);
    drv_mem_free(y);
    if (json) fclose(json);
    return 0;
}
