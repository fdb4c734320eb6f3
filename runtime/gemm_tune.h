/*
 * gemm_tune.h — tuning records (the GEMM configuration `tilejit tune`
 * measured best for a shape on a device, kept in the cache directory) and
 * the measuring itself. Internal to libtilejit; the CLI and the tests use
 * it. docs/cache.md, "Tuning records", has the format.
 *
 * A record is a cache entry (runtime/cache.h: same directory, header,
 * checksums, atomic write, eviction, verify) whose description says what
 * was tuned instead of what was compiled:
 *
 *   tune=gemm 1                         the tuned recipe, the record's format
 *   name=tune:gemm                      (for `tilejit cache ls`)
 *   params=dtype=bf16 out=same ...      gemm_params_canonical (no bm, bn, bk)
 *   symbols=M=128 N=4096 K=4096         the shape
 *   device=NVIDIA H200
 *   arch=sm_90a
 *   sms=132
 *   codegen=2                           CACHE_CODEGEN_VERSION
 *   templates=9d0e…                     the embedded templates' hash
 *   nvrtc=13.0                          recorded, not hashed (as for cubins)
 *
 * and whose payload is text: "tilejit tune 1\n" then key=value lines
 * (bm, bn, bk, split, tflops, median_us, candidates). A record from
 * another NVRTC than the directory's compiler stamp is stale, as a cubin
 * is (cache_get): the kernels it measured are rebuilt by the new one.
 */
#ifndef TJ_GEMM_TUNE_H
#define TJ_GEMM_TUNE_H

#include "cache.h"
#include "tilejit.h"

#define GEMM_TUNE_FORMAT 1

/* What a tuning record is keyed by. */
typedef struct gemm_tune_id {
    const char *params;   /* gemm_params_canonical's text */
    int64_t m, n, k;
    const char *device;   /* the device's name */
    const char *arch;
    int sm_count;
    const char *nvrtc;    /* recorded; NULL: "unknown" */
} gemm_tune_id;

/* The record's key (its description above). */
tj_status gemm_tune_key(const gemm_tune_id *id, cache_key *out);

/* What a record holds. */
typedef struct gemm_tune_record {
    tj_gemm_config cfg;   /* tuned = 1 when read */
    double tflops;        /* the winner's, measured */
    double median_us;
    int candidates;       /* how many were measured */
} gemm_tune_record;

/* Write the record (cache_put: atomic, checksummed). */
tj_status gemm_tune_put(cache_dir *d, const cache_key *key, const gemm_tune_record *r);
/* Read it: TJ_OK, or TJ_ERR_IO for a miss. A damaged entry is reported once
 * and removed by cache_get; a payload that is not a record of this format
 * (or names an impossible tile) is reported once on stderr and is a miss. */
tj_status gemm_tune_get(cache_dir *d, const cache_key *key, gemm_tune_record *r);
/* The payload's text and its reading (tests). */
int gemm_tune_format(const gemm_tune_record *r, char *buf, size_t size);
int gemm_tune_parse(const char *text, size_t n, gemm_tune_record *r);

/* ---- measuring (gemm_tune_run.c; needs a device and NVRTC) ---------- */

typedef struct gemm_tune_request {
    int nparams;
    const char *const *params;   /* the gemm recipe's (bm, bn, bk absent or auto) */
    int64_t m, n, k;
    int max_candidates;          /* 0: every candidate of the model */
    int reps;                    /* timed launches of each (0: 50) */
    const char *cache_dir;       /* compiles and the record (NULL: the default; "": none) */
    int store;                   /* 1: write the record */
    uint64_t seed;
    /* called after each candidate is timed (may be NULL) */
    void (*progress)(const tj_gemm_config *c, double median_us, double tflops, void *user);
    void *user;
} gemm_tune_request;

typedef struct gemm_tune_result {
    gemm_tune_record best;
    tj_gemm_config model;        /* the model's pick */
    double model_tflops;         /* the model's pick as measured */
    double max_err;              /* the winner against the interpreter: max
                                    |got - want| / (|want| + sqrt(K)) */
    char device[256], arch[16];
    int sm_count;
    char key[65];                /* the record's key, when stored */
} gemm_tune_result;

/* Build, compile and time each candidate (CUDA events, the median of reps
 * launches after warm-up, the candidates taking turns), check the fastest
 * against the CPU interpreter on two sampled blocks of the output, and
 * store it. TJ_ERR_DRIVER without a device; TJ_ERR_UNSUPPORTED without
 * NVRTC; TJ_ERR_INTERNAL when the winner's output is wrong (nothing is
 * stored then). */
tj_status gemm_tune_shape(const gemm_tune_request *req, gemm_tune_result *out);

#endif
