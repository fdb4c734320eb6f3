"""tilejit kernels as torch custom ops (torch.library), for eager code,
torch.compile and CUDA graphs.

    import tilejit.torch as tjt
    rmsnorm = tjt.recipe_op("rmsnorm", dtype="bf16")
    y = rmsnorm(x, w, 1e-6)          # torch.ops.tilejit.rmsnorm_<hash>(x, w, 1e-6)

An op's inputs are the graph's tensors that it loads (in graph order), then
its scalars, then any symbol that no input's shape gives (a SymInt). Its
outputs are the tensors the graph only stores to: the op allocates them
(row-major, on the inputs' device) and returns them (one tensor, or a tuple).
A tensor the graph both loads and stores is an input the op mutates.

Each op has a fake (meta) implementation that computes the outputs' shapes
from the inputs' (symbolic) shapes, so torch.compile traces through it; the
CUDA implementation launches on torch's current stream, so it runs inside
torch.cuda.graph capture (call it once before capturing: a first call for a
new specialization compiles and loads a module, which capture forbids).
"""
import threading

import torch

from .graph import Graph, py_name
from .kernel import Kernel
from .recipes import recipe, recipe_by_length

_LIB = torch.library.Library("tilejit", "FRAGMENT")
_OPS = {}
_LOCK = threading.Lock()
_SCHEMA_TYPES = {"f32": "float", "f64": "float", "f16": "float", "bf16": "float",
                 "i32": "int", "i64": "int", "bool": "bool"}
_TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
                 "i32": torch.int32, "i64": torch.int64, "bool": torch.bool,
                 "f8e4m3": getattr(torch, "float8_e4m3fn", None),
                 "f8e5m2": getattr(torch, "float8_e5m2", None)}


class TorchOp:
    """A graph registered as torch.ops.tilejit.NAME. Call it like the op."""

    def __init__(self, graph, name=None, **kernel_options):
        if isinstance(graph, Kernel):
            self._kernel, graph = graph, graph.graph
        else:
            self._kernel = None
        self.graph = graph
        self.kernel_options = kernel_options
        sig = self.sig = graph.signature()
        self.name = name or f"{sig.name}_{graph.hash()[:12]}"
        self.qualname = f"tilejit::{self.name}"
        self.inputs = sig.inputs
        self.outputs = sig.outputs
        given = {d for t in self.inputs for d in t.dims + (t.strides or ()) if isinstance(d, str)}
        for t in self.outputs:
            if t.strides is not None:
                raise ValueError(f"tilejit.torch: output '{t.name}' of '{sig.name}' declares "
                                 f"strides; outputs are allocated row-major")
        # Symbols no input names: the caller gives them (SymInt arguments).
        self.extra_syms = [s for s in sig.symbols if s.name not in given]
        self.schema = self._schema()
        self._lock = threading.Lock()
        src = self._source()
        self.source = src
        ns = {"torch": torch, "_tj_op": self}
        for t in self.outputs:
            dt = _TORCH_DTYPES.get(t.dtype)
            if dt is None:
                raise ValueError(f"tilejit.torch: torch has no dtype for {t.dtype}")
            ns[f"_tj_d{t.index}"] = dt
        exec(compile(src, f"<tilejit op {self.name}>", "exec"), ns)
        self._impl, self._fake = ns["_impl"], ns["_fake"]
        self.op = None

    # ---- generated implementations ------------------------------------------
    def _arg_names(self):
        sig = self.sig
        return ([py_name(t.name) for t in self.inputs] + [py_name(s.name) for s in sig.scalars]
                + [py_name(s.name) for s in self.extra_syms])

    def _schema(self):
        parts, alias = [], 0
        for t in self.inputs:
            if t.stored:
                parts.append(f"Tensor(a{alias}!) {py_name(t.name)}")
                alias += 1
            else:
                parts.append(f"Tensor {py_name(t.name)}")
        for s in self.sig.scalars:
            parts.append(f"{_SCHEMA_TYPES.get(s.dtype, 'float')} {py_name(s.name)}")
        for s in self.extra_syms:
            parts.append(f"SymInt {py_name(s.name)}")
        n = len(self.outputs)
        ret = "()" if n == 0 else "Tensor" if n == 1 else "(" + ", ".join(["Tensor"] * n) + ")"
        return f"{self.name}({', '.join(parts)}) -> {ret}"

    def _source(self):
        sig = self.sig
        where = {}
        for t in self.inputs:
            for axis, d in enumerate(t.dims):
                if isinstance(d, str) and d not in where:
                    where[d] = f"{py_name(t.name)}.shape[{axis}]"
            for axis, d in enumerate(t.strides or ()):
                if isinstance(d, str) and d not in where:
                    where[d] = f"{py_name(t.name)}.stride({axis})"
        for s in self.extra_syms:
            where[s.name] = py_name(s.name)
        args = ", ".join(self._arg_names())
        first = py_name(self.inputs[0].name) if self.inputs else None
        dev = f"{first}.device" if first else "'cuda'"
        alloc = []
        for t in self.outputs:
            shape = ", ".join(str(d) if isinstance(d, int) else where[d] for d in t.dims)
            shape += "," if len(t.dims) == 1 else ""
            alloc.append(f"    {py_name(t.name)} = torch.empty(({shape}), dtype=_tj_d{t.index}, "
                         f"device={dev})")
        outs = [py_name(t.name) for t in self.outputs]
        ret = "None" if not outs else outs[0] if len(outs) == 1 else f"({', '.join(outs)},)"
        call = ", ".join([py_name(t.name) for t in sig.tensors] +
                         [py_name(s.name) for s in sig.scalars])
        free = {s.name for s in sig.free_symbols()}
        kw = "".join(f", {py_name(s.name)}={py_name(s.name)}" for s in self.extra_syms
                     if s.name in free)
        checks = []
        for t in self.inputs:
            n = py_name(t.name)
            checks.append(f"    _tj_op._check_meta({t.index}, {n}.dtype, {n}.dim())")
        lines = [f"def _impl({args}):"] + alloc
        if outs:
            # An empty output needs no launch (and a symbol of 0 cannot be bound).
            lines.append(f"    if {' and '.join(f'{o}.numel() == 0' for o in outs)}: "
                         f"return {ret}")
        lines += [f"    _tj_op.kernel({call}{kw})", f"    return {ret}",
                  f"def _fake({args}):"] + checks + alloc + [f"    return {ret}"]
        return "\n".join(lines) + "\n"

    def _check_meta(self, index, dtype, rank):
        t = self.sig.tensors[index]
        want = _TORCH_DTYPES.get(t.dtype)
        if dtype != want:
            raise ValueError(f"{self.qualname} tensor '{t.name}': dtype {dtype}, the graph "
                             f"wants {want}")
        if rank != t.rank:
            raise ValueError(f"{self.qualname} tensor '{t.name}': rank {rank}, the graph "
                             f"wants {t.rank} {list(t.dims)}")

    @property
    def kernel(self):
        """The Kernel, created on first use (so that making an op needs no GPU)."""
        k = self._kernel
        if k is None:
            with self._lock:
                if self._kernel is None:
                    self._kernel = Kernel(self.graph, **self.kernel_options)
                k = self._kernel
        return k

    def register(self):
        with _LOCK:
            have = _OPS.get(self.qualname)
            if have is not None:
                if have.schema != self.schema:
                    raise ValueError(f"{self.qualname} is registered with another schema")
                return have
            _LIB.define(self.schema)
            # With no tensor argument the dispatcher has no backend to pick:
            # such an op (a "factory") takes the backend-independent key.
            key = "CUDA" if self.inputs else "CompositeExplicitAutograd"
            _LIB.impl(self.name, self._impl, key)
            torch.library.register_fake(self.qualname, self._fake, lib=_LIB)
            # The overload itself, not the packet: one lookup less per call.
            self.op = getattr(torch.ops.tilejit, self.name).default
            _OPS[self.qualname] = self
            return self

    def __call__(self, *args, **kwargs):
        return self.op(*args, **kwargs)

    def __repr__(self):
        return f"<tilejit.torch op {self.qualname}: {self.schema}>"


def op(graph, name=None, **kernel_options):
    """Register a Graph (or Kernel) as torch.ops.tilejit.NAME and return the
    op (registering the same graph again returns the first op)."""
    if isinstance(graph, str):
        graph = Graph.parse(graph)
    return TorchOp(graph, name, **kernel_options).register()


def recipe_op(recipe_name, name=None, kernel_options=None, by_length=False, **params):
    """op(recipe(recipe_name, **params)): a recipe as a torch op. by_length:
    the recipe's tiles chosen by sequence length (recipe_by_length; one
    kernel over its graphs), where the recipe has such a table."""
    if by_length:
        graphs, sym, upto = recipe_by_length(recipe_name, **params)
        if len(graphs) > 1:
            k = Kernel(graphs, by_symbol=sym, upto=upto, **(kernel_options or {}))
            return TorchOp(k, name or f"{graphs[0].signature().name}_bylen_"
                                      f"{graphs[0].hash()[:8]}{graphs[1].hash()[:4]}").register()
        return op(graphs[0], name, **(kernel_options or {}))
    return op(recipe(recipe_name, **params), name, **(kernel_options or {}))


def ops():
    """Every op registered so far, by qualified name."""
    return dict(_OPS)
