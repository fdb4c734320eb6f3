/*
 * driver_cuda.h — the subset of the CUDA Driver API that runtime/driver.c
 * uses, declared by hand so that tilejit builds with no CUDA headers.
 * Internal to runtime/driver.c and the ABI test (tests/gpu/test_gpu_abi.c).
 *
 * Values and layouts are copied from the public cuda.h (CUDA 12.0 .. 13.0);
 * test_gpu_abi compiles this file against a real cuda.h where one is
 * installed and checks every constant, struct layout, entry-point
 * prototype and versioned symbol name below.
 *
 * Handles use cuda.h's own struct tags (struct CUctx_st ...), so they are
 * the same types as cuda.h's. CUresult and the attribute enums are plain
 * ints here: on every ABI CUDA supports they are passed and returned as a
 * 32-bit int. The ABI test defines DRV_CU_TYPES_FROM_CUDA_H and supplies
 * cuda.h's types instead, which turns each prototype into an exact check.
 */
#ifndef TJ_DRIVER_CUDA_H
#define TJ_DRIVER_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifndef DRV_CU_TYPES_FROM_CUDA_H
typedef int drv_cu_result;                       /* CUresult */
typedef int drv_cu_device;                       /* CUdevice */
typedef unsigned long long drv_cu_deviceptr;     /* CUdeviceptr (64-bit) */
typedef int drv_cu_device_attribute;             /* CUdevice_attribute */
typedef int drv_cu_function_attribute;           /* CUfunction_attribute */
typedef int drv_cu_jit_option;                   /* CUjit_option */
typedef int drv_cu_library_option;               /* CUlibraryOption */
typedef int drv_cu_launch_attribute_id;          /* CUlaunchAttributeID */
typedef int drv_cu_tensor_map_data_type;         /* CUtensorMapDataType */
typedef int drv_cu_tensor_map_interleave;        /* CUtensorMapInterleave */
typedef int drv_cu_tensor_map_swizzle;           /* CUtensorMapSwizzle */
typedef int drv_cu_tensor_map_l2_promotion;      /* CUtensorMapL2promotion */
typedef int drv_cu_tensor_map_oob_fill;          /* CUtensorMapFloatOOBfill */
typedef struct CUctx_st *drv_cu_context;
typedef struct CUmod_st *drv_cu_module;
typedef struct CUfunc_st *drv_cu_function;
typedef struct CUlib_st *drv_cu_library;
typedef struct CUkern_st *drv_cu_kernel;
typedef struct CUstream_st *drv_cu_stream;
typedef struct CUevent_st *drv_cu_event;

/* CUtensorMap: 128 opaque bytes, 128-byte aligned (CUDA 13; 64 before). */
typedef struct drv_cu_tensor_map {
    _Alignas(128) unsigned long long opaque[16];
} drv_cu_tensor_map;

/* CUlaunchAttributeValue: a 64-byte union; tilejit sets clusterDim only. */
typedef union drv_cu_launch_attribute_value {
    char pad[64];
    struct { unsigned int x, y, z; } clusterDim;
} drv_cu_launch_attribute_value;

/* CUlaunchAttribute: the id is padded to 8 bytes before the value. */
typedef struct drv_cu_launch_attribute {
    drv_cu_launch_attribute_id id;
    char pad[8 - sizeof(drv_cu_launch_attribute_id)];
    drv_cu_launch_attribute_value value;
} drv_cu_launch_attribute;

/* CUlaunchConfig (cuLaunchKernelEx, CUDA 12.0+). */
typedef struct drv_cu_launch_config {
    unsigned int gridDimX, gridDimY, gridDimZ;
    unsigned int blockDimX, blockDimY, blockDimZ;
    unsigned int sharedMemBytes;
    drv_cu_stream hStream;
    drv_cu_launch_attribute *attrs;
    unsigned int numAttrs;
} drv_cu_launch_config;
#endif

/* CUresult values tilejit names itself (cuGetErrorName covers the rest,
 * except in a stub library, whose every entry point fails). */
#define DRV_CUDA_SUCCESS 0
#define DRV_CUDA_ERROR_INVALID_VALUE 1
#define DRV_CUDA_ERROR_OUT_OF_MEMORY 2
#define DRV_CUDA_ERROR_NOT_INITIALIZED 3
#define DRV_CUDA_ERROR_DEINITIALIZED 4
#define DRV_CUDA_ERROR_STUB_LIBRARY 34
#define DRV_CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER 36
#define DRV_CUDA_ERROR_DEVICE_UNAVAILABLE 46
#define DRV_CUDA_ERROR_NO_DEVICE 100
#define DRV_CUDA_ERROR_INVALID_DEVICE 101
#define DRV_CUDA_ERROR_INVALID_IMAGE 200
#define DRV_CUDA_ERROR_INVALID_CONTEXT 201
#define DRV_CUDA_ERROR_NO_BINARY_FOR_GPU 209
#define DRV_CUDA_ERROR_INVALID_HANDLE 400
#define DRV_CUDA_ERROR_NOT_FOUND 500
#define DRV_CUDA_ERROR_NOT_READY 600
#define DRV_CUDA_ERROR_ILLEGAL_ADDRESS 700
#define DRV_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES 701
#define DRV_CUDA_ERROR_LAUNCH_FAILED 719
#define DRV_CUDA_ERROR_NOT_SUPPORTED 801
#define DRV_CUDA_ERROR_SYSTEM_DRIVER_MISMATCH 803
#define DRV_CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE 804
#define DRV_CUDA_ERROR_INVALID_CLUSTER_SIZE 912
#define DRV_CUDA_ERROR_UNKNOWN 999

/* CUdevice_attribute */
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK 1
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK 8
#define DRV_CU_DEVICE_ATTRIBUTE_WARP_SIZE 10
#define DRV_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define DRV_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE 38
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR 39
#define DRV_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define DRV_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR 81
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR 82
#define DRV_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN 97
#define DRV_CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH 120

/* CUfunction_attribute */
#define DRV_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK 0
#define DRV_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES 1
#define DRV_CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES 3
#define DRV_CU_FUNC_ATTRIBUTE_NUM_REGS 4
#define DRV_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
#define DRV_CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED 14

/* CUlaunchAttributeID */
#define DRV_CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION 4

/* CUtensorMap enums (CUDA 12.0+). */
#define DRV_CU_TENSOR_MAP_DATA_TYPE_UINT8 0
#define DRV_CU_TENSOR_MAP_DATA_TYPE_UINT16 1
#define DRV_CU_TENSOR_MAP_DATA_TYPE_UINT32 2
#define DRV_CU_TENSOR_MAP_DATA_TYPE_INT32 3
#define DRV_CU_TENSOR_MAP_DATA_TYPE_INT64 5
#define DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT16 6
#define DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT32 7
#define DRV_CU_TENSOR_MAP_DATA_TYPE_FLOAT64 8
#define DRV_CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 9
#define DRV_CU_TENSOR_MAP_INTERLEAVE_NONE 0
#define DRV_CU_TENSOR_MAP_SWIZZLE_NONE 0
#define DRV_CU_TENSOR_MAP_SWIZZLE_32B 1
#define DRV_CU_TENSOR_MAP_SWIZZLE_64B 2
#define DRV_CU_TENSOR_MAP_SWIZZLE_128B 3
#define DRV_CU_TENSOR_MAP_L2_PROMOTION_NONE 0
#define DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_64B 1
#define DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_128B 2
#define DRV_CU_TENSOR_MAP_L2_PROMOTION_L2_256B 3
#define DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE 0
#define DRV_CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA 1

/* cuStreamCreate / cuEventCreate flags */
#define DRV_CU_STREAM_NON_BLOCKING 0x1
#define DRV_CU_EVENT_DEFAULT 0x0

/*
 * Entry points: X(api, "symbol", return, (parameters)).
 * `api` is the name cuda.h's users write; "symbol" is the versioned name
 * libcuda exports for it (cuda.h's `#define cuMemAlloc cuMemAlloc_v2`),
 * which is what dlsym must be given. Legacy-default-stream variants, as
 * cuda.h picks without CUDA_API_PER_THREAD_DEFAULT_STREAM.
 */
#define DRV_CU_REQUIRED(X)                                                     \
    X(cuInit, "cuInit", drv_cu_result, (unsigned int))                         \
    X(cuDriverGetVersion, "cuDriverGetVersion", drv_cu_result, (int *))        \
    X(cuGetErrorName, "cuGetErrorName", drv_cu_result,                         \
      (drv_cu_result, const char **))                                          \
    X(cuGetErrorString, "cuGetErrorString", drv_cu_result,                     \
      (drv_cu_result, const char **))                                          \
    X(cuDeviceGetCount, "cuDeviceGetCount", drv_cu_result, (int *))            \
    X(cuDeviceGet, "cuDeviceGet", drv_cu_result, (drv_cu_device *, int))       \
    X(cuDeviceGetName, "cuDeviceGetName", drv_cu_result,                       \
      (char *, int, drv_cu_device))                                            \
    X(cuDeviceGetAttribute, "cuDeviceGetAttribute", drv_cu_result,             \
      (int *, drv_cu_device_attribute, drv_cu_device))                         \
    X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", drv_cu_result,                  \
      (size_t *, drv_cu_device))                                               \
    X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", drv_cu_result,     \
      (drv_cu_context *, drv_cu_device))                                       \
    X(cuCtxGetCurrent, "cuCtxGetCurrent", drv_cu_result, (drv_cu_context *))   \
    X(cuCtxSetCurrent, "cuCtxSetCurrent", drv_cu_result, (drv_cu_context))     \
    X(cuCtxGetDevice, "cuCtxGetDevice", drv_cu_result, (drv_cu_device *))      \
    X(cuCtxSynchronize, "cuCtxSynchronize", drv_cu_result, (void))             \
    X(cuModuleLoadData, "cuModuleLoadData", drv_cu_result,                     \
      (drv_cu_module *, const void *))                                         \
    X(cuModuleGetFunction, "cuModuleGetFunction", drv_cu_result,               \
      (drv_cu_function *, drv_cu_module, const char *))                        \
    X(cuModuleUnload, "cuModuleUnload", drv_cu_result, (drv_cu_module))        \
    X(cuFuncGetAttribute, "cuFuncGetAttribute", drv_cu_result,                 \
      (int *, drv_cu_function_attribute, drv_cu_function))                     \
    X(cuFuncSetAttribute, "cuFuncSetAttribute", drv_cu_result,                 \
      (drv_cu_function, drv_cu_function_attribute, int))                       \
    X(cuLaunchKernel, "cuLaunchKernel", drv_cu_result,                         \
      (drv_cu_function, unsigned int, unsigned int, unsigned int,              \
       unsigned int, unsigned int, unsigned int, unsigned int,                 \
       drv_cu_stream, void **, void **))                                       \
    X(cuMemGetInfo, "cuMemGetInfo_v2", drv_cu_result, (size_t *, size_t *))    \
    X(cuMemAlloc, "cuMemAlloc_v2", drv_cu_result,                              \
      (drv_cu_deviceptr *, size_t))                                            \
    X(cuMemFree, "cuMemFree_v2", drv_cu_result, (drv_cu_deviceptr))            \
    X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", drv_cu_result,                          \
      (drv_cu_deviceptr, const void *, size_t))                                \
    X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", drv_cu_result,                          \
      (void *, drv_cu_deviceptr, size_t))                                      \
    X(cuMemcpyDtoD, "cuMemcpyDtoD_v2", drv_cu_result,                          \
      (drv_cu_deviceptr, drv_cu_deviceptr, size_t))                            \
    X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", drv_cu_result,                \
      (drv_cu_deviceptr, const void *, size_t, drv_cu_stream))                 \
    X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", drv_cu_result,                \
      (void *, drv_cu_deviceptr, size_t, drv_cu_stream))                       \
    X(cuMemsetD8, "cuMemsetD8_v2", drv_cu_result,                              \
      (drv_cu_deviceptr, unsigned char, size_t))                               \
    X(cuMemsetD32, "cuMemsetD32_v2", drv_cu_result,                            \
      (drv_cu_deviceptr, unsigned int, size_t))                                \
    X(cuStreamCreate, "cuStreamCreate", drv_cu_result,                         \
      (drv_cu_stream *, unsigned int))                                         \
    X(cuStreamDestroy, "cuStreamDestroy_v2", drv_cu_result, (drv_cu_stream))   \
    X(cuStreamSynchronize, "cuStreamSynchronize", drv_cu_result,               \
      (drv_cu_stream))                                                         \
    X(cuEventCreate, "cuEventCreate", drv_cu_result,                           \
      (drv_cu_event *, unsigned int))                                          \
    X(cuEventRecord, "cuEventRecord", drv_cu_result,                           \
      (drv_cu_event, drv_cu_stream))                                           \
    X(cuEventSynchronize, "cuEventSynchronize", drv_cu_result, (drv_cu_event)) \
    X(cuEventDestroy, "cuEventDestroy_v2", drv_cu_result, (drv_cu_event))

/* CUDA 12.0+: context-independent loading and extended launches. Missing
 * ones fall back (modules) or make the feature TJ_ERR_UNSUPPORTED. */
#define DRV_CU_OPTIONAL(X)                                                     \
    X(cuLaunchKernelEx, "cuLaunchKernelEx", drv_cu_result,                     \
      (const drv_cu_launch_config *, drv_cu_function, void **, void **))      \
    X(cuLibraryLoadData, "cuLibraryLoadData", drv_cu_result,                   \
      (drv_cu_library *, const void *, drv_cu_jit_option *, void **,           \
       unsigned int, drv_cu_library_option *, void **, unsigned int))          \
    X(cuLibraryGetKernel, "cuLibraryGetKernel", drv_cu_result,                 \
      (drv_cu_kernel *, drv_cu_library, const char *))                         \
    X(cuLibraryUnload, "cuLibraryUnload", drv_cu_result, (drv_cu_library))     \
    X(cuKernelGetFunction, "cuKernelGetFunction", drv_cu_result,               \
      (drv_cu_function *, drv_cu_kernel))                                      \
    X(cuKernelGetAttribute, "cuKernelGetAttribute", drv_cu_result,             \
      (int *, drv_cu_function_attribute, drv_cu_kernel, drv_cu_device))        \
    X(cuKernelSetAttribute, "cuKernelSetAttribute", drv_cu_result,             \
      (drv_cu_function_attribute, int, drv_cu_kernel, drv_cu_device))          \
    X(cuOccupancyMaxActiveClusters, "cuOccupancyMaxActiveClusters",             \
      drv_cu_result, (int *, drv_cu_function, const drv_cu_launch_config *))   \
    X(cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", drv_cu_result,         \
      (drv_cu_tensor_map *, drv_cu_tensor_map_data_type, unsigned int, void *, \
       const uint64_t *, const uint64_t *, const uint32_t *, const uint32_t *,  \
       drv_cu_tensor_map_interleave, drv_cu_tensor_map_swizzle,                \
       drv_cu_tensor_map_l2_promotion, drv_cu_tensor_map_oob_fill))

/* cuEventElapsedTime: cuda.h 12.8+ maps it to cuEventElapsedTime_v2 (same
 * prototype); older drivers export only the unversioned symbol, which
 * newer drivers keep. driver.c tries the _v2 symbol first. */
#define DRV_CU_ELAPSED(X)                                                      \
    X(cuEventElapsedTime, "cuEventElapsedTime_v2", drv_cu_result,              \
      (float *, drv_cu_event, drv_cu_event))
#define DRV_CU_ELAPSED_LEGACY_SYMBOL "cuEventElapsedTime"

#endif
