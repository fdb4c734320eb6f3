/*
 * emit_ptx_stub.c — the LLVM back end in a library built without LLVM
 * (meson -Dllvm=disabled, or no LLVM 19 found): every call says so.
 */
#include <string.h>

#include "emit_ptx.h"

static tj_status absent(void) {
    return tj_set_error(TJ_ERR_UNSUPPORTED,
                        "this tilejit was built without LLVM: the PTX back end needs LLVM 19 or "
                        "later (install llvm-19-dev and reconfigure with -Dllvm=enabled)");
}

int emit_ptx_available(void) { return 0; }
const char *emit_ptx_backend_id(void) { return NULL; }

tj_status emit_ptx(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                   const char *force, char **ptx, emit_launch *launch) {
    (void)g, (void)arch, (void)sym_vals, (void)force, (void)launch;
    if (ptx) *ptx = NULL;
    return absent();
}

tj_status emit_ptx_llvm_ir(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                           char **ir) {
    (void)g, (void)arch, (void)sym_vals;
    if (ir) *ir = NULL;
    return absent();
}

void emit_ptx_last_times(emit_ptx_times *out) {
    if (out) memset(out, 0, sizeof *out);
}
