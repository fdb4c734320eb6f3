"""Graph building: the C builder API (tilejit.h) in Python form.

A Graph owns its nodes; Sym, TensorArg and Val are handles that keep their
graph alive. Builder errors raise at once, with tj_last_error()'s message,
instead of being collected for tj_graph_verify() as in C.
"""
import ctypes
import enum
import keyword

from . import _lib, signature
from ._lib import _Id, lib
from .errors import InvalidArgumentError, TilejitError

UNBOUND = -(1 << 63)   # TJ_UNBOUND
COORD_ELEMENT = 1      # TJ_COORD_ELEMENT
TRANS_A, TRANS_B = 1, 2


class DType(enum.IntEnum):
    F32 = 0
    F16 = 1
    BF16 = 2
    F8E4M3 = 3
    F8E5M2 = 4
    I32 = 5
    I64 = 6
    BOOL = 7
    F64 = 8

    @property
    def short(self):
        return lib.tj_dtype_name(self).decode()

    @property
    def itemsize(self):
        return lib.tj_dtype_size(self)

    def __str__(self):
        return self.short


class Policy(enum.IntEnum):
    EXACT = 0
    BUCKET_POW2 = 1
    BUCKET_MULTIPLE = 2
    DYNAMIC = 3


UNARY = ("neg abs exp exp2 log log2 sqrt rsqrt recip sin cos tanh sigmoid silu gelu "
         "gelu_tanh relu floor ceil not").split()
BINARY = "add sub mul div max min pow mod cdiv and or xor eq ne lt le gt ge".split()
REDUCE = ("sum", "max", "min")

_TORCH_DTYPES = {"float32": "f32", "float": "f32", "float16": "f16", "half": "f16",
                 "bfloat16": "bf16", "float8_e4m3fn": "f8e4m3", "float8_e5m2": "f8e5m2",
                 "int32": "i32", "int": "i32", "int64": "i64", "long": "i64", "bool": "bool",
                 "float64": "f64", "double": "f64"}


def dtype(x):
    """A DType from a DType, its name ("bf16"), an int, or a torch/numpy dtype."""
    if isinstance(x, DType):
        return x
    if isinstance(x, int):
        return DType(x)
    name = x if isinstance(x, str) else str(x).rsplit(".", 1)[-1]
    name = _TORCH_DTYPES.get(name, name)
    out = ctypes.c_int()
    if lib.tj_dtype_from_name(name.encode(), ctypes.byref(out)):
        raise InvalidArgumentError(f"unknown dtype {x!r}")
    return DType(out.value)


def policy(x):
    """(Policy, bucket) from a Policy or "exact" / "pow2" / "multipleN" / "dynamic"."""
    if isinstance(x, Policy):
        return x, 0
    if isinstance(x, str):
        if x in ("exact", "pow2", "dynamic"):
            return {"exact": Policy.EXACT, "pow2": Policy.BUCKET_POW2,
                    "dynamic": Policy.DYNAMIC}[x], 0
        if x.startswith("multiple") and x[8:].isdigit():
            return Policy.BUCKET_MULTIPLE, int(x[8:])
    raise InvalidArgumentError(f"unknown policy {x!r}: exact, pow2, multipleN or dynamic")


def _ids(items):
    arr = (_Id * max(len(items), 1))()
    for i, v in enumerate(items):
        arr[i].id = v
    return arr


class Sym:
    """A symbolic dimension. Usable wherever a dim is (shapes, tiles) and, in
    arithmetic, as its run-time value (tj_symval)."""
    __slots__ = ("graph", "id")

    def __init__(self, graph, id_):
        self.graph, self.id = graph, id_

    @property
    def name(self):
        return lib.tj_symbol_name(self.graph._g, _Id(self.id)).decode()

    @property
    def policy(self):
        return Policy(lib.tj_symbol_policy(self.graph._g, _Id(self.id)))

    @property
    def dim(self):
        return -self.id - 2   # tj_dim_sym

    @property
    def value(self):
        return self.graph.symval(self)

    def specialize(self, value):
        return lib.tj_symbol_specialize(self.graph._g, _Id(self.id), value)

    def __repr__(self):
        return f"Sym({self.name})"

    # arithmetic on the run-time value
    def __getattr__(self, name):
        if name in Val._FORWARD:
            return getattr(self.value, name)
        raise AttributeError(name)


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "lt", "le", "gt", "ge"):
    for _pre in ("", "r") if _op not in ("lt", "le", "gt", "ge") else ("",):
        _n = f"__{_pre}{_op}__"
        setattr(Sym, _n, (lambda n: lambda self, other: getattr(self.value, n)(other))(_n))


class TensorArg:
    """A tensor argument of a graph."""
    __slots__ = ("graph", "id")

    def __init__(self, graph, id_):
        self.graph, self.id = graph, id_

    @property
    def name(self):
        return lib.tj_tensor_name(self.graph._g, _Id(self.id)).decode()

    @property
    def dtype(self):
        return DType(lib.tj_tensor_dtype(self.graph._g, _Id(self.id)))

    @property
    def rank(self):
        return lib.tj_tensor_rank(self.graph._g, _Id(self.id))

    @property
    def dims(self):
        return tuple(self.graph._dim_out(lib.tj_tensor_dim(self.graph._g, _Id(self.id), a))
                     for a in range(self.rank))

    def set_align(self, nbytes):
        _lib.check(lib.tj_tensor_set_align(self.graph._g, _Id(self.id), nbytes))

    def __repr__(self):
        return f"TensorArg({self.name}: {self.dtype}{list(self.dims)})"


class Val:
    """A tile or scalar value. Python operators build ops; Python numbers
    become constants of the other operand's dtype."""
    __slots__ = ("graph", "id")
    _FORWARD = {"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                "__truediv__", "__rtruediv__", "__mod__", "__rmod__", "cdiv", "cast",
                "__lt__", "__le__", "__gt__", "__ge__", "__neg__", "maximum", "minimum"}

    def __init__(self, graph, id_):
        self.graph, self.id = graph, id_

    def type(self):
        """(DType, shape tuple); shape () for a scalar."""
        dt, rank = ctypes.c_int(), ctypes.c_int()
        dims = (ctypes.c_int64 * 2)()
        _lib.check(lib.tj_val_type(self.graph._g, _Id(self.id), ctypes.byref(dt),
                                   ctypes.byref(rank), dims))
        return DType(dt.value), tuple(self.graph._dim_out(dims[i]) for i in range(rank.value))

    @property
    def dtype(self):
        return self.type()[0]

    @property
    def shape(self):
        return self.type()[1]

    def name(self, name):
        _lib.check(lib.tj_name(self.graph._g, _Id(self.id), name.encode()))
        return self

    def __repr__(self):
        try:
            dt, shape = self.type()
            return f"Val(%{self.id}: {dt}{list(shape) if shape else ''})"
        except TilejitError:
            return f"Val(%{self.id})"

    def _bin(self, op, other, swap=False):
        g = self.graph
        other = g._operand(other, self)
        a, b = (other, self) if swap else (self, other)
        return g.binary(op, a, b)

    __add__ = lambda s, o: s._bin("add", o)
    __radd__ = lambda s, o: s._bin("add", o, True)
    __sub__ = lambda s, o: s._bin("sub", o)
    __rsub__ = lambda s, o: s._bin("sub", o, True)
    __mul__ = lambda s, o: s._bin("mul", o)
    __rmul__ = lambda s, o: s._bin("mul", o, True)
    __truediv__ = lambda s, o: s._bin("div", o)
    __rtruediv__ = lambda s, o: s._bin("div", o, True)
    __mod__ = lambda s, o: s._bin("mod", o)
    __rmod__ = lambda s, o: s._bin("mod", o, True)
    __pow__ = lambda s, o: s._bin("pow", o)
    __and__ = lambda s, o: s._bin("and", o)
    __or__ = lambda s, o: s._bin("or", o)
    __xor__ = lambda s, o: s._bin("xor", o)
    __lt__ = lambda s, o: s._bin("lt", o)
    __le__ = lambda s, o: s._bin("le", o)
    __gt__ = lambda s, o: s._bin("gt", o)
    __ge__ = lambda s, o: s._bin("ge", o)
    __neg__ = lambda s: s.graph.unary("neg", s)
    __abs__ = lambda s: s.graph.unary("abs", s)
    __invert__ = lambda s: s.graph.unary("not", s)
    __matmul__ = lambda s, o: s.graph.mma(s, o)
    cdiv = lambda s, o: s._bin("cdiv", o)
    maximum = lambda s, o: s._bin("max", o)
    minimum = lambda s, o: s._bin("min", o)
    eq = lambda s, o: s._bin("eq", o)
    ne = lambda s, o: s._bin("ne", o)
    cast = lambda s, dt: s.graph.cast(s, dt)
    sum = lambda s, axis: s.graph.reduce("sum", s, axis)
    max = lambda s, axis: s.graph.reduce("max", s, axis)
    min = lambda s, axis: s.graph.reduce("min", s, axis)
    transpose = lambda s: s.graph.transpose(s)
    T = property(lambda s: s.graph.transpose(s))
    reshape = lambda s, dims: s.graph.reshape(s, dims)
    broadcast = lambda s, dims: s.graph.broadcast(s, dims)


def _unary_method(op):
    return lambda self: self.graph.unary(op, self)


for _op in UNARY:
    if _op not in ("neg", "abs", "not"):
        setattr(Val, _op, _unary_method(_op))


def cdiv(a, b):
    """Integer ceiling division of values, symbols or numbers (one must be a Val or Sym)."""
    if isinstance(a, (Val, Sym)):
        return a.cdiv(b)
    g = b.graph
    return g.binary("cdiv", g._operand(a, b if isinstance(b, Val) else b.value), b)


class Loop:
    """`with g.loop(lo, hi, step, init) as loop:` — loop.iv and loop.carried
    inside the body; loop.next(...) sets the next iteration's carried
    values; loop.results after the block."""

    def __init__(self, graph, lo, hi, step, init):
        self.graph = graph
        self._args = (lo, hi, step, list(init))
        self.iv, self.carried, self.results, self._next = None, [], [], None

    def __enter__(self):
        g = self.graph
        lo, hi, step, init = self._args
        lo = g._operand(lo)
        hi = g._operand(hi, lo)
        step = g._operand(step, lo)
        init = [g._operand(v) for v in init]
        n = len(init)
        iv, carried = _Id(), (_Id * max(n, 1))()
        _lib.check(lib.tj_for_begin(g._g, _Id(lo.id), _Id(hi.id), _Id(step.id), n,
                                    _ids([v.id for v in init]), ctypes.byref(iv), carried))
        self.iv = Val(g, iv.id)
        self.carried = [Val(g, carried[i].id) for i in range(n)]
        return self

    def next(self, *values):
        self._next = list(values)

    def __exit__(self, etype, evalue, tb):
        if etype is not None:
            return False   # the graph is left unfinished; the error says why
        g = self.graph
        nxt = self._next if self._next is not None else self.carried
        if len(nxt) != len(self.carried):
            raise InvalidArgumentError(f"loop: {len(self.carried)} carried values, "
                                       f"next() gave {len(nxt)}")
        n = len(nxt)
        results = (_Id * max(n, 1))()
        _lib.check(lib.tj_for_end(g._g, n, _ids([g._operand(v).id for v in nxt]), results))
        self.results = [Val(g, results[i].id) for i in range(n)]
        return False


class Graph:
    """A tile-op graph (tj_graph)."""

    def __init__(self, name="graph", *, _ptr=None):
        if _ptr is None:
            ptr = ctypes.c_void_p()
            _lib.check(lib.tj_graph_new(name.encode(), ctypes.byref(ptr)))
            _ptr = ptr.value
        self._g = _ptr

    def __del__(self):
        g, self._g = getattr(self, "_g", None), None
        if g and lib is not None:
            lib.tj_graph_free(g)

    @classmethod
    def parse(cls, text, source=None):
        """A graph from its text form (verified)."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        ptr = ctypes.c_void_p()
        _lib.check(lib.tj_graph_parse(data, len(data), source.encode() if source else None,
                                      ctypes.byref(ptr)))
        return cls(_ptr=ptr.value)

    # ---- identity, text, checks -------------------------------------------------
    @property
    def name(self):
        return lib.tj_graph_name(self._g).decode()

    @property
    def status(self):
        return lib.tj_graph_status(self._g)

    def verify(self):
        _lib.check(lib.tj_graph_verify(self._g))
        return self

    def print(self):
        """The canonical text form (.tj)."""
        out = ctypes.c_void_p()
        _lib.check(lib.tj_graph_print(self._g, ctypes.byref(out)))
        return _lib.take_string(out.value)

    text = property(print)

    def __str__(self):
        return self.print()

    def __repr__(self):
        return f"<tilejit.Graph {self.name}>"

    def hash(self):
        buf = ctypes.create_string_buffer(65)
        _lib.check(lib.tj_graph_hash(self._g, buf))
        return buf.value.decode()

    def signature(self):
        """The kernel ABI (tilejit.signature.Signature) from the canonical text."""
        return signature.parse(self.print())

    def copy(self):
        return Graph.parse(self.print(), self.name)

    # ---- helpers ------------------------------------------------------------
    def _dim(self, d):
        if isinstance(d, Sym):
            return d.dim
        if isinstance(d, str):
            return self.find_symbol(d).dim
        if isinstance(d, int) and d >= 0:
            return d
        raise InvalidArgumentError(f"{d!r} is not a dim (an int >= 0, a Sym or a symbol name)")

    def _dims(self, dims):
        dims = list(dims)
        arr = (ctypes.c_int64 * max(len(dims), 1))(*[self._dim(d) for d in dims])
        return len(dims), arr

    def _dim_out(self, d):
        return Sym(self, -d - 2) if d <= -2 else d

    def _val(self, h, what):
        # The C API records a graph's first builder error; its status is this
        # call's unless an earlier call failed too (then the first's).
        if h.id < 0:
            raise _lib.errors.from_status(self.status or 1, _lib.last_error() or
                                          f"{what} failed")
        return Val(self, h.id)

    def _operand(self, x, like=None, default=DType.I32):
        """A Val from a Val, a Sym (its value) or a Python number (a constant of
        like's dtype, else i32 for an int and f32 for a float)."""
        if isinstance(x, Val):
            return x
        if isinstance(x, Sym):
            return self.symval(x)
        if isinstance(x, (bool, int, float)):
            if like is not None:
                dt = like.dtype
            else:
                dt = DType.F32 if isinstance(x, float) else default
            return self.const(dt, float(x))
        raise InvalidArgumentError(f"{x!r} is not a value")

    # ---- declarations -------------------------------------------------------
    def symbol(self, name, policy_="exact", bucket=0, divisor=1):
        """A symbolic dimension; policy: Policy or "exact"/"pow2"/"multipleN"/"dynamic"."""
        pol, b = policy(policy_)
        h = lib.tj_symbol(self._g, name.encode(), pol, bucket or b, divisor)
        self._val(h, "tj_symbol")
        return Sym(self, h.id)

    def find_symbol(self, name):
        h = lib.tj_find_symbol(self._g, name.encode())
        if h.id < 0:
            raise InvalidArgumentError(f"graph '{self.name}' has no symbol '{name}'")
        return Sym(self, h.id)

    @property
    def symbols(self):
        return [Sym(self, i) for i in range(lib.tj_num_symbols(self._g))]

    def tensor(self, name, dtype_, dims, strides=None, align=None):
        rank, d = self._dims(dims)
        s = None
        if strides is not None:
            srank, s = self._dims(strides)
            if srank != rank:
                raise InvalidArgumentError(f"tensor '{name}': {rank} dims, {srank} strides")
        h = lib.tj_tensor_arg(self._g, name.encode(), dtype(dtype_), rank, d, s)
        self._val(h, "tj_tensor_arg")
        t = TensorArg(self, h.id)
        if align is not None:
            t.set_align(align)
        return t

    @property
    def tensors(self):
        return [TensorArg(self, i) for i in range(lib.tj_num_tensors(self._g))]

    def scalar(self, name, dtype_="f32"):
        return self._val(lib.tj_scalar_arg(self._g, name.encode(), dtype(dtype_)),
                         "tj_scalar_arg")

    @property
    def scalars(self):
        return [(lib.tj_scalar_name(self._g, i).decode(), DType(lib.tj_scalar_dtype(self._g, i)))
                for i in range(lib.tj_num_scalars(self._g))]

    # ---- values -------------------------------------------------------------
    def const(self, dtype_, value):
        return self._val(lib.tj_const(self._g, dtype(dtype_), float(value)), "tj_const")

    def full(self, dtype_, dims, value):
        rank, d = self._dims(dims)
        return self._val(lib.tj_full(self._g, dtype(dtype_), rank, d, float(value)), "tj_full")

    def symval(self, sym):
        sym = self.find_symbol(sym) if isinstance(sym, str) else sym
        return self._val(lib.tj_symval(self._g, _Id(sym.id)), "tj_symval")

    def program_id(self, axis=0):
        return self._val(lib.tj_program_id(self._g, axis), "tj_program_id")

    def num_programs(self, axis=0):
        return self._val(lib.tj_num_programs(self._g, axis), "tj_num_programs")

    def iota(self, dtype_, dims, axis=0):
        rank, d = self._dims(dims)
        return self._val(lib.tj_iota(self._g, dtype(dtype_), rank, d, axis), "tj_iota")

    # ---- memory -------------------------------------------------------------
    def load(self, t, coords, tile, axes=None, pad=0.0, element=False):
        """Load a tile of shape `tile` (0..2 dims) from tensor t at coords."""
        cs = [self._operand(c).id for c in coords]
        rank, d = self._dims(tile)
        ax = (ctypes.c_int * len(axes))(*axes) if axes is not None else None
        h = lib.tj_load(self._g, _Id(t.id), _ids(cs), rank, d, ax, float(pad),
                        COORD_ELEMENT if element else 0)
        return self._val(h, "tj_load")

    def store(self, t, coords, value, axes=None, element=False):
        cs = [self._operand(c).id for c in coords]
        ax = (ctypes.c_int * len(axes))(*axes) if axes is not None else None
        _lib.check(lib.tj_store(self._g, _Id(t.id), _ids(cs), _Id(value.id), ax,
                                COORD_ELEMENT if element else 0))

    # ---- compute ------------------------------------------------------------
    def mma(self, a, b, acc=None, trans_a=False, trans_b=False):
        flags = (TRANS_A if trans_a else 0) | (TRANS_B if trans_b else 0)
        return self._val(lib.tj_mma(self._g, _Id(a.id), _Id(b.id),
                                    _Id(acc.id if acc is not None else -1), flags), "tj_mma")

    def unary(self, op, x):
        code = UNARY.index(op) if isinstance(op, str) else int(op)
        return self._val(lib.tj_unary(self._g, code, _Id(self._operand(x).id)), f"{op}")

    def binary(self, op, a, b):
        code = BINARY.index(op) if isinstance(op, str) else int(op)
        if not isinstance(a, Val) and isinstance(b, (Val, Sym)):
            b = self._operand(b)
            a = self._operand(a, b)
        else:
            a = self._operand(a)
            b = self._operand(b, a)
        return self._val(lib.tj_binary(self._g, code, _Id(a.id), _Id(b.id)), f"{op}")

    def where(self, cond, a, b):
        a = self._operand(a, b if isinstance(b, Val) else None)
        b = self._operand(b, a)
        return self._val(lib.tj_where(self._g, _Id(cond.id), _Id(a.id), _Id(b.id)), "where")

    def fma(self, a, b, c):
        b, c = self._operand(b, a), self._operand(c, a)
        return self._val(lib.tj_fma(self._g, _Id(a.id), _Id(b.id), _Id(c.id)), "fma")

    def cast(self, x, dtype_):
        return self._val(lib.tj_cast(self._g, _Id(self._operand(x).id), dtype(dtype_)), "cast")

    def reduce(self, op, x, axis):
        code = REDUCE.index(op) if isinstance(op, str) else int(op)
        return self._val(lib.tj_reduce(self._g, code, _Id(x.id), axis), f"reduce {op}")

    def transpose(self, x):
        return self._val(lib.tj_transpose(self._g, _Id(x.id)), "transpose")

    def reshape(self, x, dims):
        rank, d = self._dims(dims)
        return self._val(lib.tj_reshape(self._g, _Id(x.id), rank, d), "reshape")

    def broadcast(self, x, dims):
        rank, d = self._dims(dims)
        return self._val(lib.tj_broadcast(self._g, _Id(x.id), rank, d), "broadcast")

    # shorthands, as in tilejit.h
    def add(self, a, b): return self.binary("add", a, b)
    def sub(self, a, b): return self.binary("sub", a, b)
    def mul(self, a, b): return self.binary("mul", a, b)
    def div(self, a, b): return self.binary("div", a, b)
    def maximum(self, a, b): return self.binary("max", a, b)
    def minimum(self, a, b): return self.binary("min", a, b)
    def exp(self, x): return self.unary("exp", x)
    def sum(self, x, axis): return self.reduce("sum", x, axis)
    def rowmax(self, x): return self.reduce("max", x, 1)
    def rowsum(self, x): return self.reduce("sum", x, 1)

    # ---- loops and grid -----------------------------------------------------
    def loop(self, lo, hi, step=1, init=()):
        return Loop(self, lo, hi, step, init)

    def fori(self, lo, hi, step, init, body):
        """Functional loop: body(iv, *carried) returns the next carried values
        (a Val or a sequence); returns the results (a list)."""
        with self.loop(lo, hi, step, init) as lp:
            nxt = body(lp.iv, *lp.carried)
            lp.next(*((nxt,) if isinstance(nxt, Val) else (nxt or ())))
        return lp.results

    def set_grid(self, dims):
        vals = [self._operand(d).id for d in (dims if isinstance(dims, (list, tuple))
                                              else [dims])]
        _lib.check(lib.tj_set_grid(self._g, len(vals), _ids(vals)))

    # ---- symbols bound to values --------------------------------------------
    def bind(self, syms=None, **kw):
        """Symbol values (list indexed by symbol id, UNBOUND where missing) from
        a dict and/or keywords keyed by symbol name (or Sym)."""
        vals = [UNBOUND] * lib.tj_num_symbols(self._g)
        items = dict(syms or {})
        items.update(kw)
        for k, v in items.items():
            s = k if isinstance(k, Sym) else self.find_symbol(k)
            vals[s.id] = int(v)
        return vals

    def _symarr(self, syms):
        if syms is None:
            return None
        vals = syms if isinstance(syms, (list, tuple)) else self.bind(syms)
        return (ctypes.c_int64 * max(len(vals), 1))(*vals)

    def grid(self, syms):
        out = (ctypes.c_int64 * 3)()
        _lib.check(lib.tj_graph_grid(self._g, self._symarr(syms), out))
        return tuple(out)

    def tensor_shape(self, t, syms):
        """(dims, strides) of tensor t (a TensorArg, index or name) for bound symbols."""
        t = self._tensor(t)
        r = t.rank
        d, s = (ctypes.c_int64 * 5)(), (ctypes.c_int64 * 5)()
        _lib.check(lib.tj_tensor_shape(self._g, _Id(t.id), self._symarr(syms), d, s))
        return tuple(d[:r]), tuple(s[:r])

    def tensor_extent(self, t, syms):
        n = ctypes.c_int64()
        _lib.check(lib.tj_tensor_extent(self._g, _Id(self._tensor(t).id), self._symarr(syms),
                                        ctypes.byref(n)))
        return n.value

    def _tensor(self, t):
        if isinstance(t, TensorArg):
            return t
        if isinstance(t, int):
            return TensorArg(self, t)
        for x in self.tensors:
            if x.name == t:
                return x
        raise InvalidArgumentError(f"graph '{self.name}' has no tensor '{t}'")

    # ---- CPU interpreter, code generation -----------------------------------
    def run_cpu(self, tensors, scalars=(), syms=None, f64=False):
        """tj_interp_run: `tensors` are writable host buffers (buffer protocol:
        array.array, bytearray, numpy arrays; or objects with data_ptr() of
        CPU memory) laid out as the graph says; bf16/f16 as 16-bit patterns."""
        keep, ptrs = [], (ctypes.c_void_p * max(len(tensors), 1))()
        for i, t in enumerate(tensors):
            if hasattr(t, "data_ptr"):
                ptrs[i] = t.data_ptr()
            else:
                buf = (ctypes.c_char * memoryview(t).nbytes).from_buffer(t)
                keep.append(buf)
                ptrs[i] = ctypes.addressof(buf)
        sc = (ctypes.c_double * max(len(scalars), 1))(*[float(x) for x in scalars])
        _lib.check(lib.tj_interp_run(self._g, self._symarr(syms or {}), ptrs, sc,
                                     1 if f64 else 0))

    def emit_cuda(self, arch="sm_90a", syms=None):
        """The CUDA C++ tilejit generates for arch at the given symbol values."""
        out = ctypes.c_void_p()
        _lib.check(lib.tj_emit_cuda(self._g, arch.encode(), self._symarr(syms),
                                    ctypes.byref(out)))
        return _lib.take_string(out.value)

    def compile(self, arch="sm_90a", syms=None, in_child=False, return_log=False):
        """A cubin (bytes) from NVRTC; needs no GPU. CompileError carries .log."""
        cubin, size, log = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p()
        st = lib.tj_compile(self._g, arch.encode(), self._symarr(syms), 1 if in_child else 0,
                            ctypes.byref(cubin), ctypes.byref(size), ctypes.byref(log))
        msg = _lib.last_error() if st else ""
        text = _lib.take_string(log.value)
        if st:
            raise _lib.errors.from_status(st, msg, log=text)
        try:
            data = ctypes.string_at(cubin.value, size.value)
        finally:
            lib.tj_free(cubin.value)
        return (data, text) if return_log else data

    def kernel(self, **options):
        from .kernel import Kernel
        return Kernel(self, **options)


def py_name(name):
    """A graph name as a Python identifier (keywords get a trailing underscore)."""
    return name + "_" if keyword.iskeyword(name) or name in ("stream", "self") else name
