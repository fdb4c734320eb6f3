/*
 * test_gpu_decode.c — the decode schedule on a device against the CPU
 * interpreter: KV lengths 1, 17, 1000, 4097 and 70000 (ragged tails, one
 * to many blocks of a cluster), bf16 and f16, head dims 64 / 128 / 256,
 * hq/hkv ratios 1, 4 and 8, per-sequence lengths (one of them 0), a
 * bucketed and an exact length, and a hand-built graph with a soft-capped
 * score. A compile hook forces the schedule, so a decline fails the test
 * instead of silently testing the generic lowering. SKIPs without a
 * device or NVRTC.
 */
#include <math.h>

#include "gpu_harness.h"
#include "kernel_int.h"
#include "schedule.h"
#include "templates.h"

static tj_status dec_compile(void *user, const tj_graph *g, const char *arch, const int64_t *spec,
                             void **cubin, size_t *size, emit_launch *L) {
    (void)user;
    char *src = NULL, why[160] = "";
    memset(L, 0, sizeof *L);
    tj_status st = sched_decode(g, arch, spec, &src, L, why, sizeof why);
    if (st != TJ_OK) return st;
    if (!src) return tj_set_error(TJ_ERR_UNSUPPORTED, "decode declined on %s: %s", arch, why);
    snprintf(L->schedule, sizeof L->schedule, "decode");
    nvrtc_header hs[64];
    int nh = tj_template_count();
    for (int i = 0; i < nh && i < 64; i++) {
        hs[i].name = tj_template_name(i);
        hs[i].text = tj_template_text(i);
    }
    nvrtc_request req = {.source = src, .name = "decode.cu", .arch = arch, .headers = hs,
                         .nheaders = nh, .in_child = 1, .timeout_s = 300};
    nvrtc_result res = {0};
    st = nvrtc_compile(&req, &res);
    if (st != TJ_OK) fprintf(stderr, "%s\n", res.log ? res.log : "");
    if (st == TJ_OK) {
        *cubin = res.cubin;
        *size = res.cubin_size;
        res.cubin = NULL;
    }
    nvrtc_result_free(&res);
    free(src);
    return st;
}

/* The CPU test's soft-capped decode graph (one masked loop, exp). */
static tj_graph *softcap_graph(int d, int hq, int hkv, int bn, tj_dtype dt, double cap) {
    tj_graph *g = NULL;
    if (tj_graph_new("decode_softcap", &g) != TJ_OK) return NULL;
    int grp = hq / hkv;
    tj_sym batch = tj_symbol(g, "batch", TJ_DYNAMIC, 0, 1);
    tj_sym kv = tj_symbol(g, "kv_len", TJ_DYNAMIC, 0, 1);
    tj_dim qs[3] = {tj_dim_sym(batch), hq, d}, ks[4] = {tj_dim_sym(batch), tj_dim_sym(kv), hkv, d};
    tj_tensor tq = tj_tensor_arg(g, "q", dt, 3, qs, NULL);
    tj_tensor tk = tj_tensor_arg(g, "k", dt, 4, ks, NULL);
    tj_tensor tv = tj_tensor_arg(g, "v", dt, 4, ks, NULL);
    tj_tensor to = tj_tensor_arg(g, "o", dt, 3, qs, NULL);
    tj_val scale = tj_scalar_arg(g, "scale", TJ_F32);
    tj_val kvh = tj_program_id(g, 0), b = tj_program_id(g, 1), zero = tj_const(g, TJ_I32, 0);
    tj_val q_at[3] = {b, kvh, zero};
    int q_axes[2] = {1, 2};
    tj_dim q_tile[2] = {grp, d};
    tj_val q = tj_load(g, tq, q_at, 2, q_tile, q_axes, 0, 0);
    tj_val n = tj_symval(g, kv);
    tj_dim stat[2] = {grp, 1}, acc_shape[2] = {grp, d};
    tj_val st[3] = {tj_full(g, TJ_F32, 2, stat, -INFINITY), tj_full(g, TJ_F32, 2, stat, 0),
                    tj_full(g, TJ_F32, 2, acc_shape, 0)};
    tj_val j, cur[3];
    tj_for_begin(g, zero, tj_binary(g, TJ_CDIV, n, tj_const(g, TJ_I32, bn)),
                 tj_const(g, TJ_I32, 1), 3, st, &j, cur);
    tj_val at[4] = {b, j, kvh, zero};
    int axes[2] = {1, 3};
    tj_dim kv_tile[2] = {bn, d};
    tj_val k = tj_load(g, tk, at, 2, kv_tile, axes, 0, 0);
    tj_val s = tj_mul(g, tj_mma(g, q, k, TJ_NONE, TJ_TRANS_B), scale);
    tj_val c = tj_const(g, TJ_F32, cap);
    s = tj_mul(g, tj_unary(g, TJ_TANH, tj_div(g, s, c)), c);
    tj_dim row[2] = {1, bn};
    tj_val idx = tj_add(g, tj_iota(g, TJ_I32, 2, row, 1), tj_mul(g, j, tj_const(g, TJ_I32, bn)));
    tj_val ninf = tj_const(g, TJ_F32, -INFINITY);
    s = tj_where(g, tj_binary(g, TJ_LT, idx, n), s, ninf);
    tj_val mn = tj_maximum(g, cur[0], tj_rowmax(g, s));
    tj_val mu = tj_where(g, tj_binary(g, TJ_EQ, mn, ninf), tj_const(g, TJ_F32, 0), mn);
    tj_val p = tj_unary(g, TJ_EXP, tj_sub(g, s, mu));
    tj_val alpha = tj_unary(g, TJ_EXP, tj_sub(g, cur[0], mu));
    tj_val l = tj_fma(g, cur[1], alpha, tj_rowsum(g, p));
    tj_val v = tj_load(g, tv, at, 2, kv_tile, axes, 0, 0);
    tj_val acc = tj_mma(g, tj_cast(g, p, dt), v, tj_mul(g, cur[2], alpha), 0);
    tj_val next[3] = {mn, l, acc};
    tj_for_end(g, 3, next, st);
    tj_val o = tj_div(g, st[2], tj_where(g, tj_binary(g, TJ_EQ, st[1], tj_const(g, TJ_F32, 0)),
                                         tj_const(g, TJ_F32, 1), st[1]));
    tj_store(g, to, q_at, tj_cast(g, o, dt), q_axes, 0);
    tj_val grid[2] = {tj_const(g, TJ_I32, hkv), tj_symval(g, batch)};
    tj_set_grid(g, 2, grid);
    if (tj_graph_verify(g) != TJ_OK) {
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

/* One graph at several KV lengths: o from the device against the interpreter. */
static void run(tj_graph *g, const char *what, int long_kv) {
    static const int64_t lens[] = {1, 17, 1000, 4097, 70000};
    int nlens = long_kv ? 5 : 4;
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    if (!k) return;
    kernel_test_hooks h = {dec_compile, NULL, NULL, NULL};
    kernel_set_test_hooks(k, &h);
    for (int li = 0; li < nlens; li++) {
        int64_t vals[8];
        int64_t batch = lens[li] > 10000 ? 2 : 3;
        for (int i = 0; i < tj_num_symbols(g) && i < 8; i++)
            vals[i] = !strcmp(tj_symbol_name(g, (tj_sym){i}), "batch") ? batch : lens[li];
        int nt = tj_num_tensors(g);
        gpu_buf buf[8];
        void *ref[8];
        uint64_t ptrs[8];
        for (int t = 0; t < nt; t++) {
            const char *n = tj_tensor_name(g, (tj_tensor){t});
            tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
            int64_t e = 0;
            CHECK_OK(tj_tensor_extent(g, (tj_tensor){t}, vals, &e));
            if (!strcmp(n, "o")) {
                CHECK_OK(gpu_buf_poison(&buf[t], dt, (size_t)e));
            } else if (!strcmp(n, "kv_lens")) {
                CHECK_OK(gpu_buf_random(&buf[t], dt, (size_t)e, 0, (double)lens[li]));
                ((int32_t *)buf[t].host)[0] = 0;                       /* an empty sequence */
                if (e > 1) ((int32_t *)buf[t].host)[1] = (int32_t)lens[li] + 5;   /* past the cache */
                CHECK_OK(gpu_buf_upload(&buf[t]));
            } else {
                CHECK_OK(gpu_buf_random(&buf[t], dt, (size_t)e, -1, 1));
            }
            ref[t] = malloc(gpu_buf_bytes(&buf[t]));
            memcpy(ref[t], buf[t].host, gpu_buf_bytes(&buf[t]));
            ptrs[t] = buf[t].dev;
        }
        double scale[1] = {0.088};
        CHECK_OK(tj_interp_run(g, vals, ref, scale, 0));
        tj_status st = tj_kernel_launch(k, ptrs, scale, vals, NULL);
        CHECKF(st == TJ_OK, "%s kv %lld: launch: %s", what, (long long)lens[li], tj_last_error());
        CHECK_OK(drv_context_sync());
        for (int t = 0; t < nt; t++) {
            if (strcmp(tj_tensor_name(g, (tj_tensor){t}), "o")) continue;
            CHECK_OK(gpu_buf_download(&buf[t]));
            size_t es = tj_dtype_size(buf[t].dtype);
            int bad = 0;
            for (size_t i = 0; i < buf[t].n && bad < 3; i++) {
                double got = 0, want = 0;
                tj_convert(TJ_F64, &got, buf[t].dtype, (const char *)buf[t].host + i * es, 1);
                tj_convert(TJ_F64, &want, buf[t].dtype, (const char *)ref[t] + i * es, 1);
                if (got == want) continue;
                if (!(fabs(got - want) <= 2 * gpu_tolerance(buf[t].dtype) * (fabs(want) + 1))) {
                    fprintf(stderr, "  %s kv %lld: o[%zu] = %g, interpreter %g\n", what,
                            (long long)lens[li], i, got, want);
                    bad++;
                }
            }
            CHECKF(bad == 0, "%s kv %lld", what, (long long)lens[li]);
        }
        for (int t = 0; t < nt; t++) {
            gpu_buf_free(&buf[t]);
            free(ref[t]);
        }
    }
    tj_kernel_destroy(k);
}

#define REQUIRE_GPU()                                                                    \
    do {                                                                                 \
        drv_device dev_;                                                                 \
        GPU_REQUIRE_DEVICE(&dev_);                                                       \
        if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error()); \
    } while (0)

TEST(test_gpu_decode_recipe_variants_match_interpreter) {
    REQUIRE_GPU();
    static const struct { const char *params; int long_kv; } cfgs[] = {
        {"hq=8 hkv=2 kv=exact", 1},
        {"hq=16 hkv=2 d=64 dtype=f16", 1},
        {"hq=4 hkv=4 d=256", 0},
        {"hq=32 hkv=8 lens=1", 0},
        {"hq=8 hkv=1 block_n=32", 0},
        {"hq=16 hkv=1 d=64 lens=1", 0},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        const char *argv[16];
        char buf[256];
        int n = 0;
        snprintf(buf, sizeof buf, "%s", cfgs[i].params);
        for (char *s = strtok(buf, " "); s && n < 16; s = strtok(NULL, " ")) argv[n++] = s;
        tj_graph *g = NULL;
        CHECK_OK(tj_recipe_build("decode", n, argv, &g));
        if (!g) return;
        run(g, cfgs[i].params, cfgs[i].long_kv);
        tj_graph_free(g);
    }
}

TEST(test_gpu_decode_softcap_graph_matches_interpreter) {
    REQUIRE_GPU();
    tj_graph *g = softcap_graph(128, 32, 8, 64, TJ_BF16, 20.0);
    CHECK(g);
    if (!g) return;
    run(g, "softcap", 0);
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
