"""Finding libtilejit.so and declaring the C ABI (include/tilejit.h) to ctypes.

Every function gets its argtypes/restype once, here, so that a call costs
only ctypes' conversion. Nothing in this module imports torch.
"""
import ctypes
import ctypes.util
import os
import sys

from . import errors

_SONAMES = ("libtilejit.so", "libtilejit.so.0")


class _Id(ctypes.Structure):
    """tj_val, tj_tensor and tj_sym: a struct of one int32, passed by value."""
    _fields_ = [("id", ctypes.c_int32)]


class KernelOptions(ctypes.Structure):
    _fields_ = [("arch", ctypes.c_char_p), ("flags", ctypes.c_uint),
                ("cache_dir", ctypes.c_char_p)]


class KernelStats(ctypes.Structure):
    _fields_ = [("launches", ctypes.c_uint64), ("hits", ctypes.c_uint64),
                ("misses", ctypes.c_uint64), ("compiles", ctypes.c_uint64),
                ("disk_hits", ctypes.c_uint64), ("bundle_hits", ctypes.c_uint64),
                ("fallback_launches", ctypes.c_uint64), ("compile_seconds", ctypes.c_double),
                ("cubin_bytes", ctypes.c_uint64), ("specializations", ctypes.c_int),
                ("tier0_launches", ctypes.c_uint64), ("tier_upgrades", ctypes.c_uint64)]


class RecipeInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("summary", ctypes.c_char_p),
                ("params", ctypes.c_char_p)]


# ctypes callbacks cannot return structs. A struct of one int32 travels in a
# register exactly as an int32 does (x86-64 SysV, AArch64), so the hooks'
# tj_val arguments and result are declared as int32.
SCORE_MOD_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)
SCORE_SETUP_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p)


class GemmConfig(ctypes.Structure):
    _fields_ = [("bm", ctypes.c_int), ("bn", ctypes.c_int), ("bk", ctypes.c_int),
                ("split", ctypes.c_int), ("score", ctypes.c_double), ("tuned", ctypes.c_int)]


class GemmTarget(ctypes.Structure):
    _fields_ = [("arch", ctypes.c_char_p), ("device", ctypes.c_char_p),
                ("sm_count", ctypes.c_int), ("cache_dir", ctypes.c_char_p),
                ("flags", ctypes.c_uint)]


class AttentionParams(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("head_dim", ctypes.c_int),
                ("num_q_heads", ctypes.c_int), ("num_kv_heads", ctypes.c_int),
                ("causal", ctypes.c_int), ("cross", ctypes.c_int), ("lse", ctypes.c_int),
                ("block_m", ctypes.c_int), ("block_n", ctypes.c_int), ("dtype", ctypes.c_int),
                ("seq_policy", ctypes.c_int), ("seq_bucket", ctypes.c_int64),
                ("score_mod", SCORE_MOD_FN), ("score_setup", SCORE_SETUP_FN),
                ("user", ctypes.c_void_p), ("varlen", ctypes.c_int), ("v_layout", ctypes.c_int)]


def _repo_build_dirs():
    """Build folders of the source tree this package belongs to: the tree it
    sits in (a checkout on PYTHONPATH, an editable install), or the one it was
    installed from (recorded by setup.py as _install_paths.SOURCE_ROOT)."""
    roots = [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
    try:
        from . import _install_paths
        roots.append(_install_paths.SOURCE_ROOT)
    except ImportError:
        pass
    return [os.path.join(r, "build") for r in roots]


def candidates():
    """Where the library is looked for, in order (for messages and tests)."""
    out = []
    env = os.environ.get("TILEJIT_LIBRARY")
    if env:
        return [env]   # an explicit choice is never second-guessed
    for d in _repo_build_dirs():
        out.append(os.path.join(d, "libtilejit.so"))
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, "/usr/local", "/usr")):
        for libdir in ("lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"):
            out.append(os.path.join(prefix, libdir, "libtilejit.so"))
    out.extend(_SONAMES)   # the loader's own search: LD_LIBRARY_PATH, ld.so.cache
    found = ctypes.util.find_library("tilejit")
    if found:
        out.append(found)
    return out


def _load():
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("tilejit: libtilejit.so not found; build it (make build) or set "
                      "TILEJIT_LIBRARY to its path. Tried: " + "; ".join(tried))


lib, path = _load()
# The launch holds the GIL (PyDLL): the hot path fills per-kernel argument
# arrays that another Python thread must not refill during the call.
_pylib = ctypes.PyDLL(path)

c_int, c_int32, c_int64, c_uint, c_double = (ctypes.c_int, ctypes.c_int32, ctypes.c_int64,
                                             ctypes.c_uint, ctypes.c_double)
c_char_p, c_void_p, c_size_t = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
P = ctypes.POINTER
G = c_void_p   # tj_graph *

_PROTOS = {
    # status and errors
    "tj_last_error": (c_char_p, []),
    "tj_status_name": (c_char_p, [c_int]),
    "tj_version": (c_char_p, []),
    "tj_version_number": (c_int, []),
    "tj_free": (None, [c_void_p]),
    # dtypes
    "tj_dtype_name": (c_char_p, [c_int]),
    "tj_dtype_size": (c_size_t, [c_int]),
    "tj_dtype_from_name": (c_int, [c_char_p, P(c_int)]),
    "tj_convert": (c_int, [c_int, c_void_p, c_int, c_void_p, c_size_t]),
    # graphs
    "tj_graph_new": (c_int, [c_char_p, P(G)]),
    "tj_graph_free": (None, [G]),
    "tj_graph_name": (c_char_p, [G]),
    "tj_graph_status": (c_int, [G]),
    "tj_graph_error": (c_char_p, [G]),
    "tj_symbol": (_Id, [G, c_char_p, c_int, c_int64, c_int64]),
    "tj_find_symbol": (_Id, [G, c_char_p]),
    "tj_num_symbols": (c_int, [G]),
    "tj_symbol_name": (c_char_p, [G, _Id]),
    "tj_symbol_policy": (c_int, [G, _Id]),
    "tj_symbol_specialize": (c_int64, [G, _Id, c_int64]),
    "tj_tensor_arg": (_Id, [G, c_char_p, c_int, c_int, P(c_int64), P(c_int64)]),
    "tj_tensor_set_align": (c_int, [G, _Id, c_int]),
    "tj_num_tensors": (c_int, [G]),
    "tj_tensor_name": (c_char_p, [G, _Id]),
    "tj_tensor_dtype": (c_int, [G, _Id]),
    "tj_tensor_rank": (c_int, [G, _Id]),
    "tj_tensor_dim": (c_int64, [G, _Id, c_int]),
    "tj_tensor_stride": (c_int64, [G, _Id, c_int]),
    "tj_scalar_arg": (_Id, [G, c_char_p, c_int]),
    "tj_num_scalars": (c_int, [G]),
    "tj_scalar_name": (c_char_p, [G, c_int]),
    "tj_scalar_dtype": (c_int, [G, c_int]),
    "tj_name": (c_int, [G, _Id, c_char_p]),
    "tj_val_type": (c_int, [G, _Id, P(c_int), P(c_int), P(c_int64)]),
    # values
    "tj_const": (_Id, [G, c_int, c_double]),
    "tj_full": (_Id, [G, c_int, c_int, P(c_int64), c_double]),
    "tj_symval": (_Id, [G, _Id]),
    "tj_program_id": (_Id, [G, c_int]),
    "tj_num_programs": (_Id, [G, c_int]),
    "tj_iota": (_Id, [G, c_int, c_int, P(c_int64), c_int]),
    # memory
    "tj_load": (_Id, [G, _Id, P(_Id), c_int, P(c_int64), P(c_int), c_double, c_uint]),
    "tj_store": (c_int, [G, _Id, P(_Id), _Id, P(c_int), c_uint]),
    # compute
    "tj_mma": (_Id, [G, _Id, _Id, _Id, c_uint]),
    "tj_unary_name": (c_char_p, [c_int]),
    "tj_binary_name": (c_char_p, [c_int]),
    "tj_reduce_name": (c_char_p, [c_int]),
    "tj_unary": (_Id, [G, c_int, _Id]),
    "tj_binary": (_Id, [G, c_int, _Id, _Id]),
    "tj_where": (_Id, [G, _Id, _Id, _Id]),
    "tj_fma": (_Id, [G, _Id, _Id, _Id]),
    "tj_cast": (_Id, [G, _Id, c_int]),
    "tj_reduce": (_Id, [G, c_int, _Id, c_int]),
    "tj_transpose": (_Id, [G, _Id]),
    "tj_reshape": (_Id, [G, _Id, c_int, P(c_int64)]),
    "tj_broadcast": (_Id, [G, _Id, c_int, P(c_int64)]),
    # loops, grid
    "tj_for_begin": (c_int, [G, _Id, _Id, _Id, c_int, P(_Id), P(_Id), P(_Id)]),
    "tj_for_end": (c_int, [G, c_int, P(_Id), P(_Id)]),
    "tj_set_grid": (c_int, [G, c_int, P(_Id)]),
    # verification, text
    "tj_graph_verify": (c_int, [G]),
    "tj_graph_print": (c_int, [G, P(c_void_p)]),
    "tj_graph_parse": (c_int, [c_char_p, c_size_t, c_char_p, P(G)]),
    "tj_graph_hash": (c_int, [G, c_char_p]),
    # binding, interpreter
    "tj_bind_parse": (c_int, [G, c_char_p, P(c_int64)]),
    "tj_graph_grid": (c_int, [G, P(c_int64), P(c_int64)]),
    "tj_tensor_shape": (c_int, [G, _Id, P(c_int64), P(c_int64), P(c_int64)]),
    "tj_tensor_extent": (c_int, [G, _Id, P(c_int64), P(c_int64)]),
    "tj_interp_run": (c_int, [G, P(c_int64), P(c_void_p), P(c_double), c_uint]),
    # code generation
    "tj_emit_cuda": (c_int, [G, c_char_p, P(c_int64), P(c_void_p)]),
    "tj_compile": (c_int, [G, c_char_p, P(c_int64), c_uint, P(c_void_p), P(c_size_t),
                           P(c_void_p)]),
    # runtime
    "tj_kernel_create": (c_int, [G, P(KernelOptions), P(c_void_p)]),
    "tj_kernel_destroy": (None, [c_void_p]),
    "tj_kernel_launch": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    "tj_kernel_stats_get": (c_int, [c_void_p, P(KernelStats)]),
    "tj_kernel_prepare": (c_int, [c_void_p, P(c_int64)]),
    "tj_kernel_create_by_symbol": (c_int, [P(G), c_int, c_char_p, P(c_int64), P(KernelOptions),
                                           P(c_void_p)]),
    "tj_add_bundle": (c_int, [c_char_p]),
    # recipes
    "tj_recipe_count": (c_int, []),
    "tj_recipe_get": (P(RecipeInfo), [c_int]),
    "tj_recipe_build": (c_int, [c_char_p, c_int, P(c_char_p), P(G)]),
    "tj_recipe_build_by_length": (c_int, [c_char_p, c_int, P(c_char_p), P(G), P(c_int64),
                                          P(c_char_p), P(c_int)]),
    "tj_attention_params_init": (None, [P(AttentionParams)]),
    "tj_gemm_config_candidates": (c_int, [c_char_p, c_int, c_int64, c_int64, c_int64, c_int,
                                          P(GemmConfig), c_int, P(c_int)]),
    "tj_recipe_gemm_for_shape": (c_int, [c_int, P(c_char_p), c_int64, c_int64, c_int64,
                                         P(GemmTarget), P(G), P(GemmConfig)]),
    "tj_recipe_attention": (c_int, [P(AttentionParams), P(G)]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args

# The hot path's launch: every argument an int (an address) or None.
launch = _pylib.tj_kernel_launch
launch.restype = c_int
launch.argtypes = [c_void_p] * 5


def last_error():
    return lib.tj_last_error().decode("utf-8", "replace")


def check(status, what=None):
    """Raise the exception of a non-OK tj_status with tj_last_error()."""
    if status:
        raise errors.from_status(status, last_error() or what or "")
    return status


def take_string(ptr):
    """A malloc'd char * from tilejit as a str, freed."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace") if ptr else ""
    finally:
        if ptr:
            lib.tj_free(ptr)
