"""Recipes in one call, including attention's score hooks written in Python."""
import array
import math

import pytest

import tilejit as tj


def test_recipes_lists_every_recipe_with_its_defaults():
    rs = {r.name: r for r in tj.recipes()}
    assert {"eltwise", "softmax", "rmsnorm", "layernorm", "gemm", "attention", "decode"} <= set(rs)
    assert rs["attention"].params["d"] == "128"
    assert rs["rmsnorm"].summary
    g = rs["softmax"].build(dtype="f32")
    assert g.name == "softmax" and g.tensors[0].dtype == tj.F32


def test_every_recipe_builds_with_its_defaults_and_verifies():
    for r in tj.recipes():
        tj.recipe(r.name).verify()


def test_parameters_take_python_values():
    g = tj.recipe("gemm", dtype=tj.F16, bias=True, trans_b=True, m="pow2", bm=64)
    sig = g.signature()
    assert [t.name for t in sig.tensors] == ["a", "b", "bias", "c"]
    assert sig.tensor("b").dims == ("N", "K")
    assert sig.symbol("M").policy == "pow2"


def test_recipe_errors_name_the_key_and_what_it_allows():
    with pytest.raises(tj.InvalidArgumentError, match="act is one of"):
        tj.recipe("gemm", act="tanh")
    with pytest.raises(tj.InvalidArgumentError, match="unknown key 'colour'"):
        tj.recipe("softmax", colour=1)
    with pytest.raises(tj.InvalidArgumentError):
        tj.recipe("no_such_recipe")


def test_rmsnorm_recipe_matches_python_on_the_cpu(rng):
    rows, cols = 6, 96
    g = tj.recipe("rmsnorm", dtype="f32", cols="pow2")
    x = array.array("f", [rng.uniform(-3, 3) or 1.0 for _ in range(rows * cols)])
    w = array.array("f", [rng.uniform(0.5, 1.5) for _ in range(cols)])
    y = array.array("f", [float("nan")] * (rows * cols))
    g.run_cpu([x, w, y], scalars=[1e-5], syms={"rows": rows, "cols": cols})
    for r in range(rows):
        row = x[r * cols:(r + 1) * cols]
        inv = 1 / math.sqrt(sum(v * v for v in row) / cols + 1e-5)
        for c in range(cols):
            assert abs(y[r * cols + c] - row[c] * inv * w[c]) < 1e-4


def attention_reference(q, k, v, seq, hq, d, causal, score):
    """o[s, h, :] for batch 1, hkv = hq, rows of q/k/v laid out [seq, hq, d]."""
    o = [0.0] * (seq * hq * d)
    for h in range(hq):
        for i in range(seq):
            qi = q[(i * hq + h) * d:(i * hq + h + 1) * d]
            s = []
            for j in range(seq):
                kj = k[(j * hq + h) * d:(j * hq + h + 1) * d]
                x = score(sum(a * b for a, b in zip(qi, kj)) / math.sqrt(d), i, j)
                s.append(x if (not causal or j <= i) else -math.inf)
            m = max(s)
            p = [math.exp(x - m) for x in s]
            tot = sum(p)
            for c in range(d):
                o[(i * hq + h) * d + c] = sum(p[j] * v[(j * hq + h) * d + c]
                                              for j in range(seq)) / tot
    return o


def test_attention_with_a_python_score_mod_matches_a_reference(rng):
    cap = 2.0

    def softcap(g, s, q_idx, k_idx, head):
        return (s / cap).tanh() * cap

    g = tj.attention(head_dim=64, num_q_heads=2, causal=True, block_m=16, block_n=16,
                     dtype_="f32", score_mod=softcap)
    g.verify()
    assert "tanh" in g.print()
    seq, hq, d = 20, 2, 64
    n = seq * hq * d
    q, k, v = (array.array("f", [rng.uniform(-1, 1) or 0.5 for _ in range(n)]) for _ in range(3))
    o = array.array("f", [float("nan")] * n)
    g.run_cpu([q, k, v, o], scalars=[1 / math.sqrt(d)], syms={"batch": 1, "seq": seq})
    want = attention_reference(q, k, v, seq, hq, d, True,
                               lambda x, i, j: cap * math.tanh(x / cap))
    assert max(abs(a - b) for a, b in zip(o, want)) < 1e-4


def test_attention_score_setup_declares_extra_arguments():
    extra = {}

    def setup(g, head):
        extra["bias"] = g.scalar("bias", "f32")

    g = tj.attention(head_dim=64, num_q_heads=4, num_kv_heads=2, score_setup=setup,
                     score_mod=lambda g, s, qi, ki, h: s + extra["bias"])
    assert [n for n, _ in g.scalars] == ["scale", "bias"]
    assert "add" in g.print()


def test_an_exception_in_a_score_hook_reaches_the_caller():
    def broken(g, s, q_idx, k_idx, head):
        raise KeyError("from the hook")

    with pytest.raises(KeyError, match="from the hook"):
        tj.attention(head_dim=64, score_mod=broken)


def test_attention_params_struct_matches_c_and_varlen_builds():
    # tj_attention_params_init writes the whole C struct: a ctypes mirror
    # missing a field would let it write past the Python buffer.
    import ctypes
    from tilejit import _lib
    n = ctypes.sizeof(_lib.AttentionParams)
    buf = (ctypes.c_ubyte * (n + 64))(*([0xA5] * (n + 64)))
    _lib.lib.tj_attention_params_init(ctypes.cast(buf, ctypes.POINTER(_lib.AttentionParams)))
    assert all(b == 0xA5 for b in buf[n:])
    g = tj.attention(head_dim=64, num_q_heads=4, num_kv_heads=2, causal=True, varlen=True)
    text = g.print()
    assert "cu_seqlens_q i32[cu_len]" in text and " mask %" in text


def test_fp8_attention_takes_e4m3_inputs_a_v_scale_and_writes_bf16():
    g = tj.recipe("attention", d=64, hq=2, hkv=1, causal=1, dtype="f8e4m3")
    dt = {t.name: str(t.dtype) for t in g.tensors}
    assert (dt["q"], dt["k"], dt["v"], dt["o"]) == ("f8e4m3", "f8e4m3", "f8e4m3", "bf16")
    assert [n for n, _ in g.scalars] == ["scale", "v_scale"]
    with pytest.raises(tj.InvalidArgumentError, match="dtype"):
        tj.recipe("attention", dtype="f8e5m2")


def test_attention_v_layout_t_takes_v_transposed_with_its_key_extent():
    g = tj.attention(head_dim=64, num_q_heads=2, num_kv_heads=1, dtype_="f8e4m3", v_layout="t")
    dt = {t.name: str(t.dtype) for t in g.tensors}
    assert "vt" in dt and "v" not in dt
    assert "strides [vt_bstride, vt_hstride, kv_cap, 1]" in g.print()
    with pytest.raises(ValueError, match="v_layout"):
        tj.attention(v_layout="x")


def test_recipe_by_length_gives_the_attention_tiles_and_their_bounds():
    gs, sym, upto = tj.recipe_by_length("attention", d=64, causal=1, hq=2, hkv=2)
    assert (len(gs), sym, upto) == (2, "seq", [1024])
    assert "[128,64]" in gs[0].print() and "[192,64]" in gs[1].print()
    gs, sym, upto = tj.recipe_by_length("attention", d=256, hq=2, hkv=2, softcap=30)
    assert (len(gs), sym, upto) == (2, "seq", [1024])
    assert "[64,256]" in gs[0].print() and "[80,256]" in gs[1].print()
    assert "tanh" in gs[0].print() and "tanh" in gs[1].print()   # the modifier in both
    gs, sym, upto = tj.recipe_by_length("attention", d=128)
    assert (len(gs), sym, upto) == (2, "seq", [4096])
    assert "[176,128]" in gs[1].print()
    # one graph: a tile asked for, a case without a table, another recipe
    for name, params in [("attention", {"d": 64, "causal": 1, "block_m": 128}),
                         ("attention", {"d": 128, "causal": 1}),
                         ("attention", {"d": 128, "softcap": 30}), ("rmsnorm", {"dtype": "f32"})]:
        gs, sym, upto = tj.recipe_by_length(name, **params)
        assert (len(gs), sym, upto) == (1, None, [])
    with pytest.raises(tj.InvalidArgumentError, match="block_m"):
        tj.recipe_by_length("attention", block_m=100)


def test_gemm_configs_rank_the_models_tiles_and_for_shape_builds_the_best():
    few = tj.gemm_configs(128, 4096, 4096)
    assert few and (few[0].bm, few[0].bn, few[0].bk, few[0].split) == (64, 64, 128, 1)
    assert all(a.score >= b.score for a, b in zip(few, few[1:])) and not few[0].tuned
    g, cfg = tj.gemm_for_shape(128, 4096, 4096, arch="sm_90a", cache_dir="", trans_b=1)
    assert (cfg.bm, cfg.bn, cfg.bk) == (64, 64, 128) and not cfg.tuned
    text = g.print()
    assert "load a" in text and ": bf16[64,128]" in text and "trans_b : f32[64,64]" in text
    big = tj.gemm_configs(4096, 4096, 4096)
    assert big[0].bm == 128
    with pytest.raises(tj.InvalidArgumentError):
        tj.gemm_configs(0, 4096, 4096)
