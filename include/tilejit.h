/*
 * tilejit.h — the whole public contract of tilejit (C11 ABI).
 *
 * tilejit turns tile-op graphs into shape-specialized NVIDIA GPU kernels.
 * A graph describes what one thread block (a "program") does to tiles of
 * its tensors. This header covers building graphs, their canonical text
 * form, verification, the CPU reference interpreter and the built-in
 * recipes.
 *
 * Conventions (SQLite-style):
 *  - Every call that can fail returns a tj_status; tj_last_error() gives a
 *    per-thread message for the last failure, naming the node (and the text
 *    line, for parsed graphs) and the rule broken.
 *  - Builder calls that create values return a handle (tj_val, tj_tensor,
 *    tj_sym). On bad input they return a handle with id TJ_NONE_ID, set
 *    tj_last_error(), and record the first such error in the graph:
 *    tj_graph_status() returns it and tj_graph_verify() fails with it.
 *    Passing a TJ_NONE handle on to another builder call is itself an
 *    error, so a chain of calls can be checked once at the end.
 *  - Ownership: a tj_graph owns every node, name and string it hands out;
 *    tj_graph_free() releases all of it. Strings returned as `char **out`
 *    are malloc'd and owned by the caller (free with tj_free).
 *  - No call aborts or exits the process on bad input.
 */
#ifndef TILEJIT_H
#define TILEJIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TJ_VERSION_MAJOR 0
#define TJ_VERSION_MINOR 1
#define TJ_VERSION_PATCH 0
#define TJ_VERSION_STRING "0.1.0"
#define TJ_VERSION_NUMBER (TJ_VERSION_MAJOR * 10000 + TJ_VERSION_MINOR * 100 + TJ_VERSION_PATCH)

/* ------------------------------------------------------------------ */
/* Status and errors                                                  */
/* ------------------------------------------------------------------ */

typedef enum tj_status {
    TJ_OK = 0,
    TJ_ERR_INVALID_ARG,   /* a NULL handle, an out-of-range value, a bad option */
    TJ_ERR_NO_MEMORY,     /* an allocation failed */
    TJ_ERR_PARSE,         /* the text form could not be parsed */
    TJ_ERR_VERIFY,        /* the graph breaks a rule (shape, dtype, scope...) */
    TJ_ERR_UNBOUND,       /* a symbol has no value where one is needed */
    TJ_ERR_IO,            /* a file could not be read or written */
    TJ_ERR_UNSUPPORTED,   /* valid, but not supported by this path or build */
    TJ_ERR_COMPILE,       /* NVRTC (or another compiler) failed; log attached */
    TJ_ERR_DRIVER,        /* the CUDA driver failed or is missing */
    TJ_ERR_INTERNAL       /* a bug in tilejit: please report it */
} tj_status;

/* Message for the last failed call on this thread ("" when none).
 * Valid until the next tilejit call on this thread. */
const char *tj_last_error(void);
/* Short name of a status code ("TJ_ERR_VERIFY"); never NULL. */
const char *tj_status_name(tj_status s);
/* Run-time version string, e.g. "0.1.0". */
const char *tj_version(void);
int tj_version_number(void);
/* Free a string or buffer that tilejit allocated for the caller. */
void tj_free(void *p);

/* ------------------------------------------------------------------ */
/* Data types                                                         */
/* ------------------------------------------------------------------ */

typedef enum tj_dtype {
    TJ_F32 = 0,
    TJ_F16,
    TJ_BF16,
    TJ_F8E4M3,   /* fp8 e4m3fn (no infinities, 448 max) */
    TJ_F8E5M2,   /* fp8 e5m2 */
    TJ_I32,
    TJ_I64,
    TJ_BOOL,     /* one byte, 0 or 1 */
    TJ_F64,      /* interpreter and scalars only: not a tensor dtype */
    TJ_DTYPE_COUNT
} tj_dtype;

const char *tj_dtype_name(tj_dtype t);   /* "bf16"; NULL when out of range */
size_t tj_dtype_size(tj_dtype t);        /* bytes per element; 0 when out of range */
/* Parse "bf16", "f8e4m3", ...; TJ_ERR_INVALID_ARG when unknown. */
tj_status tj_dtype_from_name(const char *name, tj_dtype *out);
/* Convert n elements between dtypes (round to nearest even; saturating
 * for fp8 e4m3, integer conversion truncates toward zero). Host buffers. */
tj_status tj_convert(tj_dtype dst_type, void *dst, tj_dtype src_type,
                     const void *src, size_t n);

/* ------------------------------------------------------------------ */
/* Handles                                                            */
/* ------------------------------------------------------------------ */

typedef struct tj_graph tj_graph;               /* opaque; owns all nodes */

#define TJ_NONE_ID (-1)
typedef struct tj_val    { int32_t id; } tj_val;    /* a tile or scalar value */
typedef struct tj_tensor { int32_t id; } tj_tensor; /* a tensor argument */
typedef struct tj_sym    { int32_t id; } tj_sym;    /* a symbolic dimension */

#define TJ_NONE ((tj_val){TJ_NONE_ID})
static inline int tj_val_ok(tj_val v) { return v.id >= 0; }

/* A dimension: a non-negative constant, or a symbol encoded by tj_dim_sym.
 * Used for tensor shapes, strides and tile shapes. */
typedef int64_t tj_dim;
static inline tj_dim tj_dim_sym(tj_sym s) { return -(tj_dim)s.id - 2; }
static inline int tj_dim_is_sym(tj_dim d) { return d <= -2; }
static inline tj_sym tj_dim_symbol(tj_dim d) { tj_sym s = {(int32_t)(-d - 2)}; return s; }

#define TJ_MAX_RANK 5        /* tensors */
#define TJ_MAX_TILE_RANK 2   /* tiles */
#define TJ_MAX_GRID 3
#define TJ_MAX_CARRIED 32    /* loop-carried values per loop */
#define TJ_MAX_DIM ((int64_t)1 << 40)   /* largest dimension accepted */

/* ------------------------------------------------------------------ */
/* Graphs                                                             */
/* ------------------------------------------------------------------ */

/* Create an empty graph. `name` is an identifier ([A-Za-z_][A-Za-z0-9_]*). */
tj_status tj_graph_new(const char *name, tj_graph **out);
void tj_graph_free(tj_graph *g);                /* NULL is fine */
const char *tj_graph_name(const tj_graph *g);
/* The first builder error recorded in g (TJ_OK when none); its message is
 * also given by tj_graph_error(). */
tj_status tj_graph_status(const tj_graph *g);
const char *tj_graph_error(const tj_graph *g);  /* "" when none */

/* Symbols: named dimensions with a specialization policy. */
typedef enum tj_policy {
    TJ_EXACT = 0,         /* the value is baked into the kernel */
    TJ_BUCKET_POW2,       /* rounded up to a power of two; true value passed */
    TJ_BUCKET_MULTIPLE,   /* rounded up to a multiple of `bucket` */
    TJ_DYNAMIC            /* never baked; may not size a tile */
} tj_policy;
/* `bucket`: the multiple for TJ_BUCKET_MULTIPLE (> 0), else 0.
 * `divisor`: declared divisibility of every value bound (>= 1; 1 = none). */
tj_sym tj_symbol(tj_graph *g, const char *name, tj_policy policy,
                 int64_t bucket, int64_t divisor);
tj_sym tj_find_symbol(const tj_graph *g, const char *name); /* id -1 if absent */
int tj_num_symbols(const tj_graph *g);
const char *tj_symbol_name(const tj_graph *g, tj_sym s);
tj_policy tj_symbol_policy(const tj_graph *g, tj_sym s);
/* The value a symbol is specialized to for a bound value: itself (EXACT,
 * DYNAMIC) or its bucket. 0 on bad input (value < 0 or bad symbol). */
int64_t tj_symbol_specialize(const tj_graph *g, tj_sym s, int64_t value);

/* Tensor arguments, in kernel-argument order. `dims` has `rank` entries
 * (rank 0..5), constants or tj_dim_sym(); `strides` (in elements) likewise,
 * or NULL for row-major. */
tj_tensor tj_tensor_arg(tj_graph *g, const char *name, tj_dtype dtype, int rank,
                        const tj_dim *dims, const tj_dim *strides);
/* Declare that the tensor's base pointer is aligned to `bytes` (power of
 * two, >= the element size). Default: the element size. */
tj_status tj_tensor_set_align(tj_graph *g, tj_tensor t, int bytes);
int tj_num_tensors(const tj_graph *g);
const char *tj_tensor_name(const tj_graph *g, tj_tensor t);
tj_dtype tj_tensor_dtype(const tj_graph *g, tj_tensor t);
int tj_tensor_rank(const tj_graph *g, tj_tensor t);
tj_dim tj_tensor_dim(const tj_graph *g, tj_tensor t, int axis);
tj_dim tj_tensor_stride(const tj_graph *g, tj_tensor t, int axis);

/* Scalar kernel arguments (e.g. a softmax scale), in argument order,
 * after the tensors. Returns the scalar as a value usable in tile math. */
tj_val tj_scalar_arg(tj_graph *g, const char *name, tj_dtype dtype);
int tj_num_scalars(const tj_graph *g);
const char *tj_scalar_name(const tj_graph *g, int index);
tj_dtype tj_scalar_dtype(const tj_graph *g, int index);

/* Give a value a name (an identifier) used by the text form and by the
 * generated code. Names must be unique within a graph. */
tj_status tj_name(tj_graph *g, tj_val v, const char *name);

/* Type of a value: dtype, rank (0 = scalar, 1, 2) and dims. */
tj_status tj_val_type(const tj_graph *g, tj_val v, tj_dtype *dtype, int *rank,
                      tj_dim dims[TJ_MAX_TILE_RANK]);

/* ------------------------------------------------------------------ */
/* Values: scalars, constants, program ids                            */
/* ------------------------------------------------------------------ */

/* A scalar constant (integers are exact up to 2^53). */
tj_val tj_const(tj_graph *g, tj_dtype dtype, double value);
/* A tile filled with a constant. */
tj_val tj_full(tj_graph *g, tj_dtype dtype, int rank, const tj_dim *dims, double value);
/* The run-time value of a symbol (i32 scalar): its true bound value,
 * not its bucket. Bound values are 1 .. INT32_MAX. */
tj_val tj_symval(tj_graph *g, tj_sym s);
/* This program's index along grid axis 0..2, and the grid size (i32). */
tj_val tj_program_id(tj_graph *g, int axis);
tj_val tj_num_programs(tj_graph *g, int axis);
/* A tile whose element is its index along `axis` (i32 or i64). */
tj_val tj_iota(tj_graph *g, tj_dtype dtype, int rank, const tj_dim *dims, int axis);

/* ------------------------------------------------------------------ */
/* Memory                                                             */
/* ------------------------------------------------------------------ */

/* Load flags. */
#define TJ_COORD_ELEMENT 1u   /* coords are element offsets, not tile indices */

/* Load a tile of `tile_rank` (0..2) dims from tensor t. `coords` has one
 * integer scalar per tensor dim. `axes` names the tensor dims the tile's
 * axes cover, in increasing order (NULL: the last tile_rank dims). For a
 * tiled axis the coordinate is a tile index (element offset = coord *
 * tile dim) unless TJ_COORD_ELEMENT; for the others an element index.
 * Elements outside the tensor read as `pad`. The tile has the tensor's
 * dtype. */
tj_val tj_load(tj_graph *g, tj_tensor t, const tj_val *coords, int tile_rank,
               const tj_dim *tile_dims, const int *axes, double pad, unsigned flags);
/* Store `value` (dtype converted to the tensor's on store, rounding to
 * nearest even) as a tile at coords; elements outside the tensor are
 * skipped. Same coordinate rules as tj_load; the tile shape is value's. */
tj_status tj_store(tj_graph *g, tj_tensor t, const tj_val *coords, tj_val value,
                   const int *axes, unsigned flags);
/* tj_store writing only the elements where `mask` (a bool tile that
 * broadcasts to value's shape, or a bool scalar) is true: for tiles that
 * straddle the end of a sequence packed among others (variable-length
 * batches), where "outside the tensor" is not the bound. */
tj_status tj_store_masked(tj_graph *g, tj_tensor t, const tj_val *coords, tj_val value,
                          tj_val mask, const int *axes, unsigned flags);

/* ------------------------------------------------------------------ */
/* Compute                                                            */
/* ------------------------------------------------------------------ */

#define TJ_TRANS_A 1u
#define TJ_TRANS_B 2u
/* acc + op(a) · op(b) with f32 accumulation. a, b: 2-D tiles of the same
 * dtype (f16, bf16, f32, f8e4m3, f8e5m2); acc: f32 [M,N] tile or TJ_NONE
 * for zeros. op(x) = x, or its transpose with TJ_TRANS_A / TJ_TRANS_B.
 * Result: f32 [M,N]. */
tj_val tj_mma(tj_graph *g, tj_val a, tj_val b, tj_val acc, unsigned flags);

typedef enum tj_unop {
    TJ_NEG = 0, TJ_ABS, TJ_EXP, TJ_EXP2, TJ_LOG, TJ_LOG2, TJ_SQRT, TJ_RSQRT,
    TJ_RECIP, TJ_SIN, TJ_COS, TJ_TANH, TJ_SIGMOID, TJ_SILU, TJ_GELU,
    TJ_GELU_TANH, TJ_RELU, TJ_FLOOR, TJ_CEIL, TJ_NOT,
    TJ_UNARY_COUNT
} tj_unop;
typedef enum tj_binop {
    TJ_ADD = 0, TJ_SUB, TJ_MUL, TJ_DIV, TJ_MAX, TJ_MIN, TJ_POW, TJ_MOD,
    TJ_CDIV,      /* integer ceiling division */
    TJ_AND, TJ_OR, TJ_XOR,
    TJ_EQ, TJ_NE, TJ_LT, TJ_LE, TJ_GT, TJ_GE,   /* comparisons give bool */
    TJ_BINARY_COUNT
} tj_binop;
typedef enum tj_redop { TJ_SUM = 0, TJ_RMAX, TJ_RMIN, TJ_REDUCE_COUNT } tj_redop;

const char *tj_unary_name(tj_unop op);
const char *tj_binary_name(tj_binop op);
const char *tj_reduce_name(tj_redop op);

/* Elementwise math. Operands broadcast numpy-style (ranks aligned on the
 * right; each dim equal or 1; scalars broadcast to anything), so a [M,1]
 * column vector or a [N] / [1,N] row vector applies to a [M,N] tile.
 * Binary operands must have the same dtype (cast first); the result has
 * it (bool for comparisons). Float math on integer tiles is an error. */
tj_val tj_unary(tj_graph *g, tj_unop op, tj_val x);
tj_val tj_binary(tj_graph *g, tj_binop op, tj_val a, tj_val b);
tj_val tj_where(tj_graph *g, tj_val cond, tj_val a, tj_val b);   /* cond: bool */
tj_val tj_fma(tj_graph *g, tj_val a, tj_val b, tj_val c);        /* a*b+c */
tj_val tj_cast(tj_graph *g, tj_val x, tj_dtype dtype);
/* Reduce along `axis`; the reduced dim is kept with size 1. */
tj_val tj_reduce(tj_graph *g, tj_redop op, tj_val x, int axis);
tj_val tj_transpose(tj_graph *g, tj_val x);                      /* 2-D only */
/* Same elements, new shape (element counts must agree). */
tj_val tj_reshape(tj_graph *g, tj_val x, int rank, const tj_dim *dims);
/* Broadcast to a shape explicitly (numpy rules). */
tj_val tj_broadcast(tj_graph *g, tj_val x, int rank, const tj_dim *dims);

/* Shorthands that read like the math. */
static inline tj_val tj_add(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_ADD, a, b); }
static inline tj_val tj_sub(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_SUB, a, b); }
static inline tj_val tj_mul(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_MUL, a, b); }
static inline tj_val tj_div(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_DIV, a, b); }
static inline tj_val tj_maximum(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_MAX, a, b); }
static inline tj_val tj_minimum(tj_graph *g, tj_val a, tj_val b) { return tj_binary(g, TJ_MIN, a, b); }
static inline tj_val tj_exp(tj_graph *g, tj_val x) { return tj_unary(g, TJ_EXP, x); }
static inline tj_val tj_sum(tj_graph *g, tj_val x, int axis) { return tj_reduce(g, TJ_SUM, x, axis); }
static inline tj_val tj_rowmax(tj_graph *g, tj_val x) { return tj_reduce(g, TJ_RMAX, x, 1); }
static inline tj_val tj_rowsum(tj_graph *g, tj_val x) { return tj_reduce(g, TJ_SUM, x, 1); }

/* ------------------------------------------------------------------ */
/* Loops                                                              */
/* ------------------------------------------------------------------ */

/* for i in [lo, hi) step `step` (integer scalars of one dtype, which the
 * induction variable has; step > 0 at run time; hi may depend on
 * program ids, e.g. a causal bound) with `n` loop-carried values starting
 * at init[]. Writes the induction variable to *iv and the carried values
 * as seen inside the body to carried[]. Ops built until the matching
 * tj_for_end go into the body. Loops nest. */
tj_status tj_for_begin(tj_graph *g, tj_val lo, tj_val hi, tj_val step, int n,
                       const tj_val *init, tj_val *iv, tj_val *carried);
/* Close the innermost loop: next[] are the carried values for the next
 * iteration (same types as init); results[] receive the values after the
 * loop. */
tj_status tj_for_end(tj_graph *g, int n, const tj_val *next, tj_val *results);

/* ------------------------------------------------------------------ */
/* Grid                                                               */
/* ------------------------------------------------------------------ */

/* The launch grid: 1..3 integer scalars computed only from constants and
 * symbols (not from program ids or loads). */
tj_status tj_set_grid(tj_graph *g, int n, const tj_val *dims);

/* ------------------------------------------------------------------ */
/* Verification and text form                                         */
/* ------------------------------------------------------------------ */

/* Check every rule a kernel needs. TJ_ERR_VERIFY with a message naming the
 * node (%name or %N as printed, plus the text line when parsed) and rule. */
tj_status tj_graph_verify(const tj_graph *g);

/* The canonical text form (.tj). Stable: the same graph prints the same
 * bytes whatever order independent ops were built in. *out is malloc'd
 * (free with tj_free). */
tj_status tj_graph_print(const tj_graph *g, char **out);
/* Parse text into a new graph (verified). `source` names the input in
 * messages ("attention.tj" or "<stdin>"); may be NULL. */
tj_status tj_graph_parse(const char *text, size_t len, const char *source, tj_graph **out);
/* SHA-256 of the canonical text, as 64 lowercase hex digits + NUL. */
tj_status tj_graph_hash(const tj_graph *g, char out[65]);

/* ------------------------------------------------------------------ */
/* Symbol bindings and the CPU reference interpreter                  */
/* ------------------------------------------------------------------ */

/* Values for a graph's symbols, indexed by symbol id; TJ_UNBOUND marks a
 * symbol with no value. */
#define TJ_UNBOUND INT64_MIN

/* Parse "name=value" into vals[] (sized tj_num_symbols). */
tj_status tj_bind_parse(const tj_graph *g, const char *assignment, int64_t *vals);
/* Evaluate the grid for bound symbols. */
tj_status tj_graph_grid(const tj_graph *g, const int64_t *sym_vals, int64_t grid[TJ_MAX_GRID]);
/* Evaluate a tensor's shape and strides (elements) for bound symbols. */
tj_status tj_tensor_shape(const tj_graph *g, tj_tensor t, const int64_t *sym_vals,
                          int64_t *dims, int64_t *strides);
/* Number of elements a buffer for tensor t must span (max offset + 1). */
tj_status tj_tensor_extent(const tj_graph *g, tj_tensor t, const int64_t *sym_vals,
                           int64_t *elements);

#define TJ_INTERP_F64 1u   /* compute in f64 instead of f32 */
/* Run the graph on the CPU: for every program of the grid, in order.
 * tensors[i] points to host memory of tensor i's dtype (bf16/f16 as their
 * 16-bit patterns, fp8 as bytes) laid out by its strides; scalars[i] is
 * scalar argument i. Computes in f32 (f64 with TJ_INTERP_F64), rounding to
 * each dtype where the graph stores or casts. */
tj_status tj_interp_run(const tj_graph *g, const int64_t *sym_vals,
                        void *const *tensors, const double *scalars, unsigned flags);

/* ------------------------------------------------------------------ */
/* Code generation                                                    */
/* ------------------------------------------------------------------ */

/* The CUDA C++ of the generic lowering of g for `arch` ("sm_80" ...
 * "sm_90a"), specialized at sym_vals (may be NULL): exact symbols with a
 * value are baked, bucketed ones size tiles by their bucket; a symbol
 * without a value (TJ_UNBOUND) is a kernel parameter, which is an error
 * only when it sizes a tile. The
 * source includes "tj/generic.cuh" (the embedded templates). *source is
 * malloc'd (tj_free). Works with no GPU and no CUDA library. */
tj_status tj_emit_cuda(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                       char **source);

#define TJ_COMPILE_IN_CHILD 1u   /* compile in a forked child: a compiler
                                    crash becomes TJ_ERR_COMPILE */
#define TJ_COMPILE_BACKEND_LLVM 2u  /* the LLVM back end instead of NVRTC: the
                                    same generic kernel built as LLVM IR, PTX
                                    from LLVM's NVPTX, a cubin from nvJitLink
                                    (or, without nvJitLink, the PTX itself as
                                    the image: the driver compiles it at
                                    load). TJ_ERR_UNSUPPORTED in a library
                                    built without LLVM. IN_CHILD does not
                                    apply (LLVM runs in this process). */
/* Emit (as tj_emit_cuda) and compile with NVRTC (loaded with dlopen) to a
 * cubin for `arch`. *cubin is malloc'd (tj_free); *log (may be NULL) gets
 * NVRTC's log, also on failure (tj_free). TJ_ERR_UNSUPPORTED when NVRTC
 * cannot be found; TJ_ERR_COMPILE with the log's head in tj_last_error()
 * when it fails. Needs no GPU. */
tj_status tj_compile(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                     unsigned flags, void **cubin, size_t *size, char **log);

/* ------------------------------------------------------------------ */
/* Runtime: kernels specialized and cached at launch                  */
/* ------------------------------------------------------------------ */

/* A tj_kernel is a graph made launchable: each launch computes the
 * specialization key from the symbol values (exact: the value; bucketed:
 * the bucket; dynamic: nothing), finds the compiled function for it — in
 * memory, then in bundles, then in the disk cache, else compiling with
 * NVRTC — and launches it on the caller's stream in the caller's current
 * context (the device's primary context when there is none). A hit
 * allocates nothing, takes no lock and touches no file. Thread-safe: any
 * number of threads may launch one kernel at once. */
typedef struct tj_kernel tj_kernel;

#define TJ_KERNEL_BACKGROUND   1u  /* a new specialization compiles in a
                                      background thread; until it is ready
                                      launches use the graph's dynamic-shape
                                      variant (symbols that size no tile
                                      become parameters; those that size a
                                      tile keep their specialization, so a
                                      new value of one compiles in the
                                      foreground) */
#define TJ_KERNEL_NO_COMPILE   2u  /* a miss is an error naming the key (as
                                      TILEJIT_NO_COMPILE=1); NVRTC is never
                                      loaded */
#define TJ_KERNEL_IN_CHILD     4u  /* compile in a forked child */
#define TJ_KERNEL_TIERED       8u  /* a miss whose kernel gets a fast schedule
                                      that no bundle or cache holds launches
                                      the generic lowering of the same
                                      specialization (a quicker compile) and
                                      compiles the fast kernel in a
                                      background thread; later launches
                                      switch to it once it is loaded (as
                                      TILEJIT_TIERED=1; no effect with
                                      TJ_KERNEL_NO_COMPILE) */

typedef struct tj_kernel_options {
    const char *arch;        /* NULL: the current device's ("sm_90a") */
    unsigned flags;          /* TJ_KERNEL_* */
    const char *cache_dir;   /* NULL: $TILEJIT_CACHE_DIR, else
                                $XDG_CACHE_HOME/tilejit, else
                                ~/.cache/tilejit; "" : memory only */
} tj_kernel_options;

/* Make a kernel of g (copied: g may be freed after). opt may be NULL. */
tj_status tj_kernel_create(const tj_graph *g, const tj_kernel_options *opt, tj_kernel **out);
/* Waits for background compiles; NULL is fine. */
void tj_kernel_destroy(tj_kernel *k);
/* Launch. tensors[i]: device pointer of tensor i (CUdeviceptr); scalars[i]:
 * scalar argument i; sym_vals[s]: symbol s's value (all bound); stream: a
 * CUstream or NULL. Checks the values (divisibility, range) before any
 * launch. */
tj_status tj_kernel_launch(tj_kernel *k, const uint64_t *tensors, const double *scalars,
                           const int64_t *sym_vals, void *stream);

/* Make the specialization for sym_vals ready without launching: found in
 * memory, a bundle or the disk cache, else compiled, then loaded, so a
 * later launch with those values is a hit. For serving systems that know
 * the lengths they will see: warm-up with no data and no stream. With
 * TJ_KERNEL_BACKGROUND the compile goes to the background workers and
 * this returns at once (launches until it is ready use the dynamic
 * variant; tj_kernel_destroy waits for it). With TJ_KERNEL_TIERED the fast
 * kernel is the one prepared (no generic tier). A kernel over graphs by a
 * symbol prepares the graph serving the value. Loading needs the device,
 * as a launch does; a compile lands in the disk cache either way. Counts
 * as the key's miss in the statistics. */
tj_status tj_kernel_prepare(tj_kernel *k, const int64_t *sym_vals);

typedef struct tj_kernel_stats {
    uint64_t launches, hits, misses;   /* misses: first launches of a key */
    uint64_t compiles, disk_hits, bundle_hits;
    uint64_t fallback_launches;        /* dynamic variant while compiling */
    double compile_seconds;            /* total NVRTC time */
    uint64_t cubin_bytes;              /* of every cubin loaded */
    int specializations;               /* loaded now */
    uint64_t tier0_launches;           /* TJ_KERNEL_TIERED: launches of the generic
                                          kernel while the fast one compiles */
    uint64_t tier_upgrades;            /* fast kernels that replaced a generic one */
} tj_kernel_stats;
tj_status tj_kernel_stats_get(const tj_kernel *k, tj_kernel_stats *out);

/* One kernel over several graphs, each serving a range of one symbol's
 * values: tile shapes chosen by sequence length (tj_recipe_attention_by_
 * length gives the attention recipe's). graphs[i] serves the values up to
 * upto[i] and above upto[i-1]; the last graph every value above upto[n-2]
 * (upto has n - 1 entries, strictly increasing). The graphs must have the
 * same signature: symbols (names, policies), tensors (names, dtypes,
 * ranks) and scalars (names, dtypes), in the same order, so one launch's
 * arguments fit each. Each graph specializes and caches as its own
 * kernel; launches, statistics and destroy cover them all. n in
 * 1..TJ_MAX_VARIANTS. */
#define TJ_MAX_VARIANTS 8
tj_status tj_kernel_create_by_symbol(const tj_graph *const *graphs, int n, const char *symbol,
                                     const int64_t *upto, const tj_kernel_options *opt,
                                     tj_kernel **out);

/* Search this bundle (from `tilejit prebuild`) before the disk cache, for
 * every kernel of the process. TILEJIT_BUNDLES (':'-separated) adds some
 * at the first kernel creation. */
tj_status tj_add_bundle(const char *path);

/* ------------------------------------------------------------------ */
/* Recipes: built-in graphs, built with this public API only          */
/* ------------------------------------------------------------------ */

/* Each recipe takes parameters as "key=value" strings; unknown keys and
 * bad values are errors. tj_recipe_get() describes them. */
typedef struct tj_recipe_info {
    const char *name;         /* "attention" */
    const char *summary;      /* one line */
    const char *params;       /* "d=128 causal=0 ..." with defaults */
} tj_recipe_info;
int tj_recipe_count(void);
const tj_recipe_info *tj_recipe_get(int index);
tj_status tj_recipe_build(const char *name, int nparams, const char *const *params,
                          tj_graph **out);

/* Attention from C, with a score modifier: the `attention` recipe (see
 * docs/recipes.md) with a hook that puts any elementwise score function
 * into the graph. score_mod is called while the graph is built, inside
 * each loop over KV tiles (the graph has two: the unmasked tiles and the
 * masked ones), and returns the new scores. Its arguments:
 *   scores  f32 [block_m, block_n], q . k^T already times `scale`
 *   q_idx   i32 [block_m, 1]: the query positions (0 .. seq-1)
 *   k_idx   i32 [1, block_n]: the key positions (0 .. seq_kv-1)
 *   head    i32 scalar: the q head
 * It may use any builder call that makes values and must return an f32
 * [block_m, block_n] value; the causal / length mask (-inf) is applied
 * after it. score_setup, when given, runs once before the KV loops, at
 * the top level of the program: the place to declare extra tensors or
 * scalars (they follow the recipe's own) and to compute per-head values
 * that score_mod then uses. The recipe's softcap and alibi are built
 * through this hook. */
typedef tj_val (*tj_score_mod_fn)(tj_graph *g, tj_val scores, tj_val q_idx, tj_val k_idx,
                                  tj_val head, void *user);
typedef tj_status (*tj_score_setup_fn)(tj_graph *g, tj_val head, void *user);
typedef struct tj_attention_params {
    const char *name;           /* graph name; NULL: "attention" */
    int head_dim;               /* d: 64, 128 or 256 */
    int num_q_heads;            /* hq */
    int num_kv_heads;           /* hkv; divides hq (grouped-query attention) */
    int causal;                 /* 1: query i sees keys j <= i + seq_kv - seq */
    int cross;                  /* 1: k/v have their own length symbol seq_kv */
    int lse;                    /* 1: also write lse[batch, hq, seq] (f32, natural log) */
    int block_m, block_n;       /* block_m: a power of two in 16..256, or 192, or 0 (auto:
                                   192 at d 64, else 128); block_n: a
                                   multiple of 16 in 16..256, 0 (the default): 128 up to
                                   d 128, 80 at d 256 (64 with fp8) */
    tj_dtype dtype;             /* q, k, v, o: TJ_BF16, TJ_F16 or TJ_F32; or
                                   TJ_F8E4M3: q, k, v e4m3, o bf16, p rounded
                                   to e4m3 for p . v, and a scalar v_scale
                                   (after scale) multiplying o */
    tj_policy seq_policy;       /* of seq (and seq_kv) */
    int64_t seq_bucket;         /* the multiple for TJ_BUCKET_MULTIPLE, else 0 */
    tj_score_mod_fn score_mod;  /* NULL: scores unchanged */
    tj_score_setup_fn score_setup; /* NULL: none */
    void *user;                 /* passed to score_mod and score_setup */
    int varlen;                 /* 1: a variable-length batch packed as frameworks
                                   pass it: q, o [total_q, hq, d], k, v [total_k,
                                   hkv, d] (total_k = total_q unless cross),
                                   cu_seqlens_q (and cu_seqlens_k when cross)
                                   i32[cu_len] with cu_len = batch + 1, sequence
                                   b's rows [cu[b], cu[b+1]); seq (and seq_kv) is
                                   the longest, for the grid; lse is [hq, total_q] */
    int v_layout;               /* 0: v like k; 1 (recipe key v_layout=t): v given
                                   transposed, keys contiguous, as vt [batch, hkv, d,
                                   seq_kv] (varlen: [hkv, d, total_k]), a strided view
                                   with strides [vt_bstride, vt_hstride, kv_cap, 1]
                                   (varlen: [vt_hstride, kv_cap, 1]), symbols with
                                   divisor 16: e.g. a KV cache [batch, hkv, d, cap]
                                   gives kv_cap = cap, vt_hstride = d cap, vt_bstride
                                   = hkv d cap; keys past seq_kv are never read.
                                   What fp8's sm_90a schedule needs (wgmma takes
                                   8-bit operands K-major only) */
} tj_attention_params;
/* The recipe's defaults: d=128, hq=hkv=8, block 128x64, bf16, seq dynamic,
 * not causal, no hook. */
void tj_attention_params_init(tj_attention_params *p);
tj_status tj_recipe_attention(const tj_attention_params *p, tj_graph **out);
/* The attention recipe's tiles chosen by sequence length: p's graphs at
 * the tiles its auto fields (block_m 0, block_n 0) take at each length, and
 * the lengths they serve, for tj_kernel_create_by_symbol(graphs, *n, "seq",
 * upto, ...). Measured on the H200 (docs/recipes.md): d 64 causal takes
 * 128 query rows up to N 1024 and 192 above; d 256 64 keys up to 1024 and
 * 80 above; d 128 full without a modifier 128 keys up to 4096 and 176
 * above; else one graph. graphs has room for 2, upto for 1; the caller
 * frees the graphs. */
tj_status tj_recipe_attention_by_length(const tj_attention_params *p, tj_graph **graphs,
                                        int64_t *upto, int *n);
/* tj_recipe_build with the recipe's tiles by length, for bindings that
 * pass recipes as text: "attention" gives tj_recipe_attention_by_length's
 * graphs and bounds (*symbol "seq" when there are two), any other recipe
 * one graph (*symbol NULL). graphs has room for 2, upto for 1. */
tj_status tj_recipe_build_by_length(const char *name, int nparams, const char *const *params,
                                    tj_graph **graphs, int64_t *upto, const char **symbol,
                                    int *n);

/* GEMM configurations per shape (docs/recipes.md, "gemm: tiles per
 * shape"). A graph's tiles are static, so the `gemm` recipe's best tile
 * for M x N x K is chosen before it is built: from a tuning record that
 * `tilejit tune` measured on this device and stored in the cache
 * directory, else from a cost model of the sm_90a schedule (gemm_sm90):
 * how well the tiles fill the SMs' waves, the tiles' measured relative
 * rates, split-K where the tiles are few, and whether the shape is bound
 * by the tensor cores or by memory. */
typedef struct tj_gemm_config {
    int bm, bn, bk;   /* the program tile: the recipe's bm, bn, bk */
    int split;        /* blocks of a cluster that split K (1: none): the schedule's
                         own choice at this tile and shape, for information */
    double score;     /* the model's estimate, a fraction of the device's peak
                         (0 where the model has no figures: not sm_90a, f32) */
    int tuned;        /* 1: from a tuning record, 0: from the model */
} tj_gemm_config;
#define TJ_GEMM_MAX_CONFIGS 8
/* The model's candidates for M x N x K with operands of `dtype` on `arch`
 * with sm_count SMs (0: 132, the H100 SXM's and H200's), best first, at
 * most `max` (n gets how many). One candidate (the recipe's defaults) where
 * the fast schedule does not apply (arch not sm_90a, f32 operands). Pure:
 * no device, no files. */
tj_status tj_gemm_config_candidates(const char *arch, int sm_count, int64_t M, int64_t N,
                                    int64_t K, tj_dtype dtype, tj_gemm_config *out, int max,
                                    int *n);
/* The model's best candidate. */
tj_status tj_gemm_config_for(const char *arch, int sm_count, int64_t M, int64_t N, int64_t K,
                             tj_dtype dtype, tj_gemm_config *out);
/* The `gemm` recipe with cfg's tile: params as for tj_recipe_build("gemm"),
 * where bm, bn, bk may only be `auto` (cfg sets them). */
tj_status tj_recipe_gemm_with_config(int nparams, const char *const *params,
                                     const tj_gemm_config *cfg, tj_graph **out);

/* Where a for-shape build looks (NULL fields: the defaults). */
#define TJ_GEMM_UNTUNED 1u   /* ignore tuning records: the model alone (also
                                TILEJIT_NO_TUNED=1) */
typedef struct tj_gemm_target {
    const char *arch;        /* NULL: the current device's */
    const char *device;      /* the device name records are keyed by ("NVIDIA
                                H200"); NULL: the current device's, when there
                                is one and arch is its arch (else the model) */
    int sm_count;            /* 0: the current device's, else 132 */
    const char *cache_dir;   /* the records' directory, as tj_kernel_options.
                                cache_dir (NULL: $TILEJIT_CACHE_DIR ...; "":
                                none) */
    unsigned flags;          /* TJ_GEMM_* */
} tj_gemm_target;
/* The `gemm` recipe built for M x N x K: params as for tj_recipe_build,
 * where bm, bn, bk are chosen (absent or `auto`) or pinned (a number: the
 * choice is made among the candidates with that value). The tile comes
 * from the tuning record for (params, shape, device, arch, SMs, codegen
 * and templates) when there is one, else from the model. target may be
 * NULL (the current device, the default cache). cfg (may be NULL) gets
 * the configuration used. The graph binds nothing: launch it with M, N, K
 * (another shape works, with tiles chosen for this one). */
tj_status tj_recipe_gemm_for_shape(int nparams, const char *const *params, int64_t M, int64_t N,
                                   int64_t K, const tj_gemm_target *target, tj_graph **out,
                                   tj_gemm_config *cfg);

#ifdef __cplusplus
}
#endif
#endif /* TILEJIT_H */
