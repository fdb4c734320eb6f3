/*
 * ir.h — the graph IR behind tilejit.h. Internal to libtilejit.
 *
 * A tj_graph owns an array of nodes (ids are indices, stable for the
 * graph's life) and an arena for everything they point to. Program order
 * lives in regions: the graph's top-level body and each FOR node's body
 * list node ids in the order they were built. Pure nodes may be reordered
 * freely (the canonical printer does); STORE and FOR nodes are effects
 * whose relative order is kept.
 *
 * Region lists hold every node built in the region except the implicit
 * ones: IR_SCALAR_ARG (defined at graph start, parent -1), IR_LOOP_IV and
 * IR_LOOP_CARRIED (defined at the start of their loop's body, parent = the
 * FOR), IR_FOR_RESULT (defined right after their FOR, in its region).
 *
 * A graph whose g->status is not TJ_OK had a builder call fail: it may
 * hold a FOR with yields == NULL or loops left open. Print, verify,
 * interpret and emit check g->status first and refuse such a graph.
 */
#ifndef TJ_IR_H
#define TJ_IR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tilejit.h"

typedef enum ir_op {
    IR_CONST = 0,     /* f = value; type may be a tile (tj_full) */
    IR_SCALAR_ARG,    /* index = scalar argument index */
    IR_SYMVAL,        /* index = symbol id; i32 scalar: the true value */
    IR_PROGRAM_ID,    /* index = grid axis; i32 scalar */
    IR_NUM_PROGRAMS,  /* index = grid axis; i32 scalar */
    IR_IOTA,          /* index = axis */
    IR_LOAD,          /* tensor; in[0..R-1] coords; axes[0..type.rank-1]; f = pad; flags */
    IR_STORE,         /* tensor; in[0..R-1] coords, in[R] value; axes; flags; void */
    IR_MMA,           /* in: a, b[, acc]; flags = TJ_TRANS_*; nin 2 or 3 */
    IR_UNARY,         /* sub = tj_unary */
    IR_BINARY,        /* sub = tj_binary */
    IR_WHERE,         /* in: cond, a, b */
    IR_FMA,           /* in: a, b, c */
    IR_CAST,          /* type.dtype = target */
    IR_REDUCE,        /* sub = tj_reduce; index = axis */
    IR_TRANSPOSE,
    IR_RESHAPE,       /* type = target shape */
    IR_BROADCAST,     /* type = target shape */
    IR_FOR,           /* in: lo, hi, step, init[0..n-1]; see ir_loop; void */
    IR_FOR_RESULT,    /* in[0] = FOR node; index = k */
    IR_LOOP_IV,       /* in[0] = FOR node; scalar of lo's dtype; in the loop body */
    IR_LOOP_CARRIED,  /* in[0] = FOR node; index = k; lives in the loop body */
    IR_OP_COUNT
} ir_op;

/* dtype value marking "no value" (STORE, FOR). */
#define IR_VOID TJ_DTYPE_COUNT

/* A store's flag: in[nin-2] is a bool mask broadcast to the value's shape
 * (tj_store_masked); the value stays in[nin-1]. */
#define IR_STORE_MASKED 0x100u

typedef struct ir_type {
    int dtype;                       /* tj_dtype, or IR_VOID */
    int rank;                        /* 0 (scalar), 1, 2 */
    tj_dim dims[TJ_MAX_TILE_RANK];   /* constants or tj_dim_sym(); unused dims 0 */
} ir_type;

typedef struct ir_loop {
    int32_t *body;       /* node ids in program order (arena-grown) */
    int nbody, capbody;
    int ncarried;
    int32_t iv;          /* IR_LOOP_IV node */
    int32_t *carried;    /* IR_LOOP_CARRIED nodes, ncarried */
    int32_t *yields;     /* next-iteration values, ncarried; NULL until closed */
    int32_t *results;    /* IR_FOR_RESULT nodes, ncarried; NULL until closed */
} ir_loop;

typedef struct ir_node {
    ir_op op;
    int sub;             /* tj_unary / tj_binary / tj_reduce */
    ir_type type;
    int nin;
    int32_t *in;         /* operand node ids (arena) */
    int32_t tensor;      /* LOAD / STORE */
    int axes[TJ_MAX_TILE_RANK];  /* LOAD / STORE: tensor dims the tile covers */
    int index;           /* see ir_op */
    unsigned flags;
    double f;            /* CONST value; LOAD pad */
    int32_t parent;      /* enclosing FOR node, or -1 at top level */
    ir_loop *loop;       /* FOR only */
    const char *name;    /* user name (tj_name) or NULL */
    const char *label;   /* the %label it had in parsed text, or NULL */
    int line;            /* text line it came from, 0 when built by API */
} ir_node;

typedef struct ir_symbol {
    const char *name;
    tj_policy policy;
    int64_t bucket;      /* TJ_BUCKET_MULTIPLE: the multiple */
    int64_t divisor;     /* >= 1 */
    int line;
} ir_symbol;

typedef struct ir_tensor {
    const char *name;
    tj_dtype dtype;
    int rank;
    tj_dim dims[TJ_MAX_RANK];
    tj_dim strides[TJ_MAX_RANK];
    int has_strides;     /* 0: row-major, strides[] derived on demand */
    int align;           /* bytes */
    int line;
} ir_tensor;

typedef struct ir_scalar {
    const char *name;
    tj_dtype dtype;
    int32_t node;        /* its IR_SCALAR_ARG node */
    int line;
} ir_scalar;

/* A bump allocator: chunks freed together with the graph. */
typedef struct ir_arena {
    struct ir_chunk *head;
} ir_arena;

#define IR_MAX_DEPTH 16  /* loop nesting */

struct tj_graph {
    const char *name;
    ir_arena arena;
    ir_node *nodes;
    int nnodes, capnodes;
    ir_symbol *syms;
    int nsyms, capsyms;
    ir_tensor *tensors;
    int ntensors, captensors;
    ir_scalar *scalars;
    int nscalars, capscalars;
    int32_t *body;        /* top-level program order */
    int nbody, capbody;
    int32_t grid[TJ_MAX_GRID];
    int ngrid;
    int grid_line;
    int32_t open_loops[IR_MAX_DEPTH];  /* builder insertion point */
    int depth;
    tj_status status;     /* first builder error */
    char *errmsg;         /* its message (arena) */
    int cur_line;         /* set by the parser: line given to new nodes */
    int32_t adding;       /* the node ir_add is checking, or -1 */
    const char *source;   /* parsed file name, for messages */
};

/* ---- errors (gen/error.c) ------------------------------------------ */

/* Set this thread's tj_last_error() and return `s`. */
tj_status tj_set_error(tj_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
tj_status tj_set_errorv(tj_status s, const char *fmt, va_list ap);
/* Clear this thread's message (a successful public call may do this). */
void tj_clear_error(void);

/* Record a builder error on g (kept if it is the first) and set
 * tj_last_error(). `node` >= 0 prefixes the message with the node's label
 * and its text line when known. Returns `s`. */
tj_status ir_error(tj_graph *g, tj_status s, int32_t node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The status of the last ir_error on this thread (the failure a builder
 * call just hit). */
tj_status ir_last_status(const tj_graph *g);

/* ---- arena and graph storage (gen/graph.c) ------------------------- */

void *ir_alloc(ir_arena *a, size_t size);           /* zeroed; NULL on OOM */
const char *ir_strdup(ir_arena *a, const char *s);
void ir_arena_free(ir_arena *a);
/* Grow a malloc'd array of `elem`-sized items to hold n + 1; 0 on OOM. */
int ir_grow(void **arr, int *cap, int n, size_t elem);

/* ---- names and arguments (gen/args.c) ------------------------------ */

int ir_is_ident(const char *s);   /* [A-Za-z_][A-Za-z0-9_]*, <= 64 chars */
/* TJ_OK when `name` is an identifier not yet used in g; else the error is
 * recorded on g. `what` ("tensor") starts the message. */
tj_status ir_check_new_name(tj_graph *g, const char *what, const char *name);

/* Append a node of `op` with operands in[0..nin-1] to the current region,
 * infer its type (ir_infer) and return its id, or -1 with the error
 * recorded. `proto` supplies the op's attributes (sub, type for ops whose
 * type is given, tensor, axes, index, flags, f); may be NULL. */
int32_t ir_add(tj_graph *g, ir_op op, const int32_t *in, int nin, const ir_node *proto);
/* The node for id, or NULL when out of range. */
static inline ir_node *ir_node_at(const tj_graph *g, int32_t id) {
    return (id >= 0 && id < g->nnodes) ? &g->nodes[id] : NULL;
}
/* "%name", "%label", or "%<id> (op)" — the node as messages name it.
 * Writes into buf (>= 64 bytes) and returns buf. */
const char *ir_node_desc(const tj_graph *g, int32_t id, char *buf, size_t size);
/* The region (program-order list) a node lives in. */
void ir_region(const tj_graph *g, int32_t parent, int32_t **ids, int *n);
/* 1 when `id` is visible from region `parent` (defined there or in an
 * enclosing region). */
int ir_visible(const tj_graph *g, int32_t id, int32_t parent);

/* Row-major strides for tensor t when it has none given (element units;
 * symbolic dims make symbolic products, so they are evaluated by
 * ir_tensor_eval instead). */
/* The grid's integer arithmetic (add sub mul div mod cdiv max min) on
 * 64-bit values, wrapping instead of overflowing; division by 0 gives 0.
 * Shared by tj_graph_grid and the launch path's compiled grid. */
int64_t ir_grid_binary(int sub, int64_t a, int64_t b);

/* Evaluate tensor dims and strides for symbol values. */
tj_status ir_tensor_eval(const tj_graph *g, int t, const int64_t *sym_vals,
                         int64_t *dims, int64_t *strides);
/* A dim's value: constants as is; symbols by their true value, or their
 * specialized value (bucket) when `specialized`. TJ_ERR_UNBOUND when the
 * symbol has no value. */
tj_status ir_dim_eval(const tj_graph *g, tj_dim d, const int64_t *sym_vals,
                      int specialized, int64_t *out);

/* The symbol id a dim names, or -1 when it is a constant or names no
 * symbol of g (never overflows, whatever d is). */
int ir_dim_sym(const tj_graph *g, tj_dim d);

/* ---- types (gen/infer.c) ------------------------------------------- */

const char *ir_op_name(ir_op op);
int ir_is_float(int dtype);     /* f32 f16 bf16 f8* f64 */
int ir_is_int(int dtype);       /* i32 i64 */
int ir_is_graph_dtype(int dtype); /* every tj_dtype but f64 */
/* Infer node n's result type from its operands (and attributes for the
 * ops whose type is given). On a broken rule records the error on g
 * (ir_error, naming n) and returns it. */
tj_status ir_infer(tj_graph *g, int32_t n);
/* Write "bf16[128,64]" ("i32" for scalars) into buf. */
const char *ir_type_str(const tj_graph *g, const ir_type *t, char *buf, size_t size);

/* ---- hashing (gen/hash.c) ------------------------------------------ */

typedef struct ir_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} ir_sha256;
void ir_sha256_init(ir_sha256 *s);
void ir_sha256_update(ir_sha256 *s, const void *data, size_t n);
void ir_sha256_final(ir_sha256 *s, uint8_t out[32]);
void ir_sha256_hex(const void *data, size_t n, char out[65]);

/* ---- dtype conversion (gen/dtype.c) -------------------------------- */

float ir_bf16_to_f32(uint16_t h);
uint16_t ir_f32_to_bf16(float f);
float ir_f16_to_f32(uint16_t h);
uint16_t ir_f32_to_f16(float f);
float ir_e4m3_to_f32(uint8_t b);
uint8_t ir_f32_to_e4m3(float f);
float ir_e5m2_to_f32(uint8_t b);
uint8_t ir_f32_to_e5m2(float f);
/* Round a value to what `dtype` can hold (float types round to nearest
 * even, integers truncate toward zero and wrap, bool is x != 0). */
double ir_round_to(int dtype, double x);
/* Read / write one element of `dtype` at p as a double. */
double ir_read_elem(int dtype, const void *p);
void ir_write_elem(int dtype, void *p, double x);

#endif /* TJ_IR_H */
