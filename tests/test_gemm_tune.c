/*
 * test_gemm_tune.c — tuning records (runtime/gemm_tune.c) without a GPU:
 * they round-trip through a cache directory, their key covers what they
 * were measured for (and not the NVRTC version, only recorded), a damaged
 * or unreadable record is ignored with one warning, a record from another
 * compiler is stale, tj_recipe_gemm_for_shape takes a record before the
 * model (and not with TJ_GEMM_UNTUNED, TILEJIT_NO_TUNED=1, another device
 * or conflicting pins), `tilejit cache` lists records, and tuning without
 * a device fails cleanly.
 */
#include "harness.h"
#include "cache_util.h"
#include "driver.h"
#include "gemm_config.h"
#include "gemm_tune.h"

#define DEVICE "Test GPU 9000"
#define PARAMS_TB1 "dtype=bf16 out=same trans_a=0 trans_b=1 bias=0 act=none m=exact n=exact k=exact"

static gemm_tune_id id_of(int64_t m, int64_t n, int64_t k, const char *nvrtc) {
    return (gemm_tune_id){PARAMS_TB1, m, n, k, DEVICE, "sm_90a", 132, nvrtc};
}

static gemm_tune_record record(int bm, int bn, int bk, int split) {
    gemm_tune_record r;
    memset(&r, 0, sizeof r);
    r.cfg = (tj_gemm_config){bm, bn, bk, split, 0.0, 0};
    r.tflops = 123.4;
    r.median_us = 56.78;
    r.candidates = 6;
    return r;
}

/* Store rec for (128x4096x4096, DEVICE) in dir; key kept in *k. */
static int store(const char *dir, const gemm_tune_record *rec, const char *nvrtc, cache_key *k) {
    cache_dir *d = NULL;
    gemm_tune_id id = id_of(128, 4096, 4096, nvrtc);
    int ok = cache_dir_open(dir, &d) == TJ_OK && gemm_tune_key(&id, k) == TJ_OK &&
             gemm_tune_put(d, k, rec) == TJ_OK;
    cache_dir_close(d);
    return ok;
}

TEST(test_tune_record_round_trips_through_the_cache_dir) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    gemm_tune_record w = record(64, 64, 128, 1), r;
    cache_key k;
    CHECK(store(dir, &w, "13.0", &k));
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    tj_status s = gemm_tune_get(d, &k, &r);
    cache_dir_close(d);
    char path[512];
    cu_entry_path(dir, &k, path, sizeof path);
    struct stat st;
    int on_disk = stat(path, &st) == 0;
    cache_key_free(&k);
    cu_rm_rf(dir);
    CHECK_OK(s);
    CHECK(on_disk);
    CHECK(r.cfg.bm == 64 && r.cfg.bn == 64 && r.cfg.bk == 128 && r.cfg.split == 1);
    CHECK(r.cfg.tuned == 1 && r.candidates == 6);
    CHECK(r.tflops > 123.3 && r.tflops < 123.5 && r.median_us > 56.7 && r.median_us < 56.8);
}

TEST(test_tune_record_key_covers_params_shape_device_and_toolchain) {
    cache_key base, other;
    gemm_tune_id id = id_of(128, 4096, 4096, "13.0");
    CHECK_OK(gemm_tune_key(&id, &base));
    CHECK(strstr(base.desc, "symbols=M=128 N=4096 K=4096\n") && strstr(base.desc, "templates="));
    CHECK(strstr(base.desc, "codegen=") && strstr(base.desc, "name=tune:gemm\n"));
    gemm_tune_id ids[6];
    for (int i = 0; i < 6; i++) ids[i] = id;
    ids[0].k = 4095;
    ids[1].device = "Other GPU";
    ids[2].arch = "sm_100a";
    ids[3].sm_count = 114;
    ids[4].params = "dtype=f16 out=same trans_a=0 trans_b=1 bias=0 act=none m=exact n=exact k=exact";
    ids[5].nvrtc = "12.8";   /* recorded, not hashed: the same key */
    for (int i = 0; i < 6; i++) {
        CHECK_OK(gemm_tune_key(&ids[i], &other));
        int same = !strcmp(base.hex, other.hex);
        cache_key_free(&other);
        CHECKF(same == (i == 5), "variant %d", i);
    }
    cache_key_free(&base);
    gemm_tune_id bad = id;
    bad.device = "two\nlines";
    CHECK_ERR(gemm_tune_key(&bad, &other), TJ_ERR_INVALID_ARG, "one line");
}

TEST(test_tune_record_payload_parse_refuses_bad_text) {
    gemm_tune_record r = record(128, 256, 64, 4), back;
    char text[512];
    int n = gemm_tune_format(&r, text, sizeof text);
    CHECK(n > 0 && gemm_tune_parse(text, (size_t)n, &back));
    CHECK(back.cfg.bm == 128 && back.cfg.bn == 256 && back.cfg.split == 4);
    static const char *bad[] = {
        "tilejit tune 2\nbm=64\nbn=64\nbk=128\nsplit=1\n",   /* newer format */
        "tilejit tune 1\nbm=64\nbn=64\nsplit=1\n",            /* no bk */
        "tilejit tune 1\nbm=96\nbn=64\nbk=128\nsplit=1\n",    /* not a tile */
        "tilejit tune 1\nbm=64\nbn=64\nbk=128\nsplit=3\n",    /* not a split */
        "\177ELF",
    };
    for (int i = 0; i < 5; i++) CHECKF(!gemm_tune_parse(bad[i], strlen(bad[i]), &back), "%d", i);
}

TEST(test_tune_record_damaged_is_ignored_with_one_warning) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    gemm_tune_record w = record(64, 64, 128, 1), r;
    cache_key k;
    CHECK(store(dir, &w, "13.0", &k));
    char path[512];
    cu_entry_path(dir, &k, path, sizeof path);
    size_t n = 0;
    char *bytes = cu_read_file(path, &n);
    CHECK(bytes && n > 20);
    bytes[n - 3] ^= 0x20;   /* a flipped bit in the payload */
    CHECK(cu_write_file(path, bytes, n));
    free(bytes);
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    cu_capture_begin();
    tj_status s1 = gemm_tune_get(d, &k, &r);
    tj_status s2 = gemm_tune_get(d, &k, &r);
    char *err = cu_capture_end();
    cache_dir_close(d);
    /* and through the builder: the model, silently */
    const char *p[] = {"trans_b=1"};
    tj_gemm_target t = {"sm_90a", DEVICE, 132, dir, 0};
    tj_graph *g = NULL;
    tj_gemm_config c;
    tj_status s3 = tj_recipe_gemm_for_shape(1, p, 128, 4096, 4096, &t, &g, &c);
    tj_graph_free(g);
    cache_key_free(&k);
    cu_rm_rf(dir);
    int warnings = cu_count_substr(err, "damaged");
    free(err);
    CHECK(s1 == TJ_ERR_IO && s2 == TJ_ERR_IO);
    CHECKF(warnings == 1, "%d warnings", warnings);
    CHECK_OK(s3);
    CHECK(!c.tuned && c.bm == 64 && c.bn == 64 && c.bk == 128);
}

TEST(test_tune_record_unreadable_payload_is_ignored_with_one_warning) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    gemm_tune_id id = id_of(128, 4096, 4096, "13.0");
    cache_key k;
    CHECK_OK(gemm_tune_key(&id, &k));
    const char junk[] = "tilejit tune 1\nbm=64\n";   /* a sound entry, not a record */
    CHECK_OK(cache_put(d, &k, junk, sizeof junk - 1));
    gemm_tune_record r;
    cu_capture_begin();
    tj_status s1 = gemm_tune_get(d, &k, &r), s2 = gemm_tune_get(d, &k, &r);
    char *err = cu_capture_end();
    cache_dir_close(d);
    cache_key_free(&k);
    cu_rm_rf(dir);
    int warnings = cu_count_substr(err, "is ignored");
    free(err);
    CHECK(s1 == TJ_ERR_IO && s2 == TJ_ERR_IO);
    CHECKF(warnings == 1, "%d warnings", warnings);
}

TEST(test_tune_record_from_another_compiler_is_stale) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    gemm_tune_record w = record(128, 128, 64, 2), r;
    cache_key k, k2;
    CHECK(store(dir, &w, "12.8", &k));
    /* a compile by 13.0 written since moves the directory's stamp */
    CHECK(cu_key(1, &k2));
    char desc[1024];
    snprintf(desc, sizeof desc, "%.*snvrtc=13.0\n", (int)(strstr(k2.desc, "nvrtc=") - k2.desc),
             k2.desc);
    cache_key_free(&k2);
    CHECK_OK(cache_key_from_desc(desc, &k2));
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    unsigned char *cub = cu_payload(3, 64);
    CHECK_OK(cache_put(d, &k2, cub, 64));
    free(cub);
    cu_capture_begin();
    tj_status s = gemm_tune_get(d, &k, &r);
    char *err = cu_capture_end();
    cache_dir_close(d);
    cache_key_free(&k);
    cache_key_free(&k2);
    cu_rm_rf(dir);
    int said = strstr(err, "12.8") != NULL;
    free(err);
    CHECK(s == TJ_ERR_IO);
    CHECK(said);
}

TEST(test_for_shape_uses_the_record_before_the_model) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    gemm_tune_record w = record(128, 128, 64, 2);
    cache_key k;
    CHECK(store(dir, &w, "13.0", &k));
    cache_key_free(&k);
    const char *p[] = {"act=none", "trans_b=1"};   /* the same canonical params */
    tj_gemm_target t = {"sm_90a", DEVICE, 132, dir, 0};
    tj_graph *g = NULL, *h = NULL;
    tj_gemm_config c, m;
    CHECK_OK(tj_recipe_gemm_for_shape(2, p, 128, 4096, 4096, &t, &g, &c));
    CHECK(c.tuned && c.bm == 128 && c.bn == 128 && c.bk == 64 && c.split == 2);
    CHECK_OK(tj_recipe_gemm_with_config(2, p, &c, &h));
    char hg[65], hh[65];
    CHECK_OK(tj_graph_hash(g, hg));
    CHECK_OK(tj_graph_hash(h, hh));
    tj_graph_free(g);
    tj_graph_free(h);
    CHECK(!strcmp(hg, hh));
    /* the model where the record does not apply */
    static const struct { const char *device; unsigned flags; int64_t k; const char *pin; } no[] = {
        {DEVICE, TJ_GEMM_UNTUNED, 4096, NULL},
        {"Other GPU", 0, 4096, NULL},
        {DEVICE, 0, 4000, NULL},
        {DEVICE, 0, 4096, "bm=64"},
    };
    for (int i = 0; i < 4; i++) {
        const char *pp[3] = {"act=none", "trans_b=1", no[i].pin};
        tj_gemm_target u = {"sm_90a", no[i].device, 132, dir, no[i].flags};
        CHECK_OK(tj_recipe_gemm_for_shape(no[i].pin ? 3 : 2, pp, 128, 4096, no[i].k, &u, &g, &m));
        tj_graph_free(g);
        CHECKF(!m.tuned && m.bm == 64, "case %d: %dx%dx%d tuned %d", i, m.bm, m.bn, m.bk, m.tuned);
    }
    setenv("TILEJIT_NO_TUNED", "1", 1);
    tj_status s = tj_recipe_gemm_for_shape(2, p, 128, 4096, 4096, &t, &g, &m);
    unsetenv("TILEJIT_NO_TUNED");
    tj_graph_free(g);
    cu_rm_rf(dir);
    CHECK_OK(s);
    CHECK(!m.tuned && m.bm == 64);
}

TEST(test_for_shape_without_a_device_needs_an_arch) {
    if (drv_available(NULL)) SKIP("a CUDA device is present");
    const char *p[] = {"trans_b=1"};
    tj_graph *g = NULL;
    CHECK_ERR(tj_recipe_gemm_for_shape(1, p, 128, 4096, 4096, NULL, &g, NULL), TJ_ERR_DRIVER,
              "tj_gemm_target.arch");
    CHECK(g == NULL);
    /* an arch without a device: the model (no device name, no records) */
    tj_gemm_target t = {"sm_90a", NULL, 0, "", 0};
    tj_gemm_config c;
    CHECK_OK(tj_recipe_gemm_for_shape(1, p, 128, 4096, 4096, &t, &g, &c));
    tj_graph_free(g);
    CHECK(!c.tuned && c.bm == 64 && c.bk == 128);
}

TEST(test_tune_without_a_device_fails_cleanly) {
    if (drv_available(NULL)) SKIP("a CUDA device is present");
    const char *p[] = {"trans_b=1"};
    gemm_tune_request req = {1, p, 128, 256, 256, 0, 5, "", 1, 1, NULL, NULL};
    gemm_tune_result r;
    CHECK_ERR(gemm_tune_shape(&req, &r), TJ_ERR_DRIVER, "needs a CUDA GPU");
    const char *bad[] = {"trans_c=1"};
    req.params = bad;
    CHECK_ERR(gemm_tune_shape(&req, &r), TJ_ERR_INVALID_ARG, "trans_c");
}

TEST(test_cache_lists_tuning_records) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    gemm_tune_record w = record(64, 64, 128, 1);
    cache_key k;
    CHECK(store(dir, &w, "13.0", &k));
    cache_key_free(&k);
    cache_dir *d = NULL;
    CHECK_OK(cache_dir_open(dir, &d));
    cache_entry_info *e = NULL;
    size_t n = 0, nok = 0, nbad = 0;
    CHECK_OK(cache_list(d, &e, &n));
    int listed = n == 1 && e[0].desc && strstr(e[0].desc, "name=tune:gemm\n") &&
                 strstr(e[0].desc, "device=" DEVICE "\n");
    cache_list_free(e, n);
    CHECK_OK(cache_verify_all(d, 0, NULL, NULL, &nok, &nbad));
    size_t removed = 0;
    CHECK_OK(cache_clear(d, &removed));
    cache_dir_close(d);
    cu_rm_rf(dir);
    CHECK(listed);
    CHECK(nok == 1 && nbad == 0 && removed == 1);
}

int main(void) { return harness_main(); }
