/*
 * decode.c — decode attention (issue 8): batch 8, 32 query heads, 8 KV
 * heads, d 128, bf16, KV = 1k .. 128k, through the public runtime
 * (tj_kernel_launch on the `decode` recipe with kv=exact, which the
 * decode schedule lowers), against a device copy of the same bytes and
 * torch's best SDPA path (bench/decode_torch.py, run just before in the
 * same device call, its JSON lines read with --torch).
 *
 *   bench_decode [--quick] [--json FILE] [--torch FILE] [--commit SHA] [--only kvN]
 *                [--variants LIST]
 *
 * --variants times each case in every listed configuration of the
 * decode schedule (decode.h's dc_forced hook), comma-separated, each
 * letters and numbers: S (blocks a program), W (warps a block), R (ring
 * chunks a warp), M (blocks an SM for __launch_bounds__), e.g. S8W4R3;
 * `auto` is the schedule's own choice. JSON lines then get "variant".
 *
 * Figures are the bytes of K and V read per second (q and o are 0.1% of
 * it and not counted); the copy peer counts bytes read + written, as a
 * copy's bandwidth is quoted. Inputs rotate among sets of at least 512 MiB
 * together so no case runs from the L2. Timing: CUDA events, 3 warm-up
 * runs, the median of 30 (10 with --quick). Each case checks (batch,
 * head) pairs (0, 0), (3, 13), (7, 31) against a float64 CPU reference in
 * the same run (max_rel_err: max |got - ref| / (|ref| + mean |ref|)).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "decode.h"
#include "ir.h"

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", tj_last_error()); exit(1); } while (0)
#include "bench_util.h"

enum { B = 8, HQ = 32, HKV = 8, D = 128, MAXSETS = 16 };
static const size_t POOL = (size_t)64 << 20;   /* random bytes replicated into big buffers */
static drv_ptr pool;

/* bytes of random bf16: the pool copied in, shifted by `seed` elements. */
static drv_ptr fill_random(size_t bytes, int seed) {
    drv_ptr p;
    if (drv_mem_alloc(bytes, &p) != TJ_OK) DIE("alloc %zu bytes", bytes);
    size_t shift = ((size_t)seed * 4099u * 2u) % (POOL / 2);
    for (size_t off = 0; off < bytes;) {
        size_t n = POOL - shift < bytes - off ? POOL - shift : bytes - off;
        if (drv_memcpy_dtod(p + off, pool + shift, n) != TJ_OK) DIE("fill");
        off += n;
        shift = (shift + 2 * 777) % (POOL / 2);
    }
    return p;
}

typedef struct dcase {
    tj_kernel *k;
    int64_t vals[4];
    drv_ptr q, o, kk[MAXSETS], vv[MAXSETS];
    int nsets, next;
    size_t kv_bytes;   /* of K and V together */
    drv_ptr dst;
} dcase;

static void run_ours(void *ctx) {
    dcase *c = ctx;
    int i = c->next++ % c->nsets;
    uint64_t ptrs[4] = {c->q, c->kk[i], c->vv[i], c->o};
    double scale[1] = {0.08838834764831845};
    if (tj_kernel_launch(c->k, ptrs, scale, c->vals, NULL) != TJ_OK) DIE("launch");
}

static void run_copy(void *ctx) {
    dcase *c = ctx;
    int i = c->next++ % c->nsets;
    if (drv_memcpy_dtod(c->dst, c->kk[i], c->kv_bytes / 2) != TJ_OK ||
        drv_memcpy_dtod(c->dst + c->kv_bytes / 2, c->vv[i], c->kv_bytes / 2) != TJ_OK)
        DIE("copy");
}

static double bf(const uint16_t *p, size_t i) {   /* bf16 is f32's upper half */
    uint32_t w = (uint32_t)p[i] << 16;
    float f;
    memcpy(&f, &w, 4);
    return f;
}

/* o of set 0 at (b, h) pairs against float64 softmax(q k^T * scale) v. */
static double check(dcase *c, int64_t kv) {
    uint64_t ptrs[4] = {c->q, c->kk[0], c->vv[0], c->o};
    double scale[1] = {0.08838834764831845};
    if (tj_kernel_launch(c->k, ptrs, scale, c->vals, NULL) != TJ_OK) DIE("launch");
    if (drv_context_sync() != TJ_OK) DIE("sync");
    size_t qn = (size_t)B * HQ * D, slice = (size_t)kv * HKV * D;
    uint16_t *q = malloc(qn * 2), *o = malloc(qn * 2), *k = malloc(slice * 2), *v = malloc(slice * 2);
    double *s = malloc((size_t)kv * sizeof *s);
    if (!q || !o || !k || !v || !s) DIE("host memory");
    drv_memcpy_dtoh(q, c->q, qn * 2);
    drv_memcpy_dtoh(o, c->o, qn * 2);
    static const int pairs[3][2] = {{0, 0}, {3, 13}, {7, 31}};
    double worst = 0;
    for (int pi = 0; pi < 3; pi++) {
        int b = pairs[pi][0], h = pairs[pi][1], kh = h / (HQ / HKV);
        drv_memcpy_dtoh(k, c->kk[0] + (size_t)b * slice * 2, slice * 2);
        drv_memcpy_dtoh(v, c->vv[0] + (size_t)b * slice * 2, slice * 2);
        const size_t qo = ((size_t)b * HQ + h) * D;
        double m = -INFINITY, l = 0, ref[D] = {0}, mean = 0;
        for (int64_t j = 0; j < kv; j++) {
            double d = 0;
            for (int e = 0; e < D; e++) d += bf(q, qo + e) * bf(k, ((size_t)j * HKV + kh) * D + e);
            s[j] = d * scale[0];
            if (s[j] > m) m = s[j];
        }
        for (int64_t j = 0; j < kv; j++) {
            double p = exp(s[j] - m);
            l += p;
            for (int e = 0; e < D; e++) ref[e] += p * bf(v, ((size_t)j * HKV + kh) * D + e);
        }
        for (int e = 0; e < D; e++) mean += fabs(ref[e] / l) / D;
        for (int e = 0; e < D; e++) {
            double err = fabs(bf(o, qo + e) - ref[e] / l) / (fabs(ref[e] / l) + mean);
            if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
        }
    }
    free(q);
    free(o);
    free(k);
    free(v);
    free(s);
    return worst;
}

static FILE *json;
static const char *variant;
static const char *commit = "unknown";
static char devname[256];

static void emit(const char *cas, double ours, const char *peer, double peer_value, double err,
                 const char *note) {
    double ratio = peer_value > 0 ? ours / peer_value : 0;
    printf("%-9s %-9s %8.1f GB/s  %-6s %8.1f  ratio %.3f  err %.1e  %s\n", cas,
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
    fflush(json);
}

/* g under the name <name>_v<vi>: the kernel cache keys a kernel by graph,
 * bindings and arch, not by what the hook forces. */
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

static int parse_variant(const char *v, dc_force *f) {
    memset(f, 0, sizeof *f);
    if (!strcmp(v, "auto")) return 1;
    for (const char *p = v; *p;) {
        char c = *p++;
        int n = atoi(p);
        while (*p >= '0' && *p <= '9') p++;
        if (n <= 0) return 0;
        if (c == 'S') f->S = n;
        else if (c == 'W') f->W = n;
        else if (c == 'R') f->R = n;
        else if (c == 'M') f->minblocks = n;
        else return 0;
    }
    return 1;
}

/* torch's GB/s and path for `cas` from decode_torch.py's lines. */
static double torch_value(const char *path, const char *cas, char *tpath, size_t size) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 0;
    char line[512], key[64];
    snprintf(key, sizeof key, "\"case\": \"%s\"", cas);
    double v = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key), *q = strstr(line, "\"gbs\": "), *r = strstr(line, "\"path\": \"");
        if (p && q) {
            v = atof(q + 7);
            if (r) snprintf(tpath, size, "torch %.*s", (int)strcspn(r + 9, "\""), r + 9);
        }
    }
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int quick = 0;
    const char *torch = NULL, *only = NULL, *variants = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = fopen(argv[++i], "w");
        else if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc) commit = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--variants") && i + 1 < argc) variants = argv[++i];
    }
    enum { MAXV = 16 };
    char vnames[MAXV][32];
    dc_force vforce[MAXV];
    int nv = 1;
    memset(vforce, 0, sizeof vforce);
    if (variants) {
        nv = 0;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", variants);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && nv < MAXV;
             t = strtok_r(NULL, ",", &save)) {
            snprintf(vnames[nv], sizeof vnames[0], "%s", t);
            if (!parse_variant(t, &vforce[nv])) {
                fprintf(stderr, "bench_decode: bad variant \"%s\"\n", t);
                return 2;
            }
            nv++;
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
    int reps = quick ? 10 : 30;
    pool = device_random(TJ_BF16, POOL / 2);

    static const int64_t kvs[] = {1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072};
    for (size_t ki = 0; ki < sizeof kvs / sizeof *kvs; ki++) {
        int64_t kv = kvs[ki];
        char cas[32];
        snprintf(cas, sizeof cas, "kv%lld", (long long)kv);
        if (only && strcmp(only, cas)) continue;
        for (int vi = 0; vi < nv; vi++) {
            variant = variants ? vnames[vi] : NULL;
            dc_forced = vforce[vi];
            static const char *argv_r[] = {"hq=32", "hkv=8", "d=128", "dtype=bf16", "kv=exact"};
            tj_graph *g = NULL;
            if (tj_recipe_build("decode", 5, argv_r, &g) != TJ_OK) DIE("recipe");
            if (variants) g = renamed(g, vi);
            for (int t = 0; t < tj_num_tensors(g); t++) tj_tensor_set_align(g, (tj_tensor){t}, 16);
            dcase c;
            memset(&c, 0, sizeof c);
            c.vals[tj_find_symbol(g, "batch").id] = B;
            c.vals[tj_find_symbol(g, "kv_len").id] = kv;
            c.kv_bytes = (size_t)2 * B * (size_t)kv * HKV * D * 2;
            c.nsets = (int)(((size_t)512 << 20) / c.kv_bytes);
            if (c.nsets < 1) c.nsets = 1;
            if (c.nsets > MAXSETS) c.nsets = MAXSETS;
            c.q = fill_random((size_t)B * HQ * D * 2, 1);
            if (drv_mem_alloc((size_t)B * HQ * D * 2, &c.o) != TJ_OK) DIE("alloc");
            for (int i = 0; i < c.nsets; i++) {
                c.kk[i] = fill_random(c.kv_bytes / 2, 2 + 2 * i);
                c.vv[i] = fill_random(c.kv_bytes / 2, 3 + 2 * i);
            }
            c.dst = fill_random(c.kv_bytes, 99);
            char *src = NULL, note[96] = "?";
            tj_emit_cuda(g, dev.arch, c.vals, &src);
            if (src) {
                char sched[32] = "?";
                int split = 1;
                const char *sp = strstr(src, " KV tiles of ");
                if (!strncmp(src, "// schedule: ", 13)) sscanf(src + 13, "%31[a-z0-9_]", sched);
                if (sp) sscanf(strchr(sp, ',') + 2, "%d", &split);
                snprintf(note, sizeof note, "%s split=%d", sched, split);
            }
            tj_free(src);
            tj_kernel_options o = {NULL, 0, ""};
            if (tj_kernel_create(g, &o, &c.k) != TJ_OK) DIE("kernel");
            run_ours(&c); /* the compile */
            if (drv_context_sync() != TJ_OK) DIE("sync");
            float ms = time_median(run_ours, &c, reps);
            double gbs = (double)c.kv_bytes / (ms * 1e-3) / 1e9;
            float cms = time_median(run_copy, &c, reps);
            double copy_gbs = 2.0 * (double)c.kv_bytes / (cms * 1e-3) / 1e9;
            double err = check(&c, kv);
            emit(cas, gbs, "copy", copy_gbs, err, note);
            char tpath[64] = "";
            double tv = torch_value(torch, cas, tpath, sizeof tpath);
            if (tv > 0) {
                char n2[160];
                snprintf(n2, sizeof n2, "%s; %s", note, tpath);
                emit(cas, gbs, "torch", tv, err, n2);
            }
            printf("%9s %.4f ms, copy %.4f ms, %d input sets\n", "", ms, cms, c.nsets);
            for (int i = 0; i < c.nsets; i++) {
                drv_mem_free(c.kk[i]);
                drv_mem_free(c.vv[i]);
            }
            drv_mem_free(c.q);
            drv_mem_free(c.o);
            drv_mem_free(c.dst);
            tj_kernel_destroy(c.k);
            tj_graph_free(g);
        }
        dc_forced = (dc_force){0, 0, 0, 0};
    }
    drv_mem_free(pool);
    if (json) fclose(json);
    return 0;
}
