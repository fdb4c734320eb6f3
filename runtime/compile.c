/*
 * compile.c — a graph to a cubin: the chosen lowering's CUDA C++ handed
 * to NVRTC with the embedded templates as in-memory headers; or, with
 * TJ_COMPILE_BACKEND_LLVM, the generic lowering through LLVM
 * (runtime/jitlink.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "jitlink.h"
#include "nvrtc.h"
#include "templates.h"
#include "compile.h"

tj_status compile_graph(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                        unsigned flags, void **cubin, size_t *size, char **log,
                        emit_launch *launch) {
    return compile_graph_as(g, arch, sym_vals, NULL, flags, cubin, size, log, launch);
}

tj_status compile_graph_as(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                           const char *schedule, unsigned flags, void **cubin, size_t *size,
                           char **log, emit_launch *launch) {
    if (!cubin || !size)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_compile: %s is NULL", !cubin ? "cubin" : "size");
    *cubin = NULL;
    *size = 0;
    if (log) *log = NULL;
    if (flags & ~(TJ_COMPILE_IN_CHILD | TJ_COMPILE_BACKEND_LLVM))
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_compile: unknown flags 0x%x", flags);
    if (flags & TJ_COMPILE_BACKEND_LLVM) {
        /* The LLVM back end has the generic lowering only: a forced fast
         * schedule is refused there; otherwise no schedule is picked. */
        if (schedule && strcmp(schedule, "generic"))
            return tj_set_error(TJ_ERR_UNSUPPORTED,
                                "tj_compile: the LLVM back end has only the generic lowering, "
                                "not schedule '%s'", schedule);
        return jitlink_compile_graph(g, arch, sym_vals, cubin, size, log, launch);
    }
    char *src = NULL;
    tj_status st = emit_kernel(g, arch, sym_vals, schedule, &src, launch);
    if (st != TJ_OK) return st;
    st = compile_source(g, arch, src, flags, cubin, size, log);
    free(src);
    return st;
}

tj_status compile_source(const tj_graph *g, const char *arch, const char *src, unsigned flags,
                         void **cubin, size_t *size, char **log) {
    *cubin = NULL;
    *size = 0;
    if (log) *log = NULL;
    int nh = tj_template_count();
    nvrtc_header *hs = calloc((size_t)(nh > 0 ? nh : 1), sizeof *hs);
    if (!hs) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_compile: out of memory");
    for (int i = 0; i < nh; i++) hs[i] = (nvrtc_header){tj_template_name(i), tj_template_text(i)};
    char name[128];
    snprintf(name, sizeof name, "%s.cu", tj_graph_name(g));
    nvrtc_request req = {0};
    req.source = src;
    req.name = name;
    req.arch = arch;
    req.headers = hs;
    req.nheaders = nh;
    req.in_child = (flags & TJ_COMPILE_IN_CHILD) != 0;
    req.timeout_s = req.in_child ? 600 : 0;
    nvrtc_result res = {0};
    tj_status st = nvrtc_compile(&req, &res);
    if (st == TJ_OK) {
        *cubin = res.cubin;
        *size = res.cubin_size;
        res.cubin = NULL;
    }
    if (log) {
        *log = res.log;
        res.log = NULL;
    }
    nvrtc_result_free(&res);
    free(hs);
    return st;
}

tj_status tj_compile(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                     unsigned flags, void **cubin, size_t *size, char **log) {
    return compile_graph(g, arch, sym_vals, flags, cubin, size, log, NULL);
}
