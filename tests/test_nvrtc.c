/*
 * test_nvrtc.c — NVRTC through dlopen: finding it, archs, options, compiling
 * in this process and in a forked child, and surviving a compiler that
 * crashes, hangs or dies without an answer.
 *
 * Tests that need the real NVRTC skip when it cannot be loaded. The child
 * machinery is also tested against tests/fake_nvrtc.c (built next to this
 * test), which misbehaves on request, so it runs on machines without CUDA.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "nvrtc.h"

#define FAKE_PATH TJ_BUILD_ROOT "/tests/fake_nvrtc.so"
#define EM_CUDA 190

static const char trivial_src[] =
    "extern \"C\" __global__ void add_one(float *x, int n) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n) x[i] += 1.0f;\n"
    "}\n";

#define NEED_NVRTC()                                                          \
    do {                                                                      \
        if (nvrtc_load() != TJ_OK)                                            \
            SKIP("NVRTC cannot be loaded: %.200s", tj_last_error());          \
    } while (0)

static nvrtc_request request(const char *src, const char *arch, int in_child) {
    nvrtc_request r = {0};
    r.source = src;
    r.name = "test.cu";
    r.arch = arch;
    r.in_child = in_child;
    r.timeout_s = in_child ? 120 : 0;
    return r;
}

/* NULL when `r` holds a 64-bit CUDA ELF for sm_<sm>, else what is wrong.
 * The SM sits in e_flags: bits 8-15 from ELF ABI version 8 (CUDA 12.8+),
 * bits 0-7 before. */
static const char *cubin_problem(const nvrtc_result *r, int sm) {
    const unsigned char *p = r->cubin;
    if (!p || r->cubin_size < 64) return "no cubin or shorter than an ELF header";
    if (memcmp(p, "\x7f" "ELF", 4) != 0) return "no ELF magic";
    if (p[4] != 2) return "not a 64-bit ELF";
    uint16_t machine;
    uint32_t flags;
    memcpy(&machine, p + 18, sizeof machine);
    memcpy(&flags, p + 48, sizeof flags);
    if (machine != EM_CUDA) return "e_machine is not EM_CUDA (190)";
    int got = p[8] >= 8 ? (int)((flags >> 8) & 0xff) : (int)(flags & 0xff);
    return got == sm ? NULL : "e_flags name another SM";
}

/* ---- finding NVRTC --------------------------------------------------- */

TEST(test_nvrtc_reports_version_and_library_path) {
    NEED_NVRTC();
    int major = -1, minor = -1;
    const char *path = NULL;
    CHECK_OK(nvrtc_version(&major, &minor));
    CHECK_OK(nvrtc_library_path(&path));
    CHECKF(major >= 11 && minor >= 0, "version %d.%d", major, minor);
    CHECKF(path && strstr(path, "nvrtc"), "path %s", path ? path : "(null)");
}

TEST(test_bad_explicit_path_is_named_in_the_error) {
    const char *bad = "/nonexistent/tilejit-test/libnvrtc.so.99";
    CHECK_OK(nvrtc_set_path(bad));
    tj_status load = nvrtc_load();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    nvrtc_request req = request(trivial_src, "sm_80", 0);
    nvrtc_result res;
    tj_status compile = nvrtc_compile(&req, &res);
    nvrtc_result_free(&res);
    CHECK_OK(nvrtc_set_path(NULL));
    CHECKF(load == TJ_ERR_UNSUPPORTED && strstr(msg, bad) && strstr(msg, "nvrtc_set_path"),
           "%s: %s", tj_status_name(load), msg);
    CHECK(compile == TJ_ERR_UNSUPPORTED);
}

TEST(test_env_path_is_used_and_named_in_the_error) {
    const char *bad = "/nonexistent/tilejit-env/libnvrtc.so";
    setenv("TILEJIT_NVRTC", bad, 1);
    CHECK_OK(nvrtc_set_path(NULL));   /* forget the library in use: search again */
    tj_status load = nvrtc_load();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    unsetenv("TILEJIT_NVRTC");
    CHECK_OK(nvrtc_set_path(NULL));
    CHECKF(load == TJ_ERR_UNSUPPORTED && strstr(msg, bad) && strstr(msg, "TILEJIT_NVRTC"),
           "%s: %s", tj_status_name(load), msg);
}

TEST(test_library_without_nvrtc_symbols_is_rejected) {
    CHECK_OK(nvrtc_set_path("libm.so.6"));
    tj_status load = nvrtc_load();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    CHECK_OK(nvrtc_set_path(NULL));
    CHECKF(load == TJ_ERR_UNSUPPORTED && strstr(msg, "libm.so.6") && strstr(msg, "lacks nvrtc"),
           "%s: %s", tj_status_name(load), msg);
}

TEST(test_set_path_rejects_empty_path) {
    CHECK_ERR(nvrtc_set_path(""), TJ_ERR_INVALID_ARG, "empty");
}

/* ---- archs ----------------------------------------------------------- */

TEST(test_supported_archs_start_at_sm80_and_include_sm90a) {
    NEED_NVRTC();
    const char *list = NULL;
    CHECK_OK(nvrtc_supported_archs(&list));
    CHECKF(strstr(list, "sm_80 ") && strstr(list, "sm_90 ") && strstr(list, "sm_90a"), "%s", list);
    CHECKF(!strstr(list, "sm_75") && !strstr(list, "sm_80a"), "%s", list);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save, *a = strtok_r(copy, " ", &save); a; a = strtok_r(NULL, " ", &save))
        CHECKF(nvrtc_arch_supported(a), "listed arch %s is not supported", a);
}

TEST(test_arch_names_are_checked) {
    NEED_NVRTC();
    CHECK(nvrtc_arch_supported("sm_80") && nvrtc_arch_supported("sm_86"));
    CHECK(nvrtc_arch_supported("sm_89") && nvrtc_arch_supported("sm_90a"));
    static const char *const bad[] = {"sm_80a", "sm_86a", "sm_90f", "sm_75", "sm_12", "sm_8",
                                      "sm_", "sm90", "compute_90", "sm_90ab", "", "sm_900000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(!nvrtc_arch_supported(bad[i]), "'%s' accepted", bad[i]);
    CHECK(!nvrtc_arch_supported(NULL));
}

TEST(test_unknown_arch_is_unsupported_and_lists_the_archs) {
    NEED_NVRTC();
    nvrtc_request req = request(trivial_src, "sm_12", 0);
    nvrtc_result res;
    tj_status s = nvrtc_compile(&req, &res);
    nvrtc_result_free(&res);
    CHECKF(s == TJ_ERR_UNSUPPORTED && strstr(tj_last_error(), "'sm_12'") &&
               strstr(tj_last_error(), "sm_80 "),
           "%s: %s", tj_status_name(s), tj_last_error());
}

TEST(test_malformed_arch_is_an_invalid_argument) {
    nvrtc_request req = request(trivial_src, "sm90a", 0);
    nvrtc_result res;
    CHECK_ERR(nvrtc_compile(&req, &res), TJ_ERR_INVALID_ARG, "'sm90a' is not a target name");
    CHECK(res.log && !res.cubin);
    nvrtc_result_free(&res);
    char *opts = NULL;
    CHECK_ERR(nvrtc_options(&req, &opts), TJ_ERR_INVALID_ARG, "sm90a");
    CHECK(opts == NULL);
}

/* ---- compiling ------------------------------------------------------- */

static void compile_trivial(int in_child) {
    static const struct { const char *arch; int sm; } cases[] = {{"sm_80", 80}, {"sm_90a", 90}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nvrtc_request req = request(trivial_src, cases[i].arch, in_child);
        nvrtc_result res;
        tj_status s = nvrtc_compile(&req, &res);
        const char *problem = s == TJ_OK ? cubin_problem(&res, cases[i].sm) : "compile failed";
        int seconds_ok = res.seconds > 0 && res.seconds < 120;
        nvrtc_result_free(&res);
        CHECKF(s == TJ_OK, "%s: %s", cases[i].arch, tj_last_error());
        CHECKF(!problem, "%s: %s", cases[i].arch, problem);
        CHECK(seconds_ok);
    }
}

TEST(test_compiles_trivial_kernel_in_process_for_sm80_and_sm90a) {
    NEED_NVRTC();
    compile_trivial(0);
}

TEST(test_compiles_trivial_kernel_in_child_for_sm80_and_sm90a) {
    NEED_NVRTC();
    compile_trivial(1);
}

TEST(test_child_and_in_process_give_the_same_cubin) {
    NEED_NVRTC();
    nvrtc_request here = request(trivial_src, "sm_90a", 0), child = request(trivial_src, "sm_90a", 1);
    nvrtc_result a, b;
    tj_status sa = nvrtc_compile(&here, &a), sb = nvrtc_compile(&child, &b);
    int same = sa == TJ_OK && sb == TJ_OK && a.cubin_size == b.cubin_size &&
               memcmp(a.cubin, b.cubin, a.cubin_size) == 0 && strcmp(a.options, b.options) == 0;
    nvrtc_result_free(&a);
    nvrtc_result_free(&b);
    CHECKF(same, "%s / %s: %s", tj_status_name(sa), tj_status_name(sb), tj_last_error());
}

static const char with_header_src[] =
    "#include \"tj/x.cuh\"\n"
    "extern \"C\" __global__ void twice(float *x) { x[threadIdx.x] = tj_twice(x[threadIdx.x]); }\n";

TEST(test_in_memory_headers_resolve_includes) {
    NEED_NVRTC();
    nvrtc_header headers[] = {
        {"tj/x.cuh", "#pragma once\n#include \"tj/y.cuh\"\n"
                     "__device__ inline float tj_twice(float v) { return TJ_TWO * v; }\n"},
        {"tj/y.cuh", "#pragma once\n#define TJ_TWO 2.0f\n"},
    };
    for (int in_child = 0; in_child < 2; in_child++) {
        nvrtc_request req = request(with_header_src, "sm_80", in_child);
        req.headers = headers;
        req.nheaders = 2;
        nvrtc_result res;
        tj_status s = nvrtc_compile(&req, &res);
        const char *problem = s == TJ_OK ? cubin_problem(&res, 80) : NULL;
        nvrtc_result_free(&res);
        CHECKF(s == TJ_OK, "in_child=%d: %s", in_child, tj_last_error());
        CHECKF(!problem, "%s", problem);
    }
}

TEST(test_missing_header_is_a_compile_error_naming_it) {
    NEED_NVRTC();
    nvrtc_request req = request(with_header_src, "sm_80", 0);
    nvrtc_result res;
    tj_status s = nvrtc_compile(&req, &res);
    int log_names_it = res.log && strstr(res.log, "tj/x.cuh");
    nvrtc_result_free(&res);
    CHECKF(s == TJ_ERR_COMPILE && log_names_it && strstr(tj_last_error(), "tj/x.cuh"),
           "%s: %s", tj_status_name(s), tj_last_error());
}

static const char syntax_error_src[] =
    "extern \"C\" __global__ void broken(float *x) {\n"
    "    x[threadIdx.x] = 1.0f\n"   /* the ';' is missing */
    "}\n";

TEST(test_syntax_error_is_a_compile_error_with_its_log_and_we_go_on) {
    NEED_NVRTC();
    for (int in_child = 0; in_child < 2; in_child++) {
        nvrtc_request req = request(syntax_error_src, "sm_90a", in_child);
        req.name = "broken.cu";
        nvrtc_result res;
        tj_status s = nvrtc_compile(&req, &res);
        int log_ok = res.log && strstr(res.log, "broken.cu(3)") && strstr(res.log, "error");
        int no_cubin = res.cubin == NULL && res.cubin_size == 0;
        nvrtc_result_free(&res);
        const char *msg = tj_last_error();
        CHECKF(s == TJ_ERR_COMPILE, "in_child=%d: %s: %s", in_child, tj_status_name(s), msg);
        CHECKF(log_ok && no_cubin, "in_child=%d", in_child);
        CHECKF(strstr(msg, "broken.cu for sm_90a") && strstr(msg, "expected a \";\""),
               "in_child=%d: %s", in_child, msg);
    }
    compile_trivial(0);
    compile_trivial(1);
}

TEST(test_options_are_recorded_without_fast_math_and_callers_come_last) {
    NEED_NVRTC();
    const char *extra[] = {"-lineinfo", "-DTJ_EXTRA=1"};
    nvrtc_request req = request(trivial_src, "sm_90a", 0);
    req.options = extra;
    req.noptions = 2;
    char *predicted = NULL;
    CHECK_OK(nvrtc_options(&req, &predicted));
    nvrtc_result res;
    tj_status s = nvrtc_compile(&req, &res);
    int same = res.options && strcmp(predicted, res.options) == 0;
    nvrtc_result_free(&res);
    char want[] = "--gpu-architecture=sm_90a -std=c++17 -default-device -lineinfo -DTJ_EXTRA=1";
    int as_wanted = strcmp(predicted, want) == 0 && !strstr(predicted, "fast_math");
    free(predicted);
    CHECK_OK(s);
    CHECK(same);
    CHECK(as_wanted);
}

TEST(test_bad_caller_option_is_an_invalid_argument_with_the_log) {
    NEED_NVRTC();
    const char *extra[] = {"--no-such-option-tilejit"};
    nvrtc_request req = request(trivial_src, "sm_80", 0);
    req.options = extra;
    req.noptions = 1;
    nvrtc_result res;
    tj_status s = nvrtc_compile(&req, &res);
    nvrtc_result_free(&res);
    CHECKF(s == TJ_ERR_INVALID_ARG && strstr(tj_last_error(), "no-such-option-tilejit"),
           "%s: %s", tj_status_name(s), tj_last_error());
}

TEST(test_request_validation_rejects_bad_input) {
    nvrtc_result res;
    nvrtc_request req = request(NULL, "sm_80", 0);
    CHECK_ERR(nvrtc_compile(&req, &res), TJ_ERR_INVALID_ARG, "source");
    nvrtc_result_free(&res);
    CHECK_ERR(nvrtc_compile(NULL, &res), TJ_ERR_INVALID_ARG, "NULL");
    nvrtc_result_free(&res);
    req = request(trivial_src, "sm_80", 1);
    req.nheaders = 1;
    CHECK_ERR(nvrtc_compile(&req, &res), TJ_ERR_INVALID_ARG, "header");
    nvrtc_result_free(&res);
    req = request(trivial_src, "sm_80", 1);
    req.timeout_s = -1;
    CHECK_ERR(nvrtc_compile(&req, &res), TJ_ERR_INVALID_ARG, "timeout");
    nvrtc_result_free(&res);
    const char *null_option[] = {NULL};
    req = request(trivial_src, "sm_80", 0);
    req.options = null_option;
    req.noptions = 1;
    CHECK_ERR(nvrtc_compile(&req, &res), TJ_ERR_INVALID_ARG, "option 0");
    nvrtc_result_free(&res);
    CHECK_ERR(nvrtc_compile(&req, NULL), TJ_ERR_INVALID_ARG, "res");
}

/* ---- a real crash and a real timeout --------------------------------- */

/* NVRTC 13.0 segfaults on a wgmma whose descriptors are the constant 0
 * (nvcc compiles it). 64x64x16 bf16 -> f32: 32 accumulator registers. */
static void wgmma_zero_desc_src(char *buf, size_t size) {
    char regs[512] = "", outs[1024] = "";
    size_t r = 0, o = 0;
    for (int i = 0; i < 32; i++) {
        r += (size_t)snprintf(regs + r, sizeof regs - r, "%s%%%d", i ? ", " : "", i);
        o += (size_t)snprintf(outs + o, sizeof outs - o, "%s\"+f\"(d[%d])", i ? ", " : "", i);
    }
    snprintf(buf, size,
             "extern \"C\" __global__ void wg(float *out) {\n"
             "    float d[32];\n"
             "    for (int i = 0; i < 32; i++) d[i] = 0.f;\n"
             "    unsigned long long desc_a = 0, desc_b = 0;\n"
             "    asm volatile(\"wgmma.fence.sync.aligned;\\n\" ::: \"memory\");\n"
             "    asm volatile(\"wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 \"\n"
             "                 \"{%s}, %%32, %%33, 1, 1, 1, 0, 0;\\n\"\n"
             "                 : %s : \"l\"(desc_a), \"l\"(desc_b));\n"
             "    asm volatile(\"wgmma.commit_group.sync.aligned;\\n\" ::: \"memory\");\n"
             "    asm volatile(\"wgmma.wait_group.sync.aligned 0;\\n\" ::: \"memory\");\n"
             "    for (int i = 0; i < 32; i++) out[threadIdx.x * 32 + i] = d[i];\n"
             "}\n",
             regs, outs);
}

TEST(test_nvrtc_crash_on_zero_wgmma_descriptor_in_child_is_reported) {
    NEED_NVRTC();
    char src[8192];
    wgmma_zero_desc_src(src, sizeof src);
    nvrtc_request req = request(src, "sm_90a", 1);   /* never in-process: it kills us */
    req.name = "wgmma_zero.cu";
    nvrtc_result res;
    tj_status s = nvrtc_compile(&req, &res);
    nvrtc_result_free(&res);
    int major = 0, minor = 0;
    nvrtc_version(&major, &minor);
    if (s == TJ_OK)
        SKIP("NVRTC %d.%d no longer crashes on this (the fake covers the crash path)", major, minor);
    /* A segfault normally; under ASan, NVRTC's malloc of a negative size is
     * caught first and the child exits with status 1. */
    const char *msg = tj_last_error();
    CHECKF(s == TJ_ERR_COMPILE && strstr(msg, "compiling wgmma_zero.cu for sm_90a") &&
               (strstr(msg, "NVRTC crashed (signal 11, Segmentation fault)") ||
                strstr(msg, "exited with status")),
           "%s: %s", tj_status_name(s), msg);
    compile_trivial(1);
}

/* Thousands of unrolled transcendental steps and a recursive template:
 * seconds of work for NVRTC, so a short timeout must fire. */
static const char slow_src[] =
    "template <int N> struct S { static __device__ float f(float x) {\n"
    "    return S<N - 1>::f(x * 1.0001f + (float)N) + S<N - 2>::f(x); } };\n"
    "template <> struct S<0> { static __device__ float f(float x) { return x; } };\n"
    "template <> struct S<1> { static __device__ float f(float x) { return x + 1.f; } };\n"
    "extern \"C\" __global__ void slow(float *x) {\n"
    "    float v = x[threadIdx.x];\n"
    "    #pragma unroll\n"
    "    for (int i = 0; i < 20000; i++) v = v * 1.0001f + __sinf(v + i);\n"
    "    x[threadIdx.x] = v + S<24>::f(v);\n"
    "}\n";

TEST(test_slow_compile_in_child_is_killed_at_the_timeout) {
    NEED_NVRTC();
    nvrtc_request req = request(slow_src, "sm_80", 1);
    req.timeout_s = 0.5;
    nvrtc_result res;
    double t0 = nvrtc_now();
    tj_status s = nvrtc_compile(&req, &res);
    double took = nvrtc_now() - t0;
    nvrtc_result_free(&res);
    CHECKF(s == TJ_ERR_COMPILE && strstr(tj_last_error(), "timed out after 0.5 s"),
           "%s: %s", tj_status_name(s), tj_last_error());
    CHECKF(took < 5.0, "took %.2f s", took);
}

/* ---- cost ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_compile_ms(int in_child, int n) {
    double t[16];
    for (int i = 0; i < n; i++) {
        nvrtc_request req = request(trivial_src, "sm_90a", in_child);
        nvrtc_result res;
        double t0 = nvrtc_now();
        tj_status s = nvrtc_compile(&req, &res);
        t[i] = s == TJ_OK ? (nvrtc_now() - t0) * 1e3 : -1;
        nvrtc_result_free(&res);
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

TEST(test_compile_time_in_process_vs_child_is_printed) {
    NEED_NVRTC();
    double here = median_compile_ms(0, 7), child = median_compile_ms(1, 7);
    printf("  trivial kernel, sm_90a, median of 7: in-process %.1f ms, in child %.1f ms\n",
           here, child);
    CHECK(here > 0 && child > 0);
}

/* ---- threads --------------------------------------------------------- */

struct worker {
    const char *src;
    int rounds, failures;
    char error[512];
};

static void *worker_run(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        nvrtc_request req = request(w->src, i % 2 ? "sm_80" : "sm_90a", (i + w->rounds) % 3 != 0);
        nvrtc_result res;
        tj_status s = nvrtc_compile(&req, &res);
        if (s != TJ_OK || !res.cubin) {
            w->failures++;
            snprintf(w->error, sizeof w->error, "%s", tj_last_error());
        }
        nvrtc_result_free(&res);
    }
    return NULL;
}

/* Compiles in and out of process from several threads at once. */
static void run_workers(const char *src, int nthreads, int rounds) {
    pthread_t tid[16];
    struct worker w[16];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.src = src, .rounds = rounds + i % 2};
        CHECK(pthread_create(&tid[i], NULL, worker_run, &w[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tid[i], NULL);
        failures += w[i].failures;
        if (w[i].failures) fprintf(stderr, "  thread %d: %s\n", i, w[i].error);
    }
    CHECK(failures == 0);
}

TEST(test_concurrent_compiles_from_threads) {
    NEED_NVRTC();
    run_workers(trivial_src, 4, 3);
}

TEST(test_log_head_drops_blank_lines_and_counts_the_rest) {
    char log[4096] = "", head[2048];
    int lines = (int)harness_randint(13, 40);
    for (int i = 0; i < lines; i++)
        snprintf(log + strlen(log), sizeof log - strlen(log), "line %d\n  \n", i);
    nvrtc_log_head(log, head, sizeof head);
    char tail[64];
    snprintf(tail, sizeof tail, "... (%d more lines in the log)", lines - 12);
    CHECKF(strncmp(head, "\n  line 0\n  line 1\n", 19) == 0, "%s", head);
    CHECKF(strstr(head, "line 11\n") && !strstr(head, "line 12\n") && strstr(head, tail), "%s", head);
    nvrtc_log_head(NULL, head, sizeof head);
    CHECK(head[0] == '\0');
}

/* ---- the frame the child sends --------------------------------------- */

TEST(test_frame_round_trips) {
    char cubin[300];
    for (size_t i = 0; i < sizeof cubin; i++) cubin[i] = (char)harness_randint(0, 255);
    nvrtc_result in = {cubin, sizeof cubin, "a log\nline 2", "-std=c++17", 0.25}, out;
    size_t size;
    void *frame = nvrtc_frame_encode(TJ_ERR_COMPILE, "the message", &in, &size);
    CHECK(frame);
    tj_status status;
    char *message = NULL;
    tj_status s = nvrtc_frame_decode(frame, size, &out, &status, &message);
    free(frame);
    CHECK_OK(s);
    int same = out.cubin_size == in.cubin_size && memcmp(out.cubin, cubin, sizeof cubin) == 0 &&
               strcmp(out.log, in.log) == 0 && strcmp(out.options, in.options) == 0 &&
               strcmp(message, "the message") == 0 && status == TJ_ERR_COMPILE;
    nvrtc_result_free(&out);
    free(message);
    CHECK(same);
}

/* Truncations, flipped bytes and random noise are errors, never crashes or
 * reads past the end (run under ASan to see the latter). */
TEST(test_frame_decoder_rejects_garbage) {
    nvrtc_result in = {"\x7f" "ELFxxxxxxxx", 12, "log", "opts", 1.0};
    size_t size;
    unsigned char *frame = nvrtc_frame_encode(TJ_OK, "", &in, &size);
    CHECK(frame);
    int rejected = 0;
    for (int round = 0; round < 2000; round++) {
        size_t n = size;
        unsigned char *copy = malloc(size);
        memcpy(copy, frame, size);
        int kind = (int)harness_randint(0, 2);
        if (kind == 0) n = (size_t)harness_randint(0, (int64_t)size - 1);
        if (kind == 1) copy[harness_randint(0, (int64_t)size - 1)] ^= (unsigned char)harness_randint(1, 255);
        if (kind == 2)
            for (size_t i = 0; i < size; i++) copy[i] = (unsigned char)harness_randint(0, 255);
        unsigned char *exact = malloc(n ? n : 1);   /* so ASan sees any overread */
        memcpy(exact, copy, n);
        nvrtc_result out;
        tj_status status;
        char *message = NULL;
        tj_status s = nvrtc_frame_decode(exact, n, &out, &status, &message);
        if (s == TJ_OK) {
            nvrtc_result_free(&out);
            free(message);
        } else {
            rejected++;
            if (s != TJ_ERR_COMPILE || !strstr(tj_last_error(), "malformed")) rejected = -100000;
        }
        free(exact);
        free(copy);
    }
    free(frame);
    CHECKF(rejected > 1000, "rejected %d of 2000", rejected);
}

/* ---- the child's troubles, with the fake NVRTC ----------------------- */

static int use_fake(void) {
    if (access(FAKE_PATH, R_OK) != 0) return 0;
    return nvrtc_set_path(FAKE_PATH) == TJ_OK && nvrtc_load() == TJ_OK;
}

/* Runs `body` against the fake and puts the real search back, even when a
 * CHECK in the body returned early. */
#define FAKE_TEST(name)                                                       \
    static void name##_body(void);                                            \
    TEST(name) {                                                              \
        if (!use_fake()) {                                                    \
            nvrtc_set_path(NULL);                                             \
            SKIP("%s was not built: %.200s", FAKE_PATH, tj_last_error());     \
        }                                                                     \
        name##_body();                                                        \
        nvrtc_set_path(NULL);                                                 \
    }                                                                         \
    static void name##_body(void)

static tj_status fake_compile(const char *src, double timeout_s, nvrtc_result *res) {
    nvrtc_request req = request(src, "sm_90a", 1);
    req.name = "fake.cu";
    req.timeout_s = timeout_s;
    return nvrtc_compile(&req, res);
}

FAKE_TEST(test_fake_lists_a_and_f_variants_by_version) {
    const char *list = NULL;
    CHECK_OK(nvrtc_supported_archs(&list));
    CHECKF(strcmp(list, "sm_80 sm_86 sm_89 sm_90 sm_90a sm_100 sm_100a sm_100f "
                        "sm_120 sm_120a sm_120f") == 0, "%s", list);
}

FAKE_TEST(test_fake_child_carries_a_cubin_larger_than_a_pipe) {
    nvrtc_result child, here;
    tj_status s = fake_compile("FAKE_BIG", 0, &child);
    nvrtc_request req = request("FAKE_BIG", "sm_90a", 0);
    req.name = "fake.cu";
    tj_status t = nvrtc_compile(&req, &here);
    int same = s == TJ_OK && t == TJ_OK && child.cubin_size == ((size_t)8 << 20) &&
               child.cubin_size == here.cubin_size &&
               memcmp(child.cubin, here.cubin, here.cubin_size) == 0 &&
               strcmp(child.log, "options: --gpu-architecture=sm_90a -std=c++17 -default-device") == 0;
    nvrtc_result_free(&child);
    nvrtc_result_free(&here);
    CHECKF(same, "%s / %s: %s", tj_status_name(s), tj_status_name(t), tj_last_error());
}

FAKE_TEST(test_fake_crash_in_child_is_reported_and_we_survive) {
    nvrtc_result res;
    tj_status s = fake_compile("FAKE_SEGV", 0, &res);
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE,
              "NVRTC crashed (signal 11, Segmentation fault) compiling fake.cu for sm_90a");
    CHECK_OK(fake_compile("fine", 0, &res));
    nvrtc_result_free(&res);
}

FAKE_TEST(test_fake_abort_output_becomes_the_log) {
    nvrtc_result res;
    tj_status s = fake_compile("FAKE_ABORT", 0, &res);
    int logged = res.log && strstr(res.log, "internal assertion 'x != 0' failed");
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE, "NVRTC crashed (signal 6, Aborted)");
    CHECK(strstr(tj_last_error(), "internal assertion"));
    CHECK(logged);
}

FAKE_TEST(test_fake_hang_is_killed_at_the_timeout) {
    nvrtc_result res;
    double timeout = harness_uniform(0.1, 0.3), t0 = nvrtc_now();
    tj_status s = fake_compile("FAKE_HANG", timeout, &res);
    double took = nvrtc_now() - t0;
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE, "timed out");
    CHECKF(took >= timeout && took < timeout + 3.0, "took %.3f s for a %.3f s timeout", took, timeout);
}

FAKE_TEST(test_fake_exit_without_a_result_is_an_error) {
    nvrtc_result res;
    tj_status s = fake_compile("FAKE_EXIT0", 0, &res);
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE, "malformed result (0 bytes");
}

FAKE_TEST(test_fake_nonzero_exit_is_reported) {
    nvrtc_result res;
    tj_status s = fake_compile("FAKE_EXIT3", 0, &res);
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE, "exited with status 3 compiling fake.cu");
}

FAKE_TEST(test_fake_compile_error_in_child_keeps_log_and_message) {
    nvrtc_result res;
    tj_status s = fake_compile("FAKE_ERROR", 0, &res);
    int logged = res.log && strstr(res.log, "fake.cu(1): error") && res.options;
    nvrtc_result_free(&res);
    CHECK_ERR(s, TJ_ERR_COMPILE, "NVRTC failed compiling fake.cu for sm_90a");
    CHECK(strstr(tj_last_error(), "expected a"));
    CHECK(logged);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

FAKE_TEST(test_fake_child_compiles_leak_no_fds_or_children) {
    static const char *const srcs[] = {"fine", "FAKE_SEGV", "FAKE_ERROR", "FAKE_EXIT0", "FAKE_HANG", "FAKE_BIG"};
    int before = open_fds();
    for (int i = 0; i < 12; i++) {
        nvrtc_result res;
        fake_compile(srcs[i % 6], 0.1, &res);
        nvrtc_result_free(&res);
    }
    int after = open_fds();
    int status;
    pid_t left = waitpid(-1, &status, WNOHANG);
    CHECKF(before == after, "%d fds before, %d after", before, after);
    CHECKF(left < 0 && errno == ECHILD, "an unreaped child: waitpid gave %d", (int)left);
}

FAKE_TEST(test_fake_result_arrives_when_sigchld_is_ignored) {
    /* With SIGCHLD ignored the kernel reaps the child itself: waitpid
     * fails, and the frame alone must carry the answer. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGCHLD, &ign, &old);
    nvrtc_result res;
    tj_status s = fake_compile("fine", 0, &res);
    int ok = s == TJ_OK && res.cubin_size == 4096;
    nvrtc_result_free(&res);
    sigaction(SIGCHLD, &old, NULL);
    CHECKF(ok, "%s: %s", tj_status_name(s), tj_last_error());
}

FAKE_TEST(test_fake_concurrent_child_compiles_from_threads) {
    run_workers("fine", 8, 10);
}

int main(void) { return harness_main(); }
