/*
 * parse.h — the text parser's state and its lexer (parse_lex.c), shared
 * by parse.c. Internal to libtilejit.
 */
#ifndef TJ_PARSE_H
#define TJ_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#define PARSE_MAX_TEXT ((size_t)64 << 20)

typedef enum tok_kind { T_EOF, T_NL, T_IDENT, T_NUM, T_VAL, T_PUNCT, T_BAD } tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *s; /* into the input; not NUL-terminated */
    size_t n;
    int line, col;
} tok;

typedef struct slot {
    const char *key; /* "%7", "%q": arena, also the node's label */
    int32_t id;
    int line;
} slot;

typedef struct parser {
    const char *src;
    size_t len, pos, line_start;
    int line;
    tok t; /* the lookahead */
    tj_graph *g;
    const char *source;
    slot *map;
    size_t cap, count;
    int32_t loops[IR_MAX_DEPTH];
    int depth;
} parser;

static inline int lex_is_ident_start(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static inline int lex_is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int lex_is_ident_char(int c) { return lex_is_ident_start(c) || lex_is_digit(c); }

/* Read the next token into p->t. Never reads past p->len. */
void lex_next(parser *p);
/* "end of line", "'foo'", "number '12'", "byte 0x00": t as messages say it. */
void lex_describe(const tok *t, char *buf, size_t size);
/* TJ_ERR_PARSE with "<source>:<line>:<col>: <message>" at token t. */
tj_status lex_error(const parser *p, const tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* TJ_ERR_PARSE: "expected <what>, found <the lookahead>". */
tj_status lex_expected(const parser *p, const char *what);

int lex_tok_is(const tok *t, const char *word);  /* t is the identifier `word` */
int lex_is_kw(const parser *p, const char *word);
int lex_is_punct(const parser *p, char c);
int lex_accept_kw(parser *p, const char *word);  /* consume it when there */
int lex_accept_punct(parser *p, char c);
tj_status lex_expect_punct(parser *p, char c);
tj_status lex_expect_kw(parser *p, const char *word);
tj_status lex_expect_eol(parser *p);              /* a newline, or the end */
/* An identifier of at most 64 chars, copied NUL-terminated into out. */
tj_status lex_expect_ident(parser *p, const char *what, char out[65]);
/* A decimal integer in [lo, hi]; out-of-range is an error, never wrapped. */
tj_status lex_int(parser *p, int64_t lo, int64_t hi, const char *what, int64_t *out);
tj_status lex_small(parser *p, const char *what, int *out);   /* an int32 */
/* A float: %g forms, inf, -inf, nan (one NaN: no payload or sign kept). */
tj_status lex_double(parser *p, double *out);

/* Return from the calling function with x's status when it fails. */
#define TRY(x)                                                                             \
    do {                                                                                   \
        tj_status try_s_ = (x);                                                            \
        if (try_s_ != TJ_OK) return try_s_;                                                \
    } while (0)

#endif /* TJ_PARSE_H */
