/*
 * launch.c — the runtime's costs (issue 4), each next to its peer in the
 * same run:
 *
 *  - hot path: tj_kernel_launch of a tiny kernel vs a raw launch
 *    (drv_launch, i.e. cuLaunchKernel with prebuilt parameters) of the
 *    same cubin on the same stream: median host time per launch over
 *    batches of launches, the two interleaved (target: <= 1.15x);
 *  - warm start: a new process whose kernel is in the disk cache, and one
 *    served from a bundle with TILEJIT_NO_COMPILE=1 (NVRTC must never be
 *    loaded: checked with dl_iterate_phdr). Reported as the time from
 *    kernel creation to the first launch done (tilejit's part, target
 *    <= 5 ms) and from the spawn to the first launch done (the process's,
 *    CUDA's initialization included);
 *  - cold compile per recipe (gemm, attention, rmsnorm): the first launch
 *    of a new kernel with an empty cache, and the NVRTC time in it
 *    (target < 300 ms); then the same with TJ_KERNEL_TIERED (the generic
 *    lowering first; `_tiered` cases, with when the fast kernel took
 *    over). Without a GPU only the compile is measured.
 *
 *   bench_launch [--quick] [--json-dir DIR] [--commit SHA]
 *
 * Prints one row per case; with --json-dir writes DIR/launch.jsonl and
 * DIR/jit.jsonl (format in shared/GPU.md).
 */
#include <link.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "compile.h"
#include "driver.h"
#include "ir.h"

extern char **environ;

#define DIE(...)                                                   \
    do {                                                           \
        fprintf(stderr, __VA_ARGS__);                              \
        fprintf(stderr, ": %s\n", tj_last_error());                \
        exit(1);                                                   \
    } while (0)

static int quick;
static const char *commit = "unknown";
static char devname[256] = "none";
static FILE *launch_json, *jit_json;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n ? v[n / 2] : 0;
}

/* One JSON line; `extra` is more "key": value pairs (or ""). */
static void json_row(FILE *f, const char *cas, double ours, const char *peer, double peer_value,
                     double ratio, const char *unit, const char *extra) {
    printf("%-32s %10.3f %-3s  %-16s %10.3f  ratio %.3f\n", cas, ours, unit, peer, peer_value,
           ratio);
    if (!f) return;
    time_t now = time(NULL);
    char date[16];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    fprintf(f,
            "{\"case\": \"%s\", \"ours\": %.4f, \"peer\": \"%s\", \"peer_value\": %.4f, "
            "\"ratio\": %.4f, \"unit\": \"%s\"%s%s, \"device\": \"%s\", \"date\": \"%s\", "
            "\"commit\": \"%s\"}\n",
            cas, ours, peer, peer_value, ratio, unit, *extra ? ", " : "", extra, devname, date,
            commit);
    fflush(f);
}

/* y = x * alpha + 1 over n elements, 128 a program: the tiny kernel. */
static tj_graph *tiny_graph(void) {
    tj_graph *g = NULL;
    if (tj_graph_new("bench_tiny", &g) != TJ_OK) DIE("tj_graph_new");
    tj_sym n = tj_symbol(g, "n", TJ_EXACT, 0, 1);
    tj_dim d[1] = {tj_dim_sym(n)}, tile[1] = {128};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, d, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, d, NULL);
    tj_val alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_val pid = tj_program_id(g, 0);
    tj_val v = tj_load(g, x, &pid, 1, tile, NULL, 0, 0);
    tj_store(g, y, &pid, tj_add(g, tj_mul(g, v, alpha), tj_const(g, TJ_F32, 1)), NULL, 0);
    tj_val grid[1] = {tj_binary(g, TJ_CDIV, tj_symval(g, n), tj_const(g, TJ_I32, 128))};
    tj_set_grid(g, 1, grid);
    if (tj_graph_verify(g) != TJ_OK) DIE("tiny graph");
    return g;
}

#define TINY_N 4096

static int nvrtc_seen;
static int find_nvrtc(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (info->dlpi_name && strstr(info->dlpi_name, "libnvrtc")) nvrtc_seen = 1;
    return 0;
}

static int nvrtc_loaded(void) {
    nvrtc_seen = 0;
    dl_iterate_phdr(find_nvrtc, NULL);
    return nvrtc_seen;
}

/* ---- a child process: a warm start ----------------------------------------- */

static int child(const char *t0s, const char *dir) {
    double t_main = now_ms(), t_spawn = atof(t0s);
    drv_ptr x, y;
    if (drv_context_current(0, NULL) != TJ_OK || drv_mem_alloc(TINY_N * 4, &x) != TJ_OK ||
        drv_mem_alloc(TINY_N * 4, &y) != TJ_OK || drv_memset_d32(x, 0x3f800000u, TINY_N) != TJ_OK)
        DIE("child: device setup");
    tj_graph *g = tiny_graph();
    double t_ready = now_ms();
    tj_kernel_options o = {NULL, 0, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) DIE("child: tj_kernel_create");
    uint64_t t[2] = {x, y};
    double alpha = 2.0;
    int64_t n = TINY_N;
    if (tj_kernel_launch(k, t, &alpha, &n, NULL) != TJ_OK || drv_context_sync() != TJ_OK)
        DIE("child: launch");
    double t_done = now_ms();
    float out[4];
    if (drv_memcpy_dtoh(out, y, sizeof out) != TJ_OK || out[0] != 3.0f) DIE("child: wrong result");
    tj_kernel_stats s;
    tj_kernel_stats_get(k, &s);
    printf("CHILD %.4f %.4f %llu %llu %llu %d\n", t_done - t_spawn, t_done - t_ready,
           (unsigned long long)s.disk_hits, (unsigned long long)s.bundle_hits,
           (unsigned long long)s.compiles, nvrtc_loaded());
    (void)t_main;
    tj_kernel_destroy(k);
    tj_graph_free(g);
    drv_mem_free(x);
    drv_mem_free(y);
    return 0;
}

typedef struct child_result {
    double process_ms, tilejit_ms;
    unsigned long long disk_hits, bundle_hits, compiles;
    int nvrtc;
} child_result;

static int spawn_child(const char *self, const char *dir, child_result *r) {
    int fds[2];
    if (pipe(fds) != 0) return 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char t0[64];
    snprintf(t0, sizeof t0, "%.6f", now_ms());
    char *argv[] = {(char *)self, "--child", t0, (char *)dir, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return 0;
    }
    char buf[512] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const char *line = strstr(buf, "CHILD ");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && line &&
           sscanf(line, "CHILD %lf %lf %llu %llu %llu %d", &r->process_ms, &r->tilejit_ms,
                  &r->disk_hits, &r->bundle_hits, &r->compiles, &r->nvrtc) == 6;
}

/* Median of `reps` children; fails loudly when a child does. */
static child_result warm_runs(const char *self, const char *dir, int reps) {
    double p[16], t[16];
    child_result r = {0}, last = {0};
    for (int i = 0; i < reps; i++) {
        if (!spawn_child(self, dir, &last)) DIE("warm start child failed");
        p[i] = last.process_ms;
        t[i] = last.tilejit_ms;
        r.nvrtc |= last.nvrtc;
    }
    r.process_ms = median(p, reps);
    r.tilejit_ms = median(t, reps);
    r.disk_hits = last.disk_hits;
    r.bundle_hits = last.bundle_hits;
    r.compiles = last.compiles;
    return r;
}

/* ---- the hot path --------------------------------------------------------------- */

static void hot_path(const char *self, const char *dir, const char *arch) {
    tj_graph *g = tiny_graph();
    tj_kernel_options o = {NULL, 0, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) DIE("tj_kernel_create");
    void *stream = NULL;
    drv_ptr x, y;
    if (drv_stream_create(&stream) != TJ_OK || drv_mem_alloc(TINY_N * 4, &x) != TJ_OK ||
        drv_mem_alloc(TINY_N * 4, &y) != TJ_OK || drv_memset_d32(x, 0x3f800000u, TINY_N) != TJ_OK)
        DIE("device setup");
    uint64_t t[2] = {x, y};
    double alpha = 2.0;
    int64_t n = TINY_N;
    double c0 = now_ms();
    if (tj_kernel_launch(k, t, &alpha, &n, stream) != TJ_OK || drv_stream_sync(stream) != TJ_OK)
        DIE("first launch");
    double first_ms = now_ms() - c0;
    float out[TINY_N];
    if (drv_memcpy_dtoh(out, y, sizeof out) != TJ_OK) DIE("download");
    for (int i = 0; i < TINY_N; i++)
        if (out[i] != 3.0f) DIE("tiny kernel: y[%d] = %g, want 3", i, out[i]);

    /* The same cubin, from the cache the kernel just filled, launched raw. */
    cache_key key;
    cache_dir *cd = NULL;
    void *cubin = NULL;
    size_t size = 0;
    if (cache_key_for_compile(g, NULL, &n, arch, NULL, &key) != TJ_OK ||
        cache_dir_open(dir, &cd) != TJ_OK || cache_get(cd, &key, &cubin, &size) != TJ_OK)
        DIE("the tiny kernel's cubin is not in %s", dir);
    int64_t spec[1];
    cache_specialize(g, &n, spec);
    /* The launch the kernel makes: the schedule emit_kernel picks (the
     * cubin in the cache is that one), its grid mode and parameters. */
    emit_launch L;
    char *src = NULL;
    if (emit_kernel(g, arch, spec, NULL, &src, &L) != TJ_OK) DIE("emit");
    free(src);
    drv_library *lib = NULL;
    drv_kernel *raw = NULL;
    if (drv_library_load(cubin, size, &lib) != TJ_OK ||
        drv_library_get_kernel(lib, L.kernel, &raw) != TJ_OK)
        DIE("raw load");
    float falpha = 2.0f;
    int64_t g64[3];
    if (tj_graph_grid(g, &n, g64) != TJ_OK) DIE("grid");
    int32_t g32[3] = {(int32_t)g64[0], (int32_t)g64[1], (int32_t)g64[2]};
    void *params[EMIT_MAX_PARAMS];
    for (int p = 0; p < L.nparams; p++) {
        const emit_param *q = &L.params[p];
        if (q->kind == EMIT_PARAM_SCALAR) params[p] = &falpha;
        else if (q->kind == EMIT_PARAM_TENSOR) params[p] = &t[q->index];
        else if (q->kind == EMIT_PARAM_GRID) params[p] = &g32[q->index];
        else DIE("the tiny kernel takes a parameter of kind %d", (int)q->kind);
    }
    /* The grid the runtime computes for the schedule's mode (emit.h). */
    unsigned grid[3] = {(unsigned)g64[0], (unsigned)g64[1], (unsigned)g64[2]};
    unsigned cluster[3];
    for (int i = 0; i < 3; i++) cluster[i] = L.cluster[i] ? L.cluster[i] : 1;
    if (L.grid_mode == EMIT_GRID_DIV) {
        grid[0] = (grid[0] + (unsigned)L.grid_arg - 1) / (unsigned)L.grid_arg;
    } else if (L.grid_mode == EMIT_GRID_MUL) {
        grid[0] *= (unsigned)L.grid_arg;
    } else if (L.grid_mode == EMIT_GRID_PERSISTENT) {
        drv_device dev;
        if (drv_device_info(0, &dev) != TJ_OK) DIE("device");
        uint64_t total = (uint64_t)g64[0] * (uint64_t)g64[1] * (uint64_t)g64[2];
        uint64_t most = (uint64_t)dev.sm_count * (uint64_t)L.grid_arg;
        uint64_t b = total < most ? total : most;
        b = b >= cluster[0] ? b - b % cluster[0] : cluster[0];
        grid[0] = (unsigned)b, grid[1] = grid[2] = 1;
    } else if (L.grid_mode != EMIT_GRID_GRAPH) {
        DIE("the tiny kernel's grid mode is %d", L.grid_mode);
    }
    /* as the runtime: a plain cuLaunchKernel unless there is a cluster */
    const unsigned *cl = cluster[0] * cluster[1] * cluster[2] > 1 ? cluster : NULL;
    unsigned block[3] = {(unsigned)L.threads, 1, 1};
    printf("  the tiny kernel: schedule %s, grid %ux%ux%u, block %u\n", L.schedule, grid[0],
           grid[1], grid[2], block[0]);

    const int B = 64, R = quick ? 100 : 400;
    for (int i = 0; i < 2000; i++) {
        if (tj_kernel_launch(k, t, &alpha, &n, stream) != TJ_OK) DIE("warm-up");
        if (drv_launch(raw, grid, block, (unsigned)L.smem_bytes, cl, stream, params) != TJ_OK)
            DIE("raw warm-up");
        if (i % 64 == 63) drv_stream_sync(stream);
    }
    drv_stream_sync(stream);
    double *ours = malloc(sizeof(double) * (size_t)R), *peer = malloc(sizeof(double) * (size_t)R);
    for (int r = 0; r < R; r++) {
        for (int which = 0; which < 2; which++) {
            int tj = (which + r) % 2 == 0;   /* alternate who goes first */
            double t0 = now_ms();
            for (int i = 0; i < B; i++) {
                tj_status st = tj ? tj_kernel_launch(k, t, &alpha, &n, stream)
                                  : drv_launch(raw, grid, block, (unsigned)L.smem_bytes, cl,
                                               stream, params);
                if (st != TJ_OK) DIE("launch");
            }
            double us = (now_ms() - t0) * 1e3 / B;
            (tj ? ours : peer)[r] = us;
            drv_stream_sync(stream);
        }
    }
    double mo = median(ours, R), mp = median(peer, R);
    char extra[160];
    snprintf(extra, sizeof extra, "\"overhead_us\": %.4f, \"target_ratio\": 0.87", mo - mp);
    json_row(launch_json, "hot_path_tiny", mo, "cuLaunchKernel", mp, mp / mo, "us", extra);
    printf("  first launch of the tiny kernel (compile included): %.1f ms\n", first_ms);
    free(ours);
    free(peer);

    /* Warm starts: from the disk cache; from a bundle, never compiling. */
    int reps = quick ? 3 : 7;
    child_result d = warm_runs(self, dir, reps);
    if (d.disk_hits != 1 || d.compiles != 0) DIE("warm start did not hit the disk cache");
    snprintf(extra, sizeof extra, "\"process_ms\": %.3f, \"nvrtc_loaded\": %s", d.process_ms,
             d.nvrtc ? "true" : "false");
    json_row(launch_json, "warm_start_disk", d.tilejit_ms, "target", 5.0, 5.0 / d.tilejit_ms,
             "ms", extra);
    printf("  spawn to first launch done (CUDA init included): %.1f ms\n", d.process_ms);

    char bundle[512], empty[512];
    snprintf(bundle, sizeof bundle, "%s/tiny.bundle", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    cache_bundle_writer *w = NULL;
    if (cache_bundle_writer_open(bundle, &w) != TJ_OK ||
        cache_bundle_writer_add(w, &key, cubin, size) != TJ_OK ||
        cache_bundle_writer_close(w) != TJ_OK)
        DIE("bundle");
    setenv("TILEJIT_NO_COMPILE", "1", 1);
    setenv("TILEJIT_BUNDLES", bundle, 1);
    child_result b = warm_runs(self, empty, reps);
    unsetenv("TILEJIT_NO_COMPILE");
    unsetenv("TILEJIT_BUNDLES");
    if (b.bundle_hits != 1 || b.compiles != 0) DIE("bundle warm start did not hit the bundle");
    snprintf(extra, sizeof extra, "\"process_ms\": %.3f, \"nvrtc_loaded\": %s", b.process_ms,
             b.nvrtc ? "true" : "false");
    json_row(launch_json, "warm_start_bundle_no_compile", b.tilejit_ms, "target", 5.0,
             5.0 / b.tilejit_ms, "ms", extra);
    printf("  NVRTC loaded in the no-compile process: %s\n", b.nvrtc ? "YES (wrong)" : "no");

    free(cubin);
    cache_key_free(&key);
    cache_dir_close(cd);
    drv_library_unload(lib);
    tj_kernel_destroy(k);
    drv_mem_free(x);
    drv_mem_free(y);
    drv_stream_destroy(stream);
    tj_graph_free(g);
}

/* ---- cold compiles ------------------------------------------------------------------ */

static tj_graph *cold_graph(const char *name, int64_t *vals) {
    tj_graph *g = NULL;
    if (tj_recipe_build(name, 0, NULL, &g) != TJ_OK) DIE("recipe %s", name);
    for (int s = 0; s < tj_num_symbols(g); s++) {
        const char *sn = tj_symbol_name(g, (tj_sym){s});
        vals[s] = !strcmp(sn, "batch") ? 1 : !strcmp(sn, "rows") ? 1024 : 1024;
        if (!strcmp(sn, "cols")) vals[s] = 4096;
    }
    return g;
}

/* One cold first launch (or without a GPU, the compile(s) it makes).
 * Tiered: the dispatcher's pick is emitted, then the generic lowering
 * compiled; *ready_ms is when the fast kernel replaced it (GPU only). */
static void cold_once(const char *name, tj_graph *g, const int64_t *vals, const char *root,
                      const char *arch, int gpu, int tiered, int i, double *wall, double *nv,
                      double *ready_ms) {
    *ready_ms = 0;
    if (!gpu) {
        /* No device: the compile alone. */
        int64_t spec[16];
        cache_specialize(g, vals, spec);
        void *cubin = NULL;
        size_t size = 0;
        char *log = NULL, *src = NULL;
        emit_launch pick;
        double t0 = now_ms();
        if (tiered && emit_kernel(g, arch, spec, NULL, &src, &pick) != TJ_OK)
            DIE("emit %s", name);
        if (compile_graph_as(g, arch, spec, tiered ? "generic" : NULL, 0, &cubin, &size, &log,
                             NULL) != TJ_OK)
            DIE("compile %s", name);
        *wall = *nv = now_ms() - t0;
        free(src);
        free(cubin);
        free(log);
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cold_%s_%s%d", root, name, tiered ? "tiered_" : "", i);
    tj_kernel_options o = {NULL, tiered ? TJ_KERNEL_TIERED : 0, dir};
    tj_kernel *k = NULL;
    if (tj_kernel_create(g, &o, &k) != TJ_OK) DIE("create %s", name);
    uint64_t t[16];
    double sc[16];
    for (int a = 0; a < tj_num_tensors(g); a++) {
        int64_t n = 0;
        drv_ptr p = 0;
        if (tj_tensor_extent(g, (tj_tensor){a}, vals, &n) != TJ_OK ||
            drv_mem_alloc((size_t)n * tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){a})), &p) !=
                TJ_OK)
            DIE("alloc");
        t[a] = p;
    }
    for (int a = 0; a < tj_num_scalars(g); a++) sc[a] = 0.5;
    double t0 = now_ms();
    if (tj_kernel_launch(k, t, sc, vals, NULL) != TJ_OK || drv_context_sync() != TJ_OK)
        DIE("first launch of %s", name);
    *wall = now_ms() - t0;
    tj_kernel_stats s;
    tj_kernel_stats_get(k, &s);
    *nv = s.compile_seconds * 1e3;   /* tiered: tier 0's, unless the fast one beat it */
    if (tiered && s.tier0_launches) {
        /* Until the fast kernel is loaded, then one launch of it. */
        while (!s.tier_upgrades && now_ms() - t0 < 120e3) {
            usleep(500);
            tj_kernel_stats_get(k, &s);
        }
        *ready_ms = now_ms() - t0;
        if (!s.tier_upgrades || tj_kernel_launch(k, t, sc, vals, NULL) != TJ_OK ||
            drv_context_sync() != TJ_OK)
            DIE("the fast kernel of %s", name);
    }
    for (int a = 0; a < tj_num_tensors(g); a++) drv_mem_free(t[a]);
    tj_kernel_destroy(k);
}

static void cold_compiles(const char *root, const char *arch, int gpu) {
    static const char *const names[] = {"gemm", "attention", "rmsnorm"};
    int reps = quick ? 3 : 5;
    for (int r = 0; r < 3; r++) {
        int64_t vals[16];
        tj_graph *g = cold_graph(names[r], vals);
        /* Default (the fast schedule compiled before the first launch),
         * then tiered (the generic lowering first: TJ_KERNEL_TIERED). */
        for (int tiered = 0; tiered < 2; tiered++) {
            double wall[16], nv[16], ready[16];
            for (int i = 0; i < reps; i++)
                cold_once(names[r], g, vals, root, arch, gpu, tiered, i, &wall[i], &nv[i],
                          &ready[i]);
            double w = median(wall, reps), c = median(nv, reps);
            char cas[64], extra[256];
            snprintf(cas, sizeof cas, "cold_compile_%s%s", names[r], tiered ? "_tiered" : "");
            int n = snprintf(extra, sizeof extra, "\"compile_ms\": %.2f, \"what\": \"%s%s\"", c,
                             gpu ? "first launch, empty cache" : "compile only (no GPU)",
                             !tiered ? ""
                             : gpu  ? ", tiered: the generic lowering first"
                                    : ", tiered: the pick emitted, the generic lowering compiled");
            if (tiered && gpu)
                snprintf(extra + n, sizeof extra - (size_t)n, ", \"fast_ready_ms\": %.2f",
                         median(ready, reps));
            json_row(jit_json, cas, w, "target", 300.0, 300.0 / w, "ms", extra);
        }
        tj_graph_free(g);
    }
}

static int rm_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--child")) return child(argv[2], argv[3]);
    const char *json_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json-dir") && i + 1 < argc) json_dir = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
    }
    const char *why = NULL;
    int gpu = drv_available(&why);
    char arch[24] = "sm_90a";
    if (gpu) {
        drv_device dev;
        if (drv_device_info(0, &dev) != TJ_OK) DIE("device");
        snprintf(devname, sizeof devname, "%s", dev.name);
        snprintf(arch, sizeof arch, "%s", dev.arch);
    } else {
        printf("no GPU (%s): compile times only, for %s\n", why ? why : "", arch);
        snprintf(devname, sizeof devname, "none (compile only, %s)", arch);
    }
    if (json_dir) {
        char p[1024];
        snprintf(p, sizeof p, "%s/jit.jsonl", json_dir);
        if (!(jit_json = fopen(p, "w"))) DIE("open %s", p);
        if (gpu) {
            snprintf(p, sizeof p, "%s/launch.jsonl", json_dir);
            if (!(launch_json = fopen(p, "w"))) DIE("open %s", p);
        }
    }
    char root[] = "/tmp/tj_bench_launch_XXXXXX";
    if (!mkdtemp(root)) DIE("mkdtemp");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cache", root);
    /* /proc/self/exe: the child must be this very binary. */
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) DIE("readlink /proc/self/exe");
    self[n] = '\0';
    printf("%-32s %10s %-3s  %-16s %10s\n", "case", "ours", "", "peer", "peer");
    if (gpu) hot_path(self, dir, arch);
    cold_compiles(root, arch, gpu);
    rm_tree(root);
    if (launch_json) fclose(launch_json);
    if (jit_json) fclose(jit_json);
    return 0;
}
