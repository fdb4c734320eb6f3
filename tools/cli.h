/*
 * cli.h — what the files of the tilejit command line share: the command
 * table, exit codes, reporting helpers, input reading and the seeded run
 * of a graph in the CPU interpreter. The graph commands use the public
 * API only; prebuild and cache also use the runtime's internal headers
 * (cache.h, prebuild.h), linked from the static library.
 */
#ifndef TJ_CLI_H
#define TJ_CLI_H

#include <stdint.h>

#include "tilejit.h"

/* Exit codes: 0 success, 1 the operation failed (a file, a parse, a verify,
 * a run), 2 the command line is wrong (unknown command or option, a bad
 * binding or parameter). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* One subcommand. `run` gets argv with argv[0] = the command's name. Later
 * subcommands (emit, compile, prebuild, cache, bench) are rows added to
 * cli_commands[] in tilejit.c. */
typedef struct cli_command {
    const char *name;
    const char *args;      /* synopsis after the name: "FILE|- [--seed S]" */
    const char *summary;   /* one line, for `tilejit --help` */
    const char *help;      /* the rest of `tilejit help NAME` */
    int (*run)(int argc, char **argv);
} cli_command;

int cli_recipes(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_run_cpu(int argc, char **argv);
int cli_demo(int argc, char **argv);
/* demo's second part: JIT on the local GPU, else a prebuilt bundle at
 * `bundle` (NULL: $TMPDIR/tilejit-demo.bundle). */
int cli_demo_gpu(uint64_t seed, const char *bundle);
int cli_emit(int argc, char **argv);
int cli_compile(int argc, char **argv);
int cli_prebuild(int argc, char **argv);
int cli_cache(int argc, char **argv);
int cli_tune(int argc, char **argv);

/* "tilejit CMD: message\n" on stderr; return CLI_FAIL / CLI_USAGE. The
 * usage form adds a pointer to `tilejit help CMD`. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print `tilejit help CMD` for a command name; CLI_USAGE when unknown. */
int cli_print_help(const char *name);
/* 1 when arg is -h or --help. */
int cli_is_help(const char *arg);
/* The exit code for a library status: argument errors are usage errors. */
int cli_status_exit(tj_status s);

/* "--opt VALUE" or "--opt=VALUE": 1 when argv[*i] is option `name` (*val
 * its value, *i past it; *err = 1 when the value is missing), else 0. */
int cli_opt_value(const char *name, int argc, char **argv, int *i, const char **val, int *err);

/* Read a whole file ("-" = stdin) into a malloc'd, NUL-terminated buffer.
 * On failure sets tj-style message in `err` and returns NULL. */
char *cli_read_input(const char *path, size_t *len, char *err, size_t errsize);
/* Parse (and so verify) a graph from FILE or "-". Reports the failure as
 * `cmd` and returns its exit code; CLI_OK with *out set on success. */
int cli_load_graph(const char *cmd, const char *path, tj_graph **out);

/* Checksums of one tensor after a run. */
typedef struct cli_tensor_sum {
    const char *name;      /* owned by the graph */
    tj_dtype dtype;
    int64_t elements;      /* buffer extent */
    double sum, abs_sum;
    int output;            /* stored to by the graph */
} cli_tensor_sum;

typedef struct cli_run_result {
    int ntensors;
    cli_tensor_sum *tensors;   /* malloc'd, ntensors */
    int64_t grid[TJ_MAX_GRID];
    double seconds;            /* tj_interp_run alone */
    char error[1024];          /* why it failed, when it did */
} cli_run_result;

/* Run g in the interpreter on seeded random inputs: floats uniform in
 * [-1, 1] (drawn away from zero, so no element rounds to 0 even in fp8),
 * integers in 1..7, bools 0 or 1. Scalar arguments come from `scalars`
 * where not NaN, else random (floats in [1/64, 1], integers in 1..7).
 * Every symbol must be bound. On failure out->error says why. */
tj_status cli_run_graph(const tj_graph *g, const int64_t *sym_vals, const double *scalars,
                        uint64_t seed, unsigned flags, cli_run_result *out);
void cli_run_result_free(cli_run_result *r);

/* Parse one --bind argument: "a=1" or "a=1,b=2". */
tj_status cli_bind(const tj_graph *g, const char *arg, int64_t *vals);
/* Parse a decimal integer (whole string); 0 when it is not one. */
int cli_parse_i64(const char *s, int64_t *out);

#endif /* TJ_CLI_H */
