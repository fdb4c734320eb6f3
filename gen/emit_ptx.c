/*
 * emit_ptx.c — the LLVM back end's frame: the analysis emit_cuda.c does
 * before it writes (shapes, liveness, block size), the kernel's signature,
 * the module, libdevice, the optimization pipeline and NVPTX code
 * generation. The ops are in emit_ptx_ops.c and emit_ptx_conv.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "emit_ptx.h"
#include "emit_ptx_int.h"

int emit_ptx_available(void) { return 1; }

static _Thread_local emit_ptx_times last_times;
void emit_ptx_last_times(emit_ptx_times *out) {
    if (out) *out = last_times;
}
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- process-wide: the NVPTX target and libdevice (read once) ---------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static LLVMTargetRef nvptx;
static char init_error[256];
static void *libdevice;          /* the bitcode, or NULL when not found */
static size_t libdevice_size;
static char libdevice_path[1024];
static char backend_id[96];

static void read_libdevice(void) {
    const char *env = getenv("TILEJIT_LIBDEVICE"), *home = getenv("CUDA_HOME");
    char cand[3][1024];
    int n = 0;
    if (env && *env) snprintf(cand[n++], sizeof cand[0], "%s", env);
    if (home && *home) snprintf(cand[n++], sizeof cand[0], "%s/nvvm/libdevice/libdevice.10.bc", home);
    snprintf(cand[n++], sizeof cand[0], "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc");
    for (int i = 0; i < n && !libdevice; i++) {
        FILE *f = fopen(cand[i], "rb");
        if (!f) continue;
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);
                if (!nb) break;
                buf = nb;
                cap = cap ? cap * 2 : 1 << 20;
            }
            size_t got = fread(buf + len, 1, cap - len, f);
            len += got;
            if (got == 0) break;
        }
        fclose(f);
        if (len > 4 && buf && memcmp(buf, "BC\xc0\xde", 4) == 0) {
            libdevice = buf;
            libdevice_size = len;
            snprintf(libdevice_path, sizeof libdevice_path, "%s", cand[i]);
        } else {
            free(buf);
        }
    }
}

static void init_llvm(void) {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    char *err = NULL;
    if (LLVMGetTargetFromTriple("nvptx64-nvidia-cuda", &nvptx, &err)) {
        snprintf(init_error, sizeof init_error, "%s", err ? err : "no NVPTX target");
        nvptx = NULL;
    }
    LLVMDisposeMessage(err);
    read_libdevice();
    unsigned maj = 0, min = 0, patch = 0;
    LLVMGetVersion(&maj, &min, &patch);
    int n = snprintf(backend_id, sizeof backend_id, "llvm %u.%u.%u", maj, min, patch);
    if (libdevice) {
        char hex[65];
        ir_sha256_hex(libdevice, libdevice_size, hex);
        snprintf(backend_id + n, sizeof backend_id - (size_t)n, " libdevice %.12s", hex);
    }
}

const char *emit_ptx_backend_id(void) {
    pthread_once(&init_once, init_llvm);
    return backend_id;
}

/* The archs LLVM 19's NVPTX back end knows (the "a" variants included). */
static int arch_sm(const char *arch) {
    static const char *const known[] = {"sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_90a"};
    for (size_t i = 0; arch && i < sizeof known / sizeof *known; i++)
        if (!strcmp(arch, known[i])) return atoi(arch + 3);
    return 0;
}

/* ---- helpers the ops use -------------------------------------------------- */

LLVMValueRef px_call(px *p, const char *name, LLVMTypeRef ret, LLVMValueRef *args, int nargs) {
    LLVMTypeRef at[4];
    for (int i = 0; i < nargs && i < 4; i++) at[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef ft = LLVMFunctionType(ret, at, (unsigned)nargs, 0);
    LLVMValueRef f = LLVMGetNamedFunction(p->mod, name);
    if (!f) {
        f = LLVMAddFunction(p->mod, name, ft);
        if (!strncmp(name, "__nv_", 5)) p->uses_libdevice = 1;
    }
    return LLVMBuildCall2(p->b, ft, f, args, (unsigned)nargs, "");
}

LLVMValueRef px_asm(px *p, const char *text, const char *constraints, LLVMTypeRef ret,
                    LLVMValueRef *args, int nargs) {
    LLVMTypeRef at[4];
    for (int i = 0; i < nargs && i < 4; i++) at[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef ft = LLVMFunctionType(ret, at, (unsigned)nargs, 0);
    LLVMValueRef a = LLVMGetInlineAsm(ft, (char *)text, strlen(text), (char *)constraints,
                                      strlen(constraints), 0, 0, LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(p->b, ft, a, args, (unsigned)nargs, "");
}

void px_loop_unroll(px *p, LLVMValueRef br, int full) {
    const char *what = full ? "llvm.loop.unroll.full" : "llvm.loop.unroll.disable";
    LLVMMetadataRef hint = LLVMMDStringInContext2(p->ctx, what, strlen(what));
    LLVMMetadataRef hint_node = LLVMMDNodeInContext2(p->ctx, &hint, 1);
    /* A loop id is a distinct node whose first operand is itself. */
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(p->ctx, NULL, 0);
    LLVMMetadataRef ops[2] = {tmp, hint_node};
    LLVMMetadataRef id = LLVMMDNodeInContext2(p->ctx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, id);
    LLVMSetMetadata(br, p->md_loop, LLVMMetadataAsValue(p->ctx, id));
}

/* ---- analysis: emit_cuda.c's prepare() -------------------------------------- */

static int64_t count(px_shape s) { return s.m * s.n; }

static tj_status eval_shape(px *p, int32_t id) {
    const ir_node *n = &p->g->nodes[id];
    px_shape s = {n->type.rank, 1, 1};
    int64_t d[2] = {1, 1};
    for (int i = 0; i < n->type.rank; i++) {
        tj_status st = ir_dim_eval(p->g, n->type.dims[i], p->sym, 1, &d[i]);
        if (st != TJ_OK) return px_fail(p, st, id, "%s", tj_last_error());
    }
    if (n->type.rank == 2) {
        s.m = d[0];
        s.n = d[1];
    } else if (n->type.rank == 1) {
        s.n = d[0];
    }
    if (count(s) > ((int64_t)1 << 20))
        return px_fail(p, TJ_ERR_UNSUPPORTED, id,
                       "a tile of %lld elements is too large for the generic path (limit 2^20)",
                       (long long)count(s));
    p->shapes[id] = s;
    return TJ_OK;
}


int px_baked(const px *p, int s) {
    return p->g->syms[s].policy == TJ_EXACT && p->sym && p->sym[s] != TJ_UNBOUND;
}

tj_status px_prepare(px *p) {
    const tj_graph *g = p->g;
    for (int s = 0; s < g->nsyms; s++) {
        if (!p->sym || p->sym[s] == TJ_UNBOUND) continue;
        int64_t dummy;
        tj_status st = ir_dim_eval(g, tj_dim_sym((tj_sym){s}), p->sym, 0, &dummy);
        if (st != TJ_OK) return px_fail(p, st, -1, "%s", tj_last_error());
    }
    for (int32_t id = 0; id < g->nnodes; id++)
        if (g->nodes[id].op == IR_STORE) p->stored[g->nodes[id].tensor] = 1;
    emit_mark_live_all(g, p->live);
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = &g->nodes[id];
        if (!p->live[id] || n->op == IR_FOR_RESULT || n->op == IR_LOOP_IV || n->op == IR_LOOP_CARRIED)
            continue;
        for (int k = 0; k < n->nin; k++) p->nuse[n->in[k]]++;
        if (n->op == IR_FOR && n->loop)
            for (int k = 0; k < n->loop->ncarried; k++) p->nuse[n->loop->yields[k]]++;
    }
    int64_t biggest = 1;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = &g->nodes[id];
        if (n->type.dtype == IR_VOID) continue;
        if (!p->live[id] && n->op != IR_LOOP_CARRIED && n->op != IR_LOOP_IV &&
            n->op != IR_SCALAR_ARG && n->op != IR_FOR_RESULT)
            continue;
        tj_status st = eval_shape(p, id);
        if (st != TJ_OK) return st;
        if (count(p->shapes[id]) > biggest) biggest = count(p->shapes[id]);
    }
    p->nt = biggest > 8192 ? 256 : 128;
    return TJ_OK;
}

/* emit_cuda.c's emit_signature: tensors, scalars, symbols not baked. */
int px_signature(px *p, emit_launch *L, LLVMTypeRef *types) {
    const tj_graph *g = p->g;
    int np = 0;
    for (int t = 0; t < g->ntensors; t++) {
        types[np] = p->t_ptr;
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_TENSOR, .index = t, .ctype = EMIT_C_PTR, .size = sizeof(void *)};
    }
    for (int i = 0; i < g->nscalars; i++) {
        int dt = g->scalars[i].dtype;
        int ct = ir_is_float(dt) ? EMIT_C_F32 : dt == TJ_I64 ? EMIT_C_I64 : EMIT_C_I32;
        types[np] = ct == EMIT_C_F32 ? p->t_f32 : ct == EMIT_C_I64 ? p->t_i64 : p->t_i32;
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SCALAR, .index = i, .ctype = ct, .size = ct == EMIT_C_I64 ? 8u : 4u};
    }
    for (int s = 0; s < g->nsyms; s++) {
        if (px_baked(p, s)) continue;
        types[np] = p->t_i32;
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SYMBOL, .index = s, .ctype = EMIT_C_I32, .size = 4};
    }
    L->nparams = np;
    return np;
}

/* ---- the module ------------------------------------------------------------ */

static void add_attr(px *p, LLVMValueRef fn, unsigned idx, const char *name) {
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(p->ctx, kind, 0));
}

static void annotate(px *p, const char *key, int value) {
    LLVMMetadataRef ops[3] = {
        LLVMValueAsMetadata(p->fn), LLVMMDStringInContext2(p->ctx, key, strlen(key)),
        LLVMValueAsMetadata(LLVMConstInt(p->t_i32, (unsigned long long)value, 0))};
    LLVMAddNamedMetadataOperand(p->mod, "nvvm.annotations",
                                LLVMMetadataAsValue(p->ctx, LLVMMDNodeInContext2(p->ctx, ops, 3)));
}

static void build_kernel(px *p, emit_launch *L) {
    const tj_graph *g = p->g;
    LLVMTypeRef types[EMIT_MAX_PARAMS];
    int np = px_signature(p, L, types);
    char name[96];
    snprintf(name, sizeof name, "tj_%s", g->name);
    p->fn = LLVMAddFunction(p->mod, name, LLVMFunctionType(p->t_void, types, (unsigned)np, 0));
    for (int t = 0; t < g->ntensors; t++) {
        LLVMSetValueName2(LLVMGetParam(p->fn, (unsigned)t), g->tensors[t].name, strlen(g->tensors[t].name));
        add_attr(p, p->fn, (unsigned)t + 1, "noalias");
        if (!p->stored[t]) add_attr(p, p->fn, (unsigned)t + 1, "readonly");
        p->tparam[t] = LLVMGetParam(p->fn, (unsigned)t);
    }
    add_attr(p, p->fn, LLVMAttributeFunctionIndex, "nounwind");
    annotate(p, "kernel", 1);
    annotate(p, "maxntidx", p->nt);

    p->smem = LLVMAddGlobalInAddressSpace(p->mod, LLVMArrayType2(p->t_i8, 0), "tj_smem", 3);
    LLVMSetLinkage(p->smem, LLVMExternalLinkage);
    LLVMSetAlignment(p->smem, 16);

    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(p->ctx, p->fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(p->ctx, p->fn, "body");
    LLVMPositionBuilderAtEnd(p->ab, entry);
    LLVMPositionBuilderAtEnd(p->b, body);
    p->tid = px_call(p, "llvm.nvvm.read.ptx.sreg.tid.x", p->t_i32, NULL, 0);
    int param = g->ntensors + g->nscalars;
    for (int s = 0; s < g->nsyms; s++)
        p->symv[s] = px_baked(p, s) ? LLVMConstInt(p->t_i32, (unsigned long long)p->sym[s], 1)
                                    : LLVMGetParam(p->fn, (unsigned)param++);
    px_body(p);
    LLVMBuildRetVoid(p->b);
    LLVMBuildBr(p->ab, body);
}

/* Link the libdevice functions the kernel calls: the module is read
 * lazily and every definition made linkonce, so the linker pulls in only
 * what is referenced (and what that references), not all of libdevice. */
static tj_status link_libdevice(px *p) {
    if (!libdevice)
        return px_fail(p, TJ_ERR_UNSUPPORTED, -1,
                       "the graph uses float math (exp, log, sin, tanh, erf, pow) that the LLVM "
                       "path takes from CUDA's libdevice, and libdevice.10.bc was not found; set "
                       "TILEJIT_LIBDEVICE to its path or CUDA_HOME to the toolkit");
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(libdevice, libdevice_size,
                                                                    "libdevice", 0);
    LLVMModuleRef ld = NULL;
    if (LLVMGetBitcodeModuleInContext2(p->ctx, buf, &ld)) {
        LLVMDisposeMemoryBuffer(buf);
        return px_fail(p, TJ_ERR_INTERNAL, -1, "cannot read libdevice (%s)", libdevice_path);
    }
    LLVMSetTarget(ld, LLVMGetTarget(p->mod));
    LLVMSetDataLayout(ld, LLVMGetDataLayoutStr(p->mod));
    for (LLVMValueRef f = LLVMGetFirstFunction(ld); f; f = LLVMGetNextFunction(f))
        if (!LLVMIsDeclaration(f)) LLVMSetLinkage(f, LLVMLinkOnceODRLinkage);
    for (LLVMValueRef v = LLVMGetFirstGlobal(ld); v; v = LLVMGetNextGlobal(v))
        if (!LLVMIsDeclaration(v) && LLVMGetLinkage(v) != LLVMInternalLinkage &&
            LLVMGetLinkage(v) != LLVMPrivateLinkage)
            LLVMSetLinkage(v, LLVMLinkOnceODRLinkage);
    if (LLVMLinkModules2(p->mod, ld))
        return px_fail(p, TJ_ERR_INTERNAL, -1, "linking libdevice (%s) failed", libdevice_path);
    for (LLVMValueRef f = LLVMGetFirstFunction(p->mod); f; f = LLVMGetNextFunction(f))
        if (f != p->fn && !LLVMIsDeclaration(f)) LLVMSetLinkage(f, LLVMInternalLinkage);
    for (LLVMValueRef v = LLVMGetFirstGlobal(p->mod); v; v = LLVMGetNextGlobal(v))
        if (v != p->smem && !LLVMIsDeclaration(v)) LLVMSetLinkage(v, LLVMInternalLinkage);
    return TJ_OK;
}

typedef struct px_out {
    char *ptx, *ir;
} px_out;

/* Build, optimize and (when want_ptx) generate. */
static tj_status run(const tj_graph *g, const char *arch, const int64_t *sym_vals, int want_ptx,
                     px_out *out, emit_launch *launch) {
    pthread_once(&init_once, init_llvm);
    if (!nvptx) return tj_set_error(TJ_ERR_UNSUPPORTED, "LLVM has no NVPTX target: %s", init_error);
    int sm = arch_sm(arch);
    if (!sm)
        return tj_set_error(TJ_ERR_UNSUPPORTED,
                            "emit ptx: arch '%s' is not one LLVM 19's NVPTX back end targets "
                            "(sm_80 sm_86 sm_87 sm_89 sm_90 sm_90a)", arch ? arch : "(null)");
    tj_status st = tj_graph_verify(g);
    if (st != TJ_OK) return st;
    if (g->ntensors + g->nscalars + g->nsyms > EMIT_MAX_PARAMS)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "graph '%s' has more than %d kernel parameters",
                            g->name, EMIT_MAX_PARAMS);
    char hash[65];
    if ((st = tj_graph_hash(g, hash)) != TJ_OK) return st;
    double t0 = now_s();
    memset(&last_times, 0, sizeof last_times);

    px P = {0};
    px *p = &P;
    emit_launch local;
    emit_launch *L = launch ? launch : &local;
    memset(L, 0, sizeof *L);
    p->g = g;
    p->sym = sym_vals;
    p->arch = arch;
    p->sm = sm;
    size_t nn = (size_t)g->nnodes + 1, ntens = (size_t)g->ntensors + 1;
    p->shapes = calloc(nn, sizeof *p->shapes);
    p->store = calloc(nn, sizeof *p->store);
    p->live = calloc(nn, 1);
    p->nuse = calloc(nn, sizeof *p->nuse);
    p->grp = calloc(nn, sizeof *p->grp);
    p->val = calloc(nn, sizeof *p->val);
    p->stored = calloc(ntens, 1);
    p->tparam = calloc(ntens, sizeof *p->tparam);
    p->tdim = calloc(ntens, sizeof *p->tdim);
    p->symv = calloc((size_t)g->nsyms + 1, sizeof *p->symv);
    LLVMTargetMachineRef tm = NULL;
    if (!p->shapes || !p->store || !p->live || !p->nuse || !p->grp || !p->val || !p->stored || !p->tparam || !p->tdim || !p->symv) {
        st = tj_set_error(TJ_ERR_NO_MEMORY, "emit ptx: out of memory");
        goto done;
    }
    if ((st = px_prepare(p)) != TJ_OK) goto done;

    p->ctx = LLVMContextCreate();
    char modname[128];
    snprintf(modname, sizeof modname, "tj_%s", g->name);
    p->mod = LLVMModuleCreateWithNameInContext(modname, p->ctx);
    tm = LLVMCreateTargetMachine(nvptx, "nvptx64-nvidia-cuda", arch, "", LLVMCodeGenLevelAggressive,
                                 LLVMRelocDefault, LLVMCodeModelDefault);
    LLVMSetTarget(p->mod, "nvptx64-nvidia-cuda");
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(p->mod, td);
    LLVMDisposeTargetData(td);
    /* A header like the CUDA path's, carried into the PTX as comments. */
    char head[1024];
    int hl = snprintf(head, sizeof head, "// tilejit generic kernel for graph '%s' (%s), via LLVM\n"
                      "// graph sha256 %s\n// bindings:", g->name, arch, hash);
    for (int s = 0; s < g->nsyms && hl < (int)sizeof head - 80; s++) {
        if (sym_vals && sym_vals[s] != TJ_UNBOUND)
            hl += snprintf(head + hl, sizeof head - (size_t)hl, " %s=%lld", g->syms[s].name, (long long)sym_vals[s]);
        else
            hl += snprintf(head + hl, sizeof head - (size_t)hl, " %s", g->syms[s].name);
    }
    LLVMSetModuleInlineAsm2(p->mod, head, strlen(head));
    p->t_f32 = LLVMFloatTypeInContext(p->ctx);
    p->t_half = LLVMHalfTypeInContext(p->ctx);
    p->t_i1 = LLVMInt1TypeInContext(p->ctx);
    p->t_i8 = LLVMInt8TypeInContext(p->ctx);
    p->t_i16 = LLVMInt16TypeInContext(p->ctx);
    p->t_i32 = LLVMInt32TypeInContext(p->ctx);
    p->t_i64 = LLVMInt64TypeInContext(p->ctx);
    p->t_ptr = LLVMPointerTypeInContext(p->ctx, 0);
    p->t_void = LLVMVoidTypeInContext(p->ctx);
    p->md_loop = LLVMGetMDKindIDInContext(p->ctx, "llvm.loop", 9);
    p->b = LLVMCreateBuilderInContext(p->ctx);
    p->ab = LLVMCreateBuilderInContext(p->ctx);
    build_kernel(p, L);
    if (p->err != TJ_OK) {
        st = p->err;
        goto done;
    }
    p->smem_bytes = (p->smem_bytes + 15) & ~(size_t)15;
    if (p->smem_bytes > emit_smem_limit(arch)) {
        st = tj_set_error(TJ_ERR_UNSUPPORTED,
                          "graph '%s' needs %zu bytes of shared memory on the generic path; %s "
                          "allows %zu (use smaller tiles)",
                          g->name, p->smem_bytes, arch, emit_smem_limit(arch));
        goto done;
    }
    if (p->uses_libdevice && (st = link_libdevice(p)) != TJ_OK) goto done;
    char *msg = NULL;
    if (LLVMVerifyModule(p->mod, LLVMReturnStatusAction, &msg)) {
        st = tj_set_error(TJ_ERR_INTERNAL, "emit ptx (graph '%s'): LLVM rejects the module: %.600s",
                          g->name, msg ? msg : "");
        LLVMDisposeMessage(msg);
        goto done;
    }
    LLVMDisposeMessage(msg);
    double t1 = now_s();
    last_times.build = t1 - t0;
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef perr = LLVMRunPasses(p->mod, p->uses_libdevice ? "globaldce,default<O3>" : "default<O3>", tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (perr) {
        char *em = LLVMGetErrorMessage(perr);
        st = tj_set_error(TJ_ERR_INTERNAL, "emit ptx (graph '%s'): LLVM passes failed: %s", g->name, em);
        LLVMDisposeErrorMessage(em);
        goto done;
    }
    double t2 = now_s();
    last_times.optimize = t2 - t1;
    if (!want_ptx) {
        out->ir = LLVMPrintModuleToString(p->mod);
        char *copy = out->ir ? strdup(out->ir) : NULL;
        LLVMDisposeMessage(out->ir);
        out->ir = copy;
        st = copy ? TJ_OK : tj_set_error(TJ_ERR_NO_MEMORY, "emit ptx: out of memory");
        goto done;
    }
    LLVMMemoryBufferRef mb = NULL;
    char *cerr = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, p->mod, LLVMAssemblyFile, &cerr, &mb)) {
        st = tj_set_error(TJ_ERR_INTERNAL, "emit ptx (graph '%s'): NVPTX code generation failed: %s",
                          g->name, cerr ? cerr : "");
        LLVMDisposeMessage(cerr);
        goto done;
    }
    size_t len = LLVMGetBufferSize(mb);
    out->ptx = malloc(len + 1);
    if (out->ptx) {
        memcpy(out->ptx, LLVMGetBufferStart(mb), len);
        out->ptx[len] = '\0';
    }
    LLVMDisposeMemoryBuffer(mb);
    last_times.codegen = now_s() - t2;
    if (!out->ptx) {
        st = tj_set_error(TJ_ERR_NO_MEMORY, "emit ptx: out of memory");
        goto done;
    }
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    snprintf(L->schedule, sizeof L->schedule, "generic");
    L->threads = p->nt;
    L->smem_bytes = p->smem_bytes;
    st = TJ_OK;
done:
    if (p->b) LLVMDisposeBuilder(p->b);
    if (p->ab) LLVMDisposeBuilder(p->ab);
    if (p->mod) LLVMDisposeModule(p->mod);
    if (tm) LLVMDisposeTargetMachine(tm);
    if (p->ctx) LLVMContextDispose(p->ctx);
    free(p->shapes);
    free(p->store);
    free(p->live);
    free(p->nuse);
    free(p->grp);
    free(p->val);
    free(p->stored);
    free(p->tparam);
    free(p->tdim);
    free(p->symv);
    return st;
}

static tj_status check_args(const tj_graph *g, const char *force, const void *out) {
    if (!g || !out)
        return tj_set_error(TJ_ERR_INVALID_ARG, "emit ptx: %s is NULL", !g ? "graph" : "output");
    if (force && strcmp(force, "generic"))
        return tj_set_error(TJ_ERR_UNSUPPORTED,
                            "emit ptx: the LLVM back end has only the generic lowering, not "
                            "schedule '%s'", force);
    return TJ_OK;
}

tj_status emit_ptx(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                   const char *force, char **ptx, emit_launch *launch) {
    tj_status st = check_args(g, force, ptx);
    if (st != TJ_OK) return st;
    *ptx = NULL;
    px_out out = {0};
    st = run(g, arch, sym_vals, 1, &out, launch);
    if (st == TJ_OK) *ptx = out.ptx;
    return st;
}

tj_status emit_ptx_llvm_ir(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                           char **ir) {
    tj_status st = check_args(g, NULL, ir);
    if (st != TJ_OK) return st;
    *ir = NULL;
    px_out out = {0};
    st = run(g, arch, sym_vals, 0, &out, NULL);
    if (st == TJ_OK) *ir = out.ir;
    return st;
}
