"""tilejit from Python: build tile-op graphs, take recipes, emit and compile
CUDA, and launch kernels on torch tensors (or anything with
__cuda_array_interface__ / __dlpack__). See docs/python.md.

The binding is ctypes over libtilejit.so, found through TILEJIT_LIBRARY, the
build folder of the source tree (build/libtilejit.so), an installed prefix,
or the dynamic loader's path. Importing it does not import torch;
tilejit.torch registers kernels as torch custom ops.
"""
from . import errors
from ._lib import path as library_path
from ._lib import lib as _clib
from .errors import (CompileError, DriverError, InternalError, InvalidArgumentError,
                     OutOfMemoryError, ParseError, Status, TilejitError, TilejitIOError,
                     UnboundError, UnsupportedError, VerifyError, error_class)
from .graph import (BINARY, REDUCE, UNARY, UNBOUND, DType, Graph, Loop, Policy, Sym,
                    TensorArg, Val, cdiv, dtype, policy)
from .kernel import Kernel
from .recipes import (GemmConfig, Recipe, attention, gemm_configs, gemm_for_shape, recipe,
                      recipe_by_length, recipes)
from .signature import Signature

F32, F16, BF16, F8E4M3, F8E5M2, I32, I64, BOOL, F64 = (DType.F32, DType.F16, DType.BF16,
                                                       DType.F8E4M3, DType.F8E5M2, DType.I32,
                                                       DType.I64, DType.BOOL, DType.F64)
EXACT, BUCKET_POW2, BUCKET_MULTIPLE, DYNAMIC = (Policy.EXACT, Policy.BUCKET_POW2,
                                                Policy.BUCKET_MULTIPLE, Policy.DYNAMIC)

__version__ = _clib.tj_version().decode()


def version():
    """The library's run-time version string ("0.1.0")."""
    return _clib.tj_version().decode()


def parse(text, source=None):
    """A Graph from its text form (verified)."""
    return Graph.parse(text, source)


def add_bundle(path):
    """Search a bundle (from `tilejit prebuild`) before the disk cache."""
    from . import _lib
    _lib.check(_clib.tj_add_bundle(str(path).encode()))


__all__ = ["Graph", "Sym", "TensorArg", "Val", "Loop", "DType", "Policy", "Kernel", "Recipe",
           "Signature", "recipe", "recipe_by_length", "recipes", "attention", "parse", "cdiv", "dtype", "policy",
           "GemmConfig", "gemm_configs", "gemm_for_shape",
           "version", "add_bundle", "library_path", "errors", "Status", "TilejitError",
           "InvalidArgumentError", "OutOfMemoryError", "ParseError", "VerifyError",
           "UnboundError", "TilejitIOError", "UnsupportedError", "CompileError", "DriverError",
           "InternalError", "error_class", "UNBOUND", "UNARY", "BINARY", "REDUCE"]
