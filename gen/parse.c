/*
 * parse.c — reads the text form (.tj) back into a graph; the grammar is
 * in docs/graph.md ("Text form").
 *
 * A hand-written lexer (parse_lex.c) and a recursive-descent parser
 * (recursion only for loop nesting, which the builder caps at
 * IR_MAX_DEPTH). Nodes are made
 * by the same builder calls an API user makes, so the text obeys exactly
 * the API's rules; value-making ops go through ir_add with their text
 * label already in the prototype, so that a type error raised while the
 * node is inferred names it as the user wrote it (%7, %q). g->cur_line
 * gives every node its line.
 *
 * The input is untrusted (it is fuzzed): numbers are range-checked
 * before they reach the builder and every list has a fixed bound.
 */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ---- labels -------------------------------------------------------- */

static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static slot *map_find(const parser *p, const char *s, size_t n) {
    if (!p->cap) return NULL;
    for (size_t i = hash_str(s, n) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
        slot *e = &p->map[i];
        if (!e->key) return NULL;
        if (strlen(e->key) == n && !memcmp(e->key, s, n)) return e;
    }
}

static int map_put(parser *p, const char *key, int32_t id, int line) {
    if (2 * (p->count + 1) > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        slot *m = calloc(cap, sizeof *m);
        if (!m) return 0;
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->map[i].key) continue;
            size_t j = hash_str(p->map[i].key, strlen(p->map[i].key)) & (cap - 1);
            while (m[j].key) j = (j + 1) & (cap - 1);
            m[j] = p->map[i];
        }
        free(p->map);
        p->map = m;
        p->cap = cap;
    }
    size_t j = hash_str(key, strlen(key)) & (p->cap - 1);
    while (p->map[j].key) j = (j + 1) & (p->cap - 1);
    p->map[j] = (slot){key, id, line};
    p->count++;
    return 1;
}

/* A label token names a value: "%" then digits (a number) or an
 * identifier (a name). Checks it is well formed and not yet defined. */
static tj_status check_new_label(const parser *p, const tok *t) {
    if (t->n < 2) return lex_error(p, t, "expected a value name after '%%'");
    int digits = 1;
    for (size_t i = 1; i < t->n; i++) digits &= lex_is_digit((unsigned char)t->s[i]);
    if (!digits && !lex_is_ident_start((unsigned char)t->s[1]))
        return lex_error(p, t, "'%.*s' is not a value label (%%<number> or %%<name>)",
                         (int)(t->n > 40 ? 40 : t->n), t->s);
    if (t->n > 65) return lex_error(p, t, "value label is longer than 64 characters");
    const slot *e = map_find(p, t->s, t->n);
    if (e) return lex_error(p, t, "value %s is defined twice (first at line %d)", e->key, e->line);
    return TJ_OK;
}

/* Bind a label to node id: remember it, store it as the node's label and,
 * for a name, name the value. */
static tj_status define_label(parser *p, const tok *t, int32_t id, int name_it) {
    TRY(check_new_label(p, t));
    char key[72];
    memcpy(key, t->s, t->n);
    key[t->n] = '\0';
    const char *label = ir_strdup(&p->g->arena, key);
    if (!label || !map_put(p, label, id, t->line))
        return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory parsing");
    p->g->nodes[id].label = label;
    if (name_it && !lex_is_digit((unsigned char)key[1])) TRY(tj_name(p->g, (tj_val){id}, key + 1));
    return TJ_OK;
}

static int32_t cur_parent(const parser *p) { return p->depth ? p->loops[p->depth - 1] : -1; }

static tj_status parse_value(parser *p, int32_t *out) {
    if (p->t.kind != T_VAL || p->t.n < 2) return lex_expected(p, "a value (%name or %number)");
    slot *e = map_find(p, p->t.s, p->t.n);
    if (!e) return lex_error(p, &p->t, "value %.*s is not defined", (int)p->t.n, p->t.s);
    if (!ir_visible(p->g, e->id, cur_parent(p)))
        return lex_error(p, &p->t, "value %s is defined inside a loop body and is not visible here",
                         e->key);
    *out = e->id;
    lex_next(p);
    return TJ_OK;
}

/* value { "," value }, at most max. */
static tj_status parse_values(parser *p, int32_t *ids, int max, const char *what, int *n) {
    *n = 0;
    do {
        if (*n == max) return lex_error(p, &p->t, "too many %s (at most %d)", what, max);
        TRY(parse_value(p, &ids[(*n)++]));
    } while (lex_accept_punct(p, ','));
    return TJ_OK;
}

/* "[" [ value { "," value } ] "]" */
static tj_status parse_coords(parser *p, int32_t *ids, int *n) {
    *n = 0;
    TRY(lex_expect_punct(p, '['));
    if (lex_accept_punct(p, ']')) return TJ_OK;
    TRY(parse_values(p, ids, TJ_MAX_RANK, "coordinates", n));
    return lex_expect_punct(p, ']');
}

/* ---- types --------------------------------------------------------- */

static tj_status parse_dim(parser *p, tj_dim *out) {
    if (p->t.kind == T_IDENT) {
        char name[65];
        tok t = p->t;
        TRY(lex_expect_ident(p, "a symbol", name));
        tj_sym s = tj_find_symbol(p->g, name);
        if (s.id < 0) return lex_error(p, &t, "unknown symbol '%s'", name);
        *out = tj_dim_sym(s);
        return TJ_OK;
    }
    if (p->t.kind != T_NUM) return lex_expected(p, "a dimension (an integer or a symbol)");
    int64_t v;
    TRY(lex_int(p, 0, TJ_MAX_DIM, "dimension", &v));
    *out = v;
    return TJ_OK;
}

/* "[" dim { "," dim } "]" with 1..max dims. */
static tj_status parse_shape(parser *p, int max, tj_dim *dims, int *rank) {
    *rank = 0;
    TRY(lex_expect_punct(p, '['));
    do {
        if (*rank == max) return lex_error(p, &p->t, "more than %d dimensions", max);
        TRY(parse_dim(p, &dims[(*rank)++]));
    } while (lex_accept_punct(p, ','));
    return lex_expect_punct(p, ']');
}

static tj_status parse_dtype(parser *p, tj_dtype *out) {
    static const char *const what = "a dtype (f32 f16 bf16 f8e4m3 f8e5m2 i32 i64 bool)";
    char name[65];
    if (p->t.kind != T_IDENT || p->t.n > 64) return lex_expected(p, what);
    memcpy(name, p->t.s, p->t.n);
    name[p->t.n] = '\0';
    if (tj_dtype_from_name(name, out) != TJ_OK) return lex_expected(p, what);
    lex_next(p);
    return TJ_OK;
}

/* dtype [ shape ]: a value's type (rank 0..2). */
static tj_status parse_type(parser *p, ir_type *t) {
    memset(t, 0, sizeof *t);
    tj_dtype d;
    TRY(parse_dtype(p, &d));
    t->dtype = d;
    if (lex_is_punct(p, '[')) TRY(parse_shape(p, TJ_MAX_TILE_RANK, t->dims, &t->rank));
    return TJ_OK;
}

/* ---- declarations -------------------------------------------------- */

static tj_status parse_sym(parser *p) {
    char name[65];
    int64_t bucket = 0, divisor = 1;
    tj_policy policy;
    TRY(lex_expect_ident(p, "a symbol name", name));
    if (lex_accept_kw(p, "exact")) {
        policy = TJ_EXACT;
    } else if (lex_accept_kw(p, "pow2")) {
        policy = TJ_BUCKET_POW2;
    } else if (lex_accept_kw(p, "dynamic")) {
        policy = TJ_DYNAMIC;
    } else if (lex_accept_kw(p, "multiple")) {
        policy = TJ_BUCKET_MULTIPLE;
        TRY(lex_int(p, 1, INT32_MAX, "bucket multiple", &bucket));
    } else {
        return lex_expected(p, "a policy (exact, pow2, multiple N, dynamic)");
    }
    if (lex_accept_kw(p, "div")) TRY(lex_int(p, 1, INT32_MAX, "divisor", &divisor));
    TRY(lex_expect_eol(p));
    tj_symbol(p->g, name, policy, bucket, divisor);
    return TJ_OK;
}

static tj_status parse_tensor(parser *p) {
    char name[65];
    tj_dtype dtype;
    tj_dim dims[TJ_MAX_RANK], strides[TJ_MAX_RANK];
    int rank = 0, nstrides = -1;
    int64_t align = 0;
    TRY(lex_expect_ident(p, "a tensor name", name));
    TRY(parse_dtype(p, &dtype));
    if (lex_is_punct(p, '[')) TRY(parse_shape(p, TJ_MAX_RANK, dims, &rank));
    if (lex_is_kw(p, "strides")) {
        tok t = p->t;
        lex_next(p);
        TRY(lex_expect_punct(p, '['));
        nstrides = 0;
        if (!lex_accept_punct(p, ']')) {
            do {
                if (nstrides == TJ_MAX_RANK)
                    return lex_error(p, &p->t, "more than %d strides", TJ_MAX_RANK);
                TRY(parse_dim(p, &strides[nstrides++]));
            } while (lex_accept_punct(p, ','));
            TRY(lex_expect_punct(p, ']'));
        }
        if (nstrides != rank)
            return lex_error(p, &t, "%d strides given for tensor '%s' of rank %d", nstrides, name,
                             rank);
    }
    if (lex_accept_kw(p, "align")) TRY(lex_int(p, 1, 1 << 20, "alignment", &align));
    TRY(lex_expect_eol(p));
    tj_tensor t = tj_tensor_arg(p->g, name, dtype, rank, dims, nstrides >= 0 ? strides : NULL);
    if (t.id >= 0 && align) tj_tensor_set_align(p->g, t, (int)align);
    return TJ_OK;
}

static tj_status parse_scalar(parser *p) {
    char name[65];
    tj_dtype dtype;
    tok t = p->t;
    TRY(lex_expect_ident(p, "a scalar name", name));
    TRY(parse_dtype(p, &dtype));
    TRY(lex_expect_eol(p));
    tj_val v = tj_scalar_arg(p->g, name, dtype);
    if (v.id < 0) return TJ_OK; /* the graph holds the error */
    /* The scalar is the value %name. */
    char key[67];
    snprintf(key, sizeof key, "%%%s", name);
    tok label = {T_VAL, key, strlen(key), t.line, t.col};
    return define_label(p, &label, v.id, 0);
}

/* ---- value statements ---------------------------------------------- */

static int lookup_name(const tok *t, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (names[i] && lex_tok_is(t, names[i])) return i;
    return -1;
}

static tj_status parse_tensor_ref(parser *p, int32_t *out) {
    char name[65];
    tok t = p->t;
    TRY(lex_expect_ident(p, "a tensor name", name));
    for (int i = 0; i < p->g->ntensors; i++)
        if (!strcmp(p->g->tensors[i].name, name)) {
            *out = i;
            return TJ_OK;
        }
    return lex_error(p, &t, "unknown tensor '%s'", name);
}

/* Load and store attributes: axes [..], pad v (loads), element. */
static tj_status parse_access_attrs(parser *p, ir_node *proto, int *naxes, int is_load) {
    int seen_pad = 0;
    *naxes = -1;
    for (;;) {
        tok t = p->t;
        if (lex_accept_kw(p, "axes")) {
            if (*naxes >= 0) return lex_error(p, &t, "'axes' given twice");
            TRY(lex_expect_punct(p, '['));
            *naxes = 0;
            if (!lex_accept_punct(p, ']')) {
                do {
                    if (*naxes == TJ_MAX_TILE_RANK)
                        return lex_error(p, &p->t, "more than %d axes", TJ_MAX_TILE_RANK);
                    TRY(lex_small(p, "axis", &proto->axes[(*naxes)++]));
                } while (lex_accept_punct(p, ','));
                TRY(lex_expect_punct(p, ']'));
            }
        } else if (is_load && lex_accept_kw(p, "pad")) {
            if (seen_pad++) return lex_error(p, &t, "'pad' given twice");
            TRY(lex_double(p, &proto->f));
        } else if (lex_accept_kw(p, "element")) {
            if (proto->flags & TJ_COORD_ELEMENT) return lex_error(p, &t, "'element' given twice");
            proto->flags |= TJ_COORD_ELEMENT;
        } else {
            return TJ_OK;
        }
    }
}

static tj_status parse_store(parser *p) {
    int32_t tensor, coords[TJ_MAX_RANK], value;
    int ncoords, naxes;
    ir_node proto = {0};
    TRY(parse_tensor_ref(p, &tensor));
    TRY(parse_coords(p, coords, &ncoords));
    TRY(lex_expect_punct(p, ','));
    TRY(parse_value(p, &value));
    int32_t mask = TJ_NONE_ID;
    if (lex_accept_kw(p, "mask")) TRY(parse_value(p, &mask));
    tok at_attrs = p->t;
    TRY(parse_access_attrs(p, &proto, &naxes, 0));
    TRY(lex_expect_eol(p));
    int vrank = p->g->nodes[value].type.rank;
    if (naxes >= 0 && naxes != vrank)
        return lex_error(p, &at_attrs, "%d axes given for a rank-%d value", naxes, vrank);
    tj_val cv[TJ_MAX_RANK];
    for (int i = 0; i < ncoords; i++) cv[i] = (tj_val){coords[i]};
    const tj_tensor t = {tensor};
    if (ncoords != p->g->tensors[tensor].rank)
        return lex_error(p, &at_attrs, "%d coordinates given for tensor '%s' of rank %d", ncoords,
                         p->g->tensors[tensor].name, p->g->tensors[tensor].rank);
    tj_store_masked(p->g, t, cv, (tj_val){value}, (tj_val){mask}, naxes >= 0 ? proto.axes : NULL,
                    proto.flags);
    return TJ_OK;
}

static int same_type(const ir_type *a, const ir_type *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* `%label = op ... : type` (the label is already read). */
static tj_status parse_op(parser *p, const tok *label) {
    tj_graph *g = p->g;
    ir_node proto = {0};
    int32_t in[3 + TJ_MAX_RANK];
    int nin = 0, naxes = -1, nops = 0;
    ir_op op;
    tok optok = p->t, attr_tok = p->t;
    int k;
    if (p->t.kind != T_IDENT) return lex_expected(p, "an op name");
    lex_next(p);
    if (lex_tok_is(&optok, "const")) {
        op = IR_CONST;
        TRY(lex_double(p, &proto.f));
    } else if (lex_tok_is(&optok, "symval")) {
        char name[65];
        tok t = p->t;
        op = IR_SYMVAL;
        TRY(lex_expect_ident(p, "a symbol name", name));
        proto.index = tj_find_symbol(g, name).id;
        if (proto.index < 0) return lex_error(p, &t, "unknown symbol '%s'", name);
    } else if (lex_tok_is(&optok, "program_id") || lex_tok_is(&optok, "num_programs")) {
        op = lex_tok_is(&optok, "program_id") ? IR_PROGRAM_ID : IR_NUM_PROGRAMS;
        TRY(lex_small(p, "grid axis", &proto.index));
    } else if (lex_tok_is(&optok, "iota")) {
        op = IR_IOTA;
        TRY(lex_expect_kw(p, "axis"));
        TRY(lex_small(p, "axis", &proto.index));
    } else if (lex_tok_is(&optok, "load")) {
        op = IR_LOAD;
        TRY(parse_tensor_ref(p, &proto.tensor));
        TRY(parse_coords(p, in, &nin));
        attr_tok = p->t;
        TRY(parse_access_attrs(p, &proto, &naxes, 1));
    } else if (lex_tok_is(&optok, "mma")) {
        op = IR_MMA;
        TRY(parse_values(p, in, 3, "mma operands", &nin));
        if (nin < 2) return lex_expected(p, "','");
        for (;;) {
            tok t = p->t;
            unsigned f = lex_accept_kw(p, "trans_a")   ? TJ_TRANS_A
                         : lex_accept_kw(p, "trans_b") ? TJ_TRANS_B
                                                       : 0;
            if (!f) break;
            if (proto.flags & f) return lex_error(p, &t, "'%.*s' given twice", (int)t.n, t.s);
            proto.flags |= f;
        }
    } else if ((k = lookup_name(&optok, (const char *const[]){"where", "fma"}, 2)) >= 0) {
        op = k ? IR_FMA : IR_WHERE;
        nops = 3;
    } else if ((k = lookup_name(&optok,
                                (const char *const[]){"cast", "transpose", "reshape", "broadcast"},
                                4)) >= 0) {
        static const ir_op ops[] = {IR_CAST, IR_TRANSPOSE, IR_RESHAPE, IR_BROADCAST};
        op = ops[k];
        nops = 1;
    } else if ((k = lookup_name(&optok, (const char *const[]){"sum", "max", "min"}, 3)) >= 0) {
        /* "max %x axis 1" reduces; "max %a, %b" is the binary op. */
        TRY(parse_value(p, &in[nin++]));
        if (lex_accept_kw(p, "axis")) {
            op = IR_REDUCE;
            proto.sub = k;
            TRY(lex_small(p, "axis", &proto.index));
        } else if (k == 0) {
            return lex_expected(p, "'axis'");
        } else {
            op = IR_BINARY;
            proto.sub = k == 1 ? TJ_MAX : TJ_MIN;
            TRY(lex_expect_punct(p, ','));
            TRY(parse_value(p, &in[nin++]));
        }
    } else {
        int u = -1, b = -1;
        for (int i = 0; i < TJ_UNARY_COUNT && u < 0; i++)
            if (lex_tok_is(&optok, tj_unary_name((tj_unop)i))) u = i;
        for (int i = 0; i < TJ_BINARY_COUNT && b < 0; i++)
            if (lex_tok_is(&optok, tj_binary_name((tj_binop)i))) b = i;
        if (u < 0 && b < 0) {
            char found[96];
            lex_describe(&optok, found, sizeof found);
            return lex_error(p, &optok, "expected an op name, found %s", found);
        }
        op = u >= 0 ? IR_UNARY : IR_BINARY;
        proto.sub = u >= 0 ? u : b;
        nops = u >= 0 ? 1 : 2;
    }
    if (nops) TRY(parse_values(p, in, nops, "operands", &nin));
    if (nin < nops) return lex_expected(p, "','");
    TRY(lex_expect_punct(p, ':'));
    ir_type want;
    TRY(parse_type(p, &want));
    TRY(lex_expect_eol(p));

    /* The written type is an attribute of the ops whose type is given. */
    switch (op) {
    case IR_CONST:
    case IR_IOTA: proto.type = want; break;
    case IR_CAST: proto.type.dtype = want.dtype; break;
    case IR_LOAD:
    case IR_RESHAPE:
    case IR_BROADCAST:
        proto.type.rank = want.rank;
        memcpy(proto.type.dims, want.dims, sizeof want.dims);
        break;
    default: break;
    }
    if (op == IR_LOAD) {
        int trank = g->tensors[proto.tensor].rank;
        if (naxes >= 0 && naxes != want.rank)
            return lex_error(p, &attr_tok, "%d axes given for a rank-%d tile", naxes, want.rank);
        if (naxes < 0)
            for (int i = 0; i < want.rank; i++) proto.axes[i] = trank - want.rank + i;
    }
    TRY(check_new_label(p, label));
    char key[72];
    memcpy(key, label->s, label->n);
    key[label->n] = '\0';
    proto.label = ir_strdup(&g->arena, key);
    if (!proto.label) return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory parsing");
    int32_t id = ir_add(g, op, in, nin, &proto);
    if (id < 0) return ir_last_status(g);
    if (!same_type(&g->nodes[id].type, &want)) {
        char a[160], b[160];
        return ir_error(g, TJ_ERR_PARSE, id, "the type written, %s, is not the type of the op, %s",
                        ir_type_str(g, &want, a, sizeof a),
                        ir_type_str(g, &g->nodes[id].type, b, sizeof b));
    }
    return define_label(p, label, id, 1);
}

/* ---- loops, grid, statements --------------------------------------- */

static tj_status parse_stmt(parser *p);

/* [results "="] "for" iv "=" lo "to" hi "step" s [iter(...)] "{" body "}" */
static tj_status parse_for(parser *p, const tok *results, int nres) {
    tj_graph *g = p->g;
    tok fortok = p->t, iv_tok, carried_tok[TJ_MAX_CARRIED];
    int32_t lo, hi, step, init[TJ_MAX_CARRIED];
    int n = 0;
    TRY(lex_expect_kw(p, "for"));
    if (p->t.kind != T_VAL) return lex_expected(p, "the induction variable (%name or %number)");
    iv_tok = p->t;
    TRY(check_new_label(p, &iv_tok));
    lex_next(p);
    TRY(lex_expect_punct(p, '='));
    TRY(parse_value(p, &lo));
    TRY(lex_expect_kw(p, "to"));
    TRY(parse_value(p, &hi));
    TRY(lex_expect_kw(p, "step"));
    TRY(parse_value(p, &step));
    if (lex_accept_kw(p, "iter")) {
        TRY(lex_expect_punct(p, '('));
        do {
            if (n == TJ_MAX_CARRIED)
                return lex_error(p, &p->t, "more than %d carried values", TJ_MAX_CARRIED);
            if (p->t.kind != T_VAL) return lex_expected(p, "a carried value (%name or %number)");
            carried_tok[n] = p->t;
            TRY(check_new_label(p, &p->t));
            lex_next(p);
            TRY(lex_expect_punct(p, '='));
            TRY(parse_value(p, &init[n++]));
        } while (lex_accept_punct(p, ','));
        TRY(lex_expect_punct(p, ')'));
    }
    TRY(lex_expect_punct(p, '{'));
    TRY(lex_expect_eol(p));
    if (nres != n)
        return lex_error(p, &fortok, "the loop carries %d value%s but %d result%s named", n,
                         n == 1 ? "" : "s", nres, nres == 1 ? " is" : "s are");
    if (p->depth >= IR_MAX_DEPTH)
        return lex_error(p, &fortok, "loops nest deeper than %d", IR_MAX_DEPTH);

    tj_val vinit[TJ_MAX_CARRIED], iv, carried[TJ_MAX_CARRIED];
    for (int k = 0; k < n; k++) vinit[k] = (tj_val){init[k]};
    g->cur_line = fortok.line;
    tj_status s =
        tj_for_begin(g, (tj_val){lo}, (tj_val){hi}, (tj_val){step}, n, vinit, &iv, carried);
    if (s != TJ_OK) return s;
    int32_t loop = g->open_loops[g->depth - 1];
    p->loops[p->depth++] = loop;
    TRY(define_label(p, &iv_tok, iv.id, 1));
    for (int k = 0; k < n; k++) TRY(define_label(p, &carried_tok[k], carried[k].id, 1));

    while (p->t.kind != T_EOF && !lex_is_kw(p, "yield") && !lex_is_punct(p, '}'))
        TRY(parse_stmt(p));
    int32_t next_ids[TJ_MAX_CARRIED];
    int ny = 0;
    tok ytok = p->t;
    if (lex_accept_kw(p, "yield")) {
        if (p->t.kind != T_NL && p->t.kind != T_EOF)
            TRY(parse_values(p, next_ids, TJ_MAX_CARRIED, "yielded values", &ny));
        TRY(lex_expect_eol(p));
        while (p->t.kind == T_NL) lex_next(p);
    }
    if (!lex_is_punct(p, '}')) {
        char found[96];
        lex_describe(&p->t, found, sizeof found);
        return lex_error(p, &p->t, "expected '}' closing the loop of line %d, found %s",
                         fortok.line, found);
    }
    lex_next(p);
    TRY(lex_expect_eol(p));
    if (ny != n)
        return lex_error(p, &ytok, "%d value%s yielded for %d carried", ny, ny == 1 ? "" : "s", n);
    tj_val vnext[TJ_MAX_CARRIED], vres[TJ_MAX_CARRIED];
    for (int k = 0; k < n; k++) vnext[k] = (tj_val){next_ids[k]};
    g->cur_line = fortok.line;
    p->depth--;
    s = tj_for_end(g, n, vnext, vres);
    if (s != TJ_OK) return s;
    for (int k = 0; k < n; k++) TRY(define_label(p, &results[k], vres[k].id, 1));
    return TJ_OK;
}

static tj_status parse_grid(parser *p, const tok *gtok) {
    int32_t ids[TJ_MAX_GRID];
    int n;
    if (p->depth) return lex_error(p, gtok, "the grid is set at the top level, not inside a loop");
    if (p->g->ngrid)
        return lex_error(p, gtok, "the grid is already set (line %d)", p->g->grid_line);
    TRY(lex_expect_punct(p, '['));
    TRY(parse_values(p, ids, TJ_MAX_GRID, "grid dims", &n));
    TRY(lex_expect_punct(p, ']'));
    TRY(lex_expect_eol(p));
    tj_val v[TJ_MAX_GRID];
    for (int i = 0; i < n; i++) v[i] = (tj_val){ids[i]};
    tj_set_grid(p->g, n, v);
    return TJ_OK;
}

static tj_status parse_stmt(parser *p) {
    tok t = p->t;
    tj_status s = TJ_OK;
    p->g->cur_line = t.line;
    if (t.kind == T_NL) {
        lex_next(p);
        return TJ_OK;
    }
    if (t.kind == T_VAL) {
        tok labels[TJ_MAX_CARRIED];
        int n = 0;
        do {
            if (n == TJ_MAX_CARRIED)
                return lex_error(p, &p->t, "more than %d values defined on one line",
                                 TJ_MAX_CARRIED);
            if (p->t.kind != T_VAL) return lex_expected(p, "a value (%name or %number)");
            TRY(check_new_label(p, &p->t));
            labels[n++] = p->t;
            lex_next(p);
        } while (lex_accept_punct(p, ','));
        TRY(lex_expect_punct(p, '='));
        if (lex_is_kw(p, "for")) {
            s = parse_for(p, labels, n);
        } else {
            if (n > 1) return lex_error(p, &labels[1], "only a for loop defines several values");
            s = parse_op(p, &labels[0]);
        }
    } else if (t.kind != T_IDENT) {
        return lex_expected(p, "a statement");
    } else if (lex_tok_is(&t, "for")) {
        s = parse_for(p, NULL, 0);
    } else if (lex_tok_is(&t, "store")) {
        lex_next(p);
        s = parse_store(p);
    } else if (lex_tok_is(&t, "grid")) {
        lex_next(p);
        s = parse_grid(p, &t);
    } else if (lex_tok_is(&t, "sym") || lex_tok_is(&t, "tensor") || lex_tok_is(&t, "scalar")) {
        if (p->depth)
            return lex_error(p, &t, "'%.*s' declarations belong at the top level, not in a loop",
                             (int)t.n, t.s);
        lex_next(p);
        s = lex_tok_is(&t, "sym")      ? parse_sym(p)
            : lex_tok_is(&t, "tensor") ? parse_tensor(p)
                                       : parse_scalar(p);
    } else if (lex_tok_is(&t, "yield")) {
        return lex_error(p, &t, "'yield' outside a loop");
    } else {
        return lex_expected(p, "a statement (a value, store, for, grid or declaration)");
    }
    if (s != TJ_OK) return s;
    /* A builder call that failed recorded its error (with the line). */
    return p->g->status;
}

static tj_status parse_file(parser *p, const char *source) {
    char name[65];
    int64_t version;
    lex_next(p);
    while (p->t.kind == T_NL) lex_next(p);
    TRY(lex_expect_kw(p, "tilejit"));
    tok vt = p->t;
    TRY(lex_int(p, 0, INT32_MAX, "version", &version));
    if (version != 1)
        return lex_error(p, &vt, "text form version %lld is not supported (this tilejit reads 1)",
                         (long long)version);
    TRY(lex_expect_eol(p));
    while (p->t.kind == T_NL) lex_next(p);
    TRY(lex_expect_kw(p, "graph"));
    tok nt = p->t;
    TRY(lex_expect_ident(p, "a graph name", name));
    TRY(lex_expect_eol(p));
    tj_status s = tj_graph_new(name, &p->g);
    if (s != TJ_OK) return lex_error(p, &nt, "%s", tj_last_error());
    if (source) {
        p->g->source = ir_strdup(&p->g->arena, source);
        if (!p->g->source) return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory parsing");
    }
    while (p->t.kind != T_EOF) {
        if (lex_is_punct(p, '}')) return lex_error(p, &p->t, "'}' without a loop to close");
        TRY(parse_stmt(p));
    }
    p->g->cur_line = 0;
    return tj_graph_verify(p->g);
}

tj_status tj_graph_parse(const char *text, size_t len, const char *source, tj_graph **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_parse: out is NULL");
    *out = NULL;
    if (!text && len) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_parse: text is NULL");
    if (len > PARSE_MAX_TEXT)
        return tj_set_error(TJ_ERR_PARSE, "%s: text of %zu bytes is larger than the %zu allowed",
                            source ? source : "<text>", len, PARSE_MAX_TEXT);
    /* strtod must read '.' whatever locale the host program set. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    parser p = {.src = text ? text : "", .len = len, .line = 1, .source = source};
    tj_status s = parse_file(&p, source);
    if (c_locale) {
        uselocale(old);
        freelocale(c_locale);
    }
    free(p.map);
    if (s != TJ_OK) {
        tj_graph_free(p.g);
        return s;
    }
    *out = p.g;
    return TJ_OK;
}
