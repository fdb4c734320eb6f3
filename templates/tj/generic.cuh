// tj/generic.cuh - what the generic lowering (gen/emit_cuda.c) includes.
//
// The emitter writes its code against namespace `tjg`; it is the whole tile
// library under a second name, so generated code can use every primitive
// (tjg::exp, tjg::ld, tjg::reduce_rows, tjg::mma ...) as well as tj::.
#ifndef TJ_GENERIC_CUH
#define TJ_GENERIC_CUH

#include "tj/tj.cuh"

namespace tjg = tj;

#endif  // TJ_GENERIC_CUH
