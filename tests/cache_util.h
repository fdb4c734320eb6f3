/*
 * cache_util.h — helpers for the cache tests (tests/test_cache*.c):
 * scratch directories, synthetic keys and payloads, stderr capture.
 * Include after harness.h.
 */
#ifndef TJ_CACHE_UTIL_H
#define TJ_CACHE_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"

/* A fresh directory under /tmp (buf >= 64 bytes); 0 on failure. */
static inline int cu_tmpdir(char *buf, size_t size) {
    snprintf(buf, size, "/tmp/tj-cache-test-XXXXXX");
    return mkdtemp(buf) != NULL;
}

static inline int cu_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}
static inline void cu_rm_rf(const char *path) { nftw(path, cu_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Files under `path` whose name starts with `prefix` (tests are
 * single-threaded, so a static counter will do). */
static const char *cu_count_prefix;
static int cu_count_n;
static inline int cu_count_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st;
    if (flag == FTW_F && strncmp(p + f->base, cu_count_prefix, strlen(cu_count_prefix)) == 0)
        cu_count_n++;
    return 0;
}
static inline int cu_count_files(const char *path, const char *prefix) {
    cu_count_prefix = prefix;
    cu_count_n = 0;
    nftw(path, cu_count_one, 16, FTW_PHYS);
    return cu_count_n;
}

/* A synthetic key: a well-formed description with `n` as its symbol
 * value (tests of the store need no graph). */
static inline int cu_key(int n, cache_key *k) {
    char desc[512];
    snprintf(desc, sizeof desc,
             "graph=%064d\nname=t\nsymbols=n=%d\nschedule=generic\narch=sm_90a\n"
             "options=--gpu-architecture=sm_90a\ncodegen=1\ntemplates=%064d\nnvrtc=12.8\n",
             7, n, 9);
    return cache_key_from_desc(desc, k) == TJ_OK;
}

/* Deterministic bytes for seed, never all zeros (malloc'd). */
static inline unsigned char *cu_payload(uint64_t seed, size_t n) {
    unsigned char *p = malloc(n ? n : 1);
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
    for (size_t i = 0; p && i < n; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        p[i] = (unsigned char)((s * 0x2545F4914F6CDD1DULL) >> 56);
    }
    return p;
}

static inline char *cu_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    if (b) b[len] = '\0';
    if (n) *n = (size_t)len;
    fclose(f);
    return b;
}

static inline int cu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* stderr into a file between begin and end; end returns what was written
 * (malloc'd). */
static int cu_saved_stderr = -1;
static char cu_capture_path[64];
static inline void cu_capture_begin(void) {
    fflush(stderr);
    snprintf(cu_capture_path, sizeof cu_capture_path, "/tmp/tj-cache-stderr-XXXXXX");
    int fd = mkstemp(cu_capture_path);
    cu_saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}
static inline char *cu_capture_end(void) {
    fflush(stderr);
    dup2(cu_saved_stderr, 2);
    close(cu_saved_stderr);
    char *s = cu_read_file(cu_capture_path, NULL);
    unlink(cu_capture_path);
    return s ? s : strdup("");
}

static inline int cu_count_substr(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

/* The entry file of key in dir. */
static inline void cu_entry_path(const char *dir, const cache_key *k, char *buf, size_t size) {
    snprintf(buf, size, "%s/v1/%.2s/%.64s.tjc", dir, k->hex, k->hex);
}

#endif
