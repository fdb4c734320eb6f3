/*
 * The canonical text form (.tj): print, parse, round trips, stability,
 * error messages, SHA-256 and the graph hash.
 *
 * Golden files: tests/golden/<name>.tj hold the printed text of the small
 * graphs built in test_golden_files; they are compared byte for byte.
 * To regenerate them after an intended change of the text form, run this
 * test with TJ_REGEN_GOLDEN=1 in the environment, e.g.
 *     TJ_REGEN_GOLDEN=1 build/tests/test_text
 * and review the diff of tests/golden/ before committing it.
 */
#include <math.h>

#include "harness.h"
#include "ir.h"

static tj_graph *new_graph(const char *name) {
    tj_graph *g = NULL;
    if (tj_graph_new(name, &g) != TJ_OK) return NULL;
    return g;
}

static tj_val ci(tj_graph *g, int64_t v) { return tj_const(g, TJ_I32, (double)v); }

/* print(g) == print(parse(print(g))); returns the text (caller frees). */
static char *roundtrip(tj_graph *g, const char *what) {
    char *a = NULL, *b = NULL;
    tj_graph *h = NULL;
    if (tj_graph_print(g, &a) != TJ_OK) {
        fprintf(stderr, "  %s: print failed: %s\n", what, tj_last_error());
        return NULL;
    }
    if (tj_graph_parse(a, strlen(a), what, &h) != TJ_OK) {
        fprintf(stderr, "  %s: parse failed: %s\n--- text ---\n%s", what, tj_last_error(), a);
        free(a);
        return NULL;
    }
    tj_status s = tj_graph_print(h, &b);
    tj_graph_free(h);
    if (s != TJ_OK || strcmp(a, b)) {
        fprintf(stderr, "  %s: round trip differs\n--- first ---\n%s--- second ---\n%s", what, a,
                b ? b : "(none)");
        free(a);
        free(b);
        return NULL;
    }
    free(b);
    return a;
}

/* ---- SHA-256 --------------------------------------------------------- */

TEST(test_sha256_fips_vectors) {
    char hex[65];
    ir_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    ir_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ir_sha256_hex(m448, strlen(m448), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    ir_sha256_hex(m896, strlen(m896), hex);
    CHECK(!strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
}

TEST(test_sha256_million_a_in_random_pieces) {
    static char a[1000000];
    memset(a, 'a', sizeof a);
    ir_sha256 s;
    uint8_t d[32];
    ir_sha256_init(&s);
    for (size_t off = 0; off < sizeof a;) {
        size_t n = (size_t)harness_randint(1, 200);
        if (n > sizeof a - off) n = sizeof a - off;
        ir_sha256_update(&s, a + off, n);
        off += n;
    }
    ir_sha256_final(&s, d);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    ir_sha256_hex(a, sizeof a, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(test_sha256_padding_boundaries_agree_with_one_shot) {
    /* Lengths around the 55/56/64-byte padding edges, fed byte by byte. */
    char buf[130], one[65], two[65];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)harness_randint(1, 255);
    for (size_t n = 50; n <= sizeof buf; n++) {
        ir_sha256 s;
        uint8_t d[32];
        ir_sha256_init(&s);
        for (size_t i = 0; i < n; i++) ir_sha256_update(&s, buf + i, 1);
        ir_sha256_final(&s, d);
        for (int i = 0; i < 32; i++) snprintf(two + 2 * i, 3, "%02x", d[i]);
        ir_sha256_hex(buf, n, one);
        CHECKF(!strcmp(one, two), "length %zu", n);
    }
}

/* ---- graphs ---------------------------------------------------------- */

/* Every op, attribute and declaration the text form has. */
static tj_graph *build_all_ops(void) {
    tj_graph *g = new_graph("all_ops");
    tj_sym M = tj_symbol(g, "M", TJ_EXACT, 0, 1);
    tj_sym N = tj_symbol(g, "N", TJ_BUCKET_POW2, 0, 64);
    tj_sym K = tj_symbol(g, "K", TJ_BUCKET_MULTIPLE, 128, 16);
    tj_sym B = tj_symbol(g, "B", TJ_DYNAMIC, 0, 1);
    tj_dim dm = tj_dim_sym(M), dn = tj_dim_sym(N), dk = tj_dim_sym(K), db = tj_dim_sym(B);
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 2, (tj_dim[]){dm, dk}, NULL);
    tj_tensor w = tj_tensor_arg(g, "w", TJ_BF16, 2, (tj_dim[]){dk, dn}, (tj_dim[]){1, dk});
    tj_tensor o = tj_tensor_arg(g, "o", TJ_F32, 2, (tj_dim[]){dm, dn}, NULL);
    tj_tensor_set_align(g, o, 16);
    tj_tensor b5 = tj_tensor_arg(g, "b5", TJ_F16, 5, (tj_dim[]){db, 2, 3, 4, 5},
                                 (tj_dim[]){120, 60, 20, 5, 1});
    tj_tensor s0 = tj_tensor_arg(g, "s0", TJ_I32, 0, NULL, NULL);
    tj_tensor idx = tj_tensor_arg(g, "idx", TJ_I64, 1, (tj_dim[]){dm}, NULL);
    tj_tensor f8a = tj_tensor_arg(g, "f8a", TJ_F8E4M3, 2, (tj_dim[]){dm, 64}, NULL);
    tj_tensor f8b = tj_tensor_arg(g, "f8b", TJ_F8E4M3, 2, (tj_dim[]){64, 64}, NULL);
    tj_tensor f8c = tj_tensor_arg(g, "f8c", TJ_F8E5M2, 2, (tj_dim[]){64, 32}, NULL);
    tj_tensor mk = tj_tensor_arg(g, "mk", TJ_BOOL, 2, (tj_dim[]){dm, dn}, NULL);
    tj_val scale = tj_scalar_arg(g, "scale", TJ_F32);
    tj_val eps = tj_scalar_arg(g, "eps", TJ_BF16);
    tj_val nsc = tj_scalar_arg(g, "nsc", TJ_I32);
    tj_val flag = tj_scalar_arg(g, "flag", TJ_BOOL);

    tj_val p0 = tj_program_id(g, 0), p1 = tj_program_id(g, 1), np = tj_num_programs(g, 2);
    tj_val z = ci(g, 0);
    tj_name(g, p0, "pid_m");
    tj_val xt = tj_load(g, x, (tj_val[]){p0, z}, 2, (tj_dim[]){64, 32}, NULL, -INFINITY, 0);
    tj_val yt = tj_load(g, x, (tj_val[]){p1, np}, 2, (tj_dim[]){64, 32}, (int[]){0, 1}, NAN,
                        TJ_COORD_ELEMENT);
    tj_val acc = tj_add(g, xt, tj_const(g, TJ_F32, harness_uniform(0.25, 4.0)));
    for (int u = 0; u < TJ_UNARY_COUNT; u++)
        if (u != TJ_NOT) acc = tj_add(g, acc, tj_unary(g, (tj_unop)u, xt));
    for (int b = 0; b < TJ_BINARY_COUNT; b++) {
        if (b == TJ_MOD || b == TJ_CDIV || b == TJ_AND || b == TJ_OR || b == TJ_XOR) continue;
        tj_val r = tj_binary(g, (tj_binop)b, xt, yt);
        acc = tj_add(g, acc, b >= TJ_EQ ? tj_cast(g, r, TJ_F32) : r);
    }
    tj_val io = tj_iota(g, TJ_I32, 2, (tj_dim[]){64, 32}, 1);
    tj_val ic = tj_add(g, tj_binary(g, TJ_MOD, io, ci(g, 7)), tj_binary(g, TJ_CDIV, io, nsc));
    ic = tj_unary(g, TJ_NOT, tj_unary(g, TJ_RELU, tj_unary(g, TJ_ABS, tj_unary(g, TJ_NEG, ic))));
    acc = tj_add(g, acc, tj_cast(g, ic, TJ_F32));
    tj_val b1 = tj_binary(g, TJ_LT, xt, yt), b2 = tj_binary(g, TJ_GT, xt, yt);
    tj_val bb = tj_binary(g, TJ_XOR, tj_binary(g, TJ_AND, b1, b2), tj_binary(g, TJ_OR, b1, b2));
    acc = tj_where(g, tj_unary(g, TJ_NOT, bb), acc, yt);
    acc = tj_where(
        g, flag, acc,
        tj_fma(g, acc, tj_full(g, TJ_F32, 2, (tj_dim[]){64, 1}, -0.0), tj_cast(g, eps, TJ_F32)));
    for (int r = 0; r < TJ_REDUCE_COUNT; r++)
        for (int ax = 0; ax < 2; ax++) acc = tj_add(g, acc, tj_reduce(g, (tj_redop)r, xt, ax));
    tj_val row = tj_reshape(g, tj_sum(g, xt, 0), 1, (tj_dim[]){32});
    acc = tj_add(g, acc, tj_broadcast(g, row, 2, (tj_dim[]){64, 32}));
    acc = tj_mul(g, acc, scale);
    tj_val i8 = tj_load(g, idx, (tj_val[]){p0}, 1, (tj_dim[]){64}, NULL, 3, 0);
    tj_val sv = tj_load(g, s0, NULL, 0, NULL, NULL, 0, 0);
    acc = tj_add(g, acc, tj_cast(g, tj_reshape(g, i8, 2, (tj_dim[]){64, 1}), TJ_F32));
    acc = tj_add(g, acc, tj_cast(g, sv, TJ_F32));
    tj_val t5 =
        tj_load(g, b5, (tj_val[]){p0, z, z, z, z}, 2, (tj_dim[]){4, 5}, (int[]){3, 4}, 1e300, 0);
    tj_val m5 = tj_load(g, b5, (tj_val[]){p0, z, z, z, z}, 2, (tj_dim[]){2, 4}, (int[]){1, 3},
                        5e-324, TJ_COORD_ELEMENT);
    tj_store(g, b5, (tj_val[]){p1, z, z, z, z}, tj_add(g, t5, tj_const(g, TJ_F16, 0.1)), NULL, 0);
    tj_store(g, b5, (tj_val[]){p1, z, z, z, z}, m5, (int[]){1, 3}, TJ_COORD_ELEMENT);
    tj_store(g, s0, NULL, tj_add(g, sv, ci(g, 1)), NULL, 0);
    tj_store(g, idx, (tj_val[]){p1}, i8, NULL, 0);
    acc = tj_add(g, acc, tj_transpose(g, tj_transpose(g, xt)));
    acc = tj_add(
        g, acc,
        tj_cast(g, tj_load(g, f8c, (tj_val[]){z, z}, 2, (tj_dim[]){64, 32}, NULL, -1, 0), TJ_F32));

    /* mma in every flavour, inside nested loops with carried values. */
    tj_val kend = tj_symval(g, K);
    tj_val init_acc = tj_full(g, TJ_F32, 2, (tj_dim[]){64, 64}, 0.0);
    tj_val init_m = tj_full(g, TJ_F32, 2, (tj_dim[]){64, 1}, -INFINITY);
    tj_val kv, car[2], res[2];
    tj_for_begin(g, z, kend, ci(g, 64), 2, (tj_val[]){init_acc, init_m}, &kv, car);
    tj_name(g, kv, "k");
    tj_name(g, car[0], "acc");
    tj_val a = tj_load(g, f8a, (tj_val[]){p0, kv}, 2, (tj_dim[]){64, 64}, NULL, 0, 0);
    tj_val bt = tj_load(g, f8b, (tj_val[]){z, z}, 2, (tj_dim[]){64, 64}, NULL, 0, 0);
    tj_val c = tj_mma(g, a, bt, car[0], 0);
    c = tj_mma(g, a, bt, c, TJ_TRANS_A);
    c = tj_mma(g, a, bt, c, TJ_TRANS_B);
    c = tj_mma(g, a, bt, c, TJ_TRANS_A | TJ_TRANS_B);
    tj_val m = tj_maximum(g, car[1], tj_rowmax(g, c));
    tj_val jv, jc, jr;
    tj_for_begin(g, kv, tj_add(g, kv, ci(g, 64)), ci(g, 16), 1, &m, &jv, &jc);
    tj_val nm = tj_minimum(
        g, jc,
        tj_cast(g, tj_reshape(g, tj_iota(g, TJ_I64, 1, (tj_dim[]){64}, 0), 2, (tj_dim[]){64, 1}),
                TJ_F32));
    tj_for_end(g, 1, &nm, &jr);
    tj_val inner_iv;
    tj_for_begin(g, z, nsc, ci(g, 1), 0, NULL, &inner_iv, NULL);
    tj_store(g, mk, (tj_val[]){p0, inner_iv}, tj_binary(g, TJ_GE, c, tj_const(g, TJ_F32, 1)), NULL,
             0);
    tj_for_end(g, 0, NULL, NULL);
    tj_for_end(g, 2, (tj_val[]){c, jr}, res);
    tj_name(g, res[0], "out");
    tj_val tile_n = tj_full(g, TJ_F32, 2, (tj_dim[]){64, dn}, 1.5e-7);
    tj_store(g, o, (tj_val[]){p1, p0}, tile_n, NULL, 0);
    tj_val wt = tj_load(g, w, (tj_val[]){z, p1}, 2, (tj_dim[]){32, 64}, NULL, 0, 0);
    tj_store(g, o, (tj_val[]){p0, p1}, tj_mma(g, tj_cast(g, xt, TJ_BF16), wt, TJ_NONE, 0), NULL, 0);
    tj_store(g, o, (tj_val[]){p0, p1}, tj_add(g, res[0], res[1]), NULL, 0);
    tj_store(g, o, (tj_val[]){p0, p1}, acc, NULL, 0);
    tj_val gm = tj_binary(g, TJ_CDIV, tj_symval(g, M), ci(g, 64));
    tj_val gn = tj_binary(g, TJ_CDIV, tj_symval(g, N), ci(g, 64));
    tj_set_grid(g, 3, (tj_val[]){gm, gn, ci(g, 2)});
    return g;
}

TEST(test_all_ops_round_trip) {
    tj_graph *g = build_all_ops();
    CHECKF(tj_graph_status(g) == TJ_OK, "%s", tj_graph_error(g));
    char *text = roundtrip(g, "all_ops.tj");
    CHECK(text);
    /* Spot-check the syntax of what the text must say. */
    const char *want[] = {"tilejit 1\ngraph all_ops\n",
                          "sym M exact\n",
                          "sym N pow2 div 64\n",
                          "sym K multiple 128 div 16\n",
                          "sym B dynamic\n",
                          "tensor w bf16[K,N] strides [1, K]\n",
                          "tensor o f32[M,N] align 16\n",
                          "tensor s0 i32\n",
                          "scalar flag bool\n",
                          "pad -inf",
                          "] pad nan element : f32[64,32]",
                          "pad 5e-324 element",
                          "pad 1e+300",
                          "%pid_m = program_id 0 : i32",
                          "trans_a trans_b : f32[64,64]",
                          "for %k = ",
                          "iter(%acc = ",
                          "yield ",
                          "grid [",
                          "max ",
                          "axis 1",
                          "= const -0 : f32[64,1]",
                          "= const 0.1 : f16"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECKF(strstr(text, want[i]), "missing \"%s\" in\n%s", want[i], text);
    for (int u = 0; u < TJ_UNARY_COUNT; u++) {
        char op[40];
        snprintf(op, sizeof op, " = %s %%", tj_unary_name((tj_unop)u));
        CHECKF(strstr(text, op), "unary %s missing", tj_unary_name((tj_unop)u));
    }
    for (int b = 0; b < TJ_BINARY_COUNT; b++) {
        char op[40];
        snprintf(op, sizeof op, " = %s %%", tj_binary_name((tj_binop)b));
        CHECKF(strstr(text, op), "binary %s missing", tj_binary_name((tj_binop)b));
    }
    free(text);
    tj_graph_free(g);
}

TEST(test_print_is_deterministic_and_hash_is_of_the_text) {
    tj_graph *g = build_all_ops();
    char *a = NULL, *b = NULL, h1[65], h2[65], h3[65];
    CHECK_OK(tj_graph_print(g, &a));
    CHECK_OK(tj_graph_print(g, &b));
    CHECK(!strcmp(a, b));
    CHECK_OK(tj_graph_hash(g, h1));
    CHECK_OK(tj_graph_hash(g, h2));
    ir_sha256_hex(a, strlen(a), h3);
    CHECK(!strcmp(h1, h2) && !strcmp(h1, h3) && strlen(h1) == 64);
    free(a);
    free(b);
    tj_graph_free(g);
}

/* The same computation with independent ops built in two orders (and a
 * dead value in one) prints the same bytes. */
static tj_graph *build_order(int flip) {
    tj_graph *g = new_graph("order");
    tj_sym n = tj_symbol(g, "n", TJ_EXACT, 0, 1);
    tj_dim d[2] = {tj_dim_sym(n), 128};
    tj_tensor ta = tj_tensor_arg(g, "a", TJ_F16, 2, d, NULL);
    tj_tensor tb = tj_tensor_arg(g, "b", TJ_F16, 2, d, NULL);
    tj_tensor to = tj_tensor_arg(g, "o", TJ_F16, 2, d, NULL);
    tj_val s = tj_scalar_arg(g, "s", TJ_F32);
    tj_val pid, zero, a, b, ea, eb;
    if (!flip) {
        pid = tj_program_id(g, 0);
        zero = ci(g, 0);
        a = tj_load(g, ta, (tj_val[]){pid, zero}, 2, (tj_dim[]){32, 128}, NULL, 0, 0);
        b = tj_load(g, tb, (tj_val[]){pid, zero}, 2, (tj_dim[]){32, 128}, NULL, 0, 0);
        ea = tj_exp(g, tj_cast(g, a, TJ_F32));
        eb = tj_exp(g, tj_cast(g, b, TJ_F32));
    } else {
        tj_val dead = tj_const(g, TJ_F32, 42);
        (void)tj_exp(g, dead);
        zero = ci(g, 0);
        pid = tj_program_id(g, 0);
        b = tj_load(g, tb, (tj_val[]){pid, zero}, 2, (tj_dim[]){32, 128}, NULL, 0, 0);
        eb = tj_exp(g, tj_cast(g, b, TJ_F32));
        a = tj_load(g, ta, (tj_val[]){pid, zero}, 2, (tj_dim[]){32, 128}, NULL, 0, 0);
        ea = tj_exp(g, tj_cast(g, a, TJ_F32));
    }
    tj_val r = tj_mul(g, tj_add(g, ea, eb), s);
    tj_store(g, to, (tj_val[]){pid, zero}, r, NULL, 0);
    tj_set_grid(g, 1, (tj_val[]){tj_binary(g, TJ_CDIV, tj_symval(g, n), ci(g, 32))});
    return g;
}

TEST(test_print_is_stable_under_build_order_of_independent_ops) {
    tj_graph *g1 = build_order(0), *g2 = build_order(1);
    char *a = NULL, *b = NULL, h1[65], h2[65];
    CHECK_OK(tj_graph_print(g1, &a));
    CHECK_OK(tj_graph_print(g2, &b));
    CHECKF(!strcmp(a, b), "\n--- order 1 ---\n%s--- order 2 ---\n%s", a, b);
    CHECK(!strstr(b, "42")); /* the dead value is dropped */
    CHECK_OK(tj_graph_hash(g1, h1));
    CHECK_OK(tj_graph_hash(g2, h2));
    CHECK(!strcmp(h1, h2));
    free(a);
    free(b);
    tj_graph_free(g1);
    tj_graph_free(g2);
}

TEST(test_every_recipe_round_trips) {
    int n = tj_recipe_count();
    if (n == 0) SKIP("no recipes yet");
    for (int i = 0; i < n; i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        CHECK(info && info->name);
        tj_graph *g = NULL;
        CHECKF(tj_recipe_build(info->name, 0, NULL, &g) == TJ_OK, "%s: %s", info->name,
               tj_last_error());
        char *text = roundtrip(g, info->name);
        CHECKF(text, "recipe %s", info->name);
        free(text);
        tj_graph_free(g);
    }
}

/* Each recipe with one parameter changed from its default, for the
 * values that build: other dtypes, policies, flags turned on. */
TEST(test_recipe_variants_round_trip) {
    static const char *const alternates[] = {"1",       "f16",  "f32",  "pow2", "exact",
                                             "dynamic", "gelu", "relu", "64",   "32"};
    int built = 0;
    for (int i = 0; i < tj_recipe_count(); i++) {
        const tj_recipe_info *info = tj_recipe_get(i);
        char params[512];
        snprintf(params, sizeof params, "%s", info->params ? info->params : "");
        for (char *save = NULL, *kv = strtok_r(params, " ", &save); kv;
             kv = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) continue;
            for (size_t a = 0; a < sizeof alternates / sizeof alternates[0]; a++) {
                if (!strcmp(eq + 1, alternates[a])) continue;
                char param[128];
                snprintf(param, sizeof param, "%.*s=%s", (int)(eq - kv), kv, alternates[a]);
                const char *pv[1] = {param};
                tj_graph *g = NULL;
                if (tj_recipe_build(info->name, 1, pv, &g) != TJ_OK) continue;
                char *text = roundtrip(g, param);
                CHECKF(text, "recipe %s %s", info->name, param);
                free(text);
                tj_graph_free(g);
                built++;
            }
        }
    }
    if (tj_recipe_count() == 0) SKIP("no recipes yet");
    CHECK(built > tj_recipe_count());
}

TEST(test_floats_round_trip_exactly) {
    double vals[64] = {0.0,
                       -0.0,
                       INFINITY,
                       -INFINITY,
                       5e-324,
                       -2.2250738585072014e-308,
                       1.7976931348623157e308,
                       0.1,
                       1.0 / 3.0,
                       16777217.0,
                       9007199254740993.0};
    for (int i = 11; i < 64; i++)
        vals[i] = harness_uniform(-1, 1) * pow(10, (double)harness_randint(-300, 300));
    tj_graph *g = new_graph("floats");
    tj_tensor t = tj_tensor_arg(g, "t", TJ_F32, 1, (tj_dim[]){64}, NULL);
    for (int i = 0; i < 64; i++)
        tj_store(g, t, (tj_val[]){ci(g, i)}, tj_const(g, TJ_F32, vals[i]), NULL, TJ_COORD_ELEMENT);
    tj_set_grid(g, 1, (tj_val[]){ci(g, 1)});
    char *text = NULL;
    CHECK_OK(tj_graph_print(g, &text));
    tj_graph *h = NULL;
    CHECK_OK(tj_graph_parse(text, strlen(text), "floats.tj", &h));
    int seen = 0;
    for (int i = 0; i < h->nnodes; i++) {
        const ir_node *n = &h->nodes[i];
        if (n->op != IR_CONST || n->type.dtype != TJ_F32) continue;
        CHECKF(!memcmp(&n->f, &vals[seen], sizeof(double)), "%.17g read back as %.17g", vals[seen],
               n->f);
        seen++;
    }
    CHECK(seen == 64);
    free(text);
    tj_graph_free(g);
    tj_graph_free(h);
}

/* ---- parsing --------------------------------------------------------- */

static const char *const small_text =
    "# a comment, then blank lines\n"
    "\n"
    "tilejit 1\n"
    "graph small\n"
    "sym n pow2\n"
    "tensor x f32[n,64]\n"
    "tensor y f32[n,64]\n"
    "scalar alpha f32\n"
    "%7 = program_id 0 : i32\n"
    "%z = const 0 : i32\n"
    "%t = load x [%7, %z] element pad -inf axes [0, 1] : f32[16,64]   # attributes in any order\n"
    "%3 = mul %t, %alpha : f32[16,64]\n"
    "store y [%7, %z], %3\n"
    "%nv = symval n : i32\n"
    "%s = const 16 : i32\n"
    "%g = cdiv %nv, %s : i32\n"
    "grid [%g]";

TEST(test_parse_accepts_comments_any_attribute_order_and_no_final_newline) {
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_parse(small_text, strlen(small_text), "small.tj", &g));
    char *text = NULL;
    CHECK_OK(tj_graph_print(g, &text));
    CHECKF(strstr(text, "%t = load x [%0, %z] pad -inf element : f32[16,64]\n"), "%s", text);
    CHECK(strstr(text, "%1 = mul %t, %alpha : f32[16,64]\n"));
    CHECK(tj_num_scalars(g) == 1 && tj_num_tensors(g) == 2 && tj_num_symbols(g) == 1);
    free(text);
    tj_graph_free(g);
}

TEST(test_parse_records_lines_labels_and_names) {
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_parse(small_text, strlen(small_text), "small.tj", &g));
    int found = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->op == IR_PROGRAM_ID) {
            CHECK(n->line == 9 && n->label && !strcmp(n->label, "%7") && !n->name);
            found++;
        }
        if (n->op == IR_LOAD) {
            CHECK(n->line == 11 && !strcmp(n->label, "%t") && !strcmp(n->name, "t"));
            found++;
        }
    }
    CHECK(found == 2);
    CHECK(g->source && !strcmp(g->source, "small.tj"));
    CHECK(g->grid_line == 17);
    tj_graph_free(g);
}

/* Replace line `line` (1-based) of small_text with `repl`. */
static char *with_line(int line, const char *repl) {
    static char buf[4096];
    const char *p = small_text;
    size_t off = 0;
    for (int l = 1; *p || l == line; l++) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (l == line)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\n", repl);
        else
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%.*s\n", (int)n, p);
        p += n + (e != NULL);
        if (!e) break;
    }
    return buf;
}

static tj_status parse_str(const char *text) {
    tj_graph *g = NULL;
    tj_status s = tj_graph_parse(text, strlen(text), "bad.tj", &g);
    tj_graph_free(g);
    if (s == TJ_OK) tj_set_error(TJ_OK, "(parsed)");
    return s;
}

TEST(test_syntax_errors_name_line_column_expected_and_found) {
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t %alpha : f32[16,64]")), TJ_ERR_PARSE,
              "bad.tj:12:13: expected ',', found '%alpha'");
    CHECK_ERR(parse_str(with_line(12, "%3 = frob %t : f32[16,64]")), TJ_ERR_PARSE,
              "bad.tj:12:6: expected an op name, found 'frob'");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %nope : f32[16,64]")), TJ_ERR_PARSE,
              "bad.tj:12:14: value %nope is not defined");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f33[16,64]")), TJ_ERR_PARSE,
              "bad.tj:12:23: expected a dtype");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f32[16,64")), TJ_ERR_PARSE,
              "bad.tj:12:32: expected ']', found end of line");
    CHECK_ERR(parse_str(with_line(12, "%t = neg %t : f32[16,64]")), TJ_ERR_PARSE,
              "bad.tj:12:1: value %t is defined twice");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f32[16,99999999999999999999]")),
              TJ_ERR_PARSE, "bad.tj:12:30: number '99999999999999999999' is too large");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f32[16,2000000000000]")), TJ_ERR_PARSE,
              "out of range");
    CHECK_ERR(parse_str(with_line(6, "tensor x f32[n,-64]")), TJ_ERR_PARSE,
              "bad.tj:6:16: dimension -64 is out of range");
    CHECK_ERR(parse_str(with_line(3, "tilejit 2")), TJ_ERR_PARSE,
              "bad.tj:3:9: text form version 2");
    CHECK_ERR(parse_str(with_line(4, "grahp small")), TJ_ERR_PARSE,
              "bad.tj:4:1: expected 'graph', found 'grahp'");
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f32[16,64] \x01")), TJ_ERR_PARSE,
              "found byte 0x01");
    CHECK_ERR(parse_str(with_line(12, "}")), TJ_ERR_PARSE, "bad.tj:12:1: '}' without a loop");
    CHECK_ERR(parse_str(with_line(12, "yield %t")), TJ_ERR_PARSE,
              "bad.tj:12:1: 'yield' outside a loop");
    CHECK_ERR(parse_str(""), TJ_ERR_PARSE, "bad.tj:1:1: expected 'tilejit', found end of input");
    const char nul[] = "tilejit 1\ngraph a\0b\n";
    tj_graph *g = NULL;
    CHECK_ERR(tj_graph_parse(nul, sizeof nul - 1, NULL, &g), TJ_ERR_PARSE,
              "<text>:2:8: expected end of line, found byte 0x00");
    CHECK(g == NULL);
}

TEST(test_type_errors_name_the_line_and_the_label) {
    /* A builder rule broken: the message has the line and the label. */
    CHECK_ERR(parse_str(with_line(12, "%q = mma %t, %t : f32[16,16]")), TJ_ERR_VERIFY,
              "bad.tj:12: %q (mma): inner dimensions differ");
    CHECK_ERR(parse_str(with_line(12, "%3 = exp %7 : i32")), TJ_ERR_VERIFY,
              "bad.tj:12: %3 (unary)");
    /* A written type that is not the inferred one. */
    CHECK_ERR(parse_str(with_line(12, "%3 = mul %t, %alpha : f32[16,32]")), TJ_ERR_PARSE,
              "bad.tj:12: %3 (binary): the type written, f32[16,32], is not the type of the op, "
              "f32[16,64]");
    CHECK_ERR(parse_str(with_line(13, "store y [%7], %3")), TJ_ERR_PARSE,
              "bad.tj:13:17: 1 coordinates given for tensor 'y' of rank 2");
    CHECK_ERR(parse_str(with_line(5, "sym n multiple 0")), TJ_ERR_PARSE,
              "bad.tj:5:16: bucket multiple 0 is out of range");
    CHECK_ERR(parse_str(with_line(8, "scalar x f32")), TJ_ERR_INVALID_ARG,
              "bad.tj:8: scalar name 'x' is already used");
    CHECK_ERR(parse_str(with_line(12, "%x = neg %t : f32[16,64]")), TJ_ERR_INVALID_ARG,
              "bad.tj:12: value name 'x' is already used");
}

static const char *const loop_text = "tilejit 1\n"
                                     "graph loops\n"
                                     "tensor x f32[64,64]\n"
                                     "%0 = const 0 : i32\n"
                                     "%1 = const 64 : i32\n"
                                     "%2 = const 16 : i32\n"
                                     "%3 = const 0 : f32[16,64]\n"
                                     "%4 = for %i = %0 to %1 step %2 iter(%acc = %3) {\n"
                                     "  %5 = load x [%i, %0] element : f32[16,64]\n"
                                     "  %6 = add %acc, %5 : f32[16,64]\n"
                                     "  yield %6\n"
                                     "}\n"
                                     "store x [%0, %0], %4\n"
                                     "grid [%2]\n";

TEST(test_loop_scope_and_shape_errors) {
    tj_graph *g = NULL;
    CHECK_OK(tj_graph_parse(loop_text, strlen(loop_text), "loops.tj", &g));
    tj_graph_free(g);
    char buf[2048];
    /* A value of the body used after the loop. */
    snprintf(buf, sizeof buf, "%s", loop_text);
    char *st = strstr(buf, "store x [%0, %0], %4");
    memcpy(st, "store x [%0, %0], %5", 20);
    CHECK_ERR(parse_str(buf), TJ_ERR_PARSE,
              "bad.tj:13:19: value %5 is defined inside a loop body and is not visible here");
    /* Results that do not match the carried values. */
    snprintf(buf, sizeof buf, "%s", loop_text);
    memcpy(strstr(buf, "%4 = for"), "     for", 8);
    CHECK_ERR(parse_str(buf), TJ_ERR_PARSE,
              "bad.tj:8:6: the loop carries 1 value but 0 results are named");
    /* A yield of the wrong type. */
    snprintf(buf, sizeof buf, "%s", loop_text);
    memcpy(strstr(buf, "yield %6"), "yield %0", 8);
    CHECK_ERR(parse_str(buf), TJ_ERR_VERIFY, "bad.tj:8: ");
    CHECK_ERR(parse_str(buf), TJ_ERR_VERIFY, "changes type: carried f32[16,64], yielded i32");
    /* A loop that is never closed. */
    snprintf(buf, sizeof buf, "%s", loop_text);
    *strstr(buf, "}\n") = ' ';
    CHECK_ERR(parse_str(buf), TJ_ERR_PARSE, "expected '}' closing the loop of line 8");
    /* Nesting deeper than the builder allows. */
    char deep[8192];
    size_t off = (size_t)snprintf(deep, sizeof deep, "tilejit 1\ngraph d\n%%0 = const 0 : i32\n");
    for (int i = 0; i < IR_MAX_DEPTH + 1; i++)
        off += (size_t)snprintf(deep + off, sizeof deep - off,
                                "for %%i%d = %%0 to %%0 step %%0 {\n", i);
    for (int i = 0; i < IR_MAX_DEPTH + 1; i++)
        off += (size_t)snprintf(deep + off, sizeof deep - off, "}\n");
    CHECK_ERR(parse_str(deep), TJ_ERR_PARSE, "loops nest deeper than 16");
}

TEST(test_parse_and_print_reject_bad_arguments) {
    tj_graph *g = NULL;
    char *text = (char *)1;
    CHECK_ERR(tj_graph_parse("x", 1, NULL, NULL), TJ_ERR_INVALID_ARG, "out is NULL");
    CHECK_ERR(tj_graph_parse(NULL, 3, NULL, &g), TJ_ERR_INVALID_ARG, "text is NULL");
    CHECK_ERR(tj_graph_print(NULL, &text), TJ_ERR_INVALID_ARG, "NULL");
    CHECK(text == NULL);
    char h[65];
    CHECK_ERR(tj_graph_hash(NULL, h), TJ_ERR_INVALID_ARG, "NULL");
    /* A graph holding a builder error, or an open loop, is not printed. */
    g = new_graph("bad");
    tj_val a = tj_full(g, TJ_F16, 2, (tj_dim[]){16, 32}, 1.0);
    tj_mma(g, a, a, TJ_NONE, 0);
    CHECK_ERR(tj_graph_print(g, &text), TJ_ERR_VERIFY, "inner dimensions differ");
    tj_graph_free(g);
    g = new_graph("open");
    tj_val iv, z = ci(g, 0);
    CHECK_OK(tj_for_begin(g, z, z, z, 0, NULL, &iv, NULL));
    CHECK_ERR(tj_graph_print(g, &text), TJ_ERR_INVALID_ARG, "still open");
    tj_graph_free(g);
}

/* ---- golden files ---------------------------------------------------- */

static tj_graph *golden_vector_add(void) {
    tj_graph *g = new_graph("vector_add");
    tj_sym n = tj_symbol(g, "n", TJ_BUCKET_MULTIPLE, 1024, 1);
    tj_tensor x = tj_tensor_arg(g, "x", TJ_F32, 1, (tj_dim[]){tj_dim_sym(n)}, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", TJ_F32, 1, (tj_dim[]){tj_dim_sym(n)}, NULL);
    tj_tensor o = tj_tensor_arg(g, "out", TJ_F32, 1, (tj_dim[]){tj_dim_sym(n)}, NULL);
    tj_val pid = tj_program_id(g, 0);
    tj_val a = tj_load(g, x, &pid, 1, (tj_dim[]){1024}, NULL, 0, 0);
    tj_val b = tj_load(g, y, &pid, 1, (tj_dim[]){1024}, NULL, 0, 0);
    tj_name(g, a, "a");
    tj_name(g, b, "b");
    tj_store(g, o, &pid, tj_add(g, a, b), NULL, 0);
    tj_set_grid(g, 1, (tj_val[]){tj_binary(g, TJ_CDIV, tj_symval(g, n), ci(g, 1024))});
    return g;
}

static tj_graph *golden_row_softmax(void) {
    tj_graph *g = new_graph("row_softmax");
    tj_sym m = tj_symbol(g, "rows", TJ_DYNAMIC, 0, 1);
    tj_tensor x = tj_tensor_arg(g, "x", TJ_BF16, 2, (tj_dim[]){tj_dim_sym(m), 256}, NULL);
    tj_tensor o = tj_tensor_arg(g, "y", TJ_BF16, 2, (tj_dim[]){tj_dim_sym(m), 256}, NULL);
    tj_tensor_set_align(g, x, 16);
    tj_val pid = tj_program_id(g, 0), z = ci(g, 0);
    tj_val t = tj_cast(
        g, tj_load(g, x, (tj_val[]){pid, z}, 2, (tj_dim[]){4, 256}, NULL, -INFINITY, 0), TJ_F32);
    tj_val e = tj_exp(g, tj_sub(g, t, tj_rowmax(g, t)));
    tj_val r = tj_div(g, e, tj_rowsum(g, e));
    tj_store(g, o, (tj_val[]){pid, z}, r, NULL, 0);
    tj_set_grid(g, 1, (tj_val[]){tj_binary(g, TJ_CDIV, tj_symval(g, m), ci(g, 4))});
    return g;
}

static tj_graph *golden_gemm_loop(void) {
    tj_graph *g = new_graph("gemm_loop");
    tj_sym M = tj_symbol(g, "M", TJ_BUCKET_POW2, 0, 1);
    tj_sym K = tj_symbol(g, "K", TJ_EXACT, 0, 64);
    tj_dim dm = tj_dim_sym(M), dk = tj_dim_sym(K);
    tj_tensor a = tj_tensor_arg(g, "a", TJ_F16, 2, (tj_dim[]){dm, dk}, NULL);
    tj_tensor b = tj_tensor_arg(g, "b", TJ_F16, 2, (tj_dim[]){128, dk}, (tj_dim[]){dk, 1});
    tj_tensor c = tj_tensor_arg(g, "c", TJ_F16, 2, (tj_dim[]){dm, 128}, NULL);
    tj_val alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_val pid = tj_program_id(g, 0), z = ci(g, 0);
    tj_val acc0 = tj_full(g, TJ_F32, 2, (tj_dim[]){64, 128}, 0);
    tj_val k, acc, out;
    tj_for_begin(g, z, tj_binary(g, TJ_CDIV, tj_symval(g, K), ci(g, 32)), ci(g, 1), 1, &acc0, &k,
                 &acc);
    tj_name(g, k, "k");
    tj_name(g, acc, "acc");
    tj_val at = tj_load(g, a, (tj_val[]){pid, k}, 2, (tj_dim[]){64, 32}, NULL, 0, 0);
    tj_val bt = tj_load(g, b, (tj_val[]){z, k}, 2, (tj_dim[]){128, 32}, NULL, 0, 0);
    tj_val next = tj_mma(g, at, bt, acc, TJ_TRANS_B);
    tj_for_end(g, 1, &next, &out);
    tj_store(g, c, (tj_val[]){pid, z}, tj_cast(g, tj_mul(g, out, alpha), TJ_F16), NULL, 0);
    tj_set_grid(g, 1, (tj_val[]){tj_binary(g, TJ_CDIV, tj_symval(g, M), ci(g, 64))});
    return g;
}

TEST(test_golden_files) {
    struct {
        const char *name;
        tj_graph *(*build)(void);
    } cases[] = {{"vector_add", golden_vector_add},
                 {"row_softmax", golden_row_softmax},
                 {"gemm_loop", golden_gemm_loop}};
    const char *regen = getenv("TJ_REGEN_GOLDEN");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tj_graph *g = cases[i].build();
        CHECKF(tj_graph_status(g) == TJ_OK, "%s: %s", cases[i].name, tj_graph_error(g));
        char *text = roundtrip(g, cases[i].name);
        CHECK(text);
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/golden/%s.tj", TJ_SOURCE_ROOT, cases[i].name);
        if (regen && !strcmp(regen, "1")) {
            FILE *f = fopen(path, "wb");
            CHECKF(f, "cannot write %s", path);
            fputs(text, f);
            fclose(f);
            printf("  regenerated %s\n", path);
        } else {
            static char want[65536];
            FILE *f = fopen(path, "rb");
            CHECKF(f, "%s is missing (TJ_REGEN_GOLDEN=1 writes it)", path);
            size_t n = fread(want, 1, sizeof want - 1, f);
            fclose(f);
            want[n] = '\0';
            CHECKF(!strcmp(want, text),
                   "%s differs from the printed text (TJ_REGEN_GOLDEN=1 rewrites it):\n%s", path,
                   text);
        }
        free(text);
        tj_graph_free(g);
    }
}

int main(void) { return harness_main(); }
