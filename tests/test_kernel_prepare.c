/*
 * test_kernel_prepare.c — tj_kernel_prepare without a GPU: a specialization
 * made ready before any launch (compiled once, loaded, then a hit),
 * handed to the background workers, routed to the graph serving the
 * value, and refused with clear errors. The compile, load and launch are
 * test hooks (kernel_fakes.h).
 */
#include "kernel_fakes.h"

TEST(test_kernel_prepare_compiles_once_and_the_launch_is_a_hit) {
    fakes_reset();
    tj_graph *g = policy_graph("prep");
    CHECK(g);
    tj_kernel *k = make(g, 0, temp_dir());
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 21);
    CHECK_OK(tj_kernel_prepare(k, vals));
    CHECK_OK(tj_kernel_prepare(k, vals));   /* ready: nothing more */
    tj_kernel_stats s = stats(k);
    CHECKF(compiles == 1 && s.compiles == 1 && s.launches == 0 && launches == 0 &&
               s.specializations == 1,
           "compiles %d launches %d", (int)compiles, (int)launches);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    s = stats(k);
    CHECK(compiles == 1 && s.hits == 1 && s.misses == 1 && launches == 1);
    CHECKF(last_fn && strstr(last_fn, " e=21 "), "%s", last_fn ? last_fn : "(none)");
    /* another value of the exact symbol is its own specialization */
    vals[0] = 22;
    CHECK_OK(tj_kernel_prepare(k, vals));
    CHECK(compiles == 2 && stats(k).specializations == 2);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_prepare_in_background_returns_at_once) {
    fakes_reset();
    gate_closed = 1;   /* the specialized compile waits until the gate opens */
    tj_graph *g = policy_graph("prepbg");
    CHECK(g);
    tj_kernel *k = make(g, TJ_KERNEL_BACKGROUND, temp_dir());
    CHECK(k);
    int64_t vals[6] = {40, 100, 10, 5, 64, 9};
    CHECK_OK(tj_kernel_prepare(k, vals));   /* queued: does not wait for the gate */
    CHECK(compiles == 0);
    /* a launch meanwhile takes the dynamic variant */
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    CHECKF(last_fn && strstr(last_fn, " e=dyn "), "%s", last_fn ? last_fn : "(none)");
    gate_open();
    kernel_wait_background(k);
    CHECK_OK(tj_kernel_prepare(k, vals));
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    CHECKF(last_fn && strstr(last_fn, " e=40 "), "%s", last_fn ? last_fn : "(none)");
    tj_kernel_stats s = stats(k);
    CHECKF(s.compiles == 2 && s.fallback_launches == 1 && s.hits == 1,
           "compiles %llu fallbacks %llu hits %llu", (unsigned long long)s.compiles,
           (unsigned long long)s.fallback_launches, (unsigned long long)s.hits);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_prepare_by_symbol_prepares_the_graph_serving_the_value) {
    fakes_reset();
    tj_graph *g[2] = {policy_graph("small"), policy_graph("large")};
    CHECK(g[0] && g[1]);
    const int64_t upto[1] = {50};
    tj_kernel_options o = {ARCH, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create_by_symbol((const tj_graph *const *)g, 2, "e", upto, &o, &k));
    if (!k) return;
    kernel_set_test_hooks(k, &all_hooks);
    int64_t vals[6];
    policy_vals(vals, 60);
    CHECK_OK(tj_kernel_prepare(k, vals));
    CHECK(compiles == 1);
    CHECK_OK(tj_kernel_launch(k, ptrs, scalars, vals, NULL));
    CHECKF(last_fn && !strncmp(last_fn, "FAKE large ", 11), "%s", last_fn ? last_fn : "(none)");
    tj_kernel_stats s = stats(k);
    CHECK(compiles == 1 && s.hits == 1);
    tj_kernel_destroy(k);
    tj_graph_free(g[0]);
    tj_graph_free(g[1]);
}

TEST(test_kernel_prepare_refuses_bad_input_and_reports_compile_errors) {
    fakes_reset();
    tj_graph *g = policy_graph("prepbad");
    CHECK(g);
    tj_kernel *k = make(g, 0, "");
    CHECK(k);
    int64_t vals[6];
    policy_vals(vals, 7);
    CHECK_ERR(tj_kernel_prepare(NULL, vals), TJ_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(tj_kernel_prepare(k, NULL), TJ_ERR_INVALID_ARG, "sym_vals");
    vals[4] = 65;   /* v must be a multiple of 64 */
    CHECK_ERR(tj_kernel_prepare(k, vals), TJ_ERR_INVALID_ARG, "v");
    CHECK(compiles == 0);
    vals[4] = 128;
    compile_fails = TJ_ERR_COMPILE;
    CHECK_ERR(tj_kernel_prepare(k, vals), TJ_ERR_COMPILE, "on purpose");
    /* the launch of that key reports the same failure, without a second compile */
    CHECK_ERR(tj_kernel_launch(k, ptrs, scalars, vals, NULL), TJ_ERR_COMPILE, "on purpose");
    CHECK(compiles == 1 && launches == 0);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_kernel_prepare_cleanup_temp_dirs) { cleanup_temp_dirs(); }

int main(void) { return harness_main(); }
