/*
 * attn_edits.h — attention-shaped graphs that read the accumulator inside
 * the KV loop, made from the attention recipe's text (d 64, non-causal)
 * and 128 query rows, with one line replaced, as a user editing the text form would. The
 * schedule must not software-pipeline such a loop (the product of trip j
 * is otherwise still in flight when the graph reads it). Shared by the
 * CPU test (tests/test_sched_attention.c: what is pipelined) and the GPU
 * test (tests/gpu/test_gpu_attention.c: results against the interpreter).
 */
#ifndef TJ_TEST_ATTN_EDITS_H
#define TJ_TEST_ATTN_EDITS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tilejit.h"

#define ATTN_EDITS 2

/* Edit i of the recipe "d=64 block_m=128" (tensors declared 16-byte aligned by the
 * recipe): 0, the running sum l reads the accumulator (l += rowsum|acc|
 * in place of rowsum(p)); 1, the new accumulator is read in the loop
 * (l = rowsum|acc'|). Absolute values keep l away from 0, so o = acc / l
 * compares well against the interpreter. NULL (with a message) when the
 * recipe's text no longer has the line. */
static inline tj_graph *attn_edited(int i) {
    static const char *const edits[ATTN_EDITS][2] = {
        {"  %34 = fma %18, %29, %33 : f32[128,1]",
         "  %89 = abs %19 : f32[128,64]\n  %90 = sum %89 axis 1 : f32[128,1]\n"
         "  %34 = fma %18, %29, %90 : f32[128,1]"},
        {"  yield %25, %34, %38",
         "  %92 = abs %38 : f32[128,64]\n  %91 = sum %92 axis 1 : f32[128,1]\n  yield %25, %91, %38"},
    };
    const char *argv[2] = {"d=64", "block_m=128"};
    tj_graph *g = NULL;
    char *text = NULL;
    if (tj_recipe_build("attention", 2, argv, &g) != TJ_OK || tj_graph_print(g, &text) != TJ_OK) {
        tj_graph_free(g);
        return NULL;
    }
    tj_graph_free(g);
    const char *at = strstr(text, edits[i][0]);
    tj_graph *out = NULL;
    if (!at) {
        fprintf(stderr, "  attn_edited(%d): the recipe's text has no '%s'\n", i, edits[i][0]);
    } else {
        size_t n = strlen(text) + strlen(edits[i][1]) + 1;
        char *buf = malloc(n);
        if (buf) {
            snprintf(buf, n, "%.*s%s%s", (int)(at - text), text, edits[i][1],
                     at + strlen(edits[i][0]));
            if (tj_graph_parse(buf, strlen(buf), "edited", &out) != TJ_OK)
                fprintf(stderr, "  attn_edited(%d): %s\n", i, tj_last_error());
            free(buf);
        }
    }
    tj_free(text);
    return out;
}

#endif
