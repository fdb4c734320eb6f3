"""tilejit.torch's generated op code, run against a stand-in torch (no torch
or GPU needed): the schema, the fake (meta) implementation's shapes, and the
CUDA implementation's call into the kernel."""
import importlib
import sys

import pytest

import tilejit as tj

import _faketorch


@pytest.fixture
def tjt(monkeypatch):
    torch = _faketorch.make()
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delitem(sys.modules, "tilejit.torch", raising=False)
    mod = importlib.import_module("tilejit.torch")
    yield mod, torch
    sys.modules.pop("tilejit.torch", None)


OFFLINE = {"arch": "sm_90a", "cache_dir": "", "no_compile": True}


def test_recipe_op_schema_fake_and_impl(tjt):
    mod, torch = tjt
    op = mod.recipe_op("rmsnorm", dtype="f32", kernel_options=OFFLINE)
    assert op.schema == f"{op.name}(Tensor x, Tensor w, float eps) -> Tensor"
    assert op.qualname in torch.library.fakes
    x, w = torch.Tensor((6, 64), torch.float32), torch.Tensor((64,), torch.float32)
    y = op._fake(x, w, 1e-6)
    assert tuple(y.shape) == (6, 64) and y.dtype is torch.float32
    with pytest.raises(ValueError, match="dtype"):
        op._fake(torch.Tensor((6, 64), torch.float16), w, 1e-6)
    with pytest.raises(ValueError, match="rank"):
        op._fake(torch.Tensor((64,), torch.float32), w, 1e-6)
    # The CUDA implementation allocates y and calls the kernel, which (offline)
    # reaches tilejit's kernel cache with every argument checked.
    with pytest.raises(tj.UnsupportedError, match="no prebuilt kernel"):
        op(x, w, 1e-6)
    assert op.kernel.stats()["launches"] == 1
    assert mod.recipe_op("rmsnorm", dtype="f32", kernel_options=OFFLINE) is op


def test_an_empty_output_skips_the_launch(tjt):
    mod, torch = tjt
    op = mod.recipe_op("softmax", dtype="f32", kernel_options=OFFLINE)
    y = op(torch.Tensor((0, 64), torch.float32, ptr=0))
    assert tuple(y.shape) == (0, 64)
    assert op.kernel.stats()["launches"] == 0


def test_mutated_inputs_and_symint_arguments_in_the_schema(tjt):
    mod, torch = tjt
    g = tj.Graph("bump")
    n = g.symbol("n", "dynamic")
    k = g.symbol("k", "dynamic")
    x = g.tensor("x", "f32", [n])
    out = g.tensor("out", "i32", [k])
    pid = g.program_id(0)
    g.store(x, [pid], g.load(x, [pid], [128]) + 1.0)
    g.store(out, [0], g.full("i32", [16], 0) + k)
    g.set_grid(tj.cdiv(n, 128))
    op = mod.op(g, **OFFLINE)
    assert op.schema == f"{op.name}(Tensor(a0!) x, SymInt k) -> Tensor"
    y = op._fake(torch.Tensor((300,), torch.float32), 5)
    assert tuple(y.shape) == (5,) and y.dtype is torch.int32


def test_declared_output_strides_are_refused(tjt):
    mod, _ = tjt
    g = tj.Graph("strided_out")
    n = g.symbol("n", "dynamic")
    y = g.tensor("y", "f32", [n, 4], strides=[8, 1])
    g.store(y, [0, 0], g.full("f32", [1, 4], 1.0))
    g.set_grid([1])
    with pytest.raises(ValueError, match="row-major"):
        mod.op(g, **OFFLINE)


def test_fp8_attention_op_takes_float8_and_returns_bfloat16(tjt):
    mod, torch = tjt
    op = mod.recipe_op("attention", d=64, causal=1, hq=2, hkv=1, dtype="f8e4m3",
                       kernel_options=OFFLINE)
    assert op.schema == f"{op.name}(Tensor q, Tensor k, Tensor v, float scale, float v_scale) -> Tensor"
    f8 = torch.float8_e4m3fn
    q = torch.Tensor((1, 100, 2, 64), f8)
    kv = torch.Tensor((1, 100, 1, 64), f8)
    o = op._fake(q, kv, kv, 0.125, 1.0)
    assert tuple(o.shape) == (1, 100, 2, 64) and o.dtype is torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        op._fake(torch.Tensor((1, 100, 2, 64), torch.bfloat16), kv, kv, 0.125, 1.0)


def test_recipe_op_by_length_is_one_op_over_the_recipes_graphs(tjt):
    mod, torch = tjt
    op = mod.recipe_op("attention", d=64, causal=1, hq=2, hkv=2, dtype="f16", by_length=True,
                       kernel_options=OFFLINE)
    assert len(op.kernel.graphs) == 2 and "bylen" in op.name
    assert op.schema == f"{op.name}(Tensor q, Tensor k, Tensor v, float scale) -> Tensor"
    # a recipe without a table is the plain op
    plain = mod.recipe_op("rmsnorm", dtype="f32", kernel_options=OFFLINE)
    assert mod.recipe_op("rmsnorm", dtype="f32", by_length=True, kernel_options=OFFLINE) is plain
