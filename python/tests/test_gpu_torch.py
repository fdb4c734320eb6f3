"""tilejit.torch: custom ops in eager mode, torch.compile and CUDA graphs
(needs torch and a CUDA device)."""
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import tilejit as tj  # noqa: E402
import tilejit.torch as tjt  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True, scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TILEJIT_CACHE_DIR", str(tmp_path_factory.mktemp("tilejit-cache")))
    yield
    mp.undo()


def rms_ref(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


def rand(*shape, dtype=torch.bfloat16):
    x = torch.randn(*shape, device="cuda")
    return x.masked_fill(x == 0, 0.5).to(dtype)


@pytest.fixture(scope="module")
def rmsnorm():
    return tjt.recipe_op("rmsnorm", dtype="bf16")


def test_the_op_has_the_graphs_schema(rmsnorm):
    assert rmsnorm.schema.endswith("(Tensor x, Tensor w, float eps) -> Tensor")
    assert rmsnorm.qualname.startswith("tilejit::rmsnorm_")
    assert tjt.recipe_op("rmsnorm", dtype="bf16") is rmsnorm   # registered once


def test_eager_op_matches_torch(rmsnorm):
    for rows in (1, 17, 300):
        x, w = rand(rows, 512), rand(512)
        torch.testing.assert_close(rmsnorm(x, w, 1e-6), rms_ref(x, w, 1e-6), rtol=2e-2,
                                   atol=2e-2)


def test_opcheck_schema_and_fake_implementation(rmsnorm):
    x, w = rand(8, 256), rand(256)
    torch.library.opcheck(rmsnorm.op, (x, w, 1e-6),
                          test_utils=("test_schema", "test_faketensor",
                                      "test_aot_dispatch_dynamic"))


def test_fake_tensors_get_the_output_shape_without_a_launch(rmsnorm):
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        x = torch.empty(33, 128, dtype=torch.bfloat16, device="cuda")
        w = torch.empty(128, dtype=torch.bfloat16, device="cuda")
        y = rmsnorm(x, w, 1e-6)
    assert y.shape == (33, 128) and y.dtype == torch.bfloat16


def test_fake_implementation_rejects_a_wrong_dtype(rmsnorm):
    x, w = rand(4, 128, dtype=torch.float16), rand(128)
    with pytest.raises(Exception, match="dtype"):
        torch.compile(lambda a, b: rmsnorm(a, b, 1e-6), fullgraph=True)(x, w)


def test_torch_compile_fullgraph_matches_eager(rmsnorm):
    def block(x, w):
        return rmsnorm(x.view(-1, x.shape[-1]), w, 1e-6).view_as(x) * 2 + 1

    compiled = torch.compile(block, fullgraph=True, dynamic=True)
    for b in (2, 3):
        x, w = rand(b, 10, 256), rand(256)
        torch.testing.assert_close(compiled(x, w), block(x, w), rtol=2e-2, atol=2e-2)


def test_cuda_graph_capture_and_replay(rmsnorm):
    x, w = rand(64, 256), rand(256)
    static_x = x.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        rmsnorm(static_x, w, 1e-6)          # warm-up: compiles outside the capture
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = rmsnorm(static_x, w, 1e-6)
    for _ in range(2):
        new = rand(64, 256)
        static_x.copy_(new)
        graph.replay()
        torch.cuda.synchronize()
        torch.testing.assert_close(static_y, rms_ref(new, w, 1e-6), rtol=2e-2, atol=2e-2)


def test_zero_rows_give_an_empty_output_without_a_launch(rmsnorm):
    y = rmsnorm(rand(0, 512), rand(512), 1e-6)
    assert y.shape == (0, 512)


def test_a_graph_that_loads_and_stores_a_tensor_is_a_mutating_op():
    g = tj.Graph("scale_inplace")
    n = g.symbol("n", "dynamic")
    x = g.tensor("x", "f32", [n])
    pid = g.program_id(0)
    g.store(x, [pid], g.load(x, [pid], [256]) * 3.0)
    g.set_grid(tj.cdiv(n, 256))
    op = tjt.op(g)
    assert "Tensor(a0!) x" in op.schema and op.schema.endswith("-> ()")
    x = rand(1000, dtype=torch.float32)
    want = x * 3
    op(x)
    torch.testing.assert_close(x, want)
    torch.library.opcheck(op.op, (rand(300, dtype=torch.float32),),
                          test_utils=("test_schema", "test_faketensor"))


def test_a_symbol_no_input_gives_is_a_symint_argument():
    g = tj.Graph("fill_n")
    n = g.symbol("n", "dynamic")
    y = g.tensor("y", "i32", [64])
    g.store(y, [0], g.full("i32", [64], 0) + n)
    g.set_grid([1])
    op = tjt.op(g)
    assert op.schema.endswith("(SymInt n) -> Tensor")
    assert (op(7).cpu() == 7).all()


def test_attention_op_matches_sdpa():
    B, S, H, D = 2, 128, 4, 64
    attn = tjt.recipe_op("attention", d=D, hq=H, hkv=H, causal=1, dtype="bf16")
    q, k, v = (rand(B, S, H, D) for _ in range(3))
    o = attn(q, k, v, D ** -0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True).transpose(1, 2)
    torch.testing.assert_close(o, ref, rtol=3e-2, atol=3e-2)


def test_attention_op_by_length_matches_sdpa_on_both_sides_of_the_bound():
    H, D = 2, 64
    attn = tjt.recipe_op("attention", d=D, hq=H, hkv=H, causal=1, dtype="bf16", by_length=True)
    assert len(attn.kernel.graphs) == 2   # 128 query rows up to 1024, 192 above
    for S in (1000, 1100):
        q, k, v = (rand(1, S, H, D) for _ in range(3))
        o = attn(q, k, v, D ** -0.5)
        ref = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            is_causal=True).transpose(1, 2)
        torch.testing.assert_close(o, ref, rtol=3e-2, atol=3e-2)
    assert attn.kernel.stats()["specializations"] == 2


def test_fp8_attention_op_matches_sdpa_on_the_dequantized_inputs():
    # e4m3 q, k, v; p rounded to e4m3 for p . v (a few % of a term), so v
    # positive: o is the size of its terms and a wrong v_scale shows
    B, S, H, D = 1, 1000, 2, 64
    attn = tjt.recipe_op("attention", d=D, hq=H, hkv=H, causal=1, dtype="f8e4m3")
    f8 = torch.float8_e4m3fn
    q, k = (torch.randn(B, S, H, D, device="cuda").to(f8) for _ in range(2))
    v = (torch.rand(B, S, H, D, device="cuda") * 0.75 + 0.25).to(f8)
    o = attn(q, k, v, D ** -0.5, 0.5)
    assert o.dtype == torch.bfloat16
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.float().transpose(1, 2), k.float().transpose(1, 2), v.float().transpose(1, 2),
        is_causal=True).transpose(1, 2) * 0.5
    torch.testing.assert_close(o.float(), ref, rtol=6e-2, atol=1e-2)


def test_fp8_attention_op_takes_vt_as_a_view_of_a_cache_never_reading_past_it():
    # v transposed (keys contiguous) as a slice of a cache of capacity 1024:
    # the slice's strides bind kv_cap, vt_hstride and vt_bstride; the keys
    # past the slice are NaN and must not be read
    B, S, H, D, CAP = 2, 1000, 2, 64, 1024
    attn = tjt.recipe_op("attention", d=D, hq=H, hkv=H, causal=1, dtype="f8e4m3", v_layout="t")
    f8 = torch.float8_e4m3fn
    q, k = (torch.randn(B, S, H, D, device="cuda").to(f8) for _ in range(2))
    v = (torch.rand(B, S, H, D, device="cuda") * 0.75 + 0.25).to(f8)
    cache = torch.full((B, H, D, CAP), float("nan"), device="cuda").to(f8)
    cache[..., :S] = v.permute(0, 2, 3, 1)
    o = attn(q, k, cache[..., :S], D ** -0.5, 0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.float().transpose(1, 2), k.float().transpose(1, 2), v.float().transpose(1, 2),
        is_causal=True).transpose(1, 2) * 0.5
    assert not o.isnan().any()
    torch.testing.assert_close(o.float(), ref, rtol=6e-2, atol=1e-2)
