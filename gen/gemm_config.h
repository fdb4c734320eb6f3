/*
 * gemm_config.h — what the GEMM configuration model (gen/recipes/
 * gemm_config.c; public face in tilejit.h: tj_gemm_config_*) shares with
 * the runtime's tuning records (runtime/gemm_tune*.c) and the tests.
 * Internal to libtilejit.
 */
#ifndef TJ_GEMM_CONFIG_H
#define TJ_GEMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tilejit.h"

/* The split gemm_sm90's automatic rule gives a grid of `tiles` output
 * tiles whose loop runs `kt` K tiles (-1: unknown): 1, 2, 4 or 8. Defined
 * in gen/schedule/gemm_sm90_match.c, where split_auto applies it; the
 * model scores each candidate with it, so it scores the split the
 * schedule will really use and no per-graph knob is needed. */
int gemm_config_auto_split(int64_t tiles, int64_t kt);

/* The gemm recipe's parameters as given (nparams, params), checked and
 * written out whole in the recipe's order, defaults filled in, without
 * bm, bn and bk: "dtype=bf16 out=same trans_a=0 trans_b=1 bias=0
 * act=none m=exact n=exact k=exact". What a tuning record is keyed by,
 * so `trans_b=1` and `trans_b=1 act=none` find the same record.
 * *dtype (may be NULL) gets the operands' dtype; pins[3] (may be NULL)
 * the bm, bn, bk given as numbers (0: absent or `auto`). */
tj_status gemm_params_canonical(int nparams, const char *const *params, char *buf, size_t size,
                                tj_dtype *dtype, int pins[3]);

/* 1 when cfg agrees with the pinned tile fields (0 fields are free). */
int gemm_config_matches(const tj_gemm_config *cfg, const int pins[3]);

#endif
