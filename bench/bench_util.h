/*
 * bench_util.h — what the GPU benchmarks share: random device buffers and
 * event-timed medians. Header-only (each benchmark is one executable);
 * the includer defines DIE(...) first, and sets BENCH_RAND_SCALE (the
 * values are uniform in [-scale, scale); default 1).
 */
#ifndef TJ_BENCH_UTIL_H
#define TJ_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#include "driver.h"

#ifndef BENCH_RAND_SCALE
#define BENCH_RAND_SCALE 1.0
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static float frand(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t x = rng_state * 0x2545F4914F6CDD1DULL;
    return (float)(((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0) * BENCH_RAND_SCALE);
}

/* A device buffer of n elements of dtype filled with random values. */
static inline drv_ptr device_random(tj_dtype dt, size_t n) {
    size_t es = tj_dtype_size(dt), chunk = (size_t)1 << 22;
    drv_ptr p;
    if (drv_mem_alloc(n * es, &p) != TJ_OK) DIE("alloc %zu bytes", n * es);
    float *f = malloc(chunk * sizeof(float));
    void *h = malloc(chunk * es);
    for (size_t off = 0; off < n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        for (size_t i = 0; i < m; i++) f[i] = frand();
        tj_convert(dt, h, TJ_F32, f, m);
        if (drv_memcpy_htod(p + off * es, h, m * es) != TJ_OK) DIE("copy");
    }
    free(f);
    free(h);
    return p;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median milliseconds of `reps` event-timed calls of fn(ctx), after 3. */
typedef void (*bench_fn)(void *ctx);
static float time_median(bench_fn fn, void *ctx, int reps) {
    void *e0, *e1;
    drv_event_create(&e0);
    drv_event_create(&e1);
    for (int i = 0; i < 3; i++) fn(ctx);
    drv_context_sync();
    float *ms = malloc(sizeof(float) * (size_t)reps);
    for (int i = 0; i < reps; i++) {
        drv_event_record(e0, NULL);
        fn(ctx);
        drv_event_record(e1, NULL);
        drv_event_sync(e1);
        drv_event_elapsed_ms(e0, e1, &ms[i]);
    }
    qsort(ms, (size_t)reps, sizeof(float), cmp_float);
    float med = ms[reps / 2];
    free(ms);
    drv_event_destroy(e0);
    drv_event_destroy(e1);
    return med;
}

#endif
