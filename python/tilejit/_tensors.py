"""Reading device tensors from the outside world: torch tensors, objects with
__cuda_array_interface__ (CuPy, Numba) and objects with __dlpack__.

Only the slow (checking) path uses these; a torch tensor's hot path is the
generated code in kernel.py.
"""
import ctypes
import sys
from dataclasses import dataclass
from typing import Optional, Tuple

from .errors import InvalidArgumentError

TORCH_TO_TJ = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float8_e4m3fn": "f8e4m3",
               "float8_e5m2": "f8e5m2", "int32": "i32", "int64": "i64", "bool": "bool",
               "float64": "f64"}
TJ_TO_TORCH = {v: k for k, v in TORCH_TO_TJ.items()}

# __cuda_array_interface__ typestr (without the byte-order mark) -> dtype
CAI_TO_TJ = {"f4": "f32", "f2": "f16", "i4": "i32", "i8": "i64", "b1": "bool", "f8": "f64"}

# DLPack (dlpack.h): device types and (code, bits) of the dtypes tilejit has
DL_CPU, DL_CUDA, DL_CUDA_HOST, DL_CUDA_MANAGED = 1, 2, 3, 13
DL_TO_TJ = {(2, 32): "f32", (2, 16): "f16", (4, 16): "bf16", (10, 8): "f8e4m3",
            (12, 8): "f8e5m2", (0, 32): "i32", (0, 64): "i64", (6, 8): "bool",
            (1, 8): "bool", (2, 64): "f64"}
DL_DEVICE_NAMES = {DL_CPU: "cpu", DL_CUDA: "cuda", DL_CUDA_HOST: "cuda_host",
                   DL_CUDA_MANAGED: "cuda_managed"}


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype, _capsule_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_ptr.restype, _capsule_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                   ctypes.c_char_p]


@dataclass
class DeviceTensor:
    """What a launch needs to know about one tensor argument."""
    ptr: int
    shape: Tuple[int, ...]
    strides: Optional[Tuple[int, ...]]   # elements; None: row-major
    dtype: str                           # tilejit's name, or "<foreign name>" if none
    device: str                          # "cuda", "cpu", ...
    device_id: Optional[int]             # None: unknown (the current device)
    torch: bool = False
    keep: object = None                  # what must stay alive during the launch


def torch_module():
    return sys.modules.get("torch")


def _from_torch(t):
    dt = TORCH_TO_TJ.get(str(t.dtype).rsplit(".", 1)[-1], f"<{t.dtype}>")
    return DeviceTensor(t.data_ptr() if t.numel() else 0, tuple(t.shape), tuple(t.stride()), dt,
                        t.device.type, t.device.index, torch=True, keep=t)


def _from_cai(obj):
    cai = obj.__cuda_array_interface__
    shape = tuple(int(d) for d in cai["shape"])
    typestr = cai["typestr"]
    dt = CAI_TO_TJ.get(typestr[1:], f"<{typestr}>")
    if typestr[0] == ">" and typestr[1:] not in ("b1",):
        dt = f"<{typestr} (big-endian)>"
    itemsize = int(typestr[2:]) if typestr[2:].isdigit() else 1
    strides = cai.get("strides")
    if strides is not None:
        if any(int(s) % itemsize for s in strides):
            raise InvalidArgumentError(f"__cuda_array_interface__ strides {tuple(strides)} are "
                                       f"not multiples of the element size {itemsize}")
        strides = tuple(int(s) // itemsize for s in strides)
    ptr = int(cai["data"][0] or 0)
    return DeviceTensor(ptr, shape, strides, dt, "cuda", None, keep=obj)


def _from_dlpack(obj, stream):
    try:
        cap = obj.__dlpack__(stream=stream)
    except TypeError:
        cap = obj.__dlpack__()
    name = _capsule_name(cap)
    if name != b"dltensor":
        raise InvalidArgumentError(f"__dlpack__ gave a capsule named {name!r}, not 'dltensor'")
    # The first member of DLManagedTensor is its DLTensor. The capsule is not
    # consumed (its name stays "dltensor"), so its destructor frees it.
    t = DLTensor.from_address(_capsule_ptr(cap, b"dltensor"))
    nd = t.ndim
    shape = tuple(t.shape[i] for i in range(nd))
    strides = tuple(t.strides[i] for i in range(nd)) if t.strides else None
    if t.dtype.lanes != 1:
        dt = f"<dlpack code {t.dtype.code} bits {t.dtype.bits} lanes {t.dtype.lanes}>"
    else:
        dt = DL_TO_TJ.get((t.dtype.code, t.dtype.bits),
                          f"<dlpack code {t.dtype.code} bits {t.dtype.bits}>")
    dev = DL_DEVICE_NAMES.get(t.device.device_type, f"dlpack device {t.device.device_type}")
    ptr = (t.data or 0) + t.byte_offset
    return DeviceTensor(ptr, shape, strides, dt, dev, t.device.device_id, keep=(obj, cap))


def adapt(obj, what, stream=None):
    """A DeviceTensor from a torch tensor, a __cuda_array_interface__ object or
    a __dlpack__ object; `what` names the argument in messages."""
    torch = torch_module()
    if torch is not None and isinstance(obj, torch.Tensor):
        return _from_torch(obj)
    if hasattr(obj, "__cuda_array_interface__"):
        return _from_cai(obj)
    if hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj, stream)
    raise InvalidArgumentError(f"{what}: a {type(obj).__name__} is not a tensor (need a torch "
                               f"tensor, __cuda_array_interface__ or __dlpack__)")


def stream_handle(s):
    """A CUstream handle (int) from None, an int, a torch.cuda.Stream, a CuPy
    stream or an object with __cuda_stream__."""
    if s is None:
        return 0
    if isinstance(s, int):
        return s
    if hasattr(s, "__cuda_stream__"):
        return int(s.__cuda_stream__()[1])
    for attr in ("cuda_stream", "ptr", "handle"):
        v = getattr(s, attr, None)
        if isinstance(v, int):
            return v
    raise InvalidArgumentError(f"stream: cannot get a CUstream from a {type(s).__name__}")
