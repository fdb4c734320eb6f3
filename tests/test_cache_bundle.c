/*
 * test_cache_bundle.c — bundles (write, open, look up, damage), and what
 * `tilejit cache ls|stats|verify|clear|explain` stands on.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "harness.h"
#include "cache_util.h"

/* ---- bundles ---------------------------------------------------------- */

enum { NB = 40 };

typedef struct bundle_fixture {
    char dir[64], path[128];
    cache_key k[NB];
    unsigned char *data[NB];
    size_t size[NB];
} bundle_fixture;

/* NB random keys and payloads (sizes not multiples of 16), added in a
 * random order with some added twice. */
static int bundle_make(bundle_fixture *f) {
    memset(f, 0, sizeof *f);
    if (!cu_tmpdir(f->dir, sizeof f->dir)) return 0;
    snprintf(f->path, sizeof f->path, "%s/b.tjb", f->dir);
    for (int i = 0; i < NB; i++) {
        if (!cu_key((int)harness_randint(1, 1 << 30), &f->k[i])) return 0;
        f->size[i] = (size_t)harness_randint(1, 20000);
        f->data[i] = cu_payload(harness_next(), f->size[i]);
    }
    cache_bundle_writer *w;
    if (cache_bundle_writer_open(f->path, &w) != TJ_OK) return 0;
    int order[NB];
    for (int i = 0; i < NB; i++) order[i] = i;
    for (int i = NB - 1; i > 0; i--) {
        int j = (int)harness_randint(0, i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int i = 0; i < NB; i++) {
        int j = order[i];
        if (cache_bundle_writer_add(w, &f->k[j], f->data[j], f->size[j]) != TJ_OK) return 0;
        if (i % 7 == 0 && cache_bundle_writer_add(w, &f->k[j], "other", 5) != TJ_OK) return 0;
    }
    return cache_bundle_writer_close(w) == TJ_OK;
}

static void bundle_free(bundle_fixture *f) {
    for (int i = 0; i < NB; i++) {
        cache_key_free(&f->k[i]);
        free(f->data[i]);
    }
    cu_rm_rf(f->dir);
}

TEST(test_bundle_round_trip_finds_every_cubin) {
    bundle_fixture f;
    CHECK(bundle_make(&f));
    cache_bundle *b;
    CHECK_OK(cache_bundle_open(f.path, &b));
    CHECK(cache_bundle_count(b) == NB && strcmp(cache_bundle_path(b), f.path) == 0);
    for (int i = 0; i < NB; i++) {
        const void *p;
        size_t n;
        CHECK_OK(cache_bundle_find(b, f.k[i].hex, &p, &n));
        CHECK(n == f.size[i] && memcmp(p, f.data[i], n) == 0);   /* the first add won */
        CHECK((uintptr_t)p % 16 == 0);
    }
    cache_key other;
    CHECK(cu_key(-1, &other));
    const void *p;
    size_t n;
    CHECK_ERR(cache_bundle_find(b, other.hex, &p, &n), TJ_ERR_IO, "not in bundle");
    CHECK_ERR(cache_bundle_find(b, "abc", &p, &n), TJ_ERR_IO, "not in bundle");
    char prev[65] = "";
    for (size_t i = 0; i < cache_bundle_count(b); i++) {
        cache_entry_info e;
        CHECK_OK(cache_bundle_entry(b, i, &e));
        CHECK(strcmp(prev, e.hex) < 0);   /* sorted */
        memcpy(prev, e.hex, 65);
        int j;
        for (j = 0; j < NB && strcmp(f.k[j].hex, e.hex) != 0; j++) {}
        CHECK(j < NB && strcmp(e.desc, f.k[j].desc) == 0 && e.payload_bytes == f.size[j]);
        free(e.desc);
        free(e.path);
    }
    cache_key_free(&other);
    cache_bundle_close(b);
    CHECK(cu_count_files(f.dir, "b.tjb.tmp") == 0);
    bundle_free(&f);
}

TEST(test_bundle_with_no_entries_opens) {
    char dir[64], path[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/empty.tjb", dir);
    cache_bundle_writer *w;
    CHECK_OK(cache_bundle_writer_open(path, &w));
    CHECK_OK(cache_bundle_writer_close(w));
    cache_bundle *b;
    CHECK_OK(cache_bundle_open(path, &b));
    CHECK(cache_bundle_count(b) == 0);
    cache_key k;
    CHECK(cu_key(1, &k));
    const void *p;
    size_t n;
    CHECK_ERR(cache_bundle_find(b, k.hex, &p, &n), TJ_ERR_IO, "not in bundle");
    cache_key_free(&k);
    cache_bundle_close(b);
    cu_rm_rf(dir);
}

static void flip_byte(const char *path, long off) {
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd >= 0 && pread(fd, &c, 1, off) == 1) {
        c ^= (unsigned char)(1u << harness_randint(0, 7));
        if (pwrite(fd, &c, 1, off) != 1) perror("pwrite");
    }
    if (fd >= 0) close(fd);
}

/* Damage in the header, truncation and a newer format are refused at
 * open. */
TEST(test_bundle_damaged_header_is_rejected_at_open) {
    bundle_fixture f;
    CHECK(bundle_make(&f));
    size_t size;
    char *good = cu_read_file(f.path, &size);
    CHECK(good);
    for (int round = 0; round < 7; round++) {
        CHECK(cu_write_file(f.path, good, size));
        const char *want = "damaged";
        if (round < 4) {
            flip_byte(f.path, (long)harness_randint(12, 159));
        } else if (round < 6) {
            CHECK(truncate(f.path, (off_t)harness_randint(0, (int64_t)size - 1)) == 0);
        } else {
            int fd = open(f.path, O_RDWR);
            unsigned char v = 2;
            CHECK(fd >= 0 && pwrite(fd, &v, 1, 8) == 1);
            close(fd);
            want = "newer";
        }
        cache_bundle *b = NULL;
        CHECK_ERR(cache_bundle_open(f.path, &b), TJ_ERR_IO, want);
        CHECK(b == NULL && strstr(tj_last_error(), f.path));
    }
    cache_bundle *b;
    CHECK_ERR(cache_bundle_open("/nonexistent/x.tjb", &b), TJ_ERR_IO, "/nonexistent/x.tjb");
    free(good);
    bundle_free(&f);
}

/* Damage anywhere in the index or the descriptions: the bundle is refused
 * at open, or the entries it touches are refused at their first use; no
 * key is ever given another's bytes, and verify finds it. */
TEST(test_bundle_damaged_index_never_serves_wrong_bytes) {
    bundle_fixture f;
    CHECK(bundle_make(&f));
    size_t size;
    char *good = cu_read_file(f.path, &size);
    CHECK(good);
    long meta_end = 160 + NB * 128 + 200;   /* into the descriptions */
    int refused_at_open = 0;
    for (int round = 0; round < 40; round++) {
        CHECK(cu_write_file(f.path, good, size));
        flip_byte(f.path, (long)harness_randint(160, meta_end));
        cache_bundle *b = NULL;
        cu_capture_begin();
        tj_status s = cache_bundle_open(f.path, &b);
        if (s != TJ_OK) {
            char *err = cu_capture_end();
            free(err);
            CHECKF(s == TJ_ERR_IO && strstr(tj_last_error(), "damaged"), "%s", tj_last_error());
            refused_at_open++;
            continue;
        }
        for (int i = 0; i < NB; i++) {
            const void *p;
            size_t n;
            if (cache_bundle_find(b, f.k[i].hex, &p, &n) == TJ_OK)
                CHECKF(n == f.size[i] && memcmp(p, f.data[i], n) == 0, "round %d key %d", round, i);
        }
        CHECK_ERR(cache_bundle_verify(b, NULL), TJ_ERR_IO, "damaged");
        char *err = cu_capture_end();
        free(err);
        cache_bundle_close(b);
    }
    CHECK(cu_write_file(f.path, good, size));
    cache_bundle *b;
    size_t nbad = 1;
    CHECK_OK(cache_bundle_open(f.path, &b));
    CHECK_OK(cache_bundle_verify(b, &nbad));
    CHECK(nbad == 0);
    cache_bundle_close(b);
    (void)refused_at_open;
    free(good);
    bundle_free(&f);
}

/* Damage in a payload is found on its first use, reported once, and only
 * that cubin is refused. */
TEST(test_bundle_damaged_payload_is_refused_and_reported_once) {
    bundle_fixture f;
    CHECK(bundle_make(&f));
    cache_bundle *b;
    CHECK_OK(cache_bundle_open(f.path, &b));
    int victim = (int)harness_randint(0, NB - 1);
    const void *p;
    size_t n;
    CHECK_OK(cache_bundle_find(b, f.k[victim].hex, &p, &n));
    CHECK_OK(cache_bundle_find(b, f.k[victim].hex, &p, &n));   /* checked once is enough */
    cache_entry_info e;
    size_t idx = 0;
    for (; idx < cache_bundle_count(b); idx++) {
        CHECK_OK(cache_bundle_entry(b, idx, &e));
        int match = strcmp(e.hex, f.k[victim].hex) == 0;
        free(e.desc);
        free(e.path);
        if (match) break;
    }
    cache_bundle_close(b);
    /* the index entry's payload offset: bytes 64..71 of entry idx */
    int fd = open(f.path, O_RDWR);
    unsigned char le[8];
    CHECK(fd >= 0 && pread(fd, le, 8, (off_t)(160 + idx * 128 + 64)) == 8);
    close(fd);
    uint64_t poff = 0;
    for (int i = 7; i >= 0; i--) poff = poff << 8 | le[i];
    flip_byte(f.path, (long)(poff + (uint64_t)harness_randint(0, (int64_t)f.size[victim] - 1)));
    CHECK_OK(cache_bundle_open(f.path, &b));
    for (int round = 0; round < 2; round++) {
        cu_capture_begin();
        tj_status s = cache_bundle_find(b, f.k[victim].hex, &p, &n);
        char *err = cu_capture_end();
        CHECKF(s == TJ_ERR_IO && strstr(tj_last_error(), "damaged"), "%s", tj_last_error());
        CHECKF(cu_count_substr(err, "is damaged") == (round == 0), "round %d: %s", round, err);
        free(err);
    }
    for (int i = 0; i < NB; i++)
        if (i != victim) CHECK_OK(cache_bundle_find(b, f.k[i].hex, &p, &n));
    cache_bundle_close(b);
    bundle_free(&f);
}

TEST(test_bundle_writer_refuses_bad_input_and_unwritable_path) {
    cache_bundle_writer *w;
    CHECK_ERR(cache_bundle_writer_open("", &w), TJ_ERR_INVALID_ARG, "no path");
    CHECK_OK(cache_bundle_writer_open("/nonexistent-dir/b.tjb", &w));
    cache_key k;
    CHECK(cu_key(3, &k));
    CHECK_ERR(cache_bundle_writer_add(w, &k, NULL, 3), TJ_ERR_INVALID_ARG, "NULL");
    CHECK_OK(cache_bundle_writer_add(w, &k, "abc", 3));
    CHECK_ERR(cache_bundle_writer_close(w), TJ_ERR_IO, "/nonexistent-dir/b.tjb");
    CHECK_OK(cache_bundle_writer_open("/tmp/never.tjb", &w));
    cache_bundle_writer_discard(w);
    CHECK(access("/tmp/never.tjb", F_OK) != 0);
    cache_key_free(&k);
}

/* ---- listing, stats, verify, clear, explain ------------------------------ */

static cache_dir *open_dir(const char *path) {
    cache_dir *d = NULL;
    return cache_dir_open(path, &d) == TJ_OK ? d : NULL;
}

typedef struct reports {
    int n;
    char last[512];
} reports;
static void on_report(const char *path, const char *problem, void *user) {
    reports *r = user;
    r->n++;
    snprintf(r->last, sizeof r->last, "%s: %s", path, problem);
}

TEST(test_cache_list_stats_verify_and_clear) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d);
    enum { N = 12 };
    cache_key k[N];
    uint64_t bytes = 0;
    for (int i = 0; i < N; i++) {
        CHECK(cu_key(100 + i, &k[i]));
        size_t n = (size_t)harness_randint(10, 5000);
        unsigned char *p = cu_payload((uint64_t)i, n);
        CHECK_OK(cache_put(d, &k[i], p, n));
        free(p);
        char path[256];
        struct stat st;
        cu_entry_path(dir, &k[i], path, sizeof path);
        CHECK(stat(path, &st) == 0);
        bytes += (uint64_t)st.st_size;
        struct timespec ts[2] = {{time(NULL) - 1000 + i, 0}, {0, UTIME_OMIT}};
        utimensat(AT_FDCWD, path, ts, 0);
    }
    cache_entry_info *list;
    size_t n;
    CHECK_OK(cache_list(d, &list, &n));
    CHECK(n == N);
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(list[i].hex, k[N - 1 - i].hex) == 0);   /* most recently used first */
        CHECK(list[i].desc && strcmp(list[i].desc, k[N - 1 - i].desc) == 0);
        CHECK(list[i].payload_bytes > 0 && list[i].file_bytes > list[i].payload_bytes);
        CHECK(list[i].created > 0 && strstr(list[i].path, list[i].hex));
    }
    cache_list_free(list, n);
    cache_stats s;
    CHECK_OK(cache_stats_get(d, &s));
    CHECK(s.entries == N && s.bytes == bytes && s.temp_files == 0 && s.oldest_use < s.newest_use);
    /* damage one; verify finds it, repair removes it */
    int victim = (int)harness_randint(0, N - 1);
    char path[256];
    cu_entry_path(dir, &k[victim], path, sizeof path);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(truncate(path, st.st_size - 1) == 0);
    reports r = {0};
    size_t ok, bad;
    CHECK_OK(cache_verify_all(d, 0, on_report, &r, &ok, &bad));
    CHECK(ok == N - 1 && bad == 1 && r.n == 1 && strstr(r.last, k[victim].hex) && strstr(r.last, "truncated"));
    CHECK(access(path, F_OK) == 0);
    CHECK_OK(cache_verify_all(d, 1, NULL, NULL, &ok, &bad));
    CHECK(bad == 1 && access(path, F_OK) != 0);
    CHECK_OK(cache_verify_all(d, 0, NULL, NULL, &ok, &bad));
    CHECK(ok == N - 1 && bad == 0);
    size_t removed;
    CHECK_OK(cache_clear(d, &removed));
    CHECK(removed == N - 1);
    CHECK_OK(cache_stats_get(d, &s));
    CHECK(s.entries == 0 && s.bytes == 0);
    for (int i = 0; i < N; i++) cache_key_free(&k[i]);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

/* A description with symbol n = v and arch. */
static int key_at(int v, const char *arch, cache_key *k) {
    char desc[512];
    snprintf(desc, sizeof desc,
             "graph=%064d\nname=t\nsymbols=n=%d\nschedule=generic\narch=%s\n"
             "options=--gpu-architecture=%s\ncodegen=1\ntemplates=%064d\nnvrtc=12.8\n",
             7, v, arch, arch, 9);
    return cache_key_from_desc(desc, k) == TJ_OK;
}

TEST(test_cache_explain_names_the_component_that_missed) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d);
    cache_key have, far, want, other_arch;
    CHECK(key_at(128, "sm_90a", &have) && key_at(4096, "sm_80", &far));
    CHECK(key_at(256, "sm_90a", &want) && key_at(128, "sm_80", &other_arch));
    CHECK_OK(cache_put(d, &have, "cubin", 5));
    CHECK_OK(cache_put(d, &far, "cubin", 5));
    cache_explanation e;
    CHECK_OK(cache_explain(d, NULL, 0, want.desc, &e));
    CHECK(e.found && !e.exact && e.ndiff == 1 && strcmp(e.nearest.hex, have.hex) == 0);
    CHECKF(strcmp(e.report, "symbols: n wanted 256, entry has 128\n") == 0, "%s", e.report);
    cache_explanation_free(&e);
    CHECK_OK(cache_explain(d, NULL, 0, have.desc, &e));
    CHECK(e.found && e.exact && e.ndiff == 0);
    cache_explanation_free(&e);
    /* a bundle is searched too, and its entry is nearer */
    char bpath[128];
    snprintf(bpath, sizeof bpath, "%s/x.tjb", dir);
    cache_bundle_writer *w;
    CHECK_OK(cache_bundle_writer_open(bpath, &w));
    CHECK_OK(cache_bundle_writer_add(w, &other_arch, "cubin", 5));
    CHECK_OK(cache_bundle_writer_close(w));
    cache_bundle *b;
    CHECK_OK(cache_bundle_open(bpath, &b));
    cache_key want80;
    CHECK(key_at(128, "sm_80", &want80));
    CHECK_OK(cache_explain(d, &b, 1, want80.desc, &e));
    CHECK(e.exact && strcmp(e.nearest.path, bpath) == 0);
    cache_explanation_free(&e);
    /* nothing at all */
    CHECK_OK(cache_clear(d, NULL));
    CHECK_OK(cache_explain(d, NULL, 0, want.desc, &e));
    CHECK(!e.found && strcmp(e.report, "") == 0);
    cache_explanation_free(&e);
    cache_bundle_close(b);
    cache_key_free(&have);
    cache_key_free(&far);
    cache_key_free(&want);
    cache_key_free(&want80);
    cache_key_free(&other_arch);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

int main(void) { return harness_main(); }
