/*
 * test_recipes_varlen.c — attention over a variable-length batch packed as
 * frameworks pass it (cu_seqlens), in the interpreter: each sequence's
 * rows of o (and lse) must equal what the dense recipe computes for that
 * sequence alone (itself checked against a naive reference in
 * test_recipes_attention), and rows that belong to no sequence must stay
 * untouched. Lengths include 0, 1 and ragged ones; causal, GQA, cross.
 */
#include <math.h>

#include "harness.h"

typedef struct vcase {
    int causal, cross, lse, hq, hkv;
    int nseq;
    int64_t qlen[6], klen[6];
} vcase;

static tj_graph *recipe(const vcase *c, int varlen) {
    char p[7][64];
    const char *pp[7];
    snprintf(p[0], sizeof p[0], "d=64");
    snprintf(p[1], sizeof p[1], "hq=%d", c->hq);
    snprintf(p[2], sizeof p[2], "hkv=%d", c->hkv);
    snprintf(p[3], sizeof p[3], "causal=%d", c->causal);
    snprintf(p[4], sizeof p[4], "dtype=f32 block_m=16 block_n=16");
    snprintf(p[5], sizeof p[5], "cross=%d lse=%d", c->cross, c->lse);
    snprintf(p[6], sizeof p[6], "varlen=%d", varlen);
    /* "k=v k=v" entries are split by the recipe parser as separate params */
    char all[512] = "";
    for (int i = 0; i < 7; i++) {
        strcat(all, p[i]);
        strcat(all, " ");
    }
    const char *argv[16];
    int n = 0;
    for (char *t = strtok(all, " "); t && n < 16; t = strtok(NULL, " ")) argv[n++] = t;
    (void)pp;
    tj_graph *g = NULL;
    tj_status st = tj_recipe_build("attention", n, argv, &g);
    if (st != TJ_OK) fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

static int64_t sym(const tj_graph *g, const char *name, int64_t *vals, int64_t v) {
    tj_sym s = tj_find_symbol(g, name);
    if (s.id >= 0) vals[s.id] = v;
    return s.id;
}

static float *randoms(int64_t n) {
    float *x = malloc(sizeof *x * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) x[i] = (float)harness_uniform(-1, 1);
    return x;
}

static void run_case(const vcase *c) {
    const int d = 64, hq = c->hq, hkv = c->hkv;
    int32_t cuq[8], cuk[8];
    cuq[0] = cuk[0] = 0;
    int64_t maxq = 1, maxk = 1;
    for (int b = 0; b < c->nseq; b++) {
        int64_t kl = c->cross ? c->klen[b] : c->qlen[b];
        cuq[b + 1] = cuq[b] + (int32_t)c->qlen[b];
        cuk[b + 1] = cuk[b] + (int32_t)kl;
        if (c->qlen[b] > maxq) maxq = c->qlen[b];
        if (kl > maxk) maxk = kl;
    }
    int64_t tq = cuq[c->nseq] + 5, tk = (c->cross ? cuk[c->nseq] : cuq[c->nseq]) + 5;
    if (!c->cross) tk = tq;   /* 5 rows past the last sequence belong to none */
    tj_graph *vg = recipe(c, 1), *dg = recipe(c, 0);
    CHECK(vg && dg);
    if (!vg || !dg) return;
    int64_t vv[8];
    for (int i = 0; i < 8; i++) vv[i] = TJ_UNBOUND;
    sym(vg, "batch", vv, c->nseq);
    sym(vg, "seq", vv, maxq);
    sym(vg, "seq_kv", vv, maxk);
    sym(vg, "total_q", vv, tq);
    sym(vg, "total_k", vv, tk);
    sym(vg, "cu_len", vv, c->nseq + 1);
    float *q = randoms(tq * hq * d), *k = randoms(tk * hkv * d), *v = randoms(tk * hkv * d);
    float *o = malloc(sizeof *o * (size_t)(tq * hq * d)), *lse = malloc(sizeof *lse * (size_t)(hq * tq));
    for (int64_t i = 0; i < tq * hq * d; i++) o[i] = NAN;
    for (int64_t i = 0; i < hq * tq; i++) lse[i] = NAN;
    /* tensors in recipe order: q k v o [lse] cu_q [cu_k] */
    void *ts[8];
    int nt = 0;
    ts[nt++] = q, ts[nt++] = k, ts[nt++] = v, ts[nt++] = o;
    if (c->lse) ts[nt++] = lse;
    ts[nt++] = cuq;
    if (c->cross) ts[nt++] = cuk;
    CHECK(nt == tj_num_tensors(vg));
    double scale[1] = {0.125};
    CHECK_OK(tj_interp_run(vg, vv, ts, scale, 0));
    int bad = 0;
    for (int b = 0; b < c->nseq && !bad; b++) {
        int64_t ql = c->qlen[b], kl = c->cross ? c->klen[b] : ql;
        if (ql == 0) continue;
        /* the dense recipe on this sequence alone */
        int64_t dv[8];
        for (int i = 0; i < 8; i++) dv[i] = TJ_UNBOUND;
        sym(dg, "batch", dv, 1);
        sym(dg, "seq", dv, ql);
        sym(dg, "seq_kv", dv, kl);
        float *dq = q + (int64_t)cuq[b] * hq * d;
        float *dk = k + (int64_t)(c->cross ? cuk[b] : cuq[b]) * hkv * d;
        float *dvv = v + (int64_t)(c->cross ? cuk[b] : cuq[b]) * hkv * d;
        float *doo = malloc(sizeof *doo * (size_t)(ql * hq * d)), *dl = malloc(sizeof *dl * (size_t)(hq * ql));
        void *dts[5] = {dq, dk, dvv, doo, dl};
        CHECK_OK(tj_interp_run(dg, dv, dts, scale, 0));
        for (int64_t i = 0; i < ql * hq * d && !bad; i++) {
            float got = o[(int64_t)cuq[b] * hq * d + i];
            if (!(fabsf(got - doo[i]) <= 1e-5f * (fabsf(doo[i]) + 1))) {
                fprintf(stderr, "  seq %d (len %lld/%lld) o[%lld] = %g, dense %g\n", b,
                        (long long)ql, (long long)kl, (long long)i, got, doo[i]);
                bad = 1;
            }
        }
        for (int h = 0; c->lse && h < hq && !bad; h++)
            for (int64_t i = 0; i < ql && !bad; i++) {
                float got = lse[h * tq + cuq[b] + i], want = dl[h * ql + i];
                if (!(got == want || fabsf(got - want) <= 1e-5f * (fabsf(want) + 1))) {
                    fprintf(stderr, "  seq %d lse[%d,%lld] = %g, dense %g\n", b, h, (long long)i,
                            got, want);
                    bad = 1;
                }
            }
        free(doo);
        free(dl);
    }
    /* rows of no sequence: untouched */
    for (int64_t i = (int64_t)cuq[c->nseq] * hq * d; i < tq * hq * d && !bad; i++)
        if (!isnan(o[i])) {
            fprintf(stderr, "  o[%lld] past the last sequence was written\n", (long long)i);
            bad = 1;
        }
    CHECKF(!bad, "varlen causal=%d cross=%d lse=%d hq=%d hkv=%d", c->causal, c->cross, c->lse, hq,
           hkv);
    free(q), free(k), free(v), free(o), free(lse);
    tj_graph_free(vg);
    tj_graph_free(dg);
}

TEST(test_varlen_attention_matches_dense_per_sequence) {
    vcase cs[] = {
        {0, 0, 0, 2, 2, 4, {17, 1, 40, 3}, {0}},
        {1, 0, 1, 4, 2, 5, {33, 0, 16, 1, 47}, {0}},
        {1, 1, 1, 2, 1, 3, {5, 20, 17}, {30, 20, 1}},
        {0, 1, 0, 2, 2, 3, {16, 1, 9}, {1, 64, 35}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) run_case(&cs[i]);
}

TEST(test_varlen_attention_random_lengths) {
    for (int it = 0; it < 3; it++) {
        vcase c = {harness_randint(0, 1), 0, 1, 2, 1, (int)harness_randint(1, 6), {0}, {0}};
        for (int b = 0; b < c.nseq; b++) c.qlen[b] = harness_randint(0, 50);
        run_case(&c);
    }
}

TEST(test_varlen_generic_lowering_compiles) {
    vcase c = {1, 1, 1, 4, 2, 1, {1}, {1}};
    tj_graph *g = recipe(&c, 1);
    CHECK(g);
    char *src = NULL;
    CHECK_OK(tj_emit_cuda(g, "sm_90a", NULL, &src));
    CHECK(strstr(src, "schedule: generic"));
    tj_free(src);
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
