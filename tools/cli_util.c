/*
 * cli_util.c — what several commands need: reading input, loading a
 * graph, parsing bindings, and a seeded run of a graph in the interpreter.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Inputs larger than this are refused rather than half-read. */
#define CLI_MAX_INPUT ((size_t)256 << 20)
/* The interpreter is for small sizes; refuse buffers that would swap. */
#define CLI_MAX_BUFFERS ((int64_t)4 << 30)

char *cli_read_input(const char *path, size_t *len, char *err, size_t errsize) {
    err[0] = '\0';
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > CLI_MAX_INPUT) {
                snprintf(err, errsize, "'%s' is larger than %zu MiB", path, CLI_MAX_INPUT >> 20);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errsize, "cannot read '%s': %s", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (!buf && !*err) snprintf(err, errsize, "out of memory reading '%s'", path);
    if (!is_stdin) fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

int cli_load_graph(const char *cmd, const char *path, tj_graph **out) {
    char err[512] = "";
    size_t len = 0;
    char *text = cli_read_input(path, &len, err, sizeof err);
    if (!text) return cli_fail(cmd, "%s", err);
    const char *source = strcmp(path, "-") ? path : "<stdin>";
    tj_status s = tj_graph_parse(text, len, source, out);
    free(text);
    if (s != TJ_OK) {
        *out = NULL;
        return cli_fail(cmd, "%s", tj_last_error());
    }
    return CLI_OK;
}

int cli_parse_i64(const char *s, int64_t *out) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

tj_status cli_bind(const tj_graph *g, const char *arg, int64_t *vals) {
    char buf[1024];
    if (strlen(arg) >= sizeof buf)
        return tj_bind_parse(g, arg, vals); /* let the library word the error */
    strcpy(buf, arg);
    char *save = NULL;
    int any = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tj_status s = tj_bind_parse(g, tok, vals);
        if (s != TJ_OK) return s;
        any = 1;
    }
    return any ? TJ_OK : tj_bind_parse(g, arg, vals);
}

/* ---- seeded inputs -------------------------------------------------- */

/* xorshift64*, as the test harness uses: the same seed, the same inputs on
 * every platform. */
static uint64_t rng_next(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(uint64_t *state) {   /* [0, 1) */
    return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [-1, 1] but at least 1/64 from zero: fp8 e4m3 rounds values
 * below 2^-10 to zero, and zeros hide bugs. */
static double rng_float(uint64_t *state) {
    for (;;) {
        double x = 2.0 * rng_unit(state) - 1.0;
        if (fabs(x) >= 1.0 / 64) return x;
    }
}

static int is_float_dtype(tj_dtype t) {
    return t == TJ_F32 || t == TJ_F16 || t == TJ_BF16 || t == TJ_F8E4M3 || t == TJ_F8E5M2 ||
           t == TJ_F64;
}

static double random_elem(tj_dtype t, uint64_t *state) {
    if (is_float_dtype(t)) return rng_float(state);
    if (t == TJ_BOOL) return (double)(rng_next(state) >> 63);
    return (double)(1 + rng_next(state) % 7);
}

static tj_status fill_random(tj_dtype t, void *buf, int64_t n, uint64_t *state) {
    enum { CHUNK = 4096 };
    double tmp[CHUNK];
    size_t es = tj_dtype_size(t);
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        for (int64_t i = 0; i < m; i++) tmp[i] = random_elem(t, state);
        tj_status s = tj_convert(t, (char *)buf + (size_t)off * es, TJ_F64, tmp, (size_t)m);
        if (s != TJ_OK) return s;
    }
    return TJ_OK;
}

static tj_status checksum(tj_dtype t, const void *buf, int64_t n, double *sum, double *abs_sum) {
    enum { CHUNK = 4096 };
    double tmp[CHUNK];
    size_t es = tj_dtype_size(t);
    double s = 0, a = 0;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        tj_status st = tj_convert(TJ_F64, tmp, t, (const char *)buf + (size_t)off * es, (size_t)m);
        if (st != TJ_OK) return st;
        for (int64_t i = 0; i < m; i++) {
            s += tmp[i];
            a += fabs(tmp[i]);
        }
    }
    *sum = s;
    *abs_sum = a;
    return TJ_OK;
}

/* ---- outputs ---------------------------------------------------------- */

/* A tensor is an output when the graph stores to it. The public API does
 * not say which tensors those are, so read it from the text form, where a
 * store is a line "store NAME [coords], value" (docs/graph.md). */
static int text_stores_to(const char *text, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, "store ", 6) && !strncmp(p + 6, name, nl) && p[6 + nl] == ' ') return 1;
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : p + strlen(p);
    }
    return 0;
}

/* A failure of the CLI's own (no library call to word it). */
static tj_status run_error(cli_run_result *r, tj_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tj_status run_error(cli_run_result *r, tj_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return s;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_run_result_free(cli_run_result *r) {
    if (!r) return;
    free(r->tensors);
    r->tensors = NULL;
    r->ntensors = 0;
}

tj_status cli_run_graph(const tj_graph *g, const int64_t *sym_vals, const double *scalars,
                        uint64_t seed, unsigned flags, cli_run_result *out) {
    memset(out, 0, sizeof *out);
    int nt = tj_num_tensors(g), ns = tj_num_scalars(g);
    tj_status s = tj_graph_grid(g, sym_vals, out->grid);
    if (s != TJ_OK) {
        snprintf(out->error, sizeof out->error, "%s", tj_last_error());
        return s;
    }

    void **bufs = calloc((size_t)nt + 1, sizeof *bufs);
    double *scal = calloc((size_t)ns + 1, sizeof *scal);
    out->tensors = calloc((size_t)nt + 1, sizeof *out->tensors);
    char *text = NULL;
    if (!bufs || !scal || !out->tensors) {
        s = run_error(out, TJ_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    out->ntensors = nt;
    /* Two seeds' streams never overlap in practice; 0 would stick at 0. */
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 0x7131e5eedULL;
    if (!state) state = 1;

    int64_t total = 0;
    for (int i = 0; i < nt; i++) {
        tj_tensor t = {i};
        cli_tensor_sum *ts = &out->tensors[i];
        ts->name = tj_tensor_name(g, t);
        ts->dtype = tj_tensor_dtype(g, t);
        s = tj_tensor_extent(g, t, sym_vals, &ts->elements);
        if (s != TJ_OK) goto done;
        int64_t bytes = ts->elements * (int64_t)tj_dtype_size(ts->dtype);
        total += bytes;
        if (total > CLI_MAX_BUFFERS) {
            s = run_error(out, TJ_ERR_INVALID_ARG,
                                 "tensor '%s' needs %lld elements, taking the buffers past "
                                 "%lld GiB: bind smaller sizes for the interpreter",
                                 ts->name, (long long)ts->elements,
                                 (long long)(CLI_MAX_BUFFERS >> 30));
            goto done;
        }
        bufs[i] = malloc((size_t)bytes + 1);
        if (!bufs[i]) {
            s = run_error(out, TJ_ERR_NO_MEMORY, "out of memory for tensor '%s' (%lld bytes)",
                                 ts->name, (long long)bytes);
            goto done;
        }
        s = fill_random(ts->dtype, bufs[i], ts->elements, &state);
        if (s != TJ_OK) goto done;
    }
    for (int i = 0; i < ns; i++) {
        tj_dtype t = tj_scalar_dtype(g, i);
        double r = is_float_dtype(t) ? 1.0 / 64 + (1 - 1.0 / 64) * rng_unit(&state)
                                     : (double)(1 + rng_next(&state) % 7);
        scal[i] = (scalars && !isnan(scalars[i])) ? scalars[i] : r;
    }

    double t0 = now_seconds();
    s = tj_interp_run(g, sym_vals, bufs, scal, flags);
    out->seconds = now_seconds() - t0;
    if (s != TJ_OK) goto done;

    if (tj_graph_print(g, &text) != TJ_OK) text = NULL;
    for (int i = 0; i < nt; i++) {
        cli_tensor_sum *ts = &out->tensors[i];
        ts->output = text && text_stores_to(text, ts->name);
        s = checksum(ts->dtype, bufs[i], ts->elements, &ts->sum, &ts->abs_sum);
        if (s != TJ_OK) goto done;
    }

done:
    tj_free(text);
    for (int i = 0; bufs && i < nt; i++) free(bufs[i]);
    free(bufs);
    free(scal);
    if (s != TJ_OK) {
        if (!out->error[0]) snprintf(out->error, sizeof out->error, "%s", tj_last_error());
        cli_run_result_free(out);
    }
    return s;
}

int cli_opt_value(const char *name, int argc, char **argv, int *i, const char **val, int *err) {
    const char *s = argv[*i];
    size_t n = strlen(name);
    if (strncmp(s, name, n)) return 0;
    if (s[n] == '=') {
        *val = s + n + 1;
        return 1;
    }
    if (s[n]) return 0;
    if (*i + 1 >= argc) {
        *err = 1;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}
