/*
 * fuzz_parse.c — libFuzzer target for the text parser.
 *
 *   CC=clang meson setup /tmp/build-fuzz -Dfuzz=enabled
 *   ninja -C /tmp/build-fuzz fuzz/fuzz_parse fuzz/fuzz_corpus
 *   /tmp/build-fuzz/fuzz/fuzz_corpus /tmp/corpus
 *   /tmp/build-fuzz/fuzz/fuzz_parse -max_total_time=60 /tmp/corpus
 *
 * Any input must parse to a valid graph or fail with a message. A graph
 * that parses must print, and its text must parse and print to the same
 * bytes; a breach of that traps, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tilejit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tj_graph *g = NULL;
    tj_status s = tj_graph_parse((const char *)data, size, "fuzz.tj", &g);
    if (s != TJ_OK) {
        if (g || !tj_last_error()[0]) __builtin_trap();
        return 0;
    }
    char *a = NULL, *b = NULL, h[65];
    tj_graph *again = NULL;
    if (tj_graph_print(g, &a) != TJ_OK) __builtin_trap();
    if (tj_graph_hash(g, h) != TJ_OK || strlen(h) != 64) __builtin_trap();
    if (tj_graph_parse(a, strlen(a), "reprint.tj", &again) != TJ_OK) __builtin_trap();
    if (tj_graph_print(again, &b) != TJ_OK || strcmp(a, b)) __builtin_trap();
    free(a);
    free(b);
    tj_graph_free(again);
    tj_graph_free(g);
    return 0;
}
