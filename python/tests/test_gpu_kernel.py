"""Kernels launched from Python on torch tensors (needs torch and a CUDA device)."""
import math

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import tilejit as tj  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tilejit-cache"))


@pytest.fixture
def gen(rng):
    g = torch.Generator(device="cuda")
    g.manual_seed(rng.randrange(1 << 30))
    return g


def randn(gen, *shape, dtype=torch.float32):
    x = torch.randn(*shape, device="cuda", generator=gen, dtype=torch.float32)
    return x.masked_fill(x == 0, 0.5).to(dtype)


def poisoned(*shape, dtype=torch.float32):
    return torch.full(shape, float("nan"), device="cuda", dtype=dtype)


def rms_ref(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(1, 64), (7, 512), (130, 1000)])
def test_rmsnorm_matches_torch(cache, gen, dtype, shape):
    k = tj.Kernel(tj.recipe("rmsnorm", dtype=dtype), cache_dir=cache)
    x, w = randn(gen, *shape, dtype=dtype), randn(gen, shape[1], dtype=dtype)
    y = poisoned(*shape, dtype=dtype)
    k(x, w, y, 1e-5)
    torch.cuda.synchronize()
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(y, rms_ref(x, w, 1e-5), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(1, 128), (5, 300), (129, 1000)])
def test_eltwise_silu_mul_matches_torch(cache, gen, shape):
    k = tj.Kernel(tj.recipe("eltwise", op="silu_mul", dtype="bf16", cols="pow2"), cache_dir=cache)
    x, g = randn(gen, *shape, dtype=torch.bfloat16), randn(gen, *shape, dtype=torch.bfloat16)
    y = poisoned(*shape, dtype=torch.bfloat16)
    k(x, g, y)
    ref = (torch.nn.functional.silu(x.float()) * g.float()).bfloat16()
    torch.testing.assert_close(y, ref, rtol=2e-2, atol=2e-2)


def test_second_call_is_a_cache_hit(cache, gen):
    k = tj.Kernel(tj.recipe("softmax", dtype="f32"), cache_dir=cache)
    x, y = randn(gen, 9, 256), poisoned(9, 256)
    k(x, y)
    k(x, y)
    st = k.stats()
    assert st["launches"] == 2 and st["hits"] >= 1
    torch.testing.assert_close(y, torch.softmax(x, -1))


def test_launch_goes_on_torchs_current_stream(cache, gen):
    k = tj.Kernel(tj.recipe("eltwise", op="add", dtype="f32"), cache_dir=cache)
    src_a, b = randn(gen, 64, 128), randn(gen, 64, 128)
    a, y = poisoned(64, 128), poisoned(64, 128)
    k(src_a, b, y)                        # compile outside the timed race
    torch.cuda.synchronize()
    y.fill_(float("nan"))
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        torch.cuda._sleep(50_000_000)     # a is written late on s
        a.copy_(src_a)
        k(a, b, y)                        # must queue behind the copy, on s
    s.synchronize()
    torch.testing.assert_close(y, src_a + b)


def test_an_explicit_stream_argument_is_used(cache, gen):
    k = tj.Kernel(tj.recipe("eltwise", op="mul", dtype="f32"), cache_dir=cache)
    a, b, y = randn(gen, 8, 128), randn(gen, 8, 128), poisoned(8, 128)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    k(a, b, y, stream=s)
    s.synchronize()
    torch.testing.assert_close(y, a * b)


def test_a_rejected_call_launches_nothing(cache, gen):
    k = tj.Kernel(tj.recipe("eltwise", op="add", dtype="f32"), cache_dir=cache)
    a, b, y = randn(gen, 8, 128), randn(gen, 8, 128), poisoned(8, 128)
    before = k.stats()["launches"]
    with pytest.raises(tj.InvalidArgumentError, match="dtype"):
        k(a.half(), b, y)
    with pytest.raises(tj.InvalidArgumentError, match="row-major"):
        k(a.t().contiguous().t(), b, y)
    with pytest.raises(tj.InvalidArgumentError, match="is on cpu"):
        k(a.cpu(), b, y)
    with pytest.raises(tj.InvalidArgumentError, match="symbol 'cols'"):
        k(a, b[:, :64], y)
    torch.cuda.synchronize()
    assert k.stats()["launches"] == before
    assert torch.isnan(y).all()


def test_cuda_array_interface_and_dlpack_inputs(cache, gen):
    k = tj.Kernel(tj.recipe("eltwise", op="add", dtype="f32"), cache_dir=cache)
    a, b, y = randn(gen, 8, 128), randn(gen, 8, 128), poisoned(8, 128)

    class CAI:
        def __init__(self, t):
            self.__cuda_array_interface__ = t.__cuda_array_interface__

    class DL:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, stream=None):
            return self.t.__dlpack__(stream=stream)

    k(CAI(a), DL(b), CAI(y))
    torch.cuda.synchronize()
    torch.testing.assert_close(y, a + b)


def test_attention_recipe_matches_sdpa(cache, gen):
    B, S, HQ, HKV, D = 2, 200, 4, 2, 64
    k = tj.Kernel(tj.recipe("attention", d=D, hq=HQ, hkv=HKV, causal=1, dtype="bf16",
                            block_m=64, block_n=64), cache_dir=cache)
    q = randn(gen, B, S, HQ, D, dtype=torch.bfloat16)
    kk = randn(gen, B, S, HKV, D, dtype=torch.bfloat16)
    v = randn(gen, B, S, HKV, D, dtype=torch.bfloat16)
    o = poisoned(B, S, HQ, D, dtype=torch.bfloat16)
    k(q, kk, v, o, 1 / math.sqrt(D))
    rep = HQ // HKV
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2).float(), kk.transpose(1, 2).repeat_interleave(rep, 1).float(),
        v.transpose(1, 2).repeat_interleave(rep, 1).float(), is_causal=True).transpose(1, 2)
    torch.testing.assert_close(o.float(), ref, rtol=3e-2, atol=3e-2)
