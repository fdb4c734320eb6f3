/*
 * kernel_env.c — the runtime's process-wide state, each piece behind its
 * own lock: the bundles searched before the disk cache (tj_add_bundle,
 * TILEJIT_BUNDLES), one cache_dir handle per directory (kernels share its
 * memory store), and NVTX, loaded with dlopen when present.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernel_int.h"

/* ---- bundles ---------------------------------------------------------- */

#define MAX_BUNDLES 64

static pthread_mutex_t bundle_lock = PTHREAD_MUTEX_INITIALIZER;
/* Append-only: a slot is written before the count that covers it is
 * published (release), so readers need no lock. Bundles stay open for the
 * life of the process: launches hold pointers into them. */
static cache_bundle *bundles[MAX_BUNDLES];
static _Atomic int nbundles;

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static tj_status env_status;
static char env_message[1024];

static tj_status add_bundle_locked(const char *path) {
    int n = atomic_load_explicit(&nbundles, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (strcmp(cache_bundle_path(bundles[i]), path) == 0) return TJ_OK;
    if (n == MAX_BUNDLES)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_add_bundle(%s): %d bundles are open already, the most a "
                            "process may have; merge them with tilejit prebuild",
                            path, MAX_BUNDLES);
    cache_bundle *b = NULL;
    tj_status st = cache_bundle_open(path, &b);
    if (st != TJ_OK) return st;
    bundles[n] = b;
    atomic_store_explicit(&nbundles, n + 1, memory_order_release);
    return TJ_OK;
}

static void env_load(void) {
    const char *list = getenv("TILEJIT_BUNDLES");
    if (!list || !*list) return;
    char *copy = strdup(list);
    if (!copy) {
        env_status = TJ_ERR_NO_MEMORY;
        snprintf(env_message, sizeof env_message, "TILEJIT_BUNDLES: out of memory");
        return;
    }
    pthread_mutex_lock(&bundle_lock);
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        if (add_bundle_locked(p) != TJ_OK && env_status == TJ_OK) {
            env_status = TJ_ERR_IO;
            snprintf(env_message, sizeof env_message,
                     "TILEJIT_BUNDLES names '%s', which cannot be used: %s (fix the file or "
                     "remove it from TILEJIT_BUNDLES)",
                     p, tj_last_error());
        }
    }
    pthread_mutex_unlock(&bundle_lock);
    free(copy);
}

tj_status kernel_env_init(void) {
    pthread_once(&env_once, env_load);
    if (env_status != TJ_OK) return tj_set_error(env_status, "%s", env_message);
    return TJ_OK;
}

tj_status tj_add_bundle(const char *path) {
    if (!path || !*path)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_add_bundle: the path is %s",
                            path ? "empty" : "NULL");
    pthread_once(&env_once, env_load);
    pthread_mutex_lock(&bundle_lock);
    tj_status st = add_bundle_locked(path);
    pthread_mutex_unlock(&bundle_lock);
    return st;
}

int kernel_bundle_find(const char *hex, const void **cubin, size_t *size) {
    int n = atomic_load_explicit(&nbundles, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (cache_bundle_find(bundles[i], hex, cubin, size) == TJ_OK) return 1;
    return 0;
}

int kernel_bundle_count(void) { return atomic_load_explicit(&nbundles, memory_order_acquire); }

cache_bundle *const *kernel_bundles(int *n) {
    *n = atomic_load_explicit(&nbundles, memory_order_acquire);
    return bundles;
}

/* ---- cache directories ----------------------------------------------- */

typedef struct dir_slot {
    char *name;   /* the path as given; "\1" for the default */
    cache_dir *d;
} dir_slot;

static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static dir_slot *dirs;   /* under dir_lock; kept for the life of the process */
static int ndirs, capdirs;

tj_status kernel_cache_dir(const char *path, cache_dir **out) {
    const char *name = path ? path : "\1";
    pthread_mutex_lock(&dir_lock);
    for (int i = 0; i < ndirs; i++)
        if (strcmp(dirs[i].name, name) == 0) {
            *out = dirs[i].d;
            pthread_mutex_unlock(&dir_lock);
            return TJ_OK;
        }
    tj_status st = TJ_OK;
    char *copy = strdup(name);
    if (!copy || !ir_grow((void **)&dirs, &capdirs, ndirs, sizeof *dirs)) {
        free(copy);
        st = tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: out of memory");
    } else if ((st = cache_dir_open(path, out)) != TJ_OK) {
        free(copy);
    } else {
        dirs[ndirs++] = (dir_slot){copy, *out};
    }
    pthread_mutex_unlock(&dir_lock);
    return st;
}

/* ---- TILEJIT_LOG ------------------------------------------------------- */

/* TILEJIT_LOG=1: one stderr line per specialization loaded, saying which
 * lowering it got and, for the generic one, why no fast schedule applied. */
void kernel_log_specialization(const tj_kernel *k, const kentry *e, const emit_launch *L,
                               const char *source) {
    const char *v = getenv("TILEJIT_LOG");   /* the slow path: read each time */
    if (!v || !*v || strcmp(v, "0") == 0) return;
    char syms[256] = "";
    size_t used = 0;
    for (int i = 0; i < k->nsym && used < sizeof syms; i++) {
        if (e->spec[i] == TJ_UNBOUND)
            used += (size_t)snprintf(syms + used, sizeof syms - used, "%s%s=dynamic", i ? " " : "",
                                     k->g->syms[i].name);
        else
            used += (size_t)snprintf(syms + used, sizeof syms - used, "%s%s=%lld", i ? " " : "",
                                     k->g->syms[i].name, (long long)e->spec[i]);
    }
    fprintf(stderr, "tilejit: graph '%s' [%s] %s for %s (%s): schedule %s%s, %d threads, %u B smem%s%s%s\n",
            k->g->name, syms, source, k->arch, e->hex[0] ? e->hex : "no key", L->schedule,
            (e->variant & KV_TIER0) ? " (tier 0, until the fast kernel is loaded)" : "",
            L->threads, (unsigned)L->smem_bytes, L->note[0] ? " (" : "", L->note,
            L->note[0] ? ")" : "");
}

/* TILEJIT_LOG=1: one more line about graph k's specializations. */
void kernel_log(const tj_kernel *k, const char *fmt, ...) {
    const char *v = getenv("TILEJIT_LOG");
    if (!v || !*v || strcmp(v, "0") == 0) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tilejit: graph '%s': %s\n", k->g->name, msg);
}

/* ---- NVTX ------------------------------------------------------------- */

typedef int (*nvtx_push_fn)(const char *);
typedef int (*nvtx_pop_fn)(void);

static pthread_once_t nvtx_once = PTHREAD_ONCE_INIT;
static nvtx_push_fn nvtx_push;   /* written once under nvtx_once */
static nvtx_pop_fn nvtx_pop;
_Atomic int kernel_nvtx_launches;

static void nvtx_load(void) {
    const char *env = getenv("TILEJIT_NVTX");
    if (env && strcmp(env, "0") == 0) return;
    static const char *const names[] = {
        "libnvToolsExt.so.1", "libnvToolsExt.so", "libnvtx3interop.so.1", "libnvtx3interop.so",
        "/usr/local/cuda/lib64/libnvToolsExt.so.1", "/usr/local/cuda/lib64/libnvtx3interop.so.1",
        "/usr/local/cuda/lib64/libnvtx3interop.so",
    };
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    nvtx_push_fn push = (nvtx_push_fn)dlsym(h, "nvtxRangePushA");
    nvtx_pop_fn pop = (nvtx_pop_fn)dlsym(h, "nvtxRangePop");
    if (!push || !pop) {
        dlclose(h);
        return;
    }
    nvtx_push = push;
    nvtx_pop = pop;
    const char *inj = getenv("NVTX_INJECTION64_PATH");
    if ((inj && *inj) || (env && strcmp(env, "1") == 0))
        atomic_store_explicit(&kernel_nvtx_launches, 1, memory_order_release);
}

void kernel_nvtx_init(void) { pthread_once(&nvtx_once, nvtx_load); }

/* pthread_once again: it also orders this thread after the load. */
void kernel_nvtx_push(const char *label) {
    pthread_once(&nvtx_once, nvtx_load);
    if (nvtx_push) nvtx_push(label);
}

void kernel_nvtx_pop(void) {
    pthread_once(&nvtx_once, nvtx_load);
    if (nvtx_pop) nvtx_pop();
}

int kernel_nvtx_loaded(void) {
    pthread_once(&nvtx_once, nvtx_load);
    return nvtx_push != NULL;
}
