/*
 * emit_ptx_ops.c — the generic lowering's walk, as LLVM IR. Each function
 * here is the IR twin of the emit_cuda.c function of the same name; read
 * that file for the model (slots, staging, why each barrier is there).
 * emit_group goes further than emit_cuda.c's: loads and stores join the
 * elementwise runs, so a load -> math -> store chain has no array at all.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_ptx_int.h"

tj_status px_fail(px *p, tj_status s, int32_t node, const char *fmt, ...) {
    char msg[768], desc[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (node >= 0) ir_node_desc(p->g, node, desc, sizeof desc);
    if (p->err == TJ_OK)
        p->err = tj_set_error(s, "emit ptx (graph '%s')%s%s: %s", p->g->name, node >= 0 ? ", " : "",
                              desc, msg);
    return p->err;
}

static const ir_node *N(const px *p, int32_t id) { return &p->g->nodes[id]; }
static int64_t count(px_shape s) { return s.m * s.n; }
static int slots(const px *p, px_shape s) { return (int)((count(s) + p->nt - 1) / p->nt); }
static LLVMValueRef i32c(px *p, long long v) { return LLVMConstInt(p->t_i32, (unsigned long long)v, 1); }
static LLVMValueRef i64c(px *p, long long v) { return LLVMConstInt(p->t_i64, (unsigned long long)v, 1); }
static LLVMBasicBlockRef block(px *p, const char *name) {
    return LLVMAppendBasicBlockInContext(p->ctx, p->fn, name);
}
static size_t reg_size(int dtype) { return dtype == TJ_I64 ? 8 : dtype == TJ_BOOL ? 1 : 4; }
static void need_smem(px *p, size_t bytes) {
    if (bytes > p->smem_bytes) p->smem_bytes = bytes;
}
static void barrier(px *p) { px_call(p, "llvm.nvvm.barrier0", p->t_void, NULL, 0); }

/* ---- storage --------------------------------------------------------- */

/* What emit_cuda.c's declare() makes: a register, or a register array. */
static LLVMValueRef declare(px *p, int dtype, px_shape s, const char *name) {
    LLVMTypeRef t = px_reg_type(p, dtype);
    if (s.rank != 0) t = LLVMArrayType2(t, (uint64_t)slots(p, s));
    return LLVMBuildAlloca(p->ab, t, name);
}

static LLVMValueRef slot_ptr(px *p, LLVMValueRef store, int dtype) {
    LLVMTypeRef at = LLVMGetAllocatedType(store);
    LLVMValueRef idx[2] = {i32c(p, 0), p->slot.k};
    (void)dtype;
    return LLVMBuildInBoundsGEP2(p->b, at, store, idx, 2, "");
}
static LLVMValueRef read(px *p, LLVMValueRef store, int dtype, int scalar) {
    LLVMValueRef at = scalar ? store : slot_ptr(p, store, dtype);
    return LLVMBuildLoad2(p->b, px_reg_type(p, dtype), at, "");
}
static void write(px *p, LLVMValueRef store, int dtype, int scalar, LLVMValueRef v) {
    LLVMBuildStore(p->b, v, scalar ? store : slot_ptr(p, store, dtype));
}
/* Node id at the current slot (or its scalar). */
static LLVMValueRef read_node(px *p, int32_t id) {
    if (p->val[id]) return p->val[id];   /* a member of the open group */
    return read(p, p->store[id], N(p, id)->type.dtype, p->shapes[id].rank == 0);
}
static void write_node(px *p, int32_t id, LLVMValueRef v) {
    write(p, p->store[id], N(p, id)->type.dtype, p->shapes[id].rank == 0, v);
}

/* Element idx (of the staging type of dtype) at byte offset off of tj_smem. */
static LLVMValueRef smem_at(px *p, size_t off, int dtype_or_f32, LLVMValueRef idx) {
    LLVMValueRef o = i32c(p, (long long)off);
    LLVMValueRef base = LLVMBuildInBoundsGEP2(p->b, p->t_i8, p->smem, &o, 1, "");
    LLVMTypeRef t = dtype_or_f32 == TJ_BOOL ? p->t_i8 : px_reg_type(p, dtype_or_f32);
    return LLVMBuildInBoundsGEP2(p->b, t, base, &idx, 1, "");
}
static void smem_store(px *p, size_t off, int dtype, LLVMValueRef idx, LLVMValueRef v) {
    if (dtype == TJ_BOOL) v = LLVMBuildZExt(p->b, v, p->t_i8, "");
    LLVMBuildStore(p->b, v, smem_at(p, off, dtype, idx));
}
static LLVMValueRef smem_load(px *p, size_t off, int dtype, LLVMValueRef idx) {
    LLVMTypeRef t = dtype == TJ_BOOL ? p->t_i8 : px_reg_type(p, dtype);
    LLVMValueRef v = LLVMBuildLoad2(p->b, t, smem_at(p, off, dtype, idx), "");
    return dtype == TJ_BOOL ? LLVMBuildTrunc(p->b, v, p->t_i1, "") : v;
}

/* ---- slot loops -------------------------------------------------------- */

/* The loop over the slots of s: p->slot.k/e/i/j are the slot, the flat
 * element, its row and column. Unrolled fully up to 16 slots and never
 * beyond, as emit_cuda.c's pragmas ask. */
static void begin_slots(px *p, px_shape s) {
    px_slot *sl = &p->slot;
    sl->open = 1;
    sl->nslots = slots(p, s);
    sl->pre = LLVMGetInsertBlock(p->b);
    sl->body = block(p, "slot");
    sl->latch = block(p, "slot.next");
    sl->exit = block(p, "slot.end");
    LLVMBuildBr(p->b, sl->body);
    LLVMPositionBuilderAtEnd(p->b, sl->body);
    sl->k = LLVMBuildPhi(p->b, p->t_i32, "k");
    sl->e = LLVMBuildNUWAdd(p->b, LLVMBuildNUWMul(p->b, sl->k, i32c(p, p->nt), ""), p->tid, "e");
    if (count(s) % p->nt) {
        LLVMBasicBlockRef in = block(p, "slot.in");
        LLVMBuildCondBr(p->b, LLVMBuildICmp(p->b, LLVMIntULT, sl->e, i32c(p, count(s)), ""), in,
                        sl->latch);
        LLVMPositionBuilderAtEnd(p->b, in);
    }
    sl->i = LLVMBuildUDiv(p->b, sl->e, i32c(p, s.n), "i");
    sl->j = LLVMBuildURem(p->b, sl->e, i32c(p, s.n), "j");
}
static void end_slots(px *p) {
    px_slot *sl = &p->slot;
    LLVMBuildBr(p->b, sl->latch);
    LLVMPositionBuilderAtEnd(p->b, sl->latch);
    LLVMValueRef next = LLVMBuildNUWAdd(p->b, sl->k, i32c(p, 1), "");
    LLVMValueRef br = LLVMBuildCondBr(
        p->b, LLVMBuildICmp(p->b, LLVMIntULT, next, i32c(p, sl->nslots), ""), sl->body, sl->exit);
    px_loop_unroll(p, br, sl->nslots <= 16);
    LLVMValueRef vals[2] = {i32c(p, 0), next};
    LLVMBasicBlockRef from[2] = {sl->pre, sl->latch};
    LLVMAddIncoming(sl->k, vals, from, 2);
    LLVMPositionBuilderAtEnd(p->b, sl->exit);
    sl->open = 0;
}
/* A scalar result: slot 0, element (0, 0). */
static void scalar_slot(px *p) {
    p->slot.k = p->slot.e = p->slot.i = p->slot.j = i32c(p, 0);
}
static void begin(px *p, px_shape s) {
    if (s.rank == 0) scalar_slot(p);
    else begin_slots(p, s);
}
static void end(px *p, px_shape s) {
    if (s.rank != 0) end_slots(p);
}

/* A counted loop r in [0, n) carrying one value (reductions, mma's k). */
typedef struct px_loop {
    LLVMBasicBlockRef pre, body;
    LLVMValueRef r, acc, acc0;
} px_loop;
static void loop_begin(px *p, px_loop *l, LLVMValueRef acc0) {
    l->pre = LLVMGetInsertBlock(p->b);
    l->body = block(p, "r");
    l->acc0 = acc0;
    LLVMBuildBr(p->b, l->body);
    LLVMPositionBuilderAtEnd(p->b, l->body);
    l->r = LLVMBuildPhi(p->b, p->t_i32, "r");
    l->acc = LLVMBuildPhi(p->b, LLVMTypeOf(acc0), "acc");
}
static LLVMValueRef loop_end(px *p, px_loop *l, int64_t n, LLVMValueRef acc) {
    LLVMBasicBlockRef last = LLVMGetInsertBlock(p->b), exit = block(p, "r.end");
    LLVMValueRef next = LLVMBuildNUWAdd(p->b, l->r, i32c(p, 1), "");
    LLVMBuildCondBr(p->b, LLVMBuildICmp(p->b, LLVMIntULT, next, i32c(p, n), ""), l->body, exit);
    LLVMBasicBlockRef from[2] = {l->pre, last};
    LLVMValueRef rs[2] = {i32c(p, 0), next}, as[2] = {l->acc0, acc};
    LLVMAddIncoming(l->r, rs, from, 2);
    LLVMAddIncoming(l->acc, as, from, 2);
    LLVMPositionBuilderAtEnd(p->b, exit);
    return acc;
}

/* ---- operands -------------------------------------------------------- */

/* Element (i or 0, j or 0) of tile shape s staged at tj_smem, at the
 * current slot of a result it broadcasts to. */
static LLVMValueRef bcast_load(px *p, px_shape s, int dtype) {
    LLVMValueRef i = s.m == 1 ? i32c(p, 0) : p->slot.i, j = s.n == 1 ? i32c(p, 0) : p->slot.j;
    LLVMValueRef at = LLVMBuildAdd(p->b, LLVMBuildMul(p->b, i, i32c(p, s.n), ""), j, "");
    return smem_load(p, 0, dtype, at);
}

/* emit_cuda.c operand(): id as seen at each slot of a result of shape
 * `to`, staged through shared memory when its shape differs: copied into
 * a temporary, or with in_place read from shared memory where it is
 * (the caller's slot loop must follow before anything else stages). */
static px_opnd operand_as(px *p, int32_t id, px_shape to, int in_place) {
    px_shape s = p->shapes[id];
    int dtype = N(p, id)->type.dtype;
    if (s.rank == 0) return (px_opnd){p->store[id], dtype, 1, 0, s};
    if (s.m == to.m && s.n == to.n) return (px_opnd){p->store[id], dtype, 0, 0, s};
    need_smem(p, (size_t)count(s) * reg_size(dtype));
    barrier(p);
    begin_slots(p, s);
    smem_store(p, 0, dtype, p->slot.e, read(p, p->store[id], dtype, 0));
    end_slots(p);
    barrier(p);
    if (in_place) return (px_opnd){NULL, dtype, 0, 1, s};
    LLVMValueRef tmp = declare(p, dtype, to, "bcast");
    begin_slots(p, to);
    write(p, tmp, dtype, 0, bcast_load(p, s, dtype));
    end_slots(p);
    return (px_opnd){tmp, dtype, 0, 0, s};
}
static px_opnd operand(px *p, int32_t id, px_shape to) { return operand_as(p, id, to, 0); }
static LLVMValueRef opnd_read(px *p, px_opnd o) {
    if (o.smem) return bcast_load(p, o.from, o.dtype);
    return read(p, o.store, o.dtype, o.scalar);
}

/* ---- ops --------------------------------------------------------------- */

static LLVMValueRef sreg(px *p, const char *what, int axis) {
    char name[64];
    snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.%s.%c", what, "xyz"[axis]);
    return px_call(p, name, p->t_i32, NULL, 0);
}

static int operand_count(const ir_node *n) {
    if (n->op == IR_LOAD || n->op == IR_CONST || n->op == IR_SYMVAL || n->op == IR_PROGRAM_ID ||
        n->op == IR_NUM_PROGRAMS || n->op == IR_IOTA)
        return 0;
    return n->nin < 3 ? n->nin : 3;
}

/* Elementwise node id at the current slot, from its operands' values. */
static LLVMValueRef elementwise_value(px *p, int32_t id, LLVMValueRef *v) {
    const ir_node *n = N(p, id);
    int dt = n->type.dtype;
    switch (n->op) {
    case IR_CONST: return px_literal(p, dt, n->f);
    case IR_SYMVAL: return p->symv[n->index];
    case IR_PROGRAM_ID: return sreg(p, "ctaid", n->index);
    case IR_NUM_PROGRAMS: return sreg(p, "nctaid", n->index);
    case IR_IOTA: {
        LLVMValueRef at = (n->type.rank == 1 || n->index == 1) ? p->slot.j : p->slot.i;
        return px_cast(p, TJ_I32, dt, at);
    }
    case IR_UNARY: return px_unary(p, n->sub, dt, v[0]);
    case IR_BINARY: return px_binary(p, n->sub, N(p, n->in[0])->type.dtype, v[0], v[1]);
    case IR_WHERE: return LLVMBuildSelect(p->b, v[0], v[1], v[2], "");
    case IR_FMA: return px_fma(p, v[0], v[1], v[2]);
    case IR_CAST: return px_cast(p, N(p, n->in[0])->type.dtype, dt, v[0]);
    default: return v[0];   /* broadcast */
    }
}

/* A scalar elementwise op (tiles go through slot groups). */
static void emit_elementwise(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    px_shape s = p->shapes[id];
    px_opnd x[3];
    int nx = operand_count(n);
    for (int k = 0; k < nx; k++) x[k] = operand(p, n->in[k], s);
    begin(p, s);
    LLVMValueRef v[3] = {NULL, NULL, NULL};
    for (int k = 0; k < nx; k++) v[k] = opnd_read(p, x[k]);
    write_node(p, id, elementwise_value(p, id, v));
    end(p, s);
}

/* Stage tile id into shared memory as its register type (flat order). */
static void stage(px *p, int32_t id, size_t off) {
    int dtype = N(p, id)->type.dtype;
    px_shape s = p->shapes[id];
    need_smem(p, off + (size_t)count(s) * reg_size(dtype));
    begin_slots(p, s);
    smem_store(p, off, dtype, p->slot.e, read_node(p, id));
    end_slots(p);
}

static void emit_reshape_like(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    int32_t x = n->in[0];
    px_shape s = p->shapes[id], xs = p->shapes[x];
    int dt = n->type.dtype;
    if (xs.rank == 0 || (n->op == IR_RESHAPE && s.rank != 0)) {   /* a copy, slot for slot */
        begin(p, s);
        write_node(p, id, read_node(p, x));
        end(p, s);
        return;
    }
    barrier(p);
    stage(p, x, 0);
    barrier(p);
    if (s.rank == 0) {
        write_node(p, id, smem_load(p, 0, dt, i32c(p, 0)));
        return;
    }
    begin_slots(p, s);   /* transpose: result (i, j) is x (j, i) */
    LLVMValueRef at = LLVMBuildAdd(p->b, LLVMBuildMul(p->b, p->slot.j, i32c(p, xs.n), ""), p->slot.i, "");
    write_node(p, id, smem_load(p, 0, dt, at));
    end_slots(p);
}

static void emit_reduce(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    int32_t x = n->in[0];
    px_shape xs = p->shapes[x];
    int dt = n->type.dtype;
    int along_n = (n->type.rank == 1) || n->index == 1;
    LLVMValueRef init;
    if (ir_is_float(dt)) {
        static const double f[3] = {0.0, -INFINITY, INFINITY};
        init = LLVMConstReal(p->t_f32, f[n->sub]);
    } else {
        long long lo = dt == TJ_I64 ? (long long)(-0x7fffffffffffffffLL - 1) : -0x7fffffffLL - 1;
        long long hi = dt == TJ_I64 ? 0x7fffffffffffffffLL : 0x7fffffffLL;
        init = LLVMConstInt(px_reg_type(p, dt), (unsigned long long)(n->sub == TJ_SUM ? 0 : n->sub == TJ_RMAX ? lo : hi), 1);
    }
    barrier(p);
    stage(p, x, 0);
    barrier(p);
    begin_slots(p, p->shapes[id]);
    px_loop l;
    loop_begin(p, &l, init);
    LLVMValueRef at = along_n
        ? LLVMBuildAdd(p->b, LLVMBuildMul(p->b, p->slot.i, i32c(p, xs.n), ""), l.r, "")
        : LLVMBuildAdd(p->b, LLVMBuildMul(p->b, l.r, i32c(p, xs.n), ""), p->slot.j, "");
    static const int op[3] = {TJ_ADD, TJ_MAX, TJ_MIN};
    LLVMValueRef acc = px_binary(p, op[n->sub], dt, l.acc, smem_load(p, 0, dt, at));
    acc = loop_end(p, &l, along_n ? xs.n : xs.m, acc);
    write_node(p, id, acc);
    end_slots(p);
}

/* C = acc + op(A)·op(B): operands rounded to their dtype and staged in
 * shared memory as f32, products summed in increasing k with fma. */
static void emit_mma(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    int32_t a = n->in[0], bb = n->in[1];
    px_shape as = p->shapes[a], bs = p->shapes[bb];
    int ta = (n->flags & TJ_TRANS_A) != 0, tb = (n->flags & TJ_TRANS_B) != 0;
    int64_t K = ta ? as.m : as.n;
    size_t boff = ((size_t)count(as) * 4 + 15) & ~(size_t)15;
    need_smem(p, boff + (size_t)count(bs) * 4);
    int dt = N(p, a)->type.dtype;
    barrier(p);
    for (int w = 0; w < 2; w++) {
        int32_t src = w ? bb : a;
        begin_slots(p, p->shapes[src]);
        smem_store(p, w ? boff : 0, TJ_F32, p->slot.e, px_round_to(p, dt, read_node(p, src)));
        end_slots(p);
    }
    barrier(p);
    begin_slots(p, p->shapes[id]);
    LLVMValueRef acc0 = n->nin == 3 ? read_node(p, n->in[2]) : LLVMConstReal(p->t_f32, 0.0);
    LLVMValueRef i = p->slot.i, j = p->slot.j;
    px_loop l;
    loop_begin(p, &l, acc0);
    LLVMBuilderRef b = p->b;
    LLVMValueRef ai = ta ? LLVMBuildAdd(b, LLVMBuildMul(b, l.r, i32c(p, as.n), ""), i, "")
                         : LLVMBuildAdd(b, LLVMBuildMul(b, i, i32c(p, as.n), ""), l.r, "");
    LLVMValueRef bi = tb ? LLVMBuildAdd(b, LLVMBuildMul(b, j, i32c(p, bs.n), ""), l.r, "")
                         : LLVMBuildAdd(b, LLVMBuildMul(b, l.r, i32c(p, bs.n), ""), j, "");
    LLVMValueRef acc = px_fma(p, smem_load(p, 0, TJ_F32, ai), smem_load(p, boff, TJ_F32, bi), l.acc);
    acc = loop_end(p, &l, K, acc);
    write_node(p, id, acc);
    end_slots(p);
}

/* ---- memory ------------------------------------------------------------ */

typedef struct px_access {
    LLVMValueRef base[TJ_MAX_RANK];
    LLVMValueRef inb, at;
} px_access;

/* emit_cuda.c access_bases: per tensor dim, coordinate times the tile dim
 * it runs along (unless coordinates are element offsets). */
static void access_bases(px *p, int32_t id, px_shape tile, px_access *a) {
    const ir_node *n = N(p, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    for (int d = 0; d < t->rank; d++) {
        int64_t mult = 1;
        for (int k = 0; k < tile.rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = (tile.rank == 2 && k == 0) ? tile.m : tile.n;
        LLVMValueRef c = read_node(p, n->in[d]);
        if (LLVMTypeOf(c) != p->t_i64) c = LLVMBuildSExt(p->b, c, p->t_i64, "");
        a->base[d] = LLVMBuildMul(p->b, c, i64c(p, mult), "");
    }
}
/* At the current slot: is element (i, j) inside the tensor, and where. */
static void access_index(px *p, int32_t id, int tile_rank, px_access *a) {
    const ir_node *n = N(p, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    LLVMBuilderRef b = p->b;
    a->inb = LLVMConstInt(p->t_i1, 1, 0);
    a->at = i64c(p, 0);
    for (int d = 0; d < t->rank; d++) {
        LLVMValueRef o = a->base[d];
        for (int k = 0; k < tile_rank; k++)
            if (n->axes[k] == d) {
                LLVMValueRef ij = (tile_rank == 2 && k == 0) ? p->slot.i : p->slot.j;
                o = LLVMBuildAdd(b, o, LLVMBuildZExt(b, ij, p->t_i64, ""), "");
            }
        LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, o, i64c(p, 0), ""),
                                       LLVMBuildICmp(b, LLVMIntSLT, o, p->tdim[n->tensor][d], ""), "");
        a->inb = LLVMBuildAnd(b, a->inb, ok, "");
        a->at = LLVMBuildAdd(b, a->at, LLVMBuildMul(b, o, p->tdim[n->tensor][TJ_MAX_RANK + d], ""), "");
    }
}
static LLVMValueRef elem_ptr(px *p, int tensor, LLVMValueRef at) {
    int dt = p->g->tensors[tensor].dtype;
    return LLVMBuildInBoundsGEP2(p->b, px_mem_type(p, dt), p->tparam[tensor], &at, 1, "");
}
static unsigned mem_size(int dtype) {
    return dtype == TJ_I64 ? 8 : (dtype == TJ_F32 || dtype == TJ_I32) ? 4
         : (dtype == TJ_F16 || dtype == TJ_BF16) ? 2 : 1;
}

/* Load id's element at the current slot (pad outside the tensor). */
static LLVMValueRef load_at(px *p, int32_t id, px_access *a) {
    const ir_node *n = N(p, id);
    int dt = p->g->tensors[n->tensor].dtype;
    access_index(p, id, p->shapes[id].rank, a);
    LLVMValueRef pad = px_literal(p, dt, n->f);
    LLVMBasicBlockRef from = LLVMGetInsertBlock(p->b), ld = block(p, "ld"), join = block(p, "ld.end");
    LLVMBuildCondBr(p->b, a->inb, ld, join);
    LLVMPositionBuilderAtEnd(p->b, ld);
    LLVMValueRef m = LLVMBuildLoad2(p->b, px_mem_type(p, dt), elem_ptr(p, n->tensor, a->at), "");
    LLVMSetAlignment(m, mem_size(dt));
    LLVMValueRef v = px_to_reg(p, dt, m);
    LLVMBasicBlockRef ld_end = LLVMGetInsertBlock(p->b);
    LLVMBuildBr(p->b, join);
    LLVMPositionBuilderAtEnd(p->b, join);
    LLVMValueRef phi = LLVMBuildPhi(p->b, px_reg_type(p, dt), "");
    LLVMValueRef vals[2] = {v, pad};
    LLVMBasicBlockRef bbs[2] = {ld_end, from};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return phi;
}

/* Store `value` as store id's element at the current slot; `mask` NULL
 * or the bool at this slot. */
static void store_at(px *p, int32_t id, px_access *a, LLVMValueRef value, LLVMValueRef mask) {
    const ir_node *n = N(p, id);
    int dt = p->g->tensors[n->tensor].dtype;
    int rank = p->shapes[n->in[n->nin - 1]].rank;
    access_index(p, id, rank, a);
    LLVMValueRef ok = a->inb;
    if (mask) ok = LLVMBuildAnd(p->b, ok, mask, "");   /* bools are i1 */
    if (rank == 0)   /* one thread stores a scalar */
        ok = LLVMBuildAnd(p->b, ok, LLVMBuildICmp(p->b, LLVMIntEQ, p->tid, i32c(p, 0), ""), "");
    LLVMBasicBlockRef st = block(p, "st"), join = block(p, "st.end");
    LLVMBuildCondBr(p->b, ok, st, join);
    LLVMPositionBuilderAtEnd(p->b, st);
    LLVMValueRef ins = LLVMBuildStore(p->b, px_to_mem(p, dt, value), elem_ptr(p, n->tensor, a->at));
    LLVMSetAlignment(ins, mem_size(dt));
    LLVMBuildBr(p->b, join);
    LLVMPositionBuilderAtEnd(p->b, join);
}

/* A scalar load (tile loads go through slot groups). */
static void emit_load(px *p, int32_t id) {
    px_shape s = p->shapes[id];
    px_access a;
    access_bases(p, id, s, &a);
    begin(p, s);
    write_node(p, id, load_at(p, id, &a));
    end(p, s);
}

/* A store of a scalar (tile stores go through slot groups). */
static void emit_store(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    int32_t v = n->in[n->nin - 1];
    px_shape s = p->shapes[v];
    int masked = (n->flags & IR_STORE_MASKED) != 0;
    px_opnd mask = {0};
    if (masked) mask = operand(p, n->in[n->nin - 2], s);
    px_access a;
    access_bases(p, id, s, &a);
    begin(p, s);
    store_at(p, id, &a, read_node(p, v), masked ? opnd_read(p, mask) : NULL);
    end(p, s);
}

/* ---- slot groups --------------------------------------------------------
 * A run of elementwise ops, tile loads and tile stores on one shape is one
 * slot loop; each member's value at the slot is an SSA value, kept in an
 * array only when something outside the run reads it. Operands of other
 * shapes (broadcasts, masks) are staged before the loop. Running the
 * members slot by slot instead of op by op reorders memory accesses
 * across slots, so a run never holds a store together with another
 * access to the same tensor. */

/* The shape a group member runs over (a store: its value's). */
static px_shape member_shape(const px *p, int32_t id) {
    const ir_node *n = N(p, id);
    return n->op == IR_STORE ? p->shapes[n->in[n->nin - 1]] : p->shapes[id];
}

static int fusable(const px *p, int32_t id) {
    const ir_node *n = N(p, id);
    if (member_shape(p, id).rank == 0) return 0;
    switch (n->op) {
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_BROADCAST: case IR_CAST:
    case IR_CONST: case IR_IOTA: case IR_LOAD: case IR_STORE:
        return 1;
    default:
        return 0;
    }
}

/* 1 when id may not join a run holding ids[0..n): it stores a tensor the
 * run accesses, or accesses a tensor the run stores. */
static int memory_conflict(const px *p, int32_t id, const int32_t *ids, int n) {
    const ir_node *x = N(p, id);
    if (x->op != IR_LOAD && x->op != IR_STORE) return 0;
    for (int k = 0; k < n; k++) {
        const ir_node *y = N(p, ids[k]);
        if ((y->op == IR_LOAD || y->op == IR_STORE) && y->tensor == x->tensor &&
            (x->op == IR_STORE || y->op == IR_STORE))
            return 1;
    }
    return 0;
}

/* A scalar computed from scalars only: emitted where met, ahead of an
 * open run's loop, which may read it. */
static int scalar_only(const px *p, int32_t id) {
    const ir_node *n = N(p, id);
    if (p->shapes[id].rank != 0 || n->op == IR_FOR || n->op == IR_STORE || n->op == IR_LOAD)
        return 0;
    for (int k = 0; k < n->nin; k++)
        if (p->shapes[n->in[k]].rank != 0) return 0;
    return 1;
}

typedef struct px_member {
    px_opnd x[3];       /* operands not in the group (a store: mask, value) */
    px_access a;        /* loads and stores */
    int inside;         /* reads by later members */
} px_member;

static void emit_group(px *p, const int32_t *ids, int cnt) {
    if (cnt <= 0 || p->err != TJ_OK) return;
    px_shape s = member_shape(p, ids[0]);
    int g = ++p->ngrp;
    px_member *mb = calloc((size_t)cnt, sizeof *mb);
    if (!mb) {
        px_fail(p, TJ_ERR_NO_MEMORY, -1, "out of memory");
        return;
    }
    for (int m = 0; m < cnt; m++) p->grp[ids[m]] = g;
    int nbcast = 0;   /* operands staged through shared memory */
    for (int m = 0; m < cnt; m++) {
        const ir_node *n = N(p, ids[m]);
        for (int k = 0; k < n->nin; k++) {
            for (int q = 0; q < m; q++)
                if (n->in[k] == ids[q]) mb[q].inside++;
            px_shape x = p->shapes[n->in[k]];
            if (n->op != IR_LOAD && p->grp[n->in[k]] != g && x.rank != 0 && (x.m != s.m || x.n != s.n))
                nbcast++;
        }
    }
    /* One staged operand is read from shared memory in the loop: nothing
     * else in the group touches shared memory, and every later staging
     * starts with a barrier. More than one share the staging buffer, so
     * they are copied out first. */
    int in_place = nbcast == 1;
    /* Before the loop: arrays of members read outside, staged operands,
     * load and store bases. */
    for (int m = 0; m < cnt; m++) {
        int32_t id = ids[m];
        const ir_node *n = N(p, id);
        if (n->op == IR_STORE) {
            int32_t v = n->in[n->nin - 1];
            if (n->flags & IR_STORE_MASKED) {
                int32_t mk = n->in[n->nin - 2];
                if (p->grp[mk] != g) mb[m].x[0] = operand_as(p, mk, s, in_place);
            }
            if (p->grp[v] != g) mb[m].x[1] = operand(p, v, s);
            /* the member's own rank: a [1,N] run may hold rank-1 [N] and
             * rank-2 [1,N] members, whose tile axes differ */
            access_bases(p, id, member_shape(p, id), &mb[m].a);
            continue;
        }
        if (p->nuse[id] > mb[m].inside) {
            char name[48];
            if (n->name) snprintf(name, sizeof name, "v_%s", n->name);
            else snprintf(name, sizeof name, "v%d", (int)id);
            p->store[id] = declare(p, n->type.dtype, s, name);
        }
        if (n->op == IR_LOAD) {
            access_bases(p, id, member_shape(p, id), &mb[m].a);
            continue;
        }
        for (int k = 0; k < operand_count(n); k++)
            if (p->grp[n->in[k]] != g) mb[m].x[k] = operand_as(p, n->in[k], s, in_place);
    }
    begin_slots(p, s);
    for (int m = 0; m < cnt && p->err == TJ_OK; m++) {
        int32_t id = ids[m];
        const ir_node *n = N(p, id);
        if (n->op == IR_STORE) {
            int32_t v = n->in[n->nin - 1];
            LLVMValueRef mask = NULL;
            if (n->flags & IR_STORE_MASKED) {
                int32_t mk = n->in[n->nin - 2];
                mask = p->grp[mk] == g ? p->val[mk] : opnd_read(p, mb[m].x[0]);
            }
            LLVMValueRef value = p->grp[v] == g ? p->val[v] : opnd_read(p, mb[m].x[1]);
            store_at(p, id, &mb[m].a, value, mask);
            continue;
        }
        LLVMValueRef r;
        if (n->op == IR_LOAD) {
            r = load_at(p, id, &mb[m].a);
        } else {
            LLVMValueRef v[3] = {NULL, NULL, NULL};
            for (int k = 0; k < operand_count(n); k++)
                v[k] = p->grp[n->in[k]] == g ? p->val[n->in[k]] : opnd_read(p, mb[m].x[k]);
            r = elementwise_value(p, id, v);
        }
        if (p->nuse[id] > mb[m].inside) write_node(p, id, r);
        p->val[id] = r;
    }
    end_slots(p);
    for (int m = 0; m < cnt; m++) {
        p->grp[ids[m]] = 0;
        p->val[ids[m]] = NULL;
    }
    free(mb);
}

/* ---- walk ---------------------------------------------------------------- */

static void emit_region(px *p, int32_t parent);

/* Copy `from` (as seen at shape of dst) into storage dst. */
static void copy_into(px *p, LLVMValueRef dst, int dtype, px_shape s, px_opnd from) {
    begin(p, s);
    write(p, dst, dtype, s.rank == 0, opnd_read(p, from));
    end(p, s);
}

static void emit_for(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    const ir_loop *l = n->loop;
    int it = N(p, n->in[0])->type.dtype;
    if (l->ncarried > 64) {
        px_fail(p, TJ_ERR_UNSUPPORTED, id, "a loop carries %d values; the LLVM path takes 64",
                l->ncarried);
        return;
    }
    for (int k = 0; k < l->ncarried; k++) {
        int32_t c = l->carried[k];
        int dt = N(p, c)->type.dtype;
        p->store[c] = declare(p, dt, p->shapes[c], "carried");
        copy_into(p, p->store[c], dt, p->shapes[c], operand(p, n->in[3 + k], p->shapes[c]));
    }
    for (int k = 0; k < l->ncarried; k++) p->store[l->results[k]] = p->store[l->carried[k]];
    LLVMValueRef iv = p->store[l->iv] = declare(p, it, (px_shape){0, 1, 1}, "iv");
    LLVMBuildStore(p->b, read_node(p, n->in[0]), iv);
    LLVMBasicBlockRef head = block(p, "for"), body = block(p, "for.body"), exit = block(p, "for.end");
    LLVMBuildBr(p->b, head);
    LLVMPositionBuilderAtEnd(p->b, head);
    LLVMValueRef cur = LLVMBuildLoad2(p->b, px_reg_type(p, it), iv, "");
    LLVMBuildCondBr(p->b, LLVMBuildICmp(p->b, LLVMIntSLT, cur, read_node(p, n->in[1]), ""), body, exit);
    LLVMPositionBuilderAtEnd(p->b, body);
    emit_region(p, id);
    /* Yields become the carried values; through temporaries when one
     * yields a carried value of this loop (another yield may replace it
     * first), else directly, as emit_cuda.c does. */
    int via_tmp = 0;
    for (int k = 0; k < l->ncarried; k++) {
        const ir_node *y = N(p, l->yields[k]);
        if (y->op == IR_LOOP_CARRIED && y->in[0] == id) via_tmp = 1;
    }
    LLVMValueRef tmp[64];
    for (int k = 0; k < l->ncarried && k < 64; k++) {
        int32_t c = l->carried[k];
        int dt = N(p, c)->type.dtype;
        tmp[k] = via_tmp ? declare(p, dt, p->shapes[c], "yield") : p->store[c];
        copy_into(p, tmp[k], dt, p->shapes[c], operand(p, l->yields[k], p->shapes[c]));
    }
    for (int k = 0; k < l->ncarried && k < 64 && via_tmp; k++) {
        int32_t c = l->carried[k];
        int dt = N(p, c)->type.dtype;
        px_opnd from = {tmp[k], dt, p->shapes[c].rank == 0, 0, p->shapes[c]};
        copy_into(p, p->store[c], dt, p->shapes[c], from);
    }
    LLVMValueRef now = LLVMBuildLoad2(p->b, px_reg_type(p, it), iv, "");
    LLVMBuildStore(p->b, LLVMBuildAdd(p->b, now, read_node(p, n->in[2]), ""), iv);
    LLVMBuildBr(p->b, head);
    LLVMPositionBuilderAtEnd(p->b, exit);
}

static void emit_node(px *p, int32_t id) {
    const ir_node *n = N(p, id);
    if (n->op != IR_STORE && n->op != IR_FOR) {
        char name[48];
        if (n->name) snprintf(name, sizeof name, "v_%s", n->name);
        else snprintf(name, sizeof name, "v%d", (int)id);
        p->store[id] = declare(p, n->type.dtype, p->shapes[id], name);
    }
    switch (n->op) {
    case IR_LOAD: emit_load(p, id); break;
    case IR_STORE: emit_store(p, id); break;
    case IR_MMA: emit_mma(p, id); break;
    case IR_REDUCE: emit_reduce(p, id); break;
    case IR_TRANSPOSE: case IR_RESHAPE: emit_reshape_like(p, id); break;
    case IR_FOR: emit_for(p, id); break;
    case IR_CONST: case IR_SYMVAL: case IR_PROGRAM_ID: case IR_NUM_PROGRAMS: case IR_IOTA:
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_CAST: case IR_BROADCAST:
        emit_elementwise(p, id);
        break;
    default: break;   /* scalar args, loop values: stored where they are defined */
    }
}

static void emit_region(px *p, int32_t parent) {
    int32_t *ids;
    int n;
    ir_region(p->g, parent, &ids, &n);
    int32_t *run = malloc(sizeof *run * (size_t)(n > 0 ? n : 1));
    if (!run) {
        px_fail(p, TJ_ERR_NO_MEMORY, -1, "out of memory");
        return;
    }
    int nrun = 0;
    for (int k = 0; k < n && p->err == TJ_OK; k++) {
        int32_t id = ids[k];
        if (!p->live[id]) continue;
        if (fusable(p, id)) {
            px_shape a = member_shape(p, id), b = nrun ? member_shape(p, run[0]) : a;
            if (a.m != b.m || a.n != b.n || memory_conflict(p, id, run, nrun)) {
                emit_group(p, run, nrun);
                nrun = 0;
            }
            run[nrun++] = id;
            continue;
        }
        if (!scalar_only(p, id)) {
            emit_group(p, run, nrun);
            nrun = 0;
        }
        emit_node(p, id);
    }
    emit_group(p, run, nrun);
    free(run);
}

/* Tensor dims and strides (i64), as emit_cuda.c's prologue computes them;
 * scalar arguments in their register type. */
void px_body(px *p) {
    const tj_graph *g = p->g;
    for (int t = 0; t < g->ntensors; t++) {
        const ir_tensor *tt = &g->tensors[t];
        LLVMValueRef *dv = p->tdim[t];
        for (int d = 0; d < tt->rank; d++)
            dv[d] = tj_dim_is_sym(tt->dims[d])
                        ? LLVMBuildSExt(p->b, p->symv[ir_dim_sym(g, tt->dims[d])], p->t_i64, "")
                        : i64c(p, (long long)tt->dims[d]);
        for (int d = tt->rank - 1; d >= 0; d--) {
            LLVMValueRef s;
            if (tt->has_strides && tj_dim_is_sym(tt->strides[d]))
                s = LLVMBuildSExt(p->b, p->symv[ir_dim_sym(g, tt->strides[d])], p->t_i64, "");
            else if (tt->has_strides)
                s = i64c(p, (long long)tt->strides[d]);
            else if (d == tt->rank - 1)
                s = i64c(p, 1);
            else
                s = LLVMBuildMul(p->b, dv[TJ_MAX_RANK + d + 1], dv[d + 1], "");
            dv[TJ_MAX_RANK + d] = s;
        }
    }
    for (int i = 0; i < g->nscalars; i++) {
        int dt = g->scalars[i].dtype;
        int32_t node = g->scalars[i].node;
        LLVMValueRef v = LLVMGetParam(p->fn, (unsigned)(g->ntensors + i));
        if (dt == TJ_BOOL) v = LLVMBuildICmp(p->b, LLVMIntNE, v, i32c(p, 0), "");
        p->store[node] = declare(p, dt, (px_shape){0, 1, 1}, g->scalars[i].name);
        LLVMBuildStore(p->b, v, p->store[node]);
    }
    emit_region(p, -1);
}
