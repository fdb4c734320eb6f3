"""Graph building from Python, checked in the CPU interpreter against plain Python."""
import array
import math
import struct

import pytest

import tilejit as tj


def rand_f32(rng, n, lo=-2.0, hi=2.0):
    """Random f32 values, none zero."""
    return array.array("f", [rng.uniform(lo, hi) or 0.5 for _ in range(n)])


def silu_mul_graph(tile=256):
    g = tj.Graph("silu_mul")
    n = g.symbol("n", "pow2")
    x = g.tensor("x", "f32", [n])
    gate = g.tensor("gate", "f32", [n])
    y = g.tensor("y", "f32", [n])
    pid = g.program_id(0)
    a = g.load(x, [pid], [tile])
    b = g.load(gate, [pid], [tile])
    g.store(y, [pid], a.silu() * b)
    g.set_grid(tj.cdiv(n, tile))
    return g.verify()


@pytest.mark.parametrize("n", [1, 255, 256, 1000])
def test_silu_mul_built_in_python_matches_python_math(rng, n):
    g = silu_mul_graph()
    xs, gs = rand_f32(rng, n), rand_f32(rng, n)
    ys = array.array("f", [float("nan")] * n)   # poisoned
    g.run_cpu([xs, gs, ys], syms={"n": n})
    for i in range(n):
        want = xs[i] / (1 + math.exp(-xs[i])) * gs[i]
        assert abs(ys[i] - want) <= 1e-5 * (1 + abs(want)), i


def test_python_numbers_become_constants_of_the_other_operands_dtype(rng):
    g = tj.Graph("affine")
    n = g.symbol("n", "exact")
    x = g.tensor("x", "f32", [n])
    y = g.tensor("y", "f32", [n])
    a = g.load(x, [0], [n])
    g.store(y, [0], (2.0 * a + 1) / 4 - a * a)   # radd/rmul/sub/div with Python numbers
    g.set_grid([1])
    g.verify()
    xs = rand_f32(rng, 37)
    ys = array.array("f", [float("nan")] * 37)
    g.run_cpu([xs, ys], syms={"n": 37})
    for i in range(37):
        want = (2.0 * xs[i] + 1) / 4 - xs[i] * xs[i]
        assert abs(ys[i] - want) < 1e-5


def test_loop_with_carried_values_sums_tiles(rng):
    # y[r] = sum over the row of x[r, :], walking [1, 64] tiles with a carried accumulator.
    g = tj.Graph("rowsum")
    rows = g.symbol("rows", "dynamic")
    cols = g.symbol("cols", "dynamic")
    x = g.tensor("x", "f32", [rows, cols])
    y = g.tensor("y", "f32", [rows])
    r = g.program_id(0)
    acc0 = g.full("f32", [1, 1], 0.0)
    with g.loop(0, tj.cdiv(cols, 64), 1, [acc0]) as loop:
        (acc,) = loop.carried
        t = g.load(x, [r, loop.iv], [1, 64])
        loop.next(acc + t.sum(1))
    (total,) = loop.results
    g.store(y, [r], total.reshape([1]))
    g.set_grid([rows])
    g.verify()
    R, C = 5, 150
    xs = rand_f32(rng, R * C)
    ys = array.array("f", [float("nan")] * R)
    g.run_cpu([xs, ys], syms={"rows": R, "cols": C})
    for i in range(R):
        assert abs(ys[i] - sum(xs[i * C:(i + 1) * C])) < 1e-4


def test_fori_is_the_functional_loop(rng):
    g = tj.Graph("count")
    n = g.symbol("n", "dynamic")
    y = g.tensor("y", "i32", [1])
    (res,) = g.fori(0, n, 1, [g.const("i32", 0)], lambda i, c: c + i)
    g.store(y, [0], res.reshape([1]) if res.shape else g.full("i32", [1], 0) + res)
    g.set_grid([1])
    g.verify()
    out = array.array("i", [-1])
    g.run_cpu([out], syms={"n": 10})
    assert out[0] == sum(range(10))


def test_mma_operator_and_transposes_match_a_naive_matmul(rng):
    g = tj.Graph("mm")
    a = g.tensor("a", "f32", [16, 32])
    b = g.tensor("b", "f32", [16, 32])    # stored [N, K]: used transposed
    c = g.tensor("c", "f32", [16, 16])
    ta = g.load(a, [0, 0], [16, 32])
    tb = g.load(b, [0, 0], [16, 32])
    g.store(c, [0, 0], g.mma(ta, tb, trans_b=True))
    g.set_grid([1])
    g.verify()
    A, B = rand_f32(rng, 16 * 32), rand_f32(rng, 16 * 32)
    C = array.array("f", [float("nan")] * 256)
    g.run_cpu([A, B, C])
    for i in range(16):
        for j in range(16):
            want = sum(A[i * 32 + k] * B[j * 32 + k] for k in range(32))
            assert abs(C[i * 16 + j] - want) < 1e-3


def test_comparisons_and_where_mask_a_tile(rng):
    g = tj.Graph("clip")
    x = g.tensor("x", "f32", [64])
    y = g.tensor("y", "f32", [64])
    t = g.load(x, [0], [64])
    g.store(y, [0], g.where(t > 0.5, t, -1.0))
    g.set_grid([1])
    g.verify()
    xs = rand_f32(rng, 64)
    ys = array.array("f", [float("nan")] * 64)
    g.run_cpu([xs, ys])
    assert list(ys) == [v if v > 0.5 else -1.0 for v in xs]


def test_bf16_tensors_use_16_bit_patterns(rng):
    g = tj.recipe("eltwise", op="add", dtype="bf16", rows="exact")
    n = 2 * 128
    bf = lambda v: struct.unpack("<I", struct.pack("<f", v))[0] >> 16
    vals = [rng.uniform(-4, 4) or 1.0 for _ in range(2 * n)]
    xs = array.array("H", [bf(v) for v in vals[:n]])
    gs = array.array("H", [bf(v) for v in vals[n:]])
    ys = array.array("H", [0x7FC0] * n)   # bf16 NaN
    g.run_cpu([xs, gs, ys], syms={"rows": 2, "cols": 128})
    f = lambda h: struct.unpack("<f", struct.pack("<I", h << 16))[0]
    for i in range(n):
        want = f(xs[i]) + f(gs[i])
        assert abs(f(ys[i]) - want) <= 2 ** -7 * abs(want) + 1e-6


def test_declarations_are_queryable():
    g = tj.Graph("decl")
    m = g.symbol("m", "multiple64", divisor=8)
    k = g.symbol("k", tj.DYNAMIC)
    a = g.tensor("a", tj.BF16, [m, 128], strides=[k, 1], align=16)
    eps = g.scalar("eps", "f32")
    assert [s.name for s in g.symbols] == ["m", "k"]
    assert m.policy == tj.BUCKET_MULTIPLE and k.policy == tj.DYNAMIC
    assert m.specialize(65) == 128 and k.specialize(65) == 65
    assert g.find_symbol("k").id == k.id
    assert a.name == "a" and a.dtype == tj.BF16 and a.rank == 2
    assert a.dims[0].name == "m" and a.dims[1] == 128
    assert eps.dtype == tj.F32 and eps.shape == ()
    assert g.scalars == [("eps", tj.F32)]
    sig = g.signature()
    assert sig.symbols[0].bucket == 64 and sig.symbols[0].divisor == 8
    assert sig.tensors[0].strides == ("k", 1) and sig.tensors[0].align == 16


def test_tensor_shape_extent_and_grid_for_bound_symbols():
    g = tj.recipe("gemm", dtype="f16", bm=64, bn=128)
    syms = {"M": 100, "N": 300, "K": 72}
    assert g.grid(syms) == (2, 3, 1)
    assert g.tensor_shape("a", syms) == ((100, 72), (72, 1))
    assert g.tensor_extent("c", syms) == 100 * 300
    assert g.bind(M=5)[g.find_symbol("M").id] == 5
    assert g.bind(N=5)[g.find_symbol("M").id] == tj.UNBOUND


def test_print_parse_round_trip_keeps_the_text_and_hash():
    for info in tj.recipes():
        g = tj.recipe(info.name)
        text = g.print()
        h = tj.parse(text, f"{info.name}.tj")
        assert h.print() == text
        assert h.hash() == g.hash() and len(g.hash()) == 64
        assert str(h) == text and h.name == g.name


def test_hash_ignores_build_order_of_independent_ops():
    def build(first):
        g = tj.Graph("order")
        x = g.tensor("x", "f32", [64])
        y = g.tensor("y", "f32", [64])
        t = g.load(x, [0], [64])
        a, b = (t.exp(), t.sin()) if first else (None, t.sin())
        a = a if a is not None else t.exp()
        g.store(y, [0], a + b)
        g.set_grid([1])
        return g.verify()
    assert build(True).hash() == build(False).hash()


def test_named_values_appear_in_the_text():
    g = tj.Graph("named")
    x = g.tensor("x", "f32", [8])
    y = g.tensor("y", "f32", [8])
    t = g.load(x, [0], [8]).name("tile")
    g.store(y, [0], t.exp().name("ex"))
    g.set_grid([1])
    assert "%tile = load x" in g.print() and "%ex = exp %tile" in g.print()


def test_copy_is_an_independent_equal_graph():
    g = silu_mul_graph()
    h = g.copy()
    assert h.hash() == g.hash()
    del g
    assert "silu" in h.print()
