/*
 * fake_nvrtc.c — a stand-in for libnvrtc, loaded by path in
 * tests/test_nvrtc.c. It lets the compile-in-a-child machinery (crashes,
 * hangs, missing results, results larger than a pipe's buffer) be tested on
 * any machine, with or without CUDA, and without a test hook in the library.
 *
 * A word in the source picks what nvrtcCompileProgram does:
 *   FAKE_SEGV   raise SIGSEGV             FAKE_ABORT  print to stderr, abort()
 *   FAKE_HANG   sleep until killed        FAKE_EXIT0  _exit(0): no result
 *   FAKE_EXIT3  _exit(3)                  FAKE_ERROR  a compile error, with a log
 *   FAKE_BIG    an 8 MiB cubin            otherwise   a 4 KiB cubin
 * A cubin is "\x7fELF" and then bytes derived from the source; the log is
 * "options: " and the options, space separated.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvrtcResult;
enum { SUCCESS = 0, ERROR_OUT_OF_MEMORY = 1, ERROR_INVALID_INPUT = 3, ERROR_COMPILATION = 6 };

typedef struct fake_program {
    char *source;
    char *log;
    unsigned char *cubin;
    size_t cubin_size;
} *nvrtcProgram;

static const int fake_archs[] = {75, 80, 86, 89, 90, 100, 120};
#define NARCHS ((int)(sizeof fake_archs / sizeof fake_archs[0]))

const char *nvrtcGetErrorString(nvrtcResult r) {
    return r == SUCCESS ? "NVRTC_SUCCESS" : r == ERROR_COMPILATION ? "NVRTC_ERROR_COMPILATION"
                                                                   : "NVRTC_ERROR (fake)";
}

nvrtcResult nvrtcVersion(int *major, int *minor) {
    *major = 12;
    *minor = 9;
    return SUCCESS;
}

nvrtcResult nvrtcGetNumSupportedArchs(int *n) {
    *n = NARCHS;
    return SUCCESS;
}

nvrtcResult nvrtcGetSupportedArchs(int *archs) {
    memcpy(archs, fake_archs, sizeof fake_archs);
    return SUCCESS;
}

nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int nheaders,
                               const char *const *headers, const char *const *names) {
    (void)name, (void)nheaders, (void)headers, (void)names;
    *prog = calloc(1, sizeof **prog);
    if (!*prog || !((*prog)->source = strdup(src))) return ERROR_OUT_OF_MEMORY;
    return SUCCESS;
}

nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog) {
    if (!prog || !*prog) return ERROR_INVALID_INPUT;
    free((*prog)->source);
    free((*prog)->log);
    free((*prog)->cubin);
    free(*prog);
    *prog = NULL;
    return SUCCESS;
}

static void misbehave(const char *src) {
    if (strstr(src, "FAKE_SEGV")) raise(SIGSEGV);
    if (strstr(src, "FAKE_ABORT")) {
        fputs("fake nvrtc: internal assertion 'x != 0' failed\n", stderr);
        fflush(stderr);
        abort();
    }
    if (strstr(src, "FAKE_HANG"))
        for (;;) pause();
    if (strstr(src, "FAKE_EXIT0")) _exit(0);
    if (strstr(src, "FAKE_EXIT3")) _exit(3);
}

static char *options_log(int n, const char *const *opts) {
    size_t len = sizeof "options:";
    for (int i = 0; i < n; i++) len += strlen(opts[i]) + 1;
    char *log = malloc(len + 1);
    if (!log) return NULL;
    strcpy(log, "options:");
    for (int i = 0; i < n; i++) strcat(strcat(log, " "), opts[i]);
    return log;
}

static unsigned char *cubin_make(const char *src, size_t size) {
    unsigned char *c = malloc(size);
    if (!c) return NULL;
    unsigned h = 2166136261u;
    for (const char *p = src; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    memcpy(c, "\x7f" "ELF", 4);
    for (size_t i = 4; i < size; i++) c[i] = (unsigned char)((h >> (i % 24)) + i * 7);
    return c;
}

nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int n, const char *const *opts) {
    misbehave(prog->source);
    if (strstr(prog->source, "FAKE_ERROR")) {
        prog->log = strdup("fake.cu(1): error: expected a \";\"\n1 error detected\n");
        return ERROR_COMPILATION;
    }
    prog->log = options_log(n, opts);
    prog->cubin_size = strstr(prog->source, "FAKE_BIG") ? (size_t)8 << 20 : 4096;
    prog->cubin = cubin_make(prog->source, prog->cubin_size);
    return prog->log && prog->cubin ? SUCCESS : ERROR_OUT_OF_MEMORY;
}

nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *size) {
    *size = prog->log ? strlen(prog->log) + 1 : 1;
    return SUCCESS;
}

nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log) {
    strcpy(log, prog->log ? prog->log : "");
    return SUCCESS;
}

nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *size) {
    *size = prog->cubin_size;
    return SUCCESS;
}

nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin) {
    if (!prog->cubin) return ERROR_INVALID_INPUT;
    memcpy(cubin, prog->cubin, prog->cubin_size);
    return SUCCESS;
}
