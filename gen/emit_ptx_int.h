/*
 * emit_ptx_int.h — what gen/emit_ptx.c (module, target, libdevice) and
 * gen/emit_ptx_ops.c (the ops) share. Internal to the LLVM back end.
 *
 * The lowering mirrors gen/emit_cuda.c: where that file writes
 * `float v12[8];` and a slot loop, this one makes an alloca of [8 x float]
 * in the entry block and the same loop as IR. SROA and mem2reg then keep
 * small tiles in registers, as NVRTC does for the CUDA path's unrolled
 * loops; slot loops get the same unroll decision (full up to 16 slots,
 * none beyond) as loop metadata. A run of same-shaped elementwise ops,
 * tile loads and tile stores is one slot loop (emit_cuda.c's elementwise
 * groups, widened to loads and stores): values pass as SSA values, and
 * only those read outside the run get an array, so a load -> math ->
 * store chain needs no array (no local memory) whatever its slot count.
 */
#ifndef TJ_EMIT_PTX_INT_H
#define TJ_EMIT_PTX_INT_H

#include <llvm-c/Core.h>

#include "emit.h"

typedef struct px_shape {
    int rank;
    int64_t m, n;   /* [M,N]; a rank-1 tile is [1,N]; a scalar [1,1] */
} px_shape;

/* The current slot of an open slot loop (emit_cuda.c's k, e, i, j). */
typedef struct px_slot {
    LLVMValueRef k, e, i, j;     /* i32 */
    LLVMBasicBlockRef body, latch, exit, pre;
    int nslots;
    int open;
} px_slot;

/* An operand as read at the current slot: its storage, and how to index it. */
typedef struct px_opnd {
    LLVMValueRef store;   /* alloca: T (scalar) or [S x T] (tile) */
    int dtype;
    int scalar;           /* read without an index */
    int smem;             /* read from tj_smem, where a tile of shape `from` is staged */
    px_shape from;
} px_opnd;

typedef struct px {
    const tj_graph *g;
    const int64_t *sym;
    const char *arch;
    int sm;                       /* 80, 90 ... */
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;             /* the code */
    LLVMBuilderRef ab;            /* allocas, at the end of the entry block */
    LLVMValueRef fn;
    LLVMValueRef smem;            /* @tj_smem, addrspace(3) */
    LLVMValueRef tid;             /* i32 */
    LLVMTypeRef t_f32, t_i1, t_i8, t_i16, t_i32, t_i64, t_half, t_ptr, t_void;
    unsigned md_loop;             /* kind id of !llvm.loop */
    px_shape *shapes;             /* per node */
    LLVMValueRef *store;          /* per node: its alloca */
    uint8_t *live;
    int *nuse;                    /* per node: reads by live nodes and loop yields */
    int32_t *grp;                 /* per node: its slot group while one is open (0: none) */
    LLVMValueRef *val;            /* per node: its value at the open group's slot */
    int ngrp;
    uint8_t *stored;              /* per tensor */
    LLVMValueRef *tparam;         /* per tensor: the pointer parameter */
    LLVMValueRef (*tdim)[2 * TJ_MAX_RANK];  /* per tensor: dims then strides (i64) */
    LLVMValueRef *symv;           /* per symbol: i32 value (constant when baked) */
    int nt;
    size_t smem_bytes;
    px_slot slot;                 /* the open slot loop */
    int uses_libdevice;
    tj_status err;
} px;

/* ---- emit_ptx_ops.c ------------------------------------------------- */

tj_status px_fail(px *p, tj_status s, int32_t node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Shapes, liveness, block size, names: emit_cuda.c's prepare(). */
tj_status px_prepare(px *p);
/* The kernel's parameters as emit_cuda.c's signature has them, filling
 * L->params; returns the LLVM parameter types in `types` (EMIT_MAX_PARAMS). */
int px_signature(px *p, emit_launch *L, LLVMTypeRef *types);
/* Prologue (dims, strides, symbols, scalars) and the walk over the body. */
void px_body(px *p);
/* 1 when symbol s is baked into the kernel. */
int px_baked(const px *p, int s);

/* ---- emit_ptx_conv.c ----------------------------------------------- */

LLVMTypeRef px_reg_type(px *p, int dtype);   /* float, i32, i64, i1 */
LLVMTypeRef px_mem_type(px *p, int dtype);   /* a tensor element: float, i16, i8 ... */
LLVMValueRef px_to_reg(px *p, int dtype, LLVMValueRef m);
LLVMValueRef px_to_mem(px *p, int dtype, LLVMValueRef v);
LLVMValueRef px_round_to(px *p, int dtype, LLVMValueRef x);
LLVMValueRef px_cast(px *p, int from, int to, LLVMValueRef x);
LLVMValueRef px_literal(px *p, int dtype, double x);
LLVMValueRef px_unary(px *p, int sub, int dtype, LLVMValueRef x);
LLVMValueRef px_binary(px *p, int sub, int dtype, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef px_fma(px *p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);

/* ---- emit_ptx.c ----------------------------------------------------- */

/* Call intrinsic or libdevice function `name` of type ret(args...),
 * declaring it on first use. */
LLVMValueRef px_call(px *p, const char *name, LLVMTypeRef ret, LLVMValueRef *args, int nargs);
/* Inline PTX: one instruction with the given constraints. */
LLVMValueRef px_asm(px *p, const char *text, const char *constraints, LLVMTypeRef ret,
                    LLVMValueRef *args, int nargs);
/* Mark the back edge `br` of a slot loop: unroll fully, or never. */
void px_loop_unroll(px *p, LLVMValueRef br, int full);

#endif
