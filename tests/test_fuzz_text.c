/*
 * Seeded mutation fuzzing of the text parser. Starts from the printed
 * text of every recipe (and of a few graphs written here, so the test
 * means something before recipes exist), applies random mutations
 * (bytes flipped, lines dropped, duplicated or swapped, numbers made
 * other / huge / negative, tokens truncated or inserted, labels swapped)
 * and parses each result. Each must give either a valid graph, whose
 * print -> parse -> print is then stable, or an error status with a
 * message; never a crash, hang or leak (run under ASan to see those).
 *
 * The seed is printed; rerun one with TJ_TEST_SEED=<seed>. TJ_FUZZ_ITERS
 * sets the number of mutants (default 120000).
 */
#include <time.h>

#include "harness.h"

#define MAX_SEEDS 64

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void t_reserve(text *t, size_t n) {
    if (n + 1 <= t->cap) return;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < n + 1) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) abort(); /* the test's own memory, not the library's */
    t->p = p;
    t->cap = cap;
}

static void t_splice(text *t, size_t at, size_t del, const char *ins, size_t nins) {
    if (at > t->n) at = t->n;
    if (del > t->n - at) del = t->n - at;
    t_reserve(t, t->n - del + nins);
    memmove(t->p + at + nins, t->p + at + del, t->n - at - del);
    memcpy(t->p + at, ins, nins);
    t->n = t->n - del + nins;
    t->p[t->n] = '\0';
}

static size_t rnd(size_t n) { return n ? (size_t)(harness_next() % n) : 0; }

/* Start and length of line k (counting from 0), or of the last line. */
static void line_span(const text *t, size_t k, size_t *start, size_t *len) {
    size_t s = 0;
    for (size_t i = 0; i < k; i++) {
        const char *nl = memchr(t->p + s, '\n', t->n - s);
        if (!nl) break;
        s = (size_t)(nl - t->p) + 1;
    }
    const char *nl = memchr(t->p + s, '\n', t->n - s);
    *start = s;
    *len = nl ? (size_t)(nl - t->p) - s + 1 : t->n - s;
}

static size_t count_lines(const text *t) {
    size_t n = 1;
    for (size_t i = 0; i < t->n; i++) n += t->p[i] == '\n';
    return n;
}

static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '%' || c == '.';
}

static const char *const vocab[] = {
    "for",        "yield",
    "}",          "{",
    "store",      "grid",
    "sym",        "tensor",
    "scalar",     "load",
    "mma",        "iter(",
    "axes [0]",   "axes [1, 0]",
    "pad",        "element",
    "trans_a",    ":",
    ",",          "=",
    "[",          "]",
    "%0",         "%1",
    "%99",        "%q",
    " f32",       " i32[4]",
    " bool",      "f16[0,1]",
    "const",      "add",
    "max",        "sum",
    "axis",       "-inf",
    "nan",        "1e999",
    "\n",         "\t",
    "#",          "tilejit 1\n",
    "graph g\n",  "\x00",
    "\xff",       "99999999999999999999999",
    "-1",         "1099511627777",
    "2147483648", "0x10",
    "1e-400",     "%%",
};

static const char *const numbers[] = {"0",
                                      "1",
                                      "-1",
                                      "2",
                                      "3",
                                      "7",
                                      "-5",
                                      "64",
                                      "65",
                                      "2147483647",
                                      "2147483648",
                                      "-2147483649",
                                      "1099511627776",
                                      "1099511627777",
                                      "9223372036854775807",
                                      "99999999999999999999",
                                      "1e308",
                                      "-0",
                                      "0.5",
                                      "16"};

static void mutate(text *t) {
    switch (rnd(9)) {
    case 0: { /* flip a byte, or set it to an odd value */
        if (!t->n) return;
        size_t i = rnd(t->n);
        static const char odd[] = {'\0', '\n', '%', '[', ']', '{', '}', ',', ' ', '-', '9'};
        t->p[i] = harness_next() & 1 ? (char)(t->p[i] ^ (1 << rnd(8))) : odd[rnd(sizeof odd)];
        break;
    }
    case 1: { /* drop a line */
        size_t s, n;
        line_span(t, rnd(count_lines(t)), &s, &n);
        t_splice(t, s, n, "", 0);
        break;
    }
    case 2: { /* duplicate a line */
        size_t s, n;
        line_span(t, rnd(count_lines(t)), &s, &n);
        char buf[512];
        if (n > sizeof buf) n = sizeof buf;
        memcpy(buf, t->p + s, n);
        t_splice(t, s + rnd(2) * n, 0, buf, n);
        break;
    }
    case 3: { /* swap two lines */
        size_t nl = count_lines(t), a = rnd(nl), b = rnd(nl), sa, na, sb, nb;
        if (a == b) return;
        if (a > b) {
            size_t x = a;
            a = b;
            b = x;
        }
        line_span(t, a, &sa, &na);
        line_span(t, b, &sb, &nb);
        if (na > 512 || nb > 512 || sa + na > sb) return;
        char la[512], lb[512];
        memcpy(la, t->p + sa, na);
        memcpy(lb, t->p + sb, nb);
        t_splice(t, sb, nb, la, na);
        t_splice(t, sa, na, lb, nb);
        break;
    }
    case 4:
    case 5: { /* change a number (a run of digits, with its sign) */
        if (!t->n) return;
        size_t i = rnd(t->n), tries = 0;
        while (tries++ < t->n && !(t->p[i] >= '0' && t->p[i] <= '9')) i = (i + 1) % t->n;
        if (!(t->p[i] >= '0' && t->p[i] <= '9')) return;
        size_t s = i, e = i;
        while (s > 0 && t->p[s - 1] >= '0' && t->p[s - 1] <= '9') s--;
        if (s > 0 && t->p[s - 1] == '-') s--;
        while (e < t->n && t->p[e] >= '0' && t->p[e] <= '9') e++;
        const char *num = numbers[rnd(sizeof numbers / sizeof numbers[0])];
        t_splice(t, s, e - s, num, strlen(num));
        break;
    }
    case 6: { /* truncate a token, or the whole text */
        if (!t->n) return;
        size_t i = rnd(t->n);
        if (harness_next() % 8 == 0) {
            t->n = i;
            t->p[i] = '\0';
            return;
        }
        size_t e = i;
        while (e < t->n && is_word(t->p[e])) e++;
        if (e > i) t_splice(t, i, rnd(e - i) + 1, "", 0);
        break;
    }
    case 7: { /* insert a token */
        const char *v = vocab[rnd(sizeof vocab / sizeof vocab[0])];
        size_t n = v[0] ? strlen(v) : 1;
        t_splice(t, rnd(t->n + 1), 0, v, n);
        break;
    }
    default: { /* point a use at another value */
        if (!t->n) return;
        size_t i = rnd(t->n), tries = 0;
        while (tries++ < t->n && t->p[i] != '%') i = (i + 1) % t->n;
        if (t->p[i] != '%') return;
        size_t e = i + 1;
        while (e < t->n && is_word(t->p[e])) e++;
        char lab[16];
        int n = snprintf(lab, sizeof lab, "%%%d", (int)rnd(120));
        t_splice(t, i, e - i, lab, (size_t)n);
        break;
    }
    }
}

static const char *const hand_written[] = {
    "tilejit 1\ngraph loops\nsym n pow2 div 16\ntensor x f32[n,64] align 16\n"
    "tensor y bf16[64,n] strides [1, 64]\nscalar s f32\n"
    "%0 = const 0 : i32\n%1 = symval n : i32\n%2 = const 16 : i32\n%3 = const 0 : f32[16,64]\n"
    "%p = program_id 0 : i32\n%m = const -inf : f32[16,1]\n"
    "%4, %5 = for %i = %0 to %1 step %2 iter(%acc = %3, %mx = %m) {\n"
    "  %6 = load x [%i, %0] element pad -inf : f32[16,64]\n"
    "  %7 = max %6 axis 1 : f32[16,1]\n  %8 = max %mx, %7 : f32[16,1]\n"
    "  %9 = sub %6, %8 : f32[16,64]\n  %10 = exp %9 : f32[16,64]\n"
    "  %11 = fma %10, %s, %acc : f32[16,64]\n"
    "  for %j = %0 to %2 step %2 {\n    %12 = transpose %11 : f32[64,16]\n"
    "    %13 = cast %12 : bf16[64,16]\n    store y [%0, %j], %13 axes [0, 1] element\n  }\n"
    "  yield %11, %8\n}\n%14 = mma %4, %4 trans_a : f32[64,64]\n"
    "%15 = sum %14 axis 0 : f32[1,64]\n%16 = reshape %15 : f32[64]\n"
    "%17 = broadcast %16 : f32[16,64]\n%18 = iota axis 1 : i32[16,64]\n"
    "%19 = cast %18 : f32[16,64]\n%20 = lt %17, %19 : bool[16,64]\n"
    "%21 = where %20, %17, %5 : f32[16,64]\nstore x [%p, %0], %21\n"
    "%22 = cdiv %1, %2 : i32\n%23 = num_programs 0 : i32\ngrid [%22, %2]\n",
    "tilejit 1\ngraph tiny\ntensor t i64\n%0 = load t [] pad -3 : i64\n"
    "%1 = const 1 : i64\n%2 = add %0, %1 : i64\nstore t [], %2\n%3 = const 1 : i32\ngrid [%3]\n",
};

static int load_seeds(char **seeds) {
    int n = 0;
    for (size_t i = 0; i < sizeof hand_written / sizeof hand_written[0]; i++)
        seeds[n++] = strdup(hand_written[i]);
    for (int i = 0; i < tj_recipe_count() && n < MAX_SEEDS; i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        tj_graph *g = NULL;
        char *text = NULL;
        if (!info || tj_recipe_build(info->name, 0, NULL, &g) != TJ_OK) continue;
        if (tj_graph_print(g, &text) == TJ_OK) seeds[n++] = text;
        tj_graph_free(g);
        /* And with each flag that defaults to 0 turned on. */
        char params[512];
        snprintf(params, sizeof params, "%s", info->params ? info->params : "");
        for (char *save = NULL, *kv = strtok_r(params, " ", &save); kv && n < MAX_SEEDS;
             kv = strtok_r(NULL, " ", &save)) {
            size_t len = strlen(kv);
            if (len < 3 || strcmp(kv + len - 2, "=0")) continue;
            kv[len - 1] = '1';
            const char *pv[1] = {kv};
            if (tj_recipe_build(info->name, 1, pv, &g) != TJ_OK) continue;
            if (tj_graph_print(g, &text) == TJ_OK) seeds[n++] = text;
            tj_graph_free(g);
        }
    }
    return n;
}

TEST(test_hand_written_seeds_parse) {
    for (size_t i = 0; i < sizeof hand_written / sizeof hand_written[0]; i++) {
        tj_graph *g = NULL;
        CHECKF(tj_graph_parse(hand_written[i], strlen(hand_written[i]), "seed.tj", &g) == TJ_OK,
               "seed %zu: %s", i, tj_last_error());
        tj_graph_free(g);
    }
}

TEST(test_mutated_text_parses_or_fails_cleanly) {
    char *seeds[MAX_SEEDS];
    int nseeds = load_seeds(seeds);
    const char *env = getenv("TJ_FUZZ_ITERS");
    long iters = env && *env ? strtol(env, NULL, 10) : 120000;
    printf("  fuzz seed %llu, %d seed texts, %ld mutants\n", (unsigned long long)harness_seed,
           nseeds, iters);
    long ok = 0, failed = 0;
    text t = {0};
    clock_t start = clock();
    for (long it = 0; it < iters && !harness_failed_now; it++) {
        const char *s = seeds[it % nseeds];
        t.n = 0;
        t_splice(&t, 0, 0, s, strlen(s));
        int nm = 1 + (int)rnd(harness_next() % 4 == 0 ? 8 : 2);
        for (int m = 0; m < nm; m++) mutate(&t);
        tj_graph *g = NULL;
        tj_status st = tj_graph_parse(t.p, t.n, "mutant.tj", &g);
        if (st != TJ_OK) {
            CHECKF(g == NULL && tj_last_error()[0], "mutant %ld failed (%s) without a message", it,
                   tj_status_name(st));
            failed++;
            continue;
        }
        ok++;
        char *a = NULL, *b = NULL;
        tj_graph *h = NULL;
        st = tj_graph_print(g, &a);
        tj_graph_free(g);
        CHECKF(st == TJ_OK, "mutant %ld parsed but does not print: %s\n%s", it, tj_last_error(),
               t.p);
        st = tj_graph_parse(a, strlen(a), "reprint.tj", &h);
        CHECKF(st == TJ_OK, "mutant %ld's print does not parse: %s\n%s", it, tj_last_error(), a);
        st = tj_graph_print(h, &b);
        tj_graph_free(h);
        CHECKF(st == TJ_OK && !strcmp(a, b), "mutant %ld is not stable:\n%s---\n%s", it, a,
               b ? b : "");
        free(a);
        free(b);
    }
    printf("  %ld parsed, %ld rejected, %.1f s\n", ok, failed,
           (double)(clock() - start) / CLOCKS_PER_SEC);
    free(t.p);
    for (int i = 0; i < nseeds; i++) free(seeds[i]);
    CHECK(failed > 0 && ok > 0); /* the mutations both break and keep texts */
}

int main(void) { return harness_main(); }
