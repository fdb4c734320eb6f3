/*
 * test_cache.c — the cache key, the disk store (one process) and bundles.
 * Many processes at once, kill -9 mid-write and real small or read-only
 * file systems are in test_cache_procs.c.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "cache_util.h"
#include "ir.h"
#include "nvrtc.h"

/* ---- the key -------------------------------------------------------- */

/* y = x * 2 over tiles of `tile`, with one symbol of each policy. */
static tj_graph *key_graph(int tile, const char *name) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    tj_sym e = tj_symbol(g, "e", TJ_EXACT, 0, 1);
    tj_sym p = tj_symbol(g, "p", TJ_BUCKET_POW2, 0, 1);
    tj_sym m = tj_symbol(g, "m", TJ_BUCKET_MULTIPLE, 64, 1);
    tj_sym d = tj_symbol(g, "d", TJ_DYNAMIC, 0, 1);
    tj_dim dims[4] = {tj_dim_sym(e), tj_dim_sym(p), tj_dim_sym(m), tj_dim_sym(d)};
    tj_dim tl[1] = {tile};
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, &dims[1], NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, &dims[1], NULL);
    tj_tensor other = tj_tensor_arg(g, "z", TJ_F32, 4, dims, NULL);
    (void)other;
    tj_val pid = tj_program_id(g, 0);
    tj_val a = tj_load(g, x, &pid, 1, tl, NULL, 0.0, 0);
    tj_store(g, y, &pid, tj_mul(g, a, tj_const(g, TJ_F32, 2.0)), NULL, 0);
    tj_val grid = tj_binary(g, TJ_CDIV, tj_symval(g, p), tj_const(g, TJ_I32, tile));
    tj_set_grid(g, 1, &grid);
    if (tj_graph_status(g) != TJ_OK) {
        tj_graph_free(g);
        return NULL;
    }
    return g;
}

TEST(test_cache_specialize_follows_each_policy) {
    tj_graph *g = key_graph(128, "k");
    CHECK(g);
    int64_t e = harness_randint(1, 5000), p = harness_randint(3, 5000), m = harness_randint(1, 5000);
    int64_t vals[4] = {e, p, m, harness_randint(1, 5000)}, spec[4];
    cache_specialize(g, vals, spec);
    int64_t pow2 = 1;
    while (pow2 < p) pow2 <<= 1;
    CHECK(spec[0] == e);
    CHECK(spec[1] == pow2);
    CHECK(spec[2] == (m + 63) / 64 * 64);
    CHECK(spec[3] == TJ_UNBOUND);
    vals[0] = TJ_UNBOUND;
    cache_specialize(g, vals, spec);
    CHECK(spec[0] == TJ_UNBOUND);
    tj_graph_free(g);
}

/* The key is the SHA-256 of the description without its nvrtc= line. */
TEST(test_cache_key_is_sha256_of_description_lines) {
    tj_graph *g = key_graph(128, "k");
    CHECK(g);
    int64_t spec[4] = {harness_randint(1, 99), 256, 128, TJ_UNBOUND};
    cache_key k;
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", "12.8", "--opt", &k));
    char gh[65], want[256];
    CHECK_OK(tj_graph_hash(g, gh));
    const char *comps[] = {"graph=", "name=k\n", "schedule=generic\n", "arch=sm_90a\n",
                           "options=--opt\n", "codegen=", "templates=", "nvrtc=12.8\n"};
    for (size_t i = 0; i < sizeof comps / sizeof *comps; i++) CHECKF(strstr(k.desc, comps[i]), "%s", comps[i]);
    snprintf(want, sizeof want, "symbols=e=%lld p=256 m=128 d=dynamic\n", (long long)spec[0]);
    CHECKF(strstr(k.desc, want), "%s", k.desc);
    snprintf(want, sizeof want, "graph=%s\n", gh);
    CHECK(strstr(k.desc, want) == k.desc);
    const char *nv = strstr(k.desc, "nvrtc=");
    CHECK(nv && strchr(nv, '\n')[1] == '\0');   /* the last line */
    char hex[65];
    ir_sha256_hex(k.desc, (size_t)(nv - k.desc), hex);
    CHECK(strcmp(hex, k.hex) == 0);
    cache_key_free(&k);
    tj_graph_free(g);
}

static int same_key(const cache_key *a, const cache_key *b) { return strcmp(a->hex, b->hex) == 0; }

TEST(test_cache_key_changes_with_every_hashed_component) {
    tj_graph *g = key_graph(128, "k"), *g2 = key_graph(64, "k");
    CHECK(g && g2);
    int64_t spec[4] = {100, 256, 128, TJ_UNBOUND};
    cache_key base, k;
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", "12.8", "-O3", &base));
    /* graph */
    CHECK_OK(cache_key_make(g2, spec, "generic", "sm_90a", "12.8", "-O3", &k));
    CHECK(!same_key(&base, &k));
    cache_key_free(&k);
    /* each symbol's specialized value */
    for (int s = 0; s < 3; s++) {
        int64_t sp[4] = {100, 256, 128, TJ_UNBOUND};
        sp[s] += harness_randint(1, 64) * 64;
        CHECK_OK(cache_key_make(g, sp, "generic", "sm_90a", "12.8", "-O3", &k));
        CHECKF(!same_key(&base, &k), "symbol %d", s);
        cache_key_free(&k);
    }
    int64_t sp[4] = {100, 256, 128, 77};   /* a dynamic symbol given a value */
    CHECK_OK(cache_key_make(g, sp, "generic", "sm_90a", "12.8", "-O3", &k));
    CHECK(!same_key(&base, &k));
    cache_key_free(&k);
    /* schedule, arch (its suffix too), options */
    CHECK_OK(cache_key_make(g, spec, "hopper", "sm_90a", "12.8", "-O3", &k));
    CHECK(!same_key(&base, &k));
    cache_key_free(&k);
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90", "12.8", "-O3", &k));
    CHECK(!same_key(&base, &k));
    cache_key_free(&k);
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", "12.8", "-O2", &k));
    CHECK(!same_key(&base, &k));
    cache_key_free(&k);
    /* the codegen line is the version and the generator's digest (16 hex
     * digits, built from gen/) */
    {
        char want[64];
        snprintf(want, sizeof want, "\ncodegen=%d.%s\n", CACHE_CODEGEN_VERSION,
                 tj_codegen_digest());
        CHECKF(strstr(base.desc, want) && strlen(tj_codegen_digest()) == 16 &&
                   strspn(tj_codegen_digest(), "0123456789abcdef") == 16,
               "%s", base.desc);
    }
    /* codegen version, generator digest and templates hash: edit the
     * description's line */
    const char *lines[] = {"codegen=", "templates=", "codegen=3."};
    for (int i = 0; i < 3; i++) {
        char *d = strdup(base.desc);
        char *v = strstr(d, lines[i]) + strlen(lines[i]);
        *v = *v == '9' ? '8' : (char)(*v + 1);
        CHECK_OK(cache_key_from_desc(d, &k));
        CHECKF(!same_key(&base, &k), "%s", lines[i]);
        cache_key_free(&k);
        free(d);
    }
    /* the NVRTC version is recorded, not hashed (cache.h) */
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", "13.0", "-O3", &k));
    CHECK(same_key(&base, &k) && strcmp(base.desc, k.desc) != 0);
    cache_key_free(&k);
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", NULL, "-O3", &k));
    CHECK(same_key(&base, &k) && strstr(k.desc, "nvrtc=unknown\n"));
    cache_key_free(&k);
    /* the same inputs: the same key */
    CHECK_OK(cache_key_make(g, spec, "generic", "sm_90a", "12.8", "-O3", &k));
    CHECK(same_key(&base, &k) && strcmp(base.desc, k.desc) == 0);
    cache_key_free(&k);
    cache_key_free(&base);
    tj_graph_free(g);
    tj_graph_free(g2);
}

TEST(test_cache_key_rejects_line_breaks_and_missing_values) {
    tj_graph *g = key_graph(128, "k");
    CHECK(g);
    int64_t spec[4] = {1, 2, 64, TJ_UNBOUND};
    cache_key k;
    CHECK_ERR(cache_key_make(g, spec, "generic", "sm_90a\n", NULL, "", &k), TJ_ERR_INVALID_ARG,
              "line break");
    CHECK(k.desc == NULL);
    CHECK_ERR(cache_key_make(g, spec, "generic", "sm_90a", NULL, "a\nb", &k), TJ_ERR_INVALID_ARG,
              "options");
    CHECK_ERR(cache_key_make(g, NULL, "generic", "sm_90a", NULL, "", &k), TJ_ERR_INVALID_ARG,
              "4 symbols");
    CHECK_ERR(cache_key_make_hashed(g, "xyz", spec, "generic", "sm_90a", NULL, "", &k),
              TJ_ERR_INVALID_ARG, "hex");
    tj_graph_free(g);
}

/* cache_key_for_compile = specialize + "auto" + nvrtc_options. */
TEST(test_cache_key_for_compile_matches_its_parts) {
    tj_graph *g = key_graph(128, "k");
    CHECK(g);
    int64_t vals[4] = {harness_randint(1, 999), harness_randint(1, 999), harness_randint(1, 999),
                       harness_randint(1, 999)}, spec[4];
    cache_specialize(g, vals, spec);
    nvrtc_request req = {0};
    req.source = "";
    req.arch = "sm_80";
    char *opts = NULL, gh[65];
    CHECK_OK(nvrtc_options(&req, &opts));
    CHECK_OK(tj_graph_hash(g, gh));
    cache_key a, b, c;
    CHECK_OK(cache_key_make(g, spec, "auto", "sm_80", NULL, opts, &a));
    CHECK_OK(cache_key_for_compile(g, NULL, vals, "sm_80", NULL, &b));
    CHECK_OK(cache_key_for_compile(g, gh, vals, "sm_80", "12.0", &c));
    CHECK(strcmp(a.desc, b.desc) == 0 && same_key(&a, &c));
    free(opts);
    cache_key_free(&a);
    cache_key_free(&b);
    cache_key_free(&c);
    tj_graph_free(g);
}

TEST(test_cache_desc_diff_names_each_differing_component) {
    cache_key a, b;
    CHECK(cu_key(128, &a) && cu_key(256, &b));
    char *rep;
    CHECK(cache_desc_diff(a.desc, a.desc, &rep) == 0 && strcmp(rep, "") == 0);
    free(rep);
    CHECK(cache_desc_diff(b.desc, a.desc, &rep) == 1);
    CHECKF(strcmp(rep, "symbols: n wanted 256, entry has 128\n") == 0, "%s", rep);
    free(rep);
    char *d = strdup(b.desc);
    memcpy(strstr(d, "arch=sm_90a"), "arch=sm_80\n", 11);   /* drops the 'a', keeps length */
    memmove(strstr(d, "arch=sm_80\n") + 11, strstr(d, "arch=sm_80\n") + 12,
            strlen(strstr(d, "arch=sm_80\n") + 12) + 1);
    char *nv = strstr(d, "nvrtc=12.8");
    nv[7] = '3';
    CHECK(cache_desc_diff(d, a.desc, &rep) == 2);
    CHECKF(strstr(rep, "arch: wanted sm_80, entry has sm_90a\n") &&
           strstr(rep, "symbols: n wanted 256, entry has 128\n") &&
           strstr(rep, "nvrtc: wanted 13.8, entry has 12.8 (recorded only"), "%s", rep);
    free(rep);
    free(d);
    /* a key made without NVRTC loaded compares nothing on that line */
    d = malloc(strlen(a.desc) + 16);
    CHECK(d);
    sprintf(d, "%.*snvrtc=unknown\n", (int)(strstr(a.desc, "nvrtc=") - a.desc), a.desc);
    CHECK(cache_desc_diff(d, a.desc, &rep) == 0 && strcmp(rep, "") == 0);
    free(rep);
    free(d);
    cache_key_free(&a);
    cache_key_free(&b);
}

/* ---- the disk store ----------------------------------------------------- */

static cache_dir *open_dir(const char *path) {
    cache_dir *d = NULL;
    return cache_dir_open(path, &d) == TJ_OK ? d : NULL;
}

TEST(test_cache_put_get_round_trip) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d && cache_dir_writable(d) && strcmp(cache_dir_path(d), dir) == 0);
    cache_key k;
    CHECK(cu_key((int)harness_randint(1, 1 << 30), &k));
    size_t n = (size_t)harness_randint(1, 300000);
    unsigned char *p = cu_payload(harness_next(), n);
    CHECK_OK(cache_put(d, &k, p, n));
    void *got;
    size_t gn;
    CHECK_OK(cache_get(d, &k, &got, &gn));
    CHECK(gn == n && memcmp(got, p, n) == 0);
    free(got);
    /* a second handle reads it from the disk */
    cache_dir *d2 = open_dir(dir);
    CHECK(d2);
    CHECK_OK(cache_get(d2, &k, &got, &gn));
    CHECK(gn == n && memcmp(got, p, n) == 0);
    free(got);
    char path[256];
    cu_entry_path(dir, &k, path, sizeof path);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size > n);
    CHECK(cu_count_files(dir, ".tmp.") == 0);
    CHECK(access(strcat(strcpy(path, dir), "/CACHEDIR.TAG"), F_OK) == 0);
    cache_dir_close(d2);
    cache_dir_close(d);
    free(p);
    cache_key_free(&k);
    cu_rm_rf(dir);
}

TEST(test_cache_miss_is_io_error_naming_the_key) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    cache_key k;
    CHECK(d && cu_key(5, &k));
    void *got = (void *)1;
    size_t gn = 1;
    CHECK_ERR(cache_get(d, &k, &got, &gn), TJ_ERR_IO, k.hex);
    CHECK(got == NULL && gn == 0);
    CHECK_ERR(cache_put(d, &k, NULL, 4), TJ_ERR_INVALID_ARG, "NULL");
    cache_key none = {{0}, NULL};
    CHECK_ERR(cache_get(d, &none, &got, &gn), TJ_ERR_INVALID_ARG, "no key");
    cache_dir_close(d);
    cache_key_free(&k);
    cu_rm_rf(dir);
}

/* Put key n, damage its file with `damage`, and check: the get misses,
 * one report on stderr, the file gone; the same damage again is not
 * reported again; a put rebuilds it and it is served. */
typedef void (*damage_fn)(const char *path, size_t size);

static int damaged_entry_cycle(const char *dir, int n, damage_fn damage, const char *report_word) {
    cache_dir *d = open_dir(dir);
    cache_key k;
    if (!d || !cu_key(n, &k)) return 0;
    size_t len = (size_t)harness_randint(1000, 50000);
    unsigned char *p = cu_payload((uint64_t)n, len);
    char path[256];
    cu_entry_path(dir, &k, path, sizeof path);
    int ok = cache_put(d, &k, p, len) == TJ_OK;
    struct stat st;
    ok = ok && stat(path, &st) == 0;
    size_t fsize = ok ? (size_t)st.st_size : 0;
    char *good = ok ? cu_read_file(path, NULL) : NULL;
    void *got = NULL;
    size_t gn;
    for (int round = 0; ok && round < 2; round++) {
        damage(path, fsize);
        char *bad = cu_read_file(path, NULL);
        cu_capture_begin();
        tj_status s = cache_get(d, &k, &got, &gn);
        char *err = cu_capture_end();
        int reports = cu_count_substr(err, "tilejit: cache entry");
        if (s != TJ_ERR_IO || got || reports != (round == 0) || access(path, F_OK) == 0 ||
            (round == 0 && !strstr(err, report_word))) {
            fprintf(stderr, "  round %d: status %s, %d reports: %s", round, tj_status_name(s), reports, err);
            ok = 0;
        }
        free(err);
        /* put the damaged bytes back for the second round */
        if (ok && round == 0) ok = cu_write_file(path, good, fsize);
        free(bad);
    }
    ok = ok && cache_put(d, &k, p, len) == TJ_OK && cache_get(d, &k, &got, &gn) == TJ_OK &&
         gn == len && memcmp(got, p, len) == 0;
    free(got);
    free(good);
    free(p);
    cache_key_free(&k);
    cache_dir_close(d);
    return ok;
}

static void truncate_random(const char *path, size_t size) {
    if (truncate(path, (off_t)harness_randint(0, (int64_t)size - 1)) != 0) perror("truncate");
}
static void truncate_header(const char *path, size_t size) {
    (void)size;
    if (truncate(path, (off_t)harness_randint(0, 200)) != 0) perror("truncate");
}
static void flip_at(const char *path, size_t off) {
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1) return;
    c ^= (unsigned char)(1u << harness_randint(0, 7));
    if (pwrite(fd, &c, 1, (off_t)off) != 1) perror("pwrite");
    close(fd);
}
static void flip_payload(const char *path, size_t size) { flip_at(path, (size_t)harness_randint((int64_t)size - 900, (int64_t)size - 1)); }
static void flip_fixed_header(const char *path, size_t size) {
    (void)size;
    flip_at(path, (size_t)harness_randint(12, 167));   /* past magic and version */
}
static void flip_description(const char *path, size_t size) {
    (void)size;
    flip_at(path, (size_t)harness_randint(168, 300));
}
static void future_version(const char *path, size_t size) {
    (void)size;
    int fd = open(path, O_RDWR);
    unsigned char v = (unsigned char)harness_randint(2, 200);
    if (fd < 0 || pwrite(fd, &v, 1, 8) != 1) perror("pwrite");
    close(fd);
}

TEST(test_cache_truncated_entry_is_reported_once_and_rebuilt) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    for (int i = 0; i < 6; i++) CHECKF(damaged_entry_cycle(dir, 1000 + i, truncate_random, "truncated"), "case %d", i);
    for (int i = 0; i < 4; i++) CHECKF(damaged_entry_cycle(dir, 1100 + i, truncate_header, "damaged"), "case %d", i);
    cu_rm_rf(dir);
}

TEST(test_cache_bit_flipped_entry_is_reported_once_and_rebuilt) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    for (int i = 0; i < 4; i++) {
        CHECKF(damaged_entry_cycle(dir, 2000 + i, flip_payload, "payload checksum"), "payload %d", i);
        CHECKF(damaged_entry_cycle(dir, 2100 + i, flip_fixed_header, "damaged"), "header %d", i);
        CHECKF(damaged_entry_cycle(dir, 2200 + i, flip_description, "damaged"), "description %d", i);
    }
    cu_rm_rf(dir);
}

TEST(test_cache_future_format_entry_is_reported_once_and_rebuilt) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    CHECK(damaged_entry_cycle(dir, 3000, future_version, "newer tilejit"));
    cu_rm_rf(dir);
}

/* Any single damaged byte, anywhere: never served. */
TEST(test_cache_damage_anywhere_is_never_served) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    cache_key k;
    CHECK(d && cu_key(2900, &k));
    size_t len = (size_t)harness_randint(1, 3000);
    unsigned char *p = cu_payload(29, len);
    char path[256];
    cu_entry_path(dir, &k, path, sizeof path);
    cu_capture_begin();   /* the reports: once, checked above */
    for (int round = 0; round < 200; round++) {
        if (cache_put(d, &k, p, len) != TJ_OK) break;
        struct stat st;
        if (stat(path, &st) != 0) break;
        int fd = open(path, O_RDWR);
        off_t off = (off_t)harness_randint(0, st.st_size - 1);
        unsigned char c = 0;
        if (fd < 0 || pread(fd, &c, 1, off) != 1) break;
        c ^= (unsigned char)harness_randint(1, 255);
        if (pwrite(fd, &c, 1, off) != 1) break;
        close(fd);
        void *got = NULL;
        size_t gn = 0;
        if (cache_get(d, &k, &got, &gn) == TJ_OK) {
            fprintf(stderr, "round %d: byte %lld damaged and served\n", round, (long long)off);
            free(got);
            break;
        }
        if (round == 199) fprintf(stderr, "all rounds done\n");
    }
    char *err = cu_capture_end();
    CHECKF(strstr(err, "all rounds done"), "%s", err);
    free(err);
    free(p);
    cache_key_free(&k);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

/* An intact entry under another key's name is not served. */
TEST(test_cache_entry_under_wrong_key_is_not_served) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    cache_key a, b;
    CHECK(d && cu_key(1, &a) && cu_key(2, &b));
    unsigned char *p = cu_payload(1, 999);
    CHECK_OK(cache_put(d, &a, p, 999));
    char pa[256], pb[256];
    cu_entry_path(dir, &a, pa, sizeof pa);
    cu_entry_path(dir, &b, pb, sizeof pb);
    snprintf(pb + strlen(dir), 16, "/v1/%.2s", b.hex);
    mkdir(pb, 0777);
    cu_entry_path(dir, &b, pb, sizeof pb);
    CHECK(link(pa, pb) == 0);
    void *got;
    size_t gn;
    cu_capture_begin();
    tj_status s = cache_get(d, &b, &got, &gn);
    char *err = cu_capture_end();
    CHECKF(s == TJ_ERR_IO && strstr(err, "holds key"), "%s", err);
    free(err);
    CHECK_OK(cache_get(d, &a, &got, &gn));
    free(got);
    free(p);
    cache_key_free(&a);
    cache_key_free(&b);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

static void set_atime(const char *dir, const cache_key *k, time_t t) {
    char path[256];
    cu_entry_path(dir, k, path, sizeof path);
    struct timespec ts[2] = {{t, 0}, {0, UTIME_OMIT}};
    utimensat(AT_FDCWD, path, ts, 0);
}

static int entry_exists(const char *dir, const cache_key *k) {
    char path[256];
    cu_entry_path(dir, k, path, sizeof path);
    return access(path, F_OK) == 0;
}

TEST(test_cache_lru_evicts_least_recently_used_first) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d);
    enum { N = 6, LEN = 10000 };
    cache_key k[N];
    for (int i = 0; i < N; i++) CHECK(cu_key(4000 + i, &k[i]));
    unsigned char *p = cu_payload(7, LEN);
    for (int i = 0; i < 4; i++) CHECK_OK(cache_put(d, &k[i], p, LEN));
    char path[256];
    struct stat st;
    cu_entry_path(dir, &k[0], path, sizeof path);
    CHECK(stat(path, &st) == 0);
    uint64_t esize = (uint64_t)st.st_size;
    time_t now = time(NULL);
    for (int i = 0; i < 4; i++) set_atime(dir, &k[i], now - 100 + 10 * i);   /* 0 oldest */
    void *got;
    size_t gn;
    CHECK_OK(cache_get(d, &k[0], &got, &gn));   /* 0 is now the newest */
    free(got);
    cache_dir_set_max_bytes(d, esize * 4 + esize / 2);
    CHECK_OK(cache_put(d, &k[4], p, LEN));   /* 5 entries > 4.5: one goes, the oldest: 1 */
    CHECK(entry_exists(dir, &k[0]) && !entry_exists(dir, &k[1]) && entry_exists(dir, &k[2]) &&
          entry_exists(dir, &k[3]) && entry_exists(dir, &k[4]));
    set_atime(dir, &k[4], now - 200);
    cache_dir_set_max_bytes(d, esize * 2);
    CHECK_OK(cache_put(d, &k[5], p, LEN));   /* keeps 5 (just put) and the newest other: 0 */
    CHECK(entry_exists(dir, &k[0]) && !entry_exists(dir, &k[2]) && !entry_exists(dir, &k[3]) &&
          !entry_exists(dir, &k[4]) && entry_exists(dir, &k[5]));
    cache_stats s;
    CHECK_OK(cache_stats_get(d, &s));
    CHECK(s.entries == 2 && s.bytes == 2 * esize && s.max_bytes == esize * 2);
    /* an entry larger than the bound alone is kept */
    cache_dir_set_max_bytes(d, 10);
    CHECK_OK(cache_put(d, &k[1], p, LEN));
    CHECK(entry_exists(dir, &k[1]) && !entry_exists(dir, &k[0]) && !entry_exists(dir, &k[5]));
    for (int i = 0; i < N; i++) cache_key_free(&k[i]);
    free(p);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

TEST(test_cache_max_bytes_comes_from_the_environment) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    const char *cases[][2] = {{"524288", "524288"}, {"512K", "524288"}, {"3M", "3145728"},
                              {"2GiB", "2147483648"}, {"1t", "1099511627776"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("TILEJIT_CACHE_MAX_BYTES", cases[i][0], 1);
        cache_dir *d = open_dir(dir);
        CHECK(d);
        CHECKF(cache_dir_max_bytes(d) == strtoull(cases[i][1], NULL, 10), "%s", cases[i][0]);
        cache_dir_close(d);
    }
    setenv("TILEJIT_CACHE_MAX_BYTES", "0", 1);   /* memory only */
    cache_dir *d = open_dir(dir);
    CHECK(d && cache_dir_path(d) == NULL);
    cache_dir_close(d);
    setenv("TILEJIT_CACHE_MAX_BYTES", "lots", 1);
    cu_capture_begin();
    d = open_dir(dir);
    char *err = cu_capture_end();
    CHECK(d && cache_dir_max_bytes(d) == (uint64_t)1 << 30);
    CHECKF(cu_count_substr(err, "\"lots\" is not a size") == 1, "%s", err);
    free(err);
    cache_dir_close(d);
    unsetenv("TILEJIT_CACHE_MAX_BYTES");
    d = open_dir(dir);
    CHECK(d && cache_dir_max_bytes(d) == (uint64_t)1 << 30);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

TEST(test_cache_default_directory_follows_the_environment) {
    char dir[64], want[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    char *saved[3];
    const char *names[3] = {"TILEJIT_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    snprintf(want, sizeof want, "%s/explicit", dir);
    setenv("TILEJIT_CACHE_DIR", want, 1);
    cache_dir *d = open_dir(NULL);
    CHECK(d && strcmp(cache_dir_path(d), want) == 0 && cache_dir_writable(d));
    cache_dir_close(d);
    unsetenv("TILEJIT_CACHE_DIR");
    setenv("XDG_CACHE_HOME", dir, 1);
    snprintf(want, sizeof want, "%s/tilejit", dir);
    d = open_dir(NULL);
    CHECK(d && strcmp(cache_dir_path(d), want) == 0);
    cache_dir_close(d);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", dir, 1);
    snprintf(want, sizeof want, "%s/.cache/tilejit", dir);
    d = open_dir(NULL);
    CHECK(d && strcmp(cache_dir_path(d), want) == 0);
    cache_dir_close(d);
    for (int i = 0; i < 3; i++) {
        if (saved[i]) setenv(names[i], saved[i], 1);
        else unsetenv(names[i]);
        free(saved[i]);
    }
    cu_rm_rf(dir);
}

TEST(test_cache_empty_path_is_memory_only_and_silent) {
    cu_capture_begin();
    cache_dir *d = open_dir("");
    char *err = cu_capture_end();
    CHECK(d && cache_dir_path(d) == NULL && !cache_dir_writable(d) && strcmp(err, "") == 0);
    free(err);
    cache_key k;
    CHECK(cu_key(9, &k));
    unsigned char *p = cu_payload(9, 4321);
    CHECK_OK(cache_put(d, &k, p, 4321));
    void *got;
    size_t gn;
    CHECK_OK(cache_get(d, &k, &got, &gn));
    CHECK(gn == 4321 && memcmp(got, p, gn) == 0);
    free(got);
    int fd = 0;
    CHECK_OK(cache_lock(d, &k, &fd));
    CHECK(fd == -1);
    cache_unlock(fd);
    cache_stats s;
    CHECK_OK(cache_stats_get(d, &s));
    CHECK(s.entries == 0 && s.memory_entries == 1 && s.memory_bytes == 4321);
    free(p);
    cache_key_free(&k);
    cache_dir_close(d);
}

/* mkdir fails under a regular file, even as root. */
TEST(test_cache_uncreatable_directory_keeps_entries_in_memory) {
    char dir[64], bad[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    snprintf(bad, sizeof bad, "%s/file", dir);
    CHECK(cu_write_file(bad, "x", 1));
    strcat(bad, "/cache");
    cu_capture_begin();
    cache_dir *d = open_dir(bad);
    char *err = cu_capture_end();
    CHECK(d && cache_dir_path(d) == NULL);
    free(err);   /* the one warning per process is checked in test_cache_procs */
    cache_key k;
    CHECK(cu_key(10, &k));
    unsigned char *p = cu_payload(10, 777);
    CHECK_OK(cache_put(d, &k, p, 777));
    void *got;
    size_t gn;
    CHECK_OK(cache_get(d, &k, &got, &gn));
    CHECK(gn == 777 && memcmp(got, p, gn) == 0);
    free(got);
    free(p);
    cache_key_free(&k);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

/* A write that fails part way (disk full, simulated at a random byte):
 * the put says so, nothing half-written is left, the entry is served from
 * memory. */
TEST(test_cache_failed_write_is_not_fatal_and_leaves_nothing) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    for (int round = 0; round < 5; round++) {
        cache_dir *d = open_dir(dir);
        cache_key k;
        CHECK(d && cu_key(5000 + round, &k));
        size_t n = (size_t)harness_randint(100, 100000);
        unsigned char *p = cu_payload((uint64_t)round, n);
        cache_test_hooks h = {harness_randint(0, (int64_t)n + 200), ENOSPC, NULL, NULL};
        cache_dir_set_test_hooks(d, &h);
        cu_capture_begin();
        tj_status s = cache_put(d, &k, p, n);
        char *err = cu_capture_end();
        CHECKF(s == TJ_ERR_IO && strstr(tj_last_error(), "No space left"), "%s", tj_last_error());
        CHECK(cu_count_substr(err, "tilejit:") <= 1);
        free(err);
        CHECK(cu_count_files(dir, ".tmp.") == 0 && !entry_exists(dir, &k));
        void *got;
        size_t gn;
        CHECK_OK(cache_get(d, &k, &got, &gn));
        CHECK(gn == n && memcmp(got, p, n) == 0);
        free(got);
        cache_dir_set_test_hooks(d, NULL);   /* the disk is back */
        CHECK_OK(cache_put(d, &k, p, n));
        CHECK(entry_exists(dir, &k));
        free(p);
        cache_key_free(&k);
        cache_dir_close(d);
    }
    cu_rm_rf(dir);
}

/* Temporary files (writes in progress, dead writers) are never read. */
TEST(test_cache_temporary_files_are_ignored) {
    char dir[64], tmp[256];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    cache_key k;
    CHECK(d && cu_key(11, &k));
    snprintf(tmp, sizeof tmp, "%s/v1/%.2s", dir, k.hex);
    mkdir(tmp, 0777);
    snprintf(tmp, sizeof tmp, "%s/v1/%.2s/.tmp.%.16s.00000000.1.0.00000000", dir, k.hex, k.hex);
    CHECK(cu_write_file(tmp, "partial", 7));
    void *got;
    size_t gn;
    CHECK_ERR(cache_get(d, &k, &got, &gn), TJ_ERR_IO, "miss");
    cache_stats s;
    CHECK_OK(cache_stats_get(d, &s));
    CHECK(s.temp_files == 1 && s.entries == 0);
    size_t nl;
    cache_entry_info *list;
    CHECK_OK(cache_list(d, &list, &nl));
    CHECK(nl == 0);
    cache_list_free(list, nl);
    /* an hour old: stale, removed by clear */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) - 7200, 0}};
    CHECK(utimensat(AT_FDCWD, tmp, ts, 0) == 0);
    CHECK_OK(cache_clear(d, NULL));
    CHECK(access(tmp, F_OK) != 0);
    cache_key_free(&k);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

/* ---- single flight in one process ---------------------------------------- */

typedef struct lock_arg {
    cache_dir *d;
    const cache_key *k;
    int *inside, *max_inside;
    pthread_mutex_t *mu;
    int fail;
} lock_arg;

static void *lock_worker(void *p) {
    lock_arg *a = p;
    for (int i = 0; i < 20; i++) {
        int fd;
        if (cache_lock(a->d, a->k, &fd) != TJ_OK || fd < 0) {
            a->fail = 1;
            return NULL;
        }
        pthread_mutex_lock(a->mu);
        int now = ++*a->inside;
        if (now > *a->max_inside) *a->max_inside = now;
        pthread_mutex_unlock(a->mu);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(a->mu);
        --*a->inside;
        pthread_mutex_unlock(a->mu);
        cache_unlock(fd);
    }
    return NULL;
}

TEST(test_cache_lock_excludes_threads_of_one_process) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    cache_key k;
    CHECK(d && cu_key(12, &k));
    int inside = 0, max_inside = 0;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    enum { T = 6 };
    pthread_t th[T];
    lock_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (lock_arg){d, &k, &inside, &max_inside, &mu, 0};
        CHECK(pthread_create(&th[i], NULL, lock_worker, &args[i]) == 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) CHECK(!args[i].fail);
    CHECK(max_inside == 1);
    /* a held lock file survives clear; a free one does not */
    int fd;
    CHECK_OK(cache_lock(d, &k, &fd));
    CHECK_OK(cache_clear(d, NULL));
    CHECK(cu_count_files(dir, k.hex) == 1);
    cache_unlock(fd);
    CHECK_OK(cache_clear(d, NULL));
    CHECK(cu_count_files(dir, k.hex) == 0);
    CHECK_OK(cache_lock(d, &k, &fd));   /* and locking still works after */
    CHECK(fd >= 0);
    cache_unlock(fd);
    cache_key_free(&k);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

typedef struct put_arg {
    cache_dir *d;
    int base, fail;
} put_arg;

static void *put_worker(void *p) {
    put_arg *a = p;
    for (int i = 0; i < 25; i++) {
        cache_key k;
        int id = a->base + i % 10;   /* threads share keys too */
        size_t n = 1000 + (size_t)id;
        unsigned char *data = cu_payload((uint64_t)id, n);
        void *got = NULL;
        size_t gn;
        /* another thread's put may evict it at once: a miss is fine,
         * wrong bytes are not */
        if (!cu_key(id, &k) || cache_put(a->d, &k, data, n) != TJ_OK) a->fail = 1;
        tj_status s = cache_get(a->d, &k, &got, &gn);
        if ((s != TJ_OK && s != TJ_ERR_IO) || (s == TJ_OK && (gn != n || memcmp(got, data, n) != 0)))
            a->fail = 1;
        free(got);
        free(data);
        cache_key_free(&k);
    }
    return NULL;
}

TEST(test_cache_handle_is_safe_from_many_threads) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = open_dir(dir);
    CHECK(d);
    cache_dir_set_max_bytes(d, 12000);   /* eviction races the gets too */
    enum { T = 6 };
    pthread_t th[T];
    put_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (put_arg){d, 6000 + 5 * i, 0};
        CHECK(pthread_create(&th[i], NULL, put_worker, &args[i]) == 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    int fails = 0;
    for (int i = 0; i < T; i++) fails += args[i].fail;
    CHECK(fails == 0);
    CHECK(cu_count_files(dir, ".tmp.") == 0);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

int main(void) { return harness_main(); }
