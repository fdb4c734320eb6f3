"""The built-in recipes (docs/recipes.md), one call each."""
import ctypes
from dataclasses import dataclass

from . import _lib
from ._lib import lib
from .graph import Graph, Val, dtype, policy


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    params: dict   # key -> default, as strings

    def build(self, **params):
        return recipe(self.name, **params)


def recipes():
    """Every built-in recipe, with its parameters' defaults."""
    out = []
    for i in range(lib.tj_recipe_count()):
        info = lib.tj_recipe_get(i).contents
        params = dict(p.split("=", 1) for p in info.params.decode().split())
        out.append(Recipe(info.name.decode(), info.summary.decode(), params))
    return out


def _value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if hasattr(v, "short"):      # a DType
        return v.short
    if not isinstance(v, (str, int, float)):
        return dtype(v).short    # a torch dtype
    return str(v)


def recipe(name, **params):
    """Build a recipe: recipe("rmsnorm", dtype="bf16", cols="exact") -> Graph.
    Booleans become 1/0 and torch dtypes their names."""
    args = [f"{k}={_value(v)}".encode() for k, v in params.items()]
    arr = (ctypes.c_char_p * max(len(args), 1))(*args)
    out = ctypes.c_void_p()
    _lib.check(lib.tj_recipe_build(name.encode(), len(args), arr, ctypes.byref(out)))
    return Graph(_ptr=out.value)


def recipe_by_length(name, **params):
    """The recipe with its tiles chosen by length (tj_recipe_build_by_length):
    (graphs, symbol, upto) for Kernel(graphs, by_symbol=symbol, upto=upto).
    graphs[i] serves the symbol's values up to upto[i], the last every value
    above; a recipe without a by-length table gives ([graph], None, [])."""
    args = [f"{k}={_value(v)}".encode() for k, v in params.items()]
    arr = (ctypes.c_char_p * max(len(args), 1))(*args)
    gs = (ctypes.c_void_p * 2)()
    upto = (ctypes.c_int64 * 1)()
    sym = ctypes.c_char_p()
    n = ctypes.c_int()
    _lib.check(lib.tj_recipe_build_by_length(name.encode(), len(args), arr, gs, upto,
                                             ctypes.byref(sym), ctypes.byref(n)))
    graphs = [Graph(_ptr=gs[i]) for i in range(n.value)]
    return graphs, (sym.value.decode() if sym.value else None), list(upto[:n.value - 1])


@dataclass(frozen=True)
class GemmConfig:
    """A GEMM program tile (tj_gemm_config): bm x bn, K tile bk, the
    schedule's split-K at that shape, the model's score (a fraction of the
    device's peak; 0 where it has no figures) and whether a tuning record
    (`tilejit tune`) gave it."""
    bm: int
    bn: int
    bk: int
    split: int
    score: float
    tuned: bool


def _gemm_config(c):
    return GemmConfig(c.bm, c.bn, c.bk, c.split, c.score, bool(c.tuned))


def gemm_configs(m, n, k, dtype_="bf16", arch="sm_90a", sm_count=0, top=8):
    """The configuration model's tiles for an M x N x K GEMM, best first
    (tj_gemm_config_candidates; no device needed)."""
    out = (_lib.GemmConfig * top)()
    cnt = ctypes.c_int()
    _lib.check(lib.tj_gemm_config_candidates(arch.encode(), sm_count, m, n, k, dtype(dtype_),
                                             out, top, ctypes.byref(cnt)))
    return [_gemm_config(out[i]) for i in range(cnt.value)]


def gemm_for_shape(m, n, k, arch=None, device=None, sm_count=0, cache_dir=None, untuned=False,
                   **params):
    """The `gemm` recipe built with the tile for M x N x K
    (tj_recipe_gemm_for_shape): a tuning record of this device when there
    is one, else the model. params as for recipe("gemm", ...), bm/bn/bk
    absent or "auto" (or a number: chosen among those candidates).
    Returns (Graph, GemmConfig); launch the graph with M, N, K."""
    args = [f"{key}={_value(v)}".encode() for key, v in params.items()]
    arr = (ctypes.c_char_p * max(len(args), 1))(*args)
    t = _lib.GemmTarget(arch.encode() if arch else None, device.encode() if device else None,
                        sm_count, cache_dir.encode() if cache_dir is not None else None,
                        1 if untuned else 0)
    out = ctypes.c_void_p()
    cfg = _lib.GemmConfig()
    _lib.check(lib.tj_recipe_gemm_for_shape(len(args), arr, m, n, k, ctypes.byref(t),
                                            ctypes.byref(out), ctypes.byref(cfg)))
    return Graph(_ptr=out.value), _gemm_config(cfg)


def attention(head_dim=128, num_q_heads=8, num_kv_heads=None, causal=False, cross=False,
              lse=False, block_m=0, block_n=0, dtype_="bf16", seq_policy="dynamic",
              name=None, score_mod=None, score_setup=None, varlen=False, v_layout="n"):
    """tj_recipe_attention with Python score hooks.

    score_mod(g, scores, q_idx, k_idx, head) -> Val runs while the graph is
    built, inside each KV loop (see docs/recipes.md); score_setup(g, head)
    runs once before the loops (declare extra tensors/scalars there)."""
    p = _lib.AttentionParams()
    lib.tj_attention_params_init(ctypes.byref(p))
    pol, bucket = policy(seq_policy)
    p.name = name.encode() if name else None
    p.head_dim, p.num_q_heads = head_dim, num_q_heads
    p.num_kv_heads = num_kv_heads if num_kv_heads is not None else num_q_heads
    p.causal, p.cross, p.lse, p.varlen = int(causal), int(cross), int(lse), int(varlen)
    if v_layout not in ("n", "t"):
        raise ValueError("v_layout: 'n' (v like k) or 't' (v transposed, keys contiguous)")
    p.v_layout = 1 if v_layout == "t" else 0
    p.block_m, p.block_n, p.dtype = block_m, block_n, dtype(dtype_)
    p.seq_policy, p.seq_bucket = pol, bucket
    holder = {}          # the Graph wrapper of the graph being built
    failure = []         # an exception raised in a hook, re-raised after the build

    def graph_of(gptr):
        g = holder.get("g")
        if g is None or g._g != gptr:
            g = Graph(_ptr=gptr)
            g._borrowed = True
            holder["g"] = g
        return g

    def mod(gptr, s, qi, ki, h, user):
        try:
            g = graph_of(gptr)
            out = score_mod(g, Val(g, s), Val(g, qi), Val(g, ki), Val(g, h))
            return out.id
        except BaseException as e:   # a C caller cannot take a Python exception
            failure.append(e)
            return -1

    def setup(gptr, h, user):
        try:
            g = graph_of(gptr)
            score_setup(g, Val(g, h))
            return 0
        except BaseException as e:
            failure.append(e)
            return getattr(e, "status", None) or 1

    cb_mod = _lib.SCORE_MOD_FN(mod) if score_mod else _lib.SCORE_MOD_FN()
    cb_setup = _lib.SCORE_SETUP_FN(setup) if score_setup else _lib.SCORE_SETUP_FN()
    p.score_mod, p.score_setup = cb_mod, cb_setup
    out = ctypes.c_void_p()
    try:
        st = lib.tj_recipe_attention(ctypes.byref(p), ctypes.byref(out))
    finally:
        g = holder.pop("g", None)
        if g is not None:
            g._g = None   # borrowed from the recipe: never freed by the wrapper
    if failure:
        if out.value:
            lib.tj_graph_free(out.value)
        raise failure[0]
    _lib.check(st)
    return Graph(_ptr=out.value)
