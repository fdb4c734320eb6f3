/*
 * parse_lex.c — the lexer of the text form and the token-level helpers the
 * parser (parse.c) is written with: expectations, error messages with
 * line and column, and range-checked numbers.
 *
 * The input is untrusted (it is fuzzed): nothing here reads past p->len,
 * NUL is an ordinary bad byte, and numbers are checked before they are
 * converted, so a huge one is an error rather than a wrapped value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ---- lexer --------------------------------------------------------- */

static int at(const parser *p, size_t i) { return i < p->len ? (unsigned char)p->src[i] : -1; }

/* "inf" or "nan" at i, not followed by more of an identifier. */
static int special_at(const parser *p, size_t i) {
    if (i + 3 > p->len) return 0;
    if (memcmp(p->src + i, "inf", 3) && memcmp(p->src + i, "nan", 3)) return 0;
    return !lex_is_ident_char(at(p, i + 3));
}

void lex_next(parser *p) {
    for (;;) {
        int c = at(p, p->pos);
        if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->src[p->pos] != '\n') p->pos++;
        } else {
            break;
        }
    }
    tok *t = &p->t;
    t->s = p->src + p->pos;
    t->n = 1;
    t->line = p->line;
    t->col = (int)(p->pos - p->line_start + 1);
    int c = at(p, p->pos);
    size_t start = p->pos;
    if (c < 0) {
        t->kind = T_EOF;
        t->n = 0;
        return;
    }
    if (c == '\n') {
        t->kind = T_NL;
        p->pos++;
        p->line++;
        p->line_start = p->pos;
        return;
    }
    if (lex_is_ident_start(c)) {
        while (lex_is_ident_char(at(p, p->pos))) p->pos++;
        t->kind = T_IDENT;
    } else if (c == '%') {
        p->pos++;
        while (lex_is_ident_char(at(p, p->pos))) p->pos++;
        t->kind = T_VAL;
    } else if (lex_is_digit(c) || c == '.' ||
               ((c == '-' || c == '+') &&
                (lex_is_digit(at(p, p->pos + 1)) || at(p, p->pos + 1) == '.' ||
                 special_at(p, p->pos + 1)))) {
        if (c == '-' || c == '+') p->pos++;
        if (special_at(p, p->pos)) {
            p->pos += 3;
        } else {
            for (;;) {
                int d = at(p, p->pos), prev = at(p, p->pos - 1);
                if (lex_is_ident_char(d) || d == '.' ||
                    ((d == '+' || d == '-') &&
                     (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P')))
                    p->pos++;
                else
                    break;
            }
        }
        t->kind = T_NUM;
    } else if (c && strchr("=,:[](){}", c)) {
        p->pos++;
        t->kind = T_PUNCT;
    } else {
        p->pos++;
        t->kind = T_BAD;
    }
    t->n = p->pos - start;
}

/* ---- errors -------------------------------------------------------- */

static const char *src_name(const parser *p) { return p->source ? p->source : "<text>"; }

void lex_describe(const tok *t, char *buf, size_t size) {
    int n = t->n > 40 ? 40 : (int)t->n;
    const char *more = t->n > 40 ? "..." : "";
    switch (t->kind) {
    case T_EOF: snprintf(buf, size, "end of input"); break;
    case T_NL: snprintf(buf, size, "end of line"); break;
    case T_NUM: snprintf(buf, size, "number '%.*s%s'", n, t->s, more); break;
    case T_BAD: {
        unsigned char c = (unsigned char)t->s[0];
        if (c >= 0x20 && c < 0x7f)
            snprintf(buf, size, "character '%c'", c);
        else
            snprintf(buf, size, "byte 0x%02x", c);
        break;
    }
    default: snprintf(buf, size, "'%.*s%s'", n, t->s, more); break;
    }
}

tj_status lex_error(const parser *p, const tok *t, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tj_set_error(TJ_ERR_PARSE, "%s:%d:%d: %s", src_name(p), t->line, t->col, msg);
}

tj_status lex_expected(const parser *p, const char *what) {
    char found[96];
    lex_describe(&p->t, found, sizeof found);
    return lex_error(p, &p->t, "expected %s, found %s", what, found);
}

/* ---- token helpers ------------------------------------------------- */

int lex_tok_is(const tok *t, const char *word) {
    return t->kind == T_IDENT && strlen(word) == t->n && !memcmp(t->s, word, t->n);
}
int lex_is_kw(const parser *p, const char *word) { return lex_tok_is(&p->t, word); }
int lex_is_punct(const parser *p, char c) { return p->t.kind == T_PUNCT && p->t.s[0] == c; }

int lex_accept_kw(parser *p, const char *word) {
    if (!lex_is_kw(p, word)) return 0;
    lex_next(p);
    return 1;
}
int lex_accept_punct(parser *p, char c) {
    if (!lex_is_punct(p, c)) return 0;
    lex_next(p);
    return 1;
}

tj_status lex_expect_punct(parser *p, char c) {
    char what[8] = {'\'', c, '\'', 0};
    if (!lex_accept_punct(p, c)) return lex_expected(p, what);
    return TJ_OK;
}

tj_status lex_expect_kw(parser *p, const char *word) {
    char what[40];
    snprintf(what, sizeof what, "'%s'", word);
    if (!lex_accept_kw(p, word)) return lex_expected(p, what);
    return TJ_OK;
}

tj_status lex_expect_eol(parser *p) {
    if (p->t.kind == T_EOF) return TJ_OK;
    if (p->t.kind != T_NL) return lex_expected(p, "end of line");
    lex_next(p);
    return TJ_OK;
}

/* An identifier, copied NUL-terminated into out[65]. */
tj_status lex_expect_ident(parser *p, const char *what, char out[65]) {
    if (p->t.kind != T_IDENT) return lex_expected(p, what);
    if (p->t.n > 64) return lex_error(p, &p->t, "%s is longer than 64 characters", what);
    memcpy(out, p->t.s, p->t.n);
    out[p->t.n] = '\0';
    lex_next(p);
    return TJ_OK;
}

/* A decimal integer in [lo, hi]. */
tj_status lex_int(parser *p, int64_t lo, int64_t hi, const char *what, int64_t *out) {
    tok t = p->t;
    if (t.kind != T_NUM) return lex_expected(p, what);
    size_t i = 0;
    int neg = 0;
    if (t.s[0] == '-' || t.s[0] == '+') neg = t.s[i++] == '-';
    if (i == t.n) return lex_expected(p, what);
    uint64_t v = 0;
    for (; i < t.n; i++) {
        if (!lex_is_digit((unsigned char)t.s[i])) return lex_expected(p, what);
        if (v > (UINT64_MAX - 9) / 10)
            return lex_error(p, &t, "number '%.*s' is too large", (int)(t.n > 40 ? 40 : t.n), t.s);
        v = v * 10 + (uint64_t)(t.s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return lex_error(p, &t, "number '%.*s' is too large", (int)(t.n > 40 ? 40 : t.n), t.s);
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < lo || x > hi)
        return lex_error(p, &t, "%s %lld is out of range (%lld..%lld)", what, (long long)x,
                         (long long)lo, (long long)hi);
    *out = x;
    lex_next(p);
    return TJ_OK;
}

tj_status lex_small(parser *p, const char *what, int *out) {
    int64_t v;
    TRY(lex_int(p, INT32_MIN, INT32_MAX, what, &v));
    *out = (int)v;
    return TJ_OK;
}

/* A float: what the printer writes (%g forms, inf, -inf, nan) and more. */
tj_status lex_double(parser *p, double *out) {
    tok t = p->t;
    char buf[72];
    if (t.kind == T_IDENT && (lex_tok_is(&t, "inf") || lex_tok_is(&t, "nan"))) {
        *out = lex_tok_is(&t, "inf") ? INFINITY : NAN;
        lex_next(p);
        return TJ_OK;
    }
    if (t.kind != T_NUM) return lex_expected(p, "a number");
    if (t.n >= sizeof buf)
        return lex_error(p, &t, "number is longer than %zu characters", sizeof buf - 1);
    memcpy(buf, t.s, t.n);
    buf[t.n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (*end || end == buf) return lex_expected(p, "a number");
    if (isinf(v) && !strstr(buf, "inf"))
        return lex_error(p, &t, "number '%s' is out of the range of a double", buf);
    if (isnan(v)) v = NAN; /* one NaN: the text form keeps no payload or sign */
    *out = v;
    lex_next(p);
    return TJ_OK;
}
