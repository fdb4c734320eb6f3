/*
 * test_gpu_abi.c — runtime/driver_cuda.h against a real cuda.h, where one
 * is installed: every constant, struct layout, entry-point prototype and
 * versioned symbol name that tilejit declares by hand. Needs no device.
 * Without cuda.h every test skips.
 */
#include <stddef.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<cuda.h>)
#define HAVE_CUDA_H 1
#endif
#endif

#ifdef HAVE_CUDA_H
#include <cuda.h>
/* Spell driver_cuda.h's types as cuda.h's, so each X-macro prototype below
 * must match cuda.h's exactly. */
#define DRV_CU_TYPES_FROM_CUDA_H
typedef CUresult drv_cu_result;
typedef CUdevice drv_cu_device;
typedef CUdeviceptr drv_cu_deviceptr;
typedef CUdevice_attribute drv_cu_device_attribute;
typedef CUfunction_attribute drv_cu_function_attribute;
typedef CUjit_option drv_cu_jit_option;
typedef CUlibraryOption drv_cu_library_option;
typedef CUlaunchAttributeID drv_cu_launch_attribute_id;
typedef CUcontext drv_cu_context;
typedef CUmodule drv_cu_module;
typedef CUfunction drv_cu_function;
typedef CUlibrary drv_cu_library;
typedef CUkernel drv_cu_kernel;
typedef CUstream drv_cu_stream;
typedef CUevent drv_cu_event;
typedef CUlaunchConfig drv_cu_launch_config;
typedef CUtensorMap drv_cu_tensor_map;
typedef CUtensorMapDataType drv_cu_tensor_map_data_type;
typedef CUtensorMapInterleave drv_cu_tensor_map_interleave;
typedef CUtensorMapSwizzle drv_cu_tensor_map_swizzle;
typedef CUtensorMapL2promotion drv_cu_tensor_map_l2_promotion;
typedef CUtensorMapFloatOOBfill drv_cu_tensor_map_oob_fill;
#endif

#include "driver_cuda.h"
#include "harness.h"

#ifdef HAVE_CUDA_H
#define STR_(x) #x
#define XSTR(x) STR_(x)

/* Prototypes: the hand-written type must be cuda.h's (compile-time). */
#define CHECK_PROTO(api, sym, ret, params)                                     \
    _Static_assert(_Generic(&api, ret(*) params: 1, default: 0),             \
                   #api " prototype differs from cuda.h");
DRV_CU_REQUIRED(CHECK_PROTO)
DRV_CU_OPTIONAL(CHECK_PROTO)
DRV_CU_ELAPSED(CHECK_PROTO)

#define SAME(a, b) _Static_assert((a) == (b), #a " != " #b);
SAME(DRV_CUDA_SUCCESS, CUDA_SUCCESS)
SAME(DRV_CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE)
SAME(DRV_CUDA_ERROR_OUT_OF_MEMORY, CUDA_ERROR_OUT_OF_MEMORY)
SAME(DRV_CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_NOT_INITIALIZED)
SAME(DRV_CUDA_ERROR_DEINITIALIZED, CUDA_ERROR_DEINITIALIZED)
SAME(DRV_CUDA_ERROR_STUB_LIBRARY, CUDA_ERROR_STUB_LIBRARY)
SAME(DRV_CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER)
SAME(DRV_CUDA_ERROR_DEVICE_UNAVAILABLE, CUDA_ERROR_DEVICE_UNAVAILABLE)
SAME(DRV_CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)
SAME(DRV_CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE)
SAME(DRV_CUDA_ERROR_NO_DEVICE, CUDA_ERROR_NO_DEVICE)
SAME(DRV_CUDA_ERROR_INVALID_DEVICE, CUDA_ERROR_INVALID_DEVICE)
SAME(DRV_CUDA_ERROR_INVALID_IMAGE, CUDA_ERROR_INVALID_IMAGE)
SAME(DRV_CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_CONTEXT)
SAME(DRV_CUDA_ERROR_NO_BINARY_FOR_GPU, CUDA_ERROR_NO_BINARY_FOR_GPU)
SAME(DRV_CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_HANDLE)
SAME(DRV_CUDA_ERROR_NOT_FOUND, CUDA_ERROR_NOT_FOUND)
SAME(DRV_CUDA_ERROR_NOT_READY, CUDA_ERROR_NOT_READY)
SAME(DRV_CUDA_ERROR_ILLEGAL_ADDRESS, CUDA_ERROR_ILLEGAL_ADDRESS)
SAME(DRV_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)
SAME(DRV_CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_LAUNCH_FAILED)
SAME(DRV_CUDA_ERROR_NOT_SUPPORTED, CUDA_ERROR_NOT_SUPPORTED)
SAME(DRV_CUDA_ERROR_INVALID_CLUSTER_SIZE, CUDA_ERROR_INVALID_CLUSTER_SIZE)
SAME(DRV_CUDA_ERROR_UNKNOWN, CUDA_ERROR_UNKNOWN)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)
SAME(DRV_CU_DEVICE_ATTRIBUTE_WARP_SIZE, CU_DEVICE_ATTRIBUTE_WARP_SIZE)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
SAME(DRV_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR)
SAME(DRV_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
SAME(DRV_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR)
SAME(DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
SAME(DRV_CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH)
SAME(DRV_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
SAME(DRV_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)
SAME(DRV_CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)
SAME(DRV_CU_FUNC_ATTRIBUTE_NUM_REGS, CU_FUNC_ATTRIBUTE_NUM_REGS)
SAME(DRV_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
SAME(DRV_CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED)
SAME(DRV_CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_UINT8, CU_TENSOR_MAP_DATA_TYPE_UINT8)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_UINT16, CU_TENSOR_MAP_DATA_TYPE_UINT16)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_UINT32, CU_TENSOR_MAP_DATA_TYPE_UINT32)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_INT32, CU_TENSOR_MAP_DATA_TYPE_INT32)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_INT64, CU_TENSOR_MAP_DATA_TYPE_INT64)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT16, CU_TENSOR_MAP_DATA_TYPE_FLOAT16)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT32, CU_TENSOR_MAP_DATA_TYPE_FLOAT32)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT64, CU_TENSOR_MAP_DATA_TYPE_FLOAT64)
SAME(DRV_CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16)
SAME(DRV_CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_INTERLEAVE_NONE)
SAME(DRV_CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE)
SAME(DRV_CU_TENSOR_MAP_SWIZZLE_32B, CU_TENSOR_MAP_SWIZZLE_32B)
SAME(DRV_CU_TENSOR_MAP_SWIZZLE_64B, CU_TENSOR_MAP_SWIZZLE_64B)
SAME(DRV_CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_SWIZZLE_128B)
SAME(DRV_CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE)
SAME(DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_64B, CU_TENSOR_MAP_L2_PROMOTION_L2_64B)
SAME(DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B)
SAME(DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B)
SAME(DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
SAME(DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA,
     CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA)
SAME(DRV_CU_STREAM_NON_BLOCKING, CU_STREAM_NON_BLOCKING)
SAME(DRV_CU_EVENT_DEFAULT, CU_EVENT_DEFAULT)
SAME(sizeof(drv_cu_deviceptr), 8)
#endif

TEST(test_abi_cuda_h_is_present) {
#ifndef HAVE_CUDA_H
    SKIP("no cuda.h on the include path: nothing to check driver_cuda.h against");
#else
    printf("  checked against cuda.h of CUDA %d.%d\n", CUDA_VERSION / 1000,
           CUDA_VERSION % 1000 / 10);
#endif
}

/* driver_cuda.h's launch structs, as runtime/driver.c compiles them
 * (abi_layout.c, built without cuda.h), must lay out as cuda.h's. */
extern const size_t abi_drv_layout[];

TEST(test_abi_launch_structs_match_cuda_h) {
#ifndef HAVE_CUDA_H
    SKIP("no cuda.h");
#else
    const size_t want[] = {
        sizeof(CUlaunchAttributeValue),
        offsetof(CUlaunchAttributeValue, clusterDim.x),
        offsetof(CUlaunchAttributeValue, clusterDim.z),
        sizeof(CUlaunchAttribute),
        offsetof(CUlaunchAttribute, value),
        sizeof(CUlaunchConfig),
        offsetof(CUlaunchConfig, gridDimX),
        offsetof(CUlaunchConfig, blockDimZ),
        offsetof(CUlaunchConfig, sharedMemBytes),
        offsetof(CUlaunchConfig, hStream),
        offsetof(CUlaunchConfig, attrs),
        offsetof(CUlaunchConfig, numAttrs),
        sizeof(CUdeviceptr),
        sizeof(CUresult),
        sizeof(CUtensorMap),
        _Alignof(CUtensorMap),
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECKF(abi_drv_layout[i] == want[i], "layout entry %zu: driver_cuda.h %zu, cuda.h %zu",
               i, abi_drv_layout[i], want[i]);
#endif
}

/* The symbol string each entry point is dlsym'd by must be what cuda.h's
 * `#define cuMemAlloc cuMemAlloc_v2` maps the API name to. */
TEST(test_abi_symbol_names_match_cuda_h_versions) {
#ifndef HAVE_CUDA_H
    SKIP("no cuda.h");
#else
    int bad = 0;
#define CHECK_SYM(api, sym, ret, params)                                       \
    if (strcmp(XSTR(api), sym) != 0) {                                         \
        fprintf(stderr, "  %s: cuda.h links %s, driver_cuda.h asks for %s\n",  \
                #api, XSTR(api), sym);                                         \
        bad++;                                                                 \
    }
    DRV_CU_REQUIRED(CHECK_SYM)
    DRV_CU_OPTIONAL(CHECK_SYM)
    DRV_CU_ELAPSED(CHECK_SYM)
    CHECKF(bad == 0, "%d symbol name(s) differ from cuda.h", bad);
#endif
}

int main(void) { return harness_main(); }
