/*
 * verify.h — shared between verify.c (whole-graph rules) and
 * verify_ops.c (each op's local rules, re-checked). Internal.
 */
#ifndef TJ_VERIFY_H
#define TJ_VERIFY_H

#include <stdarg.h>

#include "ir.h"

/* Room for ir_node_desc() output. */
#define VERIFY_DESC 160

/* Set tj_last_error() to "source:line: <node>: message" without touching
 * the graph (verification is read-only). Returns `s`. */
tj_status verify_errorv(const tj_graph *g, tj_status s, int32_t node, int line,
                        const char *fmt, va_list ap);
/* TJ_ERR_VERIFY naming `node`. */
tj_status verify_error(const tj_graph *g, int32_t node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *verify_desc(const tj_graph *g, int32_t id, char *buf); /* VERIFY_DESC bytes */

/* The symbol id a dim names, or -1 when it names no symbol of g (a
 * constant, or an encoding beyond g's symbols). Safe for any int64. */
int verify_dim_symbol(const tj_graph *g, tj_dim d);

int verify_same_type(const ir_type *a, const ir_type *b);
/* The local rules of node id: operand count and types, attributes, and
 * that its recorded type is the one its operands give. Operands are known
 * to exist and be values. */
tj_status verify_node(const tj_graph *g, int32_t id);

#endif /* TJ_VERIFY_H */
