/*
 * golden.h — whole-file reads and golden-text comparisons for the tests
 * that pin emitted source (tests/golden/). Needs TJ_SOURCE_ROOT (the
 * meson c_args of those tests).
 */
#ifndef TJ_TESTS_GOLDEN_H
#define TJ_TESTS_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static inline char *golden_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

#ifdef TJ_SOURCE_ROOT
/* Compare src with tests/golden/NAME, or rewrite it when TJ_REGEN_GOLDEN=1. */
static inline int golden_matches(const char *name, const char *src) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/golden/%s", TJ_SOURCE_ROOT, name);
    const char *regen = getenv("TJ_REGEN_GOLDEN");
    if (regen && !strcmp(regen, "1")) {
        FILE *f = fopen(path, "wb");
        if (!f) return 0;
        fputs(src, f);
        fclose(f);
        return 1;
    }
    char *want = golden_read_file(path);
    int ok = want && !strcmp(want, src);
    if (!ok) fprintf(stderr, "  %s differs from the emitted text (TJ_REGEN_GOLDEN=1 to rewrite)\n", path);
    free(want);
    return ok;
}
#endif

#endif
