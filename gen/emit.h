/*
 * emit.h — CUDA C++ generation for the generic (sm_80+) lowering, and the
 * launch description a kernel needs. Internal to libtilejit.
 */
#ifndef TJ_EMIT_H
#define TJ_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* A growable string. */
typedef struct strbuf {
    char *data;
    size_t len, cap;
    int oom;   /* an append failed: the content is truncated */
} strbuf;
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);

/* What the kernel takes, in order. */
typedef enum emit_param_kind {
    EMIT_PARAM_TENSOR = 0,   /* a device pointer */
    EMIT_PARAM_SCALAR,       /* a scalar argument */
    EMIT_PARAM_SYMBOL        /* the true value of a symbol that is not baked */
} emit_param_kind;

typedef struct emit_param {
    emit_param_kind kind;
    int index;          /* tensor, scalar or symbol index */
    int ctype;          /* EMIT_C_*: how the value is passed */
    size_t size;        /* bytes of the parameter */
} emit_param;

enum { EMIT_C_PTR = 0, EMIT_C_F32, EMIT_C_I32, EMIT_C_I64 };

#define EMIT_MAX_PARAMS 128

typedef struct emit_launch {
    char kernel[96];          /* the extern "C" name */
    int threads;              /* block size (1-D) */
    size_t smem_bytes;        /* dynamic shared memory */
    int nparams;
    emit_param params[EMIT_MAX_PARAMS];
} emit_launch;

/* Generate the kernel for g specialized at sym_vals (every exact and
 * bucketed symbol that sizes a tile or is baked must be bound; dynamic
 * ones may be TJ_UNBOUND). *src is malloc'd. `launch` may be NULL. */
tj_status emit_cuda(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                    emit_launch *launch);

/* Largest dynamic shared memory a block may use on `arch` (bytes). */
size_t emit_smem_limit(const char *arch);

#endif
