/*
 * prebuild.c — compile a manifest's graph × binding × arch combinations on
 * every core into a bundle or a cache directory.
 *
 * Keys are computed first, on one thread, so that combinations sharing a
 * key (bucketed or dynamic symbols) compile once. Then worker threads take
 * the distinct keys from a shared counter and compile them with NVRTC in
 * this process (NVRTC is thread-safe; TJ_COMPILE_IN_CHILD per compile when
 * asked, for crash isolation). Nothing here needs a GPU.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "compile.h"
#include "nvrtc.h"
#include "prebuild_int.h"

typedef struct pb_job {
    const pb_graph *pg;
    int64_t *vals;          /* the true values; the compile gets them specialized */
    const char *arch;
    cache_key key;
    int dup;                /* another job has this key */
    tj_status st;
    char *error;            /* on failure */
    int cached;
    size_t bytes;
    double seconds;
} pb_job;

typedef struct pb_run {
    pb_job *jobs;
    size_t njobs;
    atomic_size_t next;
    const prebuild_options *o;
    cache_bundle_writer *writer;
    cache_dir *dir;
} pb_run;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_job_key(const void *a, const void *b) {
    const pb_job *x = a, *y = b;
    int c = strcmp(x->key.hex, y->key.hex);
    if (c) return c;
    /* Stable among equal keys: the first listed compiles. */
    return x->pg != y->pg ? (x->pg < y->pg ? -1 : 1) : 0;
}

static void compile_job(pb_run *r, pb_job *j) {
    int64_t spec[256];
    int64_t *sp = j->pg->nsym <= 256 ? spec : malloc(sizeof *sp * (size_t)j->pg->nsym);
    if (!sp) {
        j->st = tj_set_error(TJ_ERR_NO_MEMORY, "out of memory");
        j->error = strdup(tj_last_error());
        return;
    }
    cache_specialize(j->pg->g, j->vals, sp);
    if (r->dir) {
        void *have = NULL;
        size_t hsize = 0;
        if (cache_get(r->dir, &j->key, &have, &hsize) == TJ_OK) {
            free(have);
            j->cached = 1;
            if (sp != spec) free(sp);
            return;
        }
    }
    void *cubin = NULL;
    size_t size = 0;
    char *log = NULL;
    double t0 = now_s();
    tj_status st = compile_graph(j->pg->g, j->arch, sp, r->o->in_child ? TJ_COMPILE_IN_CHILD : 0,
                                 &cubin, &size, &log, NULL);
    j->seconds = now_s() - t0;
    if (sp != spec) free(sp);
    if (st == TJ_OK) {
        st = r->writer ? cache_bundle_writer_add(r->writer, &j->key, cubin, size)
                       : cache_put(r->dir, &j->key, cubin, size);
        j->bytes = size;
    }
    if (st != TJ_OK) {
        const char *msg = tj_last_error();
        size_t n = strlen(msg) + (log ? strlen(log) : 0) + 2;
        j->error = malloc(n);
        if (j->error) snprintf(j->error, n, "%s%s%s", msg, log && *log ? "\n" : "", log ? log : "");
    }
    j->st = st;
    tj_free(log);
    tj_free(cubin);
}

static void *worker(void *arg) {
    pb_run *r = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->njobs) return NULL;
        if (!r->jobs[i].dup) compile_job(r, &r->jobs[i]);
    }
}

/* "m.txt:3 (gemm) M=128,N=256 sm_80" */
static void describe(const prebuild_manifest *m, const pb_job *j, char *buf, size_t size) {
    int n = snprintf(buf, size, "%s:%d (%s)", m->source, j->pg->line, tj_graph_name(j->pg->g));
    const char *sep = " ";
    for (int s = 0; s < j->pg->nsym && n > 0 && (size_t)n < size; s++) {
        if (j->vals[s] == TJ_UNBOUND) continue;
        n += snprintf(buf + n, size - (size_t)n, "%s%s=%lld", sep,
                      tj_symbol_name(j->pg->g, (tj_sym){s}), (long long)j->vals[s]);
        sep = ",";
    }
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, " %s", j->arch);
}

static void free_jobs(pb_job *jobs, size_t n) {
    for (size_t i = 0; jobs && i < n; i++) {
        free(jobs[i].vals);
        free(jobs[i].error);
        cache_key_free(&jobs[i].key);
    }
    free(jobs);
}

/* Every combination, with its key. */
static tj_status make_jobs(const prebuild_manifest *m, const prebuild_options *o,
                           const char *nvrtc_ver, pb_job **out, size_t *nout) {
    size_t n = prebuild_manifest_bindings(m) * (size_t)o->narchs;
    pb_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs) return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
    size_t k = 0;
    for (int gi = 0; gi < m->n; gi++) {
        const pb_graph *pg = &m->graphs[gi];
        size_t nc = pb_combinations(pg);
        for (size_t c = 0; c < nc; c++) {
            for (int a = 0; a < o->narchs; a++) {
                pb_job *j = &jobs[k++];
                j->pg = pg;
                j->arch = o->archs[a];
                j->vals = malloc(sizeof *j->vals * (size_t)(pg->nsym > 0 ? pg->nsym : 1));
                if (!j->vals) {
                    free_jobs(jobs, k);
                    return tj_set_error(TJ_ERR_NO_MEMORY, "prebuild: out of memory");
                }
                pb_combination(pg, c, j->vals);
                tj_status st =
                    cache_key_for_compile(pg->g, pg->hash, j->vals, j->arch, nvrtc_ver, &j->key);
                if (st != TJ_OK) {
                    char what[512];
                    describe(m, j, what, sizeof what);
                    st = tj_set_error(st, "%s: %s", what, tj_last_error());
                    free_jobs(jobs, k);
                    return st;
                }
            }
        }
    }
    *out = jobs;
    *nout = k;
    return TJ_OK;
}

static int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
}

tj_status prebuild_run(const prebuild_manifest *m, const prebuild_options *o,
                       prebuild_summary *out) {
    if (!m || !o || !out) return tj_set_error(TJ_ERR_INVALID_ARG, "prebuild_run: NULL argument");
    memset(out, 0, sizeof *out);
    if (!!o->bundle == !!o->cache_dir)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "prebuild: give exactly one of a bundle or a cache directory");
    if (o->narchs < 1 || !o->archs)
        return tj_set_error(TJ_ERR_INVALID_ARG, "prebuild: no target arch");
    tj_status st = nvrtc_load();
    if (st != TJ_OK) return st;
    for (int a = 0; a < o->narchs; a++)
        if (!nvrtc_arch_supported(o->archs[a])) {
            const char *all = "?";
            nvrtc_supported_archs(&all);
            return tj_set_error(TJ_ERR_INVALID_ARG,
                                "prebuild: NVRTC cannot compile for arch '%s' (it knows: %s)",
                                o->archs[a], all);
        }
    char ver[32] = "";
    int maj = 0, min = 0;
    if (nvrtc_version(&maj, &min) == TJ_OK) snprintf(ver, sizeof ver, "%d.%d", maj, min);

    pb_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    if ((st = make_jobs(m, o, ver[0] ? ver : NULL, &r.jobs, &r.njobs)) != TJ_OK) return st;
    out->kernels = r.njobs;
    /* Compile each key once: sort so equal keys are adjacent. */
    qsort(r.jobs, r.njobs, sizeof *r.jobs, cmp_job_key);
    for (size_t i = 1; i < r.njobs; i++)
        r.jobs[i].dup = !strcmp(r.jobs[i].key.hex, r.jobs[i - 1].key.hex);
    for (size_t i = 0; i < r.njobs; i++) out->unique += !r.jobs[i].dup;

    if (o->bundle) st = cache_bundle_writer_open(o->bundle, &r.writer);
    else st = cache_dir_open(o->cache_dir, &r.dir);
    if (st == TJ_OK && r.dir && !cache_dir_writable(r.dir))
        st = tj_set_error(TJ_ERR_IO, "prebuild: cannot write to the cache directory '%s'",
                          o->cache_dir);
    if (st != TJ_OK) {
        cache_dir_close(r.dir);
        free_jobs(r.jobs, r.njobs);
        return st;
    }

    int nt = o->jobs > 0 ? o->jobs : cpu_count();
    if ((size_t)nt > out->unique) nt = out->unique ? (int)out->unique : 1;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    int started = 0;
    double t0 = now_s();
    if (th)
        for (; started < nt; started++)
            if (pthread_create(&th[started], NULL, worker, &r) != 0) break;
    if (started == 0) worker(&r);   /* no threads to be had: do it here */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    out->seconds = now_s() - t0;
    out->threads = started ? started : 1;

    for (size_t i = 0; i < r.njobs; i++) {
        pb_job *j = &r.jobs[i];
        if (j->dup) continue;
        out->compile_seconds += j->seconds;
        if (j->st != TJ_OK) {
            out->failed++;
            if (o->fail) {
                char what[512];
                describe(m, j, what, sizeof what);
                o->fail(what, j->error ? j->error : "out of memory", o->user);
            }
        } else if (j->cached) {
            out->cached++;
        } else {
            out->compiled++;
            out->bytes += j->bytes;
        }
    }
    st = TJ_OK;
    if (out->failed) {
        cache_bundle_writer_discard(r.writer);
        st = tj_set_error(TJ_ERR_COMPILE, "prebuild: %zu of %zu kernels failed to compile%s",
                          out->failed, out->unique,
                          r.writer ? "; no bundle written" : "");
    } else if (r.writer && (st = cache_bundle_writer_close(r.writer)) != TJ_OK) {
        st = tj_set_error(st, "prebuild: writing %s: %s", o->bundle, tj_last_error());
    }
    cache_dir_close(r.dir);
    free_jobs(r.jobs, r.njobs);
    return st;
}
