/*
 * test_cache_compiler.c — the compiler stamp: an entry compiled by
 * another NVRTC than the one the cache now compiles with is a miss and is
 * rebuilt, without a lookup ever loading NVRTC to learn its version.
 */
#include <sys/stat.h>

#include "harness.h"
#include "cache_util.h"

/* cu_key with the entry's compiler set to `nvrtc`. */
static int key_by(int n, const char *nvrtc, cache_key *k) {
    char desc[512];
    snprintf(desc, sizeof desc,
             "graph=%064d\nname=t\nsymbols=n=%d\nschedule=auto\narch=sm_90a\n"
             "options=--gpu-architecture=sm_90a\ncodegen=2\ntemplates=%064d\nnvrtc=%s\n",
             7, n, 9, nvrtc);
    return cache_key_from_desc(desc, k) == TJ_OK;
}

static cache_dir *open_dir(const char *path) {
    cache_dir *d = NULL;
    return cache_dir_open(path, &d) == TJ_OK ? d : NULL;
}

static int served(cache_dir *d, const cache_key *k) {
    void *got = NULL;
    size_t n = 0;
    tj_status st = cache_get(d, k, &got, &n);
    free(got);
    return st == TJ_OK;
}

TEST(test_cache_compiler_stamp_follows_the_newest_put_and_persists) {
    char dir[64], c[32];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d);
    cache_dir_compiler(d, c, sizeof c);
    CHECK(c[0] == '\0');
    cache_key a, b;
    int n = (int)harness_randint(1, 1 << 20);
    CHECK(key_by(n, "12.8", &a) && key_by(n + 1, "13.0", &b));
    unsigned char *p = cu_payload(harness_next(), 1000);
    CHECK_OK(cache_put(d, &a, p, 1000));
    cache_dir_compiler(d, c, sizeof c);
    CHECK(strcmp(c, "12.8") == 0);
    CHECK_OK(cache_put(d, &b, p, 1000));
    cache_dir_compiler(d, c, sizeof c);
    CHECK(strcmp(c, "13.0") == 0);
    cache_dir *d2 = open_dir(dir);   /* another process's view */
    cache_dir_compiler(d2, c, sizeof c);
    CHECK(strcmp(c, "13.0") == 0);
    CHECK(cu_count_files(dir, ".tmp.") == 0);
    cache_dir_close(d2);
    cache_dir_close(d);
    cache_key_free(&a);
    cache_key_free(&b);
    free(p);
    cu_rm_rf(dir);
}

TEST(test_cache_entry_from_an_older_compiler_is_rebuilt) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    int n = (int)harness_randint(1, 1 << 20);
    cache_key old, other, fresh, unknown;
    CHECK(key_by(n, "12.8", &old) && key_by(n + 7, "13.0", &other) && key_by(n, "13.0", &fresh) &&
          key_by(n + 9, "unknown", &unknown));
    /* The key leaves the version out: old and fresh name one entry. */
    CHECK(strcmp(old.hex, fresh.hex) == 0);
    unsigned char *p = cu_payload(harness_next(), 4096), *q = cu_payload(harness_next(), 4096);
    cache_dir *d = open_dir(dir);
    CHECK_OK(cache_put(d, &old, p, 4096));
    CHECK_OK(cache_put(d, &unknown, p, 4096));
    cache_dir_close(d);
    d = open_dir(dir);
    CHECK(served(d, &old));                      /* the stamp is 12.8 */
    CHECK_OK(cache_put(d, &other, p, 4096));     /* a compile by 13.0 moves it */
    cache_dir *d2 = open_dir(dir);               /* a fresh process, NVRTC not loaded */
    CHECK_ERR(cache_get(d2, &old, &(void *){NULL}, &(size_t){0}), TJ_ERR_IO,
              "compiled by NVRTC 12.8, not 13.0");
    CHECK(served(d2, &unknown));                 /* no version recorded: kept */
    CHECK_OK(cache_put(d2, &fresh, q, 4096));    /* the rebuild replaces it */
    void *got = NULL;
    size_t gn = 0;
    CHECK_OK(cache_get(d2, &fresh, &got, &gn));
    CHECK(gn == 4096 && memcmp(got, q, gn) == 0);
    free(got);
    cache_dir_close(d2);
    cache_dir_close(d);
    cache_key_free(&old);
    cache_key_free(&other);
    cache_key_free(&fresh);
    cache_key_free(&unknown);
    free(p);
    free(q);
    cu_rm_rf(dir);
}

int main(void) { return harness_main(); }
