/*
 * test_gpu_tmap.c — the runtime's side of the fast schedules' launches,
 * on a device, with a hand-written kernel standing in for a schedule's:
 * tensor maps encoded at launch from the graph's dims and strides (a TMA
 * copy of every box, out-of-bounds elements zero-filled), the graph's
 * grid passed as parameters, persistent grids and clusters. The kernel
 * comes through the compile hook, so what is tested is tj_kernel_launch
 * against a launch description, not a schedule. SKIPs without a device.
 */
#include <unistd.h>

#include "gpu_harness.h"
#include "kernel_int.h"

/* Each block copies box (bx, by) of x (f32, BOX_C x BOX_R, through one
 * cp.async.bulk.tensor into shared memory) to the same place of y, which
 * is padded to whole boxes, so the zero fill beyond x's edges shows.
 * A persistent grid walks the boxes; grid parameters say how many. */
static const char tmap_src[] =
    "struct __align__(64) tmap_t { unsigned long long v[16]; };\n"
    "#define BOX_C 32\n#define BOX_R 8\n"
    "extern \"C\" __global__ void __launch_bounds__(128)\n"
    "tj_tmap(const __grid_constant__ tmap_t map, float *y, int g0, int g1, int g2, int ypitch) {\n"
    "  __shared__ __align__(128) float tile[BOX_R * BOX_C];\n"
    "  __shared__ __align__(8) unsigned long long bar;\n"
    "  unsigned sbar = (unsigned)__cvta_generic_to_shared(&bar);\n"
    "  unsigned stile = (unsigned)__cvta_generic_to_shared(tile);\n"
    "  if (threadIdx.x == 0) {\n"
    "    asm volatile(\"mbarrier.init.shared::cta.b64 [%0], 1;\" :: \"r\"(sbar));\n"
    "    asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");\n"
    "  }\n"
    "  __syncthreads();\n"
    "  unsigned phase = 0;\n"
    "  for (int b = blockIdx.x; b < g0 * g1 * g2; b += gridDim.x) {\n"
    "    int bx = b % g0, by = b / g0;\n"
    "    if (threadIdx.x == 0) {\n"
    "      asm volatile(\"mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\"\n"
    "                   :: \"r\"(sbar), \"r\"(BOX_R * BOX_C * 4) : \"memory\");\n"
    "      asm volatile(\"cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes\"\n"
    "                   \" [%0], [%1, {%2, %3}], [%4];\"\n"
    "                   :: \"r\"(stile), \"l\"(&map), \"r\"(bx * BOX_C), \"r\"(by * BOX_R), \"r\"(sbar)\n"
    "                   : \"memory\");\n"
    "    }\n"
    "    asm volatile(\"{ .reg .pred p; W: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\"\n"
    "                 \" @!p bra W; }\" :: \"r\"(sbar), \"r\"(phase) : \"memory\");\n"
    "    phase ^= 1;\n"
    "    for (int e = threadIdx.x; e < BOX_R * BOX_C; e += blockDim.x)\n"
    "      y[(long long)(by * BOX_R + e / BOX_C) * ypitch + bx * BOX_C + e % BOX_C] = tile[e];\n"
    "    __syncthreads();\n"
    "  }\n"
    "}\n";

static int persistent;   /* the launch description the hook gives */

/* x f32[R, C] (row stride L when strided), y f32[RP, CP]; scalar pitch.
 * The grid is the box count: [cdiv(C, 32), cdiv(R, 8)]. The body is a
 * plain copy so the graph is valid; the hook supplies the real kernel.
 * Named per launch mode: the process-wide memory cache is keyed by the
 * graph, and a hit re-derives the launch from the graph, not the hook. */
static tj_graph *tmap_graph(int strided) {
    char text[1024];
    snprintf(text, sizeof text,
             "tilejit 1\ngraph tmap%d%d\nsym R exact\nsym C exact\nsym L exact\nsym RP exact\n"
             "sym CP exact\ntensor x f32[R,C]%s\ntensor y f32[RP,CP]\nscalar pitch i32\n"
             "%%0 = program_id 0 : i32\n%%1 = program_id 1 : i32\n"
             "%%2 = load x [%%1, %%0] : f32[8,32]\nstore y [%%1, %%0], %%2\n"
             "%%3 = symval C : i32\n%%4 = const 32 : i32\n%%5 = cdiv %%3, %%4 : i32\n"
             "%%6 = symval R : i32\n%%7 = const 8 : i32\n%%8 = cdiv %%6, %%7 : i32\n"
             "grid [%%5, %%8]\n",
             persistent, strided, strided ? " strides [L, 1]" : "");
    tj_graph *g = NULL;
    if (tj_graph_parse(text, strlen(text), "tmap.tj", &g) != TJ_OK)
        fprintf(stderr, "  %s\n", tj_last_error());
    return g;
}

static tj_status tmap_compile(void *user, const tj_graph *g, const char *arch,
                              const int64_t *spec, void **cubin, size_t *size, emit_launch *L) {
    (void)user;
    (void)g;
    (void)spec;
    nvrtc_request req = {0};
    req.source = tmap_src;
    req.name = "tmap.cu";
    req.arch = arch;
    nvrtc_result res = {0};
    tj_status st = nvrtc_compile(&req, &res);
    if (st != TJ_OK) {
        fprintf(stderr, "%s\n", res.log ? res.log : "");
        nvrtc_result_free(&res);
        return st;
    }
    *cubin = res.cubin;
    *size = res.cubin_size;
    res.cubin = NULL;
    nvrtc_result_free(&res);
    memset(L, 0, sizeof *L);
    snprintf(L->kernel, sizeof L->kernel, "tj_tmap");
    L->threads = 128;
    L->grid_mode = persistent ? EMIT_GRID_PERSISTENT : EMIT_GRID_GRAPH;
    L->grid_arg = persistent ? 1 : 0;
    L->cluster[0] = L->cluster[1] = L->cluster[2] = 1;
    if (persistent) L->cluster[0] = 2;   /* 2 blocks per cluster: launched with cuLaunchKernelEx */
    emit_param m = {.kind = EMIT_PARAM_TENSORMAP, .index = 0, .ctype = EMIT_C_TMAP, .size = 128};
    m.tmap.rank = 2;
    m.tmap.box[0] = 32;
    m.tmap.box[1] = 8;
    L->params[0] = m;
    L->params[1] = (emit_param){.kind = EMIT_PARAM_TENSOR, .index = 1, .ctype = EMIT_C_PTR, .size = 8};
    for (int d = 0; d < 3; d++)
        L->params[2 + d] = (emit_param){.kind = EMIT_PARAM_GRID, .index = d, .ctype = EMIT_C_I32, .size = 4};
    L->params[5] = (emit_param){.kind = EMIT_PARAM_SCALAR, .index = 0, .ctype = EMIT_C_I32, .size = 4};
    L->nparams = 6;
    return TJ_OK;
}

static void run_shape(int strided, int64_t R, int64_t C) {
    tj_graph *g = tmap_graph(strided);
    CHECK(g);
    if (!g) return;
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    if (!k) {
        tj_graph_free(g);
        return;
    }
    kernel_test_hooks h = {tmap_compile, NULL, NULL, NULL};
    kernel_set_test_hooks(k, &h);
    int64_t Lw = strided ? ((C + 3) / 4 * 4) + 4 * harness_randint(1, 8) : C;   /* 16-byte rows */
    int64_t RP = (R + 7) / 8 * 8, CP = (C + 31) / 32 * 32;
    int64_t vals[5] = {R, C, Lw, RP, CP};
    gpu_buf x, y;
    CHECK_OK(gpu_buf_random(&x, TJ_F32, (size_t)(R * Lw), -1, 1));
    CHECK_OK(gpu_buf_poison(&y, TJ_F32, (size_t)(RP * CP)));
    uint64_t ptrs[2] = {x.dev, y.dev};
    double scal[1] = {(double)CP};
    tj_status st = tj_kernel_launch(k, ptrs, scal, vals, NULL);
    CHECKF(st == TJ_OK, "launch %lldx%lld: %s", (long long)R, (long long)C, tj_last_error());
    CHECK_OK(drv_context_sync());
    CHECK_OK(gpu_buf_download(&y));
    const float *xs = x.host, *ys = y.host;
    int bad = 0;
    for (int64_t i = 0; i < RP && bad < 3; i++)
        for (int64_t j = 0; j < CP && bad < 3; j++) {
            float want = i < R && j < C ? xs[i * Lw + j] : 0.0f;
            if (ys[i * CP + j] != want) {
                fprintf(stderr, "  %s %lldx%lld (ld %lld): y[%lld,%lld] = %g, want %g\n",
                        persistent ? "persistent" : "graph grid", (long long)R, (long long)C,
                        (long long)Lw, (long long)i, (long long)j, ys[i * CP + j], want);
                bad++;
            }
        }
    CHECK(bad == 0);
    gpu_buf_free(&x);
    gpu_buf_free(&y);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

TEST(test_gpu_tmap_boxes_copied_and_edges_zero_filled) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9) SKIP("tensor maps need sm_90 (device is %s)", dev.arch);
    if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error());
    static const int64_t shapes[][2] = {{8, 32}, {1, 4}, {17, 100}, {1000, 36}, {333, 1028}};
    for (persistent = 0; persistent < 2; persistent++)
        for (int strided = 0; strided < 2; strided++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                run_shape(strided, shapes[s][0], shapes[s][1]);
}

TEST(test_gpu_tmap_misaligned_stride_is_a_clear_error) {
    drv_device dev;
    GPU_REQUIRE_DEVICE(&dev);
    if (dev.cc_major < 9) SKIP("tensor maps need sm_90 (device is %s)", dev.arch);
    if (nvrtc_load() != TJ_OK) SKIP("NVRTC is not available: %.200s", tj_last_error());
    persistent = 0;
    tj_graph *g = tmap_graph(0);
    CHECK(g);
    tj_kernel_options o = {NULL, 0, ""};
    tj_kernel *k = NULL;
    CHECK_OK(tj_kernel_create(g, &o, &k));
    kernel_test_hooks h = {tmap_compile, NULL, NULL, NULL};
    kernel_set_test_hooks(k, &h);
    int64_t vals[5] = {9, 33, 33, 16, 64};   /* a 132-byte row: not a multiple of 16 */
    gpu_buf x, y;
    CHECK_OK(gpu_buf_random(&x, TJ_F32, 9 * 33, -1, 1));
    CHECK_OK(gpu_buf_poison(&y, TJ_F32, 16 * 64));
    uint64_t ptrs[2] = {x.dev, y.dev};
    double scal[1] = {64};
    CHECK_ERR(tj_kernel_launch(k, ptrs, scal, vals, NULL), TJ_ERR_DRIVER, "tensor 'x'");
    gpu_buf_free(&x);
    gpu_buf_free(&y);
    tj_kernel_destroy(k);
    tj_graph_free(g);
}

int main(void) { return harness_main(); }
