/*
 * sched_compile.h — the schedule tests' compile check: an emitted kernel
 * through NVRTC in a child (a compiler crash fails the case, not the
 * test binary), with ptxas's resource report, failing on a compile error,
 * on spills (unless allowed) and, where asked, on wgmma instructions
 * ptxas serialized. TJ_TEST_VERBOSE=1 prints the report, TJ_TEST_DUMP=1
 * the source.
 */
#ifndef TJ_TESTS_SCHED_COMPILE_H
#define TJ_TESTS_SCHED_COMPILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrtc.h"
#include "templates.h"

#define SC_SPILLS_OK 1u       /* compiled is enough: spills allowed */
#define SC_NO_SERIALIZE 2u    /* ptxas must not have serialized the wgmmas */

/* NVRTC is there and knows arch (else the compile tests skip). */
static inline int sched_nvrtc_ok(const char *arch) {
    return nvrtc_load() == TJ_OK && nvrtc_arch_supported(arch);
}

/* 1 when src compiles for arch under the rules of flags; else 0 with
 * why filled. src is not freed. */
static inline int sched_compile(const char *src, const char *name, const char *arch,
                                double timeout_s, unsigned flags, char *why, size_t size) {
    nvrtc_header hs[64];
    int nh = tj_template_count();
    for (int i = 0; i < nh && i < 64; i++) {
        hs[i].name = tj_template_name(i);
        hs[i].text = tj_template_text(i);
    }
    static const char *opts[] = {"-Xptxas=-v"};
    nvrtc_request req = {.source = src, .name = name, .arch = arch, .headers = hs,
                         .nheaders = nh < 64 ? nh : 64, .options = opts, .noptions = 1,
                         .in_child = 1, .timeout_s = timeout_s};
    nvrtc_result res = {0};
    tj_status s = nvrtc_compile(&req, &res);
    int ok = s == TJ_OK;
    if (!ok)
        snprintf(why, size, "%s: %s\n%.3000s", tj_status_name(s), tj_last_error(),
                 res.log ? res.log : "");
    else if (!(flags & SC_SPILLS_OK) && res.log && strstr(res.log, "bytes spill stores") &&
             !strstr(res.log, " 0 bytes spill stores")) {
        snprintf(why, size, "spills:\n%.1500s", res.log);
        ok = 0;
    } else if ((flags & SC_NO_SERIALIZE) && res.log &&
               strstr(res.log, "instructions are serialized")) {
        /* ptxas gave up overlapping the products (C7514 / C7520) */
        snprintf(why, size, "wgmma serialized:\n%.1500s", res.log);
        ok = 0;
    }
    if (getenv("TJ_TEST_VERBOSE") && res.log) printf("%s\n", res.log);
    if (getenv("TJ_TEST_DUMP")) printf("%s\n", src);
    nvrtc_result_free(&res);
    return ok;
}

#endif
