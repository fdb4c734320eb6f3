/*
 * test_kernel_by_symbol.c — tj_kernel_create_by_symbol without a GPU: each
 * launch goes to the graph serving its symbol value (bounds inclusive),
 * statistics and hooks cover every graph, and graphs whose launch
 * arguments would not fit one another are refused with a clear error.
 * The compile, load and launch are test hooks (kernel_fakes.h): the
 * launched "function" is a text naming the graph it was compiled from.
 */
#include "kernel_fakes.h"

/* The graph the last launch ran, from the fake function's text. */
static int last_was(const char *graph) {
    char want[96];
    snprintf(want, sizeof want, "FAKE %s ", graph);
    return last_fn && strncmp(last_fn, want, strlen(want)) == 0;
}

static tj_kernel *variants(const tj_graph *const *gs, int n, const int64_t *upto) {
    tj_kernel_options o = {ARCH, 0, ""};
    tj_kernel *k = NULL;
    if (tj_kernel_create_by_symbol(gs, n, "e", upto, &o, &k) != TJ_OK) {
        fprintf(stderr, "  tj_kernel_create_by_symbol: %s\n", tj_last_error());
        return NULL;
    }
    kernel_set_test_hooks(k, &all_hooks);
    return k;
}

TEST(test_kernel_by_symbol_launches_the_graph_serving_each_value) {
    fakes_reset();
    tj_graph *g[3] = {policy_graph("short"), policy_graph("middle"), policy_graph("long")};
    CHECK(g[0] && g[1] && g[2]);
    const int64_t upto[2] = {10, 1000};
    tj_kernel *k = variants((const tj_graph *const *)g, 3, upto);
    CHECK(k);
    static const struct { int64_t e; const char *graph; } cs[] = {
        {1, "short"},   {10, "short"},  {11, "middle"}, {1000, "middle"},
        {1001, "long"}, {9, "short"},   {5000, "long"}, {500, "middle"},
    };
    int64_t vals[6];
    for (int i = 0; i < 8; i++) {
        policy_vals(vals, cs[i].e);
        last_fn = NULL;
        CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
        CHECKF(last_was(cs[i].graph), "e=%lld launched '%s', wanted graph '%s'",
               (long long)cs[i].e, last_fn ? last_fn : "nothing", cs[i].graph);
    }
    /* the statistics are the three graphs' together: e is exact, so each
     * value above is its own specialization */
    tj_kernel_stats s = stats(k);
    CHECKF(s.launches == 8 && s.misses == 8 && s.compiles == 8 && s.specializations == 8,
           "launches %llu misses %llu compiles %llu specializations %d",
           (unsigned long long)s.launches, (unsigned long long)s.misses,
           (unsigned long long)s.compiles, s.specializations);
    /* the last values again: a hit in their graph's kernel */
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    CHECK(last_was("middle"));
    s = stats(k);
    CHECK(s.launches == 9 && s.hits == 1 && s.compiles == 8);
    tj_kernel_destroy(k);
    for (int i = 0; i < 3; i++) tj_graph_free(g[i]);
}

TEST(test_kernel_by_symbol_with_one_graph_is_a_plain_kernel) {
    fakes_reset();
    tj_graph *g = policy_graph("only");
    CHECK(g);
    const tj_graph *gs[1] = {g};
    tj_kernel *k = variants(gs, 1, NULL);   /* one graph needs no bounds */
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 123456);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    CHECK(last_was("only"));
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

/* A graph like policy_graph's launch signature in part: symbol e, tensor
 * `a` of dtype dt in and `b` out, one scalar named `scalar`. */
static tj_graph *small(const char *name, const char *sym, tj_policy pol, tj_dtype dt,
                       const char *scalar) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    tj_sym e = tj_symbol(g, sym, pol, pol == TJ_BUCKET_MULTIPLE ? 16 : 0, 1);
    tj_dim d[1] = {tj_dim_sym(e)};
    tj_tensor a = tj_tensor_arg(g, "a", dt, 1, d, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", dt, 1, d, NULL);
    tj_val x = tj_scalar_arg(g, scalar, TJ_F32);
    tj_val zero = tj_const(g, TJ_I32, 0);
    tj_dim t[1] = {16};
    tj_val tile = tj_load(g, a, &zero, 1, t, NULL, 0, 0);
    tj_store(g, b, &zero, tj_mul(g, tj_cast(g, tile, TJ_F32), x), NULL, 0);
    tj_val grid[1] = {tj_const(g, TJ_I32, 1)};
    tj_set_grid(g, 1, grid);
    if (tj_graph_verify(g) != TJ_OK) {
        fprintf(stderr, "  small(%s): %s\n", name, tj_last_error());
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

TEST(test_kernel_by_symbol_refuses_graphs_and_bounds_that_do_not_fit) {
    tj_graph *base = small("base", "e", TJ_EXACT, TJ_F32, "alpha");
    tj_graph *same = small("same", "e", TJ_EXACT, TJ_F32, "alpha");
    tj_graph *other_sym = small("other_sym", "n", TJ_EXACT, TJ_F32, "alpha");
    tj_graph *other_pol = small("other_pol", "e", TJ_BUCKET_MULTIPLE, TJ_F32, "alpha");
    tj_graph *other_dt = small("other_dt", "e", TJ_EXACT, TJ_F16, "alpha");
    tj_graph *other_sc = small("other_sc", "e", TJ_EXACT, TJ_F32, "beta");
    tj_graph *policy = policy_graph("policy");
    CHECK(base && same && other_sym && other_pol && other_dt && other_sc && policy);
    tj_kernel_options o = {ARCH, 0, ""};
    tj_kernel *k = (tj_kernel *)&o;   /* not NULL: an error must clear it */
    const int64_t up[2] = {64, 64}, up1[1] = {64};
    const struct { const char *name; tj_graph **second; const char *want; } cs[] = {
        {"other symbol", &other_sym, "symbol 0 ('n' vs 'e'"},
        {"other policy", &other_pol, "or its policy"},
        {"other dtype", &other_dt, "tensor 0 ('a' vs 'a', or its dtype or rank)"},
        {"other scalar", &other_sc, "scalar 0 ('beta' vs 'alpha'"},
        {"other everything", &policy, "number of symbols"},
    };
    for (int i = 0; i < 5; i++) {
        const tj_graph *gs[2] = {base, *cs[i].second};
        CHECK_ERR(tj_kernel_create_by_symbol(gs, 2, "e", up1, &o, &k), TJ_ERR_INVALID_ARG,
                  cs[i].want);
        CHECKF(strstr(tj_last_error(), "graph 1 ('"), "%s: %s", cs[i].name, tj_last_error());
        CHECK(k == NULL);
    }
    const tj_graph *three[3] = {base, same, same};
    CHECK_ERR(tj_kernel_create_by_symbol(three, 3, "e", up, &o, &k), TJ_ERR_INVALID_ARG,
              "upto[1] = 64 does not exceed upto[0] = 64");
    CHECK_ERR(tj_kernel_create_by_symbol(three, 3, "seq", up, &o, &k), TJ_ERR_INVALID_ARG,
              "graph 'base' has no symbol 'seq'");
    CHECK_ERR(tj_kernel_create_by_symbol(three, 0, "e", up, &o, &k), TJ_ERR_INVALID_ARG,
              "0 graphs (1..8)");
    const tj_graph *nine[9] = {base, base, base, base, base, base, base, base, base};
    const int64_t up8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_ERR(tj_kernel_create_by_symbol(nine, 9, "e", up8, &o, &k), TJ_ERR_INVALID_ARG,
              "9 graphs (1..8)");
    CHECK_ERR(tj_kernel_create_by_symbol(three, 2, "e", NULL, &o, &k), TJ_ERR_INVALID_ARG,
              "upto is NULL");
    const tj_graph *holey[2] = {base, NULL};
    CHECK_ERR(tj_kernel_create_by_symbol(holey, 2, "e", up1, &o, &k), TJ_ERR_INVALID_ARG,
              "graph 1 is NULL");
    CHECK_ERR(tj_kernel_create_by_symbol(three, 2, "e", up1, &o, NULL), TJ_ERR_INVALID_ARG,
              "out is NULL");
    /* and with fitting graphs it works */
    const tj_graph *two[2] = {base, same};
    CHECK_OK(tj_kernel_create_by_symbol(two, 2, "e", up1, &o, &k));
    tj_kernel_destroy(k);
    tj_graph *all[7] = {base, same, other_sym, other_pol, other_dt, other_sc, policy};
    for (int i = 0; i < 7; i++) tj_graph_free(all[i]);
}

int main(void) { return harness_main(); }
