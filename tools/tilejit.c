/*
 * tilejit.c — the command line: the command table, help and dispatch.
 * Each subcommand lives in its own file (tools/cmd_*.c) and uses only the
 * public API in tilejit.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command cli_commands[] = {
    {"recipes", "",
     "list the built-in recipes with their parameters and defaults",
     "Prints one block per recipe: its name, a one-line summary and its\n"
     "parameters as key=value with their default values. Any of them can be\n"
     "given to `tilejit dump`.\n",
     cli_recipes},
    {"dump", "RECIPE [key=value ...]",
     "build a recipe and print its canonical text form",
     "Builds RECIPE with the given parameters (the rest keep their defaults),\n"
     "verifies it and writes its canonical text (.tj) to stdout. The output\n"
     "can be saved, edited and read back by `check` and `run-cpu`.\n"
     "\n"
     "  tilejit dump attention d=128 causal=1 > attn.tj\n",
     cli_dump},
    {"check", "FILE|-",
     "parse and verify a graph in text form",
     "Reads a graph in canonical text form from FILE (or stdin for -),\n"
     "parses and verifies it. On success prints the graph's name, its\n"
     "arguments and hash. On failure prints the error, which names the line,\n"
     "and exits 1.\n"
     "\n"
     "  tilejit dump softmax | tilejit check -\n",
     cli_check},
    {"run-cpu", "FILE|- --bind SYM=N ... [--seed S] [--scalar NAME=V ...] [--f64]",
     "run a graph in the CPU interpreter on seeded random inputs",
     "Parses FILE (or stdin), binds every symbol, fills each tensor with\n"
     "random data from the seed and runs the graph in the reference\n"
     "interpreter. Prints, for each tensor the graph stores to, the sum and\n"
     "the sum of absolute values of its elements, then the time taken.\n"
     "The same seed gives the same inputs, and so the same checksums.\n"
     "\n"
     "Inputs: floats uniform in [-1, 1] (|x| >= 1/64, so none rounds to zero),\n"
     "integers in 1..7, bools 0 or 1. Scalar arguments: floats in [1/64, 1],\n"
     "integers in 1..7, unless set with --scalar.\n"
     "\n"
     "Options:\n"
     "  --bind SYM=N[,SYM=N...]  the value of a symbol (repeatable; required\n"
     "                           for every symbol)\n"
     "  --seed S                 the random seed (default 1)\n"
     "  --scalar NAME=V          the value of a scalar argument (repeatable)\n"
     "  --f64                    compute in f64 instead of f32\n"
     "\n"
     "  tilejit dump rmsnorm | tilejit run-cpu - --bind rows=64,cols=512\n",
     cli_run_cpu},
    {"demo", "[--seed S] [--bundle FILE] [--cpu-only]",
     "interpret every recipe; then JIT a few on the GPU, or prebuild them",
     "For each recipe at its default parameters: build it, verify it, check\n"
     "that its text form reads back to the same text, bind its symbols to\n"
     "small sizes (just under a tile multiple where the graph allows, so\n"
     "edges are masked), and run it in the interpreter on random inputs\n"
     "(seed 1). Prints a table of the recipe, the size of its text form, the\n"
     "start of its hash, the sizes used, the time and the checksum (the sum\n"
     "over every tensor it stores to). Exits 1 if any recipe failed.\n"
     "\n"
     "Then, on a GPU: JIT-compiles attention (seq 128, 1000, 4096), gemm with\n"
     "bias and gelu, and rmsnorm through tj_kernel_launch, checks each against\n"
     "the interpreter and prints first-launch and median times, throughput\n"
     "and the max error. With no GPU: prebuilds them for sm_90a into a bundle\n"
     "(or says NVRTC is missing, still exiting 0).\n"
     "\n"
     "Options:\n"
     "  --seed S       the random seed (default 1)\n"
     "  --bundle FILE  where to prebuild (default $TMPDIR/tilejit-demo.bundle)\n"
     "  --cpu-only     the interpreter table only\n",
     cli_demo},
    {"emit", "FILE|- [--arch A] [--bind SYM=N ...] [--schedule S] [--lang L]",
     "print the kernel tilejit compiles for a graph (no GPU needed)",
     "Parse and verify the graph, specialize it at the bindings (exact and\n"
     "bucketed symbols must be bound; dynamic ones may be) and print the\n"
     "kernel's CUDA C++, which includes the embedded tj/ templates. Its\n"
     "first line names the schedule picked (docs/schedules.md) and, for the\n"
     "generic lowering, why each fast schedule declined.\n"
     "\n"
     "Options:\n"
     "  --arch A        target, sm_80 or later (default sm_90a)\n"
     "  --bind SYM=N    a symbol's value; repeat, or SYM=N,SYM2=M\n"
     "  --schedule S    insist on a schedule: generic, decode, attention_sm90,\n"
     "                  gemm_sm90, rows, ... (docs/schedules.md; an\n"
     "                  error says why when it does not apply)\n"
     "  --lang L        cuda (default); ptx or llvm: the LLVM back end's PTX\n"
     "                  or LLVM IR of the generic lowering (built with -Dllvm)\n"
     "\n"
     "Example:\n"
     "  tilejit dump softmax | tilejit emit - --bind cols=4096\n",
     cli_emit},
    {"compile", "FILE|- --arch A [--bind SYM=N ...] [--schedule S] [--backend B] -o OUT.cubin",
     "compile the graph to a cubin with NVRTC or LLVM (no GPU needed)",
     "Emit as `tilejit emit` does and compile with NVRTC (found with dlopen;\n"
     "TILEJIT_NVRTC names the library) to a cubin for the arch. The compile\n"
     "runs in a child process, so a compiler crash is an error, not a crash\n"
     "of tilejit (--in-process turns that off). With --backend llvm the\n"
     "generic lowering goes through LLVM to PTX and nvJitLink to a cubin.\n"
     "\n"
     "Options:\n"
     "  --arch A        target, e.g. sm_80, sm_90a (default sm_90a)\n"
     "  --bind SYM=N    a symbol's value\n"
     "  --schedule S    insist on a schedule (as for emit)\n"
     "  --backend B     nvrtc (default) or llvm (built with -Dllvm)\n"
     "  -o FILE         where to write the cubin\n"
     "  --in-process    compile in this process\n"
     "\n"
     "Example:\n"
     "  tilejit dump gemm | tilejit compile - --arch sm_90a --bind M=4096,N=4096,K=4096 -o g.cubin\n",
     cli_compile},
    {"prebuild", "MANIFEST --arch A[,B...] (-o BUNDLE | --cache-dir DIR) [-j N] [--in-child]",
     "compile a manifest's graphs x bindings x archs into a bundle (no GPU needed)",
     "Reads MANIFEST (or - for stdin): one `recipe NAME [k=v ...]` or\n"
     "`file PATH.tj` line per graph, each followed by `bind SYM=V1,V2,...`\n"
     "lines (every combination of the listed values is built; # comments).\n"
     "Compiles every graph x binding x arch with NVRTC on every core and\n"
     "writes one bundle (-o), or fills a cache directory (--cache-dir),\n"
     "then prints how many kernels were compiled and how fast.\n"
     "\n"
     "Options:\n"
     "  --arch A[,B...]   targets, e.g. sm_90a,sm_80 (repeatable)\n"
     "  -o BUNDLE         the bundle to write (for TILEJIT_BUNDLES)\n"
     "  --cache-dir DIR   fill this cache directory instead\n"
     "  -j N              compiling threads (default: every core)\n"
     "  --in-child        each compile in a child process\n"
     "\n"
     "Example:\n"
     "  printf 'recipe rmsnorm\\nbind rows=1,64\\n' | tilejit prebuild - --arch sm_90a -o k.tjb\n",
     cli_prebuild},
    {"cache", "ls|stats|verify|clear|explain [--dir D] [--bundle B ...]",
     "list, check, clear the kernel cache; explain a miss",
     "  ls        list entries (most recently used first) and those of --bundle\n"
     "  stats     count entries, bytes, temporary and lock files\n"
     "  verify    check every entry and --bundle fully; exit 1 when any is\n"
     "            damaged (--repair removes damaged entries)\n"
     "  clear     remove every entry\n"
     "  explain FILE|- | recipe NAME [k=v ...]  [--arch A] [--bind SYM=N ...]\n"
     "            compute the graph's key and name the key component that\n"
     "            differs from the nearest entry in the cache or --bundle\n"
     "\n"
     "--dir D is the cache directory (default: $TILEJIT_CACHE_DIR, else\n"
     "$XDG_CACHE_HOME/tilejit, else ~/.cache/tilejit).\n",
     cli_cache},
    {"tune", "gemm [k=v ...] --shape MxNxK ... [--reps N] [--top N] [--dir D] [--no-store] [--model]",
     "time the GEMM tile candidates of shapes on the GPU; keep the fastest in the cache",
     "For each --shape, builds the gemm recipe (with the given parameters) at\n"
     "each tile the configuration model proposes for that shape on this GPU,\n"
     "compiles them, times them with CUDA events (the median of --reps runs\n"
     "each after a warm-up, the candidates taking turns), checks the fastest\n"
     "against the CPU interpreter on two sampled blocks of the output, and\n"
     "stores it as a tuning record in the cache directory. Later builds of the\n"
     "recipe for that shape on this device (tj_recipe_gemm_for_shape) use the\n"
     "record instead of the model (TILEJIT_NO_TUNED=1: the model alone).\n"
     "Needs a CUDA GPU and NVRTC; without a GPU it fails (exit 1).\n"
     "\n"
     "Options:\n"
     "  --shape MxNxK  a shape to tune (repeatable)\n"
     "  --reps N       timed runs of each candidate (default 50)\n"
     "  --top N        only the model's N best candidates (default: all)\n"
     "  --dir D        the cache directory (default: as kernels use)\n"
     "  --no-store     measure and print, store nothing\n"
     "  --seed S       the inputs' random seed (default 1)\n"
     "  --model        print the model's ranking only (no GPU needed); with\n"
     "                 --arch A (default sm_90a) and --sms N (default 132)\n"
     "\n"
     "Example:\n"
     "  tilejit tune gemm trans_b=1 --shape 128x4096x4096 --shape 2048x2048x2048\n",
     cli_tune},
};
enum { CLI_NCOMMANDS = (int)(sizeof cli_commands / sizeof cli_commands[0]) };

static const cli_command *find_command(const char *name) {
    for (int i = 0; i < CLI_NCOMMANDS; i++)
        if (!strcmp(cli_commands[i].name, name)) return &cli_commands[i];
    return NULL;
}

static void print_overview(FILE *f) {
    fprintf(f,
            "tilejit %s — JIT generation of GPU kernels from tile-op graphs\n"
            "\n"
            "Usage: tilejit COMMAND [ARGS...]\n"
            "       tilejit help COMMAND\n"
            "       tilejit --version\n"
            "\n"
            "Commands:\n",
            tj_version());
    for (int i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "show help for a command");
    fprintf(f,
            "\n"
            "Exit status: 0 success, 1 failure (file, parse, verify, run), 2 usage.\n"
            "Files may be - for stdin. See docs/cli.md for the manual.\n");
}

int cli_print_help(const char *name) {
    const cli_command *c = find_command(name);
    if (!c) {
        if (!strcmp(name, "help")) {
            printf("Usage: tilejit help COMMAND\n\nShows the help of COMMAND.\n");
            return CLI_OK;
        }
        return cli_usage("help", "unknown command '%s' (see 'tilejit --help')", name);
    }
    printf("Usage: tilejit %s%s%s\n\n%s\n%s", c->name, *c->args ? " " : "", c->args, c->summary,
           *c->help ? "\n" : "");
    fputs(c->help, stdout);
    return CLI_OK;
}

int cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

static int vreport(const char *cmd, const char *fmt, va_list ap) {
    fprintf(stderr, "tilejit%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return 0;
}

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    if (cmd && find_command(cmd)) fprintf(stderr, "Try 'tilejit help %s'.\n", cmd);
    return CLI_USAGE;
}

int cli_status_exit(tj_status s) {
    if (s == TJ_OK) return CLI_OK;
    return (s == TJ_ERR_INVALID_ARG || s == TJ_ERR_UNBOUND) ? CLI_USAGE : CLI_FAIL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_overview(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd)) {
        print_overview(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("tilejit %s\n", tj_version());
        return CLI_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc == 2) {
            print_overview(stdout);
            return CLI_OK;
        }
        if (argc > 3) return cli_usage("help", "takes one command name");
        return cli_print_help(argv[2]);
    }
    if (cmd[0] == '-') return cli_usage(NULL, "unknown option '%s' (see 'tilejit --help')", cmd);
    const cli_command *c = find_command(cmd);
    if (!c) return cli_usage(NULL, "unknown command '%s' (see 'tilejit --help')", cmd);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (cli_is_help(argv[i])) return cli_print_help(c->name);
    }
    return c->run(argc - 1, argv + 1);
}
