"""One exception class per tj_status, all under TilejitError.

Each also derives from the closest built-in exception, so that code which
catches ValueError or MemoryError keeps working. The message is
tj_last_error()'s (or, for a check made in Python, one in the same style).
"""
import enum


class Status(enum.IntEnum):
    OK = 0
    ERR_INVALID_ARG = 1
    ERR_NO_MEMORY = 2
    ERR_PARSE = 3
    ERR_VERIFY = 4
    ERR_UNBOUND = 5
    ERR_IO = 6
    ERR_UNSUPPORTED = 7
    ERR_COMPILE = 8
    ERR_DRIVER = 9
    ERR_INTERNAL = 10


class TilejitError(Exception):
    """Base of every tilejit error; .status is the tj_status, .message the text."""
    status = None

    def __init__(self, message="", log=None):
        super().__init__(message)
        self.message = message
        self.log = log   # NVRTC's log, for CompileError


class InvalidArgumentError(TilejitError, ValueError):
    status = Status.ERR_INVALID_ARG


class OutOfMemoryError(TilejitError, MemoryError):
    status = Status.ERR_NO_MEMORY


class ParseError(TilejitError, ValueError):
    status = Status.ERR_PARSE


class VerifyError(TilejitError, ValueError):
    status = Status.ERR_VERIFY


class UnboundError(TilejitError, ValueError):
    status = Status.ERR_UNBOUND


class TilejitIOError(TilejitError, OSError):
    status = Status.ERR_IO


class UnsupportedError(TilejitError, NotImplementedError):
    status = Status.ERR_UNSUPPORTED


class CompileError(TilejitError, RuntimeError):
    status = Status.ERR_COMPILE


class DriverError(TilejitError, RuntimeError):
    status = Status.ERR_DRIVER


class InternalError(TilejitError, RuntimeError):
    status = Status.ERR_INTERNAL


_BY_STATUS = {c.status: c for c in (InvalidArgumentError, OutOfMemoryError, ParseError,
                                    VerifyError, UnboundError, TilejitIOError,
                                    UnsupportedError, CompileError, DriverError,
                                    InternalError)}


def error_class(status):
    """The exception class of a tj_status (InternalError for an unknown one)."""
    return _BY_STATUS.get(int(status), InternalError)


def from_status(status, message, log=None):
    cls = error_class(status)
    if cls is InternalError and int(status) not in _BY_STATUS:
        message = f"unknown tj_status {int(status)}: {message}"
    return cls(message, log=log)
