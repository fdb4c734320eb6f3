/*
 * prebuild.h — offline compiling of many specializations into a bundle or
 * a cache directory (`tilejit prebuild`). Internal (runtime layer); needs
 * NVRTC, never a GPU. docs/cli.md has the manifest format.
 *
 * A manifest lists graphs, each followed by its bindings:
 *
 *   # comment
 *   recipe rmsnorm cols=4096          a recipe with parameters
 *   bind rows=1,64,4096
 *   file attn.tj                      a graph in text form (relative paths
 *   bind seq=128,256 batch=1,8          are from the manifest's folder)
 *
 * Every graph is compiled at every combination of its symbols' values
 * (the cartesian product of the bind lists) for every arch. Keys come from
 * cache_key_for_compile, so the runtime finds exactly these entries.
 */
#ifndef TJ_PREBUILD_H
#define TJ_PREBUILD_H

#include <stddef.h>

#include "tilejit.h"

typedef struct prebuild_manifest prebuild_manifest;

/* Parse a manifest; `source` names it in messages ("m.txt:3: ...") and
 * `base_dir` (may be NULL: the current folder) resolves relative `file`
 * paths. Every graph is built (or read and verified) and every bound value
 * checked here, so errors name their line. TJ_ERR_PARSE for the manifest's
 * own syntax, or the graph's status. */
tj_status prebuild_manifest_parse(const char *text, size_t len, const char *source,
                                  const char *base_dir, prebuild_manifest **out);
void prebuild_manifest_free(prebuild_manifest *m);   /* NULL is fine */
int prebuild_manifest_graphs(const prebuild_manifest *m);
/* Graph × binding combinations (archs not counted). */
size_t prebuild_manifest_bindings(const prebuild_manifest *m);

/* Called once per failed compile (from the calling thread, after the
 * workers are done): `what` is "m.txt:3 (gemm) M=128,N=256 sm_80". */
typedef void (*prebuild_fail_fn)(const char *what, const char *message, void *user);

typedef struct prebuild_options {
    const char *const *archs;   /* "sm_90a", "sm_80" ... */
    int narchs;
    const char *bundle;         /* write this bundle, or */
    const char *cache_dir;      /* fill this cache directory (exactly one) */
    int jobs;                   /* compiling threads; <= 0: every core */
    int in_child;               /* each compile in a forked child */
    prebuild_fail_fn fail;      /* may be NULL */
    void *user;
} prebuild_options;

typedef struct prebuild_summary {
    size_t kernels;      /* graph × binding × arch */
    size_t unique;       /* distinct keys among them (buckets share one) */
    size_t compiled;
    size_t cached;       /* --cache-dir: already there, not compiled again */
    size_t failed;
    int threads;
    double seconds;      /* wall time of the compiles */
    double compile_seconds;   /* the compiles' times summed */
    unsigned long long bytes; /* of the cubins compiled */
} prebuild_summary;

/* Compile everything. TJ_ERR_COMPILE when any compile failed: then no
 * bundle is written (a partial bundle would fail only at run time);
 * entries already put in a cache directory stay. */
tj_status prebuild_run(const prebuild_manifest *m, const prebuild_options *o,
                       prebuild_summary *out);

#endif
