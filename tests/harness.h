/*
 * harness.h — the tiny test harness every C test uses.
 *
 *   TEST(test_cache_rebuilds_truncated_entry) { CHECK(x == 1); }
 *   int main(void) { return harness_main(); }
 *
 * Each test prints "PASS name" / "FAIL name" / "SKIP name: why"; the last
 * line is "N passed, N failed, N skipped". The exit code is 0 when nothing
 * failed (77 — meson's "skipped" — when every test skipped).
 * Random inputs come from harness_rng(), seeded from TJ_TEST_SEED (or a
 * fixed default); the seed is printed with every failure.
 */
#ifndef TJ_TEST_HARNESS_H
#define TJ_TEST_HARNESS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tilejit.h"

typedef void (*harness_fn)(void);
struct harness_test { const char *name; harness_fn fn; };

#define HARNESS_MAX 1024
static struct harness_test harness_tests[HARNESS_MAX];
static int harness_ntests;
static int harness_failed_now, harness_skipped_now;
static char harness_skip_why[1024];
static uint64_t harness_seed = 0x7131e5eedULL;
static uint64_t harness_state;

#define TEST(fn_name)                                                        \
    static void fn_name(void);                                               \
    __attribute__((constructor)) static void harness_reg_##fn_name(void) {  \
        if (harness_ntests < HARNESS_MAX)                                    \
            harness_tests[harness_ntests++] =                                \
                (struct harness_test){#fn_name, fn_name};                    \
    }                                                                        \
    static void fn_name(void)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed (seed %llu)\n",       \
                    __FILE__, __LINE__, #cond,                               \
                    (unsigned long long)harness_seed);                       \
            harness_failed_now = 1;                                          \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Like CHECK but with a printf-style explanation. */
#define CHECKF(cond, ...)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed (seed %llu): ",       \
                    __FILE__, __LINE__, #cond,                               \
                    (unsigned long long)harness_seed);                       \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            harness_failed_now = 1;                                          \
            return;                                                          \
        }                                                                    \
    } while (0)

/* The call must succeed; prints tj_last_error() when it does not. */
#define CHECK_OK(expr)                                                       \
    do {                                                                     \
        tj_status harness_s_ = (expr);                                       \
        if (harness_s_ != TJ_OK) {                                           \
            fprintf(stderr, "  %s:%d: %s -> %s: %s\n", __FILE__, __LINE__,   \
                    #expr, tj_status_name(harness_s_), tj_last_error());     \
            harness_failed_now = 1;                                          \
            return;                                                          \
        }                                                                    \
    } while (0)

/* The call must fail with `status` and a message containing `substr`. */
#define CHECK_ERR(expr, status, substr)                                      \
    do {                                                                     \
        tj_status harness_s_ = (expr);                                       \
        const char *harness_m_ = tj_last_error();                            \
        if (harness_s_ != (status) || !strstr(harness_m_, (substr))) {       \
            fprintf(stderr,                                                  \
                    "  %s:%d: %s -> %s \"%s\"; wanted %s with \"%s\"\n",     \
                    __FILE__, __LINE__, #expr, tj_status_name(harness_s_),   \
                    harness_m_, tj_status_name(status), (substr));           \
            harness_failed_now = 1;                                          \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Through a function taking a va_list: the reason may be longer than the
 * buffer (paths), and truncating it is fine. */
static inline void harness_skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void harness_skipf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(harness_skip_why, sizeof harness_skip_why, fmt, ap);
    va_end(ap);
    harness_skipped_now = 1;
}

#define SKIP(...)                                                            \
    do {                                                                     \
        harness_skipf(__VA_ARGS__);                                          \
        return;                                                              \
    } while (0)

/* xorshift64*: deterministic for a seed. */
static inline uint64_t harness_next(void) {
    harness_state ^= harness_state >> 12;
    harness_state ^= harness_state << 25;
    harness_state ^= harness_state >> 27;
    return harness_state * 0x2545F4914F6CDD1DULL;
}
/* Uniform in [lo, hi). */
static inline double harness_uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(harness_next() >> 11) * (1.0 / 9007199254740992.0);
}
static inline int64_t harness_randint(int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(harness_next() % (uint64_t)(hi - lo + 1));
}

static inline int harness_main(void) {
    const char *env = getenv("TJ_TEST_SEED");
    if (env && *env) harness_seed = strtoull(env, NULL, 0);
    const char *only = getenv("TJ_TEST_ONLY");
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < harness_ntests; i++) {
        if (only && *only && !strstr(harness_tests[i].name, only)) continue;
        harness_failed_now = harness_skipped_now = 0;
        harness_state = harness_seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
        harness_tests[i].fn();
        if (harness_failed_now) {
            printf("FAIL %s\n", harness_tests[i].name);
            failed++;
        } else if (harness_skipped_now) {
            printf("SKIP %s: %s\n", harness_tests[i].name, harness_skip_why);
            skipped++;
        } else {
            printf("PASS %s\n", harness_tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed) return 1;
    if (skipped && !passed) return 77;
    return 0;
}

#endif
