/*
 * jitlink.c — nvJitLink through dlopen (PTX -> cubin), and the LLVM back
 * end's compile. Mirrors runtime/nvrtc.c's loading: one library per
 * process, found once, never dlclose'd; a failure to find it remembered.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_ptx.h"
#include "jitlink.h"

typedef struct nvJitLink *jl_handle;
enum { JL_SUCCESS = 0, JL_INPUT_PTX = 2 };

typedef struct jl_lib {
    void *handle;
    int (*Create)(jl_handle *, unsigned, const char **);
    int (*Destroy)(jl_handle *);
    int (*AddData)(jl_handle, int, const void *, size_t, const char *);
    int (*Complete)(jl_handle);
    int (*GetLinkedCubinSize)(jl_handle, size_t *);
    int (*GetLinkedCubin)(jl_handle, void *);
    int (*GetErrorLogSize)(jl_handle, size_t *);
    int (*GetErrorLog)(jl_handle, char *);
    int (*GetInfoLogSize)(jl_handle, size_t *);
    int (*GetInfoLog)(jl_handle, char *);
    int (*Version)(unsigned *, unsigned *);
    unsigned major, minor;
} jl_lib;

static pthread_mutex_t jl_lock = PTHREAD_MUTEX_INITIALIZER;
static jl_lib *jl_current;
static char *jl_failure;

static jl_lib *jl_open(const char *name, char *why, size_t why_size) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, why_size, "%s", e ? e : "dlopen failed");
        return NULL;
    }
    jl_lib *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(why, why_size, "out of memory");
        return NULL;   /* the handle stays open: harmless */
    }
    l->handle = h;
    struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"nvJitLinkCreate", (void **)&l->Create},
        {"nvJitLinkDestroy", (void **)&l->Destroy},
        {"nvJitLinkAddData", (void **)&l->AddData},
        {"nvJitLinkComplete", (void **)&l->Complete},
        {"nvJitLinkGetLinkedCubinSize", (void **)&l->GetLinkedCubinSize},
        {"nvJitLinkGetLinkedCubin", (void **)&l->GetLinkedCubin},
        {"nvJitLinkGetErrorLogSize", (void **)&l->GetErrorLogSize},
        {"nvJitLinkGetErrorLog", (void **)&l->GetErrorLog},
        {"nvJitLinkGetInfoLogSize", (void **)&l->GetInfoLogSize},
        {"nvJitLinkGetInfoLog", (void **)&l->GetInfoLog},
        {"nvJitLinkVersion", (void **)&l->Version},
    };
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
        void *s = dlsym(h, syms[i].name);
        if (!s) {
            snprintf(why, why_size, "it has no %s", syms[i].name);
            free(l);
            return NULL;
        }
        /* POSIX guarantees that a function pointer fits in a void *. */
        memcpy(syms[i].slot, &s, sizeof s);
    }
    if (l->Version(&l->major, &l->minor) != JL_SUCCESS) {
        snprintf(why, why_size, "it does not report its version");
        free(l);
        return NULL;
    }
    return l;
}

static tj_status jl_search(void) {
    char why[512], tried[2048] = "";
    size_t len = 0;
    const char *env = getenv("TILEJIT_NVJITLINK");
    if (env && *env) {
        jl_current = jl_open(env, why, sizeof why);
        if (jl_current) return TJ_OK;
        return tj_set_error(TJ_ERR_UNSUPPORTED, "cannot load nvJitLink from '%s' ($TILEJIT_NVJITLINK): %s",
                            env, why);
    }
    static const char *const sonames[] = {"libnvJitLink.so.13", "libnvJitLink.so.12", "libnvJitLink.so"};
    const char *home = getenv("CUDA_HOME");
    const char *dirs[] = {NULL, home && *home ? home : NULL, "/usr/local/cuda"};
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        if (d > 0 && !dirs[d]) continue;
        for (size_t i = 0; i < sizeof sonames / sizeof *sonames; i++) {
            char name[1200];
            if (d == 0) snprintf(name, sizeof name, "%s", sonames[i]);
            else snprintf(name, sizeof name, "%s/lib64/%s", dirs[d], sonames[i]);
            jl_current = jl_open(name, why, sizeof why);
            if (jl_current) return TJ_OK;
            if (len < sizeof tried)
                len += (size_t)snprintf(tried + len, sizeof tried - len, "%s%s", len ? ", " : "", name);
        }
    }
    return tj_set_error(TJ_ERR_UNSUPPORTED,
                        "nvJitLink not found; tried %s. Install CUDA's nvJitLink or set "
                        "TILEJIT_NVJITLINK to the path of libnvJitLink.so", tried);
}

static tj_status jl_acquire(const jl_lib **out) {
    tj_status s = TJ_OK;
    pthread_mutex_lock(&jl_lock);
    if (!jl_current && jl_failure) {
        s = tj_set_error(TJ_ERR_UNSUPPORTED, "%s", jl_failure);
    } else if (!jl_current) {
        s = jl_search();
        if (s != TJ_OK) jl_failure = strdup(tj_last_error());
    }
    *out = jl_current;
    pthread_mutex_unlock(&jl_lock);
    return s;
}

tj_status jitlink_load(void) {
    const jl_lib *l;
    return jl_acquire(&l);
}

tj_status jitlink_version(int *major, int *minor) {
    const jl_lib *l;
    tj_status s = jl_acquire(&l);
    if (s != TJ_OK) return s;
    if (major) *major = (int)l->major;
    if (minor) *minor = (int)l->minor;
    return TJ_OK;
}

/* Both logs, error first, as one malloc'd string. */
static char *jl_logs(const jl_lib *l, jl_handle h) {
    size_t ne = 0, ni = 0;
    if (l->GetErrorLogSize(h, &ne) != JL_SUCCESS) ne = 0;
    if (l->GetInfoLogSize(h, &ni) != JL_SUCCESS) ni = 0;
    char *out = calloc(ne + ni + 2, 1);
    if (!out) return NULL;
    if (ne > 1 && l->GetErrorLog(h, out) == JL_SUCCESS) {
        size_t n = strlen(out);
        out[n] = '\n';
        out[n + 1] = '\0';
    }
    if (ni > 1) l->GetInfoLog(h, out + strlen(out));
    return out;
}

tj_status jitlink_ptx_to_cubin(const char *ptx, const char *arch, void **cubin, size_t *size,
                               char **log) {
    if (log) *log = NULL;
    if (!ptx || !arch || !cubin || !size)
        return tj_set_error(TJ_ERR_INVALID_ARG, "jitlink: a NULL argument");
    *cubin = NULL;
    *size = 0;
    const jl_lib *l;
    tj_status s = jl_acquire(&l);
    if (s != TJ_OK) return s;
    char opt[64];
    snprintf(opt, sizeof opt, "-arch=%s", arch);
    const char *opts[1] = {opt};
    jl_handle h = NULL;
    if (l->Create(&h, 1, opts) != JL_SUCCESS)
        return tj_set_error(TJ_ERR_COMPILE, "nvJitLink: cannot create a link for %s", arch);
    int r = l->AddData(h, JL_INPUT_PTX, ptx, strlen(ptx) + 1, "kernel.ptx");
    if (r == JL_SUCCESS) r = l->Complete(h);
    size_t n = 0;
    if (r == JL_SUCCESS) r = l->GetLinkedCubinSize(h, &n);
    char *lg = jl_logs(l, h);
    if (r == JL_SUCCESS) {
        *cubin = malloc(n ? n : 1);
        if (!*cubin) s = tj_set_error(TJ_ERR_NO_MEMORY, "nvJitLink: out of memory");
        else if (l->GetLinkedCubin(h, *cubin) != JL_SUCCESS) s = TJ_ERR_COMPILE;
        else *size = n;
    } else {
        s = TJ_ERR_COMPILE;
    }
    if (s == TJ_ERR_COMPILE) {
        free(*cubin);
        *cubin = NULL;
        tj_set_error(TJ_ERR_COMPILE, "nvJitLink (%u.%u) failed for %s (error %d): %.400s", l->major,
                     l->minor, arch, r, lg ? lg : "");
    }
    l->Destroy(&h);
    if (log) *log = lg;
    else free(lg);
    return s;
}

tj_status jitlink_compile_graph(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                                void **image, size_t *size, char **log, emit_launch *launch) {
    if (log) *log = NULL;
    char *ptx = NULL;
    tj_status s = emit_ptx(g, arch, sym_vals, NULL, &ptx, launch);
    if (s != TJ_OK) return s;
    if (jitlink_load() == TJ_OK) {
        s = jitlink_ptx_to_cubin(ptx, arch, image, size, log);
        free(ptx);
        return s;
    }
    /* No nvJitLink: the driver compiles the PTX when it loads it. */
    *image = ptx;
    *size = strlen(ptx) + 1;
    return TJ_OK;
}

const char *jitlink_backend_id(void) { return emit_ptx_backend_id(); }
