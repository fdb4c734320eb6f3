/*
 * test_gpu_varlen.c — attention over a packed variable-length batch
 * (cu_seqlens, masked stores) through tj_kernel on a device, against the
 * CPU interpreter on the same random inputs, outputs poisoned first:
 * ragged lengths (0, 1, 17, 300...), causal, GQA, cross lengths, lse,
 * and rows past the last sequence, which must stay untouched.
 */
#include "gpu_harness.h"

static void run(int causal, int cross, int nseq, const int *ql, const int *kl) {
    char c1[32], c2[32];
    snprintf(c1, sizeof c1, "causal=%d", causal);
    snprintf(c2, sizeof c2, "cross=%d", cross);
    const char *argv[] = {"d=128", "hq=4", "hkv=2", c1, c2, "lse=1", "varlen=1", "dtype=bf16"};
    tj_graph *g = NULL;
    CHECK_OK(tj_recipe_build("attention", 8, argv, &g));
    if (!g) return;
    int32_t cuq[16] = {0}, cuk[16] = {0};
    int maxq = 1, maxk = 1;
    for (int b = 0; b < nseq; b++) {
        int k = cross ? kl[b] : ql[b];
        cuq[b + 1] = cuq[b] + ql[b];
        cuk[b + 1] = cuk[b] + k;
        if (ql[b] > maxq) maxq = ql[b];
        if (k > maxk) maxk = k;
    }
    int64_t tq = cuq[nseq] + 7, tk = cross ? cuk[nseq] + 3 : tq;
    int64_t vals[8];
    for (int i = 0; i < tj_num_symbols(g); i++) {
        const char *n = tj_symbol_name(g, (tj_sym){i});
        vals[i] = !strcmp(n, "batch") ? nseq : !strcmp(n, "seq") ? maxq : !strcmp(n, "seq_kv") ? maxk
                : !strcmp(n, "total_q") ? tq : !strcmp(n, "total_k") ? tk : nseq + 1;
    }
    int nt = tj_num_tensors(g);
    gpu_buf buf[8];
    void *ref[8];
    uint64_t ptrs[8];
    for (int t = 0; t < nt; t++) {
        const char *n = tj_tensor_name(g, (tj_tensor){t});
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        int64_t e = 0;
        CHECK_OK(tj_tensor_extent(g, (tj_tensor){t}, vals, &e));
        if (!strcmp(n, "o") || !strcmp(n, "lse")) {
            CHECK_OK(gpu_buf_poison(&buf[t], dt, (size_t)e));
        } else if (!strncmp(n, "cu_seqlens", 10)) {
            CHECK_OK(gpu_buf_alloc(&buf[t], dt, (size_t)e));
            memcpy(buf[t].host, !strcmp(n, "cu_seqlens_k") ? cuk : cuq, sizeof(int32_t) * (size_t)e);
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
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    tj_status st = tj_kernel_launch(k, ptrs, scale, vals, NULL);
    CHECKF(st == TJ_OK, "launch: %s", tj_last_error());
    CHECK_OK(drv_context_sync());
    for (int t = 0; t < nt; t++) {
        const char *n = tj_tensor_name(g, (tj_tensor){t});
        if (strcmp(n, "o") && strcmp(n, "lse")) continue;
        CHECK_OK(gpu_buf_download(&buf[t]));
        size_t es = tj_dtype_size(buf[t].dtype);
        int bad = 0;
        for (size_t i = 0; i < buf[t].n && bad < 3; i++) {
            double got = 0, want = 0;
            tj_convert(TJ_F64, &got, buf[t].dtype, (const char *)buf[t].host + i * es, 1);
            tj_convert(TJ_F64, &want, buf[t].dtype, (const char *)ref[t] + i * es, 1);
            if ((isnan(got) && isnan(want)) || got == want) continue;
            if (!(fabs(got - want) <= gpu_tolerance(buf[t].dtype) * (fabs(want) + 1))) {
                fprintf(stderr, "  causal=%d cross=%d: %s[%zu] = %g, interpreter %g\n", causal,
                        cross, n, i, got, want);
                bad++;
            }
        }
        CHECK(bad == 0);
    }
    for (int t = 0; t < nt; t++) {
        gpu_buf_free(&buf[t]);
        free(ref[t]);
    }
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_varlen_attention_matches_interpreter) {
    GPU_REQUIRE_DEVICE(NULL);
    if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error());
    static const int ql[5] = {17, 0, 300, 1, 129}, kl[5] = {40, 5, 300, 1, 64};
    for (int causal = 0; causal < 2; causal++)
        for (int cross = 0; cross < 2; cross++) run(causal, cross, 5, ql, kl);
}

int main(void) { return harness_main(); }
