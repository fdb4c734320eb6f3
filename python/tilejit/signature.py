"""A graph's kernel ABI, read from its canonical text (docs/graph.md).

The C API has getters for names, dtypes, ranks and dims, but not for the
parts a caller must check before a launch that are only in the text:
whether a tensor's strides were declared, its alignment, a symbol's
divisibility, and which tensors the graph writes. The canonical form is
stable, so its declaration lines are the one source read here.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

Dim = Union[int, str]   # a constant, or a symbol's name

DTYPE_SIZES = {"f32": 4, "f16": 2, "bf16": 2, "f8e4m3": 1, "f8e5m2": 1, "i32": 4, "i64": 8,
               "bool": 1, "f64": 8}


@dataclass
class SymbolDecl:
    name: str
    index: int
    policy: str            # exact | pow2 | multiple | dynamic
    bucket: int = 0        # the multiple, for policy "multiple"
    divisor: int = 1


@dataclass
class TensorDecl:
    name: str
    index: int
    dtype: str
    dims: Tuple[Dim, ...]
    strides: Optional[Tuple[Dim, ...]]   # None: row-major
    align: int                           # bytes the base pointer must be aligned to
    loaded: bool = False
    stored: bool = False

    @property
    def rank(self):
        return len(self.dims)


@dataclass
class ScalarDecl:
    name: str
    index: int
    dtype: str


@dataclass
class Signature:
    name: str
    symbols: List[SymbolDecl] = field(default_factory=list)
    tensors: List[TensorDecl] = field(default_factory=list)
    scalars: List[ScalarDecl] = field(default_factory=list)

    def symbol(self, name):
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(name)

    def tensor(self, name):
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def outputs(self):
        """Tensors the graph stores to and never loads."""
        return [t for t in self.tensors if t.stored and not t.loaded]

    @property
    def inputs(self):
        return [t for t in self.tensors if not (t.stored and not t.loaded)]

    def free_symbols(self):
        """Symbols no tensor dim or stride names: a caller must give their values."""
        seen = set()
        for t in self.tensors:
            for d in t.dims + (t.strides or ()):
                if isinstance(d, str):
                    seen.add(d)
        return [s for s in self.symbols if s.name not in seen]


_SHAPE = re.compile(r"^([a-z0-9]+)(?:\[([^\]]*)\])?$")


def _dims(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        out.append(int(part) if re.fullmatch(r"[+-]?\d+", part) else part)
    return tuple(out)


def parse(text):
    """The Signature of a graph's canonical text."""
    sig = None
    loads, stores = set(), set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tok = line.split()
        head = tok[0]
        if head == "graph":
            sig = Signature(tok[1])
        elif head == "sym":
            policy, rest = tok[2], tok[3:]
            bucket = divisor = 0
            if policy == "multiple":
                bucket, rest = int(rest[0]), rest[1:]
            divisor = int(rest[1]) if rest[:1] == ["div"] else 1
            sig.symbols.append(SymbolDecl(tok[1], len(sig.symbols), policy, bucket, divisor))
        elif head == "tensor":
            # tensor NAME DTYPE[dims] [strides [..]] [align N]; dims may hold spaces
            m = re.match(r"tensor\s+(\w+)\s+(\w+)(\[[^\]]*\])?\s*(.*)$", line)
            name, dtype, shape, rest = m.group(1), m.group(2), m.group(3), m.group(4)
            dims = _dims(shape[1:-1]) if shape else ()
            strides = None
            ms = re.search(r"strides\s*\[([^\]]*)\]", rest)
            if ms:
                strides = _dims(ms.group(1))
            ma = re.search(r"align\s+(\d+)", rest)
            align = int(ma.group(1)) if ma else DTYPE_SIZES.get(dtype, 1)
            sig.tensors.append(TensorDecl(name, len(sig.tensors), dtype, dims, strides, align))
        elif head == "scalar":
            sig.scalars.append(ScalarDecl(tok[1], len(sig.scalars), tok[2]))
        elif head == "store":
            stores.add(tok[1])
        elif len(tok) >= 4 and tok[1] == "=" and tok[2] == "load":
            loads.add(tok[3])
    if sig is None:
        raise ValueError("not a tilejit graph text (no 'graph' line)")
    for t in sig.tensors:
        t.loaded, t.stored = t.name in loads, t.name in stores
    return sig
