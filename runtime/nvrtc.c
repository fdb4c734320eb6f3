/*
 * nvrtc.c — NVRTC through dlopen: finding and loading it, the archs it
 * supports, the options we pass, and compiling in this process. Compiling
 * in a forked child is in nvrtc_child.c.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "nvrtc.h"

/* The few NVRTC types we use, declared here so that the library builds
 * without the CUDA toolkit. Values as in CUDA's nvrtc.h (stable since 7.0);
 * nvrtcResult is a C enum, passed as an int. */
typedef int nvrtcResult;
enum {
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
};
typedef struct _nvrtcProgram *nvrtcProgram;

struct nvrtc_lib {
    nvrtc_lib *next;     /* every library loaded, newest first */
    char *name;          /* as asked for: a soname or a path */
    char *file;          /* as the dynamic loader resolved it */
    void *handle;
    int major, minor;
    int *archs;          /* the numbers NVRTC lists (75, 80, 86 ...) */
    int narchs;
    char *arch_list;     /* "sm_80 sm_86 ... sm_90 sm_90a ..." */
    const char *(*GetErrorString)(nvrtcResult);
    nvrtcResult (*Version)(int *, int *);
    nvrtcResult (*GetNumSupportedArchs)(int *);
    nvrtcResult (*GetSupportedArchs)(int *);
    nvrtcResult (*CreateProgram)(nvrtcProgram *, const char *, const char *,
                                 int, const char *const *, const char *const *);
    nvrtcResult (*DestroyProgram)(nvrtcProgram *);
    nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetProgramLog)(nvrtcProgram, char *);
    nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetCUBIN)(nvrtcProgram, char *);
};

static const struct { const char *name; size_t offset; } lib_symbols[] = {
    {"nvrtcGetErrorString", offsetof(nvrtc_lib, GetErrorString)},
    {"nvrtcVersion", offsetof(nvrtc_lib, Version)},
    {"nvrtcGetNumSupportedArchs", offsetof(nvrtc_lib, GetNumSupportedArchs)},
    {"nvrtcGetSupportedArchs", offsetof(nvrtc_lib, GetSupportedArchs)},
    {"nvrtcCreateProgram", offsetof(nvrtc_lib, CreateProgram)},
    {"nvrtcDestroyProgram", offsetof(nvrtc_lib, DestroyProgram)},
    {"nvrtcCompileProgram", offsetof(nvrtc_lib, CompileProgram)},
    {"nvrtcGetProgramLogSize", offsetof(nvrtc_lib, GetProgramLogSize)},
    {"nvrtcGetProgramLog", offsetof(nvrtc_lib, GetProgramLog)},
    {"nvrtcGetCUBINSize", offsetof(nvrtc_lib, GetCUBINSize)},
    {"nvrtcGetCUBIN", offsetof(nvrtc_lib, GetCUBIN)},
};

/* Process-wide loader state, all behind lib_lock. Libraries are never
 * dlclose'd nor freed once published: a compile on another thread (or a
 * forked child) may be using one while nvrtc_set_path switches to another. */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static nvrtc_lib *lib_all;        /* every library loaded so far */
static nvrtc_lib *lib_current;    /* the one in use; NULL until loaded */
static char *lib_explicit;        /* nvrtc_set_path's path, or NULL */
static char *lib_failure;         /* the last failed load's message */
static tj_status lib_failure_status;

#define PATH_MAX_LEN 4096
#define MIN_ARCH 80            /* tilejit's kernels need Ampere or later */

double nvrtc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- archs --------------------------------------------------------- */

/* "sm_90a" -> 90 and 'a'. 0 when the name is not of that form. */
static int arch_parse(const char *arch, int *num, char *suffix) {
    if (!arch || strncmp(arch, "sm_", 3) != 0) return 0;
    const char *p = arch + 3;
    int n = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        n = n * 10 + (*p - '0');
    if (digits < 2) return 0;
    *suffix = 0;
    if (*p == 'a' || *p == 'f') *suffix = *p++;
    if (*p) return 0;
    *num = n;
    return 1;
}

/* NVRTC lists numbers only. "a" (arch-specific features: wgmma,
 * setmaxnreg ...) exists from sm_90 and NVRTC 12.0; "f" (family-portable)
 * from sm_100 and NVRTC 12.9. */
static int arch_suffix_ok(const nvrtc_lib *lib, int num, char suffix) {
    int version = lib->major * 100 + lib->minor;
    if (suffix == 'a') return num >= 90 && version >= 1200;
    if (suffix == 'f') return num >= 100 && version >= 1209;
    return 1;
}

static int arch_known(const nvrtc_lib *lib, int num, char suffix) {
    if (num < MIN_ARCH || num > 9999 || !arch_suffix_ok(lib, num, suffix)) return 0;
    for (int i = 0; i < lib->narchs; i++)
        if (lib->archs[i] == num) return 1;
    return 0;
}

static char *arch_list_build(const nvrtc_lib *lib) {
    size_t cap = (size_t)lib->narchs * 3 * 10 + 1, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = '\0';
    static const char suffixes[] = {0, 'a', 'f'};
    for (int i = 0; i < lib->narchs; i++) {
        for (int k = 0; k < 3; k++) {
            if (!arch_known(lib, lib->archs[i], suffixes[k])) continue;
            len += (size_t)snprintf(s + len, cap - len, "%ssm_%d%.1s",
                                    len ? " " : "", lib->archs[i], &suffixes[k]);
        }
    }
    return s;
}

static tj_status arch_name_check(const char *arch) {
    int num;
    char suffix;
    if (arch_parse(arch, &num, &suffix)) return TJ_OK;
    return tj_set_error(TJ_ERR_INVALID_ARG,
                        "arch '%s' is not a target name: expected sm_<number> "
                        "with an optional 'a' or 'f' suffix, e.g. sm_80 or sm_90a",
                        arch ? arch : "(null)");
}

static tj_status arch_check(const nvrtc_lib *lib, const char *arch) {
    int num;
    char suffix;
    tj_status s = arch_name_check(arch);
    if (s != TJ_OK) return s;
    arch_parse(arch, &num, &suffix);
    if (arch_known(lib, num, suffix)) return TJ_OK;
    return tj_set_error(TJ_ERR_UNSUPPORTED,
                        "arch '%s' is not supported by NVRTC %d.%d (%s); it "
                        "supports: %s", arch, lib->major, lib->minor, lib->file,
                        lib->arch_list[0] ? lib->arch_list : "nothing at sm_80 or newer");
}

/* ---- loading ------------------------------------------------------- */

static void lib_free_unpublished(nvrtc_lib *lib) {
    if (lib->handle) dlclose(lib->handle);
    free(lib->name);
    free(lib->file);
    free(lib->archs);
    free(lib->arch_list);
    free(lib);
}

/* Resolve every entry point; `why` gets the first one missing. */
static int lib_resolve(nvrtc_lib *lib, char *why, size_t why_size) {
    for (size_t i = 0; i < sizeof lib_symbols / sizeof lib_symbols[0]; i++) {
        void *sym = dlsym(lib->handle, lib_symbols[i].name);
        if (!sym) {
            snprintf(why, why_size, "it lacks %s (NVRTC 11.2 or newer is needed)",
                     lib_symbols[i].name);
            return 0;
        }
        /* POSIX guarantees that a function pointer fits in a void *. */
        memcpy((char *)lib + lib_symbols[i].offset, &sym, sizeof sym);
    }
    Dl_info info;
    void *version_sym = dlsym(lib->handle, "nvrtcVersion");
    const char *file = dladdr(version_sym, &info) && info.dli_fname ? info.dli_fname : lib->name;
    lib->file = strdup(file);
    return lib->file != NULL;
}

static int lib_query(nvrtc_lib *lib, char *why, size_t why_size) {
    int n = 0;
    if (lib->Version(&lib->major, &lib->minor) != NVRTC_SUCCESS ||
        lib->GetNumSupportedArchs(&n) != NVRTC_SUCCESS || n < 0 || n > 4096) {
        snprintf(why, why_size, "it does not report its version and archs");
        return 0;
    }
    lib->archs = calloc((size_t)n + 1, sizeof *lib->archs);
    if (!lib->archs || lib->GetSupportedArchs(lib->archs) != NVRTC_SUCCESS) {
        snprintf(why, why_size, "it does not list its archs");
        return 0;
    }
    lib->narchs = n;
    lib->arch_list = arch_list_build(lib);
    if (!lib->arch_list) snprintf(why, why_size, "out of memory");
    return lib->arch_list != NULL;
}

/* Open `name` (or find it among the libraries already loaded). NULL with
 * the reason in `why` when it cannot be used. Called under lib_lock. */
static nvrtc_lib *lib_open(const char *name, char *why, size_t why_size) {
    for (nvrtc_lib *l = lib_all; l; l = l->next)
        if (strcmp(l->name, name) == 0) return l;
    nvrtc_lib *lib = calloc(1, sizeof *lib);
    if (!lib || !(lib->name = strdup(name))) {
        snprintf(why, why_size, "out of memory");
        if (lib) lib_free_unpublished(lib);
        return NULL;
    }
    lib->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char *err = dlerror();
        snprintf(why, why_size, "%s", err ? err : "dlopen failed");
    }
    if (!lib->handle || !lib_resolve(lib, why, why_size) || !lib_query(lib, why, why_size)) {
        lib_free_unpublished(lib);
        return NULL;
    }
    lib->next = lib_all;
    lib_all = lib;
    return lib;
}

static tj_status lib_load_explicit(const char *path, const char *origin) {
    char why[1024];
    nvrtc_lib *lib = lib_open(path, why, sizeof why);
    if (!lib)
        return tj_set_error(TJ_ERR_UNSUPPORTED, "cannot load NVRTC from '%s' (%s): %s",
                            path, origin, why);
    lib_current = lib;
    return TJ_OK;
}

/* A loader message about a file that is simply absent says less than one
 * about a file that exists but cannot be used: keep the latter. */
static int reason_is_missing_file(const char *why) {
    return strstr(why, "No such file") != NULL;
}

static tj_status lib_load_default(void) {
    static const char *const sonames[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    const char *cuda_home = getenv("CUDA_HOME");
    const char *dirs[] = {NULL, cuda_home && *cuda_home ? cuda_home : NULL, "/usr/local/cuda"};
    char tried[2048] = "", why[1024], reason[1024] = "";
    size_t len = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        if (d > 0 && !dirs[d]) continue;
        for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
            char name[PATH_MAX_LEN];
            if (d == 0) snprintf(name, sizeof name, "%s", sonames[i]);
            else snprintf(name, sizeof name, "%s/lib64/%s", dirs[d], sonames[i]);
            nvrtc_lib *lib = lib_open(name, why, sizeof why);
            if (lib) {
                lib_current = lib;
                return TJ_OK;
            }
            if (len < sizeof tried)
                len += (size_t)snprintf(tried + len, sizeof tried - len, "%s%s", len ? ", " : "", name);
            if (!reason[0] || (reason_is_missing_file(reason) && !reason_is_missing_file(why)))
                snprintf(reason, sizeof reason, "%.500s: %.500s", name, why);
        }
    }
    int found_one = !reason_is_missing_file(reason);
    return tj_set_error(TJ_ERR_UNSUPPORTED,
                        "NVRTC not found; tried %s%s%s%s. Install CUDA's NVRTC "
                        "(12.x or 13.x) or set TILEJIT_NVRTC to the path of libnvrtc.so",
                        tried, found_one ? " (" : "", found_one ? reason : "", found_one ? ")" : "");
}

static tj_status lib_search(void) {
    if (lib_explicit) return lib_load_explicit(lib_explicit, "set by nvrtc_set_path");
    const char *env = getenv("TILEJIT_NVRTC");
    if (env && *env) return lib_load_explicit(env, "from $TILEJIT_NVRTC");
    return lib_load_default();
}

/* The library in use, loading it first if needed. A failure is remembered
 * so that each later call does not search the disk again. */
static tj_status lib_acquire(const nvrtc_lib **out) {
    tj_status s = TJ_OK;
    pthread_mutex_lock(&lib_lock);
    if (!lib_current && lib_failure) {
        s = tj_set_error(lib_failure_status, "%s", lib_failure);
    } else if (!lib_current) {
        /* Loading runs NVRTC code (and the loader): not during a fork. */
        nvrtc_in_process_begin();
        s = lib_search();
        nvrtc_in_process_end();
        if (s != TJ_OK) {
            lib_failure = strdup(tj_last_error());
            lib_failure_status = s;
        }
    }
    *out = lib_current;
    pthread_mutex_unlock(&lib_lock);
    return s;
}

tj_status nvrtc_set_path(const char *path) {
    if (path && (!*path || strlen(path) >= PATH_MAX_LEN))
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "nvrtc_set_path: the path is empty or longer than %d bytes",
                            PATH_MAX_LEN - 1);
    char *copy = path ? strdup(path) : NULL;
    if (path && !copy) return tj_set_error(TJ_ERR_NO_MEMORY, "nvrtc_set_path: out of memory");
    pthread_mutex_lock(&lib_lock);
    free(lib_explicit);
    lib_explicit = copy;
    lib_current = NULL;
    free(lib_failure);
    lib_failure = NULL;
    pthread_mutex_unlock(&lib_lock);
    return TJ_OK;
}

tj_status nvrtc_load(void) {
    const nvrtc_lib *lib;
    return lib_acquire(&lib);
}

tj_status nvrtc_library_path(const char **out) {
    const nvrtc_lib *lib;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc_library_path: out is NULL");
    tj_status s = lib_acquire(&lib);
    *out = s == TJ_OK ? lib->file : NULL;
    return s;
}

tj_status nvrtc_version(int *major, int *minor) {
    const nvrtc_lib *lib;
    if (!major || !minor) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc_version: NULL output");
    tj_status s = lib_acquire(&lib);
    *major = s == TJ_OK ? lib->major : 0;
    *minor = s == TJ_OK ? lib->minor : 0;
    return s;
}

tj_status nvrtc_supported_archs(const char **out) {
    const nvrtc_lib *lib;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc_supported_archs: out is NULL");
    tj_status s = lib_acquire(&lib);
    *out = s == TJ_OK ? lib->arch_list : NULL;
    return s;
}

int nvrtc_arch_supported(const char *arch) {
    const nvrtc_lib *lib;
    int num;
    char suffix;
    if (!arch_parse(arch, &num, &suffix) || lib_acquire(&lib) != TJ_OK) return 0;
    return arch_known(lib, num, suffix);
}

/* ---- options ------------------------------------------------------- */

/* Ours come first, the caller's after (NVRTC lets a later option win).
 * No --use_fast_math: correctness first; callers who want it add it.
 * -default-device: helpers in the templates need no __device__. */
#define OWN_OPTIONS 3
#define ARCH_OPTION_SIZE 48

static const char **options_array(const nvrtc_request *req, char arch_option[ARCH_OPTION_SIZE],
                                  int *n) {
    const char **opts = malloc(sizeof *opts * (size_t)(OWN_OPTIONS + req->noptions));
    if (!opts) return NULL;
    snprintf(arch_option, ARCH_OPTION_SIZE, "--gpu-architecture=%s", req->arch);
    opts[0] = arch_option;
    opts[1] = "-std=c++17";
    opts[2] = "-default-device";
    for (int i = 0; i < req->noptions; i++) opts[OWN_OPTIONS + i] = req->options[i];
    *n = OWN_OPTIONS + req->noptions;
    return opts;
}

static char *options_join(const char *const *opts, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(opts[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < n; i++) p += sprintf(p, "%s%s", i ? " " : "", opts[i]);
    *p = '\0';
    return s;
}

static tj_status request_check(const nvrtc_request *req) {
    if (!req || !req->source)
        return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: the request or its source is NULL");
    if (req->nheaders < 0 || (req->nheaders > 0 && !req->headers))
        return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: bad header array (%d headers)", req->nheaders);
    for (int i = 0; i < req->nheaders; i++)
        if (!req->headers[i].name || !req->headers[i].text)
            return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: header %d has no name or text", i);
    if (req->noptions < 0 || (req->noptions > 0 && !req->options))
        return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: bad option array (%d options)", req->noptions);
    for (int i = 0; i < req->noptions; i++)
        if (!req->options[i]) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: option %d is NULL", i);
    if (!(req->timeout_s >= 0) || isinf(req->timeout_s))
        return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc: timeout %g s is not a finite duration >= 0",
                            req->timeout_s);
    return arch_name_check(req->arch);
}

tj_status nvrtc_options(const nvrtc_request *req, char **out) {
    char arch_option[ARCH_OPTION_SIZE];
    int n;
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc_options: out is NULL");
    *out = NULL;
    tj_status s = request_check(req);
    if (s != TJ_OK) return s;
    const char **opts = options_array(req, arch_option, &n);
    *out = opts ? options_join(opts, n) : NULL;
    free(opts);
    return *out ? TJ_OK : tj_set_error(TJ_ERR_NO_MEMORY, "nvrtc_options: out of memory");
}

/* ---- compiling ----------------------------------------------------- */

static int line_blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i])) return 0;
    return 1;
}

/* The first lines of a log, for a message that must stay short: blank
 * lines dropped, long lines cut, a count of what was left out. */
void nvrtc_log_head(const char *log, char *buf, size_t size) {
    enum { MAX_LINES = 12, MAX_LINE = 400 };
    size_t len = 0;
    int shown = 0, more = 0;
    buf[0] = '\0';
    for (const char *p = log ? log : ""; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int cut = n > MAX_LINE;
        if (line_blank(p, n)) {
            /* dropped */
        } else if (shown < MAX_LINES && len + MAX_LINE + 8 < size) {
            len += (size_t)snprintf(buf + len, size - len, "\n  %.*s%s", (int)(cut ? MAX_LINE : n),
                                    p, cut ? " ..." : "");
            shown++;
        } else {
            shown = MAX_LINES;   /* keep the lines in order: show no later one */
            more++;
        }
        p += n + (end != NULL);
    }
    if (more && len + 48 < size)
        snprintf(buf + len, size - len, "\n  ... (%d more lines in the log)", more);
}

static tj_status failure(tj_status s, const char *what, const nvrtc_request *req, const char *log) {
    char head[2048];
    nvrtc_log_head(log, head, sizeof head);
    return tj_set_error(s, "%s compiling %s for %s%s%s", what, req->name, req->arch,
                        head[0] ? ":" : "", head);
}

static tj_status nvrtc_failure(const nvrtc_lib *lib, nvrtcResult r, const char *call,
                               const nvrtc_request *req, const char *log) {
    char what[256];
    const char *name = lib->GetErrorString(r);
    snprintf(what, sizeof what, "%s failed (%s)", call, name ? name : "unknown error");
    if (r == NVRTC_ERROR_OUT_OF_MEMORY) return failure(TJ_ERR_NO_MEMORY, what, req, log);
    if (r == NVRTC_ERROR_INVALID_OPTION) return failure(TJ_ERR_INVALID_ARG, what, req, log);
    if (r == NVRTC_ERROR_COMPILATION) return failure(TJ_ERR_COMPILE, "NVRTC failed", req, log);
    return failure(TJ_ERR_COMPILE, what, req, log);
}

static tj_status log_fetch(const nvrtc_lib *lib, nvrtcProgram prog, nvrtc_result *res) {
    size_t size = 0;
    if (lib->GetProgramLogSize(prog, &size) != NVRTC_SUCCESS) size = 0;
    res->log = calloc(size + 1, 1);
    if (!res->log) return tj_set_error(TJ_ERR_NO_MEMORY, "nvrtc: out of memory for a %zu-byte log", size);
    if (size > 0 && lib->GetProgramLog(prog, res->log) != NVRTC_SUCCESS) res->log[0] = '\0';
    return TJ_OK;
}

static tj_status cubin_fetch(const nvrtc_lib *lib, nvrtcProgram prog, const nvrtc_request *req,
                             nvrtc_result *res) {
    size_t size = 0;
    nvrtcResult r = lib->GetCUBINSize(prog, &size);
    if (r != NVRTC_SUCCESS) return nvrtc_failure(lib, r, "nvrtcGetCUBINSize", req, res->log);
    if (size == 0) return failure(TJ_ERR_COMPILE, "NVRTC produced no cubin", req, res->log);
    res->cubin = malloc(size);
    if (!res->cubin) return tj_set_error(TJ_ERR_NO_MEMORY, "nvrtc: out of memory for a %zu-byte cubin", size);
    r = lib->GetCUBIN(prog, res->cubin);
    if (r != NVRTC_SUCCESS) return nvrtc_failure(lib, r, "nvrtcGetCUBIN", req, res->log);
    res->cubin_size = size;
    return TJ_OK;
}

static tj_status program_create(const nvrtc_lib *lib, const nvrtc_request *req, nvrtcProgram *prog) {
    int n = req->nheaders;
    const char **texts = malloc(sizeof *texts * (size_t)(n + 1));
    const char **names = malloc(sizeof *names * (size_t)(n + 1));
    nvrtcResult r = NVRTC_ERROR_OUT_OF_MEMORY;
    if (texts && names) {
        for (int i = 0; i < n; i++) {
            texts[i] = req->headers[i].text;
            names[i] = req->headers[i].name;
        }
        r = lib->CreateProgram(prog, req->source, req->name, n, texts, names);
    }
    free(texts);
    free(names);
    return r == NVRTC_SUCCESS ? TJ_OK : nvrtc_failure(lib, r, "nvrtcCreateProgram", req, "");
}

static tj_status program_run(const nvrtc_lib *lib, const nvrtc_request *req,
                             const char *const *opts, int nopts, nvrtc_result *res) {
    nvrtcProgram prog = NULL;
    tj_status s = program_create(lib, req, &prog);
    if (s != TJ_OK) return s;
    nvrtcResult r = lib->CompileProgram(prog, nopts, opts);
    s = log_fetch(lib, prog, res);
    if (s == TJ_OK)
        s = r == NVRTC_SUCCESS ? cubin_fetch(lib, prog, req, res)
                               : nvrtc_failure(lib, r, "nvrtcCompileProgram", req, res->log);
    lib->DestroyProgram(&prog);
    return s;
}

tj_status nvrtc_compile_with(const nvrtc_lib *lib, const nvrtc_request *req, nvrtc_result *res) {
    char arch_option[ARCH_OPTION_SIZE];
    int n;
    double t0 = nvrtc_now();
    const char **opts = options_array(req, arch_option, &n);
    res->options = opts ? options_join(opts, n) : NULL;
    tj_status s = res->options ? program_run(lib, req, opts, n, res)
                               : tj_set_error(TJ_ERR_NO_MEMORY, "nvrtc: out of memory");
    free(opts);
    res->seconds = nvrtc_now() - t0;
    return s;
}

tj_status nvrtc_compile(const nvrtc_request *req, nvrtc_result *res) {
    if (!res) return tj_set_error(TJ_ERR_INVALID_ARG, "nvrtc_compile: res is NULL");
    memset(res, 0, sizeof *res);
    tj_status s = request_check(req);
    const nvrtc_lib *lib = NULL;
    if (s == TJ_OK) s = lib_acquire(&lib);
    if (s == TJ_OK) s = arch_check(lib, req->arch);
    if (s == TJ_OK) {
        nvrtc_request named = *req;
        if (!named.name) named.name = "kernel.cu";
        if (req->in_child) {
            s = nvrtc_compile_child(lib, &named, res);
        } else {
            nvrtc_in_process_begin();
            s = nvrtc_compile_with(lib, &named, res);
            nvrtc_in_process_end();
        }
    }
    if (!res->log) res->log = calloc(1, 1);
    return s;
}

void nvrtc_result_free(nvrtc_result *res) {
    if (!res) return;
    free(res->cubin);
    free(res->log);
    free(res->options);
    memset(res, 0, sizeof *res);
}
