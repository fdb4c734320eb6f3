"""A stand-in for the parts of torch that the generated hot path touches, so
that the path can be tested on machines without torch or a GPU."""
import sys, types
def make():
    t = types.ModuleType("torch")
    class dtype:
        def __init__(s, n): s.n = n
        def __repr__(s): return "torch." + s.n
    for n in ["float32","float16","bfloat16","int32","int64","bool","float64","float8_e4m3fn","float8_e5m2"]:
        setattr(t, n, dtype(n))
    class Size(tuple): pass
    class Device:
        def __init__(s, ty, i): s.type, s.index = ty, i
    class Tensor:
        def __init__(s, shape, dt, ptr=1 << 20, strides=None, dev=0):
            s.shape = Size(shape); s.dtype = dt; s._ptr = ptr; s._dev = dev
            if strides is None:
                strides, acc = [], 1
                for d in reversed(shape): strides.insert(0, acc); acc *= d
            s._st = tuple(strides)
            s.device = Device("cuda" if dev >= 0 else "cpu", dev if dev >= 0 else None)
        def stride(s): return s._st
        def is_contiguous(s):
            acc = 1
            for d, st in zip(reversed(s.shape), reversed(s._st)):
                if d != 1 and st != acc: return False
                acc *= d
            return True
        def get_device(s): return s._dev
        def data_ptr(s): return s._ptr
        def numel(s):
            n = 1
            for d in s.shape: n *= d
            return n
    t.Tensor = Tensor
    t.Size = Size

    def empty(shape, dtype=None, device=None):
        dev = device.index if isinstance(device, Device) else 0
        return Tensor(tuple(shape), dtype, ptr=1 << 21, dev=dev)
    t.empty = empty

    # torch.library and torch.ops, enough for tilejit.torch to register ops
    class Library:
        def __init__(self, ns, kind):
            self.ns, self.schemas, self.impls = ns, {}, {}

        def define(self, schema):
            self.schemas[schema.split("(", 1)[0]] = schema

        def impl(self, name, fn, key):
            self.impls[name] = fn
            setattr(t.ops.tilejit, name, types.SimpleNamespace(default=fn))

    fakes = {}
    t.library = types.SimpleNamespace(
        Library=Library, register_fake=lambda q, fn, lib=None: fakes.__setitem__(q, fn),
        fakes=fakes)
    t.ops = types.SimpleNamespace(tilejit=types.SimpleNamespace())
    Tensor.dim = lambda s: len(s.shape)
    C = types.SimpleNamespace(_cuda_getCurrentRawStream=lambda d: 0, _cuda_getDevice=lambda: 0)
    t._C = C
    return t
