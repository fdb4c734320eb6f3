/*
 * test_gpu_driver.c — runtime/driver.c on a real device: device query,
 * contexts, loading NVRTC-built cubins (library and module paths), launches
 * with large dynamic shared memory and with clusters, memory, streams and
 * events. Without a device every test SKIPs with the driver's reason;
 * without NVRTC the ones that need a kernel SKIP.
 */
#include <pthread.h>

#include "driver_cuda.h"
#include "gpu_harness.h"

/* Each block copies its chunk of x (all of its dynamic shared memory) into
 * shared memory and writes it back reversed and scaled: wrong if the
 * launch did not really get `chunk` floats of shared memory. */
static const char *const reverse_src =
    "extern \"C\" __global__ void reverse_scale(const float *x, float *y, float a,\n"
    "                                           int chunk) {\n"
    "    extern __shared__ float buf[];\n"
    "    const float *xb = x + (size_t)blockIdx.x * chunk;\n"
    "    float *yb = y + (size_t)blockIdx.x * chunk;\n"
    "    for (int i = threadIdx.x; i < chunk; i += blockDim.x) buf[i] = xb[i];\n"
    "    __syncthreads();\n"
    "    for (int i = threadIdx.x; i < chunk; i += blockDim.x)\n"
    "        yb[i] = a * buf[chunk - 1 - i];\n"
    "}\n"
    "extern \"C\" __global__ void mixed_params(double d, char c, long long q,\n"
    "                                          const float *p, short h, float f,\n"
    "                                          double *out) {\n"
    "    out[0] = d; out[1] = c; out[2] = (double)q; out[3] = p[1];\n"
    "    out[4] = h; out[5] = f;\n"
    "}\n"
    "extern \"C\" __global__ void write_half(float *y, int n) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n / 2) y[i] = 1.0f;\n"
    "}\n";

/* Cluster identity and distributed shared memory (sm_90): each block
 * records its rank in the cluster, the cluster's size, and the value its
 * next peer (rank + 1) stored in that peer's shared memory. */
static const char *const cluster_src =
    "__device__ __forceinline__ void cluster_sync() {\n"
    "    // barrier.cluster.arrive is .release and wait .acquire by default\n"
    "    asm volatile(\"barrier.cluster.arrive;\\n\\tbarrier.cluster.wait;\" ::: \"memory\");\n"
    "}\n"
    "extern \"C\" __global__ void cluster_ids(unsigned *out) {\n"
    "    __shared__ unsigned slot;\n"
    "    unsigned rank, n;\n"
    "    asm volatile(\"mov.u32 %0, %%cluster_ctarank;\" : \"=r\"(rank));\n"
    "    asm volatile(\"mov.u32 %0, %%cluster_nctarank;\" : \"=r\"(n));\n"
    "    unsigned bid = blockIdx.y * gridDim.x + blockIdx.x;\n"
    "    if (threadIdx.x == 0) slot = bid * 7u + 3u;\n"
    "    cluster_sync();\n"
    "    if (threadIdx.x == 0) {\n"
    "        unsigned long long gen = (unsigned long long)&slot, sh;\n"
    "        asm(\"cvta.to.shared.u64 %0, %1;\" : \"=l\"(sh) : \"l\"(gen));\n"
    "        unsigned remote, v, peer = (rank + 1u) % n;\n"
    "        asm volatile(\"mapa.shared::cluster.u32 %0, %1, %2;\"\n"
    "                     : \"=r\"(remote) : \"r\"((unsigned)sh), \"r\"(peer));\n"
    "        asm volatile(\"ld.shared::cluster.u32 %0, [%1];\"\n"
    "                     : \"=r\"(v) : \"r\"(remote) : \"memory\");\n"
    "        out[bid * 3 + 0] = rank; out[bid * 3 + 1] = n; out[bid * 3 + 2] = v;\n"
    "    }\n"
    "    cluster_sync();  // peers' shared memory must outlive the reads\n"
    "}\n";

/* Launch reverse_scale over `blocks` chunks with `smem` bytes of dynamic
 * shared memory on `stream` and check the result against the host. */
static int run_reverse(drv_kernel *k, unsigned blocks, unsigned smem, void *stream) {
    int chunk = (int)(smem / sizeof(float));
    size_t n = (size_t)blocks * (size_t)chunk;
    gpu_buf x, y;
    if (gpu_buf_random(&x, TJ_F32, n, -2.0, 2.0) != TJ_OK) return 0;
    if (gpu_buf_poison(&y, TJ_F32, n) != TJ_OK) {
        gpu_buf_free(&x);
        return 0;
    }
    float a = (float)harness_uniform(0.5, 1.5);
    void *params[] = {&x.dev, &y.dev, &a, &chunk};
    unsigned grid[3] = {blocks, 1, 1}, block[3] = {256, 1, 1};
    int ok = drv_launch(k, grid, block, smem, NULL, stream, params) == TJ_OK &&
             drv_stream_sync(stream) == TJ_OK && gpu_buf_download(&y) == TJ_OK;
    if (ok) {
        double *want = malloc(n * sizeof *want);
        const float *xs = x.host;
        for (size_t b = 0; want && b < blocks; b++)
            for (int i = 0; i < chunk; i++)
                want[b * chunk + i] = (double)(a * xs[b * chunk + (chunk - 1 - i)]);
        gpu_cmp c = want ? gpu_compare(TJ_F32, y.host, want, n, 1.0) : (gpu_cmp){.bad = 1};
        if (c.bad)
            fprintf(stderr, "  reverse_scale smem %u: %zu bad, first [%zu] got %g want %g\n",
                    smem, c.bad, c.first, c.got, c.want);
        ok = c.bad == 0;
        free(want);
    } else {
        fprintf(stderr, "  reverse_scale smem %u: %s\n", smem, tj_last_error());
    }
    gpu_buf_free(&x);
    gpu_buf_free(&y);
    return ok;
}

TEST(test_device_query_is_consistent) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    char arch[16];
    CHECK_OK(drv_arch_name(dev.cc_major, dev.cc_minor, arch, sizeof arch));
    printf("  %s: %s, %d SMs, %d KB smem/block opt-in, %d MB L2, %zu MB, clusters %d\n",
           dev.name, dev.arch, dev.sm_count, dev.smem_per_block_optin / 1024,
           dev.l2_bytes >> 20, dev.memory_bytes >> 20, dev.cluster_launch);
    CHECK(dev.name[0] != '\0');
    CHECK(strcmp(dev.arch, arch) == 0);
    CHECK(dev.cc_major >= 7 && dev.sm_count > 0 && dev.max_threads_per_block >= 1024);
    CHECK(dev.smem_per_block == 48 * 1024);
    CHECK(dev.smem_per_block_optin >= dev.smem_per_block);
    CHECK(dev.smem_per_sm >= dev.smem_per_block_optin);
    CHECK(dev.l2_bytes > 0 && dev.memory_bytes > ((size_t)1 << 30));
    CHECK(dev.cluster_launch == (dev.cc_major >= 9));
    int count = 0;
    CHECK_OK(drv_device_count(&count));
    CHECK_ERR(drv_device_info(count, &dev), TJ_ERR_INVALID_ARG, "no CUDA device");
}

static void *context_from_thread(void *arg) {
    void **ctx = arg;
    if (drv_context_current(0, ctx) != TJ_OK) *ctx = NULL;
    return NULL;
}

/* With no context current, every thread gets device 0's one primary. */
TEST(test_primary_context_is_shared_by_threads) {
    GPU_REQUIRE_DEVICE(NULL);
    void *mine = NULL, *again = NULL, *theirs = NULL;
    CHECK_OK(drv_context_current(0, &mine));
    CHECK_OK(drv_context_current(0, &again));
    CHECK(mine && mine == again);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, context_from_thread, &theirs) == 0);
    pthread_join(t, NULL);
    CHECK(theirs == mine);
    int ordinal = -1;
    CHECK_OK(drv_context_device(&ordinal));
    CHECK(ordinal == 0);
}

/* Image checks need no device: only NVRTC, for a real cubin. */
TEST(test_image_check_accepts_whole_cubins_rejects_truncated) {
    void *cubin;
    size_t size;
    char why[512];
    int rc = gpu_compile(reverse_src, "sm_90a", &cubin, &size, why, sizeof why);
    if (rc == 77) SKIP("%.240s", why);
    CHECK(rc == 0);
    tj_status whole = drv_image_check(cubin, size, "test");
    size_t cuts[] = {size - 1, size - 64, size / 2, 200, 64, 63};
    int bad = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        if (drv_image_check(cubin, cuts[i], "test") != TJ_ERR_INVALID_ARG) {
            fprintf(stderr, "  cut to %zu of %zu bytes passed\n", cuts[i], size);
            bad++;
        }
    drv_library *lib = NULL;
    tj_status load = drv_library_load(cubin, size / 2, &lib);
    free(cubin);
    CHECK(whole == TJ_OK);
    CHECK(bad == 0);
    CHECK(load == TJ_ERR_INVALID_ARG && lib == NULL);
}

TEST(test_image_check_rejects_junk) {
    unsigned char junk[256];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)harness_randint(1, 255);
    junk[0] = 'J';   /* not ELF, not a fatbin, and no NUL: not PTX either */
    CHECK_ERR(drv_image_check(junk, sizeof junk, "t"), TJ_ERR_INVALID_ARG, "neither");
    drv_library *lib = NULL;
    CHECK_ERR(drv_library_load(junk, sizeof junk, &lib), TJ_ERR_INVALID_ARG, "neither");
    CHECK(lib == NULL);
    memcpy(junk, "\177ELF", 4);
    CHECK_ERR(drv_image_check(junk, sizeof junk, "t"), TJ_ERR_INVALID_ARG, "not a 64-bit CUDA");
    const uint32_t magic = 0xBA55ED50u;
    const uint16_t version = 1, header = 16;
    const uint64_t body = 1u << 20;
    memcpy(junk, &magic, 4);
    memcpy(junk + 4, &version, 2);
    memcpy(junk + 6, &header, 2);
    memcpy(junk + 8, &body, 8);
    CHECK_ERR(drv_image_check(junk, sizeof junk, "t"), TJ_ERR_INVALID_ARG, "truncated fatbin");
    const char ptx[] = "//\n.version 8.0\n.target sm_90\n.address_size 64\n";
    CHECK_OK(drv_image_check(ptx, sizeof ptx, "t"));
    CHECK_ERR(drv_image_check(ptx, sizeof ptx - 1, "t"), TJ_ERR_INVALID_ARG, "neither");
    CHECK_ERR(drv_image_check(NULL, 64, "t"), TJ_ERR_INVALID_ARG, "NULL");
}

/* A cubin for another architecture fails cleanly: at load, or (lazy
 * loading) when the kernel is looked up or launched. */
TEST(test_cubin_for_another_arch_is_driver_error) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    const char *other = dev.cc_major == 9 ? "sm_80" : "sm_90a";
    drv_library *lib = NULL;
    GPU_BUILD(reverse_src, other, &lib);
    drv_kernel *k = NULL;
    tj_status s = drv_library_get_kernel(lib, "write_half", &k);
    if (s == TJ_OK) {
        drv_ptr y = 0;
        int n = 0;
        void *params[] = {&y, &n};
        unsigned one[3] = {1, 1, 1};
        s = drv_launch(k, one, one, 0, NULL, NULL, params);
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    drv_library_unload(lib);
    CHECKF(s == TJ_ERR_DRIVER && strstr(msg, "CUDA_ERROR_"), "%s cubin on %s: %s: %s", other,
           dev.arch, tj_status_name(s), msg);
}

TEST(test_launch_with_large_dynamic_smem_on_a_stream) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k, *again;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &again));
    CHECK(k == again);
    void *stream = NULL;
    CHECK_OK(drv_stream_create(&stream));
    unsigned blocks = (unsigned)dev.sm_count + 3;
    /* Under the default, just over it, then the most the device allows. */
    unsigned sizes[] = {16 * 1024, 64 * 1024, 64 * 1024,
                        (unsigned)dev.smem_per_block_optin / 1024 * 1024};
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof sizes / sizeof sizes[0]; i++)
        ok = run_reverse(k, blocks, sizes[i], stream);
    drv_stream_destroy(stream);
    drv_library_unload(lib);
    CHECK(ok);
}

typedef struct launch_job {
    drv_kernel *k;
    unsigned blocks, smem;
    int chunk, use_stream;
    float a;
    gpu_buf x, y;
    tj_status status;
    char error[512];
} launch_job;

/* A thread that never made a context current. With use_stream its first
 * call creates a stream (the memory/stream calls find device 0's primary
 * context); without, its very first call is drv_launch on the NULL stream,
 * which must find the context itself. */
static void *launch_from_fresh_thread(void *arg) {
    launch_job *j = arg;
    void *stream = NULL;
    void *params[] = {&j->x.dev, &j->y.dev, &j->a, &j->chunk};
    unsigned grid[3] = {j->blocks, 1, 1}, block[3] = {256, 1, 1};
    j->status = j->use_stream ? drv_stream_create(&stream) : TJ_OK;
    if (j->status == TJ_OK) j->status = drv_launch(j->k, grid, block, j->smem, NULL, stream, params);
    if (j->status == TJ_OK) j->status = drv_stream_sync(stream);
    if (j->status != TJ_OK) snprintf(j->error, sizeof j->error, "%s", tj_last_error());
    drv_stream_destroy(stream);
    return NULL;
}

/* Several fresh threads raise one kernel's shared-memory limit at once,
 * each needing a different amount. */
TEST(test_concurrent_launches_from_fresh_threads) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    enum { NT = 6 };
    launch_job jobs[NT];
    pthread_t t[NT];
    unsigned top = (unsigned)dev.smem_per_block_optin / 4096 * 4096;
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < NT; i++) {
        launch_job *j = &jobs[i];
        j->k = k;
        j->blocks = (unsigned)dev.sm_count / 2 + (unsigned)i;
        j->smem = top - (unsigned)i * 24576;
        j->chunk = (int)(j->smem / 4);
        j->use_stream = i % 2;
        j->a = (float)harness_uniform(0.5, 1.5);
        size_t n = (size_t)j->blocks * (size_t)j->chunk;
        CHECK_OK(gpu_buf_random(&j->x, TJ_F32, n, -2, 2));
        CHECK_OK(gpu_buf_poison(&j->y, TJ_F32, n));
    }
    for (int i = 0; i < NT; i++)
        CHECK(pthread_create(&t[i], NULL, launch_from_fresh_thread, &jobs[i]) == 0);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    int ok = 1;
    for (int i = 0; i < NT; i++) {
        launch_job *j = &jobs[i];
        if (j->status != TJ_OK || gpu_buf_download(&j->y) != TJ_OK) {
            fprintf(stderr, "  thread %d (smem %u, %s stream): %s\n", i, j->smem,
                    j->use_stream ? "own" : "NULL", j->error);
            ok = 0;
            continue;
        }
        const float *xs = j->x.host, *ys = j->y.host;
        for (unsigned b = 0; b < j->blocks; b++)
            for (int e = 0; e < j->chunk; e++) {
                size_t at = (size_t)b * j->chunk;
                if (ys[at + e] != j->a * xs[at + j->chunk - 1 - e]) {
                    if (ok) fprintf(stderr, "  thread %d: wrong at block %u elem %d\n", i, b, e);
                    ok = 0;
                }
            }
    }
    for (int i = 0; i < NT; i++) {
        gpu_buf_free(&jobs[i].x);
        gpu_buf_free(&jobs[i].y);
    }
    drv_library_unload(lib);
    CHECK(ok);
}

TEST(test_smem_beyond_the_device_is_driver_error) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    /* Valid arguments, so that a driver that let the launch through would
     * not poison the context for the tests after this one. */
    drv_ptr x = 0;
    CHECK_OK(drv_mem_alloc(64, &x));
    int chunk = 1;
    float a = 1;
    void *params[] = {&x, &x, &a, &chunk};
    unsigned grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
    tj_status s = drv_launch(k, grid, block, (unsigned)dev.smem_per_block_optin + 4096, NULL,
                             NULL, params);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    drv_context_sync();
    drv_mem_free(x);
    drv_library_unload(lib);
    CHECK(s == TJ_ERR_DRIVER);
    CHECKF(strstr(msg, "MAX_DYNAMIC_SHARED_SIZE_BYTES") && strstr(msg, "reverse_scale"), "%s",
           msg);
}

TEST(test_module_path_runs_the_same_kernel) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    void *cubin;
    size_t size;
    char why[512];
    int rc = gpu_compile(reverse_src, dev.arch, &cubin, &size, why, sizeof why);
    if (rc == 77) SKIP("%.240s", why);
    CHECK(rc == 0);
    drv_library *lib = NULL;
    tj_status s = drv_library_load_module(cubin, size, &lib);
    free(cubin);   /* the driver keeps its own copy */
    CHECK_OK(s);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    void *fn = NULL;
    CHECK_OK(drv_kernel_function(k, &fn));
    CHECK(fn != NULL);
    int ok = run_reverse(k, 5, 80 * 1024, NULL);
    drv_library_unload(lib);
    CHECK(ok);
}

TEST(test_missing_kernel_name_is_driver_error) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k = NULL;
    tj_status s = drv_library_get_kernel(lib, "no_such_kernel", &k);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    drv_library_unload(lib);
    CHECK(s == TJ_ERR_DRIVER && k == NULL);
    CHECKF(strstr(msg, "no_such_kernel") && strstr(msg, "extern"), "%s", msg);
}

TEST(test_params_of_mixed_sizes_arrive_intact) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "mixed_params", &k));
    gpu_buf p, out;
    CHECK_OK(gpu_buf_random(&p, TJ_F32, 4, -8, 8));
    CHECK_OK(gpu_buf_poison(&out, TJ_F64, 6));
    double d = harness_uniform(-100, 100);
    char c = (char)harness_randint(-100, -1);
    long long q = (long long)harness_randint(1LL << 40, 1LL << 50);
    short h = (short)harness_randint(-30000, -1);
    float f = (float)harness_uniform(1, 2);
    void *params[] = {&d, &c, &q, &p.dev, &h, &f, &out.dev};
    unsigned one[3] = {1, 1, 1};
    CHECK_OK(drv_launch(k, one, one, 0, NULL, NULL, params));
    CHECK_OK(drv_context_sync());
    CHECK_OK(gpu_buf_download(&out));
    double want[6] = {d, c, (double)q, gpu_buf_get(&p, 1), h, f};
    gpu_buf_free(&p);
    drv_library_unload(lib);
    GPU_CHECK_CLOSE(&out, want, 1.0);
    gpu_buf_free(&out);
}

/* The harness itself: an output a kernel half-wrote must not pass. */
TEST(test_poison_catches_unwritten_outputs) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "write_half", &k));
    int n = 1000;
    gpu_buf y;
    CHECK_OK(gpu_buf_poison(&y, TJ_F32, (size_t)n));
    void *params[] = {&y.dev, &n};
    unsigned grid[3] = {4, 1, 1}, block[3] = {256, 1, 1};
    CHECK_OK(drv_launch(k, grid, block, 0, NULL, NULL, params));
    CHECK_OK(gpu_buf_download(&y));
    double want[1000];
    for (int i = 0; i < n; i++) want[i] = 1.0;
    gpu_cmp c = gpu_compare(TJ_F32, y.host, want, (size_t)n, 1.0);
    gpu_buf_free(&y);
    drv_library_unload(lib);
    CHECKF(c.bad == (size_t)n / 2 && c.first == (size_t)n / 2, "bad %zu first %zu", c.bad,
           c.first);
}

TEST(test_launch_error_names_the_kernel) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "write_half", &k));
    drv_ptr y = 0;
    int n = 0;
    void *params[] = {&y, &n};
    unsigned grid[3] = {1, 1, 1}, block[3] = {4096, 1, 1};   /* too many threads */
    tj_status s = drv_launch(k, grid, block, 0, NULL, NULL, params);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tj_last_error());
    unsigned zero[3] = {0, 1, 1};
    tj_status z = drv_launch(k, zero, block, 0, NULL, NULL, params);
    drv_library_unload(lib);
    CHECK(s == TJ_ERR_DRIVER);
    CHECKF(strstr(msg, "cuLaunchKernel(write_half") && strstr(msg, "CUDA_ERROR_"), "%s", msg);
    CHECK(z == TJ_ERR_INVALID_ARG);
}

TEST(test_kernel_attributes_are_readable) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    int regs = 0, smem = -1, threads = 0;
    CHECK_OK(drv_kernel_attribute(k, DRV_CU_FUNC_ATTRIBUTE_NUM_REGS, &regs));
    CHECK_OK(drv_kernel_attribute(k, DRV_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, &smem));
    CHECK_OK(drv_kernel_attribute(k, DRV_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &threads));
    drv_library_unload(lib);
    CHECK(regs > 0 && smem == 0 && threads >= 32);
}

static int check_cluster(drv_kernel *k, unsigned gx, unsigned gy, unsigned cx, unsigned cy) {
    unsigned nblocks = gx * gy;
    gpu_buf out;
    if (gpu_buf_poison(&out, TJ_I32, (size_t)nblocks * 3) != TJ_OK) return 0;
    void *params[] = {&out.dev};
    unsigned grid[3] = {gx, gy, 1}, block[3] = {64, 1, 1}, cluster[3] = {cx, cy, 1};
    int ok = drv_launch(k, grid, block, 0, cluster, NULL, params) == TJ_OK &&
             drv_context_sync() == TJ_OK && gpu_buf_download(&out) == TJ_OK;
    if (!ok) fprintf(stderr, "  cluster %ux%u: %s\n", cx, cy, tj_last_error());
    const int32_t *o = out.host;
    for (unsigned y = 0; ok && y < gy; y++)
        for (unsigned x = 0; ok && x < gx; x++) {
            /* %cluster_ctarank is x-fastest within the cluster. */
            unsigned bid = y * gx + x, rank = x % cx + (y % cy) * cx, n = cx * cy;
            unsigned peer = (rank + 1) % n;
            unsigned px = x - x % cx + peer % cx, py = y - y % cy + peer / cx;
            unsigned want[3] = {rank, n, (py * gx + px) * 7 + 3};
            for (int j = 0; j < 3; j++)
                if ((unsigned)o[bid * 3 + j] != want[j]) {
                    fprintf(stderr, "  cluster %ux%u block (%u,%u) field %d: got %d want %u\n",
                            cx, cy, x, y, j, o[bid * 3 + j], want[j]);
                    ok = 0;
                }
        }
    gpu_buf_free(&out);
    return ok;
}

TEST(test_cluster_launch_gives_clusters_and_dsmem) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9 || !dev.cluster_launch)
        SKIP("%.100s (%s) has no thread-block clusters (sm_90+)", dev.name, dev.arch);
    drv_library *lib;
    GPU_BUILD(cluster_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "cluster_ids", &k));
    int ok = check_cluster(k, 8, 3, 2, 1) && check_cluster(k, 16, 2, 4, 1) &&
             check_cluster(k, 4, 4, 2, 2) && check_cluster(k, 8, 1, 8, 1);
    unsigned grid[3] = {6, 1, 1}, block[3] = {64, 1, 1}, cluster[3] = {4, 1, 1};
    drv_ptr none = 0;
    void *params[] = {&none};
    tj_status s = drv_launch(k, grid, block, 0, cluster, NULL, params);
    /* Resident clusters: at least one, never more blocks than SMs with
     * an SM's shared memory each (1-2 a GPC may stay idle for pairs). */
    int n2 = -1, n4 = -1;
    unsigned two[3] = {2, 1, 1}, big = (unsigned)dev.smem_per_block_optin - 8192;
    tj_status q2 = drv_kernel_max_clusters(k, block, big, two, &n2);
    tj_status q4 = drv_kernel_max_clusters(k, block, big, cluster, &n4);
    drv_library_unload(lib);
    CHECK(ok);
    CHECK(s == TJ_ERR_INVALID_ARG);   /* 4 does not divide 6 */
    CHECK_OK(q2);
    CHECK_OK(q4);
    fprintf(stderr, "  %s: %d clusters of 2, %d of 4 resident with %u B of shared memory a block\n",
            dev.name, n2, n4, big);
    CHECKF(n2 >= 1 && 2 * n2 <= dev.sm_count && n4 >= 1 && 4 * n4 <= 2 * n2,
           "clusters resident: %d of 2, %d of 4, %d SMs", n2, n4, dev.sm_count);
}

TEST(test_memory_roundtrip_and_memset) {
    GPU_REQUIRE_DEVICE(NULL);
    size_t n = 4096 + (size_t)harness_randint(1, 999);
    gpu_buf a, b;
    CHECK_OK(gpu_buf_random(&a, TJ_I32, n, -1000000, 1000000));
    CHECK_OK(gpu_buf_poison(&b, TJ_I32, n));
    CHECK_OK(drv_memcpy_dtod(b.dev, a.dev, n * 4));
    void *stream = NULL;
    CHECK_OK(drv_stream_create(&stream));
    int32_t *back = malloc(n * 4);
    CHECK(back != NULL);
    CHECK_OK(drv_memcpy_dtoh_async(back, b.dev, n * 4, stream));
    CHECK_OK(drv_stream_sync(stream));
    CHECK(memcmp(back, a.host, n * 4) == 0);
    CHECK_OK(drv_memset_d32(b.dev, 0xC0FFEEu, n));
    CHECK_OK(drv_memset_d8(b.dev, 0x11, 8));
    CHECK_OK(gpu_buf_download(&b));
    const int32_t *bh = b.host;
    CHECK(bh[0] == 0x11111111 && bh[1] == 0x11111111 && bh[2] == 0xC0FFEE &&
          bh[n - 1] == 0xC0FFEE);
    CHECK_OK(drv_memcpy_htod_async(b.dev, back, n * 4, stream));
    CHECK_OK(drv_stream_sync(stream));
    CHECK_OK(gpu_buf_download(&b));
    CHECK(memcmp(b.host, a.host, n * 4) == 0);
    size_t free_b = 0, total_b = 0;
    CHECK_OK(drv_mem_info(&free_b, &total_b));
    CHECK(free_b > 0 && free_b <= total_b);
    drv_ptr huge = 0;
    CHECK_ERR(drv_mem_alloc(total_b * 2, &huge), TJ_ERR_DRIVER, "CUDA_ERROR_OUT_OF_MEMORY");
    free(back);
    drv_stream_destroy(stream);
    gpu_buf_free(&a);
    gpu_buf_free(&b);
}

TEST(test_events_time_kernels) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    drv_library *lib;
    GPU_BUILD(reverse_src, dev.arch, &lib);
    drv_kernel *k;
    CHECK_OK(drv_library_get_kernel(lib, "reverse_scale", &k));
    void *stream = NULL, *start = NULL, *stop = NULL;
    CHECK_OK(drv_stream_create(&stream));
    CHECK_OK(drv_event_create(&start));
    CHECK_OK(drv_event_create(&stop));
    int chunk = 8192;
    unsigned blocks = (unsigned)dev.sm_count * 4;
    drv_ptr x = 0, y = 0;
    CHECK_OK(drv_mem_alloc((size_t)blocks * chunk * 4, &x));
    CHECK_OK(drv_mem_alloc((size_t)blocks * chunk * 4, &y));
    CHECK_OK(drv_memset_d32(x, 0x3F800000u, (size_t)blocks * chunk));
    float a = 2;
    void *params[] = {&x, &y, &a, &chunk};
    unsigned grid[3] = {blocks, 1, 1}, block[3] = {256, 1, 1};
    CHECK_OK(drv_event_record(start, stream));
    for (int i = 0; i < 20; i++)
        CHECK_OK(drv_launch(k, grid, block, (unsigned)chunk * 4, NULL, stream, params));
    CHECK_OK(drv_event_record(stop, stream));
    CHECK_OK(drv_event_sync(stop));
    float ms = -1;
    CHECK_OK(drv_event_elapsed_ms(start, stop, &ms));
    printf("  20 launches over %u blocks: %.3f ms\n", blocks, ms);
    CHECK(ms > 0 && ms < 10000);
    drv_event_destroy(start);
    drv_event_destroy(stop);
    drv_stream_destroy(stream);
    drv_mem_free(x);
    drv_mem_free(y);
    drv_library_unload(lib);
}

int main(void) { return harness_main(); }
