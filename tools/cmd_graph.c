/*
 * cmd_graph.c — commands about graphs as text: recipes, dump, check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_recipes(int argc, char **argv) {
    (void)argv;
    if (argc > 1) return cli_usage("recipes", "takes no arguments, got '%s'", argv[1]);
    int n = tj_recipe_count();
    for (int i = 0; i < n; i++) {
        const tj_recipe_info *r = tj_recipe_get(i);
        if (!r) continue;
        printf("%-16s %s\n", r->name, r->summary ? r->summary : "");
        printf("%-16s %s\n", "", r->params && *r->params ? r->params : "(no parameters)");
    }
    return CLI_OK;
}

static int recipe_known(const char *name) {
    for (int i = 0; i < tj_recipe_count(); i++) {
        const tj_recipe_info *r = tj_recipe_get(i);
        if (r && !strcmp(r->name, name)) return 1;
    }
    return 0;
}

int cli_dump(int argc, char **argv) {
    if (argc < 2) return cli_usage("dump", "which recipe? (see 'tilejit recipes')");
    const char *name = argv[1];
    if (name[0] == '-') return cli_usage("dump", "unknown option '%s'", name);
    if (!recipe_known(name))
        return cli_usage("dump", "unknown recipe '%s' (see 'tilejit recipes')", name);
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] == '-') return cli_usage("dump", "unknown option '%s'", argv[i]);
        if (!strchr(argv[i], '='))
            return cli_usage("dump", "parameter '%s' is not of the form key=value", argv[i]);
    }
    tj_graph *g = NULL;
    tj_status s = tj_recipe_build(name, argc - 2, (const char *const *)(argv + 2), &g);
    if (s == TJ_OK) s = tj_graph_verify(g);
    char *text = NULL;
    if (s == TJ_OK) s = tj_graph_print(g, &text);
    if (s != TJ_OK) {
        int code = cli_status_exit(s);
        if (code == CLI_USAGE) cli_usage("dump", "%s", tj_last_error());
        else cli_fail("dump", "%s", tj_last_error());
        tj_graph_free(g);
        return code;
    }
    fputs(text, stdout);
    tj_free(text);
    tj_graph_free(g);
    if (fflush(stdout) != 0) return cli_fail("dump", "cannot write the output");
    return CLI_OK;
}

static const char *policy_name(tj_policy p) {
    switch (p) {
    case TJ_EXACT: return "exact";
    case TJ_BUCKET_POW2: return "pow2";
    case TJ_BUCKET_MULTIPLE: return "multiple";
    case TJ_DYNAMIC: return "dynamic";
    }
    return "?";
}

static void print_dim(const tj_graph *g, tj_dim d) {
    if (tj_dim_is_sym(d)) printf("%s", tj_symbol_name(g, tj_dim_symbol(d)));
    else printf("%lld", (long long)d);
}

/* What a user needs to run the graph: its symbols and arguments. */
static void describe(const tj_graph *g, const char *source) {
    char hash[65] = "";
    if (tj_graph_hash(g, hash) != TJ_OK) snprintf(hash, sizeof hash, "?");
    printf("%s: ok\n", source);
    printf("graph    %s\n", tj_graph_name(g));
    printf("hash     %s\n", hash);
    printf("symbols ");
    for (int i = 0; i < tj_num_symbols(g); i++) {
        tj_sym s = {i};
        printf(" %s (%s)", tj_symbol_name(g, s), policy_name(tj_symbol_policy(g, s)));
    }
    printf("%s\ntensors ", tj_num_symbols(g) ? "" : " none");
    for (int i = 0; i < tj_num_tensors(g); i++) {
        tj_tensor t = {i};
        printf(" %s %s[", tj_tensor_name(g, t), tj_dtype_name(tj_tensor_dtype(g, t)));
        for (int k = 0; k < tj_tensor_rank(g, t); k++) {
            if (k) printf(",");
            print_dim(g, tj_tensor_dim(g, t, k));
        }
        printf("]");
    }
    printf("\nscalars ");
    for (int i = 0; i < tj_num_scalars(g); i++)
        printf(" %s %s", tj_scalar_name(g, i), tj_dtype_name(tj_scalar_dtype(g, i)));
    printf("%s\n", tj_num_scalars(g) ? "" : " none");
}

int cli_check(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--") && i + 1 < argc && !path) {
            path = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("check", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage("check", "takes one file, got '%s' and '%s'", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_usage("check", "which file? (- reads stdin)");
    tj_graph *g = NULL;
    int code = cli_load_graph("check", path, &g);
    if (code != CLI_OK) return code;
    /* Parsing verifies, but say so explicitly: check is the verifier's CLI. */
    tj_status s = tj_graph_verify(g);
    if (s != TJ_OK) code = cli_fail("check", "%s", tj_last_error());
    else describe(g, strcmp(path, "-") ? path : "<stdin>");
    tj_graph_free(g);
    return code;
}
