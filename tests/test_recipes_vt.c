/*
 * test_recipes_vt.c — the attention recipe's v_layout=t (v given
 * transposed, keys contiguous: vt [batch, hkv, d, seq_kv], a strided view
 * of rows kv_cap keys apart) in the CPU interpreter against the same
 * recipe with v in k's layout, on the same values: o (and lse) must be
 * the same bits, at lengths 1, 17 and 1000, causal, GQA, cross lengths,
 * packed (varlen) batches, fp8 and bf16. The rows' pitch kv_cap runs past
 * seq_kv and the heads and batches lie further apart than the rows need,
 * and every element outside the view is NaN: none may be read.
 */
#include "recipe_run.h"

typedef struct vcase {
    const char *params;   /* besides v_layout */
    int64_t batch, seq, skv;   /* skv: with cross=1 */
    int64_t cap_extra;    /* kv_cap - round_up(seq_kv, 16); also the gap between heads */
} vcase;

static int64_t up16(int64_t n) { return (n + 15) / 16 * 16; }

/* Bind the run's symbols; packed batches get cu_seqlens of `lens`. */
static int bind_all(run *r, const vcase *c, int64_t total_q, int64_t total_k) {
    int ok = 1;
    if (tj_find_symbol(r->g, "batch").id >= 0) ok &= bind(r, "batch", c->batch);
    ok &= bind(r, "seq", c->seq);
    if (tj_find_symbol(r->g, "seq_kv").id >= 0) ok &= bind(r, "seq_kv", c->skv);
    if (tj_find_symbol(r->g, "total_q").id >= 0) {
        ok &= bind(r, "total_q", total_q) && bind(r, "cu_len", c->batch + 1);
        if (tj_find_symbol(r->g, "total_k").id >= 0) ok &= bind(r, "total_k", total_k);
    }
    if (tj_find_symbol(r->g, "kv_cap").id >= 0) {
        int packed = tj_find_symbol(r->g, "total_q").id >= 0;
        int64_t n = packed ? total_k : tj_find_symbol(r->g, "seq_kv").id >= 0 ? c->skv : c->seq;
        int64_t cap = up16(n) + c->cap_extra;
        tj_tensor vt = {tensor_id(r, "vt")};
        int64_t hkv = tj_tensor_dim(r->g, vt, packed ? 0 : 1);
        int64_t d = tj_tensor_dim(r->g, vt, packed ? 1 : 2);
        int64_t hs = d * cap + c->cap_extra;   /* heads apart by more than their rows */
        ok &= bind(r, "kv_cap", cap) && bind(r, "vt_hstride", hs);
        if (!packed) ok &= bind(r, "vt_bstride", hkv * hs + 16);
    }
    return ok;
}

static void vt_run(const vcase *c) {
    plist pn, pt;
    params(&pn, "%s v_layout=n", c->params);
    params(&pt, "%s v_layout=t", c->params);
    run rn, rt;
    run_init(&rn, build("attention", pn.n, pn.p));
    run_init(&rt, build("attention", pt.n, pt.p));
    CHECKF(rn.g && rt.g, "%s", c->params);
    if (!rn.g || !rt.g) goto done;
    int packed = strstr(c->params, "varlen=1") != NULL;
    int cross = strstr(c->params, "cross=1") != NULL;
    int64_t skv = cross ? c->skv : c->seq;
    /* packed: sequences of lengths seq, seq - 1, ... (at least 1), keys likewise */
    int64_t cuq[9] = {0}, cuk[9] = {0};
    for (int64_t b = 0; b < c->batch; b++) {
        int64_t lq = c->seq - b > 0 ? c->seq - b : 1, lk = skv - b > 0 ? skv - b : 1;
        cuq[b + 1] = cuq[b] + lq;
        cuk[b + 1] = cuk[b] + (cross ? lk : lq);
    }
    int64_t total_q = cuq[c->batch], total_k = cuk[c->batch];
    CHECK(bind_all(&rn, c, total_q, total_k) && bind_all(&rt, c, total_q, total_k));
    CHECK(input(&rn, "q", -1, 1) && input(&rn, "k", -1, 1) && input(&rn, "v", -1, 1));
    CHECK(input_vals(&rt, "q", in_vals(&rn, "q")) && input_vals(&rt, "k", in_vals(&rn, "k")));
    if (packed) {
        double dq[9], dk[9];
        for (int64_t b = 0; b <= c->batch; b++) dq[b] = (double)cuq[b], dk[b] = (double)cuk[b];
        CHECK(input_vals(&rn, "cu_seqlens_q", dq) && input_vals(&rt, "cu_seqlens_q", dq));
        if (cross) CHECK(input_vals(&rn, "cu_seqlens_k", dk) && input_vals(&rt, "cu_seqlens_k", dk));
    }
    /* vt: NaN everywhere, then v's values transposed into its view */
    CHECK(input(&rt, "vt", -1, 1));
    int tv = tensor_id(&rn, "v"), tvt = tensor_id(&rt, "vt");
    CHECK(tv >= 0 && tvt >= 0);
    if (harness_failed_now) goto done;
    int64_t dv[5], sv[5], dt[5], st[5];
    CHECK_OK(tj_tensor_shape(rn.g, (tj_tensor){tv}, rn.syms, dv, sv));
    CHECK_OK(tj_tensor_shape(rt.g, (tj_tensor){tvt}, rt.syms, dt, st));
    double *vt = rt.val[tvt];
    const double *v = rn.val[tv];
    for (int64_t e = 0; e < rt.n[tvt]; e++) vt[e] = NAN;
    if (packed) {   /* v [total_k, hkv, d] -> vt [hkv, d, total_k] */
        for (int64_t j = 0; j < dv[0]; j++)
            for (int64_t h = 0; h < dv[1]; h++)
                for (int64_t e = 0; e < dv[2]; e++)
                    vt[h * st[0] + e * st[1] + j] = v[j * sv[0] + h * sv[1] + e];
    } else {        /* v [batch, skv, hkv, d] -> vt [batch, hkv, d, skv] */
        for (int64_t b = 0; b < dv[0]; b++)
            for (int64_t j = 0; j < dv[1]; j++)
                for (int64_t h = 0; h < dv[2]; h++)
                    for (int64_t e = 0; e < dv[3]; e++)
                        vt[b * st[0] + h * st[1] + e * st[2] + j] =
                            v[b * sv[0] + j * sv[1] + h * sv[2] + e];
    }
    /* in place: input_vals would allocate vt again (and leak the first) */
    CHECK(tj_convert(tdtype(&rt, tvt), rt.ptr[tvt], TJ_F64, vt, (size_t)rt.n[tvt]) == TJ_OK);
    const char *outs[2] = {"o", "lse"};
    for (int i = 0; i < 2; i++)
        if (tensor_id(&rn, outs[i]) >= 0) CHECK(output(&rn, outs[i]) && output(&rt, outs[i]));
    rn.scalars[0] = rt.scalars[0] = 0.3;
    rn.scalars[1] = rt.scalars[1] = 0.75;   /* fp8's v_scale */
    CHECK_OK(go(&rn));
    CHECK_OK(go(&rt));
    if (harness_failed_now) goto done;
    for (int i = 0; i < 2; i++) {
        int a = tensor_id(&rn, outs[i]), b = tensor_id(&rt, outs[i]);
        if (a < 0) continue;
        int64_t bad = 0, first = -1;
        for (int64_t e = 0; e < rn.n[a]; e++) {
            double x = rn.val[a][e], y = rt.val[b][e];
            if (!(x == y || (isnan(x) && isnan(y))) && bad++ == 0) first = e;
        }
        CHECKF(bad == 0, "%s %s seq %lld: %lld elements differ, first %lld: %g vs %g", c->params,
               outs[i], (long long)c->seq, (long long)bad, (long long)first,
               bad ? rn.val[a][first] : 0.0, bad ? rt.val[b][first] : 0.0);
        /* never written stays NaN in both: the comparison would pass */
        for (int64_t e = 0; e < rn.n[a] && !packed; e++)
            if (isnan(rt.val[b][e])) {
                CHECKF(0, "%s %s[%lld] not written", c->params, outs[i], (long long)e);
                break;
            }
    }
done:
    run_free(&rn);
    run_free(&rt);
}

TEST(test_attention_v_transposed_matches_v_in_k_layout) {
    static const vcase cs[] = {
        {"dtype=f8e4m3 d=64 hq=2 hkv=1 causal=1 block_m=64 block_n=64", 2, 1, 0, 16},
        {"dtype=f8e4m3 d=64 hq=2 hkv=1 causal=1 block_m=64 block_n=64", 2, 17, 0, 0},
        {"dtype=f8e4m3 d=128 hq=1 hkv=1 block_m=128 block_n=128 lse=1", 1, 1000, 0, 32},
        {"dtype=f8e4m3 d=64 hq=4 hkv=2 causal=1 cross=1 block_m=64 block_n=32", 1, 50, 77, 0},
        {"dtype=f8e4m3 d=64 hq=2 hkv=2 causal=1 varlen=1 block_m=32 block_n=32", 3, 40, 0, 16},
        {"dtype=f8e4m3 d=64 hq=2 hkv=1 cross=1 varlen=1 lse=1 block_m=32 block_n=64", 2, 20, 45, 0},
        {"dtype=bf16 d=64 hq=2 hkv=2 causal=1 block_m=64 block_n=64 softcap=30", 1, 100, 0, 16},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs && !harness_failed_now; i++) vt_run(&cs[i]);
}

TEST(test_attention_v_layout_is_n_or_t) {
    const char *bad[] = {"v_layout=x"};
    tj_graph *g = NULL;
    CHECK_ERR(tj_recipe_build("attention", 1, bad, &g), TJ_ERR_INVALID_ARG, "v_layout");
    tj_attention_params p;
    tj_attention_params_init(&p);
    CHECK(p.v_layout == 0);
    p.v_layout = 2;
    CHECK_ERR(tj_recipe_attention(&p, &g), TJ_ERR_INVALID_ARG, "v_layout");
    CHECK(!g);
    /* vt's strides are their own symbols, declared multiples of 16 */
    p.v_layout = 1;
    p.dtype = TJ_F8E4M3;
    CHECK_OK(tj_recipe_attention(&p, &g));
    if (!g) return;
    int64_t vals[16];
    for (int i = 0; i < 16; i++) vals[i] = TJ_UNBOUND;
    CHECK(tj_find_symbol(g, "kv_cap").id >= 0);
    CHECK_ERR(tj_bind_parse(g, "kv_cap=1000", vals), TJ_ERR_INVALID_ARG, "kv_cap");
    CHECK_OK(tj_bind_parse(g, "kv_cap=1008", vals));
    CHECK_ERR(tj_bind_parse(g, "vt_hstride=1000", vals), TJ_ERR_INVALID_ARG, "vt_hstride");
    CHECK_ERR(tj_bind_parse(g, "vt_bstride=1000", vals), TJ_ERR_INVALID_ARG, "vt_bstride");
    CHECK_OK(tj_bind_parse(g, "vt_hstride=129024", vals));
    CHECK_OK(tj_bind_parse(g, "vt_bstride=1032192", vals));
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
