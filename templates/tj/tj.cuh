// tj/tj.cuh - the tile library, all of it. See templates/README.md.
//
//   types.cuh    storage types (bf16, f16, fp8), register types, conversions
//   math.cuh     elementwise math: accurate and fast_* floats, C-style integers
//   layout.cuh   register tiles in the strided layout
//   smem.cuh     tiles to and from shared memory; broadcast, transpose
//   reduce.cuh   block-wide sum / max / min along either axis
//   global.cuh   masked tile loads and stores, 16-byte vectorized via shared memory
//   mma.cuh      block-level matrix products on the tensor cores (mma.sync), FMA fallback
#ifndef TJ_TJ_CUH
#define TJ_TJ_CUH

#include "tj/types.cuh"
#include "tj/math.cuh"
#include "tj/layout.cuh"
#include "tj/smem.cuh"
#include "tj/reduce.cuh"
#include "tj/global.cuh"
#include "tj/mma.cuh"

#endif  // TJ_TJ_CUH
