"""Every tj_status becomes its own exception class, with tilejit's message."""
import pytest

import tilejit as tj
from tilejit import _lib


def test_one_exception_class_per_status():
    seen = set()
    for st in tj.Status:
        if st == tj.Status.OK:
            continue
        cls = tj.error_class(st)
        assert issubclass(cls, tj.TilejitError) and cls.status == st
        assert _lib.lib.tj_status_name(st).decode() == "TJ_" + st.name
        seen.add(cls)
    assert len(seen) == len(tj.Status) - 1


def test_classes_also_derive_from_the_closest_builtin():
    assert issubclass(tj.InvalidArgumentError, ValueError)
    assert issubclass(tj.ParseError, ValueError)
    assert issubclass(tj.OutOfMemoryError, MemoryError)
    assert issubclass(tj.TilejitIOError, OSError)
    assert issubclass(tj.UnsupportedError, NotImplementedError)
    assert issubclass(tj.DriverError, RuntimeError)


def test_an_unknown_status_is_an_internal_error_that_says_so():
    e = tj.errors.from_status(99, "boom")
    assert isinstance(e, tj.InternalError) and "99" in str(e) and "boom" in str(e)


def test_parse_error_names_the_source_and_line():
    text = "tilejit 1\ngraph g\nsym n exact\ntensor x f32[n]\n%0 = bogus_op : f32\n"
    with pytest.raises(tj.ParseError, match=r"bad\.tj:5") as info:
        tj.parse(text, "bad.tj")
    assert info.value.message == str(info.value)
    assert info.value.status == tj.Status.ERR_PARSE


def test_verify_error_names_the_rule():
    g = tj.Graph("nogrid")
    x = g.tensor("x", "f32", [8])
    g.store(x, [0], g.load(x, [0], [8]))
    with pytest.raises(tj.VerifyError, match="grid"):
        g.verify()


def test_a_builder_error_raises_at_the_call_with_the_c_message():
    g = tj.Graph("bad")
    x = g.tensor("x", "f32", [8])
    t = g.load(x, [0], [8])
    i = g.const("i32", 1)
    with pytest.raises(tj.TilejitError, match="dtype") as info:
        g.binary("add", t, i)   # f32 + i32: cast first
    assert info.value.message
    with pytest.raises(tj.TilejitError, match="not an identifier"):
        tj.Graph("fresh").tensor("1bad", "f32", [8])
    with pytest.raises(tj.InvalidArgumentError, match="unknown dtype"):
        g.tensor("y", "f99", [8])
    with pytest.raises(tj.InvalidArgumentError, match="policy"):
        g.symbol("s", "sometimes")
    with pytest.raises(tj.InvalidArgumentError, match="no symbol"):
        g.find_symbol("nope")


def test_graph_status_keeps_the_first_builder_error():
    g = tj.Graph("keep")
    with pytest.raises(tj.TilejitError):
        g.program_id(7)
    assert g.status != 0
    with pytest.raises(tj.TilejitError):
        g.verify()


def test_compile_error_and_unbound_symbols_map_to_their_classes():
    g = tj.recipe("softmax", dtype="f32")
    with pytest.raises(tj.TilejitError) as info:
        g.grid({"cols": 64})       # rows unbound
    assert info.value.status in (tj.Status.ERR_UNBOUND, tj.Status.ERR_INVALID_ARG)
