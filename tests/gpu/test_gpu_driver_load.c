/*
 * test_gpu_driver_load.c — finding and loading libcuda, and the clean
 * "no CUDA device" answers when it is missing, a stub, or sees no device.
 * Needs no GPU: these run (and pass) on any machine. Each test points the
 * loader somewhere with drv_set_path first; the last one loads the real
 * driver, after which paths cannot change (so it must stay last).
 */
#include <stdlib.h>
#include <unistd.h>

#include "gpu_harness.h"

/* Where the toolkit's stub libcuda usually is ($TJ_CUDA_STUB overrides). */
static const char *stub_path(void) {
    const char *env = getenv("TJ_CUDA_STUB");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    static const char *const candidates[] = {
        "/usr/local/cuda/lib64/stubs/libcuda.so",
        "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so",
        "/usr/local/cuda/targets/sbsa-linux/lib/stubs/libcuda.so",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (access(candidates[i], R_OK) == 0) return candidates[i];
    return NULL;
}

/* Point the loader at `path`; SKIP if a real driver already loaded. */
#define POINT_AT(path)                                                       \
    do {                                                                     \
        if (drv_set_path(path) != TJ_OK)                                     \
            SKIP("a driver is already loaded: %s", tj_last_error());         \
    } while (0)

TEST(test_arch_name_has_a_suffix_from_hopper_on) {
    static const struct { int major, minor; const char *arch; } cases[] = {
        {8, 0, "sm_80"},    {8, 6, "sm_86"},     {8, 9, "sm_89"},
        {9, 0, "sm_90a"},   {10, 0, "sm_100a"},  {10, 3, "sm_103a"},
        {11, 0, "sm_110a"}, {12, 0, "sm_120a"},  {12, 1, "sm_121a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[16];
        CHECK_OK(drv_arch_name(cases[i].major, cases[i].minor, buf, sizeof buf));
        CHECKF(strcmp(buf, cases[i].arch) == 0, "%d.%d -> %s, want %s", cases[i].major,
               cases[i].minor, buf, cases[i].arch);
    }
}

TEST(test_arch_name_rejects_bad_input) {
    char buf[16], tiny[5];
    CHECK_ERR(drv_arch_name(0, 0, buf, sizeof buf), TJ_ERR_INVALID_ARG, "0.0");
    CHECK_ERR(drv_arch_name(9, 12, buf, sizeof buf), TJ_ERR_INVALID_ARG, "9.12");
    CHECK_ERR(drv_arch_name(9, 0, NULL, 16), TJ_ERR_INVALID_ARG, "compute capability");
    CHECK_ERR(drv_arch_name(9, 0, tiny, sizeof tiny), TJ_ERR_INVALID_ARG, "too small");
}

TEST(test_set_path_rejects_empty_and_overlong) {
    char longpath[2048];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_ERR(drv_set_path(""), TJ_ERR_INVALID_ARG, "empty");
    CHECK_ERR(drv_set_path(longpath), TJ_ERR_INVALID_ARG, "too long");
}

TEST(test_missing_libcuda_is_no_cuda_device) {
    POINT_AT("/nonexistent/tilejit-test/libcuda.so.1");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "/nonexistent/tilejit-test/libcuda.so.1");
    const char *why = NULL;
    CHECK(drv_available(&why) == 0);
    CHECKF(why && strstr(why, "could not be loaded"), "why: %s", why ? why : "(null)");
}

/* Every entry point answers TJ_ERR_DRIVER (never crashes) without one. */
TEST(test_every_call_fails_cleanly_without_a_driver) {
    POINT_AT("/nonexistent/tilejit-test/libcuda.so.1");
    drv_device dev;
    drv_ptr p = 1;
    void *h = NULL;
    int n = -1;
    unsigned char cubin[64] = {0x7f, 'E', 'L', 'F'};
    const char ptx[] = ".version 8.0\n.target sm_90\n.address_size 64\n";
    drv_library *lib = NULL;
    CHECK_ERR(drv_device_count(&n), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_device_info(0, &dev), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_context_current(0, &h), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_mem_alloc(1024, &p), TJ_ERR_DRIVER, "no CUDA device");
    CHECK(p == 0);
    CHECK_ERR(drv_memcpy_htod(0, cubin, 4), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_stream_create(&h), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_event_create(&h), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_library_load(ptx, sizeof ptx, &lib), TJ_ERR_DRIVER, "no CUDA device");
    CHECK(lib == NULL);
    CHECK_ERR(drv_context_sync(), TJ_ERR_DRIVER, "no CUDA device");
    CHECK(drv_has_library_api() == 0);
    unsigned one[3] = {1, 1, 1};
    CHECK_ERR(drv_launch(NULL, one, one, 0, NULL, NULL, NULL), TJ_ERR_INVALID_ARG, "NULL");
    CHECK_OK(drv_mem_free(0));
    CHECK_OK(drv_stream_destroy(NULL));
    CHECK_OK(drv_library_unload(NULL));
}

TEST(test_stub_libcuda_is_no_cuda_device) {
    const char *stub = stub_path();
    if (!stub) SKIP("no stub libcuda found (set TJ_CUDA_STUB to one)");
    POINT_AT(stub);
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "no CUDA device");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "cuInit");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "CUDA_ERROR_STUB_LIBRARY");
    const char *why = NULL;
    CHECK(drv_available(&why) == 0);
    CHECKF(strstr(why, "stubs"), "the message names the file: %s", why);
    drv_ptr p;
    CHECK_ERR(drv_mem_alloc(16, &p), TJ_ERR_DRIVER, "CUDA_ERROR_STUB_LIBRARY");
}

TEST(test_env_names_the_library) {
    POINT_AT(NULL);
    const char *old = getenv("TILEJIT_LIBCUDA");
    char *saved = old ? strdup(old) : NULL;
    setenv("TILEJIT_LIBCUDA", "/nonexistent/from-env/libcuda.so", 1);
    tj_status s = drv_load();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    if (saved) setenv("TILEJIT_LIBCUDA", saved, 1); else unsetenv("TILEJIT_LIBCUDA");
    free(saved);
    CHECK(s == TJ_ERR_DRIVER);
    CHECKF(strstr(msg, "/nonexistent/from-env/libcuda.so") && !strstr(msg, "libcuda.so.1"),
           "only the named file is tried: %s", msg);
}

/* A failed load is remembered (no retry storm) until drv_set_path. */
TEST(test_failure_is_remembered_until_set_path) {
    POINT_AT("/nonexistent/a/libcuda.so");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "/nonexistent/a/");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "/nonexistent/a/");
    POINT_AT("/nonexistent/b/libcuda.so");
    CHECK_ERR(drv_load(), TJ_ERR_DRIVER, "/nonexistent/b/");
}

/* Last: the default search. With a device it loads, and then the path is
 * fixed; without one the answer is the same clean error. */
TEST(test_zz_default_search_loads_or_says_why) {
    POINT_AT(NULL);
    tj_status s = drv_load();
    if (s != TJ_OK) {
        CHECK(s == TJ_ERR_DRIVER);
        CHECKF(strstr(tj_last_error(), "no CUDA device"), "%s", tj_last_error());
        SKIP("%s", tj_last_error());
    }
    const char *path = NULL;
    int version = 0, count = 0;
    CHECK_OK(drv_library_path(&path));
    CHECK_OK(drv_driver_version(&version));
    CHECK_OK(drv_device_count(&count));
    printf("  libcuda %s, CUDA %d.%d, %d device(s), library API %s\n", path, version / 1000,
           version % 1000 / 10, count, drv_has_library_api() ? "yes" : "no");
    CHECK(version >= 12000 && count >= 1);
    CHECK_ERR(drv_set_path("/elsewhere/libcuda.so"), TJ_ERR_INVALID_ARG, "already loaded");
}

int main(void) { return harness_main(); }
