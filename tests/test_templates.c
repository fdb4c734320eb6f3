/*
 * test_templates.c — the embedded tile library (gen/templates.h): every
 * file under templates/tj/ is in the table with its exact text, the hash
 * is stable and covers names and texts, and device code that uses every
 * primitive compiles with NVRTC from the embedded headers alone (no -I, no
 * CUDA toolkit headers) for sm_80, sm_89 and sm_90a.
 *
 * The NVRTC tests skip when NVRTC cannot be loaded or lacks the arch.
 * Whether the primitives compute the right thing is checked on a GPU by
 * templates/test/check_gpu.cu (see templates/README.md).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "golden.h"
#include "harness.h"
#include "ir.h"
#include "nvrtc.h"
#include "templates.h"

#define TEMPLATE_DIR TJ_SOURCE_ROOT "/templates/tj"
#define EVERY_PRIMITIVE TJ_SOURCE_ROOT "/templates/test/every_primitive.cu"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

TEST(test_templates_table_holds_every_file_verbatim) {
    DIR *d = opendir(TEMPLATE_DIR);
    if (!d) SKIP("no source tree at %s", TEMPLATE_DIR);
    int on_disk = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!ends_with(ent->d_name, ".cuh")) continue;
        on_disk++;
        char path[1024], name[300];
        snprintf(path, sizeof path, "%s/%s", TEMPLATE_DIR, ent->d_name);
        snprintf(name, sizeof name, "tj/%s", ent->d_name);
        char *text = golden_read_file(path);
        const char *embedded = tj_template_find(name);
        int same = text && embedded && strcmp(text, embedded) == 0;
        free(text);
        if (!same) closedir(d);
        CHECKF(same, "%s is %s (rebuild, or add it to templates/meson.build)", name,
               embedded ? "embedded with other text" : "not embedded");
    }
    closedir(d);
    CHECKF(on_disk == tj_template_count(), "%d headers on disk, %d embedded", on_disk,
           tj_template_count());
    CHECK(tj_template_find("tj/tj.cuh") != NULL);
    CHECK(tj_template_find("tj/generic.cuh") != NULL);
}

TEST(test_templates_names_are_sorted_and_unique) {
    int n = tj_template_count();
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        CHECK(tj_template_name(i) != NULL && tj_template_text(i) != NULL);
        CHECKF(strncmp(tj_template_name(i), "tj/", 3) == 0, "%s", tj_template_name(i));
        if (i) CHECKF(strcmp(tj_template_name(i - 1), tj_template_name(i)) < 0, "%s then %s",
                      tj_template_name(i - 1), tj_template_name(i));
    }
}

TEST(test_templates_out_of_range_gives_null) {
    CHECK(tj_template_name(-1) == NULL);
    CHECK(tj_template_text(-1) == NULL);
    CHECK(tj_template_name(tj_template_count()) == NULL);
    CHECK(tj_template_text(tj_template_count()) == NULL);
    CHECK(tj_template_find("tj/none.cuh") == NULL);
    CHECK(tj_template_find(NULL) == NULL);
}

TEST(test_templates_hash_covers_names_and_texts) {
    ir_sha256 s;
    uint8_t d[32];
    char want[65];
    ir_sha256_init(&s);
    for (int i = 0; i < tj_template_count(); i++) {
        ir_sha256_update(&s, tj_template_name(i), strlen(tj_template_name(i)) + 1);
        ir_sha256_update(&s, tj_template_text(i), strlen(tj_template_text(i)) + 1);
    }
    ir_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(want + 2 * i, 3, "%02x", d[i]);
    const char *h = tj_templates_hash();
    CHECK(h != NULL && strlen(h) == 64);
    CHECKF(strcmp(h, want) == 0, "hash %s, recomputed %s", h, want);
    CHECK(strcmp(tj_templates_hash(), h) == 0);
}

static void *hash_thread(void *out) {
    *(const char **)out = tj_templates_hash();
    return NULL;
}

TEST(test_templates_hash_is_the_same_from_many_threads) {
    enum { NTHREADS = 8 };
    pthread_t th[NTHREADS];
    const char *got[NTHREADS] = {0};
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_create(&th[i], NULL, hash_thread, &got[i]) == 0);
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++) CHECK(got[i] && strcmp(got[i], tj_templates_hash()) == 0);
}

/* ---- NVRTC ------------------------------------------------------------ */

static nvrtc_header *embedded_headers(void) {
    int n = tj_template_count();
    nvrtc_header *h = calloc((size_t)n, sizeof *h);
    for (int i = 0; h && i < n; i++) h[i] = (nvrtc_header){tj_template_name(i), tj_template_text(i)};
    return h;
}

/* Compile `src` for `arch` with the embedded headers only. Returns 1 when
 * it compiled; 0 with *skip set when NVRTC or the arch is missing. */
static int compile_embedded(const char *src, const char *name, const char *arch, char *why,
                            size_t whysize, int *skip) {
    *skip = 0;
    if (nvrtc_load() != TJ_OK || !nvrtc_arch_supported(arch)) {
        snprintf(why, whysize, "NVRTC (with %s) is not available: %.200s", arch, tj_last_error());
        *skip = 1;
        return 0;
    }
    nvrtc_header *hs = embedded_headers();
    if (!hs) {
        snprintf(why, whysize, "out of memory");
        return 0;
    }
    nvrtc_request req = {0};
    req.source = src;
    req.name = name;
    req.arch = arch;
    req.headers = hs;
    req.nheaders = tj_template_count();
    nvrtc_result res = {0};
    tj_status st = nvrtc_compile(&req, &res);
    if (st != TJ_OK)
        snprintf(why, whysize, "%s for %s: %s\n%.3000s", tj_status_name(st), arch, tj_last_error(),
                 res.log ? res.log : "");
    int ok = st == TJ_OK && res.cubin && res.cubin_size > 0;
    nvrtc_result_free(&res);
    free(hs);
    return ok;
}

static void every_primitive_compiles(const char *arch) {
    char *src = golden_read_file(EVERY_PRIMITIVE);
    if (!src) SKIP("no source tree at %s", EVERY_PRIMITIVE);
    char why[4096];
    int skip;
    int ok = compile_embedded(src, "every_primitive.cu", arch, why, sizeof why, &skip);
    free(src);
    if (skip) SKIP("%.200s", why);
    CHECKF(ok, "%s", why);
}

TEST(test_every_primitive_compiles_for_sm80) { every_primitive_compiles("sm_80"); }
TEST(test_every_primitive_compiles_for_sm89) { every_primitive_compiles("sm_89"); }
TEST(test_every_primitive_compiles_for_sm90a) { every_primitive_compiles("sm_90a"); }

TEST(test_each_header_compiles_on_its_own) {
    for (int i = 0; i < tj_template_count(); i++) {
        char src[256], why[4096];
        int skip;
        snprintf(src, sizeof src, "#include \"%s\"\n#include \"%s\"\n", tj_template_name(i),
                 tj_template_name(i));
        int ok = compile_embedded(src, "one_header.cu", "sm_80", why, sizeof why, &skip);
        if (skip) SKIP("%.200s", why);
        CHECKF(ok, "%s (included twice, alone): %s", tj_template_name(i), why);
    }
}

int main(void) { return harness_main(); }
