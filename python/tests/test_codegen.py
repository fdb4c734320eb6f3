"""CUDA C++ emission and offline compilation with NVRTC (no GPU needed)."""
import pytest

import tilejit as tj

EM_CUDA = 190


def is_cubin(data):
    return (len(data) > 64 and data[:4] == b"\x7fELF"
            and int.from_bytes(data[18:20], "little") == EM_CUDA)


def test_emit_cuda_gives_a_kernel_function():
    g = tj.recipe("rmsnorm", dtype="f32")
    src = g.emit_cuda("sm_90a", {"rows": 100, "cols": 64})
    assert 'extern "C" __global__' in src and "rmsnorm" in src


def test_emit_without_symbol_values_keeps_dynamic_symbols_as_parameters():
    g = tj.recipe("eltwise", rows="dynamic", cols="dynamic", dtype="f32")
    assert 'extern "C" __global__' in g.emit_cuda("sm_80")


def test_emit_fails_when_a_tile_sized_symbol_is_unbound():
    g = tj.recipe("softmax")   # cols=exact sizes the tile
    with pytest.raises(tj.TilejitError, match="cols"):
        g.emit_cuda("sm_90a", {"rows": 10})


def test_emit_rejects_an_unknown_arch():
    with pytest.raises(tj.InvalidArgumentError):
        tj.recipe("softmax").emit_cuda("sm_1", {"rows": 10, "cols": 64})


def test_compile_gives_cubins_for_sm80_and_sm90a(nvrtc):
    g = tj.recipe("gemm", dtype="f16", bm=64, bn=64, bk=32)
    syms = {"M": 96, "N": 80, "K": 64}
    for arch in ("sm_80", "sm_90a"):
        cubin, log = g.compile(arch, syms, return_log=True)
        assert is_cubin(cubin), arch
        assert isinstance(log, str)


def test_compile_in_a_child_process_gives_the_same_kind_of_cubin(nvrtc):
    g = tj.recipe("softmax", dtype="f32")
    assert is_cubin(g.compile("sm_90a", {"rows": 7, "cols": 128}, in_child=True))


def test_a_recipe_from_parsed_text_compiles(nvrtc):
    text = tj.recipe("layernorm", dtype="bf16").print()
    g = tj.parse(text, "layernorm.tj")
    assert is_cubin(g.compile("sm_90a", {"rows": 33, "cols": 256}))
