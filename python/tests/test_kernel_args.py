"""Argument checking before a launch, with no GPU: tensors given as
__cuda_array_interface__ objects, DLPack capsules, and a stand-in torch
that drives the generated hot path. The kernels are made with
no_compile=True and an empty cache, so a call that passes every check ends
in tilejit's "no prebuilt kernel" error: nothing is ever launched."""
import ctypes
import sys

import pytest

import tilejit as tj
from tilejit import _tensors

import _faketorch

BASE = 1 << 30   # a plausible, aligned, never dereferenced device address


class CudaArray:
    def __init__(self, shape, typestr="<f4", ptr=BASE, strides=None):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr,
                                         "data": (ptr, False), "strides": strides, "version": 3}


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _tensors.DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


_new_capsule = ctypes.pythonapi.PyCapsule_New
_new_capsule.restype = ctypes.py_object
_new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_DLTENSOR = b"dltensor"   # the capsule keeps this pointer: it must live on


class DLPackArray:
    """Exports a DLTensor the way a framework's __dlpack__ does."""

    def __init__(self, shape, code=2, bits=32, device=(2, 0), strides=None, ptr=BASE, offset=0):
        n = len(shape)
        self._shape = (ctypes.c_int64 * max(n, 1))(*shape)
        self._strides = (ctypes.c_int64 * max(n, 1))(*strides) if strides else None
        m = self._m = DLManagedTensor()
        t = m.dl_tensor
        t.data, t.ndim, t.byte_offset = ptr, n, offset
        t.device.device_type, t.device.device_id = device
        t.dtype.code, t.dtype.bits, t.dtype.lanes = code, bits, 1
        t.shape = ctypes.cast(self._shape, ctypes.POINTER(ctypes.c_int64))
        if self._strides is not None:
            t.strides = ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64))
        self.streams = []

    def __dlpack__(self, stream=None):
        self.streams.append(stream)
        return _new_capsule(ctypes.addressof(self._m), _DLTENSOR, None)

    def __dlpack_device__(self):
        return (self._m.dl_tensor.device.device_type, self._m.dl_tensor.device.device_id)


def offline_kernel(graph):
    return tj.Kernel(graph, arch="sm_90a", cache_dir="", no_compile=True)


@pytest.fixture
def rmsnorm():
    return offline_kernel(tj.recipe("rmsnorm", dtype="f32"))


def reaches_launch(k, *args, **kw):
    """Calls k; True when the call passed every check and reached the kernel cache."""
    before = k.stats()["launches"]
    with pytest.raises(tj.UnsupportedError, match="no prebuilt kernel"):
        k(*args, **kw)
    return k.stats()["launches"] == before + 1


def rejected(k, match, *args, **kw):
    before = k.stats()["launches"]
    with pytest.raises(tj.InvalidArgumentError, match=match):
        k(*args, **kw)
    assert k.stats()["launches"] == before, "a rejected call reached tj_kernel_launch"
    return True


def test_cuda_array_interface_arguments_pass_the_checks(rmsnorm):
    x, w, y = CudaArray((8, 64)), CudaArray((64,)), CudaArray((8, 64))
    assert reaches_launch(rmsnorm, x, w, y, 1e-6)
    assert reaches_launch(rmsnorm, x, w, y=y, eps=1e-6)   # by name too


def test_wrong_dtype_rank_shape_strides_alignment_are_rejected_before_launch(rmsnorm):
    x, w, y = CudaArray((8, 64)), CudaArray((64,)), CudaArray((8, 64))
    assert rejected(rmsnorm, "tensor 'x': dtype f16, the graph wants f32",
                    CudaArray((8, 64), "<f2"), w, y, 1e-6)
    assert rejected(rmsnorm, "tensor 'w': rank 2", x, CudaArray((1, 64)), y, 1e-6)
    assert rejected(rmsnorm, r"tensor 'y': dim 0 is 9, but symbol 'rows' = 8 \(from tensor 'x'",
                    x, w, CudaArray((9, 64)), 1e-6)
    assert rejected(rmsnorm, "not row-major", x, w, CudaArray((8, 64), strides=(4, 32)), 1e-6)
    assert rejected(rmsnorm, "not aligned to 4 bytes", x, w, CudaArray((8, 64), ptr=BASE + 2),
                    1e-6)
    assert rejected(rmsnorm, "scalar 'eps'", x, w, y, "small")
    with pytest.raises(TypeError, match="eps"):    # the call's own signature
        rmsnorm(x, w, y)
    with pytest.raises(TypeError):
        rmsnorm(x, w, y, 1e-6, 7)
    with pytest.raises(TypeError, match="'z'"):
        rmsnorm(x, w, y, 1e-6, z=1)
    assert rejected(rmsnorm, "not a tensor", x, [1.0], y, 1e-6)


def test_strides_of_size_one_axes_do_not_matter(rmsnorm):
    x = CudaArray((1, 64), strides=(12345 * 4, 4))
    assert reaches_launch(rmsnorm, x, CudaArray((64,)), CudaArray((1, 64)), 1e-6)


def test_a_zero_size_is_refused_by_the_symbol_range_check(rmsnorm):
    with pytest.raises(tj.InvalidArgumentError, match="rows"):
        rmsnorm(CudaArray((0, 64)), CudaArray((64,)), CudaArray((0, 64)), 1e-6)


def test_dlpack_arguments_are_read_without_consuming_the_capsule(rmsnorm):
    x, w, y = DLPackArray((8, 64)), DLPackArray((64,)), DLPackArray((8, 64), strides=(64, 1))
    assert reaches_launch(rmsnorm, x, w, y, 1e-6)
    t = _tensors.adapt(DLPackArray((3, 5), code=4, bits=16, offset=64), "t")
    assert (t.shape, t.dtype, t.ptr, t.device, t.strides) == ((3, 5), "bf16", BASE + 64, "cuda",
                                                             None)
    assert rejected(rmsnorm, "is on cpu", DLPackArray((8, 64), device=(1, 0)), w, y, 1e-6)
    assert rejected(rmsnorm, "dtype", x, DLPackArray((64,), code=0, bits=32), y, 1e-6)
    assert rejected(rmsnorm, "cuda:1", x, DLPackArray((64,), device=(2, 1)), y, 1e-6)


def test_the_stream_given_is_passed_to_dlpack_producers(rmsnorm):
    x = DLPackArray((8, 64))
    reaches_launch(rmsnorm, x, DLPackArray((64,)), DLPackArray((8, 64)), 1e-6, stream=7)
    assert x.streams == [7]


def test_symbols_no_tensor_names_are_keyword_arguments():
    g = tj.Graph("fill")
    n = g.symbol("n", "dynamic")
    y = g.tensor("y", "i32", [64])
    g.store(y, [0], g.full("i32", [64], 0) + n)
    g.set_grid([1])
    k = offline_kernel(g)
    assert k.free_symbols == ["n"]
    assert rejected(k, "pass it as n=N", CudaArray((64,), "<i4"))
    assert reaches_launch(k, CudaArray((64,), "<i4"), n=5)


def test_declared_strides_bind_symbols_and_are_checked():
    g = tj.Graph("strided")
    rows, ld = g.symbol("rows", "dynamic"), g.symbol("ld", "dynamic")
    x = g.tensor("x", "f32", [rows, 32], strides=[ld, 1])
    y = g.tensor("y", "f32", [rows, 32])
    pid = g.program_id(0)
    g.store(y, [pid, 0], g.load(x, [pid, 0], [1, 32]))
    g.set_grid([rows])
    k = offline_kernel(g)
    assert reaches_launch(k, CudaArray((4, 32), strides=(48 * 4, 4)), CudaArray((4, 32)))
    assert rejected(k, "stride 1 is 2, the graph says 1",
                    CudaArray((4, 32), strides=(48 * 4, 8)), CudaArray((4, 32)))
    info = k.bind(CudaArray((4, 32), strides=(48 * 4, 4)), CudaArray((4, 32)))
    assert info[2] == {"rows": 4, "ld": 48}


@pytest.fixture
def fake_torch(monkeypatch):
    torch = _faketorch.make()
    monkeypatch.setitem(sys.modules, "torch", torch)
    return torch


def test_torch_tensors_take_the_generated_fast_path(fake_torch, rmsnorm):
    torch = fake_torch
    k = offline_kernel(tj.recipe("rmsnorm", dtype="f32"))
    assert "isinstance(x, _tj_T)" in k.source
    slow = []
    real_slow = k._slow
    k._slow = lambda *a: (slow.append(a), real_slow(*a))[1]
    x, w, y = (torch.Tensor((8, 64), torch.float32), torch.Tensor((64,), torch.float32),
               torch.Tensor((8, 64), torch.float32))
    assert reaches_launch(k, x, w, y, 1e-6)
    assert slow == []
    assert rejected(k, "dtype f16", torch.Tensor((8, 64), torch.float16), w, y, 1e-6)
    assert rejected(k, "not row-major", x, w, torch.Tensor((8, 64), torch.float32,
                                                            strides=(1, 8)), 1e-6)
    assert rejected(k, "is on cpu", x, w, torch.Tensor((8, 64), torch.float32, dev=-1), 1e-6)
    assert len(slow) == 3


def test_a_kernel_made_before_torch_was_imported_regenerates_its_fast_path(monkeypatch):
    k = offline_kernel(tj.recipe("rmsnorm", dtype="f32"))
    if "torch" not in sys.modules:
        assert "isinstance" not in k.source
    torch = _faketorch.make()
    monkeypatch.setitem(sys.modules, "torch", torch)
    x, w, y = (torch.Tensor((8, 64), torch.float32), torch.Tensor((64,), torch.float32),
               torch.Tensor((8, 64), torch.float32))
    assert reaches_launch(k, x, w, y, 1e-6)
    assert "isinstance(x, _tj_T)" in k.source


def test_launch_raw_checks_only_what_tilejit_checks(rmsnorm):
    with pytest.raises(tj.InvalidArgumentError, match="null device pointer"):
        rmsnorm.launch_raw([0, BASE, BASE], [1e-6], {"rows": 8, "cols": 64})
    with pytest.raises(tj.UnsupportedError):
        rmsnorm.launch_raw([BASE, BASE, BASE], [1e-6], {"rows": 8, "cols": 64})


def test_kernel_create_without_a_device_or_arch_is_a_driver_error():
    try:
        k = tj.Kernel(tj.recipe("softmax"))
    except tj.DriverError as e:
        assert e.message
    else:
        k.close()
        pytest.skip("a CUDA device is present")


def test_a_bad_arch_is_an_invalid_argument():
    with pytest.raises(tj.InvalidArgumentError):
        tj.Kernel(tj.recipe("softmax"), arch="sm_12")


def test_stats_and_close():
    k = offline_kernel(tj.recipe("softmax"))
    st = k.stats()
    assert st["launches"] == 0 and st["specializations"] == 0
    with k:
        pass
    assert k._k is None
    k.close()   # twice is fine
    with pytest.raises(tj.InvalidArgumentError, match="closed"):
        k(CudaArray((4, 64)), CudaArray((4, 64)))


def test_stream_handles_from_common_stream_objects():
    class TorchLike:
        cuda_stream = 1234

    class Protocol:
        def __cuda_stream__(self):
            return (0, 99)

    assert _tensors.stream_handle(None) == 0
    assert _tensors.stream_handle(5) == 5
    assert _tensors.stream_handle(TorchLike()) == 1234
    assert _tensors.stream_handle(Protocol()) == 99
    with pytest.raises(tj.InvalidArgumentError):
        _tensors.stream_handle("s")


def test_threads_calling_one_kernel_do_not_mix_their_arguments(fake_torch, rng):
    import threading
    import time
    torch = fake_torch
    # Reading the stream yields the GIL: another thread runs between the
    # packing of the arguments and the launch, as it may with real torch.
    torch._C._cuda_getCurrentRawStream = lambda d: (time.sleep(0), 0)[1]
    # rows is exact, so tilejit's "no prebuilt kernel" message names each call's value.
    k = offline_kernel(tj.recipe("eltwise", op="add", dtype="f32", rows="exact"))
    wrong = []

    def worker(rows):
        x = torch.Tensor((rows, 128), torch.float32)
        for _ in range(200):
            try:
                k(x, x, x)
            except tj.UnsupportedError as e:
                if f"rows={rows} " not in str(e):
                    wrong.append((rows, str(e)[:120]))

    threads = [threading.Thread(target=worker, args=(r,)) for r in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def _offline_key(k, seq):
    """The cache key an offline launch of attention k at length seq asks for."""
    q = CudaArray((1, seq, 2, 64), "<f2")
    with pytest.raises(tj.UnsupportedError, match="no prebuilt kernel") as e:
        k(q, q, q, CudaArray((1, seq, 2, 64), "<f2"), 0.125)
    return str(e.value).split("for key ")[1].split()[0]


def test_a_kernel_over_graphs_by_length_routes_each_launch_and_checks_its_graphs():
    gs, sym, upto = tj.recipe_by_length("attention", d=64, causal=1, hq=2, hkv=2, dtype="f16")
    k = tj.Kernel(gs, by_symbol=sym, upto=upto, arch="sm_90a", cache_dir="", no_compile=True)
    keys = {seq: _offline_key(k, seq) for seq in (100, 1024, 1025, 4000)}
    # each graph alone, for the key its launches ask for
    short, long_ = (_offline_key(offline_kernel(g), 100) for g in gs)
    assert short != long_
    assert keys == {100: short, 1024: short, 1025: long_, 4000: long_}
    assert k.stats()["launches"] == 4
    with pytest.raises(tj.InvalidArgumentError, match="need by_symbol"):
        tj.Kernel(gs, arch="sm_90a", cache_dir="", no_compile=True)
    other = tj.recipe("rmsnorm", dtype="f32")
    with pytest.raises(tj.InvalidArgumentError, match="differs from graph 0"):
        tj.Kernel([gs[0], other], by_symbol="seq", upto=[10], arch="sm_90a", cache_dir="",
                  no_compile=True)


def test_prepare_checks_the_values_and_names_the_missing_key(rmsnorm):
    # the values are checked first; a valid one (no compiler, empty cache)
    # misses with the key named, as a launch would
    with pytest.raises(tj.InvalidArgumentError):
        rmsnorm.prepare(cols=0, rows=4)
    with pytest.raises(tj.UnsupportedError, match="no prebuilt kernel"):
        rmsnorm.prepare(cols=4096, rows=4)
    assert rmsnorm.stats()["launches"] == 0
