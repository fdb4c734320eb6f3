"""Kernels: tj_kernel_create / tj_kernel_launch / tj_kernel_stats_get.

A call `k(x, w, y, eps)` takes the tensors then the scalars in the graph's
argument order (or by name). Symbols are read from the tensors' shapes and
strides; a symbol no tensor names is a keyword argument.

The hot path is Python code generated for each kernel: for torch tensors it
reads each tensor's dtype, shape, contiguity, device and pointer once,
compares them with the graph's declaration as straight-line code, packs the
arguments into a buffer allocated once per kernel (a small pool: one per
thread in flight) and calls tj_kernel_launch on torch's current stream. Anything it does not expect (another tensor type, a
mismatch, an explicit stream) goes to the slow path, which checks
everything again and raises an exception naming the argument and the rule
broken, before any launch.
"""
import ctypes
import struct

from . import _lib, _tensors
from ._lib import lib
from .errors import InvalidArgumentError
from .graph import Graph, py_name

BACKGROUND, NO_COMPILE, IN_CHILD, TIERED = 1, 2, 4, 8


class _Slow(Exception):
    """Raised by the generated checks: leave the hot path for the slow one."""


def _closed(self, *args, **kw):
    raise InvalidArgumentError(f"kernel '{self.sig.name}' is closed")


class Kernel:
    """A graph made launchable (tj_kernel)."""

    def __init__(self, graph, arch=None, cache_dir=None, background=False, no_compile=False,
                 in_child=False, tiered=False, by_symbol=None, upto=()):
        """graph: a Graph (or its text); or a list of Graphs of one signature,
        graph i serving symbol `by_symbol`'s values up to upto[i] and the last
        every value above (tj_kernel_create_by_symbol: tiles by length)."""
        graphs = list(graph) if isinstance(graph, (list, tuple)) else [graph]
        graphs = [Graph.parse(g) if isinstance(g, str) else g for g in graphs]
        if len(graphs) > 1 and (by_symbol is None or len(upto) != len(graphs) - 1):
            raise InvalidArgumentError(f"Kernel: {len(graphs)} graphs need by_symbol and "
                                       f"{len(graphs) - 1} bounds in upto, got {by_symbol!r} "
                                       f"and {list(upto)}")
        graph = graphs[0]
        self.graph = graph
        self.graphs = graphs
        self.sig = graph.signature()
        self.arch = arch
        opt = _lib.KernelOptions(arch.encode() if arch else None,
                                 (BACKGROUND if background else 0) |
                                 (NO_COMPILE if no_compile else 0) | (IN_CHILD if in_child else 0) |
                                 (TIERED if tiered else 0),
                                 cache_dir.encode() if cache_dir is not None else None)
        ptr = ctypes.c_void_p()
        if len(graphs) == 1:
            _lib.check(lib.tj_kernel_create(graph._g, ctypes.byref(opt), ctypes.byref(ptr)))
        else:
            ga = (ctypes.c_void_p * len(graphs))(*[g._g for g in graphs])
            ua = (ctypes.c_int64 * len(upto))(*upto)
            _lib.check(lib.tj_kernel_create_by_symbol(ga, len(graphs), by_symbol.encode(), ua,
                                                      ctypes.byref(opt), ctypes.byref(ptr)))
        self._k = ptr.value
        sig = self.sig
        # A launch's three arrays (tensor pointers, symbol values, scalars: 8
        # bytes each) live in one buffer, filled by one struct.pack_into. A
        # call takes a buffer from the pool and gives it back after the
        # launch: Python may switch threads between the packing and the
        # launch, so two threads must not share one.
        nt, ns, nf = len(sig.tensors), len(sig.symbols), len(sig.scalars)
        self._nslots = (nt, ns, nf)
        self._pack = struct.Struct(f"<{nt}Q{ns}q{nf}d").pack_into
        self._pool = [self._new_buf()]
        self.arg_names = [py_name(t.name) for t in sig.tensors] + \
                         [py_name(s.name) for s in sig.scalars]
        self.free_symbols = [py_name(s.name) for s in sig.free_symbols()]
        self._torch_seen = None
        # A class of its own, so that the generated __call__ is found on the type.
        self.__class__ = type(f"Kernel_{sig.name}", (Kernel,), {})
        self._install()

    def _new_buf(self):
        nt, ns, nf = self._nslots
        buf = (ctypes.c_uint64 * max(nt + ns + nf, 1))()
        base = ctypes.addressof(buf)
        return (buf, base, base + 8 * (nt + ns), base + 8 * nt)   # tensors, scalars, symbols

    def close(self):
        k, self._k = getattr(self, "_k", None), None
        if k and lib is not None:
            # The generated __call__ holds the raw pointer: replace it first.
            type(self).__call__ = _closed
            lib.tj_kernel_destroy(k)

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<tilejit.Kernel {self.sig.name}({', '.join(self.arg_names)})>"

    # ---- statistics, raw launch ---------------------------------------------
    def stats(self):
        s = _lib.KernelStats()
        _lib.check(lib.tj_kernel_stats_get(self._k, ctypes.byref(s)))
        return {f: getattr(s, f) for f, _ in s._fields_}

    def prepare(self, syms=None, **kw):
        """tj_kernel_prepare: make the specialization for these symbol values
        (a dict and/or keywords by name) ready, compiled and loaded, without
        a launch; with background=True it is queued and this returns at once."""
        vals = self.graph.bind(syms, **kw)
        sa = (ctypes.c_int64 * max(len(vals), 1))(*vals)
        _lib.check(lib.tj_kernel_prepare(self._k, sa))

    def launch_raw(self, tensors, scalars=(), syms=(), stream=0):
        """tj_kernel_launch with device pointers (ints), scalars and symbol
        values (by id, or a dict by name) as given: no checks but tilejit's."""
        if isinstance(syms, dict):
            syms = self.graph.bind(syms)
        ta = (ctypes.c_uint64 * max(len(tensors), 1))(*tensors)
        fa = (ctypes.c_double * max(len(scalars), 1))(*scalars)
        sa = (ctypes.c_int64 * max(len(syms), 1))(*syms)
        _lib.check(_lib.launch(self._k, ctypes.addressof(ta), ctypes.addressof(fa),
                               ctypes.addressof(sa), _tensors.stream_handle(stream)))

    # ---- argument checking (slow path) --------------------------------------
    def _split(self, args, kw):
        names = self.arg_names
        if len(args) > len(names):
            raise InvalidArgumentError(f"kernel '{self.sig.name}' takes {len(names)} arguments "
                                       f"({', '.join(names)}), got {len(args)}")
        vals = list(args) + [None] * (len(names) - len(args))
        have = [True] * len(args) + [False] * (len(names) - len(args))
        syms = {}
        for k, v in kw.items():
            if k in names:
                i = names.index(k)
                if have[i]:
                    raise InvalidArgumentError(f"kernel '{self.sig.name}': '{k}' given twice")
                vals[i], have[i] = v, True
            elif k in self.free_symbols:
                if v is not None:
                    syms[k] = v
            else:
                raise InvalidArgumentError(f"kernel '{self.sig.name}': unknown argument '{k}'")
        missing = [n for n, h in zip(names, have) if not h]
        if missing:
            raise InvalidArgumentError(f"kernel '{self.sig.name}': missing {', '.join(missing)}")
        nt = len(self.sig.tensors)
        return vals[:nt], vals[nt:], syms

    def bind(self, *args, stream=None, **kw):
        """Check the arguments as a launch would; return (tensors as
        DeviceTensors, scalars, symbol values by name). Launches nothing."""
        sig = self.sig
        tens, scal, free = self._split(args, kw)
        dts = [_tensors.adapt(t, f"kernel '{sig.name}' tensor '{d.name}'",
                              _tensors.stream_handle(stream) or None)
               for t, d in zip(tens, sig.tensors)]
        where = {}   # symbol -> (value, "tensor 'x' dim 1")
        for k, v in free.items():
            where[sig.symbols[[py_name(s.name) for s in sig.symbols].index(k)].name] = \
                (int(v), f"argument {k}")

        def bad(d, msg):
            return InvalidArgumentError(f"kernel '{sig.name}' tensor '{d.name}': {msg}")

        dev = None
        for t, d in zip(dts, sig.tensors):
            if t.device != "cuda":
                raise bad(d, f"is on {t.device}; the kernel needs CUDA device memory")
            if t.device_id is not None:
                if dev is None:
                    dev = (t.device_id, d.name)
                elif t.device_id != dev[0]:
                    raise bad(d, f"is on cuda:{t.device_id}, tensor '{dev[1]}' on cuda:{dev[0]}")
            if t.dtype != d.dtype:
                raise bad(d, f"dtype {t.dtype.strip('<>')}, the graph wants {d.dtype}")
            if len(t.shape) != d.rank:
                raise bad(d, f"rank {len(t.shape)} (shape {list(t.shape)}), the graph "
                             f"wants rank {d.rank} {list(d.dims)}")
            for axis, (got, want) in enumerate(zip(t.shape, d.dims)):
                self._match(bad, d, where, got, want, f"dim {axis}")
        for t, d in zip(dts, sig.tensors):
            if d.strides is None:
                expect, ok = 1, True
                for axis in range(d.rank - 1, -1, -1):
                    got = t.strides[axis] if t.strides is not None else expect
                    if t.shape[axis] != 1 and got != expect:
                        ok = False
                    expect *= t.shape[axis]
                if not ok and expect:
                    raise bad(d, f"strides {list(t.strides)} for shape {list(t.shape)} are not "
                                 f"row-major (contiguous), which the graph declares")
            else:
                got_strides = t.strides
                if got_strides is None:
                    got_strides, acc = [], 1
                    for n in reversed(t.shape):
                        got_strides.insert(0, acc)
                        acc *= n
                for axis, (got, want) in enumerate(zip(got_strides, d.strides)):
                    self._match(bad, d, where, got, want, f"stride {axis}")
            if t.ptr % d.align:
                raise bad(d, f"address 0x{t.ptr:x} is not aligned to {d.align} bytes")
        for s in sig.symbols:
            if s.name not in where:
                raise InvalidArgumentError(f"kernel '{sig.name}': symbol '{s.name}' is named by "
                                           f"no tensor; pass it as {py_name(s.name)}=N")
        sc = []
        for v, d in zip(scal, sig.scalars):
            try:
                sc.append(float(v))
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"kernel '{sig.name}' scalar '{d.name}': "
                                           f"{type(v).__name__} is not a number") from None
        return dts, sc, {k: v[0] for k, v in where.items()}

    @staticmethod
    def _match(bad, d, where, got, want, what):
        if isinstance(want, int):
            if got != want:
                raise bad(d, f"{what} is {got}, the graph says {want}")
        elif want in where:
            if got != where[want][0]:
                raise bad(d, f"{what} is {got}, but symbol '{want}' = {where[want][0]} "
                             f"(from {where[want][1]})")
        else:
            where[want] = (int(got), f"tensor '{d.name}' {what}")

    def _slow(self, args, kw, stream):
        dts, sc, syms = self.bind(*args, stream=stream, **kw)
        sig = self.sig
        torch = _tensors.torch_module()
        is_torch = any(t.torch for t in dts)
        if is_torch and self._torch_seen is not torch:
            self._install()   # torch was imported after the kernel was made
        dev = next((t.device_id for t in dts if t.device_id is not None), None)
        if stream is not None:
            handle = _tensors.stream_handle(stream)
        elif is_torch:
            handle = torch._C._cuda_getCurrentRawStream(dev)
        else:
            handle = 0
        try:
            b = self._pool.pop()
        except IndexError:
            b = self._new_buf()
        try:
            self._pack(b[0], 0, *[t.ptr for t in dts], *[syms[s.name] for s in sig.symbols], *sc)
            if is_torch and dev is not None and dev != torch._C._cuda_getDevice():
                with torch.cuda.device(dev):
                    st = _lib.launch(self._k, b[1], b[2], b[3], handle)
            else:
                st = _lib.launch(self._k, b[1], b[2], b[3], handle)
        finally:
            self._pool.append(b)
        _lib.check(st)

    # ---- the generated hot path ---------------------------------------------
    def _install(self):
        torch = _tensors.torch_module()
        self._torch_seen = torch
        src, env = generate(self, torch)
        ns = {}
        exec(compile(src, f"<tilejit kernel {self.sig.name}>", "exec"), ns)
        type(self).__call__ = ns["_make"](**env)
        self.source = src


def generate(k, torch):
    """Python source of the kernel's __call__ and the values it closes over."""
    sig = k.sig
    names = k.arg_names
    kwonly = ["stream=None"] + [f"{n}=None" for n in k.free_symbols]
    header = f"def __call__(_tj_self, {', '.join(names)}, *, {', '.join(kwonly)}):"
    slow_kw = ", ".join([f"'{n}': {n}" for n in k.free_symbols])
    slow = (f"return _tj_self._slow(({', '.join(names)},), "
            f"{{{slow_kw}}}, stream)")
    env = {"_tj_K": k._k, "_tj_pool": k._pool, "_tj_pack": k._pack, "_tj_launch": _lib.launch,
           "_tj_check": _lib.check}
    body = []
    if torch is None:
        body.append(slow)
    else:
        env["_tj_T"] = torch.Tensor
        env["_tj_stream"] = torch._C._cuda_getCurrentRawStream
        env["_tj_curdev"] = torch._C._cuda_getDevice
        tn = names[:len(sig.tensors)]
        guard = ["stream is None"] + [f"{n} is not None" for n in k.free_symbols]
        guard += [f"isinstance({n}, _tj_T)" for n in tn]
        body.append(f"if not ({' and '.join(guard)}): {slow}")
        env["_tj_Slow"] = _Slow
        env["_tj_StructError"] = struct.error
        body.append("try:")
        inner = []
        bound = {}
        for s in sig.free_symbols():
            bound[s.name] = f"_tj_s{s.index}"
            inner.append(f"_tj_s{s.index} = int({py_name(s.name)})")
        for t, n in zip(sig.tensors, tn):
            dt = getattr(torch, _tensors.TJ_TO_TORCH.get(t.dtype, ""), None)
            if dt is None:
                body[0] = slow   # a dtype this torch lacks: always the slow path
                break
            env[f"_tj_d{t.index}"] = dt
            inner += _bind_seq(f"{n}.shape", "_tj_sh", t.dims, bound, "raise _tj_Slow")
            conds = [f"{n}.dtype is not _tj_d{t.index}"]
            if t.strides is None:
                conds.append(f"not {n}.is_contiguous()")
            inner.append(f"if {' or '.join(conds)}: raise _tj_Slow")
            if t.strides is not None:
                inner += _bind_seq(f"{n}.stride()", "_tj_st", t.strides, bound, "raise _tj_Slow")
        else:
            first = tn[0] if tn else None
            if first:
                inner.append(f"_tj_dev = {first}.get_device()")
                devc = ["_tj_dev < 0", "_tj_dev != _tj_curdev()"]
                devc += [f"{n}.get_device() != _tj_dev" for n in tn[1:]]
                inner.append(f"if {' or '.join(devc)}: raise _tj_Slow")
                ptrs = [f"{n}.data_ptr()" for n in tn]
            else:
                ptrs = []
            for s in sig.symbols:
                if s.name not in bound:   # unreachable: every symbol is named or free
                    body[0] = slow
            # Alignment and null pointers: tj_kernel_launch checks them before
            # it launches, with a message naming the tensor.
            if body[0] != slow:
                vals = ptrs + [bound[s.name] for s in sig.symbols] + names[len(sig.tensors):]
                # An empty pool (IndexError: threads in flight) takes the slow path.
                inner.append("_tj_b = _tj_pool.pop()")
                inner.append(f"_tj_pack(_tj_b[0], 0, {', '.join(vals)})")
            body += ["    " + line for line in inner]
            # The checks raise _tj_Slow on a mismatch; the slow path runs
            # outside the try, so that its own exceptions are not caught.
            body.append("except (_tj_Slow, TypeError, ValueError, AttributeError, IndexError, "
                        "_tj_StructError):")
            body.append(f"    {slow}")
            stream = "_tj_stream(_tj_dev)" if tn else "0"
            body.append(f"_tj_st = _tj_launch(_tj_K, _tj_b[1], _tj_b[2], _tj_b[3], {stream})")
            body.append("_tj_pool.append(_tj_b)")
            body.append("if _tj_st: _tj_check(_tj_st)")
        if body[0] == slow:
            body = [slow]
    src = [f"def _make({', '.join(env)}):", "    " + header]
    src += ["        " + line for line in body]
    src.append("    return __call__")
    return "\n".join(src) + "\n", env


def _bind_seq(expr, var, dims, bound, slow):
    """Lines that check a shape/stride tuple against dims, binding new symbols
    (a wrong length fails the unpacking: ValueError, the slow path)."""
    if all(isinstance(d, int) or d in bound for d in dims):
        want = ", ".join(str(d) if isinstance(d, int) else bound[d] for d in dims)
        return [f"if {expr} != ({want}{',' if len(dims) == 1 else ''}): {slow}"]
    targets, conds = [], []
    for i, d in enumerate(dims):
        if isinstance(d, str) and d not in bound:
            bound[d] = f"_tj_v_{len(bound)}"
            targets.append(bound[d])
        else:
            targets.append(f"{var}{i}")
            conds.append(f"{var}{i} != {d if isinstance(d, int) else bound[d]}")
    lines = [f"{', '.join(targets)}{',' if len(dims) == 1 else ''} = {expr}"]
    if conds:
        lines.append(f"if {' or '.join(conds)}: {slow}")
    return lines
