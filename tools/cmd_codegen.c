/*
 * cmd_codegen.c — `tilejit emit` and `tilejit compile`: the kernel's CUDA
 * C++ (or, through LLVM, its PTX or LLVM IR), and a cubin through NVRTC
 * (or LLVM + nvJitLink). Both work with no GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "emit.h"
#include "emit_ptx.h"

typedef struct codegen_args {
    const char *file;
    const char *arch;
    const char *out;
    const char *lang;       /* emit: cuda, ptx, llvm */
    const char *backend;    /* compile: nvrtc, llvm */
    const char *schedule;   /* emit_kernel's `force`; NULL picks */
    int in_process;
    int nbinds;
    const char *binds[64];
} codegen_args;

static int parse_args(const char *cmd, int argc, char **argv, codegen_args *a, int need_out) {
    memset(a, 0, sizeof *a);
    a->arch = "sm_90a";
    a->lang = "cuda";
    a->backend = "nvrtc";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (cli_is_help(s)) return cli_print_help(cmd), -1;
        if (!strcmp(s, "--arch") || !strcmp(s, "--bind") || !strcmp(s, "-o") ||
            !strcmp(s, "--schedule") || (!need_out && !strcmp(s, "--lang")) ||
            (need_out && !strcmp(s, "--backend"))) {
            if (i + 1 >= argc) return cli_usage(cmd, "%s needs a value", s);
            const char *v = argv[++i];
            if (!strcmp(s, "--arch")) a->arch = v;
            else if (!strcmp(s, "--schedule")) a->schedule = v;
            else if (!strcmp(s, "--lang")) a->lang = v;
            else if (!strcmp(s, "--backend")) a->backend = v;
            else if (!strcmp(s, "-o")) a->out = v;
            else if (a->nbinds < 64) a->binds[a->nbinds++] = v;
            else return cli_usage(cmd, "too many --bind options");
        } else if (!strcmp(s, "--in-process")) {
            a->in_process = 1;
        } else if (s[0] == '-' && s[1]) {
            return cli_usage(cmd, "unknown option '%s'", s);
        } else if (!a->file) {
            a->file = s;
        } else {
            return cli_usage(cmd, "one graph file at a time ('%s' is extra)", s);
        }
    }
    if (!a->file) return cli_usage(cmd, "which graph? give a .tj file or - for stdin");
    if (need_out && !a->out) return cli_usage(cmd, "where to? give -o OUT.cubin");
    if (strcmp(a->lang, "cuda") && strcmp(a->lang, "ptx") && strcmp(a->lang, "llvm"))
        return cli_usage(cmd, "--lang is cuda, ptx or llvm, not '%s'", a->lang);
    if (strcmp(a->backend, "nvrtc") && strcmp(a->backend, "llvm"))
        return cli_usage(cmd, "--backend is nvrtc or llvm, not '%s'", a->backend);
    return CLI_OK;
}

/* Load the graph and bind its symbols; dynamic ones may stay unbound. */
static int load_bound(const char *cmd, const codegen_args *a, tj_graph **g, int64_t **vals) {
    int rc = cli_load_graph(cmd, a->file, g);
    if (rc != CLI_OK) return rc;
    int n = tj_num_symbols(*g);
    *vals = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    for (int s = 0; s < n; s++) (*vals)[s] = TJ_UNBOUND;
    for (int b = 0; b < a->nbinds; b++) {
        tj_status st = cli_bind(*g, a->binds[b], *vals);
        if (st != TJ_OK) return cli_usage(cmd, "%s", tj_last_error());
    }
    return CLI_OK;
}

int cli_emit(int argc, char **argv) {
    codegen_args a;
    int rc = parse_args("emit", argc, argv, &a, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    tj_graph *g = NULL;
    int64_t *vals = NULL;
    rc = load_bound("emit", &a, &g, &vals);
    if (rc == CLI_OK) {
        char *src = NULL;
        tj_status st;
        if (!strcmp(a.lang, "ptx"))
            st = emit_ptx(g, a.arch, vals, a.schedule, &src, NULL);
        else if (!strcmp(a.lang, "llvm"))
            st = a.schedule && strcmp(a.schedule, "generic")
                     ? emit_ptx(g, a.arch, vals, a.schedule, &src, NULL)   /* its refusal */
                     : emit_ptx_llvm_ir(g, a.arch, vals, &src);
        else
            st = emit_kernel(g, a.arch, vals, a.schedule, &src, NULL);
        if (st != TJ_OK)
            rc = st == TJ_ERR_INVALID_ARG || st == TJ_ERR_UNBOUND ? cli_usage("emit", "%s", tj_last_error())
                                                                   : cli_fail("emit", "%s", tj_last_error());
        else
            fputs(src, stdout);
        tj_free(src);
    }
    free(vals);
    tj_graph_free(g);
    return rc;
}

int cli_compile(int argc, char **argv) {
    codegen_args a;
    int rc = parse_args("compile", argc, argv, &a, 1);
    if (rc) return rc < 0 ? CLI_OK : rc;
    tj_graph *g = NULL;
    int64_t *vals = NULL;
    rc = load_bound("compile", &a, &g, &vals);
    if (rc == CLI_OK) {
        void *cubin = NULL;
        size_t size = 0;
        char *log = NULL;
        /* A compiler crash must not take the CLI down: compile in a child
         * unless asked not to. */
        unsigned flags = a.in_process ? 0 : TJ_COMPILE_IN_CHILD;
        if (!strcmp(a.backend, "llvm")) flags = TJ_COMPILE_BACKEND_LLVM;
        tj_status st = compile_graph_as(g, a.arch, vals, a.schedule, flags, &cubin, &size, &log,
                                        NULL);
        if (st != TJ_OK) {
            if (log && *log) fprintf(stderr, "%s\n", log);
            rc = st == TJ_ERR_INVALID_ARG || st == TJ_ERR_UNBOUND
                     ? cli_usage("compile", "%s", tj_last_error())
                     : cli_fail("compile", "%s", tj_last_error());
        } else {
            FILE *f = fopen(a.out, "wb");
            int written = f && fwrite(cubin, 1, size, f) == size;
            if (f && fclose(f) != 0) written = 0;
            if (!written) {
                rc = cli_fail("compile", "cannot write %s", a.out);
            } else {
                fprintf(stderr, "tilejit compile: wrote %s (%zu bytes, %s, %s)\n", a.out, size,
                        a.arch, size > 4 && !memcmp(cubin, "\x7f" "ELF", 4) ? a.backend
                                : "llvm: PTX for the driver (no nvJitLink)");
            }
        }
        tj_free(cubin);
        tj_free(log);
    }
    free(vals);
    tj_graph_free(g);
    return rc;
}
