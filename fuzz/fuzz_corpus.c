/*
 * fuzz_corpus.c — writes the printed text of every recipe (default
 * parameters) into DIR/<recipe>.tj, the seed corpus for fuzz_parse.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tilejit.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    int written = 0;
    for (int i = 0; i < tj_recipe_count(); i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        tj_graph *g = NULL;
        char *text = NULL, path[4096];
        if (tj_recipe_build(info->name, 0, NULL, &g) != TJ_OK ||
            tj_graph_print(g, &text) != TJ_OK) {
            fprintf(stderr, "%s: %s\n", info->name, tj_last_error());
            tj_graph_free(g);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s.tj", argv[1], info->name);
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs(text, f);
            written += fclose(f) == 0;
        } else {
            perror(path);
        }
        tj_free(text);
        tj_graph_free(g);
    }
    printf("%d recipe texts written to %s\n", written, argv[1]);
    return written ? 0 : 1;
}
