/*
 * abi_layout.c — the layout of driver_cuda.h's launch structs exactly as
 * runtime/driver.c compiles them (no cuda.h here), for test_gpu_abi.c to
 * compare with cuda.h's.
 */
#include <stddef.h>

#include "driver_cuda.h"

extern const size_t abi_drv_layout[];
const size_t abi_drv_layout[] = {
    sizeof(drv_cu_launch_attribute_value),
    offsetof(drv_cu_launch_attribute_value, clusterDim.x),
    offsetof(drv_cu_launch_attribute_value, clusterDim.z),
    sizeof(drv_cu_launch_attribute),
    offsetof(drv_cu_launch_attribute, value),
    sizeof(drv_cu_launch_config),
    offsetof(drv_cu_launch_config, gridDimX),
    offsetof(drv_cu_launch_config, blockDimZ),
    offsetof(drv_cu_launch_config, sharedMemBytes),
    offsetof(drv_cu_launch_config, hStream),
    offsetof(drv_cu_launch_config, attrs),
    offsetof(drv_cu_launch_config, numAttrs),
    sizeof(drv_cu_deviceptr),
    sizeof(drv_cu_result),
    sizeof(drv_cu_tensor_map),
    _Alignof(drv_cu_tensor_map),
};
